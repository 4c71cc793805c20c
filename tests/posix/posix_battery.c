// SPDX-License-Identifier: MIT
/*
 * tests/posix/posix_battery.c - a table-driven POSIX conformance battery.
 *
 * Usage:
 *   posix_battery [--backend NAME] [--table FILE] [--keep] DIR [CASE-GLOB]
 *       runs the table through libc in a fresh directory DIR/pb.PID (DIR is
 *       a native directory, a FUSE mount, or a path under the shim's /uk);
 *       NAME ("native" by default, "fuse", "shim") selects the table's
 *       skip/xfail lines;
 *   posix_battery_uk [--ukfs] [--table FILE] [CASE-GLOB]
 *       the same through uk_dispatch() on an in-process kernel (tmpfs, or
 *       a fresh ukfs image with --ukfs).
 * FILE defaults to $UK_SOURCE_ROOT/tests/posix/battery.tbl. Prints one line
 * per step: "case.N who step = result", with "FAIL expected X" or "XFAIL"
 * after a result that is not the table's; exits 1 when a step failed, 77
 * (skipped) when not run as root, 0 otherwise.
 *
 * The table's format is described at the top of battery.tbl. In short, a
 * case is a sequence of steps run in a fresh directory; each step is
 * "r|u OP ARGS... [-> EXPECTED]", run as root (r) or as the unprivileged
 * user of battery.h (u); relative paths are taken inside the case's
 * directory, which is owned by that user when the case has "u" steps.
 *
 * Sections: table parsing; arguments; running a step; cases; main.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "battery.h"

#ifdef PB_WITH_UK
#include "ukfs_meta.h"
#endif

#define MAX_TOK 16
#define MAX_SLOTS 8
#define MAX_XFAIL 4
/* what call() returns when the call crashed: not an errno */
#define PB_SIGSEGV 100000

/* ---- table parsing ------------------------------------------------------ */

struct pb_tok {
	char *s;
	bool quoted;
};

struct pb_step {
	int lineno;
	char who; /* 'r' root, 'u' the unprivileged user */
	char *text; /* "OP ARGS" as written, for the report */
	int ntok;
	struct pb_tok tok[MAX_TOK]; /* tok[0] is OP */
	char *expect; /* NULL: the operation's default */
};

struct pb_case {
	char *name;
	int lineno;
	char *skip, *skip_why; /* comma-separated backend patterns */
	int nxfail; /* "xfail BACKENDS WHY" lines, several per case */
	char *xfail[MAX_XFAIL], *xfail_why[MAX_XFAIL];
	struct pb_step *steps;
	int nsteps;
	bool has_user;
};

static struct pb_case *cases;
static int ncases;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("posix_battery: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("out of memory");
	return p;
}

/*
 * Splits line into tokens at blanks; "..." makes one token (with \n, \t,
 * \\ and \" escapes) and may be empty; '#' outside quotes ends the line.
 * Returns the number of tokens; they point into line, which is modified.
 */
static int tokenize(char *line, struct pb_tok *tok, int max, int lineno)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n' || *p == '#')
			return n;
		/* skip|xfail BACKENDS: the rest of the line is free text */
		if (n == 2 && (!strcmp(tok[0].s, "skip") ||
			       !strcmp(tok[0].s, "xfail")))
			return n;
		if (n == max)
			die("line %d: more than %d tokens", lineno, max);
		if (*p == '"') {
			char *out = ++p;
			tok[n] = (struct pb_tok){ .s = out, .quoted = true };
			for (; *p != '"'; p++) {
				if (!*p || *p == '\n')
					die("line %d: unterminated string",
					    lineno);
				if (*p == '\\') {
					p++;
					*out++ = *p == 'n' ? '\n' :
						 *p == 't' ? '\t' : *p;
				} else {
					*out++ = *p;
				}
			}
			p++;
			*out = '\0';
			if (*p && *p != ' ' && *p != '\t' && *p != '\n')
				die("line %d: text after a string", lineno);
			if (*p)
				p++;
		} else {
			tok[n] = (struct pb_tok){ .s = p };
			while (*p && *p != ' ' && *p != '\t' && *p != '\n')
				p++;
			if (*p)
				*p++ = '\0';
			n++;
			continue;
		}
		n++;
	}
}

/*
 * The expectation of a step as written: the text after " -> ", without a
 * comment (" #" outside quotes) and trailing blanks. Points into line.
 */
static char *expectation(char *line)
{
	char *e = strstr(line, " -> ") + 4;
	bool quoted = false;

	e += strspn(e, " \t");
	for (char *p = e; *p; p++) {
		if (*p == '\\' && quoted && p[1]) {
			p++;
		} else if (*p == '"') {
			quoted = !quoted;
		} else if (!quoted && (*p == '#' || *p == '\n') &&
			   (p == e || p[-1] == ' ' || p[-1] == '\t' ||
			    *p == '\n')) {
			*p = '\0';
			break;
		}
	}
	for (char *p = e + strlen(e);
	     p > e && (p[-1] == ' ' || p[-1] == '\t');)
		*--p = '\0';
	return e;
}

