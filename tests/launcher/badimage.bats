#!/usr/bin/env bats
# badimage.bats - broken images and layer chains: each fails with 125 and
# exactly one line that names the file and the cause, before anything is
# mounted (DESIGN.md §3 step 1), and leaves nothing behind.  Images are from
# tests/images/build.sh.

load helpers

@test "a missing image: the path and 'No such file'" {
	run_lr "$IMAGES/missing.sqfs" true
	assert_labrun_error 'missing\.sqfs' 'No such file'
}

@test "a text file: not a squashfs (bad magic)" {
	run_lr "$IMAGES/notsquash.sqfs" true
	assert_labrun_error 'notsquash\.sqfs' 'not a squashfs|magic'
}

@test "an empty file: not a squashfs" {
	run_lr "$IMAGES/empty.sqfs" true
	assert_labrun_error 'empty\.sqfs' 'empty|not a squashfs'
}

@test "an image cut to half its size: truncated" {
	run_lr "$IMAGES/truncated.sqfs" true
	assert_labrun_error 'truncated\.sqfs' 'truncated'
}

@test "an image with corrupt inode and directory tables: 125 before running" {
	# The superblock is intact, so only reading the tables shows it; labrun
	# reads the root directory (for /.labrun/layer.json) before mounting.
	run_lr "$IMAGES/corrupt.sqfs" true
	assert_labrun_error 'corrupt\.sqfs' 'corrupt|read error|I/O'
}

@test "a corrupt data block: the job gets EIO on that file, the rest works" {
	run_lr "$IMAGES/corrupt-data.sqfs" cat /blob
	[ "$status" -ne 0 ] || { lr_show; false; }
	[ "$status" -ne 125 ] || { echo "labrun itself failed"; lr_show; false; }
	assert_stderr_matches 'Input/output error|I/O error'
	run_lr "$IMAGES/corrupt-data.sqfs" cat /fine
	assert_status 0
	assert_output fine
}

@test "a directory as image: not a regular file" {
	run_lr "$IMAGES/store" true
	assert_labrun_error 'store' 'regular file|directory'
}

@test "an unreadable image: Permission denied" {
	[ "$(id -u)" != 0 ] || skip "root reads any file"
	cp "$BB" "$BATS_TEST_TMPDIR/secret.sqfs"
	chmod 000 "$BATS_TEST_TMPDIR/secret.sqfs"
	run_lr "$BATS_TEST_TMPDIR/secret.sqfs" true
	assert_labrun_error 'secret\.sqfs' 'Permission denied'
}

@test "a parent found nowhere: names the digest and where it looked" {
	run_lr "$IMAGES/orphan.sqfs" true
	assert_labrun_error 'orphan\.sqfs' 'sha256:0000000000' 'looked in' "$IMAGES/store"
}

@test "a parent loop: says loop" {
	write_conf "$BATS_TEST_TMPDIR/loop.conf" "layer-store = $IMAGES/loopstore"
	LR_CONF=$BATS_TEST_TMPDIR/loop.conf run_lr "$IMAGES/loop.sqfs" true
	assert_labrun_error 'loop\.sqfs' 'loop'
}

@test "129 layers: refused, naming the limit of 128" {
	write_conf "$BATS_TEST_TMPDIR/deep.conf" "layer-store = $IMAGES/deepstore"
	LR_CONF=$BATS_TEST_TMPDIR/deep.conf run_lr "$IMAGES/deep.sqfs" true
	assert_labrun_error 'deep\.sqfs' '128'
}

@test "layer.json that is not JSON: names the layer and layer.json" {
	run_lr "$IMAGES/badjson.sqfs" true
	assert_labrun_error 'badjson\.sqfs' 'layer\.json'
}

@test "a parent that is not sha256:<64 hex>: names the layer and the parent" {
	run_lr "$IMAGES/badparent.sqfs" true
	assert_labrun_error 'badparent\.sqfs' 'parent'
}

@test "a broken layer below the image: the error names that layer's file" {
	# A store whose base layer file is truncated: the top image is fine.
	mkdir "$BATS_TEST_TMPDIR/store"
	cp "$IMAGES/truncated.sqfs" "$BATS_TEST_TMPDIR/store/sha256-$BASE_DIGEST.sqfs"
	cp "$IMAGES/mid.sqfs" "$BATS_TEST_TMPDIR/store/sha256-$MID_DIGEST.sqfs"
	write_conf "$BATS_TEST_TMPDIR/s.conf" "layer-store = $BATS_TEST_TMPDIR/store"
	LR_CONF=$BATS_TEST_TMPDIR/s.conf run_lr "$TOP" true
	assert_labrun_error "sha256-$BASE_DIGEST\\.sqfs" 'truncated'
}

@test "a missing parent in a chain: names the missing digest" {
	mkdir "$BATS_TEST_TMPDIR/store"
	cp "$IMAGES/mid.sqfs" "$BATS_TEST_TMPDIR/store/sha256-$MID_DIGEST.sqfs"
	write_conf "$BATS_TEST_TMPDIR/s.conf" "layer-store = $BATS_TEST_TMPDIR/store"
	LR_CONF=$BATS_TEST_TMPDIR/s.conf run_lr "$TOP" true
	assert_labrun_error "sha256:${BASE_DIGEST:0:12}" 'looked in'
}
