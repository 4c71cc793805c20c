// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_fuzz_dispatch.c - a seeded random syscall fuzzer through
 * uk_dispatch(): every number in the table and some outside it, argument
 * words drawn from values that break things (bad fds, huge lengths and
 * offsets, NULL / unmapped / PROT_NONE / read-only / half-mapped pointers,
 * strings without a NUL, over-long paths, symlink loops), over a tmpfs with
 * files, dirs, symlinks and FIFOs, with tasks forking, exec'ing and exiting
 * in between and several threads at once.
 *
 * Checks: no crash (and, in the sanitizer build, no ASan/UBSan/LSan
 * report), every result >= 0 or in -4095..-1, every descriptor a task holds
 * is usable with fstat, and once every task has exited and the tree is
 * removed the tmpfs counters are back to one inode and no pages.
 *
 * Replay: UK_FUZZ_SEED=<seed> [UK_FUZZ_CALLS=<n>] test_fuzz_dispatch; the
 * seed is printed. argv[1] and argv[2] give the default seed and calls.
 * UK_FUZZ_VERBOSE=1 prints every call before making it. The one-thread
 * cases make the same calls in every process (the arena is at a fixed
 * address); the threaded one also depends on how the threads interleave.
 *
 * Sections: random numbers, user memory arena, argument generators, the
 * tree, invariants, the fuzz loop, tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dispatch.h"

#define SC(t, nr, ...)                                                         \
	uk_dispatch((t), (nr), (const unsigned long[6]){ __VA_ARGS__ })
#define U(p) ((unsigned long)(uintptr_t)(p))

static uint64_t fuzz_seed = 1;
static unsigned long fuzz_calls = 20000;
static int fuzz_verbose;
/* UK_FUZZ_STATS=1: per syscall, how many calls succeeded (coverage). */
static int fuzz_stats;
static unsigned long stat_ok[UK_NR_SYSCALLS], stat_all[UK_NR_SYSCALLS];

/* ---- random numbers ------------------------------------------------------ */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned int rnd_below(uint64_t *s, unsigned int n)
{
	return (unsigned int)(rnd_next(s) % n);
}

/* ---- user memory arena ----------------------------------------------------- */

/*
 * Every pointer handed to the kernel points into one of these, never into
 * the test's own heap or stack, so a kernel that writes too far hits a
 * guard page (and must say -EFAULT) instead of corrupting the test.
 * Layout: ARENA_RW pages read-write, a PROT_NONE page, a read-only page
 * holding "/f0", a PROT_NONE page, and a page that is unmapped.
 */
#define PG 4096ul
#define ARENA_RW 32ul
#define SLOT_SIZE (16ul * 1024)       /* one per argument word: 6 * 16 KiB */
#define TAIL_OFF (ARENA_RW * PG - PG) /* last RW page: half-mapped buffers */

struct arena {
	uint8_t *base;
	uint8_t *tail_end; /* first byte of the PROT_NONE guard */
	uint8_t *none;
	uint8_t *ro;
	uint8_t *unmapped;
};

/*
 * Where thread id's arena goes. Pointers are also drawn as plain numbers
 * (a length, an offset, a mode), so with the arena wherever ASLR puts it
 * a seed would not replay the same calls from one process to the next.
 * This range is free in a plain process and under ASan (above its shadow,
 * below its heap at 0x600000000000); elsewhere the arena goes anywhere.
 */
#define ARENA_FIXED 0x3e0000000000ul
#define ARENA_STRIDE 0x10000000ul

