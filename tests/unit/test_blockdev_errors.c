// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_blockdev_errors.c - error paths that need more than an
 * image: a full host file system (-ENOSPC, on a small tmpfs mounted in a
 * private mount namespace; needs root, else skipped), io_uring refused by
 * seccomp (the automatic psync fallback and its one log line), and the
 * short-transfer helper itself. EIO from the host cannot be provoked
 * without a faulty disk; the fault wrapper's tests cover its delivery.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "test_blockdev_common.h"
#include "internal.h"

static char bt_tmpfs[PATH_MAX];
static const char *bt_tmpfs_why;

/* A 256 KiB tmpfs of our own, invisible to the rest of the host. */
static int bt_group_setup(void **state)
{
	bt_mkdtemp(bt_tmpfs, sizeof(bt_tmpfs));
	if (geteuid() != 0)
		bt_tmpfs_why = "not root";
	else if (unshare(CLONE_NEWNS))
		bt_tmpfs_why = "unshare(CLONE_NEWNS) failed";
	else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		bt_tmpfs_why = "cannot make / private";
	else if (mount("tmpfs", bt_tmpfs, "tmpfs", 0, "size=256k"))
		bt_tmpfs_why = "cannot mount tmpfs";
	return 0;
}

static int bt_group_teardown(void **state)
{
	if (!bt_tmpfs_why)
		umount(bt_tmpfs);
	rmdir(bt_tmpfs);
	return 0;
}

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

/*
 * The host file system fills up in the middle of a merged write: requests
 * wholly written succeed, the rest get -ENOSPC, and the device stays
 * usable.
 */
static void test_enospc_host_full(void **state)
{
	const struct bt_cfg *cfg = *state;
	struct bdev_options o = bt_options(cfg);
	enum { N = 100 };
	struct bdev_request rq[N];
	struct bt_done d[N];
	char path[PATH_MAX + 32];
	struct uk_blockdev *bdev;
	uint8_t *buf, *back;
	int i, ok = 0, ret;

	if (bt_tmpfs_why) {
		print_message("skipped: no tmpfs for ENOSPC (%s); the fault "
			      "wrapper tests cover -ENOSPC delivery\n",
			      bt_tmpfs_why);
		skip();
	}
	snprintf(path, sizeof(path), "%s/%s.img", bt_tmpfs, cfg->name);
	assert_int_equal(bdev_image_create(path, 4 << 20), 0);
	ret = bdev_open(path, &o, &bdev);
	if (ret == -EINVAL && cfg->direct) {
		unlink(path);
		print_message("skipped: O_DIRECT unsupported on tmpfs\n");
		skip();
	}
	if (ret && cfg->backend == BDEV_BACKEND_IO_URING) {
		unlink(path);
		print_message("skipped: io_uring unavailable: %s\n",
			      strerror(-ret));
		skip();
	}
	assert_int_equal(ret, 0);
	buf = bt_alloc(N * 4096);
	back = bt_alloc(4096);
	bt_fill(buf, 0, N, 1);
	memset(d, 0, sizeof(d));
	bdev_plug();
	for (i = 0; i < N; i++) {
		bdev_prep_write(&rq[i], bdev, (uint64_t)i, 1,
				buf + (size_t)i * 4096, bt_end_io, &d[i]);
		assert_int_equal(bdev_submit(&rq[i]), 0);
	}
	bdev_unplug();
	assert_int_equal(bdev_drain(bdev), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(d[i].calls, 1);
		if (d[i].result == 0) {
			assert_int_equal(ok, i);	/* a prefix succeeds */
			ok++;
		} else {
			assert_int_equal(d[i].result, -ENOSPC);
		}
	}
	print_message("%d of %d writes fit\n", ok, N);
	assert_true(ok > 0 && ok < N);
	/* still usable: what was written reads back, rewrites work */
	for (i = 0; i < ok; i++) {
		assert_int_equal(bdev_read(bdev, (uint64_t)i, 1, back), 0);
		assert_memory_equal(back, buf + (size_t)i * 4096, 4096);
	}
	assert_int_equal(bdev_write(bdev, 0, 1, buf + 4096), 0);
	assert_int_equal(bdev_write(bdev, 900, 1, buf), -ENOSPC);
	assert_int_equal(bdev_read(bdev, 0, 1, back), 0);
	assert_memory_equal(back, buf + 4096, 4096);
	assert_int_equal(bdev_close(bdev), 0);
	unlink(path);
	free(buf);
	free(back);
}

