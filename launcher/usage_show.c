/* usage_show.c - the labs' GPU-hours this month, read from Slurm's
 * accounting and shown as labrun --quota's lines (usage_show.h).  Runs as
 * the user who asks.
 *
 * labrun --quota must show what it showed before whatever the state of
 * Slurm (no libslurm, no slurm.conf, slurmdbd down): every failure here
 * becomes one line of output, never an error exit; libslurm is loaded
 * only when this runs (slurmdb_lazy.c), so a launch never pays for it.
 */
#include "build-config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acct_slurmdb.h"
#include "escape.h"
#include "units.h"
#include "usage_show.h"

int lr_usage_read(struct lr_acct_usage *u, bool verbose, struct lr_error *err)
{
	struct lr_acct_db *db = NULL;
	int r = lr_acct_db_open(&db, verbose, err);
	if (r == 0)
		r = lr_acct_db_usage(db, time(NULL), u, err);
	lr_acct_db_close(db);
	return r;
}

static void one(int64_t v, const char *what, bool size, char *buf, size_t len)
{
	char n[32];
	if (v == LR_ACCT_NONE)
		snprintf(n, sizeof(n), "unlimited");
	else if (size)
		lr_format_size((uint64_t)v * 1024 * 1024, n, sizeof(n));
	else
		snprintf(n, sizeof(n), "%" PRId64, v);
	size_t at = strlen(buf);
	snprintf(buf + at, len - at, "%s%s %s", at ? ", " : "", what, n);
}

void lr_usage_limits_text(const struct lr_acct_limits *l, char *buf, size_t len)
{
	buf[0] = '\0';
	one(l->cpu, "cores", false, buf, len);
	one(l->mem_mb, "memory", true, buf, len);
	one(l->gpus, "GPUs", false, buf, len);
	size_t at = strlen(buf);
	snprintf(buf + at, len - at, " at once");
}

void lr_usage_quota_lines(FILE *out, const char *user, const char *lab)
{
	struct lr_acct_usage u;
	struct lr_error err = {0};
	fprintf(out, "\n");
	if (lr_usage_read(&u, false, &err) < 0) {
		char why[sizeof(err.msg) * 4];
		lr_escape_str(why, sizeof(why), err.msg);
		fprintf(out, "GPU-hours this month: not shown: %s\n", why);
		return;
	}
	char since[64], cluster[LR_ACCT_MAX_NAME * 4];
	lr_acct_time_text(u.window.start, since, sizeof(since));
	lr_escape_str(cluster, sizeof(cluster), u.cluster);
	size_t shown = 0;
	for (size_t i = 0; i < u.n; i++) {
		const struct lr_acct_usage_row *m = &u.rows[i];
		if (!m->user || strcmp(m->user, user) || (lab && strcasecmp(m->account, lab)))
			continue;
		const struct lr_acct_usage_row *total = NULL;
		for (size_t k = 0; k < u.n; k++)
			if (!u.rows[k].user && !strcmp(u.rows[k].account, m->account))
				total = &u.rows[k];
		char mine[96], theirs[128] = "", name[LR_ACCT_MAX_NAME * 4];
		lr_acct_used_text(m->gpu_secs, m->limits.gpu_mins, mine, sizeof(mine));
		if (total) {
			char t[96];
			lr_acct_used_text(total->gpu_secs, total->limits.gpu_mins, t, sizeof(t));
			snprintf(theirs, sizeof(theirs), "; the lab's %s", t);
		}
		lr_escape_str(name, sizeof(name), m->account);
		fprintf(out, "lab %s: GPU-hours since %s: yours %s%s\n", name, since, mine, theirs);
		shown++;
	}
	char want[LR_ACCT_MAX_NAME * 4] = "";
	if (lab)
		lr_escape_str(want, sizeof(want), lab);
	if (!shown)
		fprintf(out,
			"GPU-hours this month: no lab budget of yours%s%s in Slurm's accounting "
			"(cluster %s)\n",
			lab ? " in lab " : "", want, cluster);
	lr_acct_usage_free(&u);
}
