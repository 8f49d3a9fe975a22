#!/bin/bash
# bench/srun.sh - what labrun's Slurm plugin adds to a job step (issue 6:
# a container step at most 1.5x a bare one; 8 tasks sharing the node's
# container at most 1.2x one task).  On the single-node cluster of
# scripts/slurm-local.sh, with spank_labrun.so loaded (`required`, helper
# labrun-step, as tests/slurm/plugin.bats loads it), inside ONE allocation
# (salloc -N1 -n8 --overcommit) as the unprivileged user labrun-test, side
# by side in one hyperfine run, warm page cache:
#   srun -N1 -n1 true                                    the bare step
#   srun -N1 -n1 --container=busybox.sqfs true           one task, busybox
#   srun -N1 -n1 --container=debian.sqfs true            one task, Debian
#   srun -N1 -n8 --overcommit true                       8 bare tasks
#   srun -N1 -n8 --overcommit --container=busybox.sqfs true
#   srun -N1 -n8 --overcommit --container=debian.sqfs true
# Each srun is a whole step: its creation by slurmctld, slurmstepd's launch
# (for a container: labrun-step building the step's container, which every
# task joins), the tasks, and the step's end.  Before timing and after
# each round the tasks' mount namespaces are compared (a container step
# must not run on the host, and its 8 tasks must share one container), and
# a run during which slurmd restarted or the plugin's line changed (the
# cluster is shared with tests/slurm) is thrown away: without the plugin,
# srun --container is Slurm's own option, and the step runs on the host.
# The whole list runs ROUNDS times (the machine drifts); each figure is the
# median of its rounds' medians (bench/lib.bash).  Prints them in ms with
# the ratios to the bare step and of 8 tasks to one, and the verdict.
#
#   bench/srun.sh [ROUNDS [RUNS]]   default 5 rounds of 20 runs per command
# Needs root: it installs the plugin into /var/lib/labrun-tests and starts
# the cluster if it is not running.  At the end it puts back what it found:
# the plugin (removed unless it was loaded before; a different plugin line
# or helper restored), the cluster (stopped unless it was running).
# Images: busybox with lz4, labrun-image's default codec (the tests'
# busybox-lz4.sqfs, else made from images/busybox-root.sh; the tests' gzip
# busybox.sqfs costs ~20 ms more to start, gzip's first decompression of
# the busybox binary), Debian from images/out/debian.sqfs (`make -C
# images debian`; without it the Debian rows say "not measured").  Both
# are copied, with any parent layers beside them, to a world-readable temp
# directory.
# Environment: LABRUN_BUILD (default build), DEBIAN_IMAGE.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=bench/lib.bash
source "$top/bench/lib.bash"
ROUNDS=${1:-5}
RUNS=${2:-20}
BUILD=${LABRUN_BUILD:-$top/build}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-$top/images/out/debian.sqfs}
SLURM_LOCAL=$top/scripts/slurm-local.sh
PLUGIN_DIR=/var/lib/labrun-tests
PLUGIN_CONF=/etc/slurm/plugstack.conf.d/labrun.conf
TEST_USER=labrun-test
SO=$BUILD/plugin/spank_labrun.so
STEP=$BUILD/plugin/labrun-step
LI=$BUILD/launcher/labrun-image

die() { echo "srun.sh: $*" >&2; exit 1; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ ]] || die "usage: bench/srun.sh [ROUNDS [RUNS]]"
[ "$(id -u)" -eq 0 ] || die "needs root (it installs the plugin and starts the cluster)"
[ -f "$SO" ] || die "$SO not built (scripts/test.sh builds it; it needs libslurm-dev's slurm/spank.h)"
for b in "$STEP" "$LI"; do
	[ -x "$b" ] || die "$b not built (scripts/test.sh builds it)"
done
command -v hyperfine >/dev/null || die "hyperfine missing: scripts/install-deps.sh"
for t in srun salloc scancel squeue sinfo; do
	command -v $t >/dev/null || die "$t missing: apt-get install slurm-client (scripts/slurm-local.sh says the rest)"
done
id "$TEST_USER" >/dev/null 2>&1 || die "no user $TEST_USER: scripts/setup-test-env.sh"

work=$(mktemp -d /tmp/labrun-bench.XXXXXX)
chmod 755 "$work"
JOB_NAME=labrun-bench-srun.$$

# What was there before, to put back at the end.
was_running=1
"$SLURM_LOCAL" status >/dev/null 2>&1 || was_running=0
prev_plugin=$(grep -v '^#' "$PLUGIN_CONF" 2>/dev/null | grep . || true)
plugin_dir_made=0
[ -d "$PLUGIN_DIR" ] || plugin_dir_made=1
mkdir -p "$work/prev"
prev_files=()
for f in spank_labrun.so labrun-step; do
	[ -e "$PLUGIN_DIR/$f" ] || continue
	prev_files+=("$f")
	cp -p "$PLUGIN_DIR/$f" "$work/prev/$f"
done
ours="required $PLUGIN_DIR/spank_labrun.so helper=$PLUGIN_DIR/labrun-step"

