#!/usr/bin/env bats
# plugin.bats - labrun's Slurm plugin, spank_labrun.so (issue 6), loaded
# `required` by the cluster of scripts/slurm-local.sh: its options in srun's
# help, each bad argument refused in srun before anything runs, and a step
# that asks for a squashfs image never running on the host.
#
# Runs as root (like basic.bats); jobs run as the test user.  The plugin is
# installed for this file only; the configuration found before is restored
# after it (plugin_config_save/restore, slurm.bash).

load slurm

setup_file() {
	SKIP_REASON=$(why_skip)
	[ -n "$SKIP_REASON" ] || SKIP_REASON=$(why_no_plugin)
	export SKIP_REASON
	[ -z "$SKIP_REASON" ] || return 0
	"$SLURM_LOCAL" start
	plugin_config_save
	install_plugin
}

teardown_file() {
	[ -z "$SKIP_REASON" ] || return 0
	plugin_config_restore
}

@test "without a container the plugin changes nothing: the task runs, its status comes back" {
	run as_user srun -N1 sh -c 'id -un; exit 3'
	[ "$status" -eq 3 ] || { echo "$output"; false; }
	[[ $output == *"$TEST_USER"* ]]
}

@test "srun --help lists the container options" {
	run as_user srun --help
	local o
	for o in container-image container-mounts container-workdir container-writable \
		container-remap-root container-env container-entrypoint; do
		[[ $output == *"--$o"* ]] || { echo "--$o missing"; false; }
	done
}

# refused (slurm.bash): srun fails with a "labrun: " line, nothing ran.

@test "bad arguments: a relative --container-workdir" {
	refused --container-workdir=rel "--container-workdir 'rel': must be an absolute path"
}

@test "bad arguments: --container-mounts with a relative source or a bad mode" {
	refused --container-mounts=data:/data "the source must be an absolute path"
	refused --container-mounts=/a:/b:rx "the mode must be ro or rw"
}

@test "bad arguments: --container-env with something that is not a variable name" {
	refused --container-env=A=b "--container-env 'A=b': not a variable name"
}

@test "bad arguments: --container-writable=DIR not absolute" {
	refused --container-writable=changes "DIR must be an absolute path"
}

@test "bad arguments: a container option without an image" {
	refused --container-workdir=/x "--container-workdir needs a container image"
}

@test "bad arguments: a LABRUN_CONTAINER_* variable that is not a flag" {
	run as_user env LABRUN_CONTAINER_REMAP_ROOT=maybe srun --container-image="$WORK/none" \
		touch "$WORK/ran"
	[ "$status" -ne 0 ] || { echo "$output"; false; }
	[[ $output == *"LABRUN_CONTAINER_REMAP_ROOT='maybe': expected 1 or 0"* ]]
	[ ! -e "$WORK/ran" ]
}

@test "a missing image, and a file that is not squashfs, are refused in srun" {
	refused --container="$WORK/missing.sqfs" "container image $WORK/missing.sqfs: No such file"
	echo "not an image" >"$WORK/text"
	chmod 644 "$WORK/text"
	refused --container="$WORK/text" "container image $WORK/text: not a squashfs image"
	refused --container-image="$WORK/text" "not a squashfs image"
}

@test "fail closed: a corrupt squashfs image fails the step, which never runs on the host" {
	# The magic passes srun's look; the container's set-up finds the rest.
	head -c 4096 "$IMAGES/busybox.sqfs" >"$WORK/bad.sqfs"
	chmod 644 "$WORK/bad.sqfs"
	run as_user srun --container="$WORK/bad.sqfs" touch "$WORK/ran"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"labrun: image $WORK/bad.sqfs: truncated squashfs"* ]]
	[[ $output == *"the task was not run"* ]]
	[ ! -e "$WORK/ran" ]
}

# ------------------------------------------------ issue 12, item 16

@test "a test file leaves the plugin configuration as it found it, and slurmd runs with it" {
	# What each file does: save, load the plugin its own way, restore.
	local saved=$BATS_TEST_TMPDIR/saved before
	before=$(plugin_config_digest)
	plugin_config_save "$saved"
	install_plugin signals=slurm
	[ "$(plugin_config_digest)" != "$before" ]
	plugin_config_restore "$saved"
	[ "$(plugin_config_digest)" = "$before" ]
	# slurmd restarted with it: this file's plugin runs the step.
	cp "$IMAGES/busybox.sqfs" "$WORK/bb.sqfs"
	chmod 644 "$WORK/bb.sqfs"
	run as_user srun --quiet --container="$WORK/bb.sqfs" cat /etc/image-name
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = busybox ]
}

@test "without the plugin, a --container step is refused, never run on the host (etc/slurm/oci.conf)" {
	local saved=$BATS_TEST_TMPDIR/saved
	plugin_config_save "$saved"
	"$SLURM_LOCAL" plugin --remove
	[ ! -e "$PLUGSTACK_D/labrun.conf" ]
	cmp <(grep -v "^# written by labrun" "$OCI_CONF") "$(dirname "$SLURM_LOCAL")/../etc/slurm/oci.conf"
	cp "$IMAGES/busybox.sqfs" "$WORK/bb.sqfs"
	chmod 644 "$WORK/bb.sqfs"
	run as_user srun --quiet --container="$WORK/bb.sqfs" touch "$WORK/ran"
	echo "$output"
	local image_status=$status
	mkdir -m 755 "$WORK/bundle"
	echo '{"root":{"path":"rootfs"}}' >"$WORK/bundle/config.json"
	chmod 644 "$WORK/bundle/config.json"
	run as_user srun --quiet --container="$WORK/bundle" touch "$WORK/ran"
	echo "$output"
	local bundle_status=$status bundle_output=$output
	# A plain step is not affected.
	run as_user srun --quiet true
	local plain_status=$status
	plugin_config_restore "$saved"
	[ "$image_status" -ne 0 ]
	[ "$bundle_status" -eq 125 ]
	[[ $bundle_output == *"labrun: --container needs the labrun plugin (spank_labrun.so), which node $(hostname -s) does not load"* ]]
	[ ! -e "$WORK/ran" ]
	[ "$plain_status" -eq 0 ]
}
