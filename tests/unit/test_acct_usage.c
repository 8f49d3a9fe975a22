/* test_acct_usage.c - the arithmetic and formatting of the labs'
 * GPU-hours (lib/quota/acct_usage.c): the month's window, jobs clipped to
 * it, hours and budgets as users read them, the JSON of a row.  Pure;
 * runs as any user. */
#include "build-config.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acct_usage.h"

#define NONE LR_ACCT_NONE
/* 2026-12-08 03:10:00 UTC, and the 1st of that month at midnight UTC. */
#define NOW ((time_t)1796699400)
#define DEC1 ((time_t)1796083200)

static void the_month_starts_at_midnight_utc_of_the_first(void **state)
{
	struct lr_acct_window w;
	lr_acct_month_window(NOW, &w);
	assert_int_equal(w.start, DEC1);
	assert_int_equal(w.end, NOW);
	/* At the first second of a month, the window is empty. */
	lr_acct_month_window(DEC1, &w);
	assert_int_equal(w.start, DEC1);
	assert_int_equal(w.end, DEC1);
}

static void a_job_inside_the_window_counts_whole(void **state)
{
	struct lr_acct_window w = {DEC1, NOW};
	assert_int_equal(lr_acct_clip(DEC1 + 100, DEC1 + 160, &w), 60);
}

static void a_job_from_last_month_counts_from_the_first(void **state)
{
	struct lr_acct_window w = {DEC1, NOW};
	assert_int_equal(lr_acct_clip(DEC1 - 3600, DEC1 + 60, &w), 60);
	assert_int_equal(lr_acct_clip(DEC1 - 3600, DEC1 - 60, &w), 0);
}

static void a_running_job_counts_until_now(void **state)
{
	struct lr_acct_window w = {DEC1, NOW};
	assert_int_equal(lr_acct_clip(NOW - 90, 0, &w), 90);
	/* An end past now (a clock ahead) counts to now only. */
	assert_int_equal(lr_acct_clip(NOW - 90, NOW + 50, &w), 90);
}

static void a_job_that_never_started_counts_nothing(void **state)
{
	struct lr_acct_window w = {DEC1, NOW};
	assert_int_equal(lr_acct_clip(0, 0, &w), 0);
	assert_int_equal(lr_acct_clip(0, DEC1 + 10, &w), 0);
}

static struct lr_acct_usage two_labs(void)
{
	struct lr_acct_usage u = {.window = {DEC1, NOW}, .n = 4};
	u.rows = calloc(4, sizeof(*u.rows));
	assert_non_null(u.rows);
	const char *acct[] = {"physics", "bio", "physics", "physics"};
	const char *user[] = {"bob", NULL, NULL, "alice"};
	for (int i = 0; i < 4; i++) {
		u.rows[i].account = strdup(acct[i]);
		u.rows[i].user = user[i] ? strdup(user[i]) : NULL;
		u.rows[i].limits = (struct lr_acct_limits){NONE, NONE, NONE, NONE};
	}
	return u;
}

static void a_job_counts_for_its_member_and_its_lab(void **state)
{
	struct lr_acct_usage u = two_labs();
	lr_acct_usage_sort(&u);
	/* 2 GPUs for 60 s by alice, 1 for 30 s by carol (no association of
	 * her own: the lab's only), a CPU job, another lab's job. */
	lr_acct_usage_add(&u, "physics", "alice", 2, DEC1 + 10, DEC1 + 70);
	lr_acct_usage_add(&u, "Physics", "carol", 1, DEC1 + 10, DEC1 + 40);
	lr_acct_usage_add(&u, "physics", "alice", 0, DEC1 + 10, DEC1 + 1000);
	lr_acct_usage_add(&u, "bio", "bob", 1, DEC1, DEC1 + 5);
	assert_string_equal(u.rows[0].account, "bio");
	assert_null(u.rows[0].user);
	assert_int_equal(u.rows[0].gpu_secs, 5);
	assert_string_equal(u.rows[1].account, "physics");
	assert_null(u.rows[1].user);
	assert_int_equal(u.rows[1].gpu_secs, 150);
	assert_string_equal(u.rows[2].user, "alice");
	assert_int_equal(u.rows[2].gpu_secs, 120);
	assert_string_equal(u.rows[3].user, "bob");
	assert_int_equal(u.rows[3].gpu_secs, 0);
	lr_acct_usage_free(&u);
}

