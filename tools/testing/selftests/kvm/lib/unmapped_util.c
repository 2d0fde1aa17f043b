// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for tests of unmapped_alloc() pools and of guest_memfd without
 * the direct map. See include/unmapped_util.h.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/bits.h>

#include "cgroup_util.h"
#include "unmapped_util.h"

bool unmapped_pool_present(void)
{
	return !access(UNMAPPED_POOL_DIR "blocks", F_OK);
}

unsigned long unmapped_pool_read(const char *knob)
{
	char path[128];
	unsigned long val;
	FILE *f;

	snprintf(path, sizeof(path), UNMAPPED_POOL_DIR "%s", knob);
	f = fopen(path, "r");
	TEST_ASSERT(f, "open %s", path);
	TEST_ASSERT(fscanf(f, "%lu", &val) == 1, "read %s", path);
	fclose(f);
	return val;
}

/* 0, or -errno: some writes (prefill) may fail with ENOMEM by design. */
int __unmapped_pool_write(const char *knob, unsigned long val)
{
	char path[128], buf[32];
	ssize_t ret;
	int len;

	snprintf(path, sizeof(path), UNMAPPED_POOL_DIR "%s", knob);
	len = snprintf(buf, sizeof(buf), "%lu", val);
	ret = write_text(path, buf, len);
	return ret < 0 ? ret : 0;
}

void unmapped_pool_write(const char *knob, unsigned long val)
{
	int ret = __unmapped_pool_write(knob, val);

	TEST_ASSERT(!ret, "write %lu to %s%s: %s", val, UNMAPPED_POOL_DIR, knob,
		    strerror(-ret));
}

/*
 * Give every fully free block back, retrying for up to ten seconds while
 * what VMs or files closed a moment ago is still being freed. The release
 * knob drains the per-CPU LRU batches first. Returns the blocks left.
 */
unsigned long unmapped_pool_drain(void)
{
	unsigned long blocks;
	int i;

	for (i = 0; i < 200; i++) {
		unmapped_pool_write("release", 1);
		blocks = unmapped_pool_read("blocks");
		if (!blocks)
			break;
		usleep(50000);
	}
	return blocks;
}

/*
 * Folios the page cache dropped can sit in per-CPU LRU batches for a
 * while before they are freed. Writing 1 to drop_caches drains those
 * batches on every CPU (and drops clean page cache) without releasing any
 * pool block, which the release knob would do.
 */
void lru_batches_drain(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	TEST_ASSERT(fd >= 0, "open /proc/sys/vm/drop_caches");
	TEST_ASSERT(write(fd, "1", 1) == 1, "write /proc/sys/vm/drop_caches");
	close(fd);
}

/*
 * The value after @key in @path ("key value" or "key: value kB"), decimal
 * or 0x-prefixed hex, or -1.
 */
long long stat_file_read(const char *path, const char *key)
{
	size_t len = strlen(key);
	long long val = -1;
	char line[256];
	FILE *f = fopen(path, "r");

	TEST_ASSERT(f, "open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, len) &&
		    (line[len] == ' ' || line[len] == ':')) {
			val = strtoll(line + len + 1, NULL, 0);
			break;
		}
	}
	fclose(f);
	return val;
}

u64 vmstat_read(const char *name)
{
	long long val = stat_file_read("/proc/vmstat", name);

	TEST_ASSERT(val >= 0, "%s missing from /proc/vmstat", name);
	return val;
}

/* The value of @key in the fdinfo of this process's @fd, or -1. */
long long fdinfo_read(int fd, const char *key)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return stat_file_read(path, key);
}

