/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_ukfs_alloc.c - the ukfs block allocator and block maps:
 * contiguity of appended files, fragmentation, ENOSPC and reuse, punch and
 * truncate, holes and SEEK_DATA/SEEK_HOLE, replacing mappings. Every test
 * ends with a clean fsck.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ukfs_test_util.h"

struct fx {
	char *dir;
	struct ukfs_meta *m;
};

static int setup_size(void **state, uint64_t size)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = ut_mkimage(size, T_INODES);
	f->m = ut_open(f->dir);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_size(state, T_SIZE);
}

static int setup_tiny(void **state)
{
	return setup_size(state, 64 * 4096); /* 63 data blocks */
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->m)
		assert_int_equal(ukfs_meta_close(f->m, true), 0);
	ut_assert_fsck_clean(f->dir);
	ut_rmimage(f->dir);
	free(f);
	return 0;
}

static uint64_t mkfile(struct ukfs_meta *m, const char *name)
{
	struct ukfs_inode a = ut_attr(S_IFREG | 0644), out;

	assert_int_equal(ukfs_create(m, UKFS_ROOT_INO, name, &a, NULL, &out),
			 0);
	return out.ino;
}

static void set_size(struct ukfs_meta *m, uint64_t ino, uint64_t size)
{
	struct ukfs_inode i = {.ino = ino, .size = size};

	assert_int_equal(ukfs_inode_update(m, &i, UKFS_SET_SIZE), 0);
}

static uint64_t free_blocks(struct ukfs_meta *m)
{
	struct ukfs_statfs st;

	assert_int_equal(ukfs_meta_statfs(m, &st), 0);
	return st.free_blocks;
}

static uint64_t blocks_of(struct ukfs_meta *m, uint64_t ino)
{
	struct ukfs_inode i;

	assert_int_equal(ukfs_inode_get(m, ino, &i), 0);
	return i.blocks;
}

static void rm(struct ukfs_meta *m, const char *name)
{
	struct ukfs_inode v;

	assert_int_equal(ukfs_unlink(m, UKFS_ROOT_INO, name, &v), 0);
	assert_int_equal(ukfs_inode_free(m, v.ino), 0);
}

static void test_appended_file_stays_contiguous(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f->m, "a"), b = mkfile(f->m, "b");
	struct ukfs_extent e, first;
	int i;

	/* 20 appends of 8 blocks each. */
	for (i = 0; i < 20; i++) {
		assert_int_equal(
			ukfs_alloc_extent(f->m, a, (uint64_t)i * 8, 8, 0, &e),
			0);
		assert_int_equal(e.len, 8);
		if (!i)
			first = e;
		assert_int_equal(e.pblk, first.pblk + (uint64_t)i * 8);
		set_size(f->m, a, (uint64_t)(i + 1) * 8 * 4096);
	}
	/* One merged mapping. */
	assert_int_equal(ukfs_extent_map(f->m, a, 0, 1000, &e), 0);
	assert_int_equal(e.len, 160);
	assert_int_equal(e.pblk, first.pblk);
	assert_int_equal(blocks_of(f->m, a), 160);

	/* Another file takes the blocks after a; a's next append goes to
	 * the nearest run after it instead. */
	assert_int_equal(ukfs_alloc_extent(f->m, b, 0, 4, 0, &e), 0);
	set_size(f->m, b, 4 * 4096);
	assert_int_equal(e.pblk, first.pblk + 160);
	assert_int_equal(ukfs_alloc_extent(f->m, a, 160, 8, 0, &e), 0);
	assert_int_equal(e.pblk, first.pblk + 164);
	set_size(f->m, a, 168 * 4096);
	/* Writing into a hole aims at the block that continues the file. */
	set_size(f->m, a, 300 * 4096);
	assert_int_equal(ukfs_alloc_extent(f->m, a, 250, 5, 0, &e), 0);
	assert_int_equal(e.pblk, first.pblk + 164 + 8 + 250 - 168);
	assert_int_equal(ukfs_alloc_extent(f->m, a, 250, 5, 0, &e), -EEXIST);
	assert_int_equal(ukfs_alloc_extent(f->m, 4321, 0, 5, 0, &e), -ENOENT);
	assert_int_equal(ukfs_alloc_extent(f->m, a, 0, 0, 0, &e), -EINVAL);
}

