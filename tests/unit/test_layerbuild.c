/* test_layerbuild.c - writing a layer (lib/image/squashwrite.c) and building one
 * from entries, tar streams and directories, alone or as a diff against a
 * parent chain (lib/image/layerbuild.c, lib/image/layersrc.c).  Every layer is read
 * back through lib/image/squash.c, field by field, and where squashfs-tools is
 * installed by unsquashfs too.
 *
 * Runs as any user: device nodes only ever reach a layer through the
 * writer or a tar made in memory, never through mknod on the host.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "digest.h"
#include "imageconfig.h"
#include "layerbuild.h"
#include "layers.h"
#include "layersrc.h"
#include "layerview.h"
#include "squash.h"
#include "squashwrite.h"

#define KiB 1024

static char tmp[] = "/tmp/labrun-test-layerbuild.XXXXXX";

/* ------------------------------------------------------------ helpers */

static int sh_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh_status(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* tmp/name, in one of 32 rotating buffers (keep a copy to hold it longer). */
static const char *tpath(const char *name)
{
	static char bufs[32][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 32];
	snprintf(b, PATH_MAX, "%s/%s", tmp, name);
	return b;
}

/* len bytes of test stream seed: incompressible and reproducible, so that
 * two files can share a prefix and then differ. */
static char *stream(uint32_t seed, size_t len)
{
	char *b = malloc(len ? len : 1);
	assert_non_null(b);
	for (size_t i = 0; i < len; i++) {
		uint64_t z = ((uint64_t)seed << 40) + i / 8 + 0x9E3779B97F4A7C15ULL;
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		z ^= z >> 31;
		b[i] = (char)(z >> (8 * (i % 8)));
	}
	return b;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	b[n] = '\0';
	*len = (size_t)n;
	return b;
}

static void spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static bool have(const char *tool)
{
	return sh_status("command -v %s >/dev/null 2>&1", tool) == 0;
}

/* A VFS_CAP_REVISION_2 security.capability value (cap_net_bind_service+ep):
 * binary, with NUL bytes inside. */
static const char cap_v2[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04};

/* ------------------------------------------------------------ a tree as a table */

/* One entry of a test tree: what goes into a layer, and what must come out. */
struct tentry {
	const char *path;
	mode_t mode;
	uint32_t uid, gid;
	int64_t mtime;
	/* Regular files: len bytes of stream(seed), the first prefix of them
	 * from stream(prefix_seed) instead; declared: the size the source
	 * claims (0: len). */
	uint32_t seed;
	size_t len, prefix;
	uint32_t prefix_seed;
	uint64_t declared;
	const char *target;
	uint32_t major, minor;
	const char *link; /* a hard link to this earlier path; nothing else set */
	const struct lr_xattr *xattrs;
	size_t n_xattrs;
};

static char *content(const struct tentry *t)
{
	char *b = stream(t->seed, t->len);
	if (t->prefix) {
		char *p = stream(t->prefix_seed, t->prefix);
		memcpy(b, p, t->prefix);
		free(p);
	}
	return b;
}

static const struct tentry *tfind(const struct tentry *t, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].path, path))
			return t[i].link ? tfind(t, n, t[i].link) : &t[i];
	fail_msg("test table has no %s", path);
	return NULL;
}

static struct lr_sqw_entry to_entry(const struct tentry *t)
{
	return (struct lr_sqw_entry){
		.path = t->path,
		.mode = t->mode,
		.uid = t->uid,
		.gid = t->gid,
		.mtime = t->mtime,
		.size = t->declared ? t->declared : t->len,
		.rdev_major = t->major,
		.rdev_minor = t->minor,
		.target = t->target,
		.xattrs = t->xattrs,
		.n_xattrs = t->n_xattrs,
	};
}

/* ------------------------------------------------------------ writing */

static const struct lr_sqw_options gzip_128k = {
	.compression = "gzip", .block_size = 128 * KiB, .workers = 2};

static struct lr_sqw *sqw_open(const char *file, const struct lr_sqw_options *o)
{
	struct lr_sqw *w = NULL;
	struct lr_error err = {0};
	if (lr_sqw_create(&w, file, o, &err) < 0)
		fail_msg("create %s: %s", file, err.msg);
	return w;
}

/* Add e and, for a regular file, its data in pieces. */
static void sqw_put(struct lr_sqw *w, struct lr_sqw_entry e, const char *data, size_t len)
{
	struct lr_error err = {0};
	if (lr_sqw_add(w, &e, &err) < 0)
		fail_msg("add %s: %s", e.path, err.msg);
	if (!S_ISREG(e.mode))
		return;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 50000 ? len - off : 50000;
		if (lr_sqw_write(w, data + off, n, &err) < 0)
			fail_msg("write %s: %s", e.path, err.msg);
		off += n;
	}
	if (lr_sqw_end(w, &err) < 0)
		fail_msg("end %s: %s", e.path, err.msg);
}

static void sqw_link(struct lr_sqw *w, const char *path, const char *target)
{
	struct lr_error err = {0};
	if (lr_sqw_link(w, path, target, &err) < 0)
		fail_msg("link %s -> %s: %s", path, target, err.msg);
}

static void sqw_close(struct lr_sqw *w)
{
	struct lr_error err = {0};
	if (lr_sqw_finish(w, &err) < 0)
		fail_msg("finish: %s", err.msg);
	lr_sqw_free(w);
}

static void sqw_table(struct lr_sqw *w, const struct tentry *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].link) {
			sqw_link(w, t[i].path, t[i].link);
			continue;
		}
		char *data = S_ISREG(t[i].mode) ? content(&t[i]) : NULL;
		sqw_put(w, to_entry(&t[i]), data, t[i].len);
		free(data);
	}
}

static void write_layer(const char *file, const struct lr_sqw_options *o, const struct tentry *t,
			size_t n)
{
	struct lr_sqw *w = sqw_open(file, o);
	sqw_table(w, t, n);
	sqw_close(w);
}

/* ------------------------------------------------------------ building */

/* A source that hands out its bytes in short reads, as a pipe would. */
struct mem_src {
	const char *p;
	size_t len, off;
};

static long mem_read(void *ctx, void *buf, size_t len, struct lr_error *err)
{
	struct mem_src *m = ctx;
	size_t n = m->len - m->off;
	if (n > len)
		n = len;
	if (n > 10000)
		n = 10000;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (long)n;
}

/* The tests of storing, diffing and reading back store every entry as
 * given (keep_special, as an admin's trusted build); what a default build
 * drops and disarms is tested on its own ("special entries" below). */
static struct lr_build *build_open_opts(const char *file, const struct lr_view *parent, bool diff,
					const char *owners, bool keep_special)
{
	struct lr_build_options o = {.sqw = gzip_128k,
				     .parent = parent,
				     .input_is_diff = diff,
				     .keep_special = keep_special};
	struct lr_error err = {0};
	if (lr_idmap_parse(&o.owners, owners, &err) < 0)
		fail_msg("owner map %s: %s", owners, err.msg);
	struct lr_build *b = NULL;
	if (lr_build_begin(&b, file, &o, &err) < 0)
		fail_msg("begin %s: %s", file, err.msg);
	return b;
}

static struct lr_build *build_open(const char *file, const struct lr_view *parent, bool diff,
				   const char *owners)
{
	return build_open_opts(file, parent, diff, owners, true);
}

static void build_one(struct lr_build *b, const struct tentry *t)
{
	struct lr_error err = {0};
	if (t->link) {
		if (lr_build_link(b, t->path, t->link, &err) < 0)
			fail_msg("link %s -> %s: %s", t->path, t->link, err.msg);
		return;
	}
	char *data = S_ISREG(t->mode) ? content(t) : NULL;
	struct mem_src src = {data, S_ISREG(t->mode) ? t->len : 0, 0};
	struct lr_sqw_entry e = to_entry(t);
	if (lr_build_entry(b, &e, mem_read, &src, &err) < 0)
		fail_msg("entry %s: %s", t->path, err.msg);
	if (S_ISREG(t->mode))
		assert_int_equal(src.off, t->len); /* read to the end */
	free(data);
}

static void build_close(struct lr_build *b, const char *layer_json)
{
	struct lr_error err = {0};
	if (lr_build_finish(b, layer_json, &err) < 0)
		fail_msg("finish: %s", err.msg);
	lr_build_free(b);
}

/* ------------------------------------------------------------ reading back */

/* One entry of a layer as lr_squash_walk() gave it (copied). */
struct got {
	char *path;
	uint32_t mode, uid, gid;
	int64_t mtime;
	uint64_t size;
	uint32_t major, minor;
	char *target;
	uint64_t id;
	struct lr_xattr *xattrs;
	size_t n_xattrs;
};

struct layer {
	int fd;
	struct lr_squash *sq;
	struct got *v;
	size_t n, cap;
	/* "TYPE PATH\n" per entry in walk order, the root as ".", a whiteout
	 * (character device 0:0) as type w. */
	char *list;
	size_t list_len;
	FILE *list_f;
};

static char type_char(uint32_t mode, uint32_t major, uint32_t minor)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return 'd';
	case S_IFREG: return 'f';
	case S_IFLNK: return 'l';
	case S_IFCHR: return major || minor ? 'c' : 'w';
	case S_IFBLK: return 'b';
	case S_IFIFO: return 'p';
	case S_IFSOCK: return 's';
	}
	return '?';
}

static struct lr_xattr *xattrs_copy(const struct lr_xattr *x, size_t n)
{
	struct lr_xattr *c = calloc(n + 1, sizeof(*c));
	assert_non_null(c);
	for (size_t i = 0; i < n; i++) {
		c[i].name = strdup(x[i].name);
		c[i].value = malloc(x[i].len + 1);
		assert_non_null(c[i].value);
		memcpy(c[i].value, x[i].value, x[i].len);
		c[i].len = x[i].len;
	}
	return c;
}

static int collect(void *ctx, const struct lr_squash_entry *e, struct lr_error *err)
{
	struct layer *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n++] = (struct got){
		.path = strdup(e->path),
		.mode = e->mode,
		.uid = e->uid,
		.gid = e->gid,
		.mtime = e->mtime,
		.size = e->size,
		.major = e->rdev_major,
		.minor = e->rdev_minor,
		.target = e->target ? strdup(e->target) : NULL,
		.id = e->id,
		.xattrs = xattrs_copy(e->xattrs, e->n_xattrs),
		.n_xattrs = e->n_xattrs,
	};
	fprintf(l->list_f, "%c %s\n", type_char(e->mode, e->rdev_major, e->rdev_minor),
		*e->path ? e->path : ".");
	return 0;
}

static void layer_open(struct layer *l, const char *file)
{
	memset(l, 0, sizeof(*l));
	struct lr_error err = {0};
	l->fd = open(file, O_RDONLY | O_CLOEXEC);
	if (l->fd < 0)
		fail_msg("%s: %s", file, strerror(errno));
	if (lr_squash_check(l->fd, &err) < 0 || lr_squash_open(l->fd, &l->sq, &err) < 0)
		fail_msg("%s: %s", file, err.msg);
	l->list_f = open_memstream(&l->list, &l->list_len);
	assert_non_null(l->list_f);
	int r = lr_squash_walk(l->sq, collect, l, &err);
	fclose(l->list_f);
	if (r)
		fail_msg("walk %s: %s", file, err.msg);
	/* Every file's data readable to the end, as a job would read it. */
	uint64_t entries = 0, bytes = 0; /* added to */
	if (lr_squash_verify(l->sq, &entries, &bytes, &err) < 0)
		fail_msg("verify %s: %s", file, err.msg);
	assert_int_equal(entries, l->n - 1); /* the root is not counted */
}

static void layer_close(struct layer *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct got *g = &l->v[i];
		for (size_t j = 0; j < g->n_xattrs; j++) {
			free(g->xattrs[j].name);
			free(g->xattrs[j].value);
		}
		free(g->xattrs);
		free(g->path);
		free(g->target);
	}
	free(l->v);
	free(l->list);
	lr_squash_free(l->sq);
	close(l->fd);
	memset(l, 0, sizeof(*l));
}

static const struct got *layer_get(const struct layer *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].path, path))
			return &l->v[i];
	return NULL;
}

static const struct got *layer_must(const struct layer *l, const char *path)
{
	const struct got *g = layer_get(l, path);
	if (!g)
		fail_msg("layer has no /%s; it has:\n%s", path, l->list);
	return g;
}

static void assert_absent(const struct layer *l, const char *path)
{
	if (layer_get(l, path))
		fail_msg("layer has /%s, which must not be there; it has:\n%s", path, l->list);
}

/* A regular file's data, read in odd-sized pieces across block ends. */
static char *layer_read(const struct layer *l, const struct got *g)
{
	if (!S_ISREG(g->mode))
		fail_msg("/%s is not a regular file (mode 0%o)", g->path, g->mode);
	char *b = malloc(g->size + 1);
	assert_non_null(b);
	uint64_t off = 0;
	while (off < g->size) {
		long n = lr_squash_pread(l->sq, g->id, off, b + off, 7777);
		if (n <= 0)
			fail_msg("/%s: read at %llu gave %ld", g->path, (unsigned long long)off, n);
		off += (uint64_t)n;
	}
	assert_int_equal(lr_squash_pread(l->sq, g->id, off, b, 1), 0);
	return b;
}

static const struct lr_xattr *xattr_get(const struct lr_xattr *x, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(x[i].name, name))
			return &x[i];
	return NULL;
}

static void assert_xattr(const struct got *g, const char *name, const void *value, size_t len)
{
	const struct lr_xattr *x = xattr_get(g->xattrs, g->n_xattrs, name);
	if (!x)
		fail_msg("/%s: no xattr %s", g->path, name);
	if (x->len != len || memcmp(x->value, value, len))
		fail_msg("/%s: xattr %s is %zu bytes '%.*s', want %zu bytes '%.*s'", g->path, name,
			 x->len, (int)x->len, x->value, len, (int)len, (const char *)value);
}

static int kind(const struct layer *l, const char *path)
{
	struct lr_error err = {0};
	return lr_squash_kind(l->sq, path, &err);
}

/* got's fields (and data, g->size bytes, for files) against want. */
static void check_fields(const struct got *g, const char *data, const struct tentry *want)
{
	const char *p = g->path;
	if (g->mode != want->mode)
		fail_msg("/%s: mode 0%o, want 0%o", p, g->mode, want->mode);
	if (g->uid != want->uid || g->gid != want->gid)
		fail_msg("/%s: owner %u:%u, want %u:%u", p, g->uid, g->gid, want->uid, want->gid);
	if (g->mtime != want->mtime)
		fail_msg("/%s: mtime %lld, want %lld", p, (long long)g->mtime,
			 (long long)want->mtime);
	if (S_ISREG(want->mode)) {
		if (g->size != want->len)
			fail_msg("/%s: size %llu, want %zu", p, (unsigned long long)g->size,
				 want->len);
		char *c = content(want);
		for (size_t i = 0; i < want->len; i++)
			if (c[i] != data[i])
				fail_msg("/%s: data differs at byte %zu", p, i);
		free(c);
	}
	if (S_ISLNK(want->mode) && (!g->target || strcmp(g->target, want->target)))
		fail_msg("/%s: target '%s', want '%s'", p, g->target ? g->target : "(none)",
			 want->target);
	if ((S_ISCHR(want->mode) || S_ISBLK(want->mode)) &&
	    (g->major != want->major || g->minor != want->minor))
		fail_msg("/%s: device %u:%u, want %u:%u", p, g->major, g->minor, want->major,
			 want->minor);
	if (g->n_xattrs != want->n_xattrs)
		fail_msg("/%s: %zu xattrs, want %zu", p, g->n_xattrs, want->n_xattrs);
	for (size_t i = 0; i < want->n_xattrs; i++)
		assert_xattr(g, want->xattrs[i].name, want->xattrs[i].value, want->xattrs[i].len);
}

