/*
 * fc_store: a ForkCell store on disk and the MVCC record layer over LMDB.
 *
 * Layout (see docs/on-disk-format.md):
 *   STORE/meta/data.mdb, lock.mdb   LMDB environment (all metadata)
 *   STORE/blobs/<xx>/<16 hex id>    file contents, one file per blob
 *   STORE/run/<cell>.sock|.lock|.pid  daemon control socket, writer lock, pid
 *   STORE/tmp/                      temporary files (same filesystem as blobs)
 *
 * Generations: a record written in gen g is visible from a view whose head
 * is H iff g is an ancestor of H or H itself. A view holds that ancestor set
 * (sorted) in memory; membership is a binary search.
 *
 * Threading: a struct fc_store may be shared by threads. A struct fc_txn
 * belongs to one thread (LMDB rules: read txns are thread-bound since we do
 * not use MDB_NOTLS; one write txn at a time per environment, LMDB
 * serialises writers across threads and processes).
 *
 * Ownership: everything returned through out-params is caller-owned copies
 * unless stated; MDB_val data never escapes a transaction.
 *
 * Errors: 0 or negative (fc_err.h). -ENOENT means "no visible record".
 */
#ifndef FC_STORE_H
#define FC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "fc_codec.h"
#include "fc_err.h"

#define FC_ROOT_NODEID 1 /* FUSE's root; mapped to the cell's root_ino */

enum fc_store_flags {
	FC_STORE_CREATE = 1 << 0,  /* create the store if missing */
	FC_STORE_RDONLY = 1 << 1,  /* open the environment read-only */
};

struct fc_store {
	MDB_env *env;
	MDB_dbi dbi_dirent, dbi_inode, dbi_xattr, dbi_symlink;
	MDB_dbi dbi_blob, dbi_changes, dbi_gen, dbi_branch, dbi_meta, dbi_base;
	int root_fd;    /* O_PATH|O_DIRECTORY of STORE */
	int blobs_fd;   /* STORE/blobs */
	int tmp_fd;     /* STORE/tmp */
	int run_fd;     /* STORE/run */
	char *path;     /* absolute path of STORE, for messages and sockets */
	uint8_t store_id[16];
	bool rdonly;
	bool reflink;   /* FICLONE works between blob files (probed at open) */
};

struct fc_txn {
	MDB_txn *txn;
	struct fc_store *st;
	bool rdonly;
	/* Blob ids whose refcount fell to 0 in this txn: their files are
	 * unlinked after a successful commit (never before, so an abort
	 * loses nothing). Private. */
	uint64_t *dead_blobs;
	size_t n_dead, cap_dead;
	/* Cursors of the record tables (dirent, inode, xattr, symlink),
	 * opened on first use and closed at commit/abort, so that a lookup
	 * is one seek with no allocation. Private. */
	MDB_cursor *cur[4];
};

/*
 * The set of generations visible from head. gens[] is sorted ascending and
 * includes head. writable is false for time-travel (checkpoint) views.
 */
struct fc_view {
	uint64_t head;
	uint64_t root_ino;
	size_t n;
	uint64_t *gens;
	bool writable;
};

/* ---- store lifecycle ---- */

/*
 * Open (or with FC_STORE_CREATE create) the store at path. Refuses a
 * directory that is not a store (FC_EFOREIGN), a store of another format
 * version (FC_EVERSION), a corrupted LMDB file (FC_ECORRUPT). The caller
 * frees with fc_store_close(). Not thread-safe against itself.
 */
int fc_store_open(const char *path, int flags, struct fc_store **out, struct fc_diag *d);
void fc_store_close(struct fc_store *st);

/* Force metadata to disk (mdb_env_sync(force=1)). */
int fc_store_sync(struct fc_store *st);

/*
 * Resolve the store path: opt (from --store) if non-NULL, else
 * $FORKCELL_HOME, else $HOME/.local/share/forkcell. Caller frees *out.
 */
int fc_store_default_path(const char *opt, char **out);

/* ---- transactions ---- */

int fc_txn_begin(struct fc_store *st, bool rdonly, struct fc_txn *out);
/* Commit, then unlink the files of blobs that died. Frees the txn state. */
int fc_txn_commit(struct fc_txn *t);
/* Abort; safe on a zeroed or already finished txn. */
void fc_txn_abort(struct fc_txn *t);

