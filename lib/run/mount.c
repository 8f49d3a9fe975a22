/* mount.c - labrun's mounts (see mount.h).
 *
 * Runs as the user inside the user namespace that labrun created, where it
 * holds CAP_SYS_ADMIN over its own mount namespace and nothing else.  The
 * argument that this is safe, row by row:
 *  - / is made recursively private before the first mount, so nothing here
 *    reaches the host or another user's namespace (invariant 7);
 *  - every image and bind mount carries nosuid and nodev; only the handful
 *    of host device nodes in /dev (null, zero, ...) are bound without nodev
 *    (invariant 3);
 *  - every path inside the new root is resolved with openat2
 *    RESOLVE_IN_ROOT and mounted by fd (move_mount), so a symlink planted in
 *    an image (/proc -> /, /etc/passwd -> /host/...) cannot redirect a
 *    mount outside the root (runc CVE-2019-19921, CVE-2021-30465,
 *    CVE-2024-45310, CVE-2025-31133);
 *  - the only option strings built here (overlayfs, FUSE) are made of
 *    labrun's own fixed staging paths and numbers, never of user text, so no
 *    ',' ':' or '\\' can be injected (notes/security.md);
 *  - host mounts copied into the namespace are locked by the kernel: labrun
 *    can add flags to them, never remove one.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <linux/loop.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "mount.h"

/* Paths in the container are bounded like any user-controlled string. */
#define MAX_PATH_DEPTH 64

int lr_mount_make_private(struct lr_error *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return lr_error_errno(err, errno, "make / private");
	return 0;
}

static int explain_mount(int e, const char *what, struct lr_error *err)
{
	if (e == ENOSPC)
		return lr_error_set(
			err, e, "%s: the mount table is full (sysctl fs.mount-max), not the disk",
			what);
	return lr_error_errno(err, e, "%s", what);
}

