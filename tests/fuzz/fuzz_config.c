/* fuzz_config.c - libFuzzer target for labrun.conf and bind specifications
 * (lib/run/config.c).  Build and run: tests/fuzz/README.md.
 *
 * labrun.conf is the admin's, but its parser also reads whatever a user
 * passes with --config, and lr_bind_parse() reads every --bind: both take
 * untrusted text.  Besides memory errors (ASan, UBSan), this target aborts
 * when a promise of config.h breaks:
 *  - on success every path is absolute and normalised, every limit holds;
 *  - on failure there is a message and the config is exactly the defaults.
 */
#include "build-config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct lr_expand ex = {.home = "/home/fuzz", .user = "fuzz"};

static void check(int ok)
{
	if (!ok)
		abort();
}

/* Absolute, no "//", no "." or ".." component, no trailing '/'. */
static int is_normal(const char *p)
{
	if (p[0] != '/')
		return 0;
	if (!strcmp(p, "/"))
		return 1;
	if (p[strlen(p) - 1] == '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
		return 0;
	const char *last = strrchr(p, '/');
	return strcmp(last, "/.") != 0 && strcmp(last, "/..") != 0;
}

static void check_bind(const struct lr_bind *b)
{
	check(b->src && b->dst);
	check(is_normal(b->src) && is_normal(b->dst));
	check(strcmp(b->dst, "/") != 0);
	check(strlen(b->src) < PATH_MAX && strlen(b->dst) < PATH_MAX);
}

static void fuzz_config(const char *text, size_t size)
{
	struct lr_config cfg, pristine;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	lr_config_init(&pristine);
	if (lr_config_parse(&cfg, "fuzz.conf", text, size, &ex, &err) == 0) {
		check(cfg.n_stores <= LR_CONFIG_MAX_STORES && cfg.n_binds <= LR_CONFIG_MAX_BINDS);
		for (size_t i = 0; i < cfg.n_stores; i++)
			check(is_normal(cfg.stores[i]));
		for (size_t i = 0; i < cfg.n_binds; i++) {
			check_bind(&cfg.binds[i]);
			check(cfg.binds[i].optional);
		}
		check(cfg.tmpfs_size >= LR_MIN_TMPFS_SIZE && cfg.tmpfs_size != UINT64_MAX);
	} else {
		check(err.msg[0] != '\0' && err.code != 0);
		check(memcmp(&cfg, &pristine, sizeof(cfg)) == 0);
	}
	lr_config_free(&cfg);
}

/* The same bytes as one --bind value (cut at the first NUL, as argv is). */
static void fuzz_bind(const char *data, size_t size)
{
	char *spec = malloc(size + 1);
	if (!spec)
		return;
	memcpy(spec, data, size);
	spec[size] = '\0';
	struct lr_bind b = {0};
	struct lr_error err = {0};
	if (lr_bind_parse(&b, spec, &ex, &err) == 0)
		check_bind(&b);
	else
		check(err.msg[0] != '\0' && b.src == NULL && b.dst == NULL);
	lr_bind_free(&b);
	free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_config((const char *)data, size);
	fuzz_bind((const char *)data, size);
	return 0;
}
