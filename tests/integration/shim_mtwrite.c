// SPDX-License-Identifier: MIT
/*
 * shim_mtwrite - a multi-threaded writer for test_shim_programs.sh: 8
 * threads each pwrite their own interleaved 4 KiB blocks of one file (block
 * i belongs to thread i % 8), then the main thread reads the file back and
 * checks every byte. Prints the size and a checksum; exit 0 when every
 * block is right, 1 otherwise.
 *
 *   shim_mtwrite FILE
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NTHREADS 8
#define BLOCKS 256
#define BS 4096

static int fd;

static void fill(unsigned char *b, int blk)
{
	for (int i = 0; i < BS; i++)
		b[i] = (unsigned char)(blk * 31 + i * 7);
}

static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned char b[BS];

	for (int blk = t; blk < BLOCKS; blk += NTHREADS) {
		fill(b, blk);
		if (pwrite(fd, b, BS, (off_t)blk * BS) != BS) {
			perror("pwrite");
			exit(1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	unsigned char b[BS], want[BS];
	uint64_t sum = 0;
	struct stat st;
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: shim_mtwrite FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int t = 0; t < NTHREADS; t++)
		pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	for (int blk = 0; blk < BLOCKS; blk++) {
		if (pread(fd, b, BS, (off_t)blk * BS) != BS) {
			bad++;
			continue;
		}
		fill(want, blk);
		bad += memcmp(b, want, BS) != 0;
		for (int i = 0; i < BS; i++)
			sum = sum * 31 + b[i];
	}
	fstat(fd, &st);
	close(fd);
	printf("size %lld sum %llx bad %d\n", (long long)st.st_size,
	       (unsigned long long)sum, bad);
	return bad != 0;
}
