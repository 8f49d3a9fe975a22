/* image_inspect.c - labrun-image inspect and verify: read-only looks at an
 * image's layer chain.  Runs as the invoking user; like labrun, it parses
 * layers only with the user's own rights (libsquashfuse in this process). */
#include "build-config.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h> /* optind */

#include "digest.h"
#include "image_commands.h"
#include "layers.h"
#include "squash.h"

static int fail(const char *msg)
{
	fprintf(stderr, "labrun-image: %s\n", msg);
	return LR_IMAGE_FAILED;
}

/* One IMAGE operand after the command's own options; --json for inspect. */
static int parse(int argc, char **argv, bool allow_json, bool *json, const char **image)
{
	int r = lr_image_flag(argc, argv, allow_json ? "json" : NULL, 0, json);
	if (r)
		return r;
	if (argc - optind != 1) {
		fprintf(stderr,
			"labrun-image %s: needs exactly one IMAGE (see labrun-image --help)\n",
			argv[0]);
		return LR_IMAGE_USAGE;
	}
	*image = argv[optind];
	return 0;
}

/* The command's arguments, then IMAGE's chain; an exit status on failure
 * (reported), 0 with *chain set (the caller frees it). */
static int open_chain(const struct lr_image_ctx *ctx, int argc, char **argv, bool allow_json,
		      bool *json, const char **image, struct lr_chain **chain)
{
	int r = parse(argc, argv, allow_json, json, image);
	if (r)
		return r;
	struct lr_chain *c = calloc(1, sizeof(*c));
	struct lr_error err = {0};
	if (!c)
		return fail("out of memory");
	if (lr_chain_resolve(c, *image, ctx->stores, ctx->n_stores, &err) < 0) {
		free(c);
		return fail(err.msg);
	}
	*chain = c;
	return 0;
}

static json_t *strv_json(bool set, const struct lr_strv *v)
{
	if (!set)
		return json_null();
	json_t *a = json_array();
	for (size_t i = 0; i < v->n; i++)
		json_array_append_new(a, json_string(v->v[i]));
	return a;
}

/* "k=v" entries as an object. */
static json_t *kv_json(const struct lr_strv *v)
{
	json_t *o = json_object();
	for (size_t i = 0; i < v->n; i++) {
		const char *eq = strchr(v->v[i], '=');
		char key[256];
		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - v->v[i]) : 0, v->v[i]);
		json_object_set_new(o, key, json_string(eq ? eq + 1 : ""));
	}
	return o;
}

static void print_strv(const char *label, bool set, const struct lr_strv *v)
{
	printf("  %-11s", label);
	if (!set || v->n == 0) {
		printf("(none)\n");
		return;
	}
	for (size_t i = 0; i < v->n; i++)
		printf("%s\"%s\"", i ? " " : "", v->v[i]);
	printf("\n");
}

