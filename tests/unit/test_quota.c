/* test_quota.c - disk quotas (lib/quota/quota.c): the errors a user or admin
 * sees on filesystems without user quotas, for missing and wrong paths,
 * and for impossible limits.  Runs as any user on any host: it only reads
 * quota state and never sets a quota (every call here fails before the
 * kernel would set one).  Setting and enforcing quotas is tested in a VM,
 * tests/vm/quota.sh. */
#include "build-config.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <cmocka.h>

#include "quota.h"

static char tmp[] = "/tmp/labrun-test-quota.XXXXXX";

static int setup_dir(void **state)
{
	return mkdtemp(tmp) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* The message is one line that starts with the path it is about. */
static void assert_message_names(const struct lr_error *err, const char *path)
{
	size_t n = strlen(path);
	assert_true(strncmp(err->msg, path, n) == 0 && strncmp(err->msg + n, ": ", 2) == 0);
	assert_null(strchr(err->msg, '\n'));
}

static void assert_has(const char *msg, const char *part)
{
	if (!strstr(msg, part))
		fail_msg("\"%s\" lacks \"%s\"", msg, part);
}

static const struct lr_quota_usage untouched = {12345, 67890};

static void assert_untouched(const struct lr_quota_usage *u)
{
	assert_int_equal(u->used, untouched.used);
	assert_int_equal(u->limit, untouched.limit);
}

/* A tmpfs this host has mounted, or NULL. */
static const char *find_tmpfs(void)
{
	static const char *const candidates[] = {"/dev/shm", "/run", "/tmp", "/run/user"};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		struct statfs s;
		if (statfs(candidates[i], &s) == 0 && s.f_type == TMPFS_MAGIC)
			return candidates[i];
	}
	return NULL;
}

static void tmpfs_without_usrquota_says_how_to_get_quotas(void **state)
{
	const char *path = find_tmpfs();
	if (!path)
		skip();
	struct lr_error err = {0};
	struct lr_quota_usage u = untouched;
	int r = lr_quota_get(path, getuid(), &u, &err);
	if (r == 0)
		skip(); /* a Linux 6.6+ tmpfs mounted with usrquota */
	assert_int_equal(r, -ENOSYS);
	assert_int_equal(err.code, ENOSYS);
	assert_message_names(&err, path);
	assert_has(err.msg, "tmpfs has no user quotas");
	assert_has(err.msg, "usrquota");
	assert_untouched(&u);

	lr_error_clear(&err);
	assert_int_equal(lr_quota_set(path, getuid(), 1024 * 1024, &err), -ENOSYS);
	assert_message_names(&err, path);
	assert_has(err.msg, "tmpfs");
}

static void root_filesystem_without_user_quotas_names_the_cause(void **state)
{
	struct lr_error err = {0};
	struct lr_quota_usage u = untouched;
	int r = lr_quota_get("/", getuid(), &u, &err);
	if (r == 0)
		skip(); /* this host has user quotas on / */
	assert_int_equal(err.code, -r);
	assert_message_names(&err, "/");
	assert_untouched(&u);
	struct statfs s;
	assert_int_equal(statfs("/", &s), 0);
	if (s.f_type == EXT4_SUPER_MAGIC || s.f_type == XFS_SUPER_MAGIC) {
		/* Quotas are possible there, only not on. */
		assert_int_equal(r, -ESRCH);
		assert_has(err.msg, "usrquota");
	} else {
		/* A container's overlay, a tmpfs: no quotas at all. */
		assert_int_equal(r, -ENOSYS);
		assert_has(err.msg, "quotas");
	}

	/* Setting fails the same way, before the kernel is asked to set. */
	struct lr_error err2 = {0};
	assert_int_equal(lr_quota_set("/", getuid(), 0, &err2), r);
	assert_string_equal(err2.msg, err.msg);
}

static void missing_path_is_named(void **state)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/no/such/dir", tmp);
	struct lr_error err = {0};
	struct lr_quota_usage u = untouched;
	assert_int_equal(lr_quota_get(path, getuid(), &u, &err), -ENOENT);
	assert_message_names(&err, path);
	assert_has(err.msg, "No such file or directory");
	assert_untouched(&u);

	lr_error_clear(&err);
	assert_int_equal(lr_quota_set(path, getuid(), 4096, &err), -ENOENT);
	assert_message_names(&err, path);
}

static void file_is_not_a_storage_path(void **state)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/file", tmp);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	struct lr_error err = {0};
	struct lr_quota_usage u = untouched;
	assert_int_equal(lr_quota_get(path, getuid(), &u, &err), -ENOTDIR);
	assert_message_names(&err, path);
	assert_has(err.msg, "not a directory");
	assert_untouched(&u);
}

static void limit_beyond_the_kernel_is_refused_before_asking(void **state)
{
	struct lr_error err = {0};
	assert_int_equal(lr_quota_set(tmp, getuid(), LR_QUOTA_MAX_BYTES + 1, &err), -ERANGE);
	assert_message_names(&err, tmp);
	assert_has(err.msg, "more than the kernel holds");
	/* "unlimited" in a policy is UINT64_MAX: the caller must pass 0. */
	lr_error_clear(&err);
	assert_int_equal(lr_quota_set(tmp, getuid(), UINT64_MAX, &err), -ERANGE);
	assert_has(err.msg, "0 removes the limit");
}

static void error_struct_is_optional(void **state)
{
	struct lr_quota_usage u = untouched;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/missing", tmp);
	assert_int_equal(lr_quota_get(path, getuid(), &u, NULL), -ENOENT);
	assert_int_equal(lr_quota_set(path, getuid(), 0, NULL), -ENOENT);
	assert_untouched(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tmpfs_without_usrquota_says_how_to_get_quotas),
		cmocka_unit_test(root_filesystem_without_user_quotas_names_the_cause),
		cmocka_unit_test(missing_path_is_named),
		cmocka_unit_test(file_is_not_a_storage_path),
		cmocka_unit_test(limit_beyond_the_kernel_is_refused_before_asking),
		cmocka_unit_test(error_struct_is_optional),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
