/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __KVM_GUEST_MEMFD_HUGE_H__
#define __KVM_GUEST_MEMFD_HUGE_H__

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/types.h>

/* What happened to one file's huge folios, for its fdinfo. */
struct kvm_gmem_huge_stats {
	atomic_long_t folios;		/* huge folios allocated */
	atomic_long_t fallbacks;	/* 2 MiB ranges that got no whole block */
	atomic_long_t splits;		/* large folios split by a hole */
	atomic_long_t split_failures;	/* ... that could not be split */
};

#ifdef CONFIG_KVM_GMEM_HUGE_PAGES
bool kvm_gmem_huge_flags_valid(u64 flags);
struct folio *kvm_gmem_get_huge_folio(struct address_space *mapping,
				      pgoff_t index, struct mempolicy *policy,
				      u64 flags,
				      struct kvm_gmem_huge_stats *stats);
void kvm_gmem_truncate_range(struct address_space *mapping, loff_t lstart,
			     loff_t lend, struct kvm_gmem_huge_stats *stats);
void kvm_gmem_huge_show_fdinfo(struct seq_file *m,
			       struct kvm_gmem_huge_stats *stats);
#else
static inline bool kvm_gmem_huge_flags_valid(u64 flags)
{
	return !(flags & GUEST_MEMFD_FLAG_HUGE_PAGES);
}

static inline struct folio *
kvm_gmem_get_huge_folio(struct address_space *mapping, pgoff_t index,
			struct mempolicy *policy, u64 flags,
			struct kvm_gmem_huge_stats *stats)
{
	return NULL;
}

static inline void kvm_gmem_truncate_range(struct address_space *mapping,
					   loff_t lstart, loff_t lend,
					   struct kvm_gmem_huge_stats *stats)
{
	truncate_inode_pages_range(mapping, lstart, lend);
}

static inline void kvm_gmem_huge_show_fdinfo(struct seq_file *m,
					     struct kvm_gmem_huge_stats *stats)
{
}
#endif /* CONFIG_KVM_GMEM_HUGE_PAGES */

#endif /* __KVM_GUEST_MEMFD_HUGE_H__ */
