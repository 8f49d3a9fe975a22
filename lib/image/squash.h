/* squash.h - reading user squashfs files with libsquashfuse, in the user's
 * own process (notes/security.md invariant 5: the kernel never parses a
 * user's layer).  All libsquashfuse errors are translated here.
 * Runs as the user. */
#ifndef LABRUN_SQUASH_H
#define LABRUN_SQUASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct lr_squash; /* an open squashfs (libsquashfuse's sqfs_ll inside) */
struct stat;

/* Limits on what one layer may hold: lr_squash_open() refuses a layer
 * past them, so that no walk of a hostile layer is endless or unbounded. */
#define LR_SQUASH_MAX_DEPTH 512		     /* directories nested in directories */
#define LR_SQUASH_MAX_ENTRIES (1u << 24)     /* entries in the whole layer */
#define LR_SQUASH_MAX_DIR_ENTRIES (1u << 22) /* entries in one directory */
#define LR_SQUASH_MAX_TARGET 4096	     /* bytes of a symbolic link's target (PATH_MAX) */

/* Is the file open at fd a regular file?  fstat()s it into *st; otherwise
 * the message says what it is: "is a FIFO, not a squashfs file".  Check
 * this before reading: a FIFO or a device would block the read. */
int lr_squash_check_type(int fd, struct stat *st, struct lr_error *err);

/* Check the superblock of the squashfs open at fd (a regular file; magic,
 * version, compression supported; every count and table start against the
 * file size and the other tables, and each table's block pointers) without
 * keeping anything.  Message names the cause: "not a squashfs file (bad
 * magic)", "truncated: file is 4096 bytes, superblock says 1048576",
 * "corrupt squashfs superblock: id count 0 (...)". */
int lr_squash_check(int fd, struct lr_error *err);

/* Open fd (not taken over: the caller keeps it open while *out lives):
 * lr_squash_check(), then every table, inode and directory listing read
 * once with bounds checks, before libsquashfuse may use them (squash.c
 * says why).  Refused: indices past their tables, offsets outside them, a
 * directory reached twice (a cycle), entries named "", ".", "..", or with
 * a '/' or NUL, two entries of one name, names out of order, more than
 * the LR_SQUASH_MAX_* limits.  The message names the path inside. */
int lr_squash_open(int fd, struct lr_squash **out, struct lr_error *err);

/* lr_squash_open() deferred: the superblock and tables now, but of the
 * tree only the root's listing and those of the top-level directories
 * named in scope (NULL-terminated, static: kept), every entry in them and
 * its inode.  That is what lr_squash_kind(), lr_squash_read_file() and
 * lr_squash_root() read for "/NAME" and "/DIR/NAME" with DIR in scope, so
 * a launch whose layers a holder serves reads layer.json and /etc/passwd
 * without a walk of the whole tree (issue 13: 2-3 ms per Debian layer).
 * Anything else checks the rest first, as lr_squash_check_all() does, or
 * fails: a lookup elsewhere, a walk or verify check it; reads by inode
 * number and lr_squash_ll() refuse until it is done. */
int lr_squash_open_scoped(int fd, const char *const *scope, struct lr_squash **out,
			  struct lr_error *err);

/* What lr_squash_open() checks and lr_squash_open_scoped() deferred, once;
 * the same refusals and messages. */
int lr_squash_check_all(struct lr_squash *sq, struct lr_error *err);
void lr_squash_free(struct lr_squash *sq);

/* Read the regular file at path (absolute, inside the squashfs) into a
 * malloc'd NUL-terminated buffer of at most max bytes.  -ENOENT when absent,
 * -EFBIG when larger than max. */
int lr_squash_read_file(struct lr_squash *sq, const char *path, size_t max, char **buf, size_t *len,
			struct lr_error *err);

/* What a path is in one layer, as overlayfs will see it. */
enum lr_squash_kind {
	LR_SQUASH_ABSENT = 0,
	LR_SQUASH_FILE, /* regular file */
	LR_SQUASH_DIR,
	LR_SQUASH_OPAQUE_DIR, /* directory hiding the layers below (overlay.opaque=y) */
	LR_SQUASH_WHITEOUT,   /* char device 0:0: deleted in this layer */
	LR_SQUASH_OTHER,      /* symlink, device, fifo, socket */
};
int lr_squash_kind(struct lr_squash *sq, const char *path, struct lr_error *err);

