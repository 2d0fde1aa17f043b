/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_UNMAPPED_ALLOC_H
#define _LINUX_UNMAPPED_ALLOC_H

#include <linux/gfp_types.h>
#include <linux/mm_types.h>
#include <linux/numa.h>

struct mempolicy;

#ifdef CONFIG_UNMAPPED_ALLOC

bool unmapped_alloc_available(void);
struct page *unmapped_alloc_node(gfp_t gfp, unsigned int order, int nid);
void unmapped_free(struct page *page, unsigned int order);
struct folio *unmapped_folio_alloc(gfp_t gfp, unsigned int order, int nid);
struct folio *unmapped_folio_alloc_mpol(gfp_t gfp, unsigned int order,
					struct mempolicy *pol, pgoff_t ilx);
bool unmapped_alloc_active(void);
bool unmapped_take_page_off_pool(struct page *page);

void *unmapped_map_local(unsigned long pfn);
void unmapped_unmap_local(void *addr);

/* Called by the page allocator only: see __free_pages_prepare(). */
void unmapped_free_prepared(struct page *page, unsigned int order);
/* Called by unmapped_alloc_init() only. */
int unmapped_map_local_init(void);
/* Called by mm/unmapped_alloc.c only, for the pools' free pages. */
void *unmapped_map_slot(unsigned long pfn);
void *unmapped_map_block(unsigned long pfn);
void unmapped_unmap_block(void *addr);

#else /* !CONFIG_UNMAPPED_ALLOC */

static inline bool unmapped_alloc_available(void)
{
	return false;
}

static inline struct page *unmapped_alloc_node(gfp_t gfp, unsigned int order,
					       int nid)
{
	return NULL;
}

static inline void unmapped_free(struct page *page, unsigned int order)
{
}

static inline struct folio *unmapped_folio_alloc(gfp_t gfp, unsigned int order,
						 int nid)
{
	return NULL;
}

/* Without unmapped_alloc() every page is in the direct map. */
static inline void *unmapped_map_local(unsigned long pfn)
{
	return pfn_to_kaddr(pfn);
}

static inline void unmapped_unmap_local(void *addr)
{
}

static inline struct folio *unmapped_folio_alloc_mpol(gfp_t gfp,
						      unsigned int order,
						      struct mempolicy *pol,
						      pgoff_t ilx)
{
	return NULL;
}

static inline bool unmapped_alloc_active(void)
{
	return false;
}

static inline bool unmapped_take_page_off_pool(struct page *page)
{
	return false;
}

static inline void unmapped_free_prepared(struct page *page, unsigned int order)
{
}

#endif /* CONFIG_UNMAPPED_ALLOC */

/**
 * unmapped_alloc - allocate pages that are not in the kernel's direct map
 * @gfp: GFP flags; see unmapped_alloc_node()
 * @order: allocation order, at most the pool block order (PMD_ORDER)
 *
 * Return: the first page of the allocation, or %NULL.
 */
static inline struct page *unmapped_alloc(gfp_t gfp, unsigned int order)
{
	return unmapped_alloc_node(gfp, order, NUMA_NO_NODE);
}

#endif /* _LINUX_UNMAPPED_ALLOC_H */
