// SPDX-License-Identifier: GPL-2.0-only
/*
 * 2 MiB folios in NO_DIRECT_MAP guest_memfd files (GUEST_MEMFD_FLAG_HUGE_PAGES).
 *
 * What a guest gets is read from KVM's own statistics (pages_2m and
 * pages_4k count its second-level mappings by size), what the host keeps
 * from the pools' counters and the file's fdinfo, and what the guest sees
 * from the guest itself: it tags every page and counts the pages that still
 * hold their tag and those that read as zeroes. Every check that huge
 * folios pass has a control that must come out the other way: an ordinary
 * guest_memfd file, or the pages a hole or a conversion took away.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/falloc.h>
#include <linux/sizes.h>

#include "cgroup_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"
#include "unmapped_util.h"
#include "kselftest_harness.h"

#define NO_DIRECT_MAP	GUEST_MEMFD_FLAG_NO_DIRECT_MAP
#define MMAP		GUEST_MEMFD_FLAG_MMAP
#define INIT_SHARED	GUEST_MEMFD_FLAG_INIT_SHARED
#define HUGE_PAGES	GUEST_MEMFD_FLAG_HUGE_PAGES

#define TEST_GPA	SZ_4G
#define TEST_SLOT	1
#define HUGE_BYTES	SZ_2M
#define HUGE_NR		(HUGE_BYTES / PAGE_SIZE)
#define WORDS		(PAGE_SIZE / sizeof(u64))
#define TAG		0x7a6700000000ull

enum { STAGE_START, STAGE_WRITTEN, STAGE_CHECKED };

static bool page_is_zero(const u64 *page)
{
	u64 i;

	for (i = 0; i < WORDS; i++)
		if (page[i])
			return false;
	return true;
}

/*
 * Tag the first and last word of each of @pages pages at @gpa, then, each
 * time the host resumes it, count the pages that keep their tag and those
 * that read as zeroes.
 */
static void guest_tag_and_check(u64 gpa, u64 pages)
{
	u64 *mem = (u64 *)gpa, *page;
	u64 i, tagged, zero;

	GUEST_SYNC3(STAGE_START, 0, 0);
	for (i = 0; i < pages; i++) {
		page = mem + i * WORDS;
		page[0] = TAG + i;
		page[WORDS - 1] = TAG + i;
	}
	GUEST_SYNC3(STAGE_WRITTEN, 0, 0);
	for (;;) {
		tagged = 0;
		zero = 0;
		for (i = 0; i < pages; i++) {
			page = mem + i * WORDS;
			tagged += page[0] == TAG + i && page[WORDS - 1] == TAG + i;
			zero += page_is_zero(page);
		}
		GUEST_SYNC3(STAGE_CHECKED, tagged, zero);
	}
}

/* Run @vcpu to its next sync, which must be @stage; the sync's arguments. */
static struct ucall run_to(struct __test_metadata *_metadata,
			   struct kvm_vcpu *vcpu, u64 stage)
{
	struct ucall uc = vcpu_run_to_ucall(vcpu, UCALL_SYNC);

	EXPECT_EQ(uc.args[0], stage);
	return uc;
}

struct mappings {
	u64 pages_4k, pages_2m;
};

static struct mappings mappings_now(struct kvm_vm *vm)
{
	return (struct mappings) {
		.pages_4k = vm_get_stat(vm, pages_4k),
		.pages_2m = vm_get_stat(vm, pages_2m),
	};
}

/* Mappings made since @then, assuming none was zapped. */
static struct mappings mappings_since(struct kvm_vm *vm, struct mappings then)
{
	struct mappings now = mappings_now(vm);

	return (struct mappings) {
		.pages_4k = now.pages_4k - then.pages_4k,
		.pages_2m = now.pages_2m - then.pages_2m,
	};
}

/*
 * A VM of @type whose vCPU runs guest_tag_and_check() on a @size guest_memfd
 * file with @flags at TEST_GPA, mapped 2 MiB at a time in the guest's own
 * page tables. A VM with private memory gets a shared backing too, aligned
 * to 2 MiB so that KVM may map either side huge, and the range is private.
 */
struct huge_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int fd;
	u64 size;
};

