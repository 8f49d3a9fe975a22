/* test_step.c - the hand-over from a Slurm step's container to slurmstepd
 * (lib/slurm/step.c): one SOCK_SEQPACKET message with the namespace fds as
 * SCM_RIGHTS.  What the keeper sends arrives whole; what a confused or
 * hostile sender crafts by hand is refused with EPROTO, without filling the
 * caller's struct and without leaving any fd it carried open in the
 * receiver (slurmstepd must not keep a user's file open, nor setns() a task
 * into it).
 *
 * The namespaces sent are this process's own (/proc/self/ns/...): any user
 * may open them, so this runs as any user.  lr_step_join() (setns) is not
 * tested here: it changes the test process for good.
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/nsfs.h>

#include <cmocka.h>

#include "step.h"

/* The message header as lib/slurm/step.c lays it out (struct wire there): it
 * mirrors that file, field for field, and must change with it.  The test
 * a_crafted_message_like_the_keepers_is_accepted checks that it still
 * does: every refusal below starts from that accepted message and spoils
 * one thing. */
#define WIRE_MAGIC 0x6c727374u /* "lrst" */
enum { WIRE_READY = 1, WIRE_FAILED = 2 };
enum { WIRE_WORKDIR_EXPLICIT = 1, WIRE_JOB_USER = 2 };
struct wire {
	uint32_t magic;
	uint32_t kind;
	int32_t code;
	uint32_t flags;
	uint32_t workdir_len; /* with its NUL */
	uint32_t n_env;
	uint32_t env_len; /* n_env strings, each with its NUL */
	uint64_t memory_limit;
	uint64_t processes_limit;
	char lab[64];
	char msg[LR_ERROR_MSG_MAX];
};

/* The namespace each slot must hold, as /proc/self/ns names it. */
static const int ns_types[LR_NS_COUNT] = {
	[LR_NS_USER] = CLONE_NEWUSER, [LR_NS_CGROUP] = CLONE_NEWCGROUP, [LR_NS_IPC] = CLONE_NEWIPC,
	[LR_NS_PID] = CLONE_NEWPID,   [LR_NS_JOB_USER] = CLONE_NEWUSER, [LR_NS_MNT] = CLONE_NEWNS,
};
static const char *const ns_files[LR_NS_COUNT] = {
	[LR_NS_USER] = "user", [LR_NS_CGROUP] = "cgroup", [LR_NS_IPC] = "ipc",
	[LR_NS_PID] = "pid",   [LR_NS_JOB_USER] = "user", [LR_NS_MNT] = "mnt",
};

#define MAX_FDS 8
#define BODY_MAX (LR_STEP_MSG_MAX + 64)

/* A message put together by hand. */
struct crafted {
	struct wire w;
	char body[BODY_MAX]; /* workdir, then the environment */
	size_t body_len;
	int fds[MAX_FDS];
	size_t n_fds;
};

struct fx {
	int sv[2];	     /* [0] slurmstepd's end, [1] the keeper's */
	int ns[LR_NS_COUNT]; /* this process's namespaces; JOB_USER too */
	struct crafted c;    /* the keeper's message, crafted */
	int file;	     /* a regular file, -1 */
};

/* ------------------------------------------------------------ close() */

/* Which fds lib/slurm/step.c closes, while tracking: this definition of close()
 * is the one the linker gives liblabrun.a's objects (an executable's own
 * symbols come first), and it passes every call on to the kernel.  A
 * refused message must close each fd it carried once: a second close() of
 * the same number, in slurmstepd's threads, can close an fd another thread
 * has just been given. */
#define MAX_CLOSED 64
static bool tracking;
static int closed[MAX_CLOSED];
static size_t n_closed;

int close(int fd)
{
	if (tracking && n_closed < MAX_CLOSED)
		closed[n_closed++] = fd;
	return (int)syscall(SYS_close, fd);
}

/* ------------------------------------------------------------ helpers */

