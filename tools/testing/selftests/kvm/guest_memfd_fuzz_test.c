// SPDX-License-Identifier: GPL-2.0-only
/*
 * Random requests against guest_memfd, with and without
 * GUEST_MEMFD_FLAG_NO_DIRECT_MAP (on 4 KiB and on 2 MiB folios, which
 * holes split): creation flags and sizes, fallocate
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
			 GUEST_MEMFD_FLAG_NO_DIRECT_MAP | GUEST_MEMFD_FLAG_NO_ZERO | \
			 GUEST_MEMFD_FLAG_HUGE_PAGES)
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

/* How often an operation ran, and how the calls it made went. */
struct fuzz_count {
	unsigned long ran, ok, failed, unexpected;
};

/* The fuzzer's state, which every operation gets. */
struct fuzz_ctx {
	struct guest_random_state rng;
	struct kvm_vm *vm;
	unsigned long type;		/* of vm */
	struct gmem files[MAX_FILES];
	int nr_files;
	struct gmem *g;			/* picked for this iteration, or NULL */
	bool can_poison;
	int poisoned;
	const char *op;			/* the operation running, */
	struct fuzz_count *count;	/* and its counters */
};

static sigjmp_buf fault_jmp;

/*
 * Any u64, all 64 bits of it: guest_random_u32() gives 31 (1 to 2^31 - 2),
 * so guest_random_u64() would never set bits 31 and 63.
 */
static u64 rnd(struct fuzz_ctx *c)
{
	u64 hi = guest_random_u32(&c->rng), mid = guest_random_u32(&c->rng);

	return hi << 62 | mid << 31 | guest_random_u32(&c->rng);
}

static u64 rnd_below(struct fuzz_ctx *c, u64 n)
{
	return n ? rnd(c) % n : 0;
}

/* A size or length: mostly sensible, sometimes anything at all. */
static u64 rnd_size(struct fuzz_ctx *c, u64 limit)
{
	switch (rnd_below(c, 8)) {
	case 0:
		return rnd(c);
	case 1:
		return rnd_below(c, 3 * PAGE_SIZE);	/* unaligned, small */
	case 2:
		return -PAGE_SIZE;
	case 3:
		return SZ_2M;
	default:
		return (1 + rnd_below(c, limit / PAGE_SIZE)) * PAGE_SIZE;
	}
}

