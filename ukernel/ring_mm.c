// SPDX-License-Identifier: MIT
/*
 * ukernel/ring_mm.c - how the kernel reaches a ring client's memory (the
 * uk_mm_ops of every task the ring server holds). An address range that
 * lies inside the client's own mapping of the data area of the slot being
 * served is the same bytes as our mapping of it: a memcpy, no syscall. Any
 * other address is read or written in the client process with
 * process_vm_readv/process_vm_writev; any failure is -EFAULT.
 *
 * Large transfers are gathered: consecutive copy_to pieces are written
 * with one process_vm_writev at the end of the call (a fault there turns
 * the call's result into -EFAULT), and a forward walk of copy_from reads
 * ahead in chunks of up to RING_XFER_BUF.
 *
 * A read or write whose buffer is larger than the data area streams it
 * through the slot's bulk window instead (uk_ring_abi.h): copy_to pieces
 * that land in the buffer are copied into window chunks the client copies
 * out while we go on; copy_from pieces are taken from the bytes the client
 * copies in. Whatever the stream cannot serve at once (a piece out of
 * order, a full window or missing bytes while the client is off its CPU)
 * goes through process_vm as before, so a stream is never slower than
 * the old path by more than a short spin.
 *
 * The client says where it mapped its region; if it lies, it only makes its
 * own calls read its own region: the translation never leaves the slot.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ring_internal.h"
#include "uk_time.h"

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

/* The buffered transfer state of the call on task t, or NULL. */
static struct ring_xfer *xfer_of(struct uk_task *t)
{
	struct ring_call *c = uk_ring_cur_call;

	return c && c->x && c->rt->task == t ? c->x : NULL;
}

static int xfer_write_behind(struct ring_task *rt, struct ring_xfer *x)
{
	int ret = 0;

	if (x->wb_len)
		ret = uk_ring_vm_write(rt->pid, x->wb_dst, x->buf, x->wb_len);
	/*
	 * Those bytes were counted as copied when they were gathered: the
	 * call's result must say the fault (uk_ring_xfer_flush), not a
	 * count of bytes that never arrived.
	 */
	if (ret)
		x->failed = true;
	x->wb_len = 0;
	return ret;
}

int uk_ring_xfer_flush(struct ring_call *c)
{
	int ret;

	if (!c->x)
		return 0;
	xfer_write_behind(c->rt, c->x); /* a failure sets failed */
	ret = c->x->failed ? -EFAULT : 0;
	c->x->failed = false;
	c->x->ra_len = 0;
	c->x->ra_next = 0;
	return ret;
}

/*
 * copy_from through process_vm_readv. A read that continues where the last
 * one ended is served from, or refills, the read-ahead buffer; a partial
 * refill (the buffer ends before the chunk) is fine as long as it covers n.
 */
static int ring_vm_read_ahead(struct ring_task *rt, struct ring_xfer *x,
			      void *dst, uint64_t src, size_t n)
{
	if (x->ra_len && src >= x->ra_src && src + n <= x->ra_src + x->ra_len) {
		memcpy(dst, x->buf + (src - x->ra_src), n);
		x->ra_next = src + n;
		return 0;
	}
	if (src == x->ra_next && n < RING_XFER_BUF) {
		struct iovec l = { x->buf, RING_XFER_BUF };
		struct iovec r = { (void *)(uintptr_t)src, RING_XFER_BUF };
		ssize_t got = process_vm_readv(rt->pid, &l, 1, &r, 1, 0);

		if (got >= (ssize_t)n) {
			x->ra_src = src;
			x->ra_len = (size_t)got;
			memcpy(dst, x->buf, n);
			x->ra_next = src + n;
			return 0;
		}
		x->ra_len = 0;
	}
	x->ra_next = src + n;
	return uk_ring_vm_read(rt->pid, dst, src, n);
}

/* ---- bulk streams ---------------------------------------------------------- */

/* The stream of the call on task t that covers [addr, addr + n), or NULL. */
static struct ring_bulk_call *bulk_of(struct uk_task *t, uint64_t addr,
				      uint64_t n, bool out)
{
	struct ring_call *c = uk_ring_cur_call;
	struct ring_bulk_call *k;

	if (!c || !c->bulk || c->rt->task != t)
		return NULL;
	k = c->bulk;
	if (k->dead || k->out != out || addr < k->addr ||
	    addr - k->addr > k->len || n > k->len - (addr - k->addr))
		return NULL;
	return k;
}

