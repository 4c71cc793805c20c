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
#include "uk_ring_abi.h"
#include "shim.h"
#include "shim_internal.h"

_Atomic uint64_t shim_vfd_bits[SHIM_MAX_FD / 64] SHIM_COLD_BSS;
_Atomic int shim_nvfd SHIM_HOT_DATA; /* how many bits are set */
#define vfd_bits shim_vfd_bits
#define nvfd shim_nvfd
static _Atomic int master = -1;    /* the placeholder memfd (private fd) */
static _Atomic unsigned long master_ino;
/*
 * Numbers whose close is in flight: the placeholder is gone from the host
 * but the daemon may still hold the file (shim_vfd_close_begin/_end).
 */
static _Atomic uint64_t closing_bits[SHIM_MAX_FD / 64] SHIM_COLD_BSS;
static _Atomic int nclosing;
/*
 * Numbers where the daemon holds a filler (or the filler source) that we
 * put there: a nested placement may replace those (see place_probe).
 */
static _Atomic uint64_t filler_bits[SHIM_MAX_FD / 64] SHIM_COLD_BSS;

static void filler_mark(int fd, bool on)
{
	uint64_t bit = 1ull << (fd & 63);

	if ((unsigned int)fd >= SHIM_MAX_FD)
		return;
	if (on)
		atomic_fetch_or(&filler_bits[fd >> 6], bit);
	else if (atomic_load_explicit(&filler_bits[fd >> 6],
				      memory_order_relaxed) & bit)
		atomic_fetch_and(&filler_bits[fd >> 6], ~bit);
}

static bool is_filler(int fd)
{
	return (unsigned int)fd < SHIM_MAX_FD &&
	       ((atomic_load(&filler_bits[fd >> 6]) >> (fd & 63)) & 1);
}

#define HOST(nr, a, b, c) shim_host_syscall(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)

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

/* Two requests (three argument words each) in one hand-off. 0 or -EIO. */
static int vbatch2(const long q0[4], const long q1[4], long r[2])
{
	struct uk_req q[2] = {
		{ .nr = q0[0], .args = { q0[1], q0[2], q0[3] } },
		{ .nr = q1[0], .args = { q1[1], q1[2], q1[3] } },
	};
	int saved = errno, ret;

	/* Not busy: see shim_vcall_overlap(). */
	ret = uk_submit(q, 2);
	errno = saved;
	if (ret)
		return -EIO;
	r[0] = q[0].result;
	r[1] = q[1].result;
	return 0;
}

/*
 * Fillers. The daemon gives a new file its lowest free number, which is
 * usually one the host uses for a host fd (0, 1, 2...), so the file must
 * be moved to the host's number: a second round trip. Instead of closing
 * the daemon's number after the move, the same batch puts a filler there
 * (a dup of an O_PATH descriptor of the daemon's "/", so it pins no file
 * and no lock), and the daemon's next lowest free number matches the
 * host's. Fillers sit only at numbers the host uses for host fds, are
 * O_CLOEXEC (an exec'd image starts without them), and a vfd placed on one
 * later simply replaces it (dup3). The filler source stays where the
 * daemon put it (its lowest free number: usually a host fd's, so it is a
 * filler too); a vfd placed on it replaces it and the next one is made
 * when needed. The daemon's table stops at nr_open (1024 by default), so
 * the source cannot live up with our private descriptors.
 */
static _Atomic int filler_src = -1;

