// SPDX-License-Identifier: MIT
/*
 * ukrun - run a command with the shim: LD_PRELOAD=libukshim.so, the
 * socket and the virtual root in its environment, and a ukerneld serving
 * the image (started here, with an idle timeout, when none serves it).
 *
 *	ukrun [-i IMAGE | --tmpfs] [--root DIR] [--socket PATH]
 *	      [--idle-timeout SECS] -- cmd args...
 *
 * With no image it uses $XDG_DATA_HOME/ukernel/default (or
 * ~/.local/share/ukernel/default), made with `ukctl mkfs` the first time.
 * libukshim.so, ukerneld and ukctl are looked for next to ukrun (an
 * install's bin/ and lib/), then in the build tree's layout (shim/ and
 * ukernel/), then in the install directories compiled in.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ukernel.h"

#ifndef UKRUN_LIBDIR
#define UKRUN_LIBDIR "/usr/local/lib"
#endif
#ifndef UKRUN_BINDIR
#define UKRUN_BINDIR "/usr/local/bin"
#endif
#ifndef UKRUN_LIBDIR_REL
#define UKRUN_LIBDIR_REL "../lib"
#endif

static char exe_dir[PATH_MAX];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ukrun [-i IMAGE | --tmpfs] [--root DIR] [--socket PATH]\n"
		"             [--idle-timeout SECS] -- cmd args...\n"
		"\n"
		"Runs cmd with LD_PRELOAD=libukshim.so, so that paths under the\n"
		"virtual root (default /uk) are served by ukerneld from IMAGE.\n"
		"A ukerneld is started on the image when none serves it; it exits\n"
		"after SECS (default 10) with no client. Default image:\n"
		"$XDG_DATA_HOME/ukernel/default (~/.local/share/ukernel/default),\n"
		"created (1 GiB) on first use.\n");
}

/* The first of dir/rel candidates that exists, into out. */
static bool find_file(char *out, size_t len, const char *name,
		      const char *const rels[])
{
	for (int i = 0; rels[i]; i++) {
		const char *base = rels[i][0] == '/' ? "" : exe_dir;
		const char *sep = rels[i][0] == '/' ? "" : "/";

		if (snprintf(out, len, "%s%s%s/%s", base, sep, rels[i], name) <
			    (int)len &&
		    access(out, F_OK) == 0)
			return true;
	}
	return false;
}

static bool find_prog(char *out, size_t len, const char *name)
{
	static const char *const rels[] = { ".", "../ukernel", UKRUN_BINDIR,
					    NULL };

	if (find_file(out, len, name, rels))
		return true;
	snprintf(out, len, "%s", name); /* $PATH */
	return false;
}

