/* trust.c - is an admin's file the admin's? (trust.h)
 *
 * The walk opens each component with O_PATH | O_NOFOLLOW from the
 * directory fd before it, so what is checked is what the next step opens
 * from, and nothing is looked up by path twice.  Each directory is checked
 * as it is reached (owner, then mode); a symbolic link is read from its own
 * fd and its target walked the same way, from "/" or from the link's
 * directory.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "trust.h"

/* Is the caller in the host's user namespace?  The initial namespace maps
 * every id to itself.  When the map cannot be read (no /proc, out of
 * descriptors) the answer is yes, the one that trusts less. */
static bool in_initial_userns(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/uid_map", "re");
	unsigned long inside, outside, count;
	if (!f || fscanf(f, "%lu %lu %lu", &inside, &outside, &count) != 3)
		return true;
	return inside == 0 && outside == 0 && count == 4294967295UL;
}

/* The uid that ids with no mapping in the caller's user namespace show as
 * (/proc/sys/kernel/overflowuid, 65534 unless changed). */
static uid_t overflow_uid(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/overflowuid", "re");
	unsigned long u;
	return f && fscanf(f, "%lu", &u) == 1 ? (uid_t)u : 65534;
}

/* Root, the caller, and, in a user namespace of the caller's own (`unshare
 * -r`, a rootless container), the overflow uid: there the host's root owns
 * "/" and /etc but shows as the overflow uid, and labrun cannot tell it
 * from other unmapped users.  Such a caller is no more privileged than
 * outside, so what it reads can give it nothing it does not have; the mode
 * rule (nobody but the owner may write) still holds.  In the host's own
 * namespace the overflow uid is a real user (nobody) and never trusted. */
static bool trusted_owner(uid_t uid, uid_t self)
{
	return uid == 0 || uid == self || (uid == overflow_uid() && !in_initial_userns());
}

/* st (of shown) as the rule wants it, or -EPERM saying why not.  above:
 * a directory above the one asked for, which may be sticky (trust.h). */
static int check(const struct stat *st, const char *shown, uid_t self, bool above,
		 struct lr_error *err)
{
	if (!trusted_owner(st->st_uid, self)) {
		struct passwd *pw = getpwuid(st->st_uid);
		return lr_error_set(err, EPERM, "%s: owned by %s (uid %u), not by root%s", shown,
				    pw ? pw->pw_name : "an unknown user", (unsigned)st->st_uid,
				    self ? " or you" : "");
	}
	if (S_ISLNK(st->st_mode))
		return 0; /* a link's own mode means nothing */
	bool sticky = above && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);
	unsigned mode = (unsigned)(st->st_mode & 07777);
	if ((st->st_mode & S_IWOTH) && !sticky)
		return lr_error_set(err, EPERM, "%s: anyone can write it (mode %04o)", shown, mode);
	if ((st->st_mode & S_IWGRP) && !sticky) {
		struct group *gr = getgrgid(st->st_gid);
		char gid[16];
		snprintf(gid, sizeof(gid), "%u", (unsigned)st->st_gid);
		return lr_error_set(err, EPERM, "%s: its group %s can write it (mode %04o)", shown,
				    gr ? gr->gr_name : gid, mode);
	}
	return 0;
}

/* shown += "/name", or "..": one component off. */
static void shown_push(char *shown, size_t size, const char *name, size_t len)
{
	size_t n = strlen(shown);
	if (len == 2 && !strncmp(name, "..", 2)) {
		char *slash = strrchr(shown, '/');
		if (slash)
			*slash = '\0';
		return;
	}
	snprintf(shown + n, size - n, "/%.*s", (int)len, name);
}

/* The fd (O_PATH) of path's last component, every component checked;
 * *st its metadata.  shown: the path walked, for messages. */
