// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_blockdev_crash.c - the crash-simulation wrapper over every
 * backend configuration: only writes not covered by a completed flush can
 * be lost, a flush covers only writes completed before it was submitted,
 * each block ends as its last surviving write or its flushed content, the
 * random mode is reproducible from its seed, and a crashed device refuses
 * I/O.
 */
#include "test_blockdev_common.h"

static struct uk_blockdev *bt_crash_wrap(struct bt *t)
{
	struct uk_blockdev *c;

	assert_int_equal(bdev_crash_wrap(t->bdev, &c), 0);
	t->bdev = c;
	assert_string_equal(bdev_backend_name(c), "crash");
	return c;
}

/* Close the crashed wrapper and reopen the image as it was left. */
static void bt_reboot(struct bt *t)
{
	struct bdev_options o = bt_options(t->cfg);

	assert_int_equal(bdev_close(t->bdev), 0);
	t->bdev = NULL;
	assert_int_equal(bdev_open(t->path, &o, &t->bdev), 0);
}

/* Assert that block b holds pattern (b, seed), or zeros if seed is 0. */
static void bt_expect(struct bt *t, uint64_t b, uint64_t seed)
{
	uint8_t *got = bt_alloc(4096), *want = bt_alloc(4096);

	assert_int_equal(bdev_read(t->bdev, b, 1, got), 0);
	if (seed)
		bt_fill(want, b, 1, seed);
	else
		memset(want, 0, 4096);
	assert_memory_equal(got, want, 4096);
	free(got);
	free(want);
}

static void bt_write(struct uk_blockdev *bdev, uint64_t b, uint32_t nr,
		     uint64_t seed)
{
	uint8_t *buf = bt_alloc((size_t)nr * 4096);

	bt_fill(buf, b, nr, seed);
	assert_int_equal(bdev_write(bdev, b, nr, buf), 0);
	free(buf);
}

/* A flushed, B and C unflushed: DROP_ALL loses exactly B and C. */
static void bt_scenario(struct uk_blockdev *c)
{
	bt_write(c, 0, 4, 1);		/* A: blocks 0-3 */
	assert_int_equal(bdev_flush(c), 0);
	assert_int_equal(bdev_crash_unflushed(c), 0);
	bt_write(c, 2, 4, 2);		/* B: blocks 2-5 */
	bt_write(c, 10, 1, 3);		/* C: block 10 */
	assert_int_equal(bdev_crash_unflushed(c), 2);
}

static void test_crash_drop_all(void **state)
{
	struct bt *t = *state;
	struct bdev_crash_plan plan = { .mode = BDEV_CRASH_DROP_ALL };
	struct uk_blockdev *c;

	BT_REQUIRE_DEV(t);
	c = bt_crash_wrap(t);
	bt_scenario(c);
	assert_int_equal(bdev_crash_simulate(c, &plan), 2);
	bt_reboot(t);
	bt_expect(t, 0, 1);
	bt_expect(t, 3, 1);
	bt_expect(t, 4, 0);
	bt_expect(t, 5, 0);
	bt_expect(t, 10, 0);
}

static void test_crash_keep_all(void **state)
{
	struct bt *t = *state;
	struct bdev_crash_plan plan = { .mode = BDEV_CRASH_KEEP_ALL };
	struct uk_blockdev *c;
	uint8_t *buf = bt_alloc(4096);

	BT_REQUIRE_DEV(t);
	c = bt_crash_wrap(t);
	bt_scenario(c);
	assert_int_equal(bdev_crash_simulate(c, &plan), 0);
	/* crashed: every request now fails, and so does a second crash */
	assert_int_equal(bdev_read(c, 0, 1, buf), -EIO);
	assert_int_equal(bdev_write(c, 0, 1, buf), -EIO);
	assert_int_equal(bdev_flush(c), -EIO);
	assert_int_equal(bdev_crash_simulate(c, &plan), -EIO);
	bt_reboot(t);
	bt_expect(t, 1, 1);
	bt_expect(t, 2, 2);
	bt_expect(t, 5, 2);
	bt_expect(t, 10, 3);
	free(buf);
}

/*
 * A flush covers only writes that completed before it was submitted: X is
 * in flight when the first flush is submitted, so it stays unflushed.
 */
