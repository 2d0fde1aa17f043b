// SPDX-License-Identifier: GPL-2.0
/*
 * Brief kernel access to pages that are not in the direct map.
 *
 * A few host paths must touch a guest page whatever its mapping: SEV-SNP
 * and TDX flush its cache lines before the firmware takes or returns it,
 * TDX resets it with MOVDIR64B, SNP copies launch data into it. Some of
 * them run under spinlocks, so vmap() will not do. Each CPU owns a few
 * pages of kernel address space whose page table entries are set up at
 * boot, used as a stack, as kmap_local() uses its slots: an interrupt that
 * needs a page while the task it interrupted holds one takes the next
 * slot. A page from unmapped_alloc() is mapped at a slot for the length
 * of a non-sleeping access and unmapped again.
 *
 * Only the owning CPU dereferences a slot, and it flushes its own TLB
 * entry before the slot is reused. The entry is not global (on x86): a
 * translation another CPU might have cached by speculation belongs to the
 * address space that CPU was running and goes with that address space's
 * next flush, instead of serving every address space until a global one.
 *
 * Each CPU also owns a PMD-sized window where the pools map a whole block
 * to zero it: one TLB entry, so one flush for the block instead of one per
 * page. Only a block whose every page the pool holds: a large mapping
 * would otherwise alias pages that others hold (on SEV-SNP, a write
 * through a large mapping that covers a guest-private page faults).
 */

#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/unmapped_alloc.h>
#include <linux/vmalloc.h>
#include <asm/tlbflush.h>

/* Task, softirq, hardirq and NMI may each hold one mapping. */
#define MAP_LOCAL_SLOTS	4

struct map_slots {
	unsigned long base;		/* address of slot 0 */
	pte_t *ptep[MAP_LOCAL_SLOTS];
	unsigned int depth;		/* slots in use */
};

static DEFINE_PER_CPU(struct map_slots, map_slots);

struct map_window {
	unsigned long addr;		/* PMD-aligned */
	pmd_t *pmdp;
};

static DEFINE_PER_CPU(struct map_window, map_window);
static bool map_windows_ready __ro_after_init;

static int record_pte(pte_t *ptep, unsigned long addr, void *data)
{
	pte_t ***next = data;

	*(*next)++ = ptep;
	return 0;
}

static pgprot_t slot_prot(void)
{
#ifdef CONFIG_X86
	return __pgprot(pgprot_val(PAGE_KERNEL) & ~_PAGE_GLOBAL);
#else
	return PAGE_KERNEL;
#endif
}

/*
 * Only where the architecture can map kernel memory with PMD leaves; else
 * (or if this fails) the pools zero through the slots, page by page.
 */
static void __init unmapped_map_window_init(void)
{
	struct vm_struct *area;
	unsigned long base;
	unsigned int cpu;

	if (!IS_ENABLED(CONFIG_HAVE_ARCH_HUGE_VMAP) ||
	    !arch_vmap_pmd_supported(slot_prot()))
		return;
	/* One PMD more than needed, to align the windows. */
	area = get_vm_area((nr_cpu_ids + 1) * PMD_SIZE, VM_MAP);
	if (!area)
		return;
	base = ALIGN((unsigned long)area->addr, PMD_SIZE);
	for_each_possible_cpu(cpu) {
		struct map_window *w = per_cpu_ptr(&map_window, cpu);
		unsigned long addr = base + cpu * PMD_SIZE;
		p4d_t *p4d;
		pud_t *pud;

		p4d = p4d_alloc(&init_mm, pgd_offset_k(addr), addr);
		pud = p4d ? pud_alloc(&init_mm, p4d, addr) : NULL;
		w->pmdp = pud ? pmd_alloc(&init_mm, pud, addr) : NULL;
		if (!w->pmdp)
			return;
		/* An earlier vmalloc() there may have left a page table. */
		if (pmd_present(*w->pmdp) && !pmd_free_pte_page(w->pmdp, addr))
			return;
		w->addr = addr;
	}
	map_windows_ready = true;
}

/* Set up every possible CPU's slots; unmapped_alloc_init() calls this. */
int __init unmapped_map_local_init(void)
{
	const unsigned long size = MAP_LOCAL_SLOTS * PAGE_SIZE;
	struct vm_struct *area;
	unsigned int cpu;

	area = get_vm_area(nr_cpu_ids * size, VM_MAP);
	if (!area)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct map_slots *slots = per_cpu_ptr(&map_slots, cpu);
		pte_t **next = slots->ptep;
		int err;

		slots->base = (unsigned long)area->addr + cpu * size;
		err = apply_to_page_range(&init_mm, slots->base, size,
					  record_pte, &next);
		if (err)
			return err;
	}
	unmapped_map_window_init();
	return 0;
}

