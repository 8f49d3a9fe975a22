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
#include <limits.h>
#include <stdio.h>
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
	uint64_t dir_end; /* the directory table ends before this */
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

/* What the file at fd is, when it is not a regular file: "a FIFO". */
static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFLNK: return "a symbolic link";
	default: return "not a regular file";
	}
}

int lr_squash_check_type(int fd, struct stat *st, struct lr_error *err)
{
	if (fstat(fd, st) < 0)
		return lr_error_errno(err, errno, "cannot stat");
	if (!S_ISREG(st->st_mode))
		return lr_error_set(err, S_ISDIR(st->st_mode) ? EISDIR : EINVAL,
				    "is %s, not a squashfs file", type_name(st->st_mode));
	return 0;
}

/* The size in bytes of the block pointers of a table of count entries of
 * each bytes (libsquashfuse's sqfs_table_init reads that many). */
static uint64_t index_bytes(uint64_t count, uint64_t each)
{
	return (count * each + SQUASHFS_METADATA_SIZE - 1) / SQUASHFS_METADATA_SIZE * 8;
}

/* The block pointers of a table at start (index_bytes(count, each) long,
 * already known to lie inside the file) must each point at a metadata block
 * after the directory table's start and before the pointers themselves:
 * where every writer puts a table's blocks.  libsquashfuse follows them
 * unchecked. */
static int check_pointers(int fd, const char *what, uint64_t start, uint64_t count, uint64_t each,
			  uint64_t low, struct lr_error *err)
{
	uint64_t n = index_bytes(count, each) / 8;
	uint64_t chunk[512];
	for (uint64_t i = 0; i < n;) {
		size_t k = n - i < 512 ? (size_t)(n - i) : 512;
		if (pread(fd, chunk, k * 8, (off_t)(start + i * 8)) != (ssize_t)(k * 8))
			return lr_error_set(err, EIO, "corrupt squashfs: cannot read the %s", what);
		for (size_t j = 0; j < k; j++) {
			uint64_t p = le64toh(chunk[j]);
			if (p < low || p + 2 > start)
				return lr_error_set(err, EINVAL,
						    "corrupt squashfs: the %s points at byte %llu, "
						    "outside its table",
						    what, (unsigned long long)p);
		}
		i += k;
	}
	return 0;
}

/* The superblock is checked by hand before libsquashfuse sees the file.
 * First so that the common mistakes get a message saying what is wrong
 * instead of libsquashfuse's bare "bad format": a file that is not a
 * squashfs at all, one cut short by an interrupted copy, one using a codec
 * this build lacks.  Then because libsquashfuse 0.1.105 trusts every count
 * and offset in it (upstream squashfuse issues 153 and 154): an id count of
 * 0, a fragment count smaller than the fragments in use, a table start
 * past the end all made labrun read outside its buffers.  So every count
 * and table start is bounded here by the file's size and by the others, in
 * the order every writer lays a squashfs out: superblock, data, inode
 * table, directory table, then the fragment, export, id and xattr tables,
 * each as metadata blocks followed by their block pointers. */
int lr_squash_check(int fd, struct lr_error *err)
{
	struct squashfs_super_block sb;
	struct stat st;
	int r = lr_squash_check_type(fd, &st, err);
	if (r < 0)
		return r;
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
		return lr_error_set(err, EINVAL,
				    "corrupt squashfs superblock (block size %u, block log %u)",
				    block_size, block_log);
	uint64_t used = le64toh(sb.bytes_used);
	if (used > (uint64_t)st.st_size)
		return lr_error_set(err, EINVAL,
				    "truncated squashfs: file is %lld bytes, superblock says %llu",
				    (long long)st.st_size, (unsigned long long)used);
	unsigned codec = le16toh(sb.compression);
	if (!codec_supported(codec))
		return lr_error_set(
			err, ENOTSUP,
			"squashfs compressed with %s, which this libsquashfuse cannot read",
			codec_name(codec));
#define BAD(...) lr_error_set(err, EINVAL, "corrupt squashfs superblock: " __VA_ARGS__)
	uint32_t inodes = le32toh(sb.inodes), fragments = le32toh(sb.fragments);
	unsigned ids = le16toh(sb.no_ids);
	if (inodes == 0)
		return BAD("inode count 0 (there is always a root directory)");
	if (ids == 0)
		return BAD("id count 0 (every file's owner is an entry of the id table)");
	uint64_t inode_start = le64toh(sb.inode_table_start);
	uint64_t dir_start = le64toh(sb.directory_table_start);
	if (inode_start < sizeof(sb) || inode_start >= used)
		return BAD("inode table start %llu outside the file's %llu bytes",
			   (unsigned long long)inode_start, (unsigned long long)used);
	if (dir_start <= inode_start || dir_start >= used)
		return BAD("directory table start %llu not between the inode table start %llu "
			   "and the end %llu",
			   (unsigned long long)dir_start, (unsigned long long)inode_start,
			   (unsigned long long)used);
	uint64_t root = le64toh(sb.root_inode);
	if ((root >> 16) >= dir_start - inode_start || (root & 0xffff) >= SQUASHFS_METADATA_SIZE)
		return BAD("root inode reference %#llx outside the inode table",
			   (unsigned long long)root);
	/* The tables after the directory table: each one's block pointers
	 * (at its start) lie inside the file, and point between the
	 * directory table and themselves. */
	struct {
		const char *what;
		uint64_t start, count, each;
		bool present;
	} tables[] = {
		{"id table", le64toh(sb.id_table_start), ids, 4, true},
		{"fragment table", le64toh(sb.fragment_table_start), fragments,
		 sizeof(struct squashfs_fragment_entry), fragments > 0},
		{"export table", le64toh(sb.lookup_table_start), inodes, 8,
		 le64toh(sb.lookup_table_start) != (uint64_t)SQUASHFS_INVALID_BLK},
		{"xattr table", le64toh(sb.xattr_id_table_start), 0, 16,
		 le64toh(sb.xattr_id_table_start) != (uint64_t)SQUASHFS_INVALID_BLK},
	};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (!tables[i].present)
			continue;
		uint64_t start = tables[i].start, at = start;
		if (i == 3) {
			/* The xattr id table: a header (where the key/value
			 * table starts, how many ids), then the pointers. */
			struct squashfs_xattr_id_table x;
			if (start < dir_start || start > used || used - start < sizeof(x))
				return BAD("xattr table start %llu outside the file",
					   (unsigned long long)start);
			if (pread(fd, &x, sizeof(x), (off_t)start) != (ssize_t)sizeof(x))
				return lr_error_set(err, EIO, "cannot read the xattr table");
			uint64_t kv = le64toh(x.xattr_table_start);
			if (kv < dir_start || kv >= start)
				return BAD("xattr key/value table start %llu outside the file",
					   (unsigned long long)kv);
			tables[i].count = le32toh(x.xattr_ids);
			at = start + sizeof(x);
		}
		if (start < dir_start || at > used ||
		    index_bytes(tables[i].count, tables[i].each) > used - at)
			return BAD("%s start %llu (%llu entries) outside the file's %llu bytes",
				   tables[i].what, (unsigned long long)start,
				   (unsigned long long)tables[i].count, (unsigned long long)used);
		r = check_pointers(fd, tables[i].what, at, tables[i].count, tables[i].each,
				   dir_start, err);
		if (r < 0)
			return r;
	}
