// SPDX-License-Identifier: MIT
/*
 * shim/proc.c - processes: fork, vfork, the exec family, posix_spawn,
 * system and popen.
 *
 * fork: the child keeps our memory (the vfd table) and the host keeps the
 * placeholders; the client library reconnects the child on its first call
 * and the daemon makes its task a fork of ours (fd table copied).
 *
 * vfork is fork: a vfork child shares our memory and our ring slots, so a
 * dup2() of a vfd it makes before exec (what shells and posix_spawn do)
 * would run in the parent's task and change the parent's fd table.
 *
 * exec: the new image's shim learns which fds are virtual, and whether
 * the cwd is, from UKSHIM_STATE, which the exec wrappers add to the
 * environment (vfd.c). A program stored under the root is copied into a
 * memfd and run with execveat(AT_EMPTY_PATH).
 *
 * posix_spawn: glibc's runs file actions with internal calls we cannot
 * see, so when anything is virtual the spawn is done here with fork, the
 * file actions through our wrappers, and exec. system() and popen()
 * spawn with glibc's internal posix_spawn, so they are done here too when
 * anything is virtual.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shimlib.h"
#include "wrap.h"

extern char **environ;

SHIM_WRAPPERS_BEGIN

pid_t fork(void)
{
	/*
	 * An image exec'd with vfds that has not talked to the daemon yet:
	 * connect (UK_CONNECT_EXEC: the daemon drops the O_CLOEXEC fds)
	 * before the child's task is forked from ours.
	 */
	pid_t pid;

	if (shim_exec_pending() && !shim_connected())
		shim_connect();
	pid = SHIM_REAL(fork)();
	if (pid == 0)
		shim_vfd_atfork_child();
	return pid;
}

pid_t vfork(void)
{
	return fork();
}

SHIM_WRAPPERS_END

/* ---- exec -------------------------------------------------------------------- */

#define ENV_BUF 8192

/* How many entries envp has. */
static size_t env_count(char *const envp[])
{
	size_t n = 0;

	while (envp && envp[n])
		n++;
	return n;
}

/*
 * Copies the virtual file open as daemon fd fd into a new memfd the host
 * can exec (pread from 0: the fd's offset is not moved). Returns the memfd
 * or -errno. A script ("#!") keeps its memfd open across the exec, since
 * the interpreter opens /dev/fd/N.
 */
static long exec_copy_fd(long fd)
{
	char buf[16384];
	struct stat st;
	long mfd, n, r, off = 0;
	bool script = false;

	r = shim_vcall(SYS_fstat, fd, &st);
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	mfd = shim_host_syscall(SYS_memfd_create, (long)"ukshim-exec", 0, 0,
				0, 0, 0);
	if (mfd < 0)
		return mfd;
	while ((n = shim_vcall(SYS_pread64, fd, buf, sizeof(buf), off)) > 0) {
		if (!off)
			script = n >= 2 && buf[0] == '#' && buf[1] == '!';
		off += n;
		for (long put = 0; put < n;) {
			long w = shim_host_syscall(SYS_write, mfd,
						   (long)(buf + put), n - put,
						   0, 0, 0);

			if (w <= 0) {
				n = w < 0 ? w : -EIO;
				goto out;
			}
			put += w;
		}
	}
out:
	if (n < 0) {
		shim_host_syscall(SYS_close, mfd, 0, 0, 0, 0, 0);
		return n;
	}
	if (!script)
		shim_host_syscall(SYS_fcntl, mfd, F_SETFD, FD_CLOEXEC, 0, 0,
				  0);
	return mfd;
}

/* The same for virtual path vd/vp, which must be executable by us. */
static long exec_copy(int vd, const char *vp)
{
	long fd, r;

	r = shim_vcall(SYS_faccessat, vd, vp, X_OK);
	if (r < 0)
		return shim_path_err(r);
	fd = shim_path_err(shim_vcall(SYS_openat, vd, vp, O_RDONLY | O_CLOEXEC,
				      0));
	if (fd < 0)
		return fd;
	r = exec_copy_fd(fd);
	shim_vcall(SYS_close, fd);
	return r;
}