/* Every entry of table t, with all its fields, in layer l; hard links
 * share their target's inode. */
static void check_table(const struct layer *l, const struct tentry *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct tentry *want = tfind(t, n, t[i].path);
		const struct got *g = layer_must(l, t[i].path);
		char *data = S_ISREG(g->mode) ? layer_read(l, g) : NULL;
		check_fields(g, data, want);
		free(data);
		if (t[i].link && g->id != layer_must(l, t[i].link)->id)
			fail_msg("/%s is not a hard link to /%s", t[i].path, t[i].link);
	}
}

/* ------------------------------------------------------------ set-up */

static char long_name[256];  /* 255 bytes: squashfs's longest name */
static char long_path[1400]; /* five directories of 250 bytes, then a file */

static int setup_dir(void **state)
{
	if (!mkdtemp(tmp))
		return -1;
	memset(long_name, 'n', 255);
	char *p = long_path;
	for (int i = 0; i < 5; i++) {
		*p++ = 'L';
		memset(p, '0' + i, 249);
		p += 249;
		*p++ = '/';
	}
	strcpy(p, "file");
	return 0;
}

static void parent_fixture_free(void);
static void child_fixture_free(void);

static int remove_dir(void **state)
{
	child_fixture_free();
	parent_fixture_free();
	sh_status("rm -rf '%s'", tmp);
	return 0;
}

/* ------------------------------------------------------------ paths */

static void expect_normalised(const char *in, const char *want)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", in);
	int r = lr_path_normalise(buf);
	if (r != 0 || strcmp(buf, want))
		fail_msg("lr_path_normalise(\"%s\") = %d \"%s\", want 0 \"%s\"", in, r, buf, want);
}

static void expect_refused(const char *in)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", in);
	int r = lr_path_normalise(buf);
	if (r != -EINVAL)
		fail_msg("lr_path_normalise(\"%s\") = %d, want -EINVAL", in, r);
}

static void path_normalise_collapses_slashes_and_dots(void **state)
{
	expect_normalised("./a//b/./c/", "a/b/c");
	expect_normalised("/", "");
	expect_normalised(".", "");
	expect_normalised("", "");
	expect_normalised("./", "");
	expect_normalised("//./", "");
	expect_normalised("/abs/x", "abs/x");
	expect_normalised("a/./.", "a");
	expect_normalised("a", "a");
	/* Names that only look like "..". */
	expect_normalised("...", "...");
	expect_normalised("a/.../b", "a/.../b");
	expect_normalised("..a/a..", "..a/a..");
	expect_normalised(".hidden/.wh..wh..opq", ".hidden/.wh..wh..opq");
}

static void path_normalise_refuses_dot_dot_anywhere(void **state)
{
	expect_refused("..");
	expect_refused("../x");
	expect_refused("a/..");
	expect_refused("a/../b");
	expect_refused("/..");
	expect_refused("./..");
	expect_refused("a//..//");
	expect_refused("a/b/../../..");
}

/* ------------------------------------------------------------ the writer */

static const struct lr_xattr small_xattrs[] = {
	{(char *)"user.comment", (char *)"hello", 5},
	{(char *)"security.capability", (char *)cap_v2, sizeof(cap_v2)},
	{(char *)"user.empty", (char *)"", 0},
};
static const struct lr_xattr user_xattrs[] = {
	{(char *)"user.comment", (char *)"hello", 5},
	{(char *)"user.binary", (char *)cap_v2, sizeof(cap_v2)},
};
static const struct lr_xattr opaque_xattrs[] = {
	{(char *)"trusted.overlay.opaque", (char *)"y", 1},
};

/* Every kind of entry squashfs has, out of order, with implicit parents. */
static struct tentry all_table[] = {
	{.path = "",
	 .mode = S_IFDIR | 0751,
	 .uid = 0,
	 .gid = 0,
	 .mtime = 42},	      /* the root's own metadata */
	{.path = "files/big", /* two full blocks and a tail */
	 .mode = S_IFREG | 0644,
	 .uid = 70000,
	 .gid = 70001,
	 .mtime = 1700000000,
	 .seed = 1,
	 .len = 300 * KiB + 17},
	{.path = "files/small", /* in a fragment */
	 .mode = S_IFREG | 04755,
	 .uid = 65536,
	 .gid = 4294967294u,
	 .mtime = 4294967295,
	 .seed = 2,
	 .len = 1000,
	 .xattrs = small_xattrs,
	 .n_xattrs = 3},
	{.path = "files/empty", .mode = S_IFREG | 0600, .mtime = 1},
	{.path = "files/exact", /* exactly one block: no fragment */
	 .mode = S_IFREG | 0644,
	 .seed = 3,
	 .len = 128 * KiB},
	{.path = "files/big-link", .link = "files/big"},
	{.path = "deep/a/b/c/leaf", .mode = S_IFREG | 0644, .seed = 4, .len = 10},
	{.path = "deep/a", /* given after what it holds */
	 .mode = S_IFDIR | 0700,
	 .uid = 5,
	 .gid = 6,
	 .mtime = 1234},
	{.path = "links/sym", .mode = S_IFLNK | 0777, .uid = 1000, .target = "../files/big"},
	{.path = "links/dangling", .mode = S_IFLNK | 0777, .target = "/nowhere/at/all"},
	{.path = "dev/c", .mode = S_IFCHR | 0620, .gid = 5, .major = 259, .minor = 300},
	{.path = "dev/b", .mode = S_IFBLK | 0660, .gid = 6, .major = 259, .minor = 300},
	/* The largest numbers squashfs's 32-bit device field holds. */
	{.path = "dev/max", .mode = S_IFCHR | 0600, .major = 4095, .minor = 1048575},
	{.path = "dev/null", .mode = S_IFCHR | 0666, .major = 1, .minor = 3},
	{.path = "dev/fifo", .mode = S_IFIFO | 0600, .uid = 7},
	{.path = "dev/sock", .mode = S_IFSOCK | 0755},
	{.path = "opq", .mode = S_IFDIR | 0755, .xattrs = opaque_xattrs, .n_xattrs = 1},
	{.path = "long/file", .mode = S_IFREG | 0644, .seed = 5, .len = 3},
	{.path = "long_name", .mode = S_IFREG | 0644, .seed = 6, .len = 4}, /* set up */
	{.path = "long_path", .mode = S_IFREG | 0644, .seed = 7, .len = 5}, /* set up */
	/* strcmp order, not locale order */
	{.path = "order/b", .mode = S_IFREG | 0644},
	{.path = "order/\xc3\xa9", .mode = S_IFREG | 0644},
	{.path = "order/a.b", .mode = S_IFREG | 0644},
	{.path = "order/a", .mode = S_IFREG | 0644},
	{.path = "order/_", .mode = S_IFREG | 0644},
	{.path = "order/a-b", .mode = S_IFREG | 0644},
	{.path = "order/B", .mode = S_IFREG | 0644},
};
#define N_ALL (sizeof(all_table) / sizeof(all_table[0]))

static void all_table_fix_names(void)
{
	static char name_path[300];
	snprintf(name_path, sizeof(name_path), "long/%s", long_name);
	for (size_t i = 0; i < N_ALL; i++) {
		if (!strcmp(all_table[i].path, "long_name"))
			all_table[i].path = name_path;
		else if (!strcmp(all_table[i].path, "long_path"))
			all_table[i].path = long_path;
	}
}

static const char *all_layer(void)
{
	static bool made;
	static char file[PATH_MAX];
	if (!made) {
		snprintf(file, sizeof(file), "%s", tpath("all.sqfs"));
		all_table_fix_names();
		write_layer(file, &gzip_128k, all_table, N_ALL);
		made = true;
	}
	return file;
}

/* /files/small's security.capability and /opq's trusted.overlay.opaque
 * come back under their own prefixes (see
 * walk_names_security_and_trusted_xattrs_as_stored). */
static void writer_stores_every_kind_of_entry_with_its_metadata(void **state)
{
	struct layer l;
	layer_open(&l, all_layer());
	check_table(&l, all_table, N_ALL);
	assert_int_equal(kind(&l, "/dev/null"), LR_SQUASH_OTHER);
	layer_close(&l);
}

static void writer_makes_missing_parents_root_owned_0755(void **state)
{
	struct layer l;
	layer_open(&l, all_layer());
	const char *implicit[] = {"files", "deep", "deep/a/b", "deep/a/b/c",
				  "links", "dev",  "long",     "order"};
	for (size_t i = 0; i < sizeof(implicit) / sizeof(implicit[0]); i++) {
		struct tentry want = {.path = implicit[i], .mode = S_IFDIR | 0755};
		check_fields(layer_must(&l, implicit[i]), NULL, &want);
	}
	layer_close(&l);
}

static void writer_sorts_names_bytewise(void **state)
{
	struct layer l;
	layer_open(&l, all_layer());
	const char *want = "d order\nf order/B\nf order/_\nf order/a\nf order/a-b\n"
			   "f order/a.b\nf order/b\nf order/\xc3\xa9\n";
	if (!strstr(l.list, want))
		fail_msg("directory order/ listed as:\n%s", l.list);
	/* The root first, each directory before what it holds. */
	const char *deep =
		"\nd deep\nd deep/a\nd deep/a/b\nd deep/a/b/c\nf deep/a/b/c/leaf\nd dev\n";
	if (strncmp(l.list, "d .\n", 4) || !strstr(l.list, deep))
		fail_msg("walk order:\n%s", l.list);
	layer_close(&l);
}

/* Is there a line in out holding both a and b? */
static bool has_line(const char *out, const char *a, const char *b)
{
	for (const char *l = out; *l;) {
		const char *nl = strchrnul(l, '\n');
		size_t n = (size_t)(nl - l) + (*nl ? 1 : 0); /* with its newline */
		if (memmem(l, n, a, strlen(a)) && memmem(l, n, b, strlen(b)))
			return true;
		l = *nl ? nl + 1 : nl;
	}
	return false;
}

static void writer_output_is_accepted_by_unsquashfs(void **state)
{
	if (!have("unsquashfs")) {
		print_message("# unsquashfs (squashfs-tools) is not installed\n");
		skip();
	}
	const char *file = all_layer();
	if (sh_status("unsquashfs -s '%s' > '%s' 2>&1", file, tpath("stat.out")) != 0)
		fail_msg("unsquashfs -s refused %s", file);
	size_t len;
	char *out = slurp(tpath("stat.out"), &len);
	if (!strstr(out, "Compression gzip") || !strstr(out, "Block size 131072"))
		fail_msg("unsquashfs -s says:\n%s", out);
	free(out);

	/* Every inode and directory read by another implementation.  (Its
	 * listing shows device numbers in the old 8-bit form: they are
	 * checked below by making the nodes instead.) */
	if (sh_status("unsquashfs -lln '%s' > '%s' 2>&1", file, tpath("lln.out")) != 0)
		fail_msg("unsquashfs -lln refused %s", file);
	out = slurp(tpath("lln.out"), &len);
	const char *lines[][2] = {
		{"drwxr-x--x 0/0", "squashfs-root\n"},
		{"brw-rw---- 0/6", "squashfs-root/dev/b\n"},
		{"crw--w---- 0/5", "squashfs-root/dev/c\n"},
		{"crw-rw-rw- 0/0", "squashfs-root/dev/null\n"},
		{"prw------- 7/0", "squashfs-root/dev/fifo\n"},
		{"srwxr-xr-x 0/0", "squashfs-root/dev/sock\n"},
		{"-rw-r--r-- 70000/70001          307217", "squashfs-root/files/big\n"},
		{"-rw-r--r-- 70000/70001          307217", "squashfs-root/files/big-link\n"},
		{"-rwsr-xr-x 65536/4294967294       1000", "squashfs-root/files/small\n"},
		{"-rw------- 0/0                       0", "squashfs-root/files/empty\n"},
		{"lrwxrwxrwx 1000/0", "squashfs-root/links/sym -> ../files/big\n"},
		{"drwx------ 5/6", "squashfs-root/deep/a\n"},
		{"drwxr-xr-x 0/0", "squashfs-root/deep/a/b/c\n"},
		{"-rw-r--r-- 0/0", long_name},
		{"-rw-r--r-- 0/0", long_path},
		{"-rw-r--r-- 0/0", "squashfs-root/order/\xc3\xa9\n"},
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (!has_line(out, lines[i][0], lines[i][1]))
			fail_msg("unsquashfs -lln has no line with '%s' and '%.40s':\n%s",
				 lines[i][0], lines[i][1], out);
	free(out);

	/* Data through an independent reader: blocks, the tail in a fragment. */
	const char *files[] = {"files/big", "files/small", "files/exact"};
	for (size_t i = 0; i < 3; i++) {
		if (sh_status("unsquashfs -cat '%s' '%s' > '%s'", file, files[i],
			      tpath("cat.out")) != 0)
			fail_msg("unsquashfs -cat %s failed", files[i]);
		out = slurp(tpath("cat.out"), &len);
		const struct tentry *t = tfind(all_table, N_ALL, files[i]);
		char *want = content(t);
		assert_int_equal(len, t->len);
		assert_memory_equal(out, want, len);
		free(want);
		free(out);
	}

	/* Device numbers as the kernel decodes them: unsquashfs makes the
	 * nodes, which needs root. */
	if (geteuid() != 0) {
		print_message("# not root: device numbers not checked by making the nodes\n");
		return;
	}
	const char *ex = tpath("extracted");
	if (sh_status("unsquashfs -n -no-xattrs -d '%s' '%s' dev >/dev/null 2>&1", ex, file) != 0) {
		print_message("# unsquashfs could not make device nodes here: not checked\n");
		return;
	}
	const char *devs[] = {"dev/c", "dev/b", "dev/max", "dev/null"};
	for (size_t i = 0; i < 4; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", ex, devs[i]);
		struct stat st;
		if (lstat(p, &st) < 0)
			fail_msg("%s: %s", p, strerror(errno));
		const struct tentry *t = tfind(all_table, N_ALL, devs[i]);
		if (major(st.st_rdev) != t->major || minor(st.st_rdev) != t->minor)
			fail_msg("/%s: the kernel's decoding gives %u:%u, want %u:%u", devs[i],
				 major(st.st_rdev), minor(st.st_rdev), t->major, t->minor);
		assert_int_equal(st.st_mode & S_IFMT, t->mode & S_IFMT);
	}
}

/* The xattrs of path in image as sqfs2tar (squashfs-tools-ng) reads them,
 * "name=length\n" each; NULL when sqfs2tar is missing. */
static char *xattrs_by_sqfs2tar(const char *image, const char *path)
{
	if (!have("sqfs2tar"))
		return NULL;
	const char *tar = tpath("sqfs2tar.tar");
	if (sh_status("sqfs2tar '%s' > '%s' 2>/dev/null", image, tar) != 0)
		fail_msg("sqfs2tar %s failed", image);
	struct archive *a = archive_read_new();
	assert_non_null(a);
	archive_read_support_format_all(a);
	assert_int_equal(archive_read_open_filename(a, tar, 65536), ARCHIVE_OK);
	char *names = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&names, &len);
	assert_non_null(m);
	struct archive_entry *ae;
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		char *p = strdup(archive_entry_pathname(ae));
		assert_non_null(p);
		assert_int_equal(lr_path_normalise(p), 0);
		if (!strcmp(p, path)) {
			const char *n;
			const void *v;
			size_t vlen;
			archive_entry_xattr_reset(ae);
			while (archive_entry_xattr_next(ae, &n, &v, &vlen) == ARCHIVE_OK)
				fprintf(m, "%s=%zu\n", n, vlen);
		}
		free(p);
	}
	fclose(m);
	archive_read_free(a);
	return names;
}

