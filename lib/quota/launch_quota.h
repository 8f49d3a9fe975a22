/* launch_quota.h - the quota side of one launch (DESIGN.md §5): which lab the
 * container runs under, the member's allocation there, and the container's
 * cgroup inside the member's, with its CPUs placed.
 *
 * Runs as the user, with no privilege.  Without a policy naming the user,
 * nothing applies and the container runs as before; with one, the
 * container runs inside the cgroup `labrun-policy apply` delegated, or not
 * at all: a launch never escapes a quota because set-up is missing.
 */
#ifndef LABRUN_LAUNCH_QUOTA_H
#define LABRUN_LAUNCH_QUOTA_H

#include <stdbool.h>
#include <sys/types.h>

#include "cgroup_job.h"
#include "error.h"
#include "policy.h"

/* The machine's topology as `labrun-policy apply` saved it: loading it
 * takes ~0.1 ms where discovering it takes 2-5 ms. */
#define LR_TOPOLOGY_DIR "/run/labrun"
#define LR_TOPOLOGY_XML LR_TOPOLOGY_DIR "/topology.xml"
/* Each member's GPU device nodes, as apply gave them (lr_cg_gpus_text()). */
#define LR_GPUS_FILE LR_TOPOLOGY_DIR "/gpus"
#define LR_LAUNCH_MAX_GPUS 64

struct lr_launch_quota {
	struct lr_policy policy; /* alloc's origins and keys point into it */
	bool applies;		 /* the user is a member of a lab */
	char lab[64];		 /* which */
	struct lr_limits alloc;	 /* the member's allocation in it */
	struct lr_cgroup_job job;
	char cpus[256];			/* the CPUs placed, "" when not narrowed */
	char *gpus[LR_LAUNCH_MAX_GPUS]; /* the member's GPU device nodes */
	size_t n_gpus;
};

/* Find user's lab (want: --lab, or NULL) in the policy of policy_dir and
 * the member's allocation there; l->applies says whether there is one.
 * Errors: a policy that does not parse or cannot be read, a member of
 * several labs without want, want not one of the user's labs (messages
 * name the option that gives want, want_option).  Free with
 * lr_launch_quota_close(). */
int lr_launch_quota_find(struct lr_launch_quota *l, const char *policy_dir, const char *user,
			 const char *want, const char *want_option, struct lr_error *err);

/* lr_launch_quota_find(), and when a lab applies, move the caller into a new cgroup in the
 * member's, and find the GPU device nodes apply gave the member (LR_GPUS_FILE). Membership through
 * @group is the caller's groups'.  reserve: the memory the caller (the layers' server) may need,
 * kept out of the container's share of the member's (lr_cgroup_job_enter()).  Errors: a policy that
 * does not parse, a member of several labs without want, want not one of the user's labs, the
 * member's cgroup missing or not delegated. */
int lr_launch_quota_enter(struct lr_launch_quota *l, const char *policy_dir, const char *user,
			  const char *want, uint64_t reserve, struct lr_error *err);

void lr_launch_quota_close(struct lr_launch_quota *l);

/* The number of CPUs in a Linux cpu list ("0-3,8,10-11"); 0 when bad. */
unsigned lr_cpu_list_count(const char *list);

#endif
