/*
 * fc_fsck: the store checker (see fc_fsck.h). One read transaction; the
 * tables are scanned with raw cursors, the trees of the views walked
 * breadth-first with a queue of directory inodes (no recursion).
 */
#include "fc_fsck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_store_int.h"

/* u64 -> counters, open addressing (key 0 never used: ids start at 1). */
struct cmap_slot {
	uint64_t key;
	uint64_t a, b;
};

struct cmap {
	struct cmap_slot *s;
	size_t n, cap;
};

static struct cmap_slot *cmap_get(struct cmap *m, uint64_t key)
{
	size_t h;

	if ((m->n + 1) * 2 > m->cap) {
		struct cmap_slot *old = m->s;
		size_t ocap = m->cap;

		m->cap = ocap ? ocap * 2 : 1024;
		m->s = calloc(m->cap, sizeof(*m->s));
		if (!m->s) {
			m->s = old;
			m->cap = ocap;
			return NULL;
		}
		m->n = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].key)
				*cmap_get(m, old[i].key) = old[i];
		free(old);
	}
	h = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);
	while (m->s[h].key && m->s[h].key != key)
		h = (h + 1) & (m->cap - 1);
	if (!m->s[h].key) {
		m->s[h].key = key;
		m->n++;
	}
	return &m->s[h];
}

struct fsck {
	struct fc_store *st;
	struct fc_txn t;
	fc_fsck_cb cb;
	void *arg;
	uint64_t problems;
	uint64_t *gens;          /* every generation id, sorted */
	struct fc_gen *g;
	size_t n_gens, cap_gens;
	uint64_t max_ino, max_blob;
};

static void problem(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct fsck *f, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f->problems++;
	if (f->cb)
		f->cb(f->arg, line);
}

/*
 * Garbage is not a problem: a blob file renamed into place whose record's
 * transaction never committed (a crash in between) is expected after a
 * kill -9 and harmless; gc --all removes it. Reported, not counted.
 */
static void garbage(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void garbage(struct fsck *f, const char *fmt, ...)
{
	char line[768];
	int n = snprintf(line, sizeof(line), "garbage (gc --all reclaims it): ");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (f->cb)
		f->cb(f->arg, line);
}

static bool gen_known(const struct fsck *f, uint64_t gen, size_t *idx)
{
	size_t lo = 0, hi = f->n_gens;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->gens[mid] < gen)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (idx)
		*idx = lo;
	return lo < f->n_gens && f->gens[lo] == gen;
}

static int gen_cb(void *arg, uint64_t gen, const struct fc_gen *g)
{
	struct fsck *f = arg;

	if (f->n_gens == f->cap_gens) {
		size_t ncap = f->cap_gens ? f->cap_gens * 2 : 256;
		uint64_t *ng = realloc(f->gens, ncap * sizeof(*ng));
		struct fc_gen *gg;

		if (!ng)
			return -ENOMEM;
		f->gens = ng;
		gg = realloc(f->g, ncap * sizeof(*gg));
		if (!gg)
			return -ENOMEM;
		f->g = gg;
		f->cap_gens = ncap;
	}
	f->gens[f->n_gens] = gen;
	f->g[f->n_gens] = *g;
	f->n_gens++;
	return 0;
}

static void check_gens(struct fsck *f)
{
	for (size_t i = 0; i < f->n_gens; i++) {
		uint64_t p = f->g[i].parent;

		if (p && (p >= f->gens[i] || !gen_known(f, p, NULL)))
			problem(f, "generation %llu: parent %llu is missing or not older",
				(unsigned long long)f->gens[i], (unsigned long long)p);
		if (f->g[i].kind < FC_GEN_HEAD || f->g[i].kind > FC_GEN_ABANDONED)
			problem(f, "generation %llu: unknown kind %u",
				(unsigned long long)f->gens[i], f->g[i].kind);
	}
}

static int meta_u64(struct fsck *f, const char *key, size_t width, uint64_t *out)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc = mdb_get(f->t.txn, f->st->dbi_meta, &k, &v);

	if (rc)
		return fc_mdb_err(rc);
	if (v.mv_size != width)
		return FC_ECORRUPT;
	*out = 0;
	for (size_t i = 0; i < width; i++)
		*out |= (uint64_t)((const uint8_t *)v.mv_data)[i] << (8 * i);
	return 0;
}

