/* labrun-layerd - the node's layer service (labrun-layerd(8), layerd.h):
 * mounts the admin's trusted layers once per node with the kernel's
 * squashfs driver and hands every container a copy.
 *
 * Runs as root, in the foreground (a systemd service, etc/systemd/), until
 * SIGTERM; this file only parses, calls lib and reports.  Exit status: 0
 * after SIGTERM, 1 on an error (one line on stderr).
 */
#include "build-config.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "layerd.h"
#include "log.h"

static const char usage[] =
	"Usage: labrun-layerd [-c FILE] [--socket PATH] [-v]\n"
	"Mount the layers of the trusted store (trusted-layer-store in labrun.conf) once\n"
	"for this node with the kernel's squashfs driver, and give every container a\n"
	"copy of those it uses.  Runs as root, in the foreground, until SIGTERM.\n"
	"\n"
	"  -c, --config FILE   read FILE instead of " LR_DEFAULT_CONFIG_PATH "\n"
	"      --socket PATH   listen on PATH instead of " LR_LAYERD_SOCKET "\n"
	"  -v, --verbose       say what is mounted and unmounted, on stderr\n"
	"  -h, --help          print this help and exit\n";

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"config", required_argument, NULL, 'c'},
		{"socket", required_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = LR_DEFAULT_CONFIG_PATH, *socket_path = LR_LAYERD_SOCKET;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:vh", longs, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 's': socket_path = optarg; break;
		case 'v': lr_log_level++; break;
		case 'h': fputs(usage, stdout); return 0;
		default:
			fprintf(stderr, "labrun-layerd: unknown option %s (see --help)\n",
				argv[optind - 1]);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "labrun-layerd: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return 1;
	}
	struct passwd *pw = getpwuid(geteuid());
	struct lr_expand ex = {.home = pw ? pw->pw_dir : "/", .user = pw ? pw->pw_name : "root"};
	struct lr_config cfg;
	struct lr_error err = {0};
	lr_config_init(&cfg);
	if (lr_config_load(&cfg, config, false, &ex, &err) < 0) {
		fprintf(stderr, "labrun-layerd: %s\n", err.msg);
		return 1;
	}
	if (!cfg.trusted_store) {
		fprintf(stderr,
			"labrun-layerd: %s names no trusted-layer-store: nothing to serve\n",
			config);
		return 1;
	}
	if (lr_layerd_serve(socket_path, cfg.trusted_store, cfg.holder_idle, &err) < 0) {
		fprintf(stderr, "labrun-layerd: %s\n", err.msg);
		return 1;
	}
	lr_config_free(&cfg);
	return 0;
}
