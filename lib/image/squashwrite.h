/* squashwrite.h - writing one squashfs layer with libsquashfs
 * (squashfs-tools-ng), as labrun-image builds and imports them.
 *
 * The tree is kept in memory, metadata only: a file's data goes to the
 * block processor (compressed on worker threads) while it is added, so
 * memory grows with the number of entries, never with their size.  Entries
 * may come in any order; parent directories that were not given are made
 * (root:root 0755, time 0) and take the given metadata when it comes later.
 *
 * Reproducible: the output depends only on the entries and their data, in
 * the order they were added (data blocks are laid out in that order;
 * directories are sorted; inode numbers follow the sorted tree), on the
 * options, and on nothing else (no clock, no user, no host).
 *
 * Runs as the user; needs no privilege: owners, modes and device numbers
 * are only recorded, never applied to anything on the host.
 */
#ifndef LABRUN_SQUASHWRITE_H
#define LABRUN_SQUASHWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "squash.h" /* struct lr_xattr */

struct lr_sqw;

struct lr_sqw_options {
	const char *compression; /* "gzip", "lz4", "zstd", "xz" or "none" */
	size_t block_size;	 /* 4 KiB .. 1 MiB, a power of two */
	unsigned workers;	 /* compression threads; 0: one per CPU */
};

struct lr_sqw_entry {
	const char *path; /* normalised (lr_path_normalise()), "" is the root */
	mode_t mode;	  /* file type and permission bits */
	uint32_t uid, gid;
	int64_t mtime;
	uint64_t size;			 /* regular files: as the source declares it */
	uint32_t rdev_major, rdev_minor; /* character and block devices */
	const char *target;		 /* symbolic links */
	const struct lr_xattr *xattrs;
	size_t n_xattrs;
	/* A directory that only carries its children: dropped at the end when
	 * nothing is left under it (a diff against a parent keeps a directory
	 * only for what changed below it). */
	bool drop_if_empty;
};

/* Start writing a squashfs to path (created or truncated).  Fails on an
 * unknown compression or block size, naming it. */
int lr_sqw_create(struct lr_sqw **out, const char *path, const struct lr_sqw_options *o,
		  struct lr_error *err);

/* Add e (e->path clean, or -EINVAL).  An existing entry at the path is replaced, except that a
 * directory given again over a directory only takes the new metadata.  A
 * parent that exists and is not a directory is an error (a tar entry
 * "lnk/x" under a symlink "lnk" would otherwise be written through it).
 * For a regular file, the data follows with lr_sqw_write() and ends with
 * lr_sqw_end(); nothing else may be added in between. */
int lr_sqw_add(struct lr_sqw *w, const struct lr_sqw_entry *e, struct lr_error *err);
int lr_sqw_write(struct lr_sqw *w, const void *buf, size_t len, struct lr_error *err);
int lr_sqw_end(struct lr_sqw *w, struct lr_error *err);

/* Hard link: path becomes another name of target's inode.  -ENOENT when
 * target is not in the tree, -EISDIR when it is a directory. */
int lr_sqw_link(struct lr_sqw *w, const char *path, const char *target, struct lr_error *err);

/* Set (or replace) one xattr of the entry at path; a missing path is made
 * a directory (root:root 0755, time 0). */
int lr_sqw_set_xattr(struct lr_sqw *w, const char *path, const char *name, const void *value,
		     size_t len, struct lr_error *err);

/* The mode of the entry at path (file type and permissions), or 0 when
 * there is none. */
mode_t lr_sqw_mode(const struct lr_sqw *w, const char *path);

/* Write the inode, directory, fragment, id and xattr tables and the
 * superblock.  After this, only lr_sqw_free(). */
int lr_sqw_finish(struct lr_sqw *w, struct lr_error *err);

/* Entries (inodes) and file data bytes written, for reports. */
void lr_sqw_stats(const struct lr_sqw *w, uint64_t *inodes, uint64_t *data_bytes);

void lr_sqw_free(struct lr_sqw *w);

/* Check a compression name; "gzip" ... "none".  Returns false for others. */
bool lr_sqw_compression_known(const char *name);

/* Normalise a path from an archive or a walk, in place: leading "/" and
 * "./" go, "//" and "/./" collapse, a trailing "/" goes.  A ".." component
 * is refused (-EINVAL) rather than resolved: an archive that climbs out of
 * its root is broken or hostile.  "." and "" give "" (the root). */
int lr_path_normalise(char *path);

/* path is one a layer can hold: "" (the root), or components separated by
 * single "/", none of them empty, "." or "..".  lr_path_normalise()'s
 * output is, unless a component was made afterwards by decoding (a
 * whiteout ".wh..." names ".."); lr_sqw_add(), lr_sqw_link() and
 * lr_sqw_set_xattr() refuse any other path, so that no layer written here
 * holds an entry every squashfs reader calls corrupt. */
bool lr_path_is_clean(const char *path);

#endif
