#!/usr/bin/env bats
# quota.bats - a lab member's quota on a Slurm step in a container
# (spank_labrun(8), "Lab quotas"; lib/quota/step_quota.c, plugin/root.c): a step
# with more cores or GPUs on the node than the member's is refused before
# anything runs; the step's memory cgroup is lowered to the member's (never
# raised) and a hog dies there; the step's tasks count against the member's
# processes in the pids cgroup `labrun-policy apply` made (v1), in a cgroup
# of the step's that goes with it; a member of two labs chooses one; a user
# of no lab is left alone.
#
# Runs as root, like container.bats, whose setup it repeats (the plugin is
# installed for this file only, with a labrun.conf naming this file's
# policy directory and the node's fake GPUs); the jobs run as the test user.
# Like tests/root/quota.bats, these tests own labrun's cgroup tree while
# they run: they refuse to start when it holds labs they did not make, and
# each test leaves none of it behind.

load slurm

LAB=lrtest
LAB2=lrtest2
# The member's pids cgroup that `labrun-policy apply` makes.
PIDS=/sys/fs/cgroup/pids/labrun

# Why the lab quotas cannot be tested here, if the cluster can.
why_skip_quota() {
	local d why
	why=$(why_no_plugin)
	[ -z "$why" ] || {
		echo "$why"
		return
	}
	[ -x "$(dirname "$LABRUN")/labrun-policy" ] || {
		echo "labrun-policy was not built beside labrun"
		return
	}
	[ -d /sys/fs/cgroup/pids ] || {
		echo "no cgroup v1 pids hierarchy (/sys/fs/cgroup/pids): the step's quota is tested on v1 hosts"
		return
	}
	for d in /sys/fs/cgroup/*/labrun/*; do
		[ -d "$d" ] || continue
		case $(basename "$d") in "$LAB" | "$LAB2") continue ;; esac
		echo "labrun's cgroup tree holds the lab $(basename "$d") of this machine: these tests would remove it"
		return
	done
}

setup_file() {
	SKIP_REASON=$(why_skip)
	[ -n "$SKIP_REASON" ] || SKIP_REASON=$(why_skip_quota)
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	"$SLURM_LOCAL" start
	mkdir -p "$PLUGIN_DIR"
	# The lab files: readable by every user (labrun-step reads them as
	# the job's user).
	LABS=$PLUGIN_DIR/quota-labs
	rm -rf "$LABS"
	mkdir -m 755 "$LABS"
	CONF=$PLUGIN_DIR/quota.conf
	printf 'policy-dir = %s\ngpu-devices = %s[0-9]*\n' "$LABS" "$GPU_DEV" >"$CONF"
	chmod 644 "$CONF"
	RULES=$PLUGIN_DIR/quota-cgrules.conf
	export LABS CONF RULES
	plugin_config_save
	install_plugin config="$CONF"
	IMG=$(mktemp -d /tmp/labrun-slurm-img.XXXXXX)
	chmod 755 "$IMG"
	cp "$IMAGES/busybox.sqfs" "$IMAGES/probes.sqfs" "$IMG/"
	chmod 644 "$IMG"/*
	BB=$IMG/busybox.sqfs
	PROBES=$IMG/probes.sqfs
	export IMG BB PROBES
}

teardown_file() {
	[ -z "$SKIP_REASON" ] || return 0
	plugin_config_restore
	rm -rf "${IMG:?}" "$CONF" "$RULES" "$LABS"
}

setup() {
	[ -z "$SKIP_REASON" ] || skip "$SKIP_REASON"
	WORK=$(mktemp -d /tmp/labrun-slurm.XXXXXX)
	chown "$TEST_USER:" "$WORK"
	chmod 755 "$WORK"
	JOBS=()
	rm -f "$LABS"/*.conf
}

# No step cgroup of this file's left in the member's cgroups.
step_pids_cgroups() { find "$PIDS" -mindepth 3 -maxdepth 3 -type d -name 'slurm-*' 2>/dev/null; }
no_step_pids_cgroup() { [ -z "$(step_pids_cgroups)" ]; }
labrun_cgroups() { find /sys/fs/cgroup/ -mindepth 2 -maxdepth 2 -type d -name labrun 2>/dev/null; }

# slurm.bash's, and then: no step cgroup left, and an apply of no lab
# leaves nothing of labrun's cgroups.
teardown() {
	local id rc=0
	[ -n "${WORK:-}" ] || return 0
	for id in "${JOBS[@]}"; do
		scancel "$id" 2>/dev/null || true
	done
	if ! wait_for "$CLEANUP_TIMEOUT" no_step_pids_cgroup; then
		echo "step cgroups left behind:"
		step_pids_cgroups
		rc=1
	fi
	rm -f "$LABS"/*.conf
	"$(dirname "$LABRUN")/labrun-policy" -c "$CONF" apply --rules "$RULES" >/dev/null || rc=1
	if [ -n "$(labrun_cgroups)" ]; then
		echo "labrun's cgroups are left after an apply without any lab:"
		find /sys/fs/cgroup/ -maxdepth 3 -type d -path "*/labrun*"
		rc=1
	fi
	rm -rf "$WORK"
	return $rc
}