static int open_ns(int k)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns_files[k]);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		print_error("open %s: %s\n", path, strerror(errno));
	return fd;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->file = -1;
	for (int k = 0; k < LR_NS_COUNT; k++)
		f->ns[k] = -1;
	*state = f;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->sv) < 0)
		return -1;
	for (int k = 0; k < LR_NS_COUNT; k++)
		if ((f->ns[k] = open_ns(k)) < 0)
			return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 2; i++)
		if (f->sv[i] >= 0)
			close(f->sv[i]);
	for (int k = 0; k < LR_NS_COUNT; k++)
		if (f->ns[k] >= 0)
			close(f->ns[k]);
	if (f->file >= 0)
		close(f->file);
	free(f);
	return 0;
}

/* The fds this process has open. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The keeper's set of fds: JOB_USER only with job_user. */
static void keeper_fds(const struct fx *f, bool job_user, int out[LR_NS_COUNT])
{
	for (int k = 0; k < LR_NS_COUNT; k++)
		out[k] = f->ns[k];
	if (!job_user)
		out[LR_NS_JOB_USER] = -1;
}

/* The message the keeper would send for workdir and env (NULL-terminated),
 * in enum order, JOB_USER left out. */
static void craft_ready(struct fx *f, const char *workdir, const char *const *env)
{
	struct crafted *c = &f->c;
	memset(c, 0, sizeof(*c));
	c->w.magic = WIRE_MAGIC;
	c->w.kind = WIRE_READY;
	c->w.flags = WIRE_WORKDIR_EXPLICIT;
	c->w.memory_limit = 1 << 20;
	size_t l = strlen(workdir) + 1;
	memcpy(c->body, workdir, l);
	c->w.workdir_len = (uint32_t)l;
	c->body_len = l;
	for (; env && *env; env++) {
		l = strlen(*env) + 1;
		memcpy(c->body + c->body_len, *env, l);
		c->body_len += l;
		c->w.env_len += (uint32_t)l;
		c->w.n_env++;
	}
	for (int k = 0; k < LR_NS_COUNT; k++)
		if (k != LR_NS_JOB_USER)
			c->fds[c->n_fds++] = f->ns[k];
}

static const char *const some_env[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};

static void craft_default(struct fx *f)
{
	craft_ready(f, "/home/alice", some_env);
}

static void send_raw(int sock, const void *buf, size_t len, const int *fds, size_t n_fds)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n_fds) {
		memset(&control, 0, sizeof(control));
		m.msg_control = control.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	if (sendmsg(sock, &m, MSG_NOSIGNAL) != (ssize_t)len)
		fail_msg("sendmsg of %zu bytes, %zu fds: %s", len, n_fds, strerror(errno));
}

static void send_crafted(struct fx *f)
{
	struct crafted *c = &f->c;
	char *buf = malloc(sizeof(c->w) + c->body_len);
	assert_non_null(buf);
	memcpy(buf, &c->w, sizeof(c->w));
	memcpy(buf + sizeof(c->w), c->body, c->body_len);
	send_raw(f->sv[1], buf, sizeof(c->w) + c->body_len, c->fds, c->n_fds);
	free(buf);
}

/* A handover no receive has touched. */
static void poison(struct lr_step_handover *h)
{
	memset(h, 0x5a, sizeof(*h));
}

/* lr_step_receive() refuses what is on the socket with -code and a message
 * saying part, leaves h as it was, and closes every fd the message carried,
 * each once. */
static void assert_refused(struct fx *f, int code, const char *part)
{
	struct lr_step_handover h, before;
	poison(&h);
	poison(&before);
	struct lr_error err = {0};
	int fds = count_fds();
	n_closed = 0;
	tracking = true;
	int r = lr_step_receive(f->sv[0], &h, &err);
	tracking = false;
	for (size_t i = 0; i < n_closed; i++)
		for (size_t j = i + 1; j < n_closed; j++)
			if (closed[i] == closed[j])
				fail_msg("fd %d closed twice", closed[i]);
	if (r != -code)
		fail_msg("lr_step_receive: %d (%s), not %d", r, err.msg, -code);
	if (!strstr(err.msg, part))
		fail_msg("'%s' does not say '%s'", err.msg, part);
	assert_memory_equal(&h, &before, sizeof(h));
	assert_int_equal(count_fds(), fds);
}

