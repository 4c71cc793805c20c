// SPDX-License-Identifier: MIT
/*
 * shim/core.c - the core of libukshim.so: errno conversion, the host's own
 * functions (dlsym RTLD_NEXT, raw syscalls), the lazy daemon connection,
 * the state inherited across exec (UKSHIM_STATE), the shim's own
 * descriptors kept out of the program's way, and fault-safe copies.
 *
 * Start-up does no work beyond two getenv() calls: a program that never
 * touches the virtual root never connects, never allocates, never writes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "client_internal.h"
#include "shim.h"
#include "shim_internal.h"

/* ---- errno and the host ------------------------------------------------------ */

void *shim_dlnext(const char *name, void **cache)
{
	int saved = errno;
	void *p = dlsym(RTLD_NEXT, name);

	errno = saved;
	__atomic_store_n(cache, p, __ATOMIC_RELAXED);
	return p;
}

/* ---- the shim's own work (re-entrancy guard) ------------------------------------ */

/*
 * The client code inside this library calls close(), mmap() and syscall()
 * by name; those resolve to our own wrappers (we come first in the lookup
 * order). While the shim does its own work, wrappers go straight to the
 * host: shim_busy counts the nesting.
 */
__thread int shim_busy;

/* ---- the shim's own descriptors ----------------------------------------------------- */

/*
 * The socket and the placeholder master sit at the top of the descriptor
 * space (below RLIMIT_NOFILE's soft limit), where programs rarely look.
 * close(), close_range() and dup2() onto them behave as if the number were
 * free: close gives EBADF, close_range skips them, dup2 moves ours away
 * first. That is what Linux does for a process that never opened it.
 */
static _Atomic int priv_fd[2] = { -1, -1 }; /* socket, master */

bool shim_fd_is_private(int fd)
{
	return fd >= 0 && (fd == atomic_load_explicit(&priv_fd[0],
						      memory_order_relaxed) ||
			   fd == atomic_load_explicit(&priv_fd[1],
						      memory_order_relaxed));
}

/* The lowest number we place our own descriptors at. */
static int priv_floor(void)
{
	struct rlimit rl;

	if (shim_host_syscall(SYS_getrlimit, RLIMIT_NOFILE, (long)&rl, 0, 0, 0,
			      0) < 0 ||
	    rl.rlim_cur > 1024 * 1024 || rl.rlim_cur < 64)
		return 1000;
	return (int)rl.rlim_cur - 32;
}

/* Moves fd to a high number (O_CLOEXEC). Returns the new fd or -errno. */
int shim_private_move(int fd)
{
	long n = shim_host_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC,
				   priv_floor(), 0, 0, 0);

	if (n < 0)
		n = shim_host_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 100, 0,
				      0, 0);
	if (n < 0)
		return (int)n;
	shim_host_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
	return (int)n;
}

void shim_private_set(int which, int fd)
{
	atomic_store(&priv_fd[which], fd);
}

int shim_private_get(int which)
{
	return atomic_load(&priv_fd[which]);
}

int shim_private_evict(int fd)
{
	for (int i = 0; i < 2; i++) {
		int n;

		if (atomic_load(&priv_fd[i]) != fd)
			continue;
		n = (int)shim_host_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC,
					   fd + 1, 0, 0, 0);
		if (n < 0)
			return n;
		if (i == 0)
			uk_client.fd = n;
		else
			shim_vfd_master_moved(n);
		atomic_store(&priv_fd[i], n);
		shim_host_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
	}
	return 0;
}

/* ---- inherited state ------------------------------------------------------------------- */

/*
 * UKSHIM_STATE, set by our exec wrappers when the process has anything
 * virtual: "1:PID:INO:CWD:FD,FD,...". PID is the process that exec'd
 * (equal to ours after a plain exec), INO the placeholder memfd's inode,
 * CWD 1 when the cwd was virtual, then the vfds that survived the exec.
 * Each listed fd is checked (it must still be a placeholder) before it is
 * trusted, so a stale variable passed on by a program that exec'd without
 * us is harmless.
 */
static bool exec_pending; /* connect with UK_CONNECT_EXEC */
bool shim_inherited;       /* we came from an exec with virtual state */

