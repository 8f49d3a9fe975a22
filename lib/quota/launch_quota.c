/* launch_quota.c - the quota side of one launch (launch_quota.h).
 *
 * Runs as the user.  The policy files are the admin's and readable by all;
 * nothing here can raise a limit: the kernel holds the member's cgroup to
 * its limits whatever the container's cgroup below it says.
 */
#include "build-config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

#include "launch_quota.h"
#include "log.h"
#include "placement.h"

unsigned lr_cpu_list_count(const char *list)
{
	unsigned n = 0;
	const char *p = list;
	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;
		if (end == p)
			return 0;
		if (*end == '-') {
			p = end + 1;
			b = strtoul(p, &end, 10);
			if (end == p || b < a)
				return 0;
		}
		n += (unsigned)(b - a + 1);
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			return 0;
	}
	return n;
}

/* Narrow the container to the member's number of cores, placed (hwloc),
 * when the member's cgroup allows more CPUs than that. */
static int place(struct lr_launch_quota *l, struct lr_error *err)
{
	const struct lr_limits *a = &l->alloc;
	if (!a->set[LR_RES_CORES] || a->value[LR_RES_CORES] == LR_POLICY_UNLIMITED)
		return 0;
	char allowed[1024];
	int r = lr_cgroup_job_allowed_cpus(&l->job, allowed, sizeof(allowed), err);
	if (r < 0)
		return r;
	uint64_t n = a->value[LR_RES_CORES];
	if (n >= lr_cpu_list_count(allowed))
		return 0;
	struct lr_topology *t = NULL;
	if (access(LR_TOPOLOGY_XML, R_OK) == 0)
		r = lr_topology_load(&t, LR_TOPOLOGY_XML, err);
	else
		r = lr_topology_load(&t, NULL, err);
	if (r == 0)
		r = lr_place(t, allowed, (unsigned)n, NULL, 0, l->cpus, sizeof(l->cpus), err);
	lr_topology_free(t);
	if (r < 0)
		return lr_error_prefix(err, "place your %llu cores", (unsigned long long)n);
	lr_debug(1, "lab %s: cores %s of %s", l->lab, l->cpus, allowed);
	return 0;
}

/* The member's GPUs: their line of LR_GPUS_FILE, "LAB USER DEVICE...".
 * Only character devices are taken: the file is root's, but a device is
 * what the container gets without nodev. */
static int find_gpus(struct lr_launch_quota *l, const char *user, struct lr_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(LR_GPUS_FILE, "re");
	if (!f)
		return 0; /* no apply gave GPUs on this node */
	char line[LR_POLICY_MAX_LINE];
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *lab = strtok_r(line, " \t\n", &save);
		char *who = lab ? strtok_r(NULL, " \t\n", &save) : NULL;
		if (!who || lab[0] == '#' || strcmp(lab, l->lab) || strcmp(who, user))
			continue;
		for (char *dev; (dev = strtok_r(NULL, " \t\n", &save));) {
			struct stat st;
			if (l->n_gpus == LR_LAUNCH_MAX_GPUS || dev[0] != '/' ||
			    stat(dev, &st) < 0 || !S_ISCHR(st.st_mode))
				continue;
			if (!(l->gpus[l->n_gpus] = strdup(dev)))
				return lr_error_errno(err, ENOMEM, "%s", LR_GPUS_FILE);
			l->n_gpus++;
		}
		break;
	}
	return 0;
}

/* The names of the caller's groups (supplementary and effective), malloc'd;
 * NULL with *n 0 when there are none or memory runs out. */
static char **caller_groups(size_t *n)
{
	*n = 0;
	int ng = getgroups(0, NULL);
	gid_t *gids = ng >= 0 ? calloc((size_t)ng + 1, sizeof(*gids)) : NULL;
	if (!gids)
		return NULL;
	ng = getgroups(ng, gids);
	if (ng < 0)
		ng = 0;
	gids[ng++] = getegid();
	char **names = calloc((size_t)ng, sizeof(*names));
	for (int i = 0; names && i < ng; i++) {
		struct group *g = getgrgid(gids[i]);
		if (g && (names[*n] = strdup(g->gr_name)))
			(*n)++;
	}
	free(gids);
	return names;
}

