#!/bin/bash
# images/sizes.sh - the disk space of the layered example stack against
# flat images of the same applications (`make -C images sizes`;
# doc/images.md has the figures).
#
#   sizes.sh flat FLAT.sqfs RUNTIME.tar APPDIR LAYER.sqfs
#       FLAT.sqfs: the whole tree of the application image LAYER.sqfs as
#       one squashfs: `labrun-image flatten` when LABRUN_IMAGE has it, else
#       mksquashfs of runtime.tar's tree plus APPDIR's files, with LAYER's
#       compressor and block size, so that the two compare like for like.
#   sizes.sh report OUT
#       the table: each layer, the stack, the flat images.
#
# As root the tree keeps its owners; as another user every file becomes
# root's (-all-root): the size is the same either way.
set -euo pipefail

prog=sizes.sh
die() { echo "$prog: $*" >&2; exit 1; }

flat() {
	local out=$1 tar=$2 app=$3 layer=$4
	mkdir -p "$(dirname "$out")"
	local lri=${LABRUN_IMAGE:-}
	local probe=''
	[ -z "$lri" ] || probe=$("$lri" flatten 2>&1 || true)
	if [ -n "$lri" ] && [[ $probe != *"unknown command"* ]]; then
		if "$lri" flatten -o "$out" "$layer"; then
			chmod a+r "$out"
			return
		fi
		echo "$prog: labrun-image flatten failed; making $out with mksquashfs instead" >&2
	fi

	local tool
	for tool in mksquashfs unsquashfs; do
		command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install squashfs-tools)"
	done
	# The layer's compressor and block size, from its superblock.
	local info comp block
	info=$(unsquashfs -s "$layer") || die "$layer: not a squashfs"
	comp=$(awk '/^Compression / { print $2 }' <<<"$info")
	block=$(awk '/^Block size / { print $3 }' <<<"$info")
	if [ -z "$comp" ] || [ -z "$block" ]; then
		die "$layer: no compressor or block size in unsquashfs -s"
	fi

	local tree
	tree=$(mktemp -d "$(dirname "$out")/.flat-tree.XXXXXX")
	trap 'rm -rf "$tree"' EXIT
	local -a own=()
	if [ "$(id -u)" = 0 ]; then
		tar -xpf "$tar" --xattrs --xattrs-include='*' --numeric-owner -C "$tree"
	else
		tar -xf "$tar" --no-same-owner -C "$tree"
		own=(-all-root)
	fi
	tar -cf - --exclude-vcs -C "$app" . | tar -xf - --no-same-owner -C "$tree"
	local -a comp_opts=(-comp "$comp")
	[ "$comp" != none ] || comp_opts=(-noI -noD -noF -noX)
	mksquashfs "$tree" "$out.tmp" -noappend -quiet -no-progress -b "$block" \
		"${comp_opts[@]}" "${own[@]}" >/dev/null
	mv -f "$out.tmp" "$out"
	chmod a+r "$out"
	rm -rf "$tree"
	trap - EXIT
}

# size FILE: bytes.
size() { stat -c %s "$1"; }
# human BYTES: "812 KiB" or "25.3 MiB".
human() {
	awk -v b="$1" 'BEGIN { if (b < 1048576) printf "%d KiB", (b + 1023) / 1024;
			       else printf "%.1f MiB", b / 1048576 }'
}
row() { printf '  %-22s %10s%s\n' "$1" "$(human "$2")" "${3:+   $3}"; }

report() {
	local out=$1 f
	for f in debian python app-hello app-stats; do
		[ -f "$out/$f.sqfs" ] || die "$out/$f.sqfs missing: make -C images apps"
	done
	for f in app-hello app-stats; do
		[ -f "$out/flat/$f.sqfs" ] || die "$out/flat/$f.sqfs missing: make -C images sizes"
	done
	local deb py hello stats fh fs
	deb=$(size "$out/debian.sqfs")
	py=$(size "$out/python.sqfs")
	hello=$(size "$out/app-hello.sqfs")
	stats=$(size "$out/app-stats.sqfs")
	fh=$(size "$out/flat/app-hello.sqfs")
	fs=$(size "$out/flat/app-stats.sqfs")
	local layered=$((deb + py + hello + stats)) flat=$((fh + fs))
	echo "Layered: both applications share the debian and python layers"
	row debian.sqfs "$deb" "Debian base"
	row python.sqfs "$py" "what python3 and numpy add"
	row app-hello.sqfs "$hello" "/app/hello.py"
	row app-stats.sqfs "$stats" "/app/stats.py and its CSV"
	row "total" "$layered" ""
	echo "Flat: one whole tree per application"
	row flat/app-hello.sqfs "$fh" ""
	row flat/app-stats.sqfs "$fs" ""
	row "total" "$flat" ""
	awk -v l="$layered" -v f="$flat" -v a="$fs" -v s="$stats" 'BEGIN {
		printf "The layered stack takes %.0f%% of the flat images'\'' space;", 100 * l / f
		printf " a third application on python would add %s (flat: another %s).\n",
			s < 1048576 ? sprintf("%d KiB", (s + 1023) / 1024) : sprintf("%.1f MiB", s / 1048576),
			sprintf("%.1f MiB", a / 1048576) }'
}

[ $# -ge 1 ] || die "usage: $prog flat FLAT.sqfs RUNTIME.tar APPDIR LAYER.sqfs | report OUT"
case $1 in
flat)
	[ $# -eq 5 ] || die "usage: $prog flat FLAT.sqfs RUNTIME.tar APPDIR LAYER.sqfs"
	flat "$2" "$3" "$4" "$5"
	;;
report)
	[ $# -eq 2 ] || die "usage: $prog report OUT"
	report "$2"
	;;
*) die "unknown command '$1'" ;;
esac
