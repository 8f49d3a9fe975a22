/* hostile.c - writes small squashfs files, sound or deliberately broken, for
 * the tests of labrun's squashfs checks (tests/unit/test_squash.c,
 * tests/launcher/badimage.bats, image.bats) and for the attack suite and
 * fuzz corpora.  Hostile images are made by code, never checked in.
 *
 *   usage: hostile KIND OUT.sqfs     (hostile --list: the kinds)
 *
 * The squashfs is written by hand, every table uncompressed (so that a
 * byte is where this file puts it) but gzip named as the codec, as
 * mksquashfs -noI -noD -noF -noX would: a superblock, one fragment block of
 * file data, the inode table, the directory table, the fragment, id and
 * xattr tables, padded to 4 KiB.  The sound tree is
 *
 *   /            dir 0755       /etc/hello   "hello\n"
 *   /bin         dir 0755       /bin/sh      "#!/bin/false\n" (0755)
 *   /etc         dir 0755       /link        symlink to etc/hello
 *
 * /etc/hello has one extended attribute, user.x = "1".
 *
 * Kinds (each a hole that labrun once had or that libsquashfuse 0.1.105
 * does not check; upstream squashfuse issues 153 and 154):
 *   ok           the sound tree (must pass every check)
 *   root0700     the sound tree, its root directory mode 0700
 *   ids0         superblock id count 0 (libsquashfuse reads id table[0])
 *   frag0        fragment count 0 while files use fragment 0
 *   fragidx      a file's fragment index 7, past the 1 fragment
 *   fragoff      a file's offset in its fragment past the fragment's end
 *   uididx       a file's uid index 9, past the 1 id
 *   idtable      the id table's block pointer aims past the end of the file
 *   idblock      the id table's block pointer aims into file data
 *   inodestart   inode table start past bytes_used
 *   dirstart     directory table start before the inode table start
 *   fragstart    fragment table start past bytes_used
 *   idstart      id table start past bytes_used
 *   xattrstart   xattr id table start inside the superblock
 *   bytesused    bytes_used larger than the file
 *   blocklog     block_log that does not match block_size
 *   rootref      the root inode reference points past its metadata block
 *   inodes0      superblock inode count 0
 *   truncated    the sound image cut to half its length
 *   cycle        /bin/loop is a directory entry for the root directory
 *   selfdir      /etc/again is a directory entry for /etc itself
 *   dotdot       /etc holds an entry named ".."
 *   dot          /etc holds an entry named "."
 *   slash        /etc holds an entry named "a/b"
 *   traversal    /etc holds an entry named "../../x"
 *   nulname      /etc holds an entry whose name is one NUL byte
 *   dup          /etc holds two entries named "hello"
 *   unsorted     /etc's entries out of order
 *   longname     /etc holds an entry whose name is 300 bytes (issue 153)
 *   deep         600 nested directories (past labrun's depth limit)
 *   typemix      /etc/hello's directory entry says "directory", its inode
 *                "regular file"
 *   longlink     /link's target is 100000 bytes
 *   xattridx     /etc/hello's xattr index 5, past the 1 xattr id
 *   xattrref     the xattr id's reference points past the key/value table
 *   xattrname    /etc/hello's xattr name is 300 bytes long
 *   xattrsize    /etc/hello's xattr value says 100000 bytes
 *   samenum      /etc/hello has /bin/sh's inode number (libsquashfuse's block
 *                index cache is keyed by it)
 *   block0       /bin/sh's one data block at byte 0, in the superblock
 *                (libsquashfuse's caches take offset 0 for an empty slot)
 *
 * Exit status 0, or 2 with a message (usage, unknown kind, write error).
 * Also built into the unit tests (HOSTILE_NO_MAIN): hostile_make().
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostile.h"

#define MD_SIZE 8192 /* a metadata block's data */
#define BLOCK_LOG 17
#define BLOCK_SIZE (1u << BLOCK_LOG)
#define MAX_KIDS 8
#define DEEP_LEVELS 600
#define INVALID64 UINT64_MAX
#define FRAG_NONE UINT32_MAX
#define XATTR_NONE UINT32_MAX

/* The one extended attribute of /etc/hello, user.x = "1", as the kinds
 * that break it change it. */
static struct {
	uint16_t name_size;  /* bytes of the name as stored ("x": 1) */
	uint32_t value_size; /* as stored ("1": 1) */
	uint64_t ref_extra;  /* added to the id entry's reference */
} xattr_spec;

