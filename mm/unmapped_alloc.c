// SPDX-License-Identifier: GPL-2.0
/*
 * Pages that are not in the kernel's direct map.
 *
 * Taking a page out of the direct map costs a TLB flush and, unless a whole
 * PMD-sized range changes at once, splits the direct map's large mapping
 * into 4 KiB ones for good. So pages are not unmapped one by one: per-node
 * pools take PMD-sized blocks from the page allocator, unmap each block
 * whole (one PMD entry flips, nothing splits), flush the TLB once per
 * refill, and hand out pages from the blocks. Refills in a row grow into
 * batches of many blocks that share one flush. A freed page goes back to its
 * block, still unmapped, whichever path frees it (the page allocator calls
 * unmapped_free_prepared()). A block whose pages are all free can go back
 * to the page allocator once the pages users wrote to are scrubbed and the
 * block is in the direct map again.
 *
 * Locking: each node's pool has a spinlock, taken with interrupts off
 * because the final put of a folio may happen in any context. Nothing
 * sleeps under it: refill, scrub and release work outside it on blocks
 * they have taken off the pool's lists.
 */

#define pr_fmt(fmt) "unmapped_alloc: " fmt

#include <linux/cpuset.h>
#include <linux/kobject.h>
#include <linux/maple_tree.h>
#include <linux/memory.h>
#include <linux/memcontrol.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/page_owner.h>
#include <linux/page_table_check.h>
#include <linux/sched/mm.h>
#include <linux/set_memory.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/sysfs.h>
#include <linux/unmapped_alloc.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>
#include <asm/tlbflush.h>

#include "internal.h"

/* A block is what one direct-map PMD entry maps. */
#define BLOCK_ORDER	PMD_ORDER
#define BLOCK_PAGES	BIT(BLOCK_ORDER)
static_assert(BLOCK_ORDER <= MAX_PAGE_ORDER);

/* GFP bits a pool cannot honour: its pages are unmovable, in any zone. */
#define UNMAPPED_GFP_REFUSED	(__GFP_DMA | __GFP_DMA32 | __GFP_MOVABLE)

struct unmapped_block {
	struct list_head list;		/* on its pool's partial or free list */
	struct rcu_head rcu;		/* blocks_by_pfn is read under RCU */
	unsigned long pfn;		/* first page */
	unsigned int order;		/* BLOCK_ORDER, smaller for a fallback */
	unsigned int nr_free;
	unsigned int nr_zeroed;
	unsigned int nr_poisoned;
	unsigned int nr_returned;
	int nid;
	bool leaving;			/* taken off the pool to be released */
	DECLARE_BITMAP(used, BLOCK_PAGES);	/* handed out, scrubbed or poisoned */
	DECLARE_BITMAP(zeroed, BLOCK_PAGES);	/* free and known to be zero */
	DECLARE_BITMAP(dirty, BLOCK_PAGES);	/* free, may hold a user's data */
	DECLARE_BITMAP(poisoned, BLOCK_PAGES);	/* out of service for good */
	DECLARE_BITMAP(returned, BLOCK_PAGES);	/* given back while others were used */
};

/*
 * Partly used blocks, by how many pages they have free: list i holds the
 * blocks with 2^i to 2^(i+1) - 1 free pages. Allocations take from the
 * fullest blocks first (best fit), so that the free pages of a partly
 * used block find a user before new blocks are taken, and trimming starts
 * from the emptiest ones.
 */
#define PARTIAL_LISTS	BLOCK_ORDER

struct unmapped_pool {
	spinlock_t lock;		/* the lists, and their blocks' counts and maps */
	struct list_head partial[PARTIAL_LISTS]; /* blocks with free and used pages */
	struct list_head free;		/* blocks with every page free */
	unsigned long nr_blocks;
	unsigned long nr_free_blocks;
	unsigned long nr_partial_free;	/* free pages in partly used blocks */
	unsigned long last_take;	/* jiffies of the last allocation */
	unsigned int refill_batch;	/* blocks the next refill in a row takes */
};

/*
 * A stream of allocations, such as a VM populating its memory, refills its
 * pool again and again. Each refill in a row takes REFILL_GROWTH times the
 * blocks of the one before, up to refill_batch_max, all unmapped under one
 * TLB flush: a few flushes per GiB instead of 512. A stream ends when its
 * pool has handed out nothing for REFILL_IDLE; the blocks it left unused
 * then go back like any free block beyond free_blocks_max.
 */
#define REFILL_GROWTH		4
#define REFILL_IDLE		HZ
/* Most blocks refill_batch_max may ask for at once: 2 GiB of 2 MiB blocks. */
#define REFILL_BATCH_LIMIT	1024UL

static void unmapped_release_excess_blocks(struct work_struct *work);
static void unmapped_release_after_stream(struct work_struct *work);

/* The allocator's state, for all nodes. */
static struct unmapped_state {
	struct unmapped_pool *pools[MAX_NUMNODES];	/* per node, set at boot */
	/* Which block a page belongs to, for frees: pfn range -> block. */
	struct maple_tree blocks_by_pfn;
	/* Blocks in the pools or being created (unmapped_block_reserve()). */
	atomic_long_t nr_blocks_total;
	/* Operator knobs, see Documentation/admin-guide/mm/unmapped_alloc.rst. */
	unsigned long free_blocks_max;	/* per node, kept after frees */
	unsigned long partial_free_max;	/* per node, pages; then trim */
	unsigned long max_blocks;	/* all nodes; 0: no limit */
	unsigned long refill_batch_max;	/* blocks; 0 and 1: one per refill */
	/* Releases and trims what the pools hold beyond the knobs. */
	struct work_struct release_work;
	/* Runs release_work again once the streams have stopped. */
	struct delayed_work stream_end_work;
} unmapped_state = {
	.blocks_by_pfn = MTREE_INIT(unmapped_state.blocks_by_pfn,
				    MT_FLAGS_USE_RCU),
	.free_blocks_max = 8,
	.partial_free_max = 4096,
	.refill_batch_max = 128,
	.release_work = __WORK_INITIALIZER(unmapped_state.release_work,
					   unmapped_release_excess_blocks),
	.stream_end_work = __DELAYED_WORK_INITIALIZER(unmapped_state.stream_end_work,
						      unmapped_release_after_stream, 0),
};

/*
 * Set at boot once the pools are ready. Not in unmapped_state:
 * __ro_after_init makes a whole object read-only after boot, and the
 * knobs, the block count and the work item there are written at any time.
 */
static bool pools_ready __ro_after_init;

static unsigned int unmapped_block_pages(const struct unmapped_block *b)
{
	return 1U << b->order;
}

static struct page *unmapped_block_page(const struct unmapped_block *b,
					unsigned int i)
{
	return pfn_to_page(b->pfn + i);
}

/* No page is in use: the block can be released. */
static bool unmapped_block_all_free(const struct unmapped_block *b)
{
	return b->nr_free + b->nr_poisoned + b->nr_returned ==
	       unmapped_block_pages(b);
}

/* Take @b off its pool's lists before changing its free pages... */
static void unmapped_pool_unlink(struct unmapped_pool *pool,
				 struct unmapped_block *b)
{
	lockdep_assert_held(&pool->lock);
	if (list_empty(&b->list))
		return;
	if (unmapped_block_all_free(b))
		pool->nr_free_blocks--;
	else
		pool->nr_partial_free -= b->nr_free;
	list_del_init(&b->list);
}