#undef BAD
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

/* ------------------------------------------------------------ structure
 *
 * libsquashfuse 0.1.105 follows what the image says without checking it:
 * a directory entry's name length (a 64 KiB copy into a 257-byte buffer,
 * squashfuse issue 153), table indices (issue 154), a metadata offset past
 * its block (a negative length to memcpy), a fragment offset past the
 * fragment (heap bytes in file data, issue 158), directory entries that
 * lead back to a directory (an endless walk).  Rather than patch a
 * library the distribution ships, lr_squash_open() reads every inode and
 * every directory listing once, with its own bounds-checked reader, before
 * anything else may use the layer: the same bytes libsquashfuse later reads
 * are then known to be sound, and what it does unchecked cannot go wrong.
 * The file is the user's own and may change under us; that can only crash
 * the user's own process (notes/security.md invariant 5).
 */

/* Read size bytes at cur from the metadata table ending at end, as
 * sqfs_md_read() does, but refusing an offset past a block's end. */
static int md_read(sqfs *fs, sqfs_md_cursor *cur, uint64_t end, void *buf, size_t size)
{
	while (size > 0) {
		if (cur->block < 0 || (uint64_t)cur->block >= end)
			return -EIO;
		sqfs_off_t pos = cur->block;
		sqfs_block *block;
		if (sqfs_md_cache(fs, &pos, &block) != SQFS_OK)
			return -EIO;
		if ((size_t)cur->offset > block->size)
			return -EIO;
		size_t take = block->size - (size_t)cur->offset;
		if (take > size)
			take = size;
		if (buf) {
			memcpy(buf, (char *)block->data + cur->offset, take);
			buf = (char *)buf + take;
		}
		size -= take;
		cur->offset += take;
		if ((size_t)cur->offset == block->size) {
			cur->block = pos;
			cur->offset = 0;
		}
	}
	return 0;
}

/* A set of 64-bit values (directory inode references already walked). */
struct refset {
	uint64_t *v; /* 0 = empty slot: references are stored + 1 */
	size_t cap, n;
};

/* 1 when ref was there already, 0 when added, -ENOMEM. */
static int refset_add(struct refset *s, uint64_t ref)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint64_t *v = calloc(cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i])
				for (size_t h = (s->v[i] * 0x9e3779b97f4a7c15ull) >> 20;; h++)
					if (!v[h & (cap - 1)]) {
						v[h & (cap - 1)] = s->v[i];
						break;
					}
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	uint64_t key = ref + 1;
	for (size_t h = (key * 0x9e3779b97f4a7c15ull) >> 20;; h++) {
		uint64_t *slot = &s->v[h & (s->cap - 1)];
		if (*slot == key)
			return 1;
		if (!*slot) {
			*slot = key;
			s->n++;
			return 0;
		}
	}
}

/* The type of a directory entry for an inode type: the basic one. */
static unsigned basic_type(unsigned t)
{
	return t > SQUASHFS_SOCKET_TYPE ? t - 7 : t;
}

/* Extended attributes of one inode at most, and a value's bytes at most
 * (what xattr_each() below serves). */
#define MAX_INODE_XATTRS 4096
#define MAX_XATTR_VALUE 65536

/* A position in the xattr key/value table, checked as md_read() wants. */
static bool xattr_cursor(const sqfs *fs, uint64_t ref, sqfs_md_cursor *cur)
{
	uint64_t kv = fs->xattr_info.xattr_table_start;
	if ((ref >> 16) >= fs->sb.xattr_id_table_start - kv ||
	    (ref & 0xffff) >= SQUASHFS_METADATA_SIZE)
		return false;
	*cur = (sqfs_md_cursor){.block = (sqfs_off_t)(kv + (ref >> 16)),
				.offset = (size_t)(ref & 0xffff)};
	return true;
}

/* The xattrs of entry idx of the xattr id table, read as libsquashfuse's
 * sqfs_xattr_* functions will (xattr_each()): names, values and
 * out-of-line values inside the key/value table, sizes bounded. */
