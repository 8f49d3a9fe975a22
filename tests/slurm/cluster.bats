#!/usr/bin/env bats
# cluster.bats - the multi-node cluster of scripts/slurm-local.sh
# (start --nodes 3, issue 14 item 1): three slurmd in network, UTS, mount
# and cgroup namespaces of their own, on this one machine, with accounting.
# What a test of labrun on several nodes relies on: each node is its own
# host (name, address, /tmp, cgroup tree, GPUs), the nodes reach each
# other and the controller and nothing else, tasks of one step on
# different nodes talk over TCP, and a stop leaves nothing behind.
# Runs as root.

load slurm

NODES=3
# /tmp is each node's own: what the nodes share goes here.
WORK_ROOT=/var/tmp

setup_file() { slurm_setup_file --nodes "$NODES"; }

# live NAME: pids of live (not zombie) processes named NAME.
live() {
	local p
	for p in $(pgrep -x "$1"); do
		[ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] || echo "$p"
	done
}

as_user() {
	setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups --reset-env \
		env PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin "$@"
}

@test "three nodes, each with its own host name and address" {
	run as_user timeout "$CMD_TIMEOUT" srun -N "$NODES" -l sh -c \
		'echo "$(hostname) $(ip -4 -o addr show eth0 | awk "{ print \$4 }")"'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	for i in 1 2 3; do
		grep -qx "[0-9]*: labrun-node$i 198.18.77.1$i/24" <<<"$output" ||
			{ echo "node $i missing or wrong: $output"; false; }
	done
}

@test "a node reaches the other nodes and the controller, and nothing beyond" {
	local host_ip
	host_ip=$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
	# Its only route is the bridge's network.
	run ip -n labrun-node1 -4 route
	[ "$status" -eq 0 ]
	[ "$output" = "198.18.77.0/24 dev eth0 proto kernel scope link src 198.18.77.11 " ] ||
		[ "$output" = "198.18.77.0/24 dev eth0 proto kernel scope link src 198.18.77.11" ] ||
		{ echo "routes: $output"; false; }
	# slurmd of node 2 and slurmctld answer; this machine's own address
	# and the world do not.
	run as_user timeout "$CMD_TIMEOUT" srun -N1 -w labrun-node1 bash -c '
		for a in 198.18.77.12/6818 198.18.77.1/6817 '"${host_ip:-10.255.255.1}"'/22 1.1.1.1/53; do
			if timeout 5 bash -c "exec 3<>/dev/tcp/${a%/*}/${a#*/}" 2>/dev/null; then
				echo "$a open"
			else
				echo "$a closed"
			fi
		done'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output"
	grep -qx "198.18.77.12/6818 open" <<<"$output"
	grep -qx "198.18.77.1/6817 open" <<<"$output"
	grep -qx ".*/22 closed" <<<"$output"
	grep -qx "1.1.1.1/53 closed" <<<"$output"
}

@test "each node has its own /tmp and cgroup tree; the host sees a job's under the node's" {
	run as_user timeout "$CMD_TIMEOUT" srun -N1 -w labrun-node1 sh -c 'echo one >/tmp/labrun-cluster-probe'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run as_user timeout "$CMD_TIMEOUT" srun -N1 -w labrun-node2 cat /tmp/labrun-cluster-probe
	[ "$status" -ne 0 ]
	run as_user timeout "$CMD_TIMEOUT" srun -N1 -w labrun-node1 cat /tmp/labrun-cluster-probe
	grep -qx one <<<"$output" || { echo "$output"; false; }
	as_user srun -N1 -w labrun-node1 rm /tmp/labrun-cluster-probe
	[ ! -e /tmp/labrun-cluster-probe ]
	[ -f /var/lib/labrun-slurm/nodes/labrun-node1/tmp/labrun-cluster-probe ] && false

	# Inside, the cgroup paths start at the node's root; on the host the
	# job lives under /sys/fs/cgroup/memory/labrun-node2.
	local uid job
	uid=$(id -u "$TEST_USER")
	job=$(as_user sbatch --parsable -N1 -w labrun-node2 -o /dev/null --wrap 'sleep 60')
	JOBS+=("$job")
	local d=/sys/fs/cgroup/memory/labrun-node2/slurm_labrun-node2/uid_$uid/job_$job
	for _ in $(seq 100); do [ -d "$d" ] && break; sleep 0.2; done
	[ -d "$d" ] || { ls -R /sys/fs/cgroup/memory/labrun-node2 | head -20; false; }
	run as_user timeout "$CMD_TIMEOUT" srun --jobid="$job" --overlap cat /proc/self/cgroup
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	grep -q "memory:/slurm_labrun-node2/uid_$uid/job_$job/" <<<"$output" ||
		{ echo "$output"; false; }
	scancel "$job"
}

