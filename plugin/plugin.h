/* plugin.h - what the Slurm plugin's files share (DESIGN.md §4): the
 * options the user gave, plugstack.conf's arguments, and the container a
 * step asks for.  One copy per process: srun, sbatch, or slurmstepd (one
 * per step), so this state is the step's.
 */
#ifndef LABRUN_PLUGIN_H
#define LABRUN_PLUGIN_H

#include <slurm/spank.h>

#include "args.h"

struct lr_plugin {
	struct lr_spank_args args;
	struct lr_spank_conf conf;
	char *image; /* the squashfs image the step runs in; NULL: none of ours */
};
extern struct lr_plugin lr_plugin;

/* The image a step asks for: --container-image, else Slurm's own
 * --container (SLURM_CONTAINER, read by env_fn).  Sets lr_plugin.image
 * when it is ours (a file); a directory is an OCI bundle, left to Slurm.
 * Errors go to the user through slurm_error(); returns -1 then. */
int lr_plugin_find_image(const char *(*env_fn)(const char *name, void *ctx), void *ctx);

/* Context by context (one file each). */
int lr_plugin_local_post_opt(spank_t sp);   /* srun, sbatch, salloc: local.c */
int lr_plugin_remote_task_init(spank_t sp); /* slurmstepd, as the user: remote.c */

#endif
