/* quota.c - per-user disk quotas through quotactl_fd(2) (see quota.h).
 *
 * lr_quota_set() runs as root, lr_quota_get() as any user.  Nothing here
 * opens a block device, a quota file or anything under PATH: the
 * filesystem is reached through an O_PATH descriptor of PATH, and the
 * kernel does every permission check (fs/quota/quota.c,
 * check_quotactl_permission(): CAP_SYS_ADMIN to set, or to read another
 * user's quota).  /proc/self/mountinfo is read only to word an error.
 *
 * Why quotactl_fd(2) (Linux 5.14) and not quotactl(2): quotactl wants the
 * filesystem's block device, which would have to be looked up in the mount
 * table and which a tmpfs does not have; quotactl_fd takes any file on the
 * filesystem.  glibc 2.36 has no wrapper, hence syscall().
 *
 * The kernel's errno, translated here and nowhere else (STYLE.md, Errors),
 * after fs/quota/quota.c and fs/quota/dquot.c:
 *   ENOSYS  the filesystem has no quota operations: tmpfs mounted without
 *           usrquota (or before Linux 6.6), btrfs, NFS, proc...; ext4 or
 *           XFS in a kernel built without quota support; or no
 *           quotactl_fd() at all (a closed fd tells: EBADF if it exists).
 *   ESRCH   the filesystem could have user quotas but they are off
 *           (mounted without usrquota, or the kernel lacks the quota
 *           format: this project's build hosts have no CONFIG_QFMT_V2).
 *   EINVAL  the filesystem has no user quota type, or the uid has no
 *           mapping in the filesystem's user namespace.
 *   EPERM   setting a quota, or reading another user's, without root.
 *   ERANGE  a limit larger than the quota format holds.
 *   EROFS   setting a quota on a read-only mount.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/dqblk_xfs.h>

#include "cleanup.h"
#include "quota.h"

#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443 /* on every architecture but alpha: numbers from 424 on are shared */
#endif

#define MOUNTINFO "/proc/self/mountinfo"
#define FSTYPE_MAX 64
#define MOUNT_OPTIONS_MAX 1024
#define XFS_BB 512 /* Q_XGETQUOTA counts in 512-byte "basic blocks" */

/* quotactl_fd(2) on the user quota type; 0 or -errno.  Named apart from
 * the system call, which a later glibc may declare. */
static int quota_ctl(int fd, int cmd, uid_t id, void *addr)
{
	return syscall(SYS_quotactl_fd, fd, QCMD(cmd, USRQUOTA), id, addr) == 0 ? 0 : -errno;
}

/* The mount fd is on: its filesystem type and super-block options, for
 * messages only ("?" and "" when they cannot be found). */
struct mount_desc {
	char type[FSTYPE_MAX];
	char options[MOUNT_OPTIONS_MAX];
};

static void describe_mount(int fd, struct mount_desc *m)
{
	snprintf(m->type, sizeof(m->type), "?");
	m->options[0] = '\0';
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID))
		return;
	_cleanup_fclose_ FILE *f = fopen(MOUNTINFO, "re");
	if (!f)
		return;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char *end;
		unsigned long long id = strtoull(line, &end, 10);
		if (end == line || *end != ' ' || id != stx.stx_mnt_id)
			continue;
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - TYPE
		 * SOURCE SUPER-OPTIONS" (proc(5)); blanks in paths are
		 * escaped as \040, so " - " is the separator. */
		char *sep = strstr(end, " - ");
		if (!sep)
			return;
		char *save = NULL;
		const char *type = strtok_r(sep + 3, " \n", &save);
		const char *source = type ? strtok_r(NULL, " \n", &save) : NULL;
		const char *options = source ? strtok_r(NULL, " \n", &save) : NULL;
		if (type)
			snprintf(m->type, sizeof(m->type), "%s", type);
		if (options)
			snprintf(m->options, sizeof(m->options), "%s", options);
		return;
	}
}

/* Is name one of the comma-separated options?  A name ending in '='
 * matches any value ("usrjquota=" matches "usrjquota=aquota.user"). */
static bool has_option(const char *options, const char *name)
{
	char buf[MOUNT_OPTIONS_MAX];
	snprintf(buf, sizeof(buf), "%s", options);
	size_t n = strlen(name);
	bool prefix = n > 0 && name[n - 1] == '=';
	char *save = NULL;
	for (char *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save))
		if (prefix ? strncmp(o, name, n) == 0 : strcmp(o, name) == 0)
			return true;
	return false;
}

/* Does a mount option ask for user quotas?  ext4 shows usrquota, quota or
 * usrjquota=FILE; XFS usrquota or uqnoenforce; tmpfs usrquota. */
