/* holder_client.c - the launcher's side of a layer holder (holder.h):
 * find the user's holder, or start one, and ask it for a chain's layers;
 * tell the user's holders to stop.
 *
 * Runs as the user, with no privilege.  What comes back is checked as
 * coming from a peer that may be confused: the reply's size and magic, the
 * number of mounts against the number of layers asked for; a holder that
 * does not answer within HOLDER_REPLY_MS is passed by.
 */
#include "build-config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include "chaininfo.h"
#include "cleanup.h"
#include "holder.h"
#include "holder_wire.h"
#include "layerd.h"
#include "log.h"

/* The holder's reply (lr_holder_await()), with its magic checked. */
static int await(int s, struct reply *rep, int *fds, size_t max)
{
	int n = lr_holder_await(s, rep, sizeof(*rep), fds, max);
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

int lr_holder_hold(const struct lr_chain *chain, uint32_t job, bool remap_root, unsigned idle,
		   int *conn, int trees[], struct lr_error *err)
{
	/* Only the layers nobody serves yet (trees[i] < 0): asked for, in
	 * order, as want[0..n). */
	int fds[LR_MAX_LAYERS], got[LR_MAX_LAYERS];
	size_t want[LR_MAX_LAYERS], n = 0;
	for (size_t i = 0; i < chain->n; i++)
		if (trees[i] < 0) {
			want[n] = i;
			fds[n++] = chain->layers[i].fd;
		}
	*conn = -1;
	if (!n)
		return 0;
	_cleanup_close_ int dir = lr_holder_dir_open(err);
	if (dir < 0)
		return dir;
	/* Twice: a holder may exit between our connect and its answer (it
	 * was idle), and the next try starts a new one. */
	for (int attempt = 0; attempt < 2; attempt++) {
		int s = lr_holder_connect(dir, job, remap_root);
		if (job && s < 0) {
			/* Started by the plugin as root in the job's extern
			 * step, or not at all (lr_holder_serve_job()). */
			return lr_error_errno(err, -s, "no layer holder for job %u", (unsigned)job);
		} else if (s == -ENOENT || s == -ECONNREFUSED) {
			flock(dir, LOCK_EX);
			s = lr_holder_connect(dir, job, remap_root);
			if ((s == -ENOENT || s == -ECONNREFUSED) && is_overflow_uid()) {
				s = lr_error_set(
					err, EPERM,
					"no layer holder for uid %u, the kernel's overflow "
					"uid",
					(unsigned)geteuid());
			} else if (s == -ENOENT || s == -ECONNREFUSED) {
				int r = lr_holder_spawn(dir, chain, 0, remap_root, idle, err);
				s = r < 0 ? r : lr_holder_connect(dir, job, remap_root);
			}
			flock(dir, LOCK_UN);
			if (s < 0 && !err->msg[0])
				lr_error_errno(err, -s, "connect to the layer holder");
		} else if (s < 0) {
			lr_error_errno(err, -s, "connect to the layer holder");
		}
		if (s < 0)
			return s;
		struct request req = {.magic = HOLDER_MAGIC,
				      .kind = n == chain->n ? REQ_HOLD_WHOLE : REQ_HOLD,
				      .n = (uint32_t)n};
		int r = lr_holder_send(s, &req, sizeof(req), fds, n);
		struct reply rep;
		if (r == 0)
			r = await(s, &rep, got, n);
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
				close(got[i]);
			rep.msg[sizeof(rep.msg) - 1] = '\0';
			size_t l = want[rep.layer < n ? rep.layer : 0];
			return lr_error_set(err, rep.code, "layer holder: layer %zu (%s): %s", l,
					    chain->layers[l].name, rep.msg);
		}
		if ((size_t)r != n) {
			close(s);
			for (int i = 0; i < r; i++)
				close(got[i]);
			return lr_error_set(err, EPROTO, "layer holder: %d mounts for %zu layers",
					    r, n);
		}
		for (size_t k = 0; k < n; k++)
			trees[want[k]] = got[k];
		*conn = s;
		return 0;
	}
	return lr_error_set(err, EPIPE, "layer holder: it ended twice while asked");
}

/* The launch info a holder sent (a memfd): at most this much. */
#define INFO_MAX (16u << 20)

/* The info's bytes into *buf (malloc'd); takes fd. */
static int read_info(int fd, char **buf, size_t *len, struct lr_error *err)
{
	_cleanup_close_ int f = fd;
	struct stat st;
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > INFO_MAX)
		return lr_error_set(err, EPROTO, "layer holder: no launch info");
	size_t size = (size_t)st.st_size, got = 0;
	char *b = malloc(size);
	if (!b)
		return lr_error_errno(err, ENOMEM, "layer holder");
	while (got < size) {
		ssize_t n = pread(f, b + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(b);
			return lr_error_set(err, EPROTO, "layer holder: launch info cut short");
		}
		got += (size_t)n;
	}
	*buf = b;
	*len = size;
	return 0;
}

/* The chain of image as the caller's holder (job 0) or the Slurm job's
 * holds it whole already, when it does: chain made from the holder's
 * launch info (chaininfo.h), without opening a layer but the image's
 * file, and trees[0..chain->n) a detached copy of each layer's mount;
 * *conn keeps them held.  Never starts a holder.  -ENOENT (or another
 * error, err says why) when it cannot. */
