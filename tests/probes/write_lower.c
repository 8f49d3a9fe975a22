/* write_lower [RODIR] - read-only stays read-only: the image's layers, a
 * read-only bind (default RODIR /ro, bound by the test with :ro) and /sys.
 *
 * Proves invariants 3 and 7 (notes/security.md): inside the container the
 * image's layers are reachable only through the overlay (their FUSE mounts
 * are not in the job's mount table, so nothing writes to or remounts them),
 * writes into a read-only bind fail with EROFS, and the job cannot remount
 * a read-only mount read-write or drop nosuid,nodev from the root.  Lesson:
 * mounts made in the job's own user namespace are not locked (verified with
 * unshare -Urm); labrun must lock them (second user namespace, as bubblewrap
 * and Charliecloud do) or give the job no capability at all.
 */
#include "probe.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void try_write(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/probe-write", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	EXPECT_FAIL(fd, "create %s", path);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

int main(int argc, char **argv)
{
	const char *ro = argc > 1 ? argv[1] : "/ro";

	FILE *mi = fopen("/proc/self/mountinfo", "r");
	if (!mi) {
		broken("cannot read /proc/self/mountinfo: %s", strerror(errno));
	} else {
		char line[8192];
		int fuse = 0;
		while (fgets(line, sizeof(line), mi)) {
			/* "... - FSTYPE SOURCE OPTIONS" */
			char *sep = strstr(line, " - ");
			if (sep && !strncmp(sep + 3, "fuse", 4)) {
				line[strcspn(line, "\n")] = '\0';
				escaped("an image layer's FUSE mount is visible: %s", line);
				fuse++;
			}
		}
		fclose(mi);
		if (!fuse)
			ok("no layer mount is reachable in the job's mount table");
	}

	struct stat st;
	if (stat(ro, &st) < 0 || !S_ISDIR(st.st_mode)) {
		broken("%s is not a directory: bind one read-only there", ro);
	} else {
		try_write(ro);
		int r = mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL);
		EXPECT_FAIL(r, "remount %s read-write", ro);
		try_write(ro);
	}

	try_write("/sys");
	int r = mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		      NULL);
	EXPECT_FAIL(r, "remount /sys read-write");

	r = mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL);
	EXPECT_FAIL(r, "remount / without nosuid,nodev");
	return probe_exit();
}
