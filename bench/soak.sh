#!/bin/bash
# bench/soak.sh - many launches and Slurm steps, mixed, and nothing grows
# (issue 12, "Soak").  Runs LAUNCHES labrun launches as the test user, then
# STEPS Slurm steps with --container (when the local Slurm of
# scripts/slurm-local.sh answers), and every EVERY runs samples what a leak
# would make grow:
#   file-nr     the host's allocated file handles (/proc/sys/fs/file-nr)
#   mounts      lines of the host's /proc/self/mountinfo
#   fuse        FUSE connections (/sys/fs/fuse/connections)
#   procs       processes left in the soak's own cgroup (everything it
#               started, labrun, keepers and jobs, is in it) besides the
#               runner: must be 0 between launches
#   cg-labrun   cgroups under labrun's trees (*/labrun*), cg-slurm under
#               Slurm's (*/slurm*): job and step cgroups must go
#   stepd       slurmstepd processes (0 between steps)
#   RSS (KiB) and open fds of every long-lived process: slurmctld, slurmd,
#               munged (a restart, a new pid, is reported and re-based)
# The mix, launch i by i % 10: 0-2 good (true; with --remap-root; with a
# bind), 3-4 a failing command (exit 3; false), 5 SIGTERM to labrun while
# the job runs, 6 SIGKILL to labrun while the job runs (the FUSE server
# dies under its container), 7 the job killing itself (SIGKILL), 8 a bad
# image (not squashfs, truncated, missing, in turn), 9 a bad option (unknown
# option, missing bind source, bad size, in turn).  Step i by i % 5: 0-1
# good, 2 failing (exit 3), 3 scancel'd while running, 4 a bad image.
# Every exit status is checked against what that kind must give.
#
# The table's first row is the baseline, taken after a warm-up of WARMUP
# runs; the last row is taken after the runs and SETTLE seconds for the
# teardown.  Exit 1 when anything grew from baseline to last row beyond its
# slack (counts: none; daemons' fds: FD_SLACK; RSS: RSS_PCT % + RSS_SLACK
# KiB, since allocators keep what they once used; file-nr: FILE_SLACK, the
# host's other work moves it) or any run gave the wrong status; 0 otherwise.
#
#   bench/soak.sh [--launches N] [--steps N] [--every N] [--build DIR]
#                 [--steps-first] [--launch-deadline TIME] [--jobs N]
#   defaults: 10000 launches, 500 steps, a sample every tenth of each;
#   --launch-deadline (date(1)'s TIME, e.g. 11:55) ends the launches early,
#   with the settled last row and the verdict, and says so; --jobs N runs
#   N launches side by side (the Slurm steps stay one at a time).
#   CI runs a short one (tests/soak-smoke.sh: --launches 200 --steps 20).
#
# As root: launches and steps run as the test user labrun-test
# (scripts/setup-test-env.sh), inside a cgroup of the soak's own.  The
# launches hold the launcher tests' lock (/tmp/labrun-bats-labrun-test.lock)
# one batch of EVERY runs at a time, so that no bats file runs beside them
# (each counts the test user's processes), and so do the steps, all of
# them (the Slurm tests reload the plugin).  The plugin is installed as
# tests/slurm/slurm.bash installs it (/var/lib/labrun-tests, `required`)
# and put back as it was at the end, as bench/srun.sh does.  Not root:
# launches as the caller, no cgroup (procs counts the caller's labrun
# processes), no steps.
#
# Figures of the full run, 2026-12-07, main at e9b0de7 plus the other
# helpers' uncommitted issue-12 fixes of the moment, built in one tree; 2
# shared cores, kernel 6.18, cgroup v1; `bench/soak.sh --launches 10000
# --steps 500 --every 250 --jobs 2 --steps-first` as root (runs as
# labrun-test): 1938 s in all, of which 928 s running launches and steps
# (the rest waiting for the tests' lock, which other helpers' bats files
# held, and settling).  10500 runs, every one with its kind's status
# (1200 good 0, 1000 good-bind 0, 1000 good-remap 0, 1100 fail 3, 1000
# fail-remap 1, 1000 sigterm 143, 1000 sigkill 137, 1000 job-killed 137,
# 1000 bad-image 125, 1000 bad-option 125; steps: 100 scancel 143, 100
# bad image 1).  Baseline -> last row:
#                 500 steps                10000 launches
#   file-nr       1428 -> 1412             1169 -> 674
#   host mounts   20 -> 20                 20 -> 20
#   FUSE conns    0 -> 0                   0 -> 0
#   procs left    0 -> 0                   0 -> 0
#   cgroups       labrun 1 -> 1, slurm 4 -> 4 (both phases)
#   slurmstepd    0 -> 0                   0 -> 0
#   slurmctld     15836K/10 fds -> 21376K/10 fds (job records: MinJobAge
#                 300 s; the RSS stayed at 21376K through the 10000
#                 launches and after the records' purge: glibc keeps
#                 what it freed)           21376K/10 -> 21376K/10
#   slurmd        5592K/7 -> 5712K/7       restarted by a Slurm test
#                                          mid-phase: 5232K/7 -> 5236K/7
#   munged        4604K/6 -> 4844K/6       4844K/6 -> 4844K/6
# Verdict: nothing grew.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=bench/lib.bash
source "$top/bench/lib.bash"

