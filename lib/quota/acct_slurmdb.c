/* acct_slurmdb.c - slurmdbd through libslurm's slurmdb API, for
 * `labrun-policy sync` (acct_slurmdb.h).  Runs as root.
 *
 * Why the API and not sacctmgr: one persistent connection and one
 * request per kind of change (2,000 associations in one message), where
 * sacctmgr costs a process, a connection and a parse of its output per
 * command; and slurmdbd's per-connection transaction, so that a failure
 * half-way rolls everything back (doc/DECISIONS.md, "Lab budgets in Slurm
 * accounting").  libslurm's errors are translated here only.
 *
 * Memory: the records and lists handed to libslurm are labrun's, made
 * with no destructor (libslurm's xfree() must never see malloc()'s
 * pointers); the lists libslurm returns are destroyed by libslurm.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <slurm/slurmdb.h>

#include "acct_slurmdb.h"
#include "acct_slurmdb_int.h"
#include "lazy.h"

/* ---------------------------------------------------------------- libslurm's log */

/* libslurm logs to stderr, several lines per failure ("error: Sending
 * PersistInit msg: Connection refused" three times over); sync's
 * messages are one line each.  While a call runs, stderr is a memfd;
 * its last "error: " line becomes the cause of a failure. */
void lr_acct_db_hush(struct lr_acct_db *db)
{
	db->why[0] = '\0';
	db->saved_fd = db->log_fd = -1;
	if (db->verbose)
		return;
	fflush(stderr);
	db->log_fd = memfd_create("libslurm-log", MFD_CLOEXEC);
	if (db->log_fd >= 0)
		db->saved_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (db->saved_fd >= 0)
		dup2(db->log_fd, STDERR_FILENO);
}

void lr_acct_db_unhush(struct lr_acct_db *db)
{
	int e = errno;
	if (db->saved_fd >= 0) {
		fflush(stderr);
		dup2(db->saved_fd, STDERR_FILENO);
		close(db->saved_fd);
		char buf[4096];
		off_t end = lseek(db->log_fd, 0, SEEK_END);
		off_t at = end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
		ssize_t n = pread(db->log_fd, buf, sizeof(buf) - 1, at);
		buf[n > 0 ? n : 0] = '\0';
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
			char *m = strstr(line, "error: ");
			if (m)
				snprintf(db->why, sizeof(db->why), "%s", m + 7);
		}
	}
	if (db->log_fd >= 0)
		close(db->log_fd);
	db->saved_fd = db->log_fd = -1;
	errno = e;
}

/* "slurmdbd at HOST:PORT: WHAT: CAUSE", CAUSE from the log or errno. */
int lr_acct_db_fail(struct lr_acct_db *db, struct lr_error *err, int e, const char *what)
{
	const char *cause = db->why[0] ? db->why : e ? slurm_strerror(e) : "failed";
	return lr_error_set(err, EIO, "%s: %s: %s", db->where, what, cause);
}

/* ---------------------------------------------------------------- open */

