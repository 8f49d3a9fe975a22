/* fuse_server.h - serving layers over FUSE with libsquashfuse_ll, in the
 * launcher's own process, from its main loop (no threads).  Runs as the
 * user. */
#ifndef LABRUN_FUSE_SERVER_H
#define LABRUN_FUSE_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct lr_squash;
struct lr_fuse; /* one served layer */

/* Mount sq at target (an existing directory).  Requests queue in the
 * kernel until lr_fuse_process() answers them.  held: the mount is a layer
 * holder's, for containers in other user namespaces (lr_mount_fuse()). */
int lr_fuse_mount(struct lr_squash *sq, const char *target, uid_t uid, gid_t gid, bool held,
		  const char *name, struct lr_fuse **out, struct lr_error *err);

/* The fd to poll for requests. */
int lr_fuse_fd(const struct lr_fuse *f);

/* Read and answer one request (call when lr_fuse_fd() is readable).
 * Returns 0, or -ENODEV once the mount is gone: stop polling it then. */
int lr_fuse_process(struct lr_fuse *f);

void lr_fuse_free(struct lr_fuse *f);

#endif
