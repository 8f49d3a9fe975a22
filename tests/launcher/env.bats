#!/usr/bin/env bats
# env.bats - the job's environment: the host's, then the image's env over
# it, then --env over that; --cleanenv keeps only HOME, USER, LOGNAME, TERM
# and a default PATH under the image's env and --env (doc/DECISIONS.md).

load helpers

# envof VAR: the value of VAR in $output (the job ran env).
envof() {
	sed -n "s/^$1=//p" <<<"$output"
}

@test "the host environment is passed through" {
	FOO_HOST=bar run_lr "$BB" env
	assert_status 0
	[ "$(envof FOO_HOST)" = bar ] || { lr_show; false; }
	[ "$(envof PATH)" = "$PATH" ] || { lr_show; false; }
	[ "$(envof HOME)" = "$HOME" ] || { lr_show; false; }
}

@test "the image's env overrides the host's" {
	SHARED=host MIDVAR=host run_lr "$TOP" env
	assert_status 0
	[ "$(envof SHARED)" = top ] || { lr_show; false; }
	[ "$(envof MIDVAR)" = mid ] || { lr_show; false; }
}

@test "--env overrides the image's env and the host's" {
	SHARED=host FOO=host run_lr -e SHARED=cli --env FOO=cli2 -e NEW=new "$TOP" env
	assert_status 0
	[ "$(envof SHARED)" = cli ] || { lr_show; false; }
	[ "$(envof FOO)" = cli2 ] || { lr_show; false; }
	[ "$(envof NEW)" = new ] || { lr_show; false; }
	[ "$(envof MIDVAR)" = mid ] || { lr_show; false; }
}

@test "--env values keep '=', spaces and quotes" {
	run_lr -e 'A=b=c' -e 'B=two words' -e "C=it's \"quoted\"" -e 'D=' "$BB" \
		sh -c 'printf "%s|" "$A" "$B" "$C" "${D-unset}"'
	assert_status 0
	assert_output "b=c|two words|it's \"quoted\"||"
}

@test "the last --env for a key wins" {
	run_lr -e X=1 -e X=2 "$BB" sh -c 'echo $X'
	assert_output 2
}

@test "--cleanenv drops the host's variables, keeps the image's and --env" {
	FOO_HOST=bar SHARED=host run_lr --cleanenv -e CLI=yes "$TOP" env
	assert_status 0
	[ -z "$(envof FOO_HOST)" ] || { lr_show; false; }
	[ "$(envof SHARED)" = top ] || { lr_show; false; }
	[ "$(envof MIDVAR)" = mid ] || { lr_show; false; }
	[ "$(envof CLI)" = yes ] || { lr_show; false; }
}

@test "--cleanenv keeps PATH, HOME, USER, LOGNAME, TERM" {
	home=$(getent passwd "$(id -un)" | cut -d: -f6)
	TERM=xterm-test run_lr --cleanenv "$BB" env
	assert_status 0
	[[ $(envof PATH) == *:/bin* || $(envof PATH) == /bin* ]] || { lr_show; false; }
	[ "$(envof HOME)" = "$home" ] || { echo "HOME should be $home"; lr_show; false; }
	[ "$(envof USER)" = "$(id -un)" ] || { lr_show; false; }
	[ "$(envof LOGNAME)" = "$(id -un)" ] || { lr_show; false; }
	[ "$(envof TERM)" = xterm-test ] || { lr_show; false; }
	n=$(grep -c = <<<"$output")
	[ "$n" -le 8 ] || { echo "too many variables after --cleanenv"; lr_show; false; }
}

@test "a command is found through the job's PATH" {
	run_lr -e PATH=/nowhere:/bin "$BB" id -u
	assert_status 0
	run -127 --separate-stderr lr_null -e PATH=/nowhere "$BB" id -u
	assert_error 127 'id'
}

@test "a variable with a newline in its value passes intact" {
	MULTI=$'line1\nline2' run_lr "$BB" sh -c 'printf "%s" "$MULTI"'
	assert_status 0
	assert_output $'line1\nline2'
}