/*
 * After moving our counter (a seq_cst store): a client asleep on the slot
 * waits for it. Dekker with the client's wait_done(): it sets WAITER, then
 * reads our counter.
 */
static void bulk_wake(struct ring_bulk_call *k)
{
	if (atomic_load(k->state) & UK_SLOT_WAITER)
		futex_wake_n(k->state, INT_MAX, false);
}

/* OUT: window chunk pos % NCHUNK is free (the client copied chunk pos-N). */
static bool bulk_out_room(struct ring_bulk_call *k)
{
	uint64_t cp = atomic_load_explicit(&k->b->cpos, memory_order_acquire);

	/* A count ahead of ours is a lie: it only spoils the liar's bytes. */
	return cp > k->pos || k->pos - cp < UK_RING_BULK_NCHUNK;
}

/* IN: the client copied in the bytes up to pos + n, or stopped. */
static bool bulk_in_avail(struct ring_bulk_call *k, uint64_t n)
{
	uint64_t cp = atomic_load_explicit(&k->b->cpos, memory_order_acquire);

	return cp >= k->pos + n ||
	       atomic_load_explicit(&k->b->stop, memory_order_acquire);
}

/* Pauses a stream waits for the client before doing the piece itself. */
#define RING_BULK_SPINS 300u

/*
 * Waits for the client. Not patient: spins a little (~10 us, a chunk's
 * copy) while the client runs on another CPU, and gives up at once when
 * it waits on ours: the caller then moves the piece with process_vm
 * itself, as if there were no stream, rather than wait for a client that
 * another process or we ourselves keep off its CPU. Patient (the piece
 * must come after what the client has not copied yet): spins, then
 * yields, and gives up after RING_BULK_STALL_NS or when the process is
 * gone. Returns whether the condition came true.
 */
static bool bulk_wait(struct ring_call *c, struct ring_bulk_call *k,
		      uint64_t n, bool patient)
{
	int me = sched_getcpu();
	uint64_t t0 = 0;

	atomic_store_explicit(&k->b->dcpu, me, memory_order_relaxed);
	for (unsigned int spins = 0;; spins++) {
		bool away = atomic_load_explicit(&k->b->ccpu,
						 memory_order_relaxed) != me;

		if (k->out ? bulk_out_room(k) : bulk_in_avail(k, n)) {
			k->behind = false;
			return true;
		}
		/* Acquire, pairs with task_died(). */
		if (atomic_load_explicit(&c->rt->dead, memory_order_acquire))
			return false;
		/* A client found behind once is not waited for again
		 * until it has caught up. */
		if (!patient &&
		    (!away || k->behind || spins >= RING_BULK_SPINS)) {
			k->behind = true;
			return false;
		}
		if (away && spins < 4000) {
			uk_cpu_relax();
			continue;
		}
		if (!t0)
			t0 = uk_mono_ns();
		else if (uk_mono_ns() - t0 > RING_BULK_STALL_NS)
			return false;
		/* Asleep with work for it: the wake may have been lost. */
		bulk_wake(k);
		sched_yield();
		me = sched_getcpu();
		atomic_store_explicit(&k->b->dcpu, me, memory_order_relaxed);
	}
}

/* OUT: hands the chunk being filled to the client. */
static void bulk_publish(struct ring_bulk_call *k)
{
	unsigned int i = (unsigned int)(k->pos % UK_RING_BULK_NCHUNK);

	k->desc[i].off = k->open_off;
	k->desc[i].len = k->open_len;
	k->b->desc[i] = k->desc[i];
	k->open = false;
	k->pos++;
	/* seq_cst: the chunk before the count (release), and Dekker. */
	atomic_store_explicit(&k->b->dpos, k->pos, memory_order_seq_cst);
	bulk_wake(k);
}

/*
 * OUT: whether [off, off + n) meets a published chunk the client may not
 * have copied yet: a piece written directly must not be overwritten later
 * by older bytes of the same range (pcache re-copies a range whose page
 * went away meanwhile).
 */
