/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pattern the nested guest writes and the host looks for: page K of a
 * fill holds word J = mix(SEED + J) ^ K. A full page must match, so the
 * few words a scanner keeps in its own memory never count.
 */
#ifndef DEMO_PATTERN_H
#define DEMO_PATTERN_H

#include <stdbool.h>
#include <stdint.h>

#define PATTERN_WORDS	(4096 / sizeof(uint64_t))

static inline uint64_t pattern_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline void pattern_fill_page(uint64_t *page, uint64_t seed, uint64_t k)
{
	unsigned int j;

	for (j = 0; j < PATTERN_WORDS; j++)
		page[j] = pattern_mix(seed + j) ^ k;
}

/* Whether @page is some page of the fill made from @seed. */
static inline bool pattern_page_matches(const uint64_t *page, uint64_t seed)
{
	uint64_t k = page[0] ^ pattern_mix(seed);
	unsigned int j;

	if ((page[1] ^ k) != pattern_mix(seed + 1))
		return false;
	for (j = 2; j < PATTERN_WORDS; j++)
		if ((page[j] ^ k) != pattern_mix(seed + j))
			return false;
	return true;
}

#endif /* DEMO_PATTERN_H */
