#!/usr/bin/env bats
# quota.bats - the labs' quotas for real (DESIGN.md §5, issue 5): as root,
# `labrun-policy apply` builds the cgroup tree of a test lab; labrun then
# runs as the test user (TEST_USER) inside it, and the kernel holds it to
# the member's limits.  Runs on the machine's cgroup version: v1 here (the
# v2 writers are tested in the VM, tests/vm/).
#
# These tests own labrun's cgroup tree while they run: they refuse to start
# when it holds labs they did not make (a machine with a real policy).

load helpers

LAB=lrtest
: "${TEST_USER:?run by tests/launcher/run-bats as root}"
LP=$(dirname "$LABRUN")/labrun-policy

# bats 1.8 cannot skip from setup_file: the reason is kept for setup.
setup_file() {
	local d
	for d in /sys/fs/cgroup/memory/labrun/* /sys/fs/cgroup/labrun/*; do
		if [ ! -d "$d" ] || [ "$(basename "$d")" = "$LAB" ]; then
			continue
		fi
		export QUOTA_SKIP="labrun's cgroup tree holds the lab $(basename "$d") of this machine: these tests would remove it"
	done
}

# Runs as root, unlike the launcher tests: the host-state checks look at the
# test user's processes, and at the cgroups of the test lab.
lr_procs() {
	local me=$BASHPID
	ps -u "$TEST_USER" -o pid=,ppid=,stat=,comm= |
		awk -v me="$me" '$1 != me && $2 != me && $3 !~ /^Z/ { print $1, $4 }' | sort
}

# The container cgroups left in the member's cgroup, in any hierarchy.
job_cgroups() {
	find /sys/fs/cgroup/ -mindepth 2 -maxdepth 5 -type d -path "*/labrun/$LAB/*/job-*" \
		2>/dev/null
}

# (wait_for runs a command: these are evaluated each time.)
has_job_cgroup() { [ -n "$(job_cgroups)" ]; }
no_job_cgroup() { [ -z "$(job_cgroups)" ]; }
owned_by_user() { [ "$(stat -c %U "/proc/$1" 2>/dev/null)" = "$TEST_USER" ]; }

setup() {
	[ -z "${QUOTA_SKIP:-}" ] || skip "$QUOTA_SKIP"
	lr_setup
	T=$(mktemp -d /tmp/labrun-root.XXXXXX)
	chmod 755 "$T"
	mkdir "$T/labs"
	LR_CONF=$T/labrun.conf
	write_conf "$LR_CONF" "layer-store = $IMAGES/store" "policy-dir = $T/labs"
	chmod -R a+rX "$T"
	RULES=$T/cgrules.conf
	# cgroups the test user's labrun runs in: the ones of this member
	V1=/sys/fs/cgroup
	MEMBER=labrun/$LAB/$TEST_USER
}

teardown() {
	[ -z "${QUOTA_SKIP:-}" ] || return 0
	local rc=0
	# The test user's layer holders stay in the cgroup labrun was started
	# in, which apply removes below: ended first.
	as_user "$LABRUN" --stop-holders || rc=1
	lr_teardown || rc=1
	# The cleaner removes a container's cgroup once it empties.
	if ! wait_for 10 no_job_cgroup; then
		echo "container cgroups left behind:"
		job_cgroups
		rc=1
	fi
	if [ -n "${SAVED_RULES:-}" ]; then
		if [ -e "$SAVED_RULES" ]; then
			cp -a "$SAVED_RULES" /etc/cgrules.d/labrun.conf
		else
			rm -f /etc/cgrules.d/labrun.conf
		fi
		[ -z "${MADE_CGRULES:-}" ] || rm -f /etc/cgrules.conf
	fi
	# No lab named: apply removes the test lab's cgroups.
	rm -f "$T"/labs/*.conf
	"$LP" -d "$T/labs" apply --rules "$RULES" >/dev/null || rc=1
	# (setup_file made sure the test lab was the only one.)
	if [ -n "$(find /sys/fs/cgroup/ -maxdepth 2 -type d -name labrun 2>/dev/null)" ]; then
		echo "labrun's cgroups are left after an apply without any lab:"
		find /sys/fs/cgroup/ -maxdepth 3 -type d -path "*/labrun*"
		rc=1
	fi
	[ -z "${LOOP:-}" ] || losetup -d "$LOOP" || rc=1
	rm -rf "$T"
	return $rc
}

