// SPDX-License-Identifier: MIT
/*
 * ukerneld - the daemon: serves a ukfs image (or a memory-only tmpfs) to
 * client processes over the ring. A thin main: it parses the command line
 * into struct uk_daemon_opts and hands over to uk_daemon_run() (daemon.c).
 * README's "ukerneld" section is its manual page.
 *
 * Exit status: 0 clean shutdown (or --help/--version), 1 could not start or
 * lost data at shutdown, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "fusefs.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ukerneld IMAGE [OPTIONS]\n"
		"       ukerneld --tmpfs [OPTIONS]\n"
		"\n"
		"Serves the ukfs image IMAGE (a directory made by `ukctl mkfs`),\n"
		"or with --tmpfs a memory-only file system, to client processes\n"
		"(libukernel-client, the shim) over a Unix socket.\n"
		"\n"
		"  --tmpfs                serve an empty tmpfs instead of an image\n"
		"  --root DIR             the clients' virtual root (default /uk)\n"
		"  --socket PATH          listen on PATH (default: see below)\n"
		"  --cache-size N         image page cache limit, K/M/G suffix (256M)\n"
		"  --foreground, -f       stay attached and log to stderr\n"
		"  --allow-uid UID,...    also accept these users (uids or names)\n"
		"  --idle-timeout SECS    exit after SECS with no client connected\n"
		"  --mount DIR            also mount the file system at DIR (FUSE)\n"
		"  --allow-other          let every user use the mount (FUSE)\n"
		"  --ro                   make the mount read-only (FUSE)\n"
		"  --entry-timeout SECS   host cache time of names (default 60)\n"
		"  --attr-timeout SECS    host cache time of attributes (default 60)\n"
		"  --remote-locks         locks on the mount (fcntl, flock) conflict\n"
		"                         with clients' (costs OPEN, FLUSH and\n"
		"                         RELEASE per open, FUSE)\n"
		"  --fuse-uring[=MODE]    FUSE requests through io_uring: on\n"
		"                         (also set the fuse module's\n"
		"                         enable_uring, root), auto (when the\n"
		"                         host offers it), off (the default)\n"
		"  --help, -h             this text\n"
		"  --version, -V          the version\n"
		"\n"
		"Default socket: $UKERNEL_SOCKET, else\n"
		"$XDG_RUNTIME_DIR/ukernel/NAME.sock, else /tmp/ukernel-UID/NAME.sock,\n"
		"where NAME is IMAGE's base name without extension (\"tmpfs\"\n"
		"with --tmpfs). SIGTERM/SIGINT: clean shutdown; SIGHUP: ignored.\n"
		"Exit status: 0 clean, 1 could not start, 2 bad usage.\n");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Says what is wrong with the command line; returns exit status 2. */
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ukerneld: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ukerneld --help'.\n");
	return UK_DAEMON_EXIT_USAGE;
}

/* 4096, 64K, 256M, 1G (powers of 1024); 0 and overflow are refused. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	}
	if (shift && (*end == 'B' || (end[0] == 'i' && end[1] == 'B')))
		end += *end == 'B' ? 1 : 2;
	if (*end || !v || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* A number of seconds ("1", "0.5", "30"): at least 0, at most a day. */
static int parse_secs(const char *s, double *out)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || v < 0 || v > 86400)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Seconds to milliseconds: more than 0, rounded up to at least 1 ms. */
static int parse_seconds(const char *s, unsigned int *ms)
{
	double v;

	if (parse_secs(s, &v) || v <= 0)
		return -EINVAL;
	*ms = (unsigned int)(v * 1000);
	if (!*ms)
		*ms = 1;
	return 0;
}

