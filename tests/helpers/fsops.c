/*
 * fsops: a POSIX syscall battery run against a directory, printing TAP.
 *
 *   fsops DIR [GROUP...]     run all groups (or the named ones) in DIR
 *   fsops -l                 list the groups
 *
 * Each group works in a fresh subdirectory DIR/<group>. Every expectation is
 * what Linux on ext4 does, so the same battery passes on an ext4 directory
 * (the oracle) and must pass on a forkcellfs mount. Checks that need another
 * identity fork a child that drops to an unprivileged uid with setresuid and
 * reports the errno of the one operation it performs through its exit code.
 * Must run as root (mknod, chown, trusted.* xattrs, setresuid).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>

#define NOBODY 65534
#define USER_A 1000
#define USER_B 1001
#define MIB (1024L * 1024L)
#define GIB (1024L * MIB)

static int n_tests;
static int n_failed;
static const char *cur_group = "";
static char gdir[4096];

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "E?";
}

__attribute__((format(printf, 5, 6)))
static int check_at(int cond, int saved_errno, const char *file, int line, const char *fmt, ...)
{
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	n_tests++;
	printf("%s %d - %s: %s\n", cond ? "ok" : "not ok", n_tests, cur_group, desc);
	if (!cond) {
		n_failed++;
		printf("#   failed at %s:%d (errno %s)\n", file, line, errname(saved_errno));
	}
	fflush(stdout);
	return cond;
}

#define CHECK(cond, ...) check_at(!!(cond), errno, __FILE__, __LINE__, __VA_ARGS__)

/* expr must not return -1 (or MAP_FAILED-like negative values). */
#define CHECK_OK(expr, ...)                                                          \
	({                                                                           \
		errno = 0;                                                           \
		long r_ = (long)(expr);                                              \
		check_at(r_ >= 0, errno, __FILE__, __LINE__, __VA_ARGS__);           \
	})

/* expr must fail with errno want. */
#define CHECK_ERR(expr, want, ...)                                                   \
	do {                                                                         \
		errno = 0;                                                           \
		long r_ = (long)(expr);                                              \
		int e_ = errno;                                                      \
		if (!check_at(r_ == -1 && e_ == (want), e_, __FILE__, __LINE__,      \
			      __VA_ARGS__))                                          \
			printf("#   expected %s, got return %ld errno %s\n",            \
			       errname(want), r_, errname(e_));                      \
	} while (0)

/* An integer result must equal the expected value. */
#define CHECK_EQ(got, want, ...)                                                     \
	do {                                                                         \
		long long g_ = (long long)(got), w_ = (long long)(want);             \
		if (!check_at(g_ == w_, errno, __FILE__, __LINE__, __VA_ARGS__))     \
			printf("#   expected %lld (%#llo), got %lld (%#llo)\n", w_,      \
			       (unsigned long long)w_, g_, (unsigned long long)g_);  \
	} while (0)

/* A child's errno result must equal want (0: success). */
#define CHECK_CHILD(got, want, ...)                                                  \
	do {                                                                         \
		int g_ = (got);                                                      \
		if (!check_at(g_ == (want), 0, __FILE__, __LINE__, __VA_ARGS__))     \
			printf("#   expected %s, child got %s (%d)\n", errname(want),   \
			       g_ >= 0 ? errname(g_) : "crash", g_);                 \
	} while (0)

/* Path of name in the current group's directory (rotating static buffers). */
static const char *P(const char *name)
{
	static char bufs[8][4200];
	static int next;
	char *b = bufs[next++ % 8];
	int n = snprintf(b, sizeof(bufs[0]), "%s/%s", gdir, name);

	if (n < 0 || (size_t)n >= sizeof(bufs[0])) {
		fprintf(stderr, "fsops: path too long\n");
		abort();
	}
	return b;
}

static int write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, buf, len);
	if (close(fd) < 0 || w != (ssize_t)len)
		return -1;
	return 0;
}

static int write_str(const char *path, const char *s)
{
	return write_file(path, s, strlen(s), 0644);
}

/* Read up to cap-1 bytes of path into buf, NUL-terminated; returns length or -1. */
static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

static int file_is(const char *path, const char *want)
{
	char buf[8192];
	ssize_t n = read_file(path, buf, sizeof(buf));

	return n >= 0 && strcmp(buf, want) == 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

/* ---- child operations as another user ---------------------------------- */

enum child_op {
	OP_OPEN_R, OP_OPEN_W, OP_CREATE, OP_WRITE, OP_UNLINK, OP_RENAME, OP_MKDIR, OP_RMDIR,
	OP_CHMOD, OP_CHOWN, OP_UTIMES_NOW, OP_UTIMES_SET, OP_SETXATTR, OP_GETXATTR, OP_STAT,
	OP_OPENDIR, OP_TRUNCATE, OP_ACCESS_W, OP_NOATIME, OP_EXEC, OP_FTRUNCATE,
};

struct child_req {
	enum child_op op;
	const char *path;
	const char *path2;
	uid_t uid;
	gid_t gid;
};

static int child_do(const struct child_req *r)
{
	struct timespec ts[2] = { { 1000, 0 }, { 2000, 0 } };
	char buf[16];
	int fd;

	switch (r->op) {
	case OP_OPEN_R:
		return open(r->path, O_RDONLY) < 0 ? errno : 0;
	case OP_OPEN_W:
		return open(r->path, O_WRONLY) < 0 ? errno : 0;
	case OP_CREATE:
		return open(r->path, O_WRONLY | O_CREAT | O_EXCL, 0644) < 0 ? errno : 0;
	case OP_WRITE:
		fd = open(r->path, O_WRONLY | O_APPEND);
		if (fd < 0 || write(fd, "x", 1) != 1)
			return errno;
		return close(fd) < 0 ? errno : 0;
	case OP_FTRUNCATE:
		fd = open(r->path, O_WRONLY);
		if (fd < 0 || ftruncate(fd, 1) < 0)
			return errno;
		return close(fd) < 0 ? errno : 0;
	case OP_UNLINK:
		return unlink(r->path) < 0 ? errno : 0;
	case OP_RENAME:
		return rename(r->path, r->path2) < 0 ? errno : 0;
	case OP_MKDIR:
		return mkdir(r->path, 0755) < 0 ? errno : 0;
	case OP_RMDIR:
		return rmdir(r->path) < 0 ? errno : 0;
	case OP_CHMOD:
		return chmod(r->path, 0777) < 0 ? errno : 0;
	case OP_CHOWN:
		return chown(r->path, r->uid, (gid_t)-1) < 0 ? errno : 0;
	case OP_UTIMES_NOW:
		return utimensat(AT_FDCWD, r->path, NULL, 0) < 0 ? errno : 0;
	case OP_UTIMES_SET:
		return utimensat(AT_FDCWD, r->path, ts, 0) < 0 ? errno : 0;
	case OP_SETXATTR:
		return setxattr(r->path, r->path2, "v", 1, 0) < 0 ? errno : 0;
	case OP_GETXATTR:
		return getxattr(r->path, r->path2, buf, sizeof(buf)) < 0 ? errno : 0;
	case OP_STAT: {
		struct stat st;

		return stat(r->path, &st) < 0 ? errno : 0;
	}
	case OP_OPENDIR:
		return open(r->path, O_RDONLY | O_DIRECTORY) < 0 ? errno : 0;
	case OP_TRUNCATE:
		return truncate(r->path, 0) < 0 ? errno : 0;
	case OP_ACCESS_W:
		return access(r->path, W_OK) < 0 ? errno : 0;
	case OP_NOATIME:
		return open(r->path, O_RDONLY | O_NOATIME) < 0 ? errno : 0;
	case OP_EXEC: {
		char *const argv[] = { (char *)r->path, NULL };
		char *const envp[] = { NULL };

		execve(r->path, argv, envp);
		return errno;
	}
	}
	return 255;
}

/*
 * Run one operation as uid:gid (no supplementary groups) in a child.
 * Returns its errno (0 on success), -1 if the child died or could not drop.
 * OP_EXEC returns the exit status of the executed program on success.
 */
static int as_user(uid_t uid, gid_t gid, enum child_op op, const char *path, const char *path2)
{
	struct child_req r = { op, path, path2, uid, gid };
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(254);
		_exit(child_do(&r) & 0xff);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) == 254)
		return -1;
	return WEXITSTATUS(status);
}

#define AS_NOBODY(op, path, path2) as_user(NOBODY, NOBODY, op, path, path2)

/* ---- groups -------------------------------------------------------------- */

