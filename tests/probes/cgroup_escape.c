/* cgroup_escape [remap] - the job cannot move itself out of its cgroups:
 * not into another cgroup's cgroup.procs or tasks (another lab's, another
 * member's, the host's root), not through a cgroup filesystem it mounts.
 *
 * Issue 12 item 11 (a member of two labs moved a running container into
 * LAB2's looser limits by writing its pid into LAB2/USER/tasks) and
 * invariant 9 (limits can only be narrowed by anything the user controls).
 * Every cgroup.procs and tasks file the job can see under /sys/fs/cgroup
 * (at most MAX_FILES, depth MAX_DEPTH) gets the job's own pid written into
 * it, except the cgroups the job is in already; then, in a new user, mount
 * and cgroup namespace of its own, the job mounts cgroup2 and each v1
 * hierarchy it was in and tries again.  Any write that is accepted moves
 * the job: ESCAPED, with the path.  A cgroup below the job's own is no
 * escape (narrower limits): the job may create and enter one (INFO) where
 * it was delegated one.
 */
#include "probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_DEPTH 8
#define MAX_FILES 4096

static int files_tried;
static char own[64][512]; /* "/sys/fs/cgroup/HIER" + path of each own cgroup */
static int n_own;

/* The cgroups the job is in, as paths relative to each hierarchy's root as
 * the job sees it (cgroup namespace). */
static void read_own(const char *base)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024];
	while (f && fgets(line, sizeof(line), f) && n_own < 64) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctl = c1 + 1, *path = c2 + 1;
		const char *dir = *ctl ? ctl : "unified";
		if (!strncmp(dir, "name=", 5))
			dir += 5;
		snprintf(own[n_own++], sizeof(own[0]), "%s/%s%s", base, dir,
			 strcmp(path, "/") ? path : "");
		/* cgroup2 alone: /sys/fs/cgroup itself */
		if (!*ctl && n_own < 64)
			snprintf(own[n_own++], sizeof(own[0]), "%s%s", base,
				 strcmp(path, "/") ? path : "");
	}
	if (f)
		fclose(f);
}

/* Whether dir is one of the job's own cgroups or below one of them. */
static bool below_own(const char *dir)
{
	for (int i = 0; i < n_own; i++) {
		size_t l = strlen(own[i]);
		if (!strncmp(dir, own[i], l) && (dir[l] == '\0' || dir[l] == '/'))
			return true;
	}
	return false;
}

static void try_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (access(path, F_OK) < 0)
		return;
	files_tried++;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		/* One line per refusal would be thousands: only successes and
		 * odd errors are printed. */
		if (errno != EACCES && errno != EROFS && errno != EPERM)
			info("open %s: %s", path, strerror(errno));
		return;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write(fd, pid, (size_t)n) == n)
		escaped("the job moved itself into %s", path);
	close(fd);
}

static void walk(const char *dir, int depth)
{
	if (depth > MAX_DEPTH || files_tried >= MAX_FILES)
		return;
	if (!below_own(dir)) {
		try_file(dir, "cgroup.procs");
		try_file(dir, "tasks");
	}
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && files_tried < MAX_FILES) {
		if (e->d_name[0] == '.' || e->d_type != DT_DIR)
			continue;
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%.3000s/%.255s", dir, e->d_name);
		walk(sub, depth + 1);
	}
	closedir(d);
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

/* A child mounts what it can on a tmpfs of its own, in a new mount
 * namespace (and a new user namespace unless the job is root of its own
 * already).  With newcg, in a new cgroup namespace too: that is allowed,
 * and its root is the cgroup the child is in, so all it shows is the job's
 * own subtree (INFO).  Without, the container's cgroup namespace is not
 * the job's to mount: any mount that works is walked for other cgroups. */
static void own_mounts(bool remap, bool newcg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		uid_t uid = getuid();
		gid_t gid = getgid();
		const char *where =
			newcg ? "new cgroup namespace" : "the container's cgroup namespace";
		int flags =
			CLONE_NEWNS | (newcg ? CLONE_NEWCGROUP : 0) | (remap ? 0 : CLONE_NEWUSER);
		if (unshare(flags) < 0) {
			ok("%s: unshare: %s", where, strerror(errno));
			fflush(stdout);
			_exit(probe_exit());
		}
		if (!remap) {
			char map[64];
			write_file("/proc/self/setgroups", "deny");
			snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
			write_file("/proc/self/uid_map", map);
			snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
			write_file("/proc/self/gid_map", map);
		}
		if (mount("none", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0) {
			broken("tmpfs on /tmp in a namespace of the job's own: %s",
			       strerror(errno));
			fflush(stdout);
			_exit(probe_exit());
		}
		mkdir("/tmp/cg", 0755);
		static const char *types[] = {"cgroup2", "cpu",	    "memory",  "pids", "devices",
					      "cpuset",	 "freezer", "cpuacct", "blkio"};
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			int v2 = !strcmp(types[i], "cgroup2");
			int r = mount(v2 ? "cgroup2" : "cgroup", "/tmp/cg",
				      v2 ? "cgroup2" : "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				      v2 ? NULL : types[i]);
			if (r < 0) {
				ok("%s: mount %s: %s", where, types[i], strerror(errno));
				continue;
			}
			if (newcg) {
				info("%s: mounted %s: its root is the job's own cgroup", where,
				     types[i]);
			} else {
				info("%s: mounted %s: walking it", where, types[i]);
				n_own = 0;
				read_own("/tmp/cg");
				/* read_own names hierarchies by directory; here the
				 * mount is the hierarchy itself. */
				for (int k = 0; k < n_own; k++) {
					char *slash = strchr(own[k] + strlen("/tmp/cg/"), '/');
					char rel[512];
					snprintf(rel, sizeof(rel), "/tmp/cg%s", slash ? slash : "");
					snprintf(own[k], sizeof(own[k]), "%s", rel);
				}
				walk("/tmp/cg", 0);
			}
			umount2("/tmp/cg", MNT_DETACH);
		}
		fflush(stdout);
		_exit(probe_exit());
	}
	int st;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
		probe_escaped++;
	else if (!WIFEXITED(st) || WEXITSTATUS(st) == 2)
		probe_broken++;
}

int main(int argc, char **argv)
{
	bool remap = argc > 1 && !strcmp(argv[1], "remap");
	read_own("/sys/fs/cgroup");
	struct stat st;
	if (stat("/sys/fs/cgroup", &st) == 0) {
		walk("/sys/fs/cgroup", 0);
		if (!probe_escaped)
			ok("/sys/fs/cgroup: none of %d cgroup.procs/tasks files took the job's pid",
			   files_tried);
	} else {
		ok("/sys/fs/cgroup is not there: %s", strerror(errno));
	}
	own_mounts(remap, false);
	own_mounts(remap, true);
	return probe_exit();
}
