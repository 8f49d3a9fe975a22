/* lazy.h - shared libraries loaded when first used, not at exec.
 *
 * Every library a program links is mapped and relocated before main():
 * labrun linked eleven beside libc, 2.4 ms of a 5 ms exec on the test
 * machine, paid by every container start, though a start with its layers
 * held needs none of the five decompressors and one without a lab quota
 * needs no hwloc (issue 13; doc/DECISIONS.md "Libraries loaded when
 * used").  codecs.c and hwloc_lazy.c define those libraries' functions
 * that labrun calls, under their own names, each loading the library by
 * its soname (configure finds it) on the first call and calling through.
 * Runs as whoever calls.
 */
#ifndef LABRUN_LAZY_H
#define LABRUN_LAZY_H

struct lr_lazy_lib {
	const char *soname; /* "libz.so.1" */
	void *handle;	    /* dlopen()'s, NULL until loaded */
	int failed;	    /* loading failed once: not tried again */
	int global;	    /* RTLD_GLOBAL: the library dlopens plugins that
			     * call back into it (libslurm's) */
};

/* name's address in lib, loading lib on the first call; NULL when lib
 * cannot be loaded or lacks name (lr_lazy_failure() says why). */
void *lr_lazy_sym(struct lr_lazy_lib *lib, const char *name);

/* Why the last lr_lazy_sym() on the library soname failed ("liblzo2.so.2:
 * cannot open shared object file: ..."), or NULL when none has.  Per
 * library: one that failed (hwloc, another codec) never explains an error
 * of another, e.g. a corrupt block of a layer whose codec loaded. */
const char *lr_lazy_failure(const char *soname);

/* The soname of the library codecs.c loads for a squashfs compression id
 * (the superblock's: 1 gzip, 2 lzma, 3 lzo, 4 xz, 5 lz4, 6 zstd), NULL
 * for another. */
const char *lr_lazy_codec_soname(unsigned compression);

/* Load libslurm (slurmdb_lazy.c, when built with Slurm accounting): 0, or
 * -ENOSYS when it cannot be loaded (lr_lazy_failure(LR_SONAME_SLURM)). */
int lr_lazy_slurm_load(void);

/* Define RET NAME PARAMS as a call through lib (for the shims). */
#define LR_LAZY(lib, ret, name, fail, params, args)                                                \
	ret name params                                                                            \
	{                                                                                          \
		static ret(*fn) params;                                                            \
		if (!fn)                                                                           \
			fn = (ret(*) params)lr_lazy_sym(&(lib), #name);                            \
		return fn ? fn args : (fail);                                                      \
	}
#define LR_LAZY_VOID(lib, name, params, args)                                                      \
	void name params                                                                           \
	{                                                                                          \
		static void(*fn) params;                                                           \
		if (!fn)                                                                           \
			fn = (void(*) params)lr_lazy_sym(&(lib), #name);                           \
		if (fn)                                                                            \
			fn args;                                                                   \
	}

#endif
