/* open_handle - the job cannot open files by handle (the "shocker" attack
 * that broke out of Docker in 2014): open_by_handle_at with a mount fd from
 * inside the container and a guessed handle opens any inode of that
 * filesystem, also those outside the container's view.
 *
 * Invariant 3 (notes/security.md: no new capabilities on the host).
 * open_by_handle_at needs CAP_DAC_READ_SEARCH in the initial user
 * namespace, which no job holds, with or without --remap-root.  Tried on
 * every mount of the job's mount table: first a handle the job may make
 * itself (name_to_handle_at of the mount point: allowed, INFO), then the
 * same handle opened, then the root inode of ext2/3/4 (inode 2, generation
 * 0, the handle type FILEID_INO32_GEN that shocker brute-forced).
 */
#include "probe.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#define FILEID_INO32_GEN 1

static int tried;

static void try_mount(const char *mp)
{
	int mfd = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return;
	struct {
		struct file_handle fh;
		unsigned char data[MAX_HANDLE_SZ];
	} h;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	int mount_id;
	if (name_to_handle_at(mfd, "", &h.fh, &mount_id, AT_EMPTY_PATH) == 0) {
		tried++;
		int fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
		EXPECT_FAIL(fd, "open_by_handle_at of %s's own handle", mp);
		if (fd >= 0)
			close(fd);
	}
	/* ext4's root directory: inode 2, generation 0. */
	struct {
		struct file_handle fh;
		unsigned int ino, gen;
	} g = {{8, FILEID_INO32_GEN}, 2, 0};
	tried++;
	int fd = open_by_handle_at(mfd, &g.fh, O_RDONLY | O_CLOEXEC);
	EXPECT_FAIL(fd, "open_by_handle_at(%s, inode 2) (shocker)", mp);
	if (fd >= 0)
		close(fd);
	close(mfd);
}

int main(void)
{
	FILE *mi = fopen("/proc/self/mountinfo", "r");
	if (!mi) {
		broken("cannot read /proc/self/mountinfo: %s", strerror(errno));
		return probe_exit();
	}
	char line[8192];
	while (fgets(line, sizeof(line), mi)) {
		char mp[512];
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... (no spaces escaped here:
		 * labrun's mount points have none). */
		if (sscanf(line, "%*d %*d %*s %*s %511s", mp) == 1)
			try_mount(mp);
	}
	fclose(mi);
	if (!tried)
		broken("no mount to try open_by_handle_at on");
	return probe_exit();
}
