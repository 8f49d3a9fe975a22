/* test_squash.c - lib/image/squash.c and lr_layer_open() against hostile
 * squashfs files made by tests/images/hostile.c (linked in): every count,
 * offset and index libsquashfuse 0.1.105 trusts is checked before it sees
 * it, walks end on directory cycles and hostile names, and a FIFO or a
 * device named as a layer is refused without blocking.  Each failing kind
 * crashed or hung labrun-image verify before these checks (issue 12).
 * Runs as any user.  Every test runs under an alarm: a hang is a failure. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostile.h"
#include "layerbuild.h"
#include "layers.h"
#include "layersrc.h"
#include "squash.h"

/* Seconds any one test may take: the cycles used to run forever. */
#define TEST_SECONDS 20

static char tmp[] = "/tmp/labrun-test-squash.XXXXXX";

static const char *tpath(const char *name)
{
	static char p[4][PATH_MAX];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmp, name);
	return p[i];
}

/* The image of that kind, written once, its path. */
static const char *image(const char *kind)
{
	char name[64];
	snprintf(name, sizeof(name), "%s.sqfs", kind);
	const char *path = tpath(name);
	if (access(path, F_OK) != 0 && hostile_make(kind, path) != 0)
		fail_msg("hostile_make %s failed", kind);
	return path;
}

/* Open the image of that kind as labrun does (lr_layer_open, then
 * lr_squash_open); 0 with *sq and *fd set, or the error. */
static int open_kind(const char *kind, int *fd, struct lr_squash **sq, struct lr_error *err)
{
	*fd = lr_layer_open(image(kind), err);
	if (*fd < 0)
		return *fd;
	int r = lr_squash_open(*fd, sq, err);
	if (r < 0) {
		close(*fd);
		*fd = -1;
	}
	return r;
}

static void alarm_handler(int sig)
{
	(void)sig;
	static const char msg[] = "# test took longer than TEST_SECONDS: a walk that never ends\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
	_exit(1);
}

static int setup(void **state)
{
	(void)state;
	signal(SIGALRM, alarm_handler);
	alarm(TEST_SECONDS);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmp) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------- sound image */

struct seen {
	char paths[16][64];
	size_t n;
};

static int collect(void *ctx, const struct lr_squash_entry *e, struct lr_error *err)
{
	(void)err;
	struct seen *s = ctx;
	if (s->n < 16)
		snprintf(s->paths[s->n++], sizeof(s->paths[0]), "%s", e->path);
	return 0;
}

