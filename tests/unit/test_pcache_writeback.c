// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_pcache_writeback.c - dirty data in the page cache over a
 * fake store: the background threshold starts the thread, the dirty
 * threshold throttles writers until writeback catches up, expiry with a
 * controlled clock, runs of consecutive pages, fsync ranges and errseq
 * error reporting, O_DIRECT flush/invalidate, punch hole, sync of every
 * mapping, and tmpfs-style mappings with no backing store.
 *
 * No case depends on timing: where a thread must be blocked (a throttled
 * writer, a truncate waiting for writeback), the test waits until the
 * thread sleeps or finishes (thread_sleeps_or_done) instead of giving it
 * a number of yields; where the writeback thread's own bookkeeping must be
 * over, it waits for a full pass (pcache_writeback_kick(pc, true)).
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "test_pcache_common.h"
#include "thread_state.h"

static struct pcache *new_cache(uint64_t limit_pages, bool thread)
{
	struct pcache_opts o;
	struct pcache *pc;

	test_opts(&o, limit_pages);
	o.readahead_max = 0;
	o.no_thread = !thread;
	assert_int_equal(pcache_create(&o, &pc), 0);
	return pc;
}

/*
 * Waits until the thread *tid sleeps ('S') or *done is set; returns
 * whether it sleeps. The callers make sure that no other thread can hold
 * a lock it takes (the other threads are blocked in the fake store or are
 * this one, which takes none of the cache's locks and does not allocate
 * while it polls), so a sleep is the wait under test and lasts until the
 * test releases it: no yield count or time limit decides. *tid is 0 until
 * the thread has stored it.
 */
static bool thread_sleeps_or_done(const pid_t *tid, const bool *done)
{
	pid_t t;

	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		t = __atomic_load_n(tid, __ATOMIC_ACQUIRE);
		if (t && thread_state(t) == 'S')
			return true;
		sched_yield();
	}
	return false;
}

static void write_pages_at(struct fake *f, uint64_t first, uint64_t n,
			   unsigned char v)
{
	unsigned char w[4096];

	memset(w, v, sizeof(w));
	for (uint64_t i = first; i < first + n; i++)
		assert_int_equal(wr(f, i * 4096, w, 4096, 1 << 30), 4096);
}

static void test_background_threshold_starts_writeback(void **state)
{
	struct pcache *pc = new_cache(100, true); /* bg 10, dirty 20 */
	struct fake *f = fake_new(pc, 0);
	struct pcache_stats st;

	fake_set(f, &f->block_writes, true);
	write_pages_at(f, 0, 10, 1);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.bg_thresh, 10);
	assert_int_equal(st.nr_dirty, 10);
	assert_int_equal(f->in_io, 0);
	write_pages_at(f, 10, 1, 1); /* 11 > 10: the thread starts */
	fake_wait_in_io(f, 1);
	fake_set(f, &f->block_writes, false);
	pcache_writeback_kick(pc, true);
	pcache_get_stats(pc, &st);
	assert_true(st.nr_dirty <= 10);
	assert_true(st.writeback_pages >= 1);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

struct writer_arg {
	struct fake *f;
	uint64_t first, n;
	pid_t tid;
	bool done;
};

