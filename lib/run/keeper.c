/* keeper.c - the container's PID 1.
 *
 * Runs as the user, in labrun's user namespace (where it holds capabilities
 * over its own mounts only), as PID 1 of the container's new pid
 * namespace.  It builds the writable layer and the skeleton while the
 * launcher mounts the layers, stacks them, finishes the container (/proc,
 * /dev, /sys, binds), pivots into it, starts the job, then stays as init:
 * it reaps orphans, passes signals on to the job, and reports the job's
 * exact wait status to the launcher.  It exits after the launcher; then the
 * kernel kills every process left in the namespace, and with the last one
 * the mounts go too: nothing can outlive the job (DESIGN.md §3.5).
 *
 * The job itself is started from here and, before exec, enters a nested
 * user namespace with --remap-root (mounts locked) or else drops every
 * capability, sets no_new_privs, marks every fd close-on-exec and checks
 * that its cwd is inside the root (runc CVE-2024-21626).
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "keeper.h"
#include "log.h"
#include "mount.h"
#include "step.h"
#include "userns.h"

#define STAGE LR_STAGING

/* The job's stack until exec. */
#define JOB_STACK (256 * 1024)

/* The job's side of the exec pipe: which step failed, with errno. */
struct exec_failure {
	int step; /* 0 exec, 1 workdir, 2 other setup */
	int code;
	char msg[256];
};

static void report(int fd, int kind, int wait_status, const struct lr_error *err)
{
	struct lr_report r = {.kind = kind, .wait_status = wait_status};
	if (err) {
		r.code = err->code;
		snprintf(r.msg, sizeof(r.msg), "%s", err->msg);
	}
	/* One write, well under PIPE_BUF * 4 and the pipe is empty: atomic
	 * enough, and the reader tolerates a short read as "no report". */
	(void)!write(fd, &r, sizeof(r));
}

/* After the report: stay until the launcher is gone, then exit.  The
 * launcher returns the job's status as soon as it reads the report, while
 * the keeper still holds the container's namespaces; the kernel's
 * teardown of the mounts and of the pid namespace then happens in the
 * keeper's exit, after the user's shell already has the status, instead
 * of in the launcher's (ch-run gets the same effect by exec'ing the job).
 * The launcher's end closes the alive pipe; PR_SET_PDEATHSIG would kill
 * the keeper anyway. */
static __attribute__((noreturn)) void finish(const struct lr_keeper_plan *p, int kind,
					     int wait_status, const struct lr_error *err)
{
	report(p->report_fd, kind, wait_status, err);
	struct pollfd alive = {.fd = p->alive_fd, .events = POLLIN};
	while (poll(&alive, 1, -1) < 0 && errno == EINTR)
		;
	_exit(kind == LR_REPORT_EXITED ? 0 : 125);
}

static __attribute__((noreturn)) void fail(const struct lr_keeper_plan *p, struct lr_error *err)
{
	finish(p, LR_REPORT_SETUP_FAILED, 0, err);
}

/* text, the whole of it, into the skeleton's file at path (what, for the
 * message), with write(2): stdio's buffers were pages the keeper touched
 * afresh (a page first touched costs ~10 us on a VM: doc/DECISIONS.md,
 * "Start-up cost"). */
static int write_whole(const char *path, const char *what, const char *text, size_t len,
		       struct lr_error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	int r = fd < 0 ? -errno : lr_write_all(fd, text, len);
	return r < 0 ? lr_error_errno(err, -r, "write %s", what) : 0;
}

/* The image's passwd or group with the user's own entry in place of any
 * line carrying the same name or id, so that `id`, `whoami` and `ls -l`
 * inside name the user.  Written into the skeleton. */
