#!/bin/bash
# oom2.sh - out of memory under a lab's limit on cgroup v2 (issue 12, item
# 3): run by tests/vm/vm.sh as root in a VM whose kernel has the v2 memory
# controller (this build host's v2 hierarchy has none).  Prints TAP.
#
# A job that fills /dev/shm or the writable layer (tmpfs: pages charged to
# the cgroup, in nobody's RSS) used to make the OOM killer pick labrun, the
# FUSE server; now the container dies and labrun says why in one line,
# from memory.events' oom_kill (doc/DECISIONS.md, "Out of memory").  As
# tests/root/quota.bats does on v1.
set -u

: "${top_builddir:?run by tests/vm/vm.sh}"
LP=$top_builddir/launcher/labrun-policy
LABRUN=$top_builddir/launcher/labrun
IMAGES=$top_builddir/tests/build/images
USER_=labrun-test
LAB=lroom
CG=/sys/fs/cgroup
MEMBER=labrun/$LAB/$USER_

# shellcheck source=tests/vm/tap.bash
. "$(dirname "$0")/tap.bash"

echo "1..5"
for b in "$LP" "$LABRUN"; do
	[ -x "$b" ] || { echo "Bail out! $b not built"; exit 1; }
done
id "$USER_" >/dev/null 2>&1 || { echo "Bail out! no user $USER_ (scripts/setup-test-env.sh)"; exit 1; }
chmod 666 /dev/fuse 2>/dev/null

T=$(mktemp -d /tmp/oom2.XXXXXX)
chmod 755 "$T"
mkdir "$T/labs"
printf 'policy-dir = %s\nlayer-store = %s/store\n' "$T/labs" "$IMAGES" >"$T/labrun.conf"
cat >"$T/labs/$LAB.conf" <<EOF2
[lab]
members = $USER_
[defaults]
memory = 64M
swap = 0
EOF2
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

out=$("$LP" -c "$T/labrun.conf" apply --rules "$T/rules" 2>&1)
[ $? -eq 0 ] && ok "apply: a lab with 64M" || not_ok "apply" "$out"

# fill PATH [PREFIX]: the container runs PREFIX (shell commands), then
# writes zeros to PATH until the cgroup is full.
fill() {
	local err st pre=${2:-}
	# labrun's stderr alone: not the shell's "Killed" about labrun's
	# death by the job's signal.
	: >"$T/err"
	chown "$USER_" "$T/err"
	in_login sh -c 'exec "$@" 2>"$0"' "$T/err" "$LABRUN" -c "$T/labrun.conf" --tmpfs-size 1G \
		"$IMAGES/busybox.sqfs" sh -c "$pre cat /dev/zero >$1; echo survived" >/dev/null 2>&1 </dev/null
	st=$?
	err=$(cat "$T/err")
	if [ "$st" -eq 137 ] && [ "$(wc -l <<<"$err")" -eq 1 ] &&
		[[ $err == "labrun: out of memory"*"limit of 64M"*"lab $LAB"*", "*" of it for the container, the rest for labrun"* ]]; then
		ok "filling $1${pre:+ after '$pre'}: the container dies, labrun says why"
	else
		not_ok "filling $1${pre:+ after '$pre'}: the container dies, labrun says why" \
			"status $st" "$err"
	fi
}
fill /dev/shm/fill
fill /fill
# A job that tries to undo the OOM order first (tests/root/quota.bats has
# the same on v1): the keeper's value is out of its reach, its own it may
# lower to 0.
fill /dev/shm/fill '{ echo 0 >/proc/1/oom_score_adj; } 2>/dev/null; echo 0 >/proc/self/oom_score_adj;'

# The user's layer holder stays in the login cgroup it was started from
# (labrun(1), LAYER HOLDER): ended first, as a user logging out would.
as_user "$LABRUN" --stop-holders >/dev/null 2>&1 || true
rm "$T/labs/$LAB.conf"
"$LP" -c "$T/labrun.conf" apply --rules "$T/rules" >/dev/null 2>&1
if [ ! -d "$CG/labrun" ]; then
	ok "an apply without any lab removes labrun's cgroups"
else
	not_ok "an apply without any lab removes labrun's cgroups" "$(ls -R "$CG/labrun" | head)"
fi
rm -rf "$T"
[ "$failed" -eq 0 ]
