/*
 * fc_fileio: atomic state-file writes and symlink-proof, dirfd-relative opens
 * (see fc_fileio.h).
 */
#include "fc_fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int fc_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fc_fsync_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = -errno;
	close(fd);
	return rc;
}

int fc_write_atomic(int dirfd, const char *name, const void *buf, size_t len, mode_t mode)
{
	char tmp[300];
	uint32_t rnd = 0;
	int fd = -1;
	int rc;

	if (!name[0] || strchr(name, '/') || strlen(name) > 200)
		return -EINVAL;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)getpid();
	snprintf(tmp, sizeof(tmp), ".%s.tmp.%d.%08x", name, (int)getpid(), rnd);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	rc = fc_write_all(fd, buf, len);
	if (rc == 0 && fchmod(fd, mode) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	return fc_fsync_dir(dirfd);
}

/* Reject absolute paths, "..", empty components that would escape. */
static int fc_relpath_ok(const char *relpath)
{
	const char *p = relpath;

	if (!relpath[0] || relpath[0] == '/')
		return -EINVAL;
	while (*p) {
		const char *e = strchrnul(p, '/');

		if (e - p == 2 && p[0] == '.' && p[1] == '.')
			return -EXDEV;
		p = *e ? e + 1 : e;
	}
	return 0;
}

/* Fallback for kernels without openat2: walk with O_NOFOLLOW per component. */
int fc_open_beneath_walk(int dirfd, const char *relpath, int flags, mode_t mode)
{
	char comp[256];
	const char *p = relpath;
	int cur = dirfd;
	int fd = fc_relpath_ok(relpath);

	if (fd < 0)
		return fd;
	for (;;) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		int last = (*e == '\0' || e[1] == '\0');

		if (n >= sizeof(comp)) {
			fd = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (n == 0)
			strcpy(comp, ".");
		if (last) {
			fd = openat(cur, comp, flags | O_CLOEXEC | O_NOFOLLOW, mode);
			fd = fd < 0 ? -errno : fd;
			break;
		}
		fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			struct stat sb;

			/* As openat2 would say: a symlink is ELOOP, a file ENOTDIR. */
			fd = -errno;
			if (fd == -ENOTDIR && fstatat(cur, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(sb.st_mode))
				fd = -ELOOP;
			break;
		}
		if (cur != dirfd)
			close(cur);
		cur = fd;
		fd = -1;
		p = e + 1;
	}
	if (cur != dirfd)
		close(cur);
	return fd;
}

int fc_open_beneath(int dirfd, const char *relpath, int flags, mode_t mode)
{
	struct open_how how;
	static int no_openat2;
	long fd;
	int rc = fc_relpath_ok(relpath);

	if (rc < 0)
		return rc;
	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW);
		how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		fd = syscall(SYS_openat2, dirfd, relpath, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != ENOSYS)
			return -errno;
		__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
	}
	return fc_open_beneath_walk(dirfd, relpath, flags, mode);
}

int fc_mkdir_p(int dirfd, const char *relpath, mode_t mode)
{
	char comp[256];
	const char *p = relpath;
	int cur = dirfd;
	int rc = fc_relpath_ok(relpath);

	while (rc == 0 && *p) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		int fd;

		p = *e ? e + 1 : e;
		if (n == 0)
			continue;
		if (n >= sizeof(comp)) {
			rc = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, e - n, n);
		comp[n] = '\0';
		if (strcmp(comp, ".") == 0)
			continue;
		if (mkdirat(cur, comp, mode) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = errno == ENOTDIR ? -ENOTDIR : -errno;
			break;
		}
		if (cur != dirfd)
			close(cur);
		cur = fd;
	}
	if (cur != dirfd)
		close(cur);
	return rc;
}

int fc_mkdir_open(int dirfd, const char *relpath, mode_t mode, int *out)
{
	int rc = fc_mkdir_p(dirfd, relpath, mode);
	int fd;

	if (rc < 0)
		return rc;
	fd = openat(dirfd, relpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*out = fd;
	return 0;
}

int fc_read_file(int dirfd, const char *name, size_t max, char **buf, size_t *len)
{
	struct stat sb;
	char *b = NULL;
	size_t got = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if ((uint64_t)sb.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	b = malloc((size_t)sb.st_size + 1);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, b + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}