static int get_filler_src(void)
{
	int p = atomic_load(&filler_src), expect = -1;
	long f;

	if (p >= 0)
		return p;
	f = shim_vcall(SYS_openat, AT_FDCWD, "/",
		       O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (f < 0)
		return -1;
	if (!atomic_compare_exchange_strong(&filler_src, &expect, (int)f)) {
		shim_vcall(SYS_close, f); /* another thread made one */
		return expect;
	}
	filler_mark((int)f, true);
	return (int)f;
}

/* A vfd placed at n replaced whatever the daemon had there. */
static void placed_at(int n)
{
	int expect = n;

	filler_mark(n, false);
	atomic_compare_exchange_strong(&filler_src, &expect, -1);
}

static bool is_closing(int fd)
{
	if (!atomic_load_explicit(&nclosing, memory_order_acquire))
		return false;
	return (atomic_load(&closing_bits[fd >> 6]) >> (fd & 63)) & 1;
}

/*
 * A free host number >= minfd held by a new placeholder, or -errno.
 *
 * A number whose close is still in flight in the daemon (another thread's
 * close, or the close a signal handler interrupted) is skipped: taking it
 * would let our dup3 in the daemon land before that close, which would
 * then close our file. Skipping orders our open before the concurrent
 * close, which is a legal outcome of the race (the number was not free
 * yet as far as the daemon is concerned). The skipped number is held
 * while we look further, then given back.
 */
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
	if (__builtin_expect(h >= 0 && is_closing((int)h), 0)) {
		int next = reserve((int)h + 1, cloexec);

		HOST(SYS_close, h, 0, 0);
		return next;
	}
	return (int)h;
}

/*
 * The install lock. Installing a vfd takes two steps in the daemon (the
 * open gives the daemon's lowest free number d, then the file moves to the
 * host's number h), and between them d is a number the host does not know
 * about: another thread's h could be that very number, and its move
 * (dup3, which replaces) would close our file, or ours its file. So
 * installs (and every other placement of a daemon file at a number:
 * dup, dup2) in one process run one at a time. The lock is a word holding
 * the owner thread's marker (a thread-local address): a signal handler
 * that installs while its own thread holds it cannot wait for it, and
 * runs "nested" instead (shim_vfd_place_probe below). A forked child
 * starts with it free (shim_vfd_atfork_child). Spinning, then yielding:
 * the holder waits for one round trip at most.
 */
static _Atomic uintptr_t install_owner;
static __thread char install_marker;

int shim_vfd_lock(void)
{
	uintptr_t me = (uintptr_t)&install_marker;

	if (atomic_load_explicit(&install_owner, memory_order_relaxed) == me)
		return 0; /* nested: a handler interrupted our own install */
	for (unsigned int spins = 0;; spins++) {
		uintptr_t expect = 0;

		/* Acquire: the previous holder's daemon work is done. */
		if (atomic_compare_exchange_weak_explicit(
			    &install_owner, &expect, me, memory_order_acquire,
			    memory_order_relaxed))
			return 1;
		if (spins < 200)
			uk_cpu_relax();
		else
			HOST(SYS_sched_yield, 0, 0, 0);
	}
}

void shim_vfd_unlock(int taken)
{
	if (taken)
		atomic_store_explicit(&install_owner, 0, memory_order_release);
}

void shim_vfd_atfork_child(void)
{
	/*
	 * Only the forking thread lives on; it held nothing across fork.
	 * Other threads' closes in flight will not finish here: the child's
	 * task, copied from ours, may still hold such a file, and a vfd
	 * installed at its number replaces it (dup3), as any stale entry.
	 */
	atomic_store(&install_owner, 0);
	if (!atomic_load(&nclosing))
		return;
	for (size_t i = 0; i < SHIM_MAX_FD / 64; i++)
		atomic_store_explicit(&closing_bits[i], 0,
				      memory_order_relaxed);
	atomic_store(&nclosing, 0);
}

void shim_vfd_reserve_fn(void *arg)
{
	struct shim_vfd_resv *r = arg;

	r->h = reserve(r->minfd, r->cloexec);
	r->done = true;
}

void shim_vfd_unreserve(struct shim_vfd_resv *r)
{
	if (r->done && r->h >= 0)
		HOST(SYS_close, r->h, 0, 0);
	r->done = false;
}

int shim_vfd_install(int dfd, int minfd, bool cloexec)
{
	struct shim_vfd_resv r = { .minfd = minfd, .cloexec = cloexec };
	int taken = shim_vfd_lock(), ret;

	r.nested = !taken;
	shim_vfd_reserve_fn(&r);
	ret = shim_vfd_install_reserved(dfd, &r);
	shim_vfd_unlock(taken);
	return ret;
}

