// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_blockdev_io.c - reads and writes over every backend
 * configuration: random round trips against a shadow copy, asynchronous
 * completions, registered buffers, persistence across close, zero-fill past
 * the end of the file, and the argument errors bdev_submit returns.
 */
#include "test_blockdev_common.h"

struct bt_done {
	int calls;
	int result;
};

static void bt_end_io(struct bdev_request *rq, int result)
{
	struct bt_done *d = rq->private;

	d->calls++;
	d->result = result;
}

/* Write random ranges (sync, async, plugged, multi-iovec), then verify. */
static void test_round_trip_random(void **state)
{
	struct bt *t = *state;
	size_t bytes = (size_t)BT_BLOCKS * BDEV_BLOCK_SIZE;
	uint8_t *shadow = calloc(1, bytes), *buf = bt_alloc(64 * 4096);
	uint8_t *back = bt_alloc(bytes);
	int iter;

	BT_REQUIRE_DEV(t);
	assert_non_null(shadow);
	for (iter = 0; iter < 150; iter++) {
		uint32_t nr = 1 + (uint32_t)(bt_rand(t) % 48);
		uint64_t blk = bt_rand(t) % (BT_BLOCKS - nr + 1);
		struct iovec iov[4];
		int cnt = 1 + (int)(bt_rand(t) % 4), i;
		uint32_t left = nr;

		if ((uint32_t)cnt > nr)
			cnt = (int)nr;
		bt_fill(buf, blk, nr, (uint64_t)iter + 1);
		for (i = 0; i < cnt; i++) {
			uint32_t n = i == cnt - 1 ? left :
				1 + (uint32_t)(bt_rand(t) % (left - (uint32_t)(cnt - i) + 1));

			iov[i].iov_base = buf + (size_t)(nr - left) * 4096;
			iov[i].iov_len = (size_t)n * 4096;
			left -= n;
		}
		if (iter % 3 == 0) {
			struct bdev_request rq;
			struct bt_done d = { 0, 1 };

			bdev_prep_writev(&rq, t->bdev, blk, nr, iov, cnt,
					 bt_end_io, &d);
			assert_int_equal(bdev_submit(&rq), 0);
			assert_int_equal(bdev_wait(&rq), 0);
			assert_int_equal(d.calls, 1);
			assert_int_equal(d.result, 0);
		} else {
			assert_int_equal(bdev_writev(t->bdev, blk, nr, iov,
						     cnt), 0);
		}
		memcpy(shadow + blk * 4096, buf, (size_t)nr * 4096);

		/* read back a random range */
		nr = 1 + (uint32_t)(bt_rand(t) % 64);
		blk = bt_rand(t) % (BT_BLOCKS - nr + 1);
		assert_int_equal(bdev_read(t->bdev, blk, nr, buf), 0);
		assert_memory_equal(buf, shadow + blk * 4096,
				    (size_t)nr * 4096);
	}
	assert_int_equal(bdev_flush(t->bdev), 0);
	assert_int_equal(bdev_read(t->bdev, 0, BT_BLOCKS, back), 0);
	assert_memory_equal(back, shadow, bytes);
	free(shadow);
	free(buf);
	free(back);
}

/* Many requests in flight at once; each end_io runs once with 0. */
static void test_async_many_inflight(void **state)
{
	struct bt *t = *state;
	enum { N = 100 };
	struct bdev_request rq[N];
	struct bt_done d[N];
	uint8_t *buf = bt_alloc((size_t)N * 4096), *chk = bt_alloc(4096);
	int i, got = 0, r;

	BT_REQUIRE_DEV(t);
	memset(d, 0, sizeof(d));
	for (i = 0; i < N; i++) {
		/* every other block: nothing merges */
		bt_fill(buf + (size_t)i * 4096, (uint64_t)i * 2, 1, 7);
		bdev_prep_write(&rq[i], t->bdev, (uint64_t)i * 2, 1,
				buf + (size_t)i * 4096, bt_end_io, &d[i]);
		assert_int_equal(bdev_submit(&rq[i]), 0);
	}
	while (got < N) {
		r = bdev_reap(t->bdev, 1);
		assert_true(r >= 1);
		got += r;
	}
	assert_int_equal(got, N);
	assert_int_equal(bdev_inflight(t->bdev), 0);
	assert_int_equal(bdev_reap(t->bdev, 4), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(d[i].calls, 1);
		assert_int_equal(d[i].result, 0);
		assert_int_equal(bdev_read(t->bdev, (uint64_t)i * 2, 1, chk), 0);
		assert_memory_equal(chk, buf + (size_t)i * 4096, 4096);
	}
	free(buf);
	free(chk);
}

