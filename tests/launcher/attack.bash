# attack.bash - the adversarial matrix shared by tests/launcher/attack.bats
# and tests/slurm/attack.bats (both generated from their .bats.in by
# tests/launcher/attack-gen.sh), and the generator itself.
#
# Every escape probe of tests/probes/ (ATTACK_PROBES) runs in every cell of
# a matrix: where (the launcher, or a Slurm step with --container) x who
# (the user, or root of its own user namespace: --remap-root /
# --container-remap-root) x what else (nothing, a writable layer in a
# directory of the user's: --writable=DIR / --container-writable=DIR, or
# binds: --bind / --container-mounts).  A cell passes when the probe exits
# 0 having printed at least one "OK" and no "ESCAPED" or "BROKEN" line
# (tests/probes/probe.h), and the checks made from outside after it hold.
#
# Written as an attacker: a probe that escapes stays in the matrix and its
# cell fails; nothing here decides that a hole is acceptable.

# The probes of tests/probes/ that are not escape probes (helpers, a
# workload) or need a terminal (run in the terminal tests instead).
# shellcheck disable=SC2034,SC2154 # used by the .bats files and attack-gen.sh; status and output come from bats' run
ATTACK_NOT_PROBES="hog cma suid-id tiocsti"
ATTACK_WHO="user remap"
ATTACK_EXTRA="none writable binds"

# attack_probes DIR: the escape probes whose sources are in DIR.
attack_probes() {
	local c name
	for c in "$1"/*.c; do
		name=$(basename "$c" .c)
		case " $ATTACK_NOT_PROBES " in *" $name "*) continue ;; esac
		echo "$name"
	done
}

# attack_label WHERE WHO EXTRA: the cell's name in the TAP output, with the
# options as the user types them, e.g. "launcher, --remap-root, --bind".
attack_label() {
	local where=$1 who=$2 extra=$3 r w b
	case $where in
	launcher) r=--remap-root w=--writable=DIR b=--bind ;;
	*) r=--container-remap-root w=--container-writable=DIR b=--container-mounts ;;
	esac
	local label="$where"
	case $who in user) label+=", as the user" ;; remap) label+=", $r" ;; esac
	case $extra in writable) label+=", $w" ;; binds) label+=", $b" ;; esac
	echo "$label"
}

# attack_args PROBE WHO EXTRA: the probe's own arguments in that cell.
# VICTIM (a host process of the same user) must be set.
attack_args() {
	local probe=$1 who=$2 extra=$3
	case $probe in
	caps | mount_try | umount_reveal | cgroup_escape)
		[ "$who" = remap ] && echo remap ;;
	signal_host) echo "$VICTIM" ;;
	pid_sweep) echo "victim=$VICTIM" ;;
	write_lower) if [ "$extra" = binds ]; then echo /ro; else echo /sys; fi ;;
	esac
	return 0
}

# attack_judge: bats' $status and $output of a probe's run; fails, saying
# why, unless the probe held.
attack_judge() {
	local why=
	if grep -qE '^ESCAPED' <<<"$output"; then
		why="the probe ESCAPED"
	elif grep -qE '^BROKEN' <<<"$output"; then
		why="the probe could not run its test (BROKEN)"
	elif [ "$status" -ne 0 ]; then
		why="exit status $status"
	elif ! grep -q '^OK ' <<<"$output"; then
		why="no OK line: the probe tested nothing"
	fi
	[ -z "$why" ] && return 0
	echo "attack cell failed: $why"
	echo "status: $status"
	echo "output:"
	echo "$output"
	echo "stderr: ${stderr-}"
	return 1
}

# The host victim's scheduling state, compared before and after a cell
# (pid_sweep tries setpriority and ioprio_set on the whole user).
attack_victim_state() {
	echo "nice=$(ps -o ni= -p "$VICTIM" | tr -d ' ') io=$(ionice -p "$VICTIM" 2>&1)"
}

# The host's kernel settings a probe tries to change (kernel_write):
# compared before and after a cell, from outside.
attack_host_state() {
	local f
	for f in kernel/pid_max user/max_user_namespaces kernel/core_pattern kernel/hostname \
		vm/overcommit_memory kernel/panic; do
		printf '%s=%s ' "$f" "$(cat "/proc/sys/$f" 2>/dev/null)"
	done
}
