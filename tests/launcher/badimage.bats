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

# ---------------------------------------------------------------- hostile bytes
# Squashfs files crafted byte by byte (tests/images/hostile.c, built into
# $IMAGES/bad/ by build.sh): before issue 12 each crashed labrun inside
# libsquashfuse, hung it, or ran the job on a tree libsquashfuse misread.

# run_bad KIND [ARGS...]: labrun on bad/KIND.sqfs running /etc/hello, a
# file of mode 0644 in the sound tree: 126 (not executable) shows that the
# image was mounted and the path looked up.
run_bad() {
	local kind=$1
	shift
	run_lr "$@" "$IMAGES/bad/$kind.sqfs" /etc/hello
}

@test "the generator's sound image mounts: its /etc/hello is found, and not executable" {
	run_bad ok
	assert_status 126
	assert_stderr_matches '/etc/hello'
}

@test "a superblock whose id count is 0: 125, the file and 'id count 0'" {
	run_bad ids0
	assert_labrun_error 'bad/ids0\.sqfs' 'id count 0'
}

@test "files using a fragment the fragment table lacks: 125, naming the file inside" {
	run_bad frag0
	assert_labrun_error 'bad/frag0\.sqfs' '/bin/sh: fragment index past the fragment table'
	run_bad fragidx
	assert_labrun_error 'bad/fragidx\.sqfs' '/etc/hello: fragment index past'
}

@test "a corrupt id table: refused before running, never 'command not found'" {
	for kind in idtable idblock uididx; do
		run_bad "$kind"
		assert_labrun_error "bad/$kind\\.sqfs" 'id table'
		[[ $stderr != *"not found"* ]] || { lr_show; false; }
	done
}

@test "table offsets and counts outside the file: 125 and one line each" {
	for kind in inodestart dirstart fragstart idstart xattrstart bytesused blocklog \
		rootref inodes0 truncated longlink typemix xattridx xattrref xattrname xattrsize \
		block0 samenum; do
		run_bad "$kind"
		assert_labrun_error "bad/$kind\\.sqfs" 'corrupt|truncated|outside|past|longer|differs|xattr|superblock|inode number'
	done
}

@test "a directory cycle: 125 at once, naming the entry" {
	run_bad cycle
	assert_labrun_error 'bad/cycle\.sqfs' '/bin/loop: a directory reached twice'
	run_bad selfdir
	assert_labrun_error 'bad/selfdir\.sqfs' '/etc/again: a directory reached twice'
}

@test "entries named '..', '.', '../../x', 'a/b', a NUL byte, twice or out of order: never served" {
	for kind in dotdot dot traversal slash nulname dup unsorted; do
		run_bad "$kind"
		assert_labrun_error "bad/$kind\\.sqfs" '/etc: (an entry named|two entries|entries out of order)'
	done
}

@test "a 300-byte name (squashfuse issue 153): 125, not a crash" {
	run_bad longname
	assert_labrun_error 'bad/longname\.sqfs' '300 bytes'
}

@test "600 nested directories: past the depth limit, 125" {
	run_bad deep
	assert_labrun_error 'bad/deep\.sqfs' 'nested deeper than 512'
}

@test "a FIFO as image: 125 at once, 'is a FIFO', not a hang" {
	mkfifo "$BATS_TEST_TMPDIR/fifo.sqfs"
	LR_TIMEOUT=10 run_lr "$BATS_TEST_TMPDIR/fifo.sqfs" true
	assert_labrun_error 'fifo\.sqfs' 'is a FIFO, not a squashfs file'
}

@test "a character device as image: 125, says what it is" {
	run_lr /dev/null true
	assert_labrun_error '/dev/null' 'character device'
}

@test "a FIFO as a parent layer in the store: 125 at once, naming that file" {
	mkdir "$BATS_TEST_TMPDIR/store"
	mkfifo "$BATS_TEST_TMPDIR/store/sha256-$BASE_DIGEST.sqfs"
	cp "$IMAGES/mid.sqfs" "$BATS_TEST_TMPDIR/store/sha256-$MID_DIGEST.sqfs"
	write_conf "$BATS_TEST_TMPDIR/s.conf" "layer-store = $BATS_TEST_TMPDIR/store"
	LR_TIMEOUT=10 LR_CONF=$BATS_TEST_TMPDIR/s.conf run_lr "$TOP" true
	assert_labrun_error "sha256-$BASE_DIGEST\\.sqfs" 'is a FIFO'
}

@test "a layer whose root directory is mode 0700: names the layer and its mode, not 'mount proc'" {
	run_bad root0700
	assert_labrun_error 'bad/root0700\.sqfs' 'root directory is mode 0700' 'remap-root'
	[[ $stderr != *"mount proc"* ]] || { lr_show; false; }
	# With --remap-root the container is the root directory's owner.
	run_bad root0700 --remap-root
	assert_status 126
}
