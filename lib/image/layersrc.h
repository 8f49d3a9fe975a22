/* layersrc.h - the inputs of a layer build: a tar stream (libarchive) or a
 * directory on the host, fed entry by entry to a struct lr_build.
 *
 * Nothing is extracted: a tar's entries go straight from the stream into
 * the layer, so no file of it ever exists on the host and none of its
 * paths is resolved against the host's filesystem.  Paths are normalised;
 * ".." refused.
 *
 * Runs as the user.
 */
#ifndef LABRUN_LAYERSRC_H
#define LABRUN_LAYERSRC_H

#include <archive.h>

#include "error.h"
#include "layerbuild.h"

/* Every entry of the tar archive a (open for reading, any compression
 * libarchive detects).  what names the archive in messages.  OCI
 * whiteouts (".wh.NAME", ".wh..wh..opq") become lr_build_whiteout() and
 * lr_build_opaque(). */
int lr_src_tar(struct lr_build *b, struct archive *a, const char *what, struct lr_error *err);

/* Every entry under dir, sorted by name, depth first: owners, modes,
 * times, xattrs as the host has them (the build's owner map then applies),
 * hard links by inode, character devices 0:0 and overlay.opaque xattrs as
 * an overlay upper directory has them. */
int lr_src_dir(struct lr_build *b, const char *dir, struct lr_error *err);

/* A struct archive reading tar, any compression. */
struct archive *lr_src_tar_reader(void);

#endif