static int write_etc(const char *image_text, const char *file, const char *name, unsigned id,
		     const char *entry, struct lr_error *err)
{
	char rel[32], staged[64];
	snprintf(rel, sizeof(rel), "etc/%s", file);
	snprintf(staged, sizeof(staged), STAGE "/s/etc/%s", file);
	int r = lr_mount_skeleton_add(STAGE "/s", rel, false, err);
	if (r < 0)
		return r;
	size_t tlen = image_text ? strlen(image_text) : 0, elen = strlen(entry);
	_cleanup_free_ char *out = malloc(tlen + elen + 2);
	if (!out)
		return lr_error_errno(err, ENOMEM, "write %s", staged);
	char idstr[16];
	snprintf(idstr, sizeof(idstr), "%u", id);
	size_t nlen = strlen(name), ilen = strlen(idstr), n = 0;
	for (const char *line = image_text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *next = nl ? nl + 1 : line + len;
		/* The third field, the id: after the second colon. */
		const char *f2 = memchr(line, ':', len);
		const char *f3 = f2 ? memchr(f2 + 1, ':', len - (size_t)(f2 + 1 - line)) : NULL;
		bool same_name = len > nlen && !strncmp(line, name, nlen) && line[nlen] == ':';
		bool same_id = f3 && (size_t)(line + len - (f3 + 1)) > ilen &&
			       !strncmp(f3 + 1, idstr, ilen) && f3[1 + ilen] == ':';
		if (!same_name && !same_id && len) {
			memcpy(out + n, line, len);
			n += len;
			out[n++] = '\n';
		}
		line = next;
	}
	memcpy(out + n, entry, elen);
	n += elen;
	out[n++] = '\n';
	return write_whole(staged, staged, out, n, err);
}

