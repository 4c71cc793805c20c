// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_blockdev_queue.c - the request queue over every backend
 * configuration: back-merging and its counters, plugging (one submission
 * per unplug, nesting, waiting flushes the plug), the per-thread queue
 * depth backlog, end_io that submits, flushes, close draining, and several
 * threads submitting at once.
 */
#include <pthread.h>

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

static struct bdev_stats bt_stats(struct uk_blockdev *bdev)
{
	struct bdev_stats st;

	bdev_stats_get(bdev, &st);
	return st;
}

/* Contiguous plugged requests merge; each still completes on its own. */
static void test_merge_counting(void **state)
{
	struct bt *t = *state;
	enum { NW = 16, NR = 8 };
	struct bdev_request w[NW + 1], r[NR];
	struct bt_done dw[NW + 1], dr[NR];
	uint8_t *buf = bt_alloc((NW + 1) * 4096), *back = bt_alloc(NW * 4096);
	struct bdev_stats st;
	int i;

	BT_REQUIRE_DEV(t);
	memset(dw, 0, sizeof(dw));
	memset(dr, 0, sizeof(dr));
	bt_fill(buf, 10, NW, 5);
	bt_fill(buf + NW * 4096, 500, 1, 5);
	assert_int_equal(bdev_write(t->bdev, 40, NR, buf), 0);
	bdev_stats_reset(t->bdev);

	bdev_plug();
	for (i = 0; i < NW; i++) {
		bdev_prep_write(&w[i], t->bdev, 10 + (uint64_t)i, 1,
				buf + (size_t)i * 4096, bt_end_io, &dw[i]);
		assert_int_equal(bdev_submit(&w[i]), 0);
	}
	/* not adjacent: no merge */
	bdev_prep_write(&w[NW], t->bdev, 500, 1, buf + NW * 4096, bt_end_io,
			&dw[NW]);
	assert_int_equal(bdev_submit(&w[NW]), 0);
	for (i = 0; i < NR; i++) {
		bdev_prep_read(&r[i], t->bdev, 40 + (uint64_t)i, 1,
			       back + (size_t)i * 4096, bt_end_io, &dr[i]);
		assert_int_equal(bdev_submit(&r[i]), 0);
	}
	st = bt_stats(t->bdev);
	assert_int_equal(st.submits, 0);
	assert_int_equal(bdev_inflight(t->bdev), NW + 1 + NR);
	bdev_unplug();
	assert_int_equal(bdev_drain(t->bdev), 0);

	st = bt_stats(t->bdev);
	assert_int_equal(st.submits, 1);
	assert_int_equal(st.dir[BDEV_OP_WRITE].merges, NW - 1);
	assert_int_equal(st.dir[BDEV_OP_READ].merges, NR - 1);
	assert_int_equal(st.dir[BDEV_OP_WRITE].requests, NW + 1);
	assert_int_equal(st.dir[BDEV_OP_READ].requests, NR);
	assert_int_equal(st.dir[BDEV_OP_WRITE].bytes, (NW + 1) * 4096);
	for (i = 0; i <= NW; i++) {
		assert_int_equal(dw[i].calls, 1);
		assert_int_equal(dw[i].result, 0);
	}
	for (i = 0; i < NR; i++) {
		assert_int_equal(dr[i].calls, 1);
		assert_int_equal(dr[i].result, 0);
	}
	assert_memory_equal(back, buf, NR * 4096);
	assert_int_equal(bdev_read(t->bdev, 10, NW, back), 0);
	assert_memory_equal(back, buf, NW * 4096);
	free(buf);
	free(back);
}

/* A merge never grows past max_merge_blocks, nor across directions. */
static void test_merge_limits(void **state)
{
	struct bt *t = *state;
	enum { N = 300 };
	struct bdev_request *rq = calloc(N + 2, sizeof(*rq));
	uint8_t *buf = bt_alloc((N + 2) * 4096);
	struct bdev_stats st;
	int i;

	BT_REQUIRE_DEV(t);
	bdev_stats_reset(t->bdev);
	bdev_plug();
	for (i = 0; i < N; i++) {
		bdev_prep_write(&rq[i], t->bdev, (uint64_t)i, 1,
				buf + (size_t)i * 4096, NULL, NULL);
		assert_int_equal(bdev_submit(&rq[i]), 0);
	}
	/* a read of the next block, then a write after it: neither merges */
	bdev_prep_read(&rq[N], t->bdev, N, 1, buf + N * 4096, NULL, NULL);
	assert_int_equal(bdev_submit(&rq[N]), 0);
	bdev_prep_write(&rq[N + 1], t->bdev, N + 1, 1,
			buf + (N + 1) * 4096, NULL, NULL);
	assert_int_equal(bdev_submit(&rq[N + 1]), 0);
	bdev_unplug();
	assert_int_equal(bdev_drain(t->bdev), 0);
	st = bt_stats(t->bdev);
	/* chains of 256 and 44 blocks */
	assert_int_equal(st.dir[BDEV_OP_WRITE].merges, N - 2);
	assert_int_equal(st.dir[BDEV_OP_READ].merges, 0);
	for (i = 0; i < N + 2; i++) {
		assert_true(bdev_request_done(&rq[i]));
		assert_int_equal(rq[i].result, 0);
	}
	free(rq);
	free(buf);
}

