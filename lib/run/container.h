/* container.h - running one job in a container made from a layer chain
 * (DESIGN.md §3).  Runs as the user; needs no privilege. */
#ifndef LABRUN_CONTAINER_H
#define LABRUN_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "layers.h"
#include "step.h"

/* Binds in one container, admin's and user's together. */
#define LR_CONTAINER_MAX_BINDS 256

/* Limit on what is read of the image's /etc/passwd and /etc/group. */
#define LR_ETC_FILE_MAX (4 * 1024 * 1024)

struct lr_container_spec {
	const struct lr_chain *chain;
	char *const *argv;	     /* the job's command line, argv[0] looked up in PATH */
	char *const *envp;	     /* the job's whole environment */
	const char *workdir;	     /* inside the container */
	bool workdir_explicit;	     /* --workdir: missing is an error, not "/" */
	const struct lr_bind *binds; /* admin's (optional) first, then the user's */
	size_t n_binds;
	bool remap_root;
	bool net_none;
	const char *hostname;	  /* NULL: the host's (no uts namespace) */
	uint64_t tmpfs_size;	  /* writable layer and /tmp */
	const char *writable_dir; /* NULL: changes go to the tmpfs */
	const char *user_name;	  /* for /etc/passwd and /etc/group inside */
	const char *user_gecos;
	const char *user_home;
	const char *group_name;
	int cgroup_fd; /* v2: the container's cgroup, to start the keeper in; else -1 */
	/* v1: "tasks" of the container's memory cgroup, which the keeper
	 * joins first thing (lr_cgroup_job_enter()); else -1. */
	int memcg_tasks_fd;
	/* A Slurm step's container (DESIGN.md §4), else both -1.  The keeper
	 * runs no job: once the container is ready it hands its namespaces
	 * over on step_fd (step.h; argv unused, envp the image's environment
	 * for the tasks) and stays as init until release_fd hangs up. */
	int step_fd;
	int release_fd;
	bool cgroup_ns;			   /* a cgroup namespace rooted at the caller's cgroups */
	struct lr_step_limits step_limits; /* handed over with the namespaces */
	const char *console; /* the terminal for /dev/console; NULL: stdio's, if any */
	/* Each layer's mount from a layer holder (holder.h, layerd.h), a
	 * detached copy to attach, or -1: labrun mounts and serves that layer
	 * itself (all of them when NULL). */
	const int *layer_trees;
};

/* Run the job and wait for it.  Returns 0 when the job ran (or could not
 * be executed: then *wait_status is exit 126 or 127 and err says why), with
 * *wait_status as from waitpid(2); a negative errno when labrun itself
 * failed, err saying what and why.  A keeper killed by a signal (the job
 * dies with it) returns 0 too, *wait_status that signal, and err (code
 * EINTR) saying so: the caller may know who killed it.  Whatever happens, nothing is left:
 * every mount lives in a namespace that dies with the last process in it.
 * Returns with the forwarded signals and SIGCHLD blocked. */
/* With spec->step_fd, returns when release_fd hangs up (*wait_status 0)
 * or when the keeper ended before that (its status, or an error). */
int lr_container_run(const struct lr_container_spec *spec, int *wait_status, struct lr_error *err);

#endif
