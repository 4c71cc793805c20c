// SPDX-License-Identifier: MIT
/*
 * test_fuse_ops - a differential test of the FUSE mount: the same steps,
 * with real syscalls, in a directory on the mount and in a native (ext4)
 * directory; every step's result (a value, or -errno) must be the same on
 * both, and so must the trees at the end (names, types, modes, owners,
 * sizes, link counts, data, link targets). Some steps run as an
 * unprivileged user (uid/gid 65534), so the kernel core's permission
 * checks are compared with the host's.
 *
 * usage: test_fuse_ops FUSE_DIR NATIVE_DIR   (both empty, as root)
 * Exit status: 0 all steps agree, 1 a difference (printed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#endif

static int failures;

/* A libc result as the kernel's: the value, or -errno. */
static long res(long v)
{
	return v < 0 ? -errno : v;
}
#define R(x) res((long)(x))
/* a, or when a is 0, b (evaluated only then) */
static long then_;
#define THEN(a, b) ((then_ = (a)) ? then_ : (b))

static long st_summary(const char *p, bool follow);

/* ---- steps: each returns a value or -errno, run with cwd in the dir ---- */

static long st_summary(const char *p, bool follow)
{
	struct stat st;

	if ((follow ? stat(p, &st) : lstat(p, &st)) < 0)
		return -errno;
	/* type+mode, nlink, uid, gid, size: folded into one comparable value */
	return (long)((st.st_mode & 0177777) | ((long)st.st_nlink << 17) |
		      ((long)(st.st_uid & 0xffff) << 24) |
		      ((long)(st.st_gid & 0xffff) << 40)) ^
	       ((long)st.st_size << 48);
}

static long s_mkdir(void) { return R(mkdir("d", 0755)); }
static long s_mkdir_again(void) { return R(mkdir("d", 0755)); }
static long s_mkdir_noent(void) { return R(mkdir("nope/x", 0755)); }
static long s_mkdir_sticky(void) { return THEN(R(mkdir("t", 01777)), R(chmod("t", 01777))); }

static long s_create_write(void)
{
	int fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0644);
	char buf[64] = "";
	long ret;

	if (fd < 0)
		return -errno;
	ret = R(write(fd, "hello world\n", 12));
	if (ret == 12)
		ret = R(pread(fd, buf, sizeof(buf), 0));
	close(fd);
	return ret == 12 && !strcmp(buf, "hello world\n") ? 12 : -1000 - ret;
}

static long s_create_excl(void) { return R(open("f", O_CREAT | O_EXCL | O_RDWR, 0644)); }
static long s_stat_f(void) { return st_summary("f", true); }
static long s_truncate(void) { return THEN(R(truncate("f", 5)), st_summary("f", true)); }

static long s_ftruncate_grow(void)
{
	int fd = open("f", O_RDWR);
	long ret;

	if (fd < 0)
		return -errno;
	ret = R(ftruncate(fd, 10000));
	close(fd);
	return THEN(ret, st_summary("f", true));
}

static long s_append(void)
{
	int fd = open("f", O_WRONLY | O_APPEND);
	struct stat st;
	long ret;

	if (fd < 0)
		return -errno;
	ret = R(write(fd, "tail", 4));
	fstat(fd, &st);
	close(fd);
	return ret < 0 ? ret : (long)st.st_size;
}