# lab NAME: the lab file NAME.conf, from stdin.
lab() {
	cat >"$LABS/$1.conf"
	chmod 644 "$LABS/$1.conf"
}
apply() {
	run "$(dirname "$LABRUN")/labrun-policy" -c "$CONF" apply --rules "$RULES"
	echo "$output"
	[ "$status" -eq 0 ]
}

# srun_c ARGS...: srun ARGS as the test user, into run's status/output.
srun_c() {
	run as_user srun --quiet "$@"
	echo "srun $*"
	echo "status $status"
	echo "$output"
}

# refused ARGS... MESSAGE: srun ARGS in a container that would touch a
# marker fails with a "labrun: " line containing MESSAGE, and nothing ran.
refused() {
	local msg=${*: -1}
	set -- "${@:1:$#-1}"
	mkdir -p "$WORK/out"
	chown "$TEST_USER:" "$WORK/out"
	srun_c "$@" --container="$BB" --container-mounts="$WORK/out:/out" touch /out/ran
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: "*"$msg"* ]]
	[ ! -e "$WORK/out/ran" ]
}

# The task's shell: the step's memory limit (/sys is the host's, read-only)
# and its pids cgroup (relative to the container's cgroup namespace).
# shellcheck disable=SC2016 # expanded by the task's shell
SHOW='echo "job=$SLURM_JOB_ID"
echo "mem=$(cat /sys/fs/cgroup/memory/slurm*/uid_$(id -u)/job_$SLURM_JOB_ID/step_$SLURM_STEP_ID/memory.limit_in_bytes)"
echo "pids=$(sed -n "s/^[0-9]*:pids://p" /proc/self/cgroup)"
'
mem_of() { grep -o '^mem=[0-9]*' <<<"$1" | head -1 | cut -d= -f2; }
pids_of() { sed -n 's/^pids=//p' <<<"$1" | head -1; }

# ------------------------------------------------------------ cores, GPUs

@test "cores: a step with more cores than the member's is refused before it runs; within them it runs" {
	lab "$LAB" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	cores = 1
	EOF
	apply
	refused -c 2 \
		"lab $LAB allows you 1 cores, and this step has 2 on this node: ask for fewer (srun -n, -c); the task was not run"
	srun_c -c 1 --container="$BB" sh -c 'grep Cpus_allowed_list /proc/self/status'
	[ "$status" -eq 0 ]
	[[ $output =~ ^Cpus_allowed_list:$'\t'[0-9]+$ ]]
}

@test "gpus: a step with more GPUs than the member's is refused before it runs; within them it runs" {
	lab "$LAB" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	gpus = 1
	EOF
	apply
	refused --gres=gpu:2 "lab $LAB allows you 1 GPUs, and this step has 2 on this node"
	# shellcheck disable=SC2016 # expanded by the task's shell
	srun_c --gres=gpu:1 --container="$BB" sh -c 'echo "gpus=$SLURM_STEP_GPUS"'
	[ "$status" -eq 0 ]
	[[ $output =~ ^gpus=[0-3]$ ]]
}

# ------------------------------------------------------------ memory

@test "memory: the step's limit is lowered to the member's, never raised" {
	lab "$LAB" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 300M
	EOF
	apply
	# Slurm's: DefMemPerCPU, gigabytes.
	srun_c --container="$BB" sh -c "$SHOW"
	[ "$status" -eq 0 ]
	[ "$(mem_of "$output")" = $((300 << 20)) ]
	# Below the member's: Slurm's stays.
	srun_c --mem=200M --container="$BB" sh -c "$SHOW"
	[ "$status" -eq 0 ]
	[ "$(mem_of "$output")" = $((200 << 20)) ]
}

@test "memory: a hog is killed at the member's memory; below it, it finishes" {
	lab "$LAB" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	memory = 300M
	EOF
	apply
	srun_c --container="$PROBES" /probes/hog 600
	[ "$status" -ne 0 ]
	[[ $output != *done* ]]
	# It did allocate, up to the limit and no further.
	[[ $output == *$'\n100 MiB\n'* ]]
	local last
	last=$(grep -o '^[0-9]* MiB$' <<<"$output" | tail -1)
	[ "${last% MiB}" -le 300 ]
	# And the user is told why, once, with the limit and the lab (issue
	# 12: a bare "Killed" before).
	[ "$(grep -c 'labrun: the step ran out of memory' <<<"$output")" -eq 1 ]
	[[ $output == *"labrun: the step ran out of memory: the kernel killed "*" of its processes at its memory limit (300 MiB, lab $LAB's memory quota)"* ]]
	srun_c --container="$PROBES" /probes/hog 200
	[ "$status" -eq 0 ]
	[ "$(tail -1 <<<"$output")" = "done" ]
	[[ $output != *"out of memory"* ]]
}

# ------------------------------------------------------------ processes

