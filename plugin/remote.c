/* remote.c - the plugin in slurmstepd, as the job user: one container per
 * node per step, joined by every task (DESIGN.md §4, notes/slurm.md).
 *
 *  - user_init (slurmstepd, effective id the user's, once per step before
 *    the tasks are forked): fork; the child (root.c) joins the step's
 *    cgroups, drops for good and execs labrun-step, which builds the
 *    container and hands its namespaces back here (step.h).  The fds stay
 *    open in slurmstepd, so every task inherits them.
 *  - task_init (each task, as the user, last before Slurm execs it): the
 *    image's environment over Slurm's, setns into the container, then one
 *    fork: the child returns to Slurm, which execs the command inside; the
 *    parent stays as the task Slurm knows, a thin waiter that passes
 *    signals on and ends with the child's exact status.
 *
 * Fail closed: a step asking for one of our images never runs on the host.
 * A failure in user_init is kept and returned by every task_init: returned
 * from user_init, it would leave srun's status 0 (notes/slurm.md, edge 3).
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include <slurm/slurm.h>

#include "plugin.h"

/* labrun-step's command line: its name, at most ten options with a
 * value, three flags, "--", the image and the NULL (helper_argv()). */
#define HELPER_MAX_ARGS 32

/* spank_getenv() reads the job's environment, not slurmstepd's. */
static const char *remote_env(const char *name, void *ctx)
{
	static char buf[LR_SPANK_VALUE_MAX + 1];
	spank_err_t r = spank_getenv((spank_t)ctx, name, buf, sizeof(buf));
	if (r == ESPANK_NOSPACE)
		return lr_spank_env_too_long; /* an error, never "unset" */
	return r == ESPANK_SUCCESS ? buf : NULL;
}

/* Said once, by each task_init; slurmd's log gets it now. */
static int record_failure(const struct lr_error *err)
{
	lr_plugin_fail(err);
	return 0;
}

static const char *helper_failure(int st)
{
	if (!WIFEXITED(st))
		return "was killed";
	switch (WEXITSTATUS(st)) {
	case LR_HELPER_EXIT_ROOT: return "could not regain root to place it";
	case LR_HELPER_EXIT_CGROUP: return "could not be put in the step's cgroups";
	case LR_HELPER_EXIT_OOM: return "could not be given its oom_score_adj";
	case LR_HELPER_EXIT_DROP:
	case LR_HELPER_EXIT_UNDROPPED: return "could not drop to the job's user";
	case LR_HELPER_EXIT_FDS: return "could not set up its files";
	case LR_HELPER_EXIT_EXEC: return "could not be executed";
	default: return "ended without a word";
	}
}

/* The helper is root-owned and writable by root only: slurmstepd runs it
 * as the user, but places it in the step's cgroups first (root.c). */
static int check_helper(const char *path, struct lr_error *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return lr_error_errno(err, errno,
				      "the container helper %s (plugstack.conf "
				      "helper=)",
				      path);
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return lr_error_set(err, EPERM,
				    "the container helper %s must be a file owned and writable "
				    "by root only",
				    path);
	return 0;
}

/* A batch step's script lives in SlurmdSpoolDir on the host, where Slurm
 * execs it from (notes/slurm.md, edge 7): its directory is bound in at the
 * same path.  Slurm made it 0750 with the job's group, so the helper can
 * open it as the user.  Empty when this is not a batch step. */
static void batch_dir(spank_t sp, char *dir, size_t len)
{
	uint32_t step = 0;
	int argc = 0;
	char **argv = NULL;
	dir[0] = '\0';
	if (spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS ||
	    step != SLURM_BATCH_SCRIPT ||
	    spank_get_item(sp, S_JOB_ARGV, &argc, &argv) != ESPANK_SUCCESS || argc < 1 ||
	    !argv[0] || argv[0][0] != '/')
		return;
	const char *slash = strrchr(argv[0], '/');
	size_t n = (size_t)(slash - argv[0]);
	if (n == 0 || n >= len)
		return;
	memcpy(dir, argv[0], n);
	dir[n] = '\0';
}

