#!/usr/bin/env bats
# signals.bats - signals sent to labrun reach the job (doc/DECISIONS.md:
# INT, TERM, HUP, QUIT, USR1, USR2, WINCH, CONT are passed on), the job's
# death by a signal is labrun's, and every way of ending labrun or the job
# leaves nothing behind (no process, no mount; notes/security.md: "Test
# every exit path").

load helpers

pgrep_q() {
	pgrep -u "$(id -u)" -f "$1" >/dev/null
}

setup() {
	lr_setup
	OUT=$BATS_TEST_TMPDIR/out
	mkdir "$OUT"
}

# A job that traps SIG, says ready, and exits 3 saying got-SIG when SIG comes.
trap_job() {
	echo "trap 'echo got-$1 >/out/log; exit 3' $1; echo ready >/out/ready; while :; do sleep 0.05; done"
}

# send_and_expect SIG: start the trapping job, send SIG to labrun, expect
# the job's trap to have run and its exit status to be labrun's.
send_and_expect() {
	local sig=$1 pid st=0
	bg_lr pid --bind "$OUT:/out" "$BB" sh -c "$(trap_job "$sig")"
	wait_for 5 test -e "$OUT/ready"
	kill -"$sig" "$pid"
	wait "$pid" || st=$?
	[ "$st" -eq 3 ] || { echo "labrun exited $st, expected the job's 3"; cat "$OUT"/log 2>/dev/null; false; }
	[ "$(cat "$OUT/log")" = "got-$sig" ]
}

@test "SIGTERM sent to labrun reaches the job" {
	send_and_expect TERM
}

@test "SIGINT sent to labrun reaches the job" {
	send_and_expect INT
}

@test "SIGHUP sent to labrun reaches the job" {
	send_and_expect HUP
}

@test "SIGUSR1 sent to labrun reaches the job" {
	send_and_expect USR1
}

@test "SIGUSR2 sent to labrun reaches the job" {
	send_and_expect USR2
}

@test "SIGTERM to labrun with a job that does not trap it: labrun dies of SIGTERM" {
	bg_lr pid --bind "$OUT:/out" "$BB" sh -c 'touch /out/ready; exec sleep 100'
	wait_for 5 test -e "$OUT/ready"
	sleep 0.1
	st=0
	SECONDS=0
	kill -TERM "$pid"
	wait "$pid" || st=$?
	[ "$st" -eq 143 ] || { echo "status $st"; false; }
	[ "$SECONDS" -lt 5 ]
}

@test "SIGKILL to labrun leaves nothing behind" {
	bg_lr pid "$BB" sleep 4242
	wait_for 5 pgrep_q '^sleep 4242$'
	kill -KILL "$pid"
	wait "$pid" || true
	wait_for 3 eval '! pgrep -u "$(id -u)" -f "sleep 4242" >/dev/null'
	# teardown checks processes, mounts and FUSE connections
}

@test "SIGKILL to labrun with a three-layer image leaves nothing behind" {
	bg_lr pid "$TOP" sleep 4243
	wait_for 5 pgrep_q '^sleep 4243$'
	kill -KILL "$pid"
	wait "$pid" || true
	wait_for 3 eval '! pgrep -u "$(id -u)" -f "sleep 4243" >/dev/null'
}

@test "SIGKILL to the job (from the host): labrun dies of SIGKILL" {
	bg_lr pid "$BB" sleep 4343
	wait_for 5 pgrep_q '^sleep 4343$'
	kill -KILL "$(pgrep -u "$(id -u)" -f '^sleep 4343$')"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 137 ] || { echo "status $st"; false; }
}

@test "SIGKILL to the keeper (from the host): labrun fails, nothing is left" {
	bg_lr pid "$BB" sleep 4444
	wait_for 5 pgrep_q '^sleep 4444$'
	job=$(pgrep -u "$(id -u)" -f '^sleep 4444$')
	keeper=$(ps -o ppid= -p "$job" | tr -d ' ')
	[ "$keeper" != "$pid" ] || { echo "the job is labrun's child: no keeper?"; false; }
	kill -KILL "$keeper"
	st=0
	wait "$pid" || st=$?
	[ "$st" -ne 0 ] || { echo "labrun exited 0 although its container was killed"; false; }
	wait_for 3 eval '! pgrep -u "$(id -u)" -f "sleep 4444" >/dev/null'
}

