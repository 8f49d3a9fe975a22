#!/usr/bin/env bats
# options.bats - the command line: help, version, and every way to get an
# option wrong (exit 125 and one line naming the option and the value).

load helpers

@test "--help lists every option and exits 0" {
	for h in --help -h; do
		run --separate-stderr "$LABRUN" "$h"
		assert_status 0
		for opt in -b --bind -e --env --cleanenv -w --workdir --writable --tmpfs-size \
			--remap-root --net=none --hostname -c --config -v -h --help -V --version; do
			if ! grep -qE -- "(^|[ ,])$opt([ =,]|$)" <<<"$output"; then
				echo "--help does not mention $opt"
				lr_show
				return 1
			fi
		done
		assert_stderr_empty
	done
}

@test "--help says what the exit statuses mean" {
	run "$LABRUN" --help
	assert_output_contains 125
	assert_output_contains 126
	assert_output_contains 127
}

@test "--version prints the version and exits 0" {
	for v in --version -V; do
		run --separate-stderr "$LABRUN" "$v"
		assert_status 0
		[[ $output =~ ^labrun\ [0-9]+\.[0-9]+ ]] || { lr_show; false; }
	done
}

@test "an unknown option: 125 and one line naming it" {
	run_lr --frobnicate "$BB" true
	assert_labrun_error '--frobnicate'
	run_lr -Q "$BB" true
	assert_labrun_error '-Q'
}

@test "no image: 125 and a usage hint" {
	run --separate-stderr "$LABRUN" </dev/null
	assert_labrun_error 'image|usage'
}

@test "an option that needs a value, without one: 125" {
	run_lr --bind
	assert_labrun_error '--bind'
	run_lr "$BB" true --workdir # after IMAGE: the command's, so fine
	assert_status 0
}

@test "--tmpfs-size with a bad size: 125 naming option and value" {
	run_lr --tmpfs-size 12Q "$BB" true
	assert_labrun_error '--tmpfs-size' '12Q'
	run_lr --tmpfs-size -5 "$BB" true
	assert_labrun_error '--tmpfs-size'
	run_lr --tmpfs-size 10K "$BB" true # below the 1M minimum
	assert_labrun_error '--tmpfs-size' '10K'
}

# issue 12: the kernel takes any tmpfs size (this gave an 8 EiB tmpfs).
@test "--tmpfs-size above 64T is refused, naming the maximum" {
	run_lr --tmpfs-size 9223372036854775809 "$BB" true
	assert_labrun_error '--tmpfs-size' '9223372036854775809' 'maximum of 64T'
	run_lr --tmpfs-size 65T "$BB" true
	assert_labrun_error '--tmpfs-size' 'maximum'
	run_lr --tmpfs-size 18446744073709551616 "$BB" true # beyond 64 bits
	assert_labrun_error '--tmpfs-size' 'too large'
}

# issue 12: out of descriptors, labrun blamed the admins' policy for a
# policy directory that does not even exist.
@test "ulimit -n 4: labrun says it ran out of file descriptors, not that the policy is broken" {
	run --separate-stderr bash -c \
		'for fd in 3 4 5 6 7 8 9; do eval "exec $fd>&-"; done; ulimit -n 4; exec "$@"' _ \
		"$LABRUN" -c "$LR_CONF" "$BB" true </dev/null
	assert_labrun_error 'file descriptors' 'ulimit -n'
	[[ $stderr != *broken* ]] || { lr_show; false; }
}

@test "--net with anything but none: 125 naming the value" {
	run_lr --net=foo "$BB" true
	assert_labrun_error '--net' 'foo'
}

@test "--hostname that is not a host name: 125" {
	run_lr --hostname 'bad name' "$BB" true
	assert_labrun_error '--hostname'
	run_lr --hostname "$(printf 'a%.0s' {1..65})" "$BB" true
	assert_labrun_error '--hostname'
}

@test "a bind whose source is missing: 125 naming it" {
	run_lr --bind /no/such/dir:/data "$BB" true
	assert_labrun_error '/no/such/dir'
}

