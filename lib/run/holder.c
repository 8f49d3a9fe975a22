/* holder.c - the user's layer holder (holder.h): the launcher's side
 * (finding or starting the holder, asking for layers) and the holder's
 * own loop.
 *
 * Runs as the user, with no privilege.  Why it is safe:
 *  - The socket is reached only through a directory that is the user's,
 *    mode 0700, opened with O_NOFOLLOW and checked on the fd; the path
 *    given to bind() and connect() goes through that fd
 *    (/proc/self/fd/N/...), so a directory swapped after the check is not
 *    followed.  Both ends check the other's uid (SO_PEERCRED), and the
 *    holder numbers ids in its own user namespace, where every other
 *    user is the overflow id.
 *  - The holder mounts only what a client hands it as an open fd, which
 *    the client could read anyway, and checks each layer itself
 *    (lr_layer_load(): superblock, every table, every directory) before
 *    mounting it, as labrun does.  Its mounts exist in its own mount
 *    namespace only; a container gets detached copies (open_tree()).
 *  - A held layer is keyed by the identity of its file (device, inode,
 *    size, mtime, ctime): a file replaced or rewritten under the same name
 *    is a new layer, checked and mounted afresh, never served stale.
 *  - Everything the holder holds lives in its namespaces: when it exits,
 *    or is killed, the kernel takes its mounts down.  The next launch finds
 *    a dead socket and starts a new holder.
 *  - It is started before the container joins its cgroups, and stays in
 *    the caller's, so the container's cgroup can be removed when it ends;
 *    its stdio is /dev/null and it is a session of its own, so it holds
 *    no terminal or pipe of the caller's open.
 *
 * The wire format is private to one build of labrun (the holder is a fork
 * of the labrun that started it): a request (kind, count, and with HOLD the
 * layer files as SCM_RIGHTS) and a reply (code, message, and the mount
 * copies as SCM_RIGHTS), one SOCK_SEQPACKET message each.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fuse_server.h"
#include "holder.h"
#include "log.h"
#include "mount.h"
#include "userns.h"

#define HOLDER_MAGIC 0x31686c72u /* "rlh1" */
/* How long a launch waits for a holder's answer before mounting its own
 * layers: a stopped (SIGSTOP) or wedged holder must not hang every launch. */
#define HOLDER_REPLY_MS 10000
#define HOLDER_BACKLOG 64

enum { REQ_HOLD = 1, REQ_STOP = 2 };

struct request {
	uint32_t magic;
	uint32_t kind;
	uint32_t n; /* layer files attached (HOLD) */
};

struct reply {
	uint32_t magic;
	int32_t code;	  /* 0 or a positive errno */
	uint32_t n;	  /* mount copies attached */
	uint32_t layer;	  /* with code: the layer it is about */
	uint32_t clients; /* STOP: containers still served */
	char msg[240];
};

/* ------------------------------------------------------------ the socket */

/* A directory for the holder's socket that is the caller's alone. */
static int check_private(int fd, const char *path, struct lr_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lr_error_errno(err, errno, "holder directory %s", path);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return lr_error_set(err, EPERM,
				    "holder directory %s is not yours alone (owner uid %u, mode "
				    "%04o): not used",
				    path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* The user's runtime directory (/run/user/UID, made by logind for a login
 * session) when it is the user's, else /tmp/labrun-UID.  Node-local both:
 * a holder serves its node. */
static int open_dir(struct lr_error *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/run/user/%u", (unsigned)geteuid());
	_cleanup_close_ int run = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int fd;
	if (run >= 0 && fstat(run, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & 022)) {
		if (mkdirat(run, "labrun", 0700) < 0 && errno != EEXIST)
			return lr_error_errno(err, errno, "holder directory %s/labrun", path);
		fd = openat(run, "labrun", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		strcat(path, "/labrun");
	} else {
		snprintf(path, sizeof(path), "/tmp/labrun-%u", (unsigned)geteuid());
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return lr_error_errno(err, errno, "holder directory %s", path);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return lr_error_errno(err, errno, "holder directory %s", path);
	int r = check_private(fd, path, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static const char *sock_name(bool remap_root)
{
	return remap_root ? "holder-root.sock" : "holder.sock";
}

static void sock_addr(struct sockaddr_un *a, int dir, bool remap_root)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s", dir,
		 sock_name(remap_root));
}

/* Is the process at the other end of s the caller's own user? */
static bool peer_is_us(int s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	return getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == geteuid();
}

/* Connect to the holder; -errno (ENOENT, ECONNREFUSED: none running). */
static int connect_holder(int dir, bool remap_root)
{
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct sockaddr_un a;
	sock_addr(&a, dir, remap_root);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(s);
		return -e;
	}
	if (!peer_is_us(s)) {
		close(s);
		return -EPERM;
	}
	return s;
}

static int send_fds(int s, const void *buf, size_t len, const int *fds, size_t n)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * LR_MAX_LAYERS)];
		struct cmsghdr align;
	} c;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n > LR_MAX_LAYERS)
		return -E2BIG;
	if (n) {
		memset(&c, 0, sizeof(c));
		m.msg_control = c.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(h), fds, sizeof(int) * n);
	}
	ssize_t r;
	do
		r = sendmsg(s, &m, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)len ? 0 : r < 0 ? -errno : -EIO;
}

