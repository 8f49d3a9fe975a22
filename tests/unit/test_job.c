/* test_job.c - the job's command line, environment and working directory
 * (lib/run/job.c).  Pure functions; runs as any user. */
#include "build-config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "job.h"

static struct lr_image_config image_config(const char *const *entrypoint, const char *const *cmd)
{
	struct lr_image_config c;
	memset(&c, 0, sizeof(c));
	if (entrypoint) {
		c.has_entrypoint = true;
		for (size_t i = 0; entrypoint[i]; i++)
			assert_int_equal(lr_strv_push(&c.entrypoint, entrypoint[i]), 0);
	}
	if (cmd) {
		c.has_cmd = true;
		for (size_t i = 0; cmd[i]; i++)
			assert_int_equal(lr_strv_push(&c.cmd, cmd[i]), 0);
	}
	return c;
}

static void assert_argv(const struct lr_strv *v, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	assert_int_equal(v->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v->v[i], want[i]);
	assert_null(v->v[n]);
}

static void command_line_replaces_cmd_but_keeps_entrypoint(void **state)
{
	const char *ep[] = {"/bin/echo", "entry:", NULL}, *cmd[] = {"default", NULL};
	struct lr_image_config c = image_config(ep, cmd);
	char *user[] = {"x", "y"};
	struct lr_strv v;
	assert_int_equal(lr_job_argv(&c, user, 2, &v, NULL), 0);
	assert_argv(&v, (const char *[]){"/bin/echo", "entry:", "x", "y", NULL});
	lr_strv_free(&v);
	assert_int_equal(lr_job_argv(&c, NULL, 0, &v, NULL), 0);
	assert_argv(&v, (const char *[]){"/bin/echo", "entry:", "default", NULL});
	lr_strv_free(&v);
	lr_image_config_free(&c);
}

static void without_command_or_config_runs_a_login_shell(void **state)
{
	struct lr_image_config c = image_config(NULL, NULL);
	struct lr_strv v;
	assert_int_equal(lr_job_argv(&c, NULL, 0, &v, NULL), 0);
	assert_argv(&v, (const char *[]){"/bin/sh", "-l", NULL});
	lr_strv_free(&v);
}

static void image_cmd_runs_when_no_command_is_given(void **state)
{
	const char *cmd[] = {"/bin/cat", "/layers/top", NULL};
	struct lr_image_config c = image_config(NULL, cmd);
	struct lr_strv v;
	assert_int_equal(lr_job_argv(&c, NULL, 0, &v, NULL), 0);
	assert_argv(&v, cmd);
	lr_strv_free(&v);
	lr_image_config_free(&c);
}

static void environment_layers_host_then_image_then_user(void **state)
{
	struct lr_image_config c = image_config(NULL, NULL);
	assert_int_equal(lr_strv_push(&c.env, "PATH=/image/bin"), 0);
	assert_int_equal(lr_strv_push(&c.env, "SHARED=image"), 0);
	char *host[] = {"PATH=/host/bin", "SHARED=host", "HOSTONLY=1", "notavar", NULL};
	const char *user[] = {"SHARED=user"};
	struct lr_job_user ju = {.name = "alice", .home = "/home/alice"};
	struct lr_strv v;
	assert_int_equal(lr_job_env(&c, false, host, user, 1, &ju, &v, NULL), 0);
	assert_string_equal(lr_strv_getenv(&v, "PATH"), "/image/bin");
	assert_string_equal(lr_strv_getenv(&v, "SHARED"), "user");
	assert_string_equal(lr_strv_getenv(&v, "HOSTONLY"), "1");
	lr_strv_free(&v);
	lr_image_config_free(&c);
}

