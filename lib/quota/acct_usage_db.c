/* acct_usage_db.c - the labs' GPU-hours this month from slurmdbd's job
 * records, and their budgets from the associations, for `labrun-policy
 * usage` and `labrun --quota` (acct_slurmdb.h: lr_acct_db_usage).  Runs as
 * whoever calls: slurmdbd shows any user the associations and the jobs
 * unless its PrivateData hides them.
 *
 * Why the job records (doc/DECISIONS.md, "What a lab used"): they are
 * exact to the second and current (a finished job is there as soon as
 * slurmctld reports it), and their sum is what `sacct` shows for the same
 * window, which a user can check; slurmdbd's rollups lag by up to an hour
 * and slurmctld's association usage is decayed and reset on its own
 * schedule.
 */
#include "build-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <slurm/slurmdb.h>

#include "acct_slurmdb.h"
#include "acct_slurmdb_int.h"

/* Seconds past now asked of slurmdbd (read_jobs says why). */
#define QUERY_SLACK 60

/* The names of labrun's accounts (organization LR_ACCT_ORG), malloc'd. */
static int read_accounts(struct lr_acct_db *db, char ***out, size_t *n, struct lr_error *err)
{
	const char *org = LR_ACCT_ORG;
	slurmdb_assoc_cond_t empty = {0};
	slurmdb_account_cond_t ac = {.assoc_cond = &empty,
				     .organization_list = lr_acct_db_names(&org, 1)};
	List l = ac.organization_list ? QUIET(db, slurmdb_accounts_get(db->conn, &ac)) : NULL;
	lr_acct_db_drop(ac.organization_list);
	if (!l)
		return lr_acct_db_fail(db, err, errno, "read the accounts");
	char **v = calloc((size_t)slurm_list_count(l) + 1, sizeof(*v));
	size_t k = 0;
	ListIterator it = v ? slurm_list_iterator_create(l) : NULL;
	const slurmdb_account_rec_t *a;
	int r = v ? 0 : -ENOMEM;
	while (it && r == 0 && (a = slurm_list_next(it)))
		if (a->name && a->organization && !strcmp(a->organization, org) &&
		    !(v[k++] = strdup(a->name)))
			r = -ENOMEM;
	if (it)
		slurm_list_iterator_destroy(it);
	slurm_list_destroy(l);
	if (r < 0) {
		for (size_t i = 0; v && i < k; i++)
			free(v[i]);
		free(v);
		return lr_error_errno(err, ENOMEM, "%s: read the accounts", db->where);
	}
	*out = v;
	*n = k;
	return 0;
}

/* This cluster's associations of accounts (no partition's) as rows. */
static int read_assocs(struct lr_acct_db *db, char **accounts, size_t n, struct lr_acct_usage *u,
		       struct lr_error *err)
{
	const char *cluster = db->cluster;
	slurmdb_assoc_cond_t ac = {.without_parent_info = 1,
				   .without_parent_limits = 1,
				   .cluster_list = lr_acct_db_names(&cluster, 1),
				   .acct_list = lr_acct_db_names((const char *const *)accounts, n)};
	List l = ac.cluster_list && ac.acct_list
			 ? QUIET(db, slurmdb_associations_get(db->conn, &ac))
			 : NULL;
	lr_acct_db_drop(ac.cluster_list);
	lr_acct_db_drop(ac.acct_list);
	if (!l)
		return lr_acct_db_fail(db, err, errno, "read the associations");
	u->rows = calloc((size_t)slurm_list_count(l) + 1, sizeof(*u->rows));
	ListIterator it = u->rows ? slurm_list_iterator_create(l) : NULL;
	const slurmdb_assoc_rec_t *a;
	int r = u->rows ? 0 : -ENOMEM;
	while (it && r == 0 && (a = slurm_list_next(it))) {
		if (!a->acct || (a->partition && *a->partition))
			continue;
		struct lr_acct_usage_row *row = &u->rows[u->n++];
		row->limits = (struct lr_acct_limits){LR_ACCT_NONE, LR_ACCT_NONE, LR_ACCT_NONE,
						      LR_ACCT_NONE};
		row->account = strdup(a->acct);
		row->user = a->user && *a->user ? strdup(a->user) : NULL;
		if (!row->account || (a->user && *a->user && !row->user))
			r = -ENOMEM;
		lr_acct_db_tres_parse(a->grp_tres, db, false, &row->limits);
		lr_acct_db_tres_parse(a->grp_tres_mins, db, true, &row->limits);
	}
	if (it)
		slurm_list_iterator_destroy(it);
	slurm_list_destroy(l);
	if (r < 0)
		return lr_error_errno(err, ENOMEM, "%s: read the associations", db->where);
	return 0;
}

