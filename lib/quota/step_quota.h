/* step_quota.h - a lab member's quota against a Slurm step (DESIGN.md §5):
 * the step on this node may not have more cores or GPUs than the member's
 * allocation (it is refused, with the reason, before anything runs), and
 * its memory is narrowed to the member's.
 *
 * Runs in labrun-step, as the job user, inside the step's cgroups (where
 * slurmstepd placed it): the step's cores and memory are read from them.
 * Writing the narrower memory limit is root's (plugin/root.c), from the
 * value this hands over.
 */
#ifndef LABRUN_STEP_QUOTA_H
#define LABRUN_STEP_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct lr_step_quota {
	bool applies; /* the policy names the user */
	char lab[64];
	uint64_t memory_limit; /* the member's memory, below the step's; 0: leave it */
	uint64_t processes;    /* the member's processes; 0: unlimited */
	bool has_tmpfs;	       /* the member's tmpfs (writable layer) cap */
	uint64_t tmpfs_size;
};

#define LR_STEP_MAX_CPUS 4096 /* CPUs looked at in a step's cpuset */

/* The step as Slurm gave it on this node: the cores its cpuset spans
 * (hardware threads of one core count once) and its memory limit (0 when
 * unlimited), from the caller's own cgroups. */
struct lr_step_resources {
	unsigned cores;
	uint64_t memory;
	size_t gpus;
};
int lr_step_resources_read(struct lr_step_resources *r, size_t gpus, struct lr_error *err);

/* Check r against the allocation of user in their lab (want: --container-lab
 * or NULL) in the policy of policy_dir.  Errors: the policy's (unreadable,
 * broken, which lab), and a step over the member's cores or GPUs. */
int lr_step_quota_check(const char *policy_dir, const char *user, const char *want,
			const struct lr_step_resources *r, struct lr_step_quota *out,
			struct lr_error *err);

#endif
