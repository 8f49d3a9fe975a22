#!/bin/bash
# quota.sh - per-user disk quotas (lib/quota/quota.c) on a real quota-enabled
# ext4: a limit set through lr_quota_set() stops the user's writes with
# EDQUOT, lr_quota_get() shows the usage, and the errors for filesystems
# that cannot enforce a quota say what to do.
#
# TAP.  Runs as root inside the VM of tests/vm/vm.sh (the build hosts'
# kernels cannot mount such an ext4: no CONFIG_QFMT_V2); anywhere else it
# skips.  Drops to the user labrun-test (scripts/setup-test-env.sh) with
# runuser for what a user does.
#
# lib/quota/quota.c is driven by tests/vm/quota_probe: the one make check builds
# ($top_builddir/tests/vm/quota_probe, a check_PROGRAMS entry), else one
# compiled here with the host's cc from $top_srcdir.
set -u

test_user=labrun-test
work=/tmp/quota-test
scratch=/tmp/scratch
limit=$((4 * 1024 * 1024))
n=0
ok() { # ok STATUS DESCRIPTION [DIAGNOSTIC...]
	local status=$1 desc=$2
	shift 2
	n=$((n + 1))
	if [ "$status" = 0 ]; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		for line in "$@"; do printf '%s\n' "$line" | sed 's/^/# /'; done
	fi
}
has() { # has TEXT PART: is PART in TEXT?
	case $1 in *"$2"*) return 0 ;; esac
	return 1
}
bail() {
	echo "Bail out! quota.sh: $*"
	exit 1
}

if [ "$(id -u)" != 0 ] || [ "$(hostname)" != labrun-vm ]; then
	echo "1..0 # SKIP runs as root inside tests/vm/vm.sh's VM (tests/vm/vm.sh $0)"
	exit 0
fi
id "$test_user" >/dev/null 2>&1 ||
	{ echo "1..0 # SKIP no user $test_user: run scripts/setup-test-env.sh on the host" && exit 0; }
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}

cleanup() {
	for m in /tmp/scratch-ro $scratch /tmp/noenforce /tmp/plain; do
		mountpoint -q "$m" && umount "$m"
	done
	rm -rf $work
}
trap cleanup EXIT
mkdir -p $work
chmod 0755 $work

# The probe, copied to /tmp so that the user can run it whatever the
# build tree's permissions.
probe=$work/quota_probe
built=${top_builddir:+$top_builddir/tests/vm/quota_probe}
if [ -n "$built" ] && [ -x "$built" ]; then
	cp "$built" $probe || bail "cannot copy $built"
else
	inc=$work/include
	mkdir -p $inc
	if [ -n "${top_builddir:-}" ] && [ -f "$top_builddir/build-config.h" ]; then
		cp "$top_builddir/build-config.h" $inc/
	else
		echo '#define _GNU_SOURCE 1' >$inc/build-config.h
	fi
	out=$(cc -std=gnu11 -O1 -Wall -I$inc -I"$top_srcdir/lib" -I"$top_srcdir/lib/quota" -o $probe \
		"$top_srcdir/tests/vm/quota_probe.c" "$top_srcdir/lib/quota/quota.c" \
		"$top_srcdir/lib/error.c" "$top_srcdir/lib/escape.c" 2>&1) ||
		bail "compiling quota_probe failed: $out"
fi
chmod 0755 $probe
as_user() {
	runuser -u "$test_user" -- "$@"
}

# An ext4 of 64 MiB with quota inodes (-O quota), in a loop file.
make_fs() { # make_fs IMAGE MOUNTPOINT MKFS-OPTIONS MOUNT-OPTIONS
	# shellcheck disable=SC2086 # MKFS-OPTIONS are words
	truncate -s 64M "$1" && mkfs.ext4 -q -F $3 "$1" && mkdir -p "$2" &&
		mount -o "loop${4:+,$4}" "$1" "$2"
}
out=$(make_fs $work/scratch.img $scratch "-O quota -E quotatype=usrquota" usrquota 2>&1) ||
	bail "cannot make the quota filesystem: $out"
# World-writable like a scratch area; the user writes there.
chmod 1777 $scratch

echo "1..17"

# ---------------------------------------------------------------------
# Set and read through lib/quota/quota.c.
#
# The project's own tools: `labrun-policy apply` sets the quota from a lab
# file's "storage = PATH SIZE", `labrun --quota` shows it (test 7); the
# probe checks the kernel's side.
mkdir -p $work/labs
printf '[lab]\nmembers = %s\n[defaults]\nstorage = %s 4M\n' "$test_user" $scratch \
	>$work/labs/lrquota.conf
echo "policy-dir = $work/labs" >$work/labrun.conf
chmod -R a+rX $work
LP=${top_builddir:-}/launcher/labrun-policy
[ -x "$LP" ] || bail "labrun-policy not built ($LP)"
out=$("$LP" -d $work/labs apply --rules $work/rules 2>&1)
rc=$?
[ $rc = 0 ] && has "$out" "set storage $scratch for $test_user = 4M"
ok $? "labrun-policy apply gives $test_user a 4 MiB quota on $scratch" "exit $rc" "$out"

out=$($probe get $scratch "$test_user" 2>&1)
read -r _ used _ got <<<"$out"
[ "${got:-}" = $limit ] && [ "${used:-x}" -lt 65536 ]
ok $? "lr_quota_get (root) shows the limit, $limit bytes, and little use" "$out"

out=$(as_user dd if=/dev/zero of=$scratch/big bs=1M count=8 2>&1)
rc=$?
size=$(stat -c %s $scratch/big 2>/dev/null || echo 0)
[ $rc != 0 ] && has "$out" "Disk quota exceeded" && [ "$size" -le $limit ] &&
	[ "$size" -ge $((limit - 65536)) ]
