/* suid_write [DIR...] - a setuid or file-capability binary the job makes
 * in a writable place gains nothing when run, and leaves nothing on the
 * host that grants more than the caller already has.
 *
 * Invariant 3 (notes/security.md: nosuid on every mount, no_new_privs, no
 * new ids or capabilities).  setuid only tries the image's setuid file;
 * this makes new ones where the job can write (the writable layer "/",
 * /tmp, /dev/shm, a --writable=DIR's upper directory, a rw bind, and each
 * DIR given): a copy of itself, chmod 4755 (and, as root of its own user
 * namespace with --remap-root, chown 0:0 first), then a security.capability
 * xattr granting cap_setuid+ep.  Each copy is run as "suid_write report",
 * which prints its ids and capability sets; effective and saved uid must
 * be the real one, and CapEff/CapPrm empty (unless the job is root of its
 * own user namespace already: then they must be no more than its own).
 * One copy, /probe-suid-left, stays in the writable layer for the test to
 * look at from outside (tests/launcher/attack.bats: with --writable=DIR it
 * must be owned by the caller, never by root).
 */
#include "probe.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define LEFT "/probe-suid-left"

/* VFS_CAP_REVISION_2, cap_setuid (7) in permitted and effective. */
static const unsigned char cap_xattr[] = {
	0x01, 0x00, 0x00, 0x02, /* magic_etc: revision 2, effective */
	0x80, 0x00, 0x00, 0x00, /* permitted[0]: bit 7 */
	0x00, 0x00, 0x00, 0x00, /* inheritable[0] */
	0x00, 0x00, 0x00, 0x00, /* permitted[1] */
	0x00, 0x00, 0x00, 0x00, /* inheritable[1] */
};

static int report(void)
{
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	uint64_t eff = 0, prm = 0;
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "CapEff:", 7))
			eff = strtoull(line + 7, NULL, 16);
		if (!strncmp(line, "CapPrm:", 7))
			prm = strtoull(line + 7, NULL, 16);
	}
	if (f)
		fclose(f);
	printf("%u %u %u %" PRIx64 " %" PRIx64 "\n", (unsigned)r, (unsigned)e, (unsigned)s, eff,
	       prm);
	return 0;
}

static uint64_t own_caps(void)
{
	uint64_t eff = 0;
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			eff = strtoull(line + 7, NULL, 16);
	if (f)
		fclose(f);
	return eff;
}

static int copy_self(const char *dst)
{
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	close(in);
	if (close(out) < 0 || n < 0)
		rc = -1;
	return rc;
}

/* Run path as "report" and judge what it prints. */
static void run_it(const char *path, const char *kind)
{
	int p[2];
	if (pipe(p) < 0) {
		broken("pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execl(path, path, "report", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char out[256] = "";
	ssize_t n = read(p[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	unsigned r, e, s;
	uint64_t eff, prm;
	if (sscanf(out, "%u %u %u %" SCNx64 " %" SCNx64, &r, &e, &s, &eff, &prm) != 5) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
			ok("%s %s: exec refused", kind, path);
		else
			broken("%s %s printed '%s'", kind, path, out);
		return;
	}
	uint64_t mine = own_caps();
	if (e != r || s != r)
		escaped("%s %s ran with euid %u suid %u (real uid %u)", kind, path, e, s, r);
	else if ((eff | prm) & ~mine)
		escaped("%s %s gained capabilities %" PRIx64 " (the job holds %" PRIx64 ")", kind,
			path, (eff | prm) & ~mine, mine);
	else
		ok("%s %s gained nothing (uid %u, CapEff %" PRIx64 ")", kind, path, r, eff);
}

static void try_dir(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/probe-suid-%d", strcmp(dir, "/") ? dir : "",
		 (int)getpid());
	if (copy_self(path) < 0) {
		info("cannot write in %s: %s", dir, strerror(errno));
		return;
	}
	if (getuid() == 0 && chown(path, 0, 0) < 0)
		info("chown 0:0 %s: %s", path, strerror(errno));
	if (chmod(path, 04755) < 0) {
		ok("chmod 4755 %s: %s", path, strerror(errno));
	} else {
		struct stat st;
		if (stat(path, &st) == 0 && (st.st_mode & S_ISUID))
			run_it(path, "setuid");
		else
			ok("the setuid bit on %s did not stay", path);
	}
	chmod(path, 0755);
	if (setxattr(path, "security.capability", cap_xattr, sizeof(cap_xattr), 0) < 0)
		ok("setcap cap_setuid+ep on %s: %s", path, strerror(errno));
	else
		run_it(path, "cap_setuid+ep");
	unlink(path);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "report"))
		return report();
	static const char *dirs[] = {"/", "/tmp", "/dev/shm", "/data", "/work"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		try_dir(dirs[i]);
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '/')
			try_dir(argv[i]);
	/* One for the test to inspect from outside. */
	if (copy_self(LEFT) == 0) {
		if (getuid() == 0 && chown(LEFT, 0, 0) < 0)
			info("chown 0:0 %s: %s", LEFT, strerror(errno));
		if (chmod(LEFT, 04755) == 0)
			info("left %s, mode 4755, for the test to look at", LEFT);
	}
	return probe_exit();
}
