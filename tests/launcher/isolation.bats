#!/usr/bin/env bats
# isolation.bats - what the job sees of the host: its own pid, ipc, mount
# (and with options uts, net) namespaces, the caller's uid, a minimal /dev,
# a read-only /sys, a private /tmp, the user's passwd entry, the host's
# hosts and resolv.conf.

load helpers

@test "pid 1 is labrun's keeper and the job's pid is small" {
	run_lr "$BB" sh -c 'echo $$; cat /proc/1/comm'
	assert_status 0
	pid=${lines[0]}
	[ "$pid" -ge 2 ] && [ "$pid" -le 3 ] || { echo "job pid $pid"; lr_show; false; }
	[[ ${lines[1]} == labrun* ]] || { echo "pid 1 is ${lines[1]}"; lr_show; false; }
}

@test "ps in the container shows only the container's processes" {
	bg_start sleeper sleep 1000
	run_lr "$BB" ps -o pid,comm
	assert_status 0
	n=$((${#lines[@]} - 1)) # header
	[ "$n" -le 3 ] || { echo "$n processes"; lr_show; false; }
	assert_output_not_contains sleep
	assert_output_not_contains bats
	kill "$sleeper"
}

@test "/proc belongs to the container's pid namespace" {
	run_lr "$BB" sh -c 'readlink /proc/self; ls /proc | grep -c "^[0-9]"'
	assert_status 0
	[ "${lines[0]}" -le 10 ] || { lr_show; false; }
	[ "${lines[1]}" -le 4 ] || { lr_show; false; }
}

@test "the job runs with the caller's uid and gid" {
	run_lr "$BB" sh -c 'id -u; id -g; id -un'
	assert_status 0
	assert_output "$(printf '%s\n%s\n%s' "$(id -u)" "$(id -g)" "$(id -un)")"
}

@test "--remap-root: uid 0 inside, files in a bind owned by the caller outside" {
	mkdir "$BATS_TEST_TMPDIR/data"
	run_lr --remap-root --bind "$BATS_TEST_TMPDIR/data:/data" "$BB" \
		sh -c 'id -u; id -g; touch /data/made-by-root'
	assert_status 0
	assert_output "$(printf '0\n0')"
	[ "$(stat -c %u:%g "$BATS_TEST_TMPDIR/data/made-by-root")" = "$(id -u):$(id -g)" ]
}

@test "namespaces: pid, ipc, mnt, user differ from the host's; net and uts do not by default" {
	run_lr "$BB" sh -c 'for n in pid ipc mnt user net uts; do readlink /proc/self/ns/$n; done'
	assert_status 0
	i=0
	for n in pid ipc mnt user; do
		[ "${lines[$i]}" != "$(readlink /proc/self/ns/$n)" ] || { echo "same $n namespace"; lr_show; false; }
		i=$((i + 1))
	done
	[ "${lines[4]}" = "$(readlink /proc/self/ns/net)" ] || { echo "net namespace differs"; lr_show; false; }
	[ "${lines[5]}" = "$(readlink /proc/self/ns/uts)" ] || { echo "uts namespace differs"; lr_show; false; }
}

@test "--net=none: only lo, and it is up" {
	run_lr --net=none "$BB" ip -o link
	assert_status 0
	[ "${#lines[@]}" -eq 1 ] || { lr_show; false; }
	[[ ${lines[0]} == *" lo: "* && ${lines[0]} == *UP* ]] || { lr_show; false; }
	run_lr --net=none "$BB" sh -c 'readlink /proc/self/ns/net'
	[ "$output" != "$(readlink /proc/self/ns/net)" ] || { lr_show; false; }
}

@test "--net=none: loopback works" {
	run_lr --net=none "$BB" sh -c '
		nc -l -p 5555 >/tmp/got & l=$!
		# Up to 5 s for the listener: a loaded CI machine took over 1.
		for i in $(seq 50); do
			echo over-lo | nc 127.0.0.1 5555 2>/dev/null && break
			sleep 0.1
		done
		wait $l; cat /tmp/got'
	assert_status 0
	assert_output over-lo
}

@test "--hostname sets the container's host name only" {
	host=$(hostname)
	run_lr --hostname labrun-test-host "$BB" hostname
	assert_status 0
	assert_output labrun-test-host
	[ "$(hostname)" = "$host" ]
	run_lr "$BB" hostname
	assert_output "$host"
}

@test "/dev holds the usual devices, pts and shm" {
	run_lr "$BB" sh -c '
		for d in null zero full random urandom tty; do test -c /dev/$d || echo "no $d"; done
		test -d /dev/pts || echo "no pts"; test -e /dev/ptmx || echo "no ptmx"
		test -d /dev/shm || echo "no shm"
		echo x >/dev/null || echo "null not writable"
		test "$(head -c 4 /dev/zero | wc -c)" = 4 || echo "zero unreadable"
		test "$(head -c 4 /dev/urandom | wc -c)" = 4 || echo "urandom unreadable"
		echo x 2>/dev/null >/dev/full && echo "full accepted a write"
		touch /dev/shm/x || echo "shm not writable"
		ls /dev | grep -E "^(sd|vd|nvme|mem|kmem|port|loop)" && echo "host devices"
		echo done'
	assert_status 0
	assert_output "done"
}

@test "/sys is read-only" {
	run_lr "$BB" sh -c 'ls /sys/class >/dev/null && echo readable; touch /sys/x 2>&1 || echo refused'
	assert_status 0
	assert_output_contains readable
	assert_output_contains refused
}

@test "/tmp is private to the container" {
	name=labrun-tmp-test-$$-$RANDOM
	touch "/tmp/$name-host"
	run_lr "$BB" sh -c "touch /tmp/$name-inside && ls /tmp"
	assert_status 0
	assert_output_contains "$name-inside"
	assert_output_not_contains "$name-host"
	rm -f "/tmp/$name-host"
	[ ! -e "/tmp/$name-inside" ]
}

@test "the host's files are not visible without a bind" {
	run_lr "$BB" sh -c "test -e '$IMAGES/busybox.sqfs' && echo VISIBLE; test -e '$BATS_TEST_TMPDIR' && echo VISIBLE; true"
	assert_status 0
	assert_output_not_contains VISIBLE
}

@test "/etc/passwd and /etc/group hold the user's entries" {
	run_lr "$BB" sh -c 'grep "^$(id -un):" /etc/passwd; grep ":$(id -g):" /etc/group'
	assert_status 0
	IFS=: read -r name _ uid gid _ <<<"${lines[0]}"
	[ "$name" = "$(id -un)" ] && [ "$uid" = "$(id -u)" ] && [ "$gid" = "$(id -g)" ] ||
		{ lr_show; false; }
	[ "${#lines[@]}" -eq 2 ] || { lr_show; false; }
}

@test "/etc/hosts and /etc/resolv.conf have the host's content" {
	for f in /etc/hosts /etc/resolv.conf; do
		[ -r "$f" ] || continue
		run_lr "$BB" cat "$f"
		assert_status 0
		[ "$output" = "$(cat "$f")" ] || { echo "$f differs"; lr_show; false; }
	done
}

@test "the job's mounts do not appear in the host's mount table" {
	before=$(cat /proc/self/mountinfo)
	run_lr --bind "$BATS_TEST_TMPDIR:/data" "$BB" sh -c 'cat /proc/self/mountinfo'
	assert_status 0
	[ "$(cat /proc/self/mountinfo)" = "$before" ]
	# and the host's mounts are not in the job's
	assert_output_not_contains "$IMAGES"
}
