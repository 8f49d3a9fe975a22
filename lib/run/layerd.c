/* layerd.c - the node's layer holder for trusted layers (layerd.h): the
 * service, which runs as root.  Its client, which runs as the user, is
 * layerd_client.c.
 *
 * Why the service is safe to offer to every user of the node:
 *  - What a user sends is a list of digests: 64 lower-case hex digits
 *    each, checked.  The service never opens a path or fd of a user's.
 *  - It opens only sha256-<hex>.sqfs in the admin's trusted store, the
 *    directory opened and checked from / on fds (every component
 *    root-owned, writable by root alone; trust.c), the file then checked on
 *    its fd (regular, root-owned, not group- or other-writable).  A layer
 *    that fails is not served: that container reads it through FUSE.
 *  - It mounts a file only when the sha256 of its content is its name, so a
 *    name always means the same bytes, whoever asks; a file replaced or
 *    rewritten (another inode, size, mtime or ctime) is checked again.
 *  - Its mounts are read-only, nosuid and nodev, in a mount namespace of its
 *    own; a user gets a detached copy (open_tree), which the user's
 *    container attaches in its own namespaces.  A user may clear nosuid or
 *    nodev on their own copy (it is in their mount namespace); that grants
 *    nothing: the files are root's and root is not mapped in a user's
 *    namespace, so no set-user-id or file capability to root takes effect
 *    (fs/exec.c, security/commoncap.c), and device nodes keep their host
 *    permissions.
 *  - Every count is bounded (clients, layers, layers per request); a client
 *    that sends anything malformed is dropped.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "holder_wire.h"
#include "layerd.h"
#include "log.h"
#include "mount.h"
#include "squash.h"
#include "trust.h"

#include "layerd_wire.h"

static bool is_hex_digest(const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == LR_DIGEST_HEX_LEN;
}

/* ------------------------------------------------------------ the service */

struct tlayer {
	char hex[LR_DIGEST_HEX_LEN + 1];
	struct stat id;
	unsigned slot; /* mounted at LR_STAGING/<slot> */
	unsigned refs;
	struct timespec unused_since;
};

struct tclient {
	int fd;
	size_t n;
	struct tlayer *layers[LR_MAX_LAYERS];
};

static struct {
	const char *store;
	unsigned idle;
	struct tlayer *layers[LR_LAYERD_MAX_LAYERS];
	size_t n_layers;
	unsigned next_slot;
	struct tclient clients[LR_LAYERD_MAX_CLIENTS];
	size_t n_clients;
} D;

static void target_of(const struct tlayer *l, char *buf, size_t len)
{
	snprintf(buf, len, LR_STAGING "/%u", l->slot);
}

static void tlayer_free(struct tlayer *l)
{
	char target[32];
	target_of(l, target, sizeof(target));
	lr_mount_detach(target); /* the loop device goes with the last copy */
	rmdir(target);
	free(l);
}

/* The layer hex, mounted: an entry already there for the same file, or
 * the file checked and mounted now.  On failure why says why. */
static int hold_hex(int store, const char *hex, struct tlayer **out, struct lr_error *err)
{
	char name[LR_DIGEST_HEX_LEN + 16];
	snprintf(name, sizeof(name), "sha256-%s.sqfs", hex);
	_cleanup_close_ int fd = lr_trust_openat_file(store, D.store, name, 0, err);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lr_error_errno(err, errno, "%s", name);
	for (size_t i = 0; i < D.n_layers; i++)
		if (!strcmp(D.layers[i]->hex, hex) && lr_holder_same_file(&D.layers[i]->id, &st)) {
			*out = D.layers[i];
			return 0;
		}
	if (D.n_layers == LR_LAYERD_MAX_LAYERS)
		return lr_error_set(err, ENOSPC, "the node holds %d trusted layers already",
				    LR_LAYERD_MAX_LAYERS);
	int r = lr_squash_check(fd, err);
	if (r < 0)
		return lr_error_prefix(err, "%s", name);
	char got[LR_DIGEST_HEX_LEN + 1];
	if ((r = lr_digest_fd(fd, got, err)) < 0)
		return lr_error_prefix(err, "%s", name);
	if (strcmp(got, hex) != 0)
		return lr_error_set(err, EBADMSG,
				    "%s in the trusted store has sha256 %.12s..., "
				    "not its name",
				    name, got);
	struct tlayer *l = calloc(1, sizeof(*l));
	if (!l)
		return lr_error_errno(err, ENOMEM, "%s", name);
	memcpy(l->hex, hex, sizeof(l->hex));
	l->id = st;
	l->slot = D.next_slot++;
	char target[32];
	target_of(l, target, sizeof(target));
	if (mkdir(target, 0755) < 0) {
		free(l);
		return lr_error_errno(err, errno, "mkdir %s", target);
	}
	if ((r = lr_mount_squashfs_loop(fd, target, name, err)) < 0) {
		rmdir(target);
		free(l);
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &l->unused_since);
	D.layers[D.n_layers++] = l;
	lr_debug(1, "trusted layer %s mounted", name);
	*out = l;
	return 0;
}

static void release(struct tclient *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (--c->layers[i]->refs == 0)
			clock_gettime(CLOCK_MONOTONIC, &c->layers[i]->unused_since);
	c->n = 0;
}

static void drop_client(size_t i)
{
	release(&D.clients[i]);
	close(D.clients[i].fd);
	D.clients[i] = D.clients[--D.n_clients];
}

