#!/usr/bin/env bats
# layerd.bats - the node's layer service (labrun-layerd(8); issue 13): as
# root, the layers of the admin's trusted store are mounted once per node
# with the kernel's squashfs driver and shared by every container; users'
# own layers never reach the kernel; a store others can write, or a file
# whose content is not its name, is served through FUSE with a line at -v;
# unused layers are unmounted; the service's end leaves nothing.

load helpers

: "${TEST_USER:?run by tests/launcher/run-bats as root}"
LAYERD=$(dirname "$LABRUN")/labrun-layerd
SOCK=/run/labrun/layerd.sock

setup() {
	lr_setup
	[ -x "$LAYERD" ] || skip "labrun-layerd was not built"
	[ -e /dev/loop-control ] || skip "no loop devices (/dev/loop-control) on this machine"
	[ ! -S "$SOCK" ] || ! pgrep -x labrun-layerd >/dev/null ||
		skip "this node runs its own labrun-layerd"
	# The trusted store: root's, in a root-only-writable directory.
	T=$(mktemp -d /srv/labrun-layerd-test.XXXXXX 2>/dev/null || mktemp -d /var/tmp/lrd.XXXXXX)
	chmod 755 "$T"
	mkdir "$T/store"
	chmod 755 "$T/store"
	# base and mid of top.sqfs (tests/images/build.sh); top is the user's.
	cp "$IMAGES/store/sha256-$BASE_DIGEST.sqfs" "$IMAGES/store/sha256-$MID_DIGEST.sqfs" \
		"$T/store/"
	chmod 644 "$T/store"/*
	LR_CONF=$T/labrun.conf
	write_conf "$LR_CONF" "trusted-layer-store = $T/store" "layer-store = $IMAGES/store" \
		"holder-idle-timeout = 2"
	chmod 644 "$LR_CONF"
	LOOPS_BEFORE=$(losetup -a | wc -l)
	DPID=
}

teardown() {
	[ -n "${T:-}" ] || return 0
	local rc=0
	stop_layerd || rc=1
	as_user "$LABRUN" --stop-holders || true
	lr_teardown || rc=1
	[ "$(losetup -a | wc -l)" = "$LOOPS_BEFORE" ] || { echo "loop devices left:"; losetup -a; rc=1; }
	rm -rf "$T"
	return $rc
}

as_user() {
	setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
		env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 "$@" </dev/null
}
# ulr ARGS...: labrun as the test user with the test's config; stderr in
# $stderr (bats' run --separate-stderr).
ulr() {
	as_user timeout -k 5 "$LR_TIMEOUT" "$LABRUN" -c "$LR_CONF" "$@"
}
lr_procs() {
	local me=$BASHPID
	ps -u "$TEST_USER" -o pid=,ppid=,stat=,comm= |
		awk -v me="$me" '$1 != me && $2 != me && $3 !~ /^Z/ { print $1, $4 }' | sort
}
start_layerd() {
	"$LAYERD" -c "$LR_CONF" -v 2>"$T/layerd.log" &
	DPID=$!
	wait_for 5 test -S "$SOCK" || { cat "$T/layerd.log"; return 1; }
}
stop_layerd() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null || true
	wait "$DPID" || { echo "labrun-layerd: status $?"; cat "$T/layerd.log"; return 1; }
	DPID=
	[ ! -e "$SOCK" ] || { echo "$SOCK left"; return 1; }
}
# The service's kernel squashfs mounts.
squash_mounts() {
	grep -c ' - squashfs ' "/proc/$DPID/mountinfo" || true
}

@test "trusted layers are mounted once by the kernel, for every container" {
	start_layerd
	local i
	for i in 1 2; do
		bg_start "p$i" setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
			env -i PATH=/usr/bin:/bin HOME=/tmp "$LABRUN" -c "$LR_CONF" "$TOP" sleep 30
	done
	wait_for 10 bash -c '[ "$(pgrep -u '"$TEST_USER"' -x sleep | wc -l)" -ge 2 ]'
	# base and mid: two mounts for the node, whatever the containers
	[ "$(squash_mounts)" = 2 ] || { cat "/proc/$DPID/mountinfo"; false; }
	run --separate-stderr ulr -v "$TOP" sh -c 'cat /layers/base /layers/mid /layers/top'
	assert_status 0
	assert_output "$(printf 'base\nmid\ntop')"
	assert_stderr_matches '2 trusted layer\(s\) from the node'
}

@test "a user's own layers never reach the kernel" {
	start_layerd
	# top.sqfs is the user's; busybox is in the user's store only
	run --separate-stderr ulr "$TOP" true
	assert_status 0
	run --separate-stderr ulr "$BB" true
	assert_status 0
	[ "$(squash_mounts)" = 2 ]
	! grep -q "$TOP_DIGEST\|$BUSYBOX_DIGEST" "$T/layerd.log"
}

@test "a trusted store others can write is not used: FUSE, and a line at -v" {
	chmod 777 "$T/store"
	start_layerd || true # refused at start: the store is checked then too
	chmod 755 "$T/store"
	[ -z "$DPID" ] || ! kill -0 "$DPID" 2>/dev/null || {
		chmod 777 "$T/store"
		run --separate-stderr ulr -v "$TOP" cat /layers/base
		assert_status 0
		assert_output base
		assert_stderr_matches 'anyone can write it.*served through FUSE'
		[ "$(squash_mounts)" = 0 ]
		chmod 755 "$T/store"
		return 0
	}
	grep -q 'anyone can write it' "$T/layerd.log"
	DPID=
}

@test "a store that turns writable after the start is not used either" {
	start_layerd
	chmod 777 "$T/store"
	run --separate-stderr ulr -v "$TOP" cat /layers/base
	chmod 755 "$T/store"
	assert_status 0
	assert_output base
	assert_stderr_matches 'anyone can write it.*served through FUSE'
	[ "$(squash_mounts)" = 0 ]
}

@test "a trusted file whose content is not its name is not mounted" {
	# the same layer with a byte more: still a squashfs file, the chain
	# still resolves, but its sha256 is not its name
	printf x >>"$T/store/sha256-$MID_DIGEST.sqfs"
	start_layerd
	run --separate-stderr ulr -v "$TOP" cat /layers/base /layers/mid
	assert_status 0
	assert_output "$(printf 'base\nmid')"
	assert_stderr_matches "sha256-$MID_DIGEST.sqfs in the trusted store has sha256 .*not its name; served through FUSE"
	# base is still the kernel's
	[ "$(squash_mounts)" = 1 ]
}

@test "a trusted layer replaced under its name is checked and mounted again" {
	start_layerd
	run --separate-stderr ulr "$TOP" true
	[ "$(squash_mounts)" = 2 ]
	# same bytes, new file (another inode): mounted afresh
	cp "$T/store/sha256-$BASE_DIGEST.sqfs" "$T/new"
	mv "$T/new" "$T/store/sha256-$BASE_DIGEST.sqfs"
	run --separate-stderr ulr "$TOP" cat /layers/base
	assert_output base
	grep -c "sha256-$BASE_DIGEST.sqfs mounted" "$T/layerd.log" | grep -qx 2
}

@test "unused trusted layers are unmounted after the idle time" {
	start_layerd
	run --separate-stderr ulr "$TOP" true
	assert_status 0
	wait_for 10 bash -c "[ \"\$(grep -c ' - squashfs ' /proc/$DPID/mountinfo)\" = 0 ]" ||
		{ cat "/proc/$DPID/mountinfo"; false; }
	grep -q 'unused for 2s: unmounted' "$T/layerd.log"
}

@test "labrun-layerd's end leaves no mount, loop device or socket" {
	start_layerd
	bg_start p setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
		env -i PATH=/usr/bin:/bin HOME=/tmp "$LABRUN" -c "$LR_CONF" "$TOP" sleep 30
	wait_for 10 bash -c 'pgrep -u '"$TEST_USER"' -x sleep >/dev/null'
	stop_layerd
	# the running container keeps its copies; they go with it (teardown
	# counts the loop devices once it has ended)
}

@test "labrun-layerd: a clear error without a trusted store, or as a user" {
	write_conf "$T/empty.conf" "layer-store = $T/store"
	chmod 644 "$T/empty.conf"
	run --separate-stderr "$LAYERD" -c "$T/empty.conf"
	assert_status 1
	assert_stderr_matches 'names no trusted-layer-store'
	run --separate-stderr as_user "$LAYERD" -c "$LR_CONF" --socket /tmp/lrd-user.sock
	assert_status 1
	assert_stderr_matches 'needs root'
	run --separate-stderr "$LAYERD" --bogus
	assert_status 1
	assert_stderr_matches 'unknown option'
}