/* srun --pty: slurmstepd opened task 0's terminal before user_init
 * (io.c); inside, the container's own devpts has no such name, so the
 * helper binds it at /dev/console, where ttyname(3) finds it (as labrun
 * does for its own terminal).  Empty without --pty. */
static void task_terminal(spank_t sp, char *tty, size_t len)
{
	char port[16];
	tty[0] = '\0';
	if (spank_getenv(sp, "SLURM_PTY_PORT", port, sizeof(port)) != ESPANK_SUCCESS)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char link[320], target[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strncmp(target, "/dev/pts/", 9) && target[9] >= '0' && target[9] <= '9' &&
		    strspn(target + 9, "0123456789") == strlen(target + 9)) {
			snprintf(tty, len, "%s", target);
			break;
		}
	}
	closedir(d);
}

/* labrun-step's command line, from the user's options. */
static size_t helper_argv(char **argv, const struct lr_spank_args *a, char *batch, char *gpus,
			  char *tty, char *cpus, char *job, bool oci)
{
	size_t n = 0;
	argv[n++] = (char *)"labrun-step";
	if (oci)
		argv[n++] = (char *)"--node-oci";
	if (*tty) {
		argv[n++] = (char *)"--console";
		argv[n++] = tty;
	}
	if (*batch) {
		argv[n++] = (char *)"--batch-dir";
		argv[n++] = batch;
	}
	if (lr_plugin.conf.config) {
		argv[n++] = (char *)"--config";
		argv[n++] = (char *)lr_plugin.conf.config;
	}
	if (a->mounts) {
		argv[n++] = (char *)"--mounts";
		argv[n++] = a->mounts;
	}
	if (a->workdir) {
		argv[n++] = (char *)"--workdir";
		argv[n++] = a->workdir;
	}
	if (a->writable_dir) {
		argv[n++] = (char *)"--writable";
		argv[n++] = a->writable_dir;
	}
	if (a->remap_root)
		argv[n++] = (char *)"--remap-root";
	if (a->entrypoint)
		argv[n++] = (char *)"--entrypoint";
	if (a->lab) {
		argv[n++] = (char *)"--lab";
		argv[n++] = a->lab;
	}
	if (*gpus) {
		argv[n++] = (char *)"--gpus";
		argv[n++] = gpus;
	}
	if (*cpus) {
		argv[n++] = (char *)"--cpus";
		argv[n++] = cpus;
	}
	if (*job) {
		argv[n++] = (char *)"--job";
		argv[n++] = job;
	}
	argv[n++] = (char *)"--";
	argv[n++] = lr_plugin.image;
	argv[n] = NULL;
	return n;
}

/* In the forked child, up to exec: system calls only. */
static __attribute__((noreturn)) void start_helper(const struct lr_root_plan *plan, int sock,
						   int release, char *const *argv)
{
	lr_plugin_root_child(plan);
	/* fd 3 the hand-over socket, fd 4 the release pipe, 0-2 /dev/null:
	 * nothing else of slurmstepd's (the tasks' stdio among them). */
	int s = fcntl(sock, F_DUPFD_CLOEXEC, 10), r = fcntl(release, F_DUPFD_CLOEXEC, 10);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (s < 0 || r < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0 || dup2(s, 3) < 0 || dup2(r, 4) < 0)
		_exit(LR_HELPER_EXIT_FDS);
	close_range(5, ~0U, 0);
	static char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	execve(lr_plugin.conf.helper, argv, envp);
	_exit(LR_HELPER_EXIT_EXEC);
}

/* root.c gives the helper (and so the keeper) LR_HELPER_OOM_SCORE_ADJ.
 * Going below the lowest value a process ever had takes
 * CAP_SYS_RESOURCE: where root's bounding set lacks it (some container
 * hosts; this project's CI), Slurm's own set_oom_adj(-1000) of slurmstepd
 * fails silently too, so slurmstepd, the helper and the tasks all stay at
 * slurmstepd's value and an OOM kill in the step picks by size (the job's
 * hog, not the small helper).  That is the node's lasting state, not the
 * step's failure: said at verbose level, with its cause.  A value that is
 * neither is an error. */
