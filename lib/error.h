/* error.h - the error struct every lib function may fill on its way up.
 *
 * Runs with any privilege; allocates nothing.
 *
 * A lib function returns 0 (or a count) on success and a negative errno on
 * failure, and may describe the failure in a struct lr_error.  Callers add
 * context on the way up with lr_error_prefix(), so that the launcher prints
 * one line such as
 *   "mount layer 2 (sha256-ab12...): squashfs superblock: bad magic"
 * without any lower layer knowing where it was called from.
 */
#ifndef LABRUN_ERROR_H
#define LABRUN_ERROR_H

#include <stddef.h>

#define LR_ERROR_MSG_MAX 1024

struct lr_error {
	int code;		    /* positive errno, 0 when unset */
	char msg[LR_ERROR_MSG_MAX]; /* one line, no trailing newline */
};

/* Record a failure and return -code, so that callers can write
 *   return lr_error_set(err, EINVAL, "bad thing %s", x);
 * err may be NULL.  An existing message is replaced. */
int lr_error_set(struct lr_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like lr_error_set(), appending ": strerror(code)". */
int lr_error_errno(struct lr_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Put "context: " in front of the message already there.  Returns -code. */
int lr_error_prefix(struct lr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void lr_error_clear(struct lr_error *err);

#endif
