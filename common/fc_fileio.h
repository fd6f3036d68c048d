/*
 * fc_fileio: safe, dirfd-relative file helpers.
 *
 * - fc_write_atomic: the one way state files are written (temp file in the
 *   same directory, write, fsync, renameat, fsync the directory), so a crash
 *   leaves either the old or the new content, never a torn file.
 * - fc_open_beneath: open a relative path under a directory fd without ever
 *   following a symlink or leaving the directory (openat2 with
 *   RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS; on kernels without openat2, a
 *   component-by-component O_NOFOLLOW walk).
 * - fc_mkdir_p: create a relative directory path under a dirfd;
 *   fc_mkdir_open also opens it.
 *
 * All fds returned are O_CLOEXEC and owned by the caller. Errors: -errno.
 */
#ifndef FC_FILEIO_H
#define FC_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replace dirfd/name with len bytes of buf, mode bits mode, atomically and
 * durably. name is a single component. Returns 0 or -errno (the temp file is
 * removed on failure; the old file is untouched).
 */
int fc_write_atomic(int dirfd, const char *name, const void *buf, size_t len, mode_t mode);

/* fsync the directory fd (works on O_PATH fds by reopening). 0 or -errno. */
int fc_fsync_dir(int dirfd);

/*
 * Open relpath (may contain '/', must not be absolute or contain "..")
 * beneath dirfd, refusing symlinks in every component (-ELOOP) and escapes
 * (-EXDEV). flags are open(2) flags; O_CLOEXEC and O_NOFOLLOW are added.
 * Returns an fd >= 0 or -errno.
 */
int fc_open_beneath(int dirfd, const char *relpath, int flags, mode_t mode);

/* The fallback of fc_open_beneath for kernels without openat2 (same
 * contract); public so that unit tests exercise it on any kernel. */
int fc_open_beneath_walk(int dirfd, const char *relpath, int flags, mode_t mode);

/*
 * Create every missing directory of relpath beneath dirfd (mode, before
 * umask). Existing directories are fine; a non-directory in the way, a
 * symlink included (never followed), is -ENOTDIR. 0 or -errno.
 */
int fc_mkdir_p(int dirfd, const char *relpath, mode_t mode);

/* fc_mkdir_p, then open the directory: *out is O_RDONLY|O_DIRECTORY. 0 or -errno. */
int fc_mkdir_open(int dirfd, const char *relpath, mode_t mode, int *out);

/* Read the whole (regular, small) file dirfd/name into a NUL-terminated
 * heap buffer of at most max bytes. Caller frees *buf. -EFBIG if larger. */
int fc_read_file(int dirfd, const char *name, size_t max, char **buf, size_t *len);

/* write(2) all of buf, retrying on EINTR and short writes. 0 or -errno. */
int fc_write_all(int fd, const void *buf, size_t len);

#endif