/* Read size bytes at off of the regular file with FUSE inode number ino
 * (as libsquashfuse_ll numbers them), through the layer's block cache.
 * Either *direct points at the answer inside the cache (valid until the
 * next call), or the bytes are copied into buf (size bytes).  *got is the
 * length; 0 at end of file. */
int lr_squash_read(struct lr_squash *sq, uint64_t ino, uint64_t off, size_t size, char *buf,
		   const char **direct, size_t *got);

/* Walk every entry of the squashfs and read every regular file's data to
 * the end: what a corrupt table or data block would break is found here,
 * not by a job.  Counts entries and bytes of file data.  The message names
 * the path inside the squashfs. */
int lr_squash_verify(struct lr_squash *sq, uint64_t *entries, uint64_t *bytes,
		     struct lr_error *err);

/* An extended attribute, its name with the namespace ("user.x",
 * "trusted.overlay.opaque", "security.capability"). */
struct lr_xattr {
	char *name;
	char *value;
	size_t len;
};

/* Append a copy of x to the array *v of *n (grown with realloc). */
int lr_xattr_push(struct lr_xattr **v, size_t *n, const struct lr_xattr *x);
void lr_xattrs_free(struct lr_xattr *v, size_t n);

/* overlayfs's own xattrs (user.overlay.*, trusted.overlay.*): how a layer
 * stacks, not content. */
bool lr_xattr_is_overlay(const char *name);
/* Is x an overlay.opaque = "y" (the directory hides the layers below)? */
bool lr_xattr_is_opaque(const struct lr_xattr *x);

/* One entry of a layer, as lr_squash_walk() reports it. */
struct lr_squash_entry {
	const char *path; /* relative to the root, no leading "/"; "" is the root */
	uint32_t mode;	  /* file type and permission bits */
	uint32_t uid, gid;
	int64_t mtime;
	uint64_t size;			 /* regular files */
	uint32_t rdev_major, rdev_minor; /* devices */
	const char *target;		 /* symbolic links */
	uint64_t id;			 /* for lr_squash_pread() */
	const struct lr_xattr *xattrs;
	size_t n_xattrs;
};

/* Call fn for every entry of the layer, the root first, each directory
 * before what it holds, names in squashfs order (sorted).  fn's non-zero
 * return stops the walk and is returned.  The entry is valid during the
 * call only. */
int lr_squash_walk(struct lr_squash *sq,
		   int (*fn)(void *ctx, const struct lr_squash_entry *e, struct lr_error *err),
		   void *ctx, struct lr_error *err);

/* Read up to len bytes at off of the regular file with walk id id.
 * Returns the count (0 at the end) or a negative errno. */
long lr_squash_pread(struct lr_squash *sq, uint64_t id, uint64_t off, void *buf, size_t len);

/* One xattr, or the list of names, of the file with FUSE inode number ino,
 * as getxattr(2) and listxattr(2) answer (size 0: the length needed).
 * Returns the length or -ENODATA, -ERANGE, -EIO. */
long lr_squash_getxattr(struct lr_squash *sq, uint64_t ino, const char *name, char *buf,
			size_t size);
long lr_squash_listxattr(struct lr_squash *sq, uint64_t ino, char *buf, size_t size);

/* The root directory's mode and owner, as stored. */
int lr_squash_root(struct lr_squash *sq, uint32_t *mode, uint32_t *uid, uint32_t *gid);

/* Does the layer hold any extended attribute at all? */
bool lr_squash_has_xattrs(const struct lr_squash *sq);

/* The most memory this layer's caches can hold in the process serving it:
 * labrun's block cache and libsquashfuse's data, fragment and metadata
 * caches, all full (the job's reads fill them). */
uint64_t lr_squash_cache_bound(const struct lr_squash *sq);

/* The libsquashfuse_ll handle, for the FUSE server; NULL until every
 * entry is checked (lr_squash_check_all()). */
void *lr_squash_ll(struct lr_squash *sq);

#endif
