/* image_write.h - what the labrun-image commands that write layers (build,
 * import, flatten, config) share: the output file, the parent, the config
 * options, the layer options.
 *
 * A layer is written under a temporary name in the directory it ends up
 * in and renamed when complete, so that a failure, a full disk or a ^C
 * leaves no partial layer behind (the temporary file is removed on
 * SIGINT, SIGTERM and SIGHUP too).  A writer killed outright (SIGKILL, the
 * OOM killer, a node crash) cannot remove it: the writer holds an flock(2)
 * on its temporary file from creation to rename, which the kernel (or the
 * NFS lock manager) drops when the writer dies, so that the next build,
 * import or gc removes exactly the temporary files no live writer holds
 * (lr_out_sweep()), never another running writer's.
 */
#ifndef LABRUN_IMAGE_WRITE_H
#define LABRUN_IMAGE_WRITE_H

#include <limits.h>
#include <stdbool.h>

#include "image_commands.h"
#include "imageconfig.h"
#include "layerbuild.h"
#include "layers.h"
#include "layerview.h"

/* Default layer options, chosen by bench/compression.sh (doc/DECISIONS.md). */
#define LR_DEFAULT_COMPRESSION "lz4"
#define LR_DEFAULT_BLOCK_SIZE (128 * 1024)

/* Where a layer goes: OUT when the user named one, else the store. */
struct lr_out {
	char dir[PATH_MAX];   /* where the temporary file and the result live */
	char tmp[PATH_MAX];   /* the temporary file */
	char final[PATH_MAX]; /* OUT, or "" for the store's sha256-<hex>.sqfs */
	char hex[LR_DIGEST_HEX_LEN + 1];
	bool existed; /* the store already had this layer */
	int lock_fd;  /* the temporary file, flock()ed while it is written; -1 */
};

/* Temporary files are named this, then 6 random characters. */
#define LR_OUT_TMP_PREFIX ".labrun-image."
/* On a filesystem without flock (some cluster filesystems), a temporary
 * file unchanged this long is taken as abandoned. */
#define LR_OUT_STALE_SECONDS 3600

/* Remove the temporary files in dir that no writer holds (left by a build
 * or import that was killed); with dry_run only name them.  report, when
 * not NULL, is called for each one (e: 0, or the errno of a failed
 * unlink).  Returns how many were (or would be) removed. */
typedef void (*lr_out_sweep_report)(const char *dir, const char *name, bool dry_run, int e);
size_t lr_out_sweep(const char *dir, bool dry_run, lr_out_sweep_report report);

/* The layer store to write to: store when given, else the first store of
 * labrun.conf that can be written (made when missing).  Fails with a
 * message when there is none. */
int lr_out_store(const struct lr_image_ctx *ctx, const char *store, char *dir, size_t size,
		 struct lr_error *err);

/* Start: temporary file in OUT's directory or in store_dir, locked; stale
 * temporary files there are removed first (lr_out_sweep()). */
int lr_out_begin(struct lr_out *o, const char *out, const char *store_dir, struct lr_error *err);
/* Digest the temporary file and move it to its name (OUT, or
 * store/sha256-<hex>.sqfs; a layer already stored stays and the temporary
 * file goes). */
int lr_out_commit(struct lr_out *o, struct lr_error *err);
/* Remove the temporary file (again: a no-op). */
void lr_out_abort(struct lr_out *o);
/* lr_out_commit() in two halves, for a thread: lr_out_publish() digests,
 * syncs and renames (safe in another thread), lr_out_done() then stops
 * watching the temporary name (main thread; lr_out_abort() after a failed
 * lr_out_publish()). */
int lr_out_publish(struct lr_out *o, struct lr_error *err);
void lr_out_done(struct lr_out *o);

/* --parent: an image file or "sha256:<hex>" in the stores, opened with its
 * chain; *hex is its digest. */
int lr_parent_open(const struct lr_image_ctx *ctx, const char *arg, struct lr_chain *chain,
		   char hex[LR_DIGEST_HEX_LEN + 1], struct lr_error *err);

/* Make the parent (file path) findable from a layer at out: when no
 * sha256-<hex>.sqfs is beside out or in the stores, hard-link it (copy
 * when that fails) beside out.  Says so on stderr. */
int lr_parent_reachable(const struct lr_image_ctx *ctx, const char *parent_path, const char *hex,
			const char *out, struct lr_error *err);

/* to becomes a hard link of from, else a copy (*copied set), put in
 * place by one rename: never a partial file at to.  The copy is written
 * to a locked temporary file beside to (LR_OUT_TMP_PREFIX), so that one
 * left by a killed copy is removed by the next lr_out_sweep() there.
 * -errno. */
int lr_link_or_copy(const char *from, const char *to, bool *copied);

/* The config options (--entrypoint, --cmd, --env, --workdir, --label)
 * into c.  Returns 1 when opt was one of them, 0 when not, or a negative
 * errno with err set for a bad value. */
int lr_config_option(struct lr_image_config *c, int opt, const char *value, struct lr_error *err);

/* The layer options (--compression, --block-size). */
int lr_layer_option(struct lr_sqw_options *o, int opt, const char *value, struct lr_error *err);

/* getopt codes of the options above, shared by the commands. */
enum {
	OPT_ENTRYPOINT = 0x100,
	OPT_CMD,
	OPT_ENV,
	OPT_WORKDIR,
	OPT_LABEL,
	OPT_COMPRESSION,
	OPT_BLOCK_SIZE,
	OPT_PARENT,
	OPT_STORE,
	OPT_FROM,
	OPT_FROM_TAR,
	OPT_DIFF,
	OPT_OWNER_MAP,
	OPT_KEEP_SPECIAL,
};

/* --keep-special: devices, set-id bits, file capabilities kept (layerbuild.h). */
#define LR_KEEP_SPECIAL_LONG_OPTION                                                                \
	{                                                                                          \
		"keep-special", no_argument, NULL, OPT_KEEP_SPECIAL                                \
	}

/* The one line (stderr) saying what a build without --keep-special left
 * out or changed: "labrun-image CMD: dropped ...; --keep-special keeps
 * them".  Nothing when nothing was, or when kept (the admin asked). */
void lr_special_report(const char *cmd, const struct lr_build_special *s, bool kept);

#define LR_CONFIG_LONG_OPTIONS                                                                     \
	{"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},                                   \
		{"cmd", required_argument, NULL, OPT_CMD},                                         \
		{"env", required_argument, NULL, OPT_ENV},                                         \
		{"workdir", required_argument, NULL, OPT_WORKDIR},                                 \
	{                                                                                          \
		"label", required_argument, NULL, OPT_LABEL                                        \
	}
#define LR_LAYER_LONG_OPTIONS                                                                      \
	{"compression", required_argument, NULL, OPT_COMPRESSION},                                 \
	{                                                                                          \
		"block-size", required_argument, NULL, OPT_BLOCK_SIZE                              \
	}

/* Report a command's failure: "labrun-image CMD: MSG", exit status 1. */
int lr_image_fail(const char *cmd, const char *msg);
/* Report a bad command line: exit status 2. */
int lr_image_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
