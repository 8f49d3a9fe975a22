/* kernel_write - the job cannot change the host kernel's settings through
 * /proc/sys, /proc/sysrq-trigger or /sys, nor read the kernel's memory.
 *
 * Invariant 3 (notes/security.md: no more privilege inside than outside).
 * These files belong to the host's root (uid 0 of the initial user
 * namespace): the job, even as root of its own user namespace with
 * --remap-root, is not their owner and has no capability over them, and
 * /sys is mounted read-only.  Each is opened for writing and written with
 * a value that would do harm if it got through... but the values chosen
 * are the harmless ones where possible (an unchanged value is read first
 * and written back), so that a hole shows without breaking the host.
 * kernel.hostname and domainname are per UTS namespace: with --hostname
 * labrun gives the job its own, and root of a nested user namespace may
 * then change it (INFO); without one, changing it is an escape.
 */
#include "probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write back what path holds (or fallback): a write that would change
 * nothing, so that a hole is shown without harm. */
static void try_rewrite(const char *path, const char *fallback)
{
	char cur[256] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, cur, sizeof(cur) - 1);
		cur[n > 0 ? n : 0] = '\0';
		close(fd);
	} else if (errno == ENOENT) {
		info("%s does not exist here", path);
		return;
	}
	const char *val = cur[0] ? cur : fallback;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ok("open %s for writing: %s", path, strerror(errno));
		return;
	}
	ssize_t w = write(fd, val, strlen(val));
	int e = errno;
	close(fd);
	errno = e;
	EXPECT_FAIL((int)w, "write %s", path);
}

/* A sysctl the kernel keeps per namespace: root of the job's own user
 * namespace may set it for its own namespaces (INFO).  One less than now
 * is written, so that the test sees from outside whether the host's value
 * moved (tests/launcher/attack.bash, attack_host_state). */
static void try_namespaced(const char *path, const char *why)
{
	long cur = -1;
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &cur) != 1)
			cur = -1;
		fclose(f);
	}
	if (cur <= 1) {
		info("%s cannot be read here", path);
		return;
	}
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ok("open %s for writing: %s", path, strerror(errno));
		return;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld", cur - 1);
	ssize_t w = write(fd, buf, (size_t)n);
	int e = errno;
	close(fd);
	if (w == n)
		info("%s set to %ld in the job's own namespace (%s): the test checks the host's",
		     path, cur - 1, why);
	else
		ok("write %s: %s", path, strerror(e));
}

/* A file whose mere opening for writing is the hole. */
static void try_open_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		info("%s does not exist here", path);
		return;
	}
	EXPECT_FAIL(fd, "open %s for writing", path);
	if (fd >= 0)
		close(fd);
}

static void try_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char c;
	int r = fd < 0 ? -1 : (int)read(fd, &c, 1);
	if (fd < 0 && errno == ENOENT) {
		info("%s does not exist here", path);
		return;
	}
	if (fd >= 0)
		close(fd);
	EXPECT_FAIL(r, "read %s", path);
}

static int own_uts(void)
{
	struct stat a, b;
	return stat("/proc/self/ns/uts", &a) == 0 && stat("/proc/1/ns/uts", &b) == 0 &&
	       a.st_ino == b.st_ino; /* the container's; whether it is the host's is unknown */
}

int main(void)
{
	try_rewrite("/proc/sys/kernel/core_pattern", "core");
	try_rewrite("/proc/sys/kernel/modprobe", "/sbin/modprobe");
	try_rewrite("/proc/sys/kernel/panic", "0");
	try_rewrite("/proc/sys/vm/overcommit_memory", "0");
	try_rewrite("/proc/sys/fs/protected_symlinks", "1");
	try_rewrite("/proc/sys/kernel/ns_last_pid", "1");
	try_namespaced("/proc/sys/kernel/pid_max", "per pid namespace since Linux 6.14");
	try_namespaced("/proc/sys/user/max_user_namespaces", "per user namespace");
	try_open_write("/proc/sysrq-trigger");
	try_open_write("/proc/sys/vm/drop_caches");
	try_open_write("/proc/sys/fs/binfmt_misc/register");
	try_rewrite("/sys/kernel/uevent_helper", "");
	try_rewrite("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	try_rewrite("/sys/module/fuse/parameters/max_user_bgreq", "1");
	try_open_write("/sys/power/state");
	try_open_write("/sys/kernel/notes");
	try_read("/proc/kcore");
	try_read("/proc/kmsg");
	try_read("/dev/mem");
	try_read("/dev/kmsg");
	/* UTS: the write is the job's own business only in its own namespace. */
	char cur[256] = "";
	int fd = open("/proc/sys/kernel/hostname", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, cur, sizeof(cur) - 1);
		cur[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ok("open /proc/sys/kernel/hostname for writing: %s", strerror(errno));
	} else {
		ssize_t w = write(fd, cur, strlen(cur));
		close(fd);
		if (w >= 0)
			info("kernel.hostname written back: %s UTS namespace%s", "the job's",
			     own_uts() ? " (shared with the keeper)" : "");
		else
			ok("write /proc/sys/kernel/hostname: %s", strerror(errno));
	}
	return probe_exit();
}
