/* layersrc.c - tar streams and directories into a layer (layersrc.h). */
#include "build-config.h"

#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "layersrc.h"
#include "squash.h"

#define MAX_XATTRS LR_BUILD_MAX_XATTRS

/* Names libsquashfs can store (squashfs has these three namespaces). */
static bool storable_xattr(const char *name)
{
	return !strncmp(name, "user.", 5) || !strncmp(name, "trusted.", 8) ||
	       !strncmp(name, "security.", 9);
}

/* ------------------------------------------------------------ tar */

struct archive *lr_src_tar_reader(void)
{
	struct archive *a = archive_read_new();
	if (!a)
		return NULL;
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	return a;
}

struct tar_data {
	struct archive *a;
	const char *what, *path;
};

static long tar_read(void *ctx, void *buf, size_t len, struct lr_error *err)
{
	struct tar_data *t = ctx;
	la_ssize_t n = archive_read_data(t->a, buf, len);
	if (n < 0)
		return lr_error_set(err, EIO, "%s: %s: %s", t->what, t->path,
				    archive_error_string(t->a) ? archive_error_string(t->a)
							       : "read error");
	return (long)n;
}

static int tar_entry(struct lr_build *b, struct archive *a, struct archive_entry *ae,
		     const char *what, struct lr_error *err)
{
	const char *raw = archive_entry_pathname(ae);
	if (!raw || !*raw)
		return lr_error_set(err, EINVAL, "%s: an entry without a name", what);
	_cleanup_free_ char *path = strdup(raw);
	if (!path)
		return lr_error_errno(err, ENOMEM, "%s", what);
	if (lr_path_normalise(path) < 0)
		return lr_error_set(err, EINVAL, "%s: %s: a \"..\" component (refused)", what, raw);

	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!strncmp(base, ".wh.", 4)) {
		size_t dir_len = (size_t)(base - path);
		_cleanup_free_ char *dir = strndup(path, dir_len ? dir_len - 1 : 0);
		if (!dir)
			return lr_error_errno(err, ENOMEM, "%s", what);
		if (!strcmp(base, ".wh..wh..opq"))
			return lr_build_opaque(b, dir, err);
		if (!strncmp(base, ".wh..wh.", 8))
			return 0; /* aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs) */
		if (!base[4])
			return lr_error_set(err, EINVAL, "%s: %s: whiteout without a name", what,
					    raw);
		memmove((char *)base, base + 4, strlen(base + 4) + 1);
		int r = lr_build_whiteout(b, path, err);
		if (r < 0) {
			/* ".wh..." decodes to "..": name the member as the archive has it. */
			char member[LR_BUILD_EXAMPLE_MAX];
			lr_build_escape(raw, member, sizeof(member));
			return lr_error_prefix(err, "%s: member %s", what, member);
		}
		return 0;
	}

	const char *hardlink = archive_entry_hardlink(ae);
	if (hardlink) {
		_cleanup_free_ char *target = strdup(hardlink);
		if (!target)
			return lr_error_errno(err, ENOMEM, "%s", what);
		if (lr_path_normalise(target) < 0)
			return lr_error_set(err, EINVAL,
					    "%s: %s: hard link to %s: a \"..\" component", what,
					    raw, hardlink);
		int r = lr_build_link(b, path, target, err);
		return r < 0 ? lr_error_prefix(err, "%s", what) : 0;
	}

	mode_t type = archive_entry_filetype(ae);
	switch (type) {
	case AE_IFREG:
	case AE_IFDIR:
	case AE_IFLNK:
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK: break;
	default:
		return lr_error_set(err, EINVAL, "%s: %s: unknown file type 0%o", what, raw,
				    (unsigned)type);
	}
	la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return lr_error_set(err, EINVAL, "%s: %s: owner %lld:%lld out of range", what, raw,
				    (long long)uid, (long long)gid);
	struct lr_xattr xattrs[MAX_XATTRS];
	size_t n_xattrs = 0;
	archive_entry_xattr_reset(ae);
	const char *xname;
	const void *xvalue;
	size_t xlen;
	while (archive_entry_xattr_next(ae, &xname, &xvalue, &xlen) == ARCHIVE_OK) {
		if (!storable_xattr(xname))
			continue;
		if (n_xattrs == MAX_XATTRS)
			return lr_error_set(err, E2BIG, "%s: %s: more than %d xattrs", what, raw,
					    MAX_XATTRS);
		xattrs[n_xattrs++] = (struct lr_xattr){
			.name = (char *)xname, .value = (char *)xvalue, .len = xlen};
	}
	struct lr_sqw_entry e = {
		.path = path,
		.mode = type | (archive_entry_perm(ae) & 07777),
		.uid = (uint32_t)uid,
		.gid = (uint32_t)gid,
		.mtime = archive_entry_mtime(ae),
		.size = archive_entry_size_is_set(ae) ? (uint64_t)archive_entry_size(ae) : 0,
		.rdev_major = archive_entry_rdevmajor(ae),
		.rdev_minor = archive_entry_rdevminor(ae),
		.target = archive_entry_symlink(ae),
		.xattrs = xattrs,
		.n_xattrs = n_xattrs,
	};
	if (S_ISLNK(e.mode) && !e.target)
		return lr_error_set(err, EINVAL, "%s: %s: symbolic link without a target", what,
				    raw);
	struct tar_data t = {.a = a, .what = what, .path = raw};
	int r = lr_build_entry(b, &e, tar_read, &t, err);
	if (r < 0 && !strstr(err->msg, what))
		lr_error_prefix(err, "%s", what);
	return r;
}

