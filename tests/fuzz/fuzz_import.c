/* fuzz_import.c - libFuzzer/afl++ target for the readers of a container
 * image's JSON in `labrun-image import` (launcher/image_source.c): docker
 * save's manifest.json, an OCI layout's index.json, the image manifest,
 * and the image config (rootfs.diff_ids and the config object that
 * becomes the config layer).  Build and run: tests/fuzz/README.md.
 *
 * The readers are image_source.h's, which import calls as they are: the
 * code fuzzed is exactly the code labrun-image runs.
 *
 * The input is up to three documents separated by a line "%%":
 *   INDEX-OR-MANIFEST.JSON \n%%\n IMAGE-MANIFEST \n%%\n CONFIG
 * written into a scratch directory: when the first is a JSON array, as
 * docker save's manifest.json with the third as config.json; otherwise as
 * an OCI layout's index.json, the second as the blob of its own digest,
 * the third as the blob of its digest.  Blobs are found by digest,
 * which a fuzzer cannot compute, so "@M" in the first document stands for
 * the manifest's "sha256:<hex>" and "@C" in the first two for the
 * config's.  Then lr_source_load_docker() or lr_source_load_oci() reads the
 * directory (for the tag "latest" when the input's length is odd), and
 * lr_source_take_config() takes
 * the config.  Besides memory errors (ASan, UBSan),
 * it aborts when:
 *  - a failure has no message, or a success gives layers without a
 *    64-hex diff_id, or more layers than LR_SOURCE_MAX_LAYERS;
 *  - the config layer's layer.json that import would write from the image
 *    config (lr_layer_meta_json()) is refused by the reader every labrun
 *    uses (lr_layer_meta_parse()), or reads back as something else: an
 *    import must never make an image that labrun then refuses to run.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../launcher/image_source.h"
#include "cleanup.h"
#include "imageconfig.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (256 * 1024)
#define FUZZ_SEP "\n%%\n"

/* A broken promise: say which, then abort (afl and libFuzzer see a crash). */
static void fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_import.c:%d: check failed: %s\n", line, what);
	abort();
}
#define check(ok) ((ok) ? (void)0 : fail(#ok, __LINE__))

static char dir[64];

static void write_file(const char *name, const char *buf, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(fd >= 0);
	check(len == 0 || write(fd, buf, len) == (ssize_t)len);
	close(fd);
}

static void sha256_hex(const char *buf, size_t len, char hex[LR_DIGEST_HEX_LEN + 1])
{
	struct lr_sha256 *h = lr_sha256_new();
	check(h != NULL);
	lr_sha256_update(h, buf, len);
	check(lr_sha256_final(h, hex) == 0);
	lr_sha256_free(h);
}

/* buf with every "@M" / "@C" replaced by "sha256:<hex>"; malloc'd. */
static char *substitute(const char *buf, size_t len, const char *m_hex, const char *c_hex,
			size_t *out_len)
{
	char *out = malloc(len * 36 + 1); /* 2 bytes become 71 at most */
	check(out != NULL);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		const char *hex = NULL;
		if (buf[i] == '@' && i + 1 < len)
			hex = buf[i + 1] == 'M' ? m_hex : buf[i + 1] == 'C' ? c_hex : NULL;
		if (hex) {
			o += (size_t)sprintf(out + o, "sha256:%s", hex);
			i++;
		} else {
			out[o++] = buf[i];
		}
	}
	*out_len = o;
	return out;
}

static void split(const char *data, size_t size, const char *part[3], size_t len[3])
{
	size_t n = 0, start = 0;
	for (; n < 2;) {
		const char *sep = memmem(data + start, size - start, FUZZ_SEP, strlen(FUZZ_SEP));
		if (!sep)
			break;
		part[n] = data + start;
		len[n] = (size_t)(sep - (data + start));
		n++;
		start = (size_t)(sep - data) + strlen(FUZZ_SEP);
	}
	part[n] = data + start;
	len[n] = size - start;
	for (n++; n < 3; n++) {
		part[n] = "";
		len[n] = 0;
	}
}

static void check_strv(const struct lr_strv *a, const struct lr_strv *b)
{
	check(a->n == b->n);
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i])) {
			fprintf(stderr, "fuzz_import: written \"%s\", read back \"%s\"\n", a->v[i],
				b->v[i]);
			check(!"a config entry reads back as it was written");
		}
}

/* Labels are a map: the same entries, in any order. */
static void check_labels(const struct lr_strv *a, const struct lr_strv *b)
{
	check(a->n == b->n);
	for (size_t i = 0; i < a->n; i++) {
		size_t found = 0;
		for (size_t j = 0; j < b->n; j++)
			found += !strcmp(a->v[i], b->v[j]);
		if (found != 1)
			fprintf(stderr, "fuzz_import: label \"%s\" read back %zu times\n", a->v[i],
				found);
		check(found == 1);
	}
}

