#!/usr/bin/env bats
# sync.bats - `labrun-policy sync` against a real slurmdbd (issue 14;
# labrun-policy(8), SYNC): the lab files become an account per lab and an
# association per member with the policy's GrpTRES and GrpTRESMins; a
# second sync changes nothing; a changed policy changes exactly that; a
# dry run prints the same lines and changes nothing; a member of two labs
# has an association in each; what the policy drops is removed; another
# tool's account is never touched; a broken lab file changes nothing.
#
# Runs as root on the cluster of `scripts/slurm-local.sh start
# --accounting` (MariaDB, slurmdbd, AccountingStorageTRES=gres/gpu, cluster
# labrun-local); skips, saying so, where the script lacks --accounting.
# The test's accounts (lrsync*) and the slurmdb users it added are removed
# at the end; it refuses to run when the accounting holds labrun accounts
# of others, which its syncs would remove.

load slurm

LAB1=lrsync1
LAB2=lrsync2
OTHER=lrsyncother

# Why sync cannot be tested here, if the cluster can.
why_skip_sync() {
	local others
	"$SLURM_LOCAL" --help 2>&1 | grep -q -- --accounting || {
		echo "scripts/slurm-local.sh has no --accounting yet (no slurmdbd to sync with)"
		return
	}
	[ -x "$(dirname "$LABRUN")/labrun-policy" ] || {
		echo "labrun-policy was not built beside labrun"
		return
	}
	"$(dirname "$LABRUN")/labrun-policy" sync --help >/dev/null 2>&1 || {
		echo "labrun-policy has no sync"
		return
	}
}

setup_file() {
	SKIP_REASON=$(why_skip)
	[ -n "$SKIP_REASON" ] || SKIP_REASON=$(why_skip_sync)
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	"$SLURM_LOCAL" start --accounting
	sync_setup_file '^lrsync' "$TEST_USER" labrun-test2
}

teardown_file() {
	[ -z "$SKIP_REASON" ] || return 0
	local u
	sacctmgr -i delete account "$LAB1,$LAB2,$OTHER" >/dev/null 2>&1 || true
	for u in $ADDED_USERS; do
		sacctmgr -i delete user "$u" >/dev/null 2>&1 || true
	done
	rm -rf "$LABS"
	[ -z "$(sacctmgr -nP show account format=account | grep '^lrsync')" ]
}