# lab TEXT: the test lab's file, from stdin.
lab() {
	cat >"$T/labs/$LAB.conf"
	chmod 644 "$T/labs/$LAB.conf"
}
apply() {
	run --separate-stderr "$LP" -d "$T/labs" apply --rules "$RULES" "$@"
}
# as_user CMD...: CMD as the test user, in a fresh environment.
as_user() {
	setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
		env -i PATH=/usr/bin:/bin HOME="$T" LANG=C.UTF-8 "$@"
}
# user_bg VAR CMD...: CMD as the test user in the background, the pid (of
# CMD itself: setpriv and env exec it) in VAR; teardown ends it.
user_bg() {
	local var=$1
	shift
	setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
		env -i PATH=/usr/bin:/bin HOME="$T" LANG=C.UTF-8 "$@" </dev/null &
	printf -v "$var" '%s' "$!"
	LR_BG_PIDS+=("$!")
}
# ulr ARGS...: labrun as the test user, with the test's config.
ulr() {
	as_user timeout -k 5 "$LR_TIMEOUT" "$LABRUN" -c "$LR_CONF" "$@" </dev/null
}
cg() { # cg CONTROLLER FILE: a file of the member's cgroup
	cat "$V1/$1/$MEMBER/$2"
}

@test "apply: the lab and member cgroups, their limits, delegation; a second apply changes nothing" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	cores = 2
	memory = 1G
	[defaults]
	cores = 1
	memory = 256M
	swap = 64M
	processes = 64
	EOF
	apply --dry-run
	assert_status 0
	assert_output_contains "would create labrun/$LAB/$TEST_USER"
	[ ! -d "$V1/memory/labrun/$LAB" ]
	apply
	assert_status 0
	assert_output_contains "delegate labrun/$LAB/$TEST_USER to $TEST_USER"
	[ "$(cg memory memory.limit_in_bytes)" = $((256 << 20)) ]
	[ "$(cg memory memory.memsw.limit_in_bytes)" = $((320 << 20)) ]
	[ "$(cg pids pids.max)" = 64 ]
	[ "$(cg cpu cpu.cfs_quota_us)" = 100000 ]
	[ "$(cat "$V1/cpu/labrun/$LAB/cpu.cfs_quota_us")" = 200000 ]
	[ "$(cat "$V1/memory/labrun/$LAB/memory.limit_in_bytes")" = $((1 << 30)) ]
	# The member's: the directory and the files that move processes;
	# root's: the limits.
	for c in cpu cpuacct cpuset memory pids blkio devices; do
		[ "$(stat -c %U "$V1/$c/$MEMBER")" = "$TEST_USER" ]
		[ "$(stat -c %U "$V1/$c/$MEMBER/cgroup.procs")" = "$TEST_USER" ]
		[ "$(stat -c %U "$V1/$c/$MEMBER/tasks")" = "$TEST_USER" ]
		[ "$(stat -c %U "$V1/$c/$MEMBER/login")" = "$TEST_USER" ]
	done
	[ "$(stat -c %U "$V1/memory/$MEMBER/memory.limit_in_bytes")" = root ]
	run as_user sh -c "echo -1 > $V1/memory/$MEMBER/memory.limit_in_bytes"
	[ "$status" -ne 0 ]
	[ "$(cg memory memory.limit_in_bytes)" = $((256 << 20)) ]
	grep -qxF "$TEST_USER	cpu,cpuacct,cpuset,memory,pids,blkio,devices	$MEMBER/login" "$RULES"
	apply
	assert_status 0
	assert_output "nothing to change: the cgroups match the policy"
}

@test "apply: a raised and a lowered allocation are both written, whatever the order the kernel needs" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	cores = 1
	[defaults]
	memory = 64M
	swap = 0
	EOF
	apply
	assert_status 0
	# More memory than the old memory+swap, more cores than the old lab
	# total: memsw and the lab's quota must go first.
	lab <<-EOF
	[lab]
	members = $TEST_USER
	cores = 2
	[defaults]
	cores = 2
	memory = 512M
	swap = 0
	EOF
	apply
	assert_status 0
	[ "$(cg memory memory.limit_in_bytes)" = $((512 << 20)) ]
	[ "$(cg cpu cpu.cfs_quota_us)" = 200000 ]
	# And back down: the member's quota must go first.
	lab <<-EOF
	[lab]
	members = $TEST_USER
	cores = 1
	[defaults]
	memory = 32M
	swap = 0
	EOF
	apply
	assert_status 0
	[ "$(cg memory memory.limit_in_bytes)" = $((32 << 20)) ]
	[ "$(cg memory memory.memsw.limit_in_bytes)" = $((32 << 20)) ]
	[ "$(cg cpu cpu.cfs_quota_us)" = 100000 ]
}