/* Plugs nest; waiting on a plugged request or a sync helper flushes it. */
static void test_plug_nesting_and_wait(void **state)
{
	struct bt *t = *state;
	struct bdev_request a, b;
	uint8_t *buf = bt_alloc(3 * 4096);
	struct bdev_stats st;

	BT_REQUIRE_DEV(t);
	bt_fill(buf, 7, 2, 9);
	bdev_stats_reset(t->bdev);
	bdev_plug();
	bdev_plug();
	bdev_prep_write(&a, t->bdev, 7, 1, buf, NULL, NULL);
	assert_int_equal(bdev_submit(&a), 0);
	bdev_unplug();
	st = bt_stats(t->bdev);
	assert_int_equal(st.submits, 0);	/* still plugged */
	assert_false(bdev_request_done(&a));
	/* waiting sends the plug: no deadlock */
	assert_int_equal(bdev_wait(&a), 0);
	bdev_prep_write(&b, t->bdev, 8, 1, buf + 4096, NULL, NULL);
	assert_int_equal(bdev_submit(&b), 0);
	/* a synchronous helper while plugged works too */
	assert_int_equal(bdev_read(t->bdev, 7, 1, buf + 2 * 4096), 0);
	assert_memory_equal(buf + 2 * 4096, buf, 4096);
	bdev_unplug();
	assert_int_equal(bdev_wait(&b), 0);
	assert_int_equal(bdev_read(t->bdev, 8, 1, buf + 2 * 4096), 0);
	assert_memory_equal(buf + 2 * 4096, buf + 4096, 4096);
	/* unbalanced unplug is harmless */
	bdev_unplug();
	free(buf);
}

/* More requests than the queue depth wait in the backlog. */
static void test_queue_depth_backlog(void **state)
{
	struct bt *t = *state;
	struct bdev_options o = bt_options(t->cfg);
	struct uk_blockdev *bdev;
	enum { N = 50 };
	struct bdev_request rq[N];
	uint8_t *buf = bt_alloc(N * 4096), *back = bt_alloc(N * 4096);
	int i;

	BT_REQUIRE_DEV(t);
	o.queue_depth = 4;
	assert_int_equal(bdev_open(t->path, &o, &bdev), 0);
	bt_fill(buf, 0, N, 77);
	for (i = 0; i < N; i++) {
		bdev_prep_write(&rq[i], bdev, 3 * (uint64_t)i, 1,
				buf + (size_t)i * 4096, NULL, NULL);
		assert_int_equal(bdev_submit(&rq[i]), 0);
	}
	assert_int_equal(bdev_drain(bdev), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(rq[i].result, 0);
		assert_int_equal(bdev_read(bdev, 3 * (uint64_t)i, 1,
					   back + (size_t)i * 4096), 0);
	}
	assert_memory_equal(back, buf, N * 4096);
	assert_int_equal(bdev_close(bdev), 0);
	free(buf);
	free(back);
}

struct bt_chain {
	struct bdev_request rq;
	uint8_t *buf;
	int left;
	int calls;
};

/* end_io submits the next write: completions may submit. */
static void bt_chain_end_io(struct bdev_request *rq, int result)
{
	struct bt_chain *c = rq->private;

	assert_int_equal(result, 0);
	c->calls++;
	if (--c->left > 0) {
		bdev_prep_write(&c->rq, rq->bdev, (uint64_t)c->left, 1,
				c->buf + (size_t)c->left * 4096,
				bt_chain_end_io, c);
		assert_int_equal(bdev_submit(&c->rq), 0);
	}
}

