/* SPDX-License-Identifier: MIT */
/*
 * ukernel/uk_time.h - the daemon's one monotonic clock reading, for
 * deadlines and intervals (not for file times: those are vfs_now's).
 */
#ifndef UK_UK_TIME_H
#define UK_UK_TIME_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t uk_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
