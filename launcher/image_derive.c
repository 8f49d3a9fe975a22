/* image_derive.c - the labrun-image commands that make a layer out of an
 * existing image: flatten (one layer holding the merged view) and config
 * (a layer on top holding only a changed config).  Run as the invoking
 * user; layers are read with the user's own rights. */
#include "build-config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "image_write.h"
#include "log.h"

struct derive_args {
	const char *image, *out, *store;
	struct lr_image_config config;
	struct lr_sqw_options layer;
	bool config_set, keep_special;
};

static int parse(const char *cmd, int argc, char **argv, bool with_config, struct derive_args *a)
{
	static const struct option config_opts[] = {
		LR_CONFIG_LONG_OPTIONS,
		LR_LAYER_LONG_OPTIONS,
		{"store", required_argument, NULL, OPT_STORE},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	static const struct option layer_opts[] = {
		LR_LAYER_LONG_OPTIONS,
		LR_KEEP_SPECIAL_LONG_OPTION,
		{"store", required_argument, NULL, OPT_STORE},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:o:", with_config ? config_opts : layer_opts,
				NULL)) != -1) {
		struct lr_error err = {0};
		int r = with_config ? lr_config_option(&a->config, c, optarg, &err) : 0;
		if (r > 0)
			a->config_set = true;
		if (r == 0)
			r = lr_layer_option(&a->layer, c, optarg, &err);
		if (r < 0)
			return lr_image_usage(cmd, "%s", err.msg);
		if (r > 0)
			continue;
		switch (c) {
		case OPT_STORE: a->store = optarg; break;
		case OPT_KEEP_SPECIAL: a->keep_special = true; break; /* flatten only */
		case 'o': a->out = optarg; break;
		case ':': return lr_image_usage(cmd, "option '%s' needs a value", argv[optind - 1]);
		default: return lr_image_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return lr_image_usage(cmd, "needs exactly one IMAGE");
	a->image = argv[optind];
	if (with_config && !a->config_set)
		return lr_image_usage(cmd, "nothing to change: give --entrypoint, --cmd, --env, "
					   "--workdir or --label");
	return 0;
}

/* ------------------------------------------------------------ flatten */

/* Hard links inside one layer: the first path seen of each (layer, inode). */
struct link_seen {
	size_t layer;
	uint64_t id;
	char *path;
};

struct flatten {
	struct lr_build *b;
	const struct lr_view *view;
	struct link_seen *links;
	size_t n_links, cap_links;
	char path[PATH_MAX];
};

static int flatten_node(struct flatten *f, const struct lr_vnode *n, size_t len,
			struct lr_error *err)
{
	if (S_ISREG(n->mode)) {
		for (size_t i = 0; i < f->n_links; i++)
			if (f->links[i].layer == n->layer && f->links[i].id == n->id)
				return lr_build_link(f->b, f->path, f->links[i].path, err);
		if (f->n_links == f->cap_links) {
			size_t cap = f->cap_links ? f->cap_links * 2 : 256;
			struct link_seen *l = realloc(f->links, cap * sizeof(*l));
			if (!l)
				return lr_error_errno(err, ENOMEM, "flatten");
			f->links = l;
			f->cap_links = cap;
		}
		char *copy = strdup(f->path);
		if (!copy)
			return lr_error_errno(err, ENOMEM, "flatten");
		f->links[f->n_links++] = (struct link_seen){n->layer, n->id, copy};
	}
	struct lr_sqw_entry e;
	lr_vnode_entry(n, f->path, &e);
	struct lr_view_cursor rd = {f->view, n, 0};
	int r = lr_build_entry(f->b, &e, lr_view_read, &rd, err);
	if (r < 0 || !S_ISDIR(n->mode))
		return r;
	for (size_t i = 0; i < n->n_children; i++) {
		const struct lr_vnode *c = n->children[i];
		size_t cl = strlen(c->name);
		if (len + cl + 2 > sizeof(f->path))
			return lr_error_set(err, ENAMETOOLONG, "%s/%s: path too long", f->path,
					    c->name);
		size_t at = len;
		if (len)
			f->path[at++] = '/';
		memcpy(f->path + at, c->name, cl + 1);
		r = flatten_node(f, c, at + cl, err);
		f->path[len] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

/* The stored layer, and -o: done, report.  Shared by both commands. */
static int commit(const char *cmd, const struct lr_image_ctx *ctx, struct lr_out *out,
		  const struct derive_args *a, const struct lr_chain *parent,
		  const char *parent_hex)
{
	struct lr_error err = {0};
	if (lr_out_commit(out, &err) < 0) {
		lr_out_abort(out);
		return lr_image_fail(cmd, err.msg);
	}
	if (a->out && parent &&
	    lr_parent_reachable(ctx, parent->layers[0].path, parent_hex, a->out, &err) < 0)
		return lr_image_fail(cmd, err.msg);
	printf("sha256:%s\n", out->hex);
	return LR_IMAGE_OK;
}

static int begin(const char *cmd, const struct lr_image_ctx *ctx, const struct derive_args *a,
		 struct lr_out *out)
{
	struct lr_error err = {0};
	char store[PATH_MAX] = "";
	if (!a->out && lr_out_store(ctx, a->store, store, sizeof(store), &err) < 0)
		return lr_image_fail(cmd, err.msg);
	if (lr_out_begin(out, a->out, store, &err) < 0)
		return lr_image_fail(cmd, err.msg);
	return 0;
}

int lr_image_flatten(const struct lr_image_ctx *ctx, int argc, char **argv)
{
	struct derive_args a = {.layer = {.compression = LR_DEFAULT_COMPRESSION,
					  .block_size = LR_DEFAULT_BLOCK_SIZE}};
	int status = parse("flatten", argc, argv, false, &a);
	if (status)
		return status;
	struct lr_error err = {0};
	struct lr_chain *chain = calloc(1, sizeof(*chain));
	char top_hex[LR_DIGEST_HEX_LEN + 1];
	if (!chain)
		return lr_image_fail("flatten", "out of memory");
	if (lr_parent_open(ctx, a.image, chain, top_hex, &err) < 0) {
		free(chain);
		/* "parent: " is lr_parent_open()'s view; here it is the image. */
		return lr_image_fail("flatten",
				     strncmp(err.msg, "parent: ", 8) ? err.msg : err.msg + 8);
	}
	struct lr_view view;
	struct flatten f = {0};
	struct lr_out out;
	_cleanup_free_ char *json = NULL;
	struct lr_layer_meta meta = {0};
	status = LR_IMAGE_FAILED;
	if (lr_view_load(&view, chain, &err) < 0) {
		lr_image_fail("flatten", err.msg);
		goto out_chain;
	}
	/* The merged config; provenance: what was flattened. */
	char prov[128];
	snprintf(prov, sizeof(prov), "{\"flattened-from\": \"sha256:%s\"}", top_hex);
	meta.config = chain->config;
	meta.provenance_json = prov;
	if (!(json = lr_layer_meta_json(&meta, &err))) {
		lr_image_fail("flatten", err.msg);
		goto out_view;
	}
	if ((status = begin("flatten", ctx, &a, &out)))
		goto out_view;
	status = LR_IMAGE_FAILED;
	/* A merged view holds whatever its layers hold (a layer built with
	 * --keep-special, any plain squashfs): flattening disarms it as a build
	 * does (layerbuild.h). */
	struct lr_build_options bo = {.sqw = a.layer, .keep_special = a.keep_special};
	f.view = &view;
	if (lr_build_begin(&f.b, out.tmp, &bo, &err) < 0 ||
	    flatten_node(&f, view.root, 0, &err) < 0 || lr_build_finish(f.b, json, &err) < 0) {
		lr_out_abort(&out);
		lr_image_fail("flatten", err.msg);
		goto out_build;
	}
	struct lr_build_special special;
	lr_build_special(f.b, &special);
	lr_special_report("flatten", &special, a.keep_special);
	lr_build_free(f.b);
	f.b = NULL;
	status = commit("flatten", ctx, &out, &a, NULL, NULL);
out_build:
	lr_build_free(f.b);
	for (size_t i = 0; i < f.n_links; i++)
		free(f.links[i].path);
	free(f.links);
out_view:
	lr_view_free(&view);
out_chain:
	lr_chain_free(chain);
	free(chain);
	return status;
}

/* ------------------------------------------------------------ config */

int lr_image_config(const struct lr_image_ctx *ctx, int argc, char **argv)
{
	struct derive_args a = {.layer = {.compression = LR_DEFAULT_COMPRESSION,
					  .block_size = LR_DEFAULT_BLOCK_SIZE}};
	int status = parse("config", argc, argv, true, &a);
	if (status) {
		lr_image_config_free(&a.config);
		return status;
	}
	struct lr_error err = {0};
	struct lr_chain *chain = calloc(1, sizeof(*chain));
	struct lr_layer_meta meta = {.has_parent = true, .config = a.config};
	_cleanup_free_ char *json = NULL;
	struct lr_build *b = NULL;
	struct lr_out out;
	status = LR_IMAGE_FAILED;
	if (!chain) {
		lr_image_fail("config", "out of memory");
		goto out;
	}
	if (lr_parent_open(ctx, a.image, chain, meta.parent_hex, &err) < 0) {
		free(chain);
		chain = NULL;
		lr_image_fail("config", strncmp(err.msg, "parent: ", 8) ? err.msg : err.msg + 8);
		goto out;
	}
	if (!(json = lr_layer_meta_json(&meta, &err))) {
		lr_image_fail("config", err.msg);
		goto out;
	}
	if ((status = begin("config", ctx, &a, &out)))
		goto out;
	status = LR_IMAGE_FAILED;
	struct lr_build_options bo = {.sqw = a.layer};
	if (lr_build_begin(&b, out.tmp, &bo, &err) < 0 || lr_build_finish(b, json, &err) < 0) {
		lr_out_abort(&out);
		lr_image_fail("config", err.msg);
		goto out;
	}
	lr_build_free(b);
	b = NULL;
	status = commit("config", ctx, &out, &a, chain, meta.parent_hex);
out:
	lr_build_free(b);
	lr_image_config_free(&meta.config);
	if (chain) {
		lr_chain_free(chain);
		free(chain);
	}
	return status;
}