LAUNCHES=10000
STEPS=500
EVERY=
DEADLINE=
STEPS_FIRST=0
JOBS=1
BUILD=${LABRUN_BUILD:-$top/build}
WARMUP=${WARMUP:-20}
SETTLE=${SETTLE:-30}
FD_SLACK=${FD_SLACK:-2}
RSS_PCT=${RSS_PCT:-10}
RSS_SLACK=${RSS_SLACK:-4096}
FILE_SLACK=${FILE_SLACK:-2000}
TEST_USER=labrun-test
SLURM_LOCAL=$top/scripts/slurm-local.sh
PLUGIN_DIR=/var/lib/labrun-tests
PLUGIN_CONF=/etc/slurm/plugstack.conf.d/labrun.conf
LOCK=/tmp/labrun-bats-$TEST_USER.lock

die() {
	echo "soak.sh: $*" >&2
	exit 2
}
usage() { sed -n '/^#   bench\/soak.sh \[/,/^#   N launches side/p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--launches) LAUNCHES=${2:?}; shift 2 ;;
	--steps) STEPS=${2:?}; shift 2 ;;
	--every) EVERY=${2:?}; shift 2 ;;
	--build) BUILD=${2:?}; shift 2 ;;
	--launch-deadline) DEADLINE=$(date -d "${2:?}" +%s) || die "not a time: $2"; shift 2 ;;
	--steps-first) STEPS_FIRST=1; shift ;;
	--jobs) JOBS=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
for n in "$LAUNCHES" "$STEPS" "${EVERY:-1}" "$JOBS"; do
	[[ $n =~ ^[0-9]+$ ]] || die "not a count: $n"
done
[ "$JOBS" -ge 1 ] || die "--jobs: at least 1"
LABRUN=$BUILD/launcher/labrun
[ -x "$LABRUN" ] || die "$LABRUN not built (scripts/test.sh builds it)"
[ -e /dev/fuse ] || die "/dev/fuse missing: the kernel has no FUSE"

root=0
[ "$(id -u)" -eq 0 ] && root=1
if [ "$root" = 1 ]; then
	id "$TEST_USER" >/dev/null 2>&1 || die "no user $TEST_USER: scripts/setup-test-env.sh"
	as_user=(setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups --reset-env
		env PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp)
else
	as_user=(env)
	LOCK=/tmp/labrun-bats-$(id -u).lock
	if [ "$STEPS" -gt 0 ]; then
		echo "soak.sh: not root: no Slurm steps (they need the plugin installed)" >&2
		STEPS=0
	fi
fi

work=$(mktemp -d /tmp/labrun-soak.XXXXXX)
chmod 755 "$work"
cp "$LABRUN" "$work/labrun"
# The runner's cgroup: every process the soak starts is in it, so the
# processes it left are counted without the test user's others.
CG=
if [ "$root" = 1 ]; then
	for h in /sys/fs/cgroup/pids /sys/fs/cgroup/unified /sys/fs/cgroup; do
		if [ -w "$h/cgroup.procs" ]; then
			CG=$h/labrun-soak.$$
			mkdir "$CG"
			break
		fi
	done