int lr_src_tar(struct lr_build *b, struct archive *a, const char *what, struct lr_error *err)
{
	for (;;) {
		struct archive_entry *ae;
		int r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN) {
			const char *msg = archive_error_string(a);
			return lr_error_set(err, EIO, "%s: %s", what,
					    msg ? msg : "not a tar archive, or damaged");
		}
		if ((r = tar_entry(b, a, ae, what, err)) < 0)
			return r;
	}
}

/* ------------------------------------------------------------ directory */

struct inode_seen {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct walk {
	struct lr_build *b;
	const char *top;
	/* The directories from top down to the one walked: a bind mount can
	 * make a directory its own descendant, which a walk must not follow
	 * forever.  At most LR_SQUASH_MAX_DEPTH deep, as lr_squash_open()
	 * wants the layer. */
	struct {
		dev_t dev;
		ino_t ino;
	} up[LR_SQUASH_MAX_DEPTH + 1];
	size_t depth;
	uint64_t entries;
	struct inode_seen *links; /* files with more than one link, by inode */
	size_t n_links, cap_links;
	char path[PATH_MAX];
	char *names; /* scratch */
};

static int read_xattrs(const char *full, struct lr_xattr *out, size_t *n, char **names,
		       struct lr_error *err)
{
	*n = 0;
	*names = NULL;
	ssize_t len = llistxattr(full, NULL, 0);
	if (len <= 0)
		return 0; /* none, or a filesystem without xattrs */
	char *list = malloc((size_t)len);
	if (!list)
		return lr_error_errno(err, ENOMEM, "%s", full);
	len = llistxattr(full, list, (size_t)len);
	if (len < 0) {
		free(list);
		return lr_error_errno(err, errno, "%s: list xattrs", full);
	}
	*names = list;
	for (char *p = list; p < list + len; p += strlen(p) + 1) {
		if (!storable_xattr(p))
			continue;
		ssize_t vlen = lgetxattr(full, p, NULL, 0);
		if (vlen < 0) {
			if (errno == ENODATA || errno == EPERM || errno == EACCES)
				continue; /* trusted.* of someone else: not ours to copy */
			return lr_error_errno(err, errno, "%s: xattr %s", full, p);
		}
		if (*n == MAX_XATTRS)
			return lr_error_set(err, E2BIG, "%s: more than %d xattrs", full,
					    MAX_XATTRS);
		char *v = malloc(vlen ? (size_t)vlen : 1);
		if (!v)
			return lr_error_errno(err, ENOMEM, "%s", full);
		vlen = lgetxattr(full, p, v, (size_t)vlen);
		if (vlen < 0) {
			free(v);
			return lr_error_errno(err, errno, "%s: xattr %s", full, p);
		}
		out[(*n)++] = (struct lr_xattr){.name = p, .value = v, .len = (size_t)vlen};
	}
	return 0;
}

static long fd_read(void *ctx, void *buf, size_t len, struct lr_error *err)
{
	const int *fd = ctx;
	for (;;) {
		ssize_t n = read(*fd, buf, len);
		if (n >= 0)
			return (long)n;
		if (errno != EINTR)
			return lr_error_errno(err, errno, "read");
	}
}

static int by_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(struct walk *w, int dirfd, size_t len, struct lr_error *err);

/* One entry: w->path (relative, len bytes) named name in dirfd. */
static int walk_entry(struct walk *w, int dirfd, const char *name, size_t len, struct lr_error *err)
{
	char full[PATH_MAX + 1];
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", w->top, w->path) >= sizeof(full))
		return lr_error_set(err, ENAMETOOLONG, "%s/%s: path too long", w->top, w->path);
	struct stat st;
	if ((*name ? fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) : fstat(dirfd, &st)) < 0)
		return lr_error_errno(err, errno, "%s", full);
	if (++w->entries > LR_SQUASH_MAX_ENTRIES)
		return lr_error_set(err, E2BIG, "%s: more than %u entries (the limit of a layer)",
				    w->top, LR_SQUASH_MAX_ENTRIES);

	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		for (size_t i = 0; i < w->n_links; i++)
			if (w->links[i].dev == st.st_dev && w->links[i].ino == st.st_ino) {
				int r = lr_build_link(w->b, w->path, w->links[i].path, err);
				return r < 0 ? lr_error_prefix(err, "%s", w->top) : 0;
			}
		if (w->n_links == w->cap_links) {
			size_t cap = w->cap_links ? w->cap_links * 2 : 64;
			struct inode_seen *l = realloc(w->links, cap * sizeof(*l));
			if (!l)
				return lr_error_errno(err, ENOMEM, "%s", full);
			w->links = l;
			w->cap_links = cap;
		}
		char *copy = strdup(w->path);
		if (!copy)
			return lr_error_errno(err, ENOMEM, "%s", full);
		w->links[w->n_links++] = (struct inode_seen){st.st_dev, st.st_ino, copy};
	}

	struct lr_xattr xattrs[MAX_XATTRS];
	size_t n_xattrs = 0;
	_cleanup_free_ char *names = NULL;
	int r = read_xattrs(full, xattrs, &n_xattrs, &names, err);
	char target[PATH_MAX];
	_cleanup_close_ int fd = -1;
	if (r < 0)
		goto out;
	struct lr_sqw_entry e = {
		.path = w->path,
		.mode = st.st_mode & (S_IFMT | 07777),
		.uid = st.st_uid,
		.gid = st.st_gid,
		.mtime = st.st_mtim.tv_sec,
		.size = (uint64_t)st.st_size,
		.rdev_major = major(st.st_rdev),
		.rdev_minor = minor(st.st_rdev),
		.xattrs = xattrs,
		.n_xattrs = n_xattrs,
	};
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (n < 0) {
			r = lr_error_errno(err, errno, "%s", full);
			goto out;
		}
		target[n] = '\0';
		e.target = target;
	}
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		/* O_NONBLOCK: if the file was swapped for a FIFO since the
		 * fstatat(), the open must not wait for a writer; the fstat()
		 * then sees that it is no longer the file looked at. */
		int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
			    (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
		fd = *name ? openat(dirfd, name, flags) : dup(dirfd);
		struct stat now;
		if (fd < 0 || fstat(fd, &now) < 0) {
			r = lr_error_errno(err, errno, "%s", full);
			goto out;
		}
		if (now.st_dev != st.st_dev || now.st_ino != st.st_ino ||
		    (now.st_mode & S_IFMT) != (st.st_mode & S_IFMT)) {
			r = lr_error_set(err, EAGAIN, "%s: changed while being read", full);
			goto out;
		}
	}
	r = lr_build_entry(w->b, &e, fd_read, &fd, err);
	if (r < 0) {
		if (!strstr(err->msg, full))
			lr_error_prefix(err, "%s", full);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		for (size_t i = 0; i < w->depth; i++)
			if (w->up[i].dev == st.st_dev && w->up[i].ino == st.st_ino) {
				r = lr_error_set(
					err, ELOOP,
					"%s: a directory inside itself (a bind mount loop?)", full);
				goto out;
			}
		if (w->depth > LR_SQUASH_MAX_DEPTH) {
			r = lr_error_set(err, ELOOP, "%s: directories nested deeper than %d",
					 w->top, LR_SQUASH_MAX_DEPTH);
			goto out;
		}
		w->up[w->depth].dev = st.st_dev;
		w->up[w->depth].ino = st.st_ino;
		w->depth++;
		r = walk_dir(w, fd, len, err);
		w->depth--;
	}