@test "apply: a broken policy applies nothing and says where; labrun refuses to start under it" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 64M
	EOF
	printf '[lab]\nmembers = x\n[defaults]\nmemory = lots\n' >"$T/labs/broken.conf"
	chmod 644 "$T/labs/broken.conf"
	apply
	assert_status 1
	[[ $stderr == *"$T/labs/broken.conf:4:"*"nothing applied"* ]] || { lr_show; false; }
	[ -z "$output" ]
	[ ! -d "$V1/memory/labrun/$LAB" ]
	run --separate-stderr ulr "$BB" true
	assert_labrun_error "broken.conf:4:" "no container can start"
	rm "$T/labs/broken.conf"
	# A lab file the users cannot read: refused too, saying why.
	chmod 600 "$T/labs/$LAB.conf"
	run --separate-stderr ulr "$BB" true
	assert_labrun_error "$LAB.conf: Permission denied" "must be readable by every user"
}

@test "labrun: a member without their cgroup is told what the admin must run" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 64M
	EOF
	run --separate-stderr ulr "$BB" true
	assert_labrun_error "lab $LAB sets quotas for $TEST_USER" "labrun-policy apply"
	# A member of two labs names one.
	apply
	cp "$T/labs/$LAB.conf" "$T/labs/lrtest2.conf"
	run --separate-stderr ulr "$BB" true
	assert_labrun_error "member of several labs \\($LAB, lrtest2\\)" "--lab"
	run --separate-stderr ulr --lab nolab "$BB" true
	assert_labrun_error "--lab nolab: you are not a member"
	rm "$T/labs/lrtest2.conf"
	run --separate-stderr ulr --lab "$LAB" "$BB" true
	assert_status 0
}

@test "labrun: the container runs in its own cgroup inside the member's, removed after" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 128M
	EOF
	apply
	run --separate-stderr ulr "$BB" cat /proc/self/cgroup
	assert_status 0
	[[ $output =~ memory:/$MEMBER/job-[0-9]+/c($'\n'|$) ]] || { lr_show; false; }
	[[ $output =~ pids:/$MEMBER/job-[0-9]+($'\n'|$) ]] || { lr_show; false; }
	# teardown checks the job cgroup is gone
	# --quota shows what the member's cgroup holds now.
	run --separate-stderr as_user "$LABRUN" -c "$LR_CONF" --quota
	assert_status 0
	assert_output_contains "memory        128M"
	[[ $output =~ "in use now on "[^:]*": memory "[0-9.]+[KMG]?", processes "[0-9]+", CPU time " ]] ||
		{ lr_show; false; }
}

@test "labrun: a member through a unix group of theirs runs in their cgroup too" {
	local grp
	grp=$(id -Gn "$TEST_USER" | tr ' ' '\n' | grep -vx "$TEST_USER" | head -1)
	[ -n "$grp" ] || skip "$TEST_USER has no supplementary group (scripts/setup-test-env.sh)"
	lab <<-EOF
	[lab]
	members = @$grp
	[defaults]
	memory = 128M
	EOF
	apply
	run --separate-stderr ulr "$BB" cat /proc/self/cgroup
	assert_status 0
	[[ $output =~ memory:/$MEMBER/job-[0-9]+ ]] || { lr_show; false; }
}

@test "memory: a hog is killed at the member's limit, and nothing else is" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 64M
	swap = 0
	EOF
	apply
	# Another container of the same member, idle, must survive.
	local idle
	user_bg idle "$LABRUN" -c "$LR_CONF" "$BB" sleep 30
	wait_for 10 has_job_cgroup
	run --separate-stderr ulr "$IMAGES/probes.sqfs" /probes/hog 256
	# SIGKILL from the OOM killer: labrun dies of the job's signal too.
	[ "$status" -eq 137 ] || { lr_show; false; }
	[[ $output != *done* ]]
	local last
	last=$(tail -1 <<<"$output")
	[ "${last% MiB}" -le 64 ] || { lr_show; false; }
	# The member's cgroup reached its limit (v1 counts no failcnt for a
	# charge that ends in the OOM killer on this kernel).
	[ "$(cg memory memory.max_usage_in_bytes)" -eq $((64 << 20)) ]
	kill -0 "$idle"
}

# ---------------------------------------------------------------- out of memory (issue 12, item 3)
# A job that fills a tmpfs (/dev/shm, the writable layer) charges the lab's
# memory cgroup with pages that are no process's RSS: the OOM killer used
# to pick labrun, the FUSE server, and the user got 137 and no word.  The
# container must be what dies, and labrun must say why, in one line.

