// SPDX-License-Identifier: GPL-2.0-only
/*
 * GUEST_MEMFD_FLAG_NO_DIRECT_MAP and GUEST_MEMFD_FLAG_NO_ZERO.
 *
 * Besides the ABI, this checks what the flags are for, from views that do
 * not depend on the code under test: whether a page is in the host's
 * direct map is read through its direct-map address in /proc/kcore, which
 * returns zeroes for an address that is not mapped, and /proc/kpageflags
 * shows free pool pages offline. Each such check runs on ordinary
 * guest_memfd memory too, where it must come out the other way, so that a
 * check that cannot fail would show.
 *
 * Needs root and /proc/kcore.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/falloc.h>
#include <linux/futex.h>
#include <linux/kernel-page-flags.h>
#include <linux/mempolicy.h>
#include <linux/magic.h>
#include <linux/sizes.h>

#ifdef LOCAL_CONFIG_HAVE_LIBURING
#include <liburing.h>
#endif

#include "cgroup_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "svm_util.h"
#include "test_util.h"
#include "unmapped_util.h"
#include "ucall_common.h"
#include "kselftest_harness.h"
#include "../../../../lib/test_hmm_uapi.h"

#define NO_DIRECT_MAP	GUEST_MEMFD_FLAG_NO_DIRECT_MAP
#define NO_ZERO		GUEST_MEMFD_FLAG_NO_ZERO
#define MMAP		GUEST_MEMFD_FLAG_MMAP
#define INIT_SHARED	GUEST_MEMFD_FLAG_INIT_SHARED
#define HUGE_PAGES	GUEST_MEMFD_FLAG_HUGE_PAGES
#define KNOWN_FLAGS	(MMAP | INIT_SHARED | NO_DIRECT_MAP | NO_ZERO | HUGE_PAGES)

#define TEST_GPA	SZ_4G
#define TEST_SLOT	1
/* The pools take pages out of the direct map a block at a time. */
#define BLOCK_BYTES	SZ_2M
#define BLOCK_PAGES	((int)(BLOCK_BYTES / PAGE_SIZE))
#define WORDS		(PAGE_SIZE / sizeof(u64))

static bool vm_type_offered(unsigned long type)
{
	return kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(type);
}

static int create_gmem(struct kvm_vm *vm, u64 size, u64 flags)
{
	return __vm_create_guest_memfd(vm, size, flags);
}

/* --- ABI, per VM type ---------------------------------------------------- */

FIXTURE(vm_type) {
	struct kvm_vm *vm;
	u64 caps;
};

FIXTURE_VARIANT(vm_type) {
	unsigned long type;
	u64 must_offer;		/* flags this type must report */
	u64 must_refuse;	/* flags it must not */
};

FIXTURE_VARIANT_ADD(vm_type, default_vm) {
	.type = KVM_X86_DEFAULT_VM,
	.must_offer = MMAP | INIT_SHARED | NO_DIRECT_MAP | HUGE_PAGES,
	.must_refuse = NO_ZERO,
};

/* NO_ZERO here only with CONFIG_KVM_GMEM_NO_ZERO_INSECURE_TESTING. */
FIXTURE_VARIANT_ADD(vm_type, sw_protected_vm) {
	.type = KVM_X86_SW_PROTECTED_VM,
	.must_offer = MMAP | NO_DIRECT_MAP | HUGE_PAGES,
	.must_refuse = INIT_SHARED,
};

FIXTURE_VARIANT_ADD(vm_type, sev_vm) {
	.type = KVM_X86_SEV_VM,
	.must_refuse = NO_DIRECT_MAP | NO_ZERO | HUGE_PAGES,
};

FIXTURE_VARIANT_ADD(vm_type, sev_es_vm) {
	.type = KVM_X86_SEV_ES_VM,
	.must_refuse = NO_DIRECT_MAP | NO_ZERO | HUGE_PAGES,
};

FIXTURE_VARIANT_ADD(vm_type, snp_vm) {
	.type = KVM_X86_SNP_VM,
	.must_offer = NO_ZERO | NO_DIRECT_MAP | HUGE_PAGES,
	.must_refuse = INIT_SHARED,
};

FIXTURE_VARIANT_ADD(vm_type, tdx_vm) {
	.type = KVM_X86_TDX_VM,
	.must_offer = NO_ZERO | NO_DIRECT_MAP | HUGE_PAGES,
	.must_refuse = INIT_SHARED,
};

FIXTURE_SETUP(vm_type)
{
	if (!vm_type_offered(variant->type))
		SKIP(return, "VM type %lu is not offered by this host", variant->type);
	self->vm = vm_create_barebones_type(variant->type);
	self->caps = vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_FLAGS);
}

FIXTURE_TEARDOWN(vm_type)
{
	if (self->vm)
		kvm_vm_free(self->vm);
}

TEST_F(vm_type, reported_flags)
{
	ksft_print_msg("KVM_CAP_GUEST_MEMFD_FLAGS 0x%lx\n", self->caps);
	ASSERT_EQ(self->caps & variant->must_offer, variant->must_offer);
	ASSERT_EQ(self->caps & variant->must_refuse, 0);
	ASSERT_EQ(self->caps & ~KNOWN_FLAGS, 0);
	/* What a VM accepts, /dev/kvm reports too. */
	ASSERT_EQ(kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS) & self->caps, self->caps);
}

/* Every combination of the known flags: accepted exactly when it should be. */
TEST_F(vm_type, flag_combinations)
{
	u64 flags;
	bool ok;
	int fd;

	for (flags = 0; flags <= KNOWN_FLAGS; flags++) {
		if (flags & ~KNOWN_FLAGS)
			continue;
		ok = !(flags & ~self->caps) &&
		     !((flags & NO_ZERO) && (flags & (MMAP | INIT_SHARED))) &&
		     !((flags & HUGE_PAGES) && !(flags & NO_DIRECT_MAP));
		fd = create_gmem(self->vm, BLOCK_BYTES, flags);
		if (!ok) {
			EXPECT_TRUE(fd < 0 && errno == EINVAL)
				TH_LOG("flags 0x%lx: want EINVAL, got fd %d errno %d",
				       flags, fd, errno);
			if (fd >= 0)
				close(fd);
			continue;
		}
		ASSERT_GE(fd, 0) TH_LOG("flags 0x%lx refused: errno %d", flags, errno);
		/* Populate and free some of it, by every type that accepts it. */
		EXPECT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, BLOCK_BYTES), 0);
		EXPECT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
				    PAGE_SIZE, 16 * PAGE_SIZE), 0);
		close(fd);
	}
}

TEST_F(vm_type, unknown_bits)
{
	int bit, fd;

	for (bit = 5; bit < 64; bit++) {
		fd = create_gmem(self->vm, BLOCK_BYTES, self->caps | BIT_ULL(bit));
		EXPECT_TRUE(fd < 0 && errno == EINVAL) TH_LOG("bit %d accepted", bit);
		if (fd >= 0)
			close(fd);
	}
}

