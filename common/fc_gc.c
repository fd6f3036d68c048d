/*
 * fc_gc: mark the live generations, reclaim the dead ones through their
 * change logs, then (whole-store runs only) sweep orphan files.
 *
 * Mark: O(generations): each chain walk stops at the first generation that
 * is already live. Reclaim: O(records of dead generations): every record a
 * generation wrote is named by its change log, so no table scan is needed.
 * A dead generation is emptied in batches of FC_GC_BATCH log entries per
 * write transaction (log entry and record go together, so a crash between
 * batches leaves a consistent store and the next gc continues); its gen
 * record goes last.
 */
#include "fc_gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_lock.h"
#include "fc_store_int.h"

#define FC_GC_BATCH 10000

struct gnode {
	uint64_t id;
	struct fc_gen g;
	bool live;
};

struct gc_lock {
	char cell[FC_CELL_NAME_MAX + 1];
	int fd;               /* -1: could not lock (busy, not ours to reclaim) */
	/*
	 * A daemon serves the cell. Its dead generations are reclaimed anyway:
	 * a daemon reads only its head's ancestors, which are live, and
	 * generations only ever go from live to dead (restore and fork start
	 * from live checkpoints), so nothing it can do revives what gc marked.
	 */
	bool served;
};

struct bref {
	uint64_t id;          /* 0 = empty slot */
	uint64_t drops;
};

struct gc {
	struct fc_store *st;
	const struct fc_gc_opts *o;
	struct fc_diag *d;
	struct gnode *g;
	size_t n, cap;
	char (*cells)[FC_CELL_NAME_MAX + 1];    /* existing cells, sorted */
	size_t n_cells, cap_cells;
	struct gc_lock *locks;
	size_t n_locks;
	struct bref *brefs;   /* dry run: references each blob would lose */
	size_t n_brefs, cap_brefs;
	struct fc_gc_stats stats;
};

struct change {
	uint8_t dbi;
	size_t len;
	uint8_t prefix[FC_KEY_MAX];
};

/* ---- mark ---- */

