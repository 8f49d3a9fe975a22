/* acct_slurmdb_int.h - what acct_slurmdb.c (sync) shares with
 * acct_usage_db.c (usage): the connection, libslurm's hushed log and its
 * errors in one form.  Only for those two files; built with libslurm-dev's
 * headers.  Runs as whoever calls.
 */
#ifndef LABRUN_ACCT_SLURMDB_INT_H
#define LABRUN_ACCT_SLURMDB_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <slurm/slurm.h>

#include "acct_plan.h"
#include "error.h"

struct lr_acct_db {
	void *conn;
	bool verbose;
	char cluster[LR_ACCT_MAX_NAME * 2];
	char where[320]; /* "slurmdbd at HOST:PORT", for messages */
	/* The TRES ids of cpu, mem (1 and 2 in every slurmdbd, but not in
	 * the public headers) and gres/gpu (made when slurmctld first
	 * registers with AccountingStorageTRES=gres/gpu; 0 without). */
	uint32_t cpu_id, mem_id, gpu_id;
	int saved_fd; /* stderr, while libslurm's log goes to log_fd */
	int log_fd;
	char why[LR_ERROR_MSG_MAX / 2]; /* the last error libslurm logged */
};

/* slurmdb_lazy.c: libslurm's slurm_conf, NULL when it is not loaded. */
slurm_conf_t *lr_slurm_conf(void);

/* libslurm's log into a memfd while a call runs, and its last "error: "
 * line into db->why after (acct_slurmdb.c says why). */
void lr_acct_db_hush(struct lr_acct_db *db);
void lr_acct_db_unhush(struct lr_acct_db *db);

/* expr, with libslurm's log hushed; errno as the call left it. */
#define QUIET(db, expr)                                                                            \
	({                                                                                         \
		lr_acct_db_hush(db);                                                               \
		errno = 0;                                                                         \
		__typeof__(expr) v_ = (expr);                                                      \
		lr_acct_db_unhush(db);                                                             \
		v_;                                                                                \
	})

/* "slurmdbd at HOST:PORT: WHAT: CAUSE", CAUSE from the log or errno e. */
int lr_acct_db_fail(struct lr_acct_db *db, struct lr_error *err, int e, const char *what);

/* The TRES ids of cpu, mem and gres/gpu, into db (0: not registered). */
int lr_acct_db_read_tres(struct lr_acct_db *db, struct lr_error *err);

/* "1=8,2=65536,1001=2" into l: cpu, mem, gres/gpu (mins: the GPU-minutes);
 * other TRES are not labrun's.  Needs db's TRES ids. */
void lr_acct_db_tres_parse(const char *s, const struct lr_acct_db *db, bool mins,
			   struct lr_acct_limits *l);

/* A list of labrun's strings for a query (no destructor: libslurm must not
 * free them); NULL when out of memory.  lr_acct_db_drop() takes NULL. */
List lr_acct_db_names(const char *const *v, size_t n);
void lr_acct_db_drop(List l);

#endif
