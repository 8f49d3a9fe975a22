/* layerbuild.c - one layer from a stream of entries (layerbuild.h). */
#include "build-config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerbuild.h"

#define CHUNK (128 * 1024)

struct lr_build {
	struct lr_sqw *w;
	const struct lr_view *parent;
	bool input_is_diff;
	struct lr_idmap owners;
	char **opaque; /* directories to mark opaque at the end */
	size_t n_opaque;
	char *a, *b; /* CHUNK bytes each: input, parent */
	uint64_t stored, same, deleted;
	uint64_t deleted_top; /* whiteouts in the root directory */
	bool keep_special;
	struct lr_build_special special;
	/* Paths of the devices dropped (tsearch tree of strings): a hard link
	 * to one is dropped too, not refused as a link to nothing. */
	void *dropped;
};

/* ------------------------------------------------------------ owners */

int lr_idmap_parse(struct lr_idmap *m, const char *spec, struct lr_error *err)
{
	memset(m, 0, sizeof(*m));
	if (!strcmp(spec, "keep"))
		return 0;
	if (!strcmp(spec, "root")) {
		m->all_to = true;
		return 0;
	}
	if (!*spec)
		goto bad;
	const char *p = spec;
	while (*p) {
		if (m->n == LR_IDMAP_MAX)
			return lr_error_set(err, EINVAL, "owner map '%s': more than %d ranges",
					    spec, LR_IDMAP_MAX);
		unsigned long v[3] = {0, 0, 1};
		int k = 0;
		for (;;) {
			char *end;
			errno = 0;
			if (*p < '0' || *p > '9')
				goto bad;
			v[k] = strtoul(p, &end, 10);
			if (errno || v[k] > UINT32_MAX)
				goto bad;
			p = end;
			k++;
			if (*p != ':' || k == 3)
				break;
			p++;
		}
		if (k < 2 || v[2] == 0 || v[0] + v[2] - 1 > UINT32_MAX ||
		    v[1] + v[2] - 1 > UINT32_MAX)
			goto bad;
		m->range[m->n].from = (uint32_t)v[0];
		m->range[m->n].to = (uint32_t)v[1];
		m->range[m->n].count = (uint32_t)v[2];
		m->n++;
		if (*p == ',' && p[1])
			p++;
		else if (*p)
			goto bad;
	}
	return 0;
bad:
	return lr_error_set(err, EINVAL,
			    "owner map '%s': expected keep, root, or FROM:TO[:COUNT] ranges "
			    "separated by commas",
			    spec);
}

uint32_t lr_idmap_apply(const struct lr_idmap *m, uint32_t id)
{
	if (m->all_to)
		return m->all_to_id;
	for (size_t i = 0; i < m->n; i++)
		if (id >= m->range[i].from && id - m->range[i].from < m->range[i].count)
			return m->range[i].to + (id - m->range[i].from);
	return id;
}

/* ------------------------------------------------------------ entries */

static bool is_whiteout(const struct lr_sqw_entry *e)
{
	return S_ISCHR(e->mode) && e->rdev_major == 0 && e->rdev_minor == 0;
}

/* The file capability xattr (capabilities(7), "File capabilities"). */
#define CAPS_XATTR "security.capability"

static void note(uint64_t *count, char *example, const char *path)
{
	if ((*count)++ == 0)
		snprintf(example, LR_BUILD_EXAMPLE_MAX, "%s", path);
}

/* Drop overlay.* xattrs from e (they are layer mechanics), and count the
 * file capabilities and drop them unless kept (layerbuild.h); report
 * whether an overlay xattr made the directory opaque. */
static bool strip_xattrs(struct lr_build *b, struct lr_sqw_entry *e, struct lr_xattr *keep)
{
	bool opaque = false, caps = false;
	size_t n = 0;
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const struct lr_xattr *x = &e->xattrs[i];
		if (lr_xattr_is_overlay(x->name)) {
			opaque |= lr_xattr_is_opaque(x);
			continue;
		}
		if (!strcmp(x->name, CAPS_XATTR)) {
			caps = true;
			if (!b->keep_special)
				continue;
		}
		keep[n++] = *x;
	}
	if (caps)
		note(&b->special.caps, b->special.caps_example, e->path);
	e->xattrs = keep;
	e->n_xattrs = n;
	return opaque;
}

static bool is_device(const struct lr_sqw_entry *e)
{
	return (S_ISCHR(e->mode) || S_ISBLK(e->mode)) && !is_whiteout(e);
}

/* Count e if special; unless kept, clear its set-id bits, or say that e,
 * a device node, is left out (false) and remember it for hard links to it
 * (layerbuild.h).  The xattrs are strip_xattrs()'s. */
