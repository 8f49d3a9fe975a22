/* userns.c - user namespaces, id maps, capabilities (see userns.h).
 *
 * Runs as the invoking user.  Everything here is what unshare(1) -r could
 * do too: labrun never holds more than the kernel gives any user who
 * creates a user namespace (notes/security.md, "who attacks whom").
 *
 * setgroups is denied before gid_map is written: the kernel requires it for
 * an unprivileged gid map (user_namespaces(7)), and it also stops the job
 * from dropping supplementary groups that the host uses to deny access
 * (CVE-2014-8989).
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "userns.h"

static int write_file(const char *path, const char *text, struct lr_error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return lr_error_errno(err, errno, "open %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return lr_error_errno(err, errno, "write %s", path);
	return 0;
}

static int read_sysctl(const char *path, long *value)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	return fscanf(f, "%ld", value) == 1 ? 0 : -1;
}

/* unshare(CLONE_NEWUSER) failed: say which knob stops it. */
static int explain_userns_failure(int e, struct lr_error *err)
{
	long v;
	if (read_sysctl("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0 && v == 0)
		return lr_error_set(
			err, e,
			"cannot create a user namespace: unprivileged user namespaces are "
			"disabled (ask the admin to set sysctl "
			"kernel.unprivileged_userns_clone=1)");
	if (read_sysctl("/proc/sys/user/max_user_namespaces", &v) == 0 && v == 0)
		return lr_error_set(
			err, e,
			"cannot create a user namespace: sysctl user.max_user_namespaces is 0 "
			"(ask the admin to raise it)");
	if (read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &v) == 0 &&
	    v == 1)
		return lr_error_set(
			err, e,
			"cannot create a user namespace: AppArmor restricts unprivileged user "
			"namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=1)");
	if (e == ENOSPC)
		return lr_error_set(err, e,
				    "cannot create a user namespace: the per-user limit "
				    "(sysctl user.max_user_namespaces) is reached");
	if (e == EINVAL)
		return lr_error_set(err, e,
				    "cannot create a user namespace: the process is multi-threaded "
				    "(internal error)");
	return lr_error_errno(err, e,
			      "cannot create a user namespace (kernel needs CONFIG_USER_NS)");
}

static int write_maps(pid_t pid, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid,
		      gid_t outside_gid, struct lr_error *err)
{
	char path[64], map[64];
	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	int r = write_file(path, "deny", err);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)inside_uid, (unsigned)outside_uid);
	r = write_file(path, map, err);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)inside_gid, (unsigned)outside_gid);
	return write_file(path, map, err);
}

int lr_userns_enter(const struct lr_ns_request *req, struct lr_error *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER) < 0)
		return explain_userns_failure(errno, err);
	/* /proc/self still shows the host's view: the mount namespace is not
	 * ours yet, which is what lets us write our own maps through it. */
	int r = write_maps(getpid(), req->inside_uid, uid, req->inside_gid, gid, err);
	if (r < 0)
		return lr_error_prefix(err, "map uid %u to %u", (unsigned)uid,
				       (unsigned)req->inside_uid);
	/* CLONE_NEWPID applies to children only: the next fork, the keeper,
	 * becomes PID 1 of the container. */
	int flags = req->mount_only ? CLONE_NEWNS : CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID;
	if (req->net)
		flags |= CLONE_NEWNET;
	if (req->uts)
		flags |= CLONE_NEWUTS;
	if (req->cgroup)
		flags |= CLONE_NEWCGROUP;
	if (unshare(flags) < 0)
		return lr_error_errno(err, errno, "cannot create mount/ipc/pid%s%s%s namespaces",
				      req->net ? "/net" : "", req->uts ? "/uts" : "",
				      req->cgroup ? "/cgroup" : "");
	lr_debug(1, "user namespace: uid %u -> %u, gid %u -> %u", (unsigned)uid,
		 (unsigned)req->inside_uid, (unsigned)gid, (unsigned)req->inside_gid);
	return 0;
}

int lr_userns_nest(struct lr_error *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return lr_error_errno(err, errno, "cannot enter the job's user namespace");
	/* setgroups is already "deny" in the parent namespace and is inherited
	 * as such; writing it again is still required before gid_map. */
	return write_maps(getpid(), uid, uid, gid, gid, err);
}

const char *const lr_ns_names[LR_NS_COUNT] = {
	[LR_NS_USER] = "user", [LR_NS_CGROUP] = "cgroup", [LR_NS_IPC] = "ipc",
	[LR_NS_PID] = "pid",   [LR_NS_JOB_USER] = "user", [LR_NS_MNT] = "mnt",
};

int lr_userns_join(const int fds[LR_NS_COUNT], struct lr_error *err)
{
	static const int types[LR_NS_COUNT] = {
		[LR_NS_USER] = CLONE_NEWUSER,	  [LR_NS_CGROUP] = CLONE_NEWCGROUP,
		[LR_NS_IPC] = CLONE_NEWIPC,	  [LR_NS_PID] = CLONE_NEWPID,
		[LR_NS_JOB_USER] = CLONE_NEWUSER, [LR_NS_MNT] = CLONE_NEWNS,
	};
	for (int k = 0; k < LR_NS_COUNT; k++) {
		if (fds[k] < 0 && k == LR_NS_JOB_USER)
			continue;
		/* The type makes the kernel check the fd is what we expect. */
		if (setns(fds[k], types[k]) < 0)
			return lr_error_errno(err, errno, "join the container's %s namespace",
					      lr_ns_names[k]);
	}
	return 0;
}

int lr_userns_drop_caps(struct lr_error *err)
{
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return lr_error_errno(err, errno,
					      "drop capability %d from the bounding set", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return lr_error_errno(err, errno, "clear ambient capabilities");
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return lr_error_errno(err, errno, "drop capabilities");
	return 0;
}