/* fd is a namespace of type, the very one this process is in (ours). */
static void assert_same_ns(int fd, int type, int ours)
{
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, NS_GET_NSTYPE), type);
	struct stat a, b;
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(ours, &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	/* slurmstepd forks and execs tasks: they must not inherit these. */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/* ------------------------------------------------------------ round trips */

static void ready_hands_over_namespaces_workdir_env_and_memory(void **state)
{
	struct fx *f = *state;
	int fds[LR_NS_COUNT];
	keeper_fds(f, false, fds);
	char *env[] = {"PATH=/usr/local/bin:/usr/bin", "HOME=/root", "EMPTY=", "EQ=a=b", NULL};
	struct lr_error err = {0};
	struct lr_step_limits limits = {.memory = 300ULL << 20, .processes = 64, .lab = "physics"};
	assert_int_equal(
		lr_step_send_ready(f->sv[1], fds, "/scratch/run 1", true, env, &limits, &err), 0);
	struct lr_step_handover h;
	poison(&h);
	int before = count_fds();
	if (lr_step_receive(f->sv[0], &h, &err) != 0)
		fail_msg("lr_step_receive: %s", err.msg);
	assert_int_equal(count_fds(), before + LR_NS_COUNT - 1);
	assert_string_equal(h.workdir, "/scratch/run 1");
	assert_true(h.workdir_explicit);
	assert_int_equal(h.n_env, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(h.env[i], env[i]);
	assert_null(h.env[4]);
	assert_int_equal(h.memory_limit, 300ULL << 20);
	assert_string_equal(h.lab, "physics");
	assert_int_equal(h.processes_limit, 64);
	assert_int_equal(h.fds[LR_NS_JOB_USER], -1);
	for (int k = 0; k < LR_NS_COUNT; k++) {
		if (k == LR_NS_JOB_USER)
			continue;
		assert_true(h.fds[k] != f->ns[k]); /* the receiver's own copies */
		assert_same_ns(h.fds[k], ns_types[k], f->ns[k]);
	}
	lr_step_handover_free(&h);
	assert_int_equal(count_fds(), before);
	for (int k = 0; k < LR_NS_COUNT; k++)
		assert_int_equal(h.fds[k], -1);
	assert_null(h.workdir);
	assert_null(h.env);
	assert_int_equal(h.n_env, 0);
}

static void ready_with_job_user_namespace_hands_over_all_six(void **state)
{
	struct fx *f = *state;
	int fds[LR_NS_COUNT];
	keeper_fds(f, true, fds);
	struct lr_error err = {0};
	assert_int_equal(lr_step_send_ready(f->sv[1], fds, "/", false, NULL, NULL, &err), 0);
	struct lr_step_handover h;
	poison(&h);
	if (lr_step_receive(f->sv[0], &h, &err) != 0)
		fail_msg("lr_step_receive: %s", err.msg);
	assert_string_equal(h.workdir, "/");
	assert_false(h.workdir_explicit);
	assert_int_equal(h.n_env, 0);
	assert_non_null(h.env);
	assert_null(h.env[0]);
	assert_int_equal(h.memory_limit, 0);
	for (int k = 0; k < LR_NS_COUNT; k++)
		assert_same_ns(h.fds[k], ns_types[k], f->ns[k]);
	lr_step_handover_free(&h);
}

static void as_many_env_entries_as_allowed_arrive(void **state)
{
	struct fx *f = *state;
	int fds[LR_NS_COUNT];
	keeper_fds(f, false, fds);
	char **env = calloc(LR_STEP_MAX_ENV + 1, sizeof(*env));
	assert_non_null(env);
	for (int i = 0; i < LR_STEP_MAX_ENV; i++)
		assert_true(asprintf(&env[i], "V%d=%d", i, i) > 0);
	struct lr_error err = {0};
	assert_int_equal(lr_step_send_ready(f->sv[1], fds, "/w", false, env, NULL, &err), 0);
	struct lr_step_handover h;
	if (lr_step_receive(f->sv[0], &h, &err) != 0)
		fail_msg("lr_step_receive: %s", err.msg);
	assert_int_equal(h.n_env, LR_STEP_MAX_ENV);
	assert_string_equal(h.env[LR_STEP_MAX_ENV - 1], env[LR_STEP_MAX_ENV - 1]);
	lr_step_handover_free(&h);
	for (int i = 0; i < LR_STEP_MAX_ENV; i++)
		free(env[i]);
	free(env);
}

static void sender_refuses_more_env_entries_than_allowed(void **state)
{
	struct fx *f = *state;
	int fds[LR_NS_COUNT];
	keeper_fds(f, false, fds);
	char **env = calloc(LR_STEP_MAX_ENV + 2, sizeof(*env));
	assert_non_null(env);
	for (int i = 0; i <= LR_STEP_MAX_ENV; i++)
		env[i] = "A=1";
	struct lr_error err = {0};
	assert_int_equal(lr_step_send_ready(f->sv[1], fds, "/w", false, env, NULL, &err), -E2BIG);
	assert_non_null(strstr(err.msg, "environment is too large"));
	free(env);
}

static void failure_arrives_with_its_code_and_message(void **state)
{
	struct fx *f = *state;
	struct lr_error failure = {0};
	lr_error_set(&failure, ENOENT, "container image /img/x.sqsh: no such file");
	lr_step_send_failure(f->sv[1], &failure);
	struct lr_step_handover h, before;
	poison(&h);
	poison(&before);
	struct lr_error err = {0};
	assert_int_equal(lr_step_receive(f->sv[0], &h, &err), -ENOENT);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, "container image /img/x.sqsh: no such file");
	assert_memory_equal(&h, &before, sizeof(h));
}

/* slurmstepd never waits for ever on the helper (issue 12, item 12): a
 * hand-over that does not come is -ETIMEDOUT after the bound, and a
 * message already there is taken at once. */
static void a_handover_that_never_comes_times_out(void **state)
{
	struct fx *f = *state;
	struct lr_step_handover h;
	struct lr_error err = {0};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(lr_step_receive_within(f->sv[0], 200, &h, &err), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 190 && ms < 2000);
	assert_non_null(strstr(err.msg, "not ready"));
	struct lr_error failure;
	lr_error_set(&failure, ENOENT, "no such image");
	lr_step_send_failure(f->sv[1], &failure);
	assert_int_equal(lr_step_receive_within(f->sv[0], 200, &h, &err), -ENOENT);
	/* The helper's end without a word: at once, not after the bound. */
	close(f->sv[1]);
	f->sv[1] = -1;
	assert_int_equal(lr_step_receive_within(f->sv[0], 60000, &h, &err), -EPIPE);
}

static void failure_without_a_code_or_message_arrives_as_eio(void **state)
{
	struct fx *f = *state;
	struct lr_error failure = {0};
	lr_step_send_failure(f->sv[1], &failure);
	struct lr_step_handover h;
	struct lr_error err = {0};
	assert_int_equal(lr_step_receive(f->sv[0], &h, &err), -EIO);
	assert_string_equal(err.msg, strerror(EIO));
}

/* Found by tests/fuzz/fuzz_step.c: a failure whose text is empty (a
 * crafted one: lr_step_send_failure() always fills it) gave the user an
 * empty "labrun: " line. */
static void a_failure_with_an_empty_message_still_says_something(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.w.kind = WIRE_FAILED;
	f->c.w.code = ENOENT;
	f->c.w.msg[0] = '\0';
	send_crafted(f);
	struct lr_step_handover h;
	struct lr_error err = {0};
	assert_int_equal(lr_step_receive(f->sv[0], &h, &err), -ENOENT);
	assert_string_equal(err.msg, "the container could not be made: No such file or directory");
}

static void peer_closing_without_a_word_is_epipe(void **state)
{
	struct fx *f = *state;
	close(f->sv[1]);
	f->sv[1] = -1;
	assert_refused(f, EPIPE, "ended without a word");
}

/* ------------------------------------------------------------ crafted */

static void a_crafted_message_like_the_keepers_is_accepted(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	send_crafted(f);
	struct lr_step_handover h;
	struct lr_error err = {0};
	if (lr_step_receive(f->sv[0], &h, &err) != 0)
		fail_msg("the test's struct wire no longer mirrors lib/slurm/step.c's: %s",
			 err.msg);
	assert_string_equal(h.workdir, "/home/alice");
	assert_true(h.workdir_explicit);
	assert_int_equal(h.n_env, 2);
	assert_string_equal(h.env[1], "LANG=C.UTF-8");
	assert_int_equal(h.memory_limit, 1 << 20);
	lr_step_handover_free(&h);

	/* And what lr_step_send_ready() puts on the wire is laid out so. */
	int fds[LR_NS_COUNT];
	keeper_fds(f, true, fds);
	char *env[] = {"A=1", NULL};
	assert_int_equal(lr_step_send_ready(f->sv[1], fds, "/w", true, env,
					    &(struct lr_step_limits){.memory = 42}, &err),
			 0);
	char buf[sizeof(struct wire) + 64];
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = control.buf,
			   .msg_controllen = sizeof(control.buf)};
	ssize_t n = recvmsg(f->sv[0], &m, MSG_CMSG_CLOEXEC);
	assert_int_equal(n, sizeof(struct wire) + 3 + 4);
	struct wire w;
	memcpy(&w, buf, sizeof(w));
	assert_int_equal(w.magic, WIRE_MAGIC);
	assert_int_equal(w.kind, WIRE_READY);
	assert_int_equal(w.flags, WIRE_WORKDIR_EXPLICIT | WIRE_JOB_USER);
	assert_int_equal(w.workdir_len, 3);
	assert_int_equal(w.n_env, 1);
	assert_int_equal(w.env_len, 4);
	assert_int_equal(w.memory_limit, 42);
	assert_memory_equal(buf + sizeof(w), "/w\0A=1\0", 7);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	assert_non_null(cm);
	size_t n_fds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	assert_int_equal(n_fds, LR_NS_COUNT);
	for (size_t i = 0; i < n_fds; i++) {
		int fd;
		memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
		close(fd);
	}
}

