#!/usr/bin/env bats
# image.bats - labrun-image inspect and verify on the test images
# (tests/images/build.sh): the chain with its digests and merged config,
# digests checked against the names parents are found by, corrupt layers
# found, command-line errors.

load helpers

setup() {
	lr_setup
	: "${LABRUN_IMAGE:?LABRUN_IMAGE must name labrun-image (run-bats sets it)}"
	. "$IMAGES/digests"
}

teardown() {
	lr_teardown
}

li() {
	timeout 60 "$LABRUN_IMAGE" -c "$LR_CONF" "$@"
}

@test "inspect lists the chain top first, with each file's real digest" {
	run --separate-stderr li inspect "$TOP"
	assert_status 0
	assert_stderr_empty
	[[ ${lines[0]} == "image $TOP: 3 layers, top first" ]] || { lr_show; false; }
	for d in "$TOP_DIGEST" "$MID_DIGEST" "$BASE_DIGEST"; do
		[[ $output == *"sha256:$d"* ]] || { echo "missing $d"; lr_show; false; }
	done
	# Top first: top's digest before mid's before base's.
	[[ $output == *"$TOP_DIGEST"*"$MID_DIGEST"*"$BASE_DIGEST"* ]] || { lr_show; false; }
	[ "$(sha256sum "$TOP" | cut -c1-64)" = "$TOP_DIGEST" ]
}

@test "inspect shows the config merged from the base up" {
	run --separate-stderr li inspect "$TOP"
	assert_status 0
	[[ $output == *'"SHARED=top"'* ]] || { lr_show; false; }
	[[ $output == *'"MIDVAR=mid"'* ]] || { lr_show; false; }
	[[ $output == *'"/bin/cat" "/layers/top"'* ]] || { lr_show; false; }
	grep -qE '^  workdir +/layers$' <<<"$output" || { lr_show; false; }
}

