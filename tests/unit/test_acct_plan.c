/* test_acct_plan.c - what `labrun-policy sync` changes in Slurm's
 * accounting (lib/quota/acct_plan.c), planned against a fake state with
 * fake users and groups.  Pure; runs as any user. */
#include "build-config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acct_plan.h"
#include "policy.h"

#define C "labrun-local"
#define NONE LR_ACCT_NONE

/* ---------------------------------------------------------------- fakes */

/* Users alice, bob, carol, dave; the group students is carol and dave. */
static int fake_user(const char *name, void *data)
{
	static const char *const known[] = {"alice", "bob", "carol", "dave"};
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(name, known[i]))
			return 0;
	return -ENOENT;
}

static int fake_group(const char *name, char ***users, size_t *n, void *data)
{
	if (strcmp(name, "students"))
		return -ENOENT;
	char **v = calloc(3, sizeof(*v));
	v[0] = strdup("dave");
	v[1] = strdup("carol");
	v[2] = strdup("dave"); /* listed and primary: once */
	*users = v;
	*n = 3;
	return 0;
}

static const struct lr_acct_members fake = {.user = fake_user, .group = fake_group};

/* A policy from (file name, text) pairs, in name order. */
static struct lr_policy policy(size_t n, ...)
{
	struct lr_policy p = {.labs = calloc(n ? n : 1, sizeof(struct lr_lab)), .n_labs = n};
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *path = va_arg(ap, const char *);
		const char *text = va_arg(ap, const char *);
		struct lr_error err = {0};
		assert_int_equal(lr_lab_parse(&p.labs[i], path, text, strlen(text), &err), 0);
	}
	va_end(ap);
	return p;
}

static void add_account(struct lr_acct_state *st, const char *name, const char *org)
{
	st->accounts = realloc(st->accounts, (st->n_accounts + 1) * sizeof(*st->accounts));
	st->accounts[st->n_accounts++] = (struct lr_acct_account){strdup(name), strdup(org)};
}

static void add_assoc(struct lr_acct_state *st, const char *cluster, const char *account,
		      const char *user, struct lr_acct_limits l)
{
	st->assocs = realloc(st->assocs, (st->n_assocs + 1) * sizeof(*st->assocs));
	st->assocs[st->n_assocs++] = (struct lr_acct_assoc){
		.cluster = strdup(cluster),
		.account = strdup(account),
		.user = user ? strdup(user) : NULL,
		.limits = l,
	};
}

static void add_user(struct lr_acct_state *st, const char *name, const char *def)
{
	st->users = realloc(st->users, (st->n_users + 1) * sizeof(*st->users));
	st->users[st->n_users++] = (struct lr_acct_user){strdup(name), def ? strdup(def) : NULL};
}

static const struct lr_acct_limits unlimited = {NONE, NONE, NONE, NONE};

static void drop_assoc(struct lr_acct_state *st, size_t i)
{
	free(st->assocs[i].cluster);
	free(st->assocs[i].account);
	free(st->assocs[i].user);
	free(st->assocs[i].partition);
	st->assocs[i] = st->assocs[--st->n_assocs];
}

/* What slurmdbd would do with plan: a sync's next run sees this. */
static void simulate(struct lr_acct_state *st, const struct lr_acct_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct lr_acct_change *c = &plan->changes[i];
		switch (c->op) {
		case LR_ACCT_ADD_ACCOUNT: add_account(st, c->account, LR_ACCT_ORG); break;
		case LR_ACCT_ADD_ASSOC: add_assoc(st, C, c->account, c->user, c->limits); break;
		case LR_ACCT_ADD_USER: add_user(st, c->user, c->account); break;
		case LR_ACCT_MODIFY:
			for (size_t k = 0; k < st->n_assocs; k++)
				if (!strcmp(st->assocs[k].account, c->account) &&
				    !strcmp(st->assocs[k].user ? st->assocs[k].user : "",
					    c->user ? c->user : ""))
					st->assocs[k].limits = c->limits;
			break;
		case LR_ACCT_SET_DEFAULT:
			for (size_t k = 0; k < st->n_users; k++)
				if (!strcmp(st->users[k].name, c->user)) {
					free(st->users[k].default_account);
					st->users[k].default_account = strdup(c->account);
				}
			break;
		case LR_ACCT_REMOVE_ASSOC:
		case LR_ACCT_REMOVE_ACCOUNT:
			for (size_t k = st->n_assocs; k-- > 0;)
				if (!strcmp(st->assocs[k].account, c->account) &&
				    (!c->user ||
				     (st->assocs[k].user && !strcmp(st->assocs[k].user, c->user))))
					drop_assoc(st, k);
			for (size_t k = 0; c->op == LR_ACCT_REMOVE_ACCOUNT && k < st->n_accounts;
			     k++)
				if (!strcmp(st->accounts[k].name, c->account)) {
					free(st->accounts[k].name);
					free(st->accounts[k].organization);
					st->accounts[k] = st->accounts[--st->n_accounts];
					break;
				}
			break;
		case LR_ACCT_REMOVE_USER:
			for (size_t k = 0; k < st->n_users; k++)
				if (!strcmp(st->users[k].name, c->user)) {
					free(st->users[k].name);
					free(st->users[k].default_account);
					st->users[k] = st->users[--st->n_users];
					break;
				}
			break;
		}
	}
}