TEST_F(vm_type, bad_sizes)
{
	const u64 sizes[] = { 0, 1, PAGE_SIZE - 1, PAGE_SIZE + 1, -PAGE_SIZE };
	u64 flags = self->caps & (NO_DIRECT_MAP | NO_ZERO);
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		fd = create_gmem(self->vm, sizes[i], flags);
		EXPECT_TRUE(fd < 0 && errno == EINVAL)
			TH_LOG("size 0x%lx flags 0x%lx accepted", sizes[i], flags);
		if (fd >= 0)
			close(fd);
	}
}

/* --- No direct map: what the host can and cannot reach ------------------ */

FIXTURE(gmem) {
	struct kvm_vm *vm;
	int fd;
	char *mem;
	size_t size;
};

FIXTURE_VARIANT(gmem) {
	u64 flags;
	bool unmapped;
};

FIXTURE_VARIANT_ADD(gmem, no_direct_map) {
	.flags = MMAP | INIT_SHARED | NO_DIRECT_MAP,
	.unmapped = true,
};

/* The same on 2 MiB folios: the file is one. */
FIXTURE_VARIANT_ADD(gmem, huge_pages) {
	.flags = MMAP | INIT_SHARED | NO_DIRECT_MAP | HUGE_PAGES,
	.unmapped = true,
};

/* The control: the same checks must see ordinary guest_memfd memory. */
FIXTURE_VARIANT_ADD(gmem, ordinary) {
	.flags = MMAP | INIT_SHARED,
};

FIXTURE_SETUP(gmem)
{
	self->vm = vm_create_barebones();
	self->size = BLOCK_BYTES;
	self->fd = create_gmem(self->vm, self->size, variant->flags);
	ASSERT_GE(self->fd, 0);
	self->mem = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
}

FIXTURE_TEARDOWN(gmem)
{
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, self->size);
	if (self->fd >= 0)
		close(self->fd);
	kvm_vm_free(self->vm);
}

/* A pattern no other page holds: the page's address and a tag. */
static void fill_page(char *page, u64 tag)
{
	u64 *w = (u64 *)page;
	unsigned int i;

	for (i = 0; i < WORDS; i++)
		w[i] = tag ^ ((unsigned long)page + i * 8) ^ 0x5a5a5a5a00000000ull;
}

static bool page_matches(const void *buf, const char *page, u64 tag)
{
	const u64 *w = buf;
	unsigned int i;

	for (i = 0; i < WORDS; i++)
		if (w[i] != (tag ^ ((unsigned long)page + i * 8) ^ 0x5a5a5a5a00000000ull))
			return false;
	return true;
}

TEST_F(gmem, mmap_rules)
{
	void *priv;

	priv = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(priv, MAP_FAILED);
	/* New pages read as zero, and hold what userspace writes. */
	ASSERT_EQ(self->mem[0], 0);
	ASSERT_EQ(self->mem[self->size - 1], 0);
	fill_page(self->mem, 1);
	ASSERT_TRUE(page_matches(self->mem, self->mem, 1));
}

/*
 * The paths by which the kernel could reach the file's pages through a
 * user address, one case each: GUP refuses NO_DIRECT_MAP pages, so on
 * that memory each path fails, and on ordinary guest_memfd memory, the
 * control, each works. The file itself has no read() or write().
 */

/* What the cases that reach the pages fill the first one with. */
#define PAGE_FILL	0xab

/*
 * What a path that moves @len bytes of the pages must return, as bytes or
 * -errno: @refused on NO_DIRECT_MAP (@unmapped) memory, @len on ordinary
 * memory.
 */
static ssize_t path_result(bool unmapped, ssize_t refused, size_t len)
{
	return unmapped ? refused : (ssize_t)len;
}

/* With the direct map or without, read() and write() on the file fail. */
TEST_F(gmem, accessor_file_rw)
{
	char buf[64];

	memset(buf, 0xcd, sizeof(buf));
	errno = 0;
	EXPECT_EQ(read(self->fd, buf, sizeof(buf)), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(write(self->fd, buf, sizeof(buf)), -1);
	EXPECT_EQ(errno, EINVAL);
}

/* process_vm_readv() (or _writev()) between @buf and @mem: bytes or -errno. */
static ssize_t copy_with_self(char *mem, char *buf, size_t len, bool write)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = mem, .iov_len = len };
	ssize_t r;

	r = write ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0) :
		    process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return r < 0 ? -errno : r;
}

/* process_vm_readv() and process_vm_writev() pin the pages: GUP's slow path. */
TEST_F(gmem, accessor_process_vm_rw)
{
	char buf[64];

	memset(self->mem, PAGE_FILL, PAGE_SIZE);
	memset(buf, 0xcd, sizeof(buf));
	EXPECT_EQ(copy_with_self(self->mem, buf, sizeof(buf), false),
		  path_result(variant->unmapped, -EFAULT, sizeof(buf)));
	EXPECT_EQ(copy_with_self(self->mem, buf, sizeof(buf), true),
		  path_result(variant->unmapped, -EFAULT, sizeof(buf)));
}

/* /proc/self/mem reads through GUP's slow path too. */
TEST_F(gmem, accessor_proc_pid_mem)
{
	char buf[64];
	int proc_mem;
	ssize_t r;

	memset(self->mem, PAGE_FILL, PAGE_SIZE);
	proc_mem = open("/proc/self/mem", O_RDONLY);
	ASSERT_GE(proc_mem, 0);
	r = pread(proc_mem, buf, sizeof(buf), (unsigned long)self->mem);
	/* Refused with any error. */
	EXPECT_EQ(r < 0 ? -1 : r, path_result(variant->unmapped, -1, sizeof(buf)));
	close(proc_mem);
}

