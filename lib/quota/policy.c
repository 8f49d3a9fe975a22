/* policy.c - parsing the labs' quota policy and computing a member's
 * allocation (policy.h, labrun-policy(5)). */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "policy.h"
#include "trust.h"
#include "units.h"

static const struct {
	const char *name;
	bool size;
	uint64_t min, max; /* for counts */
} resources[LR_RES_COUNT] = {
	[LR_RES_CORES] = {"cores", false, 1, 1 << 20},
	[LR_RES_MEMORY] = {"memory", true, 0, 0},
	[LR_RES_SWAP] = {"swap", true, 0, 0},
	[LR_RES_GPUS] = {"gpus", false, 0, 1024},
	[LR_RES_PROCESSES] = {"processes", false, 1, 1 << 22},
	[LR_RES_TMPFS] = {"tmpfs-size", true, 0, 0},
	[LR_RES_IO_WEIGHT] = {"io-weight", false, 1, 10000},
	[LR_RES_GPU_HOURS] = {"gpu-hours", false, 0, 1000000000},
};

const char *lr_res_name(enum lr_res r)
{
	return resources[r].name;
}

bool lr_res_is_size(enum lr_res r)
{
	return resources[r].size;
}

void lr_res_format(enum lr_res r, uint64_t v, char *buf, size_t len)
{
	if (v == LR_POLICY_UNLIMITED)
		snprintf(buf, len, "unlimited");
	else if (resources[r].size)
		lr_format_size(v, buf, len);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* ------------------------------------------------------------ parsing */

struct parser {
	struct lr_lab *lab;
	const char *file;
	unsigned line;
	const char *text; /* the current line, for columns */
	enum { NONE, LAB, DEFAULTS, MEMBER } section;
	struct lr_limits *limits; /* of the current section */
	bool seen_lab, seen_defaults;
	bool key_seen[LR_RES_COUNT + 1]; /* in this section; [COUNT]: members */
};

static const char *scope_name(const struct parser *p)
{
	return p->section == LAB ? "lab total" : p->section == DEFAULTS ? "defaults" : "member";
}

/* "FILE:LINE:COLUMN: " + message; at points into p->text. */
static int fail(const struct parser *p, const char *at, struct lr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(const struct parser *p, const char *at, struct lr_error *err, const char *fmt, ...)
{
	char msg[LR_ERROR_MSG_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return lr_error_set(err, EINVAL, "%s:%u:%u: %s", p->file, p->line,
			    (unsigned)(at - p->text) + 1, msg);
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static const char *skip_blank(const char *s)
{
	while (blank(*s))
		s++;
	return s;
}

/* A POSIX user or group name: letters, digits, '.', '_', '-', not
 * starting with '-'; "$" at the end (Samba machine accounts). */
static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || n > 32 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
			  (c == '$' && i == n - 1);
		if (!ok)
			return false;
	}
	return true;
}

static int push_name(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strndup(s, len)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int parse_members(struct parser *p, const char *value, struct lr_error *err)
{
	struct lr_lab *lab = p->lab;
	const char *s = value;
	size_t count = 0;
	while (*s) {
		while (blank(*s) || *s == ',')
			s++;
		if (!*s)
			break;
		size_t n = strcspn(s, " \t\r,");
		bool group = *s == '@';
		const char *name = group ? s + 1 : s;
		size_t len = group ? n - 1 : n;
		if (!valid_name(name, len))
			return fail(p, s, err, "expected a user name or @group, not '%.*s'", (int)n,
				    s);
		char ***v = group ? &lab->groups : &lab->users;
		size_t *cnt = group ? &lab->n_groups : &lab->n_users;
		for (size_t i = 0; i < *cnt; i++)
			if (strlen((*v)[i]) == len && !strncmp((*v)[i], name, len))
				return fail(p, s, err, "%.*s is listed twice", (int)n, s);
		if (lab->n_users + lab->n_groups >= LR_POLICY_MAX_MEMBERS)
			return fail(p, s, err, "more than %d members", LR_POLICY_MAX_MEMBERS);
		if (push_name(v, cnt, name, len) < 0)
			return lr_error_errno(err, ENOMEM, "%s", p->file);
		count++;
		s += n;
	}
	if (!count)
		return fail(p, value, err, "expected user names or @groups");
	return 0;
}

static int parse_value(struct parser *p, enum lr_res r, const char *value, uint64_t *out,
		       struct lr_error *err)
{
	if (!*value)
		return fail(p, value, err, "expected a value for %s", resources[r].name);
	if (!strcasecmp(value, "unlimited")) {
		*out = LR_POLICY_UNLIMITED;
		return 0;
	}
	if (resources[r].size) {
		if (lr_parse_size(value, out) < 0)
			return fail(
				p, value, err,
				"expected a size such as 64G, 512M or unlimited for %s, not '%s'",
				resources[r].name, value);
		return 0;
	}
	if (lr_parse_uint(value, resources[r].min, resources[r].max, out) < 0)
		return fail(
			p, value, err,
			"expected a whole number from %llu to %llu or unlimited for %s, not '%s'",
			(unsigned long long)resources[r].min, (unsigned long long)resources[r].max,
			resources[r].name, value);
	return 0;
}

/* "DEVICE SIZE" or "PATH SIZE". */
static int parse_keyed(struct parser *p, const char *name, const char *value, struct lr_keyed *list,
		       size_t *n, bool device, struct lr_error *err)
{
	size_t klen = strcspn(value, " \t");
	const char *size = skip_blank(value + klen);
	if (value[0] != '/' || klen == 0 || (device && strncmp(value, "/dev/", 5)))
		return fail(p, value, err, "expected %s then a size, e.g. %s",
			    device ? "a device" : "an absolute path",
			    device ? "/dev/sda 100M" : "/scratch 500G");
	for (const char *c = value; c < value + klen;) {
		c++; /* past '/' */
		size_t cl = strcspn(c, "/ \t");
		if (c + cl > value + klen)
			cl = (size_t)(value + klen - c);
		if ((cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
			return fail(p, value, err, "expected a path without . or .. components");
		c += cl;
	}
	uint64_t v;
	if (!*size || lr_parse_size(size, &v) < 0)
		return fail(p, *size ? size : value + klen, err,
			    "expected a size after '%.*s', e.g. 100M or unlimited", (int)klen,
			    value);
	/* One spelling per path: "/scratch/" and "//scratch" are /scratch.
	 * Limits are matched by key between the lab's total and a member's, so
	 * a member's "/scratch/ 5T" beside the lab's "/scratch 1T" escaped the
	 * lab's cap (found by fuzz_policy's invariant, issue 12). */
	char key[PATH_MAX];
	size_t m = 0;
	if (klen >= sizeof(key))
		return fail(p, value, err, "a path longer than %zu bytes", sizeof(key) - 1);
	for (size_t i = 0; i < klen; i++)
		if (value[i] != '/' || m == 0 || key[m - 1] != '/')
			key[m++] = value[i];
	if (m > 1 && key[m - 1] == '/')
		m--;
	key[m] = '\0';
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(list[i].key, key))
			return fail(p, value, err, "%s for %s is set twice in this section", name,
				    key);
	if (*n == LR_POLICY_MAX_PATHS)
		return fail(p, value, err, "more than %d %s lines in this section",
			    LR_POLICY_MAX_PATHS, name);
	struct lr_keyed *k = &list[*n];
	if (!(k->key = strdup(key)))
		return lr_error_errno(err, ENOMEM, "%s", p->file);
	k->value = v;
	k->origin = (struct lr_origin){p->lab->file, p->line, scope_name(p)};
	(*n)++;
	return 0;
}

static int section(struct parser *p, char *s, struct lr_error *err)
{
	char *end = strchr(s, ']');
	if (!end || (*skip_blank(end + 1) && *skip_blank(end + 1) != '#'))
		return fail(p, s, err, "expected [lab], [defaults] or [member NAME]");
	*end = '\0';
	char *name = (char *)skip_blank(s + 1);
	size_t n = strcspn(name, " \t");
	memset(p->key_seen, 0, sizeof(p->key_seen));
	if (n == 3 && !strncmp(name, "lab", 3) && !*skip_blank(name + 3)) {
		if (p->seen_lab)
			return fail(p, s, err, "a second [lab] section");
		p->seen_lab = true;
		p->section = LAB;
		p->limits = &p->lab->total;
		return 0;
	}
	if (n == 8 && !strncmp(name, "defaults", 8) && !*skip_blank(name + 8)) {
		if (p->seen_defaults)
			return fail(p, s, err, "a second [defaults] section");
		p->seen_defaults = true;
		p->section = DEFAULTS;
		p->limits = &p->lab->defaults;
		return 0;
	}
	if (n == 6 && !strncmp(name, "member", 6)) {
		char *user = (char *)skip_blank(name + 6);
		size_t ulen = strcspn(user, " \t");
		if (!valid_name(user, ulen) || *skip_blank(user + ulen))
			return fail(p, user, err, "expected [member USER] with one user name");
		struct lr_lab *lab = p->lab;
		for (size_t i = 0; i < lab->n_overrides; i++)
			if (strlen(lab->overrides[i].user) == ulen &&
			    !strncmp(lab->overrides[i].user, user, ulen))
				return fail(p, user, err, "a second [member %.*s] section",
					    (int)ulen, user);
		if (lab->n_overrides == LR_POLICY_MAX_OVERRIDES)
			return fail(p, s, err, "more than %d [member] sections",
				    LR_POLICY_MAX_OVERRIDES);
		struct lr_override *o =
			realloc(lab->overrides, (lab->n_overrides + 1) * sizeof(*o));
		if (!o)
			return lr_error_errno(err, ENOMEM, "%s", p->file);
		lab->overrides = o;
		o = &o[lab->n_overrides];
		memset(o, 0, sizeof(*o));
		if (!(o->user = strndup(user, ulen)))
			return lr_error_errno(err, ENOMEM, "%s", p->file);
		lab->n_overrides++;
		p->section = MEMBER;
		p->limits = &o->limits;
		return 0;
	}
	return fail(p, name, err, "expected [lab], [defaults] or [member NAME], not [%s]", name);
}

static int key_value(struct parser *p, char *s, struct lr_error *err)
{
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(p, s, err, "expected 'key = value'");
	char *kend = eq;
	while (kend > s && blank(kend[-1]))
		kend--;
	*kend = '\0';
	char *value = (char *)skip_blank(eq + 1);
	char *vend = value + strlen(value);
	while (vend > value && blank(vend[-1]))
		*--vend = '\0';
	if (p->section == NONE)
		return fail(p, s, err,
			    "expected a section first: [lab], [defaults] or [member NAME]");
	if (!strcmp(s, "members")) {
		if (p->section != LAB)
			return fail(p, s, err, "members belong in the [lab] section");
		return parse_members(p, value, err);
	}
	struct lr_limits *l = p->limits;
	if (!strcmp(s, "io-read-bps"))
		return parse_keyed(p, s, value, l->read_bps, &l->n_read_bps, true, err);
	if (!strcmp(s, "io-write-bps"))
		return parse_keyed(p, s, value, l->write_bps, &l->n_write_bps, true, err);
	if (!strcmp(s, "storage"))
		return parse_keyed(p, s, value, l->storage, &l->n_storage, false, err);
	for (int r = 0; r < LR_RES_COUNT; r++) {
		if (strcmp(s, resources[r].name))
			continue;
		if (p->key_seen[r])
			return fail(p, s, err, "%s is set twice in this section", s);
		p->key_seen[r] = true;
		int e = parse_value(p, (enum lr_res)r, value, &l->value[r], err);
		if (e < 0)
			return e;
		l->set[r] = true;
		l->origin[r] = (struct lr_origin){p->lab->file, p->line, scope_name(p)};
		return 0;
	}
	return fail(p, s, err,
		    "unknown key '%s' (members, cores, memory, swap, gpus, processes, tmpfs-size, "
		    "io-weight, io-read-bps, io-write-bps, storage, gpu-hours)",
		    s);
}

static int lab_name(const char *path, char **out, struct lr_error *err)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".conf"))
		n -= 5;
	if (!valid_name(base, n))
		return lr_error_set(
			err, EINVAL,
			"%s: the file name must be the lab's name (letters, digits, . _ "
			"-) and .conf",
			path);
	return (*out = strndup(base, n)) ? 0 : lr_error_errno(err, ENOMEM, "%s", path);
}

static int parse_lab(struct lr_lab *out, const char *path, const char *text, size_t len,
		     struct lr_error *err)
{
	if (len > LR_POLICY_MAX_BYTES)
		return lr_error_set(err, EFBIG, "%s: larger than %d bytes", path,
				    LR_POLICY_MAX_BYTES);
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		unsigned line = 1;
		for (const char *c = text; c < nul; c++)
			line += *c == '\n';
		return lr_error_set(err, EINVAL, "%s:%u: a NUL byte (is this a text file?)", path,
				    line);
	}
	struct lr_lab lab = {0};
	struct parser p = {.lab = &lab, .file = path};
	int r = lab_name(path, &lab.name, err);
	if (r < 0 || !(lab.file = strdup(path))) {
		r = r < 0 ? r : lr_error_errno(err, ENOMEM, "%s", path);
		goto fail;
	}
	char line[LR_POLICY_MAX_LINE + 1];
	for (size_t pos = 0; pos < len;) {
		p.line++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (n > LR_POLICY_MAX_LINE) {
			r = lr_error_set(err, EINVAL, "%s:%u: longer than %d bytes", path, p.line,
					 LR_POLICY_MAX_LINE);
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		p.text = line;
		char *s = (char *)skip_blank(line);
		if (*s == '\0' || *s == '#')
			continue;
		/* A terminal obeys control characters instead of showing
		 * them: no value may hold one (errors quote values). */
		for (const char *c = s; *c; c++)
			if ((unsigned char)*c < 0x20 ? *c != '\t' && !(*c == '\r' && !c[1])
						     : *c == 0x7f) {
				r = fail(&p, c, err,
					 "a control character (0x%02x): lab files are text",
					 (unsigned char)*c);
				goto fail;
			}
		r = *s == '[' ? section(&p, s, err) : key_value(&p, s, err);
		if (r < 0)
			goto fail;
	}
	if (!lab.n_users && !lab.n_groups) {
		r = lr_error_set(err, EINVAL, "%s: no members: expected 'members = ...' in [lab]",
				 path);
		goto fail;
	}
	*out = lab;
	return 0;
fail:
	lr_lab_free(&lab);
	return r;
}

int lr_lab_parse(struct lr_lab *out, const char *path, const char *text, size_t len,
		 struct lr_error *err)
{
	/* Its messages quote the file: lr_error_*() make them safe to print. */
	return parse_lab(out, path, text, len, err);
}

static void limits_free(struct lr_limits *l)
{
	for (size_t i = 0; i < l->n_read_bps; i++)
		free(l->read_bps[i].key);
	for (size_t i = 0; i < l->n_write_bps; i++)
		free(l->write_bps[i].key);
	for (size_t i = 0; i < l->n_storage; i++)
		free(l->storage[i].key);
}

void lr_lab_free(struct lr_lab *lab)
{
	if (!lab)
		return;
	for (size_t i = 0; i < lab->n_users; i++)
		free(lab->users[i]);
	for (size_t i = 0; i < lab->n_groups; i++)
		free(lab->groups[i]);
	free(lab->users);
	free(lab->groups);
	limits_free(&lab->total);
	limits_free(&lab->defaults);
	for (size_t i = 0; i < lab->n_overrides; i++) {
		free(lab->overrides[i].user);
		limits_free(&lab->overrides[i].limits);
	}
	free(lab->overrides);
	free(lab->name);
	free(lab->file);
	memset(lab, 0, sizeof(*lab));
}

/* ------------------------------------------------------------ loading */

/* The whole of fd (the file path) into *buf. */
static int read_fd(int fd, const char *path, char **buf, size_t *len, struct lr_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lr_error_errno(err, errno, "%s", path);
	if (st.st_size > LR_POLICY_MAX_BYTES)
		return lr_error_set(err, EFBIG, "%s: larger than %d bytes", path,
				    LR_POLICY_MAX_BYTES);
	char *b = malloc((size_t)st.st_size + 1);
	if (!b)
		return lr_error_errno(err, ENOMEM, "%s", path);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(b);
			return n < 0 ? lr_error_errno(err, errno, "%s", path)
				     : lr_error_set(err, EIO, "%s: changed while read", path);
		}
		got += (size_t)n;
	}
	*buf = b;
	*len = got;
	return 0;
}

