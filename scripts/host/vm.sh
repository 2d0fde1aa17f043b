#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# vm.sh [-f FLAVOUR | -k IMAGE] [-t SECONDS] [-w RWDIR] [-c CONSOLE_LOG] [-- CMD...]
# Boot our FLAVOUR kernel (default test), or the kernel IMAGE with its
# modules in IMAGE/../../lib/modules (an unpacked package), under QEMU TCG
# (-cpu max emulates SVM with nested paging, so kvm_amd runs inside) through
# virtme-ng, with the host's root filesystem shared read-only. With CMD:
# run it as root, headless, under a hard timeout, and exit with its status.
# Without CMD: an interactive shell.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

flavour=test kernel= limit=1800 rwdir= console=
while getopts f:k:t:w:c: opt; do
	case $opt in
	f) flavour=$OPTARG ;;
	k) kernel=$OPTARG ;;
	t) limit=$OPTARG ;;
	w) rwdir=$OPTARG ;;
	c) console=$OPTARG ;;
	*) die "usage: $0 [-f FLAVOUR | -k IMAGE] [-t SECONDS] [-w RWDIR] [-c CONSOLE_LOG] [-- CMD...]" ;;
	esac
done
shift $((OPTIND - 1))

[ -n "$kernel" ] || kernel=$KOUT_BASE-$flavour/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $kernel: build it first (make kernel)"

args=(--run "$kernel" --disable-kvm --cpus "${VM_CPUS:-2}" --memory "${VM_MEM:-4G}"
      --qemu-opts="-cpu max" --append "${VM_APPEND:-}")
[ -n "$rwdir" ] && args+=(--rwdir "$rwdir")

if [ $# = 0 ]; then
	exec vng "${args[@]}"
fi
# --verbose puts the kernel's console on stderr: keep it, a crash that
# never reaches the guest's own dmesg dump shows up there.
args+=(--verbose --exec "$(printf '%q ' "$@")")
# virtme-ng hands QEMU our stdout as /proc/self/fd/1 for a file chardev,
# which QEMU opens with O_TRUNC: a pipe keeps what `make check > file`
# wrote before the VM booted.
if [ -n "$console" ]; then
	timeout -k 30 "$limit" vng "${args[@]}" < /dev/null 2> "$console" | cat
else
	timeout -k 30 "$limit" vng "${args[@]}" < /dev/null | cat
fi
