// SPDX-License-Identifier: GPL-2.0-only
/*
 * Huge folios for guest_memfd files outside the direct map.
 *
 * unmapped_alloc() takes memory out of the direct map in 2 MiB blocks. A
 * file created with GUEST_MEMFD_FLAG_NO_DIRECT_MAP | GUEST_MEMFD_FLAG_HUGE_PAGES
 * takes such a block whole, as one folio, for every 2 MiB-aligned range of
 * the file that lies wholly inside it, and KVM maps the folio with one
 * 2 MiB entry wherever the memslot and the memory attributes allow. Where
 * no whole block is to be had, or part of the range is populated already,
 * the range gets 4 KiB folios instead.
 *
 * A hole punched into part of a huge folio splits it: the pages in the hole
 * are freed, every piece stays out of the direct map (the split carries
 * PG_unmapped along) and keeps its memcg charge.
 */
#include <linux/delay.h>
#include <linux/error-injection.h>
#include <linux/kvm_host.h>
#include <linux/pagemap.h>
#include <linux/folio_batch.h>
#include <linux/unmapped_alloc.h>
#include <linux/vmstat.h>

#include "guest_memfd_huge.h"

#define KVM_GMEM_HUGE_ORDER	PMD_ORDER
#define KVM_GMEM_HUGE_PAGES	BIT(KVM_GMEM_HUGE_ORDER)

/* How often a punch tries to split a huge folio that someone holds. */
#define KVM_GMEM_SPLIT_TRIES	10

/* The huge-folio flag, offered wherever NO_DIRECT_MAP is. */
u64 kvm_gmem_huge_flags(struct kvm *kvm)
{
	if (!(kvm_gmem_unmapped_flags(kvm) & GUEST_MEMFD_FLAG_NO_DIRECT_MAP))
		return 0;
	return GUEST_MEMFD_FLAG_HUGE_PAGES;
}