/* A lab file or directory that someone other than root (or the caller)
 * could change: whoever can change it can raise their own limits. */
static int untrusted(struct lr_error *err)
{
	if (!err)
		return -EPERM;
	char why[sizeof(err->msg)];
	memcpy(why, err->msg, sizeof(why));
	return lr_error_set(err, EPERM,
			    "%.600s: a lab file, its directory and those above it must be "
			    "writable by root alone, or anyone could raise their limits "
			    "(labrun-policy(5))",
			    why);
}

static int by_lab_name(const void *a, const void *b)
{
	return strcmp(((const struct lr_lab *)a)->name, ((const struct lr_lab *)b)->name);
}

/* Every lab file of the directory dfd (named dir in messages) into p. */
static int load(struct lr_policy *p, int dfd, const char *dir, struct lr_error *err)
{
	int list_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = list_fd < 0 ? NULL : fdopendir(list_fd);
	if (!d) {
		int e = errno;
		if (list_fd >= 0)
			close(list_fd);
		return lr_error_errno(err, e, "policy directory %s", dir);
	}
	_cleanup_closedir_ DIR *dir_cleanup = d;
	const uid_t self = geteuid();
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n <= 5 || strcmp(de->d_name + n - 5, ".conf") || de->d_name[0] == '.')
			continue; /* editors' backups, README, .swp: not labs */
		if (p->n_labs == LR_POLICY_MAX_LABS)
			return lr_error_set(err, E2BIG, "%s: more than %d labs", dir,
					    LR_POLICY_MAX_LABS);
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			return lr_error_set(err, ENAMETOOLONG, "%s/%s: name too long", dir,
					    de->d_name);
		_cleanup_close_ int fd = lr_trust_openat_file(dfd, dir, de->d_name, self, err);
		if (fd < 0)
			return fd == -EPERM ? untrusted(err) : fd;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		int r = read_fd(fd, path, &text, &len, err);
		if (r < 0)
			return r;
		struct lr_lab *labs = realloc(p->labs, (p->n_labs + 1) * sizeof(*labs));
		if (!labs)
			return lr_error_errno(err, ENOMEM, "%s", path);
		p->labs = labs;
		if ((r = lr_lab_parse(&p->labs[p->n_labs], path, text, len, err)) < 0)
			return r;
		p->n_labs++;
	}
	return 0;
}