/* Reads the table; every syntax error is fatal (exit 2) with its line. */
static void load_table(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	struct pb_case *c = NULL;
	static char line_raw[8192];

	if (!f)
		die("%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		struct pb_tok tok[MAX_TOK];
		char *copy, *arrow;
		int n;

		lineno++;
		snprintf(line_raw, sizeof(line_raw), "%s", line);
		copy = xstrdup(line);
		copy[strcspn(copy, "\n")] = '\0';
		n = tokenize(line, tok, MAX_TOK, lineno);
		if (!n) {
			free(copy);
			continue;
		}
		if (!strcmp(tok[0].s, "case")) {
			if (n != 2)
				die("line %d: case NAME", lineno);
			cases = realloc(cases, (ncases + 1) * sizeof(*cases));
			if (!cases)
				die("out of memory");
			c = &cases[ncases++];
			*c = (struct pb_case){ .name = xstrdup(tok[1].s),
					       .lineno = lineno };
			free(copy);
			continue;
		}
		if (!c)
			die("line %d: a step before the first case", lineno);
		if (!strcmp(tok[0].s, "skip") || !strcmp(tok[0].s, "xfail")) {
			/* skip|xfail BACKENDS REASON...: the rest is the why */
			char *why = strstr(copy, tok[1].s) + strlen(tok[1].s);
			if (n < 2)
				die("line %d: %s BACKENDS REASON", lineno,
				    tok[0].s);
			while (*why == ' ' || *why == '\t')
				why++;
			if (!*why)
				die("line %d: %s BACKENDS REASON", lineno,
				    tok[0].s);
			if (tok[0].s[0] == 's') {
				c->skip = xstrdup(tok[1].s);
				c->skip_why = xstrdup(why);
			} else {
				if (c->nxfail == MAX_XFAIL)
					die("line %d: more than %d xfail lines",
					    lineno, MAX_XFAIL);
				c->xfail[c->nxfail] = xstrdup(tok[1].s);
				c->xfail_why[c->nxfail++] = xstrdup(why);
			}
			free(copy);
			continue;
		}
		if (strcmp(tok[0].s, "r") && strcmp(tok[0].s, "u"))
			die("line %d: a step starts with r or u", lineno);
		c->steps = realloc(c->steps, (c->nsteps + 1) * sizeof(*c->steps));
		if (!c->steps)
			die("out of memory");
		struct pb_step *s = &c->steps[c->nsteps++];
		*s = (struct pb_step){ .lineno = lineno, .who = tok[0].s[0] };
		if (s->who == 'u')
			c->has_user = true;
		/* the text: after "r "/"u ", up to "->", trimmed */
		char *text = copy + strspn(copy, " \t") + 1;
		text += strspn(text, " \t");
		arrow = strstr(text, " -> ");
		char *hash = strstr(text, " #");
		if (hash && (!arrow || hash < arrow))
			*hash = '\0';
		if (arrow)
			*arrow = '\0';
		for (char *e = text + strlen(text);
		     e > text && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = '\0';
		s->text = xstrdup(text);
		int i;
		for (i = 1; i < n && strcmp(tok[i].s, "->"); i++) {
			tok[i].s = xstrdup(tok[i].s);
			s->tok[s->ntok++] = tok[i];
		}
		if (i < n) {
			if (i + 1 == n)
				die("line %d: nothing after ->", lineno);
			s->expect = xstrdup(expectation(line_raw));
		}
		if (!s->ntok)
			die("line %d: no operation", lineno);
		free(copy);
	}
	free(line);
	fclose(f);
}

/* Whether backend matches a comma-separated list of names ("uk-*" works). */
static bool backend_in(const char *list, const char *backend)
{
	char buf[256], *save = NULL;

	if (!list)
		return false;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *p = strtok_r(buf, ",", &save); p;
	     p = strtok_r(NULL, ",", &save))
		if (!fnmatch(p, backend, 0))
			return true;
	return false;
}

/* ---- arguments ---------------------------------------------------------- */

struct pb_run {
	struct pb_backend *b;
	const char *base; /* the run's directory */
	char casedir[4096];
	const struct pb_case *c;
	long slot[MAX_SLOTS]; /* descriptors by name: $a .. $h */
	void *fault; /* an address that faults: a PROT_NONE page */
	char *heap[MAX_TOK]; /* argument strings to free after the step */
	int nheap;
};

/* Counters shared with the host backend's unprivileged children. */
struct pb_counts {
	unsigned int rows, passed, failed, xfailed, xpassed, skipped;
};
static struct pb_counts *counts;

static const struct {
	const char *name;
	long value;
} constants[] = {
#define C(x) { #x, x }
	C(O_RDONLY), C(O_WRONLY), C(O_RDWR), C(O_CREAT), C(O_EXCL),
	C(O_TRUNC), C(O_APPEND), C(O_DIRECTORY), C(O_NOFOLLOW),
	C(O_NONBLOCK), C(O_CLOEXEC), C(O_PATH), C(O_NOCTTY), C(O_SYNC),
	C(O_NOATIME), C(O_TMPFILE),
	C(AT_FDCWD), C(AT_SYMLINK_NOFOLLOW), C(AT_REMOVEDIR),
	C(AT_EMPTY_PATH),
	C(RENAME_NOREPLACE), C(RENAME_EXCHANGE), C(RENAME_WHITEOUT),
	C(F_OK), C(R_OK), C(W_OK), C(X_OK),
	C(SEEK_SET), C(SEEK_CUR), C(SEEK_END),
#undef C
};