/* ...and put it back on the list that matches them afterwards. */
static void unmapped_pool_link(struct unmapped_pool *pool,
			       struct unmapped_block *b)
{
	lockdep_assert_held(&pool->lock);
	if (unmapped_block_all_free(b)) {
		list_add(&b->list, &pool->free);
		pool->nr_free_blocks++;
	} else if (b->nr_free) {
		list_add(&b->list, &pool->partial[ilog2(b->nr_free)]);
		pool->nr_partial_free += b->nr_free;
	}
}

/*
 * Take the free pages of @b in [@start, @start + @nr) that memory failure
 * has marked poisoned out of service: they are never handed out, scrubbed
 * or mapped again. The caller owns @b or holds its pool's lock, with @b
 * off the pool's lists. Returns how many pages it took.
 */
static unsigned int unmapped_block_retire_hwpoison(struct unmapped_block *b,
						   unsigned int start,
						   unsigned int nr)
{
	unsigned int i, n = 0;

	if (!IS_ENABLED(CONFIG_MEMORY_FAILURE))
		return 0;
	for (i = start; i < start + nr; i++) {
		if (test_bit(i, b->used) ||
		    !PageHWPoison(unmapped_block_page(b, i)))
			continue;
		if (test_bit(i, b->zeroed))
			b->nr_zeroed--;
		__clear_bit(i, b->zeroed);
		__clear_bit(i, b->dirty);
		__set_bit(i, b->used);
		__set_bit(i, b->poisoned);
		b->nr_free--;
		b->nr_poisoned++;
		n++;
	}
	if (n) {
		mod_node_page_state(NODE_DATA(b->nid), NR_UNMAPPED_FREE, -(long)n);
		count_vm_events(UNMAPPED_HWPOISON, n);
	}
	return n;
}

static bool unmapped_range_all_set(const unsigned long *map, unsigned int start,
				   unsigned int nr)
{
	return find_next_zero_bit(map, start + nr, start) >= start + nr;
}

/*
 * The first naturally aligned run of 2^@order free pages in @b, or -1.
 * With @want_zero, only a run of pages known to be zero.
 */
static int unmapped_block_find(struct unmapped_block *b, unsigned int order,
			       bool want_zero)
{
	unsigned int n = unmapped_block_pages(b), nr = 1U << order, i;

	if (b->nr_free < nr || (want_zero && b->nr_zeroed < nr))
		return -1;
	if (!want_zero) {
		i = bitmap_find_next_zero_area(b->used, n, 0, nr, nr - 1);
		return i < n ? i : -1;
	}
	if (!order) {
		i = find_first_bit(b->zeroed, n);
		return i < n ? i : -1;
	}
	for (i = 0; i < n; i += nr)
		if (unmapped_range_all_set(b->zeroed, i, nr))
			return i;
	return -1;
}

/*
 * Free pool pages are marked offline, as balloon drivers mark pages they
 * hold: dump tools (makedumpfile) leave them out of a vmcore, so another
 * guest's stale data never lands in one, and /proc/kcore reads them as
 * zeroes.
 */
static void unmapped_pages_set_offline(struct page *page, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		/* A freed folio's metadata may overlay a tail's type. */
		page[i].page_type = UINT_MAX;
		__SetPageOffline(page + i);
	}
}

static void unmapped_pages_clear_offline(struct page *page, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		__ClearPageOffline(page + i);
}

/* Mark pages [@start, @start + @nr) of @b used. */
static void unmapped_block_take(struct unmapped_block *b, unsigned int start,
				unsigned int nr)
{
	unmapped_pages_clear_offline(unmapped_block_page(b, start), nr);
	b->nr_zeroed -= bitmap_weight_from(b->zeroed, start, start + nr);
	b->nr_free -= nr;
	bitmap_set(b->used, start, nr);
	bitmap_clear(b->zeroed, start, nr);
	bitmap_clear(b->dirty, start, nr);
}

/* @pool's lists in the order allocations try them: fullest blocks first. */
static struct list_head *unmapped_pool_list(struct unmapped_pool *pool, int i)
{
	return i < PARTIAL_LISTS ? &pool->partial[i] : &pool->free;
}

/*
 * Take a run of 2^@order pages, known to be zero if @want_zero, from @pool.
 * Partly used blocks go first, the fullest first, so that free blocks stay
 * whole for release and partly used ones fill up.
 */
static struct page *unmapped_pool_take(struct unmapped_pool *pool,
				       unsigned int order, bool want_zero)
{
	struct unmapped_block *b;
	struct page *page = NULL;
	unsigned long flags;
	int i, start;

	spin_lock_irqsave(&pool->lock, flags);
retry:
	/* A block on a list below 2^@order has fewer pages free than that. */
	for (i = min(order, PARTIAL_LISTS); i <= PARTIAL_LISTS && !page; i++) {
		list_for_each_entry(b, unmapped_pool_list(pool, i), list) {
			start = unmapped_block_find(b, order, want_zero);
			if (start < 0)
				continue;
			unmapped_pool_unlink(pool, b);
			/* Poisoned since it was freed: retire it, look again. */
			if (unmapped_block_retire_hwpoison(b, start, 1U << order)) {
				unmapped_pool_link(pool, b);
				goto retry;
			}
			unmapped_block_take(b, start, 1U << order);
			unmapped_pool_link(pool, b);
			page = unmapped_block_page(b, start);
			WRITE_ONCE(pool->last_take, jiffies);
			break;
		}
	}
	spin_unlock_irqrestore(&pool->lock, flags);
	if (page)
		mod_node_page_state(page_pgdat(page), NR_UNMAPPED_FREE,
				    -(1L << order));
	return page;
}

/* Pages cleared at a time with preemption off: 256 KiB, tens of µs. */
#define WINDOW_CLEAR_PAGES	64
static_assert(BLOCK_PAGES % WINDOW_CLEAR_PAGES == 0);

/*
 * Zero all of the 2 MiB block @b at this CPU's window: one mapping and one
 * TLB entry flush for the block, and one more each time the task lets
 * another run. False where there is no window.
 */
static bool unmapped_block_zero_window(struct unmapped_block *b)
{
	void *base = NULL;
	unsigned int i;

	for (i = 0; i < BLOCK_PAGES; i += WINDOW_CLEAR_PAGES) {
		if (!base) {
			base = unmapped_map_block(b->pfn);
			if (!base)
				return false;
		}
		clear_pages(base + i * PAGE_SIZE, WINDOW_CLEAR_PAGES);
		if (need_resched()) {
			unmapped_unmap_block(base);
			base = NULL;
			cond_resched();
		}
	}
	if (base)
		unmapped_unmap_block(base);
	return true;
}

/*
 * Zero the @nr pages of @b whose bits are set in @todo through this CPU's
 * own mappings: no other CPU maps them, so nothing needs a TLB flush
 * beyond this CPU's entry. A whole block goes through the window only if
 * the caller holds every page of it: the window maps all of them. Any
 * other goes page by page through a slot. It allocates nothing, so it
 * cannot fail.
 */