/* --------------------------------------------------------------- the tree */

struct node {
	char name[400];
	size_t name_len; /* names may hold a NUL byte (nulname) */
	uint16_t mode;	 /* S_IF* | permissions */
	uint16_t uid_idx, gid_idx;
	const char *data; /* regular file content */
	size_t size;
	char *target; /* symbolic link */
	struct node *kids[MAX_KIDS];
	size_t n_kids;
	struct node *alias;	 /* an entry for this node's inode (cycle) */
	uint16_t entry_type;	 /* 0: from the inode */
	uint32_t frag_idx;	 /* regular files: fragment, or FRAG_NONE */
	uint32_t frag_off_extra; /* added to the offset in the fragment */
	uint32_t xattr;		 /* regular files: xattr id index, or XATTR_NONE */
	bool block_at_0;	 /* regular files: one data block, at byte 0 */
	struct node *same_ino;	 /* given this other node's inode number */
	/* Set while writing. */
	uint32_t ino;
	uint64_t ref;	     /* inode reference: block << 16 | offset */
	uint32_t frag_off;   /* offset of the data in the fragment */
	uint32_t parent_ino; /* directories */
};

/* Entries in squashfs order (bytewise, shorter first on a tie), equal
 * names after the ones already there. */
static void add_kid(struct node *dir, struct node *n)
{
	if (dir->n_kids == MAX_KIDS)
		abort();
	size_t at = dir->n_kids;
	while (at > 0) {
		const struct node *o = dir->kids[at - 1];
		size_t l = o->name_len < n->name_len ? o->name_len : n->name_len;
		int c = memcmp(o->name, n->name, l);
		if (c < 0 || (c == 0 && o->name_len <= n->name_len))
			break;
		at--;
	}
	memmove(&dir->kids[at + 1], &dir->kids[at], (dir->n_kids - at) * sizeof(*dir->kids));
	dir->kids[at] = n;
	dir->n_kids++;
}

static struct node *node_new(struct node *parent, const char *name, uint16_t mode)
{
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		abort();
	n->name_len = strlen(name);
	memcpy(n->name, name, n->name_len);
	n->mode = mode;
	n->frag_idx = FRAG_NONE;
	n->xattr = XATTR_NONE;
	if (parent)
		add_kid(parent, n);
	return n;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_kids; i++)
		if (!n->kids[i]->alias)
			node_free(n->kids[i]);
		else
			free(n->kids[i]);
	free(n->target);
	free(n);
}

/* ----------------------------------------------------------- byte buffers */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len)
			cap *= 2;
		unsigned char *np = realloc(b->p, cap);
		if (!np)
			abort();
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, len);
	b->len += len;
}
static void put16(struct buf *b, uint16_t v)
{
	v = htole16(v);
	put(b, &v, 2);
}
static void put32(struct buf *b, uint32_t v)
{
	v = htole32(v);
	put(b, &v, 4);
}
static void put64(struct buf *b, uint64_t v)
{
	v = htole64(v);
	put(b, &v, 8);
}

/* A metadata table written as one stream of bytes, stored as uncompressed
 * metadata blocks of MD_SIZE bytes (the last shorter): the byte at stream
 * position pos is in block pos / MD_SIZE, which starts on disk at
 * (pos / MD_SIZE) * (MD_SIZE + 2) from the table's start. */
static uint64_t md_ref(size_t pos)
{
	return ((uint64_t)(pos / MD_SIZE) * (MD_SIZE + 2)) << 16 | (pos % MD_SIZE);
}
static void md_flush(struct buf *out, const struct buf *stream)
{
	for (size_t at = 0; at < stream->len; at += MD_SIZE) {
		size_t n = stream->len - at < MD_SIZE ? stream->len - at : MD_SIZE;
		put16(out, (uint16_t)(0x8000 | n)); /* uncompressed */
		put(out, stream->p + at, n);
	}
}

/* ------------------------------------------------------------- writing */

struct writer {
	struct buf frag; /* the one fragment block */
	struct buf inodes, dirs;
	uint32_t next_ino;
	bool second_pass; /* refs of every node known from the first */
};

static void number(struct writer *w, struct node *n)
{
	for (size_t i = 0; i < n->n_kids; i++)
		if (!n->kids[i]->alias)
			number(w, n->kids[i]);
	n->ino = ++w->next_ino;
}

