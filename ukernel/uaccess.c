// SPDX-License-Identifier: MIT
/*
 * ukernel/uaccess.c - "user" memory when the user is the calling process
 * itself (tests, in-process benchmarks): uk_self_mm_ops copies with the
 * routines of uaccess_x86_64.S, whose faults a SIGSEGV/SIGBUS handler turns
 * into -EFAULT through their exception table, at memcpy speed; the
 * portable uk_self_pvm_mm_ops does the same with process_vm_readv/writev
 * at ~2 us a call. Also uk_getname(). docs/uaccess.md explains the scheme.
 *
 * Sections: exception table and signal handler, self mm ops, pvm mm ops,
 * getname.
 */
#include <signal.h>
#include <string.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "dispatch.h"

/* ---- exception table and signal handler -------------------------------- */

#if defined(__x86_64__)
#define UK_HAVE_EXTABLE 1

/* One entry: offsets from the field itself, as Linux's relative extable. */
struct uk_extable_entry {
	int32_t insn;
	int32_t fixup;
};

extern const struct uk_extable_entry uk_extable_start[]
	__attribute__((visibility("hidden")));
extern const struct uk_extable_entry uk_extable_end[]
	__attribute__((visibility("hidden")));
unsigned long uk_copy_user_raw(void *dst, const void *src, size_t n)
	__attribute__((visibility("hidden")));
long uk_strncpy_user_raw(char *dst, const char *src, size_t n)
	__attribute__((visibility("hidden")));

/* The fixup address for a faulting instruction, or 0 if it is not ours. */
static uintptr_t uk_extable_fixup(uintptr_t ip)
{
	const struct uk_extable_entry *e;

	for (e = uk_extable_start; e < uk_extable_end; e++)
		if ((uintptr_t)&e->insn + (intptr_t)e->insn == ip)
			return (uintptr_t)&e->fixup + (intptr_t)e->fixup;
	return 0;
}

/* The handlers that were installed before ours (ASan's, a program's). */
static struct sigaction uk_old_segv, uk_old_bus;

/*
 * Hands a fault that is not ours to whoever handled it before: their
 * handler, or the default action (re-executing the faulting instruction
 * with SIG_DFL in place kills the process with the right signal and core).
 */
static void uk_uaccess_chain(int sig, siginfo_t *si, void *uctx)
{
	const struct sigaction *old = sig == SIGBUS ? &uk_old_bus : &uk_old_segv;
	struct sigaction dfl;

	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, si, uctx);
		return;
	}
	if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	if (si->si_code <= 0) /* sent by kill(), not a fault: send it again */
		raise(sig);
}

/* Async-signal-safe: reads a constant table and the saved registers. */
static void uk_uaccess_fault(int sig, siginfo_t *si, void *uctx)
{
	ucontext_t *uc = uctx;
	uintptr_t fixup;

	fixup = uk_extable_fixup((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
	if (fixup && si->si_code > 0) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)fixup;
		return;
	}
	uk_uaccess_chain(sig, si, uctx);
}

/*
 * uk_uaccess_lock serialises (re)installation and protects uk_old_segv and
 * uk_old_bus against it; the handler reads them without the lock, which is
 * safe because they change only while our handler is not installed.
 */
static pthread_mutex_t uk_uaccess_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int uk_uaccess_state; /* 0: not yet, 1: installed, < 0: -errno */

/* Installs our handler for sig unless it is there already. */
static int uk_uaccess_install_locked(int sig, struct sigaction *old)
{
	struct sigaction sa, cur;

	if (sigaction(sig, NULL, &cur))
		return -errno;
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == uk_uaccess_fault)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = uk_uaccess_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	*old = cur;
	if (sigaction(sig, &sa, NULL))
		return -errno;
	return 0;
}

/*
 * Also re-installs the handler when someone replaced it since (a test
 * framework that catches crashes per test, a program's own handler); the
 * one found there becomes the one faults that are not ours go to.
 */
int uk_uaccess_init(void)
{
	int ret;

	pthread_mutex_lock(&uk_uaccess_lock);
	ret = uk_uaccess_install_locked(SIGSEGV, &uk_old_segv);
	if (!ret)
		ret = uk_uaccess_install_locked(SIGBUS, &uk_old_bus);
	atomic_store(&uk_uaccess_state, ret ? ret : 1);
	pthread_mutex_unlock(&uk_uaccess_lock);
	return ret;
}

static inline int uk_uaccess_ready(void)
{
	if (uk_likely(atomic_load_explicit(&uk_uaccess_state,
					   memory_order_relaxed) == 1))
		return 0;
	return uk_uaccess_init();
}

/* ---- self mm ops ---------------------------------------------------------- */

