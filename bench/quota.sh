#!/bin/bash
# bench/quota.sh - what the labs' quotas add to a launch (issue 5: at most
# 2 ms).  Side by side in one hyperfine run, warm page cache, as the
# unprivileged user labrun-test:
#   labrun busybox /bin/true with no lab policy naming the user;
#   the same as a member of a lab whose cgroups `labrun-policy apply` made:
#   policy lookup, the container's cgroup in 7 v1 hierarchies (or v2's
#   one), the cleaner that removes it, and cores placed with hwloc
#   (cores 1 of the machine's CPUs), then the same without placement.
# Prints the median of the rounds' medians for each, the differences, and
# the verdict against the 2 ms target.
#
#   bench/quota.sh [ROUNDS [RUNS]]   default 5 rounds of 30 runs per command
# Needs root (apply); the test lab "lrbench" is removed at the end.
# Environment: LABRUN (default build/launcher/labrun), LABRUN_POLICY.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=bench/lib.bash
source "$top/bench/lib.bash"
ROUNDS=${1:-5}
RUNS=${2:-30}
LABRUN=${LABRUN:-$top/build/launcher/labrun}
LABRUN_POLICY=${LABRUN_POLICY:-$top/build/launcher/labrun-policy}
[ "$(id -u)" -eq 0 ] || { echo "quota.sh: needs root (labrun-policy apply)" >&2; exit 1; }
for b in "$LABRUN" "$LABRUN_POLICY"; do
	[ -x "$b" ] || { echo "quota.sh: $b not built (scripts/test.sh builds it)" >&2; exit 1; }
done
command -v hyperfine >/dev/null || { echo "quota.sh: hyperfine missing: scripts/install-deps.sh" >&2; exit 1; }
id labrun-test >/dev/null 2>&1 || { echo "quota.sh: no user labrun-test: scripts/setup-test-env.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/labrun-bench.XXXXXX)
cleanup() {
	rm -f "$work"/labs/*.conf
	"$LABRUN_POLICY" -d "$work/labs" apply --rules "$work/rules" >/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
cp "$LABRUN" "$work/labrun"

# A busybox image, as in bench/launch.sh.
root=$work/root
mkdir -p "$root"/{bin,etc,proc,dev,sys,tmp,home,root}
cp /bin/busybox "$root/bin/busybox"
for a in sh true; do ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
mksquashfs "$root" "$work/bb.sqfs" -noappend -quiet -no-progress -all-root -comp lz4 >/dev/null

mkdir "$work/labs" "$work/none" "$work/labs-noplace"
cat >"$work/labs/lrbench.conf" <<EOF
[lab]
members = labrun-test
[defaults]
cores = 1
memory = 4G
processes = 4096
EOF
# The same lab with as many cores as the machine has: nothing to place.
# The launcher reads it; the cgroups stay those applied from labs/.
sed "s/^cores = 1/cores = $(nproc --all)/" "$work/labs/lrbench.conf" >"$work/labs-noplace/lrbench.conf"
echo "policy-dir = $work/none" >"$work/none.conf"
echo "policy-dir = $work/labs" >"$work/quota.conf"
echo "policy-dir = $work/labs-noplace" >"$work/noplace.conf"
chmod -R a+rX "$work"
"$LABRUN_POLICY" -d "$work/labs" apply --rules "$work/rules" >/dev/null

as_user=(setpriv --reuid=labrun-test --regid=labrun-test --init-groups --reset-env
	env PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp USER=labrun-test)
cmds=("$work/labrun -c $work/none.conf $work/bb.sqfs /bin/true"
	"$work/labrun -c $work/quota.conf $work/bb.sqfs /bin/true"
	"$work/labrun -c $work/noplace.conf $work/bb.sqfs /bin/true")
names=("no quota" "quota, cores placed" "quota, no placement")

echo "labrun $("$LABRUN" --version | cut -d' ' -f2), $(uname -r), $(nproc) cpus, cgroup" \
	"v$(stat -f -c %T /sys/fs/cgroup | grep -q cgroup2 && echo 2 || echo 1);" \
	"$ROUNDS rounds of $RUNS runs per command, warm cache"
mkdir "$work/out"
chown labrun-test "$work/out"
for ((round = 1; round <= ROUNDS; round++)); do
	"${as_user[@]}" hyperfine -N --style none --warmup 5 --runs "$RUNS" \
		--export-csv "$work/out/round-$round.csv" "${cmds[@]}" >/dev/null
done

median() { round_median "$work/out" "$1"; }
base=$(median "${cmds[0]}")
printf '\n| %-22s | %10s | %12s | %8s |\n' command "median ms" "added ms" ratio
printf '|%s|%s|%s|%s|\n' "------------------------" "------------" "--------------" "----------"
verdict=PASS
for i in 0 1 2; do
	m=$(median "${cmds[$i]}")
	add=$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.2f", a - b }')
	printf '| %-22s | %10s | %12s | %7.2fx |\n' "${names[$i]}" "$m" "$add" \
		"$(awk -v a="$m" -v b="$base" 'BEGIN { print a / b }')"
	[ "$i" -gt 0 ] && awk -v a="$add" 'BEGIN { exit !(a > 2) }' && verdict=FAIL
done
echo
echo "target: quotas add at most 2 ms to a launch: $verdict"
