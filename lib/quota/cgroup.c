/* cgroup.c - a cgroup plan made real, through libcgroup (cgroup.h).
 *
 * Runs as root.  libcgroup finds the hierarchies, makes the cgroups and
 * writes the limit files, on v1 and v2 alike; every libcgroup error is
 * translated here and nowhere else (STYLE.md).  Three things it does not
 * do are done here with plain file operations, each for a reason:
 *  - delegation: libcgroup gives a cgroup's "tasks" file to one user and
 *    everything else to another, while the kernel's delegation model
 *    (cgroup-v2.rst, "Delegation Containment") needs the directory and the
 *    files that move processes (cgroup.procs, v1's tasks, v2's
 *    cgroup.threads and cgroup.subtree_control) to be the member's and the
 *    limit files to stay root's;
 *  - v2's cgroup.subtree_control, which is not a controller's file;
 *  - removal of what the policy no longer names, empty cgroups only:
 *    libcgroup's recursive delete moves processes to the parent first,
 *    which would put a member's running job under the lab's total only.
 *
 * Ordering.  The kernel refuses some values given the ones already there,
 * and apply starts from any earlier policy:
 *  - v1 memory: memory.memsw.limit_in_bytes may never be below
 *    memory.limit_in_bytes, so when memory grows past the current
 *    memory+swap, memory+swap is written first;
 *  - v1 cpu: a child's CFS quota may not exceed its parent's
 *    (kernel/sched/core.c, tg_cfs_schedulable_down), so quotas that shrink
 *    are written leaves first, before the pass that writes everything
 *    parents first.
 * Writes go one value per libcgroup call, so that an error names the file.
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libcgroup.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgread.h"
#include "cgroup.h"
#include "cgroup_job.h"
#include "cleanup.h"

#define MAX_HIER 8     /* hierarchies in lr_cg_controllers(): 7 on v1 */
#define MAX_STALE 4096 /* cgroups below "labrun" apply will consider removing */
#define VALUE_MAX 4096 /* a limit file's content, as read back */
#define PAGE 4096      /* v1 memory limits are kept in whole pages */

void lr_cgroup_log_free(struct lr_cgroup_log *log)
{
	if (!log)
		return;
	for (size_t i = 0; i < log->n; i++)
		free(log->lines[i]);
	free(log->lines);
	log->lines = NULL;
	log->n = 0;
}

