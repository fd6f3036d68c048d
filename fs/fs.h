/*
 * fs.h: the internal state of forkcellfs shared by its modules.
 *
 * One struct fs_ctx per process (the FUSE session's userdata). Every FUSE
 * request takes ctx->view_lock for reading exactly once (fs_req_begin /
 * fs_req_end); checkpoint and restore take it for writing, so a request
 * never sees the view change under it. The lock prefers writers, so a
 * handler must never take it twice.
 *
 * Inodes: FUSE nodeid 1 is the cell's root_ino, every other nodeid is our
 * inode number (store-global, never reused, so generation numbers are 0).
 * The in-memory table (fs_inode.c) holds an entry for every inode the
 * kernel knows (nlookup > 0) or a request is using. Attributes are not
 * cached here: LMDB reads are cheap and the kernel caches them for a day.
 * What lives here is the state LMDB does not have yet (size/mtime of
 * writes, "dirty") and the inode's cached blob fd.
 *
 * Regular files have no OPEN, CREATE, FLUSH or RELEASE requests: open
 * replies ENOSYS once, after which the kernel opens and closes files
 * without asking us (FUSE's "no open" mode), and creates come as MKNOD.
 * Nothing tells us when a file is closed, so an unlinked regular file is
 * deleted when the kernel forgets its inode (it keeps the inode while any
 * process holds it open), and blob fds are kept in a bounded cache
 * (fs_copyup.c).
 */
#ifndef FS_H
#define FS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <fuse_lowlevel.h>

#include "fc_store.h"

#define FS_TIMEOUT 86400.0 /* entry and attr timeouts: only we change the tree */

struct fs_inode {
	uint64_t ino;
	struct fs_inode *hnext;   /* hash chain; table lock */

	/* Guarded by the table lock. The entry is freed when both are 0. */
	uint64_t nlookup;         /* kernel references (lookup count) */
	uint32_t nref;            /* requests and the dirty list using it */
	bool maybe_orphan;        /* nlink may have reached 0: check on forget */

	/* Guarded by lock: the overlay of attributes not yet in LMDB. */
	pthread_mutex_t lock;
	bool dirty;               /* dmask != 0 */
	uint8_t dmask;            /* FS_D_* fields valid in the overlay */
	uint64_t dirty_seq;       /* bumped on every change of the overlay */
	uint64_t size;
	struct fc_ts atime, mtime, ctime; /* ctime: valid with any field */
	uint32_t mode;            /* permission bits only */
	uint32_t uid, gid;
	struct fs_inode *dnext, *dprev; /* dirty list; ctx->dirty_lock */
	bool on_dirty_list;       /* ctx->dirty_lock; the list holds one nref */

	/* Guarded by io: read-locked by I/O, write-locked to change the fd. */
	pthread_rwlock_t io;
	bool fd_valid;            /* fd/fd_blob/... describe the current record */
	int fd;                   /* cached blob fd, -1 = none (blob 0 or not open) */
	uint64_t fd_used;         /* fd cache clock at its last use (relaxed atomic) */
	bool fd_rw;               /* fd is a writable fd of a hot own blob */
	uint64_t fd_blob;         /* blob id the fd belongs to, 0 = none */
	uint64_t fd_blob_gen;     /* its birth generation */
	bool dir_unsynced;        /* blob created here: fsync its directory on fsync */
};

/* Overlay fields (struct fs_inode dmask). */
#define FS_D_SIZE 0x01
#define FS_D_MTIME 0x02
#define FS_D_ATIME 0x04
#define FS_D_MODE 0x08
#define FS_D_UID 0x10
#define FS_D_GID 0x20

struct fs_itable {
	pthread_mutex_t lock;
	struct fs_inode **buckets;
	size_t nbuckets;          /* power of two */
	size_t count;
};

