#!/bin/bash
# Prepare this machine for labrun's tests, as root; idempotent.
#  - the unprivileged test user labrun-test (tests run labrun as that user),
#    with a supplementary group labrun-test-extra, and a second user,
#    labrun-test2, for what one user must not reach of another's (holders);
#  - /dev/fuse usable by unprivileged users, mode 0666, as distributions
#    ship it through udev: on some machines (this project's CI among them)
#    it is created 0600, and then no user can mount a FUSE filesystem;
#  - unprivileged user namespaces and overlayfs available (reported, not
#    changed: those are the admin's call).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-test-env: run as root" >&2
	exit 1
fi

if ! id labrun-test >/dev/null 2>&1; then
	useradd --create-home --shell /bin/bash --user-group labrun-test
	echo "setup-test-env: created user labrun-test"
fi
if ! id labrun-test2 >/dev/null 2>&1; then
	useradd --create-home --shell /bin/bash --user-group labrun-test2
	echo "setup-test-env: created user labrun-test2"
fi
# A supplementary group, so that a test can make a copy of labrun setgid
# to a group the user is in (labrun must refuse to run it).
if ! id -Gn labrun-test | tr ' ' '\n' | grep -qx labrun-test-extra; then
	groupadd -f labrun-test-extra
	usermod -a -G labrun-test-extra labrun-test
fi

if [ ! -c /dev/fuse ]; then
	modprobe fuse 2>/dev/null || true
fi
if [ -c /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
	chmod 0666 /dev/fuse
	echo "setup-test-env: /dev/fuse was mode 0600 here; made it 0666 as distributions ship it"
fi

ok=1
v=$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)
if [ "$v" = 0 ]; then
	echo "setup-test-env: unprivileged user namespaces are off: sysctl kernel.unprivileged_userns_clone=1" >&2
	ok=0
fi
v=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)
if [ "$v" = 0 ]; then
	echo "setup-test-env: sysctl user.max_user_namespaces is 0: raise it" >&2
	ok=0
fi
if ! grep -qw overlay /proc/filesystems; then
	modprobe overlay 2>/dev/null || true
	grep -qw overlay /proc/filesystems || {
		echo "setup-test-env: the kernel has no overlayfs (modprobe overlay)" >&2
		ok=0
	}
fi
[ "$ok" = 1 ] && echo "setup-test-env: ready (user labrun-test, /dev/fuse 0666, user namespaces, overlayfs)"
exit 0
