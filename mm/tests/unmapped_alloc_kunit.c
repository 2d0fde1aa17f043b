// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for unmapped_alloc(). Included from mm/unmapped_alloc.c so
 * that they can look at the pools. Every case starts and ends with empty
 * pools and checks the direct map itself with kernel_page_present().
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/huge_mm.h>
#include <linux/kthread.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/random.h>
#include <linux/vmalloc.h>

static unsigned long saved_free_blocks_max;
static unsigned long saved_partial_free_max;
static unsigned long saved_refill_batch_max;

static unsigned long vm_event(enum vm_event_item item)
{
	unsigned long *ev, val;

	ev = kmalloc_array(NR_VM_EVENT_ITEMS, sizeof(*ev), GFP_KERNEL);
	if (!ev)
		return ULONG_MAX;
	all_vm_events(ev);
	val = ev[item];
	kfree(ev);
	return val;
}

/*
 * Exact counts from the blocks themselves: the vmstat counters are per-cpu
 * and may lag behind.
 */
static unsigned long pool_count(bool free_only)
{
	struct unmapped_block *b, *prev = NULL;
	unsigned long index = 0, nr = 0;

	rcu_read_lock();
	mt_for_each(&unmapped_state.blocks_by_pfn, b, index, ULONG_MAX) {
		/* A trimmed block has a range per run of its own pages. */
		if (b == prev)
			continue;
		prev = b;
		nr += free_only ? READ_ONCE(b->nr_free) :
				  unmapped_block_pages(b) -
				  READ_ONCE(b->nr_returned);
	}
	rcu_read_unlock();
	return nr;
}

/* Blocks the pools hold, as the blocks file shows them. */
static long pool_blocks(void)
{
	return atomic_long_read(&unmapped_state.nr_blocks_total);
}

static unsigned long pool_free_pages(void)
{
	return pool_count(true);
}

static unsigned long pool_pages(void)
{
	return pool_count(false);
}

static bool pages_present(struct page *page, unsigned int nr, bool present)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (kernel_page_present(page + i) != present)
			return false;
	return true;
}

/* Read or write unmapped pages through a mapping of their own. */
static void *map_pages(struct page *page, unsigned int nr)
{
	struct page **pages;
	unsigned int i;
	void *addr;

	pages = kmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return NULL;
	for (i = 0; i < nr; i++)
		pages[i] = page + i;
	addr = vmap(pages, nr, VM_MAP, PAGE_KERNEL);
	kfree(pages);
	return addr;
}

static void unmap_pages(void *addr)
{
	vunmap(addr);
	vm_unmap_aliases();
}

static bool pages_zero(struct page *page, unsigned int nr)
{
	void *addr = map_pages(page, nr);
	bool zero;

	if (!addr)
		return false;
	zero = !memchr_inv(addr, 0, (size_t)nr * PAGE_SIZE);
	unmap_pages(addr);
	return zero;
}

static void pages_fill(struct page *page, unsigned int nr, int c)
{
	void *addr = map_pages(page, nr);

	if (addr) {
		memset(addr, c, (size_t)nr * PAGE_SIZE);
		unmap_pages(addr);
	}
}

static int unmapped_test_init(struct kunit *test)
{
	if (!unmapped_alloc_available())
		kunit_skip(test, "the direct map cannot be changed here");
	/* Keep free blocks until a test releases them itself. */
	saved_free_blocks_max = unmapped_state.free_blocks_max;
	saved_partial_free_max = unmapped_state.partial_free_max;
	saved_refill_batch_max = unmapped_state.refill_batch_max;
	WRITE_ONCE(unmapped_state.free_blocks_max, UINT_MAX);
	WRITE_ONCE(unmapped_state.partial_free_max, ULONG_MAX);
	/* One block per refill, unless a test is about batches. */
	WRITE_ONCE(unmapped_state.refill_batch_max, 1);
	flush_delayed_work(&unmapped_state.stream_end_work);
	flush_work(&unmapped_state.release_work);
	unmapped_release_all();
	KUNIT_ASSERT_EQ(test, pool_blocks(), 0);
	return 0;
}

static void unmapped_test_exit(struct kunit *test)
{
	/* A release a test's frees started must not race with this one. */
	flush_work(&unmapped_state.release_work);
	unmapped_release_all();
	KUNIT_EXPECT_EQ(test, pool_blocks(), 0);
	KUNIT_EXPECT_EQ(test, pool_pages(), 0);
	KUNIT_EXPECT_EQ(test, pool_free_pages(), 0);
	WRITE_ONCE(unmapped_state.free_blocks_max, saved_free_blocks_max);
	WRITE_ONCE(unmapped_state.partial_free_max, saved_partial_free_max);
	WRITE_ONCE(unmapped_state.refill_batch_max, saved_refill_batch_max);
}

static void alloc_free_every_order(struct kunit *test)
{
	unsigned int order;
	struct page *page;

	for (order = 0; order <= BLOCK_ORDER; order++) {
		page = unmapped_alloc(GFP_KERNEL, order);
		KUNIT_ASSERT_NOT_NULL_MSG(test, page, "order %u", order);
		KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
		KUNIT_EXPECT_TRUE(test, PageUnmapped(page));
		unmapped_free(page, order);
	}
	KUNIT_EXPECT_EQ(test, pool_free_pages(), pool_pages());
}