static void the_generators_sound_image_opens_walks_and_verifies(void **state)
{
	(void)state;
	struct lr_error err = {0};
	struct lr_squash *sq;
	int fd;
	assert_int_equal(open_kind("ok", &fd, &sq, &err), 0);
	struct seen s = {0};
	assert_int_equal(lr_squash_walk(sq, collect, &s, &err), 0);
	const char *want[] = {"", "bin", "bin/sh", "etc", "etc/hello", "link"};
	assert_int_equal(s.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(s.paths[i], want[i]);
	uint64_t entries = 0, bytes = 0;
	assert_int_equal(lr_squash_verify(sq, &entries, &bytes, &err), 0);
	assert_int_equal(entries, 5);
	assert_int_equal(bytes, strlen("hello\n") + strlen("#!/bin/false\n"));
	char *buf;
	size_t len;
	assert_int_equal(lr_squash_read_file(sq, "/etc/hello", 100, &buf, &len, &err), 0);
	assert_string_equal(buf, "hello\n");
	free(buf);
	lr_squash_free(sq);
	close(fd);
}

/* ---------------------------------------------------------- refused */

/* Each kind, and what the message must say. */
static const struct {
	const char *kind, *says;
} refused[] = {
	{"ids0", "id count 0"},
	{"frag0", "/bin/sh: fragment index past the fragment table"},
	{"fragidx", "/etc/hello: fragment index past the fragment table"},
	{"uididx", "/etc/hello: owner index past the id table"},
	{"idtable", "id table points at byte"},
	{"idblock", "id table points at byte 96"},
	{"inodestart", "inode table start"},
	{"dirstart", "directory table start"},
	{"fragstart", "fragment table start"},
	{"idstart", "id table start"},
	{"xattrstart", "xattr table start 40"},
	{"bytesused", "truncated squashfs"},
	{"blocklog", "block log 12"},
	{"rootref", "root inode reference"},
	{"inodes0", "inode count 0"},
	{"truncated", "truncated squashfs"},
	{"cycle", "/bin/loop: a directory reached twice"},
	{"selfdir", "/etc/again: a directory reached twice"},
	{"dotdot", "/etc: an entry named \"..\""},
	{"dot", "/etc: an entry named \".\""},
	{"slash", "/etc: an entry named \"a/b\""},
	{"traversal", "/etc: an entry named \"../../x\""},
	{"nulname", "/etc: an entry named \"\\x00\""},
	{"dup", "/etc: two entries named \"hello\""},
	{"unsorted", "/etc: entries out of order"},
	{"longname", "/etc: an entry whose name is 300 bytes long"},
	{"deep", "directories nested deeper than 512"},
	{"typemix", "/etc/hello: the directory entry's type differs"},
	{"longlink", "/link: symbolic link target longer than PATH_MAX"},
	{"xattridx", "/etc/hello: xattr index past the xattr table"},
	{"xattrref", "/etc/hello: corrupt xattr table"},
	{"xattrname", "/etc/hello: corrupt xattr table"},
	{"xattrsize", "/etc/hello: corrupt xattr table"},
	{"block0", "/bin/sh: file data inside the superblock"},
	{"samenum", "/etc/hello: two files with one inode number"},
};

static void every_hostile_kind_is_refused_at_open_naming_the_cause(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct lr_error err = {0};
		struct lr_squash *sq = NULL;
		int fd;
		int r = open_kind(refused[i].kind, &fd, &sq, &err);
		if (r == 0) {
			lr_squash_free(sq);
			close(fd);
			fail_msg("%s: opened, should be refused", refused[i].kind);
		}
		if (!strstr(err.msg, refused[i].says))
			fail_msg("%s: message \"%s\" does not say \"%s\"", refused[i].kind, err.msg,
				 refused[i].says);
		if (strchr(err.msg, '\n'))
			fail_msg("%s: message of more than one line", refused[i].kind);
	}
}

/* A launch opens its layers scoped (issue 13): every hostile kind is
 * still refused with the same message, at open when the fault lies in
 * the root's, /.labrun's or /etc's listings, else by lr_squash_check_all()
 * or the first lookup outside them; until then nothing is served from the
 * layer (no FUSE handle, no read by inode). */
static void a_scoped_open_refuses_the_same_images_before_anything_is_served(void **state)
{
	(void)state;
	static const char *const scope[] = {".labrun", "etc", NULL};
	size_t deferred = 0;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct lr_error err = {0};
		struct lr_squash *sq = NULL;
		int fd = lr_layer_open(image(refused[i].kind), &err);
		assert_true(fd >= 0);
		if (lr_squash_open_scoped(fd, scope, &sq, &err) == 0) {
			deferred++;
			assert_null(lr_squash_ll(sq));
			char buf[64];
			const char *direct;
			size_t got;
			assert_int_equal(lr_squash_read(sq, 1, 0, sizeof(buf), buf, &direct, &got),
					 -EIO);
			assert_int_equal(lr_squash_pread(sq, 1, 0, buf, sizeof(buf)), -EIO);
			assert_int_equal(lr_squash_getxattr(sq, 1, "user.x", buf, sizeof(buf)),
					 -EIO);
			/* A lookup outside the scope checks the whole layer. */
			struct lr_error lerr = {0};
			if (lr_squash_kind(sq, "/bin/sh", &lerr) >= 0 &&
			    lr_squash_kind(sq, "/a/b/c", &lerr) >= 0)
				fail_msg("%s: lookups outside the scope passed", refused[i].kind);
			assert_true(lr_squash_check_all(sq, &err) < 0);
			assert_string_equal(err.msg, lerr.msg);
			lr_squash_free(sq);
		}
		close(fd);
		if (!strstr(err.msg, refused[i].says))
			fail_msg("%s: message \"%s\" does not say \"%s\"", refused[i].kind, err.msg,
				 refused[i].says);
	}
	/* The kinds' faults mostly lie outside /etc and /.labrun: deferred. */
	assert_true(deferred > 0);
}

