/* acct_plan.c - a policy against Slurm accounting's current state: the
 * changes `labrun-policy sync` makes (acct_plan.h has the mapping).
 *
 * Runs with any privilege.  Pure but for lr_acct_system_members, which
 * reads this machine's users and groups: a member of a lab's unix group
 * is whoever the group has when sync runs (labrun-policy(8)).
 *
 * What this file guarantees, and the tests check (tests/unit/
 * test_acct_plan.c): an account without labrun's organization is never
 * changed or removed (a lab that would take its name is refused instead);
 * a plan made against the state a first plan made is empty; a member of
 * two labs has an association in each; a user is removed only when this
 * plan took their last association.
 */
#include "build-config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct_plan.h"

#define MIB (1024ULL * 1024ULL)

/* ---------------------------------------------------------------- state */

void lr_acct_state_free(struct lr_acct_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_accounts; i++) {
		free(st->accounts[i].name);
		free(st->accounts[i].organization);
	}
	for (size_t i = 0; i < st->n_assocs; i++) {
		free(st->assocs[i].cluster);
		free(st->assocs[i].account);
		free(st->assocs[i].user);
		free(st->assocs[i].partition);
	}
	for (size_t i = 0; i < st->n_users; i++) {
		free(st->users[i].name);
		free(st->users[i].default_account);
	}
	free(st->accounts);
	free(st->assocs);
	free(st->users);
	*st = (struct lr_acct_state){0};
}

/* ---------------------------------------------------------------- members */

static int system_user(const char *name, void *data)
{
	return getpwnam(name) ? 0 : -ENOENT;
}

static int push(char ***v, size_t *n, const char *name)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(name)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* The group's listed members who are users here, and the users whose
 * primary group it is (like cgplan.c's expansion for apply). */
static int system_group(const char *name, char ***users, size_t *n, void *data)
{
	struct group *g = getgrnam(name);
	if (!g)
		return -ENOENT;
	gid_t gid = g->gr_gid;
	char **v = NULL;
	size_t cnt = 0;
	int r = 0;
	for (char **m = g->gr_mem; *m && r == 0; m++)
		if (getpwnam(*m))
			r = push(&v, &cnt, *m);
	/* getgrnam's buffer is reused by getpwent's NSS modules: gid kept. */
	setpwent();
	struct passwd *pw;
	while (r == 0 && (pw = getpwent()))
		if (pw->pw_gid == gid)
			r = push(&v, &cnt, pw->pw_name);
	endpwent();
	if (r < 0) {
		for (size_t i = 0; i < cnt; i++)
			free(v[i]);
		free(v);
		return r;
	}
	*users = v;
	*n = cnt;
	return 0;
}

const struct lr_acct_members lr_acct_system_members = {
	.user = system_user,
	.group = system_group,
};

/* ---------------------------------------------------------------- mapping */

int lr_acct_name(char *out, size_t len, const char *lab)
{
	size_t n = strlen(lab);
	if (n == 0 || n >= len || n >= LR_ACCT_MAX_NAME)
		return -ENAMETOOLONG;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)lab[i]);
	return 0;
}

static int64_t value_of(const struct lr_limits *l, enum lr_res r)
{
	if (!l->set[r] || l->value[r] == LR_POLICY_UNLIMITED || l->value[r] > INT64_MAX / 60)
		return LR_ACCT_NONE;
	return (int64_t)l->value[r];
}

void lr_acct_limits_of(const struct lr_limits *l, struct lr_acct_limits *out)
{
	out->cpu = value_of(l, LR_RES_CORES);
	out->gpus = value_of(l, LR_RES_GPUS);
	/* Slurm counts memory in MiB: rounded down (a limit is never looser
	 * than the policy's), but never to 0, which would refuse every job. */
	out->mem_mb = value_of(l, LR_RES_MEMORY);
	if (out->mem_mb != LR_ACCT_NONE)
		out->mem_mb =
			out->mem_mb && out->mem_mb < (int64_t)MIB ? 1 : out->mem_mb / (int64_t)MIB;
	out->gpu_mins = value_of(l, LR_RES_GPU_HOURS);
	if (out->gpu_mins != LR_ACCT_NONE)
		out->gpu_mins *= 60;
}