static void handed_out_pages_not_present(struct kunit *test)
{
	static const unsigned int orders[] = { 0, 1, 3, 5, BLOCK_ORDER };
	struct page *pages[ARRAY_SIZE(orders)];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(orders); i++) {
		pages[i] = unmapped_alloc(GFP_KERNEL, orders[i]);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
		KUNIT_EXPECT_TRUE_MSG(test, pages_present(pages[i], 1U << orders[i], false),
				      "a page of order %u is in the direct map", orders[i]);
	}
	for (i = 0; i < ARRAY_SIZE(orders); i++)
		unmapped_free(pages[i], orders[i]);
}

static void present_again_after_release(struct kunit *test)
{
	struct unmapped_block *b;
	struct page *page, *first;
	unsigned int nr;

	page = unmapped_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	b = mtree_load(&unmapped_state.blocks_by_pfn, page_to_pfn(page));
	KUNIT_ASSERT_NOT_NULL(test, b);
	first = unmapped_block_page(b, 0);
	nr = unmapped_block_pages(b);
	KUNIT_EXPECT_TRUE(test, pages_present(first, nr, false));

	pages_fill(page, 1, 0x5a);
	unmapped_free(page, 0);
	/* Free but still pooled: still unmapped. */
	KUNIT_EXPECT_TRUE(test, pages_present(first, nr, false));
	KUNIT_EXPECT_EQ(test, unmapped_release_all(), nr);
	/*
	 * Back in the buddy allocator: mapped, and scrubbed before it was
	 * mapped again, unless debugging options unmap or fill free pages.
	 */
	if (debug_pagealloc_enabled() || want_init_on_free() ||
	    page_poisoning_enabled())
		return;
	KUNIT_EXPECT_TRUE(test, pages_present(first, nr, true));
	KUNIT_EXPECT_NULL(test, memchr_inv(page_address(page), 0, PAGE_SIZE));
}

static void zero_flag_gives_zeroed_pages(struct kunit *test)
{
	unsigned long scrubbed;
	struct page *block, *page;

	/* A fresh block is zeroed while still mapped. */
	block = unmapped_alloc(GFP_KERNEL | __GFP_ZERO, BLOCK_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_EXPECT_TRUE(test, pages_zero(block, BLOCK_PAGES));

	/* Every free page of the pool is now dirty... */
	pages_fill(block, BLOCK_PAGES, 0xa5);
	unmapped_free(block, BLOCK_ORDER);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 1);

	/* ...so a zeroed page must be scrubbed through a private mapping. */
	scrubbed = vm_event(UNMAPPED_SCRUB);
	page = unmapped_alloc(GFP_KERNEL | __GFP_ZERO, 2);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 1);
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_SCRUB) - scrubbed, BLOCK_PAGES);
	KUNIT_EXPECT_TRUE(test, pages_zero(page, 4));
	KUNIT_EXPECT_TRUE(test, pages_present(page, 4, false));
	unmapped_free(page, 2);

	/* Without __GFP_ZERO nothing is zeroed for the caller. */
	scrubbed = vm_event(UNMAPPED_SCRUB);
	page = unmapped_alloc(GFP_KERNEL, 2);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_SCRUB), scrubbed);
	unmapped_free(page, 2);
}

/* Allocate @nr order-0 pages into @pages; false if one fails. */
static bool alloc_pages_into(struct page **pages, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		pages[i] = unmapped_alloc(GFP_KERNEL, 0);
		if (!pages[i])
			break;
	}
	return i == nr;
}

static void free_pages_from(struct page **pages, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (pages[i])
			unmapped_free(pages[i], 0);
}

/*
 * A stream of allocations refills in growing batches, one flush each: 1,
 * then REFILL_GROWTH, then its square. A pause starts over with one block.
 */
static void refills_in_a_row_share_flushes(struct kunit *test)
{
	const unsigned int blocks = 1 + REFILL_GROWTH + REFILL_GROWTH * REFILL_GROWTH;
	const unsigned int nr = blocks * BLOCK_PAGES;
	unsigned long flushes, refills, fallbacks;
	struct page **pages;

	pages = kunit_kcalloc(test, nr + 1, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	WRITE_ONCE(unmapped_state.refill_batch_max, saved_refill_batch_max);
	flushes = vm_event(UNMAPPED_TLB_FLUSH);
	refills = vm_event(UNMAPPED_REFILL);
	fallbacks = vm_event(UNMAPPED_REFILL_FALLBACK);
	KUNIT_EXPECT_TRUE(test, alloc_pages_into(pages, nr));
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_REFILL_FALLBACK), fallbacks);
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_REFILL) - refills, blocks);
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_TLB_FLUSH) - flushes, 3);
	KUNIT_EXPECT_EQ(test, pool_blocks(), blocks);

	/* After a pause, with the pool full, the next refill is one block. */
	msleep(jiffies_to_msecs(REFILL_IDLE) + 100);
	refills = vm_event(UNMAPPED_REFILL);
	pages[nr] = unmapped_alloc(GFP_KERNEL, 0);
	KUNIT_EXPECT_NOT_NULL(test, pages[nr]);
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_REFILL) - refills, 1);
	free_pages_from(pages, nr + 1);
	unmapped_release_all();

	/* Several blocks unmapped together share one flush. */
	flushes = vm_event(UNMAPPED_TLB_FLUSH);
	KUNIT_EXPECT_EQ(test, unmapped_prefill(4), 4);
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_TLB_FLUSH) - flushes, 1);
}

