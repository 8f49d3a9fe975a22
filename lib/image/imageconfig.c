/* imageconfig.c - layer.json parsing and the merge of image configs (see
 * imageconfig.h), and the string vectors they are made of.
 *
 * Runs with the user's own rights only.  layer.json is image content, so
 * every byte of it is hostile (notes/security.md, invariant 2): the document
 * is size-bounded before jansson sees it, every array and object is counted
 * against a limit before it is walked, every string is bounded and checked
 * for NUL bytes (jansson gives strings a length; a NUL would cut "PATH=/x\0"
 * differently here and in the job's execve), and nothing read here is ever
 * executed or opened by this file.  Errors name the JSON path of the bad
 * value ("config.env[2]: ...") so that an image author can find it.
 *
 * jansson is the only JSON code in labrun; its errors are translated here.
 */
#include "build-config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>

#include "cleanup.h"
#include "imageconfig.h"

#define DIGEST_PREFIX "sha256:"

/* ------------------------------------------------------------ string vectors */

int lr_strv_push(struct lr_strv *sv, const char *s)
{
	if (sv->n >= (SIZE_MAX / sizeof(char *)) - 2)
		return -ENOMEM;
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	char **v = realloc(sv->v, (sv->n + 2) * sizeof(char *));
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	v[sv->n++] = copy;
	v[sv->n] = NULL;
	sv->v = v;
	return 0;
}

void lr_strv_free(struct lr_strv *sv)
{
	if (!sv)
		return;
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

/* A set but empty vector: { NULL }, so that v is always NULL-terminated
 * once the config says something about it ("cmd": null). */
static int strv_set_empty(struct lr_strv *sv)
{
	if (sv->v)
		return 0;
	sv->v = calloc(1, sizeof(char *));
	return sv->v ? 0 : -ENOMEM;
}

/* Index of the "KEY=..." entry for the key of entry (up to its '='). */
static ssize_t strv_find(const struct lr_strv *sv, const char *key, size_t klen)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strncmp(sv->v[i], key, klen) && sv->v[i][klen] == '=')
			return (ssize_t)i;
	return -1;
}

int lr_strv_setenv(struct lr_strv *sv, const char *entry)
{
	const char *eq = strchr(entry, '=');
	if (!eq || eq == entry)
		return -EINVAL;
	ssize_t i = strv_find(sv, entry, (size_t)(eq - entry));
	if (i < 0)
		return lr_strv_push(sv, entry);
	/* Replace in place: the key keeps the position where it was first
	 * set, so the order of the environment is stable across layers. */
	char *copy = strdup(entry);
	if (!copy)
		return -ENOMEM;
	free(sv->v[i]);
	sv->v[i] = copy;
	return 0;
}

const char *lr_strv_getenv(const struct lr_strv *sv, const char *key)
{
	ssize_t i = strv_find(sv, key, strlen(key));
	return i < 0 ? NULL : sv->v[i] + strlen(key) + 1;
}

static int strv_copy(struct lr_strv *dst, const struct lr_strv *src, bool set)
{
	int r = set ? strv_set_empty(dst) : 0;
	for (size_t i = 0; r == 0 && i < src->n; i++)
		r = lr_strv_push(dst, src->v[i]);
	return r;
}

/* ------------------------------------------------------------ layer.json */

/* A string value at path: bounded, without NUL.  *out points into j. */
static int get_string(const json_t *j, const char *path, const char **out, struct lr_error *err)
{
	if (!json_is_string(j))
		return lr_error_set(err, EINVAL, "%s: expected a string", path);
	size_t len = json_string_length(j);
	const char *s = json_string_value(j);
	if (len > LR_IMAGECONFIG_MAX_STRING)
		return lr_error_set(err, E2BIG, "%s: string longer than %d bytes", path,
				    LR_IMAGECONFIG_MAX_STRING);
	if (strlen(s) != len)
		return lr_error_set(err, EINVAL, "%s: string contains a NUL byte", path);
	*out = s;
	return 0;
}

