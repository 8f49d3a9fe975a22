/* mount_try [remap] - the job cannot change the mounts labrun made, in its
 * own namespaces or in any it creates.
 *
 * Proves invariants 3 and 7 (notes/security.md).  Without --remap-root the
 * job holds no capability, so mount, umount and pivot_root fail with EPERM.
 * With --remap-root ("remap") the job is root in a user namespace of its
 * own, where mounting a tmpfs is allowed and harmless (INFO); but labrun's
 * mounts are locked (MNT_LOCK_*): /proc cannot be unmounted to uncover what
 * is under it, read-only and nosuid,nodev cannot be dropped.  Lesson: mounts
 * made in the job's own user namespace are not locked (verified with
 * unshare -Urm: a read-only bind became read-write); labrun enters a second
 * user namespace after setting up, as bubblewrap and Charliecloud do.
 *
 * Either way the job may create a further user+mount namespace (unshare(1)
 * could too); inside it the same locked operations are tried again.
 */
#include "probe.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Operations that must fail whoever the job is: labrun's mounts are locked. */
static void locked_ops(const char *where)
{
	int r = umount2("/proc", MNT_DETACH);
	EXPECT_FAIL(r, "%s: umount /proc", where);
	r = umount2("/dev", MNT_DETACH);
	EXPECT_FAIL(r, "%s: umount /dev", where);
	r = mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL);
	EXPECT_FAIL(r, "%s: remount / without nosuid,nodev", where);
	r = mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL);
	EXPECT_FAIL(r, "%s: remount /sys read-write", where);
	struct stat st;
	if (stat("/ro", &st) == 0) {
		r = mount(NULL, "/ro", NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL);
		EXPECT_FAIL(r, "%s: remount the read-only bind /ro read-write", where);
	}
}

/* Allowed for root in its own user namespace, an escape otherwise. */
static void own_ns_ops(const char *where, bool allowed)
{
	int r = mount("none", "/mnt", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m");
	if (r == 0 && allowed) {
		info("%s: tmpfs on /mnt (root in its own user namespace; stays inside)", where);
		umount2("/mnt", MNT_DETACH);
	} else {
		EXPECT_FAIL(r, "%s: mount tmpfs on /mnt", where);
		if (r == 0)
			umount2("/mnt", MNT_DETACH);
	}
	r = mount("proc", "/mnt", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (r == 0 && allowed) {
		info("%s: proc on /mnt (the job's own pid namespace)", where);
		umount2("/mnt", MNT_DETACH);
	} else {
		EXPECT_FAIL(r, "%s: mount proc on /mnt", where);
		if (r == 0)
			umount2("/mnt", MNT_DETACH);
	}
}

int main(int argc, char **argv)
{
	bool remap = argc > 1 && !strcmp(argv[1], "remap");

	own_ns_ops("job", remap);
	locked_ops("job");
	if (!remap) {
		if (chdir("/") == 0) {
			int r = (int)syscall(SYS_pivot_root, ".", ".");
			EXPECT_FAIL(r, "job: pivot_root");
		}
	}

	/* A user+mount namespace of the job's own. */
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		ok("new user+mount namespace refused: %s", strerror(errno));
		return probe_exit();
	}
	char map[64];
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) < 0) {
		broken("write uid_map in a new user namespace: %s", strerror(errno));
		return probe_exit();
	}
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		info("write gid_map in a new user namespace: %s", strerror(errno));
	own_ns_ops("new userns", true);
	locked_ops("new userns");
	return probe_exit();
}
