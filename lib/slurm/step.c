/* step.c - the hand-over from a step's container to slurmstepd, and a
 * task's join (step.h, DESIGN.md §4).
 *
 * lr_step_send_*() run in labrun-step and its keeper, as the user.
 * lr_step_receive() runs in slurmstepd (user_init: euid the job user, real
 * uid root): it trusts nothing in the message and checks each fd's kind.
 * lr_step_join() runs in each task, as the user, before Slurm execs it.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "cleanup.h"
#include "log.h"
#include "step.h"

#define STEP_MAGIC 0x6c727374u /* "lrst" */

enum { WIRE_READY = 1, WIRE_FAILED = 2 };
enum { WIRE_WORKDIR_EXPLICIT = 1, WIRE_JOB_USER = 2 };

struct wire {
	uint32_t magic;
	uint32_t kind;
	int32_t code; /* a positive errno, for WIRE_FAILED */
	uint32_t flags;
	uint32_t workdir_len; /* with its NUL */
	uint32_t n_env;
	uint32_t env_len; /* n_env strings, each with its NUL */
	uint64_t memory_limit;
	uint64_t processes_limit;
	char lab[64];
	char msg[LR_ERROR_MSG_MAX];
};

static int send_wire(int sock, struct wire *w, const char *workdir, const char *env, const int *fds,
		     size_t n_fds)
{
	struct iovec iov[3] = {
		{.iov_base = w, .iov_len = sizeof(*w)},
		{.iov_base = (void *)workdir, .iov_len = w->workdir_len},
		{.iov_base = (void *)env, .iov_len = w->env_len},
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * LR_NS_COUNT)];
		struct cmsghdr align;
	} control;
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
	if (n_fds) {
		memset(&control, 0, sizeof(control));
		m.msg_control = control.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	ssize_t n;
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int lr_step_send_ready(int sock, const int fds[LR_NS_COUNT], const char *workdir,
		       bool workdir_explicit, char *const *env, const struct lr_step_limits *limits,
		       struct lr_error *err)
{
	struct wire w = {.magic = STEP_MAGIC, .kind = WIRE_READY};
	const char *lab = limits ? limits->lab : NULL;
	if (limits) {
		w.memory_limit = limits->memory;
		w.processes_limit = limits->processes;
	}
	if (lab && *lab) {
		if (!lr_step_lab_is_valid(lab))
			return lr_error_set(err, EINVAL, "lab '%.64s': not a name root may use",
					    lab);
		snprintf(w.lab, sizeof(w.lab), "%s", lab);
	}
	size_t env_len = 0, n_env = 0;
	for (; env && env[n_env]; n_env++)
		env_len += strlen(env[n_env]) + 1;
	size_t workdir_len = strlen(workdir) + 1;
	if (n_env > LR_STEP_MAX_ENV || sizeof(w) + workdir_len + env_len > LR_STEP_MSG_MAX)
		return lr_error_set(err, E2BIG,
				    "the image's environment is too large (%zu entries)", n_env);
	_cleanup_free_ char *buf = malloc(env_len + 1);
	if (!buf)
		return lr_error_errno(err, ENOMEM, "hand the container over");
	size_t off = 0;
	for (size_t i = 0; i < n_env; i++) {
		size_t l = strlen(env[i]) + 1;
		memcpy(buf + off, env[i], l);
		off += l;
	}
	w.workdir_len = (uint32_t)workdir_len;
	w.n_env = (uint32_t)n_env;
	w.env_len = (uint32_t)env_len;
	w.flags = (workdir_explicit ? WIRE_WORKDIR_EXPLICIT : 0) |
		  (fds[LR_NS_JOB_USER] >= 0 ? WIRE_JOB_USER : 0);
	int list[LR_NS_COUNT];
	size_t n_fds = 0;
	for (int k = 0; k < LR_NS_COUNT; k++)
		if (fds[k] >= 0)
			list[n_fds++] = fds[k];
	int r = send_wire(sock, &w, workdir, buf, list, n_fds);
	if (r < 0)
		return lr_error_errno(err, -r, "hand the container over to slurmstepd");
	return 0;
}

void lr_step_send_failure(int sock, const struct lr_error *failure)
{
	struct wire w = {.magic = STEP_MAGIC, .kind = WIRE_FAILED, .code = failure->code};
	if (w.code <= 0)
		w.code = EIO;
	snprintf(w.msg, sizeof(w.msg), "%s", failure->msg[0] ? failure->msg : strerror(w.code));
	(void)send_wire(sock, &w, "", "", NULL, 0);
}

void lr_step_handover_free(struct lr_step_handover *h)
{
	if (!h)
		return;
	/* The fds mean something only in a hand-over that was received (it
	 * always has a workdir): a zeroed struct holds fd 0 in every slot. */
	for (int k = 0; h->workdir && k < LR_NS_COUNT; k++)
		if (h->fds[k] >= 0)
			close(h->fds[k]);
	free(h->workdir);
	if (h->env)
		for (size_t i = 0; i < h->n_env; i++)
			free(h->env[i]);
	free(h->env);
	memset(h, 0, sizeof(*h));
	for (int k = 0; k < LR_NS_COUNT; k++)
		h->fds[k] = -1;
}

/* Each fd must be a namespace of its slot's kind: a confused or hostile
 * sender cannot make a task setns() into something else, or keep a host
 * file open into the job. */
static int check_ns_fds(const int fds[LR_NS_COUNT], struct lr_error *err)
{
	static const int types[LR_NS_COUNT] = {
		[LR_NS_USER] = CLONE_NEWUSER,	  [LR_NS_CGROUP] = CLONE_NEWCGROUP,
		[LR_NS_IPC] = CLONE_NEWIPC,	  [LR_NS_PID] = CLONE_NEWPID,
		[LR_NS_JOB_USER] = CLONE_NEWUSER, [LR_NS_MNT] = CLONE_NEWNS,
	};
	for (int k = 0; k < LR_NS_COUNT; k++) {
		if (fds[k] < 0)
			continue;
		int t = ioctl(fds[k], NS_GET_NSTYPE);
		if (t != types[k])
			return lr_error_set(err, EPROTO,
					    "the container's %s namespace: not a namespace of "
					    "that kind",
					    lr_ns_names[k]);
	}
	return 0;
}

bool lr_step_lab_is_valid(const char *lab)
{
	size_t n = strnlen(lab, 64);
	if (n == 0 || n > 63 || lab[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((lab[i] >= 'A' && lab[i] <= 'Z') || (lab[i] >= 'a' && lab[i] <= 'z') ||
		      (lab[i] >= '0' && lab[i] <= '9') || lab[i] == '.' || lab[i] == '_' ||
		      lab[i] == '-'))
			return false;
	return true;
}

static int decode(const char *buf, size_t n, const int *fds, size_t n_fds,
		  struct lr_step_handover *h, struct lr_error *err)
{
	struct wire w;
	if (n < sizeof(w))
		return lr_error_set(err, EPROTO, "a short message from the container (%zu bytes)",
				    n);
	memcpy(&w, buf, sizeof(w));
	if (w.magic != STEP_MAGIC)
		return lr_error_set(err, EPROTO, "a message from the container of unknown form");
	if (w.kind == WIRE_FAILED) {
		w.msg[sizeof(w.msg) - 1] = '\0';
		int code = w.code > 0 && w.code < 4096 ? w.code : EIO;
		if (!w.msg[0]) /* the user must learn something */
			return lr_error_set(err, code, "the container could not be made: %s",
					    strerror(code));
		return lr_error_set(err, code, "%s", w.msg);
	}
	size_t want_fds = (w.flags & WIRE_JOB_USER) ? LR_NS_COUNT : LR_NS_COUNT - 1;
	if (w.kind != WIRE_READY || n_fds != want_fds || w.n_env > LR_STEP_MAX_ENV ||
	    w.workdir_len < 2 || w.workdir_len > n - sizeof(w) ||
	    w.env_len != n - sizeof(w) - w.workdir_len)
		return lr_error_set(err, EPROTO, "a malformed message from the container");
	if (w.lab[0] && (!memchr(w.lab, '\0', sizeof(w.lab)) || !lr_step_lab_is_valid(w.lab)))
		return lr_error_set(err, EPROTO, "a malformed lab name from the container");
	const char *workdir = buf + sizeof(w);
	if (workdir[0] != '/' || strnlen(workdir, w.workdir_len) != w.workdir_len - 1)
		return lr_error_set(err, EPROTO,
				    "a malformed working directory from the container");
	/* The environment: exactly n_env "K=V" strings filling env_len. */
	const char *env = workdir + w.workdir_len, *end = env + w.env_len;
	struct lr_step_handover out = {.workdir_explicit = w.flags & WIRE_WORKDIR_EXPLICIT,
				       .memory_limit = w.memory_limit,
				       .processes_limit = w.processes_limit};
	memcpy(out.lab, w.lab, sizeof(out.lab));
	for (int k = 0; k < LR_NS_COUNT; k++)
		out.fds[k] = -1;
	out.env = calloc(w.n_env + 1, sizeof(char *));
	out.workdir = strdup(workdir);
	if (!out.env || !out.workdir) {
		lr_step_handover_free(&out);
		return lr_error_errno(err, ENOMEM, "the container's hand-over");
	}
	const char *p = env;
	for (uint32_t i = 0; i < w.n_env; i++) {
		size_t l = strnlen(p, (size_t)(end - p));
		const char *eq = memchr(p, '=', l);
		if (p + l >= end || !eq || eq == p || !(out.env[out.n_env] = strndup(p, l))) {
			lr_step_handover_free(&out);
			return lr_error_set(err, EPROTO,
					    "a malformed environment entry from the container");
		}
		out.n_env++;
		p += l + 1;
	}
	if (p != end) {
		lr_step_handover_free(&out);
		return lr_error_set(err, EPROTO, "a malformed environment from the container");
	}
	size_t i = 0;
	for (int k = 0; k < LR_NS_COUNT; k++) {
		if (k == LR_NS_JOB_USER && !(w.flags & WIRE_JOB_USER))
			continue;
		out.fds[k] = fds[i++];
	}
	int r = check_ns_fds(out.fds, err);
	if (r < 0) {
		/* The fds are still the caller's to close (lr_step_receive). */
		for (int k = 0; k < LR_NS_COUNT; k++)
			out.fds[k] = -1;
		lr_step_handover_free(&out);
		return r;
	}
	*h = out;
	return 0;
}

int lr_step_receive(int sock, struct lr_step_handover *h, struct lr_error *err)
{
	return lr_step_receive_within(sock, -1, h, err);
}

int lr_step_receive_within(int sock, int timeout_ms, struct lr_step_handover *h,
			   struct lr_error *err)
{
	/* poll() first: a SOCK_SEQPACKET message is whole once readable, so
	 * the recvmsg() below (MSG_DONTWAIT besides) cannot block after it. */
	struct pollfd p = {.fd = sock, .events = POLLIN};
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int ready, left = timeout_ms;
	/* A signal does not restart the wait from zero. */
	while ((ready = poll(&p, 1, left)) < 0 && errno == EINTR) {
		if (timeout_ms < 0)
			continue;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent = (now.tv_sec - start.tv_sec) * 1000 +
			     (now.tv_nsec - start.tv_nsec) / 1000000;
		left = spent >= timeout_ms ? 0 : timeout_ms - (int)spent;
	}
	if (ready < 0)
		return lr_error_errno(err, errno, "the container's hand-over");
	if (ready == 0)
		return lr_error_set(err, ETIMEDOUT, "the container was not ready within %d s",
				    timeout_ms / 1000);
	_cleanup_free_ char *buf = malloc(LR_STEP_MSG_MAX);
	if (!buf)
		return lr_error_errno(err, ENOMEM, "the container's hand-over");
	union {
		char buf[CMSG_SPACE(sizeof(int) * LR_NS_COUNT)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = LR_STEP_MSG_MAX};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = control.buf,
			   .msg_controllen = sizeof(control.buf)};
	ssize_t n;
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return lr_error_errno(err, errno, "the container's hand-over");
	int fds[LR_NS_COUNT];
	size_t n_fds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t j = 0; j < k; j++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
			if (n_fds < LR_NS_COUNT)
				fds[n_fds++] = fd;
			else
				close(fd);
		}
	}
	int r;
	if (n == 0)
		r = lr_error_set(err, EPIPE, "the container's helper ended without a word");
	else if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		r = lr_error_set(err, EPROTO, "an oversized message from the container");
	else
		r = decode(buf, (size_t)n, fds, n_fds, h, err);
	if (r < 0)
		for (size_t j = 0; j < n_fds; j++)
			close(fds[j]);
	return r;
}

