// SPDX-License-Identifier: MIT
/*
 * ukernel/trace.c - tracer attachment and the ready-made strace-like
 * tracer: one line per call, `openat(AT_FDCWD, "/a", O_RDONLY) = 3`,
 * arguments decoded from a small table of the file and identity syscalls
 * (strings read through the task's uaccess, flags by name), six hex words
 * for everything else.
 *
 * Sections: attach, errno names, argument kinds and the table, formatting,
 * the tracer.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"

/* ---- attach --------------------------------------------------------------- */

struct uk_trace *uk_trace_attach(struct uk_kernel *k, struct uk_trace *tr)
{
	return atomic_exchange_explicit(&k->trace, tr, memory_order_acq_rel);
}

/* ---- errno names ------------------------------------------------------------ */

const char *uk_errno_name(int err)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
	return err > 0 ? strerrorname_np(err) : NULL;
#else
	static const char *const names[] = {
		[EPERM] = "EPERM",   [ENOENT] = "ENOENT", [EINTR] = "EINTR",
		[EIO] = "EIO",       [EBADF] = "EBADF",   [EAGAIN] = "EAGAIN",
		[ENOMEM] = "ENOMEM", [EACCES] = "EACCES", [EFAULT] = "EFAULT",
		[EBUSY] = "EBUSY",   [EEXIST] = "EEXIST", [EXDEV] = "EXDEV",
		[ENOTDIR] = "ENOTDIR", [EISDIR] = "EISDIR",
		[EINVAL] = "EINVAL", [EMFILE] = "EMFILE", [EFBIG] = "EFBIG",
		[ENOSPC] = "ENOSPC", [ESPIPE] = "ESPIPE", [EROFS] = "EROFS",
		[EMLINK] = "EMLINK", [ERANGE] = "ERANGE",
		[EDEADLK] = "EDEADLK", [ENAMETOOLONG] = "ENAMETOOLONG",
		[ENOSYS] = "ENOSYS", [ENOTEMPTY] = "ENOTEMPTY",
		[ELOOP] = "ELOOP",   [ENODATA] = "ENODATA",
		[EOPNOTSUPP] = "EOPNOTSUPP",
	};

	if (err > 0 && (size_t)err < UK_ARRAY_SIZE(names))
		return names[err];
	return NULL;
#endif
}

/* ---- argument kinds and the table ------------------------------------------- */

enum uk_arg_kind {
	A_NONE = 0,
	A_INT,      /* int, decimal */
	A_UINT,     /* unsigned int */
	A_LONG,     /* long (offsets) */
	A_ULONG,    /* size_t */
	A_HEX,      /* hex word */
	A_PTR,      /* pointer: NULL or 0x... */
	A_FD,       /* int descriptor */
	A_DIRFD,    /* AT_FDCWD or a descriptor */
	A_PATH,     /* NUL-terminated string */
	A_BUF_IN,   /* data of length next argument */
	A_BUF_OUT,  /* data of length ret, shown on success */
	A_STAT_OUT, /* struct stat, shown on success */
	A_OFLAGS,   /* O_* */
	A_OMODE,    /* mode, only with O_CREAT or O_TMPFILE */
	A_MODE,     /* octal mode */
	A_ATFLAGS,  /* AT_* */
	A_ACCESS,   /* F_OK / R_OK|W_OK|X_OK */
	A_WHENCE,   /* SEEK_* */
	A_FCNTL,    /* F_* command, and the argument when it takes one */
	A_CLOCK,    /* CLOCK_* */
	A_IDS_OUT,  /* [id] when the call succeeded */
	A_TS_OUT,   /* struct timespec, shown on success */
	A_RENAME,   /* RENAME_* */
	A_FLOCK,    /* LOCK_* */
};

enum uk_ret_kind { R_DEC = 0, R_OCT, R_HEX, R_FCNTL };

struct uk_strace_spec {
	unsigned short nr;
	unsigned char ret;
	unsigned char arg[6];
};

