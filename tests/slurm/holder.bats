#!/usr/bin/env bats
# holder.bats - a Slurm job's layer holder (spank_labrun(8), "LAYER
# HOLDER"; issue 13): the job's first container step on a node starts it in
# the job's extern step, the job's later steps use its mounts, and it goes
# when the job ends, however it ends; nothing of it is left on the node.
#
# Runs as root, like container.bats (the plugin is installed for this file
# only); the jobs run as the test user.

load slurm

setup_file() {
	SKIP_REASON=$(why_skip)
	[ -n "$SKIP_REASON" ] || SKIP_REASON=$(why_no_plugin)
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	"$SLURM_LOCAL" start
	plugin_config_save
	install_plugin
	IMG=$(mktemp -d /tmp/labrun-slurm-img.XXXXXX)
	chmod 755 "$IMG"
	cp "$IMAGES"/beside/* "$IMG/"
	chmod 644 "$IMG"/*
	export IMG
}

teardown_file() {
	[ -z "$SKIP_REASON" ] || return 0
	plugin_config_restore
	rm -rf "${IMG:?}"
}

# The test user's live holders, one pid per line (zombies left out).
holders() {
	ps -u "$TEST_USER" -o pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 == "labrun-holder" { print $1 }'
}
no_holder() { [ -z "$(holders)" ]; }
# job_gone JOB: not queued, no slurmstepd, no cgroup, no holder.
job_gone() {
	! job_queued "$1" && [ -z "$(job_stepds "$1")" ] && [ -z "$(job_cgroups "$1")" ] && no_holder
}
assert_job_gone() {
	wait_for 30 job_gone "$1" && return 0
	echo "left behind by job $1: stepds $(job_stepds "$1"), cgroups $(job_cgroups "$1")," \
		"holders $(holders)"
	return 1
}

@test "the steps of a job share the holder its first step started; it ends with the job" {
	no_holder || skip "the test user has holders already: $(holders)"
	cat >"$WORK/job.sh" <<-EOF
		#!/bin/sh
		echo "job=\$SLURM_JOB_ID"
		srun --container=$IMG/top.sqfs cat /layers/top
		ps -u "\$(id -u)" -o pid=,stat=,comm= | awk '\$2 !~ /^Z/ && \$3 == "labrun-holder" { print \$1 }' >$WORK/h1
		srun --container=$IMG/top.sqfs cat /layers/base
		ps -u "\$(id -u)" -o pid=,stat=,comm= | awk '\$2 !~ /^Z/ && \$3 == "labrun-holder" { print \$1 }' >$WORK/h2
		grep -c ' - fuse.labrun ' /proc/\$(cat $WORK/h2)/mountinfo >$WORK/mounts
		cat /proc/\$(cat $WORK/h2)/cgroup >$WORK/cgroup
	EOF
	chmod 755 "$WORK/job.sh"
	run as_user sbatch --wait --quiet -o "$WORK/job.out" "$WORK/job.sh"
	cat "$WORK/job.out"
	[ "$status" -eq 0 ]
	grep -qx top "$WORK/job.out"
	grep -qx base "$WORK/job.out"
	local h1 h2
	h1=$(cat "$WORK/h1")
	h2=$(cat "$WORK/h2")
	echo "holders after step 0: '$h1', after step 1: '$h2'"
	[ -n "$h1" ] && [ "$h1" = "$h2" ]
	[ "$(wc -l <<<"$h1")" = 1 ]
	# top, mid, base: mounted once for both steps
	[ "$(cat "$WORK/mounts")" = 3 ]
	# in the job's cgroup above its steps, not in a step (whose end, or a
	# signal to the whole job, would kill it: jobholder.c)
	grep -q ':freezer:.*/job_[0-9]*$' "$WORK/cgroup" || { cat "$WORK/cgroup"; false; }
	local job
	job=$(job_of "$(cat "$WORK/job.out")")
	[ -n "$job" ]
	assert_job_gone "$job"
}

@test "scancel ends the job's holder, and nothing of the job is left" {
	no_holder || skip "the test user has holders already: $(holders)"
	cat >"$WORK/long.sh" <<-EOF
		#!/bin/sh
		srun --container=$IMG/top.sqfs true
		sleep 300
	EOF
	chmod 755 "$WORK/long.sh"
	run as_user sbatch --parsable -o /dev/null "$WORK/long.sh"
	[ "$status" -eq 0 ]
	local job=$output
	JOBS+=("$job")
	wait_for 60 bash -c "ps -u $TEST_USER -o stat=,comm= | grep -q '^[^Z].* labrun-holder$'"
	scancel "$job"
	assert_job_gone "$job"
}