/* libsquashfuse before vasi/squashfuse#83 (which fixes #78; Debian ships
 * 0.1.105) has the names of squashfs's xattr types 1 (trusted) and 2
 * (security) swapped, and counts the wrong prefix's length in a name's
 * size.  squash.c names the types itself: a stored security.capability is
 * reported as security.capability by the walk and by the FUSE server's
 * getxattr and listxattr (checked on the root, FUSE inode 1). */
static void walk_names_security_and_trusted_xattrs_as_stored(void **state)
{
	static const struct lr_xattr x[] = {
		{(char *)"security.capability", (char *)cap_v2, sizeof(cap_v2)},
		{(char *)"trusted.overlay.origin", (char *)"o", 1},
		{(char *)"user.plain", (char *)"u", 1},
	};
	const struct tentry t[] = {
		{.path = "f",
		 .mode = S_IFREG | 0755,
		 .seed = 90,
		 .len = 10,
		 .xattrs = x,
		 .n_xattrs = 3},
	};
	const char *file = tpath("xattr-names.sqfs");
	write_layer(file, &gzip_128k, t, 1);

	char *names = xattrs_by_sqfs2tar(file, "f");
	if (names) {
		assert_string_equal(names, "security.capability=20\ntrusted.overlay.origin=1\n"
					   "user.plain=1\n");
		free(names);
	} else {
		print_message("# sqfs2tar is not installed: the layer is not checked by it\n");
	}

	struct layer l;
	layer_open(&l, file);
	const struct got *g = layer_must(&l, "f");
	assert_xattr(g, "security.capability", cap_v2, sizeof(cap_v2));
	assert_xattr(g, "trusted.overlay.origin", "o", 1);
	assert_xattr(g, "user.plain", "u", 1);
	layer_close(&l);
}