static int chain_from_holder(const char *image, uint32_t job, bool remap_root,
			     struct lr_chain *chain, int trees[], int *conn, struct lr_error *err)
{
	*conn = -1;
	int top = lr_layer_open(image, err);
	if (top < 0)
		return top;
	_cleanup_close_ int dir = lr_holder_dir_open(err);
	if (dir < 0) {
		close(top);
		return dir;
	}
	_cleanup_close_ int s = lr_holder_connect(dir, job, remap_root);
	if (s < 0) {
		close(top);
		return lr_error_errno(err, -s, "no layer holder");
	}
	struct request req = {.magic = HOLDER_MAGIC, .kind = REQ_CHAIN, .n = 1};
	int fds[LR_MAX_LAYERS];
	struct reply rep;
	int r = lr_holder_send(s, &req, sizeof(req), &top, 1);
	if (r == 0)
		r = await(s, &rep, fds, LR_MAX_LAYERS);
	if (r < 0) {
		close(top);
		return lr_error_errno(err, -r, "layer holder");
	}
	if (rep.code || rep.n == 0 || (size_t)r != (size_t)rep.n + 1) {
		for (int i = 0; i < r; i++)
			close(fds[i]);
		close(top);
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		return rep.code ? lr_error_set(err, rep.code, "layer holder: %s", rep.msg)
				: lr_error_set(err, EPROTO, "layer holder: %d fds for a chain", r);
	}
	char *info = NULL;
	size_t len = 0;
	r = read_info(fds[rep.n], &info, &len, err);
	if (r == 0)
		r = lr_chain_from_info(chain, image, top, info, len, err); /* takes top */
	else
		close(top);
	free(info);
	if (r < 0) {
		for (size_t i = 0; i < rep.n; i++)
			close(fds[i]);
		return r;
	}
	for (size_t i = 0; i < rep.n; i++)
		trees[i] = fds[i];
	*conn = s;
	s = -1;
	return 0;
}

int lr_holder_stop(unsigned *busy, struct lr_error *err)
{
	_cleanup_close_ int dir = lr_holder_dir_open(err);
	if (dir < 0)
		return dir;
	int told = 0;
	*busy = 0;
	for (int view = 0; view < 2; view++) {
		_cleanup_close_ int s = lr_holder_connect(dir, 0, view);
		if (s < 0)
			continue;
		struct request req = {.magic = HOLDER_MAGIC, .kind = REQ_STOP};
		struct reply rep;
		if (lr_holder_send(s, &req, sizeof(req), NULL, 0) < 0 ||
		    await(s, &rep, NULL, 0) < 0)
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

void lr_holder_layers(const struct lr_chain *chain, const struct lr_config *cfg, uint32_t job,
		      bool remap_root, bool use_holder, int trees[], int *node_conn, int *conn)
{
	static char why[LR_MAX_LAYERS][LR_LAYERD_WHY_LEN];
	struct lr_error err = {0};
	*node_conn = *conn = -1;
	for (size_t i = 0; i < chain->n; i++)
		trees[i] = -1;
	if (cfg->trusted_store) {
		int n = lr_layerd_hold(LR_LAYERD_SOCKET, chain, node_conn, trees, why, &err);
		if (n < 0)
			lr_debug(1, "%s: trusted layers served through FUSE", err.msg);
		for (size_t i = 0; n >= 0 && i < chain->n; i++)
			if (trees[i] < 0 && why[i][0])
				lr_debug(1, "layer %zu (%s): %s; served through FUSE", i,
					 chain->layers[i].name, why[i]);
		if (n > 0)
			lr_debug(1, "%d trusted layer(s) from the node's layer service", n);
	}
	if (!use_holder || !cfg->holder_idle)
		return;
	err = (struct lr_error){0};
	if (lr_holder_hold(chain, job, remap_root, cfg->holder_idle, conn, trees, &err) < 0)
		lr_debug(1, "%s; mounting the layers for this container only", err.msg);
}

int lr_holder_launch_chain(struct lr_chain *chain, const char *image, const struct lr_config *cfg,
			   uint32_t job, bool remap_root, bool use_holder, uid_t uid, gid_t gid,
			   const char *remap_option, int trees[], struct lr_error *err)
{
	/* Open for the process's lifetime: they keep the layers held. */
	int node_conn = -1, conn = -1;
	struct lr_error why = {0};
	bool from_holder =
		use_holder && cfg->holder_idle &&
		chain_from_holder(image, job, remap_root, chain, trees, &conn, &why) == 0;
	if (from_holder)
		lr_debug(1, "%zu layer(s) and their launch info from the %slayer holder", chain->n,
			 job ? "job's " : "");
	else if (why.msg[0] && why.code != ENOENT)
		lr_debug(2, "%s: resolving the image here", why.msg);
	if (!from_holder &&
	    lr_chain_resolve_light(chain, image, cfg->stores, cfg->n_stores, err) < 0)
		return -1;
	/* Before anything is mounted: a layer root the container cannot
	 * enter fails later as a bare "mount proc: Permission denied"
	 * (issue 12). */
	if (lr_chain_check_roots(chain, uid, gid, remap_option, err) < 0)
		return -1;
	if (!from_holder)
		lr_holder_layers(chain, cfg, job, remap_root, use_holder, trees, &node_conn, &conn);
	/* The layers this process serves itself, checked whole first: a
	 * holder checked its own. */
	return lr_chain_check(chain, trees, err) < 0 ? -1 : 0;
}