static int xattrs_checked(sqfs *fs, uint32_t idx, const char **why)
{
	struct squashfs_xattr_id id;
	uint64_t end = fs->sb.xattr_id_table_start;
	sqfs_md_cursor cur;
	*why = "corrupt xattr table";
	if (sqfs_table_get(&fs->xattr_table, fs, idx, &id) != SQFS_OK ||
	    !xattr_cursor(fs, le64toh(id.xattr), &cur) || le32toh(id.count) > MAX_INODE_XATTRS)
		return -EIO;
	for (uint32_t i = 0; i < le32toh(id.count); i++) {
		struct squashfs_xattr_entry e;
		struct squashfs_xattr_val v;
		if (md_read(fs, &cur, end, &e, sizeof(e)) < 0)
			return -EIO;
		unsigned type = le16toh(e.type), nlen = le16toh(e.size);
		if ((type & ~(unsigned)(SQUASHFS_XATTR_VALUE_OOL | SQUASHFS_XATTR_PREFIX_MASK)) ||
		    (type & SQUASHFS_XATTR_PREFIX_MASK) > SQUASHFS_XATTR_SECURITY || nlen > 255 ||
		    md_read(fs, &cur, end, NULL, nlen) < 0 ||
		    md_read(fs, &cur, end, &v, sizeof(v)) < 0)
			return -EIO;
		if (type & SQUASHFS_XATTR_VALUE_OOL) {
			uint64_t ref;
			sqfs_md_cursor val;
			if (le32toh(v.vsize) != sizeof(ref) ||
			    md_read(fs, &cur, end, &ref, sizeof(ref)) < 0 ||
			    !xattr_cursor(fs, le64toh(ref), &val) ||
			    md_read(fs, &val, end, &v, sizeof(v)) < 0 ||
			    le32toh(v.vsize) > MAX_XATTR_VALUE ||
			    md_read(fs, &val, end, NULL, le32toh(v.vsize)) < 0)
				return -EIO;
		} else if (le32toh(v.vsize) > MAX_XATTR_VALUE ||
			   md_read(fs, &cur, end, NULL, le32toh(v.vsize)) < 0) {
			return -EIO;
		}
	}
	return 0;
}

/* Inode id read with every offset, index and size checked; then
 * libsquashfuse's sqfs_inode_get(), reading the same bytes, is safe.
 * files: two sets, the references of regular files whose block list was
 * checked already (hard links: a million entries for one file with a long
 * block list must not cost a million checks of it) and their inode
 * numbers; or NULL.  Returns 0 or -EIO (-ENOMEM) with *why
 * saying what is wrong. */
