/* ptrace_host - the job cannot attach to, or look into, any process it can
 * see but did not start: above all pid 1, labrun's keeper.
 *
 * Proves invariant 8 (notes/security.md): the keeper is non-dumpable, so
 * its /proc/1/root, cwd, fd, environ and mem stay closed to the job and
 * PTRACE_ATTACH fails; a keeper open to the job would hand over its fds and
 * its view of the mounts.  runc CVE-2019-5736 (a container process reached
 * the runtime through /proc/PID/exe) is the lesson.  Only the container's
 * own processes are visible at all (pid namespace): signal_host checks that.
 */
#include "probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static void look_into(long pid)
{
	static const char *links[] = {"root", "cwd", "exe", "fd/0"};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		char path[64], target[PATH_MAX];
		snprintf(path, sizeof(path), "/proc/%ld/%s", pid, links[i]);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		EXPECT_FAIL((int)n, "readlink %s", path);
	}
	static const char *files[] = {"environ", "mem", "maps"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/%s", pid, files[i]);
		int fd = open(path, O_RDONLY);
		char c;
		/* maps opens for anyone and fails on read */
		int r = fd < 0 ? -1 : (int)read(fd, &c, 1);
		if (fd >= 0) {
			if (r < 0)
				r = -1;
			else if (r == 0)
				r = -1, errno = ENODATA; /* empty: nothing given away */
			close(fd);
		}
		EXPECT_FAIL(r, "read %s", path);
	}
}

int main(void)
{
	pid_t self = getpid();
	DIR *d = opendir("/proc");
	if (!d) {
		broken("cannot list /proc: %s", strerror(errno));
		return probe_exit();
	}
	int seen = 0, saw_init = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		seen++;
		if (pid == 1)
			saw_init = 1;
		char comm[64];
		probe_comm(pid, comm, sizeof(comm));
		if (kill((pid_t)pid, 0) == 0)
			info("pid %ld (%s) can be sent signals (same user)", pid, comm);
		if (ptrace(PTRACE_ATTACH, (pid_t)pid, NULL, NULL) == 0) {
			escaped("PTRACE_ATTACH to pid %ld (%s) succeeded", pid, comm);
			waitpid((pid_t)pid, NULL, __WALL);
			ptrace(PTRACE_DETACH, (pid_t)pid, NULL, NULL);
		} else {
			ok("PTRACE_ATTACH to pid %ld (%s): %s", pid, comm, strerror(errno));
		}
		look_into(pid);
	}
	closedir(d);
	if (!saw_init)
		broken("pid 1 (the keeper) is not visible; is the job in its own pid namespace?");
	info("%d other process(es) visible", seen);
	return probe_exit();
}
