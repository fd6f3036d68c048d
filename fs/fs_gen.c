/*
 * fs_gen: the served view and the generation switches of a live mount.
 *
 * checkpoint, restore and fork are the store's O(1) operations plus, under
 * the exclusive view lock, the in-memory work around them: write the dirty
 * overlay first, load the new view, and (restore only) drop the state of
 * exactly the inodes the change logs name. The kernel's caches are then
 * invalidated for those inodes and entries, outside the view lock, from
 * the control thread (never from a FUSE handler: an invalidation can wait
 * on a request that waits on us).
 *
 * The daemon never calls syncfs on its own mount: a thread of ours waiting
 * on our own FUSE connection would keep a kill -9'd daemon from exiting.
 * forkcellctl syncs the mount before it asks for a switch.
 *
 * Crash recovery at mount: records of the head generation's change log are
 * revisited: unlinked inodes (nlink 0) are deleted, and a hot blob's size
 * is taken from its file, so fsync'ed data is visible even when the size
 * update never reached LMDB.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fc_log.h"
#include "fc_restore_path.h"

/* A growable set of inode numbers and (parent, name) entries. */
struct fs_keys {
	uint64_t *inos;
	size_t n_ino, cap_ino;
	struct fs_key_ent {
		uint64_t parent;
		char *name;
	} *ents;
	size_t n_ent, cap_ent;
	bool dirents;           /* also collect dirent keys */
};

static void fs_keys_release(struct fs_keys *k)
{
	size_t i;

	for (i = 0; i < k->n_ent; i++)
		free(k->ents[i].name);
	free(k->ents);
	free(k->inos);
	memset(k, 0, sizeof(*k));
}

