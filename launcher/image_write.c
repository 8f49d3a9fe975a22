/* image_write.c - output files, parents and options shared by the
 * labrun-image commands that write layers (image_write.h). */
#include "build-config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup.h"
#include "digest.h"
#include "image_write.h"
#include "log.h"
#include "units.h"

/* ------------------------------------------------------------ reports */

int lr_image_fail(const char *cmd, const char *msg)
{
	fprintf(stderr, "labrun-image %s: %s\n", cmd, msg);
	return LR_IMAGE_FAILED;
}

int lr_image_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "labrun-image %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see labrun-image --help)\n");
	va_end(ap);
	return LR_IMAGE_USAGE;
}

void lr_special_report(const char *cmd, const struct lr_build_special *s, bool kept)
{
	char line[3 * LR_BUILD_EXAMPLE_MAX + 256];
	if (!kept && lr_build_special_describe(s, line, sizeof(line)))
		fprintf(stderr, "labrun-image %s: %s; --keep-special keeps them\n", cmd, line);
}

/* ------------------------------------------------------------ output */

/* The temporary files being written (import converts one layer while the
 * one before is digested), for the signal handler.  Changed by the main
 * thread only. */
#define MAX_PENDING 4
static char pending_tmp[MAX_PENDING][PATH_MAX];

static void on_signal(int sig)
{
	for (size_t i = 0; i < MAX_PENDING; i++)
		if (pending_tmp[i][0])
			unlink(pending_tmp[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Add tmp to the files removed on a signal, or drop it (watch false). */
static void watch(const char *tmp, bool on)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	size_t n = 0;
	for (size_t i = 0; i < MAX_PENDING; i++) {
		if (on && !pending_tmp[i][0]) {
			snprintf(pending_tmp[i], sizeof(pending_tmp[i]), "%s", tmp);
			on = false;
		} else if (!on && !strcmp(pending_tmp[i], tmp)) {
			pending_tmp[i][0] = '\0';
		}
		n += pending_tmp[i][0] != '\0';
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], n ? on_signal : SIG_DFL);
}

static int mkdir_p(const char *dir)
{
	char p[PATH_MAX];
	if ((size_t)snprintf(p, sizeof(p), "%s", dir) >= sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int lr_out_store(const struct lr_image_ctx *ctx, const char *store, char *dir, size_t size,
		 struct lr_error *err)
{
	if (store) {
		int r = mkdir_p(store);
		if (r < 0)
			return lr_error_errno(err, -r, "layer store %s", store);
		if (access(store, W_OK) < 0)
			return lr_error_errno(err, errno, "layer store %s", store);
		snprintf(dir, size, "%s", store);
		return 0;
	}
	for (size_t i = 0; i < ctx->n_stores; i++) {
		if (access(ctx->stores[i], W_OK) == 0 ||
		    (errno == ENOENT && mkdir_p(ctx->stores[i]) == 0)) {
			snprintf(dir, size, "%s", ctx->stores[i]);
			return 0;
		}
	}
	return lr_error_set(err, ENOENT,
			    ctx->n_stores
				    ? "none of the layer stores of labrun.conf can be "
				      "written: name one with --store DIR, or the output with -o"
				    : "no layer store in labrun.conf: name one with --store "
				      "DIR, or the output with -o");
}

/* Temporary names tried before giving up (each lost only to a sweeper
 * that caught the name between its creation and its lock). */
#define TMP_ATTEMPTS 16

static void sweep_debug(const char *dir, const char *name, bool dry_run, int e)
{
	(void)dry_run;
	if (e)
		lr_debug(1, "%s/%s: left by a killed build or import: %s", dir, name, strerror(e));
	else
		lr_debug(1, "removed %s/%s, left by a killed build or import", dir, name);
}

/* Is name in dirfd a temporary file that no writer holds?  On true, fd is
 * open on it and locked: the caller removes it, then closes fd (in that
 * order, so that a writer that locks it afterwards finds it unlinked). */
static bool tmp_is_stale(int dirfd, const char *name, int *fd)
{
	*fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0)
		return false;
	struct stat st, now;
	bool stale = false;
	if (fstat(*fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
			stale = true; /* its writer is gone: the lock went with it */
		else if (errno != EWOULDBLOCK && errno != EINTR)
			/* No locks on this filesystem: only an old file. */
			stale = time(NULL) - st.st_mtime > LR_OUT_STALE_SECONDS;
	}
	/* The name must still be this file (a rename by its writer, which
	 * then let go of it, may have put another there: never). */
	if (stale && (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
		      now.st_dev != st.st_dev || now.st_ino != st.st_ino))
		stale = false;
	if (!stale) {
		close(*fd);
		*fd = -1;
	}
	return stale;
}

size_t lr_out_sweep(const char *dir, bool dry_run, lr_out_sweep_report report)
{
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return 0;
	int dfd = dup(dirfd);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, LR_OUT_TMP_PREFIX, strlen(LR_OUT_TMP_PREFIX)))
			continue;
		int fd;
		if (!tmp_is_stale(dirfd, de->d_name, &fd))
			continue;
		int e = !dry_run && unlinkat(dirfd, de->d_name, 0) < 0 ? errno : 0;
		close(fd);
		n += e == 0;
		if (report)
			report(dir, de->d_name, dry_run, e);
	}
	closedir(d);
	return n;
}