static void test_crash_flush_ordering(void **state)
{
	struct bt *t = *state;
	struct bdev_crash_plan plan = { .mode = BDEV_CRASH_DROP_ALL };
	struct bdev_request x, f;
	uint8_t *buf = bt_alloc(4096);
	struct uk_blockdev *c;

	BT_REQUIRE_DEV(t);
	c = bt_crash_wrap(t);
	bt_fill(buf, 20, 1, 5);
	bdev_plug();
	bdev_prep_write(&x, c, 20, 1, buf, NULL, NULL);
	assert_int_equal(bdev_submit(&x), 0);
	bdev_prep_flush(&f, c, NULL, NULL);
	assert_int_equal(bdev_submit(&f), 0);
	bdev_unplug();
	assert_int_equal(bdev_wait(&x), 0);
	assert_int_equal(bdev_wait(&f), 0);
	assert_int_equal(bdev_crash_unflushed(c), 1);

	bt_write(c, 21, 1, 6);
	assert_int_equal(bdev_crash_unflushed(c), 2);
	assert_int_equal(bdev_flush(c), 0);
	assert_int_equal(bdev_crash_unflushed(c), 0);
	bt_write(c, 22, 1, 7);
	assert_int_equal(bdev_crash_simulate(c, &plan), 1);
	bt_reboot(t);
	bt_expect(t, 20, 5);
	bt_expect(t, 21, 6);
	bt_expect(t, 22, 0);
	free(buf);
}

/*
 * Overwrites: the pre-image of a block is what the last completed flush
 * left, even when a covered write and an uncovered one share the block.
 */
static void test_crash_pre_image_follows_flushes(void **state)
{
	struct bt *t = *state;
	struct bdev_crash_plan plan = { .mode = BDEV_CRASH_DROP_ALL };
	struct bdev_request w, f;
	uint8_t *buf = bt_alloc(4096);
	struct uk_blockdev *c;

	BT_REQUIRE_DEV(t);
	c = bt_crash_wrap(t);
	bt_write(c, 7, 1, 1);
	assert_int_equal(bdev_flush(c), 0);
	bt_write(c, 7, 1, 2);
	assert_int_equal(bdev_flush(c), 0);

	/* block 8: v1 completed, then v2 in flight while a flush retires v1 */
	bt_write(c, 8, 1, 11);
	bt_fill(buf, 8, 1, 12);
	bdev_plug();
	bdev_prep_write(&w, c, 8, 1, buf, NULL, NULL);
	assert_int_equal(bdev_submit(&w), 0);
	bdev_prep_flush(&f, c, NULL, NULL);
	assert_int_equal(bdev_submit(&f), 0);
	bdev_unplug();
	assert_int_equal(bdev_drain(c), 0);
	assert_int_equal(bdev_crash_unflushed(c), 1);	/* v2 at 8 */
	bt_write(c, 7, 1, 3);
	assert_int_equal(bdev_crash_unflushed(c), 2);

	assert_int_equal(bdev_crash_simulate(c, &plan), 2);
	bt_reboot(t);
	bt_expect(t, 7, 2);
	bt_expect(t, 8, 11);
	free(buf);
}

struct bt_keep {
	uint64_t keep_seq;
	unsigned int calls;
};

static bool bt_keep_one(const struct bdev_crash_write *w, void *arg)
{
	struct bt_keep *k = arg;

	k->calls++;
	assert_non_null(w->data);
	return w->seq == k->keep_seq;
}

/* The callback picks writes; a block shows its last kept write. */
static void test_crash_callback(void **state)
{
	struct bt *t = *state;
	struct bt_keep k = { 0, 0 };
	struct bdev_crash_plan plan = {
		.mode = BDEV_CRASH_CALLBACK, .keep = bt_keep_one, .arg = &k,
	};
	struct uk_blockdev *c;

	BT_REQUIRE_DEV(t);
	c = bt_crash_wrap(t);
	bt_write(c, 30, 2, 1);		/* seq 1: blocks 30-31 */
	bt_write(c, 31, 2, 2);		/* seq 2: blocks 31-32 */
	bt_write(c, 30, 1, 3);		/* seq 3: block 30 */
	k.keep_seq = 2;
	assert_int_equal(bdev_crash_simulate(c, &plan), 2);
	assert_int_equal(k.calls, 3);
	bt_reboot(t);
	bt_expect(t, 30, 0);
	bt_expect(t, 31, 2);
	bt_expect(t, 32, 2);
}

