// SPDX-License-Identifier: MIT
/*
 * shim/shim_copy.c - a path copy without a system call where the memory is
 * already known to be readable. shim_strncpy_safe() reads through
 * process_vm_readv (two system calls with its getpid), which made every
 * virtual path cost more than a native stat; the stat cache's hits need
 * no syscall at all.
 */
#include <errno.h>
#include <stdint.h>

#include "shimlib.h"

long shim_strncpy_after(char *dst, const char *src, size_t len)
{
	/* Bytes from src to the end of the page holding src[-1]. */
	uintptr_t a = (uintptr_t)src;
	size_t direct = (((a - 1) | 4095) + 1) - a, i;
	long r;

	for (i = 0; i < direct && i < len; i++) {
		dst[i] = src[i];
		if (!src[i])
			return (long)i;
	}
	if (i == len)
		return -ENAMETOOLONG;
	/* The rest starts on a page nobody has read yet. */
	r = shim_strncpy_safe(dst + i, src + i, len - i);
	return r < 0 ? r : r + (long)i;
}
