#!/usr/bin/env bats
# basic.bats - the single-node Slurm of scripts/slurm-local.sh itself, before
# labrun's plugin comes in (issue 6): the test user's jobs run, the node's
# fake GPUs are handed out one per request and the devices cgroup hides the
# others, batch jobs run to the end, and scancel leaves nothing behind.
#
# Runs as root: it starts the cluster (setup_file) and looks at the host's
# processes and cgroups; the jobs themselves run as the unprivileged
# TEST_USER (labrun-test, made by scripts/setup-test-env.sh).  The cluster
# is left running for the next file.

load slurm

@test "srun -N1 true runs as the test user and succeeds" {
	run as_user srun -N1 true
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run as_user srun -N1 id -un
	[ "$status" -eq 0 ]
	[ "$output" = "$TEST_USER" ]
}

@test "srun reports the task's exit status" {
	run as_user srun -N1 sh -c 'exit 3'
	echo "$output"
	[ "$status" -eq 3 ]
	[[ $output == *"task 0: Exited with exit code 3"* ]]
}

@test "srun -n 2 --overcommit hostname: two tasks on this node" {
	run as_user srun -n 2 --overcommit hostname
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "$(hostname)" ]
	[ "${lines[1]}" = "$(hostname)" ]
}

# count_cpus LIST: how many CPUs a list like 0-1,4 names.
count_cpus() {
	local n=0 r
	for r in ${1//,/ }; do
		if [[ $r == *-* ]]; then
			n=$((n + ${r#*-} - ${r%-*} + 1))
		else
			n=$((n + 1))
		fi
	done
	echo "$n"
}

@test "a one-task step is confined to one core (ConstrainCores)" {
	local threads
	threads=$(scontrol -o show node "$(hostname -s)" | grep -o 'ThreadsPerCore=[0-9]*')
	run as_user srun -n 1 sh -c 'grep ^Cpus_allowed_list: /proc/self/status'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ ^Cpus_allowed_list:[[:space:]]+([0-9,-]+)$ ]]
	# CR_Core: one core, with all its hardware threads.
	[ "$(count_cpus "${BASH_REMATCH[1]}")" -eq "${threads#*=}" ]
}

@test "a step that uses more memory than it asked for is killed (ConstrainRAMSpace)" {
	# ConstrainSwapSpace is off: with swap, the step would swap instead.
	[ "$(awk '/^SwapTotal:/ { print $2 }' /proc/meminfo)" = 0 ] ||
		skip "this machine has swap: the step would use it rather than be killed"
	# shellcheck disable=SC2016 # expanded by the step's shell
	run as_user srun --mem=50M sh -c 'v=$(head -c 200M /dev/zero | tr "\0" x); echo survived'
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output != *survived* ]]
	[[ $output == *"task 0: Out Of Memory"* ]]
}

@test "outside Slurm the fake GPUs are device nodes no driver answers (ENXIO)" {
	local i
	for ((i = 0; i < GPUS; i++)); do
		[ -c "$GPU_DEV$i" ]
		[ "$(stat -c '%t:%T %a' "$GPU_DEV$i")" = "c3:$(printf %x "$i") 666" ]
		run as_user sh -c ": < $GPU_DEV$i"
		echo "$output"
		[ "$status" -ne 0 ]
		[[ $output == *"No such device or address"* ]]
	done
}

@test "srun --gres=gpu:1 gets one GPU; the devices cgroup denies the other three" {
	local i allocated
	# Each open in a subshell: dash leaves at a failed redirection of ':'.
	run as_user srun --gres=gpu:1 sh -c \
		"echo \"CUDA_VISIBLE_DEVICES=\$CUDA_VISIBLE_DEVICES SLURM_STEP_GPUS=\$SLURM_STEP_GPUS\"
		 for i in \$(seq 0 $((GPUS - 1))); do (: < $GPU_DEV\$i) 2>&1; done; true"
	echo "$output"
	[ "$status" -eq 0 ]
	# ConstrainDevices renumbers what CUDA sees from 0; SLURM_STEP_GPUS
	# names the node's device.
	[[ ${lines[0]} =~ ^CUDA_VISIBLE_DEVICES=0\ SLURM_STEP_GPUS=([0-9])$ ]]
	allocated=${BASH_REMATCH[1]}
	[ "$allocated" -lt "$GPUS" ]
	[ "${#lines[@]}" -eq $((GPUS + 1)) ]
	for ((i = 0; i < GPUS; i++)); do
		if [ "$i" = "$allocated" ]; then
			# Allowed by the cgroup, and then no driver: ENXIO.
			[[ ${lines[i + 1]} == *"$GPU_DEV$i: No such device or address" ]]
		else
			[[ ${lines[i + 1]} == *"$GPU_DEV$i: Operation not permitted" ]]
		fi
	done
}

@test "a step asking for more GPUs than the node has is refused" {
	run as_user srun --gres=gpu:$((GPUS + 1)) true
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"Requested node configuration is not available"* ]]
}

@test "sbatch --wait runs a batch script to the end and returns its status" {
	cat >"$WORK/job.sh" <<'EOF'
#!/bin/sh
echo "batch on $(hostname) as $(id -un)"
srun sh -c 'echo "step $SLURM_STEP_ID"'
EOF
	cat >"$WORK/fail.sh" <<'EOF'
#!/bin/sh
exit 3
EOF
	chmod 755 "$WORK/job.sh" "$WORK/fail.sh"
	run as_user sbatch --wait --quiet -o "$WORK/job.out" "$WORK/job.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	cat "$WORK/job.out"
	[ "$(sed -n 1p "$WORK/job.out")" = "batch on $(hostname) as $TEST_USER" ]
	[ "$(sed -n 2p "$WORK/job.out")" = "step 0" ]
	[ "$(stat -c %U "$WORK/job.out")" = "$TEST_USER" ]

	run as_user sbatch --wait --quiet -o /dev/null "$WORK/fail.sh"
	echo "$output"
	[ "$status" -eq 3 ]
}

@test "scancel of a running batch job with a step leaves nothing behind" {
	local id marker="sleep 4242"
	cat >"$WORK/long.sh" <<EOF
#!/bin/sh
srun $marker
EOF
	chmod 755 "$WORK/long.sh"
	run as_user sbatch --parsable -o "$WORK/long.out" "$WORK/long.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ ^[0-9]+$ ]]
	id=$output
	JOBS+=("$id")
	wait_for "$CMD_TIMEOUT" job_running "$id"
	# The step's task runs: the batch step and step 0 have their stepds.
	wait_for "$CMD_TIMEOUT" user_runs "$marker"
	[ -n "$(job_stepds "$id")" ]
	[ -n "$(job_cgroups "$id")" ]

	run scancel "$id"
	[ "$status" -eq 0 ]
	if ! wait_for "$CLEANUP_TIMEOUT" nothing_left "$id" "$marker"; then
		echo "left behind by job $id ($(job_state "$id")):"
		squeue -j "$id" || true
		ps -o pid,user,args -p "$(job_stepds "$id") $(user_procs_matching "$marker")" || true
		job_cgroups "$id"
		false
	fi
	[ "$(job_state "$id")" = CANCELLED ]
}
