/* jobholder.c - the job's layer holder on a node (holder.h; spank_labrun(8),
 * "LAYER HOLDER"), as root: started by the job's first container step on
 * the node, in the job's cgroup above its steps, and killed by the job's
 * epilog there.
 *
 * Why not in a step.  A step's processes are what Slurm signals and kills
 * with it.  The extern step lasted as long as the job, but a signal sent
 * to the whole job (scancel --signal=USR1, --signal=USR1@60 to checkpoint)
 * ends it: its own sleep dies of the signal (slurmstepd forks it with every
 * signal at its default), and proctrack then kills what is left in the
 * step, the holder too, whose containers then took a SIGBUS at their next
 * read of a layer (doc/DECISIONS.md, "Signals and the layer holder").  In
 * the job's cgroup no step's signal reaches it, its memory still counts in
 * the job's, and the job's end is the epilog's, which Slurm runs on every
 * node of the job however the job ends (completion, scancel, time limit).
 *
 * What runs as root here, and why it is safe:
 *  - the start: as for a step's helper (root.c), labrun-step --job-holder
 *    in a forked child that joins the job's cgroups, slurmstepd's own
 *    paths cut after Slurm's job directory, then drops to the job user for
 *    good before exec;
 *  - the epilog: SIGKILL to the processes in the job's own cgroup
 *    directory (not its steps'), those of the job's user only, then rmdir
 *    of that directory in each hierarchy, and of the user's above it when
 *    empty, under Slurm's own lock.  The paths are Slurm's layout
 *    built from the job's id and uid, which Slurm gives; nothing comes from
 *    the job's environment, options or files.
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "cgread.h"
#include "holder_path.h"
#include "plugin.h"

/* How long the epilog waits for the killed processes to leave the job's
 * cgroup before it removes it: a bound, as Slurm drains a node whose
 * epilog hangs. */
#define EPILOG_WAIT_MS 2000
#define EPILOG_POLL_MS 20

struct job_walk {
	struct lr_root_plan *plan;
	const char *job_dir;
};

/* One hierarchy of slurmstepd's: every cgroup v1 controller whose path
 * has the job's directory, cut after it: the job's own cgroup. */
static int plan_job(const char *ctrl, const char *path, void *ctx)
{
	struct job_walk *w = ctx;
	struct lr_root_plan *plan = w->plan;
	if (!*ctrl || !strncmp(ctrl, "name=", 5))
		return 0;
	const char *job = strstr(path, w->job_dir);
	size_t jl = strlen(w->job_dir);
	if (!job || (job[jl] != '/' && job[jl] != '\0'))
		return 0;
	if (plan->n_tasks == LR_ROOT_MAX_CGROUPS)
		return 1;
	char *out = plan->tasks[plan->n_tasks];
	int n = snprintf(out, sizeof(plan->tasks[0]), "/sys/fs/cgroup/%s%.*s/tasks", ctrl,
			 (int)(job - path + (ptrdiff_t)jl), path);
	struct stat st;
	if (n >= 0 && (size_t)n < sizeof(plan->tasks[0]) && stat(out, &st) == 0)
		plan->n_tasks++;
	return 0;
}

void lr_plugin_root_job_holder(spank_t sp, const struct lr_root_plan *step_plan, bool remap_root)
{
	uint32_t job = 0;
	if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS)
		return;
	/* An earlier step's holder answers on its probe socket (abstract: no
	 * path of the user's is looked up here): nothing to start.  Measured:
	 * a later step 96.8 -> 86.9 ms, against a labrun-step --job-holder
	 * forked and run for every step. */
	if (lr_holder_job_answers(step_plan->uid, job, remap_root))
		return;
	static struct lr_root_plan plan;
	plan = (struct lr_root_plan){.uid = step_plan->uid, .gid = step_plan->gid};
	char job_dir[32];
	snprintf(job_dir, sizeof(job_dir), "/job_%u", job);
	struct job_walk w = {.plan = &plan, .job_dir = job_dir};
	if (lr_cgread_self_each(plan_job, &w) < 0 || plan.n_tasks == 0)
		return;
	char id[16];
	snprintf(id, sizeof(id), "%u", job);
	char *argv[8];
	size_t n = 0;
	argv[n++] = (char *)"labrun-step";
	argv[n++] = (char *)"--job-holder";
	argv[n++] = id;
	if (remap_root)
		argv[n++] = (char *)"--remap-root";
	if (lr_plugin.conf.config) {
		argv[n++] = (char *)"--config";
		argv[n++] = (char *)lr_plugin.conf.config;
	}
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		lr_plugin_root_child(&plan);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(LR_HELPER_EXIT_FDS);
		close_range(3, ~0U, 0);
		static char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
		execve(lr_plugin.conf.helper, argv, envp);
		_exit(LR_HELPER_EXIT_EXEC);
	}
	int st = 0;
	if (!lr_plugin_reap_within(pid, LR_HELPER_EXIT_TIMEOUT_MS, &st)) {
		kill(pid, SIGKILL);
		lr_plugin_reap_within(pid, LR_HELPER_KILL_TIMEOUT_MS, &st);
		slurm_info("labrun: the job's layer holder did not start within %d s: killed",
			   LR_HELPER_EXIT_TIMEOUT_MS / 1000);
	} else if (st) {
		slurm_info("labrun: the job's layer holder did not start (status %d)", st);
	}
}

