/* container.c - the launcher's side of running a container.
 *
 * Runs as the user, in the launcher process, which after set-up is the
 * layers' FUSE server and the keeper's parent.  The sequence (DESIGN.md §3):
 *
 *  1. the image's passwd/group and the host's hosts/resolv.conf read while
 *     nothing else runs (they are copied into the skeleton layer, so no
 *     FUSE round trip and no bind mount is spent on them);
 *  2. user, mount, ipc, pid (net, uts) namespaces, ids mapped (userns.c);
 *  3. every mount private; host trees to bind (user binds, --writable DIR)
 *     cloned while the host's paths are still in view;
 *  4. a staging tmpfs; the keeper (keeper.c) forked as PID 1 of the new
 *     pid namespace: it builds the writable layer and the skeleton while
 *     labrun attaches each layer's mount from the user's layer holder
 *     (holder.c), or without one mounts each layer over FUSE
 *     (fuse_server.c), then stacks them, pivots and runs the job;
 *  5. one poll loop answers the layers' FUSE requests, relays the
 *     container's terminal (pty.c) and passes signals sent to labrun on
 *     to the keeper, which passes them to the job; the job's wait status
 *     comes back on a pipe and is returned at once: the keeper, still
 *     alive, tears the namespaces down when labrun exits.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "fuse_server.h"
#include "keeper.h"
#include "log.h"
#include "mount.h"
#include "pty.h"
#include "userns.h"

/* The signals passed on to the job (issue 3; DESIGN.md §3.5).  SIGTSTP
 * too: passed on; when the job stops, the keeper says so and labrun stops
 * itself, so that the user's shell sees a stopped job whether the
 * terminal or kill(1) sent it. */
static const int forwarded[] = {SIGINT,	 SIGTERM,  SIGHUP,  SIGQUIT, SIGUSR1,
				SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP};

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

/* Whether the directory behind fd (named what, for messages) may hold a
 * container's writable layer: a directory (not a symlink: opened with
 * O_NOFOLLOW), the caller's, and writable by nobody else.  Anyone else
 * who could write it would control what the next container sees as its
 * files (issue 12, item 2). */
