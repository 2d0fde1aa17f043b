#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM for `make run`: what KVM offers for guest_memfd,
# then a nested guest whose RAM is guest_memfd outside the host's direct
# map, with a report of what the host can and cannot see of it.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

echo "=== KVM and guest_memfd on this kernel ($(uname -r))"
"$BUILD/demo/gmem_caps" || exit 1
echo
echo "=== A guest on memory-backend-guest-memfd,no-direct-map=on (256 MiB)"
echo "    it fills 160 MiB with a pattern; the host then looks for it"
"$TOP/scripts/guest/qemu-gmem-test.sh" on
rc=$?
echo
echo "=== unmapped_alloc() pools after the guest exited"
grep -E '^(nr_unmapped|unmapped_|direct_map_level)' /proc/vmstat
grep DirectMap /proc/meminfo
exit $rc
