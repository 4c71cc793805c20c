// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_pcache_rw.c - the page cache's read and write paths over
 * a fake store: hits and misses, EOF and holes, read-modify-write of partial
 * pages, LRU eviction (dirty pages never dropped), readahead windows,
 * concurrent readers of one missing page, copy faults, truncate, many
 * threads at once, warm reads racing page removal, and a micro-benchmark.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "test_pcache_common.h"

static struct pcache *new_cache(uint64_t limit_pages, uint64_t ra_kb,
				bool thread)
{
	struct pcache_opts o;
	struct pcache *pc;

	test_opts(&o, limit_pages);
	o.readahead_max = ra_kb << 10;
	o.no_thread = !thread;
	assert_int_equal(pcache_create(&o, &pc), 0);
	return pc;
}

static void check_page(const unsigned char *b, uint64_t idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != fake_byte(idx))
			fail_msg("page %llu byte %zu: %u",
				 (unsigned long long)idx, i, b[i]);
}

static void test_hit_and_miss(void **state)
{
	struct pcache *pc = new_cache(64, 0, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	struct pcache_stats st;
	unsigned char b[4096];

	pcache_ra_init(&ra);
	assert_int_equal(rd(f, &ra, 0, b, 4096, 1 << 20), 4096);
	check_page(b, 0, 4096);
	assert_int_equal(rd(f, &ra, 100, b, 200, 1 << 20), 200);
	check_page(b, 0, 200);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.hits, 1);
	assert_int_equal(f->read_calls, 1);
	assert_int_equal(st.ra_pages, 0);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_read_eof_and_holes(void **state)
{
	struct pcache *pc = new_cache(64, 128, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_mapping *hole;
	struct pcache_ra_state ra;
	unsigned char b[8192];
	struct buf bb = {b, SIZE_MAX};

	pcache_ra_init(&ra);
	assert_int_equal(rd(f, &ra, 0, b, 8192, 5000), 5000);
	assert_int_equal(f->read_pages, 2); /* readahead stops at EOF */
	assert_int_equal(rd(f, &ra, 5000, b, 10, 5000), 0);
	assert_int_equal(rd(f, &ra, 9000, b, 10, 5000), 0);
	/* A mapping without read_pages reads holes as zeros. */
	assert_int_equal(pcache_mapping_create(pc, NULL, NULL, 0, &hole), 0);
	memset(b, 0xee, sizeof(b));
	assert_int_equal(
		pcache_read(hole, &ra, 4096, 8192, 1 << 20, copy_out, &bb),
		8192);
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(pcache_mapping_destroy(hole), 0);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_partial_write_rmw(void **state)
{
	struct pcache *pc = new_cache(64, 0, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	unsigned char b[4096], w[4096];

	pcache_ra_init(&ra);
	memset(w, 0xab, sizeof(w));
	/* Inside the file: read the page first, then modify. */
	assert_int_equal(wr(f, 3 * 4096 + 10, w, 100, 1 << 20), 100);
	assert_int_equal(f->read_calls, 1);
	assert_int_equal(rd(f, &ra, 3 * 4096, b, 4096, 1 << 20), 4096);
	check_page(b, 3, 10);
	for (int i = 10; i < 110; i++)
		assert_int_equal(b[i], 0xab);
	check_page(b + 110, 3, 4096 - 110);
	/* Wholly past EOF: no read, zeros around the data. */
	assert_int_equal(wr(f, 40 * 4096 + 5, w, 10, 20 * 4096), 10);
	assert_int_equal(f->read_calls, 1);
	assert_int_equal(rd(f, &ra, 40 * 4096, b, 4096, 41 * 4096), 4096);
	assert_int_equal(b[0], 0);
	assert_int_equal(b[5], 0xab);
	assert_int_equal(b[15], 0);
	/* A full overwrite reads nothing. */
	assert_int_equal(wr(f, 7 * 4096, w, 4096, 1 << 20), 4096);
	assert_int_equal(f->read_calls, 1);
	/* Written back, the store holds the bytes. */
	assert_int_equal(pcache_writeback_range(f->m, 0, UINT64_MAX, true), 0);
	assert_int_equal(f->data[3 * 4096 + 10], 0xab);
	assert_int_equal(f->data[3 * 4096 + 9], fake_byte(3));
	assert_int_equal(f->data[7 * 4096 + 4095], 0xab);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_eviction_lru_order(void **state)
{
	struct pcache *pc = new_cache(16, 0, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	struct pcache_stats st;
	unsigned char b[4096];

	pcache_ra_init(&ra);
	for (uint64_t i = 0; i < 16; i++)
		assert_int_equal(rd(f, &ra, i * 4096, b, 4096, 1 << 30), 4096);
	for (uint64_t i = 0; i < 8; i++) /* second touch: referenced */
		assert_int_equal(rd(f, &ra, i * 4096, b, 4096, 1 << 30), 4096);
	for (uint64_t i = 16; i < 20; i++)
		assert_int_equal(rd(f, &ra, i * 4096, b, 4096, 1 << 30), 4096);
	pcache_get_stats(pc, &st);
	assert_true(st.nr_pages <= 16);
	assert_int_equal(st.evictions, 4);
	assert_int_equal(f->releases, 4);
	/* 0..7 survived (referenced), 8..11 went (oldest unreferenced). */
	unsigned int calls = f->read_calls;
	for (uint64_t i = 0; i < 8; i++)
		assert_int_equal(rd(f, &ra, i * 4096, b, 4096, 1 << 30), 4096);
	assert_int_equal(f->read_calls, calls);
	assert_int_equal(rd(f, &ra, 8 * 4096, b, 4096, 1 << 30), 4096);
	check_page(b, 8, 4096);
	assert_int_equal(f->read_calls, calls + 1);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_dirty_pages_not_evicted(void **state)
{
	struct pcache_opts o;
	struct pcache *pc;
	struct fake *f;
	struct pcache_ra_state ra;
	unsigned char b[4096], w[4096];

	test_opts(&o, 16);
	o.readahead_max = 0;
	o.no_thread = true;
	o.dirty_ratio = o.dirty_background_ratio = 100;
	assert_int_equal(pcache_create(&o, &pc), 0);
	f = fake_new(pc, 0);
	pcache_ra_init(&ra);
	for (uint64_t i = 0; i < 16; i++) {
		memset(w, (int)(0x40 + i), sizeof(w));
		assert_int_equal(wr(f, i * 4096, w, 4096, 1 << 30), 4096);
	}
	assert_int_equal(f->write_calls, 0);
	/* Over the limit: the dirty pages are written before any goes. */
	assert_int_equal(rd(f, &ra, 100 * 4096, b, 4096, 1 << 30), 4096);
	assert_true(f->write_calls >= 1);
	for (uint64_t i = 0; i < 16; i++) {
		assert_int_equal(rd(f, &ra, i * 4096, b, 4096, 1 << 30), 4096);
		assert_int_equal(b[0], 0x40 + i);
		assert_int_equal(b[4095], 0x40 + i);
	}
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_readahead_grows_on_sequential(void **state)
{
	struct pcache *pc = new_cache(1024, 128, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	struct pcache_stats st;
	unsigned char b[4096];
	static const struct fake_run want[] = {
		{0, 4}, {4, 8}, {12, 16}, {28, 32}, {60, 32}, {92, 32},
	};

	pcache_ra_init(&ra);
	for (uint64_t i = 0; i < 64; i++) {
		assert_int_equal(rd(f, &ra, i * 4096, b, 4096, 1 << 30), 4096);
		check_page(b, i, 4096);
	}
	assert_int_equal(f->read_calls, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(f->rruns[i].start, want[i].start);
		assert_int_equal(f->rruns[i].n, want[i].n);
	}
	pcache_get_stats(pc, &st);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.ra_pages, 3 + 8 + 16 + 32 + 32 + 32);
	assert_int_equal(st.ra_hits, 63);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_readahead_none_on_random(void **state)
{
	struct pcache *pc = new_cache(4096, 128, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	struct pcache_stats st;
	unsigned char b[4096];
	uint64_t x = 12345, idx;

	pcache_ra_init(&ra);
	/* Start mid-file so the first read is not "start of file". */
	for (int i = 0; i < 200; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		idx = 1 + (x >> 33) % (FAKE_PAGES - 2);
		assert_int_equal(
			rd(f, &ra, idx * 4096 + 17, b, 100, 1ull << 40), 100);
	}
	pcache_get_stats(pc, &st);
	assert_int_equal(st.ra_pages, 0);
	assert_int_equal(f->read_pages, st.misses);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

struct reader_arg {
	struct fake *f;
	uint64_t idx;
	ssize_t ret;
	unsigned char b[4096];
};

static void *reader(void *arg)
{
	struct reader_arg *a = arg;
	struct pcache_ra_state ra;

	pcache_ra_init(&ra);
	a->ret = rd(a->f, &ra, a->idx * 4096, a->b, 4096, 1 << 30);
	return NULL;
}

static void test_concurrent_readers_one_read(void **state)
{
	struct pcache *pc = new_cache(64, 0, false);
	struct fake *f = fake_new(pc, 0);
	struct reader_arg a[4];
	pthread_t t[4];

	fake_set(f, &f->block_reads, true);
	for (int i = 0; i < 4; i++) {
		a[i].f = f;
		a[i].idx = 5;
		pthread_create(&t[i], NULL, reader, &a[i]);
	}
	fake_wait_in_io(f, 1);
	for (int i = 0; i < 100; i++)
		sched_yield(); /* let the others reach the page lock */
	fake_set(f, &f->block_reads, false);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].ret, 4096);
		check_page(a[i].b, 5, 4096);
	}
	assert_int_equal(f->read_calls, 1);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_copy_fault_short_count(void **state)
{
	struct pcache *pc = new_cache(64, 0, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	unsigned char b[3 * 4096], w[3 * 4096];
	struct buf bb = {b, 5000};
	struct buf wb = {w, 6000};

	pcache_ra_init(&ra);
	assert_int_equal(
		pcache_read(f->m, &ra, 0, sizeof(b), 1 << 20, copy_out, &bb),
		5000);
	bb.fault_at = 0;
	assert_int_equal(
		pcache_read(f->m, &ra, 0, sizeof(b), 1 << 20, copy_out, &bb),
		-EFAULT);
	memset(w, 0x77, sizeof(w));
	assert_int_equal(
		pcache_write(f->m, 4096, sizeof(w), 1 << 20, copy_in, &wb),
		6000);
	wb.fault_at = 0;
	assert_int_equal(
		pcache_write(f->m, 4096, sizeof(w), 1 << 20, copy_in, &wb),
		-EFAULT);
	/* A torn copy over a page never read leaves no garbage behind. */
	wb.fault_at = 100;
	assert_int_equal(
		pcache_write(f->m, 20 * 4096, 4096, 1 << 20, copy_in, &wb),
		-EFAULT);
	assert_int_equal(rd(f, &ra, 20 * 4096, b, 4096, 1 << 20), 4096);
	check_page(b, 20, 4096);
	assert_int_equal(rd(f, &ra, 4096, b, 4096 + 2000, 1 << 20), 6096);
	assert_int_equal(b[0], 0x77);
	assert_int_equal(b[5999], 0x77);
	assert_int_equal(b[6000], fake_byte(2));
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

static void test_truncate(void **state)
{
	struct pcache *pc = new_cache(64, 0, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	unsigned char b[4096], w[4 * 4096];

	pcache_ra_init(&ra);
	memset(w, 0x55, sizeof(w));
	assert_int_equal(wr(f, 0, w, sizeof(w), 0), (ssize_t)sizeof(w));
	pcache_truncate(f->m, 10000);
	assert_int_equal(pcache_mapping_nr_pages(f->m), 3);
	assert_int_equal(rd(f, &ra, 2 * 4096, b, 4096, 3 * 4096), 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(b[i], i < 10000 - 8192 ? 0x55 : 0);
	/* The zeroed tail and the kept pages reach the store. */
	assert_int_equal(pcache_writeback_range(f->m, 0, UINT64_MAX, true), 0);
	assert_int_equal(f->data[9999], 0x55);
	assert_int_equal(f->data[10000], 0);
	assert_int_equal(f->data[3 * 4096], fake_byte(3)); /* dropped dirty */
	pcache_truncate(f->m, 0);
	assert_int_equal(pcache_mapping_nr_pages(f->m), 0);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

/* ---- many threads ------------------------------------------------------- */

struct stress_arg {
	struct pcache *pc;
	struct fake *f;
	int id;
};

/* cmocka's asserts must stay on the main thread: threads report here. */
static int stress_failed;
#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long _a = (long long)(a), _b = (long long)(b);            \
		if (_a != _b) {                                                \
			fprintf(stderr, "%s:%d: %lld != %lld\n", __FILE__,     \
				__LINE__, _a, _b);                             \
			__atomic_store_n(&stress_failed, 1, __ATOMIC_RELAXED); \
		}                                                              \
	} while (0)

#define STRESS_SHARED 16 /* pages 0..15 everyone reads and writes */
#define STRESS_OWN 16	 /* pages per thread, after the shared ones */

static void *stress(void *arg)
{
	struct stress_arg *a = arg;
	struct pcache_ra_state ra;
	unsigned char b[8192], w[8192];
	uint64_t x = (uint64_t)a->id * 7919 + 1;
	uint64_t own = STRESS_SHARED + (uint64_t)a->id * STRESS_OWN;
	unsigned char gen[STRESS_OWN] = {0};

	pcache_ra_init(&ra);
	for (int i = 0; i < 3000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		unsigned int r = (unsigned int)(x >> 33);
		uint64_t pg = r % STRESS_OWN;

		switch ((r >> 8) % 4) {
		case 0: /* own page: write a new generation */
			memset(w, ++gen[pg], 4096);
			CHECK_EQ(wr(a->f, (own + pg) * 4096, w, 4096, 1 << 30),
				 4096);
			break;
		case 1: /* own page: read back what we wrote last */
			CHECK_EQ(rd(a->f, &ra, (own + pg) * 4096, b, 4096,
				    1 << 30),
				 4096);
			if (gen[pg])
				CHECK_EQ(b[r % 4096], gen[pg]);
			else
				CHECK_EQ(b[r % 4096], fake_byte(own + pg));
			break;
		case 2: /* shared: unaligned write across two pages */
			memset(w, a->id + 1, sizeof(w));
			CHECK_EQ(wr(a->f,
				    ((r >> 12) % (STRESS_SHARED - 1)) * 4096 +
					    100,
				    w, 5000, 1 << 30),
				 5000);
			break;
		default: /* shared: read */
			CHECK_EQ(rd(a->f, &ra,
				    ((r >> 12) % STRESS_SHARED) * 4096 + 7, b,
				    6000, 1 << 30),
				 6000);
			break;
		}
		if (i % 1000 == 999 && a->id == 0)
			CHECK_EQ(pcache_sync_all(a->pc), 0);
	}
	return NULL;
}

static void test_many_threads(void **state)
{
	struct pcache_opts o;
	struct pcache *pc;
	struct fake *f;
	struct stress_arg a[4];
	pthread_t t[4];
	struct pcache_stats st;

	test_opts(&o, 48); /* smaller than the 80 pages touched: evictions */
	o.readahead_max = 16 << 10;
	assert_int_equal(pcache_create(&o, &pc), 0);
	f = fake_new(pc, 0);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct stress_arg){pc, f, i};
		pthread_create(&t[i], NULL, stress, &a[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(stress_failed, 0);
	assert_int_equal(pcache_sync_all(pc), 0);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.nr_dirty, 0);
	assert_int_equal(st.nr_writeback, 0);
	printf("stress: %llu evictions %llu wb pages %llu throttled %llu "
	       "pages\n",
	       (unsigned long long)st.evictions,
	       (unsigned long long)st.writeback_pages,
	       (unsigned long long)st.throttled,
	       (unsigned long long)st.nr_pages);
	assert_true(st.evictions > 0);
	assert_int_equal(fake_free(f), 0);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.nr_pages, 0);
	pcache_destroy(pc);
}

/*
 * Warm reads copy from frames looked up without a reference (read_hits):
 * a page truncated away meanwhile may have its frame reused by another
 * file at once. Here one thread keeps truncating f1 while another fills
 * and drops f2's pages with zeros (a byte no page of f1 holds), so freed
 * frames of f1 come back as zeros quickly; every page a reader of f1 gets
 * must still be f1's.
 */
#define RACE_PAGES 64
static atomic_bool race_stop;
static atomic_int race_bad;

static void *race_reader(void *arg)
{
	struct fake *f = arg;
	struct pcache_ra_state ra;
	unsigned char *b = malloc(RACE_PAGES * 4096);

	pcache_ra_init(&ra);
	while (!atomic_load(&race_stop)) {
		ssize_t r = rd(f, &ra, 0, b, RACE_PAGES * 4096,
			       RACE_PAGES * 4096);

		if (r != RACE_PAGES * 4096) {
			atomic_fetch_add(&race_bad, 1);
			continue;
		}
		for (uint64_t i = 0; i < RACE_PAGES; i++)
			for (size_t j = 0; j < 4096; j += 512)
				if (b[i * 4096 + j] != fake_byte(i))
					atomic_fetch_add(&race_bad, 1);
	}
	free(b);
	return NULL;
}

static void *race_truncater(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&race_stop)) {
		pcache_truncate(f->m, 0);
		sched_yield();
	}
	return NULL;
}

static void *race_reuser(void *arg)
{
	struct fake *f = arg;
	unsigned char *z = calloc(RACE_PAGES, 4096);

	while (!atomic_load(&race_stop)) {
		wr(f, 0, z, RACE_PAGES * 4096, RACE_PAGES * 4096);
		pcache_truncate(f->m, 0);
	}
	free(z);
	return NULL;
}

static void test_warm_read_races_removal(void **state)
{
	struct pcache *pc = new_cache(1024, 0, false);
	struct fake *f1 = fake_new(pc, 0), *f2 = fake_new(pc, 0);
	pthread_t t[4];
	struct timespec d = {0, 300 * 1000 * 1000};

	atomic_store(&race_stop, false);
	atomic_store(&race_bad, 0);
	pthread_create(&t[0], NULL, race_reader, f1);
	pthread_create(&t[1], NULL, race_reader, f1);
	pthread_create(&t[2], NULL, race_truncater, f1);
	pthread_create(&t[3], NULL, race_reuser, f2);
	nanosleep(&d, NULL);
	atomic_store(&race_stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&race_bad), 0);
	assert_int_equal(fake_free(f1), 0);
	assert_int_equal(fake_free(f2), 0);
	pcache_destroy(pc);
}

/* ---- micro-benchmark ---------------------------------------------------- */

static double ns_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e9 +
	       (double)(t1.tv_nsec - t0->tv_nsec);
}

struct hit_arg {
	struct fake *f;
	uint64_t idx;
	int n;
	double ns;
};

static void *hit_loop(void *arg)
{
	struct hit_arg *a = arg;
	struct pcache_ra_state ra;
	unsigned char b[4096] __attribute__((aligned(64)));
	struct timespec t0;

	pcache_ra_init(&ra);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < a->n; i++)
		rd(a->f, &ra, a->idx * 4096, b, 4096, 1 << 30);
	a->ns = ns_since(&t0) / a->n;
	return NULL;
}

/* Two threads hitting one mapping: the rwlock's read side is shared. */
static void bench_two_threads(struct fake *f, uint64_t idx1, double *ns)
{
	struct hit_arg a[2] = {{f, 0, 100000, 0}, {f, idx1, 100000, 0}};
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, hit_loop, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	*ns = (a[0].ns + a[1].ns) / 2;
}

static void test_bench(void **state)
{
	struct pcache *pc = new_cache(256, 0, false);
	struct fake *f = fake_new(pc, 0);
	struct pcache_ra_state ra;
	static unsigned char b[4096] __attribute__((aligned(64)));
	struct timespec t0;
	const int N = 200000, M = 4000;
	double hit, wr_ns, miss;

	static unsigned char src[4096] __attribute__((aligned(4096)));
	double base;

	/* The floor: a bare 4 KiB memcpy, measured in the same run. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N; i++) {
		memcpy(b, src, sizeof(b));
		__asm__ volatile("" : : "r"(b) : "memory");
	}
	base = ns_since(&t0) / N;

	pcache_ra_init(&ra);
	assert_int_equal(rd(f, &ra, 0, b, 4096, 1 << 30), 4096);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N; i++)
		rd(f, &ra, 0, b, 4096, 1 << 30);
	hit = ns_since(&t0) / N;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N; i++)
		wr(f, 4096, b, 4096, 1 << 30);
	wr_ns = ns_since(&t0) / N;

	/* Misses: each read allocates and fills a page, evicting another. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < M; i++)
		rd(f, &ra, (uint64_t)(2 + (i * 37) % (FAKE_PAGES - 2)) * 4096,
		   b, 4096, 1 << 30);
	miss = ns_since(&t0) / M;
	double same, other;

	assert_int_equal(rd(f, &ra, 0, b, 4096, 1 << 30), 4096);
	assert_int_equal(rd(f, &ra, 4096, b, 4096, 1 << 30), 4096);
	bench_two_threads(f, 0, &same);
	bench_two_threads(f, 1, &other);
	printf("pcache bench: 2 threads hitting one page %.0f ns, two pages of "
	       "one file %.0f ns (per 4 KiB read, each thread)\n",
	       same, other);
	printf("pcache bench: bare 4 KiB memcpy %.0f ns\n", base);
	printf("pcache bench: 4 KiB hit %.0f ns, 4 KiB write into cache %.0f "
	       "ns, 4 KiB miss (fake store, with eviction) %.0f ns\n",
	       hit, wr_ns, miss);
	assert_int_equal(fake_free(f), 0);
	pcache_destroy(pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_miss),
		cmocka_unit_test(test_read_eof_and_holes),
		cmocka_unit_test(test_partial_write_rmw),
		cmocka_unit_test(test_eviction_lru_order),
		cmocka_unit_test(test_dirty_pages_not_evicted),
		cmocka_unit_test(test_readahead_grows_on_sequential),
		cmocka_unit_test(test_readahead_none_on_random),
		cmocka_unit_test(test_concurrent_readers_one_read),
		cmocka_unit_test(test_copy_fault_short_count),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_many_threads),
		cmocka_unit_test(test_warm_read_races_removal),
		cmocka_unit_test(test_bench),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
