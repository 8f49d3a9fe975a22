/* acct_usage.h - the GPU-hours the labs used this month, against their
 * budgets in Slurm's accounting, as `labrun-policy usage` and `labrun
 * --quota` show them (issue 14, item 4).
 *
 * The usage is summed from the job records of the month (each job's
 * allocated gres/gpu times the part of its run inside the window, as
 * `sacct -X -D --truncate` counts it; doc/DECISIONS.md, "What a lab
 * used"); the reader is lr_acct_db_usage() (acct_slurmdb.h).  This part
 * is pure arithmetic and formatting, for the unit tests.  Runs as whoever
 * calls.
 */
#ifndef LABRUN_ACCT_USAGE_H
#define LABRUN_ACCT_USAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "acct_plan.h"

/* The window: UTC midnight of the month's 1st to now.  UTC, not the
 * controller's local time, so that every machine reading the same
 * accounting shows the same month. */
struct lr_acct_window {
	time_t start, end;
};
void lr_acct_month_window(time_t now, struct lr_acct_window *w);

/* Seconds of [start, end) inside w; end 0 is a job still running (until
 * w->end), start 0 one that never ran.  Never negative. */
int64_t lr_acct_clip(time_t start, time_t end, const struct lr_acct_window *w);

/* One association of a labrun account, with what its jobs used. */
struct lr_acct_usage_row {
	char *account;
	char *user; /* NULL: the lab's own association (all its members' jobs) */
	int64_t gpu_secs;
	struct lr_acct_limits limits;
};

/* The associations, each lab's own row before its members' (by name). */
struct lr_acct_usage {
	char *cluster;
	struct lr_acct_window window;
	struct lr_acct_usage_row *rows;
	size_t n;
};
void lr_acct_usage_free(struct lr_acct_usage *u);

/* Add a job's GPU-seconds to its lab's row and its member's row (when
 * there are rows for them).  gpus: the job's allocated gres/gpu. */
void lr_acct_usage_add(struct lr_acct_usage *u, const char *account, const char *user, int64_t gpus,
		       time_t start, time_t end);

/* Sort the rows: by account, the lab's own first, then members by name. */
void lr_acct_usage_sort(struct lr_acct_usage *u);

/* "1.25" (hours, two decimals, rounded down: never more than was used). */
void lr_acct_hours_text(int64_t secs, char *buf, size_t len);

/* "0.02 of 1 (2%)", "0.02 (no budget)"; the budget in GPU-minutes. */
void lr_acct_used_text(int64_t secs, int64_t budget_mins, char *buf, size_t len);

/* "2023-12-01 00:00 UTC". */
void lr_acct_time_text(time_t t, char *buf, size_t len);

/* A row as an object: account, user (null for the lab's), gpu_seconds,
 * gpu_hours, gpu_hours_budget and percent (null without a budget), cores,
 * memory_mb, gpus (null: unlimited).  NULL when out of memory. */
json_t *lr_acct_usage_row_json(const struct lr_acct_usage_row *r);

#endif
