/* policy_usage.c - `labrun-policy usage [LAB|USER] [--json]`: each lab's
 * and member's GPU-hours this month against their budgets, with their
 * limits at once, from Slurm's accounting (usage_show.h, acct_usage.h).
 * Reads only: as root or any user slurmdbd lets read (like sync
 * --dry-run).
 */
#include "build-config.h"

#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct_slurmdb.h"
#include "escape.h"
#include "usage_show.h"

#define OK 0
#define FAILED 1
#define USAGE 2

static const char usage_help[] =
	"Usage: labrun-policy usage [--json] [-v] [LAB|USER]\n"
	"\n"
	"The GPU-hours each lab and each of its members used this month against\n"
	"their budgets (GrpTRESMins), with their cores, memory and GPUs at once\n"
	"(GrpTRES), from Slurm's accounting: labrun's accounts (organization\n"
	"'labrun') on this cluster.  LAB: that lab only; USER: that user's labs.\n"
	"This month is from midnight UTC of the 1st to now; the GPU-hours are\n"
	"summed from the job records, as sacct -X -D --truncate counts them.\n"
	"\n"
	"      --json     print a JSON object (cluster, start, end, labs)\n"
	"  -v, --verbose  show libslurm's own log lines\n"
	"\n"
	"slurmdbd is the one slurm.conf names (SLURM_CONF, else " LR_SLURM_CONF ").\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "labrun-policy: usage: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see labrun-policy usage --help)\n");
	va_end(ap);
	return USAGE;
}

/* Which rows are shown: a lab's own row when the lab is, a member's when
 * their lab is and (given a user) they are that user. */
struct filter {
	const char *lab, *user;
};

static bool lab_shown(const struct filter *f, const struct lr_acct_usage *u, const char *account)
{
	if (f->lab)
		return !strcmp(account, f->lab);
	if (!f->user)
		return true;
	for (size_t i = 0; i < u->n; i++)
		if (u->rows[i].user && !strcmp(u->rows[i].user, f->user) &&
		    !strcmp(u->rows[i].account, account))
			return true;
	return false;
}

static bool row_shown(const struct filter *f, const struct lr_acct_usage *u,
		      const struct lr_acct_usage_row *r)
{
	return lab_shown(f, u, r->account) && (!r->user || !f->user || !strcmp(r->user, f->user));
}

static int print_json(const struct lr_acct_usage *u, const struct filter *f)
{
	json_t *labs = json_array(), *lab = NULL, *members = NULL;
	json_t *top = json_pack("{s:s, s:I, s:I, s:o}", "cluster", u->cluster, "start",
				(json_int_t)u->window.start, "end", (json_int_t)u->window.end,
				"labs", labs);
	bool ok = top != NULL;
	for (size_t i = 0; ok && i < u->n; i++) {
		const struct lr_acct_usage_row *r = &u->rows[i];
		if (!row_shown(f, u, r))
			continue;
		json_t *j = lr_acct_usage_row_json(r);
		ok = j != NULL;
		if (ok && !r->user) {
			members = json_array();
			ok = members && !json_object_set_new(j, "members", members) &&
			     !json_array_append_new(labs, j);
			lab = j;
		} else if (ok && lab && members) {
			ok = !json_array_append_new(members, j);
		} else {
			json_decref(j); /* a member of a lab without its own row */
		}
	}
	char *s = ok ? json_dumps(top, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(top);
	if (!s) {
		fprintf(stderr, "labrun-policy: usage: out of memory\n");
		return FAILED;
	}
	puts(s);
	free(s);
	return OK;
}

static void print_text(const struct lr_acct_usage *u, const struct filter *f)
{
	char start[64], end[64], cluster[LR_ACCT_MAX_NAME * 4];
	lr_acct_time_text(u->window.start, start, sizeof(start));
	lr_acct_time_text(u->window.end, end, sizeof(end));
	lr_escape_str(cluster, sizeof(cluster), u->cluster);
	printf("GPU-hours used from %s to %s on cluster %s:\n", start, end, cluster);
	size_t shown = 0;
	for (size_t i = 0; i < u->n; i++) {
		const struct lr_acct_usage_row *r = &u->rows[i];
		if (!row_shown(f, u, r))
			continue;
		char who[LR_ACCT_MAX_NAME * 4 + 16], name[LR_ACCT_MAX_NAME * 4], used[96],
			at_once[128];
		lr_escape_str(name, sizeof(name), r->user ? r->user : r->account);
		snprintf(who, sizeof(who), "%s%s", r->user ? "  member " : "lab ", name);
		lr_acct_used_text(r->gpu_secs, r->limits.gpu_mins, used, sizeof(used));
		lr_usage_limits_text(&r->limits, at_once, sizeof(at_once));
		printf("%-24s GPU-hours %-22s %s\n", who, used, at_once);
		shown++;
	}
	if (!shown)
		printf("no lab of labrun's in Slurm's accounting (labrun-policy sync makes "
		       "them)\n");
}

int lr_policy_usage(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"verbose", no_argument, NULL, 'v'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	bool json = false, verbose = false;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'v': verbose = true; break;
		case 'h': fputs(usage_help, stdout); return OK;
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return usage_error("takes at most one LAB or USER, not '%s'", argv[optind + 1]);
	const char *who = optind < argc ? argv[optind] : NULL;
	if (who && !*who)
		return usage_error("LAB or USER is empty");
	struct lr_acct_usage u;
	struct lr_error err = {0};
	if (lr_usage_read(&u, verbose, &err) < 0) {
		fprintf(stderr, "labrun-policy: usage: %s\n", err.msg);
		return FAILED;
	}
	/* A lab by its account's name (lower case, as sync makes it), else
	 * a member by user name. */
	struct filter f = {0};
	char account[LR_ACCT_MAX_NAME + 1] = "";
	for (size_t i = 0; who && i < sizeof(account) - 1 && who[i]; i++)
		account[i] = (char)tolower((unsigned char)who[i]);
	for (size_t i = 0; who && i < u.n; i++) {
		if (!u.rows[i].user && !strcmp(u.rows[i].account, account))
			f.lab = u.rows[i].account;
		else if (!f.user && u.rows[i].user && !strcmp(u.rows[i].user, who))
			f.user = u.rows[i].user;
	}
	if (f.lab)
		f.user = NULL;
	int status = OK;
	if (who && !f.lab && !f.user) {
		char shown[LR_ACCT_MAX_NAME * 4 * 4], cluster[LR_ACCT_MAX_NAME * 4];
		lr_escape_str(shown, sizeof(shown), who);
		lr_escape_str(cluster, sizeof(cluster), u.cluster);
		fprintf(stderr,
			"labrun-policy: usage: no lab or member '%s' in Slurm's accounting "
			"(cluster "
			"%s; labrun-policy sync puts the labs there)\n",
			shown, cluster);
		status = FAILED;
	} else if (json) {
		status = print_json(&u, &f);
	} else {
		print_text(&u, &f);
	}
	lr_acct_usage_free(&u);
	return status;
}
