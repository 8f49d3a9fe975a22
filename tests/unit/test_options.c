/* test_options.c - the labrun command line (launcher/options.c).  Pure
 * function; runs as any user. */
#include "build-config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

/* argv as main() gets it: program name first, NULL-terminated. */
#define ARGV(...) ((char *[]){"labrun", __VA_ARGS__, NULL})

static int argc_of(char **argv)
{
	int n = 0;
	while (argv[n])
		n++;
	return n;
}

static void parse_ok(struct lr_options *o, char **argv)
{
	struct lr_error err = {0};
	int r = lr_options_parse(o, argc_of(argv), argv, &err);
	if (r != 0)
		fail_msg("lr_options_parse(%s ...) = %d: %s", argv[1], r, err.msg);
}

/* Parsing fails with a message containing want, leaving o untouched. */
static void expect_error(char **argv, const char *want)
{
	struct lr_options o;
	memset(&o, 0x5A, sizeof(o));
	struct lr_options before = o;
	struct lr_error err = {0};
	int r = lr_options_parse(&o, argc_of(argv), argv, &err);
	if (r >= 0)
		fail_msg("lr_options_parse(%s ...) succeeded, expected \"%s\"", argv[1], want);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	assert_memory_equal(&o, &before, sizeof(o));
}

static void assert_command(const struct lr_options *o, const char *const *want)
{
	int n = 0;
	while (want[n])
		n++;
	assert_int_equal(o->argc, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(o->argv[i], want[i]);
	assert_null(o->argv[n]);
}

/* ------------------------------------------------------------ IMAGE and command */

static void quota_needs_no_image_and_takes_an_optional_lab(void **state)
{
	(void)state;
	struct lr_options o;
	parse_ok(&o, ARGV("--quota"));
	assert_int_equal(o.action, LR_ACTION_QUOTA);
	assert_null(o.quota_lab);
	parse_ok(&o, ARGV("--quota=physics"));
	assert_int_equal(o.action, LR_ACTION_QUOTA);
	assert_string_equal(o.quota_lab, "physics");
	expect_error(ARGV("--quota", "img.sqfs"),
		     "--quota takes no IMAGE or COMMAND, not 'img.sqfs'");
}

static void splits_image_and_command(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("img.sqfs", "ls", "-l", "/"));
	assert_int_equal(o.action, LR_ACTION_RUN);
	assert_string_equal(o.image, "img.sqfs");
	assert_command(&o, (const char *[]){"ls", "-l", "/", NULL});
}

static void image_alone_gives_an_empty_command_and_defaults(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("img.sqfs"));
	assert_string_equal(o.image, "img.sqfs");
	assert_command(&o, (const char *[]){NULL});
	assert_string_equal(o.config_path, LR_DEFAULT_CONFIG_PATH);
	assert_int_equal(o.verbose, 0);
	assert_int_equal(o.n_binds, 0);
	assert_int_equal(o.n_env, 0);
	assert_false(o.cleanenv || o.remap_root || o.net_none || o.has_tmpfs_size);
	assert_null(o.hostname);
	assert_null(o.workdir);
	assert_null(o.writable_dir);
}

static void drops_one_double_dash_after_image(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("img", "--", "ls", "-l"));
	assert_command(&o, (const char *[]){"ls", "-l", NULL});
	parse_ok(&o, ARGV("img", "--", "--", "x"));
	assert_command(&o, (const char *[]){"--", "x", NULL});
	parse_ok(&o, ARGV("img", "--"));
	assert_command(&o, (const char *[]){NULL});
}

static void keeps_a_double_dash_later_in_the_command(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("img", "grep", "--", "-x"));
	assert_command(&o, (const char *[]){"grep", "--", "-x", NULL});
}

static void double_dash_before_image_ends_the_options(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("-v", "--", "-odd-name.sqfs", "cmd"));
	assert_int_equal(o.verbose, 1);
	assert_string_equal(o.image, "-odd-name.sqfs");
	assert_command(&o, (const char *[]){"cmd", NULL});
}