/* A number: "0644" (octal), "-1", "O_CREAT|O_EXCL|0x10", ... */
static long parse_value(const struct pb_step *s, const char *tok)
{
	char buf[256], *save = NULL;
	long v = 0;

	snprintf(buf, sizeof(buf), "%s", tok);
	for (char *p = strtok_r(buf, "|", &save); p;
	     p = strtok_r(NULL, "|", &save)) {
		char *end;
		long x = strtol(p, &end, 0);
		if (*end) {
			size_t i;
			for (i = 0; i < sizeof(constants) / sizeof(*constants);
			     i++)
				if (!strcmp(constants[i].name, p))
					break;
			if (i == sizeof(constants) / sizeof(*constants))
				die("line %d: unknown value %s", s->lineno, p);
			x = constants[i].value;
		}
		v |= x;
	}
	return v;
}

/*
 * Expands "{STR*N}" (STR repeated N times) anywhere in a token: long
 * names and paths are written that way. The result is owned by run->heap.
 */
static char *expand(struct pb_run *run, const char *tok)
{
	size_t cap = strlen(tok) + 1, len = 0;
	char *out = xcalloc(1, cap);

	for (const char *p = tok; *p;) {
		const char *star, *close;
		if (*p == '{' && (star = strchr(p, '*')) &&
		    (close = strchr(star, '}'))) {
			long times = strtol(star + 1, NULL, 10);
			size_t unit = star - p - 1;
			cap += unit * times;
			out = realloc(out, cap);
			if (!out)
				die("out of memory");
			for (long i = 0; i < times; i++, len += unit)
				memcpy(out + len, p + 1, unit);
			p = close + 1;
		} else {
			out[len++] = *p++;
		}
	}
	out[len] = '\0';
	run->heap[run->nheap++] = out;
	return out;
}

/*
 * A path argument: "@fault" (a bad pointer), "@null", an absolute path
 * as written, "" (empty, as written), or a path inside the case directory.
 */
static unsigned long arg_path(struct pb_run *run, const struct pb_tok *t)
{
	if (!strcmp(t->s, "@fault") && !t->quoted)
		return (unsigned long)run->fault;
	if (!strcmp(t->s, "@null") && !t->quoted)
		return 0;
	char *x = expand(run, t->s);
	if (!*x || *x == '/')
		return (unsigned long)x;
	char *full = xcalloc(1, strlen(run->casedir) + strlen(x) + 2);
	sprintf(full, "%s/%s", run->casedir, x);
	run->heap[run->nheap++] = full;
	return (unsigned long)full;
}

/* A descriptor: "$a".."$h" (the slots) or a number ("-1", "9999"). */
static unsigned long arg_fd(struct pb_run *run, const struct pb_step *s,
			    const struct pb_tok *t)
{
	if (t->s[0] == '$') {
		int i = t->s[1] - 'a';
		if (i < 0 || i >= MAX_SLOTS || t->s[2])
			die("line %d: slots are $a..$h", s->lineno);
		return (unsigned long)run->slot[i];
	}
	return (unsigned long)parse_value(s, t->s);
}

/* A time for utimensat: "now", "omit", or SECONDS[.NANOSECONDS]. */
static void arg_time(const struct pb_step *s, const char *t,
		     struct timespec *ts)
{
	char *end;

	if (!strcmp(t, "now")) {
		*ts = (struct timespec){ .tv_nsec = UTIME_NOW };
		return;
	}
	if (!strcmp(t, "omit")) {
		*ts = (struct timespec){ .tv_nsec = UTIME_OMIT };
		return;
	}
	ts->tv_sec = strtol(t, &end, 10);
	ts->tv_nsec = *end == '.' ? strtol(end + 1, &end, 10) : 0;
	if (*end)
		die("line %d: bad time %s", s->lineno, t);
}

/* ---- running a step ----------------------------------------------------- */

enum pb_kind {
	K_ZERO, /* 0 or -errno */
	K_NUM, /* a count or an offset */
	K_OCTAL, /* umask's old mask */
	K_FD, /* a new descriptor: "fd" or "fd:X" stored in slot X */
	K_DATA, /* bytes read into the buffer: "..." */
	K_STAT, /* a struct stat: the fields the expectation names */
	K_LIST, /* directory names: [a,b] */
};

static sigjmp_buf segv_jmp;
static volatile sig_atomic_t in_step;

static void on_segv(int sig)
{
	if (!in_step) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(segv_jmp, 1);
}

static long call(struct pb_run *run, long nr, unsigned long a0,
		 unsigned long a1, unsigned long a2, unsigned long a3,
		 unsigned long a4)
{
	const unsigned long a[6] = { a0, a1, a2, a3, a4 };
	long ret;

	/* a crash in the call (the shim on a bad pointer) is a result too */
	if (sigsetjmp(segv_jmp, 1)) {
		in_step = 0;
		return -PB_SIGSEGV;
	}
	in_step = 1;
	ret = run->b->syscall(run->b, nr, a);
	in_step = 0;
	return ret;
}