/* The same seed gives the same image; each block is old or new. */
static void test_crash_random_seeded(void **state)
{
	struct bt *t = *state;
	struct bdev_crash_plan plan = { .mode = BDEV_CRASH_RANDOM, .seed = 42 };
	uint8_t *img[2], *want_new = bt_alloc(4096);
	int run, i, dropped[2], n_new = 0;

	BT_REQUIRE_DEV(t);
	for (run = 0; run < 2; run++) {
		struct uk_blockdev *c;

		/* start from the same flushed state */
		bt_write(t->bdev, 100, 40, 50);
		assert_int_equal(bdev_flush(t->bdev), 0);
		c = bt_crash_wrap(t);
		for (i = 0; i < 40; i++)
			bt_write(c, 100 + (uint64_t)i, 1, 60);
		dropped[run] = bdev_crash_simulate(c, &plan);
		assert_true(dropped[run] > 0 && dropped[run] < 40);
		bt_reboot(t);
		img[run] = bt_alloc(40 * 4096);
		assert_int_equal(bdev_read(t->bdev, 100, 40, img[run]), 0);
	}
	assert_int_equal(dropped[0], dropped[1]);
	assert_memory_equal(img[0], img[1], 40 * 4096);
	for (i = 0; i < 40; i++) {
		uint8_t *got = img[0] + (size_t)i * 4096;

		bt_fill(want_new, 100 + (uint64_t)i, 1, 60);
		if (!memcmp(got, want_new, 4096)) {
			n_new++;
			continue;
		}
		bt_fill(want_new, 100 + (uint64_t)i, 1, 50);
		assert_memory_equal(got, want_new, 4096);
	}
	assert_int_equal(n_new, 40 - dropped[0]);
	free(img[0]);
	free(img[1]);
	free(want_new);
}

/* Reads pass through and see unflushed data before the crash. */
static void test_crash_passthrough(void **state)
{
	struct bt *t = *state;
	struct uk_blockdev *c;
	struct bdev_crash_plan bad = { .mode = BDEV_CRASH_CALLBACK };

	BT_REQUIRE_DEV(t);
	assert_int_equal(bdev_crash_simulate(t->bdev, &bad), -EINVAL);
	c = bt_crash_wrap(t);
	bt_write(c, 40, 3, 9);
	bt_expect(t, 40, 9);
	bt_expect(t, 42, 9);
	assert_int_equal(bdev_crash_simulate(c, &bad), -EINVAL);
	assert_int_equal(bdev_crash_unflushed(c), 1);
}

/* Wrappers stack: a fault device over a crash device over the image. */
static void test_crash_under_fault(void **state)
{
	struct bt *t = *state;
	struct bdev_crash_plan plan = { .mode = BDEV_CRASH_DROP_ALL };
	struct bdev_fault_rule rule = {
		.ops = BDEV_FAULT_WRITE, .first_block = 50, .nr_blocks = 1,
		.error = EIO,
	};
	struct bdev_request rq[3];
	uint8_t *buf = bt_alloc(3 * 4096);
	struct uk_blockdev *c, *f;
	int i;

	BT_REQUIRE_DEV(t);
	c = bt_crash_wrap(t);
	assert_int_equal(bdev_fault_wrap(c, &f), 0);
	t->bdev = f;
	assert_true(bdev_fault_add(f, &rule) >= 0);
	bt_write(f, 60, 1, 4);
	assert_int_equal(bdev_flush(f), 0);
	bt_fill(buf, 49, 3, 8);
	bdev_plug();
	for (i = 0; i < 3; i++) {
		bdev_prep_write(&rq[i], f, 49 + (uint64_t)i, 1,
				buf + (size_t)i * 4096, NULL, NULL);
		assert_int_equal(bdev_submit(&rq[i]), 0);
	}
	bdev_unplug();
	assert_int_equal(bdev_drain(f), 0);
	assert_int_equal(rq[0].result, 0);
	assert_int_equal(rq[1].result, -EIO);
	assert_int_equal(rq[2].result, 0);
	/* the failed write never reached the crash device */
	assert_int_equal(bdev_crash_unflushed(c), 2);
	assert_int_equal(bdev_crash_simulate(c, &plan), 2);
	assert_int_equal(bdev_write(f, 60, 1, buf), -EIO);
	bt_reboot(t);
	bt_expect(t, 49, 0);
	bt_expect(t, 51, 0);
	bt_expect(t, 60, 4);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BT_TEST(test_crash_drop_all),
		BT_TEST(test_crash_keep_all),
		BT_TEST(test_crash_flush_ordering),
		BT_TEST(test_crash_pre_image_follows_flushes),
		BT_TEST(test_crash_callback),
		BT_TEST(test_crash_random_seeded),
		BT_TEST(test_crash_passthrough),
		BT_TEST(test_crash_under_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
