#!/bin/bash
# A real Slurm on this machine, for labrun's Slurm tests (tests/slurm/) and
# the demo.  Run as root; idempotent, non-interactive.
#   scripts/slurm-local.sh start [--nodes N] [--no-accounting]
#                                    write the configuration, start munged,
#                                    MariaDB and slurmdbd, slurmctld and the
#                                    slurmd of each node, wait for the nodes
#         --nodes N                  N compute nodes, each in namespaces of
#                                    its own (N >= 2); 1 (the default): this
#                                    machine itself is the node
#         --no-accounting            no MariaDB and slurmdbd, no limits
#                                    (--accounting: the default)
#   scripts/slurm-local.sh stop      stop every daemon, wait until gone
#   scripts/slurm-local.sh restart [OPTIONS]   stop, then start
#   scripts/slurm-local.sh status    what runs, the nodes' state, the plugin
#   scripts/slurm-local.sh plugin PATH-TO-spank_labrun.so [ARG...]
#                                    load labrun's SPANK plugin (`required`)
#   scripts/slurm-local.sh plugin --remove
#   scripts/slurm-local.sh reload    restart slurmd (it reads plugstack.conf
#                                    at start), wait for the node
#
# A --container step never runs on the host here: while the plugin is not
# loaded, the fail-closed oci.conf of etc/slurm/ is installed (Slurm 22.05
# runs --container on the host when neither a plugin nor an OCI runtime
# claims it), and it is removed when the plugin is loaded (Slurm reads it
# before any plugin and would refuse --container=IMAGE.sqfs).
#
# A running cluster started with other options is restarted in the ones
# given (tests ask for what they need).  Accounting (scripts/slurm-local/
# accounting.bash): a private MariaDB and slurmdbd, jobs refused to users
# without an association (root and SLURM_LOCAL_USERS, default labrun-test
# and labrun-test2, get one in the account "local"), the limits that
# labrun-policy sync writes enforced.  The multi-node cluster: see
# scripts/slurm-local/nodes.bash.
#
# It installs nothing: it says which Debian package a missing command comes
# from.  There is no systemd here (PID 1 is not systemd), so the daemons are
# started directly, each only when its pidfile does not name a live one.
#
# It owns /etc/slurm/{slurm,cgroup,gres,slurmdbd}.conf and
# /etc/slurm/plugstack.conf.d/labrun.conf: each file it writes carries the
# marker line below, and it refuses to overwrite one without it (that is the
# machine's own Slurm).  The node has 4 fake GPUs, /dev/labrun-fakegpu[0-3]:
# character devices 195:0-3 (NVIDIA's major) that no driver answers, so that
# Slurm's gres and its devices cgroup have real device nodes to work on.
#
# Environment: SLURM_LOCAL_TIMEOUT  seconds to wait for the nodes (60);
# SLURM_LOCAL_USERS  the users given an association (labrun-test labrun-test2).
set -euo pipefail

MARK="# written by labrun scripts/slurm-local.sh"
ETC=/etc/slurm
CONF=$ETC/slurm.conf
CGROUP_CONF=$ETC/cgroup.conf
GRES_CONF=$ETC/gres.conf
PLUGSTACK=$ETC/plugstack.conf
PLUGSTACK_D=$ETC/plugstack.conf.d
PLUGIN_CONF=$PLUGSTACK_D/labrun.conf
OCI_CONF=$ETC/oci.conf
OCI_SRC=$(cd "$(dirname "$0")/.." && pwd)/etc/slurm/oci.conf
LOGDIR=/var/log/slurm
CTLD_LOG=$LOGDIR/slurmctld.log
SLURMD_LOG=$LOGDIR/slurmd.log
CTLD_SPOOL=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_RUN=/run/munge
MUNGE_PID=$MUNGE_RUN/munged.pid
MUNGE_KEY=/etc/munge/munge.key
GPU_DEV=/dev/labrun-fakegpu
GPU_MAJOR=195
GPU_COUNT=4
CLUSTER=labrun-local
PARTITION=debug
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}
# The daemons start with this environment only: nothing of the caller's
# (a test's TMPDIR, LD_PRELOAD) leaks into slurmd and from it into jobs.
DAEMON_PATH=/usr/sbin:/usr/bin:/sbin:/bin
# slurmd, munged and mungekey live in /usr/sbin, which a caller's PATH
# (setpriv --reset-env's, sudo's) may lack.
PATH=$DAEMON_PATH:$PATH