static int parse_parent(struct lr_layer_meta *m, const json_t *j, struct lr_error *err)
{
	static const char expected[] = "parent: expected \"sha256:<64 hex digits>\"";
	const char *s;
	if (get_string(j, "parent", &s, err) < 0)
		return lr_error_set(err, EINVAL, "%s", expected);
	size_t plen = strlen(DIGEST_PREFIX);
	if (strncmp(s, DIGEST_PREFIX, plen) != 0 || strlen(s) != plen + LR_DIGEST_HEX_LEN)
		return lr_error_set(err, EINVAL, "%s", expected);
	/* Lower case only: the digest becomes a file name (sha256-<hex>.sqfs),
	 * and one digest must name one file. */
	const char *hex = s + plen;
	if (strspn(hex, "0123456789abcdef") != LR_DIGEST_HEX_LEN)
		return lr_error_set(err, EINVAL, "%s", expected);
	memcpy(m->parent_hex, hex, LR_DIGEST_HEX_LEN + 1);
	m->has_parent = true;
	return 0;
}

/* "entrypoint" / "cmd": an array of strings, or null to clear what a lower
 * layer set.  Either way the layer has said something: *has = true. */
static int parse_args(const json_t *j, const char *path, bool *has, struct lr_strv *out,
		      struct lr_error *err)
{
	if (!json_is_null(j) && !json_is_array(j))
		return lr_error_set(err, EINVAL, "%s: expected an array of strings or null", path);
	if (json_array_size(j) > LR_IMAGECONFIG_MAX_ARGS)
		return lr_error_set(err, E2BIG, "%s: more than %d entries", path,
				    LR_IMAGECONFIG_MAX_ARGS);
	if (strv_set_empty(out) < 0)
		return lr_error_errno(err, ENOMEM, "%s", path);
	size_t i;
	const json_t *v;
	json_array_foreach(j, i, v)
	{
		char where[64];
		snprintf(where, sizeof(where), "%s[%zu]", path, i);
		const char *s;
		int r = get_string(v, where, &s, err);
		if (r < 0)
			return r;
		if (lr_strv_push(out, s) < 0)
			return lr_error_errno(err, ENOMEM, "%s", where);
	}
	*has = true;
	return 0;
}

static int parse_env(const json_t *j, struct lr_strv *out, struct lr_error *err)
{
	if (!json_is_array(j))
		return lr_error_set(err, EINVAL,
				    "config.env: expected an array of \"KEY=VALUE\" strings");
	if (json_array_size(j) > LR_IMAGECONFIG_MAX_ENV)
		return lr_error_set(err, E2BIG, "config.env: more than %d entries",
				    LR_IMAGECONFIG_MAX_ENV);
	size_t i;
	const json_t *v;
	json_array_foreach(j, i, v)
	{
		char where[64];
		snprintf(where, sizeof(where), "config.env[%zu]", i);
		const char *s;
		if (!json_is_string(v))
			return lr_error_set(err, EINVAL, "%s: expected \"KEY=VALUE\" string",
					    where);
		int r = get_string(v, where, &s, err);
		if (r < 0)
			return r;
		const char *eq = strchr(s, '=');
		if (!eq || eq == s)
			return lr_error_set(err, EINVAL, "%s: expected \"KEY=VALUE\" string",
					    where);
		/* A later "K=..." in the same file replaces the earlier one, as a
		 * second ENV line does in a Dockerfile. */
		if (lr_strv_setenv(out, s) < 0)
			return lr_error_errno(err, ENOMEM, "%s", where);
	}
	return 0;
}

/* jansson's parser refuses NUL bytes in object keys (2.14 included), but
 * its API has carried key lengths since 2.14: should a later parser let
 * them through, the key is still checked here. */
static size_t key_length(const char *key)
{
#if JANSSON_VERSION_HEX >= 0x020e00
	return json_object_iter_key_len(json_object_key_to_iter(key));
#else
	return strlen(key);
#endif
}

