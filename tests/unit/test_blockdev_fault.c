// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_blockdev_fault.c - the fault-injection wrapper over every
 * backend configuration: errors chosen by block range, by the Nth request
 * and by count reach exactly the requests they fail, merged neighbours
 * below still succeed, and the device stays usable.
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

/* Replace the fixture's device by a fault wrapper on it. */
static struct uk_blockdev *bt_wrap(struct bt *t)
{
	struct uk_blockdev *f;

	assert_int_equal(bdev_fault_wrap(t->bdev, &f), 0);
	t->bdev = f;
	assert_string_equal(bdev_backend_name(f), "fault");
	return f;
}

static void test_fault_read_range(void **state)
{
	struct bt *t = *state;
	enum { N = 20 };
	struct bdev_fault_rule rule = {
		.ops = BDEV_FAULT_READ, .first_block = 10, .nr_blocks = 2,
		.error = EIO,
	};
	struct bdev_request rq[N];
	struct bt_done d[N];
	uint8_t *data = bt_alloc(N * 4096), *back = bt_alloc(N * 4096);
	struct uk_blockdev *f;
	int i;

	BT_REQUIRE_DEV(t);
	f = bt_wrap(t);
	bt_fill(data, 0, N, 21);
	assert_int_equal(bdev_write(f, 0, N, data), 0);
	assert_true(bdev_fault_add(f, &rule) >= 0);

	memset(d, 0, sizeof(d));
	bdev_plug();
	for (i = 0; i < N; i++) {
		bdev_prep_read(&rq[i], f, (uint64_t)i, 1,
			       back + (size_t)i * 4096, bt_end_io, &d[i]);
		assert_int_equal(bdev_submit(&rq[i]), 0);
	}
	bdev_unplug();
	assert_int_equal(bdev_drain(f), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(d[i].calls, 1);
		if (i == 10 || i == 11) {
			assert_int_equal(d[i].result, -EIO);
		} else {
			assert_int_equal(d[i].result, 0);
			assert_memory_equal(back + (size_t)i * 4096,
					    data + (size_t)i * 4096, 4096);
		}
	}
	assert_int_equal(bdev_fault_injected(f), 2);
	/* a read overlapping the range fails; writes there still work */
	assert_int_equal(bdev_read(f, 8, 4, back), -EIO);
	assert_int_equal(bdev_write(f, 10, 2, data), 0);
	assert_int_equal(bdev_read(f, 12, 4, back), 0);
	bdev_fault_clear(f);
	assert_int_equal(bdev_read(f, 10, 2, back), 0);
	assert_memory_equal(back, data, 2 * 4096);
	free(data);
	free(back);
}

static void test_fault_nth_write_enospc(void **state)
{
	struct bt *t = *state;
	struct bdev_fault_rule rule = {
		.ops = BDEV_FAULT_WRITE, .nth = 3, .error = ENOSPC,
	};
	uint8_t *data = bt_alloc(5 * 4096), *back = bt_alloc(4096);
	uint8_t *zero = calloc(1, 4096);
	struct uk_blockdev *f;
	int i;

	BT_REQUIRE_DEV(t);
	f = bt_wrap(t);
	bt_fill(data, 30, 5, 8);
	assert_true(bdev_fault_add(f, &rule) >= 0);
	/* reads do not count towards a write rule */
	assert_int_equal(bdev_read(f, 0, 1, back), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(bdev_write(f, 30 + (uint64_t)i, 1,
					    data + (size_t)i * 4096),
				 i == 2 ? -ENOSPC : 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(bdev_read(f, 30 + (uint64_t)i, 1, back), 0);
		assert_memory_equal(back, i == 2 ? zero :
				    data + (size_t)i * 4096, 4096);
	}
	assert_int_equal(bdev_fault_injected(f), 1);
	free(data);
	free(back);
	free(zero);
}

static void test_fault_flush_count(void **state)
{
	struct bt *t = *state;
	struct bdev_fault_rule rule = {
		.ops = BDEV_FAULT_FLUSH, .count = 2, .error = EIO,
	};
	struct uk_blockdev *f;
	struct bdev_stats st;

	BT_REQUIRE_DEV(t);
	f = bt_wrap(t);
	assert_true(bdev_fault_add(f, &rule) >= 0);
	assert_int_equal(bdev_flush(f), -EIO);
	assert_int_equal(bdev_flush(f), -EIO);
	assert_int_equal(bdev_flush(f), 0);
	bdev_stats_get(f, &st);
	assert_int_equal(st.dir[BDEV_OP_FLUSH].requests, 3);
	assert_int_equal(st.dir[BDEV_OP_FLUSH].errors, 2);
}

static void test_fault_bad_rules(void **state)
{
	struct bt *t = *state;
	struct bdev_fault_rule rule = { .ops = BDEV_FAULT_READ, .error = 0 };
	struct uk_blockdev *f;

	BT_REQUIRE_DEV(t);
	assert_int_equal(bdev_fault_add(t->bdev, &rule), -EINVAL);
	f = bt_wrap(t);
	assert_int_equal(bdev_fault_add(f, &rule), -EINVAL);
	rule.error = EIO;
	rule.ops = 0;
	assert_int_equal(bdev_fault_add(f, &rule), -EINVAL);
	assert_int_equal(bdev_nr_blocks(f), BT_BLOCKS);
}

/* Async writes through the wrapper: only the chosen one fails. */
static void test_fault_async_exact(void **state)
{
	struct bt *t = *state;
	enum { N = 32 };
	struct bdev_fault_rule rule = {
		.ops = BDEV_FAULT_WRITE | BDEV_FAULT_READ,
		.first_block = 17, .nr_blocks = 1, .error = EIO,
	};
	struct bdev_request rq[N];
	struct bt_done d[N];
	uint8_t *data = bt_alloc(N * 4096);
	struct uk_blockdev *f;
	struct bdev_stats st;
	int i;

	BT_REQUIRE_DEV(t);
	f = bt_wrap(t);
	assert_true(bdev_fault_add(f, &rule) >= 0);
	memset(d, 0, sizeof(d));
	bdev_stats_reset(t->bdev);
	for (i = 0; i < N; i++) {
		bdev_prep_write(&rq[i], f, (uint64_t)i, 1,
				data + (size_t)i * 4096, bt_end_io, &d[i]);
		assert_int_equal(bdev_submit(&rq[i]), 0);
	}
	assert_int_equal(bdev_drain(f), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(d[i].calls, 1);
		assert_int_equal(d[i].result, i == 17 ? -EIO : 0);
	}
	bdev_stats_get(f, &st);
	assert_int_equal(st.dir[BDEV_OP_WRITE].requests, N);
	assert_int_equal(st.dir[BDEV_OP_WRITE].errors, 1);
	assert_int_equal(st.dir[BDEV_OP_WRITE].bytes, (N - 1) * 4096);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BT_TEST(test_fault_read_range),
		BT_TEST(test_fault_nth_write_enospc),
		BT_TEST(test_fault_flush_count),
		BT_TEST(test_fault_bad_rules),
		BT_TEST(test_fault_async_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