/*
 * The blocks a batch refilled for a stream stay while it goes on, whatever
 * free_blocks_max says, and go back once it has stopped.
 */
static void stream_leftovers_go_back(struct kunit *test)
{
	const unsigned int nr = BLOCK_PAGES + 1;
	struct page **pages;

	pages = kunit_kcalloc(test, nr, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	WRITE_ONCE(unmapped_state.refill_batch_max, saved_refill_batch_max);
	/* One block, then a batch of REFILL_GROWTH with one page used. */
	KUNIT_ASSERT_TRUE(test, alloc_pages_into(pages, nr));
	KUNIT_ASSERT_EQ(test, pool_blocks(), 1 + REFILL_GROWTH);
	WRITE_ONCE(unmapped_state.free_blocks_max, 0);

	/* The control: a release while the stream goes on keeps them. */
	schedule_work(&unmapped_state.release_work);
	flush_work(&unmapped_state.release_work);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 1 + REFILL_GROWTH);

	msleep(jiffies_to_msecs(REFILL_IDLE) + 100);
	flush_delayed_work(&unmapped_state.stream_end_work);
	flush_work(&unmapped_state.release_work);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 2);
	free_pages_from(pages, nr);
}

/* Blocks in @pool, by whether any of their free pages is known zero. */
static unsigned int pool_blocks_zeroed(struct unmapped_pool *pool, bool zeroed)
{
	struct unmapped_block *b;
	unsigned long flags;
	unsigned int nr = 0;
	int i;

	spin_lock_irqsave(&pool->lock, flags);
	for (i = 0; i <= PARTIAL_LISTS; i++)
		list_for_each_entry(b, unmapped_pool_list(pool, i), list)
			nr += !!b->nr_zeroed == zeroed;
	spin_unlock_irqrestore(&pool->lock, flags);
	return nr;
}

static struct unmapped_block *pool_first_free_block(struct unmapped_pool *pool)
{
	return list_first_entry_or_null(&pool->free, struct unmapped_block,
					list);
}

/*
 * Only the block a refill takes from is zeroed then; the rest of a batch
 * is zeroed by whoever takes it, a whole block under one TLB entry, and
 * what nobody takes is never zeroed.
 */
static void batch_blocks_zeroed_when_taken(struct kunit *test)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_ZERO;
	unsigned long refills, scrubbed, __maybe_unused flushes;
	struct page *pages[3] = {};
	struct unmapped_pool *pool;
	struct unmapped_block *b;
	int i;

	WRITE_ONCE(unmapped_state.refill_batch_max, saved_refill_batch_max);
	scrubbed = vm_event(UNMAPPED_SCRUB);
	/* One block, then a batch of REFILL_GROWTH. */
	for (i = 0; i < 2; i++) {
		pages[i] = unmapped_alloc(gfp, BLOCK_ORDER);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
	}
	KUNIT_ASSERT_EQ(test, pool_blocks(), 1 + REFILL_GROWTH);
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_SCRUB), scrubbed);
	pool = unmapped_state.pools[page_to_nid(pages[1])];
	KUNIT_EXPECT_EQ(test, pool_blocks_zeroed(pool, false),
			REFILL_GROWTH - 1);

	/* Whatever the page allocator left in them must not come through. */
	b = pool_first_free_block(pool);
	KUNIT_ASSERT_NOT_NULL(test, b);
	pages_fill(unmapped_block_page(b, 0), BLOCK_PAGES, 0x5a);

	refills = vm_event(UNMAPPED_REFILL);
	scrubbed = vm_event(UNMAPPED_SCRUB);
#ifdef CONFIG_DEBUG_TLBFLUSH
	flushes = vm_event(NR_TLB_LOCAL_FLUSH_ONE);
#endif
	pages[2] = unmapped_alloc(gfp, BLOCK_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, pages[2]);
#ifdef CONFIG_DEBUG_TLBFLUSH
	/* Page by page through a slot would be BLOCK_PAGES. */
	KUNIT_EXPECT_LT(test, vm_event(NR_TLB_LOCAL_FLUSH_ONE) - flushes,
			BLOCK_PAGES / 8);
#endif
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_REFILL), refills);
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_SCRUB) - scrubbed, BLOCK_PAGES);
	KUNIT_EXPECT_TRUE(test, pages_zero(pages[2], BLOCK_PAGES));
	KUNIT_EXPECT_TRUE(test, pages_present(pages[2], BLOCK_PAGES, false));
	KUNIT_EXPECT_EQ(test, pool_blocks_zeroed(pool, false),
			REFILL_GROWTH - 2);

	for (i = 0; i < 3; i++)
		unmapped_free(pages[i], BLOCK_ORDER);
}

/*
 * The window maps a whole block, so a block that someone else holds pages
 * of is zeroed page by page through a slot: the pages held are never
 * mapped, and keep their data.
 */
