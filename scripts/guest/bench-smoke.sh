#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench-smoke.sh: the benchmark's smallest run (64 MiB, one repetition,
# every path) in the test VM, so that `make bench` cannot rot, plus the
# exact counters that do not depend on speed:
#   - every path runs and takes time;
#   - NO_DIRECT_MAP paths fill the pool from the page allocator (cold) or
#     not at all (prefilled), with no 2 MiB -> 4 KiB direct-map split; a
#     cold pool refills in batches, at most one TLB flush per 4 blocks
#     (the control, refill_batch_max=1: one per block);
#   - huge folios: KVM maps the memory 2 MiB at a time (the control,
#     upstream guest_memfd, 4 KiB at a time);
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

all=(memset gmem-mmap ndm-mmap secretmem-mmap gmem-kvm ndm-kvm ndm-kvm-unbatched ndm-warm-kvm nozero-kvm
     gmem-kvm-2 ndm-kvm-2 huge-mmap huge-warm-mmap huge-kvm huge-warm-kvm huge-nozero-kvm)
cold=(ndm-mmap ndm-kvm nozero-kvm ndm-kvm-2 huge-mmap huge-kvm huge-nozero-kvm)
warm=(ndm-warm-kvm huge-warm-mmap huge-warm-kvm)
unmapped=("${cold[@]}" "${warm[@]}")
upstream=(gmem-mmap gmem-kvm gmem-kvm-2)
huge_kvm=(huge-kvm huge-warm-kvm huge-nozero-kvm)

ktap_print_header
"$bench" -s $mib -r 1 -o "$csv" > /dev/null || ktap_exit_fail_msg "guest_memfd_bench failed"
sed 's/^/# /' "$csv"
ktap_set_plan $(( ${#all[@]} + 2 * ${#cold[@]} + ${#warm[@]} + ${#unmapped[@]} + 1 +
		   ${#upstream[@]} + ${#huge_kvm[@]} + 2 ))

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
	flush=$(field unmapped_tlb_flush "$path")
	ktap_check "$path: a cold pool refills ($refill blocks, want >= $blocks)" \
		test "${refill:-0}" -ge $blocks
	ktap_check "$path: $flush pool TLB flushes for $blocks blocks (want <= $((blocks / 4)))" \
		test "${flush:-999}" -le $((blocks / 4))
done
flush=$(field unmapped_tlb_flush ndm-kvm-unbatched)
ktap_check "ndm-kvm-unbatched: $flush pool TLB flushes for $blocks blocks (the control: one each)" \
	test "${flush:-0}" -ge $blocks
for path in "${warm[@]}"; do
	refill=$(field unmapped_refill "$path")
	ktap_check "$path: a prefilled pool needs no refill ($refill)" test "$refill" = 0
done
for path in "${unmapped[@]}"; do
	split=$(field direct_map_level2_splits "$path")
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
for path in "${huge_kvm[@]}"; do
	maps="$(field kvm_pages_4k "$path") x 4K, $(field kvm_pages_2m "$path") x 2M"
	ktap_check "$path: KVM maps $blocks x 2M ($maps)" \
		test "$maps" = "0 x 4K, $blocks x 2M"
done
# The control: upstream guest_memfd's order-0 folios are mapped 4 KiB each.
maps="$(field kvm_pages_4k gmem-kvm) x 4K, $(field kvm_pages_2m gmem-kvm) x 2M"
ktap_check "gmem-kvm: KVM maps $((mib * 256)) x 4K ($maps)" test "$maps" = "$((mib * 256)) x 4K, 0 x 2M"
ktap_finished
