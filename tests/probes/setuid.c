/* setuid - a setuid-root binary in the image gains nothing.
 *
 * Proves invariant 3 (notes/security.md: nosuid on every image mount, and
 * no_new_privs): probes.sqfs carries /probes/suid-id owned by root with
 * mode 4755 (a hostile image may); executed by the job its effective and
 * saved uids must equal the job's real uid.  The image must really carry
 * the bit, or this test could not fail (then BROKEN).
 */
#include "probe.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUID_ID "/probes/suid-id"

int main(void)
{
	struct stat st;
	if (stat(SUID_ID, &st) < 0 || !(st.st_mode & S_ISUID)) {
		broken("%s is missing or not setuid in the image", SUID_ID);
		return probe_exit();
	}
	int p[2];
	if (pipe(p) < 0) {
		broken("pipe: %s", strerror(errno));
		return probe_exit();
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execl(SUID_ID, SUID_ID, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char out[256] = "";
	ssize_t n = read(p[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	int status = 0;
	waitpid(pid, &status, 0);
	unsigned ru, eu, su;
	if (sscanf(out, "ruid=%u euid=%u suid=%u", &ru, &eu, &su) != 3) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			ok("exec of setuid %s refused", SUID_ID);
		else
			broken("%s printed '%s'", SUID_ID, out);
	} else if (eu != ru || su != ru) {
		escaped("setuid %s ran with %s (real uid %u)", SUID_ID, out, getuid());
	} else {
		ok("setuid %s gained nothing: %s", SUID_ID, out);
	}
	return probe_exit();
}