static long s_otrunc(void)
{
	int fd = open("g0", O_CREAT | O_WRONLY, 0600);
	long ret;

	if (fd < 0)
		return -errno;
	ret = R(write(fd, "0123456789", 10));
	close(fd);
	fd = open("g0", O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	close(fd);
	return ret < 0 ? ret : st_summary("g0", true);
}

static long s_chmod(void) { return THEN(R(chmod("f", 0640)), st_summary("f", true)); }
static long s_chown(void) { return THEN(R(chown("f", 1000, 1001)), st_summary("f", true)); }
static long s_chown_back(void) { return THEN(R(chown("f", 0, 0)), st_summary("f", true)); }

static long s_utimes(void)
{
	struct timespec ts[2] = { { 1000000000, 123456789 },
				  { 1200000000, 987654321 } };
	struct stat st;

	if (utimensat(AT_FDCWD, "f", ts, 0) < 0 || stat("f", &st) < 0)
		return -errno;
	return (st.st_atim.tv_sec == ts[0].tv_sec &&
		st.st_atim.tv_nsec == ts[0].tv_nsec &&
		st.st_mtim.tv_sec == ts[1].tv_sec &&
		st.st_mtim.tv_nsec == ts[1].tv_nsec) ? 1 : 0;
}

static long s_utimes_omit_now(void)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	struct stat st;

	if (utimensat(AT_FDCWD, "f", ts, 0) < 0 || stat("f", &st) < 0)
		return -errno;
	/* atime kept, mtime now (within a minute) */
	return (st.st_atim.tv_sec == 1000000000 &&
		st.st_mtim.tv_sec > time(NULL) - 60) ? 1 : 0;
}

static long s_symlink(void) { return THEN(R(symlink("f", "l")), st_summary("l", false)); }

static long s_readlink(void)
{
	char buf[64];
	ssize_t n = readlink("l", buf, sizeof(buf));

	return n < 0 ? -errno : (n == 1 && buf[0] == 'f');
}

static long s_link(void) { return THEN(R(link("f", "h")), st_summary("f", true)); }
static long s_link_exists(void) { return R(link("f", "h")); }
static long s_rename(void) { return THEN(R(rename("h", "h2")), st_summary("h2", true)); }
static long s_rename_noreplace(void)
{
	return R(syscall(SYS_renameat2, AT_FDCWD, "h2", AT_FDCWD, "f",
			 RENAME_NOREPLACE));
}
static long s_rename_exchange(void)
{
	return THEN(R(syscall(SYS_renameat2, AT_FDCWD, "g0", AT_FDCWD, "d",
			 RENAME_EXCHANGE)), st_summary("d", false));
}
static long s_rename_back(void)
{
	return THEN(R(syscall(SYS_renameat2, AT_FDCWD, "g0", AT_FDCWD, "d",
			 RENAME_EXCHANGE)), st_summary("g0", false));
}
static long s_rename_over(void) { return THEN(R(rename("h2", "g0")), st_summary("g0", true)); }
static long s_rename_dir_into_self(void) { return R(rename("d", "d/sub")); }
static long s_unlink_noent(void) { return R(unlink("nope")); }
static long s_unlink_dir(void) { return R(unlink("d")); }
static long s_rmdir_file(void) { return R(rmdir("f")); }
static long s_rmdir_notempty(void)
{
	int fd = open("d/x", O_CREAT | O_WRONLY, 0644);

	if (fd >= 0)
		close(fd);
	return R(rmdir("d"));
}
static long s_mkfifo(void) { return THEN(R(mkfifo("p", 0644)), st_summary("p", false)); }

static long s_xattr(void)
{
	char buf[64], list[256];
	long n;

	if (setxattr("f", "user.a", "va", 2, XATTR_CREATE) < 0)
		return -errno;
	if (setxattr("f", "user.a", "vb", 2, XATTR_CREATE) == 0)
		return -2000;
	n = getxattr("f", "user.a", buf, sizeof(buf));
	if (n != 2 || memcmp(buf, "va", 2))
		return -3000 - n;
	n = listxattr("f", list, sizeof(list));
	if (n < 0)
		return -errno;
	if (!memmem(list, (size_t)n, "user.a", 7))
		return -4000;
	if (getxattr("f", "user.a", buf, 1) >= 0 || errno != ERANGE)
		return -5000;
	if (removexattr("f", "user.a") < 0)
		return -errno;
	return R(getxattr("f", "user.a", buf, sizeof(buf)));
}

