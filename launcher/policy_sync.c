/* policy_sync.c - `labrun-policy sync` (policy_sync.h): load the policy,
 * read slurmdbd's state, plan (lib/quota/acct_plan.h), make the changes
 * (lib/quota/acct_slurmdb.h), say each one.
 *
 * All or nothing: a policy that does not load, a member unknown to this
 * machine, a slurmdbd that cannot be reached or refuses a change leave
 * the accounting as it was ("nothing changed"); a dry run and the real
 * run print the same lines (the dry run's start with "would").
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "acct_plan.h"
#include "acct_slurmdb.h"
#include "cleanup.h"
#include "escape.h"
#include "policy.h"
#include "policy_sync.h"

/* Two syncs at once would plan against each other's half-made changes. */
#define SYNC_LOCK "/run/labrun-policy-sync.lock"

#define OK 0
#define FAILED 1
#define USAGE 2

static const char sync_usage[] =
	"Usage: labrun-policy [-d DIR] sync [--dry-run] [--json] [-v] [-d DIR]\n"
	"\n"
	"As root on the Slurm controller: make Slurm's accounting hold the labs'\n"
	"cluster-wide budgets: an account per lab (organization 'labrun'), an\n"
	"association per member under it, GrpTRES (cores, memory, GPUs at once)\n"
	"and GrpTRESMins (GPU-hours) from the lab's total and each member's\n"
	"allocation; what the policy no longer names is removed.  Accounts of\n"
	"other tools are never changed.  Group members are read now.\n"
	"\n"
	"  -n, --dry-run  print what would change, change nothing\n"
	"      --json     print the changes as a JSON array of objects\n"
	"  -v, --verbose  show libslurm's own log lines\n"
	"  -d, --dir DIR  read the lab files from DIR\n"
	"\n"
	"slurmdbd is the one slurm.conf names (SLURM_CONF, else " LR_SLURM_CONF ").\n";

static int sync_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sync_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "labrun-policy: sync: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see labrun-policy sync --help)\n");
	va_end(ap);
	return USAGE;
}

/* A change's line, safe for a terminal (names come from slurmdbd too). */
static void change_line(const struct lr_acct_change *c, enum lr_acct_outcome o, bool dry, char *out,
			size_t len)
{
	char text[512];
	lr_acct_change_text(c, text, sizeof(text));
	if (o == LR_ACCT_ZEROED) {
		char who[2 * LR_ACCT_MAX_NAME + 2];
		snprintf(who, sizeof(who), "%s%s%s", c->account ? c->account : "",
			 c->user ? "/" : "", c->user ? c->user : "");
		snprintf(text, sizeof(text),
			 "keep association %s with limits of 0: jobs still run under it (the "
			 "next sync removes it)",
			 who);
	}
	char shown[sizeof(text) * 4];
	lr_escape_str(shown, sizeof(shown), text);
	snprintf(out, len, "%s%s", dry ? "would " : "", shown);
}

static json_t *change_json(const struct lr_acct_change *c, enum lr_acct_outcome o, bool dry)
{
	char tres[128], mins[64], old_tres[128], old_mins[64];
	lr_acct_tres_text(&c->limits, tres, sizeof(tres));
	lr_acct_tres_mins_text(&c->limits, mins, sizeof(mins));
	lr_acct_tres_text(&c->old, old_tres, sizeof(old_tres));
	lr_acct_tres_mins_text(&c->old, old_mins, sizeof(old_mins));
	json_t *j = json_pack("{s:s, s:s?, s:s?, s:s?, s:s}", "op", lr_acct_op_name(c->op),
			      "account", c->account, "user", c->user, "lab", c->lab, "result",
			      dry		    ? "planned"
			      : o == LR_ACCT_ZEROED ? "zeroed"
						    : "done");
	if (j && (c->op == LR_ACCT_ADD_ASSOC || c->op == LR_ACCT_MODIFY)) {
		json_object_set_new(j, "GrpTRES", json_string(tres));
		json_object_set_new(j, "GrpTRESMins", json_string(mins));
	}
	if (j && c->op == LR_ACCT_MODIFY) {
		json_object_set_new(j, "old_GrpTRES", json_string(old_tres));
		json_object_set_new(j, "old_GrpTRESMins", json_string(old_mins));
	}
	return j;
}