@test "each node has two GPUs of its own in Slurm's gres" {
	for i in 1 2 3; do
		scontrol show node "labrun-node$i" | grep -q 'Gres=gpu:2'
	done
	run as_user timeout "$CMD_TIMEOUT" srun -N "$NODES" --gres=gpu:2 -l sh -c 'echo "$(hostname) $CUDA_VISIBLE_DEVICES"'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(grep -c ' 0,1$' <<<"$output")" -eq "$NODES" ] || { echo "$output"; false; }
}

@test "tasks of one step on two nodes ping each other over TCP" {
	cat >"$WORK/ping.py" <<'PY'
import os, socket, sys
rank = int(os.environ["SLURM_PROCID"])
first = os.environ["SLURM_STEP_NODELIST"].split(",")[0].replace("[", "").split("-")[0]
port = 20000 + int(os.environ["SLURM_JOB_ID"]) % 20000
if rank == 0:
    s = socket.create_server(("0.0.0.0", port))
    c, addr = s.accept()
    msg = c.recv(64)
    c.sendall(b"pong from " + socket.gethostname().encode())
    print("rank 0 got", msg.decode(), "from", addr[0])
else:
    for _ in range(100):
        try:
            c = socket.create_connection((socket.gethostbyname("labrun-node1"), port), timeout=5)
            break
        except OSError:
            import time; time.sleep(0.1)
    c.sendall(b"ping from " + socket.gethostname().encode())
    print("rank 1 got", c.recv(64).decode())
PY
	chmod 644 "$WORK/ping.py"
	run as_user timeout "$CMD_TIMEOUT" srun -N2 -n2 -w labrun-node1,labrun-node3 python3 "$WORK/ping.py"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx "rank 0 got ping from labrun-node3 from 198.18.77.13" <<<"$output"
	grep -qx "rank 1 got pong from labrun-node1" <<<"$output"
}

@test "accounting: a user without an association cannot submit" {
	run sacctmgr -n -P show assoc where user="$TEST_USER" format=account
	[ "$status" -eq 0 ]
	grep -qx local <<<"$output"
	run timeout "$CMD_TIMEOUT" setpriv --reuid=nobody --regid=nogroup --clear-groups srun -N1 true
	[ "$status" -ne 0 ]
	grep -q "Invalid account" <<<"$output" || { echo "$output"; false; }
}

@test "stop leaves no slurmd, namespace, bridge or cgroup of the nodes" {
	"$SLURM_LOCAL" stop
	[ -z "$(live slurmd)" ]
	[ -z "$(ip netns list | grep labrun-node)" ]
	! ip link show labrun-br0 2>/dev/null
	run bash -c 'ls -d /sys/fs/cgroup/*/labrun-node* 2>/dev/null'
	[ -z "$output" ] || { echo "left: $output"; false; }
	# The daemons the script started, by its pidfiles (a developer's own
	# slurmdbd elsewhere is not one).
	run "$SLURM_LOCAL" status
	for d in munged mariadbd slurmdbd slurmctld slurmd; do
		grep -qx "slurm-local: $d: stopped" <<<"$output" || { echo "$output"; false; }
	done
}
