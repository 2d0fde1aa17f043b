// SPDX-License-Identifier: GPL-2.0-only
/*
 * GUEST_MEMFD_FLAG_NO_DIRECT_MAP under concurrency, on 4 KiB folios and on
 * 2 MiB ones (GUEST_MEMFD_FLAG_HUGE_PAGES, which a hole splits even while
 * other threads use the rest of the folio): several VMs and many
 * threads allocating, punching, mapping, faulting, binding memslots and
 * closing at once while another thread drives the pool's knobs; VMs torn
 * down while their vCPUs fault memory in; the pool's size cap under load.
 *
 * Each worker owns a range of every shared file, so besides "no call fails
 * unexpectedly" it can check what it reads: its own data where it wrote,
 * zeroes where it punched. At the end everything is closed and the pool
 * must drain, giving every block back to the direct map.
 *
 * GMEM_STRESS_SEED and GMEM_STRESS_SECONDS override the seed (32 bits,
 * printed, so a failure can be replayed as far as thread timing allows)
 * and how long the workers run (10 s). Needs root.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "unmapped_util.h"
#include "kselftest_harness.h"

#define NDM_FLAGS	(GUEST_MEMFD_FLAG_NO_DIRECT_MAP | GUEST_MEMFD_FLAG_MMAP | \
			 GUEST_MEMFD_FLAG_INIT_SHARED)
#define NR_VMS		3
#define NR_FILES	2		/* shared guest_memfds per VM */
#define NR_WORKERS	6
/* Each worker's part of a shared file: two share each 2 MiB folio. */
#define REGION		SZ_1M
#define FILE_SIZE	(NR_WORKERS * REGION)
#define REGION_PAGES	(REGION / PAGE_SIZE)
#define MAX_OPS		20000		/* per worker, whatever the time */
#define SLOT_BASE	10
#define GPA_BASE	SZ_4G

/* --- helpers shared by the tests ---------------------------------------- */

/* guest_random, one state per thread; n is small here. */
static u32 rnd_below(struct guest_random_state *rng, u32 n)
{
	return guest_random_u32(rng) % n;
}

/*
 * The seed of the n-th thread or child of a test: the generator has one
 * cycle, and a stride this large puts each thread far along it from the
 * others (seeding from a draw would give the drawing thread's own
 * sequence, one step later).
 */
static u32 nth_seed(u32 seed, u32 n)
{
	return seed + n * 0x9e3779b9u;
}

/* Direct-map state at the start of a test, to compare with at its end. */
struct baseline {
	long long directmap4k, fallbacks, trimmed;
};

static void baseline_take(struct baseline *b)
{
	b->directmap4k = stat_file_read("/proc/meminfo", "DirectMap4k");
	b->fallbacks = stat_file_read("/proc/vmstat", "unmapped_refill_fallback");
	b->trimmed = stat_file_read("/proc/vmstat", "unmapped_trim");
}

/*
 * After a test: the pool is empty and, unless the pool had to fall back to
 * blocks smaller than 2 MiB or trimmed partly used blocks (both split the
 * direct map for good), the direct map has no more 4 KiB entries than
 * before.
 */
static void baseline_check(struct __test_metadata *_metadata, const struct baseline *b)
{
	long long fallbacks, trimmed, dm4k;

	EXPECT_EQ(unmapped_pool_drain(), 0);
	fallbacks = stat_file_read("/proc/vmstat", "unmapped_refill_fallback") - b->fallbacks;
	trimmed = stat_file_read("/proc/vmstat", "unmapped_trim") - b->trimmed;
	dm4k = stat_file_read("/proc/meminfo", "DirectMap4k") - b->directmap4k;
	ksft_print_msg("pool drained; DirectMap4k %+lld KiB\n", dm4k);
	ksft_print_msg("%lld smaller-block refills, %lld pages trimmed\n",
		       fallbacks, trimmed);
	if (!fallbacks && !trimmed)
		EXPECT_LE(dm4k, 0);
}

static void print_seed(u32 seed)
{
	ksft_print_msg("seed %u (GMEM_STRESS_SEED=%u replays it)\n", seed, seed);
}