/* What was written is there after close (which flushes) and reopen. */
static void test_persists_across_close(void **state)
{
	struct bt *t = *state;
	struct bdev_options o = bt_options(t->cfg);
	uint8_t *buf = bt_alloc(8 * 4096), *chk = bt_alloc(8 * 4096);

	BT_REQUIRE_DEV(t);
	bt_fill(buf, 100, 8, 3);
	assert_int_equal(bdev_write(t->bdev, 100, 8, buf), 0);
	assert_int_equal(bdev_close(t->bdev), 0);
	t->bdev = NULL;
	assert_int_equal(bdev_open(t->path, &o, &t->bdev), 0);
	assert_int_equal(bdev_nr_blocks(t->bdev), BT_BLOCKS);
	assert_int_equal(bdev_read(t->bdev, 100, 8, chk), 0);
	assert_memory_equal(chk, buf, 8 * 4096);
	free(buf);
	free(chk);
}

/* Registered buffers: fixed reads and writes, merged when contiguous. */
static void test_registered_buffers(void **state)
{
	struct bt *t = *state;
	enum { NB = 32 };
	uint8_t *mem = bt_alloc(2 * NB * 4096), *chk = bt_alloc(NB * 4096);
	struct iovec reg[2] = {
		{ mem, NB * 4096 }, { mem + NB * 4096, NB * 4096 },
	};
	struct bdev_request rq[NB];
	struct bt_done d[NB];
	struct bdev_stats st;
	int i;

	BT_REQUIRE_DEV(t);
	memset(d, 0, sizeof(d));
	assert_int_equal(bdev_register_buffers(t->bdev, reg, 2), 0);
	bt_fill(mem, 200, NB, 11);
	bdev_stats_reset(t->bdev);
	bdev_plug();
	for (i = 0; i < NB; i++) {
		bdev_prep_write(&rq[i], t->bdev, 200 + (uint64_t)i, 1,
				mem + (size_t)i * 4096, bt_end_io, &d[i]);
		bdev_rq_set_fixed(&rq[i], 0);
		assert_int_equal(bdev_submit(&rq[i]), 0);
	}
	bdev_unplug();
	assert_int_equal(bdev_drain(t->bdev), 0);
	for (i = 0; i < NB; i++) {
		assert_int_equal(d[i].calls, 1);
		assert_int_equal(d[i].result, 0);
	}
	bdev_stats_get(t->bdev, &st);
	assert_int_equal(st.dir[BDEV_OP_WRITE].merges, NB - 1);

	/* fixed read into the second buffer */
	bdev_prep_read(&rq[0], t->bdev, 200, NB, mem + NB * 4096, NULL, NULL);
	bdev_rq_set_fixed(&rq[0], 1);
	assert_int_equal(bdev_submit(&rq[0]), 0);
	assert_int_equal(bdev_wait(&rq[0]), 0);
	assert_memory_equal(mem + NB * 4096, mem, NB * 4096);
	assert_int_equal(bdev_read(t->bdev, 200, NB, chk), 0);
	assert_memory_equal(chk, mem, NB * 4096);

	/* a fixed request outside its buffer is refused */
	bdev_prep_read(&rq[0], t->bdev, 0, 2, mem + (NB - 1) * 4096, NULL,
		       NULL);
	bdev_rq_set_fixed(&rq[0], 0);
	assert_int_equal(bdev_submit(&rq[0]), -EINVAL);
	bdev_rq_set_fixed(&rq[0], 2);
	assert_int_equal(bdev_submit(&rq[0]), -EINVAL);
	free(mem);
	free(chk);
}