static void g_files(void)
{
	char name[300], buf[64];
	struct stat st, st2;
	int fd;

	CHECK_OK(fd = open(P("f"), O_WRONLY | O_CREAT | O_EXCL, 0666), "create with O_EXCL");
	CHECK_EQ(write(fd, "hello", 5), 5, "write 5 bytes");
	CHECK_OK(close(fd), "close");
	CHECK_OK(stat(P("f"), &st), "stat");
	CHECK(S_ISREG(st.st_mode), "is a regular file");
	CHECK_EQ(st.st_mode & 07777, 0644, "mode 0666 & ~umask 022");
	CHECK_EQ(st.st_size, 5, "size 5");
	CHECK_EQ(st.st_nlink, 1, "nlink 1");
	CHECK_EQ(st.st_uid, 0, "owned by root");
	CHECK(file_is(P("f"), "hello"), "content reads back");
	CHECK_ERR(open(P("f"), O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST, "O_EXCL on existing");
	CHECK_ERR(open(P("missing"), O_RDONLY), ENOENT, "open missing");
	CHECK_ERR(open(P("f/x"), O_RDONLY), ENOTDIR, "file used as a directory");
	CHECK_ERR(open(P("."), O_WRONLY), EISDIR, "open a directory for writing");
	CHECK_ERR(open(P("f"), O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on a file");

	CHECK_OK(fd = open(P("f"), O_RDWR), "open O_RDWR");
	CHECK_EQ(pwrite(fd, "XY", 2, 10), 2, "pwrite past EOF");
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 12, "size grows to 12");
	memset(buf, 'q', sizeof(buf));
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 12, "pread whole file");
	CHECK(memcmp(buf, "hello\0\0\0\0\0XY", 12) == 0, "gap reads as zeros");
	CHECK_EQ(pread(fd, buf, sizeof(buf), 12), 0, "read at EOF returns 0");
	CHECK_EQ(pread(fd, buf, sizeof(buf), 1000), 0, "read past EOF returns 0");
	close(fd);

	CHECK_OK(fd = open(P("f"), O_WRONLY | O_TRUNC), "O_TRUNC");
	CHECK_OK(fstat(fd, &st), "fstat after O_TRUNC");
	CHECK_EQ(st.st_size, 0, "O_TRUNC empties the file");
	close(fd);

	/* mtime and ctime move forward on write. */
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	CHECK_OK(utimensat(AT_FDCWD, P("f"), old, 0), "set old times");
	CHECK_OK(write_str(P("f"), "new"), "rewrite");
	CHECK_OK(stat(P("f"), &st2), "stat after rewrite");
	CHECK(st2.st_mtime > 1000000000, "mtime updated by write");
	CHECK(st2.st_ctime >= st.st_ctime, "ctime not earlier");

	memset(name, 'n', 255);
	name[255] = '\0';
	CHECK_OK(fd = open(P(name), O_WRONLY | O_CREAT, 0644), "255-byte name");
	if (fd >= 0)
		close(fd);
	CHECK_OK(stat(P(name), &st), "stat 255-byte name");
	name[255] = 'n';
	name[256] = '\0';
	CHECK_ERR(open(P(name), O_WRONLY | O_CREAT, 0644), ENAMETOOLONG, "256-byte name");
	CHECK_ERR(stat(P(name), &st), ENAMETOOLONG, "stat 256-byte name");

	CHECK_OK(unlink(P("f")), "unlink");
	CHECK_ERR(unlink(P("f")), ENOENT, "unlink again");
	CHECK_ERR(stat(P("f"), &st), ENOENT, "stat after unlink");
	CHECK_ERR(unlink(P(".")), EISDIR, "unlink a directory");

	/* Distinct files have distinct inode numbers on one device. */
	CHECK_OK(write_str(P("a"), "a"), "create a");
	CHECK_OK(write_str(P("b"), "b"), "create b");
	CHECK_OK(stat(P("a"), &st), "stat a");
	CHECK_OK(stat(P("b"), &st2), "stat b");
	CHECK(st.st_ino != st2.st_ino, "distinct inode numbers");
	CHECK_EQ(st.st_dev, st2.st_dev, "same device");
	CHECK(st.st_blksize > 0, "st_blksize > 0");
}

static int count_entries(const char *path, int *dirs, int *regs, int *links, int *fifos)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	*dirs = *regs = *links = *fifos = 0;
	while ((e = readdir(d))) {
		n++;
		*dirs += e->d_type == DT_DIR;
		*regs += e->d_type == DT_REG;
		*links += e->d_type == DT_LNK;
		*fifos += e->d_type == DT_FIFO;
	}
	closedir(d);
	return n;
}

static void g_dirs(void)
{
	int dirs, regs, links, fifos, i, fd;
	char name[64];
	struct stat st;

	CHECK_OK(mkdir(P("d"), 0750), "mkdir 0750");
	CHECK_OK(stat(P("d"), &st), "stat dir");
	CHECK(S_ISDIR(st.st_mode), "is a directory");
	CHECK_EQ(st.st_mode & 07777, 0750, "mode 0750");
	CHECK_EQ(st.st_nlink, 2, "empty dir nlink 2");
	CHECK_ERR(mkdir(P("d"), 0755), EEXIST, "mkdir existing");
	CHECK_OK(mkdir(P("d/s1"), 0755), "mkdir s1");
	CHECK_OK(mkdir(P("d/s2"), 0755), "mkdir s2");
	CHECK_OK(mkdir(P("d/s3"), 0755), "mkdir s3");
	CHECK_OK(stat(P("d"), &st), "stat dir with 3 subdirs");
	CHECK_EQ(st.st_nlink, 5, "nlink 2 + subdirs");
	CHECK_OK(write_str(P("d/file"), "x"), "file in dir");
	CHECK_OK(symlink("file", P("d/link")), "symlink in dir");
	CHECK_OK(mkfifo(P("d/fifo"), 0644), "fifo in dir");
	CHECK_EQ(count_entries(P("d"), &dirs, &regs, &links, &fifos), 8, "readdir count");
	CHECK_EQ(dirs, 5, "d_type DT_DIR for . .. s1 s2 s3");
	CHECK_EQ(regs, 1, "d_type DT_REG");
	CHECK_EQ(links, 1, "d_type DT_LNK");
	CHECK_EQ(fifos, 1, "d_type DT_FIFO");
	CHECK_ERR(rmdir(P("d")), ENOTEMPTY, "rmdir non-empty");
	CHECK_ERR(rmdir(P("d/file")), ENOTDIR, "rmdir a file");
	CHECK_ERR(rmdir(P("d/s1/.")), EINVAL, "rmdir .");
	CHECK_OK(rmdir(P("d/s3")), "rmdir empty");
	CHECK_OK(stat(P("d"), &st), "stat after rmdir");
	CHECK_EQ(st.st_nlink, 4, "nlink drops on rmdir");
	CHECK_ERR(mkdir(P("missing/x"), 0755), ENOENT, "mkdir in missing parent");

	CHECK_OK(mkdir(P("big"), 0755), "mkdir big");
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "big/entry-%04d", i);
		if (write_str(P(name), "") < 0)
			break;
	}
	CHECK_EQ(i, 1000, "create 1000 files");
	CHECK_EQ(count_entries(P("big"), &dirs, &regs, &links, &fifos), 1002,
		 "readdir returns 1000 entries + . ..");
	for (i = 0; i < 1000; i += 2) {
		snprintf(name, sizeof(name), "big/entry-%04d", i);
		if (unlink(P(name)) < 0)
			break;
	}
	CHECK_EQ(count_entries(P("big"), &dirs, &regs, &links, &fifos), 502,
		 "readdir after deleting half");

	/* Creating in a removed directory fails with ENOENT. */
	CHECK_OK(mkdir(P("gone"), 0755), "mkdir gone");
	CHECK_OK(fd = open(P("gone"), O_RDONLY | O_DIRECTORY), "open gone");
	CHECK_OK(rmdir(P("gone")), "rmdir gone while open");
	CHECK_ERR(openat(fd, "x", O_WRONLY | O_CREAT, 0644), ENOENT, "create in removed dir");
	CHECK_EQ(count_entries(P("gone"), &dirs, &regs, &links, &fifos), -1,
		 "removed dir cannot be listed by path");
	close(fd);
}

static void g_symlinks(void)
{
	char buf[4200], target[4096];
	struct stat st;
	ssize_t n;

	CHECK_OK(write_str(P("t"), "target"), "target file");
	CHECK_OK(symlink("t", P("l")), "symlink");
	CHECK_OK(lstat(P("l"), &st), "lstat");
	CHECK(S_ISLNK(st.st_mode), "S_ISLNK");
	CHECK_EQ(st.st_size, 1, "symlink size = target length");
	CHECK_EQ(readlink(P("l"), buf, sizeof(buf)), 1, "readlink length");
	CHECK(memcmp(buf, "t", 1) == 0, "readlink target");
	CHECK(file_is(P("l"), "target"), "read through symlink");
	CHECK_ERR(open(P("l"), O_RDONLY | O_NOFOLLOW), ELOOP, "O_NOFOLLOW on symlink");
	CHECK_ERR(symlink("x", P("l")), EEXIST, "symlink over existing");
	CHECK_ERR(readlink(P("t"), buf, sizeof(buf)), EINVAL, "readlink on a file");
	CHECK_OK(symlink("/nonexistent/path", P("dangling")), "dangling symlink");
	CHECK_ERR(stat(P("dangling"), &st), ENOENT, "stat dangling");
	CHECK_OK(lstat(P("dangling"), &st), "lstat dangling");
	CHECK_OK(symlink("loop2", P("loop1")), "loop1");
	CHECK_OK(symlink("loop1", P("loop2")), "loop2");
	CHECK_ERR(open(P("loop1"), O_RDONLY), ELOOP, "symlink loop");
	memset(target, 'a', 4095);
	target[4095] = '\0';
	for (int i = 100; i < 4095; i += 100)
		target[i] = '/';
	CHECK_OK(symlink(target, P("long")), "4095-byte target");
	n = readlink(P("long"), buf, sizeof(buf));
	CHECK(n == 4095 && memcmp(buf, target, 4095) == 0, "long target reads back");
	CHECK_OK(mkdir(P("dir"), 0755), "mkdir");
	CHECK_OK(write_str(P("dir/in"), "inside"), "file in dir");
	CHECK_OK(symlink("dir", P("dirlink")), "symlink to dir");
	CHECK(file_is(P("dirlink/in"), "inside"), "path through dir symlink");
	CHECK_OK(lchown(P("l"), 123, 456), "lchown symlink");
	CHECK_OK(lstat(P("l"), &st), "lstat after lchown");
	CHECK(st.st_uid == 123 && st.st_gid == 456, "symlink owner changed");
	CHECK_OK(stat(P("t"), &st), "stat target");
	CHECK(st.st_uid == 0 && st.st_gid == 0, "target owner unchanged");
}