struct fs_opts {
	char *store;
	char *mountpoint;         /* absolute (realpath) */
	char *cell;
	char *checkpoint;         /* time-travel reference, NULL for the live cell */
	char *log;
	char *fsname;
	bool foreground;
	bool debug;
	bool ro;
	bool allow_other;
	bool default_permissions;
	bool writeback;           /* -o writeback_cache (see fs_op_init) */
	unsigned int threads;     /* -o threads=N: 1 = single-threaded loop */
};

#define FS_THREADS_MAX 64

/* ---- command line (fs_opts.c) ---- */

/* Parse argv into o (zeroed first). 0, 1 for --help, FC_EUSAGE or -errno (message printed). */
int fs_opts_parse(struct fs_opts *o, int argc, char **argv);
void fs_opts_release(struct fs_opts *o);
void fs_usage(FILE *out);
/* The arguments for fuse_session_new (mount options included). */
int fs_opts_fuse_args(const struct fs_opts *o, struct fuse_args *args);

struct fs_ctx {
	struct fs_opts *opts;
	struct fc_store *st;
	const char *cell;
	uint64_t ckpt;            /* time-travel generation, 0 = live cell */
	bool ro;                  /* every modifying op returns EROFS */
	struct fuse_session *se;

	pthread_rwlock_t view_lock;
	struct fc_view view;      /* view_lock */

	struct fs_itable itab;

	pthread_mutex_t dirty_lock;
	struct fs_inode *dirty_head;
	/* Unlinked inodes the kernel forgot, to delete in the flusher's next
	 * txn (one txn for a whole rm -rf, not one per forget); dirty_lock. */
	uint64_t *reap;
	size_t nreap, reap_cap;

	/* The overlay flusher (fs_attr.c): writes the overlays of closed
	 * files in one txn every FS_FLUSH_MS, and fsyncs the store when the
	 * control thread asks (sync_want) after a switch. flush_lock guards
	 * the rest. */
	pthread_t flush_thread;
	bool flush_started;
	pthread_mutex_t flush_lock;
	pthread_cond_t flush_cond;
	bool flush_stop;
	bool sync_want;

	int lock_fd;              /* writer lock, -1 if none */
	int ctl_fd;               /* listening control socket, -1 if none */
	int ctl_wake[2];          /* pipe that stops the control thread */
	pthread_t ctl_thread;
	bool ctl_started;
	/* A generation switch committed without fsync: after replying, the
	 * control thread hands the fsync to the flusher (see fs_ctl_answer).
	 * Control thread only. */
	bool sync_pending;
	bool info_written;
	int64_t started;
	/* Free bytes of the store's file system, and when they were read
	 * (CLOCK_MONOTONIC ns): fs_space_check (atomics, no lock). */
	uint64_t space_free;
	int64_t space_checked_ns;
};

/* ---- requests (fs_inode.c) ---- */

/* Take the view lock for reading; returns the context. */
struct fs_ctx *fs_req_begin(fuse_req_t req);
void fs_req_end(struct fs_ctx *ctx);

/* Reply rc (0, -errno or FC code) as an error reply. */
void fs_reply_err(fuse_req_t req, int rc);

/* Map a FUSE nodeid to an inode number and back. */
uint64_t fs_ino(const struct fs_ctx *ctx, fuse_ino_t nodeid);
fuse_ino_t fs_nodeid(const struct fs_ctx *ctx, uint64_t ino);

/*
 * A read transaction for this request: a per-thread LMDB read txn, renewed
 * (so it sees the latest commit) and reset again by fs_rtxn_end. 0 or <0.
 */
int fs_rtxn_begin(struct fs_ctx *ctx, struct fc_txn *t);
void fs_rtxn_end(struct fc_txn *t);
/* Abort this thread's cached read txn (before the store closes). */
void fs_rtxn_thread_release(void);
/* A write txn; -EROFS on read-only mounts. Commit with fc_txn_commit. */
int fs_wtxn_begin(struct fs_ctx *ctx, struct fc_txn *t);

/* Current time as fc_ts. */
struct fc_ts fs_now(void);

/* ---- inode table (fs_inode.c) ---- */

