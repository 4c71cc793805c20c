// SPDX-License-Identifier: MIT
/*
 * shim/core.c - the core of libukshim.so: errno conversion, the host's
 * own functions (dlsym RTLD_NEXT, raw syscalls), the daemon connection.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>

#include "shim.h"

long shim_ret(long r)
{
	if ((unsigned long)r > -4096UL) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

void *shim_dlnext(const char *name, void **cache)
{
	void *p = dlsym(RTLD_NEXT, name);

	__atomic_store_n(cache, p, __ATOMIC_RELAXED);
	return p;
}

/* Skeleton: every call goes to the host until the routing lands. */
SHIM_EXPORT int open(const char *path, int flags, ...);
int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	return SHIM_REAL(open)(path, flags, mode);
}