static void unmapped_block_zero(struct unmapped_block *b,
				const unsigned long *todo, unsigned int nr)
{
	unsigned int i;
	void *addr;

	/* All BLOCK_PAGES to zero: a whole 2 MiB block, all the caller's. */
	if (nr != BLOCK_PAGES || !unmapped_block_zero_window(b)) {
		for_each_set_bit(i, todo, unmapped_block_pages(b)) {
			addr = unmapped_map_slot(b->pfn + i);
			clear_page(addr);
			unmapped_unmap_local(addr);
			cond_resched();
		}
	}
	count_vm_events(UNMAPPED_SCRUB, nr);
}

/*
 * Zero the free pages of one block that are not known to be zero, if there
 * are any. They are marked used while the lock is dropped, so that nobody
 * takes them and the block cannot be released meanwhile.
 */
static bool unmapped_pool_scrub_one(struct unmapped_pool *pool)
{
	struct unmapped_block *b, *found = NULL;
	DECLARE_BITMAP(todo, BLOCK_PAGES);
	unsigned int n = 0, nr = 0;
	unsigned long flags;
	int i;

	spin_lock_irqsave(&pool->lock, flags);
	for (i = 0; i <= PARTIAL_LISTS && !found; i++)
		list_for_each_entry(b, unmapped_pool_list(pool, i), list)
			if (b->nr_free > b->nr_zeroed) {
				found = b;
				break;
			}
	if (found) {
		b = found;
		n = unmapped_block_pages(b);
		unmapped_pool_unlink(pool, b);
		/* A poisoned page must not be touched, not even to zero it. */
		unmapped_block_retire_hwpoison(b, 0, n);
		bitmap_or(todo, b->used, b->zeroed, n);
		bitmap_complement(todo, todo, n);
		nr = bitmap_weight(todo, n);
		bitmap_or(b->used, b->used, todo, n);
		b->nr_free -= nr;
		unmapped_pool_link(pool, b);
	}
	spin_unlock_irqrestore(&pool->lock, flags);
	if (!found)
		return false;
	/* Only poisoned pages were left to zero: they are retired now. */
	if (!nr)
		return true;

	unmapped_block_zero(b, todo, nr);

	spin_lock_irqsave(&pool->lock, flags);
	unmapped_pool_unlink(pool, b);
	bitmap_andnot(b->used, b->used, todo, n);
	bitmap_or(b->zeroed, b->zeroed, todo, n);
	bitmap_andnot(b->dirty, b->dirty, todo, n);
	b->nr_zeroed += nr;
	b->nr_free += nr;
	unmapped_pool_link(pool, b);
	spin_unlock_irqrestore(&pool->lock, flags);
	return true;
}

static void unmapped_free_block_pages(struct page *page, unsigned int order)
{
	unsigned int i;

	for (i = 0; i < (1U << order); i++) {
		set_page_refcounted(page + i);
		__free_page(page + i);
	}
}

/*
 * Count a block about to be created against max_blocks. Reserving before
 * the (sleeping) allocation keeps racing refills from overshooting it, and
 * the count never goes past the cap even for a moment: the blocks file
 * shows it.
 */
static bool unmapped_block_reserve(void)
{
	unsigned long cap = READ_ONCE(unmapped_state.max_blocks);
	long n = atomic_long_read(&unmapped_state.nr_blocks_total);

	do {
		if (cap && (unsigned long)n >= cap)
			return false;
	} while (!atomic_long_try_cmpxchg(&unmapped_state.nr_blocks_total,
					  &n, n + 1));
	return true;
}

/*
 * Take a block from the page allocator and unmap it, without flushing the
 * TLB: the caller flushes once for all the blocks it creates. Falls back to
 * smaller blocks, down to @min_order, only when no PMD-sized one is free.
 */
static struct unmapped_block *unmapped_block_create(int nid, gfp_t gfp,
						    unsigned int min_order)
{
	gfp_t bgfp = (gfp & ~(__GFP_COMP | __GFP_ACCOUNT)) | __GFP_NOWARN;
	struct unmapped_block *b;
	unsigned int order, i;
	struct page *page;

	if (!unmapped_block_reserve())
		return NULL;

	b = kzalloc_node(sizeof(*b), GFP_KERNEL, nid);
	if (!b)
		goto unreserve;
	for (order = BLOCK_ORDER; ; order--) {
		page = alloc_pages_node(nid, order > min_order ?
					bgfp | __GFP_NORETRY : bgfp, order);
		if (page || order == min_order)
			break;
	}
	if (!page)
		goto free_desc;
	if (order < BLOCK_ORDER)
		count_vm_event(UNMAPPED_REFILL_FALLBACK);

	b->pfn = page_to_pfn(page);
	b->order = order;
	b->nid = page_to_nid(page);
	b->nr_free = unmapped_block_pages(b);
	INIT_LIST_HEAD(&b->list);
	if (gfp & __GFP_ZERO) {
		bitmap_set(b->zeroed, 0, unmapped_block_pages(b));
		b->nr_zeroed = unmapped_block_pages(b);
	}

	/* Pool pages are frozen order-0 pages, like free pages in the buddy. */
	split_page(page, order);
	for (i = 0; i < unmapped_block_pages(b); i++)
		set_page_count(page + i, 0);

	if (mtree_store_range(&unmapped_state.blocks_by_pfn, b->pfn,
			      b->pfn + unmapped_block_pages(b) - 1, b,
			      GFP_KERNEL))
		goto free_pages;
	/* A whole, aligned PMD range: the PMD entry flips, nothing splits. */
	if (set_direct_map_valid_noflush(page, unmapped_block_pages(b), false)) {
		set_direct_map_valid_noflush(page, unmapped_block_pages(b), true);
		mtree_erase(&unmapped_state.blocks_by_pfn, b->pfn);
		goto free_pages;
	}

	unmapped_pages_set_offline(page, unmapped_block_pages(b));
	mod_node_page_state(NODE_DATA(b->nid), NR_UNMAPPED_POOL,
			    unmapped_block_pages(b));
	count_vm_event(UNMAPPED_REFILL);
	return b;

free_pages:
	unmapped_free_block_pages(page, order);
free_desc:
	/* It may have been in blocks_by_pfn, which is read under RCU. */
	kfree_rcu(b, rcu);
unreserve:
	atomic_long_dec(&unmapped_state.nr_blocks_total);
	return NULL;
}

/*
 * Create up to @nr whole blocks on @nid for @list, stopping at the first
 * that cannot be had. Returns how many were created; the caller flushes
 * the TLB once for all of them.
 */
static unsigned long unmapped_blocks_create(int nid, gfp_t gfp,
					    unsigned long nr,
					    struct list_head *list)
{
	struct unmapped_block *b;
	unsigned long i;

	for (i = 0; i < nr; i++) {
		b = unmapped_block_create(nid, gfp, BLOCK_ORDER);
		if (!b)
			break;
		list_add_tail(&b->list, list);
	}
	return i;
}

/*
 * Put a new block in its pool. With @order >= 0, take 2^@order pages of it
 * for the caller in the same critical section: once the lock is dropped, a
 * fully free block may be released (and freed) at any time.
 */