static int logf_(struct lr_cgroup_log *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int logf_(struct lr_cgroup_log *log, const char *fmt, ...)
{
	char **v = realloc(log->lines, (log->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	log->lines = v;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&v[log->n], fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	log->n++;
	return 0;
}

/* libcgroup's error rc as ours: its own text, and the errno behind it when
 * it has one (ECGOTHER: "look at cgroup_get_last_errno()"). */
static int cg_error(struct lr_error *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cg_error(struct lr_error *err, int rc, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	int e = cgroup_get_last_errno();
	if (rc == ECGOTHER || (rc == ECGROUPVALUENOTEXIST && e))
		return lr_error_errno(err, e ? e : EIO, "%s", what);
	return lr_error_set(err, rc == ECGROUPNOTMOUNTED ? ENOENT : EIO, "%s: %s", what,
			    cgroup_strerror(rc));
}

/* The hierarchies a cgroup of ours lives in: their controller (v1) and
 * mount point.  On v2 one, the unified hierarchy, named by "". */
struct hier {
	char ctrl[16];
	char mount[256];
};

static int hierarchies(enum lr_cg_version v, struct hier *out, size_t *n, struct lr_error *err)
{
	if (v == LR_CG_V2) {
		snprintf(out[0].ctrl, sizeof(out[0].ctrl), "%s", "");
		snprintf(out[0].mount, sizeof(out[0].mount), "%s", LR_CGROUP_MOUNT);
		*n = 1;
		return 0;
	}
	char list[128];
	snprintf(list, sizeof(list), "%s", lr_cg_controllers(v));
	size_t k = 0;
	char *save = NULL;
	for (char *c = strtok_r(list, ",", &save); c && k < MAX_HIER;
	     c = strtok_r(NULL, ",", &save)) {
		char *mp = NULL;
		int rc = cgroup_get_subsys_mount_point(c, &mp);
		if (rc)
			return cg_error(err, rc,
					"cgroup v1 controller %s: not mounted (the kernel or the "
					"init system leaves it out)",
					c);
		snprintf(out[k].ctrl, sizeof(out[k].ctrl), "%s", c);
		snprintf(out[k].mount, sizeof(out[k].mount), "%s", mp);
		free(mp);
		k++;
	}
	*n = k;
	return 0;
}

/* The controller libcgroup files a limit under: v1's hierarchy, or on v2
 * the file's prefix ("memory.max" -> "memory"). */
static void controller_of(const struct lr_cg_write *w, char *buf, size_t len)
{
	if (w->controller[0]) {
		snprintf(buf, len, "%s", w->controller);
		return;
	}
	size_t n = strcspn(w->file, ".");
	snprintf(buf, len, "%.*s", (int)n, w->file);
}

/* mount/path/file through the launcher's readers and writers of cgroup
 * files (cgroup_job.c). */
static int read_file(const char *mount, const char *path, const char *file, char *buf, size_t len)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s/%s", mount, path, file);
	return lr_cgroup_read_at(AT_FDCWD, p, buf, len);
}

static int write_file(const char *mount, const char *path, const char *file, const char *value)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s/%s", mount, path, file);
	return lr_cgroup_write_at(AT_FDCWD, p, value);
}

/* Does the file already hold the value apply would write?  Only to keep
 * the log to real changes: apply writes every value anyway. */
static bool holds(const char *file, const char *want, const char *have)
{
	if (!strcmp(want, have))
		return true;
	if (strstr(file, "_device") || !strcmp(file, "io.max")) {
		/* One line per device in the file; "DEV 0" (v1) or
		 * "DEV rbps=max" (v2) means none for DEV. */
		size_t dl = strcspn(want, " ");
		const char *line = have;
		bool none = strstr(want, " 0") == want + dl || strstr(want, "=max");
		while (*line) {
			if (!strncmp(line, want, dl) && line[dl] == ' ')
				return !none && strstr(line, want + dl + 1) != NULL;
			line += strcspn(line, "\n");
			line += *line == '\n';
		}
		return none;
	}
	if (!strcmp(file, "cpu.max") || !strcmp(file, "io.weight"))
		return false;
	uint64_t w = lr_cgread_value(want), h = lr_cgread_value(have);
	if (strstr(file, "memory.") && w != UINT64_MAX)
		w -= w % PAGE;
	return w == h;
}

/* One value into one cgroup through libcgroup. */
static int cg_write(const char *path, const struct lr_cg_write *w, struct lr_error *err)
{
	char ctrl[32];
	controller_of(w, ctrl, sizeof(ctrl));
	struct cgroup *cg = cgroup_new_cgroup(path);
	if (!cg)
		return lr_error_errno(err, ENOMEM, "%s", path);
	struct cgroup_controller *c = cgroup_add_controller(cg, ctrl);
	int rc = c ? cgroup_add_value_string(c, w->file, w->value) : ECGFAIL;
	if (!rc)
		rc = cgroup_modify_cgroup(cg);
	cgroup_free(&cg);
	if (rc)
		return cg_error(err, rc, "%s: %s = %s", path, w->file, w->value);
	return 0;
}

static const struct lr_cg_write *find_write(const struct lr_cg_node *n, const char *file)
{
	for (size_t i = 0; i < n->n_writes; i++)
		if (!strcmp(n->writes[i].file, file))
			return &n->writes[i];
	return NULL;
}

static const char *mount_of(const struct hier *h, size_t nh, const char *ctrl)
{
	for (size_t i = 0; i < nh; i++)
		if (!strcmp(h[i].ctrl, ctrl))
			return h[i].mount;
	return nh ? h[0].mount : LR_CGROUP_MOUNT;
}

static bool exists_in(const struct hier *h, const char *path)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", h->mount, path);
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* v2: the controllers of lr_cg_controllers() enabled for path's children. */
static int enable_v2(const char *path, bool dry_run, struct lr_cgroup_log *log,
		     struct lr_error *err)
{
	char have[VALUE_MAX], want[128] = "", list[128];
	if (read_file(LR_CGROUP_MOUNT, path, "cgroup.subtree_control", have, sizeof(have)) < 0)
		have[0] = '\0';
	snprintf(list, sizeof(list), "%s", lr_cg_controllers(LR_CG_V2));
	char *save = NULL;
	for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		/* the words of have, one by one */
		bool on = false;
		for (char *p = have; *p && !on; p += strcspn(p, " "), p += *p == ' ')
			on = strncmp(p, c, strlen(c)) == 0 &&
			     (p[strlen(c)] == ' ' || p[strlen(c)] == '\0');
		if (!on)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s+%s",
				 want[0] ? " " : "", c);
	}
	if (!want[0])
		return 0;
	if (logf_(log, "enable %s in %s/cgroup.subtree_control", want, path[0] ? path : ".") < 0)
		return lr_error_errno(err, ENOMEM, "apply");
	if (dry_run)
		return 0;
	int r = write_file(LR_CGROUP_MOUNT, path, "cgroup.subtree_control", want);
	if (r == -EBUSY)
		return lr_error_set(err, EBUSY,
				    "%s: cannot enable %s for its children: it holds processes "
				    "itself (cgroup v2 allows processes only in leaves); move them "
				    "to a child cgroup",
				    path[0] ? path : LR_CGROUP_MOUNT, want);
	if (r < 0)
		return lr_error_errno(err, -r, "%s/cgroup.subtree_control: %s", path, want);
	return 0;
}

