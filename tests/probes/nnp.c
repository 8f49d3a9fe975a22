/* nnp - the job runs with no_new_privs set.
 *
 * Proves invariant 3 (notes/security.md: no_new_privs, "no more privilege
 * inside than outside"; DESIGN.md §3 step 5 sets PR_SET_NO_NEW_PRIVS): with
 * it, execve of a setuid or file-capability binary grants nothing even on a
 * mount that lacks nosuid, and the flag cannot be cleared.
 */
#include "probe.h"

#include <sys/prctl.h>

int main(void)
{
	int r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (r == 1)
		ok("no_new_privs is set");
	else if (r == 0)
		escaped("no_new_privs is not set");
	else
		broken("PR_GET_NO_NEW_PRIVS: %s", strerror(errno));
	return probe_exit();
}