#define S(name, r, ...) { UK_NR_##name, r, { __VA_ARGS__ } }
#define S0(name) { UK_NR_##name, R_DEC, { A_NONE } }
static const struct uk_strace_spec uk_strace_specs[] = {
	S(read, R_DEC, A_FD, A_BUF_OUT, A_ULONG),
	S(write, R_DEC, A_FD, A_BUF_IN, A_ULONG),
	S(pread64, R_DEC, A_FD, A_BUF_OUT, A_ULONG, A_LONG),
	S(pwrite64, R_DEC, A_FD, A_BUF_IN, A_ULONG, A_LONG),
	S(readv, R_DEC, A_FD, A_PTR, A_INT),
	S(writev, R_DEC, A_FD, A_PTR, A_INT),
	S(preadv, R_DEC, A_FD, A_PTR, A_INT, A_LONG),
	S(pwritev, R_DEC, A_FD, A_PTR, A_INT, A_LONG),
	S(open, R_DEC, A_PATH, A_OFLAGS, A_OMODE),
	S(openat, R_DEC, A_DIRFD, A_PATH, A_OFLAGS, A_OMODE),
	S(openat2, R_DEC, A_DIRFD, A_PATH, A_PTR, A_ULONG),
	S(creat, R_DEC, A_PATH, A_MODE),
	S(close, R_DEC, A_FD),
	S(close_range, R_DEC, A_UINT, A_UINT, A_HEX),
	S(lseek, R_DEC, A_FD, A_LONG, A_WHENCE),
	S(stat, R_DEC, A_PATH, A_STAT_OUT),
	S(lstat, R_DEC, A_PATH, A_STAT_OUT),
	S(fstat, R_DEC, A_FD, A_STAT_OUT),
	S(newfstatat, R_DEC, A_DIRFD, A_PATH, A_STAT_OUT, A_ATFLAGS),
	S(statx, R_DEC, A_DIRFD, A_PATH, A_ATFLAGS, A_HEX, A_PTR),
	S(access, R_DEC, A_PATH, A_ACCESS),
	S(faccessat, R_DEC, A_DIRFD, A_PATH, A_ACCESS),
	S(faccessat2, R_DEC, A_DIRFD, A_PATH, A_ACCESS, A_ATFLAGS),
	S(dup, R_DEC, A_FD),
	S(dup2, R_DEC, A_FD, A_FD),
	S(dup3, R_DEC, A_FD, A_FD, A_OFLAGS),
	S(fcntl, R_FCNTL, A_FD, A_FCNTL),
	S(flock, R_DEC, A_FD, A_FLOCK),
	S(fsync, R_DEC, A_FD),
	S(fdatasync, R_DEC, A_FD),
	S(syncfs, R_DEC, A_FD),
	S(truncate, R_DEC, A_PATH, A_LONG),
	S(ftruncate, R_DEC, A_FD, A_LONG),
	S(fallocate, R_DEC, A_FD, A_INT, A_LONG, A_LONG),
	S(getdents64, R_DEC, A_FD, A_PTR, A_UINT),
	S(getcwd, R_DEC, A_PTR, A_ULONG),
	S(chdir, R_DEC, A_PATH),
	S(fchdir, R_DEC, A_FD),
	S(mkdir, R_DEC, A_PATH, A_MODE),
	S(mkdirat, R_DEC, A_DIRFD, A_PATH, A_MODE),
	S(rmdir, R_DEC, A_PATH),
	S(link, R_DEC, A_PATH, A_PATH),
	S(linkat, R_DEC, A_DIRFD, A_PATH, A_DIRFD, A_PATH, A_ATFLAGS),
	S(unlink, R_DEC, A_PATH),
	S(unlinkat, R_DEC, A_DIRFD, A_PATH, A_ATFLAGS),
	S(symlink, R_DEC, A_PATH, A_PATH),
	S(symlinkat, R_DEC, A_PATH, A_DIRFD, A_PATH),
	S(readlink, R_DEC, A_PATH, A_BUF_OUT, A_ULONG),
	S(readlinkat, R_DEC, A_DIRFD, A_PATH, A_BUF_OUT, A_ULONG),
	S(rename, R_DEC, A_PATH, A_PATH),
	S(renameat, R_DEC, A_DIRFD, A_PATH, A_DIRFD, A_PATH),
	S(renameat2, R_DEC, A_DIRFD, A_PATH, A_DIRFD, A_PATH, A_RENAME),
	S(chmod, R_DEC, A_PATH, A_MODE),
	S(fchmod, R_DEC, A_FD, A_MODE),
	S(fchmodat, R_DEC, A_DIRFD, A_PATH, A_MODE),
	S(chown, R_DEC, A_PATH, A_INT, A_INT),
	S(fchown, R_DEC, A_FD, A_INT, A_INT),
	S(lchown, R_DEC, A_PATH, A_INT, A_INT),
	S(fchownat, R_DEC, A_DIRFD, A_PATH, A_INT, A_INT, A_ATFLAGS),
	S(umask, R_OCT, A_MODE),
	S(utimensat, R_DEC, A_DIRFD, A_PATH, A_PTR, A_ATFLAGS),
	S(statfs, R_DEC, A_PATH, A_PTR),
	S(fstatfs, R_DEC, A_FD, A_PTR),
	S(mknod, R_DEC, A_PATH, A_MODE, A_HEX),
	S(mknodat, R_DEC, A_DIRFD, A_PATH, A_MODE, A_HEX),
	S(getxattr, R_DEC, A_PATH, A_PATH, A_PTR, A_ULONG),
	S(lgetxattr, R_DEC, A_PATH, A_PATH, A_PTR, A_ULONG),
	S(fgetxattr, R_DEC, A_FD, A_PATH, A_PTR, A_ULONG),
	S(setxattr, R_DEC, A_PATH, A_PATH, A_BUF_IN, A_ULONG, A_INT),
	S(lsetxattr, R_DEC, A_PATH, A_PATH, A_BUF_IN, A_ULONG, A_INT),
	S(fsetxattr, R_DEC, A_FD, A_PATH, A_BUF_IN, A_ULONG, A_INT),
	S(removexattr, R_DEC, A_PATH, A_PATH),
	S(lremovexattr, R_DEC, A_PATH, A_PATH),
	S(fremovexattr, R_DEC, A_FD, A_PATH),
	S(copy_file_range, R_DEC, A_FD, A_PTR, A_FD, A_PTR, A_ULONG, A_UINT),
	S(sendfile, R_DEC, A_FD, A_FD, A_PTR, A_ULONG),
	S0(getpid), S0(getppid), S0(gettid), S0(getuid), S0(geteuid),
	S0(getgid), S0(getegid), S0(sync),
	S(setuid, R_DEC, A_INT), S(setgid, R_DEC, A_INT),
	S(setreuid, R_DEC, A_INT, A_INT), S(setregid, R_DEC, A_INT, A_INT),
	S(setresuid, R_DEC, A_INT, A_INT, A_INT),
	S(setresgid, R_DEC, A_INT, A_INT, A_INT),
	S(getresuid, R_DEC, A_IDS_OUT, A_IDS_OUT, A_IDS_OUT),
	S(getresgid, R_DEC, A_IDS_OUT, A_IDS_OUT, A_IDS_OUT),
	S(setfsuid, R_DEC, A_INT), S(setfsgid, R_DEC, A_INT),
	S(getgroups, R_DEC, A_INT, A_PTR), S(setgroups, R_DEC, A_INT, A_PTR),
	S(time, R_DEC, A_PTR), S(gettimeofday, R_DEC, A_PTR, A_PTR),
	S(clock_gettime, R_DEC, A_CLOCK, A_TS_OUT),
	S(clock_getres, R_DEC, A_CLOCK, A_TS_OUT),
	S(uname, R_DEC, A_PTR),
};
#undef S
#undef S0

