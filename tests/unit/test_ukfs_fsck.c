/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_ukfs_fsck.c - ukfs fsck: a clean image is clean; each
 * kind of damage, made with raw SQL on a known image, is reported, then
 * repaired so that a second check is clean and the image opens.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ukfs_test_util.h"

/*
 * The known image: ino 1 root, 2 /a (10 blocks at 1..10), 3 /b (10 blocks
 * at 11..20), 4 /d, 5 /d/x (empty), 6 /d/sub, 7 an orphan when asked.
 */
static char *known_image(bool orphan)
{
	char *dir = ut_mkimage(T_SIZE, 100);
	struct ukfs_meta *m = ut_open(dir);
	struct ukfs_inode a = ut_attr(S_IFREG | 0644), out, v;
	struct ukfs_extent e;
	const char *files[] = {"a", "b"};

	for (int i = 0; i < 2; i++) {
		assert_int_equal(
			ukfs_create(m, UKFS_ROOT_INO, files[i], &a, NULL, &out),
			0);
		assert_int_equal(ukfs_alloc_extent(m, out.ino, 0, 10, 0, &e),
				 0);
		assert_int_equal(e.pblk, 1 + 10 * (uint64_t)i);
		assert_int_equal(ukfs_truncate(m, out.ino, 10 * 4096), 0);
	}
	a.mode = S_IFDIR | 0755;
	assert_int_equal(ukfs_create(m, UKFS_ROOT_INO, "d", &a, NULL, &out), 0);
	assert_int_equal(out.ino, 4);
	a.mode = S_IFREG | 0644;
	assert_int_equal(ukfs_create(m, 4, "x", &a, NULL, &out), 0);
	a.mode = S_IFDIR | 0755;
	assert_int_equal(ukfs_create(m, 4, "sub", &a, NULL, &out), 0);
	assert_int_equal(out.ino, 6);
	if (orphan) {
		a.mode = S_IFREG | 0644;
		assert_int_equal(ukfs_create(m, 4, "o", &a, NULL, &out), 0);
		assert_int_equal(ukfs_alloc_extent(m, out.ino, 0, 3, 0, &e), 0);
		assert_int_equal(ukfs_truncate(m, out.ino, 3 * 4096), 0);
		assert_int_equal(ukfs_unlink(m, 4, "o", &v), 0);
	}
	assert_int_equal(ukfs_meta_close(m, true), 0);
	return dir;
}

struct log {
	char text[8192];
	size_t len;
};

static void collect(void *arg, const char *msg)
{
	struct log *l = arg;
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n",
			 msg);

	if (n > 0 && (size_t)n < sizeof(l->text) - l->len)
		l->len += (size_t)n;
}

/* Damage the known image with sql; fsck must report want, repair it, and
 * leave a clean image that opens. */
