/*
 * fs_copyup: the cached blob fd of an inode, and copy-on-write.
 *
 * All handles of a file share one fd of its blob, kept in the inode entry
 * and guarded by the entry's io rwlock: I/O holds it for reading,
 * (re)opening or replacing the fd holds it for writing. We are not told
 * when files close (fs_ops_file.c), so the fd stays until the kernel
 * forgets the inode, a restore drops it, or the cache trims itself: past
 * FS_FD_MAX cached fds, every fd not used during the last FS_FD_KEEP opens
 * is closed (one walk of the inode table per FS_FD_MAX - FS_FD_KEEP opens,
 * skipping fds in use). The next I/O reopens a dropped fd. A blob is
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
#include <stdatomic.h>
#include <unistd.h>

#include "fc_log.h"

/* Well under the ~20 000 open files a process gets, LMDB and sockets aside. */
#define FS_FD_MAX 4096
#define FS_FD_KEEP 1024

/* Process-wide, like the fd table they account for. */
static atomic_uint fs_fd_count;     /* blob fds held by entries */
static atomic_uint_fast64_t fs_fd_clock; /* ticks once per fd opened */

static void fs_io_touch(struct fs_inode *ent)
{
	__atomic_store_n(&ent->fd_used, atomic_load_explicit(&fs_fd_clock, memory_order_relaxed),
			 __ATOMIC_RELAXED);
}

/* Close ent's fd and forget it; io write-locked (or ent unreachable). */
static void fs_io_clear(struct fs_inode *ent)
{
	if (ent->fd >= 0) {
		close(ent->fd);
		atomic_fetch_sub(&fs_fd_count, 1);
	}
	ent->fd = -1;
	ent->fd_rw = false;
	ent->fd_blob = 0;
	ent->fd_valid = false;
}

struct fs_trim {
	uint_fast64_t before;   /* fds last used before this tick are closed */
	unsigned int closed;
};

/* Table lock held: never block, so an fd in use (io locked) is skipped. */
static void fs_io_trim_one(struct fs_inode *ent, void *arg)
{
	struct fs_trim *tr = arg;

	if (pthread_rwlock_trywrlock(&ent->io) != 0)
		return;
	if (ent->fd >= 0 && __atomic_load_n(&ent->fd_used, __ATOMIC_RELAXED) < tr->before) {
		fs_io_clear(ent);
		tr->closed++;
	}
	pthread_rwlock_unlock(&ent->io);
}

static void fs_io_trim(struct fs_ctx *ctx)
{
	struct fs_trim tr = { 0 };
	uint_fast64_t now = atomic_load(&fs_fd_clock);

	if (atomic_load(&fs_fd_count) <= FS_FD_MAX || now <= FS_FD_KEEP)
		return;
	tr.before = now - FS_FD_KEEP;
	fs_itable_each(ctx, fs_io_trim_one, &tr);
	fc_log(FC_LOG_DEBUG, "fd cache: closed %u fds, %u left", tr.closed,
	       atomic_load(&fs_fd_count));
}

/* Replace ent's fd state; io write-locked. Takes ownership of fd. */
static void fs_io_install(struct fs_inode *ent, int fd, bool rw, uint64_t blob, uint64_t gen)
{
	if (ent->fd != fd) {
		fs_io_clear(ent);
		if (fd >= 0)
			atomic_fetch_add(&fs_fd_count, 1);
	}
	ent->fd = fd;
	ent->fd_rw = rw;
	ent->fd_blob = blob;
	ent->fd_blob_gen = gen;
	ent->fd_valid = true;
	__atomic_store_n(&ent->fd_used, atomic_fetch_add(&fs_fd_clock, 1) + 1, __ATOMIC_RELAXED);
}

void fs_io_adopt(struct fs_ctx *ctx, struct fs_inode *ent, int fd, uint64_t blob,
		 uint64_t blob_gen)
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
	fs_io_trim(ctx);
}

void fs_io_drop(struct fs_inode *ent)
{
	pthread_rwlock_wrlock(&ent->io);
	fs_io_clear(ent);
	pthread_rwlock_unlock(&ent->io);
}

void fs_io_forget(struct fs_inode *ent)
{
	fs_io_clear(ent);
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
		if (ent->fd_valid) {
			fs_io_touch(ent);
			return 0;
		}
		pthread_rwlock_unlock(&ent->io);
		pthread_rwlock_wrlock(&ent->io);
		if (!ent->fd_valid)
			rc = fs_io_setup_read(ctx, ent);
		pthread_rwlock_unlock(&ent->io);
		if (rc < 0)
			return rc;
		fs_io_trim(ctx);
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
		if (fs_io_writable(ctx, ent)) {
			fs_io_touch(ent);
			return 0;
		}
		pthread_rwlock_unlock(&ent->io);
		pthread_rwlock_wrlock(&ent->io);
		if (!fs_io_writable(ctx, ent))
			rc = fs_io_setup_write(ctx, ent);
		pthread_rwlock_unlock(&ent->io);
		if (rc < 0)
			return rc;
		fs_io_trim(ctx);
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
	fs_io_trim(ctx);
	return rc;
}