static int walk(const char *path, uid_t self, struct stat *st, char *shown, size_t shown_size,
		struct lr_error *err)
{
	char todo[2 * LR_TRUST_MAX_PATH], next_todo[2 * LR_TRUST_MAX_PATH];
	if (path[0] == '/') {
		if (snprintf(todo, sizeof(todo), "%s", path) >= (int)sizeof(todo))
			return lr_error_set(err, ENAMETOOLONG, "%s: path too long", path);
	} else {
		char cwd[LR_TRUST_MAX_PATH];
		if (!getcwd(cwd, sizeof(cwd)))
			return lr_error_errno(err, errno, "%s: the current directory", path);
		if (snprintf(todo, sizeof(todo), "%s/%s", cwd, path) >= (int)sizeof(todo))
			return lr_error_set(err, ENAMETOOLONG, "%s: path too long", path);
	}
	shown[0] = '\0';
	_cleanup_close_ int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0 || fstat(cur, st) < 0)
		return lr_error_errno(err, errno, "/");
	int r = check(st, "/", self, true, err);
	if (r < 0)
		return r;
	unsigned links = 0;
	const char *p = todo;
	while (*p) {
		const char *name = p;
		size_t len = strcspn(p, "/");
		p += len;
		p += strspn(p, "/");
		if (len == 0 || (len == 1 && name[0] == '.'))
			continue;
		if (len > NAME_MAX)
			return lr_error_set(err, ENAMETOOLONG, "%s/%.*s: name too long", shown,
					    (int)len, name);
		char one[NAME_MAX + 1];
		memcpy(one, name, len);
		one[len] = '\0';
		bool last = *p == '\0';
		size_t before = strlen(shown);
		shown_push(shown, shown_size, name, len);
		_cleanup_close_ int next = openat(cur, one, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 || fstat(next, st) < 0)
			return lr_error_errno(err, errno, "%s", shown[0] ? shown : "/");
		if (S_ISLNK(st->st_mode)) {
			if (++links > LR_TRUST_MAX_LINKS)
				return lr_error_errno(err, ELOOP, "%s", shown);
			if ((r = check(st, shown, self, true, err)) < 0)
				return lr_error_prefix(err, "a symbolic link");
			char target[LR_TRUST_MAX_PATH];
			ssize_t n = readlinkat(next, "", target, sizeof(target) - 1);
			if (n < 0)
				return lr_error_errno(err, errno, "%s", shown);
			target[n] = '\0';
			if (snprintf(next_todo, sizeof(next_todo), "%s/%s", target, p) >=
			    (int)sizeof(next_todo))
				return lr_error_set(err, ENAMETOOLONG, "%s: path too long", shown);
			memcpy(todo, next_todo, sizeof(todo));
			p = todo;
			shown[before] = '\0';
			if (target[0] == '/') {
				/* From "/" again, checked at the start. */
				close(cur);
				cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (cur < 0)
					return lr_error_errno(err, errno, "/");
				shown[0] = '\0';
			}
			continue;
		}
		if (!S_ISDIR(st->st_mode) && !last)
			return lr_error_errno(err, ENOTDIR, "%s", shown);
		if ((r = check(st, shown, self, !last, err)) < 0)
			return r;
		close(cur);
		cur = take_fd(&next);
	}
	if (!shown[0])
		snprintf(shown, shown_size, "/");
	return take_fd(&cur);
}

int lr_trust_open_dir(const char *path, uid_t self, struct lr_error *err)
{
	char shown[2 * LR_TRUST_MAX_PATH];
	struct stat st;
	_cleanup_close_ int fd = walk(path, self, &st, shown, sizeof(shown), err);
	if (fd < 0)
		return fd;
	if (!S_ISDIR(st.st_mode))
		return lr_error_errno(err, ENOTDIR, "%s", path);
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return lr_error_errno(err, errno, "%s", path);
	return dfd;
}

int lr_trust_openat_file(int dirfd, const char *dir, const char *name, uid_t self,
			 struct lr_error *err)
{
	char shown[2 * LR_TRUST_MAX_PATH];
	if (dir)
		snprintf(shown, sizeof(shown), "%s/%s", dir, name);
	else
		snprintf(shown, sizeof(shown), "%s", name);
	_cleanup_close_ int fd =
		openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return lr_error_errno(err, errno, "%s", shown);
	if (!S_ISREG(st.st_mode))
		return lr_error_set(err, EINVAL, "%s: not a regular file", shown);
	int r = check(&st, shown, self, false, err);
	return r < 0 ? r : take_fd(&fd);
}

int lr_trust_open_file(const char *path, uid_t self, struct lr_error *err)
{
	char dir[LR_TRUST_MAX_PATH];
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (!*name)
		return lr_error_set(err, EISDIR, "%s: a directory, not a file", path);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >= (int)sizeof(dir))
		return lr_error_set(err, ENAMETOOLONG, "%s: path too long", path);
	_cleanup_close_ int dfd = lr_trust_open_dir(dir, self, err);
	if (dfd < 0)
		return dfd;
	return lr_trust_openat_file(dfd, !slash ? NULL : slash == path ? "" : dir, name, self, err);
}
