#!/bin/bash
# smoke.sh - the fuzz targets in `make check` (tests/fuzz/README.md): build
# them with afl++ (and with clang's libFuzzer, so both ways keep building),
# replay every seed, regression input and known crash of each, and fuzz
# each for a few seconds (FUZZ_SMOKE_SECONDS, default 5).  TAP, from
# scripts/fuzz.sh --smoke; skips with the reason when afl++ or clang is
# missing.  The long runs are scripts/fuzz.sh --time SECS.
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
dir=${top_builddir:-$top}/tests/fuzz/afl
for tool in afl-clang-fast afl-fuzz clang; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "1..0 # SKIP $tool is not installed (Debian: afl++ and clang, scripts/install-deps.sh)"
		exit 0
	fi
done
mkdir -p "$dir"
exec nice -n 10 "$top/scripts/fuzz.sh" --smoke --build "$dir/build" --out "$dir/out" \
	--time "${FUZZ_SMOKE_SECONDS:-5}"
