#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# fetch.sh linux|linux-config|qemu: download a pinned Debian source into the cache (once)
# and verify its SHA256. Prints the path of the verified file (for qemu:
# the upstream tarball; Debian's patch tarball lies beside it).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

DL=$CACHE/downloads
mkdir -p "$DL"

# fetch_deb PACKAGE FILE SHA256: a pinned binary package from sid.
fetch_deb()
{
	local pkg=$1 f=$DL/$2 sha=$3

	if ! sha256_ok "$f" "$sha"; then
		apt_private_setup sid
		log "downloading $pkg=$LINUX_VER"
		rm -f "$f"
		(cd "$DL" && apt_private sid apt-get download -qq "$pkg=$LINUX_VER") ||
			die "the registry does not serve $pkg version $LINUX_VER any more"
		sha256_ok "$f" "$sha" || die "$pkg $LINUX_VER: SHA256 mismatch, expected $sha"
	fi
	echo "$f"
}

fetch_qemu()
{
	local f=$DL/$QEMU_TARBALL d=$DL/$QEMU_DEBIAN_TARBALL

	if ! sha256_ok "$f" "$QEMU_SHA256" || ! sha256_ok "$d" "$QEMU_DEBIAN_SHA256"; then
		apt_private_setup sid
		log "downloading source $QEMU_PKG=$QEMU_VER"
		rm -f "$f" "$d"
		(cd "$DL" && apt_private sid apt-get source --download-only -qq "$QEMU_PKG=$QEMU_VER") ||
			die "the registry does not serve source $QEMU_PKG version $QEMU_VER any more"
		sha256_ok "$f" "$QEMU_SHA256" ||
			die "$QEMU_PKG $QEMU_VER: SHA256 mismatch, expected $QEMU_SHA256"
		sha256_ok "$d" "$QEMU_DEBIAN_SHA256" ||
			die "$QEMU_PKG $QEMU_VER: SHA256 mismatch on $QEMU_DEBIAN_TARBALL"
	fi
	echo "$f"
}

case ${1:-} in
linux) fetch_deb "$LINUX_PKG" "$LINUX_DEB" "$LINUX_SHA256" ;;
linux-config) fetch_deb "$LINUX_CONFIG_PKG" "$LINUX_CONFIG_DEB" "$LINUX_CONFIG_SHA256" ;;
qemu) fetch_qemu ;;
*) die "usage: $0 linux|linux-config|qemu" ;;
esac
