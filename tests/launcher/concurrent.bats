#!/usr/bin/env bats
# concurrent.bats - many containers of one image at once: each gets its own
# output and status, and nothing is left when they are done.

load helpers

# launch_many N IMAGE: N labruns at once, each printing its number.
launch_many() {
	local n=$1 img=$2 i pids=() failed=0
	for i in $(seq "$n"); do
		lr "$img" sh -c "echo run-$i; exit $((i % 7))" \
			>"$BATS_TEST_TMPDIR/out.$i" 2>"$BATS_TEST_TMPDIR/err.$i" </dev/null &
		pids[i]=$!
	done
	for i in $(seq "$n"); do
		st=0
		wait "${pids[i]}" || st=$?
		if [ "$st" -ne $((i % 7)) ] || [ "$(cat "$BATS_TEST_TMPDIR/out.$i")" != "run-$i" ]; then
			echo "run $i: status $st, stdout '$(cat "$BATS_TEST_TMPDIR/out.$i")', stderr '$(cat "$BATS_TEST_TMPDIR/err.$i")'"
			failed=1
		fi
	done
	return "$failed"
}

@test "20 concurrent launches of one image each run and print their own output" {
	launch_many 20 "$BB"
}

@test "10 concurrent launches of a three-layer image" {
	launch_many 10 "$TOP"
}

@test "concurrent launches with --remap-root and binds" {
	mkdir "$BATS_TEST_TMPDIR/shared"
	pids=()
	for i in $(seq 10); do
		lr --remap-root --bind "$BATS_TEST_TMPDIR/shared:/shared" "$BB" \
			sh -c "echo $i >/shared/f.$i" </dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	[ "$(cat "$BATS_TEST_TMPDIR"/shared/f.* | sort -n | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 9 10 " ]
}
