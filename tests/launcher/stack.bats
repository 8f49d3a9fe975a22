#!/usr/bin/env bats
# stack.bats - the example image stack of images/ (make -C images, run by
# run-bats into STACK): a Debian 12 minbase base layer, a python3+numpy
# runtime layer on it, and two applications sharing both, run by labrun
# as an unprivileged user.  DESIGN.md §2: layers shared on disk.

load helpers

setup() {
	lr_setup
	: "${STACK:?STACK must name the built stack (run-bats sets it)}"
	: "${LABRUN_IMAGE:?LABRUN_IMAGE must name labrun-image (run-bats sets it)}"
	write_conf "$LR_CONF" ""
}

teardown() {
	lr_teardown
}

li() {
	timeout 120 "$LABRUN_IMAGE" -c "$LR_CONF" "$@"
}

@test "app-hello runs python3 and numpy from the layers below it" {
	run --separate-stderr lr "$STACK/app-hello.sqfs"
	assert_status 0
	[[ ${lines[0]} =~ ^hello\ from\ Python\ 3\.[0-9]+\.[0-9]+,\ numpy\ [0-9.]+$ ]] || { lr_show; false; }
	[[ $output == *"a @ b = [[22.0, 28.0], [49.0, 64.0]]"* ]] || { lr_show; false; }
}

@test "app-stats: entrypoint, cmd and workdir from its layer.json" {
	run --separate-stderr lr "$STACK/app-stats.sqfs"
	assert_status 0
	# JSON with statistics of the CSV shipped in the layer.
	[[ $output == *"{"*"}"* ]] || { lr_show; false; }
	run --separate-stderr lr "$STACK/app-stats.sqfs" /dev/null
	[ "$status" -ne 0 ] || { lr_show; false; } # another CSV: the cmd was replaced
	run --separate-stderr lr "$STACK/app-stats.sqfs" --help
	run --separate-stderr lr -w / "$STACK/app-stats.sqfs"
	assert_status 0
}

@test "the two applications share the same Debian and python layers" {
	run --separate-stderr li inspect --json "$STACK/app-hello.sqfs"
	assert_status 0
	hello=$(jq -r '.layers[1:] | map(.digest) | join(" ")' <<<"$output")
	run --separate-stderr li inspect --json "$STACK/app-stats.sqfs"
	assert_status 0
	stats=$(jq -r '.layers[1:] | map(.digest) | join(" ")' <<<"$output")
	[ "$(wc -w <<<"$hello")" -eq 2 ] || { echo "layers below app-hello: $hello"; false; }
	[ "$hello" = "$stats" ] || { echo "app-hello on: $hello"; echo "app-stats on: $stats"; false; }
	# list: the python layer has two children, Debian one.
	run --separate-stderr li list "$STACK"
	assert_status 0
	py=$(cut -d' ' -f1 <<<"$hello")
	[[ $output =~ ${py:0:23}[^$'\n']*used\ by\ 2 ]] || { lr_show; false; }
}

@test "the runtime layer holds only what python3 and numpy add" {
	run --separate-stderr li inspect --json "$STACK/python.sqfs"
	assert_status 0
	py=$(jq -r '.layers[0].size' <<<"$output")
	deb=$(jq -r '.layers[1].size' <<<"$output")
	[ "$py" -lt "$deb" ] || { echo "python $py bytes, debian $deb"; false; }
	run sq_ls "$STACK/python.sqfs"
	assert_status 0
	[[ $output == *" usr/bin/python3."* ]] || { lr_show; false; }
	# dpkg's own files are in the base and not stored again.
	[[ $output != *" usr/bin/dpkg"$'\n'* ]] || { lr_show; false; }
}

@test "verify: every layer of both applications is sane and has its digest" {
	for app in app-hello app-stats; do
		run --separate-stderr li verify "$STACK/$app.sqfs"
		assert_status 0
	done
}
