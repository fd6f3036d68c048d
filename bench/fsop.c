/*
 * fsop: small file-system workloads for bench/run.sh that have no good
 * one-command equivalent in coreutils.
 *
 *   fsop append DIR    append one line (O_APPEND) to every regular file
 *                      under DIR; on overlays this forces a copy-up of each
 *                      file, on forkcellfs a copy-up of each base blob
 *
 * Prints the number of files touched. Exit 0 on success, 1 on error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned long long touched;

static int append_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	static const char line[] = "/* appended by forkcell bench */\n";
	int fd;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(sb->st_mode))
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || write(fd, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1)) {
		fprintf(stderr, "fsop: append '%s': %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "fsop: close '%s': %s\n", path, strerror(errno));
		return 1;
	}
	touched++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "append") != 0) {
		fprintf(stderr, "usage: fsop append DIR\n");
		return 2;
	}
	if (nftw(argv[2], append_one, 64, FTW_PHYS) != 0)
		return 1;
	printf("%llu\n", touched);
	return 0;
}
