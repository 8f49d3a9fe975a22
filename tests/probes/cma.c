/* cma.c - cross-memory attach (process_vm_readv/writev) between the tasks
 * of one Slurm step, as MPI libraries use it for shared-memory transfers
 * between ranks on a node (tests/slurm/container.bats).
 *
 * Not an escape probe: this is something that must work.  The ranks of a
 * step share one container (one PID namespace, one /dev/shm), so rank 1
 * can name rank 0 by the PID rank 0 sees for itself and reach its memory.
 *
 *   cma [DIR]   (DIR: where the ranks meet, default /dev/shm)
 *
 * Run as two tasks (srun -n 2); the rank comes from SLURM_PROCID.
 *   rank 0  puts a marker in its memory, publishes "PID ADDRESS LENGTH
 *           ADDRESS2" in DIR/cma.rank0, and waits for DIR/cma.done; then
 *           prints what rank 1 wrote into its second buffer.
 *   rank 1  waits for DIR/cma.rank0, reads the marker with
 *           process_vm_readv, writes into rank 0's second buffer with
 *           process_vm_writev, and creates DIR/cma.done.
 * Other ranks do nothing.  Each file appears whole (written, then
 * renamed), and every wait ends after TIMEOUT_S seconds.
 *
 * Output, one line per rank:
 *   rank 1 read "<marker>" from pid N
 *   rank 0 got "<reply>"
 * Exit 0 when the transfer worked, 1 when a call failed (the line says
 * which, with errno), 2 when the probe could not run its test (no
 * SLURM_PROCID, a wait timed out).  Static, no dependency on the image.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_S 60
#define MARKER_FMT "cma-marker-from-rank-0-pid-%ld"
#define REPLY "cma-reply-from-rank-1"

/* In rank 0's data segment: what rank 1 reads, and where it writes. */
static char marker[64];
static volatile char reply[64];

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait for path to exist: 0, or -1 after TIMEOUT_S seconds. */
static int wait_for(const char *path)
{
	for (int i = 0; i < TIMEOUT_S * 20; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		sleep_ms(50);
	}
	return -1;
}

/* Write text to path whole: a temporary file renamed into place. */
static int publish(const char *path, const char *text)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n || close(fd) < 0)
		return -1;
	return rename(tmp, path);
}

static int rank0(const char *sync, const char *done)
{
	snprintf(marker, sizeof(marker), MARKER_FMT, (long)getpid());
	char text[256];
	snprintf(text, sizeof(text), "%ld %" PRIuPTR " %zu %" PRIuPTR "\n", (long)getpid(),
		 (uintptr_t)marker, strlen(marker) + 1, (uintptr_t)reply);
	if (publish(sync, text) < 0) {
		printf("rank 0: cannot publish %s: %s\n", sync, strerror(errno));
		return 2;
	}
	if (wait_for(done) < 0) {
		printf("rank 0: rank 1 did not finish within %d s (no %s)\n", TIMEOUT_S, done);
		return 2;
	}
	char got[sizeof(reply)];
	for (size_t i = 0; i < sizeof(got); i++)
		got[i] = reply[i];
	got[sizeof(got) - 1] = '\0';
	printf("rank 0 got \"%s\"\n", got);
	return strcmp(got, REPLY) == 0 ? 0 : 1;
}

static int rank1(const char *sync, const char *done)
{
	if (wait_for(sync) < 0) {
		printf("rank 1: rank 0 did not publish %s within %d s\n", sync, TIMEOUT_S);
		return 2;
	}
	FILE *f = fopen(sync, "re");
	long pid = 0;
	uintptr_t addr = 0, addr2 = 0;
	size_t len = 0;
	if (!f || fscanf(f, "%ld %" SCNuPTR " %zu %" SCNuPTR, &pid, &addr, &len, &addr2) != 4 ||
	    len == 0 || len > sizeof(marker)) {
		printf("rank 1: cannot parse %s\n", sync);
		if (f)
			fclose(f);
		return 2;
	}
	fclose(f);

	int rc = 0;
	char buf[sizeof(marker)] = {0};
	struct iovec local = {buf, len}, remote = {(void *)addr, len};
	ssize_t n = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
	if (n != (ssize_t)len) {
		printf("rank 1: process_vm_readv of pid %ld: %s\n", pid,
		       n < 0 ? strerror(errno) : "short read");
		rc = 1;
	} else {
		buf[sizeof(buf) - 1] = '\0';
		printf("rank 1 read \"%s\" from pid %ld\n", buf, pid);
	}

	static const char answer[] = REPLY;
	struct iovec l2 = {(void *)answer, sizeof(answer)}, r2 = {(void *)addr2, sizeof(answer)};
	n = process_vm_writev((pid_t)pid, &l2, 1, &r2, 1, 0);
	if (n != (ssize_t)sizeof(answer)) {
		printf("rank 1: process_vm_writev of pid %ld: %s\n", pid,
		       n < 0 ? strerror(errno) : "short write");
		rc = 1;
	}
	fflush(stdout);
	/* Rank 0 waits for this whatever happened, and then reports. */
	if (publish(done, "done\n") < 0) {
		printf("rank 1: cannot publish %s: %s\n", done, strerror(errno));
		return 2;
	}
	return rc;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *dir = argc > 1 ? argv[1] : "/dev/shm";
	const char *r = getenv("SLURM_PROCID");
	if (!r || !*r) {
		printf("cma: SLURM_PROCID is not set: run as a Slurm step's tasks\n");
		return 2;
	}
	char sync[4096], done[4096];
	snprintf(sync, sizeof(sync), "%s/cma.rank0", dir);
	snprintf(done, sizeof(done), "%s/cma.done", dir);
	if (!strcmp(r, "0"))
		return rank0(sync, done);
	if (!strcmp(r, "1"))
		return rank1(sync, done);
	return 0;
}
