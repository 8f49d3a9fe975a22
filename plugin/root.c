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
 *  3. The job's layer holder (holder.h) is started the same way, in the
 *     job's cgroup above its steps, and killed by the job's epilog: see
 *     jobholder.c.
 *  4. Nothing else: the image, the user's binds and the layers are only
 *     ever opened by the helper, as the user.
 *
 * Why the move: a process forked from user_init sits in the job's freezer
 * cgroup, outside the step's, so proctrack would neither signal nor kill
 * it with the step (notes/slurm.md, edge 5); and its cgroup namespace is
 * rooted where it is when it makes it.
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <poll.h>
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

#include "cgread.h"
#include "plugin.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* The step of lr_plugin_reap_within()'s loop without pidfds. */
#define HELPER_POLL_MS 10

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

struct plan_walk {
	struct lr_root_plan *plan;
	const char *job_dir, *step_dir;
};

/* One hierarchy of slurmstepd's: cgroup v1 controllers only, where its
 * own cgroup ends in the job and the step's is missing (freezer here). */
static int plan_cgroup(const char *ctrl, const char *path, void *ctx)
{
	struct plan_walk *w = ctx;
	struct lr_root_plan *plan = w->plan;
	size_t len = strlen(path), jl = strlen(w->job_dir);
	if (!*ctrl || !strncmp(ctrl, "name=", 5) || len < jl ||
	    strcmp(path + len - jl, w->job_dir) != 0)
		return 0;
	if (plan->n_tasks == LR_ROOT_MAX_CGROUPS)
		return 1;
	char *out = plan->tasks[plan->n_tasks];
	int n = snprintf(out, sizeof(plan->tasks[0]), "/sys/fs/cgroup/%s%s/%s/tasks", ctrl, path,
			 w->step_dir);
	struct stat st;
	if (n >= 0 && (size_t)n < sizeof(plan->tasks[0]) && stat(out, &st) == 0)
		plan->n_tasks++;
	return 0;
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
	struct plan_walk w = {.plan = plan, .job_dir = job_dir, .step_dir = step_dir};
	plan->n_tasks = 0;
	int r = lr_cgread_self_each(plan_cgroup, &w);
	if (r < 0)
		return lr_error_errno(err, -r, "read /proc/self/cgroup");
	return 0;
}

