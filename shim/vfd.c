// SPDX-License-Identifier: MIT
/*
 * shim/vfd.c - the virtual descriptor table. A vfd's number is the same in
 * the host (where a placeholder holds it) and in the daemon task's fd
 * table, so fork and exec carry vfds the way the kernel carries fds. The
 * table itself is one bit per number (atomics only: async-signal-safe).
 *
 * Placeholders are dups of one memfd ("ukshim-vfd", empty, sealed against
 * writes and growth): a program that bypasses the shim reads EOF and
 * cannot write; the shim recognises one by its inode, which is passed on
 * across exec in UKSHIM_STATE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client_internal.h"
#include "shim.h"
#include "shim_internal.h"

static _Atomic uint64_t vfd_bits[SHIM_MAX_FD / 64];
static _Atomic int nvfd;           /* how many bits are set */
static _Atomic int master = -1;    /* the placeholder memfd (private fd) */
static _Atomic unsigned long master_ino;

#define HOST(nr, a, b, c) shim_host_syscall(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)

bool shim_fd_is_virtual(int fd)
{
	if ((unsigned int)fd >= SHIM_MAX_FD ||
	    !atomic_load_explicit(&nvfd, memory_order_relaxed))
		return false;
	return (atomic_load_explicit(&vfd_bits[fd >> 6],
				     memory_order_relaxed) >>
		(fd & 63)) & 1;
}

bool shim_vfd_any(void)
{
	return atomic_load(&nvfd) > 0;
}

void shim_vfd_mark(int fd, bool virt)
{
	uint64_t bit, old;

	if ((unsigned int)fd >= SHIM_MAX_FD)
		return;
	bit = 1ull << (fd & 63);
	if (virt) {
		old = atomic_fetch_or(&vfd_bits[fd >> 6], bit);
		if (!(old & bit))
			atomic_fetch_add(&nvfd, 1);
	} else {
		old = atomic_fetch_and(&vfd_bits[fd >> 6], ~bit);
		if (old & bit)
			atomic_fetch_sub(&nvfd, 1);
	}
}

void shim_vfd_each(int lo, int hi, void (*fn)(int, void *), void *arg)
{
	if (lo < 0)
		lo = 0;
	if (hi >= SHIM_MAX_FD || hi < 0)
		hi = SHIM_MAX_FD - 1;
	if (!atomic_load(&nvfd))
		return;
	for (int w = lo >> 6; w <= hi >> 6; w++) {
		uint64_t bits = atomic_load(&vfd_bits[w]);

		while (bits) {
			int fd = w * 64 + __builtin_ctzll(bits);

			bits &= bits - 1;
			if (fd >= lo && fd <= hi)
				fn(fd, arg);
		}
	}
}

void shim_vfd_set_inode(unsigned long ino)
{
	atomic_store(&master_ino, ino);
}

unsigned long shim_vfd_inode(void)
{
	return atomic_load(&master_ino);
}

void shim_vfd_master_moved(int fd)
{
	atomic_store(&master, fd);
}

bool shim_fd_is_placeholder(int fd)
{
	struct stat st;
	unsigned long ino = atomic_load(&master_ino);

	return ino && fd >= 0 && HOST(SYS_fstat, fd, &st, 0) == 0 &&
	       S_ISREG(st.st_mode) && st.st_ino == ino && st.st_size == 0;
}

/* Finds one inherited placeholder to reuse as the master (same inode). */
static void find_inherited(int fd, void *arg)
{
	int *found = arg;

	if (*found < 0 && shim_fd_is_placeholder(fd))
		*found = fd;
}

