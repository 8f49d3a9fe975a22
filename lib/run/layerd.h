/* layerd.h - the node's layer holder for trusted layers (DESIGN.md §3;
 * labrun-layerd(8)): a root service that mounts the layers of the admin's
 * trusted store once per node with the kernel's squashfs driver and hands
 * every container, of any user and any job, a copy of the mount.  One
 * mount and one page cache per layer for the whole node, at the kernel's
 * speed (issue 13: `import numpy` 1.06x a host directory).
 *
 * The service runs as root; the client side (lr_layerd_hold) as the user.
 * Users' own layers are never parsed by the kernel: the service opens only
 * files named sha256-<hex>.sqfs in the trusted store, which it checks on
 * open fds (the file and every directory up to / root-owned and writable by
 * nobody else, trust.h), and mounts one only when its content's sha256 is
 * its name.  A user sends digests, never files or paths.
 */
#ifndef LABRUN_LAYERD_H
#define LABRUN_LAYERD_H

#include <stdbool.h>

#include "error.h"
#include "layers.h"

#define LR_LAYERD_DIR "/run/labrun"
#define LR_LAYERD_SOCKET LR_LAYERD_DIR "/layerd.sock"
/* Connections served at once (running containers on the node). */
#define LR_LAYERD_MAX_CLIENTS 1024
/* Layers kept mounted at once. */
#define LR_LAYERD_MAX_LAYERS 512
/* Why the service did not serve a layer, one line for -v. */
#define LR_LAYERD_WHY_LEN 160

/* The service: listen on socket_path, serve until SIGTERM or SIGINT, then
 * unmount everything and return 0.  store: the trusted store; idle: seconds
 * a layer stays mounted once no container uses it.  Needs root. */
int lr_layerd_serve(const char *socket_path, const char *store, unsigned idle,
		    struct lr_error *err);

/* Ask the node's service (at socket_path) for the layers of chain it can
 * mount: those whose digest is known (each parent's, from its child's
 * layer.json; the image's own when its file is named sha256-<hex>.sqfs)
 * and that sit in the trusted store.  trees[i] is a detached copy of layer
 * i's mount, or -1 for a layer the service does not serve (then why[i],
 * when not NULL, says why, unless the layer is simply not in the store).  *conn keeps the layers
 * held while it is open.  Returns how many layers it serves (0: none, *conn -1), or -errno when the
 * service cannot be asked (err says why). */
int lr_layerd_hold(const char *socket_path, const struct lr_chain *chain, int *conn, int trees[],
		   char why[][LR_LAYERD_WHY_LEN], struct lr_error *err);

#endif