/* A new v1 cpuset cgroup has no CPUs and no memory nodes, and no task can
 * join it until it has: give it its parent's. */
static int cpuset_inherit(const struct hier *h, const char *path, struct lr_error *err)
{
	char parent[1024];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	else
		parent[0] = '\0';
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	for (size_t i = 0; i < 2; i++) {
		char have[VALUE_MAX], from[VALUE_MAX];
		if (read_file(h->mount, path, files[i], have, sizeof(have)) == 0 && have[0])
			continue;
		int r = read_file(h->mount, parent, files[i], from, sizeof(from));
		if (r == 0)
			r = write_file(h->mount, path, files[i], from);
		if (r < 0)
			return lr_error_errno(err, -r, "%s: %s from its parent", path, files[i]);
	}
	return 0;
}

static int create(const struct lr_cg_node *n, const struct hier *h, size_t nh, enum lr_cg_version v,
		  bool dry_run, struct lr_cgroup_log *log, struct lr_error *err)
{
	if (v == LR_CG_V2) {
		char parent[1024];
		snprintf(parent, sizeof(parent), "%s", n->path);
		char *slash = strrchr(parent, '/');
		*(slash ? slash : parent) = '\0';
		int r = enable_v2(parent, dry_run, log, err);
		if (r < 0)
			return r;
	}
	bool missing = false;
	for (size_t i = 0; i < nh; i++)
		missing |= !exists_in(&h[i], n->path);
	if (missing) {
		if (logf_(log, "create %s", n->path) < 0)
			return lr_error_errno(err, ENOMEM, "apply");
		if (dry_run)
			return 0;
		struct cgroup *cg = cgroup_new_cgroup(n->path);
		if (!cg)
			return lr_error_errno(err, ENOMEM, "%s", n->path);
		/* v1: a directory per hierarchy; v2: one, libcgroup enabling
		 * the controllers in the parent's subtree_control. */
		int rc = 0;
		char list[128];
		snprintf(list, sizeof(list), "%s", lr_cg_controllers(v));
		char *save = NULL;
		for (char *c = strtok_r(list, ",", &save); c && !rc; c = strtok_r(NULL, ",", &save))
			if (!cgroup_add_controller(cg, c))
				rc = ECGFAIL;
		/* ignore_ownership: the owners are set below, as delegation
		 * needs them. */
		if (!rc)
			rc = cgroup_create_cgroup(cg, 1);
		cgroup_free(&cg);
		if (rc)
			return cg_error(err, rc, "create cgroup %s", n->path);
	}
	if (v == LR_CG_V1 && !dry_run)
		for (size_t i = 0; i < nh; i++)
			if (!strcmp(h[i].ctrl, "cpuset")) {
				int r = cpuset_inherit(&h[i], n->path, err);
				if (r < 0)
					return r;
			}
	return 0;
}

/* The files that move processes into a cgroup (and, on v2, that give
 * controllers to its children), with its directory ("."): what delegation
 * gives the member; never a limit file. */
