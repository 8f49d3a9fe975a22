/* squash_int.h - what the parts of the squashfs reader share, private to
 * lib/image/squash*.c: the open layer, its block cache, the checked walk
 * over every entry, and the helpers more than one part calls.  Nothing
 * outside lib/image/squash*.c includes it; the API is squash.h.
 * Runs as the user (squash.c says why it must).
 */
#ifndef LABRUN_SQUASH_INT_H
#define LABRUN_SQUASH_INT_H

/* libsquashfuse's ll.h declares "void teardown_idle_timeout();" */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <squashfuse.h>
#include <ll.h>
#pragma GCC diagnostic pop

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "squash.h"

/* Decompressed data blocks kept per layer.  libsquashfuse caches
 * metadata and fragments but decompresses a data block again on every
 * read, and the kernel's FUSE reads (4 KiB page faults, 128 KiB readahead
 * windows that straddle blocks) hit the same block many times: measured
 * here, exec of busybox from a gzip layer decompressed ~2.5x the file.
 * 16 blocks of at most 1 MiB; allocated when first used.  A layer whose
 * codec decompresses faster than fresh memory is touched keeps only
 * CACHE_BLOCKS_FAST (cache_blocks()). */
#define CACHE_BLOCKS 16
#define CACHE_BLOCKS_FAST 2

struct cached_block {
	bool valid;
	uint32_t inode; /* squashfs inode number */
	uint64_t index; /* block index within the file */
	size_t len;
	uint64_t used; /* LRU clock */
	char *data;
};

struct lr_squash {
	sqfs_ll ll; /* first: libsquashfuse_ll's handle, its fs inside */
	/* This layer's number among those the process opened, from 1: what
	 * squash_read.c's shared fragment buffer is kept for. */
	uint64_t serial;
	struct cached_block cache[CACHE_BLOCKS];
	size_t cache_blocks; /* of cache[] used: CACHE_BLOCKS or CACHE_BLOCKS_FAST */
	uint64_t clock;
	/* Data blocks stored uncompressed (mksquashfs -noD): a read costs a
	 * copy from the image file, so the cache would only add a second copy
	 * and the page faults of its own buffers (measured: ~500 faults, the
	 * largest part of labrun's own start-up cost on such images). */
	bool data_uncompressed;
	/* The stored bytes of one data block, decompressed from here into the
	 * cache (squash_read.c); allocated when first used. */
	char *in;
	uint64_t dir_end; /* the directory table ends before this */
	/* Has every inode and listing been checked (squash_tree_walk())?
	 * Until then only scope's directories were (lr_squash_open_scoped()),
	 * and only lookups inside them may reach libsquashfuse. */
	bool checked;
	const char *const *scope;
};

/* Extended attributes of one inode at most, and a value's bytes at most
 * (what squash_xattr.c serves, and what squash_tree.c checks at open). */
#define MAX_INODE_XATTRS 4096
#define MAX_XATTR_VALUE 65536

/* A set of 64-bit values (directory inode references already walked). */
struct refset {
	uint64_t *v; /* 0 = empty slot: references are stored + 1 */
	size_t cap, n;
};

/* Add ref to s: 1 when it was there already, 0 when added, -ENOMEM. */
int squash_refset_add(struct refset *s, uint64_t ref);

/* libsquashfuse's error e on fs as a message "what: ..." and a negative
 * errno (squash.c: the one place its errors are translated); a read error
 * names the codec's library when it could not be loaded. */
int squash_translate(const sqfs *fs, sqfs_err e, struct lr_error *err, const char *what);

/* A walk over every entry of the layer (lr_squash_open() checks, verify,
 * lr_squash_walk()): the root first, each directory before what it holds,
 * names in squashfs order. */
typedef int (*squash_walk_fn)(struct lr_squash *sq, void *ctx, const char *path, sqfs_inode *inode,
			      sqfs_inode_id id, struct lr_error *err);

/* Walk every entry with fn (or none: lr_squash_open()'s checks), each
 * inode and directory listing bounds-checked before libsquashfuse reads
 * it (squash_tree.c).  fn's non-zero return stops the walk. */
int squash_tree_walk(struct lr_squash *sq, squash_walk_fn fn, void *ctx, struct lr_error *err);

/* The same checks on the root's listing and on the listings of the
 * top-level directories named in scope (NULL-terminated), and nothing
 * below them: every entry of those listings, and its inode, is checked. */
int squash_tree_check_scope(struct lr_squash *sq, const char *const *scope, struct lr_error *err);

/* May a lookup of path reach libsquashfuse yet?  Only through checked
 * listings: all of them, or the root's and scope's. */
bool squash_path_checked(const struct lr_squash *sq, const char *path);

/* Is the directory inode an overlay.opaque = "y" one (squash_xattr.c)? */
bool squash_is_opaque(sqfs *fs, sqfs_inode *inode);

/* All of inode's xattrs, names with their prefix (squash_xattr.c); free
 * with lr_xattrs_free().  -EIO on a corrupt table, -ENOMEM. */
int squash_xattrs(sqfs *fs, sqfs_inode *inode, struct lr_xattr **out, size_t *n);

#endif