static void a_short_message_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	send_raw(f->sv[1], &f->c.w, sizeof(f->c.w) - 1, f->c.fds, f->c.n_fds);
	assert_refused(f, EPROTO, "a short message");
}

static void a_message_of_unknown_magic_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.w.magic = WIRE_MAGIC ^ 1;
	send_crafted(f);
	assert_refused(f, EPROTO, "unknown form");
}

static void a_message_of_unknown_kind_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.w.kind = 3;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void too_few_namespace_fds_are_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.n_fds--;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void no_namespace_fds_are_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.n_fds = 0;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void a_job_user_fd_without_its_flag_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.fds[f->c.n_fds++] = f->ns[LR_NS_JOB_USER];
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void the_job_user_flag_without_its_fd_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.w.flags |= WIRE_JOB_USER;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

/* More than the receiver has room for: the kernel drops those that do not
 * fit (MSG_CTRUNC) and the receiver closes the rest. */
static void more_fds_than_namespaces_are_refused_and_closed(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	while (f->c.n_fds < MAX_FDS)
		f->c.fds[f->c.n_fds++] = f->ns[LR_NS_USER];
	send_crafted(f);
	assert_refused(f, EPROTO, "oversized");
}

static void a_regular_file_in_place_of_a_namespace_is_refused_and_closed(void **state)
{
	struct fx *f = *state;
	f->file = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	assert_true(f->file >= 0);
	for (int k = 0; k < LR_NS_COUNT; k++) {
		if (k == LR_NS_JOB_USER)
			continue;
		craft_default(f);
		size_t slot = (size_t)(k < LR_NS_JOB_USER ? k : k - 1);
		f->c.fds[slot] = f->file;
		send_crafted(f);
		char want[64];
		snprintf(want, sizeof(want), "%s namespace: not a namespace of that kind",
			 lr_ns_names[k]);
		assert_refused(f, EPROTO, want);
	}
}

