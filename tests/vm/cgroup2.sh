#!/bin/bash
# cgroup2.sh - the labs' quotas on cgroup v2, for real: run by tests/vm/vm.sh
# as root in a VM whose kernel has the v2 cpu, cpuset, memory, pids and io
# controllers (this build host's v2 hierarchy has none of them).  Prints TAP.
#
# As in tests/root/quota.bats: `labrun-policy apply` builds a test lab's
# tree, then the test user runs in it, from their login cgroup (where
# libcgroup's PAM module puts a login) or through labrun, and the kernel
# holds them to the member's limits.
set -u

: "${top_builddir:?run by tests/vm/vm.sh}"
LP=$top_builddir/launcher/labrun-policy
LABRUN=$top_builddir/launcher/labrun
IMAGES=$top_builddir/tests/build/images
USER_=labrun-test
LAB=lrvm
CG=/sys/fs/cgroup
MEMBER=labrun/$LAB/$USER_

# shellcheck source=tests/vm/tap.bash
. "$(dirname "$0")/tap.bash"

echo "1..16"
for b in "$LP" "$LABRUN"; do
	[ -x "$b" ] || { echo "Bail out! $b not built"; exit 1; }
done
id "$USER_" >/dev/null 2>&1 || { echo "Bail out! no user $USER_ (scripts/setup-test-env.sh)"; exit 1; }
chmod 666 /dev/fuse 2>/dev/null

T=$(mktemp -d /tmp/cg2.XXXXXX)
chmod 755 "$T"
mkdir "$T/labs"
for i in 0 1 2 3; do mknod -m 666 "$T/gpu$i" c 195 "$i"; done
printf 'policy-dir = %s\ngpu-devices = %s/gpu[0-9]*\nlayer-store = %s/store\n' \
	"$T/labs" "$T" "$IMAGES" >"$T/labrun.conf"
cat >"$T/labs/$LAB.conf" <<EOF
[lab]
members = $USER_
cores = 2
memory = 256M
[defaults]
cores = 1
memory = 48M
swap = 0
processes = 40
gpus = 1
EOF
chmod -R a+rX "$T"

as_user() {
	setpriv --reuid="$USER_" --regid="$USER_" --init-groups \
		env -i PATH=/usr/bin:/bin HOME="$T" LANG=C.UTF-8 "$@"
}
# in_login CMD...: CMD as the member, from their login cgroup.
in_login() {
	(
		echo "$BASHPID" >"$CG/$MEMBER/login/cgroup.procs" || exit 99
		as_user "$@"
	)
}

# 1-3: apply
out=$("$LP" -c "$T/labrun.conf" apply --rules "$T/rules" 2>&1)
[ $? -eq 0 ] && ok "apply builds the lab's tree on cgroup v2" || not_ok "apply" "$out"
check "member limits: memory.max, memory.swap.max, pids.max, cpu.max" test \
	"$(cat $CG/$MEMBER/memory.max) $(cat $CG/$MEMBER/memory.swap.max) $(cat $CG/$MEMBER/pids.max) $(cat $CG/$MEMBER/cpu.max)" \
	= "$((48 << 20)) 0 40 100000 100000"
check "delegated: the member owns the directory, cgroup.procs and subtree_control, not memory.max" \
	test "$(stat -c %U $CG/$MEMBER $CG/$MEMBER/cgroup.procs $CG/$MEMBER/cgroup.subtree_control $CG/$MEMBER/memory.max | tr '\n' ' ')" \
	= "$USER_ $USER_ $USER_ root "
out=$("$LP" -c "$T/labrun.conf" apply --rules "$T/rules" 2>&1)
check "a second apply changes nothing" test "$out" = "nothing to change: the cgroups match the policy"
check "the member's cgroup gives its children the controllers" \
	grep -q "memory" "$CG/$MEMBER/cgroup.subtree_control"

