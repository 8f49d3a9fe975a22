#!/usr/bin/env bats
# hostile.bats - a hostile user against labrun's Slurm plugin (issue 12,
# items 12 to 15): whatever the step's helper does, slurmstepd's waits on it
# are bounded and the node stays in service; a container asked for never
# runs on the host (a directory with no OCI runtime, an option value that
# fails in slurmstepd); the job cannot take over the container's keeper.
#
# Runs as root (like container.bats); the jobs run as the test user.  The
# plugin is installed with timeout=HELPER_TIMEOUT (plugstack.conf) for this
# file, and the configuration found before is restored after it.

load slurm

# The plugstack.conf timeout= of this file, in seconds: how long slurmstepd
# waits for a container before it kills the helper.
HELPER_TIMEOUT=5
# The plugin's bounds after the step's end (plugin.h): 5 s for the helper
# to end once released, 5 s after SIGKILL.  BOUND is what a hung helper may
# cost a step here at most, with room for a loaded 2-core machine.
BOUND=40

setup_file() {
	SKIP_REASON=$(why_skip)
	[ -n "$SKIP_REASON" ] || SKIP_REASON=$(why_no_plugin)
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	"$SLURM_LOCAL" start
	plugin_config_save
	install_plugin timeout="$HELPER_TIMEOUT"
	IMG=$(mktemp -d /tmp/labrun-slurm-img.XXXXXX)
	chmod 755 "$IMG"
	cp "$IMAGES/busybox.sqfs" "$IMAGES/probes.sqfs" "$IMG/"
	chmod 644 "$IMG"/*
	BB=$IMG/busybox.sqfs
	PROBES=$IMG/probes.sqfs
	export IMG BB PROBES
}

teardown_file() {
	[ -z "$SKIP_REASON" ] || return 0
	rm -rf "${IMG:?}"
	plugin_config_restore
}

teardown() {
	if [ -n "${HUNG:-}" ]; then
		umount -l "$HUNG" 2>/dev/null || true
		[ -z "${HUNG_PID:-}" ] || kill "$HUNG_PID" 2>/dev/null || true
	fi
	local id
	[ -n "${WORK:-}" ] || return 0
	for id in "${JOBS[@]}"; do
		scancel "$id" 2>/dev/null || true
	done
	rm -rf "$WORK"
}

# srun_c ARGS...: srun ARGS as the test user, into run's status/output,
# with the seconds it took in ELAPSED.
srun_c() {
	local t0=$SECONDS
	run as_user srun --quiet "$@"
	ELAPSED=$((SECONDS - t0))
	echo "srun $*"
	echo "status $status after $ELAPSED s"
	echo "$output"
}

# layer_on NAME PARENT-HEX: $WORK/NAME.sqfs, a layer whose parent is
# sha256-PARENT-HEX.sqfs beside it.
layer_on() {
	local d=$WORK/$1.d
	mkdir -p "$d/.labrun"
	printf '{"parent":"sha256:%s"}\n' "$2" >"$d/.labrun/layer.json"
	mksquashfs "$d" "$WORK/$1.sqfs" -noappend -quiet -no-progress -all-root >/dev/null
	chmod 644 "$WORK/$1.sqfs"
	rm -rf "$d"
}
PARENT=$(printf '%064d' 0 | tr 0 a)

# The node takes jobs: idle, not drained, not "not responding" (a '*').
node_in_service() {
	local s
	s=$(sinfo -h -n "$(hostname -s)" -o %t | head -n 1)
	echo "node state: $s"
	[ "$s" = idle ] || [ "$s" = mix ] || [ "$s" = alloc ]
}

# The test user's labrun-step and labrun-keeper processes (live ones).
helpers() { ps -u "$TEST_USER" -o pid=,stat=,comm= | awk '$2 !~ /^Z/ && ($3 == "labrun-step" || $3 == "labrun-keeper") { print $1 }'; }

# Nothing of the test user's steps is left: no helper or keeper, no
# slurmstepd of a job of theirs, nothing queued.
all_gone() {
	[ -z "$(helpers)" ] && [ -z "$(squeue -h -u "$TEST_USER")" ] &&
		[ -z "$(pgrep -f '^slurmstepd: \[' | xargs -r ps -o user= -p | grep -v root)" ]
}
assert_all_gone() {
	wait_for "$CLEANUP_TIMEOUT" all_gone && return 0
	echo "left behind: helpers $(helpers); queue:"
	squeue -u "$TEST_USER"
	return 1
}

# --------------------------------------------------- item 12: bounded waits

@test "a FIFO as a parent layer fails the step within a bound; the node stays in service" {
	layer_on fifo "$PARENT"
	mkfifo -m 644 "$WORK/sha256-$PARENT.sqfs"
	srun_c --container="$WORK/fifo.sqfs" touch "$WORK/ran"
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: "*"sha256-$PARENT.sqfs"*"the task was not run"* ]] ||
		[[ $output == *"labrun: container image $WORK/fifo.sqfs: the container was not ready within $HELPER_TIMEOUT s"* ]]
	[ "$ELAPSED" -lt "$BOUND" ]
	[ ! -e "$WORK/ran" ]
	assert_all_gone
	node_in_service
}

@test "a parent layer on a FUSE mount that never answers: the helper is killed after timeout=, the step fails" {
	# A FUSE file system whose server never reads /dev/fuse: every lookup
	# in it waits for ever (killably), as the helper's open() of the layer.
	HUNG=$WORK/hung
	mkdir "$HUNG"
	(
		exec 9<>/dev/fuse
		mount -i -t fuse -o fd=9,rootmode=40000,user_id=0,group_id=0,allow_other \
			labrun-hung "$HUNG" && exec sleep 600
	) </dev/null >/dev/null 2>&1 3>&- &
	HUNG_PID=$!
	wait_for 5 grep -q " $HUNG " /proc/self/mountinfo
	layer_on hung "$PARENT"
	ln -s "$HUNG/layer.sqfs" "$WORK/sha256-$PARENT.sqfs"
	srun_c --container="$WORK/hung.sqfs" touch "$WORK/ran"
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: container image $WORK/hung.sqfs: the container was not ready within $HELPER_TIMEOUT s (plugstack.conf timeout=); its helper was killed; the task was not run"* ]]
	[ "$ELAPSED" -ge "$HELPER_TIMEOUT" ]
	[ "$ELAPSED" -lt "$BOUND" ]
	[ ! -e "$WORK/ran" ]
	assert_all_gone
	node_in_service
}

@test "a helper stopped while its task runs: the step ends within a bound of the task, the helper killed" {
	# SIGSTOP: what a user's debugger or a stuck FUSE request does to the
	# helper.  slurmstepd's release waits for it at most 5 s, then kills
	# its process group (plugin.h).
	as_user srun --quiet --container="$BB" --container-mounts="$WORK" \
		sh -c 'echo up >'"$WORK"'/up; sleep 3; echo done' >"$WORK/out" 2>&1 &
	local srun_pid=$! t0=$SECONDS
	wait_for 60 test -e "$WORK/up"
	local h
	h=$(ps -u "$TEST_USER" -o pid=,comm= | awk '$2 == "labrun-step" { print $1 }')
	[ -n "$h" ]
	kill -STOP "$h"
	local rc=0
	wait "$srun_pid" || rc=$?
	echo "srun: status $rc after $((SECONDS - t0)) s"
	cat "$WORK/out"
	[ "$rc" -eq 0 ]
	grep -qx done "$WORK/out"
	[ $((SECONDS - t0)) -lt "$BOUND" ]
	assert_all_gone
	node_in_service
}

@test "a layer whose root directory the container cannot enter is named, not 'mount proc'" {
	cp "$IMAGES/bad/root0700.sqfs" "$WORK/root0700.sqfs"
	chmod 644 "$WORK/root0700.sqfs"
	refused --container="$WORK/root0700.sqfs" \
		"root0700.sqfs: its root directory is mode 0700"
	# The option srun takes, not labrun's.
	[[ $output == *"(or run with --container-remap-root)"* ]]
	[[ $output != *"mount proc"* ]]
	assert_all_gone
}

# ---------------------------------------- item 13: no OCI runtime, no host

@test "--container=DIR on a node without an OCI runtime is refused, never run on the host" {
	[ ! -e /etc/slurm/oci.conf ] || skip "this node has an OCI runtime (/etc/slurm/oci.conf)"
	mkdir -m 755 "$WORK/bundle"
	refused --container="$WORK/bundle" \
		"container image $WORK/bundle: a directory, and this node has no OCI runtime for it (no oci.conf beside slurm.conf): labrun runs squashfs image files only; the task was not run"
}

@test "--container-image=DIR is refused in srun" {
	mkdir -m 755 "$WORK/bundle"
	refused --container-image="$WORK/bundle" \
		"container image $WORK/bundle: a directory; --container-image takes a squashfs image file"
}

@test "a FIFO as the image is refused in srun, which does not block on it" {
	mkfifo -m 644 "$WORK/fifo.sqfs"
	local t0=$SECONDS
	refused --container="$WORK/fifo.sqfs" "container image $WORK/fifo.sqfs: not a squashfs image file"
	[ $((SECONDS - t0)) -lt "$BOUND" ]
}

# ----------------------- item 14: option values that fail in slurmstepd

# env_refused VAR=VALUE MESSAGE: with VAR in the job's environment (which
# srun passes on unchecked), the step fails with MESSAGE and nothing ran.
env_refused() {
	run as_user env "$1" srun --quiet --container="$BB" touch "$WORK/ran"
	echo "${1:0:128}"
	echo "status $status"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: $2"*"the task was not run"* ]]
	[ ! -e "$WORK/ran" ]
}

@test "a remote option that fails in slurmstepd fails the step: a mount SRC:x" {
	env_refused _SLURM_SPANK_OPTION_labrun_container_mounts=SRC:x \
		"--container-mounts 'SRC:x': the source must be an absolute path"
}

@test "a remote option that fails in slurmstepd fails the step: a relative mount source" {
	env_refused _SLURM_SPANK_OPTION_labrun_container_mounts=data:/data \
		"--container-mounts 'data:/data': the source must be an absolute path"
}

@test "a remote option that fails in slurmstepd fails the step: a workdir of ../../etc" {
	env_refused _SLURM_SPANK_OPTION_labrun_container_workdir=../../etc \
		"--container-workdir '../../etc': must be an absolute path in the container"
}

@test "a remote option that fails in slurmstepd fails the step: an over-long value" {
	local long
	long=/$(head -c 5000 /dev/zero | tr '\0' a)
	env_refused "_SLURM_SPANK_OPTION_labrun_container_workdir=$long" \
		"--container-workdir: longer than 4096 characters"
}

@test "a LABRUN_CONTAINER_* variable too long is refused, not dropped" {
	# srun refuses it first; slurmstepd, where spank_getenv() cannot hold
	# it, would too (tests/unit/test_spank_args.c).
	local long
	long=/$(head -c 5000 /dev/zero | tr '\0' a)
	run as_user env "LABRUN_CONTAINER_MOUNTS=$long" srun --quiet --container="$BB" \
		touch "$WORK/ran"
	echo "status $status"
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: LABRUN_CONTAINER_MOUNTS: --container-mounts: longer than 4096 characters"* ]]
	[ ! -e "$WORK/ran" ]
}

# -------------------------------------------- item 15: the keeper is not the job's

@test "--container-remap-root: the job cannot ptrace the keeper, read its environment or take its fds" {
	srun_c --container-remap-root --container="$PROBES" /probes/keeper
	[ "$status" -eq 0 ]
	[[ $output == *"OK PTRACE_ATTACH to pid 1"* ]]
	[[ $output == *"OK read /proc/1/environ"* ]]
	[[ $output == *"OK pidfd_getfd of pid 1"* ]]
	[[ $output != *ESCAPED* ]]
	srun_c --container-remap-root --container="$PROBES" /probes/ptrace_host
	[ "$status" -eq 0 ]
	[[ $output != *ESCAPED* ]]
}

@test "without remap-root too, the keeper is closed to the job" {
	srun_c --container="$PROBES" /probes/keeper
	[ "$status" -eq 0 ]
	[[ $output == *"OK PTRACE_ATTACH to pid 1"* ]]
	[[ $output != *ESCAPED* ]]
}

@test "--container-remap-root: the tasks share one user namespace, not the keeper's, and are root in it" {
	srun_c -n 2 --overcommit --container-remap-root --container="$BB" sh -c \
		'echo "$(id -u) $(readlink /proc/self/ns/user) $(cat /proc/1/environ >/dev/null 2>&1 && echo open || echo closed)"'
	[ "$status" -eq 0 ]
	local a b
	a=$(sed -n 1p <<<"$output")
	b=$(sed -n 2p <<<"$output")
	[ "${a%% *}" = 0 ]
	[ "$(cut -d' ' -f2 <<<"$a")" = "$(cut -d' ' -f2 <<<"$b")" ]
	# The keeper (non-dumpable, outside their namespace) is closed to them.
	[[ $a == *" closed" ]]
	[[ $b == *" closed" ]]
}

@test "the keeper holds no fd but its own pipes and signalfd" {
	as_user srun --quiet --container="$BB" --container-mounts="$WORK" \
		sh -c 'echo up >'"$WORK"'/up; sleep 5' &
	local srun_pid=$!
	wait_for 60 test -e "$WORK/up"
	local k
	k=$(ps -u "$TEST_USER" -o pid=,comm= | awk '$2 == "labrun-keeper" { print $1 }')
	[ -n "$k" ]
	local fds
	fds=$(for f in /proc/"$k"/fd/*; do readlink "$f"; done | sed 's/:\[[0-9]*\]//' | sort | uniq -c)
	echo "$fds"
	wait "$srun_pid"
	# 0-2 /dev/null, two pipes (the launcher's end, its report) and the
	# signalfd: no image, no socket, no pipe of slurmstepd's.
	[[ $fds != *sqfs* ]]
	[[ $fds != *socket* ]]
	[ "$(grep -c . <<<"$fds")" -le 3 ]
	[[ $fds == *"2 pipe"* ]]
}

# ------------------------------------------------------------ messages

@test "the helper's oom_score_adj is as the plugin says, and slurmd's log does not cry about it every step" {
	local log=/var/log/slurm/slurmd.log lines
	lines=$(wc -l <"$log")
	as_user srun --quiet --container="$BB" --container-mounts="$WORK" \
		sh -c 'echo up >'"$WORK"'/up; sleep 3' &
	local srun_pid=$!
	wait_for 60 test -e "$WORK/up"
	local k adj stepd want
	k=$(ps -u "$TEST_USER" -o pid=,comm= | awk '$2 == "labrun-keeper" { print $1 }')
	adj=$(cat "/proc/$k/oom_score_adj")
	stepd=$(cat "/proc/$(pgrep -o -f '^slurmstepd: \[[0-9]*\.0\]')/oom_score_adj")
	wait "$srun_pid"
	# -500 where root holds CAP_SYS_RESOURCE (bit 24 of the bounding
	# set), else slurmstepd's own value: nothing can go lower.
	if (($(printf '%d' "0x$(awk '/^CapBnd/ { print $2 }' /proc/self/status)") >> 24 & 1)); then
		want=-500
	else
		want=$stepd
	fi
	echo "keeper $adj, slurmstepd $stepd, expected $want"
	[ "$adj" = "$want" ]
	tail -n +"$((lines + 1))" "$log" | grep labrun || true
	! tail -n +"$((lines + 1))" "$log" | grep -q "could not lower it"
}

@test "a step killed by the OOM killer says so in one line naming the memory limit" {
	# Slurm's step limit is on memory only (ConstrainSwapSpace=no): with
	# swap the hog would swap rather than be killed.
	[ -z "$(swapon --noheadings 2>/dev/null)" ] ||
		skip "this machine has swap: the step's 64 MiB would swap, not be OOM-killed"
	srun_c --mem=64M --container="$PROBES" /probes/hog 1024
	[ "$status" -ne 0 ]
	[[ $output != *done* ]]
	[ "$(grep -c 'labrun: the step ran out of memory' <<<"$output")" -eq 1 ]
	[[ $output == *"labrun: the step ran out of memory: the kernel killed "*" of its processes at its memory limit (64 MiB)"* ]]
}
