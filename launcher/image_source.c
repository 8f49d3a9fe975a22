/* image_source.c - reading an image to import: archives, OCI layouts,
 * their documents and blobs (image_source.h).
 *
 * Streaming: each layer blob is read once, straight from the archive (or
 * the blob file), and hashed on the way; nothing is extracted and memory
 * does not grow with a layer's size.  A tar archive is searched again for
 * each blob it holds (headers only: libarchive seeks over the data of the
 * others).
 */
#include "build-config.h"

#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_source.h"
#include "squashwrite.h"

#define STREAM_CHUNK (256 * 1024)

/* ------------------------------------------------------------ blobs */

/* A layer blob is hashed on a thread of its own while the main thread
 * parses and compresses it: on two cores, sha256 of a few hundred MB in
 * line was the largest cost import had over tar2sqfs.  The main thread
 * reads into a ring of buffers; the hasher takes them in order.  A buffer
 * is reused only when hashed, and RING_SLOTS reads later, when libarchive
 * (which may look at the last block it was given until it asks for the
 * next) is done with it too. */
#define RING_SLOTS 4

struct lr_source_ring {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lr_sha256 *hash;
	char *buf[RING_SLOTS];
	size_t len[RING_SLOTS];
	bool full[RING_SLOTS];
	size_t head, tail; /* next to fill, next to hash */
	bool closing, running;
};

static void *ring_hasher(void *arg)
{
	struct lr_source_ring *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->full[r->tail] && !r->closing)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->full[r->tail])
			break; /* closing, and everything posted is hashed */
		size_t slot = r->tail;
		pthread_mutex_unlock(&r->mu);
		lr_sha256_update(r->hash, r->buf[slot], r->len[slot]);
		pthread_mutex_lock(&r->mu);
		r->full[slot] = false;
		r->tail = (slot + 1) % RING_SLOTS;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Stop the hasher once it has hashed everything posted. */
static void ring_stop(struct lr_source_ring *r)
{
	if (!r->running)
		return;
	pthread_mutex_lock(&r->mu);
	r->closing = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->running = false;
}

static void ring_free(struct lr_source_ring *r)
{
	if (!r)
		return;
	ring_stop(r);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	for (size_t i = 0; i < RING_SLOTS; i++)
		free(r->buf[i]);
	free(r);
}

int lr_source_stream_hash_on_thread(struct lr_source_stream *s)
{
	struct lr_source_ring *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->hash = s->hash;
	s->ring = r;
	for (size_t i = 0; i < RING_SLOTS; i++)
		if (!(r->buf[i] = malloc(STREAM_CHUNK)))
			return -ENOMEM;
	int e = pthread_create(&r->thread, NULL, ring_hasher, r);
	if (e)
		return -e;
	r->running = true;
	return 0;
}

