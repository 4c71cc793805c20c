// SPDX-License-Identifier: MIT
/*
 * test_shim_bulk - reads and writes larger than a slot's data area stream
 * through the slot's bulk window (uk_ring_abi.h, docs/shim.md "Sequential
 * data path"): big and odd sizes, offsets that do not fall on chunk
 * boundaries, short reads at end of file, bad buffers (EFAULT, as Linux's
 * copy_to_user/copy_from_user), a buffer that turns bad halfway, several
 * threads streaming at once, a signal handler that makes its own calls in
 * the middle of a stream, and a forked child streaming on an inherited
 * descriptor. Every byte is checked against a pattern. Runs under the
 * shim against a ukerneld on a tmpfs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/time.h>

#include <cmocka.h>

#include "shim_test.h"

/* The pattern byte at offset off of file seed. */
static unsigned char pat(unsigned int seed, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)seed << 40;

	return (unsigned char)(x >> 56 ^ x >> 17);
}

static void fill(unsigned char *b, size_t n, unsigned int seed, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(seed, off + i);
}

/* The first offset where b differs from the pattern, or -1. */
static long mismatch(const unsigned char *b, size_t n, unsigned int seed,
		     uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(seed, off + i))
			return (long)i;
	return -1;
}

/* Writes size bytes of pattern seed in pieces of wsz; 0 or -errno. */
static int put_file(const char *path, unsigned int seed, size_t size,
		    size_t wsz)
{
	unsigned char *b = malloc(wsz);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ret = 0;

	if (fd < 0 || !b) {
		free(b);
		return -EIO;
	}
	for (size_t o = 0; o < size && !ret; o += wsz) {
		size_t n = size - o < wsz ? size - o : wsz;
		ssize_t w;

		fill(b, n, seed, o);
		w = write(fd, b, n);
		if (w != (ssize_t)n)
			ret = w < 0 ? -errno : -EIO;
	}
	close(fd);
	free(b);
	return ret;
}

/* Reads the file back in pieces of rsz and checks it; 0 or -1. */
static int check_file(const char *path, unsigned int seed, size_t size,
		      size_t rsz)
{
	unsigned char *b = malloc(rsz);
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t n;
	int ret = 0;

	if (fd < 0 || !b) {
		free(b);
		return -1;
	}
	while ((n = read(fd, b, rsz)) > 0) {
		if (mismatch(b, (size_t)n, seed, got) >= 0) {
			fprintf(stderr, "%s: mismatch at %zu+%ld\n", path, got,
				mismatch(b, (size_t)n, seed, got));
			ret = -1;
			break;
		}
		got += (size_t)n;
	}
	if (n < 0 || (!ret && got != size)) {
		fprintf(stderr, "%s: read %zu of %zu (%zd, %s)\n", path, got,
			size, n, strerror(errno));
		ret = -1;
	}
	close(fd);
	free(b);
	return ret;
}

static void test_sizes(void **state)
{
	static const size_t sizes[] = { 16384 + 1, 65536 - 3, 65536 + 7,
					 262144, 262144 + 1, (1 << 20) + 13,
					 (3 << 20) - 4095 };
	static const size_t pieces[] = { 16385, 100000, 262145, 1 << 20,
					  (1 << 20) + 3, 4 << 20 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t w = pieces[i % 6], r = pieces[(i + 3) % 6];

		assert_int_equal(put_file("/uk/big", (unsigned int)i, sizes[i],
					  w),
				 0);
		assert_int_equal(check_file("/uk/big", (unsigned int)i,
					    sizes[i], r),
				 0);
		/* The same file through pieces of every size. */
		assert_int_equal(check_file("/uk/big", (unsigned int)i,
					    sizes[i], sizes[i] + 5000),
				 0);
	}
	unlink("/uk/big");
}