int fs_itable_init(struct fs_itable *it);
/* Frees every entry (closing fds); at shutdown only. */
void fs_itable_release(struct fs_itable *it);

/* Find the entry of ino and take a reference; creates it when create. */
int fs_inode_ref(struct fs_ctx *ctx, uint64_t ino, bool create, struct fs_inode **out);
/* Find without creating; NULL when absent (then nothing to release). */
struct fs_inode *fs_inode_find(struct fs_ctx *ctx, uint64_t ino);
void fs_inode_unref(struct fs_ctx *ctx, struct fs_inode *ent);
/* Count one kernel lookup of ino (reply_entry/create/readdirplus). */
int fs_inode_lookup_inc(struct fs_ctx *ctx, uint64_t ino);
/* Mark ino as possibly unlinked (checked for deletion on its last forget). */
void fs_inode_mark_orphan(struct fs_ctx *ctx, uint64_t ino);
/* Whether the kernel references ino (it may then be open: an unlinked
 * regular file must survive until the kernel forgets it). */
bool fs_inode_known(struct fs_ctx *ctx, uint64_t ino);
/* After an unlink: delete the record now if the kernel does not know the inode. */
void fs_inode_reap_check(struct fs_ctx *ctx, uint64_t ino);
/* Delete the forgotten unlinked inodes queued so far, in one txn (view lock held). */
void fs_inode_reap_pending(struct fs_ctx *ctx);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
/* Call cb for each entry (table lock held: cb must not block or re-enter). */
void fs_itable_each(struct fs_ctx *ctx, void (*cb)(struct fs_inode *ent, void *arg), void *arg);

/* ---- attributes and the write overlay (fs_attr.c) ---- */

/* Fill st from rec (and ent's overlay when ent is non-NULL and dirty). */
void fs_attr_fill(const struct fs_ctx *ctx, uint64_t ino, const struct fc_inode *rec,
		  struct fs_inode *ent, struct stat *st);
/* Read ino's record in t and fill a FUSE entry for it. */
int fs_entry_fill(struct fs_ctx *ctx, struct fc_txn *t, uint64_t ino, struct fuse_entry_param *e);
/*
 * Copy ent's overlay into rec; *seq receives the overlay version to pass
 * to fs_dirty_done after the commit. Returns true if something was copied.
 */
bool fs_dirty_take(struct fs_inode *ent, struct fc_inode *rec, uint64_t *seq);
/* Apply ent's overlay (if any) to rec without taking it; true if there was one. */
bool fs_dirty_peek(struct fs_inode *ent, struct fc_inode *rec);
/* The overlay up to seq is in LMDB: clear it unless it changed since. */
void fs_dirty_done(struct fs_ctx *ctx, struct fs_inode *ent, uint64_t seq);
/* After a write or an extending fallocate through fd: update the overlay. */
void fs_dirty_write(struct fs_ctx *ctx, struct fs_inode *ent, int fd, uint64_t end);
/*
 * A setattr of mode, owner or times (FUSE_SET_ATTR_*, no size) of a
 * non-directory: into the overlay, no txn (the flusher writes it).
 */
void fs_dirty_setattr(struct fs_ctx *ctx, struct fs_inode *ent, const struct stat *attr,
		      int to_set);
/* Write the overlay of ent (if any) to LMDB in its own txn. */
int fs_dirty_flush_one(struct fs_ctx *ctx, struct fs_inode *ent);
/* Write every dirty overlay in one txn (checkpoint, sync, unmount). */
int fs_dirty_flush_all(struct fs_ctx *ctx);
/*
 * Start / stop the thread that writes all dirty overlays every FS_FLUSH_MS
 * (so closing a written file costs no txn of its own). Stop before the
 * final fs_dirty_flush_all of unmount. 0 or -errno.
 */
int fs_flusher_start(struct fs_ctx *ctx);
void fs_flusher_stop(struct fs_ctx *ctx);
/* Ask the flusher to fsync the store soon; false when it does not run
 * (read-only mount), and the caller syncs itself. */