/* Quotes data for the report: printable ASCII as is, the rest as \xNN. */
static void quote(char *out, size_t size, const char *data, long n)
{
	size_t len = 0;

	len += snprintf(out + len, size - len, "\"");
	for (long i = 0; i < n && len + 8 < size; i++) {
		unsigned char ch = data[i];
		if (ch == '"' || ch == '\\')
			len += snprintf(out + len, size - len, "\\%c", ch);
		else if (ch == '\n')
			len += snprintf(out + len, size - len, "\\n");
		else if (isprint(ch))
			out[len++] = ch;
		else
			len += snprintf(out + len, size - len, "\\x%02x", ch);
	}
	snprintf(out + len, size - len, "\"");
}

/* A time field: "now" when within a minute of the clock, else SEC.NSEC. */
static int fmt_time(char *out, size_t size, const char *want,
		    const struct timespec *ts)
{
	if (!strcmp(want, "now") && labs(ts->tv_sec - time(NULL)) <= 60)
		return snprintf(out, size, "now");
	return snprintf(out, size, "%ld.%ld", (long)ts->tv_sec,
			(long)ts->tv_nsec);
}

/*
 * Formats the fields of st that the expectation names, in its order:
 * mode (octal, with the type), perm (octal, 07777 bits), type (reg, dir,
 * lnk, fifo, ...), size, nlink, uid, gid, atime, mtime.
 */
