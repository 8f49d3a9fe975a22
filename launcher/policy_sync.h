/* policy_sync.h - `labrun-policy sync`: the lab files into Slurm's
 * accounting (labrun-policy(8)).  Runs as root on the controller (or as
 * any user with --dry-run, where slurmdbd lets them read). */
#ifndef LABRUN_POLICY_SYNC_H
#define LABRUN_POLICY_SYNC_H

/* sync's command line (argv[0] "sync") over the lab files of dir.
 * Returns the exit status: 0, 1 after a one-line message, 2 usage. */
int lr_policy_sync(const char *dir, int argc, char **argv);

#endif