static int inode_checked(struct lr_squash *sq, sqfs_inode_id id, sqfs_inode *inode,
			 const char **why, struct refset *files)
{
	sqfs *fs = &sq->ll.fs;
	const struct squashfs_super_block *sb = &fs->sb;
	uint64_t istart = sb->inode_table_start, span = sb->directory_table_start - istart;
	*why = "inode reference outside the inode table";
	if ((id >> 16) >= span || (id & 0xffff) >= SQUASHFS_METADATA_SIZE)
		return -EIO;
	sqfs_md_cursor cur = {.block = (sqfs_off_t)(istart + (id >> 16)),
			      .offset = (size_t)(id & 0xffff)};
	union {
		struct squashfs_base_inode base;
		struct squashfs_reg_inode reg;
		struct squashfs_lreg_inode lreg;
		struct squashfs_dir_inode dir;
		struct squashfs_ldir_inode ldir;
		struct squashfs_symlink_inode sym;
		struct squashfs_dev_inode dev;
		struct squashfs_ldev_inode ldev;
		struct squashfs_ipc_inode ipc;
		struct squashfs_lipc_inode lipc;
	} u;
	*why = "corrupt inode table";
	if (md_read(fs, &cur, sb->directory_table_start, &u.base, sizeof(u.base)) < 0)
		return -EIO;
	unsigned type = le16toh(u.base.inode_type);
	static const size_t sizes[] = {
		[SQUASHFS_DIR_TYPE] = sizeof(u.dir),	  [SQUASHFS_REG_TYPE] = sizeof(u.reg),
		[SQUASHFS_SYMLINK_TYPE] = sizeof(u.sym),  [SQUASHFS_BLKDEV_TYPE] = sizeof(u.dev),
		[SQUASHFS_CHRDEV_TYPE] = sizeof(u.dev),	  [SQUASHFS_FIFO_TYPE] = sizeof(u.ipc),
		[SQUASHFS_SOCKET_TYPE] = sizeof(u.ipc),	  [SQUASHFS_LDIR_TYPE] = sizeof(u.ldir),
		[SQUASHFS_LREG_TYPE] = sizeof(u.lreg),	  [SQUASHFS_LSYMLINK_TYPE] = sizeof(u.sym),
		[SQUASHFS_LBLKDEV_TYPE] = sizeof(u.ldev), [SQUASHFS_LCHRDEV_TYPE] = sizeof(u.ldev),
		[SQUASHFS_LFIFO_TYPE] = sizeof(u.lipc),	  [SQUASHFS_LSOCKET_TYPE] = sizeof(u.lipc),
	};
	*why = "unknown inode type";
	if (type < 1 || type > SQUASHFS_LSOCKET_TYPE)
		return -EIO;
	*why = "corrupt inode table";
	if (md_read(fs, &cur, sb->directory_table_start, (char *)&u + sizeof(u.base),
		    sizes[type] - sizeof(u.base)) < 0)
		return -EIO;
	*why = "owner index past the id table (corrupt id table)";
	if (le16toh(u.base.uid) >= sb->no_ids || le16toh(u.base.guid) >= sb->no_ids)
		return -EIO;
	*why = "inode number out of range";
	uint32_t ino = le32toh(u.base.inode_number);
	if (ino < 1 || ino > sb->inodes)
		return -EIO;
	uint32_t xattr = SQUASHFS_INVALID_XATTR;
	switch (type) {
	case SQUASHFS_REG_TYPE:
	case SQUASHFS_LREG_TYPE: {
		bool l = type == SQUASHFS_LREG_TYPE;
		uint64_t size = l ? le64toh(u.lreg.file_size) : le32toh(u.reg.file_size);
		uint64_t start = l ? le64toh(u.lreg.start_block) : le32toh(u.reg.start_block);
		uint32_t frag = le32toh(l ? u.lreg.fragment : u.reg.fragment);
		uint32_t frag_off = le32toh(l ? u.lreg.offset : u.reg.offset);
		if (l)
			xattr = le32toh(u.lreg.xattr);
		uint64_t bs = sb->block_size, blocks = size / bs;
		if (frag == SQUASHFS_INVALID_FRAG) {
			blocks += size % bs != 0;
		} else {
			*why = "fragment index past the fragment table";
			if (frag >= sb->fragments)
				return -EIO;
			*why = "file data past the end of its fragment";
			if ((uint64_t)frag_off + size % bs > bs)
				return -EIO;
		}
		int seen = files ? refset_add(&files[0], id) : 0;
		*why = "out of memory";
		if (seen < 0)
			return -ENOMEM;
		if (seen)
			break;
		/* A file's inode number is the key of libsquashfuse's block
		 * index cache: a second file of the same number would be read
		 * with the first one's index, past its end. */
		int dup = files ? refset_add(&files[1], ino) : 0;
		if (dup < 0)
			return -ENOMEM;
		*why = "two files with one inode number";
		if (dup)
			return -EIO;
		/* Every data block inside the data area, none larger than a
		 * block: libsquashfuse reads them where the list says. */
		uint64_t at = start;
		for (uint64_t i = 0; i < blocks;) {
			uint32_t list[256];
			size_t k = blocks - i < 256 ? (size_t)(blocks - i) : 256;
			*why = "corrupt inode table (block list)";
			if (md_read(fs, &cur, sb->directory_table_start, list, k * 4) < 0)
				return -EIO;
			for (size_t j = 0; j < k; j++) {
				uint32_t len = le32toh(list[j]) & ~SQUASHFS_COMPRESSED_BIT_BLOCK;
				*why = "data block larger than the block size";
				if (len > bs)
					return -EIO;
				/* Not inside the superblock: libsquashfuse's block
				 * caches key blocks by offset and take 0 for an empty
				 * slot, so a block at 0 came back as NULL. */
				*why = "file data inside the superblock";
				if (len > 0 && at < sizeof(*sb))
					return -EIO;
				at += len;
			}
			i += k;
		}
		*why = "file data past the data area";
		if (at > sb->inode_table_start)
			return -EIO;
		break;
	}
	case SQUASHFS_DIR_TYPE:
	case SQUASHFS_LDIR_TYPE: {
		bool l = type == SQUASHFS_LDIR_TYPE;
		uint32_t block = le32toh(l ? u.ldir.start_block : u.dir.start_block);
		unsigned off = le16toh(l ? u.ldir.offset : u.dir.offset);
		if (l)
			xattr = le32toh(u.ldir.xattr);
		uint32_t size = l ? le32toh(u.ldir.file_size) : le16toh(u.dir.file_size);
		/* An empty directory's listing is never read (libsquashfuse
		 * stops at its size), wherever it says it starts. */
		*why = "directory listing outside the directory table";
		if (size > 3 && (block >= sq->dir_end - sb->directory_table_start ||
				 off >= SQUASHFS_METADATA_SIZE))
			return -EIO;
		break;
	}
	case SQUASHFS_SYMLINK_TYPE:
	case SQUASHFS_LSYMLINK_TYPE: {
		uint32_t len = le32toh(u.sym.symlink_size);
		*why = "symbolic link target longer than PATH_MAX";
		if (len >= LR_SQUASH_MAX_TARGET)
			return -EIO;
		*why = "corrupt inode table (symbolic link)";
		if (md_read(fs, &cur, sb->directory_table_start, NULL, len) < 0)
			return -EIO;
		if (type == SQUASHFS_LSYMLINK_TYPE &&
		    md_read(fs, &cur, sb->directory_table_start, &xattr, sizeof(xattr)) < 0)
			return -EIO;
		xattr = le32toh(xattr);
		break;
	}
	case SQUASHFS_LBLKDEV_TYPE:
	case SQUASHFS_LCHRDEV_TYPE: xattr = le32toh(u.ldev.xattr); break;
	case SQUASHFS_LFIFO_TYPE:
	case SQUASHFS_LSOCKET_TYPE: xattr = le32toh(u.lipc.xattr); break;
	default: break;
	}
	*why = "xattr index past the xattr table";
	if (xattr != SQUASHFS_INVALID_XATTR &&
	    sb->xattr_id_table_start != (uint64_t)SQUASHFS_INVALID_BLK &&
	    xattr >= fs->xattr_info.xattr_ids)
		return -EIO;
	if (xattr != SQUASHFS_INVALID_XATTR &&
	    sb->xattr_id_table_start != (uint64_t)SQUASHFS_INVALID_BLK &&
	    xattrs_checked(fs, xattr, why) < 0)
		return -EIO;
	*why = "corrupt inode";
	if (sqfs_inode_get(fs, inode, id) != SQFS_OK)
		return -EIO;
	return 0;
}

/* A walk over every entry of the layer (lr_squash_open() checks, verify,
 * lr_squash_walk()): the root first, each directory before what it holds,
 * names in squashfs order. */
typedef int (*walk_fn)(struct lr_squash *sq, void *ctx, const char *path, sqfs_inode *inode,
		       sqfs_inode_id id, struct lr_error *err);

struct tree_walk {
	struct lr_squash *sq;
	walk_fn fn;
	void *ctx;
	struct lr_error *err;
	struct refset dirs;	/* directory inodes walked */
	struct refset files[2]; /* regular files checked: references, numbers */
	uint64_t entries;
	char path[PATH_MAX]; /* relative to the root, no leading "/" */
};

