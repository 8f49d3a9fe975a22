/* image_source.h - what labrun-image import reads (image_import.c): a
 * docker save archive, an OCI archive or an OCI layout directory, its
 * index, manifest and config, and its blobs as streams hashed on the way.
 *
 * Every byte comes from the user and is untrusted: JSON documents are
 * bounded (LR_SOURCE_MAX_JSON) and checked against their digests, member
 * paths normalised, blobs opened without following links or blocking on
 * a FIFO, layers counted (LR_SOURCE_MAX_LAYERS).  tests/fuzz/fuzz_import.c
 * runs the readers on fuzzed documents.
 */
#ifndef LABRUN_IMAGE_SOURCE_H
#define LABRUN_IMAGE_SOURCE_H

#include <archive.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "imageconfig.h"
#include "layers.h"

#define LR_SOURCE_MAX_JSON (4 * 1024 * 1024) /* index, manifest, config */
#define LR_SOURCE_MAX_LAYERS LR_MAX_LAYERS

/* Where an image is read from: the transports import takes. */
enum lr_source_kind { LR_SOURCE_DOCKER_ARCHIVE, LR_SOURCE_OCI_ARCHIVE, LR_SOURCE_OCI_DIR };

struct lr_source {
	enum lr_source_kind kind;
	char path[PATH_MAX]; /* the archive or the directory */
	const char *tag;     /* oci:DIR:TAG */
	const char *spec;    /* as given, for provenance */
};

/* One layer of the image, as its manifest names it. */
struct lr_source_layer {
	char member[PATH_MAX];			 /* blob: path in the archive, or the file */
	char blob_hex[LR_DIGEST_HEX_LEN + 1];	 /* "" when not known (docker) */
	char diff_id_hex[LR_DIGEST_HEX_LEN + 1]; /* uncompressed digest */
	long long size;				 /* -1 when not known */
	char media_type[128];
};

/* The image: its layers, base first, and its config document. */
struct lr_source_image {
	struct lr_source_layer layers[LR_SOURCE_MAX_LAYERS];
	size_t n;
	json_t *config; /* the image config document */
	char manifest_hex[LR_DIGEST_HEX_LEN + 1];
	char config_hex[LR_DIGEST_HEX_LEN + 1];
};

/* "docker-archive:PATH", "oci-archive:PATH", "oci:DIR[:TAG]" into src
 * (spec and tag point into arg).  -EINVAL for anything else. */
int lr_source_parse(const char *arg, struct lr_source *src);

/* Read the image of src, docker save's manifest.json or an OCI
 * index.json (the manifest of src->tag, or the only one, or "latest"),
 * whatever src->kind, which only says how members are found: an archive's
 * or a directory's.  The config document and each layer's blob, diff_id
 * and size into img (img->config: json_decref() it).  Errors name the
 * source and what is wrong. */
int lr_source_load_docker(const struct lr_source *src, struct lr_source_image *img,
			  struct lr_error *err);
int lr_source_load_oci(const struct lr_source *src, struct lr_source_image *img,
		       struct lr_error *err);

/* "sha256:<64 lower-case hex>" (a JSON string) -> the hex; NULL when
 * it is anything else. */
const char *lr_source_digest_hex(const json_t *v);

/* The OCI config document's "config" object (Entrypoint, Cmd, Env,
 * WorkingDir, Labels) into c; what is malformed is left out.  -ENOMEM. */
int lr_source_take_config(struct lr_image_config *c, const json_t *doc);

struct lr_source_ring;

/* A blob being read: from a file, or from an archive's member. */
struct lr_source_stream {
	int fd;
	struct archive *outer;
	struct lr_sha256 *hash;
	uint64_t bytes;
	char *buf;
	const char *what;
	int error;		     /* errno of a failed read */
	struct lr_source_ring *ring; /* when hashed on a thread */
};

/* Open member (normalised) of src: in the archive, or the file in the
 * directory.  Close with lr_source_stream_close() whatever the result. */
int lr_source_stream_open(const struct lr_source *src, const char *member,
			  struct lr_source_stream *s, struct lr_error *err);
/* Hash the blob on a thread of its own from here on (a layer blob: the
 * main thread decompresses and writes). */
int lr_source_stream_hash_on_thread(struct lr_source_stream *s);
/* libarchive's read callback over the stream (ctx: the stream), for the
 * layer tar inside the blob. */
la_ssize_t lr_source_stream_archive_read(struct archive *a, void *ctx, const void **buf);
/* Read what is left, then check the blob's sha256 (want_hex, unless NULL
 * or "") and size (want_size, unless -1); what names it in errors. */
int lr_source_stream_check(struct lr_source_stream *s, const char *want_hex, long long want_size,
			   const char *what, struct lr_error *err);
void lr_source_stream_close(struct lr_source_stream *s);

#endif
