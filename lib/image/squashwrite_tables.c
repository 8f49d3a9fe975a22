/* squashwrite_tables.c - the end of writing a layer (lr_sqw_finish()):
 * the tree settled (sorted, empty marked directories dropped, links
 * counted), inodes numbered, then the inode, directory, fragment, id and
 * xattr tables and the superblock written by libsquashfs.
 *
 * Inode numbers: every non-directory inode first, in depth-first order of
 * the sorted tree, then the directories in post-order, so the root is the
 * last inode and every directory is written after everything it lists (a
 * directory entry holds its child inode's position in the inode table).
 *
 * Runs as the user; needs no privilege: owners, modes and device numbers
 * are only recorded in the layer, never applied to anything on the host.
 */

#include "build-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "squashwrite_int.h"

/* ------------------------------------------------------------ writing */

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct sqw_dentry *const *)a)->name,
		      (*(struct sqw_dentry *const *)b)->name);
}

/* Sort, drop empty directories marked so, count directory links. */
static void settle(struct lr_sqw *w, struct sqw_dentry *d)
{
	size_t kept = 0;
	for (size_t i = 0; i < d->n_children; i++) {
		struct sqw_dentry *c = d->children[i];
		if (S_ISDIR(c->inode->mode)) {
			settle(w, c);
			if (c->drop_if_empty && c->n_children == 0) {
				sqw_dentry_drop(w, c);
				continue;
			}
		}
		d->children[kept++] = c;
	}
	d->n_children = kept;
	if (d->n_children > 1)
		qsort(d->children, d->n_children, sizeof(*d->children), by_name);
	uint32_t subdirs = 0;
	for (size_t i = 0; i < d->n_children; i++)
		subdirs += S_ISDIR(d->children[i]->inode->mode);
	d->inode->nlink = 2 + subdirs;
}

/* Non-directories, numbered on first sight, depth first; collected in out. */
static void number_files(struct lr_sqw *w, struct sqw_dentry *d, struct sqw_inode **out, size_t *n)
{
	for (size_t i = 0; i < d->n_children; i++) {
		struct sqw_inode *in = d->children[i]->inode;
		if (S_ISDIR(in->mode))
			number_files(w, d->children[i], out, n);
		else if (!in->number) {
			in->number = ++w->next_number;
			out[(*n)++] = in;
		}
	}
}

static void number_dirs(struct lr_sqw *w, struct sqw_dentry *d)
{
	for (size_t i = 0; i < d->n_children; i++)
		if (S_ISDIR(d->children[i]->inode->mode))
			number_dirs(w, d->children[i]);
	d->inode->number = ++w->next_number;
}

static int xattr_index(struct lr_sqw *w, const struct sqw_inode *in, sqfs_u32 *idx)
{
	*idx = 0xFFFFFFFF;
	if (!in->n_xattrs)
		return 0;
	int r = sqfs_xattr_writer_begin(w->xwr, 0);
	for (size_t i = 0; !r && i < in->n_xattrs; i++)
		r = sqfs_xattr_writer_add(w->xwr, in->xattrs[i].name, in->xattrs[i].value,
					  in->xattrs[i].len);
	return r ? r : sqfs_xattr_writer_end(w->xwr, idx);
}

/* Common fields, then the inode into the inode table. */
static int put_inode(struct lr_sqw *w, struct sqw_inode *in, sqfs_inode_generic_t *g,
		     sqfs_u32 xattr)
{
	g->base.mode = (sqfs_u16)in->mode;
	g->base.mod_time = in->mtime < 0	    ? 0
			   : in->mtime > UINT32_MAX ? UINT32_MAX
						    : (sqfs_u32)in->mtime;
	g->base.inode_number = in->number;
	int r = sqfs_inode_set_xattr_index(g, xattr);
	if (!r)
		r = sqfs_id_table_id_to_index(w->idtbl, in->uid, &g->base.uid_idx);
	if (!r)
		r = sqfs_id_table_id_to_index(w->idtbl, in->gid, &g->base.gid_idx);
	if (r)
		return r;
	sqfs_u64 block;
	sqfs_u32 offset;
	sqfs_meta_writer_get_position(w->im, &block, &offset);
	in->ref = (block << 16) | offset;
	return sqfs_meta_writer_write_inode(w->im, g);
}

static int write_file_inode(struct lr_sqw *w, struct sqw_inode *in)
{
	sqfs_u32 xattr;
	int r = xattr_index(w, in, &xattr);
	if (r)
		return r;
	if (S_ISREG(in->mode)) {
		sqfs_inode_generic_t *g = in->file;
		if (in->nlink > 1 && g->base.type == SQFS_INODE_FILE &&
		    (r = sqfs_inode_make_extended(g)))
			return r;
		if (g->base.type == SQFS_INODE_EXT_FILE)
			g->data.file_ext.nlink = in->nlink;
		return put_inode(w, in, g, xattr);
	}
	size_t extra = S_ISLNK(in->mode) ? strlen(in->target) : 0;
	sqfs_inode_generic_t *g = calloc(1, sizeof(*g) + extra);
	if (!g)
		return SQFS_ERROR_ALLOC;
	switch (in->mode & S_IFMT) {
	case S_IFLNK:
		g->base.type = SQFS_INODE_SLINK;
		g->data.slink.nlink = in->nlink;
		g->data.slink.target_size = (sqfs_u32)extra;
		memcpy(g->extra, in->target, extra);
		break;
	case S_IFCHR:
	case S_IFBLK:
		g->base.type = S_ISCHR(in->mode) ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
		g->data.dev.nlink = in->nlink;
		/* squashfs keeps the kernel's old encoding of dev_t */
		g->data.dev.devno = (sqfs_u32)((in->rdev_minor & 0xff) | (in->rdev_major << 8) |
					       ((in->rdev_minor & ~0xffu) << 12));
		break;
	case S_IFIFO:
	case S_IFSOCK:
		g->base.type = S_ISFIFO(in->mode) ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
		g->data.ipc.nlink = in->nlink;
		break;
	default: free(g); return SQFS_ERROR_UNSUPPORTED;
	}
	r = put_inode(w, in, g, xattr);
	free(g);
	return r;
}

