#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the nested guest's initramfs: static busybox and demo/guest-init,
# which reports over the serial console and powers off.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$BUILD/nested-initramfs.cpio.gz
bb=/bin/busybox
[ -x "$bb" ] || die "no static busybox at $bb (Debian package busybox-static)"
if [ -f "$out" ] && [ "$out" -nt "$TOP/demo/guest-init" ] && [ "$out" -nt "$bb" ]; then
	exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/dev" "$dir/proc" "$dir/sys"
cp "$bb" "$dir/bin/busybox"
ln -s busybox "$dir/bin/sh"
install -m 755 "$TOP/demo/guest-init" "$dir/init"
(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -9) > "$out.tmp"
mv "$out.tmp" "$out"
