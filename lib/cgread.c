/* cgread.c - reading cgroup state without libcgroup (cgread.h).  libc
 * only: the Slurm plugin links this file into slurmstepd. */
#include "build-config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgread.h"

uint64_t lr_cgread_value(const char *s)
{
	if (!strcmp(s, "-1") || !strncmp(s, "max", 3))
		return UINT64_MAX;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	return v >= 0x7ffffffffffff000ULL ? UINT64_MAX : v;
}

int lr_cgread_self_each(int (*fn)(const char *controllers, const char *path, void *ctx), void *ctx)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char line[4096];
	int r = 0;
	/* "ID:CONTROLLERS:PATH"; the path itself may hold ':'. */
	while (r == 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *ctrl = strchr(line, ':');
		char *path = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		r = fn(ctrl + 1, path, ctx);
	}
	fclose(f);
	return r;
}

struct find {
	const char *controller;
	char *path;
	size_t len;
};

static int match(const char *controllers, const char *path, void *ctx)
{
	struct find *w = ctx;
	bool found = !*w->controller && !*controllers;
	size_t n = strlen(w->controller);
	for (const char *c = controllers; *w->controller && !found && *c;) {
		size_t l = strcspn(c, ",");
		found = l == n && !strncmp(c, w->controller, n);
		c += l + (c[l] == ',');
	}
	if (!found)
		return 0;
	return (size_t)snprintf(w->path, w->len, "%s", path) < w->len ? 1 : -ENAMETOOLONG;
}

int lr_cgread_self(const char *controller, char *path, size_t len)
{
	struct find w = {.controller = controller, .path = path, .len = len};
	int r = lr_cgread_self_each(match, &w);
	return r == 1 ? 0 : r < 0 ? r : -ENOENT;
}
