// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_bench: populate memory through each path side by side, in one
 * kernel, and print one CSV line per run with its time and the exact
 * counters (TLB flushes, direct-map splits, DirectMap4k, pool) it moved.
 *
 *   gmem_bench [-s MiB[,MiB...]] [-r REPS] [-p PATH[,PATH...]]
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
 *   ndm-warm-kvm    NO_DIRECT_MAP from a pool prefilled (and zeroed) before
 *                   the clock starts
 *   nozero-kvm      NO_DIRECT_MAP|NO_ZERO (needs the test-only
 *                   CONFIG_KVM_GMEM_NO_ZERO_INSECURE_TESTING), cold pool
 *   gmem-kvm-2      gmem-kvm, two vCPUs on two threads, half each
 *   ndm-kvm-2       ndm-kvm, the same way
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#define MIB		(1UL << 20)
#define PAGE		4096UL
#define BLOCK		(2 * MIB)
#define GPA_BASE	(1UL << 32)
#define POOL		"/sys/kernel/mm/unmapped/"
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#ifndef GUEST_MEMFD_FLAG_NO_DIRECT_MAP
#define GUEST_MEMFD_FLAG_NO_DIRECT_MAP	(1ULL << 2)
#endif
#ifndef GUEST_MEMFD_FLAG_NO_ZERO
#define GUEST_MEMFD_FLAG_NO_ZERO	(1ULL << 3)
#endif

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "gmem_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (errno %d: %s)\n", errno, strerror(errno));
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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
};

static long long file_value(const char *path, const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long long val = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		die("open %s", path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && (line[len] == ' ' || line[len] == ':')) {
			val = strtoll(line + len + 1 + strspn(line + len + 1, " "), NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

static void read_counters(struct counters *c)
{
	unsigned int i;

	for (i = 0; i < NR_VMSTAT; i++)
		c->v[i] = file_value("/proc/vmstat", vmstat_names[i]);
	c->directmap4k_kib = file_value("/proc/meminfo", "DirectMap4k");
}

static void pool_write(const char *knob, unsigned long val)
{
	char path[128], buf[32];
	int fd, n;

	snprintf(path, sizeof(path), POOL "%s", knob);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		die("open %s", path);
	n = snprintf(buf, sizeof(buf), "%lu", val);
	if (write(fd, buf, n) != n)
		die("write %s", path);
	close(fd);
}

static unsigned long pool_read(const char *knob)
{
	char path[128];

	snprintf(path, sizeof(path), POOL "%s", knob);
	FILE *f = fopen(path, "r");
	unsigned long val = 0;

	if (!f || fscanf(f, "%lu", &val) != 1)
		die("read %s", path);
	fclose(f);
	return val;
}

/*
 * Empty the pool and wait until it is empty: pages a teardown freed late
 * (per-CPU batches, deferred work) must not be released, scrubbed and
 * flushed inside the next run's window.
 */
static void pool_drain(void)
{
	double start = now();

	/* Freeing GiBs of pages after a VM is gone takes seconds under TCG. */
	while (now() - start < 300) {
		pool_write("release", 1);
		if (!pool_read("blocks"))
			return;
		usleep(50000);
	}
	errno = 0;
	die("the unmapped pool still has %lu blocks after 300 s", pool_read("blocks"));
}

/* --- KVM ---------------------------------------------------------------- */

struct vm {
	int kvm, fd, gmem, vcpu[2];
};

static void vm_create(struct vm *vm, unsigned long type, unsigned long size,
		      uint64_t gmem_flags, int nr_vcpus)
{
	struct kvm_create_guest_memfd gmem = { .size = size, .flags = gmem_flags };
	struct kvm_userspace_memory_region2 region = {
		.slot = 0, .flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = GPA_BASE, .memory_size = size,
	};
	struct kvm_memory_attributes attr = {
		.address = GPA_BASE, .size = size,
		.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};
	int i;

	vm->kvm = open("/dev/kvm", O_RDWR);
	if (vm->kvm < 0)
		die("open /dev/kvm");
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, type);
	if (vm->fd < 0)
		die("KVM_CREATE_VM type %lu", type);
	vm->gmem = ioctl(vm->fd, KVM_CREATE_GUEST_MEMFD, &gmem);
	if (vm->gmem < 0)
		die("KVM_CREATE_GUEST_MEMFD flags 0x%llx", (unsigned long long)gmem_flags);
	if (type == KVM_X86_DEFAULT_VM)
		return;
	/* Private memory, backed by the guest_memfd alone. */
	region.guest_memfd = vm->gmem;
	region.userspace_addr = (uintptr_t)mmap(NULL, size, PROT_NONE,
						MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
						-1, 0);
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &region))
		die("KVM_SET_USER_MEMORY_REGION2");
	if (ioctl(vm->fd, KVM_SET_MEMORY_ATTRIBUTES, &attr))
		die("KVM_SET_MEMORY_ATTRIBUTES");
	for (i = 0; i < nr_vcpus; i++) {
		vm->vcpu[i] = ioctl(vm->fd, KVM_CREATE_VCPU, i);
		if (vm->vcpu[i] < 0)
			die("KVM_CREATE_VCPU");
	}
}

