/* holder_path.c - where a user's layer holders listen and who is at the
 * other end (holder_path.h).
 *
 * Runs as the user, with no privilege.  The directory is the user's alone,
 * checked on an open fd, and the socket is reached through that fd
 * (/proc/self/fd/N/NAME): a directory swapped after the check is not
 * followed.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "holder_path.h"

/* A directory for the holder's socket that is the caller's alone. */
static int check_private(int fd, const char *path, struct lr_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lr_error_errno(err, errno, "holder directory %s", path);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return lr_error_set(err, EPERM,
				    "holder directory %s is not yours alone (owner uid %u, mode "
				    "%04o): not used",
				    path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* The user's runtime directory (/run/user/UID, made by logind for a login
 * session) when it is the user's, else /tmp/labrun-UID.  Node-local both:
 * a holder serves its node. */
int lr_holder_dir_open(struct lr_error *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/run/user/%u", (unsigned)geteuid());
	_cleanup_close_ int run = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int fd;
	if (run >= 0 && fstat(run, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & 022)) {
		if (mkdirat(run, "labrun", 0700) < 0 && errno != EEXIST)
			return lr_error_errno(err, errno, "holder directory %s/labrun", path);
		fd = openat(run, "labrun", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		strcat(path, "/labrun");
	} else {
		snprintf(path, sizeof(path), "/tmp/labrun-%u", (unsigned)geteuid());
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return lr_error_errno(err, errno, "holder directory %s", path);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return lr_error_errno(err, errno, "holder directory %s", path);
	int r = check_private(fd, path, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

void lr_holder_sock_name(char *buf, size_t len, uint32_t job, bool remap_root)
{
	if (job)
		snprintf(buf, len, "job-%u%s.sock", (unsigned)job, remap_root ? "-root" : "");
	else
		snprintf(buf, len, "holder%s.sock", remap_root ? "-root" : "");
}

void lr_holder_sock_addr(struct sockaddr_un *a, int dir, uint32_t job, bool remap_root)
{
	char name[48];
	lr_holder_sock_name(name, sizeof(name), job, remap_root);
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s", dir, name);
}

bool lr_holder_peer_is(int s, uid_t uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	return getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == uid;
}

int lr_holder_connect(int dir, uint32_t job, bool remap_root)
{
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct sockaddr_un a;
	lr_holder_sock_addr(&a, dir, job, remap_root);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(s);
		return -e;
	}
	if (!lr_holder_peer_is(s, geteuid())) {
		close(s);
		return -EPERM;
	}
	return s;
}

socklen_t lr_holder_probe_addr(struct sockaddr_un *a, uid_t uid, uint32_t job, bool remap_root)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* sun_path[0] = 0: the abstract namespace, no file. */
	int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "labrun-holder-%u-job-%u%s",
			 (unsigned)uid, (unsigned)job, remap_root ? "-root" : "");
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

bool lr_holder_job_answers(uid_t uid, uint32_t job, bool remap_root)
{
	if (!job)
		return false;
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return false;
	struct sockaddr_un a;
	socklen_t len = lr_holder_probe_addr(&a, uid, job, remap_root);
	bool yes = connect(s, (struct sockaddr *)&a, len) == 0 && lr_holder_peer_is(s, uid);
	close(s);
	return yes;
}
