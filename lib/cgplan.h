/* cgplan.h - what `labrun-policy apply` writes into the cgroup hierarchy
 * for a policy (DESIGN.md §5): the lab → member tree under "labrun", each
 * cgroup's limits as controller files, and whose each member's cgroup is.
 *
 * A plan is computed, not applied: `apply --dry-run` prints it, and the
 * writer (as root) carries it out.  Both cgroup versions: v1 has a
 * hierarchy per controller and its own file names, v2 one hierarchy.
 *
 * Runs with any privilege; resolves users and groups (NSS) and block
 * devices (stat) only.
 */
#ifndef LABRUN_CGPLAN_H
#define LABRUN_CGPLAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "policy.h"

#define LR_CG_ROOT "labrun"	   /* the tree's top cgroup */
#define LR_CG_CPU_PERIOD_US 100000 /* CFS period for a cores quota */

enum lr_cg_version { LR_CG_V1 = 1, LR_CG_V2 = 2 };

/* One write: into the cgroup path (relative to the controller's root, e.g.
 * "labrun/physics/alice"), the file of controller (v1: its hierarchy;
 * v2: "" for the one hierarchy), the value. */
struct lr_cg_write {
	char *path;
	const char *controller; /* "cpu", "memory", "pids", "blkio"; v2: "" */
	const char *file;	/* "cpu.cfs_quota_us", "memory.max", ... */
	char *value;
};

/* One cgroup of the tree, with what to write into it. */
struct lr_cg_node {
	char *path;  /* "labrun", "labrun/physics", "labrun/physics/alice" */
	uid_t owner; /* the member for their cgroup (delegated); 0 for the others */
	gid_t group;
	struct lr_cg_write *writes;
	size_t n_writes;
};

struct lr_cg_plan {
	enum lr_cg_version version;
	struct lr_cg_node *nodes; /* parents before children */
	size_t n_nodes;
	char **notes; /* what is left out and why: "/dev/sdb: no such device here" */
	size_t n_notes;
};

/* The plan for policy p: every lab, and in it every member (users named,
 * and the users of the groups named, from the user database) that exists
 * on this machine.  A device of io-*-bps missing on this node is left out
 * with a note (a policy serves nodes with different disks); one that is not
 * a block device is an error. */
int lr_cg_plan_make(struct lr_cg_plan *plan, const struct lr_policy *p, enum lr_cg_version v,
		    struct lr_error *err);
void lr_cg_plan_free(struct lr_cg_plan *plan);

/* The plan as text, one line per cgroup and per write, e.g.
 *   cgroup labrun/physics/alice (owner alice)
 *     memory.limit_in_bytes = 68719476736
 * for `apply --dry-run`.  Returns a malloc'd string, NULL on ENOMEM. */
char *lr_cg_plan_text(const struct lr_cg_plan *plan);

#endif
