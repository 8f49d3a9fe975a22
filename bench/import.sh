#!/bin/bash
# bench/import.sh - how fast labrun-image turns the example stack's Debian
# tarballs into layers, side by side with tar2sqfs (squashfs-tools-ng) on
# the same tarballs, and how much memory each needs (issue 4: at least as
# fast as tar2sqfs, peak memory under 200 MB).
#
# The tarballs are images/'s mmdebstrap trees (make -C images trees): the
# Debian 12 minbase root (base.tar) and the same with python3 and numpy
# (runtime.tar).  Commands, all three with the same codec (CODEC, default
# gzip) and 128 KiB blocks:
#   tar2sqfs            base.tar, then runtime.tar (two flat images)
#   labrun-image build  --from-tar base.tar, then runtime.tar --parent base
#                       (the runtime as a diff: what the stack stores)
#   labrun-image import a docker-archive holding base.tar and runtime.tar as
#                       two layers (streamed from the archive, digests checked)
# Each command runs RUNS times per round, the list ROUNDS times
# (interleaved: the machine drifts); figures are medians of all runs.
#
#   bench/import.sh [ROUNDS [RUNS]]     default 3 rounds of 1 run
# Environment: LABRUN_IMAGE (default build/launcher/labrun-image), CACHE
# (default images/out/cache), CODEC (default gzip).  Exits 1 when a target
# is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=bench/lib.bash
source "$top/bench/lib.bash"
ROUNDS=${1:-3}
RUNS=${2:-1}
LI=${LABRUN_IMAGE:-$top/build/launcher/labrun-image}
CACHE=${CACHE:-$top/images/out/cache}
CODEC=${CODEC:-gzip}
[ -x "$LI" ] || { echo "import.sh: $LI not built (scripts/test.sh builds it)" >&2; exit 1; }
for t in tar2sqfs jq sha256sum; do
	command -v $t >/dev/null || { echo "import.sh: $t missing: scripts/install-deps.sh" >&2; exit 1; }
done
for f in base runtime; do
	[ -f "$CACHE/$f.tar" ] || { echo "import.sh: $CACHE/$f.tar missing: make -C images trees" >&2; exit 1; }
done

work=$(mktemp -d /var/tmp/labrun-bench-import.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A docker-archive of the two tarballs as layers (docker save's layout).
mkdir -p "$work/docker"
b=$(sha256sum "$CACHE/base.tar" | cut -c1-64)
r=$(sha256sum "$CACHE/runtime.tar" | cut -c1-64)
mkdir -p "$work/docker/$b" "$work/docker/$r"
ln -s "$CACHE/base.tar" "$work/docker/$b/layer.tar"
ln -s "$CACHE/runtime.tar" "$work/docker/$r/layer.tar"
jq -n --arg b "$b" --arg r "$r" \
	'{architecture:"amd64",os:"linux",config:{Env:["PATH=/usr/bin:/bin"]},
	  rootfs:{type:"layers",diff_ids:["sha256:"+$b,"sha256:"+$r]}}' >"$work/docker/config.json"
jq -n --arg b "$b" --arg r "$r" \
	'[{Config:"config.json",RepoTags:["bench:latest"],Layers:[$b+"/layer.tar",$r+"/layer.tar"]}]' \
	>"$work/docker/manifest.json"
tar -C "$work/docker" -chf "$work/image.tar" .
rm -rf "$work/docker"

declare -A CMD=(
	[tar2sqfs]="tar2sqfs -q -f -c $CODEC -b 131072 -j $(nproc) $work/t-base.sqfs <$CACHE/base.tar && tar2sqfs -q -f -c $CODEC -b 131072 -j $(nproc) $work/t-runtime.sqfs <$CACHE/runtime.tar"
	[build]="$LI build --compression $CODEC --from-tar $CACHE/base.tar -o $work/b-base.sqfs >/dev/null && $LI build --compression $CODEC --from-tar $CACHE/runtime.tar --parent $work/b-base.sqfs -o $work/b-runtime.sqfs >/dev/null"
	[import]="rm -rf $work/store && $LI import --compression $CODEC --store $work/store docker-archive:$work/image.tar >/dev/null"
)
ORDER=(tar2sqfs build import)
declare -A TIMES MEM
for ((round = 1; round <= ROUNDS; round++)); do
	for name in "${ORDER[@]}"; do
		for ((i = 1; i <= RUNS; i++)); do
			sync
			out=$( { /usr/bin/time -f '%e %M' bash -c "${CMD[$name]}" 2>&1 >/dev/null; } | tail -1)
			TIMES[$name]+=" ${out% *}"
			MEM[$name]+=" ${out#* }"
		done
	done
	echo "round $round of $ROUNDS done" >&2
done

max() { tr ' ' '\n' | grep . | sort -g | tail -1; }

echo
echo "codec $CODEC, $ROUNDS rounds of $RUNS"
echo "| command | median s | ratio to tar2sqfs | peak memory MB |"
echo "|---|---:|---:|---:|"
t0=$(median <<<"${TIMES[tar2sqfs]}")
fail=0
for name in "${ORDER[@]}"; do
	t=$(median <<<"${TIMES[$name]}")
	m=$(( $(max <<<"${MEM[$name]}") / 1024 ))
	ratio=$(awk -v a="$t" -v b="$t0" 'BEGIN {printf "%.2f", a / b}')
	echo "| $name | $t | $ratio | $m |"
	if [ "$name" != tar2sqfs ]; then
		awk -v r="$ratio" 'BEGIN {exit !(r > 1.0)}' && { echo "target missed: $name slower than tar2sqfs" >&2; fail=1; }
		[ "$m" -lt 200 ] || { echo "target missed: $name peak memory $m MB" >&2; fail=1; }
	fi
done
echo
ls -l "$work"/t-*.sqfs "$work"/b-*.sqfs | awk '{print $5, $NF}' | sed "s|$work/||"
du -sb "$work/store" | awk '{print $1, "import store"}'
exit $fail
