// SPDX-License-Identifier: MIT
/*
 * blockdev/crash.c - a crash-simulation device stacked on any other, for
 * crash-consistency tests. I/O passes through; for every write not yet
 * covered by a completed flush it keeps a record (the data written) and,
 * for every block such writes touch, what the block held at the last flush
 * (its "pre-image", read from below before the first such write). A
 * simulated crash then decides which of those writes survive and rewrites
 * the blocks below so each holds the data of its last surviving write or
 * else its pre-image: exactly what a disk with a volatile write cache may
 * show after a power cut.
 *
 * A flush covers the writes that completed before it was submitted (the
 * contract of bdev_prep_flush); when it completes, their records retire.
 *
 * Sections: records and pre-images; I/O; crash; set-up.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CRASH_HASH 256

struct crash_rec {
	struct crash_rec *next;	/* submission order */
	uint64_t seq;
	uint64_t block;
	uint32_t nr_blocks;
	bool completed;
	bool keep;		/* decided at crash time */
	uint64_t flush_tag;	/* the flush that covers it, or 0 */
	void *data;		/* block-aligned copy of what it wrote */
};

struct crash_pre {
	struct crash_pre *next;
	uint64_t block;
	void *data;		/* one block-aligned block */
};

struct crash_dev {
	struct uk_blockdev base;
	struct uk_blockdev *lower;
	/* lock protects everything below; never held across I/O */
	pthread_mutex_t lock;
	struct crash_rec *head, *tail;
	unsigned int nr_recs;
	unsigned int writes_inflight;
	uint64_t seq;
	uint64_t flush_gen;
	struct crash_pre *pre[CRASH_HASH];
	bool crashed;
};

struct crash_clone {
	struct bdev_request lower;
	struct bdev_request *upper;
	struct crash_dev *cd;
	struct crash_rec *rec;	/* writes */
	uint64_t flush_tag;	/* flushes */
};

static const struct bdev_ops bdev_crash_ops;

static inline struct crash_dev *to_cdev(struct uk_blockdev *bdev)
{
	return bdev_container_of(bdev, struct crash_dev, base);
}

/* ---- records and pre-images (cd->lock held) ---------------------------- */

static struct crash_pre **crash_pre_slot(struct crash_dev *cd, uint64_t b)
{
	struct crash_pre **pp = &cd->pre[(b * 0x9E3779B97F4A7C15ull) >> 56];

	while (*pp && (*pp)->block != b)
		pp = &(*pp)->next;
	return pp;
}

/* Set block b's pre-image to data (copied). 0 or -ENOMEM. */
static int crash_pre_set_locked(struct crash_dev *cd, uint64_t b,
				const void *data)
{
	struct crash_pre **pp = crash_pre_slot(cd, b);
	struct crash_pre *p = *pp;

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->data = aligned_alloc(BDEV_BLOCK_SIZE, BDEV_BLOCK_SIZE);
		if (!p->data) {
			free(p);
			return -ENOMEM;
		}
		p->block = b;
		*pp = p;
	}
	memcpy(p->data, data, BDEV_BLOCK_SIZE);
	return 0;
}

static void crash_pre_del_locked(struct crash_dev *cd, uint64_t b)
{
	struct crash_pre **pp = crash_pre_slot(cd, b);
	struct crash_pre *p = *pp;

	if (p) {
		*pp = p->next;
		free(p->data);
		free(p);
	}
}

static bool crash_covers(const struct crash_rec *r, uint64_t b)
{
	return b >= r->block && b - r->block < r->nr_blocks;
}

static void *crash_rec_block(const struct crash_rec *r, uint64_t b)
{
	return (char *)r->data + ((b - r->block) << BDEV_BLOCK_SHIFT);
}

static void crash_rec_free(struct crash_rec *r)
{
	free(r->data);
	free(r);
}

static void crash_unlink_locked(struct crash_dev *cd, struct crash_rec *rec)
{
	struct crash_rec **pp, *prev = NULL;

	for (pp = &cd->head; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp == rec) {
			*pp = rec->next;
			if (cd->tail == rec)
				cd->tail = prev;
			cd->nr_recs--;
			return;
		}
	}
}

/*
 * A flush tagged tag completed: the writes it covers are durable. Their
 * data becomes the pre-image of blocks other unflushed writes still touch;
 * other blocks need no pre-image any more.
 */
