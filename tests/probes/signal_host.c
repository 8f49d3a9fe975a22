/* signal_host [HOSTPID] - the job sees only its own container's processes,
 * cannot kill the container's init, and cannot signal a host process.
 *
 * Proves DESIGN.md §7 ("a job cannot see other jobs' processes, signal
 * them") with a pid namespace: /proc lists a handful of pids (keeper, job);
 * SIGKILL to pid 1 from inside the namespace is dropped by the kernel, so
 * the keeper, and with it the job and this probe, survive; HOSTPID (the
 * host pid of a process the test started outside) is unknown inside, so
 * kill() fails with ESRCH, and the test checks the process still lives.
 */
#include "probe.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_VISIBLE 4 /* keeper, job, maybe a shell between them */

int main(int argc, char **argv)
{
	DIR *d = opendir("/proc");
	if (!d) {
		broken("cannot list /proc: %s", strerror(errno));
		return probe_exit();
	}
	int n = 0;
	char list[1024] = "";
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		n++;
		char comm[64];
		probe_comm(pid, comm, sizeof(comm));
		size_t l = strlen(list);
		snprintf(list + l, sizeof(list) - l, " %ld:%s", pid, comm);
	}
	closedir(d);
	if (n > MAX_VISIBLE)
		escaped("%d processes visible, more than the container's:%s", n, list);
	else
		ok("%d processes visible:%s", n, list);

	/* Signals from inside a pid namespace to its init are dropped unless
	 * it handles them; SIGKILL never reaches it. */
	kill(1, SIGKILL);
	usleep(200 * 1000);
	struct stat st;
	if (stat("/proc/1", &st) == 0)
		ok("pid 1 survived SIGKILL from the job");
	else
		escaped("pid 1 is gone after SIGKILL from the job");

	if (argc > 1) {
		long hostpid = strtol(argv[1], NULL, 10);
		if (hostpid > 64) {
			int r = kill((pid_t)hostpid, SIGKILL);
			EXPECT_FAIL(r, "kill host pid %ld", hostpid);
		} else {
			broken("host pid %ld is too small to tell apart from the container's",
			       hostpid);
		}
	}
	return probe_exit();
}
