/* cwd_escape - the job cannot walk out of its root through its working
 * directory: not by "..", not through PID 1's cwd or root, not through a
 * descriptor it inherited.
 *
 * Invariant 8 (notes/security.md).  runc CVE-2024-21626: a leaked host
 * directory fd and a working directory of /proc/self/fd/N started the job
 * outside its root; chroot-style escapes chdir("..") past a root that is
 * not a mount namespace's.  Here: ".." 64 times from the cwd and from "/"
 * must stay at "/" (same device and inode as "/"); /proc/1/cwd and
 * /proc/1/root, /proc/self/cwd and every open fd are tried with chdir or
 * fchdir, and wherever that lands getcwd must name a path inside the
 * root (the kernel prefixes "(unreachable)" otherwise).
 */
#include "probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#define UP_STEPS 64

static struct stat root_st;

static void check_here(const char *how)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		escaped("%s: cwd outside the root (getcwd: %s)", how, strerror(errno));
	else if (cwd[0] != '/')
		escaped("%s: cwd outside the root: %s", how, cwd);
	else
		ok("%s: cwd %s is inside the root", how, cwd);
}

static void climb(const char *from)
{
	if (chdir(from) < 0) {
		info("chdir %s: %s", from, strerror(errno));
		return;
	}
	for (int i = 0; i < UP_STEPS; i++)
		if (chdir("..") < 0)
			break;
	struct stat st;
	if (stat(".", &st) < 0)
		broken("stat . after climbing from %s: %s", from, strerror(errno));
	else if (st.st_dev != root_st.st_dev || st.st_ino != root_st.st_ino)
		escaped("%d times \"..\" from %s leads past / (dev %lu ino %lu)", UP_STEPS, from,
			(unsigned long)st.st_dev, (unsigned long)st.st_ino);
	else
		ok("%d times \"..\" from %s stops at /", UP_STEPS, from);
	/* The same with openat(.., O_PATH), which follows no cwd. */
	int fd = open(from, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; fd >= 0 && i < UP_STEPS; i++) {
		int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = up;
	}
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 &&
		    (st.st_dev != root_st.st_dev || st.st_ino != root_st.st_ino))
			escaped("openat \"..\" %d times from %s leads past /", UP_STEPS, from);
		else
			ok("openat \"..\" %d times from %s stops at /", UP_STEPS, from);
		close(fd);
	}
}

int main(void)
{
	if (stat("/", &root_st) < 0) {
		broken("stat /: %s", strerror(errno));
		return probe_exit();
	}
	char start[PATH_MAX];
	if (!getcwd(start, sizeof(start))) {
		escaped("the job starts outside its root (getcwd: %s)", strerror(errno));
		snprintf(start, sizeof(start), ".");
	} else {
		ok("the job starts in %s", start);
	}
	climb(start);
	climb("/");
	climb("/proc/self/cwd");
	static const char *links[] = {"/proc/1/cwd", "/proc/1/root", "/proc/self/root"};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (chdir(links[i]) < 0) {
			ok("chdir %s: %s", links[i], strerror(errno));
			continue;
		}
		char how[64];
		snprintf(how, sizeof(how), "chdir %s", links[i]);
		check_here(how);
		climb(".");
	}
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		broken("cannot list /proc/self/fd: %s", strerror(errno));
		return probe_exit();
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (e->d_name[0] == '.' || *end || fd == dirfd(d))
			continue;
		if (fchdir((int)fd) == 0) {
			char how[64];
			snprintf(how, sizeof(how), "fchdir through fd %ld", fd);
			check_here(how);
			climb(".");
		}
	}
	closedir(d);
	return probe_exit();
}
