/* lazy.c - shared libraries loaded when first used (see lazy.h). */
#include "build-config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "lazy.h"

/* The libraries that failed, by soname: the five codecs', hwloc and
 * libslurm at most. */
static struct {
	const char *soname;
	char why[200];
} failures[8];

/* soname failed: why, then (when not NULL) ": no " and the missing name. */
static void failed(const char *soname, const char *why, const char *missing)
{
	size_t i = 0;
	while (i < sizeof(failures) / sizeof(failures[0]) - 1 && failures[i].soname &&
	       strcmp(failures[i].soname, soname) != 0)
		i++;
	failures[i].soname = soname; /* the last slot is shared when full */
	snprintf(failures[i].why, sizeof(failures[i].why), "%s%s%s", why, missing ? ": no " : "",
		 missing ? missing : "");
}

void *lr_lazy_sym(struct lr_lazy_lib *lib, const char *name)
{
	if (!lib->handle && !lib->failed) {
		/* RTLD_LOCAL: its symbols serve only the calls through here,
		 * never an interposition on labrun's own.  libslurm's plugins
		 * (auth_munge.so, accounting_storage_slurmdbd.so) link no
		 * library and find its symbols in the global scope: it is
		 * loaded RTLD_GLOBAL.  labrun's programs export none of their
		 * own (no -rdynamic), so nothing of theirs can interpose on
		 * the plugins' calls either. */
		lib->handle =
			dlopen(lib->soname, RTLD_NOW | (lib->global ? RTLD_GLOBAL : RTLD_LOCAL));
		if (!lib->handle) {
			const char *why = dlerror();
			failed(lib->soname, why ? why : lib->soname, NULL);
			lib->failed = 1;
		}
	}
	if (!lib->handle)
		return NULL;
	void *sym = dlsym(lib->handle, name);
	if (!sym)
		failed(lib->soname, lib->soname, name);
	return sym;
}

const char *lr_lazy_failure(const char *soname)
{
	for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]) && failures[i].soname; i++)
		if (!strcmp(failures[i].soname, soname))
			return failures[i].why;
	return NULL;
}

const char *lr_lazy_codec_soname(unsigned compression)
{
	switch (compression) { /* squashfs_fs.h's *_COMPRESSION */
	case 1: return LR_SONAME_Z;
	case 2:
	case 4: return LR_SONAME_LZMA;
	case 3: return LR_SONAME_LZO2;
	case 5: return LR_SONAME_LZ4;
	case 6: return LR_SONAME_ZSTD;
	default: return NULL;
	}
}