/* In a child: refuse io_uring_setup with EPERM, as a seccomp profile does. */
static int bt_block_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]), .filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int bt_fallback_child(const char *path)
{
	struct bdev_options o = { .backend = BDEV_BACKEND_AUTO };
	struct uk_blockdev *a, *b;
	uint8_t *buf = aligned_alloc(4096, 4096);
	int ret;

	if (bt_block_io_uring())
		return 10;
	if (bdev_open(path, &o, &a))
		return 11;
	if (strcmp(bdev_backend_name(a), "psync"))
		return 12;
	memset(buf, 7, 4096);
	if (bdev_write(a, 3, 1, buf) || bdev_read(a, 3, 1, buf) ||
	    buf[100] != 7)
		return 13;
	if (bdev_open(path, &o, &b))	/* no second log line */
		return 14;
	o.backend = BDEV_BACKEND_IO_URING;
	ret = bdev_open(path, &o, &b);
	if (ret != -EPERM && ret != -ENOSYS)	/* ENOSYS: no liburing */
		return 15;
	if (bdev_close(a))
		return 16;
	free(buf);
	return 0;
}

static void test_psync_fallback_when_io_uring_refused(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], out[4096];
	int pipefd[2], status, lines = 0;
	ssize_t n, len = 0;
	pid_t pid;

	bt_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	assert_int_equal(bdev_image_create(path, 1 << 20), 0);
	assert_int_equal(pipe(pipefd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		dup2(pipefd[1], STDERR_FILENO);
		_exit(bt_fallback_child(path));
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + len,
			 sizeof(out) - 1 - (size_t)len)) > 0)
		len += n;
	close(pipefd[0]);
	out[len] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
	rmdir(dir);
	print_message("child said: %s", out);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (n = 0; n < len; n++)
		lines += out[n] == '\n';
	assert_int_equal(lines, 1);
	assert_non_null(strstr(out, "io_uring unavailable"));
	assert_non_null(strstr(out, "psync"));
}

/* The short-transfer helper: advancing, zero-fill at EOF, errors. */
static void test_xfer_advance(void **state)
{
	uint8_t a[100], b[200], c[300];
	struct iovec iov[3] = { { a, 100 }, { b, 200 }, { c, 300 } };
	struct bdev_xfer x;

	bdev_xfer_init(&x, iov, 3, 4096, 600, BDEV_OP_READ, false);
	assert_int_equal(bdev_xfer_advance(&x, 150), 0);
	assert_int_equal(x.iovcnt, 2);
	assert_ptr_equal(x.iov[0].iov_base, b + 50);
	assert_int_equal(x.iov[0].iov_len, 150);
	assert_int_equal(x.offset, 4096 + 150);
	assert_int_equal(x.done, 150);
	assert_int_equal(bdev_xfer_advance(&x, 150), 0);
	assert_int_equal(x.iovcnt, 1);
	assert_ptr_equal(x.iov[0].iov_base, c);
	memset(c, 0xff, sizeof(c));
	assert_int_equal(bdev_xfer_advance(&x, 10), 0);
	/* end of file: the rest reads as zeros */
	assert_int_equal(bdev_xfer_advance(&x, 0), 1);
	assert_int_equal(x.done, 600);
	assert_int_equal(c[9], 0xff);
	assert_int_equal(c[10], 0);
	assert_int_equal(c[299], 0);

	iov[0] = (struct iovec){ a, 100 };
	bdev_xfer_init(&x, iov, 1, 0, 100, BDEV_OP_WRITE, false);
	assert_int_equal(bdev_xfer_advance(&x, 0), -EIO);
	assert_int_equal(bdev_xfer_advance(&x, -ENOSPC), -ENOSPC);
	assert_int_equal(bdev_xfer_advance(&x, 101), -EIO);
	assert_int_equal(bdev_xfer_advance(&x, 100), 1);
}

/* O_DIRECT: a partial block can only be the end of the file. */
static void test_xfer_direct_eof(void **state)
{
	uint8_t *buf = bt_alloc(8192);
	struct iovec iov = { buf, 8192 };
	struct bdev_xfer x;

	bdev_xfer_init(&x, &iov, 1, 0, 8192, BDEV_OP_READ, true);
	assert_int_equal(bdev_xfer_advance(&x, 4096), 0);
	assert_int_equal(bdev_xfer_advance(&x, 1808), 1);
	assert_int_equal(buf[4096 + 1807], 0xa5);
	assert_int_equal(buf[4096 + 1808], 0);
	assert_int_equal(buf[8191], 0);
	free(buf);
}

#define BT_ENOSPC(i) \
	{ "test_enospc_host_full/" #i, test_enospc_host_full, NULL, NULL, \
	  (void *)&bt_cfgs[i] }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BT_ENOSPC(0), BT_ENOSPC(1), BT_ENOSPC(2), BT_ENOSPC(3),
		cmocka_unit_test(test_psync_fallback_when_io_uring_refused),
		cmocka_unit_test(test_xfer_advance),
		cmocka_unit_test(test_xfer_direct_eof),
	};

	return cmocka_run_group_tests(tests, bt_group_setup,
				      bt_group_teardown);
}
