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
	# in the job's extern step, not in a step that ended
	grep -q 'job_[0-9]*/step_extern' "$WORK/cgroup"
	assert_job_gone "$(job_of "$(cat "$WORK/job.out")")"
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