static int gc_gen_cb(void *arg, uint64_t gen, const struct fc_gen *g)
{
	struct gc *gc = arg;

	if (gc->n == gc->cap) {
		size_t ncap = gc->cap ? gc->cap * 2 : 256;
		struct gnode *ng = realloc(gc->g, ncap * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		gc->g = ng;
		gc->cap = ncap;
	}
	gc->g[gc->n].id = gen;
	gc->g[gc->n].g = *g;
	gc->g[gc->n].live = false;
	gc->n++;
	return 0;
}

static struct gnode *gc_find(struct gc *gc, uint64_t id)
{
	size_t lo = 0, hi = gc->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (gc->g[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < gc->n && gc->g[lo].id == id ? &gc->g[lo] : NULL;
}

static void gc_mark_chain(struct gc *gc, uint64_t id)
{
	struct gnode *nd;

	while (id && (nd = gc_find(gc, id)) && !nd->live) {
		nd->live = true;
		id = nd->g.parent;
	}
}

static int gc_cell_cb(void *arg, const char *name, const struct fc_cell *c)
{
	struct gc *gc = arg;

	if (gc->n_cells == gc->cap_cells) {
		size_t ncap = gc->cap_cells ? gc->cap_cells * 2 : 64;
		void *nc = realloc(gc->cells, ncap * sizeof(*gc->cells));

		if (!nc)
			return -ENOMEM;
		gc->cells = nc;
		gc->cap_cells = ncap;
	}
	snprintf(gc->cells[gc->n_cells++], FC_CELL_NAME_MAX + 1, "%s", name);
	gc_mark_chain(gc, c->head);
	return 0;
}

static bool gc_cell_exists(const struct gc *gc, const char *cell)
{
	size_t lo = 0, hi = gc->n_cells;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(gc->cells[mid], cell);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Does this gc hold the writer lock of cell (taken by gc_lock_all)? */
static bool gc_holds(const struct gc *gc, const char *cell)
{
	for (size_t i = 0; i < gc->n_locks; i++)
		if (gc->locks[i].fd >= 0 && strcmp(gc->locks[i].cell, cell) == 0)
			return true;
	return false;
}

/* Load every generation and cell, mark what is live. */
static int gc_mark(struct gc *gc)
{
	struct fc_txn t = { 0 };
	size_t i;
	int rc = fc_txn_begin(gc->st, true, &t);

	gc->n = 0;
	gc->n_cells = 0;
	if (rc == 0)
		rc = fc_gen_iter(&t, gc_gen_cb, gc);
	/* fc_cell_iter visits cells in name order: cells[] comes out sorted. */
	if (rc == 0)
		rc = fc_cell_iter(&t, gc_cell_cb, gc);
	fc_txn_abort(&t);
	for (i = 0; rc == 0 && i < gc->n; i++) {
		const struct gnode *nd = &gc->g[i];
		bool exists = gc_cell_exists(gc, nd->g.cell);

		if (strcmp(nd->g.cell, FC_GEN_CELL_DELETED) == 0)
			continue;	/* deleted: live only through other cells' chains */
		if (nd->g.kind == FC_GEN_CHECKPOINT && exists)
			gc_mark_chain(gc, nd->id);
		else if (nd->g.kind == FC_GEN_HEAD && !exists && !gc_holds(gc, nd->g.cell) &&
			 fc_cell_lock_held(gc->st, nd->g.cell, 0) != 0)
			gc_mark_chain(gc, nd->id);      /* an init in progress */
		else if (nd->g.kind == FC_GEN_CHECKPOINT &&
			 fc_cell_lock_held(gc->st, nd->g.cell, nd->id) != 0)
			gc_mark_chain(gc, nd->id);      /* a time-travel mount */
	}
	return rc;
}

static bool gc_selected(const struct gc *gc, const struct gnode *nd)
{
	return !nd->live && (!gc->o->cell || strcmp(nd->g.cell, gc->o->cell) == 0);
}

/* ---- locks ---- */

static struct gc_lock *gc_lock_find(struct gc *gc, const char *cell)
{
	for (size_t i = 0; i < gc->n_locks; i++)
		if (strcmp(gc->locks[i].cell, cell) == 0)
			return &gc->locks[i];
	return NULL;
}

/*
 * Lock every cell that made a selected dead generation. An existing cell
 * held by someone else stops the gc; a deleted cell's name held by someone
 * (a new init under that name) only means its old generations wait.
 */
static int gc_lock_all(struct gc *gc)
{
	struct fc_daemon_info info;
	struct gc_lock *l;
	size_t i;
	int rc;

	gc->locks = calloc(gc->n + 1, sizeof(*gc->locks));
	if (!gc->locks)
		return -ENOMEM;
	for (i = 0; i < gc->n; i++) {
		const char *cell = gc->g[i].g.cell;

		if (!gc_selected(gc, &gc->g[i]) || gc_lock_find(gc, cell))
			continue;
		l = &gc->locks[gc->n_locks++];
		snprintf(l->cell, sizeof(l->cell), "%s", cell);
		if (cell[0] == FC_GEN_CELL_DELETED[0]) {
			/* Generations of a deleted cell: nobody can write them. */
			l->fd = -1;
			l->served = true;
			continue;
		}
		rc = fc_cell_lock_try(gc->st, cell, 0, &l->fd, NULL);
		if (rc == 0)
			continue;
		l->fd = -1;
		if (rc != FC_ELOCKED)
			return fc_diag_set(gc->d, rc, "cannot lock cell '%s': %s", cell,
					   fc_strerror(rc));
		if (!gc_cell_exists(gc, cell))
			continue;
		if (fc_daemon_info_read(gc->st, cell, 0, &info) == 0) {
			l->served = true;
			continue;
		}
		return fc_diag_set(gc->d, FC_ELOCKED, "cell '%s' is busy (another process "
				   "works on it); try again", cell);
	}
	return 0;
}

static void gc_unlock_all(struct gc *gc)
{
	for (size_t i = 0; i < gc->n_locks; i++)
		fc_cell_lock_release(gc->locks[i].fd);
	free(gc->locks);
	gc->locks = NULL;
	gc->n_locks = 0;
}

/* ---- reclaim ---- */

static int gc_bref_add(struct gc *gc, uint64_t id)
{
	size_t h;

	if ((gc->n_brefs + 1) * 2 > gc->cap_brefs) {
		struct bref *old = gc->brefs;
		size_t ocap = gc->cap_brefs;

		gc->cap_brefs = ocap ? ocap * 2 : 1024;
		gc->brefs = calloc(gc->cap_brefs, sizeof(*gc->brefs));
		if (!gc->brefs) {
			gc->brefs = old;
			gc->cap_brefs = ocap;
			return -ENOMEM;
		}
		gc->n_brefs = 0;
		for (size_t i = 0; i < ocap; i++) {
			if (!old[i].id)
				continue;
			h = (size_t)(old[i].id * 0x9e3779b97f4a7c15ULL) & (gc->cap_brefs - 1);
			while (gc->brefs[h].id)
				h = (h + 1) & (gc->cap_brefs - 1);
			gc->brefs[h] = old[i];
			gc->n_brefs++;
		}
		free(old);
	}
	h = (size_t)(id * 0x9e3779b97f4a7c15ULL) & (gc->cap_brefs - 1);
	while (gc->brefs[h].id && gc->brefs[h].id != id)
		h = (h + 1) & (gc->cap_brefs - 1);
	if (!gc->brefs[h].id) {
		gc->brefs[h].id = id;
		gc->n_brefs++;
	}
	gc->brefs[h].drops++;
	return 0;
}

/* Size of an own blob's file (0 when missing). */
static uint64_t gc_blob_bytes(struct gc *gc, uint64_t id, const struct fc_blob *b)
{
	char rel[32];
	struct stat sb;

	if (b->src != FC_BLOB_OWN)
		return 0;
	fc_blob_relname(id, rel);
	if (fstatat(gc->st->blobs_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return (uint64_t)sb.st_blocks * 512;
}

/* Drop one reference to blob id (real run) or note it (dry run). */
static int gc_unref(struct gc *gc, struct fc_txn *t, uint64_t id)
{
	struct fc_blob b;
	int rc;

	if (gc->o->dry_run)
		return gc_bref_add(gc, id);
	rc = fc_blob_get(t, id, &b);
	if (rc < 0)
		return rc == -ENOENT ? FC_ECORRUPT : rc;
	if (b.refcount == 1) {
		gc->stats.blobs++;
		gc->stats.bytes += gc_blob_bytes(gc, id, &b);
	}
	return fc_blob_ref(t, id, -1);
}

/* Delete the version of a record written in gen (and its log entry). */
static int gc_record(struct gc *gc, struct fc_txn *t, uint64_t gen, const struct change *c)
{
	uint8_t key[FC_KEY_MAX + 8];
	MDB_val k = { c->len + 8, key }, v;
	MDB_dbi dbi = fc_store_dbi(gc->st, c->dbi);
	struct fc_inode in;
	bool tomb = false;
	int rc;

	if (c->dbi < FC_DBI_DIRENT || c->dbi > FC_DBI_SYMLINK || c->len > FC_KEY_MAX - 8)
		return FC_ECORRUPT;
	memcpy(key, c->prefix, c->len);
	fc_key_u64(key + c->len, ~gen);
	rc = mdb_get(t->txn, dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		rc = 0;         /* deleted outright when it was tombstoned */
	else if (rc == 0) {
		gc->stats.records++;
		if (c->dbi == FC_DBI_INODE) {
			rc = fc_inode_decode(v.mv_data, v.mv_size, &in, &tomb);
			if (rc == 0 && !tomb && in.blob)
				rc = gc_unref(gc, t, in.blob);
		}
		if (rc == 0 && !gc->o->dry_run)
			rc = fc_mdb_err(mdb_del(t->txn, dbi, &k, NULL));
	} else {
		rc = fc_mdb_err(rc);
	}
	if (rc == 0 && !gc->o->dry_run) {
		k.mv_size = fc_key_change(key, gen, c->dbi, c->prefix, c->len);
		rc = fc_mdb_err(mdb_del(t->txn, gc->st->dbi_changes, &k, NULL));
		if (rc == -ENOENT)
			rc = 0;
	}
	return rc;
}

struct batch {
	struct change *c;
	size_t n;
};

static int gc_batch_cb(void *arg, uint64_t gen, uint8_t dbi, const uint8_t *prefix,
		       size_t plen)
{
	struct batch *b = arg;

	if (plen > FC_KEY_MAX)
		return FC_ECORRUPT;
	b->c[b->n].dbi = dbi;
	b->c[b->n].len = plen;
	memcpy(b->c[b->n].prefix, prefix, plen);
	return ++b->n == FC_GC_BATCH ? 1 : 0;
}

struct dry {
	struct gc *gc;
	struct fc_txn *t;
	struct change c;
};

static int gc_dry_cb(void *arg, uint64_t gen, uint8_t dbi, const uint8_t *prefix, size_t plen)
{
	struct dry *dr = arg;

	if (plen > FC_KEY_MAX)
		return FC_ECORRUPT;
	dr->c.dbi = dbi;
	dr->c.len = plen;
	memcpy(dr->c.prefix, prefix, plen);
	return gc_record(dr->gc, dr->t, gen, &dr->c);
}

static int gc_gen_del(struct fc_txn *t, uint64_t gen)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb };

	fc_key_u64(kb, gen);
	return fc_mdb_err(mdb_del(t->txn, t->st->dbi_gen, &k, NULL));
}

/* Empty one dead generation batch by batch, then delete it. */
static int gc_reclaim(struct gc *gc, uint64_t gen)
{
	struct batch b = { 0 };
	struct fc_txn t = { 0 };
	int rc;

	if (gc->o->dry_run) {
		struct dry *dr = malloc(sizeof(*dr));

		rc = dr ? fc_txn_begin(gc->st, true, &t) : -ENOMEM;
		if (rc == 0) {
			dr->gc = gc;
			dr->t = &t;
			rc = fc_changes_iter(&t, gen, gc_dry_cb, dr);
		}
		fc_txn_abort(&t);
		free(dr);
		gc->stats.gens += rc == 0;
		return rc;
	}
	b.c = malloc(FC_GC_BATCH * sizeof(*b.c));
	if (!b.c)
		return -ENOMEM;
	do {
		b.n = 0;
		rc = fc_txn_begin(gc->st, false, &t);
		if (rc == 0)
			rc = fc_changes_iter(&t, gen, gc_batch_cb, &b);
		for (size_t i = 0; rc == 0 && i < b.n; i++)
			rc = gc_record(gc, &t, gen, &b.c[i]);
		if (rc == 0 && b.n < FC_GC_BATCH)
			rc = gc_gen_del(&t, gen);
		if (rc == 0)
			rc = fc_txn_commit(&t);
		fc_txn_abort(&t);
	} while (rc == 0 && b.n == FC_GC_BATCH);
	free(b.c);
	gc->stats.gens += rc == 0;
	return rc;
}

/* Dry run: the blobs whose every reference would go. */
static int gc_dry_blobs(struct gc *gc)
{
	struct fc_txn t = { 0 };
	struct fc_blob b;
	int rc = fc_txn_begin(gc->st, true, &t);

	for (size_t i = 0; rc == 0 && i < gc->cap_brefs; i++) {
		if (!gc->brefs[i].id || fc_blob_get(&t, gc->brefs[i].id, &b) < 0)
			continue;
		if (b.refcount <= gc->brefs[i].drops) {
			gc->stats.blobs++;
			gc->stats.bytes += gc_blob_bytes(gc, gc->brefs[i].id, &b);
		}
	}
	fc_txn_abort(&t);
	return rc;
}

/* ---- orphan sweep ---- */

/* Is any run/<x>.lock held by a process other than this gc? */
static bool gc_foreign_lock(struct gc *gc)
{
	int fd = openat(gc->st->run_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	bool held = false;
	DIR *dp;

	if (fd < 0 || !(dp = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return true;    /* unsure: assume a daemon runs */
	}
	while (!held && (e = readdir(dp))) {
		size_t n = strlen(e->d_name);
		int lfd;

		if (n < 6 || strcmp(e->d_name + n - 5, ".lock") != 0)
			continue;
		e->d_name[n - 5] = '\0';
		if (gc_lock_find(gc, e->d_name))
			continue;
		e->d_name[n - 5] = '.';
		lfd = openat(dirfd(dp), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (lfd < 0)
			continue;
		held = flock(lfd, LOCK_EX | LOCK_NB) < 0;
		close(lfd);
	}
	closedir(dp);
	return held;
}

static void gc_orphan(struct gc *gc, int dfd, const char *name)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
		return;
	if (!gc->o->dry_run && unlinkat(dfd, name, 0) < 0)
		return;
	gc->stats.orphan_files++;
	gc->stats.orphan_bytes += (uint64_t)sb.st_blocks * 512;
}

/* tmp/: files of processes that no longer exist ("<what>.<pid>.<rand>"). */
static void gc_sweep_tmp(struct gc *gc)
{
	int fd = openat(gc->st->tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(dp))) {
		const char *dot = strchr(e->d_name, '.');
		char *end = NULL;
		long pid;

		if (!dot || e->d_name[0] == '.')
			continue;
		pid = strtol(dot + 1, &end, 10);
		if (pid <= 0 || !end || *end != '.')
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			gc_orphan(gc, dirfd(dp), e->d_name);
	}
	closedir(dp);
}

/* One blobs/<xx>/ directory: files whose id has no blob record. */
static void gc_sweep_blobdir(struct gc *gc, struct fc_txn *t, int dfd)
{
	struct fc_blob b;
	struct dirent *e;
	DIR *dp = fdopendir(dfd);

	if (!dp) {
		close(dfd);
		return;
	}
	while ((e = readdir(dp))) {
		char *end = NULL;
		unsigned long long id;

		if (strlen(e->d_name) != 16)
			continue;
		id = strtoull(e->d_name, &end, 16);
		if (!end || *end || id == 0)
			continue;
		if (fc_blob_get(t, id, &b) == -ENOENT)
			gc_orphan(gc, dirfd(dp), e->d_name);
	}
	closedir(dp);
}

static int gc_sweep_blobs(struct gc *gc)
{
	int fd = openat(gc->st->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct fc_txn t = { 0 };
	struct dirent *e;
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	int rc;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rc = fc_txn_begin(gc->st, true, &t);
	while (rc == 0 && (e = readdir(dp))) {
		int sub;

		if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
			continue;
		sub = openat(dirfd(dp), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			gc_sweep_blobdir(gc, &t, sub);
	}
	fc_txn_abort(&t);
	closedir(dp);
	return rc;
}

/*
 * Blob records with no reference left behind by a crash between the blob's
 * creation and the inode write that names it (only safe to drop while no
 * daemon runs: a live one may be between those two steps).
 */
static int gc_sweep_unreferenced(struct gc *gc)
{
	struct fc_txn t = { 0 };
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct fc_blob b;
	uint64_t *ids = NULL, id;
	size_t n = 0, cap = 0;
	int mrc, rc = fc_txn_begin(gc->st, gc->o->dry_run, &t);

	if (rc == 0)
		rc = fc_mdb_err(mdb_cursor_open(t.txn, gc->st->dbi_blob, &c));
	for (mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (fc_key_u64_decode(k.mv_data, k.mv_size, &id) < 0 ||
		    fc_blob_decode(v.mv_data, v.mv_size, &b) < 0 || b.refcount != 0)
			continue;
		if (n == cap) {
			uint64_t *ni = realloc(ids, (cap = cap ? cap * 2 : 64) * sizeof(*ni));

			if (!ni) {
				rc = -ENOMEM;
				break;
			}
			ids = ni;
		}
		ids[n++] = id;
		gc->stats.orphan_files++;
		gc->stats.orphan_bytes += gc_blob_bytes(gc, id, &b);
	}
	if (c)
		mdb_cursor_close(c);
	for (size_t i = 0; rc == 0 && !gc->o->dry_run && i < n; i++) {
		uint8_t kb[8];
		MDB_val dk = { 8, kb };

		fc_key_u64(kb, ids[i]);
		rc = fc_mdb_err(mdb_del(t.txn, gc->st->dbi_blob, &dk, NULL));
		if (rc == 0)
			rc = fc_txn_dead_add(&t, ids[i]);   /* the file goes after commit */
	}
	if (rc == 0 && !gc->o->dry_run && n > 0)
		rc = fc_txn_commit(&t);
	fc_txn_abort(&t);
	free(ids);
	return rc;
}

int fc_gc(struct fc_store *st, const struct fc_gc_opts *opts, struct fc_gc_stats *out,
	  struct fc_diag *d)
{
	struct gc gc = { .st = st, .o = opts, .d = d };
	size_t i;
	int rc = gc_mark(&gc);

	if (rc == 0 && opts->cell && !gc_cell_exists(&gc, opts->cell)) {
		bool made = false;

		for (i = 0; i < gc.n; i++)
			made |= strcmp(gc.g[i].g.cell, opts->cell) == 0;
		if (!made)
			rc = fc_diag_set(d, FC_ENOCELL, "cell '%s' does not exist", opts->cell);
	}
	if (rc == 0)
		rc = gc_lock_all(&gc);
	/* Marked again under the locks: nothing can revive a generation now. */
	if (rc == 0)
		rc = gc_mark(&gc);
	for (i = 0; rc == 0 && i < gc.n; i++) {
		struct gc_lock *l;

		if (!gc_selected(&gc, &gc.g[i]))
			continue;
		l = gc_lock_find(&gc, gc.g[i].g.cell);
		if (l && (l->fd >= 0 || l->served))
			rc = gc_reclaim(&gc, gc.g[i].id);
	}
	if (rc == 0 && opts->dry_run)
		rc = gc_dry_blobs(&gc);
	if (rc == 0 && !opts->cell && !gc_foreign_lock(&gc)) {
		gc_sweep_tmp(&gc);
		rc = gc_sweep_unreferenced(&gc);
		if (rc == 0)
			rc = gc_sweep_blobs(&gc);
		gc.stats.swept = true;
	}
	if (rc == 0 && !opts->dry_run)
		rc = fc_store_sync(st);
	if (rc == 0)
		*out = gc.stats;
	else if (d && !d->msg[0])
		fc_diag_set(d, rc, "gc failed: %s", fc_strerror(rc));
	gc_unlock_all(&gc);
	free(gc.g);
	free(gc.cells);
	free(gc.brefs);
	return rc;
}
