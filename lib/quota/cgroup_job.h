/* cgroup_job.h - the container's own cgroup, inside the member's delegated
 * one (DESIGN.md §5): labrun/LAB/MEMBER/job-PID, in every hierarchy of
 * lr_cg_controllers().  The member's limits, and the lab's above them,
 * hold because the kernel applies a cgroup's limits to all below it; the
 * container's cgroup narrows them (its cores) and never widens them.
 *
 * Runs as the user, with no privilege: it only uses what
 * `labrun-policy apply` delegated to the member.  It does not go through
 * libcgroup, which spends ~10 ms a launch discovering and walking
 * hierarchies (measured: init 0.6 ms, create 1.6 ms, attach 9 ms) against
 * a budget of 2 ms for all the quota work of a launch.
 */
#ifndef LABRUN_CGROUP_JOB_H
#define LABRUN_CGROUP_JOB_H

#include <stdint.h>
#include <sys/types.h>

#include "cgplan.h"
#include "error.h"

#define LR_CGROUP_JOB_MAX_HIER 8

struct lr_cgroup_job {
	enum lr_cg_version version;
	size_t n;			    /* hierarchies */
	size_t cpuset;			    /* which of them is cpuset's */
	size_t blkio;			    /* and blkio's (v1) */
	size_t memory;			    /* and memory's */
	int member[LR_CGROUP_JOB_MAX_HIER]; /* the member's cgroup, per hierarchy */
	char path[192];			    /* "labrun/LAB/MEMBER", as in /proc/self/cgroup */
	char name[32];			    /* "job-PID" */
	char inner[40]; /* "job-PID/c": the container's processes, in memory's hierarchy */
	uint64_t container_limit; /* job-PID's memory limit, UINT64_MAX: the member's */
	int mem_tasks_fd;	  /* v1: inner's "tasks", for the keeper to join; else -1 */
	pid_t cleaner;		  /* removes the cgroup once it is empty */
	int cleaner_fd;		  /* our end: its EOF says we are gone */
	int into_fd;		  /* v2: the container's cgroup, for CLONE_INTO_CGROUP; else -1 */
};

/* The member's cgroup: "labrun/LAB/MEMBER" in each hierarchy, opened.
 * Errors name what the admin must do: the cgroup missing (-ENOENT), or not
 * delegated to the caller (-EACCES). */
int lr_cgroup_job_open(struct lr_cgroup_job *job, enum lr_cg_version v, const char *lab,
		       const char *member, struct lr_error *err);

/* The CPUs (a cpu list) the member's cgroup allows. */
int lr_cgroup_job_allowed_cpus(const struct lr_cgroup_job *job, char *buf, size_t len,
			       struct lr_error *err);

/* Make job-PID (PID: the caller's) in each hierarchy, with cpus as its CPUs
 * (NULL: the member's), and job-PID/c below it in memory's hierarchy (v2:
 * the one), for the container's processes.  v1: move the caller into
 * job-PID in every hierarchy but memory's; its children follow, and the
 * keeper joins job-PID/c through mem_tasks_fd.  v2: open job-PID/c as
 * into_fd, for the caller to start the container in it
 * (lr_container_spec's cgroup_fd): moving a process costs an RCU grace
 * period on v2 and nothing on v1 (see cgroup_job.c).
 * The caller, the layers' FUSE server, thus never shares the container's
 * memory cgroup.  When the caller is itself inside the member's memory
 * cgroup (its login cgroup, where libcgroup's PAM module puts sessions;
 * always on v2), job-PID's memory limit is the member's (or the lab's,
 * the least) less reserve, at most a quarter of it: what the caller may
 * need of the member's memory, so that the container's OOM kill happens
 * in job-PID, among its own processes, and memory the container leaves
 * charged for a moment after it dies (its tmpfs) cannot take the caller
 * with it.  The job cannot raise that limit: it sits one level above any
 * cgroup the job can reach through a cgroup namespace of its own.
 * Before that, start the cleaner: a process outside the container's cgroup,
 * in a session of its own, that waits for the caller and every process
 * that inherited the caller's descriptors to end (its pipe's EOF; so a
 * SIGKILL of labrun or of its keeper is covered), then removes job-PID as
 * soon as the kernel has emptied it.  Also removes the empty cgroups of
 * earlier containers whose labrun is gone (their cleaner was killed). */
int lr_cgroup_job_enter(struct lr_cgroup_job *job, const char *cpus, uint64_t reserve,
			struct lr_error *err);

/* What a member's cgroup holds now, for `labrun --quota`: memory in bytes
 * (v1 with swap: memory+swap), processes, CPU time in ns; each -1 when not
 * known (that hierarchy has no cgroup for the member). */
struct lr_cgroup_usage {
	long long memory, processes, cpu_ns;
};
int lr_cgroup_usage(enum lr_cg_version v, const char *lab, const char *member,
		    struct lr_cgroup_usage *out);

/* A cgroup file's content, without the trailing newline, or a value
 * written in one write(2) (the kernel takes one value per write); file is
 * relative to dfd, or a path with AT_FDCWD.  0 or a negative errno. */
int lr_cgroup_read_at(int dfd, const char *file, char *buf, size_t len);
int lr_cgroup_write_at(int dfd, const char *file, const char *value);

/* The memory side of the container's cgroup, for saying why a job died:
 * how many processes the kernel's OOM killer has killed in it so far
 * (lr_cgread_oom_kills()), and the least memory limit of the member's and
 * the lab's cgroups (v1: memory+swap when that is lower; UINT64_MAX when
 * none); the container's own is container_limit.  -ENOENT when there is
 * no such cgroup. */
int lr_cgroup_job_oom_kills(const struct lr_cgroup_job *job, uint64_t *kills);
int lr_cgroup_job_memory_limit(const struct lr_cgroup_job *job, uint64_t *limit);

/* Close what open and enter opened (the cleaner goes on alone). */
void lr_cgroup_job_close(struct lr_cgroup_job *job);

#endif
