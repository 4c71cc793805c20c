// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_ukfs_vfs.c - ukfs as the kernel's root file system,
 * through uk_dispatch: persistence across unmount and mount (files, dirs,
 * symlinks, xattrs, sizes, holes, times, modes), fsync then a simulated
 * crash (blockdev's crash wrapper under the mount, the SQLite transaction
 * abandoned), the write-temp + fsync + rename-over pattern after crashes at
 * every step, ENOSPC and reuse, and damaged images refused at mount. fsck
 * must be clean after every test.
 */
#include <pthread.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <dirent.h>
#include <sys/xattr.h>
#include <linux/falloc.h>

#include "vfs_test.h"
#include "ukfs_test_util.h"
#include "fs_ukfs.h"

/* One mounted image and a root task on it. */
struct fx {
	char *dir;
	struct uk_kernel *k;
	struct uk_task *t;
	bool crash_wrap;             /* stack the crash wrapper at mount */
	struct uk_blockdev *cdev;    /* the crash wrapper, when stacked */
	bool fault_wrap;             /* stack the fault wrapper at mount */
	struct uk_blockdev *fdev;    /* the fault wrapper, when stacked */
	uint64_t cache_size;         /* 0: 8 MiB */
};

/* Stacks the fault-injection wrapper over the image's device. */
static int wrap_fault(struct uk_blockdev *lower, struct uk_blockdev **out,
		      void *arg)
{
	struct fx *f = arg;
	int ret = bdev_fault_wrap(lower, out);

	if (!ret)
		f->fdev = *out;
	return ret;
}

/* Stacks the crash wrapper over the image's device (ukfs_bdev_hook). */
static int wrap_crash(struct uk_blockdev *lower, struct uk_blockdev **out,
		      void *arg)
{
	struct fx *f = arg;
	int ret = bdev_crash_wrap(lower, out);

	if (!ret)
		f->cdev = *out;
	return ret;
}

static void fx_mount(struct fx *f)
{
	struct uk_image_opts o = {
		.cache_size = f->cache_size ? f->cache_size : 8u << 20
	};
	struct uk_cred c;
	char err[256];
	int ret;

	f->k = uk_kernel_new(NULL);
	assert_true(f->k && !IS_ERR(f->k));
	ukfs_bdev_hook = f->crash_wrap	 ? wrap_crash
			 : f->fault_wrap ? wrap_fault
					 : NULL;
	ukfs_bdev_hook_arg = f;
	ret = uk_kernel_mount_image(f->k, f->dir, &o, err, sizeof(err));
	if (ret)
		print_message("mount: %s\n", err);
	assert_int_equal(ret, 0);
	uk_cred_init(&c, 0, 0);
	f->t = uk_task_new(f->k, 100, &c);
	assert_non_null(f->t);
}

static void fx_umount(struct fx *f)
{
	uk_task_exit(f->t);
	uk_kernel_free(f->k);
	f->t = NULL;
	f->k = NULL;
	f->cdev = NULL;
	f->fdev = NULL;
	ut_assert_fsck_clean(f->dir);
}

/*
 * A power cut: the crash wrapper drops (plan) the writes not covered by a
 * flush, then the kernel goes away without writing back or committing
 * (ukfs_crash_unmount), and fsck must find the image consistent.
 */
static void fx_crash(struct fx *f, enum bdev_crash_mode mode, uint64_t seed)
{
	struct bdev_crash_plan plan = { .mode = mode, .seed = seed };

	assert_non_null(f->cdev);
	assert_true(bdev_crash_simulate(f->cdev, &plan) >= 0);
	ukfs_crash_unmount = true;
	uk_task_exit(f->t);
	uk_kernel_free(f->k);
	ukfs_crash_unmount = false;
	f->t = NULL;
	f->k = NULL;
	f->cdev = NULL;
	ut_assert_fsck_clean(f->dir);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = ut_mkimage(T_SIZE, T_INODES);
	fx_mount(f);
	*state = f;
	return 0;
}

static int setup_crash(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = ut_mkimage(T_SIZE, T_INODES);
	f->crash_wrap = true;
	fx_mount(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->k)
		fx_umount(f);
	ut_rmimage(f->dir);
	free(f);
	return 0;
}

static void remount(struct fx *f)
{
	fx_umount(f);
	fx_mount(f);
}

static long put(struct uk_task *t, const char *path, const void *buf,
		size_t len, bool fsync)
{
	long fd = U(t, SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC,
		    0644);
	long n;

	assert_true(fd >= 0);
	n = U(t, SYS_write, fd, buf, len);
	if (fsync && n >= 0) {
		long r = U(t, SYS_fsync, fd);

		if (r < 0)
			n = r;
	}
	assert_int_equal(U(t, SYS_close, fd), 0);
	return n;
}

/* Reads path into buf (up to len); returns the count or -errno. */
static long get(struct uk_task *t, const char *path, void *buf, size_t len)
{
	long fd = U(t, SYS_openat, AT_FDCWD, path, O_RDONLY);
	long n;

	if (fd < 0)
		return fd;
	n = U(t, SYS_pread64, fd, buf, len, 0);
	U(t, SYS_close, fd);
	return n;
}

static void fill(char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (i * 7 + seed) % 26);
}

/* ---- persistence -------------------------------------------------------- */