static void fuse_getxattr_and_listxattr_name_namespaces_as_stored(void **state)
{
	(void)state;
	static const struct lr_xattr x[] = {
		{(char *)"security.capability", (char *)cap_v2, sizeof(cap_v2)},
		{(char *)"trusted.overlay.opaque", (char *)"y", 1},
		{(char *)"user.plain", (char *)"u", 1},
	};
	const struct tentry t[] = {
		{.path = "", .mode = S_IFDIR | 0755, .xattrs = x, .n_xattrs = 3},
	};
	const char *file = tpath("xattr-fuse.sqfs");
	write_layer(file, &gzip_128k, t, 1);
	struct layer l;
	layer_open(&l, file);
	char buf[256];
	long n = lr_squash_listxattr(l.sq, 1, NULL, 0);
	assert_int_equal(n, sizeof("security.capability") + sizeof("trusted.overlay.opaque") +
				    sizeof("user.plain"));
	assert_int_equal(lr_squash_listxattr(l.sq, 1, buf, 4), -ERANGE);
	assert_int_equal(lr_squash_listxattr(l.sq, 1, buf, sizeof(buf)), n);
	assert_memory_equal(buf, "security.capability\0trusted.overlay.opaque\0user.plain", n);
	assert_int_equal(lr_squash_getxattr(l.sq, 1, "security.capability", NULL, 0),
			 sizeof(cap_v2));
	assert_int_equal(lr_squash_getxattr(l.sq, 1, "security.capability", buf, sizeof(buf)),
			 sizeof(cap_v2));
	assert_memory_equal(buf, cap_v2, sizeof(cap_v2));
	assert_int_equal(lr_squash_getxattr(l.sq, 1, "user.plain", buf, 0), 1);
	assert_int_equal(lr_squash_getxattr(l.sq, 1, "trusted.capability", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(lr_squash_getxattr(l.sq, 1, "security.capability", buf, 2), -ERANGE);
	assert_int_equal(lr_squash_kind(l.sq, "/", &(struct lr_error){0}), LR_SQUASH_OPAQUE_DIR);
	layer_close(&l);
}

static void writer_replaces_an_entry_given_again(void **state)
{
	const char *file = tpath("replace.sqfs");
	struct lr_sqw *w = sqw_open(file, &gzip_128k);
	char *old = stream(10, 200 * KiB);
	sqw_put(w, (struct lr_sqw_entry){.path = "x", .mode = S_IFREG | 0644}, old, 200 * KiB);
	sqw_put(w, (struct lr_sqw_entry){.path = "x", .mode = S_IFLNK | 0777, .target = "y"}, NULL,
		0);
	/* A directory replaced by a file takes what it held with it. */
	sqw_put(w, (struct lr_sqw_entry){.path = "e/c", .mode = S_IFREG | 0644}, "c", 1);
	sqw_put(w, (struct lr_sqw_entry){.path = "e", .mode = S_IFREG | 0600, .uid = 3}, "e", 1);
	/* A file replaced by a directory. */
	sqw_put(w, (struct lr_sqw_entry){.path = "f", .mode = S_IFREG | 0644}, "f", 1);
	sqw_put(w, (struct lr_sqw_entry){.path = "f", .mode = S_IFDIR | 0700}, NULL, 0);
	sqw_put(w, (struct lr_sqw_entry){.path = "f/g", .mode = S_IFDIR | 0700}, NULL, 0);
	/* One name of a hard link pair replaced: the other keeps the data. */
	sqw_put(w, (struct lr_sqw_entry){.path = "h1", .mode = S_IFREG | 0644}, old, 1000);
	sqw_link(w, "h2", "h1");
	sqw_put(w, (struct lr_sqw_entry){.path = "h1", .mode = S_IFREG | 0600}, "new", 3);
	sqw_close(w);
	free(old);

	struct layer l;
	layer_open(&l, file);
	assert_string_equal(l.list, "d .\nf e\nd f\nd f/g\nf h1\nf h2\nl x\n");
	assert_string_equal(layer_must(&l, "x")->target, "y");
	const struct got *e = layer_must(&l, "e");
	assert_int_equal(e->mode, S_IFREG | 0600);
	assert_int_equal(e->uid, 3);
	const struct got *h1 = layer_must(&l, "h1"), *h2 = layer_must(&l, "h2");
	assert_true(h1->id != h2->id);
	char *d1 = layer_read(&l, h1), *d2 = layer_read(&l, h2);
	assert_int_equal(h1->size, 3);
	assert_memory_equal(d1, "new", 3);
	assert_int_equal(h2->size, 1000);
	char *want = stream(10, 1000);
	assert_memory_equal(d2, want, 1000);
	free(want);
	free(d1);
	free(d2);
	layer_close(&l);
}

static void writer_merges_a_directory_given_twice(void **state)
{
	const char *file = tpath("dir-twice.sqfs");
	struct lr_sqw *w = sqw_open(file, &gzip_128k);
	sqw_put(w, (struct lr_sqw_entry){.path = "d", .mode = S_IFDIR | 0755, .mtime = 1}, NULL, 0);
	sqw_put(w, (struct lr_sqw_entry){.path = "d/child", .mode = S_IFREG | 0644}, "x", 1);
	sqw_put(w, (struct lr_sqw_entry){.path = "d/sub/grandchild", .mode = S_IFREG | 0644}, "y",
		1);
	sqw_put(w,
		(struct lr_sqw_entry){.path = "d",
				      .mode = S_IFDIR | 0700,
				      .uid = 7,
				      .gid = 8,
				      .mtime = 99,
				      .xattrs = small_xattrs,
				      .n_xattrs = 1},
		NULL, 0);
	sqw_close(w);

	struct layer l;
	layer_open(&l, file);
	assert_string_equal(l.list, "d .\nd d\nf d/child\nd d/sub\nf d/sub/grandchild\n");
	struct tentry want = {.path = "d",
			      .mode = S_IFDIR | 0700,
			      .uid = 7,
			      .gid = 8,
			      .mtime = 99,
			      .xattrs = small_xattrs,
			      .n_xattrs = 1};
	check_fields(layer_must(&l, "d"), NULL, &want);
	layer_close(&l);
}

static void writer_refuses_an_entry_under_a_non_directory(void **state)
{
	const char *file = tpath("notdir.sqfs");
	struct lr_sqw *w = sqw_open(file, &gzip_128k);
	struct lr_error err = {0};
	sqw_put(w, (struct lr_sqw_entry){.path = "lnk", .mode = S_IFLNK | 0777, .target = "/etc"},
		NULL, 0);
	sqw_put(w, (struct lr_sqw_entry){.path = "file", .mode = S_IFREG | 0644}, "z", 1);

	struct lr_sqw_entry under_link = {.path = "lnk/passwd", .mode = S_IFREG | 0644};
	assert_int_equal(lr_sqw_add(w, &under_link, &err), -ENOTDIR);
	if (!strstr(err.msg, "lnk/passwd") || !strstr(err.msg, "symbolic link"))
		fail_msg("message: %s", err.msg);
	struct lr_sqw_entry deeper = {.path = "lnk/a/b", .mode = S_IFDIR | 0755};
	assert_int_equal(lr_sqw_add(w, &deeper, &err), -ENOTDIR);
	struct lr_sqw_entry under_file = {.path = "file/x", .mode = S_IFDIR | 0755};
	assert_int_equal(lr_sqw_add(w, &under_file, &err), -ENOTDIR);
	assert_int_equal(lr_sqw_link(w, "lnk/hard", "file", &err), -ENOTDIR);
	assert_int_equal(lr_sqw_set_xattr(w, "lnk/x", "user.a", "b", 1, &err), -ENOTDIR);

	/* Hard links: to nothing, to a directory. */
	assert_int_equal(lr_sqw_link(w, "h", "missing", &err), -ENOENT);
	if (!strstr(err.msg, "missing"))
		fail_msg("message: %s", err.msg);
	sqw_put(w, (struct lr_sqw_entry){.path = "dir", .mode = S_IFDIR | 0755}, NULL, 0);
	assert_int_equal(lr_sqw_link(w, "h", "dir", &err), -EISDIR);

	/* Refusals leave the tree as it was. */
	sqw_close(w);
	struct layer l;
	layer_open(&l, file);
	assert_string_equal(l.list, "d .\nd dir\nf file\nl lnk\n");
	layer_close(&l);
}

/* ------------------------------------------------------------ compression */

static const struct tentry comp_table[] = {
	{.path = "big", .mode = S_IFREG | 0644, .seed = 30, .len = 200 * KiB + 5},
	{.path = "zeros", .mode = S_IFREG | 0644, .seed = 0, .len = 0},
	{.path = "dir/small", .mode = S_IFREG | 0600, .uid = 9, .seed = 31, .len = 77},
	{.path = "dir/sym", .mode = S_IFLNK | 0777, .target = "small"},
	{.path = "dir/x",
	 .mode = S_IFREG | 0644,
	 .seed = 32,
	 .len = 5000,
	 .xattrs = user_xattrs,
	 .n_xattrs = 2},
};
#define N_COMP (sizeof(comp_table) / sizeof(comp_table[0]))

static void every_compression_gives_a_readable_layer_with_the_same_content(void **state)
{
	const char *names[] = {"gzip", "lz4", "zstd", "xz", "none"};
	for (size_t i = 0; i < 5; i++) {
		assert_true(lr_sqw_compression_known(names[i]));
		char name[64];
		snprintf(name, sizeof(name), "comp-%s.sqfs", names[i]);
		struct lr_sqw_options o = {.compression = names[i], .block_size = 64 * KiB};
		write_layer(tpath(name), &o, comp_table, N_COMP);
		struct layer l;
		layer_open(&l, tpath(name));
		assert_string_equal(l.list, "d .\nf big\nd dir\nf dir/small\nl dir/sym\nf dir/x\n"
					    "f zeros\n");
		check_table(&l, comp_table, N_COMP);
		layer_close(&l);
	}
	assert_false(lr_sqw_compression_known("lzo"));
	assert_false(lr_sqw_compression_known(""));
}

/* A layer keeps 2 decompressed blocks when its codec is fast (lz4) and 16
 * otherwise (squash.c, cache_blocks()): reads that hop between more
 * blocks than that, backwards and straddling block ends, still give each
 * block's own bytes, never those of the block a slot held before. */
static void reads_hopping_between_blocks_give_each_blocks_own_bytes(void **state)
{
	(void)state;
	const char *names[] = {"lz4", "gzip"};
	const size_t len = 5 * 64 * KiB + 321; /* five blocks and a tail */
	struct tentry t[] = {{.path = "hop", .mode = S_IFREG | 0644, .seed = 33, .len = len}};
	char *want = stream(33, len);
	for (size_t i = 0; i < 2; i++) {
		char name[64];
		snprintf(name, sizeof(name), "hop-%s.sqfs", names[i]);
		struct lr_sqw_options o = {.compression = names[i], .block_size = 64 * KiB};
		write_layer(tpath(name), &o, t, 1);
		struct layer l;
		layer_open(&l, tpath(name));
		const struct got *g = layer_must(&l, "hop");
		/* Through lr_squash_read(), the FUSE server's read, by FUSE
		 * inode number: libsquashfuse_ll's 64-bit numbering is the
		 * inode id, but 2 for id 0 (1 is the root). */
		uint64_t ino = g->id == 0 ? 2 : g->id;
		/* Block 4, 0, 3, 1, 5 (the tail), 2, then back again, each read
		 * starting 100 bytes before its block and running past it. */
		const unsigned order[] = {4, 0, 3, 1, 5, 2, 1, 4, 0};
		char buf[64 * KiB + 200];
		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
			uint64_t off = order[k] * 64 * KiB;
			off = off >= 100 ? off - 100 : 0;
			uint64_t got = 0;
			while (got < sizeof(buf) && off + got < len) {
				const char *direct;
				size_t n;
				int r = lr_squash_read(l.sq, ino, off + got, sizeof(buf) - got,
						       buf + got, &direct, &n);
				if (r < 0 || n == 0)
					fail_msg("%s: read at %llu gave %d, %zu bytes", names[i],
						 (unsigned long long)(off + got), r, n);
				if (direct)
					memmove(buf + got, direct, n);
				got += n;
			}
			if (memcmp(buf, want + off, got) != 0)
				fail_msg("%s: %llu bytes at %llu differ from the file's", names[i],
					 (unsigned long long)got, (unsigned long long)off);
		}
		layer_close(&l);
	}
	free(want);
}

static void unknown_compression_and_bad_block_size_are_refused_by_name(void **state)
{
	struct {
		const char *compression;
		size_t block_size;
		const char *words;
	} bad[] = {
		{"brotli", 128 * KiB, "brotli"}, {"GZIP", 128 * KiB, "GZIP"},
		{"", 128 * KiB, "''"},		 {"gzip", 100000, "100000"},
		{"gzip", 2048, "2048"},		 {"gzip", 2048 * KiB, "2097152"},
		{"gzip", 0, "block size 0"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lr_sqw_options o = {.compression = bad[i].compression,
					   .block_size = bad[i].block_size};
		struct lr_sqw *w = NULL;
		struct lr_error err = {0};
		const char *file = tpath("bad-options.sqfs");
		assert_int_equal(lr_sqw_create(&w, file, &o, &err), -EINVAL);
		if (!strstr(err.msg, bad[i].words))
			fail_msg("'%s' %zu: message '%s' should say '%s'", bad[i].compression,
				 bad[i].block_size, err.msg, bad[i].words);
		/* No empty file left behind for the user to trip over. */
		assert_int_equal(access(file, F_OK), -1);
	}
	/* The limits themselves are fine. */
	const size_t good[] = {4 * KiB, 1024 * KiB};
	for (size_t i = 0; i < 2; i++) {
		struct lr_sqw_options o = {.compression = "zstd", .block_size = good[i]};
		write_layer(tpath("limits.sqfs"), &o, comp_table, N_COMP);
		struct layer l;
		layer_open(&l, tpath("limits.sqfs"));
		check_table(&l, comp_table, N_COMP);
		layer_close(&l);
	}
}

/* ------------------------------------------------------------ reproducibility */

static void same_entries_give_identical_bytes(void **state)
{
	all_layer(); /* the long names set up */
	struct lr_sqw_options one = gzip_128k, many = gzip_128k;
	one.workers = 1;
	many.workers = 8;
	write_layer(tpath("repro-1.sqfs"), &one, all_table, N_ALL);
	write_layer(tpath("other-name.sqfs"), &many, all_table, N_ALL);
	size_t l1, l2;
	char *a = slurp(tpath("repro-1.sqfs"), &l1), *b = slurp(tpath("other-name.sqfs"), &l2);
	assert_int_equal(l1, l2);
	assert_int_equal(l1 % 4096, 0); /* padded for loop devices */
	assert_memory_equal(a, b, l1);
	free(a);
	free(b);
}

/* ------------------------------------------------------------ owner maps */

static void owner_map_parses_keep_root_and_ranges(void **state)
{
	struct lr_idmap m;
	struct lr_error err = {0};
	assert_int_equal(lr_idmap_parse(&m, "keep", &err), 0);
	assert_int_equal(lr_idmap_apply(&m, 0), 0);
	assert_int_equal(lr_idmap_apply(&m, 12345), 12345);
	assert_int_equal(lr_idmap_apply(&m, UINT32_MAX), UINT32_MAX);

	assert_int_equal(lr_idmap_parse(&m, "root", &err), 0);
	assert_int_equal(lr_idmap_apply(&m, 0), 0);
	assert_int_equal(lr_idmap_apply(&m, 1000), 0);
	assert_int_equal(lr_idmap_apply(&m, UINT32_MAX), 0);

	assert_int_equal(lr_idmap_parse(&m, "1000:0", &err), 0);
	assert_int_equal(lr_idmap_apply(&m, 1000), 0);
	assert_int_equal(lr_idmap_apply(&m, 1001), 1001); /* COUNT defaults to 1 */
	assert_int_equal(lr_idmap_apply(&m, 999), 999);
	assert_int_equal(lr_idmap_apply(&m, 0), 0); /* not swapped */

	assert_int_equal(lr_idmap_parse(&m, "100000:0:65536,5:7", &err), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(lr_idmap_apply(&m, 100000), 0);
	assert_int_equal(lr_idmap_apply(&m, 100001), 1);
	assert_int_equal(lr_idmap_apply(&m, 165535), 65535);
	assert_int_equal(lr_idmap_apply(&m, 165536), 165536);
	assert_int_equal(lr_idmap_apply(&m, 99999), 99999);
	assert_int_equal(lr_idmap_apply(&m, 5), 7);
	assert_int_equal(lr_idmap_apply(&m, 6), 6);
	assert_int_equal(lr_idmap_apply(&m, 7), 7);

	/* Ranges up to the last id. */
	assert_int_equal(lr_idmap_parse(&m, "4294967295:0", &err), 0);
	assert_int_equal(lr_idmap_apply(&m, UINT32_MAX), 0);
	assert_int_equal(lr_idmap_parse(&m, "0:4294967294:2", &err), 0);
	assert_int_equal(lr_idmap_apply(&m, 1), UINT32_MAX);

	/* Sixteen ranges are allowed. */
	assert_int_equal(lr_idmap_parse(&m,
					"1:1,2:2,3:3,4:4,5:5,6:6,7:7,8:8,9:9,10:10,11:11,"
					"12:12,13:13,14:14,15:15,16:16",
					&err),
			 0);
	assert_int_equal(m.n, LR_IDMAP_MAX);
}

/* "" is not "keep": `--owner-map ''` must not silently keep every owner. */
static void owner_map_refuses_an_empty_spec(void **state)
{
	struct lr_idmap m;
	struct lr_error err = {0};
	int r = lr_idmap_parse(&m, "", &err);
	if (r != -EINVAL)
		fail_msg("owner map '': %d, want -EINVAL", r);
	assert_non_null(strstr(err.msg, "owner map ''"));
}

static void owner_map_refuses_bad_specs(void **state)
{
	const char *bad[] = {
		"a:b",
		"1:2:0",
		"1",
		"1:2:3:4",
		",1:2",
		"1:2,,3:4",
		"-1:2",
		" 1:2",
		"1:2 ",
		"1:2:3x",
		"1:+2",
		"KEEP",
		"4294967296:0",
		"4294967295:0:2",
		"0:4294967295:2",
		"1:1,2:2,3:3,4:4,5:5,6:6,7:7,8:8,9:9,10:10,11:11,12:12,13:13,"
		"14:14,15:15,16:16,17:17",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lr_idmap m;
		struct lr_error err = {0};
		int r = lr_idmap_parse(&m, bad[i], &err);
		if (r != -EINVAL)
			fail_msg("owner map '%s': %d, want -EINVAL", bad[i], r);
		if (!strstr(err.msg, bad[i]) || !strstr(err.msg, "owner map"))
			fail_msg("owner map '%s': message '%s' should name it", bad[i], err.msg);
	}
}

static void builder_applies_the_owner_map(void **state)
{
	const char *file = tpath("owners.sqfs");
	struct lr_build *b = build_open(file, NULL, false, "1000:0,2000:100:10");
	const struct tentry t[] = {
		{.path = "a",
		 .mode = S_IFREG | 0644,
		 .uid = 1000,
		 .gid = 2005,
		 .seed = 1,
		 .len = 3},
		{.path = "b", .mode = S_IFDIR | 0755, .uid = 2009, .gid = 2010},
		{.path = "c", .mode = S_IFLNK | 0777, .uid = 70000, .gid = 1000, .target = "a"},
	};
	for (size_t i = 0; i < 3; i++)
		build_one(b, &t[i]);
	build_close(b, NULL);
	struct layer l;
	layer_open(&l, file);
	const struct got *a = layer_must(&l, "a"), *d = layer_must(&l, "b"),
			 *c = layer_must(&l, "c");
	assert_int_equal(a->uid, 0);
	assert_int_equal(a->gid, 105);
	assert_int_equal(d->uid, 109);
	assert_int_equal(d->gid, 2010);
	assert_int_equal(c->uid, 70000);
	assert_int_equal(c->gid, 0);
	layer_close(&l);
}

/* ------------------------------------------------------------ builder, no parent */

static void build_without_parent_stores_whiteouts_as_char_0_0(void **state)
{
	const char *file = tpath("wh.sqfs");
	struct lr_build *b = build_open(file, NULL, false, "keep");
	struct lr_error err = {0};
	const struct tentry t[] = {
		{.path = "etc/a", .mode = S_IFREG | 0644, .seed = 40, .len = 10},
		/* An overlay upper directory's whiteout, as a directory walk gives it. */
		{.path = "etc/upper-wh", .mode = S_IFCHR | 0600, .uid = 1000},
	};
	build_one(b, &t[0]);
	assert_int_equal(lr_build_whiteout(b, "gone", &err), 0);
	assert_int_equal(lr_build_whiteout(b, "etc/old", &err), 0);
	build_one(b, &t[1]);
	/* A whiteout of the image's own metadata is no whiteout. */
	assert_int_equal(lr_build_whiteout(b, ".labrun", &err), 0);
	build_close(b, NULL);

	struct layer l;
	layer_open(&l, file);
	assert_string_equal(l.list, "d .\nd etc\nf etc/a\nw etc/old\nw etc/upper-wh\nw gone\n");
	const char *wh[] = {"gone", "etc/old", "etc/upper-wh"};
	for (size_t i = 0; i < 3; i++) {
		const struct got *g = layer_must(&l, wh[i]);
		assert_true(S_ISCHR(g->mode));
		assert_int_equal(g->major, 0);
		assert_int_equal(g->minor, 0);
		char abs[64];
		snprintf(abs, sizeof(abs), "/%s", wh[i]);
		assert_int_equal(kind(&l, abs), LR_SQUASH_WHITEOUT);
	}
	layer_close(&l);
}

static void build_without_parent_marks_opaque_directories(void **state)
{
	const char *file = tpath("opaque.sqfs");
	struct lr_build *b = build_open(file, NULL, false, "keep");
	struct lr_error err = {0};
	static const struct lr_xattr trusted_opaque[] = {
		{(char *)"trusted.overlay.opaque", (char *)"y", 1},
		{(char *)"user.keep", (char *)"me", 2},
	};
	static const struct lr_xattr not_opaque[] = {
		{(char *)"trusted.overlay.opaque", (char *)"n", 1},
	};
	const struct tentry before = {.path = "before", .mode = S_IFDIR | 0755};
	const struct tentry after = {
		.path = "after", .mode = S_IFDIR | 0700, .uid = 3, .mtime = 77};
	const struct tentry child = {.path = "after/x", .mode = S_IFREG | 0644, .len = 0};
	const struct tentry by_xattr = {
		.path = "xattr", .mode = S_IFDIR | 0755, .xattrs = trusted_opaque, .n_xattrs = 2};
	const struct tentry no = {
		.path = "no", .mode = S_IFDIR | 0755, .xattrs = not_opaque, .n_xattrs = 1};
	const struct tentry file_later = {.path = "became-file", .mode = S_IFREG | 0644};

	build_one(b, &before);
	assert_int_equal(lr_build_opaque(b, "before", &err), 0);
	/* The marker first (".wh..wh..opq" sorts before most names). */
	assert_int_equal(lr_build_opaque(b, "after", &err), 0);
	build_one(b, &child);
	build_one(b, &after);
	build_one(b, &by_xattr);
	build_one(b, &no);
	/* A marker alone makes its directory. */
	assert_int_equal(lr_build_opaque(b, "alone/deeper", &err), 0);
	assert_int_equal(lr_build_opaque(b, "became-file", &err), 0);
	build_one(b, &file_later);
	build_close(b, NULL);

	struct layer l;
	layer_open(&l, file);
	assert_string_equal(l.list, "d .\nd after\nf after/x\nd alone\nd alone/deeper\n"
				    "f became-file\nd before\nd no\nd xattr\n");
	const char *opaque[] = {"before", "after", "xattr", "alone/deeper"};
	for (size_t i = 0; i < 4; i++) {
		const struct got *g = layer_must(&l, opaque[i]);
		assert_xattr(g, "user.overlay.opaque", "y", 1);
		/* overlay.* xattrs of the input are mechanics, not content */
		assert_null(xattr_get(g->xattrs, g->n_xattrs, "trusted.overlay.opaque"));
		char abs[64];
		snprintf(abs, sizeof(abs), "/%s", opaque[i]);
		assert_int_equal(kind(&l, abs), LR_SQUASH_OPAQUE_DIR);
	}
	/* The directory's own metadata, given after the marker, is kept. */
	const struct got *a = layer_must(&l, "after");
	assert_int_equal(a->mode, S_IFDIR | 0700);
	assert_int_equal(a->uid, 3);
	assert_int_equal(a->mtime, 77);
	assert_int_equal(a->n_xattrs, 1);
	const struct got *x = layer_must(&l, "xattr");
	assert_int_equal(x->n_xattrs, 2);
	assert_xattr(x, "user.keep", "me", 2);
	assert_int_equal(kind(&l, "/no"), LR_SQUASH_DIR);
	assert_int_equal(layer_must(&l, "no")->n_xattrs, 0);
	assert_int_equal(layer_must(&l, "became-file")->n_xattrs, 0);
	assert_int_equal(kind(&l, "/alone"), LR_SQUASH_DIR);
	layer_close(&l);
}

static void build_keeps_the_input_out_of_labrun_metadata(void **state)
{
	const char *file = tpath("reserved.sqfs");
	struct lr_build *b = build_open(file, NULL, false, "keep");
	const struct tentry t[] = {
		{.path = ".labrun", .mode = S_IFDIR | 0777, .uid = 1000},
		{.path = ".labrun/layer.json",
		 .mode = S_IFREG | 0666,
		 .seed = 50,
		 .len = 300 * KiB},
		{.path = ".labrun/evil", .mode = S_IFLNK | 0777, .target = "/etc/shadow"},
		{.path = ".labrunx", .mode = S_IFREG | 0644, .seed = 51, .len = 1},
	};
	for (size_t i = 0; i < 4; i++)
		build_one(b, &t[i]);
	const char *json = "{\"config\":{\"env\":[\"K=V\"]}}\n";
	build_close(b, json);

	struct layer l;
	layer_open(&l, file);
	assert_string_equal(l.list, "d .\nd .labrun\nf .labrun/layer.json\nf .labrunx\n");
	const struct got *g = layer_must(&l, ".labrun/layer.json");
	assert_int_equal(g->mode, S_IFREG | 0644);
	assert_int_equal(g->uid, 0);
	char *data = layer_read(&l, g);
	assert_int_equal(g->size, strlen(json));
	assert_memory_equal(data, json, strlen(json));
	free(data);
	assert_int_equal(layer_must(&l, ".labrun")->mode, S_IFDIR | 0755);
	layer_close(&l);
}

/* ------------------------------------------------------------ builder, with a parent */

static const struct lr_xattr xa1[] = {{(char *)"user.a", (char *)"1", 1}};
static const struct lr_xattr xa2[] = {{(char *)"user.a", (char *)"2", 1}};

static const struct tentry parent_table[] = {
	{.path = "", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "bin", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "bin/same", .mode = S_IFREG | 0755, .mtime = 100, .seed = 1, .len = 5000},
	{.path = "bin/changed", .mode = S_IFREG | 0755, .mtime = 100, .seed = 2, .len = 300 * KiB},
	{.path = "bin/chmod", .mode = S_IFREG | 0644, .mtime = 100, .seed = 4, .len = 100},
	{.path = "dev", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "dev/null", .mode = S_IFCHR | 0666, .mtime = 100, .major = 1, .minor = 3},
	{.path = "exact", .mode = S_IFREG | 0644, .mtime = 100, .seed = 5, .len = 256 * KiB},
	{.path = "gone", .mode = S_IFREG | 0644, .mtime = 100, .seed = 6, .len = 10},
	{.path = "grow", .mode = S_IFREG | 0644, .mtime = 100, .seed = 12, .len = 1000},
	{.path = "hl", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "hl/pair-a", .mode = S_IFREG | 0644, .mtime = 100, .seed = 15, .len = 20},
	{.path = "hl/pair-b", .link = "hl/pair-a"},
	{.path = "hl/target", .mode = S_IFREG | 0644, .mtime = 100, .seed = 7, .len = 3000},
	{.path = "keep", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "keep/deep", .mode = S_IFDIR | 0700, .uid = 1000, .gid = 1000, .mtime = 200},
	{.path = "keep/deep/x",
	 .mode = S_IFREG | 0600,
	 .uid = 1000,
	 .gid = 1000,
	 .mtime = 200,
	 .seed = 8,
	 .len = 10},
	{.path = "olddir", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "olddir/a", .mode = S_IFREG | 0644, .mtime = 100, .seed = 9, .len = 10},
	{.path = "olddir/sub", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "olddir/sub/b", .mode = S_IFREG | 0644, .mtime = 100, .seed = 10, .len = 10},
	{.path = "shrink", .mode = S_IFREG | 0644, .mtime = 100, .seed = 13, .len = 1000},
	{.path = "sym", .mode = S_IFLNK | 0777, .mtime = 100, .target = "bin/same"},
	{.path = "xa",
	 .mode = S_IFREG | 0644,
	 .mtime = 100,
	 .seed = 11,
	 .len = 10,
	 .xattrs = xa1,
	 .n_xattrs = 1},
};
#define N_PARENT (sizeof(parent_table) / sizeof(parent_table[0]))

/* The new full tree: the parent's, with changes. */
static const struct tentry child_table[] = {
	{.path = "", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "bin", .mode = S_IFDIR | 0755, .mtime = 100},
	/* Same metadata, the first 200 KiB the same, then different: the
	 * builder has compared (and dropped) more than a chunk when it finds
	 * out, and must take those bytes from the parent. */
	{.path = "bin/changed",
	 .mode = S_IFREG | 0755,
	 .mtime = 100,
	 .seed = 3,
	 .len = 300 * KiB,
	 .prefix = 200 * KiB,
	 .prefix_seed = 2},
	{.path = "bin/chmod", .mode = S_IFREG | 0755, .mtime = 100, .seed = 4, .len = 100},
	{.path = "bin/same", .mode = S_IFREG | 0755, .mtime = 100, .seed = 1, .len = 5000},
	{.path = "dev", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "dev/null", .mode = S_IFCHR | 0666, .mtime = 100, .major = 1, .minor = 3},
	{.path = "exact", .mode = S_IFREG | 0644, .mtime = 100, .seed = 5, .len = 256 * KiB},
	/* Sizes the source declares are not trusted: the data is. */
	{.path = "grow",
	 .mode = S_IFREG | 0644,
	 .mtime = 100,
	 .seed = 12,
	 .len = 1500,
	 .declared = 1000},
	{.path = "hl", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "hl/pair-a", .mode = S_IFREG | 0644, .mtime = 100, .seed = 15, .len = 20},
	{.path = "hl/pair-b", .link = "hl/pair-a"},
	{.path = "hl/target", .mode = S_IFREG | 0644, .mtime = 100, .seed = 7, .len = 3000},
	{.path = "hl/link", .link = "hl/target"},
	{.path = "keep", .mode = S_IFDIR | 0755, .mtime = 100},
	{.path = "keep/deep", .mode = S_IFDIR | 0700, .uid = 1000, .gid = 1000, .mtime = 200},
	{.path = "keep/deep/x",
	 .mode = S_IFREG | 0600,
	 .uid = 1000,
	 .gid = 1000,
	 .mtime = 200,
	 .seed = 8,
	 .len = 10},
	{.path = "new", .mode = S_IFREG | 0644, .mtime = 100, .seed = 14, .len = 10},
	{.path = "shrink",
	 .mode = S_IFREG | 0644,
	 .mtime = 100,
	 .seed = 13,
	 .len = 500,
	 .declared = 1000},
	{.path = "sym", .mode = S_IFLNK | 0777, .mtime = 100, .target = "bin/same"},
	{.path = "xa",
	 .mode = S_IFREG | 0644,
	 .mtime = 100,
	 .seed = 11,
	 .len = 10,
	 .xattrs = xa2,
	 .n_xattrs = 1},
};
#define N_CHILD (sizeof(child_table) / sizeof(child_table[0]))

static struct {
	bool made;
	char hex[LR_DIGEST_HEX_LEN + 1];
	struct lr_chain *chain;
	struct lr_view view;
} parent_fx;

static void parent_fixture_free(void)
{
	if (!parent_fx.made)
		return;
	lr_view_free(&parent_fx.view);
	lr_chain_free(parent_fx.chain);
	free(parent_fx.chain);
	parent_fx.made = false;
}

/* The parent layer, named by its digest (so that children find it beside
 * them), open as a chain and loaded as a view. */
static const struct lr_view *parent_view(void)
{
	if (parent_fx.made)
		return &parent_fx.view;
	const char *file = tpath("parent.sqfs");
	struct lr_sqw *w = sqw_open(file, &gzip_128k);
	sqw_table(w, parent_table, N_PARENT);
	const char *json = "{\"config\":{\"env\":[\"A=1\"]}}\n";
	sqw_put(w, (struct lr_sqw_entry){.path = ".labrun/layer.json", .mode = S_IFREG | 0644},
		json, strlen(json));
	sqw_close(w);

	struct lr_error err = {0};
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(lr_digest_fd(fd, parent_fx.hex, &err), 0);
	close(fd);
	char named[128];
	snprintf(named, sizeof(named), "sha256-%s.sqfs", parent_fx.hex);
	assert_int_equal(rename(file, tpath(named)), 0);

	parent_fx.chain = calloc(1, sizeof(*parent_fx.chain));
	assert_non_null(parent_fx.chain);
	if (lr_chain_resolve(parent_fx.chain, tpath(named), NULL, 0, &err) < 0)
		fail_msg("parent chain: %s", err.msg);
	assert_int_equal(parent_fx.chain->n, 1);
	if (lr_view_load(&parent_fx.view, parent_fx.chain, &err) < 0)
		fail_msg("parent view: %s", err.msg);
	parent_fx.made = true;
	return &parent_fx.view;
}

static char *child_json(void)
{
	char *json = NULL;
	parent_view();
	assert_true(asprintf(&json, "{\"parent\":\"sha256:%s\",\"config\":{\"env\":[\"B=2\"]}}\n",
			     parent_fx.hex) > 0);
	return json;
}

static struct {
	bool made;
	struct layer l;
	uint64_t stored, same, deleted, deleted_top;
} child_fx;

static void child_fixture_free(void)
{
	if (child_fx.made)
		layer_close(&child_fx.l);
	child_fx.made = false;
}

/* The child built from child_table as a full tree over the parent, with
 * whiteouts and an opaque marker in the input that a full tree makes
 * meaningless. */
static const struct layer *child_layer(void)
{
	if (child_fx.made)
		return &child_fx.l;
	const struct lr_view *parent = parent_view();
	const char *file = tpath("child.sqfs");
	struct lr_build *b = build_open(file, parent, false, "keep");
	struct lr_error err = {0};
	for (size_t i = 0; i < N_CHILD; i++) {
		build_one(b, &child_table[i]);
		if (!strcmp(child_table[i].path, "bin/chmod")) {
			assert_int_equal(lr_build_whiteout(b, "phantom", &err), 0);
			assert_int_equal(lr_build_whiteout(b, "bin/same", &err), 0);
			assert_int_equal(lr_build_opaque(b, "bin", &err), 0);
			const struct tentry wh = {.path = "phantom2", .mode = S_IFCHR};
			build_one(b, &wh);
		}
	}
	char *json = child_json();
	struct lr_error ferr = {0};
	if (lr_build_finish(b, json, &ferr) < 0)
		fail_msg("finish: %s", ferr.msg);
	lr_build_stats(b, &child_fx.stored, &child_fx.same, &child_fx.deleted,
		       &child_fx.deleted_top);
	lr_build_free(b);
	free(json);
	layer_open(&child_fx.l, file);
	child_fx.made = true;
	return &child_fx.l;
}

/* An unchanged directory holding only unchanged directories (keep,
 * keep/deep) is left out entirely: adding keep/deep must not make keep
 * stay. */
static void build_with_parent_stores_only_what_changed(void **state)
{
	const struct layer *l = child_layer();
	assert_string_equal(l->list, "d .\n"
				     "d .labrun\n"
				     "f .labrun/layer.json\n"
				     "d bin\n"
				     "f bin/changed\n"
				     "f bin/chmod\n"
				     "w gone\n"
				     "f grow\n"
				     "d hl\n"
				     "f hl/link\n"
				     "f hl/target\n"
				     "f new\n"
				     "w olddir\n"
				     "f shrink\n"
				     "f xa\n");
	assert_int_equal(child_fx.deleted, 2);
	assert_int_equal(child_fx.deleted_top, 2); /* gone, olddir: both in the root */
	/* Kept for what changed below, with the parent's (equal) metadata. */
	check_fields(layer_must(l, "bin"), NULL, tfind(child_table, N_CHILD, "bin"));
	check_fields(layer_must(l, ""), NULL, tfind(child_table, N_CHILD, ""));
}

static void build_with_parent_leaves_unchanged_entries_out(void **state)
{
	const struct layer *l = child_layer();
	/* Files (one exactly two chunks long), a symlink, a device, and the
	 * directories with nothing changed below them. */
	const char *same[] = {"bin/same", "exact", "sym", "dev/null", "dev", "keep", "keep/deep",
			      "keep/deep/x",
			      /* a hard link the parent has as it is */
			      "hl/pair-a", "hl/pair-b"};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		assert_absent(l, same[i]);
	assert_true(child_fx.same >= 8);
}

static void build_with_parent_stores_content_changed_after_the_first_chunk(void **state)
{
	const struct layer *l = child_layer();
	const struct tentry *want = tfind(child_table, N_CHILD, "bin/changed");
	const struct got *g = layer_must(l, "bin/changed");
	char *data = layer_read(l, g);
	check_fields(g, data, want);
	free(data);
}

static void build_with_parent_stores_changed_metadata(void **state)
{
	const struct layer *l = child_layer();
	const char *paths[] = {"bin/chmod", "xa", "new"};
	for (size_t i = 0; i < 3; i++) {
		const struct got *g = layer_must(l, paths[i]);
		char *data = layer_read(l, g);
		check_fields(g, data, tfind(child_table, N_CHILD, paths[i]));
		free(data);
	}
}

static void build_with_parent_reads_files_to_their_end_whatever_they_declare(void **state)
{
	const struct layer *l = child_layer();
	const char *paths[] = {"grow", "shrink"};
	for (size_t i = 0; i < 2; i++) {
		const struct got *g = layer_must(l, paths[i]);
		char *data = layer_read(l, g);
		check_fields(g, data, tfind(child_table, N_CHILD, paths[i]));
		free(data);
	}
}

static void build_with_parent_turns_deletions_into_whiteouts(void **state)
{
	const struct layer *l = child_layer();
	const struct got *g = layer_must(l, "gone");
	assert_int_equal(g->mode & S_IFMT, S_IFCHR);
	assert_int_equal(g->major, 0);
	assert_int_equal(g->minor, 0);
	assert_int_equal(kind(l, "/gone"), LR_SQUASH_WHITEOUT);
	/* A deleted directory is one whiteout, not one per entry in it. */
	assert_int_equal(kind(l, "/olddir"), LR_SQUASH_WHITEOUT);
	assert_absent(l, "olddir/a");
	assert_absent(l, "olddir/sub");
	assert_absent(l, "olddir/sub/b");
	/* The parent's own /.labrun is not content: no whiteout for it. */
	assert_int_equal(layer_must(l, ".labrun")->mode & S_IFMT, S_IFDIR);
}

static void build_with_parent_stores_the_unchanged_target_of_a_hard_link(void **state)
{
	const struct layer *l = child_layer();
	const struct got *t = layer_must(l, "hl/target"), *k = layer_must(l, "hl/link");
	assert_int_equal(t->id, k->id);
	char *data = layer_read(l, k);
	check_fields(k, data, tfind(child_table, N_CHILD, "hl/target"));
	free(data);
}

static void build_with_parent_ignores_whiteouts_in_a_full_tree(void **state)
{
	const struct layer *l = child_layer();
	assert_absent(l, "phantom");
	assert_absent(l, "phantom2");
	/* "bin/same" had a whiteout in the input and a file: the file wins
	 * (and is unchanged). */
	assert_absent(l, "bin/same");
	assert_int_equal(kind(l, "/bin"), LR_SQUASH_DIR);
}

static void build_with_parent_stores_layer_json(void **state)
{
	const struct layer *l = child_layer();
	struct lr_error err = {0};
	char *buf = NULL;
	size_t len = 0;
	if (lr_squash_read_file(l->sq, "/.labrun/layer.json", LR_LAYERJSON_MAX_BYTES, &buf, &len,
				&err) < 0)
		fail_msg("layer.json: %s", err.msg);
	struct lr_layer_meta m = {0};
	if (lr_layer_meta_parse(&m, buf, len, &err) < 0)
		fail_msg("layer.json '%s': %s", buf, err.msg);
	assert_true(m.has_parent);
	assert_string_equal(m.parent_hex, parent_fx.hex);
	assert_string_equal(lr_strv_getenv(&m.config.env, "B"), "2");
	lr_layer_meta_free(&m);
	free(buf);
}

static void count_view(const struct lr_vnode *n, size_t *count)
{
	for (size_t i = 0; i < n->n_children; i++) {
		(*count)++;
		count_view(n->children[i], count);
	}
}

/* What overlayfs would show of image over its parent is tree t. */
static void check_view(const char *image, const struct tentry *t, size_t n, size_t layers)
{
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	if (lr_chain_resolve(c, image, NULL, 0, &err) < 0)
		fail_msg("chain %s: %s", image, err.msg);
	assert_int_equal(c->n, layers);
	struct lr_view v;
	if (lr_view_load(&v, c, &err) < 0)
		fail_msg("view %s: %s", image, err.msg);
	for (size_t i = 0; i < n; i++) {
		const struct lr_vnode *node = lr_view_lookup(&v, t[i].path);
		if (!node)
			fail_msg("/%s: missing from the merged view", t[i].path);
		struct got g = {
			.path = (char *)t[i].path,
			.mode = node->mode,
			.uid = node->uid,
			.gid = node->gid,
			.mtime = node->mtime,
			.size = node->size,
			.major = node->rdev_major,
			.minor = node->rdev_minor,
			.target = node->target,
			.xattrs = node->xattrs,
			.n_xattrs = node->n_xattrs,
		};
		char *data = NULL;
		if (S_ISREG(node->mode)) {
			data = malloc(node->size + 1);
			assert_non_null(data);
			for (uint64_t off = 0; off < node->size;) {
				long r = lr_view_pread(&v, node, off, data + off, node->size - off);
				if (r <= 0)
					fail_msg("/%s: view read %ld", t[i].path, r);
				off += (uint64_t)r;
			}
		}
		check_fields(&g, data, tfind(t, n, t[i].path));
		free(data);
	}
	size_t count = 0;
	count_view(v.root, &count);
	assert_int_equal(count, n - 1); /* the root is no entry */
	assert_int_equal(c->n, layers);
	lr_view_free(&v);
	lr_chain_free(c);
	free(c);
}

static void build_with_parent_shows_the_full_tree_over_its_parent(void **state)
{
	child_layer();
	check_view(tpath("child.sqfs"), child_table, N_CHILD, 2);

	/* And the chain merges the config of both layer.json files. */
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	assert_int_equal(lr_chain_resolve(c, tpath("child.sqfs"), NULL, 0, &err), 0);
	assert_string_equal(lr_strv_getenv(&c->config.env, "A"), "1");
	assert_string_equal(lr_strv_getenv(&c->config.env, "B"), "2");
	lr_chain_free(c);
	free(c);
}

static void build_in_diff_mode_stores_the_input_as_given(void **state)
{
	const struct lr_view *parent = parent_view();
	const char *file = tpath("diff.sqfs");
	struct lr_build *b = build_open(file, parent, true, "keep");
	struct lr_error err = {0};
	assert_int_equal(lr_build_whiteout(b, "gone", &err), 0);
	assert_int_equal(lr_build_opaque(b, "keep", &err), 0);
	/* Equal to the parent's, still stored: a diff is not compared. */
	build_one(b, tfind(parent_table, N_PARENT, "bin/chmod"));
	const struct tentry t[] = {
		{.path = "new", .mode = S_IFREG | 0644, .seed = 60, .len = 10},
		{.path = "olddir", .mode = S_IFCHR | 0000}, /* an upper dir's whiteout */
	};
	build_one(b, &t[0]);
	build_one(b, &t[1]);
	char *json = child_json();
	build_close(b, json);
	free(json);

	struct layer l;
	layer_open(&l, file);
	assert_string_equal(l.list, "d .\nd .labrun\nf .labrun/layer.json\nd bin\nf bin/chmod\n"
				    "w gone\nd keep\nf new\nw olddir\n");
	assert_int_equal(kind(&l, "/keep"), LR_SQUASH_OPAQUE_DIR);
	assert_int_equal(kind(&l, "/olddir"), LR_SQUASH_WHITEOUT);
	layer_close(&l);

	/* Over the parent: gone and olddir deleted, keep emptied. */
	const struct tentry merged[] = {
		/* The diff gave neither the root nor bin: the layer has them as
		 * the writer makes missing parents (0755, time 0), and overlayfs
		 * shows the upper layer's directory. */
		{.path = "", .mode = S_IFDIR | 0755},
		{.path = "bin", .mode = S_IFDIR | 0755},
		{.path = "bin/same", .mode = S_IFREG | 0755, .mtime = 100, .seed = 1, .len = 5000},
		{.path = "bin/changed",
		 .mode = S_IFREG | 0755,
		 .mtime = 100,
		 .seed = 2,
		 .len = 300 * KiB},
		{.path = "bin/chmod", .mode = S_IFREG | 0644, .mtime = 100, .seed = 4, .len = 100},
		{.path = "dev", .mode = S_IFDIR | 0755, .mtime = 100},
		{.path = "dev/null", .mode = S_IFCHR | 0666, .mtime = 100, .major = 1, .minor = 3},
		{.path = "exact",
		 .mode = S_IFREG | 0644,
		 .mtime = 100,
		 .seed = 5,
		 .len = 256 * KiB},
		{.path = "grow", .mode = S_IFREG | 0644, .mtime = 100, .seed = 12, .len = 1000},
		{.path = "hl", .mode = S_IFDIR | 0755, .mtime = 100},
		{.path = "hl/pair-a", .mode = S_IFREG | 0644, .mtime = 100, .seed = 15, .len = 20},
		{.path = "hl/pair-b", .link = "hl/pair-a"},
		{.path = "hl/target", .mode = S_IFREG | 0644, .mtime = 100, .seed = 7, .len = 3000},
		{.path = "keep", .mode = S_IFDIR | 0755}, /* made by the marker: time 0 */
		{.path = "new", .mode = S_IFREG | 0644, .seed = 60, .len = 10},
		{.path = "shrink", .mode = S_IFREG | 0644, .mtime = 100, .seed = 13, .len = 1000},
		{.path = "sym", .mode = S_IFLNK | 0777, .mtime = 100, .target = "bin/same"},
		{.path = "xa",
		 .mode = S_IFREG | 0644,
		 .mtime = 100,
		 .seed = 11,
		 .len = 10,
		 .xattrs = xa1,
		 .n_xattrs = 1},
	};
	check_view(file, merged, sizeof(merged) / sizeof(merged[0]), 2);
}

static void build_with_parent_refuses_a_hard_link_to_nothing(void **state)
{
	const struct lr_view *parent = parent_view();
	struct lr_build *b = build_open(tpath("badlink.sqfs"), parent, false, "keep");
	struct lr_error err = {0};
	assert_int_equal(lr_build_link(b, "x", "nowhere", &err), -ENOENT);
	if (!strstr(err.msg, "nowhere"))
		fail_msg("message '%s' should name the missing target", err.msg);
	lr_build_free(b);
}

/* ------------------------------------------------------------ tar */

struct tarw {
	struct archive *a;
	char *buf;
	size_t cap, used;
};

static void tar_begin(struct tarw *t, bool gzip)
{
	t->cap = 8 << 20;
	t->buf = malloc(t->cap);
	assert_non_null(t->buf);
	t->used = 0;
	t->a = archive_write_new();
	assert_non_null(t->a);
	assert_int_equal(archive_write_set_format_pax(t->a), ARCHIVE_OK);
	if (gzip)
		assert_int_equal(archive_write_add_filter_gzip(t->a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(t->a, t->buf, t->cap, &t->used), ARCHIVE_OK);
}

static struct archive_entry *tar_new(const char *path, mode_t mode, uint32_t uid, uint32_t gid,
				     int64_t mtime)
{
	struct archive_entry *ae = archive_entry_new();
	assert_non_null(ae);
	archive_entry_set_pathname(ae, path);
	archive_entry_set_mode(ae, mode);
	archive_entry_set_uid(ae, uid);
	archive_entry_set_gid(ae, gid);
	archive_entry_set_mtime(ae, mtime, 0);
	return ae;
}

/* Write ae (freed) with data. */
static void tar_put(struct tarw *t, struct archive_entry *ae, const void *data, size_t len)
{
	if (S_ISREG(archive_entry_mode(ae)) && !archive_entry_hardlink(ae))
		archive_entry_set_size(ae, (la_int64_t)len);
	else
		archive_entry_set_size(ae, 0);
	if (archive_write_header(t->a, ae) != ARCHIVE_OK)
		fail_msg("tar %s: %s", archive_entry_pathname(ae), archive_error_string(t->a));
	if (len)
		assert_int_equal(archive_write_data(t->a, data, len), (la_ssize_t)len);
	archive_entry_free(ae);
}

static void tar_file(struct tarw *t, const char *path, const char *data)
{
	tar_put(t, tar_new(path, AE_IFREG | 0644, 0, 0, 0), data, strlen(data));
}

static void tar_end(struct tarw *t)
{
	assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
}

/* Build buf as a tar named what into a layer; returns lr_src_tar()'s
 * result, err filled. */
static int tar_build(const char *file, const void *buf, size_t len, const char *what,
		     struct lr_error *err)
{
	struct lr_build *b = build_open(file, NULL, false, "keep");
	struct archive *a = lr_src_tar_reader();
	assert_non_null(a);
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK)
		fail_msg("%s: %s", what, archive_error_string(a));
	int r = lr_src_tar(b, a, what, err);
	archive_read_free(a);
	if (r == 0)
		build_close(b, NULL);
	else
		lr_build_free(b);
	return r;
}

static char tar_long_path[320];

/* An OCI layer's worth of tar: every entry type, whiteouts, xattrs. */
static void make_test_tar(struct tarw *t, bool gzip)
{
	tar_begin(t, gzip);
	tar_put(t, tar_new("./", AE_IFDIR | 0755, 0, 0, 50), NULL, 0);
	tar_put(t, tar_new("./etc/", AE_IFDIR | 0755, 0, 0, 60), NULL, 0);
	const char *passwd = "root:x:0:0::/root:/bin/sh\n";
	tar_put(t, tar_new("./etc/passwd", AE_IFREG | 0644, 0, 0, 70), passwd, strlen(passwd));
	struct archive_entry *ae = tar_new("./etc/passwd-link", AE_IFREG | 0644, 0, 0, 70);
	archive_entry_set_hardlink(ae, "./etc/passwd");
	tar_put(t, ae, NULL, 0);
	tar_file(t, "etc/.wh.shadow", "");
	tar_file(t, ".wh.toplevel", "");
	ae = tar_new("usr/bin/sh", AE_IFLNK | 0777, 0, 0, 80);
	archive_entry_set_symlink(ae, "busybox");
	tar_put(t, ae, NULL, 0);
	ae = tar_new("usr/bin/up", AE_IFLNK | 0777, 0, 0, 80);
	archive_entry_set_symlink(ae, "../../etc/passwd"); /* a target is never resolved */
	tar_put(t, ae, NULL, 0);
	ae = tar_new("dev/blk", AE_IFBLK | 0660, 0, 6, 90);
	archive_entry_set_rdevmajor(ae, 259);
	archive_entry_set_rdevminor(ae, 300);
	tar_put(t, ae, NULL, 0);
	ae = tar_new("dev/chr", AE_IFCHR | 0620, 0, 5, 90);
	archive_entry_set_rdevmajor(ae, 259);
	archive_entry_set_rdevminor(ae, 301);
	tar_put(t, ae, NULL, 0);
	tar_put(t, tar_new("dev/fifo", AE_IFIFO | 0600, 0, 0, 90), NULL, 0);
	tar_put(t, tar_new("opq/", AE_IFDIR | 0755, 0, 0, 100), NULL, 0);
	tar_file(t, "opq/.wh..wh..opq", "");
	tar_file(t, "opq/kept", "kept\n");
	tar_file(t, "opq2/.wh..wh..opq", ""); /* before its directory */
	tar_put(t, tar_new("opq2/", AE_IFDIR | 0700, 1, 1, 110), NULL, 0);
	ae = tar_new("xo/", AE_IFDIR | 0755, 0, 0, 120);
	archive_entry_xattr_add_entry(ae, "trusted.overlay.opaque", "y", 1);
	tar_put(t, ae, NULL, 0);
	ae = tar_new("x/file", AE_IFREG | 0640, 1000, 1000, 130);
	archive_entry_xattr_add_entry(ae, "user.mime", "text/plain", 10);
	archive_entry_xattr_add_entry(ae, "security.capability", cap_v2, sizeof(cap_v2));
	tar_put(t, ae, "x\n", 2);
	char *big = stream(70, 200 * KiB + 3);
	tar_put(t, tar_new("big", AE_IFREG | 0644, 0, 0, 140), big, 200 * KiB + 3);
	free(big);
	tar_file(t, tar_long_path, "long\n");
	tar_file(t, "/abs/file", "abs\n");
	/* The image's metadata is labrun's to write, never a tar's. */
	tar_file(t, ".labrun/layer.json", "{\"parent\":\"sha256:0000\"}");
	tar_end(t);
}

static const char *tar_layer(void)
{
	static bool made;
	static char file[PATH_MAX];
	if (made)
		return file;
	snprintf(file, sizeof(file), "%s", tpath("tar.sqfs"));
	char *p = tar_long_path;
	p += sprintf(p, "long/");
	memset(p, 'a', 120);
	p += 120;
	*p++ = '/';
	memset(p, 'b', 180);
	p[180] = '\0';
	assert_true(strlen(tar_long_path) > 300);

	struct tarw t;
	make_test_tar(&t, false);
	struct lr_error err = {0};
	if (tar_build(file, t.buf, t.used, "test.tar", &err) < 0)
		fail_msg("tar: %s", err.msg);
	free(t.buf);
	made = true;
	return file;
}

static void tar_source_stores_every_entry(void **state)
{
	struct layer l;
	layer_open(&l, tar_layer());
	char *want = NULL;
	assert_true(asprintf(&want,
			     "d .\n"
			     "d abs\n"
			     "f abs/file\n"
			     "f big\n"
			     "d dev\n"
			     "b dev/blk\n"
			     "c dev/chr\n"
			     "p dev/fifo\n"
			     "d etc\n"
			     "f etc/passwd\n"
			     "f etc/passwd-link\n"
			     "w etc/shadow\n"
			     "d long\n"
			     "d long/%.120s\n"
			     "f %s\n"
			     "d opq\n"
			     "f opq/kept\n"
			     "d opq2\n"
			     "w toplevel\n"
			     "d usr\n"
			     "d usr/bin\n"
			     "l usr/bin/sh\n"
			     "l usr/bin/up\n"
			     "d x\n"
			     "f x/file\n"
			     "d xo\n",
			     tar_long_path + 5, tar_long_path) > 0);
	assert_string_equal(l.list, want);
	free(want);

	const struct tentry t[] = {
		{.path = "", .mode = S_IFDIR | 0755, .mtime = 50},
		{.path = "etc", .mode = S_IFDIR | 0755, .mtime = 60},
		{.path = "usr", .mode = S_IFDIR | 0755}, /* implicit */
		{.path = "usr/bin/sh", .mode = S_IFLNK | 0777, .mtime = 80, .target = "busybox"},
		{.path = "usr/bin/up",
		 .mode = S_IFLNK | 0777,
		 .mtime = 80,
		 .target = "../../etc/passwd"},
		{.path = "dev/blk",
		 .mode = S_IFBLK | 0660,
		 .gid = 6,
		 .mtime = 90,
		 .major = 259,
		 .minor = 300},
		{.path = "dev/chr",
		 .mode = S_IFCHR | 0620,
		 .gid = 5,
		 .mtime = 90,
		 .major = 259,
		 .minor = 301},
		{.path = "dev/fifo", .mode = S_IFIFO | 0600, .mtime = 90},
		{.path = "big",
		 .mode = S_IFREG | 0644,
		 .mtime = 140,
		 .seed = 70,
		 .len = 200 * KiB + 3},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct got *g = layer_must(&l, t[i].path);
		char *data = S_ISREG(g->mode) ? layer_read(&l, g) : NULL;
		check_fields(g, data, &t[i]);
		free(data);
	}
	const struct got *pw = layer_must(&l, "etc/passwd"),
			 *pl = layer_must(&l, "etc/passwd-link");
	assert_int_equal(pw->id, pl->id);
	assert_int_equal(pw->mtime, 70);
	char *data = layer_read(&l, pl);
	assert_memory_equal(data, "root:x:0:0::/root:/bin/sh\n", pl->size);
	free(data);
	const struct got *lp = layer_must(&l, tar_long_path);
	data = layer_read(&l, lp);
	assert_int_equal(lp->size, 5);
	assert_memory_equal(data, "long\n", 5);
	free(data);
	layer_close(&l);
}

/* security.capability comes back as stored (see
 * walk_names_security_and_trusted_xattrs_as_stored). */
static void tar_source_keeps_owners_and_pax_xattrs(void **state)
{
	struct layer l;
	layer_open(&l, tar_layer());
	const struct got *g = layer_must(&l, "x/file");
	assert_int_equal(g->mode, S_IFREG | 0640);
	assert_int_equal(g->uid, 1000);
	assert_int_equal(g->gid, 1000);
	assert_int_equal(g->mtime, 130);
	if (g->n_xattrs != 2)
		fail_msg("x/file: %zu xattrs, want user.mime and security.capability", g->n_xattrs);
	assert_xattr(g, "user.mime", "text/plain", 10);
	assert_xattr(g, "security.capability", cap_v2, sizeof(cap_v2));
	layer_close(&l);
}

static void tar_source_turns_oci_whiteouts_into_overlay_form(void **state)
{
	struct layer l;
	layer_open(&l, tar_layer());
	assert_int_equal(kind(&l, "/etc/shadow"), LR_SQUASH_WHITEOUT);
	assert_int_equal(kind(&l, "/toplevel"), LR_SQUASH_WHITEOUT);
	const char *opaque[] = {"opq", "opq2", "xo"};
	for (size_t i = 0; i < 3; i++) {
		const struct got *g = layer_must(&l, opaque[i]);
		assert_xattr(g, "user.overlay.opaque", "y", 1);
		assert_int_equal(g->n_xattrs, 1);
	}
	assert_int_equal(kind(&l, "/opq"), LR_SQUASH_OPAQUE_DIR);
	/* The directory entry after the marker still gives the metadata. */
	const struct got *o2 = layer_must(&l, "opq2");
	assert_int_equal(o2->mode, S_IFDIR | 0700);
	assert_int_equal(o2->uid, 1);
	assert_int_equal(o2->mtime, 110);
	/* No ".wh." name reaches the layer. */
	assert_null(strstr(l.list, ".wh."));
	/* Nor the tar's own idea of /.labrun. */
	assert_absent(&l, ".labrun");
	layer_close(&l);
}

static void tar_source_reads_a_gzip_compressed_archive(void **state)
{
	tar_layer();
	struct tarw t;
	make_test_tar(&t, true);
	struct lr_error err = {0};
	if (tar_build(tpath("tar-gz.sqfs"), t.buf, t.used, "test.tar.gz", &err) < 0)
		fail_msg("tar.gz: %s", err.msg);
	free(t.buf);
	size_t l1, l2;
	char *a = slurp(tpath("tar.sqfs"), &l1), *b = slurp(tpath("tar-gz.sqfs"), &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(a, b, l1);
	free(a);
	free(b);
}

static void tar_source_refuses_members_that_climb_out(void **state)
{
	const char *names[] = {"../x", "a/../../x", "./a/..", "etc/../../../root/.ssh/keys"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct tarw t;
		tar_begin(&t, false);
		tar_file(&t, "ok", "fine");
		tar_file(&t, names[i], "evil");
		tar_end(&t);
		struct lr_error err = {0};
		int r = tar_build(tpath("evil.sqfs"), t.buf, t.used, "evil.tar", &err);
		free(t.buf);
		assert_int_equal(r, -EINVAL);
		if (!strstr(err.msg, "..") || !strstr(err.msg, "evil.tar") ||
		    !strstr(err.msg, names[i]))
			fail_msg("'%s': message '%s' should name the archive, member and ..",
				 names[i], err.msg);
	}
	/* A hard link whose target climbs out. */
	struct tarw t;
	tar_begin(&t, false);
	tar_file(&t, "ok", "fine");
	struct archive_entry *ae = tar_new("link", AE_IFREG | 0644, 0, 0, 0);
	archive_entry_set_hardlink(ae, "../etc/shadow");
	tar_put(&t, ae, NULL, 0);
	tar_end(&t);
	struct lr_error err = {0};
	assert_int_equal(tar_build(tpath("evil.sqfs"), t.buf, t.used, "evil.tar", &err), -EINVAL);
	if (!strstr(err.msg, "..") || !strstr(err.msg, "evil.tar"))
		fail_msg("hard link: message '%s'", err.msg);
	free(t.buf);
}

static void tar_source_refuses_a_truncated_archive(void **state)
{
	struct tarw t;
	tar_begin(&t, false);
	char *data = stream(80, 100 * KiB);
	tar_put(&t, tar_new("first", AE_IFREG | 0644, 0, 0, 0), data, 100 * KiB);
	tar_put(&t, tar_new("second", AE_IFREG | 0644, 0, 0, 0), data, 100 * KiB);
	tar_end(&t);
	free(data);
	/* Cut inside the first file's data, inside the second's header,
	 * inside the second's data. */
	const size_t cuts[] = {512 + 50000, 512 + 100 * KiB + 100, t.used - 20000};
	for (size_t i = 0; i < 3; i++) {
		struct lr_error err = {0};
		int r = tar_build(tpath("cut.sqfs"), t.buf, cuts[i], "cut.tar", &err);
		if (r >= 0)
			fail_msg("archive cut at %zu of %zu bytes accepted", cuts[i], t.used);
		if (!strstr(err.msg, "cut.tar"))
			fail_msg("cut at %zu: message '%s' should name the archive", cuts[i],
				 err.msg);
	}
	free(t.buf);

	/* A compressed stream cut short (long enough for libarchive to open
	 * it without reading it all). */
	tar_begin(&t, true);
	data = stream(82, 1024 * KiB);
	tar_put(&t, tar_new("first", AE_IFREG | 0644, 0, 0, 0), data, 1024 * KiB);
	tar_end(&t);
	free(data);
	struct lr_error err = {0};
	assert_true(tar_build(tpath("cut.sqfs"), t.buf, t.used / 2, "cut.tar.gz", &err) < 0);
	if (!strstr(err.msg, "cut.tar.gz"))
		fail_msg("cut gzip: message '%s' should name the archive", err.msg);
	free(t.buf);
}

/* ------------------------------------------------------------ directories */

static void mkfile(const char *path, const char *data, mode_t mode)
{
	spit(path, data, strlen(data));
	assert_int_equal(chmod(path, mode), 0);
}

static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static char marker[64];
static const char *marker_of(const char *name)
{
	snprintf(marker, sizeof(marker), "<<data of %s>>", name);
	return marker;
}

static void dir_source_stores_the_tree_sorted_with_links_and_xattrs(void **state)
{
	const char *src = tpath("srcdir");
	assert_int_equal(mkdir(src, 0755), 0);
	char p[PATH_MAX], q[PATH_MAX];
	/* Made in reverse order: the walk must not follow readdir's order. */
	snprintf(p, sizeof(p), "%s/many", src);
	assert_int_equal(mkdir(p, 0750), 0);
	for (int i = 19; i >= 0; i--) {
		char name[32], data[2048] = "";
		snprintf(name, sizeof(name), "many/f%02d", i);
		for (int k = 0; k < 32; k++)
			strcat(data, marker_of(name));
		snprintf(p, sizeof(p), "%s/%s", src, name);
		mkfile(p, data, 0640);
	}
	snprintf(p, sizeof(p), "%s/x", src);
	mkfile(p, marker_of("x"), 0644);
	snprintf(p, sizeof(p), "%s/s", src);
	assert_int_equal(symlink("a", p), 0);
	snprintf(p, sizeof(p), "%s/o", src);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/o/x", src);
	mkfile(p, marker_of("o/x"), 0755);
	snprintf(p, sizeof(p), "%s/a", src);
	mkfile(p, marker_of("a"), 0600);
	snprintf(q, sizeof(q), "%s/a-link", src);
	assert_int_equal(link(p, q), 0);

	bool xattrs = true;
	snprintf(p, sizeof(p), "%s/x", src);
	if (setxattr(p, "user.test", "v", 1, 0) < 0) {
		print_message("# %s: no user xattrs here (%s): xattrs not checked\n", src,
			      strerror(errno));
		xattrs = false;
	} else {
		snprintf(p, sizeof(p), "%s/o", src);
		assert_int_equal(setxattr(p, "user.overlay.opaque", "y", 1, 0), 0);
	}
	/* Times last, deepest first: adding entries changes a directory's. */
	const char *all[] = {"many/f00", "many/f19", "x", "o/x", "a", "s", "o", "many", ""};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", src, all[i]);
		set_mtime(p, 1600000000 + (time_t)i);
	}

	/* Uncompressed: each file's data lies in the image as is, in the
	 * order the walk added them. */
	struct lr_build_options o = {.sqw = {.compression = "none", .block_size = 128 * KiB}};
	struct lr_error err = {0};
	assert_int_equal(lr_idmap_parse(&o.owners, "root", &err), 0);
	const char *file = tpath("dir.sqfs");
	struct lr_build *b = NULL;
	assert_int_equal(lr_build_begin(&b, file, &o, &err), 0);
	if (lr_src_dir(b, src, &err) < 0)
		fail_msg("lr_src_dir: %s", err.msg);
	build_close(b, NULL);

	struct layer l;
	layer_open(&l, file);
	char *want = NULL;
	FILE *m = open_memstream(&want, &(size_t){0});
	fprintf(m, "d .\nf a\nf a-link\nd many\n");
	for (int i = 0; i < 20; i++)
		fprintf(m, "f many/f%02d\n", i);
	fprintf(m, "d o\nf o/x\nl s\nf x\n");
	fclose(m);
	assert_string_equal(l.list, want);
	free(want);

	for (size_t i = 0; i < l.n; i++) {
		assert_int_equal(l.v[i].uid, 0);
		assert_int_equal(l.v[i].gid, 0);
	}
	assert_int_equal(layer_must(&l, "")->mtime, 1600000000 + 8);
	assert_int_equal(layer_must(&l, "many")->mode, S_IFDIR | 0750);
	assert_int_equal(layer_must(&l, "many/f00")->mode, S_IFREG | 0640);
	assert_int_equal(layer_must(&l, "many/f00")->mtime, 1600000000);
	assert_int_equal(layer_must(&l, "o/x")->mode, S_IFREG | 0755);
	assert_int_equal(layer_must(&l, "a")->mode, S_IFREG | 0600);
	assert_int_equal(layer_must(&l, "a")->id, layer_must(&l, "a-link")->id);
	assert_string_equal(layer_must(&l, "s")->target, "a");
	assert_int_equal(layer_must(&l, "s")->mtime, 1600000000 + 5);
	const struct got *x = layer_must(&l, "x");
	char *data = layer_read(&l, x);
	assert_int_equal(x->size, strlen(marker_of("x")));
	assert_memory_equal(data, marker_of("x"), x->size);
	free(data);
	if (xattrs) {
		assert_int_equal(x->n_xattrs, 1);
		assert_xattr(x, "user.test", "v", 1);
		assert_int_equal(kind(&l, "/o"), LR_SQUASH_OPAQUE_DIR);
	}
	layer_close(&l);

	/* Data in walk order: depth first, names sorted. */
	size_t len;
	char *image = slurp(file, &len);
	const char *order[] = {"a",	   "many/f00", "many/f01", "many/f02", "many/f03",
			       "many/f04", "many/f05", "many/f06", "many/f07", "many/f08",
			       "many/f09", "many/f10", "many/f11", "many/f12", "many/f13",
			       "many/f14", "many/f15", "many/f16", "many/f17", "many/f18",
			       "many/f19", "o/x",      "x"};
	const char *prev = NULL;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const char *mk = marker_of(order[i]);
		const char *at = memmem(image, len, mk, strlen(mk));
		if (!at)
			fail_msg("data of %s not found in the uncompressed image", order[i]);
		if (prev && at < prev)
			fail_msg("data of %s lies before its predecessor's", order[i]);
		prev = at;
	}
	free(image);

	/* Reproducible from a directory too. */
	assert_int_equal(lr_build_begin(&b, tpath("dir2.sqfs"), &o, &err), 0);
	assert_int_equal(lr_src_dir(b, src, &err), 0);
	build_close(b, NULL);
	size_t l1, l2;
	char *d1 = slurp(file, &l1), *d2 = slurp(tpath("dir2.sqfs"), &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);
	free(d1);
	free(d2);
}

static void dir_source_names_a_missing_directory(void **state)
{
	struct lr_build *b = build_open(tpath("nodir.sqfs"), NULL, false, "keep");
	struct lr_error err = {0};
	assert_int_equal(lr_src_dir(b, tpath("no-such-dir"), &err), -ENOENT);
	if (!strstr(err.msg, "no-such-dir"))
		fail_msg("message '%s' should name the directory", err.msg);
	lr_build_free(b);
}

/* ------------------------------------------------------------ names (issue 12, item 8) */

static void path_is_clean_takes_only_names_a_layer_can_hold(void **state)
{
	const char *clean[] = {"", "a", "a/b", ".wh.x", "...", "a/.b", "a/..b/c", "é/ü"};
	const char *unclean[] = {".",	 "..", "a/.", "a/..",  "./a",	 "../a",
				 "a//b", "/a", "a/",  "a/./b", "a/../b", "//"};
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++)
		if (!lr_path_is_clean(clean[i]))
			fail_msg("'%s' is a name a layer can hold", clean[i]);
	for (size_t i = 0; i < sizeof(unclean) / sizeof(unclean[0]); i++)
		if (lr_path_is_clean(unclean[i]))
			fail_msg("'%s' is not a name a layer can hold", unclean[i]);
}

/* The writer is the last line: whatever a caller decoded, no entry named
 * "." or ".." reaches a layer. */
static void writer_refuses_entries_named_dot_or_dot_dot(void **state)
{
	const char *bad[] = {".", "..", "d/.", "d/..", "d//x", "d/./x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lr_sqw *w = sqw_open(tpath("unclean.sqfs"), &gzip_128k);
		struct lr_error err = {0};
		struct lr_sqw_entry e = {.path = "d", .mode = S_IFDIR | 0755};
		assert_int_equal(lr_sqw_add(w, &e, &err), 0);
		e = (struct lr_sqw_entry){.path = bad[i], .mode = S_IFCHR};
		assert_int_equal(lr_sqw_add(w, &e, &err), -EINVAL);
		if (!strstr(err.msg, bad[i]))
			fail_msg("add '%s': message '%s' should name it", bad[i], err.msg);
		e = (struct lr_sqw_entry){.path = "f", .mode = S_IFREG | 0644};
		assert_int_equal(lr_sqw_add(w, &e, &err), 0);
		assert_int_equal(lr_sqw_end(w, &err), 0);
		assert_int_equal(lr_sqw_link(w, bad[i], "f", &err), -EINVAL);
		assert_int_equal(lr_sqw_link(w, "g", bad[i], &err), -EINVAL);
		assert_int_equal(lr_sqw_set_xattr(w, bad[i], "user.x", "1", 1, &err), -EINVAL);
		lr_sqw_free(w);
	}
}

/* ".wh..." and "DIR/.wh.." decode to whiteouts of ".." and "DIR/.":
 * refused, naming the archive and the member as it is written there. */
static void tar_source_refuses_whiteouts_of_dot_and_dot_dot(void **state)
{
	const char *members[] = {".wh...", "dir/.wh..", ".wh..", "a/b/.wh...", "./dir/.wh.."};
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		struct tarw t;
		tar_begin(&t, false);
		tar_put(&t, tar_new("dir/", AE_IFDIR | 0755, 0, 0, 0), NULL, 0);
		tar_file(&t, "dir/ok", "fine");
		tar_file(&t, members[i], "");
		tar_end(&t);
		struct lr_error err = {0};
		for (int diff = 0; diff < 2; diff++) {
			struct lr_build *b =
				build_open_opts(tpath("wh.sqfs"), NULL, diff, "keep", false);
			struct archive *a = lr_src_tar_reader();
			assert_int_equal(archive_read_open_memory(a, t.buf, t.used), ARCHIVE_OK);
			int r = lr_src_tar(b, a, "evil.tar", &err);
			archive_read_free(a);
			lr_build_free(b);
			assert_int_equal(r, -EINVAL);
			if (!strstr(err.msg, "evil.tar") || !strstr(err.msg, members[i]) ||
			    !strstr(err.msg, "refused"))
				fail_msg("'%s': message '%s' should name the archive, the member "
					 "and say it is refused",
					 members[i], err.msg);
		}
		free(t.buf);
	}
}

