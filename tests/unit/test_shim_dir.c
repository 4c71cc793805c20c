// SPDX-License-Identifier: MIT
/*
 * test_shim_dir - directory streams and the tree walkers (realpath, nftw,
 * ftw, glob, scandir) on virtual directories through libukshim.so, against
 * a real ukerneld (shimlib_test.h). Each workload runs on /uk and in a
 * native directory and the transcripts must be equal.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shimlib_test.h"

struct log {
	char buf[65536];
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

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names (and types) of dir in sorted order, into l. */
static void log_listing(struct log *l, const char *dir)
{
	DIR *d = opendir(dir);
	char *names[1200];
	size_t n = 0;
	struct dirent *e;

	logf_(l, "opendir %s %d\n", strrchr(dir, '/'), d != NULL);
	if (!d)
		return;
	while ((e = readdir(d)) && n < 1200) {
		char b[300];

		snprintf(b, sizeof(b), "%s:%d", e->d_name, e->d_type);
		names[n++] = strdup(b);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		logf_(l, " %s", names[i]);
		free(names[i]);
	}
	logf_(l, "\n");
}

static void mk(const char *base, const char *rel, bool dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (dir) {
		assert_int_equal(mkdir(p, 0755), 0);
	} else {
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, rel, strlen(rel)), (ssize_t)strlen(rel));
		close(fd);
	}
}

/* A small tree under base/wt: files, dirs, a symlink. */
static void make_tree(const char *base)
{
	char p[PATH_MAX];

	mk(base, "wt", true);
	mk(base, "wt/a", true);
	mk(base, "wt/a/b", true);
	mk(base, "wt/a/b/f1", false);
	mk(base, "wt/a/f2", false);
	mk(base, "wt/c", true);
	mk(base, "wt/c/x.txt", false);
	mk(base, "wt/c/y.txt", false);
	mk(base, "wt/c/z.dat", false);
	mk(base, "wt/g", false);
	snprintf(p, sizeof(p), "%s/wt/ln", base);
	assert_int_equal(symlink("a/b", p), 0);
	snprintf(p, sizeof(p), "%s/wt/c/dangle", base);
	assert_int_equal(symlink("nowhere", p), 0);
}

static struct log *nftw_log;

static int nftw_cb(const char *path, const struct stat *st, int type,
		   struct FTW *f)
{
	/* Relative to the walk's start, so the two sides compare. */
	const char *rel = strstr(path, "/wt");

	logf_(nftw_log, "%s t%d l%d b%d %s\n", rel, type, f->level,
	      (int)(path + f->base - rel), S_ISDIR(st->st_mode) ? "d" : "-");
	return 0;
}

static int ftw_cb(const char *path, const struct stat *st, int type)
{
	(void)st;
	logf_(nftw_log, "ftw %s %d\n", strstr(path, "/wt"), type);
	return 0;
}

static int stop_cb(const char *path, const struct stat *st, int type,
		   struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	return strstr(path, "/c") ? 42 : 0;
}

static int skip_cb(const char *path, const struct stat *st, int type,
		   struct FTW *f)
{
	(void)st;
	(void)f;
	logf_(nftw_log, "skip %s\n", strstr(path, "/wt"));
	return type == FTW_D && strstr(path, "/a") ? FTW_SKIP_SUBTREE :
						     FTW_CONTINUE;
}

static int filt_txt(const struct dirent *e)
{
	return strstr(e->d_name, ".txt") != NULL;
}