static void a_namespace_of_the_wrong_kind_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	int t = f->c.fds[LR_NS_IPC];
	f->c.fds[LR_NS_IPC] = f->c.fds[LR_NS_PID];
	f->c.fds[LR_NS_PID] = t;
	send_crafted(f);
	assert_refused(f, EPROTO, "ipc namespace: not a namespace of that kind");

	/* A mount namespace where the job's user namespace goes. */
	craft_default(f);
	f->c.w.flags |= WIRE_JOB_USER;
	f->c.fds[LR_NS_JOB_USER] = f->ns[LR_NS_MNT];
	f->c.fds[f->c.n_fds++] = f->ns[LR_NS_MNT];
	send_crafted(f);
	assert_refused(f, EPROTO, "user namespace: not a namespace of that kind");
}

static void an_env_entry_without_equals_is_refused(void **state)
{
	struct fx *f = *state;
	const char *const env[] = {"PATH=/bin", "NOVALUE", NULL};
	craft_ready(f, "/w", env);
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed environment entry");
}

static void a_lab_root_may_not_use_in_a_path_is_refused(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {"../../x", ".hidden", "a/b", "sp ace"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		craft_default(f);
		snprintf(f->c.w.lab, sizeof(f->c.w.lab), "%s", bad[i]);
		send_crafted(f);
		assert_refused(f, EPROTO, "a malformed lab name");
	}
	craft_default(f);
	memset(f->c.w.lab, 'a', sizeof(f->c.w.lab)); /* no NUL */
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed lab name");
}