static void test_persist_tree(void **state)
{
	struct fx *f = *state;
	struct uk_task *t;
	static char big[300000], back[300000];
	struct timespec ts[2] = { { 1000000, 5 }, { 2000000, 7 } };
	struct stat st;
	char lnk[64];
	long fd;

	t = f->t;
	fill(big, sizeof(big), 1);
	assert_int_equal(U(t, SYS_mkdir, "/d", 0750), 0);
	assert_int_equal(U(t, SYS_mkdir, "/d/e", 0700), 0);
	assert_int_equal(put(t, "/d/big", big, sizeof(big), false),
			 (long)sizeof(big));
	assert_int_equal(put(t, "/small", "hello", 5, false), 5);
	assert_int_equal(U(t, SYS_symlinkat, "d/big", AT_FDCWD, "/sym"), 0);
	assert_int_equal(U(t, SYS_linkat, AT_FDCWD, "/small", AT_FDCWD,
			   "/d/hard", 0), 0);
	assert_int_equal(U(t, SYS_setxattr, "/small", "user.k", "vvv", 3, 0),
			 0);
	assert_int_equal(U(t, SYS_chmod, "/small", 0600), 0);
	assert_int_equal(U(t, SYS_utimensat, AT_FDCWD, "/small", ts, 0), 0);
	/* A sparse file: a hole, then data at 1 MiB, size 1 MiB + 3. */
	fd = U(t, SYS_openat, AT_FDCWD, "/sparse", O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_pwrite64, fd, "xyz", 3, 1 << 20), 3);
	assert_int_equal(U(t, SYS_close, fd), 0);
	assert_int_equal(U(t, SYS_mknodat, AT_FDCWD, "/fifo", S_IFIFO | 0640,
			   0), 0);

	remount(f);
	t = f->t;
	/* before any read: a read updates atime (relatime) */
	assert_int_equal(U(t, SYS_stat, "/small", &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(get(t, "/d/big", back, sizeof(back)),
			 (long)sizeof(big));
	assert_memory_equal(big, back, sizeof(big));
	assert_int_equal(get(t, "/sym", back, sizeof(back)),
			 (long)sizeof(big));
	assert_int_equal(U(t, SYS_readlinkat, AT_FDCWD, "/sym", lnk,
			   sizeof(lnk)), 5);
	assert_memory_equal(lnk, "d/big", 5);
	assert_int_equal(get(t, "/d/hard", back, sizeof(back)), 5);
	assert_memory_equal(back, "hello", 5);
	assert_int_equal(U(t, SYS_getxattr, "/small", "user.k", back, 10), 3);
	assert_memory_equal(back, "vvv", 3);
	assert_int_equal(U(t, SYS_stat, "/d", &st), 0);
	assert_int_equal(st.st_mode, S_IFDIR | 0750);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(U(t, SYS_stat, "/fifo", &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(U(t, SYS_stat, "/sparse", &st), 0);
	assert_int_equal(st.st_size, (1 << 20) + 3);
	assert_true(st.st_blocks <= 16);
	fd = U(t, SYS_openat, AT_FDCWD, "/sparse", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_DATA), 1 << 20);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_HOLE), 0);
	assert_int_equal(U(t, SYS_pread64, fd, back, 8, 4096), 8);
	assert_memory_equal(back, "\0\0\0\0\0\0\0\0", 8);
	assert_int_equal(U(t, SYS_close, fd), 0);
}

/* Listing, unlink, rmdir, rename and truncate survive a remount. */
static void test_persist_changes(void **state)
{
	struct fx *f = *state;
	struct uk_task *t = f->t;
	char buf[4096];
	struct stat st;
	long fd, n;
	int count = 0;

	assert_int_equal(U(t, SYS_mkdir, "/a", 0755), 0);
	for (int i = 0; i < 50; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/a/f%d", i);
		assert_int_equal(put(t, p, p, strlen(p), false),
				 (long)strlen(p));
	}
	for (int i = 0; i < 50; i += 2) {
		char p[32];

		snprintf(p, sizeof(p), "/a/f%d", i);
		assert_int_equal(U(t, SYS_unlink, p), 0);
	}
	assert_int_equal(U(t, SYS_rename, "/a/f1", "/a/f3"), 0);
	assert_int_equal(U(t, SYS_mkdir, "/gone", 0755), 0);
	assert_int_equal(U(t, SYS_rmdir, "/gone"), 0);
	assert_int_equal(put(t, "/trunc", buf, sizeof(buf), false), 4096);
	assert_int_equal(U(t, SYS_truncate, "/trunc", 100), 0);

	remount(f);
	t = f->t;
	fd = U(t, SYS_openat, AT_FDCWD, "/a", O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	while ((n = U(t, SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *de = (void *)(buf + off);

			if (strcmp(de->name, ".") && strcmp(de->name, ".."))
				count++;
			off += de->reclen;
		}
	}
	assert_int_equal(n, 0);
	U(t, SYS_close, fd);
	assert_int_equal(count, 24);
	assert_int_equal(U(t, SYS_stat, "/a/f1", &st), -ENOENT);
	assert_int_equal(get(t, "/a/f3", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "/a/f1", 5);
	assert_int_equal(U(t, SYS_stat, "/gone", &st), -ENOENT);
	assert_int_equal(U(t, SYS_stat, "/trunc", &st), 0);
	assert_int_equal(st.st_size, 100);
}

/* An unlinked open file keeps its data until the last close. */
static void test_unlinked_open(void **state)
{
	struct fx *f = *state;
	struct uk_task *t = f->t;
	char buf[8];
	long fd;

	assert_int_equal(put(t, "/u", "12345678", 8, false), 8);
	fd = U(t, SYS_openat, AT_FDCWD, "/u", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_unlink, "/u"), 0);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 8, 0), 8);
	assert_memory_equal(buf, "12345678", 8);
	assert_int_equal(U(t, SYS_close, fd), 0);
	remount(f);
}

