/* cleanup.h - __attribute__((cleanup)) helpers (STYLE.md, Resources).
 *
 *   _cleanup_free_ char *s = strdup(x);
 *   _cleanup_close_ int fd = open(...);
 *   return take_fd(&fd);        hand ownership to the caller
 */
#ifndef LABRUN_CLEANUP_H
#define LABRUN_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void lr_freep(void *p)
{
	free(*(void **)p);
}
static inline void lr_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void lr_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void lr_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_ __attribute__((cleanup(lr_freep)))
#define _cleanup_close_ __attribute__((cleanup(lr_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(lr_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(lr_closedirp)))

static inline int take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
static inline void *take_ptr(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}

#endif
