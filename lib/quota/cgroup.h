/* cgroup.h - the root side of the labs' quotas (DESIGN.md §5): making a
 * cgroup plan (cgplan.h) real through libcgroup, on cgroup v1 or v2.
 *
 * Runs as root (labrun-policy apply; later the Slurm plugin).  The
 * launcher's side, a cgroup per container inside the member's, is
 * cgroup_job.h: it needs no privilege and does not use libcgroup.
 */
#ifndef LABRUN_CGROUP_H
#define LABRUN_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "cgplan.h"
#include "error.h"

/* What apply did or, dry, would do: one line each, for the admin. */
struct lr_cgroup_log {
	char **lines;
	size_t n;
};
void lr_cgroup_log_free(struct lr_cgroup_log *log);

/* Carry out plan (of this machine's cgroup version): create every cgroup in
 * every hierarchy of lr_cg_controllers(), parents first; write the limits,
 * in an order the kernel accepts from whatever is there now; delegate the
 * member and login cgroups to their member; then remove the cgroups below
 * "labrun" that the plan no longer names, when they are empty (a cgroup
 * with processes is kept and logged, never emptied by force).  Idempotent.
 * dry_run: change nothing, log what would change.  Stops at the first
 * failure, with what was done so far in log. */
int lr_cgroup_apply(const struct lr_cg_plan *plan, bool dry_run, struct lr_cgroup_log *log,
		    struct lr_error *err);

/* Write text as the file path, atomically (a temporary file renamed over
 * it), mode 0644: the files apply leaves for libcgroup (the login rules)
 * and for labrun (the members' GPUs). */
int lr_cgroup_write_file(const char *path, const char *text, struct lr_error *err);

#endif