static void test_end_io_resubmits(void **state)
{
	struct bt *t = *state;
	struct bt_chain c = { .left = 20 };
	uint8_t *back = bt_alloc(21 * 4096);

	BT_REQUIRE_DEV(t);
	c.buf = bt_alloc(21 * 4096);
	bt_fill(c.buf, 0, 21, 4);
	bdev_prep_write(&c.rq, t->bdev, 20, 1, c.buf + 20 * 4096,
			bt_chain_end_io, &c);
	assert_int_equal(bdev_submit(&c.rq), 0);
	assert_int_equal(bdev_drain(t->bdev), 0);
	assert_int_equal(c.calls, 20);
	assert_int_equal(bdev_read(t->bdev, 1, 20, back), 0);
	assert_memory_equal(back, c.buf + 4096, 20 * 4096);
	free(c.buf);
	free(back);
}

/* Flushes complete once each, never merge, and are counted. */
static void test_flush_requests(void **state)
{
	struct bt *t = *state;
	struct bdev_request w[4], f[2];
	struct bt_done dw[4], df[2];
	uint8_t *buf = bt_alloc(4 * 4096);
	struct bdev_stats st;
	int i;

	BT_REQUIRE_DEV(t);
	memset(dw, 0, sizeof(dw));
	memset(df, 0, sizeof(df));
	bdev_stats_reset(t->bdev);
	bdev_plug();
	for (i = 0; i < 4; i++) {
		bdev_prep_write(&w[i], t->bdev, 60 + (uint64_t)i, 1,
				buf + (size_t)i * 4096, bt_end_io, &dw[i]);
		assert_int_equal(bdev_submit(&w[i]), 0);
		if (i == 1 || i == 3) {
			bdev_prep_flush(&f[i / 2], t->bdev, bt_end_io,
					&df[i / 2]);
			assert_int_equal(bdev_submit(&f[i / 2]), 0);
		}
	}
	bdev_unplug();
	assert_int_equal(bdev_drain(t->bdev), 0);
	st = bt_stats(t->bdev);
	assert_int_equal(st.dir[BDEV_OP_FLUSH].requests, 2);
	assert_int_equal(st.dir[BDEV_OP_FLUSH].merges, 0);
	/* a flush in between stops the writes from merging across it */
	assert_int_equal(st.dir[BDEV_OP_WRITE].merges, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(df[i].calls, 1);
		assert_int_equal(df[i].result, 0);
	}
	assert_int_equal(bdev_flush(t->bdev), 0);
	free(buf);
}

/* Close with requests still in flight: they complete, then it closes. */
static void test_close_drains(void **state)
{
	struct bt *t = *state;
	struct bdev_request rq[8];
	struct bt_done d[8];
	uint8_t *buf = bt_alloc(8 * 4096);
	int i;

	BT_REQUIRE_DEV(t);
	memset(d, 0, sizeof(d));
	for (i = 0; i < 8; i++) {
		bdev_prep_write(&rq[i], t->bdev, 2 * (uint64_t)i, 1,
				buf + (size_t)i * 4096, bt_end_io, &d[i]);
		assert_int_equal(bdev_submit(&rq[i]), 0);
	}
	assert_int_equal(bdev_close(t->bdev), 0);
	t->bdev = NULL;
	for (i = 0; i < 8; i++)
		assert_int_equal(d[i].calls, 1);
	free(buf);
}

struct bt_thread {
	struct uk_blockdev *bdev;
	unsigned int index;
	int errors;
};

#define BT_THREADS 4
#define BT_PER_THREAD 64	/* blocks per thread region */

/* Each thread writes its region in plugged async batches and checks it. */
static void *bt_thread_main(void *arg)
{
	struct bt_thread *th = arg;
	uint64_t base = (uint64_t)th->index * BT_PER_THREAD;
	uint8_t *buf = aligned_alloc(4096, BT_PER_THREAD * 4096);
	uint8_t *back = aligned_alloc(4096, BT_PER_THREAD * 4096);
	struct bdev_request rq[BT_PER_THREAD];
	int round, i;

	for (round = 0; round < 10; round++) {
		bt_fill(buf, base, BT_PER_THREAD, 100 + (uint64_t)round);
		bdev_plug();
		/* first half ascending (merges), second half descending */
		for (i = 0; i < BT_PER_THREAD; i++) {
			int b = i < BT_PER_THREAD / 2 ? i :
				3 * BT_PER_THREAD / 2 - 1 - i;

			bdev_prep_write(&rq[i], th->bdev, base + (uint64_t)b, 1,
					buf + (size_t)b * 4096, NULL, NULL);
			if (bdev_submit(&rq[i]))
				th->errors++;
		}
		bdev_unplug();
		if (bdev_drain(th->bdev))
			th->errors++;
		for (i = 0; i < BT_PER_THREAD; i++)
			if (rq[i].result)
				th->errors++;
		if (bdev_read(th->bdev, base, BT_PER_THREAD, back) ||
		    memcmp(back, buf, BT_PER_THREAD * 4096))
			th->errors++;
	}
	free(buf);
	free(back);
	return NULL;
}

