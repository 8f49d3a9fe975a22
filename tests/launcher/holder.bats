#!/usr/bin/env bats
# holder.bats - the user's layer holder (labrun(1), "LAYER HOLDER"; issue
# 13): layers mounted once and shared by the user's containers, reused by
# later launches, never stale, gone at the idle timeout, after a kill, at
# --stop-holders; and labrun without holders exactly as before.

load helpers

# Each test starts with no holder of the user's: one left by something
# else (a benchmark, a manual run) would answer instead.
setup() {
	"$LABRUN" --stop-holders
	lr_setup
}

# The test user's live holders (comm labrun-holder), one pid per line;
# zombies left out (this machine's init may reap them late).
holders() {
	ps -u "$(id -u)" -o pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 == "labrun-holder" { print $1 }'
}
no_holder() { [ -z "$(holders)" ]; }
fail() {
	printf '%s\n' "$*"
	lr_show
	return 1
}
assert_equal() {
	[ "$1" = "$2" ] || fail "expected '$2', got '$1'"
}
assert_stderr_not_matches() {
	! grep -qiE -- "$1" <<<"$stderr" || fail "stderr should not match: $1"
}
# fuse_mounts PID: the labrun FUSE mounts in PID's mount namespace.
fuse_mounts() {
	grep -c ' - fuse.labrun ' "/proc/$1/mountinfo" || true
}

@test "a later launch reuses the holder the first one started" {
	run_lr -v "$BB" true
	assert_status 0
	assert_stderr_matches 'layer holder started'
	assert_stderr_matches ' 0 mounted over FUSE'
	local first
	first=$(holders)
	[ -n "$first" ] || fail "no labrun-holder process after a launch"
	run_lr -v "$BB" true
	assert_status 0
	assert_stderr_not_matches 'layer holder started'
	assert_stderr_matches ' 0 mounted over FUSE'
	[ "$(holders)" = "$first" ] || fail "a second holder: $(holders) (first $first)"
}

@test "one mount per layer, whatever the number of containers" {
	local i pids=()
	for i in 1 2 3; do
		bg_lr "p$i" "$TOP" sleep 30
	done
	# each container up: its sleep runs
	wait_for 10 bash -c '[ "$(pgrep -u "$(id -u)" -x sleep | wc -l)" -ge 3 ]' ||
		fail "the three containers did not start"
	local h
	h=$(holders)
	[ "$(wc -l <<<"$h")" = 1 ] || fail "holders: $h"
	# top, mid, base: three layers, mounted once each
	[ "$(fuse_mounts "$h")" = 3 ] || fail "$(fuse_mounts "$h") FUSE mounts in the holder"
}

@test "the containers see the holder's layers, their own upper layers" {
	bg_lr p "$BB" sh -c 'echo one >/mine; sleep 30'
	wait_for 10 bash -c 'pgrep -u "$(id -u)" -x sleep >/dev/null'
	run_lr "$BB" sh -c 'cat /mine 2>&1; cat /etc/passwd | head -1'
	assert_status 0
	assert_output_contains "No such file"
	assert_output_contains "root:"
}

@test "with --remap-root a holder of its own numbers the layers' owners as the container does" {
	run_lr --remap-root "$BB" stat -c '%u %U' /bin
	assert_status 0
	assert_output "0 root"
	run_lr "$BB" stat -c '%u' /bin
	assert_status 0
	assert_output 65534
	[ "$(holders | wc -l)" = 2 ] || fail "expected a holder per view: $(holders)"
}

@test "a layer file replaced under the same name is not served stale" {
	cp "$BB" img.sqfs
	run_lr img.sqfs sh -c 'ls /layers 2>&1'
	assert_output_contains "No such file"
	# another image, renamed over it (a new inode)
	cp "$IMAGES/base.sqfs" new.sqfs
	mv new.sqfs img.sqfs
	run_lr img.sqfs sh -c 'ls /layers'
	assert_status 0
	assert_output base
	# rewritten in place (same inode, new size and mtime)
	cp "$BB" img.sqfs
	run_lr img.sqfs sh -c 'ls /layers 2>&1; echo done'
	assert_status 0
	assert_output_contains "No such file"
	assert_output_contains done
}