static void partly_used_block_zeroed_through_slots(struct kunit *test)
{
	const unsigned int half = BLOCK_PAGES / 2;
	unsigned long scrubbed, __maybe_unused flushes;
	struct unmapped_block *b;
	struct page **pages, *page;
	unsigned int i;
	void *addr;

	pages = kunit_kmalloc_array(test, BLOCK_PAGES, sizeof(*pages),
				    GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	/* One block, refilled without zeroing, all of it handed out. */
	for (i = 0; i < BLOCK_PAGES; i++) {
		pages[i] = unmapped_alloc(GFP_KERNEL, 0);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
	}
	KUNIT_ASSERT_EQ(test, pool_blocks(), 1);
	b = mtree_load(&unmapped_state.blocks_by_pfn, page_to_pfn(pages[0]));
	KUNIT_ASSERT_NOT_NULL(test, b);
	pages_fill(unmapped_block_page(b, 0), BLOCK_PAGES, 0x5a);
	for (i = half; i < BLOCK_PAGES; i++)
		unmapped_free(pages[i], 0);

	scrubbed = vm_event(UNMAPPED_SCRUB);
#ifdef CONFIG_DEBUG_TLBFLUSH
	flushes = vm_event(NR_TLB_LOCAL_FLUSH_ONE);
#endif
	page = unmapped_alloc(GFP_KERNEL | __GFP_ZERO, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_SCRUB) - scrubbed, half);
#ifdef CONFIG_DEBUG_TLBFLUSH
	/* One flush per page zeroed: the window would have taken one. */
	KUNIT_EXPECT_GE(test, vm_event(NR_TLB_LOCAL_FLUSH_ONE) - flushes, half);
#endif
	KUNIT_EXPECT_TRUE(test, pages_zero(page, 1));
	addr = map_pages(unmapped_block_page(b, 0), half);
	KUNIT_ASSERT_NOT_NULL(test, addr);
	KUNIT_EXPECT_NULL(test, memchr_inv(addr, 0x5a, (size_t)half * PAGE_SIZE));
	unmap_pages(addr);

	unmapped_free(page, 0);
	for (i = 0; i < half; i++)
		unmapped_free(pages[i], 0);
}

static void direct_map_not_split(struct kunit *test)
{
#ifdef CONFIG_X86
	const unsigned int nr = 4096;
	unsigned long splits;
	struct page **pages;
	unsigned int i;

	pages = kunit_kmalloc_array(test, nr, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	splits = vm_event(DIRECT_MAP_LEVEL2_SPLIT);
	for (i = 0; i < nr; i++) {
		pages[i] = unmapped_alloc(GFP_KERNEL, 0);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
	}
	for (i = 0; i < nr; i++)
		unmapped_free(pages[i], 0);
	unmapped_release_all();
	KUNIT_EXPECT_EQ(test, vm_event(DIRECT_MAP_LEVEL2_SPLIT), splits);
#else
	kunit_skip(test, "direct-map split counters are x86 only");
#endif
}

static void shrinker_releases_only_free_blocks(struct kunit *test)
{
	struct shrink_control sc = {
		.gfp_mask = GFP_KERNEL,
		.nr_to_scan = ULONG_MAX,
	};
	struct page *page, *block;
	unsigned long freed;

	page = unmapped_alloc(GFP_KERNEL, 0);		/* a partly used block */
	KUNIT_ASSERT_NOT_NULL(test, page);
	block = unmapped_alloc(GFP_KERNEL, BLOCK_ORDER);	/* a second one */
	KUNIT_ASSERT_NOT_NULL(test, block);
	unmapped_free(block, BLOCK_ORDER);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 2);

	sc.nid = page_to_nid(block);
	KUNIT_EXPECT_EQ(test, unmapped_shrink_count(NULL, &sc), BLOCK_PAGES);
	freed = unmapped_shrink_scan(NULL, &sc);
	KUNIT_EXPECT_EQ(test, freed, BLOCK_PAGES);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 1);
	if (!debug_pagealloc_enabled())
		KUNIT_EXPECT_TRUE(test, pages_present(block, BLOCK_PAGES, true));
	KUNIT_EXPECT_TRUE(test, pages_present(page, 1, false));
	KUNIT_EXPECT_EQ(test, unmapped_shrink_count(NULL, &sc), SHRINK_EMPTY);
	unmapped_free(page, 0);
}

struct stress_arg {
	struct completion done;
	unsigned int iterations;
	unsigned int failures;
};

static int stress_thread(void *data)
{
	struct stress_arg *arg = data;
	struct page *held[16] = { };
	unsigned int orders[16] = { };
	unsigned int i, slot;

	for (i = 0; i < arg->iterations; i++) {
		slot = get_random_u32_below(ARRAY_SIZE(held));
		if (held[slot]) {
			unmapped_free(held[slot], orders[slot]);
			held[slot] = NULL;
			continue;
		}
		orders[slot] = get_random_u32_below(4);
		held[slot] = unmapped_alloc(GFP_KERNEL | (i & 1 ? __GFP_ZERO : 0),
					    orders[slot]);
		if (!held[slot] ||
		    !pages_present(held[slot], 1U << orders[slot], false))
			arg->failures++;
		cond_resched();
	}
	for (slot = 0; slot < ARRAY_SIZE(held); slot++)
		if (held[slot])
			unmapped_free(held[slot], orders[slot]);
	complete(&arg->done);
	return 0;
}