/* The plan's lines, one per change, joined by "\n". */
static char *lines(const struct lr_acct_plan *plan)
{
	static char out[16384];
	out[0] = '\0';
	for (size_t i = 0; i < plan->n; i++) {
		char line[512];
		lr_acct_change_text(&plan->changes[i], line, sizeof(line));
		strcat(out, line);
		strcat(out, "\n");
	}
	return out;
}

static void plan_ok(struct lr_acct_plan *plan, const struct lr_policy *p,
		    const struct lr_acct_state *st)
{
	struct lr_error err = {0};
	int r = lr_acct_plan_make(plan, p, C, st, &fake, &err);
	if (r < 0)
		fail_msg("plan: %s", err.msg);
}

/* st made what p asks for: planned and carried out (simulate()). */
static void sync_to(struct lr_acct_state *st, const struct lr_policy *p)
{
	struct lr_acct_plan plan;
	plan_ok(&plan, p, st);
	simulate(st, &plan);
	lr_acct_plan_free(&plan);
}

static void plan_fails(const struct lr_policy *p, const struct lr_acct_state *st, int code,
		       const char *want)
{
	struct lr_acct_plan plan = {0};
	struct lr_error err = {0};
	assert_int_equal(lr_acct_plan_make(&plan, p, C, st, &fake, &err), -code);
	if (!strstr(err.msg, want))
		fail_msg("error '%s' lacks '%s'", err.msg, want);
	assert_int_equal(plan.n, 0);
}

static void free_policy(struct lr_policy *p)
{
	for (size_t i = 0; i < p->n_labs; i++)
		lr_lab_free(&p->labs[i]);
	free(p->labs);
}

static const char physics[] = "[lab]\nmembers = alice, bob\ncores = 64\nmemory = 512G\n"
			      "gpus = 8\ngpu-hours = 5000\n"
			      "[defaults]\ncores = 8\nmemory = 64G\ngpus = 1\ngpu-hours = 500\n"
			      "[member alice]\ncores = 32\ngpus = 4\ngpu-hours = 2000\n";

static struct lr_acct_state fresh(void)
{
	struct lr_acct_state st = {.has_gpu_tres = true};
	add_account(&st, "root", "root");
	add_assoc(&st, C, "root", NULL, unlimited);
	add_assoc(&st, C, "root", "root", unlimited);
	add_user(&st, "root", "root");
	return st;
}

/* ---------------------------------------------------------------- tests */

