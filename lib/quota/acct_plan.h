/* acct_plan.h - what `labrun-policy sync` changes in Slurm's accounting
 * for a policy (DESIGN.md §5, issue 14): an account per lab, an
 * association per member under it, and the cluster-wide limits of each
 * (GrpTRES, GrpTRESMins), planned against the accounting's current state.
 *
 * A plan is computed, not applied: `sync --dry-run` prints it, and the
 * backend (acct_slurmdb.h, as root) carries it out.  Pure: the current
 * state and the users and groups come from the caller, so that the unit
 * tests give fakes; lr_acct_system_members() reads this machine's (NSS).
 *
 * The mapping (doc/DECISIONS.md, "Lab budgets in Slurm accounting"):
 *   lab's account association  GrpTRES=cpu=CORES,mem=MEMORY_MB,gres/gpu=GPUS
 *                              GrpTRESMins=gres/gpu=GPU_HOURS*60 (the lab's total)
 *   member's association       the same keys from the member's allocation
 *                              (lr_lab_allocation: at once, cluster-wide)
 * "unlimited" is no limit.  Only those TRES are labrun's: others an admin
 * set on the same associations are left as they are.
 *
 * labrun's accounts are marked by their organization, LR_ACCT_ORG: sync
 * never changes or removes an account without it, and refuses a lab whose
 * account name another tool's account holds.
 */
#ifndef LABRUN_ACCT_PLAN_H
#define LABRUN_ACCT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "policy.h"

#define LR_ACCT_ORG "labrun"	 /* the organization of labrun's accounts */
#define LR_ACCT_PARENT "root"	 /* where a lab's account is made */
#define LR_ACCT_NONE INT64_C(-1) /* no limit */
#define LR_ACCT_MAX_NAME 64	 /* an account or user name, as Slurm keeps them */

/* The TRES limits labrun owns on an association; each LR_ACCT_NONE or a
 * count (mem in MiB, gpu_mins in GPU-minutes). */
struct lr_acct_limits {
	int64_t cpu, mem_mb, gpus, gpu_mins;
};

/* The accounting's current state, as the backend read it. */
struct lr_acct_account {
	char *name, *organization;
};
struct lr_acct_assoc {
	char *cluster, *account;
	char *user;	 /* NULL: the account's own association */
	char *partition; /* NULL for most; labrun makes none and leaves them alone */
	bool is_default; /* the user's default account on this cluster */
	struct lr_acct_limits limits;
};
struct lr_acct_user {
	char *name;
	char *default_account; /* on the cluster planned; NULL or "" when none */
};
struct lr_acct_state {
	struct lr_acct_account *accounts;
	size_t n_accounts;
	struct lr_acct_assoc *assocs; /* every cluster's */
	size_t n_assocs;
	struct lr_acct_user *users;
	size_t n_users;
	bool has_gpu_tres; /* the TRES gres/gpu exists (AccountingStorageTRES) */
};
void lr_acct_state_free(struct lr_acct_state *st);

/* Who the members are: whether a user exists, and a group's users.  The
 * planner asks once per name; members() fills a malloc'd array of
 * malloc'd names (in any order, repeats allowed).  Both return 0, or a
 * negative errno: -ENOENT when there is no such user or group. */
struct lr_acct_members {
	int (*user)(const char *name, void *data);
	int (*group)(const char *name, char ***users, size_t *n, void *data);
	void *data;
};
/* This machine's users and groups (getpwnam, getgrnam, and getpwent for
 * the users whose primary group it is), read when the plan is made. */
extern const struct lr_acct_members lr_acct_system_members;

enum lr_acct_op {
	LR_ACCT_ADD_ACCOUNT,	/* account (the lab's) */
	LR_ACCT_ADD_ASSOC,	/* account, or account and user, with limits */
	LR_ACCT_ADD_USER,	/* user, default account */
	LR_ACCT_MODIFY,		/* account[/user]: old -> limits */
	LR_ACCT_SET_DEFAULT,	/* user's default account -> account */
	LR_ACCT_REMOVE_ASSOC,	/* account/user on the cluster */
	LR_ACCT_REMOVE_ACCOUNT, /* the account and its associations */
	LR_ACCT_REMOVE_USER,	/* a user left with no association */
};

struct lr_acct_change {
	enum lr_acct_op op;
	char *account;
	char *user; /* NULL for an account's own */
	char *lab;  /* the lab's name, NULL for what the policy no longer names */
	struct lr_acct_limits old, limits;
};

/* The changes in the order they can be made: additions, modifications,
 * default accounts, then removals (a user's associations before the
 * accounts, the users last). */
struct lr_acct_plan {
	struct lr_acct_change *changes;
	size_t n;
};

/* A lab's account: its name in lower case (Slurm's account names are). */
int lr_acct_name(char *out, size_t len, const char *lab);

/* The limits of a scope (a lab's total, a member's allocation). */
void lr_acct_limits_of(const struct lr_limits *l, struct lr_acct_limits *out);

/* Plan cluster's accounting for policy p from state st.  Errors (nothing
 * planned): a member or group unknown to m, two labs with one account
 * name, a lab whose account is another tool's, GPU limits without the
 * gres/gpu TRES.  *plan is set only on success. */
int lr_acct_plan_make(struct lr_acct_plan *plan, const struct lr_policy *p, const char *cluster,
		      const struct lr_acct_state *st, const struct lr_acct_members *m,
		      struct lr_error *err);
void lr_acct_plan_free(struct lr_acct_plan *plan);

/* One line for a change, as sync prints it ("add association physics/alice:
 * GrpTRES=cpu=8,mem=65536M,gres/gpu=1 GrpTRESMins=gres/gpu=30000"). */
void lr_acct_change_text(const struct lr_acct_change *c, char *buf, size_t len);

/* "add-account", "add-association", ... for --json. */
const char *lr_acct_op_name(enum lr_acct_op op);

/* "cpu=8,mem=65536M,gres/gpu=1", "" when nothing is limited; the minutes'
 * "gres/gpu=30000". */
void lr_acct_tres_text(const struct lr_acct_limits *l, char *buf, size_t len);
void lr_acct_tres_mins_text(const struct lr_acct_limits *l, char *buf, size_t len);

#endif
