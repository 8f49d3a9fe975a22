/* squash_read.c - reading a user's squashfs file's data: lookups by path,
 * whole small files (layer.json), the FUSE server's reads through the
 * layer's block cache, a walk's preads, and verify (every block read).
 *
 * Runs as the user, in the user's own process; every block's size is
 * checked before it is copied from (read_range() below), the rest of the
 * layer was checked by lr_squash_open() or, for the lookups a scoped open
 * allows, lr_squash_open_scoped(). *
 * Not including build-config.h: libsquashfuse's public headers include
 * their own generated config.h, which defines PACKAGE_* too.
 */

#define _GNU_SOURCE 1

/* First: libsquashfuse's config.h defines _POSIX_C_SOURCE. */
#include "squash_int.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A block as stored at pos in the layer file, stored bytes long (at most
 * a block; the caller checked), into dst, a block long: read as it is, or
 * read into in, a block long, and decompressed into dst.  Returns the
 * block's length, -1 when unreadable or corrupt. */
static long read_stored(sqfs *fs, uint64_t pos, size_t stored, bool compressed, char *in, char *dst)
{
	char *to = compressed ? in : dst;
	if (pread(fs->fd, to, stored, (off_t)(fs->offset + pos)) != (ssize_t)stored)
		return -1;
	size_t got = stored;
	if (compressed) {
		got = fs->sb.block_size;
		if (fs->decompressor(in, stored, dst, &got) != SQFS_OK)
			return -1;
	}
	return (long)got;
}

/* Fragment block idx of sq for a read made once (lr_squash_read_file():
 * the layer.json, passwd and group a launch reads), decompressed into one
 * buffer the whole process shares, and kept for the next read of the same
 * block.  libsquashfuse's fragment cache mallocs the stored and the
 * decompressed block afresh for every fragment, and on a VM the first
 * touch of a page is what costs: 0.3-1 ms per 128 KiB fragment, against
 * 0.02 ms into pages touched before (measured: doc/DECISIONS.md, "Start-up
 * cost").  Where the block lies and its stored length were checked when
 * the layer was opened (check_tables(): inside the data area, at most a
 * block); the file may have shrunk since, which pread() reports short.
 * Returns the block and its length, NULL when corrupt or unreadable. */
