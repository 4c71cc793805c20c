/* SPDX-License-Identifier: MIT */
/*
 * shim/shim.h - the internal API of libukshim.so, shared by the core
 * (shim_core.c, shim_vfd.c, shim_path.c, the syscall-level wrappers) and
 * the libc-level layers (stdio, directory streams, mmap shadows, the stat
 * cache). Nothing here is exported: every symbol is hidden; the library
 * exports only libc's names (libukshim.map).
 *
 * Conventions:
 *  - shim_* functions never touch errno and return >= 0 or -errno, except
 *    shim_ret() which is the one place that sets errno (glibc's rule).
 *  - A wrapper saves errno on entry when it does work of its own
 *    (SHIM_ERRNO_SAVE/RESTORE) so that errno only changes when the call
 *    fails, as with glibc.
 *  - Everything reachable from a wrapper is async-signal-safe: no malloc,
 *    no locks; the vfd table is an array of atomics.
 *
 * Virtual descriptors (vfds): the vfd number IS the daemon task's fd
 * number, and the same number is held in the host by a placeholder (a dup
 * of one sealed, empty memfd the shim recognises by its inode), so a vfd
 * never collides with a host fd and fork/exec need no translation.
 */
#ifndef UK_SHIM_H
#define UK_SHIM_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SHIM_HIDDEN __attribute__((visibility("hidden")))
/*
 * For the few variables every process reads, even one that never touches
 * the root (the routing's flags, what start-up and exit look at): .data,
 * on the page the dynamic linker writes anyway (the GOT), rather than
 * .bss, whose first touch is an anonymous page fault (5-50 us each in
 * this VM, docs/shim.md "Cost for host-only programs").
 */
#define SHIM_HOT_DATA __attribute__((section(".data.shim_hot")))
/*
 * The big tables (the vfd bitmaps, the stat cache), which a host-only
 * process never touches: x86-64's .lbss, which the linker places after
 * .bss, so that they do not push the small variables of .bss away from
 * the page they share with .data.
 */
#if defined(__x86_64__)
#define SHIM_COLD_BSS __attribute__((section(".lbss")))
#else
#define SHIM_COLD_BSS
#endif
#define SHIM_EXPORT __attribute__((visibility("default")))

/* The largest descriptor number the vfd table tracks (bitmap size). */
#define SHIM_MAX_FD 65536

/* Longest path handed to the daemon (Linux's PATH_MAX). */
#define SHIM_PATH_MAX 4096

/* ---- routing ---------------------------------------------------------------- */

/*
 * 1 if fd is a virtual fd (vfd). Inline, since every fd wrapper asks: a
 * process with no vfd pays one load of a word in .data (vfd.c's count),
 * one with vfds a bit test too.
 */
extern _Atomic int shim_nvfd SHIM_HIDDEN;
extern _Atomic uint64_t shim_vfd_bits[SHIM_MAX_FD / 64] SHIM_HIDDEN;

static inline bool shim_fd_is_virtual(int fd)
{
	if (__builtin_expect(!__atomic_load_n(&shim_nvfd, __ATOMIC_RELAXED), 1) ||
	    (unsigned int)fd >= SHIM_MAX_FD)
		return false;
	return (__atomic_load_n(&shim_vfd_bits[fd >> 6], __ATOMIC_RELAXED) >>
		(fd & 63)) & 1;
}

/*
 * Classify a path as the program gave it, relative to dirfd (AT_FDCWD or
 * a host or virtual fd). Returns 1 if it is virtual and writes the path to
 * hand to the daemon into out (and *vdirfd the dirfd to hand to the
 * daemon: a daemon fd or AT_FDCWD), 0 if it is a host path (out
 * untouched), or -errno: -EFAULT for a bad pointer (the path is read with
 * a fault-safe copy), -ENAMETOOLONG when it does not fit in outlen.
 * A NULL path is -EFAULT. The virtual root prefix is stripped: "/uk/a/b"
 * becomes "/a/b", "/uk" becomes "/". An empty path is handed on as it is
 * when dirfd is virtual (AT_EMPTY_PATH), else it is a host path.
 */
SHIM_HIDDEN int shim_path_resolve(int dirfd, const char *path, int *vdirfd,
				  char *out, size_t outlen);