static void arena_init(struct arena *a, int id)
{
	size_t len = (ARENA_RW + 4) * PG;
	void *want = (void *)(ARENA_FIXED + (unsigned long)id * ARENA_STRIDE);
	uint8_t *p = mmap(want, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			  -1, 0);

	if (p != want) {
		if (p != MAP_FAILED)
			munmap(p, len); /* a kernel that took it as a hint */
		printf("fuzz: arena not at %p, replays may differ\n", want);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	assert_true(p != MAP_FAILED);
	a->base = p;
	a->tail_end = p + ARENA_RW * PG;
	a->none = a->tail_end;
	a->ro = a->none + PG;
	a->unmapped = a->ro + 2 * PG;
	memcpy(a->ro, "/f0", 4);
	assert_int_equal(mprotect(a->none, PG, PROT_NONE), 0);
	assert_int_equal(mprotect(a->ro, PG, PROT_READ), 0);
	assert_int_equal(mprotect(a->ro + PG, PG, PROT_NONE), 0);
	assert_int_equal(munmap(a->unmapped, PG), 0);
}

static void arena_free(struct arena *a)
{
	munmap(a->base, (ARENA_RW + 3) * PG);
}

static uint8_t *slot(struct arena *a, int i)
{
	return a->base + (size_t)i * SLOT_SIZE;
}

/* ---- argument generators ----------------------------------------------------- */

static const char *const fuzz_paths[] = {
	"/f0", "/f1", "/f2", "/f3", "/d", "/d/sub", "/d/sub/g0", "/d/g1",
	"/l_file", "/l_dir", "/l_dir/g1", "/l_loop1", "/l_loop2/x", "/l_self",
	"/l_dangle", "/chain0", "/chain30", "/fifo", "/sock", "f1", "d/sub",
	".", "..", "/", "", "/d/sub/../../f2", "/d/sub/../../../../f3", "/f0/",
	"/d/", "/f0/x", "/n0", "/n1", "/d/n2", "/d/sub/n3", "n4", "/l_dir/n5",
	"/new/", "//f1", "/./d/./sub/.", "/l_dir/..", "/l_loop1/..",
	"user.a", "user.b", "trusted.c", "security.d", "system.e", "user.",
	"bogus",
};

/* Builds a long or odd path in buf (size >= 8192) and returns it. */
static const char *odd_path(uint64_t *s, char *buf)
{
	size_t n, i;

	switch (rnd_below(s, 7)) {
	case 0: /* 4095, 4096, 5000 bytes of "a/a/a..." */
	case 1: {
		static const size_t lens[] = { 4094, 4095, 4096, 5000, 255,
					       256 };
		n = lens[rnd_below(s, 6)];
		for (i = 0; i < n; i++)
			buf[i] = (i % 2) ? '/' : 'a';
		if (rnd_below(s, 2))
			memset(buf, 'b', n); /* one long component */
		buf[0] = '/';
		buf[n] = 0;
		return buf;
	}
	case 2: /* many ".." */
		strcpy(buf, "/d/sub");
		n = 1 + rnd_below(s, 800);
		for (i = 0; i < n; i++)
			strcat(buf + strlen(buf) - (strlen(buf) > 100 ? 10 : 0),
			       "/..");
		buf[4000] = 0;
		return buf;
	case 3: /* many symlinks */
		buf[0] = 0;
		n = 1 + rnd_below(s, 60);
		for (i = 0; i < n && strlen(buf) < 4000; i++)
			strcat(buf, rnd_below(s, 2) ? "/l_dir" : "/l_dir/..");
		return buf;
	default:
		snprintf(buf, 64, "/%c%u", "nfdl"[rnd_below(s, 4)],
			 rnd_below(s, 8));
		return buf;
	}
}

/* Random garbage of n bytes into p. */
static void garbage(uint64_t *s, uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += 8) {
		uint64_t v = rnd_next(s);

		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* An "interesting" integer: boundaries, flags, offsets, lengths. */
static unsigned long gen_int(uint64_t *s)
{
	static const unsigned long fixed[] = {
		0, 1, 2, 3, 4, 7, 8, 16, 64, 255, 256, 4095, 4096, 4097, 65536,
		~0ul, ~1ul, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ul,
		LONG_MAX, (unsigned long)LONG_MIN, LONG_MAX - 1, LONG_MAX - 4095,
		SIZE_MAX - 4095, (unsigned long)-4096, (unsigned long)-100,
		0x7ffff000, 1ul << 62, (1ul << 63) - 4096, 0644, 0777, 07777,
		S_IFREG | 0644, S_IFIFO | 0600, S_IFDIR | 0755, S_IFCHR | 0600,
		O_RDWR | O_CREAT, O_WRONLY | O_CREAT | O_TRUNC, O_DIRECTORY,
		O_PATH, O_TMPFILE | O_RDWR, O_APPEND | O_WRONLY, O_NOFOLLOW,
		O_CREAT | O_EXCL | O_RDWR, AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR,
		AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, F_GETLK, F_SETLK, F_OFD_GETLK,
		F_OFD_SETLK, F_DUPFD, F_DUPFD_CLOEXEC, F_SETFL, F_GETFL, F_SETFD,
		LOCK_SH, LOCK_EX, LOCK_UN, SEEK_DATA, SEEK_HOLE, SEEK_END,
		FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, 1024, 1023,
		(unsigned long)-2, 0xfffffffffffff000ul,
	};

	switch (rnd_below(s, 5)) {
	case 0:
	case 1:
		return fixed[rnd_below(s, sizeof(fixed) / sizeof(fixed[0]))];
	case 2:
		return rnd_below(s, 70);
	case 3: /* a few random bits */
		return (1ul << rnd_below(s, 64)) |
		       (rnd_below(s, 2) ? 1ul << rnd_below(s, 32) : 0) |
		       (rnd_below(s, 2) ? rnd_below(s, 0x1000) : 0);
	default:
		return rnd_next(s) >> rnd_below(s, 64);
	}
}

/* An fd-like word: open ones, closed ones, -1, 1 << 31, AT_FDCWD. */
static unsigned long gen_fd(uint64_t *s)
{
	switch (rnd_below(s, 8)) {
	case 0:
		return (unsigned long)AT_FDCWD;
	case 1:
		return (unsigned int)AT_FDCWD; /* cut to 32 bits */
	case 2:
		return rnd_below(s, 2) ? ~0ul : 0xffffffffu;
	case 3:
		return rnd_below(s, 2) ? 1ul << 31 : (1ul << 32) | 3;
	case 4:
		return 1020 + rnd_below(s, 8);
	default:
		return rnd_below(s, 24);
	}
}

struct fuzz_ctx {
	struct arena a;
	uint64_t rs;
	char tmp[8192];
};

/*
 * A pointer-like word for argument i: a path or name, a buffer with
 * garbage, an iovec array, a struct (flock, open_how, timespecs, loff_t),
 * or a bad pointer of some kind.
 */
static unsigned long gen_ptr(struct fuzz_ctx *c, int i)
{
	uint64_t *s = &c->rs;
	uint8_t *sl = slot(&c->a, i);
	const char *str;
	unsigned int k;

	switch (rnd_below(s, 16)) {
	case 0:
	case 1:
	case 2:
	case 3:
		str = fuzz_paths[rnd_below(
			s, sizeof(fuzz_paths) / sizeof(fuzz_paths[0]))];
		memcpy(sl, str, strlen(str) + 1);
		return U(sl);
	case 4:
		str = odd_path(s, c->tmp);
		memcpy(sl, str, strlen(str) + 1);
		return U(sl);
	case 5: /* a buffer of garbage */
		garbage(s, sl, 256);
		return U(sl);
	case 6: { /* an iovec array into the arena and beyond */
		struct iovec *iov = (struct iovec *)sl;
		unsigned int n = 1 + rnd_below(s, 8);

		for (k = 0; k < n; k++) {
			switch (rnd_below(s, 6)) {
			case 0:
				iov[k].iov_base = NULL;
				break;
			case 1:
				iov[k].iov_base = c->a.none;
				break;
			case 2:
				iov[k].iov_base = c->a.tail_end - 10;
				break;
			default:
				iov[k].iov_base = sl + 4096 + 512 * k;
			}
			iov[k].iov_len = rnd_below(s, 4) ? rnd_below(s, 600)
							 : gen_int(s);
		}
		return U(iov);
	}
	case 7: { /* struct flock / open_how / timespec[2] / loff_t */
		struct flock fl;
		struct open_how how;
		struct timespec ts[2];
		uint64_t off;

		switch (rnd_below(s, 4)) {
		case 0:
			memset(&fl, 0, sizeof(fl));
			fl.l_type = (short)(rnd_below(s, 4) ? rnd_below(s, 3)
							    : gen_int(s));
			fl.l_whence = (short)rnd_below(s, 4);
			fl.l_start = (off_t)gen_int(s);
			fl.l_len = (off_t)gen_int(s);
			fl.l_pid = (pid_t)(rnd_below(s, 2) ? 0 : gen_int(s));
			memcpy(sl, &fl, sizeof(fl));
			break;
		case 1:
			how.flags = gen_int(s);
			how.mode = rnd_below(s, 2) ? 0644 : gen_int(s);
			how.resolve = rnd_below(s, 0x40);
			memcpy(sl, &how, sizeof(how));
			memset(sl + sizeof(how), 0, 64);
			if (!rnd_below(s, 4))
				garbage(s, sl + sizeof(how), 64);
			break;
		case 2:
			for (k = 0; k < 2; k++) {
				ts[k].tv_sec = (time_t)gen_int(s);
				ts[k].tv_nsec = rnd_below(s, 3) == 0 ? UTIME_NOW
						: rnd_below(s, 2) ? UTIME_OMIT
								   : (long)gen_int(s);
			}
			memcpy(sl, ts, sizeof(ts));
			break;
		default:
			off = gen_int(s);
			memcpy(sl, &off, sizeof(off));
		}
		return U(sl);
	}
	case 8:
		return 0; /* NULL */
	case 9:
		return U(c->a.unmapped) + rnd_below(s, 64);
	case 10:
		return U(c->a.none) + rnd_below(s, 64);
	case 11:
		return U(c->a.ro); /* "/f0", read-only */
	case 12: /* half-mapped: a few bytes before the guard */
		k = 1 + rnd_below(s, 300);
		garbage(s, c->a.tail_end - k, k);
		return U(c->a.tail_end - k);
	case 13: /* a string with no NUL before the guard */
		k = 1 + rnd_below(s, 4000);
		memset(c->a.tail_end - k, 'a', k);
		*(c->a.tail_end - k) = '/';
		return U(c->a.tail_end - k);
	case 14: /* the kernel half and non-canonical addresses */
		return rnd_below(s, 2) ? 0xffff800000000000ul
				       : 0x0000800000000000ul - 8;
	default: /* a plain output buffer (the second half of the slot) */
		return U(sl + 8192);
	}
}

/*
 * Typed argument kinds, so that most calls get past their first check:
 * f fd, d dirfd, p path, q xattr name, b output buffer, i input buffer,
 * n length, o offset, O open flags, m mode, a AT_ flags, v iovec array,
 * c iovec count, s struct (flock, open_how, timespec, loff_t), k fcntl
 * or flock command, w whence, u id, x anything.
 */
struct fuzz_sig {
	unsigned int nr;
	const char *kinds;
};

static const struct fuzz_sig fuzz_sigs[] = {
	{ SYS_read, "fbn" }, { SYS_write, "fin" }, { SYS_open, "pOm" },
	{ SYS_close, "f" }, { SYS_stat, "pb" }, { SYS_fstat, "fb" },
	{ SYS_lstat, "pb" }, { SYS_lseek, "fow" }, { SYS_pread64, "fbno" },
	{ SYS_pwrite64, "fino" }, { SYS_readv, "fvc" }, { SYS_writev, "fvc" },
	{ SYS_access, "pm" }, { SYS_dup, "f" }, { SYS_dup2, "ff" },
	{ SYS_sendfile, "ffsn" }, { SYS_fcntl, "fks" }, { SYS_flock, "fk" },
	{ SYS_fsync, "f" }, { SYS_truncate, "po" }, { SYS_ftruncate, "fo" },
	{ SYS_getcwd, "bn" }, { SYS_chdir, "p" }, { SYS_fchdir, "f" },
	{ SYS_rename, "pp" }, { SYS_mkdir, "pm" }, { SYS_rmdir, "p" },
	{ SYS_creat, "pm" }, { SYS_link, "pp" }, { SYS_unlink, "p" },
	{ SYS_symlink, "pp" }, { SYS_readlink, "pbn" }, { SYS_chmod, "pm" },
	{ SYS_fchmod, "fm" }, { SYS_chown, "puu" }, { SYS_fchown, "fuu" },
	{ SYS_lchown, "puu" }, { SYS_umask, "m" }, { SYS_utime, "ps" },
	{ SYS_mknod, "pmx" }, { SYS_statfs, "pb" }, { SYS_fstatfs, "fb" },
	{ SYS_chroot, "p" }, { SYS_readahead, "fon" },
	{ SYS_setxattr, "pqinx" }, { SYS_lsetxattr, "pqinx" },
	{ SYS_fsetxattr, "fqinx" }, { SYS_getxattr, "pqbn" },
	{ SYS_lgetxattr, "pqbn" }, { SYS_fgetxattr, "fqbn" },
	{ SYS_listxattr, "pbn" }, { SYS_llistxattr, "pbn" },
	{ SYS_flistxattr, "fbn" }, { SYS_removexattr, "pq" },
	{ SYS_lremovexattr, "pq" }, { SYS_fremovexattr, "fq" },
	{ SYS_getdents64, "fbn" }, { SYS_fadvise64, "fonx" },
	{ SYS_utimes, "ps" }, { SYS_openat, "dpOm" }, { SYS_mkdirat, "dpm" },
	{ SYS_mknodat, "dpmx" }, { SYS_fchownat, "dpuua" },
	{ SYS_futimesat, "dps" }, { SYS_newfstatat, "dpba" },
	{ SYS_unlinkat, "dpa" }, { SYS_renameat, "dpdp" },
	{ SYS_linkat, "dpdpa" }, { SYS_symlinkat, "pdp" },
	{ SYS_readlinkat, "dpbn" }, { SYS_fchmodat, "dpma" },
	{ SYS_faccessat, "dpma" }, { SYS_sync_file_range, "foox" },
	{ SYS_utimensat, "dpsa" }, { SYS_fallocate, "fxoo" },
	{ SYS_dup3, "ffO" }, { SYS_preadv, "fvco" }, { SYS_pwritev, "fvco" },
	{ SYS_syncfs, "f" }, { SYS_renameat2, "dpdpx" },
	{ SYS_copy_file_range, "fsfsnx" }, { SYS_preadv2, "fvcoxx" },
	{ SYS_pwritev2, "fvcoxx" }, { SYS_statx, "dpaxb" },
	{ SYS_close_range, "ffx" }, { SYS_openat2, "dpsn" },
	{ SYS_faccessat2, "dpma" }, { 452 /* fchmodat2 */, "dpma" },
	{ SYS_ftruncate, "fo" }, { SYS_fdatasync, "f" },
};

static const char *sig_of(unsigned long nr)
{
	size_t i;

	for (i = 0; i < sizeof(fuzz_sigs) / sizeof(fuzz_sigs[0]); i++)
		if (fuzz_sigs[i].nr == nr)
			return fuzz_sigs[i].kinds;
	return NULL;
}

/* An fd the task probably holds: low numbers, where opens land. */
static unsigned long gen_live_fd(uint64_t *s)
{
	return rnd_below(s, 8) ? rnd_below(s, 10) : gen_fd(s);
}

static unsigned long gen_typed(struct fuzz_ctx *c, int i, char kind)
{
	static const char *const xnames[] = { "user.a", "user.b",
					      "trusted.c", "user.long" };
	uint64_t *s = &c->rs;
	uint8_t *sl = slot(&c->a, i);
	const char *str;

	if (kind == 'x' || !rnd_below(s, 12))
		return rnd_below(s, 2) ? gen_int(s) : gen_ptr(c, i);
	switch (kind) {
	case 'f':
		return gen_live_fd(s);
	case 'd':
		return rnd_below(s, 2) ? (unsigned long)AT_FDCWD
				       : gen_live_fd(s);
	case 'p':
		if (rnd_below(s, 4))
			str = fuzz_paths[rnd_below(s, 41)];
		else
			str = odd_path(s, c->tmp);
		memcpy(sl, str, strlen(str) + 1);
		return U(sl);
	case 'q':
		str = xnames[rnd_below(s, 4)];
		memcpy(sl, str, strlen(str) + 1);
		return U(sl);
	case 'b':
		return U(sl + 4096);
	case 'i':
		garbage(s, sl, 512);
		return U(sl);
	case 'n':
		return rnd_below(s, 3) ? rnd_below(s, 4097) : gen_int(s);
	case 'o':
		return rnd_below(s, 3) ? rnd_below(s, 20000) : gen_int(s);
	case 'O':
		return (rnd_below(s, 3) | (rnd_below(s, 2) ? O_CREAT : 0) |
			(rnd_below(s, 8) ? 0 : gen_int(s))) &
		       ~(unsigned long)(rnd_below(s, 2) ? O_TMPFILE : 0);
	case 'm':
		return rnd_below(s, 2) ? 0644 : rnd_below(s, 07777 + 1);
	case 'a':
		return rnd_below(s, 2) ? 0 : gen_int(s) & 0x1f00;
	case 'c':
		return rnd_below(s, 4) ? 1 + rnd_below(s, 8) : gen_int(s);
	case 'k':
		return rnd_below(s, 4) ? rnd_below(s, 40) : gen_int(s);
	case 'w':
		return rnd_below(s, 5);
	case 'u':
		return rnd_below(s, 2) ? (unsigned long)-1 : rnd_below(s, 1002);
	case 'v':
	case 's':
	default:
		return gen_ptr(c, i);
	}
}

static unsigned long gen_arg(struct fuzz_ctx *c, int i)
{
	unsigned int r = rnd_below(&c->rs, 100);

	if (r < 25)
		return gen_fd(&c->rs);
	if (r < 60)
		return gen_ptr(c, i);
	return gen_int(&c->rs);
}

/* The implemented calls, drawn more often than the rest. */
static const unsigned int fuzz_nrs[] = {
	SYS_read, SYS_write, SYS_open, SYS_close, SYS_stat, SYS_fstat,
	SYS_lstat, SYS_lseek, SYS_pread64, SYS_pwrite64, SYS_readv,
	SYS_writev, SYS_access, SYS_dup, SYS_dup2, SYS_getpid, SYS_sendfile,
	SYS_uname, SYS_fcntl, SYS_flock, SYS_fsync, SYS_fdatasync,
	SYS_truncate, SYS_ftruncate, SYS_getcwd, SYS_chdir, SYS_fchdir,
	SYS_rename, SYS_mkdir, SYS_rmdir, SYS_creat, SYS_link, SYS_unlink,
	SYS_symlink, SYS_readlink, SYS_chmod, SYS_fchmod, SYS_chown,
	SYS_fchown, SYS_lchown, SYS_umask, SYS_gettimeofday, SYS_getuid,
	SYS_getgid, SYS_setuid, SYS_setgid, SYS_geteuid, SYS_getegid,
	SYS_getppid, SYS_setreuid, SYS_setregid, SYS_getgroups,
	SYS_setgroups, SYS_setresuid, SYS_getresuid, SYS_setresgid,
	SYS_getresgid, SYS_setfsuid, SYS_setfsgid, SYS_utime, SYS_mknod,
	SYS_statfs, SYS_fstatfs, SYS_chroot, SYS_sync, SYS_gettid,
	SYS_readahead, SYS_setxattr, SYS_lsetxattr, SYS_fsetxattr,
	SYS_getxattr, SYS_lgetxattr, SYS_fgetxattr, SYS_listxattr,
	SYS_llistxattr, SYS_flistxattr, SYS_removexattr, SYS_lremovexattr,
	SYS_fremovexattr, SYS_time, SYS_getdents64, SYS_fadvise64,
	SYS_clock_gettime, SYS_clock_getres, SYS_utimes, SYS_openat,
	SYS_mkdirat, SYS_mknodat, SYS_fchownat, SYS_futimesat, SYS_newfstatat,
	SYS_unlinkat, SYS_renameat, SYS_linkat, SYS_symlinkat, SYS_readlinkat,
	SYS_fchmodat, SYS_faccessat, SYS_sync_file_range, SYS_utimensat,
	SYS_fallocate, SYS_dup3, SYS_preadv, SYS_pwritev, SYS_syncfs,
	SYS_renameat2, SYS_copy_file_range, SYS_preadv2, SYS_pwritev2,
	SYS_statx, SYS_close_range, SYS_openat2, SYS_faccessat2,
	452 /* fchmodat2 */,
};

/*
 * Calls that change a task's ids: rarer, or the first setfsuid(random)
 * leaves a task that is refused everything for the rest of the run.
 */
static bool is_id_setter(unsigned int nr)
{
	switch (nr) {
	case SYS_setuid: case SYS_setgid: case SYS_setreuid:
	case SYS_setregid: case SYS_setresuid: case SYS_setresgid:
	case SYS_setfsuid: case SYS_setfsgid: case SYS_setgroups:
	case SYS_chroot: case SYS_umask:
		return true;
	}
	return false;
}

static unsigned long gen_nr(uint64_t *s)
{
	unsigned int r = rnd_below(s, 100);

	if (r < 88) {
		unsigned int nr;

		do
			nr = fuzz_nrs[rnd_below(
				s, sizeof(fuzz_nrs) / sizeof(fuzz_nrs[0]))];
		while (is_id_setter(nr) && rnd_below(s, 16));
		return nr;
	}
	if (r < 96)
		return rnd_below(s, UK_NR_SYSCALLS + 10);
	if (r < 98)
		return (1ul << 32) | SYS_getpid; /* the cut to an int */
	return gen_int(s);
}

/*
 * Calls that may sleep on another task forever are made non-blocking:
 * with one thread per task group nobody would ever release the lock.
 *
 * SEEK_DATA on tmpfs looks pages up one by one from the offset to i_size
 * (open, for the tmpfs rewrite), so after a truncate to ~2^62 it does not
 * come back. SEEK_HOLE stops at the first absent page, at most 8 MiB of
 * pages away here, so it stays; SEEK_DATA runs when fstat shows at most
 * 64 MiB between the offset and the end, else it becomes SEEK_HOLE. With
 * several threads another one may grow the file between the fstat and
 * the lseek, so there SEEK_DATA always becomes SEEK_HOLE.
 */
#define SEEK_DATA_SPAN (64l << 20)

static void defuse(bool threaded, struct uk_task *t, unsigned long nr,
		   unsigned long *args)
{
	unsigned int unr = (unsigned int)nr;

	if (unr == SYS_fcntl) {
		if ((unsigned int)args[1] == F_SETLKW)
			args[1] = F_SETLK;
		if ((unsigned int)args[1] == F_OFD_SETLKW)
			args[1] = F_OFD_SETLK;
	} else if (unr == SYS_flock) {
		args[1] |= LOCK_NB;
	} else if (unr == SYS_lseek && (unsigned int)args[2] == SEEK_DATA) {
		struct stat st;
		long off = (long)args[1];

		if (threaded ||
		    SC(t, SYS_fstat, (unsigned int)args[0], U(&st)) ||
		    (off >= 0 && st.st_size - off > SEEK_DATA_SPAN))
			args[2] = SEEK_HOLE;
	}
}

/* ---- the tree ------------------------------------------------------------------ */

static void mk(struct uk_task *t, unsigned long nr, const char *a,
	       const char *b)
{
	long r;

	if (nr == SYS_mkdir)
		r = SC(t, nr, U(a), 0755);
	else if (nr == SYS_symlink)
		r = SC(t, nr, U(a), U(b));
	else if (nr == SYS_mknod)
		r = SC(t, nr, U(a), (unsigned long)(b ? S_IFSOCK : S_IFIFO) | 0644,
		       0);
	else {
		long fd = SC(t, SYS_open, U(a), O_CREAT | O_WRONLY, 0644);

		assert_true(fd >= 0);
		r = SC(t, SYS_write, (unsigned long)fd, U(b), strlen(b));
		assert_int_equal(r, (long)strlen(b));
		r = SC(t, SYS_close, (unsigned long)fd);
	}
	if (r < 0)
		fail_msg("populating %s: %ld", a, r);
}

/* Files, dirs, symlinks (a loop, a self-loop, a dangling one, a chain
 * of 45 so that ELOOP is reached), a FIFO and a socket node. */
static void populate(struct uk_task *t)
{
	char a[32], b[32];
	int i;

	mk(t, SYS_open, "/f0", "hello");
	mk(t, SYS_open, "/f1", "some data in f1");
	mk(t, SYS_open, "/f2", "");
	mk(t, SYS_open, "/f3", "x");
	mk(t, SYS_mkdir, "/d", NULL);
	mk(t, SYS_mkdir, "/d/sub", NULL);
	mk(t, SYS_open, "/d/sub/g0", "g0");
	mk(t, SYS_open, "/d/g1", "g1");
	mk(t, SYS_symlink, "f0", "/l_file");
	mk(t, SYS_symlink, "/d", "/l_dir");
	mk(t, SYS_symlink, "/l_loop2", "/l_loop1");
	mk(t, SYS_symlink, "/l_loop1", "/l_loop2");
	mk(t, SYS_symlink, "l_self", "/l_self");
	mk(t, SYS_symlink, "/nowhere", "/l_dangle");
	for (i = 0; i < 45; i++) {
		snprintf(a, sizeof(a), "/chain%d", i + 1);
		snprintf(b, sizeof(b), "/chain%d", i);
		mk(t, SYS_symlink, i == 44 ? "/f1" : a, b);
	}
	mk(t, SYS_mknod, "/fifo", NULL);
	mk(t, SYS_mknod, "/sock", "s");
	/* so that the unprivileged tasks can create and remove too */
	assert_int_equal(SC(t, SYS_chmod, U("/"), 0777), 0);
	assert_int_equal(SC(t, SYS_chmod, U("/d"), 01777), 0);
}

/*
 * Removes everything under path (a directory) as task t, which must be
 * root in /. Returns how many entries were removed.
 */
static unsigned int rm_tree(struct uk_task *t, const char *path)
{
	char *buf = malloc(4096), *names = malloc(65536);
	size_t nlen = 0;
	unsigned int removed = 0;
	long fd, n, off;

	assert_non_null(buf);
	assert_non_null(names);
	fd = SC(t, SYS_open, U(path), O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	while ((n = SC(t, SYS_getdents64, (unsigned long)fd, U(buf), 4096)) >
	       0) {
		for (off = 0; off < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *de = (void *)(buf + off);

			if (strcmp(de->name, ".") && strcmp(de->name, "..") &&
			    nlen + strlen(de->name) + 1 < 65536) {
				strcpy(names + nlen, de->name);
				nlen += strlen(de->name) + 1;
			}
			off += de->reclen;
		}
	}
	assert_int_equal(n, 0);
	SC(t, SYS_close, (unsigned long)fd);

	for (size_t o = 0; o < nlen; o += strlen(names + o) + 1) {
		char p[8192];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s", strcmp(path, "/") ? path : "",
			 names + o);
		n = SC(t, SYS_lstat, U(p), U(&st));
		if (n)
			fail_msg("lstat %s: %ld", p, n);
		if (S_ISDIR(st.st_mode)) {
			removed += rm_tree(t, p);
			n = SC(t, SYS_rmdir, U(p));
		} else {
			n = SC(t, SYS_unlink, U(p));
		}
		if (n)
			fail_msg("removing %s: %ld", p, n);
		removed++;
	}
	free(names);
	free(buf);
	return removed;
}

/* ---- invariants ------------------------------------------------------------------ */

/* Every descriptor t holds must answer fstat. Returns how many it holds. */
static unsigned int check_fds(struct uk_task *t, unsigned int max)
{
	unsigned int fd, n = 0;
	struct stat st;
	long r;

	for (fd = 0; fd < max; fd++) {
		r = SC(t, SYS_fcntl, fd, F_GETFD);
		if (r == -EBADF)
			continue;
		if (r < 0 || r > FD_CLOEXEC)
			fail_msg("F_GETFD on fd %u: %ld", fd, r);
		r = SC(t, SYS_fstat, fd, U(&st));
		if (r)
			fail_msg("fd %u is in the table but fstat says %ld", fd,
				 r);
		n++;
	}
	return n;
}

/* ---- the fuzz loop ------------------------------------------------------------------ */

#define MAX_TASKS 6

struct fuzz_thread {
	struct uk_kernel *k;
	struct uk_task *shared; /* used by every thread, exited by the test */
	struct uk_task *tasks[MAX_TASKS];
	unsigned int ntasks;
	pid_t *next_pid;
	uint64_t seed;
	unsigned long calls;
	int id;
	bool forks;
	bool threaded; /* other threads call at the same time */
	struct fuzz_ctx c;
};

static pthread_mutex_t pid_lock = PTHREAD_MUTEX_INITIALIZER;

static pid_t new_pid(struct fuzz_thread *ft)
{
	pid_t p;

	pthread_mutex_lock(&pid_lock);
	p = (*ft->next_pid)++;
	pthread_mutex_unlock(&pid_lock);
	return p;
}

/* Forks, execs or exits one of the thread's own tasks. */
static void task_op(struct fuzz_thread *ft)
{
	uint64_t *s = &ft->c.rs;
	unsigned int i = rnd_below(s, ft->ntasks);
	struct uk_task *t;

	switch (rnd_below(s, 3)) {
	case 0:
		if (ft->ntasks >= MAX_TASKS)
			break;
		t = uk_task_fork(ft->tasks[i], new_pid(ft));
		assert_false(IS_ERR_OR_NULL(t));
		ft->tasks[ft->ntasks++] = t;
		break;
	case 1:
		assert_int_equal(uk_task_exec(ft->tasks[i]), 0);
		break;
	default:
		if (ft->ntasks <= 1)
			break;
		check_fds(ft->tasks[i], 1100);
		uk_task_exit(ft->tasks[i]);
		ft->tasks[i] = ft->tasks[--ft->ntasks];
	}
}

static void fuzz_one(struct fuzz_thread *ft, struct uk_task *t,
		     unsigned long n)
{
	unsigned long nr = gen_nr(&ft->c.rs), args[6];
	long r;
	int i;

	const char *sig = sig_of(nr);
	bool typed = sig && rnd_below(&ft->c.rs, 10) < 8;

	size_t nkinds = typed ? strlen(sig) : 0;

	for (i = 0; i < 6; i++)
		args[i] = (size_t)i < nkinds ? gen_typed(&ft->c, i, sig[i])
					     : gen_arg(&ft->c, i);
	defuse(ft->threaded, t, nr, args);
	if (fuzz_verbose)
		fprintf(stderr,
			"[%d] #%lu pid %d %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)\n",
			ft->id, n, t->pid,
			uk_syscall_name(nr) ? uk_syscall_name(nr) : "?", args[0],
			args[1], args[2], args[3], args[4], args[5]);
	r = uk_dispatch(t, nr, args);
	if (fuzz_stats && (unsigned int)nr < UK_NR_SYSCALLS) {
		__atomic_fetch_add(&stat_all[(unsigned int)nr], 1,
				   __ATOMIC_RELAXED);
		if (r >= 0)
			__atomic_fetch_add(&stat_ok[(unsigned int)nr], 1,
					   __ATOMIC_RELAXED);
	}
	if (r < -4095)
		fail_msg("seed %" PRIu64 " call %lu: nr %lu returned %ld",
			 ft->seed, n, nr, r);
}

static void *fuzz_thread_main(void *arg)
{
	struct fuzz_thread *ft = arg;
	unsigned long n;

	assert_int_equal(uk_uaccess_init(), 0);
	for (n = 0; n < ft->calls; n++) {
		struct uk_task *t;

		if (ft->forks && n % 64 == 63)
			task_op(ft);
		t = ft->shared && rnd_below(&ft->c.rs, 2)
			    ? ft->shared
			    : ft->tasks[rnd_below(&ft->c.rs, ft->ntasks)];
		fuzz_one(ft, t, n);
	}
	return NULL;
}

/*
 * One run: a kernel with a small tmpfs (so ENOSPC is reached instead of
 * eating memory), the tree, nthreads threads each with its own tasks (and,
 * if shared, one more task all threads use at once), calls each; then the
 * invariants, the tree removed, the counters checked, the kernel freed.
 */
static void fuzz_run(uint64_t seed, unsigned long calls, int nthreads,
		     bool forks, bool shared)
{
	struct uk_kernel_opts o = { .tmpfs_size = 8u << 20,
				    .tmpfs_inodes = 4096,
				    .nr_open = 1024 };
	struct fuzz_thread ft[4];
	pthread_t th[4];
	struct uk_kernel *k;
	struct uk_task *root, *sh = NULL;
	struct uk_cred cred;
	pid_t next_pid = 100;
	struct statfs sfs;
	int i;

	printf("fuzz: seed %" PRIu64 ", %lu calls, %d thread(s)%s%s\n", seed,
	       calls, nthreads, forks ? ", fork/exec/exit" : "",
	       shared ? ", a shared task" : "");
	fflush(stdout);
	assert_true(nthreads <= 4);
	k = uk_kernel_new(&o);
	assert_false(IS_ERR_OR_NULL(k));
	root = uk_task_new(k, 1, NULL);
	assert_false(IS_ERR_OR_NULL(root));
	populate(root);
	if (shared) {
		sh = uk_task_fork(root, 99);
		assert_false(IS_ERR_OR_NULL(sh));
	}

	for (i = 0; i < nthreads; i++) {
		memset(&ft[i], 0, sizeof(ft[i]));
		ft[i].k = k;
		ft[i].shared = sh;
		ft[i].next_pid = &next_pid;
		ft[i].seed = seed;
		ft[i].calls = calls;
		ft[i].id = i;
		ft[i].forks = forks;
		ft[i].threaded = nthreads > 1;
		ft[i].c.rs = seed * 1000003u + (uint64_t)i;
		arena_init(&ft[i].c.a, i);
		ft[i].tasks[0] = uk_task_fork(root, new_pid(&ft[i]));
		assert_false(IS_ERR_OR_NULL(ft[i].tasks[0]));
		/* an unprivileged task beside the root one */
		uk_cred_init(&cred, 1000 + (uid_t)i, 1000);
		ft[i].tasks[1] = uk_task_new(k, new_pid(&ft[i]), &cred);
		assert_false(IS_ERR_OR_NULL(ft[i].tasks[1]));
		ft[i].ntasks = 2;
	}
	if (nthreads == 1) {
		fuzz_thread_main(&ft[0]);
	} else {
		for (i = 0; i < nthreads; i++)
			assert_int_equal(pthread_create(&th[i], NULL,
							fuzz_thread_main, &ft[i]),
					 0);
		for (i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
	}
	assert_int_equal(uk_uaccess_init(), 0);

	for (i = 0; i < nthreads; i++) {
		while (ft[i].ntasks) {
			struct uk_task *t = ft[i].tasks[--ft[i].ntasks];

			check_fds(t, 1100);
			uk_task_exit(t);
		}
		arena_free(&ft[i].c.a);
	}
	if (sh) {
		check_fds(sh, 1100);
		uk_task_exit(sh);
	}
	check_fds(root, 1100);
	uk_task_exit(root);

	/* A fresh root task removes everything; nothing may be left. */
	root = uk_task_new(k, 2, NULL);
	assert_false(IS_ERR_OR_NULL(root));
	rm_tree(root, "/");
	assert_int_equal(SC(root, SYS_statfs, U("/"), U(&sfs)), 0);
	if (sfs.f_files - sfs.f_ffree != 1 || sfs.f_blocks != sfs.f_bfree)
		fail_msg("seed %" PRIu64 ": empty tmpfs says %llu inodes and "
			 "%llu pages in use",
			 seed, (unsigned long long)(sfs.f_files - sfs.f_ffree),
			 (unsigned long long)(sfs.f_blocks - sfs.f_bfree));
	uk_task_exit(root);
	uk_kernel_free(k);
}

/* ---- tests ------------------------------------------------------------------------ */

/*
 * Found by the fuzzer (any seed, even 0 calls): rmdir of a directory that
 * had children left its inode counted in tmpfs forever, because the
 * children's cached negative dentries held references on it. With an
 * inode limit, mkdir d; mkdir d/s; rmdir d/s; rmdir d in a loop ran the
 * file system out of inodes.
 */
static void test_rmdir_frees_dir_with_negative_children(void **state)
{
	struct uk_kernel_opts o = { .tmpfs_inodes = 16 };
	struct uk_kernel *k = uk_kernel_new(&o);
	struct uk_task *t;
	struct statfs sfs;
	int i;

	(void)state;
	assert_false(IS_ERR_OR_NULL(k));
	t = uk_task_new(k, 1, NULL);
	assert_false(IS_ERR_OR_NULL(t));
	for (i = 0; i < 100; i++) {
		assert_int_equal(SC(t, SYS_mkdir, U("/d"), 0755), 0);
		assert_int_equal(SC(t, SYS_mkdir, U("/d/s"), 0755), 0);
		assert_int_equal(SC(t, SYS_access, U("/d/missing"), F_OK),
				 -ENOENT);
		assert_int_equal(SC(t, SYS_rmdir, U("/d/s")), 0);
		assert_int_equal(SC(t, SYS_rmdir, U("/d")), 0);
		/* and a rename over an emptied directory */
		assert_int_equal(SC(t, SYS_mkdir, U("/a"), 0755), 0);
		assert_int_equal(SC(t, SYS_mkdir, U("/b"), 0755), 0);
		assert_int_equal(SC(t, SYS_mkdir, U("/b/s"), 0755), 0);
		assert_int_equal(SC(t, SYS_rmdir, U("/b/s")), 0);
		assert_int_equal(SC(t, SYS_rename, U("/a"), U("/b")), 0);
		assert_int_equal(SC(t, SYS_rmdir, U("/b")), 0);
	}
	assert_int_equal(SC(t, SYS_statfs, U("/"), U(&sfs)), 0);
	assert_int_equal(sfs.f_files - sfs.f_ffree, 1);
	uk_task_exit(t);
	uk_kernel_free(k);
}

/* Found by the fuzzer (seed 5, 20000 calls, UBSan): copy_file_range
 * with a negative *off_out overflowed s_maxbytes - pos_out. */
static void test_copy_file_range_negative_offset(void **state)
{
	struct uk_kernel *k = uk_kernel_new(NULL);
	struct uk_task *t;
	int64_t off_in = 0, off_out = -1292019527038185818ll;
	long a, b;

	(void)state;
	assert_false(IS_ERR_OR_NULL(k));
	t = uk_task_new(k, 1, NULL);
	assert_false(IS_ERR_OR_NULL(t));
	a = SC(t, SYS_open, U("/a"), O_CREAT | O_RDWR, 0644);
	b = SC(t, SYS_open, U("/b"), O_CREAT | O_RDWR, 0644);
	assert_true(a >= 0 && b >= 0);
	assert_int_equal(SC(t, SYS_write, (unsigned long)a, U("abc"), 3), 3);
	assert_int_equal(SC(t, SYS_copy_file_range, (unsigned long)a,
			    U(&off_in), (unsigned long)b, U(&off_out), 3, 0),
			 -EINVAL);
	uk_task_exit(t);
	uk_kernel_free(k);
}

static void test_one_task(void **state)
{
	(void)state;
	fuzz_run(fuzz_seed, fuzz_calls, 1, false, false);
}

static void test_tasks_fork_exec_exit(void **state)
{
	(void)state;
	fuzz_run(fuzz_seed + 1, fuzz_calls, 1, true, false);
}

static void test_threads_and_shared_task(void **state)
{
	(void)state;
	fuzz_run(fuzz_seed + 2, fuzz_calls / 3, 3, true, true);
}

static void print_stats(void)
{
	unsigned int nr;

	for (nr = 0; nr < UK_NR_SYSCALLS; nr++)
		if (stat_all[nr] && uk_syscall_name(nr))
			printf("%-18s %6lu ok of %6lu\n", uk_syscall_name(nr),
			       stat_ok[nr], stat_all[nr]);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rmdir_frees_dir_with_negative_children),
		cmocka_unit_test(test_copy_file_range_negative_offset),
		cmocka_unit_test(test_one_task),
		cmocka_unit_test(test_tasks_fork_exec_exit),
		cmocka_unit_test(test_threads_and_shared_task),
	};
	const char *e;

	if (argc > 1)
		fuzz_seed = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		fuzz_calls = strtoul(argv[2], NULL, 0);
	e = getenv("UK_FUZZ_SEED");
	if (e && *e)
		fuzz_seed = strtoull(e, NULL, 0);
	e = getenv("UK_FUZZ_CALLS");
	if (e && *e)
		fuzz_calls = strtoul(e, NULL, 0);
	e = getenv("UK_FUZZ_VERBOSE");
	fuzz_verbose = e && *e == '1';
	e = getenv("UK_FUZZ_STATS");
	fuzz_stats = e && *e == '1';
	if (fuzz_stats)
		atexit(print_stats);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
