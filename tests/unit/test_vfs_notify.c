// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_notify.c - the VFS change notifier (vfs_notify.h):
 * a registered notifier records every event, and each mutating call is
 * checked for exactly the events it must send (mask, origin, inode,
 * directory, name, range), on tmpfs and on a ukfs image alike. The
 * callback also checks that it runs outside ns_lock and the inode's locks
 * (it try-locks them), and failed calls must send nothing.
 */
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/xattr.h>

#include "vfs_test.h"
#include "ukfs_test_util.h"
#include "vfs_notify.h"

#define MAXEV 32

struct rec {
	unsigned int mask;
	struct uk_task *origin;
	uint64_t ino, dir_ino, off, len;
	char name[UK_NAME_MAX + 1];
	bool sb_ok;
};

struct fx {
	struct uk_notifier n;
	struct uk_kernel *k;
	struct uk_task *t;
	char *img;                  /* ukfs image dir, or NULL for tmpfs */
	struct vfs_inode *watch;    /* an inode whose locks the callback tries */
	struct rec ev[MAXEV];
	int nev;
	int lock_errors;
};

static void on_event(struct uk_notifier *n, const struct uk_notify_event *ev)
{
	struct fx *f = uk_container_of(n, struct fx, n);
	struct rec *r;

	/* Delivered outside ns_lock and outside the inode's locks. */
	if (pthread_rwlock_trywrlock(&f->k->vfs->ns_lock))
		f->lock_errors++;
	else
		pthread_rwlock_unlock(&f->k->vfs->ns_lock);
	if (f->watch && ev->ino == f->watch->i_ino) {
		if (pthread_rwlock_trywrlock(&f->watch->i_rwsem))
			f->lock_errors++;
		else
			pthread_rwlock_unlock(&f->watch->i_rwsem);
		if (pthread_mutex_trylock(&f->watch->i_lock))
			f->lock_errors++;
		else
			pthread_mutex_unlock(&f->watch->i_lock);
	}
	if (f->nev >= MAXEV)
		return;
	r = &f->ev[f->nev++];
	memset(r, 0, sizeof(*r));
	r->mask = ev->mask;
	r->origin = ev->origin;
	r->ino = ev->ino;
	r->dir_ino = ev->dir_ino;
	r->off = ev->off;
	r->len = ev->len;
	r->sb_ok = ev->sb == f->k->vfs->root_mnt->mnt_sb;
	if (ev->name) {
		assert_true(ev->namelen <= UK_NAME_MAX);
		memcpy(r->name, ev->name, ev->namelen);
	}
}

static int setup_common(void **state, bool ukfs)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct uk_cred c;

	if (!f)
		return -1;
	f->k = uk_kernel_new(NULL);
	if (IS_ERR_OR_NULL(f->k))
		return -1;
	if (ukfs) {
		struct uk_image_opts o = { .cache_size = 4u << 20 };
		char err[256];

		f->img = ut_mkimage(64u << 20, 1024);
		if (uk_kernel_mount_image(f->k, f->img, &o, err,
					  sizeof(err))) {
			print_error("mount: %s\n", err);
			return -1;
		}
	}
	uk_cred_init(&c, 0, 0);
	f->t = uk_task_new(f->k, 100, &c);
	if (IS_ERR_OR_NULL(f->t))
		return -1;
	f->n.event = on_event;
	uk_notifier_register(f->k, &f->n);
	*state = f;
	return 0;
}

static int setup_tmpfs(void **state)
{
	return setup_common(state, false);
}

