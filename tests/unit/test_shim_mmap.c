// SPDX-License-Identifier: MIT
/*
 * test_shim_mmap - mmap of virtual files through libukshim.so against a
 * real ukerneld (shimlib_test.h): private copies, shared shadows written
 * back at msync, munmap, fsync, close and exit (only the pages the
 * program changed), mappings sharing one shadow, errors as Linux gives
 * them. The file's bytes are always checked through read(), i.e. what the
 * daemon holds.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "shimlib_test.h"

#define PG 4096

/* A file of n bytes, byte i = (i * 7 + 3) & 0xff. */
static int make_file(const char *p, size_t n)
{
	unsigned char *b = malloc(n);
	int fd;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 7 + 3);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	free(b);
	return fd;
}

/* The byte at off as the daemon holds it. */
static int byte_at(const char *p, off_t off)
{
	unsigned char c;
	int fd = open(p, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	close(fd);
	return c;
}

static void test_private(void **state)
{
	const char *p = UKT_ROOT "/priv";
	size_t n = 3 * PG + 100;
	int fd = make_file(p, n);
	unsigned char *m;

	(void)state;
	m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	assert_true(m != MAP_FAILED);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(m[i], (unsigned char)(i * 7 + 3));
	/* Past EOF in the last page: zeros, as Linux gives. */
	assert_int_equal(m[n], 0);
	m[10] = 0xee;
	assert_int_equal(munmap(m, n), 0);
	assert_int_equal(byte_at(p, 10), (unsigned char)(10 * 7 + 3));
	/* An offset; read-only protection holds. */
	m = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
	assert_true(m != MAP_FAILED);
	assert_int_equal(m[0], (unsigned char)(PG * 7 + 3));
	assert_int_equal(munmap(m, PG), 0);
	close(fd);
}

static void test_shared_msync_dirty_pages_only(void **state)
{
	const char *p = UKT_ROOT "/shared";
	int fd = make_file(p, 4 * PG);
	unsigned char *m, c = 0x55;

	(void)state;
	m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(m[PG + 1], (unsigned char)((PG + 1) * 7 + 3));
	m[5] = 0xa1;
	m[2 * PG + 9] = 0xa2;
	/* A write() to a page the mapping did not change survives. */
	assert_int_equal(pwrite(fd, &c, 1, PG + 1), 1);
	assert_int_equal(msync(m, 4 * PG, MS_SYNC), 0);
	assert_int_equal(byte_at(p, 5), 0xa1);
	assert_int_equal(byte_at(p, 2 * PG + 9), 0xa2);
	assert_int_equal(byte_at(p, PG + 1), 0x55);
	assert_int_equal(byte_at(p, 6), (unsigned char)(6 * 7 + 3));
	assert_int_equal(munmap(m, 4 * PG), 0);
	close(fd);
}

static void test_munmap_after_close(void **state)
{
	const char *p = UKT_ROOT "/afterclose";
	int fd = make_file(p, 2 * PG);
	unsigned char *m;

	(void)state;
	m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(close(fd), 0);
	m[PG + 3] = 0xb3;
	assert_int_equal(munmap(m, 2 * PG), 0);
	assert_int_equal(byte_at(p, PG + 3), 0xb3);
}

static void test_fsync_and_close_write_back(void **state)
{
	const char *p = UKT_ROOT "/fsync";
	int fd = make_file(p, PG);
	unsigned char *m;

	(void)state;
	m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	m[1] = 0xc1;
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(byte_at(p, 1), 0xc1);
	m[2] = 0xc2;
	assert_int_equal(close(fd), 0);
	assert_int_equal(byte_at(p, 2), 0xc2);
	assert_int_equal(munmap(m, PG), 0);
}

static void test_exit_writes_back(void **state)
{
	const char *p = UKT_ROOT "/exit";
	int fd = make_file(p, PG), st;
	pid_t c;

	(void)state;
	close(fd);
	c = fork();
	if (c == 0) {
		int f = open(p, O_RDWR);
		unsigned char *m = mmap(NULL, PG, PROT_READ | PROT_WRITE,
					MAP_SHARED, f, 0);

		if (m == MAP_FAILED)
			_exit(2);
		m[7] = 0xd7;
		exit(0);
	}
	assert_int_equal(waitpid(c, &st, 0), c);
	assert_int_equal(st, 0);
	assert_int_equal(byte_at(p, 7), 0xd7);
}

static void test_two_mappings_share(void **state)
{
	const char *p = UKT_ROOT "/two";
	int fd = make_file(p, 2 * PG), fd2;
	unsigned char *a, *b;

	(void)state;
	fd2 = open(p, O_RDWR);
	a = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, PG);
	assert_true(a != MAP_FAILED && b != MAP_FAILED);
	a[PG + 4] = 0xe4;
	assert_int_equal(b[4], 0xe4);
	b[5] = 0xe5;
	assert_int_equal(a[PG + 5], 0xe5);
	assert_int_equal(munmap(b, PG), 0);
	assert_int_equal(byte_at(p, PG + 5), 0xe5);
	assert_int_equal(munmap(a, 2 * PG), 0);
	close(fd);
	close(fd2);
}