static void g_hardlinks(void)
{
	struct stat a, b;

	CHECK_OK(write_str(P("a"), "one"), "create a");
	CHECK_OK(link(P("a"), P("b")), "link a b");
	CHECK_OK(stat(P("a"), &a), "stat a");
	CHECK_OK(stat(P("b"), &b), "stat b");
	CHECK_EQ(a.st_ino, b.st_ino, "same st_ino");
	CHECK_EQ(a.st_nlink, 2, "nlink 2 on a");
	CHECK_EQ(b.st_nlink, 2, "nlink 2 on b");
	CHECK_OK(write_str(P("b"), "two"), "write through b");
	CHECK(file_is(P("a"), "two"), "a sees the write");
	CHECK_OK(chmod(P("a"), 0600), "chmod a");
	CHECK_EQ(mode_of(P("b")), 0600, "b sees the chmod");
	CHECK_OK(mkdir(P("sub"), 0755), "mkdir sub");
	CHECK_OK(link(P("a"), P("sub/c")), "link into another dir");
	CHECK_OK(stat(P("a"), &a), "stat a");
	CHECK_EQ(a.st_nlink, 3, "nlink 3");
	CHECK_ERR(link(P("a"), P("b")), EEXIST, "link onto existing");
	CHECK_ERR(link(P("sub"), P("dirlink")), EPERM, "hard link to a directory");
	CHECK_ERR(link(P("missing"), P("x")), ENOENT, "link missing source");
	CHECK_OK(unlink(P("a")), "unlink a");
	CHECK_OK(stat(P("b"), &b), "stat b");
	CHECK_EQ(b.st_nlink, 2, "nlink 2 after unlink");
	CHECK_OK(unlink(P("sub/c")), "unlink c");
	CHECK_OK(stat(P("b"), &b), "stat b");
	CHECK_EQ(b.st_nlink, 1, "nlink 1");
	CHECK(file_is(P("b"), "two"), "content survives");
	/* rename between two names of one inode is a no-op that keeps both. */
	CHECK_OK(link(P("b"), P("b2")), "link b b2");
	CHECK_OK(rename(P("b"), P("b2")), "rename onto own hard link");
	CHECK_OK(stat(P("b"), &a), "b still exists");
	CHECK_OK(stat(P("b2"), &b), "b2 still exists");
	CHECK_EQ(b.st_nlink, 2, "nlink still 2");
	/* linkat AT_SYMLINK_FOLLOW links the target, plain link the symlink. */
	CHECK_OK(symlink("b", P("sl")), "symlink sl -> b");
	CHECK_OK(linkat(AT_FDCWD, P("sl"), AT_FDCWD, P("hl_follow"), AT_SYMLINK_FOLLOW),
		 "linkat AT_SYMLINK_FOLLOW");
	CHECK_OK(lstat(P("hl_follow"), &a), "lstat hl_follow");
	CHECK(S_ISREG(a.st_mode) && a.st_ino == b.st_ino, "linked the target");
	CHECK_OK(linkat(AT_FDCWD, P("sl"), AT_FDCWD, P("hl_nofollow"), 0), "linkat no follow");
	CHECK_OK(lstat(P("hl_nofollow"), &a), "lstat hl_nofollow");
	CHECK(S_ISLNK(a.st_mode), "linked the symlink itself");
	CHECK_EQ(a.st_nlink, 2, "symlink nlink 2");
}

static void g_special(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	char buf[8];
	int fd, s;

	CHECK_OK(mkfifo(P("fifo"), 0640), "mkfifo");
	CHECK_OK(lstat(P("fifo"), &st), "lstat fifo");
	CHECK(S_ISFIFO(st.st_mode), "S_ISFIFO");
	CHECK_EQ(st.st_mode & 07777, 0640, "fifo mode");
	CHECK_OK(fd = open(P("fifo"), O_RDWR | O_NONBLOCK), "open fifo O_RDWR");
	CHECK_EQ(write(fd, "pipe", 4), 4, "write to fifo");
	CHECK_EQ(read(fd, buf, sizeof(buf)), 4, "read from fifo");
	CHECK(memcmp(buf, "pipe", 4) == 0, "fifo passes data");
	close(fd);
	CHECK_OK(mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)), "mknod char 1:3");
	CHECK_OK(lstat(P("null"), &st), "lstat char dev");
	CHECK(S_ISCHR(st.st_mode), "S_ISCHR");
	CHECK(major(st.st_rdev) == 1 && minor(st.st_rdev) == 3, "rdev 1:3");
	CHECK_OK(mknod(P("blk"), S_IFBLK | 0600, makedev(7, 200)), "mknod block 7:200");
	CHECK_OK(lstat(P("blk"), &st), "lstat block dev");
	CHECK(S_ISBLK(st.st_mode), "S_ISBLK");
	CHECK(major(st.st_rdev) == 7 && minor(st.st_rdev) == 200, "rdev 7:200");
	CHECK_OK(mknod(P("big"), S_IFCHR | 0600, makedev(300, 70000)), "mknod large dev numbers");
	CHECK_OK(lstat(P("big"), &st), "lstat large dev");
	CHECK(major(st.st_rdev) == 300 && minor(st.st_rdev) == 70000, "rdev 300:70000");
	CHECK_OK(mknod(P("reg"), S_IFREG | 0600, 0), "mknod regular");
	CHECK_OK(lstat(P("reg"), &st), "lstat mknod regular");
	CHECK(S_ISREG(st.st_mode) && st.st_size == 0, "regular empty file");
	CHECK_ERR(mknod(P("fifo"), S_IFIFO | 0600, 0), EEXIST, "mknod existing");

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", P("sock"));
	if (strlen(P("sock")) < sizeof(sa.sun_path)) {
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK_OK(bind(s, (struct sockaddr *)&sa, sizeof(sa)), "bind a unix socket");
		close(s);
		CHECK_OK(lstat(P("sock"), &st), "lstat socket");
		CHECK(S_ISSOCK(st.st_mode), "S_ISSOCK");
	}
}

static void g_attrs(void)
{
	struct stat st, st2;
	int fd;

	CHECK_OK(write_str(P("f"), "data"), "create");
	CHECK_OK(chmod(P("f"), 0), "chmod 0");
	CHECK_EQ(mode_of(P("f")), 0, "mode 0");
	CHECK_OK(chmod(P("f"), 07777), "chmod 07777 as root");
	CHECK_EQ(mode_of(P("f")), 07777, "mode 07777");
	CHECK_OK(chmod(P("f"), 0640), "chmod 0640");
	CHECK_OK(fd = open(P("f"), O_RDONLY), "open");
	CHECK_OK(fchmod(fd, 0604), "fchmod");
	CHECK_EQ(mode_of(P("f")), 0604, "mode after fchmod");
	CHECK_OK(stat(P("f"), &st), "stat");
	CHECK_OK(chown(P("f"), 1234, 5678), "chown 1234:5678");
	CHECK_OK(stat(P("f"), &st2), "stat after chown");
	CHECK(st2.st_uid == 1234 && st2.st_gid == 5678, "owner 1234:5678");
	CHECK_OK(chown(P("f"), (uid_t)-1, 42), "chown -1:42");
	CHECK_OK(stat(P("f"), &st2), "stat");
	CHECK(st2.st_uid == 1234 && st2.st_gid == 42, "only the group changed");
	CHECK_OK(fchown(fd, 4000000000u, 4000000001u), "fchown to large ids");
	CHECK_OK(fstat(fd, &st2), "fstat");
	CHECK(st2.st_uid == 4000000000u && st2.st_gid == 4000000001u, "32-bit ids kept");
	close(fd);
	CHECK_OK(mkdir(P("d"), 0700), "mkdir");
	CHECK_OK(chmod(P("d"), 01755), "chmod dir 01755");
	CHECK_EQ(mode_of(P("d")), 01755, "sticky dir mode");
	CHECK_OK(chown(P("d"), 77, 88), "chown dir");
	CHECK_OK(stat(P("d"), &st), "stat dir");
	CHECK(st.st_uid == 77 && st.st_gid == 88, "dir owner");
}