/* One message of exactly len bytes, and the fds with it (at most max; every
 * fd received is closed on any error).  Returns how many fds, -EPIPE at the
 * end of the connection, -EPROTO for anything malformed. */
static int recv_fds(int s, void *buf, size_t len, int *fds, size_t max)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * LR_MAX_LAYERS)];
		struct cmsghdr align;
	} c;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = c.buf,
			   .msg_controllen = sizeof(c.buf)};
	ssize_t r;
	do
		r = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -EPIPE;
	if (r < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	size_t n = 0;
	int bad = (size_t)r != len || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int got[LR_MAX_LAYERS];
		memcpy(got, CMSG_DATA(h), sizeof(int) * (k < LR_MAX_LAYERS ? k : LR_MAX_LAYERS));
		for (size_t i = 0; i < k && i < LR_MAX_LAYERS; i++) {
			if (n < max && !bad)
				fds[n++] = got[i];
			else
				close(got[i]);
		}
	}
	if (bad) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		return -EPROTO;
	}
	return (int)n;
}

/* ------------------------------------------------------------ the holder */

struct held {
	struct lr_layer layer; /* fd, index and name (layer.path) */
	struct stat id;	       /* the file's identity when first held */
	struct lr_fuse *fuse;  /* NULL until mounted */
	unsigned slot;	       /* mounted at LR_STAGING/<slot> */
	unsigned refs;	       /* connections holding it */
	struct timespec unused_since;
};

struct client {
	int fd;
	bool stopper; /* sent STOP: not a container */
	size_t n;
	struct held *layers[LR_MAX_LAYERS];
};

static struct holder {
	int listen_fd; /* -1 once stopping */
	int dir;
	bool remap_root;
	unsigned idle;
	struct held *held[LR_HOLDER_MAX_LAYERS];
	size_t n_held;
	unsigned next_slot;
	struct client clients[LR_HOLDER_MAX_CLIENTS];
	size_t n_clients;
} H;

static double since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void held_free(struct held *h)
{
	if (h->fuse) {
		char target[32];
		snprintf(target, sizeof(target), LR_STAGING "/%u", h->slot);
		lr_mount_detach(target);
		lr_fuse_free(h->fuse);
		rmdir(target);
	}
	lr_layer_free(&h->layer);
	free(h);
}