static const struct uk_strace_spec *uk_strace_by_nr[UK_NR_SYSCALLS];
static pthread_once_t uk_strace_once = PTHREAD_ONCE_INIT;

static void uk_strace_index(void)
{
	size_t i;

	for (i = 0; i < UK_ARRAY_SIZE(uk_strace_specs); i++)
		uk_strace_by_nr[uk_strace_specs[i].nr] = &uk_strace_specs[i];
}

/* ---- formatting --------------------------------------------------------------- */

/* A bounded output buffer; writes past the end are dropped. */
struct uk_out {
	char *buf;
	size_t size, len;
};

static void __attribute__((format(printf, 2, 3)))
out(struct uk_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len + 1 >= o->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->size - o->len ? (size_t)n
						       : o->size - o->len - 1;
}

static void out_ptr(struct uk_out *o, unsigned long p)
{
	if (p)
		out(o, "%#lx", p);
	else
		out(o, "NULL");
}

struct uk_flag {
	unsigned long bit;
	const char *name;
};

/* Prints the named bits of v joined by '|', then what is left in hex. */
static void out_flags(struct uk_out *o, unsigned long v,
		      const struct uk_flag *f, size_t n, bool any)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((v & f[i].bit) == f[i].bit && f[i].bit) {
			out(o, "%s%s", any ? "|" : "", f[i].name);
			v &= ~f[i].bit;
			any = true;
		}
	}
	if (v || !any)
		out(o, "%s%#lx", any ? "|" : "", v);
}