fi

# ---------------------------------------------------------------- images
# busybox as the tests build it, else from images/busybox-root.sh; bad
# images made here.
if [ -f "$BUILD/tests/build/images/busybox.sqfs" ]; then
	cp "$BUILD/tests/build/images/busybox.sqfs" "$work/busybox.sqfs"
else
	command -v mksquashfs >/dev/null || die "mksquashfs missing: apt-get install squashfs-tools"
	"$top/images/busybox-root.sh" "$work/root" >/dev/null
	mksquashfs "$work/root" "$work/busybox.sqfs" -noappend -quiet -no-progress -all-root >/dev/null
	rm -rf "$work/root"
fi
echo "this is not a squashfs image" >"$work/notsquash.sqfs"
head -c $(($(stat -c %s "$work/busybox.sqfs") / 2)) "$work/busybox.sqfs" >"$work/truncated.sqfs"
mkdir -m 1777 "$work/marks"
: >"$work/busy"
: >"$work/failures"
: >"$work/step.out"
printf 'layer-store = %s\n' "$work" >"$work/labrun.conf"
chmod -R a+rX "$work"
chmod 666 "$work/busy" "$work/failures" "$work/step.out"

# ---------------------------------------------------------------- Slurm
slurm=0
installed=0
ours="required $PLUGIN_DIR/spank_labrun.so helper=$PLUGIN_DIR/labrun-step"
prev_plugin=
if [ "$STEPS" -gt 0 ]; then
	if ! command -v srun >/dev/null || ! scontrol ping >/dev/null 2>&1; then
		echo "soak.sh: the local Slurm does not answer (scripts/slurm-local.sh start): no steps" >&2
		STEPS=0
	elif [ ! -f "$BUILD/plugin/spank_labrun.so" ] || [ ! -x "$BUILD/plugin/labrun-step" ]; then
		echo "soak.sh: the plugin is not built in $BUILD: no steps" >&2
		STEPS=0
	else
		slurm=1
		prev_plugin=$(grep -v '^#' "$PLUGIN_CONF" 2>/dev/null | grep . || true)
		mkdir -p "$work/prev"
		for f in spank_labrun.so labrun-step; do
			[ ! -e "$PLUGIN_DIR/$f" ] || cp -p "$PLUGIN_DIR/$f" "$work/prev/$f"
		done
	fi
fi