/* Whether the current directory is inside the virtual root. */
SHIM_HIDDEN bool shim_cwd_is_virtual(void);
/* What shim_path_quick_host() (wrap.h) reads: path.c's state. */
extern _Atomic bool shim_cwd_virtual SHIM_HIDDEN;
extern char shim_root_byte1 SHIM_HIDDEN;
/* Records that the cwd moved into (true) or out of (false) the root. */
SHIM_HIDDEN void shim_cwd_set_virtual(bool v);

/* The virtual root ("/uk" or $UKERNEL_ROOT, no trailing slash) and its length. */
SHIM_HIDDEN const char *shim_root(size_t *len);
/* Whether absolute path p names the virtual root or lies under it. */
SHIM_HIDDEN bool shim_path_under_root(const char *p);

/* ---- calls -------------------------------------------------------------------- */

/*
 * A system call to the daemon: connects on first use; returns >= 0 or
 * -errno, never touches errno. If the daemon cannot be reached: -EIO
 * (after one clear message on stderr for the whole process).
 */
SHIM_HIDDEN long shim_vcall(long nr, ...);
/* The same with the six argument words in an array. */
SHIM_HIDDEN long shim_vcall6(long nr, const long args[6]);
/*
 * shim_vcall6() that runs fn(arg) once the request is on its way, while
 * the daemon works on it (uk_ring_call_overlap). fn does not run when the
 * call fails before reaching the daemon (-EIO, no daemon): callers know
 * by a flag fn sets.
 */
SHIM_HIDDEN long shim_vcall_overlap(long nr, const long args[6],
				    void (*fn)(void *), void *arg);
/*
 * Connect now if not connected. 0, or -EIO (message printed once).
 * A process whose parent exec'd it with vfds (or whose image was exec'd
 * after the shim had connected) connects with UK_CONNECT_EXEC the first
 * time, so the daemon drops O_CLOEXEC descriptors.
 */
SHIM_HIDDEN int shim_connect(void);

/*
 * Set errno from a -errno result the way glibc does: r in [-4095,-1] ->
 * errno = -r, return -1; otherwise return r. Inline: every wrapper's
 * host path ends here.
 */
