/* fuse_server.c - layers served by libsquashfuse_ll inside labrun itself.
 *
 * Runs as the user, in the launcher process (outside the container's pid
 * namespace, so the job can neither see nor signal its file server).  No
 * external squashfuse process: DESIGN.md §3 step 3; Charliecloud's
 * ch_fuse.c does the same with one layer.
 *
 * Requests are answered from the launcher's main loop, one at a time, for
 * all layers: no thread to create on the start-up path (measured 0.25 ms
 * each here), the process stays single-threaded so forking the keeper is
 * safe, and libsquashfuse, which is not thread-safe, is only ever entered
 * from one place.  The cost is that layers are decompressed on one core;
 * a pool of workers is the way up if a workload shows that limit.
 *
 * libsquashfuse_ll's own handlers (getattr, lookup, readdir, readlink) and
 * the two directory readers here (op_readdir() without an OPENDIR handle,
 * op_readdirplus()), which go through the same libsquashfuse functions, run
 * on layers that lr_squash_open() has read through once with bounds checks:
 * every inode, directory listing, index and table they can reach is known
 * to be sound, and a layer with a directory cycle or entries named "..",
 * ".", "", with '/' or NUL, or twice in a directory was refused before it
 * could be served (doc/DECISIONS.md, issue 12).  File data and xattrs are
 * read through squash_read.c and squash_xattr.c, which check each block
 * before copying from it.
 *
 * What each request costs was cut down in issue 13 (doc/DECISIONS.md,
 * "FUSE requests"): no OPEN/RELEASE or OPENDIR/RELEASEDIR round trips,
 * READDIRPLUS so that a listing answers the lookups that follow it, and
 * the kernel's page cache kept across opens.
 *
 * The mount itself is made by mount.c with our own /dev/fuse fd; libfuse
 * is then handed that fd as "/dev/fd/N" (libfuse >= 3.3), so libfuse never
 * runs fusermount3 and never mounts anything.
 *
 * Not including build-config.h: see squash.c.
 */
#define _GNU_SOURCE 1

/* libsquashfuse's ll.h declares "void teardown_idle_timeout();" */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <squashfuse.h>
#include <ll.h>
#pragma GCC diagnostic pop

#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fuse_server.h"
#include "mount.h"
#include "squash.h"

struct lr_fuse {
	struct fuse_session *se;
	struct fuse_buf buf; /* reused for every request */
};

static void reply_xattr(fuse_req_t req, long r, const char *buf, size_t size)
{
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
}

/* xattrs through squash.c, with the namespaces as stored.  overlayfs in
 * userxattr mode reads whiteout-directory markers from user.overlay.*;
 * layers made as root (or converted by other tools) carry
 * trusted.overlay.* instead.  Answer a user.overlay.X query from
 * trusted.overlay.X when the layer has no user.overlay.X, so both kinds of
 * layer stack the same way (DESIGN.md §2). */
static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	static const char user_prefix[] = "user.overlay.";
	struct lr_squash *sq = fuse_req_userdata(req);
	/* A layer without any xattr: ENOSYS makes the kernel answer every
	 * later query itself (fc->no_getxattr), instead of a round trip for
	 * each directory overlayfs merges. */
	if (!lr_squash_has_xattrs(sq)) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	char buf[65536];
	if (size > sizeof(buf))
		size = sizeof(buf);
	long r = lr_squash_getxattr(sq, ino, name, size ? buf : NULL, size);
	if (r == -ENODATA && !strncmp(name, user_prefix, sizeof(user_prefix) - 1)) {
		char trusted[256];
		snprintf(trusted, sizeof(trusted), "trusted.overlay.%s",
			 name + sizeof(user_prefix) - 1);
		r = lr_squash_getxattr(sq, ino, trusted, size ? buf : NULL, size);
	}
	reply_xattr(req, r, buf, size);
}

/* Reads go through the layer's block cache (squash.c); the answer is sent
 * straight from the cache when it lies in one block.  The userdata of the
 * session is the struct lr_squash, whose first member is libsquashfuse's
 * sqfs_ll, which is what libsquashfuse_ll's own handlers expect there. */
static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static char *buf; /* one request at a time: see the file comment */
	static size_t buf_size;
	if (size > buf_size) {
		char *nb = realloc(buf, size);
		if (!nb) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		buf = nb;
		buf_size = size;
	}
	const char *direct;
	size_t got;
	int r = lr_squash_read(fuse_req_userdata(req), ino, (uint64_t)off, size, buf, &direct,
			       &got);
	if (r < 0)
		fuse_reply_err(req, r == -EIO ? EIO : -r);
	else
		fuse_reply_buf(req, direct ? direct : buf, got);
}

/* Readahead on a layer: the kernel's default of 128 KiB reads past what
 * exec and mmap faults touch and straddles two squashfs blocks more often;
 * measured here (hyperfine, labrun busybox-gzip /bin/true, 100 runs each):
 * 16K 19.9 ms, 32K 18.8, 64K 18.2, 128K 21.3. */
