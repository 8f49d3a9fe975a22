/* escape.h - text from files others wrote, made safe to print on a
 * terminal.
 *
 * Runs with any privilege; allocates nothing.
 *
 * A lab file (or any admin or user file labrun quotes back) may hold bytes
 * that a terminal obeys instead of showing: ESC starts a control sequence
 * that can retitle the window, move the cursor over earlier output or, on
 * some terminals, answer back into the input (the class of CVE-2003-0063);
 * a raw CR or BS hides what came before it on the line.  Everything labrun
 * prints that came from such a file goes through lr_escape_text(), so what
 * the admin reads is what the file says.
 */
#ifndef LABRUN_ESCAPE_H
#define LABRUN_ESCAPE_H

#include <stddef.h>

#include "error.h"

/* in (n bytes) into out (size bytes, always NUL-terminated when size > 0),
 * with C0 controls, DEL, the UTF-8 C1 controls (U+0080-U+009F), bytes that
 * are not UTF-8 and the backslash itself written as \n, \t, \r, \\ or
 * \xHH; printable ASCII and valid UTF-8 otherwise as they are.  An escape
 * is never cut in half at the end of out.  Returns the length written. */
size_t lr_escape_text(char *out, size_t size, const char *in, size_t n);

/* The same, NUL-terminated in. */
size_t lr_escape_str(char *out, size_t size, const char *in);

/* The same, but every control written \xHH and backslash left as it is:
 * what lr_error_*() do to every message (error.c), so that text escaped
 * already reads the same after a second pass. */
size_t lr_escape_controls(char *out, size_t size, const char *in, size_t n);

#endif