# issue 12: a bare 137 told the user nothing.  No lab here: the keeper's
# death is said as it is, without a guess at who killed it.
@test "SIGKILL to the keeper: labrun says in one line that the keeper was killed" {
	env --default-signal=INT,QUIT "$LABRUN" -c "$LR_CONF" "$BB" sleep 4747 </dev/null \
		2>"$OUT/stderr" &
	pid=$!
	LR_BG_PIDS+=("$pid")
	wait_for 5 pgrep_q '^sleep 4747$'
	job=$(pgrep -u "$(id -u)" -f '^sleep 4747$')
	keeper=$(ps -o ppid= -p "$job" | tr -d ' ')
	kill -KILL "$keeper"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 137 ] || { echo "status $st"; cat "$OUT/stderr"; false; }
	[ "$(wc -l <"$OUT/stderr")" -eq 1 ] &&
		grep -qx "labrun: the container's keeper was killed by SIGKILL" "$OUT/stderr" ||
		{ echo "stderr:"; cat "$OUT/stderr"; false; }
}

@test "labrun's parent shell killed: the job finishes, labrun exits, nothing left" {
	bash -c '"$@" </dev/null & echo $! >"'"$OUT"'/labrun.pid"; wait' _ \
		"$LABRUN" -c "$LR_CONF" --bind "$OUT:/out" "$BB" sh -c 'sleep 1; echo done >/out/marker' &
	parent=$!
	LR_BG_PIDS+=("$parent")
	wait_for 5 test -s "$OUT/labrun.pid"
	kill -KILL "$parent"
	wait "$parent" || true
	wait_for 5 test -e "$OUT/marker"
	lpid=$(cat "$OUT/labrun.pid")
	wait_for 5 eval '! kill -0 '"$lpid"' 2>/dev/null'
}

@test "the job's background processes die with it" {
	SECONDS=0
	run_lr "$BB" sh -c 'sleep 4545 & sleep 4546 & echo started'
	assert_status 0
	assert_output started
	[ "$SECONDS" -lt 5 ]
	wait_for 2 eval '! pgrep -u "$(id -u)" -f "sleep 454[56]" >/dev/null'
}

@test "SIGTSTP stops the job and labrun, SIGCONT resumes them" {
	# The kernel drops SIGTSTP sent to an orphaned process group (POSIX),
	# as the tests' own may be when run in the background.  Run labrun as a
	# job-control shell runs a job: in a process group of its own, whose
	# parent (this shell) is in the same session.  (perl is Essential in
	# Debian; setpgrp(0, 0) is setpgid(0, 0).)
	perl -e 'setpgrp(0, 0); exec @ARGV or die "exec: $!"' -- \
		env --default-signal=INT,QUIT "$LABRUN" -c "$LR_CONF" "$BB" sleep 4646 </dev/null &
	pid=$!
	LR_BG_PIDS+=("$pid")
	wait_for 5 pgrep_q '^sleep 4646$'
	job=$(pgrep -u "$(id -u)" -f '^sleep 4646$')
	kill -TSTP "$pid"
	wait_for 2 eval '[[ $(ps -o stat= -p '"$job"') == T* ]]' || { echo "the job was not stopped"; false; }
	wait_for 2 eval '[[ $(ps -o stat= -p '"$pid"') == T* ]]' || { echo "labrun was not stopped"; false; }
	kill -CONT "$pid"
	wait_for 2 eval '[[ $(ps -o stat= -p '"$job"') != T* ]]' || { echo "the job was not resumed"; false; }
	wait_for 2 eval '[[ $(ps -o stat= -p '"$pid"') != T* ]]' || { echo "labrun was not resumed"; false; }
	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 143 ] || { echo "status $st"; false; }
}
