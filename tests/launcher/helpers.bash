# helpers.bash - loaded by every tests/launcher/*.bats.
#
# Runs as the unprivileged test user (tests/launcher/run-bats).  Gives:
#   lr ARGS...        labrun -c $LR_CONF ARGS..., with a timeout
#   run_lr ARGS...    bats' run of lr with stdin from /dev/null, stderr in
#                     $stderr (run --separate-stderr)
#   assert_*          small assertions that print what they saw
#   setup/teardown    record the host's state before each test and check
#                     after it that labrun left nothing behind: no new mount
#                     in the host's mount table, no process of the user, no
#                     FUSE connection (DESIGN.md §3: "When it exits the
#                     kernel tears the container down: nothing of it is
#                     left"; notes/security.md: teardown is where peers leak)
# A .bats file that needs its own setup/teardown calls lr_setup/lr_teardown.

# shellcheck disable=SC2034,SC2154 # variables used by the .bats files; set by bats' run
bats_require_minimum_version 1.5.0

: "${LABRUN:?LABRUN must name the labrun binary (tests/launcher/run-bats sets it)}"
: "${IMAGES:?IMAGES must name the test images (tests/launcher/run-bats sets it)}"
# shellcheck source=/dev/null
source "$IMAGES/digests"

LR_TIMEOUT=${LR_TIMEOUT:-20}
BB=$IMAGES/busybox.sqfs
TOP=$IMAGES/top.sqfs
PROBES=$IMAGES/probes.sqfs

# ---------------------------------------------------------------- running labrun

# lr ARGS: labrun with the test's config (LR_CONF: the layer store is
# $IMAGES/store), killed after LR_TIMEOUT seconds.
lr() {
	timeout -k 5 "$LR_TIMEOUT" "$LABRUN" -c "$LR_CONF" "$@"
}
# lr_noconf ARGS: labrun without -c.
lr_noconf() {
	timeout -k 5 "$LR_TIMEOUT" "$LABRUN" "$@"
}
lr_null() {
	lr "$@" </dev/null
}
run_lr() {
	run --separate-stderr lr_null "$@"
}

# write_conf FILE LINE...: a labrun.conf.
write_conf() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f"
}

# bg_start VAR CMD...: start the program CMD (not a shell function: the pid
# must be the program's) in the background, its pid in VAR.  Whatever is
# still running at teardown gets SIGTERM, then SIGKILL.
LR_BG_PIDS=()
bg_start() {
	local var=$1
	shift
	"$@" &
	printf -v "$var" '%s' "$!"
	LR_BG_PIDS+=("$!")
}
# bg_lr VAR ARGS...: labrun -c $LR_CONF ARGS in the background, stdin from
# /dev/null, its pid in VAR (no timeout: teardown ends it).  A
# non-interactive shell starts background commands with SIGINT and SIGQUIT
# ignored; env --default-signal undoes that, as for a command started by
# Slurm or an interactive shell.
bg_lr() {
	local var=$1
	shift
	env --default-signal=INT,QUIT "$LABRUN" -c "$LR_CONF" "$@" </dev/null &
	printf -v "$var" '%s' "$!"
	LR_BG_PIDS+=("$!")
}

# wait_for TIMEOUT CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	"$@"
}

# ---------------------------------------------------------------- assertions

lr_show() {
	echo "status: $status"
	echo "stdout: ${output-}"
	echo "stderr: ${stderr-}"
}
assert_status() {
	if [ "$status" -ne "$1" ]; then
		echo "expected exit status $1"
		lr_show
		return 1
	fi
}
assert_output() {
	if [ "$output" != "$1" ]; then
		printf 'expected stdout: %s\n' "$1"
		lr_show
		return 1
	fi
}
assert_output_contains() {
	if [[ $output != *"$1"* ]]; then
		printf 'expected stdout to contain: %s\n' "$1"
		lr_show
		return 1
	fi
}
assert_output_not_contains() {
	if [[ $output == *"$1"* ]]; then
		printf 'expected stdout not to contain: %s\n' "$1"
		lr_show
		return 1
	fi
}
assert_stderr_empty() {
	if [ -n "$stderr" ]; then
		echo "expected nothing on stderr"
		lr_show
		return 1
	fi
}
# assert_stderr_matches ERE [ERE...]: each (case-insensitive) in stderr.
assert_stderr_matches() {
	local re
	for re in "$@"; do
		if ! grep -qiE -- "$re" <<<"$stderr"; then
			printf 'expected stderr to match: %s\n' "$re"
			lr_show
			return 1
		fi
	done
}
# assert_error STATUS ERE...: exit STATUS and exactly one line on stderr,
# "labrun: ...", matching every ERE (DESIGN.md §3: "Every failure prints one
# line saying what and why").
assert_error() {
	assert_status "$1"
	shift
	if [ "${#stderr_lines[@]}" -ne 1 ] || [[ ${stderr_lines[0]} != "labrun: "* ]]; then
		echo "expected exactly one line on stderr, starting with 'labrun: '"
		lr_show
		return 1
	fi
	assert_stderr_matches "$@"
}
# assert_labrun_error ERE...: labrun itself failed: 125 and one line.
assert_labrun_error() {
	assert_error 125 "$@"
}

# ---------------------------------------------------------------- host state