/* fallocate and punch hole through the block maps. */
static void test_fallocate(void **state)
{
	struct fx *f = *state;
	struct uk_task *t = f->t;
	static char buf[16384], back[16384];
	struct stat st;
	long fd;

	fill(buf, sizeof(buf), 3);
	fd = U(t, SYS_openat, AT_FDCWD, "/fa", O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_fallocate, fd, 0, 0, 65536), 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_size, 65536);
	assert_int_equal(st.st_blocks, 128);
	assert_int_equal(U(t, SYS_pwrite64, fd, buf, sizeof(buf), 0),
			 (long)sizeof(buf));
	assert_int_equal(U(t, SYS_fallocate, fd,
			   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100,
			   8192), 0);
	assert_int_equal(U(t, SYS_fallocate, fd, FALLOC_FL_KEEP_SIZE, 65536,
			   8192), 0);
	assert_int_equal(U(t, SYS_close, fd), 0);
	remount(f);
	t = f->t;
	memset(buf + 100, 0, 8192);
	assert_int_equal(get(t, "/fa", back, sizeof(back)),
			 (long)sizeof(back));
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(U(t, SYS_stat, "/fa", &st), 0);
	assert_int_equal(st.st_size, 65536);
}

/*
 * st_blocks as ext4 gives it (checked on ext4 here with the same steps):
 * a write counts its blocks before writeback (delayed allocation), the
 * count stays after fsync and after a remount, a write past EOF counts
 * only the blocks it covers, truncate and link keep it right. Before,
 * a new file said 0 blocks until the next mount (du said 0).
 */
static void test_st_blocks(void **state)
{
	struct fx *f = *state;
	struct uk_task *t = f->t;
	static char buf[200000];
	struct stat st;
	long fd;

	memset(buf, 'b', sizeof(buf));
	fd = U(t, SYS_openat, AT_FDCWD, "/sb", O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_write, fd, buf, 1), 1);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 8);
	assert_int_equal(U(t, SYS_fsync, fd), 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 8);
	/* 10000 bytes at block 100: three blocks, the gap stays a hole. */
	assert_int_equal(U(t, SYS_pwrite64, fd, buf, 10000, 4096 * 100),
			 10000);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 32);
	assert_int_equal(U(t, SYS_fsync, fd), 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 32);
	assert_int_equal(U(t, SYS_ftruncate, fd, 4096 * 50), 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 8);
	assert_int_equal(U(t, SYS_close, fd), 0);
	/* Not written back yet, then a link (which re-reads the row). */
	assert_int_equal(put(t, "/sb2", buf, sizeof(buf), false),
			 (long)sizeof(buf));
	assert_int_equal(U(t, SYS_stat, "/sb2", &st), 0);
	assert_int_equal(st.st_blocks, 392);
	assert_int_equal(U(t, SYS_linkat, AT_FDCWD, "/sb2", AT_FDCWD, "/sb2l",
			   0), 0);
	assert_int_equal(U(t, SYS_stat, "/sb2", &st), 0);
	assert_int_equal(st.st_blocks, 392);
	remount(f);
	t = f->t;
	assert_int_equal(U(t, SYS_stat, "/sb2", &st), 0);
	assert_int_equal(st.st_blocks, 392);
	assert_int_equal(U(t, SYS_stat, "/sb", &st), 0);
	assert_int_equal(st.st_blocks, 8);
}

/*
 * Zeroing the partial blocks of a punch or a truncate leaves holes alone,
 * as ext4 does: the differential test's seed 24 punched [16356, 29646)
 * inside a hole and ukfs reported data at 12288 (the edge block, zeroed
 * through the cache and allocated at writeback) where Linux says hole.
 * A block with data only in the cache (not yet written back) is still
 * zeroed.
 */
static void test_zero_edges_keep_holes(void **state)
{
	struct fx *f = *state;
	struct uk_task *t = f->t;
	static char buf[8192], back[8192];
	struct stat st;
	long fd;

	fill(buf, sizeof(buf), 5);
	fd = U(t, SYS_openat, AT_FDCWD, "/h", O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	/* data at 172839 only: [0, 172032) is a hole */
	assert_int_equal(U(t, SYS_pwrite64, fd, buf, 8192, 172839), 8192);
	assert_int_equal(U(t, SYS_fallocate, fd,
			   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 16356,
			   13290), 0);
	assert_int_equal(U(t, SYS_lseek, fd, 14539, SEEK_HOLE), 14539);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_DATA), 172032);
	/* a truncate into the hole: no data either */
	assert_int_equal(U(t, SYS_ftruncate, fd, 5000), 0);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_DATA), -ENXIO);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 0);
	/* dirty data over a hole is zeroed past the new end, kept before */
	assert_int_equal(U(t, SYS_pwrite64, fd, buf, 4096, 8192), 4096);
	assert_int_equal(U(t, SYS_ftruncate, fd, 8192 + 100), 0);
	assert_int_equal(U(t, SYS_ftruncate, fd, 8192 + 4096), 0);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_DATA), 8192);
	assert_int_equal(U(t, SYS_close, fd), 0);
	remount(f);
	t = f->t;
	fd = U(t, SYS_openat, AT_FDCWD, "/h", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_pread64, fd, back, sizeof(back), 8192), 4096);
	memset(buf + 100, 0, 4096 - 100);
	assert_memory_equal(back, buf, 4096);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_HOLE), 0);
	assert_int_equal(U(t, SYS_close, fd), 0);
}

