#!/bin/bash
# images/debian-tar.sh - the Debian trees of the example images, as
# tarballs made by mmdebstrap (images/Makefile calls it; doc/images.md).
#
#   debian-tar.sh mirrors                   print the Debian and security
#                                           mirrors of this machine's apt sources
#   debian-tar.sh recipe base|runtime       print everything the tarball is made
#                                           from; the Makefile keeps it in
#                                           CACHE/NAME.recipe and remakes the
#                                           tarball only when it changes
#   debian-tar.sh build base OUT.tar
#   debian-tar.sh build runtime OUT.tar BASE.tar
#
# base is Debian SUITE, variant minbase.  runtime is base.tar with
# RUNTIME_PACKAGES installed by apt inside it: it is made from base.tar,
# not bootstrapped afresh, so every file of the base is the same in both
# trees (same package versions, same dates) and the runtime layer built
# with `labrun-image build --parent` holds only what apt added or changed,
# even when the archive has moved since base.tar was made.
#
# Privilege: as root, mmdebstrap's root mode (chroot, mounts /proc and
# /sys in the temporary tree).  As another user, unshare mode: a user
# namespace mapped through newuidmap/newgidmap (package uidmap) onto the
# user's subordinate ids in /etc/subuid and /etc/subgid.  Both give the
# same bytes (mmdebstrap(1), MODES).  MODE= overrides the choice.
#
# Reproducible: SOURCE_DATE_EPOCH clamps every mtime, mmdebstrap removes
# logs and caches that vary, /etc/resolv.conf and /etc/hostname (copied
# from the host by mmdebstrap; labrun puts the host's in at start anyway)
# are removed, and /dev is emptied (no device nodes: labrun mounts its own
# /dev, and a tree without them unpacks as any user).  The same recipe on
# the same archive state gives the same bytes; the archive itself moves
# (point releases, security updates) unless MIRROR is a snapshot.
#
# Environment (set by images/Makefile): SUITE VARIANT ARCH MIRROR
# SECURITY_MIRROR COMPONENTS RUNTIME_PACKAGES SOURCE_DATE_EPOCH SNAPSHOT
# MODE, V (1: mmdebstrap --verbose).
set -euo pipefail

prog=debian-tar.sh
die() { echo "$prog: $*" >&2; exit 1; }

# ---------------------------------------------------------------- mirrors
# apt's sources as "URI SUITE..." lines, one per source entry: one-line
# .list files and deb822 .sources files (only the names apt itself reads;
# a stanza with "Enabled: no" or without Types "deb" is skipped).
apt_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [opts] URI SUITE COMPONENT...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
		function flush() {
			if (deb && enabled && uris != "")
				for (i = 1; i <= nu; i++) print u[i], suites
			deb = 0; enabled = 1; uris = ""; suites = ""
		}
		BEGIN { enabled = 1 }
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		tolower($1) == "types:"   { deb = ($0 ~ /[ \t]deb([ \t]|$)/) }
		tolower($1) == "enabled:" { enabled = (tolower($2) != "no") }
		tolower($1) == "uris:"    { uris = $0; sub(/^[^:]*:[ \t]*/, "", uris); nu = split(uris, u) }
		tolower($1) == "suites:"  { suites = $0; sub(/^[^:]*:[ \t]*/, "", suites) }
		END { flush() }' "$f"
	done
}

# mirrors: "MIRROR SECURITY_MIRROR" from apt's sources: the first source
# serving a *-security suite is the security mirror; the first other one
# whose URI names debian is the Debian mirror.  Debian's own addresses
# when none is found.
mirrors() {
	local uri suites main='' security=''
	while read -r uri suites; do
		case " $suites " in
		*-security\ *) [ -n "$security" ] || security=$uri ;;
		*) case $uri in *debian*) [ -n "$main" ] || main=$uri ;; esac ;;
		esac
	done < <(apt_sources)
	echo "${main:-http://deb.debian.org/debian} ${security:-http://deb.debian.org/debian-security}"
}

# ---------------------------------------------------------------- recipe
need_env() {
	local v
	for v in "$@"; do
		[ -n "${!v:-}" ] || die "$v is not set (run through images/Makefile: make -C images)"
	done
}

