#!/usr/bin/env bats
# policy.bats - labrun-policy check and show on lab files written by each
# test (labrun-policy(5)): valid policies, errors with FILE:LINE:COLUMN, a
# directory with one broken file refused as a whole, a user's allocation and
# where each number comes from, membership through a unix group.

load helpers

setup() {
	lr_setup
	LP=${LABRUN_POLICY:-$(dirname "$LABRUN")/labrun-policy}
	[ -x "$LP" ] || skip "labrun-policy not built next to labrun ($LP)"
	LABS=$BATS_TEST_TMPDIR/labs.d
	mkdir -p "$LABS"
	ME=$(id -un)
}

teardown() {
	lr_teardown
}

lp() {
	timeout 20 "$LP" -d "$LABS" "$@"
}

lab() { # lab NAME: the file from stdin
	cat >"$LABS/$1.conf"
}

@test "check: a valid policy, counted" {
	lab physics <<-EOF
	[lab]
	members = alice, bob, $ME
	members = @physics
	cores = 64
	[defaults]
	cores = 8
	EOF
	lab chemistry <<-EOF
	[lab]
	members = carol
	EOF
	run --separate-stderr lp check
	assert_status 0
	[[ $output == *"2 labs, 5 member entries: the policy is valid"* ]] || { lr_show; false; }
}

@test "check: an error names FILE:LINE:COLUMN and what was expected; the directory is refused" {
	lab good <<-EOF
	[lab]
	members = alice
	EOF
	lab broken <<-EOF
	# a comment
	[lab]
	members = bob
	memory  = 64 gigs
	EOF
	run --separate-stderr lp check
	assert_status 1
	[ "$stderr" = "labrun-policy: $LABS/broken.conf:4:11: expected a size such as 64G, 512M or unlimited for memory, not '64 gigs'" ] ||
		{ lr_show; false; }
	# show refuses the whole directory too: nothing is half-applied.
	run --separate-stderr lp show "$ME"
	assert_status 1
	[[ $stderr == *broken.conf:4:11* ]] || { lr_show; false; }
}

