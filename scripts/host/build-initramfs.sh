#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the nested guest's initramfs: static busybox, demo/guest-init,
# which reports over the serial console and powers off, guest-fill,
# which fills guest RAM with a pattern for the host to look for, and
# guest-io, which measures disk throughput.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

out=$BUILD/nested-initramfs.cpio.gz
bb=/bin/busybox
[ -x "$bb" ] || die "no static busybox at $bb (Debian package busybox-static)"
fill=$BUILD/demo/guest-fill io=$BUILD/demo/guest-io
for f in "$fill" "$io"; do
	[ -x "$f" ] || die "no $f: build it with 'make demo'"
done
if [ -f "$out" ] && [ "$out" -nt "$TOP/demo/guest-init" ] && [ "$out" -nt "$bb" ] &&
   [ "$out" -nt "$fill" ] && [ "$out" -nt "$io" ]; then
	exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/dev" "$dir/proc" "$dir/sys"
cp "$bb" "$dir/bin/busybox"
cp "$fill" "$dir/bin/guest-fill"
cp "$io" "$dir/bin/guest-io"
ln -s busybox "$dir/bin/sh"
install -m 755 "$TOP/demo/guest-init" "$dir/init"
(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -9) > "$out.tmp"
mv "$out.tmp" "$out"