bool fs_flusher_sync_soon(struct fs_ctx *ctx);

/* ---- copy-up and the shared blob fd (fs_copyup.c) ---- */

/*
 * Make ent->fd usable for reading and return with ent->io read-locked
 * (release with pthread_rwlock_unlock). ent->fd may be -1 (no blob: reads
 * give EOF). -ESTALE when the inode no longer exists in the view.
 */
int fs_io_read_lock(struct fs_ctx *ctx, struct fs_inode *ent);
/* As fs_io_read_lock, with ent->fd a writable fd of a hot blob (copy-up). */
int fs_io_write_lock(struct fs_ctx *ctx, struct fs_inode *ent);
/* Truncate ino to size (copy-up, or a fresh empty file for size 0). */
int fs_io_truncate(struct fs_ctx *ctx, struct fs_inode *ent, uint64_t size);
/*
 * Give a freshly created file's writable fd of its hot blob (id blob, born
 * in blob_gen: the head that created it) to ent. Takes ownership of fd.
 */
void fs_io_adopt(struct fs_ctx *ctx, struct fs_inode *ent, int fd, uint64_t blob,
		 uint64_t blob_gen);
/* Drop the cached fd (restore); the next I/O reopens it. */
void fs_io_drop(struct fs_inode *ent);
/* Close the fd of an entry being freed (nothing else can use it). */
void fs_io_forget(struct fs_inode *ent);

/* ---- handlers ---- */

void fs_op_init(void *userdata, struct fuse_conn_info *conn);
void fs_op_destroy(void *userdata);
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		     struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		     struct fuse_file_info *fi);
void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi);

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ---- generations (fs_gen.c) ---- */

/* Load the view to serve (head of the cell, or the time-travel checkpoint). */
int fs_gen_load(struct fs_ctx *ctx, struct fc_diag *d);
/* Crash recovery at mount: fix sizes of hot blobs, delete orphans. */
int fs_gen_recover(struct fs_ctx *ctx);
/* Delete the records of unlinked inodes still in the table (unmount). */
void fs_gen_reap_orphans(struct fs_ctx *ctx);
int fs_gen_checkpoint(struct fs_ctx *ctx, const char *name, uint64_t *ckpt, uint64_t *head,
		      struct fc_diag *d);
int fs_gen_restore(struct fs_ctx *ctx, const char *ref, uint64_t *restored, uint64_t *old_head,
		   uint64_t *head, uint64_t *ninval, struct fc_diag *d);
int fs_gen_fork(struct fs_ctx *ctx, const char *ref, const char *newcell, uint64_t *head,
		uint64_t *from, struct fc_diag *d);
/* Bring paths back from checkpoint ref into the head (fc_restore_path). */
int fs_gen_restore_paths(struct fs_ctx *ctx, const char *ref, const char *const *paths, size_t n,
			 uint64_t *restored, uint64_t *ninval, struct fc_diag *d);
/* Flush dirty state and sync LMDB. */
int fs_gen_sync(struct fs_ctx *ctx);
/* Delete an inode record and its xattrs in t (orphan reaping). */
int fs_gen_inode_delete(struct fs_ctx *ctx, struct fc_txn *t, uint64_t ino);

/* ---- space reserve (fs_space.c) ---- */

/*
 * -ENOSPC when writing need more bytes of file data would eat into the
 * reserve kept for metadata, else 0. See fs_space.c.
 */
int fs_space_check(struct fs_ctx *ctx, uint64_t need);

/* ---- control socket (fs_ctl.c) ---- */

/* Bind and listen on the cell's socket; write the info file. */
int fs_ctl_listen(struct fs_ctx *ctx, struct fc_diag *d);
/* Start the serving thread (after daemonizing). */
int fs_ctl_start(struct fs_ctx *ctx);
/* Stop the thread, close and remove the socket and the info file. */
void fs_ctl_stop(struct fs_ctx *ctx);

#endif