static void crash_retire_locked(struct crash_dev *cd, uint64_t tag)
{
	struct crash_rec *done = NULL, **dtail = &done, **pp = &cd->head;
	struct crash_rec *r, *live;
	uint64_t b;

	cd->tail = NULL;
	while ((r = *pp)) {
		if (r->flush_tag && r->flush_tag <= tag) {
			*pp = r->next;
			r->next = NULL;
			*dtail = r;
			dtail = &r->next;
			cd->nr_recs--;
		} else {
			cd->tail = r;
			pp = &r->next;
		}
	}
	while ((r = done)) {
		done = r->next;
		for (b = r->block; b < r->block + r->nr_blocks; b++) {
			for (live = cd->head; live; live = live->next)
				if (crash_covers(live, b))
					break;
			if (!live || crash_pre_set_locked(cd, b,
							  crash_rec_block(r, b)))
				crash_pre_del_locked(cd, b);
		}
		crash_rec_free(r);
	}
}

/* ---- I/O --------------------------------------------------------------- */

/*
 * Make sure every block of [block, block + nr) has a pre-image, reading
 * the missing ones from below (before this write is issued).
 */
static int crash_capture(struct crash_dev *cd, uint64_t block, uint32_t nr)
{
	bool missing = false;
	uint64_t b;
	void *buf;
	int ret;

	pthread_mutex_lock(&cd->lock);
	for (b = block; b < block + nr && !missing; b++)
		missing = !*crash_pre_slot(cd, b);
	pthread_mutex_unlock(&cd->lock);
	if (!missing)
		return 0;

	buf = aligned_alloc(BDEV_BLOCK_SIZE, (size_t)nr << BDEV_BLOCK_SHIFT);
	if (!buf)
		return -ENOMEM;
	ret = bdev_read(cd->lower, block, nr, buf);
	if (ret)
		goto out_free;
	pthread_mutex_lock(&cd->lock);
	for (b = block; b < block + nr && !ret; b++)
		if (!*crash_pre_slot(cd, b))
			ret = crash_pre_set_locked(cd, b, (char *)buf +
				((b - block) << BDEV_BLOCK_SHIFT));
	pthread_mutex_unlock(&cd->lock);
out_free:
	free(buf);
	return ret;
}

static void crash_write_end_io(struct bdev_request *lrq, int result)
{
	struct crash_clone *c = bdev_container_of(lrq, struct crash_clone,
						  lower);
	struct crash_dev *cd = c->cd;
	struct bdev_request *upper = c->upper;

	pthread_mutex_lock(&cd->lock);
	cd->writes_inflight--;
	c->rec->completed = true;
	if (result) {
		/* never acknowledged: nothing to keep or drop */
		crash_unlink_locked(cd, c->rec);
		crash_rec_free(c->rec);
	}
	pthread_mutex_unlock(&cd->lock);
	free(c);
	bdev_end_chain(upper, result ? 0 : bdev_chain_bytes(upper), result);
}

static void crash_flush_end_io(struct bdev_request *lrq, int result)
{
	struct crash_clone *c = bdev_container_of(lrq, struct crash_clone,
						  lower);
	struct crash_dev *cd = c->cd;
	struct bdev_request *upper = c->upper;

	if (!result) {
		pthread_mutex_lock(&cd->lock);
		crash_retire_locked(cd, c->flush_tag);
		pthread_mutex_unlock(&cd->lock);
	}
	free(c);
	bdev_end_chain(upper, 0, result);
}

static void crash_read_end_io(struct bdev_request *lrq, int result)
{
	struct crash_clone *c = bdev_container_of(lrq, struct crash_clone,
						  lower);
	struct bdev_request *upper = c->upper;

	free(c);
	bdev_end_chain(upper, result ? 0 : bdev_chain_bytes(upper), result);
}

/* Record a write before it goes below; returns the record or NULL. */
static struct crash_rec *crash_record(struct crash_dev *cd,
				      const struct bdev_request *rq)
{
	struct crash_rec *rec = calloc(1, sizeof(*rec));
	size_t off = 0;
	int i;

	if (!rec)
		return NULL;
	rec->data = aligned_alloc(BDEV_BLOCK_SIZE,
				  (size_t)rq->nr_blocks << BDEV_BLOCK_SHIFT);
	if (!rec->data) {
		free(rec);
		return NULL;
	}
	for (i = 0; i < rq->iovcnt; i++) {
		memcpy((char *)rec->data + off, rq->iov[i].iov_base,
		       rq->iov[i].iov_len);
		off += rq->iov[i].iov_len;
	}
	rec->block = rq->block;
	rec->nr_blocks = rq->nr_blocks;
	pthread_mutex_lock(&cd->lock);
	rec->seq = ++cd->seq;
	if (cd->tail)
		cd->tail->next = rec;
	else
		cd->head = rec;
	cd->tail = rec;
	cd->nr_recs++;
	cd->writes_inflight++;
	pthread_mutex_unlock(&cd->lock);
	return rec;
}