static void passes_command_words_that_look_like_options_untouched(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("-v", "img", "--bind", "/x", "-v", "--help", "--bogus"));
	assert_int_equal(o.verbose, 1);
	assert_int_equal(o.n_binds, 0);
	assert_int_equal(o.action, LR_ACTION_RUN);
	assert_command(&o, (const char *[]){"--bind", "/x", "-v", "--help", "--bogus", NULL});
}

static void reports_a_missing_image(void **state)
{
	expect_error(ARGV("-v"), "missing IMAGE (see labrun --help)");
	expect_error((char *[]){"labrun", NULL}, "missing IMAGE (see labrun --help)");
	expect_error(ARGV("--"), "missing IMAGE");
}

static void rejects_an_empty_image(void **state)
{
	expect_error(ARGV(""), "IMAGE is an empty string");
}

/* ------------------------------------------------------------ each option */

static void bind_is_repeatable_and_stored_raw(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("-b", "/a", "--bind", "~/x:/y:ro", "--bind=/c:/d", "img"));
	assert_int_equal(o.n_binds, 3);
	assert_string_equal(o.binds[0], "/a");
	assert_string_equal(o.binds[1], "~/x:/y:ro");
	assert_string_equal(o.binds[2], "/c:/d");
}

static void env_is_repeatable(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("-e", "A=1", "--env", "B=x=y", "--env=C=", "img"));
	assert_int_equal(o.n_env, 3);
	assert_string_equal(o.env[0], "A=1");
	assert_string_equal(o.env[1], "B=x=y");
	assert_string_equal(o.env[2], "C=");
}

static void env_needs_key_and_equals(void **state)
{
	expect_error(ARGV("-e", "FOO", "img"), "--env 'FOO': expected KEY=VALUE");
	expect_error(ARGV("--env", "=x", "img"), "--env '=x': expected KEY=VALUE");
}

static void sets_the_flags(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("--cleanenv", "--remap-root", "img"));
	assert_true(o.cleanenv);
	assert_true(o.remap_root);
}

static void workdir_must_be_absolute(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("-w", "/work", "img"));
	assert_string_equal(o.workdir, "/work");
	parse_ok(&o, ARGV("--workdir=/w2", "img"));
	assert_string_equal(o.workdir, "/w2");
	expect_error(ARGV("--workdir", "work", "img"),
		     "--workdir 'work': must be an absolute path in the container");
}

static void writable_takes_equals_or_a_separate_value(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("--writable=/tmp/w", "img"));
	assert_string_equal(o.writable_dir, "/tmp/w");
	parse_ok(&o, ARGV("--writable", "rel/dir", "img"));
	assert_string_equal(o.writable_dir, "rel/dir");
	expect_error(ARGV("--writable=", "img"), "--writable: needs a directory");
}

static void tmpfs_size_is_parsed(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("--tmpfs-size", "1.5G", "img"));
	assert_true(o.has_tmpfs_size);
	assert_true(o.tmpfs_size == 1610612736ULL);
	parse_ok(&o, ARGV("--tmpfs-size=1M", "img"));
	assert_true(o.tmpfs_size == 1ULL << 20);
}

static void tmpfs_size_rejects_garbage_small_and_unlimited(void **state)
{
	expect_error(ARGV("--tmpfs-size", "12Q", "img"),
		     "--tmpfs-size: '12Q' is not a size (use e.g. 512M or 2G)");
	expect_error(ARGV("--tmpfs-size", "512K", "img"),
		     "--tmpfs-size: '512K' is below the minimum of 1M");
	expect_error(ARGV("--tmpfs-size", "unlimited", "img"), "a tmpfs needs a size");
	expect_error(ARGV("--tmpfs-size", "99999999T", "img"),
		     "--tmpfs-size: '99999999T' is too large");
}

