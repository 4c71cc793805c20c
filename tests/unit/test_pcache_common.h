/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_pcache_common.h - a fake backing store for page cache
 * tests: file data in memory, counting read_pages/write_pages calls and the
 * runs they were given, failing chosen pages with a chosen errno, and
 * blocking I/O until the test releases it. Plus copy functions (one that
 * faults at a chosen offset) and a clock the test moves by hand.
 */
#ifndef TEST_PCACHE_COMMON_H
#define TEST_PCACHE_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pcache.h"

#define FAKE_PAGES (2 * PCACHE_MAX_RUN) /* 64 MiB: fits a maximal run */
#define FAKE_MAX_RUNS 4096

struct fake_run {
	uint64_t start;
	unsigned int n;
};

struct fake {
	struct pcache_mapping *m;
	unsigned char *data; /* FAKE_PAGES pages */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	/* Counters, under lock. */
	unsigned int read_calls, read_pages, write_calls, write_pages;
	unsigned int releases;
	struct fake_run rruns[FAKE_MAX_RUNS], wruns[FAKE_MAX_RUNS];
	/* Faults: page index -> errno for the next I/O touching it. */
	int64_t fail_read_index, fail_write_index;
	int fail_err;
	bool fail_sticky;
	/* Blocking: I/O waits while block_* is set; in_io counts waiters. */
	bool block_reads, block_writes;
	unsigned int in_io;
};

static inline void fake_wait_unblocked(struct fake *f, bool *gate)
{
	f->in_io++;
	pthread_cond_broadcast(&f->cv);
	while (*gate)
		pthread_cond_wait(&f->cv, &f->lock);
	f->in_io--;
}

static inline int fake_read_pages(struct pcache_mapping *m,
				  struct pcache_page **pages, unsigned int n)
{
	struct fake *f = pcache_mapping_priv(m);
	int err = 0;

	pthread_mutex_lock(&f->lock);
	fake_wait_unblocked(f, &f->block_reads);
	if (f->read_calls < FAKE_MAX_RUNS)
		f->rruns[f->read_calls] = (struct fake_run){pages[0]->index, n};
	f->read_calls++;
	f->read_pages += n;
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(pages[i]->index, pages[0]->index + i);
		assert_true(pages[i]->index < FAKE_PAGES);
		if ((int64_t)pages[i]->index == f->fail_read_index) {
			err = -f->fail_err;
			if (!f->fail_sticky)
				f->fail_read_index = -1;
		}
		memcpy(pages[i]->data,
		       f->data + pages[i]->index * PCACHE_PAGE_SIZE,
		       PCACHE_PAGE_SIZE);
	}
	pthread_mutex_unlock(&f->lock);
	pcache_read_done(pages, n, err);
	return 0;
}

static inline int fake_write_pages(struct pcache_mapping *m,
				   struct pcache_page **pages, unsigned int n,
				   bool sync)
{
	struct fake *f = pcache_mapping_priv(m);
	int err = 0;

	pthread_mutex_lock(&f->lock);
	fake_wait_unblocked(f, &f->block_writes);
	if (f->write_calls < FAKE_MAX_RUNS)
		f->wruns[f->write_calls] =
			(struct fake_run){pages[0]->index, n};
	f->write_calls++;
	f->write_pages += n;
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(pages[i]->index, pages[0]->index + i);
		assert_true(((uintptr_t)pages[i]->data & 4095) == 0);
		if ((int64_t)pages[i]->index == f->fail_write_index) {
			err = -f->fail_err;
			if (!f->fail_sticky)
				f->fail_write_index = -1;
		}
	}
	if (!err)
		for (unsigned int i = 0; i < n; i++)
			memcpy(f->data + pages[i]->index * PCACHE_PAGE_SIZE,
			       pages[i]->data, PCACHE_PAGE_SIZE);
	pthread_mutex_unlock(&f->lock);
	pcache_write_done(pages, n, err);
	return 0;
}

