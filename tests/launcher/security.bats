#!/usr/bin/env bats
# security.bats - the invariants of notes/security.md that are checked from
# outside the container: labrun refuses to run setuid or setgid; every
# mount in the container is nosuid,nodev (device nodes aside); the host's
# mount table does not change; no fd of labrun reaches the job; paths the
# image controls (symlinks) are not followed out of the root.  The escape
# probes run from inside: probes.bats.

load helpers

# A copy of labrun with MODE (u+s, g+s) set by the caller on their own file.
own_copy() {
	cp "$LABRUN" "$BATS_TEST_TMPDIR/labrun-copy"
	chmod "$1" "$BATS_TEST_TMPDIR/labrun-copy"
	if findmnt -n -o OPTIONS -T "$BATS_TEST_TMPDIR" | grep -qw nosuid; then
		skip "$BATS_TEST_TMPDIR is on a nosuid mount"
	fi
}

@test "a setuid-root labrun refuses to run (125, 'refusing to run setuid')" {
	[ -n "${LABRUN_SETUID_ROOT-}" ] || skip "needs a setuid-root copy of labrun, which only root can make (run-bats as root does)"
	run --separate-stderr "$LABRUN_SETUID_ROOT" -c "$LR_CONF" "$BB" id -u </dev/null
	assert_labrun_error 'refusing to run setuid'
	assert_output ""
}

@test "a setgid-root labrun refuses to run" {
	[ -n "${LABRUN_SETGID_ROOT-}" ] || skip "needs a setgid-root copy of labrun, which only root can make (run-bats as root does)"
	run --separate-stderr "$LABRUN_SETGID_ROOT" -c "$LR_CONF" "$BB" id -u </dev/null
	assert_labrun_error 'refusing to run set(uid|gid)'
	assert_output ""
}

@test "a copy the user made setuid refuses to run" {
	# chmod u+s on one's own file works for anyone.  The kernel changes no id
	# (owner = caller), so only labrun's look at its own file mode catches it.
	own_copy u+s
	run --separate-stderr "$BATS_TEST_TMPDIR/labrun-copy" -c "$LR_CONF" "$BB" true </dev/null
	assert_labrun_error 'refusing to run setuid'
}

# issue 12: a copy with a file capability was refused as "setuid or
# setgid".  A user can give their own copy one from a user namespace of
# their own (a v3 capability whose root is the user): the kernel ignores
# it outside, but labrun refuses it, and says what it is.  (root's setcap
# is refused the same way; only root can test that.)
@test "a copy with a file capability refuses to run, saying 'file capabilities'" {
	command -v setcap >/dev/null || skip "setcap is not installed (libcap2-bin)"
	cp "$LABRUN" "$BATS_TEST_TMPDIR/labrun-copy"
	unshare -Ur setcap cap_net_raw+ep "$BATS_TEST_TMPDIR/labrun-copy" ||
		skip "cannot set a file capability from a user namespace here"
	run --separate-stderr "$BATS_TEST_TMPDIR/labrun-copy" -c "$LR_CONF" "$BB" true </dev/null
	assert_labrun_error 'file capabilities' 'setcap -r'
	[[ $stderr != *setuid* ]] || { lr_show; false; }
}

@test "a copy the user made setgid to a group of theirs refuses to run" {
	other=$(id -G | tr ' ' '\n' | grep -vx "$(id -g)" | head -1)
	[ -n "$other" ] || skip "$(id -un) has no supplementary group to make labrun setgid to"
	own_copy g+s
	chgrp "$other" "$BATS_TEST_TMPDIR/labrun-copy"
	chmod g+s "$BATS_TEST_TMPDIR/labrun-copy"
	run --separate-stderr "$BATS_TEST_TMPDIR/labrun-copy" -c "$LR_CONF" "$BB" true </dev/null
	assert_labrun_error 'refusing to run set(uid|gid)'
}

@test "labrun as built carries no setuid, setgid or file capability" {
	[ ! -u "$LABRUN" ] && [ ! -g "$LABRUN" ]
	if command -v getcap >/dev/null; then
		[ -z "$(getcap "$LABRUN")" ]
	fi
}

# mount_flags OPTS: the container's /proc/self/mountinfo as "MOUNTPOINT FSTYPE
# PER-MOUNT-OPTIONS" lines.
container_mounts() {
	run_lr "$@" cat /proc/self/mountinfo
	assert_status 0
	MOUNTS=$(awk '{ for (i = 7; $i != "-"; i++); print $5, $(i + 1), $6 }' <<<"$output")
}