/* execveat(fd, "", AT_EMPTY_PATH) of an executable memfd; returns -errno. */
static long exec_fd(long fd, char *const argv[], char *const envp[])
{
	return shim_host_syscall(SYS_execveat, fd, (long)"", (long)argv,
				 (long)envp, AT_EMPTY_PATH, 0);
}

/*
 * The exec itself: path resolved against dirfd (with execveat's flags).
 * Returns -errno (an exec that works does not return).
 */
static long do_exec(int dirfd, const char *path, char *const argv[],
		    char *const envp[], int flags)
{
	char vp[SHIM_PATH_MAX], envbuf[ENV_BUF];
	size_t n = env_count(envp) + 2;
	char **vec = __builtin_alloca(n * sizeof(char *));
	char *const *env;
	int vd, k;
	long fd, r;

	env = shim_exec_env(envp, envbuf, sizeof(envbuf), vec, n);
	if (!env)
		return -E2BIG;
	shim_mmap_sync_all(); /* exec drops the shadows: dirty pages first */
	if (path && !*path && (flags & AT_EMPTY_PATH) &&
	    shim_fd_is_virtual(dirfd)) {
		/* fexecve of a vfd */
		k = 1;
		vd = dirfd;
		vp[0] = 0;
	} else {
		k = shim_path_resolve(dirfd, path, &vd, vp, sizeof(vp));
	}
	if (k < 0)
		return k;
	if (!k)
		return shim_host_syscall(SYS_execveat, dirfd, (long)path,
					 (long)argv, (long)env, flags, 0);
	fd = vp[0] ? exec_copy(vd, vp) : exec_copy_fd(vd);
	if (fd < 0)
		return fd;
	r = exec_fd(fd, argv, env);
	shim_host_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
	return r;
}

SHIM_WRAPPERS_BEGIN

int execve(const char *path, char *const argv[], char *const envp[])
{
	return (int)shim_ret(do_exec(AT_FDCWD, path, argv, envp, 0));
}

int execveat(int dirfd, const char *path, char *const argv[],
	     char *const envp[], int flags)
{
	return (int)shim_ret(do_exec(dirfd, path, argv, envp, flags));
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
	return (int)shim_ret(do_exec(fd, "", argv, envp, AT_EMPTY_PATH));
}

int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

SHIM_WRAPPERS_END

/*
 * execvpe's PATH search, as glibc does it: a name with a slash is run as
 * it is; else each PATH entry ("" is the cwd) is tried; EACCES is
 * remembered; ENOEXEC runs the file with /bin/sh.
 */
static long do_execvpe(const char *file, char *const argv[],
		       char *const envp[])
{
	const char *path, *p, *end;
	bool eacces = false;
	size_t flen;
	long r;

	if (!file || !*file)
		return -ENOENT;
	if (strchr(file, '/')) {
		r = do_exec(AT_FDCWD, file, argv, envp, 0);
		goto noexec;
	}
	flen = strlen(file);
	if (flen > 255)
		return -ENAMETOOLONG;
	path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin";
	for (p = path;; p = end + 1) {
		char cand[SHIM_PATH_MAX];
		size_t dlen;

		end = strchrnul(p, ':');
		dlen = (size_t)(end - p);
		if (dlen + flen + 2 <= sizeof(cand)) {
			memcpy(cand, p, dlen);
			if (dlen)
				cand[dlen++] = '/';
			memcpy(cand + dlen, file, flen + 1);
			r = do_exec(AT_FDCWD, cand, argv, envp, 0);
			if (r == -ENOEXEC) {
				file = cand;
				goto noexec;
			}
			if (r == -EACCES)
				eacces = true;
			else if (r != -ENOENT && r != -ENOTDIR && r != -ESTALE &&
				 r != -ENODEV && r != -ETIMEDOUT)
				return r;
		}
		if (!*end)
			break;
	}
	return eacces ? -EACCES : -ENOENT;

noexec:
	if (r == -ENOEXEC) {
		size_t argc = 0;
		char **nargv;

		while (argv[argc])
			argc++;
		nargv = __builtin_alloca((argc + 2) * sizeof(char *));
		nargv[0] = (char *)"/bin/sh";
		nargv[1] = (char *)file;
		for (size_t i = 1; i <= argc; i++)
			nargv[i + 1] = argv[i];
		r = do_exec(AT_FDCWD, "/bin/sh", nargv, envp, 0);
	}
	return r;
}

