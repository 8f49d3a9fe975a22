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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices.h"
#include "error.h"
#include "policy.h"

#define LR_CG_ROOT "labrun"	   /* the tree's top cgroup */
#define LR_CG_CPU_PERIOD_US 100000 /* CFS period for a cores quota */

enum lr_cg_version { LR_CG_V1 = 1, LR_CG_V2 = 2 };

/* Where the cgroup hierarchies are mounted, and which version is in use:
 * v2 when /sys/fs/cgroup is the unified hierarchy, else v1 (also in the
 * "hybrid" layout, whose unified hierarchy has no controllers). */
#define LR_CGROUP_MOUNT "/sys/fs/cgroup"
enum lr_cg_version lr_cgroup_version(void);

/* One write: into the cgroup path (relative to the controller's root, e.g.
 * "labrun/physics/alice"), the file of controller (v1: its hierarchy;
 * v2: "" for the one hierarchy), the value. */
struct lr_cg_write {
	char *path;
	const char *controller; /* "cpu", "memory", "pids", "blkio"; v2: "" */
	const char *file;	/* "cpu.cfs_quota_us", "memory.max", ... */
	char *value;
};

enum lr_cg_kind {
	LR_CG_TOP,    /* "labrun" */
	LR_CG_LAB,    /* "labrun/physics": the lab's total */
	LR_CG_MEMBER, /* "labrun/physics/alice": the member's allocation, delegated */
	LR_CG_LOGIN,  /* "labrun/physics/alice/login": where the member's logins go */
};

/* One cgroup of the tree, with what to write into it.
 *
 * A member's cgroup is delegated (the kernel's cgroup-v2.rst,
 * "Delegation"): the directory and the files that move processes are the
 * member's, so that the launcher can make a cgroup per container inside;
 * the limit files stay root's, so the member cannot raise them.  Logins
 * go to a leaf of their own below it, because cgroup v2 allows processes
 * only in leaves once controllers are enabled for children ("no internal
 * processes"), and the launcher's containers are the member cgroup's other
 * children. */
struct lr_cg_node {
	char *path; /* "labrun", "labrun/physics", "labrun/physics/alice" */
	enum lr_cg_kind kind;
	uid_t owner; /* the member for their cgroup and login; 0 else */
	gid_t group;
	/* Whether the member's cgroup (and login) is given to the member.  Not
	 * on cgroup v1 for a member of several labs: v1 checks only write
	 * access to the target's tasks file when a process moves, so a member
	 * who owned a cgroup in two labs could move a running container from
	 * one lab's limits into the other's (issue 12, item 11; v2 also checks
	 * the common ancestor's cgroup.procs, root's "labrun").  Such cgroups
	 * are made with their limits and stay root's: the member's logins
	 * (placed by root's cgrules) and Slurm steps (placed by the plugin) run
	 * in them; the launcher, which would need them delegated, refuses. */
	bool delegated;
	struct lr_cg_write *writes;
	size_t n_writes;
	/* A member's GPUs, of the node's (lr_cg_plan_make's gpus): those given
	 * to the member and those denied; both empty when the node has none. */
	struct lr_device gpu_allow[LR_DEVICES_MAX], gpu_deny[LR_DEVICES_MAX];
	const char *gpu_allow_path[LR_DEVICES_MAX];
	size_t n_gpu_allow, n_gpu_deny;
	/* A member's disk quotas (storage = PATH SIZE): not a cgroup limit,
	 * set with the kernel's quota interface; 0 bytes: none. */
	struct lr_cg_storage {
		char *path;
		uint64_t bytes;
	} storage[LR_POLICY_MAX_KEYED];
	size_t n_storage;
};

struct lr_cg_plan {
	enum lr_cg_version version;
	struct lr_cg_node *nodes; /* parents before children */
	size_t n_nodes;
	char **notes; /* what is left out and why: "/dev/sdb: no such device here" */
	size_t n_notes;
};

/* The node's GPUs: the devices and their paths (lr_devices_glob()). */
struct lr_cg_gpus {
	struct lr_device dev[LR_DEVICES_MAX];
	char *path[LR_DEVICES_MAX];
	size_t n;
};

/* The plan for policy p: every lab (and "labrun" above them when there
 * is one), and in it every member (users named,
 * and the users of the groups named, from the user database) that exists
 * on this machine.  GPUs (may be NULL: none): each member is given as many
 * of them as their gpus allocation says, the others denied; without Slurm
 * to choose per job, which ones is fixed here: the members, in the plan's
 * order, take the node's GPUs in turn, wrapping around (DECISIONS.md).  A device of io-*-bps
 * missing on this node is left out with a note (a policy serves nodes with different disks); one
 * that is not a block device is an error. */
int lr_cg_plan_make(struct lr_cg_plan *plan, const struct lr_policy *p, enum lr_cg_version v,
		    const struct lr_cg_gpus *gpus, struct lr_error *err);
void lr_cg_plan_free(struct lr_cg_plan *plan);

/* The rules (cgrules.conf(5)) that place each member's logins in their
 * login cgroup, through libcgroup's PAM module or cgrulesengd: one line per
 * member, in the first of their labs by name (a job names its lab; see
 * DECISIONS.md).  Returns a malloc'd string, NULL on ENOMEM. */
char *lr_cg_rules_text(const struct lr_cg_plan *plan);

/* Which GPU device nodes each member was given, for labrun to show them in
 * the member's containers: one line per member, "LAB USER PATH...".
 * Returns a malloc'd string, NULL on ENOMEM. */
char *lr_cg_gpus_text(const struct lr_cg_plan *plan);

/* The controllers a cgroup of ours is made in, comma-separated: the v1
 * hierarchies, or the v2 controllers enabled down the tree. */
const char *lr_cg_controllers(enum lr_cg_version v);

/* The plan as text, one line per cgroup and per write, e.g.
 *   cgroup labrun/physics/alice (owner alice)
 *     memory.limit_in_bytes = 68719476736
 * for `apply --dry-run`.  Returns a malloc'd string, NULL on ENOMEM. */
char *lr_cg_plan_text(const struct lr_cg_plan *plan);

#endif
