#!/bin/bash
# tests/images/oci.sh OUTDIR - build the OCI and Docker image archives that
# tests/launcher/import.bats feeds to "labrun-image import", good and bad,
# from the OCI image spec alone: no docker daemon, no skopeo, no registry.
# Tools: GNU tar, gzip, zstd, sha256sum, jq, setfattr, busybox-static, and
# tests/images/hostile_tar (built by make check; HOSTILE_TAR names it).
#
# What each fixture in OUTDIR is for:
#   oci/          an OCI image layout (oci-layout, index.json, blobs/sha256/).
#                 Tag "latest": the 3-layer fixture image, below.  Tag
#                 "other": a 1-layer variant (layer 1 alone, its own config:
#                 FIXTURE=other, cmd /bin/echo from-other, no entrypoint),
#                 so oci:DIR:other selects a manifest and oci:DIR must pick
#                 "latest" among two.  Layer media types: layer 1 tar+gzip,
#                 layer 2 plain tar, layer 3 tar+zstd: one of each.
#   oci.tar       oci/ as an oci-archive (oci-layout and index.json first,
#                 then the blobs, so a streaming reader meets the index
#                 before the layers).
#   docker.tar    the same image as "docker save" writes it: manifest.json
#                 (Config, RepoTags ["fixture:latest"], Layers "<id>/layer.tar"),
#                 <config hex>.json (byte for byte oci/'s config blob),
#                 <id>/{VERSION,json,layer.tar} with uncompressed layers
#                 (the same tars as oci/'s layers uncompressed), repositories.
#                 Since the uncompressed tars are identical, docker-archive
#                 and oci-archive imports must give identical lower layers.
#   bad-missing-blob/            the manifest names a layer blob (layer 2)
#                                that is not in blobs/sha256/.
#   bad-digest/                  layer 2's blob does not hash to its name: a
#                                valid tar of the same size, one word changed.
#   bad-mediatype/               layer 2 has media type
#                                application/vnd.example.unknown.
#   bad-truncated.tar            oci.tar cut in the middle of layer 1's blob.
#   bad-dotdot/                  layer 2 has a member "../escape".
#   bad-symlink-parent/          layer 2 has "evil -> /etc", then a member
#                                "evil/passwd", which must not go through it.
#   bad-absolute-symlink-parent/ layer 2 has "lnk -> ../../..", a link that
#                                climbs above the root, then "lnk/x".  (Named
#                                "absolute" for where the link leads.)
#   bad-not-an-archive.tar       4 KiB of (reproducible) random bytes.
#   bad-index/                   index.json that is not JSON.
#   hostile-wh-dotdot/ (.tar)    layer 2 has the whiteout ".wh..." (a whiteout
#                                of ".."), as an OCI layout and (NAME.tar) as
#                                a docker-archive.
#   hostile-wh-dot/ (.tar)       layer 2 has "dir/.wh.." (a whiteout of
#                                "dir/."), the same two ways.
#   hostile-special/ (.tar)      layer 2 has /dev/mem (character device 1:1,
#                                mode 0666), /dev/sda (block 8:0), a
#                                setuid-root and a setgid file, a file with
#                                security.capability cap_sys_admin+ep, and
#                                what stays: a whiteout, a FIFO, a setgid
#                                directory (tests/images/hostile_tar.c writes
#                                these layers, no root needed).
#   hostile-dir/  (made only as root) a directory for build --from: a
#                 character device 1:3 (a harmless /dev/null twin, mode
#                 0666), a setuid-root and a setgid data file, a data file
#                 with security.capability cap_sys_admin+ep, a file named
#                 ".wh..." (only a tar's names are whiteouts).
#   oci-digests   shell-sourceable: DIFF1..3 (sha256 hex of the uncompressed
#                 layer tars, the config's diff_ids), CONFIG_DIGEST and
#                 MANIFEST_DIGEST (and OTHER_* for "other"), BLOB1..3 (the
#                 layer blobs as stored in oci/), the blobs the bad inputs
#                 are about, and LONG_PATH.
# Every bad-* layout but bad-index has a good layer 1 (the busybox root)
# below the bad layer 2: an import that fails must not leave layer 1 behind.
#
# The 3-layer image:
#   layer 1  a busybox root: bin/busybox and its applets as symlinks, etc/
#            (passwd, group, base-only), tmp/ and var/tmp/ mode 1777, root/
#            mode 0700, opt/replaced/{a,b}, opt/keep/x, the hard link pair
#            usr/share/h1 and usr/share/h2, opt/xattr with the xattr
#            user.test=hello (a PAX SCHILY.xattr.user.test record),
#            opt/long/<a 120-character name> (a PAX path record) and the
#            symlink opt/long-link to it (a PAX linkpath record).
#   layer 2  etc/.wh.base-only (deletes etc/base-only), opt/replaced/.wh..wh..opq
#            (opt/replaced becomes opaque) and opt/replaced/c, opt/keep/y
#            (opt/keep merges: x and y), etc/layer2.
#   layer 3  etc/layer3, and etc/layer2 with new content.
#   config   Env ["PATH=/bin:/usr/bin","FIXTURE=oci"], Entrypoint
#            ["/bin/sh","-c"], Cmd ["echo from-cmd"], WorkingDir "/opt",
#            Labels {"org.example.fixture":"yes"}, rootfs.diff_ids, history.
#
# Reproducible: every tar is made with fixed owners, modes, mtimes, member
# order and PAX header names (no pid, no atime/ctime), gzip -n, one-thread
# zstd, and JSON by jq from fixed values, so two runs, by any user at any
# time, give byte-identical fixtures (the same busybox and tools assumed).
#
# Idempotent as tests/images/build.sh: a stamp holds the hash of the inputs
# (this script, busybox, the tools' versions); when it matches and every
# fixture is there, nothing is done.  Otherwise all is built in a staging
# directory inside OUTDIR (whose filesystem must take user xattrs, for
# opt/xattr) and moved in.  Concurrent runs wait on OUTDIR/.lock.
set -euo pipefail