/* Allocate from the store counters (meta "next_ino", "next_gen", "next_blob"). */
int fc_alloc_ino(struct fc_txn *t, uint64_t *out);
int fc_alloc_gen(struct fc_txn *t, uint64_t *out);
int fc_alloc_blob(struct fc_txn *t, uint64_t *out);

/* ---- views ---- */

/*
 * Build the view of head: walk the parent chain (cost: depth of the
 * generation tree, never the size of the workspace). Caller releases with
 * fc_view_release(). root_ino is filled from the owning cell when cell is
 * non-NULL, else left 0.
 */
int fc_view_load(struct fc_txn *t, uint64_t head, const char *cell, struct fc_view *out);
void fc_view_release(struct fc_view *v);
bool fc_view_sees(const struct fc_view *v, uint64_t gen);

/* ---- records (read at the view, write at the view's head) ---- */
/*
 * Writers require a write txn and a writable view; they record the change
 * in the change log of the head generation. A write of a record that
 * already has a version in the head overwrites that version in place.
 * Deleting writes a tombstone, or removes the head version outright when no
 * older visible version exists.
 */

int fc_inode_get(struct fc_txn *t, const struct fc_view *v, uint64_t ino, struct fc_inode *out);
/* Put keeps blob refcounts right: +1 for the new blob, -1 for the blob of
 * an overwritten head version. */
int fc_inode_put(struct fc_txn *t, const struct fc_view *v, uint64_t ino,
		 const struct fc_inode *in);
int fc_inode_del(struct fc_txn *t, const struct fc_view *v, uint64_t ino);

int fc_dirent_get(struct fc_txn *t, const struct fc_view *v, uint64_t parent, const char *name,
		  struct fc_dirent *out);
int fc_dirent_put(struct fc_txn *t, const struct fc_view *v, uint64_t parent, const char *name,
		  const struct fc_dirent *in);
int fc_dirent_del(struct fc_txn *t, const struct fc_view *v, uint64_t parent, const char *name);

/*
 * Call cb for each visible entry of directory parent in name order,
 * starting strictly after `after` (NULL or "" = from the start). cb returns
 * 0 to continue, 1 to stop, negative to abort with that error. The name
 * pointer is valid only during the call.
 */
typedef int (*fc_dirent_cb)(void *arg, const char *name, const struct fc_dirent *de);
int fc_dirent_iter(struct fc_txn *t, const struct fc_view *v, uint64_t parent, const char *after,
		   fc_dirent_cb cb, void *arg);
/* 0 if parent has no visible entry, -ENOTEMPTY otherwise. */
int fc_dir_check_empty(struct fc_txn *t, const struct fc_view *v, uint64_t parent);

/* xattr: get copies up to cap bytes; *len is the full size (ERANGE style).
 * A missing attribute is -ENOENT (fs/ replies ENODATA). list copies whole
 * names while they fit and sets *len to the full size. */
int fc_xattr_get(struct fc_txn *t, const struct fc_view *v, uint64_t ino, const char *name,
		 void *buf, size_t cap, size_t *len);
int fc_xattr_put(struct fc_txn *t, const struct fc_view *v, uint64_t ino, const char *name,
		 const void *val, size_t len);
int fc_xattr_del(struct fc_txn *t, const struct fc_view *v, uint64_t ino, const char *name);
/* Visible names, each NUL-terminated, concatenated (listxattr format). */
int fc_xattr_list(struct fc_txn *t, const struct fc_view *v, uint64_t ino, char *buf, size_t cap,
		  size_t *len);

/* target has FC_SYMLINK_MAX + 1 bytes. */
int fc_symlink_get(struct fc_txn *t, const struct fc_view *v, uint64_t ino, char *target);
int fc_symlink_put(struct fc_txn *t, const struct fc_view *v, uint64_t ino, const char *target);

/* ---- blobs ---- */

int fc_blob_get(struct fc_txn *t, uint64_t id, struct fc_blob *out);
/*
 * Create a new own blob born in gen, with an empty file created directly
 * in blobs/ (an empty file needs no atomic fill; a leftover of a crashed
 * transaction is reused, and fsck reports one nobody names as garbage).
 * Refcount starts at 0; fc_inode_put of an inode naming it adds
 * the reference. *fd_out is the open O_RDWR|O_CLOEXEC file.
 */
