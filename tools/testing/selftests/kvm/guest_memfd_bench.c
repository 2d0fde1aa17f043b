// SPDX-License-Identifier: GPL-2.0
/*
 * guest_memfd_bench: populate memory through each path side by side, in one
 * kernel, and write one CSV line per run with its time and the exact
 * counters (TLB flushes, direct-map splits, DirectMap4k, pool, page faults,
 * KVM's 4 KiB and 2 MiB mappings) it moved.
 *
 *   guest_memfd_bench [-s MiB[,MiB...]] [-r REPS] [-p PATH[,PATH...]] [-o CSV]
 *
 * The counters are those populating moved, teardown excluded (its time is
 * reported on its own).
 *
 * Paths, populated by touching each 4 KiB page through an mmap ("mmap"),
 * or through KVM_PRE_FAULT_MEMORY on private memory of a
 * KVM_X86_SW_PROTECTED_VM ("kvm"), as a vCPU's first touch would:
 *   memset          bandwidth of writing already-faulted anonymous memory
 *   gmem-mmap       upstream guest_memfd (MMAP|INIT_SHARED): zeroed, mapped
 *   ndm-mmap        GUEST_MEMFD_FLAG_NO_DIRECT_MAP, from a cold pool
 *   secretmem-mmap  memfd_secret(): a direct-map unmap and flush per page
 *   gmem-kvm        upstream guest_memfd, private
 *   ndm-kvm         NO_DIRECT_MAP, private, cold pool
 *   ndm-kvm-unbatched  the same with one block and one TLB flush per
 *                   refill (refill_batch_max=1), as before batching
 *   ndm-warm-kvm    NO_DIRECT_MAP from a pool prefilled (and zeroed) before
 *                   the clock starts
 *   nozero-kvm      NO_DIRECT_MAP|NO_ZERO (needs the test-only
 *                   CONFIG_KVM_GMEM_NO_ZERO_INSECURE_TESTING), cold pool
 *   gmem-kvm-2      gmem-kvm, two vCPUs on two threads, half each
 *   ndm-kvm-2       ndm-kvm, the same way
 *   huge-mmap       NO_DIRECT_MAP|HUGE_PAGES (2 MiB folios), cold pool
 *   huge-warm-mmap  the same from a prefilled pool
 *   huge-kvm        NO_DIRECT_MAP|HUGE_PAGES, private, cold pool
 *   huge-warm-kvm   the same from a prefilled pool
 *   huge-nozero-kvm NO_DIRECT_MAP|HUGE_PAGES|NO_ZERO, cold pool
 *
 * The VMs are bare: no memslot but the measured one, no guest page tables,
 * vCPUs without any state set, as none of them ever runs.
 *
 * A benchmark, not a test: built but not run by default. Needs root and
 * the pool's knobs; memfd_secret() needs secretmem.enable=1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "unmapped_util.h"

#define GPA_BASE	SZ_4G
#define SLOT		0
#define DRAIN_SECONDS	300

#define MMAP		(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)
#define NDM		GUEST_MEMFD_FLAG_NO_DIRECT_MAP
#define NO_ZERO		GUEST_MEMFD_FLAG_NO_ZERO
#define HUGE		(GUEST_MEMFD_FLAG_NO_DIRECT_MAP | GUEST_MEMFD_FLAG_HUGE_PAGES)

/* Where the CSV goes: -o FILE, so that nothing else printed mixes in. */
static FILE *csv;

static struct timespec clock_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static double seconds_since(struct timespec start)
{
	return timespec_to_ns(timespec_elapsed(start)) / 1e9;
}

/* --- counters ----------------------------------------------------------- */

static const char *const vmstat_names[] = {
	"nr_tlb_local_flush_one", "nr_tlb_local_flush_all",
	"nr_tlb_remote_flush", "direct_map_level2_splits",
	"direct_map_level3_splits", "unmapped_tlb_flush", "unmapped_refill",
	"unmapped_scrub", "compact_stall",
};

#define NR_VMSTAT ARRAY_SIZE(vmstat_names)

