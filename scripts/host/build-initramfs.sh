#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the nested guest's initramfs: static busybox, demo/guest-init,
# which reports over the serial console and powers off, and guest-fill,
# which fills guest RAM with a pattern for the host to look for.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

out=$BUILD/nested-initramfs.cpio.gz
bb=/bin/busybox
[ -x "$bb" ] || die "no static busybox at $bb (Debian package busybox-static)"
fill=$BUILD/demo/guest-fill
[ -x "$fill" ] || die "no $fill: build it with 'make demo'"
if [ -f "$out" ] && [ "$out" -nt "$TOP/demo/guest-init" ] && [ "$out" -nt "$bb" ] &&
   [ "$out" -nt "$fill" ]; then
	exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/dev" "$dir/proc" "$dir/sys"
cp "$bb" "$dir/bin/busybox"
cp "$fill" "$dir/bin/guest-fill"
ln -s busybox "$dir/bin/sh"
install -m 755 "$TOP/demo/guest-init" "$dir/init"
(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -9) > "$out.tmp"
mv "$out.tmp" "$out"
