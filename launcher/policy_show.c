/* policy_show.c - a member's allocation as text (policy_show.h). */
#include "build-config.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_job.h"
#include "escape.h"
#include "policy.h"
#include "quota.h"
#include "policy_show.h"
#include "units.h"

/* The user's group names (getgrouplist), malloc'd. */
static char **groups_of(const struct passwd *pw, size_t *n)
{
	int ng = 64;
	gid_t *gids = NULL;
	for (int tries = 0; tries < 4; tries++) {
		gid_t *g = realloc(gids, (size_t)ng * sizeof(*g));
		if (!g)
			break;
		gids = g;
		int want = ng;
		if (getgrouplist(pw->pw_name, pw->pw_gid, gids, &want) >= 0) {
			ng = want;
			char **names = calloc((size_t)ng + 1, sizeof(*names));
			*n = 0;
			for (int i = 0; names && i < ng; i++) {
				struct group *gr = getgrgid(gids[i]);
				if (gr && (names[*n] = strdup(gr->gr_name)))
					(*n)++;
			}
			free(gids);
			return names;
		}
		ng = want > ng ? want : ng * 2;
	}
	free(gids);
	*n = 0;
	return NULL;
}

static const char *shown_user;

static const char *host(void)
{
	static char name[256];
	if (!name[0] && gethostname(name, sizeof(name) - 1) < 0)
		snprintf(name, sizeof(name), "this node");
	return name;
}

static void origin(const struct lr_origin *o, char *buf, size_t len)
{
	if (!o->line) {
		snprintf(buf, len, "(not set)");
		return;
	}
	const char *base = strrchr(o->file, '/');
	char file[PATH_MAX];
	lr_escape_str(file, sizeof(file), base ? base + 1 : o->file);
	if (!strcmp(o->scope, "member"))
		snprintf(buf, len, "%s:%u [member %s]", file, o->line, shown_user);
	else
		snprintf(buf, len, "%s:%u [%s]", file, o->line, o->scope);
}

static void show_keyed(FILE *out, const char *name, const struct lr_keyed *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char v[32], o[PATH_MAX + 64], both[PATH_MAX + 40];
		if (k[i].value == LR_POLICY_UNLIMITED)
			snprintf(v, sizeof(v), "unlimited");
		else
			lr_format_size(k[i].value, v, sizeof(v));
		origin(&k[i].origin, o, sizeof(o));
		/* Lab files' text, escaped (escape.h): a terminal obeys ESC. */
		char key[PATH_MAX];
		lr_escape_str(key, sizeof(key), k[i].key);
		snprintf(both, sizeof(both), "%s %s", key, v);
		fprintf(out, "  %-13s %-22s %s\n", name, both, o);
		/* A disk quota's usage, where the kernel keeps one. */
		struct passwd *pw = getpwnam(shown_user);
		struct lr_quota_usage u;
		struct lr_error err = {0};
		if (!strcmp(name, "storage") && pw &&
		    lr_quota_get(k[i].key, pw->pw_uid, &u, &err) == 0) {
			char used[32], lim[32] = "none";
			lr_format_size(u.used, used, sizeof(used));
			if (u.limit)
				lr_format_size(u.limit, lim, sizeof(lim));
			fprintf(out, "  %-13s %s used on %s, quota %s\n", "", used, key, lim);
		}
	}
}

static void show_lab(FILE *out, const struct lr_lab *lab, const char *user)
{
	struct lr_limits a;
	lr_lab_allocation(lab, user, &a);
	char file[PATH_MAX * 4];
	lr_escape_str(file, sizeof(file), lab->file);
	fprintf(out, "lab %s (%s)\n", lab->name, file);
	for (int r = 0; r < LR_RES_COUNT; r++) {
		char v[32], o[PATH_MAX + 64];
		lr_res_format((enum lr_res)r, a.value[r], v, sizeof(v));
		if (r == LR_RES_IO_WEIGHT && !a.origin[r].line)
			snprintf(v, sizeof(v), "default"); /* the kernel's, 100 */
		origin(&a.origin[r], o, sizeof(o));
		fprintf(out, "  %-13s %-22s %s\n", lr_res_name((enum lr_res)r), v, o);
	}
	show_keyed(out, "io-read-bps", a.read_bps, a.n_read_bps);
	show_keyed(out, "io-write-bps", a.write_bps, a.n_write_bps);
	show_keyed(out, "storage", a.storage, a.n_storage);
	/* What the member's cgroup holds now, where apply made it here. */
	struct lr_cgroup_usage u;
	if (lr_cgroup_usage(lr_cgroup_version(), lab->name, user, &u) == 0) {
		char mem[32] = "?";
		if (u.memory >= 0)
			lr_format_size((uint64_t)u.memory, mem, sizeof(mem));
		fprintf(out, "  in use now on %s: memory %s, processes %lld, CPU time %.1f s\n",
			host(), mem, u.processes < 0 ? 0 : u.processes,
			u.cpu_ns < 0 ? 0.0 : (double)u.cpu_ns / 1e9);
	}
}

int lr_policy_show(FILE *out, const char *prog, const char *dir, const char *user, const char *want,
		   bool missing_ok)
{
	shown_user = user;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		char shown[256];
		lr_escape_str(shown, sizeof(shown), user);
		fprintf(stderr, "%s: no user '%s' on this system\n", prog, shown);
		return 1;
	}
	struct lr_policy p;
	struct lr_error err = {0};
	if (lr_policy_load(&p, dir, missing_ok, &err) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		return 1;
	}
	size_t ng;
	char **groups = groups_of(pw, &ng);
	const struct lr_lab *labs[LR_POLICY_MAX_LABS];
	size_t n = lr_policy_labs_of(&p, user, (const char *const *)groups, ng, labs,
				     LR_POLICY_MAX_LABS);
	int status = 0;
	char shown_dir[PATH_MAX * 4], shown_lab[256];
	lr_escape_str(shown_dir, sizeof(shown_dir), dir);
	lr_escape_str(shown_lab, sizeof(shown_lab), want ? want : "");
	if (n == 0) {
		fprintf(out, "%s is a member of no lab in %s: no quota applies\n", user, shown_dir);
	} else {
		size_t shown = 0;
		for (size_t i = 0; i < n; i++) {
			if (want && strcmp(labs[i]->name, want))
				continue;
			if (shown++)
				fprintf(out, "\n");
			show_lab(out, labs[i], user);
		}
		if (want && !shown) {
			fprintf(stderr, "%s: %s is not a member of lab '%s'\n", prog, user,
				shown_lab);
			status = 1;
		} else if (!want && n > 1) {
			fprintf(out,
				"\n%s is in %zu labs: a job runs under the one it names (labrun "
				"--lab)\n",
				user, n);
		}
	}
	for (size_t i = 0; i < ng; i++)
		free(groups[i]);
	free(groups);
	lr_policy_free(&p);
	return status;
}
