/*
 * fs_attr: attributes as the kernel sees them, and the attribute overlay.
 *
 * Writes never open an LMDB write txn: the new size and mtime of a file
 * live in its in-memory entry ("dirty") until fsync, a size change,
 * checkpoint, sync, unmount or the flusher thread writes them. So do the
 * mode, owner and times a setattr gives a non-directory (chmod, chown,
 * utimes: cp -a and chown -R make one or two per file, each a commit
 * before); a directory's stay direct, since creating in it reads its mode
 * and group (setgid) from LMDB. Closing a file writes
 * nothing: the flusher batches the overlays of all files written in the
 * last FS_FLUSH_MS into one txn, where a txn per close cost as much as the
 * close's round trip. Nothing is lost by waiting: a hot blob's file size
 * is its logical size, and crash recovery takes sizes from the files. getattr and
 * lookup show the overlay on top of the record. The size after a write is
 * taken from the blob file itself (the blob file's size always equals the
 * logical size of a hot blob), so crash recovery can do the same.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fc_log.h"

#define FS_FLUSH_MS 500

static bool fs_ts_after(struct fc_ts a, struct fc_ts b)
{
	return a.sec > b.sec || (a.sec == b.sec && a.nsec > b.nsec);
}

static void fs_ts_set(struct timespec *out, struct fc_ts ts)
{
	out->tv_sec = ts.sec;
	out->tv_nsec = ts.nsec;
}

/*
 * Allocated 512-byte blocks: those of an own blob file (so sparse files
 * look sparse to du), else an estimate from the size (base blobs, no blob).
 * Base blobs are born in the view's root generation (the init), where no
 * own blob is ever born: they are recognised without a failing fstatat.
 */
static blkcnt_t fs_attr_blocks(const struct fs_ctx *ctx, const struct fc_inode *rec, off_t size)
{
	struct stat bs;
	char rel[32];

	if (S_ISREG(rec->mode) && rec->blob != 0 &&
	    !(ctx->view.n > 0 && rec->blob_gen == ctx->view.gens[0])) {
		fc_blob_relname(rec->blob, rel);
		if (fstatat(ctx->st->blobs_fd, rel, &bs, AT_SYMLINK_NOFOLLOW) == 0)
			return bs.st_blocks;
	}
	return (size + 511) / 512;
}

void fs_attr_fill(const struct fs_ctx *ctx, uint64_t ino, const struct fc_inode *rec,
		  struct fs_inode *ent, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = rec->mode;
	st->st_nlink = rec->nlink;
	st->st_uid = rec->uid;
	st->st_gid = rec->gid;
	st->st_rdev = rec->rdev;
	st->st_size = (off_t)rec->size;
	st->st_blksize = 4096;
	fs_ts_set(&st->st_atim, rec->atime);
	fs_ts_set(&st->st_mtim, rec->mtime);
	fs_ts_set(&st->st_ctim, rec->ctime);
	if (ent) {
		struct fc_inode o = *rec;

		if (fs_dirty_peek(ent, &o)) {
			st->st_mode = o.mode;
			st->st_uid = o.uid;
			st->st_gid = o.gid;
			st->st_size = (off_t)o.size;
			fs_ts_set(&st->st_atim, o.atime);
			fs_ts_set(&st->st_mtim, o.mtime);
			fs_ts_set(&st->st_ctim, o.ctime);
		}
	}
	st->st_blocks = fs_attr_blocks(ctx, rec, st->st_size);
}

int fs_entry_fill(struct fs_ctx *ctx, struct fc_txn *t, uint64_t ino, struct fuse_entry_param *e)
{
	struct fc_inode rec;
	struct fs_inode *ent;
	int rc;

	rc = fc_inode_get(t, &ctx->view, ino, &rec);
	if (rc < 0)
		return rc;
	memset(e, 0, sizeof(*e));
	ent = fs_inode_find(ctx, ino);
	fs_attr_fill(ctx, ino, &rec, ent, &e->attr);
	fs_inode_unref(ctx, ent);
	e->ino = fs_nodeid(ctx, ino);
	e->generation = 0;
	e->attr_timeout = FS_TIMEOUT;
	e->entry_timeout = FS_TIMEOUT;
	return 0;
}

