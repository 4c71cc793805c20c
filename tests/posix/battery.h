/* SPDX-License-Identifier: MIT */
/*
 * tests/posix/battery.h - the POSIX conformance battery's backends.
 *
 * The battery (posix_battery.c) reads a table of cases (battery.tbl), turns
 * each step into an x86-64 system call number and six argument words, and
 * hands it to a backend, which returns the result or -errno. Two backends:
 *
 *   host (backend_host.c): the call made through libc's wrapper of the same
 *   name (open(), mkdir(), ...), so that it works the same on a native
 *   directory, on a FUSE mount and under LD_PRELOAD=libukshim.so, which
 *   interposes exactly those wrappers;
 *
 *   uk (backend_uk.c): uk_dispatch() on an in-process kernel, on tmpfs or
 *   on a ukfs image, as tests/unit/test_uk_differential does.
 *
 * Steps run as root or as the unprivileged user PB_USER_UID; a backend
 * switches identity with user_begin()/user_end() (the host backend forks a
 * child that drops its privileges for good, the uk backend forks a task).
 */
#ifndef UK_TESTS_POSIX_BATTERY_H
#define UK_TESTS_POSIX_BATTERY_H

#include <stdbool.h>
#include <stddef.h>

/* The unprivileged identity: nobody/nogroup, also in group PB_USER_GROUP. */
#define PB_USER_UID 65534
#define PB_USER_GID 65534
#define PB_USER_GROUP 65533

/*
 * Pseudo syscall numbers for what a backend does by a sequence of calls:
 * listing a directory (open + getdents64 + close, or opendir/readdir).
 */
#define PB_NR_LISTDIR 10000

struct pb_backend {
	const char *name; /* "native", "fuse", "shim", "uk-tmpfs", "uk-ukfs" */
	/*
	 * Executes syscall nr with args a as the current identity; returns its
	 * result or -errno. PB_NR_LISTDIR: a[0] a path, a[1] a buffer of a[2]
	 * bytes receiving the names but "." and "..", each NUL-terminated;
	 * returns the bytes used or -errno.
	 */
	long (*syscall)(struct pb_backend *b, long nr, const unsigned long a[6]);
	/*
	 * Runs the following steps as the unprivileged user until user_end().
	 * Returns true in the context that must run them and report; for the
	 * host backend that is a forked child, and user_end() in the child
	 * exits with status, while the parent's user_begin() returns false
	 * after the child has exited, having stored its status in *status.
	 */
	bool (*user_begin)(struct pb_backend *b, int *status);
	void (*user_end)(struct pb_backend *b, int status);
	/* Run steps with an @fault argument in a forked child (host only). */
	bool isolate_faults;
	void *priv;
};

int pb_host_init(struct pb_backend *b, const char *name);
#ifdef PB_WITH_UK
/* image: NULL for tmpfs, else a ukfs image directory made by the caller. */
int pb_uk_init(struct pb_backend *b, const char *image);
void pb_uk_fini(struct pb_backend *b);
#endif

#endif /* UK_TESTS_POSIX_BATTERY_H */