NODE=$(hostname -s)
# What start was asked for (parse_start_options).
NODES=1
ACCOUNTING=1

say() { echo "slurm-local: $*"; }
die() {
	echo "slurm-local: $*" >&2
	exit 1
}

usage() {
	sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'
}

# shellcheck source=scripts/slurm-local/accounting.bash
source "$(dirname "$0")/slurm-local/accounting.bash"
# shellcheck source=scripts/slurm-local/nodes.bash
source "$(dirname "$0")/slurm-local/nodes.bash"

parse_start_options() {
	while [ $# -gt 0 ]; do
		case $1 in
		--nodes)
			[[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "--nodes wants a number of nodes, 1 to 99: '${2:-}'"
			NODES=$2
			shift
			;;
		--accounting) ACCOUNTING=1 ;;
		--no-accounting) ACCOUNTING=0 ;;
		*) die "start: unknown option '$1' (--nodes N, --no-accounting)" ;;
		esac
		shift
	done
}

# The options the running configuration was written for: "nodes=N
# accounting=0|1" from slurm.conf's mode line, empty when none.
MODE_LINE="# mode:"
written_mode() { sed -n "s/^$MODE_LINE //p" "$CONF" 2>/dev/null; }

require_root() {
	[ "$(id -u)" -eq 0 ] || die "run as root: it writes $ETC and starts the Slurm daemons"
}

# Each command the cluster needs, with the Debian package it comes from.
COMMANDS=(
	munged:munge mungekey:munge munge:munge unmunge:munge
	slurmctld:slurmctld slurmd:slurmd slurmstepd:slurmd
	sinfo:slurm-client scontrol:slurm-client srun:slurm-client
	sbatch:slurm-client scancel:slurm-client squeue:slurm-client
)

check_commands() {
	local c cmd pkg missing=() pkgs=()
	for c in "${COMMANDS[@]}"; do
		cmd=${c%%:*} pkg=${c#*:}
		if ! command -v "$cmd" >/dev/null; then
			missing+=("$cmd")
			[[ " ${pkgs[*]} " == *" $pkg "* ]] || pkgs+=("$pkg")
		fi
	done
	[ ${#missing[@]} -eq 0 ] ||
		die "missing ${missing[*]}: apt-get install ${pkgs[*]}" \
			"(or slurm-wlm, which brings slurmctld, slurmd and slurm-client)"
}

# labrun's SPANK plugin builds against <slurm/spank.h>: only a note, the
# cluster itself does not need it.
note_headers() {
	[ -e /usr/include/slurm/spank.h ] ||
		say "note: <slurm/spank.h> is missing: apt-get install libslurm-dev to build labrun's plugin"
}

# Slurm 22.05 runs on cgroup v1, or on a pure v2 tree (its cgroup/v2 refuses
# the hybrid layout); the v1 controllers under a tmpfs /sys/fs/cgroup (with
# or without a v2 "unified" mount beside them, as here) mean cgroup/v1.
cgroup_plugin() {
	case $(stat -fc %T /sys/fs/cgroup 2>/dev/null) in
	cgroup2fs) echo cgroup/v2 ;;
	tmpfs)
		local c
		for c in cpuset memory devices freezer; do
			[ -d "/sys/fs/cgroup/$c" ] ||
				die "/sys/fs/cgroup/$c is missing: Slurm's cgroup/v1 needs the" \
					"cpuset, memory, devices and freezer controllers mounted there"
		done
		echo cgroup/v1
		;;
	*) die "no cgroup file system on /sys/fs/cgroup: Slurm's proctrack/cgroup needs one" ;;
	esac
}

# ---------------------------------------------------------------- config

# is_ours FILE: FILE is absent or was written by this script.
is_ours() {
	[ ! -e "$1" ] || grep -qxF "$MARK" "$1"
}

refuse_foreign() {
	is_ours "$1" && return 0
	die "$1 exists and was not written by this script (no line '$MARK'):" \
		"it looks like this machine's own Slurm configuration, which this script will" \
		"not overwrite.  To let it set up the test cluster, move the file aside" \
		"(mv $1 $1.orig), or run the Slurm tests on another machine."
}