static void test_fragmentation_enospc_and_reuse(void **state)
{
	struct fx *f = *state;
	struct ukfs_extent e;
	uint64_t ino, got = 0, start;
	char name[16];
	int i, runs = 0;

	assert_int_equal(free_blocks(f->m), 63);
	for (i = 0; i < 63; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ino = mkfile(f->m, name);
		assert_int_equal(ukfs_alloc_extent(f->m, ino, 0, 1, 0, &e), 0);
		set_size(f->m, ino, 4096);
	}
	assert_int_equal(free_blocks(f->m), 0);
	ino = mkfile(f->m, "big");
	assert_int_equal(ukfs_alloc_extent(f->m, ino, 0, 1, 0, &e), -ENOSPC);
	assert_int_equal(ukfs_alloc_blocks(f->m, 0, 1, &start), -ENOSPC);
	assert_int_equal(free_blocks(f->m), 0);
	/* Survives a reopen with the counters right. */
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	f->m = ut_open(f->dir);
	assert_int_equal(free_blocks(f->m), 0);

	/* Free every other file: 32 one-block holes. */
	for (i = 0; i < 63; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		rm(f->m, name);
	}
	assert_int_equal(free_blocks(f->m), 32);
	set_size(f->m, ino, 10 * 4096);
	while (got < 10) {
		assert_int_equal(
			ukfs_alloc_extent(f->m, ino, got, 10 - got, 0, &e), 0);
		assert_int_equal(e.len, 1);
		got += e.len;
		runs++;
	}
	assert_int_equal(runs, 10);
	assert_int_equal(free_blocks(f->m), 22);
	assert_int_equal(blocks_of(f->m, ino), 10);

	/* Free everything: the runs merge back into one. */
	for (i = 1; i < 63; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		rm(f->m, name);
	}
	rm(f->m, "big");
	assert_int_equal(free_blocks(f->m), 63);
	/* Until the commit, only what was free before can be allocated. */
	assert_int_equal(ukfs_alloc_blocks(f->m, 0, 100, &start), 1);
	assert_int_equal(ukfs_free_blocks(f->m, start, 1), 0);
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(ukfs_alloc_blocks(f->m, 0, 100, &start), 63);
	assert_int_equal(start, 1);
	assert_int_equal(ukfs_free_blocks(f->m, start, 63), 0);
}