/* Everything that walks, on base; the transcript goes to l. */
static void walk_work(const char *base, struct log *l)
{
	char p[PATH_MAX], r[PATH_MAX], *s;
	struct dirent **nl;
	glob_t g;
	int n;

	make_tree(base);
	snprintf(p, sizeof(p), "%s/wt", base);
	log_listing(l, p);
	snprintf(p, sizeof(p), "%s/wt/a", base);
	log_listing(l, p);

	/* nftw in every order, ftw, a stop value, FTW_ACTIONRETVAL. */
	nftw_log = l;
	snprintf(p, sizeof(p), "%s/wt", base);
	logf_(l, "nftw %d\n", nftw(p, nftw_cb, 8, FTW_PHYS));
	logf_(l, "nftw depth %d\n", nftw(p, nftw_cb, 8, FTW_PHYS | FTW_DEPTH));
	/*
	 * Following links, a directory reached twice is walked once, the
	 * first time readdir meets it: an order that differs between file
	 * systems, so this walk stays out of the linked part.
	 */
	snprintf(r, sizeof(r), "%s/wt/c", base);
	logf_(l, "nftw follow %d\n", nftw(r, nftw_cb, 8, 0));
	logf_(l, "ftw %d\n", ftw(r, ftw_cb, 8));
	logf_(l, "nftw stop %d\n", nftw(p, stop_cb, 8, FTW_PHYS));
	logf_(l, "nftw skip %d\n",
	      nftw(p, skip_cb, 8, FTW_PHYS | FTW_ACTIONRETVAL));
	snprintf(r, sizeof(r), "%s/wt/none", base);
	errno = 0;
	n = nftw(r, nftw_cb, 8, 0);
	logf_(l, "nftw missing %d %d\n", n, errno);
	/*
	 * nftw's sibling order is the directory's order, which differs
	 * between file systems: compare sorted lines.
	 */
	{
		char *lines[512], *save, *tok;
		size_t k = 0;
		char *copy = strdup(l->buf);

		l->len = 0;
		l->buf[0] = 0;
		for (tok = strtok_r(copy, "\n", &save); tok && k < 512;
		     tok = strtok_r(NULL, "\n", &save))
			lines[k++] = tok;
		qsort(lines, k, sizeof(*lines), cmp_str);
		for (size_t i = 0; i < k; i++)
			logf_(l, "%s\n", lines[i]);
		free(copy);
	}

	/* realpath: through a symlink, "..", ".", errors. */
	snprintf(p, sizeof(p), "%s/wt/ln/../b/./f1", base);
	s = realpath(p, r);
	logf_(l, "realpath %s\n", s ? strstr(s, "/wt") : "NULL");
	snprintf(p, sizeof(p), "%s/wt/ln", base);
	s = realpath(p, NULL);
	logf_(l, "realpath %s\n", s ? strstr(s, "/wt") : "NULL");
	free(s);
	snprintf(p, sizeof(p), "%s/wt/nope/x", base);
	errno = 0;
	n = realpath(p, r) != NULL;
	logf_(l, "realpath missing %d %d\n", n, errno);
	snprintf(p, sizeof(p), "%s/wt/g/x", base);
	errno = 0;
	n = realpath(p, r) != NULL;
	logf_(l, "realpath notdir %d %d\n", n, errno);
	snprintf(p, sizeof(p), "%s/wt/c/x.txt", base);
	s = canonicalize_file_name(p);
	logf_(l, "canonicalize %s\n", s ? strstr(s, "/wt") : "NULL");
	free(s);

	/* glob, sorted by glob itself. */
	snprintf(p, sizeof(p), "%s/wt/c/*.txt", base);
	n = glob(p, 0, NULL, &g);
	logf_(l, "glob %d %zu", n, g.gl_pathc);
	for (size_t i = 0; i < g.gl_pathc; i++)
		logf_(l, " %s", strstr(g.gl_pathv[i], "/wt"));
	logf_(l, "\n");
	globfree(&g);
	snprintf(p, sizeof(p), "%s/wt/*/f?", base);
	n = glob(p, GLOB_MARK, NULL, &g);
	logf_(l, "glob %d %zu", n, g.gl_pathc);
	for (size_t i = 0; i < g.gl_pathc; i++)
		logf_(l, " %s", strstr(g.gl_pathv[i], "/wt"));
	logf_(l, "\n");
	globfree(&g);
	snprintf(p, sizeof(p), "%s/wt/*", base);
	n = glob(p, GLOB_MARK | GLOB_ONLYDIR, NULL, &g);
	logf_(l, "glob onlydir %d %zu\n", n, g.gl_pathc);
	globfree(&g);
	snprintf(p, sizeof(p), "%s/wt/q*", base);
	logf_(l, "glob nomatch %d\n", glob(p, 0, NULL, &g));

	/* scandir with a filter and alphasort; scandirat. */
	snprintf(p, sizeof(p), "%s/wt/c", base);
	n = scandir(p, &nl, filt_txt, alphasort);
	logf_(l, "scandir %d", n);
	for (int i = 0; i < n; i++) {
		logf_(l, " %s", nl[i]->d_name);
		free(nl[i]);
	}
	logf_(l, "\n");
	if (n >= 0)
		free(nl);
	{
		int dfd = open(base, O_RDONLY | O_DIRECTORY);

		n = scandirat(dfd, "wt/a", &nl, NULL, alphasort);
		logf_(l, "scandirat %d", n);
		for (int i = 0; i < n; i++) {
			logf_(l, " %s", nl[i]->d_name);
			free(nl[i]);
		}
		logf_(l, "\n");
		if (n >= 0)
			free(nl);
		close(dfd);
	}
	snprintf(p, sizeof(p), "%s/wt/none", base);
	errno = 0;
	n = scandir(p, &nl, NULL, NULL);
	logf_(l, "scandir missing %d %d\n", n, errno);

	/* opendir errors */
	errno = 0;
	n = opendir(p) != NULL;
	logf_(l, "opendir missing %d %d\n", n, errno);
	snprintf(p, sizeof(p), "%s/wt/g", base);
	errno = 0;
	n = opendir(p) != NULL;
	logf_(l, "opendir file %d %d\n", n, errno);
}

