/* cgread.h - reading cgroup state without libcgroup: which cgroups the
 * calling process is in (/proc/self/cgroup), and limit values as the
 * kernel shows them.  Shared by apply (cgroup.c), labrun-step
 * (step_quota.c) and the Slurm plugin in slurmstepd (plugin/root.c), which
 * links none of libcgroup, so this file depends on libc only.  Reads
 * only; any privilege is the caller's.
 */
#ifndef LABRUN_CGREAD_H
#define LABRUN_CGREAD_H

#include <stddef.h>
#include <stdint.h>

/* A limit as a cgroup file shows it: "-1", "max" and v1's "unlimited"
 * (LONG_MAX rounded down to a page) are UINT64_MAX; text that is not a
 * number is 0. */
uint64_t lr_cgread_value(const char *text);

/* fn(controllers, path, ctx) for each line of /proc/self/cgroup:
 * controllers as the line names them ("cpu,cpuacct", "name=systemd", ""
 * for v2's), path from that hierarchy's root.  Stops at the first fn that
 * returns non-zero and returns that; 0 after the last line; -errno when
 * the file cannot be read. */
int lr_cgread_self_each(int (*fn)(const char *controllers, const char *path, void *ctx), void *ctx);

/* The caller's cgroup path in the v1 hierarchy holding controller (also
 * when mounted together with others, "cpu,cpuacct"), or in v2's when
 * controller is "".  -ENOENT when there is none, -ENAMETOOLONG when it
 * does not fit in len. */
int lr_cgread_self(const char *controller, char *path, size_t len);

/* How many processes the kernel's OOM killer has killed in the cgroup
 * directory dir (relative to dfd; AT_FDCWD or an open cgroup directory
 * with "."), from memory.events' "oom_kill" (v2: counts the kills in the
 * cgroup and below it) or, without that file, memory.oom_control's
 * "oom_kill" (v1, Linux 4.13: counts the kills of the cgroup's own
 * processes).  Read before and after a job: a count that grew says the
 * job, or something in its cgroup, died for lack of memory.  0 with
 * *kills set; -ENOENT when the cgroup has no memory controller (or the
 * kernel no counter), -errno when the file cannot be read. */
int lr_cgread_oom_kills(int dfd, const char *dir, uint64_t *kills);

#endif
