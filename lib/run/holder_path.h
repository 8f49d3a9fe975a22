/* holder_path.h - where a user's layer holders listen on this node, and
 * who is at the other end: shared by the holder (holder.c), its clients
 * (holder_client.c, layerd_client.c) and the Slurm plugin, which asks
 * whether a job's holder already answers before starting one
 * (plugin/root.c).
 *
 * A job's holder also listens on a probe socket in the abstract namespace
 * (no file, no directory): the plugin asks there, from slurmstepd, which
 * must stat no path of the user's (doc/SECURITY.md).  Any local user may
 * bind a name there first; the peer check makes that a "no", and a "no"
 * only means that a holder is started as it was before the probe.
 *
 * Runs as the user (the caller's effective id), with no privilege.
 */
#ifndef LABRUN_HOLDER_PATH_H
#define LABRUN_HOLDER_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "error.h"

/* The directory of the caller's holder sockets, open (O_DIRECTORY): the
 * user's runtime directory's "labrun" when that is the user's, else
 * /tmp/labrun-UID; either must be the caller's and mode 0700.  Node-local
 * both: a holder serves its node. */
int lr_holder_dir_open(struct lr_error *err);

/* The socket's name in that directory: holder[-root].sock for the user's
 * holders, job-JOB[-root].sock for a Slurm job's (job != 0). */
void lr_holder_sock_name(char *buf, size_t len, uint32_t job, bool remap_root);
void lr_holder_sock_addr(struct sockaddr_un *a, int dir, uint32_t job, bool remap_root);

/* Is the process at the other end of s of user uid (as the caller's user
 * namespace numbers it)?  The caller's own (a holder and its launches), or
 * root (the node's layer service). */
bool lr_holder_peer_is(int s, uid_t uid);

/* Connect to a holder; -errno (ENOENT, ECONNREFUSED: none running; EPERM:
 * another user's at the other end). */
int lr_holder_connect(int dir, uint32_t job, bool remap_root);

/* The probe socket's address of user uid's holder of Slurm job job
 * (remap_root: the --remap-root view's); returns its length. */
socklen_t lr_holder_probe_addr(struct sockaddr_un *a, uid_t uid, uint32_t job, bool remap_root);

/* Does user uid's holder of Slurm job job answer on this node?  System
 * calls only, none that can block (a full backlog is a "no"), and no path
 * looked up; false whenever it cannot tell. */
bool lr_holder_job_answers(uid_t uid, uint32_t job, bool remap_root);

#endif