/* The config layer import would write, read back as labrun reads it. */
static void check_config_layer(const json_t *config)
{
	struct lr_layer_meta meta = {0};
	if (lr_source_take_config(&meta.config, config) < 0) {
		lr_image_config_free(&meta.config);
		return; /* out of memory */
	}
	meta.provenance_json = "{\"source\": \"oci:fuzz\"}";
	struct lr_error err = {0};
	char *json = lr_layer_meta_json(&meta, &err);
	if (!json) {
		/* Refusing to write it is fine, with a message. */
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "config layer: %s\n", err.msg);
		check(err.msg[0] != '\0');
		lr_image_config_free(&meta.config);
		return;
	}
	struct lr_layer_meta back;
	int r = lr_layer_meta_parse(&back, json, strlen(json), &err);
	if (r < 0) {
		fprintf(stderr, "fuzz_import: layer.json written by import is refused: %s\n",
			err.msg);
		abort();
	}
	const struct lr_image_config *a = &meta.config, *b = &back.config;
	check(a->has_entrypoint == b->has_entrypoint && a->has_cmd == b->has_cmd);
	check_strv(&a->entrypoint, &b->entrypoint);
	check_strv(&a->cmd, &b->cmd);
	check_strv(&a->env, &b->env);
	check_labels(&a->labels, &b->labels);
	check(!a->workdir == !b->workdir && (!a->workdir || !strcmp(a->workdir, b->workdir)));
	lr_layer_meta_free(&back);
	free(json);
	lr_image_config_free(&meta.config);
}

static void check_image(const struct lr_source_image *img)
{
	check(img->n <= LR_SOURCE_MAX_LAYERS);
	for (size_t i = 0; i < img->n; i++) {
		const struct lr_source_layer *l = &img->layers[i];
		check(strlen(l->diff_id_hex) == LR_DIGEST_HEX_LEN &&
		      strspn(l->diff_id_hex, "0123456789abcdef") == LR_DIGEST_HEX_LEN);
		check(l->member[0] != '\0');
	}
	check(img->config != NULL);
	check_config_layer(img->config);
}

static void load(const struct lr_source *src, bool docker)
{
	struct lr_source_image *img = calloc(1, sizeof(*img));
	check(img != NULL);
	struct lr_error err = {0};
	int r = docker ? lr_source_load_docker(src, img, &err) : lr_source_load_oci(src, img, &err);
	/* For triage: what import would say of this input. */
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s: %s\n", docker ? "docker" : "oci", r < 0 ? err.msg : "read");
	if (r < 0)
		check(err.msg[0] != '\0');
	else
		check_image(img);
	json_decref(img->config);
	free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/fuzz-import.XXXXXX",
			 tmp && strlen(tmp) < 32 ? tmp : "/tmp");
		check(mkdtemp(dir) != NULL);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/blobs", dir);
		check(mkdir(path, 0700) == 0);
		snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
		check(mkdir(path, 0700) == 0);
	}
	const char *part[3];
	size_t len[3];
	split((const char *)data, size, part, len);

	char c_hex[LR_DIGEST_HEX_LEN + 1], m_hex[LR_DIGEST_HEX_LEN + 1];
	sha256_hex(part[2], len[2], c_hex);
	size_t mlen, ilen;
	char *manifest = substitute(part[1], len[1], "", c_hex, &mlen);
	sha256_hex(manifest, mlen, m_hex);
	char *index = substitute(part[0], len[0], m_hex, c_hex, &ilen);

	/* docker save's manifest.json is an array, an OCI index an object:
	 * read the first document the way it claims to be, which halves the
	 * work per input.  An odd length asks for the tag "latest". */
	size_t lead = strspn(index, " \t\r\n");
	bool docker = lead < ilen && index[lead] == '[';
	struct lr_source src = {
		.kind = LR_SOURCE_OCI_DIR, .spec = "fuzz", .tag = size % 2 ? "latest" : NULL};
	snprintf(src.path, sizeof(src.path), "%s", dir);
	char name[PATH_MAX];
	if (docker) {
		write_file("manifest.json", index, ilen);
		write_file("config.json", part[2], len[2]);
		load(&src, true);
	} else {
		write_file("index.json", index, ilen);
		snprintf(name, sizeof(name), "blobs/sha256/%s", c_hex);
		write_file(name, part[2], len[2]);
		snprintf(name, sizeof(name), "blobs/sha256/%s", m_hex);
		write_file(name, manifest, mlen);
		load(&src, false);
		snprintf(name, sizeof(name), "%s/blobs/sha256/%s", dir, m_hex);
		unlink(name);
		snprintf(name, sizeof(name), "%s/blobs/sha256/%s", dir, c_hex);
		unlink(name);
	}
	free(manifest);
	free(index);
	return 0;
}
