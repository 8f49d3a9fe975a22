/* usage_show.h - the labs' GPU-hours this month against their budgets,
 * from Slurm's accounting: `labrun-policy usage` (policy_usage.c) and the
 * lines `labrun --quota` adds.  Runs as any user slurmdbd lets read. */
#ifndef LABRUN_USAGE_SHOW_H
#define LABRUN_USAGE_SHOW_H

#include <stdbool.h>
#include <stdio.h>

#include "acct_usage.h"
#include "error.h"

/* Connect to slurmdbd, read this month's usage of labrun's accounts,
 * disconnect.  libslurm's log only when verbose.  *u set only on success. */
int lr_usage_read(struct lr_acct_usage *u, bool verbose, struct lr_error *err);

/* A row's limits at once: "cores 4, memory 8G, GPUs 4 at once". */
void lr_usage_limits_text(const struct lr_acct_limits *l, char *buf, size_t len);

/* labrun --quota's lines: one per lab of user's in Slurm's accounting
 * (only lab's when given) with user's GPU-hours this month against their
 * budget and the lab's; or one line saying why they are missing.  Never
 * fails: the accounting is an addition to what --quota shows. */
void lr_usage_quota_lines(FILE *out, const char *user, const char *lab);

/* `labrun-policy usage`'s command line (argv[0] "usage").  Returns the
 * exit status: 0, 1 after a one-line message, 2 usage. */
int lr_policy_usage(int argc, char **argv);

#endif
