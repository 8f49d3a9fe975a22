#!/usr/bin/env bats
# writable.bats - the container's root is writable: by default into a tmpfs
# discarded at exit (size --tmpfs-size), with --writable=DIR into DIR/upper,
# kept across runs.

load helpers

teardown() {
	# overlayfs leaves DIR/work/work with mode 000
	chmod -R u+rwX "$BATS_TEST_TMPDIR" 2>/dev/null || true
	lr_teardown
}

@test "by default writes to / and /tmp succeed and vanish at exit" {
	run_lr "$TOP" sh -c 'echo new >/newfile; echo t >/tmp/t; cat /newfile /tmp/t'
	assert_status 0
	assert_output "$(printf 'new\nt')"
	run_lr "$TOP" sh -c 'test -e /newfile && echo STILL; test -e /tmp/t && echo STILL; true'
	assert_status 0
	assert_output ""
}

@test "a user who is not root cannot change the image's root-owned files" {
	run_lr "$TOP" sh -c 'echo changed >/layers/base || echo refused; mkdir /layers/x || echo refused'
	assert_status 0
	assert_output "$(printf 'refused\nrefused')"
}

@test "--remap-root: the image's files can be changed and deleted, then vanish" {
	run_lr --remap-root "$TOP" sh -c 'echo changed >/layers/base; rm /layers/mid; mkdir /layers/x; cat /layers/base; ls /layers'
	assert_status 0
	assert_output "$(printf 'changed\nbase\ntop\nx')"
	run_lr --remap-root "$TOP" sh -c 'cat /layers/base; ls /layers'
	assert_status 0
	assert_output "$(printf 'base\nbase\nmid\ntop')"
}

@test "--writable=DIR keeps changes across runs, in DIR/upper" {
	W=$BATS_TEST_TMPDIR/w
	run_lr --writable="$W" "$TOP" sh -c 'echo kept >/kept'
	assert_status 0
	[ -d "$W/upper" ] && [ -d "$W/work" ] || { ls -la "$W"; false; }
	[ "$(cat "$W/upper/kept")" = kept ]
	run_lr --writable="$W" "$TOP" cat /kept
	assert_status 0
	assert_output kept
}

@test "--writable=DIR with --remap-root keeps changes and deletions of image files" {
	W=$BATS_TEST_TMPDIR/w
	run_lr --remap-root --writable="$W" "$TOP" sh -c 'rm /layers/mid; echo changed >/layers/base'
	assert_status 0
	run_lr --remap-root --writable="$W" "$TOP" sh -c 'cat /layers/base; ls /layers'
	assert_status 0
	assert_output "$(printf 'changed\nbase\ntop')"
	# and without --remap-root the same DIR shows the same files
	run_lr --writable="$W" "$TOP" ls /layers
	assert_status 0
	assert_output "$(printf 'base\ntop')"
}

@test "--writable: DIR is created when missing, owned by the caller" {
	W=$BATS_TEST_TMPDIR/new/dir
	mkdir "$BATS_TEST_TMPDIR/new"
	run_lr --writable="$W" "$BB" touch /x
	assert_status 0
	[ "$(stat -c %u "$W/upper/x")" = "$(id -u)" ]
}

@test "--writable: a file as DIR is an error naming it" {
	touch "$BATS_TEST_TMPDIR/afile"
	run_lr --writable="$BATS_TEST_TMPDIR/afile" "$BB" true
	assert_labrun_error 'afile'
}

# issue 12, item 2: anyone who could write DIR, or replace it, would control
# what the next container sees as its files.  DIR is opened once without
# following a symlink and checked on that fd; nothing is made in a DIR
# that is refused.

@test "--writable: a symlink as DIR is refused, and its target is left alone" {
	mkdir "$BATS_TEST_TMPDIR/real"
	ln -s real "$BATS_TEST_TMPDIR/link"
	run_lr --writable="$BATS_TEST_TMPDIR/link" "$BB" true
	assert_labrun_error 'link' 'symbolic link'
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/real")" ] || { ls -la "$BATS_TEST_TMPDIR/real"; false; }
}

