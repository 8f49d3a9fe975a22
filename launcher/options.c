/* options.c - the labrun command line (see options.h).
 *
 * Runs as the invoking user.  Pure: parses argv into a struct, opens
 * nothing, prints nothing, so that every rule below is unit-tested
 * (tests/unit/test_options.c).  Command-line values are untrusted
 * (notes/security.md, invariant 2): each is length-bounded and checked
 * here, counts are capped, sizes go through lr_parse_size().
 *
 * Options come only before IMAGE ("+" in the getopt string: POSIX rules,
 * whatever POSIXLY_CORRECT says).  Everything after IMAGE is the job's
 * command, untouched, so that `labrun img ls -l` runs `ls -l` rather than
 * failing on an option of labrun's own.
 */
#include "build-config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "options.h"

#define SEE_HELP "(see labrun --help)"

/* Values of the options that have no short form. */
enum {
	OPT_CLEANENV = 256,
	OPT_WRITABLE,
	OPT_TMPFS_SIZE,
	OPT_REMAP_ROOT,
	OPT_NET,
	OPT_HOSTNAME,
	OPT_QUOTA,
	OPT_LAB,
	OPT_NO_HOLDER,
	OPT_STOP_HOLDERS,
};

/* ':' first: a missing value returns ':' instead of '?', so the two
 * errors get their own messages. */
static const char short_options[] = "+:b:e:w:c:vhV";

