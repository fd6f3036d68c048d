/*
 * fc_cells: generations, cells (branches), the O(1) generation switches
 * (checkpoint, restore, fork), checkpoint references and the change log.
 *
 * A switch touches a constant number of records: the old head's gen
 * record, one new gen record and the cell record. Nothing here depends on
 * the size of the workspace. Name lookups scan the gen table, whose size is
 * the number of generations.
 */
#include "fc_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_store_int.h"

/*
 * The result of a cursor loop: rc from a callback or decoder (1 = stopped
 * early, fine), else the LMDB code that ended the loop.
 */
static int iter_result(int rc, int mrc)
{
	if (rc != 0)
		return rc < 0 ? rc : 0;
	return mrc == MDB_NOTFOUND ? 0 : fc_mdb_err(mrc);
}

/* ---- generations ---- */

int fc_gen_get(struct fc_txn *t, uint64_t gen, struct fc_gen *out)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, d;
	int rc;

	fc_key_u64(kb, gen);
	rc = mdb_get(t->txn, t->st->dbi_gen, &k, &d);
	if (rc)
		return fc_mdb_err(rc);
	return fc_gen_decode(d.mv_data, d.mv_size, out);
}

int fc_gen_put(struct fc_txn *t, uint64_t gen, const struct fc_gen *in)
{
	uint8_t kb[8], val[FC_GEN_ENC_MAX];
	MDB_val k = { 8, kb }, d = { 0, val };

	d.mv_size = fc_gen_encode(in, val, sizeof(val));
	if (d.mv_size == 0)
		return -EINVAL;
	fc_key_u64(kb, gen);
	return fc_mdb_err(mdb_put(t->txn, t->st->dbi_gen, &k, &d, 0));
}