int lr_mount_staging(struct lr_error *err)
{
	if (mount("labrun", LR_STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=16m") < 0)
		return explain_mount(errno, "mount staging tmpfs on " LR_STAGING, err);
	return 0;
}

int lr_mount_tmpfs(const char *target, uint64_t size, struct lr_error *err)
{
	char opts[64];
	snprintf(opts, sizeof(opts), "mode=0755,size=%llu", (unsigned long long)size);
	if (mount("labrun", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return explain_mount(errno, "mount writable-layer tmpfs", err);
	return 0;
}

int lr_mount_fuse(const char *target, int fuse_fd, uid_t uid, gid_t gid, bool held,
		  const char *name, struct lr_error *err)
{
	char opts[160];
	/* default_permissions: the kernel checks mode bits itself, as on any
	 * filesystem; libsquashfuse does no access checks of its own.
	 * allow_other: the job runs in a nested user namespace (userns.h); the
	 * kernel still limits access to processes in this namespace's
	 * descendants (fuse_allow_current_process).  Not for a holder's mount
	 * (held), which containers in other user namespaces use: there the
	 * kernel lets in only processes whose every uid and gid is the
	 * mounter's (fuse_permissible_uid), that is, the user's own. */
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=%u,group_id=%u,%sdefault_permissions", fuse_fd,
		 (unsigned)uid, (unsigned)gid, held ? "" : "allow_other,");
	if (mount(name, target, "fuse.labrun", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0) {
		if (errno == ENODEV)
			return lr_error_set(
				err, ENODEV,
				"mount FUSE: the kernel has no FUSE support (modprobe fuse)");
		return explain_mount(errno, "mount FUSE", err);
	}
	return 0;
}

int lr_mount_overlay(const char *target, const char *lowerdirs, const char *upper, const char *work,
		     struct lr_error *err)
{
	/* userxattr: the only mode an unprivileged overlay has (Linux 5.11+);
	 * it reads user.overlay.* xattrs and turns off redirect_dir and
	 * metacopy, which would let a crafted layer redirect lookups.
	 * index and xino are pinned off so that the behaviour does not change
	 * with the kernel's defaults. */
	char opts[4096];
	int n = snprintf(opts, sizeof(opts),
			 "lowerdir=%s,upperdir=%s,workdir=%s,userxattr,index=off,xino=off",
			 lowerdirs, upper, work);
	if (n < 0 || (size_t)n >= sizeof(opts))
		return lr_error_set(err, E2BIG, "overlay options too long");
	if (mount("labrun", target, "overlay", MS_NOSUID | MS_NODEV, opts) < 0) {
		int e = errno;
		if (e == ENODEV)
			return lr_error_set(
				err, e,
				"mount overlay: the kernel has no overlayfs (modprobe overlay)");
		if (e == EPERM || e == EINVAL)
			return lr_error_set(
				err, e,
				"mount overlay: %s (unprivileged overlayfs needs Linux 5.11 "
				"or later)",
				strerror(e));
		return explain_mount(e, "mount overlay", err);
	}
	return 0;
}

int lr_mount_clone(const char *path, bool recursive, struct lr_error *err)
{
	int fd = open_tree(AT_FDCWD, path,
			   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
	if (fd < 0)
		return lr_error_errno(err, errno, "%s", path);
	return fd;
}

/* Attempts at a free loop device: another process may take the one
 * LOOP_CTL_GET_FREE named before LOOP_CONFIGURE does (EBUSY). */
#define LOOP_TRIES 8

int lr_mount_squashfs_loop(int file_fd, const char *target, const char *name, struct lr_error *err)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return lr_error_errno(err, errno, "mount %s: /dev/loop-control", name);
	for (int i = 0; i < LOOP_TRIES; i++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return lr_error_errno(err, errno, "mount %s: no free loop device", name);
		char dev[32];
		snprintf(dev, sizeof(dev), "/dev/loop%d", n);
		_cleanup_close_ int loop = open(dev, O_RDONLY | O_CLOEXEC);
		if (loop < 0)
			return lr_error_errno(err, errno, "mount %s: %s", name, dev);
		/* Read-only, and gone with the last mount of it (autoclear):
		 * nothing to undo when the layer is unmounted. */
		struct loop_config lc = {
			.fd = (uint32_t)file_fd,
			.info = {.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR},
		};
		if (ioctl(loop, LOOP_CONFIGURE, &lc) < 0) {
			if (errno == EBUSY)
				continue;
			return lr_error_errno(err, errno, "mount %s: set up %s", name, dev);
		}
		if (mount(dev, target, "squashfs", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) {
			int e = errno;
			ioctl(loop, LOOP_CLR_FD, 0);
			return explain_mount(e, name, err);
		}
		return 0;
	}
	return lr_error_set(err, EBUSY, "mount %s: every free loop device was taken", name);
}

int lr_mount_unshare(struct lr_error *err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return lr_error_errno(err, errno, "cannot create a mount namespace");
	return lr_mount_make_private(err);
}

void lr_mount_detach(const char *path)
{
	(void)umount2(path, MNT_DETACH);
}

static long openat2_in_root(int root_fd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.mode = mode,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

int lr_mount_open_in_root(int root_fd, const char *path, int flags, struct lr_error *err)
{
	long fd = openat2_in_root(root_fd, path, flags | O_CLOEXEC | O_NOCTTY, 0);
	if (fd < 0)
		return lr_error_errno(err, errno, "%s", path);
	return (int)fd;
}

int lr_mount_ensure(int root_fd, const char *path, bool dir, struct lr_error *err)
{
	long fd = openat2_in_root(root_fd, path, O_PATH | O_CLOEXEC, 0);
	if (fd >= 0)
		return (int)fd;
	if (errno != ENOENT)
		return lr_error_errno(err, errno, "%s", path);

	/* Walk from the root, creating what is missing, one component at a
	 * time, each resolved in-root from its parent's fd. */
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return lr_error_errno(err, ENOMEM, "%s", path);
	_cleanup_close_ int cur = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return lr_error_errno(err, errno, "%s", path);
	char *save = NULL;
	int depth = 0;
	for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (++depth > MAX_PATH_DEPTH)
			return lr_error_set(err, ENAMETOOLONG, "%s: too deep", path);
		if (!strcmp(comp, "..") || !strcmp(comp, "."))
			return lr_error_set(err, EINVAL, "%s: '.' or '..' in path", path);
		bool last = (save == NULL || *save == '\0');
		/* Each component is opened beneath its parent without
		 * following symlinks; a symlink (the image's) is then followed
		 * the in-root way, from the real root, so it cannot lead out. */
		struct open_how how = {.flags = O_PATH | O_CLOEXEC,
				       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
						  RESOLVE_NO_MAGICLINKS};
		long next = syscall(SYS_openat2, cur, comp, &how, sizeof(how));
		if (next < 0 && errno == ELOOP) {
			/* An existing symlink: follow it the in-root way. */
			_cleanup_free_ char *prefix =
				strndup(path, (size_t)(comp - copy) + strlen(comp));
			if (!prefix)
				return lr_error_errno(err, ENOMEM, "%s", path);
			next = openat2_in_root(root_fd, prefix, O_PATH | O_CLOEXEC, 0);
			if (next < 0 && errno == ENOENT)
				return lr_error_set(err, ENOENT,
						    "%s: dangling symlink in the image", prefix);
		}
		if (next < 0 && errno == ENOENT) {
			if (!last || dir) {
				if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
					return lr_error_errno(err, errno, "create %s", path);
			} else {
				int f = openat(cur, comp,
					       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					       0644);
				if (f < 0 && errno != EEXIST)
					return lr_error_errno(err, errno, "create %s", path);
				if (f >= 0)
					close(f);
			}
			next = syscall(SYS_openat2, cur, comp, &how, sizeof(how));
		}
		if (next < 0)
			return lr_error_errno(err, errno, "%s", path);
		close(cur);
		cur = (int)next;
	}
	return take_fd(&cur);
}

int lr_mount_attach(int tree_fd, int root_fd, const char *dst, unsigned flags, struct lr_error *err)
{
	struct stat st;
	if (fstat(tree_fd, &st) < 0)
		return lr_error_errno(err, errno, "bind %s", dst);
	_cleanup_close_ int target = lr_mount_ensure(root_fd, dst, S_ISDIR(st.st_mode), err);
	if (target < 0)
		return lr_error_prefix(err, "bind target");
	struct stat tst;
	if (fstat(target, &tst) < 0)
		return lr_error_errno(err, errno, "bind %s", dst);
	if (S_ISDIR(st.st_mode) != S_ISDIR(tst.st_mode))
		return lr_error_set(err, ENOTDIR, "bind %s: %s over a %s", dst,
				    S_ISDIR(st.st_mode) ? "a directory" : "a file",
				    S_ISDIR(tst.st_mode) ? "directory" : "file");
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_NOSUID | ((flags & LR_BIND_DEV) ? 0 : MOUNT_ATTR_NODEV) |
			    ((flags & LR_BIND_RO) ? MOUNT_ATTR_RDONLY : 0),
		.propagation = MS_PRIVATE,
	};
	/* Clones keep the source's propagation (crun PR 2060): private too. */
	if (mount_setattr(tree_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return lr_error_errno(err, errno, "bind %s: set nosuid%s%s", dst,
				      (flags & LR_BIND_DEV) ? "" : ",nodev",
				      (flags & LR_BIND_RO) ? ",ro" : "");
	if (move_mount(tree_fd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return explain_mount(errno, dst, err);
	return 0;
}

int lr_mount_attach_path(int tree_fd, const char *path, struct lr_error *err)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
		.propagation = MS_PRIVATE,
	};
	if (mount_setattr(tree_fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return lr_error_errno(err, errno, "set nosuid,nodev");
	if (move_mount(tree_fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return explain_mount(errno, path, err);
	return 0;
}

/* A new filesystem instance: fsopen, fsconfig, fsmount.  Returns the
 * detached mount's fd. */
static int new_fs(const char *fstype, const char *const *opts, unsigned attrs, const char *dst,
		  struct lr_error *err)
{
	_cleanup_close_ int fs = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fs < 0)
		return lr_error_errno(err, errno, "mount %s on %s", fstype, dst);
	for (size_t i = 0; opts && opts[i]; i += 2)
		if (fsconfig(fs, opts[i + 1] ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, opts[i],
			     opts[i + 1], 0) < 0)
			return lr_error_errno(err, errno, "mount %s on %s: option %s", fstype, dst,
					      opts[i]);
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return lr_error_errno(err, errno, "mount %s on %s", fstype, dst);
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return lr_error_errno(err, errno, "mount %s on %s", fstype, dst);
	return mnt;
}

/* A new filesystem instance at dst inside the root, moved there by fd.
 * Returns the mount's fd (the caller closes it). */
static int attach_fs(int root_fd, const char *fstype, const char *const *opts, unsigned attrs,
		     const char *dst, struct lr_error *err)
{
	_cleanup_close_ int mnt = new_fs(fstype, opts, attrs, dst, err);
	if (mnt < 0)
		return mnt;
	_cleanup_close_ int target = lr_mount_ensure(root_fd, dst, true, err);
	if (target < 0)
		return lr_error_prefix(err, "mount %s", fstype);
	if (move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return explain_mount(errno, dst, err);
	return take_fd(&mnt);
}

enum row_kind {
	ROW_FS,	     /* a new filesystem instance */
	ROW_DEV,     /* bind a host device node */
	ROW_HOST_RO, /* bind a host path read-only (recursively) */
	ROW_SYS,     /* /sys: see the row */
	ROW_LINK,    /* a symlink in /dev */
};

struct row {
	enum row_kind kind;
	const char *what; /* fs type, host path or symlink target */
	const char *dst;  /* rows below /dev live in labrun's own /dev tmpfs */
	unsigned attrs;	  /* MOUNT_ATTR_* for ROW_FS */
	const char *opts[7];
};

/* The container's own filesystems, in mount order (each row's parent
 * first).  One comment per row says why it is there. */
static const struct row container_mounts[] = {
	/* /proc of the container's own pid namespace: the job sees only its
	 * own processes.  Mounted by the keeper, which is in that namespace. */
	{ROW_FS, "proc", "/proc", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, {NULL}},
	/* A small tmpfs for /dev instead of the host's devtmpfs: only the
	 * nodes bound below exist.  nodev: each of those is a mount of its
	 * own, with its own flags, so the tmpfs itself needs none. */
	{ROW_FS,
	 "tmpfs",
	 "/dev",
	 MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
	 {"mode", "0755", "size", "65536", NULL}},
	/* The harmless character devices every program expects. */
	{ROW_DEV, "/dev/null", "/dev/null", 0, {NULL}},
	{ROW_DEV, "/dev/zero", "/dev/zero", 0, {NULL}},
	{ROW_DEV, "/dev/full", "/dev/full", 0, {NULL}},
	{ROW_DEV, "/dev/random", "/dev/random", 0, {NULL}},
	{ROW_DEV, "/dev/urandom", "/dev/urandom", 0, {NULL}},
	/* /dev/tty means "my controlling terminal", resolved per process. */
	{ROW_DEV, "/dev/tty", "/dev/tty", 0, {NULL}},
	/* A private devpts instance: the job's new ptys are its own, and it
	 * cannot open the host's. */
	{ROW_FS,
	 "devpts",
	 "/dev/pts",
	 MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
	 {"newinstance", NULL, "ptmxmode", "0666", "mode", "0620", NULL}},
	{ROW_LINK, "pts/ptmx", "/dev/ptmx", 0, {NULL}},
	/* POSIX shared memory, private to the container (and its ipc ns). */
	{ROW_FS, "tmpfs", "/dev/shm", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, {"mode", "1777", NULL}},
	{ROW_LINK, "/proc/self/fd", "/dev/fd", 0, {NULL}},
	{ROW_LINK, "/proc/self/fd/0", "/dev/stdin", 0, {NULL}},
	{ROW_LINK, "/proc/self/fd/1", "/dev/stdout", 0, {NULL}},
	{ROW_LINK, "/proc/self/fd/2", "/dev/stderr", 0, {NULL}},
	/* /sys, read-only: hardware topology for MPI and hwloc.  The host's,
	 * recursively (with /sys/fs/cgroup); with --net=none a sysfs of the
	 * container's own network namespace instead, so the host's network
	 * devices do not show, and the host's cgroup tree bound into it. */
	{ROW_SYS,
	 "/sys",
	 "/sys",
	 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
	 {NULL}},
	/* Private /tmp, sized like the writable layer (size set below). */
	{ROW_FS, "tmpfs", "/tmp", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, {"mode", "1777", NULL}},
};

static bool in_image(const struct row *r)
{
	return strncmp(r->dst, "/dev/", 5) != 0;
}

int lr_mount_skeleton_add(const char *skel, const char *path, bool dir, struct lr_error *err)
{
	char full[PATH_MAX];
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", skel, path) >= sizeof(full))
		return lr_error_set(err, ENAMETOOLONG, "mount point %s: path too long", path);
	/* Everything under skel is labrun's own, made just now on its own
	 * tmpfs: plain mkdir/open are safe here, there is no image content. */
	for (char *slash = full + strlen(skel) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		if (slash[-1] != '/' && mkdir(full, 0755) < 0 && errno != EEXIST)
			return lr_error_errno(err, errno, "mount point %s", path);
		*slash = '/';
	}
	struct stat st;
	if (lstat(full, &st) == 0) {
		if (S_ISDIR(st.st_mode) != dir)
			return lr_error_set(err, EEXIST,
					    "mount point %s: needed as a file and as a directory",
					    path);
		return 0;
	}
	if (dir) {
		if (mkdir(full, 0755) < 0)
			return lr_error_errno(err, errno, "mount point %s", path);
	} else {
		int fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return lr_error_errno(err, errno, "mount point %s", path);
		close(fd);
	}
	return 0;
}

int lr_mount_skeleton_table(const char *skel, struct lr_error *err)
{
	for (size_t i = 0; i < sizeof(container_mounts) / sizeof(container_mounts[0]); i++) {
		const struct row *r = &container_mounts[i];
		if (!in_image(r))
			continue;
		int rc = lr_mount_skeleton_add(skel, r->dst, true, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int attach_sys(int root_fd, const struct row *r, bool own_netns, struct lr_error *err)
{
	if (!own_netns) {
		int tree = lr_mount_clone(r->what, true, err);
		if (tree < 0)
			return tree;
		int rc = lr_mount_attach(tree, root_fd, r->dst, LR_BIND_RO, err);
		close(tree);
		return rc;
	}
	int rc = attach_fs(root_fd, "sysfs", NULL, r->attrs, r->dst, err);
	if (rc < 0)
		return rc;
	close(rc);
	int tree = lr_mount_clone("/sys/fs/cgroup", true, err);
	if (tree == -ENOENT)
		return 0;
	if (tree < 0)
		return tree;
	rc = lr_mount_attach(tree, root_fd, "/sys/fs/cgroup", LR_BIND_RO, err);
	close(tree);
	return rc;
}

/* The rows below /dev go into labrun's own fresh /dev tmpfs, through its
 * mount fd: no image content there, so no in-root resolution is needed,
 * and one recursive mount_setattr() at the end makes everything under /dev
 * nosuid and noexec (measured: 0.9 ms for /dev done row by row in-root,
 * the largest part of the container's set-up). */
static int populate_dev(int dev_fd, const struct row *r, struct lr_error *err)
{
	const char *name = r->dst + strlen("/dev/");
	switch (r->kind) {
	case ROW_DEV: {
		_cleanup_close_ int tree = lr_mount_clone(r->what, false, err);
		if (tree < 0)
			return tree;
		int f = openat(dev_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (f < 0)
			return lr_error_errno(err, errno, "create %s", r->dst);
		close(f);
		if (move_mount(tree, "", dev_fd, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return explain_mount(errno, r->dst, err);
		return 0;
	}
	case ROW_FS: {
		_cleanup_close_ int mnt = new_fs(r->what, r->opts, r->attrs, r->dst, err);
		if (mnt < 0)
			return mnt;
		if (mkdirat(dev_fd, name, 0755) < 0)
			return lr_error_errno(err, errno, "create %s", r->dst);
		if (move_mount(mnt, "", dev_fd, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return explain_mount(errno, r->dst, err);
		return 0;
	}
	case ROW_LINK:
		if (symlinkat(r->what, dev_fd, name) < 0)
			return lr_error_errno(err, errno, "symlink %s", r->dst);
		return 0;
	default: return lr_error_set(err, EINVAL, "%s: no such row kind under /dev", r->dst);
	}
}

int lr_mount_populate(int root_fd, const struct lr_populate *p, struct lr_error *err)
{
	char tmp_size[32];
	snprintf(tmp_size, sizeof(tmp_size), "%llu", (unsigned long long)p->tmp_size);
	_cleanup_close_ int dev_fd = -1;
	for (size_t i = 0; i < sizeof(container_mounts) / sizeof(container_mounts[0]); i++) {
		const struct row *r = &container_mounts[i];
		int rc = 0;
		if (!in_image(r)) {
			rc = dev_fd >= 0 ? populate_dev(dev_fd, r, err)
					 : lr_error_set(err, EINVAL, "%s before /dev", r->dst);
		} else if (r->kind == ROW_FS) {
			const char *opts[9];
			size_t n = 0;
			for (; r->opts[n]; n += 2) {
				opts[n] = r->opts[n];
				opts[n + 1] = r->opts[n + 1];
			}
			if (!strcmp(r->dst, "/tmp")) {
				opts[n++] = "size";
				opts[n++] = tmp_size;
			}
			opts[n] = NULL;
			rc = attach_fs(root_fd, r->what, opts, r->attrs, r->dst, err);
			if (rc >= 0 && !strcmp(r->dst, "/dev"))
				dev_fd = rc;
			else if (rc >= 0)
				close(rc);
		} else if (r->kind == ROW_HOST_RO) {
			int tree = lr_mount_clone(r->what, true, err);
			if (tree >= 0) {
				rc = lr_mount_attach(tree, root_fd, r->dst, LR_BIND_RO, err);
				close(tree);
			} else {
				rc = tree;
			}
		} else if (r->kind == ROW_SYS) {
			rc = attach_sys(root_fd, r, p->own_netns, err);
		} else {
			rc = lr_error_set(err, EINVAL, "%s: no such row kind in the image", r->dst);
		}
		if (rc < 0)
			return lr_error_prefix(err, "set up %s", r->dst);
		lr_debug(2, "mounted %s", r->dst);
	}
	struct mount_attr dev_attr = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC};
	if (dev_fd >= 0 && mount_setattr(dev_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &dev_attr,
					 sizeof(dev_attr)) < 0)
		return lr_error_errno(err, errno, "set up /dev: nosuid,noexec");
	return 0;
}

int lr_mount_pivot(int root_fd, struct lr_error *err)
{
	/* pivot_root(".", ".") stacks the old root on top of the new one;
	 * detaching "." then removes the old root and everything under it
	 * (the staging tmpfs, the host's tree) from this namespace. */
	if (fchdir(root_fd) < 0)
		return lr_error_errno(err, errno, "enter new root");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return lr_error_errno(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return lr_error_errno(err, errno, "detach the host's root");
	if (chdir("/") < 0)
		return lr_error_errno(err, errno, "chdir /");
	return 0;
}