static bool huge_vm_create(struct huge_vm *h, unsigned long type, u64 size,
			   u64 flags)
{
	const struct vm_shape shape = { .mode = VM_MODE_DEFAULT, .type = type };

	h->vm = vm_create_shape_with_one_vcpu(shape, &h->vcpu, guest_tag_and_check);
	h->size = size;
	h->fd = -1;
	if ((vm_check_cap(h->vm, KVM_CAP_GUEST_MEMFD_FLAGS) & flags) != flags)
		return false;
	h->fd = vm_create_guest_memfd(h->vm, size, flags);
	if (flags & MMAP) {
		vm_set_user_memory_region2(h->vm, TEST_SLOT, KVM_MEM_GUEST_MEMFD,
					   TEST_GPA, size, NULL, h->fd, 0);
	} else {
		vm_mem_add(h->vm, VM_MEM_SRC_ANONYMOUS_THP, TEST_GPA, TEST_SLOT,
			   size / PAGE_SIZE, KVM_MEM_GUEST_MEMFD, h->fd, 0);
		vm_mem_set_private(h->vm, TEST_GPA, size);
	}
	virt_map_level(h->vm, TEST_GPA, TEST_GPA, size, PG_LEVEL_2M);
	vcpu_args_set(h->vcpu, 2, TEST_GPA, size / PAGE_SIZE);
	return true;
}

static void huge_vm_free(struct huge_vm *h)
{
	if (h->fd >= 0)
		close(h->fd);
	kvm_vm_free(h->vm);
}

static void punch(int fd, u64 offset, u64 len)
{
	kvm_fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, offset, len);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A guest writes every page of 1 GiB: on huge folios KVM maps at least 99%
 * of it 2 MiB at a time; on an ordinary guest_memfd file (the control),
 * none of it.
 */
static void populate_1g(struct __test_metadata *_metadata, u64 flags,
			bool huge)
{
	const u64 pages = SZ_1G / PAGE_SIZE;
	struct mappings base, made;
	struct huge_vm h;
	double start;

	ASSERT_TRUE(huge_vm_create(&h, KVM_X86_DEFAULT_VM, SZ_1G, flags));
	run_to(_metadata, h.vcpu, STAGE_START);
	base = mappings_now(h.vm);
	start = now_seconds();
	run_to(_metadata, h.vcpu, STAGE_WRITTEN);
	made = mappings_since(h.vm, base);
	ksft_print_msg("flags 0x%lx: 1 GiB written in %.1f s, mapped %lu x 2M + %lu x 4K\n",
		       flags, now_seconds() - start, made.pages_2m, made.pages_4k);
	ksft_print_msg("huge folios %lld, fallbacks %lld\n",
		       fdinfo_read(h.fd, "gmem-huge-folios"),
		       fdinfo_read(h.fd, "gmem-huge-fallbacks"));
	if (huge) {
		EXPECT_GE(made.pages_2m * HUGE_NR * 100, pages * 99);
		EXPECT_GE(fdinfo_read(h.fd, "gmem-huge-folios") * HUGE_NR * 100,
			  pages * 99);
	} else {
		EXPECT_EQ(made.pages_2m, 0);
		EXPECT_GE(made.pages_4k, pages);
	}
	huge_vm_free(&h);
}

/* For TEST_F_TIMEOUT: 1 GiB takes a while to fault in under emulation. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, populate_1g_huge, 600)
{
	populate_1g(_metadata, MMAP | INIT_SHARED | NO_DIRECT_MAP | HUGE_PAGES, true);
}

TEST_F_TIMEOUT(slow, populate_1g_control, 600)
{
	populate_1g(_metadata, MMAP | INIT_SHARED, false);
}

/*
 * Pages given back to the pools so far, once the punched folios have left
 * the LRU batches. The event counter, not the pools' free pages: those
 * also change as the pools scrub, trim and release blocks on their own.
 */
static u64 pool_pages_freed(void)
{
	lru_batches_drain();
	return vmstat_read("unmapped_free");
}

