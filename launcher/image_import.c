/* image_import.c - labrun-image import: a container image (docker save,
 * OCI archive, OCI layout directory) into the layer store, one squashfs
 * layer per image layer (DESIGN.md §2).
 *
 * Streaming: each layer blob is read once, straight from the archive (or
 * the blob file), through libarchive into the layer writer, hashed on the
 * way; nothing is extracted and memory does not grow with a layer's size.
 * A tar archive is searched again for each blob it holds (headers only:
 * libarchive seeks over the data of the others).
 *
 * Content layers carry only their parent and the blob's uncompressed
 * digest (the image's diff_id) in layer.json, so the same layer imported
 * from any image, in any form, is the same file and is stored once; a
 * layer whose parent and diff_id the store already holds is not even
 * converted again.  The image's config (Env, Entrypoint, Cmd, WorkingDir,
 * Labels) and where it came from go into a small layer of their own on
 * top, as `labrun-image config` makes them.
 *
 * Device nodes, set-id bits and file capabilities are dropped unless
 * --keep-special (layerbuild.h says why).  So that a layer converted one
 * way is never reused for an import asked the other way, layer.json
 * records which: "special-files" is "none" (the blob had none: the same
 * layer either way), "dropped" or "kept".  A layer without it (made before
 * labrun-image checked) is converted again.  A "dropped" layer also records
 * what ("special-dropped": counts and a path of each kind), so that an
 * import that finds it in the store says the same line as the one that
 * made it.
 *
 * On any failure the layers this import added are removed again: the
 * store is left as it was.
 */
#include "build-config.h"

#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "image_write.h"
#include "layersrc.h"
#include "log.h"

#define MAX_JSON_BYTES (4 * 1024 * 1024) /* index, manifest, config */
#define MAX_IMAGE_LAYERS LR_MAX_LAYERS
#define STREAM_CHUNK (256 * 1024)

enum transport { DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR };

struct source {
	enum transport t;
	char path[PATH_MAX]; /* the archive or the directory */
	const char *tag;     /* oci:DIR:TAG */
	const char *spec;    /* as given, for provenance */
};

struct image_layer {
	char member[PATH_MAX];			 /* blob: path in the archive, or the file */
	char blob_hex[LR_DIGEST_HEX_LEN + 1];	 /* "" when not known (docker) */
	char diff_id_hex[LR_DIGEST_HEX_LEN + 1]; /* uncompressed digest */
	long long size;				 /* -1 when not known */
	char media_type[128];
};

struct image {
	struct image_layer layers[MAX_IMAGE_LAYERS];
	size_t n;
	json_t *config; /* the image config document */
	char manifest_hex[LR_DIGEST_HEX_LEN + 1];
	char config_hex[LR_DIGEST_HEX_LEN + 1];
	char chain[MAX_IMAGE_LAYERS][LR_DIGEST_HEX_LEN + 1]; /* the layers made, base first */
	size_t n_chain;
};

/* ------------------------------------------------------------ blobs */

/* A layer blob is hashed on a thread of its own while the main thread
 * parses and compresses it: on two cores, sha256 of a few hundred MB in
 * line was the largest cost import had over tar2sqfs.  The main thread
 * reads into a ring of buffers; the hasher takes them in order.  A buffer
 * is reused only when hashed, and RING_SLOTS reads later, when libarchive
 * (which may look at the last block it was given until it asks for the
 * next) is done with it too. */
#define RING_SLOTS 4

