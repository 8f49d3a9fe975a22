#!/usr/bin/env bats
# build.bats - labrun-image build, flatten, config and gc from the command
# line, and the layers they write run by labrun: diffs against a parent,
# whiteouts, reproducibility, config flags, owners, bad input and what a
# failure leaves behind (nothing).

load helpers

setup() {
	lr_setup
	: "${LABRUN_IMAGE:?LABRUN_IMAGE must name labrun-image (run-bats sets it)}"
	STORE=$BATS_TEST_TMPDIR/store
	mkdir -p "$STORE"
	write_conf "$LR_CONF" "layer-store = $STORE"
	# A small root: busybox, its applets, a few files.
	ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$ROOT"/bin "$ROOT"/etc "$ROOT"/data/sub "$ROOT"/tmp
	cp /bin/busybox "$ROOT"/bin/
	for a in sh ls cat stat env true echo id wc; do ln -s busybox "$ROOT/bin/$a"; done
	echo base >"$ROOT"/etc/version
	echo keep >"$ROOT"/data/keep
	echo gone >"$ROOT"/data/sub/gone
	head -c 300000 /dev/urandom >"$ROOT"/data/big
	ln "$ROOT"/data/keep "$ROOT"/data/keep-link
	chmod 1777 "$ROOT"/tmp
}

teardown() {
	# overlayfs leaves DIR/work/work with mode 000
	chmod -R u+rwX "$BATS_TEST_TMPDIR" 2>/dev/null || true
	lr_teardown
}

li() {
	timeout 120 "$LABRUN_IMAGE" -c "$LR_CONF" "$@"
}

@test "build --from DIR: runs, files root's, hard links kept, digest printed" {
	run --separate-stderr li build --from "$ROOT" -o base.sqfs
	assert_status 0
	[[ $output =~ ^sha256:[0-9a-f]{64}$ ]] || { lr_show; false; }
	[ "${output#sha256:}" = "$(sha256sum base.sqfs | cut -c1-64)" ]
	run --separate-stderr lr base.sqfs /bin/sh -c \
		'cat /etc/version; stat -c "%h" /data/keep; [ /data/keep -ef /data/keep-link ] && echo same'
	assert_status 0
	[ "${lines[0]}" = base ]
	[ "${lines[1]}" = 2 ]
	[ "${lines[2]}" = same ]
	# root's inside (labrun shows root's files as nobody: root is not
	# mapped in the user's namespace)
	run sq_ls base.sqfs
	[[ $output == *"-rw-r--r-- 0/0 data/keep"* ]] || { lr_show; false; }
}

@test "build is reproducible: the same tree twice, or copied, gives the same bytes" {
	li build --from "$ROOT" -o a.sqfs
	sleep 1.1
	cp -a "$ROOT" copy
	li build --from copy -o b.sqfs
	li build --from "$ROOT" -o c.sqfs
	cmp a.sqfs b.sqfs
	cmp a.sqfs c.sqfs
	tar -C "$ROOT" --sort=name --numeric-owner -cf root.tar .
	li build --from-tar root.tar -o t1.sqfs
	li build --from-tar - -o t2.sqfs <root.tar
	cmp t1.sqfs t2.sqfs
}

@test "build --from-tar keeps the tar's owners and modes, set-id bits with --keep-special (no root needed)" {
	mkdir -p t/etc
	echo x >t/etc/owned
	# GNU tar writes any owner into the archive without privilege.
	tar -C t --owner=1234 --group=5678 --numeric-owner --mode=4755 -cf owned.tar etc/owned
	run --separate-stderr li build --from-tar owned.tar --keep-special -o owned.sqfs
	assert_status 0
	assert_stderr_empty
	run sq_ls owned.sqfs
	[[ $output == *"-rwsr-xr-x 1234/5678 etc/owned"* ]] || { lr_show; false; }
	# Without it, the setuid bit goes, and one line says so (issue 12).
	run --separate-stderr li build --from-tar owned.tar -o plain.sqfs
	assert_status 0
	[[ $stderr == "labrun-image build: cleared the setuid/setgid bits of 1 file (/etc/owned); --keep-special keeps them" ]] ||
		{ lr_show; false; }
	run sq_ls plain.sqfs
	[[ $output == *"-rwxr-xr-x 1234/5678 etc/owned"* ]] || { lr_show; false; }
}

