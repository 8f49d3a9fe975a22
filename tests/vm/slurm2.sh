#!/bin/bash
# slurm2.sh - labrun's Slurm plugin on cgroup v2, for real: run by
# tests/vm/vm.sh as root in a VM whose kernel has a pure cgroup v2 tree
# (the build hosts' Slurm runs on cgroup v1, so the plugin's v2 paths run
# nowhere else).  Prints TAP.
#
# A single-node Slurm 22.05 (cgroup/v2 with IgnoreSystemd: no systemd in
# the VM) is started inside the VM as scripts/slurm-local.sh starts it on a
# host, everything under a directory of /tmp (/etc is the host's,
# read-only): the daemons and the clients find it by SLURM_CONF, munged
# keeps the default socket, /run/munge/munge.socket.2.  The plugin is
# loaded `required`; the jobs run as the test user, as in
# tests/slurm/container.bats and quota.bats, and each test looks at what
# the user sees: output, exit status, the step's limits, what is left.
set -u

: "${top_builddir:?run by tests/vm/vm.sh}"
PLUGIN=$top_builddir/plugin/spank_labrun.so
HELPER=$top_builddir/plugin/labrun-step
LP=$top_builddir/launcher/labrun-policy
IMAGES=$top_builddir/tests/build/images
USER_=labrun-test
LAB=lrvm
CG=/sys/fs/cgroup
GPU_DEV=/dev/labrun-fakegpu
GPUS=4
DAEMON_PATH=/usr/sbin:/usr/bin:/sbin:/bin
# Longest one srun may take (TCG: a step in a container takes ~3 s).
CMD_TIMEOUT=60
CLEANUP_TIMEOUT=30

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

[ "$(id -u)" = 0 ] || skip_all "needs root (vm.sh runs it as root in the VM)"
[ "$(stat -fc %T $CG 2>/dev/null)" = cgroup2fs ] || skip_all "$CG is not cgroup v2"
for c in munged munge unmunge slurmctld slurmd slurmstepd srun sinfo squeue scancel scontrol; do
	PATH=$PATH:/usr/sbin command -v "$c" >/dev/null ||
		skip_all "Slurm is not installed ($c is missing): apt-get install slurmctld slurmd slurm-client munge"
done
compgen -G '/usr/lib/*/slurm*/cgroup_v2.so' >/dev/null || compgen -G '/usr/lib*/slurm/cgroup_v2.so' >/dev/null ||
	skip_all "Slurm's cgroup/v2 plugin (cgroup_v2.so) is not installed"
[ -e "$PLUGIN" ] || skip_all "spank_labrun.so was not built (libslurm-dev's slurm/spank.h missing)"
for b in "$HELPER" "$LP"; do
	[ -x "$b" ] || { echo "Bail out! $b not built"; exit 1; }
done
[ -s "$IMAGES/busybox.sqfs" ] || { echo "Bail out! no test image $IMAGES/busybox.sqfs"; exit 1; }
id "$USER_" >/dev/null 2>&1 || { echo "Bail out! no user $USER_ (scripts/setup-test-env.sh)"; exit 1; }

# shellcheck source=tests/vm/tap.bash
. "$(dirname "$0")/tap.bash"

echo "1..12"

# ------------------------------------------------------------ the cluster

NODE=$(hostname -s)
T=$(mktemp -d /tmp/slurm2.XXXXXX)
chmod 755 "$T"
ETC=$T/etc
CONF=$ETC/slurm.conf
LOG=$T/log
mkdir -p "$ETC" "$LOG" "$T/ctld" "$T/spool" "$T/munge" "$T/labs" /run/munge
chown slurm:slurm "$T/ctld" "$LOG"
chown munge:munge "$T/munge" /run/munge
chmod 700 "$T/munge"
chmod 755 /run/munge "$LOG" "$T/labs"

