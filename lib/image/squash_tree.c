/* squash_tree.c - the checked walk over every inode and directory listing
 * of a user's squashfs file: what lr_squash_open() runs once before
 * libsquashfuse may use a layer, and what lr_squash_walk() and
 * lr_squash_verify() go through.
 *
 * Runs as the user, in the user's own process; the file is untrusted
 * input (squash.c says why it is parsed only here). *
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

/* 1 when ref was there already, 0 when added, -ENOMEM. */
int squash_refset_add(struct refset *s, uint64_t ref)
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
		int seen = files ? squash_refset_add(&files[0], id) : 0;
		*why = "out of memory";
		if (seen < 0)
			return -ENOMEM;
		if (seen)
			break;
		/* A file's inode number is the key of libsquashfuse's block
		 * index cache: a second file of the same number would be read
		 * with the first one's index, past its end. */
		int dup = files ? squash_refset_add(&files[1], ino) : 0;
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

struct tree_walk {
	struct lr_squash *sq;
	squash_walk_fn fn;
	void *ctx;
	struct lr_error *err;
	struct refset dirs;	  /* directory inodes walked */
	struct refset files[2];	  /* regular files checked: references, numbers */
	const char *const *scope; /* NULL: every directory; else these top-level ones */
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

static bool in_scope(const char *const *scope, const char *name)
{
	for (; *scope; scope++)
		if (!strcmp(*scope, name))
			return true;
	return false;
}

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
			int seen = squash_refset_add(&t->dirs, id);
			if (seen) {
				r = seen < 0 ? lr_error_errno(t->err, ENOMEM, "/%s", t->path)
					     : lr_error_set(t->err, ELOOP,
							    "/%s: a directory reached twice (a "
							    "directory cycle)",
							    t->path);
				break;
			}
			if ((!t->scope || (depth == 1 && in_scope(t->scope, name))) &&
			    (r = walk_dir(t, &inode, at + nlen, depth + 1)) != 0)
				break;
		}
		t->path[len] = '\0';
	}
	if (r == 0 && dir->xtra.dir.idx_count)
		r = check_index(t, dir, h, n_h);
	free(h);
	return r;
}

static int tree_walk(struct lr_squash *sq, const char *const *scope, squash_walk_fn fn, void *ctx,
		     struct lr_error *err)
{
	struct tree_walk *t = calloc(1, sizeof(*t));
	if (!t)
		return lr_error_errno(err, ENOMEM, "walk");
	*t = (struct tree_walk){.sq = sq, .fn = fn, .ctx = ctx, .err = err, .scope = scope};
	sqfs *fs = &sq->ll.fs;
	sqfs_inode root;
	const char *why;
	sqfs_inode_id id = sqfs_inode_root(fs);
	int r = inode_checked(sq, id, &root, &why, NULL);
	if (r < 0)
		r = lr_error_set(err, EIO, "root directory: %s", why);
	else if (!S_ISDIR(root.base.mode))
		r = lr_error_set(err, EIO, "the root is not a directory");
	else if ((r = squash_refset_add(&t->dirs, id)) < 0)
		r = lr_error_errno(err, ENOMEM, "walk");
	else if (!fn || (r = fn(sq, ctx, "", &root, id, err)) == 0)
		r = walk_dir(t, &root, 0, 1);
	free(t->dirs.v);
	free(t->files[0].v);
	free(t->files[1].v);
	free(t);
	return r;
}

int squash_tree_walk(struct lr_squash *sq, squash_walk_fn fn, void *ctx, struct lr_error *err)
{
	int r = tree_walk(sq, NULL, fn, ctx, err);
	if (r == 0)
		sq->checked = true; /* every entry was reached: fn did not stop it */
	return r;
}

int squash_tree_check_scope(struct lr_squash *sq, const char *const *scope, struct lr_error *err)
{
	return tree_walk(sq, scope, NULL, NULL, err);
}

bool squash_path_checked(const struct lr_squash *sq, const char *path)
{
	if (sq->checked)
		return true;
	if (!sq->scope)
		return false;
	/* "/NAME" or "/DIR/NAME" with DIR in scope: the listings its
	 * lookup reads are the root's and DIR's. */
	while (*path == '/')
		path++;
	size_t first = strcspn(path, "/");
	const char *rest = path + first;
	while (*rest == '/')
		rest++;
	if (!*rest)
		return true;
	if (rest[strcspn(rest, "/")] != '\0')
		return false;
	for (const char *const *s = sq->scope; *s; s++)
		if (strlen(*s) == first && !strncmp(*s, path, first))
			return true;
	return false;
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
	int r = squash_xattrs(fs, &inode, &xattrs, &e.n_xattrs);
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
	int r = lr_squash_check_all(sq, err);
	if (r < 0)
		return r;
	struct walk_user u = {fn, ctx};
	return squash_tree_walk(sq, walk_one, &u, err);
}
