#!/bin/bash
# vm.sh SCRIPT [ARGS...] - run SCRIPT as root in a small QEMU virtual machine
# and print the TAP it writes.
#
# For the tests that need a kernel this machine cannot give them: cgroup v2
# with the cpu, cpuset, memory, pids and io controllers, ext4 with disk
# quotas (the build hosts' kernels lack the quota format, CONFIG_QFMT_V2),
# loop devices, root.  Runs as root or as any user; needs no KVM.
#
# The machine:
#  - QEMU's software emulation (TCG).  Never -enable-kvm: on the build hosts
#    /dev/kvm is a PVM-style emulation that crashes ("emulation failure") on
#    a stock Debian kernel (shared/notes/vm.md).
#  - Debian's own kernel, linux-image-6.1.0-N-amd64 (the one the meta package
#    linux-image-amd64 names, or $LABRUN_VM_KERNEL): `apt-get download`ed and
#    unpacked with `dpkg-deb -x` into the cache.  Nothing is installed on the
#    host and its boot set-up is never touched.  We boot the uncompressed
#    vmlinux (it has a PVH entry note, which QEMU loads directly) when it can
#    be cut out of vmlinuz: that saves the in-guest decompression, ~3 s of
#    TCG time.
#  - A busybox (busybox-static) initramfs: /init loads the modules (the
#    closure of virtio-pci, virtio-9p, virtio-console, ext4, quota_v2, loop,
#    fuse, overlay; busybox depmod finds the dependencies, see
#    build_kernel), builds the root on a tmpfs and switch_roots into it, so
#    that pivot_root works in the tests (it refuses the initramfs, see
#    pivot_root(2)).  The root holds, read-only over virtio-9p, the host's
#    /usr and /etc (so the host's users, labrun-test among them, and its
#    dynamically linked programs are there), the source and build trees and
#    SCRIPT's directory, each at its host path; tmpfs /tmp /run /var/tmp
#    /dev/shm, devtmpfs /dev, /proc, /sys, and cgroup2 at /sys/fs/cgroup
#    with "+cpu +cpuset +memory +pids +io" in the root's subtree_control.
#  - Output: SCRIPT's stdout, its stderr and its exit status each go to a
#    virtio-serial port of their own (files on the host), never through a
#    terminal: kernel messages stay on the serial console (ttyS0, kept in a
#    file and shown on stderr only when the VM fails or LABRUN_VM_VERBOSE=1),
#    so they cannot mix into the TAP, there is no \r\n translation, and
#    SCRIPT's stdout is no tty (bats and friends print TAP, not colours).
#    The ports are not ttys and a write returns once QEMU has taken the data
#    (virtio_console waits for the buffer), so nothing is lost when the VM stops.
#
# Output: SCRIPT's stdout on stdout, its stderr on stderr; the exit status
# is SCRIPT's.  "1..0 # SKIP reason" (exit 0) when QEMU, busybox-static or
# the kernel package is missing; "Bail out! reason" (exit 1) when the VM
# breaks or runs over the timeout.  Works without stdin or a tty.
#
# Cache: ${LABRUN_VM_CACHE:-/var/cache/labrun-vm} (not writable: then
# ~/.cache/labrun-vm): KERNELPKG/{vmlinuz,vmlinux,modules/} from the .deb,
# and KERNELPKG/initrd-HASH.cpio, rebuilt whenever this file's /init
# scripts, the module list or busybox change.  Built under a lock, so
# parallel runs (make -j check) share one build.
#
# Environment:
#   LABRUN_VM_CACHE    cache directory (above)
#   LABRUN_VM_KERNEL   kernel package (default: what linux-image-amd64 needs)
#   LABRUN_VM_TIMEOUT  seconds before the VM is killed (300)
#   LABRUN_VM_MEMORY   MiB of RAM (512), LABRUN_VM_CPUS (2)
#   LABRUN_VM_SHARE    more host directories to share, ':'-separated
#   LABRUN_VM_VERBOSE  1: show the VM's console on stderr
#   LABRUN_VM_CMDLINE  more kernel parameters (loglevel=7 to see it boot)
# SCRIPT gets PATH, HOME=/root, LANG=C.UTF-8, CI, top_srcdir, top_builddir
# and every LABRUN_* variable; it starts in the current directory when that
# is shared, else in /.
set -u