void lr_source_stream_close(struct lr_source_stream *s)
{
	ring_free(s->ring);
	if (s->fd >= 0)
		close(s->fd);
	if (s->outer)
		archive_read_free(s->outer);
	lr_sha256_free(s->hash);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* Open member (normalised name) of src, or the file member for a dir. */
int lr_source_stream_open(const struct lr_source *src, const char *member,
			  struct lr_source_stream *s, struct lr_error *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->what = member;
	if (!(s->hash = lr_sha256_new()) || !(s->buf = malloc(STREAM_CHUNK)))
		return lr_error_errno(err, ENOMEM, "%s", member);
	if (src->kind == LR_SOURCE_OCI_DIR) {
		char path[PATH_MAX * 2];
		snprintf(path, sizeof(path), "%s/%s", src->path, member);
		/* O_NONBLOCK and the type checked on the fd: a FIFO planted as a
		 * blob must not hang the import (issue 12, item 6). */
		if ((s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0)
			return errno == ENOENT ? lr_error_set(err, ENOENT, "%s: %s is missing",
							      src->path, member)
					       : lr_error_errno(err, errno, "%s", path);
		struct stat st;
		if (fstat(s->fd, &st) < 0)
			return lr_error_errno(err, errno, "%s", path);
		if (!S_ISREG(st.st_mode))
			return lr_error_set(err, EINVAL, "%s: %s is not a regular file", src->path,
					    member);
		return 0;
	}
	if (!(s->outer = archive_read_new()))
		return lr_error_errno(err, ENOMEM, "%s", src->path);
	archive_read_support_format_tar(s->outer);
	archive_read_support_format_gnutar(s->outer);
	archive_read_support_filter_all(s->outer);
	if (archive_read_open_filename(s->outer, src->path, 1 << 16) != ARCHIVE_OK) {
		int e = archive_errno(s->outer);
		return lr_error_set(err, e > 0 ? e : EIO, "%s: %s", src->path,
				    archive_error_string(s->outer));
	}
	for (;;) {
		struct archive_entry *ae;
		int r = archive_read_next_header(s->outer, &ae);
		if (r == ARCHIVE_EOF)
			return lr_error_set(err, ENOENT, "%s: no %s in the archive", src->path,
					    member);
		if (r < ARCHIVE_WARN)
			return lr_error_set(err, EIO, "%s: %s", src->path,
					    archive_error_string(s->outer)
						    ? archive_error_string(s->outer)
						    : "not a tar archive, or damaged");
		const char *name = archive_entry_pathname(ae);
		char norm[PATH_MAX];
		if (!name || (size_t)snprintf(norm, sizeof(norm), "%s", name) >= sizeof(norm) ||
		    lr_path_normalise(norm) < 0)
			continue;
		if (!strcmp(norm, member)) {
			if (archive_entry_filetype(ae) != AE_IFREG)
				return lr_error_set(err, EINVAL, "%s: %s is not a file", src->path,
						    member);
			return 0;
		}
	}
}

/* Read up to len bytes of the blob into buf, counting them. */
static long raw_read(struct lr_source_stream *s, void *buf, size_t len)
{
	long n;
	if (s->outer) {
		n = (long)archive_read_data(s->outer, buf, len);
		if (n < 0)
			s->error = EIO;
	} else {
		do
			n = (long)read(s->fd, buf, len);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			s->error = errno;
	}
	if (n > 0)
		s->bytes += (uint64_t)n;
	return n;
}

/* The next block of the blob, hashed: in line, or handed to the ring's
 * hasher (then *out points into the ring, valid for RING_SLOTS calls). */
static long stream_next(struct lr_source_stream *s, const void **out)
{
	struct lr_source_ring *r = s->ring;
	if (!r) {
		long n = raw_read(s, s->buf, STREAM_CHUNK);
		if (n > 0)
			lr_sha256_update(s->hash, s->buf, (size_t)n);
		*out = s->buf;
		return n;
	}
	size_t slot = r->head;
	pthread_mutex_lock(&r->mu);
	while (r->full[slot])
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	long n = raw_read(s, r->buf[slot], STREAM_CHUNK);
	if (n > 0) {
		pthread_mutex_lock(&r->mu);
		r->len[slot] = (size_t)n;
		r->full[slot] = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		r->head = (slot + 1) % RING_SLOTS;
	}
	*out = r->buf[slot];
	return n;
}

static long stream_read(struct lr_source_stream *s, void *buf, size_t len)
{
	long n = raw_read(s, buf, len);
	if (n > 0)
		lr_sha256_update(s->hash, buf, (size_t)n);
	return n;
}

/* libarchive's read callback for the layer tar inside the blob. */
la_ssize_t lr_source_stream_archive_read(struct archive *a, void *ctx, const void **buf)
{
	(void)a;
	long n = stream_next(ctx, buf);
	return n < 0 ? -1 : (la_ssize_t)n;
}

/* Read what is left (tar padding after the end blocks), then check the
 * blob's digest and size. */
int lr_source_stream_check(struct lr_source_stream *s, const char *want_hex, long long want_size,
			   const char *what, struct lr_error *err)
{
	long n;
	const void *block;
	while ((n = stream_next(s, &block)) > 0)
		;
	if (n < 0)
		return lr_error_set(err, EIO, "%s: read failed%s", what,
				    s->outer ? " (archive truncated or damaged)" : "");
	if (s->ring)
		ring_stop(s->ring);
	char hex[LR_DIGEST_HEX_LEN + 1];
	if (lr_sha256_final(s->hash, hex) < 0)
		return lr_error_set(err, EIO, "%s: sha256 failed", what);
	if (want_size >= 0 && (uint64_t)want_size != s->bytes)
		return lr_error_set(err, EIO, "%s: %llu bytes, the manifest says %lld", what,
				    (unsigned long long)s->bytes, want_size);
	if (want_hex && *want_hex && strcmp(hex, want_hex))
		return lr_error_set(err, EIO,
				    "%s: digest mismatch: content is sha256:%.12s..., "
				    "the manifest says sha256:%.12s...",
				    what, hex, want_hex);
	return 0;
}

/* A whole small blob (JSON), checked against want_hex when given. */
static int read_small(const struct lr_source *src, const char *member, const char *want_hex,
		      char **out, size_t *len, struct lr_error *err)
{
	struct lr_source_stream s;
	int r = lr_source_stream_open(src, member, &s, err);
	if (r < 0) {
		lr_source_stream_close(&s);
		return r;
	}
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf) {
			lr_source_stream_close(&s);
			return lr_error_errno(err, ENOMEM, "%s", member);
		}
		long n = stream_read(&s, buf + used, cap - used);
		if (n < 0) {
			free(buf);
			lr_source_stream_close(&s);
			return lr_error_set(err, EIO, "%s: %s: read failed", src->path, member);
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == cap) {
			if (cap >= LR_SOURCE_MAX_JSON) {
				free(buf);
				lr_source_stream_close(&s);
				return lr_error_set(err, EFBIG, "%s: %s: larger than %d bytes",
						    src->path, member, LR_SOURCE_MAX_JSON);
			}
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	buf[used] = '\0';
	char what[PATH_MAX + 64];
	snprintf(what, sizeof(what), "%s: %s", src->path, member);
	r = lr_source_stream_check(&s, want_hex, -1, what, err);
	lr_source_stream_close(&s);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = used;
	return 0;
}

static json_t *read_json(const struct lr_source *src, const char *member, const char *want_hex,
			 struct lr_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if (read_small(src, member, want_hex, &buf, &len, err) < 0)
		return NULL;
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		lr_error_set(err, EINVAL, "%s: %s: not valid JSON: %s (line %d)", src->path, member,
			     jerr.text, jerr.line);
	return j;
}

/* (image_source.h) */
const char *lr_source_digest_hex(const json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || strncmp(s, "sha256:", 7) || strlen(s + 7) != LR_DIGEST_HEX_LEN ||
	    strspn(s + 7, "0123456789abcdef") != LR_DIGEST_HEX_LEN)
		return NULL;
	return s + 7;
}

/* ------------------------------------------------------------ manifests */

static bool media_type_supported(const char *mt)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(mt, ok[i]))
			return true;
	return false;
}

