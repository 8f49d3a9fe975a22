#!/bin/bash
# Install, from Debian's packages only, everything labrun needs to build,
# test and benchmark.  Run as root; idempotent (quick when all is there).
set -euo pipefail

PACKAGES=(
	# build
	build-essential autoconf automake libtool pkg-config
	libfuse3-dev libsquashfuse-dev libjansson-dev libssl-dev
	libsquashfs-dev libarchive-dev libhwloc-dev libcgroup-dev
	# the decompressors' headers: labrun loads them when a layer needs
	# one (lib/lazy.h); binutils finds their sonames (configure)
	zlib1g-dev liblzma-dev liblzo2-dev liblz4-dev libzstd-dev binutils
	# run: FUSE kernel interface tools, squashfs tools for images
	fuse3 squashfs-tools squashfs-tools-ng
	# quotas: cgrulesengd and cgclassify, libcgroup's PAM module
	cgroup-tools libpam-cgroup
	# tests
	libcmocka-dev bats busybox-static attr util-linux procps psmisc
	bsdextrautils tmux coreutils libcap2-bin
	# tests in a VM (tests/vm/: cgroup v2, disk quotas): QEMU without KVM
	qemu-system-x86 quota xz-utils
	# tests: OCI and Docker archive fixtures (tests/images/oci.sh)
	tar gzip zstd jq
	# the example image stack (images/, stack.bats, the demo)
	mmdebstrap uidmap make
	# a single-node Slurm for tests/slurm/ and the demo (scripts/slurm-local.sh), the
	# plugin's headers
	slurmctld slurmd slurm-client munge libslurm-dev
	# Slurm's accounting for the lab budgets (labrun-policy sync, usage) and the
	# multi-node cluster in network namespaces (slurm-local.sh --nodes)
	slurmdbd mariadb-server iproute2
	# benchmarks and peers
	hyperfine charliecloud-runtime bubblewrap time
	# fuzzing (scripts/fuzz.sh, tests/fuzz/smoke.sh): afl++ and clang for its
	# compiler wrapper and for the libFuzzer builds
	afl++ clang
)

missing=()
for p in "${PACKAGES[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
