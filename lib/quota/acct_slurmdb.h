/* acct_slurmdb.h - Slurm's accounting database (slurmdbd) as
 * `labrun-policy sync` reads and changes it: the current state for the
 * plan (acct_plan.h), and the plan carried out in one transaction.
 *
 * Through libslurm's slurmdb API, loaded when first used
 * (slurmdb_lazy.c); the slurmdbd is the one slurm.conf names (SLURM_CONF,
 * else LR_SLURM_CONF).  Changes run as root (slurmdbd allows them to its
 * administrators; root is one); reads as anyone slurmdbd lets read.  Built without libslurm-dev,
 * every call fails saying so.
 */
#ifndef LABRUN_ACCT_SLURMDB_H
#define LABRUN_ACCT_SLURMDB_H

#include <stdbool.h>

#include "acct_plan.h"
#include "acct_usage.h"
#include "error.h"

#define LR_SLURM_CONF "/etc/slurm/slurm.conf"

struct lr_acct_db;

/* Read slurm.conf, load libslurm, connect to slurmdbd.  libslurm's own
 * log lines go to stderr only when verbose; otherwise the last error it
 * logged becomes the cause in err ("slurmdbd at ctl:6819: Connection
 * refused").  *db is set only on success. */
int lr_acct_db_open(struct lr_acct_db **db, bool verbose, struct lr_error *err);

/* slurm.conf's ClusterName. */
const char *lr_acct_db_cluster(const struct lr_acct_db *db);

/* The accounts, users and associations (every cluster's), and whether the
 * TRES gres/gpu exists.  *st is set only on success. */
int lr_acct_db_read(struct lr_acct_db *db, struct lr_acct_state *st, struct lr_error *err);

/* What became of a change. */
enum lr_acct_outcome {
	LR_ACCT_DONE,
	/* A removal slurmdbd refused because jobs still run under the
	 * association: its limits were set to 0 instead (no new job starts
	 * there), and the next sync removes it. */
	LR_ACCT_ZEROED,
};

/* Make plan's changes (out[i] says what became of change i), then commit;
 * on a failure, roll back everything: nothing is changed. */
int lr_acct_db_apply(struct lr_acct_db *db, const struct lr_acct_plan *plan,
		     enum lr_acct_outcome *out, struct lr_error *err);

/* The GPU-seconds each association of labrun's accounts (organization
 * labrun) on this cluster used from UTC midnight of now's month's 1st to
 * now, and its limits (acct_usage.h; acct_usage_db.c).  Needs only what
 * slurmdbd lets the caller read.  *u is set only on success. */
int lr_acct_db_usage(struct lr_acct_db *db, time_t now, struct lr_acct_usage *u,
		     struct lr_error *err);

void lr_acct_db_close(struct lr_acct_db *db);

#endif
