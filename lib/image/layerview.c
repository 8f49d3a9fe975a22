/* layerview.c - the merged view of a layer chain (layerview.h). */
#include "build-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerview.h"
#include "squash.h"

static void node_free(struct lr_vnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_children; i++)
		node_free(n->children[i]);
	free(n->children);
	lr_xattrs_free(n->xattrs, n->n_xattrs);
	free(n->target);
	free(n->name);
	free(n);
}

/* strcmp(s, name[0..len)) */
static int cmp_name(const char *s, const char *name, size_t len)
{
	int c = strncmp(s, name, len);
	return c ? c : s[len] != '\0';
}

/* Binary search; *at: where name is or would go. */
static struct lr_vnode *find(const struct lr_vnode *dir, const char *name, size_t len, size_t *at)
{
	size_t lo = 0, hi = dir->n_children;
	/* Walks give names in order: the common case is "after the last". */
	if (hi > 0 && cmp_name(dir->children[hi - 1]->name, name, len) < 0) {
		*at = hi;
		return NULL;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_name(dir->children[mid]->name, name, len);
		if (c == 0) {
			*at = mid;
			return dir->children[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return NULL;
}

struct lr_vnode *lr_view_lookup(const struct lr_view *v, const char *path)
{
	struct lr_vnode *n = v->root;
	const char *p = path;
	while (*p && n) {
		const char *end = strchrnul(p, '/');
		size_t at;
		n = S_ISDIR(n->mode) ? find(n, p, (size_t)(end - p), &at) : NULL;
		p = *end ? end + 1 : end;
	}
	return n;
}

static bool has_opaque(const struct lr_squash_entry *e)
{
	for (size_t i = 0; i < e->n_xattrs; i++)
		if (lr_xattr_is_opaque(&e->xattrs[i]))
			return true;
	return false;
}

/* Copy e's metadata into n (children untouched). */
static int node_set(struct lr_vnode *n, const struct lr_squash_entry *e, size_t layer)
{
	n->mode = e->mode;
	n->uid = e->uid;
	n->gid = e->gid;
	n->mtime = e->mtime;
	n->size = e->size;
	n->rdev_major = e->rdev_major;
	n->rdev_minor = e->rdev_minor;
	n->layer = layer;
	n->id = e->id;
	free(n->target);
	n->target = NULL;
	if (e->target && !(n->target = strdup(e->target)))
		return -ENOMEM;
	lr_xattrs_free(n->xattrs, n->n_xattrs);
	n->xattrs = NULL;
	n->n_xattrs = 0;
	for (size_t i = 0; i < e->n_xattrs; i++)
		if (!lr_xattr_is_overlay(e->xattrs[i].name) &&
		    lr_xattr_push(&n->xattrs, &n->n_xattrs, &e->xattrs[i]) < 0)
			return -ENOMEM;
	return 0;
}

struct load {
	struct lr_view *v;
	size_t layer;
	const char *layer_name;
};

static int load_entry(void *ctx, const struct lr_squash_entry *e, struct lr_error *err)
{
	struct load *ld = ctx;
	struct lr_view *v = ld->v;
	if (!*e->path) {
		if (!v->root && !(v->root = calloc(1, sizeof(*v->root))))
			return lr_error_errno(err, ENOMEM, "%s", ld->layer_name);
		if (node_set(v->root, e, ld->layer) < 0)
			return lr_error_errno(err, ENOMEM, "%s", ld->layer_name);
		return 0;
	}
	if (!strcmp(e->path, ".labrun") || !strncmp(e->path, ".labrun/", 8))
		return 0;
	/* The parent: absent when a lower layer's whiteout or a non-directory
	 * hides it, which a sane layer never does; such entries are as
	 * invisible to overlayfs as they are here. */
	const char *slash = strrchr(e->path, '/');
	const char *name = slash ? slash + 1 : e->path;
	struct lr_vnode *dir = v->root;
	if (slash) {
		char *parent = strndup(e->path, (size_t)(slash - e->path));
		if (!parent)
			return lr_error_errno(err, ENOMEM, "%s", ld->layer_name);
		dir = lr_view_lookup(v, parent);
		free(parent);
	}
	if (!dir || !S_ISDIR(dir->mode))
		return 0;
	size_t len = strlen(name), at;
	struct lr_vnode *n = find(dir, name, len, &at);
	bool whiteout = S_ISCHR(e->mode) && e->rdev_major == 0 && e->rdev_minor == 0;
	if (whiteout) {
		if (n) {
			node_free(n);
			memmove(&dir->children[at], &dir->children[at + 1],
				(dir->n_children - at - 1) * sizeof(*dir->children));
			dir->n_children--;
		}
		return 0;
	}
	bool merge = n && S_ISDIR(n->mode) && S_ISDIR(e->mode) && !has_opaque(e);
	if (n && !merge) {
		node_free(n);
		n = NULL;
		memmove(&dir->children[at], &dir->children[at + 1],
			(dir->n_children - at - 1) * sizeof(*dir->children));
		dir->n_children--;
	}
	if (!n) {
		if (dir->n_children == dir->cap_children) {
			size_t cap = dir->cap_children ? dir->cap_children * 2 : 8;
			struct lr_vnode **c = realloc(dir->children, cap * sizeof(*c));
			if (!c)
				return lr_error_errno(err, ENOMEM, "%s", ld->layer_name);
			dir->children = c;
			dir->cap_children = cap;
		}
		if (!(n = calloc(1, sizeof(*n))) || !(n->name = strdup(name))) {
			free(n);
			return lr_error_errno(err, ENOMEM, "%s", ld->layer_name);
		}
		memmove(&dir->children[at + 1], &dir->children[at],
			(dir->n_children - at) * sizeof(*dir->children));
		dir->children[at] = n;
		dir->n_children++;
		v->entries++;
	}
	if (node_set(n, e, ld->layer) < 0)
		return lr_error_errno(err, ENOMEM, "%s", ld->layer_name);
	return 0;
}

int lr_view_load(struct lr_view *v, const struct lr_chain *chain, struct lr_error *err)
{
	memset(v, 0, sizeof(*v));
	v->chain = chain;
	for (size_t i = chain->n; i-- > 0;) {
		struct load ld = {.v = v, .layer = i, .layer_name = chain->layers[i].path};
		int r = lr_squash_walk(chain->layers[i].sq, load_entry, &ld, err);
		if (r) {
			lr_error_prefix(err, "%s", chain->layers[i].path);
			lr_view_free(v);
			return r < 0 ? r : -EIO;
		}
	}
	return 0;
}

void lr_view_free(struct lr_view *v)
{
	node_free(v->root);
	v->root = NULL;
}

long lr_view_pread(const struct lr_view *v, const struct lr_vnode *n, uint64_t off, void *buf,
		   size_t len)
{
	return lr_squash_pread(v->chain->layers[n->layer].sq, n->id, off, buf, len);
}

long lr_view_read(void *cursor, void *buf, size_t len, struct lr_error *err)
{
	struct lr_view_cursor *c = cursor;
	long n = lr_view_pread(c->view, c->node, c->off, buf, len);
	if (n < 0)
		return lr_error_set(err, EIO, "layer %zu: unreadable file", c->node->layer);
	c->off += (uint64_t)n;
	return n;
}

void lr_vnode_entry(const struct lr_vnode *n, const char *path, struct lr_sqw_entry *e)
{
	*e = (struct lr_sqw_entry){
		.path = path,
		.mode = n->mode,
		.uid = n->uid,
		.gid = n->gid,
		.mtime = n->mtime,
		.size = n->size,
		.rdev_major = n->rdev_major,
		.rdev_minor = n->rdev_minor,
		.target = n->target,
		.xattrs = n->xattrs,
		.n_xattrs = n->n_xattrs,
	};
}

bool lr_xattrs_equal(const struct lr_xattr *a, size_t na, const struct lr_xattr *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		size_t j = 0;
		while (j < nb && strcmp(a[i].name, b[j].name))
			j++;
		if (j == nb || a[i].len != b[j].len || memcmp(a[i].value, b[j].value, a[i].len))
			return false;
	}
	return true;
}
