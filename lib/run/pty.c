/* pty.c - the container's terminal, a pty of labrun's own (pty.h).
 *
 * Runs as the user, in the launcher (and, for lr_pty_child_fds(), in the
 * keeper right after its fork).  Why this is safe: the job's only
 * terminal is the slave of a pty that labrun made; the caller's terminal
 * is held by labrun alone (the keeper gets the slave on fds 0..2 in its
 * place before it does anything else), so no process of the container can
 * name the caller's terminal in an ioctl: TIOCSTI (type into it),
 * TIOCSCTTY, TIOCSETD, TCSETS.  Bubblewrap only puts the job in a new
 * session (--new-session, CVE-2017-5226), which blocks TIOCSTI but leaves
 * the job without job control; a relayed pty keeps Ctrl-C, Ctrl-Z, window
 * size and the echo working as on the caller's own terminal, the way
 * sudo's use_pty, docker -t and systemd-nspawn do it.
 *
 * The caller's terminal is reopened through /proc/self/fd, which gives
 * labrun an open file description of its own: O_NONBLOCK on it does not
 * leak into the caller's shell, which shares fds 0..2.  So the relay never
 * blocks labrun, which also serves the layers over FUSE: a job that stops
 * reading its terminal, or a terminal that stops taking output, stalls
 * only its own direction of the relay.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pty.h"

/* At most this much output of the job is copied after it ended: what its
 * background processes write after that is not waited for. */
#define DRAIN_MAX (1024 * 1024)

/* Signals that kill labrun with their default action although they are
 * not forwarded to the job (container.c blocks those): the terminal gets
 * its settings back first.  SIGKILL cannot be caught; a shell's `reset`
 * or `stty sane` is then the user's way back. */
static const int fatal_signals[] = {SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU,  SIGXFSZ, SIGPIPE,
				    SIGIO,   SIGSYS,	SIGSEGV, SIGBUS,   SIGFPE,  SIGILL,
				    SIGABRT, SIGTRAP,	SIGPWR,	 SIGSTKFLT};

static struct lr_pty *guarded;

static void restore_and_die(int sig)
{
	if (guarded && guarded->raw)
		tcsetattr(guarded->in, TCSANOW, &guarded->saved);
	/* SA_RESETHAND made the action the default again; SA_NODEFER lets
	 * it be delivered now. */
	raise(sig);
}

static void guard_signals(struct lr_pty *p, bool on)
{
	guarded = on ? p : NULL;
	struct sigaction sa = {.sa_handler = on ? restore_and_die : SIG_DFL};
	if (on)
		sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaction(fatal_signals[i], &sa, NULL);
}