static bool asks_for_user_quotas(const char *options)
{
	static const char *const names[] = {"usrquota", "quota", "uquota", "uqnoenforce",
					    "usrjquota="};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (has_option(options, names[i]))
			return true;
	return false;
}

/* Filesystems whose quotas are the VFS's or XFS's own: ENOSYS on one of
 * them means the kernel was built without them. */
static bool can_have_quotas(const char *type)
{
	static const char *const types[] = {"ext2", "ext3",	"ext4",	 "xfs", "f2fs",
					    "jfs",  "reiserfs", "ocfs2", "gfs2"};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return true;
	return false;
}

static int explain_enosys(int fd, const char *path, struct lr_error *err)
{
	/* A missing system call fails with ENOSYS whatever its arguments; an
	 * existing one rejects a closed fd with EBADF first. */
	if (quota_ctl(-1, Q_GETINFO, 0, NULL) == -ENOSYS)
		return lr_error_set(err, ENOSYS,
				    "%s: the kernel has no quotactl_fd() for disk quotas: it needs "
				    "Linux 5.14 or later, built with CONFIG_QUOTACTL",
				    path);
	struct mount_desc m;
	describe_mount(fd, &m);
	if (can_have_quotas(m.type))
		return lr_error_set(
			err, ENOSYS, "%s: the kernel was built without disk quotas for %s (%s)",
			path, m.type,
			strcmp(m.type, "xfs") == 0 ? "CONFIG_XFS_QUOTA" : "CONFIG_QUOTA");
	if (strcmp(m.type, "tmpfs") == 0)
		return lr_error_set(err, ENOSYS,
				    "%s: this tmpfs has no user quotas: mount it with usrquota "
				    "(Linux 6.6 or later, built with CONFIG_TMPFS_QUOTA)",
				    path);
	if (strcmp(m.type, "btrfs") == 0)
		return lr_error_set(err, ENOSYS,
				    "%s: btrfs has no user quotas (its qgroups limit subvolumes): "
				    "put the storage on ext4 or XFS mounted with usrquota",
				    path);
	return lr_error_set(
		err, ENOSYS,
		"%s: the filesystem (%s) has no disk quotas: put the storage on ext4 or "
		"XFS mounted with usrquota",
		path, m.type);
}

/* Are user quotas on for the filesystem of fd, and are their limits
 * enforced?  Both questions need no privilege (Q_GETINFO, Q_XGETQSTATV). */
static int user_quota_state(int fd, const char *path, bool *enforced, struct lr_error *err)
{
	struct if_dqinfo info;
	int r = quota_ctl(fd, Q_GETINFO, 0, &info);
	if (r == -ENOSYS)
		return explain_enosys(fd, path, err);
	if (r == -ESRCH || r == -EINVAL) {
		struct mount_desc m;
		describe_mount(fd, &m);
		if (r == -EINVAL)
			return lr_error_set(
				err, EINVAL,
				"%s: the filesystem (%s) has no user quotas, only other "
				"kinds",
				path, m.type);
		/* ext4 suspends its quotas while read-only (ext4_remount(),
		 * dquot_suspend()), usrquota or not. */
		if (has_option(m.options, "ro"))
			return lr_error_set(
				err, ESRCH,
				"%s: the filesystem (%s) is mounted read-only, which turns "
				"its quotas off: mount it read-write with usrquota",
				path, m.type);
		/* Asked for and still off: the mount option is there, the
		 * kernel could not turn quotas on. */
		if (asks_for_user_quotas(m.options))
			return lr_error_set(
				err, ESRCH,
				"%s: the filesystem (%s) is mounted with usrquota but user "
				"quotas are off: the kernel may lack the quota format "
				"(CONFIG_QFMT_V2, module quota_v2), or quota files need "
				"quotaon (ext4 made without -O quota)",
				path, m.type);
		return lr_error_set(err, ESRCH,
				    "%s: the filesystem (%s) has no user quotas: mount it with "
				    "usrquota (ext4: made with -O quota)",
				    path, m.type);
	}
	if (r < 0)
		return lr_error_errno(err, -r, "%s: reading the filesystem's quota state", path);

	struct fs_quota_statv st;
	memset(&st, 0, sizeof(st));
	st.qs_version = FS_QSTATV_VERSION1;
	r = quota_ctl(fd, Q_XGETQSTATV, 0, &st);
	if (r < 0)
		return lr_error_errno(err, -r, "%s: reading the filesystem's quota state", path);
	*enforced = st.qs_flags & FS_QUOTA_UDQ_ENFD;
	return 0;
}

static int open_fs(const char *path, int *fd, struct lr_error *err)
{
	*fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	int e = errno;
	if (e == ENOTDIR)
		return lr_error_set(err, e,
				    "%s: not a directory: give the filesystem's mount point or a "
				    "directory on it",
				    path);
	return lr_error_errno(err, e, "%s", path);
}

