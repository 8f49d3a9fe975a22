/* layers.h - resolving an image's layer chain: the top squashfs file, then
 * each parent named by digest in /.labrun/layer.json, found in the layer
 * store directories or beside the image.  Runs as the user: layer content
 * is untrusted. */
#ifndef LABRUN_LAYERS_H
#define LABRUN_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "imageconfig.h"

/* More layers than this is refused (overlayfs itself allows 500; a chain
 * this deep is a mistake or an attack). */
#define LR_MAX_LAYERS 128

/* Where a layer keeps its metadata (imageconfig.h). */
#define LR_LAYER_JSON_PATH "/.labrun/layer.json"

struct lr_layer {
	char *path;    /* as found (for messages) */
	int fd;	       /* lr_layer_open(), open for the chain's lifetime */
	char name[80]; /* short name for messages: file name */
	struct lr_squash *sq;
	struct lr_layer_meta meta; /* empty when the layer has no layer.json */
	/* The root directory's mode and owner, known without sq (a chain
	 * from a holder's info, chaininfo.h). */
	bool root_known;
	uint32_t root_mode, root_uid, root_gid;
};

/* The files a chain from a holder's info carries (chaininfo.h). */
#define LR_CHAIN_FILES 2

struct lr_chain {
	struct lr_layer layers[LR_MAX_LAYERS]; /* [0] = top (the image), [n-1] = base */
	size_t n;
	struct lr_image_config config; /* merged base to top */
	/* Made by lr_chain_from_info(): no layer is open but the image's,
	 * and /etc/passwd and /etc/group are read from here (NULL data:
	 * the image has none). */
	bool from_info;
	char *file_data[LR_CHAIN_FILES];
	size_t file_len[LR_CHAIN_FILES];
};

/* Open the layer file at path for reading without blocking on a FIFO or
 * device, and check on the fd that it is a regular file.  Returns the fd
 * (O_CLOEXEC), or a negative errno with a message that does not name the
 * path: "is a FIFO, not a squashfs file", "No such file or directory". */
int lr_layer_open(const char *path, struct lr_error *err);

/* Check and index the layer whose file is open at l->fd (l->path names it
 * in messages), and read its /.labrun/layer.json if it has one. */
int lr_layer_load(struct lr_layer *l, struct lr_error *err);

/* l->name from l->path: its file name. */
void lr_layer_set_name(struct lr_layer *l);

/* Close and free what lr_layer_load() and the chain set in l. */
void lr_layer_free(struct lr_layer *l);

/* Is name a layer's file name in a store, "sha256-<64 lower-case
 * hex>.sqfs"?  Then hex is set to the digest. */
bool lr_layer_name_hex(const char *name, char hex[LR_DIGEST_HEX_LEN + 1]);

/* Open the layer sha256-<hex>.sqfs from the first of stores (then dir,
 * when not NULL) that has it; returns the fd and sets *path (malloc'd).
 * -ENOENT with a message naming the places looked in. */
int lr_layer_find(const char *hex, char *const *stores, size_t n_stores, const char *dir,
		  char **path, struct lr_error *err);

/* Open image and its ancestors.  stores: directories searched, in order,
 * for "sha256-<hex>.sqfs"; the image's own directory is searched last.
 * Errors: missing image, not a squashfs, truncated, bad layer.json,
 * "parent sha256:ab12... of layer X not found (looked in: A, B, C)",
 * "parent loop: ...", "more than 128 layers". */
int lr_chain_resolve(struct lr_chain *chain, const char *image, char *const *stores,
		     size_t n_stores, struct lr_error *err);
void lr_chain_free(struct lr_chain *chain);

/* The chain's config (empty) merged from its layers' layer.json, base to
 * top, top wins; image names the chain in messages. */
int lr_chain_merge_config(struct lr_chain *chain, const char *image, struct lr_error *err);

/* lr_chain_resolve() for a launch: each layer opened with
 * lr_squash_open_scoped(), so only what the launch reads before its
 * container runs is checked (layer.json, the image config, /etc).  The
 * layers a holder does not serve must pass lr_chain_check() before they
 * are served; the holders check theirs when they first hold them. */
int lr_chain_resolve_light(struct lr_chain *chain, const char *image, char *const *stores,
			   size_t n_stores, struct lr_error *err);

/* The rest of lr_chain_resolve()'s checks for every layer whose held[i] is
 * negative (all of them when held is NULL), with its messages. */
int lr_chain_check(struct lr_chain *chain, const int *held, struct lr_error *err);

/* Can the container enter every layer's root directory?  uid and gid are
 * the container's as the layers number owners (0 with --remap-root, else
 * the user's own).  overlayfs looks every name up in each layer's root
 * with the mounter's rights, so one root of mode 0700 owned by someone
 * else fails every path of the container ("mount proc: Permission
 * denied").  -EACCES with a message naming the layer, its mode and owner,
 * and for a root's root the option that makes the container its owner,
 * remap_option, as the user types it ("--remap-root", under Slurm
 * "--container-remap-root"). */
int lr_chain_check_roots(const struct lr_chain *chain, uint32_t uid, uint32_t gid,
			 const char *remap_option, struct lr_error *err);

/* Read the file at path (absolute) as the stacked image shows it: the
 * topmost layer holding it as a regular file wins; a whiteout or an opaque
 * parent directory above ends the search (-ENOENT), as does a symlink
 * (not followed).  Uses libsquashfuse directly: call it before any FUSE
 * thread serves the same layers (libsquashfuse is not thread-safe). */
int lr_chain_read_file(const struct lr_chain *chain, const char *path, size_t max, char **buf,
		       size_t *len, struct lr_error *err);

#endif