/* Create o->tmp and hold an flock on it until it is renamed or removed. */
static int tmp_create(struct lr_out *o, struct lr_error *err)
{
	for (int attempt = 0; attempt < TMP_ATTEMPTS; attempt++) {
		if ((size_t)snprintf(o->tmp, sizeof(o->tmp), "%s/" LR_OUT_TMP_PREFIX "XXXXXX",
				     o->dir) >= sizeof(o->tmp))
			return lr_error_set(err, ENAMETOOLONG, "%s: name too long", o->dir);
		int fd = mkostemp(o->tmp, O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			o->tmp[0] = '\0';
			return lr_error_errno(err, e, "%s", o->dir);
		}
		/* Locked, or no locks here (then only age protects it).  A
		 * sweeper that took the name before we locked it holds it, or
		 * has removed it: then drop it (a sweeper that cannot remove
		 * it, another user's in a sticky directory, would leave it)
		 * and try another name. */
		bool taken = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		struct stat st, now;
		bool ours = fstat(fd, &st) == 0 && lstat(o->tmp, &now) == 0 &&
			    now.st_ino == st.st_ino && now.st_dev == st.st_dev;
		if (taken || !ours || st.st_nlink == 0) {
			if (ours)
				unlink(o->tmp);
			close(fd);
			continue;
		}
		fchmod(fd, 0644);
		o->lock_fd = fd;
		return 0;
	}
	o->tmp[0] = '\0';
	return lr_error_set(err, EAGAIN, "%s: no temporary file could be made and locked", o->dir);
}

int lr_out_begin(struct lr_out *o, const char *out, const char *store_dir, struct lr_error *err)
{
	memset(o, 0, sizeof(*o));
	o->lock_fd = -1;
	if (out) {
		if ((size_t)snprintf(o->final, sizeof(o->final), "%s", out) >= sizeof(o->final))
			return lr_error_set(err, ENAMETOOLONG, "%s: name too long", out);
		char copy[PATH_MAX];
		snprintf(copy, sizeof(copy), "%s", out);
		snprintf(o->dir, sizeof(o->dir), "%s", dirname(copy));
		struct stat st;
		if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			return lr_error_set(err, EISDIR, "%s: is a directory (-o names the file)",
					    out);
	} else {
		snprintf(o->dir, sizeof(o->dir), "%s", store_dir);
	}
	lr_out_sweep(o->dir, false, sweep_debug);
	int r = tmp_create(o, err);
	if (r < 0)
		return r;
	watch(o->tmp, true);
	return 0;
}