die() { echo "oci.sh: $*" >&2; exit 1; }
trap 'echo "oci.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

[ $# -eq 1 ] || die "usage: oci.sh OUTDIR"
OUT=$1
BUSYBOX=${BUSYBOX:-/bin/busybox}
# The busybox tree of layer 1, laid out as the example busybox image.
BUSYBOX_ROOT=$(cd "$(dirname "$0")/../../images" && pwd)/busybox-root.sh
HOSTILE_TAR=${HOSTILE_TAR:-${top_builddir:-$PWD}/tests/images/hostile_tar}
export LC_ALL=C TZ=UTC

for tool in tar gzip zstd jq sha256sum setfattr flock stat; do
	command -v "$tool" >/dev/null ||
		die "$tool not found (Debian: apt-get install tar gzip zstd jq coreutils attr util-linux)"
done
tar --version 2>/dev/null | grep -q 'GNU tar' || die "tar is not GNU tar (--sort, --pax-option needed)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (Debian: apt-get install busybox-static)"
[ -x "$HOSTILE_TAR" ] ||
	die "$HOSTILE_TAR not found: make check builds it (make tests/images/hostile_tar)"
if command -v readelf >/dev/null && readelf -l "$BUSYBOX" 2>/dev/null | grep -q INTERP; then
	die "$BUSYBOX is dynamically linked: the images need busybox-static"
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$OUT/.lock"
flock 9
rm -rf "$OUT"/.build.* # left by a build that was killed

# ---------------------------------------------------------------- stamp
stamp=$( {
	cat "$0" "$BUSYBOX_ROOT"
	sha256sum "$BUSYBOX" "$HOSTILE_TAR"
	id -u
	tar --version | head -1
	gzip --version | head -1
	zstd --version
	jq --version
} | sha256sum | cut -d' ' -f1)

# fixtures: every file the tests use (relative to OUTDIR).
fixtures() {
	echo oci oci.tar docker.tar oci-digests
	echo bad-missing-blob bad-digest bad-mediatype bad-truncated.tar bad-dotdot
	echo bad-symlink-parent bad-absolute-symlink-parent bad-not-an-archive.tar bad-index
	echo hostile-wh-dotdot hostile-wh-dotdot.tar hostile-wh-dot hostile-wh-dot.tar
	echo hostile-special hostile-special.tar
	[ "$(id -u)" != 0 ] || echo hostile-dir
}

all_present() {
	local f
	for f in $(fixtures); do [ -e "$OUT/$f" ] || return 1; done
	return 0
}

if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ] && all_present; then
	exit 0
fi

# ---------------------------------------------------------------- staging
S=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$S"' EXIT
NEW=$S/out
mkdir -p "$NEW" "$S/src" "$S/layers"

touch "$S/xattr-test"
setfattr -n user.labrun.test -v 1 "$S/xattr-test" 2>/dev/null ||
	die "the filesystem of $OUT does not support user xattrs, which opt/xattr in" \
	    "layer 1 needs: choose an OUTDIR on ext4, xfs, btrfs or tmpfs"