CHANGED=0
# install_file FILE MODE < TEXT: FILE gets TEXT, if it differs (not in a
# pipeline: it sets CHANGED).
install_file() {
	local file=$1 mode=$2 tmp
	refuse_foreign "$file"
	tmp=$(mktemp "$file.XXXXXX")
	cat >"$tmp"
	chmod "$mode" "$tmp"
	if [ -e "$file" ] && cmp -s "$tmp" "$file"; then
		rm -f "$tmp"
		return 0
	fi
	mv -f "$tmp" "$file"
	CHANGED=1
	say "wrote $file"
}

write_config() {
	local cgplugin=$1 cpus mem_mb real_mb defmem topology
	cpus=$(nproc)
	# The sockets, cores and threads slurmd finds (else Slurm takes each
	# CPU for a socket of one core, and says so in its log at each start).
	topology=$(slurmd -C | head -n 1 | grep -o '\(SocketsPerBoard\|CoresPerSocket\|ThreadsPerCore\)=[0-9]*' |
		tr '\n' ' ') || true
	[ -z "$topology" ] || [ "$(echo "$topology" | wc -w)" = 3 ] ||
		die "cannot read this machine's topology from 'slurmd -C': $(slurmd -C 2>&1 | head -n 1)"
	mem_mb=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024))
	# Three quarters of the memory: slurmd drains a node that has less
	# than RealMemory, and the rest is left to the machine (and to the
	# other test suites running beside the cluster).
	real_mb=$((mem_mb * 3 / 4))
	# With CR_Core_Memory and no default, a job gets all the node's memory
	# and a second job waits for it: give each CPU its share instead.
	defmem=$((real_mb / cpus))
	mkdir -p "$ETC" "$PLUGSTACK_D"

	local ctld=localhost nodes accounting="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
	if [ "$NODES" = 1 ]; then
		nodes="SlurmdSpoolDir=$SLURMD_SPOOL
SlurmdPidFile=$SLURMD_PID
SlurmdLogFile=$SLURMD_LOG
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus ${topology}RealMemory=$real_mb Gres=gpu:$GPU_COUNT State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP"
	else
		# Each node is this machine: its memory shared between them.
		real_mb=$((real_mb / NODES))
		defmem=$((real_mb / cpus))
		ctld="$NODE($CTL_ADDR)"
		nodes=$(nodes_conf "$NODES" "$cpus" "$topology" "$real_mb")
	fi
	[ "$ACCOUNTING" = 0 ] || accounting=$(accounting_conf)

	install_file "$CONF" 0644 <<EOF
$MARK
$MODE_LINE nodes=$NODES accounting=$ACCOUNTING
# A Slurm on this machine, for labrun's tests (tests/slurm/) and demo.
# Regenerated by \`scripts/slurm-local.sh start\`: change the script, not
# this file.
ClusterName=$CLUSTER
SlurmctldHost=$ctld
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# Processes tracked and confined by cgroups (cgroup.conf), as on clusters.
# Contain: each job has an extern step on each of its nodes from start to
# end, where labrun's plugin keeps the job's layer holder (spank_labrun(8))
# and pam_slurm_adopt would put ssh sessions.
PrologFlags=Contain
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$defmem
GresTypes=gpu
SchedulerType=sched/backfill
# Batch jobs start when submitted, not up to 3 s later (a knob for sites
# submitting jobs at a high rate).
SchedulerParameters=batch_sched_delay=0
# A node that comes back registers as usable (after a restart, say).
ReturnToService=2
StateSaveLocation=$CTLD_SPOOL
SlurmctldPidFile=$CTLD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmctldDebug=info
SlurmdDebug=info
$accounting
JobCompType=jobcomp/none
# Timeouts for tests: SIGKILL 2 s after scancel's SIGTERM (30), a dead
# daemon noticed in 30 s (300).  MessageTimeout stays at its default, 10 s:
# it only bounds waits for an answer, and this 2-core machine is often
# loaded by other tests.
KillWait=2
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
InactiveLimit=0
Waittime=0
$nodes
EOF

	# Slurm 22.05's cgroup/v2 asks systemd for a scope for slurmstepd;
	# there is no systemd here: IgnoreSystemd makes it by hand.
	local v2=
	[ "$cgplugin" = cgroup/v1 ] || v2=IgnoreSystemd=yes
	install_file "$CGROUP_CONF" 0644 <<EOF
