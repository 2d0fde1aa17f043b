// SPDX-License-Identifier: GPL-2.0-only
/*
 * Random requests against guest_memfd, with and without
 * GUEST_MEMFD_FLAG_NO_DIRECT_MAP: creation flags and sizes, fallocate
 * modes and ranges, mmap and faults, populate (MADV_POPULATE_*) and mlock
 * through it, memslot bindings, reads and writes on the fd, closes, on
 * default and software-protected VMs. Between VMs, a few free pool pages
 * are poisoned (CONFIG_HWPOISON_INJECT's corrupt-pfn): the pool must retire
 * each one and still drain around them.
 *
 * Every call must succeed or fail with an errno from a short list; a call
 * that fails otherwise is logged with its arguments. Once everything is
 * closed the unmapped pool must drain to nothing (no page leaked). Kernel
 * splats fail the run through the kernel log check of `make check`.
 *
 * GMEM_FUZZ_SEED and GMEM_FUZZ_ITERATIONS override the seed (32 bits,
 * printed, so a failure can be replayed) and the number of iterations
 * (100000).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/falloc.h>
#include <linux/kernel-page-flags.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "unmapped_util.h"
#include "kselftest_harness.h"

#define KNOWN_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED | \
			 GUEST_MEMFD_FLAG_NO_DIRECT_MAP | GUEST_MEMFD_FLAG_NO_ZERO)
#define MAX_FILES	8
#define MAX_SLOTS	4
#define MAX_POPULATE	(256 * PAGE_SIZE)	/* per fallocate, to bound memory */
#define VM_LIFETIME	512			/* iterations per VM */
#define CORRUPT_PFN	"/sys/kernel/debug/hwpoison/corrupt-pfn"
#define MAX_POISONED	4	/* each takes a page out of service for good */

struct gmem {
	int fd;
	u64 size, flags;
};

static struct guest_random_state rng;
static sigjmp_buf fault_jmp;
static unsigned long nr_ok, nr_failed;

/*
 * Any u64, all 64 bits of it: guest_random_u32() gives 31 (1 to 2^31 - 2),
 * so guest_random_u64() would never set bits 31 and 63.
 */
static u64 rnd(void)
{
	u64 hi = guest_random_u32(&rng), mid = guest_random_u32(&rng);

	return hi << 62 | mid << 31 | guest_random_u32(&rng);
}

static u64 rnd_below(u64 n)
{
	return n ? rnd() % n : 0;
}

/* A size or length: mostly sensible, sometimes anything at all. */
static u64 rnd_size(u64 limit)
{
	switch (rnd_below(8)) {
	case 0:
		return rnd();
	case 1:
		return rnd_below(3 * PAGE_SIZE);	/* unaligned, small */
	case 2:
		return -PAGE_SIZE;
	case 3:
		return SZ_2M;
	default:
		return (1 + rnd_below(limit / PAGE_SIZE)) * PAGE_SIZE;
	}
}

static u64 rnd_offset(u64 size)
{
	switch (rnd_below(6)) {
	case 0:
		return rnd();
	case 1:
		return rnd_below(size + SZ_2M);		/* maybe unaligned */
	default:
		return rnd_below(size / PAGE_SIZE + 2) * PAGE_SIZE;
	}
}

static void on_fault(int sig)
{
	siglongjmp(fault_jmp, sig);
}

/* Errnos a bad request may get; anything else is a bug. */
static bool errno_expected(int err)
{
	switch (err) {
	case EINVAL: case ENOMEM: case EFAULT: case EEXIST: case ENOSPC:
	case EOPNOTSUPP: case ENODEV: case EFBIG: case EPERM: case E2BIG:
	case EACCES: case EOVERFLOW: case ENXIO: case EBUSY: case EAGAIN:
	case EBADF:
		return true;
	}
	return false;
}

#define CHECK_CALL(ret, fmt, ...)						\
do {										\
	if ((ret) >= 0) {							\
		nr_ok++;							\
		break;								\
	}									\
	nr_failed++;								\
	EXPECT_TRUE(errno_expected(errno))					\
		TH_LOG(fmt ": unexpected errno %d (%s)", ##__VA_ARGS__,	\
		       errno, strerror(errno));					\
} while (0)

static struct kvm_vm *new_vm(unsigned long *type)
{
	*type = (kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)) &&
		(rnd() & 1) ? KVM_X86_SW_PROTECTED_VM : KVM_X86_DEFAULT_VM;
	return vm_create_barebones_type(*type);
}