/*
 * Holes of 4 KiB and of 1 MiB in two huge folios of a VM without private
 * memory: exactly those pages go back to the pool, each folio is split,
 * KVM maps no stale 2 MiB entry over a hole (the guest would read its old
 * tags there: freed pool pages are not zeroed until they are reused), the
 * rest keeps its data, and the holes read as zeroes, to the guest and to
 * userspace.
 */
TEST(punch_holes)
{
	const u64 pages = 2 * HUGE_NR, holes = 1 + SZ_1M / PAGE_SIZE;
	const u64 one = HUGE_BYTES + 3 * PAGE_SIZE, big = SZ_512K;
	u64 free_before, i, tagged = 0, zero = 0;
	struct mappings base, made;
	struct huge_vm h;
	struct ucall uc;
	u64 *mem;

	ASSERT_TRUE(huge_vm_create(&h, KVM_X86_DEFAULT_VM, 2 * HUGE_BYTES,
				   MMAP | INIT_SHARED | NO_DIRECT_MAP | HUGE_PAGES));
	run_to(_metadata, h.vcpu, STAGE_START);
	base = mappings_now(h.vm);
	run_to(_metadata, h.vcpu, STAGE_WRITTEN);
	made = mappings_since(h.vm, base);
	EXPECT_EQ(made.pages_2m, 2);
	EXPECT_EQ(fdinfo_read(h.fd, "gmem-huge-folios"), 2);

	free_before = pool_pages_freed();
	punch(h.fd, one, PAGE_SIZE);
	punch(h.fd, big, SZ_1M);
	EXPECT_EQ(pool_pages_freed() - free_before, holes);
	EXPECT_EQ(fdinfo_read(h.fd, "gmem-resident"), (pages - holes) * PAGE_SIZE >> 10);
	EXPECT_EQ(fdinfo_read(h.fd, "gmem-huge-splits"), 2);
	EXPECT_EQ(fdinfo_read(h.fd, "gmem-huge-split-failures"), 0);

	uc = run_to(_metadata, h.vcpu, STAGE_CHECKED);
	ksft_print_msg("guest: %lu pages tagged, %lu zero; 2 MiB mappings: %lu\n",
		       uc.args[1], uc.args[2], vm_get_stat(h.vm, pages_2m) - base.pages_2m);
	EXPECT_EQ(uc.args[1], pages - holes);
	EXPECT_EQ(uc.args[2], holes);
	/* Both folios are split: nothing of them can be mapped 2 MiB. */
	EXPECT_EQ(vm_get_stat(h.vm, pages_2m), base.pages_2m);

	mem = mmap(NULL, h.size, PROT_READ, MAP_SHARED, h.fd, 0);
	ASSERT_NE(mem, MAP_FAILED);
	for (i = 0; i < pages; i++) {
		u64 *page = mem + i * WORDS;

		tagged += page[0] == TAG + i && page[WORDS - 1] == TAG + i;
		zero += page_is_zero(page);
	}
	EXPECT_EQ(tagged, pages - holes);
	EXPECT_EQ(zero, holes);
	munmap(mem, h.size);
	huge_vm_free(&h);
}

#define FAIL_FUNCTION	"/sys/kernel/debug/fail_function/"

/* Write @val to fail_function's @file; 0 or -errno. */
static int fail_function_write(const char *file, const char *val)
{
	char path[128], buf[64];
	ssize_t ret;
	int len;

	snprintf(path, sizeof(path), FAIL_FUNCTION "%s", file);
	len = snprintf(buf, sizeof(buf), "%s", val);
	ret = write_text(path, buf, len);
	if (ret < 0) {
		ksft_print_msg("%s: cannot write %s: %s\n", path, val, strerror(-ret));
		return ret;
	}
	return 0;
}

/* Make every call of the kernel's @func return @retval until cleared. */
static int fail_function_on(const char *func, const char *retval)
{
	char file[96];

	snprintf(file, sizeof(file), "%s/retval", func);
	return fail_function_write("inject", func) ?:
	       fail_function_write(file, retval) ?:
	       fail_function_write("probability", "100") ?:
	       fail_function_write("times", "-1") ?:
	       fail_function_write("verbose", "0");
}