/* The held layer whose file fd is, checked and mounted when new.  Takes fd. */
static int hold_one(int fd, struct held **out, struct lr_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return lr_error_set(err, EINVAL, "not a regular file");
	}
	struct held *h = NULL;
	for (size_t i = 0; i < H.n_held && !h; i++)
		if (same_file(&H.held[i]->id, &st))
			h = H.held[i];
	if (h) {
		close(fd);
	} else {
		if (H.n_held == LR_HOLDER_MAX_LAYERS) {
			close(fd);
			return lr_error_set(err, ENOSPC, "the holder holds %d layers already",
					    LR_HOLDER_MAX_LAYERS);
		}
		h = calloc(1, sizeof(*h));
		if (!h) {
			close(fd);
			return lr_error_errno(err, ENOMEM, "hold");
		}
		h->layer.fd = fd;
		h->id = st;
		snprintf(h->layer.name, sizeof(h->layer.name), "%llx:%llu",
			 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
		int r = lr_layer_load(&h->layer, err);
		if (r < 0) {
			held_free(h);
			return r;
		}
		H.held[H.n_held++] = h;
	}
	if (!h->fuse) {
		char target[32];
		h->slot = H.next_slot++;
		snprintf(target, sizeof(target), LR_STAGING "/%u", h->slot);
		if (mkdir(target, 0755) < 0)
			return lr_error_errno(err, errno, "holder: mkdir %s", target);
		uid_t uid = H.remap_root ? 0 : geteuid();
		gid_t gid = H.remap_root ? 0 : getegid();
		int r = lr_fuse_mount(h->layer.sq, target, uid, gid, true, h->layer.name, &h->fuse,
				      err);
		if (r < 0) {
			rmdir(target);
			return r;
		}
	}
	*out = h;
	return 0;
}

static void reply_error(int s, uint32_t layer, const struct lr_error *err)
{
	struct reply rep = {
		.magic = HOLDER_MAGIC, .code = err->code ? err->code : EIO, .layer = layer};
	snprintf(rep.msg, sizeof(rep.msg), "%.*s", (int)sizeof(rep.msg) - 1, err->msg);
	(void)send_fds(s, &rep, sizeof(rep), NULL, 0);
}

static void release(struct client *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (--c->layers[i]->refs == 0)
			clock_gettime(CLOCK_MONOTONIC, &c->layers[i]->unused_since);
	c->n = 0;
}

/* A HOLD: every layer held, then a copy of each mount sent back. */
static void serve_hold(struct client *c, int *fds, size_t n)
{
	struct lr_error err = {0};
	size_t i = 0;
	if (c->n) { /* one HOLD per connection */
		for (; i < n; i++)
			close(fds[i]);
		err = (struct lr_error){.code = EPROTO};
		snprintf(err.msg, sizeof(err.msg), "holder: a second request on one connection");
		reply_error(c->fd, 0, &err);
		return;
	}
	for (; i < n; i++) {
		struct held *h = NULL;
		if (hold_one(fds[i], &h, &err) < 0)
			break;
		h->refs++;
		c->layers[c->n++] = h;
	}
	if (i < n) {
		for (size_t j = i + 1; j < n; j++)
			close(fds[j]);
		release(c);
		reply_error(c->fd, (uint32_t)i, &err);
		return;
	}
	int trees[LR_MAX_LAYERS];
	for (i = 0; i < n; i++) {
		char target[32];
		snprintf(target, sizeof(target), LR_STAGING "/%u", c->layers[i]->slot);
		trees[i] = lr_mount_clone(target, false, &err);
		if (trees[i] < 0)
			break;
	}
	if (i < n) {
		for (size_t j = 0; j < i; j++)
			close(trees[j]);
		release(c);
		reply_error(c->fd, (uint32_t)i, &err);
		return;
	}
	struct reply rep = {.magic = HOLDER_MAGIC, .n = (uint32_t)n};
	(void)send_fds(c->fd, &rep, sizeof(rep), trees, n);
	for (i = 0; i < n; i++)
		close(trees[i]);
}

static size_t containers(void)
{
	size_t k = 0;
	for (size_t i = 0; i < H.n_clients; i++)
		k += !H.clients[i].stopper;
	return k;
}

/* No new container from here: later launches start a new holder.  The
 * socket is unlinked under the directory's lock, which every launch that
 * starts a holder takes, so that the name is still ours. */
static void stop_listening(void)
{
	if (H.listen_fd < 0)
		return;
	flock(H.dir, LOCK_EX);
	unlinkat(H.dir, sock_name(H.remap_root), 0);
	close(H.listen_fd);
	flock(H.dir, LOCK_UN);
	H.listen_fd = -1;
}

static void drop_client(size_t i)
{
	release(&H.clients[i]);
	close(H.clients[i].fd);
	H.clients[i] = H.clients[--H.n_clients];
}

