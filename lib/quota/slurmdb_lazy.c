/* slurmdb_lazy.c - the libslurm functions acct_slurmdb.c calls, loaded
 * from libslurm when `labrun-policy sync` or `usage`, or `labrun --quota`,
 * first talks to slurmdbd (lazy.h
 * says why libraries are loaded when used; doc/DECISIONS.md, "Lab budgets
 * in Slurm accounting", why libslurm in particular: a machine without
 * Slurm runs every other command without it installed).  Each is declared
 * by slurm.h or slurmdb.h, which check the definitions here against them.
 * Built only with libslurm-dev's headers (configure: HAVE_SLURMDB).
 * Runs as whoever calls (sync: root; usage and labrun --quota: anyone).
 */
#include "build-config.h"

#include <errno.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <slurm/slurmdb.h>

#include "lazy.h"

/* RTLD_GLOBAL: lazy.c says why. */
static struct lr_lazy_lib slurm = {.soname = LR_SONAME_SLURM, .global = 1};

int lr_lazy_slurm_load(void)
{
	return lr_lazy_sym(&slurm, "slurm_init") ? 0 : -ENOSYS;
}

/* slurm_conf, the configuration slurm_init() read: a variable, not a
 * function, so it is found by name too. */
slurm_conf_t *lr_slurm_conf(void);
slurm_conf_t *lr_slurm_conf(void)
{
	return lr_lazy_sym(&slurm, "slurm_conf");
}

LR_LAZY_VOID(slurm, slurm_init, (const char *conf), (conf))
LR_LAZY(slurm, char *, slurm_strerror, "libslurm is not loaded", (int errnum), (errnum))
LR_LAZY(slurm, List, slurm_list_create, NULL, (ListDelF f), (f))
LR_LAZY(slurm, void *, slurm_list_append, NULL, (List l, void *x), (l, x))
LR_LAZY_VOID(slurm, slurm_list_destroy, (List l), (l))
LR_LAZY(slurm, int, slurm_list_count, 0, (List l), (l))
LR_LAZY(slurm, ListIterator, slurm_list_iterator_create, NULL, (List l), (l))
LR_LAZY(slurm, void *, slurm_list_next, NULL, (ListIterator i), (i))
LR_LAZY_VOID(slurm, slurm_list_iterator_destroy, (ListIterator i), (i))
LR_LAZY(slurm, void *, slurmdb_connection_get, NULL, (uint16_t * persist_conn_flags),
	(persist_conn_flags))
LR_LAZY(slurm, int, slurmdb_connection_close, -1, (void **db_conn), (db_conn))
LR_LAZY(slurm, int, slurmdb_connection_commit, -1, (void *db_conn, bool commit), (db_conn, commit))
LR_LAZY(slurm, List, slurmdb_tres_get, NULL, (void *db_conn, slurmdb_tres_cond_t *cond),
	(db_conn, cond))
LR_LAZY(slurm, List, slurmdb_accounts_get, NULL, (void *db_conn, slurmdb_account_cond_t *cond),
	(db_conn, cond))
LR_LAZY(slurm, int, slurmdb_accounts_add, -1, (void *db_conn, List acct_list), (db_conn, acct_list))
LR_LAZY(slurm, List, slurmdb_accounts_remove, NULL, (void *db_conn, slurmdb_account_cond_t *cond),
	(db_conn, cond))
LR_LAZY(slurm, List, slurmdb_users_get, NULL, (void *db_conn, slurmdb_user_cond_t *cond),
	(db_conn, cond))
LR_LAZY(slurm, int, slurmdb_users_add, -1, (void *db_conn, List user_list), (db_conn, user_list))
LR_LAZY(slurm, List, slurmdb_users_modify, NULL,
	(void *db_conn, slurmdb_user_cond_t *cond, slurmdb_user_rec_t *user), (db_conn, cond, user))
LR_LAZY(slurm, List, slurmdb_users_remove, NULL, (void *db_conn, slurmdb_user_cond_t *cond),
	(db_conn, cond))
LR_LAZY(slurm, List, slurmdb_associations_get, NULL, (void *db_conn, slurmdb_assoc_cond_t *cond),
	(db_conn, cond))
LR_LAZY(slurm, int, slurmdb_associations_add, -1, (void *db_conn, List assoc_list),
	(db_conn, assoc_list))
LR_LAZY(slurm, List, slurmdb_associations_modify, NULL,
	(void *db_conn, slurmdb_assoc_cond_t *cond, slurmdb_assoc_rec_t *assoc),
	(db_conn, cond, assoc))
LR_LAZY(slurm, List, slurmdb_associations_remove, NULL, (void *db_conn, slurmdb_assoc_cond_t *cond),
	(db_conn, cond))
LR_LAZY_VOID(slurm, slurmdb_init_assoc_rec, (slurmdb_assoc_rec_t * assoc, bool free_it),
	     (assoc, free_it))
LR_LAZY_VOID(slurm, slurmdb_init_tres_cond, (slurmdb_tres_cond_t * tres, bool free_it),
	     (tres, free_it))
LR_LAZY(slurm, List, slurmdb_jobs_get, NULL, (void *db_conn, slurmdb_job_cond_t *cond),
	(db_conn, cond))
