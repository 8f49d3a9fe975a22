#!/usr/bin/env bats
# layers.bats - a three-layer image (base, mid, top from tests/images/
# build.sh) stacked as overlayfs would: files of every layer, whiteouts,
# opaque and merged directories, /.labrun hidden, configs merged from base
# to top; parents found in the layer store and beside the image; 128 layers.

load helpers

@test "files of all three layers are visible" {
	run_lr "$TOP" sh -c 'ls /layers; cat /layers/base /layers/mid /layers/top'
	assert_status 0
	assert_output "$(printf 'base\nmid\ntop\nbase\nmid\ntop')"
}

@test "a whiteout in the top layer deletes the base layer's file" {
	run_lr "$TOP" sh -c 'ls -a /; test -e /deleteme && echo PRESENT; true'
	assert_status 0
	assert_output_not_contains deleteme
	assert_output_not_contains PRESENT
	# and it is there in the base alone
	run_lr "$IMAGES/base.sqfs" cat /deleteme
	assert_status 0
	assert_output "delete me"
}

@test "an opaque directory hides the lower layers' content" {
	run_lr "$TOP" ls -A /replaced
	assert_status 0
	assert_output new1
}

@test "a directory in several layers shows all their files" {
	run_lr "$TOP" ls /keepdir
	assert_status 0
	assert_output "$(printf 'basefile\ntopfile')"
}

@test "/.labrun is hidden in the container" {
	run_lr "$TOP" sh -c 'ls -a /; test -e /.labrun && echo VISIBLE; cat /.labrun/layer.json; true'
	assert_status 0
	assert_output_not_contains .labrun
	assert_output_not_contains VISIBLE
	assert_output_not_contains parent
}

@test "image env is merged from base to top, top wins" {
	run_lr "$TOP" env
	assert_status 0
	grep -qx SHARED=top <<<"$output" || { lr_show; false; }
	grep -qx MIDVAR=mid <<<"$output" || { lr_show; false; }
}

@test "the image's workdir (from mid) is the default when the cwd is not visible" {
	run_lr "$TOP" pwd
	assert_status 0
	assert_output /layers
}

@test "the image's default command (from top) runs" {
	run_lr "$TOP"
	assert_status 0
	assert_output top
}

@test "a middle layer as image: its chain only" {
	run_lr "$IMAGES/mid.sqfs" ls /layers
	assert_status 0
	assert_output "$(printf 'base\nmid')"
}

@test "parents found beside the image, without a store" {
	write_conf "$BATS_TEST_TMPDIR/empty.conf" "# no layer-store"
	LR_CONF=$BATS_TEST_TMPDIR/empty.conf run_lr "$IMAGES/beside/top.sqfs" cat /layers/base /layers/top
	assert_status 0
	assert_output "$(printf 'base\ntop')"
}

@test "without store or parents beside: the missing parent is named" {
	write_conf "$BATS_TEST_TMPDIR/empty.conf" "# no layer-store"
	LR_CONF=$BATS_TEST_TMPDIR/empty.conf run_lr "$TOP" true
	assert_labrun_error "${MID_DIGEST:0:12}" 'looked in'
}

@test "a store list: a missing directory first does not stop the search" {
	write_conf "$BATS_TEST_TMPDIR/s.conf" "layer-store = /no/such/store:$IMAGES/store"
	LR_CONF=$BATS_TEST_TMPDIR/s.conf run_lr "$TOP" cat /layers/base
	assert_status 0
	assert_output base
}

@test "128 layers (the limit) run" {
	write_conf "$BATS_TEST_TMPDIR/deep.conf" "layer-store = $IMAGES/deepstore"
	LR_CONF=$BATS_TEST_TMPDIR/deep.conf run_lr "$IMAGES/deep128.sqfs" \
		sh -c 'ls /deep | wc -l; cat /deep/1 /deep/127'
	assert_status 0
	assert_output "$(printf '127\n1\n127')"
}

@test "running never changes the image files" {
	before=$(sha256sum "$IMAGES"/base.sqfs "$IMAGES"/mid.sqfs "$TOP")
	run_lr "$TOP" sh -c 'echo x >/layers/base; rm /layers/mid; echo y >/new'
	assert_status 0
	[ "$(sha256sum "$IMAGES"/base.sqfs "$IMAGES"/mid.sqfs "$TOP")" = "$before" ]
}