/* Every way into a build checks the names it is given, whatever decoded
 * them: entries, whiteouts, opaque directories, hard links. */
static void build_refuses_names_a_layer_cannot_hold(void **state)
{
	const char *bad[] = {".", "..", "d/.", "d/..", "a//b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lr_build *b =
			build_open_opts(tpath("names.sqfs"), NULL, true, "keep", false);
		struct lr_error err = {0};
		struct lr_sqw_entry e = {.path = bad[i], .mode = S_IFDIR | 0755};
		assert_int_equal(lr_build_entry(b, &e, mem_read, NULL, &err), -EINVAL);
		if (!strstr(err.msg, bad[i]) || !strstr(err.msg, "refused"))
			fail_msg("entry '%s': message '%s'", bad[i], err.msg);
		assert_int_equal(lr_build_whiteout(b, bad[i], &err), -EINVAL);
		assert_int_equal(lr_build_opaque(b, bad[i], &err), -EINVAL);
		assert_int_equal(lr_build_link(b, bad[i], "x", &err), -EINVAL);
		assert_int_equal(lr_build_link(b, "x", bad[i], &err), -EINVAL);
		lr_build_free(b);
	}
	struct lr_build *b = build_open_opts(tpath("names.sqfs"), NULL, true, "keep", false);
	struct lr_error err = {0};
	assert_int_equal(lr_build_whiteout(b, "", &err), -EINVAL); /* the root */
	lr_build_free(b);
}

