# nodes.bash - the compute nodes of scripts/slurm-local.sh's multi-node
# cluster (start --nodes N, N >= 2): N slurmd on this one machine, each in
# network, UTS, mount and cgroup namespaces of its own.  Sourced by
# slurm-local.sh; uses its say, die, launch, wait_until, pid_of and
# stop_daemon.
#
# The network: a bridge $BRIDGE on the host holding $CTL_ADDR (slurmctld,
# srun and sacctmgr reach the nodes through it), and one veth pair per
# node, the node's end named eth0 in its namespace with $NET.(10+i).  The
# nodes have no route beyond the bridge's network: they reach the host and
# each other, nothing else.  198.18.0.0/15 is the range RFC 2544 sets aside
# for tests, so that it is no site's own network.
#
# Each node (labrun-nodeI) sees:
#   - its own hostname, and an /etc/hosts naming the controller and nodes;
#   - its own /tmp and /run ($NODES_DIR/NAME/{tmp,run}, emptied at start),
#     with the host's /run/munge bound in: a user's layer holders and a
#     job's sockets are per node, as on a cluster whose /tmp is local;
#   - its own cgroup subtree, /sys/fs/cgroup/C/NAME of every hierarchy C,
#     bound over /sys/fs/cgroup/C and, through a cgroup namespace rooted
#     there, its own /proc/self/cgroup: slurmd, its steps and labrun's
#     lab cgroups live there and nowhere else;
#   - the host's other files: the image paths, /etc/labrun, /home, the
#     plugin, as a shared file system would give them;
#   - 2 GPUs: the fake devices ${GPU_DEV}0 and 1 (the devices cgroup of each
#     node gives a job only those Slurm allocated it there).

NET=198.18.77
CTL_ADDR=$NET.1
BRIDGE=labrun-br0
NODES_DIR=/var/lib/labrun-slurm/nodes
NODE_GPUS=2

node_name() { echo "labrun-node$1"; }
node_addr() { echo "$NET.$((10 + $1))"; }
node_pidfile() { echo "$NODES_DIR/$(node_name "$1")/slurmd.pid"; }

# Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers, the
# named systemd one, a v2 unified tree).
cgroup_hierarchies() {
	awk '$5 ~ "^/sys/fs/cgroup/[^/]+$" && ($9 == "cgroup" || $9 == "cgroup2") { print $5 }' \
		/proc/self/mountinfo
}

# slurm.conf's node and partition lines, and where each slurmd keeps its
# files (%n: the node's name).
nodes_conf() {
	local n=$1 cpus=$2 topology=$3 mem_mb=$4
	cat <<EOF
SlurmdSpoolDir=$NODES_DIR/%n/spool
SlurmdPidFile=$NODES_DIR/%n/slurmd.pid
SlurmdLogFile=$LOGDIR/slurmd-%n.log
NodeName=labrun-node[1-$n] NodeAddr=$NET.[11-$((10 + n))] CPUs=$cpus ${topology}RealMemory=$mem_mb Gres=gpu:$NODE_GPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=labrun-node[1-$n] Default=YES MaxTime=INFINITE State=UP
EOF
}

nodes_gres() {
	echo "NodeName=labrun-node[1-$1] Name=gpu File=${GPU_DEV}[0-$((NODE_GPUS - 1))]"
}

net_up() {
	local n=$1 i ns
	ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge ||
		die "cannot make the bridge $BRIDGE (ip link add type bridge)"
	ip -br addr show "$BRIDGE" | grep -qF " $CTL_ADDR/24" ||
		ip addr add "$CTL_ADDR/24" dev "$BRIDGE" || die "cannot give $BRIDGE the address $CTL_ADDR"
	ip link set "$BRIDGE" up
	for ((i = 1; i <= n; i++)); do
		ns=$(node_name "$i")
		[ -e "/run/netns/$ns" ] || ip netns add "$ns" || die "cannot make the network namespace $ns"
		if ! ip link show "lrveth$i" >/dev/null 2>&1; then
			ip link add "lrveth$i" type veth peer name eth0 netns "$ns" ||
				die "cannot make the veth pair of $ns"
		fi
		ip link set "lrveth$i" master "$BRIDGE" up
		ip -n "$ns" link set lo up
		ip -n "$ns" -br addr show eth0 | grep -qF " $(node_addr "$i")/24" ||
			ip -n "$ns" addr add "$(node_addr "$i")/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
}

