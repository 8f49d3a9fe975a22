/* step_quota.c - a lab member's quota against a Slurm step (step_quota.h).
 * Runs as the job user in labrun-step; reads only its own cgroups and the
 * policy files (readable by every user, labrun-policy(5)).
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgplan.h"
#include "cgread.h"
#include "cleanup.h"
#include "launch_quota.h"
#include "log.h"
#include "step_quota.h"

static int read_cgroup_file(const char *ctrl, const char *file, char *buf, size_t len)
{
	char rel[512], path[1024];
	bool v2 = lr_cgroup_version() == LR_CG_V2;
	int r = lr_cgread_self(v2 ? "" : ctrl, rel, sizeof(rel));
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), LR_CGROUP_MOUNT "%s%s%s/%s", v2 ? "" : "/", v2 ? "" : ctrl,
		 rel, file);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The cores a cpu list spans: the distinct (package, core) pairs of its
 * CPUs, so that a step's two hardware threads of one core count as the
 * one core a policy's "cores" means.  A CPU without topology counts as a
 * core of its own. */
static unsigned core_count(const char *list)
{
	struct {
		long pkg, core;
	} seen[LR_STEP_MAX_CPUS];
	unsigned n = 0;
	for (const char *p = list; *p;) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;
		if (end == p)
			return lr_cpu_list_count(list);
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long c = a; c <= b && c - a < LR_STEP_MAX_CPUS; c++) {
			long id[2] = {-1, (long)c};
			static const char *const files[2] = {"physical_package_id", "core_id"};
			for (int i = 0; i < 2; i++) {
				char path[96], buf[32];
				snprintf(path, sizeof(path),
					 "/sys/devices/system/cpu/cpu%lu/topology/%s", c, files[i]);
				_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
				ssize_t got = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
				if (got > 0) {
					buf[got] = '\0';
					id[i] = strtol(buf, NULL, 10);
				} else {
					id[0] = -1 - (long)c; /* its own core */
				}
			}
			bool dup = false;
			for (unsigned j = 0; j < n && !dup; j++)
				dup = seen[j].pkg == id[0] && seen[j].core == id[1];
			if (!dup && n < LR_STEP_MAX_CPUS)
				seen[n].pkg = id[0], seen[n++].core = id[1];
		}
		p = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			break;
	}
	return n;
}

int lr_step_resources_read(struct lr_step_resources *r, size_t gpus, struct lr_error *err)
{
	bool v2 = lr_cgroup_version() == LR_CG_V2;
	char buf[1024];
	struct lr_step_resources out = {.gpus = gpus};
	int e = read_cgroup_file("cpuset", v2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus",
				 buf, sizeof(buf));
	if (e < 0)
		return lr_error_errno(err, -e, "the step's cpuset");
	out.cores = core_count(buf);
	e = read_cgroup_file("memory", v2 ? "memory.max" : "memory.limit_in_bytes", buf,
			     sizeof(buf));
	if (e < 0)
		return lr_error_errno(err, -e, "the step's memory limit");
	uint64_t m = lr_cgread_value(buf);
	out.memory = m == UINT64_MAX ? 0 : m;
	*r = out;
	return 0;
}

int lr_step_quota_check(const char *policy_dir, const char *user, const char *want,
			const struct lr_step_resources *r, struct lr_step_quota *out,
			struct lr_error *err)
{
	static struct lr_launch_quota l;
	int e = lr_launch_quota_find(&l, policy_dir, user, want, "--container-lab", err);
	if (e < 0)
		return e;
	struct lr_step_quota q = {.applies = l.applies};
	if (!l.applies) {
		*out = q;
		return 0;
	}
	snprintf(q.lab, sizeof(q.lab), "%s", l.lab);
	const struct lr_limits *a = &l.alloc;
	uint64_t cores = a->set[LR_RES_CORES] ? a->value[LR_RES_CORES] : LR_POLICY_UNLIMITED;
	uint64_t gpus = a->set[LR_RES_GPUS] ? a->value[LR_RES_GPUS] : LR_POLICY_UNLIMITED;
	uint64_t mem = a->set[LR_RES_MEMORY] ? a->value[LR_RES_MEMORY] : LR_POLICY_UNLIMITED;
	if (cores != LR_POLICY_UNLIMITED && r->cores > cores)
		e = lr_error_set(err, EDQUOT,
				 "lab %s allows you %llu cores, and this step has %u on this "
				 "node: ask for fewer (srun -n, -c)",
				 l.lab, (unsigned long long)cores, r->cores);
	else if (gpus != LR_POLICY_UNLIMITED && r->gpus > gpus)
		e = lr_error_set(err, EDQUOT,
				 "lab %s allows you %llu GPUs, and this step has %zu on this "
				 "node: ask for fewer (--gres=gpu:N)",
				 l.lab, (unsigned long long)gpus, r->gpus);
	if (e == 0 && mem != LR_POLICY_UNLIMITED && (r->memory == 0 || mem < r->memory))
		q.memory_limit = mem;
	if (e == 0 && a->set[LR_RES_PROCESSES] && a->value[LR_RES_PROCESSES] != LR_POLICY_UNLIMITED)
		q.processes = a->value[LR_RES_PROCESSES];
	if (e == 0 && a->set[LR_RES_TMPFS] && a->value[LR_RES_TMPFS] != LR_POLICY_UNLIMITED) {
		q.has_tmpfs = true;
		q.tmpfs_size = a->value[LR_RES_TMPFS];
	}
	lr_launch_quota_close(&l);
	if (e == 0) {
		lr_debug(1, "lab %s: step of %u cores, %zu GPUs; memory %llu", q.lab, r->cores,
			 r->gpus, (unsigned long long)q.memory_limit);
		*out = q;
	}
	return e;
}