int lr_policy_load(struct lr_policy *out, const char *dir, bool missing_ok, struct lr_error *err)
{
	memset(out, 0, sizeof(*out));
	/* The directory, and each one above, checked on the way down. */
	_cleanup_close_ int dfd = lr_trust_open_dir(dir, geteuid(), err);
	if (dfd == -ENOENT && missing_ok) {
		lr_error_clear(err);
		return 0;
	}
	if (dfd < 0)
		return dfd == -EPERM ? untrusted(err)
				     : lr_error_errno(err, -dfd, "policy directory %s", dir);
	struct lr_policy p = {0};
	int r = load(&p, dfd, dir, err);
	if (r < 0) {
		lr_policy_free(&p);
		return r;
	}
	qsort(p.labs, p.n_labs, sizeof(*p.labs), by_lab_name);
	*out = p;
	return 0;
}

void lr_policy_free(struct lr_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_labs; i++)
		lr_lab_free(&p->labs[i]);
	free(p->labs);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------ lookups */

bool lr_lab_has_member(const struct lr_lab *lab, const char *user, const char *const *groups,
		       size_t n_groups)
{
	for (size_t i = 0; i < lab->n_users; i++)
		if (!strcmp(lab->users[i], user))
			return true;
	for (size_t i = 0; i < lab->n_groups; i++)
		for (size_t j = 0; j < n_groups; j++)
			if (!strcmp(lab->groups[i], groups[j]))
				return true;
	return false;
}

