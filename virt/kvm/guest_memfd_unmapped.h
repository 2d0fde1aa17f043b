/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __KVM_GUEST_MEMFD_UNMAPPED_H__
#define __KVM_GUEST_MEMFD_UNMAPPED_H__

#include <linux/fs.h>
#include <linux/mempolicy.h>
#include <linux/types.h>

bool kvm_gmem_flags_compatible(u64 flags);
bool kvm_gmem_needs_zeroing(u64 flags);
struct folio *kvm_gmem_get_unmapped_folio(struct address_space *mapping,
					  pgoff_t index,
					  struct mempolicy *policy, u64 flags);

#endif /* __KVM_GUEST_MEMFD_UNMAPPED_H__ */