static bool bulk_out_overlaps(struct ring_bulk_call *k, uint64_t off,
			      size_t n)
{
	uint64_t cp = atomic_load_explicit(&k->b->cpos, memory_order_acquire);
	uint64_t first = k->pos > UK_RING_BULK_NCHUNK ?
				 k->pos - UK_RING_BULK_NCHUNK : 0;

	if (cp > first && cp <= k->pos)
		first = cp;
	for (uint64_t j = first; j < k->pos; j++) {
		const struct uk_ring_bulk_desc *d =
			&k->desc[j % UK_RING_BULK_NCHUNK];

		if (off < d->off + d->len && d->off < off + n)
			return true;
	}
	return false;
}

/*
 * OUT: whether a chunk the client copied faulted (it sets stop then,
 * before the count that covers the chunk). Then the rest of the buffer
 * is not ours to write: a read stops at the first byte it cannot store,
 * and what lies past a hole in the buffer is other memory of the program.
 */
static bool bulk_out_stopped(struct ring_bulk_call *k)
{
	/* The client sets stop before the count: after a load of cpos we
	 * see it for every chunk that count covers. */
	if (k->fault ||
	    atomic_load_explicit(&k->b->stop, memory_order_acquire))
		k->fault = true;
	return k->fault;
}

/*
 * OUT: one byte a page of published chunks j in [from, k->pos) is
 * written with process_vm_writev, the byte the client copies there too:
 * whether the client will be able to copy those chunks (it has not yet).
 * 0, or -EFAULT (then it will not: nothing after them may be written).
 */
static int bulk_out_probe(struct ring_task *rt, struct ring_bulk_call *k,
			  uint64_t from)
{
	enum {
		STEP = 4096, /* at most a page: a fault is a page's */
		NIOV = UK_RING_BULK_NCHUNK * (UK_RING_BULK_CHUNK / STEP + 1),
	};
	struct iovec l[NIOV], r[NIOV];
	int n = 0;

	for (uint64_t j = from; j < k->pos; j++) {
		unsigned int i = (unsigned int)(j % UK_RING_BULK_NCHUNK);
		uint64_t a = k->addr + k->desc[i].off;
		uint64_t end = a + k->desc[i].len;

		for (; a < end && n < NIOV; a = (a | (STEP - 1)) + 1, n++) {
			l[n] = (struct iovec){
				k->win + (size_t)i * UK_RING_BULK_CHUNK +
					(a - k->addr - k->desc[i].off),
				1
			};
			r[n] = (struct iovec){ (void *)(uintptr_t)a, 1 };
		}
	}
	if (!n || process_vm_writev(rt->pid, l, (unsigned long)n, r,
				    (unsigned long)n, 0) == n)
		return 0;
	return -EFAULT;
}

/*
 * OUT: before we write a piece of the buffer ourselves (process_vm),
 * past chunks the client copies later. Were one of those to fault, the
 * piece would have landed beyond the hole (a real read never gets there),
 * in whatever the program maps after it: its stacks, its TLS. So each
 * chunk published before must be known to be writable: copied by the
 * client without a fault (cpos, no stop), or probed now. 0, or -EFAULT:
 * then nothing more of the buffer is written, every later piece fails.
 */
static int bulk_out_direct(struct ring_task *rt, struct ring_bulk_call *k)
{
	uint64_t cp = atomic_load_explicit(&k->b->cpos, memory_order_acquire);
	uint64_t from = k->vpos;

	if (bulk_out_stopped(k))
		return -EFAULT;
	/* Older chunks were copied: their window chunks were reused. */
	if (k->pos > UK_RING_BULK_NCHUNK && from < k->pos - UK_RING_BULK_NCHUNK)
		from = k->pos - UK_RING_BULK_NCHUNK;
	if (cp > from && cp <= k->pos)
		from = cp;
	if (from < k->pos && bulk_out_probe(rt, k, from)) {
		k->fault = true;
		return -EFAULT;
	}
	k->vpos = k->pos;
	return 0;
}

/*
 * OUT: the client stopped draining. What may still sit in the window
 * unread (the last NCHUNK published chunks and the one being filled) is
 * written with process_vm_writev, in order; the client may copy those
 * chunks too later, the same bytes. Everything after goes through
 * process_vm, unless a chunk faulted: then nothing more is written.
 */