static void test_differential(void **state)
{
	static struct log v, h;

	(void)state;
	walk_work(UKT_ROOT, &v);
	walk_work(ukt_native(), &h);
	if (strcmp(v.buf, h.buf))
		printf("--- /uk\n%s--- native\n%s---\n", v.buf, h.buf);
	assert_string_equal(v.buf, h.buf);
}

/* A directory larger than one getdents64 buffer; telldir/seekdir. */
static void test_big_dir_seek(void **state)
{
	char p[PATH_MAX];
	struct dirent *e;
	long pos = -1;
	char at[300] = "";
	int n = 0;
	DIR *d;

	(void)state;
	assert_int_equal(mkdir(UKT_ROOT "/big", 0755), 0);
	for (int i = 0; i < 700; i++) {
		snprintf(p, sizeof(p), UKT_ROOT "/big/entry-with-a-longish-name-%04d", i);
		close(open(p, O_CREAT | O_WRONLY, 0644));
	}
	d = opendir(UKT_ROOT "/big");
	assert_non_null(d);
	while ((e = readdir(d))) {
		n++;
		if (n == 400) {
			pos = telldir(d);
			e = readdir(d);
			n++;
			snprintf(at, sizeof(at), "%s", e->d_name);
		}
	}
	assert_int_equal(n, 702);
	seekdir(d, pos);
	e = readdir(d);
	assert_non_null(e);
	assert_string_equal(e->d_name, at);
	rewinddir(d);
	n = 0;
	while (readdir(d))
		n++;
	assert_int_equal(n, 702);
	/* rewinddir sees a name added since. */
	close(open(UKT_ROOT "/big/late", O_CREAT | O_WRONLY, 0644));
	rewinddir(d);
	n = 0;
	while ((e = readdir(d)))
		n += !strcmp(e->d_name, "late");
	assert_int_equal(n, 1);
	closedir(d);
}