@test "build --parent stores only the difference; labrun shows the merged tree" {
	li build --from "$ROOT" -o base.sqfs
	cp -a "$ROOT" new
	echo changed >new/etc/version
	rm -r new/data/sub
	echo added >new/data/added
	run --separate-stderr li build --from new --parent base.sqfs -o top.sqfs
	assert_status 0
	run sq_ls top.sqfs
	# Changed and added files, and whiteouts, are there; unchanged big
	# files and busybox are not.
	[[ $output == *" etc/version"* ]] || { lr_show; false; }
	[[ $output == *" data/added"* ]] || { lr_show; false; }
	[[ $output == *"c--------- 0/0 0,0 data/sub"* ]] || { lr_show; false; }
	[[ $output != *" data/big"* ]] || { lr_show; false; }
	[[ $output != *" data/keep"* ]] || { lr_show; false; } # an unchanged hard link
	[[ $output != *" bin/busybox"* ]] || { lr_show; false; }
	[ "$(stat -c %s top.sqfs)" -lt 100000 ]
	run --separate-stderr lr top.sqfs /bin/sh -c \
		'cat /etc/version /data/added /data/keep; ls /data; wc -c </data/big'
	assert_status 0
	[ "${lines[0]}" = changed ]
	[ "${lines[1]}" = added ]
	[ "${lines[2]}" = keep ]
	[[ $output != *sub* ]] || { lr_show; false; }
	[ "${lines[-1]}" = 300000 ]
}

@test "build --parent links the parent beside OUT under its digest name" {
	li build --from "$ROOT" -o base.sqfs
	d=$(sha256sum base.sqfs | cut -c1-64)
	mkdir out
	li build --from "$ROOT" --parent base.sqfs -o out/top.sqfs
	[ out/sha256-$d.sqfs -ef base.sqfs ]
	run --separate-stderr li inspect out/top.sqfs
	assert_status 0
	[[ $output == *"sha256:$d"* ]] || { lr_show; false; }
}

@test "build --parent sha256:HEX finds the parent in the layer store" {
	d=$(li build --from "$ROOT" --store "$STORE")
	[ -f "$STORE/sha256-${d#sha256:}.sqfs" ]
	run --separate-stderr li build --from "$ROOT" --parent "$d"
	assert_status 0
	[ -f "$STORE/sha256-${output#sha256:}.sqfs" ]
	run --separate-stderr lr "$STORE/sha256-${output#sha256:}.sqfs" /bin/cat /etc/version
	assert_status 0
	[ "$output" = base ]
}

@test "build --diff stores an overlay upper directory as it is" {
	li build --from "$ROOT" -o base.sqfs
	run --separate-stderr lr --writable=w --remap-root base.sqfs /bin/sh -c \
		'echo upper >/etc/version && rm /data/keep'
	assert_status 0
	run --separate-stderr li build --from w/upper --parent base.sqfs --diff --owner-map keep -o up.sqfs
	assert_status 0
	run --separate-stderr lr up.sqfs /bin/sh -c 'cat /etc/version; ls /data'
	assert_status 0
	[ "${lines[0]}" = upper ]
	[[ $output != *"keep"$'\n'* && " ${lines[*]} " != *" keep "* ]] || { lr_show; false; }
}

@test "build config flags land in layer.json and drive labrun" {
	run --separate-stderr li build --from "$ROOT" -o cfg.sqfs \
		--entrypoint '["/bin/sh","-c"]' --cmd 'echo $GREETING from $PWD' \
		--env GREETING=hello --workdir /data --label org.example.x=y
	assert_status 0
	run --separate-stderr lr cfg.sqfs
	assert_status 0
	# --cmd with words: ["echo", "$GREETING", ...]; sh -c runs the first.
	run --separate-stderr li inspect --json cfg.sqfs
	assert_status 0
	[[ $output == *'"GREETING=hello"'* ]] || { lr_show; false; }
	[[ $output == *'"/data"'* ]] || { lr_show; false; }
	[[ $output == *'"org.example.x": "y"'* || $output == *'"org.example.x":"y"'* ]] || { lr_show; false; }
	li config --cmd '["echo $GREETING in $PWD"]' -o cfg2.sqfs cfg.sqfs
	run --separate-stderr lr cfg2.sqfs
	assert_status 0
	[ "$output" = "hello in /data" ]
}