#define LAYER_READAHEAD (64 * 1024)

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct lr_squash *sq = fuse_req_userdata(req);
	if (!lr_squash_has_xattrs(sq)) {
		fuse_reply_err(req, ENOSYS); /* as in op_getxattr */
		return;
	}
	static char buf[65536];
	if (size > sizeof(buf))
		size = sizeof(buf);
	reply_xattr(req, lr_squash_listxattr(sq, ino, size ? buf : NULL, size), buf, size);
}

/* Opening a file costs nothing here (reads find the inode by number), so
 * where the kernel can do without OPEN and RELEASE (FUSE_CAP_NO_OPEN_SUPPORT,
 * Linux 4.19) the first open answers ENOSYS and the kernel stops asking:
 * two round trips fewer per file, exec included.  The kernel then keeps a
 * file's page cache across opens (FOPEN_KEEP_CACHE is what it assumes
 * without OPEN, fs/fuse/file.c fuse_file_open()), as keep_cache does below
 * where OPEN is answered: a layer never changes while mounted.  Writes
 * never get here: the mount is read-only. */
static bool kernel_can_skip_open;

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (kernel_can_skip_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* Directories likewise (FUSE_CAP_NO_OPENDIR_SUPPORT, Linux 5.1): the
 * first OPENDIR answers ENOSYS and the kernel sends no OPENDIR or
 * RELEASEDIR again (python's import opens some 26 directories: 52 round
 * trips fewer), and it keeps what READDIR returned in the directory's page
 * cache (the FOPEN_CACHE_DIR it assumes then, fs/fuse/file.c): a later
 * listing of the directory on this mount, by this container or the next
 * one on a holder's mount, costs no request.  READDIR then comes without
 * libsquashfuse's handle (fi->fh 0): op_readdir() finds the directory by
 * its number, which is all that handle held. */
static bool kernel_can_skip_opendir;

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (kernel_can_skip_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	sqfs_ll_op_opendir(req, ino, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	if (fi->fh) { /* opened by sqfs_ll_op_opendir() */
		sqfs_ll_op_readdir(req, ino, size, off, fi);
		return;
	}
	sqfs_ll_i lli;
	if (sqfs_ll_iget(req, &lli, ino) != SQFS_OK)
		return; /* answered ENOENT */
	if (!S_ISDIR(lli.inode.base.mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	struct fuse_file_info dfi = *fi;
	dfi.fh = (uintptr_t)&lli; /* what sqfs_ll_op_opendir() would have kept */
	sqfs_ll_op_readdir(req, ino, size, off, &dfi);
}

/* An inode's attributes, as libsquashfuse's lookup answers them
 * (sqfs_stat(), which its headers do not declare). */
static int entry_attr(sqfs *fs, const sqfs_inode *inode, struct stat *st)
{
	sqfs_id_t uid, gid;
	if (sqfs_id_get(fs, inode->base.uid, &uid) != SQFS_OK ||
	    sqfs_id_get(fs, inode->base.guid, &gid) != SQFS_OK)
		return -EIO;
	memset(st, 0, sizeof(*st));
	st->st_mode = inode->base.mode;
	st->st_nlink = inode->nlink;
	st->st_mtime = st->st_ctime = st->st_atime = inode->base.mtime;
	if (S_ISREG(st->st_mode)) {
		st->st_size = (off_t)inode->xtra.reg.file_size;
		st->st_blocks = st->st_size / 512;
	} else if (S_ISBLK(st->st_mode) || S_ISCHR(st->st_mode)) {
		st->st_rdev = makedev(inode->xtra.dev.major, inode->xtra.dev.minor);
	} else if (S_ISLNK(st->st_mode)) {
		st->st_size = (off_t)inode->xtra.symlink_size;
	}
	st->st_blksize = fs->sb.block_size;
	st->st_uid = uid;
	st->st_gid = gid;
	return 0;
}

/* READDIRPLUS: each entry with its attributes, so that the lookups that
 * follow a listing (python stats what it listed; overlayfs looks each name
 * up in every layer) find the dentry the kernel made from it instead of
 * asking: `import numpy` sends 357 LOOKUPs instead of 513, a tar and ls -R
 * of the python layer 387 instead of 4390.  libfuse asks for it
 * (FUSE_CAP_READDIRPLUS, _AUTO) because the handler exists; in auto mode the
 * kernel uses it for a listing's first batch and when lookups follow.  An
 * entry is answered as libsquashfuse's lookup answers it: the same inode
 * number (its 64-bit numbering keeps no count, so FORGET needs none) and
 * timeouts without end (a layer never changes while mounted). */
static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	sqfs_ll *ll = fuse_req_userdata(req);
	sqfs_inode dir;
	if (sqfs_ll_inode(ll, &dir, ino) != SQFS_OK) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!S_ISDIR(dir.base.mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	sqfs_dir d;
	if (sqfs_dir_open(&ll->fs, &dir, &d, off) != SQFS_OK) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	sqfs_name namebuf;
	sqfs_dir_entry entry;
	sqfs_dentry_init(&entry, namebuf);
	sqfs_err e = SQFS_OK;
	size_t used = 0;
	while (sqfs_dir_next(&ll->fs, &d, &entry, &e)) {
		sqfs_inode inode;
		struct fuse_entry_param p;
		memset(&p, 0, sizeof(p));
		if (sqfs_inode_get(&ll->fs, &inode, sqfs_dentry_inode(&entry)) != SQFS_OK ||
		    entry_attr(&ll->fs, &inode, &p.attr) < 0) {
			e = SQFS_ERR;
			break;
		}
		p.ino = ll->ino_register(ll, &entry);
		p.attr.st_ino = p.ino;
		p.attr_timeout = p.entry_timeout = DBL_MAX;
		size_t n = fuse_add_direntry_plus(req, buf + used, size - used,
						  sqfs_dentry_name(&entry), &p,
						  sqfs_dentry_next_offset(&entry));
		if (n > size - used)
			break;
		used += n;
	}
	if (e != SQFS_OK)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

/* Let the kernel cache symlink targets and keep pages across opens: the
 * image never changes while mounted. */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_readahead = LAYER_READAHEAD;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
	kernel_can_skip_open = conn->capable & FUSE_CAP_NO_OPEN_SUPPORT;
	kernel_can_skip_opendir = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.getattr = sqfs_ll_op_getattr,
	.opendir = op_opendir,
	.releasedir = sqfs_ll_op_releasedir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.lookup = sqfs_ll_op_lookup,
	.open = op_open,
	.create = sqfs_ll_op_create,
	.release = op_release,
	.read = op_read,
	.readlink = sqfs_ll_op_readlink,
	.listxattr = op_listxattr,
	.getxattr = op_getxattr,
	.forget = sqfs_ll_op_forget,
	.statfs = stfs_ll_op_statfs,
};

/* libfuse logs through fuse_log; lib must not print (STYLE.md).  Errors
 * reach the user through the mount's failure instead. */
static void quiet_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
}

int lr_fuse_mount(struct lr_squash *sq, const char *target, uid_t uid, gid_t gid, bool held,
		  const char *name, struct lr_fuse **out, struct lr_error *err)
{
	fuse_set_log_func(quiet_log);
	/* Served: every inode and listing checked first (squash.h). */
	int r = lr_squash_check_all(sq, err);
	if (r < 0)
		return r;
	struct lr_fuse *f = calloc(1, sizeof(*f));
	if (!f)
		return lr_error_errno(err, ENOMEM, "serve %s", name);
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(f);
		if (e == EACCES)
			return lr_error_set(
				err, e,
				"cannot open /dev/fuse: permission denied (it should be mode "
				"0666, as distributions ship it; ask the admin)");
		if (e == ENOENT)
			return lr_error_set(err, e,
					    "cannot open /dev/fuse: missing (modprobe fuse)");
		return lr_error_errno(err, e, "cannot open /dev/fuse");
	}
	r = lr_mount_fuse(target, fd, uid, gid, held, name, err);
	if (r < 0) {
		close(fd);
		free(f);
		return r;
	}
	char *argv[] = {(char *)"labrun", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	f->se = fuse_session_new(&args, &ops, sizeof(ops), lr_squash_ll(sq));
	fuse_opt_free_args(&args);
	if (!f->se) {
		close(fd);
		free(f);
		return lr_error_set(err, ENOMEM, "serve %s: fuse_session_new failed", name);
	}
	char fdpath[32];
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", fd);
	/* libfuse takes fd over here, and closes it with the session. */
	if (fuse_session_mount(f->se, fdpath) != 0) {
		fuse_session_destroy(f->se);
		close(fd);
		free(f);
		return lr_error_set(err, EIO, "serve %s: libfuse refused /dev/fuse fd", name);
	}
	*out = f;
	return 0;
}

int lr_fuse_fd(const struct lr_fuse *f)
{
	return fuse_session_fd(f->se);
}

int lr_fuse_process(struct lr_fuse *f)
{
	int r = fuse_session_receive_buf(f->se, &f->buf);
	if (r == -EINTR || r == -EAGAIN)
		return 0;
	if (r <= 0)
		return -ENODEV; /* unmounted (0 or -ENODEV) or the connection died */
	fuse_session_process_buf(f->se, &f->buf);
	return 0;
}

void lr_fuse_free(struct lr_fuse *f)
{
	if (!f)
		return;
	fuse_session_destroy(f->se); /* closes the /dev/fuse fd */
	free(f->buf.mem);
	free(f);
}