/* The sound image, scoped: layer.json, /etc and the root read at once;
 * everything else after the whole check. */
static void a_scoped_open_reads_its_scope_and_serves_after_the_check(void **state)
{
	(void)state;
	static const char *const scope[] = {".labrun", "etc", NULL};
	struct lr_error err = {0};
	struct lr_squash *sq = NULL;
	int fd = lr_layer_open(image("ok"), &err);
	assert_true(fd >= 0);
	assert_int_equal(lr_squash_open_scoped(fd, scope, &sq, &err), 0);
	assert_int_equal(lr_squash_kind(sq, "/etc", &err), LR_SQUASH_DIR);
	assert_int_equal(lr_squash_kind(sq, "/etc/hello", &err), LR_SQUASH_FILE);
	uint32_t mode, uid, gid;
	assert_int_equal(lr_squash_root(sq, &mode, &uid, &gid), 0);
	assert_null(lr_squash_ll(sq));
	assert_int_equal(lr_squash_check_all(sq, &err), 0);
	assert_non_null(lr_squash_ll(sq));
	uint64_t entries = 0, bytes = 0;
	assert_int_equal(lr_squash_verify(sq, &entries, &bytes, &err), 0);
	assert_true(entries > 0);
	lr_squash_free(sq);
	close(fd);
}

static void lr_squash_check_alone_bounds_the_superblock(void **state)
{
	(void)state;
	/* The superblock's own faults, without libsquashfuse ever opening it. */
	const char *kinds[] = {"ids0",	  "inodestart", "dirstart",  "fragstart",
			       "idstart", "xattrstart", "bytesused", "blocklog",
			       "rootref", "inodes0",	"idtable",   "idblock"};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct lr_error err = {0};
		int fd = open(image(kinds[i]), O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		if (lr_squash_check(fd, &err) == 0)
			fail_msg("%s: lr_squash_check() passed it", kinds[i]);
		close(fd);
	}
}

static void a_fragment_offset_past_the_fragment_reads_as_an_error_not_heap(void **state)
{
	(void)state;
	struct lr_error err = {0};
	struct lr_squash *sq;
	int fd;
	assert_int_equal(open_kind("fragoff", &fd, &sq, &err), 0);
	uint64_t entries = 0, bytes = 0;
	assert_true(lr_squash_verify(sq, &entries, &bytes, &err) < 0);
	assert_non_null(strstr(err.msg, "/etc/hello: corrupt data"));
	char *buf = NULL;
	size_t len;
	assert_true(lr_squash_read_file(sq, "/etc/hello", 100, &buf, &len, &err) < 0);
	assert_null(buf);
	lr_squash_free(sq);
	close(fd);
}

/* ---------------------------------------------------------- the root */

static void a_root_of_mode_0700_is_named_for_users_it_shuts_out(void **state)
{
	(void)state;
	struct lr_chain *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	struct lr_error err = {0};
	assert_int_equal(lr_chain_resolve(c, image("root0700"), NULL, 0, &err), 0);
	assert_int_equal(lr_chain_check_roots(c, 0, 0, "--remap-root", &err),
			 0); /* the owner: --remap-root */
	assert_int_equal(lr_chain_check_roots(c, 1000, 1000, "--container-remap-root", &err),
			 -EACCES);
	assert_non_null(strstr(err.msg, "root0700.sqfs"));
	assert_non_null(strstr(err.msg, "root directory is mode 0700, owner 0:0"));
	/* The option as the caller's user types it: srun's under Slurm. */
	assert_non_null(strstr(err.msg, "(or run with --container-remap-root)"));
	lr_chain_free(c);
	assert_int_equal(lr_chain_resolve(c, image("ok"), NULL, 0, &err), 0);
	assert_int_equal(lr_chain_check_roots(c, 1000, 1000, "--remap-root", &err), 0);
	lr_chain_free(c);
	free(c);
}

/* ---------------------------------------------------------- not files */

