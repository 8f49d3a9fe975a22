/* holder.h - a user's layer holder: one process per user and node (and per
 * id view) that keeps layers mounted over FUSE between containers, so that
 * the next container of the same image finds its files in the kernel's page
 * cache instead of reading and decompressing them through FUSE again
 * (DESIGN.md §3, issue 13: `import numpy` 2.5x the host directory from a
 * fresh mount, 1.0x from a warm one).
 *
 * Runs as the user, with no privilege.  The holder lives in a user and mount
 * namespace of its own; a container gets detached copies of its mounts
 * (open_tree) through a unix socket (SCM_RIGHTS) and stacks its overlay on
 * them in its own namespaces.  The copies share the holder's superblock, so
 * every container of the user shares one page cache per layer.
 *
 * Who may talk to a holder: only its user.  The socket lives in a
 * directory of the user's, mode 0700, checked on an open fd (the user's
 * runtime directory, else /tmp/labrun-UID); both ends check the other's
 * uid with SO_PEERCRED.  A holder never serves another user's containers,
 * and nothing it mounts is visible outside its own mount namespace.
 */
#ifndef LABRUN_HOLDER_H
#define LABRUN_HOLDER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"
#include "layers.h"

/* Connections one holder serves at once (running containers); one more
 * is refused with a message, and that launch mounts its own layers. */
#define LR_HOLDER_MAX_CLIENTS 256
/* Layers one holder keeps mounted; a request that would pass it evicts
 * nothing and is refused, and that launch mounts its own layers. */
#define LR_HOLDER_MAX_LAYERS 256

/* Ask the caller's holder (with job, the Slurm job's: it is never started
 * here) for the layers of chain, as the container will
 * number their owners: 0 with remap_root (the holder's ids are then the
 * container's: a holder per view), else the caller's own.  When no holder
 * answers, one is started: it adopts the layers chain has loaded and keeps
 * each one mounted until it has been unused for idle seconds, then exits
 * when it holds none.  Call before joining any cgroup of the container:
 * the holder stays in the caller's cgroups, and the container's must be
 * removable when it ends.
 *
 * Layers with trees[i] >= 0 on entry (served by the node's service,
 * layerd.h) are left out; the others must be -1.  On success *conn is the
 * connection (-1 when nothing was asked), which keeps the layers held as
 * long as it is open (the container's lifetime), and each trees[i] asked
 * for a detached copy of layer i's mount, to attach with
 * lr_mount_attach_path().  On failure (-errno, err says why) those stay
 * -1 and the caller mounts them itself. */
int lr_holder_hold(const struct lr_chain *chain, uint32_t job, bool remap_root, unsigned idle,
		   int *conn, int trees[], struct lr_error *err);

/* Every layer of chain from whoever may hold it: the node's service
 * (layerd.h) for those of the trusted store, when cfg names one; then the
 * user's holder (job 0) or the Slurm job's for the rest, when use_holder
 * and holders are on.  trees[i] is a detached mount, or -1 for a layer the
 * container mounts itself; *node_conn and *conn (or -1) keep them held.
 * Each "why not" is a line at -v; nothing here fails a launch. */
void lr_holder_layers(const struct lr_chain *chain, const struct lr_config *cfg, uint32_t job,
		      bool remap_root, bool use_holder, int trees[], int *node_conn, int *conn);

/* A launch's chain, and its layers' mounts from whoever holds them.
 * When use_holder, holders are on and the holder (job 0: the caller's,
 * else the Slurm job's) holds image's chain whole already, the chain is
 * made from its launch info (chaininfo.h) and no layer is opened but
 * the image's file.  Otherwise the chain is resolved here
 * (lr_chain_resolve_light(), cfg's stores) and its layers asked for
 * (lr_holder_layers()).  Either way every layer's root is checked
 * against the container's uid and gid (lr_chain_check_roots(),
 * remap_option as the user types it), and the layers no one holds are
 * checked whole (lr_chain_check()).  trees[i] as lr_holder_layers()
 * leaves it; what keeps the layers held stays open for the process's
 * lifetime.  -1 with err set on failure. */
int lr_holder_launch_chain(struct lr_chain *chain, const char *image, const struct lr_config *cfg,
			   uint32_t job, bool remap_root, bool use_holder, uid_t uid, gid_t gid,
			   const char *remap_option, int trees[], struct lr_error *err);

/* A Slurm job's holder (job): the job's first container step on a node
 * starts it, every later step of the job there uses it (lr_holder_hold()
 * with job), and the job's end kills it: the plugin starts it as root in
 * the job's extern step (spank_labrun(8)), whose processes Slurm kills when
 * the job ends, however it ends.  Returns 0 once a holder of the job
 * listens (this call's or an earlier one's). */
int lr_holder_serve_job(uint32_t job, bool remap_root, struct lr_error *err);

/* Tell the caller's holders on this node to stop: each takes no new
 * container and ends when its last container has ended.  Returns how many
 * holders were told (0: none was running), and in *busy how many of them
 * still have containers. */
int lr_holder_stop(unsigned *busy, struct lr_error *err);

#endif
