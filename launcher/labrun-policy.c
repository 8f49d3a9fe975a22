/* labrun-policy - the admin's tool for the labs' quota policy (DESIGN.md
 * §5, labrun-policy(8), the files: labrun-policy(5)).
 *
 * check [DIR]   parse every lab file; one line per problem, status 1
 * show USER     the user's allocation in each of their labs, and the file
 *               and line each number comes from
 * plan          the cgroup tree and limit files that apply will write
 * apply         make it so (root): cgroups, limits, delegation, login rules
 * sync          the labs' cluster-wide budgets into Slurm's accounting
 *               (root, on the controller; policy_sync.c)
 * usage         the labs' GPU-hours this month against those budgets
 *               (policy_usage.c)
 *
 * check, show and plan read only, as any user who can read the files,
 * and usage as any user slurmdbd lets read;
 * apply changes the machine and sync Slurm's accounting, as root.  Exit
 * status: 0 success, 1 a problem found or a failure, 2 a bad command line.
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
#include <fcntl.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgplan.h"
#include "config.h"
#include "devices.h"
#include "cgroup.h"
#include "cleanup.h"
#include "escape.h"
#include "launch_quota.h"
#include "placement.h"
#include "quota.h"
#include "policy.h"
#include "policy_show.h"
#include "policy_sync.h"
#include "trust.h"
#include "usage_show.h"

/* The rules file apply writes, and the lock that keeps two applies apart. */
#define LR_CGRULES_FILE "/etc/cgrules.d/labrun.conf"
#define APPLY_LOCK "/run/labrun-policy.lock"

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
	"  plan [--cgroup 1|2]    the cgroup tree (labrun/LAB/MEMBER) and the limit\n"
	"                         files apply will write, for this machine's cgroup\n"
	"                         version or the one given\n"
	"  apply [--dry-run] [--rules FILE]\n"
	"                         as root: create that tree, write the limits,\n"
	"                         delegate each member's cgroup to the member,\n"
	"                         remove what the policy no longer names (when\n"
	"                         empty), and write the rules that put members'\n"
	"                         logins in their cgroup (FILE, default\n"
	"                         " LR_CGRULES_FILE ");\n"
	"                         --dry-run prints what would change\n"
	"  sync [--dry-run] [--json] [-v]\n"
	"                         as root on the Slurm controller: an account per\n"
	"                         lab and an association per member in Slurm's\n"
	"                         accounting, with the lab's and each member's\n"
	"                         cores, memory and GPUs at once (GrpTRES) and\n"
	"                         GPU-hours (GrpTRESMins); removes what the policy\n"
	"                         no longer names (labrun's accounts only);\n"
	"                         sync --help says more\n"
	"  usage [--json] [LAB|USER]\n"
	"                         each lab's and member's GPU-hours this month\n"
	"                         (from midnight UTC of the 1st) against their\n"
	"                         budgets, and their limits at once, from Slurm's\n"
	"                         accounting; usage --help says more\n"
	"\n"
	"Options (before COMMAND):\n"
	"  -c, --config FILE  read FILE instead of " LR_DEFAULT_CONFIG_PATH "\n"
	"                  (its policy-dir and gpu-devices)\n"
	"  -d, --dir DIR   read the lab files from DIR instead of policy-dir\n"
	"                  (default " LR_POLICY_DIR ")\n"
	"  -h, --help      print this help and exit\n"
	"  -V, --version   print the version and exit\n"
	"\n"
	"Exit status: 0 success; 1 a problem found (one line each on stderr) or a\n"
	"failure; 2 a bad command line.\n";

/* The node's GPUs, from labrun.conf's gpu-devices. */
static struct lr_cg_gpus gpus;
static const char *gpu_glob = LR_CONFIG_GPU_DEVICES;

