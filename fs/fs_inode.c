/*
 * fs_inode: the in-memory inode table of forkcellfs, request scaffolding
 * (view lock, per-thread read transactions) and the forget handlers.
 *
 * The table maps our inode numbers to struct fs_inode. An entry lives while
 * the kernel references the inode (nlookup) or while a request or the
 * dirty list uses it (nref); both counters are guarded by the one table
 * mutex, whose critical sections are a hash probe and a few increments.
 */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fc_log.h"

static pthread_key_t fs_rtxn_key;
static pthread_once_t fs_rtxn_once = PTHREAD_ONCE_INIT;

static void fs_rtxn_destroy(void *p)
{
	mdb_txn_abort(p);
}

static void fs_rtxn_key_init(void)
{
	if (pthread_key_create(&fs_rtxn_key, fs_rtxn_destroy) != 0)
		FC_BUG("cannot create the read txn key");
}

struct fs_ctx *fs_req_begin(fuse_req_t req)
{
	struct fs_ctx *ctx = fuse_req_userdata(req);

	pthread_rwlock_rdlock(&ctx->view_lock);
	return ctx;
}

void fs_req_end(struct fs_ctx *ctx)
{
	pthread_rwlock_unlock(&ctx->view_lock);
}

void fs_reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, rc < 0 ? fc_err_to_errno(rc) : 0);
}

uint64_t fs_ino(const struct fs_ctx *ctx, fuse_ino_t nodeid)
{
	return nodeid == FUSE_ROOT_ID ? ctx->view.root_ino : nodeid;
}

fuse_ino_t fs_nodeid(const struct fs_ctx *ctx, uint64_t ino)
{
	return ino == ctx->view.root_ino ? FUSE_ROOT_ID : ino;
}

int fs_rtxn_begin(struct fs_ctx *ctx, struct fc_txn *t)
{
	MDB_txn *txn;
	int rc;

	pthread_once(&fs_rtxn_once, fs_rtxn_key_init);
	txn = pthread_getspecific(fs_rtxn_key);
	if (txn) {
		rc = mdb_txn_renew(txn);
		if (rc != 0) {
			mdb_txn_abort(txn);
			pthread_setspecific(fs_rtxn_key, NULL);
			txn = NULL;
		}
	}
	if (!txn) {
		rc = mdb_txn_begin(ctx->st->env, NULL, MDB_RDONLY, &txn);
		if (rc != 0)
			return fc_mdb_err(rc);
		pthread_setspecific(fs_rtxn_key, txn);
	}
	memset(t, 0, sizeof(*t));
	t->txn = txn;
	t->st = ctx->st;
	t->rdonly = true;
	return 0;
}

void fs_rtxn_thread_release(void)
{
	MDB_txn *txn;

	pthread_once(&fs_rtxn_once, fs_rtxn_key_init);
	txn = pthread_getspecific(fs_rtxn_key);
	if (txn)
		mdb_txn_abort(txn);
	pthread_setspecific(fs_rtxn_key, NULL);
}

void fs_rtxn_end(struct fc_txn *t)
{
	if (t->txn)
		mdb_txn_reset(t->txn);
	t->txn = NULL;
}

int fs_wtxn_begin(struct fs_ctx *ctx, struct fc_txn *t)
{
	if (ctx->ro || !ctx->view.writable)
		return -EROFS;
	return fc_txn_begin(ctx->st, false, t);
}

struct fc_ts fs_now(void)
{
	struct timespec ts;
	struct fc_ts r;

	clock_gettime(CLOCK_REALTIME, &ts);
	r.sec = ts.tv_sec;
	r.nsec = (uint32_t)ts.tv_nsec;
	return r;
}

/* ---- the table ---- */

int fs_itable_init(struct fs_itable *it)
{
	memset(it, 0, sizeof(*it));
	it->nbuckets = 1024;
	it->buckets = calloc(it->nbuckets, sizeof(*it->buckets));
	if (!it->buckets)
		return -ENOMEM;
	pthread_mutex_init(&it->lock, NULL);
	return 0;
}

static size_t fs_hash(uint64_t ino, size_t nbuckets)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ULL) >> 20) & (nbuckets - 1);
}

static void fs_inode_free(struct fs_inode *ent)
{
	fs_io_forget(ent);
	pthread_mutex_destroy(&ent->lock);
	pthread_rwlock_destroy(&ent->io);
	free(ent);
}

