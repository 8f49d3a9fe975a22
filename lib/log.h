/* log.h - debug output for -v.  lib never prints otherwise (STYLE.md):
 * failures travel up in struct lr_error and the program reports them.
 * Any privilege; writes with one write(2) per line so that lines from the
 * launcher, the keeper and the job's setup do not interleave mid-line. */
#ifndef LABRUN_LOG_H
#define LABRUN_LOG_H

extern int lr_log_level; /* 0 quiet, 1 -v, 2 -vv */

void lr_debug(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