static struct page *unmapped_pool_add_block(struct unmapped_block *b, int order,
					    bool want_zero)
{
	struct unmapped_pool *pool = unmapped_state.pools[b->nid];
	struct page *page = NULL;
	unsigned long flags;
	int start = -1;

	spin_lock_irqsave(&pool->lock, flags);
	if (order >= 0)
		start = unmapped_block_find(b, order, want_zero);
	if (start >= 0) {
		unmapped_block_take(b, start, 1U << order);
		page = unmapped_block_page(b, start);
		WRITE_ONCE(pool->last_take, jiffies);
	}
	mod_node_page_state(NODE_DATA(b->nid), NR_UNMAPPED_FREE, b->nr_free);
	pool->nr_blocks++;
	unmapped_pool_link(pool, b);
	spin_unlock_irqrestore(&pool->lock, flags);
	return page;
}

static void unmapped_flush_after_unmap(void)
{
	flush_tlb_all();
	count_vm_event(UNMAPPED_TLB_FLUSH);
}

/*
 * Map the pages of a block that are not poisoned again and give them to
 * the page allocator, but for those trimmed earlier, which it has already.
 * A poisoned page stays offline and out of the direct map, where even a
 * speculative access cannot reach it, and out of every allocator for good,
 * as memory failure leaves a page it took off the buddy lists.
 * Mapping single pages splits the block's PMD, which only a memory
 * failure or trimming makes necessary (and trimming has done already).
 */
static void unmapped_block_give_back(struct unmapped_block *b)
{
	struct page *page = unmapped_block_page(b, 0);
	unsigned int i;

	if (!b->nr_poisoned && !b->nr_returned) {
		unmapped_pages_clear_offline(page, unmapped_block_pages(b));
		/* Making entries present needs no TLB flush. */
		set_direct_map_valid_noflush(page, unmapped_block_pages(b), true);
		unmapped_free_block_pages(page, b->order);
		return;
	}
	for (i = 0; i < unmapped_block_pages(b); i++) {
		if (test_bit(i, b->poisoned) || test_bit(i, b->returned))
			continue;
		/* Without a page table to split into, the page stays unmapped. */
		if (set_direct_map_valid_noflush(page + i, 1, true)) {
			pr_warn_ratelimited("pfn %#lx lost: cannot map it again\n",
					    b->pfn + i);
			continue;
		}
		unmapped_pages_clear_offline(page + i, 1);
		unmapped_free_block_pages(page + i, 0);
	}
}

/* Take @b out of blocks_by_pfn: one range per run of pages not trimmed. */
static void unmapped_block_forget(struct unmapped_block *b)
{
	unsigned int start, end;

	for_each_clear_bitrange(start, end, b->returned, unmapped_block_pages(b))
		mtree_erase(&unmapped_state.blocks_by_pfn, b->pfn + start);
}

/*
 * Scrub what users wrote, map the block again and give it back. The block
 * is off the pool's lists, marked leaving and entirely free, so it is ours
 * alone.
 */
static void unmapped_block_release(struct unmapped_block *b)
{
	unsigned int nr = unmapped_block_pages(b), dirty;

	/* Memory failure may have marked pages since they were freed. */
	unmapped_block_retire_hwpoison(b, 0, nr);
	dirty = bitmap_weight(b->dirty, nr);
	if (dirty)
		unmapped_block_zero(b, b->dirty, dirty);
	unmapped_block_forget(b);
	mod_node_page_state(NODE_DATA(b->nid), NR_UNMAPPED_POOL,
			    -(long)(nr - b->nr_returned));
	mod_node_page_state(NODE_DATA(b->nid), NR_UNMAPPED_FREE,
			    -(long)b->nr_free);
	atomic_long_dec(&unmapped_state.nr_blocks_total);
	count_vm_event(UNMAPPED_RELEASE);
	unmapped_block_give_back(b);
	/* unmapped_take_page_off_pool() may still look at it. */
	kfree_rcu(b, rcu);
}

/*
 * Release fully free blocks of @pool beyond @keep, about @max_pages worth
 * at most. Returns the number of pages released.
 */
static unsigned long unmapped_pool_release(struct unmapped_pool *pool,
					   unsigned long keep,
					   unsigned long max_pages)
{
	struct unmapped_block *b, *tmp;
	unsigned long flags, taken = 0, released = 0, nr;
	LIST_HEAD(victims);

	spin_lock_irqsave(&pool->lock, flags);
	while (pool->nr_free_blocks > keep && taken < max_pages) {
		b = list_first_entry(&pool->free, struct unmapped_block, list);
		unmapped_pool_unlink(pool, b);
		b->leaving = true;
		pool->nr_blocks--;
		list_add_tail(&b->list, &victims);
		taken += unmapped_block_pages(b);
	}
	spin_unlock_irqrestore(&pool->lock, flags);

	list_for_each_entry_safe(b, tmp, &victims, list) {
		/* Trimmed pages went back before: count what goes back now. */
		nr = unmapped_block_pages(b) - b->nr_returned;
		list_del_init(&b->list);
		unmapped_block_release(b);
		released += nr;
	}
	return released;
}

/* Fewest free pages that make a partly used block worth trimming. */
#define TRIM_MIN_FREE	(BLOCK_PAGES / 8)

/*
 * The partly used block of @pool to trim next, the emptiest, if free pages
 * in partly used blocks are over partial_free_max and one has enough.
 */
static struct unmapped_block *
unmapped_pool_trim_victim(struct unmapped_pool *pool)
{
	struct unmapped_block *b;
	int i;

	lockdep_assert_held(&pool->lock);
	if (pool->nr_partial_free <= READ_ONCE(unmapped_state.partial_free_max))
		return NULL;
	for (i = PARTIAL_LISTS - 1; i >= ilog2(TRIM_MIN_FREE); i--) {
		b = list_first_entry_or_null(&pool->partial[i],
					     struct unmapped_block, list);
		if (b)
			return b;
	}
	return NULL;
}

/*
 * Give the pages in @todo, free pages of @b taken off its pool and either
 * zeroed or never written, to the page allocator while the rest of @b is
 * in use. Mapping them again splits the block's direct-map PMD: the price
 * of not holding memory that nobody is charged for. Clears from @todo the
 * pages it has to keep.
 */
static void unmapped_block_trim_pages(struct unmapped_block *b,
				      unsigned long *todo)
{
	unsigned int n = unmapped_block_pages(b), first = find_first_bit(todo, n);
	struct page *page = unmapped_block_page(b, 0);
	unsigned long addr = (unsigned long)page_address(page + first);
	unsigned int start, end, i;

	/* The first page splits the PMD: only it can fail to be mapped. */
	if (set_direct_map_valid_noflush(page + first, 1, true)) {
		bitmap_zero(todo, n);
		return;
	}
	/* Frees must not find the block for pages that are not its own. */
	for_each_set_bitrange(start, end, todo, n) {
		if (!mtree_store_range(&unmapped_state.blocks_by_pfn,
				       b->pfn + start, b->pfn + end - 1, NULL,
				       GFP_KERNEL))
			continue;
		bitmap_clear(todo, start, end - start);
		if (first >= start && first < end) {
			set_direct_map_valid_noflush(page + first, 1, false);
			flush_tlb_kernel_range(addr, addr + PAGE_SIZE);
			count_vm_event(UNMAPPED_TLB_FLUSH);
		}
	}
	for_each_set_bit(i, todo, n) {
		if (i != first && set_direct_map_valid_noflush(page + i, 1, true)) {
			pr_warn_ratelimited("pfn %#lx lost: cannot map it again\n",
					    b->pfn + i);
			continue;
		}
		unmapped_pages_clear_offline(page + i, 1);
		unmapped_free_block_pages(page + i, 0);
	}
}