static bool limits_equal(const struct lr_acct_limits *a, const struct lr_acct_limits *b)
{
	return a->cpu == b->cpu && a->mem_mb == b->mem_mb && a->gpus == b->gpus &&
	       a->gpu_mins == b->gpu_mins;
}

static bool uses_gpus(const struct lr_acct_limits *l)
{
	return l->gpus != LR_ACCT_NONE || l->gpu_mins != LR_ACCT_NONE;
}

/* ---------------------------------------------------------------- planning */

/* A lab as sync wants it: its account and its members, sorted. */
struct want {
	const struct lr_lab *lab;
	char account[LR_ACCT_MAX_NAME];
	struct lr_acct_limits limits;
	char **users;
	size_t n_users;
};

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* w's members through m: named users must exist, groups too. */
static int expand(struct want *w, const struct lr_acct_members *m, struct lr_error *err)
{
	const struct lr_lab *lab = w->lab;
	int r = 0;
	for (size_t i = 0; i < lab->n_users && r == 0; i++) {
		r = m->user(lab->users[i], m->data);
		if (r == -ENOENT)
			return lr_error_set(err, ENOENT,
					    "%s: member %s: no such user on this machine (Slurm "
					    "matches jobs to associations by user name)",
					    lab->file, lab->users[i]);
		if (r == 0)
			r = push(&w->users, &w->n_users, lab->users[i]);
	}
	for (size_t i = 0; i < lab->n_groups && r == 0; i++) {
		char **v = NULL;
		size_t n = 0;
		r = m->group(lab->groups[i], &v, &n, m->data);
		if (r == -ENOENT)
			return lr_error_set(err, ENOENT,
					    "%s: member @%s: no such group on this machine",
					    lab->file, lab->groups[i]);
		for (size_t k = 0; k < n && r == 0; k++)
			r = push(&w->users, &w->n_users, v[k]);
		free_names(v, n);
	}
	if (r < 0)
		return lr_error_errno(err, -r, "%s: members", lab->file);
	if (w->n_users)
		qsort(w->users, w->n_users, sizeof(*w->users), by_str);
	size_t kept = 0;
	for (size_t i = 0; i < w->n_users; i++) {
		if (kept && !strcmp(w->users[kept - 1], w->users[i])) {
			free(w->users[i]);
			continue;
		}
		w->users[kept++] = w->users[i];
	}
	w->n_users = kept;
	return 0;
}

static bool is_member(const struct want *w, const char *user)
{
	return bsearch(&user, w->users, w->n_users, sizeof(*w->users), by_str) != NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return (a ? a : "")[0] == (b ? b : "")[0] && !strcmp(a ? a : "", b ? b : "");
}

static const struct lr_acct_account *find_account(const struct lr_acct_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_accounts; i++)
		if (!strcmp(st->accounts[i].name, name))
			return &st->accounts[i];
	return NULL;
}

static bool is_labrun(const struct lr_acct_account *a)
{
	return a && a->organization && !strcmp(a->organization, LR_ACCT_ORG);
}

/* The association of account (and user, NULL for the account's own) on
 * cluster, without a partition. */
static const struct lr_acct_assoc *find_assoc(const struct lr_acct_state *st, const char *cluster,
					      const char *account, const char *user)
{
	for (size_t i = 0; i < st->n_assocs; i++) {
		const struct lr_acct_assoc *a = &st->assocs[i];
		if (!str_eq(a->partition, NULL) || !str_eq(a->user, user) ||
		    strcmp(a->account, account) || strcmp(a->cluster, cluster))
			continue;
		return a;
	}
	return NULL;
}

static const struct lr_acct_user *find_user(const struct lr_acct_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_users; i++)
		if (!strcmp(st->users[i].name, name))
			return &st->users[i];
	return NULL;
}

struct planner {
	struct lr_acct_plan plan;
	size_t *rank; /* the order of each change, for the sort */
	struct want *wants;
	size_t n_wants;
	const char *cluster;
	const struct lr_acct_state *st;
	char **gone;	  /* labrun's accounts the policy no longer names */
	bool *gone_whole; /* ... removed as a whole (no other cluster has them) */
	size_t n_gone;
};

