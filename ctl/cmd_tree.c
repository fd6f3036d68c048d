/*
 * cmd_tree: `checkpoints CELL`: the generation tree of a cell (its own
 * generations plus the chain it was forked from), as an indented tree or a
 * JSON array. A linear history stays at one indentation; side branches
 * (abandoned heads after a restore, forks) are indented under their parent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "fc_ctlproto.h"

struct tree_node {
	uint64_t id;
	struct fc_gen g;
	size_t parent;      /* index, or SIZE_MAX for a root of the shown tree */
	size_t first_child; /* index into kids[] */
	size_t n_children;
	bool shown;
};

struct tree {
	const char *cell;
	struct tree_node *nodes;
	size_t n, cap;
	size_t *kids;
	uint64_t head;
};

static int tree_collect(void *arg, uint64_t gen, const struct fc_gen *g)
{
	struct tree *tr = arg;

	if (tr->n == tr->cap) {
		size_t ncap = tr->cap ? tr->cap * 2 : 64;
		struct tree_node *nn = realloc(tr->nodes, ncap * sizeof(*nn));

		if (!nn)
			return -ENOMEM;
		tr->nodes = nn;
		tr->cap = ncap;
	}
	memset(&tr->nodes[tr->n], 0, sizeof(tr->nodes[0]));
	tr->nodes[tr->n].id = gen;
	tr->nodes[tr->n].g = *g;
	tr->n++;
	return 0;
}

static size_t tree_find(const struct tree *tr, uint64_t id)
{
	size_t lo = 0, hi = tr->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tr->nodes[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < tr->n && tr->nodes[lo].id == id ? lo : SIZE_MAX;
}

/* Mark the cell's own generations and the chain of its head; link children. */
static int tree_link(struct tree *tr)
{
	size_t i, j, *fill;

	for (i = 0; i < tr->n; i++)
		tr->nodes[i].shown = strcmp(tr->nodes[i].g.cell, tr->cell) == 0;
	for (i = tree_find(tr, tr->head); i != SIZE_MAX; i = tree_find(tr, tr->nodes[i].g.parent))
		tr->nodes[i].shown = true;
	for (i = 0; i < tr->n; i++) {
		tr->nodes[i].parent = SIZE_MAX;
		j = tr->nodes[i].g.parent ? tree_find(tr, tr->nodes[i].g.parent) : SIZE_MAX;
		if (tr->nodes[i].shown && j != SIZE_MAX && tr->nodes[j].shown) {
			tr->nodes[i].parent = j;
			tr->nodes[j].n_children++;
		}
	}
	tr->kids = calloc(tr->n + 1, sizeof(*tr->kids));
	fill = calloc(tr->n + 1, sizeof(*fill));
	if (!tr->kids || !fill) {
		free(fill);
		return -ENOMEM;
	}
	for (i = 0, j = 0; i < tr->n; i++) {
		tr->nodes[i].first_child = j;
		j += tr->nodes[i].n_children;
	}
	for (i = 0; i < tr->n; i++) {
		size_t p = tr->nodes[i].parent;

		if (p != SIZE_MAX)
			tr->kids[tr->nodes[p].first_child + fill[p]++] = i;
	}
	free(fill);
	return 0;
}

static const char *kind_name(uint8_t k)
{
	return k == FC_GEN_HEAD ? "head" : k == FC_GEN_CHECKPOINT ? "checkpoint" : "abandoned";
}

static void tree_line(const struct tree *tr, size_t i, int indent)
{
	const struct tree_node *nd = &tr->nodes[i];
	char when[64];

	ctl_fmt_time(nd->g.created_ns, when, sizeof(when));
	printf("%*s* %llu %-10s %-20s %s", indent, "", (unsigned long long)nd->id,
	       kind_name(nd->g.kind), nd->g.name[0] ? nd->g.name : "-", when);
	if (nd->g.parent)
		printf("  parent %llu", (unsigned long long)nd->g.parent);
	if (strcmp(nd->g.cell, FC_GEN_CELL_DELETED) == 0)
		printf("  (from a deleted cell)");
	else if (strcmp(nd->g.cell, tr->cell) != 0)
		printf("  (cell %s)", nd->g.cell);
	if (nd->id == tr->head)
		printf("  <- head");
	putchar('\n');
}

/* Iterative depth-first print: side branches first and indented, then the
 * newest child continues at the same indentation. */
static int tree_print(const struct tree *tr)
{
	struct item { size_t i; int indent; } *stack;
	size_t sp = 0, i, k;

	stack = malloc((tr->n + 1) * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	for (i = tr->n; i-- > 0;)
		if (tr->nodes[i].shown && tr->nodes[i].parent == SIZE_MAX)
			stack[sp++] = (struct item){ i, 0 };
	while (sp > 0) {
		struct item it = stack[--sp];
		const struct tree_node *nd = &tr->nodes[it.i];

		tree_line(tr, it.i, it.indent);
		if (nd->n_children == 0)
			continue;
		stack[sp++] = (struct item){ tr->kids[nd->first_child + nd->n_children - 1],
					     it.indent };
		for (k = nd->n_children - 1; k-- > 0;)
			stack[sp++] = (struct item){ tr->kids[nd->first_child + k],
						     it.indent + 2 };
	}
	free(stack);
	return 0;
}

static cJSON *tree_json(const struct tree *tr)
{
	cJSON *o = fc_ctl_reply_ok(), *arr;
	size_t i;

	cJSON_AddStringToObject(o, "cell", tr->cell);
	cJSON_AddNumberToObject(o, "head", (double)tr->head);
	arr = cJSON_AddArrayToObject(o, "generations");
	for (i = 0; i < tr->n; i++) {
		const struct tree_node *nd = &tr->nodes[i];
		cJSON *g;

		if (!nd->shown)
			continue;
		g = cJSON_CreateObject();
		cJSON_AddNumberToObject(g, "id", (double)nd->id);
		cJSON_AddNumberToObject(g, "parent", (double)nd->g.parent);
		cJSON_AddStringToObject(g, "kind", kind_name(nd->g.kind));
		cJSON_AddStringToObject(g, "name", nd->g.name);
		cJSON_AddStringToObject(g, "cell", nd->g.cell);
		ctl_json_i64(g, "created_ns", nd->g.created_ns);
		cJSON_AddBoolToObject(g, "head", nd->id == tr->head);
		cJSON_AddItemToArray(arr, g);
	}
	return o;
}

int cmd_checkpoints(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("checkpoints");
	struct tree tr = { 0 };
	struct fc_txn t = { 0 };
	struct fc_cell cl;
	struct fc_diag d;
	int o, rc;

	while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, o);
	if (argc - optind != 1)
		return ctl_usage(cmd, "checkpoints takes one CELL");
	tr.cell = argv[optind];
	if (ctl_name_arg(c, "cell", tr.cell) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = ctl_cell_must_exist(c, tr.cell, &cl, &d);
	if (rc == 0) {
		tr.head = cl.head;
		rc = fc_txn_begin(c->st, true, &t);
	}
	if (rc == 0)
		rc = fc_gen_iter(&t, tree_collect, &tr);
	fc_txn_abort(&t);
	if (rc == 0)
		rc = tree_link(&tr);
	if (rc == 0 && c->json)
		ctl_json_out(tree_json(&tr));
	else if (rc == 0)
		rc = tree_print(&tr);
	free(tr.nodes);
	free(tr.kids);
	return rc < 0 ? ctl_fail(c, rc, &d) : CTL_EXIT_OK;
}