static void g_times(void)
{
	struct timespec ts[2] = { { 1000000000, 123456789 }, { 2000000000, 987654321 } };
	struct timespec big[2] = { { 4102444800LL, 1 }, { 4102444800LL, 999999999 } };
	struct stat st, st2;
	time_t now;
	int fd;

	CHECK_OK(write_str(P("f"), "x"), "create");
	CHECK_OK(utimensat(AT_FDCWD, P("f"), ts, 0), "utimensat ns times");
	CHECK_OK(stat(P("f"), &st), "stat");
	CHECK(st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789, "atime exact");
	CHECK(st.st_mtim.tv_sec == 2000000000 && st.st_mtim.tv_nsec == 987654321, "mtime exact");
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 1500000000;
	ts[1].tv_nsec = 5;
	CHECK_OK(utimensat(AT_FDCWD, P("f"), ts, 0), "UTIME_OMIT atime");
	CHECK_OK(stat(P("f"), &st), "stat");
	CHECK(st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789,
	      "atime kept by UTIME_OMIT");
	CHECK(st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 5, "mtime set");
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_nsec = UTIME_OMIT;
	now = time(NULL);
	CHECK_OK(utimensat(AT_FDCWD, P("f"), ts, 0), "UTIME_NOW atime, UTIME_OMIT mtime");
	CHECK_OK(stat(P("f"), &st), "stat");
	CHECK(st.st_atim.tv_sec >= now - 5 && st.st_atim.tv_sec <= now + 5, "atime is now");
	CHECK(st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 5, "mtime kept");
	CHECK_OK(utimensat(AT_FDCWD, P("f"), big, 0), "times in the year 2100");
	CHECK_OK(stat(P("f"), &st), "stat");
	CHECK(st.st_mtim.tv_sec == 4102444800LL && st.st_mtim.tv_nsec == 999999999,
	      "64-bit mtime kept");
	CHECK_OK(utimensat(AT_FDCWD, P("f"), NULL, 0), "utimensat NULL = now");
	CHECK_OK(stat(P("f"), &st), "stat");
	CHECK(st.st_mtime >= now - 5 && st.st_mtime <= now + 5, "mtime is now");
	CHECK_OK(fd = open(P("f"), O_RDONLY), "open");
	CHECK_OK(futimens(fd, big), "futimens");
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_atim.tv_nsec, 1, "futimens atime ns");
	close(fd);
	CHECK_OK(symlink("f", P("l")), "symlink");
	ts[0].tv_sec = 1111111111;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = 1222222222;
	ts[1].tv_nsec = 0;
	CHECK_OK(utimensat(AT_FDCWD, P("l"), ts, AT_SYMLINK_NOFOLLOW), "set symlink times");
	CHECK_OK(lstat(P("l"), &st), "lstat");
	CHECK_OK(stat(P("f"), &st2), "stat target");
	CHECK_EQ(st.st_mtime, 1222222222, "symlink mtime set");
	CHECK(st2.st_mtime != 1222222222, "target mtime untouched");
	/* ctime moves on chmod. */
	CHECK_OK(stat(P("f"), &st), "stat");
	usleep(20000);
	CHECK_OK(chmod(P("f"), 0600), "chmod");
	CHECK_OK(stat(P("f"), &st2), "stat");
	CHECK(st2.st_ctim.tv_sec > st.st_ctim.tv_sec ||
	      (st2.st_ctim.tv_sec == st.st_ctim.tv_sec && st2.st_ctim.tv_nsec > st.st_ctim.tv_nsec),
	      "ctime advances on chmod");
}

static int all_zero(const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void g_truncate(void)
{
	char buf[8192];
	struct stat st;
	int fd;

	CHECK_OK(write_str(P("f"), "0123456789"), "create");
	CHECK_OK(truncate(P("f"), 4), "truncate shrink");
	CHECK(file_is(P("f"), "0123"), "shrunk content");
	CHECK_OK(truncate(P("f"), 8000), "truncate grow");
	CHECK_OK(stat(P("f"), &st), "stat");
	CHECK_EQ(st.st_size, 8000, "size 8000");
	CHECK_EQ(read_file(P("f"), buf, sizeof(buf)), 8000, "read grown file");
	CHECK(memcmp(buf, "0123", 4) == 0 && all_zero(buf + 4, 7996), "grown part is zeros");
	CHECK_OK(fd = open(P("f"), O_RDWR), "open");
	CHECK_OK(ftruncate(fd, 2), "ftruncate");
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 2, "size 2");
	CHECK_EQ(pwrite(fd, "Z", 1, 5), 1, "write after shrink");
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 6, "read");
	CHECK(memcmp(buf, "01\0\0\0Z", 6) == 0, "no stale bytes reappear");
	CHECK_ERR(ftruncate(fd, -1), EINVAL, "negative length");
	CHECK_OK(ftruncate(fd, 0), "ftruncate 0");
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 0, "empty");
	close(fd);
	CHECK_OK(fd = open(P("f"), O_RDONLY), "open read-only");
	CHECK_ERR(ftruncate(fd, 0), EINVAL, "ftruncate on a read-only fd");
	close(fd);
	CHECK_OK(mkdir(P("d"), 0755), "mkdir");
	CHECK_ERR(truncate(P("d"), 0), EISDIR, "truncate a directory");
	CHECK_ERR(truncate(P("missing"), 0), ENOENT, "truncate missing");
}

static void g_fallocate(void)
{
	static char buf[3 * MIB];
	struct stat st, st2;
	int fd;

	CHECK_OK(fd = open(P("f"), O_RDWR | O_CREAT, 0644), "create");
	CHECK_OK(fallocate(fd, 0, 0, MIB), "fallocate 1 MiB");
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, MIB, "size 1 MiB");
	CHECK(st.st_blocks * 512 >= MIB, "blocks allocated");
	CHECK_EQ(pread(fd, buf, MIB, 0), MIB, "read allocated range");
	CHECK(all_zero(buf, MIB), "allocated range reads zeros");
	CHECK_OK(fallocate(fd, FALLOC_FL_KEEP_SIZE, MIB, MIB), "fallocate KEEP_SIZE past EOF");
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, MIB, "size kept");
	CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP,
		  "PUNCH_HOLE without KEEP_SIZE");
	close(fd);

	memset(buf, 'x', sizeof(buf));
	CHECK_OK(write_file(P("p"), buf, sizeof(buf), 0644), "write 3 MiB");
	CHECK_OK(fd = open(P("p"), O_RDWR), "open");
	CHECK_OK(fsync(fd), "fsync");
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MIB, MIB),
		 "punch a 1 MiB hole");
	CHECK_OK(fsync(fd), "fsync");
	CHECK_OK(fstat(fd, &st2), "fstat");
	CHECK_EQ(st2.st_size, 3 * MIB, "size unchanged by punch");
	CHECK(st2.st_blocks <= st.st_blocks - MIB / 512, "punch frees blocks");
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 3 * MIB, "read back");
	CHECK(buf[0] == 'x' && buf[MIB - 1] == 'x' && all_zero(buf + MIB, MIB) &&
	      buf[2 * MIB] == 'x' && buf[3 * MIB - 1] == 'x', "hole reads zeros, rest kept");
	CHECK_EQ(lseek(fd, 0, SEEK_HOLE), MIB, "SEEK_HOLE finds the punched hole");
	CHECK_EQ(lseek(fd, MIB, SEEK_DATA), 2 * MIB, "SEEK_DATA skips it");
	CHECK_OK(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096), "ZERO_RANGE");
	CHECK_EQ(pread(fd, buf, 4096, 0), 4096, "read zeroed range");
	CHECK(all_zero(buf, 4096), "zeroed range reads zeros");
	close(fd);
}

static void g_sparse(void)
{
	struct stat st;
	char buf[4096];
	int fd;

	memset(buf, 's', sizeof(buf));
	CHECK_OK(fd = open(P("s"), O_RDWR | O_CREAT, 0644), "create");
	CHECK_EQ(pwrite(fd, buf, 4096, 0), 4096, "data at 0");
	CHECK_EQ(pwrite(fd, buf, 4096, 8 * MIB), 4096, "data at 8 MiB");
	CHECK_OK(fsync(fd), "fsync");
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 8 * MIB + 4096, "size");
	CHECK(st.st_blocks * 512 < MIB, "sparse: few blocks allocated");
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 0, "SEEK_DATA 0");
	CHECK_EQ(lseek(fd, 0, SEEK_HOLE), 4096, "SEEK_HOLE after first block");
	CHECK_EQ(lseek(fd, 4096, SEEK_DATA), 8 * MIB, "SEEK_DATA finds second block");
	CHECK_EQ(lseek(fd, 8 * MIB, SEEK_HOLE), 8 * MIB + 4096, "SEEK_HOLE at EOF");
	CHECK_ERR(lseek(fd, 8 * MIB + 4096, SEEK_DATA), ENXIO, "SEEK_DATA at EOF");
	CHECK_ERR(lseek(fd, 9 * MIB, SEEK_HOLE), ENXIO, "SEEK_HOLE past EOF");
	CHECK_EQ(pread(fd, buf, 4096, 4 * MIB), 4096, "read the hole");
	CHECK(all_zero(buf, 4096), "hole reads zeros");
	close(fd);
}