# Slurm resolves every address with AI_ADDRCONFIG, which finds no IPv4
# address when the only one is 127.0.0.1 (the VM has no network card):
# any other address, even on lo, will do.
ip link set lo up
ip addr add 192.0.2.1/32 dev lo 2>/dev/null
# labrun's FUSE layers, as distributions ship /dev/fuse; the fake GPUs of
# scripts/slurm-local.sh, in the VM's devtmpfs.
chmod 666 /dev/fuse
for ((i = 0; i < GPUS; i++)); do mknod -m 666 "$GPU_DEV$i" c 195 "$i"; done

# The helper must be root's and writable by root only (the plugin checks).
if [ "$(stat -c %u "$HELPER")" != 0 ] || [ $((8#$(stat -c %a "$HELPER") & 8#022)) -ne 0 ]; then
	mkdir -p "$T/bin"
	install -m 0755 -o root -g root "$HELPER" "$T/bin/labrun-step"
	HELPER=$T/bin/labrun-step
fi

cpus=$(nproc)
mem_mb=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024))
real_mb=$((mem_mb * 3 / 4))
cat >"$CONF" <<EOF
ClusterName=labrun-vm
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((real_mb / cpus))
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
StateSaveLocation=$T/ctld
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=verbose
PlugStackConfig=$ETC/plugstack.conf
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
KillWait=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
Waittime=0
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$real_mb Gres=gpu:$GPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$ETC/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v2
IgnoreSystemd=yes
ConstrainCores=yes
ConstrainRAMSpace=yes
ConstrainDevices=yes
EOF
cat >"$ETC/gres.conf" <<EOF
AutoDetect=off
NodeName=$NODE Name=gpu File=${GPU_DEV}[0-$((GPUS - 1))]
EOF
printf 'policy-dir = %s\ngpu-devices = %s[0-9]*\n' "$T/labs" "$GPU_DEV" >"$ETC/labrun.conf"
echo "required $PLUGIN helper=$HELPER config=$ETC/labrun.conf" >"$ETC/plugstack.conf"
chmod -R a+rX "$ETC"
export SLURM_CONF=$CONF

# The image, world-readable (the helper opens it as the user); the jobs'
# directory, the user's.
IMG=$T/img
mkdir -m 755 "$IMG"
cp "$IMAGES/busybox.sqfs" "$IMG/"
chmod 644 "$IMG/busybox.sqfs"
BB=$IMG/busybox.sqfs
W=$T/work
mkdir -m 755 "$W"
chown "$USER_:" "$W"
touch "$T/host-only"

# The munge key: the host's, else one of our own.
KEY=/etc/munge/munge.key
if [ ! -s "$KEY" ]; then
	KEY=$T/munge/munge.key
	setpriv --reuid=munge --regid=munge --init-groups mungekey --create --keyfile="$KEY"
fi

# launch LOG CMD...: a daemon that forks itself into the background, with
# a clean environment.
launch() {
	local log=$1
	shift
	(cd / && exec env -i PATH=$DAEMON_PATH SLURM_CONF="$CONF" "$@") </dev/null >"$log" 2>&1
}
wait_for() { # wait_for SECONDS CMD...: poll CMD every 0.1 s
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}
node_idle() { [ "$(timeout 5 sinfo -h -n "$NODE" -o %t 2>/dev/null)" = idle ]; }
logs() { # the daemons' last words, for a failure
	local f
	for f in "$LOG"/*.log "$T/munge/munged.log"; do
		[ -s "$f" ] || continue
		echo "--- $f"
		tail -n 15 "$f"
	done
}

# Slurm's cgroup/v2 with IgnoreSystemd makes its scope under system.slice
# itself, and wants cpuset, cpu and memory there.
mkdir -p $CG/system.slice
for c in cpuset cpu memory pids io; do
	echo "+$c" >$CG/system.slice/cgroup.subtree_control
done

up=
why=
if ! launch "$LOG/munged.start.log" setpriv --reuid=munge --regid=munge --init-groups \
	/usr/sbin/munged --key-file="$KEY" --log-file="$T/munge/munged.log" --seed-file="$T/munge/seed"; then
	why="munged did not start: $(cat "$LOG/munged.start.log")"
elif ! wait_for 10 sh -c 'munge -n | unmunge >/dev/null 2>&1'; then
	why="munged does not answer"
elif ! launch "$LOG/slurmctld.start.log" /usr/sbin/slurmctld; then
	why="slurmctld did not start"
elif ! wait_for 20 sh -c 'timeout 5 scontrol ping 2>/dev/null | grep -q "is UP"'; then
	why="slurmctld does not answer (scontrol ping)"
elif ! launch "$LOG/slurmd.start.log" /usr/sbin/slurmd; then
	why="slurmd did not start"
elif ! wait_for 30 node_idle; then
	why="node $NODE is not idle: $(sinfo -h -n "$NODE" -o '%t %E' 2>&1)"
else
	up=1
fi
# The scope Slurm made: slurmd's cgroup's parent.
SLURMD_CG=$(sed -n 's/^0:://p' "/proc/$(cat /run/slurmd.pid 2>/dev/null)/cgroup" 2>/dev/null)
SCOPE=${SLURMD_CG%/*}
if [ -n "$up" ] && [[ $SLURMD_CG == /system.slice/*slurmstepd.scope/slurmd ]]; then
	ok "the cluster comes up on cgroup v2 (node $NODE idle, slurmd in $SLURMD_CG)"
else
	[ -n "$why" ] || why="slurmd runs in the cgroup '$SLURMD_CG'"
	not_ok "the cluster comes up on cgroup v2" "$why" "$(logs)"
	echo "Bail out! no cluster in the VM"
	exit 1
fi

# ------------------------------------------------------------ helpers

# as_user CMD...: CMD as the test user, in W, with a time limit.
as_user() {
	(cd "$W" && setpriv --reuid="$USER_" --regid="$USER_" --init-groups \
		env -i PATH=/usr/bin:/bin HOME="$W" LANG=C.UTF-8 SLURM_CONF="$CONF" \
		timeout -k 5 "$CMD_TIMEOUT" "$@" </dev/null)
}
# srun_c ARGS...: srun ARGS as the test user; sets out and st.
srun_c() {
	out=$(as_user srun --quiet "$@" 2>&1)
	st=$?
}
job_of() { grep -o 'job=[0-9]*' <<<"$1" | head -1 | cut -d= -f2; }
user_procs() { pgrep -u "$USER_" 2>/dev/null | while read -r p; do
	s=$(cat "/proc/$p/stat" 2>/dev/null) && s=${s##*) } && [ "${s%% *}" != Z ] && echo "$p"
done; }
job_dirs() { find "$CG$SCOPE" -mindepth 1 -maxdepth 1 -type d -name 'job_*' 2>/dev/null; }
nothing_left() { [ -z "$(user_procs)" ] && [ -z "$(job_dirs)" ] && [ -z "$(squeue -h 2>/dev/null)" ]; }
left() {
	echo "processes of $USER_:"
	ps -o pid=,stat=,args= -p "$(user_procs | paste -sd,)" 2>/dev/null
	echo "job cgroups: $(job_dirs | tr '\n' ' ')"
	echo "queue: $(squeue -h 2>&1)"
}
# cg_of PID: its cgroup v2 path.
cg_of() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }

# ------------------------------------------------------------ the container

# 2: inside the image.
srun_c --container="$BB" sh -c \
	"cat /proc/1/comm /etc/image-name; [ -e $T/host-only ] && echo host-visible; true"
if [ "$st" -eq 0 ] && [ "$out" = $'labrun-keeper\nbusybox' ]; then
	ok "srun --container runs the task in the image: PID 1 is labrun-keeper, no host file"
else
	not_ok "srun --container runs the task in the image" "status $st" "$out"
fi

# 3: the exact exit status.
srun_c --container="$BB" sh -c 'exit 7'
if [ "$st" -eq 7 ] && [[ $out == *"task 0: Exited with exit code 7"* ]]; then
	ok "the task's exit status comes back exactly (7)"
else
	not_ok "the task's exit status comes back exactly" "status $st" "$out"
fi

# 4: two tasks, one container.
# shellcheck disable=SC2016 # expanded by the tasks' shell
srun_c -n 2 --overcommit --container="$BB" sh -c \
	'echo "rank $SLURM_PROCID $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/pid)"'
ns=$(sed -n 's/^rank [01] //p' <<<"$out" | sort -u)
host_ns="$(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/pid)"
if [ "$st" -eq 0 ] && [ "$(grep -c '^rank [01] mnt:' <<<"$out")" -eq 2 ] &&
	[ "$(wc -l <<<"$ns")" -eq 1 ] && [ "$ns" != "$host_ns" ]; then
	ok "srun -n 2: both tasks in one mount and pid namespace, not the host's ($ns)"
else
	not_ok "srun -n 2: both tasks in one mount and pid namespace" "status $st" "$out" "host: $host_ns"
fi

# 5, 6: the helper in the step's cgroup; scancel leaves nothing.
# shellcheck disable=SC2016 # expanded by the task's shell
as_user srun --quiet --container="$BB" sh -c 'echo "job=$SLURM_JOB_ID"; exec sleep 4242' \
	>"$W/sleep.out" 2>&1 &
spid=$!
sleeping() { [ -n "$(pgrep -u "$USER_" -x sleep)" ] && grep -q job= "$W/sleep.out"; }
wait_for "$CMD_TIMEOUT" sleeping
job=$(job_of "$(cat "$W/sleep.out")")
helper=$(pgrep -u "$USER_" -x labrun-step | head -1)
keeper=$(pgrep -u "$USER_" -x labrun-keeper | head -1)
task=$(pgrep -u "$USER_" -x sleep | head -1)
stepd=$(pgrep -f "^slurmstepd: \[$job\.0\]" | head -1)
step_cg=$SCOPE/job_$job/step_0
echo "# layout: slurmstepd $(cg_of "$stepd"), helper $(cg_of "$helper"), keeper $(cg_of "$keeper"), task $(cg_of "$task")"
if [[ $job =~ ^[0-9]+$ ]] && [ -n "$helper" ] && [[ $(cg_of "$helper")/ == "$step_cg"/* ]] &&
	[[ $(cg_of "$keeper")/ == "$step_cg"/* ]]; then
	ok "the helper and the keeper are in the step's cgroup ($step_cg)"
else
	not_ok "the helper and the keeper are in the step's cgroup ($step_cg)" \
		"job '$job', helper '$helper' in $(cg_of "$helper"), keeper '$keeper' in $(cg_of "$keeper")" \
		"$(cat "$W/sleep.out")"
fi
scancel "$job" 2>/dev/null
wait_for "$CLEANUP_TIMEOUT" nothing_left
wait "$spid"
sst=$?
# A cancelled job stays "completing" in slurmctld for a while: the next
# srun would queue behind it (a first run here ran into the VM's timeout).
job_gone() { [ -z "$(squeue -h -j "$job" 2>/dev/null)" ]; }
wait_for "$CLEANUP_TIMEOUT" job_gone
if nothing_left && job_gone && [ "$sst" -ne 0 ] && [ "$sst" -ne 124 ]; then
	ok "scancel ends the step (srun exits $sst): no process of $USER_, no job cgroup left"
else
	not_ok "scancel ends the step and leaves nothing" "srun's status $sst" "$(left)" "$(cat "$W/sleep.out")"
fi

# ------------------------------------------------------------ lab quota

# held_step ARGS...: a step in the container (srun ARGS) that waits until
# the test lets it go; sets job (its id) and hpid (srun's pid).
held_step() {
	rm -rf "$W/go" "$W/held.out"
	mkdir "$W/go"
	chown "$USER_:" "$W/go"
	# shellcheck disable=SC2016 # expanded by the task's shell
	as_user srun --quiet "$@" --container="$BB" --container-mounts="$W/go:/go" sh -c \
		'echo "job=$SLURM_JOB_ID"; while [ ! -e /go/go ]; do sleep 0.1; done' >"$W/held.out" 2>&1 &
	hpid=$!
	wait_for "$CMD_TIMEOUT" grep -q job= "$W/held.out"
	job=$(job_of "$(cat "$W/held.out")")
	[[ $job =~ ^[0-9]+$ ]]
}
# release: lets the held step go; sets st (srun's status).
release() {
	touch "$W/go/go"
	# An srun still queued (or hung) would block the wait: end it.
	srun_gone() { ! kill -0 "$hpid" 2>/dev/null; }
	wait_for "$CMD_TIMEOUT" srun_gone || kill "$hpid" 2>/dev/null
	wait "$hpid"
	st=$?
}

cat >"$T/labs/$LAB.conf" <<EOF
[lab]
members = $USER_
[defaults]
cores = 1
memory = 300M
processes = 20
EOF
chmod 644 "$T/labs/$LAB.conf"
apply_out=$("$LP" -c "$ETC/labrun.conf" apply --rules "$T/rules" 2>&1) ||
	echo "# labrun-policy apply failed: $apply_out"

# task_limit: the memory limit over the held step's task 0: the least
# memory.max from the step's cgroup down to the task's ("max": none).
# Slurm 22.05 puts the step's own limit on a child of the step's cgroup
# (job_J/step_S/user, beside slurmstepd's job_J/step_S/slurm), and the
# task in job_J/step_S/user/task_0.
task_limit() {
	local step=$CG$SCOPE/job_$job/step_0 d v min=max
	d=$(find "$step" -type d -name task_0 | head -1)
	[ -n "$d" ] || { echo "no task_0 under $step"; return; }
	while :; do
		v=$(cat "$d/memory.max")
		if [ "$v" != max ] && { [ "$min" = max ] || [ "$v" -lt "$min" ]; }; then min=$v; fi
		[ "$d" = "$step" ] && break
		d=${d%/*}
	done
	echo "$min"
}
# The memory.max files of the held step's job, for the log.
job_limits() {
	local f
	for f in $(find "$CG$SCOPE/job_$job" -name memory.max | sort); do
		f=${f#"$CG$SCOPE"/}
		printf '%s %s, ' "${f%/memory.max}" "$(cat "$CG$SCOPE/$f")"
	done
}

# Slurm gives the step more than the member's 300M: lowered.
mem=$((real_mb - 2))
if [ "$mem" -le 300 ]; then
	skip_ok "lab quota: the tasks of a step Slurm gives more are held to the member's 300M" \
		"the node has ${real_mb}M for jobs (LABRUN_VM_MEMORY)"
elif held_step --mem="${mem}M"; then
	limit=$(task_limit)
	echo "# memory.max: $(job_limits)"
	release
	if [ "$st" -eq 0 ] && [ "$limit" = $((300 << 20)) ]; then
		ok "lab quota: the tasks of a step Slurm gives ${mem}M are held to the member's 300M"
	else
		not_ok "lab quota: the tasks of a step Slurm gives ${mem}M are held to the member's 300M" \
			"status $st; the least memory.max from job_$job/step_0 down to task_0 is $limit" \
			"$(cat "$W/held.out")"
	fi
else
	not_ok "lab quota: the tasks of a step are held to the member's 300M" \
		"the step did not start" "$(cat "$W/held.out")"
	release
fi

# Slurm gives it less: kept, never raised.
if held_step --mem=200M; then
	limit=$(task_limit)
	echo "# memory.max: $(job_limits)"
	release
	if [ "$st" -eq 0 ] && [ "$limit" = $((200 << 20)) ]; then
		ok "lab quota: the tasks of a step Slurm gives 200M keep 200M (never raised)"
	else
		not_ok "lab quota: the tasks of a step Slurm gives 200M keep 200M" \
			"status $st; the least memory.max from job_$job/step_0 down to task_0 is $limit" \
			"$(cat "$W/held.out")"
	fi
else
	not_ok "lab quota: the tasks of a step Slurm gives 200M keep 200M" "the step did not start" \
		"$(cat "$W/held.out")"
	release
fi

# Cores: refused before anything runs.
if [ "$cpus" -ge 2 ]; then
	mkdir -p "$W/out"
	chown "$USER_:" "$W/out"
	srun_c -c 2 --container="$BB" --container-mounts="$W/out:/out" touch /out/ran
	if [ "$st" -ne 0 ] && [[ $out == *"labrun: lab $LAB allows you 1 cores, and this step has 2"* ]] &&
		[ ! -e "$W/out/ran" ]; then
		ok "lab quota: a step with -c 2 is refused (lab $LAB allows you 1 cores), nothing ran"
	else
		not_ok "lab quota: a step with -c 2 is refused" "status $st" "$out" \
			"$([ -e "$W/out/ran" ] && echo "the task ran")"
	fi
else
	skip_ok "lab quota: a step with -c 2 is refused" "the VM has $cpus CPU (LABRUN_VM_CPUS)"
fi

# Processes: on v2 the member's bound the step's own pids.max; a fork
# loop in the step stops there.
# shellcheck disable=SC2016 # expanded by the task's shell
srun_c --container="$BB" sh -c 'for i in $(seq 40); do sleep 3 & done; wait'
if [[ $out == *"can't fork"* || $out == *"Resource temporarily unavailable"* ]]; then
	ok "lab quota: a fork loop in a step stops at the member's 20 processes"
else
	not_ok "lab quota: a fork loop in a step stops at the member's 20 processes" "status $st" "$out" \
		"$(cat "$CG$SCOPE"/job_*/step_0/pids.max 2>/dev/null)"
fi

rm "$T/labs/$LAB.conf"
"$LP" -c "$ETC/labrun.conf" apply --rules "$T/rules" >/dev/null 2>&1

# ------------------------------------------------------------ GPUs

# shellcheck disable=SC2016 # expanded by the task's shell
srun_c --gres=gpu:1 --container="$BB" sh -c 'echo "gpus=$SLURM_STEP_GPUS"; ls /dev | grep labrun-fakegpu'
re="^gpus=([0-9])"$'\n'"labrun-fakegpu([0-9])\$"
if [ "$st" -eq 0 ] && [[ $out =~ $re ]] &&
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
	ok "--gres=gpu:1: the step's GPU, and only it, is in the container (labrun-fakegpu${BASH_REMATCH[1]})"
else
	not_ok "--gres=gpu:1: the step's GPU, and only it, is in the container" "status $st" "$out"
fi

# ------------------------------------------------------------ nothing left

wait_for "$CLEANUP_TIMEOUT" nothing_left
if nothing_left && [ ! -d "$CG/labrun" ]; then
	ok "after the jobs: no process of $USER_, no job cgroup in $SCOPE, no labrun cgroup"
else
	not_ok "after the jobs, nothing is left" "$(left)" "$(find "$CG$SCOPE" "$CG/labrun" -type d 2>/dev/null)"
fi

[ "$failed" -eq 0 ] || {
	echo "# slurmd.log:"
	grep -i 'labrun\|error' "$LOG/slurmd.log" | tail -30 | sed 's/^/#   /'
}
for f in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
	[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
done
rm -rf "$T"
[ "$failed" -eq 0 ]