/* Apply ent's overlay to rec; ent->lock held. */
static void fs_dirty_apply(const struct fs_inode *ent, struct fc_inode *rec)
{
	if (ent->dmask & FS_D_SIZE)
		rec->size = ent->size;
	if (ent->dmask & FS_D_MTIME)
		rec->mtime = ent->mtime;
	if (ent->dmask & FS_D_ATIME)
		rec->atime = ent->atime;
	if (ent->dmask & FS_D_MODE)
		rec->mode = (rec->mode & S_IFMT) | (ent->mode & 07777);
	if (ent->dmask & FS_D_UID)
		rec->uid = ent->uid;
	if (ent->dmask & FS_D_GID)
		rec->gid = ent->gid;
	if (fs_ts_after(ent->ctime, rec->ctime))
		rec->ctime = ent->ctime;
}

bool fs_dirty_peek(struct fs_inode *ent, struct fc_inode *rec)
{
	bool dirty;

	pthread_mutex_lock(&ent->lock);
	dirty = ent->dirty;
	if (dirty)
		fs_dirty_apply(ent, rec);
	pthread_mutex_unlock(&ent->lock);
	return dirty;
}

bool fs_dirty_take(struct fs_inode *ent, struct fc_inode *rec, uint64_t *seq)
{
	bool took = false;

	if (!ent)
		return false;
	pthread_mutex_lock(&ent->lock);
	if (ent->dirty) {
		fs_dirty_apply(ent, rec);
		*seq = ent->dirty_seq;
		took = true;
	}
	pthread_mutex_unlock(&ent->lock);
	return took;
}

/* Remove ent from the dirty list (dirty_lock held); returns true if it was on it. */
static bool fs_dirty_unlist(struct fs_ctx *ctx, struct fs_inode *ent)
{
	if (!ent->on_dirty_list)
		return false;
	if (ent->dprev)
		ent->dprev->dnext = ent->dnext;
	else
		ctx->dirty_head = ent->dnext;
	if (ent->dnext)
		ent->dnext->dprev = ent->dprev;
	ent->dnext = ent->dprev = NULL;
	ent->on_dirty_list = false;
	return true;
}

void fs_dirty_done(struct fs_ctx *ctx, struct fs_inode *ent, uint64_t seq)
{
	bool unref = false;

	pthread_mutex_lock(&ent->lock);
	if (ent->dirty && ent->dirty_seq == seq) {
		ent->dirty = false;
		ent->dmask = 0;
		pthread_mutex_lock(&ctx->dirty_lock);
		unref = fs_dirty_unlist(ctx, ent);
		pthread_mutex_unlock(&ctx->dirty_lock);
	}
	pthread_mutex_unlock(&ent->lock);
	if (unref)
		fs_inode_unref(ctx, ent);
}

/* Mark ent's overlay changed and list it for the flusher; ent->lock held. */
static void fs_dirty_mark(struct fs_ctx *ctx, struct fs_inode *ent, uint8_t fields)
{
	ent->dmask |= fields;
	ent->dirty = true;
	ent->dirty_seq++;
	pthread_mutex_lock(&ctx->dirty_lock);
	if (!ent->on_dirty_list) {
		ent->on_dirty_list = true;
		ent->dprev = NULL;
		ent->dnext = ctx->dirty_head;
		if (ctx->dirty_head)
			ctx->dirty_head->dprev = ent;
		ctx->dirty_head = ent;
		/* The list's reference (lock order: ent, dirty list, table). */
		pthread_mutex_lock(&ctx->itab.lock);
		ent->nref++;
		pthread_mutex_unlock(&ctx->itab.lock);
	}
	pthread_mutex_unlock(&ctx->dirty_lock);
}

void fs_dirty_write(struct fs_ctx *ctx, struct fs_inode *ent, int fd, uint64_t end)
{
	struct stat st;

	pthread_mutex_lock(&ent->lock);
	if (!(ent->dmask & FS_D_SIZE)) {
		ent->size = 0;
		if (fstat(fd, &st) == 0)
			ent->size = (uint64_t)st.st_size;
	}
	if (end > ent->size)
		ent->size = end;
	ent->mtime = fs_now();
	ent->ctime = ent->mtime;
	fs_dirty_mark(ctx, ent, FS_D_SIZE | FS_D_MTIME);
	pthread_mutex_unlock(&ent->lock);
}

