/* image_store.c - labrun-image list: what the layer stores hold.  Runs as
 * the invoking user; layers are parsed only with the user's own rights. */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h> /* optind */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_commands.h"
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

/* "sha256-<64 lower-case hex>.sqfs" -> the hex. */
static bool layer_name(const char *name, char hex[LR_DIGEST_HEX_LEN + 1])
{
	if (strncmp(name, "sha256-", 7) != 0 || strlen(name) != 7 + LR_DIGEST_HEX_LEN + 5 ||
	    strcmp(name + 7 + LR_DIGEST_HEX_LEN, ".sqfs") != 0)
		return false;
	for (size_t i = 0; i < LR_DIGEST_HEX_LEN; i++) {
		char c = name[7 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	memcpy(hex, name + 7, LR_DIGEST_HEX_LEN);
	hex[LR_DIGEST_HEX_LEN] = '\0';
	return true;
}

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
		if (!layer_name(de->d_name, hex))
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
		l.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		struct stat st;
		if (l.fd < 0 || fstat(l.fd, &st) < 0) {
			snprintf(e->problem, sizeof(e->problem), "%s", strerror(errno));
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
