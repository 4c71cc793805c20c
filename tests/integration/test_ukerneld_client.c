// SPDX-License-Identifier: MIT
/*
 * test_ukerneld_client - a small client of a running ukerneld for
 * test_ukerneld.sh, linked with the client library only (shim/ukernel.h):
 * connects, does one thing through uk_syscall(), disconnects.
 *
 *   test_ukerneld_client [--socket PATH] [--as-uid UID] write FILE TEXT
 *   test_ukerneld_client [--socket PATH] [--as-uid UID] fill FILE BYTES
 *   test_ukerneld_client [--socket PATH] [--as-uid UID] read FILE
 *   test_ukerneld_client [--socket PATH] [--as-uid UID] hold SECONDS
 *
 * write creates or truncates FILE (0644) and writes TEXT; fill writes BYTES
 * bytes of the pattern "0123456789abcdef..." in one write; read prints
 * FILE's contents; hold stays connected for SECONDS. Without --socket it
 * uses uk_connect(NULL), the default path rule. --as-uid drops to UID (and
 * gid UID) before connecting (root only), to test who the daemon accepts.
 * Exit status: 0 done, 1 a call failed, 2 bad usage, 3 could not connect.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ukernel.h"

static int usage(void)
{
	fprintf(stderr, "usage: test_ukerneld_client [--socket PATH] "
			"[--as-uid UID] write FILE TEXT | fill FILE BYTES | "
			"read FILE | "
			"hold SECONDS\n");
	return 2;
}

static int do_write(const char *file, const char *text, size_t len)
{
	long fd, n, ret;

	fd = uk_syscall(SYS_openat, AT_FDCWD, file,
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", file, strerror((int)-fd));
		return 1;
	}
	n = uk_syscall(SYS_write, fd, text, len);
	ret = uk_syscall(SYS_close, fd);
	if (n != (long)len || ret < 0) {
		fprintf(stderr, "write %s: %s\n", file,
			n < 0 ? strerror((int)-n) : "short write or close");
		return 1;
	}
	return 0;
}

static int do_read(const char *file)
{
	char buf[4096];
	long fd, n;

	fd = uk_syscall(SYS_openat, AT_FDCWD, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", file, strerror((int)-fd));
		return 1;
	}
	while ((n = uk_syscall(SYS_read, fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	uk_syscall(SYS_close, fd);
	if (n < 0) {
		fprintf(stderr, "read %s: %s\n", file, strerror((int)-n));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int i = 1, ret;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock = argv[i + 1];
		} else if (!strcmp(argv[i], "--as-uid") && i + 1 < argc) {
			uid_t uid = (uid_t)atoi(argv[i + 1]);

			if (setgroups(0, NULL) < 0 || setgid(uid) < 0 ||
			    setuid(uid) < 0) {
				perror("setuid");
				return 1;
			}
		} else {
			return usage();
		}
		i += 2;
	}
	if (i >= argc)
		return usage();
	if (uk_connect(sock) < 0) {
		fprintf(stderr, "connect: %s (%s)\n", uk_connect_error(),
			strerror(errno));
		return 3;
	}
	if (!strcmp(argv[i], "write") && i + 2 < argc) {
		ret = do_write(argv[i + 1], argv[i + 2], strlen(argv[i + 2]));
	} else if (!strcmp(argv[i], "fill") && i + 2 < argc) {
		size_t len = strtoul(argv[i + 2], NULL, 0);
		char *buf = malloc(len + 1);

		if (!buf)
			return 1;
		for (size_t j = 0; j < len; j++)
			buf[j] = "0123456789abcdef"[j % 16];
		ret = do_write(argv[i + 1], buf, len);
		free(buf);
	} else if (!strcmp(argv[i], "read") && i + 1 < argc) {
		ret = do_read(argv[i + 1]);
	} else if (!strcmp(argv[i], "hold") && i + 1 < argc) {
		ret = sleep((unsigned int)atoi(argv[i + 1])) ? 1 : 0;
	} else {
		ret = usage();
	}
	uk_disconnect();
	return ret;
}