static void note_oom_score_adj(pid_t helper)
{
	char path[64], buf[16] = "";
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)helper);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	bool got = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	long now = got ? strtol(buf, NULL, 10) : 0;
	long want = strtol(LR_HELPER_OOM_SCORE_ADJ, NULL, 10);
	if (!got || now == want)
		return;
	if (prctl(PR_CAPBSET_READ, CAP_SYS_RESOURCE, 0, 0, 0) == 0)
		slurm_verbose(
			"labrun: the container's helper and keeper stay at oom_score_adj "
			"%ld, as slurmstepd: root lacks CAP_SYS_RESOURCE on this node (not in "
			"its bounding set), which going below that to %s takes",
			now, LR_HELPER_OOM_SCORE_ADJ);
	else
		slurm_error("labrun: the container's helper has oom_score_adj %ld, not %s", now,
			    LR_HELPER_OOM_SCORE_ADJ);
}

int lr_plugin_remote_user_init(spank_t sp)
{
	struct lr_error err = {0};
	/* An option that failed in init_post_opt: no container, no task. */
	if (lr_plugin.failed)
		return 0;
	bool oci = lr_plugin_node_has_oci();
	if (lr_plugin_find_image(remote_env, sp, oci, &err) < 0)
		return record_failure(&err);
	if (!lr_plugin.image)
		return 0;
	static struct lr_root_plan plan;
	if (check_helper(lr_plugin.conf.helper, &err) < 0 ||
	    lr_plugin_root_plan(sp, &plan, &err) < 0)
		return record_failure(&err);
	char *argv[HELPER_MAX_ARGS];
	static char batch[PATH_MAX];
	batch_dir(sp, batch, sizeof(batch));
	/* The step's GPUs, as Slurm's gres plugin put them in the step's
	 * environment (slurmstepd.c, gres_g_step_set_env); labrun-step checks
	 * the list's form. */
	static char gpus[256];
	if (spank_getenv(sp, "SLURM_STEP_GPUS", gpus, sizeof(gpus)) != ESPANK_SUCCESS)
		gpus[0] = '\0';
	static char tty[64];
	task_terminal(sp, tty, sizeof(tty));
	static char cpus[16];
	uint16_t ncpus = 0;
	cpus[0] = '\0';
	if (spank_get_item(sp, S_JOB_NCPUS, &ncpus) == ESPANK_SUCCESS && ncpus)
		snprintf(cpus, sizeof(cpus), "%u", (unsigned)ncpus);
	static char job[16];
	uint32_t job_id = 0;
	job[0] = '\0';
	if (spank_get_item(sp, S_JOB_ID, &job_id) == ESPANK_SUCCESS && job_id)
		snprintf(job, sizeof(job), "%u", job_id);
	helper_argv(argv, &lr_plugin.args, batch, gpus, tty, cpus, job, oci);
	/* The job's layer holder first: the helper uses its mounts. */
	if (*job)
		lr_plugin_root_job_holder(sp, &plan, lr_plugin.args.remap_root);

	int sock[2] = {-1, -1}, release[2] = {-1, -1};
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0 ||
	    pipe2(release, O_CLOEXEC) < 0) {
		lr_error_errno(&err, errno, "container image %s: start the container",
			       lr_plugin.image);
		goto out;
	}
	pid_t pid = fork();
	if (pid < 0) {
		lr_error_errno(&err, errno, "container image %s: start the container",
			       lr_plugin.image);
		goto out;
	}
	if (pid == 0)
		start_helper(&plan, sock[1], release[0], argv);
	lr_plugin.helper = pid;
	lr_plugin.release_fd = release[1];
	release[1] = -1;
	close(sock[1]);
	sock[1] = -1;
	/* Bounded: the helper is the user's process, which the user may stop
	 * or trace, and which may block on what the user named (a FIFO, a
	 * FUSE mount that never answers); Slurm defers scancel until the
	 * tasks exist, so only this bound ends such a step. */
	int got = lr_step_receive_within(sock[0], (int)lr_plugin.conf.timeout * 1000,
					 &lr_plugin.handover, &err);
	if (got == 0) {
		lr_plugin.have_handover = true;
		note_oom_score_adj(pid);
		lr_plugin_root_oom_start();
		if (lr_plugin_root_quota(sp, &err) < 0)
			lr_plugin.have_handover = false;
	} else if (err.code == ETIMEDOUT) {
		lr_plugin_root_kill_helper();
		lr_error_set(&err, ETIMEDOUT,
			     "container image %s: the container was not ready within %u s "
			     "(plugstack.conf timeout=); its helper was killed",
			     lr_plugin.image, lr_plugin.conf.timeout);
	} else if (err.code == EPIPE) {
		/* No word at all: the helper did not start. */
		int st = lr_plugin_root_release();
		lr_error_set(&err, EIO, "container image %s: the container helper %s %s",
			     lr_plugin.image, lr_plugin.conf.helper, helper_failure(st));
	}
