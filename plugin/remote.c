/* remote.c - the plugin in slurmstepd, for each task, as the user.
 *
 * Fail closed (DESIGN.md §4): a task whose step asks for a squashfs image
 * never runs on the host.  The shared per-step container (the keeper
 * started in user_init, the tasks joining it here) is issue 6's next step;
 * until it exists, such a task fails with a message the user sees.
 */
#include "build-config.h"

#include <string.h>

#include "plugin.h"

/* spank_getenv() reads the job's environment, not slurmstepd's. */
static const char *remote_env(const char *name, void *ctx)
{
	static char buf[LR_SPANK_VALUE_MAX + 1];
	if (spank_getenv((spank_t)ctx, name, buf, sizeof(buf)) != ESPANK_SUCCESS)
		return NULL;
	return buf;
}

int lr_plugin_remote_task_init(spank_t sp)
{
	if (lr_plugin_find_image(remote_env, sp) < 0)
		return -1;
	if (!lr_plugin.image)
		return 0;
	slurm_error("labrun: %s: running job steps in labrun containers is not available in "
		    "this version yet; the task was not run",
		    lr_plugin.image);
	return -1;
}
