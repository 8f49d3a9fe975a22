/* acct_usage.c - the arithmetic and formatting of the labs' GPU-hours
 * (acct_usage.h).  Pure; runs as whoever calls.
 */
#include "build-config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct_usage.h"

void lr_acct_month_window(time_t now, struct lr_acct_window *w)
{
	struct tm tm;
	gmtime_r(&now, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	*w = (struct lr_acct_window){timegm(&tm), now};
}

int64_t lr_acct_clip(time_t start, time_t end, const struct lr_acct_window *w)
{
	if (!start)
		return 0;
	if (!end || end > w->end)
		end = w->end;
	if (start < w->start)
		start = w->start;
	return end > start ? (int64_t)(end - start) : 0;
}

void lr_acct_usage_free(struct lr_acct_usage *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->rows[i].account);
		free(u->rows[i].user);
	}
	free(u->rows);
	free(u->cluster);
	*u = (struct lr_acct_usage){0};
}

void lr_acct_usage_add(struct lr_acct_usage *u, const char *account, const char *user, int64_t gpus,
		       time_t start, time_t end)
{
	if (!account || gpus <= 0)
		return;
	int64_t secs = gpus * lr_acct_clip(start, end, &u->window);
	for (size_t i = 0; i < u->n; i++) {
		struct lr_acct_usage_row *r = &u->rows[i];
		/* Slurm's account names are lower case; a job's may not be
		 * (sbatch -A Physics). */
		if (strcasecmp(r->account, account))
			continue;
		if (!r->user || (user && !strcmp(r->user, user)))
			r->gpu_secs += secs;
	}
}

static int row_cmp(const void *a, const void *b)
{
	const struct lr_acct_usage_row *x = a, *y = b;
	int c = strcmp(x->account, y->account);
	if (c || (!x->user && !y->user))
		return c;
	if (!x->user || !y->user)
		return x->user ? 1 : -1;
	return strcmp(x->user, y->user);
}

void lr_acct_usage_sort(struct lr_acct_usage *u)
{
	if (u->n)
		qsort(u->rows, u->n, sizeof(*u->rows), row_cmp);
}

void lr_acct_hours_text(int64_t secs, char *buf, size_t len)
{
	/* Hundredths of an hour are 36 s. */
	int64_t c = secs / 36;
	snprintf(buf, len, "%" PRId64 ".%02" PRId64, c / 100, c % 100);
}

void lr_acct_used_text(int64_t secs, int64_t budget_mins, char *buf, size_t len)
{
	char used[32];
	lr_acct_hours_text(secs, used, sizeof(used));
	if (budget_mins == LR_ACCT_NONE) {
		snprintf(buf, len, "%s (no budget)", used);
		return;
	}
	char budget[32];
	lr_acct_hours_text(budget_mins * 60, budget, sizeof(budget));
	/* "1.00" reads as a rounding; a whole budget is written whole. */
	if (budget_mins % 60 == 0)
		snprintf(budget, sizeof(budget), "%" PRId64, budget_mins / 60);
	if (budget_mins == 0)
		snprintf(buf, len, "%s of 0", used);
	else
		snprintf(buf, len, "%s of %s (%" PRId64 "%%)", used, budget,
			 secs * 100 / (budget_mins * 60));
}

void lr_acct_time_text(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (!strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm) && len)
		buf[0] = '\0';
}

static json_t *limit(int64_t v)
{
	return v == LR_ACCT_NONE ? json_null() : json_integer(v);
}

json_t *lr_acct_usage_row_json(const struct lr_acct_usage_row *r)
{
	const struct lr_acct_limits *l = &r->limits;
	json_t *budget = json_null(), *pct = json_null();
	if (l->gpu_mins != LR_ACCT_NONE) {
		budget = json_real((double)l->gpu_mins / 60);
		pct = l->gpu_mins
			      ? json_real((double)r->gpu_secs * 100 / ((double)l->gpu_mins * 60))
			      : json_null();
	}
	return json_pack("{s:s, s:s?, s:I, s:f, s:o, s:o, s:o, s:o, s:o}", "account", r->account,
			 "user", r->user, "gpu_seconds", (json_int_t)r->gpu_secs, "gpu_hours",
			 (double)r->gpu_secs / 3600, "gpu_hours_budget", budget, "percent", pct,
			 "cores", limit(l->cpu), "memory_mb", limit(l->mem_mb), "gpus",
			 limit(l->gpus));
}
