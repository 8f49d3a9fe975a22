# tap.bash - TAP for the VM scripts (cgroup2.sh, oom2.sh, slurm2.sh):
# sourced, not run (run-vm-tests runs tests/vm/*.sh).  Counts the tests in
# n and the failures in failed; the script prints its plan.
n=0
failed=0
# ok NAME
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
# not_ok NAME [DIAGNOSTIC...]: each diagnostic's lines as TAP comments.
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	local l
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}
# skip_ok NAME REASON
skip_ok() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
# check NAME CMD...: ok when CMD succeeds, else its output as diagnostics.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}