static void damage_and_repair(bool orphan, const char *sql, const char *want)
{
	char *dir = known_image(orphan);
	struct log l = {0};
	struct ukfs_meta *m;

	if (!orphan)
		ut_assert_fsck_clean(dir);
	if (sql)
		ut_sql(dir, "%s", sql);
	assert_int_equal(ukfs_fsck(dir, false, collect, &l), UKFS_FSCK_FIXED);
	if (!strstr(l.text, want))
		print_error("fsck said:\n%swithout '%s'\n", l.text, want);
	assert_non_null(strstr(l.text, want));
	/* A check without repair changed nothing. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(ukfs_fsck(dir, false, collect, &l), UKFS_FSCK_FIXED);
	assert_non_null(strstr(l.text, want));
	memset(&l, 0, sizeof(l));
	assert_int_equal(ukfs_fsck(dir, true, collect, &l), UKFS_FSCK_FIXED);
	if (strstr(l.text, "left after repair"))
		print_error("repair said:\n%s", l.text);
	ut_assert_fsck_clean(dir);
	m = ut_open(dir);
	assert_int_equal(ukfs_meta_close(m, true), 0);
	ut_assert_fsck_clean(dir);
	ut_rmimage(dir);
}

static void test_clean_image_is_clean(void **state)
{
	char *dir = known_image(false);
	struct log l = {0};

	(void)state;
	assert_int_equal(ukfs_fsck(dir, false, collect, &l), UKFS_FSCK_CLEAN);
	assert_int_equal(l.len, 0);
	assert_int_equal(ukfs_fsck(dir, true, collect, &l), UKFS_FSCK_CLEAN);
	ut_rmimage(dir);
}

static void test_cannot_check(void **state)
{
	char *dir = ut_tmpdir();
	struct log l = {0};

	(void)state;
	assert_int_equal(ukfs_fsck(dir, false, collect, &l), UKFS_FSCK_CANNOT);
	assert_non_null(strstr(l.text, "meta.db"));
	ut_rmimage(dir);
	dir = known_image(false);
	ut_sql(dir, "UPDATE superblock SET version = 99");
	memset(&l, 0, sizeof(l));
	assert_int_equal(ukfs_fsck(dir, true, collect, &l), UKFS_FSCK_CANNOT);
	assert_non_null(strstr(l.text, "format version 99"));
	ut_rmimage(dir);
}

static void test_extent_outside_device(void **state)
{
	(void)state;
	damage_and_repair(false,
			  "UPDATE extents SET pblk = 16380 WHERE ino = 3",
			  "outside the device");
}

static void test_block_owned_twice(void **state)
{
	(void)state;
	damage_and_repair(false, "UPDATE extents SET pblk = 5 WHERE ino = 3",
			  "owned twice: inode 2 (block 0) and inode 3");
}

static void test_block_used_and_free(void **state)
{
	(void)state;
	damage_and_repair(false,
			  "UPDATE freespace SET start = 18, len = len + 3",
			  "in use or free twice");
}

static void test_leaked_blocks(void **state)
{
	(void)state;
	damage_and_repair(false, "UPDATE freespace SET len = len - 5",
			  "neither used nor free (leaked)");
}

static void test_free_space_counter(void **state)
{
	(void)state;
	damage_and_repair(false,
			  "UPDATE superblock SET free_blocks = 5, "
			  "free_inodes = 3, next_ino = 2",
			  "superblock: 5 free blocks");
}

static void test_wrong_nlink(void **state)
{
	(void)state;
	damage_and_repair(false,
			  "UPDATE inodes SET nlink = 5 WHERE ino = 2;"
			  "UPDATE inodes SET nlink = 2 WHERE ino = 4",
			  "inode 2: nlink 5, should be 1");
}

static void test_dangling_entry(void **state)
{
	(void)state;
	damage_and_repair(false,
			  "INSERT INTO dentries VALUES (1, CAST('ghost' AS "
			  "BLOB), 9999, 8, 99999)",
			  "names inode 9999, which does not exist");
}

static void test_unreachable_to_lost_found(void **state)
{
	char *dir;
	struct ukfs_meta *m;
	uint64_t lf, ino;

	(void)state;
	damage_and_repair(false,
			  "DELETE FROM dentries WHERE name = CAST('b' AS BLOB)",
			  "inode 3 is unreachable and not an orphan");
	/* Again, to look at the result. */
	dir = known_image(false);
	ut_sql(dir, "DELETE FROM dentries WHERE name = CAST('d' AS BLOB)");
	assert_int_equal(ukfs_fsck(dir, true, NULL, NULL), UKFS_FSCK_FIXED);
	m = ut_open(dir);
	assert_int_equal(ukfs_lookup(m, UKFS_ROOT_INO, "lost+found", &lf, NULL),
			 0);
	assert_int_equal(ukfs_lookup(m, lf, "#4", &ino, NULL), 0);
	assert_int_equal(ino, 4);
	assert_int_equal(ukfs_lookup(m, ino, "sub", NULL, NULL), 0);
	assert_int_equal(ukfs_meta_close(m, true), 0);
	ut_assert_fsck_clean(dir);
	ut_rmimage(dir);
}