# lab_256m: the test lab gives the test user 256M and no swap.
lab_256m() {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 256M
	swap = 0
	EOF
	apply
}

# fill_until_oom PATH: as the test user, under a 256M lab, write zeros to
# PATH in the container until the memory cgroup is full.
fill_until_oom() {
	lab_256m
	# A tmpfs larger than the limit: the cgroup fills before the tmpfs.
	run --separate-stderr ulr --tmpfs-size 1G "$BB" sh -c "cat /dev/zero >$1; echo survived"
	[ "$status" -eq 137 ] || { lr_show; false; }
	[[ $output != *survived* ]] || { lr_show; false; }
	assert_error 137 'out of memory' 'limit of 256M' "lab $LAB"
}

@test "memory: filling /dev/shm kills the container, not labrun, and labrun says why" {
	fill_until_oom /dev/shm/fill
}

@test "memory: filling the writable layer kills the container, not labrun, and labrun says why" {
	fill_until_oom /fill
}

# The same fill by a job that first tries to undo labrun's OOM order: it
# lowers its own oom_score_adj to 0 (the kernel allows that) and the
# keeper's, PID 1's (it could: the launcher's keeper was dumpable, its
# /proc files the user's, and then the OOM killer took labrun: 137, no
# word).  In_login: labrun itself in the member's login cgroup, as
# libcgroup's PAM module puts a member's sessions, so that labrun is in
# the member's memory cgroup: then the container's share leaves labrun
# room, or the tmpfs the dead container leaves charged for a moment took
# labrun too (seen about one time in three before that share).
# in_login USER-CMD...: as the test user, from the member's login cgroup.
in_login() {
	bash -c 'echo $$ >"$1/memory/$2/login/cgroup.procs" && shift 2 && exec "$@"' \
		- "$V1" "$MEMBER" setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
		env -i PATH=/usr/bin:/bin HOME="$T" LANG=C.UTF-8 "$@"
}
fill_undoing_order() {
	lab_256m
	local job='echo 0 >/proc/1/oom_score_adj || echo keeper-kept; echo 0 >/proc/self/oom_score_adj &&
		cat /proc/1/oom_score_adj /proc/self/oom_score_adj; cat /dev/zero >/dev/shm/fill; echo survived'
	if [ "${1:-}" = in_login ]; then
		run --separate-stderr in_login timeout -k 5 "$LR_TIMEOUT" "$LABRUN" -c "$LR_CONF" \
			--tmpfs-size 1G "$BB" sh -c "$job" </dev/null
	else
		run --separate-stderr ulr --tmpfs-size 1G "$BB" sh -c "$job"
	fi
	[ "$status" -eq 137 ] || { lr_show; false; }
	# The keeper kept its 1000, the job's own went to 0, the job died.
	[ "$output" = $'keeper-kept\n1000\n0' ] || { lr_show; false; }
	[[ $stderr == *"Permission denied"* ]] || { lr_show; false; }
	[[ $(tail -1 <<<"$stderr") == "labrun: out of memory"*"limit of 256M"*"lab $LAB"* ]] ||
		{ lr_show; false; }
	# From the login cgroup the line gives the container's share.
	if [ "${1:-}" = in_login ]; then
		[[ $(tail -1 <<<"$stderr") == *"of it for the container, the rest for labrun"* ]] ||
			{ lr_show; false; }
	fi
}

@test "memory: a job that lowers its OOM score and fills /dev/shm still dies alone, labrun says why" {
	fill_undoing_order
}

@test "memory: the same with labrun in the member's login cgroup, in the memory that fills" {
	# Three times: the race it guards against did not show every time.
	fill_undoing_order in_login
	fill_undoing_order in_login
	fill_undoing_order in_login
}

