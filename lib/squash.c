/* squash.c - reading a user's squashfs file with libsquashfuse.
 *
 * Runs as the user, in the user's own process: squashfs files named by users
 * are untrusted input and are parsed only here and in fuse_server.c, never
 * by the kernel (notes/security.md, invariant 5; Debian's libsquashfuse
 * 0.1.105 has known parser bugs, upstream squashfuse issues 153/154/158, so
 * it must never run with more rights than the user has).
 *
 * This is the one place where libsquashfuse's errors are translated.
 *
 * Not including build-config.h: libsquashfuse's public headers include
 * their own generated config.h, which defines PACKAGE_* too.
 */
#define _GNU_SOURCE 1

/* libsquashfuse's ll.h declares "void teardown_idle_timeout();" */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <squashfuse.h>
#include <ll.h>
#pragma GCC diagnostic pop

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "squash.h"

/* Decompressed data blocks kept per layer.  libsquashfuse caches
 * metadata and fragments but decompresses a data block again on every
 * read, and the kernel's FUSE reads (4 KiB page faults, 128 KiB readahead
 * windows that straddle blocks) hit the same block many times: measured
 * here, exec of busybox from a gzip layer decompressed ~2.5x the file.
 * 16 blocks of at most 1 MiB; allocated when first used. */
#define CACHE_BLOCKS 16

struct cached_block {
	bool valid;
	uint32_t inode; /* squashfs inode number */
	uint64_t index; /* block index within the file */
	size_t len;
	uint64_t used; /* LRU clock */
	char *data;
};

struct lr_squash {
	sqfs_ll ll; /* first: libsquashfuse_ll's handle, its fs inside */
	struct cached_block cache[CACHE_BLOCKS];
	uint64_t clock;
	/* Data blocks stored uncompressed (mksquashfs -noD): a read costs a
	 * copy from the image file, so the cache would only add a second copy
	 * and the page faults of its own buffers (measured: ~500 faults, the
	 * largest part of labrun's own start-up cost on such images). */
	bool data_uncompressed;
};

static const char *codec_name(unsigned c)
{
	switch (c) {
	case ZLIB_COMPRESSION: return "gzip";
	case LZMA_COMPRESSION: return "lzma";
	case LZO_COMPRESSION: return "lzo";
	case XZ_COMPRESSION: return "xz";
	case LZ4_COMPRESSION: return "lz4";
	case ZSTD_COMPRESSION: return "zstd";
	default: return "unknown";
	}
}

static bool codec_supported(unsigned c)
{
	sqfs_compression_type types[SQFS_COMP_MAX];
	sqfs_compression_supported(types);
	for (size_t i = 0; i < SQFS_COMP_MAX && types[i] != SQFS_COMP_UNKNOWN; i++)
		if ((unsigned)types[i] == c)
			return true;
	return false;
}

/* The superblock is checked by hand before libsquashfuse sees the file so
 * that the common mistakes get a message saying what is wrong instead of
 * libsquashfuse's bare "bad format": a file that is not a squashfs at all,
 * one cut short by an interrupted copy, one using a codec this build lacks. */
int lr_squash_check(int fd, struct lr_error *err)
{
	struct squashfs_super_block sb;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lr_error_errno(err, errno, "cannot stat");
	if (!S_ISREG(st.st_mode))
		return lr_error_set(err, EINVAL, "not a regular file");
	ssize_t n = pread(fd, &sb, sizeof(sb), 0);
	if (n < 0)
		return lr_error_errno(err, errno, "cannot read superblock");
	if (n < (ssize_t)sizeof(sb)) {
		if (st.st_size == 0)
			return lr_error_set(err, EINVAL, "not a squashfs file (empty)");
		return lr_error_set(
			err, EINVAL,
			"not a squashfs file (only %lld bytes, shorter than a superblock)",
			(long long)st.st_size);
	}
	if (le32toh(sb.s_magic) != SQUASHFS_MAGIC)
		return lr_error_set(err, EINVAL, "not a squashfs file (bad magic)");
	unsigned major = le16toh(sb.s_major), minor = le16toh(sb.s_minor);
	if (major != 4 || minor != 0)
		return lr_error_set(err, EINVAL, "unsupported squashfs version %u.%u (need 4.0)",
				    major, minor);
	uint32_t block_size = le32toh(sb.block_size);
	unsigned block_log = le16toh(sb.block_log);
	if (block_log < 12 || block_log > 20 || block_size != (1u << block_log))
		return lr_error_set(err, EINVAL, "corrupt squashfs superblock (block size %u)",
				    block_size);
	uint64_t used = le64toh(sb.bytes_used);
	if (used > (uint64_t)st.st_size)
		return lr_error_set(err, EINVAL,
				    "truncated squashfs: file is %lld bytes, superblock says %llu",
				    (long long)st.st_size, (unsigned long long)used);
	uint64_t tables[] = {le64toh(sb.inode_table_start), le64toh(sb.directory_table_start),
			     le64toh(sb.id_table_start)};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (tables[i] >= used)
			return lr_error_set(
				err, EINVAL,
				"corrupt squashfs superblock (table offset past the end)");
	unsigned codec = le16toh(sb.compression);
	if (!codec_supported(codec))
		return lr_error_set(
			err, ENOTSUP,
			"squashfs compressed with %s, which this libsquashfuse cannot read",
			codec_name(codec));
	return 0;
}