/* The value of @key ("FilePmdMapped", ...) for the mapping of @addr, or -1. */
long long smaps_read(void *addr, const char *key)
{
	unsigned long start, end, want = (unsigned long)addr;
	size_t len = strlen(key);
	bool in_vma = false;
	long long val = -1;
	char line[256];
	FILE *f = fopen("/proc/self/smaps", "r");

	TEST_ASSERT(f, "open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in_vma = start <= want && want < end;
			continue;
		}
		if (in_vma && !strncmp(line, key, len) && line[len] == ':') {
			val = strtoll(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

u64 node_vmstat_read(int nid, const char *name)
{
	char path[64];
	long long val;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/vmstat", nid);
	val = stat_file_read(path, name);
	TEST_ASSERT(val >= 0, "%s missing from %s", name, path);
	return val;
}

u64 env_u64(const char *name, u64 dflt)
{
	const char *s = getenv(name);

	return s ? strtoull(s, NULL, 0) : dflt;
}

void kcore_open(struct kcore *kc)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int i;

	kc->nr = 0;
	kc->fd = open("/proc/kcore", O_RDONLY);
	TEST_ASSERT(kc->fd >= 0, "open /proc/kcore");
	TEST_ASSERT(pread(kc->fd, &eh, sizeof(eh), 0) == sizeof(eh), "kcore ELF header");
	for (i = 0; i < eh.e_phnum; i++) {
		TEST_ASSERT(pread(kc->fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) ==
			    sizeof(ph), "kcore program header %d", i);
		/* RAM is what the direct map maps: below the kernel image. */
		if (ph.p_type != PT_LOAD || ph.p_paddr == (u64)-1 ||
		    ph.p_vaddr >= 0xffffffff80000000ull)
			continue;
		TEST_ASSERT(kc->nr < 64, "too many kcore RAM segments");
		kc->seg[kc->nr].paddr = ph.p_paddr;
		kc->seg[kc->nr].vaddr = ph.p_vaddr;
		kc->seg[kc->nr].size = ph.p_memsz;
		kc->seg[kc->nr].offset = ph.p_offset;
		kc->nr++;
	}
	TEST_ASSERT(kc->nr, "no System RAM in /proc/kcore");
}

void kcore_close(struct kcore *kc)
{
	close(kc->fd);
	kc->fd = -1;
}

/* Read one page through its direct-map address. */
void kcore_read_page(struct kcore *kc, u64 pfn, void *buf)
{
	u64 paddr = pfn * getpagesize();
	int i;

	for (i = 0; i < kc->nr; i++)
		if (paddr >= kc->seg[i].paddr &&
		    paddr - kc->seg[i].paddr < kc->seg[i].size)
			break;
	TEST_ASSERT(i < kc->nr, "physical address 0x%lx is not System RAM in /proc/kcore",
		    paddr);
	TEST_ASSERT(pread(kc->fd, buf, getpagesize(),
			  kc->seg[i].offset + paddr - kc->seg[i].paddr) == getpagesize(),
		    "read pfn 0x%lx through /proc/kcore", pfn);
}

/* The pfn behind a present page of this process (needs root). */
u64 pagemap_pfn(void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	u64 entry;

	TEST_ASSERT(fd >= 0, "open /proc/self/pagemap");
	TEST_ASSERT(pread(fd, &entry, sizeof(entry),
			  (unsigned long)addr / getpagesize() * sizeof(entry)) ==
		    sizeof(entry), "read pagemap");
	close(fd);
	TEST_ASSERT(entry & BIT_ULL(63), "page at %p not present", addr);
	entry &= GENMASK_ULL(54, 0);
	TEST_ASSERT(entry, "pagemap hides PFNs: not root?");
	return entry;
}

u64 kpageflags_read(u64 pfn)
{
	int fd = open("/proc/kpageflags", O_RDONLY);
	u64 flags;

	TEST_ASSERT(fd >= 0, "open /proc/kpageflags");
	TEST_ASSERT(pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) == sizeof(flags),
		    "read /proc/kpageflags");
	close(fd);
	return flags;
}

struct ucall vcpu_run_to_ucall(struct kvm_vcpu *vcpu, u64 cmd)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT(uc.cmd == cmd, "ucall %lu, want %lu", uc.cmd, cmd);
	return uc;
}

u32 env_u32(const char *name, u32 dflt)
{
	u64 val = env_u64(name, dflt);

	TEST_ASSERT(val <= UINT32_MAX, "%s=%llu: more than 32 bits", name,
		    (unsigned long long)val);
	return val;
}

/* Park-Miller, modulo 2^31 - 1: from a multiple of that it stays at 0. */
struct guest_random_state unmapped_random_state(u32 seed)
{
	return new_guest_random_state(seed % 0x7fffffff ? seed : 1);
}