@test "memory: labrun stays out of the container's memory cgroup, whose limit leaves it room" {
	lab_256m
	in_login "$LABRUN" -c "$LR_CONF" "$BB" sleep 20 </dev/null >/dev/null 2>&1 &
	wait_for 10 has_job_cgroup
	local job inside lr
	job=$(basename "$(find "$V1/memory/$MEMBER" -maxdepth 1 -name 'job-*' | head -1)")
	wait_for 10 has_tasks "$V1/memory/$MEMBER/$job/c"
	lr=${job#job-}
	LR_BG_PIDS+=("$lr")
	inside=$(head -1 "$V1/memory/$MEMBER/$job/c/tasks")
	# labrun: still in the login cgroup for memory, in job-PID for the rest.
	grep -qx "[0-9]*:memory:/$MEMBER/login" "/proc/$lr/cgroup" || { cat "/proc/$lr/cgroup"; false; }
	grep -qx "[0-9]*:pids:/$MEMBER/$job" "/proc/$lr/cgroup" || { cat "/proc/$lr/cgroup"; false; }
	# A container process (the keeper or the job): in job-PID/c.
	grep -qx "[0-9]*:memory:/$MEMBER/$job/c" "/proc/$inside/cgroup" || { cat "/proc/$inside/cgroup"; false; }
	# job-PID's limit: the member's 256M less labrun's own, at most a quarter.
	local limit
	limit=$(cat "$V1/memory/$MEMBER/$job/memory.limit_in_bytes")
	echo "container's limit $limit"
	[ "$limit" -lt $((256 << 20)) ] && [ "$limit" -ge $((192 << 20)) ]
	kill "$lr"
	wait_for 10 no_job_cgroup
}

@test "memory: a hog killed at the limit is named as out of memory too" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 64M
	swap = 0
	EOF
	apply
	run --separate-stderr ulr "$IMAGES/probes.sqfs" /probes/hog 256
	assert_error 137 'out of memory' 'limit of 64M' "lab $LAB"
}

@test "processes: a fork bomb stops at the member's limit" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	processes = 30
	EOF
	apply
	run --separate-stderr ulr "$BB" sh -c \
		'n=0; while [ $n -lt 100 ]; do sleep 3 & n=$((n+1)); done; echo started; wait'
	[[ $stderr == *"can't fork"* || $stderr == *"Resource temporarily unavailable"* ]] ||
		{ lr_show; false; }
	[ "$(cg pids pids.peak)" -eq 30 ] || { echo "pids.peak $(cg pids pids.peak)"; false; }
}

@test "cores: the container gets the placed cores, and its CPU time stays within the quota" {
	local ncpu
	ncpu=$(nproc --all)
	[ "$ncpu" -ge 2 ] || skip "needs 2 CPUs, this machine has $ncpu"
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	cores = 1
	EOF
	apply
	local before after
	before=$(cg cpuacct cpuacct.usage)
	# Two spinners for 3 s: on one core they share it.
	run --separate-stderr ulr -v "$BB" sh -c \
		'grep Cpus_allowed_list /proc/self/status
		 timeout 3 sh -c "while :; do :; done" & timeout 3 sh -c "while :; do :; done"; wait'
	after=$(cg cpuacct cpuacct.usage)
	local placed
	placed=$(sed -n 's/.*lab [a-z0-9]*: cores \([0-9,-]*\) of .*/\1/p' <<<"$stderr")
	[ -n "$placed" ] || { lr_show; false; }
	[[ $output == *"Cpus_allowed_list:	$placed"* ]] || { lr_show; false; }
	[[ $placed =~ ^[0-9]+$ ]]
	# 3 s of one core, and some slack for the start.
	local used_ms=$(((after - before) / 1000000))
	echo "CPU time used: $used_ms ms"
	[ "$used_ms" -le 3500 ] || { echo "CPU time $used_ms ms over 3 s on 1 core"; false; }
	[ "$used_ms" -ge 2000 ]
}

@test "login rules: libcgroup's classifier puts the member's processes in their login cgroup" {
	command -v cgclassify >/dev/null || skip "cgclassify not installed (cgroup-tools)"
	lab <<-EOF
	[lab]
	members = $TEST_USER
	EOF
	# The machine's rules files are put back by teardown.
	mkdir -p /etc/cgrules.d
	SAVED_RULES=$T/saved-rules
	[ ! -e /etc/cgrules.d/labrun.conf ] || cp -a /etc/cgrules.d/labrun.conf "$SAVED_RULES"
	[ -e /etc/cgrules.conf ] || MADE_CGRULES=1
	run "$LP" -d "$T/labs" apply
	assert_status 0
	local pid
	user_bg pid sleep 20
	wait_for 5 owned_by_user "$pid"
	cgclassify "$pid"
	local cls
	cls=$(grep '^[0-9]*:memory:' "/proc/$pid/cgroup")
	[ "$cls" = "4:memory:/$MEMBER/login" ] || [[ $cls == *":memory:/$MEMBER/login" ]] ||
		{ echo "sleep is in $cls"; false; }
}