struct counters {
	long long v[NR_VMSTAT];
	long long directmap4k_kib;
	long long minor_faults;		/* this process's */
};

/* A counter this kernel lacks reads -1 before and after: it moved by 0. */
static void read_counters(struct counters *c)
{
	struct rusage ru;
	unsigned int i;

	for (i = 0; i < NR_VMSTAT; i++)
		c->v[i] = stat_file_read("/proc/vmstat", vmstat_names[i]);
	c->directmap4k_kib = stat_file_read("/proc/meminfo", "DirectMap4k");
	TEST_ASSERT(!getrusage(RUSAGE_SELF, &ru), "getrusage");
	c->minor_faults = ru.ru_minflt;
}

/*
 * Empty the pool and wait until it is empty: pages a teardown freed late
 * (per-CPU batches, deferred work) must not be released, scrubbed and
 * flushed inside the next run's window.
 */
static void pool_drain(void)
{
	struct timespec start = clock_start();
	unsigned long left;

	/* Freeing GiBs of pages after a VM is gone takes seconds under TCG. */
	do {
		left = unmapped_pool_drain();
	} while (left && seconds_since(start) < DRAIN_SECONDS);
	TEST_ASSERT(!left, "the unmapped pool still has %lu blocks after %d s",
		    left, DRAIN_SECONDS);
}

/* --- KVM ---------------------------------------------------------------- */

struct bench_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[2];
	void *hva;		/* the memslot's shared side, never touched */
	u64 size;
	int gmem;
};