/* A traced child shares the mapping: PEEKDATA and POKEDATA go through GUP. */
TEST_F(gmem, accessor_ptrace)
{
	int status;
	long word;
	pid_t pid;

	memset(self->mem, PAGE_FILL, PAGE_SIZE);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(2);
		raise(SIGSTOP);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFSTOPPED(status)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ASSERT_TRUE(WIFSTOPPED(status)) TH_LOG("PTRACE_TRACEME failed");
	}
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, self->mem, NULL);
	if (variant->unmapped) {
		EXPECT_EQ(errno, EIO);
	} else {
		EXPECT_EQ(errno, 0);
		EXPECT_EQ((unsigned long)word, 0x0101010101010101ul * PAGE_FILL);
	}
	EXPECT_EQ(ptrace(PTRACE_POKEDATA, pid, self->mem, 0) ? -errno : 0,
		  variant->unmapped ? -EIO : 0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* vmsplice() takes references on the pages with GUP-fast. */
TEST_F(gmem, accessor_vmsplice)
{
	struct iovec iov = { .iov_base = self->mem, .iov_len = PAGE_SIZE };
	int pipefd[2];
	ssize_t r;

	memset(self->mem, PAGE_FILL, PAGE_SIZE);
	ASSERT_EQ(pipe(pipefd), 0);
	r = vmsplice(pipefd[1], &iov, 1, 0);
	EXPECT_EQ(r < 0 ? -errno : r, path_result(variant->unmapped, -EFAULT, PAGE_SIZE));
	close(pipefd[0]);
	close(pipefd[1]);
}

/*
 * An O_DIRECT read pins its destination; this test's binary is the
 * source. tmpfs and ramfs copy through the user address instead (which
 * the owner of the mapping may do), so a binary there proves nothing.
 */
TEST_F(gmem, accessor_o_direct)
{
	struct statfs fs;
	char *direct;
	ssize_t r;
	int fd;

	fd = open("/proc/self/exe", O_RDONLY | O_DIRECT);
	if (fd < 0 || fstatfs(fd, &fs) || fs.f_type == TMPFS_MAGIC ||
	    fs.f_type == RAMFS_MAGIC) {
		if (fd >= 0)
			close(fd);
		SKIP(return, "this binary is on no disk or network file system");
	}
	memset(self->mem, PAGE_FILL, PAGE_SIZE);
	direct = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	ASSERT_NE(direct, NULL);
	ASSERT_EQ(pread(fd, direct, PAGE_SIZE, 0), PAGE_SIZE);
	r = pread(fd, self->mem, PAGE_SIZE, 0);
	EXPECT_EQ(r < 0 ? -errno : r, path_result(variant->unmapped, -EFAULT, PAGE_SIZE));
	if (!variant->unmapped)
		EXPECT_EQ(memcmp(self->mem, direct, PAGE_SIZE), 0);
	free(direct);
	close(fd);
}

/* Registering a fixed buffer pins it for the ring's lifetime. */
TEST_F(gmem, accessor_io_uring)
{
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	struct iovec iov = { .iov_base = self->mem, .iov_len = PAGE_SIZE };
	struct io_uring ring;
	int r;

	memset(self->mem, PAGE_FILL, PAGE_SIZE);
	r = io_uring_queue_init(1, &ring, 0);
	if (r == -EPERM)
		SKIP(return, "kernel.io_uring_disabled is set");
	ASSERT_EQ(r, 0) TH_LOG("io_uring_queue_init: %s", strerror(-r));
	EXPECT_EQ(io_uring_register_buffers(&ring, &iov, 1),
		  variant->unmapped ? -EFAULT : 0);
	io_uring_queue_exit(&ring);
#else
	SKIP(return, "built without liburing");
#endif
}

/*
 * A page freed to a pool is marked offline, so that dump tools leave it
 * (and whatever a guest left in it) out of a vmcore; an ordinary freed
 * page, back in the page allocator, is not.
 */
TEST_F(gmem, freed_pages_offline)
{
	char *page = self->mem + PAGE_SIZE;
	u64 in_use, freed, freed_pfn;

	fill_page(self->mem, 1);
	fill_page(page, 2);
	in_use = kpageflags_read(pagemap_pfn(self->mem));
	freed_pfn = pagemap_pfn(page);
	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    PAGE_SIZE, PAGE_SIZE), 0);
	lru_batches_drain();
	freed = kpageflags_read(freed_pfn);
	EXPECT_FALSE(in_use & BIT_ULL(KPF_OFFLINE));
	EXPECT_EQ(!!(freed & BIT_ULL(KPF_OFFLINE)), variant->unmapped);
}

static long futex_op(u32 *word, int op, u32 val)
{
	return syscall(__NR_futex, word, op, val, NULL, NULL, 0);
}

/*
 * Populating and locking memory, and shared futexes in it, need no
 * kernel access to the pages' contents: they work on NO_DIRECT_MAP memory
 * as on ordinary guest_memfd memory.
 */
TEST_F(gmem, populate_paths)
{
	const size_t pages = self->size / PAGE_SIZE;
	unsigned char *vec = malloc(pages);
	u32 *word = (u32 *)self->mem;
	size_t i, resident = 0;
	char *pop;

	ASSERT_NE(vec, NULL);
	EXPECT_EQ(madvise(self->mem, self->size, MADV_POPULATE_WRITE) ? -errno : 0, 0);
	EXPECT_EQ(madvise(self->mem, self->size, MADV_POPULATE_READ) ? -errno : 0, 0);
	EXPECT_EQ(mlock(self->mem, self->size) ? -errno : 0, 0);
	EXPECT_EQ(munlock(self->mem, self->size), 0);

	/* MAP_POPULATE ignores failures: count what it faulted in. */
	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    0, self->size), 0);
	pop = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_POPULATE, self->fd, 0);
	ASSERT_NE(pop, MAP_FAILED);
	ASSERT_EQ(mincore(pop, self->size, vec), 0);
	for (i = 0; i < pages; i++)
		resident += vec[i] & 1;
	EXPECT_EQ(resident, pages);
	munmap(pop, self->size);

	/* A shared futex is keyed by the page's file and index. */
	*word = 7;
	EXPECT_EQ(futex_op(word, FUTEX_WAKE, 1) < 0 ? -errno : 0, 0);
	EXPECT_EQ(futex_op(word, FUTEX_WAIT, 8) < 0 ? -errno : 0, -EAGAIN);
	free(vec);
}

/*
 * The HMM test driver mirrors this process's page tables like a device
 * (RDMA ODP works the same way) and reads through the kernel's mapping of
 * what hmm_range_fault() returns: refused with EFAULT, as GUP refuses it.
 */
TEST_F(gmem, hmm_mirror_refused)
{
	struct hmm_dmirror_cmd cmd = { };
	char *buf = malloc(PAGE_SIZE);
	int dev, r;

	dev = open("/dev/hmm_dmirror0", O_RDWR);
	if (dev < 0)
		SKIP(return, "no HMM test driver (CONFIG_TEST_HMM)");
	ASSERT_NE(buf, NULL);
	memset(self->mem, 0xab, PAGE_SIZE);
	memset(buf, 0, PAGE_SIZE);
	cmd.addr = (unsigned long)self->mem;
	cmd.ptr = (unsigned long)buf;
	cmd.npages = 1;
	r = ioctl(dev, HMM_DMIRROR_READ, &cmd);
	if (variant->unmapped) {
		EXPECT_EQ(r ? -errno : 0, -EFAULT);
	} else {
		EXPECT_EQ(r ? -errno : 0, 0);
		EXPECT_EQ(memcmp(buf, self->mem, PAGE_SIZE), 0);
	}
	close(dev);
	free(buf);
}

/* fdinfo tells operators whose memory this is and how much is unmapped. */
TEST_F(gmem, fdinfo)
{
	/* A huge-page file takes the whole 2 MiB block for the first 1 MiB. */
	const long long kb = (variant->flags & HUGE_PAGES ? SZ_2M : SZ_1M) >> 10;
	char path[64], info[1024] = "";
	FILE *f;

	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_KEEP_SIZE, 0, SZ_1M), 0);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->fd);
	f = fopen(path, "r");
	ASSERT_NE(f, NULL);
	fread(info, 1, sizeof(info) - 1, f);
	fclose(f);
	EXPECT_NE(strstr(info, "gmem-vm:\tkvm-"), NULL) TH_LOG("%s", info);
	EXPECT_EQ(fdinfo_read(self->fd, "gmem-flags"), variant->flags);
	EXPECT_EQ(fdinfo_read(self->fd, "gmem-size"), self->size);
	EXPECT_EQ(fdinfo_read(self->fd, "gmem-resident"), kb);
	EXPECT_EQ(fdinfo_read(self->fd, "gmem-unmapped"), variant->unmapped ? kb : 0);
	EXPECT_EQ(fdinfo_read(self->fd, "gmem-huge-folios"),
		  variant->flags & HUGE_PAGES ? 1 : -1);
	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			    0, self->size), 0);
	EXPECT_EQ(fdinfo_read(self->fd, "gmem-resident"), 0);
	EXPECT_EQ(fdinfo_read(self->fd, "gmem-unmapped"), 0);
}