/*
 * Free pages of partly used blocks are charged to nobody, and no release
 * can take them while the rest of their block is in use. Once a node holds
 * more than partial_free_max of them, give those of its emptiest block to
 * the page allocator. Returns false if there was nothing to trim.
 */
static bool unmapped_pool_trim_one(struct unmapped_pool *pool)
{
	DECLARE_BITMAP(taken, BLOCK_PAGES);
	DECLARE_BITMAP(given, BLOCK_PAGES);
	DECLARE_BITMAP(dirty, BLOCK_PAGES);
	DECLARE_BITMAP(zeroed, BLOCK_PAGES);
	unsigned int n, nr, nr_dirty, nr_given;
	struct unmapped_block *b;
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	b = unmapped_pool_trim_victim(pool);
	if (!b) {
		spin_unlock_irqrestore(&pool->lock, flags);
		return false;
	}
	n = unmapped_block_pages(b);
	unmapped_pool_unlink(pool, b);
	/* A poisoned page must not be touched, not even to zero it. */
	unmapped_block_retire_hwpoison(b, 0, n);
	/* Marked used, the free pages are ours while the lock is dropped. */
	bitmap_complement(taken, b->used, n);
	bitmap_copy(dirty, b->dirty, n);
	bitmap_copy(zeroed, b->zeroed, n);
	nr = bitmap_weight(taken, n);
	bitmap_or(b->used, b->used, taken, n);
	bitmap_zero(b->dirty, n);
	bitmap_zero(b->zeroed, n);
	b->nr_zeroed = 0;
	b->nr_free -= nr;
	unmapped_pool_link(pool, b);
	spin_unlock_irqrestore(&pool->lock, flags);
	mod_node_page_state(NODE_DATA(b->nid), NR_UNMAPPED_FREE, -(long)nr);

	/* What users wrote is scrubbed before the page allocator sees it. */
	bitmap_copy(given, taken, n);
	nr_dirty = bitmap_weight(dirty, n);
	if (nr_dirty)
		unmapped_block_zero(b, dirty, nr_dirty);
	if (nr)
		unmapped_block_trim_pages(b, given);
	nr_given = bitmap_weight(given, n);

	spin_lock_irqsave(&pool->lock, flags);
	unmapped_pool_unlink(pool, b);
	/* The pages kept go back as they were: dirty ones may be zero now. */
	bitmap_andnot(taken, taken, given, n);
	bitmap_andnot(b->used, b->used, taken, n);
	bitmap_and(dirty, dirty, taken, n);
	bitmap_or(b->dirty, b->dirty, dirty, n);
	bitmap_and(zeroed, zeroed, taken, n);
	bitmap_or(b->zeroed, b->zeroed, zeroed, n);
	b->nr_zeroed += bitmap_weight(zeroed, n);
	bitmap_or(b->returned, b->returned, given, n);
	b->nr_returned += nr_given;
	b->nr_free += nr - nr_given;
	unmapped_pool_link(pool, b);
	spin_unlock_irqrestore(&pool->lock, flags);

	mod_node_page_state(NODE_DATA(b->nid), NR_UNMAPPED_FREE, nr - nr_given);
	mod_node_page_state(NODE_DATA(b->nid), NR_UNMAPPED_POOL, -(long)nr_given);
	count_vm_events(UNMAPPED_TRIM, nr_given);
	return nr_given > 0;
}

/* Whether @pool's allocations are a stream that refills in batches. */
static bool unmapped_pool_streaming(struct unmapped_pool *pool)
{
	return time_before(jiffies, READ_ONCE(pool->last_take) + REFILL_IDLE);
}

static void unmapped_release_excess_blocks(struct work_struct *work)
{
	struct unmapped_pool *pool;
	bool streaming = false;
	unsigned long keep;
	int nid;

	for_each_node(nid) {
		pool = unmapped_state.pools[nid];
		if (!pool)
			continue;
		keep = READ_ONCE(unmapped_state.free_blocks_max);
		/* Not the blocks a batch refilled for a stream still going. */
		if (unmapped_pool_streaming(pool)) {
			keep += READ_ONCE(pool->refill_batch);
			streaming = true;
		}
		unmapped_pool_release(pool, keep, ULONG_MAX);
		while (unmapped_pool_trim_one(pool))
			cond_resched();
	}
	if (streaming)
		queue_delayed_work(system_dfl_wq,
				   &unmapped_state.stream_end_work, REFILL_IDLE);
}

static void unmapped_release_after_stream(struct work_struct *work)
{
	queue_work(system_dfl_wq, &unmapped_state.release_work);
}

static bool unmapped_gfp_ok(gfp_t gfp, unsigned int order)
{
	return pools_ready && order <= BLOCK_ORDER &&
	       !(gfp & UNMAPPED_GFP_REFUSED);
}

static void unmapped_prep_handout(struct page *page, unsigned int order,
				  gfp_t gfp)
{
	unsigned int i;

	set_page_refcounted(page);
	set_page_owner(page, order, gfp);
	page_table_check_alloc(page, order);
	if (order && (gfp & __GFP_COMP)) {
		prep_compound_page(page, order);
		__SetPageUnmapped(page);
		return;
	}
	/* Tails of a non-compound run can be freed on their own. */
	for (i = 0; i < (1U << order); i++)
		__SetPageUnmapped(page + i);
}

/*
 * The node the calling task's memory policy prefers, and in @allowed the
 * nodes its policy (MPOL_BIND) lets it fall back to.
 */
static int unmapped_policy_node_of_current(gfp_t gfp, nodemask_t *allowed)
{
	int nid;

	if (!in_task()) {
		nodes_setall(*allowed);
		return numa_mem_id();
	}
	nid = mpol_node(get_task_policy(current), gfp & ~__GFP_THISNODE,
			NO_INTERLEAVE_INDEX, allowed);
	/* No preference (and always without CONFIG_NUMA): the local node. */
	return nid == NUMA_NO_NODE ? numa_mem_id() : nid;
}

/* How many blocks @pool's next refill takes: more for each in a row. */
static unsigned int unmapped_pool_next_batch(struct unmapped_pool *pool)
{
	unsigned int max = clamp(READ_ONCE(unmapped_state.refill_batch_max), 1UL,
				 REFILL_BATCH_LIMIT);
	unsigned int batch = 1;
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	if (unmapped_pool_streaming(pool))
		batch = min(pool->refill_batch, max);
	WRITE_ONCE(pool->refill_batch, min(batch * REFILL_GROWTH, max));
	spin_unlock_irqrestore(&pool->lock, flags);
	return batch;
}

/*
 * Refill @pool from its node, with a batch of blocks if allocations come
 * in a stream, and take 2^@order pages for the caller. Only the first
 * block may be smaller than a PMD, and only it is worth an effort or (for
 * __GFP_ZERO) zeroing now: the rest are for allocations that may never
 * come. Each of them is zeroed when taken, by the task that takes it, so a
 * stream zeroes only what it uses and tasks zero in parallel.
 */