static void serve_client(size_t i)
{
	struct client *c = &H.clients[i];
	struct request req;
	int fds[LR_MAX_LAYERS];
	int n = recv_fds(c->fd, &req, sizeof(req), fds, LR_MAX_LAYERS);
	if (n < 0 || req.magic != HOLDER_MAGIC) {
		for (int j = 0; j < n; j++)
			close(fds[j]);
		drop_client(i); /* gone, or not labrun */
		return;
	}
	if (req.kind == REQ_HOLD && req.n == (uint32_t)n && n > 0) {
		serve_hold(c, fds, (size_t)n);
		return;
	}
	for (int j = 0; j < n; j++)
		close(fds[j]);
	if (req.kind == REQ_STOP) {
		c->stopper = true;
		release(c);
		stop_listening();
		struct reply rep = {.magic = HOLDER_MAGIC, .clients = (uint32_t)containers()};
		(void)send_fds(c->fd, &rep, sizeof(rep), NULL, 0);
		return;
	}
	drop_client(i);
}

static void accept_client(void)
{
	int s = accept4(H.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return;
	/* geteuid() is the id the user has in the holder's namespace; any
	 * other user is the overflow id there. */
	if (!peer_is_us(s) || H.n_clients == LR_HOLDER_MAX_CLIENTS) {
		close(s);
		return;
	}
	H.clients[H.n_clients++] = (struct client){.fd = s};
}

/* Layers unused for the idle time are unmounted; returns the poll timeout
 * until the next one is due (-1: none). */
static int evict(void)
{
	double next = -1;
	for (size_t i = 0; i < H.n_held;) {
		struct held *h = H.held[i];
		if (h->refs) {
			i++;
			continue;
		}
		double left = (double)H.idle - since(&h->unused_since);
		if (left <= 0 || H.listen_fd < 0) {
			held_free(h);
			H.held[i] = H.held[--H.n_held];
			continue;
		}
		if (next < 0 || left < next)
			next = left;
		i++;
	}
	return next < 0 ? -1 : (int)(next * 1000) + 1;
}

static void holder_loop(void)
{
	static struct pollfd pfd[1 + LR_HOLDER_MAX_CLIENTS + LR_HOLDER_MAX_LAYERS];
	for (;;) {
		int timeout = evict();
		if (H.n_held == 0 && containers() == 0) {
			/* Nothing held and nobody served: done.  A stopper
			 * waiting for the end sees its connection close. */
			stop_listening();
			_exit(0);
		}
		size_t n = 0;
		pfd[n++] = (struct pollfd){.fd = H.listen_fd, .events = POLLIN};
		for (size_t i = 0; i < H.n_clients; i++)
			pfd[n++] = (struct pollfd){.fd = H.clients[i].fd, .events = POLLIN};
		size_t first_layer = n;
		for (size_t i = 0; i < H.n_held; i++)
			pfd[n++] = (struct pollfd){
				.fd = H.held[i]->fuse ? lr_fuse_fd(H.held[i]->fuse) : -1,
				.events = POLLIN};
		if (poll(pfd, n, timeout) < 0)
			continue;
		/* FUSE first: a container waiting on a read is the hot path. */
		for (size_t i = 0; i < H.n_held; i++)
			if (pfd[first_layer + i].revents &&
			    lr_fuse_process(H.held[i]->fuse) == -ENODEV) {
				/* Unmounted under us: only a kill of the
				 * connection does that.  Mount afresh next
				 * time, once nobody uses it. */
				lr_fuse_free(H.held[i]->fuse);
				H.held[i]->fuse = NULL;
			}
		/* Clients from the back: drop_client() moves the last one. */
		for (size_t i = H.n_clients; i-- > 0;)
			if (pfd[1 + i].revents)
				serve_client(i);
		if (pfd[0].revents)
			accept_client();
	}
}

/* Keep only the fds in keep (sorted) open, besides stdio. */
static void close_all_but(const int *keep, size_t n)
{
	unsigned from = 3;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)keep[i] > from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		if ((unsigned)keep[i] + 1 > from)
			from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* ps shows a process's command line from its own memory: the holder, a
 * fork of labrun, would show the launch's (image, job and all) for as long
 * as it lives, and `pgrep -f JOB` would find it.  The arguments' bytes are
 * overwritten with its name, as setproctitle(3bsd) does; where they are
 * comes from /proc/self/stat (arg_start and arg_end, fields 48 and 49). */
static void set_cmdline(const char *name)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "re");
	if (!f)
		return;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long long start = 0, end = 0;
	for (int field = 2; p && field < 49; field++) {
		p = strchr(p + 1, ' ');
		if (p && field == 47)
			start = strtoull(p + 1, NULL, 10);
		if (p && field == 48)
			end = strtoull(p + 1, NULL, 10);
	}
	size_t len = strlen(name) + 1;
	if (!start || end <= start || end - start < len)
		return;
	memset((void *)(uintptr_t)start, 0, end - start);
	memcpy((void *)(uintptr_t)start, name, len);
}

