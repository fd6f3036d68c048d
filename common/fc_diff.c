/*
 * fc_diff: changed paths between two views from the change logs.
 *
 * 1. The generations in from \ to and to \ from are the only ones whose
 *    records can make the views differ; their change logs name every
 *    candidate key (dirent, inode, xattr, symlink).
 * 2. Each candidate is looked up in both views: a dirent visible in one view
 *    only is an add or a delete; an inode, xattr or symlink that differs is
 *    a modification of that inode.
 * 3. Paths come from the primary links (inode.parent/name) walked upward and
 *    checked against the dirents: O(depth) each.
 * 4. Entries are sorted by path, duplicates dropped, and handed to the
 *    callback. Below an added or deleted directory the subtree is listed
 *    too (O(size of that subtree), which the user asked to see anyway).
 */
#include "fc_diff.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FC_DIFF_DEPTH_MAX 4096
#define FC_PATH_CAP 4096

struct dkey {
	uint8_t dbi;
	uint64_t ino;
	char *name;          /* dirent and xattr keys; NULL otherwise */
};

struct dentry {
	char *path;
	char status;
	uint8_t type;
	uint64_t ino, old_size, new_size;
};

struct multi {
	uint64_t ino;
	uint8_t type;
	uint64_t old_size, new_size;
};