@test "--writable: a symlink to a missing directory is refused, nothing is made" {
	ln -s missing "$BATS_TEST_TMPDIR/dangling"
	run_lr --writable="$BATS_TEST_TMPDIR/dangling" "$BB" true
	assert_labrun_error 'dangling' 'symbolic link'
	[ ! -e "$BATS_TEST_TMPDIR/missing" ]
}

@test "--writable: a directory of another user is refused, naming its owner" {
	# /usr/share: root's on any machine, not the test user's.
	run_lr --writable=/usr/share "$BB" true
	assert_labrun_error '/usr/share' 'uid 0' 'not to you'
}

@test "--writable: a directory its group or others can write is refused" {
	W=$BATS_TEST_TMPDIR/w
	mkdir "$W"
	chmod 775 "$W"
	run_lr --writable="$W" "$BB" true
	assert_labrun_error "$W" 'writable by its group' '0775'
	chmod 757 "$W"
	run_lr --writable="$W" "$BB" true
	assert_labrun_error "$W" 'writable by others' '0757'
	[ -z "$(ls -A "$W")" ]
}

@test "--writable: a parent others can write without the sticky bit is refused; with it, fine" {
	P=$BATS_TEST_TMPDIR/shared
	mkdir -m 700 "$P"
	mkdir -m 700 "$P/w"
	chmod 777 "$P"
	run_lr --writable="$P/w" "$BB" true
	assert_labrun_error "$P/w" 'parent' 'writable by others' 'sticky'
	chmod 770 "$P"
	run_lr --writable="$P/w" "$BB" true
	assert_labrun_error "$P/w" 'parent' 'writable by its group'
	# /tmp's way: others may write, but not rename what is not theirs.
	chmod 1777 "$P"
	run_lr --writable="$P/w" "$BB" touch /x
	assert_status 0
	[ -e "$P/w/upper/x" ]
	chmod 700 "$P"
}

@test "--writable: DIR/upper or DIR/work as a symlink is refused" {
	W=$BATS_TEST_TMPDIR/w
	mkdir -m 700 "$W" "$BATS_TEST_TMPDIR/elsewhere"
	ln -s ../elsewhere "$W/upper"
	run_lr --writable="$W" "$BB" touch /x
	assert_labrun_error "$W" 'upper is a symbolic link'
	rm "$W/upper"
	ln -s ../elsewhere "$W/work"
	run_lr --writable="$W" "$BB" touch /x
	assert_labrun_error "$W" 'work is a symbolic link'
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/elsewhere")" ]
}

@test "--writable: two containers on one DIR at once: the second is refused" {
	W=$BATS_TEST_TMPDIR/w
	bg_lr first --writable="$W" "$BB" sh -c 'touch /started; sleep 3'
	wait_for 5 test -e "$W/upper/started"
	run_lr --writable="$W" "$BB" true
	kill "$first" 2>/dev/null || true
	wait "$first" || true
	assert_labrun_error "$W|writable"
}

@test "--tmpfs-size 1M: writing 4M fails with ENOSPC, the job sees it" {
	run_lr --tmpfs-size 1M "$BB" sh -c 'dd if=/dev/zero of=/big bs=1M count=4 2>&1'
	[ "$status" -ne 0 ] || { lr_show; false; }
	assert_output_contains 'No space left on device'
	run_lr --tmpfs-size 1M "$BB" sh -c 'dd if=/dev/zero of=/tmp/big bs=1M count=4 2>&1'
	[ "$status" -ne 0 ] || { lr_show; false; }
	assert_output_contains 'No space left on device'
}

@test "--tmpfs-size 8M: writing 4M succeeds" {
	run_lr --tmpfs-size 8M "$BB" sh -c 'dd if=/dev/zero of=/big bs=1M count=4 2>/dev/null && wc -c </big'
	assert_status 0
	assert_output 4194304
}

@test "the writable layer is the caller's: files created there are theirs" {
	run_lr "$BB" sh -c 'touch /mine; stat -c %u /mine'
	assert_status 0
	assert_output "$(id -u)"
}