static int check_own_dir(int fd, const char *dir, const char *what, struct lr_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lr_error_errno(err, errno, "--writable %s: %s", dir, what);
	if (!S_ISDIR(st.st_mode))
		return lr_error_set(err, ENOTDIR, "--writable %s: %s is not a directory", dir,
				    what);
	if (st.st_uid != geteuid())
		return lr_error_set(err, EPERM,
				    "--writable %s: %s belongs to uid %u, not to you: its owner "
				    "would control the container's files",
				    dir, what, (unsigned)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return lr_error_set(err, EPERM,
				    "--writable %s: %s is writable by %s (mode %04o): others "
				    "could change the container's files (chmod go-w)",
				    dir, what, st.st_mode & S_IWOTH ? "others" : "its group",
				    (unsigned)(st.st_mode & 07777));
	return 0;
}

/* The parent of DIR (fd): whoever may write it can rename DIR away and put
 * their own in its place between two runs, so it must be the caller's or
 * root's, and writable by nobody else unless the sticky bit keeps others
 * from renaming what is not theirs (/tmp). */
static int check_parent(int fd, const char *dir, struct lr_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lr_error_errno(err, errno, "--writable %s: its parent directory", dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return lr_error_set(err, EPERM,
				    "--writable %s: its parent directory belongs to uid %u, who "
				    "could replace it: choose a directory in one of yours",
				    dir, (unsigned)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return lr_error_set(err, EPERM,
				    "--writable %s: its parent directory is writable by %s "
				    "(mode %04o) without the sticky bit: they could replace it",
				    dir, st.st_mode & S_IWOTH ? "others" : "its group",
				    (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Make (when missing) and open the directory name under dfd, without
 * following a symlink, and check it. */
static int open_own_dir(int dfd, const char *name, mode_t mode, const char *dir, const char *what,
			struct lr_error *err)
{
	if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
		return lr_error_errno(err, errno, "--writable %s: make %s", dir, what);
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		struct stat st;
		if ((errno == ELOOP || errno == ENOTDIR) &&
		    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			return lr_error_set(err, ELOOP,
					    "--writable %s: %s is a symbolic link: labrun does not "
					    "follow it (give the directory itself)",
					    dir, what);
		if (errno == ENOTDIR)
			return lr_error_set(err, ENOTDIR, "--writable %s: %s is not a directory",
					    dir, what);
		return lr_error_errno(err, errno, "--writable %s: %s", dir, what);
	}
	int r = check_own_dir(fd, dir, what, err);
	return r < 0 ? r : take_fd(&fd);
}

/* --writable=DIR: DIR/upper keeps the changes, DIR/work is overlayfs's
 * scratch directory (it must be on the same filesystem as upper).  DIR is
 * locked for the container's life: with index=off overlayfs only warns
 * when two mounts share an upper directory, and what they then do to it is
 * undefined.  DIR is opened once, without following a symlink, checked on
 * that fd (the caller's, writable by nobody else, in a parent nobody else
 * may write), and from then on only that fd is used: upper and work are
 * made and checked with *at() calls, and the mount is cloned from it
 * (prepare()), so nothing can swap a path in between.  Returns the locked
 * directory's fd. */
static int prepare_writable(const char *dir, struct lr_error *err)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s", dir) >= sizeof(path))
		return lr_error_set(err, ENAMETOOLONG, "--writable %s: path too long", dir);
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	const char *parent = !slash ? "." : slash == path ? "/" : path;
	if (slash && slash != path)
		*slash = '\0';
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return lr_error_set(err, EINVAL,
				    "--writable %s: name the directory itself, not . or ..", dir);
	_cleanup_close_ int pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return lr_error_errno(err, errno, "--writable %s: its parent directory", dir);
	int r = check_parent(pfd, dir, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_own_dir(pfd, name, 0700, dir, "it", err);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return lr_error_set(
				err, EBUSY,
				"--writable %s: in use by another container (one at a time)", dir);
		return lr_error_errno(err, errno, "--writable %s: lock", dir);
	}
	const char *sub[] = {"upper", "work"};
	for (size_t i = 0; i < 2; i++) {
		r = open_own_dir(fd, sub[i], 0755, dir, sub[i], err);
		if (r < 0)
			return r;
		close(r);
	}
	return take_fd(&fd);
}

struct run_state {
	int bind_trees[LR_CONTAINER_MAX_BINDS];
	size_t n_trees;
	int writable_tree;
	int writable_lock;
	int console_tree;
	struct lr_pty pty; /* the container's terminal; master -1: none */
	struct lr_fuse *fuse[LR_MAX_LAYERS];
	size_t n_fuse;
	char *etc[LR_ETC_FILES]; /* see struct lr_keeper_plan */
};

static void state_free(struct run_state *st)
{
	for (size_t i = 0; i < st->n_trees; i++)
		if (st->bind_trees[i] >= 0)
			close(st->bind_trees[i]);
	if (st->writable_tree >= 0)
		close(st->writable_tree);
	if (st->console_tree >= 0)
		close(st->console_tree);
	if (st->writable_lock >= 0)
		close(st->writable_lock);
	lr_pty_close(&st->pty);
	for (size_t i = 0; i < st->n_fuse; i++)
		lr_fuse_free(st->fuse[i]);
	for (size_t i = 0; i < LR_ETC_FILES; i++)
		free(st->etc[i]);
}

/* The image's passwd and group, read straight from the layers (no FUSE
 * yet), and the host's hosts and resolv.conf, copied in as docker does:
 * a snapshot at start. */
static int read_etc(const struct lr_chain *chain, struct run_state *st, struct lr_error *err)
{
	static const char *const image_files[] = {"/etc/passwd", "/etc/group"};
	size_t len;
	for (size_t i = 0; i < 2; i++) {
		int r = lr_chain_read_file(chain, image_files[i], LR_ETC_FILE_MAX, &st->etc[i],
					   &len, err);
		if (r < 0 && r != -ENOENT)
			return lr_error_prefix(err, "read the image's %s", image_files[i]);
	}
	static const char *const host_files[] = {"/etc/hosts", "/etc/resolv.conf"};
	for (size_t i = 0; i < 2; i++) {
		_cleanup_close_ int fd = open(host_files[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			continue; /* the container gets none either */
		char *buf = malloc(LR_HOST_ETC_MAX + 1);
		if (!buf)
			return lr_error_errno(err, ENOMEM, "read %s", host_files[i]);
		ssize_t n = read(fd, buf, LR_HOST_ETC_MAX);
		buf[n > 0 ? n : 0] = '\0';
		st->etc[2 + i] = buf;
	}
	return 0;
}

/* Steps 1-4: files read, namespaces, host trees, staging. */
static int prepare(const struct lr_container_spec *s, struct run_state *st, struct lr_error *err)
{
	struct lr_ns_request req = {
		.net = s->net_none,
		.uts = s->hostname != NULL,
		.inside_uid = s->remap_root ? 0 : geteuid(),
		.inside_gid = s->remap_root ? 0 : getegid(),
		.cgroup = s->cgroup_ns,
	};
	int r = read_etc(s->chain, st, err);
	if (r < 0)
		return r;
	/* The launcher's job gets a pty of labrun's own when the caller has a
	 * terminal (pty.h); a Slurm step's tasks have slurmstepd's. */
	if (s->step_fd < 0 && !s->console && (r = lr_pty_open(&st->pty, err)) < 0)
		return r;
	if (s->writable_dir) {
		if ((r = prepare_writable(s->writable_dir, err)) < 0)
			return r;
		st->writable_lock = r;
		/* The mount is cloned from the checked fd, not its path: a
		 * mount namespace's copy takes along the cwd of the process
		 * that unshares it (fs/namespace.c, copy_mnt_ns()), so DIR,
		 * as the cwd, is still that directory in the copy; an fd
		 * opened before would name the host's mount, which open_tree()
		 * refuses to clone from another namespace. */
		if (fchdir(r) < 0)
			return lr_error_errno(err, errno, "--writable %s", s->writable_dir);
	}
	r = lr_userns_enter(&req, err);
	if (r < 0)
		return r;
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		return lr_error_errno(err, errno, "--hostname %s", s->hostname);
	if (s->net_none && (r = loopback_up(err)) < 0)
		return r;
	if ((r = lr_mount_make_private(err)) < 0)
		return r;

	if (s->n_binds > LR_CONTAINER_MAX_BINDS)
		return lr_error_set(err, E2BIG, "more than %d binds", LR_CONTAINER_MAX_BINDS);
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
		r = lr_mount_clone(".", false, err);
		if (r < 0)
			return lr_error_prefix(err, "--writable %s", s->writable_dir);
		st->writable_tree = r;
		if (chdir("/") < 0)
			return lr_error_errno(err, errno, "chdir /");
	}

	/* /dev/console is the container's terminal: the container has a
	 * devpts instance of its own, where the pty does not exist, so
	 * without it ttyname(3) (and tty(1)) would find no name for the job's
	 * stdin.  LXC and systemd-nspawn give it the same name.  A Slurm
	 * step's tasks have a terminal slurmstepd made (srun --pty). */
	const char *console = s->console ? s->console : st->pty.master >= 0 ? st->pty.path : NULL;
	st->console_tree = console ? lr_mount_clone(console, false, NULL) : -1;
	if ((r = lr_mount_staging(err)) < 0)
		return r;
	if (mkdir(LR_STAGING "/l", 0700) < 0 || mkdir(LR_STAGING "/r", 0755) < 0 ||
	    mkdir(LR_STAGING "/w", 0755) < 0)
		return lr_error_errno(err, errno, "staging directories");
	return 0;
}

/* Step 4b, while the keeper builds the skeleton and the writable layer:
 * each layer mounted over FUSE, then the keeper told to stack them. */
static int mount_layers(const struct lr_container_spec *s, struct run_state *st,
			struct lr_error *err)
{
	uid_t uid = s->remap_root ? 0 : geteuid();
	gid_t gid = s->remap_root ? 0 : getegid();
	for (size_t i = 0; i < s->chain->n; i++) {
		const struct lr_layer *l = &s->chain->layers[i];
		char target[64];
		snprintf(target, sizeof(target), LR_STAGING "/l/%zu", i);
		if (mkdir(target, 0755) < 0)
			return lr_error_errno(err, errno, "staging directories");
		if (s->layer_trees && s->layer_trees[i] >= 0) {
			if (lr_mount_attach_path(s->layer_trees[i], target, err) < 0)
				return lr_error_prefix(err, "attach held layer %zu (%s)", i,
						       l->name);
			continue;
		}
		int r = lr_fuse_mount(l->sq, target, uid, gid, false, l->name,
				      &st->fuse[st->n_fuse], err);
		if (r < 0)
			return lr_error_prefix(err, "mount layer %zu (%s)", i, l->name);
		st->n_fuse++;
	}
	lr_debug(1, "%zu layer(s): %zu from a layer holder, %zu mounted over FUSE", s->chain->n,
		 s->chain->n - st->n_fuse, st->n_fuse);
	return 0;
}

/* The keeper's report, or what its death without one means: 0 when the
 * job ended, 1 when it stopped (more reports follow). */
static int read_report(int report_fd, pid_t keeper, int *wait_status, struct lr_error *err)
{
	struct lr_report rep;
	ssize_t n;
	do
		n = read(report_fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep)) {
		/* No report: the keeper was killed.  Its death took the job
		 * with it, by the same signal as far as anyone can tell. */
		int kst = 0;
		while (waitpid(keeper, &kst, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(kst)) {
			/* Said, not only returned: a bare 137 told nobody that
			 * the container (not the job) was killed.  Who killed
			 * it the caller may know (the OOM killer: its count in
			 * the container's cgroup) and put in front. */
			*wait_status = kst;
			const char *sig = sigabbrev_np(WTERMSIG(kst));
			lr_error_set(err, EINTR, "the container's keeper was killed by SIG%s",
				     sig ? sig : "?");
			return 0;
		}
		return lr_error_set(err, EIO, "the container's keeper exited with status %d",
				    WIFEXITED(kst) ? WEXITSTATUS(kst) : -1);
	}
	rep.msg[sizeof(rep.msg) - 1] = '\0';
	switch (rep.kind) {
	case LR_REPORT_EXITED: *wait_status = rep.wait_status; return 0;
	case LR_REPORT_STOPPED: *wait_status = rep.wait_status; return 1;
	case LR_REPORT_EXEC_FAILED:
		*wait_status = rep.wait_status;
		lr_error_set(err, rep.code, "%s", rep.msg);
		return 0;
	default: return lr_error_set(err, rep.code ? rep.code : EIO, "%s", rep.msg);
	}
}

/* The job stopped (the keeper said so): stop labrun too, so that the
 * caller's shell sees a stopped job and `fg` resumes both (SIGCONT, which
 * supervise() passes on).  The terminal gets its settings back first. */
static void stop_with_job(struct run_state *st)
{
	lr_pty_restore(&st->pty);
	raise(SIGSTOP);
}

/* Step 6: answer FUSE requests, relay the terminal and pass signals on
 * until the keeper reports the job's end (or dies).  The keeper is not
 * waited for: it stays until this process exits, so that the namespaces'
 * teardown happens in its exit, after the caller has the job's status
 * (keeper.c, finish()). */
static int supervise(pid_t keeper, int report_fd, int release_fd, struct run_state *st,
		     const sigset_t *fwd, int *wait_status, struct lr_error *err)
{
	sigset_t set = *fwd;
	sigaddset(&set, SIGCHLD);
	_cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		kill(keeper, SIGKILL);
		return lr_error_errno(err, errno, "signalfd");
	}
	enum { SIGNALS, REPORT, RELEASE, TERMINAL, LAYERS = TERMINAL + LR_PTY_POLLFDS };
	struct pollfd pfd[LAYERS + LR_MAX_LAYERS];
	pfd[SIGNALS] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[REPORT] = (struct pollfd){.fd = report_fd, .events = POLLIN};
	pfd[RELEASE] = (struct pollfd){.fd = release_fd, .events = POLLIN};
	for (size_t i = 0; i < st->n_fuse; i++)
		pfd[LAYERS + i] = (struct pollfd){.fd = lr_fuse_fd(st->fuse[i]), .events = POLLIN};
	for (;;) {
		lr_pty_poll_set(&st->pty, &pfd[TERMINAL]);
		if (poll(pfd, LAYERS + st->n_fuse, -1) < 0)
			continue; /* EINTR */
		for (size_t i = 0; i < st->n_fuse; i++) {
			if (!pfd[LAYERS + i].revents)
				continue;
			if (lr_fuse_process(st->fuse[i]) == -ENODEV)
				pfd[LAYERS + i].fd = -1;
		}
		lr_pty_pump(&st->pty, &pfd[TERMINAL]);
		/* A report, or the keeper's end (EOF). */
		if (pfd[REPORT].revents) {
			int r = read_report(report_fd, keeper, wait_status, err);
			if (r != 1) {
				lr_pty_drain(&st->pty, LR_PTY_DRAIN_MS);
				return r;
			}
			stop_with_job(st);
		}
		/* A Slurm step's end: slurmstepd let go after its last task.
		 * The keeper's death takes the container down; wait for it,
		 * so that nothing of the step outlives labrun-step. */
		if (pfd[RELEASE].revents) {
			kill(keeper, SIGKILL);
			while (waitpid(keeper, NULL, 0) < 0 && errno == EINTR)
				;
			*wait_status = 0;
			return 0;
		}
		if (!pfd[SIGNALS].revents)
			continue;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				continue; /* the keeper's end shows on the report pipe */
			/* The container is a session of its own (keeper.c): the
			 * caller's terminal's signals (SI_KERNEL) reach labrun
			 * only, and are passed on like the others.  With a pty,
			 * a new window size goes onto it instead: the kernel
			 * then signals the pty's foreground group itself. */
			if (si.ssi_signo == SIGWINCH && st->pty.master >= 0) {
				lr_pty_resize(&st->pty);
				continue;
			}
			if (si.ssi_signo == SIGCONT)
				lr_pty_sync(&st->pty); /* back in the foreground? */
			kill(keeper, (int)si.ssi_signo);
		}
	}
}

/* The keeper's (and so the job's) oom_score_adj, the launcher's only: the
 * container is what the kernel's OOM killer picks in a lab's memory
 * cgroup, never labrun, which serves the layers and alone can say what
 * happened.  What fills a lab's memory is often no process's: /dev/shm,
 * /tmp and the writable layer are tmpfs, whose pages are charged to the
 * cgroup but counted in nobody's RSS, so without this the largest RSS,
 * labrun's FUSE server, was killed and the user got 137 with no word
 * (issue 12, item 3; the figures are in doc/DECISIONS.md, "Out of
 * memory").  Raising one's own value needs no privilege; killing the keeper
 * ends the container and frees its tmpfs.  Not under Slurm, where root
 * sets the keeper's value (DESIGN.md §4). */
#define LR_CONTAINER_OOM_SCORE_ADJ "1000"

static void prefer_container_for_oom(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* Best effort: a kernel without it leaves things as they were. */
	(void)!write(fd, LR_CONTAINER_OOM_SCORE_ADJ, strlen(LR_CONTAINER_OOM_SCORE_ADJ));
	close(fd);
}

/* fork(), or with a cgroup (v2), a fork straight into it: clone3's
 * CLONE_INTO_CGROUP (Linux 5.7) puts the keeper, and so the job, in the
 * container's cgroup without migrating anyone, which on v2 waits for an
 * RCU grace period (~14 ms measured; kernel/cgroup/cgroup.c,
 * cgroup_attach_lock()).  A raw clone3 skips glibc's fork handlers: safe
 * here as labrun has one thread, and the keeper uses none of glibc's
 * thread state (no raise(), no pthread). */
static pid_t start_keeper(int cgroup_fd)
{
	if (cgroup_fd < 0)
		return fork();
	struct clone_args args = {
		.flags = CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cgroup_fd,
	};
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

int lr_container_run(const struct lr_container_spec *s, int *wait_status, struct lr_error *err)
{
	struct run_state st = {.writable_tree = -1,
			       .writable_lock = -1,
			       .console_tree = -1,
			       .pty = {.master = -1, .slave = -1, .in = -1, .out = -1}};
	sigset_t fwd, orig;
	forward_set(&fwd);
	/* The forwarded signals and SIGCHLD are taken through a signalfd in
	 * the main loop; block them from here on. */
	sigset_t mask;
	sigprocmask(SIG_BLOCK, NULL, &orig);
	sigorset(&mask, &orig, &fwd);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_SETMASK, &mask, NULL);

	int r = prepare(s, &st, err);
	if (r < 0)
		goto out;

	int report[2] = {-1, -1}, alive[2] = {-1, -1}, ready[2] = {-1, -1};
	if (pipe2(report, O_CLOEXEC) < 0 || pipe2(alive, O_CLOEXEC) < 0 ||
	    pipe2(ready, O_CLOEXEC) < 0) {
		r = lr_error_errno(err, errno, "pipe");
		goto close_pipes;
	}
	struct lr_keeper_plan plan = {
		.spec = s,
		.bind_trees = st.bind_trees,
		.writable_tree = st.writable_tree,
		.console_tree = st.console_tree,
		.tty_fd = -1,
		.report_fd = report[1],
		.alive_fd = alive[0],
		.ready_fd = ready[0],
		.job_mask = orig,
		.forward = &fwd,
	};
	for (size_t i = 0; i < LR_ETC_FILES; i++)
		plan.etc[i] = st.etc[i];
	pid_t keeper = start_keeper(s->cgroup_fd);
	if (keeper < 0 && s->cgroup_fd >= 0 && (errno == EACCES || errno == EPERM)) {
		/* cgroup v2 lets a process into a cgroup only from within the
		 * nearest common ancestor it may write: the member's. */
		r = lr_error_set(err, errno,
				 "cannot start the container in its cgroup: your session is not "
				 "in your lab's cgroup (cgroup v2 moves processes only within it); "
				 "log in again, or ask an admin to set up libcgroup's PAM module");
		goto close_pipes;
	}
	if (keeper < 0) {
		r = lr_error_errno(err, errno, "start the container's keeper");
		goto close_pipes;
	}
	if (keeper == 0) {
		close(report[0]);
		close(alive[1]);
		close(ready[1]);
		plan.tty_fd = lr_pty_child_fds(&st.pty);
		if (s->step_fd < 0)
			prefer_container_for_oom();
		lr_keeper_main(&plan);
	}
	close(report[1]);
	close(alive[0]);
	close(ready[0]);
	report[1] = alive[0] = ready[0] = -1;
	lr_debug(1, "keeper started");
	/* From here the caller's terminal is raw (if labrun has its
	 * foreground) until lr_pty_close() in state_free(), on every path. */
	lr_pty_parent_ready(&st.pty);
	lr_pty_sync(&st.pty);
	/* The layers are mounted while the keeper gets the rest ready: the
	 * two run on two cores (measured: ~0.2 ms per layer off the start). */
	r = mount_layers(s, &st, err);
	if (r < 0 || write(ready[1], "", 1) != 1) {
		if (r >= 0)
			r = lr_error_errno(err, errno, "start the container's keeper");
		kill(keeper, SIGKILL);
		while (waitpid(keeper, NULL, 0) < 0 && errno == EINTR)
			;
		goto close_pipes;
	}
	r = supervise(keeper, report[0], s->release_fd, &st, &fwd, wait_status, err);
	/* alive[1] stays open until this process exits: the keeper waits
	 * for that to exit in its turn (see supervise()). */
	alive[1] = -1;
close_pipes:
	for (int i = 0; i < 2; i++) {
		if (report[i] >= 0)
			close(report[i]);
		if (alive[i] >= 0)
			close(alive[i]);
		if (ready[i] >= 0)
			close(ready[i]);
	}
out:
	state_free(&st);
	/* The forwarded signals stay blocked: one arriving now must not kill
	 * labrun before it has passed on the job's status. */
	return r;
}
