/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/vfs_extras_test.h - what the VFS extras' tests share: a
 * "target" that runs system calls by number either through uk_dispatch on a
 * task or natively (in this process, or in a forked helper process that
 * stands for a second process), a log of results, and helpers to run one
 * test body on both and compare the logs. Header-only: each test program
 * includes it once.
 */
#ifndef UK_TESTS_VFS_EXTRAS_TEST_H
#define UK_TESTS_VFS_EXTRAS_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uk.h"

#define U(x) ((unsigned long)(x))
#define UP(p) ((unsigned long)(uintptr_t)(p))

/*
 * Where calls run: a uk task (task != NULL), this process (remote == 0),
 * or a forked native helper (remote > 0: its pid). root is the path
 * prefix of the test tree ("" for uk, the temporary directory natively).
 */
struct xt {
	struct uk_task *task;
	pid_t remote;
	int req_fd, resp_fd;
	char root[256];
	char name; /* 'A', 'B', ... for logs */
};

/* A request to a native helper: one syscall, one in/out buffer. */
struct xt_req {
	long nr;
	unsigned long a[6];
	int bufarg; /* index of the argument pointing at buf, or -1 */
	size_t buflen;
	char buf[4096];
};

struct xt_resp {
	long ret;
	char buf[4096];
};

static inline long xt_native(long nr, const unsigned long a[6])
{
	long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);

	return r == -1 ? -errno : r;
}

static inline void xt_remote_loop(int req_fd, int resp_fd)
{
	static struct xt_req req;
	static struct xt_resp resp;

	while (read(req_fd, &req, sizeof(req)) == (ssize_t)sizeof(req)) {
		if (req.bufarg >= 0)
			req.a[req.bufarg] = UP(req.buf);
		resp.ret = xt_native(req.nr, req.a);
		memcpy(resp.buf, req.buf, sizeof(resp.buf));
		if (write(resp_fd, &resp, sizeof(resp)) !=
		    (ssize_t)sizeof(resp))
			break;
	}
	_exit(0);
}

/* Starts a native helper process ("a second process") for t. */
static inline int xt_remote_start(struct xt *t)
{
	int req[2], resp[2];
	pid_t pid;

	if (pipe(req) || pipe(resp))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(req[1]);
		close(resp[0]);
		xt_remote_loop(req[0], resp[1]);
	}
	close(req[0]);
	close(resp[1]);
	t->remote = pid;
	t->req_fd = req[1];
	t->resp_fd = resp[0];
	return 0;
}

static inline void xt_remote_stop(struct xt *t)
{
	if (t->remote <= 0)
		return;
	close(t->req_fd);
	close(t->resp_fd);
	waitpid(t->remote, NULL, 0);
	t->remote = 0;
}

/*
 * Runs syscall nr with args a on t. For a helper process, argument bufarg
 * (if >= 0) points at buflen bytes that travel to it and back.
 */
static inline long xt_call_buf(struct xt *t, long nr, const unsigned long a[6],
			       int bufarg, size_t buflen)
{
	static struct xt_req req;
	static struct xt_resp resp;
	void *ubuf = NULL;

	if (t->task)
		return uk_dispatch(t->task, (unsigned long)nr, a);
	if (!t->remote)
		return xt_native(nr, a);
	if (bufarg >= 0 && bufarg < 6)
		ubuf = (void *)(uintptr_t)a[bufarg];
	req.nr = nr;
	memcpy(req.a, a, sizeof(req.a));
	req.bufarg = ubuf ? bufarg : -1;
	req.buflen = buflen;
	if (ubuf)
		memcpy(req.buf, ubuf, buflen);
	if (write(t->req_fd, &req, sizeof(req)) != (ssize_t)sizeof(req) ||
	    read(t->resp_fd, &resp, sizeof(resp)) != (ssize_t)sizeof(resp))
		return -EPIPE;
	if (ubuf)
		memcpy(ubuf, resp.buf, buflen);
	return resp.ret;
}

static inline long xt_call(struct xt *t, long nr, const unsigned long a[6])
{
	return xt_call_buf(t, nr, a, -1, 0);
}

#define XSC(t, nr, ...)                                                        \
	xt_call((t), (nr), (const unsigned long[6]){__VA_ARGS__})
#define XSCB(t, bufarg, buflen, nr, ...)                                       \
	xt_call_buf((t), (nr), (const unsigned long[6]){__VA_ARGS__},          \
		    (bufarg), (buflen))

/*
 * A shared arena: mapped MAP_SHARED before any helper is forked, so its
 * addresses are valid in the helper too. Every buffer a call on a helper
 * points at (paths, names, values) comes from here. A bump allocator,
 * reset by xt_arena_reset() between test bodies.
 */
#define XT_ARENA_SIZE (4u << 20)
static char *xt_arena;
static size_t xt_arena_used;