# The apt sources of the tree, one-line format: SUITE and SUITE-updates
# from MIRROR, SUITE-security from SECURITY_MIRROR ("none": without it).
sources() {
	echo "deb $MIRROR $SUITE $COMPONENTS"
	echo "deb $MIRROR $SUITE-updates $COMPONENTS"
	[ "$SECURITY_MIRROR" = none ] || echo "deb $SECURITY_MIRROR $SUITE-security $COMPONENTS"
}

# recipe NAME: everything the tarball's bytes depend on, apart from the
# archive's state (and, for runtime, base.tar, a make prerequisite).
recipe() {
	need_env SUITE VARIANT ARCH MIRROR SECURITY_MIRROR COMPONENTS SOURCE_DATE_EPOCH
	echo "# $1.tar: remade when this changes (images/debian-tar.sh)"
	echo "script $(sha256sum "$0" | cut -d' ' -f1)"
	echo "mmdebstrap $(mmdebstrap --version 2>/dev/null | awk '{ print $2 }')"
	echo "suite $SUITE"
	echo "arch $ARCH"
	echo "source-date-epoch $SOURCE_DATE_EPOCH"
	sources | sed 's/^/source /'
	[ -z "${SNAPSHOT:-}" ] || echo "snapshot $SNAPSHOT"
	case $1 in
	base) echo "variant $VARIANT" ;;
	runtime)
		need_env RUNTIME_PACKAGES
		echo "packages $RUNTIME_PACKAGES"
		;;
	esac
}

# ---------------------------------------------------------------- build
# pick_mode: root as root, else unshare, after checking what it needs.
pick_mode() {
	if [ -n "${MODE:-}" ]; then
		echo "$MODE"
		return
	fi
	if [ "$(id -u)" = 0 ]; then
		echo root
		return
	fi
	local user
	user=$(id -un)
	if ! command -v newuidmap >/dev/null || ! command -v newgidmap >/dev/null; then
		die "as a user other than root, mmdebstrap needs newuidmap and newgidmap" \
		    "(Debian: apt-get install uidmap), or run as root"
	fi
	if ! grep -q "^$user:" /etc/subuid 2>/dev/null || ! grep -q "^$user:" /etc/subgid 2>/dev/null; then
		die "$user has no subordinate ids in /etc/subuid and /etc/subgid, which" \
		    "mmdebstrap's unshare mode needs; as root: usermod --add-subuids" \
		    "100000-165535 --add-subgids 100000-165535 $user (ids no one else" \
		    "uses), or run as root"
	fi
	echo unshare
}

# package_list TAR: "package version" for every installed package of the
# tree in TAR, from its dpkg status.
package_list() {
	tar -xOf "$1" ./var/lib/dpkg/status |
		awk '/^Package:/ { p = $2 } /^Version:/ { v = $2 }
		     /^Status:/ { s = ($4 == "installed") }
		     /^$/ { if (s && p != "") print p, v; p = ""; s = 0 }
		     END { if (s && p != "") print p, v }' | LC_ALL=C sort
}

