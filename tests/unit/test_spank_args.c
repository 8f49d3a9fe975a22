/* test_spank_args.c - the Slurm plugin's options and plugstack.conf
 * arguments (plugin/args.c).  Pure functions; run as any user. */
#include "build-config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"

static void set_ok(struct lr_spank_args *a, enum lr_spank_opt opt, const char *value)
{
	struct lr_error err = {0};
	if (lr_spank_args_set(a, opt, value, &err) != 0)
		fail_msg("--%s %s: %s", lr_spank_options[opt].name, value ? value : "", err.msg);
}

static void set_fails(enum lr_spank_opt opt, const char *value, const char *want)
{
	struct lr_spank_args a = {0};
	struct lr_error err = {0};
	assert_true(lr_spank_args_set(&a, opt, value, &err) < 0);
	if (!strstr(err.msg, want))
		fail_msg("--%s %s: '%s' does not say '%s'", lr_spank_options[opt].name,
			 value ? value : "", err.msg, want);
	assert_false(a.given[opt]);
	lr_spank_args_free(&a);
}

static void every_option_has_a_name_a_variable_and_help(void **state)
{
	(void)state;
	for (int i = 0; i < LR_OPT_COUNT; i++) {
		assert_non_null(lr_spank_options[i].name);
		assert_true(!strncmp(lr_spank_options[i].name, "container-", 10));
		assert_true(!strncmp(lr_spank_options[i].env, "LABRUN_CONTAINER_", 17));
		assert_non_null(lr_spank_options[i].usage);
		assert_int_equal(lr_spank_options[i].has_arg == 0,
				 lr_spank_options[i].arginfo == NULL);
	}
}

static void mounts_take_sources_destinations_and_modes(void **state)
{
	(void)state;
	struct lr_spank_args a = {0};
	set_ok(&a, LR_OPT_MOUNTS, "/scratch,~/data:/data:ro,/opt/sw:/sw:rw");
	assert_int_equal(a.n_mounts, 3);
	assert_string_equal(a.mounts, "/scratch,~/data:/data:ro,/opt/sw:/sw:rw");
	assert_true(a.given[LR_OPT_MOUNTS]);
	lr_spank_args_free(&a);
	set_fails(LR_OPT_MOUNTS, "", "empty");
	set_fails(LR_OPT_MOUNTS, "/a,,/b", "an empty entry");
	set_fails(LR_OPT_MOUNTS, "data:/data", "source must be an absolute path");
	set_fails(LR_OPT_MOUNTS, "/data:data", "destination must be an absolute path");
	set_fails(LR_OPT_MOUNTS, "/a:/b:rx", "mode must be ro or rw");
	set_fails(LR_OPT_MOUNTS, "/a:/b:ro:x", "expected SRC[:DST[:ro|rw]]");
	char many[LR_SPANK_MAX_MOUNTS * 3 + 8] = "";
	for (int i = 0; i <= LR_SPANK_MAX_MOUNTS; i++)
		strcat(many, i ? ",/a" : "/a");
	set_fails(LR_OPT_MOUNTS, many, "more than 64 entries");
}

static void workdir_must_be_absolute(void **state)
{
	(void)state;
	struct lr_spank_args a = {0};
	set_ok(&a, LR_OPT_WORKDIR, "/work");
	assert_string_equal(a.workdir, "/work");
	lr_spank_args_free(&a);
	set_fails(LR_OPT_WORKDIR, "work", "must be an absolute path in the container");
}

static void writable_takes_an_optional_directory(void **state)
{
	(void)state;
	struct lr_spank_args a = {0};
	set_ok(&a, LR_OPT_WRITABLE, NULL);
	assert_true(a.writable);
	assert_null(a.writable_dir);
	set_ok(&a, LR_OPT_WRITABLE, "~/changes");
	assert_string_equal(a.writable_dir, "~/changes");
	lr_spank_args_free(&a);
	set_fails(LR_OPT_WRITABLE, "changes", "DIR must be an absolute path");
}

static void env_takes_variable_names(void **state)
{
	(void)state;
	struct lr_spank_args a = {0};
	set_ok(&a, LR_OPT_ENV, "PATH,OMP_NUM_THREADS,_x1");
	assert_int_equal(a.n_env, 3);
	assert_string_equal(a.env[1], "OMP_NUM_THREADS");
	lr_spank_args_free(&a);
	set_fails(LR_OPT_ENV, "A,1B", "'1B': not a variable name");
	set_fails(LR_OPT_ENV, "A=b", "not a variable name");
	set_fails(LR_OPT_ENV, "", "no name given");
}

