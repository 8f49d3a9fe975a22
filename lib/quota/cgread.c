/* cgread.c - reading cgroup state without libcgroup (cgread.h).  libc
 * only: the Slurm plugin links this file into slurmstepd. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The number after "key " at a line's start in file (dir/file under dfd). */
static int keyed_value(int dfd, const char *dir, const char *file, const char *key, uint64_t *out)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* Both files are a few short lines (memory.events: 6 on Linux 6.x). */
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	size_t klen = strlen(key);
	for (char *line = buf; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, klen) || line[klen] != ' ')
			continue;
		char *end;
		errno = 0;
		unsigned long long v = strtoull(line + klen + 1, &end, 10);
		if (errno || end == line + klen + 1)
			return -EINVAL;
		*out = v;
		return 0;
	}
	return -ENOENT;
}

int lr_cgread_oom_kills(int dfd, const char *dir, uint64_t *kills)
{
	uint64_t v;
	int r = keyed_value(dfd, dir, "memory.events", "oom_kill", &v);
	if (r == -ENOENT)
		r = keyed_value(dfd, dir, "memory.oom_control", "oom_kill", &v);
	if (r < 0)
		return r;
	*kills = v;
	return 0;
}
