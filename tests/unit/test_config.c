/* test_config.c - labrun.conf parsing and bind specifications
 * (lib/run/config.c).  Parses strings and a few files in a temporary
 * directory; runs as any user. */
#include "build-config.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static const struct lr_expand alice = {.home = "/home/alice", .user = "alice"};

static char tmp[] = "/tmp/labrun-test-config.XXXXXX";

static int setup_dir(void **state)
{
	return mkdtemp(tmp) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int parse(struct lr_config *cfg, const char *text, struct lr_error *err)
{
	lr_config_init(cfg);
	return lr_config_parse(cfg, "test.conf", text, strlen(text), &alice, err);
}

/* Parsing must fail with EINVAL (or code) and a message containing want,
 * leaving cfg as lr_config_init() made it. */
static void expect_error(const char *text, int code, const char *want)
{
	struct lr_config cfg, pristine;
	struct lr_error err = {0};
	lr_config_init(&pristine);
	int r = parse(&cfg, text, &err);
	if (r != -code)
		fail_msg("parse(\"%.60s\") = %d (%s), expected %d", text, r, err.msg, -code);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	assert_memory_equal(&cfg, &pristine, sizeof(cfg));
}

/* ------------------------------------------------------------ labrun.conf */

static void defaults_have_no_stores_no_binds_and_1g_tmpfs(void **state)
{
	struct lr_config cfg;
	lr_config_init(&cfg);
	assert_int_equal(cfg.n_stores, 0);
	assert_int_equal(cfg.n_binds, 0);
	assert_true(cfg.tmpfs_size == 1024ULL * 1024 * 1024);
	assert_null(cfg.path);
	lr_config_free(&cfg);
}

static void parses_each_key(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg,
			       "layer-store = /apps/labrun/layers\n"
			       "bind = /scratch:/scratch:ro\n"
			       "tmpfs-size = 2G\n",
			       &err),
			 0);
	assert_string_equal(cfg.path, "test.conf");
	assert_int_equal(cfg.n_stores, 1);
	assert_string_equal(cfg.stores[0], "/apps/labrun/layers");
	assert_int_equal(cfg.n_binds, 1);
	assert_string_equal(cfg.binds[0].src, "/scratch");
	assert_string_equal(cfg.binds[0].dst, "/scratch");
	assert_true(cfg.binds[0].readonly);
	assert_true(cfg.tmpfs_size == 2ULL << 30);
	lr_config_free(&cfg);
}

static void layer_store_lists_and_repeats_append_in_order(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "layer-store = /a:/b\nlayer-store=/c\n", &err), 0);
	assert_int_equal(cfg.n_stores, 3);
	assert_string_equal(cfg.stores[0], "/a");
	assert_string_equal(cfg.stores[1], "/b");
	assert_string_equal(cfg.stores[2], "/c");
	lr_config_free(&cfg);
}

static void expands_tilde_home_and_user_in_paths(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg,
			       "layer-store = ~/.local/share/labrun/layers:$HOME/l:/s/$USER:"
			       "/t/${USER}x:~\n"
			       "bind = ~/data:/data/$USER\n",
			       &err),
			 0);
	assert_int_equal(cfg.n_stores, 5);
	assert_string_equal(cfg.stores[0], "/home/alice/.local/share/labrun/layers");
	assert_string_equal(cfg.stores[1], "/home/alice/l");
	assert_string_equal(cfg.stores[2], "/s/alice");
	assert_string_equal(cfg.stores[3], "/t/alicex");
	assert_string_equal(cfg.stores[4], "/home/alice");
	assert_string_equal(cfg.binds[0].src, "/home/alice/data");
	assert_string_equal(cfg.binds[0].dst, "/data/alice");
	lr_config_free(&cfg);
}