# memory: a hog in the login cgroup dies at 48M; memory.events counts it.
out=$(in_login python3 -c 'a = []
for i in range(200): a.append(bytearray(1 << 20))
print("done")' 2>&1)
st=$?
ev=$(awk '/^oom_kill / {print $2}' "$CG/$MEMBER/memory.events")
if [ "$st" -eq 137 ] && [[ $out != *done* ]] && [ "${ev:-0}" -ge 1 ]; then
	ok "memory: a hog is killed at the member's memory.max (oom_kill $ev)"
else
	not_ok "memory: a hog is killed at the member's memory.max" "status $st, oom_kill $ev" "$out"
fi

# pids: a fork loop stops at 40.
out=$(in_login bash -c 'for i in $(seq 80); do sleep 2 & done; wait' 2>&1)
# (pids.events counts the failure in the cgroup that forked, the login's.)
max=$(awk '/^max / {print $2}' "$CG/$MEMBER/login/pids.events")
if [[ $out == *"Resource temporarily unavailable"* ]] && [ "${max:-0}" -ge 1 ]; then
	ok "processes: a fork loop stops at pids.max ($max forks refused)"
else
	not_ok "processes: a fork loop stops at pids.max" "$(tail -2 <<<"$out")" "login pids.events: max $max"
fi

# cpu: two spinners for 3 s get 1 core's worth (3 s, and slack for the
# start; unlimited they would take 6 s of the VM's 2 CPUs).
u0=$(awk '/^usage_usec/ {print $2}' "$CG/$MEMBER/cpu.stat")
in_login bash -c 'timeout 3 bash -c "while :; do :; done" & timeout 3 bash -c "while :; do :; done"; wait'
u1=$(awk '/^usage_usec/ {print $2}' "$CG/$MEMBER/cpu.stat")
used=$(((u1 - u0) / 1000))
if [ "$used" -le 4000 ] && [ "$used" -ge 1500 ]; then
	ok "cpu: two spinners for 3 s used $used ms of CPU (cpu.max: 1 core)"
else
	not_ok "cpu: CPU time within cpu.max" "used $used ms in 3 s"
fi

# GPUs: the eBPF device program on the member's cgroup.
out=$(in_login bash -c 'for d; do (exec 3<>"$d") 2>&1 | sed "s/.*: //"; done' - "$T/gpu0" "$T/gpu1" 2>&1)
if [[ $out == "No such device"*$'\n'"Operation not permitted" ]]; then
	ok "gpus: the member's GPU opens (no driver), another is denied (eBPF program)"
else
	not_ok "gpus: device program" "$out"
fi

# labrun: the container in its own cgroup, removed after.
out=$(in_login "$LABRUN" -c "$T/labrun.conf" "$IMAGES/busybox.sqfs" cat /proc/self/cgroup 2>&1)
if [[ $out =~ ^0::/$MEMBER/job-[0-9]+/c$ ]]; then
	ok "labrun runs the container in $MEMBER/job-PID/c"
else
	not_ok "labrun runs the container in a job cgroup" "$out"
fi
for ((i = 0; i < 100; i++)); do
	ls -d "$CG/$MEMBER"/job-* >/dev/null 2>&1 || break
	sleep 0.1
done
check "the container's cgroup is removed after it" test -z "$(ls -d "$CG/$MEMBER"/job-* 2>/dev/null)"

# From outside the member's cgroups (no PAM module placed the session):
# refused with the reason, nothing left.
out=$(as_user "$LABRUN" -c "$T/labrun.conf" "$IMAGES/busybox.sqfs" true 2>&1)
st=$?
sleep 0.5
if [ "$st" -eq 125 ] && [[ $out == "labrun: "*"not in your lab's cgroup"* ]] &&
	[ -z "$(ls -d "$CG/$MEMBER"/job-* 2>/dev/null)" ]; then
	ok "labrun from outside the member's cgroups says why it cannot start"
else
	not_ok "labrun from outside the member's cgroups" "status $st" "$out"
fi

# Issue 12, item 11: a member of two labs cannot move a running container
# from one lab's cgroup into the other's (looser) one.  Both member cgroups
# are the member's, but v2 also wants write access to the cgroup.procs of
# the common ancestor of the two, root's "labrun" (cgroup-v2.rst, "Delegation
# Containment").  Within their own cgroup the same move works: the refusal
# is the lab boundary's.
LAB2=${LAB}two
cat >"$T/labs/$LAB2.conf" <<EOF
[lab]
members = $USER_
[defaults]
memory = 200M
processes = 400
EOF
chmod 644 "$T/labs/$LAB2.conf"
out=$("$LP" -c "$T/labrun.conf" apply --rules "$T/rules" 2>&1)
if [ $? -eq 0 ] && [ "$(stat -c %U "$CG/labrun/$LAB2/$USER_/cgroup.procs")" = "$USER_" ]; then
	ok "apply delegates a member of two labs both member cgroups on v2"
else
	not_ok "apply with a member of two labs" "$out"
fi
in_login "$LABRUN" -c "$T/labrun.conf" --lab "$LAB" "$IMAGES/busybox.sqfs" sleep 30 >/dev/null 2>&1 &
bg=$!
pid=
for ((i = 0; i < 100; i++)); do
	pid=$(cat "$CG/$MEMBER"/job-*/c/cgroup.procs 2>/dev/null | tail -1)
	[ -z "$pid" ] || break
	sleep 0.1
done
# Into LAB2's login cgroup, a leaf the member owns (the member's cgroup
# itself holds no processes on v2, whoever moves them: EBUSY).
out=$(as_user bash -c "echo $pid >$CG/labrun/$LAB2/$USER_/login/cgroup.procs" 2>&1)
st=$?
where=$(cat "/proc/$pid/cgroup" 2>/dev/null)
if [ -n "$pid" ] && [ "$st" -ne 0 ] && [[ $out == *"Permission denied"* ]] &&
	[[ $where == "0::/$MEMBER/job-"* ]]; then
	ok "a container under $LAB cannot be moved into $LAB2's cgroup (common ancestor labrun is root's)"
else
	not_ok "a container under $LAB moved into $LAB2's cgroup" "pid '$pid' status $st" "$out" "$where"
fi
out=$(as_user bash -c "mkdir $CG/$MEMBER/moved && echo $pid >$CG/$MEMBER/moved/cgroup.procs" 2>&1)
where=$(cat "/proc/$pid/cgroup" 2>/dev/null)
if [[ $where == "0::/$MEMBER/moved" ]]; then
	ok "the same move inside the member's own cgroup is allowed (the test can fail)"
else
	not_ok "a move inside the member's own cgroup" "$out" "$where"
fi
kill "$bg" 2>/dev/null
wait "$bg" 2>/dev/null
kill "$pid" 2>/dev/null
for ((i = 0; i < 50; i++)); do
	[ -z "$(cat "$CG/$MEMBER/moved/cgroup.procs" 2>/dev/null)" ] && break
	sleep 0.1
done
rmdir "$CG/$MEMBER/moved" 2>/dev/null
rm "$T/labs/$LAB2.conf"

# The user's layer holder stays in the login cgroup it was started from
# (labrun(1), LAYER HOLDER): ended first, as a user logging out would.
as_user "$LABRUN" --stop-holders >/dev/null 2>&1 || true
# Removing the lab removes its tree.
rm "$T/labs/$LAB.conf"
"$LP" -c "$T/labrun.conf" apply --rules "$T/rules" >/dev/null 2>&1
check "an apply without any lab removes labrun's cgroups" test ! -d "$CG/labrun"
rm -rf "$T"
[ "$failed" -eq 0 ]
