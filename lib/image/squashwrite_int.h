/* squashwrite_int.h - what the two parts of the layer writer share,
 * private to lib/image/squashwrite*.c: the tree kept in memory and the
 * writer's state.  squashwrite.c builds the tree and streams file data;
 * squashwrite_tables.c numbers the inodes and writes the tables at the end.
 * The API is squashwrite.h.  Runs as the user; needs no privilege.
 */
#ifndef LABRUN_SQUASHWRITE_INT_H
#define LABRUN_SQUASHWRITE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

#include "squashwrite.h"

#define DEVBLK_SIZE 4096 /* the image is padded to this */

struct sqw_inode {
	mode_t mode;
	uint32_t uid, gid;
	int64_t mtime;
	uint32_t rdev_major, rdev_minor;
	char *target;
	struct lr_xattr *xattrs;
	size_t n_xattrs;
	sqfs_inode_generic_t *file; /* regular files: kept up to date by the block processor */
	uint32_t nlink;		    /* names of it in the tree */
	uint32_t number;	    /* 0 until numbered in finish() */
	uint64_t ref;		    /* position in the inode table */
	struct sqw_inode *all_next; /* every inode ever made, freed at the end */
};

struct sqw_dentry {
	char *name;
	struct sqw_dentry *parent;
	struct sqw_inode *inode;
	struct sqw_dentry **children; /* directories only */
	size_t n_children, cap_children;
	struct sqw_dentry *hash_next;
	bool drop_if_empty;
};

struct lr_sqw {
	char *path;
	sqfs_file_t *file;
	sqfs_compressor_t *cmp, *uncmp;
	sqfs_block_writer_t *blkwr;
	sqfs_frag_table_t *fragtbl;
	sqfs_block_processor_t *proc;
	sqfs_id_table_t *idtbl;
	sqfs_xattr_writer_t *xwr;
	sqfs_meta_writer_t *im, *dm;
	sqfs_dir_writer_t *dirwr;
	sqfs_super_t super;
	sqfs_u32 blk_flags; /* for every file */

	struct sqw_dentry *root;
	struct sqw_inode *all_inodes;
	/* (parent, name) -> dentry, for lookups in large directories */
	struct sqw_dentry **hash;
	size_t hash_size, n_dentries;
	bool in_file; /* between lr_sqw_add() of a regular file and lr_sqw_end() */
	uint64_t data_bytes;
	uint32_t next_number;
};

/* libsquashfs's error e as a message "path: what: ..." and a negative
 * errno (squashwrite.c). */
int sqw_fail(struct lr_error *err, int e, const struct lr_sqw *w, const char *what);

/* Unlink d and everything under it from the tree (squashwrite.c). */
void sqw_dentry_drop(struct lr_sqw *w, struct sqw_dentry *d);

#endif
