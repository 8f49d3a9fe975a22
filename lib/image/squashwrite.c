/* squashwrite.c - writing one squashfs layer with libsquashfs.
 *
 * Layout of a layer, in file order: superblock, compressor options, data
 * and fragment blocks (in the order files were added), inode table,
 * directory table, fragment table, id table, xattr tables.  libsquashfs
 * writes each part; labrun keeps the tree, numbers the inodes and tells
 * it what to write when.
 *
 * This file sets the writer up, keeps the tree in memory (entries, hard
 * links, xattrs) and streams file data to libsquashfs's block processor;
 * squashwrite_tables.c numbers the inodes and writes the tables and the
 * superblock at the end.  Shared: squashwrite_int.h.
 *
 * Runs as the user; needs no privilege: owners, modes and device numbers
 * are only recorded, never applied to anything on the host.
 */
#include "build-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "squashwrite_int.h"

static const struct {
	const char *name;
	SQFS_COMPRESSOR id;
} codecs[] = {
	{"gzip", SQFS_COMP_GZIP}, {"lz4", SQFS_COMP_LZ4},   {"zstd", SQFS_COMP_ZSTD},
	{"xz", SQFS_COMP_XZ},	  {"none", SQFS_COMP_GZIP}, /* metadata only */
};

bool lr_sqw_compression_known(const char *name)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (!strcmp(name, codecs[i].name))
			return true;
	return false;
}

/* libsquashfs's errors, with errno for I/O (a full disk says so). */
int sqw_fail(struct lr_error *err, int e, const struct lr_sqw *w, const char *what)
{
	int saved = errno;
	switch (e) {
	case SQFS_ERROR_ALLOC: return lr_error_errno(err, ENOMEM, "%s: %s", w->path, what);
	case SQFS_ERROR_IO:
		return lr_error_errno(err, saved ? saved : EIO, "%s: %s", w->path, what);
	case SQFS_ERROR_COMPRESSOR:
		return lr_error_set(err, EIO, "%s: %s: compressor failed", w->path, what);
	case SQFS_ERROR_OVERFLOW:
		return lr_error_set(err, EFBIG, "%s: %s: too large for squashfs", w->path, what);
	default: return lr_error_set(err, EIO, "%s: %s: libsquashfs error %d", w->path, what, e);
	}
}

int lr_path_normalise(char *path)
{
	char *out = path;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 0)
			break;
		if (len == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (out != path)
			*out++ = '/';
		memmove(out, p, len);
		out += len;
		p = end;
	}
	*out = '\0';
	return 0;
}

bool lr_path_is_clean(const char *path)
{
	if (!*path)
		return true; /* the root */
	for (const char *p = path;;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!*end)
			return true;
		p = end + 1;
	}
}

static int unclean(struct lr_error *err, const char *path)
{
	return lr_error_set(err, EINVAL,
			    "/%s: not a name a layer can hold (an empty, \".\" or \"..\" "
			    "component)",
			    path);
}

/* ------------------------------------------------------------ the tree */

static size_t hash_of(const struct sqw_dentry *parent, const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)parent;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static struct sqw_dentry *child_of(const struct lr_sqw *w, const struct sqw_dentry *dir,
				   const char *name, size_t len)
{
	size_t i = hash_of(dir, name, len) & (w->hash_size - 1);
	for (struct sqw_dentry *d = w->hash[i]; d; d = d->hash_next)
		if (d->parent == dir && !strncmp(d->name, name, len) && !d->name[len])
			return d;
	return NULL;
}

static int hash_grow(struct lr_sqw *w)
{
	size_t size = w->hash_size * 2;
	struct sqw_dentry **h = calloc(size, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < w->hash_size; i++) {
		struct sqw_dentry *d = w->hash[i], *next;
		for (; d; d = next) {
			next = d->hash_next;
			size_t j = hash_of(d->parent, d->name, strlen(d->name)) & (size - 1);
			d->hash_next = h[j];
			h[j] = d;
		}
	}
	free(w->hash);
	w->hash = h;
	w->hash_size = size;
	return 0;
}

