/* rlimit_oom - the job cannot widen the limits it started with: no hard
 * rlimit raised, no nicer priority than it was given, and the OOM killer's
 * order in a lab's memory cgroup stays the container first, labrun last.
 *
 * Invariant 9 (notes/security.md: limits can only be narrowed) and issue
 * 12 item 3.  labrun makes the container, not itself, the OOM killer's
 * choice: the keeper (PID 1) and the job start at oom_score_adj 1000, and
 * while the keeper lives at 1000 it outranks labrun whatever the job does
 * to its own value (the kernel lets an unprivileged process lower its own
 * down to oom_score_adj_min, the last value a privileged writer set: 0
 * here, so that is INFO).  What must fail: the job lowering the keeper's
 * value (it did: the launcher's keeper was dumpable, so its /proc files
 * were the user's, and a job that wrote 0 there and filled /dev/shm got
 * labrun OOM-killed: status 137, no word), and any value below 0 (that
 * takes CAP_SYS_RESOURCE of the initial user namespace).  Raising a hard
 * rlimit, or RLIMIT_NICE's ceiling, needs it too.  prlimit on PID 1 (the
 * keeper) lowers the keeper's own limits: allowed to the same user (INFO:
 * the job can only hurt its own container).
 */
#include "probe.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

/* PID's oom_score_adj ("self" or a number). */
static int read_adj(const char *pid, int *v)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/oom_score_adj", pid);
	FILE *f = fopen(path, "re");
	int ok_ = f && fscanf(f, "%d", v) == 1;
	if (f)
		fclose(f);
	return ok_ ? 0 : -1;
}

static int write_adj(const char *pid, int v)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/oom_score_adj", pid);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", v);
	ssize_t w = write(fd, buf, (size_t)n);
	int e = errno;
	close(fd);
	errno = e;
	return w == n ? 0 : -1;
}

/* The job's own value: below 0 is refused; lowering it within 0..start is
 * the kernel's to allow (INFO); restored after. */
static void own_adj(void)
{
	int start;
	if (read_adj("self", &start) < 0) {
		broken("cannot read /proc/self/oom_score_adj: %s", strerror(errno));
		return;
	}
	info("oom_score_adj at start: %d", start);
	if (start <= -1000) {
		escaped("the job starts with oom_score_adj -1000: the OOM killer never takes it");
		return;
	}
	int below = start > 0 ? -1 : start - 1;
	int r = write_adj("self", below);
	EXPECT_FAIL(r, "lower oom_score_adj from %d to %d", start, below);
	r = write_adj("self", -1000);
	EXPECT_FAIL(r, "lower oom_score_adj to -1000 (never killed)");
	if (start > 0 && write_adj("self", 0) == 0)
		info("lowering its own oom_score_adj from %d to 0 works (the kernel allows "
		     "down to oom_score_adj_min): the keeper still goes first",
		     start);
	write_adj("self", start);
}

/* The keeper's value is out of the job's reach, either way. */
static void keeper_adj(void)
{
	if (getpid() == 1) {
		broken("the probe is PID 1: no keeper");
		return;
	}
	int v;
	if (read_adj("1", &v) < 0) {
		ok("read PID 1's oom_score_adj: %s", strerror(errno));
		v = 0;
	} else {
		info("PID 1's oom_score_adj: %d", v);
	}
	int r = write_adj("1", v > -1000 ? v - 1 : v);
	EXPECT_FAIL(r, "lower PID 1's oom_score_adj from %d", v);
	r = write_adj("1", v);
	EXPECT_FAIL(r, "write PID 1's oom_score_adj (its own value, %d)", v);
}

int main(void)
{
	own_adj();
	keeper_adj();

	static const struct {
		int res;
		const char *name;
	} lim[] = {{RLIMIT_NOFILE, "NOFILE"},
		   {RLIMIT_NPROC, "NPROC"},
		   {RLIMIT_AS, "AS"},
		   {RLIMIT_CPU, "CPU"},
		   {RLIMIT_FSIZE, "FSIZE"},
		   {RLIMIT_MEMLOCK, "MEMLOCK"},
		   {RLIMIT_NICE, "NICE"},
		   {RLIMIT_RTPRIO, "RTPRIO"},
		   {RLIMIT_STACK, "STACK"},
		   {RLIMIT_CORE, "CORE"},
		   {RLIMIT_SIGPENDING, "SIGPENDING"},
		   {RLIMIT_MSGQUEUE, "MSGQUEUE"}};
	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		struct rlimit rl;
		if (getrlimit(lim[i].res, &rl) < 0) {
			broken("getrlimit %s: %s", lim[i].name, strerror(errno));
			continue;
		}
		if (rl.rlim_max == RLIM_INFINITY) {
			info("RLIMIT_%s hard limit is unlimited: nothing to raise", lim[i].name);
			continue;
		}
		struct rlimit up = {rl.rlim_max + 1, rl.rlim_max + 1};
		if (lim[i].res == RLIMIT_NOFILE)
			up.rlim_cur = up.rlim_max = rl.rlim_max * 2; /* below nr_open */
		int r = setrlimit(lim[i].res, &up);
		EXPECT_FAIL(r, "raise RLIMIT_%s's hard limit from %llu", lim[i].name,
			    (unsigned long long)rl.rlim_max);
		if (r == 0)
			setrlimit(lim[i].res, &rl);
	}

	int nice_now = getpriority(PRIO_PROCESS, 0);
	struct rlimit rn;
	getrlimit(RLIMIT_NICE, &rn);
	/* RLIMIT_NICE allows nice down to 20 - rlim_cur. */
	int floor = 20 - (int)(rn.rlim_cur > 40 ? 40 : rn.rlim_cur);
	int target = nice_now - 1;
	if (target < -20) {
		info("nice %d: nothing below it", nice_now);
	} else {
		int r = setpriority(PRIO_PROCESS, 0, target);
		if (target < floor)
			EXPECT_FAIL(r, "nice %d, below %d where RLIMIT_NICE allows (%d)", target,
				    nice_now, floor);
		else if (r == 0)
			info("nice %d: RLIMIT_NICE allows down to %d", target, floor);
		setpriority(PRIO_PROCESS, 0, nice_now);
	}

	struct rlimit cpu = {3600, 3600};
	if (getpid() != 1 && prlimit(1, RLIMIT_CPU, &cpu, NULL) == 0)
		info("prlimit on PID 1 (the keeper, the same user) works: it limits the job's own "
		     "%s",
		     "container only");
	else
		ok("prlimit on PID 1: %s", strerror(errno));
	return probe_exit();
}