out:
	for (int i = 0; i < 2; i++) {
		if (sock[i] >= 0)
			close(sock[i]);
		if (release[i] >= 0)
			close(release[i]);
	}
	/* labrun-step's messages name what failed (the image, a bind, the
	 * lab's quota) on their own. */
	if (!lr_plugin.have_handover)
		return record_failure(&err);
	return 0;
}

/* The image's environment over Slurm's: PATH and the rest as the image
 * sets them, except the names the user keeps from the host
 * (--container-env). */
static int set_image_env(spank_t sp, const struct lr_step_handover *h)
{
	const struct lr_spank_args *a = &lr_plugin.args;
	for (size_t i = 0; i < h->n_env; i++) {
		const char *eq = strchr(h->env[i], '=');
		size_t klen = (size_t)(eq - h->env[i]);
		bool keep = false;
		for (size_t j = 0; j < a->n_env && !keep; j++)
			keep = strlen(a->env[j]) == klen && !strncmp(a->env[j], h->env[i], klen);
		if (keep)
			continue;
		char name[256];
		if (klen >= sizeof(name))
			continue;
		memcpy(name, h->env[i], klen);
		name[klen] = '\0';
		if (spank_setenv(sp, name, eq + 1, 1) != ESPANK_SUCCESS) {
			slurm_error("labrun: cannot set %s for the task", name);
			return -1;
		}
	}
	return 0;
}

/* The task's status as its own: a death by signal re-raised (without a
 * core: the job dumped its own, if any). */
static __attribute__((noreturn)) void exit_like(int st)
{
	if (WIFEXITED(st))
		_exit(WEXITSTATUS(st));
	int sig = WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL;
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	kill(getpid(), sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	_exit(128 + sig);
}

/* The task Slurm knows, after the fork: every signal it gets goes to the
 * job (proctrack/cgroup signals only slurmstepd's children; with
 * signals=slurm, for proctrack/linuxproc, which signals the whole tree,
 * only those not sent by slurmstepd).  All signals are blocked here. */
static __attribute__((noreturn)) void waiter(pid_t job, pid_t stepd)
{
	sigset_t all;
	sigfillset(&all);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			int st;
			pid_t p;
			while ((p = waitpid(-1, &st, WNOHANG)) > 0)
				if (p == job)
					exit_like(st);
			continue;
		}
		if (lr_plugin.conf.signals == LR_SIGNALS_SLURM && si.si_pid == stepd)
			continue;
		kill(job, sig);
	}
}

int lr_plugin_remote_task_init(spank_t sp)
{
	if (lr_plugin.failed) {
		slurm_error("labrun: %s; the task was not run", lr_plugin.failure.msg);
		return -1;
	}
	if (!lr_plugin.image)
		return 0;
	if (!lr_plugin.have_handover) {
		slurm_error("labrun: container image %s: no container; the task was not run",
			    lr_plugin.image);
		return -1;
	}
	if (lr_plugin.release_fd >= 0) {
		close(lr_plugin.release_fd);
		lr_plugin.release_fd = -1;
	}
	struct lr_error err = {0};
	if (set_image_env(sp, &lr_plugin.handover) < 0)
		return -1;
	if (lr_step_join(&lr_plugin.handover, &err) < 0) {
		slurm_error("labrun: container image %s: %s; the task was not run", lr_plugin.image,
			    err.msg);
		return -1;
	}
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t stepd = getppid();
	pid_t job = fork();
	if (job < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		slurm_error("labrun: start the task in the container: %s", strerror(errno));
		return -1;
	}
	if (job == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 0; /* Slurm execs the command, inside */
	}
	waiter(job, stepd);
}