static void test_extent_past_eof(void **state)
{
	(void)state;
	damage_and_repair(false, "UPDATE inodes SET size = 4096 WHERE ino = 2",
			  "lies past its size 4096 and is not preallocated");
}

/* An orphan (nlink 0, on the list) is what a crash leaves while a file is
 * open: fsck says so, is clean, and reclaims it with repair. */
static void test_orphan_is_clean_and_reclaimed(void **state)
{
	char *dir = known_image(true);
	struct log l = {0};
	struct ukfs_meta *m;
	struct ukfs_inode i;
	struct ukfs_statfs st;

	(void)state;
	assert_int_equal(ukfs_fsck(dir, false, collect, &l), UKFS_FSCK_CLEAN);
	assert_non_null(strstr(l.text, "orphan inode 7: the next open"));
	memset(&l, 0, sizeof(l));
	assert_int_equal(ukfs_fsck(dir, true, collect, &l), UKFS_FSCK_CLEAN);
	assert_non_null(strstr(l.text, "orphan inode 7: reclaimed"));
	memset(&l, 0, sizeof(l));
	assert_int_equal(ukfs_fsck(dir, false, collect, &l), UKFS_FSCK_CLEAN);
	assert_int_equal(l.len, 0);
	m = ut_open(dir);
	assert_int_equal(ukfs_inode_get(m, 7, &i), -ENOENT);
	assert_int_equal(ukfs_meta_statfs(m, &st), 0);
	assert_int_equal(st.free_blocks, st.blocks - 20);
	assert_int_equal(ukfs_meta_close(m, true), 0);
	ut_rmimage(dir);
	/* On the list with links it claims but has not: damage. */
	damage_and_repair(true, "UPDATE inodes SET nlink = 1 WHERE ino = 7",
			  "orphan inode 7 has nlink 1");
}

static void test_orphan_list_inconsistent(void **state)
{
	(void)state;
	damage_and_repair(false, "INSERT INTO orphans VALUES (5)",
			  "inode 5: on the orphan list but linked");
}

static void test_wrong_dotdot_and_type(void **state)
{
	(void)state;
	damage_and_repair(false,
			  "UPDATE inodes SET parent = 1 WHERE ino = 6;"
			  "UPDATE dentries SET type = 4 WHERE ino = 5",
			  "directory 6: '..' is 1, should be 4");
	damage_and_repair(false, "UPDATE dentries SET type = 4 WHERE ino = 5",
			  "entry 'x' in directory 4 has the wrong type");
}

static void test_blocks_count(void **state)
{
	(void)state;
	damage_and_repair(false, "UPDATE inodes SET blocks = 3 WHERE ino = 3",
			  "inode 3: 3 blocks recorded, extents map 10");
}

static void test_extent_of_missing_inode(void **state)
{
	(void)state;
	damage_and_repair(false,
			  "INSERT INTO extents VALUES (50, 0, 100, 4, 0);"
			  "UPDATE freespace SET start = 104, len = len - 4 "
			  "WHERE start = 100",
			  "extent of missing inode 50");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_image_is_clean),
		cmocka_unit_test(test_cannot_check),
		cmocka_unit_test(test_extent_outside_device),
		cmocka_unit_test(test_block_owned_twice),
		cmocka_unit_test(test_block_used_and_free),
		cmocka_unit_test(test_leaked_blocks),
		cmocka_unit_test(test_free_space_counter),
		cmocka_unit_test(test_wrong_nlink),
		cmocka_unit_test(test_dangling_entry),
		cmocka_unit_test(test_unreachable_to_lost_found),
		cmocka_unit_test(test_extent_past_eof),
		cmocka_unit_test(test_orphan_is_clean_and_reclaimed),
		cmocka_unit_test(test_orphan_list_inconsistent),
		cmocka_unit_test(test_wrong_dotdot_and_type),
		cmocka_unit_test(test_blocks_count),
		cmocka_unit_test(test_extent_of_missing_inode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
