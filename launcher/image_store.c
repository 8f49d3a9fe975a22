/* image_store.c - labrun-image list, rm and gc: what the layer stores hold.  Runs as
 * the invoking user; layers are parsed only with the user's own rights. */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "image_commands.h"
#include "image_write.h"
#include "layers.h"

/* Layers listed at most, over all stores: a limit like every count. */
#define MAX_STORE_LAYERS 100000

struct entry {
	const char *store;
	char hex[LR_DIGEST_HEX_LEN + 1];
	long long size;
	char parent[LR_DIGEST_HEX_LEN + 1]; /* "" for a base layer */
	char problem[256];		    /* "" when the layer loads */
	size_t children;
};

static int by_name(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->store, y->store);
	return c ? c : strcmp(x->hex, y->hex);
}

/* Read one store; appends to *es.  Returns -1 when the store cannot be
 * read at all (reported). */
static int scan(const char *store, struct entry **es, size_t *n, size_t *cap)
{
	DIR *d = opendir(store);
	if (!d) {
		fprintf(stderr, "labrun-image: layer store %s: %s\n", store, strerror(errno));
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char hex[LR_DIGEST_HEX_LEN + 1];
		if (!lr_layer_name_hex(de->d_name, hex))
			continue;
		if (*n == MAX_STORE_LAYERS) {
			fprintf(stderr, "labrun-image: more than %d layers; listing stops there\n",
				MAX_STORE_LAYERS);
			break;
		}
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			struct entry *ne = realloc(*es, ncap * sizeof(*ne));
			if (!ne)
				break;
			*es = ne;
			*cap = ncap;
		}
		struct entry *e = &(*es)[(*n)++];
		memset(e, 0, sizeof(*e));
		e->store = store;
		memcpy(e->hex, hex, sizeof(hex));
		struct lr_layer l = {.fd = -1};
		struct lr_error err = {0};
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", store, de->d_name);
		l.path = strdup(path);
		l.fd = lr_layer_open(path, &err); /* a FIFO must not block the listing */
		struct stat st;
		if (l.fd < 0 || fstat(l.fd, &st) < 0) {
			snprintf(e->problem, sizeof(e->problem), "%.255s",
				 l.fd < 0 ? err.msg : strerror(errno));
		} else {
			e->size = (long long)st.st_size;
			if (lr_layer_load(&l, &err) < 0)
				snprintf(e->problem, sizeof(e->problem), "%.255s", err.msg);
			else if (l.meta.has_parent)
				memcpy(e->parent, l.meta.parent_hex, sizeof(e->parent));
		}
		lr_layer_free(&l);
	}
	closedir(d);
	return 0;
}

/* Every layer of the stores, sorted, with how many layers build on each.
 * Returns LR_IMAGE_FAILED when a store cannot be read (reported). */
static int load_stores(char *const *stores, size_t n_stores, struct entry **es, size_t *n)
{
	size_t cap = 0;
	int status = LR_IMAGE_OK;
	for (size_t i = 0; i < n_stores; i++)
		if (scan(stores[i], es, n, &cap) < 0)
			status = LR_IMAGE_FAILED;
	if (*n)
		qsort(*es, *n, sizeof(**es), by_name);
	for (size_t i = 0; i < *n; i++)
		for (size_t j = 0; j < *n; j++)
			if ((*es)[j].parent[0] && !strcmp((*es)[j].parent, (*es)[i].hex))
				(*es)[i].children++;
	return status;
}

int lr_image_list(const struct lr_image_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	int r = lr_image_flag(argc, argv, "json", 0, &json);
	if (r)
		return r;
	char *const *stores = argc > optind ? argv + optind : ctx->stores;
	size_t n_stores = argc > optind ? (size_t)(argc - optind) : ctx->n_stores;
	if (n_stores == 0) {
		fprintf(stderr,
			"labrun-image list: no layer store: set layer-store in labrun.conf, "
			"or name the directories\n");
		return LR_IMAGE_FAILED;
	}
	struct entry *es = NULL;
	size_t n = 0;
	int status = load_stores(stores, n_stores, &es, &n);
	long long total = 0;
	json_t *arr = json ? json_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		struct entry *e = &es[i];
		total += e->size;
		if (e->problem[0]) {
			fprintf(stderr, "labrun-image: %s/sha256-%s.sqfs: %s\n", e->store, e->hex,
				e->problem);
			status = LR_IMAGE_FAILED;
		}
		if (json) {
			json_t *o = json_object();
			json_object_set_new(o, "store", json_string(e->store));
			json_object_set_new(o, "digest", json_sprintf("sha256:%s", e->hex));
			json_object_set_new(o, "size", json_integer(e->size));
			json_object_set_new(o, "parent",
					    e->parent[0] ? json_sprintf("sha256:%s", e->parent)
							 : json_null());
			json_object_set_new(o, "children", json_integer((json_int_t)e->children));
			json_array_append_new(arr, o);
			continue;
		}
		printf("sha256:%.16s  %12lld  %s%.16s  used by %zu%s\n", e->hex, e->size,
		       e->parent[0] ? "parent sha256:" : "base layer", e->parent, e->children,
		       e->problem[0] ? "  BROKEN" : "");
	}
	if (json) {
		json_t *top = json_object();
		json_object_set_new(top, "layers", arr);
		json_object_set_new(top, "total_size", json_integer(total));
		json_dumpf(top, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(top);
	} else {
		printf("%zu layer%s, %lld bytes\n", n, n == 1 ? "" : "s", total);
	}
	free(es);
	return status;
}