ok $? "as $test_user, dd stops with 'Disk quota exceeded' at the limit ($size bytes)" \
	"dd exit $rc" "$out"

out=$(as_user $probe get $scratch "$test_user" 2>&1)
read -r _ used _ got <<<"$out"
[ "${got:-}" = $limit ] && [ "${used:-0}" -ge $((limit - 65536)) ] && [ "${used:-0}" -le $limit ]
ok $? "lr_quota_get as $test_user shows the usage close to the limit ($out)" "$out"

out=$(as_user "${top_builddir:-}/launcher/labrun" -c $work/labrun.conf --quota 2>&1)
rc=$?
[ $rc = 0 ] && has "$out" "storage       $scratch 4M" && has "$out" "4M used on $scratch, quota 4M"
ok $? "labrun --quota shows $test_user the quota and the usage" "exit $rc" "$out"
out=$("$LP" -d $work/labs apply --rules $work/rules 2>&1)
[ "$out" = "nothing to change: the cgroups match the policy" ]
ok $? "a second apply leaves the quota as it is" "$out"

if command -v repquota >/dev/null; then
	rep=$(repquota -u $scratch 2>&1)
	kib=$(printf '%s\n' "$rep" | awk -v u="$test_user" '$1 == u { print $3 }')
	[ -n "$kib" ] && [ $((kib * 1024)) = "${used:-}" ]
	ok $? "repquota agrees: ${kib:-?} KiB used" "$rep"
else
	n=$((n + 1))
	echo "ok $n - repquota agrees # SKIP repquota is not installed (apt-get install quota)"
fi

out=$(as_user $probe get $scratch root 2>&1)
rc=$?
[ $rc = 1 ] && has "$out" "$scratch: only root may read another user's quota" &&
	has "$out" "errno EPERM"
ok $? "$test_user may not read root's quota, and is told so" "exit $rc" "$out"

out=$(as_user $probe set $scratch "$test_user" $((2 * limit)) 2>&1)
rc=$?
[ $rc = 1 ] && has "$out" "$scratch: setting a user's quota needs root"
ok $? "$test_user may not raise a quota, and is told so" "exit $rc" "$out"

out=$($probe set $scratch "$test_user" 0 2>&1) &&
	got=$($probe get $scratch "$test_user" 2>&1) && has "$got" "limit 0" &&
	dd_out=$(as_user dd if=/dev/zero of=$scratch/more bs=1M count=6 2>&1)
ok $? "a limit of 0 removes it: $test_user writes past 4 MiB" "$out" "${got:-}" "${dd_out:-}"
rm -f $scratch/big $scratch/more

out=$($probe set $scratch "$test_user" 1000 2>&1) && got=$($probe get $scratch "$test_user" 2>&1) &&
	has "$got" "limit 1024"
ok $? "a limit is rounded up to whole KiB (1000 bytes: ${got:-?})" "$out"

# A read-only bind mount of the same filesystem: reading works (Q_XGETQUOTA
# needs no write access), setting is refused with a reason.
mkdir -p /tmp/scratch-ro
out=$(mount --bind $scratch /tmp/scratch-ro 2>&1 && mount -o remount,bind,ro /tmp/scratch-ro 2>&1) &&
	got=$(as_user $probe get /tmp/scratch-ro "$test_user" 2>&1) && has "$got" "limit 1024" &&
	out=$($probe set /tmp/scratch-ro "$test_user" $limit 2>&1)
rc=$?
[ $rc = 1 ] && has "$out" "/tmp/scratch-ro: mounted read-only here: set the quota through a read-write mount"
ok $? "through a read-only bind mount: the usage reads, setting says read-only" "exit $rc" \
	"${got:-}" "$out"
umount /tmp/scratch-ro

# An ext4 with quota inodes but mounted without usrquota counts usage and
# enforces nothing: setting a limit there must be refused, not pretended.
out=$(make_fs $work/noenforce.img /tmp/noenforce "-O quota -E quotatype=usrquota" "" 2>&1) &&
	out=$($probe set /tmp/noenforce "$test_user" $limit 2>&1)
rc=$?
[ $rc = 1 ] && has "$out" "/tmp/noenforce: the filesystem (ext4) counts user quotas but does not enforce them: mount it with usrquota"
ok $? "without usrquota, lr_quota_set refuses: counted, not enforced" "exit $rc" "$out"

got=$($probe get /tmp/noenforce "$test_user" 2>&1)
has "$got" "limit 0"
ok $? "without usrquota, lr_quota_get shows no limit ($got)" "$got"

out=$(make_fs $work/plain.img /tmp/plain "" "" 2>&1) && out=$($probe get /tmp/plain "$test_user" 2>&1)
rc=$?
[ $rc = 1 ] && has "$out" "/tmp/plain: the filesystem (ext4) has no user quotas: mount it with usrquota (ext4: made with -O quota)"
ok $? "an ext4 without quotas: the message says how to get them" "exit $rc" "$out"

# ext4 suspends quotas while read-only: say so rather than "mount it with
# usrquota", which it is.
out=$(mount -o remount,ro $scratch 2>&1) && out=$($probe get $scratch "$test_user" 2>&1)
rc=$?
[ $rc = 1 ] && has "$out" "$scratch: the filesystem (ext4) is mounted read-only, which turns its quotas off"
ok $? "remounted read-only: the message says that this turned quotas off" "exit $rc" "$out"

out=$($probe get /tmp "$test_user" 2>&1)
rc=$?
[ $rc = 1 ] && has "$out" "/tmp: this tmpfs has no user quotas" && has "$out" "errno ENOSYS"
ok $? "a tmpfs (Linux 6.1): no user quotas, and the message says so" "exit $rc" "$out"
