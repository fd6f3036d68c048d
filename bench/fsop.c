/*
 * fsop: small file-system workloads for bench/run.sh that have no good
 * one-command equivalent in coreutils.
 *
 *   fsop append DIR    append one line (O_APPEND) to every regular file
 *                      under DIR; on overlays this forces a copy-up of each
 *                      file, on forkcellfs a copy-up of each base blob;
 *                      prints the number of files touched
 *   fsop rtt FILE N    N getxattr(FILE, "user.forkcell-bench-rtt") calls,
 *                      each a full round trip to a FUSE daemon (the kernel
 *                      caches no xattr); prints the median in microseconds
 *
 * Exit 0 on success, 1 on error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int rtt(const char *path, long n)
{
	double *us = calloc((size_t)n, sizeof(*us));
	struct timespec a, b;
	char v[16];
	long i;

	if (!us)
		return 1;
	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (getxattr(path, "user.forkcell-bench-rtt", v, sizeof(v)) >= 0 || errno != ENODATA) {
			fprintf(stderr, "fsop: getxattr '%s': %s\n", path, strerror(errno));
			free(us);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		us[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
	}
	qsort(us, (size_t)n, sizeof(*us), cmp_double);
	printf("%.1f\n", us[n / 2]);
	free(us);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "rtt") == 0 && atol(argv[3]) > 0)
		return rtt(argv[2], atol(argv[3]));
	if (argc != 3 || strcmp(argv[1], "append") != 0) {
		fprintf(stderr, "usage: fsop append DIR | fsop rtt FILE N\n");
		return 2;
	}
	if (nftw(argv[2], append_one, 64, FTW_PHYS) != 0)
		return 1;
	printf("%llu\n", touched);
	return 0;
}
