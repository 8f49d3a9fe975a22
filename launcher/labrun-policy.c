/* labrun-policy - the admin's tool for the labs' quota policy (DESIGN.md
 * §5, labrun-policy(8), the files: labrun-policy(5)).
 *
 * check [DIR]   parse every lab file; one line per problem, status 1
 * show USER     the user's allocation in each of their labs, and the file
 *               and line each number comes from
 *
 * Reads only; runs as any user who can read the files.  Exit status: 0
 * success, 1 a problem found or a failure, 2 a bad command line.
 */
#include "build-config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "units.h"

#define OK 0
#define FAILED 1
#define USAGE 2

static const char usage[] =
	"Usage: labrun-policy [OPTIONS] COMMAND [ARGS...]\n"
	"\n"
	"The labs' quota policy: one file per lab in " LR_POLICY_DIR "/NAME.conf\n"
	"(labrun-policy(5)).\n"
	"\n"
	"Commands:\n"
	"  check [DIR]            parse every lab file of DIR (default: the policy\n"
	"                         directory); one line per problem, FILE:LINE:COLUMN\n"
	"  show [--lab LAB] USER  USER's allocation in each of their labs (or in\n"
	"                         LAB), and the file, line and section each number\n"
	"                         comes from\n"
	"\n"
	"Options (before COMMAND):\n"
	"  -d, --dir DIR   read the lab files from DIR instead of " LR_POLICY_DIR "\n"
	"  -h, --help      print this help and exit\n"
	"  -V, --version   print the version and exit\n"
	"\n"
	"Exit status: 0 success; 1 a problem found (one line each on stderr) or a\n"
	"failure; 2 a bad command line.\n";

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "labrun-policy: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see labrun-policy --help)\n");
	va_end(ap);
	return USAGE;
}

static int cmd_check(const char *dir, int argc, char **argv)
{
	if (argc > 2)
		return bad_usage("check takes at most one DIR, not '%s'", argv[2]);
	if (argc == 2)
		dir = argv[1];
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, false, &err) < 0) {
		fprintf(stderr, "labrun-policy: %s\n", err.msg);
		return FAILED;
	}
	size_t members = 0;
	for (size_t i = 0; i < p.n_labs; i++)
		members += p.labs[i].n_users + p.labs[i].n_groups;
	printf("%s: %zu lab%s, %zu member entr%s: the policy is valid\n", dir, p.n_labs,
	       p.n_labs == 1 ? "" : "s", members, members == 1 ? "y" : "ies");
	lr_policy_free(&p);
	return OK;
}

/* The user's group names (getgrouplist), malloc'd. */
static char **groups_of(const struct passwd *pw, size_t *n)
{
	int ng = 64;
	gid_t *gids = NULL;
	for (int tries = 0; tries < 4; tries++) {
		gid_t *g = realloc(gids, (size_t)ng * sizeof(*g));
		if (!g)
			break;
		gids = g;
		int want = ng;
		if (getgrouplist(pw->pw_name, pw->pw_gid, gids, &want) >= 0) {
			ng = want;
			char **names = calloc((size_t)ng + 1, sizeof(*names));
			*n = 0;
			for (int i = 0; names && i < ng; i++) {
				struct group *gr = getgrgid(gids[i]);
				if (gr && (names[*n] = strdup(gr->gr_name)))
					(*n)++;
			}
			free(gids);
			return names;
		}
		ng = want > ng ? want : ng * 2;
	}
	free(gids);
	*n = 0;
	return NULL;
}

static const char *shown_user;

static void origin(const struct lr_origin *o, char *buf, size_t len)
{
	if (!o->line) {
		snprintf(buf, len, "(not set)");
		return;
	}
	const char *base = strrchr(o->file, '/');
	if (!strcmp(o->scope, "member"))
		snprintf(buf, len, "%s:%u [member %s]", base ? base + 1 : o->file, o->line,
			 shown_user);
	else
		snprintf(buf, len, "%s:%u [%s]", base ? base + 1 : o->file, o->line, o->scope);
}