static void values_are_bounded(void **state)
{
	(void)state;
	char *big = malloc(LR_SPANK_VALUE_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', LR_SPANK_VALUE_MAX + 1);
	big[0] = '/';
	big[LR_SPANK_VALUE_MAX + 1] = '\0';
	set_fails(LR_OPT_IMAGE, big, "longer than 4096 characters");
	set_fails(LR_OPT_IMAGE, "", "empty value");
	free(big);
}

struct env {
	const char *names[8], *values[8];
};
static const char *fake_getenv(const char *name, void *ctx)
{
	struct env *e = ctx;
	for (int i = 0; i < 8 && e->names[i]; i++)
		if (!strcmp(e->names[i], name))
			return e->values[i];
	return NULL;
}

static void variables_fill_in_options_not_given(void **state)
{
	(void)state;
	struct env e = {{"LABRUN_CONTAINER_IMAGE", "LABRUN_CONTAINER_WORKDIR",
			 "LABRUN_CONTAINER_REMAP_ROOT", "LABRUN_CONTAINER_ENTRYPOINT",
			 "LABRUN_CONTAINER_WRITABLE"},
			{"/img/env.sqfs", "/from-env", "1", "0", "yes"}};
	struct lr_spank_args a = {0};
	struct lr_error err = {0};
	set_ok(&a, LR_OPT_WORKDIR, "/from-option");
	assert_int_equal(lr_spank_args_from_env(&a, fake_getenv, &e, &err), 0);
	assert_string_equal(a.image, "/img/env.sqfs");
	assert_string_equal(a.workdir, "/from-option"); /* the option wins */
	assert_true(a.remap_root);
	assert_false(a.entrypoint);
	assert_true(a.writable);
	assert_null(a.writable_dir);
	lr_spank_args_free(&a);
}

static void a_bad_variable_is_an_error_naming_it(void **state)
{
	(void)state;
	struct env e = {{"LABRUN_CONTAINER_REMAP_ROOT"}, {"maybe"}};
	struct lr_spank_args a = {0};
	struct lr_error err = {0};
	assert_int_equal(lr_spank_args_from_env(&a, fake_getenv, &e, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "LABRUN_CONTAINER_REMAP_ROOT='maybe': expected 1 or 0"));
	struct env e2 = {{"LABRUN_CONTAINER_MOUNTS"}, {"relative"}};
	assert_int_equal(lr_spank_args_from_env(&a, fake_getenv, &e2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "LABRUN_CONTAINER_MOUNTS: --container-mounts"));
	lr_spank_args_free(&a);
}

/* spank_getenv() cannot hold it: an error naming the variable, never an
 * option silently left out. */
static void a_variable_too_long_to_read_is_an_error(void **state)
{
	(void)state;
	struct env e = {{"LABRUN_CONTAINER_MOUNTS"}, {lr_spank_env_too_long}};
	struct lr_spank_args a = {0};
	struct lr_error err = {0};
	assert_int_equal(lr_spank_args_from_env(&a, fake_getenv, &e, &err), -E2BIG);
	assert_non_null(strstr(err.msg, "LABRUN_CONTAINER_MOUNTS: longer than 4096 characters"));
	assert_false(a.given[LR_OPT_MOUNTS]);
	lr_spank_args_free(&a);
}

static void plugstack_arguments_are_known_or_refused(void **state)
{
	(void)state;
	struct lr_spank_conf c;
	struct lr_error err = {0};
	char *ok[] = {"config=/etc/labrun/site.conf", "signals=slurm", "helper=/opt/labrun-step"};
	assert_int_equal(lr_spank_conf_parse(&c, 3, ok, &err), 0);
	assert_string_equal(c.config, "/etc/labrun/site.conf");
	assert_string_equal(c.helper, "/opt/labrun-step");
	assert_int_equal(c.signals, LR_SIGNALS_SLURM);
	assert_int_equal(lr_spank_conf_parse(&c, 0, NULL, &err), 0);
	assert_null(c.config);
	assert_string_equal(c.helper, LR_STEP_HELPER);
	assert_int_equal(c.signals, LR_SIGNALS_FORWARD);
	char *typo[] = {"signal=slurm"};
	assert_int_equal(lr_spank_conf_parse(&c, 1, typo, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown argument 'signal=slurm'"));
	char *relative[] = {"config=labrun.conf"};
	assert_int_equal(lr_spank_conf_parse(&c, 1, relative, &err), -EINVAL);
	char *relative_helper[] = {"helper=labrun-step"};
	assert_int_equal(lr_spank_conf_parse(&c, 1, relative_helper, &err), -EINVAL);
}

static void plugstack_timeout_is_bounded_seconds(void **state)
{
	(void)state;
	struct lr_spank_conf c;
	struct lr_error err = {0};
	assert_int_equal(lr_spank_conf_parse(&c, 0, NULL, &err), 0);
	assert_int_equal(c.timeout, LR_HELPER_START_TIMEOUT);
	char *five[] = {"timeout=5"};
	assert_int_equal(lr_spank_conf_parse(&c, 1, five, &err), 0);
	assert_int_equal(c.timeout, 5);
	static char *bad[] = {"timeout=0",  "timeout=-1",   "timeout=",
			      "timeout=5s", "timeout=3601", "timeout=99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(lr_spank_conf_parse(&c, 1, &bad[i], &err), -EINVAL);
		assert_non_null(strstr(err.msg, "the seconds must be from 1 to 3600"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_option_has_a_name_a_variable_and_help),
		cmocka_unit_test(mounts_take_sources_destinations_and_modes),
		cmocka_unit_test(workdir_must_be_absolute),
		cmocka_unit_test(writable_takes_an_optional_directory),
		cmocka_unit_test(env_takes_variable_names),
		cmocka_unit_test(values_are_bounded),
		cmocka_unit_test(variables_fill_in_options_not_given),
		cmocka_unit_test(a_bad_variable_is_an_error_naming_it),
		cmocka_unit_test(a_variable_too_long_to_read_is_an_error),
		cmocka_unit_test(plugstack_arguments_are_known_or_refused),
		cmocka_unit_test(plugstack_timeout_is_bounded_seconds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