static const struct option long_options[] = {
	{"bind", required_argument, NULL, 'b'},
	{"env", required_argument, NULL, 'e'},
	{"cleanenv", no_argument, NULL, OPT_CLEANENV},
	{"workdir", required_argument, NULL, 'w'},
	{"writable", required_argument, NULL, OPT_WRITABLE},
	{"tmpfs-size", required_argument, NULL, OPT_TMPFS_SIZE},
	{"remap-root", no_argument, NULL, OPT_REMAP_ROOT},
	{"net", required_argument, NULL, OPT_NET},
	{"hostname", required_argument, NULL, OPT_HOSTNAME},
	{"quota", optional_argument, NULL, OPT_QUOTA},
	{"lab", required_argument, NULL, OPT_LAB},
	{"no-holder", no_argument, NULL, OPT_NO_HOLDER},
	{"stop-holders", no_argument, NULL, OPT_STOP_HOLDERS},
	{"config", required_argument, NULL, 'c'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

const char lr_options_usage[] =
	"Usage: labrun [OPTIONS] IMAGE [--] [COMMAND [ARG...]]\n"
	"\n"
	"Run COMMAND in a container made from the squashfs image IMAGE and the parent\n"
	"layers it names, without privilege.  Without COMMAND the image's entrypoint\n"
	"and cmd run, else /bin/sh -l.  COMMAND replaces the image's cmd, not its\n"
	"entrypoint.\n"
	"\n"
	"Options must come before IMAGE: every word after IMAGE belongs to the\n"
	"command, even one that looks like an option (labrun img ls -l).\n"
	"\n"
	"  -b, --bind SRC[:DST[:ro|rw]]\n"
	"                        show host path SRC at DST (default: the same path),\n"
	"                        read-only with ro; ~, $HOME and $USER are expanded;\n"
	"                        repeatable\n"
	"  -e, --env KEY=VALUE   set KEY in the job's environment, over the image's;\n"
	"                        repeatable\n"
	"      --cleanenv        start from HOME, USER, LOGNAME, TERM and a default\n"
	"                        PATH instead of the whole host environment\n"
	"  -w, --workdir DIR     working directory in the container (must exist);\n"
	"                        default: the current directory when a bind shows it,\n"
	"                        else the image's workdir, else /\n"
	"      --writable=DIR    keep changes to the container's files in DIR/upper\n"
	"                        (DIR is created when missing; yours, writable by\n"
	"                        nobody else, not a symlink) instead of on a tmpfs\n"
	"                        that is discarded at exit\n"
	"      --tmpfs-size SIZE size of that tmpfs and of /tmp, e.g. 512M or 2G, 1M\n"
	"                        to 64T (default: tmpfs-size in labrun.conf, else 1G)\n"
	"      --remap-root      run the job as root (uid 0) in the container; it gains\n"
	"                        no privilege outside\n"
	"      --net=none        no network: the container has only a loopback device\n"
	"      --hostname NAME   set the container's host name (letters, digits, '.'\n"
	"                        and '-', at most 64)\n"
	"      --lab LAB         run under your allocation in LAB (needed when you\n"
	"                        are a member of more than one lab)\n"
	"      --quota[=LAB]     show your allocation in each of your labs (or in\n"
	"                        LAB), from the admin's lab files, and the GPU-hours\n"
	"                        used this month from Slurm's accounting, and exit;\n"
	"                        no IMAGE\n"
	"      --no-holder       mount the image's layers for this container only,\n"
	"                        instead of through your layer holder, which keeps\n"
	"                        them mounted for your next containers (labrun(1))\n"
	"      --stop-holders    end your layer holders on this node once the\n"
	"                        containers using them have ended, and exit; no IMAGE\n"
	"  -c, --config FILE     read FILE instead of the admin's labrun.conf,\n"
	"                        " LR_DEFAULT_CONFIG_PATH "\n"
	"  -v, --verbose         say what labrun does; repeat for more detail\n"
	"  -h, --help            print this help and exit\n"
	"  -V, --version         print labrun's version and exit\n"
	"\n"
	"Exit status:\n"
	"  the job's own exit status when the job ran;\n"
	"  125  labrun itself failed (one line on stderr says what and why);\n"
	"  126  COMMAND was found but could not be executed;\n"
	"  127  COMMAND was not found;\n"
	"  a job killed by a signal makes labrun end by that same signal, so that\n"
	"  the shell reports it as it would for the job itself.\n";

/* "--bind", for messages; every option has a long name. */
static const char *long_name(int val)
{
	for (const struct option *o = long_options; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

static bool is_known_val(int val)
{
	for (const struct option *o = long_options; o->name; o++)
		if (o->val == val)
			return true;
	return false;
}

/* getopt returned '?'.  Three cases, told apart by optopt:
 *  - a known value: a long option without argument given "=VALUE" (a
 *    known short option never gives '?');
 *  - another character: an unknown short option;
 *  - 0: an unknown or ambiguous long option, the word just consumed.
 * Nothing was printed (opterr = 0); the message is built here. */
static int bad_option(char **argv, struct lr_error *err)
{
	if (optopt != 0 && is_known_val(optopt))
		return lr_error_set(err, EINVAL, "option '--%s' takes no value", long_name(optopt));
	if (optopt != 0)
		return lr_error_set(err, EINVAL, "unknown option '-%c' " SEE_HELP, optopt);

	const char *word = argv[optind - 1];
	size_t n = strcspn(word, "=");
	if (n > 64)
		n = 64; /* enough to recognise; the message stays one line */
	char matches[256] = "";
	size_t len = 0, count = 0;
	for (const struct option *o = long_options; o->name; o++) {
		if (n > 2 && !strncmp(o->name, word + 2, n - 2)) {
			len += (size_t)snprintf(matches + len, sizeof(matches) - len, "%s--%s",
						count ? ", " : "", o->name);
			count++;
		}
	}
	if (count > 1)
		return lr_error_set(err, EINVAL, "ambiguous option '%.*s' (could be %s)", (int)n,
				    word, matches);
	return lr_error_set(err, EINVAL, "unknown option '%.*s' " SEE_HELP, (int)n, word);
}

/* 1..LR_HOSTNAME_MAX of [A-Za-z0-9.-], not starting with '-' or '.': a
 * name sethostname(2) takes and that no tool reads as an option. */
static bool is_hostname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LR_HOSTNAME_MAX || s[0] == '-' || s[0] == '.')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

/* One option with its value (NULL for those without). */
static int apply(struct lr_options *o, int c, const char *arg, struct lr_error *err)
{
	switch (c) {
	case 'b':
		if (o->n_binds == LR_MAX_USER_BINDS)
			return lr_error_set(err, E2BIG, "--bind: more than %d binds",
					    LR_MAX_USER_BINDS);
		o->binds[o->n_binds++] = arg; /* checked by lr_bind_parse() later */
		return 0;
	case 'e': {
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg)
			return lr_error_set(err, EINVAL, "--env '%.64s': expected KEY=VALUE", arg);
		if (o->n_env == LR_MAX_USER_ENV)
			return lr_error_set(err, E2BIG, "--env: more than %d variables",
					    LR_MAX_USER_ENV);
		o->env[o->n_env++] = arg;
		return 0;
	}
	case OPT_CLEANENV: o->cleanenv = true; return 0;
	case OPT_LAB:
		if (!*arg || strlen(arg) > LR_LAB_NAME_MAX || strchr(arg, '/') || arg[0] == '.')
			return lr_error_set(err, EINVAL, "--lab '%.64s': not a lab's name", arg);
		o->lab = arg;
		return 0;
	case OPT_NO_HOLDER: o->no_holder = true; return 0;
	case OPT_STOP_HOLDERS: o->action = LR_ACTION_STOP_HOLDERS; return 0;
	case OPT_QUOTA:
		o->action = LR_ACTION_QUOTA;
		o->quota_lab = arg && *arg ? arg : NULL;
		return 0;
	case 'w':
		if (arg[0] != '/')
			return lr_error_set(err, EINVAL,
					    "--workdir '%.128s': must be an absolute path in the "
					    "container",
					    arg);
		o->workdir = arg;
		return 0;
	case OPT_WRITABLE:
		if (!*arg)
			return lr_error_set(err, EINVAL, "--writable: needs a directory");
		o->writable_dir = arg;
		return 0;
	case OPT_TMPFS_SIZE:
		if (lr_tmpfs_size_parse(arg, &o->tmpfs_size, err) < 0)
			return lr_error_prefix(err, "--tmpfs-size");
		o->has_tmpfs_size = true;
		return 0;
	case OPT_REMAP_ROOT: o->remap_root = true; return 0;
	case OPT_NET:
		if (strcmp(arg, "none") != 0)
			return lr_error_set(err, EINVAL,
					    "--net: '%.64s' is not supported (only 'none' is)",
					    arg);
		o->net_none = true;
		return 0;
	case OPT_HOSTNAME:
		if (!is_hostname(arg))
			return lr_error_set(
				err, EINVAL,
				"--hostname '%.64s': use 1 to %d letters, digits, '.' and "
				"'-', not starting with '-' or '.'",
				arg, LR_HOSTNAME_MAX);
		o->hostname = arg;
		return 0;
	case 'c':
		if (!*arg)
			return lr_error_set(err, EINVAL, "--config: needs a file name");
		o->config_path = arg;
		return 0;
	case 'v':
		if (o->verbose < INT_MAX)
			o->verbose++;
		return 0;
	}
	return lr_error_set(err, EINVAL, "option '%d' not handled", c); /* a bug: table vs switch */
}

int lr_options_parse(struct lr_options *out, int argc, char **argv, struct lr_error *err)
{
	struct lr_options o;
	memset(&o, 0, sizeof(o));
	o.action = LR_ACTION_RUN;
	o.config_path = LR_DEFAULT_CONFIG_PATH;

	/* optind = 0 makes glibc reinitialise getopt's hidden state (the
	 * position inside "-vvb"), so that parsing can be repeated, as the
	 * tests do.  opterr = 0: lib and parsers print nothing. */
	optind = 0;
	opterr = 0;
	int c, r;
	while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		if (c == '?')
			return bad_option(argv, err);
		if (c == ':')
			return lr_error_set(err, EINVAL, "option '--%s' needs a value",
					    long_name(optopt));
		if (optarg && strnlen(optarg, LR_MAX_ARG_LEN + 1) > LR_MAX_ARG_LEN)
			return lr_error_set(err, E2BIG, "--%s: value longer than %d bytes",
					    long_name(c), LR_MAX_ARG_LEN);
		/* --help and --version win over anything after them, as in
		 * GNU tools: `labrun --help --bogus` prints the help. */
		if (c == 'h' || c == 'V') {
			o.action = c == 'h' ? LR_ACTION_HELP : LR_ACTION_VERSION;
			*out = o;
			return 0;
		}
		if ((r = apply(&o, c, optarg, err)) < 0)
			return r;
	}

	if (o.action == LR_ACTION_QUOTA || o.action == LR_ACTION_STOP_HOLDERS) {
		if (optind < argc)
			return lr_error_set(err, EINVAL,
					    "--%s takes no IMAGE or COMMAND, not '%.64s'",
					    o.action == LR_ACTION_QUOTA ? "quota" : "stop-holders",
					    argv[optind]);
		*out = o;
		return 0;
	}
	if (optind >= argc)
		return lr_error_set(err, EINVAL, "missing IMAGE " SEE_HELP);
	o.image = argv[optind];
	if (!*o.image)
		return lr_error_set(err, EINVAL, "IMAGE is an empty string " SEE_HELP);
	if (strnlen(o.image, LR_MAX_ARG_LEN + 1) > LR_MAX_ARG_LEN)
		return lr_error_set(err, E2BIG, "IMAGE: longer than %d bytes", LR_MAX_ARG_LEN);

	int first = optind + 1;
	if (first < argc && !strcmp(argv[first], "--"))
		first++; /* `labrun img -- cmd`: the separator is labrun's */
	o.argv = argv + first;
	o.argc = argc - first;
	*out = o;
	return 0;
}
