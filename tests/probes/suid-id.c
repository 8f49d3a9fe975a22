/* suid-id - helper for the setuid probe: installed in probes.sqfs as
 * /probes/suid-id, owned by root with mode 4755.  Prints its real,
 * effective and saved user and group ids on one line.
 */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg))
		return 2;
	printf("ruid=%u euid=%u suid=%u rgid=%u egid=%u sgid=%u\n", (unsigned)ru, (unsigned)eu,
	       (unsigned)su, (unsigned)rg, (unsigned)eg, (unsigned)sg);
	return 0;
}
