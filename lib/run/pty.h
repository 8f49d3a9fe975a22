/* pty.h - the container's terminal: a pty of labrun's own, relayed to the
 * caller's terminal (issue 12, item 1; doc/DECISIONS.md, "Terminal").
 *
 * Runs as the user, in the launcher.  Why: a job whose controlling
 * terminal is the caller's can push bytes into it with ioctl(TIOCSTI),
 * and the caller's shell runs them, outside any container, once labrun
 * exits.  The job gets instead the slave side of a new pty, as the
 * controlling terminal of the container's own session (the keeper's); the
 * caller's terminal stays in labrun, which copies bytes both ways, so
 * whatever the job types lands in a pty that dies with the container.
 */
#ifndef LABRUN_PTY_H
#define LABRUN_PTY_H

#include <stdbool.h>
#include <stddef.h>
#include <poll.h>
#include <termios.h>

#include "error.h"

/* What one read or write moves, and what waits while the other side is
 * not ready (the relay stops reading until it is). */
#define LR_PTY_BUF 4096

struct lr_pty {
	int master;	 /* labrun's end, non-blocking; -1: no pty */
	int slave;	 /* the job's end, until handed to the keeper */
	char path[64];	 /* the slave's name on the host's devpts, for /dev/console */
	bool job_fd[3];	 /* which of the job's fds 0..2 get the slave: those
			    that were terminals in labrun */
	int in;		 /* the caller's terminal (stdin) reopened for reading
			    (a description of labrun's own, non-blocking) */
	int out;	 /* and stdout's, reopened for writing */
	bool has_saved;	 /* saved is the caller's terminal's settings */
	bool raw;	 /* the caller's terminal is in raw mode now */
	bool in_eof;	 /* the caller's terminal hung up: read no more */
	bool master_hup; /* no slave left open: nothing more to read */
	struct termios saved;
	char to_job[LR_PTY_BUF]; /* typed, not yet taken by the pty */
	size_t to_job_len;
	char to_user[LR_PTY_BUF]; /* from the job, not yet on the terminal */
	size_t to_user_off, to_user_len;
};

/* When fds 0 and 1 are terminals (interactive use), a new pty whose
 * settings and window size are the caller's terminal's, for the job's fds
 * 0, 1 and (when a terminal too) 2; p->master is -1 (and nothing is open)
 * otherwise.  Nothing of the caller's terminal is changed yet. */
int lr_pty_open(struct lr_pty *p, struct lr_error *err);

/* In the keeper, right after fork: the slave on each of fds 0..2 that was
 * a terminal, every other pty fd closed, so that the caller's terminal is
 * not even held by the container.  Returns the fd the keeper makes its
 * controlling terminal (0, 1 or 2), or -1 without a pty. */
int lr_pty_child_fds(struct lr_pty *p);

/* In labrun after the fork: close the slave; from here on the master sees
 * the job's output. */
void lr_pty_parent_ready(struct lr_pty *p);

/* Put the caller's terminal in raw mode (each key straight to the job's
 * pty, whose own line discipline makes Ctrl-C, Ctrl-Z, Ctrl-D and the
 * echo) when labrun is in its foreground; give it back its settings
 * otherwise.  Call at start and after every SIGCONT.  Until
 * lr_pty_restore(), a fatal signal to labrun restores the settings before
 * it kills labrun. */
void lr_pty_sync(struct lr_pty *p);

/* The caller's terminal's settings as they were, now (async-signal-safe). */
void lr_pty_restore(struct lr_pty *p);

/* The caller's window size onto the pty (SIGWINCH): the kernel then sends
 * SIGWINCH to the pty's foreground process group. */
void lr_pty_resize(struct lr_pty *p);

/* The relay, in the caller's poll loop: fill pollfds (3 of them) with what
 * the relay waits for, then move what poll found ready. */
#define LR_PTY_POLLFDS 3
void lr_pty_poll_set(const struct lr_pty *p, struct pollfd *pfd);
void lr_pty_pump(struct lr_pty *p, const struct pollfd *pfd);

/* After the job ended: copy what it wrote and is still in the pty to the
 * caller's terminal, waiting at most timeout_ms for the terminal. */
#define LR_PTY_DRAIN_MS 1000
void lr_pty_drain(struct lr_pty *p, int timeout_ms);

/* Restore the terminal and close everything (p may be all -1). */
void lr_pty_close(struct lr_pty *p);

#endif