void lr_plugin_root_child(const struct lr_root_plan *plan)
{
	/* slurmstepd's signal state is not the helper's. */
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	lr_plugin_root_enter(plan);
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
	 * lacks (EACCES): then it stays at slurmstepd's value, never lower,
	 * as slurmstepd itself could not go to -1000 either (raising it from
	 * -1000 always works).  slurmstepd says which (remote.c). */
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

/* Reaps pid if it ends within ms: 1 then (*st its status), 0 if it is
 * still there, or gone already (reaped by slurmstepd's own wait loop,
 * which waits for any child: ECHILD) with *st 0.  A pidfd's poll is the
 * bounded wait; without pidfd_open (Linux < 5.3), a WNOHANG loop. */
int lr_plugin_reap_within(pid_t pid, int ms, int *st)
{
	*st = 0;
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int n;
		while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
			;
		close(pfd);
		if (n == 0)
			return 0;
	}
	for (int waited = 0;; waited += HELPER_POLL_MS) {
		pid_t r = waitpid(pid, st, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return 1;
		if (r < 0 && errno != EINTR)
			return 1;
		if (waited >= ms)
			return 0;
		usleep(HELPER_POLL_MS * 1000);
	}
}

int lr_plugin_root_kill_helper(void)
{
	int st = 0;
	pid_t pid = lr_plugin.helper;
	if (pid <= 0)
		return 0;
	/* Its whole process group (it called setsid(): the group is its
	 * pid), the keeper with it, whose death ends the container's pid
	 * namespace; SIGKILL also ends a stopped process.  Whatever escaped
	 * the group is the user's and in the step's cgroups: proctrack's. */
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	if (!lr_plugin_reap_within(pid, LR_HELPER_KILL_TIMEOUT_MS, &st)) {
		slurm_error("labrun: the container helper (pid %d) did not end %d s after "
			    "SIGKILL; left to proctrack",
			    (int)pid, LR_HELPER_KILL_TIMEOUT_MS / 1000);
		st = SIGKILL;
	}
	lr_plugin.helper = 0;
	lr_plugin.helper_killed = true;
	return st;
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
		 * exits: nothing of the step is left when this returns.  A
		 * helper that does not (stopped, traced, stuck in a FUSE
		 * request, or hostile: it is the user's process) is killed
		 * after a bound, so that slurmstepd never hangs on it (issue
		 * 12, item 12). */
		if (lr_plugin_reap_within(lr_plugin.helper, LR_HELPER_EXIT_TIMEOUT_MS, &st)) {
			lr_plugin.helper = 0;
			return st;
		}
		slurm_info("labrun: the container helper (pid %d) did not end within %d s of "
			   "the step's end: killed",
			   (int)lr_plugin.helper, LR_HELPER_EXIT_TIMEOUT_MS / 1000);
		st = lr_plugin_root_kill_helper();
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
	/* A task (or the keeper, whose death ends them all) killed by the
	 * OOM killer: one line naming the limit (issue 12, item 3). */
	lr_plugin_root_oom_say();
	/* The step's last task on this node: the container goes now, not
	 * after proctrack's kill loop (DESIGN.md §4: teardown is immediate). */
	if (++lr_plugin.tasks_exited >= (unsigned)n)
		lr_plugin_root_release();
	return 0;
}

/* slurmstepd's own memory cgroup directory: the step's (cgroup v1: Slurm
 * puts slurmstepd in the step's memory cgroup; v2: in a leaf of the step's,
 * "slurm" in Slurm 22.05, "slurm_processes" from 23.02, the step being its
 * parent). */
static int step_memory_dir(char *dir, size_t len, bool *v2)
{
	char path[768];
	*v2 = false;
	if (lr_cgread_self("memory", path, sizeof(path)) < 0) {
		*v2 = true;
		if (lr_cgread_self("", path, sizeof(path)) < 0 || !strcmp(path, "/"))
			return -ENOENT;
		char *leaf = strrchr(path, '/');
		if (leaf && (!strcmp(leaf, "/slurm") || !strcmp(leaf, "/slurm_processes")))
			*leaf = '\0';
	}
	return snprintf(dir, len, "/sys/fs/cgroup%s%s", *v2 ? "" : "/memory", path) < (int)len
		       ? 0
		       : -ENAMETOOLONG;
}

/* A cgroup limit file (memory, pids): its value, UINT64_MAX when there is
 * none (lr_cgread_value(); no such file is none too). */
static uint64_t limit_of(const char *file)
{
	char buf[64];
	FILE *f = fopen(file, "re");
	uint64_t v = f && fgets(buf, sizeof(buf), f) ? lr_cgread_value(buf) : UINT64_MAX;
	if (f)
		fclose(f);
	return v;
}

/* cgroup v1's pids controller, which Slurm leaves alone: the step's tasks
 * and its helper join labrun/LAB/USER/slurm-JOB.STEP, inside the cgroup
 * `labrun-policy apply` made for the member, whose pids.max is the
 * member's "processes" (DESIGN.md §5): a fork bomb in a step stops there,
 * counted with the member's other containers.  LAB is from the hand-over,
 * checked (lr_step_lab_is_valid) to be a plain name; USER is the job's. */
#define PIDS_ROOT LR_CGROUP_V1_PIDS "/labrun"

static int pids_step_dir(spank_t sp, char *dir, size_t len, struct lr_error *err)
{
	uint32_t job = 0, step = 0;
	uid_t uid = 0;
	if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS)
		return lr_error_set(err, EINVAL, "cannot tell which job and step this is");
	struct passwd pw, *found = NULL;
	char buf[4096];
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0 || !found)
		return lr_error_set(err, ENOENT, "uid %u has no name", (unsigned)uid);
	if (!lr_step_lab_is_valid(lr_plugin.handover.lab))
		return lr_error_set(err, EINVAL, "lab '%.64s': not a lab name",
				    lr_plugin.handover.lab);
	char member[512];
	snprintf(member, sizeof(member), PIDS_ROOT "/%s/%s", lr_plugin.handover.lab,
		 found->pw_name);
	struct stat st;
	if (stat(member, &st) < 0 || !S_ISDIR(st.st_mode))
		return lr_error_set(err, ENOENT,
				    "lab %s: your cgroup %s is missing on this node: an admin must "
				    "run 'labrun-policy apply'",
				    lr_plugin.handover.lab, member);
	char name[32];
	step_name(step, name, sizeof(name));
	if ((size_t)snprintf(dir, len, "%s/slurm-%u.%s", member, job, name + 5) >= len)
		return lr_error_set(err, ENAMETOOLONG, "%s: too long", member);
	return 0;
}

