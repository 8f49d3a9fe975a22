/* layers.c - resolving an image's layer chain (DESIGN.md §2).
 *
 * Runs as the user.  Every byte read here comes from files the user (or
 * whoever made the image) controls, so: each file's superblock is checked
 * before libsquashfuse parses it, layer.json is bounded and parsed by
 * imageconfig.c, the chain length is capped at LR_MAX_LAYERS, and a chain
 * that comes back to a file already in it is refused (a real sha256 loop is
 * impossible, but file names in a store are not proof of their digest).
 *
 * Every layer file is opened by lr_layer_open(): a FIFO, socket or device
 * named as an image or found in a store is refused without blocking.
 *
 * Parents are looked up by file name "sha256-<hex>.sqfs" in the layer
 * stores, then beside the image.  The digest is not recomputed at launch:
 * hashing a multi-gigabyte base layer on every start would cost seconds;
 * `labrun-image verify` is where digests are checked.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "chaininfo.h"
#include "layers.h"
#include "log.h"
#include "squash.h"

void lr_layer_set_name(struct lr_layer *l)
{
	const char *slash = strrchr(l->path, '/');
	snprintf(l->name, sizeof(l->name), "%s", slash ? slash + 1 : l->path);
}

/* What a launch reads of each layer before its container runs: layer.json
 * and the image config in /.labrun, passwd and group in /etc. */
static const char *const launch_scope[] = {".labrun", "etc", NULL};