/*
 * A page free in an unmapped pool: pool pages are the only offline pages
 * here (no balloon or virtio-mem). Returns -1 if there is none.
 */
static long free_pool_pfn(void)
{
	const u64 want = 1ull << KPF_OFFLINE, skip = 1ull << KPF_HWPOISON;
	u64 flags[512];
	long pfn = 0, found = -1;
	ssize_t n;
	int fd = open("/proc/kpageflags", O_RDONLY);

	TEST_ASSERT(fd >= 0, "open /proc/kpageflags");
	while (found < 0 && (n = read(fd, flags, sizeof(flags))) > 0) {
		for (int i = 0; i < n / (ssize_t)sizeof(u64); i++, pfn++) {
			if ((flags[i] & want) && !(flags[i] & skip)) {
				found = pfn;
				break;
			}
		}
	}
	close(fd);
	return found;
}

/* Mark a free pool page poisoned, as a memory error would: 1 if done. */
static int poison_free_pool_page(void)
{
	long pfn = free_pool_pfn();
	char val[32];
	int fd;

	if (pfn < 0)
		return 0;
	fd = open(CORRUPT_PFN, O_WRONLY);
	TEST_ASSERT(fd >= 0, "open %s", CORRUPT_PFN);
	snprintf(val, sizeof(val), "%#lx", pfn);
	TEST_ASSERT(write(fd, val, strlen(val)) == (ssize_t)strlen(val),
		    "poison pfn %#lx: %s", pfn, strerror(errno));
	close(fd);
	return 1;
}

/* A fixture only for TEST_F_TIMEOUT: the default 30 s is short for KASAN. */
FIXTURE(fuzz) {};
FIXTURE_SETUP(fuzz) {}
FIXTURE_TEARDOWN(fuzz) {}

