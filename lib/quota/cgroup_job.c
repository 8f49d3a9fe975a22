/* cgroup_job.c - the container's cgroup inside the member's (cgroup_job.h).
 *
 * Runs as the user.  Why this is safe: every operation is one the kernel
 * checks against the member's own rights in the delegated subtree
 * (cgroup-v2.rst, "Delegation Containment"): making a child cgroup needs
 * write access to the member's directory, moving a process needs write
 * access to the target's cgroup.procs (and, on v2, to that of the common
 * ancestor of source and target, the member's), and a child's limits can
 * only narrow the parent's.  The member's own limit files are root's.
 * Paths are opened once, from a fixed root (LR_CGROUP_MOUNT), and
 * everything after works through those descriptors.
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgread.h"
#include "cgroup_job.h"
#include "cleanup.h"

/* How long the cleaner waits for the kernel to empty the cgroup after the
 * last process holding its pipe ended: the container's pid namespace is
 * torn down by then, and its processes are reaped within milliseconds. */
#define CLEANER_DEADLINE_MS 30000

/* The container's processes' cgroup below job-PID in memory's hierarchy
 * (cgroup_job.h says why). */
#define LR_CGROUP_JOB_INNER "c"

int lr_cgroup_job_open(struct lr_cgroup_job *job, enum lr_cg_version v, const char *lab,
		       const char *member, struct lr_error *err)
{
	struct lr_cgroup_job j = {.version = v,
				  .cleaner = -1,
				  .cleaner_fd = -1,
				  .into_fd = -1,
				  .mem_tasks_fd = -1,
				  .container_limit = UINT64_MAX};
	if ((size_t)snprintf(j.path, sizeof(j.path), "%s/%s/%s", LR_CG_ROOT, lab, member) >=
	    sizeof(j.path))
		return lr_error_set(err, ENAMETOOLONG, "lab %s, member %s: names too long", lab,
				    member);
	char list[128];
	snprintf(list, sizeof(list), "%s", v == LR_CG_V1 ? lr_cg_controllers(v) : "");
	char *save = NULL, *ctrl = v == LR_CG_V1 ? strtok_r(list, ",", &save) : list;
	int r = 0;
	for (; ctrl && j.n < LR_CGROUP_JOB_MAX_HIER; ctrl = strtok_r(NULL, ",", &save)) {
		char path[1024];
		snprintf(path, sizeof(path), "%s%s%s/%s", LR_CGROUP_MOUNT, *ctrl ? "/" : "", ctrl,
			 j.path);
		int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			r = errno == ENOENT
				    ? lr_error_set(err, ENOENT,
						   "lab %s sets quotas for %s, but the cgroup %s "
						   "is missing: an admin must run "
						   "'labrun-policy apply'",
						   lab, member, path)
				    : lr_error_errno(err, errno, "%s", path);
			break;
		}
		if (!strcmp(ctrl, "cpuset"))
			j.cpuset = j.n;
		if (!strcmp(ctrl, "blkio"))
			j.blkio = j.n;
		if (!strcmp(ctrl, "memory"))
			j.memory = j.n;
		j.member[j.n++] = fd;
		if (faccessat(fd, ".", W_OK, AT_EACCESS) < 0) {
			r = lr_error_set(err, EACCES,
					 "the cgroup %s is not delegated to you: an admin must "
					 "run 'labrun-policy apply'%s",
					 path,
					 v == LR_CG_V1 ? " (on cgroup v1 it delegates none to a "
							 "member of several labs: labrun-policy(8))"
						       : "");
			break;
		}
		if (v == LR_CG_V2)
			break;
	}
	if (r < 0) {
		lr_cgroup_job_close(&j);
		return r;
	}
	*job = j;
	return 0;
}

void lr_cgroup_job_close(struct lr_cgroup_job *job)
{
	if (!job)
		return;
	for (size_t i = 0; i < job->n; i++)
		if (job->member[i] >= 0)
			close(job->member[i]);
	job->n = 0;
	if (job->cleaner_fd >= 0)
		close(job->cleaner_fd);
	job->cleaner_fd = -1;
	if (job->into_fd >= 0)
		close(job->into_fd);
	job->into_fd = -1;
	if (job->mem_tasks_fd >= 0)
		close(job->mem_tasks_fd);
	job->mem_tasks_fd = -1;
}

