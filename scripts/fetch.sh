#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# fetch.sh linux|linux-config|qemu: download a pinned Debian source into the cache (once)
# and verify its SHA256. Prints the path of the verified file (for qemu:
# the upstream tarball; Debian's patch tarball lies beside it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DL=$CACHE/downloads
mkdir -p "$DL"

fetch_linux()
{
	local f=$DL/$LINUX_DEB

	if ! sha256_ok "$f" "$LINUX_SHA256"; then
		apt_private_setup sid
		log "downloading $LINUX_PKG=$LINUX_VER"
		rm -f "$f"
		(cd "$DL" && apt_private sid apt-get download -qq "$LINUX_PKG=$LINUX_VER") ||
			die "the registry does not serve $LINUX_PKG version $LINUX_VER any more"
		sha256_ok "$f" "$LINUX_SHA256" ||
			die "$LINUX_PKG $LINUX_VER: SHA256 mismatch, expected $LINUX_SHA256"
	fi
	echo "$f"
}

fetch_linux_config()
{
	local f=$DL/$LINUX_CONFIG_DEB

	if ! sha256_ok "$f" "$LINUX_CONFIG_SHA256"; then
		apt_private_setup sid
		log "downloading $LINUX_CONFIG_PKG=$LINUX_VER"
		rm -f "$f"
		(cd "$DL" && apt_private sid apt-get download -qq "$LINUX_CONFIG_PKG=$LINUX_VER") ||
			die "the registry does not serve $LINUX_CONFIG_PKG version $LINUX_VER any more"
		sha256_ok "$f" "$LINUX_CONFIG_SHA256" ||
			die "$LINUX_CONFIG_PKG $LINUX_VER: SHA256 mismatch, expected $LINUX_CONFIG_SHA256"
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
linux) fetch_linux ;;
linux-config) fetch_linux_config ;;
qemu) fetch_qemu ;;
*) die "usage: $0 linux|linux-config|qemu" ;;
esac