int lr_step_join(struct lr_step_handover *h, struct lr_error *err)
{
	/* Nothing inside may ptrace this process while it still holds
	 * slurmstepd's memory and the namespace fds; exec resets it. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return lr_error_errno(err, errno, "set the task non-dumpable");
	int r = lr_userns_join(h->fds, err);
	bool job_user = h->fds[LR_NS_JOB_USER] >= 0;
	for (int k = 0; k < LR_NS_COUNT; k++)
		if (h->fds[k] >= 0) {
			close(h->fds[k]);
			h->fds[k] = -1;
		}
	if (r < 0)
		return r;
	/* As the keeper's job (keeper.c, run_job): root of a nested user
	 * namespace with --remap-root (the mounts are locked), else without
	 * any capability. */
	if (!job_user && (r = lr_userns_drop_caps(err)) < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return lr_error_errno(err, errno, "set no_new_privs");
	if (chdir(h->workdir) < 0 && (h->workdir_explicit || chdir("/") < 0))
		return lr_error_errno(err, errno, "working directory %s", h->workdir);
	/* setns(CLONE_NEWNS) put cwd and root at the container's root; check
	 * anyway that cwd is inside it (runc CVE-2024-21626). */
	char cwd[16];
	if (!getcwd(cwd, sizeof(cwd)) && errno != ERANGE)
		return lr_error_set(err, EPERM, "working directory is outside the container");
	return 0;
}
