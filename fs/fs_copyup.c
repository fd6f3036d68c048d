/*
 * fs_copyup: the shared blob fd of an inode and copy-on-write.
 *
 * While a file is open, all its handles share one fd of its blob, kept in
 * the inode entry and guarded by the entry's io rwlock: I/O holds it for
 * reading, (re)opening or replacing the fd holds it for writing. A blob is
 * written in place only when it is hot (born in the view's head). The
 * first write to a frozen or base blob copies it up into a new blob of the
 * head (fc_blob_copyup: FICLONE or copy_file_range keeping holes) and swaps
 * the fd under the write lock, so handles opened before a checkpoint
 * continue on the copy. Truncating a frozen blob to 0 makes no copy at all:
 * the inode simply loses its blob.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fc_log.h"

/* Replace ent's fd state; io write-locked. Takes ownership of fd. */
static void fs_io_install(struct fs_inode *ent, int fd, bool rw, uint64_t blob, uint64_t gen)
{
	if (ent->fd >= 0 && ent->fd != fd)
		close(ent->fd);
	ent->fd = fd;
	ent->fd_rw = rw;
	ent->fd_blob = blob;
	ent->fd_blob_gen = gen;
	ent->fd_valid = true;
}

void fs_io_adopt(struct fs_inode *ent, int fd, uint64_t blob, uint64_t blob_gen)
{
	pthread_rwlock_wrlock(&ent->io);
	if (!ent->fd_valid) {
		fs_io_install(ent, fd, true, blob, blob_gen);
		ent->dir_unsynced = true;
		fd = -1;
	}
	pthread_rwlock_unlock(&ent->io);
	if (fd >= 0)
		close(fd);
}

void fs_io_drop(struct fs_inode *ent)
{
	pthread_rwlock_wrlock(&ent->io);
	if (ent->fd >= 0)
		close(ent->fd);
	ent->fd = -1;
	ent->fd_rw = false;
	ent->fd_blob = 0;
	ent->fd_valid = false;
	pthread_rwlock_unlock(&ent->io);
}

static bool fs_blob_hot(const struct fs_ctx *ctx, const struct fc_inode *rec)
{
	return rec->blob != 0 && rec->blob_gen == ctx->view.head && ctx->view.writable;
}

/* Open the fd for reading (writable if the blob is hot); io write-locked. */
static int fs_io_setup_read(struct fs_ctx *ctx, struct fs_inode *ent)
{
	struct fc_txn t = { 0 };
	struct fc_inode rec;
	bool hot = false;
	int fd = -1, rc;

	rc = fs_rtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fc_inode_get(&t, &ctx->view, ent->ino, &rec);
	if (rc == -ENOENT)
		rc = -ESTALE;
	if (rc < 0 || rec.blob == 0)
		goto out;
	hot = fs_blob_hot(ctx, &rec) && !ctx->ro;
	rc = fc_blob_open(ctx->st, &t, rec.blob, hot ? O_RDWR : O_RDONLY, &fd);
	if (rc == -ENOENT)
		rc = -EIO;
out:
	fs_rtxn_end(&t);
	if (rc < 0) {
		if (rc != -ESTALE)
			fc_log(FC_LOG_ERR, "cannot open the data of inode %llu: %s",
			       (unsigned long long)ent->ino, fc_strerror(rc));
		return rc;
	}
	fs_io_install(ent, fd, fd >= 0 && hot, rec.blob, rec.blob_gen);
	return 0;
}

/*
 * In write txn t, make rec's blob a hot own blob and open it writable:
 * the hot blob itself, a new empty blob (no blob yet), or a copy-up.
 * *changed tells whether rec must be put.
 */
static int fs_io_hot_fd(struct fs_ctx *ctx, struct fc_txn *t, struct fc_inode *rec, int *fd_out,
			bool *changed)
{
	uint64_t id = 0, head = ctx->view.head;
	int rc;

	*changed = false;
	if (fs_blob_hot(ctx, rec)) {
		rc = fc_blob_open(ctx->st, t, rec->blob, O_RDWR, fd_out);
		return rc == -ENOENT ? -EIO : rc;
	}
	if (rec->blob == 0)
		rc = fc_blob_create(t, head, &id, fd_out);
	else
		rc = fc_blob_copyup(t, rec->blob, head, &id, fd_out);
	if (rc < 0) {
		fc_log(FC_LOG_ERR, "cannot copy up inode '%s': %s", rec->name, fc_strerror(rc));
		return rc;
	}
	rec->blob = id;
	rec->blob_gen = head;
	*changed = true;
	return 0;
}

