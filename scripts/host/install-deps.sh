#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the build and the test VM need, only those
# that are missing. bookworm has most; meson (QEMU 10.2 needs >= 1.5) and
# the outer qemu-system-x86 come from bookworm-backports, with pycotap
# (QEMU's configure wants it and the +ds tarball ships no wheels); virtme-ng 1.41
# comes from sid but depends only on bookworm packages.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

BOOKWORM_PKGS="build-essential bc bison flex libelf-dev libssl-dev cpio
	busybox-static ccache git xz-utils pkg-config rsync kmod
	libglib2.0-dev libpixman-1-dev libfdt-dev ninja-build python3
	python3-venv udev seabios ipxe-qemu liburing-dev e2fsprogs
	libaio-dev libnuma-dev libseccomp-dev libcap-ng-dev libslirp-dev"
# qemu-utils: qemu-img, for the disk and snapshot tests.
BACKPORTS_PKGS="meson python3-pycotap qemu-system-x86 qemu-utils"
VNG_VER=1.41

# Installed from backports, not bookworm: check the version too.
backports_ok()
{
	[ -z "$(missing python3-pycotap qemu-utils)" ] &&
		dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson 2>/dev/null || echo 0)" ge 1.5 &&
		dpkg --compare-versions "$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || echo 0)" ge 1:10.0
}

vng_ok()
{
	command -v vng >/dev/null &&
		dpkg --compare-versions "$(dpkg-query -W -f='${Version}' virtme-ng 2>/dev/null || echo 0)" ge $VNG_VER
}

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
install_missing $BOOKWORM_PKGS

if ! backports_ok; then
	apt_private_setup backports
	log "installing from bookworm-backports: $BACKPORTS_PKGS"
	# shellcheck disable=SC2086
	as_root bash -c "$(declare -f apt_private apt_dir); CACHE='$CACHE';
		apt_private backports apt-get install -y -qq --no-install-recommends \
		-t bookworm-backports $BACKPORTS_PKGS >/dev/null"
fi

if ! vng_ok; then
	apt_private_setup sid
	apt_private_setup backports
	dir=$(apt_dir sid)/debs
	mkdir -p "$dir"
	ver=$(apt_private sid apt-cache policy virtme-ng 2>/dev/null |
	      awk '/Candidate:/ { print $2 }')
	case $ver in
	$VNG_VER*) ;;
	*) die "sid no longer serves virtme-ng $VNG_VER (candidate: ${ver:-none})" ;;
	esac
	(cd "$dir" && apt_private sid apt-get download "virtme-ng=$ver") ||
		die "cannot download virtme-ng=$ver from sid"
	log "installing virtme-ng $ver (dependencies from bookworm)"
	as_root bash -c "$(declare -f apt_private apt_dir); CACHE='$CACHE';
		apt_private backports apt-get install -y -qq --no-install-recommends \
		$dir/virtme-ng_*.deb >/dev/null"
fi