# Every node namespace and veth of an earlier start, and the bridge.
net_down() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^labrun-node[0-9]+$/ { print $1 }'); do
		ip netns del "$ns"
	done
	! ip link show "$BRIDGE" >/dev/null 2>&1 || ip link del "$BRIDGE"
}

# The node's cgroup in every hierarchy; a cpuset needs its CPUs and memory
# nodes before a process may join it.
node_cgroups() {
	local name=$1 h
	for h in $(cgroup_hierarchies); do
		mkdir -p "$h/$name"
		if [ -e "$h/cpuset.cpus" ]; then
			[ -n "$(cat "$h/$name/cpuset.cpus")" ] || cat "$h/cpuset.cpus" >"$h/$name/cpuset.cpus"
			[ -n "$(cat "$h/$name/cpuset.mems")" ] || cat "$h/cpuset.mems" >"$h/$name/cpuset.mems"
		fi
	done
}

# Remove what a node left in the cgroup trees, deepest first; a cgroup that
# still holds a process stays (and is named).
node_cgroups_remove() {
	local name=$1 h left=()
	for h in $(cgroup_hierarchies); do
		[ -d "$h/$name" ] || continue
		find "$h/$name" -depth -type d -exec rmdir {} + 2>/dev/null || true
		[ ! -d "$h/$name" ] || left+=("$h/$name")
	done
	[ ${#left[@]} -eq 0 ] || say "note: cgroups still in use: ${left[*]}"
}

write_hosts() {
	local n=$1 i
	{
		echo "127.0.0.1 localhost"
		echo "::1 localhost ip6-localhost ip6-loopback"
		echo "$CTL_ADDR $(hostname -s)"
		for ((i = 1; i <= n; i++)); do
			echo "$(node_addr "$i") $(node_name "$i")"
		done
	} >"$NODES_DIR/hosts"
}

# start_node I: slurmd of node I in its namespaces (see the top).  The
# shell that becomes slurmd joins the node's cgroups first, so that its
# cgroup namespace is rooted there.
start_node() {
	local i=$1 name dir pidfile h joins=
	name=$(node_name "$i")
	dir=$NODES_DIR/$name
	pidfile=$(node_pidfile "$i")
	pid_of "$pidfile" slurmd >/dev/null && return 0
	rm -rf "${dir:?}/tmp" "${dir:?}/run"
	install -d -m 0755 "$dir" "$dir/spool" "$dir/run" "$dir/run/munge"
	install -d -m 1777 "$dir/tmp"
	node_cgroups "$name"
	for h in $(cgroup_hierarchies); do
		joins+="echo \$\$ >$h/$name/cgroup.procs; "
	done
	say "starting slurmd of $name ($(node_addr "$i"))"
	SLURMD_SINCE[$name]=$(date +%s)
	# shellcheck disable=SC2016 # expanded by the node's shell
	launch "$LOGDIR/slurmd-$name.start.log" nsenter --net="/run/netns/$name" -- \
		bash -euc "$joins"'
		exec unshare --uts --mount --cgroup --propagation private -- bash -euc "
			hostname $0
			for h in $1; do mount --bind \$h/$0 \$h; done
			mount --bind /run/munge $2/run/munge
			mount --rbind $2/run /run
			mount --bind $2/tmp /tmp
			mount --bind $3 /etc/hosts
			exec /usr/sbin/slurmd"' "$name" "$(cgroup_hierarchies | xargs)" "$dir" "$NODES_DIR/hosts" ||
		fail_logs "slurmd of $name failed to start"
}

# The network, before slurmctld: it listens on $CTL_ADDR.
prepare_nodes() {
	install -d -m 0755 "$NODES_DIR"
	net_up "$1"
	write_hosts "$1"
}

start_nodes() {
	local n=$1 i
	for ((i = 1; i <= n; i++)); do
		start_node "$i"
	done
	for ((i = 1; i <= n; i++)); do
		wait_until 10 has_pidfile "$(node_pidfile "$i")" slurmd ||
			fail_logs "slurmd of $(node_name "$i") did not start"
	done
}

# Every node's slurmd that runs, whatever N it was started with; then the
# network and the cgroups.
stop_nodes() {
	local d name
	for d in "$NODES_DIR"/labrun-node*; do
		[ -d "$d" ] || continue
		name=${d##*/}
		stop_daemon slurmd "$d/slurmd.pid" "slurmd of $name"
	done
	net_down
	for d in "$NODES_DIR"/labrun-node*; do
		[ -d "$d" ] || continue
		node_cgroups_remove "${d##*/}"
	done
}
