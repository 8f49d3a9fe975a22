/* labrun-image - build, inspect and verify layered squashfs images (DESIGN.md §2).
 *
 * Runs as the invoking user and needs no privilege.  This file parses the
 * global options and dispatches to one function per command
 * (image_commands.h).  Exit status: 0 success, 1 the command failed or
 * found a problem, 2 a bad command line.
 */
#include "build-config.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "image_commands.h"
#include "log.h"

static const char usage[] =
	"Usage: labrun-image [OPTIONS] COMMAND [ARGS...]\n"
	"\n"
	"Build, look at and check layered squashfs images, as labrun(1) runs them.\n"
	"\n"
	"Commands:\n"
	"  inspect [--json] IMAGE   the layer chain (files, digests, sizes, parents)\n"
	"                           and the merged config (entrypoint, cmd, env,\n"
	"                           workdir, labels), provenance\n"
	"  verify IMAGE             check that every parent is present, is a sane\n"
	"                           squashfs and has the digest its child names\n"
	"  list [--json] [DIR...]   the layers in the layer stores of labrun.conf\n"
	"                           (or in DIRs): digest, size, parent, and how many\n"
	"                           layers in the stores build on each\n"
	"  rm [--force] DIGEST...   remove layers from the layer stores; one that\n"
	"                           others build on stays unless they go too or\n"
	"                           --force (DIGEST: sha256:<hex>, a unique prefix\n"
	"                           of at least 12 digits, or the file's name)\n"
	"  build (--from DIR | --from-tar FILE|-) [-o OUT] [--parent IMAGE [--diff]]\n"
	"        [--entrypoint CMD] [--cmd CMD] [--env K=V]... [--workdir DIR]\n"
	"        [--label K=V]... [--compression lz4|gzip|zstd|xz|none]\n"
	"        [--block-size SIZE] [--owner-map keep|root|FROM:TO[:N],...]\n"
	"        [--keep-special] [--store DIR]\n"
	"                           write one layer (to OUT, else into the layer\n"
	"                           store) from a directory or a tar stream; with\n"
	"                           --parent only what differs from IMAGE (--diff:\n"
	"                           the input already is the difference); prints\n"
	"                           its digest.  CMD: a JSON array or words\n"
	"  import [-o OUT] [--store DIR] [--compression C] [--block-size SIZE]\n"
	"         [--keep-special] SOURCE\n"
	"                           convert an image, one squashfs layer per image\n"
	"                           layer, into the layer store; prints the top\n"
	"                           layer's digest.  SOURCE: docker-archive:FILE,\n"
	"                           oci-archive:FILE or oci:DIR[:TAG]\n"
	"  flatten [-o OUT] [--store DIR] [--keep-special] IMAGE\n"
	"                           one layer holding IMAGE's merged view and config\n"
	"  config CONFIG-OPTIONS [-o OUT] [--store DIR] IMAGE\n"
	"                           a layer on IMAGE holding only a changed config\n"
	"                           (--entrypoint, --cmd, --env, --workdir, --label)\n"
	"  gc [--dry-run] [--keep IMAGE]... [DIR...]\n"
	"                           remove broken layers, layers whose parent is\n"
	"                           gone, temporary files of killed builds and\n"
	"                           imports; with --keep, also every layer the\n"
	"                           named images do not need\n"
	"\n"
	"build, import and flatten leave device nodes out of the layer and clear\n"
	"setuid/setgid bits and file capabilities (security.capability), saying\n"
	"so in one line; --keep-special stores them as given, for an admin who\n"
	"builds a trusted layer on purpose.  Whiteouts naming \".\" or \"..\" are\n"
	"refused.\n"
	"\n"
	"Options (before COMMAND):\n"
	"  -c, --config FILE  read FILE for the layer stores instead of the admin's\n"
	"                     labrun.conf,\n"
	"                     " LR_DEFAULT_CONFIG_PATH "\n"
	"  -v, --verbose      say what labrun-image does; repeat for more detail\n"
	"  -h, --help         print this help and exit\n"
	"  -V, --version      print the version and exit\n"
	"\n"
	"Exit status: 0 success; 1 the command failed or found a problem (one line\n"
	"per problem on stderr); 2 a bad command line.\n";

struct command {
	const char *name;
	int (*run)(const struct lr_image_ctx *ctx, int argc, char **argv);
};

static const struct command commands[] = {
	{"inspect", lr_image_inspect}, {"verify", lr_image_verify}, {"list", lr_image_list},
	{"rm", lr_image_rm},	       {"build", lr_image_build},   {"import", lr_image_import},
	{"flatten", lr_image_flatten}, {"config", lr_image_config}, {"gc", lr_image_gc},
};

int lr_image_flag(int argc, char **argv, const char *name, int short_opt, bool *flag)
{
	struct option opts[] = {{name, no_argument, NULL, 'F'}, {NULL, 0, NULL, 0}};
	char shorts[4] = "+";
	if (name && short_opt)
		shorts[1] = (char)short_opt;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, shorts, name ? opts : opts + 1, NULL)) != -1) {
		if (c == 'F' || (short_opt && c == short_opt)) {
			*flag = true;
			continue;
		}
		fprintf(stderr, "labrun-image %s: unknown option '%s' (see labrun-image --help)\n",
			argv[0], argv[optind - 1]);
		return LR_IMAGE_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = LR_DEFAULT_CONFIG_PATH;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'v': lr_log_level++; break;
		case 'h': fputs(usage, stdout); return LR_IMAGE_OK;
		case 'V': printf("labrun-image %s\n", PACKAGE_VERSION); return LR_IMAGE_OK;
		case ':':
			fprintf(stderr, "labrun-image: option '%s' needs a value\n",
				argv[optind - 1]);
			return LR_IMAGE_USAGE;
		default:
			fprintf(stderr,
				"labrun-image: unknown option '%s' (see labrun-image --help)\n",
				argv[optind - 1]);
			return LR_IMAGE_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "labrun-image: missing COMMAND (see labrun-image --help)\n");
		return LR_IMAGE_USAGE;
	}
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "labrun-image: unknown command '%s' (see labrun-image --help)\n",
			argv[optind]);
		return LR_IMAGE_USAGE;
	}

	struct passwd *pw = getpwuid(getuid());
	struct lr_expand ex = {.home = pw ? pw->pw_dir : NULL, .user = pw ? pw->pw_name : NULL};
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	bool default_config = !strcmp(config_path, LR_DEFAULT_CONFIG_PATH);
	if (lr_config_load(&cfg, config_path, default_config, &ex, &err) < 0) {
		fprintf(stderr, "labrun-image: %s\n", err.msg);
		return LR_IMAGE_FAILED;
	}
	struct lr_image_ctx ctx = {.stores = cfg.stores, .n_stores = cfg.n_stores};
	/* The command gets its own argv, starting at its name, and parses it
	 * with a fresh getopt. */
	int first = optind;
	optind = 0;
	int r = cmd->run(&ctx, argc - first, argv + first);
	lr_config_free(&cfg);
	return r;
}