static long parse_num(const char **p)
{
	long v = 0;

	if (**p < '0' || **p > '9')
		return -1;
	while (**p >= '0' && **p <= '9')
		v = v * 10 + *(*p)++ - '0';
	return v;
}

static void state_from_env(void)
{
	const char *s = getenv("UKSHIM_STATE");
	long pid, ino, cwd;

	if (!s || s[0] != '1' || s[1] != ':')
		return;
	s += 2;
	pid = parse_num(&s);
	if (pid < 0 || *s++ != ':')
		return;
	ino = parse_num(&s);
	if (ino < 0 || *s++ != ':')
		return;
	cwd = parse_num(&s);
	if (cwd < 0 || *s++ != ':')
		return;
	shim_inherited = true;
	exec_pending = pid == (long)shim_host_syscall(SYS_getpid, 0, 0, 0, 0,
						      0, 0);
	shim_vfd_set_inode((unsigned long)ino);
	if (cwd == 1)
		shim_cwd_set_virtual(true);
	while (*s) {
		long fd = parse_num(&s);

		if (fd < 0)
			break;
		if (fd < SHIM_MAX_FD && shim_fd_is_placeholder((int)fd))
			shim_vfd_mark((int)fd, true);
		if (*s == ',')
			s++;
	}
}

__attribute__((constructor)) static void shim_init(void)
{
	shim_path_init();
	state_from_env();
}

/* ---- the connection ---------------------------------------------------------------------- */

static _Atomic int down;           /* 1: lost the daemon for good */
static void protect_socket(void);
static _Atomic int warned;
static _Atomic bool ever_connected;

static void warn_once(const char *why)
{
	char msg[400];
	int n;

	if (atomic_exchange(&warned, 1))
		return;
	n = snprintf(msg, sizeof(msg),
		     "ukshim: cannot reach ukerneld (%s): calls under %s fail "
		     "with EIO\n",
		     why, shim_root(NULL));
	if (n > (int)sizeof(msg) - 1)
		n = sizeof(msg) - 1;
	if (n > 0)
		shim_host_syscall(SYS_write, 2, (long)msg, n, 0, 0, 0);
}

/* Runs once a connection is made: our descriptors out of the way, umask. */
static void after_connect(void)
{
	long m;

	protect_socket();
	/* The daemon applies the task's umask: make it ours. */
	m = shim_host_syscall(SYS_umask, 022, 0, 0, 0, 0, 0);
	shim_host_syscall(SYS_umask, m, 0, 0, 0, 0, 0);
	uk_syscall_ring(SYS_umask, m);
	atomic_store(&ever_connected, true);
}

/* Moves the client's socket up among our private descriptors. */
static void protect_socket(void)
{
	int fd = uk_client.fd, n;

	if (fd < 0 || shim_fd_is_private(fd) ||
	    atomic_load(&uk_client.state) != CL_READY)
		return;
	n = shim_private_move(fd);
	if (n >= 0) {
		uk_client.fd = n;
		shim_private_set(0, n);
	}
}

int shim_connect(void)
{
	int s, saved = errno;

	if (atomic_load(&down))
		return -EIO;
	for (;;) {
		s = atomic_load_explicit(&uk_client.state,
					 memory_order_acquire);
		if (s == CL_READY)
			return 0;
		if (s == CL_CONNECTING) {
			shim_host_syscall(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
			continue;
		}
		/* A forked child reconnects (to a fork of our task). */
		shim_busy++;
		if (uk_client_ensure() == 0) {
			shim_busy--;
			protect_socket();
			errno = saved;
			return 0;
		}
		if (uk_connect_ex(NULL, exec_pending ? UK_CONNECT_EXEC : 0) ==
		    0) {
			exec_pending = false;
			after_connect();
			shim_busy--;
			errno = saved;
			return 0;
		}
		shim_busy--;
		if (errno == EALREADY || errno == EISCONN)
			continue;
		warn_once(uk_connect_error());
		/* Never connected: no state to lose, a later call may retry.
		 * Connected before: our descriptors lived in that daemon. */
		if (atomic_load(&ever_connected) || shim_inherited)
			atomic_store(&down, 1);
		errno = saved;
		return -EIO;
	}
}

long shim_vcall6(long nr, const long a[6])
{
	return shim_vcall_overlap(nr, a, NULL, NULL);
}

long shim_vcall_overlap(long nr, const long a[6], void (*fn)(void *),
			void *arg)
{
	long r;

	if (__builtin_expect(atomic_load_explicit(&down, memory_order_relaxed),
			     0))
		return -EIO;
	if (__builtin_expect(atomic_load_explicit(&uk_client.state,
						  memory_order_acquire) !=
				     CL_READY,
			     0)) {
		r = shim_connect();
		if (r)
			return r;
	}
	/*
	 * Connected: the call path uses no wrapped function that could
	 * recurse (futex through syscall(), which sends it to the host),
	 * so shim_busy stays 0. A signal handler that interrupts us must
	 * not find it set: its own calls would all go to the host.
	 */
	r = uk_ring_call_overlap(nr, a, true, fn, arg);
	/*
	 * The client library reconnects by itself in a forked child (its
	 * first call, or its own fork's prepare handler): its new socket
	 * lands at a low number, where the program could close it.
	 */
	if (__builtin_expect(uk_client.fd !=
				     atomic_load_explicit(&priv_fd[0],
							  memory_order_relaxed),
			     0))
		protect_socket();
	if (__builtin_expect(r == -ENOTCONN, 0)) {
		/* The daemon stopped or died under us. */
		warn_once("the daemon stopped");
		atomic_store(&down, 1);
		return -EIO;
	}
	return r;
}

long shim_vcall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return shim_vcall6(nr, a);
}

