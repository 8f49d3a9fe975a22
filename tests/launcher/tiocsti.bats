#!/usr/bin/env bats
# tiocsti.bats - an image cannot type into the caller's terminal (issue 12,
# item 1).  The probe /probes/tiocsti pushes "echo INJECTED >FILE" into
# every terminal it can reach with ioctl(TIOCSTI); an interactive bash on a
# tmux terminal runs labrun, then goes on reading its terminal.  The job's
# terminal is a pty of labrun's own, in a session of the job's own, so the
# text must never reach bash: FILE must not appear.

load helpers
load tmux

setup() {
	command -v tmux >/dev/null || skip "tmux is not installed"
	lr_setup
	SOCK=$BATS_TEST_TMPDIR/tmux.sock
	FILE=$BATS_TEST_TMPDIR/injected
}

teardown() {
	tmx kill-server 2>/dev/null || true
	lr_teardown
}

# injected_by ARGS...: run labrun ARGS probes.sqfs /probes/tiocsti under
# an interactive bash; then have bash print a marker, so that anything
# typed into its terminal before the marker has been read and run.
injected_by() {
	tmx new-session -d -x 100 -y 30 "bash --norc --noprofile -i"
	type_line "PS1='ps1> '"
	expect_screen '^ps1> '
	type_line "'$LABRUN' -c '$LR_CONF' $* '$PROBES' /probes/tiocsti 'echo INJECTED >$FILE'; echo labrun-exit-\$?"
	expect_screen '^labrun-exit-[0-9]+' 10
	type_line 'echo marker-$((6*7))'
	expect_screen '^marker-42'
	screen_text | grep -qE '^(INFO|OK) TIOCSTI on stdin' || {
		echo "the probe did not try its stdin"
		screen_text
		return 1
	}
	screen_text | grep -qE '^labrun-exit-0$' || {
		echo "the probe failed"
		screen_text
		return 1
	}
	if [ -e "$FILE" ]; then
		echo "the caller's shell ran what the container typed:"
		screen_text
		return 1
	fi
}

@test "TIOCSTI from the job never reaches the caller's shell" {
	injected_by
}

@test "TIOCSTI from the job never reaches the caller's shell, with --remap-root" {
	injected_by --remap-root
}

# Without a terminal on stdin the job still gets a session of its own: the
# caller's terminal (on stdout here) is never its controlling terminal.
@test "TIOCSTI with stdin not a terminal: the caller's terminal stays out of reach" {
	tmx new-session -d -x 100 -y 30 "bash --norc --noprofile -i"
	type_line "PS1='ps1> '"
	expect_screen '^ps1> '
	type_line "'$LABRUN' -c '$LR_CONF' '$PROBES' /probes/tiocsti 'echo INJECTED >$FILE' </dev/null; echo labrun-exit-\$?"
	expect_screen '^labrun-exit-[0-9]+' 10
	type_line 'echo marker-$((6*7))'
	expect_screen '^marker-42'
	[ ! -e "$FILE" ] || {
		echo "the caller's shell ran what the container typed:"
		screen_text
		false
	}
}

# stdin a terminal, stdout a pipe (`labrun ... | less`): no pty, so that
# labrun does not compete with the pipe's reader for the keys; the job has
# the caller's terminal on stdin, but not as its controlling terminal,
# which TIOCSTI needs.
@test "TIOCSTI with stdout a pipe: refused on the caller's terminal" {
	tmx new-session -d -x 100 -y 30 "bash --norc --noprofile -i"
	type_line "PS1='ps1> '"
	expect_screen '^ps1> '
	type_line "'$LABRUN' -c '$LR_CONF' '$PROBES' /probes/tiocsti 'echo INJECTED >$FILE' | cat; echo labrun-exit-\${PIPESTATUS[0]}"
	expect_screen '^labrun-exit-[0-9]+' 10
	type_line 'echo marker-$((6*7))'
	expect_screen '^marker-42'
	screen_text | grep -q '^OK TIOCSTI on stdin refused' || {
		echo "TIOCSTI on the caller's terminal was not refused"
		screen_text
		false
	}
	[ ! -e "$FILE" ] || {
		echo "the caller's shell ran what the container typed:"
		screen_text
		false
	}
}