/* The holder process: a grandchild of the first launch, never returns. */
static _Noreturn void holder_main(int listen_fd, int dir, const struct lr_chain *chain,
				  bool remap_root, unsigned idle)
{
	prctl(PR_SET_NAME, "labrun-holder");
	set_cmdline("labrun-holder");
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		dup3(null, fd, 0);
	int keep[LR_MAX_LAYERS + 2];
	size_t n_keep = 0;
	keep[n_keep++] = listen_fd;
	keep[n_keep++] = dir;
	for (size_t i = 0; i < chain->n; i++)
		keep[n_keep++] = chain->layers[i].fd;
	qsort(keep, n_keep, sizeof(int), cmp_int);
	close_all_but(keep, n_keep);
	umask(077);
	if (chdir("/") < 0)
		_exit(1);

	H = (struct holder){
		.listen_fd = listen_fd, .dir = dir, .remap_root = remap_root, .idle = idle};
	struct lr_error err = {0};
	struct lr_ns_request req = {
		.mount_only = true,
		.inside_uid = remap_root ? 0 : geteuid(),
		.inside_gid = remap_root ? 0 : getegid(),
	};
	if (lr_userns_enter(&req, &err) < 0 || lr_mount_make_private(&err) < 0 ||
	    lr_mount_staging(&err) < 0)
		_exit(1);
	/* The launch that started it has checked and indexed its layers: they
	 * are adopted as they are, not read again. */
	for (size_t i = 0; i < chain->n && H.n_held < LR_HOLDER_MAX_LAYERS; i++) {
		struct held *h = calloc(1, sizeof(*h));
		if (!h || fstat(chain->layers[i].fd, &h->id) < 0) {
			free(h);
			continue;
		}
		h->layer = chain->layers[i];
		h->layer.path = NULL; /* the launch's string: not ours to free */
		clock_gettime(CLOCK_MONOTONIC, &h->unused_since);
		H.held[H.n_held++] = h;
	}
	holder_loop();
	_exit(0);
}

/* Start a holder listening at the socket name (whatever was there is a
 * dead holder's: the caller holds the directory's lock and could not
 * connect).  Returns once it is listening; it answers when it is ready. */
static int spawn(int dir, const struct lr_chain *chain, bool remap_root, unsigned idle,
		 struct lr_error *err)
{
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return lr_error_errno(err, errno, "holder socket");
	unlinkat(dir, sock_name(remap_root), 0);
	struct sockaddr_un a;
	sock_addr(&a, dir, remap_root);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, HOLDER_BACKLOG) < 0)
		return lr_error_errno(err, errno, "holder socket");
	pid_t child = fork();
	if (child < 0)
		return lr_error_errno(err, errno, "start a layer holder");
	if (child == 0) {
		/* A session of its own, and not the caller's child: the
		 * caller's terminal and its end leave it alone. */
		setsid();
		pid_t holder = fork();
		if (holder == 0)
			holder_main(s, dir, chain, remap_root, idle);
		_exit(holder < 0);
	}
	int st;
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return lr_error_set(err, EAGAIN, "start a layer holder: fork failed");
	lr_debug(1, "layer holder started (idle timeout %us)", idle);
	return 0;
}

/* Wait for one reply, at most HOLDER_REPLY_MS. */
static int await(int s, struct reply *rep, int *fds, size_t max)
{
	struct pollfd p = {.fd = s, .events = POLLIN};
	int r;
	do
		r = poll(&p, 1, HOLDER_REPLY_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	int n = recv_fds(s, rep, sizeof(*rep), fds, max);
	if (n >= 0 && rep->magic != HOLDER_MAGIC) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		return -EPROTO;
	}
	return n;
}

