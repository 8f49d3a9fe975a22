/* hostile.h - the squashfs generator of hostile.c, for tests that link it
 * in (built with HOSTILE_NO_MAIN). */
#ifndef LABRUN_TESTS_HOSTILE_H
#define LABRUN_TESTS_HOSTILE_H

/* Write the squashfs of that kind (hostile.c's header lists them) to out.
 * 0, -EINVAL for an unknown kind, or the negative errno of the write. */
int hostile_make(const char *kind, const char *out);

/* Every kind, NULL-terminated. */
const char *const *hostile_kinds(void);

#endif