static int layer_load(struct lr_layer *l, bool light, struct lr_error *err)
{
	int r = lr_squash_check(l->fd, err);
	if (r < 0)
		return r;
	r = light ? lr_squash_open_scoped(l->fd, launch_scope, &l->sq, err)
		  : lr_squash_open(l->fd, &l->sq, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *json = NULL;
	size_t len = 0;
	r = lr_squash_read_file(l->sq, LR_LAYER_JSON_PATH, LR_LAYERJSON_MAX_BYTES, &json, &len,
				err);
	if (r == -ENOENT)
		return 0; /* a plain root filesystem: a one-layer image */
	if (r < 0)
		return r;
	r = lr_layer_meta_parse(&l->meta, json, len, err);
	if (r < 0)
		return lr_error_prefix(err, "%s", LR_LAYER_JSON_PATH);
	return 0;
}

int lr_layer_load(struct lr_layer *l, struct lr_error *err)
{
	return layer_load(l, false, err);
}

/* O_NONBLOCK: opening a FIFO for reading waits for a writer, forever when
 * there is none; a device's open may wait too.  With it the open returns at
 * once, and fstat() then tells what the file is before anything reads it:
 * only a regular file is a layer.  labrun, labrun-image and labrun-step
 * (under slurmstepd, which waits on it) all open layers here.  Symbolic
 * links are followed: a user may name an image through one, and what the
 * link leads to is checked on the fd. */
int lr_layer_open(const char *path, struct lr_error *err)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		struct stat st;
		/* open(2) of a socket fails with ENXIO, "No such device or
		 * address": say what the file is instead. */
		if (e == ENXIO && stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return lr_error_set(err, e, "is a socket, not a squashfs file");
		return lr_error_set(err, e, "%s", strerror(e));
	}
	struct stat st;
	int r = lr_squash_check_type(fd, &st, err);
	if (r == 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
			r = lr_error_errno(err, errno, "fcntl");
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Find sha256-<hex>.sqfs in the stores, then in the image's directory.
 * Returns an fd and the path it was found at, or -ENOENT with the list of
 * places searched in the message. */
bool lr_layer_name_hex(const char *name, char hex[LR_DIGEST_HEX_LEN + 1])
{
	if (strncmp(name, "sha256-", 7) != 0 || strlen(name) != 7 + LR_DIGEST_HEX_LEN + 5 ||
	    strcmp(name + 7 + LR_DIGEST_HEX_LEN, ".sqfs") != 0)
		return false;
	for (size_t i = 0; i < LR_DIGEST_HEX_LEN; i++) {
		char c = name[7 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	memcpy(hex, name + 7, LR_DIGEST_HEX_LEN);
	hex[LR_DIGEST_HEX_LEN] = '\0';
	return true;
}

int lr_layer_find(const char *hex, char *const *stores, size_t n_stores, const char *image_dir,
		  char **path_out, struct lr_error *err)
{
	char looked[LR_ERROR_MSG_MAX / 2] = "";
	size_t used = 0;
	for (size_t i = 0; i <= n_stores; i++) {
		const char *dir = i < n_stores ? stores[i] : image_dir;
		if (!dir)
			break;
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/sha256-%s.sqfs", dir, hex) < 0)
			return lr_error_errno(err, ENOMEM, "find parent");
		int fd = lr_layer_open(path, err);
		if (fd >= 0) {
			*path_out = take_ptr(&path);
			return fd;
		}
		if (fd != -ENOENT && fd != -ENOTDIR)
			return lr_error_prefix(err, "%s", path);
		int n = snprintf(looked + used, sizeof(looked) - used, "%s%s", used ? ", " : "",
				 dir);
		if (n > 0 && (size_t)n < sizeof(looked) - used)
			used += (size_t)n;
	}
	return lr_error_set(err, ENOENT, "parent sha256:%.12s... not found (looked in: %s)", hex,
			    looked);
}

int lr_chain_merge_config(struct lr_chain *chain, const char *image, struct lr_error *err)
{
	/* From base to top, top wins (DESIGN.md §2). */
	for (size_t i = chain->n; i-- > 0;) {
		int r = lr_image_config_merge(&chain->config, &chain->layers[i].meta.config, err);
		if (r < 0)
			return lr_error_prefix(err, "image %s: merge config of %s", image,
					       chain->layers[i].name);
	}
	return 0;
}

static int resolve(struct lr_chain *chain, const char *image, char *const *stores, size_t n_stores,
		   bool light, struct lr_error *err)
{
	memset(chain, 0, sizeof(*chain));
	for (size_t i = 0; i < LR_MAX_LAYERS; i++)
		chain->layers[i].fd = -1;

	_cleanup_free_ char *dircopy = strdup(image);
	if (!dircopy)
		return lr_error_errno(err, ENOMEM, "%s", image);
	const char *image_dir = dirname(dircopy);

	int r;
	struct lr_layer *l = &chain->layers[0];
	l->path = strdup(image);
	if (!l->path) {
		r = lr_error_errno(err, ENOMEM, "%s", image);
		goto fail;
	}
	lr_layer_set_name(l);
	l->fd = lr_layer_open(image, err);
	if (l->fd < 0) {
		r = lr_error_prefix(err, "image %s", image);
		l->fd = -1;
		goto fail;
	}
	chain->n = 1;

	for (;;) {
		l = &chain->layers[chain->n - 1];
		r = layer_load(l, light, err);
		if (r < 0) {
			if (chain->n == 1)
				lr_error_prefix(err, "image %s", image);
			else
				lr_error_prefix(err, "layer %s (parent of %s)", l->path,
						chain->layers[chain->n - 2].name);
			goto fail;
		}
		lr_debug(2, "layer %zu: %s%s%s", chain->n - 1, l->path,
			 l->meta.has_parent ? " parent sha256:" : "",
			 l->meta.has_parent ? l->meta.parent_hex : "");
		if (!l->meta.has_parent)
			break;
		if (chain->n == LR_MAX_LAYERS) {
			r = lr_error_set(
				err, ELOOP,
				"image %s: more than %d layers (the limit); is the chain broken?",
				image, LR_MAX_LAYERS);
			goto fail;
		}
		struct lr_layer *p = &chain->layers[chain->n];
		r = lr_layer_find(l->meta.parent_hex, stores, n_stores, image_dir, &p->path, err);
		if (r < 0) {
			lr_error_prefix(err, "layer %s", l->name);
			goto fail;
		}
		p->fd = r;
		lr_layer_set_name(p);
		chain->n++;

		/* Same file twice in one chain: a loop, which would otherwise run
		 * until the layer limit and then blame the wrong thing. */
		struct stat pst;
		if (fstat(p->fd, &pst) < 0) {
			r = lr_error_errno(err, errno, "%s", p->path);
			goto fail;
		}
		for (size_t i = 0; i + 1 < chain->n; i++) {
			struct stat st;
			if (fstat(chain->layers[i].fd, &st) == 0 && st.st_dev == pst.st_dev &&
			    st.st_ino == pst.st_ino) {
				r = lr_error_set(err, ELOOP,
						 "image %s: parent loop: %s is its own ancestor",
						 image, p->name);
				goto fail;
			}
		}
	}

	r = lr_chain_merge_config(chain, image, err);
	if (r < 0)
		goto fail;
	return 0;
fail:
	lr_chain_free(chain);
	return r;
}

int lr_chain_resolve(struct lr_chain *chain, const char *image, char *const *stores,
		     size_t n_stores, struct lr_error *err)
{
	return resolve(chain, image, stores, n_stores, false, err);
}

int lr_chain_resolve_light(struct lr_chain *chain, const char *image, char *const *stores,
			   size_t n_stores, struct lr_error *err)
{
	return resolve(chain, image, stores, n_stores, true, err);
}

/* The message the same refusal gets from lr_chain_resolve(). */
int lr_chain_check(struct lr_chain *chain, const int *held, struct lr_error *err)
{
	for (size_t i = 0; i < chain->n; i++) {
		if (held && held[i] >= 0)
			continue;
		if (!chain->layers[i].sq) /* a chain from a holder's info */
			return lr_error_set(err, EIO, "layer %s: not open", chain->layers[i].name);
		int r = lr_squash_check_all(chain->layers[i].sq, err);
		if (r < 0)
			return i == 0 ? lr_error_prefix(err, "image %s", chain->layers[0].path)
				      : lr_error_prefix(err, "layer %s (parent of %s)",
							chain->layers[i].path,
							chain->layers[i - 1].name);
	}
	return 0;
}

int lr_chain_check_roots(const struct lr_chain *chain, uint32_t uid, uint32_t gid,
			 const char *remap_option, struct lr_error *err)
{
	for (size_t i = 0; i < chain->n; i++) {
		const struct lr_layer *l = &chain->layers[i];
		uint32_t mode = l->root_mode, ruid = l->root_uid, rgid = l->root_gid;
		if (!(l->root_known || (l->sq && lr_squash_root(l->sq, &mode, &ruid, &rgid) == 0)))
			return lr_error_set(err, EIO, "layer %s: corrupt root directory", l->path);
		mode_t need = ruid == uid ? S_IXUSR : rgid == gid ? S_IXGRP : S_IXOTH;
		if (mode & need)
			continue;
		/* A root's root: remapping makes the container its owner. */
		char remap[64] = "";
		if (ruid == 0 && uid != 0)
			snprintf(remap, sizeof(remap), " (or run with %s)", remap_option);
		return lr_error_set(err, EACCES,
				    "layer %s: its root directory is mode %04o, owner %u:%u, which "
				    "the container (uid %u) cannot enter; make it 0755 when "
				    "building the layer%s",
				    l->path, mode & 07777, ruid, rgid, uid, remap);
	}
	return 0;
}

int lr_chain_read_file(const struct lr_chain *chain, const char *path, size_t max, char **buf,
		       size_t *len, struct lr_error *err)
{
	if (chain->from_info)
		return lr_chain_info_read(chain, path, max, buf, len, err);
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	for (size_t i = 0; i < chain->n; i++) {
		struct lr_squash *sq = chain->layers[i].sq;
		int kind = lr_squash_kind(sq, path, err);
		if (kind < 0)
			return lr_error_prefix(err, "layer %s", chain->layers[i].name);
		if (kind == LR_SQUASH_FILE)
			return lr_squash_read_file(sq, path, max, buf, len, err);
		if (kind != LR_SQUASH_ABSENT)
			return -ENOENT;
		int pk = parent[0] ? lr_squash_kind(sq, parent, err) : LR_SQUASH_DIR;
		if (pk != LR_SQUASH_DIR && pk != LR_SQUASH_ABSENT)
			return -ENOENT; /* opaque, deleted or not a directory here */
	}
	return -ENOENT;
}

void lr_layer_free(struct lr_layer *l)
{
	lr_squash_free(l->sq);
	l->sq = NULL;
	lr_layer_meta_free(&l->meta);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->path);
	l->path = NULL;
}

void lr_chain_free(struct lr_chain *chain)
{
	for (size_t i = 0; i < LR_MAX_LAYERS; i++)
		lr_layer_free(&chain->layers[i]);
	lr_image_config_free(&chain->config);
	chain->n = 0;
	for (size_t i = 0; i < LR_CHAIN_FILES; i++) {
		free(chain->file_data[i]);
		chain->file_data[i] = NULL;
	}
	chain->from_info = false;
}