@test "processes: the tasks run in a cgroup of the step's in the member's, which goes with the step" {
	lab "$LAB" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	processes = 20
	EOF
	apply
	srun_c -n 2 --overcommit --container="$BB" sh -c "$SHOW"
	[ "$status" -eq 0 ]
	local job
	job=$(job_of "$output")
	[[ $job =~ ^[0-9]+$ ]]
	# Both tasks.
	[ "$(grep -c "^pids=.*/labrun/$LAB/$TEST_USER/slurm-$job\.0$" <<<"$output")" -eq 2 ]
	wait_for "$CLEANUP_TIMEOUT" test ! -e "$PIDS/$LAB/$TEST_USER/slurm-$job.0"
	[ -d "$PIDS/$LAB/$TEST_USER" ]
}

@test "processes: a fork loop in a step stops at the member's processes" {
	lab "$LAB" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	processes = 20
	EOF
	apply
	# shellcheck disable=SC2016 # expanded by the task's shell
	srun_c --container="$BB" sh -c 'echo "job=$SLURM_JOB_ID"
		n=0; while [ $n -lt 60 ]; do sleep 30 & n=$((n + 1)); done; echo started'
	[[ $output == *"can't fork"* || $output == *"Resource temporarily unavailable"* ]]
	[ "$(cat "$PIDS/$LAB/$TEST_USER/pids.peak")" -eq 20 ]
	# The step's sleeps went with its container, and its cgroup with them.
	local job
	job=$(job_of "$output")
	[[ $job =~ ^[0-9]+$ ]]
	wait_for "$CLEANUP_TIMEOUT" test ! -e "$PIDS/$LAB/$TEST_USER/slurm-$job.0"
	wait_for "$CLEANUP_TIMEOUT" nothing_left "$job" "sleep 30"
}

@test "processes: the batch step of sbatch --container runs in slurm-JOB.batch" {
	lab "$LAB" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	processes = 20
	EOF
	apply
	printf '#!/bin/sh\n%s' "$SHOW" >"$WORK/job.sh"
	chmod 755 "$WORK/job.sh"
	run as_user sbatch --wait --quiet -o "$WORK/job.out" --container="$BB" "$WORK/job.sh"
	echo "$output"
	local out job
	out=$(cat "$WORK/job.out")
	echo "$out"
	[ "$status" -eq 0 ]
	job=$(job_of "$out")
	[[ $job =~ ^[0-9]+$ ]]
	[[ $(pids_of "$out") == *"/labrun/$LAB/$TEST_USER/slurm-$job.batch" ]]
	wait_for "$CLEANUP_TIMEOUT" test ! -e "$PIDS/$LAB/$TEST_USER/slurm-$job.batch"
}

@test "processes: a member whose cgroup is missing is told to have 'labrun-policy apply' run" {
	lab "$LAB" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	processes = 20
	EOF
	refused "lab $LAB: your cgroup $PIDS/$LAB/$TEST_USER is missing on this node: an admin must run 'labrun-policy apply'"
}

# ------------------------------------------------------------ several labs, none

@test "several labs: the step is refused until one is chosen; the chosen lab's quota applies" {
	lab "$LAB" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	cores = 1
	memory = 300M
	EOF
	lab "$LAB2" <<-EOF
	[lab]
	members = $TEST_USER
	[defaults]
	cores = 2
	memory = 200M
	EOF
	apply
	refused -c 2 "you are a member of several labs ($LAB, $LAB2): choose one with --container-lab"
	refused -c 2 --container-lab=nolab "--container-lab nolab: you are not a member of that lab"
	refused -c 2 --container-lab="$LAB" "lab $LAB allows you 1 cores, and this step has 2"
	srun_c -c 2 --container-lab="$LAB2" --container="$BB" sh -c "$SHOW"
	[ "$status" -eq 0 ]
	[ "$(mem_of "$output")" = $((200 << 20)) ]
	[[ $(pids_of "$output") == *"/labrun/$LAB2/$TEST_USER/slurm-$(job_of "$output").0" ]]
	# The variable stands for the option.
	run as_user env LABRUN_CONTAINER_LAB="$LAB2" srun --quiet -c 2 --container="$BB" sh -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(mem_of "$output")" = $((200 << 20)) ]
	[[ $(pids_of "$output") == *"/labrun/$LAB2/$TEST_USER/slurm-$(job_of "$output").0" ]]
}

@test "no lab: a user no lab names runs as Slurm allows, outside labrun's cgroups" {
	lab "$LAB" <<-EOF
	[lab]
	members = nobody
	[defaults]
	cores = 1
	memory = 300M
	processes = 20
	EOF
	apply
	srun_c -c 2 --container="$BB" sh -c "$SHOW"
	[ "$status" -eq 0 ]
	local mem
	mem=$(mem_of "$output")
	[[ $mem =~ ^[0-9]+$ ]]
	[ "$mem" -gt $((300 << 20)) ]
	[[ $(pids_of "$output") == /* ]]
	[[ $(pids_of "$output") != *labrun* ]]
	[ ! -e "$PIDS/$LAB/$TEST_USER" ]
}
