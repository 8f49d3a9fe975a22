/* config.c - labrun.conf and bind specifications (see config.h).
 *
 * Runs with any privilege.  This file parses text; it opens only the
 * config file itself (lr_config_load) and never a path named in it: whether
 * a layer store or a bind source exists is the caller's business, at the
 * moment it uses it.
 *
 * Format (labrun.conf(5), example in etc/labrun.conf):
 *
 *   # comment (only at the start of a line, so values may contain '#')
 *   layer-store = /apps/labrun/layers:~/.local/share/labrun/layers
 *   bind = /scratch
 *   bind = /apps/software:/software:ro
 *   tmpfs-size = 2G
 *
 * "layer-store" and "bind" may be repeated and append; a repeated
 * "tmpfs-size" replaces the earlier value.  "~", "$HOME" and "$USER" are
 * expanded in paths with the values the caller passes in struct lr_expand
 * (labrun passes the user's passwd entry, not the environment: labrun.conf
 * is the admin's and must mean the same thing whatever the user exports).
 *
 * A file that does not parse is never half-applied: everything is parsed
 * into a private struct, which replaces the caller's only at the end.  The
 * caller's struct is not touched on error, so when it came from
 * lr_config_init() it still holds the defaults (DESIGN.md §5 asks the same of
 * lab policies).
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "trust.h"
#include "units.h"

/* The longest "SRC:DST:ro" worth looking at: two paths and a mode. */
#define MAX_BIND_SPEC (2 * PATH_MAX + 4)
/* How much of a bind spec an error message repeats. */
#define SHOWN_MAX 128

/* ------------------------------------------------------------ paths */

static int append(char *buf, size_t *len, const char *s, size_t n, struct lr_error *err)
{
	if (n >= PATH_MAX - *len)
		return lr_error_set(err, ENAMETOOLONG, "longer than %d bytes", PATH_MAX - 1);
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
	return 0;
}

static bool is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Expand "~" at the start and $HOME, ${HOME}, $USER, ${USER} anywhere.
 * Any other $NAME is an error rather than left as is: an admin who writes
 * $SCRATCH expects it expanded, and a bind that silently names a directory
 * called "$SCRATCH" would be skipped on every node without a word.  A '$'
 * not followed by a name is kept. */
static int expand(const char *in, const struct lr_expand *ex, char *buf, struct lr_error *err)
{
	const char *home = ex ? ex->home : NULL, *user = ex ? ex->user : NULL;
	size_t len = 0;
	int r;
	buf[0] = '\0';
	const char *p = in;
	if (p[0] == '~') {
		if (p[1] != '\0' && p[1] != '/')
			return lr_error_set(
				err, EINVAL,
				"~NAME is not supported (write the path, or ~ or $HOME)");
		if (!home)
			return lr_error_set(err, EINVAL,
					    "cannot expand ~ ($HOME): home directory not known");
		if ((r = append(buf, &len, home, strlen(home), err)) < 0)
			return r;
		p++;
	}
	while (*p) {
		if (*p != '$') {
			size_t n = strcspn(p, "$");
			if ((r = append(buf, &len, p, n, err)) < 0)
				return r;
			p += n;
			continue;
		}
		const char *name = p + 1;
		size_t n;
		bool braced = *name == '{';
		if (braced) {
			name++;
			const char *close = strchr(name, '}');
			if (!close)
				return lr_error_set(err, EINVAL, "'${' without a closing '}'");
			n = (size_t)(close - name);
		} else {
			for (n = 0; is_name_char(name[n]); n++)
				;
		}
		if (n == 0 && !braced) {
			if ((r = append(buf, &len, "$", 1, err)) < 0)
				return r;
			p++;
			continue;
		}
		const char *value;
		if (n == 4 && !strncmp(name, "HOME", 4)) {
			value = home;
			if (!value)
				return lr_error_set(
					err, EINVAL,
					"cannot expand $HOME: home directory not known");
		} else if (n == 4 && !strncmp(name, "USER", 4)) {
			value = user;
			if (!value)
				return lr_error_set(err, EINVAL,
						    "cannot expand $USER: user name not known");
		} else {
			return lr_error_set(err, EINVAL,
					    "unknown variable $%.*s (only ~, $HOME and $USER are "
					    "expanded)",
					    (int)(n > 64 ? 64 : n), name);
		}
		if ((r = append(buf, &len, value, strlen(value), err)) < 0)
			return r;
		p = name + n + (braced ? 1 : 0);
	}
	return 0;
}