/*
 * Every test starts with no cap on the pool and leaves its knobs as it
 * found them, even when it fails half-way (the harness still runs the
 * teardown). Fixture tests also get a timeout longer than the harness's
 * default of 30 s, which is too short under TCG.
 */
FIXTURE(stress) {
	unsigned long max_blocks, free_blocks_max, partial_free_max;
	unsigned long refill_batch_max;
};

FIXTURE_SETUP(stress)
{
	if (!unmapped_pool_present())
		SKIP(return, "no unmapped_alloc() pools (%s)", UNMAPPED_POOL_DIR);
	if (!(kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS) & GUEST_MEMFD_FLAG_NO_DIRECT_MAP))
		SKIP(return, "KVM offers no GUEST_MEMFD_FLAG_NO_DIRECT_MAP");
	self->max_blocks = unmapped_pool_read("max_blocks");
	self->free_blocks_max = unmapped_pool_read("free_blocks_max");
	self->partial_free_max = unmapped_pool_read("partial_free_max");
	self->refill_batch_max = unmapped_pool_read("refill_batch_max");
	unmapped_pool_write("max_blocks", 0);
}

FIXTURE_TEARDOWN(stress)
{
	if (!unmapped_pool_present())
		return;
	__unmapped_pool_write("max_blocks", self->max_blocks);
	__unmapped_pool_write("free_blocks_max", self->free_blocks_max);
	__unmapped_pool_write("partial_free_max", self->partial_free_max);
	__unmapped_pool_write("refill_batch_max", self->refill_batch_max);
}

/* --- many threads, many VMs --------------------------------------------- */

struct shared_vm {
	struct kvm_vm *vm;
	int fd[NR_FILES];
	int bound[NR_WORKERS];	/* file each worker's memslot maps, or -1 */
};

static struct shared_vm vms[NR_VMS];
static bool stop;
static double deadline;

struct worker {
	pthread_t thread;
	int id;
	struct guest_random_state rng;
	unsigned long ops, enomem, sigbus;
	int errors;
	char error[192];
};

static __thread sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	siglongjmp(fault_jmp, sig);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Record the first failure; the main thread reports it. */
static void __printf(2, 3) fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->errors++)
		return;
	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
}

/* A call that may fail only for want of memory. */
static void check_ret(struct worker *w, int ret, const char *what)
{
	if (ret >= 0)
		return;
	if (errno == ENOMEM)
		w->enomem++;
	else
		fail(w, "%s: errno %d (%s)", what, errno, strerror(errno));
}

static u64 tag(const struct worker *w, u64 page)
{
	return (u64)w->id << 56 | page << 8 | 0xa5;
}

/*
 * Map this worker's region of a shared file; write a tag to some pages,
 * punch one of them, and check that the tags read back and that the
 * punched page reads back as zeroes.
 */
static void worker_touch(struct worker *w, int fd)
{
	u64 page, punched = rnd_below(&w->rng, REGION_PAGES);
	u64 *mem;
	int i, ret;

	mem = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)w->id * REGION);
	if (mem == MAP_FAILED) {
		check_ret(w, -1, "mmap");
		return;
	}
	if (sigsetjmp(fault_jmp, 1)) {
		/* Only running out of memory may stop a fault here. */
		w->sigbus++;
		goto out;
	}
	for (i = 0; i < 8; i++) {
		page = rnd_below(&w->rng, REGION_PAGES);
		WRITE_ONCE(mem[page * PAGE_SIZE / 8], tag(w, page));
		if (READ_ONCE(mem[page * PAGE_SIZE / 8]) != tag(w, page))
			fail(w, "page %llu lost its tag", (unsigned long long)page);
	}
	WRITE_ONCE(mem[punched * PAGE_SIZE / 8 + 1], tag(w, punched));
	ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)w->id * REGION + punched * PAGE_SIZE, PAGE_SIZE);
	check_ret(w, ret, "punch a mapped page");
	for (i = 0; !ret && i < (int)(PAGE_SIZE / 8); i++)
		if (READ_ONCE(mem[punched * PAGE_SIZE / 8 + i])) {
			fail(w, "punched page %llu reads back word %d = 0x%llx",
			     (unsigned long long)punched, i,
			     (unsigned long long)mem[punched * PAGE_SIZE / 8 + i]);
			break;
		}