/* O_DIRECT bypasses the cache and stays coherent with it. */
static void test_direct_io(void **state)
{
	struct fx *f = *state;
	struct uk_task *t = f->t;
	static char cached[8192], back[8192];
	char *buf;
	long fd, dfd;

	assert_int_equal(posix_memalign((void **)&buf, 4096, 16384), 0);
	fill(cached, sizeof(cached), 5);
	fd = U(t, SYS_openat, AT_FDCWD, "/dio", O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_write, fd, cached, sizeof(cached)), 8192);
	dfd = U(t, SYS_openat, AT_FDCWD, "/dio", O_RDWR | O_DIRECT);
	assert_true(dfd >= 0);
	/* dirty cached data is written back before the direct read */
	assert_int_equal(U(t, SYS_pread64, dfd, buf, 8192, 0), 8192);
	assert_memory_equal(buf, cached, 8192);
	/* a direct write is seen by a buffered read (cache dropped) */
	memset(buf, 'D', 4096);
	assert_int_equal(U(t, SYS_pwrite64, dfd, buf, 4096, 4096), 4096);
	assert_int_equal(U(t, SYS_pread64, fd, back, 8192, 0), 8192);
	assert_memory_equal(back, cached, 4096);
	assert_memory_equal(back + 4096, buf, 4096);
	/* extending direct write; read past EOF is short */
	assert_int_equal(U(t, SYS_pwrite64, dfd, buf, 4096, 8192), 4096);
	assert_int_equal(U(t, SYS_pread64, dfd, buf, 16384, 8192), 4096);
	/* misaligned offset, length or memory: EINVAL, as Linux */
	assert_int_equal(U(t, SYS_pread64, dfd, buf, 4096, 100), -EINVAL);
	assert_int_equal(U(t, SYS_pread64, dfd, buf, 100, 0), -EINVAL);
	assert_int_equal(U(t, SYS_pread64, dfd, buf + 1, 4096, 0), -EINVAL);
	U(t, SYS_close, dfd);
	U(t, SYS_close, fd);
	free(buf);
	remount(f);
	assert_int_equal(get(f->t, "/dio", back, sizeof(back)), 8192);
	assert_memory_equal(back, cached, 4096);
}

/* ---- crashes ------------------------------------------------------------ */

/*
 * fsync'd data survives a power cut that drops every unflushed write; data
 * written after the fsync may be lost, but never shows garbage.
 */
static void test_fsync_crash(void **state)
{
	struct fx *f = *state;
	static char a[100000], b[100000], back[100000];

	for (unsigned int round = 0; round < 4; round++) {
		struct uk_task *t = f->t;
		long n;

		fill(a, sizeof(a), round);
		fill(b, sizeof(b), round + 100);
		assert_int_equal(put(t, "/keep", a, sizeof(a), true),
				 (long)sizeof(a));
		assert_int_equal(put(t, "/maybe", b, sizeof(b), false),
				 (long)sizeof(b));
		fx_crash(f, round & 1 ? BDEV_CRASH_RANDOM
				      : BDEV_CRASH_DROP_ALL, round);
		fx_mount(f);
		t = f->t;
		assert_int_equal(get(t, "/keep", back, sizeof(back)),
				 (long)sizeof(a));
		assert_memory_equal(a, back, sizeof(a));
		n = get(t, "/maybe", back, sizeof(back));
		/* lost or whole: never garbage */
		assert_true(n == -ENOENT || n == 0 || n == (long)sizeof(b));
		if (n == (long)sizeof(b))
			assert_memory_equal(b, back, sizeof(b));
	}
}

/*
 * Orphans wait for the commit (docs/ukfs.md): a file unlinked while open
 * when sync commits is on that commit's orphan list, so a power cut
 * leaves it to the next mount to free; one unlinked after its last close
 * is freed in the same transaction and leaves nothing. fsck is clean
 * after the crash (fx_crash) and after the mount that reclaims.
 */
static uint64_t free_inodes(struct uk_task *t);

static void test_unlinked_open_crash(void **state)
{
	struct fx *f = *state;
	struct uk_task *t = f->t;
	uint64_t before = free_inodes(t);
	char buf[8];
	long fd;

	assert_int_equal(put(t, "/open", "12345678", 8, true), 8);
	assert_int_equal(put(t, "/closed", "abcdefgh", 8, true), 8);
	assert_int_equal(U0(t, SYS_sync), 0);
	fd = U(t, SYS_openat, AT_FDCWD, "/open", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_unlink, "/open"), 0);
	assert_int_equal(U(t, SYS_unlink, "/closed"), 0);
	assert_int_equal(free_inodes(t), before - 1);
	assert_int_equal(U0(t, SYS_sync), 0);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 8, 0), 8);
	assert_memory_equal(buf, "12345678", 8);
	fx_crash(f, BDEV_CRASH_DROP_ALL, 1); /* fd still open */
	fx_mount(f);
	t = f->t;
	assert_int_equal(U(t, SYS_openat, AT_FDCWD, "/open", O_RDONLY),
			 -ENOENT);
	assert_int_equal(U(t, SYS_openat, AT_FDCWD, "/closed", O_RDONLY),
			 -ENOENT);
	assert_int_equal(free_inodes(t), before);
}

