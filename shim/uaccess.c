// SPDX-License-Identifier: MIT
/*
 * shim/uaccess.c - fault-safe access to the caller's memory for the client
 * library: a wild pointer in a payload the library copies inline (write's
 * buffer, stat's path) gives -EFAULT, as the kernel would, instead of a
 * crash inside the library. The copies are uaccess_x86_64.S's; a fault in
 * one of their listed instructions is turned into a return at its fixup by
 * the SIGSEGV/SIGBUS handler below, so when nothing faults they cost what
 * memcpy costs.
 *
 * The handler is installed when the library connects, and only if it is
 * not already there. It takes nothing from the program: a fault that is not
 * in our copy routines goes to the handler installed before ours (the
 * program's, a sanitizer's) or to the default action. A program that
 * installs its own SIGSEGV handler after connecting replaces ours; then a
 * wild pointer faults into its handler, as in any libc function, until the
 * next uk_connect() puts ours back in front (chaining to the program's).
 */
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "client_internal.h"

#if defined(__x86_64__)

struct uk_cl_extable_entry {
	int32_t insn;
	int32_t fixup;
};

extern const struct uk_cl_extable_entry uk_cl_extable_start[] UK_HIDDEN;
extern const struct uk_cl_extable_entry uk_cl_extable_end[] UK_HIDDEN;
UK_HIDDEN unsigned long uk_cl_copy(void *dst, const void *src, size_t n);
UK_HIDDEN long uk_cl_strncpy(char *dst, const char *src, size_t n);

/* Written at the first host path check: .data (see shim.h SHIM_HOT_DATA). */
static struct sigaction old_segv __attribute__((section(".data.shim_hot")));
static struct sigaction old_bus __attribute__((section(".data.shim_hot")));
/* Faults being passed on: a chain that comes back to us ends there. */
static volatile sig_atomic_t chaining;

static uintptr_t extable_fixup(uintptr_t ip)
{
	const struct uk_cl_extable_entry *e;

	for (e = uk_cl_extable_start; e < uk_cl_extable_end; e++)
		if ((uintptr_t)&e->insn + (intptr_t)e->insn == ip)
			return (uintptr_t)&e->fixup + (intptr_t)e->fixup;
	return 0;
}

/* Async-signal-safe: a constant table, the saved registers, sigaction. */
static void cl_fault(int sig, siginfo_t *si, void *uctx)
{
	const struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
	ucontext_t *uc = uctx;
	struct sigaction dfl;
	uintptr_t fixup;

	fixup = extable_fixup((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
	if (fixup && si->si_code > 0) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)fixup;
		return;
	}
	if (!chaining) {
		chaining = 1;
		if (old->sa_flags & SA_SIGINFO) {
			old->sa_sigaction(sig, si, uctx);
			chaining = 0;
			return;
		}
		if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
			old->sa_handler(sig);
			chaining = 0;
			return;
		}
	}
	/* The default action: re-executing the fault kills with a core. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	if (si->si_code <= 0) /* sent by kill(), not a fault: send it again */
		raise(sig);
}

static int install(int sig, struct sigaction *old)
{
	struct sigaction sa, cur;

	if (sigaction(sig, NULL, &cur))
		return -1;
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == cl_fault)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = cl_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	/* Ours is not installed, so the handler cannot be reading *old. */
	*old = cur;
	return sigaction(sig, &sa, NULL);
}

/* Called by connect (serialised by the connection state). */
void uk_cl_uaccess_init(void)
{
	if (install(SIGSEGV, &old_segv) || install(SIGBUS, &old_bus))
		uk_cl_uaccess_ok = false;
	else
		uk_cl_uaccess_ok = true;
}

/* Read on every host path (shim/wrap.h): .data, as shim.h's SHIM_HOT_DATA. */
bool uk_cl_uaccess_ok __attribute__((section(".data.shim_hot")));

int uk_cl_copy_in(void *dst, const void *src, size_t n)
{
	if (!uk_cl_uaccess_ok)
		return -1;
	return uk_cl_copy(dst, src, n) ? -1 : 0;
}

int uk_cl_copy_out(void *dst, const void *src, size_t n)
{
	if (!uk_cl_uaccess_ok)
		return -1;
	return uk_cl_copy(dst, src, n) ? -1 : 0;
}

long uk_cl_copy_path(char *dst, const char *src, size_t n)
{
	if (!uk_cl_uaccess_ok)
		return -1;
	return uk_cl_strncpy(dst, src, n);
}

#else /* !__x86_64__: plain copies, a wild pointer faults in the caller */

bool uk_cl_uaccess_ok;

void uk_cl_uaccess_init(void)
{
}

int uk_cl_copy_in(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
	return 0;
}

int uk_cl_peek16(void *dst, const void *src)
{
	memcpy(dst, src, 16);
	return 0;
}

int uk_cl_copy_out(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
	return 0;
}

long uk_cl_copy_path(char *dst, const char *src, size_t n)
{
	size_t len = strnlen(src, n);

	if (len < n)
		memcpy(dst, src, len + 1);
	return (long)len;
}

#endif