static void bench_vm_create(struct bench_vm *b, unsigned long type, u64 size,
			    u64 gmem_flags, int nr_vcpus)
{
	int i;

	b->vm = vm_create_barebones_type(type);
	b->gmem = vm_create_guest_memfd(b->vm, size, gmem_flags);
	b->size = size;
	b->hva = NULL;
	if (type == KVM_X86_DEFAULT_VM)
		return;

	/*
	 * Private memory, backed by the guest_memfd alone. Not vm_mem_add():
	 * kvm_vm_free() would unmap its memory before closing the VM, adding
	 * MMU notifier work to the timed teardown.
	 */
	b->hva = kvm_mmap(size, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	vm_set_user_memory_region2(b->vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA_BASE,
				   size, b->hva, b->gmem, 0);
	vm_mem_set_private(b->vm, GPA_BASE, size);
	for (i = 0; i < nr_vcpus; i++)
		b->vcpu[i] = __vm_vcpu_add(b->vm, i);
}

/* What teardown times: the guest_memfd's release, then the VM's. */
static void bench_vm_destroy(struct bench_vm *b)
{
	kvm_close(b->gmem);
	kvm_vm_free(b->vm);
}

/* After the clock: the address space the memslot pointed at. */
static void bench_vm_unmap(struct bench_vm *b)
{
	if (b->hva)
		kvm_munmap(b->hva, b->size);
}

struct prefault {
	struct kvm_vcpu *vcpu;
	u64 gpa, size;
};

static void *prefault(void *arg)
{
	struct prefault *p = arg;
	struct kvm_pre_fault_memory range = { .gpa = p->gpa, .size = p->size };
	int ret;

	while (range.size) {
		ret = __vcpu_ioctl(p->vcpu, KVM_PRE_FAULT_MEMORY, &range);
		TEST_ASSERT(!ret || errno == EINTR || errno == EAGAIN,
			    "KVM_PRE_FAULT_MEMORY at 0x%llx",
			    (unsigned long long)range.gpa);
	}
	return NULL;
}

/* --- paths -------------------------------------------------------------- */

struct run {
	double populate, teardown;
	u64 pages_4k, pages_2m;		/* KVM's mappings once populated */
};

/* Counters right after populating, before teardown frees anything. */
static struct counters populated;

static double populate_done(struct timespec start)
{
	double t = seconds_since(start);

	read_counters(&populated);
	return t;
}

/* One write per page; WRITE_ONCE so that no store is merged or dropped. */
static void touch(char *p, unsigned long size)
{
	unsigned long off;

	for (off = 0; off < size; off += PAGE_SIZE)
		WRITE_ONCE(p[off], 1);
}

/*
 * memset() in this program is kvm_util's byte-at-a-time one, made for
 * guest code (lib/string_override.c). Fill the way glibc's memset() does
 * at these sizes on CPUs with ERMS: rep stosb.
 */
static void fill(void *p, unsigned long size)
{
	asm volatile("rep stosb"
		     : "+D" (p), "+c" (size) : "a" (0x5a) : "memory");
}

static struct run run_memset(unsigned long size)
{
	struct run r = {};
	struct timespec t;
	char *p;

	p = kvm_mmap(size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1);
	t = clock_start();
	fill(p, size);
	r.populate = populate_done(t);
	t = clock_start();
	kvm_munmap(p, size);
	r.teardown = seconds_since(t);
	return r;
}

/*
 * In a VM the host backs guest memory on its first write: under TCG that
 * costs more than populating it again. A path that meets memory nothing
 * had written yet pays for it, and in a fresh VM the pool's 2 MiB blocks
 * are such memory, while order-0 pages come back hot from earlier paths.
 * Write three quarters of what is free once, before any path runs.
 */
static void touch_free_memory(void)
{
	long free_pages = sysconf(_SC_AVPHYS_PAGES);
	unsigned long size;
	void *p;

	TEST_ASSERT(free_pages > 0, "sysconf(_SC_AVPHYS_PAGES)");
	size = (free_pages / 4 * 3 * getpagesize()) & ~(SZ_2M - 1UL);
	p = kvm_mmap(size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1);
	kvm_munmap(p, size);
}

/* Touch @fd's pages through a mapping; then close @b's VM, or just @fd. */
static struct run run_mmap_fd(int fd, unsigned long size, struct bench_vm *b)
{
	struct run r = {};
	struct timespec t;
	char *p;

	p = kvm_mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	t = clock_start();
	touch(p, size);
	r.populate = populate_done(t);
	t = clock_start();
	kvm_munmap(p, size);
	if (b)
		bench_vm_destroy(b);
	else
		kvm_close(fd);
	r.teardown = seconds_since(t);
	return r;
}

static struct run run_gmem_mmap(unsigned long size, u64 flags)
{
	struct bench_vm b;

	bench_vm_create(&b, KVM_X86_DEFAULT_VM, size, flags, 0);
	return run_mmap_fd(b.gmem, size, &b);
}

static struct run run_secretmem(unsigned long size)
{
	int fd = syscall(__NR_memfd_secret, 0);

	TEST_ASSERT(fd >= 0, "memfd_secret (boot with secretmem.enable=1)");
	kvm_ftruncate(fd, size);
	return run_mmap_fd(fd, size, NULL);
}

static struct run run_kvm(unsigned long size, u64 flags, int nr_vcpus)
{
	struct prefault pf[2];
	struct run r = {};
	struct bench_vm b;
	struct timespec t;
	pthread_t thread;
	int i;

	bench_vm_create(&b, KVM_X86_SW_PROTECTED_VM, size, flags, nr_vcpus);
	for (i = 0; i < nr_vcpus; i++) {
		pf[i].vcpu = b.vcpu[i];
		pf[i].size = size / nr_vcpus;
		pf[i].gpa = GPA_BASE + i * pf[i].size;
	}
	t = clock_start();
	if (nr_vcpus == 2)
		TEST_ASSERT(!pthread_create(&thread, NULL, prefault, &pf[1]),
			    "pthread_create");
	prefault(&pf[0]);
	if (nr_vcpus == 2)
		pthread_join(thread, NULL);
	r.populate = populate_done(t);
	r.pages_4k = vm_get_stat(b.vm, pages_4k);
	r.pages_2m = vm_get_stat(b.vm, pages_2m);
	t = clock_start();
	bench_vm_destroy(&b);
	r.teardown = seconds_since(t);
	bench_vm_unmap(&b);
	return r;
}

/* How each path populates, with which guest_memfd flags and vCPUs. */
static const struct path {
	const char *name;
	enum { MEMSET, GMEM_MMAP, SECRETMEM, KVM } how;
	u64 flags;
	int nr_vcpus;
	bool warm;		/* prefill the pool before the clock starts */
	bool unbatched;		/* refill one block at a time */
} paths[] = {
	{ .name = "memset",         .how = MEMSET },
	{ .name = "gmem-mmap",      .how = GMEM_MMAP, .flags = MMAP },
	{ .name = "ndm-mmap",       .how = GMEM_MMAP, .flags = MMAP | NDM },
	{ .name = "secretmem-mmap", .how = SECRETMEM },
	{ .name = "gmem-kvm",       .how = KVM, .nr_vcpus = 1 },
	{ .name = "ndm-kvm",        .how = KVM, .flags = NDM, .nr_vcpus = 1 },
	{ .name = "ndm-kvm-unbatched", .how = KVM, .flags = NDM, .nr_vcpus = 1,
	  .unbatched = true },
	{ .name = "ndm-warm-kvm",   .how = KVM, .flags = NDM, .nr_vcpus = 1, .warm = true },
	{ .name = "nozero-kvm",     .how = KVM, .flags = NDM | NO_ZERO, .nr_vcpus = 1 },
	{ .name = "gmem-kvm-2",     .how = KVM, .nr_vcpus = 2 },
	{ .name = "ndm-kvm-2",      .how = KVM, .flags = NDM, .nr_vcpus = 2 },
	{ .name = "huge-mmap",      .how = GMEM_MMAP, .flags = MMAP | HUGE },
	{ .name = "huge-warm-mmap", .how = GMEM_MMAP, .flags = MMAP | HUGE, .warm = true },
	{ .name = "huge-kvm",       .how = KVM, .flags = HUGE, .nr_vcpus = 1 },
	{ .name = "huge-warm-kvm",  .how = KVM, .flags = HUGE, .nr_vcpus = 1, .warm = true },
	{ .name = "huge-nozero-kvm", .how = KVM, .flags = HUGE | NO_ZERO, .nr_vcpus = 1 },
};

static const struct path *find_path(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(paths); i++)
		if (!strcmp(paths[i].name, name))
			return &paths[i];
	return NULL;
}