static const char *const *mover_files(enum lr_cg_version v)
{
	static const char *const v1_files[] = {".", "tasks", "cgroup.procs", NULL};
	static const char *const v2_files[] = {".", "cgroup.procs", "cgroup.threads",
					       "cgroup.subtree_control", NULL};
	return v == LR_CG_V1 ? v1_files : v2_files;
}

/* dfd's directory and mover files to uid:gid; *changed when one was not. */
static int chown_movers(int dfd, const char *shown, enum lr_cg_version v, uid_t uid, gid_t gid,
			bool dry_run, bool *changed, struct lr_error *err)
{
	for (const char *const *f = mover_files(v); *f; f++) {
		struct stat st;
		int flags = AT_SYMLINK_NOFOLLOW | (strcmp(*f, ".") ? 0 : AT_EMPTY_PATH);
		const char *name = strcmp(*f, ".") ? *f : "";
		if (fstatat(dfd, name, &st, flags) < 0) {
			if (errno == ENOENT && strcmp(*f, "."))
				continue; /* v1's cgroup.procs in an old kernel */
			return lr_error_errno(err, errno, "%s/%s", shown, *f);
		}
		if (st.st_uid == uid && st.st_gid == gid)
			continue;
		*changed = true;
		if (!dry_run && fchownat(dfd, name, uid, gid, flags) < 0)
			return lr_error_errno(err, errno, "%s/%s", shown, *f);
	}
	return 0;
}

static bool in_plan(const struct lr_cg_plan *plan, const char *path);
static int remove_tree(int parent, const char *name);

/* The cgroups below dfd's (rel, e.g. "labrun/LAB/USER": a member's
 * containers, its login) back to root: nothing under a cgroup that is not
 * the member's may be theirs to move processes into, or to make cgroups in
 * (a cgroup made by the member is the member's, cgroup_kn_set_ugid() in
 * kernel/cgroup/cgroup.c).  Those the plan does not name (the member's
 * containers) are removed when empty, as the member can no longer. */
static int take_back_below(const struct lr_cg_plan *plan, int dfd, const char *shown,
			   const char *rel, int depth, bool dry_run, bool *changed,
			   struct lr_error *err)
{
	enum lr_cg_version v = plan->version;
	if (depth >= 8)
		return 0; /* deeper than labrun or its launcher makes cgroups */
	int dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return lr_error_errno(err, errno, "%s", shown);
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return lr_error_errno(err, errno, "%s", shown);
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		char p[1024], sub_rel[1024];
		snprintf(p, sizeof(p), "%s/%s", shown, e->d_name);
		snprintf(sub_rel, sizeof(sub_rel), "%s/%s", rel, e->d_name);
		if (!dry_run && !in_plan(plan, sub_rel) && remove_tree(dfd, e->d_name) == 0)
			continue;
		_cleanup_close_ int sub =
			openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue; /* a container's cgroup removed meanwhile */
		r = chown_movers(sub, p, v, 0, 0, dry_run, changed, err);
		if (r == 0)
			r = take_back_below(plan, sub, p, sub_rel, depth + 1, dry_run, changed,
					    err);
	}
	return r;
}

/* A member's cgroup and login: the member's when delegated, else root's
 * with everything below (cgplan.h, lr_cg_node.delegated). */
static int delegate(const struct lr_cg_plan *plan, const struct lr_cg_node *n, const struct hier *h,
		    size_t nh, bool dry_run, struct lr_cgroup_log *log, struct lr_error *err)
{
	enum lr_cg_version v = plan->version;
	uid_t uid = n->delegated ? n->owner : 0;
	gid_t gid = n->delegated ? n->group : 0;
	bool changed = false;
	for (size_t i = 0; i < nh; i++) {
		char p[1024];
		snprintf(p, sizeof(p), "%s/%s", h[i].mount, n->path);
		_cleanup_close_ int dfd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0) {
			if (dry_run && errno == ENOENT) {
				changed |= n->delegated;
				continue;
			}
			return lr_error_errno(err, errno, "delegate %s", p);
		}
		int r = chown_movers(dfd, p, v, uid, gid, dry_run, &changed, err);
		if (r == 0 && !n->delegated)
			r = take_back_below(plan, dfd, p, n->path, 0, dry_run, &changed, err);
		if (r < 0)
			return lr_error_prefix(err, "%s %s",
					       n->delegated ? "delegate" : "take back", n->path);
	}
	if (changed) {
		struct passwd *pw = getpwuid(n->owner);
		char who[64];
		snprintf(who, sizeof(who), "%s", pw ? pw->pw_name : "");
		if (!pw)
			snprintf(who, sizeof(who), "%u", (unsigned)n->owner);
		if (logf_(log,
			  n->delegated ? "delegate %s to %s"
				       : "take back %s from %s (not delegated: see the note)",
			  n->path, who) < 0)
			return lr_error_errno(err, ENOMEM, "apply");
	}
	return 0;
}

