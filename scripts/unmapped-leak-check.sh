#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM after every other test: nothing may still hold
# an unmapped page. Drain the page cache's per-CPU batches and the pools,
# then every page unmapped_alloc() handed out must have come back, the
# pools must be empty (so every block is back in the direct map), and,
# on a kernel with kmemleak, a scan must find no new leak.
# unmapped-leak-check.sh --mark: only tell kmemleak to forget what it has
# found so far (boot-time objects), before the tests run.
set -uo pipefail

sys=/sys/kernel/mm/unmapped
kmemleak=/sys/kernel/debug/kmemleak
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }

if [ "${1:-}" = --mark ]; then
	[ -e $kmemleak ] && echo clear > $kmemleak
	exit 0
fi

rc=0
for _ in $(seq 50); do
	echo 1 > /proc/sys/vm/drop_caches
	echo 1 > $sys/release
	[ "$(cat $sys/blocks)" = 0 ] && break
	sleep 0.2
done

allocs=$(vmstat unmapped_alloc) frees=$(vmstat unmapped_free)
echo "pages handed out: $allocs, freed: $frees, still held: $(( allocs - frees ))"
echo "pool: $(cat $sys/blocks) blocks, nr_unmapped_pool $(vmstat nr_unmapped_pool)," \
	"nr_unmapped_free $(vmstat nr_unmapped_free)"
grep '^DirectMap' /proc/meminfo
if [ "$allocs" != "$frees" ]; then
	echo "not ok: $(( allocs - frees )) unmapped pages never came back"
	rc=1
fi
if [ "$(cat $sys/blocks)" != 0 ] || [ "$(vmstat nr_unmapped_pool)" != 0 ]; then
	echo "not ok: the pools still hold blocks outside the direct map"
	rc=1
fi

if [ -e $kmemleak ]; then
	# Two scans: an object is reported only once it looks orphaned twice.
	echo scan > $kmemleak
	sleep 1
	echo scan > $kmemleak
	leaks=$(grep -c '^unreferenced object' $kmemleak)
	echo "kmemleak: $leaks unreferenced objects since the tests began"
	if [ "$leaks" != 0 ]; then
		cat $kmemleak
		rc=1
	fi
else
	echo "no kmemleak in this kernel (make check-debug has it)"
fi
[ $rc = 0 ] && echo "ok: no unmapped page or block leaked"
exit $rc
