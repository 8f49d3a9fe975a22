#!/bin/bash
# bench/sync.sh - how long `labrun-policy sync` takes (issue 14: 2,000
# members in at most 10 s, a sync that changes nothing in at most 2 s),
# against the slurmdbd of SLURM_CONF (default /etc/slurm/slurm.conf).
#
# A generated policy of 50 labs of 40 members each (20 named, 20 through
# the lab's unix group), with limits on every lab and member.  The 2,000
# users exist only for this run: the bench re-runs itself in a private
# mount namespace whose /etc/passwd and /etc/group are copies of the
# machine's with the bench's users added (sync refuses a member this
# machine does not know), so nothing of the machine's changes; slurmdbd
# gets slurmdb users of those names, which are removed at the end.
# hyperfine times, each in ROUNDS runs (median):
#   first sync   from no lab (an empty policy synced before each run)
#   no-op sync   the same policy again
# and prints both against the targets, PASS or FAIL.
#
#   bench/sync.sh [ROUNDS]   default 3
# Needs root.  Refuses to run when the accounting holds labrun accounts
# other than the bench's (sync of the bench's policy would remove them).
# Environment: LABRUN_POLICY (default build/launcher/labrun-policy).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=bench/lib.bash
source "$top/bench/lib.bash"
ROUNDS=${1:-3}
LABS=50
PER_LAB=40
LABRUN_POLICY=${LABRUN_POLICY:-$top/build/launcher/labrun-policy}
FIRST_TARGET=10
NOOP_TARGET=2

[ "$(id -u)" -eq 0 ] || { echo "sync.sh: needs root (labrun-policy sync)" >&2; exit 1; }
[ -x "$LABRUN_POLICY" ] || { echo "sync.sh: $LABRUN_POLICY not built" >&2; exit 1; }
for c in hyperfine sacctmgr unshare; do
	command -v "$c" >/dev/null || { echo "sync.sh: $c missing: scripts/install-deps.sh" >&2; exit 1; }
done

# In the private namespace: the users, the policy, the runs.
if [ "${SYNC_BENCH_INSIDE:-}" != 1 ]; then
	others=$(sacctmgr -nP show account format=account,organization |
		awk -F'|' '$2 == "labrun" && $1 !~ /^lrbench[0-9]+$/ { print $1 }')
	if [ -n "$others" ]; then
		echo "sync.sh: the accounting holds labrun's accounts $(echo $others): the bench's sync would remove them" >&2
		exit 1
	fi
	work=$(mktemp -d /tmp/labrun-bench-sync.XXXXXX)
	chmod 755 "$work"
	cleanup() {
		# The bench's accounts and users, however far the run got (none
		# left is the usual case: no command here may fail on it).
		local a u
		a=$(sacctmgr -nP show account format=account,organization |
			awk -F'|' '$2 == "labrun" && $1 ~ /^lrbench[0-9]+$/ { print $1 }' | paste -sd,)
		[ -z "$a" ] || sacctmgr -i delete account "$a" >/dev/null || true
		u=$(sacctmgr -nP show user format=user | { grep -E '^lrb[0-9]+u[0-9]+$' || true; } |
			paste -sd,)
		[ -z "$u" ] || sacctmgr -i delete user "$u" >/dev/null || true
		rm -rf "$work"
	}
	trap cleanup EXIT
	SYNC_BENCH_INSIDE=1 SYNC_BENCH_WORK=$work unshare -m --propagation private "$0" "$@"
	exit
fi

work=$SYNC_BENCH_WORK
mkdir -m 755 "$work/labs" "$work/empty"
cp /etc/passwd "$work/passwd"
cp /etc/group "$work/group"
uid=3000000
gid=3000000
for ((l = 0; l < LABS; l++)); do
	named=() grouped=()
	for ((m = 0; m < PER_LAB; m++)); do
		u=lrb${l}u$m
		if ((m < PER_LAB / 2)); then
			named+=("$u")
			echo "$u:x:$uid:$((uid + 1000000))::/nonexistent:/usr/sbin/nologin" >>"$work/passwd"
		else
			grouped+=("$u")
			echo "$u:x:$uid:$gid::/nonexistent:/usr/sbin/nologin" >>"$work/passwd"
		fi
		uid=$((uid + 1))
	done
	echo "lrbench$l:x:$gid:$(
		IFS=,
		echo "${grouped[*]:0:5}"
	)" >>"$work/group"
	gid=$((gid + 1))
	{
		echo "[lab]"
		echo "members = ${named[*]} @lrbench$l"
		echo "cores = 256"
		echo "memory = 2T"
		echo "gpus = 16"
		echo "gpu-hours = 10000"
		echo "[defaults]"
		echo "cores = 16"
		echo "memory = 128G"
		echo "gpus = 2"
		echo "gpu-hours = 500"
		echo "[member ${named[0]}]"
		echo "cores = 64"
		echo "gpu-hours = 2000"
	} >"$work/labs/lrbench$l.conf"
done
chmod 644 "$work"/labs/*.conf "$work/passwd" "$work/group"
mount --bind "$work/passwd" /etc/passwd
mount --bind "$work/group" /etc/group

sync_to() { "$LABRUN_POLICY" -d "$1" sync >/dev/null; }
export -f sync_to
export LABRUN_POLICY

# One sync first: the members count, and a policy that syncs at all.
n=$("$LABRUN_POLICY" -d "$work/labs" sync | grep -c '^add association [^:]*/' || true)
echo "sync.sh: $LABS labs, $n member associations (slurmdbd of ${SLURM_CONF:-/etc/slurm/slurm.conf})"
again=$("$LABRUN_POLICY" -d "$work/labs" sync)
[[ $again == "nothing to change"* ]] || { echo "sync.sh: a second sync changed something:" >&2; echo "$again" >&2; exit 1; }

hyperfine --shell bash --style basic --runs "$ROUNDS" --export-csv "$work/first.csv" \
	--prepare "sync_to $work/empty" -n first "sync_to $work/labs" >&2
hyperfine --shell bash --style basic --runs "$ROUNDS" --warmup 1 --export-csv "$work/noop.csv" \
	-n no-op "sync_to $work/labs" >&2
sync_to "$work/empty"

first=$(awk -F, 'NR == 2 { printf "%.2f", $4 }' "$work/first.csv")
noop=$(awk -F, 'NR == 2 { printf "%.2f", $4 }' "$work/noop.csv")
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t ? "PASS" : "FAIL") }'; }
printf '%-28s %8s s   target <= %2d s   %s\n' "first sync ($n members)" "$first" "$FIRST_TARGET" \
	"$(verdict "$first" "$FIRST_TARGET")"
printf '%-28s %8s s   target <= %2d s   %s\n' "no-op sync" "$noop" "$NOOP_TARGET" \
	"$(verdict "$noop" "$NOOP_TARGET")"