/* Make ent's fd a writable fd of a hot blob; io write-locked. */
static int fs_io_setup_write(struct fs_ctx *ctx, struct fs_inode *ent)
{
	struct fc_txn t = { 0 };
	struct fc_inode rec;
	uint64_t seq = 0;
	bool changed = false, took = false;
	int fd = -1, rc;

	rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fc_inode_get(&t, &ctx->view, ent->ino, &rec);
	if (rc == -ENOENT)
		rc = -ESTALE;
	if (rc == 0 && !S_ISREG(rec.mode))
		rc = -EINVAL;
	if (rc == 0)
		rc = fs_io_hot_fd(ctx, &t, &rec, &fd, &changed);
	if (rc == 0 && changed) {
		took = fs_dirty_take(ent, &rec, &seq);
		rc = fc_inode_put(&t, &ctx->view, ent->ino, &rec);
	}
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (took)
		fs_dirty_done(ctx, ent, seq);
	if (changed)
		ent->dir_unsynced = true;
	fs_io_install(ent, fd, true, rec.blob, rec.blob_gen);
	return 0;
}

int fs_io_read_lock(struct fs_ctx *ctx, struct fs_inode *ent)
{
	int rc = 0;

	for (;;) {
		pthread_rwlock_rdlock(&ent->io);
		if (ent->fd_valid)
			return 0;
		pthread_rwlock_unlock(&ent->io);
		pthread_rwlock_wrlock(&ent->io);
		if (!ent->fd_valid)
			rc = fs_io_setup_read(ctx, ent);
		pthread_rwlock_unlock(&ent->io);
		if (rc < 0)
			return rc;
	}
}

static bool fs_io_writable(const struct fs_ctx *ctx, const struct fs_inode *ent)
{
	return ent->fd_valid && ent->fd_rw && ent->fd >= 0 && ent->fd_blob_gen == ctx->view.head;
}

int fs_io_write_lock(struct fs_ctx *ctx, struct fs_inode *ent)
{
	int rc = 0;

	if (ctx->ro || !ctx->view.writable)
		return -EROFS;
	for (;;) {
		pthread_rwlock_rdlock(&ent->io);
		if (fs_io_writable(ctx, ent))
			return 0;
		pthread_rwlock_unlock(&ent->io);
		pthread_rwlock_wrlock(&ent->io);
		if (!fs_io_writable(ctx, ent))
			rc = fs_io_setup_write(ctx, ent);
		pthread_rwlock_unlock(&ent->io);
		if (rc < 0)
			return rc;
	}
}

/* Truncate with io write-locked; see fs_io_truncate. */
static int fs_io_truncate_locked(struct fs_ctx *ctx, struct fs_inode *ent, uint64_t size)
{
	struct fc_txn t = { 0 };
	struct fc_inode rec;
	uint64_t seq = 0;
	bool changed = false, took = false;
	int fd = -1, rc;

	rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fc_inode_get(&t, &ctx->view, ent->ino, &rec);
	if (rc == -ENOENT)
		rc = -ESTALE;
	if (rc < 0)
		goto out;
	took = fs_dirty_take(ent, &rec, &seq);
	if (size == 0 && !fs_blob_hot(ctx, &rec)) {
		/* Nothing of a frozen blob survives: drop it, copy nothing. */
		rec.blob = 0;
		rec.blob_gen = 0;
	} else {
		rc = fs_io_hot_fd(ctx, &t, &rec, &fd, &changed);
		if (rc == 0 && ftruncate(fd, (off_t)size) < 0)
			rc = -errno;
	}
	rec.size = size;
	rec.mtime = fs_now();
	rec.ctime = rec.mtime;
	if (rc == 0)
		rc = fc_inode_put(&t, &ctx->view, ent->ino, &rec);
out:
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (took)
		fs_dirty_done(ctx, ent, seq);
	if (changed)
		ent->dir_unsynced = true;
	fs_io_install(ent, fd, fd >= 0, rec.blob, rec.blob_gen);
	return 0;
}

int fs_io_truncate(struct fs_ctx *ctx, struct fs_inode *ent, uint64_t size)
{
	int rc;

	pthread_rwlock_wrlock(&ent->io);
	rc = fs_io_truncate_locked(ctx, ent, size);
	pthread_rwlock_unlock(&ent->io);
	return rc;
}