static void same_numbers(struct node *n)
{
	if (n->same_ino)
		n->ino = n->same_ino->ino;
	for (size_t i = 0; i < n->n_kids; i++)
		if (!n->kids[i]->alias)
			same_numbers(n->kids[i]);
}

static uint16_t basic_type(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return 1;
	case S_IFREG: return 2;
	case S_IFLNK: return 3;
	case S_IFBLK: return 4;
	case S_IFCHR: return 5;
	case S_IFIFO: return 6;
	default: return 7;
	}
}

static void inode_base(struct writer *w, struct node *n, uint16_t type)
{
	n->ref = md_ref(w->inodes.len);
	put16(&w->inodes, type);
	put16(&w->inodes, n->mode & 07777);
	put16(&w->inodes, n->uid_idx);
	put16(&w->inodes, n->gid_idx);
	put32(&w->inodes, 0); /* mtime */
	put32(&w->inodes, n->ino);
}

/* Post-order: a directory's children (and their listings) before it. */
static void write_node(struct writer *w, struct node *n, uint32_t parent_ino)
{
	if (S_ISDIR(n->mode)) {
		n->parent_ino = parent_ino;
		for (size_t i = 0; i < n->n_kids; i++)
			if (!n->kids[i]->alias)
				write_node(w, n->kids[i], n->ino);
		/* The listing: one header per run of entries whose inodes lie in
		 * one metadata block. */
		size_t listing = w->dirs.len;
		for (size_t i = 0; i < n->n_kids;) {
			const struct node *k = n->kids[i]->alias ? n->kids[i]->alias : n->kids[i];
			uint64_t block = k->ref >> 16;
			size_t j = i;
			while (j < n->n_kids && j - i < 256) {
				const struct node *o =
					n->kids[j]->alias ? n->kids[j]->alias : n->kids[j];
				if (o->ref >> 16 != block)
					break;
				j++;
			}
			put32(&w->dirs, (uint32_t)(j - i - 1));
			put32(&w->dirs, (uint32_t)block);
			put32(&w->dirs, k->ino);
			for (; i < j; i++) {
				const struct node *e = n->kids[i];
				const struct node *o = e->alias ? e->alias : e;
				put16(&w->dirs, (uint16_t)(o->ref & 0xffff));
				put16(&w->dirs, (uint16_t)(int16_t)(o->ino - k->ino));
				put16(&w->dirs,
				      e->entry_type ? e->entry_type : basic_type(o->mode));
				put16(&w->dirs, (uint16_t)(e->name_len - 1));
				put(&w->dirs, e->name, e->name_len);
			}
		}
		size_t listing_len = w->dirs.len - listing;
		uint64_t dref = md_ref(listing);
		inode_base(w, n, basic_type(n->mode));
		put32(&w->inodes, (uint32_t)(dref >> 16)); /* start_block */
		uint32_t nlink = 2;
		for (size_t i = 0; i < n->n_kids; i++)
			nlink += S_ISDIR(n->kids[i]->mode) && !n->kids[i]->alias;
		put32(&w->inodes, nlink);
		put16(&w->inodes, (uint16_t)(listing_len + 3));
		put16(&w->inodes, (uint16_t)(dref & 0xffff));
		put32(&w->inodes, n->parent_ino ? n->parent_ino : w->next_ino + 1);
	} else if (S_ISREG(n->mode)) {
		n->frag_off = (uint32_t)w->frag.len;
		put(&w->frag, n->data, n->size);
		if (n->xattr != XATTR_NONE) { /* an extended file inode */
			inode_base(w, n, 9);
			put64(&w->inodes, 0); /* start_block */
			put64(&w->inodes, n->size);
			put64(&w->inodes, 0); /* sparse */
			put32(&w->inodes, 1); /* nlink */
			put32(&w->inodes, n->frag_idx);
			put32(&w->inodes, n->frag_off + n->frag_off_extra);
			put32(&w->inodes, n->xattr);
		} else if (n->block_at_0) { /* its data "stored" in the superblock */
			inode_base(w, n, basic_type(n->mode));
			put32(&w->inodes, 0);	      /* start_block */
			put32(&w->inodes, FRAG_NONE); /* no fragment: one block */
			put32(&w->inodes, 0);
			put32(&w->inodes, (uint32_t)n->size);
			put32(&w->inodes, (uint32_t)n->size | (1u << 24)); /* uncompressed */
		} else {
			inode_base(w, n, basic_type(n->mode));
			put32(&w->inodes, 0); /* start_block: no full blocks */
			put32(&w->inodes, n->frag_idx);
			put32(&w->inodes, n->frag_off + n->frag_off_extra);
			put32(&w->inodes, (uint32_t)n->size);
		}
	} else if (S_ISLNK(n->mode)) {
		inode_base(w, n, basic_type(n->mode));
		put32(&w->inodes, 1);
		put32(&w->inodes, (uint32_t)strlen(n->target));
		put(&w->inodes, n->target, strlen(n->target));
	} else {
		inode_base(w, n, basic_type(n->mode));
		put32(&w->inodes, 1);
		if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
			put32(&w->inodes, 0);
	}
}

