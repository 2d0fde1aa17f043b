// SPDX-License-Identifier: GPL-2.0
/*
 * kcore-scan: count the pages of the host's System RAM that hold the
 * nested guest's pattern for SEED (demo/pattern.h), reading all of RAM
 * through the kernel's direct map as /proc/kcore exposes it. A page that
 * is not in the direct map reads as zeroes there. Needs root.
 *
 *   kcore-scan SEED    prints "kcore-scan: N pages match in M MiB"
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pattern.h"

#define CHUNK	(1UL << 20)

int main(int argc, char **argv)
{
	unsigned long long found = 0, total = 0;
	uint64_t seed, off, len, *p;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	char *buf;
	int fd, i;

	if (argc != 2) {
		fprintf(stderr, "usage: kcore-scan SEED\n");
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	fd = open("/proc/kcore", O_RDONLY);
	buf = aligned_alloc(4096, CHUNK);
	if (fd < 0 || !buf || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh)) {
		perror("kcore-scan: /proc/kcore");
		return 1;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) != sizeof(ph))
			return 1;
		/* System RAM, as the direct map maps it (below the kernel image). */
		if (ph.p_type != PT_LOAD || ph.p_paddr == (uint64_t)-1 ||
		    ph.p_vaddr >= 0xffffffff80000000ull)
			continue;
		total += ph.p_memsz;
		for (off = 0; off < ph.p_memsz; off += CHUNK) {
			len = ph.p_memsz - off < CHUNK ? ph.p_memsz - off : CHUNK;
			if (pread(fd, buf, len, ph.p_offset + off) != (ssize_t)len) {
				perror("kcore-scan: read");
				return 1;
			}
			for (p = (uint64_t *)buf; (char *)p < buf + len; p += PATTERN_WORDS)
				found += pattern_page_matches(p, seed);
		}
	}
	memset(buf, 0, CHUNK);
	printf("kcore-scan: %llu pages match in %llu MiB\n", found, total >> 20);
	return 0;
}