static void concurrent_alloc_free(struct kunit *test)
{
	struct stress_arg args[4];
	struct task_struct *t;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(args); i++) {
		init_completion(&args[i].done);
		args[i].iterations = 2000;
		args[i].failures = 0;
		t = kthread_run(stress_thread, &args[i], "unmapped-test/%u", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	/* Meanwhile, release free blocks while the threads allocate. */
	for (i = 0; i < 20; i++) {
		unmapped_release_all();
		usleep_range(5000, 10000);
	}
	for (i = 0; i < ARRAY_SIZE(args); i++) {
		wait_for_completion(&args[i].done);
		KUNIT_EXPECT_EQ(test, args[i].failures, 0);
	}
	KUNIT_EXPECT_EQ(test, pool_free_pages(), pool_pages());
}

static void bad_input_fails_cleanly(struct kunit *test)
{
	unsigned long pool = pool_pages();

	KUNIT_EXPECT_NULL(test, unmapped_alloc(GFP_KERNEL, BLOCK_ORDER + 1));
	KUNIT_EXPECT_NULL(test, unmapped_alloc(GFP_KERNEL, UINT_MAX));
	KUNIT_EXPECT_NULL(test, unmapped_alloc(GFP_KERNEL | __GFP_DMA32, 0));
	KUNIT_EXPECT_NULL(test, unmapped_alloc(GFP_KERNEL | __GFP_DMA, 0));
	KUNIT_EXPECT_NULL(test, unmapped_alloc(GFP_HIGHUSER_MOVABLE, 0));
	KUNIT_EXPECT_NULL(test, unmapped_alloc_node(GFP_KERNEL, 0, MAX_NUMNODES));
	KUNIT_EXPECT_EQ(test, pool_pages(), pool);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 0);
}

static void nonblocking_uses_only_the_pool(struct kunit *test)
{
	struct page *page;

	KUNIT_EXPECT_NULL(test, unmapped_alloc(GFP_NOWAIT, 0));
	KUNIT_EXPECT_EQ(test, pool_blocks(), 0);
	KUNIT_ASSERT_EQ(test, unmapped_prefill(1), 1);
	page = unmapped_alloc(GFP_NOWAIT | __GFP_ZERO, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_TRUE(test, pages_zero(page, 1));
	unmapped_free(page, 0);
}

static void final_folio_put_returns_to_pool(struct kunit *test)
{
	unsigned long free_before;
	struct folio *folio;
	unsigned int order;

	for (order = 0; order <= 2; order += 2) {
		folio = unmapped_folio_alloc(GFP_KERNEL, order, NUMA_NO_NODE);
		KUNIT_ASSERT_NOT_NULL(test, folio);
		KUNIT_EXPECT_EQ(test, folio_order(folio), order);
		free_before = pool_free_pages();
		folio_get(folio);
		folio_put(folio);
		KUNIT_EXPECT_EQ(test, pool_free_pages(), free_before);
		folio_put(folio);
		KUNIT_EXPECT_EQ(test, pool_free_pages(),
				free_before + (1UL << order));
		KUNIT_EXPECT_EQ(test, pool_free_pages(), pool_pages());
	}
}

/*
 * unmapped_map_local() reaches an unmapped page without putting it back
 * in the direct map, and leaves no mapping behind; a mapped page is
 * reached through the direct map.
 */
static void map_local_reaches_unmapped_pages(struct kunit *test)
{
	struct page *page, *mapped, *slot_page;
	bool filled;
	void *addr;

	page = unmapped_alloc(GFP_KERNEL | __GFP_ZERO, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	addr = unmapped_map_local(page_to_pfn(page));
	slot_page = vmalloc_to_page(addr);
	memset(addr, 0x5a, PAGE_SIZE);
	unmapped_unmap_local(addr);
	KUNIT_EXPECT_PTR_EQ(test, slot_page, page);
	KUNIT_EXPECT_FALSE(test, kernel_page_present(page));
	/* Nothing maps the page after the access. */
	KUNIT_EXPECT_NULL(test, vmalloc_to_page(addr));

	addr = unmapped_map_local(page_to_pfn(page));
	filled = !memchr_inv(addr, 0x5a, PAGE_SIZE);
	unmapped_unmap_local(addr);
	KUNIT_EXPECT_TRUE(test, filled);
	unmapped_free(page, 0);

	mapped = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mapped);
	addr = unmapped_map_local(page_to_pfn(mapped));
	unmapped_unmap_local(addr);
	KUNIT_EXPECT_PTR_EQ(test, addr, page_address(mapped));
	__free_page(mapped);
}

struct irq_mapper {
	struct hrtimer timer;
	struct page *page;
	bool done, filled, present_after;
};

static enum hrtimer_restart irq_map_page(struct hrtimer *timer)
{
	struct irq_mapper *m = container_of(timer, struct irq_mapper, timer);
	void *addr = unmapped_map_local(page_to_pfn(m->page));

	m->filled = !memchr_inv(addr, 0xa5, PAGE_SIZE);
	unmapped_unmap_local(addr);
	m->present_after = !!vmalloc_to_page(addr);
	WRITE_ONCE(m->done, true);
	return HRTIMER_NORESTART;
}

/*
 * An interrupt that maps a page while the task it interrupted holds a
 * mapping gets a slot of its own: the task's mapping survives, and each
 * side reads its own page.
 */
static void map_local_nests_in_interrupt(struct kunit *test)
{
	struct page *outer, *inner, *seen;
	struct irq_mapper m = { };
	unsigned long timeout;
	bool outer_ok;
	void *addr;

	outer = unmapped_alloc(GFP_KERNEL, 0);
	inner = unmapped_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, outer);
	KUNIT_ASSERT_NOT_NULL(test, inner);
	pages_fill(outer, 1, 0x5a);
	pages_fill(inner, 1, 0xa5);
	m.page = inner;
	hrtimer_setup_on_stack(&m.timer, irq_map_page, CLOCK_MONOTONIC,
			       HRTIMER_MODE_REL_PINNED_HARD);

	addr = unmapped_map_local(page_to_pfn(outer));
	hrtimer_start(&m.timer, us_to_ktime(100), HRTIMER_MODE_REL_PINNED_HARD);
	timeout = jiffies + HZ;
	while (!READ_ONCE(m.done) && time_before(jiffies, timeout))
		cpu_relax();
	seen = vmalloc_to_page(addr);
	outer_ok = seen == outer && !memchr_inv(addr, 0x5a, PAGE_SIZE);
	unmapped_unmap_local(addr);
	hrtimer_cancel(&m.timer);
	destroy_hrtimer_on_stack(&m.timer);

	KUNIT_EXPECT_TRUE_MSG(test, READ_ONCE(m.done), "the timer never fired");
	KUNIT_EXPECT_TRUE(test, m.filled);
	KUNIT_EXPECT_FALSE(test, m.present_after);
	KUNIT_EXPECT_PTR_EQ(test, seen, outer);
	KUNIT_EXPECT_TRUE(test, outer_ok);
	KUNIT_EXPECT_NULL(test, vmalloc_to_page(addr));
	KUNIT_EXPECT_FALSE(test, kernel_page_present(outer));
	KUNIT_EXPECT_FALSE(test, kernel_page_present(inner));
	unmapped_free(outer, 0);
	unmapped_free(inner, 0);
}

