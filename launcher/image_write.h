/* image_write.h - what the labrun-image commands that write layers (build,
 * import, flatten, config) share: the output file, the parent, the config
 * options, the layer options.
 *
 * A layer is written under a temporary name in the directory it ends up
 * in and renamed when complete, so that a failure, a full disk or a ^C
 * leaves no partial layer behind (the temporary file is removed on
 * SIGINT, SIGTERM and SIGHUP too).
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
};

/* The layer store to write to: store when given, else the first store of
 * labrun.conf that can be written (made when missing).  Fails with a
 * message when there is none. */
int lr_out_store(const struct lr_image_ctx *ctx, const char *store, char *dir, size_t size,
		 struct lr_error *err);

/* Start: temporary file in OUT's directory or in store_dir. */
int lr_out_begin(struct lr_out *o, const char *out, const char *store_dir, struct lr_error *err);
/* Digest the temporary file and move it to its name (OUT, or
 * store/sha256-<hex>.sqfs; a layer already stored stays and the temporary
 * file goes). */
int lr_out_commit(struct lr_out *o, struct lr_error *err);
/* Remove the temporary file. */
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
 * place by one rename: never a partial file at to.  -errno. */
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
};

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
