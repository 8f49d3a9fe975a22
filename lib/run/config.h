/* config.h - labrun.conf, the admin's settings for every container.
 *
 * Runs with any privilege.  Parsing only: no path named in the file is
 * opened here.  Format (labrun.conf(5)): "key = value" lines, '#' comments,
 * blank lines.  Unknown keys and bad values are errors naming file:line.
 */
#ifndef LABRUN_CONFIG_H
#define LABRUN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Limits on what a config file may hold (DESIGN.md §7: every count has a limit). */
#define LR_CONFIG_MAX_BYTES (256 * 1024)
#define LR_CONFIG_MAX_LINE 4096
#define LR_CONFIG_MAX_STORES 16
#define LR_CONFIG_MAX_BINDS 64

#define LR_DEFAULT_CONFIG_PATH SYSCONFDIR "/labrun/labrun.conf"
/* The node's GPUs, for the labs' gpus quotas: NVIDIA's device nodes. */
#define LR_CONFIG_GPU_DEVICES "/dev/nvidia[0-9]*"
#define LR_CONFIG_MAX_GLOB 256
#define LR_DEFAULT_TMPFS_SIZE (1024ULL * 1024 * 1024) /* 1 GiB */
#define LR_MIN_TMPFS_SIZE (1024ULL * 1024)	      /* 1 MiB: below, nothing fits */
/* 64 TiB: a tmpfs is memory, and no node has more; the kernel takes any
 * size (9223372036854775809 gave an 8 EiB tmpfs), so labrun refuses what
 * can only be a mistake (issue 12). */
#define LR_MAX_TMPFS_SIZE (64ULL << 40)
/* How long a user's layer holder keeps layers nobody uses (holder.h). */
#define LR_DEFAULT_HOLDER_IDLE 300
#define LR_MAX_HOLDER_IDLE (7 * 24 * 3600) /* a week: longer is a mistake */

/* One bind mount: host path SRC at DST inside the container. */
struct lr_bind {
	char *src; /* absolute; "~" and $HOME/$USER already expanded by lr_bind_parse */
	char *dst; /* absolute path inside the container */
	bool readonly;
	bool optional; /* admin default binds: skipped silently when SRC is missing */
	bool device;   /* a GPU apply gave the member: bound without nodev (never
			* from labrun.conf or the command line) */
};

struct lr_config {
	char *path;			    /* file it came from, for messages */
	char *stores[LR_CONFIG_MAX_STORES]; /* layer-store = DIR[:DIR...], in order */
	size_t n_stores;
	struct lr_bind binds[LR_CONFIG_MAX_BINDS]; /* bind = SRC[:DST[:ro]] (repeatable) */
	size_t n_binds;
	uint64_t tmpfs_size;  /* tmpfs-size = SIZE (bytes) */
	char *policy_dir;     /* policy-dir = DIR; NULL: LR_POLICY_DIR (labrun-policy(5)) */
	char *gpu_devices;    /* gpu-devices = GLOB; NULL: LR_CONFIG_GPU_DEVICES */
	unsigned holder_idle; /* holder-idle-timeout = SECONDS; 0: no holder */
	/* trusted-layer-store = DIR: layers the node's root service mounts
	 * with the kernel's squashfs (layerd.h); also searched as a store. */
	char *trusted_store;
};

/* Values used to expand "~", "$HOME" and "$USER" in paths. */
struct lr_expand {
	const char *home;
	const char *user;
};

/* Fill cfg with the built-in defaults (no stores, no binds, 1 GiB tmpfs). */
void lr_config_init(struct lr_config *cfg);

/* Parse text (len bytes, not necessarily NUL-terminated) named name.
 * On error: "NAME:LINE: what was wrong", cfg left as lr_config_init() made it. */
int lr_config_parse(struct lr_config *cfg, const char *name, const char *text, size_t len,
		    const struct lr_expand *ex, struct lr_error *err);

/* Read and parse the file at path.  A missing file at the default path is
 * not an error (built-in defaults apply): missing_ok says so. */
int lr_config_load(struct lr_config *cfg, const char *path, bool missing_ok,
		   const struct lr_expand *ex, struct lr_error *err);

void lr_config_free(struct lr_config *cfg);

/* Parse "SRC[:DST[:ro|rw]]" (DST defaults to SRC) into b.  SRC and DST must
 * be absolute after expansion; no "..", no empty components beyond '/'. */
int lr_bind_parse(struct lr_bind *b, const char *spec, const struct lr_expand *ex,
		  struct lr_error *err);
void lr_bind_free(struct lr_bind *b);

/* A size for the writable tmpfs, as tmpfs-size = and --tmpfs-size take it:
 * lr_parse_size(), at least LR_MIN_TMPFS_SIZE, at most LR_MAX_TMPFS_SIZE,
 * not "unlimited".  The message
 * names the value ("'12Q' is not a size (use e.g. 512M or 2G)"); callers put
 * the key or option in front. */
int lr_tmpfs_size_parse(const char *s, uint64_t *out, struct lr_error *err);

#endif