int lr_launch_quota_find(struct lr_launch_quota *l, const char *policy_dir, const char *user,
			 const char *want, const char *want_option, struct lr_error *err)
{
	memset(l, 0, sizeof(*l));
	l->job.cleaner_fd = -1;
	l->job.into_fd = -1;
	l->job.mem_tasks_fd = -1;
	struct lr_policy *p = &l->policy;
	int r = lr_policy_load(p, policy_dir, true, err);
	if (r == -EACCES && err) {
		char why[LR_ERROR_MSG_MAX / 2];
		snprintf(why, sizeof(why), "%.400s", err->msg);
		return lr_error_set(
			err, EACCES,
			"the labs' quota policy cannot be read (%s), so no container can "
			"start: the lab files must be readable by every user "
			"(labrun-policy(5))",
			why);
	}
	/* Out of descriptors or memory is labrun's own failure, not the
	 * policy's: blaming the admins for a `ulimit -n 4` misled (issue 12).
	 * lr_error_errno() has already said what to do about EMFILE/ENFILE. */
	if (r == -EMFILE || r == -ENFILE || r == -ENOMEM)
		return lr_error_prefix(err, "cannot read the labs' quota policy");
	if (r < 0)
		return lr_error_prefix(err, "the labs' quota policy is broken, so no container "
					    "can start until an admin fixes it");
	const struct lr_lab *labs[LR_POLICY_MAX_LABS];
	size_t n_groups;
	char **groups = caller_groups(&n_groups);
	size_t n = lr_policy_labs_of(p, user, (const char *const *)groups, n_groups, labs,
				     LR_POLICY_MAX_LABS);
	for (size_t i = 0; i < n_groups; i++)
		free(groups[i]);
	free(groups);
	const struct lr_lab *lab = NULL;
	for (size_t i = 0; i < n && want; i++)
		if (!strcmp(labs[i]->name, want))
			lab = labs[i];
	if (want && !lab)
		r = lr_error_set(err, ENOENT, "%s %s: you are not a member of that lab",
				 want_option, want);
	else if (!want && n > 1) {
		char names[256] = "";
		for (size_t i = 0; i < n; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 i ? ", " : "", labs[i]->name);
		r = lr_error_set(err, EINVAL,
				 "you are a member of several labs (%s): choose one with %s", names,
				 want_option);
	} else if (n == 1)
		lab = labs[0];
	if (r == 0 && lab) {
		l->applies = true;
		snprintf(l->lab, sizeof(l->lab), "%s", lab->name);
		lr_lab_allocation(lab, user, &l->alloc);
	}
	if (r < 0 || !l->applies)
		lr_policy_free(p);
	return r;
}

int lr_launch_quota_enter(struct lr_launch_quota *l, const char *policy_dir, const char *user,
			  const char *want, uint64_t reserve, struct lr_error *err)
{
	int r = lr_launch_quota_find(l, policy_dir, user, want, "--lab", err);
	if (r < 0 || !l->applies)
		return r;
	r = lr_cgroup_job_open(&l->job, lr_cgroup_version(), l->lab, user, err);
	if (r == 0)
		r = find_gpus(l, user, err);
	if (r == 0)
		r = place(l, err);
	if (r == 0)
		r = lr_cgroup_job_enter(&l->job, l->cpus[0] ? l->cpus : NULL, reserve, err);
	if (r < 0)
		lr_launch_quota_close(l);
	return r;
}

void lr_launch_quota_close(struct lr_launch_quota *l)
{
	if (!l)
		return;
	lr_cgroup_job_close(&l->job);
	lr_policy_free(&l->policy);
	for (size_t i = 0; i < l->n_gpus; i++)
		free(l->gpus[i]);
	l->n_gpus = 0;
}