cleanup() {
	local rc=$? f now
	set +e
	[ "$slurm" = 1 ] && scancel -u "$TEST_USER" --name="labrun-soak.$$" 2>/dev/null
	if [ "$installed" = 1 ]; then
		now=$(grep -v '^#' "$PLUGIN_CONF" 2>/dev/null | grep .)
		if [ "$now" != "$ours" ]; then
			echo "soak.sh: $PLUGIN_CONF changed during the run: left as it is" >&2
		elif [ -n "$prev_plugin" ]; then
			for f in spank_labrun.so labrun-step; do
				[ ! -e "$work/prev/$f" ] || cp -p "$work/prev/$f" "$PLUGIN_DIR/$f"
			done
			if [ "$prev_plugin" != "$ours" ]; then
				read -r _ so args <<<"$prev_plugin"
				# shellcheck disable=SC2086 # split as plugstack.conf splits them
				"$SLURM_LOCAL" plugin "$so" $args >/dev/null
			fi
		else
			"$SLURM_LOCAL" plugin --remove >/dev/null
		fi
	fi
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		# Anything still in the soak's cgroup is a leftover (the user's
		# layer holders among them): end it, and remove the cgroup once
		# the kernel has let go of the last of them (up to 5 s).
		for _ in $(seq 50); do
			while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$CG/cgroup.procs"
			rmdir "$CG" 2>/dev/null && break
			sleep 0.1
		done
		[ ! -d "$CG" ] || echo "soak.sh: $CG could not be removed" >&2
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- samples
DAEMONS=(slurmctld slurmd munged)
# daemon_pid NAME: the oldest process of that name, empty if none.
daemon_pid() { pgrep -o -x "$1" 2>/dev/null || true; }
rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fds_of() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
count_cg() { find /sys/fs/cgroup -mindepth 2 -maxdepth 7 -type d -path "$1" 2>/dev/null | wc -l; }
# The user's layer holders (labrun(1), LAYER HOLDER) outlive the launches
# on purpose, one per id view: counted apart (soak_holders), and checked to
# stay at most HOLDERS_MAX whatever the number of launches.
HOLDERS_MAX=2
soak_holders() {
	local p n=0
	if [ -n "$CG" ]; then
		while read -r p; do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" != labrun-holder ] || n=$((n + 1))
		done <"$CG/cgroup.procs"
		echo "$n"
	else
		pgrep -u "$(id -u)" -x labrun-holder | wc -l
	fi
}
soak_procs() {
	if [ -n "$CG" ]; then
		# The runner is gone between batches: all there is, is left over.
		echo $(($(wc -l <"$CG/cgroup.procs") - $(soak_holders)))
	else
		pgrep -u "$(id -u)" -f "$work/labrun" 2>/dev/null | wc -l
	fi
}

# sample LABEL RUNS: one row: the counts, then pid:rss:fds per daemon.
sample() {
	local row d pid
	row="$1 $2 $((SECONDS - t0)) $(cut -f1 /proc/sys/fs/file-nr) $(wc -l </proc/self/mountinfo)"
	row+=" $(ls /sys/fs/fuse/connections 2>/dev/null | wc -l) $(soak_procs)"
	row+=" $(count_cg '*/labrun*') $(count_cg '*/slurm*') $(pgrep -c -x slurmstepd || true)"
	for d in "${DAEMONS[@]}"; do
		pid=$(daemon_pid "$d")
		if [ -n "$pid" ]; then
			row+=" $pid:$(rss_of "$pid"):$(fds_of "$pid")"
		else
			row+=" -:0:0"
		fi
	done
	echo "$row" >>"$work/samples"
	print_row "$row"
}
HEADER="phase runs secs file-nr mounts fuse procs cg-labrun cg-slurm stepd"
print_header() {
	printf '%-8s %6s %5s %8s %6s %4s %5s %9s %8s %5s' $HEADER
	for d in "${DAEMONS[@]}"; do printf ' %22s' "$d rss/fds"; done
	echo
}
print_row() {
	local a
	read -ra a <<<"$1"
	printf '%-8s %6s %5s %8s %6s %4s %5s %9s %8s %5s' "${a[@]:0:10}"
	local i
	for ((i = 10; i < ${#a[@]}; i++)); do
		IFS=: read -r p r f <<<"${a[$i]}"
		printf ' %22s' "${r}K/${f} (${p})"
	done
	echo
}

# settle: wait up to SETTLE s for the teardown (no process left, no step)
# and for the kernel to free the files of the runs (it does so lazily:
# file-nr falls by a thousand within seconds here), once a baseline is set.
settle_procs() {
	local end=$((SECONDS + SETTLE))
	while [ "$SECONDS" -lt "$end" ] && [ "$(soak_procs)" -gt 0 ]; do
		sleep 0.1
	done
}
BASE_FILENR=
settle() {
	local end=$((SECONDS + SETTLE))
	while [ "$SECONDS" -lt "$end" ]; do
		if [ "$(soak_procs)" -eq 0 ] && ! pgrep -x slurmstepd >/dev/null &&
			{ [ -z "$BASE_FILENR" ] ||
				[ "$(cut -f1 /proc/sys/fs/file-nr)" -le $((BASE_FILENR + FILE_SLACK)) ]; }; then
			return 0
		fi
		sleep 0.5
	done
}

# ---------------------------------------------------------------- launches
# The runner, as the test user: launches FROM..TO, one "I KIND STATUS
# EXPECTED" line each.
cat >"$work/launch.sh" <<'EOF'
#!/bin/bash
# launch.sh WORK FROM TO [STRIDE]: as the user; kinds as bench/soak.sh says.
work=$1 from=$2 to=$3 stride=${4:-1}
t_start=$(date +%s%N)
lr() { "$work/labrun" -c "$work/labrun.conf" "$@" </dev/null >/dev/null 2>&1; }
bb=$work/busybox.sqfs
# killed KIND SIGNAL I: the job runs (its mark appears), then SIGNAL to labrun.
killed() {
	local mark=$work/marks/up.$3 pid i
	"$work/labrun" -c "$work/labrun.conf" --bind "$work/marks:/m" "$bb" \
		sh -c "touch /m/up.$3; exec sleep 30" </dev/null >/dev/null 2>&1 &
	pid=$!
	for ((i = 0; i < 400; i++)); do
		[ -e "$mark" ] && break
		sleep 0.025
	done
	kill -"$2" "$pid" 2>/dev/null
	wait "$pid"
	local st=$?
	rm -f "$mark"
	return $st
}
for ((i = from; i <= to; i += stride)); do
	case $((i % 10)) in
	0) lr "$bb" true; st=$? kind=good want=0 ;;
	1) lr --remap-root "$bb" true; st=$? kind=good-remap want=0 ;;
	2) lr --bind "$work/marks:/m:ro" "$bb" true; st=$? kind=good-bind want=0 ;;
	3) lr "$bb" sh -c 'exit 3'; st=$? kind=fail want=3 ;;
	4) lr --remap-root "$bb" false; st=$? kind=fail-remap want=1 ;;
	5) killed term TERM "$i"; st=$? kind=sigterm want=143 ;;
	6) killed kill KILL "$i"; st=$? kind=sigkill want=137 ;;
	7) lr "$bb" sh -c 'kill -KILL $$'; st=$? kind=job-killed want=137 ;;
	8)
		case $(((i / 10) % 3)) in
		0) lr "$work/notsquash.sqfs" true ;;
		1) lr "$work/truncated.sqfs" true ;;
		2) lr "$work/missing.sqfs" true ;;
		esac
		st=$? kind=bad-image want=125 ;;
	9)
		case $(((i / 10) % 3)) in
		0) lr --no-such-option "$bb" true ;;
		1) lr --bind "$work/missing:/x" "$bb" true ;;
		2) lr --tmpfs-size bogus "$bb" true ;;
		esac
		st=$? kind=bad-option want=125 ;;
	esac
	echo "$i $kind $st $want"