/* ------------------------------------------------------------ epilog */

/* The job's cgroup directories, one per hierarchy: Slurm's cgroup/v1
 * layout /sys/fs/cgroup/CTRL/slurm[_NODE]/uid_UID/job_JOB (the prefix has
 * the node's name when slurmd is built for several per host).  Calls fn
 * with each that exists. */
static void each_job_dir(uid_t uid, uint32_t job, void (*fn)(const char *dir, void *ctx), void *ctx)
{
	DIR *root = opendir("/sys/fs/cgroup");
	if (!root)
		return;
	struct dirent *c;
	while ((c = readdir(root))) {
		if (c->d_name[0] == '.')
			continue;
		char ctrl[PATH_MAX];
		if (snprintf(ctrl, sizeof(ctrl), "/sys/fs/cgroup/%s", c->d_name) >=
		    (int)sizeof(ctrl))
			continue;
		DIR *d = opendir(ctrl);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strncmp(e->d_name, "slurm", 5) != 0 ||
			    (e->d_name[5] != '\0' && e->d_name[5] != '_'))
				continue;
			char dir[PATH_MAX];
			struct stat st;
			int n = snprintf(dir, sizeof(dir), "%s/%s/uid_%u/job_%u", ctrl, e->d_name,
					 (unsigned)uid, (unsigned)job);
			if (n > 0 && (size_t)n < sizeof(dir) && lstat(dir, &st) == 0 &&
			    S_ISDIR(st.st_mode))
				fn(dir, ctx);
		}
		closedir(d);
	}
	closedir(root);
}

struct sweep {
	uid_t uid;
	unsigned left; /* processes still in a job's cgroup */
};

/* SIGKILL to each process of the job's user in dir's own cgroup.procs,
 * counting those still there. */
static void kill_in(const char *dir, void *ctx)
{
	struct sweep *s = ctx;
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1) {
		char status[64];
		snprintf(status, sizeof(status), "/proc/%ld", pid);
		struct stat st;
		/* The job user's only: never a process of root's or another's
		 * that something else put there. */
		if (pid <= 1 || stat(status, &st) < 0 || st.st_uid != s->uid)
			continue;
		kill((pid_t)pid, SIGKILL);
		s->left++;
	}
	fclose(f);
}

/* The job's directory, then its user's when that is empty: Slurm's own
 * clean-up, at its last step's end, found them busy with the holder.  The
 * user's is removed under the lock Slurm takes on its root directory
 * (slurm[_NODE], flock) while it makes a job's directories, so that a new
 * job of the user's never finds its parent gone. */
static void remove_dir(const char *dir, void *ctx)
{
	(void)ctx;
	/* Fails while a step's directory or a process is still in it: then
	 * it is Slurm's to remove, as before. */
	if (rmdir(dir) < 0)
		return;
	char uid_dir[PATH_MAX], root[PATH_MAX];
	snprintf(uid_dir, sizeof(uid_dir), "%s", dir);
	char *slash = strrchr(uid_dir, '/');
	if (!slash)
		return;
	*slash = '\0';
	snprintf(root, sizeof(root), "%s", uid_dir);
	if (!(slash = strrchr(root, '/')))
		return;
	*slash = '\0';
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX) == 0) {
		rmdir(uid_dir); /* fails while another job of the user's is there */
		flock(fd, LOCK_UN);
	}
	close(fd);
}

int lr_plugin_job_epilog(spank_t sp)
{
	uint32_t job = 0;
	uid_t uid = 0;
	if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS || uid == 0)
		return 0;
	struct sweep s = {.uid = uid};
	each_job_dir(uid, job, kill_in, &s);
	for (int waited = 0; s.left && waited < EPILOG_WAIT_MS; waited += EPILOG_POLL_MS) {
		struct timespec ts = {.tv_nsec = EPILOG_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
		s.left = 0;
		each_job_dir(uid, job, kill_in, &s);
	}
	if (s.left)
		slurm_info("labrun: job %u: %u process(es) of its layer holder still in its cgroup "
			   "%d ms after SIGKILL",
			   (unsigned)job, s.left, EPILOG_WAIT_MS);
	each_job_dir(uid, job, remove_dir, NULL);
	/* Never an error: a required plugin's failing epilog drains the node. */
	return 0;
}