/* "1000,bob,65534" into o->allow_uids; names through getpwnam. */
static int parse_uids(char *list, struct uk_daemon_opts *o)
{
	char *save = NULL;

	for (char *t = strtok_r(list, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		unsigned long v;
		char *end;

		if (o->n_allow_uids >= UK_RING_MAX_ALLOW)
			return -E2BIG;
		errno = 0;
		v = strtoul(t, &end, 10);
		if (*t >= '0' && *t <= '9' && !*end && !errno &&
		    v < (uid_t)-1) {
			o->allow_uids[o->n_allow_uids++] = (uid_t)v;
		} else {
			struct passwd *pw = getpwnam(t);

			if (!pw)
				return -EINVAL;
			o->allow_uids[o->n_allow_uids++] = pw->pw_uid;
		}
	}
	return o->n_allow_uids ? 0 : -EINVAL;
}

/*
 * An absolute form of path for the socket (its file may not exist yet; the
 * daemon changes to "/" and must still find it). Caller frees.
 */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *out;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, path) < 0)
		return NULL;
	return out;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tmpfs", no_argument, NULL, 't' },
		{ "root", required_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 's' },
		{ "cache-size", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "allow-uid", required_argument, NULL, 'a' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "mount", required_argument, NULL, 'm' },
		{ "allow-other", no_argument, NULL, 'o' },
		{ "ro", no_argument, NULL, 'R' },
		{ "entry-timeout", required_argument, NULL, 'e' },
		{ "attr-timeout", required_argument, NULL, 'A' },
		{ "remote-locks", no_argument, NULL, 'F' },
		{ "remote-flock", no_argument, NULL, 'F' }, /* its old name */
		{ "fuse-uring", optional_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct uk_daemon_opts o = { .root = "/uk", .entry_timeout = -1,
				    .attr_timeout = -1 };
	char *image = NULL, *sock = NULL, *mnt = NULL;
	const char *mnt_arg = NULL;
	const char *sock_arg = NULL;
	char path[PATH_MAX];
	bool tmpfs = false, uring_arg = false;
	int c, ret;

	/* Before anything of ours is open: getpwnam may keep a socket. */
	uk_daemon_close_inherited();
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fhV", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tmpfs = true;
			break;
		case 'r':
			if (optarg[0] != '/')
				return bad_usage("--root needs an absolute "
						 "path, not '%s'", optarg);
			o.root = optarg;
			break;
		case 's':
			if (!optarg[0])
				return bad_usage("--socket needs a path");
			sock_arg = optarg;
			break;
		case 'c':
			if (parse_size(optarg, &o.cache_size))
				return bad_usage("bad cache size '%s'", optarg);
			break;
		case 'f':
			o.foreground = true;
			break;
		case 'a':
			if (parse_uids(optarg, &o))
				return bad_usage("bad --allow-uid list (uids "
						 "or user names, at most 32): "
						 "'%s'", optarg);
			break;
		case 'i':
			if (parse_seconds(optarg, &o.idle_ms))
				return bad_usage("bad idle timeout '%s' "
						 "(seconds)", optarg);
			break;
		case 'm':
			if (!optarg[0])
				return bad_usage("--mount needs a directory");
			mnt_arg = optarg;
			break;
		case 'o':
			o.allow_other = true;
			break;
		case 'R':
			o.mount_ro = true;
			break;
		case 'F':
			o.remote_locks = true;
			break;
		case 'U':
			if (!optarg || !strcmp(optarg, "on"))
				o.fuse_uring = FFS_URING_ON;
			else if (!strcmp(optarg, "auto"))
				o.fuse_uring = FFS_URING_AUTO;
			else if (!strcmp(optarg, "off"))
				o.fuse_uring = FFS_URING_OFF;
			else
				return bad_usage("--fuse-uring: '%s' is not "
						 "auto, on or off", optarg);
			uring_arg = true;
			break;
		case 'e':
			if (parse_secs(optarg, &o.entry_timeout))
				return bad_usage("bad entry timeout '%s' "
						 "(seconds)", optarg);
			break;
		case 'A':
			if (parse_secs(optarg, &o.attr_timeout))
				return bad_usage("bad attribute timeout '%s' "
						 "(seconds)", optarg);
			break;
		case 'h':
			usage(stdout);
			return UK_DAEMON_EXIT_OK;
		case 'V':
			printf("ukerneld (ukernel) %s\n", UK_VERSION);
			return UK_DAEMON_EXIT_OK;
		case ':':
			return bad_usage("option '%s' needs an argument",
					 argv[optind - 1]);
		default:
			return bad_usage("unknown option '%s'",
					 argv[optind - 1]);
		}
	}
	if (tmpfs && optind < argc)
		return bad_usage("give IMAGE or --tmpfs, not both ('%s')",
				 argv[optind]);
	if (!tmpfs && optind >= argc)
		return bad_usage("no IMAGE (or --tmpfs) given");
	if (optind + (tmpfs ? 0 : 1) < argc)
		return bad_usage("unexpected argument '%s'",
				 argv[optind + (tmpfs ? 0 : 1)]);

	if (!mnt_arg && (o.allow_other || o.mount_ro || o.remote_locks ||
			 uring_arg || o.entry_timeout >= 0 ||
			 o.attr_timeout >= 0))
		return bad_usage("--allow-other, --ro, --remote-locks, "
				 "--fuse-uring and the timeouts need --mount");
	if (mnt_arg) {
		if (!ffs_available()) {
			fprintf(stderr, "ukerneld: --mount: this ukerneld was "
				"built without the FUSE front-end (libfuse3 "
				"not found)\n");
			return UK_DAEMON_EXIT_FAIL;
		}
		/*
		 * Absolute, for the daemon in "/". realpath fails on a dead
		 * mount (ENOTCONN): then the path as given, made absolute;
		 * the daemon cleans the dead mount up.
		 */
		mnt = realpath(mnt_arg, NULL);
		if (!mnt && (errno == ENOTCONN || errno == ECONNABORTED))
			mnt = absolute(mnt_arg);
		if (!mnt) {
			fprintf(stderr, "ukerneld: %s: %s\n", mnt_arg,
				strerror(errno));
			return UK_DAEMON_EXIT_FAIL;
		}
		o.mountpoint = mnt;
	}
	if (!tmpfs) {
		/* Absolute, so that SQLite finds its journal after chdir /. */
		image = realpath(argv[optind], NULL);
		if (!image) {
			fprintf(stderr, "ukerneld: %s: %s\n", argv[optind],
				strerror(errno));
			return UK_DAEMON_EXIT_FAIL;
		}
		o.image = image;
	}
	if (!sock_arg) {
		ret = uk_daemon_socket_path(o.image, path, sizeof(path));
		if (ret < 0)
			return bad_usage("default socket path too long");
		sock_arg = path;
	}
	sock = absolute(sock_arg);
	if (!sock) {
		fprintf(stderr, "ukerneld: %s: %s\n", sock_arg,
			strerror(errno));
		free(image);
		return UK_DAEMON_EXIT_FAIL;
	}
	o.socket_path = sock;
	ret = uk_daemon_run(&o);
	free(mnt);
	free(sock);
	free(image);
	return ret;
}
