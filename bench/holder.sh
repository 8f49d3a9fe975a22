#!/bin/bash
# bench/holder.sh - what the layer holder buys (issue 13, item 3): Python
# from the example python image through labrun, side by side in one
# hyperfine run with the same tree in a host directory, Charliecloud and
# the namespace floor.  Modes (rows):
#   labrun fresh        nothing held: `labrun --stop-holders` before each
#                       run (not timed), so the launch starts a holder that
#                       mounts the layers (8 or 32 at once: they share it)
#   labrun --no-holder  each labrun mounts its own layers (as before holders)
#   labrun warm         a later launch of the same user: the holder already
#                       holds the layers (hyperfine's warm-up runs start it)
#   labrun trusted      the layers in a root-owned trusted store in
#                       /var/lib, on node-level kernel squashfs mounts of a
#                       labrun-layerd the script starts (as root, when
#                       labrun.conf(5) documents trusted-layer-store and no
#                       labrun-layerd runs already; else "n/a: why")
#   bwrap dir           bubblewrap on the same tree unpacked into a host
#                       directory (labrun-image flatten, then rdsquashfs)
#   ch-run dir          Charliecloud on that directory
#   ch-run sqfs         Charliecloud on the flattened squashfs (its FUSE
#                       mount, fresh each launch, as in bench/launch.sh)
#   floor               unshare -Urm chroot DIR true (start sections only)
# Sections (--only):
#   import    python3 -c 'import numpy', one at a time; ratio to bwrap dir
#   import8   the same, 8 at once; the time per import (wall / 8)
#   start     /bin/true; ratio to the floor
#   start32   /bin/true, 32 at once; the time per start (wall / 32)
#   srun      on the local Slurm (scripts/slurm-local.sh) with the plugin
#             of the build, inside one allocation per round: the job's first
#             `srun --container=IMG true` step (one sample per round, timed
#             with date) and a later one (hyperfine) against bare `srun
#             true`; `srun -n8 --container=IMG` numpy against `srun -n8`
#             bwrap numpy on the host directory
#   memory    every labrun-holder process (comm): VmHWM and VmRSS from
#             /proc/PID/status, sampled before each holder is stopped, a
#             job's holder at the end of its job, and those left at the end
# The whole list of a section runs ROUNDS times (the machine drifts);
# each figure is the median of its rounds' medians (bench/lib.bash).
# Prints one Markdown table and the issue's targets.  Exit status 1 when a
# measured target is missed; a mode that cannot run prints why and counts
# as not measured.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=bench/lib.bash
source "$top/bench/lib.bash"

usage() {
	cat <<EOF
Usage: bench/holder.sh [OPTIONS]

Measure labrun's layer holder: import numpy and /bin/true from the example
python image, alone and concurrently, under Slurm, and the holders' memory,
side by side with a host directory (bubblewrap), ch-run and the floor.

  --rounds N      run each section's command list N times (default 3)
  --runs N        hyperfine runs per command and round (default 10)
  --quick         1 round of 3 runs (a smoke test, not a measurement)
  --only SECTION  run only SECTION (import, import8, start, start32, srun,
                  memory); repeatable, or comma-separated
  --image PATH    the image (default images/out/python.sqfs: make -C images
                  python); its parent layers must sit beside it or in the
                  layer stores of labrun.conf
  --out DIR       keep hyperfine's CSV files, the holders' samples and the
                  table in DIR (default: a temporary directory, removed)
  --keep-page-cache
                  as root, pause the kernel's DAMON pageout schemes for the
                  run and restore them after (see below)
  --user NAME     as root, run the jobs as NAME (default labrun-test).  A
                  user has one layer holder per node, which the fresh runs
                  stop before each run: measure as a user nothing else runs
                  containers as (the tests run as labrun-test), or expect
                  their holders to be stopped and theirs to disturb yours
  -h, --help      print this help and exit

As root the jobs run as the unprivileged user labrun-test
(scripts/setup-test-env.sh) or --user; the srun section needs root (it installs the
plugin of the build and starts the local cluster if it is not running,
and puts both back as found).  Environment: LABRUN_BUILD (default build).

A machine running a DAMON "pageout" scheme (/sys/kernel/mm/damon: some VM
hosts do, to hand memory back) evicts file pages nobody touched for a
while, however much memory is free: a holder's page cache goes cold between
runs and every launch reads pages through FUSE again.  The table says
whether such a scheme ran; --keep-page-cache measures without it.
EOF
}