/* n units of size bytes, saturating rather than wrapping. */
static uint64_t to_bytes(uint64_t n, uint64_t size)
{
	return n > UINT64_MAX / size ? UINT64_MAX : n * size;
}

/* The filesystem holding path, opened, and whether it enforces user
 * quotas; an error when it keeps none at all. */
static int open_quota_fs(const char *path, int *fd, bool *enforced, struct lr_error *err)
{
	int r = open_fs(path, fd, err);
	if (r < 0)
		return r;
	return user_quota_state(*fd, path, enforced, err);
}

int lr_quota_set(const char *path, uid_t uid, uint64_t bytes, struct lr_error *err)
{
	if (bytes > LR_QUOTA_MAX_BYTES)
		return lr_error_set(err, ERANGE,
				    "%s: a quota of %" PRIu64
				    " bytes is more than the kernel holds "
				    "(8 EiB); 0 removes the limit",
				    path, bytes);
	_cleanup_close_ int fd = -1;
	bool enforced;
	int r = open_quota_fs(path, &fd, &enforced, err);
	if (r < 0)
		return r;
	/* An ext4 made with -O quota but mounted without usrquota counts
	 * usage and stores limits, and enforces none: a limit set there would
	 * look fine and hold nothing. */
	if (!enforced) {
		struct mount_desc m;
		describe_mount(fd, &m);
		return lr_error_set(
			err, ESRCH,
			"%s: the filesystem (%s) counts user quotas but does not enforce "
			"them: mount it with usrquota",
			path, m.type);
	}

	/* Soft limit = hard limit: a soft limit left lower by someone else
	 * would, after its grace period, refuse writes below the limit the
	 * policy gives.  Rounded up, so the user gets at least bytes. */
	uint64_t blocks = bytes / QIF_DQBLKSIZE + (bytes % QIF_DQBLKSIZE != 0);
	struct if_dqblk dq;
	memset(&dq, 0, sizeof(dq));
	dq.dqb_bhardlimit = blocks;
	dq.dqb_bsoftlimit = blocks;
	dq.dqb_valid = QIF_BLIMITS;
	r = quota_ctl(fd, Q_SETQUOTA, uid, &dq);
	switch (-r) {
	case 0: return 0;
	case EPERM:
		return lr_error_set(err, EPERM,
				    "%s: setting a user's quota needs root (CAP_SYS_ADMIN)", path);
	case EROFS:
		return lr_error_set(
			err, EROFS,
			"%s: mounted read-only here: set the quota through a read-write "
			"mount of the filesystem",
			path);
	case ERANGE:
		return lr_error_set(err, ERANGE,
				    "%s: a quota of %" PRIu64
				    " bytes is more than this filesystem's "
				    "quota format holds",
				    path, bytes);
	case EINVAL:
		return lr_error_set(
			err, EINVAL,
			"%s: the kernel refused a quota for uid %u: is it mapped in the "
			"filesystem's user namespace?",
			path, (unsigned)uid);
	default:
		return lr_error_errno(err, -r, "%s: setting the quota of uid %u", path,
				      (unsigned)uid);
	}
}

int lr_quota_get(const char *path, uid_t uid, struct lr_quota_usage *out, struct lr_error *err)
{
	_cleanup_close_ int fd = -1;
	bool enforced;
	int r = open_quota_fs(path, &fd, &enforced, err);
	if (r < 0)
		return r;

	/* Q_XGETQUOTA, not Q_GETQUOTA: the kernel counts Q_GETQUOTA as a
	 * write (quotactl_cmd_write() in fs/quota/quota.c: looking a user up
	 * may allocate the user's record), so it fails with EROFS on a
	 * read-only mount and waits while the filesystem is frozen; showing
	 * usage should do neither.  The same numbers, in 512-byte units. */
	struct fs_disk_quota dq;
	memset(&dq, 0, sizeof(dq));
	r = quota_ctl(fd, Q_XGETQUOTA, uid, &dq);
	if (r == -ENOENT) {
		/* XFS keeps no record for a user who never owned a block
		 * there: nothing used, no limit. */
		out->used = 0;
		out->limit = 0;
		return 0;
	}
	if (r == -EPERM)
		return lr_error_set(err, EPERM,
				    "%s: only root may read another user's quota (uid %u)", path,
				    (unsigned)uid);
	if (r < 0)
		return lr_error_errno(err, -r, "%s: reading the quota of uid %u", path,
				      (unsigned)uid);
	out->used = to_bytes(dq.d_bcount, XFS_BB);
	/* A limit the kernel does not enforce is no limit to the user. */
	out->limit = enforced ? to_bytes(dq.d_blk_hardlimit, XFS_BB) : 0;
	return 0;
}