/*
 * Free pool pages are offline (so dump tools skip them), handed-out ones
 * are not. Memory offlining releases a range's free blocks and is refused
 * at once where a block is in use.
 */
static void offline_releases_free_refuses_used(struct kunit *test)
{
	struct memory_notify mn = { .nr_pages = BLOCK_PAGES };
	struct page *used, *block;
	int ret;

	used = unmapped_alloc(GFP_KERNEL, 0);
	block = unmapped_alloc(GFP_KERNEL, BLOCK_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, used);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_EXPECT_FALSE(test, PageOffline(used));
	KUNIT_EXPECT_TRUE(test, PageOffline(used + 1));
	KUNIT_EXPECT_FALSE(test, PageOffline(block));
	unmapped_free(block, BLOCK_ORDER);
	KUNIT_EXPECT_TRUE(test, PageOffline(block));
	KUNIT_EXPECT_TRUE(test, PageOffline(block + BLOCK_PAGES - 1));
	KUNIT_EXPECT_EQ(test, pool_blocks(), 2);

	mn.start_pfn = page_to_pfn(block);
	ret = unmapped_memory_callback(NULL, MEM_GOING_OFFLINE, &mn);
	KUNIT_EXPECT_EQ(test, notifier_to_errno(ret), 0);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 1);
	KUNIT_EXPECT_FALSE(test, PageOffline(block));

	mn.start_pfn = ALIGN_DOWN(page_to_pfn(used), BLOCK_PAGES);
	ret = unmapped_memory_callback(NULL, MEM_GOING_OFFLINE, &mn);
	KUNIT_EXPECT_EQ(test, notifier_to_errno(ret), -EBUSY);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 1);
	unmapped_free(used, 0);
}

#ifdef CONFIG_MEMORY_FAILURE
/*
 * Whether allocating as many zeroed pages as the pools have free (the
 * dirty ones are scrubbed first) hands out @victim.
 */
static bool pool_hands_out(struct kunit *test, struct page *victim)
{
	unsigned long nr = pool_free_pages(), i;
	struct page **pages;
	bool found = false;

	pages = kunit_kmalloc_array(test, nr, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	for (i = 0; i < nr; i++) {
		pages[i] = unmapped_alloc(GFP_KERNEL | __GFP_ZERO, 0);
		if (!pages[i])
			break;
		found |= pages[i] == victim;
	}
	while (i--)
		unmapped_free(pages[i], 0);
	return found;
}

/*
 * Memory failure on a free pool page takes it out of service: no
 * allocation returns it, no scrub touches it, and when its block is
 * released the page stays out of the direct map and of the page
 * allocator, marked offline.
 */
static void hwpoison_free_page_never_handed_out(struct kunit *test)
{
	unsigned long retired = vm_event(UNMAPPED_HWPOISON);
	struct page *block, *victim;

	block = unmapped_alloc(GFP_KERNEL, BLOCK_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, block);
	victim = block + 100;
	pages_fill(block, BLOCK_PAGES, 0x5a);
	unmapped_free(block, BLOCK_ORDER);

	KUNIT_EXPECT_EQ(test, memory_failure(page_to_pfn(victim), MF_SW_SIMULATED), 0);
	KUNIT_EXPECT_TRUE(test, PageHWPoison(victim));
	KUNIT_EXPECT_FALSE(test, pool_hands_out(test, victim));
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_HWPOISON) - retired, 1);
	KUNIT_EXPECT_EQ(test, pool_free_pages(), BLOCK_PAGES - 1);

	KUNIT_EXPECT_EQ(test, unmapped_release_all(), BLOCK_PAGES);
	KUNIT_EXPECT_EQ(test, pool_blocks(), 0);
	KUNIT_EXPECT_FALSE(test, kernel_page_present(victim));
	KUNIT_EXPECT_TRUE(test, PageOffline(victim));
	if (!debug_pagealloc_enabled())
		KUNIT_EXPECT_TRUE(test, kernel_page_present(victim + 1));
}

