// SPDX-License-Identifier: MIT
/*
 * ukernel/daemon.c - the life of ukerneld (daemon.h): start-up (inherited
 * descriptors closed, daemonize with a readiness pipe, socket lock, stale
 * socket), serving (the ring server over one kernel, waiting on a
 * signalfd) and a clean shutdown.
 *
 * Sections: logging, names and paths, inherited descriptors, the socket
 * lock and probe, start-up reporting, serving, run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "fusefs.h"
#include "uk.h"
#include "uk_err.h"

/* ---- logging ------------------------------------------------------------ */

/* Set once in the daemonized child, before any thread exists. */
static bool log_to_syslog;

void uk_daemon_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_to_syslog) {
		vsyslog(priority, fmt, ap);
	} else {
		char buf[512];

		vsnprintf(buf, sizeof(buf), fmt, ap);
		fprintf(stderr, "ukerneld: %s\n", buf);
	}
	va_end(ap);
}

/* The ring server's refusals and errors, as notices. */
static void ring_log(void *arg, const char *msg)
{
	uk_daemon_log(LOG_NOTICE, "ring: %s", msg);
}

/* The FUSE front-end's messages. */
static void fuse_log(void *arg, int priority, const char *msg)
{
	uk_daemon_log(priority, "fuse: %s", msg);
}

/* ---- names and paths ------------------------------------------------------ */

/* Copies name into buf; its length or -ENAMETOOLONG. */
static int set_name(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, name, n + 1);
	return (int)n;
}

int uk_daemon_name(const char *image, char *buf, size_t len)
{
	const char *base, *end, *dot;
	size_t n;

	if (!image)
		return set_name("tmpfs", buf, len);
	end = image + strlen(image);
	while (end > image + 1 && end[-1] == '/')
		end--;
	base = end;
	while (base > image && base[-1] != '/')
		base--;
	dot = NULL;
	for (const char *p = base + 1; p < end; p++)
		if (*p == '.')
			dot = p;
	if (dot)
		end = dot;
	n = (size_t)(end - base);
	if (n == 0 || (n == 1 && *base == '/'))
		return set_name("default", buf, len);
	/* "tmpfs" names the --tmpfs daemons: an image is never served there */
	if (n == 5 && !memcmp(base, "tmpfs", 5))
		return set_name("tmpfs-image", buf, len);
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, base, n);
	buf[n] = '\0';
	return (int)n;
}

int uk_daemon_socket_path(const char *image, char *buf, size_t len)
{
	const char *env = getenv("UKERNEL_SOCKET");
	char name[256];
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
	}
	n = uk_daemon_name(image, name, sizeof(name));
	if (n < 0)
		return n;
	return uk_ring_default_socket_path(name, buf, len);
}

/* ---- inherited descriptors ---------------------------------------------- */

/* Closes every descriptor >= first, one by one (no close_range here). */
static void close_each_from(int first)
{
	struct rlimit rl;
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");

	if (d) {
		while ((e = readdir(d))) {
			char *end;
			long fd = strtol(e->d_name, &end, 10);

			if (*end || end == e->d_name || fd < first ||
			    fd == dirfd(d))
				continue;
			close((int)fd);
		}
		closedir(d);
		return;
	}
	/* No /proc: every number the limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 65536;
	for (rlim_t fd = (rlim_t)first; fd < rl.rlim_cur; fd++)
		close((int)fd);
}

void uk_daemon_close_inherited(void)
{
	int fd;

	/*
	 * A closed 0, 1 or 2 would be the number of the next file we open,
	 * and our log lines (or a library's) would be written into it.
	 */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= STDERR_FILENO)
		;
	if (fd > STDERR_FILENO)
		close(fd);
#if UK_HAVE_CLOSE_RANGE
	if (close_range(STDERR_FILENO + 1, ~0U, 0) == 0)
		return;
	/* ENOSYS before Linux 5.9, or a seccomp filter that refuses it */
#endif
	close_each_from(STDERR_FILENO + 1);
}

/* ---- the socket lock and probe ---------------------------------------------- */

/* Creates the socket's directory the way the ring server would. */
static int make_dir(const char *path, bool shared, char *errbuf,
		    size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	char *slash;
	int ret;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		snprintf(errbuf, errlen, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, shared ? 0711 : 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		snprintf(errbuf, errlen, "mkdir %s: %s", dir, strerror(-ret));
		return ret;
	}
	return 0;
}