/* pread/pwrite at odd offsets; a read across EOF is short. */
static void test_offsets_and_eof(void **state)
{
	size_t size = (2 << 20) + 333, n = (1 << 20) + 77;
	unsigned char *b = malloc(size), *c = malloc(size);
	int fd;

	(void)state;
	fill(b, size, 7, 0);
	fd = open("/uk/off", O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	/* The tail first, then the head: offsets not on chunk edges. */
	assert_int_equal(pwrite(fd, b + 40001, size - 40001, 40001),
			 (ssize_t)(size - 40001));
	assert_int_equal(pwrite(fd, b, 40001, 0), 40001);
	memset(c, 0xee, size);
	assert_int_equal(pread(fd, c + 12345, n, 12345), (ssize_t)n);
	assert_int_equal(mismatch(c + 12345, n, 7, 12345), -1);
	/* Bytes around the range are untouched. */
	assert_int_equal(c[12344], 0xee);
	assert_int_equal(c[12345 + n], 0xee);
	/* Across EOF: short, and exactly the bytes that are there. */
	memset(c, 0xee, size);
	assert_int_equal(pread(fd, c, n, (off_t)(size - 70000)), 70000);
	assert_int_equal(mismatch(c, 70000, 7, size - 70000), -1);
	assert_int_equal(c[70000], 0xee);
	/* At EOF: 0. read() moves the offset by what it returned. */
	assert_int_equal(pread(fd, c, n, (off_t)size), 0);
	assert_int_equal(lseek(fd, (off_t)(size - 5), SEEK_SET),
			 (off_t)(size - 5));
	assert_int_equal(read(fd, c, n), 5);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)size);
	close(fd);
	unlink("/uk/off");
	free(b);
	free(c);
}

/*
 * Bad buffers: EFAULT, never a crash of ours or of the daemon. Checked in
 * a forked child: cmocka's SIGSEGV handler replaced the shim's fault-safe
 * copies' handler, and the child's reconnect puts the shim's back in
 * front (as in test_shim_routing). Returns 0 or the failed check's line.
 */
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "line %d: errno %d\n", __LINE__,       \
				errno);                                        \
			return __LINE__;                                       \
		}                                                              \
	} while (0)