static void g_bigfile(void)
{
	char buf[8192], pat[8192];
	struct stat st;
	int fd;

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (char)('A' + i % 23);
	CHECK_OK(fd = open(P("big"), O_RDWR | O_CREAT, 0644), "create");
	CHECK_EQ(pwrite(fd, pat, sizeof(pat), 4 * GIB - 4096), (long)sizeof(pat),
		 "write across the 4 GiB boundary");
	CHECK_EQ(pwrite(fd, "E", 1, 5 * GIB), 1, "write at 5 GiB");
	CHECK_OK(fsync(fd), "fsync");
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 5 * GIB + 1, "size 5 GiB + 1");
	CHECK(st.st_blocks * 512 < 16 * MIB, "stays sparse");
	CHECK_EQ(pread(fd, buf, sizeof(buf), 4 * GIB - 4096), (long)sizeof(buf), "read back");
	CHECK(memcmp(buf, pat, sizeof(pat)) == 0, "data across 4 GiB intact");
	CHECK_EQ(pread(fd, buf, 2, 5 * GIB - 1), 2, "read the last bytes");
	CHECK(buf[0] == 0 && buf[1] == 'E', "last byte");
	close(fd);
	CHECK_OK(stat(P("big"), &st), "stat by path");
	CHECK_EQ(st.st_size, 5 * GIB + 1, "size by path");
	CHECK_OK(truncate(P("big"), 6 * GIB), "truncate to 6 GiB");
	CHECK_OK(stat(P("big"), &st), "stat");
	CHECK_EQ(st.st_size, 6 * GIB, "size 6 GiB");
	CHECK_OK(truncate(P("big"), 4 * GIB), "truncate to 4 GiB");
	CHECK_OK(fd = open(P("big"), O_RDONLY), "open");
	CHECK_EQ(pread(fd, buf, sizeof(buf), 4 * GIB - 4096), 4096, "read up to the new EOF");
	CHECK(memcmp(buf, pat, 4096) == 0, "data below 4 GiB kept");
	close(fd);
	CHECK_OK(unlink(P("big")), "unlink");
}

static void g_rename(void)
{
	struct stat st, st2;
	char buf[64];
	int fd;

	CHECK_OK(write_str(P("a"), "A"), "create a");
	CHECK_OK(stat(P("a"), &st), "stat a");
	CHECK_OK(rename(P("a"), P("b")), "rename a b");
	CHECK_OK(stat(P("b"), &st2), "stat b");
	CHECK_EQ(st2.st_ino, st.st_ino, "inode kept by rename");
	CHECK_ERR(stat(P("a"), &st), ENOENT, "old name gone");
	CHECK_OK(write_str(P("c"), "C"), "create c");
	CHECK_OK(fd = open(P("c"), O_RDONLY), "open c");
	CHECK_OK(rename(P("b"), P("c")), "rename over existing file");
	CHECK(file_is(P("c"), "A"), "target replaced");
	CHECK_EQ(read(fd, buf, sizeof(buf)), 1, "replaced file still readable by fd");
	CHECK(buf[0] == 'C', "old content through the fd");
	close(fd);

	CHECK_OK(write_str(P("n1"), "1"), "create n1");
	CHECK_OK(write_str(P("n2"), "2"), "create n2");
	CHECK_ERR(renameat2(AT_FDCWD, P("n1"), AT_FDCWD, P("n2"), RENAME_NOREPLACE), EEXIST,
		  "RENAME_NOREPLACE onto existing");
	CHECK(file_is(P("n2"), "2"), "target untouched");
	CHECK_OK(renameat2(AT_FDCWD, P("n1"), AT_FDCWD, P("n3"), RENAME_NOREPLACE),
		 "RENAME_NOREPLACE to a new name");
	CHECK(file_is(P("n3"), "1"), "renamed");

	CHECK_OK(mkdir(P("xd"), 0755), "mkdir xd");
	CHECK_OK(write_str(P("xd/inner"), "in"), "file in xd");
	CHECK_OK(renameat2(AT_FDCWD, P("n2"), AT_FDCWD, P("xd"), RENAME_EXCHANGE),
		 "RENAME_EXCHANGE file <-> dir");
	CHECK_OK(lstat(P("n2"), &st), "stat n2");
	CHECK(S_ISDIR(st.st_mode), "n2 is now the dir");
	CHECK(file_is(P("n2/inner"), "in"), "dir content follows");
	CHECK(file_is(P("xd"), "2"), "xd is now the file");
	CHECK_ERR(renameat2(AT_FDCWD, P("n2"), AT_FDCWD, P("nope"), RENAME_EXCHANGE), ENOENT,
		  "RENAME_EXCHANGE with a missing target");
	CHECK_ERR(renameat2(AT_FDCWD, P("n2"), AT_FDCWD, P("xd"),
			    RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL,
		  "EXCHANGE|NOREPLACE is invalid");

	CHECK_OK(mkdir(P("d1"), 0755), "mkdir d1");
	CHECK_OK(mkdir(P("d1/sub"), 0755), "mkdir d1/sub");
	CHECK_OK(write_str(P("d1/sub/f"), "deep"), "deep file");
	CHECK_OK(rename(P("d1"), P("d2")), "rename a directory tree");
	CHECK(file_is(P("d2/sub/f"), "deep"), "content under the new name");
	CHECK_ERR(stat(P("d1/sub/f"), &st), ENOENT, "old path gone");
	CHECK_OK(mkdir(P("empty"), 0755), "mkdir empty");
	CHECK_OK(rename(P("d2"), P("empty")), "rename dir over empty dir");
	CHECK(file_is(P("empty/sub/f"), "deep"), "moved over the empty dir");
	CHECK_OK(mkdir(P("full"), 0755), "mkdir full");
	CHECK_OK(write_str(P("full/x"), "x"), "file in full");
	CHECK_ERR(rename(P("empty"), P("full")), ENOTEMPTY, "dir over non-empty dir");
	CHECK_ERR(rename(P("c"), P("full")), EISDIR, "file over dir");
	CHECK_ERR(rename(P("full"), P("c")), ENOTDIR, "dir over file");
	CHECK_ERR(rename(P("empty"), P("empty/sub/inside")), EINVAL, "dir into itself");
	CHECK_ERR(rename(P("missing"), P("x")), ENOENT, "rename missing");
	CHECK_OK(rename(P("c"), P("full/c")), "move file across dirs");
	CHECK(file_is(P("full/c"), "A"), "moved");
	CHECK_OK(mkdir(P("cnt"), 0755), "mkdir cnt");
	CHECK_OK(mkdir(P("cnt/a"), 0755), "mkdir cnt/a");
	CHECK_OK(rename(P("cnt/a"), P("full/a")), "move a dir across parents");
	CHECK_OK(stat(P("cnt"), &st), "stat old parent");
	CHECK_EQ(st.st_nlink, 2, "old parent nlink drops");
	CHECK_OK(stat(P("full"), &st), "stat new parent");
	CHECK_EQ(st.st_nlink, 3, "new parent nlink rises");
	CHECK_OK(stat(P("full/a/.."), &st2), "stat full/a/..");
	CHECK_EQ(st2.st_ino, st.st_ino, ".. points at the new parent");
	CHECK_OK(symlink("target", P("sl")), "symlink");
	CHECK_OK(rename(P("sl"), P("sl2")), "rename a symlink");
	CHECK_EQ(readlink(P("sl2"), buf, sizeof(buf)), 6, "symlink target kept");
}

static void g_xattr(void)
{
	char buf[2048], big[1000];
	ssize_t n;

	memset(big, 'v', sizeof(big));
	CHECK_OK(write_str(P("f"), "x"), "create");
	CHECK_OK(setxattr(P("f"), "user.a", "alpha", 5, 0), "set user.a");
	CHECK_EQ(getxattr(P("f"), "user.a", NULL, 0), 5, "size query");
	n = getxattr(P("f"), "user.a", buf, sizeof(buf));
	CHECK(n == 5 && memcmp(buf, "alpha", 5) == 0, "get user.a");
	CHECK_ERR(getxattr(P("f"), "user.a", buf, 2), ERANGE, "buffer too small");
	CHECK_ERR(setxattr(P("f"), "user.a", "x", 1, XATTR_CREATE), EEXIST, "XATTR_CREATE existing");
	CHECK_ERR(setxattr(P("f"), "user.b", "x", 1, XATTR_REPLACE), ENODATA,
		  "XATTR_REPLACE missing");
	CHECK_OK(setxattr(P("f"), "user.a", "beta", 4, XATTR_REPLACE), "XATTR_REPLACE existing");
	n = getxattr(P("f"), "user.a", buf, sizeof(buf));
	CHECK(n == 4 && memcmp(buf, "beta", 4) == 0, "replaced value");
	CHECK_OK(setxattr(P("f"), "user.empty", "", 0, XATTR_CREATE), "empty value");
	CHECK_EQ(getxattr(P("f"), "user.empty", buf, sizeof(buf)), 0, "empty value reads back");
	CHECK_OK(setxattr(P("f"), "user.big", big, sizeof(big), 0), "1000-byte value");
	n = getxattr(P("f"), "user.big", buf, sizeof(buf));
	CHECK(n == (ssize_t)sizeof(big) && memcmp(buf, big, sizeof(big)) == 0, "big value");
	CHECK_OK(setxattr(P("f"), "trusted.t", "tv", 2, 0), "set trusted.t");
	CHECK_EQ(getxattr(P("f"), "trusted.t", buf, sizeof(buf)), 2, "get trusted.t");
	CHECK_OK(setxattr(P("f"), "security.fctest", "sv", 2, 0), "set security.fctest");
	n = getxattr(P("f"), "security.fctest", buf, sizeof(buf));
	CHECK(n == 2 && memcmp(buf, "sv", 2) == 0, "get security.fctest");
	n = listxattr(P("f"), NULL, 0);
	CHECK(n > 0, "listxattr size query");
	memset(buf, 0, sizeof(buf));
	n = listxattr(P("f"), buf, sizeof(buf));
	{
		int seen = 0;

		for (char *p = buf; p < buf + (n > 0 ? n : 0); p += strlen(p) + 1)
			seen += !strcmp(p, "user.a") + !strcmp(p, "user.empty") +
				!strcmp(p, "user.big") + !strcmp(p, "trusted.t") +
				!strcmp(p, "security.fctest");
		CHECK_EQ(seen, 5, "listxattr names all five");
	}
	CHECK_ERR(listxattr(P("f"), buf, 3), ERANGE, "listxattr buffer too small");
	CHECK_OK(removexattr(P("f"), "user.a"), "remove user.a");
	CHECK_ERR(getxattr(P("f"), "user.a", buf, sizeof(buf)), ENODATA, "removed");
	CHECK_ERR(removexattr(P("f"), "user.a"), ENODATA, "remove missing");
	CHECK_ERR(getxattr(P("f"), "user.never", buf, sizeof(buf)), ENODATA, "get missing");
	CHECK_ERR(setxattr(P("f"), "bogus.ns", "x", 1, 0), EOPNOTSUPP, "unknown namespace");
	memset(buf, 'n', 300);
	memcpy(buf, "user.", 5);
	buf[300] = '\0';
	CHECK_ERR(setxattr(P("f"), buf, "x", 1, 0), ERANGE, "name longer than 255");

	CHECK_OK(mkdir(P("d"), 0755), "mkdir");
	CHECK_OK(setxattr(P("d"), "user.dir", "dv", 2, 0), "xattr on a directory");
	CHECK_EQ(getxattr(P("d"), "user.dir", buf, sizeof(buf)), 2, "get dir xattr");
	CHECK_OK(symlink("f", P("l")), "symlink");
	CHECK_ERR(lsetxattr(P("l"), "user.x", "x", 1, 0), EPERM, "user.* on a symlink");
	CHECK_OK(lsetxattr(P("l"), "trusted.x", "x", 1, 0), "trusted.* on a symlink");
	CHECK_EQ(lgetxattr(P("l"), "trusted.x", buf, sizeof(buf)), 1, "get it back");
	CHECK_ERR(getxattr(P("l"), "trusted.x", buf, sizeof(buf)), ENODATA,
		  "getxattr follows the link to the target");
	CHECK_OK(link(P("f"), P("h")), "hard link");
	CHECK_EQ(getxattr(P("h"), "user.big", NULL, 0), (long)sizeof(big),
		 "xattrs shared by hard links");
	CHECK_OK(rename(P("f"), P("f2")), "rename");
	CHECK_EQ(getxattr(P("f2"), "trusted.t", NULL, 0), 2, "xattrs follow rename");
}

static void g_statfs(void)
{
	struct statvfs sv;
	int fd;

	CHECK_OK(statvfs(gdir, &sv), "statvfs");
	CHECK(sv.f_bsize > 0, "f_bsize > 0");
	CHECK(sv.f_blocks > 0, "f_blocks > 0");
	CHECK(sv.f_bfree <= sv.f_blocks && sv.f_bavail <= sv.f_bfree, "free <= total");
	CHECK_EQ(sv.f_namemax, 255, "f_namemax 255");
	CHECK_OK(fd = open(gdir, O_RDONLY | O_DIRECTORY), "open dir");
	CHECK_OK(fstatvfs(fd, &sv), "fstatvfs");
	close(fd);
}

static void g_sync(void)
{
	int fd, dfd;

	CHECK_OK(fd = open(P("f"), O_RDWR | O_CREAT, 0644), "create");
	CHECK_EQ(write(fd, "sync me", 7), 7, "write");
	CHECK_OK(fsync(fd), "fsync");
	CHECK_EQ(write(fd, " again", 6), 6, "write");
	CHECK_OK(fdatasync(fd), "fdatasync");
	CHECK_OK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE), "sync_file_range");
	CHECK_OK(syncfs(fd), "syncfs");
	close(fd);
	CHECK_OK(dfd = open(gdir, O_RDONLY | O_DIRECTORY), "open dir");
	CHECK_OK(fsync(dfd), "fsync a directory");
	CHECK_OK(fdatasync(dfd), "fdatasync a directory");
	close(dfd);
	CHECK(file_is(P("f"), "sync me again"), "content");
}

