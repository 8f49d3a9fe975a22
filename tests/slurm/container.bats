#!/usr/bin/env bats
# container.bats - `srun --container=IMAGE.sqfs CMD` with labrun's Slurm
# plugin (spank_labrun.so, DESIGN.md §4): the task runs inside the image
# with the image's environment, the exact exit status comes back, each
# --container-* option (and its LABRUN_CONTAINER_* variable) does what it
# says, the ranks of a step share one container (one labrun-step per node
# and step; their PIDs, /dev/shm and each other's memory), sbatch, --pty and
# GPUs work, and however a step ends (done, crashed, cancelled, its keeper
# killed) nothing of it stays on the host.
#
# Runs as root (like plugin.bats, whose setup it repeats: the plugin is
# installed for this file only); the jobs run as the test user.  The images
# are copied once to a world-readable directory of this file's.

load slurm


setup_file() {
	SKIP_REASON=$(why_skip)
	[ -n "$SKIP_REASON" ] || SKIP_REASON=$(why_no_plugin)
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	"$SLURM_LOCAL" start
	# The node's GPUs are the fake ones of scripts/slurm-local.sh.
	mkdir -p "$PLUGIN_DIR"
	printf 'gpu-devices = %s[0-9]*\n' "$GPU_DEV" >"$PLUGIN_DIR/container.conf"
	chmod 644 "$PLUGIN_DIR/container.conf"
	plugin_config_save
	install_plugin config="$PLUGIN_DIR/container.conf"
	# The step's helper opens the image as the test user: a world-readable
	# file in a world-traversable directory.  top.sqfs finds its two
	# parents beside it (sha256-*.sqfs), and so do the entrypoint images.
	IMG=$(mktemp -d /tmp/labrun-slurm-img.XXXXXX)
	chmod 755 "$IMG"
	cp "$IMAGES/busybox.sqfs" "$IMAGES/probes.sqfs" "$IMAGES"/beside/* "$IMG/"
	# shellcheck source=/dev/null # made by tests/images/build.sh
	. "$IMAGES/digests"
	cp "$IMAGES/busybox.sqfs" "$IMG/sha256-$BUSYBOX_DIGEST.sqfs"
	# On busybox: an entrypoint that leaves a line in /tmp, one that fails.
	entry_image entry-log '["/bin/sh","-c","echo entrypoint-ran >>/tmp/entry.log"]'
	entry_image entry-fail '["/bin/sh","-c","exit 5"]'
	chmod 644 "$IMG"/*
	BB=$IMG/busybox.sqfs
	PROBES=$IMG/probes.sqfs
	export IMG BB PROBES
}

# entry_image NAME ENTRYPOINT-JSON: $IMG/NAME.sqfs, a layer on busybox.sqfs
# with that entrypoint.
entry_image() {
	local d=$IMG/$1.d
	mkdir -p "$d/.labrun"
	printf '{"parent":"sha256:%s","config":{"entrypoint":%s}}\n' "$BUSYBOX_DIGEST" "$2" \
		>"$d/.labrun/layer.json"
	mksquashfs "$d" "$IMG/$1.sqfs" -noappend -quiet -no-progress -all-root >/dev/null
	rm -rf "$d"
}

teardown_file() {
	[ -z "$SKIP_REASON" ] || return 0
	plugin_config_restore
	rm -rf "${IMG:?}" "$PLUGIN_DIR/container.conf"
}

# srun_c ARGS...: srun ARGS as the test user, into run's status/output.
srun_c() {
	# --quiet: no "queued and waiting for resources" in the output.
	run as_user srun --quiet "$@"
	echo "srun $*"
	echo "status $status"
	echo "$output"
}

# A directory of the test user's, bound into containers by the tests.
user_dir() {
	mkdir -p "$WORK/$1"
	chown "$TEST_USER:" "$WORK/$1"
}

# ------------------------------------------------------------ what is left

fuse_conns() { find /sys/fs/fuse/connections -mindepth 1 -maxdepth 1 2>/dev/null | sort; }
host_mounts() { sort /proc/self/mountinfo; }
# Before a job: what container_gone compares with.
host_state() {
	FUSE_BEFORE=$(fuse_conns)
	MOUNTS_BEFORE=$(host_mounts)
}
# Live processes of the test user started from this file's images (the
# helper and the keeper name the image on their command line).
image_procs() {
	ps -u "$TEST_USER" -o pid=,stat=,args= | awk -v img="$IMG/" '$2 !~ /^Z/ && index($0, img)'
}
# image_comm_pids NAME: the pids of image_procs named NAME (labrun-step:
# the helper, labrun-keeper: the container's PID 1).
image_comm_pids() {
	ps -u "$TEST_USER" -o pid=,stat=,comm=,args= |
		awk -v img="$IMG/" -v name="$1" '$2 !~ /^Z/ && $3 == name && index($0, img) { print $1 }'
}
# container_gone JOB [MARKER]: nothing of JOB is left: not queued, no
# slurmstepd (the tasks' waiters are slurmstepd's forks), no cgroup, no
# helper or keeper, no process matching MARKER, no new FUSE connection or
# host mount (the container's FUSE mounts are gone with its last process).
container_gone() {
	! job_queued "$1" && [ -z "$(job_stepds "$1")" ] && [ -z "$(job_cgroups "$1")" ] &&
		[ -z "$(image_procs)" ] && { [ -z "${2:-}" ] || [ -z "$(user_procs_matching "$2")" ]; } &&
		[ "$(fuse_conns)" = "$FUSE_BEFORE" ] && [ "$(host_mounts)" = "$MOUNTS_BEFORE" ]
}
# assert_gone JOB [MARKER]: container_gone within CLEANUP_TIMEOUT, else
# what is left.
assert_gone() {
	[[ $1 =~ ^[0-9]+$ ]] || { echo "no job id ('$1')"; return 1; }
	wait_for "$CLEANUP_TIMEOUT" container_gone "$@" && return 0
	echo "left behind by job $1 ($(job_state "$1")):"
	squeue -j "$1" || true
	echo "stepds: $(job_stepds "$1")"
	echo "cgroups: $(job_cgroups "$1")"
	echo "processes: $(image_procs)"
	[ -z "${2:-}" ] || echo "matching $2: $(user_procs_matching "$2")"
	diff <(echo "$FUSE_BEFORE") <(fuse_conns) || true
	diff <(echo "$MOUNTS_BEFORE") <(host_mounts) || true
	return 1
}

# ------------------------------------------------------------ basics

@test "srun --container runs the command inside the image, not on the host" {
	[ -e /etc/slurm/slurm.conf ] # on the host
	srun_c --container="$BB" sh -c \
		'cat /etc/image-name; [ ! -e /etc/slurm/slurm.conf ] || echo host-visible'
	[ "$status" -eq 0 ]
	[ "$output" = busybox ]
}

@test "the exit status of the task comes back exactly" {
	srun_c --container="$BB" sh -c 'exit 7'
	[ "$status" -eq 7 ]
	[[ $output == *"task 0: Exited with exit code 7"* ]]
}

@test "a task killed by SIGSEGV is reported as a segmentation fault" {
	# shellcheck disable=SC2016 # expanded by the task's shell
	srun_c --container="$BB" sh -c 'kill -SEGV $$'
	[ "$status" -eq $((128 + 11)) ]
	[[ $output == *"task 0: Segmentation fault"* ]]
}

@test "a signal sent to the step reaches the command in the container" {
	local pid
	# shellcheck disable=SC2016 # expanded by the task's shell
	# The task gives up after 30 s without the signal.
	as_user srun --container="$BB" sh -c \
		'trap "echo got-usr1; exit 0" USR1; echo "job=$SLURM_JOB_ID"
		 i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; echo no-signal; exit 9' \
		>"$WORK/out" 2>&1 &
	pid=$!
	wait_for 60 grep -q job= "$WORK/out"
	# The step, not the whole job: a job's signal also ends its extern
	# step and the job's layer holder with it (spank_labrun(8), NOTES).
	scancel --signal=USR1 "$(job_of "$(cat "$WORK/out")").0"
	local st=0
	wait "$pid" || st=$?
	cat "$WORK/out"
	[ "$st" -eq 0 ]
	grep -qx got-usr1 "$WORK/out"
}

# ------------------------------------------------------------ environment

@test "the image's variables are set, and Slurm's are still there" {
	# top.sqfs: MIDVAR=mid (its parent's), SHARED=top (its own).
	# shellcheck disable=SC2016 # expanded by the task's shell
	run as_user env SHARED=host srun --quiet --container="$IMG/top.sqfs" sh -c \
		'echo "$SHARED $MIDVAR procid=$SLURM_PROCID ntasks=$SLURM_NTASKS job=${SLURM_JOB_ID:+set}"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "top mid procid=0 ntasks=1 job=set" ]
}

@test "--container-env NAME keeps the host's value of NAME over the image's" {
	# shellcheck disable=SC2016 # expanded by the task's shell
	run as_user env SHARED=host MIDVAR=hostmid srun --quiet --container="$IMG/top.sqfs" \
		--container-env=SHARED sh -c 'echo "$SHARED $MIDVAR"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "host mid" ]
}

@test "LABRUN_CONTAINER_ENV stands for --container-env" {
	# shellcheck disable=SC2016 # expanded by the task's shell
	run as_user env SHARED=host MIDVAR=hostmid LABRUN_CONTAINER_ENV=SHARED,MIDVAR \
		srun --quiet --container="$IMG/top.sqfs" sh -c 'echo "$SHARED $MIDVAR"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "host hostmid" ]
}

@test "LABRUN_CONTAINER_IMAGE, _WORKDIR and _REMAP_ROOT stand for their options" {
	run as_user env LABRUN_CONTAINER_IMAGE="$BB" LABRUN_CONTAINER_WORKDIR=/etc \
		LABRUN_CONTAINER_REMAP_ROOT=1 srun --quiet sh -c 'cat image-name; pwd; id -u'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "busybox"$'\n'"/etc"$'\n'"0" ]
}

@test "--container-entrypoint runs the image's entrypoint once per step, before the tasks" {
	srun_c -n 2 --overcommit --container="$IMG/entry-log.sqfs" --container-entrypoint \
		cat /tmp/entry.log
	[ "$status" -eq 0 ]
	[ "$output" = $'entrypoint-ran\nentrypoint-ran' ]
}

@test "without --container-entrypoint the image's entrypoint does not run" {
	srun_c --container="$IMG/entry-log.sqfs" sh -c 'cat /tmp/entry.log 2>/dev/null; echo task'
	[ "$status" -eq 0 ]
	[ "$output" = task ]
}

@test "a failing entrypoint fails the step with its status; the task does not run" {
	user_dir out
	srun_c --container="$IMG/entry-fail.sqfs" --container-entrypoint \
		--container-mounts="$WORK/out:/out" touch /out/ran
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: "*"entrypoint /bin/sh exited with status 5"* ]]
	[[ $output == *"the task was not run"* ]]
	[ ! -e "$WORK/out/ran" ]
}

# ------------------------------------------------------------ working directory

@test "the working directory is the caller's when a mount shows it" {
	# as_user runs srun in $WORK.
	srun_c --container="$IMG/top.sqfs" --container-mounts="$WORK" pwd
	[ "$status" -eq 0 ]
	[ "$output" = "$WORK" ]
	# Shown elsewhere: the same directory under its name inside.
	srun_c --container="$BB" --container-mounts="$WORK:/elsewhere" pwd
	[ "$status" -eq 0 ]
	[ "$output" = /elsewhere ]
}

@test "without the caller's directory: the image's workdir, else /" {
	srun_c --container="$IMG/top.sqfs" pwd
	[ "$status" -eq 0 ]
	[ "$output" = /layers ]
	srun_c --container="$BB" pwd
	[ "$status" -eq 0 ]
	[ "$output" = / ]
}

@test "--container-workdir DIR is the working directory" {
	srun_c --container="$IMG/top.sqfs" --container-mounts="$WORK" --container-workdir=/etc pwd
	[ "$status" -eq 0 ]
	[ "$output" = /etc ]
}

@test "a --container-workdir missing in the image fails the step, naming it" {
	user_dir out
	srun_c --container="$BB" --container-mounts="$WORK/out:/out" \
		--container-workdir=/nonexistent touch /out/ran
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: "*"working directory /nonexistent: No such file or directory"* ]]
	[[ $output == *"the task was not run"* ]]
	[ ! -e "$WORK/out/ran" ]
}

# ------------------------------------------------------------ mounts

@test "--container-mounts SRC:DST:ro is read-only inside" {
	user_dir data
	echo host-data >"$WORK/data/file"
	srun_c --container="$BB" --container-mounts="$WORK/data:/data:ro" sh -c \
		'cat /data/file; echo changed >/data/file; touch /data/new'
	[ "$status" -ne 0 ]
	[[ ${lines[0]} == host-data ]]
	[[ $output == *"/data/file: Read-only file system"* ]]
	[[ $output == *"/data/new: Read-only file system"* ]]
	[ "$(cat "$WORK/data/file")" = host-data ]
	[ ! -e "$WORK/data/new" ]
}

@test "--container-mounts SRC:DST:rw is writable; the files are the user's on the host" {
	user_dir out
	srun_c --container="$BB" --container-mounts="$WORK/out:/out:rw" sh -c 'echo written >/out/file'
	[ "$status" -eq 0 ]
	[ "$(cat "$WORK/out/file")" = written ]
	[ "$(stat -c %U "$WORK/out/file")" = "$TEST_USER" ]
}

@test "--container-mounts takes several comma-separated mounts (SRC alone: the same path)" {
	user_dir a
	user_dir b
	user_dir c
	echo a >"$WORK/a/f"
	echo b >"$WORK/b/f"
	echo c >"$WORK/c/f"
	srun_c --container="$BB" --container-mounts="$WORK/a:/a:ro,$WORK/b:/b,$WORK/c" \
		sh -c "cat /a/f /b/f $WORK/c/f"
	[ "$status" -eq 0 ]
	[ "$output" = $'a\nb\nc' ]
}

@test "a --container-mounts source missing on the node fails the step, naming it" {
	user_dir out
	srun_c --container="$BB" --container-mounts="$WORK/missing:/data,$WORK/out:/out" \
		touch /out/ran
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: "*"$WORK/missing: No such file or directory"* ]]
	[[ $output == *"the task was not run"* ]]
	[ ! -e "$WORK/out/ran" ]
}

# ------------------------------------------------------------ writable

@test "without a DIR, changes to the container's files vanish with the step" {
	srun_c --container="$BB" --container-writable sh -c 'echo mine >/etc/mine && cat /etc/mine'
	[ "$status" -eq 0 ]
	[ "$output" = mine ]
	srun_c --container="$BB" --container-writable sh -c 'cat /etc/mine'
	[ "$status" -ne 0 ]
	[[ $output == *"/etc/mine"*"No such file or directory"* ]]
}

@test "--container-writable=DIR keeps the changes for the next step" {
	user_dir w
	srun_c --container="$BB" --container-writable="$WORK/w" sh -c 'echo kept >/etc/mine'
	[ "$status" -eq 0 ]
	srun_c --container="$BB" --container-writable="$WORK/w" cat /etc/mine
	[ "$status" -eq 0 ]
	[ "$output" = kept ]
	# Without DIR the image is as it was.
	srun_c --container="$BB" sh -c '[ ! -e /etc/mine ] && echo pristine'
	[ "$output" = pristine ]
}

# ------------------------------------------------------------ remap-root

@test "--container-remap-root: uid 0 inside; without it the user's own uid" {
	srun_c --container="$BB" --container-remap-root id -u
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
	srun_c --container="$BB" id -u
	[ "$status" -eq 0 ]
	[ "$output" = "$(id -u "$TEST_USER")" ]
}

@test "--container-remap-root: a read-only mount stays read-only for root inside" {
	user_dir data
	echo host-data >"$WORK/data/file"
	srun_c --container="$BB" --container-remap-root --container-mounts="$WORK/data:/data:ro" \
		sh -c 'mount -o remount,rw /data; mount -o remount,rw /; echo changed >/data/file'
	[ "$status" -ne 0 ]
	[[ $output == *"/data/file: Read-only file system"* ]]
	[ "$(cat "$WORK/data/file")" = host-data ]
}

# ------------------------------------------------------------ one container per step

# shellcheck disable=SC2016 # expanded by the tasks' shell
# The ranks' shell: barrier NAME waits (30 s at most) until every rank of
# the step has reached NAME, through files in the container's /dev/shm.
RANKS='barrier() {
	touch /dev/shm/$1.$SLURM_PROCID
	i=0
	while [ "$(ls /dev/shm | grep -c "^$1\.")" -lt "$SLURM_NTASKS" ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || { echo "rank $SLURM_PROCID: barrier $1 timed out"; exit 2; }
		sleep 0.1
	done
}
'

@test "srun -n 4: every task is in the same container (mount and PID namespaces)" {
	# All four alive at once: a namespace's inode number may be reused
	# once it is gone.
	# shellcheck disable=SC2016 # expanded by the tasks' shell
	srun_c -n 4 --overcommit --container="$BB" sh -c "$RANKS"'
		barrier started
		echo "$(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/pid)"
		barrier looked'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "$(printf '%s\n' "${lines[@]}" | sort -u | wc -l)" -eq 1 ]
	# Not the host's.
	[[ ${lines[0]} != "$(readlink /proc/1/ns/mnt) "* ]]
}

@test "srun -n 4: the ranks share /dev/shm" {
	# shellcheck disable=SC2016 # expanded by the tasks' shell
	srun_c -n 4 --overcommit --container="$BB" sh -c "$RANKS"'
		echo "from $SLURM_PROCID" >/dev/shm/file.$SLURM_PROCID
		barrier written
		echo "rank $SLURM_PROCID:" $(cat /dev/shm/file.*)'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	local r
	for r in 0 1 2 3; do
		[[ $output == *"rank $r: from 0 from 1 from 2 from 3"* ]]
	done
}

@test "srun -n 4: the ranks see each other's processes and no host process" {
	# shellcheck disable=SC2016 # expanded by the tasks' shell
	srun_c -n 4 --overcommit --container="$BB" sh -c "$RANKS"'
		echo $$ >/dev/shm/pid.$SLURM_PROCID
		barrier started
		seen=
		for f in /dev/shm/pid.*; do
			[ -d /proc/$(cat $f) ] && seen="$seen ${f##*.}"
		done
		names=
		for p in /proc/[0-9]*; do
			read -r c <$p/comm && names="$names $c"
		done
		echo "rank $SLURM_PROCID sees$seen"
		[ "$SLURM_PROCID" != 0 ] || echo "names:" $(printf "%s\n" $names | sort -u)
		barrier looked'
	[ "$status" -eq 0 ]
	local r
	for r in 0 1 2 3; do
		[[ $output == *"rank $r sees 0 1 2 3"* ]]
	done
	# Only the keeper and the ranks' shells, and what they run: busybox
	# applets ("exe" while busybox re-executes itself by /proc/self/exe).
	[[ $output =~ names:\ ([^$'\n']*) ]]
	local names=${BASH_REMATCH[1]} n
	[[ " $names " == *" labrun-keeper "* ]]
	for n in $names; do
		case $n in labrun-keeper | sh | exe | sleep | ls | grep | cat | touch) ;; *)
			echo "a process not of the container: $n"
			false
			;;
		esac
	done
}

@test "srun -n 2: process_vm_readv and process_vm_writev work between ranks (CMA)" {
	local yama=/proc/sys/kernel/yama/ptrace_scope
	[ ! -e "$yama" ] || [ "$(cat "$yama")" = 0 ] ||
		skip "Yama's ptrace_scope is $(cat "$yama"): the kernel allows CMA to descendants only"
	srun_c -n 2 --overcommit --container="$PROBES" /probes/cma
	[ "$status" -eq 0 ]
	[[ $output =~ rank\ 1\ read\ \"cma-marker-from-rank-0-pid-([0-9]+)\"\ from\ pid\ ([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	[[ $output == *'rank 0 got "cma-reply-from-rank-1"'* ]]
}

@test "srun -n 4: one labrun-step and one keeper for the step" {
	local pid st=0
	user_dir go
	# The tasks wait for the test to let them go.
	# shellcheck disable=SC2016 # expanded by the tasks' shell
	as_user srun -n 4 --overcommit --container="$BB" --container-mounts="$WORK/go:/go" sh -c \
		'echo "rank $SLURM_PROCID job=$SLURM_JOB_ID"; while [ ! -e /go/go ]; do sleep 0.1; done' \
		>"$WORK/out" 2>&1 &
	pid=$!
	# shellcheck disable=SC2016 # expanded by eval
	wait_for 60 eval '[ "$(grep -c "^rank" "$WORK/out")" -eq 4 ]' || { cat "$WORK/out"; false; }
	local helpers keepers
	helpers=$(image_comm_pids labrun-step | wc -l)
	keepers=$(image_comm_pids labrun-keeper | wc -l)
	touch "$WORK/go/go"
	wait "$pid" || st=$?
	cat "$WORK/out"
	echo "helpers $helpers keepers $keepers"
	[ "$st" -eq 0 ]
	[ "$helpers" -eq 1 ]
	[ "$keepers" -eq 1 ]
}

@test "PID isolation: only the container's processes; PID 1 is the keeper; the task's parent is 0" {
	# No fork in the loop: the glob and read see what exists at its start.
	# shellcheck disable=SC2016 # expanded by the task's shell
	srun_c --container="$BB" sh -c \
		'for p in /proc/[0-9]*; do read -r c <$p/comm; echo "${p#/proc/} $c"; done; echo "ppid $PPID self $$"'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "1 labrun-keeper" ]
	[[ ${lines[2]} =~ ^ppid\ 0\ self\ ([0-9]+)$ ]]
	[ "${lines[1]}" = "${BASH_REMATCH[1]} sh" ]
}

# ------------------------------------------------------------ sbatch, pty, GPUs

@test "sbatch --container runs the batch script in the container; its status comes back" {
	cat >"$WORK/job.sh" <<'EOF'
#!/bin/sh
cat /etc/image-name
[ ! -e /etc/slurm/slurm.conf ] || echo host-visible
exit 3
EOF
	chmod 755 "$WORK/job.sh"
	run as_user sbatch --wait --quiet -o "$WORK/job.out" --container="$BB" "$WORK/job.sh"
	echo "$output"
	cat "$WORK/job.out" || true
	[ "$status" -eq 3 ]
	[ "$(cat "$WORK/job.out")" = busybox ]
}

@test "srun --pty --container: the task has a terminal" {
	command -v script >/dev/null || skip "script (bsdutils) is not installed"
	run as_user script -qec "srun --pty --container=$BB sh -c 'tty; [ -t 0 ] && echo pty-ok'" /dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	# The terminal is the container's /dev/console, as with labrun.
	# (srun --pty may print a NUL before it.)
	[[ $output =~ /dev/console$'\r'?($'\n'|$) ]]
	[[ $output == *pty-ok* ]]
}

@test "srun --gres=gpu:1 --container: the step's GPU is there (no driver: ENXIO), the others are not" {
	# shellcheck disable=SC2016 # expanded by the task's shell
	srun_c --gres=gpu:1 --container="$BB" sh -c \
		"echo \"CUDA_VISIBLE_DEVICES=\$CUDA_VISIBLE_DEVICES SLURM_STEP_GPUS=\$SLURM_STEP_GPUS\"
		 for i in \$(seq 0 $((GPUS - 1))); do (: < $GPU_DEV\$i) 2>&1; done; true"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^CUDA_VISIBLE_DEVICES=0\ SLURM_STEP_GPUS=([0-9])$ ]]
	local i allocated=${BASH_REMATCH[1]}
	[ "${#lines[@]}" -eq $((GPUS + 1)) ]
	for ((i = 0; i < GPUS; i++)); do
		if [ "$i" = "$allocated" ]; then
			[[ ${lines[i + 1]} == *"$GPU_DEV$i: No such device or address" ]]
		else
			[[ ${lines[i + 1]} =~ $GPU_DEV$i:\ (no\ such\ file|No\ such\ file\ or\ directory|Operation\ not\ permitted)$ ]]
		fi
	done
}

@test "a SLURM_STEP_GPUS the user sets gives the container no GPU: the step's comes from Slurm" {
	# The plugin takes the step's GPUs from the step's environment, which
	# slurmstepd's gres plugin writes after the user's: it unsets the
	# name for a step without GPUs and overwrites it for one with them.
	# shellcheck disable=SC2016 # expanded by the task's shell
	srun_c --export=ALL,SLURM_STEP_GPUS=0,1,2,3 --container="$BB" sh -c \
		'echo "SLURM_STEP_GPUS=${SLURM_STEP_GPUS-unset}"; ls /dev'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "SLURM_STEP_GPUS=unset" ]
	[[ $output != *"$(basename "$GPU_DEV")"* ]]
	srun_c --gres=gpu:1 --export=ALL,SLURM_STEP_GPUS=0,1,2,3 --container="$BB" sh -c \
		'echo "SLURM_STEP_GPUS=$SLURM_STEP_GPUS"; ls /dev'
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^SLURM_STEP_GPUS=[0-9]$ ]]
	[ "$(grep -c "^$(basename "$GPU_DEV")" <<<"$output")" -eq 1 ]
}

# ------------------------------------------------------------ refused

@test "bad arguments: --container-mounts with more than three fields" {
	refused --container="$BB" --container-mounts=/a:/b:ro:x "expected SRC[:DST[:ro|rw]]"
}

@test "bad arguments: --container-mounts with a relative destination" {
	refused --container="$BB" --container-mounts=/a:b "the destination must be an absolute path"
}

@test "bad arguments: --container-mounts with an empty entry" {
	refused --container="$BB" --container-mounts=/a,,/b "an empty entry"
}

@test "bad arguments: a bad LABRUN_CONTAINER_MOUNTS is named in the message" {
	run as_user env LABRUN_CONTAINER_MOUNTS=data srun --quiet --container="$BB" touch "$WORK/ran"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: LABRUN_CONTAINER_MOUNTS"*"the source must be an absolute path"* ]]
	[ ! -e "$WORK/ran" ]
}

@test "fail closed: root's step is refused, and does not run on the host" {
	run timeout "$CMD_TIMEOUT" srun --container="$BB" touch "$WORK/ran"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: containers do not run as root"* ]]
	[ ! -e "$WORK/ran" ]
}

# ------------------------------------------------------------ nothing left

@test "cleanup: after a step that ends normally, nothing is left" {
	host_state
	# shellcheck disable=SC2016 # expanded by the task's shell
	srun_c --container="$BB" sh -c 'echo "job=$SLURM_JOB_ID"'
	[ "$status" -eq 0 ]
	assert_gone "$(job_of "$output")"
}

@test "cleanup: after a task crashes, nothing is left" {
	host_state
	# shellcheck disable=SC2016 # expanded by the task's shell
	# -K: the other task is killed then, in the container.
	srun_c -n 2 --overcommit -K --container="$BB" sh -c \
		'echo "job=$SLURM_JOB_ID"; [ "$SLURM_PROCID" = 1 ] && kill -SEGV $$; exec sleep 4242'
	[ "$status" -ne 0 ]
	[[ $output == *"Segmentation fault"* ]]
	assert_gone "$(job_of "$output")" "sleep 4242"
}

# submit_step: a batch job (on the host) whose one step runs `sleep 4242`
# in the container; sets ID.
submit_step() {
	cat >"$WORK/step.sh" <<EOF
#!/bin/sh
srun --container=$BB sleep 4242
EOF
	chmod 755 "$WORK/step.sh"
	run as_user sbatch --parsable -o "$WORK/step.out" "$WORK/step.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ ^[0-9]+$ ]]
	ID=$output
	JOBS+=("$ID")
}
labrun_step_runs() { [ -n "$(image_comm_pids labrun-step)" ]; }

@test "cleanup: scancel while the container is being set up leaves nothing" {
	host_state
	submit_step
	wait_for "$CMD_TIMEOUT" labrun_step_runs
	scancel "$ID"
	assert_gone "$ID" "sleep 4242"
	[ "$(job_state "$ID")" = CANCELLED ]
}

@test "cleanup: scancel of a running step in a container leaves nothing" {
	host_state
	submit_step
	wait_for "$CMD_TIMEOUT" user_runs "sleep 4242"
	[ -n "$(image_procs)" ]
	scancel "$ID"
	assert_gone "$ID" "sleep 4242"
	[ "$(job_state "$ID")" = CANCELLED ]
}

@test "cleanup: SIGKILL of the keeper ends the step with a failure, and leaves nothing" {
	local pid st=0 keeper
	host_state
	# shellcheck disable=SC2016 # expanded by the tasks' shell
	as_user srun -n 2 --overcommit --container="$BB" sh -c 'echo "job=$SLURM_JOB_ID"; exec sleep 4242' \
		>"$WORK/out" 2>&1 &
	pid=$!
	# shellcheck disable=SC2016 # expanded by eval
	wait_for 60 eval '[ "$(grep -c job= "$WORK/out")" -eq 2 ]'
	keeper=$(image_comm_pids labrun-keeper)
	[[ $keeper =~ ^[0-9]+$ ]]
	kill -KILL "$keeper"
	wait "$pid" || st=$?
	cat "$WORK/out"
	[ "$st" -ne 0 ]
	[ "$st" -ne 124 ] # not timeout's
	assert_gone "$(job_of "$(cat "$WORK/out")")" "sleep 4242"
}

@test "cleanup: a step over its time limit leaves nothing" {
	# Slurm's time limits count in whole minutes and slurmctld looks at
	# them every 30 s: this takes 60 to 90 s (measured: 70 s), the
	# longest test of the suite, and the only way to reach this path.
	host_state
	# shellcheck disable=SC2016 # expanded by the task's shell
	run as_user srun --time=1 --container="$BB" sh -c 'echo "job=$SLURM_JOB_ID"; exec sleep 4242'
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"DUE TO TIME LIMIT"* ]]
	assert_gone "$(job_of "$output")" "sleep 4242"
}