/* How many of the pages at @mem (@nr of them) /proc/kcore shows with @tag. */
static int count_visible(struct kcore *kc, char *mem, const u64 *pfns, int nr, u64 tag)
{
	char *buf = malloc(PAGE_SIZE);
	int i, visible = 0;

	TEST_ASSERT(buf, "page buffer");
	for (i = 0; i < nr; i++) {
		kcore_read_page(kc, pfns[i], buf);
		visible += page_matches(buf, mem + i * PAGE_SIZE, tag);
	}
	free(buf);
	return visible;
}

/*
 * While the file holds them, no page can be read through the direct map.
 * Once the file is closed and the pool has released its block, the page
 * allocator hands the same pages out again, mapped: an ordinary
 * guest_memfd (unmovable pages, as the pool's were) a little larger than
 * what the pool released, filled on the same CPU right after the release, gets
 * some of them back, and each of those must read back through /proc/kcore.
 *
 * (The page table dump in debugfs cannot tell: its walker skips a 2 MiB
 * entry that is not present, and prints the range as its neighbours'.)
 */
TEST_F(gmem, direct_map)
{
	u64 splits = vmstat_read("direct_map_level2_splits");
	u64 pfns[BLOCK_PAGES], released;
	int i, k, visible, reused = 0, reuse_fd, reuse_pages;
	struct kcore kc;
	cpu_set_t cpu;
	char *reuse;

	/* Release and reallocate on one CPU, so its free list links them. */
	CPU_ZERO(&cpu);
	CPU_SET(sched_getcpu(), &cpu);
	ASSERT_EQ(sched_setaffinity(0, sizeof(cpu), &cpu), 0);
	/* Earlier tests' cached blocks go now, so few are released below. */
	unmapped_pool_write("release", 1);

	kcore_open(&kc);
	for (i = 0; i < BLOCK_PAGES; i++) {
		fill_page(self->mem + i * PAGE_SIZE, 2);
		pfns[i] = pagemap_pfn(self->mem + i * PAGE_SIZE);
	}
	visible = count_visible(&kc, self->mem, pfns, BLOCK_PAGES, 2);
	ksft_print_msg("pages readable through the direct map: %d/%d\n",
		       visible, BLOCK_PAGES);
	EXPECT_EQ(visible, variant->unmapped ? 0 : BLOCK_PAGES);
	EXPECT_EQ(vmstat_read("direct_map_level2_splits"), splits);

	munmap(self->mem, self->size);
	self->mem = NULL;
	close(self->fd);
	self->fd = -1;
	/* Release drains the LRU batches that may still hold the folios. */
	released = vmstat_read("nr_unmapped_pool");
	unmapped_pool_write("release", 1);

	/*
	 * Which released block comes back first depends on the free lists
	 * (and THP's per-CPU lists): ask for all of them and then some.
	 */
	reuse_pages = released + 2 * BLOCK_PAGES;
	reuse_fd = create_gmem(self->vm, reuse_pages * PAGE_SIZE, MMAP | INIT_SHARED);
	ASSERT_GE(reuse_fd, 0);
	reuse = mmap(NULL, reuse_pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     reuse_fd, 0);
	ASSERT_NE(reuse, MAP_FAILED);
	for (i = 0; i < reuse_pages; i++)
		fill_page(reuse + i * PAGE_SIZE, 3);
	visible = 0;
	for (i = 0; i < reuse_pages; i++) {
		u64 pfn = pagemap_pfn(reuse + i * PAGE_SIZE);

		for (k = 0; k < BLOCK_PAGES && pfns[k] != pfn; k++)
			;
		if (k == BLOCK_PAGES)
			continue;
		reused++;
		visible += count_visible(&kc, reuse + i * PAGE_SIZE, &pfn, 1, 3);
	}
	ksft_print_msg("pool released %lu pages: %d of the file's reused, %d readable\n",
		       (unsigned long)released, reused, visible);
	EXPECT_GE(reused, 1);
	EXPECT_EQ(visible, reused);
	munmap(reuse, reuse_pages * PAGE_SIZE);
	close(reuse_fd);
	kcore_close(&kc);
}

/* Pool counters follow fallocate and punch hole; ranges are checked. */
TEST_F(gmem, fallocate_ranges)
{
	u64 alloc = vmstat_read("unmapped_alloc"), freed = vmstat_read("unmapped_free");
	u64 splits = vmstat_read("direct_map_level2_splits");
	const u64 pages = BLOCK_PAGES;

	EXPECT_EQ(fallocate(self->fd, FALLOC_FL_KEEP_SIZE, 1, PAGE_SIZE), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(fallocate(self->fd, FALLOC_FL_KEEP_SIZE, 0, PAGE_SIZE + 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(fallocate(self->fd, FALLOC_FL_KEEP_SIZE, self->size, PAGE_SIZE), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(fallocate(self->fd, 0, 0, PAGE_SIZE), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);

	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_KEEP_SIZE, 0, self->size), 0);
	EXPECT_EQ(vmstat_read("unmapped_alloc") - alloc, variant->unmapped ? pages : 0);
	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			    0, self->size / 2), 0);
	/* Punched folios still in a CPU's LRU batch are freed when it drains. */
	lru_batches_drain();
	EXPECT_EQ(vmstat_read("unmapped_free") - freed, variant->unmapped ? pages / 2 : 0);
	EXPECT_EQ(vmstat_read("direct_map_level2_splits"), splits);
}

/* Whether the cgroup v2 hierarchy has @controller; its root in @root. */
static bool cg_controller_present(char *root, size_t len, const char *controller)
{
	return !cg_find_unified_root(root, len, NULL) &&
	       !cg_read_strstr(root, "cgroup.controllers", controller);
}

/* The page cache charges NO_DIRECT_MAP folios to the allocating memcg. */
TEST(memcg_charge)
{
	const u64 size = 2 * BLOCK_BYTES;
	char root[PATH_MAX], *cg;
	struct kvm_vm *vm;
	u64 before, after;
	int fd;

	if (!cg_controller_present(root, sizeof(root), "memory"))
		SKIP(return, "no cgroup v2 memory controller");
	ASSERT_EQ(cg_write(root, "cgroup.subtree_control", "+memory"), 0);
	cg = cg_name_indexed(root, "gmem-charge", getpid());
	ASSERT_EQ(cg_create(cg), 0);
	ASSERT_EQ(cg_enter_current(cg), 0);

	vm = vm_create_barebones();
	fd = create_gmem(vm, size, NO_DIRECT_MAP);
	ASSERT_GE(fd, 0);
	before = cg_read_long(cg, "memory.current");
	ASSERT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size), 0);
	after = cg_read_long(cg, "memory.current");
	ksft_print_msg("memory.current grew by %lu KiB for %lu KiB\n",
		       (after - before) >> 10, size >> 10);
	EXPECT_GE(after - before, size);
	EXPECT_LT(after - before, size + SZ_1M);
	close(fd);
	kvm_vm_free(vm);

	ASSERT_EQ(cg_enter_current(root), 0);
	EXPECT_EQ(cg_destroy(cg), 0);
	free(cg);
}