int lr_cgroup_read_at(int dfd, const char *file, char *buf, size_t len)
{
	_cleanup_close_ int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int lr_cgroup_write_at(int dfd, const char *file, const char *value)
{
	_cleanup_close_ int fd = openat(dfd, file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(value);
	return write(fd, value, len) == (ssize_t)len ? 0 : -errno;
}

/* The first number in file (v2's cpu.stat: after key). */
static long long number_in(const char *ctrl, const char *lab, const char *member, const char *file,
			   const char *key)
{
	char path[1024], buf[4096];
	snprintf(path, sizeof(path), "%s%s%s/%s/%s/%s", LR_CGROUP_MOUNT, *ctrl ? "/" : "", ctrl,
		 LR_CG_ROOT, lab, member);
	_cleanup_close_ int dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || lr_cgroup_read_at(dfd, file, buf, sizeof(buf)) < 0)
		return -1;
	const char *p = buf;
	if (key) {
		p = strstr(buf, key);
		if (!p)
			return -1;
		p += strlen(key);
	}
	char *end;
	long long v = strtoll(p, &end, 10);
	return end == p ? -1 : v;
}

int lr_cgroup_usage(enum lr_cg_version v, const char *lab, const char *member,
		    struct lr_cgroup_usage *out)
{
	if (v == LR_CG_V1) {
		out->memory = number_in("memory", lab, member, "memory.usage_in_bytes", NULL);
		out->processes = number_in("pids", lab, member, "pids.current", NULL);
		out->cpu_ns = number_in("cpuacct", lab, member, "cpuacct.usage", NULL);
	} else {
		out->memory = number_in("", lab, member, "memory.current", NULL);
		out->processes = number_in("", lab, member, "pids.current", NULL);
		long long us = number_in("", lab, member, "cpu.stat", "usage_usec ");
		out->cpu_ns = us < 0 ? -1 : us * 1000;
	}
	return out->memory < 0 && out->processes < 0 && out->cpu_ns < 0 ? -ENOENT : 0;
}

int lr_cgroup_job_oom_kills(const struct lr_cgroup_job *job, uint64_t *kills)
{
	if (job->n == 0 || !job->name[0])
		return -ENOENT;
	/* v1 counts in the victim's own cgroup, the container's processes';
	 * v2 in job-PID's subtree (and inner has no memory files). */
	return lr_cgread_oom_kills(job->member[job->memory],
				   job->version == LR_CG_V1 ? job->inner : job->name, kills);
}

/* The memory limit files that bound what the OOM killer acts on, in the
 * order a lowering must write them: v1 memory, then memory+swap (never
 * below memory); v2 memory.max alone (its swap limit adds to it). */
static const char *const *memory_files(const struct lr_cgroup_job *job, size_t *n)
{
	static const char *const v1[] = {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"};
	static const char *const v2[] = {"memory.max"};
	*n = job->version == LR_CG_V1 ? 2 : 1;
	return job->version == LR_CG_V1 ? v1 : v2;
}

/* The least of file in the member's and the lab's cgroups (relative to
 * the member's directory); UINT64_MAX when neither sets one. */
static uint64_t least_of_member_and_lab(const struct lr_cgroup_job *job, const char *file)
{
	uint64_t least = UINT64_MAX;
	for (int up = 0; up < 2; up++) {
		char path[128], buf[64];
		snprintf(path, sizeof(path), "%s/%s", up ? ".." : ".", file);
		if (lr_cgroup_read_at(job->member[job->memory], path, buf, sizeof(buf)) < 0)
			continue;
		uint64_t v = lr_cgread_value(buf);
		if (v && v < least)
			least = v;
	}
	return least;
}

int lr_cgroup_job_memory_limit(const struct lr_cgroup_job *job, uint64_t *limit)
{
	if (job->n == 0 || !job->name[0])
		return -ENOENT;
	size_t nf;
	const char *const *files = memory_files(job, &nf);
	uint64_t least = UINT64_MAX;
	for (size_t f = 0; f < nf; f++) {
		uint64_t v = least_of_member_and_lab(job, files[f]);
		if (v < least)
			least = v;
	}
	*limit = least;
	return 0;
}

int lr_cgroup_job_allowed_cpus(const struct lr_cgroup_job *job, char *buf, size_t len,
			       struct lr_error *err)
{
	int dfd = job->member[job->cpuset];
	int r = lr_cgroup_read_at(
		dfd, job->version == LR_CG_V1 ? "cpuset.effective_cpus" : "cpuset.cpus.effective",
		buf, len);
	if (r < 0)
		return lr_error_errno(err, -r, "the CPUs of your lab cgroup");
	return 0;
}

/* Remove the empty job-PID cgroups of containers whose labrun is gone.
 * Only dead PIDs: a live one may be a launch that has made its cgroup and
 * not yet moved into it. */
static void sweep(const struct lr_cgroup_job *job)
{
	int dup_fd = openat(job->member[0], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return;
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		if (strncmp(e->d_name, "job-", 4))
			continue;
		long pid = strtol(e->d_name + 4, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char inner[sizeof(job->inner)];
		if ((size_t)snprintf(inner, sizeof(inner), "%s/" LR_CGROUP_JOB_INNER, e->d_name) >=
		    sizeof(inner))
			continue;
		unlinkat(job->member[job->memory], inner, AT_REMOVEDIR);
		for (size_t i = 0; i < job->n; i++)
			unlinkat(job->member[i], e->d_name, AT_REMOVEDIR);
	}
}

/* The cleaner's life: wait for the pipe's EOF, then rmdir job-PID in each
 * hierarchy until the kernel lets it (EBUSY while processes remain). */
static __attribute__((noreturn)) void cleaner(const struct lr_cgroup_job *job, int pipe_fd)
{
	/* Its own session: the terminal's Ctrl-C and a kill of labrun's
	 * process group do not reach it; nothing of the user's stays open in
	 * it (a pipe reader waiting for EOF would wait for it too). */
	setsid();
	prctl(PR_SET_NAME, "labrun-cleanup");
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3; fd++)
		if (null >= 0)
			dup2(null, fd);
	/* Keep only the pipe and the member's cgroups (opened in order, so
	 * the gaps between them are what to close). */
	int keep[LR_CGROUP_JOB_MAX_HIER + 1], nk = 0;
	keep[nk++] = pipe_fd;
	for (size_t i = 0; i < job->n; i++)
		keep[nk++] = job->member[i];
	for (int a = 0; a < nk; a++)
		for (int b = a + 1; b < nk; b++)
			if (keep[b] < keep[a]) {
				int t = keep[a];
				keep[a] = keep[b];
				keep[b] = t;
			}
	unsigned from = 3;
	for (int k = 0; k < nk; k++) {
		if ((unsigned)keep[k] > from)
			close_range(from, (unsigned)keep[k] - 1, 0);
		from = (unsigned)keep[k] + 1;
	}
	close_range(from, ~0U, 0);
	char c;
	while (read(pipe_fd, &c, 1) != 0 && (errno == EINTR || errno == EAGAIN))
		;
	struct timespec delay = {0, 1000000};
	long waited = 0;
	for (;;) {
		int busy = unlinkat(job->member[job->memory], job->inner, AT_REMOVEDIR) < 0 &&
			   errno == EBUSY;
		for (size_t i = 0; i < job->n; i++)
			if (unlinkat(job->member[i], job->name, AT_REMOVEDIR) < 0 && errno == EBUSY)
				busy = 1;
		if (!busy || waited > CLEANER_DEADLINE_MS)
			_exit(busy);
		nanosleep(&delay, NULL);
		waited += delay.tv_nsec / 1000000;
		if (delay.tv_nsec < 64000000)
			delay.tv_nsec *= 2;
	}
}

/* v1: the member's disk rates into the container's cgroup.  On the legacy
 * hierarchy blkio throttling holds only for a cgroup's own processes
 * (block/blk-throttle.c), not for its descendants' as v2's io.max does. */
static int copy_throttle(const struct lr_cgroup_job *job, struct lr_error *err)
{
	static const char *const files[] = {"blkio.throttle.read_bps_device",
					    "blkio.throttle.write_bps_device"};
	_cleanup_close_ int cg =
		openat(job->member[job->blkio], job->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0)
		return lr_error_errno(err, errno, "your container's cgroup %s", job->name);
	for (size_t f = 0; f < 2; f++) {
		char rules[4096];
		if (lr_cgroup_read_at(job->member[job->blkio], files[f], rules, sizeof(rules)) < 0)
			continue; /* the kernel has no throttling */
		/* one "MAJ:MIN BYTES" per line, each written alone */
		for (char *line = rules, *next; *line; line = next) {
			next = line + strcspn(line, "\n");
			if (*next)
				*next++ = '\0';
			int rr = lr_cgroup_write_at(cg, files[f], line);
			if (rr < 0)
				return lr_error_errno(err, -rr, "%s of your container's cgroup: %s",
						      files[f], line);
		}
	}
	return 0;
}

/* Is the caller itself in the member's memory cgroup, or below it? */
static bool caller_inside(const struct lr_cgroup_job *job)
{
	char self[4096];
	if (lr_cgread_self(job->version == LR_CG_V1 ? "memory" : "", self, sizeof(self)) < 0)
		return true; /* not known: keep the reserve */
	size_t n = strlen(job->path);
	return self[0] == '/' && !strncmp(self + 1, job->path, n) &&
	       (self[n + 1] == '\0' || self[n + 1] == '/');
}

/* job-PID's memory limit: the member's less reserve (cgroup_job.h), and
 * on v1 the same for memory+swap. */
static int limit_memory(struct lr_cgroup_job *job, int dfd, uint64_t reserve, struct lr_error *err)
{
	size_t nf;
	const char *const *files = memory_files(job, &nf);
	for (size_t f = 0; f < nf; f++) {
		const char *file = files[f];
		uint64_t least = least_of_member_and_lab(job, file);
		if (least == UINT64_MAX)
			continue;
		uint64_t keep = reserve < least / 4 ? reserve : least / 4;
		char value[32];
		snprintf(value, sizeof(value), "%llu", (unsigned long long)(least - keep));
		int r = lr_cgroup_write_at(dfd, file, value);
		if (r < 0)
			return lr_error_errno(err, -r, "%s of your container's cgroup %s", file,
					      job->name);
		if (f == 0)
			job->container_limit = least - keep;
	}
	return 0;
}

/* job-PID/c in memory's hierarchy, job-PID's memory limit, and the way
 * into c: into_fd (v2) or mem_tasks_fd (v1). */
static int nest_memory(struct lr_cgroup_job *job, uint64_t reserve, struct lr_error *err)
{
	int m = job->member[job->memory];
	if (mkdirat(m, job->inner, 0755) < 0 && errno != EEXIST)
		return lr_error_errno(err, errno, "make your container's cgroup %s", job->inner);
	if (reserve && caller_inside(job)) {
		_cleanup_close_ int dfd = openat(m, job->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return lr_error_errno(err, errno, "your container's cgroup %s", job->name);
		int r = limit_memory(job, dfd, reserve, err);
		if (r < 0)
			return r;
	}
	if (job->version == LR_CG_V2) {
		/* CLONE_INTO_CGROUP takes a directory opened for reading, not
		 * O_PATH (kernel/cgroup/cgroup.c, cgroup_css_set_fork()). */
		job->into_fd = openat(m, job->inner, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (job->into_fd < 0)
			return lr_error_errno(err, errno, "your container's cgroup %s", job->inner);
		return 0;
	}
	char tasks[sizeof(job->inner) + 8];
	snprintf(tasks, sizeof(tasks), "%s/tasks", job->inner);
	job->mem_tasks_fd = openat(m, tasks, O_WRONLY | O_CLOEXEC);
	if (job->mem_tasks_fd < 0)
		return lr_error_errno(err, errno, "your container's cgroup %s", job->inner);
	return 0;
}

int lr_cgroup_job_enter(struct lr_cgroup_job *job, const char *cpus, uint64_t reserve,
			struct lr_error *err)
{
	snprintf(job->name, sizeof(job->name), "job-%d", (int)getpid());
	snprintf(job->inner, sizeof(job->inner), "%s/" LR_CGROUP_JOB_INNER, job->name);
	sweep(job);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return lr_error_errno(err, errno, "cgroup cleaner");
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return lr_error_errno(err, e, "cgroup cleaner");
	}
	if (pid == 0) {
		close(p[1]);
		cleaner(job, p[0]);
	}
	close(p[0]);
	job->cleaner = pid;
	job->cleaner_fd = p[1];

	int r = 0;
	for (size_t i = 0; i < job->n && r == 0; i++)
		if (mkdirat(job->member[i], job->name, 0755) < 0 && errno != EEXIST)
			r = lr_error_errno(err, errno, "make your container's cgroup %s",
					   job->name);
	/* CPUs: v1's cpuset starts empty and takes no task until it has CPUs
	 * and memory nodes; both versions take the placement. */
	_cleanup_close_ int cg = -1;
	if (r == 0) {
		cg = openat(job->member[job->cpuset], job->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cg < 0)
			r = lr_error_errno(err, errno, "your container's cgroup %s", job->name);
	}
	if (r == 0 && job->version == LR_CG_V1) {
		char mems[256];
		int rr = lr_cgroup_read_at(job->member[job->cpuset], "cpuset.mems", mems,
					   sizeof(mems));
		if (rr == 0)
			rr = lr_cgroup_write_at(cg, "cpuset.mems", mems);
		if (rr == 0 && !cpus) {
			char all[1024];
			rr = lr_cgroup_read_at(job->member[job->cpuset], "cpuset.cpus", all,
					       sizeof(all));
			if (rr == 0)
				rr = lr_cgroup_write_at(cg, "cpuset.cpus", all);
		}
		if (rr < 0)
			r = lr_error_errno(err, -rr, "the CPUs of your container's cgroup");
	}
	if (r == 0 && cpus) {
		int rr = lr_cgroup_write_at(cg, "cpuset.cpus", cpus);
		if (rr < 0)
			r = lr_error_errno(err, -rr, "give your container's cgroup the CPUs %s",
					   cpus);
	}
	if (r == 0 && job->version == LR_CG_V1)
		r = copy_throttle(job, err);
	if (r == 0)
		r = nest_memory(job, reserve, err);
	if (job->version == LR_CG_V2)
		return r;
	for (size_t i = 0; i < job->n && r == 0; i++) {
		if (i == job->memory)
			continue; /* the keeper joins job-PID/c itself */
		_cleanup_close_ int dfd =
			openat(job->member[i], job->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		/* v1: the calling thread alone, through "tasks": the kernel then
		 * skips the global threadgroup lock, whose write side waits for
		 * an RCU grace period (measured: 13 ms for cgroup.procs, 0.04
		 * ms for tasks; kernel/cgroup/cgroup.c,
		 * cgroup_procs_write_start()).  labrun has one thread here. */
		int rr = dfd < 0 ? -errno
				 : lr_cgroup_write_at(
					   dfd, job->version == LR_CG_V1 ? "tasks" : "cgroup.procs",
					   "0");
		if (rr == -ENOENT || (rr == -EACCES && job->version == LR_CG_V2))
			r = lr_error_set(err, -rr,
					 "cannot move into your container's cgroup %s: your "
					 "session is not in your lab's cgroup (cgroup v2 moves "
					 "processes only within it); log in again, or ask an "
					 "admin to set up libcgroup's PAM module",
					 job->name);
		else if (rr < 0)
			r = lr_error_errno(err, -rr, "move into your container's cgroup %s",
					   job->name);
	}
	/* On failure the cleaner removes what was made, once we are gone. */
	return r;
}