static int efault_child(int fd)
{
	size_t big = 1 << 20, page = 4096;
	unsigned char *none, *ro, *half, *b = malloc(big);
	ssize_t r;

	none = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	half = mmap(NULL, big, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(b && none != MAP_FAILED && ro != MAP_FAILED &&
	      half != MAP_FAILED);
	CHECK(mprotect(half + big / 2, big / 2, PROT_NONE) == 0);

	CHECK(pread(fd, st_hide(none), big, 0) == -1 && errno == EFAULT);
	CHECK(pread(fd, st_hide(ro), big, 0) == -1 && errno == EFAULT);
	CHECK(pwrite(fd, st_hide(none), big, 0) == -1 && errno == EFAULT);
	CHECK(read(fd, st_hide(none), big) == -1 && errno == EFAULT);
	/* A low address (left to the daemon) and an unmapped area. */
	CHECK(pread(fd, st_hide((void *)8), big, 0) == -1 && errno == EFAULT);
	munmap(none, big);
	CHECK(pread(fd, st_hide(none), big, 0) == -1 && errno == EFAULT);
	CHECK(pwrite(fd, st_hide(none), big, (off_t)big) == -1 &&
	      errno == EFAULT);

	/* Half good: Linux writes the good part (short) or fails. */
	fill(half, big / 2, 9, 0);
	r = pwrite(fd, half, big, 0);
	CHECK(r == -1 ? errno == EFAULT : r > 0 && r <= (ssize_t)big / 2);
	if (r > 0) {
		CHECK(pread(fd, b, (size_t)r, 0) == r);
		CHECK(mismatch(b, (size_t)r, 9, 0) == -1);
	}
	r = pread(fd, half, big, 0);
	CHECK(r == -1 ? errno == EFAULT : r > 0 && r <= (ssize_t)big / 2);

	/* The rest of the file is untouched, and still readable. */
	CHECK(pread(fd, b, big, (off_t)big) == (ssize_t)big);
	CHECK(mismatch(b, big, 3, big) == -1);
	CHECK(pread(fd, b, page, (off_t)(2 * big)) == (ssize_t)page);
	CHECK(mismatch(b, page, 3, 2 * big) == -1);
	return 0;
}

static void test_efault(void **state)
{
	pid_t pid;
	int fd, st;

	(void)state;
	assert_int_equal(put_file("/uk/ef", 3, 4 << 20, 1 << 20), 0);
	fd = open("/uk/ef", O_RDWR);
	assert_true(fd >= 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(efault_child(fd) ? 1 : 0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		/* Again here, to say which check failed. */
		pid = fork();
		if (pid == 0) {
			int line = efault_child(fd);

			fprintf(stderr, "efault: check at line %d failed\n",
				line);
			_exit(1);
		}
		waitpid(pid, &st, 0);
		fail();
	}
	close(fd);
	unlink("/uk/ef");
}

struct worker {
	pthread_t th;
	unsigned int seed;
	int failed;
};

/* Each thread streams its own file: pwrite at random places, then reads. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t size = (2 << 20) + w->seed * 4099;
	unsigned char *b = malloc(size), *c = malloc(size);
	char path[64];
	unsigned int r = w->seed * 2654435761u;
	int fd;

	snprintf(path, sizeof(path), "/uk/t%u", w->seed);
	fill(b, size, w->seed, 0);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !b || !c) {
		w->failed = 1;
		goto out;
	}
	for (int round = 0; round < 20 && !w->failed; round++) {
		size_t off, n;

		r = r * 1103515245u + 12345u;
		off = r % size;
		r = r * 1103515245u + 12345u;
		n = 16385 + r % (size - off < 700000 ? 1 : 700000);
		if (off + n > size)
			n = size - off;
		if (pwrite(fd, b + off, n, (off_t)off) != (ssize_t)n)
			w->failed = 2;
	}
	if (pwrite(fd, b, size, 0) != (ssize_t)size)
		w->failed = 3;
	for (int round = 0; round < 20 && !w->failed; round++) {
		size_t off, n;
		ssize_t got;

		r = r * 1103515245u + 12345u;
		off = r % size;
		n = 16385 + (r >> 8) % 1500000;
		got = pread(fd, c, n, (off_t)off);
		if (got != (ssize_t)(n < size - off ? n : size - off) ||
		    mismatch(c, (size_t)got, w->seed, off) >= 0)
			w->failed = 4;
	}
	close(fd);
	unlink(path);
out:
	free(b);
	free(c);
	return NULL;
}

static void test_threads(void **state)
{
	struct worker w[6];

	(void)state;
	for (unsigned int i = 0; i < 6; i++) {
		w[i].seed = i + 1;
		w[i].failed = 0;
		assert_int_equal(pthread_create(&w[i].th, NULL, worker_main,
						&w[i]),
				 0);
	}
	for (unsigned int i = 0; i < 6; i++) {
		pthread_join(w[i].th, NULL);
		assert_int_equal(w[i].failed, 0);
	}
}

/* A handler that makes its own calls while a stream is in flight. */
static volatile sig_atomic_t handler_calls, handler_bad;

static void on_alarm(int sig)
{
	char buf[16];
	int saved = errno, fd;

	(void)sig;
	fd = open("/uk/small", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 5 ||
	    memcmp(buf, "small", 5))
		handler_bad = 1;
	if (fd >= 0)
		close(fd);
	handler_calls++;
	errno = saved;
}

static void test_signals(void **state)
{
	struct itimerval it = { { 0, 300 }, { 0, 300 } };
	struct sigaction sa = { .sa_handler = on_alarm,
				.sa_flags = SA_RESTART };
	size_t size = 4 << 20;

	(void)state;
	assert_int_equal(st_put("/uk/small", "small"), 0);
	assert_int_equal(put_file("/uk/sig", 5, size, size), 0);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(put_file("/uk/sig", 5 + (unsigned)i, size,
					  (1 << 20) + 11),
				 0);
		assert_int_equal(check_file("/uk/sig", 5 + (unsigned)i, size,
					    (1 << 20) + 17),
				 0);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
	assert_int_equal(handler_bad, 0);
	assert_true(handler_calls > 0);
	unlink("/uk/sig");
	unlink("/uk/small");
}

/* A forked child streams on the descriptor it inherited (one offset). */
static void test_fork(void **state)
{
	size_t n = (1 << 20) + 5;
	unsigned char *b = malloc(n);
	pid_t pid;
	int fd, st;

	(void)state;
	fd = open("/uk/fk", O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	/* Connected before the fork: the child has a copy of our task. */
	fill(b, n, 11, 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	pid = fork();
	if (pid == 0) {
		fill(b, n, 11, n);
		_exit(write(fd, b, n) == (ssize_t)n ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The child's write moved our offset too. */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)(2 * n));
	close(fd);
	assert_int_equal(check_file("/uk/fk", 11, 2 * n, 300001), 0);
	unlink("/uk/fk");
	free(b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_offsets_and_eof),
		cmocka_unit_test(test_efault),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_fork),
	};

	shim_test_boot(argc, argv, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