/* The diff_ids of the config, into the layers. */
static int take_diff_ids(struct lr_source_image *img, const char *what, struct lr_error *err)
{
	json_t *ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	if (!json_is_array(ids) || json_array_size(ids) != img->n)
		return lr_error_set(err, EINVAL,
				    "%s: rootfs.diff_ids: expected one digest per layer (%zu)",
				    what, img->n);
	for (size_t i = 0; i < img->n; i++) {
		const char *hex = lr_source_digest_hex(json_array_get(ids, i));
		if (!hex)
			return lr_error_set(err, EINVAL,
					    "%s: rootfs.diff_ids[%zu]: not a sha256 digest", what,
					    i);
		memcpy(img->layers[i].diff_id_hex, hex, LR_DIGEST_HEX_LEN + 1);
	}
	return 0;
}

int lr_source_load_docker(const struct lr_source *src, struct lr_source_image *img,
			  struct lr_error *err)
{
	json_auto_t *manifest = read_json(src, "manifest.json", NULL, err);
	if (!manifest)
		return -EINVAL;
	json_t *m = json_array_get(manifest, 0);
	if (!json_is_array(manifest) || !json_is_object(m))
		return lr_error_set(err, EINVAL, "%s: manifest.json: expected an array of images",
				    src->path);
	if (json_array_size(manifest) > 1)
		return lr_error_set(err, EINVAL,
				    "%s: holds %zu images; import takes archives of one image",
				    src->path, json_array_size(manifest));
	const char *config = json_string_value(json_object_get(m, "Config"));
	json_t *layers = json_object_get(m, "Layers");
	if (!config || !json_is_array(layers))
		return lr_error_set(err, EINVAL, "%s: manifest.json: no Config or Layers",
				    src->path);
	if (json_array_size(layers) > LR_SOURCE_MAX_LAYERS)
		return lr_error_set(err, E2BIG, "%s: more than %d layers", src->path,
				    LR_SOURCE_MAX_LAYERS);
	char member[PATH_MAX];
	snprintf(member, sizeof(member), "%s", config);
	if (lr_path_normalise(member) < 0)
		return lr_error_set(err, EINVAL, "%s: manifest.json: bad Config path", src->path);
	if (!(img->config = read_json(src, member, NULL, err)))
		return -EINVAL;
	for (size_t i = 0; i < json_array_size(layers); i++) {
		struct lr_source_layer *l = &img->layers[img->n++];
		const char *p = json_string_value(json_array_get(layers, i));
		if (!p ||
		    (size_t)snprintf(l->member, sizeof(l->member), "%s", p) >= sizeof(l->member) ||
		    lr_path_normalise(l->member) < 0)
			return lr_error_set(err, EINVAL, "%s: manifest.json: Layers[%zu]: bad path",
					    src->path, i);
		l->size = -1;
		snprintf(l->media_type, sizeof(l->media_type),
			 "application/vnd.docker.image.rootfs.diff.tar");
	}
	if (take_diff_ids(img, member, err) < 0)
		return -EINVAL;
	/* docker save's layers are the uncompressed tars: their digest is the
	 * diff_id. */
	for (size_t i = 0; i < img->n; i++)
		memcpy(img->layers[i].blob_hex, img->layers[i].diff_id_hex, LR_DIGEST_HEX_LEN + 1);
	return 0;
}

