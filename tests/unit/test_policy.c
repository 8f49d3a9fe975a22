/* test_policy.c - the labs' quota policy (lib/quota/policy.c): parsing a lab's
 * file, loading a directory of them, membership, a member's allocation.
 * Parses strings and a few files in a temporary directory; runs as any
 * user. */
#include "build-config.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

#define KIB 1024ULL
#define MIB (1024ULL * KIB)
#define GIB (1024ULL * MIB)
#define TIB (1024ULL * GIB)

/* The path every string below is parsed as: errors start with it. */
#define P "labs.d/physics.conf"

static char tmp[] = "/tmp/labrun-test-policy.XXXXXX";

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

/* tmp/name, created empty; each test gets its own directory. */
static void make_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmp, name);
	assert_int_equal(mkdir(out, 0755), 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static int parse(struct lr_lab *lab, const char *text, struct lr_error *err)
{
	return lr_lab_parse(lab, P, text, strlen(text), err);
}

/* Parsing (len bytes of text, as path) must fail with -code and exactly
 * the message want, and leave *lab as it was. */
static void expect_error_as(const char *path, const char *text, size_t len, int code,
			    const char *want)
{
	struct lr_lab lab, untouched;
	memset(&lab, 0xa5, sizeof(lab));
	memset(&untouched, 0xa5, sizeof(untouched));
	struct lr_error err = {0};
	int r = lr_lab_parse(&lab, path, text, len, &err);
	if (r == 0)
		lr_lab_free(&lab);
	if (r != -code)
		fail_msg("parse(\"%.60s\") = %d (%s), expected %d", text, r, err.msg, -code);
	assert_string_equal(err.msg, want);
	assert_memory_equal(&lab, &untouched, sizeof(lab));
}

static void expect_error(const char *text, const char *want)
{
	expect_error_as(P, text, strlen(text), EINVAL, want);
}

static void assert_origin(const struct lr_lab *lab, struct lr_origin o, unsigned line,
			  const char *scope)
{
	if (o.line != line)
		fail_msg("origin line %u, expected %u", o.line, line);
	assert_ptr_equal(o.file, lab->file); /* owned by the lab */
	assert_string_equal(o.scope, scope);
}

static void assert_value(const struct lr_lab *lab, const struct lr_limits *l, enum lr_res r,
			 uint64_t value, unsigned line, const char *scope)
{
	if (!l->set[r])
		fail_msg("%s is not set", lr_res_name(r));
	if (l->value[r] != value)
		fail_msg("%s = %llu, expected %llu", lr_res_name(r),
			 (unsigned long long)l->value[r], (unsigned long long)value);
	assert_origin(lab, l->origin[r], line, scope);
}

static const struct lr_keyed *find_keyed(const struct lr_keyed *list, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i].key, key))
			return &list[i];
	return NULL;
}

static void assert_keyed(const struct lr_lab *lab, const struct lr_keyed *list, size_t n,
			 const char *key, uint64_t value, unsigned line, const char *scope)
{
	const struct lr_keyed *k = find_keyed(list, n, key);
	if (!k)
		fail_msg("no value for %s", key);
	if (k->value != value)
		fail_msg("%s = %llu, expected %llu", key, (unsigned long long)k->value,
			 (unsigned long long)value);
	assert_origin(lab, k->origin, line, scope);
}

/* ------------------------------------------------------------ lr_lab_parse */

/* Every key, every section, CRLF line ends, comments, blank lines, and a
 * last line without its newline. */
static const char full[] = "# physics: the lab's quota policy\r\n"		/* 1 */
			   "\r\n"						/* 2 */
			   "[lab]\r\n"						/* 3 */
			   "members = alice, bob\r\n"				/* 4 */
			   "members = @physics,@astro carol\r\n"		/* 5 */
			   "\tmembers=dave\t\r\n"				/* 6 */
			   "cores = 64\r\n"					/* 7 */
			   "memory = 1.5G\r\n"					/* 8 */
			   "swap = unlimited\r\n"				/* 9 */
			   "gpus = 4\r\n"					/* 10 */
			   "processes = 10000\r\n"				/* 11 */
			   "tmpfs-size = 64G\r\n"				/* 12 */
			   "io-weight = 500\r\n"				/* 13 */
			   "io-read-bps = /dev/sda 100M\r\n"			/* 14 */
			   "io-read-bps = /dev/nvme0n1\t1G\r\n"			/* 15 */
			   "io-write-bps = /dev/sda 50M\r\n"			/* 16 */
			   "storage = /scratch 10T\r\n"				/* 17 */
			   "storage = /home unlimited\r\n"			/* 18 */
			   "gpu-hours = 1000\r\n"				/* 19 */
			   "   # an indented comment = with an equals sign\r\n" /* 20 */
			   "  \t\r\n"						/* 21 */
			   "[defaults]\r\n"					/* 22 */
			   "cores = 8\r\n"					/* 23 */
			   "memory = 32G\r\n"					/* 24 */
			   "gpus = 1\r\n"					/* 25 */
			   "storage = /scratch 500G\r\n"			/* 26 */
			   "\r\n"						/* 27 */
			   "[ member  alice ]\r\n"				/* 28 */
			   "cores = 32\r\n"					/* 29 */
			   "gpus = unlimited\r\n"				/* 30 */
			   "io-write-bps = /dev/sda 20M\r\n"			/* 31 */
			   "\r\n"						/* 32 */
			   "[member bob]\r\n"					/* 33 */
			   "memory = 512M";					/* 34 */

