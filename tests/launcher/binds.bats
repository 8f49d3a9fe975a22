#!/usr/bin/env bats
# binds.bats - --bind SRC[:DST[:ro|rw]]: host paths in the container,
# read-write or read-only, and the working directory that follows them.

load helpers

setup() {
	lr_setup
	D=$BATS_TEST_TMPDIR/data
	mkdir -p "$D/sub"
	echo host >"$D/hostfile"
}

@test "a bind shows the host directory at DST" {
	run_lr --bind "$D:/data" "$BB" cat /data/hostfile
	assert_status 0
	assert_output host
}

@test "DST defaults to SRC" {
	run_lr --bind "$D" "$BB" cat "$D/hostfile"
	assert_status 0
	assert_output host
}

@test "-b is --bind" {
	run_lr -b "$D:/data" "$BB" cat /data/hostfile
	assert_status 0
	assert_output host
}

@test "writes through a read-write bind reach the host, owned by the caller" {
	run_lr --bind "$D:/data" "$BB" sh -c 'echo written >/data/new; mkdir /data/newdir'
	assert_status 0
	[ "$(cat "$D/new")" = written ]
	[ "$(stat -c %u "$D/new")" = "$(id -u)" ]
	[ -d "$D/newdir" ]
	run_lr --bind "$D:/data:rw" "$BB" sh -c 'echo again >/data/new2'
	assert_status 0
	[ "$(cat "$D/new2")" = again ]
}

@test "a read-only bind refuses writes" {
	run_lr --bind "$D:/data:ro" "$BB" sh -c 'cat /data/hostfile; echo x >/data/new'
	[ "$status" -ne 0 ] || { lr_show; false; }
	assert_output host
	assert_stderr_matches 'Read-only file system'
	[ ! -e "$D/new" ]
	[ "$(cat "$D/hostfile")" = host ]
}

@test "a read-only bind cannot be made read-write by the job (--remap-root)" {
	run_lr --remap-root --bind "$D:/data:ro" "$BB" \
		sh -c 'mount -o remount,rw /data; mount -o remount,bind,rw /data; echo x >/data/new'
	[ "$status" -ne 0 ] || { lr_show; false; }
	[ ! -e "$D/new" ]
}

@test "a single file can be bound" {
	run_lr --bind "$D/hostfile:/etc/from-host:ro" "$BB" cat /etc/from-host
	assert_status 0
	assert_output host
}

@test "binds nest in the order given" {
	mkdir "$BATS_TEST_TMPDIR/other"
	echo other >"$BATS_TEST_TMPDIR/other/f"
	run_lr --bind "$D:/data" --bind "$BATS_TEST_TMPDIR/other:/data/sub" "$BB" \
		cat /data/hostfile /data/sub/f
	assert_status 0
	assert_output "$(printf 'host\nother')"
}

@test "paths with spaces and commas are bound as they are" {
	odd="$BATS_TEST_TMPDIR/with space,comma=x"
	mkdir "$odd"
	echo odd >"$odd/f"
	run_lr --bind "$odd:/odd dir" "$BB" cat "/odd dir/f"
	assert_status 0
	assert_output odd
}

@test "the cwd under a bind: the job starts there" {
	cd "$D/sub"
	run_lr --bind "$D:/data" "$BB" pwd
	assert_status 0
	assert_output /data/sub
	run_lr --bind "$D" "$BB" pwd
	assert_status 0
	assert_output "$D/sub"
}

@test "the cwd not under any bind: the image's workdir, else /" {
	cd "$D/sub"
	run_lr "$BB" pwd
	assert_status 0
	assert_output /
	run_lr "$TOP" pwd
	assert_output /layers
}

@test "--workdir sets the working directory" {
	run_lr --workdir /tmp "$BB" pwd
	assert_status 0
	assert_output /tmp
	cd "$D/sub"
	run_lr -w /etc --bind "$D:/data" "$BB" pwd
	assert_status 0
	assert_output /etc
}

@test "--workdir that does not exist: an error naming it" {
	run_lr --workdir /no/such/dir "$BB" pwd
	[ "$status" -ne 0 ] || { lr_show; false; }
	[ "${#stderr_lines[@]}" -eq 1 ] || { lr_show; false; }
	assert_stderr_matches '/no/such/dir'
}

@test "a bind over a directory of the image hides the image's content" {
	run_lr --bind "$D:/etc" "$BB" ls /etc
	assert_status 0
	assert_output_contains hostfile
	assert_output_not_contains image-name
}