out:
	munmap(mem, REGION);
}

/* Bind this worker's memslot to its region of a file, or delete it. */
static void worker_memslot(struct worker *w, struct shared_vm *v)
{
	u32 slot = SLOT_BASE + w->id;
	int f = rnd_below(&w->rng, NR_FILES), ret;
	u64 gpa = GPA_BASE + (u64)w->id * REGION;

	if (v->bound[w->id] >= 0) {
		ret = __vm_set_user_memory_region2(v->vm, slot, KVM_MEM_GUEST_MEMFD,
						   gpa, 0, NULL, v->fd[v->bound[w->id]], 0);
		check_ret(w, ret, "delete memslot");
		if (!ret)
			v->bound[w->id] = -1;
		return;
	}
	ret = __vm_set_user_memory_region2(v->vm, slot, KVM_MEM_GUEST_MEMFD, gpa,
					   REGION, NULL, v->fd[f], (u64)w->id * REGION);
	check_ret(w, ret, "bind memslot");
	if (!ret)
		v->bound[w->id] = f;
}

/*
 * A short-lived file of its own: create, populate (fallocate, or through
 * the mapping with MADV_POPULATE_WRITE or mlock), map, close.
 */
static void worker_churn(struct worker *w, struct shared_vm *v)
{
	size_t size = (1 + rnd_below(&w->rng, 4)) * SZ_1M;
	char *mem;
	int fd, how, ret;

	fd = __vm_create_guest_memfd(v->vm, size, NDM_FLAGS |
				     (rnd_below(&w->rng, 2) ? GUEST_MEMFD_FLAG_HUGE_PAGES : 0));
	if (fd < 0) {
		check_ret(w, fd, "create");
		return;
	}
	how = rnd_below(&w->rng, 3);
	if (!how)
		check_ret(w, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size), "populate");
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem != MAP_FAILED && how == 1) {
		/* A fault that finds no memory is SIGBUS, reported as EFAULT. */
		ret = madvise(mem, size, MADV_POPULATE_WRITE);
		if (ret && errno == EFAULT)
			w->sigbus++;
		else
			check_ret(w, ret, "MADV_POPULATE_WRITE");
	}
	if (mem != MAP_FAILED && how == 2) {
		check_ret(w, mlock(mem, size), "mlock");
		munlock(mem, size);
	}
	if (mem != MAP_FAILED) {
		if (!sigsetjmp(fault_jmp, 1)) {
			if (mem[size - 1])
				fail(w, "a new file's last byte is not zero");
			mem[0] = 1;
		} else {
			w->sigbus++;
		}
		munmap(mem, size);
	} else {
		check_ret(w, -1, "mmap a new file");
	}
	close(fd);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	while (!READ_ONCE(stop) && w->ops < MAX_OPS && now() < deadline) {
		struct shared_vm *v = &vms[rnd_below(&w->rng, NR_VMS)];
		int fd = v->fd[rnd_below(&w->rng, NR_FILES)];
		off_t off = (off_t)w->id * REGION +
			    rnd_below(&w->rng, REGION_PAGES) * PAGE_SIZE;
		off_t len = (1 + rnd_below(&w->rng, REGION_PAGES)) * PAGE_SIZE;

		if (off + len > (off_t)(w->id + 1) * REGION)
			len = (off_t)(w->id + 1) * REGION - off;

		switch (rnd_below(&w->rng, 6)) {
		case 0:
			check_ret(w, fallocate(fd, FALLOC_FL_KEEP_SIZE, off, len),
				  "fallocate");
			break;
		case 1:
			check_ret(w, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					       off, len), "punch");
			break;
		case 2:
		case 3:
			worker_touch(w, fd);
			break;
		case 4:
			worker_memslot(w, v);
			break;
		default:
			worker_churn(w, v);
			break;
		}
		w->ops++;
	}
	return NULL;
}

/*
 * Shrink, refill and cap the pool's free list, trim its partly used
 * blocks, and change the size of its refill batches, while the workers run.
 */
