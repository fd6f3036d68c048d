/*
 * standalone_main: replay saved fuzz inputs through a libFuzzer entry
 * point without libFuzzer (gcc builds, CI replays of the seed corpus).
 * Arguments are files or directories of files. Exit 0 when every input
 * ran (a failing input aborts).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	struct stat sb;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "cannot read '%s'\n", name);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf = malloc((size_t)sb.st_size + 1);
	while (buf && got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf || got != (size_t)sb.st_size) {
		free(buf);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	return 0;
}

static int replay_dir(const char *path, int *count)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (replay_file(dirfd(d), e->d_name) < 0)
			rc = -1;
		else
			(*count)++;
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	int count = 0, rc = 0;

	for (int i = 1; i < argc; i++) {
		struct stat sb;

		if (stat(argv[i], &sb) < 0) {
			fprintf(stderr, "cannot stat '%s'\n", argv[i]);
			rc = 1;
		} else if (S_ISDIR(sb.st_mode)) {
			rc |= replay_dir(argv[i], &count) < 0;
		} else {
			rc |= replay_file(AT_FDCWD, argv[i]) < 0;
			count += rc == 0;
		}
	}
	printf("replayed %d inputs\n", count);
	return rc;
}
