/* cgplan.c - the cgroup tree and limits of a policy (cgplan.h).
 *
 * Every limit is written on every apply, unlimited ones too ("-1", "max"):
 * a limit the policy no longer sets must be lifted, not left as it was.
 * Resources that are not cgroup limits (tmpfs-size, storage, gpu-hours)
 * and the per-job ones (gpus: the devices a job is given) are not here.
 */
#include "build-config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "cgplan.h"
#include "escape.h"

static struct lr_cg_node *add_node(struct lr_cg_plan *plan, const char *path, enum lr_cg_kind kind,
				   uid_t uid, gid_t gid)
{
	struct lr_cg_node *n = realloc(plan->nodes, (plan->n_nodes + 1) * sizeof(*n));
	if (!n)
		return NULL;
	plan->nodes = n;
	n = &n[plan->n_nodes];
	memset(n, 0, sizeof(*n));
	if (!(n->path = strdup(path)))
		return NULL;
	n->kind = kind;
	n->owner = uid;
	n->group = gid;
	n->delegated = uid != 0;
	plan->n_nodes++;
	return n;
}

static int add_write(struct lr_cg_node *n, const char *controller, const char *file,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int add_write(struct lr_cg_node *n, const char *controller, const char *file,
		     const char *fmt, ...)
{
	struct lr_cg_write *w = realloc(n->writes, (n->n_writes + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	n->writes = w;
	w = &w[n->n_writes];
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&w->value, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	w->path = n->path;
	w->controller = controller;
	w->file = file;
	n->n_writes++;
	return 0;
}

static bool unlimited(const struct lr_limits *l, enum lr_res r)
{
	return !l->set[r] || l->value[r] == LR_POLICY_UNLIMITED;
}

static int add_note(struct lr_cg_plan *plan, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int add_note(struct lr_cg_plan *plan, const char *fmt, ...)
{
	char **v = realloc(plan->notes, (plan->n_notes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	plan->notes = v;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&v[plan->n_notes], fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	plan->n_notes++;
	return 0;
}

/* "MAJ:MIN" of the block device at path; 0 without one (noted). */
static int devnum(struct lr_cg_plan *plan, const char *path, char *buf, size_t len,
		  struct lr_error *err)
{
	struct stat st;
	if (stat(path, &st) < 0 && errno == ENOENT) {
		buf[0] = '\0';
		char shown[1024];
		lr_escape_str(shown, sizeof(shown), path); /* the lab file's text */
		for (size_t i = 0; i < plan->n_notes; i++)
			if (strstr(plan->notes[i], shown) == plan->notes[i])
				return 0;
		return add_note(plan, "%s: no such device on this node: its io limits are left out",
				shown) < 0
			       ? lr_error_errno(err, ENOMEM, "cgroup plan")
			       : 0;
	}
	if (stat(path, &st) < 0)
		return lr_error_errno(err, errno, "io limit on %s", path);
	if (!S_ISBLK(st.st_mode))
		return lr_error_set(err, ENOTBLK, "io limit on %s: not a block device", path);
	snprintf(buf, len, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	return 0;
}

/* The limits l into node n. */
static int limits(struct lr_cg_plan *plan, struct lr_cg_node *n, const struct lr_limits *l,
		  enum lr_cg_version v, struct lr_error *err)
{
	int r = 0;
	bool v1 = v == LR_CG_V1;
	const char *cpu = v1 ? "cpu" : "", *mem = v1 ? "memory" : "", *pids = v1 ? "pids" : "",
		   *io = v1 ? "blkio" : "";
	/* cores: a CFS quota of that many periods per period. */
	uint64_t quota =
		unlimited(l, LR_RES_CORES) ? 0 : l->value[LR_RES_CORES] * LR_CG_CPU_PERIOD_US;
	if (v1) {
		r |= add_write(n, cpu, "cpu.cfs_period_us", "%d", LR_CG_CPU_PERIOD_US);
		r |= quota ? add_write(n, cpu, "cpu.cfs_quota_us", "%llu",
				       (unsigned long long)quota)
			   : add_write(n, cpu, "cpu.cfs_quota_us", "-1");
	} else {
		r |= quota ? add_write(n, cpu, "cpu.max", "%llu %d", (unsigned long long)quota,
				       LR_CG_CPU_PERIOD_US)
			   : add_write(n, cpu, "cpu.max", "max %d", LR_CG_CPU_PERIOD_US);
	}
	/* memory, and swap on top of it (v1: memory+swap together). */
	bool mem_max = unlimited(l, LR_RES_MEMORY), swap_max = unlimited(l, LR_RES_SWAP);
	uint64_t m = l->value[LR_RES_MEMORY], s = l->value[LR_RES_SWAP];
	if (v1) {
		r |= mem_max ? add_write(n, mem, "memory.limit_in_bytes", "-1")
			     : add_write(n, mem, "memory.limit_in_bytes", "%llu",
					 (unsigned long long)m);
		r |= mem_max || swap_max ? add_write(n, mem, "memory.memsw.limit_in_bytes", "-1")
					 : add_write(n, mem, "memory.memsw.limit_in_bytes", "%llu",
						     (unsigned long long)(m + s));
	} else {
		r |= mem_max ? add_write(n, mem, "memory.max", "max")
			     : add_write(n, mem, "memory.max", "%llu", (unsigned long long)m);
		r |= swap_max ? add_write(n, mem, "memory.swap.max", "max")
			      : add_write(n, mem, "memory.swap.max", "%llu", (unsigned long long)s);
	}
	r |= unlimited(l, LR_RES_PROCESSES)
		     ? add_write(n, pids, "pids.max", "max")
		     : add_write(n, pids, "pids.max", "%llu",
				 (unsigned long long)l->value[LR_RES_PROCESSES]);
	/* io: a weight, and rates per device.  Weights are the BFQ I/O
	 * scheduler's on v1 (blkio.bfq.weight, 1-1000; CFQ's blkio.weight left
	 * Linux in 5.0), the same scale as v2's io.weight (1-10000), both with
	 * a default of 100. */
	if (!unlimited(l, LR_RES_IO_WEIGHT)) {
		uint64_t w = l->value[LR_RES_IO_WEIGHT];
		if (v1) {
			w = w > 1000 ? 1000 : w;
			r |= add_write(n, io, "blkio.bfq.weight", "%llu", (unsigned long long)w);
		} else {
			r |= add_write(n, io, "io.weight", "default %llu", (unsigned long long)w);
		}
	}
	if (r)
		return lr_error_errno(err, ENOMEM, "cgroup plan");
	for (int dir = 0; dir < 2; dir++) {
		const struct lr_keyed *k = dir ? l->write_bps : l->read_bps;
		size_t nk = dir ? l->n_write_bps : l->n_read_bps;
		for (size_t i = 0; i < nk; i++) {
			char dev[32];
			if ((r = devnum(plan, k[i].key, dev, sizeof(dev), err)) < 0)
				return r;
			if (!dev[0])
				continue;
			bool max = k[i].value == LR_POLICY_UNLIMITED;
			if (v1)
				r = add_write(n, io,
					      dir ? "blkio.throttle.write_bps_device"
						  : "blkio.throttle.read_bps_device",
					      "%s %llu", dev,
					      max ? 0ULL : (unsigned long long)k[i].value);
			else if (max)
				r = add_write(n, io, "io.max", "%s %s=max", dev,
					      dir ? "wbps" : "rbps");
			else
				r = add_write(n, io, "io.max", "%s %s=%llu", dev,
					      dir ? "wbps" : "rbps",
					      (unsigned long long)k[i].value);
			if (r)
				return lr_error_errno(err, ENOMEM, "cgroup plan");
		}
	}
	return 0;
}

/* v1's blkio throttling is not hierarchical (block/blk-throttle.c: on the
 * legacy hierarchy a group's limits hold for its own processes only), so
 * the member's rates go to their login cgroup too; labrun copies them into
 * each container's (cgroup_job.c).  v2's io.max is hierarchical. */
static int throttle_too(struct lr_cg_node *login, const struct lr_cg_node *member)
{
	for (size_t i = 0; i < member->n_writes; i++) {
		const struct lr_cg_write *w = &member->writes[i];
		if (strstr(w->file, "blkio.throttle.") == w->file &&
		    add_write(login, w->controller, w->file, "%s", w->value) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lab's members that exist here: users named, and users of the
 * groups named (listed in the group, or having it as primary group). */
static int members(const struct lr_lab *lab, char ***out, size_t *n)
{
	char **v = NULL;
	size_t cnt = 0;
	int r = 0;
#define PUSH(name)                                                                                 \
	do {                                                                                       \
		char **nv = realloc(v, (cnt + 1) * sizeof(*nv));                                   \
		if (!nv || !(nv[cnt] = strdup(name))) {                                            \
			if (nv)                                                                    \
				v = nv;                                                            \
			r = -ENOMEM;                                                               \
			goto out;                                                                  \
		}                                                                                  \
		v = nv;                                                                            \
		cnt++;                                                                             \
	} while (0)
	for (size_t i = 0; i < lab->n_users; i++)
		if (getpwnam(lab->users[i]))
			PUSH(lab->users[i]);
	for (size_t i = 0; i < lab->n_groups; i++) {
		struct group *g = getgrnam(lab->groups[i]);
		if (!g)
			continue;
		gid_t gid = g->gr_gid;
		for (char **m = g->gr_mem; *m; m++)
			if (getpwnam(*m))
				PUSH(*m);
		setpwent();
		struct passwd *pw;
		while ((pw = getpwent()))
			if (pw->pw_gid == gid)
				PUSH(pw->pw_name);
		endpwent();
	}
#undef PUSH
	if (cnt)
		qsort(v, cnt, sizeof(*v), by_str);
	size_t kept = 0; /* without repeats */
	for (size_t i = 0; i < cnt; i++) {
		if (kept && !strcmp(v[kept - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[kept++] = v[i];
	}
	cnt = kept;
out:
	if (r < 0) {
		for (size_t i = 0; i < cnt; i++)
			free(v[i]);
		free(v);
		return r;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* Member n's GPUs: count of them from the node's, starting at *next. */
static void give_gpus(struct lr_cg_node *n, const struct lr_limits *a, const struct lr_cg_gpus *g,
		      size_t *next)
{
	if (!g || !g->n)
		return;
	size_t want = unlimited(a, LR_RES_GPUS) || a->value[LR_RES_GPUS] >= g->n
			      ? g->n
			      : (size_t)a->value[LR_RES_GPUS];
	bool given[LR_DEVICES_MAX] = {false};
	for (size_t k = 0; k < want; k++)
		given[(*next + k) % g->n] = true;
	if (want < g->n)
		*next = (*next + want) % g->n;
	for (size_t i = 0; i < g->n; i++) {
		if (given[i]) {
			n->gpu_allow_path[n->n_gpu_allow] = g->path[i];
			n->gpu_allow[n->n_gpu_allow++] = g->dev[i];
		} else {
			n->gpu_deny[n->n_gpu_deny++] = g->dev[i];
		}
	}
}

/* cgroup v1: no cgroup of a member of several labs is delegated (the
 * comment at lr_cg_node.delegated says why), with a note naming the
 * member and the labs. */
static int v1_one_lab_each(struct lr_cg_plan *plan, struct lr_error *err)
{
	for (size_t i = 0; i < plan->n_nodes; i++) {
		const struct lr_cg_node *n = &plan->nodes[i];
		if (n->kind != LR_CG_MEMBER || !n->delegated)
			continue;
		size_t labs = 0;
		char names[512] = "";
		for (size_t j = i; j < plan->n_nodes; j++) {
			const struct lr_cg_node *m = &plan->nodes[j];
			if (m->kind != LR_CG_MEMBER || m->owner != n->owner)
				continue;
			/* "labrun/LAB/USER" */
			const char *lab = m->path + strlen(LR_CG_ROOT) + 1;
			size_t ll = strcspn(lab, "/");
			size_t used = strlen(names);
			snprintf(names + used, sizeof(names) - used, "%s%.*s", labs ? ", " : "",
				 (int)ll, lab);
			labs++;
		}
		if (labs < 2)
			continue;
		for (size_t j = i; j < plan->n_nodes; j++)
			if (plan->nodes[j].owner == n->owner)
				plan->nodes[j].delegated = false;
		const char *user = strrchr(n->path, '/') + 1;
		if (add_note(plan,
			     "%s is a member of %zu labs (%s): on cgroup v1 none of their cgroups "
			     "is delegated to them, since v1 would let them move a running "
			     "container from one lab's cgroup into another's; their logins and "
			     "Slurm steps run under these limits, labrun without Slurm does not "
			     "start for them here (use cgroup v2, or one lab each)",
			     user, labs, names) < 0)
			return lr_error_errno(err, ENOMEM, "cgroup plan");
	}
	return 0;
}

int lr_cg_plan_make(struct lr_cg_plan *out, const struct lr_policy *p, enum lr_cg_version v,
		    const struct lr_cg_gpus *gpus, struct lr_error *err)
{
	struct lr_cg_plan plan = {.version = v};
	size_t next_gpu = 0;
	int r = 0;
	/* No lab, no tree: apply then removes "labrun" itself. */
	if (p->n_labs && !add_node(&plan, LR_CG_ROOT, LR_CG_TOP, 0, 0)) {
		r = lr_error_errno(err, ENOMEM, "cgroup plan");
		goto fail;
	}
	for (size_t i = 0; i < p->n_labs; i++) {
		const struct lr_lab *lab = &p->labs[i];
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", LR_CG_ROOT, lab->name);
		struct lr_cg_node *n = add_node(&plan, path, LR_CG_LAB, 0, 0);
		if (!n) {
			r = lr_error_errno(err, ENOMEM, "cgroup plan");
			goto fail;
		}
		if ((r = limits(&plan, n, &lab->total, v, err)) < 0) {
			lr_error_prefix(err, "%s", lab->file);
			goto fail;
		}
		char **users;
		size_t nu;
		if ((r = members(lab, &users, &nu)) < 0) {
			lr_error_errno(err, -r, "%s: members", lab->file);
			goto fail;
		}
		for (size_t u = 0; u < nu && r == 0; u++) {
			struct passwd *pw = getpwnam(users[u]);
			snprintf(path, sizeof(path), "%s/%s/%s", LR_CG_ROOT, lab->name, users[u]);
			struct lr_limits a;
			lr_lab_allocation(lab, users[u], &a);
			if (!pw ||
			    !(n = add_node(&plan, path, LR_CG_MEMBER, pw->pw_uid, pw->pw_gid)))
				r = lr_error_errno(err, ENOMEM, "cgroup plan");
			else if ((r = limits(&plan, n, &a, v, err)) < 0)
				lr_error_prefix(err, "%s: member %s", lab->file, users[u]);
			if (r < 0)
				break;
			give_gpus(n, &a, gpus, &next_gpu);
			for (size_t k = 0; k < a.n_storage && r == 0; k++) {
				struct lr_cg_storage *st = &n->storage[n->n_storage];
				st->bytes = a.storage[k].value == LR_POLICY_UNLIMITED
						    ? 0
						    : a.storage[k].value;
				if (!(st->path = strdup(a.storage[k].key)))
					r = lr_error_errno(err, ENOMEM, "cgroup plan");
				else
					n->n_storage++;
			}
			if (r < 0)
				break;
			size_t member = plan.n_nodes - 1;
			struct lr_cg_node *login = NULL;
			if (strlen(path) + sizeof("/login") > sizeof(path) ||
			    !(login = add_node(&plan, strcat(path, "/login"), LR_CG_LOGIN,
					       pw->pw_uid, pw->pw_gid)))
				r = lr_error_errno(err, ENOMEM, "cgroup plan");
			else if (v == LR_CG_V1 && throttle_too(login, &plan.nodes[member]) < 0)
				r = lr_error_errno(err, ENOMEM, "cgroup plan");
		}
		for (size_t u = 0; u < nu; u++)
			free(users[u]);
		free(users);
		if (r < 0)
			goto fail;
	}
	if (v == LR_CG_V1 && (r = v1_one_lab_each(&plan, err)) < 0)
		goto fail;
	*out = plan;
	return 0;
fail:
	lr_cg_plan_free(&plan);
	return r;
}

void lr_cg_plan_free(struct lr_cg_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_nodes; i++) {
		for (size_t w = 0; w < plan->nodes[i].n_writes; w++)
			free(plan->nodes[i].writes[w].value);
		for (size_t k = 0; k < plan->nodes[i].n_storage; k++)
			free(plan->nodes[i].storage[k].path);
		free(plan->nodes[i].writes);
		free(plan->nodes[i].path);
	}
	free(plan->nodes);
	for (size_t i = 0; i < plan->n_notes; i++)
		free(plan->notes[i]);
	free(plan->notes);
	memset(plan, 0, sizeof(*plan));
}

enum lr_cg_version lr_cgroup_version(void)
{
	struct statfs sf;
	if (statfs(LR_CGROUP_MOUNT, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		return LR_CG_V2;
	return LR_CG_V1;
}

const char *lr_cg_controllers(enum lr_cg_version v)
{
	/* v1: cpuacct for the CPU time a member used, devices for GPUs; v2
	 * has both built in (cpu.stat, eBPF device programs). */
	return v == LR_CG_V1 ? "cpu,cpuacct,cpuset,memory,pids,blkio,devices"
			     : "cpu,cpuset,memory,pids,io";
}

char *lr_cg_rules_text(const struct lr_cg_plan *plan)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f, "# Written by labrun-policy apply from the labs' policy: do not edit.\n"
		   "# Each member's logins go to their login cgroup (cgrules.conf(5)).\n");
	/* Labs come by name, so a member's first lab is the first seen. */
	uid_t *seen = NULL;
	size_t n_seen = 0;
	for (size_t i = 0; i < plan->n_nodes; i++) {
		const struct lr_cg_node *n = &plan->nodes[i];
		if (n->kind != LR_CG_LOGIN)
			continue;
		bool dup = false;
		for (size_t k = 0; k < n_seen && !dup; k++)
			dup = seen[k] == n->owner;
		struct passwd *pw = getpwuid(n->owner);
		if (dup || !pw)
			continue;
		uid_t *s = realloc(seen, (n_seen + 1) * sizeof(*s));
		if (!s)
			break;
		seen = s;
		seen[n_seen++] = n->owner;
		fprintf(f, "%s\t%s\t%s\n", pw->pw_name, lr_cg_controllers(plan->version), n->path);
	}
	free(seen);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *lr_cg_gpus_text(const struct lr_cg_plan *plan)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f, "# Written by labrun-policy apply: the GPUs of each lab member, which labrun\n"
		   "# shows in their containers.  LAB USER DEVICE...\n");
	for (size_t i = 0; i < plan->n_nodes; i++) {
		const struct lr_cg_node *n = &plan->nodes[i];
		if (n->kind != LR_CG_MEMBER || !n->n_gpu_allow)
			continue;
		/* "labrun/LAB/USER" */
		const char *lab = n->path + strlen(LR_CG_ROOT) + 1;
		const char *user = strchr(lab, '/');
		if (!user)
			continue;
		fprintf(f, "%.*s %s", (int)(user - lab), lab, user + 1);
		for (size_t g = 0; g < n->n_gpu_allow; g++)
			fprintf(f, " %s", n->gpu_allow_path[g]);
		fprintf(f, "\n");
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *lr_cg_plan_text(const struct lr_cg_plan *plan)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f, "cgroup v%d\n", plan->version);
	for (size_t i = 0; i < plan->n_notes; i++)
		fprintf(f, "# %s\n", plan->notes[i]);
	for (size_t i = 0; i < plan->n_nodes; i++) {
		const struct lr_cg_node *n = &plan->nodes[i];
		struct passwd *pw = n->owner ? getpwuid(n->owner) : NULL;
		if (n->owner && n->delegated)
			fprintf(f, "cgroup %s (owner %s)\n", n->path, pw ? pw->pw_name : "?");
		else if (n->owner)
			fprintf(f, "cgroup %s (of %s, not delegated)\n", n->path,
				pw ? pw->pw_name : "?");
		else
			fprintf(f, "cgroup %s\n", n->path);
		for (size_t w = 0; w < n->n_writes; w++)
			fprintf(f, "  %s = %s\n", n->writes[w].file, n->writes[w].value);
		for (size_t k = 0; k < n->n_storage; k++) {
			char v[32] = "none", path[1024];
			if (n->storage[k].bytes)
				lr_res_format(LR_RES_MEMORY, n->storage[k].bytes, v, sizeof(v));
			lr_escape_str(path, sizeof(path), n->storage[k].path);
			fprintf(f, "  storage %s = %s (disk quota)\n", path, v);
		}
		if (n->n_gpu_allow + n->n_gpu_deny) {
			fprintf(f, "  gpus =");
			for (size_t g = 0; g < n->n_gpu_allow; g++)
				fprintf(f, " %s", n->gpu_allow_path[g]);
			fprintf(f, "%s (of %zu; the others denied)\n",
				n->n_gpu_allow ? "" : " none", n->n_gpu_allow + n->n_gpu_deny);
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
