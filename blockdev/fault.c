// SPDX-License-Identifier: MIT
/*
 * blockdev/fault.c - a fault-injection device stacked on any other: requests
 * matching a rule (op, block range, the Nth match, at most count times) fail
 * with the rule's errno and never reach the device below; all others pass
 * through unchanged. Only the failed requests see the error: the device
 * stays usable. Tests use it for EIO and ENOSPC on chosen blocks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

struct fault_rule_state {
	struct bdev_fault_rule rule;
	uint64_t matched;
	uint64_t failed;
};

struct fault_dev {
	struct uk_blockdev base;
	struct uk_blockdev *lower;
	pthread_mutex_t lock;	/* rules, injected */
	struct fault_rule_state *rules;
	unsigned int nr_rules;
	uint64_t injected;
};

/* What the wrapper sends below for one request passed through. */
struct fault_clone {
	struct bdev_request lower;
	struct bdev_request *upper;
};

static inline struct fault_dev *to_fdev(struct uk_blockdev *bdev)
{
	return bdev_container_of(bdev, struct fault_dev, base);
}

static bool fault_matches(const struct bdev_fault_rule *r,
			  const struct bdev_request *rq)
{
	if (!(r->ops & (1u << rq->op)))
		return false;
	if (rq->op == BDEV_OP_FLUSH || !r->nr_blocks)
		return true;
	return rq->block < r->first_block + r->nr_blocks &&
	       r->first_block < rq->block + rq->nr_blocks;
}

/* The errno a rule gives rq (counting it as a match), or 0. */
static int fault_check(struct fault_dev *fd, const struct bdev_request *rq)
{
	int err = 0;
	unsigned int i;

	pthread_mutex_lock(&fd->lock);
	for (i = 0; i < fd->nr_rules; i++) {
		struct fault_rule_state *s = &fd->rules[i];

		if (!fault_matches(&s->rule, rq))
			continue;
		s->matched++;
		if (err || (s->rule.nth && s->matched != s->rule.nth) ||
		    (s->rule.count && s->failed >= s->rule.count))
			continue;
		s->failed++;
		err = s->rule.error;
	}
	if (err)
		fd->injected++;
	pthread_mutex_unlock(&fd->lock);
	return err;
}

static void fault_clone_end_io(struct bdev_request *lrq, int result)
{
	struct fault_clone *c = bdev_container_of(lrq, struct fault_clone,
						  lower);
	struct bdev_request *upper = c->upper;

	free(c);
	bdev_end_chain(upper, result ? 0 : bdev_chain_bytes(upper), result);
}

static int fault_queue(struct bdev_ctx *ctx, struct bdev_request *rq)
{
	struct fault_dev *fd = to_fdev(ctx->bdev);
	struct fault_clone *c;
	int err, ret;

	err = fault_check(fd, rq);
	if (err) {
		bdev_defer_complete(ctx, rq, -err);
		return 0;
	}
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->upper = rq;
	if (rq->op == BDEV_OP_FLUSH)
		bdev_prep_flush(&c->lower, fd->lower, fault_clone_end_io, NULL);
	else if (rq->op == BDEV_OP_READ)
		bdev_prep_readv(&c->lower, fd->lower, rq->block, rq->nr_blocks,
				rq->iov, rq->iovcnt, fault_clone_end_io, NULL);
	else
		bdev_prep_writev(&c->lower, fd->lower, rq->block,
				 rq->nr_blocks, rq->iov, rq->iovcnt,
				 fault_clone_end_io, NULL);
	c->lower.buf_index = rq->buf_index;
	ret = bdev_submit(&c->lower);
	if (ret)
		free(c);
	return ret;
}

static int fault_kick(struct bdev_ctx *ctx)
{
	return 0;	/* bdev_submit on the device below already sent it */
}

static int fault_reap(struct bdev_ctx *ctx, bool wait)
{
	struct fault_dev *fd = to_fdev(ctx->bdev);

	return bdev_reap(fd->lower, wait ? 1 : 0);
}

static int fault_register_buffers(struct uk_blockdev *bdev,
				  const struct iovec *iov, unsigned int nr)
{
	return bdev_register_buffers(to_fdev(bdev)->lower, iov, nr);
}

static int fault_destroy(struct uk_blockdev *bdev)
{
	struct fault_dev *fd = to_fdev(bdev);
	int ret = bdev_close(fd->lower);

	pthread_mutex_destroy(&fd->lock);
	free(fd->rules);
	free(fd);
	return ret;
}

static const struct bdev_ops bdev_fault_ops = {
	.name = "fault",
	.ctx_size = sizeof(struct bdev_ctx),
	.no_merge = true,
	.queue = fault_queue,
	.kick = fault_kick,
	.reap = fault_reap,
	.register_buffers = fault_register_buffers,
	.destroy = fault_destroy,
};

int bdev_fault_wrap(struct uk_blockdev *lower, struct uk_blockdev **out)
{
	struct fault_dev *fd;
	struct bdev_options o = {
		.read_only = lower->read_only,
		.direct = lower->direct,
		.queue_depth = lower->queue_depth,
	};

	fd = calloc(1, sizeof(*fd));
	if (!fd)
		return -ENOMEM;
	bdev_init_base(&fd->base, &bdev_fault_ops, lower->nr_blocks, &o);
	fd->lower = lower;
	fd->base.lower = lower;
	pthread_mutex_init(&fd->lock, NULL);
	bdev_register(&fd->base);
	*out = &fd->base;
	return 0;
}

int bdev_fault_add(struct uk_blockdev *bdev, const struct bdev_fault_rule *r)
{
	struct fault_dev *fd = to_fdev(bdev);
	struct fault_rule_state *rules;
	int id;

	if (bdev->ops != &bdev_fault_ops || !r || r->error <= 0 ||
	    r->error > UK_BDEV_MAX_ERRNO || !r->ops)
		return -EINVAL;
	pthread_mutex_lock(&fd->lock);
	rules = realloc(fd->rules, (fd->nr_rules + 1) * sizeof(*rules));
	if (!rules) {
		pthread_mutex_unlock(&fd->lock);
		return -ENOMEM;
	}
	fd->rules = rules;
	id = (int)fd->nr_rules++;
	rules[id].rule = *r;
	rules[id].matched = 0;
	rules[id].failed = 0;
	pthread_mutex_unlock(&fd->lock);
	return id;
}

void bdev_fault_clear(struct uk_blockdev *bdev)
{
	struct fault_dev *fd = to_fdev(bdev);

	if (bdev->ops != &bdev_fault_ops)
		return;
	pthread_mutex_lock(&fd->lock);
	fd->nr_rules = 0;
	pthread_mutex_unlock(&fd->lock);
}

uint64_t bdev_fault_injected(struct uk_blockdev *bdev)
{
	struct fault_dev *fd = to_fdev(bdev);
	uint64_t n;

	if (bdev->ops != &bdev_fault_ops)
		return 0;
	pthread_mutex_lock(&fd->lock);
	n = fd->injected;
	pthread_mutex_unlock(&fd->lock);
	return n;
}