/*
 * The write-temp + fsync + rename-over pattern: a crash at any step
 * leaves the old or the new contents, never a mix or an empty file.
 */
static void test_rename_over_crash(void **state)
{
	struct fx *f = *state;
	static char cur[20000], next[20000], back[20000];

	fill(cur, sizeof(cur), 0);
	assert_int_equal(put(f->t, "/cfg", cur, sizeof(cur), true),
			 (long)sizeof(cur));
	assert_int_equal(U0(f->t, SYS_sync), 0);
	for (unsigned int step = 0; step < 8; step++) {
		struct uk_task *t = f->t;
		long fd, n;

		fill(next, sizeof(next), step + 1);
		fd = U(t, SYS_openat, AT_FDCWD, "/cfg.tmp",
		       O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(U(t, SYS_write, fd, next, sizeof(next)),
				 (long)sizeof(next));
		if (step % 4 >= 1)
			assert_int_equal(U(t, SYS_fsync, fd), 0);
		assert_int_equal(U(t, SYS_close, fd), 0);
		if (step % 4 >= 2)
			assert_int_equal(U(t, SYS_rename, "/cfg.tmp", "/cfg"),
					 0);
		if (step % 4 >= 3) {
			fd = U(t, SYS_openat, AT_FDCWD, "/", O_RDONLY);
			assert_int_equal(U(t, SYS_fsync, fd), 0);
			U(t, SYS_close, fd);
		}
		fx_crash(f, step < 4 ? BDEV_CRASH_DROP_ALL : BDEV_CRASH_RANDOM,
			 step);
		fx_mount(f);
		t = f->t;
		n = get(t, "/cfg", back, sizeof(back));
		assert_int_equal(n, (long)sizeof(cur));
		if (memcmp(back, cur, sizeof(cur))) {
			assert_memory_equal(back, next, sizeof(next));
			memcpy(cur, next, sizeof(cur));
		}
		if (step % 4 == 3)
			assert_memory_equal(back, next, sizeof(next));
		U(t, SYS_unlink, "/cfg.tmp");
	}
}

/* ---- space -------------------------------------------------------------- */

/* A full image gives ENOSPC; deleting makes the space usable again. */
static void test_enospc(void **state)
{
	struct fx *f = *state;
	struct uk_task *t;
	static char chunk[65536];
	long fd, r = 0;
	int i;

	fx_umount(f);
	ut_rmimage(f->dir);
	f->dir = ut_mkimage(1u << 20, 64); /* 255 data blocks */
	fx_mount(f);
	t = f->t;
	fill(chunk, sizeof(chunk), 9);
	fd = U(t, SYS_openat, AT_FDCWD, "/fill", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	/* write(2) itself says ENOSPC once no block is left */
	for (i = 0; i < 32; i++) {
		r = U(t, SYS_write, fd, chunk, sizeof(chunk));
		if (r < 0)
			break;
	}
	assert_int_equal(r, -ENOSPC);
	r = U(t, SYS_fsync, fd);
	assert_true(r == 0 || r == -ENOSPC);
	assert_int_equal(U(t, SYS_close, fd), 0);
	/* Inodes run out too. */
	for (i = 0; i < 100; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/i%d", i);
		fd = U(t, SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT, 0644);
		if (fd < 0)
			break;
		U(t, SYS_close, fd);
	}
	assert_int_equal(fd, -ENOSPC);
	remount(f);
	t = f->t;
	assert_int_equal(U(t, SYS_unlink, "/fill"), 0);
	assert_int_equal(U(t, SYS_unlink, "/i0"), 0);
	assert_int_equal(U0(t, SYS_sync), 0);
	assert_int_equal(put(t, "/again", chunk, sizeof(chunk), true),
			 (long)sizeof(chunk));
	remount(f);
}

/* ---- damaged images ----------------------------------------------------- */

static void expect_mount_refused(const char *dir, int err, const char *msg)
{
	struct uk_kernel *k = uk_kernel_new(NULL);
	char buf[256] = "";

	ukfs_bdev_hook = NULL;
	assert_int_equal(uk_kernel_mount_image(k, dir, NULL, buf, sizeof(buf)),
			 err);
	if (!strstr(buf, msg))
		fail_msg("message '%s' lacks '%s'", buf, msg);
	uk_kernel_free(k);
}

static void test_corrupt_refused(void **state)
{
	char *d, *p;

	(void)state;
	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
		  "FROM n WHERE x < 3000) INSERT INTO xattrs SELECT 1, "
		  "'user.' || x, randomblob(100) FROM n;"
		  "PRAGMA wal_checkpoint(TRUNCATE);");
	p = ut_path(d, UKFS_META_FILE);
	assert_int_equal(truncate(p, 64 * 1024), 0);
	expect_mount_refused(d, -EUCLEAN, "truncated");
	free(p);
	ut_rmimage(d);

	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "UPDATE superblock SET version = 7");
	expect_mount_refused(d, -EPROTONOSUPPORT, "format version 7");
	ut_rmimage(d);

	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "INSERT INTO extents VALUES (1, 0, 16380, 10, 0)");
	expect_mount_refused(d, -EUCLEAN, "outside the device");
	ut_rmimage(d);

	d = ut_mkimage(T_SIZE, 0);
	expect_mount_refused("/nonexistent-ukfs-image", -ENOENT, "");
	ut_rmimage(d);
}