/*
 * Past a memcg's limit, NO_DIRECT_MAP allocations fail with ENOMEM for the
 * caller: the memory cannot be reclaimed, and the memcg OOM killer is not
 * called in to kill a task for it, in the cgroup or anywhere else.
 */
TEST(memcg_limit)
{
	const long limit = SZ_16M;
	char root[PATH_MAX], *cg;
	long kills, at_max, peak;
	u64 oom_kills;
	int status;
	pid_t pid;

	if (!cg_controller_present(root, sizeof(root), "memory"))
		SKIP(return, "no cgroup v2 memory controller");
	ASSERT_EQ(cg_write(root, "cgroup.subtree_control", "+memory"), 0);
	cg = cg_name_indexed(root, "gmem-limit", getpid());
	ASSERT_EQ(cg_create(cg), 0);
	ASSERT_EQ(cg_write_numeric(cg, "memory.max", limit), 0);
	oom_kills = vmstat_read("oom_kill");

	/*
	 * The child joins the memcg only once its VM and file exist, and
	 * exits at once: any page it faulted in past the limit (a
	 * copy-on-write of its stack) would be an OOM kill of its own.
	 */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct kvm_vm *vm = vm_create_barebones();
		int fd = create_gmem(vm, SZ_64M, NO_DIRECT_MAP);

		if (fd < 0 || cg_enter_current(cg))
			_exit(3);
		if (!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_64M))
			_exit(1);
		_exit(errno == ENOMEM ? 0 : 2);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("64 MiB under a %ld MiB limit: %s %d (0: ENOMEM, 1: fit, 2: errno)",
		       limit >> 20, WIFEXITED(status) ? "exit" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));

	peak = cg_read_long(cg, "memory.peak");
	kills = cg_read_key_long(cg, "memory.events", "oom_kill ");
	at_max = cg_read_key_long(cg, "memory.events", "max ");
	ksft_print_msg("cgroup peak %ld of %ld KiB, limit hit %ld times\n",
		       peak >> 10, limit >> 10, at_max);
	ksft_print_msg("OOM kills: %ld in the cgroup, %lu on the host\n",
		       kills, vmstat_read("oom_kill") - oom_kills);
	/* The memcg, and not the pool or anything else, said no. */
	EXPECT_GT(at_max, 0);
	EXPECT_GE(peak, limit - SZ_1M);
	EXPECT_EQ(kills, 0);
	EXPECT_EQ(vmstat_read("oom_kill"), oom_kills);
	EXPECT_EQ(cg_destroy(cg), 0);
	free(cg);
}

FIXTURE(big) {
	struct kvm_vm *vm;
};

FIXTURE_SETUP(big)
{
	self->vm = vm_create_barebones();
}

FIXTURE_TEARDOWN(big)
{
	kvm_vm_free(self->vm);
}

/*
 * Populating 1 GiB takes 512 blocks out of the direct map: no 2 MiB
 * mapping of it may be split, and the pool may flush the TLB at most
 * once per block.
 */
TEST_F_TIMEOUT(big, populate_1g, 300)
{
	u64 splits, flushes, refills, fallbacks, allocs;
	int fd;

	unmapped_pool_write("release", 1);
	splits = vmstat_read("direct_map_level2_splits");
	flushes = vmstat_read("unmapped_tlb_flush");
	refills = vmstat_read("unmapped_refill");
	fallbacks = vmstat_read("unmapped_refill_fallback");
	allocs = vmstat_read("unmapped_alloc");

	fd = create_gmem(self->vm, SZ_1G, NO_DIRECT_MAP);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_1G), 0);

	splits = vmstat_read("direct_map_level2_splits") - splits;
	flushes = vmstat_read("unmapped_tlb_flush") - flushes;
	refills = vmstat_read("unmapped_refill") - refills;
	fallbacks = vmstat_read("unmapped_refill_fallback") - fallbacks;
	allocs = vmstat_read("unmapped_alloc") - allocs;
	ksft_print_msg("1 GiB: %lu refills (%lu smaller than 2 MiB)\n", refills, fallbacks);
	ksft_print_msg("1 GiB: %lu pool TLB flushes, %lu level-2 splits\n", flushes, splits);
	EXPECT_EQ(splits, 0);
	EXPECT_LE(flushes, SZ_1G / SZ_2M);
	EXPECT_EQ(allocs, SZ_1G / PAGE_SIZE);

	close(fd);
	unmapped_pool_write("release", 1);
}

/* For TEST_F_TIMEOUT: tests that need no setup but more than 30 s. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

/* Ask for up to @nr 2 MiB huge pages on @nid; returns how many it has. */
static long node_hugepages(int nid, long nr)
{
	char path[96], val[32];
	int fd;

	snprintf(path, sizeof(path),
		 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages", nid);
	fd = open(path, O_RDWR);
	TEST_ASSERT(fd >= 0, "open %s", path);
	snprintf(val, sizeof(val), "%ld", nr);
	TEST_ASSERT(write(fd, val, strlen(val)) > 0, "write %s", path);
	memset(val, 0, sizeof(val));
	TEST_ASSERT(pread(fd, val, sizeof(val) - 1, 0) > 0, "read %s", path);
	close(fd);
	return atol(val);
}

/* Bind @mem's guest_memfd range to @nid and allocate it: 0 or -errno. */
static int gmem_populate_on(int fd, char *mem, size_t size, int nid)
{
	unsigned long mask = 1ul << nid;

	TEST_ASSERT(!syscall(__NR_mbind, mem, size, MPOL_BIND, &mask, 64, 0),
		    "mbind to node %d: errno %d", nid, errno);
	return fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size) ? -errno : 0;
}

/*
 * A guest_memfd range bound (mbind, MPOL_BIND) to a node that has no
 * memory left must fail with ENOMEM rather than take another node's
 * memory; bound to a node with memory (the control), it succeeds there.
 * Needs two memory nodes: make check boots a second VM with numa=fake=2
 * for it.
 */