/* The changes, as lines or JSON. */
static int report(const struct lr_acct_plan *plan, const enum lr_acct_outcome *out, bool dry,
		  bool json, const char *cluster)
{
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < plan->n; i++)
			if (json_array_append_new(a, change_json(&plan->changes[i], out[i], dry)) <
			    0)
				break;
		char *s = a ? json_dumps(a, JSON_INDENT(2)) : NULL;
		json_decref(a);
		if (!s) {
			fprintf(stderr, "labrun-policy: sync: out of memory\n");
			return FAILED;
		}
		puts(s);
		free(s);
		return OK;
	}
	for (size_t i = 0; i < plan->n; i++) {
		char line[4096];
		change_line(&plan->changes[i], out[i], dry, line, sizeof(line));
		puts(line);
	}
	if (!plan->n) {
		char shown[LR_ACCT_MAX_NAME * 8];
		lr_escape_str(shown, sizeof(shown), cluster);
		printf("nothing to change: Slurm's accounting (cluster %s) matches the policy\n",
		       shown);
	}
	return OK;
}

int lr_policy_sync(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'}, {"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'}, {"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},    {NULL, 0, NULL, 0}};
	bool dry = false, json = false, verbose = false;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+:nvd:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': dry = true; break;
		case 'j': json = true; break;
		case 'v': verbose = true; break;
		case 'd': dir = optarg; break;
		case 'h': fputs(sync_usage, stdout); return OK;
		case ':': return sync_usage_error("option '%s' needs a value", argv[optind - 1]);
		default: return sync_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return sync_usage_error("sync takes no operand, not '%s'", argv[optind]);
	if (!dry && geteuid() != 0) {
		fprintf(stderr, "labrun-policy: sync: only root can change Slurm's accounting "
				"(--dry-run shows what sync would do)\n");
		return FAILED;
	}
	_cleanup_close_ int lock = -1;
	if (!dry) {
		lock = open(SYNC_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (lock < 0 || flock(lock, LOCK_EX) < 0) {
			fprintf(stderr, "labrun-policy: sync: lock %s: %s\n", SYNC_LOCK,
				strerror(errno));
			return FAILED;
		}
	}
	/* The whole policy loads, or nothing changes. */
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, false, &err) < 0) {
		fprintf(stderr, "labrun-policy: sync: %s: nothing changed\n", err.msg);
		return FAILED;
	}
	struct lr_acct_db *db = NULL;
	struct lr_acct_state st = {0};
	struct lr_acct_plan plan = {0};
	enum lr_acct_outcome *out = NULL;
	int r = lr_acct_db_open(&db, verbose, &err);
	if (r == 0)
		r = lr_acct_db_read(db, &st, &err);
	if (r == 0)
		r = lr_acct_plan_make(&plan, &p, lr_acct_db_cluster(db), &st,
				      &lr_acct_system_members, &err);
	if (r == 0 && !(out = calloc(plan.n + 1, sizeof(*out))))
		r = lr_error_errno(&err, ENOMEM, "sync");
	if (r == 0 && !dry && plan.n)
		r = lr_acct_db_apply(db, &plan, out, &err);
	int status = FAILED;
	if (r < 0)
		fprintf(stderr, "labrun-policy: sync: %s: nothing changed\n", err.msg);
	else
		status = report(&plan, out, dry, json, lr_acct_db_cluster(db));
	free(out);
	lr_acct_plan_free(&plan);
	lr_acct_state_free(&st);
	lr_acct_db_close(db);
	lr_policy_free(&p);
	return status;
}