@test "signals sent to the whole job leave its holder serving the running container" {
	no_holder || skip "the test user has holders already: $(holders)"
	# scancel --signal reaches every step: the extern step's end used to
	# take the holder with it, and the task's next read of a layer was a
	# SIGBUS (doc/DECISIONS.md, "Signals and the layer holder").
	cat >"$WORK/sig.sh" <<-EOF
		#!/bin/sh
		echo "job=\$SLURM_JOB_ID"
		srun --container=$IMG/top.sqfs --container-mounts=$WORK:/w sh -c 'trap "" USR1 USR2 HUP INT
			echo up >/w/started
			i=0; while [ ! -e /w/go ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
			cat /layers/mid'
	EOF
	chmod 755 "$WORK/sig.sh"
	run as_user sbatch --parsable -o "$WORK/sig.out" "$WORK/sig.sh"
	[ "$status" -eq 0 ]
	local job=$output h sig
	JOBS+=("$job")
	wait_for 60 test -e "$WORK/started"
	h=$(holders)
	[ -n "$h" ]
	for sig in USR1 USR2 HUP INT; do
		scancel --signal="$sig" "$job"
	done
	# The extern step's end, which took the holder, came within a second.
	wait_for 2 false || true
	[ "$(holders)" = "$h" ] || { echo "holder $h is gone: now '$(holders)'"; false; }
	touch "$WORK/go"
	assert_job_gone "$job"
	cat "$WORK/sig.out"
	grep -qx mid "$WORK/sig.out"
}

@test "a job's holder has a socket named for the job, swept once the job has ended" {
	no_holder || skip "the test user has holders already: $(holders)"
	cat >"$WORK/a.sh" <<-EOF
		#!/bin/sh
		srun --container=$IMG/top.sqfs true
		sleep 300
	EOF
	chmod 755 "$WORK/a.sh"
	run as_user sbatch --parsable -o /dev/null "$WORK/a.sh"
	local a=$output
	JOBS+=("$a")
	wait_for 60 bash -c "[ -n \"\$(ps -u $TEST_USER -o stat=,comm= | grep -v '^Z' | grep labrun-holder)\" ]"
	local dir=/tmp/labrun-$(id -u "$TEST_USER")
	[ -d "/run/user/$(id -u "$TEST_USER")" ] && dir=/run/user/$(id -u "$TEST_USER")/labrun
	# the socket is named for the job
	[ -S "$dir/job-$a.sock" ]
	scancel "$a"
	assert_job_gone "$a"
	# the next job's holder sweeps the dead one's socket away
	run as_user srun --container="$IMG/top.sqfs" true
	[ "$status" -eq 0 ]
	[ ! -e "$dir/job-$a.sock" ] || { ls -l "$dir"; false; }
}

# helper_logged: the plugin's helper becomes a script that writes its
# arguments to $WORK/starts, then runs labrun-step; put back by
# helper_unlogged.
helper_logged() {
	install -m 0755 "$(dirname "$LABRUN")/labrun-step" "$PLUGIN_DIR/labrun-step.real"
	printf '#!/bin/sh\necho "$*" >>%s\nexec %s "$@"\n' "$WORK/starts" \
		"$PLUGIN_DIR/labrun-step.real" >"$PLUGIN_DIR/labrun-step-logged"
	chmod 755 "$PLUGIN_DIR/labrun-step-logged"
	"$SLURM_LOCAL" plugin "$PLUGIN_DIR/spank_labrun.so" helper="$PLUGIN_DIR/labrun-step-logged" >/dev/null
}
helper_unlogged() {
	install_plugin >/dev/null
	rm -f "$PLUGIN_DIR/labrun-step.real" "$PLUGIN_DIR/labrun-step-logged"
}
# probe_names: the abstract sockets named for the test user's job holders.
probe_names() {
	grep -o "@labrun-holder-$(id -u "$TEST_USER")-job-[0-9a-z-]*" /proc/net/unix | sort -u
}

@test "later steps find the job's holder on its probe socket, without starting labrun-step for it" {
	no_holder || skip "the test user has holders already: $(holders)"
	helper_logged
	cat >"$WORK/job.sh" <<-EOF
		#!/bin/sh
		echo "job=\$SLURM_JOB_ID"
		srun --container=$IMG/top.sqfs true
		grep -o "@labrun-holder-\$(id -u)-job-\$SLURM_JOB_ID\\\$" /proc/net/unix >$WORK/probe
		srun --container=$IMG/top.sqfs true
		srun --container=$IMG/top.sqfs cat /layers/base
	EOF
	chmod 755 "$WORK/job.sh"
	run as_user sbatch --wait --quiet -o "$WORK/job.out" "$WORK/job.sh"
	local st=$status
	helper_unlogged
	cat "$WORK/job.out" "$WORK/starts"
	[ "$st" -eq 0 ]
	grep -qx base "$WORK/job.out"
	local job
	job=$(job_of "$(cat "$WORK/job.out")")
	[ -n "$job" ]
	# the first step started the holder; every step ran its container
	[ "$(grep -c -- '--job-holder' "$WORK/starts")" = 1 ]
	[ "$(grep -vc -- '--job-holder' "$WORK/starts")" = 3 ]
	# the holder listened on its probe name, which goes with the job
	[ "$(cat "$WORK/probe")" = "@labrun-holder-$(id -u "$TEST_USER")-job-$job" ]
	assert_job_gone "$job"
	! probe_names | grep -q -- "-job-$job\$"
}

@test "a probe name another user took first only sends each step the old way" {
	no_holder || skip "the test user has holders already: $(holders)"
	id labrun-test2 >/dev/null 2>&1 || skip "no second test user labrun-test2 (scripts/setup-test-env.sh)"
	command -v python3 >/dev/null || skip "python3 missing"
	helper_logged
	cat >"$WORK/job.sh" <<-EOF
		#!/bin/sh
		echo "job=\$SLURM_JOB_ID"
		while [ ! -e $WORK/go ]; do sleep 0.1; done
		srun --container=$IMG/top.sqfs cat /layers/top
		ps -u "\$(id -u)" -o pid=,stat=,comm= | awk '\$2 !~ /^Z/ && \$3 == "labrun-holder" { print \$1 }' >$WORK/h1
		srun --container=$IMG/top.sqfs cat /layers/base
		ps -u "\$(id -u)" -o pid=,stat=,comm= | awk '\$2 !~ /^Z/ && \$3 == "labrun-holder" { print \$1 }' >$WORK/h2
	EOF
	chmod 755 "$WORK/job.sh"
	run as_user sbatch --parsable -o "$WORK/job.out" "$WORK/job.sh"
	[ "$status" -eq 0 ]
	local job=$output
	JOBS+=("$job")
	# Another user binds the job's probe name before its first step, and
	# answers there.
	local name="labrun-holder-$(id -u "$TEST_USER")-job-$job"
	cat >"$WORK/squat.py" <<-EOF
		import socket, time
		s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
		s.bind("\0$name")
		s.listen(16)
		open("$WORK/squatting", "w").close()
		s.settimeout(1)
		end = time.time() + 120
		while time.time() < end:
		    try:
		        s.accept()[0].close()
		    except OSError:
		        pass
	EOF
	chmod 644 "$WORK/squat.py"
	chmod 777 "$WORK"
	setpriv --reuid=labrun-test2 --regid=labrun-test2 --init-groups --reset-env \
		python3 "$WORK/squat.py" &
	local squatter=$!
	wait_for 20 test -e "$WORK/squatting"
	touch "$WORK/go"
	wait_for 120 bash -c "! squeue -h -j $job 2>/dev/null | grep -q ."
	kill "$squatter" 2>/dev/null || true
	wait "$squatter" 2>/dev/null || true
	helper_unlogged
	cat "$WORK/job.out" "$WORK/starts"
	grep -qx top "$WORK/job.out"
	grep -qx base "$WORK/job.out"
	# both steps asked through labrun-step, and shared the one holder
	[ "$(grep -c -- '--job-holder' "$WORK/starts")" = 2 ]
	[ -n "$(cat "$WORK/h1")" ] && [ "$(cat "$WORK/h1")" = "$(cat "$WORK/h2")" ]
	assert_job_gone "$job"
}
