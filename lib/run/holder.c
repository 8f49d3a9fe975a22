/* holder.c - the layer holder process (holder.h): the layers it holds,
 * its loop, and its start.  The launcher's side is holder_client.c, what
 * both share holder_wire.c.
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
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chaininfo.h"
#include "cleanup.h"
#include "container.h"
#include "fuse_server.h"
#include "holder.h"
#include "holder_wire.h"
#include "log.h"
#include "mount.h"
#include "userns.h"

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
	int probe_fd;  /* a job's probe socket (holder_path.h), or -1 */
	int dir;
	uint32_t job; /* a Slurm job's holder: ends with the job, not when idle */
	bool remap_root;
	unsigned idle;
	struct held *held[LR_HOLDER_MAX_LAYERS];
	size_t n_held;
	unsigned next_slot;
	struct client clients[LR_HOLDER_MAX_CLIENTS];
	size_t n_clients;
} H;

/* The chains whole HOLDs asked for, by their layers' files (top first),
 * with their launch info (chaininfo.h, a sealed memfd): a later launch of
 * the same image file gets both and opens no layer itself (REQ_CHAIN).
 * The least recently used goes when full. */
#define HOLDER_MAX_CHAINS 16

struct chain_rec {
	size_t n;
	int info;
	uint64_t used;
	struct stat id[]; /* n */
};

static struct chain_rec *chains[HOLDER_MAX_CHAINS];
static uint64_t chains_clock;

/* Where a held layer is mounted in the holder's namespace. */
static void target_of(unsigned slot, char *buf, size_t len)
{
	snprintf(buf, len, LR_STAGING "/%u", slot);
}

static void held_free(struct held *h)
{
	if (h->fuse) {
		char target[32];
		target_of(h->slot, target, sizeof(target));
		lr_mount_detach(target);
		lr_fuse_free(h->fuse);
		rmdir(target);
	}
	lr_layer_free(&h->layer);
	free(h);
}

/* The held layer whose file had identity id when first held, or NULL. */
static struct held *held_find(const struct stat *id)
{
	for (size_t i = 0; i < H.n_held; i++)
		if (lr_holder_same_file(&H.held[i]->id, id))
			return H.held[i];
	return NULL;
}

/* The held layer whose file fd is, checked and mounted when new.  Takes fd. */
static int hold_one(int fd, struct held **out, struct lr_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return lr_error_set(err, EINVAL, "not a regular file");
	}
	struct held *h = held_find(&st);
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
		target_of(h->slot, target, sizeof(target));
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
	(void)lr_holder_send(s, &rep, sizeof(rep), NULL, 0);
}

static void chain_rec_free(size_t k)
{
	if (!chains[k])
		return;
	close(chains[k]->info);
	free(chains[k]);
	chains[k] = NULL;
}

/* Remember the chain layers[0..n) a whole HOLD asked for, and write its
 * launch info from the layers the holder has open. */
static void record_chain(struct held *const *layers, size_t n)
{
	/* Its n mounts and the info go in one message. */
	if (n == 0 || n >= LR_MAX_LAYERS)
		return;
	size_t slot = HOLDER_MAX_CHAINS; /* a free one, else the least recently used */
	for (size_t k = 0; k < HOLDER_MAX_CHAINS; k++) {
		struct chain_rec *r = chains[k];
		if (!r) {
			if (slot == HOLDER_MAX_CHAINS || chains[slot])
				slot = k;
			continue;
		}
		bool same = r->n == n;
		for (size_t i = 0; same && i < n; i++)
			same = lr_holder_same_file(&r->id[i], &layers[i]->id);
		if (same) {
			r->used = ++chains_clock;
			return;
		}
		if (slot == HOLDER_MAX_CHAINS || (chains[slot] && r->used < chains[slot]->used))
			slot = k;
	}
	struct lr_chain *view = calloc(1, sizeof(*view));
	struct chain_rec *r = malloc(sizeof(*r) + n * sizeof(r->id[0]));
	int fd = memfd_create("labrun-launch-info", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct lr_error err = {0};
	if (view) {
		/* A view of the held layers, not a chain of its own: freed
		 * with free(), never lr_chain_free(). */
		view->n = n;
		for (size_t i = 0; i < n; i++)
			view->layers[i] = layers[i]->layer;
	}
	if (!view || !r || fd < 0 || lr_chain_info_write(view, fd, LR_ETC_FILE_MAX, &err) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		free(view);
		free(r);
		if (fd >= 0)
			close(fd);
		return;
	}
	free(view);
	*r = (struct chain_rec){.n = n, .info = fd, .used = ++chains_clock};
	for (size_t i = 0; i < n; i++)
		r->id[i] = layers[i]->id;
	chain_rec_free(slot);
	chains[slot] = r;
}

static void release(struct client *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (--c->layers[i]->refs == 0)
			clock_gettime(CLOCK_MONOTONIC, &c->layers[i]->unused_since);
	c->n = 0;
}

/* A copy of the mount of each layer c holds, and extra (>= 0) after them,
 * sent to c; on failure c holds nothing and is told why. */
static int reply_mounts(struct client *c, int extra)
{
	struct lr_error err = {0};
	int trees[LR_MAX_LAYERS] = {0};
	size_t i = 0, n = c->n;
	for (; i < n; i++) {
		char target[32];
		target_of(c->layers[i]->slot, target, sizeof(target));
		trees[i] = lr_mount_clone(target, false, &err);
		if (trees[i] < 0)
			break;
	}
	if (i < n || (extra >= 0 && n == LR_MAX_LAYERS)) {
		for (size_t j = 0; j < i; j++)
			close(trees[j]);
		release(c);
		if (i == n)
			lr_error_set(&err, E2BIG, "too many layers");
		reply_error(c->fd, (uint32_t)i, &err);
		return -1;
	}
	struct reply rep = {.magic = HOLDER_MAGIC, .n = (uint32_t)n};
	if (extra >= 0)
		trees[n] = extra;
	(void)lr_holder_send(c->fd, &rep, sizeof(rep), trees, n + (extra >= 0));
	for (i = 0; i < n; i++)
		close(trees[i]);
	return 0;
}

/* A HOLD: every layer held, then a copy of each mount sent back; whole:
 * the layers are an image's chain, top first (record_chain()). */
static void serve_hold(struct client *c, int *fds, size_t n, bool whole)
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
	if (reply_mounts(c, -1) == 0 && whole)
		record_chain(c->layers, c->n);
}