int lr_out_publish(struct lr_out *o, struct lr_error *err)
{
	_cleanup_close_ int fd = open(o->tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lr_error_errno(err, errno, "%s", o->tmp);
	int r = lr_digest_fd(fd, o->hex, err);
	if (r < 0)
		return r;
	if (fsync(fd) < 0)
		return lr_error_errno(err, errno, "%s", o->tmp);
	char dest[PATH_MAX];
	if (o->final[0])
		snprintf(dest, sizeof(dest), "%s", o->final);
	else if ((size_t)snprintf(dest, sizeof(dest), "%s/sha256-%s.sqfs", o->dir, o->hex) >=
		 sizeof(dest))
		return lr_error_set(err, ENAMETOOLONG, "%s: name too long", o->dir);
	if (!o->final[0] && access(dest, F_OK) == 0) {
		/* Same digest, same bytes: the store keeps the one it has. */
		o->existed = true;
		unlink(o->tmp);
		return 0;
	}
	if (rename(o->tmp, dest) < 0)
		return lr_error_errno(err, errno, "rename to %s", dest);
	return 0;
}

int lr_out_commit(struct lr_out *o, struct lr_error *err)
{
	int r = lr_out_publish(o, err);
	if (r == 0)
		lr_out_done(o);
	return r;
}

static void unlock(struct lr_out *o)
{
	if (o->lock_fd >= 0)
		close(o->lock_fd);
	o->lock_fd = -1;
}

void lr_out_done(struct lr_out *o)
{
	watch(o->tmp, false);
	o->tmp[0] = '\0';
	unlock(o);
}

void lr_out_abort(struct lr_out *o)
{
	if (o->tmp[0]) {
		unlink(o->tmp);
		watch(o->tmp, false);
	}
	o->tmp[0] = '\0';
	unlock(o); /* after the unlink: see tmp_is_stale() */
}

/* ------------------------------------------------------------ parents */

static bool is_hex_digest(const char *s)
{
	return strlen(s) == LR_DIGEST_HEX_LEN && strspn(s, "0123456789abcdef") == LR_DIGEST_HEX_LEN;
}

int lr_parent_open(const struct lr_image_ctx *ctx, const char *arg, struct lr_chain *chain,
		   char hex[LR_DIGEST_HEX_LEN + 1], struct lr_error *err)
{
	_cleanup_free_ char *path = NULL;
	const char *image = arg;
	if (!strncmp(arg, "sha256:", 7)) {
		if (!is_hex_digest(arg + 7))
			return lr_error_set(err, EINVAL,
					    "parent %s: expected sha256:<64 hex digits>", arg);
		int fd = lr_layer_find(arg + 7, ctx->stores, ctx->n_stores, NULL, &path, err);
		if (fd < 0)
			return fd;
		close(fd);
		image = path;
	}
	int r = lr_chain_resolve(chain, image, ctx->stores, ctx->n_stores, err);
	if (r < 0)
		return lr_error_prefix(err, "parent");
	if ((r = lr_digest_fd(chain->layers[0].fd, hex, err)) < 0) {
		lr_chain_free(chain);
		return r;
	}
	return 0;
}

/* Copy from into the open file out. */
static int copy_into(const char *from, int out)
{
	struct lr_error err = {0};
	_cleanup_close_ int in = lr_layer_open(from, &err);
	if (in < 0)
		return in;
	char buf[1 << 16];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0)
				return -errno;
			done += w;
		}
	return n < 0 ? -errno : 0;
}