die() { echo "holder.sh: $*" >&2; exit 1; }
ALL_SECTIONS=(import import8 start start32 srun memory)
ROUNDS=3
RUNS=10
quick=0
keep_cache=0
rounds_set=0
runs_set=0
ONLY=()
IMAGE=$top/images/out/python.sqfs
OUT=
TEST_USER=labrun-test
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 takes a positive number, not '$2'"; }
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) [ $# -ge 2 ] || die "--rounds needs N"; posint "$1" "$2"; ROUNDS=$2; rounds_set=1; shift ;;
	--rounds=*) posint --rounds "${1#*=}"; ROUNDS=${1#*=}; rounds_set=1 ;;
	--runs) [ $# -ge 2 ] || die "--runs needs N"; posint "$1" "$2"; RUNS=$2; runs_set=1; shift ;;
	--runs=*) posint --runs "${1#*=}"; RUNS=${1#*=}; runs_set=1 ;;
	--quick) quick=1 ;;
	--only) [ $# -ge 2 ] || die "--only needs SECTION"; IFS=, read -ra s <<<"$2"; ONLY+=("${s[@]}"); shift ;;
	--only=*) IFS=, read -ra s <<<"${1#*=}"; ONLY+=("${s[@]}") ;;
	--image) [ $# -ge 2 ] || die "--image needs PATH"; IMAGE=$2; shift ;;
	--image=*) IMAGE=${1#*=} ;;
	--out) [ $# -ge 2 ] || die "--out needs DIR"; OUT=$2; shift ;;
	--out=*) OUT=${1#*=} ;;
	--keep-page-cache) keep_cache=1 ;;
	--user) [ $# -ge 2 ] || die "--user needs NAME"; TEST_USER=$2; shift ;;
	--user=*) TEST_USER=${1#*=} ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument '$1' (--help says what it takes)" ;;
	esac
	shift
done
if [ "$quick" = 1 ]; then
	[ "$rounds_set" = 1 ] || ROUNDS=1
	[ "$runs_set" = 1 ] || RUNS=3
fi
[ ${#ONLY[@]} -gt 0 ] || ONLY=("${ALL_SECTIONS[@]}")
for s in "${ONLY[@]}"; do
	[[ " ${ALL_SECTIONS[*]} " == *" $s "* ]] || die "unknown section '$s' (${ALL_SECTIONS[*]})"
done
want() { [[ " ${ONLY[*]} " == *" $1 "* ]]; }

BUILD=${LABRUN_BUILD:-$top/build}
LABRUN=$BUILD/launcher/labrun
LI=$BUILD/launcher/labrun-image
PY="python3 -c 'import numpy'"
for b in "$LABRUN" "$LI"; do
	[ -x "$b" ] || die "$b not built (scripts/test.sh builds it; LABRUN_BUILD names another build)"
done
for t in hyperfine jq; do
	command -v $t >/dev/null || die "$t missing: scripts/install-deps.sh"
done
[ -f "$IMAGE" ] || die "no image $IMAGE: build it with \`make -C images python\` (doc/images.md)"

as_user=()
run_uid=$(id -u)
if [ "$(id -u)" -eq 0 ]; then
	id "$TEST_USER" >/dev/null 2>&1 || die "no user $TEST_USER (labrun-test: scripts/setup-test-env.sh)"
	as_user=(setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups --reset-env
		env PATH=/usr/local/bin:/usr/bin:/bin "HOME=$(getent passwd "$TEST_USER" | cut -d: -f6)"
		"USER=$TEST_USER")
	run_uid=$(id -u "$TEST_USER")
fi
u() { "${as_user[@]}" "$@"; }

# What this labrun has: the holder came with issue 13; before it, every
# launch mounts its own layers and the holder rows cannot be measured.
help=$("$LABRUN" --help 2>&1)
has_stop=0 has_noholder=0
[[ $help == *--stop-holders* ]] && has_stop=1
[[ $help == *--no-holder* ]] && has_noholder=1
why_noholder="labrun --help has no --stop-holders (no layer holder in this labrun)"

# DAMON kdamonds running a pageout scheme: they evict page cache that was
# not touched for a while (--help), which the figures depend on.
damon_pageout=()
for k in /sys/kernel/mm/damon/admin/kdamonds/*/; do
	[ "$(cat "$k/state" 2>/dev/null)" = on ] || continue
	grep -qx pageout "$k"/contexts/*/schemes/*/action 2>/dev/null && damon_pageout+=("$k")
done
damon_note=
if [ ${#damon_pageout[@]} -eq 0 ]; then
	damon_note="no DAMON pageout scheme ran: the page cache stays as long as memory allows"
elif [ "$keep_cache" = 1 ]; then
	[ "$(id -u)" -eq 0 ] || die "--keep-page-cache needs root (it writes /sys/kernel/mm/damon)"
	damon_note="DAMON pageout paused for the run (--keep-page-cache): ${damon_pageout[*]}"
else
	damon_note="a DAMON pageout scheme ran (${damon_pageout[*]}): file pages untouched for a while were evicted; --keep-page-cache measures without it"
fi

# ---------------------------------------------------------------- work dir
work=$(mktemp -d /var/tmp/labrun-bench-holder.XXXXXX)
chmod 755 "$work"
tstore=
layerd_pid=
out=$work/out
[ -z "$OUT" ] || { mkdir -p "$OUT"; out=$(cd "$OUT" && pwd); }
mkdir -p "$out"
: >"$out/holders.tsv"
[ ${#as_user[@]} -eq 0 ] || chown "$TEST_USER" "$out" "$out/holders.tsv"
slurm_cleanup=:
cleanup() {
	local rc=$?
	set +eu
	# Our holders go first: they hold files of $work open.
	if [ "$has_stop" = 1 ] && [ -x "$work/stop-holders" ]; then
		u "$work/stop-holders" end
		[ -z "$tstore" ] || u "$work/stop-holders" end "$work/trusted.conf"
	fi
	$slurm_cleanup
	if [ -n "$layerd_pid" ]; then
		kill -TERM "$layerd_pid"
		wait "$layerd_pid"
	fi
	[ -z "$tstore" ] || rm -rf "$tstore"
	rm -rf "$work"
	if [ "$keep_cache" = 1 ]; then
		for k in "${damon_pageout[@]}"; do echo on >"$k/state"; done
	fi
	exit "$rc"
}
trap cleanup EXIT
# Paused once cleanup is there to resume them, whatever way the run ends.
if [ "$keep_cache" = 1 ]; then
	for k in "${damon_pageout[@]}"; do echo off >"$k/state" || die "cannot pause $k"; done
fi
trap 'exit 130' INT TERM
cp "$LABRUN" "$work/labrun"
: >"$work/labrun.conf"

# copy_image SRC DEST: the image, and its parent layers beside it as
# sha256-<hex>.sqfs, where labrun looks for them (as bench/srun.sh does).
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
mkdir -p "$work/img"
copy_image "$IMAGE" "$work/img/image.sqfs"
IMG=$work/img/image.sqfs

# The host directory: the merged view, flattened to one layer, unpacked.
"$LI" flatten -o "$work/flat.sqfs" "$IMG" >/dev/null 2>"$work/flatten.err" ||
	die "labrun-image flatten $IMG: $(cat "$work/flatten.err")"
# rdsquashfs (squashfs-tools-ng, whose library labrun-image writes with)
# first: unsquashfs 4.5.1 refuses labrun-image's lz4 layers ("failed to
# read id table block": a compressed metadata block longer than its data).
if command -v rdsquashfs >/dev/null; then
	own=()
	[ "$(id -u)" -ne 0 ] || own=(-O)
	rdsquashfs -q -C "${own[@]}" -u / -p "$work/root" "$work/flat.sqfs" >/dev/null
else
	unsquashfs -q -n -d "$work/root" "$work/flat.sqfs" >/dev/null
fi
[ -x "$work/root/usr/bin/python3" ] || die "the unpacked $work/flat.sqfs has no executable /usr/bin/python3"
DIR=$work/root

# Processes that still run: one that has exited stays a zombie until its
# parent reaps it, and a holder's parent is whatever reaps orphans here
# (PID 1 of this machine does so only now and then).
LIVE=R,S,D,T,t,I,W
# par N COMMAND...: N copies of COMMAND at once; fails if one fails.
cat >"$work/par" <<'EOF'
#!/bin/bash
n=$1
shift
# Each copy's stderr to PAR_LOG (hyperfine discards it): a copy that
# fails under concurrency says why there.
for ((i = 0; i < n; i++)); do
	if [ -n "${PAR_LOG:-}" ]; then "$@" 2>>"$PAR_LOG" & else "$@" & fi
done
rc=0
for ((i = 0; i < n; i++)); do wait -n || rc=1; done
exit $rc
EOF
# stop-holders LABEL [CONF]: record each holder's memory (pid, VmHWM and
# VmRSS in KiB) in holders.tsv, then stop them.  A stopped holder takes no
# new container, so the next launch starts its own; waiting (at most 2 s)
# for them to be gone keeps their unmounting out of the next timed run.
# One that serves containers ends only after them: a job's holder, or
# (holders are per user) one of a test running as the same user.
cat >"$work/stop-holders" <<EOF
#!/bin/bash
label=\$1 conf=\${2:-$work/labrun.conf}
pids=\$(pgrep -r $LIVE -u $run_uid -x labrun-holder)
for p in \$pids; do
	awk -v p="\$p" -v l="\$label" '/^VmHWM:/ { h = \$2 } /^VmRSS:/ { r = \$2 }
		END { if (h) print p "\t" l "\t" h "\t" r }' /proc/"\$p"/status 2>/dev/null
done >>"$out/holders.tsv"
$work/labrun -c "\$conf" --stop-holders >/dev/null || exit 1
for _ in \$(seq 40); do
	left=0
	for p in \$pids; do
		[ "\$(awk '{ print \$3 }' /proc/"\$p"/stat 2>/dev/null || echo Z)" = Z ] || left=1
	done
	[ \$left = 1 ] || exit 0
	sleep 0.05
done
EOF
chmod 755 "$work/par" "$work/stop-holders"
chmod -R a+rX "$work"

# Peers.
bwrap_run=(bwrap --unshare-user --unshare-pid --unshare-ipc --ro-bind "$DIR" / --proc /proc
	--dev /dev --tmpfs /tmp)
have_bwrap=1 have_ch=1
# chroot is in /usr/sbin, not on the test user's PATH.
CHROOT=$(command -v chroot)
command -v bwrap >/dev/null || have_bwrap=0
command -v ch-run >/dev/null || have_ch=0

# ---------------------------------------------------------------- trusted
# Node-level kernel mounts of trusted layers: the store must be root-owned
# on every directory up to /, so not under /var/tmp (sticky, world-writable).
trusted_why=
# (roff escapes the key's hyphens: trusted\-layer\-store)
if ! grep -Eq 'trusted(\\)?-layer(\\)?-store' "$top/doc/man/labrun.conf.5" 2>/dev/null; then
	trusted_why="labrun.conf(5) has no trusted-layer-store: node-level kernel mounts are not built yet"
elif [ "$(id -u)" -ne 0 ]; then
	trusted_why="setting up a root-owned trusted store needs root"
else
	tstore=$(mktemp -d /var/lib/labrun-bench-trusted.XXXXXX)
	chmod 755 "$tstore"
	for f in "$work"/img/sha256-*.sqfs; do cp "$f" "$tstore/"; done
	cp "$IMG" "$tstore/sha256-$(sha256sum "$IMG" | cut -c1-64).sqfs"
	chmod 644 "$tstore"/*.sqfs
	TIMG=$tstore/sha256-$(sha256sum "$IMG" | cut -c1-64).sqfs
	echo "trusted-layer-store = $tstore" >"$work/trusted.conf"
	chmod 644 "$work/trusted.conf"
	# The node's layer service (labrun-layerd(8)) mounts them: ours, on
	# this store, unless one already runs (it would serve its own store).
	LAYERD=$BUILD/launcher/labrun-layerd
	if [ ! -x "$LAYERD" ]; then
		trusted_why="$LAYERD not built"
	elif pgrep -r "$LIVE" -x labrun-layerd >/dev/null; then
		trusted_why="a labrun-layerd already runs on this node (pid $(pgrep -r "$LIVE" -x labrun-layerd | head -1)); it serves its own trusted store, not this one"
	else
		"$LAYERD" -c "$work/trusted.conf" 2>"$work/layerd.err" &
		layerd_pid=$!
		for _ in $(seq 100); do
			[ -S /run/labrun/layerd.sock ] && break
			kill -0 "$layerd_pid" 2>/dev/null || break
			sleep 0.05
		done
		if ! kill -0 "$layerd_pid" 2>/dev/null; then
			trusted_why="labrun-layerd -c $work/trusted.conf exited: $(tail -1 "$work/layerd.err")"
			layerd_pid=
		elif ! o=$(u "$work/labrun" -v -c "$work/trusted.conf" "$TIMG" /bin/true 2>&1); then
			trusted_why="labrun with trusted-layer-store = $tstore fails: $(tail -1 <<<"$o")"
		elif ! grep -q ' squashfs ' "/proc/$layerd_pid/mountinfo" &&
			[ -z "$(losetup -j "$TIMG" 2>/dev/null)" ]; then
			# A kernel squashfs mount of a file is on a loop device
			# bound to it, even when the mount itself is detached.
			trusted_why="labrun-layerd mounted no layer for labrun -v: $(grep -i 'trust\|layerd\|kernel' <<<"$o" | tail -1)"
		else
			grep -i 'trusted' <<<"$o" | sed 's/^/holder.sh: trusted: /' >&2 || true
		fi
	fi
fi

# ---------------------------------------------------------------- modes
# mode_cmd MODE TASK: the command line of MODE running TASK (py or true);
# empty when MODE cannot run (mode_why says why).  mode_prep MODE: what
# runs before each of its runs.
declare -A WHY
[ "$has_stop" = 1 ] || { WHY[labrun fresh]=$why_noholder; WHY[labrun warm]=$why_noholder; }
[ "$has_noholder" = 1 ] || WHY[labrun --no-holder]="labrun --help has no --no-holder"
[ -z "$trusted_why" ] || WHY[labrun trusted]=$trusted_why
[ "$have_bwrap" = 1 ] || WHY[bwrap dir]="bwrap missing: scripts/install-deps.sh"
[ "$have_ch" = 1 ] || { WHY[ch-run dir]="ch-run missing: scripts/install-deps.sh"; WHY[ch-run sqfs]=${WHY[ch-run dir]}; }
MODES=("labrun fresh" "labrun --no-holder" "labrun warm" "labrun trusted" "bwrap dir" "ch-run dir" "ch-run sqfs")
mode_cmd() {
	local task=$PY lr="$work/labrun -c $work/labrun.conf"
	[ "$2" = py ] || task=/bin/true
	[ -z "${WHY[$1]:-}" ] || return 0
	case $1 in
	"labrun fresh" | "labrun warm") echo "$lr $IMG $task" ;;
	"labrun --no-holder") echo "$lr --no-holder $IMG $task" ;;
	"labrun trusted") echo "$work/labrun -c $work/trusted.conf $TIMG $task" ;;
	"bwrap dir") echo "${bwrap_run[*]} $task" ;;
	"ch-run dir") echo "ch-run $DIR -- $task" ;;
	"ch-run sqfs") echo "ch-run $work/flat.sqfs -- $task" ;;
	floor) echo "unshare -Urm $CHROOT $DIR true" ;;
	esac
}
mode_prep() {
	case $1 in
	"labrun fresh") echo "$work/stop-holders $2" ;;
	*) echo /bin/true ;;
	esac
}

# ---------------------------------------------------------------- sections
# Each row: section, mode, median ms per task, reference mode.
declare -A MED
rows=()
notes=("$damon_note")
# med DIR NAME: round_median, empty when hyperfine measured no NAME.
med() { awk -F, -v c="$2" 'FNR > 1 && $1 == c { n++ } END { exit !n }' "$1"/round-*.csv && round_median "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# bench_section NAME TASK N REF: each runnable mode (and the floor for
# /bin/true) running TASK N at once, ROUNDS hyperfine runs side by side.
bench_section() {
	local name=$1 task=$2 n=$3 ref=$4 m cmd prep args=() modes=() c
	local d=$out/$name
	mkdir -p "$d"
	[ ${#as_user[@]} -eq 0 ] || chown "$TEST_USER" "$d"
	local list=("${MODES[@]}")
	[ "$task" = py ] || list+=(floor)
	for m in "${list[@]}"; do
		cmd=$(mode_cmd "$m" "$task")
		if [ -z "$cmd" ]; then
			echo "holder.sh: $name: $m: n/a: ${WHY[$m]}" >&2
			continue
		fi
		[ "$n" = 1 ] || cmd="$work/par $n $cmd"
		prep=$(mode_prep "$m" "$name")
		# Once before timing, its output shown if it fails: a mode that
		# does not run is not measured.
		c=
		# shellcheck disable=SC2086 # the preparation's words
		if ! c=$(u $prep 2>&1); then
			WHY[$name.$m]="its preparation ($prep) fails: $(tail -1 <<<"$c")"
		elif ! c=$(cd "$work" && u bash -c "$cmd" 2>&1); then
			WHY[$name.$m]="fails: $(tail -1 <<<"${c:-(no message)}")"
		fi
		if [ -n "${WHY[$name.$m]:-}" ]; then
			echo "holder.sh: $name: $m: n/a: ${WHY[$name.$m]}" >&2
			continue
		fi
		modes+=("$m")
		args+=(--prepare "$prep" -n "$m" "$cmd")
	done
	# A warm holder must be a holder: after a plain launch one runs.
	if [[ " ${modes[*]} " == *" labrun warm "* ]] && ! pgrep -r "$LIVE" -u "$run_uid" -x labrun-holder >/dev/null; then
		notes+=("$name: no labrun-holder process after a plain labrun: the warm row may not be warm")
	fi
	for m in "${list[@]}"; do rows+=("$name|$m|$ref"); done
	[ ${#modes[@]} -gt 0 ] || return 0
	local r
	for ((r = 1; r <= ROUNDS; r++)); do
		# -i: a run that fails is counted and reported below, not the
		# end of the whole measurement.
		(cd "$work" && u env PAR_LOG="$d/stderr.log" hyperfine -N -i --style none --warmup 2 \
			--runs "$RUNS" --export-csv "$d/round-$r.csv" --export-json "$d/round-$r.json" \
			"${args[@]}" >/dev/null 2>"$d/hyperfine.err") ||
			die "$name: hyperfine failed in round $r: $(tail -1 "$d/hyperfine.err")"
	done
	local failed t
	for m in "${modes[@]}"; do
		t=$(med "$d" "$m") || { WHY[$name.$m]="hyperfine measured nothing"; continue; }
		MED[$name.$m]=$(awk -v t="$t" -v n="$n" 'BEGIN { printf "%.2f", t / n }')
		failed=$(jq -s --arg m "$m" '[.[].results[] | select(.command == $m) | .exit_codes[] |
			select(. != 0)] | length' "$d"/round-*.json)
		[ "$failed" = 0 ] || notes+=("$name: $m: $failed of $((ROUNDS * RUNS)) timed runs failed" \
			"(their times are in the median; stderr of concurrent copies: $d/stderr.log)")
	done
	echo "holder.sh: $name done" >&2
}

echo "labrun $("$LABRUN" --version | cut -d' ' -f2), $(uname -r), $(nproc) cpus;" \
	"image $(basename "$IMAGE") ($(du -cb "$work"/img/*.sqfs | tail -1 | cut -f1) bytes of layers);" \
	"$ROUNDS rounds of $RUNS runs per command, warm page cache" >&2
want import && bench_section import py 1 "bwrap dir"
want import8 && bench_section import8 py 8 "bwrap dir"
want start && bench_section start true 1 floor
want start32 && bench_section start32 true 32 floor

# ---------------------------------------------------------------- srun
srun_section() {
	local why=
	[ "$(id -u)" -eq 0 ] || why="needs root (it installs the plugin and starts the cluster)"
	local SO=$BUILD/plugin/spank_labrun.so STEP=$BUILD/plugin/labrun-step t
	[ -n "$why" ] || [ -f "$SO" ] || why="$SO not built (it needs libslurm-dev's slurm/spank.h)"
	[ -n "$why" ] || [ -x "$STEP" ] || why="$STEP not built"
	for t in srun salloc scancel; do
		[ -n "$why" ] || command -v $t >/dev/null || why="$t missing: apt-get install slurm-client"
	done
	[ -n "$why" ] || [ "$have_bwrap" = 1 ] || why="bwrap missing: scripts/install-deps.sh"
	if [ -n "$why" ]; then
		WHY[srun]=$why
		echo "holder.sh: srun: n/a: $why" >&2
		return 0
	fi
	# Globals: srun_cleanup, run at exit, needs them.
	SLURM_LOCAL=$top/scripts/slurm-local.sh
	PLUGIN_DIR=/var/lib/labrun-tests
	PLUGIN_CONF=/etc/slurm/plugstack.conf.d/labrun.conf
	JOB_NAME=labrun-bench-holder.$$
	# What was there before, to put back at the end (as bench/srun.sh).
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
	slurm_cleanup=srun_cleanup
	"$SLURM_LOCAL" start >/dev/null
	installed=1
	install -d -m 0755 "$PLUGIN_DIR"
	install -m 0755 "$SO" "$PLUGIN_DIR/spank_labrun.so"
	install -m 0755 "$STEP" "$PLUGIN_DIR/labrun-step"
	"$SLURM_LOCAL" plugin "$PLUGIN_DIR/spank_labrun.so" helper="$PLUGIN_DIR/labrun-step" >/dev/null

	local d=$out/srun
	mkdir -p "$d"
	chown "$TEST_USER" "$d"
	cat >"$work/cmds" <<EOF
bare srun	srun -N1 -n1 true
later container step	srun -N1 -n1 --container=$IMG true
srun -n8 bwrap dir numpy	srun -N1 -n8 --overcommit ${bwrap_run[*]} $PY
srun -n8 container numpy	srun -N1 -n8 --overcommit --container=$IMG $PY
EOF
	# In the allocation: the job's first bare and first container step,
	# each timed once; a container step must not run on the host; then the
	# round's hyperfine run (its warm-up steps make the timed ones later).
	cat >"$work/inner.sh" <<'EOF'
set -euo pipefail
r=$1 runs=$2 work=$3 d=$4 img=$5 holders=$6
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>"$d/err" || { cat "$d/err" >&2; return 1; }
	e=$(date +%s%N); awk -v n=$((e - s)) 'BEGIN { printf "%.2f", n / 1e6 }'; }
bare=$(ms srun -N1 -n1 true)
first=$(ms srun -N1 -n1 --container="$img" true)
echo "$bare $first" >>"$d/first.txt"
# The job's layer holder on this node, if the plugin started one.
for h in "/run/user/$(id -u)/labrun" "/tmp/labrun-$(id -u)"; do
	ls "$h"/job-"$SLURM_JOB_ID"*.sock 2>/dev/null
done | grep -q . && echo yes >>"$d/jobholder.txt" || echo no >>"$d/jobholder.txt"
host=$(srun -N1 -n1 readlink /proc/self/ns/mnt)
ctr=$(srun -N1 -n1 --container="$img" readlink /proc/self/ns/mnt)
[[ $ctr == mnt:* && $ctr != "$host" ]] ||
	{ echo "holder.sh: a container step's task is not in a container: $ctr (host $host)" >&2; exit 1; }
args=()
while IFS=$'\t' read -r name cmd; do
	# srun reads its stdin: not the list's.
	out=$(bash -c "$cmd" 2>&1 </dev/null) || { echo "holder.sh: '$cmd' failed: $out" >&2; exit 1; }
	args+=(-n "$name" "$cmd")
done <"$work/cmds"
hyperfine -N --style none --warmup 2 --runs "$runs" --export-csv "$d/round-$r.csv" "${args[@]}" >/dev/null
# The job's holder's memory, before the job's end takes it: the process
# listening on the job's socket (ss shows the pids of one's own sockets).
for p in $(ss -xlpn 2>/dev/null | grep "/job-$SLURM_JOB_ID" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
	awk -v p="$p" '/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 }
		END { if (h) print p "\tsrun-job-holder\t" h "\t" r }' "/proc/$p/status" 2>/dev/null
done >>"$holders"
EOF
	chmod -R a+rX "$work"
	cluster_state() { echo "$(cat /run/slurmd.pid 2>/dev/null) $(stat -c '%i %Y' "$PLUGIN_CONF" 2>/dev/null)"; }
	local before r
	before=$(cluster_state)
	for ((r = 1; r <= ROUNDS; r++)); do
		(cd "$work" && u salloc -N1 -n8 --overcommit --quiet --job-name="$JOB_NAME" \
			bash "$work/inner.sh" "$r" "$RUNS" "$work" "$d" "$IMG" "$out/holders.tsv" </dev/null) ||
			{ WHY[srun]="the allocation's steps failed (above; /var/log/slurm/slurmd.log)"; break; }
	done
	if [ -z "${WHY[srun]:-}" ] && [ "$(cluster_state)" != "$before" ]; then
		WHY[srun]="slurmd restarted or $PLUGIN_CONF changed during the run (someone else using scripts/slurm-local.sh): figures not shown"
	fi
	if [ -n "${WHY[srun]:-}" ]; then
		echo "holder.sh: srun: n/a: ${WHY[srun]}" >&2
		return 0
	fi
	local name
	while IFS=$'\t' read -r name _; do
		MED[srun.$name]=$(med "$d" "$name") || WHY[srun.$name]="hyperfine measured nothing"
	done <"$work/cmds"
	MED[srun.first container step]=$(awk '{ print $2 }' "$d/first.txt" | median)
	MED[srun.first bare step]=$(awk '{ print $1 }' "$d/first.txt" | median)
	rows+=("srun|bare srun|bare srun" "srun|first bare step|bare srun" "srun|first container step|bare srun"
		"srun|later container step|bare srun" "srun|srun -n8 bwrap dir numpy|srun -n8 bwrap dir numpy"
		"srun|srun -n8 container numpy|srun -n8 bwrap dir numpy")
	notes+=("srun: the first steps are timed once per job (date, $ROUNDS jobs); the rest are hyperfine medians")
	notes+=("srun: a job's layer holder (its socket job-JOB*.sock) after the first container step, per job: $(sort "$d/jobholder.txt" | uniq -c | xargs)")
	echo "holder.sh: srun done" >&2
}
# Puts back what was there, unless someone changed the plugin meanwhile
# (this cluster is shared by the Slurm tests).
srun_cleanup() {
	local f now
	scancel -u "$TEST_USER" --name="$JOB_NAME" 2>/dev/null
	if [ "$installed" = 1 ]; then
		now=$(grep -v '^#' "$PLUGIN_CONF" 2>/dev/null | grep .)
		if [ "$now" != "$ours" ]; then
			echo "holder.sh: $PLUGIN_CONF changed during the run (now '${now:-none}'): left as it is" >&2
		elif [ -n "$prev_plugin" ]; then
			for f in "${prev_files[@]}"; do
				cmp -s "$work/prev/$f" "$PLUGIN_DIR/$f" || cp -p "$work/prev/$f" "$PLUGIN_DIR/$f"
			done
			if [ "$prev_plugin" != "$ours" ]; then
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
}
want srun && srun_section

# ---------------------------------------------------------------- memory
mem_lines=()
if want memory; then
	if [ "$has_stop" = 0 ]; then
		WHY[memory]=$why_noholder
		echo "holder.sh: memory: n/a: ${WHY[memory]}" >&2
	else
		# A holder to measure even when no other section ran: one import.
		u "$work/labrun" -c "$work/labrun.conf" "$IMG" python3 -c 'import numpy' ||
			notes+=("memory: the import through labrun failed")
		for p in $(pgrep -r "$LIVE" -x labrun-holder); do
			mem_lines+=("$(awk -v p="$p" -v u="$(ps -o user= -p "$p")" \
				'/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 } END { printf "| %s | %s | %s | %s |", p, u, h, r }' \
				"/proc/$p/status" 2>/dev/null)")
		done
		[ ${#mem_lines[@]} -gt 0 ] || notes+=("memory: no labrun-holder process after a plain labrun")
	fi
fi

# ---------------------------------------------------------------- report
{
	echo
	echo "| section | mode | median ms | per | vs reference |"
	echo "|---|---|---:|---|---:|"
	declare -A PER=([import]="import" [import8]="import, 8 at once" [start]="start" [start32]="start, 32 at once" [srun]="step")
	for row in "${rows[@]}"; do
		IFS='|' read -r s m ref <<<"$row"
		why=${WHY[$m]:-${WHY[$s.$m]:-}}
		if [ -z "${MED[$s.$m]:-}" ]; then
			echo "| $s | $m | n/a: ${why:-not measured} | | |"
			continue
		fi
		r="-"
		[ -z "${MED[$s.$ref]:-}" ] || r="$(ratio "${MED[$s.$m]}" "${MED[$s.$ref]}")x $ref"
		echo "| $s | $m | ${MED[$s.$m]} | ${PER[$s]} | $r |"
	done
	for s in "${ALL_SECTIONS[@]}"; do
		want "$s" || continue
		[ -z "${WHY[$s]:-}" ] || echo "| $s | | n/a: ${WHY[$s]} | | |"
	done
	if [ -s "$out/holders.tsv" ] || [ ${#mem_lines[@]} -gt 0 ]; then
		echo
		echo "Holders sampled before each stop, a job's at the job's end (KiB; per section: count, VmHWM median / max, VmRSS median):"
		[ ! -s "$out/holders.tsv" ] || awk -F'\t' '{ n[$2]++; h[$2] = h[$2] " " $3; r[$2] = r[$2] " " $4 }
			END { for (s in n) print s, n[s], h[s], "|", r[s] }' "$out/holders.tsv" |
			while read -r s n rest; do
				hs=${rest%|*} rs=${rest#*|}
				echo "  $s: $n holders, VmHWM $(median <<<"$hs") / $(tr ' ' '\n' <<<"$hs" | sort -n | tail -1), VmRSS $(median <<<"$rs")"
			done
		if [ ${#mem_lines[@]} -gt 0 ]; then
			echo
			echo "| holder pid (at the end) | user | VmHWM KiB | VmRSS KiB |"
			echo "|---:|---|---:|---:|"
			printf '%s\n' "${mem_lines[@]}"
		fi
	fi
	[ ${#notes[@]} -eq 0 ] || { echo; printf 'note: %s\n' "${notes[@]}"; }
} | tee "$out/table.md"

# ---------------------------------------------------------------- targets
verdict=PASS
target() { # SECTION MODE REF MAX TEXT
	local a=${MED[$1.$2]:-} b=${MED[$1.$3]:-} v
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "target: $5: not measured"
		return 0
	fi
	# Judged on the ratio as printed (two decimals), so that 1.15x reads
	# as meeting a 1.15x target.
	local r
	r=$(ratio "$a" "$b")
	v=$(awk -v r="$r" -v m="$4" 'BEGIN { print (r <= m) ? "PASS" : "FAIL" }')
	echo "target: $5: ${r}x (<= ${4}x): $v"
	[ "$v" = PASS ] || verdict=FAIL
}
targets=$out/targets.txt
{
	echo
	target import "labrun warm" "bwrap dir" 1.15 "import numpy, warm holder vs host directory"
	target import "labrun trusted" "bwrap dir" 1.05 "import numpy, trusted layers vs host directory"
	target import8 "labrun warm" "bwrap dir" 1.1 "8 concurrent imports, warm holder vs host directory"
	target import8 "labrun trusted" "bwrap dir" 1.1 "8 concurrent imports, trusted layers vs host directory"
	target start "labrun warm" floor 1.5 "/bin/true, layers held vs floor"
	target start32 "labrun warm" floor 1.5 "32 concurrent starts, layers held vs floor per start"
	target start "labrun fresh" floor 2 "/bin/true, first launch (nothing held) vs floor"
	target srun "later container step" "bare srun" 1.1 "later srun --container step vs bare srun"
	target srun "srun -n8 container numpy" "srun -n8 bwrap dir numpy" 1.15 "srun -n8 numpy vs bare srun on the host directory"
	echo "targets: $verdict"
} >"$targets"
cat "$targets"
cat "$targets" >>"$out/table.md"
[ -z "$OUT" ] || echo "holder.sh: results in $out" >&2
[ "$verdict" = PASS ]
