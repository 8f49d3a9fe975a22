#!/bin/bash
# selftest.sh - proves that the VM of tests/vm/vm.sh gives the tests what
# they need: cgroup v2 with the cpu, cpuset, memory, pids and io
# controllers whose limits hold, and ext4 with enforced user quotas.
#
# TAP.  Runs as root inside the VM (tests/vm/vm.sh tests/vm/selftest.sh);
# anywhere else it skips, since it changes cgroup limits and mounts.
# Uses only the host's /usr: coreutils, dash, util-linux, e2fsprogs, and
# setquota from the quota package (that one test skips without it).
set -u

cg=/sys/fs/cgroup
test_user=labrun-test
n=0
ok() { # ok COND-STATUS DESCRIPTION [DIAGNOSTIC...]
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
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

if [ "$(id -u)" != 0 ] || [ "$(hostname)" != labrun-vm ]; then
	echo "1..0 # SKIP runs as root inside tests/vm/vm.sh's VM (tests/vm/vm.sh $0)"
	exit 0
fi
echo "1..8"

# A child cgroup of the root, empty; removed (its processes killed) on exit.
groups=()
make_group() {
	local g=$cg/$1
	mkdir "$g" || return 1
	groups+=("$g")
	echo "$g"
}
cleanup() {
	local g
	for g in "${groups[@]}"; do
		[ -d "$g" ] || continue
		echo 1 >"$g/cgroup.kill" 2>/dev/null
		for _ in $(seq 50); do
			[ -s "$g/cgroup.procs" ] || break
			sleep 0.1
		done
		rmdir "$g"
	done
	mountpoint -q /tmp/selftest-quota/mnt && umount /tmp/selftest-quota/mnt
	rm -rf /tmp/selftest-quota
}
trap cleanup EXIT

# 1. The controllers, available and enabled for the root's children.
fs=$(stat -f -c %T $cg)
missing=
for c in cpu cpuset memory pids io; do
	grep -qw "$c" $cg/cgroup.controllers || missing="$missing $c (not in cgroup.controllers)"
	grep -qw "$c" $cg/cgroup.subtree_control || missing="$missing $c (not in subtree_control)"
done
[ "$fs" = cgroup2fs ] && [ -z "$missing" ]
ok $? "cgroup v2 at $cg offers cpu, cpuset, memory, pids, io" \
	"filesystem: $fs" "missing:$missing"

# 2. memory.max: a process that keeps allocating is killed by the OOM
# killer at 32M.  tail keeps its last "line" in memory, and /dev/zero has
# no newline, so tail grows until it is killed.
g=$(make_group selftest-memory)
echo 32M >"$g/memory.max"
echo 0 >"$g/memory.swap.max" 2>/dev/null
sh -c 'echo $$ >"$1/cgroup.procs" && exec sh -c "head -c 256M /dev/zero | tail"' sh "$g" \
	>/dev/null 2>&1
rc=$?
kills=$(awk '$1 == "oom_kill" { print $2 }' "$g/memory.events")
peak=$(cat "$g/memory.peak" 2>/dev/null || echo "?")
[ "${kills:-0}" -ge 1 ] && [ "$rc" -ne 0 ]
ok $? "memory.max 32M: a hog is OOM-killed (memory.events oom_kill ${kills:-none})" \
	"exit status $rc, memory.peak $peak" "$(cat "$g/memory.events")"

# 3. pids.max: a fork loop stops at the limit.  dash, not bash: bash
# retries a failed fork for a while, dash reports it at once.
g=$(make_group selftest-pids)
echo 10 >"$g/pids.max"
# shellcheck disable=SC2016 # expanded by dash
out=$(dash -c 'echo $$ >"$1/cgroup.procs" || exit 99
	i=0
	while [ $i -lt 30 ]; do sleep 30 >/dev/null 2>&1 & i=$((i + 1)); done
	exit 0' dash "$g" 2>&1)
rc=$?
current=$(cat "$g/pids.current")
events=$(awk '$1 == "max" { print $2 }' "$g/pids.events")
[ "$rc" -ne 0 ] && [ "$rc" -ne 99 ] && [ "$current" -le 10 ] && [ "${events:-0}" -ge 1 ]
ok $? "pids.max 10: a fork loop fails to fork (pids.events max ${events:-none})" \
	"exit status $rc, pids.current $current" "$out"
echo 1 >"$g/cgroup.kill"

# 4. cpu.max: a spinner held to 20 % of one CPU.  Accounted in the VM's
# own time, so a busy host slows the spinner but cannot push it past the
# quota; 30 % leaves room for the first period.
g=$(make_group selftest-cpu)
echo "20000 100000" >"$g/cpu.max"
sh -c 'echo $$ >"$1/cgroup.procs" && exec sh -c "while :; do :; done"' sh "$g" &
spinner=$!
sleep 0.2
u0=$(awk '$1 == "usage_usec" { print $2 }' "$g/cpu.stat")
t0=$(date +%s%N)
sleep 1
u1=$(awk '$1 == "usage_usec" { print $2 }' "$g/cpu.stat")
t1=$(date +%s%N)
kill "$spinner" 2>/dev/null
wait "$spinner" 2>/dev/null
pct=$(((u1 - u0) * 100000 / (t1 - t0))) # usec over nsec, in %
throttled=$(awk '$1 == "nr_throttled" { print $2 }' "$g/cpu.stat")
[ "$pct" -le 30 ] && [ "$pct" -ge 5 ] && [ "${throttled:-0}" -ge 1 ]
ok $? "cpu.max 20000/100000 holds a spinner to ${pct}% of a CPU (throttled ${throttled:-0} times)" \
	"$(cat "$g/cpu.stat")"

# 5. cpuset: a process confined to CPU 0 runs there only.
g=$(make_group selftest-cpuset)
echo 0 >"$g/cpuset.cpus"
aff=$(sh -c 'echo $$ >"$1/cgroup.procs" && exec taskset -pc $$' sh "$g" 2>&1)
case $aff in *": 0") rc=0 ;; *) rc=1 ;; esac
ok $rc "cpuset.cpus 0 confines a process to CPU 0 ($(nproc --all) CPUs in the VM)" "$aff"

