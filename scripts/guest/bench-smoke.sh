#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench-smoke.sh: the benchmark's smallest run (64 MiB, one repetition,
# every path) in the test VM, so that `make bench` cannot rot, plus the
# exact counters that do not depend on speed:
#   - every path runs and takes time;
#   - NO_DIRECT_MAP paths fill the pool from the page allocator (cold) or
#     not at all (prefilled), with at most one TLB flush per 2 MiB and no
#     2 MiB -> 4 KiB direct-map split;
#   - upstream guest_memfd never touches the pool;
#   - memfd_secret, the control, does split the direct map.
# Counters cover populating only, not teardown.
# KTAP on stdout.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KTAP_HELPERS"

bench=$BUILD/selftests-test/guest_memfd_bench
mib=64 blocks=32
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT

all=(memset gmem-mmap ndm-mmap secretmem-mmap gmem-kvm ndm-kvm ndm-warm-kvm nozero-kvm
     gmem-kvm-2 ndm-kvm-2)
cold=(ndm-mmap ndm-kvm nozero-kvm ndm-kvm-2)
unmapped=(ndm-mmap ndm-kvm ndm-warm-kvm nozero-kvm ndm-kvm-2)
upstream=(gmem-mmap gmem-kvm gmem-kvm-2)

ktap_print_header
"$bench" -s $mib -r 1 -o "$csv" > /dev/null || ktap_exit_fail_msg "guest_memfd_bench failed"
sed 's/^/# /' "$csv"
ktap_set_plan $(( ${#all[@]} + ${#cold[@]} + 1 + 2 * ${#unmapped[@]} + 1 + ${#upstream[@]} ))

# field NAME PATH: that counter of that path's row.
field()
{
	awk -F, -v col="$1" -v path="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
		$1 == path { print $idx[col] }' "$csv"
}

for path in "${all[@]}"; do
	t=$(field populate_s "$path")
	ktap_check "$path: ran (${t:-no row} s)" awk -v t="${t:-0}" 'BEGIN { exit !(t > 0) }'
done
for path in "${cold[@]}"; do
	refill=$(field unmapped_refill "$path")
	ktap_check "$path: a cold pool refills ($refill blocks, want >= $blocks)" \
		test "${refill:-0}" -ge $blocks
done
refill=$(field unmapped_refill ndm-warm-kvm)
ktap_check "ndm-warm-kvm: a prefilled pool needs no refill ($refill)" test "$refill" = 0
for path in "${unmapped[@]}"; do
	flush=$(field unmapped_tlb_flush "$path")
	split=$(field direct_map_level2_splits "$path")
	ktap_check "$path: $flush pool TLB flushes for $blocks blocks" test "${flush:-999}" -le $blocks
	ktap_check "$path: $split direct-map 2M splits" test "$split" = 0
done
# The control: memfd_secret unmaps page by page, which must show up in the
# same counters (unless the whole direct map is 4 KiB already).
split=$(field direct_map_level2_splits secretmem-mmap)
ktap_check "secretmem-mmap: $split direct-map 2M splits (the control)" test "${split:-0}" -gt 0
for path in "${upstream[@]}"; do
	refill=$(field unmapped_refill "$path")
	ktap_check "$path: upstream guest_memfd leaves the pool alone ($refill)" test "$refill" = 0
done
ktap_finished
