/* local.c - the plugin in srun, sbatch and salloc, as the user: the
 * options are checked and the image looked at before anything is
 * submitted, so that a mistake costs the user no queue wait and the job
 * never starts on the host instead.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

static const char *local_env(const char *name, void *ctx)
{
	return getenv(name);
}

int lr_plugin_local_post_opt(spank_t sp)
{
	struct lr_error err = {0};
	if (lr_plugin_find_image(local_env, NULL, &err) < 0) {
		slurm_error("labrun: %s", err.msg);
		return -1;
	}
	if (!lr_plugin.image)
		return 0;
	/* A squashfs superblock starts with "hsqs". */
	int fd = open(lr_plugin.image, O_RDONLY | O_CLOEXEC);
	char magic[4];
	ssize_t n = fd < 0 ? -1 : read(fd, magic, sizeof(magic));
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		slurm_error("labrun: container image %s: %s", lr_plugin.image, strerror(e));
		return -1;
	}
	if (n != 4 || memcmp(magic, "hsqs", 4)) {
		slurm_error("labrun: container image %s: not a squashfs image", lr_plugin.image);
		return -1;
	}
	return 0;
}
