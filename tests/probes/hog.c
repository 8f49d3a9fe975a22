/* hog.c - not an escape probe: a memory hog for the quota tests
 * (tests/root/quota.bats).  Allocates and touches memory in 4 MiB steps up
 * to argv[1] MiB, printing the total after each step, then prints "done".
 * Killed by the OOM killer at a memory limit, it prints no "done".
 */
#include "probe.h"

#include <unistd.h>

int main(int argc, char **argv)
{
	long max = argc > 1 ? strtol(argv[1], NULL, 10) : 256;
	const size_t step = 4 << 20;
	for (long mib = 4; mib <= max; mib += 4) {
		char *p = malloc(step);
		if (!p) {
			printf("malloc failed at %ld MiB\n", mib);
			return 2;
		}
		for (size_t i = 0; i < step; i += 4096)
			p[i] = 1;
		printf("%ld MiB\n", mib);
		fflush(stdout);
	}
	printf("done\n");
	return 0;
}
