/* job.h - what the job is: its command line, environment and working
 * directory, from the image's merged config, the user's options and the
 * host.  Pure functions, no I/O: unit-tested.  Runs as the user. */
#ifndef LABRUN_JOB_H
#define LABRUN_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "imageconfig.h"

#define LR_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* entrypoint + (user command, else the image's cmd); without either, an
 * interactive login shell "/bin/sh -l".  Docker's rule, which users know:
 * a command given on the command line replaces cmd, not the entrypoint. */
int lr_job_argv(const struct lr_image_config *cfg, char *const *user_argv, int user_argc,
		struct lr_strv *out, struct lr_error *err);

struct lr_job_user {
	const char *name;
	const char *home;
};

/* The host environment (unless cleanenv: then only HOME, USER, LOGNAME,
 * TERM and a default PATH), overlaid by the image's env, overlaid by the
 * user's --env entries. */
int lr_job_env(const struct lr_image_config *cfg, bool cleanenv, char *const *host_env,
	       const char *const *user_env, int n_user_env, const struct lr_job_user *user,
	       struct lr_strv *out, struct lr_error *err);

/* The job's working directory: explicit when given; else the host's cwd
 * when a bind makes it visible inside (mapped to its path inside); else
 * the image's workdir; else "/".  Returns a malloc'd path. */
int lr_job_workdir(const char *explicit_dir, const char *host_cwd, const struct lr_bind *binds,
		   size_t n_binds, const char *image_workdir, char **out, struct lr_error *err);

#endif