# One fixed time for every mtime and "created" (2023-11-14T22:13:20Z).
EPOCH=1700000000
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
case $(uname -m) in
x86_64) ARCH=amd64 ;;
aarch64) ARCH=arm64 ;;
*) ARCH=$(uname -m) ;;
esac

MT_TAR=application/vnd.oci.image.layer.v1.tar
MT_GZIP=application/vnd.oci.image.layer.v1.tar+gzip
MT_ZSTD=application/vnd.oci.image.layer.v1.tar+zstd
MT_CONFIG=application/vnd.oci.image.config.v1+json
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_INDEX=application/vnd.oci.image.index.v1+json
REF_NAME=org.opencontainers.image.ref.name

hex() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# Reproducible tar options: PAX format with extended headers named without
# the pid (GNU tar's default is %d/PaxHeaders.%p/%f) and without atime and
# ctime (which GNU tar records for every file in PAX format); members
# sorted, owned by 0:0 with no user or group names, all of one mtime.
# shellcheck disable=SC2054 # the commas are tar's, inside one option
TAR_OPTS=(--format=posix
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime
	--sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner
	--no-acls --no-selinux)
# mktar OUT DIR MEMBER... [-- TAR OPTION...]: a tar of DIR's MEMBERs, in
# that order (their contents sorted).
mktar() {
	local out=$1 dir=$2 members=() opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do members+=("$1"); shift; done
	[ $# -eq 0 ] || { shift; opts=("$@"); }
	tar "${TAR_OPTS[@]}" "${opts[@]}" -C "$dir" -cf "$out" -- "${members[@]}"
}
# tar_all OUT DIR [TAR OPTION...]: a tar of everything in DIR, sorted.
tar_all() {
	local out=$1 dir=$2 members
	shift 2
	mapfile -t members < <(find "$dir" -mindepth 1 -maxdepth 1 -printf '%P\n' | sort)
	mktar "$out" "$dir" "${members[@]}" -- "$@"
}
# normalize DIR: directories 0755, files 0644, whatever the umask was.
normalize() {
	find "$1" -type d -exec chmod 0755 {} +
	find "$1" -type f -exec chmod 0644 {} +
}

# ---------------------------------------------------------------- layer 1
LONG_NAME=$(printf 'long-name-%.0s' {1..11})end-of-name # 121 characters
LONG_PATH=opt/long/$LONG_NAME
r=$S/src/layer1
BUSYBOX=$BUSYBOX "$BUSYBOX_ROOT" "$r"
mkdir -p "$r"/usr/share "$r"/opt/{replaced,keep,long}
echo "base only" >"$r/etc/base-only"
echo a >"$r/opt/replaced/a"
echo b >"$r/opt/replaced/b"
echo x >"$r/opt/keep/x"
echo "hard link" >"$r/usr/share/h1"
ln "$r/usr/share/h1" "$r/usr/share/h2"
echo "has an xattr" >"$r/opt/xattr"
echo "long name" >"$r/$LONG_PATH"
ln -s "long/$LONG_NAME" "$r/opt/long-link"
normalize "$r"
chmod 0755 "$r/bin/busybox"
chmod 1777 "$r/tmp" "$r/var/tmp"
chmod 0700 "$r/root"
setfattr -n user.test -v hello "$r/opt/xattr"
# --xattrs stores SCHILY.xattr.user.test=hello; only that one xattr, not
# whatever else (security.*) the staging filesystem adds.
tar_all "$S/layers/1.tar" "$r" --xattrs --xattrs-include=user.test

# ---------------------------------------------------------------- layer 2
r=$S/src/layer2
mkdir -p "$r"/etc "$r"/opt/{replaced,keep}
: >"$r/etc/.wh.base-only"
: >"$r/opt/replaced/.wh..wh..opq"
echo c >"$r/opt/replaced/c"
echo y >"$r/opt/keep/y"
echo "layer2 from layer 2" >"$r/etc/layer2"
normalize "$r"
tar_all "$S/layers/2.tar" "$r"
# The same with one word changed, same size: for bad-digest.
cp -a "$r" "$S/src/layer2-bad"
echo "layer2 FROM layer 2" >"$S/src/layer2-bad/etc/layer2"
tar_all "$S/layers/2-bad.tar" "$S/src/layer2-bad"
[ "$(size "$S/layers/2.tar")" = "$(size "$S/layers/2-bad.tar")" ] ||
	die "internal error: layer 2 and its bad twin differ in size"

# ---------------------------------------------------------------- layer 3
r=$S/src/layer3
mkdir -p "$r/etc"
echo "layer2 from layer 3" >"$r/etc/layer2"
echo layer3 >"$r/etc/layer3"
normalize "$r"
tar_all "$S/layers/3.tar" "$r"

DIFF1=$(hex "$S/layers/1.tar")
DIFF2=$(hex "$S/layers/2.tar")
DIFF3=$(hex "$S/layers/3.tar")

gzip -n -c "$S/layers/1.tar" >"$S/layers/1.tar.gz"
zstd -q -c --single-thread --no-progress "$S/layers/3.tar" >"$S/layers/3.tar.zst"

# ---------------------------------------------------------------- bad layers
# Members GNU tar would not make from a directory, made all the same:
# "../escape" by renaming a member with -P (which keeps the leading ../);
# a member under a symlink by appending, from a second directory where
# that name is a real directory, to the tar holding the symlink.
r=$S/src/dotdot
mkdir -p "$r"
echo escaped >"$r/escape"
normalize "$r"
mktar "$S/layers/dotdot.tar" "$r" escape -- -P --transform='s,^escape$,../escape,'
tar -tf "$S/layers/dotdot.tar" 2>/dev/null | grep -qx '\.\./escape' ||
	die "internal error: dotdot.tar has no member ../escape"

# bad_link_layer OUT LINK TARGET CHILD: LINK -> TARGET, then LINK/CHILD.
bad_link_layer() {
	local out=$1 link=$2 target=$3 child=$4 a b
	a=$S/src/$link-link
	b=$S/src/$link-dir
	mkdir -p "$a" "$b/$link"
	ln -s "$target" "$a/$link"
	echo "through the link" >"$b/$link/$child"
	normalize "$b"
	mktar "$out" "$a" "$link"
	tar "${TAR_OPTS[@]}" -C "$b" -rf "$out" -- "$link/$child"
	[ "$(tar -tf "$out")" = "$(printf '%s\n' "$link" "$link/$child")" ] ||
		die "internal error: $out has not the members $link, $link/$child"
}
bad_link_layer "$S/layers/symlink-parent.tar" evil /etc passwd
bad_link_layer "$S/layers/abs-symlink-parent.tar" lnk ../../.. x

# ---------------------------------------------------------------- JSON
# desc MEDIATYPE FILE: an OCI descriptor of FILE.
desc() {
	jq -n -c --arg mt "$1" --arg d "sha256:$(hex "$2")" --argjson s "$(size "$2")" \
		'{mediaType: $mt, digest: $d, size: $s}'
}
# image_config OUT CONFIG DIFFID...: an image config with CONFIG (a JSON
# object) as "config", rootfs.diff_ids and one history entry per layer.
image_config() {
	local out=$1 cfg=$2
	shift 2
	jq -n -c --arg created "$CREATED" --arg arch "$ARCH" --argjson cfg "$cfg" '
		{created: $created, architecture: $arch, os: "linux", config: $cfg,
		 rootfs: {type: "layers", diff_ids: [$ARGS.positional[] | "sha256:" + .]},
		 history: [$ARGS.positional | keys[] |
			   {created: $created, created_by: "tests/images/oci.sh: layer \(. + 1)"}]}' \
		--args "$@" >"$out"
}
# manifest OUT CONFIGFILE MEDIATYPE=FILE...: an image manifest.
manifest() {
	local out=$1 config=$2 l layers=()
	shift 2
	for l; do layers+=("$(desc "${l%%=*}" "${l#*=}")"); done
	jq -n -c --argjson config "$(desc "$MT_CONFIG" "$config")" --arg mt "$MT_MANIFEST" \
		'{schemaVersion: 2, mediaType: $mt, config: $config, layers: [$ARGS.positional[] | fromjson]}' \
		--args "${layers[@]}" >"$out"
}
# layout DIR TAG=MANIFEST... -- BLOB...: an OCI image layout: oci-layout,
# index.json naming each MANIFEST with its TAG, and BLOB... (manifests,
# configs, layers) in blobs/sha256/ under their digests.
layout() {
	local dir=$1 entries=() f
	shift
	while [ "$1" != -- ]; do
		entries+=("$(desc "$MT_MANIFEST" "${1#*=}" |
			jq -c --arg k "$REF_NAME" --arg tag "${1%%=*}" '. + {annotations: {($k): $tag}}')")
		shift
	done
	shift
	mkdir -p "$dir/blobs/sha256"
	printf '{"imageLayoutVersion":"1.0.0"}\n' >"$dir/oci-layout"
	jq -n -c --arg mt "$MT_INDEX" \
		'{schemaVersion: 2, mediaType: $mt, manifests: [$ARGS.positional[] | fromjson]}' \
		--args "${entries[@]}" >"$dir/index.json"
	for f; do cp "$f" "$dir/blobs/sha256/$(hex "$f")"; done
	normalize "$dir"
}

J=$S/json
mkdir -p "$J"
image_config "$J/config.json" '{
	"Env": ["PATH=/bin:/usr/bin", "FIXTURE=oci"],
	"Entrypoint": ["/bin/sh", "-c"],
	"Cmd": ["echo from-cmd"],
	"WorkingDir": "/opt",
	"Labels": {"org.example.fixture": "yes"}}' "$DIFF1" "$DIFF2" "$DIFF3"
image_config "$J/other-config.json" '{
	"Env": ["PATH=/bin:/usr/bin", "FIXTURE=other"],
	"Cmd": ["/bin/echo", "from-other"],
	"Labels": {"org.example.fixture": "other"}}' "$DIFF1"
L1=$S/layers/1.tar.gz
L2=$S/layers/2.tar
L3=$S/layers/3.tar.zst
manifest "$J/manifest.json" "$J/config.json" "$MT_GZIP=$L1" "$MT_TAR=$L2" "$MT_ZSTD=$L3"
manifest "$J/other-manifest.json" "$J/other-config.json" "$MT_GZIP=$L1"

# ---------------------------------------------------------------- oci/, oci.tar
layout "$NEW/oci" latest="$J/manifest.json" other="$J/other-manifest.json" -- \
	"$J/manifest.json" "$J/config.json" "$L1" "$L2" "$L3" \
	"$J/other-manifest.json" "$J/other-config.json"
mktar "$NEW/oci.tar" "$NEW/oci" oci-layout index.json blobs

# ---------------------------------------------------------------- docker.tar
# docker_archive OUT CONFIG REPO:TAG LAYER-TAR...: OUT as "docker save"
# writes it.  Directory names are v1 layer ids: docker hashes a v1 JSON
# that names the parent id; here the id is the hash of the parent id and
# the diff id, as unique and as chained.
docker_archive() {
	local out=$1 config=$2 tag=$3 d parent='' id diff l config_hex layer_paths=()
	shift 3
	d=$(mktemp -d "$S/src/docker.XXXXXX")
	for l; do
		diff=$(hex "$l")
		id=$(printf '%s %s' "$parent" "$diff" | sha256sum | cut -d' ' -f1)
		mkdir "$d/$id"
		printf '1.0' >"$d/$id/VERSION"
		jq -n -c --arg id "$id" --arg parent "$parent" --arg created "$CREATED" \
			'{id: $id} + (if $parent == "" then {} else {parent: $parent} end) +
			 {created: $created, os: "linux"}' >"$d/$id/json"
		cp "$l" "$d/$id/layer.tar"
		layer_paths+=("$id/layer.tar")
		parent=$id
	done
	config_hex=$(hex "$config")
	cp "$config" "$d/$config_hex.json"
	jq -n -c --arg config "$config_hex.json" --arg tag "$tag" \
		'[{Config: $config, RepoTags: [$tag], Layers: $ARGS.positional}]' \
		--args "${layer_paths[@]}" >"$d/manifest.json"
	jq -n -c --arg id "$parent" --arg repo "${tag%%:*}" --arg t "${tag#*:}" \
		'{($repo): {($t): $id}}' >"$d/repositories"
	normalize "$d"
	tar_all "$out" "$d"
}
CONFIG_DIGEST=$(hex "$J/config.json")
docker_archive "$NEW/docker.tar" "$J/config.json" fixture:latest \
	"$S/layers/1.tar" "$S/layers/2.tar" "$S/layers/3.tar"

# ---------------------------------------------------------------- bad inputs
# bad_image NAME LAYER2-MEDIATYPE LAYER2-FILE DIFFID2: a layout whose image
# is layer 1 and a second layer, the bad one (the blob is stored).
bad_image() {
	local name=$1 mt=$2 file=$3 diff=$4
	image_config "$J/$name-config.json" '{"Env": ["PATH=/bin:/usr/bin"], "Cmd": ["/bin/true"]}' \
		"$DIFF1" "$diff"
	manifest "$J/$name-manifest.json" "$J/$name-config.json" "$MT_GZIP=$L1" "$mt=$file"
	layout "$NEW/$name" latest="$J/$name-manifest.json" -- \
		"$J/$name-manifest.json" "$J/$name-config.json" "$L1" "$file"
}
bad_image bad-missing-blob "$MT_TAR" "$L2" "$DIFF2"
MISSING_BLOB=$DIFF2
rm "$NEW/bad-missing-blob/blobs/sha256/$MISSING_BLOB"

bad_image bad-digest "$MT_TAR" "$L2" "$DIFF2"
BAD_DIGEST_BLOB=$DIFF2
cp "$S/layers/2-bad.tar" "$NEW/bad-digest/blobs/sha256/$BAD_DIGEST_BLOB"

bad_image bad-mediatype application/vnd.example.unknown "$L2" "$DIFF2"
BAD_MEDIATYPE_BLOB=$DIFF2

for b in dotdot:dotdot symlink-parent:symlink-parent absolute-symlink-parent:abs-symlink-parent; do
	f=$S/layers/${b#*:}.tar
	bad_image "bad-${b%%:*}" "$MT_TAR" "$f" "$(hex "$f")"
done

# ---------------------------------------------------------------- hostile layers
# hostile_image NAME LAYER2-TAR: layer 1 and the hostile layer 2, as an OCI
# layout NAME/ and as a docker-archive NAME.tar.
hostile_image() {
	local name=$1 file=$2
	image_config "$J/$name-config.json" '{"Env": ["PATH=/bin:/usr/bin"], "Cmd": ["/bin/true"]}' \
		"$DIFF1" "$(hex "$file")"
	manifest "$J/$name-manifest.json" "$J/$name-config.json" "$MT_GZIP=$L1" "$MT_TAR=$file"
	layout "$NEW/$name" latest="$J/$name-manifest.json" -- \
		"$J/$name-manifest.json" "$J/$name-config.json" "$L1" "$file"
	docker_archive "$NEW/$name.tar" "$J/$name-config.json" hostile:latest \
		"$S/layers/1.tar" "$file"
}
for k in wh-dotdot wh-dot special; do
	"$HOSTILE_TAR" "$k" "$S/layers/$k.tar"
	hostile_image "hostile-$k" "$S/layers/$k.tar"
done

# A directory for build --from: only root makes device nodes, set-id root
# files and file capabilities on the host.  The device is a twin of
# /dev/null, the files are data: nothing here grants anything on the host.
if [ "$(id -u)" = 0 ]; then
	h=$NEW/hostile-dir
	mkdir -p "$h/dev" "$h/bin"
	mknod -m 0666 "$h/dev/null-twin" c 1 3
	printf 'not a program\n' >"$h/bin/suid-data"
	printf 'not a program\n' >"$h/bin/sgid-data"
	printf 'not a program\n' >"$h/bin/cap-data"
	printf 'a plain file\n' >"$h/.wh..."
	chmod 04755 "$h/bin/suid-data"
	chmod 02755 "$h/bin/sgid-data"
	# cap_sys_admin+ep (VFS_CAP_REVISION_2), as setcap writes it.
	setfattr -n security.capability -v 0x0100000200002000000000000000000000000000 "$h/bin/cap-data"
fi

mkdir -p "$NEW/bad-index/blobs/sha256"
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$NEW/bad-index/oci-layout"
printf '{"schemaVersion": 2, "manifests": [ this is not JSON\n' >"$NEW/bad-index/index.json"

# bad-truncated.tar: oci.tar up to the middle of layer 1's data.  tar -R
# gives each member's header block; with names under 100 characters there
# is no PAX header, so the data starts one block later.
BLOB1=$(hex "$L1")
block=$(tar -tvR -f "$NEW/oci.tar" | awk -v m="blobs/sha256/$BLOB1" '$NF == m { sub(":", "", $2); print $2 }')
[ -n "$block" ] || die "internal error: layer 1's blob not found in oci.tar"
cut=$(((block + 1) * 512 + $(size "$L1") / 2))
head -c "$cut" "$NEW/oci.tar" >"$NEW/bad-truncated.tar"
# Its last bytes are layer 1's bytes at that point: the cut is in the blob.
off=$((cut - (block + 1) * 512))
if [ "$off" -ge "$(size "$L1")" ] ||
	! cmp -s <(tail -c 64 "$NEW/bad-truncated.tar") <(head -c "$off" "$L1" | tail -c 64); then
	die "internal error: bad-truncated.tar does not end inside layer 1's blob"
fi

# bad-not-an-archive.tar: sha256 of a counter, 128 times, as bytes.
esc=$(for i in $(seq 0 127); do
	printf 'oci.sh not an archive %d' "$i" | sha256sum | cut -c1-64
done | tr -d '\n' | sed 's/../\\x&/g')
printf '%b' "$esc" >"$NEW/bad-not-an-archive.tar"
[ "$(size "$NEW/bad-not-an-archive.tar")" = 4096 ] ||
	die "internal error: bad-not-an-archive.tar is not 4096 bytes"
magic=$(head -c 4 "$NEW/bad-not-an-archive.tar" | od -An -tx1 | tr -d ' \n')
case $magic in
1f8b* | 28b52ffd | fd377a58 | 425a68* | 04224d18) die "bad-not-an-archive.tar starts with a compression magic ($magic)" ;;
esac
if tar -tf "$NEW/bad-not-an-archive.tar" >/dev/null 2>&1; then
	die "bad-not-an-archive.tar reads as a tar"
fi

# ---------------------------------------------------------------- oci-digests
cat >"$NEW/oci-digests" <<EOF
# tests/images/oci.sh: sha256 hex digests of the fixtures (no "sha256:").
# Uncompressed layer tars: the config's rootfs.diff_ids, docker.tar's layers.
DIFF1=$DIFF1
DIFF2=$DIFF2
DIFF3=$DIFF3
# Layer blobs as stored in oci/: gzip, plain tar, zstd.
BLOB1=$BLOB1
BLOB2=$(hex "$L2")
BLOB3=$(hex "$L3")
CONFIG_DIGEST=$CONFIG_DIGEST
MANIFEST_DIGEST=$(hex "$J/manifest.json")
OTHER_CONFIG_DIGEST=$(hex "$J/other-config.json")
OTHER_MANIFEST_DIGEST=$(hex "$J/other-manifest.json")
# The blob each bad input is about.
MISSING_BLOB=$MISSING_BLOB
BAD_DIGEST_BLOB=$BAD_DIGEST_BLOB
BAD_MEDIATYPE_BLOB=$BAD_MEDIATYPE_BLOB
# The member with a name over 100 characters (a PAX path record).
LONG_PATH=$LONG_PATH
EOF

# ---------------------------------------------------------------- self-check
# What the tests rely on, checked with other tools than made it.

# check_image DIR TAG LAYERS: TAG's manifest in DIR has LAYERS layers,
# every blob it names hashes to its name, and the layers uncompressed hash
# to the config's diff_ids.
check_image() {
	local dir=$1 tag=$2 n=$3 m c i mt d diff
	m=$(jq -r --arg k "$REF_NAME" --arg t "$tag" \
		'.manifests[] | select(.annotations[$k] == $t) | .digest' "$dir/index.json")
	m=$dir/blobs/sha256/${m#sha256:}
	c=$dir/blobs/sha256/$(jq -r '.config.digest' "$m" | cut -d: -f2)
	for f in "$m" "$c"; do
		[ "$(hex "$f")" = "$(basename "$f")" ] || die "self-check: $f: wrong digest"
	done
	[ "$(jq '.layers | length' "$m")" = "$n" ] || die "self-check: $dir:$tag: not $n layers"
	for ((i = 0; i < n; i++)); do
		mt=$(jq -r ".layers[$i].mediaType" "$m")
		d=$dir/blobs/sha256/$(jq -r ".layers[$i].digest" "$m" | cut -d: -f2)
		[ "$(hex "$d")" = "$(basename "$d")" ] || die "self-check: $d: wrong digest"
		case $mt in
		"$MT_GZIP") diff=$(gzip -dc "$d" | sha256sum | cut -d' ' -f1) ;;
		"$MT_ZSTD") diff=$(zstd -dc "$d" | sha256sum | cut -d' ' -f1) ;;
		*) diff=$(hex "$d") ;;
		esac
		[ "sha256:$diff" = "$(jq -r ".rootfs.diff_ids[$i]" "$c")" ] ||
			die "self-check: $dir:$tag: layer $((i + 1)) does not match its diff_id"
	done
}
check_image "$NEW/oci" latest 3
check_image "$NEW/oci" other 1