static int translate(sqfs_err e, struct lr_error *err, const char *what)
{
	switch (e) {
	case SQFS_OK: return 0;
	case SQFS_BADFORMAT: return lr_error_set(err, EINVAL, "%s: not a squashfs file", what);
	case SQFS_BADVERSION:
		return lr_error_set(err, EINVAL, "%s: unsupported squashfs version", what);
	case SQFS_BADCOMP: return lr_error_set(err, ENOTSUP, "%s: unsupported compression", what);
	case SQFS_UNSUP:
		return lr_error_set(err, ENOTSUP, "%s: unsupported squashfs feature", what);
	default: return lr_error_set(err, EIO, "%s: corrupt squashfs (read error)", what);
	}
}

int lr_squash_open(int fd, struct lr_squash **out, struct lr_error *err)
{
	struct lr_squash *sq = calloc(1, sizeof(*sq));
	if (!sq)
		return lr_error_errno(err, ENOMEM, "open squashfs");
	int r = translate(sqfs_init(&sq->ll.fs, fd, 0), err, "open");
	if (r < 0) {
		free(sq);
		return r;
	}
	sq->data_uncompressed = sq->ll.fs.sb.flags & (1 << SQUASHFS_NOD);
	r = translate(sqfs_ll_init(&sq->ll), err, "index");
	if (r < 0) {
		sqfs_destroy(&sq->ll.fs);
		free(sq);
		return r;
	}
	*out = sq;
	return 0;
}

void lr_squash_free(struct lr_squash *sq)
{
	if (!sq)
		return;
	for (size_t i = 0; i < CACHE_BLOCKS; i++)
		if (sq->cache[i].data)
			munmap(sq->cache[i].data, sq->ll.fs.sb.block_size);
	sqfs_ll_destroy(&sq->ll); /* destroys the fs too; the fd stays the caller's */
	free(sq);
}

/* The namespace prefix of an xattr as squashfs stores it.  Not
 * libsquashfuse's sqfs_xattr_name(..., true): Debian's 0.1.105 swaps
 * "trusted." and "security." (squashfuse issue 78, fixed upstream). */
static const char *xattr_prefix(const sqfs_xattr *x)
{
	switch (x->type) {
	case SQUASHFS_XATTR_USER: return "user.";
	case SQUASHFS_XATTR_TRUSTED: return "trusted.";
	case SQUASHFS_XATTR_SECURITY: return "security.";
	default: return NULL;
	}
}

/* Call fn(ctx, full name, value, len) for each xattr of inode; stops at
 * fn's non-zero return.  -EIO on a corrupt table. */
