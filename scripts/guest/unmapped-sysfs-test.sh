#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: the operator's view of the unmapped_alloc()
# pools. Prefill and release through /sys/kernel/mm/unmapped and check that
# the knobs and the /proc/vmstat counters follow. KTAP on stdout.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KTAP_HELPERS"

sys=/sys/kernel/mm/unmapped

all_exist()
{
	local f
	for f in "$@"; do
		[ -e "$f" ] || { ktap_print_msg "$f missing"; return 1; }
	done
}

all_in_vmstat()
{
	local k
	for k in "$@"; do
		[ -n "$(vmstat "$k")" ] || { ktap_print_msg "$k missing from /proc/vmstat"; return 1; }
	done
}

blocks_are()
{
	[ "$(cat $sys/blocks)" = "$1" ]
}

grew_by()
{
	[ $(( $(vmstat "$1") - $2 )) = "$3" ]
}

prefill_refuses()
{
	! echo "$1" > "$sys/prefill" 2>/dev/null
}

# The batch size takes 0 to 1024; the control, 1024, must be taken.
batch_max_range()
{
	local saved ok=0
	saved=$(cat $sys/refill_batch_max)
	echo 1024 > $sys/refill_batch_max || ok=1
	! echo 1025 > $sys/refill_batch_max 2>/dev/null || ok=1
	[ "$(cat $sys/refill_batch_max)" = 1024 ] || ok=1
	echo "$saved" > $sys/refill_batch_max
	return $ok
}

ktap_print_header
ktap_set_plan 9
ktap_check "the knobs exist" all_exist $sys/{free_blocks_max,partial_free_max,max_blocks,refill_batch_max,blocks,prefill,release}
ktap_check "the counters exist" all_in_vmstat nr_unmapped_pool nr_unmapped_free \
	unmapped_alloc unmapped_free unmapped_refill unmapped_refill_fallback \
	unmapped_release unmapped_scrub unmapped_tlb_flush unmapped_trim
echo 1 > "$sys/release"
ktap_check "release empties the pools" blocks_are 0
refill=$(vmstat unmapped_refill) flush=$(vmstat unmapped_tlb_flush)
echo 3 > "$sys/prefill"
ktap_check "prefill 3 gives 3 blocks ($(cat $sys/blocks))" blocks_are 3
ktap_check "prefill counts 3 refills" grew_by unmapped_refill "$refill" 3
ktap_check "prefill of 3 blocks takes one TLB flush" grew_by unmapped_tlb_flush "$flush" 1
echo 1 > "$sys/release"
ktap_check "release after prefill empties the pools" blocks_are 0
ktap_check "prefill refuses garbage" prefill_refuses bogus
ktap_check "refill_batch_max takes 1024, refuses 1025" batch_max_range
ktap_finished