static int setup_etc(const struct lr_keeper_plan *p, struct lr_error *err)
{
	const struct lr_container_spec *s = p->spec;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	const char *name = s->remap_root ? "root" : s->user_name;
	const char *group = s->remap_root ? "root" : s->group_name;
	const char *home = s->remap_root ? "/root" : s->user_home;
	char entry[1024];
	snprintf(entry, sizeof(entry), "%s:x:%u:%u:%s:%s:/bin/sh", name, (unsigned)uid,
		 (unsigned)gid, s->remap_root ? "root" : (s->user_gecos ? s->user_gecos : ""),
		 home ? home : "/");
	int r = write_etc(p->etc[LR_ETC_PASSWD], "passwd", name, uid, entry, err);
	if (r < 0)
		return r;
	snprintf(entry, sizeof(entry), "%s:x:%u:", group, (unsigned)gid);
	r = write_etc(p->etc[LR_ETC_GROUP], "group", group, gid, entry, err);
	if (r < 0)
		return r;
	/* Name resolution as on the host, copied as it is at start. */
	static const char *const copied[][2] = {{"etc/hosts", STAGE "/s/etc/hosts"},
						{"etc/resolv.conf", STAGE "/s/etc/resolv.conf"}};
	for (size_t i = 0; i < 2; i++) {
		const char *text = p->etc[LR_ETC_HOSTS + i];
		if (!text)
			continue;
		r = lr_mount_skeleton_add(STAGE "/s", copied[i][0], false, err);
		if (r < 0)
			return r;
		char what[32];
		snprintf(what, sizeof(what), "/%s", copied[i][0]);
		r = write_whole(copied[i][1], what, text, strlen(text), err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The skeleton layer (mount.h): mount points, passwd, group, and the
 * whiteout that hides /.labrun (layer metadata) from every layer below.
 * A whiteout (char 0:0) needs no CAP_MKNOD since Linux 5.8. */
static int setup_skeleton(const struct lr_keeper_plan *p, struct lr_error *err)
{
	const struct lr_container_spec *s = p->spec;
	if (mkdir(STAGE "/s", 0755) < 0)
		return lr_error_errno(err, errno, "skeleton");
	if (mknod(STAGE "/s/.labrun", S_IFCHR | 0000, makedev(0, 0)) < 0)
		return lr_error_errno(err, errno, "hide /.labrun");
	int r = lr_mount_skeleton_table(STAGE "/s", err);
	if (r < 0)
		return r;
	r = setup_etc(p, err);
	if (r < 0)
		return lr_error_prefix(err, "passwd/group");
	for (size_t i = 0; i < s->n_binds; i++) {
		struct stat st;
		if (p->bind_trees[i] < 0)
			continue;
		if (fstat(p->bind_trees[i], &st) < 0)
			return lr_error_errno(err, errno, "bind %s", s->binds[i].src);
		r = lr_mount_skeleton_add(STAGE "/s", s->binds[i].dst, S_ISDIR(st.st_mode), err);
		if (r < 0)
			return lr_error_prefix(err, "bind %s", s->binds[i].src);
	}
	return 0;
}

/* Mount the writable layer and the overlay root; returns the root's fd. */
static int setup_root(const struct lr_keeper_plan *p, struct lr_error *err)
{
	const struct lr_container_spec *s = p->spec;
	int r;
	if (p->writable_tree >= 0) {
		r = lr_mount_attach_path(p->writable_tree, STAGE "/w", err);
		if (r < 0)
			return lr_error_prefix(err, "writable %s", s->writable_dir);
	} else {
		r = lr_mount_tmpfs(STAGE "/w", s->tmpfs_size, err);
		if (r < 0)
			return r;
		if (mkdir(STAGE "/w/upper", 0755) < 0 || mkdir(STAGE "/w/work", 0700) < 0)
			return lr_error_errno(err, errno, "writable layer");
	}
	r = setup_skeleton(p, err);
	if (r < 0)
		return r;
	/* The launcher mounts the layers meanwhile; wait for them.  Nothing
	 * to read: the launcher failed, and it reports why. */
	char byte;
	ssize_t got;
	while ((got = read(p->ready_fd, &byte, 1)) < 0 && errno == EINTR)
		;
	if (got != 1)
		_exit(125);

	size_t n = s->chain->n;
	char *lower = malloc(n * 24 + 32);
	if (!lower)
		return lr_error_errno(err, ENOMEM, "overlay");
	size_t off = (size_t)sprintf(lower, STAGE "/s");
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(lower + off, ":" STAGE "/l/%zu", i);
	r = lr_mount_overlay(STAGE "/r", lower, STAGE "/w/upper", STAGE "/w/work", err);
	free(lower);
	if (r < 0) {
		if (p->writable_tree >= 0 && r == -EBUSY)
			return lr_error_set(err, EBUSY,
					    "writable directory %s is in use by another container",
					    s->writable_dir);
		return r;
	}
	int root = open(STAGE "/r", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return lr_error_errno(err, errno, "open new root");
	return root;
}

static int setup_container(const struct lr_keeper_plan *p, struct lr_error *err)
{
	const struct lr_container_spec *s = p->spec;
	_cleanup_close_ int root = setup_root(p, err);
	if (root < 0)
		return root;
	lr_debug(2, "overlay root mounted");
	struct lr_populate pop = {.tmp_size = s->tmpfs_size, .own_netns = s->net_none};
	int r = lr_mount_populate(root, &pop, err);
	if (r < 0)
		return r;
	if (p->console_tree >= 0 &&
	    (r = lr_mount_attach(p->console_tree, root, "/dev/console", LR_BIND_DEV, err)) < 0)
		return lr_error_prefix(err, "terminal");
	for (size_t i = 0; i < s->n_binds; i++) {
		if (p->bind_trees[i] < 0)
			continue;
		r = lr_mount_attach(p->bind_trees[i], root, s->binds[i].dst,
				    (s->binds[i].readonly ? LR_BIND_RO : 0) |
					    (s->binds[i].device ? LR_BIND_DEV : 0),
				    err);
		if (r < 0)
			return lr_error_prefix(err, "bind %s", s->binds[i].src);
		lr_debug(1, "bound %s at %s%s", s->binds[i].src, s->binds[i].dst,
			 s->binds[i].readonly ? " (ro)" : "");
	}
	lr_debug(2, "binds mounted");
	r = lr_mount_pivot(root, err);
	lr_debug(2, "pivoted");
	return r;
}

/* Mark every fd from 3 up close-on-exec; fail closed (security.md: pyxis
 * returned success when close_range was missing). */
static int cloexec_all(void)
{
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || fd < 3 || fd == self)
			continue;
		if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
			closedir(d);
			return -errno;
		}
	}
	closedir(d);
	return 0;
}

static __attribute__((noreturn)) void job_fail(int fd, int step, int code, const char *msg)
{
	struct exec_failure f = {.step = step, .code = code};
	snprintf(f.msg, sizeof(f.msg), "%s", msg);
	(void)!write(fd, &f, sizeof(f));
	_exit(step == 0 ? (code == ENOENT ? 127 : 126) : 125);
}

/* In the job's process, from fork to exec. */
struct job_start {
	const struct lr_keeper_plan *plan;
	int exec_fd;
};

static int run_job(void *arg)
{
	const struct job_start *js = arg;
	const struct lr_keeper_plan *p = js->plan;
	int exec_fd = js->exec_fd;
	const struct lr_container_spec *s = p->spec;
	struct lr_error err = {0};
	/* The launcher's job leads a process group of its own in the
	 * keeper's session, the container's (lr_keeper_main()): a group whose
	 * parent is in the same session is not orphaned, so the terminal's
	 * Ctrl-Z stops it (POSIX drops SIGTSTP to orphaned groups).  On the
	 * pty it is the foreground group: the pty's Ctrl-C, Ctrl-Z and
	 * SIGWINCH go to it.  tcsetpgrp() from a background group is allowed
	 * with SIGTTOU blocked; the job's own mask is set before exec. */
	if (s->step_fd < 0) {
		if (setpgid(0, 0) < 0)
			job_fail(exec_fd, 2, errno, "process group");
		if (p->tty_fd >= 0) {
			sigset_t ttou;
			sigemptyset(&ttou);
			sigaddset(&ttou, SIGTTOU);
			sigprocmask(SIG_BLOCK, &ttou, NULL);
			if (tcsetpgrp(p->tty_fd, getpid()) < 0)
				job_fail(exec_fd, 2, errno, "the container's terminal");
		}
	}
	/* With --remap-root the job is root and keeps the capabilities of a
	 * nested user namespace of its own (fakeroot: package installs into a
	 * --writable directory); entering it locks every mount labrun made
	 * (userns.h), and they reach nothing outside.  Anyone else runs with
	 * no capability at all in labrun's namespace: unable to remount, and
	 * any namespace it makes for itself copies the mounts locked. */
	if (s->remap_root) {
		if (lr_userns_nest(&err) < 0)
			job_fail(exec_fd, 2, err.code, err.msg);
	} else if (lr_userns_drop_caps(&err) < 0) {
		job_fail(exec_fd, 2, err.code, err.msg);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		job_fail(exec_fd, 2, errno, "set no_new_privs");
	/* A default working directory (the host's cwd seen through a bind,
	 * the image's workdir) that is not there falls back to "/", as a
	 * login does; one the user asked for must exist. */
	if (chdir(s->workdir) < 0 && (s->workdir_explicit || chdir("/") < 0)) {
		char msg[256];
		snprintf(msg, sizeof(msg), "working directory %s: %s", s->workdir, strerror(errno));
		job_fail(exec_fd, 1, errno, msg);
	}
	char cwd[16];
	if (!getcwd(cwd, sizeof(cwd)) && errno != ERANGE)
		job_fail(exec_fd, 1, errno, "working directory is outside the container");
	if (cloexec_all() < 0)
		job_fail(exec_fd, 2, EBADF, "cannot close labrun's file descriptors");
	/* The launcher's keeper turns non-dumpable here, in the memory this
	 * process shares with it until the exec (start_job()), so its /proc
	 * files are root's before the job runs, as under Slurm (anchor()):
	 * the job, the same user, cannot write the keeper's oom_score_adj
	 * (invariant 13: the container, not labrun, is what the OOM killer
	 * takes; a job that set the keeper's to 0 and filled /dev/shm got
	 * labrun killed, issue 12) nor anything else of it that only the
	 * owner's rights guard.  Not earlier: --remap-root's nesting above
	 * writes this process's own uid_map, which takes a dumpable one.
	 * The keeper is held until the exec (CLONE_VFORK), and the exec gives
	 * the job a memory of its own, dumpable as any program's. */
	if (s->step_fd < 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		job_fail(exec_fd, 2, errno, "set the keeper non-dumpable");
	sigprocmask(SIG_SETMASK, &p->job_mask, NULL);
	extern char **environ;
	environ = (char **)s->envp;
	execvp(s->argv[0], s->argv);
	int e = errno;
	char msg[256];
	snprintf(msg, sizeof(msg), "%s: %s", s->argv[0],
		 e == ENOENT ? "command not found" : strerror(e));
	job_fail(exec_fd, 0, e, msg);
}

/* Start the job (spec->argv) and return its pid once it has exec'd; a job
 * that cannot start ends the keeper with the reason. */
static pid_t start_job(const struct lr_keeper_plan *p)
{
	struct lr_error err = {0};
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		lr_error_errno(&err, errno, "pipe");
		fail(p, &err);
	}
	/* The job starts like posix_spawn does: sharing the keeper's memory
	 * until its exec (CLONE_VM|CLONE_VFORK), so no page table is copied;
	 * it writes nothing the keeper reads but the exec pipe. */
	struct job_start js = {.plan = p, .exec_fd = pipefd[1]};
	char *stack = mmap(NULL, JOB_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		lr_error_errno(&err, errno, "start the job");
		fail(p, &err);
	}
	pid_t job = clone(run_job, stack + JOB_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &js);
	if (job < 0) {
		lr_error_errno(&err, errno, "start the job");
		fail(p, &err);
	}
	munmap(stack, JOB_STACK);
	close(pipefd[1]);
	struct exec_failure ef;
	ssize_t n;
	do
		n = read(pipefd[0], &ef, sizeof(ef));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(ef)) {
		/* The job wrote why it could not start, then exited. */
		int st;
		while (waitpid(job, &st, 0) < 0 && errno == EINTR)
			;
		lr_error_set(&err, ef.code, "%s", ef.msg);
		if (ef.step == 0 && p->spec->step_fd < 0)
			finish(p, LR_REPORT_EXEC_FAILED, st, &err);
		fail(p, &err);
	}
	lr_debug(1, "job started");
	return job;
}

/* --container-entrypoint in a Slurm step: the image's entrypoint, run once
 * when the container is made, before any task joins (as pyxis runs it
 * once per container).  It must succeed for the step to run. */
static void run_entrypoint(const struct lr_keeper_plan *p)
{
	struct lr_error err = {0};
	pid_t job = start_job(p);
	int st = 0;
	while (waitpid(job, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return;
	if (WIFSIGNALED(st))
		lr_error_set(&err, ECANCELED, "the image's entrypoint %s was killed by signal %d",
			     p->spec->argv[0], WTERMSIG(st));
	else
		lr_error_set(&err, ECANCELED, "the image's entrypoint %s exited with status %d",
			     p->spec->argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	fail(p, &err);
}

/* --container-remap-root in a Slurm step: the tasks' nested user
 * namespace (and its copy of the mounts, locked), made by a child that
 * enters it, so that the keeper never does.  A keeper inside it would
 * share it with the tasks, who are root there: the capability check of
 * ptrace(2) then lets them attach to it, read its environment and take
 * its fds with pidfd_getfd (issue 12, item 15).  The launcher's job nests
 * the same way, from a child (run_job()).  Sets *user and *mnt to the
 * nested namespaces' fds. */
static int nest_for_tasks(int *user, int *mnt, struct lr_error *err)
{
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0)
		return lr_error_errno(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(sync[0]);
		close(sync[1]);
		return lr_error_errno(err, errno, "cannot enter the job's user namespace");
	}
	if (pid == 0) {
		struct lr_error e = {0};
		int r = lr_userns_nest(&e);
		(void)!write(sync[1], &r, sizeof(r));
		for (;;)
			pause(); /* until the keeper has opened its namespaces */
	}
	close(sync[1]);
	int r = -EIO;
	ssize_t n;
	while ((n = read(sync[0], &r, sizeof(r))) < 0 && errno == EINTR)
		;
	close(sync[0]);
	if (n != (ssize_t)sizeof(r))
		r = -EIO;
	char path[64];
	*user = *mnt = -1;
	if (r == 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		*user = open(path, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
		*mnt = open(path, O_RDONLY | O_CLOEXEC);
		if (*user < 0 || *mnt < 0)
			r = -errno;
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (r < 0) {
		if (*user >= 0)
			close(*user);
		if (*mnt >= 0)
			close(*mnt);
		*user = *mnt = -1;
		return lr_error_errno(err, -r, "cannot enter the job's user namespace");
	}
	return 0;
}

/* Every fd closed but the n in keep (and 0-2, /dev/null from
 * labrun-step): the image's, the binds', the step's socket and the pipe
 * to slurmstepd are no business of an idle PID 1 the tasks can see. */
static void close_all_but(const int *keep, size_t n)
{
	unsigned from = 3;
	for (;;) {
		unsigned next = ~0U; /* the lowest kept fd at or above from */
		for (size_t i = 0; i < n; i++)
			if (keep[i] >= (int)from && (unsigned)keep[i] < next)
				next = (unsigned)keep[i];
		if (next == ~0U)
			break;
		if (next > from)
			close_range(from, next - 1, 0);
		from = next + 1;
	}
	close_range(from, ~0U, 0);
}

/* A Slurm step's keeper (DESIGN.md §4): no job of its own.  It hands the
 * namespaces its tasks join to slurmstepd and stays as init, reaping the
 * orphans of every task, until labrun-step goes (released by slurmstepd
 * after the last task, or killed with the step).  Non-dumpable and with
 * no fd but its three: nothing in the container may trace it or take what
 * it holds (invariant 8, notes/security.md). */
static __attribute__((noreturn)) void anchor(const struct lr_keeper_plan *p)
{
	const struct lr_container_spec *s = p->spec;
	struct lr_error err = {0};
	int fds[LR_NS_COUNT];
	for (int k = 0; k < LR_NS_COUNT; k++)
		fds[k] = -1;
	/* The job's user namespace with --remap-root is a nested one, as for
	 * labrun's own job: entering it locks every mount (userns.h).  One
	 * for all the tasks (MPI needs them in one), made by a child. */
	if (s->remap_root && nest_for_tasks(&fds[LR_NS_JOB_USER], &fds[LR_NS_MNT], &err) < 0)
		fail(p, &err);
	for (int k = 0; k < LR_NS_COUNT; k++) {
		if (k == LR_NS_JOB_USER || fds[k] >= 0)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/ns/%s", lr_ns_names[k]);
		fds[k] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[k] < 0) {
			lr_error_errno(&err, errno, "open %s", path);
			fail(p, &err);
		}
	}
	/* From here on the keeper's /proc files are root's and ptrace needs
	 * CAP_SYS_PTRACE in the host's user namespace (ptrace(2): "dumpable"),
	 * whatever the tasks hold in the container's. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		lr_error_errno(&err, errno, "set the keeper non-dumpable");
		fail(p, &err);
	}
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		lr_error_errno(&err, errno, "signalfd");
		fail(p, &err);
	}
	if (lr_step_send_ready(s->step_fd, fds, s->workdir, s->workdir_explicit, s->envp,
			       &s->step_limits, &err) < 0)
		fail(p, &err);
	/* Its own three: the launcher's end (alive), the report pipe (its
	 * end tells labrun-step the keeper is gone) and its signals. */
	const int keep[] = {p->alive_fd, p->report_fd, sfd};
	close_all_but(keep, sizeof(keep) / sizeof(keep[0]));
	lr_debug(1, "container handed over to slurmstepd");
	struct pollfd pfd[2] = {{.fd = p->alive_fd, .events = POLLIN},
				{.fd = sfd, .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[0].revents)
			_exit(0);
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) > 0)
			;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

void lr_keeper_main(const struct lr_keeper_plan *p)
{
	struct lr_error err = {0};
	/* Die with the launcher: it serves the layers, nothing works without
	 * it.  Checked once more after arming, against the race. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct pollfd alive = {.fd = p->alive_fd, .events = POLLIN};
	if (poll(&alive, 1, 0) > 0)
		_exit(125);
	prctl(PR_SET_NAME, "labrun-keeper");
	/* Into the container's memory cgroup (v1), before anything else: the
	 * launcher, the layers' server, stays out of it (cgroup_job.h). */
	if (p->spec->memcg_tasks_fd >= 0) {
		if (write(p->spec->memcg_tasks_fd, "0", 1) != 1) {
			lr_error_errno(&err, errno, "join the container's memory cgroup");
			fail(p, &err);
		}
		close(p->spec->memcg_tasks_fd);
	}
	/* The launcher's container is a session of its own, whose terminal
	 * is labrun's pty (pty.h) or none: the caller's terminal is never the
	 * controlling terminal of anything in the container, so TIOCSTI
	 * cannot type into it (issue 12; CVE-2017-5226 for bubblewrap).  The
	 * keeper leads it, as sudo's monitor does, so that the job's group
	 * has a parent in the session (run_job()). */
	if (p->spec->step_fd < 0) {
		if (setsid() < 0) {
			lr_error_errno(&err, errno, "the container's session");
			fail(p, &err);
		}
		if (p->tty_fd >= 0 && ioctl(p->tty_fd, TIOCSCTTY, 0) < 0) {
			lr_error_errno(&err, errno, "the container's terminal");
			fail(p, &err);
		}
	}

	if (setup_container(p, &err) < 0)
		fail(p, &err);

	if (p->spec->step_fd >= 0) {
		if (p->spec->argv[0])
			run_entrypoint(p);
		anchor(p);
	}
	pid_t job = start_job(p);

	/* Init's loop.  The keeper is in a session of its own, so every
	 * signal it gets was sent by a process: the launcher passing one on
	 * (the caller's terminal's among them), or kill(1).  Those a terminal
	 * sends go to the job's process group, as a terminal sends them;
	 * the others to the job alone, as kill(1) to a command does. */
	sigset_t wait_set = *p->forward;
	sigaddset(&wait_set, SIGCHLD);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&wait_set, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			bool group = sig == SIGINT || sig == SIGQUIT || sig == SIGHUP ||
				     sig == SIGTSTP || sig == SIGCONT || sig == SIGWINCH;
			kill(group ? -job : job, sig);
			continue;
		}
		int st;
		pid_t pid;
		while ((pid = waitpid(-1, &st, WNOHANG | WUNTRACED)) > 0) {
			if (pid == job && WIFSTOPPED(st))
				report(p->report_fd, LR_REPORT_STOPPED, st, NULL);
			else if (pid == job)
				finish(p, LR_REPORT_EXITED, st, NULL);
		}
	}
}
