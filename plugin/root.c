/* root.c - everything the plugin does as root (STYLE.md, DESIGN.md §4).
 *
 * Three things, each with the reason it is safe:
 *
 *  1. The step's container helper (labrun-step) is moved into the step's
 *     cgroups and given an oom_score_adj, in its own forked child, before
 *     it drops to the job user for good and execs.  The cgroup paths are
 *     slurmstepd's own (/proc/self/cgroup) plus the step's directory name,
 *     which Slurm made; nothing comes from the job's environment, options
 *     or image.  The child then drops every id (setresgid, setresuid: real,
 *     effective and saved), so the helper holds no way back to root.
 *  2. After the step's last task, the helper is released and reaped.
 *  3. Nothing else: the image, the user's binds and the layers are only
 *     ever opened by the helper, as the user.
 *
 * Why the move: a process forked from user_init sits in the job's freezer
 * cgroup, outside the step's, so proctrack would neither signal nor kill
 * it with the step (notes/slurm.md, edge 5); and its cgroup namespace is
 * rooted where it is when it makes it.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "plugin.h"

/* The step's cgroup directory name, as Slurm 22.05 makes it
 * (src/plugins/cgroup/v1/cgroup_v1.c). */
static void step_name(uint32_t step, char *buf, size_t len)
{
	switch (step) {
	case SLURM_BATCH_SCRIPT: snprintf(buf, len, "step_batch"); break;
	case SLURM_EXTERN_CONT: snprintf(buf, len, "step_extern"); break;
	case SLURM_INTERACTIVE_STEP: snprintf(buf, len, "step_interactive"); break;
	default: snprintf(buf, len, "step_%u", step); break;
	}
}

int lr_plugin_root_plan(spank_t sp, struct lr_root_plan *plan, struct lr_error *err)
{
	uint32_t job = 0, step = 0;
	if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &plan->uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &plan->gid) != ESPANK_SUCCESS)
		return lr_error_set(err, EINVAL, "cannot tell which job and step this is");
	if (plan->uid == 0)
		return lr_error_set(err, EPERM,
				    "containers do not run as root (use "
				    "--container-remap-root as yourself)");
	char job_dir[32], step_dir[32];
	snprintf(job_dir, sizeof(job_dir), "/job_%u", job);
	step_name(step, step_dir, sizeof(step_dir));
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return lr_error_errno(err, errno, "read /proc/self/cgroup");
	char line[1024];
	plan->n_tasks = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *ctrl = strchr(line, ':');
		char *path = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		ctrl++;
		/* cgroup v1 controllers only; slurmstepd's own cgroup ends in
		 * the job where the step's is missing (freezer here). */
		size_t len = strlen(path), jl = strlen(job_dir);
		if (!*ctrl || !strncmp(ctrl, "name=", 5) || len < jl ||
		    strcmp(path + len - jl, job_dir) != 0)
			continue;
		if (plan->n_tasks == LR_ROOT_MAX_CGROUPS)
			break;
		char *out = plan->tasks[plan->n_tasks];
		int n = snprintf(out, sizeof(plan->tasks[0]), "/sys/fs/cgroup/%s%s/%s/tasks", ctrl,
				 path, step_dir);
		struct stat st;
		if (n < 0 || (size_t)n >= sizeof(plan->tasks[0]) || stat(out, &st) < 0)
			continue;
		plan->n_tasks++;
	}
	fclose(f);
	return 0;
}

/* In the forked child: system calls only (slurmstepd's other threads may
 * hold locks a library call would take). */
static void write_or_die(const char *path, const char *text, int code)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		_exit(code);
	close(fd);
}