int lr_link_or_copy(const char *from, const char *to, bool *copied)
{
	*copied = false;
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", to) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = mkostemp(tmp, O_CLOEXEC); /* a name of our own beside to */
	if (fd < 0)
		return -errno;
	close(fd);
	unlink(tmp);
	/* A hard link is made and renamed in two calls: nothing to lose. */
	if (link(from, tmp) == 0) {
		if (rename(tmp, to) < 0) {
			int e = errno;
			unlink(tmp);
			return -e;
		}
		return 0;
	}
	/* A copy takes time and can be killed half-way: it goes to a locked
	 * temporary file of the kind lr_out_sweep() removes once its writer
	 * is gone, as the next copy into this directory does first. */
	struct lr_out o = {.lock_fd = -1};
	char copy[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", to);
	snprintf(o.dir, sizeof(o.dir), "%s", dirname(copy));
	struct lr_error err = {0};
	lr_out_sweep(o.dir, false, sweep_debug);
	if (tmp_create(&o, &err) < 0)
		return err.code ? -err.code : -EIO;
	watch(o.tmp, true);
	*copied = true;
	int r = copy_into(from, o.lock_fd);
	if (r == 0 && fsync(o.lock_fd) < 0)
		r = -errno;
	if (r == 0 && rename(o.tmp, to) < 0)
		r = -errno;
	if (r < 0)
		unlink(o.tmp);
	watch(o.tmp, false);
	close(o.lock_fd);
	return r;
}

int lr_parent_reachable(const struct lr_image_ctx *ctx, const char *parent_path, const char *hex,
			const char *out, struct lr_error *err)
{
	char copy[PATH_MAX], beside[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", out);
	const char *dir = dirname(copy);
	_cleanup_free_ char *found = NULL;
	struct lr_error ignored = {0};
	int fd = lr_layer_find(hex, ctx->stores, ctx->n_stores, dir, &found, &ignored);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if ((size_t)snprintf(beside, sizeof(beside), "%s/sha256-%s.sqfs", dir, hex) >=
	    sizeof(beside))
		return lr_error_set(err, ENAMETOOLONG, "%s: name too long", dir);
	bool copied;
	int r = lr_link_or_copy(parent_path, beside, &copied);
	if (r < 0)
		return lr_error_errno(err, -r, "copy parent %s to %s", parent_path, beside);
	if (copied)
		fprintf(stderr,
			"labrun-image: copied parent %s to %s (a hard link was not possible)\n",
			parent_path, beside);
	else
		lr_debug(1, "linked %s as %s", parent_path, beside);
	return 0;
}

/* ------------------------------------------------------------ options */

/* --entrypoint/--cmd: a JSON array of strings, or words split on blanks. */
static int parse_command(struct lr_strv *v, const char *opt, const char *value,
			 struct lr_error *err)
{
	lr_strv_free(v);
	if (value[strspn(value, " \t")] == '[') {
		json_error_t jerr;
		json_auto_t *a = json_loads(value, JSON_REJECT_DUPLICATES, &jerr);
		if (!a || !json_is_array(a))
			return lr_error_set(err, EINVAL, "--%s: not a JSON array of strings: %s",
					    opt, a ? "not an array" : jerr.text);
		size_t i;
		json_t *s;
		json_array_foreach(a, i, s)
		{
			if (!json_is_string(s))
				return lr_error_set(err, EINVAL,
						    "--%s: element %zu is not a string", opt, i);
			if (lr_strv_push(v, json_string_value(s)) < 0)
				return lr_error_errno(err, ENOMEM, "--%s", opt);
		}
		return 0;
	}
	_cleanup_free_ char *copy = strdup(value);
	if (!copy)
		return lr_error_errno(err, ENOMEM, "--%s", opt);
	char *save = NULL;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (lr_strv_push(v, w) < 0)
			return lr_error_errno(err, ENOMEM, "--%s", opt);
	return 0;
}

static int parse_kv(struct lr_strv *v, const char *opt, const char *value, struct lr_error *err)
{
	const char *eq = strchr(value, '=');
	if (!eq || eq == value)
		return lr_error_set(err, EINVAL, "--%s %s: expected KEY=VALUE", opt, value);
	return lr_strv_setenv(v, value) < 0 ? lr_error_errno(err, ENOMEM, "--%s", opt) : 0;
}

int lr_config_option(struct lr_image_config *c, int opt, const char *value, struct lr_error *err)
{
	int r;
	switch (opt) {
	case OPT_ENTRYPOINT:
		c->has_entrypoint = true;
		r = parse_command(&c->entrypoint, "entrypoint", value, err);
		break;
	case OPT_CMD:
		c->has_cmd = true;
		r = parse_command(&c->cmd, "cmd", value, err);
		break;
	case OPT_ENV: r = parse_kv(&c->env, "env", value, err); break;
	case OPT_LABEL: r = parse_kv(&c->labels, "label", value, err); break;
	case OPT_WORKDIR:
		if (value[0] != '/')
			return lr_error_set(err, EINVAL, "--workdir %s: expected an absolute path",
					    value);
		free(c->workdir);
		if (!(c->workdir = strdup(value)))
			return lr_error_errno(err, ENOMEM, "--workdir");
		r = 0;
		break;
	default: return 0;
	}
	return r < 0 ? r : 1;
}

int lr_layer_option(struct lr_sqw_options *o, int opt, const char *value, struct lr_error *err)
{
	switch (opt) {
	case OPT_COMPRESSION:
		if (!lr_sqw_compression_known(value))
			return lr_error_set(
				err, EINVAL,
				"--compression %s: expected gzip, lz4, zstd, xz or none", value);
		o->compression = value;
		return 1;
	case OPT_BLOCK_SIZE: {
		uint64_t size;
		if (lr_parse_size(value, &size) < 0 || size < 4096 || size > 1024 * 1024 ||
		    (size & (size - 1)))
			return lr_error_set(
				err, EINVAL,
				"--block-size %s: expected a power of two from 4K to 1M", value);
		o->block_size = (size_t)size;
		return 1;
	}
	default: return 0;
	}
}
