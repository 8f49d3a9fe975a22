/* mount.h - every mount, pivot_root and in-root path resolution of labrun.
 * With userns.c the only file that changes the mount table (STYLE.md).
 * Runs as the user, inside the user namespace labrun created: every
 * capability used here is one the kernel grants in a namespace the user
 * owns, over mounts the user could make with unshare(1). */
#ifndef LABRUN_MOUNT_H
#define LABRUN_MOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Where the launcher stages layer mounts, the writable layer and the new
 * root before pivot_root.  A tmpfs is mounted over it in labrun's private
 * mount namespace only; host paths under it are opened before that. */
#define LR_STAGING "/tmp"

/* Make every mount private, recursively: nothing labrun mounts may
 * propagate to the host, and nothing mounted on the host later may appear
 * inside (notes/security.md invariant 7).  Must precede any other mount. */
int lr_mount_make_private(struct lr_error *err);

/* Mount labrun's staging tmpfs at LR_STAGING. */
int lr_mount_staging(struct lr_error *err);

/* Mount a FUSE filesystem served through fuse_fd (an open /dev/fuse) at
 * target, read-only, nosuid, nodev.  held: for a layer holder (holder.h),
 * whose mounts containers in other user namespaces use. */
int lr_mount_fuse(const char *target, int fuse_fd, uid_t uid, gid_t gid, bool held,
		  const char *name, struct lr_error *err);

/* A tmpfs of size bytes at target (the ephemeral writable layer). */
int lr_mount_tmpfs(const char *target, uint64_t size, struct lr_error *err);

/* overlayfs at target from lowerdirs (top first, ':'-separated), upper and
 * work directories, with userxattr and every feature pinned. */
int lr_mount_overlay(const char *target, const char *lowerdirs, const char *upper, const char *work,
		     struct lr_error *err);

/* A detached copy of the mount tree at path (open_tree OPEN_TREE_CLONE), to
 * be attached later with lr_mount_attach().  recursive: with submounts. */
int lr_mount_clone(const char *path, bool recursive, struct lr_error *err);

/* A mount namespace of the caller's own, every mount private (the node's
 * layer service, as root: layerd.h). */
int lr_mount_unshare(struct lr_error *err);

/* Mount the squashfs file open at file_fd at target with the kernel's
 * driver, through a read-only loop device that goes with the mount:
 * read-only, nosuid, nodev.  Root only, and only for an admin's trusted
 * layer (layerd.h): the kernel parses the file. */
int lr_mount_squashfs_loop(int file_fd, const char *target, const char *name, struct lr_error *err);

/* Detach the mount at path (a layer holder's, once unused): lazily, as a
 * container may still be tearing down a copy of it. */
void lr_mount_detach(const char *path);

/* Bind-mount attributes. */
#define LR_BIND_RO 0x1
#define LR_BIND_DEV 0x2 /* device nodes must work: leave out nodev */

/* Attach a tree from lr_mount_clone() at dst inside root_fd, creating dst
 * (as a directory, or an empty file when the tree is not a directory) when
 * missing.  dst is resolved inside the root (RESOLVE_IN_ROOT): an image's
 * symlinks cannot send it outside.  Always nosuid; nodev unless
 * LR_BIND_DEV; read-only (recursively) with LR_BIND_RO. */
int lr_mount_attach(int tree_fd, int root_fd, const char *dst, unsigned flags,
		    struct lr_error *err);

/* Attach a tree from lr_mount_clone() at a staging path (labrun's own
 * tmpfs, no resolution needed), nosuid and nodev. */
int lr_mount_attach_path(int tree_fd, const char *path, struct lr_error *err);

/* The skeleton: a directory on labrun's staging tmpfs, stacked by
 * overlayfs above the image's layers, that holds every mount point
 * (empty files and directories) and labrun's own files (/etc/passwd,
 * /etc/group, the whiteout hiding /.labrun).  Image directories belong to
 * ids that are not mapped in the user namespace, so nothing can be created
 * in them, not even by the namespace's root; and since the skeleton's
 * entries shadow the image's, a mount target never resolves through a
 * symlink the image planted.  Add path (relative to the container's root)
 * and its missing parents. */
int lr_mount_skeleton_add(const char *skel, const char *path, bool dir, struct lr_error *err);

/* Add the mount points of the container's own filesystems (the table). */
int lr_mount_skeleton_table(const char *skel, struct lr_error *err);

/* What the container gets besides the image (DESIGN.md §3.4), as one table
 * in mount.c. */
struct lr_populate {
	uint64_t tmp_size; /* /tmp tmpfs size */
	bool own_netns;	   /* --net=none: a sysfs of its own, not the host's */
};
int lr_mount_populate(int root_fd, const struct lr_populate *p, struct lr_error *err);

/* Open path inside root_fd (RESOLVE_IN_ROOT), creating missing parent
 * directories, and the last component as a directory or (when !dir) an
 * empty file mode 0644.  Returns an O_PATH fd. */
int lr_mount_ensure(int root_fd, const char *path, bool dir, struct lr_error *err);

/* Open path inside root_fd (RESOLVE_IN_ROOT) with flags. */
int lr_mount_open_in_root(int root_fd, const char *path, int flags, struct lr_error *err);

/* pivot_root into root_fd and detach everything else. */
int lr_mount_pivot(int root_fd, struct lr_error *err);

#endif