static int join_pids(const char *dir, pid_t pid, struct lr_error *err)
{
	char path[640], text[16];
	snprintf(path, sizeof(path), "%s/tasks", dir);
	snprintf(text, sizeof(text), "%d", (int)pid);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lr_error_errno(err, e, "put process %d in %s", (int)pid, dir);
	}
	close(fd);
	return 0;
}

/* The lab's quota on the step, once its container is ready (user_init,
 * before any task is forked): the step's memory cgroup lowered to the
 * member's memory when it is below Slurm's (never raised: the only value
 * from the helper root uses is this number, notes/security.md invariant
 * 9), and the step's cgroup made in the member's pids cgroup, with the
 * helper in it.  A failure here is said by every task_init; one in
 * task_post_fork would leave srun's status 0 (notes/slurm.md, edge 3).
 * Done by a forked child that regains root, as the helper's is
 * (lr_plugin_root_enter), so slurmstepd's own ids never change. */
enum {
	QUOTA_ROOT = 1,
	QUOTA_MEMORY,
	QUOTA_PIDS_DIR,
	QUOTA_PIDS_JOIN,
	QUOTA_PIDS_ENABLE,
	QUOTA_PIDS_MAX
};

/* cgroup v2: the subtree_control files from the hierarchy's root down to
 * dir's parent, where "+pids" makes dir's pids.max appear.  Slurm enables
 * only the controllers it uses; none of these cgroups holds a process
 * (slurmstepd and the tasks sit in leaves), so the kernel allows it. */
#define MAX_DEPTH 16
static size_t pids_enable_files(const char *dir, char files[MAX_DEPTH][800])
{
	size_t n = 0, root = strlen(LR_CGROUP_V2_MOUNT);
	const char *end = strrchr(dir, '/');
	for (const char *p = dir + root; p && p <= end && n < MAX_DEPTH; p = strchr(p + 1, '/')) {
		snprintf(files[n++], sizeof(files[0]), "%.*s/cgroup.subtree_control",
			 (int)(p - dir), dir);
		if (p == end)
			break;
	}
	return n;
}

