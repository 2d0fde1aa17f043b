// SPDX-License-Identifier: GPL-2.0-only
/*
 * Maps of guest pages that the kernel cannot map.
 *
 * kvm_vcpu_map() pins a guest page with GUP and reaches it through the
 * kernel's direct map. guest_memfd memory outside the direct map refuses
 * GUP, so nested SVM (vmcb12), VMLOAD/VMSAVE and SMM could not reach the
 * structures a guest hands to its virtual CPU. Those callers use the page
 * briefly and only through map->hva: a copy made through the userspace
 * mapping of guest memory serves them without any kernel alias of the
 * guest's page.
 */
#include <linux/kvm_host.h>
#include <linux/slab.h>

/*
 * A copy holds the page as the caller sees it and, after it, the page as
 * it was read, so that only what the caller changed is written back.
 */
#define MAP_COPY_SIZE	(2 * PAGE_SIZE)

/**
 * kvm_vcpu_map_or_copy - map a guest page, or a copy of it
 * @vcpu: the vCPU whose memory the page is
 * @gfn: the guest page
 * @map: filled in for kvm_vcpu_unmap()
 * @writable: whether the caller writes to the page
 *
 * Like __kvm_vcpu_map(), for callers that reach the page only through
 * @map->hva and unmap it before the vCPU runs again. Where the page cannot
 * be mapped, such as guest_memfd memory outside the direct map,
 * @map->hva points to a copy read through the userspace mapping of guest
 * memory, and @map->pfn is an error pfn; kvm_vcpu_unmap() writes back the
 * same way what the caller changed, and wipes and frees the copy.
 *
 * Return: 0, or the error of __kvm_vcpu_map() if the page cannot be read
 * that way either.
 */
int kvm_vcpu_map_or_copy(struct kvm_vcpu *vcpu, gfn_t gfn,
			 struct kvm_host_map *map, bool writable)
{
	int r = __kvm_vcpu_map(vcpu, gfn, map, writable);
	void *copy;

	if (!r)
		return 0;
	copy = kmalloc(MAP_COPY_SIZE, GFP_KERNEL_ACCOUNT);
	if (!copy)
		return r;
	if (kvm_vcpu_read_guest_page(vcpu, gfn, copy, 0, PAGE_SIZE)) {
		kfree_sensitive(copy);
		return r;
	}
	memcpy(copy + PAGE_SIZE, copy, PAGE_SIZE);
	map->hva = copy;
	map->pfn = KVM_PFN_ERR_FAULT;
	map->copy = true;
	return 0;
}
EXPORT_SYMBOL_FOR_KVM_INTERNAL(kvm_vcpu_map_or_copy);

/*
 * Write back the runs of words the caller changed, leaving alone what the
 * guest may have written meanwhile elsewhere in the page.
 */
void kvm_vcpu_unmap_copy(struct kvm_vcpu *vcpu, struct kvm_host_map *map)
{
	const u64 *now = map->hva, *was = map->hva + PAGE_SIZE;
	const unsigned int words = PAGE_SIZE / sizeof(u64);
	unsigned int i = 0, start;

	while (map->writable && i < words) {
		if (now[i] == was[i]) {
			i++;
			continue;
		}
		for (start = i; i < words && now[i] != was[i]; i++)
			;
		/* Fails only if the memslot went away, as a map would have. */
		kvm_vcpu_write_guest_page(vcpu, map->gfn, now + start,
					  start * sizeof(u64),
					  (i - start) * sizeof(u64));
	}
	kfree_sensitive(map->hva);
	map->hva = NULL;
	map->copy = false;
}
