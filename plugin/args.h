/* args.h - the Slurm plugin's options, in one table, and its plugstack.conf
 * arguments (DESIGN.md §4).
 *
 * Pure: parses strings into structs, calls no SPANK function, opens
 * nothing, so every rule is unit-tested (tests/unit/test_spank_args.c).
 * Runs in srun (as the user) and in slurmstepd (as root): every value is
 * the user's and untrusted, so each is length-bounded and checked here.
 */
#ifndef LABRUN_PLUGIN_ARGS_H
#define LABRUN_PLUGIN_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define LR_SPANK_VALUE_MAX 4096 /* one option's value */
#define LR_SPANK_MAX_MOUNTS 64	/* --container-mounts entries */
#define LR_SPANK_MAX_ENV 64	/* --container-env names */

enum lr_spank_opt {
	LR_OPT_IMAGE,	   /* --container-image IMAGE */
	LR_OPT_MOUNTS,	   /* --container-mounts SRC[:DST[:ro|rw]][,...] */
	LR_OPT_WORKDIR,	   /* --container-workdir DIR */
	LR_OPT_WRITABLE,   /* --container-writable[=DIR] */
	LR_OPT_REMAP_ROOT, /* --container-remap-root */
	LR_OPT_ENV,	   /* --container-env NAME[,NAME...] */
	LR_OPT_ENTRYPOINT, /* --container-entrypoint */
	LR_OPT_LAB,	   /* --container-lab LAB */
	LR_OPT_COUNT
};

/* One row per option: its name without "--", the argument it takes (0
 * none, 1 required, 2 optional, as SPANK's has_arg), the environment
 * variable read when the option is not given, and srun --help's text. */
struct lr_spank_option {
	const char *name;
	const char *arginfo;
	int has_arg;
	const char *env;
	const char *usage;
};
extern const struct lr_spank_option lr_spank_options[LR_OPT_COUNT];

struct lr_spank_args {
	bool given[LR_OPT_COUNT]; /* set by an option or its variable */
	char *image;
	char *mounts; /* checked for shape; parsed as binds where the user is known */
	size_t n_mounts;
	char *workdir;
	bool writable;
	char *writable_dir; /* NULL: changes go to a tmpfs */
	bool remap_root;
	char *env[LR_SPANK_MAX_ENV];
	size_t n_env;
	bool entrypoint;
	char *lab;
};

/* Option opt with value (NULL for options without one) into a.  A flag's
 * variable counts as set when it is "1", "yes" or "true", and unset when
 * "0", "no", "false" or empty; anything else is an error. */
int lr_spank_args_set(struct lr_spank_args *a, enum lr_spank_opt opt, const char *value,
		      struct lr_error *err);

/* What a getenv_fn returns for a variable that is set but longer than it
 * can hold (spank_getenv's ESPANK_NOSPACE): an error, never "unset",
 * which would drop the option or, for SLURM_CONTAINER, the container. */
extern const char lr_spank_env_too_long[];

/* The LABRUN_* variables of the options not given, from getenv_fn. */
int lr_spank_args_from_env(struct lr_spank_args *a,
			   const char *(*getenv_fn)(const char *name, void *ctx), void *ctx,
			   struct lr_error *err);

void lr_spank_args_free(struct lr_spank_args *a);

/* The step's container helper, installed root-owned beside the plugin's
 * other programs; plugstack.conf's helper= names another (tests). */
#ifndef LR_STEP_HELPER
#define LR_STEP_HELPER "/usr/local/libexec/labrun/labrun-step"
#endif

/* How long slurmstepd waits for the step's container (its entrypoint
 * included) before it kills the helper and fails the step: user_init
 * blocks the whole step, and Slurm defers scancel until the tasks exist,
 * so an unbounded wait here wedges the node (issue 12, item 12). */
#define LR_HELPER_START_TIMEOUT 60 /* seconds, plugstack.conf timeout= */
#define LR_HELPER_START_TIMEOUT_MAX 3600

/* plugstack.conf's arguments: "required spank_labrun.so config=FILE
 * helper=FILE signals=forward|slurm timeout=SECONDS".  An unknown argument
 * is an error: a typo must not leave a site running with a default it did
 * not mean. */
enum lr_spank_signals {
	LR_SIGNALS_FORWARD, /* the waiter passes every signal on (proctrack/cgroup) */
	LR_SIGNALS_SLURM,   /* only those not from slurmstepd (proctrack/linuxproc) */
};
struct lr_spank_conf {
	const char *config; /* labrun.conf; NULL: the default */
	const char *helper; /* labrun-step */
	enum lr_spank_signals signals;
	unsigned timeout; /* seconds for the container to be ready */
};
int lr_spank_conf_parse(struct lr_spank_conf *c, int argc, char *const *argv, struct lr_error *err);

#endif