out:
	for (size_t i = 0; i < n_xattrs; i++)
		free(xattrs[i].value);
	return r;
}

static int walk_dir(struct walk *w, int fd, size_t len, struct lr_error *err)
{
	int dfd = dup(fd);
	if (dfd < 0)
		return lr_error_errno(err, errno, "%s/%s", w->top, w->path);
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return lr_error_errno(err, errno, "%s/%s", w->top, w->path);
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **v = realloc(names, cap * sizeof(*v));
			if (!v) {
				r = lr_error_errno(err, ENOMEM, "%s", w->top);
				break;
			}
			names = v;
		}
		if (!(names[n] = strdup(de->d_name))) {
			r = lr_error_errno(err, ENOMEM, "%s", w->top);
			break;
		}
		n++;
	}
	if (!r && errno)
		r = lr_error_errno(err, errno, "%s/%s", w->top, w->path);
	closedir(d);
	qsort(names, n, sizeof(*names), by_strcmp);
	for (size_t i = 0; i < n && !r; i++) {
		size_t nl = strlen(names[i]);
		if (len + nl + 2 > sizeof(w->path)) {
			r = lr_error_set(err, ENAMETOOLONG, "%s/%s/%s: path too long", w->top,
					 w->path, names[i]);
			break;
		}
		size_t at = len;
		if (len)
			w->path[at++] = '/';
		memcpy(w->path + at, names[i], nl + 1);
		r = walk_entry(w, fd, names[i], at + nl, err);
		w->path[len] = '\0';
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int lr_src_dir(struct lr_build *b, const char *dir, struct lr_error *err)
{
	struct walk w = {.b = b, .top = dir};
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lr_error_errno(err, errno, "%s", dir);
	w.path[0] = '\0';
	int r = walk_entry(&w, fd, "", 0, err);
	for (size_t i = 0; i < w.n_links; i++)
		free(w.links[i].path);
	free(w.links);
	return r;
}