static void *pool_knobs_run(void *arg)
{
	struct worker *w = arg;

	static const char *const knobs[] = {
		"release", "prefill", "free_blocks_max", "partial_free_max",
		"refill_batch_max",
	};
	static const unsigned long limit[] = { 2, 4, 8, 2048, 256 };

	while (!READ_ONCE(stop)) {
		int k = rnd_below(&w->rng, ARRAY_SIZE(knobs));
		unsigned long val = k ? rnd_below(&w->rng, limit[k]) : 1;
		int ret = __unmapped_pool_write(knobs[k], val);

		if (ret && ret != -ENOMEM)
			fail(w, "write %lu to %s%s: %s", val, UNMAPPED_POOL_DIR, knobs[k],
			     strerror(-ret));
		w->ops++;
		usleep(1000 * rnd_below(&w->rng, 20));
	}
	return NULL;
}

TEST_F_TIMEOUT(stress, threads_and_vms, 300)
{
	u32 seed = env_u32("GMEM_STRESS_SEED", time(NULL));
	struct sigaction sa = { .sa_handler = on_fault };
	struct worker workers[NR_WORKERS + 1] = {};
	struct worker *knobs = &workers[NR_WORKERS];
	unsigned long ops = 0, enomem = 0, sigbus = 0;
	struct baseline base;
	int i, j;

	print_seed(seed);
	baseline_take(&base);
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(sigaction(SIGBUS, &sa, NULL), 0);

	for (i = 0; i < NR_VMS; i++) {
		vms[i].vm = vm_create_barebones();
		for (j = 0; j < NR_FILES; j++) {
			/* Odd files on 2 MiB folios, which workers share. */
			u64 huge = j % 2 ? GUEST_MEMFD_FLAG_HUGE_PAGES : 0;

			vms[i].fd[j] = __vm_create_guest_memfd(vms[i].vm, FILE_SIZE,
							       NDM_FLAGS | huge);
			ASSERT_GE(vms[i].fd[j], 0);
		}
		for (j = 0; j < NR_WORKERS; j++)
			vms[i].bound[j] = -1;
	}

	deadline = now() + env_u64("GMEM_STRESS_SECONDS", 10);
	for (i = 0; i <= NR_WORKERS; i++) {
		workers[i].id = i;
		workers[i].rng = unmapped_random_state(nth_seed(seed, i));
		ASSERT_EQ(pthread_create(&workers[i].thread, NULL,
					 i < NR_WORKERS ? worker_run : pool_knobs_run,
					 &workers[i]), 0);
	}
	for (i = 0; i < NR_WORKERS; i++)
		pthread_join(workers[i].thread, NULL);
	WRITE_ONCE(stop, true);
	pthread_join(knobs->thread, NULL);

	for (i = 0; i <= NR_WORKERS; i++) {
		ops += workers[i].ops;
		enomem += workers[i].enomem;
		sigbus += workers[i].sigbus;
		EXPECT_EQ(workers[i].errors, 0)
			TH_LOG("thread %d: %d errors, first: %s", i,
			       workers[i].errors, workers[i].error);
	}
	ksft_print_msg("%d VMs, %d threads and a pool-knob thread: %lu operations\n",
		       NR_VMS, NR_WORKERS, ops);
	ksft_print_msg("%lu ENOMEM, %lu SIGBUS\n", enomem, sigbus);
	/* The VM has plenty of memory: nothing should have run short. */
	EXPECT_EQ(enomem, 0);
	EXPECT_EQ(sigbus, 0);

	for (i = 0; i < NR_VMS; i++) {
		for (j = 0; j < NR_FILES; j++)
			close(vms[i].fd[j]);
		kvm_vm_free(vms[i].vm);
	}
	__unmapped_pool_write("free_blocks_max", self->free_blocks_max);
	__unmapped_pool_write("partial_free_max", self->partial_free_max);
	baseline_check(_metadata, &base);
}

/* --- VMs killed while their vCPUs fault --------------------------------- */

#define TEARDOWN_ROUNDS		8
#define TEARDOWN_SIZE		SZ_16M
#define TEARDOWN_VCPUS		2

/* Write to every page of [base, base + size) over and over. */
static void guest_touch_forever(u64 base, u64 size)
{
	u64 pass, off;

	for (pass = 1; ; pass++)
		for (off = 0; off < size; off += PAGE_SIZE)
			WRITE_ONCE(*(u64 *)(base + off), pass);
}