static void hash_remove(struct lr_sqw *w, struct sqw_dentry *d)
{
	size_t i = hash_of(d->parent, d->name, strlen(d->name)) & (w->hash_size - 1);
	for (struct sqw_dentry **p = &w->hash[i]; *p; p = &(*p)->hash_next)
		if (*p == d) {
			*p = d->hash_next;
			w->n_dentries--;
			return;
		}
}

static struct sqw_inode *inode_new(struct lr_sqw *w)
{
	struct sqw_inode *in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	in->all_next = w->all_inodes;
	w->all_inodes = in;
	return in;
}

/* Set in's metadata from e (type excepted for directories merged). */
static int inode_set(struct sqw_inode *in, const struct lr_sqw_entry *e)
{
	in->mode = e->mode;
	in->uid = e->uid;
	in->gid = e->gid;
	in->mtime = e->mtime;
	in->rdev_major = e->rdev_major;
	in->rdev_minor = e->rdev_minor;
	free(in->target);
	in->target = NULL;
	if (S_ISLNK(e->mode) && !(in->target = strdup(e->target ? e->target : "")))
		return -ENOMEM;
	lr_xattrs_free(in->xattrs, in->n_xattrs);
	in->xattrs = NULL;
	in->n_xattrs = 0;
	for (size_t i = 0; i < e->n_xattrs; i++)
		if (lr_xattr_push(&in->xattrs, &in->n_xattrs, &e->xattrs[i]) < 0)
			return -ENOMEM;
	return 0;
}

static struct sqw_dentry *dentry_new(struct lr_sqw *w, struct sqw_dentry *parent, const char *name,
				     size_t len, struct sqw_inode *in)
{
	if (w->n_dentries >= w->hash_size && hash_grow(w) < 0)
		return NULL;
	struct sqw_dentry *d = calloc(1, sizeof(*d));
	if (!d || !(d->name = strndup(name, len))) {
		free(d);
		return NULL;
	}
	if (parent->n_children == parent->cap_children) {
		size_t cap = parent->cap_children ? parent->cap_children * 2 : 8;
		struct sqw_dentry **c = realloc(parent->children, cap * sizeof(*c));
		if (!c) {
			free(d->name);
			free(d);
			return NULL;
		}
		parent->children = c;
		parent->cap_children = cap;
	}
	parent->children[parent->n_children++] = d;
	d->parent = parent;
	d->inode = in;
	in->nlink++;
	size_t i = hash_of(parent, d->name, len) & (w->hash_size - 1);
	d->hash_next = w->hash[i];
	w->hash[i] = d;
	w->n_dentries++;
	return d;
}

/* Unlink d and everything under it (inodes stay allocated until the end:
 * the block processor may still be updating a file's). */
void sqw_dentry_drop(struct lr_sqw *w, struct sqw_dentry *d)
{
	for (size_t i = 0; i < d->n_children; i++)
		sqw_dentry_drop(w, d->children[i]);
	free(d->children);
	hash_remove(w, d);
	d->inode->nlink--;
	free(d->name);
	free(d);
}

static void dentry_detach(struct lr_sqw *w, struct sqw_dentry *d)
{
	struct sqw_dentry *p = d->parent;
	for (size_t i = 0; i < p->n_children; i++)
		if (p->children[i] == d) {
			memmove(&p->children[i], &p->children[i + 1],
				(p->n_children - i - 1) * sizeof(*p->children));
			p->n_children--;
			break;
		}
	sqw_dentry_drop(w, d);
}

/* The directory holding path's last component, made as needed; *name and
 * *len: that component.  NULL with err set when a parent is not a
 * directory. */
