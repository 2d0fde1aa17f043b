// SPDX-License-Identifier: GPL-2.0
/*
 * guest-fill: runs in the nested guest. Fills MIB MiB of its RAM with
 * pages made up from SEED (see demo/pattern.h), reports over the console,
 * then holds the memory until a line arrives on /dev/ttyS1, so that the
 * host can look for the pattern (or migrate the guest) meanwhile; last,
 * checks that every page still holds its pattern and says how many do.
 *
 *   guest-fill SEED MIB
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pattern.h"

int main(int argc, char **argv)
{
	unsigned long long seed, pages, i, intact = 0;
	char line[64] = "";
	uint64_t *mem;
	FILE *ctl;

	if (argc != 3) {
		fprintf(stderr, "usage: guest-fill SEED MIB\n");
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	pages = strtoull(argv[2], NULL, 0) << 20 >> 12;
	mem = mmap(NULL, pages << 12, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("guest-fill: mmap");
		return 1;
	}
	for (i = 0; i < pages; i++)
		pattern_fill_page(mem + i * PATTERN_WORDS, seed, i);
	printf("nested-guest: filled %llu MiB with pattern 0x%llx\n", pages >> 8, seed);
	fflush(stdout);

	ctl = fopen("/dev/ttyS1", "r");
	if (!ctl || !fgets(line, sizeof(line), ctl))
		fprintf(stderr, "guest-fill: no word from the host\n");
	printf("nested-guest: released %s", line);
	for (i = 0; i < pages; i++) {
		uint64_t *page = mem + i * PATTERN_WORDS;

		if (pattern_page_matches(page, seed) &&
		    (page[0] ^ pattern_mix(seed)) == i)
			intact++;
	}
	printf("nested-guest: %llu of %llu pages intact\n", intact, pages);
	return intact == pages ? 0 : 1;
}