int lr_plugin_root_quota(spank_t sp, struct lr_error *err)
{
	const struct lr_step_handover *h = &lr_plugin.handover;
	static char mem_file[1024], mem_value[32], pids_dir[sizeof(lr_plugin.pids_dir)],
		pids_tasks[sizeof(lr_plugin.pids_dir) + 8], helper[16], pids_max[1024],
		pids_value[32], enable[MAX_DEPTH][800];
	size_t n_enable = 0;
	mem_file[0] = pids_dir[0] = pids_max[0] = '\0';
	if (h->memory_limit) {
		char dir[768];
		bool v2 = false;
		if (step_memory_dir(dir, sizeof(dir), &v2) < 0)
			return lr_error_set(err, ENOENT,
					    "lab %s: cannot find the step's memory cgroup, so the "
					    "step cannot run under the lab's memory quota",
					    h->lab);
		snprintf(mem_file, sizeof(mem_file), "%s/%s", dir,
			 v2 ? "memory.max" : "memory.limit_in_bytes");
		uint64_t now = limit_of(mem_file);
		/* v2: Slurm puts the step's limit on the tasks' leaf beside
		 * slurmstepd's ("user" in 22.05, "user_processes" from 23.02),
		 * not on the step: the least of them is what holds the tasks. */
		static const char *const users[] = {"user", "user_processes"};
		for (size_t i = 0; v2 && i < sizeof(users) / sizeof(users[0]); i++) {
			char file[1024];
			snprintf(file, sizeof(file), "%s/%s/memory.max", dir, users[i]);
			uint64_t u = limit_of(file);
			if (u < now)
				now = u;
		}
		if (now != UINT64_MAX && now <= h->memory_limit)
			mem_file[0] = '\0';
		snprintf(mem_value, sizeof(mem_value), "%llu", (unsigned long long)h->memory_limit);
	}
	if (h->lab[0] && !lr_plugin_cgroup_v2()) {
		if (pids_step_dir(sp, pids_dir, sizeof(pids_dir), err) < 0)
			return -1;
		snprintf(pids_tasks, sizeof(pids_tasks), "%s/tasks", pids_dir);
		snprintf(helper, sizeof(helper), "%d", (int)lr_plugin.helper);
	}
	/* cgroup v2: the pids controller is in Slurm's tree, so the member's
	 * processes bound the step's own pids.max (narrowed, never raised),
	 * the controller enabled down to the step where Slurm left it off; a
	 * step where that fails is refused rather than unbounded. */
	if (h->processes_limit && lr_plugin_cgroup_v2()) {
		char dir[768];
		bool v2 = false;
		if (step_memory_dir(dir, sizeof(dir), &v2) < 0 || !v2)
			return lr_error_set(err, ENOENT, "lab %s: cannot find the step's cgroup",
					    h->lab);
		snprintf(pids_max, sizeof(pids_max), "%s/pids.max", dir);
		if (access(pids_max, F_OK) < 0)
			n_enable = pids_enable_files(dir, enable);
		uint64_t now = limit_of(pids_max);
		if (!n_enable && now != UINT64_MAX && now <= h->processes_limit)
			pids_max[0] = '\0';
		snprintf(pids_value, sizeof(pids_value), "%llu",
			 (unsigned long long)h->processes_limit);
	}
	if (!mem_file[0] && !pids_dir[0] && !pids_max[0])
		return 0;
	pid_t pid = fork();
	if (pid < 0)
		return lr_error_errno(err, errno, "lab %s: apply the quota", h->lab);
	if (pid == 0) {
		/* System calls only, as in lr_plugin_root_enter(). */
		if (syscall(SYS_setresuid, -1, 0, -1) < 0)
			_exit(QUOTA_ROOT);
		if (mem_file[0])
			write_or_die(mem_file, mem_value, QUOTA_MEMORY);
		for (size_t i = 0; i < n_enable; i++)
			write_or_die(enable[i], "+pids", QUOTA_PIDS_ENABLE);
		if (pids_max[0])
			write_or_die(pids_max, pids_value, QUOTA_PIDS_MAX);
		if (pids_dir[0]) {
			if (mkdir(pids_dir, 0755) < 0 && errno != EEXIST)
				_exit(QUOTA_PIDS_DIR);
			write_or_die(pids_tasks, helper, QUOTA_PIDS_JOIN);
		}
		_exit(0);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pids_dir[0] && (!WIFEXITED(st) || WEXITSTATUS(st) != QUOTA_PIDS_DIR))
		snprintf(lr_plugin.pids_dir, sizeof(lr_plugin.pids_dir), "%s", pids_dir);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		if (mem_file[0])
			slurm_verbose("labrun: step memory lowered to lab %s's %s bytes", h->lab,
				      mem_value);
		return 0;
	}
	switch (WIFEXITED(st) ? WEXITSTATUS(st) : -1) {
	case QUOTA_MEMORY:
		return lr_error_set(err, EIO,
				    "lab %s: cannot lower the step's memory to %s bytes (%s)",
				    h->lab, mem_value, mem_file);
	case QUOTA_PIDS_DIR:
		return lr_error_set(err, EIO, "lab %s: cannot create the step's cgroup %s", h->lab,
				    pids_dir);
	case QUOTA_PIDS_ENABLE:
		return lr_error_set(
			err, EIO,
			"lab %s: cannot enable the pids controller down to the step, so the "
			"lab's processes quota cannot hold it (%s)",
			h->lab, pids_max);
	case QUOTA_PIDS_MAX:
		return lr_error_set(err, EIO,
				    "lab %s: cannot lower the step's processes to %s (%s)", h->lab,
				    pids_value, pids_max);
	case QUOTA_PIDS_JOIN:
		return lr_error_set(err, EIO, "lab %s: cannot join the step's cgroup %s", h->lab,
				    pids_dir);
	default: return lr_error_set(err, EIO, "lab %s: cannot apply the quota (no root)", h->lab);
	}
}

/* Each task into the step's pids cgroup, before it execs (its children
 * follow).  The cgroup was made by lr_plugin_root_quota(). */
int lr_plugin_root_task_post_fork(spank_t sp)
{
	if (lr_plugin.failed || !lr_plugin.pids_dir[0])
		return 0;
	struct lr_error err = {0};
	pid_t task = 0;
	if (spank_get_item(sp, S_TASK_PID, &task) != ESPANK_SUCCESS || task <= 0) {
		slurm_error("labrun: lab quota: cannot tell the task's pid");
		return -1;
	}
	if (join_pids(lr_plugin.pids_dir, task, &err) < 0) {
		slurm_error("labrun: lab quota: %s", err.msg);
		return -1;
	}
	return 0;
}

