/* squash_xattr.c - the extended attributes of a user's squashfs file, as
 * getxattr(2) and listxattr(2) answer them through FUSE, as a walk
 * reports them, and the overlay.opaque test of a directory.
 *
 * Runs as the user, in the user's own process; the xattr tables were
 * checked by lr_squash_open() (squash_tree.c), and each count and size is
 * bounded again here. *
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

bool squash_is_opaque(sqfs *fs, sqfs_inode *inode)
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
	if (!sq->checked)
		return -EIO; /* lr_squash_check_all() first: squash.h */
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
	if (!sq->checked)
		return -EIO; /* lr_squash_check_all() first: squash.h */
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
int squash_xattrs(sqfs *fs, sqfs_inode *inode, struct lr_xattr **out, size_t *n)
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