bool shim_is_down(void)
{
	return atomic_load(&down);
}

bool shim_connected(void)
{
	return atomic_load(&uk_client.state) == CL_READY;
}

bool shim_has_task(void)
{
	/*
	 * A forked child (CL_NONE until its first call) and an exec'd image
	 * with virtual state already own a daemon task, copied with the
	 * creds it had then: not only a live connection counts.
	 */
	return shim_connected() || atomic_load(&ever_connected) ||
	       shim_inherited;
}

void shim_set_down(const char *why)
{
	warn_once(why);
	atomic_store(&down, 1);
}

bool shim_exec_pending(void)
{
	return exec_pending;
}

/* ---- fault-safe copies ----------------------------------------------------------------------- */

/*
 * process_vm_readv on ourselves reads memory the way the kernel's
 * copy_from_user does: an unmapped or unreadable address is EFAULT, not a
 * SIGSEGV. It costs a system call, so only paths that go to the daemon
 * (which costs a round trip anyway) are copied this way.
 */
static long self_read(void *dst, const void *src, size_t len)
{
	struct iovec l = { dst, len }, r = { (void *)src, len };

	return shim_host_syscall(SYS_process_vm_readv,
				 shim_host_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0),
				 (long)&l, 1, (long)&r, 1, 0);
}

long shim_strncpy_safe(char *dst, const char *src, size_t len)
{
	size_t done = 0;

	if ((uintptr_t)src < 4096)
		return -EFAULT;
	while (done < len) {
		/* Read up to the end of the page: the next may be unmapped. */
		uintptr_t a = (uintptr_t)src + done;
		size_t chunk = 4096 - (a & 4095);
		long n;
		char *z;

		if (chunk > len - done)
			chunk = len - done;
		n = self_read(dst + done, (const void *)a, chunk);
		if (n <= 0)
			return -EFAULT;
		z = memchr(dst + done, 0, (size_t)n);
		if (z)
			return z - dst;
		done += (size_t)n;
	}
	return -ENAMETOOLONG;
}

bool shim_access_ok(const void *p, size_t len, bool write)
{
	char tmp[256];
	uintptr_t a = (uintptr_t)p;

	if (!len)
		return true;
	if (a < 4096 || a + len < a)
		return false;
	/* One byte in every page is enough to know it is mapped. */
	for (uintptr_t q = a; q < a + len; q = (q | 4095) + 1)
		if (self_read(tmp, (const void *)q, 1) != 1)
			return false;
	if (write) {
		struct iovec l = { tmp, 1 }, r = { (void *)a, 1 };

		/* A write probe writes back the byte it read. */
		if (self_read(tmp, p, 1) != 1 ||
		    shim_host_syscall(SYS_process_vm_writev,
				      shim_host_syscall(SYS_getpid, 0, 0, 0, 0,
							0, 0),
				      (long)&l, 1, (long)&r, 1, 0) != 1)
			return false;
	}
	return true;
}
