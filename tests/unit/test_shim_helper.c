// SPDX-License-Identifier: MIT
/*
 * test_shim_helper - a small program the shim's tests exec under the shim
 * to look at what crossed the exec: inherited vfds, stdout, the cwd.
 *
 *   test_shim_helper read FD      copy FD to stdout (read/write); 3 on error
 *   test_shim_helper badf FD      exit 0 if FD is closed (EBADF), else 1
 *   test_shim_helper write TEXT   write TEXT to stdout with write(2)
 *   test_shim_helper cwd          write getcwd() to stdout
 *   test_shim_helper cat PATH     copy PATH to stdout; 3 on error
 *
 * Exit 2: bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int copy(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(1, buf, (size_t)n) != n)
			return 3;
	return n < 0 ? 3 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "read") && argc == 3)
		return copy(atoi(argv[2]));
	if (!strcmp(argv[1], "badf") && argc == 3)
		return fcntl(atoi(argv[2]), F_GETFD) < 0 && errno == EBADF ? 0
									  : 1;
	if (!strcmp(argv[1], "write") && argc == 3)
		return write(1, argv[2], strlen(argv[2])) ==
				       (ssize_t)strlen(argv[2])
			       ? 0
			       : 3;
	if (!strcmp(argv[1], "cwd")) {
		char buf[4096];

		if (!getcwd(buf, sizeof(buf)))
			return 3;
		return write(1, buf, strlen(buf)) > 0 ? 0 : 3;
	}
	if (!strcmp(argv[1], "cat") && argc == 3) {
		int fd = open(argv[2], O_RDONLY);

		if (fd < 0)
			return 3;
		return copy(fd);
	}
	return 2;
}