static bool shrinks_cpu(const struct lr_cg_node *n, const struct hier *h, size_t nh)
{
	const struct lr_cg_write *w = find_write(n, "cpu.cfs_quota_us");
	char have[64];
	if (!w || read_file(mount_of(h, nh, "cpu"), n->path, w->file, have, sizeof(have)) < 0)
		return false;
	return lr_cgread_value(w->value) < lr_cgread_value(have);
}

/* The node's values; those that change are logged.  v1 memory+swap goes
 * first when memory grows past it. */
static int write_limits(const struct lr_cg_node *n, const struct hier *h, size_t nh, bool dry_run,
			struct lr_cgroup_log *log, struct lr_error *err)
{
	const struct lr_cg_write *mem = find_write(n, "memory.limit_in_bytes");
	const struct lr_cg_write *memsw = find_write(n, "memory.memsw.limit_in_bytes");
	char cur_memsw[64];
	bool memsw_first = mem && memsw &&
			   read_file(mount_of(h, nh, "memory"), n->path, memsw->file, cur_memsw,
				     sizeof(cur_memsw)) == 0 &&
			   lr_cgread_value(mem->value) > lr_cgread_value(cur_memsw);
	/* The plan has memory before memory+swap. */
	for (size_t k = 0; k <= n->n_writes; k++) {
		const struct lr_cg_write *w =
			k == 0 ? (memsw_first ? memsw : NULL) : &n->writes[k - 1];
		if (!w || (k > 0 && memsw_first && w == memsw))
			continue;
		char ctrl[32], have[VALUE_MAX];
		controller_of(w, ctrl, sizeof(ctrl));
		const char *mount = w->controller[0] ? mount_of(h, nh, ctrl) : LR_CGROUP_MOUNT;
		/* v1 weights are BFQ's: without that I/O scheduler the file
		 * is not there, and the weight is left out (said once). */
		if (!strcmp(w->file, "blkio.bfq.weight") &&
		    read_file(mount, n->path, w->file, have, sizeof(have)) == -ENOENT) {
			if (logf_(log,
				  "note: %s: io-weight left out: the kernel's blkio has no "
				  "weight here (it needs the BFQ I/O scheduler)",
				  n->path) < 0)
				return lr_error_errno(err, ENOMEM, "apply");
			continue;
		}
		if (read_file(mount, n->path, w->file, have, sizeof(have)) == 0 &&
		    holds(w->file, w->value, have))
			continue;
		if (logf_(log, "set %s %s = %s", n->path, w->file, w->value) < 0)
			return lr_error_errno(err, ENOMEM, "apply");
		if (dry_run)
			continue;
		int r = cg_write(n->path, w, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* v1: the devices rules into dfd's cgroup and every cgroup below it.  A
 * v1 cgroup copies its parent's exceptions when it is made and keeps them:
 * a device allowed again in the member's cgroup stays denied in the login
 * and container cgroups already there (security/device_cgroup.c,
 * propagate_exception() only ever narrows children). */
static int devices_v1_tree(int dfd, const struct lr_cg_node *n, int depth, struct lr_error *err)
{
	int r = lr_devices_apply_v1(dfd, n->gpu_deny, n->n_gpu_deny, n->gpu_allow, n->n_gpu_allow,
				    err);
	if (r < 0 || depth >= 8)
		return r;
	int dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return lr_error_errno(err, errno, "%s", n->path);
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return lr_error_errno(err, errno, "%s", n->path);
	}
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		_cleanup_close_ int sub =
			openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue; /* a container's cgroup removed meanwhile */
		r = devices_v1_tree(sub, n, depth + 1, err);
	}
	return r;
}

/* The member's GPUs: the others denied (devices.c).  Written on every
 * apply and not logged: neither v1's devices.list (which shows only
 * "a *:* rwm" while access is allowed by default) nor a v2 program says
 * which devices it denies, so there is nothing to compare with; the
 * writes are idempotent.  (v2: a program applies to the whole subtree.) */
static int gpus(const struct lr_cg_node *n, const struct hier *h, size_t nh, enum lr_cg_version v,
		struct lr_error *err)
{
	if (n->kind != LR_CG_MEMBER || n->n_gpu_allow + n->n_gpu_deny == 0)
		return 0;
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s",
		 v == LR_CG_V1 ? mount_of(h, nh, "devices") : LR_CGROUP_MOUNT, n->path);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lr_error_errno(err, errno, "%s", p);
	int r = v == LR_CG_V1 ? devices_v1_tree(fd, n, 0, err)
			      : lr_devices_apply_v2(fd, n->gpu_deny, n->n_gpu_deny, err);
	return r < 0 ? lr_error_prefix(err, "%s: GPUs", n->path) : 0;
}