static void parses_every_key_value_and_origin(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	if (parse(&lab, full, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(lab.name, "physics");
	assert_string_equal(lab.file, P);

	assert_int_equal(lab.n_users, 4);
	assert_string_equal(lab.users[0], "alice");
	assert_string_equal(lab.users[1], "bob");
	assert_string_equal(lab.users[2], "carol");
	assert_string_equal(lab.users[3], "dave");
	assert_int_equal(lab.n_groups, 2);
	assert_string_equal(lab.groups[0], "physics"); /* without the '@' */
	assert_string_equal(lab.groups[1], "astro");

	const struct lr_limits *t = &lab.total;
	assert_value(&lab, t, LR_RES_CORES, 64, 7, "lab total");
	assert_value(&lab, t, LR_RES_MEMORY, 1536 * MIB, 8, "lab total");
	assert_value(&lab, t, LR_RES_SWAP, LR_POLICY_UNLIMITED, 9, "lab total");
	assert_value(&lab, t, LR_RES_GPUS, 4, 10, "lab total");
	assert_value(&lab, t, LR_RES_PROCESSES, 10000, 11, "lab total");
	assert_value(&lab, t, LR_RES_TMPFS, 64 * GIB, 12, "lab total");
	assert_value(&lab, t, LR_RES_IO_WEIGHT, 500, 13, "lab total");
	assert_value(&lab, t, LR_RES_GPU_HOURS, 1000, 19, "lab total");
	assert_int_equal(t->n_read_bps, 2);
	assert_keyed(&lab, t->read_bps, t->n_read_bps, "/dev/sda", 100 * MIB, 14, "lab total");
	assert_keyed(&lab, t->read_bps, t->n_read_bps, "/dev/nvme0n1", GIB, 15, "lab total");
	assert_int_equal(t->n_write_bps, 1);
	assert_keyed(&lab, t->write_bps, t->n_write_bps, "/dev/sda", 50 * MIB, 16, "lab total");
	assert_int_equal(t->n_storage, 2);
	assert_keyed(&lab, t->storage, t->n_storage, "/scratch", 10 * TIB, 17, "lab total");
	assert_keyed(&lab, t->storage, t->n_storage, "/home", LR_POLICY_UNLIMITED, 18, "lab total");

	const struct lr_limits *d = &lab.defaults;
	assert_value(&lab, d, LR_RES_CORES, 8, 23, "defaults");
	assert_value(&lab, d, LR_RES_MEMORY, 32 * GIB, 24, "defaults");
	assert_value(&lab, d, LR_RES_GPUS, 1, 25, "defaults");
	for (enum lr_res r = 0; r < LR_RES_COUNT; r++)
		if (r != LR_RES_CORES && r != LR_RES_MEMORY && r != LR_RES_GPUS)
			assert_false(d->set[r]);
	assert_int_equal(d->n_read_bps + d->n_write_bps, 0);
	assert_int_equal(d->n_storage, 1);
	assert_keyed(&lab, d->storage, d->n_storage, "/scratch", 500 * GIB, 26, "defaults");

	assert_int_equal(lab.n_overrides, 2);
	assert_string_equal(lab.overrides[0].user, "alice");
	const struct lr_limits *a = &lab.overrides[0].limits;
	assert_value(&lab, a, LR_RES_CORES, 32, 29, "member");
	assert_value(&lab, a, LR_RES_GPUS, LR_POLICY_UNLIMITED, 30, "member");
	assert_false(a->set[LR_RES_MEMORY]);
	assert_int_equal(a->n_read_bps + a->n_storage, 0);
	assert_int_equal(a->n_write_bps, 1);
	assert_keyed(&lab, a->write_bps, a->n_write_bps, "/dev/sda", 20 * MIB, 31, "member");

	assert_string_equal(lab.overrides[1].user, "bob");
	const struct lr_limits *b = &lab.overrides[1].limits;
	assert_value(&lab, b, LR_RES_MEMORY, 512 * MIB, 34, "member");
	assert_false(b->set[LR_RES_CORES]);
	lr_lab_free(&lab);
	assert_null(lab.name);
}

static void parses_zero_and_unlimited_for_every_resource(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	if (parse(&lab,
		  "[lab]\nmembers = a\n"
		  "memory = 0\nswap = 0\ngpus = 0\ntmpfs-size = 0\ngpu-hours = 0\n"
		  "[defaults]\ncores = unlimited\nmemory = unlimited\nprocesses = unlimited\n"
		  "io-weight = unlimited\ngpu-hours = unlimited\n",
		  &err) != 0)
		fail_msg("%s", err.msg);
	assert_value(&lab, &lab.total, LR_RES_MEMORY, 0, 3, "lab total");
	assert_value(&lab, &lab.total, LR_RES_SWAP, 0, 4, "lab total");
	assert_value(&lab, &lab.total, LR_RES_GPUS, 0, 5, "lab total");
	assert_value(&lab, &lab.total, LR_RES_TMPFS, 0, 6, "lab total");
	assert_value(&lab, &lab.total, LR_RES_GPU_HOURS, 0, 7, "lab total");
	assert_value(&lab, &lab.defaults, LR_RES_CORES, LR_POLICY_UNLIMITED, 9, "defaults");
	assert_value(&lab, &lab.defaults, LR_RES_MEMORY, LR_POLICY_UNLIMITED, 10, "defaults");
	assert_value(&lab, &lab.defaults, LR_RES_PROCESSES, LR_POLICY_UNLIMITED, 11, "defaults");
	assert_value(&lab, &lab.defaults, LR_RES_IO_WEIGHT, LR_POLICY_UNLIMITED, 12, "defaults");
	assert_value(&lab, &lab.defaults, LR_RES_GPU_HOURS, LR_POLICY_UNLIMITED, 13, "defaults");
	lr_lab_free(&lab);
}

static void accepts_the_limits_of_each_count(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	if (parse(&lab,
		  "[lab]\nmembers = a\ncores = 1048576\nprocesses = 4194304\ngpus = 1024\n"
		  "io-weight = 10000\ngpu-hours = 1000000000\n"
		  "[defaults]\ncores = 1\nprocesses = 1\nio-weight = 1\n",
		  &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(lab.total.value[LR_RES_CORES] == 1048576);
	assert_true(lab.total.value[LR_RES_PROCESSES] == 4194304);
	assert_true(lab.total.value[LR_RES_GPUS] == 1024);
	assert_true(lab.total.value[LR_RES_IO_WEIGHT] == 10000);
	assert_true(lab.total.value[LR_RES_GPU_HOURS] == 1000000000);
	assert_true(lab.defaults.value[LR_RES_CORES] == 1);
	lr_lab_free(&lab);
}

static void a_member_section_alone_with_members_in_lab_is_enough(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	assert_int_equal(parse(&lab, "[member alice]\ncores = 2\n[lab]\nmembers = @g\n", &err), 0);
	assert_int_equal(lab.n_users, 0);
	assert_int_equal(lab.n_groups, 1);
	assert_int_equal(lab.n_overrides, 1);
	for (enum lr_res r = 0; r < LR_RES_COUNT; r++)
		assert_false(lab.total.set[r] || lab.defaults.set[r]);
	lr_lab_free(&lab);
}

static void the_lab_is_named_after_its_file(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	const char *text = "[lab]\nmembers = a\n";
	assert_int_equal(
		lr_lab_parse(&lab, "/etc/labrun/labs.d/bio_lab-2.1.conf", text, strlen(text), &err),
		0);
	assert_string_equal(lab.name, "bio_lab-2.1");
	assert_string_equal(lab.file, "/etc/labrun/labs.d/bio_lab-2.1.conf");
	lr_lab_free(&lab);
	assert_int_equal(lr_lab_parse(&lab, "chem.conf", text, strlen(text), &err), 0);
	assert_string_equal(lab.name, "chem");
	lr_lab_free(&lab);
}

static void rejects_a_key_before_any_section(void **state)
{
	expect_error("cores = 4\n[lab]\nmembers = a\n",
		     P ":1:1: expected a section first: [lab], [defaults] or [member NAME]");
	expect_error("# c\n\n  members = a\n",
		     P ":3:3: expected a section first: [lab], [defaults] or [member NAME]");
}

static void rejects_an_unknown_key(void **state)
{
	expect_error("[lab]\nmembers = a\ncpus = 4\n",
		     P ":3:1: unknown key 'cpus' (members, cores, memory, swap, gpus, processes, "
		       "tmpfs-size, io-weight, io-read-bps, io-write-bps, storage, gpu-hours)");
	expect_error("[lab]\nmembers = a\n\tmember = b\n",
		     P ":3:2: unknown key 'member' (members, cores, memory, swap, gpus, "
		       "processes, tmpfs-size, io-weight, io-read-bps, io-write-bps, storage, "
		       "gpu-hours)");
}

static void rejects_a_line_without_equals(void **state)
{
	expect_error("[lab]\nmembers = a\ncores 4\n", P ":3:1: expected 'key = value'");
}

static void rejects_an_unknown_section(void **state)
{
	expect_error("[lab]\nmembers = a\n[group x]\n",
		     P ":3:2: expected [lab], [defaults] or [member NAME], not [group x]");
	expect_error("[lab]\nmembers = a\n[ labs ]\n",
		     P ":3:3: expected [lab], [defaults] or [member NAME], not [labs ]");
	expect_error("[lab extra]\nmembers = a\n",
		     P ":1:2: expected [lab], [defaults] or [member NAME], not [lab extra]");
	expect_error("[lab\nmembers = a\n", P ":1:1: expected [lab], [defaults] or [member NAME]");
	expect_error("[lab] x\nmembers = a\n",
		     P ":1:1: expected [lab], [defaults] or [member NAME]");
}

static void rejects_a_member_section_without_exactly_one_name(void **state)
{
	expect_error("[lab]\nmembers = a\n[member]\n",
		     P ":3:8: expected [member USER] with one user name");
	expect_error("[lab]\nmembers = a\n[member   ]\n",
		     P ":3:11: expected [member USER] with one user name");
	expect_error("[lab]\nmembers = a\n[member a b]\n",
		     P ":3:9: expected [member USER] with one user name");
	expect_error("[lab]\nmembers = a\n[member @g]\n",
		     P ":3:9: expected [member USER] with one user name");
}

static void rejects_a_second_lab_section(void **state)
{
	expect_error("[lab]\nmembers = a\n[defaults]\n[lab]\nmembers = b\n",
		     P ":4:1: a second [lab] section");
}

static void rejects_a_second_defaults_section(void **state)
{
	expect_error("[lab]\nmembers = a\n[defaults]\ncores = 1\n  [defaults]\n",
		     P ":5:3: a second [defaults] section");
}

static void rejects_a_second_section_for_one_member(void **state)
{
	expect_error("[lab]\nmembers = a\n[member a]\ncores = 1\n[member b]\n[member a]\n",
		     P ":6:9: a second [member a] section");
}

static void rejects_a_key_set_twice_in_one_section(void **state)
{
	expect_error("[lab]\nmembers = a\ncores = 4\nmemory = 1G\ncores = 8\n",
		     P ":5:1: cores is set twice in this section");
	expect_error("[lab]\nmembers = a\n[member a]\ngpu-hours = 4\n gpu-hours=4\n",
		     P ":5:2: gpu-hours is set twice in this section");
	expect_error("[lab]\nmembers = a\nstorage = /s 1G\nstorage = /t 1G\nstorage = /s 2G\n",
		     P ":5:11: storage for /s is set twice in this section");
	expect_error("[lab]\nmembers = a\n[defaults]\nio-read-bps = /dev/sda 1M\n"
		     "io-read-bps = /dev/sda 2M\n",
		     P ":5:15: io-read-bps for /dev/sda is set twice in this section");
}

static void a_key_may_be_set_once_in_each_section(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	assert_int_equal(parse(&lab,
			       "[lab]\nmembers = a\ncores = 4\nio-read-bps = /dev/sda 1M\n"
			       "io-write-bps = /dev/sda 1M\n"
			       "[defaults]\ncores = 2\nio-read-bps = /dev/sda 1M\n"
			       "[member a]\ncores = 3\nio-read-bps = /dev/sda 1M\n"
			       "[member b]\ncores = 3\nio-read-bps = /dev/sda 1M\n",
			       &err),
			 0);
	lr_lab_free(&lab);
}

static void rejects_members_outside_the_lab_section(void **state)
{
	expect_error("[lab]\nmembers = a\n[defaults]\nmembers = b\n",
		     P ":4:1: members belong in the [lab] section");
	expect_error("[member a]\nmembers = b\n", P ":2:1: members belong in the [lab] section");
}

static void rejects_a_bad_user_or_group_name(void **state)
{
	expect_error("[lab]\nmembers = alice, b!b\n",
		     P ":2:18: expected a user name or @group, not 'b!b'");
	expect_error("[lab]\nmembers = -rf\n",
		     P ":2:11: expected a user name or @group, not '-rf'");
	expect_error("[lab]\nmembers = alice @\n",
		     P ":2:17: expected a user name or @group, not '@'");
	expect_error("[lab]\nmembers = @@g\n",
		     P ":2:11: expected a user name or @group, not '@@g'");
	expect_error("[lab]\nmembers = a$b\n",
		     P ":2:11: expected a user name or @group, not 'a$b'");
	expect_error("[lab]\nmembers = abcdefghijklmnopqrstuvwxyz0123456\n",
		     P ":2:11: expected a user name or @group, not "
		       "'abcdefghijklmnopqrstuvwxyz0123456'");
}

static void accepts_dollar_at_the_end_and_32_characters(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	assert_int_equal(parse(&lab,
			       "[lab]\nmembers = host$ abcdefghijklmnopqrstuvwxyz012345 A.b_c-d\n",
			       &err),
			 0);
	assert_int_equal(lab.n_users, 3);
	assert_string_equal(lab.users[0], "host$");
	assert_string_equal(lab.users[2], "A.b_c-d");
	lr_lab_free(&lab);
}

static void rejects_a_member_listed_twice(void **state)
{
	expect_error("[lab]\nmembers = alice bob\nmembers = @g, alice\n",
		     P ":3:15: alice is listed twice");
	expect_error("[lab]\nmembers = @g,carol,@g\n", P ":2:20: @g is listed twice");
}

static void a_user_and_a_group_may_share_a_name(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	assert_int_equal(parse(&lab, "[lab]\nmembers = physics @physics\n", &err), 0);
	assert_int_equal(lab.n_users, 1);
	assert_int_equal(lab.n_groups, 1);
	lr_lab_free(&lab);
}

static void rejects_an_empty_members_line(void **state)
{
	expect_error("[lab]\nmembers =\n", P ":2:10: expected user names or @groups");
	expect_error("[lab]\nmembers = , ,\n", P ":2:11: expected user names or @groups");
}

static void rejects_bad_numbers(void **state)
{
	expect_error("[lab]\nmembers = a\ncores = 0\n",
		     P ":3:9: expected a whole number from 1 to 1048576 or unlimited for cores, "
		       "not '0'");
	expect_error("[lab]\nmembers = a\ncores = lots\n",
		     P ":3:9: expected a whole number from 1 to 1048576 or unlimited for cores, "
		       "not 'lots'");
	expect_error("[lab]\nmembers = a\ncores = 1048577\n",
		     P ":3:9: expected a whole number from 1 to 1048576 or unlimited for cores, "
		       "not '1048577'");
	expect_error("[lab]\nmembers = a\ncores = -1\n",
		     P ":3:9: expected a whole number from 1 to 1048576 or unlimited for cores, "
		       "not '-1'");
	expect_error("[lab]\nmembers = a\ncores = 8G\n",
		     P ":3:9: expected a whole number from 1 to 1048576 or unlimited for cores, "
		       "not '8G'");
	expect_error("[lab]\nmembers = a\n[defaults]\nio-weight = 20000\n",
		     P ":4:13: expected a whole number from 1 to 10000 or unlimited for "
		       "io-weight, not '20000'");
	expect_error("[lab]\nmembers = a\n[member a]\nprocesses = 0\n",
		     P ":4:13: expected a whole number from 1 to 4194304 or unlimited for "
		       "processes, not '0'");
	expect_error("[lab]\nmembers = a\ngpus = 1025\n",
		     P ":3:8: expected a whole number from 0 to 1024 or unlimited for gpus, "
		       "not '1025'");
	expect_error("[lab]\nmembers = a\nmemory = 12Q\n",
		     P ":3:10: expected a size such as 64G, 512M or unlimited for memory, not "
		       "'12Q'");
	expect_error("[lab]\nmembers = a\ntmpfs-size = 1.5\n",
		     P ":3:14: expected a size such as 64G, 512M or unlimited for tmpfs-size, not "
		       "'1.5'");
	expect_error("[lab]\nmembers = a\nswap = 99999999999T\n",
		     P ":3:8: expected a size such as 64G, 512M or unlimited for swap, not "
		       "'99999999999T'");
	expect_error("[lab]\nmembers = a\ncores =   \n", P ":3:11: expected a value for cores");
}

static void rejects_a_device_or_path_without_a_size(void **state)
{
	expect_error("[lab]\nmembers = a\nio-read-bps = /dev/sda\n",
		     P ":3:23: expected a size after '/dev/sda', e.g. 100M or unlimited");
	expect_error("[lab]\nmembers = a\nio-read-bps = /dev/sda fast\n",
		     P ":3:24: expected a size after '/dev/sda', e.g. 100M or unlimited");
	expect_error("[lab]\nmembers = a\nstorage = /scratch 1G 2G\n",
		     P ":3:20: expected a size after '/scratch', e.g. 100M or unlimited");
}

static void rejects_a_relative_path(void **state)
{
	expect_error("[lab]\nmembers = a\nstorage = scratch 1G\n",
		     P ":3:11: expected an absolute path then a size, e.g. /scratch 500G");
	expect_error("[lab]\nmembers = a\nstorage =\n",
		     P ":3:10: expected an absolute path then a size, e.g. /scratch 500G");
}

static void rejects_a_device_outside_dev(void **state)
{
	expect_error("[lab]\nmembers = a\nio-write-bps = /sda 1M\n",
		     P ":3:16: expected a device then a size, e.g. /dev/sda 100M");
	expect_error("[lab]\nmembers = a\nio-read-bps = sda 1M\n",
		     P ":3:15: expected a device then a size, e.g. /dev/sda 100M");
	expect_error("[lab]\nmembers = a\nio-read-bps = /devices/sda 1M\n",
		     P ":3:15: expected a device then a size, e.g. /dev/sda 100M");
}

static void rejects_dot_and_dotdot_components(void **state)
{
	expect_error("[lab]\nmembers = a\nstorage = /scratch/../etc 1G\n",
		     P ":3:11: expected a path without . or .. components");
	expect_error("[lab]\nmembers = a\nstorage = /scratch/./x 1G\n",
		     P ":3:11: expected a path without . or .. components");
	expect_error("[lab]\nmembers = a\nio-read-bps = /dev/../etc/sda 1M\n",
		     P ":3:15: expected a path without . or .. components");
}

/* A final .. or . component, followed by the blank before the size, is
 * refused too: "/scratch/.." would be "/". */
static void rejects_a_final_dot_or_dotdot_component(void **state)
{
	expect_error("[lab]\nmembers = a\nstorage = /scratch/.. 1G\n",
		     P ":3:11: expected a path without . or .. components");
	expect_error("[lab]\nmembers = a\nstorage = /scratch/. 1G\n",
		     P ":3:11: expected a path without . or .. components");
	expect_error("[lab]\nmembers = a\nio-read-bps = /dev/sda/.. 1M\n",
		     P ":3:15: expected a path without . or .. components");
}

static void accepts_names_that_merely_contain_dots(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	assert_int_equal(parse(&lab, "[lab]\nmembers = a\nstorage = /a/..b/.c 1G\n", &err), 0);
	assert_string_equal(lab.total.storage[0].key, "/a/..b/.c");
	lr_lab_free(&lab);
}

/* A member's limit for "/scratch/" is the lab's "/scratch": one spelling
 * per path, or the lab's total would not cap it. */
static void paths_and_devices_have_one_spelling(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	assert_int_equal(parse(&lab,
			       "[lab]\nmembers = a\nstorage = //scratch//x/ 1G\n"
			       "io-read-bps = /dev//sda 1M\n",
			       &err),
			 0);
	assert_string_equal(lab.total.storage[0].key, "/scratch/x");
	assert_string_equal(lab.total.read_bps[0].key, "/dev/sda");
	lr_lab_free(&lab);
	expect_error("[lab]\nmembers = a\nstorage = /s 1G\nstorage = /s/ 2G\n",
		     P ":4:11: storage for /s is set twice in this section");
	expect_error("[lab]\nmembers = a\nio-read-bps = /dev/sda 1M\nio-read-bps = /dev//sda 2M\n",
		     P ":4:15: io-read-bps for /dev/sda is set twice in this section");
}

static void rejects_more_devices_or_paths_than_the_limit(void **state)
{
	char text[2048] = "[lab]\nmembers = a\n";
	for (int i = 0; i < LR_POLICY_MAX_PATHS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "storage = /s%d 1G\n",
			 i);
	struct lr_lab lab;
	struct lr_error err = {0};
	assert_int_equal(parse(&lab, text, &err), 0);
	assert_int_equal(lab.total.n_storage, LR_POLICY_MAX_PATHS);
	lr_lab_free(&lab);
	strcat(text, "storage = /one-too-many 1G\n");
	expect_error(text, P ":19:11: more than 16 storage lines in this section");
}

static void rejects_a_lab_without_members(void **state)
{
	expect_error("[lab]\ncores = 4\n[defaults]\ncores = 1\n",
		     P ": no members: expected 'members = ...' in [lab]");
	expect_error("", P ": no members: expected 'members = ...' in [lab]");
	expect_error("# nothing yet\n", P ": no members: expected 'members = ...' in [lab]");
}

/* A NUL byte is named by its line, as in labrun.conf. */
static void rejects_a_nul_byte(void **state)
{
	static const char text[] = "[lab]\nmembers = a\0b\n";
	expect_error_as(P, text, sizeof(text) - 1, EINVAL,
			P ":2: a NUL byte (is this a text file?)");
}

static void rejects_a_line_longer_than_the_limit(void **state)
{
	size_t size = LR_POLICY_MAX_LINE + 64;
	char *text = malloc(size);
	assert_non_null(text);
	/* Exactly at the limit is fine... */
	int n = snprintf(text, size, "[lab]\nmembers = a\n#");
	memset(text + n, 'x', LR_POLICY_MAX_LINE - 1);
	strcpy(text + n + LR_POLICY_MAX_LINE - 1, "\n");
	struct lr_lab lab;
	struct lr_error err = {0};
	if (parse(&lab, text, &err) != 0)
		fail_msg("%s", err.msg);
	lr_lab_free(&lab);
	/* ...one byte more is not. */
	strcpy(text + n + LR_POLICY_MAX_LINE - 1, "x\n");
	expect_error(text, P ":3: longer than 4096 bytes");
	free(text);
}

static void rejects_a_file_larger_than_the_limit(void **state)
{
	size_t len = LR_POLICY_MAX_BYTES + 1;
	char *text = malloc(len);
	assert_non_null(text);
	memset(text, '\n', len);
	memcpy(text, "[lab]\nmembers = a\n", 18);
	expect_error_as(P, text, len, EFBIG, P ": larger than 1048576 bytes");
	/* The limit itself is allowed. */
	struct lr_lab lab;
	struct lr_error err = {0};
	assert_int_equal(lr_lab_parse(&lab, P, text, len - 1, &err), 0);
	lr_lab_free(&lab);
	free(text);
}

static void rejects_a_file_name_that_is_not_a_lab_name(void **state)
{
	static const char text[] = "[lab]\nmembers = a\n";
	expect_error_as("labs.d/bad name.conf", text, strlen(text), EINVAL,
			"labs.d/bad name.conf: the file name must be the lab's name (letters, "
			"digits, . _ -) and .conf");
	expect_error_as("labs.d/-x.conf", text, strlen(text), EINVAL,
			"labs.d/-x.conf: the file name must be the lab's name (letters, digits, . "
			"_ -) and .conf");
	expect_error_as("labs.d/", text, strlen(text), EINVAL,
			"labs.d/: the file name must be the lab's name (letters, digits, . _ -) "
			"and .conf");
	expect_error_as("labs.d/abcdefghijklmnopqrstuvwxyz0123456.conf", text, strlen(text), EINVAL,
			"labs.d/abcdefghijklmnopqrstuvwxyz0123456.conf: the file name must be the "
			"lab's name (letters, digits, . _ -) and .conf");
}

static void the_first_error_wins_and_nothing_is_kept(void **state)
{
	/* Good lines first: none of them may survive the bad one. */
	expect_error("[lab]\nmembers = a b @c\ncores = 4\nstorage = /s 1G\n[defaults]\n"
		     "io-read-bps = /dev/sda 1M\n[member a]\ncores = 2\nmemory = x\ncpus = 1\n",
		     P ":9:10: expected a size such as 64G, 512M or unlimited for memory, not 'x'");
}

/* etc/labs.d/physics.conf.example, as shipped: the documentation and the
 * parser agree. */
static void the_example_lab_parses(void **state)
{
	const char *top = getenv("top_srcdir");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/etc/labs.d/physics.conf.example", top ? top : ".");
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("%s: %s (set top_srcdir)", path, strerror(errno));
	static char text[LR_POLICY_MAX_BYTES];
	size_t len = fread(text, 1, sizeof(text), f);
	fclose(f);
	struct lr_lab lab;
	struct lr_error err = {0};
	if (lr_lab_parse(&lab, "physics.conf", text, len, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(lab.name, "physics");
	assert_true(lab.n_users > 0 && lab.n_groups > 0);
	assert_true(lab.n_overrides > 0);
	lr_lab_free(&lab);
}

/* Destructors accept NULL (STYLE.md), a zeroed struct, and a freed one. */
static void free_accepts_null_zeroed_and_freed(void **state)
{
	struct lr_lab lab = {0};
	lr_lab_free(&lab);
	struct lr_policy p = {0};
	lr_policy_free(&p);
	struct lr_error err = {0};
	assert_int_equal(parse(&lab, full, &err), 0);
	lr_lab_free(&lab);
	lr_lab_free(&lab); /* twice: the first one zeroed it */
	lr_lab_free(NULL);
	lr_policy_free(NULL);
}

/* ------------------------------------------------------------ lr_policy_load */

static const char good[] = "[lab]\nmembers = alice\ncores = 4\n";
static const char broken[] = "[lab]\nmembers = alice\ncpus = 4\n";

static void load_sorts_labs_by_name(void **state)
{
	char dir[PATH_MAX], want[PATH_MAX + 16];
	make_dir(dir, sizeof(dir), "sorted");
	write_file(dir, "zoo.conf", "[lab]\nmembers = zed\n");
	write_file(dir, "alpha.conf", "[lab]\nmembers = al\n\ncores = 2\n");
	write_file(dir, "mid.conf", "[lab]\nmembers = mo\n");
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, false, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(p.n_labs, 3);
	assert_string_equal(p.labs[0].name, "alpha");
	assert_string_equal(p.labs[1].name, "mid");
	assert_string_equal(p.labs[2].name, "zoo");
	snprintf(want, sizeof(want), "%s/alpha.conf", dir);
	assert_string_equal(p.labs[0].file, want);
	assert_string_equal(p.labs[0].users[0], "al");
	assert_value(&p.labs[0], &p.labs[0].total, LR_RES_CORES, 2, 4, "lab total");
	lr_policy_free(&p);
	assert_int_equal(p.n_labs, 0);
}

static void load_ignores_files_not_ending_in_conf_and_dotfiles(void **state)
{
	char dir[PATH_MAX];
	make_dir(dir, sizeof(dir), "ignored");
	write_file(dir, "physics.conf", good);
	/* Each of these would refuse the directory if it were read. */
	write_file(dir, "README", broken);
	write_file(dir, "physics.conf~", broken);
	write_file(dir, "physics.conf.bak", broken);
	write_file(dir, "physics.conf.swp", broken);
	write_file(dir, ".physics.conf.swp", broken);
	write_file(dir, ".hidden.conf", broken);
	write_file(dir, ".conf", broken);
	write_file(dir, "conf", broken);
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, false, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(p.n_labs, 1);
	assert_string_equal(p.labs[0].name, "physics");
	lr_policy_free(&p);
}

static void load_of_an_empty_directory_is_an_empty_policy(void **state)
{
	char dir[PATH_MAX];
	make_dir(dir, sizeof(dir), "empty");
	struct lr_policy p;
	struct lr_error err = {0};
	assert_int_equal(lr_policy_load(&p, dir, false, &err), 0);
	assert_int_equal(p.n_labs, 0);
	lr_policy_free(&p);
}

static void load_refuses_the_whole_directory_for_one_broken_file(void **state)
{
	char dir[PATH_MAX], want[PATH_MAX + 256];
	make_dir(dir, sizeof(dir), "broken");
	write_file(dir, "a.conf", good);
	write_file(dir, "b.conf", broken);
	write_file(dir, "c.conf", good);
	struct lr_policy p;
	memset(&p, 0xa5, sizeof(p));
	struct lr_error err = {0};
	assert_int_equal(lr_policy_load(&p, dir, false, &err), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/b.conf:3:1: unknown key 'cpus' (members, cores, memory, swap, gpus, "
		 "processes, tmpfs-size, io-weight, io-read-bps, io-write-bps, storage, "
		 "gpu-hours)",
		 dir);
	assert_string_equal(err.msg, want);
	assert_int_equal(p.n_labs, 0);
	assert_null(p.labs);
}

static void load_of_a_missing_directory_is_empty_when_missing_ok(void **state)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/absent", tmp);
	struct lr_policy p;
	memset(&p, 0xa5, sizeof(p));
	struct lr_error err = {0};
	assert_int_equal(lr_policy_load(&p, dir, true, &err), 0);
	assert_int_equal(p.n_labs, 0);
	assert_null(p.labs);
	assert_int_equal(err.code, 0);
}

static void load_of_a_missing_directory_fails_otherwise(void **state)
{
	char dir[PATH_MAX], want[PATH_MAX + 64];
	snprintf(dir, sizeof(dir), "%s/absent", tmp);
	struct lr_policy p;
	struct lr_error err = {0};
	assert_int_equal(lr_policy_load(&p, dir, false, &err), -ENOENT);
	snprintf(want, sizeof(want), "policy directory %s: %s", dir, strerror(ENOENT));
	assert_string_equal(err.msg, want);
	assert_int_equal(p.n_labs, 0);
}

static void load_refuses_a_conf_that_is_a_directory(void **state)
{
	char dir[PATH_MAX], sub[PATH_MAX + 16], want[PATH_MAX + 64];
	make_dir(dir, sizeof(dir), "subdir");
	write_file(dir, "a.conf", good);
	snprintf(sub, sizeof(sub), "%s/d.conf", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	struct lr_policy p;
	struct lr_error err = {0};
	assert_int_equal(lr_policy_load(&p, dir, false, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", sub);
	assert_string_equal(err.msg, want);
	assert_int_equal(p.n_labs, 0);
}

static void load_refuses_a_conf_that_is_a_symlink(void **state)
{
	char dir[PATH_MAX], other[PATH_MAX], target[PATH_MAX + 16], link[PATH_MAX + 16],
		want[PATH_MAX + 64];
	make_dir(other, sizeof(other), "elsewhere");
	write_file(other, "real.conf", good);
	make_dir(dir, sizeof(dir), "symlink");
	write_file(dir, "a.conf", good);
	snprintf(target, sizeof(target), "%s/real.conf", other);
	snprintf(link, sizeof(link), "%s/link.conf", dir);
	assert_int_equal(symlink(target, link), 0);
	struct lr_policy p;
	struct lr_error err = {0};
	assert_int_equal(lr_policy_load(&p, dir, false, &err), -ELOOP);
	snprintf(want, sizeof(want), "%s: %s", link, strerror(ELOOP));
	assert_string_equal(err.msg, want);
	assert_int_equal(p.n_labs, 0);
}

static void load_refuses_a_file_larger_than_the_limit(void **state)
{
	char dir[PATH_MAX], want[PATH_MAX + 64];
	make_dir(dir, sizeof(dir), "big");
	size_t len = LR_POLICY_MAX_BYTES + 1;
	char *text = malloc(len + 1);
	assert_non_null(text);
	memset(text, '#', len);
	text[len] = '\0';
	write_file(dir, "big.conf", text);
	free(text);
	struct lr_policy p;
	struct lr_error err = {0};
	assert_int_equal(lr_policy_load(&p, dir, false, &err), -EFBIG);
	snprintf(want, sizeof(want), "%s/big.conf: larger than 1048576 bytes", dir);
	assert_string_equal(err.msg, want);
}

/* ------------------------------------------------------------ trust */

/* The lab files are trusted only when nobody but root (or, for a caller
 * that is not root, the caller) can change them or any directory above
 * them (lib/trust.h): a lab file anyone can write lets anyone raise their
 * own limits at the next apply (issue 12, item 10). */

static void expect_refused(const char *dir, int code, const char *want_start)
{
	struct lr_policy p;
	memset(&p, 0xa5, sizeof(p));
	struct lr_error err = {0};
	int r = lr_policy_load(&p, dir, true, &err);
	if (r == 0)
		lr_policy_free(&p);
	if (r != -code)
		fail_msg("load(%s) = %d (%s), expected %d", dir, r, err.msg, -code);
	if (strncmp(err.msg, want_start, strlen(want_start)))
		fail_msg("message\n  %s\ndoes not start with\n  %s", err.msg, want_start);
	assert_int_equal(p.n_labs, 0);
}

static void load_refuses_a_lab_file_anyone_can_write(void **state)
{
	char dir[PATH_MAX], file[PATH_MAX + 16], want[PATH_MAX + 64];
	make_dir(dir, sizeof(dir), "world-writable-file");
	write_file(dir, "a.conf", good);
	write_file(dir, "b.conf", good);
	snprintf(file, sizeof(file), "%s/b.conf", dir);
	assert_int_equal(chmod(file, 0666), 0);
	snprintf(want, sizeof(want), "%s: anyone can write it (mode 0666): a lab file", file);
	expect_refused(dir, EPERM, want);
	/* Group-writable is as bad: the group's members are users too. */
	assert_int_equal(chmod(file, 0664), 0);
	snprintf(want, sizeof(want), "%s: its group ", file);
	expect_refused(dir, EPERM, want);
	assert_int_equal(chmod(file, 0644), 0);
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, false, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(p.n_labs, 2);
	lr_policy_free(&p);
}

static void load_refuses_a_policy_directory_others_can_write(void **state)
{
	char dir[PATH_MAX], want[PATH_MAX + 64];
	make_dir(dir, sizeof(dir), "world-writable-dir");
	write_file(dir, "a.conf", good);
	/* Even sticky: anyone could add a lab file of their own. */
	assert_int_equal(chmod(dir, 01777), 0);
	snprintf(want, sizeof(want), "%s: anyone can write it (mode 1777): a lab file", dir);
	expect_refused(dir, EPERM, want);
	assert_int_equal(chmod(dir, 0775), 0);
	snprintf(want, sizeof(want), "%s: its group ", dir);
	expect_refused(dir, EPERM, want);
	assert_int_equal(chmod(dir, 0755), 0);
}

static void load_refuses_a_directory_above_that_others_can_write(void **state)
{
	char above[PATH_MAX], dir[PATH_MAX + 16], want[PATH_MAX + 64];
	make_dir(above, sizeof(above), "open-parent");
	snprintf(dir, sizeof(dir), "%s/labs.d", above);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_file(dir, "a.conf", good);
	/* Anyone could rename labs.d away and put their own in its place. */
	assert_int_equal(chmod(above, 0777), 0);
	snprintf(want, sizeof(want), "%s: anyone can write it (mode 0777): a lab file", above);
	expect_refused(dir, EPERM, want);
	/* Sticky, like /tmp: nobody else can rename labs.d, so it is fine. */
	assert_int_equal(chmod(above, 01777), 0);
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, false, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(p.n_labs, 1);
	lr_policy_free(&p);
	assert_int_equal(chmod(above, 0755), 0);
}

static void load_follows_a_trusted_symlink_and_checks_where_it_leads(void **state)
{
	char real[PATH_MAX], open_dir[PATH_MAX], link[PATH_MAX + 16], want[PATH_MAX + 64];
	make_dir(real, sizeof(real), "real-labs");
	write_file(real, "a.conf", good);
	snprintf(link, sizeof(link), "%s/linked-labs", tmp);
	assert_int_equal(symlink("real-labs", link), 0);
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, link, false, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(p.n_labs, 1);
	lr_policy_free(&p);
	/* A link to a directory anyone can write is refused there. */
	make_dir(open_dir, sizeof(open_dir), "open-labs");
	assert_int_equal(chmod(open_dir, 0777), 0);
	snprintf(link, sizeof(link), "%s/linked-open", tmp);
	assert_int_equal(symlink(open_dir, link), 0);
	snprintf(want, sizeof(want), "%s: anyone can write it (mode 0777)", open_dir);
	expect_refused(link, EPERM, want);
}

static void load_as_root_refuses_files_of_other_users(void **state)
{
	if (geteuid() != 0) {
		/* Skipped with a reason: only root can give a file away. */
		print_message("skipped: not root, cannot chown a lab file to another user\n");
		return;
	}
	char dir[PATH_MAX], file[PATH_MAX + 16], link[PATH_MAX + 16], want[PATH_MAX + 64];
	make_dir(dir, sizeof(dir), "not-roots");
	write_file(dir, "a.conf", good);
	snprintf(file, sizeof(file), "%s/a.conf", dir);
	assert_int_equal(chown(file, 65534, 65534), 0);
	snprintf(want, sizeof(want), "%s: owned by ", file);
	expect_refused(dir, EPERM, want);
	assert_int_equal(chown(file, 0, 0), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	snprintf(want, sizeof(want), "%s: owned by ", dir);
	expect_refused(dir, EPERM, want);
	assert_int_equal(chown(dir, 0, 0), 0);
	/* A symbolic link of another user's is not followed. */
	snprintf(link, sizeof(link), "%s/theirs", tmp);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(lchown(link, 65534, 65534), 0);
	snprintf(want, sizeof(want), "a symbolic link: %s: owned by ", link);
	expect_refused(link, EPERM, want);
}

static void load_refuses_a_fifo_without_blocking(void **state)
{
	char dir[PATH_MAX], fifo[PATH_MAX + 16], want[PATH_MAX + 64];
	make_dir(dir, sizeof(dir), "fifo");
	snprintf(fifo, sizeof(fifo), "%s/f.conf", dir);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	snprintf(want, sizeof(want), "%s: not a regular file", fifo);
	expect_refused(dir, EINVAL, want);
}

/* ------------------------------------------------------------ control characters */

/* A terminal obeys ESC and CR: what a lab file holds reaches the admin's
 * terminal escaped, never raw (issue 12). */
static void no_raw_control_character_reaches_a_message(const char *msg)
{
	for (const char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			fail_msg("a raw control character 0x%02x in: %s", (unsigned char)*c, msg);
}

static void a_control_character_in_a_value_is_refused_and_shown_escaped(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	const char text[] = "[lab]\nmembers = alice\nstorage = /scratch\x1b]0;owned\x07 5G\n";
	assert_int_equal(parse(&lab, text, &err), -EINVAL);
	assert_string_equal(err.msg, P ":3:19: a control character (0x1b): lab files are text");
	/* A key's error quotes the key: escaped. */
	const char key[] = "[lab]\nmembers = alice\ncolour\r\x1b[2J = 3\n";
	assert_int_equal(parse(&lab, key, &err), -EINVAL);
	assert_string_equal(err.msg, P ":3:7: a control character (0x0d): lab files are text");
	const char sec[] = "[lab]\nmembers = alice\n[\x1b[31mred]\n";
	assert_int_equal(parse(&lab, sec, &err), -EINVAL);
	no_raw_control_character_reaches_a_message(err.msg);
	assert_string_equal(err.msg, P ":3:2: a control character (0x1b): lab files are text");
}

static void a_file_name_with_control_characters_is_shown_escaped(void **state)
{
	char dir[PATH_MAX], want[PATH_MAX + 256];
	make_dir(dir, sizeof(dir), "escape");
	write_file(dir, "a\x1b[2Jb.conf", good);
	struct lr_policy p;
	struct lr_error err = {0};
	assert_int_equal(lr_policy_load(&p, dir, false, &err), -EINVAL);
	no_raw_control_character_reaches_a_message(err.msg);
	snprintf(want, sizeof(want),
		 "%s/a\\x1b[2Jb.conf: the file name must be the lab's name (letters, digits, . _ "
		 "-) and .conf",
		 dir);
	assert_string_equal(err.msg, want);
}

/* ------------------------------------------------------------ membership */

static void load_three_labs(struct lr_policy *p)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/members", tmp);
	if (mkdir(dir, 0755) == 0) {
		write_file(dir, "physics.conf", "[lab]\nmembers = alice @physics\n");
		write_file(dir, "chem.conf", "[lab]\nmembers = carol, alice\nmembers = @chem\n");
		write_file(dir, "bio.conf", "[lab]\nmembers = @bio\n");
	}
	struct lr_error err = {0};
	if (lr_policy_load(p, dir, false, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(p->n_labs, 3);
	assert_string_equal(p->labs[1].name, "chem");
	assert_string_equal(p->labs[2].name, "physics");
}

static void a_user_listed_by_name_is_a_member(void **state)
{
	struct lr_policy p;
	load_three_labs(&p);
	const struct lr_lab *physics = &p.labs[2];
	assert_true(lr_lab_has_member(physics, "alice", NULL, 0));
	const char *groups[] = {"users", "bio"};
	assert_true(lr_lab_has_member(physics, "alice", groups, 2));
	lr_policy_free(&p);
}

static void a_user_in_a_listed_group_is_a_member(void **state)
{
	struct lr_policy p;
	load_three_labs(&p);
	const char *groups[] = {"users", "wheel", "physics"};
	assert_true(lr_lab_has_member(&p.labs[2], "bob", groups, 3));
	assert_false(lr_lab_has_member(&p.labs[1], "bob", groups, 3));
	lr_policy_free(&p);
}

static void others_are_not_members(void **state)
{
	struct lr_policy p;
	load_three_labs(&p);
	const char *groups[] = {"users", "alice"};
	const struct lr_lab *physics = &p.labs[2];
	assert_false(lr_lab_has_member(physics, "eve", groups, 2));
	assert_false(lr_lab_has_member(physics, "eve", NULL, 0));
	/* A user named like a listed group is not in it, nor the other way round. */
	assert_false(lr_lab_has_member(physics, "physics", NULL, 0));
	assert_false(lr_lab_has_member(physics, "eve", groups + 1, 1));
	assert_false(lr_lab_has_member(physics, "Alice", NULL, 0));
	const struct lr_lab *out[4];
	assert_int_equal(lr_policy_labs_of(&p, "eve", groups, 2, out, 4), 0);
	lr_policy_free(&p);
}

static void a_user_in_two_labs_gets_both(void **state)
{
	struct lr_policy p;
	load_three_labs(&p);
	const struct lr_lab *out[4] = {0};
	assert_int_equal(lr_policy_labs_of(&p, "alice", NULL, 0, out, 4), 2);
	assert_ptr_equal(out[0], &p.labs[1]); /* chem, by name */
	assert_ptr_equal(out[1], &p.labs[2]); /* physics, by name */
	assert_null(out[2]);

	/* By groups alone, and by a name and a group for the same lab once. */
	const char *groups[] = {"bio", "physics"};
	memset(out, 0, sizeof(out));
	assert_int_equal(lr_policy_labs_of(&p, "bob", groups, 2, out, 4), 2);
	assert_string_equal(out[0]->name, "bio");
	assert_string_equal(out[1]->name, "physics");
	memset(out, 0, sizeof(out));
	assert_int_equal(lr_policy_labs_of(&p, "alice", groups, 2, out, 4), 3);
	assert_string_equal(out[0]->name, "bio");
	assert_string_equal(out[1]->name, "chem");
	assert_string_equal(out[2]->name, "physics");
	lr_policy_free(&p);
}

static void labs_of_fills_at_most_max(void **state)
{
	struct lr_policy p;
	load_three_labs(&p);
	const struct lr_lab *out[2] = {NULL, (const struct lr_lab *)&out};
	assert_int_equal(lr_policy_labs_of(&p, "alice", NULL, 0, out, 1), 2);
	assert_ptr_equal(out[0], &p.labs[1]);
	assert_ptr_equal(out[1], (const struct lr_lab *)&out); /* untouched */
	lr_policy_free(&p);
}

/* ------------------------------------------------------------ lr_lab_allocation */

static const char alloc_lab[] = "[lab]\n"			  /* 1 */
				"members = alice bob carol\n"	  /* 2 */
				"cores = 16\n"			  /* 3 */
				"memory = 64G\n"		  /* 4 */
				"gpus = 2\n"			  /* 5 */
				"storage = /scratch 1T\n"	  /* 6 */
				"storage = /project 100G\n"	  /* 7 */
				"io-read-bps = /dev/sda 200M\n"	  /* 8 */
				"[defaults]\n"			  /* 9 */
				"cores = 4\n"			  /* 10 */
				"memory = 128G\n"		  /* 11: more than the total */
				"swap = 8G\n"			  /* 12 */
				"storage = /scratch 500G\n"	  /* 13 */
				"storage = /home 50G\n"		  /* 14 */
				"io-write-bps = /dev/sdb 10M\n"	  /* 15 */
				"[member alice]\n"		  /* 16 */
				"cores = 8\n"			  /* 17 */
				"processes = 100\n"		  /* 18 */
				"gpus = unlimited\n"		  /* 19 */
				"storage = /scratch 2T\n"	  /* 20: more than the total */
				"storage = /tmp 5G\n"		  /* 21 */
				"io-read-bps = /dev/sda 100M\n"	  /* 22 */
				"[member bob]\n"		  /* 23 */
				"memory = 16G\n"		  /* 24 */
				"storage = /project unlimited\n"; /* 25 */

static void parse_alloc_lab(struct lr_lab *lab)
{
	struct lr_error err = {0};
	if (parse(lab, alloc_lab, &err) != 0)
		fail_msg("%s", err.msg);
}

static void assert_unlimited_and_unset(const struct lr_limits *l, enum lr_res r)
{
	assert_true(l->set[r]);
	assert_true(l->value[r] == LR_POLICY_UNLIMITED);
	assert_int_equal(l->origin[r].line, 0);
}

static void a_member_without_override_gets_defaults_capped_by_the_total(void **state)
{
	struct lr_lab lab;
	parse_alloc_lab(&lab);
	struct lr_limits out;
	memset(&out, 0xa5, sizeof(out));
	lr_lab_allocation(&lab, "carol", &out);
	assert_value(&lab, &out, LR_RES_CORES, 4, 10, "defaults");
	assert_value(&lab, &out, LR_RES_MEMORY, 64 * GIB, 4, "lab total");
	assert_value(&lab, &out, LR_RES_SWAP, 8 * GIB, 12, "defaults");
	assert_value(&lab, &out, LR_RES_GPUS, 2, 5, "lab total");
	assert_unlimited_and_unset(&out, LR_RES_PROCESSES);
	assert_unlimited_and_unset(&out, LR_RES_TMPFS);
	assert_unlimited_and_unset(&out, LR_RES_IO_WEIGHT);
	assert_unlimited_and_unset(&out, LR_RES_GPU_HOURS);

	assert_int_equal(out.n_storage, 3);
	assert_keyed(&lab, out.storage, out.n_storage, "/scratch", 500 * GIB, 13, "defaults");
	assert_keyed(&lab, out.storage, out.n_storage, "/home", 50 * GIB, 14, "defaults");
	assert_keyed(&lab, out.storage, out.n_storage, "/project", 100 * GIB, 7, "lab total");
	assert_int_equal(out.n_read_bps, 1);
	assert_keyed(&lab, out.read_bps, out.n_read_bps, "/dev/sda", 200 * MIB, 8, "lab total");
	assert_int_equal(out.n_write_bps, 1);
	assert_keyed(&lab, out.write_bps, out.n_write_bps, "/dev/sdb", 10 * MIB, 15, "defaults");
	lr_lab_free(&lab);
}

static void a_member_override_beats_defaults_within_the_total(void **state)
{
	struct lr_lab lab;
	parse_alloc_lab(&lab);
	struct lr_limits out;
	lr_lab_allocation(&lab, "alice", &out);
	assert_value(&lab, &out, LR_RES_CORES, 8, 17, "member");
	assert_value(&lab, &out, LR_RES_PROCESSES, 100, 18, "member");
	assert_value(&lab, &out, LR_RES_GPUS, 2, 5, "lab total"); /* unlimited, capped */
	assert_value(&lab, &out, LR_RES_MEMORY, 64 * GIB, 4, "lab total");
	assert_value(&lab, &out, LR_RES_SWAP, 8 * GIB, 12, "defaults");
	assert_unlimited_and_unset(&out, LR_RES_TMPFS);

	/* The member's keys, then the defaults' other keys, then the total's. */
	assert_int_equal(out.n_storage, 4);
	assert_keyed(&lab, out.storage, out.n_storage, "/scratch", TIB, 6, "lab total");
	assert_keyed(&lab, out.storage, out.n_storage, "/tmp", 5 * GIB, 21, "member");
	assert_keyed(&lab, out.storage, out.n_storage, "/home", 50 * GIB, 14, "defaults");
	assert_keyed(&lab, out.storage, out.n_storage, "/project", 100 * GIB, 7, "lab total");
	assert_int_equal(out.n_read_bps, 1);
	assert_keyed(&lab, out.read_bps, out.n_read_bps, "/dev/sda", 100 * MIB, 22, "member");
	assert_int_equal(out.n_write_bps, 1);
	assert_keyed(&lab, out.write_bps, out.n_write_bps, "/dev/sdb", 10 * MIB, 15, "defaults");
	lr_lab_free(&lab);
}

static void a_member_override_below_the_total_is_kept(void **state)
{
	struct lr_lab lab;
	parse_alloc_lab(&lab);
	struct lr_limits out;
	lr_lab_allocation(&lab, "bob", &out);
	assert_value(&lab, &out, LR_RES_MEMORY, 16 * GIB, 24, "member");
	assert_value(&lab, &out, LR_RES_CORES, 4, 10, "defaults");
	assert_int_equal(out.n_storage, 3);
	assert_keyed(&lab, out.storage, out.n_storage, "/project", 100 * GIB, 7, "lab total");
	assert_keyed(&lab, out.storage, out.n_storage, "/scratch", 500 * GIB, 13, "defaults");
	assert_keyed(&lab, out.storage, out.n_storage, "/home", 50 * GIB, 14, "defaults");
	lr_lab_free(&lab);
}

static void a_lab_without_limits_gives_everything_unlimited(void **state)
{
	struct lr_lab lab;
	struct lr_error err = {0};
	assert_int_equal(parse(&lab, "[lab]\nmembers = a\n", &err), 0);
	struct lr_limits out;
	lr_lab_allocation(&lab, "a", &out);
	for (enum lr_res r = 0; r < LR_RES_COUNT; r++)
		assert_unlimited_and_unset(&out, r);
	assert_int_equal(out.n_read_bps + out.n_write_bps + out.n_storage, 0);
	lr_lab_free(&lab);
}

/* An allocation has room for the member's, the defaults' and the total's
 * keys: the total's cap on a path is never dropped for lack of room. */
static void the_total_caps_a_path_even_when_the_member_sets_the_most_paths(void **state)
{
	char text[4096] = "[lab]\nmembers = a\nstorage = /capped 1G\n[member a]\n";
	for (int i = 0; i < LR_POLICY_MAX_PATHS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "storage = /m%d 1T\n",
			 i);
	struct lr_lab lab;
	struct lr_error err = {0};
	if (parse(&lab, text, &err) < 0)
		return; /* refusing the lab is a fix too */
	struct lr_limits out;
	lr_lab_allocation(&lab, "a", &out);
	const struct lr_keyed *k = find_keyed(out.storage, out.n_storage, "/capped");
	bool capped = k && k->value == GIB && k->origin.line == 3;
	lr_lab_free(&lab);
	if (!capped)
		fail_msg("member a has no limit on /capped, the lab's total is 1G (line 3)");
}

/* ------------------------------------------------------------ lr_limits_min */

static void set(struct lr_limits *l, enum lr_res r, uint64_t v, unsigned line, const char *scope)
{
	l->set[r] = true;
	l->value[r] = v;
	l->origin[r] = (struct lr_origin){"f", line, scope};
}

static void min_takes_the_smaller_of_each_value_and_its_origin(void **state)
{
	struct lr_limits a = {0}, b = {0}, out;
	set(&a, LR_RES_CORES, 8, 1, "member");
	set(&b, LR_RES_CORES, 4, 2, "step");
	set(&a, LR_RES_MEMORY, 64 * GIB, 3, "member");
	set(&b, LR_RES_MEMORY, 128 * GIB, 4, "step");
	set(&a, LR_RES_SWAP, LR_POLICY_UNLIMITED, 0, NULL);
	set(&b, LR_RES_SWAP, GIB, 5, "step");
	set(&a, LR_RES_GPUS, 2, 6, "member");
	set(&b, LR_RES_GPUS, 2, 7, "step");
	set(&b, LR_RES_IO_WEIGHT, 50, 8, "step");    /* not set in a */
	set(&a, LR_RES_PROCESSES, 100, 9, "member"); /* not set in b */
	lr_limits_min(&a, &b, &out);

	assert_true(out.value[LR_RES_CORES] == 4);
	assert_int_equal(out.origin[LR_RES_CORES].line, 2);
	assert_true(out.value[LR_RES_MEMORY] == 64 * GIB);
	assert_int_equal(out.origin[LR_RES_MEMORY].line, 3);
	assert_true(out.value[LR_RES_SWAP] == GIB);
	assert_string_equal(out.origin[LR_RES_SWAP].scope, "step");
	assert_true(out.value[LR_RES_GPUS] == 2); /* a tie: either origin is right */
	assert_true(out.set[LR_RES_IO_WEIGHT] && out.value[LR_RES_IO_WEIGHT] == 50);
	assert_int_equal(out.origin[LR_RES_IO_WEIGHT].line, 8);
	assert_true(out.set[LR_RES_PROCESSES] && out.value[LR_RES_PROCESSES] == 100);
	assert_int_equal(out.origin[LR_RES_PROCESSES].line, 9);
	assert_false(out.set[LR_RES_TMPFS]);
	assert_false(out.set[LR_RES_GPU_HOURS]);
}

static void min_with_nothing_set_in_b_is_a(void **state)
{
	struct lr_lab lab;
	parse_alloc_lab(&lab);
	struct lr_limits a, b = {0}, out;
	lr_lab_allocation(&lab, "alice", &a);
	lr_limits_min(&a, &b, &out);
	for (enum lr_res r = 0; r < LR_RES_COUNT; r++) {
		assert_true(out.set[r]);
		assert_true(out.value[r] == a.value[r]);
		assert_int_equal(out.origin[r].line, a.origin[r].line);
	}
	assert_int_equal(out.n_storage, a.n_storage);
	lr_lab_free(&lab);
}

static void min_may_write_over_its_input(void **state)
{
	struct lr_limits a = {0}, b = {0};
	set(&a, LR_RES_CORES, 8, 1, "member");
	set(&b, LR_RES_CORES, 4, 2, "step");
	set(&b, LR_RES_MEMORY, GIB, 3, "step");
	lr_limits_min(&a, &b, &a);
	assert_true(a.value[LR_RES_CORES] == 4 && a.value[LR_RES_MEMORY] == GIB);
	assert_int_equal(a.origin[LR_RES_CORES].line, 2);
}

/* ------------------------------------------------------------ lr_res_format */

static void assert_format(enum lr_res r, uint64_t v, const char *want)
{
	char buf[32];
	lr_res_format(r, v, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void formats_counts_sizes_and_unlimited(void **state)
{
	assert_format(LR_RES_CORES, 8, "8");
	assert_format(LR_RES_GPU_HOURS, 1000000000, "1000000000");
	assert_format(LR_RES_GPUS, 0, "0");
	assert_format(LR_RES_IO_WEIGHT, 1024, "1024"); /* a count, never "1K" */
	assert_format(LR_RES_MEMORY, 64 * GIB, "64G");
	assert_format(LR_RES_TMPFS, 512 * MIB, "512M");
	assert_format(LR_RES_SWAP, 1536 * MIB, "1536M");
	assert_format(LR_RES_MEMORY, 2 * TIB, "2T");
	assert_format(LR_RES_MEMORY, 1000, "1000");
	assert_format(LR_RES_MEMORY, 0, "0");
	assert_format(LR_RES_CORES, LR_POLICY_UNLIMITED, "unlimited");
	assert_format(LR_RES_MEMORY, LR_POLICY_UNLIMITED, "unlimited");
	char small[4];
	lr_res_format(LR_RES_MEMORY, LR_POLICY_UNLIMITED, small, sizeof(small));
	assert_string_equal(small, "unl"); /* truncated, terminated */
}

static void names_each_resource_as_its_key(void **state)
{
	static const char *const names[LR_RES_COUNT] = {"cores",     "memory",	  "swap",
							"gpus",	     "processes", "tmpfs-size",
							"io-weight", "gpu-hours"};
	static const bool sizes[LR_RES_COUNT] = {false, true, true,  false,
						 false, true, false, false};
	for (enum lr_res r = 0; r < LR_RES_COUNT; r++) {
		assert_string_equal(lr_res_name(r), names[r]);
		assert_int_equal(lr_res_is_size(r), sizes[r]);
	}
}

int main(void)
{
	cmocka_set_message_output(CM_OUTPUT_TAP);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_every_key_value_and_origin),
		cmocka_unit_test(parses_zero_and_unlimited_for_every_resource),
		cmocka_unit_test(accepts_the_limits_of_each_count),
		cmocka_unit_test(a_member_section_alone_with_members_in_lab_is_enough),
		cmocka_unit_test(the_lab_is_named_after_its_file),
		cmocka_unit_test(rejects_a_key_before_any_section),
		cmocka_unit_test(rejects_an_unknown_key),
		cmocka_unit_test(rejects_a_line_without_equals),
		cmocka_unit_test(rejects_an_unknown_section),
		cmocka_unit_test(rejects_a_member_section_without_exactly_one_name),
		cmocka_unit_test(rejects_a_second_lab_section),
		cmocka_unit_test(rejects_a_second_defaults_section),
		cmocka_unit_test(rejects_a_second_section_for_one_member),
		cmocka_unit_test(rejects_a_key_set_twice_in_one_section),
		cmocka_unit_test(a_key_may_be_set_once_in_each_section),
		cmocka_unit_test(rejects_members_outside_the_lab_section),
		cmocka_unit_test(rejects_a_bad_user_or_group_name),
		cmocka_unit_test(accepts_dollar_at_the_end_and_32_characters),
		cmocka_unit_test(rejects_a_member_listed_twice),
		cmocka_unit_test(a_user_and_a_group_may_share_a_name),
		cmocka_unit_test(rejects_an_empty_members_line),
		cmocka_unit_test(rejects_bad_numbers),
		cmocka_unit_test(rejects_a_device_or_path_without_a_size),
		cmocka_unit_test(rejects_a_relative_path),
		cmocka_unit_test(rejects_a_device_outside_dev),
		cmocka_unit_test(rejects_dot_and_dotdot_components),
		cmocka_unit_test(rejects_a_final_dot_or_dotdot_component),
		cmocka_unit_test(accepts_names_that_merely_contain_dots),
		cmocka_unit_test(paths_and_devices_have_one_spelling),
		cmocka_unit_test(rejects_more_devices_or_paths_than_the_limit),
		cmocka_unit_test(rejects_a_lab_without_members),
		cmocka_unit_test(rejects_a_nul_byte),
		cmocka_unit_test(rejects_a_line_longer_than_the_limit),
		cmocka_unit_test(rejects_a_file_larger_than_the_limit),
		cmocka_unit_test(rejects_a_file_name_that_is_not_a_lab_name),
		cmocka_unit_test(the_first_error_wins_and_nothing_is_kept),
		cmocka_unit_test(the_example_lab_parses),
		cmocka_unit_test(free_accepts_null_zeroed_and_freed),
		cmocka_unit_test(load_sorts_labs_by_name),
		cmocka_unit_test(load_ignores_files_not_ending_in_conf_and_dotfiles),
		cmocka_unit_test(load_of_an_empty_directory_is_an_empty_policy),
		cmocka_unit_test(load_refuses_the_whole_directory_for_one_broken_file),
		cmocka_unit_test(load_of_a_missing_directory_is_empty_when_missing_ok),
		cmocka_unit_test(load_of_a_missing_directory_fails_otherwise),
		cmocka_unit_test(load_refuses_a_conf_that_is_a_directory),
		cmocka_unit_test(load_refuses_a_conf_that_is_a_symlink),
		cmocka_unit_test(load_refuses_a_file_larger_than_the_limit),
		cmocka_unit_test(load_refuses_a_lab_file_anyone_can_write),
		cmocka_unit_test(load_refuses_a_policy_directory_others_can_write),
		cmocka_unit_test(load_refuses_a_directory_above_that_others_can_write),
		cmocka_unit_test(load_follows_a_trusted_symlink_and_checks_where_it_leads),
		cmocka_unit_test(load_as_root_refuses_files_of_other_users),
		cmocka_unit_test(load_refuses_a_fifo_without_blocking),
		cmocka_unit_test(a_control_character_in_a_value_is_refused_and_shown_escaped),
		cmocka_unit_test(a_file_name_with_control_characters_is_shown_escaped),
		cmocka_unit_test(a_user_listed_by_name_is_a_member),
		cmocka_unit_test(a_user_in_a_listed_group_is_a_member),
		cmocka_unit_test(others_are_not_members),
		cmocka_unit_test(a_user_in_two_labs_gets_both),
		cmocka_unit_test(labs_of_fills_at_most_max),
		cmocka_unit_test(a_member_without_override_gets_defaults_capped_by_the_total),
		cmocka_unit_test(a_member_override_beats_defaults_within_the_total),
		cmocka_unit_test(a_member_override_below_the_total_is_kept),
		cmocka_unit_test(a_lab_without_limits_gives_everything_unlimited),
		cmocka_unit_test(the_total_caps_a_path_even_when_the_member_sets_the_most_paths),
		cmocka_unit_test(min_takes_the_smaller_of_each_value_and_its_origin),
		cmocka_unit_test(min_with_nothing_set_in_b_is_a),
		cmocka_unit_test(min_may_write_over_its_input),
		cmocka_unit_test(formats_counts_sizes_and_unlimited),
		cmocka_unit_test(names_each_resource_as_its_key),
	};
	return cmocka_run_group_tests_name("policy", tests, setup_dir, remove_dir);
}