$MARK
CgroupPlugin=$cgplugin
${v2}${v2:+
}ConstrainCores=yes
ConstrainRAMSpace=yes
ConstrainDevices=yes
EOF

	install_file "$GRES_CONF" 0644 <<EOF
$MARK
# Fake GPUs: device nodes $GPU_MAJOR:N that no driver answers (open: ENXIO).
AutoDetect=off
$(if [ "$NODES" = 1 ]; then
		echo "NodeName=$NODE Name=gpu File=${GPU_DEV}[0-$((GPU_COUNT - 1))]"
	else
		nodes_gres "$NODES"
	fi)
EOF
}

make_gpus() {
	local i dev want
	for ((i = 0; i < GPU_COUNT; i++)); do
		dev=$GPU_DEV$i
		want=$(printf 'character special file %x:%x' "$GPU_MAJOR" "$i")
		if [ -e "$dev" ] || [ -L "$dev" ]; then
			[ "$(stat -c '%F %t:%T' "$dev")" = "$want" ] ||
				die "$dev exists and is not the fake GPU (char $GPU_MAJOR:$i): remove it"
		else
			mknod -m 0666 "$dev" c "$GPU_MAJOR" "$i"
		fi
		chmod 0666 "$dev"
	done
}

make_dirs() {
	install -d -m 0755 -o slurm -g slurm "$CTLD_SPOOL" "$LOGDIR"
	install -d -m 0755 -o root -g root "$SLURMD_SPOOL"
	install -d -m 0755 -o munge -g munge "$MUNGE_RUN"
}

# The munge key: Debian's package makes one at installation; make it as the
# package does when it is missing.
make_munge_key() {
	[ -s "$MUNGE_KEY" ] && return 0
	say "creating the munge key $MUNGE_KEY"
	install -d -m 0700 -o munge -g munge "$(dirname "$MUNGE_KEY")"
	setpriv --reuid=munge --regid=munge --init-groups mungekey --create --keyfile="$MUNGE_KEY"
	chmod 0600 "$MUNGE_KEY"
}

# ---------------------------------------------------------------- daemons

# is_alive PID: PID runs and is not a zombie.  PID 1 here reaps orphans
# only now and then: a daemon's exit, and the intermediate process of its
# double fork into the background, linger as zombies for seconds.
is_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# alive_pids NAME: the pids of live processes named NAME.
alive_pids() {
	local pid out=()
	for pid in $(pgrep -x "$1"); do
		! is_alive "$pid" || out+=("$pid")
	done
	echo "${out[*]}"
}

# pid_of PIDFILE COMM: the live process the pidfile names, if its command
# name is COMM (a stale pidfile may name a recycled pid).
pid_of() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
	is_alive "$pid" || return 1
	echo "$pid"
}

# A daemon of that name running without our pidfile, on what ours needs
# (BUSY... says whether it is taken: its port, its socket): ours would
# fail there, so say so instead.  One on something else (a developer's
# private munged or slurmdbd) is none of ours.
check_stray() {
	local name=$1 pidfile=$2 pids
	shift 2
	"$@" || return 0
	pids=$(alive_pids "$name")
	die "$name runs${pids:+ (pid $pids)} but $pidfile does not name it: it was started" \
		"another way and holds what ours needs; stop it first${pids:+ (kill $pids)}"
}

# port_busy PORT: something listens on TCP PORT of this network namespace.
port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
munge_socket_busy() { [ -S "$MUNGE_RUN/munge.socket.2" ] && munge_works; }