static void show_keyed(const char *name, const struct lr_keyed *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char v[32], o[PATH_MAX + 64], both[PATH_MAX + 40];
		if (k[i].value == LR_POLICY_UNLIMITED)
			snprintf(v, sizeof(v), "unlimited");
		else
			lr_format_size(k[i].value, v, sizeof(v));
		origin(&k[i].origin, o, sizeof(o));
		snprintf(both, sizeof(both), "%s %s", k[i].key, v);
		printf("  %-13s %-22s %s\n", name, both, o);
	}
}

static void show_lab(const struct lr_lab *lab, const char *user)
{
	struct lr_limits a;
	lr_lab_allocation(lab, user, &a);
	printf("lab %s (%s)\n", lab->name, lab->file);
	for (int r = 0; r < LR_RES_COUNT; r++) {
		char v[32], o[PATH_MAX + 64];
		lr_res_format((enum lr_res)r, a.value[r], v, sizeof(v));
		if (r == LR_RES_IO_WEIGHT && !a.origin[r].line)
			snprintf(v, sizeof(v), "default"); /* the kernel's, 100 */
		origin(&a.origin[r], o, sizeof(o));
		printf("  %-13s %-22s %s\n", lr_res_name((enum lr_res)r), v, o);
	}
	show_keyed("io-read-bps", a.read_bps, a.n_read_bps);
	show_keyed("io-write-bps", a.write_bps, a.n_write_bps);
	show_keyed("storage", a.storage, a.n_storage);
}

static int cmd_show(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {{"lab", required_argument, NULL, 'l'},
					     {NULL, 0, NULL, 0}};
	const char *want = NULL;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+:l:", opts, NULL)) != -1) {
		if (c == 'l')
			want = optarg;
		else
			return c == ':' ? bad_usage("show: option '%s' needs a value", argv[optind - 1])
					: bad_usage("show: unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return bad_usage("show needs exactly one USER");
	const char *user = argv[optind];
	shown_user = user;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "labrun-policy: show: no user '%s' on this system\n", user);
		return FAILED;
	}
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, true, &err) < 0) {
		fprintf(stderr, "labrun-policy: %s\n", err.msg);
		return FAILED;
	}
	size_t ng;
	char **groups = groups_of(pw, &ng);
	const struct lr_lab *labs[LR_POLICY_MAX_LABS];
	size_t n = lr_policy_labs_of(&p, user, (const char *const *)groups, ng, labs,
				     LR_POLICY_MAX_LABS);
	int status = OK;
	if (n == 0) {
		printf("%s is a member of no lab in %s: no quota applies\n", user, dir);
	} else {
		size_t shown = 0;
		for (size_t i = 0; i < n; i++) {
			if (want && strcmp(labs[i]->name, want))
				continue;
			if (shown++)
				printf("\n");
			show_lab(labs[i], user);
		}
		if (want && !shown) {
			fprintf(stderr, "labrun-policy: show: %s is not a member of lab '%s'\n", user,
				want);
			status = FAILED;
		} else if (!want && n > 1) {
			printf("\n%s is in %zu labs: a job runs under the one it names (labrun --lab)\n",
			       user, n);
		}
	}
	for (size_t i = 0; i < ng; i++)
		free(groups[i]);
	free(groups);
	lr_policy_free(&p);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = LR_POLICY_DIR;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:d:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'h': fputs(usage, stdout); return OK;
		case 'V': printf("labrun-policy %s\n", PACKAGE_VERSION); return OK;
		case ':': return bad_usage("option '%s' needs a value", argv[optind - 1]);
		default: return bad_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return bad_usage("missing COMMAND");
	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	if (!strcmp(cmd, "check"))
		return cmd_check(dir, sub_argc, sub_argv);
	if (!strcmp(cmd, "show"))
		return cmd_show(dir, sub_argc, sub_argv);
	return bad_usage("unknown command '%s'", cmd);
}