static int xattr_each(sqfs *fs, sqfs_inode *inode,
		      int (*fn)(void *ctx, const char *name, const char *value, size_t len),
		      void *ctx)
{
	if (fs->sb.xattr_id_table_start == (uint64_t)SQUASHFS_INVALID_BLK ||
	    inode->xattr == SQUASHFS_INVALID_XATTR)
		return 0;
	sqfs_xattr x;
	if (sqfs_xattr_open(fs, inode, &x) != SQFS_OK || x.remain > 4096)
		return -EIO;
	char name[300];
	char *value = NULL;
	int r = 0;
	while (r == 0 && x.remain > 0) {
		size_t nlen, vlen;
		const char *prefix;
		/* The name's own length: sqfs_xattr_name_size() adds the length
		 * of the (wrong) prefix. */
		if (sqfs_xattr_read(&x) != SQFS_OK || !(prefix = xattr_prefix(&x)) ||
		    (nlen = x.entry.size) > 255 || sqfs_xattr_value_size(&x, &vlen) != SQFS_OK ||
		    vlen > 65536) {
			r = -EIO;
			break;
		}
		size_t plen = strlen(prefix);
		memcpy(name, prefix, plen);
		char *nv = realloc(value, vlen ? vlen : 1);
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		value = nv;
		if (sqfs_xattr_name(&x, name + plen, false) != SQFS_OK ||
		    sqfs_xattr_value(&x, value) != SQFS_OK) {
			r = -EIO;
			break;
		}
		name[plen + nlen] = '\0';
		r = fn(ctx, name, value, vlen);
	}
	free(value);
	return r;
}

struct xattr_find {
	const char *name;
	char *buf;
	size_t size, len;
	bool found;
};

static int find_one(void *ctx, const char *name, const char *value, size_t len)
{
	struct xattr_find *f = ctx;
	if (strcmp(name, f->name))
		return 0;
	f->found = true;
	f->len = len;
	if (f->buf && len <= f->size)
		memcpy(f->buf, value, len);
	return 1;
}

static bool is_opaque(sqfs *fs, sqfs_inode *inode)
{
	static const char *const names[] = {"user.overlay.opaque", "trusted.overlay.opaque"};
	for (size_t i = 0; i < 2; i++) {
		char v[8];
		struct xattr_find f = {.name = names[i], .buf = v, .size = sizeof(v)};
		if (xattr_each(fs, inode, find_one, &f) >= 0 && f.found && f.len == 1 &&
		    v[0] == 'y')
			return true;
	}
	return false;
}

long lr_squash_getxattr(struct lr_squash *sq, uint64_t ino, const char *name, char *buf,
			size_t size)
{
	sqfs_inode inode;
	if (sqfs_ll_inode(&sq->ll, &inode, (fuse_ino_t)ino) != SQFS_OK)
		return -ENOENT;
	struct xattr_find f = {.name = name, .buf = buf, .size = size};
	int r = xattr_each(&sq->ll.fs, &inode, find_one, &f);
	if (r < 0)
		return r;
	if (!f.found)
		return -ENODATA;
	if (size && f.len > size)
		return -ERANGE;
	return (long)f.len;
}

struct xattr_names {
	char *buf;
	size_t size, len;
};

static int add_name(void *ctx, const char *name, const char *value, size_t len)
{
	(void)value;
	(void)len;
	struct xattr_names *n = ctx;
	size_t l = strlen(name) + 1;
	if (n->buf && n->len + l <= n->size)
		memcpy(n->buf + n->len, name, l);
	n->len += l;
	return 0;
}

long lr_squash_listxattr(struct lr_squash *sq, uint64_t ino, char *buf, size_t size)
{
	sqfs_inode inode;
	if (sqfs_ll_inode(&sq->ll, &inode, (fuse_ino_t)ino) != SQFS_OK)
		return -ENOENT;
	struct xattr_names n = {.buf = size ? buf : NULL, .size = size};
	int r = xattr_each(&sq->ll.fs, &inode, add_name, &n);
	if (r < 0)
		return r;
	if (size && n.len > size)
		return -ERANGE;
	return (long)n.len;
}

/* path's inode; 0 when there is none, also when a parent on the way is
 * not a directory (a whiteout or a file of this layer hiding the rest). */
static int lookup(sqfs *fs, const char *path, sqfs_inode *inode, struct lr_error *err)
{
	int r = translate(sqfs_inode_get(fs, inode, sqfs_inode_root(fs)), err, "root directory");
	if (r < 0)
		return r;
	char name[SQUASHFS_NAME_LEN + 1];
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 0)
			break;
		if (len > SQUASHFS_NAME_LEN || !S_ISDIR(inode->base.mode))
			return 0;
		memcpy(name, p, len);
		name[len] = '\0';
		bool found = false;
		if ((r = translate(sqfs_lookup_path(fs, inode, name, &found), err, path)) < 0)
			return r;
		if (!found)
			return 0;
		p += len;
	}
	return 1;
}