static u64 rnd_offset(struct fuzz_ctx *c, u64 size)
{
	switch (rnd_below(c, 6)) {
	case 0:
		return rnd(c);
	case 1:
		return rnd_below(c, size + SZ_2M);	/* maybe unaligned */
	default:
		return rnd_below(c, size / PAGE_SIZE + 2) * PAGE_SIZE;
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

/* Count a call's result: 0, or the errno it should not have failed with. */
static int call_count(struct fuzz_ctx *c, long ret)
{
	if (ret >= 0) {
		c->count->ok++;
		return 0;
	}
	c->count->failed++;
	if (errno_expected(errno))
		return 0;
	c->count->unexpected++;
	return errno;
}

/*
 * In an operation (its _metadata and c): an unexpected failure is logged
 * with the operation's name and the call's arguments.
 */
#define CHECK_CALL(ret, fmt, ...)						\
do {										\
	int err_ = call_count(c, ret);						\
										\
	EXPECT_EQ(0, err_)							\
		TH_LOG("%s: " fmt ": unexpected errno %d (%s)", c->op,		\
		       ##__VA_ARGS__, err_, strerror(err_));			\
} while (0)

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

/* Close the files and the VM, memslots included. */
static void close_all(struct fuzz_ctx *c)
{
	int i;

	for (i = 0; i < c->nr_files; i++)
		close(c->files[i].fd);
	c->nr_files = 0;
	if (c->vm)
		kvm_vm_free(c->vm);
	c->vm = NULL;
}

/* Every VM_LIFETIME iterations: a new VM, and maybe a pool page poisoned. */
static void renew_vm(struct fuzz_ctx *c)
{
	close_all(c);
	if (c->can_poison && c->poisoned < MAX_POISONED && !rnd_below(c, 8))
		c->poisoned += poison_free_pool_page();
	c->type = (kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)) &&
		  (rnd(c) & 1) ? KVM_X86_SW_PROTECTED_VM : KVM_X86_DEFAULT_VM;
	c->vm = vm_create_barebones_type(c->type);
}

/* --- the operations ------------------------------------------------------ */

/* A new file, sometimes with unknown flags; when full, files[0] goes. */
static void op_create(struct __test_metadata *_metadata, struct fuzz_ctx *c)
{
	struct kvm_create_guest_memfd args = {
		.size = rnd_size(c, SZ_4M),
		.flags = rnd_below(c, 4) ? rnd(c) & KNOWN_FLAGS : rnd(c),
	};
	int ret = __vm_ioctl(c->vm, KVM_CREATE_GUEST_MEMFD, &args);

	CHECK_CALL(ret, "type %lu size 0x%llx flags 0x%llx",
		   c->type, args.size, args.flags);
	if (ret < 0)
		return;
	if (c->nr_files == MAX_FILES) {
		close(c->files[0].fd);
		c->files[0] = c->files[--c->nr_files];
	}
	c->files[c->nr_files++] = (struct gmem){ ret, args.size, args.flags };
}

static void op_fallocate(struct __test_metadata *_metadata, struct fuzz_ctx *c)
{
	static const int modes[] = {
		0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, FALLOC_FL_COLLAPSE_RANGE,
		FALLOC_FL_INSERT_RANGE, FALLOC_FL_UNSHARE_RANGE, -1,
	};
	int mode = modes[rnd_below(c, ARRAY_SIZE(modes))];
	u64 off = rnd_offset(c, c->g->size);
	u64 len = rnd_size(c, MAX_POPULATE);
	int ret;

	if (!(mode & FALLOC_FL_PUNCH_HOLE) && len > MAX_POPULATE && !(rnd(c) & 7))
		len = MAX_POPULATE;
	ret = fallocate(c->g->fd, mode, off, len);
	CHECK_CALL(ret, "mode 0x%x offset 0x%lx len 0x%lx flags 0x%lx",
		   mode, off, len, c->g->flags);
}

/* Map part of a file, then populate, lock or touch the mapping. */
static void op_mmap(struct __test_metadata *_metadata, struct fuzz_ctx *c)
{
	struct gmem *g = c->g;
	u64 len = rnd_size(c, g->size + SZ_2M);
	u64 off = rnd_offset(c, g->size);
	void *mem;
	int ret;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   rnd_below(c, 4) ? MAP_SHARED : MAP_PRIVATE, g->fd, off);
	CHECK_CALL(mem == MAP_FAILED ? -1 : 0, "len 0x%lx offset 0x%lx flags 0x%lx",
		   len, off, g->flags);
	if (mem == MAP_FAILED)
		return;
	off = rnd_below(c, len / PAGE_SIZE) * PAGE_SIZE;
	switch (rnd_below(c, 4)) {
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
}

/* Bind a file (or no file) to a memslot, or delete a memslot. */
static void op_memslot(struct __test_metadata *_metadata, struct fuzz_ctx *c)
{
	struct gmem *g = c->g;
	struct kvm_userspace_memory_region2 region = {
		.slot = rnd_below(c, MAX_SLOTS),
		.flags = rnd_below(c, 8) ? KVM_MEM_GUEST_MEMFD : rnd(c) & 0xff,
		.guest_phys_addr = SZ_4G + rnd_below(c, 64) * SZ_2M,
		.memory_size = rnd_below(c, 4) ? rnd_size(c, SZ_4M) : 0,
		.guest_memfd_offset = rnd_offset(c, g ? g->size : SZ_2M),
		.guest_memfd = g ? g->fd : -1,
	};
	int ret = __vm_ioctl(c->vm, KVM_SET_USER_MEMORY_REGION2, &region);

	CHECK_CALL(ret, "slot %u flags 0x%x gpa 0x%llx size 0x%llx off 0x%llx",
		   region.slot, region.flags, region.guest_phys_addr,
		   region.memory_size, region.guest_memfd_offset);
}

/* The fd has no read or write. */
static void op_read_write(struct __test_metadata *_metadata, struct fuzz_ctx *c)
{
	bool rd = rnd(c) & 1;
	char buf[64];
	int ret;

	ret = rd ? read(c->g->fd, buf, sizeof(buf)) : write(c->g->fd, buf, sizeof(buf));
	EXPECT_EQ(ret, -1)
		TH_LOG("%s: %s succeeded", c->op, rd ? "read" : "write");
	CHECK_CALL(ret, "%s", rd ? "read" : "write");
}

static void op_close(struct __test_metadata *_metadata, struct fuzz_ctx *c)
{
	close(c->g->fd);
	*c->g = c->files[--c->nr_files];
}

/* Resize: guest_memfd does not allow it. */
static void op_ftruncate(struct __test_metadata *_metadata, struct fuzz_ctx *c)
{
	u64 size = rnd_size(c, SZ_4M);
	int ret = ftruncate(c->g->fd, size);

	CHECK_CALL(ret, "size 0x%lx", size);
}

/* Picked at random, each in proportion to its weight. */
static const struct fuzz_op {
	const char *name;
	unsigned int weight;
	bool needs_file;	/* skipped while there is none */
	void (*run)(struct __test_metadata *_metadata, struct fuzz_ctx *c);
} fuzz_ops[] = {
	{ .name = "create",	.weight = 2, .run = op_create },
	{ .name = "fallocate",	.weight = 1, .run = op_fallocate, .needs_file = true },
	{ .name = "mmap",	.weight = 1, .run = op_mmap, .needs_file = true },
	{ .name = "memslot",	.weight = 1, .run = op_memslot },
	{ .name = "read/write",	.weight = 1, .run = op_read_write, .needs_file = true },
	{ .name = "close",	.weight = 1, .run = op_close, .needs_file = true },
	{ .name = "ftruncate",	.weight = 1, .run = op_ftruncate, .needs_file = true },
};

static const struct fuzz_op *pick_op(struct fuzz_ctx *c)
{
	unsigned int i, total = 0;
	u64 r;

	for (i = 0; i < ARRAY_SIZE(fuzz_ops); i++)
		total += fuzz_ops[i].weight;
	r = rnd_below(c, total);
	for (i = 0; r >= fuzz_ops[i].weight; i++)
		r -= fuzz_ops[i].weight;
	return &fuzz_ops[i];
}

/* A fixture only for TEST_F_TIMEOUT: the default 30 s is short for KASAN. */
FIXTURE(fuzz) {};
FIXTURE_SETUP(fuzz) {}
FIXTURE_TEARDOWN(fuzz) {}

TEST_F_TIMEOUT(fuzz, random_requests, 600)
{
	u32 seed = env_u32("GMEM_FUZZ_SEED", time(NULL));
	u64 iterations = env_u64("GMEM_FUZZ_ITERATIONS", 100000);
	struct fuzz_count count[ARRAY_SIZE(fuzz_ops)] = {};
	struct sigaction sa = { .sa_handler = on_fault };
	struct fuzz_ctx c = {
		.rng = unmapped_random_state(seed),
		.can_poison = !access(CORRUPT_PFN, W_OK),
	};
	u64 hwpoison = vmstat_read("unmapped_hwpoison");
	unsigned long nr_ok = 0, nr_failed = 0, i;

	ksft_print_msg("seed %u (GMEM_FUZZ_SEED=%u replays it), %llu iterations\n",
		       seed, seed, (unsigned long long)iterations);
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(sigaction(SIGBUS, &sa, NULL), 0);
	ASSERT_EQ(sigaction(SIGSEGV, &sa, NULL), 0);

	for (i = 0; i < iterations; i++) {
		const struct fuzz_op *op;

		c.g = c.nr_files ? &c.files[rnd_below(&c, c.nr_files)] : NULL;
		if (!(i % VM_LIFETIME)) {
			renew_vm(&c);
			continue;
		}
		op = pick_op(&c);
		if (op->needs_file && !c.g)
			continue;
		c.op = op->name;
		c.count = &count[op - fuzz_ops];
		c.count->ran++;
		op->run(_metadata, &c);
	}
	close_all(&c);

	for (i = 0; i < ARRAY_SIZE(fuzz_ops); i++) {
		ksft_print_msg("%-10s ran %lu times: %lu calls ok, %lu failed (%lu unexpectedly)\n",
			       fuzz_ops[i].name, count[i].ran, count[i].ok,
			       count[i].failed, count[i].unexpected);
		nr_ok += count[i].ok;
		nr_failed += count[i].failed;
	}
	ksft_print_msg("%lu calls succeeded, %lu failed as expected or not (see above)\n",
		       nr_ok, nr_failed);
	ksft_print_msg("%d free pool pages poisoned%s\n", c.poisoned,
		       c.can_poison ? "" : " (no " CORRUPT_PFN ")");
	EXPECT_EQ(vmstat_read("unmapped_hwpoison") - hwpoison, c.poisoned);
	/* Nothing holds unmapped pages any more: the pool must drain. */
	EXPECT_EQ(unmapped_pool_drain(), 0);
}

TEST_HARNESS_MAIN
