#!/bin/bash
# squash-seeds.sh OUTDIR - the seeds of fuzz_squash: small squashfs files
# made here with mksquashfs and sqfstar rather than checked in, so that
# they follow the tools and say how they were made.
#
# Small is what matters to a fuzzer (each byte is a place to mutate): 4 KiB
# blocks, no padding, a handful of entries covering what the walk meets:
# directories (one opaque by overlay xattr, when this filesystem keeps
# user xattrs), a file in a fragment, a file of a full block plus a
# fragment, an empty file, a hard link, a symlink, a whiteout (char 0:0),
# a FIFO, owners other than root, and /.labrun/layer.json; a directory
# large enough for an index, a sparse file, shared xattr values.  Uncompressed
# variants let mutations reach the tables instead of breaking a
# compressed block; compressed ones exercise each codec this
# libsquashfuse reads.
set -euo pipefail

out=${1:?usage: squash-seeds.sh OUTDIR}
mkdir -p "$out"
for t in mksquashfs sqfstar; do
	command -v "$t" >/dev/null || { echo "squash-seeds.sh: $t not found (squashfs-tools)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

root=$work/root
mkdir -p "$root/a/b" "$root/.labrun" "$root/opaque"
printf 'hello\n' >"$root/a/small"
head -c 5000 /dev/zero | tr '\0' 'x' >"$root/a/big"
: >"$root/empty"
ln "$root/a/small" "$root/a/b/hard"
ln -s ../a/small "$root/a/link"
cat >"$root/.labrun/layer.json" <<'EOF'
{"parent": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
 "config": {"entrypoint": ["/bin/sh"], "env": ["A=1"], "workdir": "/a"}}
EOF
# Not every filesystem keeps user xattrs (tmpfs before 6.6 does not).
setfattr -n user.overlay.opaque -v y "$root/opaque" 2>/dev/null || true
setfattr -n user.x -v value "$root/a/small" 2>/dev/null || true

common=(-noappend -nopad -b 4096 -mkfs-time 0 -all-time 0 -quiet -no-progress)
pseudo=(-p "a/wh c 0 0 0 0 0" -p "a/fifo i 644 1000 1000 f" -p "a/mine f 600 1000 100 echo x")

# The full block of a/big only where compression makes it small: 4 KiB
# of uncompressed data would be most of a seed, and mutating it finds
# nothing.
mksquashfs "$root" "$out/plain.sqfs" "${common[@]}" -noI -noD -noF -noX "${pseudo[@]}" \
	-e a/big >/dev/null
mksquashfs "$root" "$out/gzip.sqfs" "${common[@]}" -comp gzip "${pseudo[@]}" >/dev/null
mksquashfs "$root" "$out/nofrag.sqfs" "${common[@]}" -noI -noX -no-fragments >/dev/null
mksquashfs "$root" "$out/noxattr.sqfs" "${common[@]}" -noI -noD -noF -no-xattrs -all-root \
	-e a/big >/dev/null
for c in xz lz4 zstd lzo; do
	# Each codec only if this mksquashfs has it.
	mksquashfs "$root/a" "$out/$c.sqfs" "${common[@]}" -comp "$c" >/dev/null 2>&1 ||
		rm -f "$out/$c.sqfs"
done
# A directory whose listing is larger than a metadata block (8 KiB): a
# directory index, which lookups by name use (an extended directory inode); a sparse file (blocks of size 0);
# an xattr value shared by two files (stored out of line once); the
# export table (inode lookup by number).
big=$work/bigdir
mkdir -p "$big/d"
long=$(printf '%080d' 0)
for i in $(seq 100); do : >"$big/d/$long$i"; done
truncate -s 9000 "$big/sparse"
printf 'x' >"$big/x1"
printf 'y' >"$big/x2"
setfattr -n user.shared -v "$(head -c 64 /dev/zero | tr '\0' v)" "$big/x1" "$big/x2" 2>/dev/null || true
mksquashfs "$big" "$out/bigdir.sqfs" "${common[@]}" -noI -noD -noF -noX -exports >/dev/null
mkdir -p "$work/empty"
mksquashfs "$work/empty" "$out/empty.sqfs" "${common[@]}" -noI >/dev/null
# sqfstar: as import and build see a tar (root-owned, numeric ids).
tar -C "$root" -cf "$work/root.tar" --owner=0 --group=0 --numeric-owner --mtime=@0 \
	--exclude=a/big a .labrun
sqfstar -nopad -b 4096 -mkfs-time 0 -all-time 0 -quiet -no-progress -noI -noD -noF \
	"$out/tar.sqfs" <"$work/root.tar" >/dev/null
ls -l "$out" | awk 'NR > 1 { n++; s += $5 } END { printf "squash-seeds.sh: %d seeds, %d bytes\n", n, s }'