@test "apply: a member dropped from the policy loses their cgroup, kept while it has processes" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	EOF
	apply
	sleep 30 &
	local pid=$!
	LR_BG_PIDS+=("$pid")
	echo "$pid" >"$V1/pids/$MEMBER/login/cgroup.procs"
	lab <<-EOF
	[lab]
	members = nobody
	EOF
	apply
	assert_status 0
	assert_output_contains "keep $MEMBER: not in the policy, but it still has processes"
	[ -d "$V1/pids/$MEMBER" ]
	kill "$pid"
	wait "$pid" || true
	apply
	assert_output_contains "remove $MEMBER"
	for c in cpu cpuacct cpuset memory pids blkio devices; do
		[ ! -d "$V1/$c/$MEMBER" ]
	done
}

@test "apply: only root applies; --dry-run works for anyone" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	EOF
	run --separate-stderr as_user "$LP" -d "$T/labs" apply --rules "$T/r"
	assert_status 1
	[[ $stderr == *"only root can change cgroups"* ]]
	run --separate-stderr as_user "$LP" -d "$T/labs" apply --dry-run --rules "$T/r"
	assert_status 0
	assert_output_contains "would create labrun/$LAB/$TEST_USER"
	[ ! -e "$T/r" ]
}

# open_as_member DEVICE...: as the test user in the member's login cgroup
# (as after a login placed there by libcgroup's PAM module), open each
# DEVICE read-write; one line each, "DEVICE: OK" or bash's strerror.
open_as_member() {
	(
		for c in cpu cpuacct cpuset memory pids blkio devices; do
			echo "$BASHPID" >"$V1/$c/$MEMBER/login/cgroup.procs" || exit 1
		done
		as_user bash -c 'for d; do (exec 3<>"$d") 2>/dev/null && echo "$d: OK" ||
			echo "$d: $( (exec 3<>"$d") 2>&1 | sed "s/.*: //")"; done' - "$@"
	)
}

@test "gpus: the member's GPU opens (no driver: ENXIO), the others are denied (EPERM)" {
	local i
	for i in 0 1 2 3; do
		rm -f "$T/gpu$i"
		mknod -m 666 "$T/gpu$i" c 195 "$i"
	done
	write_conf "$LR_CONF" "layer-store = $IMAGES/store" "policy-dir = $T/labs" \
		"gpu-devices = $T/gpu[0-9]*"
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	gpus = 1
	EOF
	run "$LP" -c "$LR_CONF" plan
	assert_output_contains "gpus = $T/gpu0 (of 4; the others denied)"
	run --separate-stderr "$LP" -c "$LR_CONF" apply --rules "$RULES"
	assert_status 0
	run --separate-stderr open_as_member "$T/gpu0" "$T/gpu1" "$T/gpu3"
	[[ $output == *"$T/gpu0: No such device"* ]] || { lr_show; false; } # ENXIO or ENODEV
	[[ $output == *"$T/gpu1: Operation not permitted"* ]] || { lr_show; false; } # EPERM
	[[ $output == *"$T/gpu3: Operation not permitted"* ]] || { lr_show; false; }
	# The same nodes outside the member's cgroup: no driver, for all.
	run as_user bash -c "(exec 3<>$T/gpu1) 2>&1"
	[[ $output == *"No such device"* ]] || { lr_show; false; }
	# In a container: the member's GPU is there as a device node, the
	# others are not.
	run --separate-stderr ulr "$BB" sh -c \
		"(exec 3<>$T/gpu0) 2>&1; ls $T/gpu1 2>&1; grep ' $T/gpu0 ' /proc/self/mountinfo"
	[[ ${lines[0]} == *"No such device or address"* ]] || { lr_show; false; }
	[[ ${lines[1]} == *"No such file or directory"* ]] || { lr_show; false; }
	[[ ${lines[2]} == *nosuid* && ${lines[2]} != *nodev* ]] || { lr_show; false; }
	# More GPUs for the member: a re-apply gives them.
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	gpus = 3
	EOF
	run --separate-stderr "$LP" -c "$LR_CONF" apply --rules "$RULES"
	assert_status 0
	run --separate-stderr open_as_member "$T/gpu0" "$T/gpu2" "$T/gpu3"
	[[ $output == *"$T/gpu2: No such device"* ]] || { lr_show; false; }
	[[ $output == *"$T/gpu3: Operation not permitted"* ]] || { lr_show; false; }
}

# dd_rate DD-ARGS...: dd's bytes per second, from its summary line.
dd_rate() {
	local line bytes secs
	line=$("$@" 2>&1 | grep copied) || return 1
	bytes=${line%% bytes*}
	secs=$(sed -E 's/.*copied, ([0-9.]+) s.*/\1/' <<<"$line")
	awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%d\n", b / s }'
}

