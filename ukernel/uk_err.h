/* SPDX-License-Identifier: MIT */
/*
 * ukernel/uk_err.h - the kernel's error conventions: ERR_PTR/IS_ERR/PTR_ERR
 * for pointers that can fail, as include/linux/err.h has them.
 */
#ifndef UK_ERR_H
#define UK_ERR_H

#include <stdbool.h>
#include <stdint.h>

#define UK_MAX_ERRNO 4095

static inline void *ERR_PTR(long error)
{
	return (void *)error;
}

static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}

static inline bool IS_ERR(const void *ptr)
{
	return (uintptr_t)ptr >= (uintptr_t)-UK_MAX_ERRNO;
}

static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR(ptr);
}

#endif /* UK_ERR_H */