static void out_oflags(struct uk_out *o, unsigned long v)
{
	/* strace's order (O_SYNC before O_DSYNC, O_TMPFILE before O_DIRECTORY) */
	static const struct uk_flag f[] = {
		{ O_CREAT, "O_CREAT" },	       { O_EXCL, "O_EXCL" },
		{ O_NOCTTY, "O_NOCTTY" },      { O_TRUNC, "O_TRUNC" },
		{ O_APPEND, "O_APPEND" },      { O_NONBLOCK, "O_NONBLOCK" },
		{ O_SYNC, "O_SYNC" },	       { O_DSYNC, "O_DSYNC" },
		{ O_DIRECT, "O_DIRECT" },      { 0100000, "O_LARGEFILE" },
		{ O_NOFOLLOW, "O_NOFOLLOW" },  { O_NOATIME, "O_NOATIME" },
		{ O_CLOEXEC, "O_CLOEXEC" },    { O_PATH, "O_PATH" },
		{ O_TMPFILE, "O_TMPFILE" },    { O_DIRECTORY, "O_DIRECTORY" },
		{ O_ASYNC, "FASYNC" },
	};
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR",
					   "O_ACCMODE" };
	v &= 0xffffffffu;
	out(o, "%s", acc[v & O_ACCMODE]);
	v &= ~(unsigned long)O_ACCMODE;
	if (v)
		out_flags(o, v, f, UK_ARRAY_SIZE(f), true);
}

static void out_atflags(struct uk_out *o, unsigned long nr, unsigned long v)
{
	static const struct uk_flag f[] = {
		{ AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW" },
		{ AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW" },
		{ AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT" },
		{ AT_EMPTY_PATH, "AT_EMPTY_PATH" },
		{ AT_STATX_FORCE_SYNC, "AT_STATX_FORCE_SYNC" },
		{ AT_STATX_DONT_SYNC, "AT_STATX_DONT_SYNC" },
	};

	/* the AT_STATX_* bits (the last two) mean something to statx only */
	size_t n = UK_ARRAY_SIZE(f) - (nr == UK_NR_statx ? 0 : 2);
	unsigned long known = 0x200;
	size_t i;

	v &= 0xffffffffu;
	if (!v) {
		out(o, "0");
		return;
	}
	for (i = 0; i < n; i++)
		known |= f[i].bit;
	if (!(v & known)) {
		out(o, "%#lx /* AT_??? */", v);
		return;
	}
	/* 0x200 is AT_REMOVEDIR for unlinkat, AT_EACCESS for faccessat2 */
	if (v & 0x200) {
		out(o, "%s", nr == UK_NR_unlinkat ? "AT_REMOVEDIR" : "AT_EACCESS");
		v &= ~0x200ul;
		if (v)
			out_flags(o, v, f, n, true);
		return;
	}
	out_flags(o, v, f, n, false);
}

/* A string as strace quotes it: escapes, at most max bytes, then "...". */
static void out_quoted(struct uk_out *o, const char *s, size_t n, size_t max,
		       bool more)
{
	size_t i;

	out(o, "\"");
	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"': out(o, "\\\""); break;
		case '\\': out(o, "\\\\"); break;
		case '\n': out(o, "\\n"); break;
		case '\t': out(o, "\\t"); break;
		case '\r': out(o, "\\r"); break;
		default:
			if (c < 0x20 || c >= 0x7f)
				out(o, "\\%o", c);
			else
				out(o, "%c", c);
		}
	}
	out(o, "\"%s", (i < n || more) ? "..." : "");
}

#define UK_STRACE_STRLEN 32 /* strace's default -s */