static inline void xt_arena_reset(void)
{
	if (!xt_arena) {
		xt_arena = mmap(NULL, XT_ARENA_SIZE, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (xt_arena == MAP_FAILED)
			abort();
	}
	xt_arena_used = 0;
}

/* n zeroed bytes of the arena. */
static inline void *xb(size_t n)
{
	char *p;

	if (!xt_arena)
		xt_arena_reset();
	n = (n + 15) & ~(size_t)15;
	if (xt_arena_used + n > XT_ARENA_SIZE)
		abort();
	p = xt_arena + xt_arena_used;
	xt_arena_used += n;
	memset(p, 0, n);
	return p;
}

/* A copy of s in the arena. */
static inline char *xs(const char *s)
{
	return strcpy(xb(strlen(s) + 1), s);
}

/* The full path of rel in t's tree, in the arena. */
static inline const char *xp(const struct xt *t, const char *rel)
{
	char *b = xb(strlen(t->root) + strlen(rel) + 2);

	sprintf(b, "%s/%s", t->root, rel);
	return b;
}

/* open(2) of rel on t (the path travels to a helper process). */
static inline long xt_open(struct xt *t, const char *rel, int flags,
			   mode_t mode)
{
	const char *p = xp(t, rel);

	return XSCB(t, 1, strlen(p) + 1, SYS_openat, U(AT_FDCWD), UP(p),
		    U(flags), U(mode));
}

/* ---- logs ---------------------------------------------------------------- */

struct xlog {
	char buf[65536];
	size_t len;
};

static inline void xlogf(struct xlog *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void xlogf(struct xlog *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n;
	if (l->len > sizeof(l->buf) - 1)
		l->len = sizeof(l->buf) - 1;
}

/* Records "line: result" and returns the result. */
static inline long xrec(struct xlog *l, int line, long r)
{
	xlogf(l, "%d: %ld\n", line, r);
	return r;
}

#define R(expr) xrec(log, __LINE__, (long)(expr))

/* Records a new descriptor as "fd" (numbers differ) or its error. */
static inline long xrec_fd(struct xlog *l, int line, long r)
{
	if (r >= 0)
		xlogf(l, "%d: fd\n", line);
	else
		xlogf(l, "%d: %ld\n", line, r);
	return r;
}

#define RFD(expr) xrec_fd(log, __LINE__, (long)(expr))

/*
 * Compares two logs line by line; on the first difference prints both
 * lines and fails the test.
 */
static inline void xlog_compare(const struct xlog *uk,
				const struct xlog *native)
{
	const char *a = uk->buf, *b = native->buf;

	while (*a || *b) {
		const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
		size_t la = ea ? (size_t)(ea - a) : strlen(a);
		size_t lb = eb ? (size_t)(eb - b) : strlen(b);

		if (la != lb || memcmp(a, b, la)) {
			print_message("uk:     %.*s\nnative: %.*s\n", (int)la,
				      a, (int)lb, b);
			fail_msg("uk and native differ");
		}
		a += la + (ea ? 1 : 0);
		b += lb + (eb ? 1 : 0);
	}
}

/* ---- native temporary tree --------------------------------------------- */

static inline int xt_rm_one(const char *path, const struct stat *sb, int flag,
			    struct FTW *ftw)
{
	return remove(path);
}

static inline int xt_native_dir(struct xt *t)
{
	strcpy(t->root, "/tmp/ukx-XXXXXX");
	return mkdtemp(t->root) ? 0 : -errno;
}

static inline void xt_native_rmdir(struct xt *t)
{
	if (t->root[0])
		nftw(t->root, xt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A temporary directory with a tmpfs of opts mounted on it (what uk's
 * tmpfs is compared with). 0, or -errno when mounting is not allowed.
 */
static inline int xt_native_tmpfs(struct xt *t, const char *opts)
{
	int ret = xt_native_dir(t);

	if (ret)
		return ret;
	if (mount("ukx", t->root, "tmpfs", 0, opts)) {
		ret = -errno;
		rmdir(t->root);
		t->root[0] = '\0';
	}
	return ret;
}

/* Unmounts what is mounted under and on t->root, then removes it. */
static inline void xt_native_tmpfs_done(struct xt *t, const char *inner)
{
	char p[600];

	if (!t->root[0])
		return;
	if (inner) {
		snprintf(p, sizeof(p), "%s/%s", t->root, inner);
		umount2(p, MNT_DETACH);
	}
	umount2(t->root, MNT_DETACH);
	rmdir(t->root);
}

/* FNV-1a of n bytes, to log data without printing it. */
static inline unsigned long xt_hash(const void *p, size_t n)
{
	const unsigned char *c = p;
	unsigned long h = 1469598103934665603ul;

	while (n--)
		h = (h ^ *c++) * 1099511628211ul;
	return h;
}

#endif /* UK_TESTS_VFS_EXTRAS_TEST_H */