/* A CHAIN: the chain a whole HOLD of this image file asked for, if every
 * layer of it is still held, with its launch info.  Takes fd. */
static void serve_chain(struct client *c, int fd)
{
	struct lr_error err = {.code = ENOENT};
	snprintf(err.msg, sizeof(err.msg), "no chain of that image held");
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && c->n == 0;
	close(fd);
	size_t k = 0;
	while (ok && k < HOLDER_MAX_CHAINS &&
	       !(chains[k] && lr_holder_same_file(&chains[k]->id[0], &st)))
		k++;
	if (!ok || k == HOLDER_MAX_CHAINS) {
		reply_error(c->fd, 0, &err);
		return;
	}
	struct chain_rec *r = chains[k];
	for (size_t i = 0; i < r->n; i++) {
		struct held *h = held_find(&r->id[i]);
		/* Evicted, or its file changed since (hold_one() would take
		 * that for another layer): a new HOLD records the chain again. */
		struct stat now;
		if (!h || fstat(h->layer.fd, &now) < 0 || !lr_holder_same_file(&now, &h->id)) {
			release(c);
			chain_rec_free(k);
			reply_error(c->fd, (uint32_t)i, &err);
			return;
		}
		/* Mounted again if its FUSE connection was killed. */
		int dup_fd = fcntl(h->layer.fd, F_DUPFD_CLOEXEC, 0);
		if (dup_fd < 0 || hold_one(dup_fd, &h, &err) < 0) {
			release(c);
			reply_error(c->fd, (uint32_t)i, &err);
			return;
		}
		h->refs++;
		c->layers[c->n++] = h;
	}
	if (reply_mounts(c, r->info) == 0)
		r->used = ++chains_clock;
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
	char name[48];
	lr_holder_sock_name(name, sizeof(name), H.job, H.remap_root);
	flock(H.dir, LOCK_EX);
	unlinkat(H.dir, name, 0);
	close(H.listen_fd);
	flock(H.dir, LOCK_UN);
	H.listen_fd = -1;
	if (H.probe_fd >= 0)
		close(H.probe_fd);
	H.probe_fd = -1;
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
	int n = lr_holder_recv(c->fd, &req, sizeof(req), fds, LR_MAX_LAYERS);
	if (n < 0 || req.magic != HOLDER_MAGIC) {
		for (int j = 0; j < n; j++)
			close(fds[j]);
		drop_client(i); /* gone, or not labrun */
		return;
	}
	if ((req.kind == REQ_HOLD || req.kind == REQ_HOLD_WHOLE) && req.n == (uint32_t)n && n > 0) {
		serve_hold(c, fds, (size_t)n, req.kind == REQ_HOLD_WHOLE);
		return;
	}
	if (req.kind == REQ_CHAIN && req.n == 1 && n == 1) {
		serve_chain(c, fds[0]);
		return;
	}
	for (int j = 0; j < n; j++)
		close(fds[j]);
	if (req.kind == REQ_STOP) {
		c->stopper = true;
		release(c);
		stop_listening();
		struct reply rep = {.magic = HOLDER_MAGIC, .clients = (uint32_t)containers()};
		(void)lr_holder_send(c->fd, &rep, sizeof(rep), NULL, 0);
		return;
	}
	drop_client(i);
}