static int crash_queue(struct bdev_ctx *ctx, struct bdev_request *rq)
{
	struct crash_dev *cd = to_cdev(ctx->bdev);
	struct crash_clone *c;
	bool crashed;
	int ret;

	pthread_mutex_lock(&cd->lock);
	crashed = cd->crashed;
	pthread_mutex_unlock(&cd->lock);
	if (crashed)
		return -EIO;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->upper = rq;
	c->cd = cd;
	switch (rq->op) {
	case BDEV_OP_WRITE:
		ret = crash_capture(cd, rq->block, rq->nr_blocks);
		if (ret)
			goto err_free;
		c->rec = crash_record(cd, rq);
		if (!c->rec) {
			ret = -ENOMEM;
			goto err_free;
		}
		bdev_prep_writev(&c->lower, cd->lower, rq->block,
				 rq->nr_blocks, rq->iov, rq->iovcnt,
				 crash_write_end_io, NULL);
		break;
	case BDEV_OP_FLUSH:
		pthread_mutex_lock(&cd->lock);
		c->flush_tag = ++cd->flush_gen;
		for (struct crash_rec *r = cd->head; r; r = r->next)
			if (r->completed && !r->flush_tag)
				r->flush_tag = c->flush_tag;
		pthread_mutex_unlock(&cd->lock);
		bdev_prep_flush(&c->lower, cd->lower, crash_flush_end_io, NULL);
		break;
	default:
		bdev_prep_readv(&c->lower, cd->lower, rq->block, rq->nr_blocks,
				rq->iov, rq->iovcnt, crash_read_end_io, NULL);
		break;
	}
	c->lower.buf_index = rq->buf_index;
	ret = bdev_submit(&c->lower);
	if (ret)
		goto err_unrecord;
	return 0;

err_unrecord:
	if (c->rec) {
		pthread_mutex_lock(&cd->lock);
		crash_unlink_locked(cd, c->rec);
		cd->writes_inflight--;
		pthread_mutex_unlock(&cd->lock);
		crash_rec_free(c->rec);
	}
err_free:
	free(c);
	return ret;
}

static int crash_kick(struct bdev_ctx *ctx)
{
	return 0;	/* bdev_submit on the device below already sent it */
}

static int crash_reap(struct bdev_ctx *ctx, bool wait)
{
	return bdev_reap(to_cdev(ctx->bdev)->lower, wait ? 1 : 0);
}

static int crash_register_buffers(struct uk_blockdev *bdev,
				  const struct iovec *iov, unsigned int nr)
{
	return bdev_register_buffers(to_cdev(bdev)->lower, iov, nr);
}

/* ---- crash ------------------------------------------------------------- */

static bool crash_decide(const struct bdev_crash_plan *plan,
			 const struct crash_rec *r, uint64_t *rng)
{
	struct bdev_crash_write w;
	uint64_t x;

	switch (plan->mode) {
	case BDEV_CRASH_KEEP_ALL:
		return true;
	case BDEV_CRASH_RANDOM:
		/* xorshift64*: the same seed drops the same writes */
		x = *rng;
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		*rng = x;
		return (x * 0x2545F4914F6CDD1Dull) >> 63;
	case BDEV_CRASH_CALLBACK:
		w.seq = r->seq;
		w.block = r->block;
		w.nr_blocks = r->nr_blocks;
		w.data = r->data;
		return plan->keep(&w, plan->arg);
	default:
		return false;
	}
}

struct crash_block {
	uint64_t block;
	const void *data;
};

static void crash_free_all_locked(struct crash_dev *cd)
{
	struct crash_rec *r;
	struct crash_pre *p;
	int i;

	while ((r = cd->head)) {
		cd->head = r->next;
		crash_rec_free(r);
	}
	cd->tail = NULL;
	cd->nr_recs = 0;
	for (i = 0; i < CRASH_HASH; i++) {
		while ((p = cd->pre[i])) {
			cd->pre[i] = p->next;
			free(p->data);
			free(p);
		}
	}
}