static void *vcpu_run_forever(void *arg)
{
	struct kvm_vcpu *vcpu = arg;

	for (;;)
		vcpu_run(vcpu);
	return NULL;
}

/*
 * The child: a software-protected VM whose private memory is NO_DIRECT_MAP
 * guest_memfd, two vCPUs faulting it in, and the main thread punching
 * holes in it, until the parent kills the process.
 */
static void teardown_child(int ready_fd, u32 seed)
{
	struct vm_shape shape = { .mode = VM_MODE_DEFAULT, .type = KVM_X86_SW_PROTECTED_VM };
	struct kvm_vcpu *vcpus[TEARDOWN_VCPUS];
	const u64 half = TEARDOWN_SIZE / TEARDOWN_VCPUS;
	pthread_t threads[TEARDOWN_VCPUS];
	struct guest_random_state rng = unmapped_random_state(seed);
	struct kvm_vm *vm;
	u64 flags;
	int fd, i;

	vm = __vm_create_with_vcpus(shape, TEARDOWN_VCPUS, 0, guest_touch_forever, vcpus);
	/* 4 KiB or 2 MiB folios, by the seed. */
	flags = GUEST_MEMFD_FLAG_NO_DIRECT_MAP |
		(guest_random_u32(&rng) & 1 ? GUEST_MEMFD_FLAG_HUGE_PAGES : 0);
	fd = __vm_create_guest_memfd(vm, TEARDOWN_SIZE, flags);
	TEST_ASSERT(fd >= 0, "NO_DIRECT_MAP guest_memfd 0x%lx: errno %d", flags, errno);
	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, GPA_BASE, SLOT_BASE,
		   TEARDOWN_SIZE / PAGE_SIZE, KVM_MEM_GUEST_MEMFD, fd, 0);
	vm_mem_set_private(vm, GPA_BASE, TEARDOWN_SIZE);
	virt_map(vm, GPA_BASE, GPA_BASE, TEARDOWN_SIZE / PAGE_SIZE);
	for (i = 0; i < TEARDOWN_VCPUS; i++) {
		vcpu_args_set(vcpus[i], 2, GPA_BASE + i * half, half);
		TEST_ASSERT(!pthread_create(&threads[i], NULL, vcpu_run_forever, vcpus[i]),
			    "vCPU thread");
	}
	TEST_ASSERT(write(ready_fd, &fd, sizeof(fd)) == sizeof(fd), "tell the parent");
	for (;;) {
		fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  rnd_below(&rng, TEARDOWN_SIZE / PAGE_SIZE) * PAGE_SIZE, SZ_64K);
		usleep(1000);
	}
}

TEST_F_TIMEOUT(stress, teardown_while_faulting, 300)
{
	u32 seed = env_u32("GMEM_STRESS_SEED", time(NULL));
	struct guest_random_state rng = unmapped_random_state(seed);
	u64 allocs = stat_file_read("/proc/vmstat", "unmapped_alloc");
	struct baseline base;
	int round, status;

	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		SKIP(return, "no KVM_X86_SW_PROTECTED_VM");
	print_seed(seed);
	baseline_take(&base);

	for (round = 0; round < TEARDOWN_ROUNDS; round++) {
		int pipefd[2], gmem_fd, i;
		char path[64];
		pid_t pid;

		ASSERT_EQ(pipe(pipefd), 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid) {
			close(pipefd[0]);
			teardown_child(pipefd[1], nth_seed(seed, round + 1));
			_exit(1);
		}
		close(pipefd[1]);
		ASSERT_EQ(read(pipefd[0], &gmem_fd, sizeof(gmem_fd)), sizeof(gmem_fd));
		close(pipefd[0]);
		/*
		 * Wait until the guest has faulted memory in (under TCG that
		 * can take a while), then let it go on for a random time and
		 * kill the VMM under it.
		 */
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, gmem_fd);
		for (i = 0; i < 600 && stat_file_read(path, "gmem-resident") <= 0; i++)
			usleep(100000);
		EXPECT_GT(stat_file_read(path, "gmem-resident"), 0)
			TH_LOG("round %d: the guest faulted nothing in 60 s", round);
		usleep(1000 * rnd_below(&rng, 500));
		ASSERT_EQ(kill(pid, SIGKILL), 0);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("round %d: the VMM ended with status 0x%x before it was killed",
			       round, status);
	}
	allocs = stat_file_read("/proc/vmstat", "unmapped_alloc") - allocs;
	ksft_print_msg("%d VMs killed while %d vCPUs each faulted: %llu unmapped pages allocated\n",
		       TEARDOWN_ROUNDS, TEARDOWN_VCPUS, (unsigned long long)allocs);
	/* The guests did fault memory in: otherwise this tested nothing. */
	EXPECT_GT(allocs, 0);
	baseline_check(_metadata, &base);
}