/* The order changes can be made in (acct_plan.h). */
static size_t rank_of(enum lr_acct_op op, const char *user)
{
	switch (op) {
	case LR_ACCT_ADD_ACCOUNT: return 0;
	case LR_ACCT_ADD_ASSOC: return user ? 3 : 1;
	case LR_ACCT_ADD_USER: return 2;
	case LR_ACCT_MODIFY: return 4;
	case LR_ACCT_SET_DEFAULT: return 5;
	case LR_ACCT_REMOVE_ASSOC: return user ? 6 : 7;
	case LR_ACCT_REMOVE_ACCOUNT: return 7;
	case LR_ACCT_REMOVE_USER: return 8;
	}
	return 9;
}

static int add(struct planner *pl, enum lr_acct_op op, const char *account, const char *user,
	       const char *lab, const struct lr_acct_limits *old, const struct lr_acct_limits *lim)
{
	struct lr_acct_plan *p = &pl->plan;
	struct lr_acct_change *v = realloc(p->changes, (p->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->changes = v;
	size_t *rk = realloc(pl->rank, (p->n + 1) * sizeof(*rk));
	if (!rk)
		return -ENOMEM;
	pl->rank = rk;
	static const struct lr_acct_limits none = {LR_ACCT_NONE, LR_ACCT_NONE, LR_ACCT_NONE,
						   LR_ACCT_NONE};
	struct lr_acct_change c = {.op = op, .old = old ? *old : none, .limits = lim ? *lim : none};
	c.account = account ? strdup(account) : NULL;
	c.user = user ? strdup(user) : NULL;
	c.lab = lab ? strdup(lab) : NULL;
	if ((account && !c.account) || (user && !c.user) || (lab && !c.lab)) {
		free(c.account);
		free(c.user);
		free(c.lab);
		return -ENOMEM;
	}
	v[p->n] = c;
	rk[p->n] = rank_of(op, user) * 1000000000u + p->n;
	p->n++;
	return 0;
}

/* One association as the policy wants it: added, or its limits changed. */
static int want_assoc(struct planner *pl, const struct want *w, const char *user,
		      const struct lr_acct_limits *lim)
{
	const struct lr_acct_assoc *a = find_assoc(pl->st, pl->cluster, w->account, user);
	if (!a)
		return add(pl, LR_ACCT_ADD_ASSOC, w->account, user, w->lab->name, NULL, lim);
	if (!limits_equal(&a->limits, lim))
		return add(pl, LR_ACCT_MODIFY, w->account, user, w->lab->name, &a->limits, lim);
	return 0;
}

static const struct want *want_of(const struct planner *pl, const char *account)
{
	for (size_t i = 0; i < pl->n_wants; i++)
		if (!strcmp(pl->wants[i].account, account))
			return &pl->wants[i];
	return NULL;
}

static bool is_gone(const struct planner *pl, const char *account)
{
	for (size_t i = 0; i < pl->n_gone; i++)
		if (!strcmp(pl->gone[i], account))
			return true;
	return false;
}

/* Does association a survive the plan? */
static bool survives(const struct planner *pl, const struct lr_acct_assoc *a)
{
	if (strcmp(a->cluster, pl->cluster))
		return true;
	if (is_gone(pl, a->account))
		return false;
	const struct want *w =
		a->user && str_eq(a->partition, NULL) && is_labrun(find_account(pl->st, a->account))
			? want_of(pl, a->account)
			: NULL;
	return !w || is_member(w, a->user);
}

/* The labs' accounts: refused when another tool's account has the name. */
static int plan_accounts(struct planner *pl, struct lr_error *err)
{
	const struct lr_acct_state *st = pl->st;
	for (size_t i = 0; i < pl->n_wants; i++) {
		struct want *w = &pl->wants[i];
		const struct lr_acct_account *a = find_account(st, w->account);
		if (a && !is_labrun(a))
			return lr_error_set(err, EEXIST,
					    "%s: the Slurm account %s is another tool's "
					    "(organization '%s', not '%s'): rename the lab or that "
					    "account",
					    w->lab->file, w->account,
					    a->organization ? a->organization : "", LR_ACCT_ORG);
		int r = a ? 0
			  : add(pl, LR_ACCT_ADD_ACCOUNT, w->account, NULL, w->lab->name, NULL,
				NULL);
		if (r == 0)
			r = want_assoc(pl, w, NULL, &w->limits);
		bool gpus = uses_gpus(&w->limits);
		for (size_t k = 0; k < w->n_users && r == 0; k++) {
			struct lr_limits alloc;
			struct lr_acct_limits lim;
			lr_lab_allocation(w->lab, w->users[k], &alloc);
			lr_acct_limits_of(&alloc, &lim);
			gpus = gpus || uses_gpus(&lim);
			r = want_assoc(pl, w, w->users[k], &lim);
		}
		if (r < 0)
			return lr_error_errno(err, -r, "plan lab %s", w->lab->name);
		if (gpus && !st->has_gpu_tres)
			return lr_error_set(
				err, ENOTSUP,
				"%s: the lab's gpus or gpu-hours need the TRES gres/gpu, "
				"which Slurm's accounting does not have (slurm.conf: "
				"AccountingStorageTRES=gres/gpu, GresTypes=gpu; restart "
				"slurmctld)",
				w->lab->file);
	}
	return 0;
}

/* labrun's associations the policy no longer names. */
static int plan_removals(struct planner *pl)
{
	const struct lr_acct_state *st = pl->st;
	int r = 0;
	for (size_t i = 0; i < st->n_assocs && r == 0; i++) {
		const struct lr_acct_assoc *a = &st->assocs[i];
		if (a->user && !is_gone(pl, a->account) && !survives(pl, a))
			r = add(pl, LR_ACCT_REMOVE_ASSOC, a->account, a->user, NULL, &a->limits,
				NULL);
	}
	for (size_t i = 0; i < pl->n_gone && r == 0; i++) {
		if (pl->gone_whole[i])
			r = add(pl, LR_ACCT_REMOVE_ACCOUNT, pl->gone[i], NULL, NULL, NULL, NULL);
		else if (find_assoc(st, pl->cluster, pl->gone[i], NULL))
			r = add(pl, LR_ACCT_REMOVE_ASSOC, pl->gone[i], NULL, NULL, NULL, NULL);
	}
	return r;
}

/* A member's first lab by name (the default account of a user sync adds). */
static const char *first_lab_of(const struct planner *pl, const char *user)
{
	for (size_t i = 0; i < pl->n_wants; i++)
		if (is_member(&pl->wants[i], user))
			return pl->wants[i].account;
	return NULL;
}

/* Users: added with a default account; a default account the plan takes
 * away moved to another of theirs; removed when left with none. */
static int plan_users(struct planner *pl)
{
	const struct lr_acct_state *st = pl->st;
	int r = 0;
	/* Members the accounting lacks, once each (labs are sorted). */
	for (size_t i = 0; i < pl->n_wants && r == 0; i++)
		for (size_t k = 0; k < pl->wants[i].n_users && r == 0; k++) {
			const char *u = pl->wants[i].users[k];
			if (!find_user(st, u) && first_lab_of(pl, u) == pl->wants[i].account)
				r = add(pl, LR_ACCT_ADD_USER, pl->wants[i].account, u, NULL, NULL,
					NULL);
		}
	for (size_t i = 0; i < st->n_users && r == 0; i++) {
		const struct lr_acct_user *u = &st->users[i];
		const char *first = first_lab_of(pl, u->name);
		bool lost = false, has_default = false, any = first != NULL;
		const char *other = NULL;
		for (size_t k = 0; k < st->n_assocs; k++) {
			const struct lr_acct_assoc *a = &st->assocs[k];
			if (!a->user || strcmp(a->user, u->name))
				continue;
			if (!survives(pl, a)) {
				lost = true;
				continue;
			}
			any = true;
			if (str_eq(a->account, u->default_account))
				has_default = true;
			if (!other || strcmp(a->account, other) < 0)
				other = a->account;
		}
		if (first && str_eq(first, u->default_account))
			has_default = true;
		if (!any && lost)
			r = add(pl, LR_ACCT_REMOVE_USER, NULL, u->name, NULL, NULL, NULL);
		else if (any && !has_default && (lost || first))
			r = add(pl, LR_ACCT_SET_DEFAULT, first ? first : other, u->name, NULL, NULL,
				NULL);
	}
	return r;
}

static int by_rank(const void *a, const void *b, void *data)
{
	const size_t *rank = data;
	size_t x = rank[*(const size_t *)a], y = rank[*(const size_t *)b];
	return x < y ? -1 : x > y;
}

/* The changes in rank order. */
static int sort_changes(struct planner *pl)
{
	size_t n = pl->plan.n;
	if (n < 2)
		return 0;
	size_t *idx = malloc(n * sizeof(*idx));
	struct lr_acct_change *v = malloc(n * sizeof(*v));
	if (!idx || !v) {
		free(idx);
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), by_rank, pl->rank);
	for (size_t i = 0; i < n; i++)
		v[i] = pl->plan.changes[idx[i]];
	free(pl->plan.changes);
	pl->plan.changes = v;
	free(idx);
	return 0;
}

/* The labrun accounts the policy no longer names, and whether another
 * cluster still has them. */
static int find_gone(struct planner *pl)
{
	const struct lr_acct_state *st = pl->st;
	for (size_t i = 0; i < st->n_accounts; i++) {
		const struct lr_acct_account *a = &st->accounts[i];
		if (!is_labrun(a) || want_of(pl, a->name))
			continue;
		bool whole = true;
		for (size_t k = 0; k < st->n_assocs && whole; k++)
			if (!strcmp(st->assocs[k].account, a->name) &&
			    strcmp(st->assocs[k].cluster, pl->cluster))
				whole = false;
		char **g = realloc(pl->gone, (pl->n_gone + 1) * sizeof(*g));
		if (!g)
			return -ENOMEM;
		pl->gone = g;
		bool *gw = realloc(pl->gone_whole, (pl->n_gone + 1) * sizeof(*gw));
		if (!gw)
			return -ENOMEM;
		pl->gone_whole = gw;
		g[pl->n_gone] = a->name; /* borrowed from st */
		gw[pl->n_gone++] = whole;
	}
	return 0;
}

int lr_acct_plan_make(struct lr_acct_plan *plan, const struct lr_policy *p, const char *cluster,
		      const struct lr_acct_state *st, const struct lr_acct_members *m,
		      struct lr_error *err)
{
	struct planner pl = {.cluster = cluster, .st = st};
	int r = 0;
	pl.wants = calloc(p->n_labs ? p->n_labs : 1, sizeof(*pl.wants));
	if (!pl.wants)
		return lr_error_errno(err, ENOMEM, "plan");
	pl.n_wants = p->n_labs;
	for (size_t i = 0; i < p->n_labs && r == 0; i++) {
		struct want *w = &pl.wants[i];
		w->lab = &p->labs[i];
		if (lr_acct_name(w->account, sizeof(w->account), w->lab->name) < 0) {
			r = lr_error_set(err, ENAMETOOLONG,
					 "%s: the lab's name is longer than a Slurm account's "
					 "(%d characters)",
					 w->lab->file, LR_ACCT_MAX_NAME - 1);
			break;
		}
		for (size_t k = 0; k < i && r == 0; k++)
			if (!strcmp(pl.wants[k].account, w->account))
				r = lr_error_set(
					err, EEXIST,
					"%s and %s: both labs would be the Slurm account %s "
					"(Slurm's account names are in lower case): rename "
					"one",
					pl.wants[k].lab->file, w->lab->file, w->account);
		lr_acct_limits_of(&w->lab->total, &w->limits);
		if (r == 0)
			r = expand(w, m, err);
	}
	if (r == 0)
		r = plan_accounts(&pl, err);
	if (r == 0 && (r = find_gone(&pl)) < 0)
		lr_error_errno(err, -r, "plan");
	if (r == 0 && ((r = plan_removals(&pl)) < 0 || (r = plan_users(&pl)) < 0 ||
		       (r = sort_changes(&pl)) < 0))
		lr_error_errno(err, -r, "plan");
	for (size_t i = 0; i < pl.n_wants; i++)
		free_names(pl.wants[i].users, pl.wants[i].n_users);
	free(pl.wants);
	free(pl.gone);
	free(pl.gone_whole);
	free(pl.rank);
	if (r < 0) {
		lr_acct_plan_free(&pl.plan);
		return r;
	}
	*plan = pl.plan;
	return 0;
}

void lr_acct_plan_free(struct lr_acct_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n; i++) {
		free(plan->changes[i].account);
		free(plan->changes[i].user);
		free(plan->changes[i].lab);
	}
	free(plan->changes);
	*plan = (struct lr_acct_plan){0};
}

