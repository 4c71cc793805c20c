// SPDX-License-Identifier: MIT
/*
 * blockdev/stats.c - reading the per-direction counters every device keeps
 * (requests, errors, merges, bytes, log2 latency histogram): snapshots,
 * percentiles and a printed report.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static const char *const bdev_op_names[BDEV_OP_NR] = {
	[BDEV_OP_READ] = "read",
	[BDEV_OP_WRITE] = "write",
	[BDEV_OP_FLUSH] = "flush",
};

const char *bdev_op_name(enum bdev_op op)
{
	return (unsigned int)op < BDEV_OP_NR ? bdev_op_names[op] : "?";
}

static uint64_t bdev_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void bdev_stats_get(const struct uk_blockdev *bdev, struct bdev_stats *out)
{
	const struct bdev_counters *c = &bdev->stats;
	int op, b;

	for (op = 0; op < BDEV_OP_NR; op++) {
		const struct bdev_dir_stats *s = &c->dir[op];
		struct bdev_dir_stats *d = &out->dir[op];

		d->requests = bdev_load(&s->requests);
		d->errors = bdev_load(&s->errors);
		d->merges = bdev_load(&s->merges);
		d->bytes = bdev_load(&s->bytes);
		d->lat_sum_ns = bdev_load(&s->lat_sum_ns);
		for (b = 0; b < BDEV_HIST_BUCKETS; b++)
			d->hist[b] = bdev_load(&s->hist[b]);
	}
	out->submits = bdev_load(&c->submits);
}

void bdev_stats_reset(struct uk_blockdev *bdev)
{
	uint64_t *p = (uint64_t *)(void *)&bdev->stats;
	size_t i, n = sizeof(bdev->stats) / sizeof(uint64_t);

	for (i = 0; i < n; i++)
		__atomic_store_n(&p[i], 0, __ATOMIC_RELAXED);
}

uint64_t bdev_stats_percentile(const struct bdev_dir_stats *s, double p)
{
	uint64_t total = 0, seen = 0, rank;
	int b;

	for (b = 0; b < BDEV_HIST_BUCKETS; b++)
		total += s->hist[b];
	if (!total)
		return 0;
	if (p < 0)
		p = 0;
	if (p > 1)
		p = 1;
	rank = (uint64_t)ceil(p * (double)total);
	if (!rank)
		rank = 1;
	for (b = 0; b < BDEV_HIST_BUCKETS; b++) {
		seen += s->hist[b];
		if (seen >= rank)
			break;
	}
	if (b >= BDEV_HIST_BUCKETS)
		b = BDEV_HIST_BUCKETS - 1;
	/* geometric middle of [2^b, 2^(b+1)) */
	return (uint64_t)(ldexp(1.0, b) * M_SQRT2);
}

void bdev_stats_print(const struct uk_blockdev *bdev, FILE *f)
{
	struct bdev_stats st;
	int op;

	bdev_stats_get(bdev, &st);
	fprintf(f, "%-6s %10s %8s %8s %12s %10s %10s %10s\n", "op",
		"requests", "merges", "errors", "bytes", "avg_us", "p50_us",
		"p99_us");
	for (op = 0; op < BDEV_OP_NR; op++) {
		const struct bdev_dir_stats *d = &st.dir[op];

		fprintf(f, "%-6s %10llu %8llu %8llu %12llu %10.1f %10.1f "
			"%10.1f\n", bdev_op_name(op),
			(unsigned long long)d->requests,
			(unsigned long long)d->merges,
			(unsigned long long)d->errors,
			(unsigned long long)d->bytes,
			d->requests ? (double)d->lat_sum_ns / 1e3 /
				      (double)d->requests : 0.0,
			(double)bdev_stats_percentile(d, 0.50) / 1e3,
			(double)bdev_stats_percentile(d, 0.99) / 1e3);
	}
	fprintf(f, "submissions to the backend: %llu\n",
		(unsigned long long)st.submits);
}
