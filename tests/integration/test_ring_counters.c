// SPDX-License-Identifier: MIT
/*
 * test_ring_counters - the vvar's change counters through a real ukerneld
 * (--tmpfs --foreground on a private socket) and the client library. A
 * watcher process stats a file or directory through the ring, notes
 * uk_change_counter(st_dev, st_ino), and has a second process (its own
 * connection and task) change it; as soon as the second process's call has
 * returned, both processes must see the counter moved. A call that changes
 * nothing (stat, a read of a file whose atime is current) must not move it.
 *
 *   test_ring_counters UKERNELD
 *
 * Exit status: 0 passed, 1 failed, 2 bad usage, 77 skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ukernel.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d (pid %d): check failed: %s\n",  \
				__FILE__, __LINE__, (int)getpid(), #c);        \
			exit(1);                                               \
		}                                                              \
	} while (0)

static char sock[128];

/* The changes the second process makes, one per command byte. */
enum op {
	OP_WRITE, OP_PWRITE, OP_TRUNCATE, OP_CHMOD, OP_UTIMENS, OP_SETXATTR,
	OP_LINK, OP_UNLINK_LINK, OP_CREATE_IN_DIR, OP_RENAME_INTO_DIR,
	OP_UNLINK_IN_DIR, OP_STAT_ONLY, NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"write", "pwrite", "truncate", "chmod", "utimensat", "setxattr",
	"link", "unlink", "create in dir", "rename into dir",
	"unlink in dir", "stat only",
};

/* Which object the watcher keys: the file /f or the directory /d. */
static const char *op_target(enum op op)
{
	switch (op) {
	case OP_CREATE_IN_DIR:
	case OP_RENAME_INTO_DIR:
	case OP_UNLINK_IN_DIR:
		return "/d";
	default:
		return "/f";
	}
}

static long do_op(enum op op)
{
	struct timespec ts[2] = { { 1, 0 }, { 2, 0 } };
	struct stat st;
	long fd, r;

	switch (op) {
	case OP_WRITE:
	case OP_PWRITE:
		fd = uk_syscall(SYS_openat, AT_FDCWD, "/f", O_WRONLY);
		if (fd < 0)
			return fd;
		r = op == OP_WRITE ? uk_syscall(SYS_write, fd, "abc", 3)
				   : uk_syscall(SYS_pwrite64, fd, "z", 1, 100);
		uk_syscall(SYS_close, fd);
		return r < 0 ? r : 0;
	case OP_TRUNCATE:
		return uk_syscall(SYS_truncate, "/f", 7);
	case OP_CHMOD:
		return uk_syscall(SYS_chmod, "/f", 0600);
	case OP_UTIMENS:
		return uk_syscall(SYS_utimensat, AT_FDCWD, "/f", ts, 0);
	case OP_SETXATTR:
		return uk_syscall(SYS_setxattr, "/f", "user.t", "1", 1, 0);
	case OP_LINK:
		return uk_syscall(SYS_link, "/f", "/f2");
	case OP_UNLINK_LINK:
		return uk_syscall(SYS_unlink, "/f2");
	case OP_CREATE_IN_DIR:
		fd = uk_syscall(SYS_openat, AT_FDCWD, "/d/n", O_CREAT | O_WRONLY,
				0644);
		return fd < 0 ? fd : uk_syscall(SYS_close, fd);
	case OP_RENAME_INTO_DIR:
		fd = uk_syscall(SYS_openat, AT_FDCWD, "/m", O_CREAT | O_WRONLY,
				0644);
		if (fd < 0)
			return fd;
		uk_syscall(SYS_close, fd);
		return uk_syscall(SYS_rename, "/m", "/d/m");
	case OP_UNLINK_IN_DIR:
		return uk_syscall(SYS_unlink, "/d/n");
	case OP_STAT_ONLY:
		return uk_syscall(SYS_newfstatat, AT_FDCWD, "/f", &st, 0);
	case NR_OPS:
		break;
	}
	return -EINVAL;
}

/*
 * The changer: for each command byte, make the change, then answer with
 * the counter of the key it was given as seen right after its call
 * returned.
 */
static void changer(int in, int out)
{
	struct {
		unsigned char op;
		uint64_t dev, ino;
	} cmd;
	uint64_t c;
	long r;

	CHECK(uk_connect(sock) == 0);
	while (read(in, &cmd, sizeof(cmd)) == (ssize_t)sizeof(cmd)) {
		r = do_op((enum op)cmd.op);
		if (r < 0)
			fprintf(stderr, "%s: %s\n", op_names[cmd.op],
				strerror((int)-r));
		CHECK(r >= 0);
		c = uk_change_counter(cmd.dev, cmd.ino);
		CHECK(write(out, &c, sizeof(c)) == (ssize_t)sizeof(c));
	}
	_exit(0);
}

static pid_t start_daemon(const char *ukerneld)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		execl(ukerneld, ukerneld, "--tmpfs", "--foreground",
		      "--socket", sock, (char *)NULL);
		perror(ukerneld);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/ukcnt-XXXXXX";
	int to_child[2], from_child[2], status, tries;
	pid_t daemon, child;
	struct stat st;
	long fd;

	if (argc != 2) {
		fprintf(stderr, "usage: test_ring_counters UKERNELD\n");
		return 2;
	}
	CHECK(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	daemon = start_daemon(argv[1]);
	for (tries = 0; uk_connect(sock) < 0; tries++) {
		CHECK(tries < 500);
		usleep(10000);
	}
	/* The objects, made by us; the changer connects on its own. */
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/f", O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	CHECK(uk_syscall(SYS_write, fd, "hello", 5) == 5);
	CHECK(uk_syscall(SYS_close, fd) == 0);
	CHECK(uk_syscall(SYS_mkdir, "/d", 0755) == 0);
	uk_disconnect();

	CHECK(pipe(to_child) == 0 && pipe(from_child) == 0);
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		close(to_child[1]);
		close(from_child[0]);
		changer(to_child[0], from_child[1]);
	}
	close(to_child[0]);
	close(from_child[1]);
	CHECK(uk_connect(sock) == 0);

	for (int op = 0; op < NR_OPS; op++) {
		struct {
			unsigned char op;
			uint64_t dev, ino;
		} cmd = { .op = (unsigned char)op };
		uint64_t before, theirs, ours;

		CHECK(uk_syscall(SYS_newfstatat, AT_FDCWD, op_target(op), &st,
				 0) == 0);
		cmd.dev = st.st_dev;
		cmd.ino = st.st_ino;
		before = uk_change_counter(st.st_dev, st.st_ino);
		CHECK(write(to_child[1], &cmd, sizeof(cmd)) ==
		      (ssize_t)sizeof(cmd));
		CHECK(read(from_child[0], &theirs, sizeof(theirs)) ==
		      (ssize_t)sizeof(theirs));
		ours = uk_change_counter(st.st_dev, st.st_ino);
		printf("%-16s %s: counter %llu -> %llu (seen by the changer: "
		       "%llu)\n",
		       op_names[op], op_target(op),
		       (unsigned long long)before, (unsigned long long)ours,
		       (unsigned long long)theirs);
		if (op == OP_STAT_ONLY) {
			CHECK(theirs == before && ours == before);
		} else {
			CHECK(theirs != before);
			CHECK(ours != before);
		}
	}
	close(to_child[1]);
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	uk_disconnect();
	kill(daemon, SIGTERM);
	CHECK(waitpid(daemon, &status, 0) == daemon);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	rmdir(dir);
	printf("ok\n");
	return 0;
}