static void g_mmap(void)
{
	const size_t len = 64 * 1024;
	char *m, *m2, *buf = malloc(len);
	int fd, fd2, ok = 1;

	if (!buf) {
		CHECK(0, "malloc");
		return;
	}
	CHECK_OK(fd = open(P("m"), O_RDWR | O_CREAT, 0644), "create");
	CHECK_OK(ftruncate(fd, (off_t)len), "size 64 KiB");
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!CHECK(m != MAP_FAILED, "shared writable mmap")) {
		close(fd);
		free(buf);
		return;
	}
	for (size_t i = 0; i < len; i++)
		m[i] = (char)(i * 7 + 3);
	CHECK_OK(msync(m, len, MS_SYNC), "msync");
	CHECK_OK(fd2 = open(P("m"), O_RDONLY), "open a second fd");
	CHECK_EQ(pread(fd2, buf, len, 0), (long)len, "read() the mapped file");
	for (size_t i = 0; i < len; i++)
		ok &= buf[i] == (char)(i * 7 + 3);
	CHECK(ok, "read() sees the mmap writes");
	CHECK_EQ(pwrite(fd, "WRITE", 5, 100), 5, "write() into the mapped range");
	CHECK(memcmp(m + 100, "WRITE", 5) == 0, "the mapping sees write()");
	m[200] = 'Q';
	CHECK_EQ(pread(fd2, buf, 1, 200), 1, "read() without msync");
	CHECK(buf[0] == 'Q', "coherent without msync");
	CHECK_OK(munmap(m, len), "munmap");
	close(fd);
	close(fd2);
	CHECK_EQ(read_file(P("m"), buf, len), (long)len - 1, "content after close");
	CHECK(buf[100] == 'W' && buf[200] == 'Q', "persisted");

	CHECK_OK(fd = open(P("m"), O_RDWR), "reopen");
	m2 = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (CHECK(m2 != MAP_FAILED, "private mmap")) {
		m2[0] = '!';
		CHECK_EQ(pread(fd, buf, 1, 0), 1, "read");
		CHECK(buf[0] != '!', "private writes stay private");
		munmap(m2, len);
	}
	close(fd);
	free(buf);
}

/* Child side of the lock tests: exit 0 if the expectation holds, else 1. */
static int lock_child(const char *path, int parent)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10 };
	int fd = open(path, O_RDWR);
	int bad = 0;

	if (fd < 0)
		return 1;
	bad |= flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK;
	bad |= fcntl(fd, F_SETLK, &fl) == 0 || (errno != EAGAIN && errno != EACCES);
	fl.l_type = F_WRLCK;
	bad |= fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type != F_WRLCK || fl.l_pid != parent;
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 10 };
	bad |= fcntl(fd, F_SETLK, &fl) < 0;
	return bad;
}

static int run_lock_child(const char *path)
{
	pid_t parent = getpid(), pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(lock_child(path, parent));
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void g_locks(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
	int fd, fd2, status;
	pid_t pid;

	CHECK_OK(write_str(P("f"), "lock file"), "create");
	CHECK_OK(fd = open(P("f"), O_RDWR), "open");
	CHECK_OK(flock(fd, LOCK_EX), "flock LOCK_EX");
	CHECK_OK(fcntl(fd, F_SETLK, &fl), "POSIX write lock 0-99");
	CHECK_EQ(run_lock_child(P("f")), 0,
		 "child: flock EWOULDBLOCK, F_SETLK EAGAIN, F_GETLK names us, free range ok");
	CHECK_OK(flock(fd, LOCK_UN), "flock LOCK_UN");
	fl.l_type = F_UNLCK;
	CHECK_OK(fcntl(fd, F_SETLK, &fl), "unlock");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct flock f2 = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 100 };
		int cfd = open(P("f"), O_RDWR);

		_exit(cfd < 0 || flock(cfd, LOCK_EX | LOCK_NB) < 0 || fcntl(cfd, F_SETLK, &f2) < 0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "child locks after release");
	CHECK_OK(flock(fd, LOCK_SH), "flock LOCK_SH");
	CHECK_OK(fd2 = open(P("f"), O_RDONLY), "second open");
	CHECK_OK(flock(fd2, LOCK_SH | LOCK_NB), "shared flocks coexist");
	CHECK_ERR(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK, "upgrade blocked by other shared");
	close(fd2);
	close(fd);
	/* OFD locks conflict between open file descriptions of one process. */
	CHECK_OK(fd = open(P("f"), O_RDWR), "open for OFD");
	CHECK_OK(fd2 = open(P("f"), O_RDWR), "open again for OFD");
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
	CHECK_OK(fcntl(fd, F_OFD_SETLK, &fl), "OFD lock");
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
	CHECK_ERR(fcntl(fd2, F_OFD_SETLK, &fl), EAGAIN, "second OFD lock conflicts");
	close(fd);
	close(fd2);
}