/* The jobs of accounts that ran in the window, each summed into its rows.
 * Every run of a requeued job counts (JOBCOND_FLAG_DUP: each held its
 * GPUs), the allocation only (no steps), the times as they were
 * (NO_TRUNC): lr_acct_clip() cuts them to the window. */
static int read_jobs(struct lr_acct_db *db, char **accounts, size_t n, struct lr_acct_usage *u,
		     struct lr_error *err)
{
	const char *cluster = db->cluster;
	slurmdb_job_cond_t jc = {
		.acct_list = lr_acct_db_names((const char *const *)accounts, n),
		.cluster_list = lr_acct_db_names(&cluster, 1),
		.flags = JOBCOND_FLAG_DUP | JOBCOND_FLAG_NO_STEP | JOBCOND_FLAG_NO_TRUNC,
		/* 0 would ask for jobs whose scheduling flags are 0: none
		 * (sacct sets NOTSET too). */
		.db_flags = SLURMDB_JOB_FLAG_NOTSET,
		.usage_start = u->window.start,
		/* slurmdbd 22.05 leaves out a job that ended in the second
		 * asked for as the end (seen: a job ended at now, missing
		 * until the next second, though sacct listed it): ask past
		 * now; lr_acct_clip() cuts at now. */
		.usage_end = u->window.end + QUERY_SLACK,
	};
	List l =
		jc.acct_list && jc.cluster_list ? QUIET(db, slurmdb_jobs_get(db->conn, &jc)) : NULL;
	lr_acct_db_drop(jc.acct_list);
	lr_acct_db_drop(jc.cluster_list);
	if (!l)
		return lr_acct_db_fail(db, err, errno, "read the jobs");
	ListIterator it = slurm_list_iterator_create(l);
	const slurmdb_job_rec_t *j;
	while (it && (j = slurm_list_next(it))) {
		struct lr_acct_limits alloc = {0, 0, 0, 0};
		lr_acct_db_tres_parse(j->tres_alloc_str, db, false, &alloc);
		lr_acct_usage_add(u, j->account, j->user, alloc.gpus, j->start, j->end);
	}
	if (it)
		slurm_list_iterator_destroy(it);
	slurm_list_destroy(l);
	return 0;
}

int lr_acct_db_usage(struct lr_acct_db *db, time_t now, struct lr_acct_usage *out,
		     struct lr_error *err)
{
	struct lr_acct_usage u = {0};
	char **accounts = NULL;
	size_t n = 0;
	lr_acct_month_window(now, &u.window);
	int r = (u.cluster = strdup(db->cluster)) ? 0 : lr_error_errno(err, ENOMEM, "usage");
	if (r == 0)
		r = lr_acct_db_read_tres(db, err);
	if (r == 0 && !db->gpu_id)
		r = lr_error_set(err, ENOENT,
				 "%s: no TRES gres/gpu: set AccountingStorageTRES=gres/gpu in "
				 "slurm.conf (labrun-policy(8))",
				 db->where);
	if (r == 0)
		r = read_accounts(db, &accounts, &n, err);
	if (r == 0 && n)
		r = read_assocs(db, accounts, n, &u, err);
	if (r == 0 && n)
		r = read_jobs(db, accounts, n, &u, err);
	for (size_t i = 0; i < n; i++)
		free(accounts[i]);
	free(accounts);
	if (r < 0) {
		lr_acct_usage_free(&u);
		return r;
	}
	lr_acct_usage_sort(&u);
	*out = u;
	return 0;
}