/* Huge folios come from the unmapped_alloc() pools only. */
bool kvm_gmem_huge_flags_valid(u64 flags)
{
	return !(flags & GUEST_MEMFD_FLAG_HUGE_PAGES) ||
	       (flags & GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
}

/**
 * kvm_gmem_get_huge_folio - add a huge folio for an empty index of a file
 * @mapping: the guest_memfd's mapping
 * @index: an index the caller found empty
 * @policy: memory policy for @index, or NULL for the task's
 * @flags: the guest_memfd's flags, with GUEST_MEMFD_FLAG_HUGE_PAGES
 * @stats: the file's huge-folio counters
 *
 * Allocates a whole pool block, zeroed unless @flags has
 * GUEST_MEMFD_FLAG_NO_ZERO, for the 2 MiB-aligned range around @index, if
 * the file covers that range and nothing in it is populated yet.
 *
 * Return: the locked folio that now holds @index (someone else's, if they
 * were faster), with a reference; NULL where the caller should add a small
 * folio; or an ERR_PTR().
 */
struct folio *kvm_gmem_get_huge_folio(struct address_space *mapping,
				      pgoff_t index, struct mempolicy *policy,
				      u64 flags,
				      struct kvm_gmem_huge_stats *stats)
{
	pgoff_t start = ALIGN_DOWN(index, KVM_GMEM_HUGE_PAGES);
	gfp_t gfp = mapping_gfp_mask(mapping);
	struct folio *folio;
	gfp_t alloc_gfp;
	int err;

	/* The tail of a file too short for a whole block takes small folios. */
	if (start + KVM_GMEM_HUGE_PAGES > i_size_read(mapping->host) >> PAGE_SHIFT)
		return NULL;
	/*
	 * So does a range populated in part, since an earlier fallback or a
	 * split (counted then): do not allocate and zero a block in vain.
	 */
	if (filemap_range_has_page(mapping, (loff_t)start << PAGE_SHIFT,
				   ((loff_t)(start + KVM_GMEM_HUGE_PAGES) << PAGE_SHIFT) - 1))
		return NULL;

	/* A huge folio is not worth a long stall in reclaim or compaction. */
	alloc_gfp = gfp | __GFP_NORETRY | __GFP_NOWARN;
	if (!(flags & GUEST_MEMFD_FLAG_NO_ZERO))
		alloc_gfp |= __GFP_ZERO;
	folio = policy ?
		unmapped_folio_alloc_mpol(alloc_gfp, KVM_GMEM_HUGE_ORDER, policy,
					  NO_INTERLEAVE_INDEX) :
		unmapped_folio_alloc(alloc_gfp, KVM_GMEM_HUGE_ORDER, NUMA_NO_NODE);
	if (!folio)
		goto fallback;
	err = filemap_add_folio(mapping, folio, start, gfp | __GFP_RETRY_MAYFAIL);
	if (!err) {
		atomic_long_inc(&stats->folios);
		count_vm_event(UNMAPPED_GMEM_HUGE);
		return folio;
	}
	folio_put(folio);
	if (err != -EEXIST)
		goto fallback;
	/* Someone populated part of the range meanwhile: use their folio. */
	folio = filemap_lock_folio(mapping, index);
	return IS_ERR(folio) ? NULL : folio;

fallback:
	atomic_long_inc(&stats->fallbacks);
	count_vm_event(UNMAPPED_GMEM_HUGE_FALLBACK);
	return NULL;
}

/*
 * Whether @folio is large (a huge folio or a piece of one split earlier)
 * and [@start, @end) covers only part of it.
 */
static bool kvm_gmem_cuts_huge(struct folio *folio, pgoff_t start, pgoff_t end)
{
	return folio_test_large(folio) &&
	       (folio->index < start || folio_next_index(folio) > end);
}

/* The large folios that the range [@start, @end) cuts: one at either end. */
static unsigned int kvm_gmem_huge_cut(struct address_space *mapping,
				      pgoff_t start, pgoff_t end)
{
	pgoff_t first_end = start;
	unsigned int nr = 0;
	struct folio *folio;

	folio = filemap_get_folio(mapping, start);
	if (!IS_ERR(folio)) {
		nr += kvm_gmem_cuts_huge(folio, start, end);
		first_end = folio_next_index(folio);
		folio_put(folio);
	}
	if (end - 1 < first_end)
		return nr;
	folio = filemap_get_folio(mapping, end - 1);
	if (!IS_ERR(folio)) {
		nr += kvm_gmem_cuts_huge(folio, start, end);
		folio_put(folio);
	}
	return nr;
}

/*
 * Zero the pages of [@start, @end) that are still in the file, through a
 * mapping of their own: they are not in the direct map.
 */
static void kvm_gmem_zero_range(struct address_space *mapping, pgoff_t start,
				pgoff_t end)
{
	struct folio_batch fbatch;
	pgoff_t next = start, i;
	unsigned int j;
	void *addr;

	folio_batch_init(&fbatch);
	while (filemap_get_folios(mapping, &next, end - 1, &fbatch)) {
		for (j = 0; j < folio_batch_count(&fbatch); j++) {
			struct folio *folio = fbatch.folios[j];
			pgoff_t last = min(folio_next_index(folio), end);

			folio_lock(folio);
			for (i = max(folio->index, start); i < last; i++) {
				addr = unmapped_map_local(folio_pfn(folio) +
							  i - folio->index);
				clear_page(addr);
				unmapped_unmap_local(addr);
			}
			folio_unlock(folio);
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

/*
 * Free the pages of [@lstart, @lend] once; -EBUSY if some are left, as when
 * a split fails because someone holds the folio. Tests inject that failure
 * (fail_function): nothing else makes a split fail on demand.
 */
static noinline int kvm_gmem_truncate_once(struct address_space *mapping,
					   loff_t lstart, loff_t lend)
{
	truncate_inode_pages_range(mapping, lstart, lend);
	return filemap_range_has_page(mapping, lstart, lend) ? -EBUSY : 0;
}
ALLOW_ERROR_INJECTION(kvm_gmem_truncate_once, ERRNO);

/**
 * kvm_gmem_truncate_range - free the pages of part of a guest_memfd file
 * @mapping: the guest_memfd's mapping, with its invalidate lock held
 * @lstart: offset of the first byte to free
 * @lend: offset of the last byte to free
 * @stats: the file's huge-folio counters
 *
 * truncate_inode_pages_range() splits a huge folio that the range cuts into
 * and frees the pages in the range; as the mapping is inaccessible, it does
 * not zero them through the direct map first. A split fails while anybody
 * else holds a reference to the folio, as a vCPU does for a moment while
 * it faults a page in (it then retries: the caller has invalidated KVM's
 * mappings of the range), so try again a few times. If that does not help,
 * zero the pages left in the range, so that it reads as zeroes as a hole
 * must, and count the failure: those pages stay allocated.
 */
void kvm_gmem_truncate_range(struct address_space *mapping, loff_t lstart,
			     loff_t lend, struct kvm_gmem_huge_stats *stats)
{
	pgoff_t start = lstart >> PAGE_SHIFT, end = (lend >> PAGE_SHIFT) + 1;
	unsigned int cut, uncut, try;

	cut = kvm_gmem_huge_cut(mapping, start, end);
	for (try = 0; kvm_gmem_truncate_once(mapping, lstart, lend); try++) {
		if (try == KVM_GMEM_SPLIT_TRIES) {
			kvm_gmem_zero_range(mapping, start, end);
			break;
		}
		usleep_range(100, 200);
	}
	if (!cut)
		return;
	uncut = min(kvm_gmem_huge_cut(mapping, start, end), cut);
	atomic_long_add(cut - uncut, &stats->splits);
	count_vm_events(UNMAPPED_GMEM_HUGE_SPLIT, cut - uncut);
	atomic_long_add(uncut, &stats->split_failures);
}

void kvm_gmem_huge_show_fdinfo(struct seq_file *m,
			       struct kvm_gmem_huge_stats *stats)
{
	seq_printf(m, "gmem-huge-folios:\t%ld\n",
		   atomic_long_read(&stats->folios));
	seq_printf(m, "gmem-huge-fallbacks:\t%ld\n",
		   atomic_long_read(&stats->fallbacks));
	seq_printf(m, "gmem-huge-splits:\t%ld\n",
		   atomic_long_read(&stats->splits));
	seq_printf(m, "gmem-huge-split-failures:\t%ld\n",
		   atomic_long_read(&stats->split_failures));
}