static void names_the_variable_it_cannot_expand(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	const char *text = "layer-store = /s/$USER\n";
	assert_int_equal(lr_config_parse(&cfg, "c", text, strlen(text), NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "$USER"));
	struct lr_expand no_home = {.home = NULL, .user = "alice"};
	text = "bind = ~/x\n";
	assert_int_equal(lr_config_parse(&cfg, "c", text, strlen(text), &no_home, &err), -EINVAL);
	assert_string_equal(err.msg, "c:1: bind '~/x': SRC: cannot expand ~ ($HOME): home "
				     "directory not known");
	text = "layer-store = $HOME/l\n";
	assert_int_equal(lr_config_parse(&cfg, "c", text, strlen(text), &no_home, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cannot expand $HOME"));
	assert_int_equal(cfg.n_stores, 0);
}

static void rejects_other_variables_and_tilde_user(void **state)
{
	expect_error("layer-store = $SCRATCH/l\n", EINVAL, "unknown variable $SCRATCH");
	expect_error("layer-store = $HOMEDIR/l\n", EINVAL, "unknown variable $HOMEDIR");
	expect_error("layer-store = ~bob/l\n", EINVAL, "~NAME is not supported");
	expect_error("layer-store = /a/${HOME\n", EINVAL, "without a closing");
}

static void keeps_a_lone_dollar(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "layer-store = /a$/b$\n", &err), 0);
	assert_string_equal(cfg.stores[0], "/a$/b$");
	lr_config_free(&cfg);
}

static void skips_comments_blank_lines_and_whitespace(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg,
			       "# labrun.conf\n"
			       "\n"
			       "   \t\n"
			       "   # indented comment = with an equals sign\n"
			       "\t layer-store\t=\t/a \t\r\n"
			       "tmpfs-size=512M",
			       &err),
			 0);
	assert_int_equal(cfg.n_stores, 1);
	assert_string_equal(cfg.stores[0], "/a");
	assert_true(cfg.tmpfs_size == 512ULL << 20);
	lr_config_free(&cfg);
}

static void keeps_hash_inside_values(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "layer-store = /a#b\nbind = /x # y\n", &err), 0);
	assert_string_equal(cfg.stores[0], "/a#b");
	assert_string_equal(cfg.binds[0].src, "/x # y");
	lr_config_free(&cfg);
}

static void reports_unknown_key_with_file_and_line(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "# c\n\nfoo = bar\n", &err), -EINVAL);
	assert_string_equal(err.msg,
			    "test.conf:3: unknown key 'foo' (known: layer-store, bind, tmpfs-size, "
			    "policy-dir, gpu-devices, holder-idle-timeout, trusted-layer-store)");
}

static void holder_idle_timeout_takes_seconds(void **state)
{
	(void)state;
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	assert_int_equal(cfg.holder_idle, LR_DEFAULT_HOLDER_IDLE);
	assert_int_equal(parse(&cfg, "holder-idle-timeout = 0\n", &err), 0);
	assert_int_equal(cfg.holder_idle, 0);
	lr_config_free(&cfg);
	assert_int_equal(parse(&cfg, "holder-idle-timeout = 60\n", &err), 0);
	assert_int_equal(cfg.holder_idle, 60);
	lr_config_free(&cfg);
	assert_int_equal(parse(&cfg, "holder-idle-timeout = 5m\n", &err), -EINVAL);
	assert_string_equal(err.msg, "test.conf:1: holder-idle-timeout: expected seconds from 0 "
				     "(no holder) to 604800, not '5m'");
	assert_int_equal(parse(&cfg, "holder-idle-timeout = 604801\n", &err), -EINVAL);
}

static void gpu_devices_takes_an_absolute_glob(void **state)
{
	(void)state;
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "gpu-devices = /dev/nvidia[0-9]*\n", &err), 0);
	assert_string_equal(cfg.gpu_devices, "/dev/nvidia[0-9]*");
	lr_config_free(&cfg);
	assert_int_equal(parse(&cfg, "gpu-devices = nvidia*\n", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "gpu-devices: expected an absolute path or glob"));
}

static void reports_bad_size_with_file_and_line(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "\ntmpfs-size = x\n", &err), -EINVAL);
	assert_string_equal(err.msg,
			    "test.conf:2: tmpfs-size: 'x' is not a size (use e.g. 512M or 2G)");
}

