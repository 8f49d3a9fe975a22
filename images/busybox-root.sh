#!/bin/bash
# images/busybox-root.sh DIR - the tree of the busybox image: a static
# busybox and its applets as symlinks, the usual mount points, root and
# nobody (images/Makefile builds it into busybox.sqfs with `labrun-image
# build --from DIR`; doc/images.md).
#
# Runs as any user: no device nodes, no chown (--from makes every owner
# root).  Every mtime is SOURCE_DATE_EPOCH (default 0), so the tree, and
# the layer made of it, is the same on every machine and every day.  The
# test images of tests/images/build.sh are made of it too.
set -euo pipefail

die() { echo "busybox-root.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: busybox-root.sh DIR"
r=$1
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (Debian: apt-get install busybox-static)"
if command -v readelf >/dev/null && readelf -l "$BUSYBOX" 2>/dev/null | grep -q INTERP; then
	die "$BUSYBOX is dynamically linked: the image needs busybox-static"
fi

rm -rf "$r"
mkdir -p "$r"/{bin,etc,proc,dev,sys,tmp,home,root,mnt,run,usr,var/tmp}
chmod 0755 "$r" "$r"/{bin,etc,proc,dev,sys,home,mnt,run,usr,var}
chmod 1777 "$r/tmp" "$r/var/tmp"
chmod 0700 "$r/root"
cp "$BUSYBOX" "$r/bin/busybox"
chmod 0755 "$r/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
done
ln -s bin "$r/sbin"
ln -s ../bin "$r/usr/bin"
ln -s ../bin "$r/usr/sbin"
cat >"$r/etc/passwd" <<-'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$r/etc/group" <<-'EOF'
root:x:0:
nogroup:x:65534:
EOF
chmod 0644 "$r/etc/passwd" "$r/etc/group"
find "$r" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +
