/* image_import.c - labrun-image import: a container image (docker save,
 * OCI archive, OCI layout directory) into the layer store, one squashfs
 * layer per image layer (DESIGN.md §2).
 *
 * Streaming: each layer blob is read once, straight from the archive (or
 * the blob file, image_source.c), through libarchive into the layer
 * writer, hashed on the way; nothing is extracted and memory does not grow
 * with a layer's size.
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
#include "image_source.h"
#include "image_write.h"
#include "layersrc.h"
#include "log.h"

/* The image read (image_source.h) and the layers made of it. */
struct imported {
	struct lr_source_image src;
	char chain[LR_SOURCE_MAX_LAYERS][LR_DIGEST_HEX_LEN + 1]; /* base first */
	size_t n_chain;
};

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
			const char *id = lr_source_digest_hex(json_object_get(p, "oci-diff-id"));
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
	char paths[LR_SOURCE_MAX_LAYERS + 1][PATH_MAX + 80];
	size_t n;
};

static void note_added(struct added *a, const struct lr_out *o)
{
	if (!o->existed && a->n < LR_SOURCE_MAX_LAYERS + 1)
		snprintf(a->paths[a->n++], sizeof(a->paths[0]), "%s/sha256-%s.sqfs", o->dir,
			 o->hex);
}

/* Convert tar blob l (NULL: no content) into a layer under a temporary
 * name in store: everything but layer.json, whose parent digest may not
 * be known yet (the layer below may still be being digested). */
static int convert_layer(const struct lr_source *src, const struct lr_source_layer *l,
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
	struct lr_source_stream s = {.fd = -1};
	struct archive *inner = NULL;
	char what[PATH_MAX + 64];
	if ((r = lr_build_begin(&b, out->tmp, &bo, err)) < 0 || !l)
		goto out;
	snprintf(what, sizeof(what), "%s: layer %.12s", src->path,
		 l->blob_hex[0] ? l->blob_hex : l->diff_id_hex);
	if ((r = lr_source_stream_open(src, l->member, &s, err)) < 0)
		goto out;
	if ((r = lr_source_stream_hash_on_thread(&s)) < 0) {
		r = lr_error_errno(err, -r, "%s: start a thread", what);
		goto out;
	}
	if (!(inner = lr_src_tar_reader())) {
		r = lr_error_errno(err, ENOMEM, "%s", what);
		goto out;
	}
	if (archive_read_open(inner, &s, NULL, lr_source_stream_archive_read, NULL) != ARCHIVE_OK) {
		r = lr_error_set(err, EIO, "%s: %s", what,
				 s.error ? "read failed" : archive_error_string(inner));
		goto out;
	}
	if ((r = lr_src_tar(b, inner, what, err)) < 0) {
		if (s.error && s.outer)
			lr_error_set(err, EIO, "%s: archive truncated or damaged", what);
		goto out;
	}
	r = lr_source_stream_check(&s, l->blob_hex, l->size, what, err);
out:
	if (inner)
		archive_read_free(inner);
	lr_source_stream_close(&s);
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
	struct lr_source src;
	if (lr_source_parse(argv[optind], &src) < 0)
		return lr_image_usage("import",
				      "source '%s': expected docker-archive:FILE, oci-archive:FILE "
				      "or oci:DIR[:TAG]",
				      argv[optind]);

	struct lr_error err = {0};
	char store[PATH_MAX];
	if (lr_out_store(ctx, store_opt, store, sizeof(store), &err) < 0)
		return lr_image_fail("import", err.msg);
	if (src.kind != LR_SOURCE_OCI_DIR && access(src.path, R_OK) < 0) {
		lr_error_errno(&err, errno, "%s", src.path);
		return lr_image_fail("import", err.msg);
	}
	struct imported *img = calloc(1, sizeof(*img));
	struct added *added = calloc(1, sizeof(*added));
	json_t *prov = NULL;
	char *prov_json = NULL;
	struct publish pub = {0};
	int status = LR_IMAGE_FAILED;
	if (!img || !added) {
		lr_image_fail("import", "out of memory");
		goto out;
	}
	int r = src.kind == LR_SOURCE_DOCKER_ARCHIVE ? lr_source_load_docker(&src, &img->src, &err)
						     : lr_source_load_oci(&src, &img->src, &err);
	if (r < 0) {
		lr_image_fail("import", err.msg);
		goto out;
	}

	/* Layers below one this import converts cannot be in the store over
	 * it: the search stops at the first layer converted. */
	char parent[LR_DIGEST_HEX_LEN + 1] = "";
	size_t first = 0;
	for (; first < img->src.n; first++) {
		struct lr_source_layer *l = &img->src.layers[first];
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
	for (size_t i = first; i < img->src.n; i++) {
		struct lr_source_layer *l = &img->src.layers[i];
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
	if (img->src.n > first) {
		memcpy(parent, pub.out.hex, sizeof(parent));
		memcpy(img->chain[img->n_chain++], parent, sizeof(parent));
	}
	for (size_t i = first; i < img->src.n; i++)
		lr_debug(1, "layer %zu (%.12s): sha256:%s", i + 1, img->src.layers[i].diff_id_hex,
			 img->chain[i]);

	/* The config layer. */
	struct lr_layer_meta meta = {.has_parent = parent[0] != '\0'};
	memcpy(meta.parent_hex, parent, sizeof(parent));
	prov = json_pack("{s:s}", "source", src.spec);
	if (img->src.manifest_hex[0])
		json_object_set_new(prov, "manifest",
				    json_sprintf("sha256:%s", img->src.manifest_hex));
	if (img->src.config_hex[0])
		json_object_set_new(prov, "config", json_sprintf("sha256:%s", img->src.config_hex));
	prov_json = json_dumps(prov, JSON_SORT_KEYS | JSON_COMPACT);
	meta.provenance_json = prov_json;
	if (lr_source_take_config(&meta.config, img->src.config) < 0 || !prov_json) {
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
		json_decref(img->src.config);
	free(img);
	free(added);
	return status;
}