static void test_punch_and_truncate_free_blocks(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mkfile(f->m, "p"), f0 = free_blocks(f->m), freed, p0;
	struct ukfs_extent e;

	assert_int_equal(ukfs_alloc_extent(f->m, ino, 0, 100, 0, &e), 0);
	assert_int_equal(e.len, 100);
	p0 = e.pblk;
	set_size(f->m, ino, 100 * 4096);
	assert_int_equal(free_blocks(f->m), f0 - 100);

	assert_int_equal(ukfs_extent_punch(f->m, ino, 10, 10, &freed), 0);
	assert_int_equal(freed, 10);
	assert_int_equal(blocks_of(f->m, ino), 90);
	assert_int_equal(free_blocks(f->m), f0 - 90);
	assert_int_equal(ukfs_extent_map(f->m, ino, 0, 100, &e), 0);
	assert_int_equal(e.len, 10);
	assert_int_equal(e.pblk, p0);
	assert_int_equal(ukfs_extent_map(f->m, ino, 10, 100, &e), 0);
	assert_true(e.flags & UKFS_EXT_HOLE);
	assert_int_equal(e.len, 10);
	assert_int_equal(e.pblk, 0);
	assert_int_equal(ukfs_extent_map(f->m, ino, 15, 3, &e), 0);
	assert_int_equal(e.len, 3);
	assert_int_equal(ukfs_extent_map(f->m, ino, 20, 100, &e), 0);
	assert_int_equal(e.pblk, p0 + 20);
	assert_int_equal(e.len, 80);
	/* Punch across a hole and two extents' edges; again is a no-op. */
	assert_int_equal(ukfs_extent_punch(f->m, ino, 5, 20, &freed), 0);
	assert_int_equal(freed, 10);
	assert_int_equal(ukfs_extent_punch(f->m, ino, 5, 20, &freed), 0);
	assert_int_equal(freed, 0);
	assert_int_equal(blocks_of(f->m, ino), 80);
	/* Truncate inside the last block keeps it. */
	assert_int_equal(ukfs_truncate(f->m, ino, 50 * 4096 + 1), 0);
	assert_int_equal(blocks_of(f->m, ino), 5 + 26);
	assert_int_equal(ukfs_extent_map(f->m, ino, 50, 100, &e), 0);
	assert_int_equal(e.len, 1);
	assert_int_equal(ukfs_extent_map(f->m, ino, 51, 100, &e), 0);
	assert_true(e.flags & UKFS_EXT_HOLE);
	assert_int_equal(e.len, 100);
	assert_int_equal(ukfs_truncate(f->m, ino, 0), 0);
	assert_int_equal(blocks_of(f->m, ino), 0);
	assert_int_equal(free_blocks(f->m), f0);
	assert_int_equal(ukfs_extent_punch(f->m, 9999, 0, 1, NULL), -ENOENT);
	assert_int_equal(ukfs_truncate(f->m, 9999, 0), -ENOENT);
	assert_int_equal(ukfs_extent_map(f->m, 9999, 0, 1, &e), -ENOENT);
	assert_int_equal(ukfs_extent_map(f->m, ino, 0, 0, &e), -EINVAL);
	assert_int_equal(ukfs_truncate(f->m, ino, 1ull << 60), -EFBIG);
	{
		int64_t r;

		assert_int_equal(
			ukfs_seek_data_hole(f->m, 9999, 0, SEEK_DATA, &r),
			-ENOENT);
	}
	/* An allocation stops at the next mapped block. */
	set_size(f->m, ino, 10 * 4096);
	assert_int_equal(ukfs_alloc_extent(f->m, ino, 5, 1, 0, &e), 0);
	assert_int_equal(ukfs_alloc_extent(f->m, ino, 2, 8, 0, &e), 0);
	assert_int_equal(e.len, 3);
	e.flags = 0x80;
	assert_int_equal(ukfs_extent_insert(f->m, ino, &e), -EINVAL);
	assert_int_equal(ukfs_alloc_extent(f->m, ino, 7, 1, 0x80, &e), -EINVAL);
}

