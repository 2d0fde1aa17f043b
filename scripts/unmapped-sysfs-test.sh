#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: the operator's view of the unmapped_alloc()
# pools. Prefill and release through /sys/kernel/mm/unmapped and check that
# the knobs and the /proc/vmstat counters follow.
set -euo pipefail

sys=/sys/kernel/mm/unmapped
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
fail() { echo "not ok: $*"; exit 1; }

for f in free_blocks_max max_blocks blocks prefill release; do
	[ -e "$sys/$f" ] || fail "$sys/$f missing"
done
for k in nr_unmapped_pool nr_unmapped_free unmapped_alloc unmapped_free \
	 unmapped_refill unmapped_refill_fallback unmapped_release \
	 unmapped_scrub unmapped_tlb_flush; do
	[ -n "$(vmstat $k)" ] || fail "$k missing from /proc/vmstat"
done

echo 1 > "$sys/release"
[ "$(cat $sys/blocks)" = 0 ] || fail "blocks not 0 after release"
refill=$(vmstat unmapped_refill) flush=$(vmstat unmapped_tlb_flush)
echo 3 > "$sys/prefill"
[ "$(cat $sys/blocks)" = 3 ] || fail "prefill 3 gave $(cat $sys/blocks) blocks"
[ $(( $(vmstat unmapped_refill) - refill )) = 3 ] || fail "unmapped_refill did not grow by 3"
[ $(( $(vmstat unmapped_tlb_flush) - flush )) = 1 ] || fail "prefill of 3 blocks took more than one flush"
echo 1 > "$sys/release"
[ "$(cat $sys/blocks)" = 0 ] || fail "blocks not 0 after the second release"
if echo bogus > "$sys/prefill" 2>/dev/null; then
	fail "prefill accepted garbage"
fi
echo "ok: knobs and counters"