static int disarm(struct lr_build *b, struct lr_sqw_entry *e, bool *store_it, struct lr_error *err)
{
	*store_it = true;
	if (is_device(e)) {
		note(&b->special.devices, b->special.device_example, e->path);
		if (b->keep_special)
			return 0;
		*store_it = false;
		char *copy = strdup(e->path);
		void *slot = copy ? tsearch(copy, &b->dropped,
					    (int (*)(const void *, const void *))strcmp)
				  : NULL;
		if (!slot) {
			free(copy);
			return lr_error_errno(err, ENOMEM, "%s", e->path);
		}
		if (*(char **)slot != copy)
			free(copy); /* dropped before */
		return 0;
	}
	/* setgid on a directory only hands its group to new files: kept. */
	mode_t setid = S_ISDIR(e->mode) ? S_ISUID : S_ISUID | S_ISGID;
	if (e->mode & setid) {
		note(&b->special.setid, b->special.setid_example, e->path);
		if (!b->keep_special)
			e->mode &= ~setid;
	}
	return 0;
}

static bool was_dropped(const struct lr_build *b, const char *path)
{
	return b->dropped &&
	       tfind(path, &b->dropped, (int (*)(const void *, const void *))strcmp) != NULL;
}

static int unclean(struct lr_error *err, const char *what, const char *path)
{
	char shown[LR_BUILD_EXAMPLE_MAX];
	lr_build_escape(path, shown, sizeof(shown));
	return lr_error_set(err, EINVAL,
			    "%s \"%s\": not a name a layer can hold (an empty, \".\" or "
			    "\"..\" component; refused)",
			    what, shown);
}

static bool same_meta(const struct lr_vnode *p, const struct lr_sqw_entry *e, uint64_t size)
{
	if (p->mode != e->mode || p->uid != e->uid || p->gid != e->gid || p->mtime != e->mtime)
		return false;
	if (!lr_xattrs_equal(p->xattrs, p->n_xattrs, e->xattrs, e->n_xattrs))
		return false;
	if (S_ISREG(e->mode))
		return p->size == size;
	if (S_ISLNK(e->mode))
		return p->target && e->target && !strcmp(p->target, e->target);
	if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
		return p->rdev_major == e->rdev_major && p->rdev_minor == e->rdev_minor;
	return true;
}

/* Fill buf from rd: short only at the end. */
static long read_full(lr_build_reader rd, void *ctx, char *buf, size_t len, struct lr_error *err)
{
	size_t got = 0;
	while (got < len) {
		long n = rd(ctx, buf + got, len - got, err);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long)got;
}

static int parent_read(struct lr_build *b, const struct lr_vnode *p, uint64_t off, char *buf,
		       size_t len, const char *path, struct lr_error *err)
{
	size_t got = 0;
	while (got < len) {
		long n = lr_view_pread(b->parent, p, off + got, buf + got, len - got);
		if (n <= 0)
			return lr_error_set(err, EIO, "parent's /%s: unreadable at byte %llu", path,
					    (unsigned long long)(off + got));
		got += (size_t)n;
	}
	return 0;
}

/* The parent's first len bytes of p into the file being written. */
static int replay_parent(struct lr_build *b, const struct lr_vnode *p, uint64_t len,
			 const char *path, struct lr_error *err)
{
	for (uint64_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
		int r = parent_read(b, p, off, b->b, n, path, err);
		if (r < 0 || (r = lr_sqw_write(b->w, b->b, n, err)) < 0)
			return r;
	}
	return 0;
}

