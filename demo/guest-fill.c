// SPDX-License-Identifier: GPL-2.0
/*
 * guest-fill: runs in the nested guest. Fills MIB MiB of its RAM with
 * pages made up from SEED (see demo/pattern.h), reports over the console,
 * then holds the memory until the host says so on /dev/ttyS1, so that the
 * host can look for the pattern (or migrate the guest) meanwhile; last,
 * checks that every page still holds its pattern and says how many do.
 *
 * With "churn", it keeps rewriting its pages while it waits, slowly and
 * each with a new generation, so that a migration running meanwhile must
 * carry the guest's latest writes to be found intact. The host's lines:
 *
 *   verify   check every page against what was last written to it
 *   other    the same against another seed: must find none (a control)
 *   anything else, or the end: check once more and exit
 *
 *   guest-fill SEED MIB [churn]
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "pattern.h"

/* Pages rewritten between looks at the control line: ~1.5 MiB/s at most. */
#define CHURN_PAGES	16
#define CHURN_PAUSE_NS	10000000

static uint64_t *mem;
static uint32_t *gen;
static unsigned long long pages;

/* Page @i holds its index and generation, as the K of the pattern. */
static void write_page(uint64_t seed, unsigned long long i)
{
	pattern_fill_page(mem + i * PATTERN_WORDS, seed, i + gen[i] * pages);
}

static unsigned long long count_intact(uint64_t seed)
{
	unsigned long long i, intact = 0;

	for (i = 0; i < pages; i++) {
		uint64_t *page = mem + i * PATTERN_WORDS;

		if (pattern_page_matches(page, seed) &&
		    (page[0] ^ pattern_mix(seed)) == i + gen[i] * pages)
			intact++;
	}
	return intact;
}

/* Reads one line from @ctl; with @churn, rewrites pages until it comes. */
static char *wait_for_line(FILE *ctl, char *line, int len, uint64_t seed,
			   int churn)
{
	const struct timespec pause = { 0, CHURN_PAUSE_NS };
	struct pollfd pfd = { .fd = fileno(ctl), .events = POLLIN };
	unsigned long long next = 0;
	int n;

	while (churn && poll(&pfd, 1, 0) == 0) {
		for (n = 0; n < CHURN_PAGES; n++, next = (next + 1) % pages) {
			gen[next]++;
			write_page(seed, next);
		}
		nanosleep(&pause, NULL);
	}
	return fgets(line, len, ctl);
}

int main(int argc, char **argv)
{
	unsigned long long seed, i, intact;
	char line[64] = "";
	int churn;
	FILE *ctl;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "churn"))) {
		fprintf(stderr, "usage: guest-fill SEED MIB [churn]\n");
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	pages = strtoull(argv[2], NULL, 0) << 20 >> 12;
	churn = argc == 4;
	mem = mmap(NULL, pages << 12, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	gen = calloc(pages, sizeof(*gen));
	if (mem == MAP_FAILED || !gen) {
		perror("guest-fill: memory");
		return 1;
	}
	for (i = 0; i < pages; i++)
		write_page(seed, i);
	printf("nested-guest: filled %llu MiB with pattern 0x%llx%s\n", pages >> 8,
	       seed, churn ? ", rewriting it" : "");
	fflush(stdout);

	ctl = fopen("/dev/ttyS1", "r");
	if (!ctl)
		fprintf(stderr, "guest-fill: no word from the host\n");
	while (ctl && wait_for_line(ctl, line, sizeof(line), seed, churn)) {
		if (!strcmp(line, "verify\n"))
			intact = count_intact(seed);
		else if (!strcmp(line, "other\n"))
			intact = count_intact(seed + 1);
		else
			break;
		printf("nested-guest: %s %llu of %llu pages intact\n",
		       line[0] == 'v' ? "verify:" : "other seed:", intact, pages);
		fflush(stdout);
		line[0] = 0;
	}
	printf("nested-guest: released %s", line[0] ? line : "\n");
	intact = count_intact(seed);
	printf("nested-guest: %llu of %llu pages intact\n", intact, pages);
	return intact == pages ? 0 : 1;
}