/* ------------------------------------------------------------ removal */

static bool in_plan(const struct lr_cg_plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->n_nodes; i++)
		if (!strcmp(plan->nodes[i].path, path))
			return true;
	return false;
}

/* The cgroups of labs and members below "labrun" in one hierarchy that the
 * plan does not name ("labrun" itself when it names no lab).  A named member's own children (login,
 * containers) are theirs and not looked at. */
static int stale_in(const struct hier *h, const struct lr_cg_plan *plan, char **out, size_t *n,
		    struct lr_error *err)
{
	char top[1024];
	snprintf(top, sizeof(top), "%s/%s", h->mount, LR_CG_ROOT);
	_cleanup_closedir_ DIR *labs = opendir(top);
	if (!labs)
		return errno == ENOENT ? 0 : lr_error_errno(err, errno, "%s", top);
	/* A policy without labs: the whole tree goes, once. */
	if (!in_plan(plan, LR_CG_ROOT)) {
		if (*n == 0 && !(out[(*n)++] = strdup(LR_CG_ROOT)))
			return lr_error_errno(err, ENOMEM, "apply");
		return 0;
	}
	struct dirent *d;
	while ((d = readdir(labs))) {
		if (d->d_type != DT_DIR || d->d_name[0] == '.')
			continue;
		char lab[512];
		snprintf(lab, sizeof(lab), "%s/%s", LR_CG_ROOT, d->d_name);
		bool lab_named = in_plan(plan, lab);
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", h->mount, lab);
		_cleanup_closedir_ DIR *members = lab_named ? opendir(sub) : NULL;
		struct dirent *m;
		while (members && (m = readdir(members))) {
			if (m->d_type != DT_DIR || m->d_name[0] == '.')
				continue;
			char member[1024];
			snprintf(member, sizeof(member), "%s/%s", lab, m->d_name);
			if (in_plan(plan, member))
				continue;
			bool seen = false;
			for (size_t i = 0; i < *n && !seen; i++)
				seen = !strcmp(out[i], member);
			if (seen)
				continue;
			if (*n >= MAX_STALE)
				return lr_error_set(err, E2BIG, "more than %d cgroups to remove",
						    MAX_STALE);
			if (!(out[(*n)++] = strdup(member)))
				return lr_error_errno(err, ENOMEM, "apply");
		}
		if (lab_named)
			continue;
		bool seen = false;
		for (size_t i = 0; i < *n && !seen; i++)
			seen = !strcmp(out[i], lab);
		if (seen)
			continue;
		if (*n >= MAX_STALE)
			return lr_error_set(err, E2BIG, "more than %d cgroups to remove",
					    MAX_STALE);
		if (!(out[(*n)++] = strdup(lab)))
			return lr_error_errno(err, ENOMEM, "apply");
	}
	return 0;
}

/* rmdir the cgroup dir (name in parent) after its children, deepest first.
 * A cgroup with processes gives EBUSY, and so do its ancestors. */
static int remove_tree(int parent, const char *name)
{
	_cleanup_close_ int fd =
		openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	int dup_fd = dup(fd);
	if (dup_fd < 0)
		return -errno;
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -errno;
	}
	int r = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.') {
			int rr = remove_tree(fd, e->d_name);
			r = r ? r : rr;
		}
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return r;
}