/* Absolute, one '/' between components, no trailing '/', and no "." or
 * ".." at all: a path that means what it says, so that comparing two paths
 * (is the cwd inside a bind?) needs no resolution, and so that ".." cannot
 * walk a bind destination out of the container's tree before it is
 * resolved there.  in and out may be the same buffer (out never gets
 * longer than in). */
static int normalise(const char *in, char *out, struct lr_error *err)
{
	if (in[0] != '/')
		return lr_error_set(err, EINVAL, "not an absolute path");
	size_t len = 0;
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.')
			return lr_error_set(err, EINVAL, "'.' components are not allowed");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return lr_error_set(err, EINVAL, "'..' components are not allowed");
		out[len++] = '/';
		memmove(out + len, p, n);
		len += n;
		p += n;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

/* Expand and normalise a path; *out is allocated. */
static int clean_path(const char *in, const struct lr_expand *ex, char **out, struct lr_error *err)
{
	char buf[PATH_MAX];
	int r = expand(in, ex, buf, err);
	if (r < 0)
		return r;
	if ((r = normalise(buf, buf, err)) < 0)
		return r;
	char *s = strdup(buf);
	if (!s)
		return lr_error_errno(err, ENOMEM, "path");
	*out = s;
	return 0;
}

/* ------------------------------------------------------------ binds */

int lr_bind_parse(struct lr_bind *b, const char *spec, const struct lr_expand *ex,
		  struct lr_error *err)
{
	if (!spec || !*spec)
		return lr_error_set(err, EINVAL, "bind '': empty (use SRC[:DST[:ro|rw]])");
	if (strlen(spec) > MAX_BIND_SPEC)
		return lr_error_set(err, ENAMETOOLONG, "bind: longer than %d bytes", MAX_BIND_SPEC);
	/* The spec as messages show it: cut, so that the reason still fits. */
	char shown[SHOWN_MAX + 4];
	snprintf(shown, sizeof(shown), "%.*s%s", SHOWN_MAX, spec,
		 strlen(spec) > SHOWN_MAX ? "..." : "");
	_cleanup_free_ char *copy = strdup(spec);
	if (!copy)
		return lr_error_errno(err, ENOMEM, "bind '%s'", shown);

	char *field[3] = {copy, NULL, NULL};
	size_t n = 1;
	for (char *c = copy; (c = strchr(c, ':')); c++) {
		if (n == 3)
			return lr_error_set(
				err, EINVAL,
				"bind '%s': too many ':' fields (use SRC[:DST[:ro|rw]])", shown);
		*c = '\0';
		field[n++] = c + 1;
	}
	if (!*field[0])
		return lr_error_set(err, EINVAL, "bind '%s': empty SRC", shown);
	if (n >= 2 && !*field[1])
		return lr_error_set(err, EINVAL, "bind '%s': empty DST", shown);
	bool readonly = false;
	if (n == 3) {
		if (!strcmp(field[2], "ro"))
			readonly = true;
		else if (strcmp(field[2], "rw") != 0)
			return lr_error_set(err, EINVAL, "bind '%s': mode must be ro or rw", shown);
	}

	_cleanup_free_ char *src = NULL, *dst = NULL;
	if (clean_path(field[0], ex, &src, err) < 0)
		return lr_error_prefix(err, "bind '%s': SRC", shown);
	if (clean_path(n >= 2 ? field[1] : field[0], ex, &dst, err) < 0)
		return lr_error_prefix(err, "bind '%s': DST", shown);
	/* Over "/" a bind would hide the whole image and every mount labrun
	 * places below it (/proc, /dev, /tmp): a different root, not a bind. */
	if (!strcmp(dst, "/"))
		return lr_error_set(err, EINVAL,
				    "bind '%s': DST: cannot bind over the container's root", shown);

	b->src = take_ptr(&src);
	b->dst = take_ptr(&dst);
	b->readonly = readonly;
	b->optional = false;
	return 0;
}

void lr_bind_free(struct lr_bind *b)
{
	if (!b)
		return;
	free(b->src);
	free(b->dst);
	b->src = b->dst = NULL;
}

/* ------------------------------------------------------------ sizes */

int lr_tmpfs_size_parse(const char *s, uint64_t *out, struct lr_error *err)
{
	uint64_t v;
	int r = lr_parse_size(s, &v);
	if (r == -ERANGE)
		return lr_error_set(err, ERANGE, "'%.64s' is too large", s);
	if (r < 0)
		return lr_error_set(err, EINVAL, "'%.64s' is not a size (use e.g. 512M or 2G)", s);
	/* The writable layer lives in memory: "unlimited" would let one
	 * container take the node's RAM. */
	if (v == UINT64_MAX)
		return lr_error_set(err, EINVAL, "'%.64s': a tmpfs needs a size (e.g. 2G)", s);
	if (v < LR_MIN_TMPFS_SIZE)
		return lr_error_set(err, EINVAL, "'%.64s' is below the minimum of 1M", s);
	if (v > LR_MAX_TMPFS_SIZE)
		return lr_error_set(err, ERANGE,
				    "'%.64s' is above the maximum of 64T (a tmpfs is memory)", s);
	*out = v;
	return 0;
}

/* ------------------------------------------------------------ keys */

static int set_layer_store(struct lr_config *cfg, const char *value, const struct lr_expand *ex,
			   struct lr_error *err)
{
	_cleanup_free_ char *copy = strdup(value);
	if (!copy)
		return lr_error_errno(err, ENOMEM, "layer-store");
	/* strsep, not strtok: "a::b" has an empty entry, which PATH would
	 * read as ".", and a store relative to the job's cwd is not what
	 * anyone means: it is an error. */
	char *rest = copy;
	while (rest) {
		char *dir = strsep(&rest, ":");
		if (!*dir)
			return lr_error_set(err, EINVAL, "layer-store: empty directory in '%.128s'",
					    value);
		if (cfg->n_stores == LR_CONFIG_MAX_STORES)
			return lr_error_set(err, E2BIG, "layer-store: more than %d directories",
					    LR_CONFIG_MAX_STORES);
		char *path;
		if (clean_path(dir, ex, &path, err) < 0)
			return lr_error_prefix(err, "layer-store: '%.128s'", dir);
		cfg->stores[cfg->n_stores++] = path;
	}
	return 0;
}

static int set_bind(struct lr_config *cfg, const char *value, const struct lr_expand *ex,
		    struct lr_error *err)
{
	if (cfg->n_binds == LR_CONFIG_MAX_BINDS)
		return lr_error_set(err, E2BIG, "bind: more than %d binds", LR_CONFIG_MAX_BINDS);
	struct lr_bind *b = &cfg->binds[cfg->n_binds];
	int r = lr_bind_parse(b, value, ex, err);
	if (r < 0)
		return r;
	/* An admin's default bind names a path that may not exist on every
	 * node (/scratch, /apps): the launcher skips it there. */
	b->optional = true;
	cfg->n_binds++;
	return 0;
}

static int set_tmpfs_size(struct lr_config *cfg, const char *value, const struct lr_expand *ex,
			  struct lr_error *err)
{
	if (lr_tmpfs_size_parse(value, &cfg->tmpfs_size, err) < 0)
		return lr_error_prefix(err, "tmpfs-size");
	return 0;
}

/* One row per key; the "unknown key" message lists them in this order. */
static int set_policy_dir(struct lr_config *cfg, const char *value, const struct lr_expand *ex,
			  struct lr_error *err)
{
	char *path;
	if (clean_path(value, ex, &path, err) < 0)
		return lr_error_prefix(err, "policy-dir");
	free(cfg->policy_dir);
	cfg->policy_dir = path;
	return 0;
}

static int set_gpu_devices(struct lr_config *cfg, const char *value, const struct lr_expand *ex,
			   struct lr_error *err)
{
	if (value[0] != '/' || strlen(value) > LR_CONFIG_MAX_GLOB)
		return lr_error_set(err, EINVAL,
				    "gpu-devices: expected an absolute path or glob of at most %d "
				    "characters, not '%.64s'",
				    LR_CONFIG_MAX_GLOB, value);
	char *copy = strdup(value);
	if (!copy)
		return lr_error_errno(err, ENOMEM, "gpu-devices");
	free(cfg->gpu_devices);
	cfg->gpu_devices = copy;
	return 0;
}

static int set_holder_idle(struct lr_config *cfg, const char *value, const struct lr_expand *ex,
			   struct lr_error *err)
{
	uint64_t v;
	if (lr_parse_uint(value, 0, LR_MAX_HOLDER_IDLE, &v) < 0)
		return lr_error_set(
			err, EINVAL,
			"holder-idle-timeout: expected seconds from 0 (no holder) to %d, "
			"not '%.64s'",
			LR_MAX_HOLDER_IDLE, value);
	cfg->holder_idle = (unsigned)v;
	return 0;
}

static int set_trusted_store(struct lr_config *cfg, const char *value, const struct lr_expand *ex,
			     struct lr_error *err)
{
	char *path;
	if (clean_path(value, ex, &path, err) < 0)
		return lr_error_prefix(err, "trusted-layer-store");
	free(cfg->trusted_store);
	cfg->trusted_store = path;
	/* Searched first among the stores: the layers it holds are the
	 * ones the kernel mounts. */
	for (size_t i = 0; i < cfg->n_stores; i++)
		if (!strcmp(cfg->stores[i], path))
			return 0;
	if (cfg->n_stores == LR_CONFIG_MAX_STORES)
		return lr_error_set(err, E2BIG, "trusted-layer-store: more than %d stores",
				    LR_CONFIG_MAX_STORES);
	char *copy = strdup(path);
	if (!copy)
		return lr_error_errno(err, ENOMEM, "trusted-layer-store");
	memmove(cfg->stores + 1, cfg->stores, cfg->n_stores * sizeof(cfg->stores[0]));
	cfg->stores[0] = copy;
	cfg->n_stores++;
	return 0;
}

static const struct key {
	const char *name;
	int (*set)(struct lr_config *cfg, const char *value, const struct lr_expand *ex,
		   struct lr_error *err);
} keys[] = {
	{"layer-store", set_layer_store},	    /* DIR[:DIR...], appends */
	{"bind", set_bind},			    /* SRC[:DST[:ro|rw]], appends, optional */
	{"tmpfs-size", set_tmpfs_size},		    /* SIZE >= 1M, replaces */
	{"policy-dir", set_policy_dir},		    /* DIR, replaces */
	{"gpu-devices", set_gpu_devices},	    /* GLOB, replaces */
	{"holder-idle-timeout", set_holder_idle},   /* SECONDS, replaces */
	{"trusted-layer-store", set_trusted_store}, /* DIR, replaces; a store too */
};

static int unknown_key(const char *key, struct lr_error *err)
{
	char known[256] = "";
	size_t len = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "",
					keys[i].name);
	return lr_error_set(err, EINVAL, "unknown key '%.64s' (known: %s)", key, known);
}

