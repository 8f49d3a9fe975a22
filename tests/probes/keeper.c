/* keeper [remap] - the job cannot take over PID 1, the keeper: no ptrace,
 * no pidfd_getfd of its descriptors, no reading of its memory, environment
 * or descriptor links.
 *
 * Issue 12 item 15: under `srun --container-remap-root` the job could
 * ptrace the keeper, read its environment and take its fds with
 * pidfd_getfd (the image file, the pipes to labrun-step, a pipe whose
 * other end is root's slurmstepd).  Invariant 8 (notes/security.md): the
 * keeper is non-dumpable and holds no fd the job could use.  Attacks, each
 * on PID 1 (ptrace_host tries PTRACE_ATTACH and the /proc links on every
 * other visible process):
 *   PTRACE_ATTACH, PTRACE_SEIZE     would give registers, memory and fds
 *   pidfd_open + pidfd_getfd 0..N   takes a copy of each fd (needs ptrace
 *                                   access too: PTRACE_MODE_ATTACH_REALCREDS)
 *   process_vm_readv                reads its memory (CMA)
 *   /proc/1/environ, mem, fd/, fdinfo/, the ns/ links, root, cwd
 *   /proc/1/oom_score_adj, oom_adj, comm, coredump_filter: the owner's to
 *                                   write while the keeper is dumpable
 * pidfd_open itself is allowed for any visible process (INFO): it grants
 * only waiting and signalling, which the pid namespace already bounds.
 */
#include "probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* fds 0..MAX_FD of PID 1 are tried with pidfd_getfd: the keeper holds few. */
#define MAX_FD 64

static void try_ptrace(long pid)
{
	if (ptrace(PTRACE_ATTACH, (pid_t)pid, NULL, NULL) == 0) {
		escaped("PTRACE_ATTACH to pid %ld succeeded", pid);
		waitpid((pid_t)pid, NULL, __WALL);
		ptrace(PTRACE_DETACH, (pid_t)pid, NULL, NULL);
	} else {
		ok("PTRACE_ATTACH to pid %ld: %s", pid, strerror(errno));
	}
	if (ptrace(PTRACE_SEIZE, (pid_t)pid, NULL, NULL) == 0) {
		escaped("PTRACE_SEIZE of pid %ld succeeded", pid);
		ptrace(PTRACE_DETACH, (pid_t)pid, NULL, NULL);
	} else {
		ok("PTRACE_SEIZE of pid %ld: %s", pid, strerror(errno));
	}
}

static void try_getfd(long pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0) {
		ok("pidfd_open of pid %ld: %s", pid, strerror(errno));
		return;
	}
	info("pidfd_open of pid %ld works (wait and signal only)", pid);
	int taken = 0, err = 0;
	for (int fd = 0; fd <= MAX_FD; fd++) {
		int got = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
		if (got >= 0) {
			char link[64], target[PATH_MAX] = "?";
			snprintf(link, sizeof(link), "/proc/self/fd/%d", got);
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			if (n >= 0)
				target[n] = '\0';
			escaped("pidfd_getfd took fd %d of pid %ld: %s", fd, pid, target);
			close(got);
			taken++;
		} else if (errno != EBADF) {
			err = errno;
		}
	}
	if (!taken)
		ok("pidfd_getfd of pid %ld's fds 0..%d: %s", pid, MAX_FD,
		   err ? strerror(err) : "none open");
	close(pidfd);
}

static void try_vm_read(long pid)
{
	/* Any address: permission is checked before the address. */
	char buf[16];
	struct iovec local = {buf, sizeof(buf)}, remote = {(void *)0x400000, sizeof(buf)};
	ssize_t n = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
	if (n < 0 && errno == EFAULT)
		escaped("process_vm_readv of pid %ld passed the permission check (EFAULT)", pid);
	else
		EXPECT_FAIL((int)n, "process_vm_readv of pid %ld", pid);
}

static void try_proc(long pid)
{
	static const char *files[] = {"environ", "mem", "auxv", "syscall", "stack"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[64], c;
		snprintf(path, sizeof(path), "/proc/%ld/%s", pid, files[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		int r = fd < 0 ? -1 : (int)read(fd, &c, 1);
		if (fd >= 0) {
			if (r == 0)
				r = -1, errno = ENODATA; /* empty: nothing given away */
			close(fd);
		}
		EXPECT_FAIL(r < 0 ? -1 : 0, "read %s", path);
	}
	static const char *dirs[] = {"fd", "fdinfo", "map_files"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/%s", pid, dirs[i]);
		DIR *d = opendir(path);
		if (!d) {
			ok("list %s: %s", path, strerror(errno));
			continue;
		}
		int n = 0;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char link[PATH_MAX], target[PATH_MAX] = "?";
			snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
			ssize_t l = readlink(link, target, sizeof(target) - 1);
			if (l >= 0) {
				target[l] = '\0';
				escaped("%s -> %s", link, target);
			}
			n++;
		}
		closedir(d);
		/* The names alone (fd numbers) tell how many fds the keeper
		 * holds, not what they are: the links are what would leak. */
		if (n)
			info("%s lists %d names (numbers only, no link readable)", path, n);
		else
			ok("%s lists nothing", path);
	}
	static const char *links[] = {"root", "cwd", "exe", "ns/mnt", "ns/user", "ns/pid"};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/%s", pid, links[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		EXPECT_FAIL(fd, "open %s", path);
		if (fd >= 0)
			close(fd);
	}
}

/* Files of /proc/PID guarded by ownership alone, not by ptrace access:
 * the owner may write them while the process is dumpable.  The keeper's
 * oom_score_adj was one (issue 12: the job wrote 0 there, filled
 * /dev/shm, and the OOM killer took labrun); rlimit_oom tries it too.
 * Each gets its own value back, so a write that works changes nothing. */
static void try_proc_write(long pid)
{
	static const char *files[] = {"oom_score_adj", "oom_adj", "comm", "coredump_filter"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[64], value[64] = "";
		snprintf(path, sizeof(path), "/proc/%ld/%s", pid, files[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, value, sizeof(value) - 1);
			value[n > 0 ? n : 0] = '\0';
			close(fd);
		}
		value[strcspn(value, "\n")] = '\0';
		fd = open(path, O_WRONLY | O_CLOEXEC);
		int r = -1;
		if (fd >= 0) {
			r = write(fd, value, strlen(value)) < 0 ? -1 : 0;
			int e = errno;
			close(fd);
			errno = e;
		}
		EXPECT_FAIL(r, "write %s (its own value, \"%s\")", path, value);
	}
}

int main(void)
{
	if (getpid() == 1) {
		broken("the probe is PID 1: no keeper to attack");
		return probe_exit();
	}
	char comm[64];
	probe_comm(1, comm, sizeof(comm));
	info("pid 1 is %s", comm);
	try_ptrace(1);
	try_getfd(1);
	try_vm_read(1);
	try_proc(1);
	try_proc_write(1);
	return probe_exit();
}
