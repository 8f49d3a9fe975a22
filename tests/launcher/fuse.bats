#!/usr/bin/env bats
# fuse.bats - what the FUSE server answers, on the paths issue 13 made
# cheaper (lib/run/fuse_server.c, lib/image/squash_read.c;
# doc/DECISIONS.md, "FUSE requests (issue 13)"): directories listed
# without OPENDIR (READDIR by inode number, the kernel caching listings),
# file data decompressed straight into the block cache (compressed blocks,
# blocks stored as is, sparse blocks, the tail in a fragment), and a layer
# file cut short while mounted, which its owner can do at any time: reads
# fail with EIO and labrun lives on (data is read with pread(), never
# through a mapping of the file, which would raise SIGBUS).

load helpers

fail() {
	echo "$*"
	return 1
}

# A layer on busybox, 4 KiB blocks (so that small files have several):
#   /data/many/     3000 entries, more than one READDIR answer holds
#   /data/blob      random (stored as is), zeros (sparse), text
#                   (compressed), random, and a 1000-byte tail (fragment)
#   /data/big       1 MiB of text, 256 compressed blocks
LAYER_BLOCK=4K
fuse_layer() {
	local d=$BATS_TEST_TMPDIR/tree
	mkdir -p "$d/data/many"
	(cd "$d/data/many" && for i in $(seq -w 0 2999); do : >"entry-$i-with-a-longer-name"; done)
	{
		head -c 4096 /dev/urandom
		head -c 4096 /dev/zero
		yes 'compressible text line' | head -c 4096
		head -c 4096 /dev/urandom
		head -c 1000 /dev/urandom
	} >"$d/data/blob"
	seq 1 200000 | head -c 1048576 >"$d/data/big"
	timeout 120 "$LABRUN_IMAGE" -c "$LR_CONF" build --from "$d" --parent "$BB" --diff \
		--compression lz4 --block-size "$LAYER_BLOCK" -o "$BATS_TEST_TMPDIR/fuse.sqfs" >/dev/null
}

setup() {
	lr_setup
	[ -x "${LABRUN_IMAGE:-}" ] || skip "labrun-image not built (LABRUN_IMAGE)"
	fuse_layer
	L=$BATS_TEST_TMPDIR/fuse.sqfs
	T=$BATS_TEST_TMPDIR/tree/data
}

@test "a directory of 3000 entries lists whole, twice in one container and again in the next" {
	want=$(ls "$T/many" | md5sum)
	for holder in --no-holder ""; do
		# shellcheck disable=SC2086 # "" is no option
		run_lr $holder "$L" sh -c 'ls /data/many | md5sum; ls /data/many | wc -l; ls /data/many | md5sum'
		assert_status 0
		assert_output "$(printf '%s\n3000\n%s' "$want" "$want")"
		run_lr $holder "$L" sh -c 'ls /data | tr "\n" " "'
		assert_status 0
		assert_output "big blob many "
	done
}

@test "file data reads back exactly: stored, sparse and compressed blocks, the tail in a fragment" {
	want=$(sha256sum <"$T/blob" | cut -c1-64)
	big=$(sha256sum <"$T/big" | cut -c1-64)
	# Whole, and from offsets inside and across blocks.
	run_lr --no-holder "$L" sh -c '
		sha256sum </data/blob | cut -c1-64
		sha256sum </data/big | cut -c1-64
		for off in 4000 8190 12289 16383 16385; do tail -c +$off /data/blob | head -c 300 | md5sum; done'
	assert_status 0
	expect=$(printf '%s\n%s' "$want" "$big")
	for off in 4000 8190 12289 16383 16385; do
		expect+=$'\n'$(tail -c +$off "$T/blob" | head -c 300 | md5sum)
	done
	assert_output "$expect"
}

@test "a layer cut short while mounted: reads give EIO, labrun lives and returns the job's status" {
	sync_dir=$BATS_TEST_TMPDIR/sync
	mkdir -p "$sync_dir"
	# The file is looked up before the cut (its inode is then known to the
	# kernel), read after it: only the data path sees the cut.
	bg_lr pid --no-holder --bind "$sync_dir:/sync" "$L" sh -c '
		ls -l /data/big >/dev/null && : >/sync/ready
		while [ ! -e /sync/go ]; do sleep 0.05; done
		cat /data/big >/dev/null 2>/sync/err; echo "cat=$?" >/sync/status
		exit 7'
	wait_for 10 test -e "$sync_dir/ready"
	truncate -s 8192 "$L"
	: >"$sync_dir/go"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 7 ] || fail "labrun exited $rc, not the job's 7 (135: SIGBUS)"
	[ "$(cat "$sync_dir/status")" = "cat=1" ] || fail "cat of the cut file: $(cat "$sync_dir/status")"
	grep -q 'Input/output error' "$sync_dir/err" || fail "cat said: $(cat "$sync_dir/err")"
}