@test "every compression gives a layer labrun runs" {
	for c in gzip lz4 zstd xz none; do
		li build --from "$ROOT" --compression "$c" --block-size 64K -o "$c.sqfs"
		run --separate-stderr lr "$c.sqfs" /bin/wc -c /data/big
		assert_status 0
		[[ $output == "300000 /data/big" ]] || { echo "codec $c"; lr_show; false; }
	done
	unsquashfs -s lz4.sqfs | grep -q 'Compression lz4'
	unsquashfs -s none.sqfs | grep -q 'Data is uncompressed'
}

@test "flatten: one layer of the merged view, config kept, no parent" {
	li build --from "$ROOT" -o base.sqfs
	cp -a "$ROOT" new
	echo changed >new/etc/version
	rm new/data/keep-link
	li build --from new --parent base.sqfs --env FLAT=1 -o top.sqfs
	run --separate-stderr li flatten -o flat.sqfs top.sqfs
	assert_status 0
	run --separate-stderr li inspect flat.sqfs
	assert_status 0
	[[ ${lines[0]} == *"1 layer"* ]] || { lr_show; false; }
	[[ $output == *'"FLAT=1"'* ]] || { lr_show; false; }
	mv base.sqfs elsewhere.sqfs # the flat image needs no parent
	run --separate-stderr lr flat.sqfs /bin/sh -c 'cat /etc/version; ls /data'
	assert_status 0
	[ "${lines[0]}" = changed ]
	[[ $output != *keep-link* ]] || { lr_show; false; }
	[[ $(sq_ls flat.sqfs) != *".wh."* ]]
}

@test "gc: removes broken layers and orphans; --keep removes what the image does not need" {
	a=$(li build --from "$ROOT" --store "$STORE")
	b=$(li build --from "$ROOT" --parent "$a" --env X=1 --store "$STORE")
	c=$(li build --from "$ROOT" --env OTHER=1 --store "$STORE")
	echo junk >"$STORE/sha256-$(printf '%064d' 0).sqfs"
	run --separate-stderr li gc --dry-run
	assert_status 0
	[[ $output == *"would remove"*"$(printf '%064d' 0)"* ]] || { lr_show; false; }
	[ -f "$STORE/sha256-$(printf '%064d' 0).sqfs" ]
	run --separate-stderr li gc --keep "$STORE/sha256-${b#sha256:}.sqfs"
	assert_status 0
	[ -f "$STORE/sha256-${a#sha256:}.sqfs" ]
	[ -f "$STORE/sha256-${b#sha256:}.sqfs" ]
	[ ! -e "$STORE/sha256-${c#sha256:}.sqfs" ]
	[ ! -e "$STORE/sha256-$(printf '%064d' 0).sqfs" ]
}