static void net_accepts_only_none(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("--net=none", "img"));
	assert_true(o.net_none);
	parse_ok(&o, ARGV("--net", "none", "img"));
	assert_true(o.net_none);
	expect_error(ARGV("--net=host", "img"), "--net: 'host' is not supported (only 'none' is)");
	expect_error(ARGV("--net", "", "img"), "--net: '' is not supported (only 'none' is)");
}

static void hostname_accepts_a_plain_name(void **state)
{
	char max[LR_HOSTNAME_MAX + 1];
	memset(max, 'h', LR_HOSTNAME_MAX);
	max[LR_HOSTNAME_MAX] = '\0';
	struct lr_options o;
	parse_ok(&o, ARGV("--hostname", "node-1.lab", "img"));
	assert_string_equal(o.hostname, "node-1.lab");
	parse_ok(&o, ARGV("--hostname", max, "img"));
	assert_string_equal(o.hostname, max);
}

static void hostname_rejects_other_names(void **state)
{
	char over[LR_HOSTNAME_MAX + 2];
	memset(over, 'h', LR_HOSTNAME_MAX + 1);
	over[LR_HOSTNAME_MAX + 1] = '\0';
	const char *want = "use 1 to 64 letters, digits, '.' and '-', not starting with '-' or '.'";
	expect_error(ARGV("--hostname", "a_b", "img"), want);
	expect_error(ARGV("--hostname", "a b", "img"), want);
	expect_error(ARGV("--hostname", "-x", "img"), "--hostname '-x'");
	expect_error(ARGV("--hostname", ".x", "img"), want);
	expect_error(ARGV("--hostname", "", "img"), want);
	expect_error(ARGV("--hostname", over, "img"), want);
}

static void config_names_another_file(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("-c", "/tmp/a.conf", "img"));
	assert_string_equal(o.config_path, "/tmp/a.conf");
	parse_ok(&o, ARGV("--config=/tmp/b.conf", "img"));
	assert_string_equal(o.config_path, "/tmp/b.conf");
	expect_error(ARGV("--config=", "img"), "--config: needs a file name");
}

static void verbose_counts_each_time(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("-v", "-vv", "--verbose", "img"));
	assert_int_equal(o.verbose, 4);
}

static void clustered_short_options_take_their_value(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("-vb/a", "-ve", "K=V", "img"));
	assert_int_equal(o.verbose, 2);
	assert_string_equal(o.binds[0], "/a");
	assert_string_equal(o.env[0], "K=V");
}

static void accepts_unambiguous_abbreviations(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("--clean", "--remap", "img"));
	assert_true(o.cleanenv);
	assert_true(o.remap_root);
}

static void help_and_version_need_no_image(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("--help"));
	assert_int_equal(o.action, LR_ACTION_HELP);
	parse_ok(&o, ARGV("-h"));
	assert_int_equal(o.action, LR_ACTION_HELP);
	parse_ok(&o, ARGV("--version"));
	assert_int_equal(o.action, LR_ACTION_VERSION);
	parse_ok(&o, ARGV("-V"));
	assert_int_equal(o.action, LR_ACTION_VERSION);
}

static void help_wins_over_anything_after_it(void **state)
{
	struct lr_options o;
	parse_ok(&o, ARGV("-v", "--help", "--bogus", "--net=host"));
	assert_int_equal(o.action, LR_ACTION_HELP);
}

/* ------------------------------------------------------------ errors */

static void reports_unknown_long_options(void **state)
{
	expect_error(ARGV("--foo", "img"), "unknown option '--foo' (see labrun --help)");
	expect_error(ARGV("--foo=bar", "img"), "unknown option '--foo' (see labrun --help)");
}

static void reports_unknown_short_options(void **state)
{
	expect_error(ARGV("-x", "img"), "unknown option '-x' (see labrun --help)");
	expect_error(ARGV("--cleanenv", "-vx", "img"), "unknown option '-x'");
	expect_error(ARGV("--cleanenv", "-xv", "img"), "unknown option '-x'");
}

static void reports_ambiguous_abbreviations(void **state)
{
	expect_error(ARGV("--w", "/x", "img"),
		     "ambiguous option '--w' (could be --workdir, --writable)");
}