int lr_acct_db_open(struct lr_acct_db **out, bool verbose, struct lr_error *err)
{
	const char *conf = secure_getenv("SLURM_CONF");
	if (!conf || !*conf)
		conf = LR_SLURM_CONF;
	if (access(conf, R_OK) < 0)
		return lr_error_errno(err, errno,
				      "Slurm's configuration %s (where labrun finds slurmdbd; "
				      "SLURM_CONF names another)",
				      conf);
	if (lr_lazy_slurm_load() < 0) {
		const char *why = lr_lazy_failure(LR_SONAME_SLURM);
		return lr_error_set(err, ENOSYS,
				    "%s: install Slurm's library on this machine (Debian: "
				    "libslurm38, Slurm 22.05's)",
				    why ? why : LR_SONAME_SLURM);
	}
	struct lr_acct_db *db = calloc(1, sizeof(*db));
	if (!db)
		return lr_error_errno(err, ENOMEM, "slurmdbd");
	db->verbose = verbose;
	db->saved_fd = db->log_fd = -1;
	/* Not hushed: on a configuration it cannot read, slurm_init()
	 * exits, and its reason must reach the admin. */
	slurm_init(conf);
	const slurm_conf_t *c = lr_slurm_conf();
	int r = 0;
	if (!c || !c->cluster_name || !*c->cluster_name)
		r = lr_error_set(err, EINVAL, "%s: no ClusterName", conf);
	else if (!c->accounting_storage_type || !strstr(c->accounting_storage_type, "slurmdbd"))
		r = lr_error_set(err, ENOTSUP,
				 "%s: AccountingStorageType is %s, not "
				 "accounting_storage/slurmdbd: the lab budgets need Slurm's "
				 "accounting database",
				 conf,
				 c->accounting_storage_type ? c->accounting_storage_type : "unset");
	if (r < 0) {
		free(db);
		return r;
	}
	snprintf(db->cluster, sizeof(db->cluster), "%s", c->cluster_name);
	snprintf(db->where, sizeof(db->where), "slurmdbd at %s:%u",
		 c->accounting_storage_host ? c->accounting_storage_host : "localhost",
		 c->accounting_storage_port);
	uint16_t flags = 0;
	db->conn = QUIET(db, slurmdb_connection_get(&flags));
	if (!db->conn) {
		r = lr_acct_db_fail(db, err, errno, "cannot connect");
		free(db);
		return r;
	}
	*out = db;
	return 0;
}

const char *lr_acct_db_cluster(const struct lr_acct_db *db)
{
	return db->cluster;
}

void lr_acct_db_close(struct lr_acct_db *db)
{
	if (!db)
		return;
	if (db->conn)
		QUIET(db, slurmdb_connection_close(&db->conn));
	free(db);
}

/* ---------------------------------------------------------------- read */

/* "1=8,2=65536,1001=2" into l: cpu, mem, gres/gpu (or, for minutes, the
 * GPU-minutes).  Other TRES are not labrun's and are left out. */
