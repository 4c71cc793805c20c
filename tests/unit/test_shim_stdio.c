// SPDX-License-Identifier: MIT
/*
 * test_shim_stdio - stdio on virtual files through libukshim.so, against a
 * real ukerneld (shimlib_test.h): each case does the same stdio work on
 * /uk and in a native directory and compares what the program sees
 * (returned values, positions, errno, bytes), plus the cases only a
 * virtual stream has (fileno is the vfd, exit flushes, a program exec'd
 * with stdout on /uk prints through stdio).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shimlib_test.h"

/* A transcript of what a sequence of stdio calls returned. */
struct log {
	char buf[8192];
	size_t len;
};

static void logf_(struct log *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(struct log *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	l->len += (size_t)vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len,
				    fmt, ap);
	va_end(ap);
	if (l->len >= sizeof(l->buf))
		l->len = sizeof(l->buf) - 1;
}

static void path_in(char *out, const char *base, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", base, name) >= PATH_MAX)
		abort();
}

/* The stdio workload, in directory base; what it saw goes to l. */
static void stdio_work(const char *base, struct log *l)
{
	char p[PATH_MAX], q[PATH_MAX], line[256], word[64];
	char *gl = NULL;
	size_t glcap = 0;
	int n, x;
	FILE *f;

	path_in(p, base, "stdio.txt");
	f = fopen(p, "w");
	logf_(l, "open %d\n", f != NULL);
	if (!f)
		return;
	logf_(l, "fprintf %d\n", fprintf(f, "alpha %d beta\n", 42));
	logf_(l, "fputs %d\n", fputs("second line\n", f) >= 0);
	logf_(l, "fwrite %zu\n", fwrite("0123456789", 1, 10, f));
	logf_(l, "ftell %ld\n", ftell(f));
	logf_(l, "fclose %d\n", fclose(f));

	f = fopen(p, "r");
	logf_(l, "fgets %s", fgets(line, sizeof(line), f));
	n = fscanf(f, "%63s", word);
	logf_(l, "fscanf %d %s\n", n, word);
	{
		ssize_t g = getline(&gl, &glcap, f);

		logf_(l, "getline %zd [%s]\n", g, gl);
	}
	logf_(l, "fread %zu\n", fread(line, 1, sizeof(line), f));
	logf_(l, "feof %d\n", feof(f) != 0);
	logf_(l, "fseek %d\n", fseek(f, 6, SEEK_SET));
	n = fscanf(f, "%d", &x);
	logf_(l, "fscanf %d %d ftell %ld\n", n, x, ftell(f));
	n = fseek(f, -3, SEEK_END);
	logf_(l, "fseek end %d ftell %ld\n", n, ftell(f));
	logf_(l, "fgetc %c\n", fgetc(f));
	rewind(f);
	logf_(l, "rewind fgetc %c\n", fgetc(f));
	n = ungetc('Z', f);
	logf_(l, "ungetc %d fgetc %c\n", n, fgetc(f));
	logf_(l, "fclose %d\n", fclose(f));
	free(gl);

	/* r+: overwrite in the middle; a: always at the end; a+ reads. */
	f = fopen(p, "r+");
	fseek(f, 6, SEEK_SET);
	logf_(l, "r+ fputs %d\n", fputs("XY", f) >= 0);
	fflush(f);
	fseek(f, 0, SEEK_SET);
	logf_(l, "r+ fgets %s", fgets(line, sizeof(line), f));
	fclose(f);
	f = fopen(p, "a");
	fseek(f, 0, SEEK_SET);
	fputs("tail\n", f);
	logf_(l, "a ftell %ld\n", ftell(f));
	fclose(f);
	f = fopen(p, "a+");
	logf_(l, "a+ fgets %s", fgets(line, sizeof(line), f));
	fputs("more\n", f);
	fseek(f, -5, SEEK_END);
	logf_(l, "a+ fgets %s", fgets(line, sizeof(line), f));
	fclose(f);

	/* Errors, with errno. */
	path_in(q, base, "missing");
	errno = 0;
	n = fopen(q, "r") != NULL;
	logf_(l, "missing %d errno %d\n", n, errno);
	errno = 0;
	n = fopen(p, "wx") != NULL;
	logf_(l, "x on existing %d errno %d\n", n, errno);
	errno = 0;
	n = fopen(p, "q") != NULL;
	logf_(l, "bad mode %d errno %d\n", n, errno);
	path_in(q, base, "new-x");
	f = fopen(q, "wx");
	logf_(l, "x new %d\n", f != NULL);
	if (f)
		fclose(f);
	errno = 0;
	f = fopen(p, "r");
	n = fputc('a', f);
	logf_(l, "fputc on r %d ferror %d errno %d\n", n, ferror(f) != 0,
	      errno);
	fclose(f);
}

static void test_differential(void **state)
{
	static struct log v, h;

	(void)state;
	stdio_work(UKT_ROOT, &v);
	stdio_work(ukt_native(), &h);
	printf("%s", v.buf);
	assert_string_equal(v.buf, h.buf);
}