bail() {
	echo "Bail out! vm.sh: $*"
	exit 1
}
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

[ $# -ge 1 ] || {
	echo "usage: vm.sh SCRIPT [ARGS...]" >&2
	exit 99
}
script=$1
shift
[ -f "$script" ] || bail "no such test script: $script"
script=$(cd -P "$(dirname "$script")" && pwd -P)/$(basename "$script")

here=$(cd -P "$(dirname "$0")" && pwd -P)
top_srcdir=${top_srcdir:-$(cd -P "$here/../.." && pwd -P)}
timeout_s=${LABRUN_VM_TIMEOUT:-300}
memory=${LABRUN_VM_MEMORY:-512}
cpus=${LABRUN_VM_CPUS:-2}
for v in "$timeout_s" "$memory" "$cpus"; do
	case $v in '' | *[!0-9]*) bail "LABRUN_VM_TIMEOUT, _MEMORY and _CPUS take numbers, not '$v'" ;; esac
done

qemu=$(command -v qemu-system-x86_64) ||
	skip_all "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
busybox=
for b in /bin/busybox /usr/bin/busybox; do
	# Only the static one runs in the initramfs, before any library is there.
	if [ -x "$b" ] && "$b" 2>&1 | head -1 | grep -q BusyBox && ! ldd "$b" >/dev/null 2>&1; then
		busybox=$b
		break
	fi
done
[ -n "$busybox" ] || skip_all "busybox-static is not installed (apt-get install busybox-static)"

cache=${LABRUN_VM_CACHE:-/var/cache/labrun-vm}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	[ -n "${LABRUN_VM_CACHE:-}" ] && bail "cache directory $cache is not writable"
	cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/labrun-vm
	mkdir -p "$cache" || bail "cannot make a cache directory ($cache)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/labrun-vm.XXXXXX") || bail "mktemp failed"
trap 'rm -rf "$work"' EXIT
mkdir "$work/job"

# ------------------------------------------------------------ the kernel

# The modules the VM loads, with their dependencies.  crc32c_generic:
# ext4 and jbd2 ask the crypto API for "crc32c" at mount, which would need
# a modprobe in the VM; loading it first answers that request.
modules_wanted="virtio_pci virtio_console 9pnet_virtio 9p crc32c_generic ext4 quota_v2 loop fuse overlay"

kernel_package() {
	if [ -n "${LABRUN_VM_KERNEL:-}" ]; then
		echo "$LABRUN_VM_KERNEL"
		return
	fi
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -1
}

# The newest kernel already in the cache, if any.
cached_kernel() {
	local p
	p=$(cd "$cache" && printf '%s\n' linux-image-*/modules/order | sort -V | tail -1)
	p=${p%/modules/order}
	[ -s "$cache/$p/modules/order" ] && echo "$p"
}

