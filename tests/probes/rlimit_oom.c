/* rlimit_oom - the job cannot widen the limits it started with: no hard
 * rlimit raised, oom_score_adj not lowered below its value at start, no
 * nicer priority than it was given.
 *
 * Invariant 9 (notes/security.md: limits can only be narrowed) and issue
 * 12 item 3: labrun makes the job, not itself, the OOM killer's choice by
 * giving the job a higher oom_score_adj; a job that could lower it again
 * would get labrun (the FUSE server) or the keeper killed in its place.
 * The kernel lets an unprivileged process lower oom_score_adj down to
 * oom_score_adj_min, the last value a privileged writer set for it (or an
 * ancestor): so a value raised by labrun as the user can be lowered back
 * by the job, down to what it inherited.  This probe tries one below the
 * value at start, and -1000.  Raising a hard rlimit, or RLIMIT_NICE's
 * ceiling, needs CAP_SYS_RESOURCE of the initial user namespace.
 * prlimit on PID 1 (the keeper) lowers the keeper's own limits: allowed to
 * the same user (INFO: the job can only hurt its own container).
 */
#include "probe.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

static int read_adj(int *v)
{
	FILE *f = fopen("/proc/self/oom_score_adj", "re");
	int ok_ = f && fscanf(f, "%d", v) == 1;
	if (f)
		fclose(f);
	return ok_ ? 0 : -1;
}

static int write_adj(int v)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
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

int main(void)
{
	int start;
	if (read_adj(&start) < 0) {
		broken("cannot read /proc/self/oom_score_adj: %s", strerror(errno));
	} else {
		info("oom_score_adj at start: %d", start);
		if (start > -1000) {
			int r = write_adj(start - 1);
			EXPECT_FAIL(r, "lower oom_score_adj from %d to %d", start, start - 1);
			r = write_adj(-1000);
			EXPECT_FAIL(r, "lower oom_score_adj to -1000 (never killed)");
			int now;
			if (read_adj(&now) == 0 && now != start)
				write_adj(start);
		} else {
			escaped("the job starts with oom_score_adj -1000: the OOM killer never "
				"takes it");
		}
		if (write_adj(start < 1000 ? start + 1 : start) == 0)
			info("raising oom_score_adj works (the job volunteers to die first)");
	}

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
