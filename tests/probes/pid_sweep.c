/* pid_sweep [victim=PID] - the job cannot reach a process outside its pid
 * namespace: not by guessing pids, not by pidfd, not by broadcast, not by
 * the calls that take a user instead of a pid.
 *
 * DESIGN.md §7 ("a job cannot see other jobs' processes, signal them").
 * signal_host tries one host pid; this sweeps them all: kill(pid, 0) for
 * every pid up to kernel.pid_max (at most SWEEP_MAX) must answer only for
 * the pids /proc lists; kill(-1, 0) and a broadcast of SIGURG (ignored by
 * default, harmless) may reach only those too.  victim=PID is a host
 * process the test started as the same user: kill and pidfd_open on it
 * must fail with ESRCH, and setpriority / ioprio_set for the whole user
 * (PRIO_USER, IOPRIO_WHO_USER), which the kernel applies to every process
 * of that uid, must leave it alone (the test checks its nice value and I/O
 * priority from outside after the run).
 */
#include "probe.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#define SWEEP_MAX (1L << 22)
#define IOPRIO_WHO_USER 3
#define IOPRIO_PRIO_VALUE(class, data) (((class) << 13) | (data))
#define IOPRIO_CLASS_IDLE 3

static int visible(long pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld", pid);
	return access(path, F_OK) == 0;
}

int main(int argc, char **argv)
{
	long victim = 0;
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "victim=", 7))
			victim = strtol(argv[i] + 7, NULL, 10);

	long max = SWEEP_MAX;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1 || max > SWEEP_MAX)
			max = SWEEP_MAX;
		fclose(f);
	}
	int answered = 0, hidden = 0;
	char list[512] = "";
	for (long pid = 1; pid <= max; pid++) {
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			continue;
		answered++;
		if (!visible(pid)) {
			hidden++;
			size_t l = strlen(list);
			snprintf(list + l, sizeof(list) - l, " %ld", pid);
		}
	}
	if (hidden)
		escaped("%d pid(s) answer kill(pid, 0) but are not in /proc:%s", hidden, list);
	else
		ok("pids 1..%ld: %d answer kill(pid, 0), all of them the container's", max,
		   answered);

	/* Broadcast: reaches only what the job may signal in its namespace. */
	signal(SIGURG, SIG_IGN);
	if (kill(-1, SIGURG) == 0)
		info("kill(-1, SIGURG) reached the container's own processes");
	else
		ok("kill(-1, SIGURG): %s", strerror(errno));

	if (victim > 0) {
		int r = kill((pid_t)victim, SIGKILL);
		EXPECT_FAIL(r, "kill host pid %ld", victim);
		int fd = (int)syscall(SYS_pidfd_open, (pid_t)victim, 0);
		EXPECT_FAIL(fd, "pidfd_open host pid %ld", victim);
		if (fd >= 0)
			close(fd);
	} else {
		info("no victim= given: host pids tried by the sweep only");
	}
	/* Per-user calls: the kernel skips tasks not in the caller's pid
	 * namespace; the test checks the victim's values from outside. */
	if (setpriority(PRIO_USER, getuid(), 19) == 0)
		info("setpriority(PRIO_USER, nice 19) done: the test checks the host victim");
	else
		ok("setpriority(PRIO_USER): %s", strerror(errno));
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_USER, getuid(),
		    IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) == 0)
		info("ioprio_set(IOPRIO_WHO_USER, idle) done: the test checks the host victim");
	else
		ok("ioprio_set(IOPRIO_WHO_USER): %s", strerror(errno));
	return probe_exit();
}