static long s_fallocate_seek(void)
{
	int fd = open("sp", O_CREAT | O_RDWR, 0644);
	long ret, d, h;

	if (fd < 0)
		return -errno;
	ret = R(fallocate(fd, 0, 0, 8192));
	if (!ret)
		ret = R(pwrite(fd, "x", 1, 1 << 20)); /* a hole, then data */
	d = lseek(fd, 0, SEEK_DATA);
	h = lseek(fd, 1 << 20, SEEK_HOLE);
	close(fd);
	if (ret < 0)
		return ret;
	/* where data starts and where the hole after the last byte is */
	return d < 0 || h < 0 ? -6000 : (d << 32) ^ h;
}

static long s_seek_data_eof(void)
{
	int fd = open("sp", O_RDONLY);
	long ret;

	if (fd < 0)
		return -errno;
	ret = R(lseek(fd, (1 << 20) + 10, SEEK_DATA));
	close(fd);
	return ret;
}

static long s_copy_range(void)
{
	int in = open("f", O_RDONLY), out = open("cp", O_CREAT | O_RDWR, 0644);
	loff_t a = 0, b = 0;
	char buf[16] = "";
	long ret;

	if (in < 0 || out < 0)
		return -errno;
	ret = R(copy_file_range(in, &a, out, &b, 5, 0));
	pread(out, buf, sizeof(buf), 0);
	close(in);
	close(out);
	return ret == 5 && !memcmp(buf, "hello", 5) ? 5 : -7000 - ret;
}