/* Where a directory header was found: what a long directory's index
 * entries must point at. */
struct header_at {
	uint64_t listing_off; /* bytes into the listing */
	uint64_t block;	      /* relative to the directory table's start */
	size_t offset;
};

/* Why a directory entry's name cannot be served, or NULL. */
static const char *bad_name(const char *name, size_t len)
{
	if (memchr(name, '\0', len))
		return "holds a NUL byte";
	if (memchr(name, '/', len))
		return "holds a '/'";
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return "is reserved";
	return NULL;
}

/* A name for messages: printable, the rest as \xNN. */
static void show_name(char *out, size_t size, const char *name, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

static int walk_dir(struct tree_walk *t, const sqfs_inode *dir, size_t len, unsigned depth);

/* The long directory's index (lookups jump with it): each entry must name
 * a header of the listing exactly where it is, and a name that fits. */
static int check_index(struct tree_walk *t, const sqfs_inode *dir, const struct header_at *h,
		       size_t n_h)
{
	sqfs *fs = &t->sq->ll.fs;
	sqfs_md_cursor cur = dir->next;
	for (unsigned i = 0; i < dir->xtra.dir.idx_count; i++) {
		struct squashfs_dir_index idx;
		char name[SQUASHFS_NAME_LEN + 1];
		if (md_read(fs, &cur, fs->sb.directory_table_start, &idx, sizeof(idx)) < 0)
			goto bad;
		uint32_t size = le32toh(idx.size) + 1, at = le32toh(idx.index);
		uint32_t block = le32toh(idx.start_block);
		if (size > SQUASHFS_NAME_LEN ||
		    md_read(fs, &cur, fs->sb.directory_table_start, name, size) < 0)
			goto bad;
		size_t k = 0;
		while (k < n_h && h[k].listing_off != at)
			k++;
		if (k == n_h || h[k].block != block ||
		    h[k].offset != (dir->xtra.dir.offset + at) % SQUASHFS_METADATA_SIZE)
			goto bad;
	}
	return 0;
bad:
	return lr_error_set(t->err, EIO, "/%s: corrupt directory index", t->path);
}

/* The entries of directory dir, whose path is t->path (len bytes). */
static int walk_dir(struct tree_walk *t, const sqfs_inode *dir, size_t len, unsigned depth)
{
	struct lr_squash *sq = t->sq;
	sqfs *fs = &sq->ll.fs;
	if (depth > LR_SQUASH_MAX_DEPTH)
		return lr_error_set(t->err, ELOOP, "/%.64s...: directories nested deeper than %d",
				    t->path, LR_SQUASH_MAX_DEPTH);
	uint64_t total = dir->xtra.dir.dir_size <= 3 ? 0 : dir->xtra.dir.dir_size - 3;
	uint64_t off = 0, in_header = 0, n = 0;
	struct squashfs_dir_header hdr = {0};
	sqfs_md_cursor cur = {
		.block = (sqfs_off_t)(fs->sb.directory_table_start + dir->xtra.dir.start_block),
		.offset = dir->xtra.dir.offset};
	char prev[SQUASHFS_NAME_LEN + 1];
	size_t prev_len = 0;
	bool have_prev = false;
	struct header_at *h = NULL;
	size_t n_h = 0, cap_h = 0;
	int r = 0;
	for (;;) {
		if (in_header == 0) {
			/* Between headers the listing may end: where
			 * libsquashfuse stops too. */
			if (off >= total)
				break;
			if (dir->xtra.dir.idx_count) {
				if (n_h == cap_h) {
					size_t cap = cap_h ? cap_h * 2 : 16;
					struct header_at *nh = realloc(h, cap * sizeof(*nh));
					if (!nh) {
						r = lr_error_errno(t->err, ENOMEM, "/%s", t->path);
						break;
					}
					h = nh;
					cap_h = cap;
				}
				h[n_h++] = (struct header_at){
					off, (uint64_t)cur.block - fs->sb.directory_table_start,
					cur.offset};
			}
			if (md_read(fs, &cur, sq->dir_end, &hdr, sizeof(hdr)) < 0) {
				r = lr_error_set(t->err, EIO, "/%s: corrupt directory table",
						 t->path);
				break;
			}
			off += sizeof(hdr);
			in_header = (uint64_t)le32toh(hdr.count) + 1;
			if (in_header > 256) {
				r = lr_error_set(t->err, EIO,
						 "/%s: corrupt directory table (a header of %llu "
						 "entries)",
						 t->path, (unsigned long long)in_header);
				break;
			}
			continue;
		}
		struct squashfs_dir_entry e;
		char name[SQUASHFS_NAME_LEN + 1];
		if (md_read(fs, &cur, sq->dir_end, &e, sizeof(e)) < 0) {
			r = lr_error_set(t->err, EIO, "/%s: corrupt directory table", t->path);
			break;
		}
		in_header--;
		size_t nlen = (size_t)le16toh(e.size) + 1;
		off += sizeof(e) + nlen;
		if (nlen > SQUASHFS_NAME_LEN) {
			/* squashfuse issue 153: libsquashfuse copies it into a
			 * buffer of SQUASHFS_NAME_LEN + 1 bytes. */
			r = lr_error_set(t->err, EIO,
					 "/%s: an entry whose name is %zu bytes long (the limit is "
					 "%d)",
					 t->path, nlen, SQUASHFS_NAME_LEN);
			break;
		}
		if (md_read(fs, &cur, sq->dir_end, name, nlen) < 0) {
			r = lr_error_set(t->err, EIO, "/%s: corrupt directory table", t->path);
			break;
		}
		name[nlen] = '\0';
		char shown[4 * SQUASHFS_NAME_LEN + 8];
		show_name(shown, sizeof(shown), name, nlen);
		const char *why = bad_name(name, nlen);
		if (why) {
			r = lr_error_set(t->err, EINVAL,
					 "/%s: an entry named \"%s\", which %s (a corrupt or "
					 "hostile image)",
					 t->path, shown, why);
			break;
		}
		if (have_prev) {
			size_t l = prev_len < nlen ? prev_len : nlen;
			int c = memcmp(prev, name, l);
			if (c == 0)
				c = prev_len < nlen ? -1 : prev_len > nlen;
			if (c >= 0) {
				r = lr_error_set(t->err, EINVAL,
						 c == 0 ? "/%s: two entries named \"%s\""
							: "/%s: entries out of order at \"%s\" "
							  "(corrupt directory)",
						 t->path, shown);
				break;
			}
		}
		memcpy(prev, name, nlen);
		prev_len = nlen;
		have_prev = true;
		if (++n > LR_SQUASH_MAX_DIR_ENTRIES || ++t->entries > LR_SQUASH_MAX_ENTRIES) {
			r = lr_error_set(t->err, E2BIG,
					 n > LR_SQUASH_MAX_DIR_ENTRIES
						 ? "/%s: more than %llu entries in one directory"
						 : "/%s: more than %llu entries in the layer",
					 t->path,
					 n > LR_SQUASH_MAX_DIR_ENTRIES
						 ? (unsigned long long)LR_SQUASH_MAX_DIR_ENTRIES
						 : (unsigned long long)LR_SQUASH_MAX_ENTRIES);
			break;
		}
		size_t at = len + (len != 0);
		if (at + nlen + 1 > sizeof(t->path)) {
			r = lr_error_set(t->err, ENAMETOOLONG, "/%s/%s: path longer than %zu bytes",
					 t->path, shown, sizeof(t->path) - 1);
			break;
		}
		if (len)
			t->path[len] = '/';
		memcpy(t->path + at, name, nlen + 1);
		sqfs_inode_id id =
			((sqfs_inode_id)le32toh(hdr.start_block) << 16) + le16toh(e.offset);
		sqfs_inode inode;
		if (inode_checked(sq, id, &inode, &why, t->files) < 0) {
			r = lr_error_set(t->err, EIO, "/%s: %s", t->path, why);
			break;
		}
		if (basic_type(inode.base.inode_type) != le16toh(e.type)) {
			r = lr_error_set(t->err, EIO,
					 "/%s: the directory entry's type differs from the inode's",
					 t->path);
			break;
		}
		if (t->fn && (r = t->fn(sq, t->ctx, t->path, &inode, id, t->err)) != 0)
			break;
		if (S_ISDIR(inode.base.mode)) {
			int seen = refset_add(&t->dirs, id);
			if (seen) {
				r = seen < 0 ? lr_error_errno(t->err, ENOMEM, "/%s", t->path)
					     : lr_error_set(t->err, ELOOP,
							    "/%s: a directory reached twice (a "
							    "directory cycle)",
							    t->path);
				break;
			}
			if ((r = walk_dir(t, &inode, at + nlen, depth + 1)) != 0)
				break;
		}
		t->path[len] = '\0';
	}
	if (r == 0 && dir->xtra.dir.idx_count)
		r = check_index(t, dir, h, n_h);
	free(h);
	return r;
}

static int tree_walk(struct lr_squash *sq, walk_fn fn, void *ctx, struct lr_error *err)
{
	struct tree_walk *t = calloc(1, sizeof(*t));
	if (!t)
		return lr_error_errno(err, ENOMEM, "walk");
	*t = (struct tree_walk){.sq = sq, .fn = fn, .ctx = ctx, .err = err};
	sqfs *fs = &sq->ll.fs;
	sqfs_inode root;
	const char *why;
	sqfs_inode_id id = sqfs_inode_root(fs);
	int r = inode_checked(sq, id, &root, &why, NULL);
	if (r < 0)
		r = lr_error_set(err, EIO, "root directory: %s", why);
	else if (!S_ISDIR(root.base.mode))
		r = lr_error_set(err, EIO, "the root is not a directory");
	else if ((r = refset_add(&t->dirs, id)) < 0)
		r = lr_error_errno(err, ENOMEM, "walk");
	else if (!fn || (r = fn(sq, ctx, "", &root, id, err)) == 0)
		r = walk_dir(t, &root, 0, 1);
	free(t->dirs.v);
	free(t->files[0].v);
	free(t->files[1].v);
	free(t);
	return r;
}

/* libsquashfuse reads table entries with sqfs_table_get(), which trusts
 * each metadata block to hold all the entries it should: check that they
 * do, so that no entry is read past a block's end. */
static int check_table(sqfs *fs, const sqfs_table *tb, uint64_t count, size_t each,
		       const char *what, struct lr_error *err)
{
	uint64_t bytes = count * each;
	for (uint64_t i = 0; i * SQUASHFS_METADATA_SIZE < bytes; i++) {
		sqfs_off_t pos = (sqfs_off_t)tb->blocks[i];
		sqfs_block *block;
		uint64_t need = bytes - i * SQUASHFS_METADATA_SIZE;
		if (need > SQUASHFS_METADATA_SIZE)
			need = SQUASHFS_METADATA_SIZE;
		if (sqfs_md_cache(fs, &pos, &block) != SQFS_OK || block->size < need)
			return lr_error_set(err, EIO, "corrupt squashfs: %s block %llu", what,
					    (unsigned long long)i);
	}
	return 0;
}

static int check_tables(struct lr_squash *sq, struct lr_error *err)
{
	sqfs *fs = &sq->ll.fs;
	const struct squashfs_super_block *sb = &fs->sb;
	int r = check_table(fs, &fs->id_table, sb->no_ids, 4, "id table", err);
	if (r == 0 && sb->fragments)
		r = check_table(fs, &fs->frag_table, sb->fragments,
				sizeof(struct squashfs_fragment_entry), "fragment table", err);
	if (r == 0 && sqfs_export_ok(fs))
		r = check_table(fs, &fs->export_table, sb->inodes, 8, "export table", err);
	if (r == 0 && sb->xattr_id_table_start != (uint64_t)SQUASHFS_INVALID_BLK)
		r = check_table(fs, &fs->xattr_table, fs->xattr_info.xattr_ids,
				sizeof(struct squashfs_xattr_id), "xattr table", err);
	if (r < 0)
		return r;
	/* Every fragment inside the data area, none larger than a block. */
	for (uint32_t i = 0; i < sb->fragments; i++) {
		struct squashfs_fragment_entry f;
		if (sqfs_frag_entry(fs, &f, i) != SQFS_OK)
			return lr_error_set(err, EIO, "corrupt squashfs: fragment table");
		uint32_t size = f.size & ~SQUASHFS_COMPRESSED_BIT_BLOCK;
		if (size > sb->block_size || f.start_block < sizeof(*sb) ||
		    f.start_block + size > sb->inode_table_start)
			return lr_error_set(
				err, EIO, "corrupt squashfs: fragment %u outside the data area", i);
	}
	return 0;
}

/* Where the directory table ends at the latest: the first of the tables
 * that follow it. */
static uint64_t directory_end(const struct squashfs_super_block *sb)
{
	uint64_t end = sb->bytes_used;
	uint64_t after[] = {sb->id_table_start, sb->fragments ? sb->fragment_table_start : end,
			    sb->lookup_table_start, sb->xattr_id_table_start};
	for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++)
		if (after[i] > sb->directory_table_start && after[i] < end)
			end = after[i];
	return end;
}

