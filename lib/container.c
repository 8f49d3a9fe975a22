/* container.c - the launcher's side of running a container.
 *
 * Runs as the user, in the launcher process, which after set-up is the
 * layers' FUSE server and the keeper's parent.  The sequence (DESIGN.md §3):
 *
 *  1. user, mount, ipc (net, uts) namespaces, ids mapped (userns.c);
 *  2. every mount private; host trees to bind (user binds, --writable DIR)
 *     cloned while the host's paths are still in view;
 *  3. a staging tmpfs; each layer mounted over FUSE and served by a thread
 *     of this process (fuse_server.c);
 *  4. a new pid namespace whose PID 1, the keeper (keeper.c), builds the
 *     root, pivots and runs the job;
 *  5. signals sent to labrun are passed to the keeper, which passes them to
 *     the job; the job's wait status comes back on a pipe.
 *
 * The order matters twice: CLONE_NEWUSER needs a single-threaded process,
 * and no thread can be created once CLONE_NEWPID has been unshared (the
 * kernel refuses CLONE_THREAD across pid namespaces), so the pid namespace
 * is unshared after the FUSE threads start and just before the fork.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "fuse_server.h"
#include "keeper.h"
#include "log.h"
#include "mount.h"
#include "userns.h"

/* The signals passed on to the job (issue 3; DESIGN.md §3.5). */
static const int forwarded[] = {SIGINT,  SIGTERM, SIGHUP,   SIGQUIT,
				SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

static void forward_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(set, forwarded[i]);
}

static int loopback_up(struct lr_error *err)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return lr_error_errno(err, errno, "--net=none: socket");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return lr_error_errno(err, errno, "--net=none: loopback");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return lr_error_errno(err, errno, "--net=none: bring loopback up");
	return 0;
}

/* --writable=DIR: DIR/upper keeps the changes, DIR/work is overlayfs's
 * scratch directory (it must be on the same filesystem as upper). */
static int prepare_writable(const char *dir, struct lr_error *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return lr_error_errno(err, errno, "--writable %s", dir);
	char path[PATH_MAX];
	const char *sub[] = {"upper", "work"};
	for (size_t i = 0; i < 2; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, sub[i]) >= sizeof(path))
			return lr_error_set(err, ENAMETOOLONG, "--writable %s: path too long", dir);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return lr_error_errno(err, errno, "--writable %s", path);
	}
	return 0;
}

struct run_state {
	int bind_trees[LR_CONFIG_MAX_BINDS + 64 + 8];
	size_t n_trees;
	int writable_tree;
	struct lr_fuse *fuse[LR_MAX_LAYERS];
	size_t n_fuse;
};

static void state_free(struct run_state *st)
{
	for (size_t i = 0; i < st->n_trees; i++)
		if (st->bind_trees[i] >= 0)
			close(st->bind_trees[i]);
	if (st->writable_tree >= 0)
		close(st->writable_tree);
	for (size_t i = 0; i < st->n_fuse; i++)
		lr_fuse_free(st->fuse[i]);
}

/* Steps 1-3: namespaces, host trees, layers served. */
static int prepare(const struct lr_container_spec *s, struct run_state *st, struct lr_error *err)
{
	struct lr_ns_request req = {
		.net = s->net_none,
		.uts = s->hostname != NULL,
		.inside_uid = s->remap_root ? 0 : geteuid(),
		.inside_gid = s->remap_root ? 0 : getegid(),
	};
	if (s->writable_dir) {
		int r = prepare_writable(s->writable_dir, err);
		if (r < 0)
			return r;
	}
	int r = lr_userns_enter(&req, err);
	if (r < 0)
		return r;
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		return lr_error_errno(err, errno, "--hostname %s", s->hostname);
	if (s->net_none && (r = loopback_up(err)) < 0)
		return r;
	if ((r = lr_mount_make_private(err)) < 0)
		return r;

	if (s->n_binds > sizeof(st->bind_trees) / sizeof(st->bind_trees[0]))
		return lr_error_set(err, E2BIG, "too many binds");
	for (size_t i = 0; i < s->n_binds; i++) {
		r = lr_mount_clone(s->binds[i].src, true, err);
		if (r == -ENOENT && s->binds[i].optional) {
			lr_debug(1, "admin bind %s: not on this node, skipped", s->binds[i].src);
			r = -1;
		} else if (r < 0) {
			return lr_error_prefix(err, "bind source");
		}
		st->bind_trees[st->n_trees++] = r;
	}
	if (s->writable_dir) {
		r = lr_mount_clone(s->writable_dir, false, err);
		if (r < 0)
			return lr_error_prefix(err, "--writable");
		st->writable_tree = r;
	}

	if ((r = lr_mount_staging(err)) < 0)
		return r;
	if (mkdir(LR_STAGING "/l", 0700) < 0 || mkdir(LR_STAGING "/r", 0755) < 0 ||
	    mkdir(LR_STAGING "/w", 0755) < 0)
		return lr_error_errno(err, errno, "staging directories");
	for (size_t i = 0; i < s->chain->n; i++) {
		const struct lr_layer *l = &s->chain->layers[i];
		char target[64];
		snprintf(target, sizeof(target), LR_STAGING "/l/%zu", i);
		if (mkdir(target, 0755) < 0)
			return lr_error_errno(err, errno, "staging directories");
		r = lr_fuse_serve(l->sq, target, req.inside_uid, req.inside_gid, l->name,
				  &st->fuse[st->n_fuse], err);
		if (r < 0)
			return lr_error_prefix(err, "mount layer %zu (%s)", i, l->name);
		st->n_fuse++;
	}
	lr_debug(1, "%zu layer(s) served over FUSE", s->chain->n);
	return 0;
}