# What a container of TOP shows of its chain: each layer's file, the
# merged config, the image's passwd and group with the user's entries.
chain_view() {
	run_lr -v "$TOP" sh -c 'cat /layers/*; pwd; env | sort | grep -E "^(MIDVAR|SHARED|TOPVAR)="; cat /etc/passwd /etc/group'
}

@test "a later launch takes the chain and what it reads of it from the holder, and sees the same container" {
	chain_view
	assert_status 0
	assert_stderr_not_matches 'launch info from the layer holder'
	local first=$output
	chain_view
	assert_status 0
	assert_stderr_matches '3 layer\(s\) and their launch info from the layer holder'
	assert_equal "$output" "$first"
	# --no-holder resolves the image itself, as before holders
	run_lr -v --no-holder "$TOP" true
	assert_status 0
	assert_stderr_not_matches 'launch info'
}

@test "a parent layer changed since the holder held it is not taken from its chain" {
	mkdir chain
	cp "$IMAGES/beside/top.sqfs" "$IMAGES"/beside/sha256-*.sqfs chain/
	local parents=(chain/sha256-*.sqfs)
	# no layer store: the parents beside the image, these copies
	write_conf nostore.conf "# no layer store"
	run_lr -c nostore.conf chain/top.sqfs cat /layers/mid
	assert_status 0
	assert_output mid
	run_lr -v -c nostore.conf chain/top.sqfs cat /layers/mid
	assert_stderr_matches 'launch info from the layer holder'
	# the same bytes, a new mtime: another file as far as the holder knows
	touch -d '2001-01-01' "${parents[0]}"
	run_lr -v -c nostore.conf chain/top.sqfs cat /layers/mid
	assert_status 0
	assert_output mid
	assert_stderr_not_matches 'launch info from the layer holder'
	# held again whole: the next launch takes it
	run_lr -v -c nostore.conf chain/top.sqfs cat /layers/mid
	assert_stderr_matches 'launch info from the layer holder'
}

@test "a killed holder makes the next launch start another" {
	run_lr "$BB" true
	local h
	h=$(holders)
	kill -KILL "$h"
	wait_for 5 bash -c "! kill -0 $h 2>/dev/null"
	run_lr -v "$BB" echo again
	assert_status 0
	assert_output again
	assert_stderr_matches 'layer holder started'
	[ -n "$(holders)" ] && [ "$(holders)" != "$h" ]
}

@test "a stopped holder does not hang launches" {
	run_lr "$BB" true
	local h
	h=$(holders)
	kill -STOP "$h"
	LR_TIMEOUT=30 run_lr -v "$BB" echo through
	kill -CONT "$h"
	assert_status 0
	assert_output through
	assert_stderr_matches 'mounting the layers for this container only'
}

@test "the holder exits at the idle timeout and leaves nothing mounted" {
	write_conf "$LR_CONF" "layer-store = $IMAGES/store" "holder-idle-timeout = 1"
	run_lr "$TOP" true
	assert_status 0
	[ -n "$(holders)" ] || fail "no holder"
	wait_for 10 no_holder || fail "the holder is still there: $(holders)"
	lr_check_leftovers
	assert_equal "$LR_REPORT" ""
}

@test "a container killed with labrun lets the holder go at the idle timeout" {
	write_conf "$LR_CONF" "layer-store = $IMAGES/store" "holder-idle-timeout = 1"
	bg_lr p "$TOP" sleep 30
	wait_for 10 bash -c 'pgrep -u "$(id -u)" -x sleep >/dev/null'
	kill -KILL "$p"
	wait_for 10 no_holder || fail "the holder is still there: $(holders)"
	lr_check_leftovers
	assert_equal "$LR_REPORT" ""
}

@test "--stop-holders waits for nothing while containers run, and the holder ends with them" {
	bg_lr p "$BB" sleep 3
	wait_for 10 bash -c 'pgrep -u "$(id -u)" -x sleep >/dev/null'
	run --separate-stderr "$LABRUN" --stop-holders
	assert_status 0
	assert_stderr_matches 'still serve containers'
	# a launch now starts a new holder
	run_lr -v "$BB" true
	assert_stderr_matches 'layer holder started'
	wait "$p"
	run --separate-stderr "$LABRUN" --stop-holders
	assert_status 0
	wait_for 10 no_holder || fail "holders left: $(holders)"
}

