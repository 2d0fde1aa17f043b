// SPDX-License-Identifier: GPL-2.0
/*
 * guest-io: runs in the nested guest. Reads or writes a block device with
 * O_DIRECT, sequentially or at random block-aligned offsets, for a number
 * of seconds, and reports the throughput on one line:
 *
 *   guest-io DEVICE seqread|seqwrite|randread|randwrite BLOCK_KIB SECONDS
 *   -> "guest-io: DEVICE MODE BLOCK_KIB KiB: MIB_PER_S MiB/s (N requests)"
 *
 * Writes put the request number in each block, so nothing is all zeroes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long long requests = 0, blocks, block;
	double start, elapsed = 0, seconds;
	uint64_t dev_bytes;
	size_t bs;
	bool writes, at_random;
	ssize_t r;
	char *buf;
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: guest-io DEVICE seqread|seqwrite|randread|randwrite BLOCK_KIB SECONDS\n");
		return 2;
	}
	writes = strstr(argv[2], "write") != NULL;
	at_random = !strncmp(argv[2], "rand", 4);
	bs = strtoul(argv[3], NULL, 0) << 10;
	seconds = strtod(argv[4], NULL);
	fd = open(argv[1], (writes ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &dev_bytes) || !bs ||
	    posix_memalign((void **)&buf, 4096, bs)) {
		perror("guest-io");
		return 1;
	}
	blocks = dev_bytes / bs;
	memset(buf, 0xa5, bs);
	srandom(1);
	start = now();
	while (elapsed < seconds) {
		block = at_random ? (unsigned long long)random() % blocks : requests % blocks;
		if (writes) {
			memcpy(buf, &requests, sizeof(requests));
			r = pwrite(fd, buf, bs, block * bs);
		} else {
			r = pread(fd, buf, bs, block * bs);
		}
		if (r != (ssize_t)bs) {
			perror("guest-io: I/O");
			return 1;
		}
		requests++;
		elapsed = now() - start;
	}
	printf("guest-io: %s %s %zu KiB: %.1f MiB/s (%llu requests)\n", argv[1],
	       argv[2], bs >> 10, requests * bs / elapsed / (1 << 20), requests);
	return 0;
}
