/* chaininfo.h - what a launch reads of an image's layers before its
 * container runs, in one blob: each layer's name, root directory and
 * /.labrun/layer.json, and the stacked image's /etc/passwd and /etc/group.
 * A layer holder writes it once for each chain it holds whole and hands it
 * to the later launches of that image with the chain's mounts (holder.c,
 * REQ_CHAIN), which then open no layer of their own: reading those files
 * through libsquashfuse was about 2 ms of a warm start (doc/DECISIONS.md,
 * "Start-up cost, fourth pass").
 *
 * The blob is private to one build of labrun, as the holder's wire is
 * (holder_wire.h), and comes from the caller's own holder; it is read with
 * every length checked all the same.  Runs as the user.
 */
#ifndef LABRUN_CHAININFO_H
#define LABRUN_CHAININFO_H

#include <stddef.h>

#include "error.h"
#include "layers.h"

/* chain's info (resolved, every layer's sq open) into fd, from its
 * current offset; the /etc files up to etc_max bytes each (a larger one
 * is left out: the launch then reads the layers itself). */
int lr_chain_info_write(const struct lr_chain *chain, int fd, size_t etc_max, struct lr_error *err);

/* chain (empty) from info, len bytes: layers[0] is the image at image,
 * its file open at top_fd (taken, also on failure); the others are named
 * but neither open (fd -1) nor read (sq NULL).  Each layer.json parsed
 * and the config merged as lr_chain_resolve() does; the root directories
 * and the /etc files kept for lr_chain_check_roots() and
 * lr_chain_read_file(). */
int lr_chain_from_info(struct lr_chain *chain, const char *image, int top_fd, const char *info,
		       size_t len, struct lr_error *err);

/* lr_chain_read_file() of a chain made by lr_chain_from_info(). */
int lr_chain_info_read(const struct lr_chain *chain, const char *path, size_t max, char **buf,
		       size_t *len, struct lr_error *err);

#endif