static void vm_destroy(struct vm *vm, int nr_vcpus)
{
	int i;

	for (i = 0; i < nr_vcpus; i++)
		close(vm->vcpu[i]);
	close(vm->gmem);
	close(vm->fd);
	close(vm->kvm);
}

struct prefault {
	int vcpu;
	uint64_t gpa, size;
};

static void *prefault(void *arg)
{
	struct prefault *p = arg;
	struct kvm_pre_fault_memory range = { .gpa = p->gpa, .size = p->size };

	while (range.size)
		if (ioctl(p->vcpu, KVM_PRE_FAULT_MEMORY, &range) &&
		    errno != EINTR && errno != EAGAIN)
			die("KVM_PRE_FAULT_MEMORY at 0x%llx", (unsigned long long)range.gpa);
	return NULL;
}

/* --- paths -------------------------------------------------------------- */

struct run {
	double populate, teardown;
};

/* Counters right after populating, before teardown frees anything. */
static struct counters populated;

static double populate_done(double start)
{
	double t = now() - start;

	read_counters(&populated);
	return t;
}

/* One write per page; volatile so that no store is merged or dropped. */
static void touch(volatile char *p, unsigned long size)
{
	unsigned long off;

	for (off = 0; off < size; off += PAGE)
		p[off] = 1;
}

static struct run run_memset(unsigned long size)
{
	struct run r;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	double t;

	if (p == MAP_FAILED)
		die("mmap anonymous");
	t = now();
	memset(p, 0x5a, size);
	r.populate = populate_done(t);
	t = now();
	munmap(p, size);
	r.teardown = now() - t;
	return r;
}

static struct run run_mmap_fd(int fd, unsigned long size, struct vm *vm)
{
	struct run r;
	char *p;
	double t;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	t = now();
	touch(p, size);
	r.populate = populate_done(t);
	t = now();
	munmap(p, size);
	if (vm)
		vm_destroy(vm, 0);
	else
		close(fd);
	r.teardown = now() - t;
	return r;
}

static struct run run_gmem_mmap(unsigned long size, uint64_t flags)
{
	struct vm vm;

	vm_create(&vm, KVM_X86_DEFAULT_VM, size,
		  GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED | flags, 0);
	return run_mmap_fd(vm.gmem, size, &vm);
}

static struct run run_secretmem(unsigned long size)
{
	int fd = syscall(SYS_memfd_secret, 0);

	if (fd < 0)
		die("memfd_secret (boot with secretmem.enable=1)");
	if (ftruncate(fd, size))
		die("ftruncate memfd_secret");
	return run_mmap_fd(fd, size, NULL);
}

static struct run run_kvm(unsigned long size, uint64_t flags, int nr_vcpus)
{
	struct prefault pf[2];
	pthread_t thread;
	struct vm vm;
	struct run r;
	double t;
	int i;