/* --- the pool's size cap under load ------------------------------------- */

#define CAP_WORKERS	4
#define CAP_FILE_SIZE	SZ_64M
#define CAP_EXTRA	8	/* blocks the cap allows beyond what exists */

struct cap_worker {
	pthread_t thread;
	struct kvm_vm *vm;
	int fd;
	u64 populated;
	int err;
};

static bool cap_stop;

/* Populate 2 MiB at a time until the pool runs out. */
static void *cap_worker_run(void *arg)
{
	struct cap_worker *w = arg;
	off_t off;

	for (off = 0; off < CAP_FILE_SIZE; off += SZ_2M) {
		if (fallocate(w->fd, FALLOC_FL_KEEP_SIZE, off, SZ_2M)) {
			w->err = errno;
			break;
		}
		w->populated += SZ_2M;
	}
	return NULL;
}

static void *cap_watch_run(void *arg)
{
	unsigned long *max_seen = arg, blocks;

	while (!READ_ONCE(cap_stop)) {
		blocks = unmapped_pool_read("blocks");
		if (blocks > *max_seen)
			*max_seen = blocks;
		usleep(1000);
	}
	return NULL;
}

TEST_F_TIMEOUT(stress, pool_cap_under_load, 120)
{
	struct cap_worker w[CAP_WORKERS] = {};
	unsigned long cap, max_seen = 0;
	u64 populated = 0;
	pthread_t watch;
	struct baseline base;
	int i;

	baseline_take(&base);
	ASSERT_EQ(unmapped_pool_drain(), 0);
	cap = CAP_EXTRA;
	unmapped_pool_write("max_blocks", cap);

	for (i = 0; i < CAP_WORKERS; i++) {
		w[i].vm = vm_create_barebones();
		w[i].fd = __vm_create_guest_memfd(w[i].vm, CAP_FILE_SIZE,
						  GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
		ASSERT_GE(w[i].fd, 0);
	}
	ASSERT_EQ(pthread_create(&watch, NULL, cap_watch_run, &max_seen), 0);
	for (i = 0; i < CAP_WORKERS; i++)
		ASSERT_EQ(pthread_create(&w[i].thread, NULL, cap_worker_run, &w[i]), 0);
	for (i = 0; i < CAP_WORKERS; i++) {
		pthread_join(w[i].thread, NULL);
		populated += w[i].populated;
		/* Every worker wanted more than the cap allows. */
		EXPECT_EQ(w[i].err, ENOMEM)
			TH_LOG("worker %d stopped with errno %d after %llu MiB", i, w[i].err,
			       (unsigned long long)w[i].populated >> 20);
	}
	WRITE_ONCE(cap_stop, true);
	pthread_join(watch, NULL);
	ksft_print_msg("cap %lu blocks: %d threads populated %llu MiB, pool peaked at %lu blocks\n",
		       cap, CAP_WORKERS, (unsigned long long)populated >> 20, max_seen);
	EXPECT_LE(max_seen, cap);
	EXPECT_LE(populated, (u64)cap * SZ_2M);
	/* Blocks smaller than 2 MiB (a fragmented host) may hold no 2 MiB. */
	if (stat_file_read("/proc/vmstat", "unmapped_refill_fallback") == base.fallbacks)
		EXPECT_GT(populated, 0);

	for (i = 0; i < CAP_WORKERS; i++) {
		close(w[i].fd);
		kvm_vm_free(w[i].vm);
	}
	unmapped_pool_write("max_blocks", 0);
	baseline_check(_metadata, &base);
}

TEST_HARNESS_MAIN