int lr_squash_kind(struct lr_squash *sq, const char *path, struct lr_error *err)
{
	sqfs *fs = &sq->ll.fs;
	sqfs_inode inode;
	int r = lookup(fs, path, &inode, err);
	if (r <= 0)
		return r < 0 ? r : LR_SQUASH_ABSENT;
	mode_t m = inode.base.mode;
	if (S_ISREG(m))
		return LR_SQUASH_FILE;
	if (S_ISDIR(m))
		return is_opaque(fs, &inode) ? LR_SQUASH_OPAQUE_DIR : LR_SQUASH_DIR;
	if (S_ISCHR(m) && inode.xtra.dev.major == 0 && inode.xtra.dev.minor == 0)
		return LR_SQUASH_WHITEOUT;
	return LR_SQUASH_OTHER;
}

int lr_squash_read_file(struct lr_squash *sq, const char *path, size_t max, char **buf, size_t *len,
			struct lr_error *err)
{
	sqfs *fs = &sq->ll.fs;
	sqfs_inode inode;
	int r = lookup(fs, path, &inode, err);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	if (!S_ISREG(inode.base.mode))
		return lr_error_set(err, EINVAL, "%s: not a regular file", path);
	uint64_t size = inode.xtra.reg.file_size;
	if (size > max)
		return lr_error_set(err, EFBIG, "%s: %llu bytes, more than the limit of %zu", path,
				    (unsigned long long)size, max);
	char *data = malloc(size + 1);
	if (!data)
		return lr_error_errno(err, ENOMEM, "%s", path);
	sqfs_off_t got = (sqfs_off_t)size;
	r = translate(sqfs_read_range(fs, &inode, 0, &got, data), err, path);
	if (r == 0 && (uint64_t)got != size)
		r = lr_error_set(err, EIO, "%s: short read (corrupt squashfs)", path);
	if (r < 0) {
		free(data);
		return r;
	}
	data[size] = '\0';
	*buf = data;
	*len = size;
	return 0;
}