/* Flush the TLB entry, of any size, for @addr: this CPU's alone on x86. */
static void flush_slot(unsigned long addr, unsigned long size)
{
#ifdef CONFIG_X86
	flush_tlb_one_kernel(addr);
#else
	flush_tlb_kernel_range(addr, addr + size);
#endif
}

/*
 * Map @pfn at this CPU's next free slot, with preemption disabled until
 * unmapped_unmap_local(). For pages outside the direct map that are not
 * PageUnmapped(): the pools' own free pages.
 */
void *unmapped_map_slot(unsigned long pfn)
{
	struct map_slots *slots;
	unsigned int idx;

	preempt_disable();
	slots = this_cpu_ptr(&map_slots);
	idx = this_cpu_inc_return(map_slots.depth) - 1;
	/* Only a caller that never unmaps can exhaust the slots. */
	BUG_ON(idx >= MAP_LOCAL_SLOTS);
	/* An interrupt arriving now takes the slot above this one. */
	barrier();
	set_pte_at(&init_mm, slots->base + idx * PAGE_SIZE, slots->ptep[idx],
		   pfn_pte(pfn, slot_prot()));
	return (void *)(slots->base + idx * PAGE_SIZE);
}

/**
 * unmapped_map_local - map a page, in or out of the direct map, briefly
 * @pfn: the page frame, which must have a struct page
 *
 * A page in the direct map is reached through it; a page from
 * unmapped_alloc() is mapped at the next free slot of this CPU. Either
 * way preemption is disabled until unmapped_unmap_local(), so the caller
 * must not sleep in between. Usable in any context, interrupts and NMIs
 * included; nested mappings must be unmapped in reverse order.
 *
 * Return: a kernel address of the page.
 */
void *unmapped_map_local(unsigned long pfn)
{
	if (PageUnmapped(pfn_to_page(pfn)))
		return unmapped_map_slot(pfn);
	preempt_disable();
	return pfn_to_kaddr(pfn);
}
EXPORT_SYMBOL_GPL(unmapped_map_local);

/**
 * unmapped_unmap_local - end an access started by unmapped_map_local()
 * @addr: the address unmapped_map_local() returned
 *
 * A slot mapping is removed and flushed from this CPU's TLB before the
 * slot can be used again and preemption is enabled.
 */
void unmapped_unmap_local(void *addr)
{
	struct map_slots *slots = this_cpu_ptr(&map_slots);
	unsigned long slot = (unsigned long)addr;
	unsigned int idx;

	if (slot >= slots->base &&
	    slot < slots->base + MAP_LOCAL_SLOTS * PAGE_SIZE) {
		idx = (slot - slots->base) / PAGE_SIZE;
		VM_WARN_ON_ONCE(idx != this_cpu_read(map_slots.depth) - 1);
		pte_clear(&init_mm, slot, slots->ptep[idx]);
		flush_slot(slot, PAGE_SIZE);
		barrier();
		this_cpu_dec(map_slots.depth);
	}
	preempt_enable();
}
EXPORT_SYMBOL_GPL(unmapped_unmap_local);

/*
 * Map the PMD-sized, PMD-aligned block at @pfn at this CPU's window, with
 * preemption disabled until unmapped_unmap_block(). For pool blocks whose
 * every page the caller holds, from task context: interrupts never zero
 * pool pages, so the window is never needed twice at once. Returns NULL
 * where there are no windows.
 */
void *unmapped_map_block(unsigned long pfn)
{
	struct map_window *w;

	if (!map_windows_ready)
		return NULL;
	preempt_disable();
	w = this_cpu_ptr(&map_window);
	VM_WARN_ON_ONCE(!in_task() || pmd_present(*w->pmdp) ||
			!IS_ALIGNED(pfn, PTRS_PER_PMD));
	if (!pmd_set_huge(w->pmdp, PFN_PHYS(pfn), slot_prot())) {
		preempt_enable();
		return NULL;
	}
	return (void *)w->addr;
}

/* End a mapping made by unmapped_map_block(): one flush for the block. */
void unmapped_unmap_block(void *addr)
{
	struct map_window *w = this_cpu_ptr(&map_window);

	VM_WARN_ON_ONCE((unsigned long)addr != w->addr);
	pmd_clear(w->pmdp);
	flush_slot(w->addr, PMD_SIZE);
	preempt_enable();
}