static uint64_t fs_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static int fs_keys_add_ino(struct fs_keys *k, uint64_t ino)
{
	if (k->n_ino == k->cap_ino) {
		size_t cap = k->cap_ino ? k->cap_ino * 2 : 64;
		uint64_t *p = realloc(k->inos, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		k->inos = p;
		k->cap_ino = cap;
	}
	k->inos[k->n_ino++] = ino;
	return 0;
}

static int fs_keys_add_ent(struct fs_keys *k, uint64_t parent, const uint8_t *name, size_t len)
{
	char *s;

	if (k->n_ent == k->cap_ent) {
		size_t cap = k->cap_ent ? k->cap_ent * 2 : 64;
		struct fs_key_ent *p = realloc(k->ents, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		k->ents = p;
		k->cap_ent = cap;
	}
	s = strndup((const char *)name, len);
	if (!s)
		return -ENOMEM;
	k->ents[k->n_ent].parent = parent;
	k->ents[k->n_ent].name = s;
	k->n_ent++;
	return 0;
}

/* Change-log callback: inode-like records give an ino, dirents an entry. */
static int fs_keys_cb(void *arg, uint64_t gen, uint8_t dbi, const uint8_t *prefix, size_t len)
{
	struct fs_keys *k = arg;
	size_t nlen;

	if (len < 8)
		return FC_ECORRUPT;
	if (dbi == FC_DBI_DIRENT) {
		if (!k->dirents)
			return 0;
		nlen = len - 8;
		if (nlen > 0 && prefix[len - 1] == '\0')
			nlen--;
		return fs_keys_add_ent(k, fs_be64(prefix), prefix + 8, nlen);
	}
	if (dbi == FC_DBI_INODE || dbi == FC_DBI_XATTR || dbi == FC_DBI_SYMLINK)
		return fs_keys_add_ino(k, fs_be64(prefix));
	return 0;
}

static int fs_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int fs_cmp_ent(const void *a, const void *b)
{
	const struct fs_key_ent *x = a, *y = b;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sort and drop duplicates. */
static void fs_keys_unique(struct fs_keys *k)
{
	size_t i, j = 0;

	if (k->n_ino > 1)
		qsort(k->inos, k->n_ino, sizeof(*k->inos), fs_cmp_u64);
	for (i = 0; i < k->n_ino; i++)
		if (j == 0 || k->inos[j - 1] != k->inos[i])
			k->inos[j++] = k->inos[i];
	k->n_ino = j;
	if (k->n_ent > 1)
		qsort(k->ents, k->n_ent, sizeof(*k->ents), fs_cmp_ent);
	j = 0;
	for (i = 0; i < k->n_ent; i++) {
		if (j > 0 && fs_cmp_ent(&k->ents[j - 1], &k->ents[i]) == 0) {
			free(k->ents[i].name);
			continue;
		}
		k->ents[j++] = k->ents[i];
	}
	k->n_ent = j;
}

int fs_gen_load(struct fs_ctx *ctx, struct fc_diag *d)
{
	struct fc_txn t = { 0 };
	struct fc_cell c;
	uint64_t gen;
	int rc;

	rc = fc_txn_begin(ctx->st, true, &t);
	if (rc < 0)
		return rc;
	rc = fc_cell_get(&t, ctx->cell, &c);
	if (rc == -ENOENT)
		rc = fc_diag_set(d, FC_ENOCELL, "no cell '%s' in the store", ctx->cell);
	if (rc < 0)
		goto out;
	gen = c.head;
	if (ctx->opts->checkpoint) {
		rc = fc_ckpt_resolve(&t, ctx->cell, ctx->opts->checkpoint, &gen);
		if (rc < 0) {
			rc = fc_diag_set(d, rc, "no checkpoint '%s' in cell '%s'",
					 ctx->opts->checkpoint, ctx->cell);
			goto out;
		}
		ctx->ckpt = gen;
	}
	rc = fc_view_load(&t, gen, ctx->cell, &ctx->view);
	if (rc == 0 && ctx->ckpt)
		ctx->view.writable = false;
	if (rc == 0 && !ctx->view.writable)
		ctx->ro = true;
out:
	fc_txn_abort(&t);
	return rc;
}

int fs_gen_inode_delete(struct fs_ctx *ctx, struct fc_txn *t, uint64_t ino)
{
	char *names = NULL;
	size_t len = 0, off;
	int rc;

	rc = fc_xattr_list(t, &ctx->view, ino, NULL, 0, &len);
	if (rc == 0 && len > 0) {
		names = malloc(len);
		rc = names ? fc_xattr_list(t, &ctx->view, ino, names, len, &len) : -ENOMEM;
		for (off = 0; rc == 0 && off < len; off += strlen(names + off) + 1)
			rc = fc_xattr_del(t, &ctx->view, ino, names + off);
	}
	free(names);
	if (rc == 0)
		rc = fc_inode_del(t, &ctx->view, ino);
	return rc == -ENOENT ? 0 : rc;
}

/* Recover one inode of the head's change log (see the top of the file). */
static int fs_recover_one(struct fs_ctx *ctx, struct fc_txn *t, uint64_t ino)
{
	struct fc_inode rec;
	struct stat st;
	int fd = -1, rc;

	rc = fc_inode_get(t, &ctx->view, ino, &rec);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (rec.nlink == 0)
		return fs_gen_inode_delete(ctx, t, ino);
	if (!S_ISREG(rec.mode) || rec.blob == 0 || rec.blob_gen != ctx->view.head)
		return 0;
	rc = fc_blob_open(ctx->st, t, rec.blob, O_RDONLY, &fd);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0 || (uint64_t)st.st_size == rec.size)
		return rc;
	fc_log(FC_LOG_INFO, "recovered size of inode %llu: %llu -> %llu",
	       (unsigned long long)ino, (unsigned long long)rec.size,
	       (unsigned long long)st.st_size);
	rec.size = (uint64_t)st.st_size;
	if (st.st_mtim.tv_sec > rec.mtime.sec) {
		rec.mtime.sec = st.st_mtim.tv_sec;
		rec.mtime.nsec = (uint32_t)st.st_mtim.tv_nsec;
	}
	return fc_inode_put(t, &ctx->view, ino, &rec);
}

int fs_gen_recover(struct fs_ctx *ctx)
{
	struct fs_keys k = { 0 };
	struct fc_txn t = { 0 };
	size_t i;
	int rc;

	if (ctx->ro)
		return 0;
	rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fc_changes_iter(&t, ctx->view.head, fs_keys_cb, &k);
	if (rc == 0)
		fs_keys_unique(&k);
	for (i = 0; rc == 0 && i < k.n_ino; i++)
		rc = fs_recover_one(ctx, &t, k.inos[i]);
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
	fs_keys_release(&k);
	if (rc < 0)
		fc_log(FC_LOG_ERR, "cannot recover cell '%s': %s", ctx->cell, fc_strerror(rc));
	return rc;
}

static void fs_orphan_collect(struct fs_inode *ent, void *arg)
{
	if (ent->maybe_orphan)
		fs_keys_add_ino(arg, ent->ino);
}

void fs_gen_reap_orphans(struct fs_ctx *ctx)
{
	struct fs_keys k = { 0 };
	struct fc_txn t = { 0 };
	struct fc_inode rec;
	size_t i;
	int rc;

	if (ctx->ro)
		return;
	fs_itable_each(ctx, fs_orphan_collect, &k);
	if (k.n_ino == 0 || fs_wtxn_begin(ctx, &t) < 0)
		goto out;
	rc = 0;
	for (i = 0; rc == 0 && i < k.n_ino; i++) {
		if (fc_inode_get(&t, &ctx->view, k.inos[i], &rec) == 0 && rec.nlink == 0)
			rc = fs_gen_inode_delete(ctx, &t, k.inos[i]);
	}
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
out:
	fs_keys_release(&k);
}

int fs_gen_sync(struct fs_ctx *ctx)
{
	int rc;

	if (ctx->ro)
		return 0;
	pthread_rwlock_rdlock(&ctx->view_lock);
	rc = fs_dirty_flush_all(ctx);
	if (rc == 0)
		rc = fc_store_sync(ctx->st);
	pthread_rwlock_unlock(&ctx->view_lock);
	return rc;
}

/* Checkpoint with the view lock held for writing. */
static int fs_gen_checkpoint_locked(struct fs_ctx *ctx, const char *name, uint64_t *ckpt,
				    uint64_t *head, struct fc_diag *d)
{
	struct fc_txn t = { 0 };
	struct fc_view nv = { 0 };
	int rc;

	rc = fs_dirty_flush_all(ctx);
	if (rc == 0)
		rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fc_cell_checkpoint(&t, ctx->cell, name, ckpt, head, d);
	if (rc == 0)
		rc = fc_view_load(&t, *head, ctx->cell, &nv);
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
	if (rc < 0) {
		fc_view_release(&nv);
		return rc;
	}
	fc_view_release(&ctx->view);
	ctx->view = nv;
	ctx->sync_pending = true;
	return 0;
}

int fs_gen_checkpoint(struct fs_ctx *ctx, const char *name, uint64_t *ckpt, uint64_t *head,
		      struct fc_diag *d)
{
	int rc;

	if (ctx->ro)
		return -EROFS;
	pthread_rwlock_wrlock(&ctx->view_lock);
	rc = fs_gen_checkpoint_locked(ctx, name, ckpt, head, d);
	pthread_rwlock_unlock(&ctx->view_lock);
	return rc;
}

/* Collect the keys changed in gens (the change logs of each). */
static int fs_gen_collect(struct fc_txn *t, const uint64_t *gens, size_t n, struct fs_keys *k)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i++)
		rc = fc_changes_iter(t, gens[i], fs_keys_cb, k);
	return rc;
}