int lr_squash_open(int fd, struct lr_squash **out, struct lr_error *err)
{
	int r = lr_squash_check(fd, err);
	if (r < 0)
		return r;
	struct lr_squash *sq = calloc(1, sizeof(*sq));
	if (!sq)
		return lr_error_errno(err, ENOMEM, "open squashfs");
	r = translate(sqfs_init(&sq->ll.fs, fd, 0), err, "open");
	if (r < 0) {
		free(sq);
		return r;
	}
	sq->data_uncompressed = sq->ll.fs.sb.flags & (1 << SQUASHFS_NOD);
	sq->dir_end = directory_end(&sq->ll.fs.sb);
	r = check_tables(sq, err);
	if (r == 0)
		r = translate(sqfs_ll_init(&sq->ll), err, "index");
	if (r < 0) {
		sqfs_destroy(&sq->ll.fs);
		free(sq);
		return r;
	}
	/* Every inode and directory, before anything may use them. */
	r = tree_walk(sq, NULL, NULL, err);
	if (r < 0) {
		lr_squash_free(sq);
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
	/* libsquashfuse 0.1.105 reads its table at any index (issue 154). */
	if (inode->xattr >= fs->xattr_info.xattr_ids)
		return -EIO;
	sqfs_xattr x;
	if (sqfs_xattr_open(fs, inode, &x) != SQFS_OK || x.remain > MAX_INODE_XATTRS)
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
		    vlen > MAX_XATTR_VALUE) {
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

/* sqfs_read_range(), with every block's size checked before it is copied
 * from: libsquashfuse copies (block size - offset) bytes without checking
 * that the block holds that many, so a data block shorter than the read's
 * offset into it was a negative length to memcpy, and a fragment offset
 * past the fragment's end copied heap memory into file data (squashfuse
 * issue 158).  Reads *size bytes at start; *size is what was read. */
static sqfs_err read_range(sqfs *fs, sqfs_inode *inode, sqfs_off_t start, sqfs_off_t *size,
			   void *buf)
{
	if (!S_ISREG(inode->base.mode) || *size < 0 || start < 0)
		return SQFS_ERR;
	uint64_t file_size = inode->xtra.reg.file_size;
	size_t bs = fs->sb.block_size;
	if ((uint64_t)start > file_size)
		return SQFS_ERR;
	if ((uint64_t)start == file_size) {
		*size = 0;
		return SQFS_OK;
	}
	if ((uint64_t)*size > file_size - (uint64_t)start)
		*size = (sqfs_off_t)(file_size - (uint64_t)start);
	sqfs_blocklist bl;
	if (sqfs_blockidx_blocklist(fs, inode, &bl, start) != SQFS_OK)
		return SQFS_ERR;
	size_t read_off = (size_t)(start % (sqfs_off_t)bs);
	char *out = buf;
	while (*size > 0) {
		sqfs_block *block = NULL;
		size_t data_off = 0, data_size;
		bool fragment = bl.remain == 0;
		if (fragment) {
			if (inode->xtra.reg.frag_idx == SQUASHFS_INVALID_FRAG)
				break;
			if (sqfs_frag_block(fs, inode, &data_off, &data_size, &block) != SQFS_OK ||
			    data_off > block->size || data_size > block->size - data_off)
				return SQFS_ERR;
		} else {
			if (sqfs_blocklist_next(&bl) != SQFS_OK)
				return SQFS_ERR;
			if (bl.pos + bs <= (uint64_t)start)
				continue;
			if (bl.input_size == 0) { /* a hole */
				data_size =
					file_size - bl.pos < bs ? (size_t)(file_size - bl.pos) : bs;
			} else {
				if (sqfs_data_cache(fs, &fs->data_cache, bl.block, bl.header,
						    &block) != SQFS_OK ||
				    !block)
					return SQFS_ERR;
				data_size = block->size;
			}
		}
		if (read_off >= data_size)
			return SQFS_ERR; /* a block shorter than the file says */
		size_t take = data_size - read_off;
		if ((uint64_t)take > (uint64_t)*size)
			take = (size_t)*size;
		if (block)
			memcpy(out, (char *)block->data + data_off + read_off, take);
		else
			memset(out, 0, take);
		read_off = 0;
		*size -= (sqfs_off_t)take;
		out += take;
		if (fragment)
			break;
	}
	*size = out - (char *)buf;
	return *size ? SQFS_OK : SQFS_ERR;
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
	r = translate(read_range(fs, &inode, 0, &got, data), err, path);
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
	if (read_range(&sq->ll.fs, inode, (sqfs_off_t)start, &len, victim->data) != SQFS_OK)
		return NULL;
	*victim = (struct cached_block){.valid = true,
					.inode = ino,
					.index = index,
					.len = (size_t)len,
					.used = ++sq->clock,
					.data = victim->data};
	return victim;
}

struct verify {
	uint64_t *entries, *bytes;
	char *buf;
	struct refset files; /* read already: another name of one is not read again */
};

static int verify_one(struct lr_squash *sq, void *ctx, const char *path, sqfs_inode *inode,
		      sqfs_inode_id id, struct lr_error *err)
{
	struct verify *v = ctx;
	sqfs *fs = &sq->ll.fs;
	if (*path) /* the root is not counted */
		(*v->entries)++;
	sqfs_id_t uid, gid;
	if (sqfs_id_get(fs, inode->base.uid, &uid) != SQFS_OK ||
	    sqfs_id_get(fs, inode->base.guid, &gid) != SQFS_OK)
		return lr_error_set(err, EIO, "/%s: corrupt id table", path);
	if (!S_ISREG(inode->base.mode))
		return 0;
	int seen = refset_add(&v->files, id);
	if (seen)
		return seen < 0 ? lr_error_errno(err, ENOMEM, "/%s", path) : 0;
	size_t bs = fs->sb.block_size;
	uint64_t size = inode->xtra.reg.file_size;
	for (uint64_t off = 0; off < size; off += bs) {
		sqfs_off_t len = (sqfs_off_t)(size - off < bs ? size - off : bs);
		if (read_range(fs, inode, (sqfs_off_t)off, &len, v->buf) != SQFS_OK || len <= 0)
			return lr_error_set(err, EIO, "/%s: corrupt data at byte %llu", path,
					    (unsigned long long)off);
		*v->bytes += (uint64_t)len;
	}
	return 0;
}

int lr_squash_verify(struct lr_squash *sq, uint64_t *entries, uint64_t *bytes, struct lr_error *err)
{
	struct verify v = {
		.entries = entries, .bytes = bytes, .buf = malloc(sq->ll.fs.sb.block_size)};
	if (!v.buf)
		return lr_error_errno(err, ENOMEM, "walk");
	int r = tree_walk(sq, verify_one, &v, err);
	free(v.buf);
	free(v.files.v);
	return r < 0 ? r : 0;
}

int lr_squash_root(struct lr_squash *sq, uint32_t *mode, uint32_t *uid, uint32_t *gid)
{
	sqfs *fs = &sq->ll.fs;
	sqfs_inode inode;
	sqfs_id_t u, g;
	/* Checked by lr_squash_open(): the root inode and its owner indices. */
	if (sqfs_inode_get(fs, &inode, sqfs_inode_root(fs)) != SQFS_OK ||
	    sqfs_id_get(fs, inode.base.uid, &u) != SQFS_OK ||
	    sqfs_id_get(fs, inode.base.guid, &g) != SQFS_OK)
		return -EIO;
	*mode = inode.base.mode;
	*uid = u;
	*gid = g;
	return 0;
}

bool lr_squash_has_xattrs(const struct lr_squash *sq)
{
	return sq->ll.fs.sb.xattr_id_table_start != (uint64_t)SQUASHFS_INVALID_BLK;
}

/* libsquashfuse 0.1.105's caches (fs.c, squashfs_fs.h): 1 data block, 3
 * fragment blocks, 8 metadata blocks. */
#define SQFS_DATA_CACHED 1
#define SQFS_FRAG_CACHED 3
#define SQFS_MD_CACHED 8

uint64_t lr_squash_cache_bound(const struct lr_squash *sq)
{
	uint64_t block = sq->ll.fs.sb.block_size;
	uint64_t blocks = sq->data_uncompressed ? 0 : CACHE_BLOCKS;
	return (blocks + SQFS_DATA_CACHED + SQFS_FRAG_CACHED) * block +
	       SQFS_MD_CACHED * (uint64_t)SQUASHFS_METADATA_SIZE;
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
		if (read_range(&sq->ll.fs, inode, (sqfs_off_t)off, &len, buf) != SQFS_OK)
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

struct walk_user {
	int (*fn)(void *ctx, const struct lr_squash_entry *e, struct lr_error *err);
	void *ctx;
};

/* One entry of lr_squash_walk(), as its caller wants it. */
static int walk_one(struct lr_squash *sq, void *ctx, const char *path, sqfs_inode *ip,
		    sqfs_inode_id id, struct lr_error *err)
{
	struct walk_user *u = ctx;
	sqfs *fs = &sq->ll.fs;
	sqfs_inode inode = *ip;
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
		if (sqfs_readlink(fs, &inode, NULL, &len) != SQFS_OK || len > LR_SQUASH_MAX_TARGET)
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
	r = u->fn(u->ctx, &e, err);
	lr_xattrs_free(xattrs, e.n_xattrs);
	free(target);
	return r;
}

int lr_squash_walk(struct lr_squash *sq,
		   int (*fn)(void *ctx, const struct lr_squash_entry *e, struct lr_error *err),
		   void *ctx, struct lr_error *err)
{
	struct walk_user u = {fn, ctx};
	return tree_walk(sq, walk_one, &u, err);
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
	if (read_range(fs, &inode, (sqfs_off_t)off, &got, buf) != SQFS_OK)
		return -EIO;
	return (long)got;
}