static void g_append(void)
{
	char buf[64];
	int a, b;

	CHECK_OK(write_str(P("f"), "start:"), "create");
	CHECK_OK(a = open(P("f"), O_WRONLY | O_APPEND), "open O_APPEND a");
	CHECK_OK(b = open(P("f"), O_WRONLY | O_APPEND), "open O_APPEND b");
	CHECK_EQ(write(a, "A1", 2), 2, "append via a");
	CHECK_EQ(write(b, "B1", 2), 2, "append via b");
	CHECK_OK(lseek(a, 0, SEEK_SET), "seek a to 0");
	CHECK_EQ(write(a, "A2", 2), 2, "append via a after seek");
	CHECK_EQ(pwrite(b, "B2", 2, 0), 2, "pwrite on O_APPEND appends (Linux)");
	close(a);
	close(b);
	CHECK_EQ(read_file(P("f"), buf, sizeof(buf)), 14, "size");
	CHECK(strcmp(buf, "start:A1B1A2B2") == 0, "appends in order");
	CHECK_OK(a = open(P("f"), O_RDWR | O_APPEND), "open O_RDWR|O_APPEND");
	CHECK_EQ(pread(a, buf, 5, 0), 5, "pread works");
	CHECK(memcmp(buf, "start", 5) == 0, "pread content");
	close(a);
}

static void g_unlinked(void)
{
	char buf[64];
	struct stat st;
	int fd, fd2, dirs, regs, links, fifos;

	CHECK_OK(fd = open(P("u"), O_RDWR | O_CREAT, 0644), "create");
	CHECK_EQ(write(fd, "before", 6), 6, "write");
	CHECK_OK(fd2 = open(P("u"), O_RDONLY), "second fd");
	CHECK_OK(unlink(P("u")), "unlink while open");
	CHECK_ERR(stat(P("u"), &st), ENOENT, "name gone");
	CHECK_OK(fstat(fd, &st), "fstat unlinked");
	CHECK_EQ(st.st_nlink, 0, "nlink 0");
	CHECK_EQ(write(fd, "+after", 6), 6, "write after unlink");
	CHECK_EQ(pread(fd2, buf, sizeof(buf), 0), 12, "read via the other fd");
	CHECK(memcmp(buf, "before+after", 12) == 0, "content");
	CHECK_OK(ftruncate(fd, 3), "ftruncate unlinked");
	CHECK_OK(fchmod(fd, 0600), "fchmod unlinked");
	CHECK_OK(fsetxattr(fd, "user.k", "v", 1, 0), "fsetxattr unlinked");
	CHECK_OK(fstat(fd2, &st), "fstat");
	CHECK(st.st_size == 3 && (st.st_mode & 07777) == 0600, "attrs of the unlinked file");
	CHECK_EQ(count_entries(gdir, &dirs, &regs, &links, &fifos), 2, "not listed");
	CHECK_OK(write_str(P("u"), "new file"), "reuse the name");
	CHECK_EQ(pread(fd2, buf, sizeof(buf), 0), 3, "old fd still sees the old file");
	CHECK(memcmp(buf, "bef", 3) == 0, "old content");
	CHECK(file_is(P("u"), "new file"), "new file independent");
	close(fd);
	close(fd2);
	/* A directory removed while it is the cwd of a child. */
	CHECK_OK(mkdir(P("cwd"), 0755), "mkdir cwd");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char c[8];

		if (chdir(P("cwd")) < 0 || rmdir(P("cwd")) < 0)
			_exit(2);
		_exit(open("x", O_CREAT | O_WRONLY, 0644) >= 0 || errno != ENOENT ||
		      getcwd(c, sizeof(c)) != NULL);
	}
	int status;

	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "removed cwd: create ENOENT, getcwd fails");
}

static void g_suid(void)
{
	struct stat st;

	CHECK_OK(write_str(P("s"), "suid"), "create");
	CHECK_OK(chown(P("s"), NOBODY, NOBODY), "chown to nobody");
	CHECK_OK(chmod(P("s"), 06777), "chmod 06777");
	CHECK_CHILD(AS_NOBODY(OP_WRITE, P("s"), NULL), 0, "owner writes");
	CHECK_EQ(mode_of(P("s")), 0777, "write by non-root clears setuid and setgid");
	CHECK_OK(chmod(P("s"), 06777), "chmod 06777 again");
	CHECK_CHILD(AS_NOBODY(OP_FTRUNCATE, P("s"), NULL), 0, "owner truncates");
	CHECK_EQ(mode_of(P("s")), 0777, "truncate by non-root clears them");
	CHECK_OK(chmod(P("s"), 02767), "setgid without group exec");
	CHECK_CHILD(AS_NOBODY(OP_WRITE, P("s"), NULL), 0, "owner writes");
	CHECK_EQ(mode_of(P("s")), 02767, "setgid without group exec is not cleared");
	CHECK_OK(chmod(P("s"), 04755), "chmod 04755");
	{
		int fd = open(P("s"), O_WRONLY | O_APPEND);

		CHECK_EQ(write(fd, "r", 1), 1, "root writes");
		close(fd);
	}
	CHECK_EQ(mode_of(P("s")), 04755, "write by root keeps setuid");
	CHECK_OK(chmod(P("s"), 06755), "chmod 06755");
	CHECK_OK(chown(P("s"), 1234, 1234), "chown by root");
	CHECK_EQ(mode_of(P("s")), 0755, "chown clears setuid and setgid");
	CHECK_OK(stat(P("s"), &st), "stat");
	CHECK_EQ(st.st_uid, 1234, "owner changed");
	CHECK_OK(mkdir(P("d"), 0755), "mkdir");
	CHECK_OK(chmod(P("d"), 06755), "dir 06755");
	CHECK_OK(chown(P("d"), 1234, 1234), "chown dir");
	CHECK_EQ(mode_of(P("d")), 06755, "chown keeps setgid/setuid on directories");
}

static void g_sgid_dir(void)
{
	struct stat st;

	CHECK_OK(mkdir(P("g"), 0775), "mkdir");
	CHECK_OK(chown(P("g"), 0, 4321), "group 4321");
	CHECK_OK(chmod(P("g"), 02775), "setgid dir");
	CHECK_OK(write_str(P("g/f"), "x"), "create in setgid dir");
	CHECK_OK(stat(P("g/f"), &st), "stat");
	CHECK_EQ(st.st_gid, 4321, "file inherits the dir's group");
	CHECK_OK(mkdir(P("g/sub"), 0755), "mkdir in setgid dir");
	CHECK_OK(stat(P("g/sub"), &st), "stat");
	CHECK_EQ(st.st_gid, 4321, "subdir inherits the group");
	CHECK(st.st_mode & S_ISGID, "subdir inherits setgid");
	CHECK_OK(mkdir(P("plain"), 0777), "mkdir plain");
	CHECK_OK(chmod(P("plain"), 0777), "chmod 0777");
	CHECK_OK(chown(P("plain"), 0, 4321), "group 4321");
	CHECK_CHILD(AS_NOBODY(OP_CREATE, P("plain/n"), NULL), 0, "nobody creates in plain dir");
	CHECK_OK(stat(P("plain/n"), &st), "stat");
	CHECK(st.st_uid == NOBODY && st.st_gid == NOBODY, "new file owned by the creator");
}

static void g_sticky(void)
{
	CHECK_OK(mkdir(P("t"), 0777), "mkdir");
	CHECK_OK(chmod(P("t"), 01777), "sticky 01777");
	CHECK_CHILD(as_user(USER_A, USER_A, OP_CREATE, P("t/a"), NULL), 0, "user A creates");
	CHECK_CHILD(as_user(USER_B, USER_B, OP_CREATE, P("t/b"), NULL), 0, "user B creates");
	CHECK_CHILD(as_user(USER_B, USER_B, OP_UNLINK, P("t/a"), NULL), EPERM,
		    "B cannot delete A's file");
	CHECK_CHILD(as_user(USER_B, USER_B, OP_RENAME, P("t/a"), P("t/x")), EPERM,
		    "B cannot rename A's file");
	CHECK_CHILD(as_user(USER_B, USER_B, OP_RENAME, P("t/b"), P("t/a")), EPERM,
		    "B cannot rename over A's file");
	CHECK_CHILD(as_user(USER_A, USER_A, OP_UNLINK, P("t/a"), NULL), 0,
		    "A deletes its own file");
	CHECK_OK(unlink(P("t/b")), "root deletes B's file");
	CHECK_OK(chmod(P("t"), 0777), "drop sticky");
	CHECK_CHILD(as_user(USER_A, USER_A, OP_CREATE, P("t/c"), NULL), 0, "A creates");
	CHECK_CHILD(as_user(USER_B, USER_B, OP_UNLINK, P("t/c"), NULL), 0,
		    "without sticky B may delete it");
}