SHIM_WRAPPERS_BEGIN

int execvpe(const char *file, char *const argv[], char *const envp[])
{
	return (int)shim_ret(do_execvpe(file, argv, envp));
}

int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

SHIM_WRAPPERS_END

/* execl's variable arguments into an argv on the caller's stack. */
#define COLLECT_ARGS(argv, arg0, envp_out)                                     \
	size_t argc_ = 1;                                                      \
	va_list ap_;                                                           \
	va_start(ap_, arg0);                                                   \
	while (va_arg(ap_, char *))                                            \
		argc_++;                                                       \
	va_end(ap_);                                                           \
	char **argv = __builtin_alloca((argc_ + 1) * sizeof(char *));          \
	argv[0] = (char *)(arg0);                                              \
	va_start(ap_, arg0);                                                   \
	for (size_t i_ = 1; i_ <= argc_; i_++)                                 \
		argv[i_] = va_arg(ap_, char *);                                \
	envp_out;                                                              \
	va_end(ap_)

SHIM_WRAPPERS_BEGIN

int execl(const char *path, const char *arg, ...)
{
	COLLECT_ARGS(argv, arg, (void)0);
	return execve(path, argv, environ);
}

int execle(const char *path, const char *arg, ...)
{
	char *const *envp;

	COLLECT_ARGS(argv, arg, envp = va_arg(ap_, char *const *));
	return execve(path, argv, envp);
}

int execlp(const char *file, const char *arg, ...)
{
	COLLECT_ARGS(argv, arg, (void)0);
	return execvpe(file, argv, environ);
}

SHIM_WRAPPERS_END

/* ---- posix_spawn ------------------------------------------------------------------ */

/*
 * glibc's file action record (posix/spawn_int.h, an ABI since 2.2 with
 * tags appended over time): the public posix_spawn_file_actions_t holds
 * __used of them at __actions. There are no getters for them.
 */
struct shim_spawn_action {
	enum {
		SA_CLOSE,
		SA_DUP2,
		SA_OPEN,
		SA_CHDIR,
		SA_FCHDIR,
		SA_CLOSEFROM,
		SA_TCSETPGRP,
	} tag;
	union {
		struct {
			int fd;
		} close_action;
		struct {
			int fd, newfd;
		} dup2_action;
		struct {
			int fd;
			char *path;
			int oflag;
			mode_t mode;
		} open_action;
		struct {
			char *path;
		} chdir_action;
		struct {
			int fd;
		} fchdir_action;
		struct {
			int from;
		} closefrom_action;
		struct {
			int fd;
		} setpgrp_action;
	} action;
};