done
echo $((($(date +%s%N) - t_start) / 1000000)) >>"$work/busy"
EOF
# The runner for Slurm steps, as the test user.
cat >"$work/steps.sh" <<'EOF'
#!/bin/bash
# steps.sh WORK FROM TO NAME: as the user; kinds as bench/soak.sh says.
work=$1 from=$2 to=$3 name=$4
t_start=$(date +%s%N)
bb=$work/busybox.sqfs
s() { srun --quiet --job-name="$name" "$@" </dev/null >"$work/step.out" 2>&1; }
for ((i = from; i <= to; i++)); do
	case $((i % 5)) in
	0 | 1) s --container="$bb" true; st=$? kind=good want=0 ;;
	2) s --container="$bb" sh -c 'exit 3'; st=$? kind=fail want=3 ;;
	3)
		srun --quiet --job-name="$name" --container="$bb" sh -c 'echo up; exec sleep 60' \
			</dev/null >"$work/step.out" 2>&1 &
		pid=$!
		for ((k = 0; k < 600; k++)); do
			grep -q up "$work/step.out" 2>/dev/null && break
			sleep 0.05
		done
		scancel --name="$name" 2>/dev/null
		wait "$pid"
		st=$? kind=scancel want=nonzero ;;
	4)
		s --container="$work/notsquash.sqfs" true
		st=$? kind=bad-image want=nonzero
		grep -q 'labrun: ' "$work/step.out" || st="$st-no-labrun-line" ;;
	esac
	echo "$i $kind $st $want"
	# What srun said, for a run that gave the wrong status.
	if { [ "$want" = nonzero ] && [ "$st" = 0 ]; } || { [ "$want" != nonzero ] && [ "$st" != "$want" ]; } ||
		[[ $st == *-* ]]; then
		{ echo "== step $i ($kind): status $st"; head -5 "$work/step.out"; } >>"$work/failures"
	fi