/* The terminal on fd, reopened as a description of our own (see top). */
static int reopen(int fd, int flags)
{
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = open(path, flags | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (r >= 0 && isatty(r))
		return r;
	if (r >= 0)
		close(r);
	/* A terminal we may not reopen (another user's, or no /proc): share
	 * the caller's description, blocking; poll still says when to go. */
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

int lr_pty_open(struct lr_pty *p, struct lr_error *err)
{
	memset(p, 0, sizeof(*p));
	p->master = p->slave = p->in = p->out = -1;
	/* Only for interactive use: with stdout a pipe (`labrun ... | less`)
	 * labrun would compete with the reader of the pipe for the keys.
	 * Without a pty the job still cannot type into the caller's terminal:
	 * it is not its controlling terminal (keeper.c), and TIOCSTI takes
	 * only that (drivers/tty/tty_io.c, tiocsti()). */
	if (!isatty(0) || !isatty(1))
		return 0;
	p->job_fd[0] = p->job_fd[1] = true;
	p->job_fd[2] = isatty(2);
	int term = 0;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return lr_error_errno(err, errno, "make the container's terminal (/dev/ptmx)");
	/* The slave through the master (TIOCGPTPEER, Linux 4.13): no path
	 * lookup that another devpts mounted over /dev/pts could answer. */
	int s = -1;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, p->path, sizeof(p->path)) != 0 ||
	    (s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 ||
	    fcntl(m, F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;
		close(m);
		return lr_error_errno(err, e, "make the container's terminal (%s)", p->path);
	}
	p->master = m;
	p->slave = s;
	if (tcgetattr(term, &p->saved) == 0) {
		p->has_saved = true;
		tcsetattr(s, TCSANOW, &p->saved);
	}
	p->in = reopen(0, O_RDONLY);
	p->out = p->in < 0 ? -1 : reopen(1, O_WRONLY);
	if (p->in < 0 || p->out < 0) {
		int e = errno;
		lr_pty_close(p);
		return lr_error_errno(err, e, "the terminal of labrun's %s",
				      p->in < 0 ? "standard input" : "standard output");
	}
	lr_pty_resize(p);
	return 0;
}

int lr_pty_child_fds(struct lr_pty *p)
{
	if (p->master < 0)
		return -1;
	guard_signals(p, false);
	int first = -1;
	for (int fd = 0; fd < 3; fd++) {
		if (!p->job_fd[fd])
			continue;
		dup2(p->slave, fd); /* not close-on-exec: the job's */
		if (first < 0)
			first = fd;
	}
	close(p->slave);
	close(p->master);
	if (p->in >= 0)
		close(p->in);
	if (p->out >= 0)
		close(p->out);
	p->slave = p->master = p->in = p->out = -1;
	return first;
}

void lr_pty_parent_ready(struct lr_pty *p)
{
	if (p->slave >= 0)
		close(p->slave);
	p->slave = -1;
}

void lr_pty_sync(struct lr_pty *p)
{
	if (p->master < 0 || p->in < 0 || !p->has_saved)
		return;
	/* Only the foreground may set the terminal (a background tcsetattr
	 * would stop labrun with SIGTTOU) or read it (SIGTTIN). */
	pid_t pgrp = tcgetpgrp(p->in);
	/* Not labrun's controlling terminal (started by setsid): no job
	 * control applies, labrun has it to itself. */
	bool fg = pgrp == getpgrp() || (pgrp < 0 && errno == ENOTTY);
	if (fg && !p->raw) {
		struct termios t = p->saved;
		cfmakeraw(&t);
		guard_signals(p, true);
		if (tcsetattr(p->in, TCSANOW, &t) == 0)
			p->raw = true;
		else
			guard_signals(p, false);
	} else if (!fg && p->raw) {
		lr_pty_restore(p);
	}
	if (fg)
		lr_pty_resize(p);
}

void lr_pty_restore(struct lr_pty *p)
{
	if (!p->raw)
		return;
	tcsetattr(p->in, TCSANOW, &p->saved);
	p->raw = false;
	guard_signals(p, false);
}

void lr_pty_resize(struct lr_pty *p)
{
	if (p->master < 0)
		return;
	struct winsize ws;
	for (int fd = 0; fd < 3; fd++)
		if (p->job_fd[fd] && ioctl(fd, TIOCGWINSZ, &ws) == 0) {
			ioctl(p->master, TIOCSWINSZ, &ws);
			return;
		}
}

void lr_pty_poll_set(const struct lr_pty *p, struct pollfd *pfd)
{
	for (int i = 0; i < LR_PTY_POLLFDS; i++)
		pfd[i] = (struct pollfd){.fd = -1};
	if (p->master < 0)
		return;
	if (p->in >= 0 && p->raw && !p->in_eof && p->to_job_len < sizeof(p->to_job))
		pfd[0] = (struct pollfd){.fd = p->in, .events = POLLIN};
	short ev = 0;
	if (!p->master_hup && p->to_user_len == 0)
		ev |= POLLIN;
	if (!p->master_hup && p->to_job_len > 0)
		ev |= POLLOUT;
	if (ev)
		pfd[1] = (struct pollfd){.fd = p->master, .events = ev};
	if (p->to_user_len > p->to_user_off)
		pfd[2] = (struct pollfd){.fd = p->out, .events = POLLOUT};
}

static void from_master(struct lr_pty *p)
{
	ssize_t n = read(p->master, p->to_user, sizeof(p->to_user));
	if (n > 0) {
		p->to_user_off = 0;
		p->to_user_len = (size_t)n;
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		p->master_hup = true; /* EIO: every slave fd is closed */
	}
}

static void to_user(struct lr_pty *p)
{
	ssize_t n = write(p->out, p->to_user + p->to_user_off, p->to_user_len - p->to_user_off);
	if (n > 0)
		p->to_user_off += (size_t)n;
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		p->to_user_off = p->to_user_len; /* the terminal is gone */
	if (p->to_user_off == p->to_user_len)
		p->to_user_off = p->to_user_len = 0;
}

void lr_pty_pump(struct lr_pty *p, const struct pollfd *pfd)
{
	if (p->master < 0)
		return;
	if (pfd[0].fd >= 0 && pfd[0].revents) {
		size_t room = sizeof(p->to_job) - p->to_job_len;
		ssize_t n = read(p->in, p->to_job + p->to_job_len, room);
		if (n > 0)
			p->to_job_len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			p->in_eof = true; /* hung up; SIGHUP tells the job */
	}
	if (pfd[1].fd >= 0 && (pfd[1].revents & POLLOUT)) {
		ssize_t n = write(p->master, p->to_job, p->to_job_len);
		if (n > 0) {
			memmove(p->to_job, p->to_job + n, p->to_job_len - (size_t)n);
			p->to_job_len -= (size_t)n;
		}
	}
	if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    p->to_user_len == 0)
		from_master(p);
	if (p->to_user_len > 0)
		to_user(p);
}

void lr_pty_drain(struct lr_pty *p, int timeout_ms)
{
	if (p->master < 0)
		return;
	/* A read on the master waits for the pty's pending work (n_tty_read
	 * flushes the buffer work), so what the job wrote before it exited
	 * is there now; what is not there is not waited for. */
	size_t copied = 0;
	while (copied < DRAIN_MAX) {
		if (p->to_user_len == 0) {
			if (p->master_hup)
				break;
			from_master(p);
			if (p->to_user_len == 0)
				break;
			copied += p->to_user_len;
		}
		struct pollfd out = {.fd = p->out, .events = POLLOUT};
		if (poll(&out, 1, timeout_ms) <= 0)
			break;
		to_user(p);
	}
}

void lr_pty_close(struct lr_pty *p)
{
	lr_pty_restore(p);
	int *fds[] = {&p->master, &p->slave, &p->in, &p->out};
	for (size_t i = 0; i < 4; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}