# 6.-8. A quota-enabled ext4 on a loop file in /tmp: it mounts with
# usrquota (the kernel has the quota_v2 format), the user's limit holds.
d=/tmp/selftest-quota
mkdir -p $d/mnt
out=$(truncate -s 64M $d/fs.img 2>&1 && mkfs.ext4 -q -F -O quota -E quotatype=usrquota $d/fs.img 2>&1 &&
	mount -o loop,usrquota $d/fs.img $d/mnt 2>&1)
rc=$?
opts=$(findmnt -n -o OPTIONS $d/mnt)
mounted=1
[ $rc = 0 ] && case ,$opts, in *,usrquota,*) mounted=0 ;; esac
ok $mounted "an ext4 made with -O quota mounts from a loop file with usrquota" "$out" \
	"options: $opts" "$(dmesg | grep -iE 'quota|ext4' | tail -3)"

if [ $mounted != 0 ]; then
	skip "the user's writes stop at the quota" "the quota filesystem did not mount"
	skip "repquota shows the user's usage" "the quota filesystem did not mount"
elif ! command -v setquota >/dev/null; then
	skip "the user's writes stop at the quota" "setquota is not installed (apt-get install quota)"
	skip "repquota shows the user's usage" "setquota is not installed (apt-get install quota)"
elif ! id "$test_user" >/dev/null 2>&1; then
	skip "the user's writes stop at the quota" "no user $test_user (scripts/setup-test-env.sh)"
	skip "repquota shows the user's usage" "no user $test_user (scripts/setup-test-env.sh)"
else
	mkdir $d/mnt/u && chown "$test_user:" $d/mnt/u
	# 2 MiB, hard and soft, in 1 KiB blocks.
	setquota -u "$test_user" 2048 2048 0 0 $d/mnt
	out=$(runuser -u "$test_user" -- dd if=/dev/zero of=$d/mnt/u/big bs=1M count=8 2>&1)
	rc=$?
	size=$(stat -c %s $d/mnt/u/big 2>/dev/null || echo 0)
	[ $rc != 0 ] && [ "$size" -le $((2 * 1024 * 1024)) ] && case $out in
		*"Disk quota exceeded"*) true ;;
		*) false ;;
		esac
	ok $? "setquota 2M: the user's dd stops with 'Disk quota exceeded' (wrote $size bytes)" \
		"dd exit $rc" "$out"
	rep=$(repquota -u $d/mnt 2>&1)
	used=$(printf '%s\n' "$rep" | awk -v u="$test_user" '$1 == u { print $3 }')
	[ -n "$used" ] && [ "$used" -ge 1024 ] && [ "$used" -le 2048 ]
	ok $? "repquota shows the user's usage: ${used:-nothing} KiB of 2048" "$rep"
fi