TEST_F_TIMEOUT(slow, numa_bind_respected, 300)
{
	const size_t size = 64 * SZ_1M;
	struct kvm_vm *vm;
	u64 node0, node1;
	long huge;
	char *mem;
	int fd;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node (boot with numa=fake=2)");
	vm = vm_create_barebones();
	fd = create_gmem(vm, size, MMAP | NO_DIRECT_MAP);
	ASSERT_GE(fd, 0);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(mem, MAP_FAILED);

	/* Node 1 gives all it can spare to huge pages: nothing left. */
	unmapped_pool_write("release", 1);
	huge = node_hugepages(1, 1 << 20);
	ksft_print_msg("node 1: %ld huge pages taken\n", huge);
	node0 = node_vmstat_read(0, "nr_unmapped_pool");
	node1 = node_vmstat_read(1, "nr_unmapped_pool");
	EXPECT_EQ(gmem_populate_on(fd, mem, size, 1), -ENOMEM);
	ksft_print_msg("bound to node 1: pools grew by %lu (node 0), %lu (node 1) pages\n",
		       node_vmstat_read(0, "nr_unmapped_pool") - node0,
		       node_vmstat_read(1, "nr_unmapped_pool") - node1);
	EXPECT_EQ(node_vmstat_read(0, "nr_unmapped_pool"), node0);
	node_hugepages(1, 0);

	/* The control: bound to node 0, the same request succeeds there. */
	ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size), 0);
	node0 = node_vmstat_read(0, "nr_unmapped_pool");
	EXPECT_EQ(gmem_populate_on(fd, mem, size, 0), 0);
	EXPECT_GE(node_vmstat_read(0, "nr_unmapped_pool") - node0, size / PAGE_SIZE);

	munmap(mem, size);
	close(fd);
	kvm_vm_free(vm);
	unmapped_pool_write("release", 1);
}

/* Pages the pools handed out on @nid: what they grew by, less what is free. */
static u64 node_pool_used(int nid)
{
	return node_vmstat_read(nid, "nr_unmapped_pool") -
	       node_vmstat_read(nid, "nr_unmapped_free");
}

/*
 * In a child that cg_run() put in a cpuset: 64 MiB of guest memory, then
 * 0 if node 0's pool handed out none of it, 1 if it did, 2 if it failed.
 */
static int gmem_fill_64m_where(const char *cgroup, void *arg)
{
	struct kvm_vm *vm = vm_create_barebones();
	int fd = create_gmem(vm, SZ_64M, NO_DIRECT_MAP);
	u64 node0 = node_pool_used(0), node1 = node_pool_used(1);
	unsigned int cpu, node;
	s64 taken0, taken1;

	if (fd < 0 || fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_64M))
		return 2;
	/* Signed: per-CPU counter deltas can make a node look a few pages down. */
	taken0 = node_pool_used(0) - node0;
	taken1 = node_pool_used(1) - node1;
	syscall(__NR_getcpu, &cpu, &node, NULL);
	ksft_print_msg("on CPU %u of node %u, pages handed out: node 0 %+lld, node 1 %+lld\n",
		       cpu, node, (long long)taken0, (long long)taken1);
	/* Less than a block: counter deltas, not an allocation. */
	return taken0 >= BLOCK_PAGES;
}

/*
 * A task whose cpuset allows only node 1 gets its guest memory there, even
 * though node 0, its CPU's node, has free pages in its pool (prefilled):
 * the page allocator's cpuset check never sees pool pages, so the pools
 * must make it themselves. Allowed node 0 (the control), the same request
 * takes node 0's pages. Needs two memory nodes and the cpuset controller,
 * as numa_bind_respected.
 */
TEST_F_TIMEOUT(slow, cpuset_mems_respected, 300)
{
	char root[PATH_MAX], *cg;
	unsigned int cpu, node;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node (boot with numa=fake=2)");
	ASSERT_EQ(syscall(__NR_getcpu, &cpu, &node, NULL), 0);
	ksft_print_msg("running on CPU %u of node %u\n", cpu, node);
	ASSERT_EQ(cg_find_unified_root(root, sizeof(root), NULL), 0);
	if (cg_read_strstr(root, "cgroup.controllers", "cpuset"))
		SKIP(return, "no cpuset controller");
	ASSERT_EQ(cg_write(root, "cgroup.subtree_control", "+cpuset"), 0);
	cg = cg_name(root, "gmem-cpuset-test");
	ASSERT_EQ(cg_create(cg), 0);

	unmapped_pool_write("release", 1);
	unmapped_pool_write("prefill", 16);
	ASSERT_EQ(cg_write(cg, "cpuset.mems", "1"), 0);
	EXPECT_EQ(cg_run(cg, gmem_fill_64m_where, NULL), 0);
	unmapped_pool_write("release", 1);
	unmapped_pool_write("prefill", 16);
	ASSERT_EQ(cg_write(cg, "cpuset.mems", "0"), 0);
	EXPECT_EQ(cg_run(cg, gmem_fill_64m_where, NULL), 1);

	EXPECT_EQ(cg_destroy(cg), 0);
	free(cg);
	unmapped_pool_write("release", 1);
}

/* Free pages @nid's pool holds, once trimming brings them to @bound. */
static u64 node_pool_free_settled(int nid, u64 bound)
{
	u64 free = node_vmstat_read(nid, "nr_unmapped_free");
	int i;

	for (i = 0; i < 100 && free > bound; i++) {
		usleep(100000);
		free = node_vmstat_read(nid, "nr_unmapped_free");
	}
	return free;
}

/*
 * Stranded memory: a VMM fills guest_memfd on a node and punches holes
 * that leave one page in use per 2 MiB block, then moves to the next node
 * and does the same. Its memcg is charged one page per block; the pools
 * must not hold the other 511 for it. Per node they may keep at most
 * partial_free_max free pages of partly used blocks and free_blocks_max
 * free blocks; the rest goes back to the page allocator. The control lifts
 * partial_free_max on the first node and shows the bound failing.
 */
TEST_F_TIMEOUT(slow, stranded_memory_bounded, 300)
{
	const size_t size = 64 * SZ_1M;
	u64 cap = unmapped_pool_read("partial_free_max");
	u64 bound = cap + unmapped_pool_read("free_blocks_max") * BLOCK_PAGES;
	u64 trimmed = vmstat_read("unmapped_trim"), free;
	struct kvm_vm *vm = vm_create_barebones();
	char path[64], *mem[8];
	int fd[8], nid, nr_nodes;
	size_t off;

	ASSERT_GT(size / BLOCK_BYTES * (BLOCK_PAGES - 1), bound);
	unmapped_pool_write("release", 1);
	for (nid = 0; nid < 8; nid++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", nid);
		if (access(path, F_OK))
			break;
		fd[nid] = create_gmem(vm, size, MMAP | NO_DIRECT_MAP);
		ASSERT_GE(fd[nid], 0);
		mem[nid] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd[nid], 0);
		ASSERT_NE(mem[nid], MAP_FAILED);
		if (!nid)
			unmapped_pool_write("partial_free_max", ~0ul >> 1);
		ASSERT_EQ(gmem_populate_on(fd[nid], mem[nid], size, nid), 0);
		for (off = 0; off < size; off += BLOCK_BYTES)
			ASSERT_EQ(fallocate(fd[nid], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					    off + PAGE_SIZE, BLOCK_BYTES - PAGE_SIZE), 0);
		lru_batches_drain();
		if (!nid) {
			free = node_vmstat_read(0, "nr_unmapped_free");
			ksft_print_msg("node 0, no limit: %lu free pages held\n", free);
			EXPECT_GT(free, bound);
			unmapped_pool_write("partial_free_max", cap);
		}
		free = node_pool_free_settled(nid, bound);
		ksft_print_msg("node %d: %lu free pages held (bound %lu), %lu in use\n",
			       nid, free, bound, size / BLOCK_BYTES);
		EXPECT_LE(free, bound);
	}
	nr_nodes = nid;
	ksft_print_msg("%lu pages trimmed on %d node(s)\n",
		       vmstat_read("unmapped_trim") - trimmed, nr_nodes);
	EXPECT_GE(vmstat_read("unmapped_trim") - trimmed,
		  nr_nodes * (size / BLOCK_BYTES * (BLOCK_PAGES - 1) - bound));

	for (nid = 0; nid < nr_nodes; nid++) {
		munmap(mem[nid], size);
		close(fd[nid]);
	}
	kvm_vm_free(vm);
	unmapped_pool_write("release", 1);
}