struct super {
	uint32_t inodes, block_size, fragments;
	uint16_t compression, block_log, flags, no_ids;
	uint64_t root, bytes_used, id_start, xattr_start, inode_start, dir_start, frag_start,
		lookup_start;
};

static void put_super(struct buf *b, const struct super *s)
{
	put32(b, 0x73717368);
	put32(b, s->inodes);
	put32(b, 0); /* mkfs_time */
	put32(b, s->block_size);
	put32(b, s->fragments);
	put16(b, s->compression);
	put16(b, s->block_log);
	put16(b, s->flags);
	put16(b, s->no_ids);
	put16(b, 4);
	put16(b, 0);
	put64(b, s->root);
	put64(b, s->bytes_used);
	put64(b, s->id_start);
	put64(b, s->xattr_start);
	put64(b, s->inode_start);
	put64(b, s->dir_start);
	put64(b, s->frag_start);
	put64(b, s->lookup_start);
}

/* The whole image of the tree rooted at root into *img, and its superblock
 * in *s (already in img; callers may change s and put_super() again). */
static void serialise(struct node *root, struct buf *img, struct super *s)
{
	struct writer w = {0};
	number(&w, root);
	same_numbers(root);
	/* Two passes: the second knows every node's reference, which an entry
	 * for an ancestor (cycle) needs before that ancestor is written. */
	for (int pass = 0; pass < 2; pass++) {
		w.frag.len = w.inodes.len = w.dirs.len = 0;
		w.second_pass = pass == 1;
		write_node(&w, root, 0);
	}
	struct buf out = {0};
	put(&out, (unsigned char[96]){0}, 96);
	uint64_t frag_block = out.len;
	put(&out, w.frag.p, w.frag.len);
	s->inode_start = out.len;
	md_flush(&out, &w.inodes);
	s->dir_start = out.len;
	md_flush(&out, &w.dirs);
	/* Fragment table: one entry, in one metadata block, then its index. */
	uint64_t frag_md = out.len;
	struct buf fe = {0};
	put64(&fe, frag_block);
	put32(&fe, (uint32_t)w.frag.len | (1u << 24)); /* stored uncompressed */
	put32(&fe, 0);
	md_flush(&out, &fe);
	s->frag_start = out.len;
	put64(&out, frag_md);
	/* Id table: uid 0, in one metadata block, then its index. */
	uint64_t id_md = out.len;
	struct buf ids = {0};
	put32(&ids, 0);
	md_flush(&out, &ids);
	s->id_start = out.len;
	put64(&out, id_md);
	/* Xattr tables: the key/value pairs, the ids (one: where the pairs of
	 * /etc/hello start, how many), the id table's header and pointer. */
	uint64_t kv_md = out.len;
	struct buf kv = {0};
	put16(&kv, 0); /* user. */
	put16(&kv, xattr_spec.name_size);
	for (uint16_t i = 0; i < xattr_spec.name_size; i++)
		put(&kv, "x", 1);
	put32(&kv, xattr_spec.value_size);
	for (uint32_t i = 0; i < xattr_spec.value_size && i < 100; i++)
		put(&kv, "1", 1);
	size_t kv_len = kv.len;
	md_flush(&out, &kv);
	uint64_t xid_md = out.len;
	struct buf xid = {0};
	put64(&xid, 0 + xattr_spec.ref_extra); /* block 0, offset 0 of the pairs */
	put32(&xid, 1);
	put32(&xid, (uint32_t)kv_len);
	md_flush(&out, &xid);
	s->xattr_start = out.len;
	put64(&out, kv_md);
	put32(&out, 1);
	put32(&out, 0);
	put64(&out, xid_md);
	free(kv.p);
	free(xid.p);
	s->bytes_used = out.len;
	s->inodes = w.next_ino;
	s->block_size = BLOCK_SIZE;
	s->block_log = BLOCK_LOG;
	s->fragments = 1;
	s->compression = 1; /* gzip, though nothing is compressed */
	/* NOI | NOD | NOF | NOX | DUPLICATE, as mksquashfs -noI -noD -noF -noX */
	s->flags = 1 << 0 | 1 << 1 | 1 << 3 | 1 << 6 | 1 << 8;
	s->no_ids = 1;
	s->root = root->ref;
	s->lookup_start = INVALID64;
	while (out.len % 4096)
		put(&out, "", 1);
	*img = out;
	free(w.frag.p);
	free(w.inodes.p);
	free(w.dirs.p);
	free(fe.p);
	free(ids.p);
}