void fs_itable_release(struct fs_itable *it)
{
	size_t i;

	if (!it->buckets)
		return;
	for (i = 0; i < it->nbuckets; i++) {
		struct fs_inode *e = it->buckets[i];

		while (e) {
			struct fs_inode *next = e->hnext;

			fs_inode_free(e);
			e = next;
		}
	}
	free(it->buckets);
	it->buckets = NULL;
	pthread_mutex_destroy(&it->lock);
}

/* Double the bucket array; table lock held. Failure just keeps chains longer. */
static void fs_itable_grow(struct fs_itable *it)
{
	size_t n = it->nbuckets * 2, i;
	struct fs_inode **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (i = 0; i < it->nbuckets; i++) {
		struct fs_inode *e = it->buckets[i];

		while (e) {
			struct fs_inode *next = e->hnext;
			size_t h = fs_hash(e->ino, n);

			e->hnext = nb[h];
			nb[h] = e;
			e = next;
		}
	}
	free(it->buckets);
	it->buckets = nb;
	it->nbuckets = n;
}

static struct fs_inode *fs_itable_probe(struct fs_itable *it, uint64_t ino)
{
	struct fs_inode *e = it->buckets[fs_hash(ino, it->nbuckets)];

	while (e && e->ino != ino)
		e = e->hnext;
	return e;
}

static struct fs_inode *fs_inode_new(uint64_t ino)
{
	struct fs_inode *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->ino = ino;
	e->fd = -1;
	pthread_mutex_init(&e->lock, NULL);
	pthread_rwlock_init(&e->io, NULL);
	return e;
}

/* Find or create; table lock held. */
static struct fs_inode *fs_itable_get(struct fs_itable *it, uint64_t ino, bool create)
{
	struct fs_inode *e = fs_itable_probe(it, ino);
	size_t h;

	if (e || !create)
		return e;
	e = fs_inode_new(ino);
	if (!e)
		return NULL;
	if (it->count >= it->nbuckets)
		fs_itable_grow(it);
	h = fs_hash(ino, it->nbuckets);
	e->hnext = it->buckets[h];
	it->buckets[h] = e;
	it->count++;
	return e;
}