/* Read-only mount: reads work, changes get EROFS. */
static void test_read_only(void **state)
{
	struct fx *f = *state;
	struct uk_image_opts o = { .read_only = true };
	struct uk_cred c;
	struct uk_kernel *k;
	struct uk_task *t;
	char buf[8], err[256];

	assert_int_equal(put(f->t, "/r", "data", 4, false), 4);
	fx_umount(f);
	k = uk_kernel_new(NULL);
	ukfs_bdev_hook = NULL;
	assert_int_equal(uk_kernel_mount_image(k, f->dir, &o, err,
					       sizeof(err)), 0);
	uk_cred_init(&c, 0, 0);
	t = uk_task_new(k, 100, &c);
	assert_int_equal(get(t, "/r", buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "data", 4);
	assert_true(U(t, SYS_mkdir, "/x", 0755) < 0);
	uk_task_exit(t);
	uk_kernel_free(k);
	fx_mount(f);
}

/* ---- the dentry cache over ukfs ------------------------------------------ */

/* Free inodes of the file system, from statfs. */
static uint64_t free_inodes(struct uk_task *t)
{
	struct statfs sfs;

	assert_int_equal(U(t, SYS_statfs, "/", &sfs), 0);
	return sfs.f_ffree;
}

static void touch(struct uk_task *t, const char *path)
{
	long fd = U(t, SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_close, fd), 0);
}

/*
 * Renames, unlinks and rmdirs over cached misses. ukfs fills a cached
 * miss on create without pinning it (unlike tmpfs), which is where the
 * reverted d_negs change went wrong: /d/a, a miss made positive and then
 * negative again, was listed twice among /d's cached misses, and freeing
 * it in the rename over it left /d/x pointing at freed memory, which the
 * rename of /d/x then wrote to (ASan: use after free in d_unhash_locked).
 * Then rmdir must free the removed directory's misses with it: its inode
 * is released at once (statfs's free inodes are back), and the unmount
 * walks a consistent cache.
 */
static void test_cached_misses_rename_rmdir(void **state)
{
	struct fx *f = *state;
	struct uk_task *t = f->t;
	uint64_t before = free_inodes(t);
	struct stat st;

	assert_int_equal(U(t, SYS_mkdir, "/d", 0755), 0);
	assert_int_equal(U(t, SYS_mkdir, "/e", 0755), 0);
	assert_int_equal(U(t, SYS_stat, "/d/x", &st), -ENOENT);
	assert_int_equal(U(t, SYS_stat, "/d/a", &st), -ENOENT);
	assert_int_equal(U(t, SYS_stat, "/d/y", &st), -ENOENT);
	touch(t, "/d/a");
	assert_int_equal(U(t, SYS_unlink, "/d/a"), 0);
	assert_int_equal(U(t, SYS_stat, "/d/a", &st), -ENOENT);
	touch(t, "/d/b");
	assert_int_equal(U(t, SYS_rename, "/d/b", "/d/a"), 0);
	touch(t, "/d/x");
	assert_int_equal(U(t, SYS_rename, "/d/x", "/d/c"), 0);
	assert_int_equal(U(t, SYS_stat, "/d/x", &st), -ENOENT);
	assert_int_equal(U(t, SYS_stat, "/d/c", &st), 0);

	/* Exchange a once-missed name across directories, then rmdir. */
	assert_int_equal(U(t, SYS_stat, "/e/m", &st), -ENOENT);
	touch(t, "/e/m");
	assert_int_equal(U(t, SYS_renameat2, AT_FDCWD, "/e/m", AT_FDCWD,
			   "/d/c", RENAME_EXCHANGE),
			 0);
	assert_int_equal(U(t, SYS_unlink, "/e/m"), 0);
	assert_int_equal(U(t, SYS_stat, "/e/nothing", &st), -ENOENT);
	assert_int_equal(U(t, SYS_rmdir, "/e"), 0);
	assert_int_equal(U(t, SYS_stat, "/e", &st), -ENOENT);

	/* A directory replaced by a rename loses its misses too. */
	assert_int_equal(U(t, SYS_mkdir, "/e", 0755), 0);
	assert_int_equal(U(t, SYS_stat, "/e/gone", &st), -ENOENT);
	assert_int_equal(U(t, SYS_mkdir, "/g", 0755), 0);
	assert_int_equal(U(t, SYS_rename, "/g", "/e"), 0);
	assert_int_equal(U(t, SYS_stat, "/e/gone", &st), -ENOENT);
	assert_int_equal(U(t, SYS_rmdir, "/e"), 0);

	assert_int_equal(U(t, SYS_unlink, "/d/a"), 0);
	assert_int_equal(U(t, SYS_unlink, "/d/c"), 0);
	assert_int_equal(U(t, SYS_stat, "/d/z", &st), -ENOENT);
	assert_int_equal(U(t, SYS_rmdir, "/d"), 0);
	assert_int_equal(free_inodes(t), before);
	remount(f);
	assert_int_equal(free_inodes(f->t), before);
	assert_int_equal(U(f->t, SYS_stat, "/d", &st), -ENOENT);
}

/* ---- many requests in flight, lazily written attributes ---------------- */

