/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tests of unmapped_alloc() pools and of guest_memfd without
 * the direct map: the pools' knobs, the kernel's counters, and the host's
 * own views of its memory (/proc/kcore, pagemap, kpageflags).
 */
#ifndef SELFTEST_KVM_UNMAPPED_UTIL_H
#define SELFTEST_KVM_UNMAPPED_UTIL_H

#include <stdbool.h>

#include "kvm_util.h"
#include "test_util.h"
#include "ucall_common.h"

#define UNMAPPED_POOL_DIR	"/sys/kernel/mm/unmapped/"

/* The pools' knobs, by file name in UNMAPPED_POOL_DIR. */
bool unmapped_pool_present(void);
unsigned long unmapped_pool_read(const char *knob);
int __unmapped_pool_write(const char *knob, unsigned long val);
void unmapped_pool_write(const char *knob, unsigned long val);
unsigned long unmapped_pool_drain(void);
void lru_batches_drain(void);

/* Counters from "key value" and "key: value" files, /proc/self/smaps too. */
long long stat_file_read(const char *path, const char *key);
u64 vmstat_read(const char *name);
u64 node_vmstat_read(int nid, const char *name);
long long fdinfo_read(int fd, const char *key);
long long smaps_read(void *addr, const char *key);
u64 env_u64(const char *name, u64 dflt);

/* The direct map as /proc/kcore shows it: System RAM segments. */
struct kcore {
	int fd;
	int nr;
	struct { u64 paddr, vaddr, size, offset; } seg[64];
};

void kcore_open(struct kcore *kc);
void kcore_close(struct kcore *kc);
void kcore_read_page(struct kcore *kc, u64 pfn, void *buf);

u64 pagemap_pfn(void *addr);
u64 kpageflags_read(u64 pfn);

/* Run @vcpu to its next ucall, which must be @cmd (UCALL_SYNC, ...). */
struct ucall vcpu_run_to_ucall(struct kvm_vcpu *vcpu, u64 cmd);

/*
 * A test's own guest_random, from a seed it prints so that a run can be
 * replayed: env_u32() for the seed, and a state for any u32 seed.
 */
u32 env_u32(const char *name, u32 dflt);
struct guest_random_state unmapped_random_state(u32 seed);

#endif /* SELFTEST_KVM_UNMAPPED_UTIL_H */