# Resolve NAME's dependencies from modules.dep (relative paths) and print
# the paths in load order, each once.
module_closure() {
	local dep=$1 name path deps
	shift
	declare -A file_of seen
	local line
	while IFS= read -r line; do
		path=${line%%:*}
		name=${path##*/}
		name=${name%.ko}
		file_of[${name//-/_}]=$path
	done <"$dep"
	visit() {
		local n=${1//-/_} p d
		[ -n "${seen[$n]:-}" ] && return 0
		seen[$n]=1
		p=${file_of[$n]:-}
		[ -n "$p" ] || {
			echo "vm.sh: module $n is not in $dep" >&2
			return 1
		}
		deps=$(grep -m1 "^$p:" "$dep" | cut -d: -f2)
		for d in $deps; do
			d=${d##*/}
			visit "${d%.ko}" || return 1
		done
		echo "$p"
	}
	for name in "$@"; do
		visit "$name" || return 1
	done
}

# Download and unpack the kernel package into $cache/$pkg (vmlinuz,
# vmlinux when it can be cut out, modules/*.ko and modules/order).  On
# failure prints why and leaves nothing behind.
build_kernel() {
	local pkg=$1 tmp deb kver dir list m off
	tmp=$(mktemp -d "$cache/.build.XXXXXX") || return 1
	failed() {
		echo "$*"
		rm -rf "$tmp"
		return 1
	}
	# apt-get download as root warns that its _apt user cannot write here;
	# the download works all the same.
	chmod 0755 "$tmp"
	if ! (cd "$tmp" && apt-get download "$pkg") >"$tmp/apt.log" 2>&1; then
		# Package lists can be missing on a fresh CI machine.
		if [ "$(id -u)" = 0 ] && apt-get update -qq >>"$tmp/apt.log" 2>&1; then
			(cd "$tmp" && apt-get download "$pkg") >>"$tmp/apt.log" 2>&1
		fi
	fi
	deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -1)
	[ -n "$deb" ] ||
		failed "apt-get download $pkg failed: $(grep -E '^(E|W):' "$tmp/apt.log" | head -1)" ||
		return 1
	mkdir "$tmp/root" "$tmp/out" "$tmp/out/modules"
	dpkg-deb -x "$deb" "$tmp/root" || failed "dpkg-deb -x $deb failed" || return 1
	kver=$(find "$tmp/root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -1)
	dir=$tmp/root/lib/modules/$kver
	# The .deb has no modules.dep (the package's postinst makes it).
	if ! "$busybox" depmod -b "$tmp/root" "$kver" || [ ! -s "$dir/modules.dep" ]; then
		failed "busybox depmod failed on $pkg"
		return 1
	fi
	# shellcheck disable=SC2086 # a list of names
	list=$(module_closure "$dir/modules.dep" $modules_wanted) ||
		failed "$pkg lacks a module the VM needs" || return 1
	for m in $list; do
		cp "$dir/$m" "$tmp/out/modules/" || failed "cp $m failed" || return 1
		echo "${m##*/}" >>"$tmp/out/modules/order"
	done
	cp "$tmp/root/boot/vmlinuz-$kver" "$tmp/out/vmlinuz" || failed "no vmlinuz in $pkg" || return 1
	echo "$kver" >"$tmp/out/kver"
	# vmlinuz is a small decompressor and an xz payload; the payload is an
	# ELF vmlinux.  Cut at the first xz magic; xz stops at the end of the
	# stream and complains about the bytes after it (ignored).
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$tmp/out/vmlinuz" | head -1 | cut -d: -f1)
	if [ -n "$off" ]; then
		tail -c +$((off + 1)) "$tmp/out/vmlinuz" | xz -dc >"$tmp/out/vmlinux" 2>/dev/null
		# QEMU boots an ELF kernel only through its PVH entry note
		# (owner "Xen", type 0x12, XEN_ELFNOTE_PHYS32_ENTRY).  No
		# readelf (binutils): vmlinuz it is.
		if ! readelf -n "$tmp/out/vmlinux" 2>/dev/null | grep -q 'Xen.*(0x00000012)'; then
			rm -f "$tmp/out/vmlinux"
		fi
	fi
	rm -rf "${cache:?}/$pkg"
	mv "$tmp/out" "$cache/$pkg" || failed "cannot move the kernel into $cache/$pkg" || return 1
	rm -rf "$tmp"
}

# ------------------------------------------------------------ the initramfs

# Stage 1, the initramfs's /init (busybox sh): modules, the new root,
# switch_root.  The per-run job directory (virtio-9p tag "job") says what
# else to share: lines "share TAG PATH" and "link NAME TARGET".
init1() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
die() {
	echo "labrun-vm: $*" >/dev/console
	reboot -f
}
while read -r m; do
	insmod "/modules/$m" || die "insmod $m failed"
done </modules/order
o=trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro
r=/newroot
mount -t tmpfs -o mode=0755 root $r || die "tmpfs root"
mkdir -p $r/usr $r/etc $r/proc $r/sys $r/dev $r/tmp $r/run $r/var/tmp $r/root $r/home $r/mnt $r/.vm
mount -t 9p -o $o usr $r/usr || die "9p /usr"
mount -t 9p -o $o etc $r/etc || die "9p /etc"
mount -t tmpfs -o mode=1777 tmp $r/tmp
mount -t tmpfs -o mode=0755 run $r/run
mount -t tmpfs -o mode=1777 vartmp $r/var/tmp
mkdir -p $r/run/labrun-vm
mount -t 9p -o $o job $r/run/labrun-vm || die "9p job"
while read -r kind a b; do
	case $kind in
	share) mkdir -p "$r$b" && mount -t 9p -o $o "$a" "$r$b" || die "9p $b" ;;
	link) ln -s "$b" "$r/$a" ;;
	esac
done <$r/run/labrun-vm/mounts
cp /bin/busybox /init2 $r/.vm/
for d in dev proc sys; do mount --move /$d $r/$d; done
exec switch_root $r /.vm/busybox sh /.vm/init2
EOF
}

# Stage 2, PID 1 in the new root: cgroups, the job, the exit status,
# reboot (QEMU exits).  Only busybox applets (by full path): the host's tools are
# there, but the harness should not depend on which.
init2() {
	cat <<'EOF'
bb=/.vm/busybox
fail() {
	echo "labrun-vm: $*" >/dev/console
}
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts -o mode=0620,ptmxmode=0666 devpts /dev/pts
$bb mount -t tmpfs -o mode=1777 shm /dev/shm
$bb mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
for c in cpu cpuset memory pids io; do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || fail "cgroup controller $c"
done
$bb hostname labrun-vm
$bb ip link set lo up 2>/dev/null
port() {
	for p in /sys/class/virtio-ports/*; do
		[ "$($bb cat "$p/name" 2>/dev/null)" = "$1" ] && echo "/dev/${p##*/}" && return
	done
	fail "no virtio port $1"
	echo /dev/null
}
out=$(port labrun.stdout)
err=$(port labrun.stderr)
status=$(port labrun.status)
cd /
/usr/bin/bash /run/labrun-vm/job </dev/null >"$out" 2>"$err"
echo "$?" >"$status"
$bb sync
$bb reboot -f
EOF
}

# ------------------------------------------------------------ build or reuse

exec 9>"$cache/.lock" || bail "cannot open $cache/.lock"
flock 9 || bail "cannot lock $cache/.lock"
pkg=$(kernel_package)
if [ -z "$pkg" ]; then
	# No package lists (a machine offline since its set-up): the kernel
	# already in the cache will do.
	pkg=$(cached_kernel) ||
		skip_all "cannot tell which kernel package to fetch (apt-cache depends linux-image-amd64 names none: run apt-get update, or set LABRUN_VM_KERNEL)"
fi
if [ ! -s "$cache/$pkg/modules/order" ] || [ ! -s "$cache/$pkg/vmlinuz" ]; then
	echo "vm.sh: fetching $pkg into $cache (once)" >&2
	if ! why=$(build_kernel "$pkg"); then
		# The archive has moved on while offline: keep to the old one,
		# unless a kernel was asked for by name.
		if [ -n "${LABRUN_VM_KERNEL:-}" ] || ! pkg=$(cached_kernel); then
			skip_all "cannot fetch the kernel: ${why:-building $cache/$pkg failed}"
		fi
		echo "vm.sh: $why; using $pkg from the cache" >&2
	fi
fi
kdir=$cache/$pkg
hash=$({
	init1
	init2
	cat "$kdir/modules/order"
	sha256sum <"$busybox"
} | sha256sum | cut -c1-16)
initrd=$kdir/initrd-$hash.cpio
if [ ! -s "$initrd" ]; then
	t=$(mktemp -d "$cache/.initrd.XXXXXX") || bail "mktemp in $cache failed"
	mkdir -p "$t/bin" "$t/proc" "$t/sys" "$t/dev" "$t/newroot" "$t/modules"
	cp "$busybox" "$t/bin/busybox"
	init1 >"$t/init"
	init2 >"$t/init2"
	chmod 0755 "$t/init"
	cp "$kdir/modules/"* "$t/modules/"
	# Uncompressed: the kernel unpacks it fastest, and it is ~8 MB.
	if ! (cd "$t" && find . | "$busybox" cpio -o -H newc -R 0:0 >"$initrd.tmp" 2>/dev/null) ||
		! mv "$initrd.tmp" "$initrd"; then
		bail "building $initrd failed"
	fi
	rm -rf "$t"
	# Earlier initramfs builds of this kernel are stale now.
	find "$kdir" -maxdepth 1 -name 'initrd-*.cpio' ! -path "$initrd" -delete
fi
exec 9>&-

kernel=$kdir/vmlinuz
[ -s "$kdir/vmlinux" ] && kernel=$kdir/vmlinux

# ------------------------------------------------------------ the job

# Host directories shared at their own path: the trees and SCRIPT's
# directory, minus any inside another (or inside /usr and /etc).
shares=()
add_share() {
	local d
	d=$(cd -P "$1" 2>/dev/null && pwd -P) || return 0
	case $d in /) bail "will not share / into the VM" ;; esac
	shares+=("$d")
}
add_share "$top_srcdir"
[ -n "${top_builddir:-}" ] && add_share "$top_builddir"
add_share "$(dirname "$script")"
IFS=: read -r -a extra <<<"${LABRUN_VM_SHARE:-}"
for d in "${extra[@]}"; do [ -n "$d" ] && add_share "$d"; done