x=$S/check
mkdir -p "$x/oci" "$x/docker"
tar -xf "$NEW/oci.tar" -C "$x/oci"
diff -r "$NEW/oci" "$x/oci" >/dev/null || die "self-check: oci.tar does not hold oci/"
tar -xf "$NEW/docker.tar" -C "$x/docker"
[ "$(jq -r '.[0].RepoTags[0]' "$x/docker/manifest.json")" = fixture:latest ] ||
	die "self-check: docker.tar: RepoTags"
i=0
for l in $(jq -r '.[0].Layers[]' "$x/docker/manifest.json"); do
	i=$((i + 1))
	eval "diff=\$DIFF$i"
	[ "$(hex "$x/docker/$l")" = "$diff" ] || die "self-check: docker.tar: $l is not layer $i"
done
[ "$i" = 3 ] || die "self-check: docker.tar has $i layers, not 3"
cmp -s "$x/docker/$(jq -r '.[0].Config' "$x/docker/manifest.json")" "$J/config.json" ||
	die "self-check: docker.tar's config differs from oci/'s"

# Layer 1 holds what the tests look for, as tar records it.
listing=$(tar --xattrs -tvvf "$S/layers/1.tar")
grep -q 'usr/share/h2 link to usr/share/h1$' <<<"$listing" || die "self-check: no hard link h2 -> h1"
grep -q '^drwxrwxrwt .* tmp/$' <<<"$listing" || die "self-check: tmp/ is not mode 1777"
grep -qF " $LONG_PATH" <<<"$listing" || die "self-check: no $LONG_PATH"
grep -qF " opt/long-link -> long/$LONG_NAME" <<<"$listing" || die "self-check: no opt/long-link"
grep -qx '  x: 5 user.test' <<<"$listing" || die "self-check: no xattr user.test"
[ "$(grep -ac 'SCHILY.xattr.user.test=hello' "$S/layers/1.tar")" = 1 ] ||
	die "self-check: layer 1 has not exactly one SCHILY.xattr.user.test=hello record"