int lr_image_inspect(const struct lr_image_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	const char *image = NULL;
	struct lr_chain *chain = NULL;
	int r = open_chain(ctx, argc, argv, true, &json, &image, &chain);
	if (r)
		return r;
	struct lr_error err = {0};
	json_t *layers = json_array();
	if (!json)
		printf("image %s: %zu layer%s, top first\n", image, chain->n,
		       chain->n == 1 ? "" : "s");
	for (size_t i = 0; i < chain->n; i++) {
		const struct lr_layer *l = &chain->layers[i];
		char hex[LR_DIGEST_HEX_LEN + 1];
		struct stat st;
		if (lr_digest_fd(l->fd, hex, &err) < 0 || fstat(l->fd, &st) < 0) {
			json_decref(layers);
			lr_chain_free(chain);
			free(chain);
			return fail(err.msg[0] ? err.msg : "stat failed");
		}
		const char *parent = l->meta.has_parent ? l->meta.parent_hex : NULL;
		if (json) {
			json_t *o = json_object();
			json_object_set_new(o, "path", json_string(l->path));
			json_object_set_new(o, "digest", json_sprintf("sha256:%s", hex));
			json_object_set_new(o, "size", json_integer((json_int_t)st.st_size));
			json_object_set_new(o, "parent",
					    parent ? json_sprintf("sha256:%s", parent)
						   : json_null());
			json_t *prov = l->meta.provenance_json
					       ? json_loads(l->meta.provenance_json, 0, NULL)
					       : NULL;
			json_object_set_new(o, "provenance", prov ? prov : json_null());
			json_array_append_new(layers, o);
		} else {
			printf("  %zu  %s\n     sha256:%s  %lld bytes\n", i, l->path, hex,
			       (long long)st.st_size);
			if (l->meta.provenance_json)
				printf("     provenance %s\n", l->meta.provenance_json);
		}
	}
	const struct lr_image_config *c = &chain->config;
	if (json) {
		json_t *cfg = json_object();
		json_object_set_new(cfg, "entrypoint",
				    strv_json(c->has_entrypoint, &c->entrypoint));
		json_object_set_new(cfg, "cmd", strv_json(c->has_cmd, &c->cmd));
		json_object_set_new(cfg, "env", strv_json(true, &c->env));
		json_object_set_new(cfg, "workdir",
				    c->workdir ? json_string(c->workdir) : json_null());
		json_object_set_new(cfg, "labels", kv_json(&c->labels));
		json_t *top = json_object();
		json_object_set_new(top, "image", json_string(image));
		json_object_set_new(top, "layers", layers);
		json_object_set_new(top, "config", cfg);
		json_dumpf(top, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(top);
	} else {
		json_decref(layers);
		printf("config, merged from the base up:\n");
		print_strv("entrypoint", c->has_entrypoint, &c->entrypoint);
		print_strv("cmd", c->has_cmd, &c->cmd);
		print_strv("env", true, &c->env);
		printf("  %-11s%s\n", "workdir", c->workdir ? c->workdir : "(none)");
		print_strv("labels", true, &c->labels);
	}
	lr_chain_free(chain);
	free(chain);
	return LR_IMAGE_OK;
}

int lr_image_verify(const struct lr_image_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	const char *image = NULL;
	struct lr_chain *chain = NULL;
	/* Resolving checks every superblock and finds every parent. */
	int r = open_chain(ctx, argc, argv, false, &json, &image, &chain);
	if (r)
		return r;
	struct lr_error err = {0};
	int problems = 0;
	for (size_t i = 0; i < chain->n; i++) {
		const struct lr_layer *l = &chain->layers[i];
		uint64_t entries = 0, bytes = 0;
		lr_error_clear(&err);
		if (lr_squash_verify(l->sq, &entries, &bytes, &err) < 0) {
			fprintf(stderr, "labrun-image: layer %s: %s\n", l->path, err.msg);
			problems++;
		}
		if (i == 0)
			continue;
		/* The parent was found by its file name; its content must have
		 * the digest the child names. */
		const struct lr_layer *child = &chain->layers[i - 1];
		char hex[LR_DIGEST_HEX_LEN + 1];
		lr_error_clear(&err);
		if (lr_digest_fd(l->fd, hex, &err) < 0) {
			fprintf(stderr, "labrun-image: layer %s: %s\n", l->path, err.msg);
			problems++;
		} else if (strcmp(hex, child->meta.parent_hex) != 0) {
			fprintf(stderr,
				"labrun-image: layer %s has digest sha256:%.12s..., but %s names "
				"its "
				"parent sha256:%.12s...\n",
				l->path, hex, child->name, child->meta.parent_hex);
			problems++;
		}
	}
	if (!problems)
		printf("%s: %zu layer%s, every file readable, every parent digest matches\n", image,
		       chain->n, chain->n == 1 ? "" : "s");
	lr_chain_free(chain);
	free(chain);
	return problems ? LR_IMAGE_FAILED : LR_IMAGE_OK;
}
