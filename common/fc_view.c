/*
 * fc_view: the set of generations visible from a head.
 *
 * A view is the head's ancestor chain, sorted ascending, built by walking
 * gen records from the head to the root: cost is the depth of the
 * generation tree, never the size of the workspace. Membership is a binary
 * search. Parents are always allocated before their children, so a parent
 * id not smaller than its child is corruption (and the walk terminates).
 */
#include "fc_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fc_view_load(struct fc_txn *t, uint64_t head, const char *cell, struct fc_view *out)
{
	struct fc_view v = { .head = head };
	struct fc_cell c;
	struct fc_gen g;
	size_t cap = 0;
	uint64_t cur = head;
	int rc = 0;

	if (head == 0)
		return -ENOENT;
	if (cell) {
		rc = fc_cell_get(t, cell, &c);
		if (rc < 0)
			return rc;
		v.root_ino = c.root_ino;
	}
	while (cur != 0) {
		rc = fc_gen_get(t, cur, &g);
		if (rc == -ENOENT)
			rc = cur == head ? -ENOENT : FC_ECORRUPT;
		if (rc < 0)
			goto out;
		if (cur == head)
			v.writable = g.kind == FC_GEN_HEAD;
		if (g.parent >= cur) {
			rc = FC_ECORRUPT;
			goto out;
		}
		if (v.n == cap) {
			uint64_t *p;

			cap = cap ? 2 * cap : 16;
			p = realloc(v.gens, cap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			v.gens = p;
		}
		v.gens[v.n++] = cur;
		cur = g.parent;
	}
	/* The walk yields strictly descending ids; sees() wants ascending. */
	for (size_t i = 0; i < v.n / 2; i++) {
		uint64_t x = v.gens[i];

		v.gens[i] = v.gens[v.n - 1 - i];
		v.gens[v.n - 1 - i] = x;
	}
	*out = v;
	return 0;
out:
	free(v.gens);
	return rc;
}

void fc_view_release(struct fc_view *v)
{
	if (!v)
		return;
	free(v->gens);
	v->gens = NULL;
	v->n = 0;
}

bool fc_view_sees(const struct fc_view *v, uint64_t gen)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->gens[mid] == gen)
			return true;
		if (v->gens[mid] < gen)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int fc_view_minus(const struct fc_view *a, const struct fc_view *b, uint64_t **out, size_t *n)
{
	uint64_t *r = malloc((a->n ? a->n : 1) * sizeof(*r));
	size_t i = 0, j = 0, k = 0;

	if (!r)
		return -ENOMEM;
	while (i < a->n) {
		if (j < b->n && b->gens[j] < a->gens[i]) {
			j++;
		} else if (j < b->n && b->gens[j] == a->gens[i]) {
			i++;
			j++;
		} else {
			r[k++] = a->gens[i++];
		}
	}
	*out = r;
	*n = k;
	return 0;
}