/*
 * A split that keeps failing, as while a vCPU held the folio for good:
 * fail_function makes every try fail, as nothing else can on demand. The
 * hole then reads as zeroes all the same (zeroed in place, through the
 * pool's own mapping, as the direct map has none of it), its page stays
 * allocated, and the failure is counted. The control punches the same
 * hole without the injection: the folio splits and the page goes back.
 */
TEST(split_failure_zeroes_hole)
{
	const u64 hole = SZ_1M + 5 * PAGE_SIZE;
	struct kvm_vm *vm;
	u64 freed;
	char *mem;
	int fd, i;

	if (access(FAIL_FUNCTION "inject", W_OK))
		SKIP(return, "no fail_function (CONFIG_FAIL_FUNCTION, debugfs)");
	vm = vm_create_barebones();
	for (i = 0; i < 2; i++) {
		bool inject = !i;

		fd = vm_create_guest_memfd(vm, HUGE_BYTES,
					   MMAP | INIT_SHARED | NO_DIRECT_MAP | HUGE_PAGES);
		mem = mmap(NULL, HUGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(mem, MAP_FAILED);
		memset(mem, 0x5a, HUGE_BYTES);
		ASSERT_EQ(fdinfo_read(fd, "gmem-huge-folios"), 1);
		/* -EBUSY; the retval file takes it as an unsigned 64-bit number. */
		if (inject)
			ASSERT_EQ(fail_function_on("kvm_gmem_truncate_once",
						   "0xfffffffffffffff0"), 0);
		freed = pool_pages_freed();
		punch(fd, hole, PAGE_SIZE);
		if (inject)
			ASSERT_EQ(fail_function_write("inject", "!kvm_gmem_truncate_once"), 0);

		ksft_print_msg("%s: %lld split(s), %lld failure(s), %lu page(s) freed\n",
			       inject ? "split made to fail" : "control",
			       fdinfo_read(fd, "gmem-huge-splits"),
			       fdinfo_read(fd, "gmem-huge-split-failures"),
			       pool_pages_freed() - freed);
		EXPECT_TRUE(page_is_zero((u64 *)(mem + hole)));
		EXPECT_EQ(mem[hole - 1], 0x5a);
		EXPECT_EQ(mem[hole + PAGE_SIZE], 0x5a);
		EXPECT_EQ(fdinfo_read(fd, "gmem-huge-split-failures"), inject);
		EXPECT_EQ(fdinfo_read(fd, "gmem-huge-splits"), !inject);
		EXPECT_EQ(pool_pages_freed() - freed, !inject);
		munmap(mem, HUGE_BYTES);
		close(fd);
	}
	kvm_vm_free(vm);
}

/*
 * On a software-protected VM, part of a huge private folio becomes shared
 * and the VMM discards its private copy, as QEMU does; then it becomes
 * private again. KVM must stop mapping the range 2 MiB (the attributes
 * differ inside it), exactly the discarded pages return to the pool, and
 * the guest reads zeroes there once it is private again, its tags elsewhere.
 */
TEST(convert_part)
{
	const u64 pages = 2 * HUGE_NR, nr = 16, offset = SZ_1M + SZ_64K;
	const u64 len = nr * PAGE_SIZE;
	struct mappings base;
	u64 free_before;
	struct huge_vm h;
	struct ucall uc;

	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		SKIP(return, "no software-protected VMs");
	ASSERT_TRUE(huge_vm_create(&h, KVM_X86_SW_PROTECTED_VM, 2 * HUGE_BYTES,
				   NO_DIRECT_MAP | HUGE_PAGES));
	run_to(_metadata, h.vcpu, STAGE_START);
	base = mappings_now(h.vm);
	run_to(_metadata, h.vcpu, STAGE_WRITTEN);
	EXPECT_EQ(vm_get_stat(h.vm, pages_2m) - base.pages_2m, 2);

	free_before = pool_pages_freed();
	vm_mem_set_shared(h.vm, TEST_GPA + offset, len);
	punch(h.fd, offset, len);
	EXPECT_EQ(pool_pages_freed() - free_before, nr);
	EXPECT_EQ(fdinfo_read(h.fd, "gmem-huge-splits"), 1);
	EXPECT_EQ(fdinfo_read(h.fd, "gmem-huge-split-failures"), 0);

	/* The shared pages read the (zeroed) shared backing, not old tags. */
	uc = run_to(_metadata, h.vcpu, STAGE_CHECKED);
	EXPECT_EQ(uc.args[1], pages - nr);
	EXPECT_EQ(uc.args[2], nr);
	EXPECT_EQ(vm_get_stat(h.vm, pages_2m) - base.pages_2m, 1);

	vm_mem_set_private(h.vm, TEST_GPA + offset, len);
	uc = run_to(_metadata, h.vcpu, STAGE_CHECKED);
	ksft_print_msg("private again: %lu pages tagged, %lu zero\n",
		       uc.args[1], uc.args[2]);
	EXPECT_EQ(uc.args[1], pages - nr);
	EXPECT_EQ(uc.args[2], nr);
	huge_vm_free(&h);
}

/*
 * Userspace maps a huge folio with one PMD where its mapping is aligned,
 * which the file's mappings are; a hole splits that folio's PMD, not the
 * other's. The control, without HUGE_PAGES, maps no PMD at all.
 */
TEST(userspace_pmd)
{
	const u64 flags[] = { MMAP | INIT_SHARED | NO_DIRECT_MAP | HUGE_PAGES,
			      MMAP | INIT_SHARED | NO_DIRECT_MAP };
	const u64 size = 2 * HUGE_BYTES;
	struct kvm_vm *vm = vm_create_barebones();
	unsigned int i;
	char *mem;
	int fd;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		bool huge = flags[i] & HUGE_PAGES;

		fd = vm_create_guest_memfd(vm, size, flags[i]);
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(mem, MAP_FAILED);
		if (huge)
			EXPECT_EQ((unsigned long)mem % HUGE_BYTES, 0);
		memset(mem, 0x5a, size);
		EXPECT_EQ(smaps_read(mem, "FilePmdMapped"), huge ? size >> 10 : 0);
		punch(fd, PAGE_SIZE, PAGE_SIZE);
		EXPECT_EQ(smaps_read(mem, "FilePmdMapped"), huge ? HUGE_BYTES >> 10 : 0);
		EXPECT_EQ(mem[PAGE_SIZE], 0);
		EXPECT_EQ(mem[0], 0x5a);
		munmap(mem, size);
		close(fd);
	}
	kvm_vm_free(vm);
}

