/* fuzz_step.c - libFuzzer target for the hand-over a Slurm step's
 * container sends to slurmstepd (lib/slurm/step.c, lr_step_receive()).  Build
 * and run: tests/fuzz/README.md.
 *
 * The message comes from labrun-step, a process of the job's user, and is
 * decoded in slurmstepd: notes/security.md names "any root-side decoder of
 * messages from the keeper" a first target.  The input's first byte says
 * how many of this process's own namespace fds ride along (0-6, in
 * step.h's order), the rest is the message.  Besides memory errors (ASan,
 * UBSan), this target aborts when a promise of step.h breaks:
 *  - on success the workdir is absolute, every environment entry is
 *    "K=V" with a non-empty K, their count is within LR_STEP_MAX_ENV, the
 *    lab is empty or a plain name, and each fd is a namespace;
 *  - on failure there is a message and nothing is set;
 *  - either way no fd is left open that was not handed over.
 */
#include "build-config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "step.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ns[] = {"user", "cgroup", "ipc", "pid", "user", "mnt"};
	if (size < 1 || size - 1 > LR_STEP_MSG_MAX)
		return 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	int before = count_fds();
	size_t n_fds = data[0] % (LR_NS_COUNT + 1);
	int fds[LR_NS_COUNT];
	for (size_t i = 0; i < n_fds; i++) {
		char path[64];
		strcpy(path, "/proc/self/ns/");
		strcat(path, ns[i]);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		check(fds[i] >= 0);
	}
	struct iovec iov = {.iov_base = (void *)(data + 1), .iov_len = size - 1};
	union {
		char buf[CMSG_SPACE(sizeof(int) * LR_NS_COUNT)];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n_fds) {
		m.msg_control = control.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	/* An empty datagram reads as the end of the socket: skip it. */
	if (size - 1 == 0 || sendmsg(sv[1], &m, 0) < 0) {
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	struct lr_step_handover h;
	memset(&h, 0x5a, sizeof(h));
	struct lr_error err = {0};
	int r = lr_step_receive(sv[0], &h, &err);
	if (r == 0) {
		check(h.workdir && h.workdir[0] == '/');
		check(h.n_env <= LR_STEP_MAX_ENV && h.env && !h.env[h.n_env]);
		for (size_t i = 0; i < h.n_env; i++) {
			const char *eq = strchr(h.env[i], '=');
			check(eq && eq != h.env[i]);
		}
		check(!h.lab[0] || lr_step_lab_is_valid(h.lab));
		for (int k = 0; k < LR_NS_COUNT; k++)
			check(k == LR_NS_JOB_USER ? h.fds[k] >= -1 : h.fds[k] >= 0);
		lr_step_handover_free(&h);
	} else {
		check(r < 0 && err.msg[0]);
		check(((const unsigned char *)&h)[0] == 0x5a);
	}
	close(sv[0]);
	close(sv[1]);
	check(count_fds() == before - 2);
	return 0;
}
