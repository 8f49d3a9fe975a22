/* quota.h - per-user disk quotas through the kernel's quota interface
 * (quotactl_fd(2)): the policy key "storage = PATH SIZE" (labrun-policy
 * apply) and the usage `labrun --quota` shows.
 *
 * lr_quota_set() needs root (CAP_SYS_ADMIN).  lr_quota_get() runs as any
 * user for that user's own uid, and as root for any uid.
 *
 * A quota is the kernel's, per filesystem: it holds on the whole filesystem
 * that PATH is on, not on PATH's subtree.  Which filesystems have one: ext4
 * made with -O quota (or with quota files and quotaon) and mounted with
 * usrquota, XFS mounted with usrquota, tmpfs on Linux 6.6+ mounted with
 * usrquota.  Sizes are bytes; the kernel keeps them in 1 KiB blocks.
 */
#ifndef LABRUN_QUOTA_H
#define LABRUN_QUOTA_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* The largest limit: the kernel keeps a limit as a signed 64-bit count of
 * bytes (qsize_t), and 1 KiB blocks shifted into bytes must fit there. */
#define LR_QUOTA_MAX_BYTES ((UINT64_C(1) << 63) - 1024)

struct lr_quota_usage {
	uint64_t used;	/* bytes the user's files take on the filesystem */
	uint64_t limit; /* bytes; 0 = no limit (none set, or not enforced) */
};

/* Set uid's block hard and soft limit on the filesystem holding path to
 * bytes, rounded up to 1 KiB (0 = remove the limit).  Refused, with a
 * message saying what to do, when the filesystem does not enforce user
 * quotas.  Needs root. */
int lr_quota_set(const char *path, uid_t uid, uint64_t bytes, struct lr_error *err);

/* uid's usage and limit on the filesystem holding path.  *out is set only
 * on success. */
int lr_quota_get(const char *path, uid_t uid, struct lr_quota_usage *out, struct lr_error *err);

#endif