@test "a bind with a relative path or .. : 125" {
	run_lr --bind relative/dir:/data "$BB" true
	assert_labrun_error 'relative/dir'
	run_lr --bind "$BATS_TEST_TMPDIR:data" "$BB" true
	assert_labrun_error 'data'
	run_lr --bind "$BATS_TEST_TMPDIR:/data/../etc" "$BB" true
	assert_labrun_error '\.\.'
}

@test "a bind with a bad mode: 125" {
	run_lr --bind "$BATS_TEST_TMPDIR:/data:rx" "$BB" true
	assert_labrun_error 'rx'
}

@test "more binds than the limit (64): 125 saying so" {
	args=()
	for i in $(seq 65); do args+=(--bind "$BATS_TEST_TMPDIR:/mnt/$i"); done
	run_lr "${args[@]}" "$BB" true
	assert_labrun_error '64|limit|too many'
}

@test "more --env than the limit (1024): 125 saying so" {
	args=()
	for i in $(seq 1025); do args+=(-e "V$i=x"); done
	run_lr "${args[@]}" "$BB" true
	assert_labrun_error '1024|limit|too many'
}

@test "--env without '=': 125" {
	run_lr --env NOVALUE "$BB" true
	assert_labrun_error 'NOVALUE'
}

@test "a missing config file: 125 naming it" {
	run --separate-stderr "$LABRUN" -c /no/such/labrun.conf "$BB" true </dev/null
	assert_labrun_error '/no/such/labrun\.conf'
}

@test "a config file with an unknown key: 125 naming file and line" {
	write_conf "$BATS_TEST_TMPDIR/bad.conf" "# comment" "" "frobnicate = yes"
	run --separate-stderr "$LABRUN" -c "$BATS_TEST_TMPDIR/bad.conf" "$BB" true </dev/null
	assert_labrun_error 'bad\.conf:3' 'frobnicate'
}

@test "a config file with a bad tmpfs-size: 125 naming file and line" {
	write_conf "$BATS_TEST_TMPDIR/bad.conf" "tmpfs-size = lots"
	run --separate-stderr "$LABRUN" -c "$BATS_TEST_TMPDIR/bad.conf" "$BB" true </dev/null
	assert_labrun_error 'bad\.conf:1' 'lots'
}

@test "an admin bind (config) whose source is missing is skipped" {
	write_conf "$BATS_TEST_TMPDIR/c.conf" "bind = /no/such/scratch:/scratch"
	run --separate-stderr "$LABRUN" -c "$BATS_TEST_TMPDIR/c.conf" "$BB" echo ran </dev/null
	assert_status 0
	assert_output ran
}

@test "an admin bind (config) is mounted" {
	mkdir "$BATS_TEST_TMPDIR/scratch"
	echo admin >"$BATS_TEST_TMPDIR/scratch/f"
	write_conf "$BATS_TEST_TMPDIR/c.conf" "layer-store = $IMAGES/store" \
		"bind = $BATS_TEST_TMPDIR/scratch:/scratch:ro"
	run --separate-stderr "$LABRUN" -c "$BATS_TEST_TMPDIR/c.conf" "$BB" cat /scratch/f </dev/null
	assert_status 0
	assert_output admin
}

@test "tmpfs-size from the config file applies" {
	write_conf "$BATS_TEST_TMPDIR/c.conf" "tmpfs-size = 2M"
	run --separate-stderr "$LABRUN" -c "$BATS_TEST_TMPDIR/c.conf" "$BB" \
		sh -c 'dd if=/dev/zero of=/big bs=1M count=3 2>&1' </dev/null
	[ "$status" -ne 0 ] || { lr_show; false; }
	assert_output_contains "No space left"
}

@test "without -c: the default config file may be missing" {
	run --separate-stderr lr_noconf "$BB" echo ran </dev/null
	assert_status 0
	assert_output ran
}

@test "-v says what labrun does, on stderr, and still runs the job" {
	run_lr -v "$BB" echo ran
	assert_status 0
	assert_output ran
	[ -n "$stderr" ] || { echo "-v printed nothing"; lr_show; false; }
}