static void test_partial_munmap(void **state)
{
	const char *p = UKT_ROOT "/partial";
	int fd = make_file(p, 4 * PG);
	unsigned char *m;

	(void)state;
	m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	m[PG] = 0xf1;
	assert_int_equal(munmap(m + PG, 2 * PG), 0);
	assert_int_equal(byte_at(p, PG), 0xf1);
	m[0] = 0xf0;
	m[3 * PG] = 0xf3;
	assert_int_equal(munmap(m, PG), 0);
	assert_int_equal(byte_at(p, 0), 0xf0);
	assert_int_equal(munmap(m + 3 * PG, PG), 0);
	assert_int_equal(byte_at(p, 3 * PG), 0xf3);
	close(fd);
}

static void test_errors(void **state)
{
	const char *p = UKT_ROOT "/err";
	int fd = make_file(p, PG), ro, wo;

	(void)state;
	close(fd);
	ro = open(p, O_RDONLY);
	wo = open(p, O_WRONLY);
	errno = 0;
	assert_true(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro,
			 0) == MAP_FAILED);
	assert_int_equal(errno, EACCES);
	errno = 0;
	assert_true(mmap(NULL, PG, PROT_READ, MAP_SHARED, wo, 0) ==
		    MAP_FAILED);
	assert_int_equal(errno, EACCES);
	errno = 0;
	assert_true(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, ro, 1) ==
		    MAP_FAILED);
	assert_int_equal(errno, EINVAL);
	/* Private read-write of a read-only fd is allowed, as on Linux. */
	{
		void *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			       ro, 0);

		assert_true(m != MAP_FAILED);
		munmap(m, PG);
	}
	close(ro);
	close(wo);
}

static void test_host_mmap(void **state)
{
	char p[PATH_MAX];
	int fd;
	char *m;

	(void)state;
	if (snprintf(p, sizeof(p), "%s/host-map", ukt_native()) >=
	    (int)sizeof(p))
		abort();
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(ftruncate(fd, PG), 0);
	m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	m[0] = 'h';
	assert_int_equal(munmap(m, PG), 0);
	assert_int_equal(pread(fd, p, 1, 0), 1);
	assert_int_equal(p[0], 'h');
	close(fd);
}

static int run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private),
		cmocka_unit_test(test_shared_msync_dirty_pages_only),
		cmocka_unit_test(test_munmap_after_close),
		cmocka_unit_test(test_fsync_and_close_write_back),
		cmocka_unit_test(test_exit_writes_back),
		cmocka_unit_test(test_two_mappings_share),
		cmocka_unit_test(test_partial_munmap),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_host_mmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(int argc, char **argv)
{
	return shimlib_test_main(argc, argv, run);
}