void lr_acct_db_tres_parse(const char *s, const struct lr_acct_db *db, bool mins,
			   struct lr_acct_limits *l)
{
	uint32_t gpu_id = db->gpu_id;
	while (s && *s) {
		char *end;
		unsigned long id = strtoul(s, &end, 10);
		if (*end != '=')
			return;
		unsigned long long v = strtoull(end + 1, &end, 10);
		int64_t val = v == INFINITE64 || v == NO_VAL64 || v > INT64_MAX ? LR_ACCT_NONE
										: (int64_t)v;
		if (mins && gpu_id && id == gpu_id)
			l->gpu_mins = val;
		else if (!mins && id == db->cpu_id)
			l->cpu = val;
		else if (!mins && id == db->mem_id)
			l->mem_mb = val;
		else if (!mins && gpu_id && id == gpu_id)
			l->gpus = val;
		s = *end == ',' ? end + 1 : NULL;
	}
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Each record of list through fn into st; -ENOMEM when a copy fails. */
static int each(List list, int (*fn)(void *rec, struct lr_acct_db *db, struct lr_acct_state *st),
		struct lr_acct_db *db, struct lr_acct_state *st)
{
	ListIterator it = slurm_list_iterator_create(list);
	void *rec;
	int r = 0;
	while (r == 0 && (rec = slurm_list_next(it)))
		r = fn(rec, db, st);
	slurm_list_iterator_destroy(it);
	return r;
}

static int take_tres(void *rec, struct lr_acct_db *db, struct lr_acct_state *st)
{
	const slurmdb_tres_rec_t *t = rec;
	if (t->type && t->name && !strcmp(t->type, "gres") && !strcmp(t->name, "gpu"))
		db->gpu_id = t->id;
	else if (t->type && !t->name && !strcmp(t->type, "cpu"))
		db->cpu_id = t->id;
	else if (t->type && !t->name && !strcmp(t->type, "mem"))
		db->mem_id = t->id;
	return 0;
}

static int take_account(void *rec, struct lr_acct_db *db, struct lr_acct_state *st)
{
	const slurmdb_account_rec_t *a = rec;
	struct lr_acct_account *v = realloc(st->accounts, (st->n_accounts + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->accounts = v;
	v[st->n_accounts] =
		(struct lr_acct_account){dup_or_null(a->name), dup_or_null(a->organization)};
	if (!v[st->n_accounts++].name)
		return -ENOMEM;
	return 0;
}

static int take_user(void *rec, struct lr_acct_db *db, struct lr_acct_state *st)
{
	const slurmdb_user_rec_t *u = rec;
	struct lr_acct_user *v = realloc(st->users, (st->n_users + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->users = v;
	v[st->n_users] = (struct lr_acct_user){dup_or_null(u->name), dup_or_null(u->default_acct)};
	if (!v[st->n_users++].name)
		return -ENOMEM;
	return 0;
}

static int take_assoc(void *rec, struct lr_acct_db *db, struct lr_acct_state *st)
{
	const slurmdb_assoc_rec_t *a = rec;
	if (!a->acct || !a->cluster)
		return 0;
	struct lr_acct_assoc *v = realloc(st->assocs, (st->n_assocs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->assocs = v;
	struct lr_acct_assoc *n = &v[st->n_assocs++];
	*n = (struct lr_acct_assoc){
		.cluster = strdup(a->cluster),
		.account = strdup(a->acct),
		.user = a->user && *a->user ? strdup(a->user) : NULL,
		.partition = a->partition && *a->partition ? strdup(a->partition) : NULL,
		.limits = {LR_ACCT_NONE, LR_ACCT_NONE, LR_ACCT_NONE, LR_ACCT_NONE},
		.is_default = a->user && *a->user && a->is_def == 1,
	};
	if (!n->cluster || !n->account || (a->user && *a->user && !n->user) ||
	    (a->partition && *a->partition && !n->partition))
		return -ENOMEM;
	lr_acct_db_tres_parse(a->grp_tres, db, false, &n->limits);
	lr_acct_db_tres_parse(a->grp_tres_mins, db, true, &n->limits);
	return 0;
}

int lr_acct_db_read_tres(struct lr_acct_db *db, struct lr_error *err)
{
	slurmdb_tres_cond_t tc;
	slurmdb_init_tres_cond(&tc, false);
	List l = QUIET(db, slurmdb_tres_get(db->conn, &tc));
	if (!l)
		return lr_acct_db_fail(db, err, errno, "read the TRES");
	int r = each(l, take_tres, db, NULL);
	slurm_list_destroy(l);
	return r;
}

int lr_acct_db_read(struct lr_acct_db *db, struct lr_acct_state *out, struct lr_error *err)
{
	struct lr_acct_state st = {0};
	slurmdb_assoc_cond_t ac = {.without_parent_info = 1, .without_parent_limits = 1};
	slurmdb_assoc_cond_t empty_a = {0}, empty_u = {0};
	slurmdb_account_cond_t acc = {.assoc_cond = &empty_a};
	slurmdb_user_cond_t uc = {.assoc_cond = &empty_u};
	static const char *const what[] = {"read the TRES", "read the accounts", "read the users",
					   "read the associations"};
	int r = lr_acct_db_read_tres(db, err);
	for (int k = 1; k < 4 && r == 0; k++) {
		List l = k == 1	  ? QUIET(db, slurmdb_accounts_get(db->conn, &acc))
			 : k == 2 ? QUIET(db, slurmdb_users_get(db->conn, &uc))
				  : QUIET(db, slurmdb_associations_get(db->conn, &ac));
		if (!l) {
			r = lr_acct_db_fail(db, err, errno, what[k]);
			break;
		}
		r = each(l, k == 1 ? take_account : k == 2 ? take_user : take_assoc, db, &st);
		slurm_list_destroy(l);
		if (r < 0)
			lr_error_errno(err, -r, "%s: %s", db->where, what[k]);
	}
	/* slurmdbd keeps a user's default account as the flag is_def of
	 * an association of each cluster's, and users_get() fills in
	 * default_acct only with every user's associations: taken from
	 * this cluster's instead. */
	for (size_t i = 0; r == 0 && i < st.n_users; i++) {
		free(st.users[i].default_account);
		st.users[i].default_account = NULL;
	}
	for (size_t i = 0; r == 0 && i < st.n_assocs; i++) {
		const struct lr_acct_assoc *a = &st.assocs[i];
		if (!a->is_default || strcmp(a->cluster, db->cluster))
			continue;
		for (size_t k = 0; k < st.n_users; k++)
			if (!strcmp(st.users[k].name, a->user) && !st.users[k].default_account &&
			    !(st.users[k].default_account = strdup(a->account)))
				r = lr_error_errno(err, ENOMEM, "%s: default accounts", db->where);
	}
	if (r == 0 && (!db->cpu_id || !db->mem_id))
		r = lr_error_set(err, EPROTO, "%s: the TRES cpu and mem are missing", db->where);
	if (r < 0) {
		lr_acct_state_free(&st);
		return r;
	}
	st.has_gpu_tres = db->gpu_id != 0;
	*out = st;
	return 0;
}

/* ---------------------------------------------------------------- changes */

List lr_acct_db_names(const char *const *v, size_t n)
{
	List l = slurm_list_create(NULL);
	for (size_t i = 0; l && i < n; i++)
		slurm_list_append(l, (void *)v[i]);
	return l;
}

void lr_acct_db_drop(List l)
{
	if (l)
		slurm_list_destroy(l);
}

/* "1=8,2=65536,1001=1": the limits as slurmdbd takes them; with all,
 * every key, -1 for none (slurmdbd then lifts that limit), else the set
 * ones only. */
static void tres_string(const struct lr_acct_db *db, const struct lr_acct_limits *l, bool mins,
			bool all, char *buf, size_t len)
{
	struct {
		uint32_t id;
		int64_t v;
	} keys[3] = {{db->cpu_id, l->cpu}, {db->mem_id, l->mem_mb}, {db->gpu_id, l->gpus}};
	if (mins)
		keys[0] = (typeof(keys[0])){db->gpu_id, l->gpu_mins};
	buf[0] = '\0';
	for (int k = 0; k < (mins ? 1 : 3); k++) {
		if (!keys[k].id || (!all && keys[k].v == LR_ACCT_NONE))
			continue;
		size_t at = strlen(buf);
		snprintf(buf + at, len - at, "%s%" PRIu32 "=%" PRId64, at ? "," : "", keys[k].id,
			 keys[k].v);
	}
}

/* The condition "this cluster, account, these users (\"\": the account's
 * own association), no partition". */
struct cond {
	slurmdb_assoc_cond_t c;
	const char *cluster, *account, *none;
};

static int cond_make(struct cond *k, const struct lr_acct_db *db, const char *account,
		     const char *const *users, size_t n_users)
{
	*k = (struct cond){.cluster = db->cluster, .account = account, .none = ""};
	k->c.cluster_list = lr_acct_db_names(&k->cluster, 1);
	k->c.acct_list = lr_acct_db_names(&k->account, 1);
	k->c.partition_list = lr_acct_db_names(&k->none, 1);
	k->c.user_list = n_users ? lr_acct_db_names(users, n_users) : lr_acct_db_names(&k->none, 1);
	return k->c.cluster_list && k->c.acct_list && k->c.partition_list && k->c.user_list
		       ? 0
		       : -ENOMEM;
}

static void cond_free(struct cond *k)
{
	lr_acct_db_drop(k->c.cluster_list);
	lr_acct_db_drop(k->c.acct_list);
	lr_acct_db_drop(k->c.partition_list);
	lr_acct_db_drop(k->c.user_list);
}

/* Set the limits of account's associations for users (none: the
 * account's own) to l. */
static int modify(struct lr_acct_db *db, const char *account, const char *const *users, size_t n,
		  const struct lr_acct_limits *l, struct lr_error *err)
{
	struct cond k;
	char tres[128], mins[64];
	slurmdb_assoc_rec_t rec;
	slurmdb_init_assoc_rec(&rec, false);
	tres_string(db, l, false, true, tres, sizeof(tres));
	tres_string(db, l, true, true, mins, sizeof(mins));
	rec.grp_tres = tres;
	rec.grp_tres_mins = mins[0] ? mins : NULL;
	int r = cond_make(&k, db, account, users, n);
	List done = r == 0 ? QUIET(db, slurmdb_associations_modify(db->conn, &k.c, &rec)) : NULL;
	if (r == 0 && !done)
		r = lr_acct_db_fail(db, err, errno, "modify associations");
	lr_acct_db_drop(done);
	cond_free(&k);
	return r < 0 ? r : 0;
}

/* Remove account's associations for users (none: the account's own, and
 * its users' with it).  1 when slurmdbd refused because jobs run there. */
static int remove_assocs(struct lr_acct_db *db, const char *account, const char *const *users,
			 size_t n, struct lr_error *err)
{
	struct cond k;
	int r = cond_make(&k, db, account, users, n);
	List done = r == 0 ? QUIET(db, slurmdb_associations_remove(db->conn, &k.c)) : NULL;
	int e = errno;
	if (r == 0 && e == ESLURM_JOBS_RUNNING_ON_ASSOC)
		r = 1;
	else if (r == 0 && !done)
		r = lr_acct_db_fail(db, err, e, "remove associations");
	lr_acct_db_drop(done);
	cond_free(&k);
	return r;
}

/* Changes [i, j) of plan: one kind, made together. */
static int run(struct lr_acct_db *db, const struct lr_acct_plan *plan, size_t i, size_t j,
	       enum lr_acct_outcome *out, struct lr_error *err);

int lr_acct_db_apply(struct lr_acct_db *db, const struct lr_acct_plan *plan,
		     enum lr_acct_outcome *out, struct lr_error *err)
{
	int r = 0;
	for (size_t i = 0; i < plan->n; i++)
		out[i] = LR_ACCT_DONE;
	for (size_t i = 0, j; i < plan->n && r == 0; i = j) {
		const struct lr_acct_change *c = &plan->changes[i];
		for (j = i + 1; j < plan->n && plan->changes[j].op == c->op &&
				!plan->changes[j].user == !c->user;
		     j++)
			;
		r = run(db, plan, i, j, out, err);
	}
	if (r == 0 && QUIET(db, slurmdb_connection_commit(db->conn, true)) != SLURM_SUCCESS)
		r = lr_acct_db_fail(db, err, errno, "commit");
	if (r < 0)
		QUIET(db, slurmdb_connection_commit(db->conn, false));
	return r;
}

/* The zero that stands for a removal slurmdbd refused (acct_slurmdb.h). */
static const struct lr_acct_limits zero = {0, 0, 0, 0};

static int add_accounts(struct lr_acct_db *db, const struct lr_acct_change *c, size_t n,
			struct lr_error *err)
{
	slurmdb_account_rec_t *recs = calloc(n, sizeof(*recs));
	char **desc = calloc(n, sizeof(*desc));
	List l = recs && desc ? slurm_list_create(NULL) : NULL;
	int r = l ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (asprintf(&desc[i], "lab %s (labrun-policy sync)", c[i].lab) < 0) {
			desc[i] = NULL;
			r = -ENOMEM;
			break;
		}
		recs[i] = (slurmdb_account_rec_t){
			.name = c[i].account, .description = desc[i], .organization = LR_ACCT_ORG};
		slurm_list_append(l, &recs[i]);
	}
	if (r == 0 && QUIET(db, slurmdb_accounts_add(db->conn, l)) != SLURM_SUCCESS)
		r = lr_acct_db_fail(db, err, errno, "add accounts");
	else if (r < 0)
		lr_error_errno(err, -r, "add accounts");
	lr_acct_db_drop(l);
	for (size_t i = 0; desc && i < n; i++)
		free(desc[i]);
	free(desc);
	free(recs);
	return r;
}

/* The new user whose default account this association is. */
static bool is_default(const struct lr_acct_plan *plan, const struct lr_acct_change *c)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->changes[i].op == LR_ACCT_ADD_USER &&
		    !strcmp(plan->changes[i].user, c->user))
			return !strcmp(plan->changes[i].account, c->account);
	return false;
}

static int add_assocs(struct lr_acct_db *db, const struct lr_acct_plan *plan,
		      const struct lr_acct_change *c, size_t n, struct lr_error *err)
{
	slurmdb_assoc_rec_t *recs = calloc(n, sizeof(*recs));
	char(*tres)[2][128] = calloc(n, sizeof(*tres));
	List l = recs && tres ? slurm_list_create(NULL) : NULL;
	int r = l ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		slurmdb_assoc_rec_t *a = &recs[i];
		slurmdb_init_assoc_rec(a, false);
		a->cluster = db->cluster;
		a->acct = c[i].account;
		a->user = c[i].user;
		a->parent_acct = c[i].user ? NULL : (char *)LR_ACCT_PARENT;
		a->is_def = c[i].user && is_default(plan, &c[i]) ? 1 : 0;
		tres_string(db, &c[i].limits, false, false, tres[i][0], sizeof(tres[i][0]));
		tres_string(db, &c[i].limits, true, false, tres[i][1], sizeof(tres[i][1]));
		a->grp_tres = tres[i][0][0] ? tres[i][0] : NULL;
		a->grp_tres_mins = tres[i][1][0] ? tres[i][1] : NULL;
		slurm_list_append(l, a);
	}
	if (r == 0 && QUIET(db, slurmdb_associations_add(db->conn, l)) != SLURM_SUCCESS)
		r = lr_acct_db_fail(db, err, errno, "add associations");
	else if (r < 0)
		lr_error_errno(err, -r, "add associations");
	lr_acct_db_drop(l);
	free(tres);
	free(recs);
	return r;
}

static int add_users(struct lr_acct_db *db, const struct lr_acct_change *c, size_t n,
		     struct lr_error *err)
{
	slurmdb_user_rec_t *recs = calloc(n, sizeof(*recs));
	List l = recs ? slurm_list_create(NULL) : NULL;
	if (!l) {
		free(recs);
		return lr_error_errno(err, ENOMEM, "add users");
	}
	for (size_t i = 0; i < n; i++) {
		recs[i] = (slurmdb_user_rec_t){.admin_level = SLURMDB_ADMIN_NONE,
					       .name = c[i].user,
					       .default_acct = c[i].account,
					       .uid = NO_VAL};
		slurm_list_append(l, &recs[i]);
	}
	int r = QUIET(db, slurmdb_users_add(db->conn, l)) == SLURM_SUCCESS
			? 0
			: lr_acct_db_fail(db, err, errno, "add users");
	lr_acct_db_drop(l);
	free(recs);
	return r;
}

/* users (n) of one kind of change: modified to the same limits, given the
 * same default account, or removed from the same account, in one request
 * each; fn makes it. */
static int grouped(struct lr_acct_db *db, const struct lr_acct_change *c, size_t n,
		   enum lr_acct_outcome *out, struct lr_error *err)
{
	const char **users = calloc(n + 1, sizeof(*users));
	bool *done = calloc(n + 1, sizeof(*done));
	int r = users && done ? 0 : lr_error_errno(err, ENOMEM, "group changes");
	for (size_t i = 0; i < n && r == 0; i++) {
		if (done[i])
			continue;
		size_t cnt = 0;
		for (size_t k = i; k < n; k++)
			if (!done[k] && !strcmp(c[k].account, c[i].account) &&
			    !memcmp(&c[k].limits, &c[i].limits, sizeof(c[k].limits))) {
				done[k] = true;
				if (c[k].user)
					users[cnt++] = c[k].user;
			}
		if (c[i].op == LR_ACCT_MODIFY) {
			r = modify(db, c[i].account, users, cnt, &c[i].limits, err);
		} else if (c[i].op == LR_ACCT_SET_DEFAULT) {
			slurmdb_assoc_cond_t ac = {.user_list = lr_acct_db_names(users, cnt)};
			slurmdb_user_cond_t uc = {.assoc_cond = &ac};
			slurmdb_user_rec_t rec = {.default_acct = c[i].account, .uid = NO_VAL};
			List l = ac.user_list ? QUIET(db, slurmdb_users_modify(db->conn, &uc, &rec))
					      : NULL;
			if (!l)
				r = lr_acct_db_fail(db, err, errno, "set default accounts");
			lr_acct_db_drop(l);
			lr_acct_db_drop(ac.user_list);
		} else {
			r = remove_assocs(db, c[i].account, users, cnt, err);
			/* Jobs run under one of them: one at a time, and
			 * those refused get limits of 0. */
			for (size_t k = i; r == 1 && k < n; k++) {
				if (strcmp(c[k].account, c[i].account))
					continue;
				const char *u[1] = {c[k].user};
				int q = remove_assocs(db, c[k].account, u, c[k].user ? 1 : 0, err);
				if (q == 1) {
					q = modify(db, c[k].account, u, c[k].user ? 1 : 0, &zero,
						   err);
					out[k] = LR_ACCT_ZEROED;
				}
				if (q < 0)
					r = q;
			}
			if (r == 1)
				r = 0;
		}
	}
	free(users);
	free(done);
	return r;
}

/* Accounts removed as a whole, one at a time: one with running jobs is
 * zeroed instead. */
static int remove_accounts(struct lr_acct_db *db, const struct lr_acct_change *c, size_t n,
			   enum lr_acct_outcome *out, struct lr_error *err)
{
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		slurmdb_assoc_cond_t ac = {
			.acct_list = lr_acct_db_names((const char *const *)&c[i].account, 1)};
		slurmdb_account_cond_t cond = {.assoc_cond = &ac};
		List l = ac.acct_list ? QUIET(db, slurmdb_accounts_remove(db->conn, &cond)) : NULL;
		int e = errno;
		if (e == ESLURM_JOBS_RUNNING_ON_ASSOC) {
			r = modify(db, c[i].account, NULL, 0, &zero, err);
			out[i] = LR_ACCT_ZEROED;
		} else if (!l) {
			r = lr_acct_db_fail(db, err, e, "remove accounts");
		}
		lr_acct_db_drop(l);
		lr_acct_db_drop(ac.acct_list);
	}
	return r;
}

/* Users left with no association; not those whose last one was zeroed. */
static int remove_users(struct lr_acct_db *db, const struct lr_acct_plan *plan,
			const struct lr_acct_change *c, size_t n, const enum lr_acct_outcome *out,
			struct lr_error *err)
{
	const char **users = calloc(n + 1, sizeof(*users));
	if (!users)
		return lr_error_errno(err, ENOMEM, "remove users");
	size_t cnt = 0;
	for (size_t i = 0; i < n; i++) {
		bool kept = false;
		for (size_t k = 0; k < plan->n; k++)
			if (out[k] == LR_ACCT_ZEROED && plan->changes[k].user &&
			    !strcmp(plan->changes[k].user, c[i].user))
				kept = true;
		if (!kept)
			users[cnt++] = c[i].user;
	}
	int r = 0;
	if (cnt) {
		slurmdb_assoc_cond_t ac = {.user_list = lr_acct_db_names(users, cnt)};
		slurmdb_user_cond_t uc = {.assoc_cond = &ac};
		List l = ac.user_list ? QUIET(db, slurmdb_users_remove(db->conn, &uc)) : NULL;
		if (!l)
			r = lr_acct_db_fail(db, err, errno, "remove users");
		lr_acct_db_drop(l);
		lr_acct_db_drop(ac.user_list);
	}
	free(users);
	return r;
}

static int run(struct lr_acct_db *db, const struct lr_acct_plan *plan, size_t i, size_t j,
	       enum lr_acct_outcome *out, struct lr_error *err)
{
	const struct lr_acct_change *c = &plan->changes[i];
	size_t n = j - i;
	switch (c->op) {
	case LR_ACCT_ADD_ACCOUNT: return add_accounts(db, c, n, err);
	case LR_ACCT_ADD_ASSOC: return add_assocs(db, plan, c, n, err);
	case LR_ACCT_ADD_USER: return add_users(db, c, n, err);
	case LR_ACCT_MODIFY:
	case LR_ACCT_SET_DEFAULT:
	case LR_ACCT_REMOVE_ASSOC: return grouped(db, c, n, out + i, err);
	case LR_ACCT_REMOVE_ACCOUNT: return remove_accounts(db, c, n, out + i, err);
	case LR_ACCT_REMOVE_USER: return remove_users(db, plan, c, n, out, err);
	}
	return 0;
}