static void check_counters(struct fsck *f)
{
	uint64_t next_ino = 0, next_gen = 0, next_blob = 0;
	uint64_t max_gen = f->n_gens ? f->gens[f->n_gens - 1] : 0;

	if (meta_u64(f, "next_ino", 8, &next_ino) < 0 || meta_u64(f, "next_gen", 8, &next_gen) < 0 ||
	    meta_u64(f, "next_blob", 8, &next_blob) < 0) {
		problem(f, "meta: a counter is missing or malformed");
		return;
	}
	if (next_ino <= f->max_ino)
		problem(f, "meta: next_ino %llu does not exceed inode %llu in use",
			(unsigned long long)next_ino, (unsigned long long)f->max_ino);
	if (next_gen <= max_gen)
		problem(f, "meta: next_gen %llu does not exceed generation %llu in use",
			(unsigned long long)next_gen, (unsigned long long)max_gen);
	if (next_blob <= f->max_blob)
		problem(f, "meta: next_blob %llu does not exceed blob %llu in use",
			(unsigned long long)next_blob, (unsigned long long)f->max_blob);
}

/* ---- tables ---- */

/* Every versioned record names an existing generation; inodes count blob refs. */
static int scan_table(struct fsck *f, int dbi_id, const char *what, struct cmap *refs)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct fc_inode in;
	uint64_t gen, ino, last_bad = 0;
	size_t plen;
	bool tomb;
	int mrc, rc = fc_mdb_err(mdb_cursor_open(f->t.txn, fc_store_dbi(f->st, dbi_id), &c));

	for (mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (fc_key_split(k.mv_data, k.mv_size, &plen, &gen) < 0 ||
		    fc_key_u64_decode(k.mv_data, 8, &ino) < 0) {
			problem(f, "%s: malformed key", what);
			continue;
		}
		if (!gen_known(f, gen, NULL) && gen != last_bad) {
			problem(f, "%s: record of inode %llu written by missing generation %llu",
				what, (unsigned long long)ino, (unsigned long long)gen);
			last_bad = gen;
		}
		if (ino > f->max_ino)
			f->max_ino = ino;
		if (dbi_id != FC_DBI_INODE)
			continue;
		if (fc_inode_decode(v.mv_data, v.mv_size, &in, &tomb) < 0) {
			problem(f, "inode %llu gen %llu: undecodable record",
				(unsigned long long)ino, (unsigned long long)gen);
			continue;
		}
		if (!tomb && in.blob) {
			struct cmap_slot *s = cmap_get(refs, in.blob);

			if (!s)
				return -ENOMEM;
			s->a++;
		}
	}
	if (c)
		mdb_cursor_close(c);
	return rc ? rc : (mrc == MDB_NOTFOUND ? 0 : fc_mdb_err(mrc));
}

/* Blob records: refcount = inode versions naming it; own blobs have files. */
static int scan_blobs(struct fsck *f, struct cmap *refs)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct fc_blob b;
	struct stat sb;
	uint64_t id;
	char rel[32];
	int mrc, rc = fc_mdb_err(mdb_cursor_open(f->t.txn, f->st->dbi_blob, &c));

	for (mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct cmap_slot *s;

		if (fc_key_u64_decode(k.mv_data, k.mv_size, &id) < 0 ||
		    fc_blob_decode(v.mv_data, v.mv_size, &b) < 0) {
			problem(f, "blob: malformed record");
			continue;
		}
		if (id > f->max_blob)
			f->max_blob = id;
		s = cmap_get(refs, id);
		if (!s)
			return -ENOMEM;
		s->b = 1;
		if (b.refcount != s->a)
			problem(f, "blob %llu: refcount %llu but %llu inode versions name it",
				(unsigned long long)id, (unsigned long long)b.refcount,
				(unsigned long long)s->a);
		fc_blob_relname(id, rel);
		if (b.src == FC_BLOB_OWN && fstatat(f->st->blobs_fd, rel, &sb,
						    AT_SYMLINK_NOFOLLOW) < 0)
			problem(f, "blob %llu: file blobs/%s is missing", (unsigned long long)id, rel);
	}
	if (c)
		mdb_cursor_close(c);
	for (size_t i = 0; i < refs->cap; i++)
		if (refs->s[i].key && !refs->s[i].b)
			problem(f, "blob %llu: named by %llu inode versions but has no record",
				(unsigned long long)refs->s[i].key, (unsigned long long)refs->s[i].a);
	return rc ? rc : (mrc == MDB_NOTFOUND ? 0 : fc_mdb_err(mrc));
}

