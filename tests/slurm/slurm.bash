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
# as the plugin requires of its helper.  scripts/test.sh removes it at the
# end of a run it was not there before (the same path there).
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

# slurm_setup_file [OPTION...]: the cluster started with slurm-local.sh's
# start OPTIONs (none: one node, this machine, with accounting).
# (bats 1.8, Debian 12's, cannot skip from setup_file: each test skips.)
slurm_setup_file() {
	SKIP_REASON=$(why_skip)
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	[ -x "$SLURM_LOCAL" ] || {
		echo "scripts/slurm-local.sh not found at $SLURM_LOCAL (set SLURM_LOCAL or top_srcdir)"
		return 1
	}
	"$SLURM_LOCAL" start "$@"
}
setup_file() { slurm_setup_file; }

# Where each test's WORK directory is made: /tmp is each node's own on
# the multi-node cluster (cluster.bats sets /var/tmp, which they share).
WORK_ROOT=${WORK_ROOT:-/tmp}

setup() {
	[ -z "$SKIP_REASON" ] || skip "$SKIP_REASON"
	WORK=$(mktemp -d "$WORK_ROOT/labrun-slurm.XXXXXX")
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

# The plugin's configuration on this node, as a test file finds it: the
# files of plugstack.conf.d and Slurm's oci.conf.  Each file that loads the
# plugin saves it in setup_file and restores it in teardown_file (issue 12,
# item 16: a suite that left the plugin unloaded let the README's
# `srun --container=img.sqfs CMD` run CMD on the host).
PLUGSTACK_D=/etc/slurm/plugstack.conf.d
OCI_CONF=/etc/slurm/oci.conf

# plugin_config_digest: one line per file of the configuration, with its
# content's digest ("none" for an absent oci.conf).
plugin_config_digest() {
	local f
	for f in "$PLUGSTACK_D"/* "$OCI_CONF"; do
		[ -e "$f" ] || { [ "$f" != "$OCI_CONF" ] || echo "none $f"; continue; }
		echo "$(sha256sum <"$f" | cut -d' ' -f1) $f"
	done
}

# plugin_config_save [DIR]: a copy of the configuration in DIR (default
# PLUGIN_SAVED, a directory of this file's).
plugin_config_save() {
	local dir=${1:-${BATS_FILE_TMPDIR:?}/plugin-config}
	rm -rf "$dir"
	mkdir -p "$dir/plugstack.conf.d"
	cp -a "$PLUGSTACK_D/." "$dir/plugstack.conf.d/" 2>/dev/null || true
	[ ! -e "$OCI_CONF" ] || cp -a "$OCI_CONF" "$dir/oci.conf"
	plugin_config_digest >"$dir/digest"
}

# plugin_config_restore [DIR]: the configuration saved in DIR back, and
# slurmd restarted when it changed (it reads plugstack.conf at start);
# fails when what is there then is not what was saved.
plugin_config_restore() {
	local dir=${1:-${BATS_FILE_TMPDIR:?}/plugin-config}
	[ -f "$dir/digest" ] || { echo "no saved plugin configuration in $dir" >&2; return 1; }
	if [ "$(plugin_config_digest)" != "$(cat "$dir/digest")" ]; then
		find "$PLUGSTACK_D" -mindepth 1 -maxdepth 1 -delete
		cp -a "$dir/plugstack.conf.d/." "$PLUGSTACK_D/"
		rm -f "$OCI_CONF"
		[ ! -e "$dir/oci.conf" ] || cp -a "$dir/oci.conf" "$OCI_CONF"
		"$SLURM_LOCAL" reload
	fi
	[ "$(plugin_config_digest)" = "$(cat "$dir/digest")" ] || {
		echo "the plugin configuration was not restored:" >&2
		diff <(cat "$dir/digest") <(plugin_config_digest) >&2
		return 1
	}
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

# The job id a task or a batch script printed as "job=ID".
job_of() { grep -o 'job=[0-9]*' <<<"$1" | head -1 | cut -d= -f2; }

# What a job may leave on the host, by job id.
job_state() { scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
job_queued() { [ -n "$(squeue -h -j "$1" 2>/dev/null)" ]; }
job_stepds() { pgrep -f "^slurmstepd: \[$1\." || true; }
job_cgroups() {
	find /sys/fs/cgroup/ -mindepth 3 -maxdepth 4 -type d -path "*/slurm*/uid_*/job_$1" 2>/dev/null
}
user_procs_matching() { pgrep -u "$TEST_USER" -f "$1" || true; }
user_runs() { [ -n "$(user_procs_matching "$1")" ]; }
# No live process of the test user's with labrun in its command line; a
# function, so that wait_for looks again each time.  Zombies left out: a
# job's layer holder is reparented to PID 1 when its start exits, and this
# machine's PID 1 reaps late (pgrep -f matches a zombie by its name).
no_user_labrun() {
	[ -z "$(ps -u "$TEST_USER" -o stat=,args= | awk '$1 !~ /^Z/ && /labrun/')" ]
}
job_running() { [ "$(job_state "$1")" = RUNNING ]; }
nothing_left() {
	! job_queued "$1" && [ -z "$(job_stepds "$1")" ] && [ -z "$(job_cgroups "$1")" ] &&
		[ -z "$(user_procs_matching "$2")" ]
}

# sync_setup_file PATTERN USER...: what a file that runs labrun-policy sync
# needs, once the cluster runs: SKIP_REASON set when the accounting holds
# labrun accounts (organization labrun) whose names do not match PATTERN
# (an awk regex), which a sync of the file's labs would remove; else
# ADDED_USERS (the USERs slurmdbd did not know: to remove at the end), LABS
# (a lab directory, root's, under WORK_ROOT) and POLICY (labrun-policy),
# exported.
sync_setup_file() {
	local pattern=$1 others u
	shift
	others=$(sacctmgr -nP show account format=account,organization |
		awk -F'|' -v p="$pattern" '$2 == "labrun" && $1 !~ p { print $1 }')
	if [ -n "$others" ]; then
		SKIP_REASON="the accounting holds labrun accounts of others ($(echo $others)): sync would remove them"
		return 0
	fi
	ADDED_USERS=
	for u in "$@"; do
		[ -n "$(sacctmgr -nP show user "$u" format=user)" ] || ADDED_USERS="$ADDED_USERS $u"
	done
	LABS=$(mktemp -d "$WORK_ROOT/labrun-labs.XXXXXX")
	chmod 755 "$LABS"
	POLICY=$(dirname "$LABRUN")/labrun-policy
	export LABS POLICY ADDED_USERS
}

# sync_teardown_file LAB: LAB's account gone through a sync of no lab, the
# users sync_setup_file found missing removed, LABS removed; fails when the
# account is still there.
sync_teardown_file() {
	local u
	rm -f "$LABS"/*.conf
	"$POLICY" -d "$LABS" sync >/dev/null || true
	for u in $ADDED_USERS; do
		sacctmgr -i delete user "$u" >/dev/null 2>&1 || true
	done
	rm -rf "$LABS"
	[ -z "$(sacctmgr -nP show account format=account | grep -x "$1")" ]
}
