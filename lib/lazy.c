/* lazy.c - shared libraries loaded when first used (see lazy.h). */
#include "build-config.h"

#include <dlfcn.h>
#include <stdio.h>

#include "lazy.h"

static char failure[256];

void *lr_lazy_sym(struct lr_lazy_lib *lib, const char *name)
{
	if (!lib->handle && !lib->failed) {
		/* RTLD_LOCAL: its symbols serve only the calls through here,
		 * never an interposition on labrun's own. */
		lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
		if (!lib->handle) {
			const char *why = dlerror();
			snprintf(failure, sizeof(failure), "%s", why ? why : lib->soname);
			lib->failed = 1;
		}
	}
	if (!lib->handle)
		return NULL;
	void *sym = dlsym(lib->handle, name);
	if (!sym)
		snprintf(failure, sizeof(failure), "%s: no %s", lib->soname, name);
	return sym;
}

const char *lr_lazy_failure(void)
{
	return failure[0] ? failure : NULL;
}