# launch LOG CMD...: start a daemon that forks itself into the background,
# from /, with a clean environment and none of the caller's descriptors
# (a bats file's fd 3, make's jobserver pipes: a daemon holding them would
# keep the caller waiting forever).  Its messages before it opens its log
# go to LOG.
launch() {
	local log=$1
	shift
	(
		cd /
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		# The limits of Debian's systemd units.
		ulimit -n 131072 2>/dev/null || true
		ulimit -l unlimited 2>/dev/null || true
		exec env -i PATH=$DAEMON_PATH "$@"
	) </dev/null >"$log" 2>&1
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
ctld_answers() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
has_pidfile() { pid_of "$1" "$2" >/dev/null; }

start_munged() {
	if pid_of "$MUNGE_PID" munged >/dev/null; then
		return 0
	fi
	check_stray munged "$MUNGE_PID" munge_socket_busy
	make_munge_key
	say "starting munged"
	launch "$LOGDIR/munged.start.log" setpriv --reuid=munge --regid=munge --init-groups \
		/usr/sbin/munged ||
		die "munged failed to start: $(cat "$LOGDIR/munged.start.log")"
	wait_until 10 munge_works ||
		die "munged does not answer (munge -n | unmunge); /var/log/munge/munged.log:" \
			"$(tail -n 5 /var/log/munge/munged.log 2>/dev/null)"
}

start_slurmctld() {
	if pid_of "$CTLD_PID" slurmctld >/dev/null; then
		return 0
	fi
	check_stray slurmctld "$CTLD_PID" port_busy 6817
	say "starting slurmctld"
	launch "$LOGDIR/slurmctld.start.log" /usr/sbin/slurmctld ||
		fail_logs "slurmctld failed to start"
	wait_until 10 has_pidfile "$CTLD_PID" slurmctld ||
		fail_logs "slurmctld did not start"
	# slurmd registers once, at start: a controller that answers first
	# makes the node usable at once instead of at its next ping.
	wait_until "$TIMEOUT" ctld_answers || fail_logs "slurmctld does not answer (scontrol ping)"
}

start_slurmd() {
	if pid_of "$SLURMD_PID" slurmd >/dev/null; then
		return 0
	fi
	check_stray slurmd "$SLURMD_PID" port_busy 6818
	say "starting slurmd"
	SLURMD_SINCE[$NODE]=$(date +%s)
	launch "$LOGDIR/slurmd.start.log" /usr/sbin/slurmd ||
		fail_logs "slurmd failed to start"
	wait_until 10 has_pidfile "$SLURMD_PID" slurmd || fail_logs "slurmd did not start"
}

is_gone() { ! is_alive "$1"; }

# stop_daemon NAME PIDFILE [LABEL]: SIGTERM, then wait until it is gone.
stop_daemon() {
	local pid what=${3:-$1}
	pid=$(pid_of "$2" "$1") || return 0
	say "stopping $what (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	wait_until 30 is_gone "$pid" && return 0
	say "$what (pid $pid) still runs 30 s after SIGTERM: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	wait_until 5 is_gone "$pid" || die "$what (pid $pid) does not die"
}

# The nodes of the configuration written, one per line.
node_names() {
	local n i
	n=$(written_mode | sed -n 's/.*nodes=\([0-9]*\).*/\1/p')
	if [ "${n:-1}" = 1 ]; then
		echo "$NODE"
	else
		for ((i = 1; i <= n; i++)); do node_name "$i"; done
	fi
}

node_state() { sinfo -h -n "$1" -o %t 2>/dev/null | head -n 1; }

# slurmctld recovers a node's state from its last run and calls it idle
# before slurmd has said a word: a node whose slurmd was started now has
# registered when the slurmd start time it reports is that one's.
declare -A SLURMD_SINCE=()
has_registered() {
	local t
	[ -n "${SLURMD_SINCE[$1]:-}" ] || return 0
	t=$(scontrol -o show node "$1" 2>/dev/null | grep -o 'SlurmdStartTime=[^ ]*') || return 1
	t=$(date -d "${t#*=}" +%s 2>/dev/null) || return 1
	[ "$t" -ge "${SLURMD_SINCE[$1]}" ]
}

fail_logs() {
	local f
	echo "slurm-local: $*" >&2
	for f in "$LOGDIR/slurmctld.start.log" "$CTLD_LOG" "$LOGDIR/slurmd.start.log" "$SLURMD_LOG" \
		"$LOGDIR"/slurmd-labrun-node*.log "$DBD_LOG"; do
		[ -s "$f" ] || continue
		echo "slurm-local: --- last lines of $f" >&2
		tail -n 15 "$f" | sed 's/^/slurm-local:   /' >&2
	done
	exit 1
}

# A node is ready when it takes jobs: idle, or running some already (jobs
# slurmctld recovered from its state).  A drained node stays so (a step
# that could not be killed), and so does one whose registration slurmctld
# found invalid (less memory than RealMemory): fail at once, saying why.
wait_ready() {
	local end=$((SECONDS + TIMEOUT)) state reason node
	for node in $(node_names); do
		while :; do
			state=$(node_state "$node")
			case $state in
			idle | mix | alloc) has_registered "$node" && break ;;
			drain | drng | drain\* | drng\* | inval | inval\*)
				reason=$(sinfo -h -n "$node" -o %E 2>/dev/null)
				fail_logs "node $node is $state ($reason); if that is over:" \
					"scontrol update NodeName=$node State=RESUME"
				;;
			esac
			[ "$SECONDS" -lt "$end" ] ||
				fail_logs "node $node is not idle after ${TIMEOUT} s (state '${state:-unknown}')"
			sleep 0.1
		done
	done
}

