/* userns.h - user namespaces, id maps and capabilities.  With mount.c this
 * is the only file that calls unshare/setns or writes id maps (STYLE.md).
 * Runs as the user: nothing here needs or uses privilege on the host. */
#ifndef LABRUN_USERNS_H
#define LABRUN_USERNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* Which namespaces besides user+mount+ipc the container gets. */
struct lr_ns_request {
	bool net;	  /* --net=none */
	bool uts;	  /* --hostname */
	bool cgroup;	  /* a cgroup namespace rooted at the caller's cgroups (Slurm steps) */
	bool mount_only;  /* a layer holder's (holder.h): user and mount namespaces only */
	uid_t inside_uid; /* our uid inside: own uid, or 0 with --remap-root */
	gid_t inside_gid;
};

/* unshare(user, mount, ipc, pid [, net] [, uts]) and map our uid/gid to
 * req->inside_uid/gid (one id each, setgroups denied).  The calling process
 * must be single-threaded.  Failures say which sysctl or kernel feature is
 * missing. */
int lr_userns_enter(const struct lr_ns_request *req, struct lr_error *err);

/* Enter a second user namespace (and with it a copy of the mount namespace)
 * mapping the current ids to themselves.  Mounts copied into a mount
 * namespace owned by a less privileged user namespace become locked
 * (MNT_LOCKED, MNT_LOCK_READONLY, ...): from here on the job cannot unmount
 * or remount read-write anything labrun set up, even as root with
 * --remap-root.  notes/security.md, "Mounts made in the job's own user
 * namespace are not locked". */
int lr_userns_nest(struct lr_error *err);

/* A container's namespaces, as a Slurm task joins them (DESIGN.md §4), in
 * the only order that works: the container's user namespace first (it
 * gives the capabilities the others need), then those it owns, then the
 * job's nested one (--remap-root, else -1) and the mount namespace last,
 * which belongs to whichever user namespace is the job's. */
enum lr_ns_kind {
	LR_NS_USER,
	LR_NS_CGROUP,
	LR_NS_IPC,
	LR_NS_PID,
	LR_NS_JOB_USER,
	LR_NS_MNT,
	LR_NS_COUNT
};

/* The /proc/self/ns name of each kind. */
extern const char *const lr_ns_names[LR_NS_COUNT];

/* setns() into each of fds (LR_NS_JOB_USER may be -1), in enum order.  The
 * caller must be single-threaded and own the user namespace (same euid).
 * The pid namespace applies to the caller's next child only.  Afterwards
 * the caller holds every capability in the job's user namespace and its
 * root and cwd are the container's root. */
int lr_userns_join(const int fds[LR_NS_COUNT], struct lr_error *err);

/* Drop every capability from the bounding, ambient, inheritable, permitted
 * and effective sets. */
int lr_userns_drop_caps(struct lr_error *err);

#endif