static void a_new_lab_adds_its_account_members_and_limits(void **state)
{
	struct lr_policy p = policy(1, "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	plan_ok(&plan, &p, &st);
	assert_string_equal(lines(&plan),
			    "add account physics (lab physics)\n"
			    "add association physics: GrpTRES=cpu=64,mem=524288M,gres/gpu=8 "
			    "GrpTRESMins=gres/gpu=300000\n"
			    "add user alice (default account physics)\n"
			    "add user bob (default account physics)\n"
			    "add association physics/alice: GrpTRES=cpu=32,mem=65536M,gres/gpu=4 "
			    "GrpTRESMins=gres/gpu=120000\n"
			    "add association physics/bob: GrpTRES=cpu=8,mem=65536M,gres/gpu=1 "
			    "GrpTRESMins=gres/gpu=30000\n");
	assert_int_equal(plan.changes[4].limits.mem_mb, 65536);
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void a_second_plan_after_the_first_changes_nothing(void **state)
{
	struct lr_policy p = policy(2, "labs.d/chem.conf", "[lab]\nmembers = bob @students\n",
				    "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	plan_ok(&plan, &p, &st);
	assert_true(plan.n > 0);
	simulate(&st, &plan);
	lr_acct_plan_free(&plan);
	plan_ok(&plan, &p, &st);
	assert_string_equal(lines(&plan), "");
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void a_changed_limit_is_one_modification(void **state)
{
	struct lr_policy p = policy(1, "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	sync_to(&st, &p);
	free_policy(&p);
	char text[sizeof(physics) + 16];
	snprintf(text, sizeof(text), "%s", physics);
	memcpy(strstr(text, "cores = 32"), "cores = 16", 10);
	p = policy(1, "labs.d/physics.conf", text);
	plan_ok(&plan, &p, &st);
	assert_string_equal(
		lines(&plan),
		"modify association physics/alice: GrpTRES=cpu=16,mem=65536M,gres/gpu=4 "
		"GrpTRESMins=gres/gpu=120000 (was GrpTRES=cpu=32,mem=65536M,"
		"gres/gpu=4 GrpTRESMins=gres/gpu=120000)\n");
	assert_int_equal(plan.changes[0].old.cpu, 32);
	assert_int_equal(plan.changes[0].limits.cpu, 16);
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void a_member_no_longer_named_loses_the_association_and_the_user(void **state)
{
	struct lr_policy p = policy(1, "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	sync_to(&st, &p);
	free_policy(&p);
	p = policy(1, "labs.d/physics.conf", "[lab]\nmembers = alice\n");
	plan_ok(&plan, &p, &st);
	assert_string_equal(lines(&plan),
			    "modify association physics: GrpTRES=none GrpTRESMins=none (was "
			    "GrpTRES=cpu=64,mem=524288M,gres/gpu=8 GrpTRESMins=gres/gpu=300000)\n"
			    "modify association physics/alice: GrpTRES=none GrpTRESMins=none (was "
			    "GrpTRES=cpu=32,mem=65536M,gres/gpu=4 GrpTRESMins=gres/gpu=120000)\n"
			    "remove association physics/bob\n"
			    "remove user bob (no association left)\n");
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void a_lab_no_longer_named_loses_its_account(void **state)
{
	struct lr_policy p = policy(1, "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	sync_to(&st, &p);
	struct lr_policy none = {0};
	plan_ok(&plan, &none, &st);
	assert_string_equal(lines(&plan), "remove account physics (and its associations)\n"
					  "remove user alice (no association left)\n"
					  "remove user bob (no association left)\n");
	simulate(&st, &plan);
	assert_int_equal(st.n_accounts, 1);
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void a_lab_on_another_cluster_too_loses_only_this_clusters_association(void **state)
{
	struct lr_acct_state st = fresh();
	add_account(&st, "physics", LR_ACCT_ORG);
	add_assoc(&st, C, "physics", NULL, unlimited);
	add_assoc(&st, "other-cluster", "physics", NULL, unlimited);
	struct lr_policy none = {0};
	struct lr_acct_plan plan;
	plan_ok(&plan, &none, &st);
	assert_string_equal(lines(&plan),
			    "remove association physics (and its users' associations)\n");
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
}

static void a_member_of_two_labs_gets_an_association_in_each(void **state)
{
	struct lr_policy p = policy(2, "labs.d/bio.conf", "[lab]\nmembers = alice\ncores = 4\n",
				    "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	plan_ok(&plan, &p, &st);
	const char *l = lines(&plan);
	assert_non_null(strstr(l, "add association bio/alice: GrpTRES=cpu=4 GrpTRESMins=none\n"));
	assert_non_null(strstr(l, "add association physics/alice: GrpTRES=cpu=32,"));
	/* One user, whose default account is the first lab by name. */
	assert_non_null(strstr(l, "add user alice (default account bio)\n"));
	assert_null(strstr(strstr(l, "add user alice") + 1, "add user alice"));
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void another_tools_account_and_users_are_left_alone(void **state)
{
	struct lr_policy p = policy(1, "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	add_account(&st, "bio", "biology");
	add_assoc(&st, C, "bio", NULL, (struct lr_acct_limits){10, NONE, NONE, NONE});
	add_assoc(&st, C, "bio", "carol", unlimited);
	add_assoc(&st, C, "bio", "alice", unlimited);
	add_user(&st, "carol", "bio");
	add_user(&st, "alice", "bio");
	struct lr_acct_plan plan;
	plan_ok(&plan, &p, &st);
	const char *l = lines(&plan);
	assert_null(strstr(l, "bio"));
	assert_null(strstr(l, "carol"));
	/* alice exists: not added, her default account kept. */
	assert_null(strstr(l, "add user alice"));
	assert_null(strstr(l, "default account of alice"));
	simulate(&st, &plan);
	lr_acct_plan_free(&plan);
	struct lr_policy none = {0};
	plan_ok(&plan, &none, &st);
	l = lines(&plan);
	assert_null(strstr(l, "bio"));
	assert_null(strstr(l, "remove user alice"));
	assert_non_null(strstr(l, "remove user bob"));
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void a_lab_named_like_another_tools_account_is_refused(void **state)
{
	struct lr_policy p = policy(1, "labs.d/Bio.conf", "[lab]\nmembers = alice\n");
	struct lr_acct_state st = fresh();
	add_account(&st, "bio", "biology");
	plan_fails(&p, &st, EEXIST,
		   "labs.d/Bio.conf: the Slurm account bio is another tool's (organization "
		   "'biology', not 'labrun')");
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void labs_differing_only_in_case_are_refused(void **state)
{
	struct lr_policy p = policy(2, "labs.d/Bio.conf", "[lab]\nmembers = alice\n",
				    "labs.d/bio.conf", "[lab]\nmembers = bob\n");
	struct lr_acct_state st = fresh();
	plan_fails(&p, &st, EEXIST, "both labs would be the Slurm account bio");
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void unlimited_values_are_no_limit(void **state)
{
	struct lr_policy p = policy(1, "labs.d/open.conf",
				    "[lab]\nmembers = alice\ncores = unlimited\n"
				    "[member alice]\nmemory = unlimited\ngpu-hours = 10\n");
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	plan_ok(&plan, &p, &st);
	assert_string_equal(lines(&plan),
			    "add account open (lab open)\n"
			    "add association open: GrpTRES=none GrpTRESMins=none\n"
			    "add user alice (default account open)\n"
			    "add association open/alice: GrpTRES=none GrpTRESMins=gres/gpu=600\n");
	assert_int_equal(plan.changes[3].limits.cpu, NONE);
	assert_int_equal(plan.changes[3].limits.mem_mb, NONE);
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void memory_is_in_mib_rounded_down_but_never_to_zero(void **state)
{
	struct lr_limits l = {0};
	struct lr_acct_limits a;
	l.set[LR_RES_MEMORY] = true;
	l.value[LR_RES_MEMORY] = 1536ULL * 1024 * 1024 + 5;
	lr_acct_limits_of(&l, &a);
	assert_int_equal(a.mem_mb, 1536);
	l.value[LR_RES_MEMORY] = 512 * 1024;
	lr_acct_limits_of(&l, &a);
	assert_int_equal(a.mem_mb, 1);
}

static void group_members_are_members(void **state)
{
	struct lr_policy p = policy(1, "labs.d/chem.conf", "[lab]\nmembers = @students\n");
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	plan_ok(&plan, &p, &st);
	assert_string_equal(lines(&plan),
			    "add account chem (lab chem)\n"
			    "add association chem: GrpTRES=none GrpTRESMins=none\n"
			    "add user carol (default account chem)\n"
			    "add user dave (default account chem)\n"
			    "add association chem/carol: GrpTRES=none GrpTRESMins=none\n"
			    "add association chem/dave: GrpTRES=none GrpTRESMins=none\n");
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void an_unknown_user_or_group_is_refused(void **state)
{
	struct lr_acct_state st = fresh();
	struct lr_policy p = policy(1, "labs.d/chem.conf", "[lab]\nmembers = alice, mallory\n");
	plan_fails(&p, &st, ENOENT,
		   "labs.d/chem.conf: member mallory: no such user on this machine");
	free_policy(&p);
	p = policy(1, "labs.d/chem.conf", "[lab]\nmembers = @nobody-here\n");
	plan_fails(&p, &st, ENOENT, "labs.d/chem.conf: member @nobody-here: no such group");
	free_policy(&p);
	lr_acct_state_free(&st);
}

static void gpus_without_the_gpu_tres_are_refused(void **state)
{
	struct lr_policy p = policy(1, "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	st.has_gpu_tres = false;
	plan_fails(&p, &st, ENOTSUP, "AccountingStorageTRES=gres/gpu");
	free_policy(&p);
	/* Without GPU limits the TRES is not needed. */
	p = policy(1, "labs.d/cpu.conf", "[lab]\nmembers = alice\ncores = 4\n");
	struct lr_acct_plan plan;
	plan_ok(&plan, &p, &st);
	assert_true(plan.n > 0);
	lr_acct_plan_free(&plan);
	free_policy(&p);
	lr_acct_state_free(&st);
}

static void a_removed_default_account_moves_to_another_of_the_users(void **state)
{
	struct lr_policy p = policy(2, "labs.d/bio.conf", "[lab]\nmembers = alice\n",
				    "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	sync_to(&st, &p);
	free_policy(&p);
	p = policy(1, "labs.d/physics.conf", physics);
	plan_ok(&plan, &p, &st);
	assert_string_equal(lines(&plan), "set default account of alice: physics\n"
					  "remove account bio (and its associations)\n");
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void an_existing_user_without_a_default_gets_the_first_lab(void **state)
{
	struct lr_policy p = policy(1, "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	add_user(&st, "bob", NULL);
	struct lr_acct_plan plan;
	plan_ok(&plan, &p, &st);
	const char *l = lines(&plan);
	assert_null(strstr(l, "add user bob"));
	assert_non_null(strstr(l, "set default account of bob: physics\n"));
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void partition_associations_are_left_alone(void **state)
{
	struct lr_policy p = policy(1, "labs.d/physics.conf", physics);
	struct lr_acct_state st = fresh();
	struct lr_acct_plan plan;
	sync_to(&st, &p);
	add_assoc(&st, C, "physics", "carol", unlimited);
	st.assocs[st.n_assocs - 1].partition = strdup("gpu");
	plan_ok(&plan, &p, &st);
	assert_string_equal(lines(&plan), "");
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	free_policy(&p);
}

static void ops_have_names_for_json(void **state)
{
	assert_string_equal(lr_acct_op_name(LR_ACCT_ADD_ASSOC), "add-association");
	assert_string_equal(lr_acct_op_name(LR_ACCT_REMOVE_USER), "remove-user");
	char buf[64];
	struct lr_acct_limits l = {2, NONE, 1, 60};
	lr_acct_tres_text(&l, buf, sizeof(buf));
	assert_string_equal(buf, "cpu=2,gres/gpu=1");
	lr_acct_tres_mins_text(&l, buf, sizeof(buf));
	assert_string_equal(buf, "gres/gpu=60");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_new_lab_adds_its_account_members_and_limits),
		cmocka_unit_test(a_second_plan_after_the_first_changes_nothing),
		cmocka_unit_test(a_changed_limit_is_one_modification),
		cmocka_unit_test(a_member_no_longer_named_loses_the_association_and_the_user),
		cmocka_unit_test(a_lab_no_longer_named_loses_its_account),
		cmocka_unit_test(a_lab_on_another_cluster_too_loses_only_this_clusters_association),
		cmocka_unit_test(a_member_of_two_labs_gets_an_association_in_each),
		cmocka_unit_test(another_tools_account_and_users_are_left_alone),
		cmocka_unit_test(a_lab_named_like_another_tools_account_is_refused),
		cmocka_unit_test(labs_differing_only_in_case_are_refused),
		cmocka_unit_test(unlimited_values_are_no_limit),
		cmocka_unit_test(memory_is_in_mib_rounded_down_but_never_to_zero),
		cmocka_unit_test(group_members_are_members),
		cmocka_unit_test(an_unknown_user_or_group_is_refused),
		cmocka_unit_test(gpus_without_the_gpu_tres_are_refused),
		cmocka_unit_test(a_removed_default_account_moves_to_another_of_the_users),
		cmocka_unit_test(an_existing_user_without_a_default_gets_the_first_lab),
		cmocka_unit_test(partition_associations_are_left_alone),
		cmocka_unit_test(ops_have_names_for_json),
	};
	return cmocka_run_group_tests_name("acct_plan", tests, NULL, NULL);
}