# Every slurmd, on this machine and in the nodes' namespaces.
stop_slurmds() {
	stop_daemon slurmd "$SLURMD_PID"
	stop_nodes
}

start_slurmds() {
	if [ "$NODES" = 1 ]; then
		start_slurmd
	else
		start_nodes "$NODES"
	fi
}

check_plugstack() {
	if [ ! -e "$PLUGSTACK" ]; then
		{
			echo "$MARK"
			echo "include $PLUGSTACK_D/*.conf"
		} >"$PLUGSTACK"
		say "wrote $PLUGSTACK"
	elif ! grep -Eq "^[[:space:]]*include[[:space:]]+$PLUGSTACK_D/\*(\.conf)?[[:space:]]*$" "$PLUGSTACK"; then
		die "$PLUGSTACK does not include $PLUGSTACK_D/*.conf, so labrun's plugin would" \
			"not be loaded: add the line 'include $PLUGSTACK_D/*.conf' to it"
	fi
}

# The fail-closed oci.conf (etc/slurm/oci.conf) while the plugin is not
# loaded; none while it is.  slurmstepd reads oci.conf at each step.
oci_fail_closed() {
	[ -f "$OCI_SRC" ] || die "$OCI_SRC is missing (run this script from labrun's source tree)"
	{
		echo "$MARK"
		cat "$OCI_SRC"
	} >"$OCI_CONF.new"
	# No daemon to restart for it: not a CHANGED of the configuration.
	local changed=$CHANGED
	install_file "$OCI_CONF" 0644 <"$OCI_CONF.new"
	CHANGED=$changed
	rm -f "$OCI_CONF.new"
}
oci_none() {
	refuse_foreign "$OCI_CONF"
	if [ -e "$OCI_CONF" ]; then
		rm -f "$OCI_CONF"
		say "removed $OCI_CONF"
	fi
}

# ---------------------------------------------------------------- commands

do_start() {
	local t0 cgplugin was_running=0 ms
	t0=$(date +%s%N)
	require_root
	check_commands
	note_headers
	cgplugin=$(cgroup_plugin)
	write_config "$cgplugin"
	make_gpus
	make_dirs
	check_plugstack
	if [ ! -e "$PLUGIN_CONF" ]; then
		oci_fail_closed
	fi
	if pid_of "$CTLD_PID" slurmctld >/dev/null || [ -n "$(alive_pids slurmd)" ]; then
		was_running=1
	fi
	# The daemons read their configuration at start.
	if [ "$CHANGED" = 1 ] && [ "$was_running" = 1 ]; then
		say "the configuration changed: restarting slurmctld and slurmd"
		stop_slurmds
		stop_daemon slurmctld "$CTLD_PID"
	fi
	# A slurmd of the other layout (one node, or the namespaced nodes).
	if [ "$NODES" = 1 ]; then
		stop_nodes
	else
		stop_daemon slurmd "$SLURMD_PID"
		prepare_nodes "$NODES"
	fi
	start_munged
	if [ "$ACCOUNTING" = 1 ]; then start_accounting; else stop_accounting; fi
	start_slurmctld
	start_slurmds
	wait_ready
	ms=$((($(date +%s%N) - t0) / 1000000))
	local node states=
	for node in $(node_names); do states+=" $node $(node_state "$node"),"; done
	say "${states# } partition $PARTITION, $cgplugin, accounting" \
		"$([ "$ACCOUNTING" = 1 ] && echo on || echo off), after" \
		"$((ms / 1000)).$(printf %03d $((ms % 1000))) s"
}

do_stop() {
	require_root
	stop_slurmds
	stop_daemon slurmctld "$CTLD_PID"
	stop_accounting
	stop_daemon munged "$MUNGE_PID"
	local left
	left=$(alive_pids slurmstepd)
	[ -z "$left" ] || say "note: slurmstepd processes still run (pid $left): steps of jobs"
	say "stopped"
}

