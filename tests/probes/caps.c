/* caps [remap] - a job that is not root holds no capability at all; root
 * (--remap-root, "remap") holds them only in a user namespace of its own.
 *
 * Proves invariant 3 (notes/security.md: "no new ids or capabilities") and
 * the launcher's decision (doc/DECISIONS.md, "Nested user namespace only
 * with --remap-root"): without remap, effective, permitted, inheritable and
 * ambient sets are empty, so the job cannot mount, remount or unmount
 * anything in the namespaces labrun set up.  With remap, the job's user
 * namespace must be nested in labrun's: its uid 0 maps to uid 0 of the
 * parent namespace (labrun's, where 0 is the caller), not straight to the
 * caller's host uid, which would make the job root in the namespace that
 * owns labrun's mounts (mounts made there are not locked against it).
 * The bounding set is reported.
 */
#include "probe.h"

#include <inttypes.h>
#include <unistd.h>

static int remap_mode(void)
{
	FILE *f = fopen("/proc/self/uid_map", "r");
	unsigned inside, outside, count;
	if (!f || fscanf(f, "%u %u %u", &inside, &outside, &count) != 3) {
		broken("cannot read /proc/self/uid_map");
	} else if (getuid() != 0) {
		broken("--remap-root: the job's uid is %u, not 0", (unsigned)getuid());
	} else if (inside == 0 && outside == 0) {
		ok("root only in a nested user namespace (uid_map: 0 0 %u)", count);
	} else {
		escaped("root in labrun's own user namespace (uid_map: %u %u %u)", inside, outside,
			count);
	}
	if (f)
		fclose(f);
	return probe_exit();
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "remap"))
		return remap_mode();
	FILE *f = fopen("/proc/self/status", "r");
	if (!f) {
		broken("cannot read /proc/self/status: %s", strerror(errno));
		return probe_exit();
	}
	static const char *sets[] = {"CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"};
	int found = 0;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
			size_t l = strlen(sets[i]);
			if (strncmp(line, sets[i], l) || line[l] != ':')
				continue;
			found++;
			uint64_t v = strtoull(line + l + 1, NULL, 16);
			if (!strcmp(sets[i], "CapBnd"))
				info("%s %016" PRIx64, sets[i], v);
			else if (v)
				escaped("%s is %016" PRIx64 ", not empty", sets[i], v);
			else
				ok("%s is empty", sets[i]);
		}
	}
	fclose(f);
	if (found < 4)
		broken("/proc/self/status lacks the Cap* lines");
	return probe_exit();
}
