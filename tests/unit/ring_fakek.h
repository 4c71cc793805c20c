/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/ring_fakek.h - a test double of the kernel for the ring
 * server's tests and benchmark: tasks as bare struct uk_task, and a
 * dispatcher with the identity calls, read/write/pread/pwrite on one
 * in-memory file, openat (returns the path's length), fstat, setuid,
 * and FAKE_NR_BLOCK, a call that blocks until fakek_unblock(). Every user
 * memory access goes through the task's mm ops, as the real kernel's do.
 */
#ifndef UK_RING_FAKEK_H
#define UK_RING_FAKEK_H

#include <stdatomic.h>

#include "ring_server.h"

#define FAKE_NR_BLOCK 1000   /* blocks until fakek_unblock() */
#define FAKE_FILE_SIZE (2u << 20)

extern const struct uk_ring_kernel_ops fakek_ops;
extern atomic_int fakek_tasks_live, fakek_forks, fakek_execs;

void fakek_unblock(void);
/* The file's bytes (FAKE_FILE_SIZE). */
unsigned char *fakek_file(void);

#endif
