/* options.h - the labrun command line, parsed into a struct with no side
 * effects (no file opened, nothing printed), so that it is unit-tested.
 * Runs as the invoking user. */
#ifndef LABRUN_OPTIONS_H
#define LABRUN_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

#define LR_MAX_USER_BINDS 64
#define LR_MAX_USER_ENV 1024
#define LR_LAB_NAME_MAX 32  /* as the lab files allow (labrun-policy(5)) */
#define LR_MAX_ARG_LEN 4096 /* any single option value */
#define LR_HOSTNAME_MAX 64

enum lr_action {
	LR_ACTION_RUN = 0,
	LR_ACTION_HELP,
	LR_ACTION_VERSION,
	LR_ACTION_QUOTA,	/* --quota[=LAB]: show the user's allocation */
	LR_ACTION_STOP_HOLDERS, /* --stop-holders: end the user's layer holders */
};

struct lr_options {
	enum lr_action action;
	int verbose;	   /* -v, repeatable */
	const char *image; /* first operand */
	char **argv;	   /* command after the image (may be empty); points into argv */
	int argc;
	const char *config_path; /* --config FILE (default LR_DEFAULT_CONFIG_PATH) */
	bool remap_root;	 /* --remap-root */
	bool net_none;		 /* --net=none */
	const char *hostname;	 /* --hostname NAME */
	bool has_tmpfs_size;
	uint64_t tmpfs_size;		      /* --tmpfs-size SIZE */
	const char *writable_dir;	      /* --writable=DIR */
	const char *binds[LR_MAX_USER_BINDS]; /* --bind SPEC, parsed later with lr_bind_parse */
	int n_binds;
	const char *env[LR_MAX_USER_ENV]; /* --env K=V */
	int n_env;
	bool cleanenv;	       /* --cleanenv */
	const char *workdir;   /* --workdir DIR */
	const char *quota_lab; /* --quota=LAB */
	const char *lab;       /* --lab LAB */
	bool no_holder;	       /* --no-holder: mount the layers in this labrun only */
};

/* Parse argv.  Options come before IMAGE; everything after IMAGE (or after
 * "--" following IMAGE) is the command, passed untouched.  On error returns
 * -EINVAL with a message naming the option, e.g.
 *   "--tmpfs-size: '12Q' is not a size (use e.g. 512M, 2G)". */
int lr_options_parse(struct lr_options *o, int argc, char **argv, struct lr_error *err);

/* The --help text. */
extern const char lr_options_usage[];

#endif