static void rewrite_super(struct buf *img, const struct super *s)
{
	struct buf sb = {0};
	put_super(&sb, s);
	memcpy(img->p, sb.p, 96);
	free(sb.p);
}

/* -------------------------------------------------------------- kinds */

static struct node *sound_tree(void)
{
	struct node *root = node_new(NULL, "", S_IFDIR | 0755);
	struct node *bin = node_new(root, "bin", S_IFDIR | 0755);
	struct node *sh = node_new(bin, "sh", S_IFREG | 0755);
	sh->data = "#!/bin/false\n";
	sh->size = strlen(sh->data);
	sh->frag_idx = 0;
	struct node *etc = node_new(root, "etc", S_IFDIR | 0755);
	struct node *hello = node_new(etc, "hello", S_IFREG | 0644);
	hello->data = "hello\n";
	hello->size = strlen(hello->data);
	hello->frag_idx = 0;
	hello->xattr = 0;
	struct node *link = node_new(root, "link", S_IFLNK | 0777);
	link->target = strdup("etc/hello");
	return root;
}

static struct node *kid(struct node *dir, const char *name)
{
	for (size_t i = 0; i < dir->n_kids; i++)
		if (!strcmp(dir->kids[i]->name, name))
			return dir->kids[i];
	abort();
}

/* An extra entry in /etc named name (name_len bytes): a plain file. */
static struct node *etc_entry(struct node *root, const char *name, size_t name_len)
{
	struct node *n = node_new(NULL, "x", S_IFREG | 0644);
	memcpy(n->name, name, name_len);
	n->name_len = name_len;
	n->data = "x\n";
	n->size = 2;
	n->frag_idx = 0;
	add_kid(kid(root, "etc"), n);
	return n;
}

static const char *const kinds[] = {
	"ok",	     "root0700", "ids0",       "frag0",	    "fragidx",	 "fragoff",  "uididx",
	"idtable",   "idblock",	 "inodestart", "dirstart",  "fragstart", "idstart",  "xattrstart",
	"bytesused", "blocklog", "rootref",    "inodes0",   "truncated", "cycle",    "selfdir",
	"dotdot",    "dot",	 "slash",      "traversal", "nulname",	 "dup",	     "unsorted",
	"longname",  "deep",	 "typemix",    "longlink",  "xattridx",	 "xattrref", "xattrname",
	"xattrsize", "block0",	 "samenum",    NULL,
};

const char *const *hostile_kinds(void)
{
	return kinds;
}

