// SPDX-License-Identifier: MIT
/*
 * examples/blockdev_demo.c - the block layer at work on a disk image:
 * creates the image if missing, writes patterns with plugging (so adjacent
 * requests merge), writes random blocks with 32 requests in flight,
 * flushes, reads everything back and verifies it, then prints what the
 * device did: backend, requests, merges, bytes and latency percentiles.
 *
 *   uk-blockdev-demo [IMAGE]      (default: disk.img; 64 MiB when created)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blockdev.h"

#define DEMO_IMAGE_BYTES (64ull << 20)
#define DEMO_SEQ_BLOCKS 2048u	/* 8 MiB written as 4-block requests */
#define DEMO_SEQ_CHUNK 4u
#define DEMO_RAND_WRITES 2048u
#define DEMO_QD 32u

struct demo_slot {
	struct bdev_request rq;
	uint8_t *buf;
	int *errors;
	bool busy;
};

static uint64_t demo_rng = 0x5eed5eed5eedull;

static uint64_t demo_rand(void)
{
	demo_rng ^= demo_rng >> 12;
	demo_rng ^= demo_rng << 25;
	demo_rng ^= demo_rng >> 27;
	return demo_rng * 0x2545F4914F6CDD1Dull;
}

/* The pattern block b holds after the demo: a function of b and its tag. */
static void demo_fill(uint8_t *p, uint64_t b, uint32_t tag)
{
	uint64_t *q = (uint64_t *)(void *)p;
	size_t i;

	for (i = 0; i < BDEV_BLOCK_SIZE / 8; i++)
		q[i] = (b << 32) ^ ((uint64_t)tag << 16) ^ i;
}

static double demo_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void demo_end_io(struct bdev_request *rq, int result)
{
	struct demo_slot *s = rq->private;

	if (result) {
		fprintf(stderr, "demo: %s of block %llu failed: %s\n",
			bdev_op_name(rq->op), (unsigned long long)rq->block,
			strerror(-result));
		(*s->errors)++;
	}
}

