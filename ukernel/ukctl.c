// SPDX-License-Identifier: MIT
/*
 * ukctl - the administrator's tool: makes and checks ukfs images today, and
 * talks to a running ukerneld as its subcommands grow (trace, stats, policy,
 * umount). A thin main over the libraries; every subcommand prints --help.
 *
 * Exit codes follow fsck(8) where it applies: 0 success or clean, 1 problems
 * found (and fixed with --repair), 2 an error (bad usage, cannot open).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#include "config.h"
#include "fusefs.h"
#include "ukfs_meta.h"

#define EXIT_USAGE 2

static const char *prog = "ukctl";

static void usage_main(FILE *out)
{
	fprintf(out,
		"usage: %s COMMAND [ARGS...]\n"
		"\n"
		"commands:\n"
		"  mkfs IMAGE --size SIZE [--inodes N]   create a ukfs image\n"
		"  fsck IMAGE [--repair]                 check (and repair) an image\n"
		"  umount DIR                            unmount a ukerneld FUSE mount\n"
		"  help [COMMAND]                        this text, or a command's\n"
		"\n"
		"SIZE takes a K, M, G or T suffix (powers of 1024). An IMAGE is a\n"
		"directory holding meta.db (SQLite) and blocks (the block file).\n"
		"`%s COMMAND --help` describes one command.\n",
		prog, prog);
}

static void usage_mkfs(FILE *out)
{
	fprintf(out,
		"usage: %s mkfs IMAGE --size SIZE [--inodes N]\n"
		"\n"
		"Creates the image directory IMAGE (it must not hold an image yet)\n"
		"with a sparse block file of SIZE bytes (at least 64K; rounded down\n"
		"to 4 KiB blocks) and room for N inodes (default: one per 16 KiB).\n"
		"Exit status: 0 created, 2 error.\n",
		prog);
}

static void usage_fsck(FILE *out)
{
	fprintf(out,
		"usage: %s fsck IMAGE [--repair]\n"
		"\n"
		"Checks the image nobody has open: every extent inside the device,\n"
		"no block owned twice, free space matching, nlink matching directory\n"
		"entries, sizes matching extents, orphans, superblock counters.\n"
		"With --repair, fixes what it finds.\n"
		"Exit status: 0 clean, 1 problems found (fixed with --repair),\n"
		"2 cannot check, or problems left after repair.\n",
		prog);
}

/*
 * Parses a size such as 4096, 64K, 1G or 1.5G into *out bytes. Returns 0, or
 * -EINVAL for anything else (negative, empty, unknown suffix, overflow).
 */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	double mult = 1;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	if (*end) {
		const char *units = "KMGT";
		const char *u = strchr(units, *end & ~0x20);

		if (!u || !*u)
			return -EINVAL;
		for (long i = 0; i <= u - units; i++)
			mult *= 1024.0;
		end++;
		if (end[0] == 'i' && end[1] == 'B') /* 64KiB */
			end += 2;
		else if (end[0] == 'B') /* 64KB */
			end++;
	}
	if (*end)
		return -EINVAL;
	v *= mult;
	if (v >= 18446744073709551616.0)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

static int cmd_mkfs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "inodes", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t size = 0, inodes = 0;
	bool have_size = false;
	char err[512] = "";
	char *end;
	int c, ret;

	while ((c = getopt_long(argc, argv, "s:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &size)) {
				fprintf(stderr, "%s mkfs: bad size '%s'\n",
					prog, optarg);
				return EXIT_USAGE;
			}
			have_size = true;
			break;
		case 'i':
			errno = 0;
			inodes = strtoull(optarg, &end, 0);
			if (errno || *end || !*optarg || *optarg == '-') {
				fprintf(stderr,
					"%s mkfs: bad inode count '%s'\n",
					prog, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage_mkfs(stdout);
			return 0;
		default:
			usage_mkfs(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !have_size) {
		usage_mkfs(stderr);
		return EXIT_USAGE;
	}
	ret = ukfs_mkfs(argv[optind], size, inodes, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s mkfs: %s: %s\n", prog, argv[optind],
			*err ? err : strerror(-ret));
		return EXIT_USAGE;
	}
	printf("%s: ukfs image of %" PRIu64 " bytes (%" PRIu64
	       " blocks of 4096)\n",
	       argv[optind], size & ~(uint64_t)4095, size / 4096);
	return 0;
}

static void print_line(void *arg, const char *msg)
{
	(void)arg;
	printf("%s\n", msg);
}

static int cmd_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repair", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool repair = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "rh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			repair = true;
			break;
		case 'h':
			usage_fsck(stdout);
			return 0;
		default:
			usage_fsck(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage_fsck(stderr);
		return EXIT_USAGE;
	}
	ret = ukfs_fsck(argv[optind], repair, print_line, NULL);
	switch (ret) {
	case UKFS_FSCK_CLEAN:
		printf("%s: clean\n", argv[optind]);
		break;
	case UKFS_FSCK_FIXED:
		printf("%s: problems found%s\n", argv[optind],
		       repair ? " and repaired" : "");
		break;
	default:
		fprintf(stderr, "%s fsck: %s: cannot check%s\n", prog,
			argv[optind],
			repair ? ", or problems left after repair" : "");
		ret = UKFS_FSCK_CANNOT;
		break;
	}
	return ret;
}

/*
 * umount DIR: unmounts the FUSE mount of a ukerneld at DIR (as root with
 * umount2, detaching it when busy; otherwise with fusermount3 -u). The
 * daemon sees its session end and goes on serving the ring.
 */
static int cmd_umount(int argc, char **argv)
{
	char path[PATH_MAX];
	int ret;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: %s umount DIR\n\nUnmounts the ukerneld FUSE "
		       "mount at DIR.\n", prog);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s umount DIR\n", prog);
		return EXIT_USAGE;
	}
	/* A dead mount cannot be resolved: use the path as given. */
	if (!realpath(argv[1], path))
		snprintf(path, sizeof(path), "%s", argv[1]);
	ret = ffs_umount(path);
	if (ret == -EINVAL && ffs_cleanup_stale(path) == 1)
		return 0;
	if (ret) {
		fprintf(stderr, "%s: umount %s: %s\n", prog, argv[1],
			ret == -EINVAL ? "not a ukerneld mount" :
					 strerror(-ret));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		if (argc > 2 && !strcmp(argv[2], "mkfs"))
			usage_mkfs(stdout);
		else if (argc > 2 && !strcmp(argv[2], "fsck"))
			usage_fsck(stdout);
		else
			usage_main(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("ukctl %s\n", UK_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "mkfs"))
		return cmd_mkfs(argc - 1, argv + 1);
	if (!strcmp(cmd, "fsck"))
		return cmd_fsck(argc - 1, argv + 1);
	if (!strcmp(cmd, "umount"))
		return cmd_umount(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
	usage_main(stderr);
	return EXIT_USAGE;
}