build() {
	local name=$1 out=$2 base=${3:-}
	need_env SUITE VARIANT ARCH MIRROR SECURITY_MIRROR COMPONENTS SOURCE_DATE_EPOCH
	command -v mmdebstrap >/dev/null || die "mmdebstrap not found (Debian: apt-get install mmdebstrap)"
	command -v mmtarfilter >/dev/null || die "mmtarfilter not found (Debian: apt-get install mmdebstrap)"

	local mode quiet='>/dev/null'
	mode=$(pick_mode)
	[ "${V:-0}" = 0 ] || quiet=
	local -a args=(
		--mode="$mode" --format=tar --architectures="$ARCH"
	)
	[ "${V:-0}" = 0 ] || args+=(--verbose)
	# snapshot.debian.org's Release files are past their Valid-Until.
	[ -z "${SNAPSHOT:-}" ] || args+=(--aptopt='Acquire::Check-Valid-Until "false"')
	case $name in
	base)
		args+=(--variant="$VARIANT")
		;;
	runtime)
		[ -f "$base" ] || die "runtime needs base.tar: $base not found"
		# Start from base.tar (the example in mmdebstrap(1), "build on
		# top of the already present minimal chroot"): mmdebstrap sets up
		# /dev, the sources and apt's lists; apt inside the tree installs
		# the packages as it would in a running container.  --variant=custom
		# installs nothing of its own.  Recommends stay out, as in base.
		# PYTHONDONTWRITEBYTECODE: only py3compile writes .pyc files, and
		# with SOURCE_DATE_EPOCH set it writes hash-checked ones.  Without
		# it, Python's imports while py3compile itself runs may write
		# timestamp-checked .pyc files of /usr/share/python3/debpython first,
		# which py3compile then keeps: in unshare mode they did, in root mode
		# not, so the two modes' tarballs differed in those five files.
		args+=(--variant=custom
			--setup-hook="tar-in $(realpath "$base") /"
			--customize-hook="chroot \"\$1\" env PYTHONDONTWRITEBYTECODE=1 apt-get install --yes --no-install-recommends -q $RUNTIME_PACKAGES $quiet")
		;;
	*) die "unknown tree '$name' (base or runtime)" ;;
	esac
	# Last, after apt has used them: mmdebstrap copied this host's
	# resolv.conf and hostname in; labrun copies the host's resolv.conf and
	# hosts in at start (lib/run/container.c).
	# shellcheck disable=SC2016 # $1 is for mmdebstrap's shell: the tree
	args+=(--customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"')

	local -a srcs
	mapfile -t srcs < <(sources)
	local tmp=$out.tmp
	rm -f "$tmp"
	echo "$prog: mmdebstrap $name ($mode mode, $SUITE, $MIRROR) -> $out" >&2
	local start=$SECONDS
	# /dev/* out of the stream (mmdebstrap writes device nodes there); the
	# /dev directory itself stays, as a mount point.
	# When mmdebstrap fails, mmtarfilter's complaint about an empty stream
	# would only hide mmdebstrap's own message.
	local -a rc
	set +e
	SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH mmdebstrap "${args[@]}" "$SUITE" - "${srcs[@]}" |
		mmtarfilter --path-exclude='/dev/*' >"$tmp" 2>"$tmp.err"
	rc=("${PIPESTATUS[@]}")
	set -e
	if [ "${rc[0]}" != 0 ]; then
		rm -f "$tmp" "$tmp.err"
		die "mmdebstrap $name failed (see above; V=1 shows apt's and dpkg's output)"
	fi
	if [ "${rc[1]}" != 0 ]; then
		cat "$tmp.err" >&2
		rm -f "$tmp" "$tmp.err"
		die "mmtarfilter failed on mmdebstrap's output for $name"
	fi
	rm -f "$tmp.err"
	package_list "$tmp" >"${out%.tar}.packages"
	chmod a+r "$tmp" "${out%.tar}.packages"
	mv -f "$tmp" "$out"
	echo "$prog: $out: $(du -m "$out" | cut -f1) MiB, $(wc -l <"${out%.tar}.packages") packages, $((SECONDS - start)) s" >&2

	if [ "$name" = runtime ]; then
		# apt upgrades a base package only when a new one needs a newer
		# version: then the runtime layer carries that package's files too.
		local moved
		moved=$(LC_ALL=C join <(package_list "$base") "${out%.tar}.packages" |
			awk '$2 != $3 { print $1 " " $2 " -> " $3 }')
		if [ -n "$moved" ]; then
			echo "$prog: warning: apt upgraded base packages in runtime.tar (the archive" \
			     "moved since base.tar was made); the python layer carries them too." \
			     "make refresh remakes both:" >&2
			printf '  %s\n' "${moved//$'\n'/$'\n'  }" >&2
		fi
	fi
}

[ $# -ge 1 ] || die "usage: $prog mirrors | recipe base|runtime | build base|runtime OUT.tar [BASE.tar]"
case $1 in
mirrors) mirrors ;;
recipe)
	[ $# -eq 2 ] || die "usage: $prog recipe base|runtime"
	recipe "$2"
	;;
build)
	[ $# -ge 3 ] || die "usage: $prog build base|runtime OUT.tar [BASE.tar]"
	build "$2" "$3" "${4:-}"
	;;
*) die "unknown command '$1'" ;;
esac