int bdev_crash_simulate(struct uk_blockdev *bdev,
			const struct bdev_crash_plan *plan)
{
	struct crash_dev *cd = to_cdev(bdev);
	struct crash_block *blocks = NULL;
	size_t nr = 0, cap = 0, i;
	uint64_t rng;
	struct crash_rec *r;
	struct crash_pre *p;
	int ret, dropped = 0;

	if (bdev->ops != &bdev_crash_ops || !plan ||
	    (plan->mode == BDEV_CRASH_CALLBACK && !plan->keep) ||
	    plan->mode > BDEV_CRASH_CALLBACK)
		return -EINVAL;
	ret = bdev_drain(bdev);
	if (ret)
		return ret;

	pthread_mutex_lock(&cd->lock);
	if (cd->crashed || cd->writes_inflight) {
		pthread_mutex_unlock(&cd->lock);
		return cd->crashed ? -EIO : -EBUSY;
	}
	cd->crashed = true;
	rng = plan->seed ^ 0x9E3779B97F4A7C15ull;
	if (!rng)
		rng = 1;
	for (r = cd->head; r; r = r->next) {
		r->keep = crash_decide(plan, r, &rng);
		dropped += !r->keep;
	}
	/* per block: the last kept write's data, else the pre-image */
	for (i = 0; i < CRASH_HASH; i++) {
		for (p = cd->pre[i]; p; p = p->next) {
			const void *src = p->data;

			for (r = cd->head; r; r = r->next)
				if (r->keep && crash_covers(r, p->block))
					src = crash_rec_block(r, p->block);
			if (nr == cap) {
				struct crash_block *nb;

				cap = cap ? 2 * cap : 64;
				nb = realloc(blocks, cap * sizeof(*nb));
				if (!nb) {
					ret = -ENOMEM;
					goto out_unlock;
				}
				blocks = nb;
			}
			blocks[nr].block = p->block;
			blocks[nr].data = src;
			nr++;
		}
	}
	pthread_mutex_unlock(&cd->lock);

	/* crashed: nothing changes the records or pre-images any more */
	for (i = 0; i < nr && !ret; i++)
		ret = bdev_write(cd->lower, blocks[i].block, 1, blocks[i].data);
	if (!ret)
		ret = bdev_flush(cd->lower);

	pthread_mutex_lock(&cd->lock);
out_unlock:
	crash_free_all_locked(cd);
	pthread_mutex_unlock(&cd->lock);
	free(blocks);
	bdev->dead = true;
	return ret ? ret : dropped;
}

unsigned int bdev_crash_unflushed(struct uk_blockdev *bdev)
{
	struct crash_dev *cd = to_cdev(bdev);
	unsigned int n;

	if (bdev->ops != &bdev_crash_ops)
		return 0;
	pthread_mutex_lock(&cd->lock);
	n = cd->nr_recs;
	pthread_mutex_unlock(&cd->lock);
	return n;
}

/* ---- set-up ------------------------------------------------------------ */

static int crash_destroy(struct uk_blockdev *bdev)
{
	struct crash_dev *cd = to_cdev(bdev);
	int ret = bdev_close(cd->lower);

	crash_free_all_locked(cd);
	pthread_mutex_destroy(&cd->lock);
	free(cd);
	return ret;
}

static const struct bdev_ops bdev_crash_ops = {
	.name = "crash",
	.ctx_size = sizeof(struct bdev_ctx),
	.no_merge = true,
	.queue = crash_queue,
	.kick = crash_kick,
	.reap = crash_reap,
	.register_buffers = crash_register_buffers,
	.destroy = crash_destroy,
};

int bdev_crash_wrap(struct uk_blockdev *lower, struct uk_blockdev **out)
{
	struct crash_dev *cd;
	struct bdev_options o = {
		.read_only = lower->read_only,
		.direct = lower->direct,
		.queue_depth = lower->queue_depth,
	};

	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	bdev_init_base(&cd->base, &bdev_crash_ops, lower->nr_blocks, &o);
	cd->lower = lower;
	cd->base.lower = lower;
	pthread_mutex_init(&cd->lock, NULL);
	bdev_register(&cd->base);
	*out = &cd->base;
	return 0;
}
