/* test_layers.c - layer chain resolution (lib/image/layers.c) and reading a file
 * through a chain (whiteouts, opaque directories), against squashfs files
 * made by mksquashfs in a temporary directory.  Runs as any user. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "chaininfo.h"
#include "layers.h"
#include "squash.h"

static char tmp[] = "/tmp/labrun-test-layers.XXXXXX";

static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* sha256 of a file as lower-case hex, with sha256sum(1). */
static void digest(const char *path, char hex[65])
{
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%64s", hex), 1);
	pclose(p);
}

/* Make layer NAME from directory tree SRC (already filled), with a
 * layer.json naming PARENT (a file path, or NULL) and extra JSON config. */
static void make_layer(const char *name, const char *parent, const char *config,
		       const char *extra_mksquashfs)
{
	char dir[PATH_MAX], json[PATH_MAX * 2];
	snprintf(dir, sizeof(dir), "%s/src-%s/.labrun", tmp, name);
	sh("mkdir -p '%s'", dir);
	char hex[65] = "";
	if (parent)
		digest(parent, hex);
	snprintf(json, sizeof(json), "{%s%s%s%s%s}", parent ? "\"parent\":\"sha256:" : "",
		 parent ? hex : "", parent ? "\"" : "", (parent && config) ? "," : "",
		 config ? config : "");
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/layer.json", dir);
	write_file(path, json);
	sh("mksquashfs '%s/src-%s' '%s/%s' -noappend -quiet -no-progress -all-root %s >/dev/null",
	   tmp, name, tmp, name, extra_mksquashfs ? extra_mksquashfs : "");
}

/* Put a copy of file under the store as sha256-<hex>.sqfs. */
static void store(const char *file, const char *storedir)
{
	char hex[65];
	digest(file, hex);
	sh("mkdir -p '%s' && cp '%s' '%s/sha256-%s.sqfs'", storedir, file, storedir, hex);
}

static int setup_dir(void **state)
{
	if (!mkdtemp(tmp))
		return -1;
	return 0;
}

static int remove_dir(void **state)
{
	sh("rm -rf '%s'", tmp);
	return 0;
}

static void resolves_a_plain_squashfs_as_one_layer(void **state)
{
	sh("mkdir -p %s/plain/bin && echo hi > %s/plain/bin/x", tmp, tmp);
	sh("mksquashfs %s/plain %s/plain.sqfs -noappend -quiet -no-progress >/dev/null", tmp, tmp);
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/plain.sqfs", tmp);
	assert_int_equal(lr_chain_resolve(c, path, NULL, 0, &err), 0);
	assert_int_equal(c->n, 1);
	assert_false(c->layers[0].meta.has_parent);
	lr_chain_free(c);
	free(c);
}

/* base <- mid <- top, parents in a store; returns top's path. */
static void build_three(char *top_path, size_t len)
{
	char base[PATH_MAX], mid[PATH_MAX];
	/* make_layer("X") packs the directory src-X. */
	sh("mkdir -p %s/src-base.sqfs/etc %s/src-base.sqfs/replaced %s/src-mid.sqfs/etc "
	   "%s/src-top.sqfs/replaced %s/src-top.sqfs/etc",
	   tmp, tmp, tmp, tmp, tmp);
	sh("echo base > %s/src-base.sqfs/etc/passwd", tmp);
	sh("echo old > %s/src-base.sqfs/replaced/old", tmp);
	sh("echo gone > %s/src-base.sqfs/etc/group", tmp);
	sh("echo mid > %s/src-mid.sqfs/etc/passwd", tmp);
	sh("echo new > %s/src-top.sqfs/replaced/new", tmp);
	char opaque[PATH_MAX];
	snprintf(opaque, sizeof(opaque), "%s/src-top.sqfs/replaced", tmp);
	assert_int_equal(setxattr(opaque, "user.overlay.opaque", "y", 1, 0), 0);
	make_layer("base.sqfs", NULL,
		   "\"config\":{\"env\":[\"A=base\",\"B=base\"],\"cmd\":[\"x\"]}", NULL);
	snprintf(base, sizeof(base), "%s/base.sqfs", tmp);
	make_layer("mid.sqfs", base, "\"config\":{\"env\":[\"B=mid\"],\"workdir\":\"/w\"}", NULL);
	snprintf(mid, sizeof(mid), "%s/mid.sqfs", tmp);
	char pseudo[PATH_MAX];
	snprintf(pseudo, sizeof(pseudo), "-p 'etc/group c 0000 0 0 0 0'");
	make_layer("top.sqfs", mid, "\"config\":{\"env\":[\"C=top\"]}", pseudo);
	char storedir[PATH_MAX];
	snprintf(storedir, sizeof(storedir), "%s/store", tmp);
	store(base, storedir);
	store(mid, storedir);
	snprintf(top_path, len, "%s/top.sqfs", tmp);
}