/*
 * fsync of a 6 MiB file sends one 1536-page run to ukfs, which keeps six
 * 1 MiB requests in flight at once. With no fault the data reads back
 * after a remount; with the third request failed (EIO from the fault
 * wrapper), the fsync reports EIO, once, and the other requests' data is
 * still written.
 */
static void test_many_bios_one_fails(void **state)
{
	struct fx *f = *state;
	static char a[6 << 20], back[6 << 20];
	struct bdev_fault_rule rule = {
		.ops = BDEV_FAULT_WRITE, .nth = 3, .error = EIO,
	};
	struct bdev_stats st0, st1;
	struct uk_task *t = f->t;
	long fd;

	fill(a, sizeof(a), 3);
	bdev_stats_get(f->fdev, &st0);
	assert_int_equal(put(t, "/big", a, sizeof(a), true), (long)sizeof(a));
	bdev_stats_get(f->fdev, &st1);
	assert_true(st1.dir[BDEV_OP_WRITE].requests -
			    st0.dir[BDEV_OP_WRITE].requests >= 6);
	remount(f);
	t = f->t;
	assert_int_equal(get(t, "/big", back, sizeof(back)), (long)sizeof(a));
	assert_memory_equal(a, back, sizeof(a));

	fill(a, sizeof(a), 4);
	fd = U(t, SYS_openat, AT_FDCWD, "/big", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_pwrite64, fd, a, sizeof(a), 0),
			 (long)sizeof(a));
	assert_true(bdev_fault_add(f->fdev, &rule) >= 0);
	assert_int_equal(U(t, SYS_fsync, fd), -EIO);
	assert_int_equal(bdev_fault_injected(f->fdev), 1);
	assert_int_equal(U(t, SYS_fsync, fd), 0); /* reported once */
	bdev_fault_clear(f->fdev);
	assert_int_equal(U(t, SYS_close, fd), 0);
	/* the requests around the failed one were written */
	assert_int_equal(get(t, "/big", back, 1 << 20), 1 << 20);
	assert_memory_equal(a, back, 1 << 20);
	assert_int_equal(U(t, SYS_unlink, "/big"), 0);
}

static int setup_fault(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = ut_mkimage(T_SIZE, T_INODES);
	f->fault_wrap = true;
	f->cache_size = 64u << 20; /* 6 MiB stays under the dirty limits */
	fx_mount(f);
	*state = f;
	return 0;
}

/*
 * Times kept in the in-core inode (a write's mtime, a directory's mtime
 * when an entry is added) reach the row with fsync and with a directory's
 * fsync, and survive a crash right after; readdir cookies cached in
 * memory are written with the same commit, so an entry made after the
 * crash does not reuse one (the create would fail, or a listing would
 * miss it).
 */
