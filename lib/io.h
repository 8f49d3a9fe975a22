/* io.h - writes that go through in full.  Any privilege. */
#ifndef LABRUN_IO_H
#define LABRUN_IO_H

#include <stddef.h>

/* All len bytes of buf written to fd, however many write(2) calls that
 * takes (EINTR retried): 0, or -errno (-EIO when fd takes no more). */
int lr_write_all(int fd, const void *buf, size_t len);

#endif