/* Every file under blobs/ belongs to a blob record. */
static void scan_blob_files(struct fsck *f, struct cmap *refs)
{
	int fd = openat(f->st->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e, *fe;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		problem(f, "blobs/: cannot read the directory");
		return;
	}
	while ((e = readdir(dp))) {
		int sfd;
		DIR *sp;

		if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
			continue;
		sfd = openat(dirfd(dp), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		sp = sfd >= 0 ? fdopendir(sfd) : NULL;
		if (!sp) {
			if (sfd >= 0)
				close(sfd);
			continue;
		}
		while ((fe = readdir(sp))) {
			char *end = NULL;
			unsigned long long id;
			struct cmap_slot *s;

			if (fe->d_name[0] == '.')
				continue;
			id = strtoull(fe->d_name, &end, 16);
			s = (end && !*end && id) ? cmap_get(refs, id) : NULL;
			if (!s || !s->b)
				garbage(f, "blobs/%s/%s: file without a blob record", e->d_name,
					fe->d_name);
		}
		closedir(sp);
	}
	closedir(dp);
}

/* Change-log entries name existing generations. */
static int scan_changes(struct fsck *f)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	const uint8_t *prefix;
	uint64_t gen, last_bad = 0;
	size_t plen;
	uint8_t dbi;
	int mrc, rc = fc_mdb_err(mdb_cursor_open(f->t.txn, f->st->dbi_changes, &c));

	for (mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (fc_key_change_decode(k.mv_data, k.mv_size, &gen, &dbi, &prefix, &plen) < 0) {
			problem(f, "changes: malformed key");
			continue;
		}
		if (!gen_known(f, gen, NULL) && gen != last_bad) {
			problem(f, "changes: entries of missing generation %llu",
				(unsigned long long)gen);
			last_bad = gen;
		}
	}
	if (c)
		mdb_cursor_close(c);
	return rc ? rc : (mrc == MDB_NOTFOUND ? 0 : fc_mdb_err(mrc));
}

/* ---- trees ---- */

struct walk {
	struct fsck *f;
	const struct fc_view *v;
	const char *label;       /* "cell 'x' head 12" */
	struct cmap seen;        /* ino -> a: entries naming it, b: subdirectories */
	uint64_t *q;             /* directories to visit */
	size_t qh, qn, qcap;
	uint64_t dir;            /* the directory being read */
};

static int walk_push(struct walk *w, uint64_t ino)
{
	if (w->qn == w->qcap) {
		size_t ncap = w->qcap ? w->qcap * 2 : 256;
		uint64_t *nq = realloc(w->q, ncap * sizeof(*nq));

		if (!nq)
			return -ENOMEM;
		w->q = nq;
		w->qcap = ncap;
	}
	w->q[w->qn++] = ino;
	return 0;
}