do_status() {
	local name pidfile pid rc=0
	for name in munged:$MUNGE_PID mariadbd:$DB_PID slurmdbd:$DBD_PID slurmctld:$CTLD_PID; do
		pidfile=${name#*:} name=${name%%:*}
		if pid=$(pid_of "$pidfile" "$name"); then
			say "$name: running (pid $pid)"
		else
			say "$name: stopped"
			rc=3
		fi
	done
	if is_ours "$CONF" && [ -e "$CONF" ]; then
		say "config: $CONF (written by this script), $(grep -h '^CgroupPlugin=' "$CGROUP_CONF" 2>/dev/null || echo 'no cgroup.conf')"
	elif [ -e "$CONF" ]; then
		say "config: $CONF is this machine's own (not written by this script)"
	else
		say "config: none ($CONF missing)"
	fi
	local pids
	pids=$(alive_pids slurmd)
	say "slurmd: ${pids:+running (pid $pids)}${pids:-stopped}"
	[ -n "$pids" ] || rc=3
	if pid_of "$CTLD_PID" slurmctld >/dev/null; then
		local reason node
		for node in $(node_names); do
			reason=$(sinfo -h -n "$node" -o '%E' 2>/dev/null | grep -vx none) || true
			say "node $node: $(node_state "$node")${reason:+ ($reason)}"
		done
	fi
	if [ -e "$PLUGIN_CONF" ]; then
		say "plugin: $(grep -v '^#' "$PLUGIN_CONF")"
	else
		say "plugin: none ($PLUGIN_CONF missing)"
	fi
	if [ -e "$OCI_CONF" ]; then
		say "oci.conf: $OCI_CONF (--container refused: no plugin)"
	fi
	return "$rc"
}

# slurmd reads plugstack.conf when it starts (notes/slurm.md); srun reads it
# at each run.
restart_slurmd() {
	if [ -n "$(alive_pids slurmd)" ]; then
		NODES=$(written_mode | sed -n 's/.*nodes=\([0-9]*\).*/\1/p')
		NODES=${NODES:-1}
		stop_slurmds
		[ "$NODES" = 1 ] || prepare_nodes "$NODES"
		start_slurmds
		wait_ready
		say "slurmd restarted: $(for n in $(node_names); do echo -n "$n $(node_state "$n") "; done)"
	else
		say "slurmd is not running: the plugin is loaded when it starts"
	fi
}

do_plugin() {
	require_root
	[ $# -ge 1 ] || die "usage: slurm-local.sh plugin PATH-TO-spank_labrun.so [ARG...] | --remove"
	mkdir -p "$PLUGSTACK_D"
	if [ "$1" = --remove ]; then
		refuse_foreign "$PLUGIN_CONF"
		# Before the plugin goes: no moment where --container runs on
		# the host.
		oci_fail_closed
		if [ -e "$PLUGIN_CONF" ]; then
			rm -f "$PLUGIN_CONF"
			say "removed $PLUGIN_CONF"
			restart_slurmd
		fi
		return 0
	fi
	local so=$1 arg
	shift
	case $so in
	/*) ;;
	*) die "the plugin's path must be absolute (slurmd and srun load it from anywhere): $so" ;;
	esac
	[ -f "$so" ] || die "no plugin file $so: build it first"
	for arg in "$@"; do
		[[ $arg =~ ^[^[:space:]]+$ ]] ||
			die "plugin argument '$arg': plugstack.conf splits arguments on white space"
	done
	# slurmstepd loads the plugin as root.
	if [ "$(stat -c %u "$so")" != 0 ] || [ $((8#$(stat -c %a "$so") & 8#022)) -ne 0 ]; then
		say "warning: $so is not root-owned and write-protected; slurmstepd runs it as root"
	fi
	check_plugstack
	install_file "$PLUGIN_CONF" 0644 <<EOF
$MARK
required $so${*:+ $*}
EOF
	oci_none
	if [ "$CHANGED" = 1 ]; then
		restart_slurmd
	else
		say "$PLUGIN_CONF is up to date"
	fi
}

case ${1:-} in
start)
	shift
	parse_start_options "$@"
	do_start
	;;
stop) do_stop ;;
restart)
	shift
	parse_start_options "$@"
	do_stop
	do_start
	;;
status) do_status ;;
reload)
	require_root
	restart_slurmd
	;;
plugin)
	shift
	do_plugin "$@"
	;;
-h | --help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