/* ---------------------------------------------------------------- text */

const char *lr_acct_op_name(enum lr_acct_op op)
{
	switch (op) {
	case LR_ACCT_ADD_ACCOUNT: return "add-account";
	case LR_ACCT_ADD_ASSOC: return "add-association";
	case LR_ACCT_ADD_USER: return "add-user";
	case LR_ACCT_MODIFY: return "modify-association";
	case LR_ACCT_SET_DEFAULT: return "set-default-account";
	case LR_ACCT_REMOVE_ASSOC: return "remove-association";
	case LR_ACCT_REMOVE_ACCOUNT: return "remove-account";
	case LR_ACCT_REMOVE_USER: return "remove-user";
	}
	return "?";
}

/* "KEY=V" for each limited value, comma-separated, after what buf has. */
static void put(char *buf, size_t len, const char *key, int64_t v, const char *unit)
{
	if (v == LR_ACCT_NONE)
		return;
	size_t at = strlen(buf);
	if (at + 1 < len)
		snprintf(buf + at, len - at, "%s%s=%lld%s", at ? "," : "", key, (long long)v, unit);
}

void lr_acct_tres_text(const struct lr_acct_limits *l, char *buf, size_t len)
{
	buf[0] = '\0';
	put(buf, len, "cpu", l->cpu, "");
	put(buf, len, "mem", l->mem_mb, "M");
	put(buf, len, "gres/gpu", l->gpus, "");
}