/* A layer named on the command line: "sha256:<hex>", "sha256-<hex>.sqfs"
 * (a path too) or bare hex; at least 12 hex digits, a unique prefix. */
#define MIN_DIGEST_PREFIX 12

static const char *digest_arg(const char *arg, char hex[LR_DIGEST_HEX_LEN + 1])
{
	const char *slash = strrchr(arg, '/');
	const char *p = slash ? slash + 1 : arg;
	if (!strncmp(p, "sha256:", 7) || !strncmp(p, "sha256-", 7))
		p += 7;
	size_t len = strspn(p, "0123456789abcdef");
	if (len < MIN_DIGEST_PREFIX || len > LR_DIGEST_HEX_LEN ||
	    (p[len] && strcmp(p + len, ".sqfs") != 0))
		return NULL;
	memcpy(hex, p, len);
	hex[len] = '\0';
	return hex;
}

int lr_image_rm(const struct lr_image_ctx *ctx, int argc, char **argv)
{
	bool force = false;
	int r = lr_image_flag(argc, argv, "force", 'f', &force);
	if (r)
		return r;
	if (optind >= argc) {
		fprintf(stderr, "labrun-image rm: name at least one layer (sha256:<hex>)\n");
		return LR_IMAGE_USAGE;
	}
	if (ctx->n_stores == 0) {
		fprintf(stderr,
			"labrun-image rm: no layer store: set layer-store in labrun.conf\n");
		return LR_IMAGE_FAILED;
	}
	struct entry *es = NULL;
	size_t n = 0;
	int status = load_stores(ctx->stores, ctx->n_stores, &es, &n);
	bool *doomed = calloc(n ? n : 1, sizeof(*doomed));
	if (!doomed) {
		free(es);
		return LR_IMAGE_FAILED;
	}
	/* Which layers: each argument must name exactly one. */
	for (int a = optind; a < argc; a++) {
		char hex[LR_DIGEST_HEX_LEN + 1];
		if (!digest_arg(argv[a], hex)) {
			fprintf(stderr,
				"labrun-image rm: '%s' is not a layer digest (sha256:<at least %d "
				"hex digits>)\n",
				argv[a], MIN_DIGEST_PREFIX);
			status = LR_IMAGE_FAILED;
			continue;
		}
		size_t found = 0, which = 0;
		for (size_t i = 0; i < n; i++)
			if (!strncmp(es[i].hex, hex, strlen(hex))) {
				found++;
				which = i;
			}
		if (found != 1) {
			fprintf(stderr, "labrun-image rm: sha256:%s %s\n", hex,
				found ? "names more than one layer: give more digits"
				      : "is in no layer store");
			status = LR_IMAGE_FAILED;
			continue;
		}
		doomed[which] = true;
	}
	/* A layer others build on stays, unless they go too or --force. */
	for (size_t i = 0; i < n; i++) {
		if (!doomed[i])
			continue;
		size_t staying = 0;
		for (size_t j = 0; j < n; j++)
			if (!doomed[j] && es[j].parent[0] && !strcmp(es[j].parent, es[i].hex))
				staying++;
		if (staying && !force) {
			fprintf(stderr,
				"labrun-image rm: sha256:%.16s is the parent of %zu layer%s in the "
				"stores: remove %s first, or use --force\n",
				es[i].hex, staying, staying == 1 ? "" : "s",
				staying == 1 ? "it" : "them");
			status = LR_IMAGE_FAILED;
			continue;
		}
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/sha256-%s.sqfs", es[i].store, es[i].hex);
		if (unlink(path) < 0) {
			fprintf(stderr, "labrun-image rm: %s: %s\n", path, strerror(errno));
			status = LR_IMAGE_FAILED;
			continue;
		}
		printf("removed %s\n", path);
	}
	free(doomed);
	free(es);
	return status;
}

/* ------------------------------------------------------------ gc */

static int gc_remove(const char *path, const char *why, bool dry_run)
{
	if (!dry_run && unlink(path) < 0) {
		fprintf(stderr, "labrun-image gc: %s: %s\n", path, strerror(errno));
		return LR_IMAGE_FAILED;
	}
	printf("%s %s (%s)\n", dry_run ? "would remove" : "removed", path, why);
	return LR_IMAGE_OK;
}

/* Set by gc_tmp_report() when an unlink fails. */
static int gc_tmp_status;

static void gc_tmp_report(const char *dir, const char *name, bool dry_run, int e)
{
	if (e) {
		fprintf(stderr, "labrun-image gc: %s/%s: %s\n", dir, name, strerror(e));
		gc_tmp_status = LR_IMAGE_FAILED;
		return;
	}
	printf("%s %s/%s (left by a build or import that was killed)\n",
	       dry_run ? "would remove" : "removed", dir, name);
}