static struct page *unmapped_pool_refill(struct unmapped_pool *pool, int nid,
					 gfp_t gfp, unsigned int order)
{
	unsigned int batch = unmapped_pool_next_batch(pool);
	bool want_zero = gfp & __GFP_ZERO;
	struct unmapped_block *b, *tmp;
	struct page *page = NULL, *p;
	LIST_HEAD(fresh);

	/* The caller picks the nodes: a pool refills from its own. */
	gfp |= __GFP_THISNODE;
	b = unmapped_block_create(nid, gfp, order);
	if (!b)
		return NULL;
	list_add_tail(&b->list, &fresh);
	if (b->order == BLOCK_ORDER && batch > 1)
		unmapped_blocks_create(nid, (gfp & ~__GFP_ZERO) | __GFP_NORETRY,
				       batch - 1, &fresh);
	unmapped_flush_after_unmap();

	list_for_each_entry_safe(b, tmp, &fresh, list) {
		list_del_init(&b->list);
		p = unmapped_pool_add_block(b, page ? -1 : order, want_zero);
		page = page ?: p;
	}
	/* What the stream leaves unused goes back once it stops. */
	if (batch > 1)
		queue_delayed_work(system_dfl_wq,
				   &unmapped_state.stream_end_work, REFILL_IDLE);
	return page ?: unmapped_pool_take(pool, order, want_zero);
}

static struct page *unmapped_alloc_from_node(int nid, gfp_t gfp,
					     unsigned int order)
{
	bool want_zero = gfp & __GFP_ZERO, blocking = gfpflags_allow_blocking(gfp);
	struct unmapped_pool *pool = unmapped_state.pools[nid];
	struct page *page;

	do {
		page = unmapped_pool_take(pool, order, want_zero);
		if (page)
			return page;
		/* Zeroing may sleep: only for callers that may. */
	} while (want_zero && blocking && unmapped_pool_scrub_one(pool));

	if (!blocking)
		return NULL;
	/*
	 * Tasks that find the pool empty together each refill rather than
	 * wait for one batch: the first block of each is all a refill zeroes.
	 */
	return unmapped_pool_refill(pool, nid, gfp, order);
}

/**
 * unmapped_alloc_available - whether unmapped_alloc() can work here
 *
 * Return: false when the direct map cannot be changed on this system.
 */
bool unmapped_alloc_available(void)
{
	return pools_ready;
}
EXPORT_SYMBOL_GPL(unmapped_alloc_available);

/*
 * Allocate from @nid, or if that fails and @gfp allows, from another node
 * of @allowed that the calling task's cpuset allows.
 */
static struct page *unmapped_alloc_from_nodes(gfp_t gfp, unsigned int order,
					      int nid, nodemask_t *allowed)
{
	struct page *page = NULL;
	int n;

	if (!unmapped_gfp_ok(gfp, order))
		return NULL;
	if (nid < 0 || nid >= MAX_NUMNODES || !unmapped_state.pools[nid])
		return NULL;
	if (in_task())
		nodes_and(*allowed, *allowed, cpuset_current_mems_allowed);

	if (node_isset(nid, *allowed) || (gfp & __GFP_THISNODE))
		page = unmapped_alloc_from_node(nid, gfp, order);
	if (!page && !(gfp & __GFP_THISNODE)) {
		for_each_node_mask(n, *allowed) {
			if (n == nid || !unmapped_state.pools[n] ||
			    !node_state(n, N_MEMORY))
				continue;
			page = unmapped_alloc_from_node(n, gfp, order);
			if (page)
				break;
		}
	}
	if (!page)
		return NULL;

	unmapped_prep_handout(page, order, gfp);
	if ((gfp & __GFP_ACCOUNT) && memcg_kmem_charge_page(page, gfp, order)) {
		unmapped_free(page, order);
		return NULL;
	}
	count_vm_events(UNMAPPED_ALLOC, 1U << order);
	return page;
}

/**
 * unmapped_alloc_node - allocate pages that are not in the direct map
 * @gfp: GFP flags. %__GFP_ZERO returns zeroed pages (without mapping them
 *	back); without it the pages may hold an earlier user's data.
 *	%__GFP_ACCOUNT charges the caller's memcg, %__GFP_THISNODE keeps to
 *	@nid. Zone and mobility modifiers (%__GFP_DMA, %__GFP_DMA32,
 *	%__GFP_MOVABLE) cannot be honoured and fail the allocation.
 * @order: allocation order, at most PMD_ORDER
 * @nid: preferred node, or %NUMA_NO_NODE for the one the calling task's
 *	memory policy prefers; then a bind policy limits the nodes the
 *	allocation may fall back to. The task's cpuset always does.
 *
 * The pages stay out of the direct map until they are freed, with
 * unmapped_free(), folio_put() or any other path to the page allocator, and
 * their block is released. Refilling a pool sleeps, so without
 * %__GFP_DIRECT_RECLAIM only pages already in the pools are used.
 *
 * Return: the first page of the allocation, or %NULL.
 */
struct page *unmapped_alloc_node(gfp_t gfp, unsigned int order, int nid)
{
	nodemask_t allowed;

	if (nid == NUMA_NO_NODE)
		nid = unmapped_policy_node_of_current(gfp, &allowed);
	else
		nodes_setall(allowed);
	return unmapped_alloc_from_nodes(gfp, order, nid, &allowed);
}
EXPORT_SYMBOL_GPL(unmapped_alloc_node);

/**
 * unmapped_folio_alloc - allocate a folio that is not in the direct map
 * @gfp: GFP flags, as for unmapped_alloc_node()
 * @order: folio order, at most PMD_ORDER
 * @nid: preferred node, or %NUMA_NO_NODE
 *
 * The folio returns to its pool on its final folio_put().
 *
 * Return: the folio, or %NULL.
 */
struct folio *unmapped_folio_alloc(gfp_t gfp, unsigned int order, int nid)
{
	struct page *page = unmapped_alloc_node(gfp | __GFP_COMP, order, nid);

	return page ? page_rmappable_folio(page) : NULL;
}
EXPORT_SYMBOL_GPL(unmapped_folio_alloc);

/**
 * unmapped_folio_alloc_mpol - allocate an unmapped folio by a memory policy
 * @gfp: GFP flags, as for unmapped_alloc_node()
 * @order: folio order, at most PMD_ORDER
 * @pol: the memory policy, such as a file's shared policy at an index
 * @ilx: interleave index, or %NO_INTERLEAVE_INDEX
 *
 * Like unmapped_folio_alloc() on the node @pol picks, and never on a node
 * outside a bind policy's nodemask or the calling task's cpuset.
 *
 * Return: the folio, or %NULL.
 */
struct folio *unmapped_folio_alloc_mpol(gfp_t gfp, unsigned int order,
					struct mempolicy *pol, pgoff_t ilx)
{
	nodemask_t allowed;
	struct page *page;
	int nid;

	nid = mpol_node(pol, gfp, ilx, &allowed);
	if (nid == NUMA_NO_NODE)
		nid = numa_mem_id();
	page = unmapped_alloc_from_nodes(gfp | __GFP_COMP, order, nid, &allowed);
	return page ? page_rmappable_folio(page) : NULL;
}
EXPORT_SYMBOL_GPL(unmapped_folio_alloc_mpol);

/**
 * unmapped_free - free pages from unmapped_alloc_node()
 * @page: first page of the allocation
 * @order: its order
 *
 * Drops the caller's reference; the pages go back to their pool, still
 * unmapped, once the last reference is gone.
 */
