#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: boot a nested guest (our test kernel and the
# busybox initramfs) with our QEMU on KVM, and check it came up and shut
# down cleanly. Extra arguments go to QEMU.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

qemu=$QOUT/qemu-system-x86_64
kernel=$KOUT_BASE-test/arch/x86/boot/bzImage
initrd=$BUILD/nested-initramfs.cpio.gz
for f in "$qemu" "$kernel" "$initrd"; do
	[ -e "$f" ] || die "missing $f"
done
[ -w /dev/kvm ] || die "no /dev/kvm in the test VM"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
"$qemu" -accel kvm -cpu host -smp 1 -m 256M -nodefaults -nographic \
	-L /usr/share/seabios -L /usr/share/qemu \
	-serial "file:$log" -no-reboot \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 quiet" "$@" < /dev/null || rc=$?
cat "$log"
[ $rc = 0 ] || die "QEMU exited with $rc"
grep -q '^nested-guest: done' "$log" || die "the nested guest did not finish"