static void *writer(void *arg)
{
	struct writer_arg *a = arg;

	__atomic_store_n(&a->tid, gettid(), __ATOMIC_RELEASE);
	write_pages_at(a->f, a->first, a->n, 9);
	__atomic_store_n(&a->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * 40 pages are written while the store accepts nothing: the writer must be
 * put to sleep once dirty + writeback pages exceed dirty_thresh (20), and
 * stay asleep until writeback completes. Deterministic: the first 11 pages
 * (over the background threshold) are written here, and the writeback
 * thread is stuck in the store with them before the writer starts; the
 * snapshot is taken once the writer sleeps, when no count can move; the
 * final counts once the thread has finished the pass that completed its
 * writes (sync_all waits for the pages, not for the thread's bookkeeping
 * after them).
 */
static void test_dirty_threshold_throttles(void **state)
{
	struct pcache *pc = new_cache(100, true);
	struct fake *f = fake_new(pc, 0);
	struct writer_arg a = {f, 11, 29, 0, false};
	struct pcache_stats st;
	pthread_t t;

	fake_set(f, &f->block_writes, true);
	write_pages_at(f, 0, 11, 9); /* 11 > 10: the thread starts */
	fake_wait_in_io(f, 1);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.nr_writeback, 11);
	assert_int_equal(st.throttled, 0);
	pthread_create(&t, NULL, writer, &a);
	/* Its 10th page makes dirty + writeback 21: it must sleep there. */
	assert_true(thread_sleeps_or_done(&a.tid, &a.done));
	assert_false(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE));
	pcache_get_stats(pc, &st);
	assert_int_equal(st.dirty_thresh, 20);
	assert_int_equal(st.throttled, 1);
	assert_int_equal(st.nr_writeback, 11);
	assert_int_equal(st.nr_dirty, 10);
	fake_set(f, &f->block_writes, false); /* writeback catches up */
	pthread_join(t, NULL);
	assert_true(a.done);
	assert_int_equal(pcache_sync_all(pc), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(f->data[i * 4096 + 5], 9);
	pcache_writeback_kick(pc, true);
	pcache_get_stats(pc, &st);
	assert_true(st.throttled >= 1);
	assert_true(st.throttled_ns > 0);
	assert_int_equal(st.writeback_pages, 40);
	assert_int_equal(st.nr_dirty, 0);
	assert_int_equal(st.nr_writeback, 0);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_expire_writes_old_data(void **state)
{
	struct pcache *pc = new_cache(1000, true);
	struct fake *f = fake_new(pc, 0);

	write_pages_at(f, 0, 3, 4);
	pcache_writeback_kick(pc, true);
	assert_int_equal(f->write_calls, 0); /* young, under the threshold */
	__atomic_add_fetch(&test_now, 29ull * 1000000000ull, __ATOMIC_RELAXED);
	pcache_writeback_kick(pc, true);
	assert_int_equal(f->write_calls, 0);
	__atomic_add_fetch(&test_now, 2ull * 1000000000ull, __ATOMIC_RELAXED);
	pcache_writeback_kick(pc, true);
	assert_int_equal(f->write_calls, 1);
	assert_int_equal(f->wruns[0].start, 0);
	assert_int_equal(f->wruns[0].n, 3);
	assert_int_equal(f->data[4096], 4);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_interval_wakes_thread(void **state)
{
	struct pcache_opts o;
	struct pcache *pc;
	struct fake *f;

	test_opts(&o, 1000);
	o.readahead_max = 0;
	o.writeback_interval_ns = 1000000; /* 1 ms: no kick needed */
	assert_int_equal(pcache_create(&o, &pc), 0);
	f = fake_new(pc, 0);
	write_pages_at(f, 5, 2, 3);
	__atomic_add_fetch(&test_now, 31ull * 1000000000ull, __ATOMIC_RELAXED);
	/* The thread's own timer finds the expired pages. */
	while (!__atomic_load_n(&f->write_calls, __ATOMIC_ACQUIRE))
		sched_yield();
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_writeback_runs(void **state)
{
	/* large enough that the long run stays under the dirty limits */
	struct pcache *pc = new_cache(8 * PCACHE_MAX_RUN, false);
	struct fake *f = fake_new(pc, 0);

	write_pages_at(f, 100, 1, 1);
	write_pages_at(f, 20, 5, 1);
	write_pages_at(f, 0, 10, 1);
	write_pages_at(f, 1000, PCACHE_MAX_RUN + 44, 1);
	assert_int_equal(pcache_writeback_range(f->m, 0, UINT64_MAX, true), 0);
	assert_int_equal(f->write_calls, 5);
	static const struct fake_run want[] = {
		{0, 10}, {20, 5}, {100, 1}, {1000, PCACHE_MAX_RUN},
		{1000 + PCACHE_MAX_RUN, 44},
	};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(f->wruns[i].start, want[i].start);
		assert_int_equal(f->wruns[i].n, want[i].n);
	}
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_fsync_range(void **state)
{
	struct pcache *pc = new_cache(100, false);
	struct fake *f = fake_new(pc, 0);
	uint32_t since = pcache_errseq_sample(f->m);
	struct pcache_stats st;

	write_pages_at(f, 0, 1, 2);
	write_pages_at(f, 10, 1, 2);
	assert_int_equal(pcache_fsync(f->m, 0, 4095, &since), 0);
	assert_int_equal(f->write_calls, 1);
	assert_int_equal(f->wruns[0].start, 0);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.nr_dirty, 1);
	assert_int_equal(pcache_fsync(f->m, 0, UINT64_MAX, &since), 0);
	assert_int_equal(f->write_calls, 2);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_fsync_reports_error_once(void **state)
{
	struct pcache *pc = new_cache(100, true);
	struct fake *f = fake_new(pc, 0);
	uint32_t file1 = pcache_errseq_sample(f->m);
	uint32_t file2 = pcache_errseq_sample(f->m);
	uint32_t file3;
	struct pcache_ra_state ra;
	unsigned char b[4096];

	/* Fails in a background pass nobody waits for. */
	write_pages_at(f, 3, 2, 0x33);
	f->fail_write_index = 4;
	f->fail_err = EIO;
	__atomic_add_fetch(&test_now, 31ull * 1000000000ull, __ATOMIC_RELAXED);
	pcache_writeback_kick(pc, true);
	assert_int_equal(f->write_calls, 1);
	/* Each open file hears of it once; the pages are clean, kept. */
	assert_int_equal(pcache_fsync(f->m, 0, UINT64_MAX, &file1), -EIO);
	assert_int_equal(pcache_fsync(f->m, 0, UINT64_MAX, &file1), 0);
	assert_int_equal(pcache_fsync(f->m, 0, UINT64_MAX, &file2), -EIO);
	assert_int_equal(pcache_fsync(f->m, 0, UINT64_MAX, &file2), 0);
	pcache_ra_init(&ra);
	assert_int_equal(rd(f, &ra, 4 * 4096, b, 4096, 1 << 30), 4096);
	assert_int_equal(b[0], 0x33);
	/* A file opened after the error was seen does not get it. */
	file3 = pcache_errseq_sample(f->m);
	assert_int_equal(pcache_fsync(f->m, 0, UINT64_MAX, &file3), 0);
	/* ENOSPC from delayed allocation, during fsync itself. */
	write_pages_at(f, 7, 1, 0x44);
	f->fail_write_index = 7;
	f->fail_err = ENOSPC;
	assert_int_equal(pcache_fsync(f->m, 0, UINT64_MAX, &file3), -ENOSPC);
	assert_int_equal(pcache_fsync(f->m, 0, UINT64_MAX, &file3), 0);
	assert_int_equal(pcache_fsync(f->m, 0, UINT64_MAX, &file1), -ENOSPC);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_odirect_flush_and_invalidate(void **state)
{
	struct pcache *pc = new_cache(100, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	unsigned char b[4096];

	pcache_ra_init(&ra);
	write_pages_at(f, 2, 2, 0x21);
	/* A direct read of page 2 first writes it back. */
	assert_int_equal(pcache_flush_range(f->m, 2 * 4096, 3 * 4096 - 1), 0);
	assert_int_equal(f->data[2 * 4096], 0x21);
	assert_int_equal(f->data[3 * 4096], fake_byte(3));
	/* A direct write of pages 2..3: flush, write the store, invalidate. */
	assert_int_equal(pcache_flush_range(f->m, 2 * 4096, 4 * 4096 - 1), 0);
	assert_int_equal(f->data[3 * 4096], 0x21);
	memset(f->data + 2 * 4096, 0x99, 2 * 4096);
	assert_int_equal(pcache_invalidate_range(f->m, 2 * 4096, 4 * 4096 - 1),
			 0);
	assert_int_equal(pcache_mapping_nr_pages(f->m), 0);
	assert_int_equal(rd(f, &ra, 3 * 4096, b, 4096, 1 << 30), 4096);
	assert_int_equal(b[0], 0x99);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_punch_hole(void **state)
{
	struct pcache *pc = new_cache(100, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	unsigned char b[4 * 4096];

	pcache_ra_init(&ra);
	write_pages_at(f, 0, 4, 0x61);
	pcache_punch_range(f->m, 2048, 3 * 4096 + 100);
	assert_int_equal(pcache_mapping_nr_pages(f->m), 2);
	/* The fs frees the blocks; the dropped pages read as holes. */
	memset(f->data + 4096, 0, 2 * 4096);
	assert_int_equal(rd(f, &ra, 0, b, sizeof(b), 1 << 30), sizeof(b));
	for (int i = 0; i < (int)sizeof(b); i++)
		assert_int_equal(b[i],
				 i < 2048 || i >= 3 * 4096 + 100 ? 0x61 : 0);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

struct trunc_arg {
	struct fake *f;
	pid_t tid;
	bool done;
};

static void *bg_writeback(void *arg)
{
	struct trunc_arg *a = arg;

	pcache_writeback_range(a->f->m, 0, UINT64_MAX, false);
	return NULL;
}

static void *truncator(void *arg)
{
	struct trunc_arg *a = arg;

	__atomic_store_n(&a->tid, gettid(), __ATOMIC_RELEASE);
	pcache_truncate(a->f->m, 0);
	__atomic_store_n(&a->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void test_truncate_waits_for_writeback(void **state)
{
	struct pcache *pc = new_cache(100, false);
	struct fake *f = fake_new(pc, 0);
	struct trunc_arg a = {f, 0, false};
	struct pcache_stats st;
	pthread_t wb, tr;

	write_pages_at(f, 0, 4, 0x12);
	fake_set(f, &f->block_writes, true);
	pthread_create(&wb, NULL, bg_writeback, &a);
	fake_wait_in_io(f, 1); /* pages 0..3 in writeback, stuck */
	pthread_create(&tr, NULL, truncator, &a);
	/* It sleeps on page 0's writeback, before dropping anything. */
	assert_true(thread_sleeps_or_done(&a.tid, &a.done));
	assert_false(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE));
	assert_int_equal(pcache_mapping_nr_pages(f->m), 4);
	fake_set(f, &f->block_writes, false);
	pthread_join(wb, NULL);
	pthread_join(tr, NULL);
	assert_int_equal(pcache_mapping_nr_pages(f->m), 0);
	assert_int_equal(f->data[3 * 4096], 0x12);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.nr_writeback, 0);
	assert_int_equal(st.nr_dirty, 0);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_sync_all_and_destroy(void **state)
{
	struct pcache *pc = new_cache(200, true);
	struct fake *f1 = fake_new(pc, 0), *f2 = fake_new(pc, 0);
	struct pcache_stats st;

	write_pages_at(f1, 0, 5, 1);
	write_pages_at(f2, 50, 5, 2);
	assert_int_equal(pcache_sync_all(pc), 0);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.nr_dirty, 0);
	assert_int_equal(f1->write_pages + f2->write_pages, 10);
	/* Destroying a mapping writes its dirty pages back first. */
	write_pages_at(f1, 9, 1, 7);
	assert_int_equal(fake_free(f2), 0);
	assert_int_equal(pcache_mapping_destroy(f1->m), 0);
	assert_int_equal(f1->data[9 * 4096], 7);
	f1->m = NULL;
	free(f1->data);
	free(f1);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.nr_pages, 0);
	pcache_destroy(pc);
}

static void test_no_backing_store(void **state)
{
	struct pcache *pc = new_cache(16, true);
	struct pcache_mapping *m;
	struct pcache_ra_state ra;
	struct pcache_stats st;
	unsigned char w[4096], b[4096];
	struct buf wb = {w, SIZE_MAX}, bb = {b, SIZE_MAX};

	/* tmpfs: no ops at all, pages are the only copy. */
	assert_int_equal(pcache_mapping_create(pc, NULL, NULL,
					       PCACHE_MAPPING_NO_BACKING, &m),
			 0);
	for (uint64_t i = 0; i < 40; i++) {
		memset(w, (int)i + 1, sizeof(w));
		assert_int_equal(
			pcache_write(m, i * 4096, 4096, i * 4096, copy_in, &wb),
			4096);
	}
	pcache_get_stats(pc, &st);
	assert_int_equal(st.nr_dirty, 0);
	assert_int_equal(st.unevictable, 40);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.throttled, 0);
	assert_int_equal(pcache_sync_all(pc), 0);
	pcache_ra_init(&ra);
	for (uint64_t i = 0; i < 40; i++) {
		assert_int_equal(pcache_read(m, &ra, i * 4096, 4096, 40 * 4096,
					     copy_out, &bb),
				 4096);
		assert_int_equal(b[0], i + 1);
		assert_int_equal(b[4095], i + 1);
	}
	pcache_truncate(m, 20 * 4096);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.unevictable, 20);
	assert_int_equal(pcache_mapping_destroy(m), 0);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.unevictable, 0);
	assert_int_equal(st.nr_pages, 0);
	pcache_destroy(pc);
}

static void test_read_error(void **state)
{
	struct pcache *pc = new_cache(100, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	unsigned char b[3 * 4096];

	pcache_ra_init(&ra);
	f->fail_read_index = 4;
	f->fail_err = EIO;
	f->fail_sticky = true;
	assert_int_equal(rd(f, &ra, 4 * 4096, b, 4096, 1 << 30), -EIO);
	/* A read that reaches the bad page returns what came before it. */
	assert_int_equal(rd(f, &ra, 2 * 4096, b, sizeof(b), 1 << 30), 8192);
	/* A partial write over an unreadable page fails, nothing copied. */
	assert_int_equal(wr(f, 4 * 4096 + 1, b, 10, 1 << 30), -EIO);
	f->fail_sticky = false;
	f->fail_read_index = -1;
	assert_int_equal(rd(f, &ra, 4 * 4096, b, 4096, 1 << 30), 4096);
	assert_int_equal(b[0], fake_byte(4));
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

/*
 * An fs that completes I/O later, from another thread (as blockdev
 * completions would): read_pages/write_pages only record the run.
 */
static struct pcache_page *async_run[PCACHE_MAX_RUN];
static unsigned int async_n;

static int async_read(struct pcache_mapping *m, struct pcache_page **pages,
		      unsigned int n)
{
	memcpy(async_run, pages, n * sizeof(*pages));
	__atomic_store_n(&async_n, n, __ATOMIC_RELEASE);
	return 0;
}

static int async_write(struct pcache_mapping *m, struct pcache_page **pages,
		       unsigned int n, bool sync)
{
	return async_read(m, pages, n);
}

static const struct pcache_mapping_ops async_ops = {
	.read_pages = async_read,
	.write_pages = async_write,
};

struct async_arg {
	struct pcache_mapping *m;
	ssize_t ret;
	unsigned char b[4096];
};

static void *async_reader(void *arg)
{
	struct async_arg *a = arg;
	struct pcache_ra_state ra;
	struct buf bb = {a->b, SIZE_MAX};

	pcache_ra_init(&ra);
	a->ret = pcache_read(a->m, &ra, 8192, 4096, 1 << 20, copy_out, &bb);
	return NULL;
}

static void *async_fsync(void *arg)
{
	struct async_arg *a = arg;
	uint32_t since = 0;

	a->ret = pcache_fsync(a->m, 0, UINT64_MAX, &since);
	return NULL;
}

static unsigned int async_wait_run(void)
{
	unsigned int n;

	while (!(n = __atomic_exchange_n(&async_n, 0, __ATOMIC_ACQ_REL)))
		sched_yield();
	return n;
}

static void test_async_completion(void **state)
{
	struct pcache *pc = new_cache(100, false);
	struct async_arg a = {0};
	unsigned char w[4096];
	struct buf wb = {w, SIZE_MAX};
	pthread_t t;
	unsigned int n;

	assert_int_equal(pcache_mapping_create(pc, &async_ops, NULL, 0, &a.m),
			 0);
	/* A reader sleeps on the page until the completion arrives. */
	pthread_create(&t, NULL, async_reader, &a);
	n = async_wait_run();
	assert_int_equal(n, 1);
	assert_int_equal(async_run[0]->index, 2);
	memset(async_run[0]->data, 0x5a, 4096);
	pcache_read_done(async_run, n, 0);
	pthread_join(t, NULL);
	assert_int_equal(a.ret, 4096);
	assert_int_equal(a.b[100], 0x5a);
	/* fsync waits for a write completed later, and gets its error. */
	memset(w, 1, sizeof(w));
	assert_int_equal(pcache_write(a.m, 0, 4096, 0, copy_in, &wb), 4096);
	pthread_create(&t, NULL, async_fsync, &a);
	n = async_wait_run();
	assert_int_equal(n, 1);
	pcache_write_done(async_run, n, -EIO);
	pthread_join(t, NULL);
	assert_int_equal(a.ret, -EIO);
	assert_int_equal(pcache_mapping_destroy(a.m), 0);
	pcache_destroy(pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_background_threshold_starts_writeback),
		cmocka_unit_test(test_dirty_threshold_throttles),
		cmocka_unit_test(test_expire_writes_old_data),
		cmocka_unit_test(test_interval_wakes_thread),
		cmocka_unit_test(test_writeback_runs),
		cmocka_unit_test(test_fsync_range),
		cmocka_unit_test(test_fsync_reports_error_once),
		cmocka_unit_test(test_odirect_flush_and_invalidate),
		cmocka_unit_test(test_punch_hole),
		cmocka_unit_test(test_truncate_waits_for_writeback),
		cmocka_unit_test(test_sync_all_and_destroy),
		cmocka_unit_test(test_no_backing_store),
		cmocka_unit_test(test_read_error),
		cmocka_unit_test(test_async_completion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
