/* policy_show.h - a member's allocation as text, for `labrun-policy show`
 * and `labrun --quota`.  Runs as any user who can read the lab files. */
#ifndef LABRUN_POLICY_SHOW_H
#define LABRUN_POLICY_SHOW_H

#include <stdbool.h>
#include <stdio.h>

/* Print user's allocation in each of their labs of dir (or in lab only)
 * to out, each value with the file, line and section it comes from.
 * Errors go to stderr after "prog: ".  missing_ok: a missing dir is no
 * policy.  Returns the exit status (0, or 1 after a message). */
int lr_policy_show(FILE *out, const char *prog, const char *dir, const char *user, const char *lab,
		   bool missing_ok);

#endif