/* ------------------------------------------------------------ the file */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim blanks at both ends of s in place; returns the start. */
static char *trim(char *s)
{
	while (is_blank(*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* One "key = value" line, already trimmed, not blank, not a comment. */
static int parse_line(struct lr_config *cfg, char *line, const struct lr_expand *ex,
		      struct lr_error *err)
{
	char *eq = strchr(line, '=');
	if (!eq)
		return lr_error_set(err, EINVAL, "expected 'key = value'");
	*eq = '\0';
	char *key = trim(line), *value = trim(eq + 1);
	if (!*key)
		return lr_error_set(err, EINVAL, "expected 'key = value', the key is missing");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i].name))
			return keys[i].set(cfg, value, ex, err);
	return unknown_key(key, err);
}

void lr_config_init(struct lr_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tmpfs_size = LR_DEFAULT_TMPFS_SIZE;
	cfg->holder_idle = LR_DEFAULT_HOLDER_IDLE;
}

int lr_config_parse(struct lr_config *cfg, const char *name, const char *text, size_t len,
		    const struct lr_expand *ex, struct lr_error *err)
{
	if (!name)
		name = "labrun.conf";
	if (!text)
		text = "", len = 0;
	if (len > LR_CONFIG_MAX_BYTES)
		return lr_error_set(err, EFBIG, "%s: larger than %d bytes", name,
				    LR_CONFIG_MAX_BYTES);
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		size_t line = 1;
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		return lr_error_set(err, EINVAL, "%s:%zu: NUL byte (is this a text file?)", name,
				    line);
	}

	struct lr_config t;
	lr_config_init(&t);
	t.path = strdup(name);
	if (!t.path)
		return lr_error_errno(err, ENOMEM, "%s", name);

	char line[LR_CONFIG_MAX_LINE + 1];
	size_t lineno = 0;
	int r = 0;
	for (size_t pos = 0; pos < len;) {
		lineno++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (n > LR_CONFIG_MAX_LINE) {
			r = lr_error_set(err, EINVAL, "%s:%zu: line longer than %d bytes", name,
					 lineno, LR_CONFIG_MAX_LINE);
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;

		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if ((r = parse_line(&t, s, ex, err)) < 0) {
			lr_error_prefix(err, "%s:%zu", name, lineno);
			goto fail;
		}
	}
	lr_config_free(cfg);
	*cfg = t;
	return 0;
fail:
	lr_config_free(&t);
	return r;
}