size_t lr_policy_labs_of(const struct lr_policy *p, const char *user, const char *const *groups,
			 size_t n_groups, const struct lr_lab **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_labs; i++)
		if (lr_lab_has_member(&p->labs[i], user, groups, n_groups)) {
			if (n < max)
				out[n] = &p->labs[i];
			n++;
		}
	return n;
}

static ssize_t keyed_index(const struct lr_keyed *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].key, key))
			return (ssize_t)i;
	return -1;
}

/* out's keyed list: the member's keys, the defaults' for keys the member
 * does not set, each capped by the total's value for the same key, and
 * the total's other keys.  out has room for all three sections' keys. */
static void keyed_alloc(const struct lr_keyed *member, size_t nm, const struct lr_keyed *def,
			size_t nd, const struct lr_keyed *total, size_t nt, struct lr_keyed *out,
			size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < nm; i++)
		out[(*n)++] = member[i];
	for (size_t i = 0; i < nd; i++)
		if (keyed_index(out, *n, def[i].key) < 0)
			out[(*n)++] = def[i];
	for (size_t i = 0; i < nt; i++) {
		ssize_t j = keyed_index(out, *n, total[i].key);
		if (j < 0)
			out[(*n)++] = total[i];
		else if (total[i].value < out[j].value)
			out[j] = total[i];
	}
}