/* Unlink and free e if nothing references it; table lock held. */
static void fs_itable_maybe_free(struct fs_itable *it, struct fs_inode *e)
{
	struct fs_inode **pp;

	if (e->nlookup || e->nref)
		return;
	pp = &it->buckets[fs_hash(e->ino, it->nbuckets)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (!*pp)
		return;
	*pp = e->hnext;
	it->count--;
	fs_inode_free(e);
}

int fs_inode_ref(struct fs_ctx *ctx, uint64_t ino, bool create, struct fs_inode **out)
{
	struct fs_inode *e;

	pthread_mutex_lock(&ctx->itab.lock);
	e = fs_itable_get(&ctx->itab, ino, create);
	if (e)
		e->nref++;
	pthread_mutex_unlock(&ctx->itab.lock);
	if (!e)
		return create ? -ENOMEM : -ENOENT;
	*out = e;
	return 0;
}

struct fs_inode *fs_inode_find(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_inode *e = NULL;

	if (fs_inode_ref(ctx, ino, false, &e) < 0)
		return NULL;
	return e;
}

void fs_inode_unref(struct fs_ctx *ctx, struct fs_inode *ent)
{
	if (!ent)
		return;
	pthread_mutex_lock(&ctx->itab.lock);
	ent->nref--;
	fs_itable_maybe_free(&ctx->itab, ent);
	pthread_mutex_unlock(&ctx->itab.lock);
}

int fs_inode_lookup_inc(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_inode *e;

	pthread_mutex_lock(&ctx->itab.lock);
	e = fs_itable_get(&ctx->itab, ino, true);
	if (e)
		e->nlookup++;
	pthread_mutex_unlock(&ctx->itab.lock);
	return e ? 0 : -ENOMEM;
}

void fs_inode_mark_orphan(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_inode *e;

	pthread_mutex_lock(&ctx->itab.lock);
	e = fs_itable_probe(&ctx->itab, ino);
	if (e)
		e->maybe_orphan = true;
	pthread_mutex_unlock(&ctx->itab.lock);
}

bool fs_inode_known(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_inode *e;
	bool known;

	pthread_mutex_lock(&ctx->itab.lock);
	e = fs_itable_probe(&ctx->itab, ino);
	known = e && e->nlookup > 0;
	pthread_mutex_unlock(&ctx->itab.lock);
	return known;
}

void fs_itable_each(struct fs_ctx *ctx, void (*cb)(struct fs_inode *ent, void *arg), void *arg)
{
	size_t i;

	pthread_mutex_lock(&ctx->itab.lock);
	for (i = 0; i < ctx->itab.nbuckets; i++) {
		struct fs_inode *e;

		for (e = ctx->itab.buckets[i]; e; e = e->hnext)
			cb(e, arg);
	}
	pthread_mutex_unlock(&ctx->itab.lock);
}

/*
 * Delete the records of unlinked inodes the kernel forgot (it keeps an
 * inode while any process has it open), in one txn. Each record is checked
 * in the current view: after a restore the inode may be alive again.
 */
static void fs_forget_reap(struct fs_ctx *ctx, const uint64_t *inos, size_t n)
{
	struct fc_txn t = { 0 };
	size_t i;
	int rc;

	if (n == 0)
		return;
	rc = fs_wtxn_begin(ctx, &t);
	for (i = 0; rc == 0 && i < n; i++) {
		struct fc_inode rec;

		rc = fc_inode_get(&t, &ctx->view, inos[i], &rec);
		if (rc == 0 && rec.nlink == 0)
			rc = fs_gen_inode_delete(ctx, &t, inos[i]);
		else if (rc == 0 || rc == -ENOENT)
			rc = 0; /* relinked, or already reaped */
	}
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
	if (rc < 0)
		fc_log(FC_LOG_WARN, "cannot delete %zu unlinked inode(s) from %llu on: %s", n,
		       (unsigned long long)inos[0], fc_strerror(rc));
}

/* Queue ino for fs_inode_reap_pending; deletes it now if memory is short. */
static void fs_forget_queue(struct fs_ctx *ctx, uint64_t ino)
{
	bool queued = true;

	pthread_mutex_lock(&ctx->dirty_lock);
	if (ctx->nreap == ctx->reap_cap) {
		size_t cap = ctx->reap_cap ? ctx->reap_cap * 2 : 256;
		uint64_t *p = realloc(ctx->reap, cap * sizeof(*p));

		if (p) {
			ctx->reap = p;
			ctx->reap_cap = cap;
		}
	}
	if (ctx->nreap < ctx->reap_cap)
		ctx->reap[ctx->nreap++] = ino;
	else
		queued = false;
	pthread_mutex_unlock(&ctx->dirty_lock);
	if (!queued)
		fs_forget_reap(ctx, &ino, 1);
}

void fs_inode_reap_pending(struct fs_ctx *ctx)
{
	uint64_t *inos;
	size_t n;

	pthread_mutex_lock(&ctx->dirty_lock);
	inos = ctx->reap;
	n = ctx->nreap;
	ctx->reap = NULL;
	ctx->nreap = ctx->reap_cap = 0;
	pthread_mutex_unlock(&ctx->dirty_lock);
	fs_forget_reap(ctx, inos, n);
	free(inos);
}

/* Drop n lookups of nodeid; returns true when an orphan check is due. */
static bool fs_forget_one(struct fs_ctx *ctx, uint64_t ino, uint64_t n)
{
	struct fs_inode *e;
	bool reap = false;

	pthread_mutex_lock(&ctx->itab.lock);
	e = fs_itable_probe(&ctx->itab, ino);
	if (e) {
		e->nlookup = e->nlookup > n ? e->nlookup - n : 0;
		if (e->nlookup == 0 && e->maybe_orphan) {
			reap = true;
			e->maybe_orphan = false;
		}
		fs_itable_maybe_free(&ctx->itab, e);
	}
	pthread_mutex_unlock(&ctx->itab.lock);
	return reap;
}

void fs_inode_reap_check(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_inode *e;
	bool reap;

	pthread_mutex_lock(&ctx->itab.lock);
	e = fs_itable_probe(&ctx->itab, ino);
	/* Known to the kernel: it may be open, fs_forget_one reaps it later. */
	reap = !e || (e->nlookup == 0 && e->maybe_orphan);
	if (e && reap)
		e->maybe_orphan = false;
	pthread_mutex_unlock(&ctx->itab.lock);
	if (reap)
		fs_forget_reap(ctx, &ino, 1);
}

void fs_op_forget(fuse_req_t req, fuse_ino_t nodeid, uint64_t nlookup)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	uint64_t ino = fs_ino(ctx, nodeid);

	if (fs_forget_one(ctx, ino, nlookup))
		fs_forget_queue(ctx, ino);
	fs_req_end(ctx);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	size_t i;

	for (i = 0; i < count; i++) {
		uint64_t ino = fs_ino(ctx, forgets[i].ino);

		if (fs_forget_one(ctx, ino, forgets[i].nlookup))
			fs_forget_queue(ctx, ino);
	}
	fs_req_end(ctx);
	fuse_reply_none(req);
}