/* An image whose size is not whole blocks: the tail reads as zeros. */
static void test_eof_zero_fill(void **state)
{
	struct bt *t = *state;
	struct bdev_options o = bt_options(t->cfg);
	struct uk_blockdev *bdev;
	char path[PATH_MAX + 32];
	uint8_t *buf = bt_alloc(4 * 4096), *want = calloc(1, 3 * 4096);
	size_t size = 2 * 4096 + 1808, i;
	int fd;

	BT_REQUIRE_DEV(t);
	snprintf(path, sizeof(path), "%s/odd.img", t->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	for (i = 0; i < size; i++)
		want[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(write(fd, want, size), (ssize_t)size);
	close(fd);

	assert_int_equal(bdev_open(path, &o, &bdev), 0);
	assert_int_equal(bdev_nr_blocks(bdev), 3);
	assert_int_equal(bdev_read(bdev, 2, 1, buf), 0);
	assert_memory_equal(buf, want + 2 * 4096, 4096);
	memset(buf, 0xa5, 4 * 4096);
	assert_int_equal(bdev_read(bdev, 0, 3, buf), 0);
	assert_memory_equal(buf, want, 3 * 4096);
	assert_int_equal(bdev_read(bdev, 1, 3, buf), -EINVAL);
	assert_int_equal(bdev_close(bdev), 0);
	free(buf);
	free(want);
}

/* Argument errors come back from bdev_submit; end_io is never called. */
static void test_invalid_requests(void **state)
{
	struct bt *t = *state;
	uint8_t *buf = bt_alloc(3 * 4096);
	struct iovec iov[2] = { { buf, 4096 }, { buf + 4096, 4096 } };
	struct bdev_request rq;
	struct bt_done d = { 0, 0 };

	BT_REQUIRE_DEV(t);
	bdev_prep_read(&rq, t->bdev, BT_BLOCKS, 1, buf, bt_end_io, &d);
	assert_int_equal(bdev_submit(&rq), -EINVAL);
	bdev_prep_read(&rq, t->bdev, BT_BLOCKS - 1, 2, buf, bt_end_io, &d);
	assert_int_equal(bdev_submit(&rq), -EINVAL);
	bdev_prep_read(&rq, t->bdev, UINT64_MAX, 2, buf, bt_end_io, &d);
	assert_int_equal(bdev_submit(&rq), -EINVAL);
	bdev_prep_write(&rq, t->bdev, 0, 0, buf, bt_end_io, &d);
	assert_int_equal(bdev_submit(&rq), -EINVAL);
	/* iovecs adding up to 2 blocks for a 3-block request */
	bdev_prep_readv(&rq, t->bdev, 0, 3, iov, 2, bt_end_io, &d);
	assert_int_equal(bdev_submit(&rq), -EINVAL);
	bdev_prep_readv(&rq, t->bdev, 0, 2, iov, 0, bt_end_io, &d);
	assert_int_equal(bdev_submit(&rq), -EINVAL);
	assert_int_equal(bdev_read(t->bdev, BT_BLOCKS, 1, buf), -EINVAL);
	assert_int_equal(bdev_reap(t->bdev, 1), 0);
	assert_int_equal(d.calls, 0);
	/* the device is still fine */
	assert_int_equal(bdev_readv(t->bdev, 0, 2, iov, 2), 0);
	free(buf);
}

/* O_DIRECT: misaligned buffers or lengths are refused before submission. */
static void test_misaligned_direct(void **state)
{
	struct bt *t = *state;
	uint8_t *buf = bt_alloc(3 * 4096);
	struct iovec iov[2] = { { buf, 512 }, { buf + 512, 4096 - 512 } };
	int want = t->cfg->direct ? -EINVAL : 0;

	BT_REQUIRE_DEV(t);
	assert_int_equal(bdev_write(t->bdev, 5, 1, buf + 512), want);
	assert_int_equal(bdev_read(t->bdev, 5, 1, buf + 8), want);
	assert_int_equal(bdev_readv(t->bdev, 5, 1, iov, 2), want);
	assert_int_equal(bdev_read(t->bdev, 5, 1, buf), 0);
	free(buf);
}

static void test_read_only(void **state)
{
	struct bt *t = *state;
	struct bdev_options o = bt_options(t->cfg);
	struct uk_blockdev *ro;
	uint8_t *buf = bt_alloc(4096);

	BT_REQUIRE_DEV(t);
	o.read_only = true;
	assert_int_equal(bdev_open(t->path, &o, &ro), 0);
	assert_int_equal(bdev_write(ro, 0, 1, buf), -EROFS);
	assert_int_equal(bdev_read(ro, 0, 1, buf), 0);
	assert_int_equal(bdev_flush(ro), 0);
	assert_int_equal(bdev_close(ro), 0);
	free(buf);
}

static void test_image_create_errors(void **state)
{
	struct bt *t = *state;
	char path[PATH_MAX + 32];
	struct uk_blockdev *bdev;
	struct bdev_options o = bt_options(t->cfg);

	assert_int_equal(bdev_image_create(t->path, 4096), -EEXIST);
	snprintf(path, sizeof(path), "%s/bad.img", t->dir);
	assert_int_equal(bdev_image_create(path, 0), -EINVAL);
	assert_int_equal(bdev_image_create(path, 4097), -EINVAL);
	assert_int_equal(bdev_open(path, &o, &bdev), -ENOENT);
	snprintf(path, sizeof(path), "%s/nodir/x.img", t->dir);
	assert_int_equal(bdev_image_create(path, 4096), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BT_TEST(test_round_trip_random),
		BT_TEST(test_async_many_inflight),
		BT_TEST(test_persists_across_close),
		BT_TEST(test_registered_buffers),
		BT_TEST(test_eof_zero_fill),
		BT_TEST(test_invalid_requests),
		BT_TEST(test_misaligned_direct),
		BT_TEST(test_read_only),
		BT_TEST(test_image_create_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