static void rejects_tmpfs_size_below_1m_unlimited_or_huge(void **state)
{
	expect_error("tmpfs-size = 512K\n", EINVAL,
		     "tmpfs-size: '512K' is below the minimum of 1M");
	expect_error("tmpfs-size = unlimited\n", EINVAL, "a tmpfs needs a size");
	expect_error("tmpfs-size = 99999999T\n", ERANGE, "too large");
	expect_error("tmpfs-size =\n", EINVAL, "is not a size");
}

static void accepts_tmpfs_size_of_exactly_1m(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "tmpfs-size = 1M\n", &err), 0);
	assert_true(cfg.tmpfs_size == 1ULL << 20);
	lr_config_free(&cfg);
}

static void last_tmpfs_size_wins(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "tmpfs-size = 2G\ntmpfs-size = 3G\n", &err), 0);
	assert_true(cfg.tmpfs_size == 3ULL << 30);
	lr_config_free(&cfg);
}

static void policy_dir_is_a_clean_absolute_path_last_one_wins(void **state)
{
	(void)state;
	struct lr_config cfg;
	lr_config_init(&cfg);
	struct lr_error err = {0};
	assert_null(cfg.policy_dir);
	assert_int_equal(parse(&cfg, "policy-dir = /a\npolicy-dir = ~/labs\n", &err), 0);
	assert_string_equal(cfg.policy_dir, "/home/alice/labs");
	lr_config_free(&cfg);
	expect_error("policy-dir = labs\n", EINVAL, "policy-dir");
}

static void rejects_a_line_without_equals(void **state)
{
	expect_error("layer-store /a\n", EINVAL, "test.conf:1: expected 'key = value'");
	expect_error("= /a\n", EINVAL, "test.conf:1: expected 'key = value', the key is missing");
}

static void rejects_relative_or_empty_stores(void **state)
{
	expect_error("layer-store = layers\n", EINVAL,
		     "test.conf:1: layer-store: 'layers': not an absolute path");
	expect_error("layer-store = /a::/b\n", EINVAL, "layer-store: empty directory in '/a::/b'");
	expect_error("layer-store = /a:\n", EINVAL, "empty directory");
	expect_error("layer-store =\n", EINVAL, "empty directory");
	expect_error("layer-store = /a/../etc\n", EINVAL, "'..' components are not allowed");
}

static void rejects_a_line_longer_than_the_limit(void **state)
{
	char *text = malloc(LR_CONFIG_MAX_LINE + 64);
	assert_non_null(text);
	/* Exactly at the limit is fine... */
	int n = snprintf(text, LR_CONFIG_MAX_LINE + 64, "layer-store = /");
	memset(text + n, 'a', (size_t)(LR_CONFIG_MAX_LINE - n));
	strcpy(text + LR_CONFIG_MAX_LINE, "\n");
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, text, &err), 0);
	assert_int_equal(strlen(cfg.stores[0]), LR_CONFIG_MAX_LINE - strlen("layer-store = "));
	lr_config_free(&cfg);
	/* ...one byte more is not. */
	strcpy(text + LR_CONFIG_MAX_LINE, "a\n");
	expect_error(text, EINVAL, "test.conf:1: line longer than 4096 bytes");
	free(text);
}