setup() {
	[ -z "$SKIP_REASON" ] || skip "$SKIP_REASON"
	rm -f "$LABS"/*.conf
}

# lab NAME TEXT: the lab file, root's, readable by all.
lab() {
	printf '%s\n' "$2" >"$LABS/$1.conf"
	chmod 644 "$LABS/$1.conf"
}

# assocs ACCOUNT: account|user|GrpTRES|GrpTRESMins, one line each, in C
# order (the account's own association, user "", last).
assocs() {
	sacctmgr -nP show assoc where account="$1" cluster=labrun-local \
		format=account,user,grptres,grptresmins | LC_ALL=C sort
}

sync_policy() { "$POLICY" -d "$LABS" sync "$@"; }

physics() {
	lab "$LAB1" "[lab]
members = $TEST_USER, root
cores = 8
memory = 16G
gpus = 2
gpu-hours = 100
[defaults]
cores = 2
memory = 4G
gpus = 1
gpu-hours = 10
[member root]
cores = 4"
}

@test "sync makes the lab's account and its members' associations with the policy's limits" {
	physics
	run sync_policy
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"add account $LAB1 (lab $LAB1)"* ]]
	[[ $output == *"add association $LAB1/$TEST_USER: GrpTRES=cpu=2,mem=4096M,gres/gpu=1 GrpTRESMins=gres/gpu=600"* ]]
	run assocs "$LAB1"
	echo "$output"
	[ "$output" = "$LAB1|$TEST_USER|cpu=2,gres/gpu=1,mem=4G|gres/gpu=600
$LAB1|root|cpu=4,gres/gpu=1,mem=4G|gres/gpu=600
$LAB1||cpu=8,gres/gpu=2,mem=16G|gres/gpu=6000" ]
	# Marked as labrun's, under root.
	run sacctmgr -nP show account "$LAB1" format=account,organization
	[ "$output" = "$LAB1|labrun" ]
}

@test "a second sync changes nothing" {
	physics
	sync_policy >/dev/null
	before=$(assocs "$LAB1")
	run sync_policy
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "nothing to change: Slurm's accounting (cluster labrun-local) matches the policy" ]
	[ "$(assocs "$LAB1")" = "$before" ]
	run sync_policy --json
	[ "$output" = "[]" ]
}

@test "a changed policy changes exactly that, and a dry run says so first without changing it" {
	physics
	sync_policy >/dev/null
	sed -i 's/^cores = 2$/cores = 3/' "$LABS/$LAB1.conf"
	before=$(assocs "$LAB1")
	run sync_policy --dry-run
	echo "$output"
	[ "$status" -eq 0 ]
	dry=$output
	[ "$(assocs "$LAB1")" = "$before" ]
	run sync_policy
	echo "$output"
	[ "$output" = "modify association $LAB1/$TEST_USER: GrpTRES=cpu=3,mem=4096M,gres/gpu=1 GrpTRESMins=gres/gpu=600 (was GrpTRES=cpu=2,mem=4096M,gres/gpu=1 GrpTRESMins=gres/gpu=600)" ]
	[ "$dry" = "would $output" ]
	[[ $(assocs "$LAB1") == *"$LAB1|$TEST_USER|cpu=3,gres/gpu=1,mem=4G|gres/gpu=600"* ]]
	[[ $(assocs "$LAB1") == *"$LAB1|root|cpu=4,gres/gpu=1,mem=4G|gres/gpu=600"* ]]
}

@test "a member of two labs has an association in each, within each lab's total" {
	physics
	lab "$LAB2" "[lab]
members = @$TEST_USER
cores = 2"
	run sync_policy
	echo "$output"
	[ "$status" -eq 0 ]
	run assocs "$LAB2"
	[ "$output" = "$LAB2|$TEST_USER|cpu=2|
$LAB2||cpu=2|" ]
	[[ $(assocs "$LAB1") == *"$LAB1|$TEST_USER|"* ]]
	run sacctmgr -nP show assoc where user="$TEST_USER" account="$LAB2" format=account
	[ "$output" = "$LAB2" ]
}

@test "what the policy no longer names is removed: a member, then a lab" {
	physics
	lab "$LAB2" "[lab]
members = $TEST_USER"
	sync_policy >/dev/null
	lab "$LAB1" "[lab]
members = root"
	run sync_policy
	echo "$output"
	[[ $output == *"remove association $LAB1/$TEST_USER"* ]]
	[[ $(assocs "$LAB1") != *"|$TEST_USER|"* ]]
	rm "$LABS/$LAB2.conf"
	run sync_policy
	echo "$output"
	[[ $output == *"remove account $LAB2 (and its associations)"* ]]
	[ -z "$(sacctmgr -nP show account "$LAB2" format=account)" ]
	[ -n "$(sacctmgr -nP show account "$LAB1" format=account)" ]
}

@test "another tool's account is never changed, and a lab of its name changes nothing" {
	sacctmgr -i add account "$OTHER" description=other organization=elsewhere >/dev/null
	physics
	lab "$OTHER" "[lab]
members = root
cores = 1"
	before=$(assocs "$OTHER")
	lab1_before=$(assocs "$LAB1")
	run sync_policy
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"$OTHER.conf: the Slurm account $OTHER is another tool's (organization 'elsewhere', not 'labrun')"*"nothing changed" ]]
	[ "$(assocs "$OTHER")" = "$before" ]
	[ "$(assocs "$LAB1")" = "$lab1_before" ]
	# Without the lab, sync leaves it alone too.
	rm "$LABS/$OTHER.conf"
	run sync_policy
	[ "$status" -eq 0 ]
	[[ $output != *"$OTHER"* ]]
	[ "$(assocs "$OTHER")" = "$before" ]
}

@test "a broken lab file, or a member unknown to this machine, changes nothing" {
	physics
	sync_policy >/dev/null
	before=$(assocs "$LAB1")
	lab "$LAB2" "[lab]
members = $TEST_USER
cores = lots"
	run sync_policy
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"$LAB2.conf:3:"*"nothing changed" ]]
	lab "$LAB2" "[lab]
members = no-such-user-here"
	run sync_policy
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"member no-such-user-here: no such user on this machine"*"nothing changed" ]]
	[ "$(assocs "$LAB1")" = "$before" ]
	[ -z "$(sacctmgr -nP show account "$LAB2" format=account)" ]
}

@test "--json prints the changes as an array of objects" {
	physics
	sync_policy >/dev/null
	sed -i 's/^cores = 4$/cores = 5/' "$LABS/$LAB1.conf"
	run sync_policy --json
	echo "$output"
	[ "$status" -eq 0 ]
	run python3 -c 'import json, sys; a = json.load(sys.stdin); print(len(a), a[0]["op"], a[0]["user"], a[0]["GrpTRES"], a[0]["result"])' <<<"$output"
	[ "$output" = "1 modify-association root cpu=5,mem=4096M,gres/gpu=1 done" ]
}