done
echo $((($(date +%s%N) - t_start) / 1000000)) >>"$work/busy"
EOF
chmod 755 "$work/launch.sh" "$work/steps.sh"

# in_cgroup CMD...: CMD in the soak's cgroup, as the user.
in_cgroup() {
	if [ -n "$CG" ]; then
		sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "${as_user[@]}" "$@"
	else
		"${as_user[@]}" "$@"
	fi
}

# lock / unlock: the launcher tests' lock, held over each batch and the
# sample after it, so that no bats file runs beside them (each counts the
# test user's processes, mounts and FUSE connections, and so does this).
lock() {
	[ "$LOCK" != /dev/null ] || return 0
	exec 6>>"$LOCK"
	flock 6
}
unlock() {
	[ "$LOCK" != /dev/null ] || return 0
	flock -u 6
	exec 6>&-
}

# batch RUNNER FROM TO [ARG]: runs, statuses appended to results; the
# launches in JOBS runners side by side (run i by runner i % JOBS).
batch() {
	local runner=$1 from=$2 to=$3 k
	shift 3
	if [ "$runner" = launch.sh ] && [ "$JOBS" -gt 1 ]; then
		for ((k = 0; k < JOBS; k++)); do
			in_cgroup "$work/$runner" "$work" $((from + k)) "$to" "$JOBS" \
				>>"$work/results" 2>>"$work/runner.err" 6>&- 7>&- &
		done
		wait
		return 0
	fi
	in_cgroup "$work/$runner" "$work" "$from" "$to" "$@" >>"$work/results" 2>>"$work/runner.err" 6>&- 7>&-
}

# run_phase NAME RUNNER TOTAL [ARG]: WARMUP runs, the baseline, then
# batches of EVERY with a sample after each, then the settled last row.
run_phase() {
	local phase=$1 runner=$2 total=$3 arg=${4:-} done_=0 n every=${EVERY:-$(($3 / 10))}
	[ "$total" -gt 0 ] || return 0
	[ "$every" -ge 1 ] || every=1
	: >"$work/samples"
	BASE_FILENR=
	n=$((WARMUP < total ? WARMUP : total))
	lock
	batch "$runner" 0 $((n - 1)) $arg
	done_=$n
	settle
	print_header
	sample base "$done_"
	BASE_FILENR=$(head -1 "$work/samples" | cut -d' ' -f4)
	unlock
	while [ "$done_" -lt "$total" ]; do
		n=$((total - done_ < every ? total - done_ : every))
		lock
		batch "$runner" "$done_" $((done_ + n - 1)) $arg
		done_=$((done_ + n))
		if [ -n "$DEADLINE" ] && [ "$(date +%s)" -ge "$DEADLINE" ] && [ "$done_" -lt "$total" ]; then
			echo "soak.sh: $phase: the deadline passed: stopped after $done_ of $total runs"
			total=$done_
		fi
		if [ "$done_" -lt "$total" ]; then
			# What the last runs left is gone before the lock goes
			# (another holder counts the test user's processes).
			settle_procs
			sample "$phase" "$done_"
		else
			settle
			sample last "$done_"
		fi
		unlock
	done
	[ "$total" -gt "$WARMUP" ] || { lock; settle; sample last "$done_"; unlock; }
	verdict "$phase"
}

