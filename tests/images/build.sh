#!/bin/bash
# tests/images/build.sh OUTDIR - build every squashfs image the launcher
# tests (tests/launcher/*.bats) run, and the static escape probes in them.
#
# Runs as any user, root or not: no mknod, no mount, no chown.  Device
# nodes (overlayfs whiteouts, a setuid bit owned by root) come from
# mksquashfs pseudo definitions; the opaque directory from a
# user.overlay.opaque xattr set with setfattr on a staging directory inside
# OUTDIR (whose filesystem must therefore take user xattrs).
#
# Idempotent: a stamp holds the hash of everything the images are made
# from (this script, the probe sources, busybox, mksquashfs, the C
# compiler); when it matches and every image is there, nothing is done.
# Otherwise everything is rebuilt in a staging directory and moved in.
# Two copies may run at once: the second waits on OUTDIR/.lock.
#
# Images are reproducible (-mkfs-time 0 -all-time 0 -all-root), so layer
# digests, and the parent links made of them, are the same on every build.
#
# What each image is for: the comment above each; the tests that use them:
# tests/launcher/*.bats.  manifest() below lists every file made.
set -euo pipefail

die() { echo "build.sh: $*" >&2; exit 1; }
trap 'echo "build.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

[ $# -eq 1 ] || die "usage: build.sh OUTDIR"
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
PROBES_SRC=$HERE/../probes
# The busybox tree, laid out as the example busybox image (images/).
BUSYBOX_ROOT=$HERE/../../images/busybox-root.sh
BUSYBOX=${BUSYBOX:-/bin/busybox}
CC=${CC:-cc}

for tool in mksquashfs unsquashfs setfattr sha256sum flock od dd; do
	command -v "$tool" >/dev/null ||
		die "$tool not found (Debian: apt-get install squashfs-tools attr coreutils util-linux)"
done
command -v "$CC" >/dev/null || die "C compiler '$CC' not found (set CC)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (Debian: apt-get install busybox-static)"
if command -v readelf >/dev/null && readelf -l "$BUSYBOX" 2>/dev/null | grep -q INTERP; then
	die "$BUSYBOX is dynamically linked: the images need busybox-static"
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$OUT/.lock"
flock 9
rm -rf "$OUT"/.build.*	# left by a build that was killed

# ---------------------------------------------------------------- stamp
# Everything an image depends on.  "$CC --version" and the libc (for the
# static probes) stand in for the compiler.
stamp=$( {
	cat "$0" "$BUSYBOX_ROOT"
	cat "$PROBES_SRC"/*.c "$PROBES_SRC"/*.h 2>/dev/null
	cat "$HERE/hostile.c" "$HERE/hostile.h"
	sha256sum "$BUSYBOX"
	mksquashfs -version 2>&1 | head -1
	"$CC" --version 2>&1 | head -1
	echo "CC=$CC"
} | sha256sum | cut -d' ' -f1)

# manifest: every file the tests use (relative to OUTDIR).
manifest() {
	echo busybox.sqfs busybox-lz4.sqfs busybox-none.sqfs
	echo base.sqfs mid.sqfs top.sqfs beside/top.sqfs
	echo corrupt.sqfs corrupt-data.sqfs notsquash.sqfs truncated.sqfs empty.sqfs
	echo orphan.sqfs loop.sqfs deep.sqfs deep128.sqfs badjson.sqfs badparent.sqfs
	echo probes.sqfs entry.sqfs hostile.sqfs digests
	echo bad/ok.sqfs bad/cycle.sqfs bad/ids0.sqfs bad/root0700.sqfs
}

all_present() {
	local f
	for f in $(manifest); do [ -e "$OUT/$f" ] || return 1; done
	return 0
}

if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ] && all_present; then
	exit 0
fi

# ---------------------------------------------------------------- staging
S=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$S"' EXIT
NEW=$S/out
mkdir -p "$NEW" "$S/src" "$S/bin"

touch "$S/xattr-test"
setfattr -n user.labrun.test -v 1 "$S/xattr-test" 2>/dev/null ||
	die "the filesystem of $OUT does not support user xattrs, which the opaque" \
	    "directory in top.sqfs needs: choose an OUTDIR on ext4, xfs, btrfs or tmpfs"

# mksq SRCDIR IMAGE [mksquashfs options...]: one reproducible image.
mksq() {
	local src=$1 dst=$2
	shift 2
	mksquashfs "$src" "$dst" -noappend -quiet -no-progress -all-root \
		-mkfs-time 0 -all-time 0 "$@" >/dev/null
}
digest() { sha256sum "$1" | cut -d' ' -f1; }
# link_or_copy FILE DEST: stores hold hard links where the filesystem allows.
link_or_copy() { ln -f "$1" "$2" 2>/dev/null || cp -f "$1" "$2"; }

# ---------------------------------------------------------------- probes
# Static, so they run in any image; -Werror so a sloppy probe cannot pass
# by accident.
probe_names=()
cc_pids=()
for c in "$PROBES_SRC"/*.c; do
	name=$(basename "$c" .c)
	probe_names+=("$name")
	"$CC" -static -O2 -Wall -Werror -o "$S/bin/$name" "$c" &
	cc_pids+=($!)
done
cc_failed=0
for pid in "${cc_pids[@]}"; do
	wait "$pid" || cc_failed=1
done
[ "$cc_failed" = 0 ] || die "a probe failed to compile (see above)"

# ---------------------------------------------------------------- busybox root
# A minimal root: images/busybox-root.sh's (busybox and its applets, users,
# the usual mount points), plus what the tests look for.
busybox_root() {
	local r=$1
	BUSYBOX=$BUSYBOX "$BUSYBOX_ROOT" "$r"
	mkdir -p "$r"/{work,data}
	# A prompt tests can recognise (tty.bats).
	cat >"$r/etc/profile" <<-'EOF'
	PS1='lr:\w\$ '
	export PS1
	EOF
	echo busybox >"$r/etc/image-name"
}

# layer_json DIR JSON: the layer's /.labrun/layer.json.
layer_json() {
	mkdir -p "$1/.labrun"
	printf '%s\n' "$2" >"$1/.labrun/layer.json"
}

busybox_root "$S/src/busybox"
mksq "$S/src/busybox" "$NEW/busybox.sqfs"
mksq "$S/src/busybox" "$NEW/busybox-lz4.sqfs" -comp lz4
mksq "$S/src/busybox" "$NEW/busybox-none.sqfs" -noI -noD -noF -noX -no-fragments
BUSYBOX_DIGEST=$(digest "$NEW/busybox.sqfs")

# ---------------------------------------------------------------- three layers
# base: a whole root; mid: config and one file; top: config, one file, a
# whiteout (/deleteme), an opaque directory (/replaced) and a merged one
# (/keepdir).
b=$S/src/base
busybox_root "$b"
mkdir -p "$b/layers" "$b/replaced" "$b/keepdir"
echo base >"$b/layers/base"
echo "delete me" >"$b/deleteme"
echo old1 >"$b/replaced/old1"
echo old2 >"$b/replaced/old2"
echo basefile >"$b/keepdir/basefile"
mksq "$b" "$NEW/base.sqfs"
BASE_DIGEST=$(digest "$NEW/base.sqfs")

m=$S/src/mid
mkdir -p "$m/layers"
echo mid >"$m/layers/mid"
layer_json "$m" '{"parent":"sha256:'"$BASE_DIGEST"'","config":{"env":["MIDVAR=mid","SHARED=mid"],"workdir":"/layers"}}'
mksq "$m" "$NEW/mid.sqfs"
MID_DIGEST=$(digest "$NEW/mid.sqfs")

t=$S/src/top
mkdir -p "$t/layers" "$t/replaced" "$t/keepdir"
echo top >"$t/layers/top"
echo new1 >"$t/replaced/new1"
setfattr -n user.overlay.opaque -v y "$t/replaced"
echo topfile >"$t/keepdir/topfile"
layer_json "$t" '{"parent":"sha256:'"$MID_DIGEST"'","config":{"env":["SHARED=top"],"cmd":["/bin/cat","/layers/top"]}}'
mksq "$t" "$NEW/top.sqfs" -p '/deleteme c 0 0 0 0 0'
TOP_DIGEST=$(digest "$NEW/top.sqfs")

# The store (found through labrun.conf's layer-store) and "beside the image".
mkdir -p "$NEW/store" "$NEW/beside"
link_or_copy "$NEW/base.sqfs" "$NEW/store/sha256-$BASE_DIGEST.sqfs"
link_or_copy "$NEW/mid.sqfs" "$NEW/store/sha256-$MID_DIGEST.sqfs"
link_or_copy "$NEW/busybox.sqfs" "$NEW/store/sha256-$BUSYBOX_DIGEST.sqfs"
link_or_copy "$NEW/top.sqfs" "$NEW/beside/top.sqfs"
link_or_copy "$NEW/base.sqfs" "$NEW/beside/sha256-$BASE_DIGEST.sqfs"
link_or_copy "$NEW/mid.sqfs" "$NEW/beside/sha256-$MID_DIGEST.sqfs"

# ---------------------------------------------------------------- bad images
# u64 at byte offset $2 of file $1 (little-endian, as squashfs is).
u64_at() { od -An -t u8 -j "$2" -N 8 --endian=little "$1" | tr -d ' '; }
# overwrite FILE OFFSET LENGTH: 0xA5 bytes.  As a metadata block header
# 0xA5A5 claims 9637 compressed bytes, more than a metadata block (8 KiB)
# can hold; as gzip data it is not a valid stream.  Either way reading fails.
overwrite() {
	head -c "$3" /dev/zero | tr '\0' '\245' |
		dd of="$1" bs=4096 seek="$2" oflag=seek_bytes conv=notrunc status=none
}

# corrupt: the superblock is intact, the inode and directory tables are
# not: labrun's superblock check passes, reading the root directory fails.
cp "$NEW/busybox.sqfs" "$NEW/corrupt.sqfs"
inode_start=$(u64_at "$NEW/corrupt.sqfs" 64)
dir_start=$(u64_at "$NEW/corrupt.sqfs" 72)
overwrite "$NEW/corrupt.sqfs" "$inode_start" $((dir_start - inode_start + 64))
if unsquashfs -l "$NEW/corrupt.sqfs" >/dev/null 2>&1; then
	die "corrupt.sqfs: unsquashfs still lists it; the corruption missed the tables"
fi

# corrupt-data: metadata intact, the first data block of /blob is not:
# the container starts, reading /blob fails with EIO.  /blob is the layer's
# only file big enough for data blocks (layer.json goes in a fragment), so
# its first block starts right after the 96-byte superblock.  It is
# compressible, so the block is compressed and garbage in it is detected.
c=$S/src/corrupt-data
mkdir -p "$c"
(yes "corrupt data block" || true) | head -c 1048576 >"$c/blob"
echo fine >"$c/fine"
layer_json "$c" '{"parent":"sha256:'"$BUSYBOX_DIGEST"'"}'
mksq "$c" "$NEW/corrupt-data.sqfs"
overwrite "$NEW/corrupt-data.sqfs" 112 64
if unsquashfs -cat "$NEW/corrupt-data.sqfs" /blob >/dev/null 2>&1; then
	die "corrupt-data.sqfs: /blob still reads; the corruption missed its data"
fi
unsquashfs -cat "$NEW/corrupt-data.sqfs" /.labrun/layer.json >/dev/null 2>&1 ||
	die "corrupt-data.sqfs: the corruption hit layer.json too"

echo "this is not a squashfs image" >"$NEW/notsquash.sqfs"
size=$(stat -c %s "$NEW/busybox.sqfs")
head -c $((size / 2)) "$NEW/busybox.sqfs" >"$NEW/truncated.sqfs"
: >"$NEW/empty.sqfs"

# orphan: a parent that exists nowhere.
o=$S/src/orphan
mkdir -p "$o"
echo orphan >"$o/orphan"
layer_json "$o" '{"parent":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}'
mksq "$o" "$NEW/orphan.sqfs"

# badjson / badparent.
j=$S/src/badjson
mkdir -p "$j"
layer_json "$j" '{"parent": "sha256:'"$BUSYBOX_DIGEST"'", "config": {'
mksq "$j" "$NEW/badjson.sqfs"
p=$S/src/badparent
mkdir -p "$p"
layer_json "$p" '{"parent":"sha256:XYZ"}'
mksq "$p" "$NEW/badparent.sqfs"

# loop: a real digest loop cannot exist, so the two layers carry made-up
# digests as file names in loopstore and name each other as parents.
A=$(printf 'a%.0s' {1..64})
B=$(printf 'b%.0s' {1..64})
mkdir -p "$NEW/loopstore"
for pair in "loopA:$B:$A" "loopB:$A:$B" "loop:$A:"; do
	IFS=: read -r name parent self <<<"$pair"
	l=$S/src/$name
	mkdir -p "$l"
	echo "$name" >"$l/$name"
	layer_json "$l" '{"parent":"sha256:'"$parent"'"}'
	if [ -n "$self" ]; then
		mksq "$l" "$NEW/loopstore/sha256-$self.sqfs"
	else
		mksq "$l" "$NEW/loop.sqfs"
	fi
done

# deep: busybox.sqfs then tiny layers 1..128 on it, each the parent of the
# next.  deep128.sqfs (layer 127) has 128 layers: the limit, must run;
# deep.sqfs (layer 128) has 129: must be refused.  Each digest depends on
# the one below, so this cannot be parallel; tiny uncompressed layers keep
# it fast.
mkdir -p "$NEW/deepstore"
link_or_copy "$NEW/busybox.sqfs" "$NEW/deepstore/sha256-$BUSYBOX_DIGEST.sqfs"
parent=$BUSYBOX_DIGEST
for i in $(seq 1 128); do
	d=$S/src/deep/$i
	mkdir -p "$d/deep"
	echo "$i" >"$d/deep/$i"
	layer_json "$d" '{"parent":"sha256:'"$parent"'"}'
	mksq "$d" "$S/deep-$i.sqfs" -noI -noD -noF -noX -processors 1
	parent=$(digest "$S/deep-$i.sqfs")
	mv "$S/deep-$i.sqfs" "$NEW/deepstore/sha256-$parent.sqfs"
	[ "$i" = 127 ] && link_or_copy "$NEW/deepstore/sha256-$parent.sqfs" "$NEW/deep128.sqfs"
	[ "$i" = 128 ] && link_or_copy "$NEW/deepstore/sha256-$parent.sqfs" "$NEW/deep.sqfs"
done
rm -rf "$S/src/deep"

# ---------------------------------------------------------------- probes.sqfs
# busybox, the probes, and files a hostile image could carry: a setuid-root
# busybox and probe, and a character device node (1:3, /dev/null's numbers)
# that nodev must make unusable.  (Busybox drops a setuid bit by itself for
# most applets, so /probes/suid-id is what tests nosuid.)
pr=$S/src/probes
busybox_root "$pr"
mkdir -p "$pr/probes" "$pr/ro"
for name in "${probe_names[@]}"; do
	cp "$S/bin/$name" "$pr/probes/$name"
done
cp "$BUSYBOX" "$pr/probes/suid-busybox"
mksq "$pr" "$NEW/probes.sqfs" \
	-p '/probes/suid-busybox m 4755 0 0' \
	-p '/probes/suid-id m 4755 0 0' \
	-p '/probes/null c 666 0 0 1 3'

# ---------------------------------------------------------------- entry.sqfs
# entrypoint ["/bin/echo","entry:"] and cmd ["default"]: "labrun entry.sqfs"
# prints "entry: default", "labrun entry.sqfs x" prints "entry: x".  An
# image with neither (for the interactive "/bin/sh -l" default) needs no
# image of its own: busybox.sqfs has no layer.json at all.
e=$S/src/entry
busybox_root "$e"
layer_json "$e" '{"config":{"entrypoint":["/bin/echo","entry:"],"cmd":["default"]}}'
mksq "$e" "$NEW/entry.sqfs"

# ---------------------------------------------------------------- hostile.sqfs
# An image whose paths labrun mounts on are symlinks pointing out of the
# root or at sensitive files (runc CVE-2019-19921, CVE-2021-30465,
# CVE-2024-45310, CVE-2025-31133: paths the image controls are hostile).
# Mount targets must resolve inside the container, never through these.
h=$S/src/hostile
busybox_root "$h"
rm -rf "${h:?}/proc" "${h:?}/dev" "${h:?}/sys" "${h:?}/tmp" "${h:?}/data" "${h:?}/mnt" \
	"$h/etc/passwd" "$h/etc/group"
ln -s /hostile-proc "$h/proc"
ln -s ../../../../../../../../etc "$h/dev"
ln -s / "$h/sys"
ln -s /bin "$h/tmp"
ln -s /home "$h/data"
ln -s /proc/1/root/tmp "$h/mnt"
ln -s /etc/shadow "$h/etc/passwd"
ln -s ../../../../../../../../etc/group "$h/etc/group"
ln -s /proc/self/environ "$h/etc/hosts"
ln -s /nonexistent "$h/etc/resolv.conf"
mksq "$h" "$NEW/hostile.sqfs"

# ---------------------------------------------------------------- bad/
# Squashfs files crafted byte by byte, one per hole labrun's checks close
# (tests/images/hostile.c lists the kinds): bad/KIND.sqfs.
"$CC" -O2 -Wall -Werror -o "$S/bin/hostile" "$HERE/hostile.c"
mkdir "$NEW/bad"
for kind in $("$S/bin/hostile" --list); do
	"$S/bin/hostile" "$kind" "$NEW/bad/$kind.sqfs"
done

# Digests for the tests' messages ("parent sha256:ab12... not found").
cat >"$NEW/digests" <<EOF
BUSYBOX_DIGEST=$BUSYBOX_DIGEST
BASE_DIGEST=$BASE_DIGEST
MID_DIGEST=$MID_DIGEST
TOP_DIGEST=$TOP_DIGEST
LOOP_A=$A
LOOP_B=$B
EOF

# ---------------------------------------------------------------- install
# Replace the old set, entry by entry; nothing else in OUTDIR is touched.
# (Readers of a half-replaced set are not supported: the lock only orders
# builders.)
chmod -R a+rX "$NEW"
for f in "$NEW"/*; do
	rm -rf "${OUT:?}/$(basename "$f")"
	mv "$f" "$OUT"/
done
echo "$stamp" >"$OUT/.stamp"
all_present || die "internal error: an image is missing after the build"