static int find_gpus(struct lr_error *err)
{
	int n = lr_devices_glob(gpu_glob, gpus.dev, gpus.path, LR_DEVICES_MAX, err);
	if (n < 0)
		return lr_error_prefix(err, "gpu-devices %s", gpu_glob);
	gpus.n = (size_t)n;
	return 0;
}

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
	char shown[PATH_MAX * 4];
	lr_escape_str(shown, sizeof(shown), dir);
	printf("%s: %zu lab%s, %zu member entr%s: the policy is valid\n", shown, p.n_labs,
	       p.n_labs == 1 ? "" : "s", members, members == 1 ? "y" : "ies");
	lr_policy_free(&p);
	return OK;
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
			return c == ':' ? bad_usage("show: option '%s' needs a value",
						    argv[optind - 1])
					: bad_usage("show: unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return bad_usage("show needs exactly one USER");
	return lr_policy_show(stdout, "labrun-policy: show", dir, argv[optind], want, true);
}

static int cmd_plan(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {{"cgroup", required_argument, NULL, 'g'},
					     {NULL, 0, NULL, 0}};
	enum lr_cg_version v = lr_cgroup_version();
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		if (c == 'g' && (!strcmp(optarg, "1") || !strcmp(optarg, "2")))
			v = optarg[0] == '1' ? LR_CG_V1 : LR_CG_V2;
		else if (c == 'g')
			return bad_usage("plan: --cgroup takes 1 or 2, not '%s'", optarg);
		else
			return c == ':' ? bad_usage("plan: option '%s' needs a value",
						    argv[optind - 1])
					: bad_usage("plan: unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return bad_usage("plan takes no operand, not '%s'", argv[optind]);
	struct lr_policy p;
	struct lr_cg_plan plan;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, false, &err) < 0) {
		fprintf(stderr, "labrun-policy: %s\n", err.msg);
		return FAILED;
	}
	int r = find_gpus(&err);
	if (r == 0)
		r = lr_cg_plan_make(&plan, &p, v, &gpus, &err);
	lr_policy_free(&p);
	if (r < 0) {
		fprintf(stderr, "labrun-policy: plan: %s\n", err.msg);
		return FAILED;
	}
	char *text = lr_cg_plan_text(&plan);
	lr_cg_plan_free(&plan);
	if (!text) {
		fprintf(stderr, "labrun-policy: plan: out of memory\n");
		return FAILED;
	}
	fputs(text, stdout);
	free(text);
	return OK;
}

/* The members' disk quotas (storage = PATH SIZE).  The kernel keeps one
 * quota per user and filesystem, so a member of two labs gets the larger
 * of their two (DECISIONS.md).  A filesystem without quotas is said so
 * and skipped: the rest is applied, and apply exits 1.  Returns the
 * number of problems. */
static int apply_storage(const struct lr_cg_plan *plan, bool dry, size_t *changes)
{
	int problems = 0;
	for (size_t i = 0; i < plan->n_nodes; i++) {
		const struct lr_cg_node *n = &plan->nodes[i];
		for (size_t k = 0; k < n->n_storage; k++) {
			const struct lr_cg_storage *st = &n->storage[k];
			/* The larger of this member's quotas on this path, once. */
			uint64_t bytes = st->bytes;
			bool first = true;
			for (size_t j = 0; j < plan->n_nodes; j++)
				for (size_t q = 0; q < plan->nodes[j].n_storage; q++) {
					const struct lr_cg_node *o = &plan->nodes[j];
					if (o->kind != LR_CG_MEMBER || o->owner != n->owner ||
					    strcmp(o->storage[q].path, st->path))
						continue;
					if (j < i)
						first = false;
					if (!o->storage[q].bytes || !bytes)
						bytes = 0;
					else if (o->storage[q].bytes > bytes)
						bytes = o->storage[q].bytes;
				}
			if (!first)
				continue;
			struct passwd *pw = getpwuid(n->owner);
			const char *who = pw ? pw->pw_name : "?";
			struct lr_error err = {0};
			struct lr_quota_usage u;
			int r = lr_quota_get(st->path, n->owner, &u, &err);
			if (r == 0 && u.limit == (bytes + 1023) / 1024 * 1024)
				continue;
			char v[32] = "none", path[PATH_MAX * 4];
			if (bytes)
				lr_res_format(LR_RES_MEMORY, bytes, v, sizeof(v));
			lr_escape_str(path, sizeof(path), st->path);
			if (r == 0 && !dry)
				r = lr_quota_set(st->path, n->owner, bytes, &err);
			if (r == 0) {
				(*changes)++;
				printf("%sset storage %s for %s = %s\n", dry ? "would " : "", path,
				       who, v);
			}
			if (r < 0) {
				fprintf(stderr,
					"labrun-policy: apply: storage %s for %s: %s (%s)\n", path,
					who, err.msg,
					dry ? "apply would skip it" : "not applied; the rest is");
				problems++;
			}
		}
	}
	return problems;
}

