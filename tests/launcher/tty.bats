#!/usr/bin/env bats
# tty.bats - interactive use on a terminal, driven through tmux (a real
# pseudo-terminal whose screen can be read): the login shell's prompt, the
# job's terminal, Ctrl-C, window size, exit status, and the terminal given
# back to the caller afterwards (doc/DECISIONS.md, "Signals").

load helpers
load tmux

setup() {
	command -v tmux >/dev/null || skip "tmux is not installed"
	lr_setup
	SOCK=$BATS_TEST_TMPDIR/tmux.sock
}

teardown() {
	tmx kill-server 2>/dev/null || true
	lr_teardown
}

# start_tty CMD: run the shell command CMD on an 80x24 terminal; its exit
# status goes to $BATS_TEST_TMPDIR/status, and the screen stays a while
# to be read (teardown ends it).  The shell around CMD handles
# SIGINT with a no-op (so Ctrl-C does not end it before it writes the
# status; a handler, unlike an ignored signal, is not inherited by labrun).
start_tty() {
	tmx new-session -d -x 80 -y 24 \
		"trap : INT; LABRUN='$LABRUN' LR_CONF='$LR_CONF' BB='$BB'; $1; echo \$? >'$BATS_TEST_TMPDIR/status.tmp'; mv '$BATS_TEST_TMPDIR/status.tmp' '$BATS_TEST_TMPDIR/status'; sleep 5"
}

# expect_status N: the command given to start_tty ended with status N.
expect_status() {
	wait_for 5 test -e "$BATS_TEST_TMPDIR/status" || { echo "still running"; screen_text; false; }
	[ "$(cat "$BATS_TEST_TMPDIR/status")" = "$1" ] ||
		{ echo "status $(cat "$BATS_TEST_TMPDIR/status"), expected $1"; screen_text; false; }
}

LR='"$LABRUN" -c "$LR_CONF"'

@test "no command: an interactive login shell with a prompt" {
	start_tty "$LR \"\$BB\""
	expect_screen '^lr:/\$ '
	type_line 'echo "login=$0"'
	expect_screen 'login=-?(/bin/)?sh'
	type_line 'exit 5'
	expect_status 5
}

# The user's terminal is bound at /dev/console: the container's devpts
# instance is its own, where the host's pty has no name (doc/DECISIONS.md).
@test "tty in the container names the terminal /dev/console" {
	start_tty "$LR \"\$BB\""
	expect_screen '^lr:/\$ '
	type_line 'tty; test -t 0 && echo stdin-is-a-tty'
	expect_screen '^/dev/console$'
	expect_screen '^stdin-is-a-tty'
	type_line 'exit'
	expect_status 0
}

@test "Ctrl-C interrupts a command in the container; the shell and labrun survive" {
	start_tty "$LR \"\$BB\""
	expect_screen '^lr:/\$ '
	type_line 'sleep 100'
	sleep 0.3
	tmx send-keys C-c
	type_line 'echo alive-$((6*7))'
	expect_screen '^alive-42' 3
	type_line 'exit 7'
	expect_status 7
}

@test "Ctrl-C on a job run directly: the job dies of SIGINT, and so does labrun" {
	start_tty "$LR \"\$BB\" sleep 100"
	sleep 0.5
	tmx send-keys C-c
	expect_status 130
}

@test "the window size is the terminal's and follows a resize" {
	start_tty "$LR \"\$BB\""
	expect_screen '^lr:/\$ '
	type_line 'stty size'
	expect_screen '^24 80$'
	# A foreground command in the container gets SIGWINCH (busybox's
	# interactive shell keeps SIGWINCH for its line editor).
	type_line "sh -c 'trap \"echo winch-seen; exit\" WINCH; echo waiting; while :; do sleep 0.05; done'"
	expect_screen '^waiting'
	tmx resize-window -x 100 -y 30
	expect_screen '^winch-seen' 3
	type_line 'stty size'
	expect_screen '^30 100$'
	type_line 'exit'
	expect_status 0
}

@test "the terminal is given back to the caller after an interactive shell" {
	start_tty "$LR \"\$BB\"; echo back-\$?; read -r x; echo got-\$x"
	expect_screen '^lr:/\$ '
	type_line 'exit 3'
	expect_screen '^back-3'
	type_line 'hello'
	expect_screen '^got-hello'
	expect_status 0
}

@test "Ctrl-D ends the shell with status 0" {
	start_tty "$LR \"\$BB\""
	expect_screen '^lr:/\$ '
	tmx send-keys C-d
	expect_status 0
}

@test "script -qec: a command on a terminal sees a tty, without one it does not" {
	command -v script >/dev/null || skip "script (bsdutils) is not installed"
	# script's stdin stays open: at EOF script types Ctrl-D into its
	# terminal, which the pty may then pass on as a byte (echoed "^@")
	# if it arrives before labrun made that terminal raw.
	exec 9< <(exec sleep 10)
	local feeder=$!
	run script -qec "\"$LABRUN\" -c \"$LR_CONF\" \"$BB\" tty" /dev/null <&9
	exec 9<&-
	kill "$feeder" 2>/dev/null || true
	assert_status 0
	[[ $output =~ ^/dev/console ]] || { lr_show; false; }
	run_lr "$BB" tty
	assert_status 1
	assert_output "not a tty"
}

@test "Ctrl-Z stops a job run directly, and fg resumes it" {
	# An interactive bash around labrun, so that there is job control.
	start_tty "bash --norc --noprofile -i"
	type_line "PS1='ps1> '"
	expect_screen '^ps1> '
	type_line "'$LABRUN' -c '$LR_CONF' '$BB' sh -c 'echo started; sleep 2; echo finished'"
	expect_screen '^started'
	tmx send-keys C-z
	expect_screen 'Stopped'
	# Stopped, the job does not finish on its own.
	sleep 2.5
	! screen_text | grep -q '^finished'
	type_line 'fg'
	expect_screen '^finished' 5
	type_line 'exit 0'
	expect_status 0
}

# labrun puts the caller's terminal in raw mode while it relays the
# container's pty (doc/DECISIONS.md, "Terminal"): the settings must come
# back, after a normal exit and when a signal that labrun does not pass on
# kills it (SIGALRM: a handler restores them first).
@test "the caller's terminal settings come back after labrun, also when a signal kills it" {
	start_tty "bash --norc --noprofile -i"
	type_line "PS1='ps1> '"
	expect_screen '^ps1> '
	type_line "before=\$(stty -g); '$LABRUN' -c '$LR_CONF' '$BB' true; [ \"\$(stty -g)\" = \"\$before\" ] && echo same-after-exit"
	expect_screen '^same-after-exit'
	type_line "'$LABRUN' -c '$LR_CONF' '$BB' sleep 4848; [ \"\$(stty -g)\" = \"\$before\" ] && echo same-after-kill-\$?"
	wait_for 5 pgrep -u "$(id -u)" -f '^sleep 4848$' >/dev/null
	# labrun's comm is "labrun"; its keeper's "labrun-keeper".
	kill -ALRM "$(pgrep -u "$(id -u)" -x labrun)"
	expect_screen '^same-after-kill-0'
	type_line 'exit 0'
	expect_status 0
}