int uk_daemon_lock_socket(const char *path, bool shared, int *lock_fd,
			  char *errbuf, size_t errlen)
{
	char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct stat a, b;
	char buf[32];
	ssize_t n;
	int fd, ret;

	ret = make_dir(path, shared, errbuf, errlen);
	if (ret)
		return ret;
	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock)) {
		snprintf(errbuf, errlen, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	/*
	 * The lock is the flock on the file the path names when we hold it:
	 * a daemon that exits unlinks the file before it drops the flock, so
	 * a locker that opened the unlinked file sees the inode change and
	 * tries again.
	 */
	for (;;) {
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			ret = -errno;
			snprintf(errbuf, errlen, "%s: %s", lock, strerror(-ret));
			return ret;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			ret = -errno;
			if (ret != -EWOULDBLOCK) {
				snprintf(errbuf, errlen, "flock %s: %s", lock,
					 strerror(-ret));
				goto err_close;
			}
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(errbuf, errlen,
				 "socket %s in use by ukerneld pid %s", path,
				 buf[0] ? buf : "(unknown)");
			ret = -EBUSY;
			goto err_close;
		}
		if (fstat(fd, &a) == 0 && stat(lock, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			break;
		close(fd);
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		ret = -errno;
		snprintf(errbuf, errlen, "%s: %s", lock, strerror(-ret));
		unlink(lock);
		goto err_close;
	}
	*lock_fd = fd;
	return 0;

err_close:
	close(fd);
	return ret;
}

/*
 * The shim's FIFO shadows (docs/shim.md "FIFOs"): host FIFOs in
 * "<socket>.fifo/", one per FIFO a client opened. They hold no data and
 * outlive the FIFO's unlink; the daemon that owns the socket removes them
 * when it starts and when it stops (a process that has one open keeps
 * its pipe: only the name goes).
 */
static void clear_fifo_shadows(const char *socket_path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct dirent *e;
	DIR *d;
	int dfd;

	snprintf(dir, sizeof(dir), "%s.fifo", socket_path);
	d = opendir(dir);
	if (!d)
		return;
	dfd = dirfd(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dfd, e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

void uk_daemon_unlock_socket(const char *path, int lock_fd)
{
	char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];

	if (lock_fd < 0)
		return;
	snprintf(lock, sizeof(lock), "%s.lock", path);
	unlink(lock); /* before the flock goes: see uk_daemon_lock_socket() */
	close(lock_fd);
}

int uk_daemon_probe_socket(const char *path, char *errbuf, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(errbuf, errlen, "%s exists and is not a socket", path);
		return -EEXIST;
	}
	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(errbuf, errlen, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(errbuf, errlen, "socket: %s", strerror(-ret));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
			cred.pid = 0;
		snprintf(errbuf, errlen,
			 "socket %s in use: a daemon (pid %d) is listening on it",
			 path, (int)cred.pid);
		ret = -EADDRINUSE;
	} else if (errno == ECONNREFUSED) {
		/* Nobody listens: a daemon died without removing it. */
		if (unlink(path) < 0 && errno != ENOENT) {
			ret = -errno;
			snprintf(errbuf, errlen, "removing stale %s: %s", path,
				 strerror(-ret));
		} else {
			ret = 1;
		}
	} else {
		ret = -errno;
		snprintf(errbuf, errlen, "connect %s: %s", path,
			 strerror(-ret));
	}
	close(fd);
	return ret;
}

/* ---- start-up reporting ------------------------------------------------------ */

/*
 * The readiness pipe: the daemonized child writes "0" once it listens, or
 * "1" and its error message, and closes it. The parent's exit status is
 * what the child reported; EOF without a report means the child died.
 */
static int parent_wait_ready(int fd, pid_t child)
{
	char buf[600];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(buf) - 1) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	if (got && buf[0] == '0')
		return UK_DAEMON_EXIT_OK;
	if (got > 1)
		fprintf(stderr, "ukerneld: %s\n", buf + 1);
	else
		fprintf(stderr, "ukerneld: the daemon (pid %d) exited while "
				"starting\n", (int)child);
	return UK_DAEMON_EXIT_FAIL;
}

/* Reports to the parent (once) and closes the pipe; -1 means none. */
static void child_report(int *fd, const char *err)
{
	char buf[600];
	int n;

	if (*fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%c%s", err ? '1' : '0', err ? err : "");
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (write(*fd, buf, (size_t)n) < 0)
		uk_daemon_log(LOG_ERR, "readiness pipe: %s", strerror(errno));
	close(*fd);
	*fd = -1;
}

/* A daemon's stdio goes to /dev/null once nobody reads it. */
static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* ---- serving -------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Waits for SIGTERM or SIGINT on sfd, or for o->idle_ms without a client.
 * Sleeps in poll() the whole time (no timer at all without an idle
 * timeout; while clients are connected, one wake-up a second to notice
 * them leave). Returns the signal number, or 0 for the idle timeout.
 */
static int wait_for_end(const struct uk_daemon_opts *o, int sfd,
			struct uk_ring_server *srv)
{
	uint64_t last_busy = now_ms();
	struct signalfd_siginfo si;
	struct pollfd p = { .fd = sfd, .events = POLLIN };

	for (;;) {
		int timeout = -1;

		if (o->idle_ms) {
			struct uk_ring_server_stats st;
			uint64_t now = now_ms();

			uk_ring_server_get_stats(srv, &st);
			if (st.clients) {
				last_busy = now;
				timeout = o->idle_ms < 1000 ? (int)o->idle_ms :
							      1000;
			} else if (now - last_busy >= o->idle_ms) {
				uk_daemon_log(LOG_INFO,
					      "idle for %u ms with no client, "
					      "exiting", o->idle_ms);
				return 0;
			} else {
				timeout = (int)(last_busy + o->idle_ms - now);
			}
		}
		if (poll(&p, 1, timeout) <= 0)
			continue; /* timeout or EINTR: look again */
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			uk_daemon_log(LOG_INFO, "SIGHUP ignored");
			continue;
		}
		uk_daemon_log(LOG_INFO, "%s: shutting down",
			      strsignal((int)si.ssi_signo));
		return (int)si.ssi_signo;
	}
}

/*
 * The daemon proper, in the process that serves (the foreground process or
 * the daemonized child). *ready_fd is the readiness pipe or -1. Signals are
 * already blocked and sfd reads them.
 */
static int serve(const struct uk_daemon_opts *o, int sfd, int *ready_fd)
{
	struct uk_ring_server_opts ro = {
		.socket_path = o->socket_path,
		.n_allow_uids = o->n_allow_uids,
		.log = ring_log,
	};
	struct uk_image_opts io = { .cache_size = o->cache_size };
	struct uk_ring_server *srv;
	struct ffs *ffs = NULL;
	struct uk_kernel_opts ko = { 0 };
	struct uk_kernel *k;
	char err[512] = "";
	char msg[600];
	int lock_fd = -1;
	int status = UK_DAEMON_EXIT_FAIL;
	int ret;

	memcpy(ro.allow_uids, o->allow_uids, sizeof(ro.allow_uids));
	/* symlinks written as "/uk/a" by shim clients resolve inside */
	ko.link_root = o->root ? o->root : "/uk";
	k = uk_kernel_new(&ko);
	if (IS_ERR_OR_NULL(k)) {
		snprintf(msg, sizeof(msg), "cannot create the kernel: %s",
			 strerror(k ? (int)-PTR_ERR(k) : ENOMEM));
		goto err_report;
	}
	if (o->image) {
		ret = uk_kernel_mount_image(k, o->image, &io, err, sizeof(err));
		if (ret < 0) {
			snprintf(msg, sizeof(msg), "%s", err[0] ? err :
				 strerror(-ret));
			goto err_free_kernel;
		}
	}
	ret = uk_daemon_lock_socket(o->socket_path, o->n_allow_uids > 0,
				    &lock_fd, err, sizeof(err));
	if (ret < 0) {
		snprintf(msg, sizeof(msg), "%s", err);
		goto err_free_kernel;
	}
	ret = uk_daemon_probe_socket(o->socket_path, err, sizeof(err));
	if (ret < 0) {
		snprintf(msg, sizeof(msg), "%s", err);
		goto err_unlock;
	}
	if (ret == 1)
		uk_daemon_log(LOG_NOTICE, "replaced the stale socket %s",
			      o->socket_path);
	clear_fifo_shadows(o->socket_path);
	srv = uk_ring_server_start(k, &ro);
	if (IS_ERR(srv)) {
		snprintf(msg, sizeof(msg), "cannot listen on %s: %s",
			 o->socket_path, strerror((int)-PTR_ERR(srv)));
		goto err_unlock;
	}
	if (o->mountpoint) {
		struct ffs_opts fo = {
			.mountpoint = o->mountpoint,
			.fsname = o->image ? o->image : "tmpfs",
			.allow_other = o->allow_other,
			.read_only = o->mount_ro,
			.remote_locks = o->remote_locks,
			.uring = o->fuse_uring,
			.entry_timeout = o->entry_timeout,
			.attr_timeout = o->attr_timeout,
			.negative_timeout = -1,
			.log = fuse_log,
		};

		ffs = ffs_start(k, &fo, err, sizeof(err));
		if (IS_ERR(ffs)) {
			snprintf(msg, sizeof(msg), "%s", err);
			ffs = NULL;
			goto err_stop_ring;
		}
		uk_daemon_log(LOG_INFO, "mounted on %s", o->mountpoint);
	}
	/* The shim will read the virtual root from here; for now it is told. */
	uk_daemon_log(LOG_INFO, "pid %d serving %s on %s (virtual root %s)",
		      (int)getpid(), o->image ? o->image : "a tmpfs",
		      o->socket_path, o->root ? o->root : "/uk");
	if (*ready_fd >= 0) {
		child_report(ready_fd, NULL);
		if (chdir("/") < 0)
			uk_daemon_log(LOG_WARNING, "chdir /: %s",
				      strerror(errno));
		detach_stdio();
	}

	wait_for_end(o, sfd, srv);

	/* Unmount first: the host's programs see the mount go, not hang. */
	ffs_stop(ffs);
	/* Stop accepting; calls already published finish; tasks exit. */
	uk_ring_server_stop(srv);
	status = UK_DAEMON_EXIT_OK;
	ret = uk_kernel_sync(k);
	if (ret < 0) {
		uk_daemon_log(LOG_ERR, "sync: %s", strerror(-ret));
		status = UK_DAEMON_EXIT_FAIL;
	}
	uk_kernel_free(k); /* unmounts: write back, commit, mark clean */
	clear_fifo_shadows(o->socket_path);
	uk_daemon_unlock_socket(o->socket_path, lock_fd);
	uk_daemon_log(LOG_INFO, "stopped");
	return status;

err_stop_ring:
	uk_ring_server_stop(srv);
err_unlock:
	uk_daemon_unlock_socket(o->socket_path, lock_fd);
err_free_kernel:
	uk_kernel_free(k);
err_report:
	if (*ready_fd >= 0) {
		uk_daemon_log(LOG_ERR, "%s", msg);
		child_report(ready_fd, msg);
	} else {
		fprintf(stderr, "ukerneld: %s\n", msg);
	}
	return status;
}

/* ---- run -------------------------------------------------------------------- */

int uk_daemon_run(const struct uk_daemon_opts *o)
{
	int ready_fd = -1;
	int pipefd[2];
	sigset_t set;
	int sfd, status;
	pid_t pid;

	if (!o->foreground) {
		if (pipe2(pipefd, O_CLOEXEC) < 0) {
			fprintf(stderr, "ukerneld: pipe: %s\n", strerror(errno));
			return UK_DAEMON_EXIT_FAIL;
		}
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "ukerneld: fork: %s\n", strerror(errno));
			close(pipefd[0]);
			close(pipefd[1]);
			return UK_DAEMON_EXIT_FAIL;
		}
		if (pid > 0) {
			close(pipefd[1]);
			return parent_wait_ready(pipefd[0], pid);
		}
		close(pipefd[0]);
		ready_fd = pipefd[1];
		setsid();
		openlog("ukerneld", LOG_PID, LOG_DAEMON);
		log_to_syslog = true;
	}

	/*
	 * Before any thread exists, so every thread inherits the mask and the
	 * signals reach only the signalfd: no work in a handler.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	sfd = -1;
	if (sigprocmask(SIG_BLOCK, &set, NULL) == 0)
		sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "signalfd: %s", strerror(errno));
		if (ready_fd >= 0)
			child_report(&ready_fd, msg);
		else
			fprintf(stderr, "ukerneld: %s\n", msg);
		return UK_DAEMON_EXIT_FAIL;
	}
	status = serve(o, sfd, &ready_fd);
	close(sfd);
	if (log_to_syslog)
		closelog();
	return status;
}
