// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_caps: print what this kernel's KVM offers for guest_memfd, per VM
 * type: whether the type exists, KVM_CAP_GUEST_MEMFD and the flags
 * KVM_CAP_GUEST_MEMFD_FLAGS reports, and whether creating a guest_memfd
 * with each reported flag actually works. Exits non-zero when /dev/kvm
 * cannot be used at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char * const vm_type_names[] = {
	[KVM_X86_DEFAULT_VM]	  = "DEFAULT",
	[KVM_X86_SW_PROTECTED_VM] = "SW_PROTECTED",
	[KVM_X86_SEV_VM]	  = "SEV",
	[KVM_X86_SEV_ES_VM]	  = "SEV_ES",
	[KVM_X86_SNP_VM]	  = "SNP",
	[KVM_X86_TDX_VM]	  = "TDX",
};

/* Names for the flags these headers define; others print as bit numbers. */
static const struct {
	unsigned long long flag;
	const char *name;
} gmem_flags[] = {
	{ GUEST_MEMFD_FLAG_MMAP, "MMAP" },
	{ GUEST_MEMFD_FLAG_INIT_SHARED, "INIT_SHARED" },
#ifdef GUEST_MEMFD_FLAG_NO_DIRECT_MAP
	{ GUEST_MEMFD_FLAG_NO_DIRECT_MAP, "NO_DIRECT_MAP" },
#endif
#ifdef GUEST_MEMFD_FLAG_NO_ZERO
	{ GUEST_MEMFD_FLAG_NO_ZERO, "NO_ZERO" },
#endif
};

static const char *gmem_flag_name(unsigned long long flag)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gmem_flags); i++)
		if (gmem_flags[i].flag == flag)
			return gmem_flags[i].name;
	return NULL;
}

static void print_flags(unsigned long long flags)
{
	const char *sep = "";
	int bit;

	if (!flags) {
		printf("none");
		return;
	}
	for (bit = 0; bit < 64; bit++) {
		if (!(flags & (1ULL << bit)))
			continue;
		if (gmem_flag_name(1ULL << bit))
			printf("%s%s", sep, gmem_flag_name(1ULL << bit));
		else
			printf("%sbit%d", sep, bit);
		sep = "|";
	}
}

/* Try KVM_CREATE_GUEST_MEMFD with one flag; report the errno if refused. */
static void try_flag(int vm, unsigned long long flag)
{
	struct kvm_create_guest_memfd gmem = {
		.size = 2 << 20,
		.flags = flag,
	};
	int fd;

	/* INIT_SHARED is only meaningful, and only accepted, with MMAP. */
	if (flag == GUEST_MEMFD_FLAG_INIT_SHARED)
		gmem.flags |= GUEST_MEMFD_FLAG_MMAP;
	fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem);
	printf("      create with ");
	print_flags(gmem.flags);
	if (fd < 0) {
		printf(": refused (%s)\n", strerror(errno));
		return;
	}
	printf(": ok\n");
	close(fd);
}

static void report_vm_type(int kvm, unsigned int type, int supported)
{
	unsigned long long flags;
	int vm, bit, ret;

	printf("  %-13s", vm_type_names[type]);
	if (!supported) {
		printf(" not offered by this host\n");
		return;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, type);
	if (vm < 0) {
		printf(" offered, but KVM_CREATE_VM failed (%s)\n", strerror(errno));
		return;
	}
	ret = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD);
	printf(" guest_memfd %s, flags ", ret > 0 ? "yes" : "no");
	ret = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	flags = ret > 0 ? (unsigned long long)ret : 0;
	print_flags(flags);
	printf("\n");
	try_flag(vm, 0);
	for (bit = 0; bit < 64; bit++)
		if (flags & (1ULL << bit))
			try_flag(vm, 1ULL << bit);
	close(vm);
}

int main(void)
{
	unsigned int type;
	int kvm, types;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "gmem_caps: cannot open /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	printf("KVM API version %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
	types = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
	if (types <= 0)
		types = 1 << KVM_X86_DEFAULT_VM;
	printf("VM types (KVM_CAP_VM_TYPES 0x%x) and guest_memfd per type:\n", types);
	for (type = 0; type < ARRAY_SIZE(vm_type_names); type++)
		report_vm_type(kvm, type, types & (1 << type));
	close(kvm);
	return 0;
}
