// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd memory that the host kernel does not map, and memory that
 * the host does not zero.
 *
 * GUEST_MEMFD_FLAG_NO_DIRECT_MAP backs a guest_memfd with unmapped_alloc():
 * its pages are absent from the kernel's direct map from allocation until
 * their pool block is scrubbed and released, so neither a kernel bug nor a
 * speculative gadget can read guest data through it. Userspace may still
 * map the pages (MMAP); GUP refuses them, so the kernel never reaches them
 * through a user address either.
 *
 * GUEST_MEMFD_FLAG_NO_ZERO hands pages to the guest without zeroing them,
 * for VM types whose trusted firmware initialises every private page
 * before the guest can read it (kvm_arch_gmem_supports_no_zero()).
 */
#include <linux/kvm_host.h>
#include <linux/pagemap.h>
#include <linux/unmapped_alloc.h>

#include "guest_memfd_unmapped.h"

bool __weak kvm_arch_gmem_supports_no_direct_map(struct kvm *kvm)
{
	return false;
}

bool __weak kvm_arch_gmem_supports_no_zero(struct kvm *kvm)
{
	return false;
}

/* The flags of this file that @kvm (or, if NULL, some VM type) accepts. */
u64 kvm_gmem_unmapped_flags(struct kvm *kvm)
{
	u64 flags = 0;

	if (unmapped_alloc_available() &&
	    kvm_arch_gmem_supports_no_direct_map(kvm))
		flags |= GUEST_MEMFD_FLAG_NO_DIRECT_MAP;
	if (kvm_arch_gmem_supports_no_zero(kvm))
		flags |= GUEST_MEMFD_FLAG_NO_ZERO;
	return flags;
}

/*
 * Memory that userspace can map must never show it what a page held
 * before: NO_ZERO excludes MMAP and INIT_SHARED.
 */
bool kvm_gmem_flags_compatible(u64 flags)
{
	return !(flags & GUEST_MEMFD_FLAG_NO_ZERO) ||
	       !(flags & (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED));
}

/*
 * Whether guest_memfd must zero a new folio through the direct map. Pages
 * outside it come zeroed from their pool, which clears them without
 * mapping them back (unless NO_ZERO asked it not to).
 */
bool kvm_gmem_needs_zeroing(u64 flags)
{
	return !(flags & (GUEST_MEMFD_FLAG_NO_ZERO |
			  GUEST_MEMFD_FLAG_NO_DIRECT_MAP));
}

/**
 * kvm_gmem_get_unmapped_folio - find or create a guest_memfd folio that is
 *				 not in the direct map
 * @mapping: the guest_memfd's mapping
 * @index: page index in the file
 * @policy: memory policy for @index, or NULL for the task's
 * @flags: the guest_memfd's flags
 *
 * For an @index the caller found empty: like __filemap_get_folio_mpol()
 * with FGP_LOCK | FGP_CREAT, but a new folio comes from unmapped_alloc(),
 * on the node @policy picks (and only on the nodes a bind policy allows),
 * zeroed unless @flags has GUEST_MEMFD_FLAG_NO_ZERO. The page cache charges it to the
 * caller's memcg, as any guest_memfd folio, but past the memcg's limit the
 * charge fails rather than OOM-kill: the memory cannot be reclaimed, so
 * the OOM killer could only make room by killing the VMM asking for it.
 *
 * Return: the locked folio with a reference, or an ERR_PTR().
 */
struct folio *kvm_gmem_get_unmapped_folio(struct address_space *mapping,
					  pgoff_t index,
					  struct mempolicy *policy, u64 flags)
{
	gfp_t gfp = mapping_gfp_mask(mapping);
	gfp_t alloc_gfp = gfp;
	struct folio *folio;
	int err;

	if (!(flags & GUEST_MEMFD_FLAG_NO_ZERO))
		alloc_gfp |= __GFP_ZERO;

	/* The caller has looked @index up already: allocate first. */
	for (;;) {
		folio = policy ?
			unmapped_folio_alloc_mpol(alloc_gfp, 0, policy,
						  NO_INTERLEAVE_INDEX) :
			unmapped_folio_alloc(alloc_gfp, 0, NUMA_NO_NODE);
		if (!folio)
			return ERR_PTR(-ENOMEM);
		err = filemap_add_folio(mapping, folio, index,
					gfp | __GFP_RETRY_MAYFAIL);
		if (!err)
			return folio;
		folio_put(folio);
		if (err != -EEXIST)
			return ERR_PTR(err);
		/* Someone else added a folio at @index first: use theirs. */
		folio = filemap_lock_folio(mapping, index);
		if (!IS_ERR(folio))
			return folio;
	}
}