static struct sqw_dentry *parent_dir(struct lr_sqw *w, const char *path, const char **name,
				     size_t *len, struct lr_error *err)
{
	struct sqw_dentry *dir = w->root;
	const char *p = path;
	for (;;) {
		const char *slash = strchr(p, '/');
		if (!slash) {
			*name = p;
			*len = strlen(p);
			return dir;
		}
		size_t n = (size_t)(slash - p);
		struct sqw_dentry *d = child_of(w, dir, p, n);
		if (!d) {
			struct sqw_inode *in = inode_new(w);
			if (!in || !(d = dentry_new(w, dir, p, n, in))) {
				lr_error_errno(err, ENOMEM, "%s", path);
				return NULL;
			}
			in->mode = S_IFDIR | 0755;
		} else if (!S_ISDIR(d->inode->mode)) {
			lr_error_set(err, ENOTDIR, "%s: parent %.*s is %s, not a directory", path,
				     (int)(slash - path), path,
				     S_ISLNK(d->inode->mode) ? "a symbolic link" : "a file");
			return NULL;
		}
		dir = d;
		p = slash + 1;
	}
}

static struct sqw_dentry *lookup(const struct lr_sqw *w, const char *path)
{
	struct sqw_dentry *d = w->root;
	const char *p = path;
	while (*p && d) {
		const char *end = strchrnul(p, '/');
		d = child_of(w, d, p, (size_t)(end - p));
		p = *end ? end + 1 : end;
	}
	return d;
}

mode_t lr_sqw_mode(const struct lr_sqw *w, const char *path)
{
	const struct sqw_dentry *d = lookup(w, path);
	return d ? d->inode->mode : 0;
}

int lr_sqw_add(struct lr_sqw *w, const struct lr_sqw_entry *e, struct lr_error *err)
{
	if (w->in_file)
		return lr_error_set(err, EINVAL, "%s: added inside another file's data", e->path);
	if (!lr_path_is_clean(e->path))
		return unclean(err, e->path);
	mode_t type = e->mode & S_IFMT;
	if (!type)
		return lr_error_set(err, EINVAL, "%s: no file type", e->path);
	if (!*e->path) { /* the root */
		if (!S_ISDIR(e->mode))
			return lr_error_set(err, EINVAL, "/: the root must be a directory");
		w->root->drop_if_empty = false;
		return inode_set(w->root->inode, e) < 0 ? lr_error_errno(err, ENOMEM, "/") : 0;
	}
	const char *name;
	size_t len;
	struct sqw_dentry *dir = parent_dir(w, e->path, &name, &len, err);
	if (!dir)
		return -ENOTDIR;
	struct sqw_dentry *d = child_of(w, dir, name, len);
	if (d && S_ISDIR(d->inode->mode) && S_ISDIR(e->mode)) {
		d->drop_if_empty = e->drop_if_empty;
		return inode_set(d->inode, e) < 0 ? lr_error_errno(err, ENOMEM, "%s", e->path) : 0;
	}
	if (d)
		dentry_detach(w, d);
	struct sqw_inode *in = inode_new(w);
	if (!in || inode_set(in, e) < 0 || !(d = dentry_new(w, dir, name, len, in)))
		return lr_error_errno(err, ENOMEM, "%s", e->path);
	d->drop_if_empty = S_ISDIR(e->mode) && e->drop_if_empty;
	if (S_ISREG(e->mode)) {
		int r = sqfs_block_processor_begin_file(w->proc, &in->file, NULL, w->blk_flags);
		if (r)
			return sqw_fail(err, r, w, e->path);
		w->in_file = true;
	}
	return 0;
}

int lr_sqw_write(struct lr_sqw *w, const void *buf, size_t len, struct lr_error *err)
{
	if (!w->in_file)
		return lr_error_set(err, EINVAL, "data outside a file");
	int r = sqfs_block_processor_append(w->proc, buf, len);
	if (r)
		return sqw_fail(err, r, w, "write data");
	w->data_bytes += len;
	return 0;
}

int lr_sqw_end(struct lr_sqw *w, struct lr_error *err)
{
	if (!w->in_file)
		return lr_error_set(err, EINVAL, "end outside a file");
	w->in_file = false;
	int r = sqfs_block_processor_end_file(w->proc);
	return r ? sqw_fail(err, r, w, "write data") : 0;
}

