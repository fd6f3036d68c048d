/*
 * t_view: visibility of generations along checkpoint, restore and fork
 * chains, view differences, and the binary search of fc_view_sees.
 */
#include "fc_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static void must(int rc, const char *what)
{
	if (rc < 0)
		bail_out("%s: %s", what, fc_strerror(rc));
}

static void test_search(void)
{
	uint64_t gens[1000];
	struct fc_view v = { .head = 2000, .n = 1000, .gens = gens };
	struct fc_view empty = { 0 };
	int wrong = 0;

	for (int i = 0; i < 1000; i++)
		gens[i] = 2 * (uint64_t)(i + 1);
	for (uint64_t g = 0; g <= 2002; g++)
		if (fc_view_sees(&v, g) != (g >= 2 && g <= 2000 && g % 2 == 0))
			wrong++;
	is_int(wrong, 0, "binary search agrees with membership for 0..2002");
	ok(!fc_view_sees(&empty, 1), "an empty view sees nothing");
}

static void expect_view(struct fc_txn *t, uint64_t head, const uint64_t *want, size_t n,
			const char *what)
{
	struct fc_view v;
	int rc = fc_view_load(t, head, NULL, &v);

	is_int(rc, 0, "%s: view loads", what);
	if (rc < 0)
		return;
	ok(v.n == n && memcmp(v.gens, want, n * sizeof(*want)) == 0, "%s: ancestor set", what);
	fc_view_release(&v);
}

static void test_chains(struct fc_store *st)
{
	struct fc_gen g = { .kind = FC_GEN_HEAD, .cell = "main" };
	struct fc_cell c = { .root_ino = 2 };
	struct fc_view va, vb;
	struct fc_txn t;
	uint64_t gen, ckpt, head, old, *diff = NULL;
	size_t n = 0;

	must(fc_txn_begin(st, false, &t), "begin");
	must(fc_alloc_gen(&t, &gen), "alloc");
	is_int(gen, 1, "first generation is 1");
	must(fc_gen_put(&t, gen, &g), "gen put");
	c.head = gen;
	must(fc_cell_put(&t, "main", &c), "cell put");
	must(fc_cell_checkpoint(&t, "main", "base", &ckpt, &head, NULL), "base");
	ok(ckpt == 1 && head == 2, "base = 1, head = 2");
	must(fc_cell_checkpoint(&t, "main", "c1", &ckpt, &head, NULL), "c1");
	ok(ckpt == 2 && head == 3, "c1 = 2, head = 3");
	expect_view(&t, 3, (const uint64_t[]){ 1, 2, 3 }, 3, "linear chain");

	must(fc_cell_restore(&t, "main", 1, &old, &head, NULL), "restore base");
	ok(old == 3 && head == 4, "old head 3, new head 4");
	expect_view(&t, 4, (const uint64_t[]){ 1, 4 }, 2, "after restore");
	must(fc_view_load(&t, 4, "main", &va), "view 4");
	ok(!fc_view_sees(&va, 2) && !fc_view_sees(&va, 3), "restore hides 2 and 3");
	ok(fc_view_sees(&va, 1) && fc_view_sees(&va, 4), "sees base and itself");
	ok(va.writable && va.root_ino == 2, "head view writable, root from cell");
	must(fc_gen_get(&t, 3, &g), "gen 3");
	is_int(g.kind, FC_GEN_ABANDONED, "old head abandoned");

	must(fc_cell_fork(&t, "main", 2, "f", &head, NULL), "fork f from c1");
	is_int(head, 5, "fork head 5");
	must(fc_cell_checkpoint(&t, "f", NULL, &ckpt, &head, NULL), "checkpoint f");
	must(fc_gen_get(&t, ckpt, &g), "gen");
	is_str(g.name, "ckpt-5", "default checkpoint name");
	is_str(g.cell, "f", "checkpoint belongs to f");
	expect_view(&t, 6, (const uint64_t[]){ 1, 2, 5, 6 }, 4, "fork chain");

	must(fc_view_load(&t, 6, "f", &vb), "view 6");
	must(fc_view_minus(&vb, &va, &diff, &n), "minus");
	ok(n == 3 && diff[0] == 2 && diff[1] == 5 && diff[2] == 6, "6 minus 4 = {2,5,6}");
	free(diff);
	must(fc_view_minus(&va, &vb, &diff, &n), "minus");
	ok(n == 1 && diff[0] == 4, "4 minus 6 = {4}");
	free(diff);
	fc_view_release(&vb);
	fc_view_release(&va);

	must(fc_view_load(&t, 2, NULL, &vb), "checkpoint view");
	ok(!vb.writable, "a checkpoint view is read-only");
	fc_view_release(&vb);
	is_int(fc_view_load(&t, 999, NULL, &vb), -ENOENT, "unknown head");
	g = (struct fc_gen){ .parent = 50, .kind = FC_GEN_HEAD };
	must(fc_gen_put(&t, 50, &g), "self-parent gen");
	is_int(fc_view_load(&t, 50, NULL, &vb), FC_ECORRUPT, "a parent cycle is corruption");
	g.parent = 40;
	must(fc_gen_put(&t, 51, &g), "dangling parent");
	is_int(fc_view_load(&t, 51, NULL, &vb), FC_ECORRUPT, "a missing parent is corruption");
	fc_txn_abort(&t);
}

int main(void)
{
	char dir[] = "/tmp/t_view.XXXXXX", path[64], cmd[128];
	struct fc_store *st = NULL;
	struct fc_diag d;
	int rc;

	test_search();
	if (!mkdtemp(dir))
		bail_out("mkdtemp: %m");
	snprintf(path, sizeof(path), "%s/store", dir);
	rc = fc_store_open(path, FC_STORE_CREATE, &st, &d);
	if (rc < 0)
		bail_out("cannot create store: %s", fc_diag_msg(&d, rc));
	test_chains(st);
	fc_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	return done_testing();
}
