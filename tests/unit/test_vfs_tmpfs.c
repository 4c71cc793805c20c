// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_tmpfs.c - tmpfs and the VFS under load: sparse files
 * at large offsets (SEEK_DATA/SEEK_HOLE visiting only present pages), the
 * size limit charged per page in the page cache, and threads racing creates, writes, renames, unlinks,
 * lookups and listings in shared directories (every call must return a
 * result Linux could give; ASan checks the reference counting), then a
 * consistency check of the tree and a clean teardown.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <sys/statfs.h>
#include <linux/falloc.h>

#include "vfs_test.h"
#include "vfs.h"

static void test_sparse_large(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat st;
	char buf[8];
	long fd = U(t, SYS_open, "/big", O_CREAT | O_RDWR, 0644);
	const long off = 1L << 50;

	assert_int_equal(U(t, SYS_pwrite64, fd, "far", 3, off), 3);
	assert_int_equal(U(t, SYS_pwrite64, fd, "near", 4, 10), 4);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_size, off + 3);
	assert_int_equal(st.st_blocks, 16);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 3, off), 3);
	assert_memory_equal(buf, "far", 3);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 4, off - 4), 4);
	assert_memory_equal(buf, "\0\0\0\0", 4);
	assert_int_equal(U(t, SYS_lseek, fd, 4096, SEEK_HOLE), 4096);
	assert_int_equal(U(t, SYS_ftruncate, fd, 5), 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 8);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 8, 0), 5);
	U(t, SYS_close, fd);
}

/*
 * The fuzzer's hang: SEEK_DATA on a ~2^62-byte sparse file once scanned page
 * by page under the inode lock. Only present pages may be visited now, so
 * these return at once whatever the size.
 */
static void test_seek_huge_sparse(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	long fd = U(t, SYS_open, "/huge", O_CREAT | O_RDWR, 0644);
	const long size = 1L << 62, far = (1L << 61) + 100;
	struct timespec t0, t1;

	assert_true(fd >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(U(t, SYS_ftruncate, fd, size), 0);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_DATA), -ENXIO);
	assert_int_equal(U(t, SYS_lseek, fd, 12345, SEEK_HOLE), 12345);
	assert_int_equal(U(t, SYS_pwrite64, fd, "x", 1, far), 1);
	assert_int_equal(U(t, SYS_pwrite64, fd, "y", 1, 5000), 1);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_DATA), 4096);
	assert_int_equal(U(t, SYS_lseek, fd, 4097, SEEK_DATA), 4097);
	assert_int_equal(U(t, SYS_lseek, fd, 8192, SEEK_DATA), far & ~4095L);
	assert_int_equal(U(t, SYS_lseek, fd, far, SEEK_HOLE),
			 (far & ~4095L) + 4096);
	assert_int_equal(U(t, SYS_lseek, fd, (far & ~4095L) + 4096, SEEK_DATA),
			 -ENXIO);
	assert_int_equal(U(t, SYS_lseek, fd, size - 1, SEEK_HOLE), size - 1);
	assert_int_equal(U(t, SYS_lseek, fd, size, SEEK_DATA), -ENXIO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* generous: a page-by-page walk would take years */
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	U(t, SYS_close, fd);
}

/*
 * The size limit, charged per page: a full tmpfs refuses new pages
 * (ENOSPC, or a short write), overwriting present pages and reading holes
 * costs nothing, and truncate, punch and unlink give the pages back.
 */
static void test_size_limit_pages(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	static char buf[8 * 4096];
	struct statfs sf;
	struct stat st;
	long fd, free0;

	memset(buf, 'z', sizeof(buf));
	assert_int_equal(U(t, SYS_mkdir, "/lim", 0755), 0);
	assert_int_equal(vfs_mount(t, "/lim", "tmpfs", "size=32k"), 0);
	assert_int_equal(U(t, SYS_statfs, "/lim", &sf), 0);
	free0 = (long)sf.f_bfree;
	assert_int_equal(free0, 8);
	fd = U(t, SYS_open, "/lim/f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	/* a hole far away costs nothing, and reads as zeros */
	assert_int_equal(U(t, SYS_ftruncate, fd, 1L << 40), 0);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 4096, 1L << 30), 4096);
	assert_int_equal(buf[0], 0);
	assert_int_equal(buf[4095], 0);
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(U(t, SYS_statfs, "/lim", &sf), 0);
	assert_int_equal((long)sf.f_bfree, free0);
	/* 6 pages fit, the 9th does not: a short write */
	assert_int_equal(U(t, SYS_pwrite64, fd, buf, 6 * 4096, 0), 6 * 4096);
	assert_int_equal(U(t, SYS_pwrite64, fd, buf, 6 * 4096, 0), 6 * 4096);
	assert_int_equal(U(t, SYS_pwrite64, fd, buf, 4 * 4096, 6 * 4096),
			 2 * 4096);
	assert_int_equal(U(t, SYS_pwrite64, fd, buf, 1, 9 * 4096), -ENOSPC);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 8 * 8);
	assert_int_equal(U(t, SYS_statfs, "/lim", &sf), 0);
	assert_int_equal((long)sf.f_bfree, 0);
	/* punch two pages: they can be used again */
	assert_int_equal(U(t, SYS_fallocate, fd,
			   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
			   2 * 4096), 0);
	assert_int_equal(U(t, SYS_statfs, "/lim", &sf), 0);
	assert_int_equal((long)sf.f_bfree, 2);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_HOLE), 4096);
	assert_int_equal(U(t, SYS_lseek, fd, 4096, SEEK_DATA), 3 * 4096);
	assert_int_equal(U(t, SYS_pwrite64, fd, buf, 4096, 100 * 4096), 4096);
	/* truncate gives back all but the first page */
	assert_int_equal(U(t, SYS_ftruncate, fd, 100), 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 8);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 4096, 0), 100);
	U(t, SYS_close, fd);
	assert_int_equal(U(t, SYS_unlink, "/lim/f"), 0);
	assert_int_equal(U(t, SYS_statfs, "/lim", &sf), 0);
	assert_int_equal((long)sf.f_bfree, free0);
	assert_int_equal(vfs_umount(t, "/lim"), 0);
}

