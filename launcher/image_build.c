/* image_build.c - labrun-image build: one layer from a directory or a tar
 * stream, optionally as a diff against a parent (DESIGN.md §2).  Runs as
 * the invoking user, no privilege: owners come from the tar or the owner
 * map, never from who runs it. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_write.h"
#include "layersrc.h"
#include "log.h"

struct build_args {
	const char *from, *from_tar, *parent, *out, *store, *owner_map;
	bool diff, keep_special;
	struct lr_image_config config;
	struct lr_sqw_options layer;
};

static int parse(int argc, char **argv, struct build_args *a)
{
	static const struct option opts[] = {
		LR_CONFIG_LONG_OPTIONS,
		LR_LAYER_LONG_OPTIONS,
		{"from", required_argument, NULL, OPT_FROM},
		{"from-tar", required_argument, NULL, OPT_FROM_TAR},
		{"parent", required_argument, NULL, OPT_PARENT},
		{"diff", no_argument, NULL, OPT_DIFF},
		{"owner-map", required_argument, NULL, OPT_OWNER_MAP},
		LR_KEEP_SPECIAL_LONG_OPTION,
		{"store", required_argument, NULL, OPT_STORE},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:o:", opts, NULL)) != -1) {
		struct lr_error err = {0};
		int r = lr_config_option(&a->config, c, optarg, &err);
		if (r == 0)
			r = lr_layer_option(&a->layer, c, optarg, &err);
		if (r < 0)
			return lr_image_usage("build", "%s", err.msg);
		if (r > 0)
			continue;
		switch (c) {
		case OPT_FROM: a->from = optarg; break;
		case OPT_FROM_TAR: a->from_tar = optarg; break;
		case OPT_PARENT: a->parent = optarg; break;
		case OPT_DIFF: a->diff = true; break;
		case OPT_OWNER_MAP: a->owner_map = optarg; break;
		case OPT_KEEP_SPECIAL: a->keep_special = true; break;
		case OPT_STORE: a->store = optarg; break;
		case 'o': a->out = optarg; break;
		case ':':
			return lr_image_usage("build", "option '%s' needs a value",
					      argv[optind - 1]);
		default: return lr_image_usage("build", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return lr_image_usage("build", "unexpected argument '%s'", argv[optind]);
	if (!a->from == !a->from_tar)
		return lr_image_usage("build", "needs one of --from DIR and --from-tar FILE");
	if (a->diff && !a->parent)
		return lr_image_usage("build", "--diff needs --parent");
	return 0;
}

static int build_from(struct lr_build *b, const struct build_args *a, struct lr_error *err)
{
	if (a->from)
		return lr_src_dir(b, a->from, err);
	struct archive *ar = lr_src_tar_reader();
	if (!ar)
		return lr_error_errno(err, ENOMEM, "tar reader");
	bool stdin_tar = !strcmp(a->from_tar, "-");
	int r = stdin_tar ? archive_read_open_fd(ar, 0, 1 << 16)
			  : archive_read_open_filename(ar, a->from_tar, 1 << 16);
	const char *what = stdin_tar ? "standard input" : a->from_tar;
	if (r != ARCHIVE_OK) {
		int e = archive_errno(ar);
		lr_error_set(err, e > 0 ? e : EIO, "%s: %s", what,
			     archive_error_string(ar) ? archive_error_string(ar) : "cannot read");
		archive_read_free(ar);
		return -EIO;
	}
	r = lr_src_tar(b, ar, what, err);
	archive_read_free(ar);
	return r;
}

int lr_image_build(const struct lr_image_ctx *ctx, int argc, char **argv)
{
	struct build_args a = {.layer = {.compression = LR_DEFAULT_COMPRESSION,
					 .block_size = LR_DEFAULT_BLOCK_SIZE}};
	_cleanup_free_ char *json = NULL;
	int status = parse(argc, argv, &a);
	if (status)
		goto out_config;

	struct lr_error err = {0};
	struct lr_build_options bo = {
		.sqw = a.layer, .input_is_diff = a.diff, .keep_special = a.keep_special};
	/* A directory's files belong to whoever made them, not to the image:
	 * root's unless the owner map says otherwise.  A tar's owners are the
	 * image's. */
	if (lr_idmap_parse(&bo.owners,
			   a.owner_map ? a.owner_map
			   : a.from    ? "root"
				       : "keep",
			   &err) < 0) {
		status = lr_image_usage("build", "%s", err.msg);
		goto out_config;
	}

	struct lr_chain *chain = NULL;
	struct lr_view view = {0};
	struct lr_layer_meta meta = {.config = a.config};
	memset(&a.config, 0, sizeof(a.config));
	if (a.parent) {
		chain = calloc(1, sizeof(*chain));
		if (!chain || lr_parent_open(ctx, a.parent, chain, meta.parent_hex, &err) < 0) {
			free(chain);
			chain = NULL;
			status = lr_image_fail("build", err.msg[0] ? err.msg : "out of memory");
			goto out_meta;
		}
		meta.has_parent = true;
		if (!a.diff) {
			lr_debug(1, "reading the parent chain (%zu layers)", chain->n);
			if (lr_view_load(&view, chain, &err) < 0) {
				status = lr_image_fail("build", err.msg);
				goto out_chain;
			}
			bo.parent = &view;
		}
	}

	char store[PATH_MAX] = "";
	if (!a.out && lr_out_store(ctx, a.store, store, sizeof(store), &err) < 0) {
		status = lr_image_fail("build", err.msg);
		goto out_view;
	}
	struct lr_out out;
	if (lr_out_begin(&out, a.out, store, &err) < 0) {
		status = lr_image_fail("build", err.msg);
		goto out_view;
	}
	struct lr_build *b = NULL;
	if (lr_build_begin(&b, out.tmp, &bo, &err) < 0 || build_from(b, &a, &err) < 0 ||
	    !(json = lr_layer_meta_json(&meta, &err)) || lr_build_finish(b, json, &err) < 0) {
		lr_build_free(b);
		lr_out_abort(&out);
		status = lr_image_fail("build", err.msg);
		goto out_view;
	}
	uint64_t stored, same, deleted, deleted_top;
	lr_build_stats(b, &stored, &same, &deleted, &deleted_top);
	struct lr_build_special special;
	lr_build_special(b, &special);
	lr_special_report("build", &special, a.keep_special);
	if (deleted_top)
		/* A tree of only the new files (an application directory) over a
		 * whole root: almost surely meant as a diff. */
		fprintf(stderr,
			"labrun-image build: warning: %llu of the parent's top-level entries "
			"are not in the input and are deleted in this layer (--diff stores an "
			"input that holds only the changes)\n",
			(unsigned long long)deleted_top);
	lr_build_free(b);
	if (lr_out_commit(&out, &err) < 0) {
		lr_out_abort(&out);
		status = lr_image_fail("build", err.msg);
		goto out_view;
	}
	if (a.out && chain &&
	    lr_parent_reachable(ctx, chain->layers[0].path, meta.parent_hex, a.out, &err) < 0) {
		status = lr_image_fail("build", err.msg);
		goto out_view;
	}
	lr_debug(1, "%llu entries stored, %llu equal to the parent's left out, %llu whiteouts",
		 (unsigned long long)stored, (unsigned long long)same, (unsigned long long)deleted);
	printf("sha256:%s\n", out.hex);
	status = LR_IMAGE_OK;
out_view:
	lr_view_free(&view);
out_chain:
	if (chain) {
		lr_chain_free(chain);
		free(chain);
	}
out_meta:
	lr_layer_meta_free(&meta);
out_config:
	lr_image_config_free(&a.config);
	return status;
}