static void the_sender_refuses_a_lab_root_may_not_use(void **state)
{
	struct fx *f = *state;
	int fds[LR_NS_COUNT];
	keeper_fds(f, false, fds);
	struct lr_error err = {0};
	assert_int_equal(lr_step_send_ready(f->sv[1], fds, "/", false, NULL,
					    &(struct lr_step_limits){.lab = "../x"}, &err),
			 -EINVAL);
	assert_false(lr_step_lab_is_valid(""));
	assert_true(lr_step_lab_is_valid("physics-2.lab_b"));
}

static void an_env_entry_without_a_name_is_refused(void **state)
{
	struct fx *f = *state;
	const char *const env[] = {"=value", NULL};
	craft_ready(f, "/w", env);
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed environment entry");
}

static void an_env_entry_without_its_nul_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.body_len--; /* LANG=C.UTF-8 loses its NUL */
	f->c.w.env_len--;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed environment entry");
}

static void fewer_env_entries_than_sent_are_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.w.n_env = 1;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed environment from the container");
}

static void more_env_entries_than_sent_are_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.w.n_env = 3;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed environment entry");
}

static void a_relative_workdir_is_refused(void **state)
{
	struct fx *f = *state;
	craft_ready(f, "home/alice", some_env);
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed working directory");
}