#define THREADS 4
#define ITERS 3000

struct worker {
	struct uk_task *task;
	unsigned int seed;
	long bad;       /* unexpected results */
};

static unsigned int rnd(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static bool allowed(long r, const long *ok, size_t n)
{
	if (r >= 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (r == ok[i])
			return true;
	return false;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct uk_task *t = w->task;
	static const long ok[] = { -ENOENT, -EEXIST, -ENOTEMPTY, -EISDIR,
				   -ENOTDIR, -EINVAL, -EBUSY };
	char a[64], b[64];
	char *buf = calloc(1, 9000);

	for (int i = 0; i < ITERS; i++) {
		unsigned int op = rnd(&w->seed) % 9;
		long r, fd;

		snprintf(a, sizeof(a), "/s%u/n%u", rnd(&w->seed) % 3,
			 rnd(&w->seed) % 8);
		snprintf(b, sizeof(b), "/s%u/n%u", rnd(&w->seed) % 3,
			 rnd(&w->seed) % 8);
		switch (op) {
		case 0:
			fd = U(t, SYS_open, a, O_CREAT | O_RDWR, 0644);
			r = fd;
			if (fd >= 0) {
				U(t, SYS_write, fd, buf, rnd(&w->seed) % 9000);
				U(t, SYS_close, fd);
			}
			break;
		case 1:
			r = U(t, SYS_rename, a, b);
			break;
		case 2:
			r = U(t, SYS_unlink, a);
			break;
		case 3:
			r = U(t, SYS_mkdir, a, 0755);
			break;
		case 4:
			r = U(t, SYS_rmdir, a);
			break;
		case 5: {
			struct stat st;

			r = U(t, SYS_stat, a, &st);
			break;
		}
		case 6:
			fd = U(t, SYS_open, "/s1", O_RDONLY | O_DIRECTORY);
			r = fd;
			if (fd >= 0) {
				while (U(t, SYS_getdents64, fd, buf, 1024) > 0)
					;
				U(t, SYS_close, fd);
			}
			break;
		case 7:
			r = U(t, SYS_link, a, b);
			if (r == -EPERM) /* a is a directory */
				r = 0;
			break;
		default:
			fd = U(t, SYS_open, a, O_RDONLY);
			r = fd;
			if (fd >= 0) {
				U(t, SYS_read, fd, buf, 9000);
				U(t, SYS_close, fd);
			}
			break;
		}
		if (!allowed(r, ok, sizeof(ok) / sizeof(ok[0]))) {
			print_error("op %u %s %s: %ld\n", op, a, b, r);
			w->bad++;
		}
	}
	free(buf);
	return NULL;
}

static void test_threads(void **state)
{
	struct ukt *x = *state;
	struct worker w[THREADS];
	pthread_t th[THREADS];
	char p[16];

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "/s%d", i);
		assert_int_equal(U(x->root, SYS_mkdir, p, 0755), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		/* Half share the root task (threads of one process). */
		w[i].task = i % 2 ? uk_task_fork(x->root, 700 + i) : x->root;
		w[i].seed = 77u * (unsigned int)i + 1;
		w[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
		if (w[i].task != x->root)
			uk_task_exit(w[i].task);
	}
	/* Every listed name can be looked up, and nlinks add up. */
	for (int i = 0; i < 3; i++) {
		char buf[4096];
		long fd, n;
		int subdirs = 0;
		struct stat st;

		snprintf(p, sizeof(p), "/s%d", i);
		fd = U(x->root, SYS_open, p, O_RDONLY | O_DIRECTORY);
		while ((n = U(x->root, SYS_getdents64, fd, buf, sizeof(buf))) >
		       0) {
			for (long off = 0; off < n;) {
				struct dirent64 *d = (void *)(buf + off);
				char q[300];

				off += d->d_reclen;
				if (d->d_name[0] == '.')
					continue;
				snprintf(q, sizeof(q), "%s/%s", p, d->d_name);
				assert_int_equal(U(x->root, SYS_lstat, q, &st),
						 0);
				if (S_ISDIR(st.st_mode))
					subdirs++;
			}
		}
		U(x->root, SYS_close, fd);
		assert_int_equal(U(x->root, SYS_stat, p, &st), 0);
		assert_int_equal(st.st_nlink, 2 + subdirs);
	}
}

/* Lookups of missing names cannot grow the dcache without bound. */
static void test_negative_dentries_bounded(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct uk_vfs *vfs = x->k->vfs;
	struct stat st;
	char p[32];

	for (int i = 0; i < 50000; i++) {
		snprintf(p, sizeof(p), "/missing-%d", i);
		assert_int_equal(U(t, SYS_stat, p, &st), -ENOENT);
	}
	assert_true(vfs->nr_negative <= 2 * 16384 + 1);
	/* A negative entry turns positive on create, and back on unlink. */
	ukt_put(t, "/missing-49999", "x");
	assert_int_equal(U(t, SYS_stat, "/missing-49999", &st), 0);
	assert_int_equal(U(t, SYS_unlink, "/missing-49999"), 0);
	assert_int_equal(U(t, SYS_stat, "/missing-49999", &st), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_seek_huge_sparse,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_size_limit_pages,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_sparse_large, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_threads, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_negative_dentries_bounded,
						ukt_setup, ukt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