int lr_sqw_link(struct lr_sqw *w, const char *path, const char *target, struct lr_error *err)
{
	if (!lr_path_is_clean(path) || !*path)
		return unclean(err, path);
	if (!lr_path_is_clean(target))
		return unclean(err, target);
	struct sqw_dentry *t = lookup(w, target);
	if (!t)
		return lr_error_set(err, ENOENT, "%s: hard link to %s, which is not there", path,
				    target);
	if (S_ISDIR(t->inode->mode))
		return lr_error_set(err, EISDIR, "%s: hard link to directory %s", path, target);
	if (!strcmp(path, target))
		return 0;
	const char *name;
	size_t len;
	struct sqw_dentry *dir = parent_dir(w, path, &name, &len, err);
	if (!dir)
		return -ENOTDIR;
	struct sqw_dentry *d = child_of(w, dir, name, len);
	if (d)
		dentry_detach(w, d);
	if (!dentry_new(w, dir, name, len, t->inode))
		return lr_error_errno(err, ENOMEM, "%s", path);
	return 0;
}

int lr_sqw_set_xattr(struct lr_sqw *w, const char *path, const char *name, const void *value,
		     size_t len, struct lr_error *err)
{
	if (!lr_path_is_clean(path))
		return unclean(err, path);
	struct sqw_dentry *d = lookup(w, path);
	if (!d) {
		struct lr_sqw_entry e = {.path = path, .mode = S_IFDIR | 0755};
		int r = lr_sqw_add(w, &e, err);
		if (r < 0)
			return r;
		d = lookup(w, path);
	}
	struct sqw_inode *in = d->inode;
	const struct lr_xattr x = {.name = (char *)name, .value = (char *)value, .len = len};
	for (size_t i = 0; i < in->n_xattrs; i++)
		if (!strcmp(in->xattrs[i].name, name)) {
			char *copy = malloc(len ? len : 1);
			if (!copy)
				return lr_error_errno(err, ENOMEM, "%s", path);
			memcpy(copy, value, len);
			free(in->xattrs[i].value);
			in->xattrs[i].value = copy;
			in->xattrs[i].len = len;
			return 0;
		}
	return lr_xattr_push(&in->xattrs, &in->n_xattrs, &x) < 0
		       ? lr_error_errno(err, ENOMEM, "%s", path)
		       : 0;
}

/* ------------------------------------------------------------ set-up */

int lr_sqw_create(struct lr_sqw **out, const char *path, const struct lr_sqw_options *o,
		  struct lr_error *err)
{
	*out = NULL;
	SQFS_COMPRESSOR id = 0;
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (!strcmp(o->compression, codecs[i].name))
			id = codecs[i].id;
	if (!id)
		return lr_error_set(err, EINVAL,
				    "unknown compression '%s' (gzip, lz4, zstd, xz or none)",
				    o->compression);
	size_t bs = o->block_size;
	if (bs < 4096 || bs > 1024 * 1024 || (bs & (bs - 1)))
		return lr_error_set(err, EINVAL,
				    "block size %zu: must be a power of two from 4K to 1M", bs);

	struct lr_sqw *w = calloc(1, sizeof(*w));
	if (!w)
		return lr_error_errno(err, ENOMEM, "%s", path);
	w->path = strdup(path);
	w->hash_size = 1024;
	w->hash = calloc(w->hash_size, sizeof(*w->hash));
	w->root = calloc(1, sizeof(*w->root));
	struct sqw_inode *root_inode = inode_new(w);
	if (!w->path || !w->hash || !w->root || !root_inode || !(w->root->name = strdup(""))) {
		lr_sqw_free(w);
		return lr_error_errno(err, ENOMEM, "%s", path);
	}
	root_inode->mode = S_IFDIR | 0755;
	root_inode->nlink = 1;
	w->root->inode = root_inode;