static void a_fifo_socket_device_or_directory_is_refused_without_blocking(void **state)
{
	(void)state;
	/* Nobody ever writes to the FIFO: an open without O_NONBLOCK would
	 * wait until the alarm. */
	assert_int_equal(mkfifo(tpath("fifo.sqfs"), 0600), 0);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", tpath("socket.sqfs"));
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	const struct {
		const char *path, *says;
	} cases[] = {
		{tpath("fifo.sqfs"), "is a FIFO, not a squashfs file"},
		{tpath("socket.sqfs"), "is a socket, not a squashfs file"},
		{"/dev/null", "is a character device, not a squashfs file"},
		{tmp, "is a directory, not a squashfs file"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lr_error err = {0};
		int fd = lr_layer_open(cases[i].path, &err);
		if (fd >= 0)
			fail_msg("%s: opened", cases[i].path);
		if (!strstr(err.msg, cases[i].says))
			fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].path, err.msg,
				 cases[i].says);
	}
	close(s);
	/* And as the image of a chain: the error names it. */
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	assert_true(lr_chain_resolve(c, tpath("fifo.sqfs"), NULL, 0, &err) < 0);
	assert_non_null(strstr(err.msg, "fifo.sqfs: is a FIFO"));
	free(c);
}

static void a_fifo_in_a_store_is_refused_as_a_parent_without_blocking(void **state)
{
	(void)state;
	/* lr_layer_find() opens what a store holds under the parent's name. */
	char hex[65];
	memset(hex, 'a', 64);
	hex[64] = '\0';
	char name[100];
	snprintf(name, sizeof(name), "sha256-%s.sqfs", hex);
	assert_int_equal(mkfifo(tpath(name), 0600), 0);
	struct lr_error err = {0};
	char *path = NULL;
	char *stores[] = {tmp};
	int fd = lr_layer_find(hex, stores, 1, NULL, &path, &err);
	assert_true(fd < 0);
	assert_null(path);
	assert_non_null(strstr(err.msg, name));
	assert_non_null(strstr(err.msg, "is a FIFO"));
}

/* ---------------------------------------------------------- building */

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void a_build_from_a_tree_holding_a_bind_mount_of_itself_stops_naming_it(void **state)
{
	(void)state;
	/* A bind mount needs a user and mount namespace of our own: made in a
	 * child, which reports with its exit status (0: the loop was named). */
	char tree[PATH_MAX], out[PATH_MAX], inner[PATH_MAX + 8];
	snprintf(tree, sizeof(tree), "%s", tpath("tree"));
	snprintf(out, sizeof(out), "%s", tpath("tree.sqfs"));
	snprintf(inner, sizeof(inner), "%s/a", tree);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(mkdir(inner, 0755), 0);
	uid_t uid = getuid();
	gid_t gid = getgid();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char map[64];
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			_exit(77);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		if (write_text("/proc/self/uid_map", map) < 0)
			_exit(77);
		write_text("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		if (write_text("/proc/self/gid_map", map) < 0)
			_exit(77);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount(tree, inner, NULL, MS_BIND, NULL) < 0)
			_exit(77);
		struct lr_build *b = NULL;
		struct lr_error err = {0};
		struct lr_build_options o = {
			.sqw = {.compression = "gzip", .block_size = 128 * 1024, .workers = 1}};
		if (lr_build_begin(&b, out, &o, &err) < 0)
			_exit(3);
		int r = lr_src_dir(b, tree, &err);
		lr_build_free(b);
		if (r == -ELOOP && strstr(err.msg, "/a: a directory inside itself"))
			_exit(0);
		fprintf(stderr, "# lr_src_dir: %d %s\n", r, err.msg);
		_exit(1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		fprintf(stderr, "# skipped: no user and mount namespace can be made here\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_generators_sound_image_opens_walks_and_verifies,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			every_hostile_kind_is_refused_at_open_naming_the_cause, setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_scoped_open_refuses_the_same_images_before_anything_is_served, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_scoped_open_reads_its_scope_and_serves_after_the_check, setup, teardown),
		cmocka_unit_test_setup_teardown(lr_squash_check_alone_bounds_the_superblock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			a_fragment_offset_past_the_fragment_reads_as_an_error_not_heap, setup,
			teardown),
		cmocka_unit_test_setup_teardown(a_root_of_mode_0700_is_named_for_users_it_shuts_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_fifo_socket_device_or_directory_is_refused_without_blocking, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_fifo_in_a_store_is_refused_as_a_parent_without_blocking, setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_build_from_a_tree_holding_a_bind_mount_of_itself_stops_naming_it, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