static inline void fake_release_page(struct pcache_mapping *m,
				     struct pcache_page *p)
{
	struct fake *f = pcache_mapping_priv(m);

	__atomic_add_fetch(&f->releases, 1, __ATOMIC_RELAXED);
}

static const struct pcache_mapping_ops fake_ops = {
	.read_pages = fake_read_pages,
	.write_pages = fake_write_pages,
	.release_page = fake_release_page,
};

/* A fake file whose page i is filled with byte (i * 7 + 1). */
static inline struct fake *fake_new(struct pcache *pc, unsigned int flags)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->data = malloc((size_t)FAKE_PAGES * PCACHE_PAGE_SIZE);
	assert_non_null(f->data);
	for (size_t i = 0; i < FAKE_PAGES; i++)
		memset(f->data + i * PCACHE_PAGE_SIZE, (int)(i * 7 + 1),
		       PCACHE_PAGE_SIZE);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->fail_read_index = f->fail_write_index = -1;
	assert_int_equal(pcache_mapping_create(pc, &fake_ops, f, flags, &f->m),
			 0);
	return f;
}

static inline int fake_free(struct fake *f)
{
	int ret = pcache_mapping_destroy(f->m);

	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->lock);
	free(f->data);
	free(f);
	return ret;
}

static inline void fake_set(struct fake *f, bool *gate, bool on)
{
	pthread_mutex_lock(&f->lock);
	*gate = on;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->lock);
}

/* Wait until n I/O calls are blocked in the fake. */
static inline void fake_wait_in_io(struct fake *f, unsigned int n)
{
	pthread_mutex_lock(&f->lock);
	while (f->in_io < n)
		pthread_cond_wait(&f->cv, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

static inline unsigned char fake_byte(uint64_t idx)
{
	return (unsigned char)(idx * 7 + 1);
}

/* ---- copy functions --------------------------------------------------- */

struct buf {
	unsigned char *p;
	size_t fault_at; /* bytes before a "bad user pointer"; SIZE_MAX: none */
};

static inline size_t buf_room(struct buf *b, size_t off, size_t n)
{
	if (off >= b->fault_at)
		return 0;
	return b->fault_at - off < n ? b->fault_at - off : n;
}

static inline size_t copy_out(void *ctx, size_t off, void *kbuf, size_t n)
{
	struct buf *b = ctx;
	size_t c = buf_room(b, off, n);

	memcpy(b->p + off, kbuf, c);
	return c;
}

static inline size_t copy_in(void *ctx, size_t off, void *kbuf, size_t n)
{
	struct buf *b = ctx;
	size_t c = buf_room(b, off, n);

	memcpy(kbuf, b->p + off, c);
	return c;
}

static inline ssize_t rd(struct fake *f, struct pcache_ra_state *ra,
			 uint64_t pos, void *dst, size_t len, uint64_t i_size)
{
	struct buf b = {dst, SIZE_MAX};

	return pcache_read(f->m, ra, pos, len, i_size, copy_out, &b);
}

static inline ssize_t wr(struct fake *f, uint64_t pos, const void *src,
			 size_t len, uint64_t i_size)
{
	struct buf b = {(unsigned char *)src, SIZE_MAX};

	return pcache_write(f->m, pos, len, i_size, copy_in, &b);
}

/* ---- a clock the test moves ------------------------------------------- */

static uint64_t test_now;

static inline uint64_t test_clock(void *arg)
{
	return __atomic_load_n(&test_now, __ATOMIC_RELAXED);
}

static inline void test_opts(struct pcache_opts *o, uint64_t limit_pages)
{
	pcache_opts_default(o);
	o->size_limit = limit_pages * PCACHE_PAGE_SIZE;
	o->clock = test_clock;
	o->writeback_interval_ns = 0; /* only explicit kicks */
	test_now = 1000000000ull;
}

#endif /* TEST_PCACHE_COMMON_H */