/* Skip, before the header, if this kernel cannot run path @p at all. */
static void require_path(const struct path *p)
{
	unsigned long type = KVM_X86_DEFAULT_VM;
	struct kvm_vm *vm;
	u64 offered;

	if (p->how == MEMSET || p->how == SECRETMEM)
		return;
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GUEST_MEMFD));
	if (p->how == KVM) {
		type = KVM_X86_SW_PROTECTED_VM;
		TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(type));
		TEST_REQUIRE(kvm_has_cap(KVM_CAP_PRE_FAULT_MEMORY));
	}
	vm = vm_create_barebones_type(type);
	offered = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	kvm_vm_free(vm);
	__TEST_REQUIRE((offered & p->flags) == p->flags,
		       "%s: guest_memfd flags 0x%llx, KVM offers 0x%llx",
		       p->name, (unsigned long long)p->flags,
		       (unsigned long long)offered);
}

static struct run run_path(const struct path *p, unsigned long size)
{
	switch (p->how) {
	case MEMSET:
		return run_memset(size);
	case GMEM_MMAP:
		return run_gmem_mmap(size, p->flags);
	case SECRETMEM:
		return run_secretmem(size);
	default:
		return run_kvm(size, p->flags, p->nr_vcpus);
	}
}

/* One measured run, with the pool in the state the path asks for. */
static void measure(const struct path *p, unsigned long mib, int rep)
{
	unsigned long blocks = mib * SZ_1M / SZ_2M, saved_max, saved_batch;
	struct counters before;
	struct run r;
	unsigned int i;

	pool_drain();
	saved_max = unmapped_pool_read("free_blocks_max");
	saved_batch = unmapped_pool_read("refill_batch_max");
	if (p->warm) {
		unmapped_pool_write("free_blocks_max", blocks);
		unmapped_pool_write("prefill", blocks);
	}
	if (p->unbatched)
		unmapped_pool_write("refill_batch_max", 1);
	read_counters(&before);
	r = run_path(p, mib * SZ_1M);
	unmapped_pool_write("free_blocks_max", saved_max);
	unmapped_pool_write("refill_batch_max", saved_batch);

	fprintf(csv, "%s,%lu,%d,%.6f,%.6f", p->name, mib, rep, r.populate,
		r.teardown);
	for (i = 0; i < NR_VMSTAT; i++)
		fprintf(csv, ",%lld", populated.v[i] - before.v[i]);
	fprintf(csv, ",%lld,%lld,%llu,%llu\n",
		populated.directmap4k_kib - before.directmap4k_kib,
		populated.minor_faults - before.minor_faults,
		(unsigned long long)r.pages_4k, (unsigned long long)r.pages_2m);
	fflush(csv);
	fflush(stdout);
}

