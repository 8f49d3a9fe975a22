/* fuzz_layerjson.c - libFuzzer target for /.labrun/layer.json
 * (lib/image/imageconfig.c).  Build and run: tests/fuzz/README.md.
 *
 * layer.json comes from image content, the most hostile input labrun
 * reads (notes/security.md: fuzz it).  Besides memory errors (ASan,
 * UBSan), this target aborts when a promise of imageconfig.h breaks:
 *  - on success every vector is NULL-terminated, within its limit, made of
 *    strings without NUL bytes, env and labels are "K=V" with unique keys;
 *  - merging a layer over itself changes nothing (top wins, by key), and
 *    merging never exceeds the limits;
 *  - on failure there is a message naming what was wrong.
 */
#include "build-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imageconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_strv(const struct lr_strv *v, size_t max, int key_value)
{
	check(v->n <= max);
	check(v->n == 0 || v->v != NULL);
	if (v->v)
		check(v->v[v->n] == NULL);
	for (size_t i = 0; i < v->n; i++) {
		check(strlen(v->v[i]) <= 2 * (size_t)LR_IMAGECONFIG_MAX_STRING + 1);
		if (!key_value)
			continue;
		const char *eq = strchr(v->v[i], '=');
		check(eq && eq != v->v[i]);
		/* Keys are unique: the first entry with this key is this one. */
		size_t klen = (size_t)(eq - v->v[i]);
		for (size_t j = 0; j < i; j++)
			check(strncmp(v->v[j], v->v[i], klen + 1) != 0);
	}
}

static void check_config(const struct lr_image_config *c)
{
	check_strv(&c->entrypoint, LR_IMAGECONFIG_MAX_ARGS, 0);
	check_strv(&c->cmd, LR_IMAGECONFIG_MAX_ARGS, 0);
	check(!c->has_entrypoint || c->entrypoint.v != NULL);
	check(!c->has_cmd || c->cmd.v != NULL);
	check_strv(&c->env, LR_IMAGECONFIG_MAX_ENV, 1);
	check_strv(&c->labels, LR_IMAGECONFIG_MAX_LABELS, 1);
	check(c->workdir == NULL || c->workdir[0] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lr_layer_meta m;
	struct lr_error err = {0};
	if (lr_layer_meta_parse(&m, (const char *)data, size, &err) < 0) {
		check(err.msg[0] != '\0' && err.code != 0);
		return 0;
	}
	if (m.has_parent)
		check(strlen(m.parent_hex) == LR_DIGEST_HEX_LEN &&
		      strspn(m.parent_hex, "0123456789abcdef") == LR_DIGEST_HEX_LEN);
	check_config(&m.config);

	/* Base to top, as layers.c does: once over nothing, once over itself. */
	struct lr_image_config acc;
	memset(&acc, 0, sizeof(acc));
	if (lr_image_config_merge(&acc, &m.config, &err) == 0) {
		check_config(&acc);
		size_t n_env = acc.env.n, n_labels = acc.labels.n;
		check(lr_image_config_merge(&acc, &m.config, &err) == 0);
		check_config(&acc);
		check(acc.env.n == n_env && acc.labels.n == n_labels);
	}
	lr_image_config_free(&acc);
	lr_layer_meta_free(&m);
	return 0;
}
