/* fd_leak - no descriptor of labrun, the keeper or the caller reaches the
 * job, and the job's cwd and root are inside the container.
 *
 * Proves invariant 8 (notes/security.md): runc CVE-2024-21626 leaked a host
 * directory fd into the container, and a working directory of
 * /proc/self/fd/N started the job outside its root; pyxis returned success
 * when close_range was missing.  Every fd >= 3 other than the one this
 * probe opens to list /proc/self/fd is a leak; each is also tried with
 * fchdir to show where it leads.
 */
#include "probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		broken("cannot list /proc/self/fd: %s", strerror(errno));
		return probe_exit();
	}
	int leaks[256], n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (e->d_name[0] == '.' || *end || fd <= 2 || fd == dirfd(d))
			continue;
		char link[64], target[PATH_MAX] = "?";
		snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len >= 0)
			target[len] = '\0';
		escaped("fd %ld is open in the job: %s", fd, target);
		if (n < 256)
			leaks[n++] = (int)fd;
	}
	closedir(d);
	if (!n)
		ok("no descriptor beyond 0 1 2");
	for (int i = 0; i < n; i++) {
		char cwd[PATH_MAX];
		if (fchdir(leaks[i]) == 0 && getcwd(cwd, sizeof(cwd)))
			escaped("fchdir through fd %d reaches %s", leaks[i], cwd);
	}

	/* A cwd outside the root reads as "(unreachable)/..." from the
	 * kernel; glibc turns it into ENOENT. */
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		escaped("cwd is outside the root: getcwd: %s", strerror(errno));
	else if (!strncmp(cwd, "(unreachable)", 13))
		escaped("cwd is outside the root: %s", cwd);
	else
		ok("cwd %s is inside the root", cwd);

	char root[PATH_MAX];
	ssize_t len = readlink("/proc/self/root", root, sizeof(root) - 1);
	if (len < 0)
		broken("readlink /proc/self/root: %s", strerror(errno));
	else if (root[len] = '\0', strcmp(root, "/"))
		escaped("root is %s, not /", root);
	else
		ok("root is /");

	struct stat a, b;
	if (stat("/", &a) == 0 && stat("/..", &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		ok("/.. is /");
	else
		escaped("/.. leads out of the root");
	return probe_exit();
}
