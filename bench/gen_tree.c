/*
 * gen_tree: fast generator of benchmark trees.
 *
 *   gen_tree DIR NFILES [PERDIR [SIZE]]
 *
 * Creates DIR (if missing) and NFILES regular files of SIZE bytes (default 8)
 * spread over sub-directories of PERDIR files each (default 1000):
 * DIR/d000000/f000000000 ... Names are relative to directory fds (openat), no
 * path strings are built. Used by bench/run.sh ("create 10k small files") and
 * bench/ckpt.sh (1k .. 1M file workspaces). Exit 0 on success, 1 on error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_u64(const char *s, unsigned long long *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int write_file(int dfd, const char *name, const char *buf, size_t size)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < size) {
		ssize_t n = write(fd, buf + done, size - done);

		if (n < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		done += (size_t)n;
	}
	return close(fd);
}

int main(int argc, char **argv)
{
	unsigned long long nfiles, perdir = 1000, size = 8, i;
	char name[64], *buf;
	int top, sub = -1;

	if (argc < 3 || argc > 5 || parse_u64(argv[2], &nfiles) < 0 ||
	    (argc > 3 && (parse_u64(argv[3], &perdir) < 0 || perdir == 0)) ||
	    (argc > 4 && parse_u64(argv[4], &size) < 0) || size > (1u << 20)) {
		fprintf(stderr, "usage: gen_tree DIR NFILES [PERDIR [SIZE<=1MiB]]\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) < 0 && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	top = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	buf = malloc(size + 1);
	if (top < 0 || !buf) {
		perror(argv[1]);
		return 1;
	}
	memset(buf, 'x', size);
	if (size > 0)
		buf[size - 1] = '\n';
	for (i = 0; i < nfiles; i++) {
		if (i % perdir == 0) {
			if (sub >= 0)
				close(sub);
			snprintf(name, sizeof(name), "d%06llu", i / perdir);
			if (mkdirat(top, name, 0755) < 0 && errno != EEXIST)
				goto fail;
			sub = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (sub < 0)
				goto fail;
		}
		snprintf(name, sizeof(name), "f%09llu", i);
		if (write_file(sub, name, buf, size) < 0)
			goto fail;
	}
	if (sub >= 0)
		close(sub);
	close(top);
	free(buf);
	return 0;
fail:
	fprintf(stderr, "gen_tree: %s/%s: %s\n", argv[1], name, strerror(errno));
	return 1;
}