static void an_empty_workdir_is_refused(void **state)
{
	struct fx *f = *state;
	craft_ready(f, "", some_env);
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void a_workdir_without_its_nul_is_refused(void **state)
{
	struct fx *f = *state;
	const char *const env[] = {"A=1", NULL};
	craft_ready(f, "/w", env);
	/* "/w" then "A=1\0": the workdir's length counts its two bytes only,
	 * the body is one byte shorter, the environment as sent. */
	memmove(f->c.body + 2, f->c.body + 3, 4);
	f->c.body_len--;
	f->c.w.workdir_len = 2;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed working directory");
}

static void a_workdir_with_a_nul_inside_is_refused(void **state)
{
	struct fx *f = *state;
	craft_ready(f, "/w/x", some_env);
	f->c.body[2] = '\0';
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed working directory");
}

static void an_env_length_beyond_the_message_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.w.env_len++;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void an_env_length_short_of_the_message_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.w.env_len--;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void a_workdir_length_beyond_the_message_is_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	f->c.w.workdir_len = UINT32_MAX;
	f->c.w.env_len = 0;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void lengths_that_overflow_are_refused(void **state)
{
	struct fx *f = *state;
	craft_default(f);
	/* workdir_len + env_len wraps round to the body's length in 32 bits. */
	f->c.w.env_len = (uint32_t)(f->c.body_len - f->c.w.workdir_len) + 1;
	f->c.w.workdir_len = UINT32_MAX;
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void more_env_entries_than_allowed_are_refused(void **state)
{
	struct fx *f = *state;
	craft_ready(f, "/w", NULL);
	for (int i = 0; i <= LR_STEP_MAX_ENV; i++) {
		memcpy(f->c.body + f->c.body_len, "A=1", 4);
		f->c.body_len += 4;
	}
	f->c.w.n_env = LR_STEP_MAX_ENV + 1;
	f->c.w.env_len = (uint32_t)(f->c.body_len - f->c.w.workdir_len);
	send_crafted(f);
	assert_refused(f, EPROTO, "a malformed message");
}

static void a_message_larger_than_allowed_is_refused(void **state)
{
	struct fx *f = *state;
	int size = 2 * LR_STEP_MSG_MAX;
	if (setsockopt(f->sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0)
		fail_msg("SO_SNDBUF: %s", strerror(errno));
	craft_ready(f, "/w", NULL);
	/* One entry filling the message to one byte over. */
	size_t l = LR_STEP_MSG_MAX + 1 - sizeof(struct wire) - f->c.body_len;
	memset(f->c.body + f->c.body_len, 'x', l - 1);
	f->c.body[f->c.body_len] = 'A';
	f->c.body[f->c.body_len + 1] = '=';
	f->c.body[f->c.body_len + l - 1] = '\0';
	f->c.body_len += l;
	f->c.w.n_env = 1;
	f->c.w.env_len = (uint32_t)l;
	socklen_t len = sizeof(size);
	getsockopt(f->sv[1], SOL_SOCKET, SO_SNDBUF, &size, &len);
	if ((size_t)size < sizeof(struct wire) + f->c.body_len + 4096)
		skip(); /* net.core.wmem_max too small to send it */
	send_crafted(f);
	assert_refused(f, EPROTO, "an oversized message");
}

static void a_failure_with_a_bad_code_and_no_nul_is_bounded(void **state)
{
	struct fx *f = *state;
	struct wire w = {.magic = WIRE_MAGIC, .kind = WIRE_FAILED, .code = -EPERM};
	memset(w.msg, 'x', sizeof(w.msg));
	send_raw(f->sv[1], &w, sizeof(w), NULL, 0);
	struct lr_step_handover h;
	struct lr_error err = {0};
	assert_int_equal(lr_step_receive(f->sv[0], &h, &err), -EIO);
	assert_int_equal(strlen(err.msg), sizeof(w.msg) - 1);

	w.code = 1 << 20;
	send_raw(f->sv[1], &w, sizeof(w), NULL, 0);
	assert_int_equal(lr_step_receive(f->sv[0], &h, &err), -EIO);
}

static void a_failure_carrying_fds_closes_them(void **state)
{
	struct fx *f = *state;
	struct wire w = {.magic = WIRE_MAGIC, .kind = WIRE_FAILED, .code = EACCES};
	snprintf(w.msg, sizeof(w.msg), "no");
	int fds[LR_NS_COUNT];
	keeper_fds(f, true, fds);
	send_raw(f->sv[1], &w, sizeof(w), fds, LR_NS_COUNT);
	assert_refused(f, EACCES, "no");
}

/* ------------------------------------------------------------ free */

/* An emptied handover, as the plugin keeps one before any receive. */
static void handover_free_of_an_empty_handover_is_safe_twice(void **state)
{
	(void)state;
	struct lr_step_handover h = {0};
	for (int k = 0; k < LR_NS_COUNT; k++)
		h.fds[k] = -1;
	int fds = count_fds();
	lr_step_handover_free(&h);
	lr_step_handover_free(&h);
	assert_int_equal(count_fds(), fds);
	assert_null(h.workdir);
	assert_int_equal(h.fds[LR_NS_USER], -1);
}

/* A struct only zeroed (= {0}, calloc, a static) says fd 0 in every slot:
 * freeing it must not close the process's stdin (slurmstepd's, in the
 * plugin).  STYLE.md: a destructor is safe on what it may be given. */
static void handover_free_of_a_zeroed_handover_closes_no_fd(void **state)
{
	(void)state;
	int saved = dup(0); /* keep whatever stdin is, put /dev/null there */
	int null = open("/dev/null", O_RDONLY);
	assert_true(null >= 0);
	assert_int_equal(dup2(null, 0), 0);
	close(null);
	struct lr_step_handover h = {0};
	lr_step_handover_free(&h);
	bool open0 = fcntl(0, F_GETFD) >= 0;
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
	assert_true(open0);
}

static void handover_free_accepts_null(void **state)
{
	(void)state;
	lr_step_handover_free(NULL);
}

/* Half filled, as a decoder that stopped midway leaves it. */
static void handover_free_of_a_partial_handover_closes_what_it_holds(void **state)
{
	(void)state;
	struct lr_step_handover h = {0};
	for (int k = 0; k < LR_NS_COUNT; k++)
		h.fds[k] = -1;
	h.fds[LR_NS_IPC] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(h.fds[LR_NS_IPC] >= 0);
	int fd = h.fds[LR_NS_IPC];
	h.workdir = strdup("/w");
	h.env = calloc(4, sizeof(char *));
	assert_non_null(h.env);
	h.env[0] = strdup("A=1");
	h.n_env = 1;
	lr_step_handover_free(&h);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_null(h.workdir);
	assert_null(h.env);
	for (int k = 0; k < LR_NS_COUNT; k++)
		assert_int_equal(h.fds[k], -1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(ready_hands_over_namespaces_workdir_env_and_memory),
		T(ready_with_job_user_namespace_hands_over_all_six),
		T(as_many_env_entries_as_allowed_arrive),
		T(sender_refuses_more_env_entries_than_allowed),
		T(failure_arrives_with_its_code_and_message),
		T(a_handover_that_never_comes_times_out),
		T(failure_without_a_code_or_message_arrives_as_eio),
		T(a_failure_with_an_empty_message_still_says_something),
		T(peer_closing_without_a_word_is_epipe),
		T(a_crafted_message_like_the_keepers_is_accepted),
		T(a_short_message_is_refused),
		T(a_message_of_unknown_magic_is_refused),
		T(a_message_of_unknown_kind_is_refused),
		T(too_few_namespace_fds_are_refused),
		T(no_namespace_fds_are_refused),
		T(a_job_user_fd_without_its_flag_is_refused),
		T(the_job_user_flag_without_its_fd_is_refused),
		T(more_fds_than_namespaces_are_refused_and_closed),
		T(a_regular_file_in_place_of_a_namespace_is_refused_and_closed),
		T(a_namespace_of_the_wrong_kind_is_refused),
		T(a_lab_root_may_not_use_in_a_path_is_refused),
		T(the_sender_refuses_a_lab_root_may_not_use),
		T(an_env_entry_without_equals_is_refused),
		T(an_env_entry_without_a_name_is_refused),
		T(an_env_entry_without_its_nul_is_refused),
		T(fewer_env_entries_than_sent_are_refused),
		T(more_env_entries_than_sent_are_refused),
		T(a_relative_workdir_is_refused),
		T(an_empty_workdir_is_refused),
		T(a_workdir_without_its_nul_is_refused),
		T(a_workdir_with_a_nul_inside_is_refused),
		T(an_env_length_beyond_the_message_is_refused),
		T(an_env_length_short_of_the_message_is_refused),
		T(a_workdir_length_beyond_the_message_is_refused),
		T(lengths_that_overflow_are_refused),
		T(more_env_entries_than_allowed_are_refused),
		T(a_message_larger_than_allowed_is_refused),
		T(a_failure_with_a_bad_code_and_no_nul_is_bounded),
		T(a_failure_carrying_fds_closes_them),
		cmocka_unit_test(handover_free_of_an_empty_handover_is_safe_twice),
		cmocka_unit_test(handover_free_of_a_zeroed_handover_closes_no_fd),
		cmocka_unit_test(handover_free_accepts_null),
		cmocka_unit_test(handover_free_of_a_partial_handover_closes_what_it_holds),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
