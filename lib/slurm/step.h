/* step.h - one container per node per Slurm step (DESIGN.md §4): what the
 * container's side (labrun-step and its keeper, as the user) hands to
 * slurmstepd, and how each task joins the container.
 *
 * The hand-over is one message on a SOCK_SEQPACKET socket: a header, the
 * job's working directory and the image's environment, and the namespace
 * fds as SCM_RIGHTS (the job user cannot open the keeper's /proc/PID/ns files: the
 * keeper is not dumpable; notes/slurm.md).  slurmstepd decodes it as
 * untrusted input from a dropped process (notes/security.md, invariant 4):
 * every length is bounded and checked, every string must end where its
 * length says, every fd must be a namespace of the kind expected.
 */
#ifndef LABRUN_STEP_H
#define LABRUN_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "userns.h"

#define LR_STEP_MSG_MAX (256 * 1024) /* the whole message */
#define LR_STEP_MAX_ENV 4096	     /* image environment entries */

struct lr_step_handover {
	int fds[LR_NS_COUNT]; /* LR_NS_JOB_USER is -1 without --remap-root */
	char *workdir;	      /* the job's, inside the container */
	bool workdir_explicit;
	char **env; /* the image's "K=V" entries, NULL-terminated */
	size_t n_env;
	uint64_t memory_limit;	  /* the lab member's memory, for root to narrow the step to; 0 */
	uint64_t processes_limit; /* likewise their processes (cgroup v2's pids.max); 0 */
	char lab[64];		  /* the member's lab when the policy applies, else "" */
};

/* The lab's quota, handed over with the namespaces for root to apply. */
struct lr_step_limits {
	uint64_t memory;    /* 0: none */
	uint64_t processes; /* 0: none */
	const char *lab;    /* NULL: no lab applies */
};

/* The keeper, once the container is ready: the namespaces it is in
 * (LR_NS_JOB_USER -1 when the job shares the keeper's user namespace). */
int lr_step_send_ready(int sock, const int fds[LR_NS_COUNT], const char *workdir,
		       bool workdir_explicit, char *const *env, const struct lr_step_limits *limits,
		       struct lr_error *err);

/* A lab's name as root may use it in a path: [A-Za-z0-9._-], not starting
 * with a dot, at most 63 characters. */
bool lr_step_lab_is_valid(const char *lab);

/* labrun-step, when the container could not be made: err's message goes
 * to the user through Slurm. */
void lr_step_send_failure(int sock, const struct lr_error *failure);

/* slurmstepd: the hand-over, or the container side's failure in err.
 * Blocks until a message or the end of the socket.  Sets *h only on
 * success. */
int lr_step_receive(int sock, struct lr_step_handover *h, struct lr_error *err);

/* The same, waiting at most timeout_ms (negative: for ever): -ETIMEDOUT
 * when nothing came by then.  slurmstepd must never wait unbounded on a
 * process the user can stop or trace (issue 12, item 12). */
int lr_step_receive_within(int sock, int timeout_ms, struct lr_step_handover *h,
			   struct lr_error *err);

/* Frees what h holds and closes its fds (those of a received hand-over
 * only: one without a workdir holds none); accepts NULL. */
void lr_step_handover_free(struct lr_step_handover *h);

/* A task, before Slurm execs it: non-dumpable from here to exec; joins the
 * namespaces, enters the working directory (a missing one falls back to /
 * unless given explicitly), and ends as the keeper's job would: every
 * capability dropped (or, with --remap-root, those of the job's own user
 * namespace only) and no_new_privs set.  Closes h's fds. */
int lr_step_join(struct lr_step_handover *h, struct lr_error *err);

#endif