void unmapped_free(struct page *page, unsigned int order)
{
	__free_pages(page, order);
}
EXPORT_SYMBOL_GPL(unmapped_free);

/*
 * The page allocator hands us pages marked PageUnmapped() once it has reset
 * their state (refcount, flags, memcg, compound) and before it would touch
 * their contents or put them on a free list.
 */
void unmapped_free_prepared(struct page *page, unsigned int order)
{
	unsigned long pfn = page_to_pfn(page), flags;
	unsigned int nr = 1U << order, start;
	struct unmapped_pool *pool;
	struct unmapped_block *b;
	bool excess;
	int nid;

	/* @b stays while one of its pages is in use: this one. */
	b = mtree_load(&unmapped_state.blocks_by_pfn, pfn);
	/* Never give an unmapped page to the buddy: leak it instead. */
	if (WARN_ON_ONCE(!b || pfn + nr > b->pfn + unmapped_block_pages(b)))
		return;
	start = pfn - b->pfn;
	nid = b->nid;
	pool = unmapped_state.pools[nid];

	unmapped_pages_set_offline(page, nr);
	spin_lock_irqsave(&pool->lock, flags);
	VM_WARN_ON_ONCE(!unmapped_range_all_set(b->used, start, nr));
	unmapped_pool_unlink(pool, b);
	bitmap_clear(b->used, start, nr);
	bitmap_set(b->dirty, start, nr);
	b->nr_free += nr;
	mod_node_page_state(NODE_DATA(nid), NR_UNMAPPED_FREE, nr);
	/* A page poisoned while in use comes back only to be retired. */
	unmapped_block_retire_hwpoison(b, start, nr);
	unmapped_pool_link(pool, b);
	excess = pool->nr_free_blocks > READ_ONCE(unmapped_state.free_blocks_max) ||
		 pool->nr_partial_free > READ_ONCE(unmapped_state.partial_free_max);
	/* Once the lock is dropped, @b may be released and freed. */
	spin_unlock_irqrestore(&pool->lock, flags);

	count_vm_events(UNMAPPED_FREE, nr);
	if (excess)
		queue_work(system_dfl_wq, &unmapped_state.release_work);
}

/**
 * unmapped_take_page_off_pool - take a poisoned free page out of service
 * @page: a page memory failure has just marked %PG_hwpoison
 *
 * The pools' counterpart of take_page_off_buddy(): if @page is free in a
 * pool, it is never handed out, scrubbed or mapped again, and its block
 * can still be released around it.
 *
 * Return: true if @page was free in a pool and is now out of service.
 */
bool unmapped_take_page_off_pool(struct page *page)
{
	unsigned long pfn = page_to_pfn(page), flags;
	struct unmapped_pool *pool;
	struct unmapped_block *b;
	bool taken = false;

	rcu_read_lock();
	b = mtree_load(&unmapped_state.blocks_by_pfn, pfn);
	if (b) {
		pool = unmapped_state.pools[b->nid];
		spin_lock_irqsave(&pool->lock, flags);
		/* A leaving block's release retires the page itself. */
		if (!b->leaving && !test_bit(pfn - b->pfn, b->used)) {
			unmapped_pool_unlink(pool, b);
			taken = unmapped_block_retire_hwpoison(b, pfn - b->pfn, 1);
			unmapped_pool_link(pool, b);
		}
		spin_unlock_irqrestore(&pool->lock, flags);
	}
	rcu_read_unlock();
	return taken;
}

/**
 * unmapped_alloc_active - whether any pool holds memory
 *
 * Hibernation must not save pages outside the direct map: a pool page may
 * hold a guest's data even when it is free, and the snapshot code reaches
 * pages through the direct map.
 *
 * Return: true while any block is out of the direct map.
 */
bool unmapped_alloc_active(void)
{
	return atomic_long_read(&unmapped_state.nr_blocks_total) > 0;
}

/* Fill each node's pool up to @nr fully free, zeroed blocks: one flush. */
static unsigned long unmapped_prefill(unsigned long nr)
{
	struct unmapped_block *b, *tmp;
	struct unmapped_pool *pool;
	unsigned long added = 0, have;
	LIST_HEAD(fresh);
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		pool = unmapped_state.pools[nid];
		have = pool ? READ_ONCE(pool->nr_free_blocks) : nr;
		if (have < nr)
			added += unmapped_blocks_create(nid, GFP_KERNEL | __GFP_ZERO |
							__GFP_THISNODE,
							nr - have, &fresh);
	}
	if (!added)
		return 0;
	unmapped_flush_after_unmap();
	list_for_each_entry_safe(b, tmp, &fresh, list) {
		list_del_init(&b->list);
		unmapped_pool_add_block(b, -1, false);
	}
	return added;
}

static unsigned long unmapped_release_all(void)
{
	unsigned long released = 0;
	struct unmapped_pool *pool;
	int nid;

	/* Blocks a background release has taken are gone once it is done. */
	flush_work(&unmapped_state.release_work);
	/*
	 * Folios freed from the page cache may still be referenced from the
	 * per-CPU LRU batches, keeping their blocks from being fully free.
	 */
	lru_add_drain_all();
	for_each_node(nid) {
		pool = unmapped_state.pools[nid];
		if (!pool)
			continue;
		released += unmapped_pool_release(pool, 0, ULONG_MAX);
		/* What was a stream starts over with single blocks. */
		WRITE_ONCE(pool->refill_batch, 1);
	}
	return released;
}

static bool unmapped_block_is_victim(struct unmapped_block *b,
				     struct list_head *victims)
{
	struct unmapped_block *v;

	list_for_each_entry(v, victims, list)
		if (v == b)
			return true;
	return false;
}

/*
 * Memory offlining isolates a range and then waits for every page in it to
 * be free in the buddy allocator, which pool pages never are: release the
 * range's free blocks, or refuse at once if a block there is in use
 * (guest memory cannot be migrated), instead of letting offlining retry
 * forever.
 */
static int unmapped_pools_release_range(unsigned long start_pfn,
					unsigned long end_pfn)
{
	struct unmapped_block *b, *tmp;
	unsigned long index = start_pfn, flags;
	struct unmapped_pool *pool;
	LIST_HEAD(victims);
	int err = 0;

	lru_add_drain_all();
	rcu_read_lock();
	mt_for_each(&unmapped_state.blocks_by_pfn, b, index, end_pfn - 1) {
		/* A trimmed block has a range per run of its own pages. */
		if (unmapped_block_is_victim(b, &victims))
			continue;
		pool = unmapped_state.pools[b->nid];
		spin_lock_irqsave(&pool->lock, flags);
		/* In use, or being released by someone else: try again later. */
		if (b->leaving || !unmapped_block_all_free(b)) {
			err = -EBUSY;
		} else {
			unmapped_pool_unlink(pool, b);
			b->leaving = true;
			pool->nr_blocks--;
			list_add_tail(&b->list, &victims);
		}
		spin_unlock_irqrestore(&pool->lock, flags);
		if (err)
			break;
	}
	rcu_read_unlock();

	list_for_each_entry_safe(b, tmp, &victims, list) {
		pool = unmapped_state.pools[b->nid];
		list_del_init(&b->list);
		if (!err) {
			unmapped_block_release(b);
			continue;
		}
		/* Busy: leave the free blocks where they were. */
		spin_lock_irqsave(&pool->lock, flags);
		b->leaving = false;
		pool->nr_blocks++;
		unmapped_pool_link(pool, b);
		spin_unlock_irqrestore(&pool->lock, flags);
	}
	return err;
}