/* A page poisoned while in use is retired when it is freed. */
static void hwpoison_page_freed_after_failure(struct kunit *test)
{
	unsigned long retired = vm_event(UNMAPPED_HWPOISON);
	struct page *victim;

	victim = unmapped_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, victim);
	/* In use, so memory failure cannot take it: it only marks it. */
	memory_failure(page_to_pfn(victim), MF_SW_SIMULATED);
	KUNIT_ASSERT_TRUE(test, PageHWPoison(victim));
	unmapped_free(victim, 0);

	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_HWPOISON) - retired, 1);
	KUNIT_EXPECT_FALSE(test, pool_hands_out(test, victim));
	unmapped_release_all();
	KUNIT_EXPECT_EQ(test, pool_blocks(), 0);
	KUNIT_EXPECT_FALSE(test, kernel_page_present(victim));
}
#else
static void hwpoison_free_page_never_handed_out(struct kunit *test)
{
	kunit_skip(test, "no CONFIG_MEMORY_FAILURE");
}

static void hwpoison_page_freed_after_failure(struct kunit *test)
{
	kunit_skip(test, "no CONFIG_MEMORY_FAILURE");
}
#endif

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
static int split_test_init_fs(struct fs_context *fc)
{
	return init_pseudo(fc, 0x756e6d70) ? 0 : -ENOMEM;
}

static struct file_system_type split_test_fs = {
	.name = "unmapped_split_test",
	.init_fs_context = split_test_init_fs,
	.kill_sb = kill_anon_super,
};

/*
 * Splitting a large unmapped folio in the page cache keeps PG_unmapped on
 * every piece, so that each goes back to its pool when it is freed.
 */
static void split_keeps_unmapped(struct kunit *test)
{
	const unsigned int order = 4, nr = 1U << order;
	unsigned int i, missing = 0;
	struct vfsmount *mnt;
	struct folio *folio;
	struct inode *inode;
	int err;

	mnt = kern_mount(&split_test_fs);
	KUNIT_ASSERT_FALSE(test, IS_ERR(mnt));
	inode = alloc_anon_inode(mnt->mnt_sb);
	KUNIT_ASSERT_FALSE(test, IS_ERR(inode));
	mapping_set_large_folios(inode->i_mapping);
	mapping_set_unevictable(inode->i_mapping);
	/* A split drops pieces beyond EOF at once: keep them all inside. */
	i_size_write(inode, (loff_t)nr * PAGE_SIZE);

	folio = unmapped_folio_alloc(GFP_KERNEL | __GFP_ZERO, order, NUMA_NO_NODE);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	err = filemap_add_folio(inode->i_mapping, folio, 0, GFP_KERNEL);
	KUNIT_ASSERT_EQ(test, err, 0);
	/* An LRU batch holds a reference that would make the split fail. */
	lru_add_drain_all();
	KUNIT_EXPECT_EQ(test, split_folio(folio), 0);
	folio_unlock(folio);
	folio_put(folio);

	for (i = 0; i < nr; i++) {
		struct page *page = pfn_to_page(folio_pfn(folio) + i);

		if (PageUnmapped(page))
			continue;
		/* Keep the page from the buddy allocator, whatever happens. */
		missing++;
		set_bit(PG_unmapped, &page->flags.f);
	}
	KUNIT_EXPECT_EQ_MSG(test, missing, 0, "pieces of an order-%u split without PG_unmapped",
			    order);
	KUNIT_EXPECT_TRUE(test, pages_present(folio_page(folio, 0), nr, false));

	truncate_inode_pages(inode->i_mapping, 0);
	iput(inode);
	kern_unmount(mnt);
	lru_add_drain_all();
	KUNIT_EXPECT_EQ(test, pool_free_pages(), pool_pages());
}
#else
static void split_keeps_unmapped(struct kunit *test)
{
	kunit_skip(test, "no CONFIG_TRANSPARENT_HUGEPAGE");
}
#endif

/* Take every page of @nr fresh blocks one by one: the pool starts empty. */
static struct page **alloc_blocks_by_page(struct kunit *test, unsigned int nr)
{
	struct page **pages;
	unsigned int i;