/* In write txn t: restore to ref, load the new view into nv, collect changed keys. */
static int fs_gen_restore_txn(struct fs_ctx *ctx, struct fc_txn *t, const char *ref,
			      uint64_t *restored, uint64_t *old_head, uint64_t *head,
			      struct fc_view *nv, struct fs_keys *k, struct fc_diag *d)
{
	uint64_t *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	int rc;

	rc = fc_ckpt_resolve(t, ctx->cell, ref, restored);
	if (rc < 0)
		return fc_diag_set(d, rc, "no checkpoint '%s' in cell '%s'", ref ? ref : "(latest)",
				   ctx->cell);
	rc = fc_cell_restore(t, ctx->cell, *restored, old_head, head, d);
	if (rc == 0)
		rc = fc_view_load(t, *head, ctx->cell, nv);
	if (rc == 0)
		rc = fc_view_minus(&ctx->view, nv, &a, &na);
	if (rc == 0)
		rc = fc_view_minus(nv, &ctx->view, &b, &nb);
	if (rc == 0)
		rc = fs_gen_collect(t, a, na, k);
	if (rc == 0)
		rc = fs_gen_collect(t, b, nb, k);
	free(a);
	free(b);
	return rc;
}

/* Drop the cached state of the changed inodes; view lock held for writing. */
static void fs_gen_drop(struct fs_ctx *ctx, const struct fs_keys *k)
{
	size_t i;

	for (i = 0; i < k->n_ino; i++) {
		struct fs_inode *ent = fs_inode_find(ctx, k->inos[i]);

		if (!ent)
			continue;
		fs_io_drop(ent);
		fs_inode_unref(ctx, ent);
	}
}

static uint64_t fs_gen_notify(struct fs_ctx *ctx, const struct fs_keys *k)
{
	uint64_t root = ctx->view.root_ino, n = 0;
	size_t i;

	for (i = 0; i < k->n_ent; i++) {
		const struct fs_key_ent *e = &k->ents[i];
		fuse_ino_t p = e->parent == root ? FUSE_ROOT_ID : e->parent;

		fuse_lowlevel_notify_inval_entry(ctx->se, p, e->name, strlen(e->name));
		n++;
	}
	for (i = 0; i < k->n_ino; i++) {
		fuse_ino_t ino = k->inos[i] == root ? FUSE_ROOT_ID : k->inos[i];

		fuse_lowlevel_notify_inval_inode(ctx->se, ino, 0, 0);
		n++;
	}
	return n;
}