static const char *scratch_fragment(struct lr_squash *sq, uint32_t idx, size_t *len)
{
	static struct {
		uint64_t serial; /* the layer's (struct lr_squash), 0: none kept */
		uint32_t idx;
		size_t len, cap;
		char *in, *out; /* a block each, in one mapping */
	} s;
	sqfs *fs = &sq->ll.fs;
	size_t bs = fs->sb.block_size;
	if (s.serial == sq->serial && s.idx == idx) {
		*len = s.len;
		return s.out;
	}
	s.serial = 0;
	if (s.cap < bs) {
		if (s.in)
			munmap(s.in, 2 * s.cap);
		s.in = NULL;
		s.cap = 0;
		/* Populated at once, as block_at()'s buffers are. */
		void *m = mmap(NULL, 2 * bs, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		s.in = m;
		s.out = s.in + bs;
		s.cap = bs;
	}
	struct squashfs_fragment_entry f;
	if (sqfs_frag_entry(fs, &f, idx) != SQFS_OK)
		return NULL;
	size_t stored = f.size & ~SQUASHFS_COMPRESSED_BIT_BLOCK;
	if (stored > bs)
		return NULL;
	long got = read_stored(fs, f.start_block, stored, !(f.size & SQUASHFS_COMPRESSED_BIT_BLOCK),
			       s.in, s.out);
	if (got < 0)
		return NULL;
	s.serial = sq->serial;
	s.idx = idx;
	s.len = (size_t)got;
	*len = (size_t)got;
	return s.out;
}

/* sqfs_read_range(), with every block's size checked before it is copied
 * from: libsquashfuse copies (block size - offset) bytes without checking
 * that the block holds that many, so a data block shorter than the read's
 * offset into it was a negative length to memcpy, and a fragment offset
 * past the fragment's end copied heap memory into file data (squashfuse
 * issue 158).  Reads *size bytes at start; *size is what was read. */
static sqfs_err read_range(struct lr_squash *sq, sqfs_inode *inode, sqfs_off_t start,
			   sqfs_off_t *size, void *buf, bool once)
{
	sqfs *fs = &sq->ll.fs;
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
		const char *data = NULL;
		size_t data_off = 0, data_size;
		bool fragment = bl.remain == 0;
		if (fragment) {
			if (inode->xtra.reg.frag_idx == SQUASHFS_INVALID_FRAG)
				break;
			size_t frag_len;
			if (once) {
				if (!(data = scratch_fragment(sq, inode->xtra.reg.frag_idx,
							      &frag_len)))
					return SQFS_ERR;
				data_off = inode->xtra.reg.frag_off;
				data_size = (size_t)(file_size % bs);
			} else {
				if (sqfs_frag_block(fs, inode, &data_off, &data_size, &block) !=
				    SQFS_OK)
					return SQFS_ERR;
				data = block->data;
				frag_len = block->size;
			}
			if (data_off > frag_len || data_size > frag_len - data_off)
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
				data = block->data;
				data_size = block->size;
			}
		}
		if (read_off >= data_size)
			return SQFS_ERR; /* a block shorter than the file says */
		size_t take = data_size - read_off;
		if ((uint64_t)take > (uint64_t)*size)
			take = (size_t)*size;
		if (data)
			memcpy(out, data + data_off + read_off, take);
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
static int lookup(struct lr_squash *sq, const char *path, sqfs_inode *inode, struct lr_error *err)
{
	sqfs *fs = &sq->ll.fs;
	int r;
	if (!squash_path_checked(sq, path) && (r = lr_squash_check_all(sq, err)) < 0)
		return r;
	r = squash_translate(fs, sqfs_inode_get(fs, inode, sqfs_inode_root(fs)), err,
			     "root directory");
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
		if ((r = squash_translate(fs, sqfs_lookup_path(fs, inode, name, &found), err,
					  path)) < 0)
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
	int r = lookup(sq, path, &inode, err);
	if (r <= 0)
		return r < 0 ? r : LR_SQUASH_ABSENT;
	mode_t m = inode.base.mode;
	if (S_ISREG(m))
		return LR_SQUASH_FILE;
	if (S_ISDIR(m))
		return squash_is_opaque(fs, &inode) ? LR_SQUASH_OPAQUE_DIR : LR_SQUASH_DIR;
	if (S_ISCHR(m) && inode.xtra.dev.major == 0 && inode.xtra.dev.minor == 0)
		return LR_SQUASH_WHITEOUT;
	return LR_SQUASH_OTHER;
}

int lr_squash_read_file(struct lr_squash *sq, const char *path, size_t max, char **buf, size_t *len,
			struct lr_error *err)
{
	sqfs_inode inode;
	int r = lookup(sq, path, &inode, err);
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
	r = squash_translate(&sq->ll.fs, read_range(sq, &inode, 0, &got, data, true), err, path);
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

/* Data block index of the file (not its tail in a fragment) into dst, a
 * block long: the stored bytes pread into sq->in, one buffer reused for
 * every block, and decompressed from there straight into dst; a block
 * stored uncompressed is pread into dst itself.  Not libsquashfuse's
 * sqfs_data_cache(): that mallocs the stored and the decompressed block
 * afresh for every block, and read_range() then copies the block once more
 * into the cache (measured: doc/DECISIONS.md, "FUSE requests (issue 13)").
 * Where the block lies and how long it is stored were checked by
 * lr_squash_open() (inode_checked(): inside the data area, at most a
 * block); the file may have shrunk since, which pread() reports short.
 * Returns the block's length in the file, 0 when index is the tail in a
 * fragment (read_range() serves that), -EIO when corrupt or unreadable. */
static long data_block(struct lr_squash *sq, sqfs_inode *inode, uint64_t index, char *dst)
{
	sqfs *fs = &sq->ll.fs;
	size_t bs = fs->sb.block_size;
	uint64_t start = index * bs, size = inode->xtra.reg.file_size;
	size_t want = size - start < bs ? (size_t)(size - start) : bs;
	sqfs_blocklist bl;
	if (sqfs_blockidx_blocklist(fs, inode, &bl, (sqfs_off_t)start) != SQFS_OK)
		return -EIO;
	do {
		if (bl.remain == 0)
			return 0; /* the tail, in a fragment */
		if (sqfs_blocklist_next(&bl) != SQFS_OK || bl.pos > start)
			return -EIO;
	} while (bl.pos < start);
	if (bl.input_size == 0) { /* a hole */
		memset(dst, 0, want);
		return (long)want;
	}
	if (bl.input_size > bs)
		return -EIO;
	bool compressed = !(bl.header & SQUASHFS_COMPRESSED_BIT_BLOCK);
	if (compressed && !sq->in && !(sq->in = malloc(bs)))
		return -EIO;
	long got = read_stored(fs, bl.block, bl.input_size, compressed, sq->in, dst);
	/* Shorter than the file says: corrupt, never the next block's bytes
	 * in its place. */
	if (got < 0 || (size_t)got < want)
		return -EIO;
	return (long)want;
}

/* The block of the file holding pos, from the cache or decompressed. */
static struct cached_block *block_at(struct lr_squash *sq, sqfs_inode *inode, uint64_t index)
{
	uint32_t ino = inode->base.inode_number;
	struct cached_block *victim = &sq->cache[0];
	for (size_t i = 0; i < sq->cache_blocks; i++) {
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
	victim->valid = false;
	long n = data_block(sq, inode, index, victim->data);
	if (n < 0)
		return NULL;
	if (n == 0) { /* the tail in a fragment: libsquashfuse's fragment cache */
		uint64_t start = index * bs, size = inode->xtra.reg.file_size;
		sqfs_off_t len = (sqfs_off_t)(size - start < bs ? size - start : bs);
		if (read_range(sq, inode, (sqfs_off_t)start, &len, victim->data, false) != SQFS_OK)
			return NULL;
		n = (long)len;
	}
	*victim = (struct cached_block){.valid = true,
					.inode = ino,
					.index = index,
					.len = (size_t)n,
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
	int seen = squash_refset_add(&v->files, id);
	if (seen)
		return seen < 0 ? lr_error_errno(err, ENOMEM, "/%s", path) : 0;
	size_t bs = fs->sb.block_size;
	uint64_t size = inode->xtra.reg.file_size;
	for (uint64_t off = 0; off < size; off += bs) {
		sqfs_off_t len = (sqfs_off_t)(size - off < bs ? size - off : bs);
		if (read_range(sq, inode, (sqfs_off_t)off, &len, v->buf, false) != SQFS_OK ||
		    len <= 0)
			return lr_error_set(err, EIO, "/%s: corrupt data at byte %llu", path,
					    (unsigned long long)off);
		*v->bytes += (uint64_t)len;
	}
	return 0;
}

int lr_squash_verify(struct lr_squash *sq, uint64_t *entries, uint64_t *bytes, struct lr_error *err)
{
	int r = lr_squash_check_all(sq, err);
	if (r < 0)
		return r;
	struct verify v = {
		.entries = entries, .bytes = bytes, .buf = malloc(sq->ll.fs.sb.block_size)};
	if (!v.buf)
		return lr_error_errno(err, ENOMEM, "walk");
	r = squash_tree_walk(sq, verify_one, &v, err);
	free(v.buf);
	free(v.files.v);
	return r < 0 ? r : 0;
}

int lr_squash_read(struct lr_squash *sq, uint64_t ino, uint64_t off, size_t size, char *buf,
		   const char **direct, size_t *got)
{
	if (!sq->checked)
		return -EIO; /* lr_squash_check_all() first: squash.h */
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
		if (read_range(sq, inode, (sqfs_off_t)off, &len, buf, false) != SQFS_OK)
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

long lr_squash_pread(struct lr_squash *sq, uint64_t id, uint64_t off, void *buf, size_t len)
{
	if (!sq->checked)
		return -EIO;
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
	if (read_range(sq, &inode, (sqfs_off_t)off, &got, buf, false) != SQFS_OK)
		return -EIO;
	return (long)got;
}
