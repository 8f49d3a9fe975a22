#!/usr/bin/env bats
# usage.bats - the labs' GPU-hours this month as `labrun-policy usage` and
# `labrun --quota` show them (issue 14, item 4; labrun-policy(8), USAGE):
# summed from the job records, they equal sacct's for the same window
# (sacct -X -D --truncate: each allocation's gres/gpu times its elapsed
# time inside the window), per lab and per member; the text names the
# budget and the limits at once; labrun --quota adds a line per lab, and
# one line saying why when slurmdbd cannot be reached, still exiting 0.
#
# Runs as root on the single-node cluster of `scripts/slurm-local.sh
# start --accounting` (cluster labrun-local, AccountingStorageTRES=
# gres/gpu); the jobs run as the test users with --account=lrusage.  The
# test's lab and the slurmdb users it added are removed at the end; it
# refuses to run when the accounting holds labrun accounts of others,
# which its syncs would remove.

load slurm

LAB=lrusage
USER2=labrun-test2

setup_file() {
	SKIP_REASON=$(why_skip)
	[ -n "$SKIP_REASON" ] || [ -x "$(dirname "$LABRUN")/labrun-policy" ] ||
		SKIP_REASON="labrun-policy was not built beside labrun"
	[ -n "$SKIP_REASON" ] || "$(dirname "$LABRUN")/labrun-policy" usage --help >/dev/null ||
		SKIP_REASON="labrun-policy has no usage (built without Slurm accounting?)"
	[ -n "$SKIP_REASON" ] || id "$USER2" >/dev/null 2>&1 ||
		SKIP_REASON="no second test user $USER2 (scripts/setup-test-env.sh)"
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	"$SLURM_LOCAL" start --accounting
	sync_setup_file "^$LAB\$" "$TEST_USER" "$USER2"
	# The lab: both test users, 4 GPUs and 10 GPU-hours; each member 2
	# GPUs and 1 GPU-hour.
	cat >"$LABS/$LAB.conf" <<-EOF2
		[lab]
		members = $TEST_USER, $USER2
		cores = 4
		gpus = 4
		gpu-hours = 10
		[defaults]
		cores = 2
		gpus = 2
		gpu-hours = 1
	EOF2
	chmod 644 "$LABS/$LAB.conf"
	"$POLICY" -d "$LABS" sync >/dev/null
	# Usage to show: 2 GPUs for 4 s by the first member, 1 GPU for 3 s
	# by the second (the jobs of every test of this file).
	local jobs
	jobs="$(gpu_job "$TEST_USER" 2 4),$(gpu_job "$USER2" 1 3)"
	# srun returns before slurmctld has sent the jobs' ends to slurmdbd:
	# the numbers compared are those of finished jobs.
	wait_for 60 bash -c "[ \"\$(sacct -a -X -n -P -j $jobs -o State | grep -cx COMPLETED)\" = 2 ]" || {
		sacct -a -X -j "$jobs" >&2
		return 1
	}
	# Right after a job ends, slurmdbd's answer to a query by time window
	# (usage's, and sacct -S/-E's) may still lack it while one by job id
	# (sacct -j, above) has it: seen for up to 1.5 s.  Wait until the
	# window has caught up; the tests then compare anew.
	wait_for 10 window_caught_up || {
		echo "usage's window still differs from sacct's after 10 s" >&2
		return 1
	}
}