void lr_acct_tres_mins_text(const struct lr_acct_limits *l, char *buf, size_t len)
{
	buf[0] = '\0';
	put(buf, len, "gres/gpu", l->gpu_mins, "");
}

/* " GrpTRES=... GrpTRESMins=..." ("none" for a key with no limit). */
static void limits_text(const struct lr_acct_limits *l, char *buf, size_t len)
{
	char t[128], m[64];
	lr_acct_tres_text(l, t, sizeof(t));
	lr_acct_tres_mins_text(l, m, sizeof(m));
	snprintf(buf, len, "GrpTRES=%s GrpTRESMins=%s", t[0] ? t : "none", m[0] ? m : "none");
}

void lr_acct_change_text(const struct lr_acct_change *c, char *buf, size_t len)
{
	char who[2 * LR_ACCT_MAX_NAME + 2], lim[256], old[256];
	snprintf(who, sizeof(who), "%s%s%s", c->account ? c->account : "", c->user ? "/" : "",
		 c->user ? c->user : "");
	limits_text(&c->limits, lim, sizeof(lim));
	limits_text(&c->old, old, sizeof(old));
	switch (c->op) {
	case LR_ACCT_ADD_ACCOUNT:
		snprintf(buf, len, "add account %s (lab %s)", c->account, c->lab);
		break;
	case LR_ACCT_ADD_ASSOC: snprintf(buf, len, "add association %s: %s", who, lim); break;
	case LR_ACCT_ADD_USER:
		snprintf(buf, len, "add user %s (default account %s)", c->user, c->account);
		break;
	case LR_ACCT_MODIFY:
		snprintf(buf, len, "modify association %s: %s (was %s)", who, lim, old);
		break;
	case LR_ACCT_SET_DEFAULT:
		snprintf(buf, len, "set default account of %s: %s", c->user, c->account);
		break;
	case LR_ACCT_REMOVE_ASSOC:
		snprintf(buf, len, "remove association %s%s", who,
			 c->user ? "" : " (and its users' associations)");
		break;
	case LR_ACCT_REMOVE_ACCOUNT:
		snprintf(buf, len, "remove account %s (and its associations)", c->account);
		break;
	case LR_ACCT_REMOVE_USER:
		snprintf(buf, len, "remove user %s (no association left)", c->user);
		break;
	}
}