static void serve_client(size_t i)
{
	struct tclient *c = &D.clients[i];
	static struct layerd_request req;
	static struct layerd_reply rep;
	int n = lr_holder_recv(c->fd, &req, sizeof(req), NULL, 0);
	if (n != 0 || req.magic != LAYERD_MAGIC || req.n > LR_MAX_LAYERS || c->n) {
		drop_client(i); /* gone, malformed, or a second request */
		return;
	}
	memset(&rep, 0, sizeof(rep));
	rep.magic = LAYERD_MAGIC;
	rep.n = req.n;
	struct lr_error err = {0}, serr = {0};
	_cleanup_close_ int store = lr_trust_open_dir(D.store, 0, &serr);
	int trees[LR_MAX_LAYERS];
	size_t n_trees = 0;
	for (uint32_t k = 0; k < req.n; k++) {
		req.hex[k][LR_DIGEST_HEX_LEN] = '\0';
		struct tlayer *l = NULL;
		err = (struct lr_error){0};
		if (!req.hex[k][0]) {
			rep.code[k] = ENOENT;
			snprintf(rep.why[k], LR_LAYERD_WHY_LEN, "no digest known");
			continue;
		}
		if (!is_hex_digest(req.hex[k])) {
			rep.code[k] = EINVAL;
			snprintf(rep.why[k], LR_LAYERD_WHY_LEN, "not a digest");
			continue;
		}
		int r = store < 0 ? store : hold_hex(store, req.hex[k], &l, &err);
		if (store < 0)
			err = serr; /* why the store is not trusted */
		char target[32];
		int t = -1;
		if (r == 0) {
			target_of(l, target, sizeof(target));
			t = lr_mount_clone(target, false, &err);
		}
		if (t < 0) {
			rep.code[k] = err.code ? err.code : EIO;
			snprintf(rep.why[k], LR_LAYERD_WHY_LEN, "%.*s", LR_LAYERD_WHY_LEN - 1,
				 err.msg);
			continue;
		}
		l->refs++;
		c->layers[c->n++] = l;
		trees[n_trees++] = t;
	}
	(void)lr_holder_send(c->fd, &rep, sizeof(rep), trees, n_trees);
	for (size_t k = 0; k < n_trees; k++)
		close(trees[k]);
}

/* Unused layers past the idle time unmounted; the poll timeout until the
 * next is due (-1: none). */
static int evict(void)
{
	double next = -1;
	for (size_t i = 0; i < D.n_layers;) {
		struct tlayer *l = D.layers[i];
		double left = (double)D.idle - lr_holder_since(&l->unused_since);
		if (!l->refs && left <= 0) {
			lr_debug(1, "trusted layer sha256-%s.sqfs unused for %us: unmounted",
				 l->hex, D.idle);
			tlayer_free(l);
			D.layers[i] = D.layers[--D.n_layers];
			continue;
		}
		if (!l->refs && (next < 0 || left < next))
			next = left;
		i++;
	}
	return next < 0 ? -1 : (int)(next * 1000) + 1;
}

int lr_layerd_serve(const char *socket_path, const char *store, unsigned idle, struct lr_error *err)
{
	if (geteuid() != 0)
		return lr_error_set(err, EPERM, "the node's layer service needs root");
	D.store = store;
	D.idle = idle;
	/* The store checked once at start, for a clear error; and at every
	 * request after, as the admin may change it. */
	_cleanup_close_ int check = lr_trust_open_dir(store, 0, err);
	if (check < 0)
		return lr_error_prefix(err, "trusted-layer-store");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	_cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sfd < 0 || s < 0)
		return lr_error_errno(err, errno, "socket");
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof(a.sun_path))
		return lr_error_set(err, ENAMETOOLONG, "%s: too long", socket_path);
	strcpy(a.sun_path, socket_path);
	unlink(socket_path);
	/* Every user may connect: what one can ask for is checked above. */
	mode_t old = umask(0);
	int r = bind(s, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (r < 0 || listen(s, HOLDER_BACKLOG) < 0)
		return lr_error_errno(err, errno, "listen on %s", socket_path);
	/* Mounts in a namespace of the service's own: none reaches the host's
	 * table, and all go when the service does. */
	if ((r = lr_mount_unshare(err)) < 0 || (r = lr_mount_staging(err)) < 0) {
		unlink(socket_path);
		return r;
	}
	static struct pollfd pfd[2 + LR_LAYERD_MAX_CLIENTS];
	for (;;) {
		int timeout = evict();
		size_t n = 0;
		pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = s, .events = POLLIN};
		for (size_t i = 0; i < D.n_clients; i++)
			pfd[n++] = (struct pollfd){.fd = D.clients[i].fd, .events = POLLIN};
		if (poll(pfd, n, timeout) < 0)
			continue;
		if (pfd[0].revents)
			break;
		for (size_t i = D.n_clients; i-- > 0;)
			if (pfd[2 + i].revents)
				serve_client(i);
		if (pfd[1].revents) {
			int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0 && D.n_clients < LR_LAYERD_MAX_CLIENTS)
				D.clients[D.n_clients++] = (struct tclient){.fd = c};
			else if (c >= 0)
				close(c);
		}
	}
	while (D.n_clients)
		drop_client(D.n_clients - 1);
	while (D.n_layers)
		tlayer_free(D.layers[--D.n_layers]);
	unlink(socket_path);
	return 0;
}