/* ------------------------------------------------------------ special entries (item 9) */

/* A hostile layer's worth of tar: a world-writable /dev/mem, a block
 * device, a setuid-root and a setgid file, a setgid directory, a file
 * capability, and what must stay: a whiteout, a FIFO (tar holds no
 * sockets). */
static void make_special_tar(struct tarw *t)
{
	tar_begin(t, false);
	struct archive_entry *ae = tar_new("dev/mem", AE_IFCHR | 0666, 0, 0, 10);
	archive_entry_set_rdevmajor(ae, 1);
	archive_entry_set_rdevminor(ae, 1);
	tar_put(t, ae, NULL, 0);
	ae = tar_new("dev/sda", AE_IFBLK | 0660, 0, 6, 10);
	archive_entry_set_rdevmajor(ae, 8);
	archive_entry_set_rdevminor(ae, 0);
	tar_put(t, ae, NULL, 0);
	ae = tar_new("dev/mem-again", AE_IFCHR | 0666, 0, 0, 10); /* a hard link to it */
	archive_entry_set_hardlink(ae, "dev/mem");
	tar_put(t, ae, NULL, 0);
	tar_put(t, tar_new("bin/su", AE_IFREG | 04755, 0, 0, 10), "su\n", 3);
	tar_put(t, tar_new("bin/wall", AE_IFREG | 02755, 0, 5, 10), "wall\n", 5);
	tar_put(t, tar_new("srv/shared/", AE_IFDIR | 02775, 0, 50, 10), NULL, 0);
	ae = tar_new("bin/ping", AE_IFREG | 0755, 0, 0, 10);
	archive_entry_xattr_add_entry(ae, "security.capability", cap_v2, sizeof(cap_v2));
	archive_entry_xattr_add_entry(ae, "user.note", "kept", 4);
	tar_put(t, ae, "ping\n", 5);
	tar_file(t, "etc/.wh.gone", "");
	tar_put(t, tar_new("run/fifo", AE_IFIFO | 0600, 0, 0, 10), NULL, 0);
	tar_end(t);
}

