/* kernel_apis - kernel interfaces that are not namespaced, or that widen
 * the kernel's attack surface: keyctl, bpf, perf_event_open, userfaultfd,
 * io_uring.  labrun does not filter system calls (no seccomp: it is not a
 * boundary between a user and the OS, notes/security.md), so the rule is
 * "never more than outside": each call must fail inside whenever the host
 * forbids it to unprivileged users, whatever uid the job has in its user
 * namespace.  Where the host allows it, the job may use it too (INFO, with
 * the reason it grants nothing new):
 *   keyctl         keyrings are per user, not per container: the job is
 *                  the caller's own uid, so it reaches only the caller's
 *                  own keys; it can never join or read another user's.
 *   bpf            kernel.unprivileged_bpf_disabled: 0 allows socket
 *                  filters to anyone, 1 and 2 forbid bpf() without
 *                  CAP_BPF/CAP_SYS_ADMIN of the initial namespace.
 *   perf_event_open  kernel.perf_event_paranoid >= 3 (Debian) forbids it
 *                  to unprivileged users; 2 allows own-process counting.
 *   userfaultfd    vm.unprivileged_userfaultfd 0 allows only user-mode
 *                  faults (UFFD_USER_MODE_ONLY), as on the host.
 *   io_uring       kernel.io_uring_disabled 2 forbids it to everyone.
 */
#include "probe.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif

/* A sysctl's value, -1 when it cannot be read. */
static long sysctl_value(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* r: the call's result; allowed: whether the host allows it here. */
static void judge(long r, int allowed, const char *what, const char *why)
{
	if (r < 0)
		ok("%s: %s", what, strerror(errno));
	else if (allowed)
		info("%s works: %s", what, why);
	else
		escaped("%s works although the host forbids it (%s)", what, why);
}

int main(void)
{
	/* keyctl: the job's own keyrings only. */
	long k = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
	judge(k, 1, "keyctl: the user keyring", "the caller's own uid's, nothing of another user");
	long s = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
	judge(s, 1, "keyctl: a new session keyring", "the job's own");
	/* Root's user keyring (uid 0 of the host): another user's. */
	long r = syscall(SYS_keyctl, KEYCTL_GET_PERSISTENT, 0, KEY_SPEC_PROCESS_KEYRING);
	if (getuid() != 0)
		EXPECT_FAIL((int)r, "keyctl: uid 0's persistent keyring");
	else if (r >= 0)
		info("keyctl: persistent keyring of uid 0 here: the job's own uid 0 (%s)",
		     "maps to the caller");

	long bpf_off = sysctl_value("/proc/sys/kernel/unprivileged_bpf_disabled");
	struct bpf_insn prog[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insn_cnt = 2;
	attr.insns = (unsigned long)prog;
	attr.license = (unsigned long)"GPL";
	long b = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	char why[128];
	snprintf(why, sizeof(why), "kernel.unprivileged_bpf_disabled = %ld", bpf_off);
	judge(b, bpf_off == 0, "bpf: load a socket filter", why);
	if (b >= 0)
		close((int)b);

	long paranoid = sysctl_value("/proc/sys/kernel/perf_event_paranoid");
	struct perf_event_attr pe;
	memset(&pe, 0, sizeof(pe));
	pe.type = PERF_TYPE_SOFTWARE;
	pe.size = sizeof(pe);
	pe.config = PERF_COUNT_SW_TASK_CLOCK;
	pe.disabled = 1;
	pe.exclude_kernel = 1;
	long p = syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
	snprintf(why, sizeof(why), "kernel.perf_event_paranoid = %ld", paranoid);
	judge(p, paranoid >= 0 && paranoid < 3, "perf_event_open of the job itself", why);
	if (p >= 0)
		close((int)p);
	/* System-wide (pid -1, cpu 0) needs paranoid <= 0 or CAP_PERFMON. */
	pe.exclude_kernel = 0;
	p = syscall(SYS_perf_event_open, &pe, -1, 0, -1, 0);
	judge(p, paranoid >= 0 && paranoid <= 0, "perf_event_open of the whole CPU 0", why);
	if (p >= 0)
		close((int)p);

	long uffd_ok = sysctl_value("/proc/sys/vm/unprivileged_userfaultfd");
	snprintf(why, sizeof(why), "vm.unprivileged_userfaultfd = %ld", uffd_ok);
	long u = syscall(SYS_userfaultfd, O_CLOEXEC);
	judge(u, uffd_ok == 1, "userfaultfd with kernel faults", why);
	if (u >= 0)
		close((int)u);
	u = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	judge(u, 1, "userfaultfd, user-mode faults only", "allowed to any user since Linux 5.11");
	if (u >= 0)
		close((int)u);

	long uring = sysctl_value("/proc/sys/kernel/io_uring_disabled");
	snprintf(why, sizeof(why), "kernel.io_uring_disabled = %ld", uring);
	struct {
		unsigned int a[30];
	} params;
	memset(&params, 0, sizeof(params));
	long io = syscall(SYS_io_uring_setup, 1, &params);
	judge(io, uring <= 0, "io_uring_setup", why);
	if (io >= 0)
		close((int)io);
	return probe_exit();
}
