#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine, as root:
#   scripts/test.sh [--no-deps]
# Installs the dependencies (Debian packages), prepares the test user and
# /dev/fuse, builds in build/ with warnings as errors, runs `make check`
# (unit, launcher tests: TAP) and ends with "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

deps=1
for a in "$@"; do
	case $a in
	--no-deps) deps=0 ;;
	-h | --help)
		sed -n '2,6p' "$0"
		exit 0
		;;
	*)
		echo "test.sh: unknown argument '$a' (use --no-deps)" >&2
		exit 2
		;;
	esac
done

phase() { printf '\n=== %s\n' "$*"; }

if [ "$deps" = 1 ]; then
	phase "dependencies (Debian packages)"
	scripts/install-deps.sh
fi
if [ "$(id -u)" -eq 0 ]; then
	phase "test environment"
	scripts/setup-test-env.sh
fi

phase "build"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi
fi
mkdir -p build
cd build
if [ ! -f Makefile ] || [ ../configure -nt Makefile ]; then
	../configure --enable-werror --sysconfdir=/etc
fi
make -j"$(nproc)"

phase "tests"
rc=0
# The Slurm tests start the cluster of scripts/slurm-local.sh (each file's
# setup_file, idempotent) and leave it up for the next file: stopped again
# at the end when it was not running before, as the machine was found.
slurm_was_up=0
if [ "$(id -u)" -eq 0 ] && "$top/scripts/slurm-local.sh" status >/dev/null 2>&1; then
	slurm_was_up=1
fi
# Where the Slurm tests install the plugin of the build (tests/slurm/
# slurm.bash, PLUGIN_DIR; each file puts plugstack.conf back itself):
# removed at the end when it was not there before.
plugin_dir=/var/lib/labrun-tests
plugin_dir_was=0
[ ! -e "$plugin_dir" ] || plugin_dir_was=1
# Launcher tests share one test user; run-bats serialises them itself.
make -j"$(nproc)" check VERBOSE=1 >check.out 2>&1 || rc=$?
# (stop is idempotent: nothing to stop when no Slurm test ran.)
if [ "$(id -u)" -eq 0 ] && [ "$slurm_was_up" = 0 ]; then
	"$top/scripts/slurm-local.sh" stop >>check.out 2>&1 || {
		echo "test.sh: the local Slurm the tests started did not stop (check.out)" >&2
		rc=1
	}
fi
if [ "$(id -u)" -eq 0 ] && [ "$plugin_dir_was" = 0 ]; then
	rm -rf "$plugin_dir"
fi
# The TAP of every test, then failures' logs come from VERBOSE=1.
find tests -name '*.log' ! -name test-suite.log | sort | while read -r log; do
	printf '# %s\n' "${log%.log}"
	cat "$log"
done
if [ "$rc" -ne 0 ]; then
	# Build errors of test programs and the failed tests' logs.
	grep -v '^PASS\|^SKIP' check.out | tail -n 60 || true
fi
phase "summary"
"$top/tests/tap-summary" . || rc=1
exit "$rc"