@test "signals meant for the user's jobs leave the holder serving; SIGTERM ends it once unused" {
	run_lr "$BB" true
	local h
	h=$(holders)
	[ -n "$h" ] || fail "no holder"
	# What kill -SIG -1, a session's end or a job's signal would send.
	local sig
	for sig in HUP INT QUIT USR1 USR2 ALRM PIPE TSTP TTIN TTOU VTALRM PROF XCPU XFSZ; do
		kill "-$sig" "$h"
	done
	run_lr -v "$BB" echo still
	assert_status 0
	assert_output still
	assert_stderr_not_matches 'layer holder started'
	assert_equal "$(holders)" "$h"
	[[ "$(ps -o stat= -p "$h")" != T* ]] || fail "the holder stopped on a stop signal"

	# SIGTERM while a container runs: that container still reads its
	# layers (a file not read before, after the signal), new launches get
	# a new holder, and the old one ends with the container.
	local d=$BATS_TEST_TMPDIR/late
	mkdir -p "$d"
	printf '#!/bin/sh\nsleep 2\ncat /etc/image-name >/mnt/out\n' >"$d/late.sh"
	chmod 755 "$d/late.sh"
	bg_lr p --bind "$d:/mnt" "$BB" /mnt/late.sh
	wait_for 10 bash -c 'pgrep -u "$(id -u)" -x sleep >/dev/null'
	kill -TERM "$h"
	run_lr -v "$BB" true
	assert_stderr_matches 'layer holder started'
	local st=0
	wait "$p" || st=$?
	assert_equal "$st" 0
	assert_equal "$(cat "$d/out")" busybox
	wait_for 10 bash -c "! kill -0 $h 2>/dev/null || ps -o stat= -p $h | grep -q Z" ||
		fail "the first holder outlived its last container"
}

@test "holders off: holder-idle-timeout = 0 and --no-holder mount per container as before" {
	write_conf "$LR_CONF" "layer-store = $IMAGES/store" "holder-idle-timeout = 0"
	run_lr -v "$TOP" sh -c 'cat /layers/top'
	assert_status 0
	assert_output top
	assert_stderr_matches ': 0 from a layer holder'
	no_holder || fail "a holder with holders off: $(holders)"
	write_conf "$LR_CONF" "layer-store = $IMAGES/store"
	run_lr -v --no-holder "$TOP" sh -c 'cat /layers/top'
	assert_status 0
	assert_output top
	assert_stderr_matches ': 0 from a layer holder'
	no_holder || fail "a holder with --no-holder: $(holders)"
}

@test "the holder holds none of the caller's pipes or terminal, and keeps its socket private" {
	# labrun | cat ends when labrun does, not when the holder does
	run timeout 10 bash -c "'$LABRUN' -c '$LR_CONF' '$BB' echo piped | cat"
	assert_status 0
	assert_output piped
	local h
	h=$(holders)
	assert_equal "$(readlink "/proc/$h/fd/1")" /dev/null
	[ "$(ps -o sid= -p "$h")" != "$(ps -o sid= -p $$)" ] ||
		fail "the holder is in the caller's session"
	local dir=/tmp/labrun-$(id -u)
	[ -d "/run/user/$(id -u)/labrun" ] && dir=/run/user/$(id -u)/labrun
	assert_equal "$(stat -c '%a %U' "$dir")" "700 $(id -un)"
	# its memory: a few MB (the layers' caches are bounded, squash.h)
	local rss
	rss=$(awk '/^VmHWM/ {print $2}' "/proc/$h/status")
	[ "$rss" -lt 65536 ] || fail "holder peak RSS ${rss} kB"
}

@test "a holder directory that is not the user's alone is not used" {
	local dir=/tmp/labrun-$(id -u)
	[ ! -d "/run/user/$(id -u)" ] || skip "the user has a runtime directory: /tmp is not used"
	"$LABRUN" --stop-holders
	rm -rf "$dir"
	mkdir -m 0755 "$dir"
	run_lr -v "$BB" echo still
	assert_status 0
	assert_output still
	assert_stderr_matches "holder directory $dir is not yours alone"
	no_holder
	rmdir "$dir"
}