/* readdir_r, fdopendir, dirfd; closedir closes the vfd. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void test_fdopendir_readdir_r(void **state)
{
	struct dirent ent, *res;
	int fd, n = 0, r;
	DIR *d;

	(void)state;
	assert_int_equal(mkdir(UKT_ROOT "/fdo", 0755), 0);
	close(open(UKT_ROOT "/fdo/one", O_CREAT | O_WRONLY, 0644));
	fd = open(UKT_ROOT "/fdo", O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	d = fdopendir(fd);
	assert_non_null(d);
	assert_int_equal(dirfd(d), fd);
	while ((r = readdir_r(d, &ent, &res)) == 0 && res)
		n += !strcmp(ent.d_name, "one");
	assert_int_equal(r, 0);
	assert_int_equal(n, 1);
	assert_int_equal(closedir(d), 0);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	/* fdopendir of a file: ENOTDIR. */
	fd = open(UKT_ROOT "/fdo/one", O_RDONLY);
	errno = 0;
	assert_null(fdopendir(fd));
	assert_int_equal(errno, ENOTDIR);
	close(fd);
}

/* Host directory streams still work (and are glibc's). */
static void test_host_dir(void **state)
{
	DIR *d = opendir("/proc/self");
	struct dirent *e;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((e = readdir(d)))
		n += !strcmp(e->d_name, "maps");
	assert_int_equal(n, 1);
	assert_true(dirfd(d) >= 0);
	closedir(d);
}

/* A relative walk with the cwd inside /uk. */
static void test_relative_cwd(void **state)
{
	char buf[PATH_MAX], *s;
	glob_t g;

	(void)state;
	assert_int_equal(mkdir(UKT_ROOT "/rel", 0755), 0);
	assert_int_equal(mkdir(UKT_ROOT "/rel/sub", 0755), 0);
	close(open(UKT_ROOT "/rel/sub/k1", O_CREAT | O_WRONLY, 0644));
	close(open(UKT_ROOT "/rel/sub/k2", O_CREAT | O_WRONLY, 0644));
	assert_int_equal(chdir(UKT_ROOT "/rel"), 0);
	s = realpath("sub/../sub/k1", buf);
	assert_non_null(s);
	assert_string_equal(s, UKT_ROOT "/rel/sub/k1");
	assert_int_equal(glob("sub/k*", 0, NULL, &g), 0);
	assert_int_equal(g.gl_pathc, 2);
	assert_string_equal(g.gl_pathv[0], "sub/k1");
	globfree(&g);
	{
		DIR *d = opendir("sub");

		assert_non_null(d);
		closedir(d);
	}
	assert_int_equal(chdir("/"), 0);
}

/*
 * The mkstemp family and mkdtemp on virtual templates: glibc's create
 * with internal calls, so these must be the shim's (git init, sed -i).
 * Checked against what Linux gives on a native directory.
 */