	vm_create(&vm, KVM_X86_SW_PROTECTED_VM, size, flags, nr_vcpus);
	for (i = 0; i < nr_vcpus; i++) {
		pf[i].vcpu = vm.vcpu[i];
		pf[i].size = size / nr_vcpus;
		pf[i].gpa = GPA_BASE + i * pf[i].size;
	}
	t = now();
	if (nr_vcpus == 2 && pthread_create(&thread, NULL, prefault, &pf[1]))
		die("pthread_create");
	prefault(&pf[0]);
	if (nr_vcpus == 2)
		pthread_join(thread, NULL);
	r.populate = populate_done(t);
	t = now();
	vm_destroy(&vm, nr_vcpus);
	r.teardown = now() - t;
	return r;
}

#define NDM	GUEST_MEMFD_FLAG_NO_DIRECT_MAP

/* How each path populates, with which guest_memfd flags and vCPUs. */
static const struct path {
	const char *name;
	enum { MEMSET, GMEM_MMAP, SECRETMEM, KVM } how;
	uint64_t flags;
	int nr_vcpus;
	bool warm;		/* prefill the pool before the clock starts */
} paths[] = {
	{ .name = "memset",         .how = MEMSET },
	{ .name = "gmem-mmap",      .how = GMEM_MMAP },
	{ .name = "ndm-mmap",       .how = GMEM_MMAP, .flags = NDM },
	{ .name = "secretmem-mmap", .how = SECRETMEM },
	{ .name = "gmem-kvm",       .how = KVM, .nr_vcpus = 1 },
	{ .name = "ndm-kvm",        .how = KVM, .flags = NDM, .nr_vcpus = 1 },
	{ .name = "ndm-warm-kvm",   .how = KVM, .flags = NDM, .nr_vcpus = 1, .warm = true },
	{ .name = "nozero-kvm",     .how = KVM, .flags = NDM | GUEST_MEMFD_FLAG_NO_ZERO,
	  .nr_vcpus = 1 },
	{ .name = "gmem-kvm-2",     .how = KVM, .nr_vcpus = 2 },
	{ .name = "ndm-kvm-2",      .how = KVM, .flags = NDM, .nr_vcpus = 2 },
};

static const struct path *find_path(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(paths); i++)
		if (!strcmp(paths[i].name, name))
			return &paths[i];
	errno = EINVAL;
	die("unknown path %s", name);
	return NULL;
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
	unsigned long blocks = mib * MIB / BLOCK, saved_max;
	struct counters before;
	struct run r;
	unsigned int i;

	pool_drain();
	saved_max = pool_read("free_blocks_max");
	if (p->warm) {
		pool_write("free_blocks_max", blocks);
		pool_write("prefill", blocks);
	}
	read_counters(&before);
	r = run_path(p, mib * MIB);
	if (p->warm)
		pool_write("free_blocks_max", saved_max);

	printf("%s,%lu,%d,%.6f,%.6f", p->name, mib, rep, r.populate, r.teardown);
	for (i = 0; i < NR_VMSTAT; i++)
		printf(",%lld", populated.v[i] - before.v[i]);
	printf(",%lld\n", populated.directmap4k_kib - before.directmap4k_kib);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char *sizes = strdup("256,512,1024,2048"), *only = NULL, *tok, *save;
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	int reps = 3, opt, rep;
	unsigned int i;

	while ((opt = getopt(argc, argv, "s:r:p:")) != -1) {
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
		default:
			fprintf(stderr, "usage: %s [-s MiB,...] [-r REPS] [-p PATH,...]\n",
				argv[0]);
			return 2;
		}
	}
	/* memfd_secret pages count against RLIMIT_MEMLOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		die("setrlimit RLIMIT_MEMLOCK");

	printf("path,size_mib,rep,populate_s,teardown_s");
	for (i = 0; i < NR_VMSTAT; i++)
		printf(",%s", vmstat_names[i]);
	printf(",directmap4k_kib\n");

	for (tok = strtok_r(sizes, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long mib = strtoul(tok, NULL, 0);

		/* Paths interleaved within each repetition, so drift hits all. */
		for (rep = 0; rep < reps; rep++) {
			if (!only) {
				for (i = 0; i < ARRAY_SIZE(paths); i++)
					measure(&paths[i], mib, rep);
				continue;
			}
			char *list = strdup(only), *name, *s2;

			for (name = strtok_r(list, ",", &s2); name; name = strtok_r(NULL, ",", &s2))
				measure(find_path(name), mib, rep);
			free(list);
		}
	}
	return 0;
}
