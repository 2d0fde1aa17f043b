#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM after every other test: nothing may still hold
# an unmapped page. Drain the page cache's per-CPU batches and the pools,
# then every page unmapped_alloc() handed out must have come back, the
# pools must be empty (so every block is back in the direct map), and,
# on a kernel with kmemleak, a scan must find no new leak.
# KTAP on stdout.
# unmapped-leak-check.sh --mark: only tell kmemleak to forget what it has
# found so far (boot-time objects), before the tests run.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

sys=/sys/kernel/mm/unmapped
kmemleak=/sys/kernel/debug/kmemleak

if [ "${1:-}" = --mark ]; then
	[ -e $kmemleak ] && echo clear > $kmemleak
	exit 0
fi
. "$KTAP_HELPERS"

pools_empty()
{
	[ "$(cat $sys/blocks)" = 0 ] && [ "$(vmstat nr_unmapped_pool)" = 0 ]
}

ktap_print_header
ktap_set_plan 3
for _ in $(seq 50); do
	echo 1 > /proc/sys/vm/drop_caches
	echo 1 > $sys/release
	[ "$(cat $sys/blocks)" = 0 ] && break
	sleep 0.2
done

allocs=$(vmstat unmapped_alloc) frees=$(vmstat unmapped_free)
ktap_print_msg "pool: $(cat $sys/blocks) blocks, nr_unmapped_pool $(vmstat nr_unmapped_pool)," \
	"nr_unmapped_free $(vmstat nr_unmapped_free)"
grep '^DirectMap' /proc/meminfo | sed 's/^/# /'
ktap_check "every unmapped page came back ($allocs handed out, $frees freed)" \
	test "$allocs" = "$frees"
ktap_check "the pools are empty: every block is back in the direct map" pools_empty

if [ -e $kmemleak ]; then
	# Two scans: an object is reported only once it looks orphaned twice.
	echo scan > $kmemleak
	sleep 1
	echo scan > $kmemleak
	leaks=$(grep -c '^unreferenced object' $kmemleak)
	sed 's/^/# /' $kmemleak
	ktap_check "kmemleak: $leaks unreferenced objects since the tests began" test "$leaks" = 0
else
	ktap_test_skip "kmemleak: not in this kernel (make check-debug has it)"
fi
ktap_finished