void lr_plugin_root_enter(const struct lr_root_plan *plan)
{
	/* user_init runs with the job user as effective id and root as real
	 * and saved id (mgr.c, _drop_privileges): root comes back with
	 * seteuid, and goes for good with setresuid below. */
	if (syscall(SYS_setresuid, -1, 0, -1) < 0)
		_exit(LR_HELPER_EXIT_ROOT);
	for (size_t i = 0; i < plan->n_tasks; i++)
		write_or_die(plan->tasks[i], "0", LR_HELPER_EXIT_CGROUP);
	/* Lowering it below the lowest value it ever had takes
	 * CAP_SYS_RESOURCE, which a root without it in its bounding set
	 * lacks: then it stays as slurmstepd left it, never lower (raising it
	 * from slurmstepd's -1000 always works).  slurmstepd logs which. */
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || (write(fd, LR_HELPER_OOM_SCORE_ADJ, strlen(LR_HELPER_OOM_SCORE_ADJ)) < 0 &&
		       errno != EACCES))
		_exit(LR_HELPER_EXIT_OOM);
	close(fd);
	/* The supplementary groups are already the job user's (slurmstepd
	 * set them before user_init). */
	if (syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0 ||
	    syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0)
		_exit(LR_HELPER_EXIT_DROP);
	/* Fail closed: no way back. */
	if (syscall(SYS_setresuid, -1, 0, -1) == 0)
		_exit(LR_HELPER_EXIT_UNDROPPED);
}

int lr_plugin_root_release(void)
{
	int st = 0;
	if (lr_plugin.release_fd >= 0) {
		close(lr_plugin.release_fd);
		lr_plugin.release_fd = -1;
	}
	if (lr_plugin.helper > 0) {
		/* It kills the keeper, waits for the container to go, and
		 * exits: nothing of the step is left when this returns. */
		while (waitpid(lr_plugin.helper, &st, 0) < 0 && errno == EINTR)
			;
		lr_plugin.helper = 0;
	}
	return st;
}

int lr_plugin_root_task_exit(spank_t sp)
{
	if (!lr_plugin.helper)
		return 0;
	uint32_t n = 0;
	if (spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &n) != ESPANK_SUCCESS)
		n = 1;
	/* The step's last task on this node: the container goes now, not
	 * after proctrack's kill loop (DESIGN.md §4: teardown is immediate). */
	if (++lr_plugin.tasks_exited >= (unsigned)n)
		lr_plugin_root_release();
	return 0;
}

/* slurmstepd's own memory cgroup directory: the step's (cgroup v1: Slurm
 * puts slurmstepd in the step's memory cgroup; v2: in the step's
 * "slurm_processes" leaf, the step being its parent). */
static int step_memory_dir(char *dir, size_t len, bool *v2)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char line[1024];
	int r = -ENOENT;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *ctrl = strchr(line, ':');
		char *path = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		ctrl++;
		if (!strcmp(ctrl, "memory")) {
			*v2 = false;
			r = snprintf(dir, len, "/sys/fs/cgroup/memory%s", path) < (int)len ? 0 : -1;
		} else if (!*ctrl && strcmp(path, "/") != 0) {
			char *leaf = strrchr(path, '/');
			if (leaf && !strcmp(leaf, "/slurm_processes"))
				*leaf = '\0';
			*v2 = true;
			r = snprintf(dir, len, "/sys/fs/cgroup%s", path) < (int)len ? 0 : -1;
		}
	}
	fclose(f);
	return r;
}

/* The lab member's memory, when it is below the step's: the only value
 * from the helper that root uses, a number, and it can only lower the
 * step's limit (notes/security.md, invariant 9).  Done once, after the
 * tasks are forked and before any of them execs. */
int lr_plugin_root_task_post_fork(spank_t sp)
{
	if (!lr_plugin.have_handover || lr_plugin.memory_narrowed ||
	    !lr_plugin.handover.memory_limit)
		return 0;
	lr_plugin.memory_narrowed = true;
	uint64_t want = lr_plugin.handover.memory_limit;
	char dir[768], path[1024], buf[64];
	bool v2 = false;
	if (step_memory_dir(dir, sizeof(dir), &v2) < 0) {
		slurm_error("labrun: lab quota: cannot find the step's memory cgroup; the step "
			    "cannot run under your lab's memory quota");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, v2 ? "memory.max" : "memory.limit_in_bytes");
	FILE *f = fopen(path, "re");
	unsigned long long now = 0;
	bool unlimited = !f || !fgets(buf, sizeof(buf), f) || !strncmp(buf, "max", 3) ||
			 (now = strtoull(buf, NULL, 10)) >= (1ULL << 62);
	if (f)
		fclose(f);
	if (!unlimited && now <= want)
		return 0;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)want);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, strlen(buf)) < 0) {
		slurm_error("labrun: lab quota: cannot lower the step's memory to %s bytes (%s): "
			    "%s",
			    buf, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	slurm_verbose("labrun: step memory lowered to the lab member's %s bytes", buf);
	return 0;
}
