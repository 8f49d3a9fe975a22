/* test_cgread.c - reading cgroup state without libcgroup (lib/quota/cgread.c):
 * limit values as the kernel shows them, and the caller's own cgroups
 * from /proc/self/cgroup, checked against the file read here line by
 * line.  Runs as any user on any host. */
#include "build-config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgread.h"

static void unlimited_values_are_uint64_max(void **state)
{
	(void)state;
	assert_true(lr_cgread_value("max") == UINT64_MAX);
	assert_true(lr_cgread_value("max\n") == UINT64_MAX);
	assert_true(lr_cgread_value("-1") == UINT64_MAX);
	/* v1's memory.limit_in_bytes when unlimited: LONG_MAX rounded down
	 * to a page. */
	assert_true(lr_cgread_value("9223372036854771712\n") == UINT64_MAX);
}

static void numbers_are_their_value_and_text_is_zero(void **state)
{
	(void)state;
	assert_true(lr_cgread_value("314572800\n") == 314572800);
	assert_true(lr_cgread_value("0") == 0);
	assert_true(lr_cgread_value("lots") == 0);
	assert_true(lr_cgread_value("") == 0);
}

/* The first line of /proc/self/cgroup naming ctrl among its controllers
 * ("" for v2's line), read independently of lib/quota/cgread.c. */
static int expected(const char *ctrl, char *path, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	int r = -ENOENT;
	while (r < 0 && f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		if (!b)
			continue;
		*b = '\0';
		char list[512];
		snprintf(list, sizeof(list), ",%s,", a + 1);
		char want[64];
		snprintf(want, sizeof(want), ",%s,", ctrl);
		if (*ctrl ? strstr(list, want) != NULL : !a[1]) {
			snprintf(path, len, "%s", b + 1);
			r = 0;
		}
	}
	if (f)
		fclose(f);
	return r;
}

static void the_callers_cgroups_are_found_per_controller(void **state)
{
	(void)state;
	static const char *const ctrls[] = {"", "memory", "cpu", "cpuacct", "pids", "freezer"};
	for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++) {
		char want[4096], got[4096];
		int e = expected(ctrls[i], want, sizeof(want));
		int r = lr_cgread_self(ctrls[i], got, sizeof(got));
		assert_int_equal(r, e);
		if (e == 0)
			assert_string_equal(got, want);
	}
	char path[4096];
	assert_int_equal(lr_cgread_self("no-such-controller", path, sizeof(path)), -ENOENT);
	/* Part of a name is not the name. */
	assert_int_equal(lr_cgread_self("mem", path, sizeof(path)), -ENOENT);
}

static void a_path_too_long_for_the_buffer_is_an_error(void **state)
{
	(void)state;
	char path[1];
	char want[4096];
	if (expected("", want, sizeof(want)) < 0)
		skip(); /* no cgroup v2 line here */
	assert_int_equal(lr_cgread_self("", path, sizeof(path)), -ENAMETOOLONG);
}

static int count_lines(const char *ctrl, const char *path, void *ctx)
{
	(void)ctrl;
	(void)path;
	(*(int *)ctx)++;
	return 0;
}

static int stop_at_second(const char *ctrl, const char *path, void *ctx)
{
	(void)ctrl;
	(void)path;
	return ++(*(int *)ctx) == 2 ? 7 : 0;
}

static void each_line_is_visited_until_one_says_stop(void **state)
{
	(void)state;
	int lines = 0;
	assert_int_equal(lr_cgread_self_each(count_lines, &lines), 0);
	assert_true(lines >= 1);
	int seen = 0;
	if (lines >= 2) {
		assert_int_equal(lr_cgread_self_each(stop_at_second, &seen), 7);
		assert_int_equal(seen, 2);
	}
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* memory.events (v2) first; memory.oom_control (v1) without it. */
static void oom_kills_come_from_v2_events_else_v1_oom_control(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_cgread.XXXXXX";
	assert_non_null(mkdtemp(dir));
	uint64_t n = 99;
	assert_int_equal(lr_cgread_oom_kills(AT_FDCWD, dir, &n), -ENOENT);
	assert_int_equal(n, 99);
	write_file(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
	assert_int_equal(lr_cgread_oom_kills(AT_FDCWD, dir, &n), 0);
	assert_int_equal(n, 3);
	write_file(dir, "memory.events",
		   "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(lr_cgread_oom_kills(dfd, ".", &n), 0);
	assert_int_equal(n, 2);
	/* "oom_group_kill" is not "oom_kill"; a file without one is -ENOENT. */
	char path[256];
	snprintf(path, sizeof(path), "%s/memory.oom_control", dir);
	unlink(path);
	write_file(dir, "memory.events", "oom_group_kill 5\n");
	assert_int_equal(lr_cgread_oom_kills(dfd, ".", &n), -ENOENT);
	write_file(dir, "memory.events", "oom_kill x\n");
	assert_int_equal(lr_cgread_oom_kills(dfd, ".", &n), -EINVAL);
	close(dfd);
	snprintf(path, sizeof(path), "%s/memory.events", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unlimited_values_are_uint64_max),
		cmocka_unit_test(numbers_are_their_value_and_text_is_zero),
		cmocka_unit_test(the_callers_cgroups_are_found_per_controller),
		cmocka_unit_test(a_path_too_long_for_the_buffer_is_an_error),
		cmocka_unit_test(each_line_is_visited_until_one_says_stop),
		cmocka_unit_test(oom_kills_come_from_v2_events_else_v1_oom_control),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
