/* tty_reach [tty=DEV:INO] - the job cannot type into the caller's
 * terminal: no TIOCSTI that reaches it, no other way onto it.
 *
 * Issue 12 item 1: an image whose command calls ioctl(0, TIOCSTI, ...)
 * pushed characters into the caller's terminal, and after labrun exited
 * the caller's shell ran them as the user, outside any container
 * (bubblewrap's CVE-2017-5226).  The kernel allows TIOCSTI only on the
 * caller's controlling terminal (or with CAP_SYS_ADMIN), so a job in a
 * session of its own, on a pty of labrun's own, cannot reach the caller's.
 *
 * tty=DEV:INO names the caller's terminal as `stat -L -c %d:%i` shows it
 * outside (device numbers and inodes are the same inside: fstat is not
 * namespaced).  For fds 0, 1, 2, /dev/tty and /dev/console:
 *   TIOCSTI works on the caller's terminal    ESCAPED
 *   TIOCSTI works on another terminal         INFO (labrun's own pty: the
 *                                              job types to itself)
 *   TIOCSTI fails, or not a terminal          OK
 * Without tty=, a TIOCSTI that works is ESCAPED: nothing shows it is not
 * the caller's terminal.  The text pushed is a harmless shell command,
 * "echo LR-TIOCSTI-INJECTED", that the test looks for in the caller's
 * shell.  Also tried: TIOCSCTTY to steal a terminal as controlling tty,
 * TIOCCONS to redirect the console, TIOCSPGRP to take the caller's
 * foreground.
 */
#include "probe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#define INJECT "echo LR-TIOCSTI-INJECTED\n"

static int have_caller;
static dev_t caller_dev;
static ino_t caller_ino;

/* Terminals seen on fds whose inode told whose they are: TIOCGDEV (the
 * tty's device number) -> caller's or not.  /dev/tty is a node of its own
 * (5:0) that stands for the controlling terminal: its inode tells nothing,
 * its TIOCGDEV is matched against these. */
#define MAX_SEEN 8
static struct {
	unsigned int dev;
	int caller;
} seen[MAX_SEEN];
static int n_seen;

static int is_caller(int fd)
{
	struct stat st;
	unsigned int ttydev = 0;
	int have_dev = ioctl(fd, TIOCGDEV, &ttydev) == 0;
	if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 &&
	    minor(st.st_rdev) == 0) {
		/* /dev/tty: whose it is, by a terminal already placed. */
		for (int i = 0; have_dev && i < n_seen; i++)
			if (seen[i].dev == ttydev)
				return seen[i].caller;
		return -1;
	}
	int caller = have_caller && fstat(fd, &st) == 0 && st.st_dev == caller_dev &&
		     st.st_ino == caller_ino;
	if (have_dev && n_seen < MAX_SEEN) {
		seen[n_seen].dev = ttydev;
		seen[n_seen++].caller = caller;
	}
	return caller;
}

static void try_fd(int fd, const char *what)
{
	if (!isatty(fd)) {
		ok("%s is not a terminal: TIOCSTI has nothing to push into", what);
		return;
	}
	int caller = is_caller(fd);
	if (caller == 1)
		info("%s is the caller's own terminal", what);
	else if (caller < 0)
		info("%s: not known whose terminal it is: counted as the caller's", what);
	if (caller < 0)
		caller = 1;
	int pushed = 0;
	for (const char *c = INJECT; *c; c++) {
		if (ioctl(fd, TIOCSTI, c) < 0)
			break;
		pushed++;
	}
	if (!pushed) {
		ok("TIOCSTI on %s: %s", what, strerror(errno));
	} else if (caller || !have_caller) {
		escaped("TIOCSTI on %s pushed %d characters into %s", what, pushed,
			caller ? "the caller's terminal" : "a terminal (not known whose)");
	} else {
		info("TIOCSTI on %s works: a terminal of the container's own, not the caller's",
		     what);
		/* Take back what was pushed, so the job's own shell does not
		 * run it either. */
		tcflush(fd, TCIFLUSH);
	}

	errno = 0;
	if (ioctl(fd, TIOCSCTTY, 1) == 0 && caller)
		escaped("TIOCSCTTY: the caller's terminal became the job's controlling terminal");
	else
		ok("TIOCSCTTY(force) on %s: %s", what,
		   errno ? strerror(errno) : "not the caller's terminal");
	errno = 0;
	if (ioctl(fd, TIOCCONS) == 0)
		escaped("TIOCCONS on %s redirected the console", what);
	else
		ok("TIOCCONS on %s: %s", what, strerror(errno));
	if (caller) {
		pid_t pg = getpgrp();
		if (ioctl(fd, TIOCSPGRP, &pg) == 0)
			escaped("TIOCSPGRP: the job took the caller's terminal's foreground");
		else
			ok("TIOCSPGRP on the caller's terminal: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	/* A job in the background of the caller's terminal would be stopped
	 * by SIGTTOU at TIOCSPGRP; ignored, the kernel lets it through. */
	signal(SIGTTOU, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		unsigned long long d, n;
		if (sscanf(argv[i], "tty=%llu:%llu", &d, &n) == 2) {
			have_caller = 1;
			caller_dev = (dev_t)d;
			caller_ino = (ino_t)n;
		}
	}
	try_fd(0, "fd 0");
	try_fd(1, "fd 1");
	try_fd(2, "fd 2");
	static const char *devs[] = {"/dev/tty", "/dev/console"};
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		int fd = open(devs[i], O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			ok("open %s: %s", devs[i], strerror(errno));
			continue;
		}
		try_fd(fd, devs[i]);
		close(fd);
	}
	return probe_exit();
}