static void reports_a_value_given_to_a_flag(void **state)
{
	expect_error(ARGV("--cleanenv=yes", "img"), "option '--cleanenv' takes no value");
	expect_error(ARGV("--verbose=2", "img"), "option '--verbose' takes no value");
}

static void reports_a_missing_value(void **state)
{
	expect_error(ARGV("--bind"), "option '--bind' needs a value");
	expect_error(ARGV("-b"), "option '--bind' needs a value");
	expect_error(ARGV("-v", "--tmpfs-size"), "option '--tmpfs-size' needs a value");
	expect_error(ARGV("--net"), "option '--net' needs a value");
}

static void rejects_values_longer_than_the_limit(void **state)
{
	char *big = malloc(LR_MAX_ARG_LEN + 2);
	assert_non_null(big);
	memset(big, 'a', LR_MAX_ARG_LEN + 1);
	big[0] = '/';
	big[LR_MAX_ARG_LEN + 1] = '\0';
	expect_error(ARGV("--bind", big, "img"), "--bind: value longer than 4096 bytes");
	expect_error(ARGV("-e", big, "img"), "--env: value longer than 4096 bytes");
	expect_error(ARGV(big), "IMAGE: longer than 4096 bytes");
	big[LR_MAX_ARG_LEN] = '\0'; /* exactly at the limit is fine */
	struct lr_options o;
	parse_ok(&o, ARGV("--bind", big, "img"));
	assert_int_equal(strlen(o.binds[0]), LR_MAX_ARG_LEN);
	free(big);
}

/* argv of "labrun", n times "opt value", then "img". */
static char **repeated(const char *opt, const char *value, int n)
{
	char **argv = calloc((size_t)(2 * n + 3), sizeof(char *));
	assert_non_null(argv);
	int k = 0;
	argv[k++] = "labrun";
	for (int i = 0; i < n; i++) {
		argv[k++] = (char *)opt;
		argv[k++] = (char *)value;
	}
	argv[k++] = "img";
	return argv;
}

static void rejects_more_binds_than_the_limit(void **state)
{
	char **argv = repeated("-b", "/a", LR_MAX_USER_BINDS);
	struct lr_options o;
	parse_ok(&o, argv);
	assert_int_equal(o.n_binds, LR_MAX_USER_BINDS);
	free(argv);
	argv = repeated("-b", "/a", LR_MAX_USER_BINDS + 1);
	expect_error(argv, "--bind: more than 64 binds");
	free(argv);
}

static void rejects_more_env_than_the_limit(void **state)
{
	char **argv = repeated("-e", "K=V", LR_MAX_USER_ENV);
	struct lr_options o;
	parse_ok(&o, argv);
	assert_int_equal(o.n_env, LR_MAX_USER_ENV);
	free(argv);
	argv = repeated("-e", "K=V", LR_MAX_USER_ENV + 1);
	expect_error(argv, "--env: more than 1024 variables");
	free(argv);
}

static void can_be_called_again_after_an_error_inside_a_cluster(void **state)
{
	/* getopt keeps its place inside "-xv" between calls unless reset. */
	expect_error(ARGV("-xv", "img"), "unknown option '-x'");
	struct lr_options o;
	parse_ok(&o, ARGV("-b", "/a", "img2"));
	assert_int_equal(o.verbose, 0);
	assert_int_equal(o.n_binds, 1);
	assert_string_equal(o.image, "img2");
}

/* ------------------------------------------------------------ --help text */

static void usage_names_every_option(void **state)
{
	const char *names[] = {"-b, --bind SRC[:DST[:ro|rw]]",
			       "-e, --env KEY=VALUE",
			       "--cleanenv",
			       "-w, --workdir DIR",
			       "--writable=DIR",
			       "--tmpfs-size SIZE",
			       "--remap-root",
			       "--net=none",
			       "--hostname NAME",
			       "-c, --config FILE",
			       "-v, --verbose",
			       "-h, --help",
			       "-V, --version",
			       LR_DEFAULT_CONFIG_PATH};
	assert_non_null(strstr(lr_options_usage,
			       "Usage: labrun [OPTIONS] IMAGE [--] [COMMAND [ARG...]]\n"));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strstr(lr_options_usage, names[i]))
			fail_msg("--help does not mention \"%s\"", names[i]);
}