static struct lr_build_special special_build(const char *file, bool keep)
{
	struct tarw t;
	make_special_tar(&t);
	struct lr_build *b = build_open_opts(file, NULL, true, "keep", keep);
	struct archive *a = lr_src_tar_reader();
	struct lr_error err = {0};
	assert_int_equal(archive_read_open_memory(a, t.buf, t.used), ARCHIVE_OK);
	if (lr_src_tar(b, a, "special.tar", &err) < 0)
		fail_msg("special.tar: %s", err.msg);
	archive_read_free(a);
	free(t.buf);
	struct lr_build_special sp;
	lr_build_special(b, &sp);
	build_close(b, NULL);
	return sp;
}

static void build_drops_devices_and_disarms_setid_and_caps_by_default(void **state)
{
	struct lr_build_special sp = special_build(tpath("special.sqfs"), false);
	struct layer l;
	layer_open(&l, tpath("special.sqfs"));
	/* No dev/: the tar names no directory there, only the devices. */
	assert_string_equal(l.list, "d .\n"
				    "d bin\n"
				    "f bin/ping\n"
				    "f bin/su\n"
				    "f bin/wall\n"
				    "d etc\n"
				    "w etc/gone\n"
				    "d run\n"
				    "p run/fifo\n"
				    "d srv\n"
				    "d srv/shared\n");
	assert_int_equal(layer_must(&l, "bin/su")->mode, S_IFREG | 0755);
	assert_int_equal(layer_must(&l, "bin/wall")->mode, S_IFREG | 0755);
	assert_int_equal(layer_must(&l, "srv/shared")->mode, S_IFDIR | 02775);
	const struct got *ping = layer_must(&l, "bin/ping");
	if (ping->n_xattrs != 1)
		fail_msg("bin/ping: %zu xattrs, want user.note alone", ping->n_xattrs);
	assert_xattr(ping, "user.note", "kept", 4);
	layer_close(&l);

	assert_int_equal(sp.devices, 3); /* mem, sda, and mem's other name */
	assert_int_equal(sp.setid, 2);
	assert_int_equal(sp.caps, 1);
	assert_string_equal(sp.device_example, "dev/mem");
	assert_string_equal(sp.setid_example, "bin/su");
	assert_string_equal(sp.caps_example, "bin/ping");
	char line[1024];
	assert_true(lr_build_special_describe(&sp, line, sizeof(line)));
	assert_string_equal(line, "dropped 3 device nodes (/dev/mem, ...), cleared the "
				  "setuid/setgid bits of 2 files (/bin/su, ...), dropped the "
				  "file capabilities of 1 file (/bin/ping)");
}