static struct fc_ts fs_ts_of(const struct timespec *ts)
{
	struct fc_ts r = { .sec = ts->tv_sec, .nsec = (uint32_t)ts->tv_nsec };

	return r;
}

void fs_dirty_setattr(struct fs_ctx *ctx, struct fs_inode *ent, const struct stat *attr,
		      int to_set)
{
	struct fc_ts now = fs_now();
	uint8_t fields = 0;

	pthread_mutex_lock(&ent->lock);
	if (to_set & FUSE_SET_ATTR_MODE) {
		ent->mode = attr->st_mode & 07777;
		fields |= FS_D_MODE;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		ent->uid = attr->st_uid;
		fields |= FS_D_UID;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		ent->gid = attr->st_gid;
		fields |= FS_D_GID;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_ATIME)) {
		ent->atime = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now : fs_ts_of(&attr->st_atim);
		fields |= FS_D_ATIME;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_MTIME)) {
		ent->mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now : fs_ts_of(&attr->st_mtim);
		fields |= FS_D_MTIME;
	}
	/* ctime only moves forward in the overlay (see fs_dirty_apply). */
	ent->ctime = (to_set & FUSE_SET_ATTR_CTIME) ? fs_ts_of(&attr->st_ctim) : now;
	fs_dirty_mark(ctx, ent, fields);
	pthread_mutex_unlock(&ent->lock);
}

/* Write ent's overlay into its record in t. *took tells whether there was one. */
static int fs_dirty_put(struct fs_ctx *ctx, struct fc_txn *t, struct fs_inode *ent,
			uint64_t *seq, bool *took)
{
	struct fc_inode rec;
	int rc;

	*took = false;
	rc = fc_inode_get(t, &ctx->view, ent->ino, &rec);
	if (rc == -ENOENT) {
		/* Deleted: drop the overlay so the entry is not pinned. */
		pthread_mutex_lock(&ent->lock);
		*seq = ent->dirty_seq;
		*took = ent->dirty;
		pthread_mutex_unlock(&ent->lock);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!fs_dirty_take(ent, &rec, seq))
		return 0;
	*took = true;
	return fc_inode_put(t, &ctx->view, ent->ino, &rec);
}

int fs_dirty_flush_one(struct fs_ctx *ctx, struct fs_inode *ent)
{
	struct fc_txn t = { 0 };
	uint64_t seq = 0;
	bool took;
	int rc;

	pthread_mutex_lock(&ent->lock);
	took = ent->dirty;
	pthread_mutex_unlock(&ent->lock);
	if (!took)
		return 0;
	rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fs_dirty_put(ctx, &t, ent, &seq, &took);
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
	if (rc == 0 && took)
		fs_dirty_done(ctx, ent, seq);
	return rc;
}

/* Take a reference on every listed entry; returns the array (caller frees). */
static int fs_dirty_snapshot(struct fs_ctx *ctx, struct fs_inode ***out, size_t *n)
{
	struct fs_inode **arr = NULL, *e;
	size_t cnt = 0, i = 0;

	pthread_mutex_lock(&ctx->dirty_lock);
	for (e = ctx->dirty_head; e; e = e->dnext)
		cnt++;
	if (cnt)
		arr = calloc(cnt, sizeof(*arr));
	if (cnt && !arr) {
		pthread_mutex_unlock(&ctx->dirty_lock);
		return -ENOMEM;
	}
	pthread_mutex_lock(&ctx->itab.lock);
	for (e = ctx->dirty_head; e; e = e->dnext) {
		e->nref++;
		arr[i++] = e;
	}
	pthread_mutex_unlock(&ctx->itab.lock);
	pthread_mutex_unlock(&ctx->dirty_lock);
	*out = arr;
	*n = cnt;
	return 0;
}