/* The id every other user has in a holder's user namespace: a user with
 * it could not be told from the others there (SO_PEERCRED). */
static bool is_overflow_uid(void)
{
	unsigned v = 65534;
	FILE *f = fopen("/proc/sys/kernel/overflowuid", "re");
	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = 65534;
		fclose(f);
	}
	return geteuid() == v;
}

int lr_holder_hold(const struct lr_chain *chain, bool remap_root, unsigned idle, int *conn,
		   int trees[], struct lr_error *err)
{
	if (is_overflow_uid())
		return lr_error_set(err, EPERM,
				    "no layer holder for uid %u, the kernel's overflow uid",
				    (unsigned)geteuid());
	_cleanup_close_ int dir = open_dir(err);
	if (dir < 0)
		return dir;
	int fds[LR_MAX_LAYERS];
	for (size_t i = 0; i < chain->n; i++)
		fds[i] = chain->layers[i].fd;
	/* Twice: a holder may exit between our connect and its answer (it
	 * was idle), and the next try starts a new one. */
	for (int attempt = 0; attempt < 2; attempt++) {
		int s = connect_holder(dir, remap_root);
		if (s == -ENOENT || s == -ECONNREFUSED) {
			flock(dir, LOCK_EX);
			s = connect_holder(dir, remap_root);
			if (s == -ENOENT || s == -ECONNREFUSED) {
				int r = spawn(dir, chain, remap_root, idle, err);
				s = r < 0 ? r : connect_holder(dir, remap_root);
			}
			flock(dir, LOCK_UN);
			if (s < 0 && !err->msg[0])
				lr_error_errno(err, -s, "connect to the layer holder");
		} else if (s < 0) {
			lr_error_errno(err, -s, "connect to the layer holder");
		}
		if (s < 0)
			return s;
		struct request req = {
			.magic = HOLDER_MAGIC, .kind = REQ_HOLD, .n = (uint32_t)chain->n};
		int r = send_fds(s, &req, sizeof(req), fds, chain->n);
		struct reply rep;
		if (r == 0)
			r = await(s, &rep, trees, chain->n);
		if (r == -EPIPE || r == -ECONNRESET) {
			close(s);
			continue;
		}
		if (r < 0) {
			close(s);
			return lr_error_errno(err, -r, "layer holder");
		}
		if (rep.code) {
			close(s);
			for (int i = 0; i < r; i++)
				close(trees[i]);
			rep.msg[sizeof(rep.msg) - 1] = '\0';
			size_t l = rep.layer < chain->n ? rep.layer : 0;
			return lr_error_set(err, rep.code, "layer holder: layer %zu (%s): %s", l,
					    chain->layers[l].name, rep.msg);
		}
		if ((size_t)r != chain->n) {
			close(s);
			for (int i = 0; i < r; i++)
				close(trees[i]);
			return lr_error_set(err, EPROTO, "layer holder: %d mounts for %zu layers",
					    r, chain->n);
		}
		*conn = s;
		return 0;
	}
	return lr_error_set(err, EPIPE, "layer holder: it ended twice while asked");
}

int lr_holder_stop(unsigned *busy, struct lr_error *err)
{
	_cleanup_close_ int dir = open_dir(err);
	if (dir < 0)
		return dir;
	int told = 0;
	*busy = 0;
	for (int view = 0; view < 2; view++) {
		_cleanup_close_ int s = connect_holder(dir, view);
		if (s < 0)
			continue;
		struct request req = {.magic = HOLDER_MAGIC, .kind = REQ_STOP};
		struct reply rep;
		if (send_fds(s, &req, sizeof(req), NULL, 0) < 0 || await(s, &rep, NULL, 0) < 0)
			continue;
		told++;
		if (rep.clients) {
			(*busy)++;
			continue;
		}
		/* No container: it ends now; its end closes this connection. */
		char c;
		struct pollfd p = {.fd = s, .events = POLLIN};
		if (poll(&p, 1, HOLDER_REPLY_MS) > 0)
			(void)!read(s, &c, 1);
	}
	return told;
}