/* The placeholder master, created on first use. Returns it or -errno. */
static int get_master(void)
{
	int m = atomic_load(&master), src = -1, expect = -1;
	struct stat st;

	if (m >= 0)
		return m;
	if (atomic_load(&master_ino))
		shim_vfd_each(0, SHIM_MAX_FD - 1, find_inherited, &src);
	if (src >= 0) {
		m = shim_private_move((int)HOST(SYS_fcntl, src, F_DUPFD_CLOEXEC,
						3));
	} else {
		long fd = HOST(SYS_memfd_create, "ukshim-vfd",
			       MFD_CLOEXEC | MFD_ALLOW_SEALING, 0);

		if (fd < 0)
			return (int)fd;
		HOST(SYS_fcntl, fd, F_ADD_SEALS,
		     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
		m = shim_private_move((int)fd);
	}
	if (m < 0)
		return m;
	if (HOST(SYS_fstat, m, &st, 0) < 0) {
		HOST(SYS_close, m, 0, 0);
		return -EMFILE;
	}
	if (!atomic_compare_exchange_strong(&master, &expect, m)) {
		HOST(SYS_close, m, 0, 0); /* another thread won */
		return expect;
	}
	atomic_store(&master_ino, (unsigned long)st.st_ino);
	shim_private_set(1, m);
	return m;
}

/* Two requests in one hand-off; r[i] the results. 0 or -EIO. */
static int vbatch2(long nr0, long a0, long b0, long c0, long nr1, long a1,
		   long r[2])
{
	struct uk_req q[2] = {
		{ .nr = nr0, .args = { a0, b0, c0 } },
		{ .nr = nr1, .args = { a1 } },
	};
	int saved = errno, ret;

	shim_busy++;
	ret = uk_submit(q, 2);
	shim_busy--;
	errno = saved;
	if (ret)
		return -EIO;
	r[0] = q[0].result;
	r[1] = q[1].result;
	return 0;
}

/* A free host number >= minfd held by a new placeholder, or -errno. */
static int reserve(int minfd, bool cloexec)
{
	int m = get_master();
	long h;

	if (m < 0)
		return m;
	h = HOST(SYS_fcntl, m, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, minfd);
	if (h >= SHIM_MAX_FD) {
		HOST(SYS_close, h, 0, 0);
		return -EMFILE;
	}
	return (int)h;
}

int shim_vfd_install(int dfd, int minfd, bool cloexec)
{
	int h = reserve(minfd, cloexec);
	long r[2] = { 0, 0 };

	if (h < 0) {
		shim_vcall(SYS_close, dfd);
		return h;
	}
	if (h != dfd) {
		/*
		 * The daemon picked its lowest free number, which the host
		 * may use for a host fd: move it to ours. dup3 also replaces
		 * anything stale the daemon holds at h (host-free numbers
		 * are ours to take).
		 */
		if (vbatch2(SYS_dup3, dfd, h, cloexec ? O_CLOEXEC : 0,
			    SYS_close, dfd, r) || r[0] < 0) {
			HOST(SYS_close, h, 0, 0);
			shim_vcall(SYS_close, dfd);
			return r[0] < 0 ? (int)r[0] : -EIO;
		}
	}
	shim_vfd_mark(h, true);
	return h;
}

/* dup of vfd oldfd at the lowest free number >= minfd (F_DUPFD, dup). */
int shim_vfd_dup(int oldfd, int minfd, bool cloexec)
{
	int h = reserve(minfd, cloexec);
	long r;

	if (h < 0)
		return h;
	r = shim_vcall(SYS_dup3, oldfd, h, cloexec ? O_CLOEXEC : 0);
	if (r < 0) {
		HOST(SYS_close, h, 0, 0);
		return (int)r;
	}
	shim_vfd_mark(h, true);
	return h;
}

int shim_vfd_place(int fd, bool cloexec)
{
	int m = get_master();
	long r;

	if (m < 0)
		return m;
	if ((unsigned int)fd >= SHIM_MAX_FD)
		return -EBADF;
	r = HOST(SYS_dup3, m, fd, cloexec ? O_CLOEXEC : 0);
	if (r < 0)
		return (int)r;
	shim_vfd_mark(fd, true);
	return fd;
}

void shim_vfd_forget(int fd)
{
	shim_vfd_mark(fd, false);
	HOST(SYS_close, fd, 0, 0);
}

/* ---- exec ------------------------------------------------------------------------ */

static char *put_num(char *p, char *end, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	if (end - p < n)
		return NULL;
	while (n)
		*p++ = tmp[--n];
	return p;
}

struct envbuf {
	char *p, *end;
};

static void put_fd(int fd, void *arg)
{
	struct envbuf *b = arg;
	long fl;

	if (!b->p)
		return;
	fl = HOST(SYS_fcntl, fd, F_GETFD, 0);
	if (fl < 0 || (fl & FD_CLOEXEC))
		return; /* the exec drops it */
	b->p = put_num(b->p, b->end, (unsigned long)fd);
	if (b->p && b->p < b->end)
		*b->p++ = ',';
	else
		b->p = NULL;
}

char *const *shim_exec_env(char *const envp[], char *buf, size_t bufsz,
			   char **vec, size_t veclen)
{
	static const char key[] = "UKSHIM_STATE=";
	struct envbuf b = { buf, buf + bufsz - 1 };
	size_t n = 0;

	if (!shim_connected() && !shim_inherited && !shim_vfd_any() &&
	    !shim_cwd_is_virtual())
		return envp;
	if (bufsz < 64)
		return NULL;
	memcpy(b.p, key, sizeof(key) - 1);
	b.p += sizeof(key) - 1;
	*b.p++ = '1';
	*b.p++ = ':';
	b.p = put_num(b.p, b.end,
		      (unsigned long)HOST(SYS_getpid, 0, 0, 0));
	if (b.p)
		*b.p++ = ':';
	if (b.p)
		b.p = put_num(b.p, b.end, shim_vfd_inode());
	if (b.p && b.end - b.p > 4) {
		*b.p++ = ':';
		*b.p++ = shim_cwd_is_virtual() ? '1' : '0';
		*b.p++ = ':';
	} else {
		return NULL;
	}
	shim_vfd_each(0, SHIM_MAX_FD - 1, put_fd, &b);
	if (!b.p)
		return NULL;
	*b.p = 0;
	for (size_t i = 0; envp && envp[i]; i++) {
		if (!strncmp(envp[i], key, sizeof(key) - 1))
			continue;
		if (n + 2 >= veclen)
			return NULL;
		vec[n++] = envp[i];
	}
	if (n + 2 > veclen)
		return NULL;
	vec[n++] = buf;
	vec[n] = NULL;
	return vec;
}