static int copy_rest(struct lr_build *b, lr_build_reader rd, void *ctx, struct lr_error *err)
{
	for (;;) {
		long n = rd(ctx, b->a, CHUNK, err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return lr_sqw_end(b->w, err);
		int r = lr_sqw_write(b->w, b->a, (size_t)n, err);
		if (r < 0)
			return r;
	}
}

static int store(struct lr_build *b, const struct lr_sqw_entry *e, lr_build_reader rd, void *ctx,
		 struct lr_error *err)
{
	int r = lr_sqw_add(b->w, e, err);
	if (r < 0)
		return r;
	b->stored++;
	return S_ISREG(e->mode) ? copy_rest(b, rd, ctx, err) : 0;
}

/* A regular file whose metadata equals the parent's p: left out when the
 * content is equal too, else stored, the bytes already compared taken from
 * the parent (they are the same). */
static int store_if_changed(struct lr_build *b, const struct lr_sqw_entry *e,
			    const struct lr_vnode *p, lr_build_reader rd, void *ctx,
			    struct lr_error *err)
{
	uint64_t off = 0;
	for (;;) {
		long n = read_full(rd, ctx, b->a, CHUNK, err);
		if (n < 0)
			return (int)n;
		bool differs = off + (uint64_t)n > p->size;
		if (!differs && n > 0) {
			int r = parent_read(b, p, off, b->b, (size_t)n, e->path, err);
			if (r < 0)
				return r;
			differs = memcmp(b->a, b->b, (size_t)n) != 0;
		}
		if (n == 0 && off == p->size) {
			b->same++;
			return 0;
		}
		if (differs || n == 0) {
			int r = lr_sqw_add(b->w, e, err);
			if (r < 0 || (r = replay_parent(b, p, off, e->path, err)) < 0 ||
			    (n > 0 && (r = lr_sqw_write(b->w, b->a, (size_t)n, err)) < 0))
				return r;
			b->stored++;
			return n > 0 ? copy_rest(b, rd, ctx, err) : lr_sqw_end(b->w, err);
		}
		off += (uint64_t)n;
	}
}

/* Store the parent's entry at path, as is (a hard link needs its target
 * in this layer even when the target did not change). */
static int store_from_parent(struct lr_build *b, const char *path, struct lr_error *err)
{
	const struct lr_vnode *p = b->parent ? lr_view_lookup(b->parent, path) : NULL;
	if (!p)
		return lr_error_set(err, ENOENT, "%s: hard link to an entry that is not there",
				    path);
	struct lr_sqw_entry e;
	lr_vnode_entry(p, path, &e);
	if (e.n_xattrs > LR_BUILD_MAX_XATTRS)
		return lr_error_set(err, E2BIG, "%s: more than %d xattrs", path,
				    LR_BUILD_MAX_XATTRS);
	bool store_it;
	int r = disarm(b, &e, &store_it, err);
	if (r < 0 || !store_it)
		return r;
	struct lr_xattr keep[LR_BUILD_MAX_XATTRS];
	strip_xattrs(b, &e, keep);
	struct lr_view_cursor pr = {b->parent, p, 0};
	return store(b, &e, lr_view_read, &pr, err);
}

static bool reserved(const char *path)
{
	return !strcmp(path, ".labrun") || !strncmp(path, ".labrun/", 8);
}

static int drain(lr_build_reader rd, void *ctx, char *buf, struct lr_error *err)
{
	long n;
	while ((n = rd(ctx, buf, CHUNK, err)) > 0)
		;
	return (int)n;
}

int lr_build_entry(struct lr_build *b, struct lr_sqw_entry *e, lr_build_reader rd, void *ctx,
		   struct lr_error *err)
{
	if (!lr_path_is_clean(e->path))
		return unclean(err, "entry", e->path);
	if (reserved(e->path))
		return S_ISREG(e->mode) ? drain(rd, ctx, b->a, err) : 0;
	e->uid = lr_idmap_apply(&b->owners, e->uid);
	e->gid = lr_idmap_apply(&b->owners, e->gid);
	struct lr_xattr keep[LR_BUILD_MAX_XATTRS];
	if (e->n_xattrs > LR_BUILD_MAX_XATTRS)
		return lr_error_set(err, E2BIG, "%s: more than %d xattrs", e->path,
				    LR_BUILD_MAX_XATTRS);
	bool store_it;
	int r = disarm(b, e, &store_it, err);
	if (r < 0)
		return r;
	if (!store_it)
		return 0; /* a device node has no data to read */
	bool opaque = strip_xattrs(b, e, keep);
	if (!b->parent || b->input_is_diff) {
		if (opaque && S_ISDIR(e->mode) && lr_build_opaque(b, e->path, err) < 0)
			return -ENOMEM;
		return store(b, e, rd, ctx, err);
	}

	/* A full tree compared with the parent. */
	if (is_whiteout(e))
		return 0; /* absent from a full tree: made a whiteout at the end */
	struct lr_vnode *p = lr_view_lookup(b->parent, e->path);
	if (p) {
		p->seen = true;
		p->seen_dir = S_ISDIR(e->mode);
	}
	if (!p || !same_meta(p, e, e->size))
		return store(b, e, rd, ctx, err);
	if (S_ISDIR(e->mode)) {
		e->drop_if_empty = true;
		r = lr_sqw_add(b->w, e, err);
		if (r == 0)
			b->same++;
		return r;
	}
	if (S_ISREG(e->mode))
		return store_if_changed(b, e, p, rd, ctx, err);
	b->same++;
	return 0;
}

int lr_build_whiteout(struct lr_build *b, const char *path, struct lr_error *err)
{
	if (!*path || !lr_path_is_clean(path))
		return unclean(err, "whiteout of", path);
	if (reserved(path))
		return 0;
	if (b->parent && !b->input_is_diff)
		return 0; /* absence says it */
	struct lr_sqw_entry e = {.path = path, .mode = S_IFCHR};
	int r = lr_sqw_add(b->w, &e, err);
	if (r == 0)
		b->deleted++;
	return r;
}

int lr_build_opaque(struct lr_build *b, const char *path, struct lr_error *err)
{
	if (!lr_path_is_clean(path))
		return unclean(err, "opaque directory", path);
	if (b->parent && !b->input_is_diff)
		return 0;
	char **o = realloc(b->opaque, (b->n_opaque + 1) * sizeof(*o));
	if (!o)
		return lr_error_errno(err, ENOMEM, "%s", path);
	b->opaque = o;
	if (!(o[b->n_opaque] = strdup(path)))
		return lr_error_errno(err, ENOMEM, "%s", path);
	b->n_opaque++;
	return 0;
}

int lr_build_link(struct lr_build *b, const char *path, const char *target, struct lr_error *err)
{
	if (!*path || !lr_path_is_clean(path))
		return unclean(err, "hard link", path);
	if (!lr_path_is_clean(target))
		return unclean(err, "hard link target", target);
	if (reserved(path) || reserved(target))
		return 0;
	if (was_dropped(b, target)) {
		/* Another name of a device node left out: out too. */
		note(&b->special.devices, b->special.device_example, path);
		return 0;
	}
	if (b->parent && !b->input_is_diff) {
		struct lr_vnode *p = lr_view_lookup(b->parent, path);
		if (p) {
			p->seen = true;
			p->seen_dir = false;
		}
		if (!lr_sqw_mode(b->w, target)) {
			/* The target did not change; when the parent has this very
			 * link (both names on one inode of one layer), neither did
			 * the link. */
			const struct lr_vnode *t = lr_view_lookup(b->parent, target);
			if (p && t && S_ISREG(p->mode) && p->layer == t->layer && p->id == t->id) {
				b->same++;
				return 0;
			}
			int r = store_from_parent(b, target, err);
			if (r < 0)
				return r;
			if (was_dropped(b, target)) {
				note(&b->special.devices, b->special.device_example, path);
				return 0;
			}
		}
	}
	int r = lr_sqw_link(b->w, path, target, err);
	if (r == 0)
		b->stored++;
	return r;
}

/* ------------------------------------------------------------ the end */

/* Whiteouts for what the parent has and the full tree lacks, below the
 * directories the tree has. */
static int whiteouts(struct lr_build *b, const struct lr_vnode *dir, char *path, size_t len,
		     struct lr_error *err)
{
	for (size_t i = 0; i < dir->n_children; i++) {
		const struct lr_vnode *c = dir->children[i];
		size_t n = strlen(c->name);
		if (len + n + 2 > PATH_MAX)
			return lr_error_set(err, ENAMETOOLONG, "%s/%s: path too long", path,
					    c->name);
		size_t at = len;
		if (len)
			path[at++] = '/';
		memcpy(path + at, c->name, n + 1);
		int r = 0;
		if (!c->seen) {
			struct lr_sqw_entry e = {.path = path, .mode = S_IFCHR};
			if ((r = lr_sqw_add(b->w, &e, err)) == 0) {
				b->deleted++;
				b->deleted_top += len == 0;
			}
		} else if (c->seen_dir && S_ISDIR(c->mode)) {
			r = whiteouts(b, c, path, at + n, err);
		}
		path[len] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

static long mem_reader(void *ctx, void *buf, size_t len, struct lr_error *err)
{
	(void)err;
	const char **p = ctx;
	size_t n = strlen(*p);
	if (n > len)
		n = len;
	memcpy(buf, *p, n);
	*p += n;
	return (long)n;
}

int lr_build_finish(struct lr_build *b, const char *layer_json, struct lr_error *err)
{
	int r;
	if (b->parent && !b->input_is_diff) {
		char path[PATH_MAX] = "";
		if ((r = whiteouts(b, b->parent->root, path, 0, err)) < 0)
			return r;
	}
	static const char opaque_value[] = "y";
	for (size_t i = 0; i < b->n_opaque; i++) {
		mode_t m = lr_sqw_mode(b->w, b->opaque[i]);
		if (m && !S_ISDIR(m))
			continue; /* replaced by a later entry */
		if ((r = lr_sqw_set_xattr(b->w, b->opaque[i], "user.overlay.opaque", opaque_value,
					  1, err)) < 0)
			return r;
	}
	if (layer_json) {
		struct lr_sqw_entry dir = {.path = ".labrun", .mode = S_IFDIR | 0755};
		struct lr_sqw_entry file = {.path = ".labrun/layer.json", .mode = S_IFREG | 0644};
		const char *p = layer_json;
		if ((r = lr_sqw_add(b->w, &dir, err)) < 0 || (r = lr_sqw_add(b->w, &file, err)) < 0)
			return r;
		for (long n; (n = mem_reader(&p, b->a, CHUNK, err)) > 0;)
			if ((r = lr_sqw_write(b->w, b->a, (size_t)n, err)) < 0)
				return r;
		if ((r = lr_sqw_end(b->w, err)) < 0)
			return r;
	}
	return lr_sqw_finish(b->w, err);
}

int lr_build_begin(struct lr_build **out, const char *path, const struct lr_build_options *o,
		   struct lr_error *err)
{
	*out = NULL;
	struct lr_build *b = calloc(1, sizeof(*b));
	if (!b || !(b->a = malloc(CHUNK)) || !(b->b = malloc(CHUNK))) {
		lr_build_free(b);
		return lr_error_errno(err, ENOMEM, "%s", path);
	}
	b->parent = o->parent;
	b->input_is_diff = o->input_is_diff;
	b->owners = o->owners;
	b->keep_special = o->keep_special;
	int r = lr_sqw_create(&b->w, path, &o->sqw, err);
	if (r < 0) {
		lr_build_free(b);
		return r;
	}
	*out = b;
	return 0;
}

void lr_build_stats(const struct lr_build *b, uint64_t *stored, uint64_t *same, uint64_t *deleted,
		    uint64_t *deleted_top)
{
	*stored = b->stored;
	*same = b->same;
	*deleted = b->deleted;
	*deleted_top = b->deleted_top;
}

void lr_build_special(const struct lr_build *b, struct lr_build_special *out)
{
	*out = b->special;
}

void lr_build_special_add(struct lr_build_special *sum, const struct lr_build_special *s)
{
	const struct {
		uint64_t *to;
		char *to_example;
		uint64_t from;
		const char *from_example;
	} kinds[] = {
		{&sum->devices, sum->device_example, s->devices, s->device_example},
		{&sum->setid, sum->setid_example, s->setid, s->setid_example},
		{&sum->caps, sum->caps_example, s->caps, s->caps_example},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!kinds[i].from)
			continue;
		if (!*kinds[i].to)
			snprintf(kinds[i].to_example, LR_BUILD_EXAMPLE_MAX, "%s",
				 kinds[i].from_example);
		*kinds[i].to += kinds[i].from;
	}
}

void lr_build_escape(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain = *p >= 0x20 && *p < 0x7f && *p != '\\';
		size_t need = plain ? 1 : 4;
		if (o + need + 4 > size) { /* room for "..." and the NUL */
			if (o + 4 <= size) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (size)
		out[o < size ? o : size - 1] = '\0';
}

/* Append to buf at *at, never past size (the line is cut, not overrun). */
static void append(char *buf, size_t size, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *at, const char *fmt, ...)
{
	if (*at >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *at, size - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at += (size_t)n < size - *at ? (size_t)n : size - *at - 1;
}

bool lr_build_special_describe(const struct lr_build_special *s, char *buf, size_t size)
{
	const struct {
		uint64_t n;
		const char *example, *verb, *noun;
	} kinds[] = {
		{s->devices, s->device_example, "dropped", "device node"},
		{s->setid, s->setid_example, "cleared the setuid/setgid bits of", "file"},
		{s->caps, s->caps_example, "dropped the file capabilities of", "file"},
	};
	size_t at = 0;
	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!kinds[i].n)
			continue;
		char shown[LR_BUILD_EXAMPLE_MAX];
		lr_build_escape(kinds[i].example, shown, sizeof(shown));
		if (at)
			append(buf, size, &at, ", ");
		append(buf, size, &at, "%s %" PRIu64 " %s%s", kinds[i].verb, kinds[i].n,
		       kinds[i].noun, kinds[i].n == 1 ? "" : "s");
		if (*kinds[i].example)
			append(buf, size, &at, " (/%s%s)", shown, kinds[i].n > 1 ? ", ..." : "");
	}
	return at > 0;
}

void lr_build_free(struct lr_build *b)
{
	if (!b)
		return;
	tdestroy(b->dropped, free);
	lr_sqw_free(b->w);
	for (size_t i = 0; i < b->n_opaque; i++)
		free(b->opaque[i]);
	free(b->opaque);
	free(b->a);
	free(b->b);
	free(b);
}
