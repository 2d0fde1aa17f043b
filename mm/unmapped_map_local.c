// SPDX-License-Identifier: GPL-2.0
/*
 * Brief kernel access to pages that are not in the direct map.
 *
 * A few host paths must touch a guest page whatever its mapping: SEV-SNP
 * and TDX flush its cache lines before the firmware takes or returns it,
 * TDX resets it with MOVDIR64B, SNP copies launch data into it. Some of
 * them run under spinlocks, so vmap() will not do. Each CPU owns one page
 * of kernel address space whose page table entry is set up at boot; a page
 * from unmapped_alloc() is mapped there for the length of a non-sleeping
 * access and unmapped again, and only this CPU's TLB needs flushing
 * because only this CPU ever uses that address (as kmap_local() on
 * highmem systems).
 */

#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/unmapped_alloc.h>
#include <linux/vmalloc.h>
#include <asm/tlbflush.h>

struct map_slot {
	unsigned long addr;
	pte_t *ptep;
};

static DEFINE_PER_CPU(struct map_slot, map_slot);

static int record_pte(pte_t *ptep, unsigned long addr, void *data)
{
	*(pte_t **)data = ptep;
	return 0;
}

/* Set up every possible CPU's slot; unmapped_alloc_init() calls this. */
int __init unmapped_map_local_init(void)
{
	struct vm_struct *area;
	unsigned int cpu;

	area = get_vm_area(nr_cpu_ids * PAGE_SIZE, VM_MAP);
	if (!area)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct map_slot *slot = per_cpu_ptr(&map_slot, cpu);
		unsigned long addr = (unsigned long)area->addr + cpu * PAGE_SIZE;
		int err;

		err = apply_to_page_range(&init_mm, addr, PAGE_SIZE,
					  record_pte, &slot->ptep);
		if (err)
			return err;
		slot->addr = addr;
	}
	return 0;
}

static void flush_slot(unsigned long addr)
{
#ifdef CONFIG_X86
	flush_tlb_one_kernel(addr);
#else
	flush_tlb_kernel_range(addr, addr + PAGE_SIZE);
#endif
}

/**
 * unmapped_map_local - map a page, in or out of the direct map, briefly
 * @pfn: the page frame, which must have a struct page
 *
 * A page in the direct map is reached through it; a page from
 * unmapped_alloc() is mapped at this CPU's slot. Either way preemption is
 * disabled until unmapped_unmap_local(), so the caller must not sleep in
 * between, nor map a second page. Not for interrupt context.
 *
 * Return: a kernel address of the page.
 */
void *unmapped_map_local(unsigned long pfn)
{
	struct map_slot *slot;

	preempt_disable();
	if (!PageUnmapped(pfn_to_page(pfn)))
		return pfn_to_kaddr(pfn);

	VM_WARN_ON_ONCE(!in_task());
	slot = this_cpu_ptr(&map_slot);
	VM_WARN_ON_ONCE(!pte_none(ptep_get(slot->ptep)));
	set_pte_at(&init_mm, slot->addr, slot->ptep, pfn_pte(pfn, PAGE_KERNEL));
	return (void *)slot->addr;
}
EXPORT_SYMBOL_GPL(unmapped_map_local);

/**
 * unmapped_unmap_local - end an access started by unmapped_map_local()
 * @addr: the address unmapped_map_local() returned
 *
 * A slot mapping is removed and flushed from this CPU's TLB before
 * preemption is enabled again.
 */
void unmapped_unmap_local(void *addr)
{
	struct map_slot *slot = this_cpu_ptr(&map_slot);

	if ((unsigned long)addr == slot->addr) {
		pte_clear(&init_mm, slot->addr, slot->ptep);
		flush_slot(slot->addr);
	}
	preempt_enable();
}
EXPORT_SYMBOL_GPL(unmapped_unmap_local);