@test "bad input: one line naming the cause, exit 1, nothing left behind" {
	printf 'not a tar at all' >junk.tar
	mkdir -p evil
	ln -s /etc evil/lnk
	tar -C evil -cf evil.tar lnk
	mkdir -p evil2/lnk && echo x >evil2/lnk/passwd
	tar -C evil2 -rf evil.tar lnk/passwd
	printf 'x' >dot
	tar -cf dotdot.tar --transform 's,^,../,' dot
	tar -C "$ROOT" -cf full.tar .
	head -c 200000 full.tar >truncated.tar
	local -a cases=(
		"--from-tar junk.tar|junk.tar"
		"--from-tar evil.tar|symbolic link"
		"--from-tar dotdot.tar|\.\."
		"--from-tar truncated.tar|truncated"
		"--from-tar missing.tar|missing.tar"
		"--from nodir|nodir"
		"--from $ROOT --parent notthere.sqfs|notthere.sqfs"
		"--from $ROOT --parent junk.tar|junk.tar"
	)
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086 # the options are words
		run --separate-stderr li build ${c%%|*} -o out.sqfs
		[ "$status" -eq 1 ] || { echo "case: $c"; lr_show; false; }
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "case: $c"; lr_show; false; }
		[[ $stderr =~ ${c##*|} ]] || { echo "case: $c"; lr_show; false; }
		[ ! -e out.sqfs ]
		! ls -A | grep -q labrun-image || { echo "case: $c"; ls -A; false; }
	done
}

@test "a full disk: ENOSPC named, no partial file left" {
	# A 1 MiB tmpfs in a user and mount namespace of the test's own.
	run unshare -rm sh -c "mount -t tmpfs -o size=1m none '$BATS_TEST_TMPDIR/small' 2>/dev/null ||
		{ mkdir -p '$BATS_TEST_TMPDIR/small' && mount -t tmpfs -o size=1m none '$BATS_TEST_TMPDIR/small'; } &&
		'$LABRUN_IMAGE' -c '$LR_CONF' build --from '$ROOT' --compression none -o '$BATS_TEST_TMPDIR/small/x.sqfs';
		echo status=\$?; ls -A '$BATS_TEST_TMPDIR/small'"
	[[ $output == *"No space left on device"* ]] || { lr_show; false; }
	[[ $output == *"status=1"* ]] || { lr_show; false; }
	[[ ${lines[-1]} == status=1 ]] || { lr_show; false; }
}

@test "usage errors exit 2" {
	run --separate-stderr li build
	assert_status 2
	run --separate-stderr li build --from a --from-tar b
	assert_status 2
	run --separate-stderr li build --from "$ROOT" --compression brotli
	assert_status 2
	[[ $stderr == *brotli* ]] || { lr_show; false; }
	run --separate-stderr li build --from "$ROOT" --block-size 3000
	assert_status 2
	run --separate-stderr li build --from "$ROOT" --diff
	assert_status 2
	run --separate-stderr li build --from "$ROOT" --owner-map 1:2:0
	assert_status 2
	run --separate-stderr li build --from "$ROOT" --entrypoint '["a", 1]'
	assert_status 2
	run --separate-stderr li config base.sqfs
	assert_status 2
	run --separate-stderr li flatten
	assert_status 2
	run --separate-stderr li gc --bogus
	assert_status 2
}

@test "a tree of only new files over a parent, without --diff: warned, and labrun says what is missing" {
	li build --from "$ROOT" -o base.sqfs
	mkdir -p app/app && echo hi >app/app/x
	run --separate-stderr li build --from app --parent base.sqfs -o app.sqfs
	assert_status 0
	[[ $stderr == *"warning"*"top-level entries"*"--diff"* ]] || { lr_show; false; }
	# /bin is whited out: the command is not there (not "corrupt").
	run -127 --separate-stderr lr app.sqfs /bin/true
	[[ $stderr != *corrupt* ]] || { lr_show; false; }
	run --separate-stderr li build --from app --parent base.sqfs --diff -o app2.sqfs
	assert_status 0
	assert_stderr_empty
	run --separate-stderr lr app2.sqfs /bin/cat /app/x
	assert_status 0
	[ "$output" = hi ]
}

# ---------------------------------------------------------------- hostile input (issue 12)

@test "build --from-tar: whiteouts .wh... and dir/.wh.. are refused, naming the member" {
	mkdir -p wh1/etc wh2/dir
	echo fine >wh1/etc/ok
	: >wh1/.wh...
	echo fine >wh2/dir/ok
	: >wh2/dir/.wh..
	tar -C wh1 -cf wh-dotdot.tar etc .wh...
	tar -C wh2 -cf wh-dot.tar dir
	for c in "wh-dotdot.tar|\.wh\.\.\." "wh-dot.tar|dir/\.wh\.\."; do
		run --separate-stderr li build --from-tar "${c%%|*}" -o out.sqfs
		[ "$status" -eq 1 ] || { echo "case: $c"; lr_show; false; }
		[ "${#stderr_lines[@]}" -eq 1 ] || { echo "case: $c"; lr_show; false; }
		assert_stderr_matches "${c%%|*}" "member ${c##*|}" refused
		[ ! -e out.sqfs ]
		# As a diff, and over a parent, the same.
		li build --from "$ROOT" -o base.sqfs
		run --separate-stderr li build --from-tar "${c%%|*}" --parent base.sqfs --diff -o out.sqfs
		[ "$status" -eq 1 ] || { echo "case: $c --diff"; lr_show; false; }
		assert_stderr_matches "member ${c##*|}" refused
		[ ! -e out.sqfs ]
	done
	! ls -A | grep -q labrun-image || { ls -A; false; }
}

# special_tar OUT: the hostile layer of tests/images/oci.sh's
# hostile-special.tar (hostile_tar.c): /dev/mem 1:1 0666, /dev/sda,
# bin/suid-sh 04755, bin/sgid-tool 02755, bin/cap-tool with
# cap_sys_admin+ep, a whiteout, a FIFO, a setgid directory.
special_tar() {
	local a=$IMAGES/oci/hostile-special.tar member
	[ -r "$a" ] || { echo "fixture $a missing: tests/images/oci.sh did not run"; return 1; }
	member=$(tar -xOf "$a" manifest.json | jq -r '.[0].Layers[1]')
	tar -xOf "$a" "$member" >"$1"
}

@test "build --from-tar: /dev/mem dropped, set-id bits and file capabilities stripped, one line; --keep-special keeps them" {
	special_tar special.tar
	run --separate-stderr li build --from-tar special.tar -o s.sqfs
	assert_status 0
	[ "${#stderr_lines[@]}" -eq 1 ] || { lr_show; false; }
	assert_stderr_matches '^labrun-image build: dropped 2 device nodes \(/dev/mem, \.\.\.\)' \
		'setuid/setgid bits of 2 files' 'file capabilities of 1 file \(/bin/cap-tool\)' '--keep-special'
	run sq_ls s.sqfs
	assert_output_not_contains dev/mem
	assert_output_not_contains dev/sda
	[[ $output == *"-rwxr-xr-x 0/0 bin/suid-sh"* ]] || { lr_show; false; }
	[[ $output == *"-rwxr-xr-x 0/5 bin/sgid-tool"* ]] || { lr_show; false; }
	[[ $output == *"prw------- 0/0 run/fifo"* ]] || { lr_show; false; }
	[[ $output == *"drwxrwsr-x 0/50 srv/shared"* ]] || { lr_show; false; }
	run rdsquashfs -x /bin/cap-tool s.sqfs
	assert_output_not_contains security.capability

	run --separate-stderr li build --from-tar special.tar --keep-special -o k.sqfs
	assert_status 0
	assert_stderr_empty
	run sq_ls k.sqfs
	[[ $output == *"crw-rw-rw- 0/0 1,1 dev/mem"* ]] || { lr_show; false; }
	[[ $output == *"-rwsr-xr-x 0/0 bin/suid-sh"* ]] || { lr_show; false; }
	run rdsquashfs -x /bin/cap-tool k.sqfs
	assert_output security.capability=0x0100000200002000000000000000000000000000
}

@test "flatten: an image's devices, set-id bits and capabilities are dropped unless --keep-special" {
	special_tar special.tar
	li build --from "$ROOT" -o base.sqfs
	li build --from-tar special.tar --keep-special --parent base.sqfs --diff -o top.sqfs
	run --separate-stderr li flatten -o flat.sqfs top.sqfs
	assert_status 0
	assert_stderr_matches '^labrun-image flatten: dropped 2 device nodes' 'setuid/setgid' \
		'file capabilities' '--keep-special'
	run sq_ls flat.sqfs
	assert_output_not_contains dev/mem
	[[ $output == *"-rwxr-xr-x 0/0 bin/suid-sh"* ]] || { lr_show; false; }
	run --separate-stderr li flatten --keep-special -o flat-kept.sqfs top.sqfs
	assert_status 0
	assert_stderr_empty
	run sq_ls flat-kept.sqfs
	[[ $output == *"crw-rw-rw- 0/0 1,1 dev/mem"* ]] || { lr_show; false; }
	[[ $output == *"-rwsr-xr-x 0/0 bin/suid-sh"* ]] || { lr_show; false; }
}

@test "build --from DIR: a device, set-id files and a file capability are dropped or stripped; .wh... stays a file" {
	h=$IMAGES/oci/hostile-dir
	[ -d "$h" ] || skip "needs $h, which tests/images/oci.sh makes only as root (mknod, chown, security.capability)"
	run --separate-stderr li build --from "$h" -o d.sqfs
	assert_status 0
	[ "${#stderr_lines[@]}" -eq 1 ] || { lr_show; false; }
	assert_stderr_matches '^labrun-image build: dropped 1 device node \(/dev/null-twin\)' \
		'setuid/setgid bits of 2 files' 'file capabilities of 1 file \(/bin/cap-data\)'
	run sq_ls d.sqfs
	assert_output_not_contains null-twin
	[[ $output == *"-rwxr-xr-x 0/0 bin/suid-data"* ]] || { lr_show; false; }
	[[ $output == *"-rwxr-xr-x 0/0 bin/sgid-data"* ]] || { lr_show; false; }
	# Only a tar's names are whiteouts: a file of that name is a file.
	[[ $output == *"-rw-r--r-- 0/0 .wh..."* ]] || { lr_show; false; }
	run rdsquashfs -x /bin/cap-data d.sqfs
	assert_output_not_contains security.capability
	run --separate-stderr li build --from "$h" --keep-special -o k.sqfs
	assert_status 0
	assert_stderr_empty
	run sq_ls k.sqfs
	[[ $output == *"crw-rw-rw- 0/0 1,3 dev/null-twin"* ]] || { lr_show; false; }
	[[ $output == *"-rwsr-xr-x 0/0 bin/suid-data"* ]] || { lr_show; false; }
}

@test "a killed build's temporary file beside -o goes at the next build there" {
	mkdir out
	mkfifo slow
	# A build reading a tar from a pipe that stops mid-archive: killed
	# while its temporary file is open.
	tar -C "$ROOT" -cf full.tar .
	(
		head -c 100000 full.tar
		exec sleep 60
	) >slow &
	feeder=$!
	"$LABRUN_IMAGE" -c "$LR_CONF" build --from-tar slow -o out/x.sqfs 2>/dev/null &
	pid=$!
	for ((i = 0; i < 1500; i++)); do
		tmp=$(find out -maxdepth 1 -name '.labrun-image.*' 2>/dev/null | head -1)
		[ -z "$tmp" ] || break
		sleep 0.02
	done
	kill -KILL "$pid"
	wait "$pid" || true
	kill "$feeder" 2>/dev/null || true
	wait "$feeder" || true
	[ -n "$tmp" ] && [ -e "$tmp" ] || { echo "no temporary file left to test with"; ls -lA out; false; }
	li build --from "$ROOT" -o out/y.sqfs
	[ ! -e "$tmp" ] || { echo "the next build left $tmp"; ls -lA out; false; }
	[ ! -e out/x.sqfs ]
}

# issue 12: a name an archive chose is quoted in the error, and must not
# type into the user's terminal (ESC sequences, BEL, CR).
@test "a refused member's name reaches the terminal escaped, never as control characters" {
	local d=$BATS_TEST_TMPDIR/esc
	mkdir -p "$d/d"
	touch "$d/d/x"$'\e]0;pwned\a\e[2J\r'
	tar -C "$d" -cf "$d/t.tar" --transform 's,^d/,../,' d 2>/dev/null
	run --separate-stderr li build --from-tar "$d/t.tar" -o "$d/out.sqfs"
	assert_status 1
	[[ $stderr == *'\x1b]0;pwned\x07\x1b[2J\x0d'* ]] || { lr_show; false; }
	if printf '%s' "$stderr" | LC_ALL=C grep -q $'[\x01-\x1f\x7f]'; then
		echo "control characters on stderr"
		lr_show
		false
	fi
}