/*
 * Nested placement (a signal handler's install while its thread is in the
 * middle of one): the interrupted install's daemon file may sit at our h,
 * not moved yet, so it must not be replaced. F_DUPFD puts src at the
 * daemon's lowest free number >= h, which is h unless something is there;
 * then the file is at some n > h and the next free host number is tried
 * (n itself, often), holding the skipped host numbers until the end. A
 * stale filler at h is skipped too (a handler's vfd may get a higher
 * number than the lowest free: a documented limit). src is closed when
 * own_src. Returns the number or -errno.
 */
#define PROBE_MAX 8

static int place_probe(int src, bool own_src, struct shim_vfd_resv *res)
{
	int held[PROBE_MAX], nheld = 0, h = res->h, ret;
	bool cloexec = res->cloexec;

	for (;;) {
		long mv[4] = { SYS_fcntl, src,
			       cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, h };
		long cl[4] = { own_src ? SYS_close : SYS_getppid, src, 0, 0 };
		long r[2];

		/* A filler of ours is never an install in progress. */
		if (h >= 0 && is_filler(h)) {
			mv[0] = SYS_dup3;
			mv[2] = h;
			mv[3] = cloexec ? O_CLOEXEC : 0;
		}

		if (h < 0) {
			ret = h;
			break;
		}
		if (own_src && h == src) {
			ret = h; /* already there */
			break;
		}
		if (vbatch2(mv, cl, r)) {
			ret = -EIO;
			break;
		}
		if (r[0] < 0) {
			ret = (int)r[0];
			break;
		}
		src = (int)r[0];
		own_src = true;
		if (src == h) {
			ret = h;
			break;
		}
		/* The daemon holds something at h: keep h, try further. */
		if (nheld == PROBE_MAX) {
			ret = -EMFILE;
			break;
		}
		held[nheld++] = h;
		h = reserve(h + 1, cloexec);
	}
	if (ret < 0) {
		if (own_src)
			shim_vcall(SYS_close, src);
		if (h >= 0)
			HOST(SYS_close, h, 0, 0);
	}
	while (nheld)
		HOST(SYS_close, held[--nheld], 0, 0);
	if (ret >= 0) {
		placed_at(ret);
		shim_vfd_mark(ret, true);
	}
	return ret;
}

int shim_vfd_install_reserved(int dfd, struct shim_vfd_resv *res)
{
	bool cloexec = res->cloexec;
	long r[2] = { 0, 0 };
	int h;

	if (!res->done)
		shim_vfd_reserve_fn(res);
	h = res->h;
	if (h < 0) {
		shim_vcall(SYS_close, dfd);
		return h;
	}
	if (res->nested)
		return place_probe(dfd, true, res);
	if (h != dfd) {
		/*
		 * The daemon picked its lowest free number, which the host
		 * may use for a host fd: move it to ours. dup3 also replaces
		 * anything stale the daemon holds at h (host-free numbers
		 * are ours to take). Then a filler at dfd if the host uses
		 * that number, else close it.
		 */
		long mv[4] = { SYS_dup3, dfd, h, cloexec ? O_CLOEXEC : 0 };
		long cl[4] = { SYS_close, dfd, 0, 0 };
		int fs = -1;

		if (!shim_fd_is_virtual(dfd) &&
		    HOST(SYS_fcntl, dfd, F_GETFD, 0) >= 0)
			fs = get_filler_src();
		if (fs >= 0) {
			cl[0] = SYS_dup3;
			cl[1] = fs;
			cl[2] = dfd;
			cl[3] = O_CLOEXEC;
		}
		if (vbatch2(mv, cl, r) || r[0] < 0) {
			HOST(SYS_close, h, 0, 0);
			shim_vcall(SYS_close, dfd);
			return r[0] < 0 ? (int)r[0] : -EIO;
		}
		if (fs >= 0 && r[1] >= 0)
			filler_mark(dfd, true);
	}
	placed_at(h);
	shim_vfd_mark(h, true);
	return h;
}

