# tmux.bash - a real pseudo-terminal whose screen the tests read, for the
# bats files that drive labrun interactively (tty.bats, tiocsti.bats).
# The test's setup sets SOCK (tmux's socket, in BATS_TEST_TMPDIR); its
# teardown runs `tmx kill-server`.

tmx() {
	tmux -S "$SOCK" -f /dev/null "$@"
}

screen_text() {
	tmx capture-pane -p -J -S -200 2>/dev/null
}

# expect_screen ERE [SECONDS]: wait until the screen matches ERE.
expect_screen() {
	local i
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		screen_text | grep -qE -- "$1" && return 0
		sleep 0.05
	done
	echo "the screen never showed: $1"
	echo "--- screen ---"
	screen_text
	echo "--------------"
	return 1
}

# type_line TEXT: TEXT typed, then Enter.
type_line() {
	tmx send-keys -l "$1"
	tmx send-keys Enter
}
