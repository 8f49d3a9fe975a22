#!/bin/bash
# Check that the C sources follow .clang-format; lists files that do not.
#   scripts/check-format.sh          check (exit 1 if any file differs)
#   scripts/check-format.sh --fix    reformat in place (commit that alone)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format not installed" >&2; exit 2; }
mapfile -t files < <(git ls-files 'lib/*.[ch]' 'launcher/*.[ch]' 'plugin/*.[ch]' 'tests/unit/*.c' 'tests/probes/*.[ch]' 'tests/fuzz/*.c' 'tests/vm/*.[ch]' 2>/dev/null || true)
if [ "${1:-}" = --fix ]; then
	clang-format -i "${files[@]}"
	exit 0
fi
bad=0
for f in "${files[@]}"; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "check-format: $f differs from .clang-format (scripts/check-format.sh --fix)"
		bad=1
	fi
done
exit $bad
