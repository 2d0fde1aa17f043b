// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dirty logging of guest_memfd memory slots, which migration and snapshots
 * of a VM on guest_memfd memory need.
 *
 * A VMM turns KVM_MEM_LOG_DIRTY_PAGES on and off with flags-only changes
 * of the memory slot. On a VM without private memory the log must name
 * exactly the pages the guest wrote while it was on, and the slot must
 * keep its memory through both changes; a change that would rebind it is
 * refused. A VM with private memory keeps refusing the flag.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/bitmap.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"
#include "unmapped_util.h"
#include "kselftest_harness.h"

#define TEST_GPA	SZ_4G
#define TEST_SLOT	1
#define TEST_SIZE	SZ_2M
#define TEST_PAGES	((int)(TEST_SIZE / PAGE_SIZE))
#define WORDS		(PAGE_SIZE / sizeof(u64))

#define TAG_BEFORE	0x1000000ull
#define TAG_LOGGED	0x2000000ull
#define TAG_AFTER	0x3000000ull

/* Pages written while dirty logging is on: every third. */
static bool logged_page(int i)
{
	return i % 3 == 0;
}

/* Pages written after it is turned off again: every fifth. */
static bool after_page(int i)
{
	return i % 5 == 0;
}

static void guest_write_in_phases(u64 *mem)
{
	int i;

	for (i = 0; i < TEST_PAGES; i++)
		mem[i * WORDS] = TAG_BEFORE + i;
	GUEST_SYNC(0);
	for (i = 0; i < TEST_PAGES; i++)
		if (logged_page(i))
			mem[i * WORDS] = TAG_LOGGED + i;
	GUEST_SYNC(1);
	for (i = 0; i < TEST_PAGES; i++)
		if (after_page(i))
			mem[i * WORDS] = TAG_AFTER + i;
	GUEST_DONE();
}

/* Pages whose dirty bit differs from @want(i); no @want: bits set. */
static int dirty_log_mismatches(struct kvm_vm *vm, bool (*want)(int))
{
	unsigned long bitmap[BITS_TO_LONGS(TEST_PAGES)] = {};
	int i, n = 0;

	kvm_vm_get_dirty_log(vm, TEST_SLOT, bitmap);
	for (i = 0; i < TEST_PAGES; i++)
		n += test_bit(i, bitmap) != (want && want(i));
	return n;
}

FIXTURE(dirty_log) {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int fd;
};

FIXTURE_VARIANT(dirty_log) {
	u64 flags;
};

FIXTURE_VARIANT_ADD(dirty_log, shared) {
	.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
};

FIXTURE_VARIANT_ADD(dirty_log, no_direct_map) {
	.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED |
		 GUEST_MEMFD_FLAG_NO_DIRECT_MAP,
};

/* A VM whose only vCPU runs guest_write_in_phases() on guest_memfd at TEST_GPA. */
FIXTURE_SETUP(dirty_log)
{
	self->vm = vm_create_with_one_vcpu(&self->vcpu, guest_write_in_phases);
	self->fd = -1;
	if ((vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_FLAGS) & variant->flags) !=
	    variant->flags)
		SKIP(return, "guest_memfd flags 0x%lx are not offered", variant->flags);
	self->fd = vm_create_guest_memfd(self->vm, TEST_SIZE, variant->flags);
	vm_set_user_memory_region2(self->vm, TEST_SLOT, KVM_MEM_GUEST_MEMFD,
				   TEST_GPA, TEST_SIZE, NULL, self->fd, 0);
	virt_map(self->vm, TEST_GPA, TEST_GPA, TEST_PAGES);
	vcpu_args_set(self->vcpu, 1, TEST_GPA);
}

FIXTURE_TEARDOWN(dirty_log)
{
	if (self->fd >= 0)
		close(self->fd);
	kvm_vm_free(self->vm);
}

TEST_F(dirty_log, flags_only_changes)
{
	const u32 gmem = KVM_MEM_GUEST_MEMFD;
	const u32 logged = gmem | KVM_MEM_LOG_DIRTY_PAGES;
	int other, i, wrong = 0;
	u64 *mem, want;

	ASSERT_EQ(vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_DIRTY_LOG), 1);
	vcpu_run_to_ucall(self->vcpu, UCALL_SYNC);

	/* Another file, offset or address is not a flags-only change. */
	other = vm_create_guest_memfd(self->vm, TEST_SIZE, variant->flags);
	EXPECT_EQ(__vm_set_user_memory_region2(self->vm, TEST_SLOT, logged, TEST_GPA,
					       TEST_SIZE, NULL, other, 0) ? errno : 0,
		  EINVAL);
	EXPECT_EQ(__vm_set_user_memory_region2(self->vm, TEST_SLOT, logged, TEST_GPA,
					       TEST_SIZE / 2, NULL, self->fd,
					       PAGE_SIZE) ? errno : 0,
		  EINVAL);
	EXPECT_EQ(__vm_set_user_memory_region2(self->vm, TEST_SLOT, logged, 2 * TEST_GPA,
					       TEST_SIZE, NULL, self->fd, 0) ? errno : 0,
		  EINVAL);
	close(other);

	vm_set_user_memory_region2(self->vm, TEST_SLOT, logged, TEST_GPA, TEST_SIZE,
				   NULL, self->fd, 0);
	/* What the guest wrote before logging started is not in the log. */
	EXPECT_EQ(dirty_log_mismatches(self->vm, NULL), 0);
	vcpu_run_to_ucall(self->vcpu, UCALL_SYNC);
	i = dirty_log_mismatches(self->vm, logged_page);
	ksft_print_msg("dirty log: %d of %d pages wrong\n", i, TEST_PAGES);
	EXPECT_EQ(i, 0);
	/* Getting the log cleared it. */
	EXPECT_EQ(dirty_log_mismatches(self->vm, NULL), 0);

	vm_set_user_memory_region2(self->vm, TEST_SLOT, gmem, TEST_GPA, TEST_SIZE,
				   NULL, self->fd, 0);
	vcpu_run_to_ucall(self->vcpu, UCALL_DONE);

	mem = mmap(NULL, TEST_SIZE, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(mem, MAP_FAILED);
	for (i = 0; i < TEST_PAGES; i++) {
		want = after_page(i) ? TAG_AFTER : logged_page(i) ? TAG_LOGGED : TAG_BEFORE;
		wrong += mem[i * WORDS] != want + i;
	}
	EXPECT_EQ(wrong, 0);
	munmap(mem, TEST_SIZE);
}

/* Private memory cannot be logged: turning logging on stays refused. */
TEST(private_memory_refused)
{
	struct kvm_vm *vm;
	void *shared;
	int fd;

	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		SKIP(return, "software-protected VMs are not offered by this host");
	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	EXPECT_EQ(vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_DIRTY_LOG), 0);
	fd = vm_create_guest_memfd(vm, TEST_SIZE, 0);
	shared = mmap(NULL, TEST_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(shared, MAP_FAILED);
	vm_set_user_memory_region2(vm, TEST_SLOT, KVM_MEM_GUEST_MEMFD, TEST_GPA,
				   TEST_SIZE, shared, fd, 0);
	EXPECT_EQ(__vm_set_user_memory_region2(vm, TEST_SLOT,
					       KVM_MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES,
					       TEST_GPA, TEST_SIZE, shared, fd, 0) ? errno : 0,
		  EINVAL);
	close(fd);
	kvm_vm_free(vm);
	munmap(shared, TEST_SIZE);
}

int main(int argc, char **argv)
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GUEST_MEMFD));
	return test_harness_run(argc, argv);
}