static void hours_are_rounded_down_to_hundredths(void **state)
{
	char b[32];
	lr_acct_hours_text(0, b, sizeof(b));
	assert_string_equal(b, "0.00");
	lr_acct_hours_text(35, b, sizeof(b));
	assert_string_equal(b, "0.00");
	lr_acct_hours_text(36, b, sizeof(b));
	assert_string_equal(b, "0.01");
	lr_acct_hours_text(3600 * 12 + 1800, b, sizeof(b));
	assert_string_equal(b, "12.50");
}

static void used_is_shown_against_the_budget(void **state)
{
	char b[96];
	lr_acct_used_text(72, 60, b, sizeof(b));
	assert_string_equal(b, "0.02 of 1 (2%)");
	lr_acct_used_text(5400, 90, b, sizeof(b));
	assert_string_equal(b, "1.50 of 1.50 (100%)");
	lr_acct_used_text(7200, 60, b, sizeof(b));
	assert_string_equal(b, "2.00 of 1 (200%)");
	lr_acct_used_text(72, NONE, b, sizeof(b));
	assert_string_equal(b, "0.02 (no budget)");
	lr_acct_used_text(0, 0, b, sizeof(b));
	assert_string_equal(b, "0.00 of 0");
}

static void times_are_shown_in_utc(void **state)
{
	char b[64];
	lr_acct_time_text(DEC1, b, sizeof(b));
	assert_string_equal(b, "2026-12-01 00:00 UTC");
}

static void a_row_as_json_has_its_numbers_and_nulls_for_unlimited(void **state)
{
	struct lr_acct_usage_row r = {.account = "physics",
				      .user = "alice",
				      .gpu_secs = 720,
				      .limits = {8, 65536, NONE, 60}};
	json_t *j = lr_acct_usage_row_json(&r);
	assert_non_null(j);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
	assert_string_equal(s, "{\"account\":\"physics\",\"cores\":8,\"gpu_hours\":0.2,"
			       "\"gpu_hours_budget\":1.0,\"gpu_seconds\":720,\"gpus\":null,"
			       "\"memory_mb\":65536,\"percent\":20.0,\"user\":\"alice\"}");
	free(s);
	json_decref(j);
	struct lr_acct_usage_row lab = {.account = "physics", .limits = {NONE, NONE, NONE, NONE}};
	j = lr_acct_usage_row_json(&lab);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
	assert_string_equal(s, "{\"account\":\"physics\",\"cores\":null,\"gpu_hours\":0.0,"
			       "\"gpu_hours_budget\":null,\"gpu_seconds\":0,\"gpus\":null,"
			       "\"memory_mb\":null,\"percent\":null,\"user\":null}");
	free(s);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_month_starts_at_midnight_utc_of_the_first),
		cmocka_unit_test(a_job_inside_the_window_counts_whole),
		cmocka_unit_test(a_job_from_last_month_counts_from_the_first),
		cmocka_unit_test(a_running_job_counts_until_now),
		cmocka_unit_test(a_job_that_never_started_counts_nothing),
		cmocka_unit_test(a_job_counts_for_its_member_and_its_lab),
		cmocka_unit_test(hours_are_rounded_down_to_hundredths),
		cmocka_unit_test(used_is_shown_against_the_budget),
		cmocka_unit_test(times_are_shown_in_utc),
		cmocka_unit_test(a_row_as_json_has_its_numbers_and_nulls_for_unlimited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
