/* probe.h - what every escape probe shares.
 *
 * A probe runs as the job inside a labrun container (tests/launcher/
 * probes.bats runs each from probes.sqfs) and tries one way out.  For each
 * attempt it prints one line:
 *   OK <what>       the attempt failed as it should
 *   ESCAPED <what>  it worked: a hole in the container
 *   INFO <what>     something allowed that is not an escape (said why)
 * and exits 1 if anything escaped, 2 if the probe could not run its test
 * (a test that cannot fail is a defect: say so instead of passing), else 0.
 * Static, no dependency on the image's libc.
 */
#ifndef LABRUN_PROBE_H
#define LABRUN_PROBE_H

#define _GNU_SOURCE 1
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int probe_escaped __attribute__((unused));
static int probe_broken __attribute__((unused));

/* The command name of pid, "?" when it cannot be read. */
__attribute__((unused)) static void probe_comm(long pid, char *comm, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	snprintf(comm, len, "?");
	FILE *f = fopen(path, "r");
	if (f) {
		if (fgets(comm, (int)len, f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
}

__attribute__((unused)) static void probe_line(const char *tag, const char *fmt, va_list ap)
{
	printf("%s ", tag);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

__attribute__((format(printf, 1, 2), unused)) static void ok(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	probe_line("OK", fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2), unused)) static void escaped(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	probe_line("ESCAPED", fmt, ap);
	va_end(ap);
	probe_escaped++;
}

__attribute__((format(printf, 1, 2), unused)) static void info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	probe_line("INFO", fmt, ap);
	va_end(ap);
}

/* The probe itself could not do its test (missing file, odd image). */
__attribute__((format(printf, 1, 2), unused)) static void broken(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	probe_line("BROKEN", fmt, ap);
	va_end(ap);
	probe_broken++;
}

/* Expect a call that returned r (with errno) to have failed. */
#define EXPECT_FAIL(r, ...)                                                                        \
	do {                                                                                       \
		int e_ = errno;                                                                    \
		char what_[1024];                                                                  \
		snprintf(what_, sizeof(what_), __VA_ARGS__);                                       \
		if ((r) < 0)                                                                       \
			ok("%s: %s", what_, strerror(e_));                                         \
		else                                                                               \
			escaped("%s: succeeded", what_);                                           \
	} while (0)

__attribute__((unused)) static int probe_exit(void)
{
	if (probe_escaped)
		return 1;
	return probe_broken ? 2 : 0;
}

#endif
