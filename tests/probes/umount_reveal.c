/* umount_reveal [remap] - no mount labrun made can be taken away or made
 * writable: not in the job's namespace, not in a user+mount namespace the
 * job makes itself, not through the new mount API on a detached copy.
 *
 * Invariants 3 and 7 (notes/security.md).  Unmounting a bind would reveal
 * what is below it (the image's own file, or labrun's staging directory);
 * unmounting /proc or /dev/pts, the masks over them; remounting a
 * read-only bind read-write, or dropping nosuid/nodev, undoes what the
 * admin or user asked for.  The kernel refuses all of this for mounts made
 * in a more privileged user namespace (MNT_LOCKED, MNT_LOCK_READONLY,
 * ...), which is why labrun sets up in one namespace and runs the job in a
 * nested one (mount_try tries a few of these by name; this one sweeps
 * every mount of /proc/self/mountinfo).
 *
 * With "remap" the job is root in its own user namespace: the attempts in
 * the job's own namespace run in a child that first enters a new mount
 * namespace, so a success, which would be a hole, breaks nothing else.
 */
#include "probe.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

#define MAX_MOUNTS 256

struct mnt {
	char point[512];
	bool ro;
	unsigned long keep; /* its other per-mount flags, kept on remount */
};
static struct mnt mounts[MAX_MOUNTS];
static int n_mounts;

static void read_mounts(void)
{
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	if (!mi) {
		broken("cannot read /proc/self/mountinfo: %s", strerror(errno));
		return;
	}
	char line[8192];
	while (n_mounts < MAX_MOUNTS && fgets(line, sizeof(line), mi)) {
		char opts[1024];
		struct mnt *m = &mounts[n_mounts];
		if (sscanf(line, "%*d %*d %*s %*s %511s %1023s", m->point, opts) != 2)
			continue;
		m->ro = !strncmp(opts, "ro", 2) && (opts[2] == ',' || opts[2] == '\0');
		/* Keep every other locked flag as it is, so that a refusal is
		 * about read-only alone. */
		static const struct {
			const char *name;
			unsigned long flag;
		} kept[] = {{"nosuid", MS_NOSUID},     {"nodev", MS_NODEV},
			    {"noexec", MS_NOEXEC},     {"noatime", MS_NOATIME},
			    {"relatime", MS_RELATIME}, {"nodiratime", MS_NODIRATIME}};
		m->keep = 0;
		for (size_t k = 0; k < sizeof(kept) / sizeof(kept[0]); k++) {
			char word[32];
			snprintf(word, sizeof(word), ",%s,", kept[k].name);
			char all[1100];
			snprintf(all, sizeof(all), ",%s,", opts);
			if (strstr(all, word))
				m->keep |= kept[k].flag;
		}
		n_mounts++;
	}
	fclose(mi);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Every mount: remount read-write (read-only ones), then unmount.  The
 * root itself last. */
static void sweep(const char *where)
{
	for (int i = n_mounts - 1; i >= 0; i--) {
		struct mnt *m = &mounts[i];
		if (m->ro) {
			int r = mount(NULL, m->point, NULL, MS_REMOUNT | MS_BIND | m->keep, NULL);
			EXPECT_FAIL(r, "%s: remount read-only %.400s read-write", where, m->point);
		}
		int r = umount2(m->point, MNT_DETACH);
		EXPECT_FAIL(r, "%s: umount %.400s", where, m->point);
	}
}

/* The new mount API: a detached copy of each mount, then clear its
 * read-only, nosuid and nodev flags. */
static void sweep_new_api(const char *where)
{
	for (int i = 0; i < n_mounts; i++) {
		struct mnt *m = &mounts[i];
		int fd = (int)syscall(SYS_open_tree, AT_FDCWD, m->point,
				      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (fd < 0) {
			ok("%s: open_tree(CLONE) of %.400s: %s", where, m->point, strerror(errno));
			continue;
		}
		struct mount_attr a = {.attr_clr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
						   (m->ro ? MOUNT_ATTR_RDONLY : 0)};
		int r = (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof(a));
		EXPECT_FAIL(r, "%s: clear %snosuid,nodev on a clone of %.400s", where,
			    m->ro ? "ro," : "", m->point);
		close(fd);
	}
}

/* In a child: a new user+mount namespace (or, as root of its own user
 * namespace, a new mount namespace), then the sweep. */
static void in_child(const char *where, bool remap)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		broken("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		uid_t uid = getuid();
		gid_t gid = getgid();
		int flags = remap ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS;
		if (unshare(flags) < 0) {
			ok("%s: unshare: %s", where, strerror(errno));
			fflush(stdout);
			_exit(probe_exit());
		}
		if (!remap) {
			char map[64];
			snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
			write_file("/proc/self/setgroups", "deny");
			if (write_file("/proc/self/uid_map", map) < 0)
				info("%s: uid_map: %s", where, strerror(errno));
			snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
			write_file("/proc/self/gid_map", map);
		}
		sweep(where);
		sweep_new_api(where);
		fflush(stdout);
		_exit(probe_exit());
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st))
		broken("%s: the child died (status %d)", where, st);
	else if (WEXITSTATUS(st) == 1)
		probe_escaped++;
	else if (WEXITSTATUS(st) == 2)
		probe_broken++;
}

int main(int argc, char **argv)
{
	bool remap = argc > 1 && !strcmp(argv[1], "remap");
	read_mounts();
	if (!n_mounts)
		return probe_exit();
	info("%d mounts in the job's table", n_mounts);
	if (remap) {
		in_child("job's user namespace, new mount namespace", true);
		/* And a user namespace below the job's. */
		in_child("new user namespace", false);
	} else {
		/* No capability: nothing can change, try it in place. */
		sweep("job");
		sweep_new_api("job");
		in_child("new user namespace", false);
	}
	return probe_exit();
}
