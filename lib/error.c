/* error.c - building one-line error messages on the way up (see error.h).
 * Runs with any privilege; async-signal-unsafe (uses vsnprintf). */
#include "build-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "escape.h"

/* Where strerror() alone misleads, the words that tell the user what to
 * do (STYLE.md: "add a hint where an errno misleads").  "Too many open
 * files" under `ulimit -n 4` read like a fault of whatever file was named
 * (issue 12). */
static const char *hint(int code)
{
	switch (code) {
	case EMFILE: return " (labrun ran out of file descriptors: raise 'ulimit -n')";
	case ENFILE: return " (the system ran out of open files)";
	default: return "";
	}
}

/* Make err->msg safe to print on a terminal, in place: a message quotes
 * names from images, archives and files others wrote (a tar member, a
 * squashfs entry, a lab file), and a terminal obeys ESC, CR, BS and the C1
 * controls in them instead of showing them (issue 12: text an image chose
 * must never type into the user's terminal).  C0 controls, DEL, C1
 * controls and bytes that are not UTF-8 become \xHH; everything else,
 * backslashes included, stays, so text escaped already (lr_escape_text) is
 * left as it is and a message escaped twice reads the same. */
static void sanitize(struct lr_error *err)
{
	size_t n = strlen(err->msg);
	bool clean = true;
	for (size_t i = 0; i < n && clean; i++)
		clean = (unsigned char)err->msg[i] >= 0x20 && err->msg[i] != 0x7f &&
			(unsigned char)err->msg[i] < 0x80;
	if (clean)
		return;
	char out[sizeof(err->msg)];
	size_t o = lr_escape_controls(out, sizeof(out), err->msg, n);
	memcpy(err->msg, out, o + 1);
}

static int set(struct lr_error *err, int code, int with_errno, const char *fmt, va_list ap)
{
	if (code <= 0)
		code = EIO;
	if (!err)
		return -code;
	err->code = code;
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s%s", strerror(code),
			 hint(code));
	sanitize(err);
	return -code;
}

int lr_error_set(struct lr_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set(err, code, 0, fmt, ap);
	va_end(ap);
	return r;
}

int lr_error_errno(struct lr_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set(err, code, 1, fmt, ap);
	va_end(ap);
	return r;
}

int lr_error_prefix(struct lr_error *err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	int code = err->code ? err->code : EIO;
	char prefix[LR_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	char old[LR_ERROR_MSG_MAX];
	memcpy(old, err->msg, sizeof(old));
	const char *rest = old[0] ? old : strerror(code);
	/* "prefix: rest", cut at the buffer's end. */
	size_t len = 0, cap = sizeof(err->msg) - 1;
	const char *parts[] = {prefix, ": ", rest};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(parts[i]);
		if (n > cap - len)
			n = cap - len;
		memcpy(err->msg + len, parts[i], n);
		len += n;
	}
	err->msg[len] = '\0';
	err->code = code;
	sanitize(err);
	return -code;
}

void lr_error_clear(struct lr_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