static void cleanenv_keeps_only_identity_term_and_path(void **state)
{
	struct lr_image_config c = image_config(NULL, NULL);
	assert_int_equal(lr_strv_push(&c.env, "FROMIMAGE=yes"), 0);
	char *host[] = {"TERM=xterm", "SECRET=1", "HOME=/elsewhere", NULL};
	const char *user[] = {"K=V"};
	struct lr_job_user ju = {.name = "alice", .home = "/home/alice"};
	struct lr_strv v;
	assert_int_equal(lr_job_env(&c, true, host, user, 1, &ju, &v, NULL), 0);
	assert_null(lr_strv_getenv(&v, "SECRET"));
	assert_string_equal(lr_strv_getenv(&v, "HOME"), "/home/alice");
	assert_string_equal(lr_strv_getenv(&v, "USER"), "alice");
	assert_string_equal(lr_strv_getenv(&v, "LOGNAME"), "alice");
	assert_string_equal(lr_strv_getenv(&v, "TERM"), "xterm");
	assert_string_equal(lr_strv_getenv(&v, "PATH"), LR_DEFAULT_PATH);
	assert_string_equal(lr_strv_getenv(&v, "FROMIMAGE"), "yes");
	assert_string_equal(lr_strv_getenv(&v, "K"), "V");
	lr_strv_free(&v);
	lr_image_config_free(&c);
}

static void a_path_is_always_set(void **state)
{
	struct lr_image_config c = image_config(NULL, NULL);
	char *host[] = {"A=1", NULL};
	struct lr_job_user ju = {.name = "alice", .home = "/home/alice"};
	struct lr_strv v;
	assert_int_equal(lr_job_env(&c, false, host, NULL, 0, &ju, &v, NULL), 0);
	assert_string_equal(lr_strv_getenv(&v, "PATH"), LR_DEFAULT_PATH);
	lr_strv_free(&v);
}

static void workdir_follows_the_cwd_through_a_bind(void **state)
{
	struct lr_bind binds[] = {
		{.src = "/home/alice", .dst = "/home/alice"},
		{.src = "/scratch/alice", .dst = "/data"},
	};
	char *w = NULL;
	assert_int_equal(lr_job_workdir(NULL, "/scratch/alice/run1", binds, 2, "/img", &w, NULL),
			 0);
	assert_string_equal(w, "/data/run1");
	free(w);
	assert_int_equal(lr_job_workdir(NULL, "/home/alice", binds, 2, "/img", &w, NULL), 0);
	assert_string_equal(w, "/home/alice");
	free(w);
	/* A prefix of a name is not a parent directory. */
	assert_int_equal(lr_job_workdir(NULL, "/home/alicex", binds, 2, "/img", &w, NULL), 0);
	assert_string_equal(w, "/img");
	free(w);
}

static void workdir_falls_back_to_the_image_then_root(void **state)
{
	char *w = NULL;
	assert_int_equal(lr_job_workdir(NULL, "/somewhere", NULL, 0, "/layers", &w, NULL), 0);
	assert_string_equal(w, "/layers");
	free(w);
	assert_int_equal(lr_job_workdir(NULL, NULL, NULL, 0, NULL, &w, NULL), 0);
	assert_string_equal(w, "/");
	free(w);
}

static void explicit_workdir_wins(void **state)
{
	struct lr_bind binds[] = {{.src = "/home/alice", .dst = "/home/alice"}};
	char *w = NULL;
	assert_int_equal(lr_job_workdir("/tmp", "/home/alice", binds, 1, "/img", &w, NULL), 0);
	assert_string_equal(w, "/tmp");
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(command_line_replaces_cmd_but_keeps_entrypoint),
		cmocka_unit_test(without_command_or_config_runs_a_login_shell),
		cmocka_unit_test(image_cmd_runs_when_no_command_is_given),
		cmocka_unit_test(environment_layers_host_then_image_then_user),
		cmocka_unit_test(cleanenv_keeps_only_identity_term_and_path),
		cmocka_unit_test(a_path_is_always_set),
		cmocka_unit_test(workdir_follows_the_cwd_through_a_bind),
		cmocka_unit_test(workdir_falls_back_to_the_image_then_root),
		cmocka_unit_test(explicit_workdir_wins),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("job", tests, NULL, NULL);
}