/* Whether a spawn involves anything virtual (else glibc's own is used). */
static bool spawn_virtual(const char *path,
			  const posix_spawn_file_actions_t *fa)
{
	char vp[SHIM_PATH_MAX];
	int vd;

	if (shim_vfd_any() || shim_cwd_is_virtual() || shim_exec_pending())
		return true;
	if (shim_path_resolve(AT_FDCWD, path, &vd, vp, sizeof(vp)) != 0)
		return true;
	if (fa) {
		const struct shim_spawn_action *a =
			(const void *)fa->__actions;

		for (int i = 0; i < fa->__used; i++)
			if ((a[i].tag == SA_OPEN &&
			     shim_path_resolve(AT_FDCWD, a[i].action.open_action.path,
					       &vd, vp, sizeof(vp)) != 0) ||
			    (a[i].tag == SA_CHDIR &&
			     shim_path_resolve(AT_FDCWD,
					       a[i].action.chdir_action.path,
					       &vd, vp, sizeof(vp)) != 0))
				return true;
	}
	return false;
}

/* In the child: attributes, then file actions. Returns 0 or an errno. */
static int spawn_setup(const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *at)
{
	short flags = 0;

	if (at && posix_spawnattr_getflags(at, &flags))
		flags = 0;
	if (flags & POSIX_SPAWN_SETSIGMASK) {
		sigset_t m;

		posix_spawnattr_getsigmask(at, &m);
		sigprocmask(SIG_SETMASK, &m, NULL);
	}
	if (flags & POSIX_SPAWN_SETSIGDEF) {
		sigset_t d;
		struct sigaction sa = { .sa_handler = SIG_DFL };

		posix_spawnattr_getsigdefault(at, &d);
		for (int s = 1; s < NSIG; s++)
			if (sigismember(&d, s) == 1)
				sigaction(s, &sa, NULL);
	}
	if ((flags & POSIX_SPAWN_SETSID) && setsid() < 0)
		return errno;
	if (flags & POSIX_SPAWN_SETPGROUP) {
		pid_t pg;

		posix_spawnattr_getpgroup(at, &pg);
		if (setpgid(0, pg) < 0)
			return errno;
	}
	if (flags & POSIX_SPAWN_SETSCHEDULER) {
		struct sched_param sp;
		int pol;

		posix_spawnattr_getschedpolicy(at, &pol);
		posix_spawnattr_getschedparam(at, &sp);
		if (sched_setscheduler(0, pol, &sp) < 0)
			return errno;
	} else if (flags & POSIX_SPAWN_SETSCHEDPARAM) {
		struct sched_param sp;

		posix_spawnattr_getschedparam(at, &sp);
		if (sched_setparam(0, &sp) < 0)
			return errno;
	}
	if ((flags & POSIX_SPAWN_RESETIDS) &&
	    (setgid(getgid()) < 0 || setuid(getuid()) < 0))
		return errno;
	if (!fa)
		return 0;
	for (int i = 0; i < fa->__used; i++) {
		const struct shim_spawn_action *a =
			(const struct shim_spawn_action *)fa->__actions + i;
		int fd;

		switch (a->tag) {
		case SA_CLOSE:
			/* POSIX: closing a closed fd is not an error here. */
			if (close(a->action.close_action.fd) < 0 &&
			    errno != EBADF)
				return errno;
			break;
		case SA_DUP2:
			if (a->action.dup2_action.fd ==
			    a->action.dup2_action.newfd) {
				/* clears FD_CLOEXEC (POSIX 2017) */
				int fl = fcntl(a->action.dup2_action.fd,
					       F_GETFD);

				if (fl < 0 ||
				    fcntl(a->action.dup2_action.fd, F_SETFD,
					  fl & ~FD_CLOEXEC) < 0)
					return errno;
			} else if (dup2(a->action.dup2_action.fd,
					a->action.dup2_action.newfd) < 0) {
				return errno;
			}
			break;
		case SA_OPEN:
			fd = open(a->action.open_action.path,
				  a->action.open_action.oflag,
				  a->action.open_action.mode);
			if (fd < 0)
				return errno;
			if (fd != a->action.open_action.fd) {
				if (dup2(fd, a->action.open_action.fd) < 0)
					return errno;
				close(fd);
			}
			break;
		case SA_CHDIR:
			if (chdir(a->action.chdir_action.path) < 0)
				return errno;
			break;
		case SA_FCHDIR:
			if (fchdir(a->action.fchdir_action.fd) < 0)
				return errno;
			break;
		case SA_CLOSEFROM:
			closefrom(a->action.closefrom_action.from);
			break;
		case SA_TCSETPGRP:
			if (tcsetpgrp(a->action.setpgrp_action.fd,
				      getpgrp()) < 0)
				return errno;
			break;
		default:
			return ENOSYS;
		}
	}
	return 0;
}

