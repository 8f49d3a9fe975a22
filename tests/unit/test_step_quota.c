/* test_step_quota.c - a lab member's quota against a Slurm step
 * (lib/quota/step_quota.c, lr_step_quota_check()): a step over the member's
 * cores or GPUs is refused with a message naming the lab, the allowance and
 * the step's count; one within it runs, narrowed to the member's memory.
 *
 * The policies are lab files in a temporary directory naming the user who
 * runs the test (getpwuid(getuid())); the step's resources are given, not
 * read from cgroups (lr_step_resources_read is tested under Slurm,
 * tests/slurm/).  Runs as any user; the unreadable-policy test needs a
 * user that file permissions hold back, and skips as root.
 */
#include "build-config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "step_quota.h"

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)

static char tmp[] = "/tmp/labrun-test-step-quota.XXXXXX";
static char user[256];

static int setup_dir(void **state)
{
	(void)state;
	struct passwd *pw = getpwuid(getuid());
	if (!pw || !mkdtemp(tmp))
		return -1;
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	return 0;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* A new policy directory, tmp/N, for one test. */
static const char *policy_dir(void)
{
	static char dir[PATH_MAX];
	static int n;
	snprintf(dir, sizeof(dir), "%s/%d", tmp, ++n);
	assert_int_equal(mkdir(dir, 0755), 0);
	return dir;
}

/* dir/LAB.conf holding text, where every "%s" is the user's name. */
static void write_lab(const char *dir, const char *lab, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.conf", dir, lab);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (const char *p = text; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			fputs(user, f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	assert_int_equal(fclose(f), 0);
}

/* The lab of the brief: one core, one GPU, 300M for each member. */
static const char *const lrtest = "[lab]\n"
				  "members = %s\n"
				  "[defaults]\n"
				  "cores = 1\n"
				  "gpus = 1\n"
				  "memory = 300M\n";

static const char *lrtest_dir(void)
{
	const char *dir = policy_dir();
	write_lab(dir, "lrtest", lrtest);
	return dir;
}

/* What a call that fails must leave as it was. */
static const struct lr_step_quota untouched = {.applies = true,
					       .lab = "untouched",
					       .memory_limit = 12345,
					       .has_tmpfs = true,
					       .tmpfs_size = 678};

/* Field by field: a struct copy need not keep the padding. */
static void assert_untouched(const struct lr_step_quota *q)
{
	assert_true(q->applies);
	assert_string_equal(q->lab, untouched.lab);
	assert_int_equal(q->memory_limit, untouched.memory_limit);
	assert_true(q->has_tmpfs);
	assert_int_equal(q->tmpfs_size, untouched.tmpfs_size);
}

static void assert_says(const struct lr_error *err, const char *part)
{
	if (!strstr(err->msg, part))
		fail_msg("'%s' does not say '%s'", err->msg, part);
}

/* lr_step_quota_check of a step of cpus, gpus and memory, which must pass. */
static struct lr_step_quota check_ok(const char *dir, const char *want, unsigned cpus, size_t gpus,
				     uint64_t memory)
{
	struct lr_step_resources r = {.cores = cpus, .gpus = gpus, .memory = memory};
	struct lr_step_quota q = untouched;
	struct lr_error err = {0};
	int e = lr_step_quota_check(dir, user, want, &r, &q, &err);
	if (e != 0)
		fail_msg("lr_step_quota_check: %d: %s", e, err.msg);
	return q;
}

/* ... which must fail with -code, saying part. */
static void check_fails(const char *dir, const char *want, unsigned cpus, size_t gpus,
			uint64_t memory, int code, const char *part)
{
	struct lr_step_resources r = {.cores = cpus, .gpus = gpus, .memory = memory};
	struct lr_step_quota q = untouched;
	struct lr_error err = {0};
	int e = lr_step_quota_check(dir, user, want, &r, &q, &err);
	if (e != -code)
		fail_msg("lr_step_quota_check: %d (%s), not %d", e, err.msg, -code);
	assert_says(&err, part);
	assert_null(strchr(err.msg, '\n'));
	assert_untouched(&q);
}

/* ------------------------------------------------------------ membership */

static void a_user_in_no_lab_is_neither_checked_nor_narrowed(void **state)
{
	(void)state;
	const char *dir = policy_dir();
	write_lab(dir, "lrtest",
		  "[lab]\nmembers = labrun-nobody-else\n[defaults]\ncores = 1\ngpus = 1\n"
		  "memory = 300M\ntmpfs-size = 1G\n");
	struct lr_step_quota q = check_ok(dir, NULL, 64, 8, 0);
	assert_false(q.applies);
	assert_string_equal(q.lab, "");
	assert_int_equal(q.memory_limit, 0);
	assert_false(q.has_tmpfs);
}

static void without_a_policy_directory_nothing_applies(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/none", tmp);
	struct lr_step_quota q = check_ok(dir, NULL, 64, 8, 0);
	assert_false(q.applies);
	assert_int_equal(q.memory_limit, 0);
}

/* ------------------------------------------------------------ within */

static void a_step_within_quota_is_narrowed_to_the_members_memory(void **state)
{
	(void)state;
	struct lr_step_quota q = check_ok(lrtest_dir(), NULL, 1, 1, 1 * GIB);
	assert_true(q.applies);
	assert_string_equal(q.lab, "lrtest");
	assert_int_equal(q.memory_limit, 300 * MIB);
	assert_false(q.has_tmpfs);
}

static void a_step_without_a_memory_limit_gets_the_members(void **state)
{
	(void)state;
	struct lr_step_quota q = check_ok(lrtest_dir(), NULL, 1, 0, 0);
	assert_true(q.applies);
	assert_int_equal(q.memory_limit, 300 * MIB);
}

static void a_step_with_less_memory_than_the_member_keeps_its_own(void **state)
{
	(void)state;
	const char *dir = lrtest_dir();
	struct lr_step_quota q = check_ok(dir, NULL, 1, 1, 100 * MIB);
	assert_true(q.applies);
	assert_int_equal(q.memory_limit, 0);
	q = check_ok(dir, NULL, 1, 1, 300 * MIB);
	assert_int_equal(q.memory_limit, 0);
}

static void a_lab_without_limits_lets_any_step_through(void **state)
{
	(void)state;
	const char *dir = policy_dir();
	write_lab(dir, "open", "[lab]\nmembers = %s\n");
	struct lr_step_quota q = check_ok(dir, NULL, 1024, 64, 0);
	assert_true(q.applies);
	assert_string_equal(q.lab, "open");
	assert_int_equal(q.memory_limit, 0);
	assert_false(q.has_tmpfs);
}

static void the_members_own_section_counts_over_the_defaults(void **state)
{
	(void)state;
	const char *dir = policy_dir();
	write_lab(dir, "lrtest",
		  "[lab]\nmembers = %s\n[defaults]\ncores = 1\nmemory = 300M\n"
		  "[member %s]\ncores = 4\nmemory = 2G\n");
	struct lr_step_quota q = check_ok(dir, NULL, 4, 0, 8 * GIB);
	assert_int_equal(q.memory_limit, 2 * GIB);
	check_fails(dir, NULL, 5, 0, 0, EDQUOT, "allows you 4 cores");
}

static void the_members_tmpfs_cap_is_passed_on(void **state)
{
	(void)state;
	const char *dir = policy_dir();
	write_lab(dir, "lrtest", "[lab]\nmembers = %s\n[defaults]\ntmpfs-size = 2G\n");
	struct lr_step_quota q = check_ok(dir, NULL, 1, 0, 0);
	assert_true(q.has_tmpfs);
	assert_int_equal(q.tmpfs_size, 2 * GIB);

	dir = policy_dir();
	write_lab(dir, "lrtest", "[lab]\nmembers = %s\n[defaults]\ntmpfs-size = unlimited\n");
	q = check_ok(dir, NULL, 1, 0, 0);
	assert_false(q.has_tmpfs);
}

static void the_members_processes_are_passed_on(void **state)
{
	(void)state;
	const char *dir = policy_dir();
	write_lab(dir, "lrtest", "[lab]\nmembers = %s\n[defaults]\nprocesses = 50\n");
	struct lr_step_quota q = check_ok(dir, NULL, 1, 0, 0);
	assert_int_equal(q.processes, 50);

	dir = policy_dir();
	write_lab(dir, "lrtest", "[lab]\nmembers = %s\n[defaults]\nprocesses = unlimited\n");
	q = check_ok(dir, NULL, 1, 0, 0);
	assert_int_equal(q.processes, 0);
}

/* ------------------------------------------------------------ over */

static void more_cores_than_the_member_has_are_refused(void **state)
{
	(void)state;
	check_fails(lrtest_dir(), NULL, 2, 1, 0, EDQUOT,
		    "lab lrtest allows you 1 cores, and this step has 2 on this node");
}

static void more_gpus_than_the_member_has_are_refused(void **state)
{
	(void)state;
	check_fails(lrtest_dir(), NULL, 1, 2, 0, EDQUOT,
		    "lab lrtest allows you 1 GPUs, and this step has 2 on this node");
}

static void the_labs_total_caps_the_member(void **state)
{
	(void)state;
	const char *dir = policy_dir();
	write_lab(dir, "lrtest", "[lab]\nmembers = %s\ncores = 2\n[defaults]\ncores = 8\n");
	check_ok(dir, NULL, 2, 0, 0);
	check_fails(dir, NULL, 3, 0, 0, EDQUOT, "lab lrtest allows you 2 cores");
}

/* ------------------------------------------------------------ policy errors */

static void a_broken_policy_refuses_the_step(void **state)
{
	(void)state;
	const char *dir = policy_dir();
	write_lab(dir, "lrtest", "[lab]\nmembers = %s\n[defaults]\ncores = lots\n");
	check_fails(dir, NULL, 1, 0, 0, EINVAL, "lrtest.conf:4:");
	check_fails(dir, NULL, 1, 0, 0, EINVAL, "policy is broken");
}

static void an_unreadable_policy_refuses_the_step(void **state)
{
	(void)state;
	const char *dir = lrtest_dir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/lrtest.conf", dir);
	assert_int_equal(chmod(path, 0), 0);
	if (geteuid() != 0) {
		check_fails(dir, NULL, 1, 0, 0, EACCES, "cannot be read");
		return;
	}
	/* Root reads a file of mode 0 all the same: check as nobody, in a
	 * child, with the directories open to it: only the file is not. */
	assert_int_equal(chmod(tmp, 0755), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(3);
		struct lr_step_resources r = {.cores = 1};
		struct lr_step_quota q = untouched;
		struct lr_error err = {0};
		int e = lr_step_quota_check(dir, user, NULL, &r, &q, &err);
		_exit(e == -EACCES && strstr(err.msg, "cannot be read") ? 0 : 1);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void a_member_of_two_labs_must_choose_one(void **state)
{
	(void)state;
	const char *dir = policy_dir();
	write_lab(dir, "bio", lrtest);
	write_lab(dir, "astro", "[lab]\nmembers = other, %s\n[defaults]\nmemory = 500M\n");
	check_fails(dir, NULL, 1, 0, 0, EINVAL, "several labs (astro, bio)");
}

static void want_chooses_one_of_the_members_labs(void **state)
{
	(void)state;
	const char *dir = policy_dir();
	write_lab(dir, "bio", lrtest);
	write_lab(dir, "astro", "[lab]\nmembers = other, %s\n[defaults]\nmemory = 500M\n");
	struct lr_step_quota q = check_ok(dir, "astro", 4, 2, 0);
	assert_true(q.applies);
	assert_string_equal(q.lab, "astro");
	assert_int_equal(q.memory_limit, 500 * MIB);
	q = check_ok(dir, "bio", 1, 1, 0);
	assert_string_equal(q.lab, "bio");
	assert_int_equal(q.memory_limit, 300 * MIB);
	check_fails(dir, "bio", 2, 1, 0, EDQUOT, "lab bio allows you 1 cores");
}

static void want_naming_a_lab_the_user_is_not_in_is_refused(void **state)
{
	(void)state;
	const char *dir = lrtest_dir();
	write_lab(dir, "other", "[lab]\nmembers = labrun-nobody-else\n");
	check_fails(dir, "other", 1, 0, 0, ENOENT, "not a member of that lab");
	check_fails(dir, "nosuch", 1, 0, 0, ENOENT, "not a member of that lab");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_user_in_no_lab_is_neither_checked_nor_narrowed),
		cmocka_unit_test(without_a_policy_directory_nothing_applies),
		cmocka_unit_test(a_step_within_quota_is_narrowed_to_the_members_memory),
		cmocka_unit_test(a_step_without_a_memory_limit_gets_the_members),
		cmocka_unit_test(a_step_with_less_memory_than_the_member_keeps_its_own),
		cmocka_unit_test(a_lab_without_limits_lets_any_step_through),
		cmocka_unit_test(the_members_own_section_counts_over_the_defaults),
		cmocka_unit_test(the_members_tmpfs_cap_is_passed_on),
		cmocka_unit_test(the_members_processes_are_passed_on),
		cmocka_unit_test(more_cores_than_the_member_has_are_refused),
		cmocka_unit_test(more_gpus_than_the_member_has_are_refused),
		cmocka_unit_test(the_labs_total_caps_the_member),
		cmocka_unit_test(a_broken_policy_refuses_the_step),
		cmocka_unit_test(an_unreadable_policy_refuses_the_step),
		cmocka_unit_test(a_member_of_two_labs_must_choose_one),
		cmocka_unit_test(want_chooses_one_of_the_members_labs),
		cmocka_unit_test(want_naming_a_lab_the_user_is_not_in_is_refused),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
