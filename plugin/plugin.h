/* plugin.h - what the Slurm plugin's files share (DESIGN.md §4): the
 * options the user gave, plugstack.conf's arguments, and the container a
 * step asks for.  One copy per process: srun, sbatch, or slurmstepd (one
 * per step), so this state is the step's.
 */
#ifndef LABRUN_PLUGIN_H
#define LABRUN_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <slurm/spank.h>

#include "args.h"
#include "error.h"
#include "step.h"

/* The step's container helper and its keeper: an OOM kill inside the
 * step's memory limit takes a task (0, as slurmstepd sets) first, never
 * them, whose death would take every task down; never -1000 either,
 * which would make a user's process unkillable (DESIGN.md §4). */
#define LR_HELPER_OOM_SCORE_ADJ "-500"

/* slurmstepd's waits on the helper after the step's end, each bounded
 * (issue 12, item 12): for it to end once released, then after SIGKILL
 * (a process stuck in the kernel may not die at once).  Well under
 * Slurm's UnkillableStepTimeout (60 s), after which slurmd drains the
 * node.  The wait for the container at the start is plugstack.conf's
 * timeout= (args.h). */
#define LR_HELPER_EXIT_TIMEOUT_MS 5000
#define LR_HELPER_KILL_TIMEOUT_MS 5000

#define LR_CGROUP_V1_PIDS "/sys/fs/cgroup/pids"
#define LR_CGROUP_V2_MOUNT "/sys/fs/cgroup"

/* Cgroups the helper is moved into before it makes its namespaces. */
#define LR_ROOT_MAX_CGROUPS 16

struct lr_root_plan {
	char tasks[LR_ROOT_MAX_CGROUPS][512]; /* cgroup v1 "tasks" files to join */
	size_t n_tasks;
	uid_t uid;
	gid_t gid;
};

struct lr_plugin {
	struct lr_spank_args args;
	struct lr_spank_conf conf;
	char *image; /* the squashfs image the step runs in; NULL: none of ours */
	/* slurmstepd: the step's container. */
	pid_t helper;	    /* labrun-step, 0 when none */
	bool helper_killed; /* it had to be killed */
	int release_fd;	    /* hangs labrun-step up when closed; -1 */
	bool have_handover;
	struct lr_step_handover handover;
	bool failed; /* user_init failed: each task fails with failure */
	struct lr_error failure;
	unsigned tasks_exited;
	bool memory_narrowed;
	char pids_dir[600]; /* the step's cgroup in the member's (pids, v1), or "" */
	/* The step's memory cgroup and its OOM kills when the container was
	 * handed over (lr_plugin_root_oom_start). */
	char oom_dir[768];
	bool oom_known, oom_v2, oom_said;
	uint64_t oom_before;
};
extern struct lr_plugin lr_plugin;

/* The image a step asks for: --container-image, else Slurm's own
 * --container (SLURM_CONTAINER, read by env_fn) unless slurm_oci (Slurm's
 * OCI runtime took it).  Sets lr_plugin.image, or leaves it NULL when the
 * step asks for none; touches no file (slurmstepd must not: a path on a
 * FUSE mount that never answers would hang it).  Errors go to err;
 * returns -1 then. */
int lr_plugin_find_image(const char *(*env_fn)(const char *name, void *ctx), void *ctx,
			 bool slurm_oci, struct lr_error *err);

/* Where Slurm 22.05's OCI runtime is configured: an oci.conf beside
 * slurm.conf (SLURM_CONF in the process's environment, else this). */
#ifndef LR_SLURM_CONF
#define LR_SLURM_CONF "/etc/slurm/slurm.conf"
#endif
bool lr_plugin_node_has_oci(void);

/* Keeps the step's first failure: every task_init says it and fails. */
void lr_plugin_fail(const struct lr_error *err);

/* Context by context (one file each). */
int lr_plugin_local_post_opt(spank_t sp);      /* srun, sbatch, salloc: local.c */
int lr_plugin_remote_user_init(spank_t sp);    /* slurmstepd, as the user: remote.c */
int lr_plugin_remote_task_init(spank_t sp);    /* each task, as the user: remote.c */
int lr_plugin_root_task_post_fork(spank_t sp); /* slurmstepd, as root: root.c */
int lr_plugin_root_task_exit(spank_t sp);      /* slurmstepd, as root: root.c */
int lr_plugin_root_release(void);	       /* slurmstepd: the helper's wait status; root.c */
int lr_plugin_root_kill_helper(void);	       /* its process group killed and reaped, bounded */
int lr_plugin_root_quota(spank_t sp, struct lr_error *err); /* user_init: the lab's quota */
void lr_plugin_root_pids_remove(void);			    /* exit: that cgroup removed */
bool lr_plugin_cgroup_v2(void);				    /* no v1 pids hierarchy */
/* OOM kills in the step: counted in user_init (oom_start), said in one line
 * by task_exit when there were more (oom_say). */
void lr_plugin_root_oom_start(void);
void lr_plugin_root_oom_say(void);

/* root.c: what the helper's child does as root before it drops for good,
 * planned in slurmstepd (lr_plugin_root_plan) and done in the forked child
 * with system calls only (lr_plugin_root_enter: never returns on error, it
 * _exit()s with one of these). */
enum {
	LR_HELPER_EXIT_ROOT = 120, /* could not become root again */
	LR_HELPER_EXIT_CGROUP,	   /* could not join the step's cgroups */
	LR_HELPER_EXIT_OOM,	   /* could not set oom_score_adj */
	LR_HELPER_EXIT_DROP,	   /* could not drop to the job user */
	LR_HELPER_EXIT_UNDROPPED,  /* root was still reachable after the drop */
	LR_HELPER_EXIT_FDS,	   /* could not set up its fds */
	LR_HELPER_EXIT_EXEC,	   /* could not exec the helper */
};
int lr_plugin_root_plan(spank_t sp, struct lr_root_plan *plan, struct lr_error *err);
void lr_plugin_root_enter(const struct lr_root_plan *plan);
/* In a child forked for a helper: slurmstepd's signal state reset, a
 * session of its own, then lr_plugin_root_enter(). */
void lr_plugin_root_child(const struct lr_root_plan *plan);
/* Reaps pid if it ends within ms: 1 then (*st its status), 0 if it is
 * still there (root.c). */
int lr_plugin_reap_within(pid_t pid, int ms, int *st);

/* jobholder.c: the job's layer holder on this node, started in the job's
 * cgroup above its steps unless it runs (best effort, bounded); and the
 * job's epilog, which kills it and removes that cgroup (always 0). */
void lr_plugin_root_job_holder(spank_t sp, const struct lr_root_plan *step_plan, bool remap_root);
int lr_plugin_job_epilog(spank_t sp);

#endif