/* Whether something accepts connections on socket path. */
static bool served(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, ok;

	if (strlen(path) >= sizeof(a.sun_path))
		return false;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* Runs argv (stdout on our stderr) and waits; its exit status, or -1. */
static int run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (!pid) {
		/* Our stdout is the command's: helpers talk on stderr. */
		dup2(2, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "ukrun: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* The default image path; made (with its directories) if missing. */
static int default_image(char *out, size_t len)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	char dir[PATH_MAX], ukctl[PATH_MAX];
	struct stat st;

	if (xdg && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%s/ukernel", xdg);
	else if (home && home[0] == '/')
		snprintf(dir, sizeof(dir), "%s/.local/share/ukernel", home);
	else {
		fprintf(stderr, "ukrun: neither XDG_DATA_HOME nor HOME is set; "
				"name an image with -i\n");
		return -1;
	}
	if (snprintf(out, len, "%s/default", dir) >= (int)len)
		return -1;
	if (stat(out, &st) == 0)
		return 0;
	if (mkdir_p(dir) < 0) {
		fprintf(stderr, "ukrun: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	find_prog(ukctl, sizeof(ukctl), "ukctl");
	{
		char *argv[] = { ukctl, "mkfs", out, "--size", "1G", NULL };

		if (run(argv) != 0) {
			fprintf(stderr, "ukrun: could not create %s\n", out);
			return -1;
		}
	}
	fprintf(stderr, "ukrun: created the default image %s\n", out);
	return 0;
}

/*
 * Sets name to IMAGE's base name without its extension (ukerneld's rule,
 * uk_daemon_name): "tmpfs" is the --tmpfs daemons' name, so an image
 * called that is "tmpfs-image".
 */
static void image_name(const char *img, char *name, size_t len)
{
	const char *b = strrchr(img, '/');
	char *dot;
	size_t n;

	b = b ? b + 1 : img;
	n = strlen(b);
	while (n > 1 && b[n - 1] == '/')
		n--;
	snprintf(name, len, "%.*s", (int)n, b);
	dot = strrchr(name, '.');
	if (dot && dot != name)
		*dot = 0;
	if (!strcmp(name, "tmpfs"))
		snprintf(name, len, "tmpfs-image");
}

/* The pid written in a lock file (SOCKET.lock, IMAGE/lock), or 0. */
static long lock_pid(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

/*
 * Whether the daemon on sock serves image: a ukerneld writes its pid in
 * the socket's lock file and in the image's, so the two agree exactly
 * when it is that image's daemon. Two images with one base name in
 * different directories share the default socket name; without this
 * check the command would run on the other image, silently.
 */
static bool serves_image(const char *sock, const char *image)
{
	char p[PATH_MAX + 16];
	long s, i;

	snprintf(p, sizeof(p), "%s.lock", sock);
	s = lock_pid(p);
	snprintf(p, sizeof(p), "%s/lock", image);
	i = lock_pid(p);
	return s > 0 && s == i;
}

/*
 * The socket name for image when its base name's socket serves another
 * image: the base name and a hash (FNV-1a) of the image's absolute path,
 * so each image still has one name that every ukrun computes alike.
 */
static void image_alt_name(const char *img, char *name, size_t len)
{
	char abs[PATH_MAX], base[200];
	uint32_t h = 2166136261u;

	if (!realpath(img, abs))
		snprintf(abs, sizeof(abs), "%s", img);
	for (const char *c = abs; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	image_name(img, base, sizeof(base));
	snprintf(name, len, "%s-%08x", base, h);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "tmpfs", no_argument, NULL, 't' },
		{ "root", required_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 's' },
		{ "idle-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *image = NULL, *root = NULL, *sock_opt = NULL;
	const char *idle = "10";
	char img[PATH_MAX], lib[PATH_MAX], ukd[PATH_MAX], sock[PATH_MAX];
	char name[256], preload[PATH_MAX * 2];
	bool tmpfs = false;
	ssize_t n;
	int c;

	while ((c = getopt_long(argc, argv, "+i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			image = optarg;
			break;
		case 't':
			tmpfs = true;
			break;
		case 'r':
			root = optarg;
			break;
		case 's':
			sock_opt = optarg;
			break;
		case 'T':
			idle = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (root && root[0] != '/') {
		fprintf(stderr, "ukrun: --root must be absolute\n");
		return 2;
	}
	n = readlink("/proc/self/exe", exe_dir, sizeof(exe_dir) - 1);
	if (n <= 0) {
		fprintf(stderr, "ukrun: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	exe_dir[n] = 0;
	*strrchr(exe_dir, '/') = 0;
	{
		static const char *const rels[] = { ".", UKRUN_LIBDIR_REL,
						    "../shim", UKRUN_LIBDIR,
						    NULL };

		if (!find_file(lib, sizeof(lib), "libukshim.so", rels)) {
			fprintf(stderr, "ukrun: libukshim.so not found next to "
					"%s nor in %s\n",
				exe_dir, UKRUN_LIBDIR);
			return 1;
		}
	}

	/* The image and the socket its daemon listens on. */
	if (tmpfs) {
		/* Not "default": that is the default image's socket. */
		snprintf(name, sizeof(name), "tmpfs");
	} else {
		if (!image) {
			if (default_image(img, sizeof(img)) < 0)
				return 1;
			image = img;
		}
		image_name(image, name, sizeof(name));
	}
	if (sock_opt && sock_opt[0] != '/') {
		/*
		 * Relative to where ukrun runs, not to wherever the command
		 * and its children chdir to (into /uk, whose host cwd is
		 * not this one): the shim connects lazily, in each process.
		 */
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(sock, sizeof(sock), "%s/%s", cwd,
				     sock_opt) >= sizeof(sock)) {
			fprintf(stderr, "ukrun: socket path too long\n");
			return 1;
		}
	} else if (sock_opt) {
		snprintf(sock, sizeof(sock), "%s", sock_opt);
	} else {
		unsetenv("UKERNEL_SOCKET");
		setenv("UKERNEL_NAME", name, 1);
		if (uk_default_socket_path(sock, sizeof(sock)) < 0) {
			fprintf(stderr, "ukrun: socket path too long\n");
			return 1;
		}
		if (!tmpfs && served(sock) && !serves_image(sock, image)) {
			image_alt_name(image, name, sizeof(name));
			setenv("UKERNEL_NAME", name, 1);
			if (uk_default_socket_path(sock, sizeof(sock)) < 0) {
				fprintf(stderr, "ukrun: socket path too long\n");
				return 1;
			}
		}
	}

	if (!served(sock)) {
		char *dargv[16];
		int k = 0, rc;

		find_prog(ukd, sizeof(ukd), "ukerneld");
		dargv[k++] = ukd;
		if (tmpfs)
			dargv[k++] = "--tmpfs";
		else
			dargv[k++] = (char *)image;
		dargv[k++] = "--socket";
		dargv[k++] = sock;
		dargv[k++] = "--idle-timeout";
		dargv[k++] = (char *)idle;
		if (root) {
			dargv[k++] = "--root";
			dargv[k++] = (char *)root;
		}
		dargv[k] = NULL;
		/* ukerneld returns once it listens (or fails to start). */
		rc = run(dargv);
		if (rc != 0 && !served(sock)) {
			/* Another ukrun may have started it meanwhile. */
			usleep(200 * 1000);
			if (!served(sock)) {
				fprintf(stderr,
					"ukrun: could not start ukerneld on %s\n",
					tmpfs ? "a tmpfs" : image);
				return 1;
			}
		}
	}

	{
		const char *old = getenv("LD_PRELOAD");

		/* The user's preloads keep their place before ours. */
		if (old && *old)
			snprintf(preload, sizeof(preload), "%s:%s", old, lib);
		else
			snprintf(preload, sizeof(preload), "%s", lib);
	}
	setenv("LD_PRELOAD", preload, 1);
	setenv("UKERNEL_SOCKET", sock, 1);
	if (root)
		setenv("UKERNEL_ROOT", root, 1);
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "ukrun: %s: %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