is_inside() { # is $1 equal to or under $2?
	case $1/ in "$2"/*) return 0 ;; esac
	return 1
}
fsdev=()
n=0
: >"$work/job/mounts"
# The host's top-level links (/bin -> usr/bin on a merged /usr) are made
# as links; a real /bin, /lib... is shared like the trees.
for d in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$d" ]; then
		echo "link $d $(readlink "/$d")" >>"$work/job/mounts"
	elif [ -d "/$d" ]; then
		shares+=("/$d")
	fi
done
mapfile -t sorted < <(printf '%s\n' "${shares[@]}" | sort -u)
kept=()
for d in "${sorted[@]}"; do
	skip=0
	for k in /usr /etc "${kept[@]}"; do
		is_inside "$d" "$k" && skip=1
	done
	[ $skip = 1 ] && continue
	case $d in *[[:space:]]*) bail "cannot share a path with blanks: $d" ;; esac
	kept+=("$d")
	echo "share s$n $d" >>"$work/job/mounts"
	fsdev+=(-fsdev "local,id=s$n,path=$d,security_model=none,readonly=on,multidevs=remap"
		-device "virtio-9p-pci,fsdev=s$n,mount_tag=s$n")
	n=$((n + 1))
done

# The job, run by the VM's bash: the environment, the directory, SCRIPT.
{
	echo "# written by vm.sh for one run"
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8"
	printf 'export top_srcdir=%q\n' "$top_srcdir"
	printf 'export top_builddir=%q\n' "${top_builddir:-}"
	[ -n "${CI:-}" ] && printf 'export CI=%q\n' "$CI"
	for name in $(compgen -e | grep '^LABRUN_' | grep -v '^LABRUN_VM_'); do
		printf 'export %s=%q\n' "$name" "${!name}"
	done
	printf 'cd %q 2>/dev/null || cd /\n' "$PWD"
	if [ -x "$script" ]; then
		printf 'exec %q' "$script"
	else
		printf 'exec /usr/bin/bash %q' "$script"
	fi
	printf ' %q' "$@"
	echo
} >"$work/job/job"

# ------------------------------------------------------------ boot

: >"$work/stdout"
: >"$work/stderr"
: >"$work/status"
ports=()
for p in stdout stderr status; do
	ports+=(-chardev "file,id=$p,path=$work/$p"
		-device "virtserialport,bus=vser.0,chardev=$p,name=labrun.$p")
done

# quiet loglevel=3: the console is only read when something broke.
# mitigations=off: TCG pays dearly for page-table switches and barriers,
# and the tests do not depend on them.  pci=noacpi: routing the legacy PCI
# interrupts through ACPI costs ~2 s under TCG, and the virtio devices use
# MSI-X, not those lines (acpi=off would be faster still but loses the
# second CPU: a PVH boot has no BIOS to provide an MP table; adding noapic
# to pci=noacpi hangs the boot).  cgroup_no_v1=all: every controller
# belongs to cgroup v2.  The VM ends with reboot -f (poweroff needs ACPI),
# which -no-reboot turns into QEMU's exit; panic=-1 does the same for a
# crashed kernel instead of waiting for the timeout.
append="console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off pci=noacpi cgroup_no_v1=all rdinit=/init"
append="$append ${LABRUN_VM_CMDLINE:-}"

start=$(date +%s)
# In the background, so that a harness stopped by a signal (make's ^C, the
# test driver's own timeout) stops the VM with it rather than leaving it to
# the timeout: timeout(1) passes the TERM on to QEMU.
timeout -k 10 "$timeout_s" "$qemu" \
	-M pc -accel tcg -cpu max -smp "$cpus" -m "$memory" \
	-nodefaults -no-user-config -display none -monitor none -no-reboot \
	-kernel "$kernel" -initrd "$initrd" -append "$append" \
	-serial "file:$work/console" \
	-fsdev "local,id=usr,path=/usr,security_model=none,readonly=on,multidevs=remap" \
	-device virtio-9p-pci,fsdev=usr,mount_tag=usr \
	-fsdev "local,id=etc,path=/etc,security_model=none,readonly=on,multidevs=remap" \
	-device virtio-9p-pci,fsdev=etc,mount_tag=etc \
	-fsdev "local,id=job,path=$work/job,security_model=none,readonly=on" \
	-device virtio-9p-pci,fsdev=job,mount_tag=job \
	"${fsdev[@]}" \
	-device virtio-serial-pci,id=vser "${ports[@]}" \
	</dev/null >"$work/qemu.log" 2>&1 &
qpid=$!
trap 'kill "$qpid" 2>/dev/null; wait "$qpid"; rm -rf "$work"; exit 1' INT TERM HUP
wait "$qpid"
qrc=$?
trap - INT TERM HUP
end=$(date +%s)

cat "$work/stdout"
cat "$work/stderr" >&2
status=$(tr -dc '0-9' <"$work/status")
show_console() {
	echo "--- vm.sh: QEMU's messages and the VM's console ---" >&2
	cat "$work/qemu.log" >&2
	tail -n 400 "$work/console" >&2
}
[ "${LABRUN_VM_VERBOSE:-0}" = 1 ] && show_console
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	[ "${LABRUN_VM_VERBOSE:-0}" = 1 ] || show_console
	bail "the VM ran over ${timeout_s} s and was killed ($(basename "$script"))"
fi
if [ -z "$status" ]; then
	[ "${LABRUN_VM_VERBOSE:-0}" = 1 ] || show_console
	bail "the VM stopped without SCRIPT's exit status (QEMU exit $qrc after $((end - start)) s)"
fi
exit "$status"