static void out_path(struct uk_out *o, struct uk_task *t, unsigned long p)
{
	char buf[UK_PATH_MAX];
	long len;

	if (!p) {
		out(o, "NULL");
		return;
	}
	len = t->mm->strncpy_from(t, buf, p, sizeof(buf));
	if (len < 0)
		out_ptr(o, p);
	else
		out_quoted(o, buf, (size_t)len, sizeof(buf), len == sizeof(buf));
}

static void out_buf(struct uk_out *o, struct uk_task *t, unsigned long p,
		    size_t n)
{
	char buf[UK_STRACE_STRLEN];
	size_t take = n < sizeof(buf) ? n : sizeof(buf);

	if (copy_from_user(t, buf, p, take))
		out_ptr(o, p);
	else
		out_quoted(o, buf, take, sizeof(buf), take < n);
}

static void out_stat(struct uk_out *o, struct uk_task *t, unsigned long p)
{
	static const struct uk_flag types[] = {
		{ S_IFSOCK, "S_IFSOCK" }, { S_IFLNK, "S_IFLNK" },
		{ S_IFREG, "S_IFREG" },   { S_IFBLK, "S_IFBLK" },
		{ S_IFDIR, "S_IFDIR" },   { S_IFCHR, "S_IFCHR" },
		{ S_IFIFO, "S_IFIFO" },
	};
	struct stat st;
	size_t i;

	if (copy_from_user(t, &st, p, sizeof(st))) {
		out_ptr(o, p);
		return;
	}
	out(o, "{st_mode=");
	for (i = 0; i < UK_ARRAY_SIZE(types); i++)
		if ((st.st_mode & S_IFMT) == types[i].bit)
			break;
	if (i < UK_ARRAY_SIZE(types))
		out(o, "%s|", types[i].name);
	if (st.st_mode & S_ISUID)
		out(o, "S_ISUID|");
	if (st.st_mode & S_ISGID)
		out(o, "S_ISGID|");
	if (st.st_mode & S_ISVTX)
		out(o, "S_ISVTX|");
	out(o, "%04o, st_size=%lld, ...}", (unsigned int)st.st_mode & 0777,
	    (long long)st.st_size);
}

static void out_fcntl(struct uk_out *o, unsigned long cmd, unsigned long arg)
{
	static const char *const names[] = {
		[F_DUPFD] = "F_DUPFD", [F_GETFD] = "F_GETFD",
		[F_SETFD] = "F_SETFD", [F_GETFL] = "F_GETFL",
		[F_SETFL] = "F_SETFL", [F_GETLK] = "F_GETLK",
		[F_SETLK] = "F_SETLK", [F_SETLKW] = "F_SETLKW",
		[F_OFD_GETLK] = "F_OFD_GETLK", [F_OFD_SETLK] = "F_OFD_SETLK",
		[F_OFD_SETLKW] = "F_OFD_SETLKW",
	};
	unsigned int c = (unsigned int)cmd;

	if (c == F_DUPFD_CLOEXEC)
		out(o, "F_DUPFD_CLOEXEC");
	else if (c < UK_ARRAY_SIZE(names) && names[c])
		out(o, "%s", names[c]);
	else
		out(o, "%#x /* F_??? */", c);
	switch (c) {
	case F_GETFD:
	case F_GETFL:
		break;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		out(o, ", %d", (int)arg);
		break;
	case F_SETFD:
		out(o, ", %s", (arg & FD_CLOEXEC) ? "FD_CLOEXEC" : "0");
		break;
	case F_SETFL:
		out(o, ", ");
		out_oflags(o, arg);
		break;
	default:
		out(o, ", %#lx", arg);
	}
}

static void out_clock(struct uk_out *o, unsigned long v)
{
	static const char *const names[] = {
		"CLOCK_REALTIME", "CLOCK_MONOTONIC",
		"CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID",
		"CLOCK_MONOTONIC_RAW", "CLOCK_REALTIME_COARSE",
		"CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME",
		"CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM", NULL,
		"CLOCK_TAI",
	};
	int c = (int)v;

	if (c >= 0 && (size_t)c < UK_ARRAY_SIZE(names) && names[c])
		out(o, "%s", names[c]);
	else
		out(o, "%#x /* CLOCK_??? */", (unsigned int)c);
}