static int write_file(const char *out, const struct buf *img, size_t len)
{
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, img->p + done, len - done);
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		done += (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

int hostile_make(const char *kind, const char *out)
{
	size_t k = 0;
	while (kinds[k] && strcmp(kinds[k], kind))
		k++;
	if (!kinds[k])
		return -EINVAL;
	struct node *root = sound_tree();
	struct node *etc = kid(root, "etc");
	xattr_spec.name_size = 1;
	xattr_spec.value_size = 1;
	xattr_spec.ref_extra = 0;
	/* Mutations of the tree. */
	if (!strcmp(kind, "root0700"))
		root->mode = S_IFDIR | 0700;
	else if (!strcmp(kind, "fragidx"))
		kid(etc, "hello")->frag_idx = 7;
	else if (!strcmp(kind, "fragoff"))
		kid(etc, "hello")->frag_off_extra = 100000;
	else if (!strcmp(kind, "uididx"))
		kid(etc, "hello")->uid_idx = 9;
	else if (!strcmp(kind, "cycle"))
		node_new(kid(root, "bin"), "loop", S_IFDIR | 0755)->alias = root;
	else if (!strcmp(kind, "selfdir"))
		node_new(etc, "again", S_IFDIR | 0755)->alias = etc;
	else if (!strcmp(kind, "dotdot"))
		etc_entry(root, "..", 2);
	else if (!strcmp(kind, "dot"))
		etc_entry(root, ".", 1);
	else if (!strcmp(kind, "slash"))
		etc_entry(root, "a/b", 3);
	else if (!strcmp(kind, "traversal"))
		etc_entry(root, "../../x", 7);
	else if (!strcmp(kind, "nulname"))
		etc_entry(root, "", 1);
	else if (!strcmp(kind, "dup"))
		etc_entry(root, "hello", 5);
	else if (!strcmp(kind, "unsorted")) {
		etc_entry(root, "abc", 3);
		struct node *t = etc->kids[0]; /* "hello", then "abc" */
		etc->kids[0] = etc->kids[1];
		etc->kids[1] = t;
	} else if (!strcmp(kind, "longname")) {
		char name[300];
		memset(name, 'n', sizeof(name));
		etc_entry(root, name, sizeof(name));
	} else if (!strcmp(kind, "deep")) {
		struct node *d = node_new(root, "zdeep", S_IFDIR | 0755);
		for (int i = 1; i < DEEP_LEVELS; i++)
			d = node_new(d, "d", S_IFDIR | 0755);
	} else if (!strcmp(kind, "typemix"))
		kid(etc, "hello")->entry_type = 1;
	else if (!strcmp(kind, "samenum"))
		kid(etc, "hello")->same_ino = kid(kid(root, "bin"), "sh");
	else if (!strcmp(kind, "block0"))
		kid(kid(root, "bin"), "sh")->block_at_0 = true;
	else if (!strcmp(kind, "xattridx"))
		kid(etc, "hello")->xattr = 5;
	else if (!strcmp(kind, "xattrref"))
		xattr_spec.ref_extra = (uint64_t)1 << 30;
	else if (!strcmp(kind, "xattrname"))
		xattr_spec.name_size = 300;
	else if (!strcmp(kind, "xattrsize"))
		xattr_spec.value_size = 100000;
	else if (!strcmp(kind, "longlink")) {
		struct node *l = kid(root, "link");
		free(l->target);
		l->target = malloc(100001);
		if (!l->target)
			abort();
		memset(l->target, 'a', 100000);
		l->target[100000] = '\0';
	}
	struct buf img;
	struct super s;
	serialise(root, &img, &s);
	size_t len = img.len;
	/* Mutations of the superblock and tables. */
	if (!strcmp(kind, "ids0"))
		s.no_ids = 0;
	else if (!strcmp(kind, "frag0"))
		s.fragments = 0;
	else if (!strcmp(kind, "idtable") || !strcmp(kind, "idblock")) {
		uint64_t to = htole64(!strcmp(kind, "idtable") ? s.bytes_used + 1000000 : 96);
		memcpy(img.p + s.id_start, &to, 8);
	} else if (!strcmp(kind, "inodestart"))
		s.inode_start = s.bytes_used + 4096;
	else if (!strcmp(kind, "dirstart"))
		s.dir_start = s.inode_start - 8;
	else if (!strcmp(kind, "fragstart"))
		s.frag_start = s.bytes_used + 64;
	else if (!strcmp(kind, "idstart"))
		s.id_start = s.bytes_used + 64;
	else if (!strcmp(kind, "xattrstart"))
		s.xattr_start = 40;
	else if (!strcmp(kind, "bytesused"))
		s.bytes_used = len * 4;
	else if (!strcmp(kind, "blocklog"))
		s.block_log = 12;
	else if (!strcmp(kind, "rootref"))
		s.root = (s.root & ~(uint64_t)0xffff) | 0x7000;
	else if (!strcmp(kind, "inodes0"))
		s.inodes = 0;
	else if (!strcmp(kind, "truncated"))
		len = s.bytes_used / 2;
	rewrite_super(&img, &s);
	int r = write_file(out, &img, len);
	free(img.p);
	node_free(root);
	return r;
}

#ifndef HOSTILE_NO_MAIN
int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; kinds[i]; i++)
			printf("%s\n", kinds[i]);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: hostile KIND OUT.sqfs  (hostile --list: the kinds)\n");
		return 2;
	}
	int r = hostile_make(argv[1], argv[2]);
	if (r == -EINVAL) {
		fprintf(stderr, "hostile: unknown kind '%s' (hostile --list)\n", argv[1]);
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "hostile: %s: %s\n", argv[2], strerror(-r));
		return 2;
	}
	return 0;
}
#endif