	int r;
	const char *what = "create compressor";
	sqfs_compressor_config_t cfg, ucfg;
	if ((r = sqfs_compressor_config_init(&cfg, id, bs, 0)) ||
	    (r = sqfs_compressor_config_init(&ucfg, id, bs, SQFS_COMP_FLAG_UNCOMPRESS)) ||
	    (r = sqfs_compressor_create(&cfg, &w->cmp)) ||
	    (r = sqfs_compressor_create(&ucfg, &w->uncmp)))
		goto fail;
	errno = 0;
	what = "create";
	if (!(w->file = sqfs_open_file(path, SQFS_FILE_OPEN_OVERWRITE))) {
		r = SQFS_ERROR_IO;
		goto fail;
	}
	what = "write superblock";
	if ((r = sqfs_super_init(&w->super, bs, 0, id)) ||
	    (r = sqfs_super_write(&w->super, w->file)))
		goto fail;
	if ((r = w->cmp->write_options(w->cmp, w->file)) < 0)
		goto fail;
	if (r > 0)
		w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;
	if (!strcmp(o->compression, "none")) {
		/* Data stored as is, each file in blocks of its own: labrun
		 * then reads such a layer without any copy through a cache. */
		w->blk_flags = SQFS_BLK_DONT_COMPRESS | SQFS_BLK_DONT_FRAGMENT;
		w->super.flags |= SQFS_FLAG_UNCOMPRESSED_DATA | SQFS_FLAG_NO_FRAGMENTS;
	}
	what = "set up";
	r = SQFS_ERROR_ALLOC;
	if (!(w->blkwr = sqfs_block_writer_create(w->file, DEVBLK_SIZE, 0)) ||
	    !(w->fragtbl = sqfs_frag_table_create(0)) || !(w->idtbl = sqfs_id_table_create(0)) ||
	    !(w->xwr = sqfs_xattr_writer_create(0)) ||
	    !(w->im = sqfs_meta_writer_create(w->file, w->cmp, 0)) ||
	    !(w->dm = sqfs_meta_writer_create(w->file, w->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY)) ||
	    !(w->dirwr = sqfs_dir_writer_create(w->dm, 0)))
		goto fail;
	unsigned workers = o->workers;
	if (!workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		workers = n < 1 ? 1 : n > 16 ? 16 : (unsigned)n;
	}
	sqfs_block_processor_desc_t desc = {
		.size = sizeof(desc),
		.max_block_size = (sqfs_u32)bs,
		.num_workers = workers,
		.max_backlog = 10 * workers,
		.cmp = w->cmp,
		.wr = w->blkwr,
		.tbl = w->fragtbl,
		.file = w->file,
		.uncmp = w->uncmp,
	};
	if ((r = sqfs_block_processor_create_ex(&desc, &w->proc)))
		goto fail;
	*out = w;
	return 0;
fail:;
	int e = sqw_fail(err, r, w, what);
	lr_sqw_free(w);
	unlink(path);
	return e;
}

static void destroy(void *obj)
{
	if (obj)
		sqfs_destroy(obj);
}

void lr_sqw_free(struct lr_sqw *w)
{
	if (!w)
		return;
	/* The processor first: its workers may hold inodes and the file. */
	destroy(w->proc);
	destroy(w->dirwr);
	destroy(w->dm);
	destroy(w->im);
	destroy(w->xwr);
	destroy(w->idtbl);
	destroy(w->fragtbl);
	destroy(w->blkwr);
	destroy(w->uncmp);
	destroy(w->cmp);
	destroy(w->file);
	if (w->root) {
		for (size_t i = 0; i < w->root->n_children; i++)
			sqw_dentry_drop(w, w->root->children[i]);
		free(w->root->children);
		free(w->root->name);
		free(w->root);
	}
	struct sqw_inode *in = w->all_inodes, *next;
	for (; in; in = next) {
		next = in->all_next;
		free(in->target);
		lr_xattrs_free(in->xattrs, in->n_xattrs);
		sqfs_free(in->file);
		free(in);
	}
	free(w->hash);
	free(w->path);
	free(w);
}
