/* acct_nodb.c - acct_slurmdb.h when labrun is built without libslurm-dev's
 * headers (configure: "Slurm accounting  no"): every sync says so.
 * Runs as whoever calls.
 */
#include "build-config.h"

#include <errno.h>

#include "acct_slurmdb.h"

int lr_acct_db_open(struct lr_acct_db **db, bool verbose, struct lr_error *err)
{
	return lr_error_set(err, ENOTSUP,
			    "labrun-policy was built without Slurm accounting (libslurm-dev's "
			    "slurm/slurmdb.h was missing): rebuild it with libslurm-dev installed");
}

const char *lr_acct_db_cluster(const struct lr_acct_db *db)
{
	return "";
}

int lr_acct_db_read(struct lr_acct_db *db, struct lr_acct_state *st, struct lr_error *err)
{
	return lr_error_set(err, ENOTSUP, "built without Slurm accounting");
}

int lr_acct_db_apply(struct lr_acct_db *db, const struct lr_acct_plan *plan,
		     enum lr_acct_outcome *out, struct lr_error *err)
{
	return lr_error_set(err, ENOTSUP, "built without Slurm accounting");
}

int lr_acct_db_usage(struct lr_acct_db *db, time_t now, struct lr_acct_usage *u,
		     struct lr_error *err)
{
	return lr_error_set(err, ENOTSUP, "built without Slurm accounting");
}

void lr_acct_db_close(struct lr_acct_db *db)
{
}