static int setup_ukfs(void **state)
{
	return setup_common(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	uk_notifier_unregister(f->k, &f->n);
	uk_task_exit(f->t);
	uk_kernel_free(f->k);
	if (f->img) {
		ut_assert_fsck_clean(f->img);
		ut_rmimage(f->img);
	}
	free(f);
	return 0;
}

static uint64_t ino_of(struct fx *f, const char *path)
{
	struct stat st;

	assert_int_equal(U(f->t, SYS_newfstatat, AT_FDCWD, path, &st,
			   AT_SYMLINK_NOFOLLOW),
			 0);
	return st.st_ino;
}

/* Checks event i: mask, ino, and (for names) dir and name. */
static void expect(struct fx *f, int i, unsigned int mask, uint64_t ino,
		   uint64_t dir, const char *name)
{
	struct rec *r;

	if (i >= f->nev) {
		print_error("event %d missing (%d recorded)\n", i, f->nev);
		fail();
	}
	r = &f->ev[i];
	if (r->mask != mask || r->ino != ino ||
	    (name && (r->dir_ino != dir || strcmp(r->name, name)))) {
		print_error("event %d: mask %#x ino %llu dir %llu name '%s'; "
			    "want %#x %llu %llu '%s'\n",
			    i, r->mask, (unsigned long long)r->ino,
			    (unsigned long long)r->dir_ino, r->name, mask,
			    (unsigned long long)ino, (unsigned long long)dir,
			    name ? name : "");
		fail();
	}
	assert_ptr_equal(r->origin, f->t);
	assert_true(r->sb_ok);
}

static void expect_n(struct fx *f, int n)
{
	if (f->nev != n) {
		print_error("%d events, want %d\n", f->nev, n);
		for (int i = 0; i < f->nev; i++)
			print_error("  %#x ino %llu dir %llu '%s'\n",
				    f->ev[i].mask,
				    (unsigned long long)f->ev[i].ino,
				    (unsigned long long)f->ev[i].dir_ino,
				    f->ev[i].name);
		fail();
	}
	assert_int_equal(f->lock_errors, 0);
	f->nev = 0;
}

/* Attaches the lock probe to the inode behind fd. */
static void watch_fd(struct fx *f, long fd)
{
	struct vfs_file *file = vfs_fget(f->t, (unsigned int)fd);

	assert_false(IS_ERR_OR_NULL(file));
	f->watch = file->f_inode;
	vfs_fput(file); /* the open descriptor keeps the inode */
}

static void test_names(void **state)
{
	struct fx *f = *state;
	uint64_t root = ino_of(f, "/"), d, e, fi, s, p;
	long fd;

	assert_int_equal(U(f->t, SYS_mkdir, "/d", 0755), 0);
	d = ino_of(f, "/d");
	expect(f, 0, UK_NOTIFY_CREATE, d, root, "d");
	expect_n(f, 1);

	fd = U(f->t, SYS_open, "/d/f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	fi = ino_of(f, "/d/f");
	expect(f, 0, UK_NOTIFY_CREATE, fi, d, "f");
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_close, fd), 0);
	/* An open of an existing file without O_TRUNC changes nothing. */
	fd = U(f->t, SYS_open, "/d/f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	expect_n(f, 0);
	assert_int_equal(U(f->t, SYS_close, fd), 0);

	assert_int_equal(U(f->t, SYS_symlink, "f", "/d/s"), 0);
	s = ino_of(f, "/d/s");
	expect(f, 0, UK_NOTIFY_CREATE, s, d, "s");
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_mknod, "/d/p", S_IFIFO | 0644, 0), 0);
	p = ino_of(f, "/d/p");
	expect(f, 0, UK_NOTIFY_CREATE, p, d, "p");
	expect_n(f, 1);

	assert_int_equal(U(f->t, SYS_link, "/d/f", "/d/g"), 0);
	expect(f, 0, UK_NOTIFY_CREATE, fi, d, "g");
	expect(f, 1, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 2);
	assert_int_equal(U(f->t, SYS_unlink, "/d/g"), 0);
	expect(f, 0, UK_NOTIFY_DELETE, fi, d, "g");
	expect(f, 1, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 2);

	/* A plain move to another directory. */
	assert_int_equal(U(f->t, SYS_mkdir, "/e", 0755), 0);
	e = ino_of(f, "/e");
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_rename, "/d/f", "/e/h"), 0);
	expect(f, 0, UK_NOTIFY_DELETE, fi, d, "f");
	expect(f, 1, UK_NOTIFY_CREATE, fi, e, "h");
	expect(f, 2, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 3);

	/* Rename over a victim: its name goes, with its inode. */
	assert_int_equal(U(f->t, SYS_rename, "/e/h", "/d/s"), 0);
	expect(f, 0, UK_NOTIFY_DELETE, fi, e, "h");
	expect(f, 1, UK_NOTIFY_DELETE, s, d, "s");
	expect(f, 2, UK_NOTIFY_CREATE, fi, d, "s");
	expect(f, 3, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect(f, 4, UK_NOTIFY_ATTR, s, 0, NULL);
	expect_n(f, 5);

	/* RENAME_EXCHANGE: both pairs. */
	assert_int_equal(U(f->t, SYS_renameat2, AT_FDCWD, "/d/s", AT_FDCWD,
			   "/e", RENAME_EXCHANGE),
			 0);
	expect(f, 0, UK_NOTIFY_DELETE, fi, d, "s");
	expect(f, 1, UK_NOTIFY_DELETE, e, root, "e");
	expect(f, 2, UK_NOTIFY_CREATE, fi, root, "e");
	expect(f, 3, UK_NOTIFY_CREATE, e, d, "s");
	expect(f, 4, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect(f, 5, UK_NOTIFY_ATTR, e, 0, NULL);
	expect_n(f, 6);

	assert_int_equal(U(f->t, SYS_rmdir, "/d/s"), 0);
	expect(f, 0, UK_NOTIFY_DELETE, e, d, "s");
	expect(f, 1, UK_NOTIFY_ATTR, e, 0, NULL);
	expect_n(f, 2);
	assert_int_equal(U(f->t, SYS_unlink, "/e"), 0);
	expect(f, 0, UK_NOTIFY_DELETE, fi, root, "e");
	expect_n(f, 2);

	/* Failures send nothing. */
	assert_int_equal(U(f->t, SYS_unlink, "/nope"), -ENOENT);
	assert_int_equal(U(f->t, SYS_mkdir, "/d", 0755), -EEXIST);
	assert_int_equal(U(f->t, SYS_rename, "/nope", "/x"), -ENOENT);
	assert_int_equal(U(f->t, SYS_link, "/d/p", "/d"), -EEXIST);
	assert_int_equal(U(f->t, SYS_rmdir, "/d"), -ENOTEMPTY);
	expect_n(f, 0);
}

static void test_data_and_attrs(void **state)
{
	struct fx *f = *state;
	uint64_t fi, gi;
	struct timespec ts[2] = { { 1000, 0 }, { 2000, 0 } };
	char buf[16];
	long fd, g;
	int64_t off;

	fd = U(f->t, SYS_open, "/f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	watch_fd(f, fd);
	fi = ino_of(f, "/f");
	expect_n(f, 1);

	assert_int_equal(U(f->t, SYS_write, fd, "hello", 5), 5);
	expect(f, 0, UK_NOTIFY_DATA, fi, 0, NULL);
	assert_int_equal(f->ev[0].off, 0);
	assert_int_equal(f->ev[0].len, 5);
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_pwrite64, fd, "abc", 3, 10), 3);
	expect(f, 0, UK_NOTIFY_DATA, fi, 0, NULL);
	assert_int_equal(f->ev[0].off, 10);
	assert_int_equal(f->ev[0].len, 3);
	expect_n(f, 1);

	/* A read may move atime (relatime): at most that one ATTR. */
	assert_int_equal(U(f->t, SYS_pread64, fd, buf, 5, 0), 5);
	assert_true(f->nev <= 1);
	if (f->nev)
		expect(f, 0, UK_NOTIFY_ATTR, fi, 0, NULL);
	f->nev = 0;

	assert_int_equal(U(f->t, SYS_ftruncate, fd, 4), 0);
	expect(f, 0, UK_NOTIFY_DATA | UK_NOTIFY_ATTR, fi, 0, NULL);
	assert_int_equal(f->ev[0].off, 4);
	assert_int_equal(f->ev[0].len, 0);
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_truncate, "/f", 2), 0);
	expect(f, 0, UK_NOTIFY_DATA | UK_NOTIFY_ATTR, fi, 0, NULL);
	assert_int_equal(f->ev[0].off, 2);
	expect_n(f, 1);
	g = U(f->t, SYS_open, "/f", O_WRONLY | O_TRUNC);
	assert_true(g >= 0);
	expect(f, 0, UK_NOTIFY_DATA | UK_NOTIFY_ATTR, fi, 0, NULL);
	assert_int_equal(f->ev[0].off, 0);
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_close, g), 0);

	assert_int_equal(U(f->t, SYS_fallocate, fd, 0, 0, 8192), 0);
	expect(f, 0, UK_NOTIFY_DATA, fi, 0, NULL);
	assert_int_equal(f->ev[0].off, 0);
	assert_int_equal(f->ev[0].len, 8192);
	expect_n(f, 1);

	assert_int_equal(U(f->t, SYS_chmod, "/f", 0600), 0);
	expect(f, 0, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_fchmod, fd, 0640), 0);
	expect(f, 0, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_chown, "/f", 5, 6), 0);
	expect(f, 0, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_fchown, fd, 7, 8), 0);
	expect(f, 0, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_utimensat, AT_FDCWD, "/f", ts, 0), 0);
	expect(f, 0, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_setxattr, "/f", "user.k", "v", 1, 0), 0);
	expect(f, 0, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_fremovexattr, fd, "user.k"), 0);
	expect(f, 0, UK_NOTIFY_ATTR, fi, 0, NULL);
	expect_n(f, 1);

	/* copy_file_range and sendfile: DATA on the output, the caller's. */
	g = U(f->t, SYS_open, "/g", O_CREAT | O_RDWR, 0644);
	assert_true(g >= 0);
	gi = ino_of(f, "/g");
	expect_n(f, 1);
	assert_int_equal(U(f->t, SYS_pwrite64, fd, "0123456789", 10, 0), 10);
	f->nev = 0;
	off = 100;
	assert_int_equal(U(f->t, SYS_copy_file_range, fd, NULL, g, &off, 4, 0),
			 4);
	/* The input's atime may move too (its read). */
	for (int i = 0; i < f->nev; i++) {
		if (f->ev[i].ino == gi) {
			expect(f, i, UK_NOTIFY_DATA, gi, 0, NULL);
			assert_int_equal(f->ev[i].off, 100);
			assert_int_equal(f->ev[i].len, 4);
		} else {
			expect(f, i, UK_NOTIFY_ATTR, fi, 0, NULL);
		}
	}
	assert_true(f->nev >= 1);
	f->nev = 0;
	off = 0;
	assert_int_equal(U(f->t, SYS_lseek, g, 0, SEEK_SET), 0);
	assert_int_equal(U(f->t, SYS_sendfile, g, fd, &off, 3), 3);
	assert_true(f->nev >= 1);
	for (int i = 0; i < f->nev; i++)
		if (f->ev[i].ino == gi)
			expect(f, i, UK_NOTIFY_DATA, gi, 0, NULL);
	f->nev = 0;

	/* Failures send nothing. */
	assert_int_equal(U(f->t, SYS_write, 99, "x", 1), -EBADF);
	assert_int_equal(U(f->t, SYS_chmod, "/nope", 0600), -ENOENT);
	assert_int_equal(U(f->t, SYS_ftruncate, fd, -1), -EINVAL);
	assert_int_equal(U(f->t, SYS_write, fd, "", 0), 0);
	expect_n(f, 0);

	f->watch = NULL;
	assert_int_equal(U(f->t, SYS_close, g), 0);
	assert_int_equal(U(f->t, SYS_close, fd), 0);
	expect_n(f, 0);
}

/* After unregister, nothing arrives; a second notifier sees its own. */
static void test_unregister(void **state)
{
	struct fx *f = *state;
	struct fx other = { .k = f->k };

	other.n.event = on_event;
	uk_notifier_register(f->k, &other.n);
	assert_int_equal(U(f->t, SYS_mkdir, "/u", 0755), 0);
	assert_int_equal(f->nev, 1);
	assert_int_equal(other.nev, 1);
	uk_notifier_unregister(f->k, &other.n);
	assert_int_equal(U(f->t, SYS_rmdir, "/u"), 0);
	assert_int_equal(f->nev, 3);
	assert_int_equal(other.nev, 1);
	f->nev = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names, setup_tmpfs,
						teardown),
		cmocka_unit_test_setup_teardown(test_data_and_attrs,
						setup_tmpfs, teardown),
		cmocka_unit_test_setup_teardown(test_unregister, setup_tmpfs,
						teardown),
		cmocka_unit_test_setup_teardown(test_names, setup_ukfs,
						teardown),
		cmocka_unit_test_setup_teardown(test_data_and_attrs,
						setup_ukfs, teardown),
		cmocka_unit_test_setup_teardown(test_unregister, setup_ukfs,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
