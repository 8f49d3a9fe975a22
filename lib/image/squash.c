/* squash.c - reading a user's squashfs file with libsquashfuse.
 *
 * Runs as the user, in the user's own process: squashfs files named by users
 * are untrusted input and are parsed only here (lib/image/squash*.c) and in
 * fuse_server.c, never by the kernel (notes/security.md, invariant 5; Debian's libsquashfuse
 * 0.1.105 has known parser bugs, upstream squashfuse issues 153/154/158, so
 * it must never run with more rights than the user has).
 *
 * This file opens a layer: the superblock checked by hand, the tables
 * checked, then libsquashfuse's handle made and every entry walked once
 * (squash_tree.c) before anything may use it.  The other parts of the
 * reader: squash_tree.c (the checked walk over every inode and directory),
 * squash_read.c (file data, the block cache, lookups, verify),
 * squash_xattr.c (extended attributes).  Shared: squash_int.h.
 *
 * This is the one place where libsquashfuse's errors are translated.
 *
 * Not including build-config.h: libsquashfuse's public headers include
 * their own generated config.h, which defines PACKAGE_* too.
 */
#define _GNU_SOURCE 1

/* First: libsquashfuse's config.h defines _POSIX_C_SOURCE. */
#include "squash_int.h"

#include "lazy.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

int squash_translate(const sqfs *fs, sqfs_err e, struct lr_error *err, const char *what)
{
	switch (e) {
	case SQFS_OK: return 0;
	case SQFS_BADFORMAT: return lr_error_set(err, EINVAL, "%s: not a squashfs file", what);
	case SQFS_BADVERSION:
		return lr_error_set(err, EINVAL, "%s: unsupported squashfs version", what);
	case SQFS_BADCOMP: return lr_error_set(err, ENOTSUP, "%s: unsupported compression", what);
	case SQFS_UNSUP:
		return lr_error_set(err, ENOTSUP, "%s: unsupported squashfs feature", what);
	default: {
		/* A decompressor is loaded when first used (codecs.c): its
		 * library missing is not a corrupt layer. */
		const char *lib = lr_lazy_codec_soname(fs->sb.compression);
		const char *why = lib ? lr_lazy_failure(lib) : NULL;
		if (why)
			return lr_error_set(err, ENOSYS, "%s: cannot load a decompressor: %s", what,
					    why);
		return lr_error_set(err, EIO, "%s: corrupt squashfs (read error)", what);
	}
	}
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

/* The superblock and every table checked, libsquashfuse's handle made;
 * no inode or listing read yet. */
/* How many decompressed blocks a layer of this codec keeps (squash_int.h).
 * lz4 and lzo decompress a 128 KiB block in tens of microseconds, and on
 * a VM the first touch of a fresh page costs several: decompressing such
 * a block again into a buffer used before is cheaper than a slot of
 * fresh memory.  Measured on busybox /bin/true from a fresh lz4 mount
 * (doc/DECISIONS.md, "Start-up cost, fifth pass"): 16 slots 17.5-19.0 ms,
 * 2 slots 16.0-16.6 ms; gzip needs its 16 (2 slots: 29 -> 43 ms). */
static size_t cache_blocks(unsigned codec)
{
	return codec == LZ4_COMPRESSION || codec == LZO_COMPRESSION ? CACHE_BLOCKS_FAST
								    : CACHE_BLOCKS;
}

static int open_tables(int fd, struct lr_squash **out, struct lr_error *err)
{
	int r = lr_squash_check(fd, err);
	if (r < 0)
		return r;
	struct lr_squash *sq = calloc(1, sizeof(*sq));
	if (!sq)
		return lr_error_errno(err, ENOMEM, "open squashfs");
	static uint64_t opened;
	sq->serial = ++opened;
	r = squash_translate(&sq->ll.fs, sqfs_init(&sq->ll.fs, fd, 0), err, "open");
	if (r < 0) {
		free(sq);
		return r;
	}
	sq->data_uncompressed = sq->ll.fs.sb.flags & (1 << SQUASHFS_NOD);
	sq->cache_blocks = cache_blocks(sq->ll.fs.sb.compression);
	sq->dir_end = directory_end(&sq->ll.fs.sb);
	r = check_tables(sq, err);
	if (r == 0)
		r = squash_translate(&sq->ll.fs, sqfs_ll_init(&sq->ll), err, "index");
	if (r < 0) {
		sqfs_destroy(&sq->ll.fs);
		free(sq);
		return r;
	}
	*out = sq;
	return 0;
}

int lr_squash_open(int fd, struct lr_squash **out, struct lr_error *err)
{
	struct lr_squash *sq;
	int r = open_tables(fd, &sq, err);
	if (r < 0)
		return r;
	/* Every inode and directory, before anything may use them. */
	r = squash_tree_walk(sq, NULL, NULL, err);
	if (r < 0) {
		lr_squash_free(sq);
		return r;
	}
	*out = sq;
	return 0;
}

int lr_squash_open_scoped(int fd, const char *const *scope, struct lr_squash **out,
			  struct lr_error *err)
{
	struct lr_squash *sq;
	int r = open_tables(fd, &sq, err);
	if (r < 0)
		return r;
	r = squash_tree_check_scope(sq, scope, err);
	sq->scope = scope; /* the lookups squash_path_checked() allows */
	if (r < 0) {
		/* Refused: with lr_squash_open()'s message, which names the
		 * first fault in its order, not the scope's.  The whole walk
		 * checks what the scoped one did and more, so it fails too. */
		struct lr_error whole = {0};
		int w = squash_tree_walk(sq, NULL, NULL, &whole);
		if (w < 0) {
			*err = whole;
			r = w;
		}
		lr_squash_free(sq);
		return r;
	}
	*out = sq;
	return 0;
}

int lr_squash_check_all(struct lr_squash *sq, struct lr_error *err)
{
	return sq->checked ? 0 : squash_tree_walk(sq, NULL, NULL, err);
}

void lr_squash_free(struct lr_squash *sq)
{
	if (!sq)
		return;
	for (size_t i = 0; i < sq->cache_blocks; i++)
		if (sq->cache[i].data)
			munmap(sq->cache[i].data, sq->ll.fs.sb.block_size);
	free(sq->in);
	sqfs_ll_destroy(&sq->ll); /* destroys the fs too; the fd stays the caller's */
	free(sq);
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
	/* labrun's cache and the buffer its blocks are decompressed from. */
	uint64_t blocks = sq->data_uncompressed ? 0 : sq->cache_blocks + 1;
	return (blocks + SQFS_DATA_CACHED + SQFS_FRAG_CACHED) * block +
	       SQFS_MD_CACHED * (uint64_t)SQUASHFS_METADATA_SIZE;
}

void *lr_squash_ll(struct lr_squash *sq)
{
	return sq->checked ? &sq->ll : NULL;
}
