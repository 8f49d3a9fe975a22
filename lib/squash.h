/* squash.h - reading user squashfs files with libsquashfuse, in the user's
 * own process (notes/security.md invariant 5: the kernel never parses a
 * user's layer).  All libsquashfuse errors are translated here.
 * Runs as the user. */
#ifndef LABRUN_SQUASH_H
#define LABRUN_SQUASH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct lr_squash; /* an open squashfs (libsquashfuse's sqfs_ll inside) */

/* Check the superblock of the squashfs open at fd (magic, version, sizes
 * against the file size, compression supported) without keeping anything.
 * Message names the cause: "not a squashfs file (bad magic)", "truncated:
 * file is 4096 bytes, superblock says 1048576". */
int lr_squash_check(int fd, struct lr_error *err);

/* Open fd (not taken over: the caller keeps it open while *out lives). */
int lr_squash_open(int fd, struct lr_squash **out, struct lr_error *err);
void lr_squash_free(struct lr_squash *sq);

/* Read the regular file at path (absolute, inside the squashfs) into a
 * malloc'd NUL-terminated buffer of at most max bytes.  -ENOENT when absent,
 * -EFBIG when larger than max. */
int lr_squash_read_file(struct lr_squash *sq, const char *path, size_t max, char **buf,
			size_t *len, struct lr_error *err);

/* The libsquashfuse_ll handle, for the FUSE server. */
void *lr_squash_ll(struct lr_squash *sq);

#endif
