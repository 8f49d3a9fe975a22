/* imageconfig.h - an image's run configuration, read from each layer's
 * /.labrun/layer.json and merged from base to top.
 *
 * Runs with the user's own rights only: layer.json is image content and
 * therefore hostile (notes/security.md, invariant 2).  Every count and size
 * is bounded.
 *
 * layer.json (DESIGN.md §2):
 *   {
 *     "parent": "sha256:<64 hex>",          absent in a base layer
 *     "config": {
 *       "entrypoint": ["/bin/sh", "-c"],    array of strings, or null to clear
 *       "cmd": ["echo", "hi"],              array of strings, or null to clear
 *       "env": ["PATH=/usr/bin", "K=V"],    "K=V" strings
 *       "workdir": "/work",                 absolute path
 *       "labels": {"k": "v"}                string values
 *     },
 *     "provenance": { ... }                 free-form object, kept as JSON text
 *   }
 * Unknown top-level and config keys are ignored (later versions may add some).
 */
#ifndef LABRUN_IMAGECONFIG_H
#define LABRUN_IMAGECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define LR_LAYERJSON_MAX_BYTES (1024 * 1024)
#define LR_IMAGECONFIG_MAX_ARGS 256 /* entrypoint, cmd entries each */
#define LR_IMAGECONFIG_MAX_ENV 1024
#define LR_IMAGECONFIG_MAX_LABELS 256
#define LR_IMAGECONFIG_MAX_STRING 65536
#define LR_DIGEST_HEX_LEN 64

struct lr_strv {
	char **v; /* NULL-terminated when set */
	size_t n;
};

struct lr_image_config {
	bool has_entrypoint;
	struct lr_strv entrypoint;
	bool has_cmd;
	struct lr_strv cmd;
	struct lr_strv env;    /* "K=V", unique keys, in first-set order */
	char *workdir;	       /* NULL when unset */
	struct lr_strv labels; /* "k=v", unique keys */
};

struct lr_layer_meta {
	bool has_parent;
	char parent_hex[LR_DIGEST_HEX_LEN + 1]; /* lower-case hex, no "sha256:" */
	struct lr_image_config config;
	char *provenance_json; /* NULL when absent */
};

/* Parse a layer.json document (len bytes).  Errors say what and where,
 * e.g. "config.env[3]: expected \"KEY=VALUE\" string". */
int lr_layer_meta_parse(struct lr_layer_meta *out, const char *buf, size_t len,
			struct lr_error *err);
void lr_layer_meta_free(struct lr_layer_meta *m);

/* m as a layer.json document (malloc'd, ends in a newline): keys sorted,
 * unset config keys left out, so that lr_layer_meta_parse() gives m back
 * and the same m always gives the same bytes.  NULL on failure, E2BIG
 * (naming the key) when m is past a limit lr_layer_meta_parse() holds. */
char *lr_layer_meta_json(const struct lr_layer_meta *m, struct lr_error *err);

/* Merge top over base in place (base := base overlaid by top): entrypoint,
 * cmd and workdir from top when top sets them; env and labels merged by key,
 * top winning.  Fails only on allocation failure or exceeding the limits. */
int lr_image_config_merge(struct lr_image_config *base, const struct lr_image_config *top,
			  struct lr_error *err);
void lr_image_config_free(struct lr_image_config *c);

/* Helpers used elsewhere too. */
int lr_strv_push(struct lr_strv *sv, const char *s); /* copies s */
void lr_strv_free(struct lr_strv *sv);
/* Set or replace "KEY=..." in sv by key; entry is "KEY=VALUE". */
int lr_strv_setenv(struct lr_strv *sv, const char *entry);
const char *lr_strv_getenv(const struct lr_strv *sv, const char *key);

#endif