static int walk_entry(void *arg, const char *name, const struct fc_dirent *de)
{
	struct walk *w = arg;
	struct cmap_slot *s, *ps;
	struct fc_inode in;
	int rc = fc_inode_get(&w->f->t, w->v, de->ino, &in);

	if (rc == -ENOENT) {
		problem(w->f, "%s: entry '%s' of directory %llu names missing inode %llu", w->label,
			name, (unsigned long long)w->dir, (unsigned long long)de->ino);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (IFTODT(in.mode) != de->type)
		problem(w->f, "%s: entry '%s' of directory %llu has type %u, inode %llu mode %o",
			w->label, name, (unsigned long long)w->dir, de->type,
			(unsigned long long)de->ino, in.mode);
	s = cmap_get(&w->seen, de->ino);
	if (!s)
		return -ENOMEM;
	s->a++;
	if (!S_ISDIR(in.mode))
		return 0;
	ps = cmap_get(&w->seen, w->dir);
	if (!ps)
		return -ENOMEM;
	ps->b++;
	if (s->a > 1) {
		problem(w->f, "%s: directory %llu is reached twice (entry '%s' of %llu)", w->label,
			(unsigned long long)de->ino, name, (unsigned long long)w->dir);
		return 0;
	}
	return walk_push(w, de->ino);
}

/* Link counts of everything the walk reached. */
static int walk_nlinks(struct walk *w)
{
	struct fc_inode in;

	for (size_t i = 0; i < w->seen.cap; i++) {
		const struct cmap_slot *s = &w->seen.s[i];
		uint64_t want;
		int rc;

		if (!s->key)
			continue;
		rc = fc_inode_get(&w->f->t, w->v, s->key, &in);
		if (rc == -ENOENT)
			continue;     /* reported by walk_entry */
		if (rc < 0)
			return rc;
		want = S_ISDIR(in.mode) ? 2 + s->b : s->a;
		if (in.nlink != want)
			problem(w->f, "%s: inode %llu has nlink %u, expected %llu", w->label,
				(unsigned long long)s->key, in.nlink, (unsigned long long)want);
	}
	return 0;
}

static int check_view(struct fsck *f, const char *cell, uint64_t gen, const char *what)
{
	char label[FC_CELL_NAME_MAX + 64];
	struct walk w = { .f = f, .label = label };
	struct fc_view v = { 0 };
	struct fc_inode in;
	int rc;

	snprintf(label, sizeof(label), "cell '%s' %s %llu", cell, what, (unsigned long long)gen);
	rc = fc_view_load(&f->t, gen, cell, &v);
	if (rc < 0) {
		problem(f, "%s: cannot load the view: %s", label, fc_strerror(rc));
		return rc == -ENOMEM ? rc : 0;
	}
	w.v = &v;
	rc = fc_inode_get(&f->t, &v, v.root_ino, &in);
	if (rc < 0 || !S_ISDIR(in.mode)) {
		problem(f, "%s: root inode %llu is missing or not a directory", label,
			(unsigned long long)v.root_ino);
		rc = 0;
		goto out;
	}
	rc = cmap_get(&w.seen, v.root_ino) ? walk_push(&w, v.root_ino) : -ENOMEM;
	while (rc == 0 && w.qh < w.qn) {
		w.dir = w.q[w.qh++];
		rc = fc_dirent_iter(&f->t, &v, w.dir, NULL, walk_entry, &w);
	}
	if (rc == 0)
		rc = walk_nlinks(&w);
out:
	free(w.q);
	free(w.seen.s);
	fc_view_release(&v);
	return rc;
}

struct cells_ctx {
	struct fsck *f;
	char (*names)[FC_CELL_NAME_MAX + 1];
	size_t n, cap;
};

static int cell_cb(void *arg, const char *name, const struct fc_cell *c)
{
	struct cells_ctx *cc = arg;
	size_t idx;

	if (!gen_known(cc->f, c->head, &idx))
		problem(cc->f, "cell '%s': head %llu does not exist", name,
			(unsigned long long)c->head);
	else if (cc->f->g[idx].kind != FC_GEN_HEAD)
		problem(cc->f, "cell '%s': head %llu is not of kind head", name,
			(unsigned long long)c->head);
	if (cc->n == cc->cap) {
		size_t ncap = cc->cap ? cc->cap * 2 : 32;
		void *nn = realloc(cc->names, ncap * sizeof(*cc->names));

		if (!nn)
			return -ENOMEM;
		cc->names = nn;
		cc->cap = ncap;
	}
	snprintf(cc->names[cc->n++], FC_CELL_NAME_MAX + 1, "%s", name);
	return 0;
}

static bool cell_listed(const struct cells_ctx *cc, const char *cell)
{
	for (size_t i = 0; i < cc->n; i++)
		if (strcmp(cc->names[i], cell) == 0)
			return true;
	return false;
}

/* Every cell head and every checkpoint of an existing cell. */
static int check_views(struct fsck *f)
{
	struct cells_ctx cc = { .f = f };
	struct fc_cell c;
	int rc = fc_cell_iter(&f->t, cell_cb, &cc);

	for (size_t i = 0; rc == 0 && i < cc.n; i++)
		if (fc_cell_get(&f->t, cc.names[i], &c) == 0 && gen_known(f, c.head, NULL))
			rc = check_view(f, cc.names[i], c.head, "head");
	for (size_t i = 0; rc == 0 && i < f->n_gens; i++)
		if (f->g[i].kind == FC_GEN_CHECKPOINT && cell_listed(&cc, f->g[i].cell))
			rc = check_view(f, f->g[i].cell, f->gens[i], "checkpoint");
	free(cc.names);
	return rc;
}

int fc_fsck(struct fc_store *st, fc_fsck_cb cb, void *arg, uint64_t *problems,
	    struct fc_diag *d)
{
	struct fsck f = { .st = st, .cb = cb, .arg = arg };
	struct cmap refs = { 0 };
	int rc = fc_txn_begin(st, true, &f.t);

	if (rc == 0)
		rc = fc_gen_iter(&f.t, gen_cb, &f);
	if (rc == 0) {
		check_gens(&f);
		rc = scan_table(&f, FC_DBI_INODE, "inode", &refs);
	}
	if (rc == 0)
		rc = scan_table(&f, FC_DBI_DIRENT, "dirent", &refs);
	if (rc == 0)
		rc = scan_table(&f, FC_DBI_XATTR, "xattr", &refs);
	if (rc == 0)
		rc = scan_table(&f, FC_DBI_SYMLINK, "symlink", &refs);
	if (rc == 0)
		rc = scan_blobs(&f, &refs);
	if (rc == 0) {
		scan_blob_files(&f, &refs);
		rc = scan_changes(&f);
	}
	if (rc == 0) {
		check_counters(&f);
		rc = check_views(&f);
	}
	fc_txn_abort(&f.t);
	if (rc == 0)
		*problems = f.problems;
	else
		fc_diag_set(d, rc, "fsck could not finish: %s", fc_strerror(rc));
	free(refs.s);
	free(f.gens);
	free(f.g);
	return rc;
}
