/* labrun - run a command in a container made from a layered squashfs image.
 *
 * Runs as the invoking user and needs no privilege: it refuses to run
 * setuid or setgid.  This file only parses, calls lib and reports; the
 * container is lib/run/container.c.  Exit status: the job's; 125 when labrun
 * fails; 126/127 when the command cannot be run (env(1), docker).
 */
#include "build-config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "config.h"
#include "container.h"
#include "job.h"
#include "holder.h"
#include "layers.h"
#include "launch_quota.h"
#include "log.h"
#include "options.h"
#include "units.h"
#include "policy.h"
#include "policy_show.h"
#include "squash.h"
#include "usage_show.h"

#define EXIT_LABRUN 125

extern char **environ;

static int die(const char *msg)
{
	fprintf(stderr, "labrun: %s\n", msg);
	return EXIT_LABRUN;
}

/* A job killed by signal S makes labrun die of S too, so that the shell
 * (and Slurm, and scripts testing $?) see what happened to the job. */
static int exit_like(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (!WIFSIGNALED(st))
		return EXIT_LABRUN;
	int sig = WTERMSIG(st);
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core); /* the job dumped its own core if any */
	signal(sig, SIG_DFL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	fflush(NULL);
	kill(getpid(), sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	return 128 + sig; /* a signal that does not kill by default */
}

/* The kernel's count of OOM kills on the whole machine (/proc/vmstat,
 * Linux 4.13), 0 when unknown. */
static uint64_t machine_oom_kills(void)
{
	FILE *f = fopen("/proc/vmstat", "re");
	if (!f)
		return 0;
	char line[128];
	unsigned long long v = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "oom_kill %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* What labrun itself may need of the member's memory while it serves the
 * container's layers: its own working set (measured: ~6 MiB of anonymous
 * memory with a two-layer image, kernel memory for the mounts and the FUSE
 * connection besides) and the caches of every layer it serves itself
 * (held[i] < 0: a holder's are the holder's).  Kept out of the
 * container's share when labrun runs inside the member's memory cgroup
 * (lr_cgroup_job_enter()). */
#define LR_OWN_MEMORY_BASE (16ULL << 20)

static uint64_t own_memory(const struct lr_chain *chain, const int *held)
{
	uint64_t bytes = LR_OWN_MEMORY_BASE;
	for (size_t i = 0; i < chain->n; i++)
		if (held[i] < 0 && chain->layers[i].sq)
			bytes += lr_squash_cache_bound(chain->layers[i].sq);
	return bytes;
}

/* Why the container died, when labrun can tell: one line, the reason
 * first.  The OOM killer's count in the container's cgroup grew: the
 * lab's memory limit (issue 12, item 3).  Otherwise the machine's count
 * grew while the container was killed: most likely the machine's own
 * OOM.  Returns whether it said something. */
static bool say_oom(const struct lr_launch_quota *q, uint64_t cg_before, uint64_t machine_before,
		    int status, const char *what)
{
	uint64_t kills;
	if (q->applies && lr_cgroup_job_oom_kills(&q->job, &kills) == 0 && kills > cg_before) {
		uint64_t limit = UINT64_MAX;
		char size[32] = "?", share[80] = "";
		if (lr_cgroup_job_memory_limit(&q->job, &limit) == 0 && limit != UINT64_MAX)
			lr_format_size(limit, size, sizeof(size));
		if (q->job.container_limit != UINT64_MAX) {
			char c[32];
			lr_format_size(q->job.container_limit, c, sizeof(c));
			snprintf(share, sizeof(share),
				 ", %s of it for the container, the rest for labrun", c);
		}
		fprintf(stderr,
			"labrun: out of memory: the kernel's OOM killer ended %s at the memory "
			"limit of %s that lab %s gives you%s (labrun --quota)\n",
			what, size, q->lab, share);
		return true;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
	    machine_oom_kills() > machine_before) {
		fprintf(stderr,
			"labrun: %s was killed by SIGKILL, most likely by the kernel's OOM killer "
			"(the machine ran out of memory)\n",
			what);
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	/* labrun must never be a boundary between a user and the OS: a setuid
	 * copy would hand the caller's namespaces root's identity.  The file's
	 * own bits are checked too: run by its owner, a setuid binary changes
	 * no credential and the kernel does not flag it (AT_SECURE), but it is
	 * still an installation mistake waiting for another user. */
	struct stat self;
	bool setid = getuid() != geteuid() || getgid() != getegid() ||
		     (stat("/proc/self/exe", &self) == 0 && (self.st_mode & (S_ISUID | S_ISGID)));
	/* File capabilities (setcap) also make the kernel flag AT_SECURE, and
	 * grant privilege the same way: say which (issue 12).  Refused even
	 * when the kernel ignores them (a user namespace's, whose root is not
	 * root here): the file is still a mistake waiting for another user. */
	bool fcaps = getxattr("/proc/self/exe", "security.capability", NULL, 0) >= 0;
	if (fcaps && !setid)
		return die("refusing to run with file capabilities: labrun needs no privilege "
			   "(remove them: setcap -r on the labrun binary)");
	if (setid || getauxval(AT_SECURE))
		return die("refusing to run setuid or setgid: labrun needs no privilege "
			   "(remove the bit: chmod u-s,g-s)");

	struct lr_error err = {0};
	struct lr_options o;
	if (lr_options_parse(&o, argc, argv, &err) < 0)
		return die(err.msg);
	if (o.action == LR_ACTION_HELP) {
		fputs(lr_options_usage, stdout);
		return 0;
	}
	if (o.action == LR_ACTION_VERSION) {
		printf("labrun %s\n", PACKAGE_VERSION);
		return 0;
	}
	lr_log_level = o.verbose;

	struct passwd *pw = getpwuid(getuid());
	if (!pw)
		return die("cannot find your user in the password database");
	struct group *gr = getgrgid(getgid());
	char gidname[16];
	snprintf(gidname, sizeof(gidname), "%u", (unsigned)getgid());
	struct lr_expand ex = {.home = pw->pw_dir, .user = pw->pw_name};

	struct lr_config cfg;
	lr_config_init(&cfg);
	bool default_config = !strcmp(o.config_path, LR_DEFAULT_CONFIG_PATH);
	if (lr_config_load(&cfg, o.config_path, default_config, &ex, &err) < 0)
		return die(err.msg);
	if (o.action == LR_ACTION_STOP_HOLDERS) {
		unsigned busy = 0;
		int n = lr_holder_stop(&busy, &err);
		lr_config_free(&cfg);
		if (n < 0)
			return die(err.msg);
		if (busy)
			fprintf(stderr,
				"labrun: %u layer holder(s) still serve containers: they end when "
				"those do\n",
				busy);
		lr_debug(1, "%d layer holder(s) told to stop", n);
		return 0;
	}
	if (o.action == LR_ACTION_QUOTA) {
		int status = lr_policy_show(stdout, "labrun",
					    cfg.policy_dir ? cfg.policy_dir : LR_POLICY_DIR,
					    pw->pw_name, o.quota_lab, true);
		/* The GPU-hours of the month, from Slurm's accounting where
		 * it can be read; one line why not, never a failure. */
		lr_usage_quota_lines(stdout, pw->pw_name, o.quota_lab);
		lr_config_free(&cfg);
		return status;
	}

	/* Admin binds first, the user's after: the user's win on the same
	 * destination, as the last mount over a path does. */
	static struct lr_bind binds[LR_CONFIG_MAX_BINDS + LR_MAX_USER_BINDS];
	size_t n_binds = 0;
	for (size_t i = 0; i < cfg.n_binds; i++)
		binds[n_binds++] = cfg.binds[i];
	for (int i = 0; i < o.n_binds; i++) {
		if (lr_bind_parse(&binds[n_binds], o.binds[i], &ex, &err) < 0)
			return die(err.msg);
		n_binds++;
	}

	struct lr_chain *chain = calloc(1, sizeof(*chain));
	if (!chain)
		return die("out of memory");
	/* The layers through the user's holder, which keeps them mounted for
	 * the next containers (holder.h); asked before the container's
	 * cgroups are joined, which a holder started now must stay out of.
	 * Without one, this labrun mounts and serves them itself. */
	static int held_trees[LR_MAX_LAYERS];
	if (lr_holder_launch_chain(chain, o.image, &cfg, 0, o.remap_root, !o.no_holder,
				   o.remap_root ? 0 : getuid(), o.remap_root ? 0 : getgid(),
				   "--remap-root", held_trees, &err) < 0)
		return die(err.msg);

	struct lr_strv job_argv, job_env;
	if (lr_job_argv(&chain->config, o.argv, o.argc, &job_argv, &err) < 0)
		return die(err.msg);
	struct lr_job_user ju = {.name = pw->pw_name, .home = pw->pw_dir};
	if (lr_job_env(&chain->config, o.cleanenv, environ, o.env, o.n_env, &ju, &job_env, &err) <
	    0)
		return die(err.msg);
	char cwd[PATH_MAX];
	char *workdir = NULL;
	if (lr_job_workdir(o.workdir, getcwd(cwd, sizeof(cwd)), binds, n_binds,
			   chain->config.workdir, &workdir, &err) < 0)
		return die(err.msg);
	lr_debug(1, "command %s, workdir %s", job_argv.v[0], workdir);

	struct lr_container_spec spec = {
		.chain = chain,
		.argv = job_argv.v,
		.envp = job_env.v,
		.workdir = workdir,
		.workdir_explicit = o.workdir != NULL,
		.binds = binds,
		.n_binds = n_binds,
		.remap_root = o.remap_root,
		.net_none = o.net_none,
		.hostname = o.hostname,
		.tmpfs_size = o.has_tmpfs_size ? o.tmpfs_size : cfg.tmpfs_size,
		.writable_dir = o.writable_dir,
		.user_name = pw->pw_name,
		.user_gecos = pw->pw_gecos,
		.user_home = pw->pw_dir,
		.group_name = gr ? gr->gr_name : gidname,
		.cgroup_fd = -1,
		.memcg_tasks_fd = -1,
		.step_fd = -1,
		.release_fd = -1,
		.layer_trees = held_trees,
	};
	/* The lab's quotas: the container runs in the member's cgroup, or
	 * not at all. */
	static struct lr_launch_quota limits;
	if (lr_launch_quota_enter(&limits, cfg.policy_dir ? cfg.policy_dir : LR_POLICY_DIR,
				  pw->pw_name, o.lab, own_memory(chain, held_trees), &err) < 0)
		return die(err.msg);
	spec.cgroup_fd = limits.applies ? limits.job.into_fd : -1;
	spec.memcg_tasks_fd = limits.applies ? limits.job.mem_tasks_fd : -1;
	/* The member's GPUs, at their host paths, as device nodes. */
	for (size_t i = 0; i < limits.n_gpus && n_binds < sizeof(binds) / sizeof(binds[0]); i++)
		binds[n_binds++] = (struct lr_bind){
			.src = limits.gpus[i], .dst = limits.gpus[i], .device = true};
	spec.n_binds = n_binds;
	const struct lr_limits *a = &limits.alloc;
	if (limits.applies && a->set[LR_RES_TMPFS] && a->value[LR_RES_TMPFS] < spec.tmpfs_size) {
		if (o.has_tmpfs_size)
			fprintf(stderr, "labrun: --tmpfs-size: lab %s allows you %llu bytes\n",
				limits.lab, (unsigned long long)a->value[LR_RES_TMPFS]);
		spec.tmpfs_size = a->value[LR_RES_TMPFS];
	}

	uint64_t cg_kills = 0, machine_kills = machine_oom_kills();
	if (limits.applies)
		(void)lr_cgroup_job_oom_kills(&limits.job, &cg_kills);
	int status = 0;
	if (lr_container_run(&spec, &status, &err) < 0)
		return die(err.msg);
	/* The keeper killed (err says so), or the job by SIGKILL: by whom? */
	bool keeper_killed = err.code == EINTR && err.msg[0];
	bool said = false;
	if (keeper_killed || (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		said = say_oom(&limits, cg_kills, machine_kills, status,
			       keeper_killed ? "the container" : "the job");
	if (err.msg[0] && !said)
		fprintf(stderr, "labrun: %s%s\n", err.msg,
			keeper_killed && limits.applies
				? " (not by the OOM killer of your lab's memory cgroup)"
				: "");
	return exit_like(status);
}