static bool hibernation_offered(void)
{
	char buf[128] = { };
	int fd = open("/sys/power/state", O_RDONLY);

	TEST_ASSERT(fd >= 0, "open /sys/power/state");
	/* Empty when the kernel offers no sleep state at all. */
	TEST_ASSERT(read(fd, buf, sizeof(buf) - 1) >= 0, "read /sys/power/state");
	close(fd);
	return strstr(buf, "disk");
}

/*
 * A hibernation image would save pool pages through the direct map:
 * hibernation is offered with empty pools (the control) and not while
 * a NO_DIRECT_MAP guest_memfd holds a page.
 */
TEST(hibernation_vetoed)
{
	struct kvm_vm *vm = vm_create_barebones();
	int fd;

	unmapped_pool_write("release", 1);
	ASSERT_TRUE(hibernation_offered())
		TH_LOG("no \"disk\" in /sys/power/state with empty pools");
	fd = create_gmem(vm, BLOCK_BYTES, NO_DIRECT_MAP);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, PAGE_SIZE), 0);
	EXPECT_FALSE(hibernation_offered());
	close(fd);
	kvm_vm_free(vm);
	unmapped_pool_write("release", 1);
	EXPECT_TRUE(hibernation_offered());
}

/* --- Guests ------------------------------------------------------------- */