/* The block of the file holding pos, from the cache or decompressed. */
static struct cached_block *block_at(struct lr_squash *sq, sqfs_inode *inode, uint64_t index)
{
	uint32_t ino = inode->base.inode_number;
	struct cached_block *victim = &sq->cache[0];
	for (size_t i = 0; i < CACHE_BLOCKS; i++) {
		struct cached_block *b = &sq->cache[i];
		if (b->valid && b->inode == ino && b->index == index) {
			b->used = ++sq->clock;
			return b;
		}
		if (!b->valid || b->used < victim->used)
			victim = b;
	}
	size_t bs = sq->ll.fs.sb.block_size;
	if (!victim->data) {
		/* Populated at once: one system call instead of a page fault
		 * per 4 KiB on first touch (measured: lz4 busybox /bin/true
		 * 11.5 ms -> 10.7 ms; page faults are dear in a VM). */
		void *m = mmap(NULL, bs, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		victim->data = m;
	}
	uint64_t start = index * bs, size = inode->xtra.reg.file_size;
	sqfs_off_t len = (sqfs_off_t)(size - start < bs ? size - start : bs);
	victim->valid = false;
	if (sqfs_read_range(&sq->ll.fs, inode, (sqfs_off_t)start, &len, victim->data) != SQFS_OK)
		return NULL;
	*victim = (struct cached_block){.valid = true,
					.inode = ino,
					.index = index,
					.len = (size_t)len,
					.used = ++sq->clock,
					.data = victim->data};
	return victim;
}

int lr_squash_verify(struct lr_squash *sq, uint64_t *entries, uint64_t *bytes, struct lr_error *err)
{
	sqfs *fs = &sq->ll.fs;
	sqfs_traverse trv;
	int r = translate(sqfs_traverse_open(&trv, fs, sqfs_inode_root(fs)), err, "walk /");
	if (r < 0)
		return r;
	size_t bs = fs->sb.block_size;
	char *buf = malloc(bs);
	if (!buf) {
		sqfs_traverse_close(&trv);
		return lr_error_errno(err, ENOMEM, "walk");
	}
	sqfs_err e = SQFS_OK;
	while (r == 0 && sqfs_traverse_next(&trv, &e)) {
		if (trv.dir_end)
			continue;
		sqfs_inode inode;
		if (sqfs_inode_get(fs, &inode, sqfs_dentry_inode(&trv.entry)) != SQFS_OK) {
			r = lr_error_set(err, EIO, "/%s: corrupt inode", trv.path);
			break;
		}
		(*entries)++;
		if (!S_ISREG(inode.base.mode))
			continue;
		uint64_t size = inode.xtra.reg.file_size;
		for (uint64_t off = 0; off < size; off += bs) {
			sqfs_off_t len = (sqfs_off_t)(size - off < bs ? size - off : bs);
			if (sqfs_read_range(fs, &inode, (sqfs_off_t)off, &len, buf) != SQFS_OK ||
			    len <= 0) {
				r = lr_error_set(err, EIO, "/%s: corrupt data at byte %llu",
						 trv.path, (unsigned long long)off);
				break;
			}
			*bytes += (uint64_t)len;
		}
	}
	if (r == 0 && e != SQFS_OK)
		r = translate(e, err, "walk");
	sqfs_traverse_close(&trv);
	free(buf);
	return r;
}

bool lr_squash_has_xattrs(const struct lr_squash *sq)
{
	return sq->ll.fs.sb.xattr_id_table_start != (uint64_t)SQUASHFS_INVALID_BLK;
}

int lr_squash_read(struct lr_squash *sq, uint64_t ino, uint64_t off, size_t size, char *buf,
		   const char **direct, size_t *got)
{
	sqfs_inode ibuf, *inode = &ibuf;
	if (sqfs_ll_inode(&sq->ll, inode, (fuse_ino_t)ino) != SQFS_OK)
		return -ENOENT;
	if (!S_ISREG(inode->base.mode))
		return -EISDIR;
	uint64_t fsize = inode->xtra.reg.file_size;
	size_t bs = sq->ll.fs.sb.block_size;
	*direct = NULL;
	*got = 0;
	if (off >= fsize)
		return 0;
	if (size > fsize - off)
		size = (size_t)(fsize - off);
	if (sq->data_uncompressed) {
		sqfs_off_t len = (sqfs_off_t)size;
		if (sqfs_read_range(&sq->ll.fs, inode, (sqfs_off_t)off, &len, buf) != SQFS_OK)
			return -EIO;
		*got = (size_t)len;
		return 0;
	}
	size_t done = 0;
	while (done < size) {
		uint64_t pos = off + done;
		struct cached_block *b = block_at(sq, inode, pos / bs);
		if (!b)
			return -EIO;
		size_t in = (size_t)(pos % bs);
		if (in >= b->len)
			break;
		size_t n = b->len - in < size - done ? b->len - in : size - done;
		if (done == 0 && n == size) {
			*direct = b->data + in; /* the whole answer is in one block */
			*got = n;
			return 0;
		}
		memcpy(buf + done, b->data + in, n);
		done += n;
	}
	*got = done;
	return 0;
}

void *lr_squash_ll(struct lr_squash *sq)
{
	return &sq->ll;
}

/* ------------------------------------------------------------ walking */

void lr_xattrs_free(struct lr_xattr *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

bool lr_xattr_is_overlay(const char *name)
{
	return !strncmp(name, "user.overlay.", 13) || !strncmp(name, "trusted.overlay.", 16);
}

bool lr_xattr_is_opaque(const struct lr_xattr *x)
{
	return lr_xattr_is_overlay(x->name) && strstr(x->name, ".opaque") && x->len == 1 &&
	       x->value[0] == 'y';
}

int lr_xattr_push(struct lr_xattr **v, size_t *n, const struct lr_xattr *x)
{
	struct lr_xattr *nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	struct lr_xattr *e = &nv[*n];
	e->name = strdup(x->name);
	e->value = malloc(x->len ? x->len : 1);
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		return -ENOMEM;
	}
	memcpy(e->value, x->value, x->len);
	e->len = x->len;
	(*n)++;
	return 0;
}

struct xattr_collect {
	struct lr_xattr *v;
	size_t n;
};

static int collect(void *ctx, const char *name, const char *value, size_t len)
{
	struct xattr_collect *c = ctx;
	const struct lr_xattr x = {.name = (char *)name, .value = (char *)value, .len = len};
	return lr_xattr_push(&c->v, &c->n, &x);
}

/* All of inode's xattrs, names with their prefix. */
static int walk_xattrs(sqfs *fs, sqfs_inode *inode, struct lr_xattr **out, size_t *n)
{
	struct xattr_collect c = {0};
	int r = xattr_each(fs, inode, collect, &c);
	if (r < 0) {
		lr_xattrs_free(c.v, c.n);
		return r;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}

static int walk_one(sqfs *fs, sqfs_inode_id id, const char *path,
		    int (*fn)(void *, const struct lr_squash_entry *, struct lr_error *), void *ctx,
		    struct lr_error *err)
{
	sqfs_inode inode;
	if (sqfs_inode_get(fs, &inode, id) != SQFS_OK)
		return lr_error_set(err, EIO, "/%s: corrupt inode", path);
	struct lr_squash_entry e = {.path = path, .mode = inode.base.mode, .id = (uint64_t)id};
	sqfs_id_t uid, gid;
	if (sqfs_id_get(fs, inode.base.uid, &uid) != SQFS_OK ||
	    sqfs_id_get(fs, inode.base.guid, &gid) != SQFS_OK)
		return lr_error_set(err, EIO, "/%s: corrupt owner", path);
	e.uid = uid;
	e.gid = gid;
	e.mtime = inode.base.mtime;
	char *target = NULL;
	if (S_ISREG(e.mode))
		e.size = inode.xtra.reg.file_size;
	else if (S_ISCHR(e.mode) || S_ISBLK(e.mode)) {
		e.rdev_major = (uint32_t)inode.xtra.dev.major;
		e.rdev_minor = (uint32_t)inode.xtra.dev.minor;
	} else if (S_ISLNK(e.mode)) {
		size_t len = 0;
		if (sqfs_readlink(fs, &inode, NULL, &len) != SQFS_OK || len > 65536)
			return lr_error_set(err, EIO, "/%s: corrupt symbolic link", path);
		target = malloc(len + 1);
		len++;
		if (!target)
			return lr_error_errno(err, ENOMEM, "/%s", path);
		if (sqfs_readlink(fs, &inode, target, &len) != SQFS_OK) {
			free(target);
			return lr_error_set(err, EIO, "/%s: corrupt symbolic link", path);
		}
		e.target = target;
	}
	struct lr_xattr *xattrs;
	int r = walk_xattrs(fs, &inode, &xattrs, &e.n_xattrs);
	if (r < 0) {
		free(target);
		return lr_error_errno(err, -r, "/%s: extended attributes", path);
	}
	e.xattrs = xattrs;
	r = fn(ctx, &e, err);
	lr_xattrs_free(xattrs, e.n_xattrs);
	free(target);
	return r;
}

int lr_squash_walk(struct lr_squash *sq,
		   int (*fn)(void *ctx, const struct lr_squash_entry *e, struct lr_error *err),
		   void *ctx, struct lr_error *err)
{
	sqfs *fs = &sq->ll.fs;
	int r = walk_one(fs, sqfs_inode_root(fs), "", fn, ctx, err);
	if (r)
		return r;
	sqfs_traverse trv;
	if ((r = translate(sqfs_traverse_open(&trv, fs, sqfs_inode_root(fs)), err, "walk /")) < 0)
		return r;
	sqfs_err e = SQFS_OK;
	while (!r && sqfs_traverse_next(&trv, &e))
		if (!trv.dir_end)
			r = walk_one(fs, sqfs_dentry_inode(&trv.entry), trv.path, fn, ctx, err);
	if (!r && e != SQFS_OK)
		r = translate(e, err, "walk");
	sqfs_traverse_close(&trv);
	return r;
}

long lr_squash_pread(struct lr_squash *sq, uint64_t id, uint64_t off, void *buf, size_t len)
{
	sqfs *fs = &sq->ll.fs;
	sqfs_inode inode;
	if (sqfs_inode_get(fs, &inode, (sqfs_inode_id)id) != SQFS_OK)
		return -EIO;
	if (!S_ISREG(inode.base.mode))
		return -EISDIR;
	uint64_t size = inode.xtra.reg.file_size;
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	sqfs_off_t got = (sqfs_off_t)len;
	if (sqfs_read_range(fs, &inode, (sqfs_off_t)off, &got, buf) != SQFS_OK)
		return -EIO;
	return (long)got;
}