static int do_spawn(pid_t *pidp, const char *path,
		    const posix_spawn_file_actions_t *fa,
		    const posix_spawnattr_t *at, char *const argv[],
		    char *const envp[], bool search)
{
	int p[2], err = 0, status;
	pid_t pid;
	long n;

	if (!envp)
		envp = environ;
	if (shim_host_syscall(SYS_pipe2, (long)p, O_CLOEXEC, 0, 0, 0, 0) < 0)
		return errno ? errno : EMFILE;
	pid = fork();
	if (pid < 0) {
		err = errno;
		shim_host_syscall(SYS_close, p[0], 0, 0, 0, 0, 0);
		shim_host_syscall(SYS_close, p[1], 0, 0, 0, 0, 0);
		return err;
	}
	if (pid == 0) {
		/* The error pipe out of the way of the file actions. */
		int w = shim_private_move(p[1]);

		shim_host_syscall(SYS_close, p[0], 0, 0, 0, 0, 0);
		err = spawn_setup(fa, at);
		if (!err) {
			long r = search ? do_execvpe(path, argv, envp)
					: do_exec(AT_FDCWD, path, argv, envp,
						  0);
			err = (int)-r;
		}
		shim_host_syscall(SYS_write, w, (long)&err, sizeof(err), 0, 0,
				  0);
		_exit(127);
	}
	shim_host_syscall(SYS_close, p[1], 0, 0, 0, 0, 0);
	do
		n = shim_host_syscall(SYS_read, p[0], (long)&err, sizeof(err),
				      0, 0, 0);
	while (n == -EINTR);
	shim_host_syscall(SYS_close, p[0], 0, 0, 0, 0, 0);
	if (n == sizeof(err) && err) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return err;
	}
	if (pidp)
		*pidp = pid;
	return 0;
}

SHIM_WRAPPERS_BEGIN

int posix_spawn(pid_t *pid, const char *path,
		const posix_spawn_file_actions_t *fa,
		const posix_spawnattr_t *at, char *const argv[],
		char *const envp[])
{
	if (!spawn_virtual(path, fa))
		return SHIM_REAL(posix_spawn)(pid, path, fa, at, argv, envp);
	return do_spawn(pid, path, fa, at, argv, envp, false);
}

int posix_spawnp(pid_t *pid, const char *file,
		 const posix_spawn_file_actions_t *fa,
		 const posix_spawnattr_t *at, char *const argv[],
		 char *const envp[])
{
	if (!spawn_virtual(file, fa))
		return SHIM_REAL(posix_spawnp)(pid, file, fa, at, argv, envp);
	return do_spawn(pid, file, fa, at, argv, envp, true);
}

SHIM_WRAPPERS_END

/* ---- system, popen ---------------------------------------------------------------- */

/*
 * glibc's system() and popen() spawn /bin/sh with its internal
 * posix_spawn, which no wrapper sees: a child of a process with vfds (or
 * a virtual cwd) would get the placeholders and no UKSHIM_STATE, so its
 * `echo hi >&3` or a popen'd `cat` on a virtual stdout failed with EIO or
 * EPERM. When anything is virtual they are done here the way glibc 2.36
 * does them (sysdeps/posix/system.c, libio/iopopen.c), with do_spawn();
 * otherwise glibc's own run.
 */
#define SHELL_PATH "/bin/sh"

