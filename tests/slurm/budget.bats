#!/usr/bin/env bats
# budget.bats - the lab budgets that labrun-policy sync puts into Slurm's
# accounting, enforced by slurmctld on the multi-node cluster of
# scripts/slurm-local.sh (issue 14, item 3): a member whose GPU-minutes,
# used and asked for, would pass their monthly gpu-hours has new GPU jobs
# held with Slurm's reason while their CPU jobs run; the lab's total holds
# every member; the monthly reset (driven here: the usage set to 0, as
# PriorityUsageResetPeriod does) lets them run; cores at once are counted
# across nodes.
#
# Runs as root; the jobs run as the test users, with --account=LAB.  The
# test's lab (lrbudget) and the slurmdb users it added are removed at the
# end; it refuses to run when the accounting holds labrun accounts of
# others, which its syncs would remove.

load slurm

LAB=lrbudget
WORK_ROOT=/var/tmp
USER2=labrun-test2

setup_file() {
	SKIP_REASON=$(why_skip)
	[ -n "$SKIP_REASON" ] || [ -x "$(dirname "$LABRUN")/labrun-policy" ] ||
		SKIP_REASON="labrun-policy was not built beside labrun"
	[ -n "$SKIP_REASON" ] || id "$USER2" >/dev/null 2>&1 ||
		SKIP_REASON="no second test user $USER2 (scripts/setup-test-env.sh)"
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	"$SLURM_LOCAL" start --nodes 3
	sync_setup_file "^$LAB\$" "$TEST_USER" "$USER2"
}

teardown_file() {
	[ -z "$SKIP_REASON" ] || return 0
	sync_teardown_file "$LAB"
}

# as USER CMD...: CMD as USER, from a directory every node has.
as() {
	local u=$1
	shift
	(cd /var/tmp && setpriv --reuid="$u" --regid="$u" --init-groups --reset-env \
		env PATH=/usr/local/bin:/usr/bin:/bin "$@")
}

# budget LAB-GPU-HOURS MEMBER-GPU-HOURS: the lab (both test users, 4
# cores and 4 GPUs at once, 2 each), synced.
budget() {
	cat >"$LABS/$LAB.conf" <<-EOF
		[lab]
		members = $TEST_USER, $USER2
		cores = 4
		gpus = 4
		gpu-hours = $1
		[defaults]
		cores = 2
		gpus = 2
		gpu-hours = $2
	EOF
	chmod 644 "$LABS/$LAB.conf"
	"$POLICY" -d "$LABS" sync
}

# reason JOB: the job's state and Slurm's reason, "STATE REASON".
reason() { squeue -h -j "$1" -o '%T %r'; }
# held JOB WHY: the job pends for WHY (slurmctld may take a moment to say).
held() { wait_for 30 bash -c "[ \"\$(squeue -h -j $1 -o '%T %r')\" = 'PENDING $2' ]"; }
running() { wait_for 30 bash -c "[ \"\$(squeue -h -j $1 -o %T)\" = RUNNING ]"; }
submit() {
	local u=$1 job
	shift
	job=$(as "$u" sbatch --parsable -A "$LAB" -o /dev/null "$@") || return 1
	JOBS+=("$job")
	echo "$job"
}
# gpu_minutes USER: the GPU-minutes Slurm counts used by USER in the lab.
gpu_minutes() {
	scontrol show assoc_mgr users="$1" accounts="$LAB" flags=assoc 2>/dev/null |
		grep -o 'gres/gpu=[0-9N]*([0-9]*)' | tail -1 | sed 's/.*(\(.*\))/\1/'
}

@test "GPU jobs past a member's GPU-hours are held with Slurm's reason; CPU jobs run" {
	budget 10 1
	local big small cpu
	# 2 GPUs x 31 min = 62 GPU-minutes, past the member's 60.
	big=$(submit "$TEST_USER" --gres=gpu:2 -t 31 --wrap 'sleep 120')
	small=$(submit "$TEST_USER" --gres=gpu:1 -t 20 --wrap 'sleep 120')
	cpu=$(submit "$TEST_USER" -c 1 -t 600 --wrap 'sleep 120')
	held "$big" AssocGrpGRESMinutes || { reason "$big"; false; }
	running "$small" || { reason "$small"; false; }
	running "$cpu" || { reason "$cpu"; false; }
	scancel "$big" "$small" "$cpu"
}

@test "used GPU-minutes count; the lab's total holds every member; the monthly reset lets them run" {
	budget 1 1
	# One GPU-minute used by the first member: 2 GPUs for 30 s.
	run as "$TEST_USER" srun -A "$LAB" --gres=gpu:2 -t 1 sleep 30
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# Slurm adds a job's usage at its next PriorityCalcPeriod (1 min here).
	wait_for 90 bash -c "[ \"\$(scontrol show assoc_mgr users=$TEST_USER accounts=$LAB flags=assoc |
		grep -o 'gres/gpu=60([0-9]*)' | tail -1)\" != 'gres/gpu=60(0)' ]" ||
		{ scontrol show assoc_mgr users="$TEST_USER" accounts="$LAB" flags=assoc; false; }
	# 60 GPU-minutes more: within the member's 60 alone, past it with
	# what was used; and past the lab's 60 for the other member too.
	local mine theirs
	mine=$(submit "$TEST_USER" --gres=gpu:2 -t 30 --wrap 'sleep 120')
	theirs=$(submit "$USER2" --gres=gpu:2 -t 30 --wrap 'sleep 120')
	held "$mine" AssocGrpGRESMinutes || { reason "$mine"; false; }
	held "$theirs" AssocGrpGRESMinutes || { reason "$theirs"; false; }
	# The monthly reset: the usage of the lab and its members back to 0.
	sacctmgr -i modify account "$LAB" set RawUsage=0 >/dev/null
	sacctmgr -i modify user "$TEST_USER" where account="$LAB" set RawUsage=0 >/dev/null
	# One of the two runs now (both would pass the lab's 60 together).
	wait_for 60 bash -c "squeue -h -j $mine,$theirs -o %T | grep -qx RUNNING" ||
		{ reason "$mine"; reason "$theirs"; false; }
	scancel "$mine" "$theirs"
}

@test "a member's cores at once are counted across the nodes" {
	budget 10 1
	local a b both
	a=$(submit "$TEST_USER" -N1 -w labrun-node1 -c 2 -t 10 --wrap 'sleep 120')
	running "$a" || { reason "$a"; false; }
	# Another node has cores free; the member has none left.
	b=$(submit "$TEST_USER" -N1 -w labrun-node2 -c 1 -t 10 --wrap 'sleep 120')
	held "$b" AssocGrpCpuLimit || { reason "$b"; false; }
	scancel "$a" "$b"
	# Two nodes of 2 cores each at once: more than the member's 2.
	both=$(submit "$TEST_USER" -N2 --ntasks-per-node=1 -c 2 -t 10 --wrap 'sleep 120')
	held "$both" AssocGrpCpuLimit || { reason "$both"; false; }
	scancel "$both"
}