int lr_config_load(struct lr_config *cfg, const char *path, bool missing_ok,
		   const struct lr_expand *ex, struct lr_error *err)
{
	/* Under the lab files' rule (trust.h): labrun.conf names layer stores,
	 * default binds and where the lab files are, so whoever could change it
	 * could change what every user's containers see and which quotas
	 * apply.  Checked on the fd that is then read; O_NONBLOCK in there, so a
	 * FIFO named as the config is refused rather than waited on. */
	_cleanup_close_ int fd = lr_trust_open_file(path, geteuid(), err);
	if (fd == -ENOENT && missing_ok) {
		lr_error_clear(err);
		return 0;
	}
	if (fd == -EPERM)
		return lr_error_prefix(err,
				       "%s: refused: labrun.conf and every directory above it must "
				       "be writable by root alone (labrun.conf(5))",
				       path);
	/* "PATH: cannot read: No such file or directory" when the file itself
	 * is the one missing; else the directory the walk stopped at is named
	 * after it. */
	size_t plen = strlen(path);
	if (fd < 0 && err && !strncmp(err->msg, path, plen) && !strncmp(err->msg + plen, ": ", 2) &&
	    !strcmp(err->msg + plen + 2, strerror(-fd)))
		return lr_error_errno(err, -fd, "%s: cannot read", path);
	if (fd < 0)
		return lr_error_prefix(err, "%s: cannot read", path);
	/* One byte more than allowed, so that an oversized file is reported
	 * as such by lr_config_parse instead of being cut silently. */
	_cleanup_free_ char *buf = malloc(LR_CONFIG_MAX_BYTES + 1);
	if (!buf)
		return lr_error_errno(err, ENOMEM, "%s: cannot read", path);
	size_t len = 0;
	while (len < LR_CONFIG_MAX_BYTES + 1) {
		ssize_t n = read(fd, buf + len, LR_CONFIG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return lr_error_errno(err, errno, "%s: cannot read", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return lr_config_parse(cfg, path, buf, len, ex, err);
}

void lr_config_free(struct lr_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	for (size_t i = 0; i < cfg->n_stores && i < LR_CONFIG_MAX_STORES; i++)
		free(cfg->stores[i]);
	for (size_t i = 0; i < cfg->n_binds && i < LR_CONFIG_MAX_BINDS; i++)
		lr_bind_free(&cfg->binds[i]);
	free(cfg->policy_dir);
	free(cfg->gpu_devices);
	free(cfg->trusted_store);
	lr_config_init(cfg);
}