static int uk_self_copy_from(struct uk_task *t, void *dst, unsigned long src,
			     size_t n)
{
	(void)t;
	if (uk_unlikely(!uk_access_ok(src, n)))
		return -EFAULT;
	if (uk_unlikely(uk_uaccess_ready()))
		return -EFAULT;
	return uk_copy_user_raw(dst, (const void *)src, n) ? -EFAULT : 0;
}

static int uk_self_copy_to(struct uk_task *t, unsigned long dst,
			   const void *src, size_t n)
{
	(void)t;
	if (uk_unlikely(!uk_access_ok(dst, n)))
		return -EFAULT;
	if (uk_unlikely(uk_uaccess_ready()))
		return -EFAULT;
	return uk_copy_user_raw((void *)dst, src, n) ? -EFAULT : 0;
}

/*
 * As Linux's strncpy_from_user: the string may not run past the top of
 * user space; if it would (no NUL before UK_TASK_SIZE_MAX), -EFAULT.
 */
static long uk_self_strncpy_from(struct uk_task *t, char *dst,
				 unsigned long src, size_t n)
{
	size_t max = n;
	long len;

	(void)t;
	if (uk_unlikely(src >= UK_TASK_SIZE_MAX))
		return -EFAULT;
	if (max > UK_TASK_SIZE_MAX - src)
		max = UK_TASK_SIZE_MAX - src;
	if (uk_unlikely(uk_uaccess_ready()))
		return -EFAULT;
	len = uk_strncpy_user_raw(dst, (const char *)src, max);
	if (len >= 0 && (size_t)len == max && max < n)
		return -EFAULT;
	return len;
}

const struct uk_mm_ops uk_self_mm_ops = {
	.copy_from = uk_self_copy_from,
	.copy_to = uk_self_copy_to,
	.strncpy_from = uk_self_strncpy_from,
};

#else /* !__x86_64__: no exception table; the portable ops serve */

int uk_uaccess_init(void)
{
	return 0;
}

#endif

/* ---- pvm mm ops ------------------------------------------------------------ */

/* One process_vm_readv/writev of n bytes; 0 or -EFAULT (short or failed). */
static int uk_pvm_xfer(bool write, void *local, unsigned long remote,
		       size_t n)
{
	struct iovec l = { .iov_base = local, .iov_len = n };
	struct iovec r = { .iov_base = (void *)remote, .iov_len = n };
	ssize_t done;

	if (!uk_access_ok(remote, n))
		return -EFAULT;
	if (write)
		done = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	else
		done = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (done < 0)
		return errno == ENOMEM ? -ENOMEM : -EFAULT;
	return (size_t)done == n ? 0 : -EFAULT;
}

static int uk_pvm_copy_from(struct uk_task *t, void *dst, unsigned long src,
			    size_t n)
{
	(void)t;
	return uk_pvm_xfer(false, dst, src, n);
}

static int uk_pvm_copy_to(struct uk_task *t, unsigned long dst,
			  const void *src, size_t n)
{
	(void)t;
	return uk_pvm_xfer(true, (void *)src, dst, n);
}

/*
 * Reads page by page, so that a string ending just before an unmapped page
 * is read without touching that page.
 */
static long uk_pvm_strncpy_from(struct uk_task *t, char *dst,
				unsigned long src, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), done = 0, chunk;
	const char *z;
	int ret;

	(void)t;
	if (src >= UK_TASK_SIZE_MAX)
		return -EFAULT;
	while (done < n) {
		chunk = page - ((src + done) & (page - 1));
		if (chunk > n - done)
			chunk = n - done;
		ret = uk_pvm_xfer(false, dst + done, src + done, chunk);
		if (ret)
			return ret;
		z = memchr(dst + done, 0, chunk);
		if (z)
			return z - dst;
		done += chunk;
	}
	return (long)n;
}

const struct uk_mm_ops uk_self_pvm_mm_ops = {
	.copy_from = uk_pvm_copy_from,
	.copy_to = uk_pvm_copy_to,
	.strncpy_from = uk_pvm_strncpy_from,
};

#ifndef UK_HAVE_EXTABLE
const struct uk_mm_ops uk_self_mm_ops = {
	.copy_from = uk_pvm_copy_from,
	.copy_to = uk_pvm_copy_to,
	.strncpy_from = uk_pvm_strncpy_from,
};
#endif

/* ---- getname ---------------------------------------------------------------- */

long uk_getname(struct uk_task *t, uk_uptr upath, char *buf, bool allow_empty)
{
	long len = t->mm->strncpy_from(t, buf, upath, UK_PATH_MAX);

	if (len < 0)
		return len;
	if (len >= UK_PATH_MAX)
		return -ENAMETOOLONG;
	if (!len && !allow_empty)
		return -ENOENT;
	return len;
}
