#!/bin/bash
# bench/launch.sh - start-up cost of labrun, side by side with its peers
# (issue 3).  One hyperfine run, warm page cache, for each codec (gzip, lz4,
# uncompressed):
#   /bin/true on the host; labrun on a one-layer busybox image; labrun on a
#   three-layer image of the same files; ch-run (Charliecloud) on the same
#   flat squashfs; bwrap --ro-bind / / /bin/true.
# Prints medians, ratios to labrun's one-layer image, the targets (labrun
# faster than ch-run for every codec; three layers within 1.3x of one) and
# the peak memory of labrun (the layers' FUSE server) and of the keeper.
#
#   bench/launch.sh [ROUNDS [RUNS]]   default 5 rounds of 20 runs per command
# The machine drifts over a run (page cache, other load), and hyperfine
# runs each command's runs in one block: so the whole list runs ROUNDS
# times, and each command's figure is the median of its rounds' medians.
# Environment: LABRUN (default build/launcher/labrun).  As root, commands
# run as the unprivileged user labrun-test (scripts/setup-test-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=bench/lib.bash
source "$top/bench/lib.bash"
ROUNDS=${1:-5}
RUNS=${2:-20}
LABRUN=${LABRUN:-$top/build/launcher/labrun}
[ -x "$LABRUN" ] || { echo "launch.sh: $LABRUN not built (scripts/test.sh builds it)" >&2; exit 1; }
for t in hyperfine ch-run bwrap mksquashfs; do
	command -v $t >/dev/null || { echo "launch.sh: $t missing: scripts/install-deps.sh" >&2; exit 1; }
done

