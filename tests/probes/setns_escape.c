/* setns_escape - the job cannot enter a namespace outside its container:
 * not PID 1's (the keeper's, with labrun's user namespace), not one an fd
 * leaked into the job names, not an ancestor it reaches by walking up
 * with NS_GET_PARENT / NS_GET_USERNS (the host's initial namespaces).
 *
 * Invariants 3 and 8 (notes/security.md).  setns needs CAP_SYS_ADMIN in
 * the user namespace that owns the target: the job holds none outside its
 * own (nested, with --remap-root) user namespace, so every setns into a
 * namespace it is not already in must fail.  Getting an fd for an ancestor
 * namespace is allowed by the kernel (INFO: it names, it does not enter);
 * entering it is the escape.  Leaked fds are found by NS_GET_NSTYPE on
 * every open fd: fd_leak says there should be none.
 */
#include "probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Walk up at most this many levels: nesting is bounded by the kernel (32). */
#define MAX_DEPTH 40

static const char *type_name(int t)
{
	switch (t) {
	case CLONE_NEWUSER: return "user";
	case CLONE_NEWNS: return "mnt";
	case CLONE_NEWPID: return "pid";
	case CLONE_NEWNET: return "net";
	case CLONE_NEWIPC: return "ipc";
	case CLONE_NEWUTS: return "uts";
	case CLONE_NEWCGROUP: return "cgroup";
	case CLONE_NEWTIME: return "time";
	default: return "?";
	}
}

/* The inode of our own namespace of type t, 0 if unknown. */
static ino_t own_ns(int t)
{
	char path[64];
	const char *n = type_name(t);
	snprintf(path, sizeof(path), "/proc/self/ns/%s", n);
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Try to enter the namespace fd names; what says where it came from. */
static void try_enter(int fd, const char *what)
{
	int t = ioctl(fd, NS_GET_NSTYPE);
	struct stat st;
	if (t < 0 || fstat(fd, &st) < 0) {
		broken("%s: not a namespace fd: %s", what, strerror(errno));
		return;
	}
	int own = st.st_ino == own_ns(t);
	int r = setns(fd, t);
	if (r == 0 && own)
		info("setns into %s (%s ns %lu): already in it", what, type_name(t),
		     (unsigned long)st.st_ino);
	else if (r == 0)
		escaped("setns into %s (%s ns %lu, not the job's own) succeeded", what,
			type_name(t), (unsigned long)st.st_ino);
	else
		ok("setns into %s (%s ns %lu%s): %s", what, type_name(t), (unsigned long)st.st_ino,
		   own ? ", the job's own" : "", strerror(errno));
}

/* From fd, walk up with op (NS_GET_PARENT or NS_GET_USERNS) and try each. */
static void walk(int fd, unsigned long op, const char *start)
{
	int cur = dup(fd);
	for (int depth = 1; cur >= 0 && depth <= MAX_DEPTH; depth++) {
		int up = ioctl(cur, op);
		if (up < 0) {
			if (errno != EPERM && errno != ENOTTY && errno != EINVAL)
				info("%s: %s at level %d: %s", start,
				     op == NS_GET_PARENT ? "NS_GET_PARENT" : "NS_GET_USERNS", depth,
				     strerror(errno));
			break;
		}
		char what[160];
		snprintf(what, sizeof(what), "%s's %s #%d", start,
			 op == NS_GET_PARENT ? "parent" : "owner", depth);
		try_enter(up, what);
		close(cur);
		cur = up;
		if (op == NS_GET_USERNS)
			op = NS_GET_PARENT; /* from the owner on, go up the user tree */
	}
	if (cur >= 0)
		close(cur);
}

int main(void)
{
	static const char *types[] = {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/1/ns/%s", types[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ok("open %s: %s", path, strerror(errno));
		} else {
			try_enter(fd, path);
			close(fd);
		}
		snprintf(path, sizeof(path), "/proc/self/ns/%s", types[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			info("open %s: %s", path, strerror(errno));
			continue;
		}
		walk(fd, NS_GET_PARENT, path);
		walk(fd, NS_GET_USERNS, path);
		close(fd);
	}

	/* Namespace fds leaked into the job. */
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		broken("cannot list /proc/self/fd: %s", strerror(errno));
		return probe_exit();
	}
	int leaked = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (e->d_name[0] == '.' || *end || fd == dirfd(d))
			continue;
		if (ioctl((int)fd, NS_GET_NSTYPE) < 0)
			continue;
		char what[64];
		snprintf(what, sizeof(what), "leaked fd %ld", fd);
		escaped("%s names a namespace", what);
		try_enter((int)fd, what);
		leaked++;
	}
	closedir(d);
	if (!leaked)
		ok("no namespace fd is open in the job");
	return probe_exit();
}
