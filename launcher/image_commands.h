/* image_commands.h - the commands of labrun-image, one function each.
 * Each returns the program's exit status and reports its own errors. */
#ifndef LABRUN_IMAGE_COMMANDS_H
#define LABRUN_IMAGE_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

/* Exit statuses of labrun-image. */
#define LR_IMAGE_OK 0
#define LR_IMAGE_FAILED 1 /* the command ran and failed, or found a problem */
#define LR_IMAGE_USAGE 2  /* bad command line */

/* What every command gets: the layer stores of labrun.conf. */
struct lr_image_ctx {
	char *const *stores;
	size_t n_stores;
};

/* A command's own options: at most one flag, --NAME (and -SHORT when
 * short_opt is not 0), set in *flag; name NULL for none.  argv[0] is the
 * command's name; on return optind is its first operand.  Returns 0, or
 * LR_IMAGE_USAGE after one line on stderr. */
int lr_image_flag(int argc, char **argv, const char *name, int short_opt, bool *flag);

int lr_image_inspect(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_verify(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_list(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_rm(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_build(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_import(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_flatten(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_config(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_gc(const struct lr_image_ctx *ctx, int argc, char **argv);

#endif