static void test_concurrent_submitters(void **state)
{
	struct bt *t = *state;
	pthread_t tid[BT_THREADS];
	struct bt_thread th[BT_THREADS];
	uint8_t *back = bt_alloc(BT_THREADS * BT_PER_THREAD * 4096);
	uint8_t *want = bt_alloc(BT_THREADS * BT_PER_THREAD * 4096);
	struct bdev_stats st;
	int i;

	BT_REQUIRE_DEV(t);
	bdev_stats_reset(t->bdev);
	for (i = 0; i < BT_THREADS; i++) {
		th[i] = (struct bt_thread){ t->bdev, (unsigned int)i, 0 };
		assert_int_equal(pthread_create(&tid[i], NULL, bt_thread_main,
						&th[i]), 0);
	}
	for (i = 0; i < BT_THREADS; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(th[i].errors, 0);
		bt_fill(want + (size_t)i * BT_PER_THREAD * 4096,
			(uint64_t)i * BT_PER_THREAD, BT_PER_THREAD, 109);
	}
	st = bt_stats(t->bdev);
	assert_int_equal(st.dir[BDEV_OP_WRITE].requests,
			 BT_THREADS * 10 * BT_PER_THREAD);
	assert_int_equal(st.dir[BDEV_OP_WRITE].errors, 0);
	assert_int_equal(st.dir[BDEV_OP_WRITE].merges,
			 BT_THREADS * 10 * (BT_PER_THREAD / 2 - 1));
	assert_int_equal(bdev_read(t->bdev, 0, BT_THREADS * BT_PER_THREAD,
				   back), 0);
	assert_memory_equal(back, want, BT_THREADS * BT_PER_THREAD * 4096);
	free(back);
	free(want);
}

/* Statistics: percentiles from the histogram and the printed report. */
static void test_stats_report(void **state)
{
	struct bt *t = *state;
	struct bdev_stats st;
	struct bdev_dir_stats d;
	uint8_t *buf = bt_alloc(4096);
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int i;

	BT_REQUIRE_DEV(t);
	bdev_stats_reset(t->bdev);
	for (i = 0; i < 10; i++)
		assert_int_equal(bdev_read(t->bdev, (uint64_t)i, 1, buf), 0);
	bdev_stats_get(t->bdev, &st);
	assert_int_equal(st.dir[BDEV_OP_READ].requests, 10);
	assert_true(bdev_stats_percentile(&st.dir[BDEV_OP_READ], 0.5) > 0);
	assert_true(bdev_stats_percentile(&st.dir[BDEV_OP_READ], 0.99) >=
		    bdev_stats_percentile(&st.dir[BDEV_OP_READ], 0.5));
	assert_int_equal(bdev_stats_percentile(&st.dir[BDEV_OP_WRITE], 0.5),
			 0);
	memset(&d, 0, sizeof(d));
	d.hist[10] = 99;	/* [1024, 2048) ns */
	d.hist[20] = 1;
	assert_true(bdev_stats_percentile(&d, 0.5) >= 1024);
	assert_true(bdev_stats_percentile(&d, 0.5) < 2048);
	assert_true(bdev_stats_percentile(&d, 0.999) >= (1u << 20));
	f = open_memstream(&text, &len);
	assert_non_null(f);
	bdev_stats_print(t->bdev, f);
	fclose(f);
	assert_non_null(strstr(text, "read"));
	assert_non_null(strstr(text, "flush"));
	free(text);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BT_TEST(test_merge_counting),
		BT_TEST(test_merge_limits),
		BT_TEST(test_plug_nesting_and_wait),
		BT_TEST(test_queue_depth_backlog),
		BT_TEST(test_end_io_resubmits),
		BT_TEST(test_flush_requests),
		BT_TEST(test_close_drains),
		BT_TEST(test_concurrent_submitters),
		BT_TEST(test_stats_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