# The user's live processes as "PID COMM", without this function's own
# pipeline.  Zombies are left out: bats orphans some subshells, and this
# machine's init may reap them late; a zombie holds nothing.
lr_procs() {
	local me=$BASHPID
	ps -u "$(id -u)" -o pid=,ppid=,stat=,comm= |
		awk -v me="$me" '$1 != me && $2 != me && $3 !~ /^Z/ { print $1, $4 }' | sort
}
lr_mounts() {
	sort /proc/self/mountinfo
}
lr_fuse_conns() {
	ls /sys/fs/fuse/connections 2>/dev/null | sort
}

lr_setup() {
	LR_CONF=$BATS_TEST_TMPDIR/labrun.conf
	write_conf "$LR_CONF" "layer-store = $IMAGES/store"
	LR_STATE=$BATS_TEST_TMPDIR/.host-state
	mkdir -p "$LR_STATE"
	local procs
	procs=$(lr_procs) # in a subshell, as in lr_check_leftovers
	printf '%s\n' "$procs" >"$LR_STATE/procs"
	lr_mounts >"$LR_STATE/mounts"
	lr_fuse_conns >"$LR_STATE/fuse"
	# The host's cwd is then not visible in the container (no bind shows
	# it): the job starts in the image's workdir, else /.
	cd "$BATS_TEST_TMPDIR" || return 1
}

# Sets LR_REPORT to what is left since lr_setup ("" when nothing).  No
# subshell or process substitution here: they would count themselves.
lr_check_leftovers() {
	local now new
	LR_REPORT=
	now=$(lr_procs)
	new=$(grep -vxF -f "$LR_STATE/procs" <<<"$now" || true)
	[ -z "$new" ] || LR_REPORT+="processes left behind:"$'\n'"$new"$'\n'
	lr_mounts >"$LR_STATE/mounts.now"
	if ! cmp -s "$LR_STATE/mounts" "$LR_STATE/mounts.now"; then
		LR_REPORT+="host mount table changed:"$'\n'
		LR_REPORT+=$(diff "$LR_STATE/mounts" "$LR_STATE/mounts.now")$'\n'
	fi
	lr_fuse_conns >"$LR_STATE/fuse.now"
	if ! cmp -s "$LR_STATE/fuse" "$LR_STATE/fuse.now"; then
		LR_REPORT+="FUSE connections changed:"$'\n'
		LR_REPORT+=$(diff "$LR_STATE/fuse" "$LR_STATE/fuse.now")$'\n'
	fi
}

lr_teardown() {
	local pid i
	for pid in "${LR_BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		for ((i = 0; i < 40; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	LR_BG_PIDS=()
	# The user's layer holders (labrun(1)) outlive containers on purpose:
	# stopped here, so that what is left after this is a leak.
	"$LABRUN" --stop-holders >/dev/null 2>&1 || true
	# Processes may take a moment to go: wait up to ~1 s.
	for ((i = 0; i < 20; i++)); do
		lr_check_leftovers
		[ -z "$LR_REPORT" ] && return 0
		sleep 0.05
	done
	printf 'labrun left something behind after this test:\n%s' "$LR_REPORT"
	ps -u "$(id -u)" -o pid,ppid,stat,args | grep -v ' Z ' || true
	return 1
}

setup() {
	lr_setup
}
teardown() {
	lr_teardown
}

# ---------------------------------------------------------------- layers

# sq_ls LAYER: one line per entry of the squashfs file LAYER, root left out,
# as "MODE UID/GID [MAJOR,MINOR] PATH" (e.g. "drwxrwxrwt 0/0 tmp",
# "c--------- 0/0 0,0 etc/gone"), from squashfs-tools-ng's rdsquashfs:
# unsquashfs 4.5.1 refuses the lz4 layers libsquashfs writes (the kernel,
# squashfuse and squashfs-tools-ng read them; doc/DECISIONS.md).
sq_ls() {
	rdsquashfs -d "$1" | awk '
	function perms(m, t,   s, i, b, bits, ch) {
		s = t; bits = "rwxrwxrwx"
		for (i = 8; i >= 0; i--) {
			b = int(m / 2 ^ i) % 2
			s = s (b ? substr(bits, 9 - i, 1) : "-")
		}
		if (int(m / 2048) % 2) s = substr(s, 1, 3) (substr(s, 4, 1) == "x" ? "s" : "S") substr(s, 5)
		if (int(m / 1024) % 2) s = substr(s, 1, 6) (substr(s, 7, 1) == "x" ? "s" : "S") substr(s, 8)
		if (int(m / 512) % 2) s = substr(s, 1, 9) (substr(s, 10, 1) == "x" ? "t" : "T")
		return s
	}
	function oct(s,   v, i) { v = 0; for (i = 1; i <= length(s); i++) v = v * 8 + substr(s, i, 1); return v }
	{
		t = $1 == "dir" ? "d" : $1 == "file" ? "-" : $1 == "slink" ? "l" : \
		    $1 == "pipe" ? "p" : $1 == "sock" ? "s" : $1 == "nod" ? $6 : "?"
		dev = $1 == "nod" ? " " $7 "," $8 : ""
		print perms(oct($3), t), $4 "/" $5 dev, $2
	}'
}