static void fmt_stat(char *out, size_t size, const char *expect,
		     const struct stat *st)
{
	char buf[1024], *save = NULL;
	size_t len = 0;

	if (!expect || !strchr(expect, '=')) {
		snprintf(out, size, "0");
		return;
	}
	snprintf(buf, sizeof(buf), "%s", expect);
	for (char *f = strtok_r(buf, " ", &save); f;
	     f = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(f, '=');
		const char *want = eq ? eq + 1 : "";
		if (eq)
			*eq = '\0';
		if (len)
			out[len++] = ' ';
		len += snprintf(out + len, size - len, "%s=", f);
		if (!strcmp(f, "mode"))
			len += snprintf(out + len, size - len, "0%o",
					st->st_mode);
		else if (!strcmp(f, "perm"))
			len += snprintf(out + len, size - len, "0%o",
					st->st_mode & 07777);
		else if (!strcmp(f, "type"))
			len += snprintf(out + len, size - len, "%s",
					S_ISREG(st->st_mode)  ? "reg" :
					S_ISDIR(st->st_mode)  ? "dir" :
					S_ISLNK(st->st_mode)  ? "lnk" :
					S_ISFIFO(st->st_mode) ? "fifo" :
								"other");
		else if (!strcmp(f, "size"))
			len += snprintf(out + len, size - len, "%lld",
					(long long)st->st_size);
		else if (!strcmp(f, "nlink"))
			len += snprintf(out + len, size - len, "%lu",
					(unsigned long)st->st_nlink);
		else if (!strcmp(f, "uid"))
			len += snprintf(out + len, size - len, "%u",
					st->st_uid);
		else if (!strcmp(f, "gid"))
			len += snprintf(out + len, size - len, "%u",
					st->st_gid);
		else if (!strcmp(f, "atime"))
			len += fmt_time(out + len, size - len, want,
					&st->st_atim);
		else if (!strcmp(f, "mtime"))
			len += fmt_time(out + len, size - len, want,
					&st->st_mtim);
		else
			len += snprintf(out + len, size - len, "?");
		if (len >= size)
			len = size - 1;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory names, sorted: [a,b,c]. */
static void fmt_list(char *out, size_t size, char *names, long n)
{
	char *v[512];
	int nv = 0;
	size_t len = 0;

	for (long off = 0; off < n && nv < 512; off += strlen(names + off) + 1)
		v[nv++] = names + off;
	qsort(v, nv, sizeof(*v), cmp_str);
	len += snprintf(out + len, size - len, "[");
	for (int i = 0; i < nv && len < size; i++)
		len += snprintf(out + len, size - len, "%s%s", i ? "," : "",
				v[i]);
	if (len < size)
		snprintf(out + len, size - len, "]");
}

/* mkfile PATH MODE [DATA]: open O_CREAT|O_TRUNC, write, close. */
static long do_mkfile(struct pb_run *run, unsigned long path, long mode,
		      const char *data)
{
	long fd = call(run, SYS_open, path, O_WRONLY | O_CREAT | O_TRUNC,
		       mode, 0, 0);
	long ret = 0;

	if (fd < 0)
		return fd;
	if (data && *data) {
		ret = call(run, SYS_write, fd, (unsigned long)data,
			   strlen(data), 0, 0);
		if (ret >= 0 && ret != (long)strlen(data))
			ret = -EIO;
	}
	long cret = call(run, SYS_close, fd, 0, 0, 0, 0);
	return ret < 0 ? ret : cret < 0 ? cret : 0;
}

static void need(const struct pb_step *s, int min, int max)
{
	if (s->ntok - 1 < min || s->ntok - 1 > max)
		die("line %d: %s takes %d to %d arguments", s->lineno,
		    s->tok[0].s, min, max);
}

/*
 * Runs one step and writes its result, formatted as the table writes
 * expectations, into out. Returns the step's kind.
 */
static enum pb_kind run_step(struct pb_run *run, const struct pb_step *s,
			     char *out, size_t size)
{
	const char *op = s->tok[0].s;
	const struct pb_tok *t = s->tok + 1;
	static char data[65536];
	struct stat st;
	struct timespec ts[2];
	enum pb_kind kind = K_ZERO;
	long ret = -ENOSYS;
	char *buf = data;

	memset(&st, 0, sizeof(st));
	run->nheap = 0;

#define P(i) arg_path(run, &t[i])
#define V(i) ((unsigned long)parse_value(s, t[i].s))
#define FD(i) arg_fd(run, s, &t[i])
	if (!strcmp(op, "open")) {
		need(s, 2, 3);
		kind = K_FD;
		ret = call(run, SYS_open, P(0), V(1), s->ntok > 3 ? V(2) : 0,
			   0, 0);
	} else if (!strcmp(op, "creat")) {
		need(s, 2, 2);
		kind = K_FD;
		ret = call(run, SYS_creat, P(0), V(1), 0, 0, 0);
	} else if (!strcmp(op, "close")) {
		need(s, 1, 1);
		ret = call(run, SYS_close, FD(0), 0, 0, 0, 0);
	} else if (!strcmp(op, "fsync")) {
		need(s, 1, 1);
		ret = call(run, SYS_fsync, FD(0), 0, 0, 0, 0);
	} else if (!strcmp(op, "read") || !strcmp(op, "pread")) {
		bool pr = op[0] == 'p';
		long n;
		need(s, 2, 3);
		n = V(1);
		if (n > (long)sizeof(data))
			die("line %d: at most %zu bytes", s->lineno,
			    sizeof(data));
		if (!pr && s->ntok > 3 && !strcmp(t[2].s, "@fault"))
			buf = run->fault;
		else
			kind = K_DATA;
		ret = call(run, pr ? SYS_pread64 : SYS_read, FD(0),
			   (unsigned long)buf, n,
			   pr && s->ntok > 3 ? V(2) : 0, 0);
		if (kind == K_DATA && ret >= 0)
			quote(out, size, data, ret);
	} else if (!strcmp(op, "write")) {
		need(s, 2, 3);
		kind = K_NUM;
		if (!strcmp(t[1].s, "@fault") && !t[1].quoted) {
			need(s, 3, 3);
			ret = call(run, SYS_write, FD(0),
				   (unsigned long)run->fault, V(2), 0, 0);
		} else {
			const char *d = expand(run, t[1].s);
			ret = call(run, SYS_write, FD(0), (unsigned long)d,
				   strlen(d), 0, 0);
		}
	} else if (!strcmp(op, "lseek")) {
		need(s, 3, 3);
		kind = K_NUM;
		ret = call(run, SYS_lseek, FD(0), V(1), V(2), 0, 0);
	} else if (!strcmp(op, "truncate")) {
		need(s, 2, 2);
		ret = call(run, SYS_truncate, P(0), V(1), 0, 0, 0);
	} else if (!strcmp(op, "ftruncate")) {
		need(s, 2, 2);
		ret = call(run, SYS_ftruncate, FD(0), V(1), 0, 0, 0);
	} else if (!strcmp(op, "unlink")) {
		need(s, 1, 1);
		ret = call(run, SYS_unlink, P(0), 0, 0, 0, 0);
	} else if (!strcmp(op, "rmdir")) {
		need(s, 1, 1);
		ret = call(run, SYS_rmdir, P(0), 0, 0, 0, 0);
	} else if (!strcmp(op, "mkdir")) {
		need(s, 2, 2);
		ret = call(run, SYS_mkdir, P(0), V(1), 0, 0, 0);
	} else if (!strcmp(op, "mkfifo")) {
		need(s, 2, 2);
		ret = call(run, SYS_mknod, P(0), V(1) | S_IFIFO, 0, 0, 0);
	} else if (!strcmp(op, "rename")) {
		need(s, 2, 2);
		ret = call(run, SYS_rename, P(0), P(1), 0, 0, 0);
	} else if (!strcmp(op, "renameat2")) {
		need(s, 3, 3);
		ret = call(run, SYS_renameat2, (unsigned long)AT_FDCWD, P(0),
			   (unsigned long)AT_FDCWD, P(1), V(2));
	} else if (!strcmp(op, "link")) {
		need(s, 2, 2);
		ret = call(run, SYS_link, P(0), P(1), 0, 0, 0);
	} else if (!strcmp(op, "symlink")) {
		/* the target is stored as written, never made absolute */
		need(s, 2, 2);
		ret = call(run, SYS_symlink,
			   t[0].quoted || strcmp(t[0].s, "@fault") ?
				   (unsigned long)expand(run, t[0].s) :
				   (unsigned long)run->fault,
			   P(1), 0, 0, 0);
	} else if (!strcmp(op, "readlink")) {
		need(s, 1, 2);
		kind = K_DATA;
		ret = call(run, SYS_readlink, P(0), (unsigned long)data,
			   s->ntok > 2 ? V(1) : sizeof(data), 0, 0);
		if (ret >= 0)
			quote(out, size, data, ret);
	} else if (!strcmp(op, "chmod")) {
		need(s, 2, 2);
		ret = call(run, SYS_chmod, P(0), V(1), 0, 0, 0);
	} else if (!strcmp(op, "fchmod")) {
		need(s, 2, 2);
		ret = call(run, SYS_fchmod, FD(0), V(1), 0, 0, 0);
	} else if (!strcmp(op, "chown") || !strcmp(op, "lchown")) {
		need(s, 3, 3);
		ret = call(run, op[0] == 'l' ? SYS_lchown : SYS_chown, P(0),
			   (unsigned int)V(1), (unsigned int)V(2), 0, 0);
	} else if (!strcmp(op, "fchown")) {
		need(s, 3, 3);
		ret = call(run, SYS_fchown, FD(0), (unsigned int)V(1),
			   (unsigned int)V(2), 0, 0);
	} else if (!strcmp(op, "utimensat")) {
		/* utimensat PATH ATIME MTIME [FLAGS] | PATH null|@fault [FLAGS] */
		unsigned long times = (unsigned long)ts;
		int fl = 3;
		need(s, 2, 4);
		if (!strcmp(t[1].s, "null")) {
			times = 0;
			fl = 2;
		} else if (!strcmp(t[1].s, "@fault")) {
			times = (unsigned long)run->fault;
			fl = 2;
		} else {
			need(s, 3, 4);
			arg_time(s, t[1].s, &ts[0]);
			arg_time(s, t[2].s, &ts[1]);
		}
		ret = call(run, SYS_utimensat, (unsigned long)AT_FDCWD, P(0),
			   times, s->ntok > fl + 1 ? V(fl) : 0, 0);
	} else if (!strcmp(op, "stat") || !strcmp(op, "lstat") ||
		   !strcmp(op, "fstat")) {
		need(s, 1, 2);
		kind = K_STAT;
		unsigned long sb = s->ntok > 2 && !strcmp(t[1].s, "@fault") ?
					   (unsigned long)run->fault :
					   (unsigned long)&st;
		ret = call(run,
			   op[0] == 'f' ? SYS_fstat :
			   op[0] == 'l' ? SYS_lstat :
					  SYS_stat,
			   op[0] == 'f' ? FD(0) : P(0), sb, 0, 0, 0);
		if (ret >= 0)
			fmt_stat(out, size, s->expect, &st);
	} else if (!strcmp(op, "access")) {
		need(s, 2, 2);
		ret = call(run, SYS_access, P(0), V(1), 0, 0, 0);
	} else if (!strcmp(op, "umask")) {
		need(s, 1, 1);
		kind = K_OCTAL;
		ret = call(run, SYS_umask, V(0), 0, 0, 0, 0);
	} else if (!strcmp(op, "ls")) {
		need(s, 1, 1);
		kind = K_LIST;
		ret = call(run, PB_NR_LISTDIR, P(0), (unsigned long)data,
			   sizeof(data), 0, 0);
		if (ret >= 0)
			fmt_list(out, size, data, ret);
	} else if (!strcmp(op, "mkfile")) {
		need(s, 2, 3);
		ret = do_mkfile(run, P(0), V(1),
				s->ntok > 3 ? expand(run, t[2].s) : NULL);
	} else {
		die("line %d: unknown operation %s", s->lineno, op);
	}
#undef P
#undef V
#undef FD
	for (int i = 0; i < run->nheap; i++)
		free(run->heap[i]);
	run->nheap = 0;

	if (ret < 0) {
		const char *name = ret == -PB_SIGSEGV ?
					   "SIGSEGV" :
					   strerrorname_np((int)-ret);
		if (name)
			snprintf(out, size, "%s", name);
		else
			snprintf(out, size, "E%ld", -ret);
		return kind;
	}
	switch (kind) {
	case K_ZERO:
	case K_NUM:
		snprintf(out, size, "%ld", ret);
		break;
	case K_OCTAL:
		snprintf(out, size, "0%lo", ret);
		break;
	case K_FD:
		/* "fd:X" stores it in slot X; "fd" closes it at the end */
		if (s->expect && !strncmp(s->expect, "fd:", 3) &&
		    s->expect[3] >= 'a' && s->expect[3] < 'a' + MAX_SLOTS) {
			run->slot[s->expect[3] - 'a'] = ret;
			snprintf(out, size, "fd:%c", s->expect[3]);
		} else {
			call(run, SYS_close, ret, 0, 0, 0, 0);
			snprintf(out, size, "fd");
		}
		break;
	case K_DATA:
	case K_STAT:
	case K_LIST:
		break; /* formatted above */
	}
	return kind;
}

/* ---- cases -------------------------------------------------------------- */

static const char *default_expect(const struct pb_step *s)
{
	const char *op = s->tok[0].s;
	if (!strcmp(op, "open") || !strcmp(op, "creat"))
		return "fd";
	return "0";
}

static bool has_fault(const struct pb_step *s)
{
	for (int i = 1; i < s->ntok; i++)
		if (!s->tok[i].quoted && !strcmp(s->tok[i].s, "@fault"))
			return true;
	return false;
}

/*
 * Runs a step with a bad pointer in a forked child, which sends its result
 * back through a pipe: a library that crashes on it (the shim copying a
 * path) must not leave this process with a lock or a ring slot taken
 * when SIGSEGV unwinds it.
 */
static void run_step_isolated(struct pb_run *run, const struct pb_step *s,
			      char *out, size_t size)
{
	int pfd[2], st;
	ssize_t n = 0;

	fflush(stdout);
	if (pipe(pfd)) {
		snprintf(out, size, "pipe: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		run_step(run, s, out, size);
		if (write(pfd[1], out, strlen(out)) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (pid > 0) {
		for (ssize_t r; (size_t)n < size - 1 &&
				(r = read(pfd[0], out + n, size - 1 - n)) > 0;)
			n += r;
		waitpid(pid, &st, 0);
	}
	out[n] = '\0';
	if (pid < 0)
		snprintf(out, size, "fork: %s", strerror(errno));
	else if (!n)
		snprintf(out, size, "CRASH");
	close(pfd[0]);
}

/*
 * Whether a sanitizer's interceptor reads this step's bad pointer itself,
 * before the call reaches libc or a preloaded library: ASan's readlink
 * takes strlen() of the path, so "readlink @fault" is SIGSEGV in the
 * runner on every backend. Such a step says nothing about the backend.
 */
static bool sanitizer_faults(const struct pb_step *s)
{
#ifdef __SANITIZE_ADDRESS__
	return has_fault(s) && !strcmp(s->tok[0].s, "readlink");
#else
	(void)s;
	return false;
#endif
}

/* Runs and reports one step; returns whether it matched. */
static bool check_step(struct pb_run *run, int index, const struct pb_step *s)
{
	const struct pb_case *c = run->c;
	const char *want = s->expect ? s->expect : default_expect(s);
	char got[2048];
	bool ok, xfail = false;

	for (int i = 0; i < c->nxfail; i++)
		xfail |= backend_in(c->xfail[i], run->b->name);

	if (sanitizer_faults(s)) {
		printf("%s.%d %c %s  SKIP (the sanitizer reads the pointer)\n",
		       c->name, index, s->who, s->text);
		return true;
	}
	if (run->b->isolate_faults && has_fault(s))
		run_step_isolated(run, s, got, sizeof(got));
	else
		run_step(run, s, got, sizeof(got));
	ok = !strcmp(got, want);
	counts->rows++;
	printf("%s.%d %c %s = %s", c->name, index, s->who, s->text, got);
	if (ok && !xfail) {
		counts->passed++;
	} else if (ok) {
		counts->xpassed++;
		counts->passed++;
	} else if (xfail) {
		counts->xfailed++;
		printf("  XFAIL expected %s (line %d)", want, s->lineno);
	} else {
		counts->failed++;
		printf("  FAIL expected %s (line %d)", want, s->lineno);
	}
	putchar('\n');
	return ok;
}

/* Removes a tree as root through the backend; errors are reported. */
static void rm_tree(struct pb_run *run, const char *path)
{
	struct stat st;
	long ret = call(run, SYS_lstat, (unsigned long)path,
			(unsigned long)&st, 0, 0, 0);

	if (ret < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		char *names = xcalloc(1, 65536);
		long n = call(run, PB_NR_LISTDIR, (unsigned long)path,
			      (unsigned long)names, 65536, 0, 0);
		for (long off = 0; n > 0 && off < n;
		     off += strlen(names + off) + 1) {
			char *sub = xcalloc(1, strlen(path) +
						       strlen(names + off) + 2);
			sprintf(sub, "%s/%s", path, names + off);
			rm_tree(run, sub);
			free(sub);
		}
		free(names);
		ret = call(run, SYS_rmdir, (unsigned long)path, 0, 0, 0, 0);
	} else {
		ret = call(run, SYS_unlink, (unsigned long)path, 0, 0, 0, 0);
	}
	if (ret < 0)
		printf("posix_battery: cleanup: %s: %s\n", path,
		       strerror((int)-ret));
}

static void run_case(struct pb_run *run, const struct pb_case *c, int index)
{
	long ret;

	if (backend_in(c->skip, run->b->name)) {
		printf("%s skipped on %s: %s\n", c->name, run->b->name,
		       c->skip_why);
		counts->skipped++;
		return;
	}
	run->c = c;
	for (int i = 0; i < MAX_SLOTS; i++)
		run->slot[i] = -1;
	snprintf(run->casedir, sizeof(run->casedir), "%s/%03d", run->base,
		 index);
	call(run, SYS_umask, 022, 0, 0, 0, 0);
	ret = call(run, SYS_mkdir, (unsigned long)run->casedir, 0755, 0, 0,
		   0);
	if (!ret && c->has_user)
		ret = call(run, SYS_chown, (unsigned long)run->casedir,
			   PB_USER_UID, PB_USER_GID, 0, 0);
	if (ret) {
		printf("%s: cannot make %s: %s\n", c->name, run->casedir,
		       strerror((int)-ret));
		counts->failed++;
		return;
	}
	for (int i = 0; i < c->nsteps;) {
		if (c->steps[i].who == 'r') {
			check_step(run, i + 1, &c->steps[i]);
			i++;
			continue;
		}
		/* a stretch of unprivileged steps */
		int end = i;
		while (end < c->nsteps && c->steps[end].who == 'u')
			end++;
		int status = 0;
		if (run->b->user_begin(run->b, &status)) {
			for (; i < end; i++)
				check_step(run, i + 1, &c->steps[i]);
			run->b->user_end(run->b, 0);
		} else if (status) {
			printf("%s: the unprivileged steps %d-%d did not run "
			       "(status %d)\n",
			       c->name, i + 1, end, status);
			counts->failed++;
		}
		i = end;
	}
	for (int i = 0; i < MAX_SLOTS; i++)
		if (run->slot[i] >= 0)
			call(run, SYS_close, run->slot[i], 0, 0, 0, 0);
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
#ifdef PB_WITH_UK
	fprintf(stderr, "usage: posix_battery_uk [--ukfs] [--table FILE] "
			"[--keep] [CASE-GLOB]\n");
#else
	fprintf(stderr, "usage: posix_battery [--backend NAME] [--table FILE] "
			"[--keep] DIR [CASE-GLOB]\n");
#endif
	exit(2);
}

int main(int argc, char **argv)
{
	const char *table = NULL, *name = "native", *dir = NULL, *glob = "*";
	char deftable[4096], base[4096];
	struct pb_backend b;
	struct pb_run run = { 0 };
	bool keep = false;
	bool ukfs = false;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (!strcmp(argv[i], "--table") && i + 1 < argc)
			table = argv[++i];
		else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--keep"))
			keep = true;
		else if (!strcmp(argv[i], "--ukfs"))
			ukfs = true;
		else
			usage();
	}
#ifdef PB_WITH_UK
	dir = "";
#else
	if (i == argc)
		usage();
	dir = argv[i++];
#endif
	if (i < argc)
		glob = argv[i++];
	if (i < argc)
		usage();
	if (!table) {
		const char *src = getenv("UK_SOURCE_ROOT");
		snprintf(deftable, sizeof(deftable),
			 "%s/tests/posix/battery.tbl", src ? src : ".");
		table = deftable;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("posix_battery: skipped: needs root (the unprivileged "
		       "rows run in a child that drops to uid %d)\n",
		       PB_USER_UID);
		return 77;
	}
	load_table(table);

	counts = mmap(NULL, sizeof(*counts), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	run.fault = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (counts == MAP_FAILED || run.fault == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER };
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

#ifdef PB_WITH_UK
	char image[4096] = "";
	if (ukfs) {
		const char *bdir = getenv("UK_BUILD_ROOT");
		char err[256];
		snprintf(image, sizeof(image), "%s/pb-ukfs-%d",
			 bdir ? bdir : "/tmp", (int)getpid());
		if (ukfs_mkfs(image, 256ull << 20, 0, err, sizeof(err)))
			die("mkfs %s: %s", image, err);
	}
	if (pb_uk_init(&b, ukfs ? image : NULL))
		die("cannot start the in-process kernel");
	(void)name;
#else
	(void)ukfs;
	pb_host_init(&b, name);
#endif
	run.b = &b;
	/* the run's directory, made through the backend (so the shim sees it) */
	snprintf(base, sizeof(base), "%s/pb.%d", dir, (int)getpid());
	run.base = base;
	call(&run, SYS_umask, 022, 0, 0, 0, 0);
	if (call(&run, SYS_mkdir, (unsigned long)base, 0755, 0, 0, 0))
		die("cannot make %s", base);
	printf("posix_battery: backend %s, directory %s, table %s\n", b.name,
	       base, table);

	for (int c = 0; c < ncases; c++)
		if (!fnmatch(glob, cases[c].name, 0))
			run_case(&run, &cases[c], c);

	call(&run, SYS_umask, 022, 0, 0, 0, 0);
	if (!keep)
		rm_tree(&run, base);
	printf("posix_battery: %s: %u rows, %u passed, %u failed, %u expected "
	       "failures, %u passes in xfail cases, %u cases skipped\n",
	       b.name, counts->rows, counts->passed, counts->failed,
	       counts->xfailed, counts->xpassed, counts->skipped);
#ifdef PB_WITH_UK
	pb_uk_fini(&b);
	if (ukfs) {
		int f = ukfs_fsck(image, false, NULL, NULL);
		if (f != UKFS_FSCK_CLEAN) {
			printf("posix_battery: fsck of %s: %d\n", image, f);
			counts->failed++;
		}
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", image);
		if (system(cmd))
			printf("posix_battery: could not remove %s\n", image);
	}
#endif
	return counts->failed ? 1 : 0;
}