static void help(const char *name)
{
	unsigned int i;

	fprintf(stderr, "usage: %s [-s MiB,...] [-r REPS] [-p PATH,...] [-o FILE]\n",
		name);
	fprintf(stderr, "  -s  sizes to populate, in MiB (256,512,1024,2048)\n");
	fprintf(stderr, "  -r  repetitions of each (3)\n");
	fprintf(stderr, "  -o  write the CSV to FILE (stdout)\n");
	fprintf(stderr, "  -p  paths, run in the order given (all):");
	for (i = 0; i < ARRAY_SIZE(paths); i++)
		fprintf(stderr, " %s", paths[i].name);
	fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
	char *sizes = strdup("256,512,1024,2048"), *only = NULL, *tok, *save;
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	const struct path **sel;
	int reps = 3, opt, rep;
	unsigned int i, nr_sel = 0;

	while ((opt = getopt(argc, argv, "s:r:p:o:h")) != -1) {
		switch (opt) {
		case 's':
			sizes = optarg;
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'p':
			only = optarg;
			break;
		case 'o':
			csv = fopen(optarg, "w");
			TEST_ASSERT(csv, "cannot write %s", optarg);
			break;
		case 'h':
			help(argv[0]);
			return 0;
		default:
			help(argv[0]);
			return 2;
		}
	}

	/* Paths interleaved within each repetition, so drift hits all. */
	sel = calloc(only ? strlen(only) + 1 : ARRAY_SIZE(paths), sizeof(*sel));
	TEST_ASSERT(sel, "calloc");
	if (!only)
		for (i = 0; i < ARRAY_SIZE(paths); i++)
			sel[nr_sel++] = &paths[i];
	for (tok = only ? strtok_r(only, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		sel[nr_sel] = find_path(tok);
		if (!sel[nr_sel]) {
			fprintf(stderr, "unknown path %s\n", tok);
			help(argv[0]);
			return 2;
		}
		nr_sel++;
	}

	TEST_REQUIRE(unmapped_pool_present());
	for (i = 0; i < nr_sel; i++)
		require_path(sel[i]);
	/* memfd_secret pages count against RLIMIT_MEMLOCK. */
	TEST_ASSERT(!setrlimit(RLIMIT_MEMLOCK, &unlimited), "setrlimit RLIMIT_MEMLOCK");

	if (!csv)
		csv = stdout;
	touch_free_memory();
	fprintf(csv, "path,size_mib,rep,populate_s,teardown_s");
	for (i = 0; i < NR_VMSTAT; i++)
		fprintf(csv, ",%s", vmstat_names[i]);
	fprintf(csv, ",directmap4k_kib,minor_faults,kvm_pages_4k,kvm_pages_2m\n");

	for (tok = strtok_r(sizes, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long mib = strtoul(tok, NULL, 0);

		for (rep = 0; rep < reps; rep++)
			for (i = 0; i < nr_sel; i++)
				measure(sel[i], mib, rep);
	}
	if (csv != stdout)
		fclose(csv);
	return 0;
}
