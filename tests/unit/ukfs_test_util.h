/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/ukfs_test_util.h - helpers shared by the ukfs metadata tests:
 * scratch images, raw SQL on an image, fsck assertions.
 */
#ifndef UKFS_TEST_UTIL_H
#define UKFS_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ukfs_meta.h"

#define T_SIZE (64ull << 20) /* 16384 blocks */
#define T_INODES 1000u

/* A fresh scratch directory (not yet an image); free with ut_rmimage. */
char *ut_tmpdir(void);
/* ut_tmpdir + ukfs_mkfs(size, inodes). */
char *ut_mkimage(uint64_t size, uint64_t inodes);
void ut_rmimage(char *dir);
struct ukfs_meta *ut_open(const char *dir);
/* Runs sql on the closed image's meta.db; asserts success. */
void ut_sql(const char *dir, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* fsck without repair must report clean (prints findings otherwise). */
void ut_assert_fsck_clean(const char *dir);
/* Attributes of a new inode with mode. */
struct ukfs_inode ut_attr(uint32_t mode);
/* Copies file src to dst (missing src: dst removed). */
void ut_copy(const char *src, const char *dst);
char *ut_path(const char *dir, const char *name);

#endif /* UKFS_TEST_UTIL_H */