static void g_perms(void)
{
	CHECK_OK(write_str(P("secret"), "s"), "create secret");
	CHECK_OK(chmod(P("secret"), 0600), "0600");
	CHECK_OK(write_str(P("pub"), "p"), "create pub 0644");
	CHECK_OK(mkdir(P("closed"), 0700), "mkdir closed 0700");
	CHECK_OK(write_str(P("closed/in"), "i"), "file in closed");
	CHECK_OK(mkdir(P("ro"), 0755), "mkdir ro 0755");
	CHECK_OK(write_str(P("ro/f"), "f"), "file in ro");
	CHECK_OK(write_str(P("grp"), "g"), "create grp");
	CHECK_OK(chown(P("grp"), 0, NOBODY), "group nobody");
	CHECK_OK(chmod(P("grp"), 0640), "0640");

	CHECK_CHILD(AS_NOBODY(OP_OPEN_R, P("secret"), NULL), EACCES, "read 0600 root file");
	CHECK_CHILD(AS_NOBODY(OP_OPEN_R, P("pub"), NULL), 0, "read 0644 root file");
	CHECK_CHILD(AS_NOBODY(OP_OPEN_W, P("pub"), NULL), EACCES, "write 0644 root file");
	CHECK_CHILD(AS_NOBODY(OP_ACCESS_W, P("pub"), NULL), EACCES, "access(W_OK)");
	CHECK_CHILD(AS_NOBODY(OP_TRUNCATE, P("pub"), NULL), EACCES, "truncate");
	CHECK_CHILD(AS_NOBODY(OP_OPEN_R, P("grp"), NULL), 0, "group read 0640");
	CHECK_CHILD(AS_NOBODY(OP_OPEN_W, P("grp"), NULL), EACCES, "group write 0640");
	CHECK_CHILD(AS_NOBODY(OP_OPENDIR, P("closed"), NULL), EACCES, "open 0700 dir");
	CHECK_CHILD(AS_NOBODY(OP_STAT, P("closed/in"), NULL), EACCES, "search 0700 dir");
	CHECK_CHILD(AS_NOBODY(OP_CREATE, P("ro/new"), NULL), EACCES, "create in 0755 dir");
	CHECK_CHILD(AS_NOBODY(OP_UNLINK, P("ro/f"), NULL), EACCES, "unlink in 0755 dir");
	CHECK_CHILD(AS_NOBODY(OP_MKDIR, P("ro/d"), NULL), EACCES, "mkdir in 0755 dir");
	CHECK_CHILD(AS_NOBODY(OP_RENAME, P("ro/f"), P("ro/g")), EACCES, "rename in 0755 dir");
	CHECK_CHILD(AS_NOBODY(OP_CHMOD, P("pub"), NULL), EPERM, "chmod someone else's file");
	CHECK_CHILD(AS_NOBODY(OP_CHOWN, P("pub"), NULL), EPERM, "chown someone else's file");
	CHECK_CHILD(AS_NOBODY(OP_UTIMES_NOW, P("pub"), NULL), EACCES,
		    "touch (now) without write permission");
	CHECK_CHILD(AS_NOBODY(OP_UTIMES_SET, P("pub"), NULL), EPERM,
		    "set explicit times of someone else's file");
	CHECK_CHILD(AS_NOBODY(OP_SETXATTR, P("pub"), "user.x"), EACCES,
		    "set user.* xattr without write permission");
	CHECK_CHILD(AS_NOBODY(OP_SETXATTR, P("pub"), "trusted.x"), EPERM, "set trusted.* xattr");
	CHECK_OK(setxattr(P("pub"), "trusted.hidden", "h", 1, 0), "root sets trusted.hidden");
	CHECK_CHILD(AS_NOBODY(OP_GETXATTR, P("pub"), "trusted.hidden"), ENODATA,
		    "trusted.* invisible to non-root");
	CHECK_CHILD(AS_NOBODY(OP_NOATIME, P("pub"), NULL), EPERM, "O_NOATIME by non-owner");
	CHECK_CHILD(AS_NOBODY(OP_RMDIR, P("closed"), NULL), EACCES, "rmdir without parent write");

	/* The owner gets its rights, root bypasses modes. */
	CHECK_OK(chown(P("pub"), NOBODY, NOBODY), "give pub to nobody");
	CHECK_OK(chmod(P("pub"), 0444), "0444");
	CHECK_CHILD(AS_NOBODY(OP_OPEN_W, P("pub"), NULL), EACCES, "owner without w bit");
	CHECK_CHILD(AS_NOBODY(OP_CHMOD, P("pub"), NULL), 0, "owner may chmod");
	CHECK_CHILD(AS_NOBODY(OP_UTIMES_SET, P("pub"), NULL), 0, "owner may set times");
	CHECK_CHILD(AS_NOBODY(OP_OPEN_W, P("pub"), NULL), 0, "writable after chmod");
	CHECK_OK(chmod(P("secret"), 0), "chmod 0");
	CHECK(file_is(P("secret"), "s"), "root reads a mode-0 file");
}

static void g_exec(void)
{
	static char prog[4 * 1024 * 1024];
	ssize_t n;
	int status;
	pid_t pid;

	n = read_file("/bin/true", prog, sizeof(prog));
	if (!CHECK(n > 0, "read /bin/true"))
		return;
	CHECK_OK(write_file(P("true"), prog, (size_t)n, 0755), "copy /bin/true");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *const argv[] = { (char *)P("true"), NULL };

		execv(argv[0], argv);
		_exit(errno);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "execute a program from the directory");
	CHECK_CHILD(AS_NOBODY(OP_EXEC, P("true"), NULL), 0, "non-root executes 0755");
	CHECK_OK(chmod(P("true"), 0644), "chmod 0644");
	CHECK_CHILD(AS_NOBODY(OP_EXEC, P("true"), NULL), EACCES, "non-root: no x bit");
	CHECK_ERR(access(P("true"), X_OK), EACCES, "root: no x bit at all");
	CHECK_OK(write_file(P("script"), "#!/bin/sh\nexit 7\n", 17, 0755), "a script");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *const argv[] = { (char *)P("script"), NULL };

		execv(argv[0], argv);
		_exit(errno);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 7, "run a script");
}

struct fsops_group {
	const char *name;
	void (*fn)(void);
};

static const struct fsops_group groups[] = {
	{ "files", g_files },       { "dirs", g_dirs },         { "symlinks", g_symlinks },
	{ "hardlinks", g_hardlinks }, { "special", g_special }, { "attrs", g_attrs },
	{ "times", g_times },       { "truncate", g_truncate }, { "fallocate", g_fallocate },
	{ "sparse", g_sparse },     { "bigfile", g_bigfile },   { "rename", g_rename },
	{ "xattr", g_xattr },       { "statfs", g_statfs },     { "sync", g_sync },
	{ "mmap", g_mmap },         { "locks", g_locks },       { "append", g_append },
	{ "unlinked", g_unlinked }, { "suid", g_suid },         { "sgid_dir", g_sgid_dir },
	{ "sticky", g_sticky },     { "perms", g_perms },       { "exec", g_exec },
};

#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

static int selected(const char *name, int argc, char **argv)
{
	if (argc <= 2)
		return 1;
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

static void run_group(const char *root, const struct fsops_group *g)
{
	cur_group = g->name;
	int n = snprintf(gdir, sizeof(gdir), "%s/%s", root, g->name);

	if (n < 0 || (size_t)n >= sizeof(gdir) - 512) {
		fprintf(stderr, "fsops: directory path too long\n");
		exit(2);
	}
	if (!CHECK_OK(mkdir(gdir, 0755), "mkdir group dir %s", gdir))
		return;
	g->fn();
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "-l")) {
		for (size_t i = 0; i < N_GROUPS; i++)
			printf("%s\n", groups[i].name);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: fsops DIR [GROUP...] | fsops -l\n");
		return 2;
	}
	if (geteuid() != 0) {
		printf("1..0 # SKIP fsops needs root\n");
		return 0;
	}
	/* Absolute, so that checks that chdir keep working. */
	char *root = realpath(argv[1], NULL);

	if (!root) {
		fprintf(stderr, "fsops: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	umask(022);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < N_GROUPS; i++)
		if (selected(groups[i].name, argc, argv))
			run_group(root, &groups[i]);
	printf("1..%d\n", n_tests);
	if (n_failed)
		printf("# %d of %d checks failed\n", n_failed, n_tests);
	free(root);
	return n_failed ? 1 : 0;
}