/* fileno() is the vfd: fstat through it sees the file; fclose closes it. */
static void test_fileno_is_vfd(void **state)
{
	struct stat a, b;
	FILE *f = fopen(UKT_ROOT "/fileno", "w+");
	int fd;

	(void)state;
	assert_non_null(f);
	fd = fileno(f);
	assert_true(fd >= 0);
	assert_int_equal(fputs("12345", f) >= 0, 1);
	assert_int_equal(fflush(f), 0);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(UKT_ROOT "/fileno", &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_size, 5);
	/* The descriptor is a real one: another open does not get it. */
	{
		int o = open("/dev/null", O_RDONLY);

		assert_int_not_equal(o, fd);
		close(o);
	}
	assert_int_equal(fclose(f), 0);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

/* fdopen on a vfd; a mode the descriptor does not allow is EINVAL. */
static void test_fdopen(void **state)
{
	int fd = open(UKT_ROOT "/fdopen", O_RDWR | O_CREAT | O_TRUNC, 0644);
	char buf[16] = { 0 };
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "r+");
	assert_non_null(f);
	assert_int_equal(fileno(f), fd);
	fputs("hello", f);
	rewind(f);
	assert_int_equal(fread(buf, 1, 5, f), 5);
	assert_string_equal(buf, "hello");
	fclose(f);
	fd = open(UKT_ROOT "/fdopen", O_RDONLY);
	errno = 0;
	assert_null(fdopen(fd, "w"));
	assert_int_equal(errno, EINVAL);
	close(fd);
}

/* setvbuf: unbuffered writes reach the file at once, full ones at flush. */
static void test_setvbuf(void **state)
{
	FILE *f = fopen(UKT_ROOT "/vbuf", "w");
	struct stat st;
	static char big[4096];

	(void)state;
	assert_int_equal(setvbuf(f, NULL, _IONBF, 0), 0);
	fputc('a', f);
	assert_int_equal(stat(UKT_ROOT "/vbuf", &st), 0);
	assert_int_equal(st.st_size, 1);
	fclose(f);
	f = fopen(UKT_ROOT "/vbuf", "w");
	assert_int_equal(setvbuf(f, big, _IOFBF, sizeof(big)), 0);
	fputs("buffered", f);
	assert_int_equal(stat(UKT_ROOT "/vbuf", &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(fflush(f), 0);
	assert_int_equal(stat(UKT_ROOT "/vbuf", &st), 0);
	assert_int_equal(st.st_size, 8);
	fclose(f);
}

static void read_file(const char *p, char *buf, size_t len)
{
	int fd = open(p, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = 0;
	close(fd);
}

/* exit() flushes a stream the program never closed. */
static void test_exit_flushes(void **state)
{
	char buf[64];
	int st;
	pid_t p = fork();

	(void)state;
	if (p == 0) {
		FILE *f = fopen(UKT_ROOT "/atexit", "w");

		fprintf(f, "left in the buffer");
		exit(0);
	}
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_int_equal(st, 0);
	read_file(UKT_ROOT "/atexit", buf, sizeof(buf));
	assert_string_equal(buf, "left in the buffer");
}

/* freopen of stdout onto /uk: printf lands in the file. */
static void test_freopen_stdout(void **state)
{
	char buf[64];
	int st;
	pid_t p = fork();

	(void)state;
	if (p == 0) {
		if (!freopen(UKT_ROOT "/freopen", "w", stdout))
			_exit(2);
		printf("via printf %d\n", 7);
		fflush(stdout);
		if (fileno(stdout) != 1)
			_exit(3);
		exit(0);
	}
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_int_equal(st, 0);
	read_file(UKT_ROOT "/freopen", buf, sizeof(buf));
	assert_string_equal(buf, "via printf 7\n");
}

/* freopen of our stream onto another virtual file, in place. */
static void test_freopen_ours(void **state)
{
	FILE *f = fopen(UKT_ROOT "/fr1", "w"), *g;
	char buf[64];

	(void)state;
	fputs("one", f);
	g = freopen(UKT_ROOT "/fr2", "w", f);
	assert_ptr_equal(g, f);
	fputs("two", g);
	fclose(g);
	read_file(UKT_ROOT "/fr1", buf, sizeof(buf));
	assert_string_equal(buf, "one");
	read_file(UKT_ROOT "/fr2", buf, sizeof(buf));
	assert_string_equal(buf, "two");
	f = fopen(UKT_ROOT "/fr2", "r");
	g = freopen(NULL, "r", f);
	assert_ptr_equal(g, f);
	assert_non_null(fgets(buf, sizeof(buf), g));
	assert_string_equal(buf, "two");
	fclose(g);
}

/*
 * A program exec'd with its stdout on a virtual file (as a shell's
 * `printf ... > /uk/f` does) writes through glibc's stdout.
 */
static void test_exec_stdout(void **state)
{
	char buf[64];
	int st;
	pid_t p = fork();

	(void)state;
	if (p == 0) {
		int fd = open(UKT_ROOT "/exec-out",
			      O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(2);
		close(fd);
		execl("/usr/bin/printf", "printf", "x%sy\\n", "abc",
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_int_equal(st, 0);
	read_file(UKT_ROOT "/exec-out", buf, sizeof(buf));
	assert_string_equal(buf, "xabcy\n");
}

/* Host files keep going to glibc: fileno is a plain host descriptor. */
static void test_host_untouched(void **state)
{
	char p[PATH_MAX];
	FILE *f;
	struct stat st;

	(void)state;
	path_in(p, ukt_native(), "host.txt");
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("host", f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	fclose(f);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 4);
}

static int run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_fileno_is_vfd),
		cmocka_unit_test(test_fdopen),
		cmocka_unit_test(test_setvbuf),
		cmocka_unit_test(test_exit_flushes),
		cmocka_unit_test(test_freopen_stdout),
		cmocka_unit_test(test_freopen_ours),
		cmocka_unit_test(test_exec_stdout),
		cmocka_unit_test(test_host_untouched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(int argc, char **argv)
{
	return shimlib_test_main(argc, argv, run);
}
