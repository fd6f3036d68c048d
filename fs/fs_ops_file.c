/*
 * fs_ops_file: FUSE handlers for regular files: open, read, write,
 * release, fsync, fallocate, lseek.
 *
 * Files are opened without us. open replies ENOSYS, and from then on the
 * kernel opens and closes regular files itself: no OPEN, FLUSH or RELEASE
 * round trip (with no create handler, O_CREAT becomes MKNOD). Reading a
 * small file costs READ (and the GETATTR of its atime) instead of OPEN,
 * READ, GETATTR and RELEASE; creating one costs one request less and no
 * asynchronous RELEASE. What open did is done elsewhere:
 * - no per-handle state ever existed: every handle of an inode uses the
 *   inode's cached blob fd (fs_copyup.c), which the next I/O reopens when
 *   the cache or a restore dropped it;
 * - O_TRUNC comes as a SETATTR of size 0 (atomic_o_trunc is off);
 * - read-only mounts refuse writable opens in the kernel (MS_RDONLY);
 * - an unlinked regular file lives until the kernel forgets its inode,
 *   which it keeps while any process has the file open (fs_ops_entry.c).
 * Writes go to the blob fd and only touch the in-memory overlay
 * (fs_attr.c), which fsync writes to LMDB at once and the flusher thread
 * within FS_FLUSH_MS. The kernel computes O_APPEND offsets, clears
 * setuid/setgid bits on write (it sends a setattr) and does all file
 * locking locally (we implement no lock handlers). Without the (opt-in)
 * writeback cache every write(2) reaches us synchronously, so a restore
 * never races with dirty kernel pages.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fc_log.h"

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* The kernel remembers this for the connection (see the top). */
	fuse_reply_err(req, ENOSYS);
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct fs_inode *ent = NULL;
	int rc;

	rc = fs_inode_ref(ctx, fs_ino(ctx, ino), true, &ent);
	if (rc == 0)
		rc = fs_io_read_lock(ctx, ent);
	if (rc == 0) {
		if (ent->fd < 0) {
			fuse_reply_buf(req, NULL, 0);
		} else {
			buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
			buf.buf[0].fd = ent->fd;
			buf.buf[0].pos = off;
			fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
		}
		pthread_rwlock_unlock(&ent->io);
	} else {
		fs_reply_err(req, rc);
	}
	fs_inode_unref(ctx, ent);
	fs_req_end(ctx);
}

void fs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(bufv));
	struct fs_inode *ent = NULL;
	ssize_t res = 0;
	int rc;

	rc = fs_space_check(ctx, fuse_buf_size(bufv));
	if (rc == 0)
		rc = fs_inode_ref(ctx, fs_ino(ctx, ino), true, &ent);
	if (rc == 0)
		rc = fs_io_write_lock(ctx, ent);
	if (rc == 0) {
		out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		out.buf[0].fd = ent->fd;
		out.buf[0].pos = off;
		res = fuse_buf_copy(&out, bufv, 0);
		if (res < 0)
			rc = (int)res;
		else
			fs_dirty_write(ctx, ent, ent->fd, (uint64_t)off + (uint64_t)res);
		pthread_rwlock_unlock(&ent->io);
	}
	if (rc == 0)
		fuse_reply_write(req, (size_t)res);
	else
		fs_reply_err(req, rc);
	fs_inode_unref(ctx, ent);
	fs_req_end(ctx);
}

/* Only the one file opened before the kernel learned that we have no open. */
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* fsync the blobs/<xx> directory of a blob created by this mount. */
static int fs_sync_blob_dir(struct fs_ctx *ctx, uint64_t blob)
{
	char rel[32];
	char *slash;
	int fd, rc = 0;

	fc_blob_relname(blob, rel);
	slash = strchr(rel, '/');
	if (slash)
		*slash = '\0';
	fd = openat(ctx->st->blobs_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fs_inode *ent = NULL;
	int rc;

	rc = fs_inode_ref(ctx, fs_ino(ctx, ino), true, &ent);
	if (rc == 0 && !ctx->ro)
		rc = fs_dirty_flush_one(ctx, ent);
	if (rc == 0 && !ctx->ro && fs_io_read_lock(ctx, ent) == 0) {
		if (ent->fd >= 0 && (datasync ? fdatasync(ent->fd) : fsync(ent->fd)) < 0)
			rc = -errno;
		if (rc == 0 && ent->dir_unsynced && ent->fd_blob) {
			rc = fs_sync_blob_dir(ctx, ent->fd_blob);
			if (rc == 0)
				ent->dir_unsynced = false;
		}
		pthread_rwlock_unlock(&ent->io);
	}
	if (rc == 0 && !ctx->ro)
		rc = fc_store_sync(ctx->st);
	fs_reply_err(req, rc);
	fs_inode_unref(ctx, ent);
	fs_req_end(ctx);
}

void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		     struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fs_inode *ent = NULL;
	int rc = 0;

	/* Punching holes frees space; allocating takes it. */
	if (!(mode & FALLOC_FL_PUNCH_HOLE))
		rc = fs_space_check(ctx, (uint64_t)length);
	if (rc == 0)
		rc = fs_inode_ref(ctx, fs_ino(ctx, ino), true, &ent);
	if (rc == 0)
		rc = fs_io_write_lock(ctx, ent);
	if (rc == 0) {
		if (fallocate(ent->fd, mode, offset, length) < 0)
			rc = -errno;
		else
			fs_dirty_write(ctx, ent, ent->fd, (mode & FALLOC_FL_KEEP_SIZE) ? 0 :
				       (uint64_t)offset + (uint64_t)length);
		pthread_rwlock_unlock(&ent->io);
	}
	fs_reply_err(req, rc);
	fs_inode_unref(ctx, ent);
	fs_req_end(ctx);
}

void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fs_inode *ent = NULL;
	off_t res = -1;
	int rc;

	rc = fs_inode_ref(ctx, fs_ino(ctx, ino), true, &ent);
	if (rc == 0)
		rc = fs_io_read_lock(ctx, ent);
	if (rc == 0) {
		if (ent->fd < 0)
			rc = -ENXIO; /* no blob: size 0, no data and no hole at off >= 0 */
		else if ((res = lseek(ent->fd, off, whence)) < 0)
			rc = -errno;
		pthread_rwlock_unlock(&ent->io);
	}
	if (rc == 0)
		fuse_reply_lseek(req, res);
	else
		fs_reply_err(req, rc);
	fs_inode_unref(ctx, ent);
	fs_req_end(ctx);
}
