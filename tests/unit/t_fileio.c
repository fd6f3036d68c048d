/*
 * t_fileio: atomic writes, symlink-proof opens beneath a directory, mkdir -p,
 * and the cell writer lock with its daemon info file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_fileio.h"
#include "fc_lock.h"
#include "fc_store.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_fileio.XXXXXX";

static void test_fileio(int dfd)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	int fd;

	is_int(fc_write_atomic(dfd, "state.json", "{}", 2, 0600), 0, "atomic write");
	is_int(fc_write_atomic(dfd, "state.json", "{\"a\":1}", 7, 0640), 0, "atomic replace");
	is_int(fc_read_file(dfd, "state.json", 100, &buf, &len), 0, "read back");
	is_str(buf, "{\"a\":1}", "new content");
	free(buf);
	ok(fstatat(dfd, "state.json", &sb, 0) == 0 && (sb.st_mode & 07777) == 0640, "mode set");
	is_int(fc_read_file(dfd, "state.json", 3, &buf, &len), -EFBIG, "size limit");
	is_int(fc_write_atomic(dfd, "a/b", "x", 1, 0600), -EINVAL, "name with a slash refused");

	is_int(fc_mkdir_p(dfd, "x/y/z", 0755), 0, "mkdir -p");
	is_int(fc_mkdir_p(dfd, "x/y/z", 0755), 0, "mkdir -p again");
	ok(symlinkat("/etc", dfd, "x/link") == 0, "make a symlink");
	fd = fc_open_beneath(dfd, "x/y/z", O_RDONLY | O_DIRECTORY, 0);
	ok(fd >= 0, "open beneath");
	if (fd >= 0)
		close(fd);
	is_int(fc_open_beneath(dfd, "x/link/passwd", O_RDONLY, 0), -ELOOP,
	       "a symlink component is refused");
	is_int(fc_open_beneath(dfd, "x/link", O_RDONLY, 0), -ELOOP, "a final symlink is refused");
	is_int(fc_open_beneath(dfd, "../etc/passwd", O_RDONLY, 0), -EXDEV, "'..' is refused");
	is_int(fc_open_beneath(dfd, "/etc/passwd", O_RDONLY, 0), -EINVAL, "absolute is refused");
	is_int(fc_mkdir_p(dfd, "x/link/sub", 0755), -ENOTDIR, "mkdir -p through a symlink");
	fd = -1;
	is_int(fc_mkdir_open(dfd, "x/y/w", 0700, &fd), 0, "mkdir and open");
	ok(fd >= 0 && mkdirat(fd, "inside", 0700) == 0, "the opened fd is the new directory");
	if (fd >= 0)
		close(fd);
	is_int(fc_mkdir_open(dfd, "x/link", 0700, &fd), -ENOTDIR,
	       "mkdir and open refuses a symlink");
	fd = fc_open_beneath_walk(dfd, "x/y/z", O_RDONLY | O_DIRECTORY, 0);
	ok(fd >= 0, "walk: open beneath");
	if (fd >= 0)
		close(fd);
	is_int(fc_open_beneath_walk(dfd, "x/link/passwd", O_RDONLY, 0), -ELOOP,
	       "walk: a symlink component is refused");
	is_int(fc_open_beneath_walk(dfd, "x/link", O_RDONLY, 0), -ELOOP,
	       "walk: a final symlink is refused");
	is_int(fc_open_beneath_walk(dfd, "state.json/x", O_RDONLY, 0), -ENOTDIR,
	       "walk: a file component is ENOTDIR");
	is_int(fc_open_beneath_walk(dfd, "x/../../etc", O_RDONLY, 0), -EXDEV,
	       "walk: '..' is refused");
	fd = fc_open_beneath(dfd, "x/y/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
	ok(fd >= 0, "create beneath");
	if (fd >= 0)
		close(fd);
}

static void test_lock(void)
{
	struct fc_daemon_info info = { .pid = 1234, .started = 5, .ro = true }, got;
	enum fc_serve_state s;
	struct fc_store *st = NULL;
	char path[256];
	int fd = -1, fd2 = -1;

	snprintf(path, sizeof(path), "%s/store", tmpdir);
	if (fc_store_open(path, FC_STORE_CREATE, &st, NULL) < 0)
		bail_out("store open");
	is_int(fc_cell_lock_try(st, "c", 0, &fd, NULL), 0, "lock a cell");
	is_int(fc_cell_lock_try(st, "c", 0, &fd2, NULL), FC_ELOCKED, "second lock refused");
	is_int(fc_cell_lock_try(st, "c", 7, &fd2, NULL), 0, "a time-travel lock is separate");
	fc_cell_lock_release(fd2);
	is_int(fc_cell_lock_try(st, "../c", 0, &fd2, NULL), FC_ENAME, "bad cell name");
	is_int(fc_cell_lock_held(st, "c", 0), 1, "held");
	is_int(fc_cell_serve_state(st, "c", 0, &s, NULL), 0, "serve state");
	is_int(s, FC_SERVE_LIVE, "a held lock means live");
	snprintf(info.cell, sizeof(info.cell), "c");
	snprintf(info.mountpoint, sizeof(info.mountpoint), "/nonexistent/mnt");
	is_int(fc_daemon_info_write(st, &info), 0, "write info");
	is_int(fc_daemon_info_read(st, "c", 0, &got), 0, "read info");
	is_int(got.pid, 1234, "pid");
	ok(got.ro, "ro");
	is_str(got.mountpoint, "/nonexistent/mnt", "mountpoint");
	fc_cell_lock_release(fd);
	is_int(fc_cell_serve_state(st, "c", 0, &s, &got), 0, "serve state after release");
	is_int(s, FC_SERVE_STALE, "info without a lock holder is stale");
	is_int(fc_daemon_info_remove(st, "c", 0), 0, "remove info");
	is_int(fc_cell_serve_state(st, "c", 0, &s, NULL), 0, "serve state after cleanup");
	is_int(s, FC_SERVE_NONE, "nobody serves it");
	is_int(fc_daemon_info_read(st, "c", 0, &got), -ENOENT, "no info");
	fc_store_close(st);
}

int main(void)
{
	char cmd[300];
	int dfd;

	if (!mkdtemp(tmpdir))
		bail_out("mkdtemp");
	dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		bail_out("open tmpdir");
	test_fileio(dfd);
	test_lock();
	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpdir);
	return done_testing();
}