/* fs_dirty_flush_all, logging a failure at level. */
static int fs_dirty_flush_all_log(struct fs_ctx *ctx, int level)
{
	struct fs_inode **arr = NULL;
	uint64_t *seqs = NULL;
	bool *took = NULL;
	struct fc_txn t = { 0 };
	size_t n = 0, i;
	int rc;

	/* Forgotten unlinked files go too: a switch or sync then sees them gone. */
	fs_inode_reap_pending(ctx);
	rc = fs_dirty_snapshot(ctx, &arr, &n);
	if (rc < 0 || n == 0)
		return rc;
	seqs = calloc(n, sizeof(*seqs));
	took = calloc(n, sizeof(*took));
	rc = (seqs && took) ? fs_wtxn_begin(ctx, &t) : -ENOMEM;
	for (i = 0; rc == 0 && i < n; i++)
		rc = fs_dirty_put(ctx, &t, arr[i], &seqs[i], &took[i]);
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
	for (i = 0; i < n; i++) {
		if (rc == 0 && took[i])
			fs_dirty_done(ctx, arr[i], seqs[i]);
		fs_inode_unref(ctx, arr[i]);
	}
	if (rc < 0)
		fc_log(level, "cannot write file sizes to the store: %s", fc_strerror(rc));
	free(took);
	free(seqs);
	free(arr);
	return rc;
}

int fs_dirty_flush_all(struct fs_ctx *ctx)
{
	return fs_dirty_flush_all_log(ctx, FC_LOG_ERR);
}

/* Whether any overlay or forgotten unlinked inode waits to be written. */
static bool fs_dirty_any(struct fs_ctx *ctx)
{
	bool any;

	pthread_mutex_lock(&ctx->dirty_lock);
	any = ctx->dirty_head != NULL || ctx->nreap > 0;
	pthread_mutex_unlock(&ctx->dirty_lock);
	return any;
}

static void *fs_flusher_main(void *arg)
{
	struct fs_ctx *ctx = arg;
	struct timespec ts;

	pthread_mutex_lock(&ctx->flush_lock);
	while (!ctx->flush_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += FS_FLUSH_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (!ctx->sync_want)
			pthread_cond_timedwait(&ctx->flush_cond, &ctx->flush_lock, &ts);
		if (ctx->flush_stop)
			break;
		bool sync = ctx->sync_want;

		ctx->sync_want = false;
		pthread_mutex_unlock(&ctx->flush_lock);
		if (fs_dirty_any(ctx)) {
			/* Like a request: the view must not switch under the txn.
			 * A failure (a full disk) is retried on the next turn. */
			pthread_rwlock_rdlock(&ctx->view_lock);
			fs_dirty_flush_all_log(ctx, FC_LOG_WARN);
			pthread_rwlock_unlock(&ctx->view_lock);
		}
		/* Switches asked for in a burst share this one fsync. */
		if (sync) {
			int rc = fc_store_sync(ctx->st);

			if (rc < 0)
				fc_log(FC_LOG_ERR, "cannot sync the store after a switch: %s",
				       fc_strerror(rc));
		}
		pthread_mutex_lock(&ctx->flush_lock);
	}
	pthread_mutex_unlock(&ctx->flush_lock);
	return NULL;
}

int fs_flusher_start(struct fs_ctx *ctx)
{
	pthread_condattr_t ca;
	int rc;

	if (ctx->ro)
		return 0;
	pthread_mutex_init(&ctx->flush_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctx->flush_cond, &ca);
	pthread_condattr_destroy(&ca);
	ctx->flush_stop = false;
	ctx->sync_want = false;
	rc = pthread_create(&ctx->flush_thread, NULL, fs_flusher_main, ctx);
	if (rc != 0) {
		pthread_cond_destroy(&ctx->flush_cond);
		pthread_mutex_destroy(&ctx->flush_lock);
		return -rc;
	}
	ctx->flush_started = true;
	return 0;
}

bool fs_flusher_sync_soon(struct fs_ctx *ctx)
{
	if (!ctx->flush_started)
		return false;
	pthread_mutex_lock(&ctx->flush_lock);
	ctx->sync_want = true;
	pthread_cond_signal(&ctx->flush_cond);
	pthread_mutex_unlock(&ctx->flush_lock);
	return true;
}

void fs_flusher_stop(struct fs_ctx *ctx)
{
	if (!ctx->flush_started)
		return;
	pthread_mutex_lock(&ctx->flush_lock);
	ctx->flush_stop = true;
	pthread_cond_signal(&ctx->flush_cond);
	pthread_mutex_unlock(&ctx->flush_lock);
	pthread_join(ctx->flush_thread, NULL);
	pthread_cond_destroy(&ctx->flush_cond);
	pthread_mutex_destroy(&ctx->flush_lock);
	ctx->flush_started = false;
}
