/* SPDX-License-Identifier: MIT */
/*
 * tests/common/difftest.h - the differential test engine: a seeded random
 * sequence of file operations, run on one target at a time, whose results
 * (return values, errnos, data read, stat fields, directory listings) and
 * final tree are written to a log of one line per record. Two logs of the
 * same seed are then compared line by line; the first difference is the
 * finding.
 *
 * A target is anything that executes x86-64 system calls by number and
 * returns >= 0 or -errno: uk_dispatch() on a task, or the host kernel
 * through syscall(2). Every call the engine makes, setup and tree walk
 * included, goes through the target, so one engine serves tmpfs now and the
 * persistent ukfs later (with a between() hook that unmounts and mounts).
 *
 * Both sides must see the same namespace: the work directory is DT_WORKDIR
 * ("/w") under the target's root ("/"), the engine makes it the target's
 * cwd, and ".." of "/" is "/" (the native side runs chrooted).
 *
 * Until the first difference both sides are in the same state, so the
 * sequence may depend on it (which descriptor slots are open); after it the
 * rest of the logs is meaningless, which is why only the first is reported.
 */
#ifndef UK_TESTS_DIFFTEST_H
#define UK_TESTS_DIFFTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DT_WORKDIR "/w"

struct dt_target {
	const char *name;
	/* Executes syscall nr; returns its result or -errno. Required. */
	long (*syscall)(struct dt_target *t, long nr, const unsigned long a[6]);
	/*
	 * Optional: called at the run's remount points (see
	 * dt_config.remount_every), before operation number index, after the
	 * engine has closed every descriptor it holds: e.g. to unmount and
	 * mount the file system. A target without it (native) just has its
	 * descriptors closed there. Returns 0, or -errno to stop the run
	 * (the engine logs the error, so the logs differ).
	 */
	int (*between)(struct dt_target *t, unsigned long index);
	void *priv;
};

/* A log: one record a line, in memory. */
struct dt_log {
	char *buf;
	size_t len, cap;
	unsigned long lines;
	bool echo; /* also print each record to stderr as it is added */
};

struct dt_config {
	uint64_t seed;
	unsigned long nops; /* number of random operations */
	/*
	 * Also the operations beyond the core file calls: fallocate,
	 * copy_file_range, extended attributes (and xattrs in the tree
	 * dump), O_TMPFILE and linkat(AT_EMPTY_PATH), dup2/dup3.
	 */
	bool extras;
	/*
	 * 0: no remount points. N: before each operation, with probability
	 * 1/N (from a generator of its own, so the operations stay those of
	 * the seed), close every descriptor and call the target's between().
	 */
	unsigned int remount_every;
};

/*
 * Inodes of the run whose atime and mtime were set explicitly and have not
 * been changed since (as far as the engine can tell: it forgets an inode at
 * any operation that may touch its times). dt_run_ops() fills it and
 * dt_dump_tree() prints those times, so it may cross a fork.
 */
#define DT_TIMES_MAX 64
struct dt_times {
	unsigned int n;
	struct {
		uint64_t ino;
		bool dir;
	} e[DT_TIMES_MAX];
};

void dt_log_init(struct dt_log *log);
void dt_log_free(struct dt_log *log);
/* Appends one formatted line; the newline is added. Aborts when out of memory.
 */
void dt_log_printf(struct dt_log *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends n raw bytes (whole lines read back from another process). */
void dt_log_append(struct dt_log *log, const char *s, size_t n);

/*
 * Prepares an empty root for a run, as root on t: "/" mode 0755 and an empty
 * DT_WORKDIR, mode 0755, owned by uid:gid; each call is a record in log.
 * Returns 0 or the first -errno (the run may go on: the logs will differ).
 */
int dt_prepare(struct dt_target *t, unsigned int uid, unsigned int gid,
	       struct dt_log *log);

/*
 * Sets umask 022 and cwd DT_WORKDIR on t, then runs cfg->nops random
 * operations, appending one record per operation (and per remount point)
 * to log. The caller has made DT_WORKDIR, empty and owned by the identity
 * t runs as. times (may be NULL) receives the explicitly timed inodes.
 * Returns 0, or -errno when the target's between() hook failed.
 */
int dt_run_ops(struct dt_target *t, const struct dt_config *cfg,
	       struct dt_log *log, struct dt_times *times);

/*
 * Appends the tree under "/" to log, one line per entry in name order:
 * path, type and permission bits, owner, size (not for directories), nlink,
 * content hash or symlink target, atime/mtime for the inodes in times
 * (may be NULL), and with cfg->extras the extended attributes. Run it
 * with rights to read every file (root).
 */
void dt_dump_tree(struct dt_target *t, const struct dt_config *cfg,
		  const struct dt_times *times, struct dt_log *log);

/*
 * Compares two logs line by line. On the first difference prints to out
 * the seed, the record's index, the operation and both results; goes on
 * to print up to max differences in all (max >= 1; only the first is
 * sure to be meaningful, later ones help when the first changed no state).
 * Returns the number of differences printed, 0 when the logs are equal.
 */
int dt_compare(const struct dt_log *a, const char *aname,
	       const struct dt_log *b, const char *bname, uint64_t seed,
	       unsigned int max, FILE *out);

/* The native target: the host kernel through syscall(2). */
extern struct dt_target dt_native_target;

#endif /* UK_TESTS_DIFFTEST_H */
