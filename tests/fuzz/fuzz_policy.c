/* fuzz_policy.c - libFuzzer/afl++ target for a lab's policy file
 * (lib/quota/policy.c, labrun-policy(5)).  Build and run: tests/fuzz/README.md.
 *
 * The lab files are the admin's, but root's `labrun-policy apply` and the
 * plugin inside slurmstepd read them, and issue 12 (item 10) showed a file
 * others can write is reachable: the parser must hold against any bytes.
 * Besides memory errors (ASan, UBSan), it aborts when a promise of
 * policy.h breaks:
 *  - on failure there is a message and *lab is untouched;
 *  - on success the lab has members, counts are within their limits, every
 *    keyed value (io-*-bps, storage) has a key;
 *  - a member's allocation is never above the lab's total, for every
 *    resource and every key; lr_limits_min() is never above either side.
 */
#include "build-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise: say which, then abort (afl and libFuzzer see a crash). */
static void fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_policy.c:%d: check failed: %s\n", line, what);
	abort();
}
#define check(ok) ((ok) ? (void)0 : fail(#ok, __LINE__))

static void check_keyed(const struct lr_keyed *v, size_t n)
{
	check(n <= LR_POLICY_MAX_KEYED);
	for (size_t i = 0; i < n; i++)
		check(v[i].key && v[i].key[0]);
}

static void check_limits(const struct lr_limits *l)
{
	check(l->n_read_bps <= LR_POLICY_MAX_PATHS && l->n_write_bps <= LR_POLICY_MAX_PATHS &&
	      l->n_storage <= LR_POLICY_MAX_PATHS);
	check_keyed(l->read_bps, l->n_read_bps);
	check_keyed(l->write_bps, l->n_write_bps);
	check_keyed(l->storage, l->n_storage);
}

/* Every key of the total caps the allocation's value for that key. */
static void check_keyed_cap(const struct lr_keyed *tot, size_t nt, const struct lr_keyed *a,
			    size_t na)
{
	for (size_t i = 0; i < nt; i++) {
		size_t found = 0;
		for (size_t j = 0; j < na; j++)
			if (!strcmp(tot[i].key, a[j].key)) {
				check(a[j].value <= tot[i].value);
				found++;
			}
		check(found >= 1);
	}
}

static void check_allocation(const struct lr_lab *lab, const char *user)
{
	struct lr_limits a;
	lr_lab_allocation(lab, user, &a);
	for (int r = 0; r < LR_RES_COUNT; r++) {
		check(a.set[r]);
		if (lab->total.set[r])
			check(a.value[r] <= lab->total.value[r]);
		char buf[64];
		lr_res_format((enum lr_res)r, a.value[r], buf, sizeof(buf));
		check(buf[0] != '\0');
	}
	check(a.n_read_bps <= LR_POLICY_MAX_KEYED && a.n_write_bps <= LR_POLICY_MAX_KEYED &&
	      a.n_storage <= LR_POLICY_MAX_KEYED);
	check_keyed_cap(lab->total.read_bps, lab->total.n_read_bps, a.read_bps, a.n_read_bps);
	check_keyed_cap(lab->total.write_bps, lab->total.n_write_bps, a.write_bps, a.n_write_bps);
	check_keyed_cap(lab->total.storage, lab->total.n_storage, a.storage, a.n_storage);

	struct lr_limits m;
	lr_limits_min(&a, &lab->defaults, &m);
	for (int r = 0; r < LR_RES_COUNT; r++) {
		check(m.value[r] <= a.value[r]);
		if (lab->defaults.set[r])
			check(m.value[r] <= lab->defaults.value[r]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The parser's own bound is LR_POLICY_MAX_BYTES; past a few lines
	 * more bytes only slow the fuzzer down. */
	if (size > 64 * 1024)
		return 0;
	/* Not NUL-terminated on purpose: the parser is given a length. */
	char *text = malloc(size ? size : 1);
	check(text != NULL);
	memcpy(text, data, size);

	struct lr_lab lab, pristine;
	memset(&lab, 0x5a, sizeof(lab));
	memcpy(&pristine, &lab, sizeof(lab));
	struct lr_error err = {0};
	if (lr_lab_parse(&lab, "/etc/labrun/labs.d/fuzz.conf", text, size, &err) < 0) {
		check(err.msg[0] != '\0' && err.code != 0);
		check(memcmp(&lab, &pristine, sizeof(lab)) == 0);
		free(text);
		return 0;
	}
	check(lab.name && !strcmp(lab.name, "fuzz"));
	check(lab.n_users + lab.n_groups > 0);
	check(lab.n_users + lab.n_groups <= LR_POLICY_MAX_MEMBERS);
	check(lab.n_overrides <= LR_POLICY_MAX_OVERRIDES);
	for (size_t i = 0; i < lab.n_users; i++)
		check(lab.users[i] && lab.users[i][0]);
	for (size_t i = 0; i < lab.n_groups; i++)
		check(lab.groups[i] && lab.groups[i][0]);
	check_limits(&lab.total);
	check_limits(&lab.defaults);
	for (size_t i = 0; i < lab.n_overrides; i++) {
		check(lab.overrides[i].user && lab.overrides[i].user[0]);
		check_limits(&lab.overrides[i].limits);
		check_allocation(&lab, lab.overrides[i].user);
	}
	for (size_t i = 0; i < lab.n_users && i < 8; i++) {
		check(lr_lab_has_member(&lab, lab.users[i], NULL, 0));
		check_allocation(&lab, lab.users[i]);
	}
	if (lab.n_groups) {
		const char *groups[] = {lab.groups[0]};
		check(lr_lab_has_member(&lab, "nobody-in-particular", groups, 1));
	}
	check_allocation(&lab, "nobody-in-particular");
	lr_lab_free(&lab);
	free(text);
	return 0;
}