static void temp_check(const char *dir)
{
	char t[PATH_MAX], t2[PATH_MAX], *d;
	struct stat st;
	int fd, fd2;

	snprintf(t, sizeof(t), "%s/tmpXXXXXX", dir);
	fd = mkstemp(t);
	assert_true(fd >= 0);
	assert_int_equal(strncmp(t, dir, strlen(dir)), 0);
	assert_null(strstr(t, "XXXXXX"));
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_int_equal(lstat(t, &st), 0);
	assert_int_equal(st.st_size, 3);
	close(fd);
	assert_int_equal(unlink(t), 0);
	/* mkostemp's flags; two calls, two names. */
	snprintf(t, sizeof(t), "%s/oXXXXXX", dir);
	snprintf(t2, sizeof(t2), "%s/oXXXXXX", dir);
	fd = mkostemp(t, O_CLOEXEC | O_APPEND);
	fd2 = mkostemp(t2, 0);
	assert_true(fd >= 0 && fd2 >= 0);
	assert_string_not_equal(t, t2);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_APPEND);
	assert_false(fcntl(fd2, F_GETFD) & FD_CLOEXEC);
	close(fd);
	close(fd2);
	unlink(t);
	unlink(t2);
	/* A suffix stays; XXXXXX must come right before it. */
	snprintf(t, sizeof(t), "%s/sXXXXXX.c", dir);
	fd = mkstemps(t, 2);
	assert_true(fd >= 0);
	assert_string_equal(t + strlen(t) - 2, ".c");
	close(fd);
	unlink(t);
	snprintf(t, sizeof(t), "%s/badXXXXX", dir);
	snprintf(t2, sizeof(t2), "%s", t);
	errno = 0;
	assert_int_equal(mkstemp(t), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(t, t2);
	/* A template in a missing directory. */
	snprintf(t, sizeof(t), "%s/nodir/XXXXXX", dir);
	errno = 0;
	assert_int_equal(mkstemp(t), -1);
	assert_int_equal(errno, ENOENT);
	/* mkdtemp: a 0700 directory. */
	snprintf(t, sizeof(t), "%s/dXXXXXX", dir);
	d = mkdtemp(t);
	assert_ptr_equal(d, t);
	assert_int_equal(lstat(t, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(rmdir(t), 0);
}

static void test_temp_names(void **state)
{
	char host[PATH_MAX];

	(void)state;
	temp_check(UKT_ROOT);
	temp_check(ukt_native());
	/* Relative to a virtual cwd. */
	assert_int_equal(mkdir(UKT_ROOT "/tmpcwd", 0755), 0);
	assert_non_null(getcwd(host, sizeof(host)));
	assert_int_equal(chdir(UKT_ROOT "/tmpcwd"), 0);
	{
		char t[] = "relXXXXXX";
		struct stat st;
		int fd = mkstemp(t);

		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(chdir(host), 0);
		snprintf(host, sizeof(host), UKT_ROOT "/tmpcwd/%s", t);
		assert_int_equal(stat(host, &st), 0);
	}
}

/* pathconf/fpathconf: glibc's ask statfs with internal calls. */
static void test_pathconf(void **state)
{
	const char *nat = ukt_native();
	char missing[PATH_MAX];
	int fd;

	(void)state;
	assert_int_equal(pathconf(UKT_ROOT, _PC_NAME_MAX),
			 pathconf(nat, _PC_NAME_MAX));
	assert_int_equal(pathconf(UKT_ROOT, _PC_PATH_MAX),
			 pathconf(nat, _PC_PATH_MAX));
	assert_int_equal(pathconf(UKT_ROOT, _PC_PIPE_BUF),
			 pathconf(nat, _PC_PIPE_BUF));
	assert_true(pathconf(UKT_ROOT, _PC_LINK_MAX) >= 127);
	assert_int_equal(pathconf(UKT_ROOT, _PC_FILESIZEBITS), 64);
	snprintf(missing, sizeof(missing), "%s/nonexistent", UKT_ROOT);
	errno = 0;
	assert_int_equal(pathconf(missing, _PC_NAME_MAX), -1);
	assert_int_equal(errno, ENOENT);
	fd = open(UKT_ROOT, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(fpathconf(fd, _PC_NAME_MAX), 255);
	assert_int_equal(fpathconf(fd, _PC_LINK_MAX),
			 pathconf(UKT_ROOT, _PC_LINK_MAX));
	close(fd);
	errno = 0;
	assert_int_equal(pathconf(UKT_ROOT, -5), -1);
	assert_int_equal(errno, EINVAL);
}

static int run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_big_dir_seek),
		cmocka_unit_test(test_fdopendir_readdir_r),
		cmocka_unit_test(test_host_dir),
		cmocka_unit_test(test_relative_cwd),
		cmocka_unit_test(test_temp_names),
		cmocka_unit_test(test_pathconf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(int argc, char **argv)
{
	return shimlib_test_main(argc, argv, run);
}