static void test_lazy_attrs_crash(void **state)
{
	struct fx *f = *state;
	struct uk_task *t = f->t;
	struct stat st_f, st_d, st;
	char names[64][NAME_MAX + 1];
	long fd, dfd;
	int n = 0;

	assert_int_equal(U(t, SYS_mkdir, "/d", 0755), 0);
	assert_int_equal(put(t, "/d/a", "a", 1, false), 1);
	assert_int_equal(put(t, "/d/b", "b", 1, false), 1);
	fd = U(t, SYS_openat, AT_FDCWD, "/d/a", O_WRONLY);
	assert_true(fd >= 0);
	usleep(2000);
	assert_int_equal(U(t, SYS_pwrite64, fd, "AA", 2, 0), 2);
	assert_int_equal(U(t, SYS_fsync, fd), 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st_f), 0);
	assert_int_equal(U(t, SYS_close, fd), 0);
	dfd = U(t, SYS_openat, AT_FDCWD, "/d", O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	usleep(2000);
	assert_int_equal(put(t, "/d/c", "c", 1, false), 1);
	assert_int_equal(U(t, SYS_fsync, dfd), 0);
	assert_int_equal(U(t, SYS_close, dfd), 0);
	assert_int_equal(U(t, SYS_stat, "/d", &st_d), 0);

	fx_crash(f, BDEV_CRASH_DROP_ALL, 1);
	fx_mount(f);
	t = f->t;
	assert_int_equal(U(t, SYS_stat, "/d/a", &st), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(st.st_mtim.tv_sec, st_f.st_mtim.tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, st_f.st_mtim.tv_nsec);
	assert_int_equal(U(t, SYS_stat, "/d", &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, st_d.st_mtim.tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, st_d.st_mtim.tv_nsec);
	assert_int_equal(st.st_ctim.tv_nsec, st_d.st_ctim.tv_nsec);
	/* new entries get new cookies: all four listed, the new one last */
	assert_int_equal(put(t, "/d/e", "e", 1, false), 1);
	dfd = U(t, SYS_openat, AT_FDCWD, "/d", O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	for (;;) {
		char buf[4096];
		long r = U(t, SYS_getdents64, dfd, buf, sizeof(buf));

		assert_true(r >= 0);
		if (!r)
			break;
		for (long o = 0; o < r;) {
			struct dirent64 *de = (struct dirent64 *)(buf + o);

			if (strcmp(de->d_name, ".") &&
			    strcmp(de->d_name, "..")) {
				assert_true(n < 64);
				snprintf(names[n++], sizeof(names[0]), "%s",
					 de->d_name);
			}
			o += de->d_reclen;
		}
	}
	assert_int_equal(U(t, SYS_close, dfd), 0);
	assert_int_equal(n, 4);
	assert_string_equal(names[3], "e");
}

/*
 * A cold sequential read: the windows after the first are read by the
 * async readahead thread while the reader copies. Every byte must come
 * back right, in small and large reads, and a read request that fails
 * inside an async window (the fault wrapper's fifth read) is retried by
 * the reader that needs the page, so the file still reads back whole.
 */
static void test_async_readahead(void **state)
{
	struct fx *f = *state;
	static char a[16 << 20], back[16 << 20];
	struct bdev_fault_rule rule = {
		.ops = BDEV_FAULT_READ, .nth = 5, .error = EIO,
	};
	struct uk_task *t = f->t;
	size_t chunk[] = { 4096, 65536, 1 << 20, 12345 };

	fill(a, sizeof(a), 7);
	assert_int_equal(put(t, "/seq", a, sizeof(a), true), (long)sizeof(a));
	for (unsigned int round = 0; round < 4; round++) {
		size_t off = 0;
		long fd;

		remount(f); /* an empty cache: every window is read */
		t = f->t;
		if (round == 3)
			assert_true(bdev_fault_add(f->fdev, &rule) >= 0);
		fd = U(t, SYS_openat, AT_FDCWD, "/seq", O_RDONLY);
		assert_true(fd >= 0);
		memset(back, 0, sizeof(back));
		while (off < sizeof(back)) {
			size_t n = sizeof(back) - off < chunk[round]
					   ? sizeof(back) - off
					   : chunk[round];
			long r = U(t, SYS_read, fd, back + off, n);

			assert_true(r > 0);
			off += (size_t)r;
		}
		assert_int_equal(U(t, SYS_read, fd, back, 1), 0);
		assert_memory_equal(a, back, sizeof(a));
		assert_int_equal(U(t, SYS_close, fd), 0);
		if (round == 3) {
			assert_int_equal(bdev_fault_injected(f->fdev), 1);
			bdev_fault_clear(f->fdev);
		}
	}
}

/*
 * Readers of one file larger than the cache evict each other's pages while
 * they read: the warm-read path then redoes a batch whose frames were
 * reused (pcache_read.c, rm_seq), and the redo must land at the same place
 * of a multi-segment destination (vfs_iter_at). It once went on from where
 * the thrown-away copy had stopped: short reads (EFAULT at the end of the
 * buffer) and data at the wrong offsets, which a FUSE read turned into a
 * truncated file.
 */
#define EV_FILE (12u << 20)
#define EV_READ (1u << 20)

struct ev_reader {
	struct uk_task *t;
	const char *want;
	int rounds;
	int bad;
};

static void *ev_read(void *arg)
{
	struct ev_reader *r = arg;
	char *buf = malloc(EV_READ);
	long fd = U(r->t, SYS_openat, AT_FDCWD, "/ev", O_RDONLY);

	if (!buf || fd < 0) {
		r->bad++;
		free(buf);
		return NULL;
	}
	for (int i = 0; i < r->rounds; i++) {
		for (size_t off = 0; off < EV_FILE; off += EV_READ) {
			/* three segments, the middle one odd-sized */
			struct iovec v[3] = {
				{ buf, 4096 + 123 },
				{ buf + 4096 + 123, 300000 },
				{ buf + 4096 + 123 + 300000,
				  EV_READ - 4096 - 123 - 300000 },
			};
			long n = U(r->t, SYS_preadv, fd, v, 3, off);

			if (n != EV_READ || memcmp(buf, r->want + off, EV_READ))
				r->bad++;
		}
	}
	U(r->t, SYS_close, fd);
	free(buf);
	return NULL;
}

static void test_readers_under_eviction(void **state)
{
	struct fx *f = *state;
	char *a = malloc(EV_FILE);
	struct ev_reader r[3];
	pthread_t th[3];
	struct uk_cred c;

	assert_non_null(a);
	fill(a, EV_FILE, 3);
	assert_int_equal(put(f->t, "/ev", a, EV_FILE, true), (long)EV_FILE);
	uk_cred_init(&c, 0, 0);
	for (int i = 0; i < 3; i++) {
		r[i] = (struct ev_reader){ .want = a, .rounds = 6 };
		r[i].t = uk_task_new(f->k, 200 + i, &c);
		assert_non_null(r[i].t);
		assert_int_equal(pthread_create(&th[i], NULL, ev_read, &r[i]),
				 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		uk_task_exit(r[i].t);
		assert_int_equal(r[i].bad, 0);
	}
	free(a);
}

static int setup_small_cache(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = ut_mkimage(T_SIZE, T_INODES);
	f->cache_size = 2u << 20; /* a sixth of the file */
	fx_mount(f);
	*state = f;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_persist_tree, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_persist_changes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unlinked_open, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_st_blocks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fallocate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_zero_edges_keep_holes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_io, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fsync_crash, setup_crash,
						teardown),
		cmocka_unit_test_setup_teardown(test_unlinked_open_crash,
						setup_crash, teardown),
		cmocka_unit_test_setup_teardown(test_rename_over_crash,
						setup_crash, teardown),
		cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_bios_one_fails,
						setup_fault, teardown),
		cmocka_unit_test_setup_teardown(test_async_readahead,
						setup_fault, teardown),
		cmocka_unit_test_setup_teardown(test_lazy_attrs_crash,
						setup_crash, teardown),
		cmocka_unit_test(test_corrupt_refused),
		cmocka_unit_test_setup_teardown(test_read_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cached_misses_rename_rmdir,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_readers_under_eviction,
						setup_small_cache, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