static int write_dirs(struct lr_sqw *w, struct sqw_dentry *d, sqfs_u32 parent_number)
{
	int r;
	for (size_t i = 0; i < d->n_children; i++)
		if (S_ISDIR(d->children[i]->inode->mode) &&
		    (r = write_dirs(w, d->children[i], d->inode->number)))
			return r;
	if ((r = sqfs_dir_writer_begin(w->dirwr, 0)))
		return r;
	for (size_t i = 0; i < d->n_children; i++) {
		const struct sqw_inode *c = d->children[i]->inode;
		if ((r = sqfs_dir_writer_add_entry(w->dirwr, d->children[i]->name, c->number,
						   c->ref, (sqfs_u16)c->mode)))
			return r;
	}
	if ((r = sqfs_dir_writer_end(w->dirwr)))
		return r;
	sqfs_u32 xattr;
	if ((r = xattr_index(w, d->inode, &xattr)))
		return r;
	sqfs_inode_generic_t *g =
		sqfs_dir_writer_create_inode(w->dirwr, d->inode->nlink, xattr, parent_number);
	if (!g)
		return SQFS_ERROR_ALLOC;
	if (g->base.type == SQFS_INODE_DIR)
		g->data.dir.nlink = d->inode->nlink;
	else
		g->data.dir_ext.nlink = d->inode->nlink;
	r = put_inode(w, d->inode, g, xattr);
	sqfs_free(g);
	return r;
}

int lr_sqw_finish(struct lr_sqw *w, struct lr_error *err)
{
	if (w->in_file)
		return lr_error_set(err, EINVAL, "%s: finished inside a file", w->path);
	int r = sqfs_block_processor_finish(w->proc);
	if (r)
		return sqw_fail(err, r, w, "write data");

	settle(w, w->root);
	struct sqw_inode **files = calloc(w->n_dentries + 1, sizeof(*files));
	if (!files)
		return lr_error_errno(err, ENOMEM, "%s", w->path);
	size_t n_files = 0;
	for (struct sqw_inode *in = w->all_inodes; in; in = in->all_next)
		in->number = 0;
	w->next_number = 0;
	number_files(w, w->root, files, &n_files);
	number_dirs(w, w->root);
	w->super.inode_count = w->next_number;

	w->super.inode_table_start = w->file->get_size(w->file);
	for (size_t i = 0; i < n_files && !r; i++)
		r = write_file_inode(w, files[i]);
	free(files);
	if (r)
		return sqw_fail(err, r, w, "write inodes");
	if ((r = write_dirs(w, w->root, w->next_number + 1)))
		return sqw_fail(err, r, w, "write directories");
	if ((r = sqfs_meta_writer_flush(w->im)) || (r = sqfs_meta_writer_flush(w->dm)))
		return sqw_fail(err, r, w, "write inode table");
	w->super.root_inode_ref = w->root->inode->ref;
	w->super.directory_table_start = w->file->get_size(w->file);
	if ((r = sqfs_meta_write_write_to_file(w->dm)))
		return sqw_fail(err, r, w, "write directory table");
	if ((r = sqfs_frag_table_write(w->fragtbl, w->file, &w->super, w->cmp)))
		return sqw_fail(err, r, w, "write fragment table");
	if ((r = sqfs_id_table_write(w->idtbl, w->file, &w->super, w->cmp)))
		return sqw_fail(err, r, w, "write id table");
	if ((r = sqfs_xattr_writer_flush(w->xwr, w->file, &w->super, w->cmp)))
		return sqw_fail(err, r, w, "write xattr table");
	w->super.bytes_used = w->file->get_size(w->file);
	if ((r = sqfs_super_write(&w->super, w->file)))
		return sqw_fail(err, r, w, "write superblock");
	size_t pad = (size_t)(w->super.bytes_used % DEVBLK_SIZE);
	if (pad) {
		static const char zeros[DEVBLK_SIZE];
		errno = 0;
		if ((r = w->file->write_at(w->file, w->super.bytes_used, zeros, DEVBLK_SIZE - pad)))
			return sqw_fail(err, r, w, "pad");
	}
	return 0;
}

void lr_sqw_stats(const struct lr_sqw *w, uint64_t *inodes, uint64_t *data_bytes)
{
	*inodes = w->super.inode_count;
	*data_bytes = w->data_bytes;
}
