#!/usr/bin/env bats
# holders.bats - two users' layer holders (labrun(1), "LAYER HOLDER"; issue
# 13): each user gets a holder of their own, and another user reaches
# neither its socket, nor its mounts, nor what it would serve, even when
# the socket's directory is opened to them.  As root, to run labrun as two
# users (TEST_USER and labrun-test2, made by scripts/setup-test-env.sh).

load helpers

: "${TEST_USER:?run by tests/launcher/run-bats as root}"
OTHER=labrun-test2

setup() {
	id "$OTHER" >/dev/null 2>&1 || skip "no second test user $OTHER: run scripts/setup-test-env.sh"
	lr_setup
	T=$(mktemp -d /tmp/labrun-holders.XXXXXX)
	chmod 755 "$T"
	LR_CONF=$T/labrun.conf
	write_conf "$LR_CONF" "layer-store = $IMAGES/store"
	chmod 644 "$LR_CONF"
	cp "$BB" "$T/bb.sqfs"
	chmod 644 "$T/bb.sqfs"
}

teardown() {
	local rc=0
	as "$TEST_USER" "$LABRUN" --stop-holders || rc=1
	as "$OTHER" "$LABRUN" --stop-holders || rc=1
	lr_teardown || rc=1
	rm -rf "$T"
	return $rc
}

# as USER CMD...: CMD as USER, in a fresh environment.
as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --init-groups env -i PATH=/usr/bin:/bin HOME=/tmp \
		LANG=C.UTF-8 "$@" </dev/null
}
lr_procs() {
	local me=$BASHPID
	ps -u "$TEST_USER,$OTHER" -o pid=,ppid=,stat=,comm= |
		awk -v me="$me" '$1 != me && $2 != me && $3 !~ /^Z/ { print $1, $4 }' | sort
}
holder_of() {
	ps -u "$1" -o pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 == "labrun-holder" { print $1 }'
}
dir_of() {
	local uid
	uid=$(id -u "$1")
	if [ -d "/run/user/$uid/labrun" ]; then echo "/run/user/$uid/labrun"; else echo "/tmp/labrun-$uid"; fi
}
# try_hold SOCKET FILE: as the other user, a HOLD request with FILE's fd
# on SOCKET; prints "refused" (connect), "closed" (no answer) or "reply".
try_hold() {
	cat >"$T/try.py" <<-'EOF'
		import os, socket, struct, sys
		s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
		try:
		    s.connect(sys.argv[1])
		except OSError as e:
		    print("refused", e.strerror)
		    sys.exit(0)
		fd = os.open(sys.argv[2], os.O_RDONLY)
		s.settimeout(5)
		try:
		    socket.send_fds(s, [struct.pack("III", 0x31686c72, 1, 1)], [fd])
		    d = s.recv(4096)
		except (BrokenPipeError, ConnectionResetError, socket.timeout):
		    d = b""
		print("reply" if d else "closed")
	EOF
	chmod 644 "$T/try.py"
	as "$OTHER" python3 "$T/try.py" "$@"
}

@test "each user gets a holder of their own, and their containers their own files" {
	run as "$TEST_USER" "$LABRUN" -c "$LR_CONF" "$T/bb.sqfs" sh -c 'echo a >/mine; cat /mine'
	assert_output a
	run as "$OTHER" "$LABRUN" -c "$LR_CONF" "$T/bb.sqfs" sh -c 'cat /mine 2>&1; true'
	assert_output_contains "No such file"
	local a b
	a=$(holder_of "$TEST_USER")
	b=$(holder_of "$OTHER")
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]
}

@test "another user cannot reach a holder's socket, nor its mounts" {
	run as "$TEST_USER" "$LABRUN" -c "$LR_CONF" "$T/bb.sqfs" true
	local h dir
	h=$(holder_of "$TEST_USER")
	dir=$(dir_of "$TEST_USER")
	[ -n "$h" ]
	assert_equal_mode() { [ "$(stat -c %a "$dir")" = 700 ]; }
	assert_equal_mode
	run try_hold "$dir/holder.sock" "$T/bb.sqfs"
	echo "$output"
	[[ $output == refused* ]]
	# its mounts: only through /proc/PID/root, which ptrace rules guard
	run as "$OTHER" ls "/proc/$h/root/tmp/0"
	[ "$status" -ne 0 ]
}

@test "a holder refuses a peer of another user even when its directory lets them in" {
	run as "$TEST_USER" "$LABRUN" -c "$LR_CONF" "$T/bb.sqfs" true
	local h dir
	h=$(holder_of "$TEST_USER")
	dir=$(dir_of "$TEST_USER")
	chmod 711 "$dir"
	chmod 777 "$dir/holder.sock"
	run try_hold "$dir/holder.sock" "$T/bb.sqfs"
	chmod 700 "$dir"
	chmod 755 "$dir/holder.sock"
	echo "$output"
	[ "$output" = closed ]
	# and it mounted nothing more for them: one layer, the user's own
	[ "$(grep -c ' - fuse.labrun ' "/proc/$h/mountinfo")" = 1 ]
}
