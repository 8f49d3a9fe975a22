#!/usr/bin/env bats
# run.bats - running a command: output, arguments, stdin, exit statuses
# (the job's own; 125 labrun; 126 not executable; 127 not found; death by a
# signal reported as that signal), the image's default command.

load helpers

@test "runs a command and passes its stdout" {
	run_lr "$BB" echo hello
	assert_status 0
	assert_output hello
	assert_stderr_empty
}

@test "stdout and stderr stay apart" {
	run_lr "$BB" sh -c 'echo out; echo err >&2'
	assert_status 0
	assert_output out
	[ "$stderr" = err ] || { lr_show; false; }
}

@test "stdin reaches the job" {
	run --separate-stderr lr "$BB" cat <<<"from stdin"
	assert_status 0
	assert_output "from stdin"
}

@test "arguments reach the job verbatim" {
	run_lr "$BB" printf '[%s]\n' 'a b' '' '*' '$HOME' "it's" '-n' '--help'
	assert_status 0
	assert_output "$(printf '[%s]\n' 'a b' '' '*' '$HOME' "it's" '-n' '--help')"
}

@test "words after IMAGE are the command's, even option-like ones" {
	run_lr "$BB" echo --help
	assert_status 0
	assert_output --help
	run_lr "$BB" -- echo -v x
	assert_status 0
	assert_output "-v x"
}

@test "an image given by a relative path" {
	cd "$IMAGES"
	run_lr busybox.sqfs cat /etc/image-name
	assert_status 0
	assert_output busybox
}

@test "exit status 0, 1 and 42 are the job's" {
	run_lr "$BB" true
	assert_status 0
	run_lr "$BB" false
	assert_status 1
	run_lr "$BB" sh -c 'exit 42'
	assert_status 42
	assert_stderr_empty
	run_lr "$BB" sh -c 'exit 255'
	assert_status 255
}

@test "a command that is not found: 127 and one line naming it" {
	run -127 --separate-stderr lr_null "$BB" /no/such/command
	assert_error 127 '/no/such/command'
	run -127 --separate-stderr lr_null "$BB" nosuchcommand
	assert_error 127 'nosuchcommand'
}

@test "a command that is not executable: 126 and one line naming it" {
	run -126 --separate-stderr lr_null "$BB" /etc/passwd
	assert_error 126 '/etc/passwd'
	run -126 --separate-stderr lr_null "$BB" /tmp
	assert_error 126 '/tmp'
}

@test "a job killed by SIGTERM: labrun dies of SIGTERM (143)" {
	run_lr "$BB" sh -c 'kill -TERM $$'
	assert_status 143
	[ "$(kill -l "$status")" = TERM ]
	assert_stderr_empty
}

@test "a job killed by SIGKILL: labrun dies of SIGKILL (137)" {
	run_lr "$BB" sh -c 'kill -KILL $$'
	assert_status 137
	[ "$(kill -l "$status")" = KILL ]
}

@test "a job killed by SIGSEGV: labrun dies of SIGSEGV, no core file" {
	run_lr "$BB" sh -c 'ulimit -c unlimited; kill -SEGV $$'
	assert_status 139
	[ "$(kill -l "$status")" = SEGV ]
	run ls "$BATS_TEST_TMPDIR"
	assert_output_not_contains core
}

@test "the shell sees a signal death as its own (kill -l \$?)" {
	sig=$(bash -c '"$@"; kill -l $?' _ "$LABRUN" -c "$LR_CONF" "$BB" sh -c 'kill -USR1 $$' </dev/null)
	[ "$sig" = USR1 ] || { echo "kill -l said: $sig"; false; }
}

@test "a missing image: 125 and one line naming it" {
	run_lr "$IMAGES/no-such-image.sqfs" true
	assert_labrun_error 'no-such-image\.sqfs' 'No such file'
}

@test "without a command the image's default command runs" {
	run_lr "$TOP"
	assert_status 0
	assert_output top
}

@test "entrypoint and cmd: cmd is the default argument, a command replaces it" {
	run_lr "$IMAGES/entry.sqfs"
	assert_status 0
	assert_output "entry: default"
	run_lr "$IMAGES/entry.sqfs" x y
	assert_status 0
	assert_output "entry: x y"
}

@test "without a command or default: an interactive login shell (/bin/sh -l)" {
	# -l: the shell reads /etc/profile, which sets PS1 in busybox.sqfs.
	run --separate-stderr lr "$BB" <<<'echo "ps1=$PS1"; exit 7'
	assert_status 7
	assert_output_contains 'ps1=lr:\w\$ '
}

@test "file content read through the layers is intact" {
	want=$(sha256sum </bin/busybox | cut -d' ' -f1)
	run_lr "$BB" sha256sum /bin/busybox
	assert_status 0
	[ "${output%% *}" = "$want" ] || { lr_show; false; }
}

@test "images in every codec run: gzip, lz4, uncompressed" {
	for img in busybox busybox-lz4 busybox-none; do
		run_lr "$IMAGES/$img.sqfs" cat /etc/image-name
		assert_status 0
		assert_output busybox
	done
}

@test "a job's large output arrives whole" {
	n=$(lr "$BB" sh -c 'dd if=/dev/zero bs=65536 count=160 2>/dev/null' </dev/null | wc -c)
	[ "$n" -eq 10485760 ] || { echo "got $n bytes"; false; }
}

@test "the same image twice in a row" {
	run_lr "$BB" echo one
	assert_output one
	run_lr "$BB" echo two
	assert_output two
}

# A kernel that refuses unprivileged user namespaces, simulated without
# root: user.max_user_namespaces is per user namespace, and root of one
# made with unshare -r may set its own to 0.
@test "no user namespaces allowed: one line naming the sysctl, 125" {
	command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
	run --separate-stderr unshare -r sh -c \
		'echo 0 >/proc/sys/user/max_user_namespaces && exec "$0" "$1" /bin/true' \
		"$LABRUN" "$BB"
	assert_labrun_error 'cannot create a user namespace' 'user\.max_user_namespaces'
}

# Every library a program links is mapped before main(), on every start:
# labrun loads the decompressors and hwloc when first used instead, and
# links libsquashfuse, libfuse3 and jansson in (issue 13, lib/lazy.h).
@test "labrun and labrun-step need no library but libc at exec" {
	command -v readelf >/dev/null || skip "readelf missing (binutils: scripts/install-deps.sh)"
	local bin needed
	for bin in "$LABRUN" "$(dirname "$LABRUN")/labrun-step"; do
		[ -x "$bin" ] || continue
		needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
		if [[ $needed == *squashfuse* ]]; then
			skip "configure found no static libsquashfuse, libfuse3 or jansson; $bin links them shared"
		fi
		[ "$needed" = "libc.so.6 " ] || { echo "$bin needs: $needed"; false; }
	done
}