TEST_F_TIMEOUT(fuzz, random_requests, 600)
{
	static const int modes[] = {
		0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, FALLOC_FL_COLLAPSE_RANGE,
		FALLOC_FL_INSERT_RANGE, FALLOC_FL_UNSHARE_RANGE, -1,
	};
	u32 seed = env_u32("GMEM_FUZZ_SEED", time(NULL));
	u64 iterations = env_u64("GMEM_FUZZ_ITERATIONS", 100000);
	struct gmem files[MAX_FILES] = {};
	struct sigaction sa = { .sa_handler = on_fault };
	bool can_poison = !access(CORRUPT_PFN, W_OK);
	u64 hwpoison = vmstat_read("unmapped_hwpoison");
	struct kvm_vm *vm = NULL;
	unsigned long type = 0, i, j;
	int nr_files = 0, poisoned = 0;
	char buf[64];

	rng = unmapped_random_state(seed);
	ksft_print_msg("seed %u (GMEM_FUZZ_SEED=%u replays it), %llu iterations\n",
		       seed, seed, (unsigned long long)iterations);
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(sigaction(SIGBUS, &sa, NULL), 0);
	ASSERT_EQ(sigaction(SIGSEGV, &sa, NULL), 0);

	for (i = 0; i < iterations; i++) {
		struct gmem *g = nr_files ? &files[rnd_below(nr_files)] : NULL;
		u64 len, off;
		void *mem;
		int ret;

		if (!(i % VM_LIFETIME)) {
			/* Close everything with the VM, memslots included. */
			for (j = 0; j < nr_files; j++)
				close(files[j].fd);
			nr_files = 0;
			if (vm)
				kvm_vm_free(vm);
			if (can_poison && poisoned < MAX_POISONED && !rnd_below(8))
				poisoned += poison_free_pool_page();
			vm = new_vm(&type);
			continue;
		}

		switch (rnd_below(8)) {
		case 0:
		case 1: {	/* create */
			struct kvm_create_guest_memfd args = {
				.size = rnd_size(SZ_4M),
				.flags = rnd_below(4) ? rnd() & KNOWN_FLAGS : rnd(),
			};

			ret = __vm_ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
			CHECK_CALL(ret, "create: type %lu size 0x%llx flags 0x%llx",
				   type, args.size, args.flags);
			if (ret < 0)
				break;
			if (nr_files == MAX_FILES) {
				close(files[0].fd);
				files[0] = files[--nr_files];
			}
			files[nr_files++] = (struct gmem){ ret, args.size, args.flags };
			break;
		}
		case 2:		/* fallocate */
			if (!g)
				break;
			ret = modes[rnd_below(ARRAY_SIZE(modes))];
			off = rnd_offset(g->size);
			len = rnd_size(MAX_POPULATE);
			if (!(ret & FALLOC_FL_PUNCH_HOLE) && len > MAX_POPULATE && !(rnd() & 7))
				len = MAX_POPULATE;
			ret = fallocate(g->fd, ret, off, len);
			CHECK_CALL(ret, "fallocate: offset 0x%lx len 0x%lx flags 0x%lx",
				   off, len, g->flags);
			break;
		case 3:		/* mmap, then touch, populate or lock it */
			if (!g)
				break;
			len = rnd_size(g->size + SZ_2M);
			off = rnd_offset(g->size);
			mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
				   rnd_below(4) ? MAP_SHARED : MAP_PRIVATE, g->fd, off);
			CHECK_CALL(mem == MAP_FAILED ? -1 : 0,
				   "mmap: len 0x%lx offset 0x%lx flags 0x%lx", len, off, g->flags);
			if (mem == MAP_FAILED)
				break;
			off = rnd_below(len / PAGE_SIZE) * PAGE_SIZE;
			switch (rnd_below(4)) {
			case 0:
				ret = madvise(mem, len, MADV_POPULATE_WRITE);
				CHECK_CALL(ret, "MADV_POPULATE_WRITE: len 0x%lx flags 0x%lx",
					   len, g->flags);
				break;
			case 1:
				ret = madvise(mem, len, MADV_POPULATE_READ);
				CHECK_CALL(ret, "MADV_POPULATE_READ: len 0x%lx flags 0x%lx",
					   len, g->flags);
				break;
			case 2:
				ret = mlock(mem, len);
				CHECK_CALL(ret, "mlock: len 0x%lx flags 0x%lx", len, g->flags);
				munlock(mem, len);
				break;
			default:
				/* A page past EOF or a private one raises SIGBUS: fine. */
				if (!sigsetjmp(fault_jmp, 1))
					WRITE_ONCE(*((char *)mem + off), 1);
				break;
			}
			munmap(mem, len);
			break;
		case 4: {	/* bind to a memslot, or delete one */
			struct kvm_userspace_memory_region2 region = {
				.slot = rnd_below(MAX_SLOTS),
				.flags = rnd_below(8) ? KVM_MEM_GUEST_MEMFD : rnd() & 0xff,
				.guest_phys_addr = SZ_4G + rnd_below(64) * SZ_2M,
				.memory_size = rnd_below(4) ? rnd_size(SZ_4M) : 0,
				.guest_memfd_offset = rnd_offset(g ? g->size : SZ_2M),
				.guest_memfd = g ? g->fd : -1,
			};

			ret = __vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region);
			CHECK_CALL(ret, "memslot: %u flags 0x%x gpa 0x%llx size 0x%llx off 0x%llx",
				   region.slot, region.flags, region.guest_phys_addr,
				   region.memory_size, region.guest_memfd_offset);
			break;
		}
		case 5:		/* the fd has no read or write */
			if (!g)
				break;
			ret = rnd() & 1 ? read(g->fd, buf, sizeof(buf)) :
					  write(g->fd, buf, sizeof(buf));
			EXPECT_EQ(ret, -1);
			CHECK_CALL(ret, "read/write on guest_memfd");
			break;
		case 6:		/* close */
			if (!g)
				break;
			close(g->fd);
			*g = files[--nr_files];
			break;
		default:	/* resize: guest_memfd does not allow it */
			if (!g)
				break;
			ret = ftruncate(g->fd, rnd_size(SZ_4M));
			CHECK_CALL(ret, "ftruncate");
			break;
		}
	}
	for (j = 0; j < nr_files; j++)
		close(files[j].fd);
	if (vm)
		kvm_vm_free(vm);

	ksft_print_msg("%lu calls succeeded, %lu failed as expected or not (see above)\n",
		       nr_ok, nr_failed);
	ksft_print_msg("%d free pool pages poisoned%s\n", poisoned,
		       can_poison ? "" : " (no " CORRUPT_PFN ")");
	EXPECT_EQ(vmstat_read("unmapped_hwpoison") - hwpoison, poisoned);
	/* Nothing holds unmapped pages any more: the pool must drain. */
	EXPECT_EQ(unmapped_pool_drain(), 0);
}

TEST_HARNESS_MAIN