static int unmapped_memory_callback(struct notifier_block *nb,
				    unsigned long action, void *arg)
{
	struct memory_notify *mn = arg;
	int err;

	if (action != MEM_GOING_OFFLINE)
		return NOTIFY_OK;
	err = unmapped_pools_release_range(mn->start_pfn,
					   mn->start_pfn + mn->nr_pages);
	return notifier_from_errno(err);
}

static struct notifier_block unmapped_memory_nb = {
	.notifier_call = unmapped_memory_callback,
};

static unsigned long unmapped_shrink_count(struct shrinker *shrinker,
					   struct shrink_control *sc)
{
	struct unmapped_pool *pool = unmapped_state.pools[sc->nid];
	unsigned long nr = pool ? READ_ONCE(pool->nr_free_blocks) : 0;

	return nr ? nr * BLOCK_PAGES : SHRINK_EMPTY;
}

static unsigned long unmapped_shrink_scan(struct shrinker *shrinker,
					  struct shrink_control *sc)
{
	struct unmapped_pool *pool = unmapped_state.pools[sc->nid];
	unsigned int noreclaim;
	unsigned long freed;

	if (!pool || !(sc->gfp_mask & __GFP_DIRECT_RECLAIM))
		return SHRINK_STOP;
	/* Scrubbing maps pages: allocate from reserves, never recurse. */
	noreclaim = memalloc_noreclaim_save();
	freed = unmapped_pool_release(pool, 0, sc->nr_to_scan);
	memalloc_noreclaim_restore(noreclaim);
	return freed ? freed : SHRINK_STOP;
}

#ifdef CONFIG_SYSFS
/* A read-write number in unmapped_state, and the most it may be set to. */
struct unmapped_knob {
	struct kobj_attribute attr;
	unsigned long *val;
	unsigned long max;
	bool release;		/* a store releases what is then beyond it */
};

#define UNMAPPED_KNOB(_name, _max, _release) {				\
	.attr = {							\
		.attr = { .name = __stringify(_name), .mode = 0644 },	\
		.show = unmapped_knob_show,				\
		.store = unmapped_knob_store,				\
	},								\
	.val = &unmapped_state._name,					\
	.max = _max,							\
	.release = _release,						\
}

static ssize_t unmapped_knob_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	struct unmapped_knob *knob =
		container_of(attr, struct unmapped_knob, attr);

	return sysfs_emit(buf, "%lu\n", READ_ONCE(*knob->val));
}

static ssize_t unmapped_knob_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	struct unmapped_knob *knob =
		container_of(attr, struct unmapped_knob, attr);
	unsigned long val;
	int err = kstrtoul(buf, 0, &val);

	if (err)
		return err;
	if (val > knob->max)
		return -ERANGE;
	WRITE_ONCE(*knob->val, val);
	if (knob->release)
		queue_work(system_dfl_wq, &unmapped_state.release_work);
	return count;
}

static ssize_t unmapped_blocks_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n",
			  atomic_long_read(&unmapped_state.nr_blocks_total));
}

static ssize_t unmapped_release_store(struct kobject *kobj,
				      struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	bool val;
	int err = kstrtobool(buf, &val);

	if (err)
		return err;
	if (val)
		unmapped_release_all();
	return count;
}

static ssize_t unmapped_prefill_store(struct kobject *kobj,
				      struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	unsigned long val;
	int err = kstrtoul(buf, 0, &val);

	if (err)
		return err;
	if (val && !unmapped_prefill(val))
		return -ENOMEM;
	return count;
}

/* free_blocks_max takes what an unsigned int holds, as it always has. */
static struct unmapped_knob free_blocks_max_knob =
	UNMAPPED_KNOB(free_blocks_max, UINT_MAX, true);
static struct unmapped_knob partial_free_max_knob =
	UNMAPPED_KNOB(partial_free_max, ULONG_MAX, true);
static struct unmapped_knob refill_batch_max_knob =
	UNMAPPED_KNOB(refill_batch_max, REFILL_BATCH_LIMIT, false);
static struct unmapped_knob max_blocks_knob =
	UNMAPPED_KNOB(max_blocks, ULONG_MAX, false);
static struct kobj_attribute blocks_attr =
	__ATTR(blocks, 0444, unmapped_blocks_show, NULL);
static struct kobj_attribute release_attr =
	__ATTR(release, 0200, NULL, unmapped_release_store);
static struct kobj_attribute prefill_attr =
	__ATTR(prefill, 0200, NULL, unmapped_prefill_store);

static struct attribute *unmapped_attrs[] = {
	&free_blocks_max_knob.attr.attr,
	&partial_free_max_knob.attr.attr,
	&max_blocks_knob.attr.attr,
	&refill_batch_max_knob.attr.attr,
	&blocks_attr.attr,
	&release_attr.attr,
	&prefill_attr.attr,
	NULL,
};

static const struct attribute_group unmapped_attr_group = {
	.name = "unmapped",
	.attrs = unmapped_attrs,
};

static void __init unmapped_sysfs_init(void)
{
	if (sysfs_create_group(mm_kobj, &unmapped_attr_group))
		pr_warn("cannot create /sys/kernel/mm/unmapped\n");
}
#else
static inline void unmapped_sysfs_init(void)
{
}
#endif /* CONFIG_SYSFS */

static int __init unmapped_alloc_init(void)
{
	struct unmapped_pool *pool;
	struct shrinker *shrinker;
	int nid, i;

	if (!can_set_direct_map()) {
		pr_info("disabled: the direct map cannot be changed on this system\n");
		return 0;
	}
	/* No page may leave the direct map unless its users can still reach it. */
	if (unmapped_map_local_init()) {
		pr_warn("disabled: no address space for unmapped_map_local()\n");
		return 0;
	}
	for_each_node(nid) {
		pool = kzalloc_node(sizeof(*pool), GFP_KERNEL,
				    node_state(nid, N_MEMORY) ? nid : NUMA_NO_NODE);
		if (!pool)
			return -ENOMEM;
		spin_lock_init(&pool->lock);
		for (i = 0; i < PARTIAL_LISTS; i++)
			INIT_LIST_HEAD(&pool->partial[i]);
		INIT_LIST_HEAD(&pool->free);
		pool->refill_batch = 1;
		pool->last_take = jiffies - REFILL_IDLE;
		unmapped_state.pools[nid] = pool;
	}
	shrinker = shrinker_alloc(SHRINKER_NUMA_AWARE, "unmapped-alloc");
	if (shrinker) {
		shrinker->count_objects = unmapped_shrink_count;
		shrinker->scan_objects = unmapped_shrink_scan;
		shrinker->seeks = 0;
		shrinker_register(shrinker);
	}
	unmapped_sysfs_init();
	register_memory_notifier(&unmapped_memory_nb);
	pools_ready = true;
	return 0;
}
subsys_initcall(unmapped_alloc_init);

#ifdef CONFIG_UNMAPPED_ALLOC_KUNIT_TEST
#include "tests/unmapped_alloc_kunit.c"
#endif