void lr_plugin_root_pids_remove(void)
{
	if (!lr_plugin.pids_dir[0])
		return;
	/* After proctrack's kill: the last processes may still be on their
	 * way out of the cgroup. */
	for (int i = 0; i < 100 && rmdir(lr_plugin.pids_dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
	lr_plugin.pids_dir[0] = '\0';
}

bool lr_plugin_cgroup_v2(void)
{
	struct stat st;
	return stat(LR_CGROUP_V1_PIDS, &st) < 0;
}

/* ------------------------------------------------ OOM kills in the step */

/* The step's memory limit as it holds the tasks: v1 the step's
 * memory.limit_in_bytes; v2 the least of the step's memory.max and its
 * tasks' leaf's (Slurm puts the limit there, see lr_plugin_root_quota()).
 * UINT64_MAX when none. */
static uint64_t step_memory_limit(const char *dir, bool v2)
{
	char file[1024];
	snprintf(file, sizeof(file), "%s/%s", dir, v2 ? "memory.max" : "memory.limit_in_bytes");
	uint64_t limit = limit_of(file);
	static const char *const users[] = {"user", "user_processes"};
	for (size_t i = 0; v2 && i < sizeof(users) / sizeof(users[0]); i++) {
		snprintf(file, sizeof(file), "%s/%s/memory.max", dir, users[i]);
		uint64_t u = limit_of(file);
		if (u < limit)
			limit = u;
	}
	return limit;
}

/* The OOM killer's kills in the step (lr_cgread_oom_kills()): v2 counts
 * the step's whole subtree; v1 each cgroup's own processes, so the step's
 * (slurmstepd, the helper, the keeper) and each task's (task_N). */
static int step_oom_kills(const char *dir, bool v2, uint64_t *kills)
{
	uint64_t n = 0, k;
	int r = lr_cgread_oom_kills(AT_FDCWD, dir, &n);
	if (r < 0)
		return r;
	if (!v2) {
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (!strncmp(e->d_name, "task_", 5) &&
			    lr_cgread_oom_kills(dirfd(d), e->d_name, &k) == 0)
				n += k;
		if (d)
			closedir(d);
	}
	*kills = n;
	return 0;
}

void lr_plugin_root_oom_start(void)
{
	bool v2 = false;
	lr_plugin.oom_known =
		step_memory_dir(lr_plugin.oom_dir, sizeof(lr_plugin.oom_dir), &v2) == 0 &&
		step_oom_kills(lr_plugin.oom_dir, v2, &lr_plugin.oom_before) == 0;
	lr_plugin.oom_v2 = v2;
}

/* bytes as a person reads a memory limit: whole GiB, MiB or KiB. */
static void memory_text(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"GiB", "MiB", "KiB"};
	for (int i = 0; i < 3; i++) {
		uint64_t u = 1ULL << (30 - 10 * i);
		if (bytes >= u && bytes % u == 0) {
			snprintf(buf, len, "%llu %s", (unsigned long long)(bytes / u), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
}

void lr_plugin_root_oom_say(void)
{
	uint64_t now;
	if (!lr_plugin.oom_known || lr_plugin.oom_said ||
	    step_oom_kills(lr_plugin.oom_dir, lr_plugin.oom_v2, &now) < 0 ||
	    now <= lr_plugin.oom_before)
		return;
	lr_plugin.oom_said = true;
	uint64_t limit = step_memory_limit(lr_plugin.oom_dir, lr_plugin.oom_v2);
	const struct lr_step_handover *h = &lr_plugin.handover;
	char text[32], lab[96] = "";
	if (limit == UINT64_MAX) {
		snprintf(text, sizeof(text), "none");
	} else {
		memory_text(limit, text, sizeof(text));
		if (h->lab[0] && h->memory_limit && h->memory_limit <= limit)
			snprintf(lab, sizeof(lab), ", lab %s's memory quota", h->lab);
	}
	/* slurmstepd's errors go to task 0's stderr, so srun prints it. */
	slurm_error("labrun: the step ran out of memory: the kernel killed %llu of its "
		    "processes at its memory limit (%s%s)",
		    (unsigned long long)(now - lr_plugin.oom_before), text, lab);
}
