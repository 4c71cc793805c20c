/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_blockdev_common.h - fixtures shared by the blockdev tests:
 * a scratch directory under the build tree (a file system with O_DIRECT),
 * an image per test, the backend configurations every test runs over, and
 * seeded patterns to write and verify.
 */
#ifndef UK_TEST_BLOCKDEV_COMMON_H
#define UK_TEST_BLOCKDEV_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "blockdev.h"

#define BT_BLOCKS 1024u		/* 4 MiB images */

struct bt_cfg {
	const char *name;
	enum bdev_backend backend;
	bool direct;
};

static const struct bt_cfg bt_cfgs[] = {
	{ "io_uring", BDEV_BACKEND_IO_URING, false },
	{ "io_uring+direct", BDEV_BACKEND_IO_URING, true },
	{ "psync", BDEV_BACKEND_PSYNC, false },
	{ "psync+direct", BDEV_BACKEND_PSYNC, true },
};

/* One entry per backend configuration for test function fn. */
#define BT_TEST(fn) \
	{ #fn "/io_uring", fn, bt_setup, bt_teardown, (void *)&bt_cfgs[0] }, \
	{ #fn "/io_uring+direct", fn, bt_setup, bt_teardown, \
	  (void *)&bt_cfgs[1] }, \
	{ #fn "/psync", fn, bt_setup, bt_teardown, (void *)&bt_cfgs[2] }, \
	{ #fn "/psync+direct", fn, bt_setup, bt_teardown, (void *)&bt_cfgs[3] }

struct bt {
	const struct bt_cfg *cfg;
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];
	struct uk_blockdev *bdev;
	uint64_t rng;
};

static inline uint64_t bt_rand(struct bt *t)
{
	uint64_t x = t->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Fill nr blocks with a pattern unique to (seed, block). */
static inline void bt_fill(void *buf, uint64_t block, uint32_t nr,
			   uint64_t seed)
{
	uint64_t *p = buf;
	size_t i, per = BDEV_BLOCK_SIZE / sizeof(uint64_t);

	for (i = 0; i < (size_t)nr * per; i++)
		p[i] = (seed * 0x9E3779B97F4A7C15ull) ^
		       ((block + i / per) << 20) ^ (i % per);
}

static inline void *bt_alloc(size_t bytes)
{
	void *p = aligned_alloc(BDEV_BLOCK_SIZE, bytes);

	assert_non_null(p);
	memset(p, 0xa5, bytes);
	return p;
}

static inline struct bdev_options bt_options(const struct bt_cfg *cfg)
{
	struct bdev_options o = {
		.backend = cfg->backend,
		.direct = cfg->direct,
	};
	return o;
}

static inline int bt_rm(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

static inline void bt_mkdtemp(char *dir, size_t len)
{
	const char *root = getenv("UK_BUILD_ROOT");

	snprintf(dir, len, "%s/test-blockdev-XXXXXX", root ? root : "/tmp");
	assert_non_null(mkdtemp(dir));
}

/* Open t->path with t->cfg (and extra tweaks); skip if not supported. */
static inline int bt_open(struct bt *t, const struct bdev_options *o,
			  struct uk_blockdev **out)
{
	int ret = bdev_open(t->path, o, out);

	if (ret == -EINVAL && o->direct) {
		print_message("skipped: O_DIRECT not supported in %s\n", t->dir);
		return ret;
	}
	if (ret && o->backend == BDEV_BACKEND_IO_URING) {
		print_message("skipped: io_uring unavailable: %s\n",
			      strerror(-ret));
		return ret;
	}
	assert_int_equal(ret, 0);
	return 0;
}

static inline int bt_setup(void **state)
{
	const struct bt_cfg *cfg = *state;
	struct bdev_options o = bt_options(cfg);
	struct bt *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->cfg = cfg;
	t->rng = 0x1234567887654321ull;
	bt_mkdtemp(t->dir, sizeof(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/disk.img", t->dir);
	assert_int_equal(bdev_image_create(t->path,
		(uint64_t)BT_BLOCKS * BDEV_BLOCK_SIZE), 0);
	*state = t;
	if (bt_open(t, &o, &t->bdev))
		t->bdev = NULL;
	return 0;
}

static inline int bt_teardown(void **state)
{
	struct bt *t = *state;

	if (t->bdev)
		assert_int_equal(bdev_close(t->bdev), 0);
	nftw(t->dir, bt_rm, 8, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* In a test: skip when the fixture could not open this configuration. */
#define BT_REQUIRE_DEV(t) \
	do { \
		if (!(t)->bdev) \
			skip(); \
	} while (0)

#endif /* UK_TEST_BLOCKDEV_COMMON_H */
