/* devices.h - which device nodes a cgroup may use: the GPUs a lab member
 * is not given are denied to the member's cgroup.
 *
 * Devices are named by a glob (an admin's "/dev/nvidia[0-9]*") and denied
 * either through the cgroup v1 devices controller (devices.deny and
 * devices.allow) or, on cgroup v2, by a BPF_PROG_TYPE_CGROUP_DEVICE program
 * assembled here and loaded with the raw bpf(2) syscall (no libbpf, no
 * clang at build time).
 *
 * Runs as root (labrun-policy apply, the Slurm plugin in slurmstepd);
 * never exits or prints, frees everything on every path.  Every input is
 * root's (the policy and the admin's patterns); nothing here reads a path
 * a job user names.
 */
#ifndef LABRUN_DEVICES_H
#define LABRUN_DEVICES_H

#include <stddef.h>

#include "error.h"

/* At most this many devices per glob and per deny or allow list: more
 * GPUs than a node has; the BPF program stays at 5 instructions a device
 * (326 in all at most), far below the verifier's limits. */
#define LR_DEVICES_MAX 64

/* The name our cgroup v2 program is loaded under (at most 15 characters,
 * BPF_OBJ_NAME_LEN): how a re-apply finds the program it replaces. */
#define LR_DEVICES_PROG_NAME "labrun_devices"

struct lr_device {
	char type; /* 'c' (character) or 'b' (block) */
	unsigned major, minor;
};

/* The character devices matching pattern (glob(7), e.g.
 * "/dev/nvidia[0-9]*"), sorted by minor, then major.  Symbolic links are
 * followed; other file types are left out.  Returns their count (0 when
 * nothing matches), or -E2BIG when more than max (or LR_DEVICES_MAX) match.
 * paths (may be NULL) gets a malloc'd path for each device, freed with
 * lr_devices_paths_free().  A directory that cannot be read fails the call
 * (a device left out would be a device not denied). */
int lr_devices_glob(const char *pattern, struct lr_device *out, char **paths, size_t max,
		    struct lr_error *err);
void lr_devices_paths_free(char **paths, size_t n);

/* cgroup v1: in the devices controller cgroup open as cgroup_dirfd, deny
 * every access (rwm) to each device of deny (devices.deny), then allow
 * each of allow (devices.allow), so that a re-apply with the sets swapped
 * gives the new sets.  A device in both is refused (-EINVAL).  On failure
 * part of it may have been written: the caller must fail the step. */
int lr_devices_apply_v1(int cgroup_dirfd, const struct lr_device *deny, size_t n_deny,
			const struct lr_device *allow, size_t n_allow, struct lr_error *err);

/* cgroup v2: make exactly the devices of deny (every access) unusable in
 * the cgroup whose directory is open as cgroup_dirfd, and in its
 * descendants, with our program attached with BPF_F_ALLOW_MULTI beside
 * the others there (systemd's): the kernel runs them all and any that
 * denies wins.  A program of ours already there is replaced in place
 * (BPF_F_REPLACE, Linux 5.6), so that there is no moment without one;
 * n_deny == 0 detaches ours.  Programs of others are left alone.  On
 * failure the old denials may still hold and the new ones not: the
 * caller must fail the step.
 *
 * Beware: a program attached here makes the kernel skip, for this
 * subtree, the programs of the nearest ancestor that has some if they
 * were attached with BPF_F_ALLOW_OVERRIDE, as Slurm attaches its own
 * (src/plugins/cgroup/v2/ebpf.c; kernel/bpf/cgroup.c,
 * compute_effective_progs()).  Below such a cgroup, deny must include
 * what that program denied (the test
 * v2_program_below_an_override_program_takes_its_place shows it). */
int lr_devices_apply_v2(int cgroup_dirfd, const struct lr_device *deny, size_t n_deny,
			struct lr_error *err);

/* The program lr_devices_apply_v2() attaches, loaded (checked by the
 * kernel's verifier) but not attached: its fd (O_CLOEXEC), or a negative
 * errno with the verifier's last words in err. */
int lr_devices_load_v2(const struct lr_device *deny, size_t n_deny, struct lr_error *err);

#endif