static int remove_stale(const struct lr_cg_plan *plan, const struct hier *h, size_t nh,
			bool dry_run, struct lr_cgroup_log *log, struct lr_error *err)
{
	char **stale = calloc(MAX_STALE, sizeof(*stale));
	size_t n = 0;
	if (!stale)
		return lr_error_errno(err, ENOMEM, "apply");
	int r = 0;
	for (size_t i = 0; i < nh && r == 0; i++)
		r = stale_in(&h[i], plan, stale, &n, err);
	for (size_t s = 0; s < n && r == 0; s++) {
		int busy = 0;
		for (size_t i = 0; i < nh && !dry_run; i++) {
			char parent[1024];
			snprintf(parent, sizeof(parent), "%s/%s", h[i].mount, stale[s]);
			char *slash = strrchr(parent, '/');
			*slash = '\0';
			_cleanup_close_ int pfd =
				open(parent, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int rr = pfd < 0 ? (errno == ENOENT ? 0 : -errno)
					 : remove_tree(pfd, slash + 1);
			if (rr == -EBUSY) {
				/* Kept for its processes, but no longer the
				 * member's to move processes into: on v1 a
				 * member of another lab now could move a job
				 * between the two (cgplan.h). */
				busy = 1;
				*slash = '/';
				_cleanup_close_ int dfd = open(
					parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				bool changed = false;
				if (dfd >= 0 && (chown_movers(dfd, parent, plan->version, 0, 0,
							      false, &changed, err) < 0 ||
						 take_back_below(plan, dfd, parent, stale[s], 0,
								 false, &changed, err) < 0))
					r = lr_error_prefix(err, "take back %s", stale[s]);
			} else if (rr < 0)
				r = lr_error_errno(err, -rr, "remove cgroup %s/%s", h[i].mount,
						   stale[s]);
		}
		if (r == 0 && logf_(log,
				    busy ? "keep %s: not in the policy, but it still has "
					   "processes"
					 : "remove %s",
				    stale[s]) < 0)
			r = lr_error_errno(err, ENOMEM, "apply");
	}
	for (size_t s = 0; s < n; s++)
		free(stale[s]);
	free(stale);
	return r;
}

int lr_cgroup_apply(const struct lr_cg_plan *plan, bool dry_run, struct lr_cgroup_log *log,
		    struct lr_error *err)
{
	int rc = cgroup_init();
	if (rc)
		return cg_error(err, rc, "libcgroup");
	struct hier h[MAX_HIER];
	size_t nh = 0;
	int r = hierarchies(plan->version, h, &nh, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < plan->n_nodes; i++) {
		const struct lr_cg_node *n = &plan->nodes[i];
		if ((r = create(n, h, nh, plan->version, dry_run, log, err)) < 0)
			return r;
		if (n->owner && (r = delegate(plan, n, h, nh, dry_run, log, err)) < 0)
			return r;
	}
	/* v1 CFS quotas that shrink, leaves first (see the head comment). */
	for (size_t i = plan->n_nodes; plan->version == LR_CG_V1 && i-- > 0;) {
		const struct lr_cg_node *n = &plan->nodes[i];
		if (!shrinks_cpu(n, h, nh))
			continue;
		const struct lr_cg_write *w = find_write(n, "cpu.cfs_quota_us");
		if (logf_(log, "set %s %s = %s", n->path, w->file, w->value) < 0)
			return lr_error_errno(err, ENOMEM, "apply");
		if (!dry_run && (r = cg_write(n->path, w, err)) < 0)
			return r;
	}
	for (size_t i = 0; i < plan->n_nodes; i++)
		if ((r = write_limits(&plan->nodes[i], h, nh, dry_run, log, err)) < 0)
			return r;
	for (size_t i = 0; i < plan->n_nodes && !dry_run; i++)
		if ((r = gpus(&plan->nodes[i], h, nh, plan->version, err)) < 0)
			return r;
	return remove_stale(plan, h, nh, dry_run, log, err);
}

int lr_cgroup_write_file(const char *path, const char *text, struct lr_error *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-labrun", path) >= (int)sizeof(tmp))
		return lr_error_set(err, ENAMETOOLONG, "%s: path too long", path);
	_cleanup_close_ int fd =
		open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return lr_error_errno(err, errno, "%s", tmp);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return lr_error_errno(err, e, "%s", tmp);
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return lr_error_errno(err, e, "%s", path);
	}
	return 0;
}
