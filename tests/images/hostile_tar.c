/* hostile_tar.c - write the layer tars of a hostile image, as an attacker
 * would craft them, for tests/images/oci.sh (and so import.bats and
 * build.bats).  No root needed: libarchive writes any member type, owner,
 * mode and xattr into an archive without making it on the host, so the
 * device node below never exists outside the tar.
 *
 * Usage: hostile_tar KIND OUT.tar
 *   wh-dotdot  "etc/ok", then the whiteout ".wh..." (decodes to "..")
 *   wh-dot     "dir/", "dir/ok", then the whiteout "dir/.wh.." (to "dir/.")
 *   special    dev/mem (character device 1:1, mode 0666, root's: a
 *              world-writable /dev/mem), dev/sda (block device 8:0),
 *              bin/suid-sh (setuid root, 04755), bin/sgid-tool (setgid,
 *              02755), bin/cap-tool with security.capability =
 *              cap_sys_admin+ep, and what a layer may hold: the whiteout
 *              etc/.wh.gone, the FIFO run/fifo, the setgid directory
 *              srv/shared (02775), the plain file etc/hostile.
 *
 * Reproducible: PAX format, every mtime EPOCH, fixed owners, no names.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EPOCH 1700000000 /* tests/images/oci.sh's */

/* VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, then {permitted,
 * inheritable} twice, little-endian: cap_sys_admin (21) permitted and
 * effective, as `setcap cap_sys_admin+ep` writes it (capability.h). */
static const unsigned char cap_sys_admin_ep[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x20};

static struct archive *out;

static void die(const char *what)
{
	fprintf(stderr, "hostile_tar: %s: %s\n", what, out ? archive_error_string(out) : "");
	exit(1);
}

/* One member; data for regular files. */
static struct archive_entry *member(const char *path, mode_t mode, unsigned uid, unsigned gid)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		die("out of memory");
	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_mtime(e, EPOCH, 0);
	return e;
}

static void put(struct archive_entry *e, const char *data)
{
	size_t len = data ? strlen(data) : 0;
	archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_header(out, e) != ARCHIVE_OK)
		die(archive_entry_pathname(e));
	if (len && archive_write_data(out, data, len) != (la_ssize_t)len)
		die(archive_entry_pathname(e));
	archive_entry_free(e);
}

static void device(const char *path, mode_t type, unsigned major, unsigned minor, mode_t perm)
{
	struct archive_entry *e = member(path, type | perm, 0, 0);
	archive_entry_set_rdevmajor(e, major);
	archive_entry_set_rdevminor(e, minor);
	put(e, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: hostile_tar wh-dotdot|wh-dot|special OUT.tar\n");
		return 2;
	}
	const char *kind = argv[1];
	out = archive_write_new();
	/* xattrs as SCHILY.xattr.NAME records, as docker and GNU tar write them. */
	if (!out || archive_write_set_format_pax(out) != ARCHIVE_OK ||
	    archive_write_set_format_option(out, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
	    archive_write_open_filename(out, argv[2]) != ARCHIVE_OK)
		die(argv[2]);
	if (!strcmp(kind, "wh-dotdot")) {
		put(member("etc/", AE_IFDIR | 0755, 0, 0), NULL);
		put(member("etc/ok", AE_IFREG | 0644, 0, 0), "fine\n");
		put(member(".wh...", AE_IFREG | 0644, 0, 0), NULL);
	} else if (!strcmp(kind, "wh-dot")) {
		put(member("dir/", AE_IFDIR | 0755, 0, 0), NULL);
		put(member("dir/ok", AE_IFREG | 0644, 0, 0), "fine\n");
		put(member("dir/.wh..", AE_IFREG | 0644, 0, 0), NULL);
	} else if (!strcmp(kind, "special")) {
		put(member("bin/", AE_IFDIR | 0755, 0, 0), NULL);
		put(member("bin/suid-sh", AE_IFREG | 04755, 0, 0), "#!/bin/sh\n");
		put(member("bin/sgid-tool", AE_IFREG | 02755, 0, 5), "sgid\n");
		struct archive_entry *e = member("bin/cap-tool", AE_IFREG | 0755, 0, 0);
		archive_entry_xattr_add_entry(e, "security.capability", cap_sys_admin_ep,
					      sizeof(cap_sys_admin_ep));
		put(e, "cap\n");
		put(member("dev/", AE_IFDIR | 0755, 0, 0), NULL);
		device("dev/mem", AE_IFCHR, 1, 1, 0666);
		device("dev/sda", AE_IFBLK, 8, 0, 0660);
		put(member("etc/", AE_IFDIR | 0755, 0, 0), NULL);
		put(member("etc/.wh.gone", AE_IFREG | 0644, 0, 0), NULL);
		put(member("etc/hostile", AE_IFREG | 0644, 0, 0), "hostile layer\n");
		put(member("run/", AE_IFDIR | 0755, 0, 0), NULL);
		put(member("run/fifo", AE_IFIFO | 0600, 0, 0), NULL);
		put(member("srv/", AE_IFDIR | 0755, 0, 0), NULL);
		put(member("srv/shared/", AE_IFDIR | 02775, 0, 50), NULL);
	} else {
		fprintf(stderr, "hostile_tar: unknown kind %s\n", kind);
		return 2;
	}
	if (archive_write_close(out) != ARCHIVE_OK)
		die(argv[2]);
	archive_write_free(out);
	return 0;
}