FAIL=0
# verdict PHASE: first row (baseline) against the last.
verdict() {
	local b l i name
	read -ra b <<<"$(head -1 "$work/samples")"
	read -ra l <<<"$(tail -1 "$work/samples")"
	grow() { # NAME BASE LAST SLACK
		if [ "$3" -gt $(($2 + $4)) ]; then
			echo "soak.sh: $1: $2 -> $3: it grew (slack $4)"
			FAIL=1
		fi
	}
	grow "$phase file-nr" "${b[3]}" "${l[3]}" "$FILE_SLACK"
	grow "$phase mounts" "${b[4]}" "${l[4]}" 0
	grow "$phase fuse connections" "${b[5]}" "${l[5]}" 0
	grow "$phase processes left" 0 "${l[6]}" 0
	grow "$phase layer holders" 0 "$(soak_holders)" "$HOLDERS_MAX"
	grow "$phase labrun cgroups" "${b[7]}" "${l[7]}" 0
	grow "$phase slurm cgroups" "${b[8]}" "${l[8]}" 0
	grow "$phase slurmstepd left" 0 "${l[9]}" 0
	for ((i = 10; i < ${#b[@]}; i++)); do
		name=${DAEMONS[$((i - 10))]}
		IFS=: read -r bp br bf <<<"${b[$i]}"
		IFS=: read -r lp lr lf <<<"${l[$i]}"
		[ "$bp" != - ] || continue
		if [ "$bp" != "$lp" ]; then
			echo "soak.sh: $phase: $name restarted (pid $bp -> $lp): not compared"
			continue
		fi
		grow "$phase $name fds" "$bf" "$lf" "$FD_SLACK"
		grow "$phase $name RSS (KiB)" "$br" "$lr" $((br * RSS_PCT / 100 + RSS_SLACK))
	done
}

install_plugin() {
	install -d -m 0755 "$PLUGIN_DIR"
	install -m 0755 "$BUILD/plugin/spank_labrun.so" "$PLUGIN_DIR/spank_labrun.so"
	install -m 0755 "$BUILD/plugin/labrun-step" "$PLUGIN_DIR/labrun-step"
	"$SLURM_LOCAL" plugin "$PLUGIN_DIR/spank_labrun.so" helper="$PLUGIN_DIR/labrun-step" >/dev/null
	installed=1
}

t0=$SECONDS
: >"$work/results"
echo "soak: $LAUNCHES launches ($JOBS at a time), $STEPS steps, a sample every ${EVERY:-tenth of the} runs;" \
	"labrun from $BUILD; $(nproc) cores; $(uname -r)"
launches() {
	[ "$LAUNCHES" -gt 0 ] || return 0
	local t1=$SECONDS
	echo "== launches (as ${as_user[1]#--reuid=}; kinds: launch i by i % 10, bench/soak.sh)"
	run_phase launch launch.sh "$LAUNCHES"
	echo "launches: this phase $((SECONDS - t1)) s"
}
steps() {
	[ "$slurm" = 1 ] && [ "$STEPS" -gt 0 ] || return 0
	local t1=$SECONDS saved=$LOCK
	echo "== Slurm steps (srun --container, as $TEST_USER)"
	# The whole phase under the tests' lock: the Slurm tests reload the
	# plugin, and a step without it would run on the host.
	exec 7>>"$LOCK"
	flock 7
	install_plugin
	LOCK=/dev/null # held already
	run_phase step steps.sh "$STEPS" "labrun-soak.$$"
	LOCK=$saved
	exec 7>&-
	echo "steps: this phase $((SECONDS - t1)) s"
}
if [ "$STEPS_FIRST" = 1 ]; then
	steps
	launches
else
	launches
	steps
fi

# Exit statuses: each run's against its kind's.
wrong=$(awk '$4 == "nonzero" ? ($3 == 0 || $3 !~ /^[0-9]+$/) : ($3 != $4)' "$work/results")
total=$(wc -l <"$work/results")
echo "runs: $total; by kind and status:"
awk '{ print "  " $2, $3 }' "$work/results" | sort | uniq -c | sort -k2
if [ -n "$wrong" ]; then
	echo "soak.sh: $(wc -l <<<"$wrong") run(s) gave the wrong status (I KIND STATUS WANTED):"
	head -20 <<<"$wrong"
	[ ! -s "$work/failures" ] || { echo "what srun said:"; head -40 "$work/failures"; }
	FAIL=1
fi
busy=$(awk '{ s += $1 } END { printf "%.1f", s / 1000 }' "$work/busy" 2>/dev/null || echo 0)
echo "total: $((SECONDS - t0)) s, of which running launches and steps $busy s" \
	"(the rest: sampling, settling, waiting for the tests' lock);" \
	"$([ "$FAIL" = 0 ] && echo "nothing grew" || echo FAILED)"
exit "$FAIL"