static int cmd_apply(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
					     {"rules", required_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	bool dry = false;
	const char *rules = LR_CGRULES_FILE;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		if (c == 'n')
			dry = true;
		else if (c == 'r')
			rules = optarg;
		else
			return c == ':' ? bad_usage("apply: option '%s' needs a value",
						    argv[optind - 1])
					: bad_usage("apply: unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return bad_usage("apply takes no operand, not '%s'", argv[optind]);
	if (!dry && geteuid() != 0) {
		fprintf(stderr, "labrun-policy: apply: only root can change cgroups "
				"(--dry-run shows what apply would do)\n");
		return FAILED;
	}
	_cleanup_close_ int lock = -1;
	if (!dry) {
		lock = open(APPLY_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (lock < 0 || flock(lock, LOCK_EX) < 0) {
			fprintf(stderr, "labrun-policy: apply: lock %s: %s\n", APPLY_LOCK,
				strerror(errno));
			return FAILED;
		}
	}
	/* The whole policy parses, or nothing is applied. */
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, false, &err) < 0) {
		fprintf(stderr, "labrun-policy: %s: nothing applied\n", err.msg);
		return FAILED;
	}
	struct lr_cg_plan plan;
	int r = find_gpus(&err);
	if (r == 0)
		r = lr_cg_plan_make(&plan, &p, lr_cgroup_version(), &gpus, &err);
	lr_policy_free(&p);
	if (r < 0) {
		fprintf(stderr, "labrun-policy: apply: %s: nothing applied\n", err.msg);
		return FAILED;
	}
	for (size_t i = 0; i < plan.n_notes; i++)
		printf("note: %s\n", plan.notes[i]);
	struct lr_cgroup_log log = {0};
	r = lr_cgroup_apply(&plan, dry, &log, &err);
	for (size_t i = 0; i < log.n; i++)
		printf("%s%s\n", dry ? "would " : "", log.lines[i]);
	size_t changes = log.n;
	lr_cgroup_log_free(&log);
	int problems = r < 0 ? 0 : apply_storage(&plan, dry, &changes);
	_cleanup_free_ char *text = r < 0 ? NULL : lr_cg_rules_text(&plan);
	_cleanup_free_ char *gpu_text = r < 0 ? NULL : lr_cg_gpus_text(&plan);
	lr_cg_plan_free(&plan);
	if (r < 0) {
		fprintf(stderr, "labrun-policy: apply: %s\n", err.msg);
		return FAILED;
	}
	if (!text) {
		fprintf(stderr, "labrun-policy: apply: out of memory\n");
		return FAILED;
	}
	/* The rules file, when it changes. */
	_cleanup_free_ char *old = NULL;
	size_t old_len = 0;
	FILE *f = fopen(rules, "re");
	if (f) {
		old = calloc(1, strlen(text) + 2);
		if (old)
			old_len = fread(old, 1, strlen(text) + 1, f);
		fclose(f);
	}
	if (!old || old_len != strlen(text) || memcmp(old, text, old_len)) {
		changes++;
		printf("%swrite %s\n", dry ? "would " : "", rules);
		if (dry)
			fputs(text, stdout);
		else if (lr_cgroup_write_file(rules, text, &err) < 0) {
			fprintf(stderr, "labrun-policy: apply: login rules: %s\n", err.msg);
			return FAILED;
		}
	}
	/* The topology, for the launcher's placement of cores; the members'
	 * GPUs, for the launcher to show them in containers. */
	if (!dry) {
		struct lr_topology *t = NULL;
		if (mkdir(LR_TOPOLOGY_DIR, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "labrun-policy: apply: %s: %s\n", LR_TOPOLOGY_DIR,
				strerror(errno));
			return FAILED;
		}
		if (!gpu_text || lr_cgroup_write_file(LR_GPUS_FILE, gpu_text, &err) < 0) {
			fprintf(stderr, "labrun-policy: apply: %s\n",
				gpu_text ? err.msg : "out of memory");
			return FAILED;
		}
		if (lr_topology_load(&t, NULL, &err) < 0 ||
		    lr_topology_save(t, LR_TOPOLOGY_XML, &err) < 0) {
			lr_topology_free(t);
			fprintf(stderr, "labrun-policy: apply: %s\n", err.msg);
			return FAILED;
		}
		lr_topology_free(t);
	}
	/* libcgroup reads no rule at all, cgrules.d's included, without
	 * /etc/cgrules.conf (cgclassify: "failed to parse the configuration
	 * rules"): make it, empty, beside our directory. */
	char main_rules[4096];
	const char *slash = strrchr(rules, '/');
	if (!dry && slash && slash - rules >= 9 && !strncmp(slash - 9, "cgrules.d", 9) &&
	    snprintf(main_rules, sizeof(main_rules), "%.*s.conf", (int)(slash - rules - 2), rules) <
		    (int)sizeof(main_rules)) {
		int fd = open(main_rules, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			      0644);
		if (fd >= 0) {
			static const char head[] = "# libcgroup's rules (cgrules.conf(5)); "
						   "labrun's are in cgrules.d/labrun.conf\n";
			if (write(fd, head, sizeof(head) - 1) < 0)
				fprintf(stderr, "labrun-policy: apply: %s: %s\n", main_rules,
					strerror(errno));
			close(fd);
			printf("create %s (libcgroup reads no rule without it)\n", main_rules);
		}
	}
	if (!changes && !problems)
		printf("nothing to change: the cgroups match the policy\n");
	return problems ? FAILED : OK;
}

/* labrun.conf: lr_config_load() reads it under the lab files' rule
 * (trust.h): its policy-dir says where apply reads the lab files, so
 * whoever could change it could point apply at lab files of their own
 * (DECISIONS.md).  The default file may be missing (built-in defaults). */
static int load_config(struct lr_config *cfg, const char *path, struct lr_error *err)
{
	struct passwd *pw = getpwuid(getuid());
	struct lr_expand ex = {.home = pw ? pw->pw_dir : "/", .user = pw ? pw->pw_name : "root"};
	return lr_config_load(cfg, path, !strcmp(path, LR_DEFAULT_CONFIG_PATH), &ex, err);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *config = LR_DEFAULT_CONFIG_PATH;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:c:d:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h': fputs(usage, stdout); return OK;
		case 'V': printf("labrun-policy %s\n", PACKAGE_VERSION); return OK;
		case ':': return bad_usage("option '%s' needs a value", argv[optind - 1]);
		default: return bad_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return bad_usage("missing COMMAND");
	static struct lr_config cfg;
	lr_config_init(&cfg);
	struct lr_error err = {0};
	if (load_config(&cfg, config, &err) < 0) {
		fprintf(stderr, "labrun-policy: %s\n", err.msg);
		return FAILED;
	}
	if (!dir)
		dir = cfg.policy_dir ? cfg.policy_dir : LR_POLICY_DIR;
	if (cfg.gpu_devices)
		gpu_glob = cfg.gpu_devices;
	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	if (!strcmp(cmd, "check"))
		return cmd_check(dir, sub_argc, sub_argv);
	if (!strcmp(cmd, "show"))
		return cmd_show(dir, sub_argc, sub_argv);
	if (!strcmp(cmd, "plan"))
		return cmd_plan(dir, sub_argc, sub_argv);
	if (!strcmp(cmd, "apply"))
		return cmd_apply(dir, sub_argc, sub_argv);
	if (!strcmp(cmd, "sync"))
		return lr_policy_sync(dir, sub_argc, sub_argv);
	if (!strcmp(cmd, "usage"))
		return lr_policy_usage(sub_argc, sub_argv);
	return bad_usage("unknown command '%s'", cmd);
}