if grep -aq 'PaxHeaders\.[0-9]' "$S/layers/1.tar"; then die "self-check: a pid in a PAX header name"; fi
[ "$(tar -tf "$S/layers/2.tar" | tr '\n' ' ')" = \
	"etc/ etc/.wh.base-only etc/layer2 opt/ opt/keep/ opt/keep/y opt/replaced/ opt/replaced/.wh..wh..opq opt/replaced/c " ] ||
	die "self-check: layer 2's members"

# The bad ones are bad in the intended way only.
[ ! -e "$NEW/bad-missing-blob/blobs/sha256/$MISSING_BLOB" ] || die "self-check: bad-missing-blob"
[ "$(hex "$NEW/bad-digest/blobs/sha256/$BAD_DIGEST_BLOB")" != "$BAD_DIGEST_BLOB" ] ||
	die "self-check: bad-digest's blob matches its name"
if jq . "$NEW/bad-index/index.json" >/dev/null 2>&1; then die "self-check: bad-index is JSON"; fi
for b in bad-mediatype bad-dotdot bad-symlink-parent bad-absolute-symlink-parent \
	hostile-wh-dotdot hostile-wh-dot hostile-special; do
	for f in "$NEW/$b"/blobs/sha256/*; do
		[ "$(hex "$f")" = "$(basename "$f")" ] || die "self-check: $b: $f: wrong digest"
	done
done
# The hostile layers hold what their names say, as GNU tar reads them.
tar -tf "$S/layers/wh-dotdot.tar" | grep -qx '\.wh\.\.\.' || die "self-check: no .wh... member"
tar -tf "$S/layers/wh-dot.tar" | grep -qx 'dir/\.wh\.\.' || die "self-check: no dir/.wh.. member"
listing=$(tar --xattrs --xattrs-include='*' -tvvf "$S/layers/special.tar" 2>/dev/null)
grep -qE '^crw-rw-rw- +0/0 +1,1 .* dev/mem$' <<<"$listing" || die "self-check: no /dev/mem 1:1 0666"
grep -qE '^-rwsr-xr-x +0/0 .* bin/suid-sh$' <<<"$listing" || die "self-check: no setuid root bin/suid-sh"
grep -qx '  x: 20 security.capability' <<<"$listing" || die "self-check: no security.capability"
for n in hostile-wh-dotdot hostile-wh-dot hostile-special; do
	check_image "$NEW/$n" latest 2
	[ "$(tar -xOf "$NEW/$n.tar" manifest.json | jq -r '.[0].Layers | length')" = 2 ] ||
		die "self-check: $n.tar has not 2 layers"
done
jq -e '.layers[1].mediaType == "application/vnd.example.unknown"' \
	"$NEW/bad-mediatype/blobs/sha256/$(jq -r '.manifests[0].digest' "$NEW/bad-mediatype/index.json" |
		cut -d: -f2)" >/dev/null || die "self-check: bad-mediatype"

# ---------------------------------------------------------------- install
# Replace the old set, entry by entry; nothing else in OUTDIR is touched.
chmod -R a+rX "$NEW"
for f in "$NEW"/*; do
	rm -rf "${OUT:?}/$(basename "$f")"
	mv "$f" "$OUT"/
done
echo "$stamp" >"$OUT/.stamp"
all_present || die "internal error: a fixture is missing after the build"
