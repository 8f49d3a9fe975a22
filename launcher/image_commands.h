/* image_commands.h - the commands of labrun-image, one function each.
 * Each returns the program's exit status and reports its own errors. */
#ifndef LABRUN_IMAGE_COMMANDS_H
#define LABRUN_IMAGE_COMMANDS_H

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

int lr_image_inspect(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_verify(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_list(const struct lr_image_ctx *ctx, int argc, char **argv);
int lr_image_rm(const struct lr_image_ctx *ctx, int argc, char **argv);

#endif
