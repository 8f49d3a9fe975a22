/* quota_probe - drives lib/quota/quota.c for tests/vm/quota.sh, until
 * `labrun-policy apply` and `labrun --quota` do:
 *
 *   quota_probe set PATH USER BYTES   lr_quota_set(); prints nothing
 *   quota_probe get PATH USER         lr_quota_get(); prints
 *                                     "used BYTES limit BYTES"
 *
 * USER is a name or a numeric uid.  On failure prints the library's
 * message on stderr as "quota_probe: MESSAGE (errno NAME)" and exits 1;
 * bad usage exits 2.  Runs as any user: the kernel decides what is
 * allowed, and the tests check that it says no to the user.
 */
#include "build-config.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "quota.h"

static int usage(void)
{
	fputs("usage: quota_probe set PATH USER BYTES\n"
	      "       quota_probe get PATH USER\n",
	      stderr);
	return 2;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static int parse_user(const char *s, uid_t *uid)
{
	const struct passwd *pw = getpwnam(s);
	if (pw) {
		*uid = pw->pw_uid;
		return 0;
	}
	uint64_t v;
	if (parse_u64(s, &v) < 0 || v >= (uid_t)-1)
		return -1;
	*uid = (uid_t)v;
	return 0;
}

static int fail(const struct lr_error *err)
{
	fprintf(stderr, "quota_probe: %s (errno %s)\n", err->msg, strerrorname_np(err->code));
	return 1;
}

int main(int argc, char **argv)
{
	struct lr_error err = {0};
	uid_t uid;
	if (argc < 4 || parse_user(argv[3], &uid) < 0)
		return usage();
	if (strcmp(argv[1], "set") == 0 && argc == 5) {
		uint64_t bytes;
		if (parse_u64(argv[4], &bytes) < 0)
			return usage();
		return lr_quota_set(argv[2], uid, bytes, &err) < 0 ? fail(&err) : 0;
	}
	if (strcmp(argv[1], "get") == 0 && argc == 4) {
		struct lr_quota_usage u;
		if (lr_quota_get(argv[2], uid, &u, &err) < 0)
			return fail(&err);
		printf("used %" PRIu64 " limit %" PRIu64 "\n", u.used, u.limit);
		return 0;
	}
	return usage();
}