static void usage_explains_exit_status_and_option_order(void **state)
{
	const char *want[] = {"Options must come before IMAGE",
			      "Exit status:",
			      "exit status",
			      "125  labrun itself failed",
			      "126  COMMAND was found but could not be executed",
			      "127  COMMAND was not found",
			      "killed by a signal"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(lr_options_usage, want[i]))
			fail_msg("--help does not say \"%s\"", want[i]);
}

/* Every line but the one holding the configured path of labrun.conf,
 * whose length is the installer's choice (make distcheck's is long). */
static void usage_lines_fit_in_80_columns(void **state)
{
	for (const char *p = lr_options_usage; *p;) {
		size_t n = strcspn(p, "\n");
		bool config_path_line = strstr(p, LR_DEFAULT_CONFIG_PATH) &&
					strstr(p, LR_DEFAULT_CONFIG_PATH) < p + n &&
					n <= 24 + strlen(LR_DEFAULT_CONFIG_PATH);
		if (n > 79 && !config_path_line)
			fail_msg("--help line longer than 79 columns: %.*s", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

int main(void)
{
	cmocka_set_message_output(CM_OUTPUT_TAP);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(splits_image_and_command),
		cmocka_unit_test(quota_needs_no_image_and_takes_an_optional_lab),
		cmocka_unit_test(image_alone_gives_an_empty_command_and_defaults),
		cmocka_unit_test(drops_one_double_dash_after_image),
		cmocka_unit_test(keeps_a_double_dash_later_in_the_command),
		cmocka_unit_test(double_dash_before_image_ends_the_options),
		cmocka_unit_test(passes_command_words_that_look_like_options_untouched),
		cmocka_unit_test(reports_a_missing_image),
		cmocka_unit_test(rejects_an_empty_image),
		cmocka_unit_test(bind_is_repeatable_and_stored_raw),
		cmocka_unit_test(env_is_repeatable),
		cmocka_unit_test(env_needs_key_and_equals),
		cmocka_unit_test(sets_the_flags),
		cmocka_unit_test(workdir_must_be_absolute),
		cmocka_unit_test(writable_takes_equals_or_a_separate_value),
		cmocka_unit_test(tmpfs_size_is_parsed),
		cmocka_unit_test(tmpfs_size_rejects_garbage_small_and_unlimited),
		cmocka_unit_test(net_accepts_only_none),
		cmocka_unit_test(hostname_accepts_a_plain_name),
		cmocka_unit_test(hostname_rejects_other_names),
		cmocka_unit_test(config_names_another_file),
		cmocka_unit_test(verbose_counts_each_time),
		cmocka_unit_test(clustered_short_options_take_their_value),
		cmocka_unit_test(accepts_unambiguous_abbreviations),
		cmocka_unit_test(help_and_version_need_no_image),
		cmocka_unit_test(help_wins_over_anything_after_it),
		cmocka_unit_test(reports_unknown_long_options),
		cmocka_unit_test(reports_unknown_short_options),
		cmocka_unit_test(reports_ambiguous_abbreviations),
		cmocka_unit_test(reports_a_value_given_to_a_flag),
		cmocka_unit_test(reports_a_missing_value),
		cmocka_unit_test(rejects_values_longer_than_the_limit),
		cmocka_unit_test(rejects_more_binds_than_the_limit),
		cmocka_unit_test(rejects_more_env_than_the_limit),
		cmocka_unit_test(can_be_called_again_after_an_error_inside_a_cluster),
		cmocka_unit_test(usage_names_every_option),
		cmocka_unit_test(usage_explains_exit_status_and_option_order),
		cmocka_unit_test(usage_lines_fit_in_80_columns),
	};
	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
