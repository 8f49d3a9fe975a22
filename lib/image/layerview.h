/* layerview.h - the merged view of a layer chain, as overlayfs would show
 * it, held in memory (metadata only): what `labrun-image build --parent`
 * compares a new tree against and what `flatten` writes out.
 *
 * Whiteouts remove, opaque directories hide what is below, upper entries
 * replace lower ones, a directory over a directory merges.  The image's own
 * /.labrun and the overlay.* xattrs are layer mechanics, not content, and
 * are left out.  Runs as the user: layers are untrusted input, read through
 * squash.c.
 */
#ifndef LABRUN_LAYERVIEW_H
#define LABRUN_LAYERVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "layers.h"
#include "squashwrite.h"

struct lr_vnode {
	char *name;
	struct lr_vnode **children; /* sorted by name (strcmp) */
	size_t n_children, cap_children;
	uint32_t mode, uid, gid;
	int64_t mtime;
	uint64_t size;
	uint32_t rdev_major, rdev_minor;
	char *target;
	struct lr_xattr *xattrs;
	size_t n_xattrs;
	size_t layer; /* index in the chain (0 = top) of the layer holding it */
	uint64_t id;  /* lr_squash_pread() id in that layer */
	/* Set by the builder: the new tree has an entry at this path, and
	 * whether that entry is a directory. */
	bool seen, seen_dir;
};

struct lr_view {
	const struct lr_chain *chain;
	struct lr_vnode *root;
	uint64_t entries;
};

/* Merge every layer of chain, base first.  chain must outlive the view. */
int lr_view_load(struct lr_view *v, const struct lr_chain *chain, struct lr_error *err);
void lr_view_free(struct lr_view *v);

/* The node at path (normalised, "" = the root), or NULL. */
struct lr_vnode *lr_view_lookup(const struct lr_view *v, const char *path);

/* Read up to len bytes at off of a regular file's node. */
long lr_view_pread(const struct lr_view *v, const struct lr_vnode *n, uint64_t off, void *buf,
		   size_t len);

/* A regular file of the view, read from its start by lr_view_read(), the
 * reader of an entry's data as layerbuild.h's lr_build_reader wants it. */
struct lr_view_cursor {
	const struct lr_view *view;
	const struct lr_vnode *node;
	uint64_t off;
};
long lr_view_read(void *cursor, void *buf, size_t len, struct lr_error *err);

/* n's metadata as a layer writer's entry at path (borrowing n's strings). */
void lr_vnode_entry(const struct lr_vnode *n, const char *path, struct lr_sqw_entry *e);

/* Are the two xattr sets equal (same names and values, any order)? */
bool lr_xattrs_equal(const struct lr_xattr *a, size_t na, const struct lr_xattr *b, size_t nb);

#endif