/* A probe (the plugin asking whether the job's holder runs): answered by
 * being there; the connection is closed at once. */
static void answer_probes(void)
{
	int s;
	while ((s = accept4(H.probe_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(s);
}

static void accept_client(void)
{
	int s = accept4(H.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return;
	/* geteuid() is the id the user has in the holder's namespace; any
	 * other user is the overflow id there. */
	if (!lr_holder_peer_is(s, geteuid()) || H.n_clients == LR_HOLDER_MAX_CLIENTS) {
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
		if (H.job && H.listen_fd >= 0) {
			i++; /* held until the job ends */
			continue;
		}
		double left = (double)H.idle - lr_holder_since(&h->unused_since);
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

/* SIGTERM: set by its handler, taken in holder_loop(); the signal is
 * blocked but in ppoll(), so that none is lost between the check and the
 * wait. */
static volatile sig_atomic_t terminated;
static void on_term(int sig)
{
	(void)sig;
	terminated = 1;
}

/* What signals do to a holder.  Containers read their layers from it: a
 * holder that died under them leaves each later page fault a SIGBUS.  And
 * signals meant for the user's jobs reach it too: `kill -HUP -1`, a
 * session's end, Slurm's `scancel --signal` to a job (every step, the
 * extern step where a job's holder lives included).  So:
 *   - SIGTERM, how Slurm ends a job's steps and how a session ends, is
 *     --stop-holders: no new client, and the holder ends once no container
 *     uses it (at once when none does);
 *   - the signals of faults keep their default: a bug still dumps;
 *   - SIGCHLD, SIGCONT, SIGWINCH, SIGURG keep theirs (nothing, or go on);
 *   - every other one is ignored.  SIGKILL and SIGSTOP still do what they
 *     do, and the mask starts empty.
 * A job's holder sits in the job's cgroup above its steps, so that no
 * step's end takes it either (plugin/jobholder.c). */
static void holder_signals(sigset_t *wait_mask)
{
	static const int keep[] = {SIGSEGV, SIGBUS,  SIGILL,  SIGFPE,	SIGTRAP, SIGABRT,
				   SIGSYS,  SIGCHLD, SIGCONT, SIGWINCH, SIGURG};
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		bool dfl = false;
		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			dfl = dfl || keep[k] == sig;
		struct sigaction sa = {.sa_handler = dfl ? SIG_DFL : SIG_IGN};
		if (sig == SIGTERM)
			sa.sa_handler = on_term;
		sigaction(sig, &sa, NULL);
	}
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_SETMASK, &term, NULL);
	sigemptyset(wait_mask);
}

static void holder_loop(const sigset_t *wait_mask)
{
	static struct pollfd pfd[2 + LR_HOLDER_MAX_CLIENTS + LR_HOLDER_MAX_LAYERS];
	for (;;) {
		if (terminated)
			stop_listening();
		int timeout = evict();
		/* A job's holder stays while the job lasts, until stopped. */
		if ((!H.job || H.listen_fd < 0) && H.n_held == 0 && containers() == 0) {
			/* Nothing held and nobody served: done.  A stopper
			 * waiting for the end sees its connection close. */
			stop_listening();
			_exit(0);
		}
		size_t n = 0;
		pfd[n++] = (struct pollfd){.fd = H.listen_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = H.probe_fd, .events = POLLIN};
		for (size_t i = 0; i < H.n_clients; i++)
			pfd[n++] = (struct pollfd){.fd = H.clients[i].fd, .events = POLLIN};
		size_t first_layer = n;
		for (size_t i = 0; i < H.n_held; i++)
			pfd[n++] = (struct pollfd){
				.fd = H.held[i]->fuse ? lr_fuse_fd(H.held[i]->fuse) : -1,
				.events = POLLIN};
		struct timespec ts = {.tv_sec = timeout / 1000,
				      .tv_nsec = (timeout % 1000) * 1000000L};
		if (ppoll(pfd, n, timeout < 0 ? NULL : &ts, wait_mask) < 0)
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
			if (pfd[2 + i].revents)
				serve_client(i);
		if (pfd[0].revents)
			accept_client();
		if (pfd[1].revents)
			answer_probes();
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
static _Noreturn void holder_main(int listen_fd, int probe_fd, int dir,
				  const struct lr_chain *chain, uint32_t job, bool remap_root,
				  unsigned idle)
{
	prctl(PR_SET_NAME, "labrun-holder");
	set_cmdline("labrun-holder");
	sigset_t wait_mask;
	holder_signals(&wait_mask);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		dup3(null, fd, 0);
	int keep[LR_MAX_LAYERS + 3];
	size_t n_keep = 0;
	keep[n_keep++] = listen_fd;
	if (probe_fd >= 0)
		keep[n_keep++] = probe_fd;
	keep[n_keep++] = dir;
	for (size_t i = 0; chain && i < chain->n; i++)
		keep[n_keep++] = chain->layers[i].fd;
	qsort(keep, n_keep, sizeof(int), cmp_int);
	close_all_but(keep, n_keep);
	umask(077);
	if (chdir("/") < 0)
		_exit(1);

	H = (struct holder){.listen_fd = listen_fd,
			    .probe_fd = probe_fd,
			    .dir = dir,
			    .job = job,
			    .remap_root = remap_root,
			    .idle = idle};
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
	for (size_t i = 0; chain && i < chain->n && H.n_held < LR_HOLDER_MAX_LAYERS; i++) {
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
	holder_loop(&wait_mask);
	_exit(0);
}

int lr_holder_spawn(int dir, const struct lr_chain *chain, uint32_t job, bool remap_root,
		    unsigned idle, struct lr_error *err)
{
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return lr_error_errno(err, errno, "holder socket");
	char name[48];
	lr_holder_sock_name(name, sizeof(name), job, remap_root);
	unlinkat(dir, name, 0);
	struct sockaddr_un a;
	lr_holder_sock_addr(&a, dir, job, remap_root);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, HOLDER_BACKLOG) < 0)
		return lr_error_errno(err, errno, "holder socket");
	/* A job's holder answers the plugin's probe too (holder_path.h);
	 * without it (the name taken by someone else) each step starts
	 * labrun-step --job-holder to find out, as before. */
	_cleanup_close_ int probe = -1;
	if (job) {
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		struct sockaddr_un pa;
		socklen_t plen = lr_holder_probe_addr(&pa, geteuid(), job, remap_root);
		if (probe >= 0 && (bind(probe, (struct sockaddr *)&pa, plen) < 0 ||
				   listen(probe, HOLDER_BACKLOG) < 0)) {
			lr_debug(1, "job %u's holder: no probe socket: %s", (unsigned)job,
				 strerror(errno));
			close(probe);
			probe = -1;
		}
	}
	pid_t child = fork();
	if (child < 0)
		return lr_error_errno(err, errno, "start a layer holder");
	if (child == 0) {
		/* A session of its own, and not the caller's child: the
		 * caller's terminal and its end leave it alone. */
		setsid();
		pid_t holder = fork();
		if (holder == 0)
			holder_main(s, probe, dir, chain, job, remap_root, idle);
		_exit(holder < 0);
	}
	int st;
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return lr_error_set(err, EAGAIN, "start a layer holder: fork failed");
	if (job)
		lr_debug(1, "layer holder of job %u started", (unsigned)job);
	else
		lr_debug(1, "layer holder started (idle timeout %us)", idle);
	return 0;
}

/* The sockets of ended jobs' holders: Slurm killed them, so nothing
 * unlinked their names.  Removed by the next job's start, under the
 * directory's lock (no holder is being started meanwhile), when nothing
 * answers there. */
static void sweep_jobs(int dir)
{
	_cleanup_close_ int d = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = d >= 0 ? fdopendir(d) : NULL;
	if (!dp)
		return;
	d = -1; /* closedir's now */
	struct dirent *e;
	while ((e = readdir(dp))) {
		unsigned long id = 0;
		char root[8] = "", name[48];
		if (sscanf(e->d_name, "job-%lu%7[^.].sock", &id, root) < 1 || !id ||
		    id > UINT32_MAX)
			continue;
		/* Only a name a job's holder would have. */
		bool r = !strcmp(root, "-root");
		lr_holder_sock_name(name, sizeof(name), (uint32_t)id, r);
		if (strcmp(name, e->d_name) != 0)
			continue;
		int s = lr_holder_connect(dir, (uint32_t)id, r);
		if (s == -ECONNREFUSED)
			unlinkat(dir, e->d_name, 0);
		else if (s >= 0)
			close(s);
	}
	closedir(dp);
}

int lr_holder_serve_job(uint32_t job, bool remap_root, struct lr_error *err)
{
	if (!job)
		return lr_error_set(err, EINVAL, "no job");
	_cleanup_close_ int dir = lr_holder_dir_open(err);
	if (dir < 0)
		return dir;
	flock(dir, LOCK_EX);
	int s = lr_holder_connect(dir, job, remap_root);
	int r = 0;
	if (s >= 0) {
		close(s); /* an earlier step's: it serves this one too */
	} else {
		r = lr_holder_spawn(dir, NULL, job, remap_root, 0, err);
		sweep_jobs(dir);
	}
	flock(dir, LOCK_UN);
	return r;
}
