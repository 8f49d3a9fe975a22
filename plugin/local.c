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
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"

static const char *local_env(const char *name, void *ctx)
{
	return getenv(name);
}

int lr_plugin_local_post_opt(spank_t sp)
{
	struct lr_error err = {0};
	/* Whether the nodes run Slurm's OCI runtime is theirs to say:
	 * slurmstepd decides (remote.c).  Here the image is only looked at. */
	if (lr_plugin_find_image(local_env, NULL, false, &err) < 0) {
		slurm_error("labrun: %s", err.msg);
		return -1;
	}
	if (!lr_plugin.image)
		return 0;
	/* O_NONBLOCK: a FIFO or a device must not hold srun in open(). */
	int fd = open(lr_plugin.image, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		slurm_error("labrun: container image %s: %s", lr_plugin.image, strerror(e));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		/* --container=DIR is an OCI bundle, Slurm's where a node runs
		 * its OCI runtime; the node refuses it otherwise. */
		if (!lr_plugin.args.image) {
			free(lr_plugin.image);
			lr_plugin.image = NULL;
			return 0;
		}
		slurm_error("labrun: container image %s: a directory; --container-image takes "
			    "a squashfs image file (an OCI bundle is --container=DIR, for Slurm's "
			    "OCI runtime)",
			    lr_plugin.image);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		slurm_error("labrun: container image %s: not a squashfs image file (not a "
			    "regular file)",
			    lr_plugin.image);
		return -1;
	}
	/* A squashfs superblock starts with "hsqs". */
	char magic[4];
	ssize_t n = read(fd, magic, sizeof(magic));
	int e = errno;
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
