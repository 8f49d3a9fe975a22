/* trust.h - is an admin's file the admin's?  (notes/security.md, invariant
 * 2: trusted are admin files that are root-owned and not group- or
 * other-writable along the whole path.)
 *
 * Runs with any privilege; reads metadata only.
 *
 * A lab file that a user can write lets that user raise their own limits
 * at the next `labrun-policy apply`; so can a directory above it that the
 * user can write (they rename the lab's directory away and put their own
 * in its place).  So every directory from "/" down, and the file itself,
 * must be owned by a trusted user and writable by its owner alone.  The
 * check is made on open file descriptors, one path component at a time
 * from "/" with O_NOFOLLOW, and the descriptor that passed is the one read
 * after: a path checked with stat() could be swapped before the open.
 *
 * Trusted users: root, and the caller itself when it is not root (pass
 * geteuid() as `self`): nobody else can change the caller's own files, so
 * `labrun-policy check` on a draft in an admin's home directory, and the
 * tests' lab files in a temporary directory, are as good as the caller's
 * word.  As root, only root's files are trusted.
 *
 * In a user namespace of the caller's own (`unshare -r`, a rootless
 * container) the host's root shows as the overflow uid, which is then
 * trusted too: such a caller is no more privileged than outside, and
 * cannot tell root from other unmapped users (trust.c).
 *
 * Two relaxations, each safe for its reason:
 *  - a directory above (not the file's own) may be writable by others when
 *    it is sticky and owned by a trusted user, as /tmp is: in a sticky
 *    directory no one but an entry's owner (or the directory's) can rename
 *    or remove the entry (unlink(2), EPERM), and the entry below is
 *    checked in turn, so nobody can swap it;
 *  - a symbolic link on the way is followed when it is owned by a trusted
 *    user (its directory, checked already, says where it sits); the
 *    directories it leads to are checked like the others.
 */
#ifndef LABRUN_TRUST_H
#define LABRUN_TRUST_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

#define LR_TRUST_MAX_LINKS 40  /* symbolic links followed in one path (the kernel's 40) */
#define LR_TRUST_MAX_PATH 4096 /* PATH_MAX */

/* Open the directory path (O_RDONLY | O_DIRECTORY) after checking it and
 * every directory above it.  Returns the fd, or -errno: -EPERM for a
 * directory others could change, with a message naming it and its owner
 * or mode ("/srv/labs: anyone can write it (mode 0777)"), else the open's
 * errno ("PATH: No such file or directory"). */
int lr_trust_open_dir(const char *path, uid_t self, struct lr_error *err);

/* Open name in the directory dirfd (opened by lr_trust_open_dir(), named
 * dir in messages, NULL: name alone) for reading: O_NOFOLLOW, and O_NONBLOCK so that a FIFO
 * does not block the open; then check that it is a regular file, owned by
 * a trusted user and writable by its owner alone.  Returns the fd or
 * -errno (-EPERM as above, -EINVAL "not a regular file", -ELOOP a
 * symbolic link). */
int lr_trust_openat_file(int dirfd, const char *dir, const char *name, uid_t self,
			 struct lr_error *err);

/* Both: the file at path, its directory and every one above. */
int lr_trust_open_file(const char *path, uid_t self, struct lr_error *err);

#endif