static int parse_labels(const json_t *j, struct lr_strv *out, struct lr_error *err)
{
	if (!json_is_object(j))
		return lr_error_set(err, EINVAL, "config.labels: expected an object of strings");
	if (json_object_size(j) > LR_IMAGECONFIG_MAX_LABELS)
		return lr_error_set(err, E2BIG, "config.labels: more than %d labels",
				    LR_IMAGECONFIG_MAX_LABELS);
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)j, key, v)
	{
		char where[128];
		snprintf(where, sizeof(where), "config.labels.\"%.64s\"", key);
		size_t klen = key_length(key);
		if (klen != strlen(key))
			return lr_error_set(err, EINVAL, "%s: key contains a NUL byte", where);
		if (klen == 0 || klen > LR_IMAGECONFIG_MAX_STRING || strchr(key, '='))
			return lr_error_set(err, EINVAL,
					    "%s: key must be 1 to %d bytes without '='", where,
					    LR_IMAGECONFIG_MAX_STRING);
		const char *s;
		int r = get_string(v, where, &s, err);
		if (r < 0)
			return r;
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "%s=%s", key, s) < 0 || lr_strv_setenv(out, kv) < 0)
			return lr_error_errno(err, ENOMEM, "%s", where);
	}
	return 0;
}

static int parse_config(struct lr_image_config *c, const json_t *j, struct lr_error *err)
{
	if (!json_is_object(j))
		return lr_error_set(err, EINVAL, "config: expected an object");
	const json_t *v;
	int r;
	if ((v = json_object_get(j, "entrypoint")) &&
	    (r = parse_args(v, "config.entrypoint", &c->has_entrypoint, &c->entrypoint, err)) < 0)
		return r;
	if ((v = json_object_get(j, "cmd")) &&
	    (r = parse_args(v, "config.cmd", &c->has_cmd, &c->cmd, err)) < 0)
		return r;
	if ((v = json_object_get(j, "env")) && (r = parse_env(v, &c->env, err)) < 0)
		return r;
	if ((v = json_object_get(j, "workdir"))) {
		const char *s;
		if ((r = get_string(v, "config.workdir", &s, err)) < 0)
			return r;
		if (s[0] != '/')
			return lr_error_set(err, EINVAL,
					    "config.workdir: expected an absolute path");
		if (!(c->workdir = strdup(s)))
			return lr_error_errno(err, ENOMEM, "config.workdir");
	}
	if ((v = json_object_get(j, "labels")) && (r = parse_labels(v, &c->labels, err)) < 0)
		return r;
	return 0;
}

int lr_layer_meta_parse(struct lr_layer_meta *out, const char *buf, size_t len,
			struct lr_error *err)
{
	if (len > LR_LAYERJSON_MAX_BYTES)
		return lr_error_set(err, EFBIG, "%zu bytes, more than the limit of %d", len,
				    LR_LAYERJSON_MAX_BYTES);
	/* JSON_ALLOW_NUL: let jansson accept "\u0000" so that get_string()
	 * refuses it with the path of the value instead of a byte offset.
	 * json_auto_t is jansson's own cleanup attribute (json_decref). */
	json_error_t jerr;
	json_auto_t *root = json_loadb(buf ? buf : "", buf ? len : 0,
				       JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root)
		return lr_error_set(err, EINVAL, "not valid JSON: %s (line %d, column %d)",
				    jerr.text, jerr.line, jerr.column);
	if (!json_is_object(root))
		return lr_error_set(err, EINVAL, "top level: expected an object");

	struct lr_layer_meta m;
	memset(&m, 0, sizeof(m));
	int r = 0;
	const json_t *v;
	if ((v = json_object_get(root, "parent")) && (r = parse_parent(&m, v, err)) < 0)
		goto fail;
	if ((v = json_object_get(root, "config")) && (r = parse_config(&m.config, v, err)) < 0)
		goto fail;
	if ((v = json_object_get(root, "provenance"))) {
		if (!json_is_object(v)) {
			r = lr_error_set(err, EINVAL, "provenance: expected an object");
			goto fail;
		}
		/* Kept as text for `labrun-image inspect`; never interpreted. */
		m.provenance_json = json_dumps(v, JSON_COMPACT);
		if (!m.provenance_json) {
			r = lr_error_errno(err, ENOMEM, "provenance");
			goto fail;
		}
	}
	*out = m;
	return 0;
fail:
	lr_layer_meta_free(&m);
	return r;
}

void lr_image_config_free(struct lr_image_config *c)
{
	if (!c)
		return;
	lr_strv_free(&c->entrypoint);
	lr_strv_free(&c->cmd);
	lr_strv_free(&c->env);
	lr_strv_free(&c->labels);
	free(c->workdir);
	memset(c, 0, sizeof(*c));
}