static void out_arg(struct uk_out *o, struct uk_task *t, unsigned long nr,
		    const unsigned long *args, unsigned int i, unsigned int kind,
		    long ret, bool ok)
{
	unsigned long v = args[i];
	static const char *const whence[] = { "SEEK_SET", "SEEK_CUR",
					      "SEEK_END", "SEEK_DATA",
					      "SEEK_HOLE" };

	switch (kind) {
	case A_INT:
	case A_FD:
		out(o, "%d", (int)v);
		break;
	case A_DIRFD:
		if ((int)v == AT_FDCWD)
			out(o, "AT_FDCWD");
		else
			out(o, "%d", (int)v);
		break;
	case A_UINT:
		out(o, "%u", (unsigned int)v);
		break;
	case A_LONG:
		out(o, "%ld", (long)v);
		break;
	case A_ULONG:
		out(o, "%lu", v);
		break;
	case A_PTR:
		out_ptr(o, v);
		break;
	case A_PATH:
		out_path(o, t, v);
		break;
	case A_BUF_IN:
		out_buf(o, t, v, args[i + 1]);
		break;
	case A_BUF_OUT:
		if (ok)
			out_buf(o, t, v, (size_t)ret);
		else
			out_ptr(o, v);
		break;
	case A_STAT_OUT:
		if (ok)
			out_stat(o, t, v);
		else
			out_ptr(o, v);
		break;
	case A_IDS_OUT: {
		uint32_t id;

		if (ok && !copy_from_user(t, &id, v, sizeof(id)))
			out(o, "[%u]", id);
		else
			out_ptr(o, v);
		break;
	}
	case A_TS_OUT: {
		struct timespec ts;

		if (ok && v && !copy_from_user(t, &ts, v, sizeof(ts)))
			out(o, "{tv_sec=%lld, tv_nsec=%ld}", (long long)ts.tv_sec,
			    ts.tv_nsec);
		else
			out_ptr(o, v);
		break;
	}
	case A_RENAME: {
		static const struct uk_flag f[] = {
			{ 1, "RENAME_NOREPLACE" }, { 2, "RENAME_EXCHANGE" },
			{ 4, "RENAME_WHITEOUT" },
		};

		out_flags(o, v & 0xffffffffu, f, UK_ARRAY_SIZE(f), false);
		break;
	}
	case A_FLOCK: {
		static const struct uk_flag f[] = {
			{ 1, "LOCK_SH" }, { 2, "LOCK_EX" }, { 8, "LOCK_UN" },
			{ 4, "LOCK_NB" }, { 32, "LOCK_MAND" },
		};

		out_flags(o, v & 0xffffffffu, f, UK_ARRAY_SIZE(f), false);
		break;
	}
	case A_OFLAGS:
		out_oflags(o, v);
		break;
	case A_MODE:
		out(o, "%#03lo", v & 07777);
		break;
	case A_ATFLAGS:
		out_atflags(o, nr, v);
		break;
	case A_ACCESS:
		if (!(v & 7)) {
			out(o, "F_OK");
			break;
		}
		out(o, "%s%s%s", (v & R_OK) ? "R_OK" : "",
		    (v & W_OK) ? ((v & R_OK) ? "|W_OK" : "W_OK") : "",
		    (v & X_OK) ? ((v & (R_OK | W_OK)) ? "|X_OK" : "X_OK") : "");
		break;
	case A_WHENCE:
		if ((unsigned int)v < UK_ARRAY_SIZE(whence))
			out(o, "%s", whence[(unsigned int)v]);
		else
			out(o, "%#x /* SEEK_??? */", (unsigned int)v);
		break;
	case A_FCNTL:
		out_fcntl(o, v, args[i + 1]);
		break;
	case A_CLOCK:
		out_clock(o, v);
		break;
	case A_HEX:
	default:
		out(o, "%#lx", v);
		break;
	}
}