static long s_locks(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 10 };
	int fd = open("f", O_RDWR), st;
	pid_t pid;

	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETLK, &fl) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		int fd2 = open("f", O_RDWR);
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				   .l_start = 5, .l_len = 1 };

		if (fcntl(fd2, F_SETLK, &q) == 0)
			_exit(1); /* should conflict */
		if (fcntl(fd2, F_GETLK, &q) < 0 || q.l_type != F_WRLCK ||
		    q.l_pid != getppid())
			_exit(2);
		if (flock(fd2, LOCK_EX | LOCK_NB) < 0)
			_exit(3); /* flock is independent of fcntl locks */
		_exit(0);
	}
	waitpid(pid, &st, 0);
	close(fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* F_SETLKW sleeps until the holder (another process) unlocks. */
static long s_setlkw(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open("f", O_RDWR), st;
	pid_t pid;

	if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		int fd2 = open("f", O_RDWR);
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (fcntl(fd2, F_SETLKW, &q) < 0)
			_exit(1);
		clock_gettime(CLOCK_MONOTONIC, &b);
		/* it waited for the unlock 200 ms later */
		_exit((b.tv_sec - a.tv_sec) * 1000 +
			      (b.tv_nsec - a.tv_nsec) / 1000000 >= 100 ? 0 : 2);
	}
	usleep(200000);
	fl.l_type = F_UNLCK;
	fcntl(fd, F_SETLK, &fl);
	waitpid(pid, &st, 0);
	close(fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * Several F_SETLKW waiters at once, one of them interrupted by a signal
 * (EINTR), while the holder goes on using the file system: on the mount
 * each waiter sleeps in a daemon worker, and the others must still be
 * served (fusefs's loop starts a reader before a handler may block).
 */
static long s_setlkw_many(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open("f", O_RDWR), st, bad = 0;
	pid_t pids[5], intr;
	struct stat sb;
	char c;

	if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
		return -errno;
	for (int i = 0; i < 5; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			int fd2 = open("f", O_RDWR);
			struct flock q = { .l_type = F_WRLCK,
					   .l_whence = SEEK_SET };

			_exit(fd2 >= 0 && fcntl(fd2, F_SETLKW, &q) == 0 ? 0 : 1);
		}
	}
	intr = fork();
	if (intr == 0) {
		struct sigaction sa = { .sa_handler = on_alarm };
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd2 = open("f", O_RDWR);

		sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART */
		alarm(1);
		_exit(fd2 >= 0 && fcntl(fd2, F_SETLKW, &q) < 0 &&
		      errno == EINTR ? 0 : 1);
	}
	usleep(100000);
	/*
	 * The waiters sleep; the rest of the file system still answers
	 * (creates and unlinks: the host cannot answer them from its caches).
	 */
	for (int i = 0; i < 20; i++) {
		int g = open("lkw-new", O_WRONLY | O_CREAT | O_EXCL, 0644);

		if (g < 0 || close(g) < 0 || unlink("lkw-new") < 0 ||
		    stat("f", &sb) < 0 || pread(fd, &c, 1, 0) < 0)
			bad = 1;
	}
	waitpid(intr, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		bad |= 2;
	fl.l_type = F_UNLCK;
	fcntl(fd, F_SETLK, &fl);
	for (int i = 0; i < 5; i++) {
		waitpid(pids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad |= 4;
	}
	close(fd);
	return bad;
}

static long s_flock(void)
{
	int a = open("f", O_RDONLY), b = open("f", O_RDONLY);
	long ret;

	if (a < 0 || b < 0)
		return -errno;
	ret = R(flock(a, LOCK_EX | LOCK_NB));
	if (!ret)
		ret = R(flock(b, LOCK_EX | LOCK_NB)); /* EWOULDBLOCK */
	close(a);
	if (ret == -EWOULDBLOCK)
		ret = R(flock(b, LOCK_EX | LOCK_NB)); /* free after close */
	close(b);
	return ret;
}

static long s_mmap(void)
{
	int fd = open("mm", O_CREAT | O_RDWR, 0644);
	char *p, buf[8] = "";
	long ret = 0;

	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return -errno;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	memcpy(p, "mapped", 6);
	msync(p, 4096, MS_SYNC);
	munmap(p, 4096);
	close(fd);
	fd = open("mm", O_RDONLY);
	if (pread(fd, buf, 6, 0) != 6 || memcmp(buf, "mapped", 6))
		ret = -8000;
	close(fd);
	return ret;
}

static long s_access(void)
{
	return (access("f", R_OK | W_OK) == 0 ? 1 : 0) |
	       (access("f", X_OK) == 0 ? 2 : 0) |
	       (access("nope", F_OK) == 0 ? 4 : 0);
}

static long s_statfs(void)
{
	struct statfs sf;

	return statfs(".", &sf) < 0 ? -errno : (sf.f_bsize > 0);
}

/* Unprivileged steps (run in a child as 65534:65534). */
static long u_read_private(void) { return R(open("f", O_RDONLY)); }
static long u_create_in_root_dir(void) { return R(open("u", O_CREAT | O_WRONLY, 0644)); }
static long u_chmod_not_owner(void) { return R(chmod("f", 0777)); }
static long u_utimes_now_not_writable(void) { return R(utimensat(AT_FDCWD, "f", NULL, 0)); }
static long u_utimes_explicit(void)
{
	struct timespec ts[2] = { { 5, 0 }, { 5, 0 } };

	return R(utimensat(AT_FDCWD, "f", ts, 0));
}
static long u_create_sticky(void)
{
	int fd = open("t/mine", O_CREAT | O_WRONLY, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return st_summary("t/mine", true);
}
static long u_unlink_sticky_other(void) { return R(unlink("t/roots")); }
static long u_access_w(void) { return R(access("f", W_OK)); }
static long u_readdir_ok(void)
{
	DIR *d = opendir(".");

	if (!d)
		return -errno;
	closedir(d);
	return 0;
}
static long u_link_own(void)
{
	return THEN(R(link("t/mine", "t/mine2")), st_summary("t/mine", true));
}
static long u_rename_own(void)
{
	return THEN(R(rename("t/mine2", "t/mine3")), st_summary("t/mine3", true));
}
static long u_chown_other(void) { return R(chown("t/mine", 0, 0)); }

/* A file only group 4242 may read: the caller's supplementary groups. */
static long s_prep_group(void)
{
	int fd = open("grp", O_CREAT | O_WRONLY, 0640);

	if (fd < 0)
		return -errno;
	close(fd);
	return THEN(R(chown("grp", 0, 4242)), R(chmod("grp", 0640)));
}

static long u_read_by_group(void)
{
	int fd = open("grp", O_RDONLY);

	if (fd < 0)
		return -1000 - errno; /* the group's read was refused */
	close(fd);
	return R(open("grp", O_WRONLY)); /* no write for the group */
}

static long s_prep_sticky(void)
{
	int fd = open("t/roots", O_CREAT | O_WRONLY, 0666);

	if (fd < 0)
		return -errno;
	close(fd);
	return THEN(R(chmod("f", 0600)), R(chmod(".", 0755)));
}

struct step {
	const char *name;
	long (*fn)(void);
	bool unpriv;
};

static const struct step steps[] = {
	{ "mkdir", s_mkdir }, { "mkdir EEXIST", s_mkdir_again },
	{ "mkdir ENOENT", s_mkdir_noent }, { "mkdir sticky", s_mkdir_sticky },
	{ "create+write+pread", s_create_write },
	{ "O_EXCL EEXIST", s_create_excl }, { "stat", s_stat_f },
	{ "truncate", s_truncate }, { "ftruncate grow", s_ftruncate_grow },
	{ "O_APPEND", s_append }, { "O_TRUNC", s_otrunc },
	{ "chmod", s_chmod }, { "chown", s_chown }, { "chown back", s_chown_back },
	{ "utimensat explicit", s_utimes },
	{ "utimensat OMIT/NOW", s_utimes_omit_now },
	{ "symlink", s_symlink }, { "readlink", s_readlink },
	{ "link", s_link }, { "link EEXIST", s_link_exists },
	{ "rename", s_rename }, { "RENAME_NOREPLACE", s_rename_noreplace },
	{ "RENAME_EXCHANGE", s_rename_exchange },
	{ "RENAME_EXCHANGE back", s_rename_back },
	{ "rename over", s_rename_over },
	{ "rename into self", s_rename_dir_into_self },
	{ "unlink ENOENT", s_unlink_noent }, { "unlink EISDIR", s_unlink_dir },
	{ "rmdir ENOTDIR", s_rmdir_file },
	{ "rmdir ENOTEMPTY", s_rmdir_notempty }, { "mkfifo", s_mkfifo },
	{ "xattrs", s_xattr }, { "fallocate+SEEK_DATA/HOLE", s_fallocate_seek },
	{ "SEEK_DATA ENXIO", s_seek_data_eof },
	{ "copy_file_range", s_copy_range }, { "fcntl locks", s_locks },
	{ "F_SETLKW waits", s_setlkw },
	{ "F_SETLKW: many waiters, EINTR", s_setlkw_many }, { "flock", s_flock }, { "mmap shared", s_mmap },
	{ "access", s_access }, { "statfs", s_statfs },
	{ "prepare sticky", s_prep_sticky },
	{ "prepare group file", s_prep_group },
	{ "u: read by supplementary group", u_read_by_group, true },
	{ "u: open 0600 EACCES", u_read_private, true },
	{ "u: create EACCES", u_create_in_root_dir, true },
	{ "u: chmod EPERM", u_chmod_not_owner, true },
	{ "u: utimes NOW EACCES", u_utimes_now_not_writable, true },
	{ "u: utimes EPERM", u_utimes_explicit, true },
	{ "u: create in sticky", u_create_sticky, true },
	{ "u: unlink sticky EPERM", u_unlink_sticky_other, true },
	{ "u: access W_OK", u_access_w, true },
	{ "u: opendir", u_readdir_ok, true },
	{ "u: chown EPERM", u_chown_other, true },
	{ "u: link own file", u_link_own, true },
	{ "u: rename own file", u_rename_own, true },
};

/* Runs fn in dir, as 65534 in a child when unpriv. */
static long run_in(const char *dir, const struct step *s)
{
	int pfd[2], st;
	long v = -99999;
	pid_t pid;

	if (!s->unpriv) {
		if (chdir(dir) < 0)
			return -100000;
		return s->fn();
	}
	if (pipe(pfd) < 0)
		return -100001;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		gid_t groups[1] = { 4242 }; /* a supplementary group */

		if (chdir(dir) < 0 || setgroups(1, groups) < 0 ||
		    setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(1);
		v = s->fn();
		if (write(pfd[1], &v, sizeof(v)) != sizeof(v))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &v, sizeof(v)) != sizeof(v))
		v = -100002;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return v;
}

/* ---- tree comparison ---------------------------------------------------- */

static void compare_tree(const char *a, const char *b, const char *rel)
{
	char pa[4096], pb[4096];
	struct dirent **la, **lb;
	int na, nb;

	snprintf(pa, sizeof(pa), "%s/%s", a, rel);
	snprintf(pb, sizeof(pb), "%s/%s", b, rel);
	na = scandir(pa, &la, NULL, alphasort);
	nb = scandir(pb, &lb, NULL, alphasort);
	if (na != nb) {
		printf("FAIL tree %s: %d vs %d entries\n", rel, na, nb);
		failures++;
		goto out_free;
	}
	for (int i = 0; i < na; i++) {
		const char *n = la[i]->d_name;
		char ra[4096], fa[8192], fb[8192];
		struct stat sa, sb;

		if (strcmp(n, lb[i]->d_name)) {
			printf("FAIL tree %s: name %s vs %s\n", rel, n,
			       lb[i]->d_name);
			failures++;
			continue;
		}
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		snprintf(ra, sizeof(ra), "%s/%s", rel, n);
		snprintf(fa, sizeof(fa), "%s/%s", a, ra);
		snprintf(fb, sizeof(fb), "%s/%s", b, ra);
		lstat(fa, &sa);
		lstat(fb, &sb);
		if (sa.st_mode != sb.st_mode || sa.st_uid != sb.st_uid ||
		    sa.st_gid != sb.st_gid || sa.st_nlink != sb.st_nlink ||
		    (!S_ISDIR(sa.st_mode) && sa.st_size != sb.st_size) ||
		    la[i]->d_type != lb[i]->d_type) {
			printf("FAIL tree %s: mode %o/%o uid %d/%d nlink %lu/%lu "
			       "size %ld/%ld\n", ra, sa.st_mode, sb.st_mode,
			       sa.st_uid, sb.st_uid, sa.st_nlink, sb.st_nlink,
			       sa.st_size, sb.st_size);
			failures++;
		}
		if (S_ISDIR(sa.st_mode)) {
			compare_tree(a, b, ra);
		} else if (S_ISREG(sa.st_mode)) {
			char cmd[20000];

			snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", fa, fb);
			if (system(cmd)) {
				printf("FAIL tree %s: data differs\n", ra);
				failures++;
			}
		}
	}
out_free:
	for (int i = 0; i < na; i++)
		free(la[i]);
	for (int i = 0; i < nb; i++)
		free(lb[i]);
	if (na >= 0)
		free(la);
	if (nb >= 0)
		free(lb);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s FUSE_DIR NATIVE_DIR\n", argv[0]);
		return 2;
	}
	umask(022);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		long a = run_in(argv[1], &steps[i]);
		long b = run_in(argv[2], &steps[i]);

		if (a != b) {
			printf("FAIL %-28s fuse %ld (%s)  native %ld (%s)\n",
			       steps[i].name, a, a < 0 && a > -4096 ?
			       strerror((int)-a) : "", b, b < 0 && b > -4096 ?
			       strerror((int)-b) : "");
			failures++;
		} else {
			printf("ok   %-28s %ld\n", steps[i].name, a);
		}
	}
	compare_tree(argv[1], argv[2], ".");
	printf("%d difference(s)\n", failures);
	return failures ? 1 : 0;
}