@test "inspect --json: one object with the layers, their parents and the config" {
	run --separate-stderr li inspect --json "$TOP"
	assert_status 0
	[[ $output == *"\"image\": \"$TOP\""* ]] || { lr_show; false; }
	[ "$(grep -c '"digest": "sha256:' <<<"$output")" -eq 3 ]
	[[ $output == *"\"parent\": \"sha256:$MID_DIGEST\""* ]] || { lr_show; false; }
	[[ $output == *"\"parent\": \"sha256:$BASE_DIGEST\""* ]] || { lr_show; false; }
	[[ $output == *'"parent": null'* ]] || { lr_show; false; }
	[[ $output == *'"workdir": "/layers"'* ]] || { lr_show; false; }
	# Well-formed: the braces and brackets balance, the object closes last.
	[ "$(tr -cd '{' <<<"$output" | wc -c)" -eq "$(tr -cd '}' <<<"$output" | wc -c)" ]
	[ "${lines[-1]}" = "}" ]
}

@test "verify: a sound chain passes" {
	run --separate-stderr li verify "$TOP"
	assert_status 0
	assert_stderr_empty
	assert_output "$TOP: 3 layers, every file readable, every parent digest matches"
}

@test "verify: a parent whose content does not have the digest it is named by fails" {
	store=$BATS_TEST_TMPDIR/store
	mkdir "$store"
	cp "$IMAGES/store/sha256-$BASE_DIGEST.sqfs" "$store/"
	# Another layer put under mid's name.
	cp "$BB" "$store/sha256-$MID_DIGEST.sqfs"
	write_conf "$LR_CONF" "layer-store = $store"
	run --separate-stderr li verify "$TOP"
	assert_status 1
	assert_stderr_matches "sha256-$MID_DIGEST\\.sqfs has digest" "top\\.sqfs names its parent"
}

@test "verify: a layer with a corrupt data block fails, naming the file inside" {
	run --separate-stderr li verify "$IMAGES/corrupt-data.sqfs"
	assert_status 1
	assert_stderr_matches 'corrupt-data\.sqfs' '/blob: corrupt data'
}

@test "inspect and verify of a missing image: one line, status 1" {
	for cmd in inspect verify; do
		run --separate-stderr li "$cmd" "$IMAGES/absent.sqfs"
		assert_status 1
		[ "${#stderr_lines[@]}" -eq 1 ] || { lr_show; false; }
		[[ ${stderr_lines[0]} == "labrun-image: "* ]] || { lr_show; false; }
		assert_stderr_matches 'absent\.sqfs' 'No such file'
	done
}

@test "command-line errors: status 2 and a hint" {
	run --separate-stderr li frobnicate "$TOP"
	assert_status 2
	assert_stderr_matches "unknown command 'frobnicate'" 'labrun-image --help'
	run --separate-stderr li inspect
	assert_status 2
	assert_stderr_matches 'exactly one IMAGE'
	run --separate-stderr li inspect --bogus "$TOP"
	assert_status 2
	assert_stderr_matches "unknown option '--bogus'"
	run --separate-stderr li
	assert_status 2
	assert_stderr_matches 'missing COMMAND'
}

@test "--help names every command and option" {
	run --separate-stderr "$LABRUN_IMAGE" --help
	assert_status 0
	for w in inspect verify --json --config --verbose --help --version 'Exit status'; do
		[[ $output == *"$w"* ]] || { echo "--help lacks $w"; false; }
	done
}

@test "list: the store's layers, their parents, and how many build on each" {
	run --separate-stderr li list
	assert_status 0
	assert_stderr_empty
	grep -qE "^sha256:${BASE_DIGEST:0:16} +[0-9]+  base layer  used by 1$" <<<"$output" ||
		{ lr_show; false; }
	grep -qE "^sha256:${MID_DIGEST:0:16} +[0-9]+  parent sha256:${BASE_DIGEST:0:16}  used by 0$" \
		<<<"$output" || { lr_show; false; }
	[[ ${lines[-1]} =~ ^3\ layers,\ [0-9]+\ bytes$ ]] || { lr_show; false; }
}

@test "list --json: children counted, parents named" {
	run --separate-stderr li list --json "$IMAGES/store"
	assert_status 0
	[ "$(grep -c '"digest": "sha256:' <<<"$output")" -eq 3 ]
	[[ $output == *"\"parent\": \"sha256:$BASE_DIGEST\""* ]] || { lr_show; false; }
	[ "$(grep -c '"children": 1' <<<"$output")" -eq 1 ]
	[[ $output == *'"total_size": '* ]] || { lr_show; false; }
}

@test "list: a broken file in a store is shown and fails the listing" {
	store=$BATS_TEST_TMPDIR/store
	mkdir "$store"
	cp "$IMAGES/store/sha256-$BASE_DIGEST.sqfs" "$store/"
	cp "$IMAGES/notsquash.sqfs" "$store/sha256-$(printf 'c%.0s' {1..64}).sqfs"
	run --separate-stderr li list "$store"
	assert_status 1
	[ "${#stderr_lines[@]}" -eq 1 ] || { lr_show; false; }
	assert_stderr_matches "sha256-c{64}\\.sqfs: not a squashfs"
	[[ $output == *"BROKEN"* ]] || { lr_show; false; }
}

@test "list without any layer store: says where to set one" {
	write_conf "$LR_CONF" "# no layer-store"
	run --separate-stderr li list
	assert_status 1
	assert_stderr_matches 'no layer store' 'layer-store'
}

# rm works on a copy of the store: base <- mid, and busybox alone.
copy_store() {
	store=$BATS_TEST_TMPDIR/store
	cp -r "$IMAGES/store" "$store"
	write_conf "$LR_CONF" "layer-store = $store"
}

@test "rm: a layer nothing builds on goes; by digest, prefix or file name" {
	copy_store
	run --separate-stderr li rm "sha256:$MID_DIGEST"
	assert_status 0
	assert_output "removed $store/sha256-$MID_DIGEST.sqfs"
	[ ! -e "$store/sha256-$MID_DIGEST.sqfs" ]
	run --separate-stderr li rm "${BUSYBOX_DIGEST:0:12}"
	assert_status 0
	[ ! -e "$store/sha256-$BUSYBOX_DIGEST.sqfs" ]
	run --separate-stderr li rm "$store/sha256-$BASE_DIGEST.sqfs"
	assert_status 0
	[ -z "$(ls "$store")" ]
}

@test "rm: a layer another builds on stays, unless both go or --force" {
	copy_store
	run --separate-stderr li rm "sha256:$BASE_DIGEST"
	assert_status 1
	assert_stderr_matches "sha256:${BASE_DIGEST:0:16} is the parent of 1 layer" '--force'
	[ -e "$store/sha256-$BASE_DIGEST.sqfs" ]
	# Parent and child in one command: both go, in any order.
	run --separate-stderr li rm "sha256:$BASE_DIGEST" "sha256:$MID_DIGEST"
	assert_status 0
	[ ! -e "$store/sha256-$BASE_DIGEST.sqfs" ] && [ ! -e "$store/sha256-$MID_DIGEST.sqfs" ]
	copy_store_again=$BATS_TEST_TMPDIR/store2
	cp -r "$IMAGES/store" "$copy_store_again"
	write_conf "$LR_CONF" "layer-store = $copy_store_again"
	run --separate-stderr li rm --force "sha256:$BASE_DIGEST"
	assert_status 0
	[ ! -e "$copy_store_again/sha256-$BASE_DIGEST.sqfs" ]
	[ -e "$copy_store_again/sha256-$MID_DIGEST.sqfs" ]
}

@test "rm: unknown, too short or ambiguous digests are refused, nothing removed" {
	copy_store
	before=$(ls "$store")
	run --separate-stderr li rm "sha256:$(printf 'd%.0s' {1..64})"
	assert_status 1
	assert_stderr_matches 'is in no layer store'
	run --separate-stderr li rm "sha256:${MID_DIGEST:0:8}"
	assert_status 1
	assert_stderr_matches 'not a layer digest' 'at least 12'
	run --separate-stderr li rm
	assert_status 2
	[ "$(ls "$store")" = "$before" ]
}

@test "rm: a store the user cannot write to: the reason, status 1" {
	copy_store
	chmod a-w "$store"
	run --separate-stderr li rm "sha256:$MID_DIGEST"
	chmod u+w "$store"
	assert_status 1
	assert_stderr_matches "sha256-$MID_DIGEST\\.sqfs: Permission denied"
	[ -e "$store/sha256-$MID_DIGEST.sqfs" ]
}

@test "rm: a prefix two layers share is refused; a broken file can be removed" {
	store=$BATS_TEST_TMPDIR/store
	mkdir "$store"
	a=$(printf 'e%.0s' {1..63})1
	b=$(printf 'e%.0s' {1..63})2
	cp "$IMAGES/notsquash.sqfs" "$store/sha256-$a.sqfs"
	cp "$IMAGES/notsquash.sqfs" "$store/sha256-$b.sqfs"
	write_conf "$LR_CONF" "layer-store = $store"
	run --separate-stderr li rm "sha256:${a:0:20}"
	assert_status 1
	assert_stderr_matches 'names more than one layer'
	run --separate-stderr li rm "sha256:$a"
	assert_status 0
	[ ! -e "$store/sha256-$a.sqfs" ] && [ -e "$store/sha256-$b.sqfs" ]
}

# ---------------------------------------------------------------- hostile bytes
# Squashfs files crafted byte by byte (tests/images/hostile.c, in
# $IMAGES/bad/): before issue 12, verify crashed in libsquashfuse on some,
# and verify and flatten ran forever, memory growing, on a directory cycle.

# li_bounded CMD ARGS...: labrun-image, killed after 10 s (a hang is a 124).
li_bounded() {
	timeout 10 "$LABRUN_IMAGE" -c "$LR_CONF" "$@"
}

@test "verify, inspect and flatten of a directory cycle: status 1 in bounded time, naming the entry" {
	for cmd in verify inspect "flatten -o $BATS_TEST_TMPDIR/flat.sqfs"; do
		# shellcheck disable=SC2086 # cmd holds the command and its options
		run --separate-stderr li_bounded $cmd "$IMAGES/bad/cycle.sqfs"
		assert_status 1
		assert_stderr_matches 'bad/cycle\.sqfs' '/bin/loop: a directory reached twice'
		[ ! -e "$BATS_TEST_TMPDIR/flat.sqfs" ]
	done
}

@test "verify of superblocks with bad counts and offsets: status 1, one line, never a crash" {
	for kind in ids0 frag0 fragidx uididx idtable idblock inodestart dirstart fragstart \
		idstart xattrstart bytesused blocklog rootref inodes0 truncated longname deep \
		typemix longlink xattridx xattrref xattrname xattrsize block0 samenum; do
		run --separate-stderr li_bounded verify "$IMAGES/bad/$kind.sqfs"
		assert_status 1
		assert_stderr_matches "bad/$kind\\.sqfs"
		[ "$(wc -l <<<"$stderr")" -eq 1 ] || { echo "$kind: not one line"; lr_show; false; }
	done
}

@test "verify names the corrupt id table that once let a job fail as 'command not found'" {
	run --separate-stderr li_bounded verify "$IMAGES/bad/uididx.sqfs"
	assert_status 1
	assert_stderr_matches '/etc/hello: owner index past the id table \(corrupt id table\)'
}

@test "verify, inspect and flatten refuse '..', '/', NUL, duplicate and unsorted names, naming the path" {
	for kind in dotdot dot traversal slash nulname dup unsorted; do
		for cmd in verify inspect "flatten -o $BATS_TEST_TMPDIR/flat.sqfs"; do
			# shellcheck disable=SC2086
			run --separate-stderr li_bounded $cmd "$IMAGES/bad/$kind.sqfs"
			assert_status 1
			assert_stderr_matches "bad/$kind\\.sqfs" '/etc: (an entry named|two entries|entries out of order)'
			[ ! -e "$BATS_TEST_TMPDIR/flat.sqfs" ]
		done
	done
}

@test "a fragment offset past its fragment: verify fails on that file instead of reading heap" {
	run --separate-stderr li_bounded verify "$IMAGES/bad/fragoff.sqfs"
	assert_status 1
	assert_stderr_matches '/etc/hello: corrupt data'
}

@test "verify and inspect of a FIFO or a device: status 1 at once, saying what it is" {
	mkfifo "$BATS_TEST_TMPDIR/fifo.sqfs"
	for cmd in verify inspect; do
		run --separate-stderr li_bounded "$cmd" "$BATS_TEST_TMPDIR/fifo.sqfs"
		assert_status 1
		assert_stderr_matches 'fifo\.sqfs: is a FIFO, not a squashfs file'
	done
	run --separate-stderr li_bounded verify /dev/null
	assert_status 1
	assert_stderr_matches '/dev/null: is a character device'
}

@test "a FIFO in a store: as a parent it fails at once; list shows it and goes on" {
	store=$BATS_TEST_TMPDIR/store
	mkdir "$store"
	mkfifo "$store/sha256-$BASE_DIGEST.sqfs"
	cp "$IMAGES/mid.sqfs" "$store/sha256-$MID_DIGEST.sqfs"
	write_conf "$LR_CONF" "layer-store = $store"
	run --separate-stderr li_bounded verify "$TOP"
	assert_status 1
	assert_stderr_matches "sha256-$BASE_DIGEST\\.sqfs: is a FIFO"
	run --separate-stderr li_bounded list
	[ "$status" -ne 124 ] || { echo "list hung"; lr_show; false; }
	[[ "$output$stderr" == *"is a FIFO"* ]] || { lr_show; false; }
}

@test "the generator's sound image passes verify (the checks refuse only what is wrong)" {
	run --separate-stderr li_bounded verify "$IMAGES/bad/ok.sqfs"
	assert_status 0
	run --separate-stderr li_bounded verify "$IMAGES/bad/root0700.sqfs"
	assert_status 0
}