static bool spawn_needs_us(void)
{
	return shim_vfd_any() || shim_cwd_is_virtual() || shim_exec_pending();
}

/*
 * system() ignores SIGINT and SIGQUIT while a child runs; with several
 * threads in system() at once the first sets that up and the last
 * restores the dispositions it saved.
 */
static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static int system_refs;
static struct sigaction system_intr, system_quit;

static void system_restore(void)
{
	pthread_mutex_lock(&system_lock);
	if (--system_refs == 0) {
		sigaction(SIGINT, &system_intr, NULL);
		sigaction(SIGQUIT, &system_quit, NULL);
	}
	pthread_mutex_unlock(&system_lock);
}

/* Cancelled while waiting: the child dies with us (glibc does the same). */
static void system_cancel(void *arg)
{
	pid_t pid = *(pid_t *)arg;

	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	system_restore();
}

static int do_system(const char *line)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigset_t chld, omask, reset;
	posix_spawnattr_t at;
	int status = -1, err;
	pid_t pid;

	pthread_mutex_lock(&system_lock);
	if (system_refs++ == 0) {
		sigaction(SIGINT, &ign, &system_intr);
		sigaction(SIGQUIT, &ign, &system_quit);
	}
	pthread_mutex_unlock(&system_lock);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &omask);
	/* The child gets the caller's mask and, unless ignored, SIG_DFL. */
	sigemptyset(&reset);
	if (system_intr.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGINT);
	if (system_quit.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGQUIT);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &omask);
	posix_spawnattr_setsigdefault(&at, &reset);
	posix_spawnattr_setflags(&at,
				 POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	err = do_spawn(&pid, SHELL_PATH, NULL, &at,
		       (char *const[]){ "sh", "-c", (char *)line, NULL },
		       environ, false);
	posix_spawnattr_destroy(&at);
	if (!err) {
		/* waitpid is the cancellation point, as in glibc. */
		pthread_cleanup_push(system_cancel, &pid);
		while ((err = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		if (err != pid)
			status = -1;
		err = 0;
		pthread_cleanup_pop(0);
	} else {
		/* POSIX: as if the shell had terminated with _exit(127). */
		status = W_EXITCODE(127, 0);
	}
	system_restore();
	sigprocmask(SIG_SETMASK, &omask, NULL);
	if (err)
		errno = err;
	return status;
}

/*
 * The streams popen() made, ours and glibc's: a child must not inherit
 * the parent ends of earlier ones (POSIX; a reader would never see EOF),
 * and pclose() must know which are ours. pid 0: one of glibc's.
 */
struct popen_file {
	FILE *fp;
	int fd;   /* the parent end, noted now: fp may be fclose'd by mistake */
	pid_t pid;
	struct popen_file *next;
};

static pthread_mutex_t popen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct popen_file *popen_files;
static unsigned int popen_ours; /* how many of them are ours */

static void popen_link_locked(struct popen_file *pf, FILE *fp, pid_t pid)
{
	pf->fp = fp;
	pf->fd = fileno(fp);
	pf->pid = pid;
	pf->next = popen_files;
	popen_files = pf;
	if (pid)
		popen_ours++;
}

/* Unlinks fp's record and returns it, or NULL if popen() did not make fp. */
static struct popen_file *popen_take(FILE *fp)
{
	struct popen_file **pp, *pf = NULL;

	pthread_mutex_lock(&popen_lock);
	for (pp = &popen_files; *pp; pp = &(*pp)->next)
		if ((*pp)->fp == fp) {
			pf = *pp;
			*pp = pf->next;
			if (pf->pid)
				popen_ours--;
			break;
		}
	pthread_mutex_unlock(&popen_lock);
	return pf;
}

/* popen's mode: "r" or "w", and "e" for O_CLOEXEC; -1 if invalid. */
static int popen_mode(const char *mode, bool *cloexec)
{
	bool r = false, w = false;

	*cloexec = false;
	for (; *mode; mode++) {
		if (*mode == 'r')
			r = true;
		else if (*mode == 'w')
			w = true;
		else if (*mode == 'e')
			*cloexec = true;
		else
			return -1;
	}
	return r == w ? -1 : r ? 0 : 1;
}

/*
 * Our popen, under popen_lock (the list of streams to close in the child
 * must not change until the child exists). ENOMEM for a failed spawn, as
 * glibc says.
 */
static FILE *do_popen(const char *cmd, int writing, bool cloexec,
		      struct popen_file *pf)
{
	posix_spawn_file_actions_t fa;
	int p[2], parent = writing, child = !writing, want = !writing;
	FILE *fp;
	pid_t pid;
	int err;

	if (pipe2(p, O_CLOEXEC) < 0)
		return NULL;
	/* The child end must not already be the number it becomes. */
	if (p[child] == want) {
		int t = fcntl(p[child], F_DUPFD_CLOEXEC, 0);

		if (t < 0) {
			err = errno;
			goto fail_pipe;
		}
		close(p[child]);
		p[child] = t;
	}
	fp = fdopen(p[parent], writing ? "w" : "r");
	if (!fp) {
		err = errno;
		goto fail_pipe;
	}
	posix_spawn_file_actions_init(&fa);
	err = posix_spawn_file_actions_adddup2(&fa, p[child], want);
	for (struct popen_file *o = popen_files; o && !err; o = o->next)
		if (o->fd >= 0 && o->fd != want)
			err = posix_spawn_file_actions_addclose(&fa, o->fd);
	if (!err)
		err = do_spawn(&pid, SHELL_PATH, &fa, NULL,
			       (char *const[]){ "sh", "-c", (char *)cmd, NULL },
			       environ, false);
	posix_spawn_file_actions_destroy(&fa);
	close(p[child]);
	if (err) {
		fclose(fp);
		errno = ENOMEM;
		return NULL;
	}
	if (!cloexec)
		fcntl(p[parent], F_SETFD, 0);
	popen_link_locked(pf, fp, pid);
	return fp;

fail_pipe:
	close(p[0]);
	close(p[1]);
	errno = err;
	return NULL;
}

SHIM_WRAPPERS_BEGIN

int system(const char *line)
{
	if (!spawn_needs_us())
		return SHIM_REAL(system)(line);
	if (!line)
		return do_system("exit 0") == 0;
	return do_system(line);
}

FILE *popen(const char *cmd, const char *mode)
{
	struct popen_file *pf;
	bool cloexec;
	int writing = popen_mode(mode, &cloexec);
	FILE *fp;

	if (writing < 0) {
		errno = EINVAL;
		return NULL;
	}
	pf = malloc(sizeof(*pf));
	if (!pf)
		return NULL;
	pthread_mutex_lock(&popen_lock);
	if (spawn_needs_us() || popen_ours) {
		fp = do_popen(cmd, writing, cloexec, pf);
		pthread_mutex_unlock(&popen_lock);
		if (!fp)
			free(pf);
		return fp;
	}
	pthread_mutex_unlock(&popen_lock);
	/* glibc's: recorded, so that a child of ours closes its fd too. */
	fp = SHIM_REAL(popen)(cmd, mode);
	if (!fp) {
		free(pf);
		return NULL;
	}
	pthread_mutex_lock(&popen_lock);
	popen_link_locked(pf, fp, 0);
	pthread_mutex_unlock(&popen_lock);
	return fp;
}

int pclose(FILE *fp)
{
	struct popen_file *pf = popen_take(fp);
	pid_t pid;
	int st, r;

	if (!pf || !pf->pid) {
		free(pf);
		return SHIM_REAL(pclose)(fp);
	}
	pid = pf->pid;
	free(pf);
	fclose(fp);
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	return r < 0 ? -1 : st;
}

SHIM_WRAPPERS_END