# check_mounts: every mount nosuid; every mount but the device nodes in /dev
# nodev (DESIGN.md §7: "nosuid,nodev on every image and bind mount").
check_mounts() {
	local bad=0 mp fs opts
	while read -r mp fs opts; do
		if [[ ,$opts, != *,nosuid,* ]]; then
			echo "not nosuid: $mp ($fs, $opts)"
			bad=1
		fi
		case $mp in
		/dev/null | /dev/zero | /dev/full | /dev/random | /dev/urandom | /dev/tty | \
			/dev/console | /dev/ptmx | /dev/pts) continue ;;
		esac
		if [[ ,$opts, != *,nodev,* ]]; then
			echo "not nodev: $mp ($fs, $opts)"
			bad=1
		fi
	done <<<"$MOUNTS"
	[ "$bad" -eq 0 ] || { echo "--- all mounts ---"; echo "$MOUNTS"; false; }
}

@test "every mount in the container is nosuid,nodev (device nodes aside)" {
	container_mounts "$BB"
	check_mounts
}

@test "every mount is nosuid,nodev, with binds, --writable and --remap-root too" {
	mkdir "$BATS_TEST_TMPDIR/b"
	container_mounts --remap-root --bind "$BATS_TEST_TMPDIR/b:/b" \
		--bind "$BATS_TEST_TMPDIR/b:/c:ro" --writable="$BATS_TEST_TMPDIR/w" "$TOP"
	check_mounts
	grep -q '^/b ' <<<"$MOUNTS" && grep -q '^/c ' <<<"$MOUNTS" || { echo "$MOUNTS"; false; }
	chmod -R u+rwX "$BATS_TEST_TMPDIR/w"
}

@test "no squashfs is mounted by the kernel for a user's image" {
	container_mounts "$TOP"
	! grep -qw squashfs <<<"$MOUNTS" || { echo "$MOUNTS"; false; }
}

@test "the host's mount table is unchanged after runs with every kind of mount" {
	before=$(cat /proc/self/mountinfo)
	mkdir "$BATS_TEST_TMPDIR/b"
	run_lr --bind "$BATS_TEST_TMPDIR/b:/b" --net=none --hostname h "$TOP" true
	assert_status 0
	run_lr --remap-root --writable="$BATS_TEST_TMPDIR/w" --bind "$BATS_TEST_TMPDIR/b:/b:ro" "$TOP" true
	assert_status 0
	chmod -R u+rwX "$BATS_TEST_TMPDIR/w"
	[ "$(cat /proc/self/mountinfo)" = "$before" ]
}

@test "no fd of labrun reaches the job: only 0 1 2 and ls's own" {
	run_lr "$BB" ls /proc/self/fd
	assert_status 0
	assert_output "$(printf '0\n1\n2\n3')"
	# nor fds the caller left open
	exec 5</dev/null 9<"$BATS_TEST_TMPDIR"
	run_lr "$BB" ls /proc/self/fd
	exec 5<&- 9<&-
	assert_output "$(printf '0\n1\n2\n3')"
}

@test "the job's cwd is inside the container's root" {
	run_lr "$BB" sh -c 'readlink /proc/self/cwd; readlink /proc/self/root'
	assert_status 0
	assert_output "$(printf '/\n/')"
}

@test "a hostile image's symlinks at mount points are not followed" {
	run_lr "$IMAGES/hostile.sqfs" sh -c '
		test -L /proc && echo "proc is a symlink"; test -r /proc/self/status || echo "no proc"
		test -L /dev && echo "dev is a symlink"; test -c /dev/null || echo "no /dev/null"
		test -L /sys && echo "sys is a symlink"
		test -L /tmp && echo "tmp is a symlink"; touch /tmp/x || echo "tmp not writable"
		test -L /etc/passwd && echo "passwd is a symlink"
		grep -q "^$(id -un):" /etc/passwd || echo "no user in passwd"
		test -L /etc/hosts && echo "hosts is a symlink"
		echo checked'
	assert_status 0
	assert_output checked
}

@test "a hostile image: /etc/hosts and resolv.conf are the host's, not the symlink targets" {
	run_lr "$IMAGES/hostile.sqfs" cat /etc/hosts
	assert_status 0
	[ "$output" = "$(cat /etc/hosts)" ] || { lr_show; false; }
}

@test "a hostile image: a bind onto a path that is a symlink in the image lands inside" {
	mkdir "$BATS_TEST_TMPDIR/b"
	echo bound >"$BATS_TEST_TMPDIR/b/f"
	# /data -> /home and /mnt -> /proc/1/root/tmp in hostile.sqfs
	run_lr --bind "$BATS_TEST_TMPDIR/b:/data" --bind "$BATS_TEST_TMPDIR/b:/mnt/x" \
		"$IMAGES/hostile.sqfs" sh -c 'cat /data/f; ls /home; cat /mnt/x/f; test -L /data && echo "data is a symlink"; true'
	assert_status 0
	assert_output "$(printf 'bound\nbound')"
}