static void resolves_parents_from_the_store_and_merges_config(void **state)
{
	char top[PATH_MAX], storedir[PATH_MAX];
	build_three(top, sizeof(top));
	snprintf(storedir, sizeof(storedir), "%s/store", tmp);
	char *stores[] = {storedir};
	/* Parents are not beside top.sqfs under their digest names: only
	 * the store can satisfy them. */
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	assert_int_equal(lr_chain_resolve(c, top, stores, 1, &err), 0);
	assert_int_equal(c->n, 3);
	assert_string_equal(lr_strv_getenv(&c->config.env, "A"), "base");
	assert_string_equal(lr_strv_getenv(&c->config.env, "B"), "mid");
	assert_string_equal(lr_strv_getenv(&c->config.env, "C"), "top");
	assert_string_equal(c->config.workdir, "/w");
	assert_true(c->config.has_cmd);
	assert_string_equal(c->config.cmd.v[0], "x");

	/* Reading through the chain: the topmost regular file wins... */
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(lr_chain_read_file(c, "/etc/passwd", 1024, &buf, &len, &err), 0);
	assert_string_equal(buf, "mid\n");
	free(buf);
	/* ...a whiteout in a higher layer hides the file below... */
	assert_int_equal(lr_chain_read_file(c, "/etc/group", 1024, &buf, &len, &err), -ENOENT);
	/* ...and so does an opaque directory. */
	assert_int_equal(lr_chain_read_file(c, "/replaced/old", 1024, &buf, &len, &err), -ENOENT);
	assert_int_equal(lr_chain_read_file(c, "/replaced/new", 1024, &buf, &len, &err), 0);
	free(buf);
	lr_chain_free(c);
	free(c);
}

static void finds_parents_beside_the_image(void **state)
{
	char top[PATH_MAX];
	snprintf(top, sizeof(top), "%s/store/top-copy.sqfs", tmp);
	sh("cp %s/top.sqfs '%s'", tmp, top);
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	assert_int_equal(lr_chain_resolve(c, top, NULL, 0, &err), 0);
	assert_int_equal(c->n, 3);
	lr_chain_free(c);
	free(c);
}

static void names_the_missing_parent_and_where_it_looked(void **state)
{
	char top[PATH_MAX];
	snprintf(top, sizeof(top), "%s/top.sqfs", tmp);
	char *stores[] = {(char *)"/nonexistent/a", (char *)"/nonexistent/b"};
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	assert_int_equal(lr_chain_resolve(c, top, stores, 2, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "not found"));
	assert_non_null(strstr(err.msg, "/nonexistent/a, /nonexistent/b"));
	assert_non_null(strstr(err.msg, tmp)); /* the image's own directory */
	assert_non_null(strstr(err.msg, "sha256:"));
	assert_int_equal(c->n, 0);
	free(c);
}

static void refuses_a_parent_loop(void **state)
{
	/* Two layers whose layer.json name each other by fake digests. */
	char loopstore[PATH_MAX];
	snprintf(loopstore, sizeof(loopstore), "%s/loop", tmp);
	const char *a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	const char *b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	const char *names[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		sh("mkdir -p %s/src-loop%d/.labrun", tmp, i);
		sh("printf '{\"parent\":\"sha256:%s\"}' > %s/src-loop%d/.labrun/layer.json",
		   names[1 - i], tmp, i);
		sh("mkdir -p %s && mksquashfs %s/src-loop%d %s/sha256-%s.sqfs -noappend -quiet "
		   "-no-progress >/dev/null",
		   loopstore, tmp, i, loopstore, names[i]);
	}
	char image[PATH_MAX + 128];
	snprintf(image, sizeof(image), "%s/sha256-%s.sqfs", loopstore, a);
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	assert_int_equal(lr_chain_resolve(c, image, NULL, 0, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "loop"));
	free(c);
}

static void refuses_more_layers_than_the_limit(void **state)
{
	/* LR_MAX_LAYERS + 1 layers, each the parent of the next. */
	char prev[PATH_MAX] = "", deep[PATH_MAX];
	snprintf(deep, sizeof(deep), "%s/deep", tmp);
	sh("mkdir -p %s", deep);
	for (int i = 0; i <= LR_MAX_LAYERS; i++) {
		char name[64];
		snprintf(name, sizeof(name), "deep/l%03d.sqfs", i);
		make_layer(name, prev[0] ? prev : NULL, NULL, "-no-xattrs");
		snprintf(prev, sizeof(prev), "%s/deep/l%03d.sqfs", tmp, i);
		if (i < LR_MAX_LAYERS)
			store(prev, deep);
	}
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	assert_int_equal(lr_chain_resolve(c, prev, NULL, 0, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "128"));

	/* The one below the top has exactly LR_MAX_LAYERS: accepted. */
	char ok[PATH_MAX];
	snprintf(ok, sizeof(ok), "%s/deep/l%03d.sqfs", tmp, LR_MAX_LAYERS - 1);
	assert_int_equal(lr_chain_resolve(c, ok, NULL, 0, &err), 0);
	assert_int_equal(c->n, LR_MAX_LAYERS);
	lr_chain_free(c);
	free(c);
}

