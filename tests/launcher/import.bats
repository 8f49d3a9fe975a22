#!/usr/bin/env bats
# import.bats - labrun-image import: Docker and OCI archives and OCI image
# layouts (made by tests/images/oci.sh, in $IMAGES/oci) converted layer by
# layer into a layer store, then run by labrun.  The files are as the
# archive meant them (whiteouts, opaque and merged directories, hard links,
# long names, owners and modes, xattrs) and so is the config; identical
# layers give identical squashfs files, stored once; a bad archive fails
# with one line naming the blob or file and the cause, and leaves the store
# as it was (DESIGN.md §2: "converts OCI/Docker archives layer by layer";
# "the same input tree or tarball gives a byte-identical layer and digest").
#
# The fixture image's entrypoint is ["/bin/sh","-c"] and a command replaces
# only its cmd, so a command given to it is one shell string:
# run_lr "$IMG" 'cat /etc/layer3'.
#
# Each test has its own empty layer store, $STORE, named by $LR_CONF.
#
# The spec puts the image config in "the top layer's layer.json"; that
# top layer may be the image's last layer or a layer of its own holding
# only /.labrun on top of it (so that the image's last layer, like the
# others, is the same file in every image that has it).  The tests take
# both: they count "content layers" (content_layers) and index layers
# from the bottom.

# SC2016: the single-quoted scripts run in the container, $ and all.
# SC2154: bats' run sets stderr_lines; eval sets want.
# SC2030, SC2031: helpers such as special_dropped call bats' run, which sets
# output in the test's own shell (each test is one subshell).
# shellcheck disable=SC2016,SC2154,SC2030,SC2031

load helpers

setup() {
	lr_setup
	: "${LABRUN_IMAGE:?LABRUN_IMAGE must name labrun-image (run-bats sets it)}"
	OCI=$IMAGES/oci
	if [ ! -f "$OCI/oci-digests" ]; then
		echo "the OCI fixtures are missing in $OCI: tests/images/oci.sh did not run or failed"
		return 1
	fi
	# shellcheck source=/dev/null
	. "$OCI/oci-digests"
	STORE=$BATS_TEST_TMPDIR/store
	mkdir "$STORE"
	write_conf "$LR_CONF" "layer-store = $STORE"
	IMG=$BATS_TEST_TMPDIR/image.sqfs
}

teardown() {
	lr_teardown
}

li() {
	timeout 120 "$LABRUN_IMAGE" -c "$LR_CONF" "$@"
}