static int bulk_out_abandon(struct ring_task *rt, struct ring_bulk_call *k)
{
	uint64_t first = k->pos > UK_RING_BULK_NCHUNK ?
				 k->pos - UK_RING_BULK_NCHUNK : 0;
	int ret = 0;

	if (bulk_out_stopped(k))
		return -EFAULT;
	k->dead = true;
	for (uint64_t j = first; j < k->pos && !ret; j++) {
		unsigned int i = (unsigned int)(j % UK_RING_BULK_NCHUNK);

		ret = uk_ring_vm_write(rt->pid, k->addr + k->desc[i].off,
				       k->win + (size_t)i * UK_RING_BULK_CHUNK,
				       k->desc[i].len);
	}
	if (k->open && !ret)
		ret = uk_ring_vm_write(
			rt->pid, k->addr + k->open_off,
			k->win + (size_t)(k->pos % UK_RING_BULK_NCHUNK) *
					 UK_RING_BULK_CHUNK,
			k->open_len);
	k->open = false;
	if (ret) {
		k->dead = false;
		k->fault = true;
	}
	return ret;
}

/*
 * OUT: copy_to of [off, off + n) of the client's buffer. Returns the bytes
 * it placed in the window (the caller moves the rest with process_vm: the
 * window is full and the client is not draining it right now), or -EFAULT.
 */
static long bulk_put(struct ring_call *c, struct ring_bulk_call *k,
		     uint64_t off, const unsigned char *src, size_t n)
{
	size_t done = 0;

	if (bulk_out_stopped(k))
		return -EFAULT;
	while (done < n) {
		if (k->open && off == k->open_off + k->open_len &&
		    k->open_len < UK_RING_BULK_CHUNK) {
			size_t take = UK_RING_BULK_CHUNK - k->open_len;
			unsigned char *w = k->win +
					   (size_t)(k->pos % UK_RING_BULK_NCHUNK) *
						   UK_RING_BULK_CHUNK;

			/*
			 * Bytes gathered for process_vm go out before the
			 * window gets more: the client may copy a chunk
			 * before our flush at the end of the call, and a
			 * range copied twice must end with the second copy.
			 */
			if (c->x && c->x->wb_len &&
			    xfer_write_behind(c->rt, c->x))
				return -EFAULT;
			if (take > n - done)
				take = n - done;
			memcpy(w + k->open_len, src + done, take);
			k->open_len += (uint32_t)take;
			off += take;
			done += take;
			if (k->open_len == UK_RING_BULK_CHUNK)
				bulk_publish(k);
			continue;
		}
		if (k->open)
			bulk_publish(k);
		if (!bulk_wait(c, k, 0, false)) {
			if (!bulk_out_overlaps(k, off, n - done))
				return bulk_out_direct(c->rt, k) ? -EFAULT :
								   (long)done;
			if (!bulk_wait(c, k, 0, true)) {
				if (bulk_out_abandon(c->rt, k))
					return -EFAULT;
				return (long)done;
			}
		}
		k->open = true;
		k->open_off = off;
		k->open_len = 0;
	}
	return (long)done;
}

void uk_ring_bulk_flush(struct ring_call *c)
{
	struct ring_bulk_call *k = c->bulk;

	if (k && k->out && k->open)
		bulk_publish(k);
}

/*
 * IN: copy_from of [off, off + n) of the client's buffer. Returns the
 * bytes it took from the window; the caller reads the rest with
 * process_vm (the client has not copied them in yet, or could not read
 * its buffer: process_vm then fails as Linux would), and the stream goes
 * on after the piece (the client skips what we read ourselves).
 */
static long bulk_get(struct ring_call *c, struct ring_bulk_call *k,
		     unsigned char *dst, uint64_t off, size_t n)
{
	size_t done = 0;

	/* Only the continuation of the stream; anything else as before. */
	if (off != k->pos)
		return 0;
	while (done < n) {
		size_t take = n - done < UK_RING_BULK_CHUNK ?
				      n - done :
				      UK_RING_BULK_CHUNK;
		size_t at = (size_t)(k->pos % UK_RING_BULK_SIZE);
		size_t first = UK_RING_BULK_SIZE - at;

		if (!bulk_wait(c, k, take, false) ||
		    atomic_load_explicit(&k->b->cpos, memory_order_acquire) <
			    k->pos + take)
			break;
		if (first > take)
			first = take;
		memcpy(dst + done, k->win + at, first);
		memcpy(dst + done + first, k->win, take - first);
		k->pos += take;
		done += take;
		/* seq_cst: our reads before the count (release), and Dekker. */
		atomic_store_explicit(&k->b->dpos, k->pos, memory_order_seq_cst);
		bulk_wake(k);
	}
	if (done < n) {
		/* The rest is ours: the client moves on past it. */
		k->pos = off + n;
		atomic_store_explicit(&k->b->dpos, k->pos, memory_order_seq_cst);
		bulk_wake(k);
	}
	return (long)done;
}

