#!/bin/bash
# bench/compression.sh - which compression the layers should have by
# default (issue 4), measured through the launcher on the example stack.
#
# For each of gzip, lz4, zstd and none, labrun-image builds the Debian base
# and the python3+numpy runtime layers from images/'s mmdebstrap tarballs
# (make -C images trees), then, through labrun:
#   launch   /bin/true                                         (warm cache)
#   import   python3 -c 'import numpy, json, email, asyncio, decimal'
#            warm cache, and cold (page cache dropped before each run:
#            root only, else skipped and said so)
# Also each codec's layer sizes and build time.  hyperfine runs each
# command RUNS times per round, the whole list ROUNDS times (the machine
# drifts); a figure is the median of the rounds' medians.
#
#   bench/compression.sh [ROUNDS [RUNS]]   default 3 rounds of 10 runs
# Environment: LABRUN, LABRUN_IMAGE (default build/launcher/...), CACHE
# (default images/out/cache), CODECS (default "gzip lz4 zstd none").  As
# root, the jobs run as the unprivileged user labrun-test
# (scripts/setup-test-env.sh), as users run them.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=bench/lib.bash
source "$top/bench/lib.bash"
ROUNDS=${1:-3}
RUNS=${2:-10}
LABRUN=${LABRUN:-$top/build/launcher/labrun}
LI=${LABRUN_IMAGE:-$top/build/launcher/labrun-image}
CACHE=${CACHE:-$top/images/out/cache}
CODECS=${CODECS:-gzip lz4 zstd none}
for t in hyperfine jq; do
	command -v $t >/dev/null || { echo "compression.sh: $t missing: scripts/install-deps.sh" >&2; exit 1; }
done
for f in "$LABRUN" "$LI"; do
	[ -x "$f" ] || { echo "compression.sh: $f not built (scripts/test.sh builds it)" >&2; exit 1; }
done
for f in base runtime; do
	[ -f "$CACHE/$f.tar" ] || { echo "compression.sh: $CACHE/$f.tar missing: make -C images trees" >&2; exit 1; }
done

work=$(mktemp -d /var/tmp/labrun-bench-comp.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cp "$LABRUN" "$work/labrun"
echo "" >"$work/labrun.conf"
as_user=()
if [ "$(id -u)" = 0 ]; then
	id labrun-test >/dev/null 2>&1 || { echo "compression.sh: run scripts/setup-test-env.sh first" >&2; exit 1; }
	as_user=(runuser -u labrun-test --)
fi

declare -A BUILD_S SIZE
for c in $CODECS; do
	mkdir -p "$work/$c"
	start=$(date +%s.%N)
	"$LI" build --compression "$c" --from-tar "$CACHE/base.tar" -o "$work/$c/debian.sqfs" >/dev/null
	"$LI" build --compression "$c" --from-tar "$CACHE/runtime.tar" --parent "$work/$c/debian.sqfs" \
		-o "$work/$c/python.sqfs" >/dev/null
	BUILD_S[$c]=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
	SIZE[$c]=$(du -cb "$work/$c"/*.sqfs | tail -1 | cut -f1)
	echo "built $c: ${SIZE[$c]} bytes in ${BUILD_S[$c]} s" >&2
done
chmod -R a+rX "$work"

PY="python3 -c 'import numpy, json, email, asyncio, decimal'"
cold_ok=0
if [ "$(id -u)" = 0 ] && (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
	cold_ok=1
else
	echo "compression.sh: cannot drop the page cache (needs root): cold runs skipped" >&2
fi

# hyperfine one round; prints "name median" lines.
declare -A MEDIANS
run_round() {
	local kind=$1 c cmd args=()
	for c in $CODECS; do
		case $kind in
		launch) cmd="$work/labrun -c $work/labrun.conf $work/$c/python.sqfs /bin/true" ;;
		*) cmd="$work/labrun -c $work/labrun.conf $work/$c/python.sqfs $PY" ;;
		esac
		args+=(-n "$c" "${as_user[*]} $cmd")
	done
	local extra=(--warmup 2 --runs "$RUNS")
	[ "$kind" = cold ] && extra=(--runs "$(( RUNS < 5 ? RUNS : 5 ))" --prepare "sh -c 'sync; echo 3 >/proc/sys/vm/drop_caches'")
	hyperfine -N -S none --style none "${extra[@]}" --export-json "$work/h.json" "${args[@]}" >/dev/null 2>&1 ||
		hyperfine -S none --style none "${extra[@]}" --export-json "$work/h.json" "${args[@]}" >/dev/null
	jq -r '.results[] | "\(.command) \(.median)"' "$work/h.json"
}
KINDS=(launch warm)
[ $cold_ok = 1 ] && KINDS+=(cold)
for ((round = 1; round <= ROUNDS; round++)); do
	for kind in "${KINDS[@]}"; do
		while read -r name med; do
			MEDIANS[$kind.$name]+=" $med"
		done < <(run_round "$kind")
	done
	echo "round $round of $ROUNDS done" >&2
done

ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }

echo
echo "| codec | debian+python MB | build s | launch /bin/true ms | python import warm ms | python import cold ms |"
echo "|---|---:|---:|---:|---:|---:|"
for c in $CODECS; do
	cold="-"
	[ $cold_ok = 1 ] && cold=$(ms "$(median <<<"${MEDIANS[cold.$c]}")")
	printf '| %s | %.1f | %s | %s | %s | %s |\n' "$c" "$(awk -v b="${SIZE[$c]}" 'BEGIN {print b / 1048576}')" \
		"${BUILD_S[$c]}" "$(ms "$(median <<<"${MEDIANS[launch.$c]}")")" \
		"$(ms "$(median <<<"${MEDIANS[warm.$c]}")")" "$cold"
done