static void build_keeps_special_entries_when_asked(void **state)
{
	struct lr_build_special sp = special_build(tpath("kept.sqfs"), true);
	struct layer l;
	layer_open(&l, tpath("kept.sqfs"));
	const struct got *mem = layer_must(&l, "dev/mem");
	assert_int_equal(mem->mode, S_IFCHR | 0666);
	assert_int_equal(mem->major, 1);
	assert_int_equal(mem->minor, 1);
	assert_int_equal(layer_must(&l, "dev/mem-again")->id, mem->id);
	assert_int_equal(layer_must(&l, "dev/sda")->mode, S_IFBLK | 0660);
	assert_int_equal(layer_must(&l, "bin/su")->mode, S_IFREG | 04755);
	assert_int_equal(layer_must(&l, "bin/wall")->mode, S_IFREG | 02755);
	assert_xattr(layer_must(&l, "bin/ping"), "security.capability", cap_v2, sizeof(cap_v2));
	layer_close(&l);
	/* Counted all the same: import records that the layer holds them. */
	assert_int_equal(sp.devices, 2);
	assert_int_equal(sp.setid, 2);
	assert_int_equal(sp.caps, 1);
}

/* A full tree over a parent that holds special entries (built with
 * keep_special): the default build does not inherit them, neither as
 * "equal to the parent" nor through a hard link to the parent's file. */
static void build_over_a_parent_disarms_what_the_tree_shares_with_it(void **state)
{
	static const struct lr_xattr caps[] = {
		{(char *)"security.capability", (char *)cap_v2, sizeof(cap_v2)}};
	const struct tentry base[] = {
		{.path = "", .mode = S_IFDIR | 0755},
		{.path = "bin", .mode = S_IFDIR | 0755},
		{.path = "bin/su", .mode = S_IFREG | 04755, .seed = 1, .len = 100},
		{.path = "bin/ping",
		 .mode = S_IFREG | 0755,
		 .seed = 2,
		 .len = 100,
		 .xattrs = caps,
		 .n_xattrs = 1},
		{.path = "dev", .mode = S_IFDIR | 0755},
		{.path = "dev/null", .mode = S_IFCHR | 0666, .major = 1, .minor = 3},
	};
	const char *parent = tpath("special-parent.sqfs");
	struct lr_build *b = build_open(parent, NULL, false, "keep");
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		build_one(b, &base[i]);
	build_close(b, NULL);

	struct lr_chain chain = {0};
	struct lr_view view = {0};
	struct lr_error err = {0};
	if (lr_chain_resolve(&chain, parent, NULL, 0, &err) < 0 ||
	    lr_view_load(&view, &chain, &err) < 0)
		fail_msg("parent: %s", err.msg);
	const char *child = tpath("special-child.sqfs");
	b = build_open_opts(child, &view, false, "keep", false);
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		build_one(b, &base[i]);
	const struct tentry link = {.path = "bin/su2", .link = "bin/su"};
	build_one(b, &link);
	struct lr_build_special sp;
	lr_build_special(b, &sp);
	build_close(b, NULL);
	lr_view_free(&view);
	lr_chain_free(&chain);

	struct layer l;
	layer_open(&l, child);
	assert_int_equal(layer_must(&l, "bin/su")->mode, S_IFREG | 0755);
	assert_int_equal(layer_must(&l, "bin/su2")->id, layer_must(&l, "bin/su")->id);
	assert_int_equal(layer_must(&l, "bin/ping")->n_xattrs, 0);
	/* The device is not in the tree as built: the parent's is deleted. */
	assert_int_equal(kind(&l, "/dev/null"), LR_SQUASH_WHITEOUT);
	layer_close(&l);
	assert_int_equal(sp.devices, 1);
	assert_true(sp.setid >= 1);
	assert_int_equal(sp.caps, 1);
}

static void special_line_escapes_what_a_terminal_would_obey(void **state)
{
	struct lr_build_special sp = {.devices = 1};
	snprintf(sp.device_example, sizeof(sp.device_example), "dev/\033]0;owned\007\\x\xff");
	char line[512];
	assert_true(lr_build_special_describe(&sp, line, sizeof(line)));
	assert_string_equal(line, "dropped 1 device node (/dev/\\x1b]0;owned\\x07\\x5cx\\xff)");
	/* A count without a path (a stored layer's record had none). */
	struct lr_build_special nameless = {.caps = 2};
	assert_true(lr_build_special_describe(&nameless, line, sizeof(line)));
	assert_string_equal(line, "dropped the file capabilities of 2 files");
	struct lr_build_special none = {0};
	assert_false(lr_build_special_describe(&none, line, sizeof(line)));
	assert_string_equal(line, "");
	/* A small buffer cuts the line, never overruns it. */
	sp.setid = 7;
	snprintf(sp.setid_example, sizeof(sp.setid_example), "%s", "usr/bin/passwd");
	char small[24];
	memset(small, 'Z', sizeof(small));
	lr_build_special_describe(&sp, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void special_counts_add_up_over_layers(void **state)
{
	struct lr_build_special sum = {0}, a = {.devices = 2, .caps = 1},
				b = {.devices = 1, .setid = 4};
	snprintf(a.device_example, sizeof(a.device_example), "dev/mem");
	snprintf(a.caps_example, sizeof(a.caps_example), "bin/ping");
	snprintf(b.device_example, sizeof(b.device_example), "dev/kmem");
	snprintf(b.setid_example, sizeof(b.setid_example), "bin/su");
	lr_build_special_add(&sum, &a);
	lr_build_special_add(&sum, &b);
	assert_int_equal(sum.devices, 3);
	assert_int_equal(sum.setid, 4);
	assert_int_equal(sum.caps, 1);
	assert_string_equal(sum.device_example, "dev/mem");
	assert_string_equal(sum.setid_example, "bin/su");
	assert_string_equal(sum.caps_example, "bin/ping");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(path_normalise_collapses_slashes_and_dots),
		cmocka_unit_test(path_normalise_refuses_dot_dot_anywhere),
		cmocka_unit_test(writer_stores_every_kind_of_entry_with_its_metadata),
		cmocka_unit_test(writer_makes_missing_parents_root_owned_0755),
		cmocka_unit_test(writer_sorts_names_bytewise),
		cmocka_unit_test(writer_output_is_accepted_by_unsquashfs),
		cmocka_unit_test(walk_names_security_and_trusted_xattrs_as_stored),
		cmocka_unit_test(fuse_getxattr_and_listxattr_name_namespaces_as_stored),
		cmocka_unit_test(writer_replaces_an_entry_given_again),
		cmocka_unit_test(writer_merges_a_directory_given_twice),
		cmocka_unit_test(writer_refuses_an_entry_under_a_non_directory),
		cmocka_unit_test(every_compression_gives_a_readable_layer_with_the_same_content),
		cmocka_unit_test(reads_hopping_between_blocks_give_each_blocks_own_bytes),
		cmocka_unit_test(unknown_compression_and_bad_block_size_are_refused_by_name),
		cmocka_unit_test(same_entries_give_identical_bytes),
		cmocka_unit_test(owner_map_parses_keep_root_and_ranges),
		cmocka_unit_test(owner_map_refuses_an_empty_spec),
		cmocka_unit_test(owner_map_refuses_bad_specs),
		cmocka_unit_test(builder_applies_the_owner_map),
		cmocka_unit_test(build_without_parent_stores_whiteouts_as_char_0_0),
		cmocka_unit_test(build_without_parent_marks_opaque_directories),
		cmocka_unit_test(build_keeps_the_input_out_of_labrun_metadata),
		cmocka_unit_test(build_with_parent_stores_only_what_changed),
		cmocka_unit_test(build_with_parent_leaves_unchanged_entries_out),
		cmocka_unit_test(build_with_parent_stores_content_changed_after_the_first_chunk),
		cmocka_unit_test(build_with_parent_stores_changed_metadata),
		cmocka_unit_test(build_with_parent_reads_files_to_their_end_whatever_they_declare),
		cmocka_unit_test(build_with_parent_turns_deletions_into_whiteouts),
		cmocka_unit_test(build_with_parent_stores_the_unchanged_target_of_a_hard_link),
		cmocka_unit_test(build_with_parent_ignores_whiteouts_in_a_full_tree),
		cmocka_unit_test(build_with_parent_stores_layer_json),
		cmocka_unit_test(build_with_parent_shows_the_full_tree_over_its_parent),
		cmocka_unit_test(build_in_diff_mode_stores_the_input_as_given),
		cmocka_unit_test(build_with_parent_refuses_a_hard_link_to_nothing),
		cmocka_unit_test(tar_source_stores_every_entry),
		cmocka_unit_test(tar_source_keeps_owners_and_pax_xattrs),
		cmocka_unit_test(tar_source_turns_oci_whiteouts_into_overlay_form),
		cmocka_unit_test(tar_source_reads_a_gzip_compressed_archive),
		cmocka_unit_test(tar_source_refuses_members_that_climb_out),
		cmocka_unit_test(path_is_clean_takes_only_names_a_layer_can_hold),
		cmocka_unit_test(writer_refuses_entries_named_dot_or_dot_dot),
		cmocka_unit_test(tar_source_refuses_whiteouts_of_dot_and_dot_dot),
		cmocka_unit_test(build_refuses_names_a_layer_cannot_hold),
		cmocka_unit_test(build_drops_devices_and_disarms_setid_and_caps_by_default),
		cmocka_unit_test(build_keeps_special_entries_when_asked),
		cmocka_unit_test(build_over_a_parent_disarms_what_the_tree_shares_with_it),
		cmocka_unit_test(special_line_escapes_what_a_terminal_would_obey),
		cmocka_unit_test(special_counts_add_up_over_layers),
		cmocka_unit_test(tar_source_refuses_a_truncated_archive),
		cmocka_unit_test(dir_source_stores_the_tree_sorted_with_links_and_xattrs),
		cmocka_unit_test(dir_source_names_a_missing_directory),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("layerbuild", tests, setup_dir, remove_dir);
}