static u64 secret_word(u64 seed, u64 i)
{
	u64 x = seed + i * 0x9e3779b97f4a7c15ull;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * The guest makes up its secret from a seed, so the only full copy of it
 * is the page it writes: the host side never holds one to be found.
 */
static void guest_write_secret(u64 *page, u64 seed)
{
	u64 i;

	for (i = 0; i < WORDS; i++)
		page[i] = secret_word(seed, i);
	GUEST_DONE();
}

static void guest_read_first_word(u64 *page)
{
	GUEST_SYNC(page[0]);
	page[0] = 0x6e6f2d7a65726f21ull;	/* "no-zero!" */
	GUEST_DONE();
}

static bool page_is_secret(const u64 *p, u64 seed)
{
	u64 i;

	for (i = 0; i < WORDS; i++)
		if (p[i] != secret_word(seed, i))
			return false;
	return true;
}

/*
 * Count, for each of @nr seeds, the pages of System RAM that hold its
 * secret, reading all of RAM through /proc/kcore once.
 */
static void scan_ram_for_secrets(const u64 *seeds, int nr, int *found)
{
	const size_t chunk = SZ_1M;
	struct timespec t0, t1;
	u64 off, len, *p;
	u64 total = 0;
	struct kcore kc;
	int i, n;
	char *buf;
	ssize_t r;

	buf = aligned_alloc(PAGE_SIZE, chunk);
	TEST_ASSERT(buf, "scan buffer");
	memset(found, 0, nr * sizeof(*found));
	kcore_open(&kc);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < kc.nr; i++) {
		total += kc.seg[i].size;
		for (off = 0; off < kc.seg[i].size; off += chunk) {
			len = min_t(u64, chunk, kc.seg[i].size - off);
			r = pread(kc.fd, buf, len, kc.seg[i].offset + off);
			TEST_ASSERT(r == (ssize_t)len, "read /proc/kcore");
			for (p = (u64 *)buf; (char *)p < buf + len; p += WORDS) {
				for (n = 0; n < nr; n++)
					found[n] += page_is_secret(p, seeds[n]);
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ksft_print_msg("scanned %lu MiB of RAM in %ld s\n", total >> 20,
		       (long)(t1.tv_sec - t0.tv_sec));
	/* The scan buffer held what it read: wipe it before the next scan. */
	memset(buf, 0, chunk);
	free(buf);
	kcore_close(&kc);
}

/*
 * A VM of @type with one vCPU running @guest_code, and a guest_memfd with
 * @flags at TEST_GPA: private memory, or shared memory only userspace maps.
 * Returns the guest_memfd.
 */
static int guest_start(unsigned long type, u64 flags, bool private,
		       void *guest_code, struct kvm_vm **vm, struct kvm_vcpu **vcpu)
{
	struct vm_shape shape = { .mode = VM_MODE_DEFAULT, .type = type };
	int fd;

	*vm = vm_create_shape_with_one_vcpu(shape, vcpu, guest_code);
	fd = create_gmem(*vm, BLOCK_BYTES, flags);
	TEST_ASSERT(fd >= 0, "guest_memfd flags 0x%lx: errno %d", flags, errno);
	if (private) {
		vm_mem_add(*vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA, TEST_SLOT,
			   BLOCK_PAGES, KVM_MEM_GUEST_MEMFD, fd, 0);
		vm_mem_set_private(*vm, TEST_GPA, BLOCK_BYTES);
	} else {
		vm_set_user_memory_region2(*vm, TEST_SLOT, KVM_MEM_GUEST_MEMFD,
					   TEST_GPA, BLOCK_BYTES, NULL, fd, 0);
	}
	virt_map(*vm, TEST_GPA, TEST_GPA, BLOCK_PAGES);
	return fd;
}

struct secret_guest {
	const char *name;
	unsigned long type;
	u64 flags;
	bool private;
	bool unmapped;
	struct kvm_vm *vm;
	int fd;
};

FIXTURE(secret) {
	struct secret_guest guests[4];
};

FIXTURE_SETUP(secret)
{
	const struct secret_guest guests[] = {
		/* Shared memory that only userspace maps, on a default VM... */
		{ "shared, NO_DIRECT_MAP", KVM_X86_DEFAULT_VM,
		  MMAP | INIT_SHARED | NO_DIRECT_MAP, false, true },
		{ "shared, ordinary", KVM_X86_DEFAULT_VM, MMAP | INIT_SHARED },
		/* ...and private memory of a software-protected VM. */
		{ "private, NO_DIRECT_MAP", KVM_X86_SW_PROTECTED_VM,
		  NO_DIRECT_MAP, true, true },
		{ "private, ordinary", KVM_X86_SW_PROTECTED_VM, 0, true },
	};

	memcpy(self->guests, guests, sizeof(guests));
}

FIXTURE_TEARDOWN(secret)
{
	struct secret_guest *g;

	for (g = self->guests; g < self->guests + ARRAY_SIZE(self->guests); g++) {
		if (!g->vm)
			continue;
		kvm_vm_free(g->vm);
		close(g->fd);
	}
}

/*
 * In each of four VMs, a vCPU writes a secret into guest memory: shared
 * and private, with and without NO_DIRECT_MAP. While they live, one scan
 * of all RAM through the direct map must find the secrets in ordinary
 * memory (the control) and not those in NO_DIRECT_MAP memory. Once the
 * VMs and files are gone and the pool has released its blocks, a second
 * scan must not find the NO_DIRECT_MAP secrets anywhere.
 */
TEST_F_TIMEOUT(secret, scan, 300)
{
	const int nr = ARRAY_SIZE(self->guests);
	struct secret_guest *g;
	struct kvm_vcpu *vcpu;
	int i, found[nr];
	u64 seeds[nr];

	srandom(time(NULL) ^ getpid());
	for (i = 0; i < nr; i++) {
		g = &self->guests[i];
		if (!vm_type_offered(g->type))
			SKIP(return, "VM type %lu is not offered by this host", g->type);
		seeds[i] = ((u64)random() << 33) ^ ((u64)random() << 2) ^ random();
		ksft_print_msg("%s: seed 0x%lx\n", g->name, seeds[i]);
		g->fd = guest_start(g->type, g->flags, g->private, guest_write_secret,
				    &g->vm, &vcpu);
		vcpu_args_set(vcpu, 2, TEST_GPA + 3 * PAGE_SIZE, seeds[i]);
		vcpu_run_to_ucall(vcpu, UCALL_DONE);
	}

	scan_ram_for_secrets(seeds, nr, found);
	for (i = 0; i < nr; i++) {
		g = &self->guests[i];
		ksft_print_msg("%s: secret in %d page(s) of RAM while the VM lives\n",
			       g->name, found[i]);
		EXPECT_EQ(found[i] > 0, !g->unmapped);
		kvm_vm_free(g->vm);
		g->vm = NULL;
		close(g->fd);
	}

	unmapped_pool_write("release", 1);
	scan_ram_for_secrets(seeds, nr, found);
	for (i = 0; i < nr; i++) {
		g = &self->guests[i];
		if (!g->unmapped)
			continue;
		ksft_print_msg("%s: in %d page(s) once the VM, file and block are gone\n",
			       g->name, found[i]);
		EXPECT_EQ(found[i], 0);
	}
}

/*
 * NO_ZERO hands out a page as the pool has it; without it the page comes
 * zeroed. A first guest writes to a fresh pool block; a second one, given
 * private NO_ZERO memory, must read that back from the same page, and a
 * third without NO_ZERO must read zero.
 */
TEST(no_zero_reuse)
{
	const unsigned long type = KVM_X86_SW_PROTECTED_VM;
	const u64 flags[] = { NO_DIRECT_MAP, NO_DIRECT_MAP | NO_ZERO, NO_DIRECT_MAP };
	const u64 want[] = { 0, 0x6e6f2d7a65726f21ull, 0 };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	bool no_zero_offered;
	struct ucall uc;
	int pass, fd;

	if (!vm_type_offered(type))
		SKIP(return, "software-protected VMs are not offered by this host");
	vm = vm_create_barebones_type(type);
	no_zero_offered = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS) & NO_ZERO;
	kvm_vm_free(vm);
	if (!no_zero_offered)
		SKIP(return, "software-protected VMs refuse NO_ZERO %s",
		     "(CONFIG_KVM_GMEM_NO_ZERO_INSECURE_TESTING is off)");

	unmapped_pool_write("release", 1);
	ASSERT_EQ(vmstat_read("nr_unmapped_pool"), 0);
	for (pass = 0; pass < 3; pass++) {
		fd = guest_start(type, flags[pass], true, guest_read_first_word, &vm, &vcpu);
		vcpu_args_set(vcpu, 1, TEST_GPA);
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_SYNC);
		ksft_print_msg("pass %d, flags 0x%lx: first word 0x%lx\n",
			       pass, flags[pass], uc.args[1]);
		EXPECT_EQ(uc.args[1], want[pass]);
		vcpu_run_to_ucall(vcpu, UCALL_DONE);
		kvm_vm_free(vm);
		close(fd);
		lru_batches_drain();
	}
	unmapped_pool_write("release", 1);
}

/* --- Nested virtualization ---------------------------------------------- */

static void nested_l2_code(void)
{
	vmmcall();
}

static void nested_l1_code(struct svm_test_data *svm)
{
	unsigned long l2_stack[64];

	generic_svm_setup(svm, nested_l2_code, &l2_stack[ARRAY_SIZE(l2_stack)]);
	run_guest(svm->vmcb, svm->vmcb_gpa);
	/* KVM wrote the exit back into vmcb12 on the nested VM exit. */
	GUEST_ASSERT_EQ(svm->vmcb->control.exit_code, SVM_EXIT_VMMCALL);
	GUEST_DONE();
}

FIXTURE(nested) {};
FIXTURE_VARIANT(nested) {
	u64 flags;
};

FIXTURE_VARIANT_ADD(nested, no_direct_map) {
	.flags = MMAP | INIT_SHARED | NO_DIRECT_MAP,
};

FIXTURE_VARIANT_ADD(nested, ordinary) {
	.flags = MMAP | INIT_SHARED,
};

FIXTURE_SETUP(nested) {}
FIXTURE_TEARDOWN(nested) {}

/*
 * An L1 hypervisor whose VMCB for L2 (vmcb12) lies in guest_memfd memory
 * runs L2 to a VMMCALL: KVM reads and writes vmcb12 through the userspace
 * mapping when it cannot map the page. Ordinary guest_memfd is the
 * control.
 */
TEST_F(nested, svm_vmrun)
{
	struct svm_test_data *svm;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	gva_t svm_gva;
	char *mem;
	int fd;

	if (!kvm_cpu_has(X86_FEATURE_SVM))
		SKIP(return, "no nested SVM");
	vm = vm_create_with_one_vcpu(&vcpu, nested_l1_code);
	svm = vcpu_alloc_svm(vm, &svm_gva);
	fd = create_gmem(vm, BLOCK_BYTES, variant->flags);
	ASSERT_GE(fd, 0);
	mem = mmap(NULL, BLOCK_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(mem, MAP_FAILED);
	vm_set_user_memory_region2(vm, TEST_SLOT, KVM_MEM_GUEST_MEMFD, TEST_GPA,
				   BLOCK_BYTES, mem, fd, 0);
	virt_map(vm, TEST_GPA, TEST_GPA, BLOCK_PAGES);
	/* vmcb12 moves to the first page of the guest_memfd. */
	svm->vmcb = (void *)TEST_GPA;
	svm->vmcb_hva = mem;
	svm->vmcb_gpa = TEST_GPA;
	vcpu_args_set(vcpu, 1, svm_gva);

	vcpu_run_to_ucall(vcpu, UCALL_DONE);
	EXPECT_EQ(((struct vmcb *)mem)->control.exit_code, SVM_EXIT_VMMCALL);

	munmap(mem, BLOCK_BYTES);
	close(fd);
	kvm_vm_free(vm);
}

int main(int argc, char **argv)
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GUEST_MEMFD));
	TEST_REQUIRE(unmapped_pool_present());
	TEST_REQUIRE(!access("/proc/kcore", R_OK));
	return test_harness_run(argc, argv);
}