size_t uk_strace_format(struct uk_task *task, unsigned long nr,
			const unsigned long *args, long ret, char *buf,
			size_t size)
{
	struct uk_out o = { .buf = buf, .size = size, .len = 0 };
	const struct uk_strace_spec *spec = NULL;
	const char *name = uk_syscall_name(uk_syscall_nr(nr));
	bool ok = (unsigned long)ret < -4095ul;
	unsigned int i, n = 0;

	if (!size)
		return 0;
	buf[0] = '\0';
	pthread_once(&uk_strace_once, uk_strace_index);
	if (uk_syscall_nr(nr) < UK_NR_SYSCALLS)
		spec = uk_strace_by_nr[uk_syscall_nr(nr)];

	if (name)
		out(&o, "%s(", name);
	else
		out(&o, "syscall_%#lx(", nr);
	if (spec) {
		for (i = 0; i < 6 && spec->arg[i]; i++) {
			if (spec->arg[i] == A_OMODE) {
				unsigned long fl = args[i - 1];

				if (!(fl & O_CREAT) &&
				    (fl & O_TMPFILE) != O_TMPFILE)
					break;
				out(&o, ", %#03lo", args[i] & 07777);
				continue;
			}
			if (n++)
				out(&o, ", ");
			out_arg(&o, task, nr, args, i, spec->arg[i], ret, ok);
			if (spec->arg[i] == A_FCNTL)
				break; /* it printed its argument too */
		}
	} else {
		for (i = 0; i < 6; i++)
			out(&o, "%s%#lx", i ? ", " : "", args[i]);
	}
	out(&o, ")");

	if (!ok) {
		const char *en = uk_errno_name((int)-ret);

		if (en)
			out(&o, " = -1 %s (%s)", en, strerror((int)-ret));
		else
			out(&o, " = -1 errno %ld", -ret);
	} else if (spec && spec->ret == R_FCNTL && ret &&
		   ((unsigned int)args[1] == F_GETFL ||
		    (unsigned int)args[1] == F_GETFD)) {
		out(&o, " = %#lx (flags ", (unsigned long)ret);
		if ((unsigned int)args[1] == F_GETFD)
			out(&o, "%s", (ret & FD_CLOEXEC) ? "FD_CLOEXEC" : "0");
		else
			out_oflags(&o, (unsigned long)ret);
		out(&o, ")");
	} else if (spec && spec->ret == R_OCT) {
		out(&o, " = %#03lo", (unsigned long)ret);
	} else if (spec && spec->ret == R_HEX) {
		out(&o, " = %#lx", (unsigned long)ret);
	} else {
		out(&o, " = %ld", ret);
	}
	return o.len;
}

/* ---- the tracer --------------------------------------------------------------- */

struct uk_strace {
	struct uk_trace trace; /* first: the kernel sees this */
	int fd;
	unsigned int flags;
	void (*emit)(void *priv, const char *line, size_t len);
	void *priv;
};

static void uk_strace_exit(struct uk_trace *tr, struct uk_task *task,
			   unsigned long nr, const unsigned long *args,
			   long ret, uint64_t ns)
{
	struct uk_strace *s = uk_container_of(tr, struct uk_strace, trace);
	char line[1024];
	struct uk_out o = { .buf = line, .size = sizeof(line) - 1 };
	ssize_t w;

	if (s->flags & UK_STRACE_PID)
		out(&o, "[pid %5d] ", (int)task->pid);
	o.len += uk_strace_format(task, nr, args, ret, line + o.len,
				  o.size - o.len);
	if ((s->flags & UK_STRACE_TIME) && ns != UINT64_MAX)
		out(&o, " <%llu.%06llu>", (unsigned long long)(ns / 1000000000u),
		    (unsigned long long)(ns % 1000000000u / 1000u));
	if (s->emit) {
		s->emit(s->priv, line, o.len);
		return;
	}
	line[o.len++] = '\n';
	do {
		w = write(s->fd, line, o.len);
	} while (w < 0 && errno == EINTR);
}

struct uk_trace *uk_strace_new(int fd, unsigned int flags,
			       void (*emit)(void *priv, const char *line,
					    size_t len),
			       void *priv)
{
	struct uk_strace *s = calloc(1, sizeof(*s));

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->trace.exit = uk_strace_exit;
	s->fd = fd;
	s->flags = flags;
	s->emit = emit;
	s->priv = priv;
	return &s->trace;
}

void uk_strace_free(struct uk_trace *tr)
{
	if (tr)
		free(uk_container_of(tr, struct uk_strace, trace));
}
