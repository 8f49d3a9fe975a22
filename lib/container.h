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
};

/* Run the job and wait for it.  Returns 0 when the job ran (or could not
 * be executed: then *wait_status is exit 126 or 127 and err says why), with
 * *wait_status as from waitpid(2); a negative errno when labrun itself
 * failed, err saying what and why.  Whatever happens, nothing is left:
 * every mount lives in a namespace that dies with the last process in it.
 * Returns with the forwarded signals and SIGCHLD blocked. */
int lr_container_run(const struct lr_container_spec *spec, int *wait_status, struct lr_error *err);

#endif