int fc_gen_iter(struct fc_txn *t, fc_gen_cb cb, void *arg)
{
	MDB_cursor *c = NULL;
	MDB_val k, d;
	struct fc_gen g;
	uint64_t gen;
	int mrc, rc = fc_mdb_err(mdb_cursor_open(t->txn, t->st->dbi_gen, &c));

	if (rc < 0)
		return rc;
	for (mrc = mdb_cursor_get(c, &k, &d, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		rc = fc_key_u64_decode(k.mv_data, k.mv_size, &gen);
		if (rc == 0)
			rc = fc_gen_decode(d.mv_data, d.mv_size, &g);
		if (rc == 0)
			rc = cb(arg, gen, &g);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	return iter_result(rc, mrc);
}

/* ---- cells ---- */

static int cell_key(const char *cell, MDB_val *k)
{
	size_t n = strnlen(cell, FC_CELL_NAME_MAX + 1);

	if (n == 0 || n > FC_CELL_NAME_MAX)
		return FC_ENOCELL;
	*k = (MDB_val){ n, (void *)cell };
	return 0;
}

/* Returns FC_ENOCELL (not -ENOENT) when the cell does not exist. */
int fc_cell_get(struct fc_txn *t, const char *cell, struct fc_cell *out)
{
	MDB_val k, d;
	int rc = cell_key(cell, &k);

	if (rc < 0)
		return rc;
	rc = mdb_get(t->txn, t->st->dbi_branch, &k, &d);
	if (rc == MDB_NOTFOUND)
		return FC_ENOCELL;
	if (rc)
		return fc_mdb_err(rc);
	return fc_cell_decode(d.mv_data, d.mv_size, out);
}

int fc_cell_put(struct fc_txn *t, const char *cell, const struct fc_cell *in)
{
	uint8_t val[FC_CELL_ENC_MAX];
	MDB_val k = { strlen(cell), (void *)cell }, d = { 0, val };
	int rc = fc_name_check_cell(cell, NULL);

	if (rc < 0)
		return rc;
	d.mv_size = fc_cell_encode(in, val, sizeof(val));
	if (d.mv_size == 0)
		return -EINVAL;
	return fc_mdb_err(mdb_put(t->txn, t->st->dbi_branch, &k, &d, 0));
}

struct gen_list {
	const char *cell;
	uint64_t *v;
	size_t n, cap;
};

static int collect_cell_gens(void *arg, uint64_t gen, const struct fc_gen *g)
{
	struct gen_list *l = arg;

	if (strcmp(g->cell, l->cell) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		uint64_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = gen;
	return 0;
}

/*
 * Delete the branch record, and hand the cell's generations over to
 * FC_GEN_CELL_DELETED so that a new cell of the same name starts clean (its
 * checkpoint names must not collide with the old ones). Cost: one pass
 * over the generation table, not over the workspace.
 */
int fc_cell_del(struct fc_txn *t, const char *cell)
{
	struct gen_list l = { .cell = cell };
	struct fc_gen g;
	MDB_val k;
	int rc = cell_key(cell, &k);

	if (rc < 0)
		return rc;
	rc = mdb_del(t->txn, t->st->dbi_branch, &k, NULL);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? FC_ENOCELL : fc_mdb_err(rc);
	rc = fc_gen_iter(t, collect_cell_gens, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		rc = fc_gen_get(t, l.v[i], &g);
		if (rc == 0) {
			snprintf(g.cell, sizeof(g.cell), "%s", FC_GEN_CELL_DELETED);
			rc = fc_gen_put(t, l.v[i], &g);
		}
	}
	free(l.v);
	return rc;
}

int fc_cell_iter(struct fc_txn *t, fc_cell_cb cb, void *arg)
{
	char name[FC_CELL_NAME_MAX + 1];
	MDB_cursor *c = NULL;
	struct fc_cell cl;
	MDB_val k, d;
	int mrc, rc = fc_mdb_err(mdb_cursor_open(t->txn, t->st->dbi_branch, &c));

	if (rc < 0)
		return rc;
	for (mrc = mdb_cursor_get(c, &k, &d, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size > FC_CELL_NAME_MAX ||
		    memchr(k.mv_data, '\0', k.mv_size)) {
			rc = FC_ECORRUPT;
			break;
		}
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		rc = fc_cell_decode(d.mv_data, d.mv_size, &cl);
		if (rc == 0)
			rc = cb(arg, name, &cl);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	return iter_result(rc, mrc);
}

/* ---- checkpoint lookup ---- */

struct ckpt_find {
	const char *cell;
	const char *name;
	uint64_t gen;
};

static int ckpt_find_cb(void *arg, uint64_t gen, const struct fc_gen *g)
{
	struct ckpt_find *f = arg;

	if (g->kind != FC_GEN_CHECKPOINT || strcmp(g->cell, f->cell) || strcmp(g->name, f->name))
		return 0;
	f->gen = gen;
	return 1;
}

/* The checkpoint of cell named name: 0 and *gen, or -ENOENT. */
static int ckpt_by_name(struct fc_txn *t, const char *cell, const char *name, uint64_t *gen)
{
	struct ckpt_find f = { cell, name, 0 };
	int rc = fc_gen_iter(t, ckpt_find_cb, &f);

	if (rc < 0)
		return rc;
	if (f.gen == 0)
		return -ENOENT;
	*gen = f.gen;
	return 0;
}

/*
 * Walk the chain from head (parents strictly decrease, so the walk ends)
 * and return the first checkpoint matching: name == NULL -> any, else that
 * name; gen != 0 -> exactly that generation. -ENOENT if none.
 */
static int chain_find(struct fc_txn *t, uint64_t head, const char *name, uint64_t want,
		      uint64_t *gen)
{
	struct fc_gen g;
	uint64_t cur = head;
	int rc;

	while (cur) {
		rc = fc_gen_get(t, cur, &g);
		if (rc < 0)
			return rc == -ENOENT ? FC_ECORRUPT : rc;
		if (g.kind == FC_GEN_CHECKPOINT && (!want || want == cur) &&
		    (!name || !strcmp(g.name, name))) {
			*gen = cur;
			return 0;
		}
		if (g.parent >= cur)
			return FC_ECORRUPT;
		cur = g.parent;
	}
	return -ENOENT;
}

static bool all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * A generation id must be a checkpoint made by cell or on its current
 * chain; a name is looked up among cell's own checkpoints, then along the
 * chain (so a fork still finds "base" of the cell it came from).
 */
int fc_ckpt_resolve(struct fc_txn *t, const char *cell, const char *ref, uint64_t *gen_out)
{
	struct fc_cell c;
	struct fc_gen g;
	uint64_t gen = 0;
	int rc = fc_cell_get(t, cell, &c);

	if (rc < 0)
		return rc;
	if (!ref || !*ref) {
		rc = chain_find(t, c.head, NULL, 0, &gen);
	} else if (all_digits(ref)) {
		for (const char *p = ref; *p; p++) {
			if (gen > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
				return FC_ENOCKPT;
			gen = gen * 10 + (uint64_t)(*p - '0');
		}
		rc = fc_gen_get(t, gen, &g);
		if (rc == 0 && g.kind != FC_GEN_CHECKPOINT)
			rc = -ENOENT;
		if (rc == 0 && strcmp(g.cell, cell) != 0)
			rc = chain_find(t, c.head, NULL, gen, &gen);
	} else {
		rc = ckpt_by_name(t, cell, ref, &gen);
		if (rc == -ENOENT)
			rc = chain_find(t, c.head, ref, 0, &gen);
	}
	if (rc == -ENOENT)
		return FC_ENOCKPT;
	if (rc < 0)
		return rc;
	*gen_out = gen;
	return 0;
}

/* ---- generation switches ---- */

/* Load cell and its head gen, which must be a writable head. */
static int load_head(struct fc_txn *t, const char *cell, struct fc_cell *c, struct fc_gen *h,
		     struct fc_diag *d)
{
	int rc = fc_cell_get(t, cell, c);

	if (rc == FC_ENOCELL)
		return fc_diag_set(d, rc, "no cell '%s'", cell);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read cell '%s': %s", cell, fc_strerror(rc));
	rc = fc_gen_get(t, c->head, h);
	if (rc < 0)
		return fc_diag_set(d, rc == -ENOENT ? FC_ECORRUPT : rc,
				   "cannot read head %" PRIu64 " of cell '%s': %s", c->head, cell,
				   fc_strerror(rc));
	if (h->kind != FC_GEN_HEAD)
		return fc_diag_set(d, FC_ESTATE, "head %" PRIu64 " of cell '%s' is not writable",
				   c->head, cell);
	return 0;
}

/* Allocate and write a new head gen of cell with the given parent. */
static int new_head(struct fc_txn *t, const char *cell, uint64_t parent, uint64_t *out)
{
	struct fc_gen g = { .parent = parent, .kind = FC_GEN_HEAD, .created_ns = fc_now_ns() };
	uint64_t gen;
	int rc = fc_alloc_gen(t, &gen);

	if (rc < 0)
		return rc;
	snprintf(g.cell, sizeof(g.cell), "%s", cell);
	rc = fc_gen_put(t, gen, &g);
	if (rc == 0)
		*out = gen;
	return rc;
}

/* ckpt must be a checkpoint whose lineage has the same root as c. */
static int check_ckpt(struct fc_txn *t, uint64_t ckpt, const struct fc_cell *c,
		      struct fc_diag *d)
{
	struct fc_cell owner;
	struct fc_gen g;
	int rc = fc_gen_get(t, ckpt, &g);

	if (rc == -ENOENT || (rc == 0 && g.kind != FC_GEN_CHECKPOINT))
		return fc_diag_set(d, FC_ENOCKPT, "generation %" PRIu64 " is not a checkpoint",
				   ckpt);
	if (rc < 0)
		return rc;
	if (fc_cell_get(t, g.cell, &owner) == 0 && owner.root_ino != c->root_ino)
		return fc_diag_set(d, FC_ESTATE,
				   "checkpoint %" PRIu64 " belongs to unrelated cell '%s'", ckpt,
				   g.cell);
	return 0;
}

int fc_cell_checkpoint(struct fc_txn *t, const char *cell, const char *name, uint64_t *ckpt_out,
		       uint64_t *head_out, struct fc_diag *d)
{
	char defname[FC_CELL_NAME_MAX + 1];
	struct fc_cell c;
	struct fc_gen h;
	uint64_t dup, head;
	int rc = load_head(t, cell, &c, &h, d);

	if (rc < 0)
		return rc;
	if (!name || !*name) {
		snprintf(defname, sizeof(defname), "ckpt-%" PRIu64, c.head);
		name = defname;
	} else if ((rc = fc_name_check_cell(name, d)) < 0) {
		return rc;
	}
	rc = ckpt_by_name(t, cell, name, &dup);
	if (rc == 0)
		return fc_diag_set(d, FC_EEXIST, "cell '%s' already has a checkpoint '%s' (%" PRIu64
				   ")", cell, name, dup);
	if (rc != -ENOENT)
		return rc;
	h.kind = FC_GEN_CHECKPOINT;
	snprintf(h.name, sizeof(h.name), "%s", name);
	rc = fc_gen_put(t, c.head, &h);
	if (rc == 0)
		rc = new_head(t, cell, c.head, &head);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot checkpoint cell '%s': %s", cell, fc_strerror(rc));
	*ckpt_out = c.head;
	c.head = head;
	rc = fc_cell_put(t, cell, &c);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot update cell '%s': %s", cell, fc_strerror(rc));
	*head_out = head;
	return 0;
}

/*
 * ckpt may be a checkpoint of another cell of the same lineage (same root
 * inode: a fork's origin, or a fork of this cell); fc_ckpt_resolve is what
 * limits user references to the cell's own checkpoints and its chain.
 */
int fc_cell_restore(struct fc_txn *t, const char *cell, uint64_t ckpt, uint64_t *old_head_out,
		    uint64_t *head_out, struct fc_diag *d)
{
	struct fc_cell c;
	struct fc_gen h;
	uint64_t old, head;
	int rc = load_head(t, cell, &c, &h, d);

	if (rc == 0)
		rc = check_ckpt(t, ckpt, &c, d);
	if (rc < 0)
		return rc;
	old = c.head;
	h.kind = FC_GEN_ABANDONED;
	rc = fc_gen_put(t, old, &h);
	if (rc == 0)
		rc = new_head(t, cell, ckpt, &head);
	if (rc == 0) {
		c.head = head;
		rc = fc_cell_put(t, cell, &c);
	}
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot restore cell '%s': %s", cell, fc_strerror(rc));
	*old_head_out = old;
	*head_out = head;
	return 0;
}

int fc_cell_fork(struct fc_txn *t, const char *cell, uint64_t ckpt, const char *newcell,
		 uint64_t *head_out, struct fc_diag *d)
{
	struct fc_cell src, nc;
	uint64_t head;
	int rc = fc_name_check_cell(newcell, d);

	if (rc < 0)
		return rc;
	rc = fc_cell_get(t, newcell, &nc);
	if (rc == 0)
		return fc_diag_set(d, FC_EEXIST, "cell '%s' already exists", newcell);
	if (rc != FC_ENOCELL)
		return rc;
	rc = fc_cell_get(t, cell, &src);
	if (rc == FC_ENOCELL)
		return fc_diag_set(d, rc, "no cell '%s'", cell);
	if (rc == 0)
		rc = check_ckpt(t, ckpt, &src, d);
	if (rc < 0)
		return rc;
	rc = new_head(t, newcell, ckpt, &head);
	if (rc == 0) {
		nc = (struct fc_cell){ .head = head, .root_ino = src.root_ino, .origin = ckpt,
				       .base_id = src.base_id, .created_ns = fc_now_ns() };
		rc = fc_cell_put(t, newcell, &nc);
	}
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot fork cell '%s': %s", newcell, fc_strerror(rc));
	*head_out = head;
	return 0;
}

/* ---- change log ---- */

int fc_changes_iter(struct fc_txn *t, uint64_t gen, fc_change_cb cb, void *arg)
{
	uint8_t kb[8];
	MDB_cursor *c = NULL;
	MDB_val k = { 8, kb }, d;
	const uint8_t *prefix;
	size_t plen;
	uint64_t g;
	uint8_t dbi;
	int mrc, rc = fc_mdb_err(mdb_cursor_open(t->txn, t->st->dbi_changes, &c));

	if (rc < 0)
		return rc;
	fc_key_u64(kb, gen);
	for (mrc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size < 8 || memcmp(k.mv_data, kb, 8) != 0)
			break;
		rc = fc_key_change_decode(k.mv_data, k.mv_size, &g, &dbi, &prefix, &plen);
		if (rc == 0)
			rc = cb(arg, g, dbi, prefix, plen);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	return iter_result(rc, mrc);
}