/* An interactive shell in the container takes the terminal's foreground
 * for its own process group; give it back to labrun's group, so that the
 * user's shell finds the terminal as it left it. */
static void reclaim_terminal(void)
{
	if (!isatty(STDIN_FILENO) || tcgetpgrp(STDIN_FILENO) == getpgrp())
		return;
	sigset_t ttou, old;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	tcsetpgrp(STDIN_FILENO, getpgrp());
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Step 5: pass signals on until the keeper exits; read its report. */
static int supervise(pid_t keeper, int report_fd, const sigset_t *fwd, int *wait_status,
		     struct lr_error *err)
{
	sigset_t set = *fwd;
	sigaddset(&set, SIGCHLD);
	int kst = 0;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			pid_t r = waitpid(keeper, &kst, WNOHANG);
			if (r == keeper)
				break;
			continue;
		}
		/* Terminal-generated signals (SI_KERNEL) reach the job on their
		 * own; passing them on would deliver them twice. */
		if (si.si_code != SI_KERNEL)
			kill(keeper, sig);
	}
	struct lr_report rep;
	ssize_t n;
	do
		n = read(report_fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep)) {
		/* No report: the keeper was killed.  Its death took the job
		 * with it, by the same signal as far as anyone can tell. */
		if (WIFSIGNALED(kst)) {
			*wait_status = kst;
			return 0;
		}
		return lr_error_set(err, EIO, "the container's keeper exited with status %d",
				    WIFEXITED(kst) ? WEXITSTATUS(kst) : -1);
	}
	rep.msg[sizeof(rep.msg) - 1] = '\0';
	switch (rep.kind) {
	case LR_REPORT_EXITED:
		*wait_status = rep.wait_status;
		return 0;
	case LR_REPORT_EXEC_FAILED:
		*wait_status = rep.wait_status;
		lr_error_set(err, rep.code, "%s", rep.msg);
		return 0;
	default:
		return lr_error_set(err, rep.code ? rep.code : EIO, "%s", rep.msg);
	}
}

int lr_container_run(const struct lr_container_spec *s, int *wait_status, struct lr_error *err)
{
	struct run_state st = {.writable_tree = -1};
	sigset_t fwd, all, orig;
	forward_set(&fwd);
	sigfillset(&all);
	/* Everything blocked while threads are made: they inherit the mask
	 * and must never take a signal meant for the launcher. */
	sigprocmask(SIG_SETMASK, &all, &orig);

	int r = prepare(s, &st, err);
	if (r < 0)
		goto out;

	sigset_t main_mask = orig;
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&main_mask, forwarded[i]);
	sigaddset(&main_mask, SIGCHLD);
	sigprocmask(SIG_SETMASK, &main_mask, NULL);

	int report[2] = {-1, -1}, alive[2] = {-1, -1};
	if (pipe2(report, O_CLOEXEC) < 0 || pipe2(alive, O_CLOEXEC) < 0) {
		r = lr_error_errno(err, errno, "pipe");
		goto out;
	}
	if (unshare(CLONE_NEWPID) < 0) {
		r = lr_error_errno(err, errno, "cannot create a pid namespace");
		goto close_pipes;
	}
	struct lr_keeper_plan plan = {
		.spec = s,
		.bind_trees = st.bind_trees,
		.writable_tree = st.writable_tree,
		.report_fd = report[1],
		.alive_fd = alive[0],
		.job_mask = orig,
		.forward = &fwd,
	};
	pid_t keeper = fork();
	if (keeper < 0) {
		r = lr_error_errno(err, errno, "start the container's keeper");
		goto close_pipes;
	}
	if (keeper == 0) {
		close(report[0]);
		close(alive[1]);
		lr_keeper_main(&plan);
	}
	close(report[1]);
	close(alive[0]);
	report[1] = alive[0] = -1;
	lr_debug(1, "keeper started");
	r = supervise(keeper, report[0], &fwd, wait_status, err);
	reclaim_terminal();
close_pipes:
	for (int i = 0; i < 2; i++) {
		if (report[i] >= 0)
			close(report[i]);
		if (alive[i] >= 0)
			close(alive[i]);
	}
out:
	state_free(&st);
	/* The forwarded signals stay blocked: one arriving now must not kill
	 * labrun before it has passed on the job's status. */
	return r;
}