static void rejects_a_nul_byte_naming_its_line(void **state)
{
	static const char text[] = "layer-store = /a\nbind = /b\0c\n";
	struct lr_config cfg, pristine;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	lr_config_init(&pristine);
	assert_int_equal(lr_config_parse(&cfg, "n.conf", text, sizeof(text) - 1, &alice, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "n.conf:2: NUL byte (is this a text file?)");
	assert_memory_equal(&cfg, &pristine, sizeof(cfg));
}

static void rejects_a_file_larger_than_the_limit(void **state)
{
	size_t len = LR_CONFIG_MAX_BYTES + 1;
	char *text = malloc(len);
	assert_non_null(text);
	memset(text, '\n', len);
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	assert_int_equal(lr_config_parse(&cfg, "big.conf", text, len, &alice, &err), -EFBIG);
	assert_string_equal(err.msg, "big.conf: larger than 262144 bytes");
	/* The limit itself is allowed. */
	assert_int_equal(lr_config_parse(&cfg, "big.conf", text, len - 1, &alice, &err), 0);
	lr_config_free(&cfg);
	free(text);
}

static void rejects_more_stores_than_the_limit(void **state)
{
	char text[1024] = "layer-store = /s0";
	for (int i = 1; i < LR_CONFIG_MAX_STORES; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), ":/s%d", i);
	strcat(text, "\n");
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, text, &err), 0);
	assert_int_equal(cfg.n_stores, LR_CONFIG_MAX_STORES);
	lr_config_free(&cfg);
	/* One more, on a line of its own. */
	strcat(text, "layer-store = /one-too-many\n");
	expect_error(text, E2BIG, "test.conf:2: layer-store: more than 16 directories");
}

static void rejects_more_binds_than_the_limit(void **state)
{
	char text[4096] = "";
	for (int i = 0; i <= LR_CONFIG_MAX_BINDS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "bind = /b%d\n", i);
	expect_error(text, E2BIG, "test.conf:65: bind: more than 64 binds");
}

static void an_error_leaves_the_config_at_its_defaults(void **state)
{
	/* Good lines first: none of them may survive the bad one. */
	expect_error("layer-store = /a:/b\nbind = /x\ntmpfs-size = 4G\nbind = /y:/\n", EINVAL,
		     "test.conf:4: bind '/y:/': DST: cannot bind over the container's root");
}

static void binds_from_the_config_are_optional(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "bind = /scratch\nbind = /apps:/software:ro\n", &err), 0);
	assert_int_equal(cfg.n_binds, 2);
	assert_true(cfg.binds[0].optional);
	assert_true(cfg.binds[1].optional);
	assert_string_equal(cfg.binds[1].dst, "/software");
	lr_config_free(&cfg);
}

static void a_successful_parse_replaces_the_previous_config(void **state)
{
	struct lr_config cfg;
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "layer-store = /old\n", &err), 0);
	const char *text = "layer-store = /new\n";
	assert_int_equal(lr_config_parse(&cfg, "second.conf", text, strlen(text), &alice, &err), 0);
	assert_int_equal(cfg.n_stores, 1);
	assert_string_equal(cfg.stores[0], "/new");
	assert_string_equal(cfg.path, "second.conf");
	lr_config_free(&cfg);
}

static void free_accepts_zeroed_and_freed_configs(void **state)
{
	struct lr_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	lr_config_free(&cfg);
	lr_config_free(NULL);
	struct lr_error err = {0};
	assert_int_equal(parse(&cfg, "bind = /a\n", &err), 0);
	lr_config_free(&cfg);
	lr_config_free(&cfg); /* twice: the first one re-initialised it */
	assert_int_equal(cfg.n_binds, 0);
}

/* ------------------------------------------------------------ lr_config_load */

static void load_reads_the_file_and_names_it_in_errors(void **state)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/labrun.conf", tmp);
	write_file(path, "tmpfs-size = 3G\n", 16);
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	assert_int_equal(lr_config_load(&cfg, path, false, &alice, &err), 0);
	assert_true(cfg.tmpfs_size == 3ULL << 30);
	assert_string_equal(cfg.path, path);
	lr_config_free(&cfg);

	write_file(path, "\nbogus = 1\n", 11);
	assert_int_equal(lr_config_load(&cfg, path, false, &alice, &err), -EINVAL);
	char want[PATH_MAX + 32];
	snprintf(want, sizeof(want), "%s:2: unknown key 'bogus'", path);
	assert_non_null(strstr(err.msg, want));
}

static void load_of_a_missing_file_is_fine_when_missing_ok(void **state)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/absent.conf", tmp);
	struct lr_config cfg, pristine;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	lr_config_init(&pristine);
	assert_int_equal(lr_config_load(&cfg, path, true, &alice, &err), 0);
	assert_memory_equal(&cfg, &pristine, sizeof(cfg));
}