# window_caught_up: usage --json's lab total equals sacct's for usage's
# window.
window_caught_up() {
	local json
	json=$("$POLICY" usage --json "$LAB") || return 1
	[ "$(jq -r ".labs[] | select(.account == \"$LAB\") | .gpu_seconds" <<<"$json")" = \
		"$(sacct_secs "$(jq -r .start <<<"$json")" "$(jq -r .end <<<"$json")")" ]
}

teardown_file() {
	[ -z "$SKIP_REASON" ] || return 0
	sync_teardown_file "$LAB"
}

# gpu_job USER GPUS SECONDS: a job of USER in the lab holding GPUS for
# SECONDS; prints its id.
gpu_job() {
	(cd /var/tmp && setpriv --reuid="$1" --regid="$1" --init-groups --reset-env \
		timeout 120 srun -A "$LAB" --gres=gpu:"$2" -t 1 \
		sh -c "echo \$SLURM_JOB_ID; sleep $3" </dev/null)
}

# sacct_secs START END [USER]: the GPU-seconds sacct counts for the lab
# (or USER in it) from START to END (epoch seconds): each allocation's
# gres/gpu times its elapsed time cut to the window.
sacct_secs() {
	local s e out users=()
	s=$(date -u -d "@$1" +%Y-%m-%dT%H:%M:%S)
	e=$(date -u -d "@$2" +%Y-%m-%dT%H:%M:%S)
	[ -z "${3:-}" ] || users=(-u "$3")
	out=$(TZ=UTC sacct -a "${users[@]}" -X -D -T -A "$LAB" -S "$s" -E "$e" -n -P \
		-o ElapsedRaw,AllocTRES) || return 1
	awk -F'|' '{ g = 0; if (match($2, /gres\/gpu=[0-9]+/)) g = substr($2, RSTART + 9, RLENGTH - 9); t += g * $1 } END { print t + 0 }' <<<"$out"
}

# hours SECONDS: as usage shows them, hundredths rounded down.
hours() { awk -v s="$1" 'BEGIN { c = int(s / 36); printf "%d.%02d\n", c / 100, c % 100 }'; }

@test "usage --json equals sacct's GPU-seconds for the same window, per lab and member" {
	run "$POLICY" usage --json "$LAB"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	local json=$output start end lab mine theirs sl sm st
	start=$(jq -r .start <<<"$json")
	end=$(jq -r .end <<<"$json")
	# The window starts at midnight UTC of the month's 1st.
	[ "$start" -eq "$(date -u -d "$(date -u -d "@$end" +%Y-%m-01)" +%s)" ]
	lab=$(jq -r ".labs[] | select(.account == \"$LAB\") | .gpu_seconds" <<<"$json")
	mine=$(jq -r ".labs[].members[] | select(.user == \"$TEST_USER\") | .gpu_seconds" <<<"$json")
	theirs=$(jq -r ".labs[].members[] | select(.user == \"$USER2\") | .gpu_seconds" <<<"$json")
	sl=$(sacct_secs "$start" "$end")
	sm=$(sacct_secs "$start" "$end" "$TEST_USER")
	st=$(sacct_secs "$start" "$end" "$USER2")
	echo "usage: lab $lab, $TEST_USER $mine, $USER2 $theirs"
	echo "sacct: lab $sl, $TEST_USER $sm, $USER2 $st"
	# At least the jobs of setup_file (2 x 4 s, 1 x 3 s).
	[ "$mine" -ge 8 ]
	[ "$theirs" -ge 3 ]
	[ "$lab" -eq "$sl" ]
	[ "$mine" -eq "$sm" ]
	[ "$theirs" -eq "$st" ]
	[ "$lab" -eq $((mine + theirs)) ]
	# The budgets and limits sync set.
	[ "$(jq -r ".labs[0].gpu_hours_budget, .labs[0].gpus, .labs[0].cores" <<<"$json" | tr '\n' ' ')" = "10 4 4 " ]
	[ "$(jq -r ".labs[0].members[0].gpu_hours_budget" <<<"$json")" = 1 ]
}

@test "usage shows each lab and member against the budget; a member's labs; an unknown name fails" {
	run "$POLICY" usage
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"GPU-hours used from "*" 00:00 UTC to "*" UTC on cluster "* ]]
	grep -Eq "^lab $LAB +GPU-hours [0-9]+\.[0-9]{2} of 10 \([0-9]+%\) +cores 4, memory unlimited, GPUs 4 at once\$" <<<"$output"
	grep -Eq "^  member $TEST_USER +GPU-hours [0-9]+\.[0-9]{2} of 1 \([0-9]+%\) +cores 2, memory unlimited, GPUs 2 at once\$" <<<"$output"
	# A member: their labs, and only their row in each.
	run "$POLICY" usage "$USER2"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q "^lab $LAB " <<<"$output"
	grep -q "^  member $USER2 " <<<"$output"
	# Not `! grep`: bats does not fail a test on a negated command.
	[ -z "$(grep "member $TEST_USER " <<<"$output")" ]
	run "$POLICY" usage lrnosuchlab
	[ "$status" -eq 1 ]
	[[ $output == "labrun-policy: usage: no lab or member 'lrnosuchlab' in Slurm's accounting"* ]]
}

@test "labrun --quota shows the member's GPU-hours this month against their budget, as sacct counts them" {
	local start secs
	start=$(date -u -d "$(date -u +%Y-%m-01)" +%s)
	run as_user "$LABRUN" --quota
	echo "$output"
	[ "$status" -eq 0 ]
	secs=$(sacct_secs "$start" "$(date -u +%s)" "$TEST_USER")
	grep -Eq "^lab $LAB: GPU-hours since $(date -u +%Y-%m-01) 00:00 UTC: yours $(hours "$secs") of 1 \([0-9]+%\); the lab's [0-9]+\.[0-9]{2} of 10 \([0-9]+%\)\$" <<<"$output"
	# Any member reads it, not only root.
	run as_user "$POLICY" usage --json
	[ "$status" -eq 0 ]
	[ "$(jq -r ".labs[] | select(.account == \"$LAB\") | .members | length" <<<"$output")" = 2 ]
}

@test "labrun --quota without slurmdbd shows the rest and says why, exiting 0" {
	# slurm.conf with a slurmdbd port where nothing listens.
	local conf=${SLURM_CONF:-/etc/slurm/slurm.conf}
	{
		grep -v '^AccountingStoragePort=' "$conf"
		echo AccountingStoragePort=1
	} >"$WORK/slurm.conf"
	cp "$(dirname "$conf")/gres.conf" "$WORK/" 2>/dev/null || true
	chmod 644 "$WORK"/*.conf
	run as_user env SLURM_CONF="$WORK/slurm.conf" "$LABRUN" --quota
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q "^GPU-hours this month: not shown: slurmdbd at localhost:1: .*Connection refused" <<<"$output"
	run as_user env SLURM_CONF="$WORK/none.conf" "$LABRUN" --quota
	[ "$status" -eq 0 ]
	grep -q "^GPU-hours this month: not shown: Slurm's configuration $WORK/none.conf" <<<"$output"
}