/* Temporary files whose writer is gone (image_write.h): a running build's
 * or import's is locked and stays. */
static int gc_tmp_files(const char *store, bool dry_run)
{
	gc_tmp_status = LR_IMAGE_OK;
	lr_out_sweep(store, dry_run, gc_tmp_report);
	return gc_tmp_status;
}

static ssize_t find_layer(const struct entry *es, size_t n, const char *hex)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(es[i].hex, hex))
			return (ssize_t)i;
	return -1;
}

int lr_image_gc(const struct lr_image_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"keep", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	bool dry_run = false;
	const char *keep[LR_MAX_LAYERS];
	size_t n_keep = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:nk:", opts, NULL)) != -1) {
		if (c == 'n')
			dry_run = true;
		else if (c == 'k' && n_keep < LR_MAX_LAYERS)
			keep[n_keep++] = optarg;
		else {
			fprintf(stderr, "labrun-image gc: %s '%s' (see labrun-image --help)\n",
				c == ':' ? "option needs a value:" : "unknown option",
				argv[optind - 1]);
			return LR_IMAGE_USAGE;
		}
	}
	char *const *stores = argc > optind ? argv + optind : ctx->stores;
	size_t n_stores = argc > optind ? (size_t)(argc - optind) : ctx->n_stores;
	if (n_stores == 0) {
		fprintf(stderr, "labrun-image gc: no layer store: set layer-store in labrun.conf, "
				"or name the directories\n");
		return LR_IMAGE_FAILED;
	}
	struct entry *es = NULL;
	size_t n = 0;
	int status = load_stores(stores, n_stores, &es, &n);
	enum { KEEP, BROKEN, NO_PARENT, UNNEEDED } *fate = calloc(n ? n : 1, sizeof(*fate));
	if (!fate) {
		free(es);
		return LR_IMAGE_FAILED;
	}
	/* A layer that does not load, or whose chain down to a base is not in
	 * the stores, cannot run: it goes.  Parents first, so that a child of
	 * a doomed layer is found in the same pass (chains are acyclic and at
	 * most LR_MAX_LAYERS deep). */
	for (size_t i = 0; i < n; i++)
		if (es[i].problem[0])
			fate[i] = BROKEN;
	for (size_t round = 0; round < LR_MAX_LAYERS; round++) {
		bool changed = false;
		for (size_t i = 0; i < n; i++) {
			if (fate[i] != KEEP || !es[i].parent[0])
				continue;
			ssize_t p = find_layer(es, n, es[i].parent);
			if (p < 0 || fate[p] != KEEP) {
				fate[i] = NO_PARENT;
				changed = true;
			}
		}
		if (!changed)
			break;
	}
	/* --keep: only what the named images need stays. */
	if (n_keep) {
		bool *needed = calloc(n ? n : 1, sizeof(*needed));
		for (size_t k = 0; needed && k < n_keep; k++) {
			struct lr_chain *chain = calloc(1, sizeof(*chain));
			struct lr_error err = {0};
			if (!chain ||
			    lr_chain_resolve(chain, keep[k], stores, n_stores, &err) < 0) {
				fprintf(stderr, "labrun-image gc: --keep %s: %s; nothing removed\n",
					keep[k], chain ? err.msg : "out of memory");
				free(chain);
				free(needed);
				free(fate);
				free(es);
				return LR_IMAGE_FAILED;
			}
			for (size_t l = 0; l < chain->n; l++) {
				/* Below the top, a layer is the file named by the
				 * digest its child holds: only the top is hashed. */
				char hex[LR_DIGEST_HEX_LEN + 1];
				if (l > 0)
					memcpy(hex, chain->layers[l - 1].meta.parent_hex,
					       sizeof(hex));
				else if (lr_digest_fd(chain->layers[0].fd, hex, &err) < 0)
					continue;
				ssize_t i = find_layer(es, n, hex);
				if (i >= 0)
					needed[i] = true;
			}
			lr_chain_free(chain);
			free(chain);
		}
		for (size_t i = 0; needed && i < n; i++)
			if (fate[i] == KEEP && !needed[i])
				fate[i] = UNNEEDED;
		free(needed);
	}
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (fate[i] == KEEP) {
			kept++;
			continue;
		}
		static const char *const why[] = {
			[BROKEN] = "not a usable layer",
			[NO_PARENT] = "its parent is in no layer store",
			[UNNEEDED] = "not needed by the --keep images",
		};
		char path[PATH_MAX + 128];
		snprintf(path, sizeof(path), "%s/sha256-%s.sqfs", es[i].store, es[i].hex);
		if (gc_remove(path, why[fate[i]], dry_run))
			status = LR_IMAGE_FAILED;
	}
	for (size_t s = 0; s < n_stores; s++)
		if (gc_tmp_files(stores[s], dry_run))
			status = LR_IMAGE_FAILED;
	printf("%zu layer%s kept\n", kept, kept == 1 ? "" : "s");
	free(fate);
	free(es);
	return status;
}