static void test_seek_data_and_hole(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mkfile(f->m, "s");
	struct ukfs_extent e;
	int64_t r;

	set_size(f->m, ino, 100 * 4096);
	assert_int_equal(ukfs_alloc_extent(f->m, ino, 10, 10, 0, &e), 0);
	assert_int_equal(ukfs_alloc_extent(f->m, ino, 50, 10, 0, &e), 0);
	assert_int_equal(
		ukfs_alloc_extent(f->m, ino, 70, 10, UKFS_EXT_UNWRITTEN, &e),
		0);
	assert_int_equal(ukfs_seek_data_hole(f->m, ino, 0, SEEK_DATA, &r), 0);
	assert_int_equal(r, 10 * 4096);
	assert_int_equal(ukfs_seek_data_hole(f->m, ino, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 0);
	assert_int_equal(
		ukfs_seek_data_hole(f->m, ino, 10 * 4096 + 5, SEEK_DATA, &r),
		0);
	assert_int_equal(r, 10 * 4096 + 5);
	assert_int_equal(
		ukfs_seek_data_hole(f->m, ino, 10 * 4096 + 5, SEEK_HOLE, &r),
		0);
	assert_int_equal(r, 20 * 4096);
	assert_int_equal(
		ukfs_seek_data_hole(f->m, ino, 20 * 4096, SEEK_DATA, &r), 0);
	assert_int_equal(r, 50 * 4096);
	/* Unwritten extents read as zeros: holes for SEEK_DATA. */
	assert_int_equal(
		ukfs_seek_data_hole(f->m, ino, 60 * 4096, SEEK_DATA, &r),
		-ENXIO);
	assert_int_equal(
		ukfs_seek_data_hole(f->m, ino, 75 * 4096, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 75 * 4096);
	assert_int_equal(
		ukfs_seek_data_hole(f->m, ino, 100 * 4096, SEEK_HOLE, &r),
		-ENXIO);
	assert_int_equal(ukfs_seek_data_hole(f->m, ino, -1, SEEK_DATA, &r),
			 -ENXIO);
	assert_int_equal(ukfs_seek_data_hole(f->m, ino, 0, 7, &r), -EINVAL);
	/* EOF inside data: the implicit hole is at the size. */
	assert_int_equal(ukfs_truncate(f->m, ino, 55 * 4096 + 100), 0);
	assert_int_equal(
		ukfs_seek_data_hole(f->m, ino, 52 * 4096, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 55 * 4096 + 100);
	/* Adjacent extents that did not merge still read as one data run. */
	assert_int_equal(ukfs_alloc_extent(f->m, ino, 20, 5, 0, &e), 0);
	assert_int_equal(
		ukfs_seek_data_hole(f->m, ino, 12 * 4096, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 25 * 4096);
}

static void test_extent_insert_replaces_and_validates(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mkfile(f->m, "r"), s1, s2, f0 = free_blocks(f->m);
	struct ukfs_extent e, x;

	set_size(f->m, ino, 10 * 4096);
	assert_int_equal(ukfs_alloc_blocks(f->m, 0, 10, &s1), 10);
	e = (struct ukfs_extent){.lblk = 0, .pblk = s1, .len = 10};
	assert_int_equal(ukfs_extent_insert(f->m, ino, &e), 0);
	assert_int_equal(ukfs_alloc_blocks(f->m, 0, 2, &s2), 2);
	/* Mapping blocks that are free is refused. */
	x = (struct ukfs_extent){.lblk = 5, .pblk = s2 + 2, .len = 2};
	assert_int_equal(ukfs_extent_insert(f->m, ino, &x), -EUCLEAN);
	x = (struct ukfs_extent){.lblk = 5, .pblk = 16383, .len = 2};
	assert_int_equal(ukfs_extent_insert(f->m, ino, &x), -EINVAL);
	x = (struct ukfs_extent){.lblk = 5, .pblk = 0, .len = 2};
	assert_int_equal(ukfs_extent_insert(f->m, ino, &x), -EINVAL);
	/* Copy-on-write style remap of blocks 5..6: old blocks freed. */
	x = (struct ukfs_extent){.lblk = 5, .pblk = s2, .len = 2};
	assert_int_equal(ukfs_extent_insert(f->m, ino, &x), 0);
	assert_int_equal(free_blocks(f->m), f0 - 10);
	assert_int_equal(blocks_of(f->m, ino), 10);
	assert_int_equal(ukfs_extent_map(f->m, ino, 0, 10, &e), 0);
	assert_int_equal(e.len, 5);
	assert_int_equal(ukfs_extent_map(f->m, ino, 5, 10, &e), 0);
	assert_int_equal(e.pblk, s2);
	assert_int_equal(e.len, 2);
	assert_int_equal(ukfs_extent_map(f->m, ino, 7, 10, &e), 0);
	assert_int_equal(e.pblk, s1 + 7);
	assert_int_equal(e.len, 3);
	/* Double free and out-of-device frees are refused (once the first
	 * free is committed; within a transaction the commit finds it). */
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(ukfs_free_blocks(f->m, s1 + 5, 1), -EUCLEAN);
	assert_int_equal(ukfs_free_blocks(f->m, s1 + 4, 2), -EUCLEAN);
	assert_int_equal(ukfs_free_blocks(f->m, 0, 1), -EINVAL);
	assert_int_equal(ukfs_free_blocks(f->m, 16383, 2), -EINVAL);
	/* An unwritten run turned written in place keeps its blocks. */
	assert_int_equal(
		ukfs_alloc_extent(f->m, ino, 20, 4, UKFS_EXT_UNWRITTEN, &e), 0);
	set_size(f->m, ino, 24 * 4096);
	x = e;
	x.lblk = 21;
	x.pblk = e.pblk + 1;
	x.len = 2;
	x.flags = 0;
	{
		uint64_t before = free_blocks(f->m);
		int64_t r;

		assert_int_equal(ukfs_extent_insert(f->m, ino, &x), 0);
		assert_int_equal(free_blocks(f->m), before);
		assert_int_equal(ukfs_seek_data_hole(f->m, ino, 20 * 4096,
						     SEEK_DATA, &r),
				 0);
		assert_int_equal(r, 21 * 4096);
		assert_int_equal(ukfs_extent_map(f->m, ino, 20, 10, &x), 0);
		assert_int_equal(x.len, 1);
		assert_int_equal(x.flags, UKFS_EXT_UNWRITTEN);
		assert_int_equal(ukfs_extent_map(f->m, ino, 21, 10, &x), 0);
		assert_int_equal(x.pblk, e.pblk + 1);
		assert_int_equal(x.len, 2);
		assert_int_equal(x.flags, 0);
		assert_int_equal(ukfs_meta_commit(f->m), 0);
	}
	/* Preallocation past EOF is fine when marked KEEP_SIZE. */
	assert_int_equal(
		ukfs_alloc_extent(f->m, ino, 30, 6,
				  UKFS_EXT_UNWRITTEN | UKFS_EXT_KEEP_SIZE, &e),
		0);
	assert_int_equal(e.len, 6);
}

/*
 * Blocks freed in the open transaction are not reused before it commits:
 * after a crash the committed image still gives them to their old file,
 * which must not then show another file's data.
 */
static void test_freed_blocks_wait_for_commit(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f->m, "a"), b = mkfile(f->m, "b"), c, pa;
	struct ukfs_extent e;

	assert_int_equal(ukfs_alloc_extent(f->m, a, 0, 16383, 0, &e), 0);
	assert_int_equal(e.len, 63);
	pa = e.pblk;
	set_size(f->m, a, 63 * 4096);
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(free_blocks(f->m), 0);
	/* Truncate a, then b wants blocks: the only free ones are a's, so
	 * the allocator commits first (as ext4 does on ENOSPC). */
	assert_int_equal(ukfs_truncate(f->m, a, 0), 0);
	assert_int_equal(free_blocks(f->m), 63);
	{
		struct ukfs_meta_info i0, i1;

		assert_int_equal(ukfs_meta_info(f->m, &i0), 0);
		assert_int_equal(ukfs_alloc_extent(f->m, b, 0, 8, 0, &e), 0);
		assert_int_equal(ukfs_meta_info(f->m, &i1), 0);
		assert_int_equal(i1.commits, i0.commits + 1);
	}
	assert_int_equal(e.pblk, pa);
	set_size(f->m, b, 8 * 4096);
	/* Freed and wanted again in one transaction, with other space free:
	 * the other space is used. */
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(ukfs_truncate(f->m, b, 0), 0);
	c = mkfile(f->m, "c");
	assert_int_equal(ukfs_alloc_extent(f->m, c, 0, 8, 0, &e), 0);
	assert_true(e.pblk >= pa + 8);
	set_size(f->m, c, 8 * 4096);
}

/* A block freed twice within one transaction: the commit refuses it and
 * the meta shuts down; the image keeps its last committed state. */
static void test_double_free_in_txn_stops_commit(void **state)
{
	struct fx *f = *state;
	uint64_t start;

	assert_int_equal(ukfs_alloc_blocks(f->m, 0, 4, &start), 4);
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(ukfs_free_blocks(f->m, start, 2), 0);
	assert_int_equal(ukfs_free_blocks(f->m, start + 1, 1), 0);
	assert_int_equal(ukfs_meta_commit(f->m), -EUCLEAN);
	assert_int_equal(ukfs_free_blocks(f->m, start + 3, 1), -EIO);
	assert_int_equal(ukfs_meta_close(f->m, true), -EIO);
	f->m = ut_open(f->dir);
	/* The 4 blocks are leaked in the committed state (allocated, never
	 * mapped), which is what fsck repairs. */
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	f->m = NULL;
	assert_int_equal(ukfs_fsck(f->dir, true, NULL, NULL), UKFS_FSCK_FIXED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_appended_file_stays_contiguous, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fragmentation_enospc_and_reuse, setup_tiny,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_punch_and_truncate_free_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek_data_and_hole, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_extent_insert_replaces_and_validates, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_freed_blocks_wait_for_commit, setup_tiny,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_double_free_in_txn_stops_commit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