# import_ok ARGS...: labrun-image import ARGS succeeds and prints one line,
# sha256:<64 hex>; DIGEST is set to the hex.
import_ok() {
	run --separate-stderr li import "$@"
	if [ "$status" -ne 0 ]; then
		echo "labrun-image import $* failed (exit $status)"
		lr_show
		return 1
	fi
	if [ "${#lines[@]}" -ne 1 ] || ! [[ ${lines[0]} =~ ^sha256:[0-9a-f]{64}$ ]]; then
		echo "labrun-image import $*: expected one line 'sha256:<64 hex>' on stdout"
		lr_show
		return 1
	fi
	DIGEST=${lines[0]#sha256:}
}

# import_image SOURCE: import SOURCE into $STORE with -o $IMG.
import_image() {
	import_ok -o "$IMG" "$1"
	if [ ! -f "$IMG" ]; then
		echo "import -o $IMG: the file was not made"
		return 1
	fi
}

# layer_digests IMAGE: the digests (hex) of IMAGE's layers, top first, one
# a line, from labrun-image inspect --json.
layer_digests() {
	li inspect --json "$1" | jq -r '.layers[].digest' | sed 's/^sha256://'
}
# layer_path IMAGE N: the file of IMAGE's layer N (0: top, -1: bottom).
layer_path() {
	li inspect --json "$1" | jq -r ".layers[$2].path"
}
# is_config_only LAYER: the squashfs LAYER holds nothing but /.labrun.
is_config_only() {
	! sq_ls "$1" | awk '{ print $NF }' | grep -qvE '^\.labrun(/layer\.json)?$'
}
# content_layers IMAGE: the digests of IMAGE's layers that hold the
# image's files, top first: all but a top layer holding only /.labrun.
content_layers() {
	local digests
	mapfile -t digests < <(layer_digests "$1")
	if [ "${#digests[@]}" -gt 0 ] && is_config_only "$(layer_path "$1" 0)"; then
		digests=("${digests[@]:1}")
	fi
	[ "${#digests[@]}" -eq 0 ] || printf '%s\n' "${digests[@]}"
}
# assert_store_holds STORE IMAGE CONTENT: STORE holds exactly the layer
# files of IMAGE's chain, CONTENT of them with the image's files.
assert_store_holds() {
	local store=$1 image=$2 n=$3 want have content
	want=$(layer_digests "$image" | sed 's/.*/sha256-&.sqfs/' | sort)
	have=$(find "$store" -mindepth 1 -maxdepth 1 -printf '%P\n' | sort)
	if [ -z "$want" ] || [ "$want" != "$have" ]; then
		echo "the store $store does not hold exactly the layers of $image:"
		diff <(echo "$want") <(echo "$have") || true
		return 1
	fi
	content=$(content_layers "$image" | wc -l)
	[ "$content" -eq "$n" ] || { echo "$image: $content layers with files, not $n"; ls -lA "$store"; return 1; }
}

# store_listing: what is in $STORE, hidden files included, with inode,
# link count, size and mtime to the nanosecond: a file rewritten or
# replaced changes its line.
store_listing() {
	ls -lAi --full-time "$STORE"
}

# assert_store_unchanged BEFORE: the store lists as BEFORE.
assert_store_unchanged() {
	local now
	now=$(store_listing)
	if [ "$now" != "$1" ]; then
		echo "the layer store changed:"
		diff <(printf '%s\n' "$1") <(printf '%s\n' "$now") || true
		lr_show
		return 1
	fi
}

# import_fails SOURCE ERE...: import SOURCE (with -o) exits 1 with one line
# "labrun-image import: ..." on stderr matching every ERE, prints nothing on
# stdout, makes no -o file and leaves the store as it was.
import_fails() {
	local src=$1 before
	shift
	before=$(store_listing)
	run --separate-stderr li import -o "$IMG" "$src"
	assert_status 1
	if [ "${#stderr_lines[@]}" -ne 1 ] || [[ ${stderr_lines[0]} != "labrun-image import: "* ]]; then
		echo "expected exactly one line on stderr, starting with 'labrun-image import: '"
		lr_show
		return 1
	fi
	assert_stderr_matches "$@"
	[ -z "$output" ] || { echo "expected nothing on stdout"; lr_show; return 1; }
	[ ! -e "$IMG" ] || { echo "a failed import made the -o file $IMG"; return 1; }
	assert_store_unchanged "$before"
}

# usage_error ARGS... -- ERE...: labrun-image import ARGS exits 2 (a bad
# command line), stderr starts "labrun-image import: " and matches every
# ERE, the store is untouched.
usage_error() {
	local args=() before
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	before=$(store_listing)
	run --separate-stderr li import "${args[@]}"
	if [ "$status" -ne 2 ]; then
		echo "labrun-image import ${args[*]}: expected exit status 2 (bad command line)"
		lr_show
		return 1
	fi
	assert_stderr_matches '^labrun-image import: ' "$@"
	assert_store_unchanged "$before"
}

# What the 3-layer fixture image must look like inside, as one shell
# script for the image's /bin/sh -c, and the output it must give.
TREE_CHECK='cat /etc/layer2 /etc/layer3
[ -e /etc/base-only ] && echo "etc/base-only is there"
echo replaced: $(ls -A /opt/replaced)
echo keep: $(ls -A /opt/keep)
echo whiteout files: $(find / -xdev -name ".wh.*" 2>/dev/null)
set -- $(stat -c %i /usr/share/h1 /usr/share/h2)
[ "$1" = "$2" ] && echo "h1 h2: one inode"
cat "/$LONG_PATH" /opt/long-link
stat -c %a /var/tmp'
TREE_EXPECTED='layer2 from layer 3
layer3
replaced: c
keep: x y
whiteout files:
h1 h2: one inode
long name
long name
1777'

# ---------------------------------------------------------------- fixtures

@test "fixtures: oci.sh made every source and bad input, layers matching their diff ids" {
	for f in oci/index.json oci/oci-layout oci.tar docker.tar bad-missing-blob bad-digest \
		bad-mediatype bad-truncated.tar bad-dotdot bad-symlink-parent \
		bad-absolute-symlink-parent bad-not-an-archive.tar bad-index/index.json \
		hostile-wh-dotdot/index.json hostile-wh-dotdot.tar hostile-wh-dot/index.json \
		hostile-wh-dot.tar hostile-special/index.json hostile-special.tar; do
		[ -r "$OCI/$f" ] || { echo "fixture $OCI/$f missing or unreadable"; return 1; }
	done
	i=0
	for l in $(tar -xOf "$OCI/docker.tar" manifest.json | grep -oE '[0-9a-f]{64}/layer\.tar'); do
		i=$((i + 1))
		eval "want=\$DIFF$i"
		got=$(tar -xOf "$OCI/docker.tar" "$l" | sha256sum | cut -c1-64)
		[ "$got" = "$want" ] || { echo "docker.tar $l: sha256 $got, not DIFF$i $want"; return 1; }
	done
	[ "$i" -eq 3 ]
	[ "$(gzip -dc "$OCI/oci/blobs/sha256/$BLOB1" | sha256sum | cut -c1-64)" = "$DIFF1" ]
	[ "$(sha256sum <"$OCI/oci/blobs/sha256/$BLOB2" | cut -c1-64)" = "$DIFF2" ]
	[ "$(zstd -dc "$OCI/oci/blobs/sha256/$BLOB3" | sha256sum | cut -c1-64)" = "$DIFF3" ]
}

# ---------------------------------------------------------------- the store

@test "import: one squashfs layer per image layer in the store, the top's digest on stdout" {
	import_ok "oci-archive:$OCI/oci.tar"
	[ -f "$STORE/sha256-$DIGEST.sqfs" ] ||
		{ echo "the printed digest $DIGEST names no layer in the store"; ls -lA "$STORE"; return 1; }
	assert_store_holds "$STORE" "$STORE/sha256-$DIGEST.sqfs" 3
	run ls -A "$STORE"
	for f in "${lines[@]}"; do
		[[ $f =~ ^sha256-[0-9a-f]{64}\.sqfs$ ]] ||
			{ echo "unexpected file in the store: $f"; return 1; }
		hex=${f#sha256-}
		hex=${hex%.sqfs}
		[ "$(sha256sum <"$STORE/$f" | cut -c1-64)" = "$hex" ] ||
			{ echo "$f: its content does not have the digest it is named by"; return 1; }
		unsquashfs -s "$STORE/$f" >/dev/null || { echo "$f is not a squashfs"; return 1; }
	done
}

@test "import: the layers' parent links make the image's 3-layer chain, top printed" {
	import_ok "oci-archive:$OCI/oci.tar"
	top=$STORE/sha256-$DIGEST.sqfs
	run --separate-stderr li verify "$top"
	assert_status 0
	run --separate-stderr li inspect --json "$top"
	assert_status 0
	[ "$(content_layers "$top" | wc -l)" -eq 3 ] || { echo "expected 3 layers with files"; lr_show; return 1; }
	[ "$(jq -r '.layers[0].digest' <<<"$output")" = "sha256:$DIGEST" ] || { lr_show; return 1; }
	[ "$(jq -r '.layers[-1].parent' <<<"$output")" = null ] || { lr_show; return 1; }
	for p in $(jq -r '.layers[].path' <<<"$output"); do
		[ "$(dirname "$p")" = "$STORE" ] || { echo "layer $p is not in the store"; return 1; }
	done
}

@test "import -o FILE: FILE is the top layer, and labrun FILE runs the image" {
	import_image "oci-archive:$OCI/oci.tar"
	cmp "$IMG" "$STORE/sha256-$DIGEST.sqfs" || { echo "-o FILE differs from the top layer"; return 1; }
	run_lr "$IMG"
	assert_status 0
	assert_output from-cmd
}

@test "import --store DIR: the layers go to DIR, not to labrun.conf's store" {
	other=$BATS_TEST_TMPDIR/other-store
	mkdir "$other"
	import_ok --store "$other" "docker-archive:$OCI/docker.tar"
	[ -f "$other/sha256-$DIGEST.sqfs" ] || { echo "top layer not in --store $other"; ls -lA "$other"; return 1; }
	# (its parents are found beside it)
	assert_store_holds "$other" "$other/sha256-$DIGEST.sqfs" 3
	[ -z "$(ls -A "$STORE")" ] || { echo "labrun.conf's store was written to"; ls -lA "$STORE"; return 1; }
}

@test "import without --store: the first writable store of labrun.conf" {
	[ "$(id -u)" -ne 0 ] || skip "root writes to any directory: needs an unprivileged user"
	ro=$BATS_TEST_TMPDIR/ro-store
	mkdir "$ro"
	chmod 0555 "$ro"
	write_conf "$LR_CONF" "layer-store = $ro:$STORE"
	import_ok "oci:$OCI/oci"
	[ -f "$STORE/sha256-$DIGEST.sqfs" ] || { echo "top layer not in $STORE"; ls -lA "$STORE" "$ro"; return 1; }
	[ -z "$(ls -A "$ro")" ]
}

@test "import with no writable store: status 1, the reason" {
	[ "$(id -u)" -ne 0 ] || skip "root writes to any directory: needs an unprivileged user"
	chmod 0555 "$STORE"
	run --separate-stderr li import "oci:$OCI/oci"
	chmod 0755 "$STORE"
	assert_status 1
	[ "${#stderr_lines[@]}" -eq 1 ] || { lr_show; return 1; }
	assert_stderr_matches '^labrun-image import: ' 'writ|permission denied|read-only'
	[ -z "$(ls -A "$STORE")" ]
}

@test "importing the same source twice writes nothing new and prints the same digest" {
	import_ok "oci-archive:$OCI/oci.tar"
	first=$DIGEST
	before=$(store_listing)
	import_ok "oci-archive:$OCI/oci.tar"
	[ "$DIGEST" = "$first" ] || { echo "first import: $first, second: $DIGEST"; return 1; }
	assert_store_unchanged "$before"
}

@test "docker-archive, oci-archive and oci dir give the same lower layers, stored once" {
	import_ok "docker-archive:$OCI/docker.tar"
	mapfile -t docker < <(content_layers "$STORE/sha256-$DIGEST.sqfs")
	[ "${#docker[@]}" -eq 3 ] || { echo "docker-archive: expected 3 layers: ${docker[*]}"; return 1; }
	# Layers 1 and 2 (from the bottom) hold no config in any design; their
	# files as the docker-archive import left them.
	lower=$(ls -lAi --full-time "$STORE/sha256-${docker[2]}.sqfs" "$STORE/sha256-${docker[1]}.sqfs")
	for src in "oci-archive:$OCI/oci.tar" "oci:$OCI/oci"; do
		import_ok "$src"
		mapfile -t oci < <(content_layers "$STORE/sha256-$DIGEST.sqfs")
		[ "${#oci[@]}" -eq 3 ] || { echo "$src: expected 3 layers: ${oci[*]}"; return 1; }
		for i in 1 2; do
			[ "${oci[i]}" = "${docker[i]}" ] || {
				echo "layer $((3 - i)) from the bottom: $src gives ${oci[i]}, docker-archive ${docker[i]}"
				echo "(the same uncompressed tar must give the same squashfs layer)"
				return 1
			}
		done
		now=$(ls -lAi --full-time "$STORE/sha256-${docker[2]}.sqfs" "$STORE/sha256-${docker[1]}.sqfs")
		[ "$now" = "$lower" ] ||
			{ echo "$src: rewrote layers already in the store:"; diff <(echo "$lower") <(echo "$now"); return 1; }
	done
}

# ---------------------------------------------------------------- the files

@test "oci dir: a whiteout in layer 2 deletes layer 1's etc/base-only" {
	import_image "oci:$OCI/oci"
	run_lr "$IMG" 'ls -A /etc; test -e /etc/base-only && echo PRESENT; true'
	assert_status 0
	assert_output_contains layer3
	assert_output_not_contains base-only
	assert_output_not_contains PRESENT
	assert_output_not_contains .wh.
}

@test "oci dir: an opaque directory hides layer 1's files, a plain one merges" {
	import_image "oci:$OCI/oci"
	run_lr "$IMG" 'echo $(ls -A /opt/replaced) / $(ls -A /opt/keep)'
	assert_status 0
	assert_output "c / x y"
}

@test "oci dir: a file of layer 2 changed in layer 3 shows layer 3's content" {
	import_image "oci:$OCI/oci"
	run_lr "$IMG" 'cat /etc/layer2 /etc/layer3'
	assert_status 0
	assert_output "$(printf 'layer2 from layer 3\nlayer3')"
}

@test "oci dir: the hard link pair h1 h2 is one inode with two links" {
	import_image "oci:$OCI/oci"
	run_lr "$IMG" 'stat -c "%i %h" /usr/share/h1 /usr/share/h2; cat /usr/share/h2'
	assert_status 0
	[ "${#lines[@]}" -eq 3 ] || { lr_show; return 1; }
	[ "${lines[0]}" = "${lines[1]}" ] || { echo "h1 and h2 differ in inode or link count"; lr_show; return 1; }
	[[ ${lines[0]} == *" 2" ]] || { echo "expected a link count of 2"; lr_show; return 1; }
	[ "${lines[2]}" = "hard link" ] || { lr_show; return 1; }
}

@test "oci dir: a name over 100 characters and a symlink to it (PAX path, linkpath)" {
	import_image "oci:$OCI/oci"
	run_lr "$IMG" "cat /$LONG_PATH /opt/long-link"
	assert_status 0
	assert_output "$(printf 'long name\nlong name')"
}

@test "oci dir: owners come from the tarball (0:0), modes too (tmp 1777, root 0700)" {
	import_image "oci:$OCI/oci"
	bottom=$(layer_path "$IMG" -1)
	run sq_ls "$bottom"
	assert_status 0
	owners=$(awk '{ print $2 }' <<<"$output" | sort -u)
	[ "$owners" = 0/0 ] || { echo "owners other than 0/0 in $bottom: $owners"; return 1; }
	grep -qE '^drwxrwxrwt .* tmp$' <<<"$output" || { lr_show; return 1; }
	grep -qE '^drwx------ .* root$' <<<"$output" || { lr_show; return 1; }
	grep -qE '^-rwxr-xr-x .* bin/busybox$' <<<"$output" || { lr_show; return 1; }
}

@test "oci dir: whiteouts become overlayfs whiteouts (char 0:0), no .wh. names kept" {
	import_image "oci:$OCI/oci"
	mid=$(layer_path "$IMG" -2)
	run sq_ls "$mid"
	assert_status 0
	grep -qE '^c[-rwx]{9} [0-9]+/[0-9]+ 0,0 etc/base-only$' <<<"$output" ||
		{ echo "etc/base-only is not a 0:0 character device in layer 2 ($mid)"; lr_show; return 1; }
	assert_output_not_contains .wh.
}

# busybox has no getfattr, so the xattr is checked in the layer itself,
# with rdsquashfs, not in the running container.
@test "oci dir: the PAX xattr SCHILY.xattr.user.test=hello is in the bottom layer" {
	import_image "oci:$OCI/oci"
	bottom=$(layer_path "$IMG" -1)
	run rdsquashfs -x /opt/xattr "$bottom"
	assert_status 0
	assert_output user.test=hello
}

@test "oci dir: Env, WorkingDir, Entrypoint and Cmd apply when the image runs" {
	import_image "oci:$OCI/oci"
	run_lr "$IMG"
	assert_status 0
	assert_output from-cmd
	# A command replaces Cmd only: the entrypoint /bin/sh -c runs it.
	run_lr "$IMG" 'echo "$FIXTURE $(pwd)"'
	assert_status 0
	assert_output "oci /opt"
}

@test "oci dir: labrun-image inspect shows the config, labels and the source" {
	import_image "oci:$OCI/oci"
	run --separate-stderr li inspect "$IMG"
	assert_status 0
	grep -qE '^  entrypoint +"/bin/sh" "-c"$' <<<"$output" || { lr_show; return 1; }
	grep -qE '^  cmd +"echo from-cmd"$' <<<"$output" || { lr_show; return 1; }
	grep -qE '^  env +.*"FIXTURE=oci"' <<<"$output" || { lr_show; return 1; }
	grep -qE '^  workdir +/opt$' <<<"$output" || { lr_show; return 1; }
	run --separate-stderr li inspect --json "$IMG"
	assert_status 0
	[ "$(jq -r '.config.labels["org.example.fixture"]' <<<"$output")" = yes ] ||
		{ echo "label org.example.fixture=yes missing"; lr_show; return 1; }
	[ "$(jq -r '.config.env | index("PATH=/bin:/usr/bin") != null' <<<"$output")" = true ] ||
		{ lr_show; return 1; }
	# Provenance in the top layer names the source.
	jq -e '.layers[0].provenance | tostring | contains("oci/oci")' <<<"$output" >/dev/null ||
		{ echo "the top layer's provenance does not name the source $OCI/oci"; lr_show; return 1; }
}

# ---------------------------------------------------------------- transports

@test "oci-archive: the image's files and config as the archive meant them" {
	import_image "oci-archive:$OCI/oci.tar"
	run_lr -e "LONG_PATH=$LONG_PATH" "$IMG" "$TREE_CHECK"
	assert_status 0
	assert_output "$TREE_EXPECTED"
	run_lr "$IMG"
	assert_output from-cmd
}

@test "docker-archive: the image's files and config as the archive meant them" {
	import_image "docker-archive:$OCI/docker.tar"
	run_lr -e "LONG_PATH=$LONG_PATH" "$IMG" "$TREE_CHECK"
	assert_status 0
	assert_output "$TREE_EXPECTED"
	run_lr "$IMG" 'echo "$FIXTURE $(pwd)"'
	assert_output "oci /opt"
	run_lr "$IMG"
	assert_output from-cmd
	run --separate-stderr li inspect --json "$IMG"
	jq -e '.layers[0].provenance | tostring | contains("docker.tar")' <<<"$output" >/dev/null ||
		{ echo "the top layer's provenance does not name docker.tar"; lr_show; return 1; }
}

@test "oci dir: the image's files as the layout meant them" {
	import_image "oci:$OCI/oci"
	run_lr -e "LONG_PATH=$LONG_PATH" "$IMG" "$TREE_CHECK"
	assert_status 0
	assert_output "$TREE_EXPECTED"
}

@test "oci:DIR without a tag picks \"latest\" among two manifests; oci:DIR:latest the same image" {
	import_ok "oci:$OCI/oci"
	mapfile -t untagged < <(content_layers "$STORE/sha256-$DIGEST.sqfs")
	import_ok "oci:$OCI/oci:latest"
	mapfile -t tagged < <(content_layers "$STORE/sha256-$DIGEST.sqfs")
	[ "${#untagged[@]}" -eq 3 ] && [ "${#tagged[@]}" -eq 3 ] ||
		{ echo "expected 3 layers: untagged ${untagged[*]}, latest ${tagged[*]}"; return 1; }
	[ "${untagged[1]} ${untagged[2]}" = "${tagged[1]} ${tagged[2]}" ]
}

@test "oci:DIR:other: the manifest tagged other, a 1-layer image with its own config" {
	import_image "oci:$OCI/oci:other"
	assert_store_holds "$STORE" "$IMG" 1
	run_lr "$IMG"
	assert_status 0
	assert_output from-other
	run_lr "$IMG" sh -c 'cat /etc/base-only; test -e /etc/layer2 || echo "no layer2"; echo $FIXTURE'
	assert_status 0
	assert_output "$(printf 'base only\nno layer2\nother')"
}

@test "import --compression: each compressor gives a runnable image of that compression" {
	for c in gzip lz4 zstd xz none; do
		store=$BATS_TEST_TMPDIR/store-$c
		mkdir "$store"
		write_conf "$LR_CONF" "layer-store = $store"
		import_ok --compression "$c" -o "$BATS_TEST_TMPDIR/$c.sqfs" "oci:$OCI/oci:other"
		for l in "$store"/*; do
			run unsquashfs -s "$l"
			assert_status 0
			if [ "$c" = none ]; then
				assert_output_contains "Data is uncompressed"
			else
				assert_output_contains "Compression $c"
			fi
		done
		run_lr "$BATS_TEST_TMPDIR/$c.sqfs"
		assert_status 0
		assert_output from-other
	done
}

# ---------------------------------------------------------------- bad inputs

@test "bad: a layer blob missing from the layout" {
	import_fails "oci:$OCI/bad-missing-blob" "${MISSING_BLOB:0:12}" 'missing|not found|no such file|absent'
}

@test "bad: a FIFO in place of a layer blob is refused at once, not waited on" {
	local lay=$BATS_TEST_TMPDIR/fifo-layout
	cp -r "$OCI/oci" "$lay"
	rm "$lay/blobs/sha256/$BLOB2"
	mkfifo "$lay/blobs/sha256/$BLOB2"
	import_fails "oci:$lay" "${BLOB2:0:12}|$BLOB2" 'not a regular file'
}

@test "bad: a blob whose content does not have its digest" {
	import_fails "oci:$OCI/bad-digest" "${BAD_DIGEST_BLOB:0:12}" 'digest'
}

@test "bad: a failed import keeps the layers that were already in the store" {
	# bad-dotdot's layer 1 is the fixture's bottom layer: already there.
	import_ok "oci:$OCI/oci"
	bottom=$(layer_digests "$STORE/sha256-$DIGEST.sqfs" | tail -1)
	import_fails "oci:$OCI/bad-dotdot" '\.\./escape'
	[ -f "$STORE/sha256-$bottom.sqfs" ]
}

@test "bad: a full disk during import: ENOSPC named, the store left empty" {
	# A 1 MiB tmpfs in a user and mount namespace of the test's own; the
	# uncompressed busybox layer does not fit.
	small=$BATS_TEST_TMPDIR/small
	mkdir -p "$small"
	run unshare -rm sh -c "mount -t tmpfs -o size=1m none '$small' &&
		'$LABRUN_IMAGE' -c '$LR_CONF' import --compression none --store '$small/store' \
			'oci:$OCI/oci'; echo status=\$?; ls -A '$small/store'"
	[[ $output == *"No space left on device"* ]] || { lr_show; false; }
	[ "${lines[-1]}" = status=1 ] || { lr_show; false; }
}

@test "bad: a layer of an unknown media type" {
	import_fails "oci:$OCI/bad-mediatype" 'application/vnd\.example\.unknown'
}

@test "bad: an oci-archive cut in the middle of a layer blob" {
	import_fails "oci-archive:$OCI/bad-truncated.tar" 'bad-truncated\.tar' \
		'truncat|unexpected end|premature|short|incomplete|eof'
}

@test "bad: a layer member ../escape is refused, nothing written outside" {
	import_fails "oci:$OCI/bad-dotdot" '\.\./escape'
	[ -z "$(find "$BATS_TEST_TMPDIR" -name escape)" ] || { find "$BATS_TEST_TMPDIR" -name escape; return 1; }
}

@test "bad: a member under a symlink to /etc (evil -> /etc, evil/passwd) is refused" {
	import_fails "oci:$OCI/bad-symlink-parent" 'evil/passwd' 'link|not a directory'
}

@test "bad: a member under a symlink climbing out (lnk -> ../../.., lnk/x) is refused" {
	import_fails "oci:$OCI/bad-absolute-symlink-parent" 'lnk/x' 'link|not a directory'
	# Three levels up from the store, or from a directory in it.
	up=("$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR/.." "$BATS_TEST_TMPDIR/../..")
	[ -z "$(find "${up[@]}" -maxdepth 1 -name x -type f -newer "$LR_CONF" 2>/dev/null)" ] ||
		{ echo "lnk/x was written through the link:"; find "${up[@]}" -maxdepth 1 -name x -newer "$LR_CONF"; return 1; }
}

@test "bad: random bytes as oci-archive and as docker-archive" {
	import_fails "oci-archive:$OCI/bad-not-an-archive.tar" 'bad-not-an-archive\.tar'
	import_fails "docker-archive:$OCI/bad-not-an-archive.tar" 'bad-not-an-archive\.tar'
}

@test "bad: an index.json that is not JSON" {
	import_fails "oci:$OCI/bad-index" 'index\.json'
}

@test "bad: an OCI archive given as docker-archive has no manifest.json" {
	import_fails "docker-archive:$OCI/oci.tar" 'manifest\.json'
}

@test "bad: a tag the index does not have" {
	import_fails "oci:$OCI/oci:nosuchtag" 'nosuchtag'
}

@test "bad: a source that does not exist" {
	import_fails "oci-archive:$BATS_TEST_TMPDIR/absent.tar" 'absent\.tar' 'no such file'
	import_fails "docker-archive:$BATS_TEST_TMPDIR/absent.tar" 'absent\.tar' 'no such file'
	import_fails "oci:$BATS_TEST_TMPDIR/absent" 'absent' 'no such file|missing|not found'
}

@test "bad command lines: status 2" {
	usage_error -- 'SOURCE|missing|usage'
	usage_error "foo:x" -- "foo"
	usage_error "$OCI/oci.tar" -- 'oci\.tar|transport'
	usage_error --bogus "oci:$OCI/oci" -- "--bogus"
	usage_error --compression rar "oci:$OCI/oci" -- "rar"
	usage_error "oci:$OCI/oci" "oci-archive:$OCI/oci.tar" -- 'one SOURCE|too many|extra|unexpected'
}

@test "--help names import and its transports" {
	run --separate-stderr "$LABRUN_IMAGE" --help
	assert_status 0
	for w in import docker-archive: oci-archive: oci:DIR; do
		[[ $output == *"$w"* ]] || { echo "--help lacks $w"; lr_show; return 1; }
	done
}

# ---------------------------------------------------------------- hostile layers (issue 12)
# tests/images/hostile_tar.c writes them; oci.sh wraps each as an OCI
# layout hostile-KIND/ and a docker-archive hostile-KIND.tar over the
# busybox layer 1.

@test "hostile: a whiteout .wh... (of \"..\") is refused, naming the member, oci and docker-archive" {
	import_fails "oci:$OCI/hostile-wh-dotdot" '\.wh\.\.\.' 'refused'
	import_fails "docker-archive:$OCI/hostile-wh-dotdot.tar" 'hostile-wh-dotdot\.tar' '\.wh\.\.\.' 'refused'
}

@test "hostile: a whiteout dir/.wh.. (of \"dir/.\") is refused, naming the member, oci and docker-archive" {
	import_fails "oci:$OCI/hostile-wh-dot" 'dir/\.wh\.\.' 'refused'
	import_fails "docker-archive:$OCI/hostile-wh-dot.tar" 'hostile-wh-dot\.tar' 'dir/\.wh\.\.' 'refused'
}

# special_dropped IMAGE: IMAGE's hostile layer (the one below the config
# layer) holds no device node, no set-id bit, no file capability, and
# still the whiteout, the FIFO and the setgid directory.
special_dropped() {
	local layer
	layer=$(layer_path "$1" 1)
	run sq_ls "$layer"
	assert_status 0
	[[ $output == *"-rw-r--r-- 0/0 etc/hostile"* ]] || { echo "not the hostile layer: $layer"; lr_show; return 1; }
	assert_output_not_contains dev/mem
	assert_output_not_contains dev/sda
	[[ $output == *"-rwxr-xr-x 0/0 bin/suid-sh"* ]] || { echo "bin/suid-sh kept its setuid bit"; lr_show; return 1; }
	[[ $output == *"-rwxr-xr-x 0/5 bin/sgid-tool"* ]] || { echo "bin/sgid-tool kept its setgid bit"; lr_show; return 1; }
	[[ $output == *"c--------- 0/0 0,0 etc/gone"* ]] || { echo "the whiteout etc/gone is gone"; lr_show; return 1; }
	[[ $output == *"prw------- 0/0 run/fifo"* ]] || { echo "the FIFO run/fifo is gone"; lr_show; return 1; }
	[[ $output == *"drwxrwsr-x 0/50 srv/shared"* ]] || { echo "srv/shared lost its setgid bit"; lr_show; return 1; }
	run rdsquashfs -x /bin/cap-tool "$layer"
	assert_status 0
	assert_output_not_contains security.capability
	run --separate-stderr li verify "$1"
	assert_status 0
}

# special_summary: one line on stderr says what was dropped, with a path.
special_summary() {
	if [ "${#stderr_lines[@]}" -ne 1 ]; then
		echo "expected one summary line on stderr"
		lr_show
		return 1
	fi
	assert_stderr_matches '^labrun-image import: ' 'dropped 2 device nodes \(/dev/mem' \
		'setuid/setgid bits of 2 files \(/bin/suid-sh' 'file capabilities of 1 file \(/bin/cap-tool\)' \
		'--keep-special'
}

@test "hostile: oci dir: /dev/mem dropped, set-id bits and file capabilities stripped, one line says so" {
	import_image "oci:$OCI/hostile-special"
	special_summary
	special_dropped "$IMG"
}

@test "hostile: docker-archive: /dev/mem dropped, set-id bits and file capabilities stripped, one line says so" {
	import_image "docker-archive:$OCI/hostile-special.tar"
	special_summary
	special_dropped "$IMG"
}

@test "hostile: --keep-special keeps devices, set-id bits and capabilities, silently; never mixed up with a default import" {
	import_image "oci:$OCI/hostile-special"
	dropped=$(layer_digests "$IMG" | sed -n 2p)
	kept_img=$BATS_TEST_TMPDIR/kept.sqfs
	import_ok --keep-special -o "$kept_img" "docker-archive:$OCI/hostile-special.tar"
	[ -z "$stderr" ] || { echo "--keep-special should say nothing"; lr_show; return 1; }
	layer=$(layer_path "$kept_img" 1)
	[ "$(basename "$layer")" != "sha256-$dropped.sqfs" ] ||
		{ echo "--keep-special reused the layer imported without it"; return 1; }
	run sq_ls "$layer"
	[[ $output == *"crw-rw-rw- 0/0 1,1 dev/mem"* ]] || { lr_show; return 1; }
	[[ $output == *"brw-rw---- 0/0 8,0 dev/sda"* ]] || { lr_show; return 1; }
	[[ $output == *"-rwsr-xr-x 0/0 bin/suid-sh"* ]] || { lr_show; return 1; }
	[[ $output == *"-rwxr-sr-x 0/5 bin/sgid-tool"* ]] || { lr_show; return 1; }
	run rdsquashfs -x /bin/cap-tool "$layer"
	assert_output security.capability=0x0100000200002000000000000000000000000000
	# The other way round: a default import reuses the dropped layer, not
	# the kept one, and says again what that layer lacks.
	import_ok "docker-archive:$OCI/hostile-special.tar"
	special_summary
	[ "$(layer_digests "$STORE/sha256-$DIGEST.sqfs" | sed -n 2p)" = "$dropped" ] ||
		{ echo "a default import did not reuse the layer with the special files dropped"; return 1; }
	# The clean busybox layer below is the same file either way.
	[ "$(layer_digests "$IMG" | sed -n 3p)" = "$(layer_digests "$kept_img" | sed -n 3p)" ]
}

# ---------------------------------------------------------------- killed imports

# big_archive OUT: a docker-archive of one layer with 24 MiB of random
# bytes: an import of it writes for long enough to be stopped mid-write.
big_archive() {
	local d=$BATS_TEST_TMPDIR/big diff cfg
	mkdir -p "$d/root/data"
	head -c 24M /dev/urandom >"$d/root/data/big"
	tar -C "$d/root" -cf "$d/layer.tar" data
	diff=$(sha256sum "$d/layer.tar" | cut -c1-64)
	jq -n -c --arg d "sha256:$diff" \
		'{architecture: "amd64", os: "linux", config: {}, rootfs: {type: "layers", diff_ids: [$d]}}' \
		>"$d/config.json"
	cfg=$(sha256sum "$d/config.json" | cut -c1-64)
	mv "$d/config.json" "$d/$cfg.json"
	jq -n -c --arg c "$cfg.json" '[{Config: $c, RepoTags: ["big:latest"], Layers: ["layer.tar"]}]' \
		>"$d/manifest.json"
	tar -C "$d" -cf "$1" manifest.json "$cfg.json" layer.tar
}

# start_import STORE: labrun-image import of $BIG into STORE in the
# background, stopped (SIGSTOP) once its temporary file has data: PID and
# TMPFILE are set.
start_import() {
	local i
	"$LABRUN_IMAGE" -c "$LR_CONF" import --compression gzip --store "$1" "docker-archive:$BIG" \
		>"$BATS_TEST_TMPDIR/bg.out" 2>"$BATS_TEST_TMPDIR/bg.err" &
	PID=$!
	TMPFILE=
	for ((i = 0; i < 3000; i++)); do
		TMPFILE=$(find "$1" -maxdepth 1 -name '.labrun-image.*' -size +0 2>/dev/null | head -1)
		[ -z "$TMPFILE" ] || break
		kill -0 "$PID" 2>/dev/null || { echo "the import ended before it wrote"; cat "$BATS_TEST_TMPDIR/bg.err"; return 1; }
		sleep 0.02
	done
	kill -STOP "$PID"
	[ -n "$TMPFILE" ] || { echo "no temporary file in $1 after 60 s"; return 1; }
}

@test "a killed import's temporary file goes at the next import and at gc; a running import's never" {
	BIG=$BATS_TEST_TMPDIR/big.tar
	big_archive "$BIG"
	s2=$BATS_TEST_TMPDIR/store2
	mkdir -p "$s2"

	# A running (stopped) import's file: gc and another import leave it.
	start_import "$STORE"
	running=$TMPFILE
	run --separate-stderr li gc
	assert_status 0
	[ -e "$running" ] || { kill -KILL "$PID"; echo "gc removed a running import's $running"; lr_show; return 1; }
	run --separate-stderr li import --store "$STORE" "oci:$OCI/oci"
	assert_status 0
	[ -e "$running" ] || { kill -KILL "$PID"; echo "an import removed a running import's $running"; return 1; }
	kill -CONT "$PID"
	wait "$PID" || { echo "the import that was stopped failed"; cat "$BATS_TEST_TMPDIR/bg.err"; return 1; }
	[ ! -e "$running" ]

	# Killed outright: the file stays, the next import removes it.
	start_import "$s2"
	kill -KILL "$PID"
	wait "$PID" || true
	[ -e "$TMPFILE" ] || { echo "SIGKILL left no temporary file to test with"; return 1; }
	run --separate-stderr li import --store "$s2" "oci:$OCI/oci"
	assert_status 0
	[ ! -e "$TMPFILE" ] || { echo "the next import left the killed import's $TMPFILE"; ls -lA "$s2"; return 1; }

	# Killed again: gc removes it and says so.
	start_import "$s2"
	kill -KILL "$PID"
	wait "$PID" || true
	[ -e "$TMPFILE" ]
	run --separate-stderr li gc "$s2"
	assert_status 0
	[[ $output == *"removed $TMPFILE"* ]] || { lr_show; return 1; }
	[ ! -e "$TMPFILE" ] || { echo "gc left the killed import's $TMPFILE"; ls -lA "$s2"; return 1; }
	[ -z "$(find "$STORE" "$s2" -name '.labrun-image.*')" ] || { ls -lA "$STORE" "$s2"; return 1; }
}

@test "a copy beside -o on another filesystem, killed half-way, goes at the next import there" {
	# The layers below go beside -o when the store is not one of
	# labrun.conf's, copied, not linked, when -o is on another filesystem:
	# /dev/shm (tmpfs) here.
	[ -d /dev/shm ] && [ -w /dev/shm ] || skip "no writable /dev/shm"
	local out s2=$BATS_TEST_TMPDIR/store2
	mkdir "$s2"
	out=$(mktemp -d /dev/shm/labrun-import.XXXXXX)
	[ "$(stat -c %d "$out")" != "$(stat -c %d "$s2")" ] ||
		{ rm -rf "$out"; skip "/dev/shm and $STORE are one filesystem: no copy to kill"; }
	BIG=$BATS_TEST_TMPDIR/big.tar
	big_archive "$BIG"
	# The layers in the store first, so that the next import writes
	# nothing there: then the copy beside -o is its only large write, and
	# a file size limit (SIGXFSZ) kills it half-way, every time.
	run --separate-stderr li import --store "$s2" "docker-archive:$BIG"
	assert_status 0
	run --separate-stderr bash -c 'ulimit -f 1024 && exec "$@"' - \
		"$LABRUN_IMAGE" -c "$LR_CONF" import --store "$s2" -o "$out/big.sqfs" "docker-archive:$BIG"
	[ "$status" -eq $((128 + 25)) ] || { rm -rf "$out"; lr_show; return 1; }
	local left
	left=$(find "$out" -mindepth 1 ! -name big.sqfs)
	[ -n "$left" ] || { rm -rf "$out"; echo "the killed copy left nothing to test with"; return 1; }
	# The next import there removes it, and leaves the image whole.
	run --separate-stderr li import --store "$s2" -o "$out/big.sqfs" "docker-archive:$BIG"
	assert_status 0
	left=$(find "$out" -mindepth 1 ! -name big.sqfs ! -name 'sha256-*.sqfs' -o -name '*.sqfs.*')
	# (verify checks each layer's digest, the copied one's among them)
	run --separate-stderr li verify "$out/big.sqfs"
	local rc=$status
	rm -rf "$out"
	[ -z "$left" ] || { echo "left behind: $left"; return 1; }
	[ "$rc" -eq 0 ] || { lr_show; return 1; }
}