int fs_gen_restore(struct fs_ctx *ctx, const char *ref, uint64_t *restored, uint64_t *old_head,
		   uint64_t *head, uint64_t *ninval, struct fc_diag *d)
{
	struct fs_keys k = { .dirents = true };
	struct fc_view nv = { 0 };
	struct fc_txn t = { 0 };
	int rc;

	if (ctx->ro)
		return -EROFS;
	pthread_rwlock_wrlock(&ctx->view_lock);
	rc = fs_dirty_flush_all(ctx);
	if (rc == 0)
		rc = fs_wtxn_begin(ctx, &t);
	if (rc == 0) {
		rc = fs_gen_restore_txn(ctx, &t, ref, restored, old_head, head, &nv, &k, d);
		if (rc == 0)
			rc = fc_txn_commit(&t);
		else
			fc_txn_abort(&t);
	}
	if (rc == 0) {
		fc_view_release(&ctx->view);
		ctx->view = nv;
		fs_keys_unique(&k);
		fs_gen_drop(ctx, &k);
		ctx->sync_pending = true;
	} else {
		fc_view_release(&nv);
	}
	pthread_rwlock_unlock(&ctx->view_lock);
	if (rc == 0)
		*ninval = fs_gen_notify(ctx, &k);
	fs_keys_release(&k);
	return rc;
}

int fs_gen_fork(struct fs_ctx *ctx, const char *ref, const char *newcell, uint64_t *head,
		uint64_t *from, struct fc_diag *d)
{
	struct fc_txn t = { 0 };
	uint64_t ck = 0, h = 0;
	int rc;

	if (ctx->ro)
		return -EROFS;
	if (!ref) {
		rc = fs_gen_checkpoint(ctx, NULL, &ck, &h, d);
		if (rc < 0)
			return rc;
	}
	rc = fc_txn_begin(ctx->st, false, &t);
	if (rc < 0)
		return rc;
	if (ref) {
		rc = fc_ckpt_resolve(&t, ctx->cell, ref, &ck);
		if (rc < 0)
			rc = fc_diag_set(d, rc, "no checkpoint '%s' in cell '%s'", ref, ctx->cell);
	}
	if (rc == 0)
		rc = fc_cell_fork(&t, ctx->cell, ck, newcell, head, d);
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
	if (rc == 0) {
		*from = ck;
		ctx->sync_pending = true;
	}
	return rc;
}

/* fc_restore_path callback: collect what the kernel must forget. */
static int fs_rp_cb(void *arg, uint64_t parent, const char *name, uint64_t ino)
{
	struct fs_keys *k = arg;
	int rc = 0;

	if (name)
		rc = fs_keys_add_ent(k, parent, (const uint8_t *)name, strlen(name));
	if (rc == 0 && ino)
		rc = fs_keys_add_ino(k, ino);
	return rc;
}

/* In write txn t: restore each path from checkpoint ref into the head. */
static int fs_gen_rp_txn(struct fs_ctx *ctx, struct fc_txn *t, const char *ref,
			 const char *const *paths, size_t n, uint64_t *restored, struct fs_keys *k,
			 struct fc_diag *d)
{
	struct fc_view vc = { 0 };
	uint64_t ck = 0, one;
	size_t i;
	int rc;

	rc = fc_ckpt_resolve(t, ctx->cell, ref, &ck);
	if (rc < 0)
		return fc_diag_set(d, rc, "no checkpoint '%s' in cell '%s'", ref ? ref : "(latest)",
				   ctx->cell);
	rc = fc_view_load(t, ck, ctx->cell, &vc);
	for (i = 0; rc == 0 && i < n; i++) {
		one = 0;
		rc = fc_restore_path(t, &ctx->view, &vc, paths[i], fs_rp_cb, k, &one, d);
		*restored += one;
	}
	fc_view_release(&vc);
	return rc;
}

int fs_gen_restore_paths(struct fs_ctx *ctx, const char *ref, const char *const *paths, size_t n,
			 uint64_t *restored, uint64_t *ninval, struct fc_diag *d)
{
	struct fs_keys k = { .dirents = true };
	struct fc_txn t = { 0 };
	int rc;

	if (ctx->ro)
		return -EROFS;
	*restored = 0;
	pthread_rwlock_wrlock(&ctx->view_lock);
	rc = fs_dirty_flush_all(ctx);
	if (rc == 0)
		rc = fs_wtxn_begin(ctx, &t);
	if (rc == 0) {
		rc = fs_gen_rp_txn(ctx, &t, ref, paths, n, restored, &k, d);
		if (rc == 0)
			rc = fc_txn_commit(&t);
		else
			fc_txn_abort(&t);
	}
	if (rc == 0) {
		fs_keys_unique(&k);
		fs_gen_drop(ctx, &k);
		ctx->sync_pending = true;
	}
	pthread_rwlock_unlock(&ctx->view_lock);
	if (rc == 0)
		*ninval = fs_gen_notify(ctx, &k);
	fs_keys_release(&k);
	return rc;
}