static int ring_copy_from(struct uk_task *t, void *dst, unsigned long src,
			  size_t n)
{
	struct ring_task *rt = ring_task_of(t);
	struct ring_bulk_call *k;
	struct ring_xfer *x;
	unsigned char *p;
	int in = ring_window(t, src, n, &p);

	if (in < 0)
		return in;
	if (in) {
		memcpy(dst, p, n);
		return 0;
	}
	/* Acquire, pairs with task_died(): a dead pid may be reused. */
	if (atomic_load_explicit(&rt->dead, memory_order_acquire))
		return -EFAULT;
	k = bulk_of(t, src, n, false);
	if (k) {
		long got = bulk_get(uk_ring_cur_call, k, dst, src - k->addr, n);

		if ((size_t)got == n)
			return 0;
		dst = (char *)dst + got;
		src += (unsigned long)got;
		n -= (size_t)got;
	}
	x = xfer_of(t);
	if (!x)
		return uk_ring_vm_read(rt->pid, dst, src, n);
	/* What we read must see what we wrote before. */
	if (xfer_write_behind(rt, x))
		return -EFAULT;
	return ring_vm_read_ahead(rt, x, dst, src, n);
}

static int ring_copy_to(struct uk_task *t, unsigned long dst, const void *src,
			size_t n)
{
	struct ring_task *rt = ring_task_of(t);
	struct ring_bulk_call *k;
	struct ring_xfer *x;
	unsigned char *p;
	int in = ring_window(t, dst, n, &p);

	if (in < 0)
		return in;
	if (in) {
		memcpy(p, src, n);
		return 0;
	}
	/* Acquire, pairs with task_died(): a dead pid may be reused. */
	if (atomic_load_explicit(&rt->dead, memory_order_acquire))
		return -EFAULT;
	k = bulk_of(t, dst, n, true);
	if (k) {
		long put = bulk_put(uk_ring_cur_call, k, dst - k->addr, src, n);

		if (put < 0 || (size_t)put == n)
			return put < 0 ? (int)put : 0;
		dst += (unsigned long)put;
		src = (const char *)src + put;
		n -= (size_t)put;
	}
	x = xfer_of(t);
	if (!x || n > RING_XFER_BUF)
		return uk_ring_vm_write(rt->pid, dst, src, n);
	/*
	 * A large piece (the page cache hands over runs of pages that lie
	 * next to each other in memory, up to 128 KiB) goes out at once:
	 * one process_vm_writev costs less than copying it into the buffer
	 * first (a 1 GiB sequential read through the shim: ~140 -> ~120 ms).
	 * What was gathered before goes first, to keep the writes in order.
	 */
	if (n >= RING_XFER_DIRECT) {
		x->ra_len = 0;
		if (xfer_write_behind(rt, x))
			return -EFAULT;
		return uk_ring_vm_write(rt->pid, dst, src, n);
	}
	/* Read-ahead data may be what we are about to overwrite. */
	x->ra_len = 0;
	if (x->wb_len && (x->wb_dst + x->wb_len != dst ||
			  x->wb_len + n > RING_XFER_BUF)) {
		if (xfer_write_behind(rt, x))
			return -EFAULT;
	}
	if (!x->wb_len)
		x->wb_dst = dst;
	memcpy(x->buf + x->wb_len, src, n);
	x->wb_len += n;
	return 0;
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
	/* Acquire, pairs with task_died(): a dead pid may be reused. */
	if (atomic_load_explicit(&rt->dead, memory_order_acquire))
		return -EFAULT;
	if (xfer_of(t) && xfer_write_behind(rt, xfer_of(t)))
		return -EFAULT;
	return ring_strncpy_vm(rt, dst, src, n);
}

const struct uk_mm_ops uk_ring_mm_ops = {
	.copy_from = ring_copy_from,
	.copy_to = ring_copy_to,
	.strncpy_from = ring_strncpy_from,
};