static void expect_image_error(const char *file, int code, const char *words)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", tmp, file);
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	assert_int_equal(lr_chain_resolve(c, path, NULL, 0, &err), -code);
	if (!strstr(err.msg, words) || !strstr(err.msg, path))
		fail_msg("message '%s' should name %s and say '%s'", err.msg, path, words);
	free(c);
}

static void reports_a_missing_image(void **state)
{
	expect_image_error("absent.sqfs", ENOENT, "No such file");
}

static void reports_a_file_that_is_not_squashfs(void **state)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/text.sqfs", tmp);
	write_file(path, "this is a text file, long enough to hold a superblock, really it is"
			 " longer than ninety-six bytes by now.\n");
	expect_image_error("text.sqfs", EINVAL, "bad magic");
	snprintf(path, sizeof(path), "%s/empty.sqfs", tmp);
	write_file(path, "");
	expect_image_error("empty.sqfs", EINVAL, "empty");
}

static void reports_a_truncated_image(void **state)
{
	/* Keep the superblock, lose the tables (mksquashfs pads the file to
	 * 4 KiB, so cutting "half" of a tiny image could cut only padding). */
	sh("cp %s/top.sqfs %s/cut.sqfs && truncate -s 100 %s/cut.sqfs", tmp, tmp, tmp);
	expect_image_error("cut.sqfs", EINVAL, "truncated");
}

static void reports_bad_layer_json_with_its_path(void **state)
{
	sh("mkdir -p %s/src-badjson/.labrun && echo '{not json' > "
	   "%s/src-badjson/.labrun/layer.json",
	   tmp, tmp);
	sh("mksquashfs %s/src-badjson %s/badjson.sqfs -noappend -quiet -no-progress >/dev/null",
	   tmp, tmp);
	expect_image_error("badjson.sqfs", EINVAL, "layer.json");
}

/* path of sq, read as a launch reads passwd and group, into text. */
static void read_small(struct lr_squash *sq, const char *path, char *text, size_t size)
{
	struct lr_error err = {0};
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(lr_squash_read_file(sq, path, 4096, &buf, &len, &err), 0);
	snprintf(text, size, "%.*s", (int)len, buf);
	free(buf);
}

static struct lr_squash *open_small(const char *name, int *fd)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	struct lr_error err = {0};
	*fd = lr_layer_open(path, &err);
	assert_true(*fd >= 0);
	struct lr_squash *sq = NULL;
	assert_int_equal(lr_squash_open(*fd, &sq, &err), 0);
	return sq;
}

/* Small files sit in fragments, which lr_squash_read_file() decompresses
 * into one buffer the whole process shares (squash_read.c): the files of
 * two layers read in turn, and a layer opened after one was freed (its
 * fragment at the same index, its handle perhaps at the same address),
 * each read their own bytes, never the last layer's. */
static void small_files_of_several_layers_read_their_own_bytes(void **state)
{
	sh("mkdir -p %s/fa/etc %s/fb/etc", tmp, tmp);
	sh("echo alpha > %s/fa/etc/passwd && echo alpha-group > %s/fa/etc/group", tmp, tmp);
	sh("echo beta > %s/fb/etc/passwd && echo beta-group > %s/fb/etc/group", tmp, tmp);
	sh("mksquashfs %s/fa %s/fa.sqfs -noappend -quiet -no-progress >/dev/null", tmp, tmp);
	sh("mksquashfs %s/fb %s/fb.sqfs -noappend -quiet -no-progress -comp lz4 >/dev/null", tmp,
	   tmp);
	int fa, fb;
	struct lr_squash *a = open_small("fa.sqfs", &fa), *b = open_small("fb.sqfs", &fb);
	char text[64];
	read_small(a, "/etc/passwd", text, sizeof(text));
	assert_string_equal(text, "alpha\n");
	read_small(b, "/etc/passwd", text, sizeof(text));
	assert_string_equal(text, "beta\n");
	read_small(a, "/etc/group", text, sizeof(text));
	assert_string_equal(text, "alpha-group\n");
	read_small(b, "/etc/group", text, sizeof(text));
	assert_string_equal(text, "beta-group\n");
	lr_squash_free(a);
	close(fa);
	a = open_small("fb.sqfs", &fa);
	read_small(a, "/etc/group", text, sizeof(text));
	assert_string_equal(text, "beta-group\n");
	lr_squash_free(b);
	close(fb);
	b = open_small("fa.sqfs", &fb);
	read_small(b, "/etc/group", text, sizeof(text));
	assert_string_equal(text, "alpha-group\n");
	lr_squash_free(a);
	lr_squash_free(b);
	close(fa);
	close(fb);
}