struct ring {
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

/* A blob being read: from a file, or from an archive's member. */
struct stream {
	int fd;
	struct archive *outer;
	struct lr_sha256 *hash;
	uint64_t bytes;
	char *buf;
	const char *what;
	int error;	   /* errno of a failed read */
	struct ring *ring; /* when hashed on a thread */
};

static void *ring_hasher(void *arg)
{
	struct ring *r = arg;
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
static void ring_stop(struct ring *r)
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

static void ring_free(struct ring *r)
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

static int ring_start(struct stream *s)
{
	struct ring *r = calloc(1, sizeof(*r));
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

static void stream_close(struct stream *s)
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
static int stream_open(const struct source *src, const char *member, struct stream *s,
		       struct lr_error *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->what = member;
	if (!(s->hash = lr_sha256_new()) || !(s->buf = malloc(STREAM_CHUNK)))
		return lr_error_errno(err, ENOMEM, "%s", member);
	if (src->t == OCI_DIR) {
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
static long raw_read(struct stream *s, void *buf, size_t len)
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
static long stream_next(struct stream *s, const void **out)
{
	struct ring *r = s->ring;
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

static long stream_read(struct stream *s, void *buf, size_t len)
{
	long n = raw_read(s, buf, len);
	if (n > 0)
		lr_sha256_update(s->hash, buf, (size_t)n);
	return n;
}

/* libarchive's read callback for the layer tar inside the blob. */
static la_ssize_t inner_read(struct archive *a, void *ctx, const void **buf)
{
	(void)a;
	long n = stream_next(ctx, buf);
	return n < 0 ? -1 : (la_ssize_t)n;
}

/* Read what is left (tar padding after the end blocks), then check the
 * blob's digest and size. */
static int stream_check(struct stream *s, const char *want_hex, long long want_size,
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
static int read_small(const struct source *src, const char *member, const char *want_hex,
		      char **out, size_t *len, struct lr_error *err)
{
	struct stream s;
	int r = stream_open(src, member, &s, err);
	if (r < 0) {
		stream_close(&s);
		return r;
	}
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf) {
			stream_close(&s);
			return lr_error_errno(err, ENOMEM, "%s", member);
		}
		long n = stream_read(&s, buf + used, cap - used);
		if (n < 0) {
			free(buf);
			stream_close(&s);
			return lr_error_set(err, EIO, "%s: %s: read failed", src->path, member);
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == cap) {
			if (cap >= MAX_JSON_BYTES) {
				free(buf);
				stream_close(&s);
				return lr_error_set(err, EFBIG, "%s: %s: larger than %d bytes",
						    src->path, member, MAX_JSON_BYTES);
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
	r = stream_check(&s, want_hex, -1, what, err);
	stream_close(&s);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = used;
	return 0;
}

static json_t *read_json(const struct source *src, const char *member, const char *want_hex,
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

/* "sha256:<hex>" -> hex; NULL when malformed. */
static const char *digest_hex(const json_t *v)
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
static int take_diff_ids(struct image *img, const char *what, struct lr_error *err)
{
	json_t *ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	if (!json_is_array(ids) || json_array_size(ids) != img->n)
		return lr_error_set(err, EINVAL,
				    "%s: rootfs.diff_ids: expected one digest per layer (%zu)",
				    what, img->n);
	for (size_t i = 0; i < img->n; i++) {
		const char *hex = digest_hex(json_array_get(ids, i));
		if (!hex)
			return lr_error_set(err, EINVAL,
					    "%s: rootfs.diff_ids[%zu]: not a sha256 digest", what,
					    i);
		memcpy(img->layers[i].diff_id_hex, hex, LR_DIGEST_HEX_LEN + 1);
	}
	return 0;
}

static int load_docker(const struct source *src, struct image *img, struct lr_error *err)
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
	if (json_array_size(layers) > MAX_IMAGE_LAYERS)
		return lr_error_set(err, E2BIG, "%s: more than %d layers", src->path,
				    MAX_IMAGE_LAYERS);
	char member[PATH_MAX];
	snprintf(member, sizeof(member), "%s", config);
	if (lr_path_normalise(member) < 0)
		return lr_error_set(err, EINVAL, "%s: manifest.json: bad Config path", src->path);
	if (!(img->config = read_json(src, member, NULL, err)))
		return -EINVAL;
	for (size_t i = 0; i < json_array_size(layers); i++) {
		struct image_layer *l = &img->layers[img->n++];
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

static int load_oci(const struct source *src, struct image *img, struct lr_error *err)
{
	json_auto_t *index = read_json(src, "index.json", NULL, err);
	if (!index)
		return -EINVAL;
	const json_t *desc = pick_manifest(index, src->tag, src->path, err);
	if (!desc)
		return -ENOENT;
	const char *hex = digest_hex(json_object_get(desc, "digest"));
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
	const char *cfg =
		digest_hex(json_object_get(json_object_get(manifest, "config"), "digest"));
	const json_t *layers = json_object_get(manifest, "layers");
	if (!cfg || !json_is_array(layers))
		return lr_error_set(err, EINVAL, "%s: manifest %.12s: no config or layers",
				    src->path, hex);
	if (json_array_size(layers) > MAX_IMAGE_LAYERS)
		return lr_error_set(err, E2BIG, "%s: more than %d layers", src->path,
				    MAX_IMAGE_LAYERS);
	blob_member(cfg, member, sizeof(member));
	if (!(img->config = read_json(src, member, cfg, err)))
		return -EINVAL;
	memcpy(img->config_hex, cfg, LR_DIGEST_HEX_LEN + 1);
	for (size_t i = 0; i < json_array_size(layers); i++) {
		const json_t *d = json_array_get(layers, i);
		struct image_layer *l = &img->layers[img->n++];
		const char *lhex = digest_hex(json_object_get(d, "digest"));
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
static int take_config(struct lr_image_config *c, const json_t *doc)
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

/* ------------------------------------------------------------ the store */

/* layer.json's "special-files" (above). */
static const char *special_files(const struct lr_build_special *s, bool keep)
{
	if (!s->devices && !s->setid && !s->caps)
		return "none";
	return keep ? "kept" : "dropped";
}

/* The kinds of struct lr_build_special, as layer.json names them. */
#define SPECIAL_KINDS(s)                                                                           \
	{                                                                                          \
		{"devices", &(s)->devices, (s)->device_example},                                   \
			{"setid", &(s)->setid, (s)->setid_example},                                \
			{"caps", &(s)->caps, (s)->caps_example},                                   \
	}
struct special_kind {
	const char *name;
	uint64_t *n;
	char *example;
};

/* A content layer's provenance (malloc'd JSON): its diff_id, and what
 * became of its special files (above). */
static char *layer_provenance(const char *diff_id, struct lr_build_special *sp, bool keep)
{
	json_auto_t *p = json_pack("{s:s+,s:s}", "oci-diff-id", "sha256:", diff_id, "special-files",
				   special_files(sp, keep));
	if (p && !keep && strcmp(special_files(sp, keep), "none")) {
		json_t *d = json_object();
		const struct special_kind kinds[] = SPECIAL_KINDS(sp);
		for (size_t i = 0; d && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			char key[32];
			json_object_set_new(d, kinds[i].name,
					    json_integer((json_int_t)*kinds[i].n));
			/* A path that is not UTF-8 cannot be a JSON string: left out. */
			json_t *ex = json_string(kinds[i].example);
			snprintf(key, sizeof(key), "%s-example", kinds[i].name);
			if (ex)
				json_object_set_new(d, key, ex);
		}
		json_object_set_new(p, "special-dropped", d);
	}
	return p ? json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
}

/* What a stored layer's provenance p says was dropped, into sp. */
static void stored_special(const json_t *p, struct lr_build_special *sp)
{
	memset(sp, 0, sizeof(*sp));
	const json_t *d = json_object_get(p, "special-dropped");
	const struct special_kind kinds[] = SPECIAL_KINDS(sp);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char key[32];
		json_int_t n = json_integer_value(json_object_get(d, kinds[i].name));
		*kinds[i].n = n > 0 ? (uint64_t)n : 0;
		snprintf(key, sizeof(key), "%s-example", kinds[i].name);
		const char *ex = json_string_value(json_object_get(d, key));
		snprintf(kinds[i].example, LR_BUILD_EXAMPLE_MAX, "%s", ex ? ex : "");
	}
}

/* A layer of the store made from diff_id over parent (hex, "" for none),
 * with special files as keep asks: found by its layer.json.  Returns true
 * and sets out, and *sp to what its conversion dropped. */
static bool stored_already(const char *store, const char *parent, const char *diff_id, bool keep,
			   char out[LR_DIGEST_HEX_LEN + 1], struct lr_build_special *sp)
{
	DIR *d = opendir(store);
	if (!d)
		return false;
	bool found = false;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		char name_hex[LR_DIGEST_HEX_LEN + 1];
		if (!lr_layer_name_hex(de->d_name, name_hex))
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", store, de->d_name);
		struct lr_error err = {0};
		struct lr_layer l = {.fd = lr_layer_open(path, &err), .path = strdup(path)};
		if (l.fd >= 0 && l.path && lr_layer_load(&l, &err) == 0 &&
		    l.meta.has_parent == (*parent != '\0') &&
		    (!*parent || !strcmp(l.meta.parent_hex, parent)) && l.meta.provenance_json) {
			json_auto_t *p = json_loads(l.meta.provenance_json, 0, NULL);
			const char *id = digest_hex(json_object_get(p, "oci-diff-id"));
			const char *how = json_string_value(json_object_get(p, "special-files"));
			if (id && !strcmp(id, diff_id) && how &&
			    (!strcmp(how, "none") || !strcmp(how, keep ? "kept" : "dropped"))) {
				memcpy(out, name_hex, sizeof(name_hex));
				stored_special(p, sp);
				found = true;
			}
		}
		lr_layer_free(&l);
	}
	closedir(d);
	return found;
}

/* Layers this import added, removed again on failure. */
struct added {
	char paths[MAX_IMAGE_LAYERS + 1][PATH_MAX + 80];
	size_t n;
};

static void note_added(struct added *a, const struct lr_out *o)
{
	if (!o->existed && a->n < MAX_IMAGE_LAYERS + 1)
		snprintf(a->paths[a->n++], sizeof(a->paths[0]), "%s/sha256-%s.sqfs", o->dir,
			 o->hex);
}

/* Convert tar blob l (NULL: no content) into a layer under a temporary
 * name in store: everything but layer.json, whose parent digest may not
 * be known yet (the layer below may still be being digested). */
static int convert_layer(const struct source *src, const struct image_layer *l,
			 const struct lr_sqw_options *opts, bool keep_special, const char *store,
			 struct lr_out *out, struct lr_build **bp, struct lr_error *err)
{
	*bp = NULL;
	int r = lr_out_begin(out, NULL, store, err);
	if (r < 0)
		return r;
	struct lr_build_options bo = {
		.sqw = *opts, .input_is_diff = true, .keep_special = keep_special};
	struct lr_build *b = NULL;
	struct stream s = {.fd = -1};
	struct archive *inner = NULL;
	char what[PATH_MAX + 64];
	if ((r = lr_build_begin(&b, out->tmp, &bo, err)) < 0 || !l)
		goto out;
	snprintf(what, sizeof(what), "%s: layer %.12s", src->path,
		 l->blob_hex[0] ? l->blob_hex : l->diff_id_hex);
	if ((r = stream_open(src, l->member, &s, err)) < 0)
		goto out;
	if ((r = ring_start(&s)) < 0) {
		r = lr_error_errno(err, -r, "%s: start a thread", what);
		goto out;
	}
	if (!(inner = lr_src_tar_reader())) {
		r = lr_error_errno(err, ENOMEM, "%s", what);
		goto out;
	}
	if (archive_read_open(inner, &s, NULL, inner_read, NULL) != ARCHIVE_OK) {
		r = lr_error_set(err, EIO, "%s: %s", what,
				 s.error ? "read failed" : archive_error_string(inner));
		goto out;
	}
	if ((r = lr_src_tar(b, inner, what, err)) < 0) {
		if (s.error && s.outer)
			lr_error_set(err, EIO, "%s: archive truncated or damaged", what);
		goto out;
	}
	r = stream_check(&s, l->blob_hex, l->size, what, err);
out:
	if (inner)
		archive_read_free(inner);
	stream_close(&s);
	if (r < 0) {
		lr_build_free(b);
		lr_out_abort(out);
		return r;
	}
	*bp = b;
	return 0;
}

/* Write the tables and layer.json (meta) of a converted layer. */
static int finish_layer(struct lr_build *b, const struct lr_layer_meta *meta, struct lr_out *out,
			struct lr_error *err)
{
	_cleanup_free_ char *json = lr_layer_meta_json(meta, err);
	int r = json ? lr_build_finish(b, json, err) : -ENOMEM;
	lr_build_free(b);
	if (r < 0)
		lr_out_abort(out);
	return r;
}

/* A finished layer being digested, synced and renamed on a thread of its
 * own while the next layer converts (its digest is the next layer's
 * parent, needed only when that one is finished). */
struct publish {
	pthread_t thread;
	bool running;
	struct lr_out out;
	struct lr_error err;
	int r;
};

static void *publish_thread(void *arg)
{
	struct publish *p = arg;
	p->r = lr_out_publish(&p->out, &p->err);
	return NULL;
}

static int publish_start(struct publish *p, const struct lr_out *out, struct lr_error *err)
{
	p->out = *out;
	p->err = (struct lr_error){0};
	int e = pthread_create(&p->thread, NULL, publish_thread, p);
	if (e) {
		p->out.tmp[0] = '\0';
		return lr_error_errno(err, e, "start a thread");
	}
	p->running = true;
	return 0;
}

/* Wait for it; 0 with its digest in p->out.hex, or the error in err. */
static int publish_wait(struct publish *p, struct added *added, struct lr_error *err)
{
	if (!p->running)
		return 0;
	pthread_join(p->thread, NULL);
	p->running = false;
	if (p->r < 0) {
		*err = p->err;
		lr_out_abort(&p->out);
		return p->r;
	}
	lr_out_done(&p->out);
	note_added(added, &p->out);
	return 0;
}

/* ------------------------------------------------------------ command */

static int parse_source(const char *arg, struct source *src)
{
	static const struct {
		const char *prefix;
		enum transport t;
	} ts[] = {{"docker-archive:", DOCKER_ARCHIVE},
		  {"oci-archive:", OCI_ARCHIVE},
		  {"oci:", OCI_DIR}};
	memset(src, 0, sizeof(*src));
	src->spec = arg;
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		size_t n = strlen(ts[i].prefix);
		if (strncmp(arg, ts[i].prefix, n))
			continue;
		src->t = ts[i].t;
		if ((size_t)snprintf(src->path, sizeof(src->path), "%s", arg + n) >=
			    sizeof(src->path) ||
		    !src->path[0])
			return -EINVAL;
		if (src->t == OCI_DIR) {
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

int lr_image_import(const struct lr_image_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		LR_LAYER_LONG_OPTIONS,
		{"store", required_argument, NULL, OPT_STORE},
		{"output", required_argument, NULL, 'o'},
		LR_KEEP_SPECIAL_LONG_OPTION,
		{NULL, 0, NULL, 0},
	};
	struct lr_sqw_options layer = {.compression = LR_DEFAULT_COMPRESSION,
				       .block_size = LR_DEFAULT_BLOCK_SIZE};
	const char *store_opt = NULL, *out_path = NULL;
	bool keep_special = false;
	struct lr_build_special special = {0}; /* over all the layers */
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:o:", opts, NULL)) != -1) {
		struct lr_error err = {0};
		int r = lr_layer_option(&layer, c, optarg, &err);
		if (r < 0)
			return lr_image_usage("import", "%s", err.msg);
		if (r > 0)
			continue;
		switch (c) {
		case OPT_STORE: store_opt = optarg; break;
		case OPT_KEEP_SPECIAL: keep_special = true; break;
		case 'o': out_path = optarg; break;
		case ':':
			return lr_image_usage("import", "option '%s' needs a value",
					      argv[optind - 1]);
		default: return lr_image_usage("import", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return lr_image_usage("import", "needs exactly one SOURCE");
	struct source src;
	if (parse_source(argv[optind], &src) < 0)
		return lr_image_usage("import",
				      "source '%s': expected docker-archive:FILE, oci-archive:FILE "
				      "or oci:DIR[:TAG]",
				      argv[optind]);

	struct lr_error err = {0};
	char store[PATH_MAX];
	if (lr_out_store(ctx, store_opt, store, sizeof(store), &err) < 0)
		return lr_image_fail("import", err.msg);
	if (src.t != OCI_DIR && access(src.path, R_OK) < 0) {
		lr_error_errno(&err, errno, "%s", src.path);
		return lr_image_fail("import", err.msg);
	}
	struct image *img = calloc(1, sizeof(*img));
	struct added *added = calloc(1, sizeof(*added));
	json_t *prov = NULL;
	char *prov_json = NULL;
	struct publish pub = {0};
	int status = LR_IMAGE_FAILED;
	if (!img || !added) {
		lr_image_fail("import", "out of memory");
		goto out;
	}
	int r = src.t == DOCKER_ARCHIVE ? load_docker(&src, img, &err) : load_oci(&src, img, &err);
	if (r < 0) {
		lr_image_fail("import", err.msg);
		goto out;
	}

	/* Layers below one this import converts cannot be in the store over
	 * it: the search stops at the first layer converted. */
	char parent[LR_DIGEST_HEX_LEN + 1] = "";
	size_t first = 0;
	for (; first < img->n; first++) {
		struct image_layer *l = &img->layers[first];
		char hex[LR_DIGEST_HEX_LEN + 1];
		struct lr_build_special sp;
		if (!stored_already(store, parent, l->diff_id_hex, keep_special, hex, &sp))
			break;
		lr_build_special_add(&special, &sp);
		lr_debug(1, "layer %zu (%.12s): in the store as sha256:%.12s", first + 1,
			 l->diff_id_hex, hex);
		memcpy(parent, hex, sizeof(parent));
		memcpy(img->chain[img->n_chain++], hex, sizeof(hex));
	}
	for (size_t i = first; i < img->n; i++) {
		struct image_layer *l = &img->layers[i];
		struct lr_out o;
		struct lr_build *b;
		if (convert_layer(&src, l, &layer, keep_special, store, &o, &b, &err) < 0) {
			lr_image_fail("import", err.msg);
			goto out;
		}
		/* The layer below's digest, for this one's layer.json. */
		if (publish_wait(&pub, added, &err) < 0) {
			lr_build_free(b);
			lr_out_abort(&o);
			lr_image_fail("import", err.msg);
			goto out;
		}
		if (i > first) {
			memcpy(parent, pub.out.hex, sizeof(parent));
			memcpy(img->chain[img->n_chain++], parent, sizeof(parent));
		}
		struct lr_layer_meta meta = {.has_parent = parent[0] != '\0'};
		memcpy(meta.parent_hex, parent, sizeof(parent));
		struct lr_build_special sp;
		lr_build_special(b, &sp);
		lr_build_special_add(&special, &sp);
		_cleanup_free_ char *diff_prov =
			layer_provenance(l->diff_id_hex, &sp, keep_special);
		meta.provenance_json = diff_prov;
		if (!diff_prov) {
			lr_build_free(b);
			lr_out_abort(&o);
			lr_image_fail("import", "out of memory");
			goto out;
		}
		if (finish_layer(b, &meta, &o, &err) < 0 || publish_start(&pub, &o, &err) < 0) {
			lr_out_abort(&o);
			lr_image_fail("import", err.msg);
			goto out;
		}
	}
	if (publish_wait(&pub, added, &err) < 0) {
		lr_image_fail("import", err.msg);
		goto out;
	}
	if (img->n > first) {
		memcpy(parent, pub.out.hex, sizeof(parent));
		memcpy(img->chain[img->n_chain++], parent, sizeof(parent));
	}
	for (size_t i = first; i < img->n; i++)
		lr_debug(1, "layer %zu (%.12s): sha256:%s", i + 1, img->layers[i].diff_id_hex,
			 img->chain[i]);

	/* The config layer. */
	struct lr_layer_meta meta = {.has_parent = parent[0] != '\0'};
	memcpy(meta.parent_hex, parent, sizeof(parent));
	prov = json_pack("{s:s}", "source", src.spec);
	if (img->manifest_hex[0])
		json_object_set_new(prov, "manifest", json_sprintf("sha256:%s", img->manifest_hex));
	if (img->config_hex[0])
		json_object_set_new(prov, "config", json_sprintf("sha256:%s", img->config_hex));
	prov_json = json_dumps(prov, JSON_SORT_KEYS | JSON_COMPACT);
	meta.provenance_json = prov_json;
	if (take_config(&meta.config, img->config) < 0 || !prov_json) {
		lr_image_config_free(&meta.config);
		lr_image_fail("import", "out of memory");
		goto out;
	}
	struct lr_out o;
	struct lr_build *b;
	r = convert_layer(&src, NULL, &layer, keep_special, store, &o, &b, &err);
	if (r == 0 && (r = finish_layer(b, &meta, &o, &err)) == 0 &&
	    (r = lr_out_commit(&o, &err)) < 0)
		lr_out_abort(&o);
	lr_image_config_free(&meta.config);
	if (r < 0) {
		lr_image_fail("import", err.msg);
		goto out;
	}
	note_added(added, &o);
	if (out_path) {
		char from[PATH_MAX * 2];
		snprintf(from, sizeof(from), "%s/sha256-%s.sqfs", o.dir, o.hex);
		/* -o OUT: the top layer under the user's name. */
		bool copied;
		if ((r = lr_link_or_copy(from, out_path, &copied)) < 0) {
			lr_error_errno(&err, -r, "%s", out_path);
			lr_image_fail("import", err.msg);
			goto out;
		}
		/* labrun OUT finds the layers below through labrun.conf's
		 * stores; when this store is not one of them, beside OUT. */
		for (size_t i = 0; i < img->n_chain; i++) {
			snprintf(from, sizeof(from), "%s/sha256-%s.sqfs", store, img->chain[i]);
			if (lr_parent_reachable(ctx, from, img->chain[i], out_path, &err) < 0) {
				lr_image_fail("import", err.msg);
				goto out;
			}
		}
	}
	lr_special_report("import", &special, keep_special);
	printf("sha256:%s\n", o.hex);
	status = LR_IMAGE_OK;
	added->n = 0;
out:
	if (pub.running) {
		struct lr_error ignored;
		publish_wait(&pub, added, &ignored);
	}
	if (added)
		for (size_t i = 0; i < added->n; i++)
			unlink(added->paths[i]);
	json_decref(prov);
	free(prov_json);
	if (img)
		json_decref(img->config);
	free(img);
	free(added);
	return status;
}
