#!/usr/bin/env bats
# probes.bats - the static escape probes of tests/probes/ (in probes.sqfs)
# try one way out each; every attempt must fail.  Each prints "OK ..." per
# blocked attempt and "ESCAPED ..." per hole (exit 1), "BROKEN ..." when it
# could not test (exit 2).  Run as a plain user and, where it means
# something different, with --remap-root.

load helpers

setup() {
	lr_setup
	RO=$BATS_TEST_TMPDIR/ro
	mkdir "$RO"
	echo "read only" >"$RO/existing"
}

# probe NAME [labrun options...] -- [probe args...]
probe() {
	local name=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	run_lr --bind "$RO:/ro:ro" "${opts[@]}" "$PROBES" "/probes/$name" "$@"
	if [ "$status" -ne 0 ] || grep -qE '^(ESCAPED|BROKEN)' <<<"$output" ||
		! grep -q '^OK ' <<<"$output"; then
		echo "probe $name failed"
		lr_show
		return 1
	fi
}

@test "fd_leak: no fd beyond 0 1 2, cwd and root inside" {
	probe fd_leak
}

@test "fd_leak: fds the caller leaves open do not reach the job" {
	exec 7<"$BATS_TEST_TMPDIR" 8</dev/null
	probe fd_leak
	exec 7<&- 8<&-
}

@test "fd_leak with --remap-root" {
	probe fd_leak --remap-root
}

@test "fd_leak with the cwd bound into the container" {
	cd "$RO"
	probe fd_leak
}

@test "write_lower: read-only bind, /sys and the layers stay read-only" {
	probe write_lower
}

@test "write_lower with --remap-root" {
	probe write_lower --remap-root
	[ "$(ls "$RO")" = existing ]
}

@test "mknod_dev: no device node can be made or used" {
	probe mknod_dev
}

@test "mknod_dev with --remap-root" {
	probe mknod_dev --remap-root
}

@test "mount_try: no mount, umount or pivot_root" {
	probe mount_try
}

@test "mount_try with --remap-root: labrun's mounts are locked" {
	probe mount_try --remap-root -- remap
}

@test "ptrace_host: the keeper cannot be traced or looked into" {
	probe ptrace_host
}

@test "ptrace_host with --remap-root" {
	probe ptrace_host --remap-root
}

@test "signal_host: few processes visible, pid 1 survives, host pids unreachable" {
	sleep 1000 &
	victim=$!
	LR_BG_PIDS+=("$victim")
	probe signal_host -- "$victim"
	kill -0 "$victim" || { echo "the host process $victim was killed"; false; }
}

@test "signal_host with --remap-root" {
	sleep 1000 &
	victim=$!
	LR_BG_PIDS+=("$victim")
	probe signal_host --remap-root -- "$victim"
	kill -0 "$victim"
}

@test "nnp: no_new_privs is set" {
	probe nnp
}

@test "nnp with --remap-root" {
	probe nnp --remap-root
}

@test "caps: a job that is not root holds no capability" {
	probe caps
}

@test "caps with --remap-root: root only in a nested user namespace" {
	probe caps --remap-root -- remap
}

@test "setuid: a setuid-root file in the image gains nothing" {
	probe setuid
}

@test "setuid with --remap-root" {
	probe setuid --remap-root
}
