/* spank_labrun.c - the Slurm plugin's entry points (DESIGN.md §4): it
 * registers the options and hands each callback to the file of its
 * context (local.c: srun/sbatch/salloc; remote.c: slurmstepd).
 *
 * Runs in srun and sbatch as the user and in slurmstepd as root.  It must
 * never exit, abort or leak per job (STYLE.md): errors are returned to
 * Slurm with a message for the user.  The callback order is in
 * notes/slurm.md.
 */
#include "build-config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin.h"

SPANK_PLUGIN(labrun, 1);

struct lr_plugin lr_plugin;

/* One callback for every option: its val is the option's row. */
static int option(int val, const char *optarg, int remote)
{
	struct lr_error err = {0};
	if (val < 0 || val >= LR_OPT_COUNT)
		return -1;
	if (lr_spank_args_set(&lr_plugin.args, (enum lr_spank_opt)val, optarg, &err) < 0) {
		/* In slurmstepd Slurm only logs a failed option and runs the
		 * step without it (src/common/plugstack.c); a value that srun
		 * never checked (the job's _SLURM_SPANK_OPTION_labrun_*) gets
		 * here.  Kept: task_init fails every task with it (issue 12,
		 * item 14). */
		if (remote)
			lr_plugin_fail(&err);
		slurm_error("labrun: %s", err.msg);
		return -1;
	}
	/* salloc and sbatch: the allocation's steps inherit the options
	 * through their variables (salloc's shell and the batch script get
	 * this process's environment), as they inherit SLURM_CONTAINER. */
	if (spank_context() == S_CTX_ALLOCATOR &&
	    setenv(lr_spank_options[val].env, optarg && *optarg ? optarg : "1", 1) < 0) {
		slurm_error("labrun: --%s: %s", lr_spank_options[val].name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Registered with spank_option_register in every context: sbatch and
 * salloc ignore a static spank_options table in 22.05 (notes/slurm.md). */
int slurm_spank_init(spank_t sp, int ac, char **av)
{
	struct lr_error err = {0};
	lr_plugin.release_fd = -1;
	for (int k = 0; k < LR_NS_COUNT; k++)
		lr_plugin.handover.fds[k] = -1;
	if (lr_spank_conf_parse(&lr_plugin.conf, ac, av, &err) < 0) {
		slurm_error("labrun: %s", err.msg);
		return -1;
	}
	spank_context_t ctx = spank_context();
	if (ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE && ctx != S_CTX_ALLOCATOR)
		return 0;
	for (int i = 0; i < LR_OPT_COUNT; i++) {
		const struct lr_spank_option *o = &lr_spank_options[i];
		struct spank_option so = {
			.name = (char *)o->name,
			.arginfo = (char *)o->arginfo,
			.usage = (char *)o->usage,
			.has_arg = o->has_arg,
			.val = i,
			.cb = option,
		};
		spank_err_t rc = spank_option_register(sp, &so);
		if (rc != ESPANK_SUCCESS) {
			slurm_error("labrun: option --%s: %s", o->name, spank_strerror(rc));
			return -1;
		}
	}
	return 0;
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	spank_context_t ctx = spank_context();
	if (ctx == S_CTX_LOCAL || ctx == S_CTX_ALLOCATOR)
		return lr_plugin_local_post_opt(sp);
	return 0;
}

int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
	if (spank_context() != S_CTX_REMOTE)
		return 0;
	return lr_plugin_remote_user_init(sp);
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	if (spank_context() != S_CTX_REMOTE)
		return 0;
	return lr_plugin_remote_task_init(sp);
}

int slurm_spank_task_post_fork(spank_t sp, int ac, char **av)
{
	if (spank_context() != S_CTX_REMOTE)
		return 0;
	return lr_plugin_root_task_post_fork(sp);
}

int slurm_spank_task_exit(spank_t sp, int ac, char **av)
{
	if (spank_context() != S_CTX_REMOTE)
		return 0;
	return lr_plugin_root_task_exit(sp);
}

/* On each node of the job, as root, when it has ended, however. */
int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	return lr_plugin_job_epilog(sp);
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	/* A step whose tasks never ran still lets its container go. */
	if (spank_context() == S_CTX_REMOTE) {
		lr_plugin_root_release();
		lr_plugin_root_pids_remove();
	}
	lr_step_handover_free(&lr_plugin.handover);
	lr_plugin.have_handover = false;
	lr_spank_args_free(&lr_plugin.args);
	free(lr_plugin.image);
	lr_plugin.image = NULL;
	return 0;
}

/* ------------------------------------------------------------ shared */

void lr_plugin_fail(const struct lr_error *err)
{
	if (lr_plugin.failed)
		return; /* the first failure is the one to say */
	lr_plugin.failed = true;
	lr_plugin.failure = *err;
	slurm_verbose("labrun: %s", err->msg);
}

bool lr_plugin_node_has_oci(void)
{
	/* Where Slurm looks (read_oci_conf.c: get_extra_conf_path()): beside
	 * slurm.conf.  slurmstepd's own environment, not the job's. */
	const char *conf = getenv("SLURM_CONF");
	char path[PATH_MAX];
	if (!conf || conf[0] != '/')
		conf = LR_SLURM_CONF;
	const char *slash = strrchr(conf, '/');
	if ((size_t)snprintf(path, sizeof(path), "%.*s/oci.conf", (int)(slash - conf), conf) >=
	    sizeof(path))
		return false;
	struct stat st;
	return stat(path, &st) == 0;
}

int lr_plugin_find_image(const char *(*env_fn)(const char *name, void *ctx), void *ctx,
			 bool slurm_oci, struct lr_error *err)
{
	if (lr_spank_args_from_env(&lr_plugin.args, env_fn, ctx, err) < 0)
		return -1;
	const char *image = lr_plugin.args.image;
	if (!image) {
		const char *c = env_fn("SLURM_CONTAINER", ctx);
		if (c == lr_spank_env_too_long)
			return lr_error_set(err, E2BIG, "--container: longer than %d characters",
					    LR_SPANK_VALUE_MAX);
		/* With an OCI runtime, Slurm took --container before any
		 * plugin ran (slurmstepd's setup_container()). */
		if (!slurm_oci)
			image = c;
	}
	if (!image || !*image) {
		for (int i = 0; i < LR_OPT_COUNT; i++)
			if (i != LR_OPT_IMAGE && lr_plugin.args.given[i])
				return lr_error_set(err, EINVAL,
						    "--%s needs a container image "
						    "(--container=IMAGE)",
						    lr_spank_options[i].name);
		return 0;
	}
	free(lr_plugin.image);
	lr_plugin.image = strdup(image);
	if (!lr_plugin.image)
		return lr_error_errno(err, ENOMEM, "container image %s", image);
	return 0;
}
