/* mknod_dev - no device nodes: the job can neither create one nor use one
 * that the image carries.
 *
 * Proves invariant 3 (notes/security.md: nodev on every image and bind
 * mount; a hostile image may contain device nodes).  probes.sqfs holds
 * /probes/null, a character device 1:3 (the numbers of /dev/null, harmless
 * if it ever opened): opening it must fail because the image is mounted
 * nodev.  mknod of 1:3 anywhere must fail with EPERM (no CAP_MKNOD in the
 * initial user namespace).  A denied device gives EPERM (DESIGN.md §7).
 */
#include "probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void try_mknod(const char *path)
{
	int r = mknod(path, S_IFCHR | 0666, makedev(1, 3));
	EXPECT_FAIL(r, "mknod %s c 1 3", path);
	if (r == 0)
		unlink(path);
}

int main(void)
{
	try_mknod("/tmp/probe-null");
	try_mknod("/dev/probe-null");
	try_mknod("/probe-null");

	struct stat st;
	if (lstat("/probes/null", &st) < 0 || !S_ISCHR(st.st_mode)) {
		broken("/probes/null is not a character device in the image");
	} else {
		int fd = open("/probes/null", O_RDWR);
		EXPECT_FAIL(fd, "open the image's device node /probes/null (c 1 3)");
		if (fd >= 0)
			close(fd);
	}
	return probe_exit();
}