@test "check: unknown keys and sections, repeated keys, bad names" {
	local -a cases=(
		"[lab]|members = a|colours = 3|unknown key 'colours'"
		"[lab]|members = a|[labs]|expected [lab], [defaults] or [member NAME], not [labs]"
		"[lab]|members = a|cores = 2|cores = 3|cores is set twice in this section"
		"[lab]|members = a b!c|expected a user name or @group, not 'b!c'"
		"cores = 2|expected a section first"
		"[lab]|members = a|[member]|expected [member USER] with one user name"
		"[lab]|members = a|storage = scratch 5G|expected an absolute path then a size"
		"[lab]|members = a|io-weight = 0|expected a whole number from 1 to 10000"
		"[defaults]|cores = 1|no members"
	)
	for c in "${cases[@]}"; do
		rm -f "$LABS"/*.conf
		IFS='|' read -r -a parts <<<"$c"
		printf '%s\n' "${parts[@]:0:${#parts[@]}-1}" >"$LABS/x.conf"
		run --separate-stderr lp check
		[ "$status" -eq 1 ] || { echo "case: $c"; lr_show; false; }
		[[ $stderr == *"${parts[-1]}"* ]] || { echo "case: $c"; lr_show; false; }
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "case: $c"; lr_show; false; }
	done
}

@test "check: editor backups and dotfiles are not labs" {
	lab physics <<-EOF
	[lab]
	members = alice
	EOF
	echo "garbage" >"$LABS/physics.conf~"
	echo "garbage" >"$LABS/.physics.conf.swp"
	echo "garbage" >"$LABS/README"
	run --separate-stderr lp check
	assert_status 0
	[[ $output == *"1 lab,"* ]] || { lr_show; false; }
}

@test "show: the member's own value, else the default, capped by the lab's total, with origins" {
	lab physics <<-EOF
	[lab]
	members = $ME
	gpus = 4
	[defaults]
	cores = 8
	memory = 64G
	gpus = 1
	storage = /scratch 500G
	[member $ME]
	cores = 16
	gpus = 8
	EOF
	run --separate-stderr lp show "$ME"
	assert_status 0
	[[ $output == *"lab physics"* ]] || { lr_show; false; }
	grep -qE "^  cores +16 +physics.conf:10 \[member $ME\]$" <<<"$output" || { lr_show; false; }
	grep -qE "^  memory +64G +physics.conf:6 \[defaults\]$" <<<"$output" || { lr_show; false; }
	grep -qE "^  gpus +4 +physics.conf:3 \[lab total\]$" <<<"$output" || { lr_show; false; }
	grep -qE "^  swap +unlimited +\(not set\)$" <<<"$output" || { lr_show; false; }
	grep -qE "^  storage +/scratch 500G +physics.conf:8 \[defaults\]$" <<<"$output" || { lr_show; false; }
}

@test "show: membership through a unix group; two labs are both shown" {
	extra=$(id -Gn | tr ' ' '\n' | grep -v "^$ME$" | head -1)
	[ -n "$extra" ] || skip "$ME has no supplementary group (scripts/setup-test-env.sh gives one)"
	lab a <<-EOF
	[lab]
	members = @$extra
	cores = 2
	EOF
	lab b <<-EOF
	[lab]
	members = $ME
	cores = 3
	EOF
	run --separate-stderr lp show "$ME"
	assert_status 0
	[[ $output == *"lab a"*"lab b"* ]] || { lr_show; false; }
	[[ $output == *"in 2 labs"* ]] || { lr_show; false; }
	run --separate-stderr lp show --lab b "$ME"
	assert_status 0
	[[ $output != *"lab a"* ]] || { lr_show; false; }
	run --separate-stderr lp show --lab c "$ME"
	assert_status 1
	[[ $stderr == *"not a member of lab 'c'"* ]] || { lr_show; false; }
}

@test "show: a user in no lab, an unknown user, a missing directory" {
	lab a <<-EOF
	[lab]
	members = somebody-else
	EOF
	run --separate-stderr lp show "$ME"
	assert_status 0
	[[ $output == *"member of no lab"* ]] || { lr_show; false; }
	run --separate-stderr lp show no-such-user-xyz
	assert_status 1
	[[ $stderr == *"no user 'no-such-user-xyz'"* ]] || { lr_show; false; }
	run --separate-stderr "$LP" -d "$BATS_TEST_TMPDIR/none" check
	assert_status 1
	[[ $stderr == *"$BATS_TEST_TMPDIR/none"*"No such file"* ]] || { lr_show; false; }
}

@test "usage errors exit 2" {
	run --separate-stderr lp
	assert_status 2
	run --separate-stderr lp frobnicate
	assert_status 2
	run --separate-stderr lp show
	assert_status 2
	run --separate-stderr lp show --bogus x
	assert_status 2
	run --separate-stderr lp check a b
	assert_status 2
	run --separate-stderr "$LP" --help
	assert_status 0
	[[ $output == *"check"*"show"* ]] || { lr_show; false; }
}

@test "labrun --quota: the user's own allocation, from labrun.conf's policy-dir" {
	lab physics <<-EOF
	[lab]
	members = $ME
	cores = 32
	[defaults]
	cores = 4
	memory = 8G
	EOF
	lab chem <<-EOF
	[lab]
	members = $ME
	EOF
	write_conf "$LR_CONF" "policy-dir = $LABS"
	run --separate-stderr lr --quota
	assert_status 0
	[[ $output == *"lab chem"*"lab physics"* ]] || { lr_show; false; }
	grep -qE "^  memory +8G +physics.conf:6 \[defaults\]$" <<<"$output" || { lr_show; false; }
	run --separate-stderr lr --quota=physics
	assert_status 0
	[[ $output != *"lab chem"* ]] || { lr_show; false; }
	# A broken file: the reason, status 1, no image needed.
	echo "[lab" >"$LABS/broken.conf"
	run --separate-stderr lr --quota
	assert_status 1
	[[ $stderr == "labrun: $LABS/broken.conf:1:1: expected [lab], [defaults] or [member NAME]" ]] ||
		{ lr_show; false; }
	run --separate-stderr lr --quota img.sqfs
	assert_status 125
}

@test "plan: the cgroup tree and limit files for cgroup v1 and v2" {
	lab physics <<-EOF
	[lab]
	members = $ME, nobody-here-xyz
	cores = 8
	memory = 16G
	[defaults]
	cores = 2
	memory = 4G
	swap = 1G
	processes = 512
	io-weight = 200
	io-read-bps = /dev/no-such-disk 10M
	EOF
	run --separate-stderr lp plan --cgroup 1
	assert_status 0
	expected="cgroup v1
# /dev/no-such-disk: no such device on this node: its io limits are left out
cgroup labrun
cgroup labrun/physics
  cpu.cfs_period_us = 100000
  cpu.cfs_quota_us = 800000
  memory.limit_in_bytes = 17179869184
  memory.memsw.limit_in_bytes = -1
  pids.max = max
cgroup labrun/physics/$ME (owner $ME)
  cpu.cfs_period_us = 100000
  cpu.cfs_quota_us = 200000
  memory.limit_in_bytes = 4294967296
  memory.memsw.limit_in_bytes = 5368709120
  pids.max = 512
  blkio.bfq.weight = 200
cgroup labrun/physics/$ME/login (owner $ME)"
	[ "$output" = "$expected" ] || { diff <(echo "$expected") <(echo "$output"); false; }
	run --separate-stderr lp plan --cgroup 2
	assert_status 0
	[[ $output == *"cgroup labrun/physics/$ME (owner $ME)"$'\n'"  cpu.max = 200000 100000"$'\n'"  memory.max = 4294967296"$'\n'"  memory.swap.max = 1073741824"$'\n'"  pids.max = 512"$'\n'"  io.weight = default 200"* ]] ||
		{ lr_show; false; }
}

@test "plan: a device that is not a block device is an error; bad --cgroup exits 2" {
	lab a <<-EOF
	[lab]
	members = $ME
	io-write-bps = /dev/null 1M
	EOF
	run --separate-stderr lp plan
	assert_status 1
	[ "$stderr" = "labrun-policy: plan: $LABS/a.conf: io limit on /dev/null: not a block device" ] ||
		{ lr_show; false; }
	run --separate-stderr lp plan --cgroup 3
	assert_status 2
}

# Issue 12, item 10: whoever can change a lab file can raise their own
# limits at the next apply, so a lab file, its directory or a directory above
# that others can write is refused by every reader, naming it and its mode.
# (Here the files are the test user's own: a caller trusts root's files and
# its own; as root, apply trusts root's alone: tests/root/quota.bats.)
@test "check, show, plan: a lab file or directory others can write is refused, naming it and its mode" {
	lab physics <<-EOF
	[lab]
	members = $ME
	EOF
	chmod 666 "$LABS/physics.conf"
	run --separate-stderr lp check
	assert_status 1
	[[ $stderr == "labrun-policy: $LABS/physics.conf: anyone can write it (mode 0666): a lab file, its directory and those above it must be writable by root alone"* ]] ||
		{ lr_show; false; }
	for cmd in "show $ME" plan; do
		run --separate-stderr lp $cmd
		assert_status 1
		[[ $stderr == *"$LABS/physics.conf: anyone can write it (mode 0666)"* ]] || { lr_show; false; }
	done
	chmod 664 "$LABS/physics.conf"
	run --separate-stderr lp check
	assert_status 1
	[[ $stderr == "labrun-policy: $LABS/physics.conf: its group "*" can write it (mode 0664)"* ]] ||
		{ lr_show; false; }
	chmod 644 "$LABS/physics.conf"
	chmod 777 "$LABS"
	run --separate-stderr lp check
	assert_status 1
	[[ $stderr == "labrun-policy: $LABS: anyone can write it (mode 0777)"* ]] || { lr_show; false; }
	# A directory above, writable by others: labs.d could be swapped.
	chmod 755 "$LABS"
	mkdir -m 777 "$BATS_TEST_TMPDIR/open"
	mkdir "$BATS_TEST_TMPDIR/open/labs.d"
	cp "$LABS/physics.conf" "$BATS_TEST_TMPDIR/open/labs.d/"
	run --separate-stderr "$LP" -d "$BATS_TEST_TMPDIR/open/labs.d" check
	assert_status 1
	[[ $stderr == "labrun-policy: $BATS_TEST_TMPDIR/open: anyone can write it (mode 0777)"* ]] ||
		{ lr_show; false; }
	# labrun refuses to start under it too, saying why.
	write_conf "$LR_CONF" "policy-dir = $BATS_TEST_TMPDIR/open/labs.d"
	run --separate-stderr lr --quota
	assert_status 1
	[[ $stderr == *"$BATS_TEST_TMPDIR/open: anyone can write it (mode 0777)"* ]] || { lr_show; false; }
	# Sticky, as /tmp: nobody else can rename labs.d away; accepted.
	chmod 1777 "$BATS_TEST_TMPDIR/open"
	run --separate-stderr "$LP" -d "$BATS_TEST_TMPDIR/open/labs.d" check
	assert_status 0
}

@test "labrun.conf that others can write is refused by labrun-policy: it says where the lab files are" {
	lab physics <<-EOF
	[lab]
	members = $ME
	EOF
	write_conf "$LR_CONF" "policy-dir = $LABS"
	chmod 644 "$LR_CONF"
	run --separate-stderr "$LP" -c "$LR_CONF" check
	assert_status 0
	chmod 666 "$LR_CONF"
	run --separate-stderr "$LP" -c "$LR_CONF" check
	assert_status 1
	[[ $stderr == "labrun-policy: $LR_CONF: refused: labrun.conf and every directory above it must be writable by root alone"*"$LR_CONF: anyone can write it (mode 0666)" ]] ||
		{ lr_show; false; }
}

# Issue 12, misleading messages: labrun-policy echoed a lab file's control
# characters to the terminal, which obeys them (ESC sequences retitle the
# window, move the cursor over earlier lines).  They are a parse error now,
# quoted escaped; whatever else of the files is shown is escaped too.
@test "check, show: control characters from lab files reach the terminal escaped, never raw" {
	printf '[lab]\nmembers = %s\nstorage = /scratch\033]0;pwned\007\033[2J 5G\n' "$ME" >"$LABS/physics.conf"
	run --separate-stderr lp check
	assert_status 1
	[ "$stderr" = "labrun-policy: $LABS/physics.conf:3:19: a control character (0x1b): lab files are text" ] ||
		{ lr_show; false; }
	run --separate-stderr lp show "$ME"
	assert_status 1
	[[ $stderr != *$'\033'* && $output != *$'\033'* ]] || { lr_show; false; }
	# A name the parser quotes: a lab file's name, escaped.
	rm "$LABS/physics.conf"
	printf '[lab]\nmembers = %s\n' "$ME" >"$LABS/a"$'\033'"[31mred.conf"
	run --separate-stderr lp check
	assert_status 1
	[ "$stderr" = "labrun-policy: $LABS/a\\x1b[31mred.conf: the file name must be the lab's name (letters, digits, . _ -) and .conf" ] ||
		{ lr_show; false; }
	# A directory with one in its name: shown escaped by check and show.
	local odd=$BATS_TEST_TMPDIR/labs$'\r\033[1A'
	mkdir "$odd"
	printf '[lab]\nmembers = %s\n' "$ME" >"$odd/physics.conf"
	run --separate-stderr "$LP" -d "$odd" check
	assert_status 0
	[ "$output" = "$BATS_TEST_TMPDIR/labs\\r\\x1b[1A: 1 lab, 1 member entry: the policy is valid" ] ||
		{ lr_show; false; }
	run --separate-stderr "$LP" -d "$odd" show "$ME"
	assert_status 0
	[[ $output == *"lab physics ($BATS_TEST_TMPDIR/labs\\r\\x1b[1A/physics.conf)"* ]] || { lr_show; false; }
	[[ $output != *$'\033'* && $output != *$'\r'* ]] || { lr_show; false; }
}

# Issue 12, item 11: cgroup v1 lets a member move a process into any
# cgroup whose tasks file they own, so a member of two labs who owned a
# cgroup in each could move a running container into the looser lab.  The
# v1 plan delegates none of their cgroups, and says so; v2 checks the
# common ancestor (root's "labrun") and delegates both.
@test "plan: on cgroup v1 a member of two labs gets no delegated cgroup, with a note; on v2 both" {
	lab physics <<-EOF
	[lab]
	members = $ME
	[defaults]
	memory = 1G
	EOF
	lab chem <<-EOF
	[lab]
	members = $ME
	EOF
	run --separate-stderr lp plan --cgroup 1
	assert_status 0
	[[ $output == *"# $ME is a member of 2 labs (chem, physics): on cgroup v1 none of their cgroups is delegated to them"* ]] ||
		{ lr_show; false; }
	[[ $output == *"cgroup labrun/chem/$ME (of $ME, not delegated)"*"cgroup labrun/chem/$ME/login (of $ME, not delegated)"*"cgroup labrun/physics/$ME (of $ME, not delegated)"* ]] ||
		{ lr_show; false; }
	[[ $output != *"(owner $ME)"* ]] || { lr_show; false; }
	run --separate-stderr lp plan --cgroup 2
	assert_status 0
	[[ $output == *"cgroup labrun/chem/$ME (owner $ME)"*"cgroup labrun/physics/$ME (owner $ME)"* ]] ||
		{ lr_show; false; }
	[[ $output != *"not delegated"* ]] || { lr_show; false; }
	# One lab each: delegated on v1 as before.
	rm "$LABS/chem.conf"
	run --separate-stderr lp plan --cgroup 1
	assert_status 0
	[[ $output == *"cgroup labrun/physics/$ME (owner $ME)"* && $output != *"not delegated"* ]] ||
		{ lr_show; false; }
}
