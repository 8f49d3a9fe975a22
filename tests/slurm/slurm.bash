# slurm.bash - what tests/slurm/*.bats share: why they cannot run here (if
# they cannot), starting the cluster of scripts/slurm-local.sh, running a
# command as the test user, and what a job may leave on the host.
#
# Runs as root (tests/launcher/run-bats runs tests/slurm/ like tests/root/).

# shellcheck disable=SC2034 # variables used by the .bats files
TEST_USER=${TEST_USER:-labrun-test}
SLURM_LOCAL=${SLURM_LOCAL:-${top_srcdir:-$BATS_TEST_DIRNAME/../..}/scripts/slurm-local.sh}
GPU_DEV=/dev/labrun-fakegpu
GPUS=4
# Longest a single Slurm command may take here (a loaded 2-core machine).
CMD_TIMEOUT=120
# KillWait is 2 s: a cancelled job is gone well within this.
CLEANUP_TIMEOUT=30
# Where the plugin and its helper are installed for a test file: a path
# that outlives run-bats's copy (plugstack.conf names it), owned by root
# as the plugin requires of its helper.
PLUGIN_DIR=/var/lib/labrun-tests

# Why the tests cannot run here, if they cannot.
why_skip() {
	local c
	if [ "$(id -u)" != 0 ]; then
		echo "needs root: it starts the Slurm daemons (CI runs as root)"
		return
	fi
	for c in srun sbatch squeue scancel scontrol sinfo slurmctld slurmd munged; do
		if ! PATH=$PATH:/usr/sbin command -v "$c" >/dev/null; then
			echo "Slurm is not installed ($c is missing):" \
				"apt-get install slurmctld slurmd slurm-client munge"
			return
		fi
	done
	if ! id "$TEST_USER" >/dev/null 2>&1; then
		echo "the test user $TEST_USER is missing: run scripts/setup-test-env.sh"
		return
	fi
	# scripts/slurm-local.sh marks the files it writes, and leaves alone a
	# Slurm this machine had before.
	if [ -e /etc/slurm/slurm.conf ] &&
		! grep -qx '# written by labrun scripts/slurm-local.sh' /etc/slurm/slurm.conf; then
		echo "this machine has a Slurm configuration of its own (/etc/slurm/slurm.conf):" \
			"these tests run on the cluster of scripts/slurm-local.sh only"
	fi
}

# (bats 1.8, Debian 12's, cannot skip from setup_file: each test skips.)
setup_file() {
	SKIP_REASON=$(why_skip)
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	[ -x "$SLURM_LOCAL" ] || {
		echo "scripts/slurm-local.sh not found at $SLURM_LOCAL (set SLURM_LOCAL or top_srcdir)"
		return 1
	}
	"$SLURM_LOCAL" start
}

setup() {
	[ -z "$SKIP_REASON" ] || skip "$SKIP_REASON"
	WORK=$(mktemp -d /tmp/labrun-slurm.XXXXXX)
	chown "$TEST_USER:" "$WORK"
	chmod 755 "$WORK"
	JOBS=()
}

teardown() {
	local id
	[ -n "${WORK:-}" ] || return 0
	# A job left running by a failed test would hold the node's cores.
	for id in "${JOBS[@]}"; do
		scancel "$id" 2>/dev/null || true
	done
	rm -rf "$WORK"
}

# Why the plugin's tests cannot run here, beyond why_skip: not built.
why_no_plugin() {
	[ -e "$(dirname "$LABRUN")/spank_labrun.so" ] ||
		echo "spank_labrun.so was not built (libslurm-dev's slurm/spank.h missing)"
}

# install_plugin [ARG...]: spank_labrun.so and labrun-step (built beside
# labrun) into PLUGIN_DIR, named `required` in plugstack.conf with
# helper= and ARGs; slurmd restarted.  plugin --remove undoes it.
install_plugin() {
	mkdir -p "$PLUGIN_DIR"
	install -m 0755 "$(dirname "$LABRUN")/spank_labrun.so" "$PLUGIN_DIR/spank_labrun.so"
	install -m 0755 "$(dirname "$LABRUN")/labrun-step" "$PLUGIN_DIR/labrun-step"
	"$SLURM_LOCAL" plugin "$PLUGIN_DIR/spank_labrun.so" helper="$PLUGIN_DIR/labrun-step" "$@"
}

# refused ARGS... MESSAGE: srun ARGS touch MARKER fails with a "labrun: "
# line containing MESSAGE, and nothing ran (no marker file).
# shellcheck disable=SC2154 # status and output come from bats's run
refused() {
	local msg=${*: -1}
	set -- "${@:1:$#-1}"
	run as_user srun "$@" touch "$WORK/ran"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: "*"$msg"* ]]
	[ ! -e "$WORK/ran" ]
}

# as_user CMD...: CMD as the test user (PATH /usr/local/bin:/bin:/usr/bin,
# its own HOME), in WORK, with no terminal and a time limit.
as_user() {
	(cd "$WORK" && setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
		--reset-env timeout -k 5 "$CMD_TIMEOUT" "$@" </dev/null)
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# What a job may leave on the host, by job id.
job_state() { scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
job_queued() { [ -n "$(squeue -h -j "$1" 2>/dev/null)" ]; }
job_stepds() { pgrep -f "^slurmstepd: \[$1\." || true; }
job_cgroups() {
	find /sys/fs/cgroup/ -mindepth 3 -maxdepth 4 -type d -path "*/slurm*/uid_*/job_$1" 2>/dev/null
}
user_procs_matching() { pgrep -u "$TEST_USER" -f "$1" || true; }
user_runs() { [ -n "$(user_procs_matching "$1")" ]; }
job_running() { [ "$(job_state "$1")" = RUNNING ]; }
nothing_left() {
	! job_queued "$1" && [ -z "$(job_stepds "$1")" ] && [ -z "$(job_cgroups "$1")" ] &&
		[ -z "$(user_procs_matching "$2")" ]
}
