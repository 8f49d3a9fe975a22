/* tiocsti - type a command into the caller's terminal (issue 12, item 1).
 *
 * TIOCSTI pushes bytes into a terminal's input queue as if typed there.
 * A job whose controlling terminal is the caller's own (it shares the
 * caller's session) thereby types commands that the caller's shell runs,
 * as the user and outside any container, once labrun exits.  labrun gives
 * the job a pty of its own (lib/run/pty.c), so whatever the job types lands in
 * that pty, which dies with the container.  The probe cannot tell from the
 * inside which terminal it reached: tests/launcher/tiocsti.bats checks
 * that the caller's shell never ran the text.
 *
 * Usage: tiocsti TEXT.  Tries fds 0, 1, 2, /dev/tty and /dev/console; for
 * each terminal prints INFO when the kernel took the bytes (harmless only
 * if that terminal is the container's own), OK when it refused them.
 * Exit 2 when no terminal was found to try.
 */
#include "probe.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static int tried;

static void inject(int fd, const char *what, const char *text)
{
	if (fd < 0 || !isatty(fd))
		return;
	tried++;
	size_t done = 0;
	for (const char *c = text; *c; c++, done++)
		if (ioctl(fd, TIOCSTI, c) < 0)
			break;
	if (done == strlen(text))
		info("TIOCSTI on %s took %zu bytes (harmless only in the container's own pty)",
		     what, done);
	else
		ok("TIOCSTI on %s refused: %s", what, strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		broken("usage: tiocsti TEXT");
		return probe_exit();
	}
	char text[512];
	snprintf(text, sizeof(text), "%s\n", argv[1]);
	inject(0, "stdin", text);
	inject(1, "stdout", text);
	inject(2, "stderr", text);
	static const char *const devs[] = {"/dev/tty", "/dev/console"};
	for (size_t i = 0; i < 2; i++) {
		int fd = open(devs[i], O_RDWR | O_NOCTTY | O_CLOEXEC);
		inject(fd, devs[i], text);
		if (fd >= 0)
			close(fd);
	}
	if (!tried)
		broken("no terminal to try TIOCSTI on");
	return probe_exit();
}