installed=0
# Puts back what was there, unless someone changed the plugin meanwhile
# (this cluster is shared by the Slurm tests).
cleanup() {
	local rc=$? f now
	set +e
	scancel -u "$TEST_USER" --name="$JOB_NAME" 2>/dev/null
	if [ "$installed" = 1 ]; then
		now=$(grep -v '^#' "$PLUGIN_CONF" 2>/dev/null | grep .)
		if [ "$now" != "$ours" ]; then
			echo "srun.sh: $PLUGIN_CONF changed during the run (now '${now:-none}'): left as it is" >&2
		elif [ -n "$prev_plugin" ]; then
			for f in "${prev_files[@]}"; do
				cmp -s "$work/prev/$f" "$PLUGIN_DIR/$f" || cp -p "$work/prev/$f" "$PLUGIN_DIR/$f"
			done
			if [ "$prev_plugin" != "$ours" ]; then
				# "required PATH ARG...": load it again as it was.
				read -r _ so args <<<"$prev_plugin"
				# shellcheck disable=SC2086 # its arguments, split as plugstack.conf splits them
				"$SLURM_LOCAL" plugin "$so" $args >/dev/null
			fi
		else
			"$SLURM_LOCAL" plugin --remove >/dev/null
			for f in spank_labrun.so labrun-step; do
				[[ " ${prev_files[*]} " == *" $f "* ]] || rm -f "$PLUGIN_DIR/$f"
			done
			[ "$plugin_dir_made" = 0 ] || rmdir "$PLUGIN_DIR" 2>/dev/null
		fi
	fi
	[ "$was_running" = 1 ] || "$SLURM_LOCAL" stop >/dev/null
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- images
# copy_image SRC DEST: the image, and its parent layers beside it as
# sha256-<hex>.sqfs, where labrun looks for them after its layer stores.
copy_image() {
	local src=$1 dest=$2 path digest
	cp "$src" "$dest"
	"$LI" inspect "$src" | awk '/^  [0-9]+  / { n = $1; p = $2; next }
		n > 0 && /^     sha256:/ { print p, substr($1, 8) }' |
		while read -r path digest; do
			cp "$path" "$(dirname "$dest")/sha256-$digest.sqfs"
		done
	"$LI" verify "$dest" >/dev/null || die "$dest: its copy does not verify: $("$LI" verify "$dest" 2>&1)"
}

if [ -f "$BUILD/tests/build/images/busybox-lz4.sqfs" ]; then
	copy_image "$BUILD/tests/build/images/busybox-lz4.sqfs" "$work/busybox.sqfs"
else
	# The tests' busybox image (tests/images/build.sh): busybox-root.sh's tree.
	command -v mksquashfs >/dev/null || die "mksquashfs missing: apt-get install squashfs-tools"
	"$top/images/busybox-root.sh" "$work/busybox-root"
	mksquashfs "$work/busybox-root" "$work/busybox.sqfs" -comp lz4 -noappend -quiet -no-progress \
		-all-root >/dev/null
	rm -rf "$work/busybox-root"
fi
images=(busybox)
if [ -f "$DEBIAN_IMAGE" ]; then
	copy_image "$DEBIAN_IMAGE" "$work/debian.sqfs"
	images+=(debian)
else
	echo "srun.sh: no Debian image $DEBIAN_IMAGE: build it with \`make -C images debian\`" \
		"(as root; needs mmdebstrap); measuring busybox only" >&2
fi
chmod -R a+rX "$work"

# ---------------------------------------------------------------- cluster
"$SLURM_LOCAL" start >/dev/null
installed=1
install -d -m 0755 "$PLUGIN_DIR"
install -m 0755 "$SO" "$PLUGIN_DIR/spank_labrun.so"
install -m 0755 "$STEP" "$PLUGIN_DIR/labrun-step"
"$SLURM_LOCAL" plugin "$PLUGIN_DIR/spank_labrun.so" helper="$PLUGIN_DIR/labrun-step" >/dev/null

as_user=(setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups --reset-env
	env PATH=/usr/local/bin:/usr/bin:/bin "HOME=/home/$TEST_USER" "USER=$TEST_USER")

one=(srun -N1 -n1)
eight=(srun -N1 -n8 --overcommit)
cmds=("${one[*]} true")
for i in "${images[@]}"; do cmds+=("${one[*]} --container=$work/$i.sqfs true"); done
cmds+=("${eight[*]} true")
for i in "${images[@]}"; do cmds+=("${eight[*]} --container=$work/$i.sqfs true"); done

# In the allocation: each command once (its output shown if it fails), the
# mount namespaces of bare and container tasks, then the rounds.
cat >"$work/inner.sh" <<'EOF'
set -euo pipefail
rounds=$1 runs=$2 work=$3
shift 3
images=("$@")
ns() { "$@" readlink /proc/self/ns/mnt 2>&1 | sort -u; }
# contained: each image's step runs in a container, not on the host (srun
# --container without the plugin loaded is Slurm's own option, which runs
# the step on the host), and its 8 tasks share one.
contained() {
	local host one eight i
	host=$(ns srun -N1 -n1)
	for i in "${images[@]}"; do
		one=$(ns srun -N1 -n1 --container="$work/$i.sqfs")
		eight=$(ns srun -N1 -n8 --overcommit --container="$work/$i.sqfs")
		[[ $one == mnt:* && $one != "$host" ]] ||
			{ echo "srun.sh: $i: a container step's task is not in a container: $one (host $host)" >&2; return 1; }
		[[ $eight == mnt:* && $eight != *$'\n'* && $eight != "$host" ]] ||
			{ echo "srun.sh: $i: the 8 tasks do not share one container: ${eight//$'\n'/ }" >&2; return 1; }
	done
}
contained
mapfile -t cmds <"$work/cmds"
for c in "${cmds[@]}"; do
	# shellcheck disable=SC2086 # the command's words
	out=$($c 2>&1) || { echo "srun.sh: '$c' failed: $out" >&2; exit 1; }
done
for ((r = 1; r <= rounds; r++)); do
	hyperfine -N --style none --warmup 3 --runs "$runs" \
		--export-csv "$work/out/round-$r.csv" "${cmds[@]}" >/dev/null
	contained
done
EOF
printf '%s\n' "${cmds[@]}" >"$work/cmds"
mkdir "$work/out"
chown "$TEST_USER" "$work/out"
chmod -R a+rX "$work"

echo "labrun $("$BUILD/launcher/labrun" --version | cut -d' ' -f2), $(srun --version), $(uname -r)," \
	"$(nproc) cpus; ${images[*]}; $ROUNDS rounds of $RUNS runs per command, warm cache"
# The cluster is shared (tests/slurm load and remove the plugin): a run
# during which slurmd restarted or the plugin's line was rewritten may have
# timed steps without the plugin, and is thrown away.
cluster_state() { echo "$(cat /run/slurmd.pid 2>/dev/null) $(stat -c '%i %Y' "$PLUGIN_CONF" 2>/dev/null)"; }
before=$(cluster_state)
(cd "$work" && "${as_user[@]}" salloc -N1 -n8 --overcommit --quiet --job-name="$JOB_NAME" \
	bash "$work/inner.sh" "$ROUNDS" "$RUNS" "$work" "${images[@]}" </dev/null) ||
	die "the allocation's steps failed (see above; /var/log/slurm/slurmd.log)"
[ "$(cluster_state)" = "$before" ] ||
	die "slurmd restarted or $PLUGIN_CONF changed during the run (someone else using" \
		"scripts/slurm-local.sh?): the figures may be of steps without the plugin; not shown"

median() { round_median "$work/out" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
label() { echo "${1//$work\//}"; }

bare=$(median "${cmds[0]}")
bare8=$(median "${eight[*]} true")
# vs bare: to the bare step of as many tasks; 8 vs 1: to the same step's
# one task.
W=58
printf '\n| %-*s | %12s | %8s | %8s |\n' $W command "median ms" "vs bare" "8 vs 1"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq $((W + 2))))" "--------------" "----------" "----------"
row() { printf '| %-*s | %12s | %8s | %8s |\n' $W "$(label "$1")" "$2" "$3" "$4"; }
row "${cmds[0]}" "$bare" "" ""
row "${eight[*]} true" "$bare8" "" "$(ratio "$bare8" "$bare")x"
verdict=PASS
verdicts=()
for i in busybox debian; do
	c1="${one[*]} --container=$work/$i.sqfs true"
	c8="${eight[*]} --container=$work/$i.sqfs true"
	if [[ " ${images[*]} " != *" $i "* ]]; then
		row "$c1" "not measured" "" ""
		row "$c8" "not measured" "" ""
		verdicts+=("$i: not measured (no image $DEBIAN_IMAGE: make -C images debian)")
		[ "$verdict" = FAIL ] || verdict=INCOMPLETE
		continue
	fi
	m1=$(median "$c1")
	m8=$(median "$c8")
	row "$c1" "$m1" "$(ratio "$m1" "$bare")x" ""
	row "$c8" "$m8" "$(ratio "$m8" "$bare8")x" "$(ratio "$m8" "$m1")x"
	a=$(awk -v m="$m1" -v b="$bare" 'BEGIN { print (m <= 1.5 * b) ? "PASS" : "FAIL" }')
	b=$(awk -v e="$m8" -v o="$m1" 'BEGIN { print (e <= 1.2 * o) ? "PASS" : "FAIL" }')
	verdicts+=("$i: one task $(ratio "$m1" "$bare")x bare srun (target <= 1.5x): $a;" \
		"    8 tasks $(ratio "$m8" "$m1")x one task (target <= 1.2x): $b" \
		"    (bare srun: 8 tasks $(ratio "$bare8" "$bare")x one; 8 container tasks $(ratio "$m8" "$bare8")x 8 bare)")
	[ "$a$b" = PASSPASS ] || verdict=FAIL
done
echo
printf '%s\n' "${verdicts[@]}"
echo "targets: $verdict"
[ "$verdict" = PASS ]