void lr_layer_meta_free(struct lr_layer_meta *m)
{
	if (!m)
		return;
	lr_image_config_free(&m->config);
	free(m->provenance_json);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------ merge */

/* "K=V" entries of top over those of base, by key; max entries after. */
static int merge_by_key(struct lr_strv *out, const struct lr_strv *base, const struct lr_strv *top,
			size_t max, const char *what, struct lr_error *err)
{
	int r = strv_copy(out, base, false);
	if (r < 0)
		return lr_error_errno(err, -r, "%s", what);
	for (size_t i = 0; i < top->n; i++) {
		if ((r = lr_strv_setenv(out, top->v[i])) == -EINVAL)
			return lr_error_set(err, EINVAL, "%s: '%.64s' is not KEY=VALUE", what,
					    top->v[i]);
		if (r < 0)
			return lr_error_errno(err, -r, "%s", what);
	}
	if (out->n > max)
		return lr_error_set(err, E2BIG, "%s: more than %zu entries", what, max);
	return 0;
}

/* Built into a new struct, then swapped in, so that base is untouched when
 * this fails. */
int lr_image_config_merge(struct lr_image_config *base, const struct lr_image_config *top,
			  struct lr_error *err)
{
	struct lr_image_config m;
	memset(&m, 0, sizeof(m));
	int r;

	/* A layer that sets entrypoint but not cmd keeps the cmd below it.
	 * Docker's builder resets CMD when a Dockerfile sets ENTRYPOINT; here
	 * a layer says exactly what it changes, and one that wants the cmd
	 * gone writes "cmd": null.  Less magic, and each layer.json reads on
	 * its own. */
	const struct lr_image_config *ep = top->has_entrypoint ? top : base;
	const struct lr_image_config *cmd = top->has_cmd ? top : base;
	m.has_entrypoint = ep->has_entrypoint;
	m.has_cmd = cmd->has_cmd;
	if ((r = strv_copy(&m.entrypoint, &ep->entrypoint, m.has_entrypoint)) < 0 ||
	    (r = strv_copy(&m.cmd, &cmd->cmd, m.has_cmd)) < 0) {
		lr_error_errno(err, -r, "merge entrypoint and cmd");
		goto fail;
	}
	const char *workdir = top->workdir ? top->workdir : base->workdir;
	if (workdir && !(m.workdir = strdup(workdir))) {
		r = lr_error_errno(err, ENOMEM, "merge workdir");
		goto fail;
	}
	r = merge_by_key(&m.env, &base->env, &top->env, LR_IMAGECONFIG_MAX_ENV, "env", err);
	if (r == 0)
		r = merge_by_key(&m.labels, &base->labels, &top->labels, LR_IMAGECONFIG_MAX_LABELS,
				 "labels", err);
	if (r < 0)
		goto fail;

	lr_image_config_free(base);
	*base = m;
	return 0;
fail:
	lr_image_config_free(&m);
	return r;
}

/* ------------------------------------------------------------ writing */

static json_t *strv_array(const struct lr_strv *v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < v->n; i++)
		if (json_array_append_new(a, json_string(v->v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* A vector lr_layer_meta_parse() would read back: at most max entries,
 * each at most LR_IMAGECONFIG_MAX_STRING bytes (labels: key and value
 * each, as the reader checks them). */
static int strv_is_readable(const struct lr_strv *v, const char *path, size_t max, bool key_value,
			    struct lr_error *err)
{
	if (v->n > max)
		return lr_error_set(err, E2BIG, "%s: %zu entries, more than the %zu labrun reads",
				    path, v->n, max);
	for (size_t i = 0; i < v->n; i++) {
		size_t len = strlen(v->v[i]);
		const char *eq = key_value ? strchr(v->v[i], '=') : NULL;
		size_t part = eq ? (size_t)(eq - v->v[i]) : len;
		if (eq && len - part - 1 > part)
			part = len - part - 1;
		if (part > LR_IMAGECONFIG_MAX_STRING)
			return lr_error_set(err, E2BIG,
					    "%s[%zu]: %zu bytes, more than the %d labrun reads",
					    path, i, part, LR_IMAGECONFIG_MAX_STRING);
	}
	return 0;
}

/* Refuse to write what lr_layer_meta_parse() would refuse to read: a layer
 * written anyway makes an image no labrun can run.  Found by
 * tests/fuzz/fuzz_import.c: an image config with 1,100 Env entries, or a
 * 70,000-byte Cmd, was imported, and every run then failed on the config
 * layer's layer.json. */
static int config_is_readable(const struct lr_image_config *c, struct lr_error *err)
{
	int r;
	if ((r = strv_is_readable(&c->entrypoint, "config.entrypoint", LR_IMAGECONFIG_MAX_ARGS,
				  false, err)) < 0 ||
	    (r = strv_is_readable(&c->cmd, "config.cmd", LR_IMAGECONFIG_MAX_ARGS, false, err)) <
		    0 ||
	    (r = strv_is_readable(&c->env, "config.env", LR_IMAGECONFIG_MAX_ENV, false, err)) < 0 ||
	    (r = strv_is_readable(&c->labels, "config.labels", LR_IMAGECONFIG_MAX_LABELS, true,
				  err)) < 0)
		return r;
	if (c->workdir && strlen(c->workdir) > LR_IMAGECONFIG_MAX_STRING)
		return lr_error_set(err, E2BIG,
				    "config.workdir: %zu bytes, more than the %d labrun reads",
				    strlen(c->workdir), LR_IMAGECONFIG_MAX_STRING);
	return 0;
}

char *lr_layer_meta_json(const struct lr_layer_meta *m, struct lr_error *err)
{
	if (config_is_readable(&m->config, err) < 0)
		return NULL;
	json_auto_t *root = json_object();
	json_t *config = json_object();
	if (!root || !config || json_object_set_new(root, "config", config) < 0)
		goto nomem;
	if (m->has_parent) {
		char digest[8 + LR_DIGEST_HEX_LEN];
		snprintf(digest, sizeof(digest), "sha256:%s", m->parent_hex);
		if (json_object_set_new(root, "parent", json_string(digest)) < 0)
			goto nomem;
	}
	const struct lr_image_config *c = &m->config;
	if ((c->has_entrypoint &&
	     json_object_set_new(config, "entrypoint", strv_array(&c->entrypoint)) < 0) ||
	    (c->has_cmd && json_object_set_new(config, "cmd", strv_array(&c->cmd)) < 0) ||
	    (c->env.n && json_object_set_new(config, "env", strv_array(&c->env)) < 0) ||
	    (c->workdir && json_object_set_new(config, "workdir", json_string(c->workdir)) < 0))
		goto nomem;
	if (c->labels.n) {
		json_t *labels = json_object();
		if (!labels || json_object_set_new(config, "labels", labels) < 0)
			goto nomem;
		for (size_t i = 0; i < c->labels.n; i++) {
			const char *kv = c->labels.v[i], *eq = strchr(kv, '=');
			char *key = strndup(kv, eq ? (size_t)(eq - kv) : strlen(kv));
			int r = key ? json_object_set_new(labels, key,
							  json_string(eq ? eq + 1 : ""))
				    : -1;
			free(key);
			if (r < 0)
				goto nomem;
		}
	}
	if (json_object_size(config) == 0)
		json_object_del(root, "config");
	if (m->provenance_json) {
		json_error_t jerr;
		json_t *p = json_loads(m->provenance_json, 0, &jerr);
		if (!p || !json_is_object(p)) {
			json_decref(p);
			lr_error_set(err, EINVAL, "provenance: expected a JSON object");
			return NULL;
		}
		if (json_object_set_new(root, "provenance", p) < 0)
			goto nomem;
	}
	/* Sorted keys, no clock, no host: the same config gives the same
	 * bytes, so the same layer digest. */
	char *s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
	if (!s)
		goto nomem;
	size_t len = strlen(s);
	char *out = realloc(s, len + 2);
	if (!out) {
		free(s);
		goto nomem;
	}
	memcpy(out + len, "\n", 2);
	return out;
nomem:
	lr_error_errno(err, ENOMEM, "layer.json");
	return NULL;
}
