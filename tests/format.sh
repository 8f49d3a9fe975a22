#!/bin/sh
# format.sh - the C sources follow .clang-format (STYLE.md: formatting is
# checked in CI).  TAP; skips when clang-format is missing.
cd "${top_srcdir:-.}" || exit 1
echo "1..1"
if ! command -v clang-format >/dev/null 2>&1; then
	echo "ok 1 - sources follow .clang-format # SKIP clang-format is not installed"
	exit 0
fi
if ! [ -d .git ]; then
	echo "ok 1 - sources follow .clang-format # SKIP not a git checkout (the file list comes from git)"
	exit 0
fi
if out=$(scripts/check-format.sh 2>&1); then
	echo "ok 1 - sources follow .clang-format"
else
	echo "not ok 1 - sources follow .clang-format"
	printf '%s\n' "$out" | sed 's/^/# /'
fi