static void load_of_a_missing_file_fails_otherwise(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/absent.conf", tmp);
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	assert_int_equal(lr_config_load(&cfg, path, false, &alice, &err), -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot read: %s", path, strerror(ENOENT));
	assert_string_equal(err.msg, want);
}

static void load_of_a_directory_fails_even_when_missing_ok(void **state)
{
	/* A directory of its own: the test's tmp sits in /tmp, which others
	 * can write, and a config there is refused for that first. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/adir", tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	int r = lr_config_load(&cfg, path, true, &alice, &err);
	rmdir(path);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err.msg, "cannot read"));
	assert_non_null(strstr(err.msg, "not a regular file"));
}

static void load_refuses_a_file_others_can_write(void **state)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/open.conf", tmp);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("tmpfs-size = 1G\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0666), 0);
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	int r = lr_config_load(&cfg, path, false, &alice, &err);
	unlink(path);
	assert_int_equal(r, -EPERM);
	assert_non_null(strstr(err.msg, "anyone can write it (mode 0666)"));
}

static void load_refuses_a_fifo_without_blocking(void **state)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/fifo.conf", tmp);
	assert_int_equal(mkfifo(path, 0644), 0);
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	alarm(10);
	int r = lr_config_load(&cfg, path, false, &alice, &err);
	alarm(0);
	unlink(path);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err.msg, "not a regular file"));
}

static void load_rejects_a_file_larger_than_the_limit(void **state)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/big.conf", tmp);
	size_t len = LR_CONFIG_MAX_BYTES + 100;
	char *text = malloc(len);
	assert_non_null(text);
	memset(text, '#', len);
	write_file(path, text, len);
	free(text);
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	assert_int_equal(lr_config_load(&cfg, path, false, &alice, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "larger than 262144 bytes"));
}

/* etc/labrun.conf as shipped (all commented out), and with its example
 * lines uncommented: the documentation and the parser agree. */
static void the_example_config_parses_as_shipped_and_uncommented(void **state)
{
	const char *top = getenv("top_srcdir");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/etc/labrun.conf", top ? top : ".");
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	if (lr_config_load(&cfg, path, false, &alice, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(cfg.n_stores + cfg.n_binds, 0);
	lr_config_free(&cfg);

	char cmd[PATH_MAX * 2 + 64], out[PATH_MAX];
	snprintf(out, sizeof(out), "%s/uncommented.conf", tmp);
	snprintf(cmd, sizeof(cmd), "sed 's/^#\\([a-z]\\)/\\1/' '%s' > '%s'", path, out);
	assert_int_equal(system(cmd), 0);
	if (lr_config_load(&cfg, out, false, &alice, &err) < 0)
		fail_msg("%s", err.msg);
	/* the trusted store first, searched before the others */
	assert_int_equal(cfg.n_stores, 3);
	assert_string_equal(cfg.trusted_store, "/apps/labrun/trusted");
	assert_string_equal(cfg.stores[0], "/apps/labrun/trusted");
	assert_string_equal(cfg.stores[2], "/home/alice/.local/share/labrun/layers");
	assert_int_equal(cfg.holder_idle, 300);
	assert_int_equal(cfg.n_binds, 3);
	assert_string_equal(cfg.binds[1].src, "/scratch/alice");
	assert_true(cfg.binds[2].readonly);
	assert_true(cfg.tmpfs_size == LR_DEFAULT_TMPFS_SIZE);
	assert_string_equal(cfg.policy_dir, "/etc/labrun/labs.d");
	lr_config_free(&cfg);
}

/* ------------------------------------------------------------ lr_bind_parse */

static void assert_bind(const char *spec, const char *src, const char *dst, bool ro)
{
	struct lr_bind b = {0};
	struct lr_error err = {0};
	int r = lr_bind_parse(&b, spec, &alice, &err);
	if (r != 0)
		fail_msg("lr_bind_parse(\"%s\") = %d: %s", spec, r, err.msg);
	assert_string_equal(b.src, src);
	assert_string_equal(b.dst, dst);
	assert_int_equal(b.readonly, ro);
	assert_false(b.optional);
	lr_bind_free(&b);
	assert_null(b.src);
}

static void expect_bind_error(const char *spec, const char *want)
{
	struct lr_bind b = {.src = (char *)"untouched"};
	struct lr_error err = {0};
	int r = lr_bind_parse(&b, spec, &alice, &err);
	if (r >= 0)
		fail_msg("lr_bind_parse(\"%s\") succeeded", spec ? spec : "(null)");
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	assert_string_equal(b.src, "untouched");
	assert_null(b.dst);
}

static void bind_of_src_alone_puts_it_at_the_same_path_read_write(void **state)
{
	assert_bind("/scratch", "/scratch", "/scratch", false);
}

static void bind_takes_src_dst_and_mode(void **state)
{
	assert_bind("/data:/mnt/data", "/data", "/mnt/data", false);
	assert_bind("/data:/mnt/data:ro", "/data", "/mnt/data", true);
	assert_bind("/data:/mnt/data:rw", "/data", "/mnt/data", false);
	assert_bind("/:/host:ro", "/", "/host", true);
}

static void bind_expands_tilde_home_and_user(void **state)
{
	assert_bind("~", "/home/alice", "/home/alice", false);
	assert_bind("~/x:~/y", "/home/alice/x", "/home/alice/y", false);
	assert_bind("$HOME/x:/u/$USER:ro", "/home/alice/x", "/u/alice", true);
}

static void bind_normalises_slashes(void **state)
{
	assert_bind("//a///b/:/c//d/", "/a/b", "/c/d", false);
}

static void bind_rejects_dot_and_dotdot_components(void **state)
{
	expect_bind_error("/a/../etc:/x",
			  "bind '/a/../etc:/x': SRC: '..' components are not allowed");
	expect_bind_error("/x:/a/..", "bind '/x:/a/..': DST: '..' components are not allowed");
	expect_bind_error("/a/./b", "'.' components are not allowed");
}

static void bind_accepts_names_that_merely_start_with_dots(void **state)
{
	assert_bind("/a/..b/...:/c/.x", "/a/..b/...", "/c/.x", false);
}

static void bind_rejects_relative_paths(void **state)
{
	expect_bind_error("data:/data", "bind 'data:/data': SRC: not an absolute path");
	expect_bind_error("/data:data", "bind '/data:data': DST: not an absolute path");
}

static void bind_rejects_the_container_root_as_dst(void **state)
{
	expect_bind_error("/a:/", "bind '/a:/': DST: cannot bind over the container's root");
	expect_bind_error("/a://", "cannot bind over the container's root");
	expect_bind_error("/", "cannot bind over the container's root");
}

static void bind_rejects_empty_fields(void **state)
{
	expect_bind_error("", "bind '': empty");
	expect_bind_error(NULL, "bind '': empty");
	expect_bind_error(":/b", "bind ':/b': empty SRC");
	expect_bind_error("/a:", "bind '/a:': empty DST");
	expect_bind_error("/a::ro", "bind '/a::ro': empty DST");
}

static void bind_rejects_a_bad_mode(void **state)
{
	expect_bind_error("/a:/b:x", "bind '/a:/b:x': mode must be ro or rw");
	expect_bind_error("/a:/b:", "mode must be ro or rw");
	expect_bind_error("/a:/b:RO", "mode must be ro or rw");
}

static void bind_rejects_more_than_three_fields(void **state)
{
	expect_bind_error("/a:/b:ro:x", "bind '/a:/b:ro:x': too many ':' fields");
}

static void bind_rejects_paths_longer_than_path_max(void **state)
{
	char *spec = malloc(PATH_MAX + 8);
	assert_non_null(spec);
	spec[0] = '/';
	memset(spec + 1, 'a', PATH_MAX);
	spec[PATH_MAX + 1] = '\0';
	expect_bind_error(spec, "longer than 4095 bytes");
	/* Expansion counts: a path that only grows too long once ~ is expanded. */
	spec[0] = '~';
	spec[1] = '/';
	spec[PATH_MAX - 8] = '\0';
	expect_bind_error(spec, "longer than 4095 bytes");
	free(spec);
}

int main(void)
{
	cmocka_set_message_output(CM_OUTPUT_TAP);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_have_no_stores_no_binds_and_1g_tmpfs),
		cmocka_unit_test(parses_each_key),
		cmocka_unit_test(layer_store_lists_and_repeats_append_in_order),
		cmocka_unit_test(expands_tilde_home_and_user_in_paths),
		cmocka_unit_test(names_the_variable_it_cannot_expand),
		cmocka_unit_test(rejects_other_variables_and_tilde_user),
		cmocka_unit_test(keeps_a_lone_dollar),
		cmocka_unit_test(skips_comments_blank_lines_and_whitespace),
		cmocka_unit_test(keeps_hash_inside_values),
		cmocka_unit_test(reports_unknown_key_with_file_and_line),
		cmocka_unit_test(holder_idle_timeout_takes_seconds),
		cmocka_unit_test(gpu_devices_takes_an_absolute_glob),
		cmocka_unit_test(reports_bad_size_with_file_and_line),
		cmocka_unit_test(rejects_tmpfs_size_below_1m_unlimited_or_huge),
		cmocka_unit_test(accepts_tmpfs_size_of_exactly_1m),
		cmocka_unit_test(last_tmpfs_size_wins),
		cmocka_unit_test(policy_dir_is_a_clean_absolute_path_last_one_wins),
		cmocka_unit_test(rejects_a_line_without_equals),
		cmocka_unit_test(rejects_relative_or_empty_stores),
		cmocka_unit_test(rejects_a_line_longer_than_the_limit),
		cmocka_unit_test(rejects_a_nul_byte_naming_its_line),
		cmocka_unit_test(rejects_a_file_larger_than_the_limit),
		cmocka_unit_test(rejects_more_stores_than_the_limit),
		cmocka_unit_test(rejects_more_binds_than_the_limit),
		cmocka_unit_test(an_error_leaves_the_config_at_its_defaults),
		cmocka_unit_test(binds_from_the_config_are_optional),
		cmocka_unit_test(a_successful_parse_replaces_the_previous_config),
		cmocka_unit_test(free_accepts_zeroed_and_freed_configs),
		cmocka_unit_test(load_reads_the_file_and_names_it_in_errors),
		cmocka_unit_test(load_of_a_missing_file_is_fine_when_missing_ok),
		cmocka_unit_test(load_of_a_missing_file_fails_otherwise),
		cmocka_unit_test(load_of_a_directory_fails_even_when_missing_ok),
		cmocka_unit_test(load_refuses_a_file_others_can_write),
		cmocka_unit_test(load_refuses_a_fifo_without_blocking),
		cmocka_unit_test(load_rejects_a_file_larger_than_the_limit),
		cmocka_unit_test(the_example_config_parses_as_shipped_and_uncommented),
		cmocka_unit_test(bind_of_src_alone_puts_it_at_the_same_path_read_write),
		cmocka_unit_test(bind_takes_src_dst_and_mode),
		cmocka_unit_test(bind_expands_tilde_home_and_user),
		cmocka_unit_test(bind_normalises_slashes),
		cmocka_unit_test(bind_rejects_dot_and_dotdot_components),
		cmocka_unit_test(bind_accepts_names_that_merely_start_with_dots),
		cmocka_unit_test(bind_rejects_relative_paths),
		cmocka_unit_test(bind_rejects_the_container_root_as_dst),
		cmocka_unit_test(bind_rejects_empty_fields),
		cmocka_unit_test(bind_rejects_a_bad_mode),
		cmocka_unit_test(bind_rejects_more_than_three_fields),
		cmocka_unit_test(bind_rejects_paths_longer_than_path_max),
	};
	return cmocka_run_group_tests_name("config", tests, setup_dir, remove_dir);
}