@test "disk I/O: direct writes and reads to a loop device are held near the member's rates" {
	truncate -s 32M "$T/disk.img"
	local dev
	dev=$(losetup -f --show "$T/disk.img")
	LOOP=$dev # for teardown's losetup -d
	chmod 666 "$dev"
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	io-write-bps = $dev 1M
	io-read-bps = $dev 2M
	EOF
	apply
	assert_status 0
	local w r
	w=$(
		echo "$BASHPID" >"$V1/blkio/$MEMBER/login/cgroup.procs"
		dd_rate as_user dd if=/dev/zero of="$dev" bs=64k count=40 oflag=direct
	)
	r=$(
		echo "$BASHPID" >"$V1/blkio/$MEMBER/login/cgroup.procs"
		dd_rate as_user dd if="$dev" of=/dev/null bs=64k count=80 iflag=direct
	)
	echo "write $w B/s (limit 1 MiB/s), read $r B/s (limit 2 MiB/s)"
	# Within 30 % of the limit: 2.5 MiB take 2.5 s, 5 MiB 2.5 s.
	[ "$w" -ge $((1048576 * 7 / 10)) ] && [ "$w" -le $((1048576 * 13 / 10)) ]
	[ "$r" -ge $((2097152 * 7 / 10)) ] && [ "$r" -le $((2097152 * 13 / 10)) ]
	# Unthrottled outside the member's cgroups.
	w=$(dd_rate dd if=/dev/zero of="$dev" bs=64k count=40 oflag=direct)
	[ "$w" -gt $((1048576 * 4)) ]
	# A container's cgroup gets the rates too (v1 throttling is not
	# hierarchical: labrun copies them).
	run --separate-stderr ulr "$BB" sh -c \
		'p=$(sed -n "s/^[0-9]*:blkio://p" /proc/self/cgroup)
		 cat /sys/fs/cgroup/blkio$p/blkio.throttle.write_bps_device'
	assert_status 0
	local devnum
	devnum=$(printf '%d:%d' "0x$(stat -c %t "$dev")" "0x$(stat -c %T "$dev")")
	[ "$output" = "$devnum 1048576" ] || { lr_show; false; }
}

@test "storage: a filesystem without disk quotas is named, and the rest is applied" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 96M
	storage = $T 1G
	EOF
	apply
	assert_status 1
	[[ $stderr == "labrun-policy: apply: storage $T for $TEST_USER: $T: "*"(not applied; the rest is)" ]] ||
		{ lr_show; false; }
	[ "$(cg memory memory.limit_in_bytes)" = $((96 << 20)) ]
	run --separate-stderr "$LP" -d "$T/labs" plan
	assert_output_contains "storage $T = 1G (disk quota)"
}

@test "teardown: after a failed start and after SIGKILL of labrun, no container cgroup is left" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 128M
	EOF
	apply
	# Fails in the container, after its cgroup was made.
	run --separate-stderr ulr --workdir /no/such/dir "$BB" true
	assert_labrun_error "/no/such/dir"
	wait_for 10 no_job_cgroup
	# labrun killed while the job runs: the keeper, the job and the
	# cgroup go (the cleaner waits for them).
	local pid
	user_bg pid "$LABRUN" -c "$LR_CONF" "$BB" sleep 30
	wait_for 10 has_job_cgroup
	sleep 0.3
	kill -KILL "$pid"
	wait "$pid" || true
	wait_for 10 no_job_cgroup
	# teardown checks that no process of the user is left
}

@test "concurrent: 10 containers of one member start at once, each in its own cgroup, none left" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 512M
	cores = 1
	EOF
	apply
	local i pids=()
	for i in $(seq 10); do
		as_user timeout 30 "$LABRUN" -c "$LR_CONF" "$BB" sh -c \
			'sed -n "s/^[0-9]*:memory://p" /proc/self/cgroup' >"$T/out.$i" 2>&1 </dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	cat "$T"/out.* | sort | uniq -c
	[ "$(cat "$T"/out.* | grep -c "^/$MEMBER/job-[0-9]*/c$")" -eq 10 ]
	[ "$(cat "$T"/out.* | sort -u | wc -l)" -eq 10 ]
}