	pages = kunit_kmalloc_array(test, nr * BLOCK_PAGES, sizeof(*pages),
				    GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	for (i = 0; i < nr * BLOCK_PAGES; i++) {
		pages[i] = unmapped_alloc(GFP_KERNEL, 0);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
	}
	KUNIT_ASSERT_EQ(test, pool_blocks(), nr);
	return pages;
}

static struct unmapped_block *block_of(struct page *page)
{
	return mtree_load(&unmapped_state.blocks_by_pfn, page_to_pfn(page));
}

static void free_pages_of(struct page **pages, unsigned int from,
			  unsigned int to)
{
	unsigned int i;

	for (i = from; i < to; i++)
		if (pages[i])
			unmapped_free(pages[i], 0);
}

/* An allocation takes from the partly used block with the fewest free pages. */
static void best_fit_prefers_fullest_block(struct kunit *test)
{
	struct page **pages = alloc_blocks_by_page(test, 2);
	struct unmapped_block *emptier, *fuller;
	struct page *page;

	emptier = block_of(pages[0]);
	fuller = block_of(pages[BLOCK_PAGES]);
	KUNIT_ASSERT_PTR_NE(test, emptier, fuller);
	/* The fuller block is freed into first: last in wins on one list. */
	free_pages_of(pages, BLOCK_PAGES, BLOCK_PAGES + 8);
	free_pages_of(pages, 0, BLOCK_PAGES - 8);

	page = unmapped_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_PTR_EQ(test, block_of(page), fuller);
	unmapped_free(page, 0);
	free_pages_of(pages, BLOCK_PAGES - 8, BLOCK_PAGES);
	free_pages_of(pages, BLOCK_PAGES + 8, 2 * BLOCK_PAGES);
}

/*
 * Past partial_free_max, the free pages of a partly used block go back to
 * the page allocator, scrubbed and in the direct map again, while the page
 * in use stays out of it.
 */
static void trim_gives_back_partial_free(struct kunit *test)
{
	struct page **pages = alloc_blocks_by_page(test, 1);
	struct unmapped_pool *pool = unmapped_state.pools[page_to_nid(pages[0])];
	unsigned long trimmed, scrubbed;
	unsigned int i;

	free_pages_of(pages, 1, BLOCK_PAGES);
	KUNIT_EXPECT_EQ(test, pool_free_pages(), BLOCK_PAGES - 1);
	/* The control: under the limit, nothing is trimmed. */
	KUNIT_EXPECT_FALSE(test, unmapped_pool_trim_one(pool));

	trimmed = vm_event(UNMAPPED_TRIM);
	scrubbed = vm_event(UNMAPPED_SCRUB);
	WRITE_ONCE(unmapped_state.partial_free_max, 0);
	KUNIT_EXPECT_TRUE(test, unmapped_pool_trim_one(pool));
	KUNIT_EXPECT_FALSE(test, unmapped_pool_trim_one(pool));
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_TRIM) - trimmed, BLOCK_PAGES - 1);
	/* Every freed page may hold what its user wrote. */
	KUNIT_EXPECT_EQ(test, vm_event(UNMAPPED_SCRUB) - scrubbed, BLOCK_PAGES - 1);
	KUNIT_EXPECT_EQ(test, pool_pages(), 1);
	KUNIT_EXPECT_EQ(test, pool_free_pages(), 0);
	KUNIT_EXPECT_TRUE(test, pages_present(pages[0], 1, false));
	KUNIT_EXPECT_PTR_EQ(test, block_of(pages[1]), NULL);
	if (!debug_pagealloc_enabled())
		for (i = 1; i < BLOCK_PAGES; i++)
			KUNIT_EXPECT_TRUE(test, pages_present(pages[i], 1, true));

	/* The last page frees the block, which is released around the rest. */
	unmapped_free(pages[0], 0);
	KUNIT_EXPECT_EQ(test, unmapped_release_all(), 1);
	KUNIT_EXPECT_PTR_EQ(test, block_of(pages[0]), NULL);
	if (!debug_pagealloc_enabled())
		KUNIT_EXPECT_TRUE(test, pages_present(pages[0], 1, true));
}

static struct kunit_case unmapped_alloc_cases[] = {
	KUNIT_CASE(alloc_free_every_order),
	KUNIT_CASE(handed_out_pages_not_present),
	KUNIT_CASE(present_again_after_release),
	KUNIT_CASE(zero_flag_gives_zeroed_pages),
	KUNIT_CASE(refills_in_a_row_share_flushes),
	KUNIT_CASE(stream_leftovers_go_back),
	KUNIT_CASE(batch_blocks_zeroed_when_taken),
	KUNIT_CASE(partly_used_block_zeroed_through_slots),
	KUNIT_CASE(direct_map_not_split),
	KUNIT_CASE(shrinker_releases_only_free_blocks),
	KUNIT_CASE(concurrent_alloc_free),
	KUNIT_CASE(bad_input_fails_cleanly),
	KUNIT_CASE(nonblocking_uses_only_the_pool),
	KUNIT_CASE(final_folio_put_returns_to_pool),
	KUNIT_CASE(map_local_reaches_unmapped_pages),
	KUNIT_CASE(map_local_nests_in_interrupt),
	KUNIT_CASE(hwpoison_free_page_never_handed_out),
	KUNIT_CASE(hwpoison_page_freed_after_failure),
	KUNIT_CASE(split_keeps_unmapped),
	KUNIT_CASE(offline_releases_free_refuses_used),
	KUNIT_CASE(best_fit_prefers_fullest_block),
	KUNIT_CASE(trim_gives_back_partial_free),
	{}
};

static struct kunit_suite unmapped_alloc_suite = {
	.name = "unmapped_alloc",
	.init = unmapped_test_init,
	.exit = unmapped_test_exit,
	.test_cases = unmapped_alloc_cases,
};

kunit_test_suite(unmapped_alloc_suite);