int fc_blob_create(struct fc_txn *t, uint64_t gen, uint64_t *id_out, int *fd_out);
/*
 * As fc_blob_create, with the content of blob src (FICLONE when the store
 * supports reflinks, else copy_file_range; holes are kept). The copy is
 * made in tmp/ and renamed into blobs/ once complete.
 */
int fc_blob_copyup(struct fc_txn *t, uint64_t src, uint64_t gen, uint64_t *id_out, int *fd_out);
/* Open the bytes of a blob (own file or base path, never following links). */
int fc_blob_open(struct fc_store *st, struct fc_txn *t, uint64_t id, int flags, int *fd_out);
/* Name of an own blob file relative to blobs_fd: "xx/0123456789abcdef". */
void fc_blob_relname(uint64_t id, char out[32]);

/* Base directories of lazy inits: id -> absolute path. */
int fc_base_add(struct fc_txn *t, const char *abspath, uint32_t *id_out);
int fc_base_get(struct fc_txn *t, uint32_t id, char *path_out, size_t cap);

/* ---- generations and cells ---- */

int fc_gen_get(struct fc_txn *t, uint64_t gen, struct fc_gen *out);
int fc_gen_put(struct fc_txn *t, uint64_t gen, const struct fc_gen *in);

/* A missing cell is FC_ENOCELL (not -ENOENT) for get and del. */
int fc_cell_get(struct fc_txn *t, const char *cell, struct fc_cell *out);
int fc_cell_put(struct fc_txn *t, const char *cell, const struct fc_cell *in);
int fc_cell_del(struct fc_txn *t, const char *cell);
/* Calls cb for each cell in name order; cb as fc_dirent_cb. */
typedef int (*fc_cell_cb)(void *arg, const char *name, const struct fc_cell *c);
int fc_cell_iter(struct fc_txn *t, fc_cell_cb cb, void *arg);

/*
 * Resolve a checkpoint reference of cell: a generation id (all digits), a
 * checkpoint name, or NULL/"" for the latest checkpoint of the cell's
 * current chain. Only FC_GEN_CHECKPOINT generations resolve.
 */
int fc_ckpt_resolve(struct fc_txn *t, const char *cell, const char *ref, uint64_t *gen_out);

/* Every generation, in id order; cb returns 0/1/negative as above. */
typedef int (*fc_gen_cb)(void *arg, uint64_t gen, const struct fc_gen *g);
int fc_gen_iter(struct fc_txn *t, fc_gen_cb cb, void *arg);

/*
 * The O(1) generation switches. All run inside the caller's write txn and
 * touch a constant number of records.
 *
 * checkpoint: freeze head as FC_GEN_CHECKPOINT named name (NULL: "ckpt-<gen>"),
 *   new head with parent = old head. *ckpt_out = old head, *head_out = new.
 * restore: new head whose parent is ckpt; the old head becomes
 *   FC_GEN_ABANDONED. *old_head_out, *head_out.
 * fork: create cell newcell whose head's parent is ckpt (a checkpoint of
 *   cell). *head_out.
 * Names: fc_name_check_cell; a duplicate checkpoint name in the same cell or
 * an existing newcell gives FC_EEXIST.
 */
int fc_cell_checkpoint(struct fc_txn *t, const char *cell, const char *name, uint64_t *ckpt_out,
		       uint64_t *head_out, struct fc_diag *d);
int fc_cell_restore(struct fc_txn *t, const char *cell, uint64_t ckpt, uint64_t *old_head_out,
		    uint64_t *head_out, struct fc_diag *d);
int fc_cell_fork(struct fc_txn *t, const char *cell, uint64_t ckpt, const char *newcell,
		 uint64_t *head_out, struct fc_diag *d);

/* ---- change log ---- */

/*
 * Call cb for each record key written in gen: dbi is enum fc_dbi_id and
 * prefix the record key without its ~gen suffix (borrowed for the call).
 */
typedef int (*fc_change_cb)(void *arg, uint64_t gen, uint8_t dbi, const uint8_t *prefix,
			    size_t prefix_len);
int fc_changes_iter(struct fc_txn *t, uint64_t gen, fc_change_cb cb, void *arg);

/*
 * The generations in a's chain that are not in b's chain (a \ b), sorted.
 * Caller frees *out. Cost: O(depth).
 */
int fc_view_minus(const struct fc_view *a, const struct fc_view *b, uint64_t **out, size_t *n);

#endif