/*
 * Dirty logging maps 4 KiB (KVM splits huge mappings when it starts);
 * once it stops, KVM maps the huge folios 2 MiB again without a fault.
 */
/* Flags-only change of the huge_vm's memslot. */
static void set_slot_flags(struct huge_vm *h, u32 flags)
{
	vm_set_user_memory_region2(h->vm, TEST_SLOT, flags, TEST_GPA, h->size,
				   NULL, h->fd, 0);
}

TEST(dirty_log_recovers)
{
	const u32 gmem = KVM_MEM_GUEST_MEMFD;
	struct mappings base;
	struct huge_vm h;

	ASSERT_TRUE(huge_vm_create(&h, KVM_X86_DEFAULT_VM, 2 * HUGE_BYTES,
				   MMAP | INIT_SHARED | NO_DIRECT_MAP | HUGE_PAGES));
	if (!vm_check_cap(h.vm, KVM_CAP_GUEST_MEMFD_DIRTY_LOG)) {
		huge_vm_free(&h);
		SKIP(return, "no dirty logging of guest_memfd");
	}
	run_to(_metadata, h.vcpu, STAGE_START);
	base = mappings_now(h.vm);
	run_to(_metadata, h.vcpu, STAGE_WRITTEN);
	EXPECT_EQ(vm_get_stat(h.vm, pages_2m) - base.pages_2m, 2);

	set_slot_flags(&h, gmem | KVM_MEM_LOG_DIRTY_PAGES);
	run_to(_metadata, h.vcpu, STAGE_CHECKED);
	EXPECT_EQ(vm_get_stat(h.vm, pages_2m), base.pages_2m);

	set_slot_flags(&h, gmem);
	EXPECT_EQ(vm_get_stat(h.vm, pages_2m) - base.pages_2m, 2);
	huge_vm_free(&h);
}

TEST_HARNESS_MAIN
