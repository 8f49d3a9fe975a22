/* fuse_server.h - serving layers over FUSE with libsquashfuse_ll, in the
 * launcher's own process (one thread per layer).  Runs as the user. */
#ifndef LABRUN_FUSE_SERVER_H
#define LABRUN_FUSE_SERVER_H

#include <sys/types.h>

#include "error.h"

struct lr_squash;
struct lr_fuse; /* one served layer */

/* Mount sq at target (an existing directory) and start serving it.  All
 * signals must be blocked in the calling thread: the serving thread
 * inherits the mask and must never take the launcher's signals. */
int lr_fuse_serve(struct lr_squash *sq, const char *target, uid_t uid, gid_t gid,
		  const char *name, struct lr_fuse **out, struct lr_error *err);

/* Stop serving (the mount must already be gone or about to go). */
void lr_fuse_free(struct lr_fuse *f);

#endif