/* A holder's launch info (chaininfo.h) makes the chain lr_chain_resolve()
 * made: the same config, names, roots and files; a blob cut short or
 * garbled is refused, never read past. */
static void launch_info_gives_the_resolved_chain_back(void **state)
{
	char top[PATH_MAX], storedir[PATH_MAX];
	build_three(top, sizeof(top));
	snprintf(storedir, sizeof(storedir), "%s/store", tmp);
	char *stores[] = {storedir};
	struct lr_chain *c = calloc(1, sizeof(*c)), *d = calloc(1, sizeof(*d));
	struct lr_error err = {0};
	assert_int_equal(lr_chain_resolve(c, top, stores, 1, &err), 0);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/info", tmp);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(lr_chain_info_write(c, fd, 4096, &err), 0);
	off_t size = lseek(fd, 0, SEEK_END);
	assert_true(size > 0);
	char *info = malloc((size_t)size);
	assert_int_equal(pread(fd, info, (size_t)size, 0), size);
	close(fd);

	int top_fd = lr_layer_open(top, &err);
	assert_true(top_fd >= 0);
	assert_int_equal(lr_chain_from_info(d, top, top_fd, info, (size_t)size, &err), 0);
	assert_int_equal(d->n, 3);
	assert_true(d->from_info);
	assert_string_equal(lr_strv_getenv(&d->config.env, "A"), "base");
	assert_string_equal(lr_strv_getenv(&d->config.env, "B"), "mid");
	assert_string_equal(lr_strv_getenv(&d->config.env, "C"), "top");
	assert_string_equal(d->config.workdir, "/w");
	assert_string_equal(d->config.cmd.v[0], "x");
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(d->layers[i].name, c->layers[i].name);
		assert_null(d->layers[i].sq);
		assert_true(d->layers[i].root_known);
	}
	assert_string_equal(d->layers[0].path, top);
	assert_int_equal(lr_chain_check_roots(d, 0, 0, "--remap-root", &err), 0);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(lr_chain_read_file(d, "/etc/passwd", 1024, &buf, &len, &err), 0);
	assert_string_equal(buf, "mid\n");
	free(buf);
	/* the whiteout in top: no group, as through the layers */
	assert_int_equal(lr_chain_read_file(d, "/etc/group", 1024, &buf, &len, &err), -ENOENT);
	/* only what the info carries */
	assert_true(lr_chain_read_file(d, "/replaced/new", 1024, &buf, &len, &err) < 0);
	lr_chain_free(d);

	/* Every shorter blob, and a garbled magic and count, refused. */
	for (off_t cut = 0; cut < size; cut += cut < 64 ? 1 : 97) {
		top_fd = lr_layer_open(top, &err);
		assert_int_equal(lr_chain_from_info(d, top, top_fd, info, (size_t)cut, &err),
				 -EPROTO);
		assert_int_equal(d->n, 0);
	}
	for (size_t byte = 0; byte < 8; byte++) {
		info[byte] ^= 0x40;
		top_fd = lr_layer_open(top, &err);
		assert_int_equal(lr_chain_from_info(d, top, top_fd, info, (size_t)size, &err),
				 -EPROTO);
		info[byte] ^= 0x40;
	}
	free(info);
	lr_chain_free(c);
	free(c);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resolves_a_plain_squashfs_as_one_layer),
		cmocka_unit_test(resolves_parents_from_the_store_and_merges_config),
		cmocka_unit_test(finds_parents_beside_the_image),
		cmocka_unit_test(names_the_missing_parent_and_where_it_looked),
		cmocka_unit_test(refuses_a_parent_loop),
		cmocka_unit_test(refuses_more_layers_than_the_limit),
		cmocka_unit_test(reports_a_missing_image),
		cmocka_unit_test(reports_a_file_that_is_not_squashfs),
		cmocka_unit_test(reports_a_truncated_image),
		cmocka_unit_test(reports_bad_layer_json_with_its_path),
		cmocka_unit_test(small_files_of_several_layers_read_their_own_bytes),
		cmocka_unit_test(launch_info_gives_the_resolved_chain_back),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("layers", tests, setup_dir, remove_dir);
}