static int blob_member(const char *hex, char *member, size_t size)
{
	return snprintf(member, size, "blobs/sha256/%s", hex) < (int)size ? 0 : -ENAMETOOLONG;
}

/* The manifest descriptor of index.json for tag (NULL: the only one, or
 * "latest"). */
static const json_t *pick_manifest(const json_t *index, const char *tag, const char *what,
				   struct lr_error *err)
{
	const json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms) || json_array_size(ms) == 0) {
		lr_error_set(err, EINVAL, "%s: index.json: no manifests", what);
		return NULL;
	}
	const char *want = tag ? tag : json_array_size(ms) == 1 ? NULL : "latest";
	if (!want)
		return json_array_get(ms, 0);
	char tags[512] = "";
	size_t used = 0;
	for (size_t i = 0; i < json_array_size(ms); i++) {
		const json_t *m = json_array_get(ms, i);
		const char *name = json_string_value(json_object_get(
			json_object_get(m, "annotations"), "org.opencontainers.image.ref.name"));
		if (name && !strcmp(name, want))
			return m;
		if (name && used < sizeof(tags)) {
			int n = snprintf(tags + used, sizeof(tags) - used, "%s%s", used ? ", " : "",
					 name);
			if (n > 0)
				used += (size_t)n;
		}
	}
	lr_error_set(err, ENOENT, "%s: no image tagged '%s' (tags: %s)", what, want,
		     used ? tags : "none");
	return NULL;
}

int lr_source_load_oci(const struct lr_source *src, struct lr_source_image *img,
		       struct lr_error *err)
{
	json_auto_t *index = read_json(src, "index.json", NULL, err);
	if (!index)
		return -EINVAL;
	const json_t *desc = pick_manifest(index, src->tag, src->path, err);
	if (!desc)
		return -ENOENT;
	const char *hex = lr_source_digest_hex(json_object_get(desc, "digest"));
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	if (!hex)
		return lr_error_set(err, EINVAL, "%s: index.json: manifest without a sha256 digest",
				    src->path);
	char member[PATH_MAX];
	json_auto_t *manifest = NULL;
	if (mt && !strcmp(mt, "application/vnd.oci.image.index.v1+json"))
		return lr_error_set(err, ENOTSUP,
				    "%s: the tag names a multi-platform index; import takes one "
				    "image manifest",
				    src->path);
	blob_member(hex, member, sizeof(member));
	if (!(manifest = read_json(src, member, hex, err)))
		return -EINVAL;
	memcpy(img->manifest_hex, hex, LR_DIGEST_HEX_LEN + 1);
	const char *cfg = lr_source_digest_hex(
		json_object_get(json_object_get(manifest, "config"), "digest"));
	const json_t *layers = json_object_get(manifest, "layers");
	if (!cfg || !json_is_array(layers))
		return lr_error_set(err, EINVAL, "%s: manifest %.12s: no config or layers",
				    src->path, hex);
	if (json_array_size(layers) > LR_SOURCE_MAX_LAYERS)
		return lr_error_set(err, E2BIG, "%s: more than %d layers", src->path,
				    LR_SOURCE_MAX_LAYERS);
	blob_member(cfg, member, sizeof(member));
	if (!(img->config = read_json(src, member, cfg, err)))
		return -EINVAL;
	memcpy(img->config_hex, cfg, LR_DIGEST_HEX_LEN + 1);
	for (size_t i = 0; i < json_array_size(layers); i++) {
		const json_t *d = json_array_get(layers, i);
		struct lr_source_layer *l = &img->layers[img->n++];
		const char *lhex = lr_source_digest_hex(json_object_get(d, "digest"));
		const char *lmt = json_string_value(json_object_get(d, "mediaType"));
		if (!lhex)
			return lr_error_set(err, EINVAL, "%s: layers[%zu]: no sha256 digest",
					    src->path, i);
		if (!lmt || !media_type_supported(lmt))
			return lr_error_set(err, ENOTSUP,
					    "%s: layers[%zu]: unsupported media type %s", src->path,
					    i, lmt ? lmt : "(none)");
		memcpy(l->blob_hex, lhex, LR_DIGEST_HEX_LEN + 1);
		blob_member(lhex, l->member, sizeof(l->member));
		json_t *size = json_object_get(d, "size");
		l->size = json_is_integer(size) ? json_integer_value(size) : -1;
		snprintf(l->media_type, sizeof(l->media_type), "%s", lmt);
	}
	return take_diff_ids(img, member, err);
}

