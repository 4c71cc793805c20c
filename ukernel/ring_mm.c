// SPDX-License-Identifier: MIT
/*
 * ukernel/ring_mm.c - how the kernel reaches a ring client's memory (the
 * uk_mm_ops of every task the ring server holds). An address range that
 * lies inside the client's own mapping of the data area of the slot being
 * served is the same bytes as our mapping of it: a memcpy, no syscall. Any
 * other address is read or written in the client process with
 * process_vm_readv/process_vm_writev; any failure is -EFAULT.
 *
 * The client says where it mapped its region; if it lies, it only makes its
 * own calls read its own region: the translation never leaves the slot.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ring_internal.h"

__thread struct ring_call *uk_ring_cur_call;

/*
 * Where [addr, addr + n) lies against the current call's window: 1 inside
 * (then *p is our address of addr), 0 outside, -EFAULT when it straddles
 * the window's edge (an honest client never does that) or wraps around.
 */
static int ring_window(struct uk_task *t, uint64_t addr, uint64_t n,
		       unsigned char **p)
{
	struct ring_call *c = uk_ring_cur_call;
	uint64_t off;

	if (addr + n < addr)
		return -EFAULT;
	if (!c || c->rt->task != t)
		return 0;
	if (addr + n <= c->cwin || addr >= c->cwin + c->len)
		return 0;
	if (addr < c->cwin || addr + n > c->cwin + c->len)
		return -EFAULT;
	off = addr - c->cwin;
	*p = c->win + off;
	return 1;
}

static struct ring_task *ring_task_of(struct uk_task *t)
{
	return t->mm_priv;
}

int uk_ring_vm_read(pid_t pid, void *dst, uint64_t src, size_t n)
{
	size_t done = 0;

	while (done < n) {
		struct iovec l = { (char *)dst + done, n - done };
		struct iovec r = { (void *)(uintptr_t)(src + done), n - done };
		ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);

		if (got <= 0)
			return -EFAULT;
		done += (size_t)got;
	}
	return 0;
}

int uk_ring_vm_write(pid_t pid, uint64_t dst, const void *src, size_t n)
{
	size_t done = 0;

	while (done < n) {
		struct iovec l = { (char *)src + done, n - done };
		struct iovec r = { (void *)(uintptr_t)(dst + done), n - done };
		ssize_t put = process_vm_writev(pid, &l, 1, &r, 1, 0);

		if (put <= 0)
			return -EFAULT;
		done += (size_t)put;
	}
	return 0;
}

static int ring_copy_from(struct uk_task *t, void *dst, unsigned long src,
			  size_t n)
{
	struct ring_task *rt = ring_task_of(t);
	unsigned char *p;
	int in = ring_window(t, src, n, &p);

	if (in < 0)
		return in;
	if (in) {
		memcpy(dst, p, n);
		return 0;
	}
	if (atomic_load_explicit(&rt->dead, memory_order_acquire))
		return -EFAULT;
	return uk_ring_vm_read(rt->pid, dst, src, n);
}

static int ring_copy_to(struct uk_task *t, unsigned long dst, const void *src,
			size_t n)
{
	struct ring_task *rt = ring_task_of(t);
	unsigned char *p;
	int in = ring_window(t, dst, n, &p);

	if (in < 0)
		return in;
	if (in) {
		memcpy(p, src, n);
		return 0;
	}
	if (atomic_load_explicit(&rt->dead, memory_order_acquire))
		return -EFAULT;
	return uk_ring_vm_write(rt->pid, dst, src, n);
}

/*
 * A string in the window: copied once into dst (never re-read from shared
 * memory), then searched for its NUL in our private copy.
 */
static long ring_strncpy_window(char *dst, const unsigned char *p,
				uint64_t avail, size_t n)
{
	size_t take = n < avail ? n : (size_t)avail;
	char *nul;

	memcpy(dst, p, take);
	nul = memchr(dst, 0, take);
	if (nul)
		return nul - dst;
	return take == n ? (long)n : -EFAULT;
}

/* A string elsewhere: read page by page so that it may end near a hole. */
static long ring_strncpy_vm(struct ring_task *rt, char *dst, uint64_t src,
			    size_t n)
{
	size_t done = 0;

	while (done < n) {
		uint64_t a = src + done;
		size_t chunk = 4096 - (size_t)(a & 4095);
		char *nul;

		if (chunk > n - done)
			chunk = n - done;
		if (uk_ring_vm_read(rt->pid, dst + done, a, chunk))
			return -EFAULT;
		nul = memchr(dst + done, 0, chunk);
		if (nul)
			return nul - dst;
		done += chunk;
	}
	return (long)n;
}

static long ring_strncpy_from(struct uk_task *t, char *dst, unsigned long src,
			      size_t n)
{
	struct ring_task *rt = ring_task_of(t);
	struct ring_call *c = uk_ring_cur_call;

	if (!n)
		return 0;
	/* A string that starts in the window must end in it. */
	if (c && c->rt->task == t && src >= c->cwin && src < c->cwin + c->len)
		return ring_strncpy_window(dst, c->win + (src - c->cwin),
					   c->cwin + c->len - src, n);
	if (atomic_load_explicit(&rt->dead, memory_order_acquire))
		return -EFAULT;
	return ring_strncpy_vm(rt, dst, src, n);
}

const struct uk_mm_ops uk_ring_mm_ops = {
	.copy_from = ring_copy_from,
	.copy_to = ring_copy_to,
	.strncpy_from = ring_strncpy_from,
};