/* dup of vfd oldfd at the lowest free number >= minfd (F_DUPFD, dup). */
int shim_vfd_dup(int oldfd, int minfd, bool cloexec)
{
	int taken = shim_vfd_lock(), h = reserve(minfd, cloexec);
	long r;

	if (h < 0 || !taken) {
		struct shim_vfd_resv res = { .minfd = minfd,
					     .cloexec = cloexec,
					     .done = true,
					     .h = h };

		r = h < 0 ? h : place_probe(oldfd, false, &res);
		shim_vfd_unlock(taken);
		return (int)r;
	}
	r = shim_vcall(SYS_dup3, oldfd, h, cloexec ? O_CLOEXEC : 0);
	if (r < 0) {
		HOST(SYS_close, h, 0, 0);
		shim_vfd_unlock(taken);
		return (int)r;
	}
	placed_at(h);
	shim_vfd_mark(h, true);
	shim_vfd_unlock(taken);
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
	placed_at(fd);
	shim_vfd_mark(fd, true);
	return fd;
}

void shim_vfd_forget(int fd)
{
	shim_vfd_mark(fd, false);
	HOST(SYS_close, fd, 0, 0);
}

void shim_vfd_close_begin(int fd)
{
	if ((unsigned int)fd < SHIM_MAX_FD) {
		/* Before the host number can be taken again (seq_cst). */
		atomic_fetch_add(&nclosing, 1);
		atomic_fetch_or(&closing_bits[fd >> 6], 1ull << (fd & 63));
	}
	shim_vfd_forget(fd);
}

void shim_vfd_close_end(int fd)
{
	if ((unsigned int)fd >= SHIM_MAX_FD)
		return;
	atomic_fetch_and(&closing_bits[fd >> 6], ~(1ull << (fd & 63)));
	atomic_fetch_sub(&nclosing, 1);
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

/*
 * The absolute path of a relative $UKERNEL_SOCKET in envp, when this
 * process resolved that very value at its first connect: passed on in its
 * place, so that an image exec'd after a chdir reaches the same daemon.
 */
static const char *socket_rewrite(char *const envp[])
{
	static const char skey[] = "UKERNEL_SOCKET=";

	for (size_t i = 0; envp && envp[i]; i++) {
		const char *v;

		if (strncmp(envp[i], skey, sizeof(skey) - 1))
			continue;
		v = envp[i] + sizeof(skey) - 1;
		return v[0] && v[0] != '/' ? uk_socket_resolved(v) : NULL;
	}
	return NULL;
}

char *const *shim_exec_env(char *const envp[], char *buf, size_t bufsz,
			   char **vec, size_t veclen)
{
	static const char key[] = "UKSHIM_STATE=";
	static const char skey[] = "UKERNEL_SOCKET=";
	struct envbuf b = { buf, buf + bufsz - 1 };
	const char *sock = socket_rewrite(envp);
	char *sockvar = NULL;
	size_t n = 0;
	bool state = shim_vfd_any() || shim_cwd_is_virtual() ||
		     shim_exec_pending();

	/*
	 * Nothing virtual to pass on: the environment stays as it is (and
	 * a host-only child pays nothing). An image that came from an exec
	 * and has not told the daemon yet passes the exec on.
	 */
	if (!state && !sock)
		return envp;
	if (bufsz < 64)
		return NULL;
	if (state) {
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
		*b.p++ = 0;
	}
	if (sock) {
		size_t len = strlen(sock);

		/* [b.p, buf + bufsz) must hold "UKERNEL_SOCKET=" sock NUL. */
		if (b.p > b.end ||
		    (size_t)(buf + bufsz - b.p) < sizeof(skey) + len)
			return NULL;
		sockvar = b.p;
		memcpy(b.p, skey, sizeof(skey) - 1);
		memcpy(b.p + sizeof(skey) - 1, sock, len + 1);
	}
	for (size_t i = 0; envp && envp[i]; i++) {
		if (!strncmp(envp[i], key, sizeof(key) - 1) ||
		    (sock && !strncmp(envp[i], skey, sizeof(skey) - 1)))
			continue;
		if (n + 2 >= veclen)
			return NULL;
		vec[n++] = envp[i];
	}
	/* The socket's entry replaced one of envp's: room for both. */
	if (n + 1 + state + !!sock > veclen)
		return NULL;
	if (state)
		vec[n++] = buf;
	if (sock)
		vec[n++] = sockvar;
	vec[n] = NULL;
	return vec;
}