work=$(mktemp -d /tmp/labrun-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cp "$LABRUN" "$work/labrun"

# The busybox root filesystem every image is made of.
root=$work/root
mkdir -p "$root"/{bin,etc,proc,dev,sys,tmp,home,root}
cp /bin/busybox "$root/bin/busybox"
for a in sh true ls cat echo id; do ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

declare -A COMP=([gzip]="-comp gzip" [lz4]="-comp lz4" [none]="-noI -noD -noF -noX")
mksq() { mksquashfs "$1" "$2" -noappend -quiet -no-progress -all-root -mkfs-time 0 -all-time 0 $3 >/dev/null; }
digest() { sha256sum "$1" | cut -c1-64; }

for c in gzip lz4 none; do
	mksq "$root" "$work/flat-$c.sqfs" "${COMP[$c]}"
	# Three layers: base (the same files), mid and top each add one file.
	store=$work/store-$c
	mkdir -p "$store" "$work/mid-$c/.labrun" "$work/top-$c/.labrun"
	cp "$work/flat-$c.sqfs" "$store/sha256-$(digest "$work/flat-$c.sqfs").sqfs"
	echo mid >"$work/mid-$c/mid"
	echo "{\"parent\":\"sha256:$(digest "$work/flat-$c.sqfs")\"}" >"$work/mid-$c/.labrun/layer.json"
	mksq "$work/mid-$c" "$work/mid-$c.sqfs" "${COMP[$c]}"
	cp "$work/mid-$c.sqfs" "$store/sha256-$(digest "$work/mid-$c.sqfs").sqfs"
	echo top >"$work/top-$c/top"
	echo "{\"parent\":\"sha256:$(digest "$work/mid-$c.sqfs")\"}" >"$work/top-$c/.labrun/layer.json"
	mksq "$work/top-$c" "$work/three-$c.sqfs" "${COMP[$c]}"
	echo "layer-store = $store" >"$work/labrun-$c.conf"
done
chmod -R a+rX "$work"

as_user=()
if [ "$(id -u)" -eq 0 ]; then
	as_user=(setpriv --reuid=labrun-test --regid=labrun-test --init-groups --reset-env
		env PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/labrun-test USER=labrun-test)
fi

cmds=("/bin/true" "bwrap --ro-bind / / /bin/true")
for c in gzip lz4 none; do
	cmds+=("$work/labrun -c $work/labrun-$c.conf $work/flat-$c.sqfs /bin/true"
		"$work/labrun -c $work/labrun-$c.conf $work/three-$c.sqfs /bin/true"
		"ch-run $work/flat-$c.sqfs -- /bin/true")
done

echo "labrun $("$LABRUN" --version | cut -d' ' -f2), $(uname -r), $(nproc) cpus;" \
	"$ROUNDS rounds of $RUNS runs per command, warm cache"
cd "$work"
mkdir -p "$work/out"
[ ${#as_user[@]} -eq 0 ] || chown labrun-test "$work/out"
for ((round = 1; round <= ROUNDS; round++)); do
	"${as_user[@]}" hyperfine -N --style none --warmup 5 --runs "$RUNS" \
		--export-csv "$work/out/round-$round.csv" "${cmds[@]}" >/dev/null
done

median() { round_median "$work/out" "$1"; }
label() { sed -e "s#$work/##g" -e 's#labrun -c labrun-[a-z0-9]*.conf#labrun#' <<<"$1"; }

printf '\n| %-38s | %10s | %12s |\n' command "median ms" "vs labrun 1"
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..40})" "------------" "--------------"
verdict=PASS
for c in gzip lz4 none; do
	one=$(median "$work/labrun -c $work/labrun-$c.conf $work/flat-$c.sqfs /bin/true")
	for cmd in "/bin/true" "bwrap --ro-bind / / /bin/true" \
		"$work/labrun -c $work/labrun-$c.conf $work/flat-$c.sqfs /bin/true" \
		"$work/labrun -c $work/labrun-$c.conf $work/three-$c.sqfs /bin/true" \
		"ch-run $work/flat-$c.sqfs -- /bin/true"; do
		[ "$c" != gzip ] && { [ "$cmd" = /bin/true ] || [[ $cmd == bwrap* ]]; } && continue
		m=$(median "$cmd")
		printf '| %-38s | %10s | %11sx |\n' "$(label "$cmd")" "$m" \
			"$(awk -v a="$m" -v b="$one" 'BEGIN { printf "%.2f", a / b }')"
	done
done
echo
for c in gzip lz4 none; do
	one=$(median "$work/labrun -c $work/labrun-$c.conf $work/flat-$c.sqfs /bin/true")
	three=$(median "$work/labrun -c $work/labrun-$c.conf $work/three-$c.sqfs /bin/true")
	ch=$(median "ch-run $work/flat-$c.sqfs -- /bin/true")
	a=$(awk -v l="$one" -v c="$ch" 'BEGIN { print (l < c) ? "PASS" : "FAIL" }')
	b=$(awk -v t="$three" -v o="$one" 'BEGIN { print (t <= 1.3 * o) ? "PASS" : "FAIL" }')
	printf '%s: labrun %s ms vs ch-run %s ms (%.2fx): %s; three layers %.2fx of one: %s\n' "$c" \
		"$one" "$ch" "$(awk -v l="$one" -v c="$ch" 'BEGIN { print l / c }')" "$a" \
		"$(awk -v t="$three" -v o="$one" 'BEGIN { print t / o }')" "$b"
	[ "$a$b" = PASSPASS ] || verdict=FAIL
done

# Peak memory, median of 9 runs: labrun itself (it serves the layers) as
# GNU time's maximum resident set size, and the keeper (PID 1 inside) as
# its VmHWM read at the job's end.
peak() { for _ in 1 2 3 4 5 6 7 8 9; do "$@"; done | sort -n | sed -n 5p; }
lr_kb=$(peak sh -c '"$@" 2>&1 >/dev/null | tail -1' sh "${as_user[@]}" /usr/bin/time -f %M \
	"$work/labrun" "$work/flat-gzip.sqfs" /bin/true)
keeper_kb=$(peak "${as_user[@]}" "$work/labrun" "$work/flat-gzip.sqfs" /bin/sh -c \
	'while read k v u; do [ "$k" = VmHWM: ] && echo $v; done </proc/1/status; true')
echo "peak memory: labrun (FUSE server) ${lr_kb} KiB, keeper ${keeper_kb} KiB (median of 9)"
echo "targets: $verdict"
[ "$verdict" = PASS ]