struct diff {
	struct fc_txn *t;
	const struct fc_view *from, *to;
	struct dkey *keys;
	size_t n_keys, cap_keys;
	struct dentry *out;
	size_t n_out, cap_out;
	struct multi *multi;  /* modified inodes with several names */
	size_t n_multi, cap_multi;
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static int diff_key_add(void *arg, uint64_t gen, uint8_t dbi, const uint8_t *prefix,
			size_t plen)
{
	struct diff *df = arg;
	struct dkey k = { .dbi = dbi };

	if (plen < 8)
		return FC_ECORRUPT;
	k.ino = be64(prefix);
	if (dbi == FC_DBI_DIRENT || dbi == FC_DBI_XATTR) {
		/* prefix = ino | name | NUL */
		if (plen < 10 || prefix[plen - 1] != 0)
			return FC_ECORRUPT;
		k.name = strndup((const char *)prefix + 8, plen - 9);
		if (!k.name)
			return -ENOMEM;
	}
	if (df->n_keys == df->cap_keys) {
		size_t ncap = df->cap_keys ? df->cap_keys * 2 : 256;
		struct dkey *nk = realloc(df->keys, ncap * sizeof(*nk));

		if (!nk) {
			free(k.name);
			return -ENOMEM;
		}
		df->keys = nk;
		df->cap_keys = ncap;
	}
	df->keys[df->n_keys++] = k;
	(void)gen;
	return 0;
}

static int dkey_cmp(const void *a, const void *b)
{
	const struct dkey *x = a, *y = b;

	if (x->dbi != y->dbi)
		return x->dbi < y->dbi ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (!x->name || !y->name)
		return !!x->name - !!y->name;
	return strcmp(x->name, y->name);
}

/* Gather and dedupe the candidate keys of the generations in a \ b. */
static int diff_gather(struct diff *df, const struct fc_view *a, const struct fc_view *b)
{
	uint64_t *gens = NULL;
	size_t n = 0, i;
	int rc = fc_view_minus(a, b, &gens, &n);

	for (i = 0; rc == 0 && i < n; i++)
		rc = fc_changes_iter(df->t, gens[i], diff_key_add, df);
	free(gens);
	return rc;
}

int fc_diff_path(struct fc_txn *t, const struct fc_view *v, uint64_t ino, char *out, size_t cap)
{
	char *buf = malloc(FC_PATH_CAP);
	size_t pos = FC_PATH_CAP - 1;
	struct fc_inode in;
	struct fc_dirent de;
	int depth = 0, rc = 0;

	if (!buf)
		return -ENOMEM;
	buf[pos] = '\0';
	while (ino != v->root_ino) {
		size_t nl;

		if (++depth > FC_DIFF_DEPTH_MAX) {
			rc = FC_ECORRUPT;
			break;
		}
		rc = fc_inode_get(t, v, ino, &in);
		if (rc == 0 && in.parent == 0)
			rc = -ENOENT;
		if (rc == 0)
			rc = fc_dirent_get(t, v, in.parent, in.name, &de);
		if (rc == 0 && (de.tomb || de.ino != ino))
			rc = -ENOENT;
		if (rc < 0)
			break;
		nl = strlen(in.name);
		if (nl + 1 > pos) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (pos != FC_PATH_CAP - 1)
			buf[--pos] = '/';
		pos -= nl;
		memcpy(buf + pos, in.name, nl);
		ino = in.parent;
	}
	if (rc == 0 && FC_PATH_CAP - pos > cap)
		rc = -ENAMETOOLONG;
	if (rc == 0)
		memcpy(out, buf + pos, FC_PATH_CAP - pos);
	free(buf);
	return rc;
}

static int diff_emit(struct diff *df, const char *path, char status, uint8_t type, uint64_t ino,
		     uint64_t old_size, uint64_t new_size)
{
	struct dentry *e;

	if (df->n_out == df->cap_out) {
		size_t ncap = df->cap_out ? df->cap_out * 2 : 128;
		struct dentry *no = realloc(df->out, ncap * sizeof(*no));

		if (!no)
			return -ENOMEM;
		df->out = no;
		df->cap_out = ncap;
	}
	e = &df->out[df->n_out];
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	e->status = status;
	e->type = type;
	e->ino = ino;
	e->old_size = old_size;
	e->new_size = new_size;
	df->n_out++;
	return 0;
}

/* Join the path of directory parent in v with name. */
static int diff_join(struct diff *df, const struct fc_view *v, uint64_t parent, const char *name,
		     char *out)
{
	int rc = fc_diff_path(df->t, v, parent, out, FC_PATH_CAP);
	size_t n;

	if (rc == -ENOENT) {
		snprintf(out, FC_PATH_CAP, "#%llu", (unsigned long long)parent);
		rc = 0;
	}
	if (rc < 0)
		return rc;
	n = strlen(out);
	if (n + strlen(name) + 2 > FC_PATH_CAP)
		return -ENAMETOOLONG;
	if (n)
		out[n++] = '/';
	strcpy(out + n, name);
	return 0;
}

static uint64_t diff_size(struct diff *df, const struct fc_view *v, uint64_t ino)
{
	struct fc_inode in;

	return fc_inode_get(df->t, v, ino, &in) == 0 ? in.size : 0;
}

struct subtree {
	struct diff *df;
	const struct fc_view *v;
	char status;
	char *path;          /* FC_PATH_CAP buffer, the directory's path */
};

static int diff_subtree(struct diff *df, const struct fc_view *v, char status, uint64_t dir,
			const char *path);

static int subtree_cb(void *arg, const char *name, const struct fc_dirent *de)
{
	struct subtree *s = arg;
	char *p = malloc(FC_PATH_CAP);
	uint64_t sz;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	if ((size_t)snprintf(p, FC_PATH_CAP, "%s/%s", s->path, name) >= FC_PATH_CAP)
		rc = -ENAMETOOLONG;
	sz = rc == 0 ? diff_size(s->df, s->v, de->ino) : 0;
	if (rc == 0)
		rc = diff_emit(s->df, p, s->status, de->type, de->ino,
			       s->status == FC_DIFF_DELETED ? sz : 0,
			       s->status == FC_DIFF_ADDED ? sz : 0);
	if (rc == 0 && de->type == DT_DIR)
		rc = diff_subtree(s->df, s->v, s->status, de->ino, p);
	free(p);
	return rc;
}

/* List the entries below an added or deleted directory. */
static int diff_subtree(struct diff *df, const struct fc_view *v, char status, uint64_t dir,
			const char *path)
{
	struct subtree s = { df, v, status, (char *)path };

	return fc_dirent_iter(df->t, v, dir, NULL, subtree_cb, &s);
}

static int diff_dirent(struct diff *df, const struct dkey *k, char *path)
{
	struct fc_dirent a, b;
	int ra = fc_dirent_get(df->t, df->from, k->ino, k->name, &a);
	int rb = fc_dirent_get(df->t, df->to, k->ino, k->name, &b);
	bool has_a = ra == 0 && !a.tomb, has_b = rb == 0 && !b.tomb;
	int rc;

	if ((ra < 0 && ra != -ENOENT) || (rb < 0 && rb != -ENOENT))
		return ra < 0 && ra != -ENOENT ? ra : rb;
	if (has_a && has_b && a.ino == b.ino)
		return 0;     /* same inode under the name: inode keys tell the rest */
	if (has_a && has_b && a.type == b.type && a.type != DT_DIR) {
		/* Replaced by another file of the same type (atomic save). */
		rc = diff_join(df, df->to, k->ino, k->name, path);
		return rc < 0 ? rc : diff_emit(df, path, FC_DIFF_MODIFIED, b.type, b.ino,
					       diff_size(df, df->from, a.ino),
					       diff_size(df, df->to, b.ino));
	}
	if (has_a) {
		rc = diff_join(df, df->from, k->ino, k->name, path);
		if (rc == 0)
			rc = diff_emit(df, path, FC_DIFF_DELETED, a.type, a.ino,
				       diff_size(df, df->from, a.ino), 0);
		if (rc == 0 && a.type == DT_DIR)
			rc = diff_subtree(df, df->from, FC_DIFF_DELETED, a.ino, path);
		if (rc < 0)
			return rc;
	}
	if (has_b) {
		rc = diff_join(df, df->to, k->ino, k->name, path);
		if (rc == 0)
			rc = diff_emit(df, path, FC_DIFF_ADDED, b.type, b.ino, 0,
				       diff_size(df, df->to, b.ino));
		if (rc == 0 && b.type == DT_DIR)
			rc = diff_subtree(df, df->to, FC_DIFF_ADDED, b.ino, path);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool ts_eq(struct fc_ts a, struct fc_ts b)
{
	return a.sec == b.sec && a.nsec == b.nsec;
}

/* Does the change of inode key k make a visible difference? */
static int diff_inode_changed(struct diff *df, const struct dkey *k, const struct fc_inode *a,
			      const struct fc_inode *b, bool *changed)
{
	char *va = NULL, *vb = NULL;
	size_t la = 0, lb = 0;
	int ra, rb, rc = 0;

	*changed = false;
	if (k->dbi == FC_DBI_INODE) {
		if (S_ISDIR(b->mode))
			*changed = a->mode != b->mode || a->uid != b->uid || a->gid != b->gid;
		else
			*changed = a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
				   a->size != b->size || a->blob != b->blob ||
				   a->rdev != b->rdev || !ts_eq(a->mtime, b->mtime);
		return 0;
	}
	va = malloc(FC_XATTR_VALUE_MAX + 1);
	vb = malloc(FC_XATTR_VALUE_MAX + 1);
	if (!va || !vb) {
		rc = -ENOMEM;
		goto out;
	}
	if (k->dbi == FC_DBI_SYMLINK) {
		ra = fc_symlink_get(df->t, df->from, k->ino, va);
		rb = fc_symlink_get(df->t, df->to, k->ino, vb);
		*changed = ra != rb || (ra == 0 && strcmp(va, vb) != 0);
	} else {
		ra = fc_xattr_get(df->t, df->from, k->ino, k->name, va, FC_XATTR_VALUE_MAX, &la);
		rb = fc_xattr_get(df->t, df->to, k->ino, k->name, vb, FC_XATTR_VALUE_MAX, &lb);
		*changed = ra != rb || (ra == 0 && (la != lb || memcmp(va, vb, la) != 0));
	}
out:
	free(va);
	free(vb);
	return rc;
}

static int diff_multi_add(struct diff *df, uint64_t ino, uint8_t type, uint64_t old_size,
			  uint64_t new_size)
{
	if (df->n_multi == df->cap_multi) {
		size_t ncap = df->cap_multi ? df->cap_multi * 2 : 16;
		struct multi *nm = realloc(df->multi, ncap * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		df->multi = nm;
		df->cap_multi = ncap;
	}
	df->multi[df->n_multi++] = (struct multi){ ino, type, old_size, new_size };
	return 0;
}

static int multi_cmp(const void *a, const void *b)
{
	const struct multi *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

struct mwalk {
	struct diff *df;
	uint64_t *q;          /* directories to read */
	char **qpath;         /* their paths */
	size_t qh, qn, qcap;
	const char *dir;      /* path of the directory being read */
};

static int mwalk_cb(void *arg, const char *name, const struct fc_dirent *de)
{
	struct mwalk *w = arg;
	struct multi key = { .ino = de->ino }, *m;
	char *p = NULL;

	if (asprintf(&p, "%s%s%s", w->dir, w->dir[0] ? "/" : "", name) < 0)
		return -ENOMEM;
	if (de->type == DT_DIR) {
		if (w->qn == w->qcap) {
			size_t ncap = w->qcap ? w->qcap * 2 : 64;
			uint64_t *nq = realloc(w->q, ncap * sizeof(*nq));
			char **np = nq ? realloc(w->qpath, ncap * sizeof(*np)) : NULL;

			if (nq)
				w->q = nq;
			if (!np) {
				free(p);
				return -ENOMEM;
			}
			w->qpath = np;
			w->qcap = ncap;
		}
		w->q[w->qn] = de->ino;
		w->qpath[w->qn++] = p;
		return 0;
	}
	m = bsearch(&key, w->df->multi, w->df->n_multi, sizeof(key), multi_cmp);
	if (m) {
		int rc = diff_emit(w->df, p, FC_DIFF_MODIFIED, m->type, m->ino, m->old_size,
				   m->new_size);

		free(p);
		return rc;
	}
	free(p);
	return 0;
}

/*
 * A modified inode with several names: the primary link names only one,
 * and there is no reverse index, so walk the new tree once for all of
 * them. Only diffs that touch hard-linked files pay for this.
 */
static int diff_multi_paths(struct diff *df)
{
	struct mwalk w = { .df = df };
	int rc = 0;

	if (df->n_multi == 0)
		return 0;
	qsort(df->multi, df->n_multi, sizeof(*df->multi), multi_cmp);
	w.dir = "";
	rc = fc_dirent_iter(df->t, df->to, df->to->root_ino, NULL, mwalk_cb, &w);
	while (rc == 0 && w.qh < w.qn) {
		w.dir = w.qpath[w.qh];
		rc = fc_dirent_iter(df->t, df->to, w.q[w.qh], NULL, mwalk_cb, &w);
		w.qh++;
	}
	for (size_t i = 0; i < w.qn; i++)
		free(w.qpath[i]);
	free(w.q);
	free(w.qpath);
	return rc;
}

static int diff_inode(struct diff *df, const struct dkey *k, char *path)
{
	struct fc_inode a, b;
	bool changed;
	int ra = fc_inode_get(df->t, df->from, k->ino, &a);
	int rb = fc_inode_get(df->t, df->to, k->ino, &b);
	int rc;

	if (ra == -ENOENT || rb == -ENOENT)
		return 0;     /* created or removed: its dirents report it */
	if (ra < 0 || rb < 0)
		return ra < 0 ? ra : rb;
	rc = diff_inode_changed(df, k, &a, &b, &changed);
	if (rc < 0 || !changed)
		return rc;
	if (b.nlink > 1 && !S_ISDIR(b.mode))
		return diff_multi_add(df, k->ino, IFTODT(b.mode), a.size, b.size);
	rc = fc_diff_path(df->t, df->to, k->ino, path, FC_PATH_CAP);
	if (rc == -ENOENT) {
		snprintf(path, FC_PATH_CAP, "#%llu", (unsigned long long)k->ino);
		rc = 0;
	}
	if (rc < 0)
		return rc;
	if (k->ino == df->to->root_ino)
		snprintf(path, FC_PATH_CAP, ".");
	return diff_emit(df, path, FC_DIFF_MODIFIED, IFTODT(b.mode), k->ino, a.size, b.size);
}

static int dentry_cmp(const void *a, const void *b)
{
	const struct dentry *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	static const char order[] = "DMA";

	if (c)
		return c;
	return (int)(strchr(order, x->status) - order) - (int)(strchr(order, y->status) - order);
}

/* Sort, drop duplicates (a modification hidden by an add or delete too). */
static int diff_flush(struct diff *df, fc_diff_cb cb, void *arg)
{
	const struct dentry *last = NULL;
	size_t i;
	int rc = 0;

	if (df->n_out > 1)
		qsort(df->out, df->n_out, sizeof(*df->out), dentry_cmp);
	for (i = 0; i < df->n_out && rc == 0; i++) {
		const struct dentry *e = &df->out[i];
		struct fc_diff_entry pub = { e->path, e->status, e->type, e->ino, e->old_size,
					     e->new_size };

		/* Same path: keep D and A (a type change), drop repeats and an
		 * M next to an add or delete. */
		if (last && strcmp(last->path, e->path) == 0) {
			if (last->status == e->status || e->status == FC_DIFF_MODIFIED)
				continue;
		}
		rc = cb(arg, &pub);
		last = e;
	}
	return rc < 0 ? rc : 0;
}

int fc_diff(struct fc_txn *t, const struct fc_view *from, const struct fc_view *to,
	    fc_diff_cb cb, void *arg)
{
	struct diff df = { .t = t, .from = from, .to = to };
	char *path = malloc(FC_PATH_CAP);
	size_t i;
	int rc = path ? 0 : -ENOMEM;

	if (rc == 0)
		rc = diff_gather(&df, from, to);
	if (rc == 0)
		rc = diff_gather(&df, to, from);
	if (rc == 0 && df.n_keys > 1)
		qsort(df.keys, df.n_keys, sizeof(*df.keys), dkey_cmp);
	for (i = 0; rc == 0 && i < df.n_keys; i++) {
		const struct dkey *k = &df.keys[i];

		if (i > 0 && dkey_cmp(&df.keys[i - 1], k) == 0)
			continue;
		rc = k->dbi == FC_DBI_DIRENT ? diff_dirent(&df, k, path) : diff_inode(&df, k, path);
	}
	if (rc == 0)
		rc = diff_multi_paths(&df);
	if (rc == 0)
		rc = diff_flush(&df, cb, arg);
	for (i = 0; i < df.n_keys; i++)
		free(df.keys[i].name);
	for (i = 0; i < df.n_out; i++)
		free(df.out[i].path);
	free(df.keys);
	free(df.out);
	free(df.multi);
	free(path);
	return rc;
}