@test "io-weight: BFQ's weight on v1, or a note that this kernel has none" {
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	io-weight = 300
	EOF
	apply
	assert_status 0
	if [ -e "$V1/blkio/$MEMBER/blkio.bfq.weight" ]; then
		[[ "$(cg blkio blkio.bfq.weight)" =~ (^|[^0-9])300$ ]] ||
			{ cg blkio blkio.bfq.weight; false; }
		apply
		assert_output "nothing to change: the cgroups match the policy"
	else
		assert_output_contains "io-weight left out: the kernel's blkio has no weight here"
	fi
}

# ------------------------------------------------------------ two labs (issue 12, item 11)

# cgroup v1 checks only write access to the target's tasks file when a
# process moves (v2 also wants the common ancestor's cgroup.procs, root's
# "labrun": tests/vm/cgroup2.sh), so a member who owned a cgroup in two labs
# could move a running container from one lab's limits into the other's.
# On v1, apply gives a member of several labs no cgroup of their own and
# takes back what it gave before (DECISIONS.md): the move is refused.
in_tasks() { # in_tasks PID CGROUP-DIR: PID is in that v1 cgroup
	grep -qx "$1" "$2/tasks"
}
# (test -s cannot tell: cgroup files have size 0)
has_tasks() { [ -n "$(cat "$1/tasks" 2>/dev/null)" ]; }
no_tasks() { ! has_tasks "$1"; }
@test "two labs: a member's running container cannot be moved into the other lab's cgroup" {
	[ -d "$V1/memory" ] || skip "not cgroup v1: tests/vm/cgroup2.sh shows v2 refusing the move"
	lab <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 64M
	EOF
	apply
	assert_status 0
	# A container under the member's one lab, in a cgroup of theirs.
	local pid job victim c
	user_bg pid "$LABRUN" -c "$LR_CONF" "$BB" sleep 60
	wait_for 10 has_job_cgroup
	# (job-PID; in memory's hierarchy the container is in job-PID/c)
	job=$(job_cgroups | grep "^$V1/memory/.*/job-[0-9]*$" | head -1)
	wait_for 10 has_tasks "$job/c"
	victim=$(tail -1 "$job/c/tasks")
	# A second lab, with more memory, names the member too.
	cat >"$T/labs/lrtest2.conf" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 1G
	EOF
	chmod 644 "$T/labs/lrtest2.conf"
	apply
	assert_status 0
	local applied=$output
	# The member tries to move the container into the other lab: into
	# its member cgroup, its login cgroup, or a cgroup of their own there.
	for c in memory pids cpu; do
		run as_user sh -c "echo $victim >$V1/$c/labrun/lrtest2/$TEST_USER/tasks"
		[ "$status" -ne 0 ] || { echo "moved into lrtest2 ($c)"; false; }
		run as_user sh -c "echo $victim >$V1/$c/labrun/lrtest2/$TEST_USER/login/tasks"
		[ "$status" -ne 0 ] || { echo "moved into lrtest2's login ($c)"; false; }
		run as_user mkdir "$V1/$c/labrun/lrtest2/$TEST_USER/mine"
		[ "$status" -ne 0 ] || { echo "made a cgroup in lrtest2 ($c)"; false; }
		local in=${job/\/memory\//\/$c\/}
		[ "$c" != memory ] || in=$job/c
		in_tasks "$victim" "$in" || { echo "not in its job cgroup ($c)"; false; }
	done
	# Nor back into a cgroup of the first lab it could leave later.
	run as_user mkdir "$V1/memory/$MEMBER/mine"
	[ "$status" -ne 0 ]
	# What apply said, and whose the cgroups are now: root's, in both labs.
	[[ $applied == *"note: $TEST_USER is a member of 2 labs ($LAB, lrtest2): on cgroup v1 none of their cgroups is delegated to them"* ]] ||
		{ echo "$applied"; false; }
	[[ $applied == *"take back $MEMBER from $TEST_USER"* ]] || { echo "$applied"; false; }
	[ "$(stat -c %U "$V1/memory/$MEMBER/tasks" "$V1/memory/$MEMBER/login/tasks" "$job/tasks" \
		"$V1/memory/labrun/lrtest2/$TEST_USER/tasks" | sort -u)" = root ]
	# labrun without Slurm does not start for them on v1, and says so.
	run --separate-stderr ulr --lab lrtest2 "$BB" true
	assert_labrun_error "not delegated to you" "on cgroup v1 it delegates none to a member of several labs"
	# The container ends; its cgroup, no longer the member's to remove,
	# goes at the next apply.
	kill "$pid"
	wait "$pid" || true
	wait_for 10 no_tasks "$job"
	apply
	assert_status 0
	wait_for 10 no_job_cgroup
}
