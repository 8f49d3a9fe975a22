#!/bin/bash
# Build labrun and show it, from a fresh Debian 12 machine, as root:
#   scripts/demo.sh
# Installs the dependencies (Debian packages), builds and installs labrun
# (/usr/local), builds example images (a busybox image, a three-layer
# image whose parents sit in a layer store, and the example stack of
# images/: Debian, python3+numpy and two applications on them), and runs
# commands in them as the unprivileged user labrun-test; then starts a
# single-node Slurm on localhost with its accounting (scripts/slurm-local.sh:
# munge, MariaDB, slurmdbd, slurmctld, slurmd) and labrun's plugin, and runs
# jobs with srun --container= on the example images.  The Slurm daemons
# stay up: scripts/slurm-local.sh stop ends them (start --nodes 3 gives a
# cluster of three nodes instead).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
phase() { printf '\n=== %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (it installs packages and labrun itself)" >&2
	exit 1
fi

phase "dependencies (Debian packages)"
scripts/install-deps.sh
scripts/setup-test-env.sh

phase "build and install"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi
fi
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure --enable-werror --sysconfdir=/etc; } && make -j"$(nproc)" &&
	make install >/dev/null)
command -v labrun
labrun --version

phase "example images"
demo=/var/tmp/labrun-demo
mkdir -p "$demo"
tests/images/build.sh "$demo/images" >/dev/null
cat >"$demo/labrun.conf" <<CONF
# The demo's layer store: parents of top.sqfs, named sha256-<digest>.sqfs.
layer-store = $demo/images/store
CONF
chmod -R a+rX "$demo"
ls -l "$demo/images/busybox.sqfs" "$demo/images/top.sqfs" "$demo/images/store"

as_user() { setpriv --reuid=labrun-test --regid=labrun-test --init-groups --reset-env \
	env PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/labrun-test USER=labrun-test "$@"; }

phase "labrun busybox.sqfs: who and where am I?"
as_user labrun "$demo/images/busybox.sqfs" /bin/sh -c \
	'echo "hello from $(hostname) as $(id -un) (uid $(id -u))"; echo "processes I can see:"; ps'

phase "labrun top.sqfs: three layers, the image's own command"
as_user labrun -c "$demo/labrun.conf" "$demo/images/top.sqfs"
as_user labrun -c "$demo/labrun.conf" "$demo/images/top.sqfs" /bin/sh -c \
	'echo "layers: $(ls /layers | tr "\n" " ")"; echo "SHARED=$SHARED MIDVAR=$MIDVAR"'

phase "the example stack: Debian, python3+numpy, two applications (make -C images)"
# The first time, mmdebstrap fetches about 100 packages from Debian's archive.
make -C images OUT="$demo/stack" LABRUN_IMAGE=/usr/local/bin/labrun-image all >"$demo/stack.log" 2>&1 ||
	{ tail -20 "$demo/stack.log"; echo "demo.sh: make -C images failed (log: $demo/stack.log)" >&2; exit 1; }
as_user labrun "$demo/stack/app-hello.sqfs"
as_user labrun "$demo/stack/app-stats.sqfs" | head -n 12
echo "  ..."
echo "The layers, each stored once; the python layer is used by both applications:"
as_user labrun-image list "$demo/stack"
make -s -C images OUT="$demo/stack" LABRUN_IMAGE=/usr/local/bin/labrun-image sizes

phase "Slurm: srun --container= (scripts/slurm-local.sh, spank_labrun.so)"
scripts/slurm-local.sh start
scripts/slurm-local.sh plugin /usr/local/lib/labrun/spank_labrun.so
# Jobs run where srun runs; the test user cannot enter this tree.
cd /tmp
as_user srun --container="$demo/stack/debian.sqfs" /bin/sh -c \
	'echo "Debian $(cat /etc/debian_version) in a container on $(hostname), as $(id -un)"'
echo "Four tasks, one container (its keeper is PID 1):"
as_user srun -n 4 --overcommit --container="$demo/stack/debian.sqfs" /bin/sh -c \
	'echo "task $SLURM_PROCID: pid $$ in $(readlink /proc/self/ns/pid); PID 1 is $(cat /proc/1/comm)"'
as_user srun --container="$demo/stack/app-hello.sqfs" python3 /app/hello.py
as_user srun --container="$demo/stack/app-stats.sqfs" python3 -c \
	'import numpy; print("numpy", numpy.__version__, "in a Slurm step")'
cd "$top"

phase "done"
echo "Try: su - labrun-test -c 'labrun $demo/images/busybox.sqfs'   (an interactive shell)"
echo " or: su - labrun-test -c 'srun --pty --container=$demo/stack/debian.sqfs bash'"