void lr_lab_allocation(const struct lr_lab *lab, const char *user, struct lr_limits *out)
{
	memset(out, 0, sizeof(*out));
	const struct lr_limits *member = NULL;
	for (size_t i = 0; i < lab->n_overrides; i++)
		if (!strcmp(lab->overrides[i].user, user))
			member = &lab->overrides[i].limits;
	static const struct lr_limits none;
	if (!member)
		member = &none;
	const struct lr_limits *def = &lab->defaults, *tot = &lab->total;
	for (int r = 0; r < LR_RES_COUNT; r++) {
		const struct lr_limits *from = member->set[r] ? member : def->set[r] ? def : NULL;
		out->set[r] = true;
		out->value[r] = from ? from->value[r] : LR_POLICY_UNLIMITED;
		if (from)
			out->origin[r] = from->origin[r];
		if (tot->set[r] && tot->value[r] < out->value[r]) {
			out->value[r] = tot->value[r];
			out->origin[r] = tot->origin[r];
		}
	}
	keyed_alloc(member->read_bps, member->n_read_bps, def->read_bps, def->n_read_bps,
		    tot->read_bps, tot->n_read_bps, out->read_bps, &out->n_read_bps);
	keyed_alloc(member->write_bps, member->n_write_bps, def->write_bps, def->n_write_bps,
		    tot->write_bps, tot->n_write_bps, out->write_bps, &out->n_write_bps);
	keyed_alloc(member->storage, member->n_storage, def->storage, def->n_storage, tot->storage,
		    tot->n_storage, out->storage, &out->n_storage);
}

void lr_limits_min(const struct lr_limits *a, const struct lr_limits *b, struct lr_limits *out)
{
	struct lr_limits t = *a;
	for (int r = 0; r < LR_RES_COUNT; r++) {
		if (!b->set[r])
			continue;
		if (!t.set[r] || b->value[r] < t.value[r]) {
			t.set[r] = true;
			t.value[r] = b->value[r];
			t.origin[r] = b->origin[r];
		}
	}
	*out = t;
}