static inline long shim_ret(long r)
{
	if (__builtin_expect((unsigned long)r > -4096UL, 0)) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/*
 * The host's own functions. SHIM_REAL(name) is the next definition of the
 * libc function `name` after ours (dlsym(RTLD_NEXT)), resolved once on
 * first use and cached; its type is that of the libc prototype:
 *	ssize_t n = SHIM_REAL(read)(fd, buf, len);
 * shim_host_syscall() is a raw system call: >= 0 or -errno, errno untouched.
 */
SHIM_HIDDEN void *shim_dlnext(const char *name, void **cache);
#define SHIM_REAL(name)                                                        \
	__extension__({                                                        \
		static void *shim_cache_##name SHIM_HOT_DATA;                  \
		void *p_ = __atomic_load_n(&shim_cache_##name,                 \
					   __ATOMIC_RELAXED);                  \
		if (__builtin_expect(!p_, 0))                                  \
			p_ = shim_dlnext(#name, &shim_cache_##name);           \
		(__typeof__(&name))p_;                                         \
	})
/*
 * A raw system call: the syscall instruction itself (x86-64), so it
 * neither goes through our own syscall() wrapper nor touches errno.
 * Inline: the host side of the stat family is one.
 */
static inline long shim_host_syscall(long nr, long a1, long a2, long a3,
				     long a4, long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10),
			   "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* errno saving across the shim's own work (a wrapper's entry and exit). */
#define SHIM_ERRNO_SAVE int shim_saved_errno_ = errno
#define SHIM_ERRNO_RESTORE (errno = shim_saved_errno_)

/* ---- the vfd table --------------------------------------------------------------- */

/*
 * Makes the daemon fd dfd (just returned by an open-like call in the
 * daemon) a vfd: reserves the lowest free host descriptor number >= minfd
 * with a placeholder, moves the daemon's fd to that number if it differs
 * (F_DUPFD in the daemon + close), and marks it virtual. cloexec sets
 * FD_CLOEXEC on both sides. Returns the vfd, or -errno (the daemon fd is
 * closed on failure).
 */
SHIM_HIDDEN int shim_vfd_install(int dfd, int minfd, bool cloexec);
/*
 * The same in two steps, so that the host's part overlaps the daemon's
 * (shim_vcall_overlap): shim_vfd_reserve_fn(resv) takes the placeholder
 * (the lowest free host number >= minfd, or -errno in h) while the open
 * runs in the daemon; shim_vfd_install_reserved(dfd, resv) then finishes
 * as shim_vfd_install does (reserving first if that has not run), and
 * shim_vfd_unreserve(resv) gives the number back when the open failed.
 */
struct shim_vfd_resv {
	int minfd;
	bool cloexec;
	bool done;   /* reserve ran: h is valid */
	bool nested; /* the install lock was ours already (shim_vfd_lock) */
	int h;
};
/*
 * The install lock (vfd.c explains why): held from before the daemon's
 * open to the vfd's placement. Returns 1 when taken, 0 when this thread
 * holds it already (a signal handler nested in an install: proceed
 * without it, nested). shim_vfd_unlock(what shim_vfd_lock returned).
 */
SHIM_HIDDEN int shim_vfd_lock(void);
SHIM_HIDDEN void shim_vfd_unlock(int taken);
SHIM_HIDDEN void shim_vfd_atfork_child(void);
SHIM_HIDDEN void shim_vfd_reserve_fn(void *resv);
SHIM_HIDDEN int shim_vfd_install_reserved(int dfd, struct shim_vfd_resv *resv);
SHIM_HIDDEN void shim_vfd_unreserve(struct shim_vfd_resv *resv);
/*
 * Places a placeholder at exactly host number fd (dup3 semantics: whatever
 * host fd was there is closed) and marks fd virtual. The daemon side must
 * already hold fd. Returns fd or -errno.
 */
SHIM_HIDDEN int shim_vfd_place(int fd, bool cloexec);
/* Forgets vfd fd (after the daemon closed it): closes the placeholder. */
SHIM_HIDDEN void shim_vfd_forget(int fd);
/*
 * close of vfd fd in two steps around the daemon's close, so that the host
 * close overlaps it: _begin forgets fd (placeholder closed, no longer
 * virtual) but marks its number "closing" until _end, after the daemon's
 * close returned; a new vfd never takes a closing number (see reserve()).
 */
SHIM_HIDDEN void shim_vfd_close_begin(int fd);
SHIM_HIDDEN void shim_vfd_close_end(int fd);
/* Marks fd as virtual or not in the table only (no host or daemon work). */
SHIM_HIDDEN void shim_vfd_mark(int fd, bool virt);
/* Whether host fd is one of our placeholders (one fstat). */
SHIM_HIDDEN bool shim_fd_is_placeholder(int fd);

/*
 * The shim's own descriptors (the socket, the ring memfds, the placeholder
 * master) sit at high numbers; these say whether fd is one of them, and
 * let a wrapper move them out of the way before a dup2/dup3 onto their
 * number (behaves as if the number were free).
 */
SHIM_HIDDEN bool shim_fd_is_private(int fd);
SHIM_HIDDEN int shim_private_evict(int fd);

/* ---- processes ---------------------------------------------------------------------- */

/*
 * Builds the environment for an exec: envp plus UKSHIM_STATE describing
 * the inherited vfds and the virtual cwd (or envp unchanged when there is
 * nothing virtual). buf/bufsz and vec/veclen are the caller's storage (on
 * its stack, since the exec may follow a vfork). Returns the new envp, or
 * NULL when the storage is too small (the caller then fails with E2BIG).
 */
SHIM_HIDDEN char *const *shim_exec_env(char *const envp[], char *buf,
				       size_t bufsz, char **vec,
				       size_t veclen);

/* ---- the fault-safe copy -------------------------------------------------------------- */

/*
 * Copies the NUL-terminated string at user pointer src into dst (at most
 * len bytes with the NUL). Returns its length, -EFAULT when src is not
 * readable, -ENAMETOOLONG when it does not fit. Never faults.
 */
SHIM_HIDDEN long shim_strncpy_safe(char *dst, const char *src, size_t len);
/* Whether [p, p+len) is readable (write: writable) memory, without faulting. */
SHIM_HIDDEN bool shim_access_ok(const void *p, size_t len, bool write);

#endif /* UK_SHIM_H */