/* ------------------------------------------------------------ config */

static int strv_from_json(struct lr_strv *v, const json_t *a)
{
	size_t i;
	const json_t *s;
	json_array_foreach(a, i, s)
	{
		if (json_is_string(s) && lr_strv_push(v, json_string_value(s)) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The OCI config's "config" object as labrun's. */
int lr_source_take_config(struct lr_image_config *c, const json_t *doc)
{
	const json_t *cfg = json_object_get(doc, "config");
	if (!json_is_object(cfg))
		return 0;
	const json_t *v;
	if (json_is_array(v = json_object_get(cfg, "Entrypoint"))) {
		c->has_entrypoint = true;
		if (strv_from_json(&c->entrypoint, v) < 0)
			return -ENOMEM;
	}
	if (json_is_array(v = json_object_get(cfg, "Cmd"))) {
		c->has_cmd = true;
		if (strv_from_json(&c->cmd, v) < 0)
			return -ENOMEM;
	}
	size_t i;
	const json_t *s;
	json_array_foreach(json_object_get(cfg, "Env"), i, s)
	{
		const char *e = json_string_value(s);
		if (e && strchr(e, '=') && e[0] != '=' && lr_strv_setenv(&c->env, e) < 0)
			return -ENOMEM;
	}
	const char *wd = json_string_value(json_object_get(cfg, "WorkingDir"));
	if (wd && wd[0] == '/' && !(c->workdir = strdup(wd)))
		return -ENOMEM;
	const char *key;
	json_object_foreach((json_t *)json_object_get(cfg, "Labels"), key, s)
	{
		if (!json_is_string(s) || !*key || strchr(key, '='))
			continue;
		char *kv;
		if (asprintf(&kv, "%s=%s", key, json_string_value(s)) < 0)
			return -ENOMEM;
		int r = lr_strv_setenv(&c->labels, kv);
		free(kv);
		if (r < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------ the argument */

int lr_source_parse(const char *arg, struct lr_source *src)
{
	static const struct {
		const char *prefix;
		enum lr_source_kind kind;
	} ts[] = {{"docker-archive:", LR_SOURCE_DOCKER_ARCHIVE},
		  {"oci-archive:", LR_SOURCE_OCI_ARCHIVE},
		  {"oci:", LR_SOURCE_OCI_DIR}};
	memset(src, 0, sizeof(*src));
	src->spec = arg;
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		size_t n = strlen(ts[i].prefix);
		if (strncmp(arg, ts[i].prefix, n))
			continue;
		src->kind = ts[i].kind;
		if ((size_t)snprintf(src->path, sizeof(src->path), "%s", arg + n) >=
			    sizeof(src->path) ||
		    !src->path[0])
			return -EINVAL;
		if (src->kind == LR_SOURCE_OCI_DIR) {
			/* oci:DIR:TAG, unless DIR itself has the colon. */
			char *colon = strrchr(src->path, ':');
			struct stat st;
			if (colon && stat(src->path, &st) < 0) {
				*colon = '\0';
				src->tag = arg + n + (colon - src->path) + 1;
			}
		}
		return 0;
	}
	return -EINVAL;
}
