/* job.c - the job's argv, environment and working directory (see job.h).
 * Runs as the user; no I/O. */
#include "build-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

int lr_job_argv(const struct lr_image_config *cfg, char *const *user_argv, int user_argc,
		struct lr_strv *out, struct lr_error *err)
{
	struct lr_strv v = {0};
	int r = 0;
	if (cfg->has_entrypoint)
		for (size_t i = 0; r == 0 && i < cfg->entrypoint.n; i++)
			r = lr_strv_push(&v, cfg->entrypoint.v[i]);
	if (user_argc > 0) {
		for (int i = 0; r == 0 && i < user_argc; i++)
			r = lr_strv_push(&v, user_argv[i]);
	} else if (cfg->has_cmd) {
		for (size_t i = 0; r == 0 && i < cfg->cmd.n; i++)
			r = lr_strv_push(&v, cfg->cmd.v[i]);
	}
	if (r == 0 && v.n == 0) {
		r = lr_strv_push(&v, "/bin/sh");
		if (r == 0)
			r = lr_strv_push(&v, "-l");
	}
	if (r < 0) {
		lr_strv_free(&v);
		return lr_error_errno(err, -r, "build the command line");
	}
	*out = v;
	return 0;
}

static int set_from(struct lr_strv *v, const char *key, const char *value)
{
	size_t len = strlen(key) + strlen(value) + 2;
	char *e = malloc(len);
	if (!e)
		return -ENOMEM;
	strcpy(e, key);
	strcat(e, "=");
	strcat(e, value);
	int r = lr_strv_setenv(v, e);
	free(e);
	return r;
}

int lr_job_env(const struct lr_image_config *cfg, bool cleanenv, char *const *host_env,
	       const char *const *user_env, int n_user_env, const struct lr_job_user *user,
	       struct lr_strv *out, struct lr_error *err)
{
	struct lr_strv v = {0};
	int r = 0;
	if (!cleanenv) {
		for (size_t i = 0; r == 0 && host_env && host_env[i]; i++)
			if (strchr(host_env[i], '=') && host_env[i][0] != '=')
				r = lr_strv_setenv(&v, host_env[i]);
	} else {
		const char *term = NULL;
		for (size_t i = 0; host_env && host_env[i]; i++)
			if (!strncmp(host_env[i], "TERM=", 5))
				term = host_env[i] + 5;
		if (user->home)
			r = set_from(&v, "HOME", user->home);
		if (r == 0 && user->name)
			r = set_from(&v, "USER", user->name);
		if (r == 0 && user->name)
			r = set_from(&v, "LOGNAME", user->name);
		if (r == 0 && term)
			r = set_from(&v, "TERM", term);
		if (r == 0)
			r = set_from(&v, "PATH", LR_DEFAULT_PATH);
	}
	for (size_t i = 0; r == 0 && i < cfg->env.n; i++)
		r = lr_strv_setenv(&v, cfg->env.v[i]);
	for (int i = 0; r == 0 && i < n_user_env; i++)
		r = lr_strv_setenv(&v, user_env[i]);
	if (r == 0 && !lr_strv_getenv(&v, "PATH"))
		r = set_from(&v, "PATH", LR_DEFAULT_PATH);
	if (r < 0) {
		lr_strv_free(&v);
		return lr_error_errno(err, -r, "build the environment");
	}
	*out = v;
	return 0;
}

/* Is path equal to dir or below it?  Both normalised, absolute. */
static const char *below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return path;
	if (strncmp(path, dir, n) != 0)
		return NULL;
	if (path[n] == '\0' || path[n] == '/')
		return path + n;
	return NULL;
}

int lr_job_workdir(const char *explicit_dir, const char *host_cwd, const struct lr_bind *binds,
		   size_t n_binds, const char *image_workdir, char **out, struct lr_error *err)
{
	char *w = NULL;
	if (explicit_dir) {
		w = strdup(explicit_dir);
	} else {
		/* The last bind wins, as the last mount over a path does. */
		for (size_t i = n_binds; host_cwd && !w && i-- > 0;) {
			const char *rest = below(host_cwd, binds[i].src);
			if (!rest)
				continue;
			size_t len = strlen(binds[i].dst) + strlen(rest) + 1;
			w = malloc(len);
			if (w) {
				strcpy(w, binds[i].dst);
				strcat(w, (!strcmp(binds[i].dst, "/") && *rest) ? rest + 1 : rest);
			} else {
				break;
			}
		}
		if (!w)
			w = strdup(image_workdir ? image_workdir : "/");
	}
	if (!w)
		return lr_error_errno(err, ENOMEM, "working directory");
	*out = w;
	return 0;
}