static int demo_open(const char *path, struct uk_blockdev **bdev)
{
	struct bdev_options o = { .backend = BDEV_BACKEND_AUTO, .direct = true };
	int ret;

	if (access(path, F_OK)) {
		ret = bdev_image_create(path, DEMO_IMAGE_BYTES);
		if (ret) {
			fprintf(stderr, "demo: cannot create %s: %s\n", path,
				strerror(-ret));
			return ret;
		}
		printf("created %s (%llu MiB, sparse)\n", path,
		       (unsigned long long)(DEMO_IMAGE_BYTES >> 20));
	}
	ret = bdev_open(path, &o, bdev);
	if (ret == -EINVAL) {
		printf("O_DIRECT not supported here: using the page cache\n");
		o.direct = false;
		ret = bdev_open(path, &o, bdev);
	}
	if (ret)
		fprintf(stderr, "demo: cannot open %s: %s\n", path,
			strerror(-ret));
	return ret;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "disk.img";
	struct demo_slot *slots;
	struct uk_blockdev *bdev;
	struct bdev_stats st, before;
	struct bdev_dir_stats qd1;
	uint32_t *tags;
	uint8_t *seq, *want, *back;
	uint64_t nblocks, b;
	int errors = 0, bad = 0, ret;
	unsigned int i;
	double t0;

	if (demo_open(path, &bdev))
		return 1;
	nblocks = bdev_nr_blocks(bdev);
	if (nblocks < DEMO_SEQ_BLOCKS) {
		fprintf(stderr, "demo: %s is too small (%llu blocks)\n", path,
			(unsigned long long)nblocks);
		bdev_close(bdev);
		return 1;
	}
	slots = calloc(DEMO_SEQ_BLOCKS / DEMO_SEQ_CHUNK, sizeof(*slots));
	tags = calloc(DEMO_SEQ_BLOCKS, sizeof(*tags));
	seq = aligned_alloc(BDEV_BLOCK_SIZE,
			    (size_t)DEMO_SEQ_BLOCKS * BDEV_BLOCK_SIZE);
	back = aligned_alloc(BDEV_BLOCK_SIZE,
			     (size_t)DEMO_SEQ_BLOCKS * BDEV_BLOCK_SIZE);
	want = aligned_alloc(BDEV_BLOCK_SIZE,
			     (size_t)DEMO_QD * BDEV_BLOCK_SIZE);
	if (!slots || !tags || !seq || !back || !want) {
		fprintf(stderr, "demo: out of memory\n");
		return 1;
	}
	t0 = demo_now();

	/* 1. sequential writes, plugged: adjacent requests merge */
	for (b = 0; b < DEMO_SEQ_BLOCKS; b++) {
		tags[b] = 1;
		demo_fill(seq + b * BDEV_BLOCK_SIZE, b, 1);
	}
	bdev_plug();
	for (i = 0; i < DEMO_SEQ_BLOCKS / DEMO_SEQ_CHUNK; i++) {
		struct demo_slot *s = &slots[i];

		s->errors = &errors;
		b = (uint64_t)i * DEMO_SEQ_CHUNK;
		bdev_prep_write(&s->rq, bdev, b, DEMO_SEQ_CHUNK,
				seq + b * BDEV_BLOCK_SIZE, demo_end_io, s);
		ret = bdev_submit(&s->rq);
		if (ret)
			errors++;
	}
	bdev_unplug();
	bdev_drain(bdev);

	/*
	 * 2. random single-block writes, 32 in flight; two writes to one
	 * block are never in flight together (their order would be undefined)
	 */
	for (i = 0; i < DEMO_SEQ_BLOCKS / DEMO_SEQ_CHUNK; i++)
		slots[i].busy = false;
	for (i = 0; i < DEMO_RAND_WRITES; i++) {
		struct demo_slot *s = &slots[i % DEMO_QD];
		unsigned int j;

		if (s->busy)
			bdev_wait(&s->rq);	/* errors: demo_end_io */
		b = demo_rand() % DEMO_SEQ_BLOCKS;
		for (j = 0; j < DEMO_QD; j++)
			if (slots[j].busy && slots[j].rq.block == b &&
			    !bdev_request_done(&slots[j].rq))
				bdev_wait(&slots[j].rq);
		s->busy = true;
		tags[b] = 2 + i;
		s->buf = want + (size_t)(i % DEMO_QD) * BDEV_BLOCK_SIZE;
		s->errors = &errors;
		demo_fill(s->buf, b, tags[b]);
		bdev_prep_write(&s->rq, bdev, b, 1, s->buf, demo_end_io, s);
		if (bdev_submit(&s->rq))
			errors++;
	}
	bdev_drain(bdev);

	/* 3. flush: all of the above is durable */
	ret = bdev_flush(bdev);
	if (ret) {
		fprintf(stderr, "demo: flush failed: %s\n", strerror(-ret));
		errors++;
	}

	/* 4. read back (plugged, merging) and verify */
	bdev_plug();
	for (i = 0; i < DEMO_SEQ_BLOCKS / DEMO_SEQ_CHUNK; i++) {
		struct demo_slot *s = &slots[i];

		b = (uint64_t)i * DEMO_SEQ_CHUNK;
		bdev_prep_read(&s->rq, bdev, b, DEMO_SEQ_CHUNK,
			       back + b * BDEV_BLOCK_SIZE, demo_end_io, s);
		if (bdev_submit(&s->rq))
			errors++;
	}
	bdev_unplug();
	bdev_drain(bdev);
	for (b = 0; b < DEMO_SEQ_BLOCKS; b++) {
		demo_fill(want, b, tags[b]);
		if (memcmp(want, back + b * BDEV_BLOCK_SIZE, BDEV_BLOCK_SIZE))
			bad++;
	}

	/* 5. synchronous random reads, one at a time: the latency at QD1 */
	bdev_stats_get(bdev, &before);
	for (i = 0; i < 500; i++)
		if (bdev_read(bdev, demo_rand() % DEMO_SEQ_BLOCKS, 1, back))
			errors++;

	bdev_stats_get(bdev, &st);
	qd1 = st.dir[BDEV_OP_READ];
	for (i = 0; i < BDEV_HIST_BUCKETS; i++)
		qd1.hist[i] -= before.dir[BDEV_OP_READ].hist[i];
	printf("image %s: %llu blocks of %u bytes, backend %s%s\n", path,
	       (unsigned long long)nblocks, BDEV_BLOCK_SIZE,
	       bdev_backend_name(bdev),
	       bdev_is_direct(bdev) ? " (O_DIRECT)" : " (page cache)");
	bdev_stats_print(bdev, stdout);
	printf("merged %llu of %llu writes and %llu of %llu reads; "
	       "verified %u blocks: %s; %.2f s\n",
	       (unsigned long long)st.dir[BDEV_OP_WRITE].merges,
	       (unsigned long long)st.dir[BDEV_OP_WRITE].requests,
	       (unsigned long long)st.dir[BDEV_OP_READ].merges,
	       (unsigned long long)st.dir[BDEV_OP_READ].requests,
	       DEMO_SEQ_BLOCKS, bad ? "MISMATCH" : "all match",
	       demo_now() - t0);
	printf("QD1 random 4 KiB reads: p50 %.0f us, p99 %.0f us "
	       "(log2 histogram: within a factor of 1.4)\n",
	       (double)bdev_stats_percentile(&qd1, 0.5) / 1e3,
	       (double)bdev_stats_percentile(&qd1, 0.99) / 1e3);
	ret = bdev_close(bdev);
	if (ret) {
		fprintf(stderr, "demo: close: %s\n", strerror(-ret));
		errors++;
	}
	free(slots);
	free(tags);
	free(seq);
	free(back);
	free(want);
	if (bad)
		fprintf(stderr, "demo: %d blocks did not verify\n", bad);
	return errors || bad ? 1 : 0;
}
