/*
 * fc_policy_yaml: the YAML layer of the policy parser. libyaml's event
 * parser runs over the caller's bytes (no I/O) and the events become a
 * tree of positioned nodes, which fc_policy.c then walks into the model.
 *
 * This layer refuses what no policy needs and what makes YAML ambiguous or
 * expensive: more than one document, anchors and aliases (no "billion
 * laughs"), explicit tags, non-scalar mapping keys, duplicate mapping keys,
 * nesting deeper than FC_POLICY_MAX_DEPTH, collections of more than
 * FC_POLICY_MAX_ITEMS entries, files over FC_POLICY_MAX_BYTES, NUL bytes and
 * invalid UTF-8 in scalars. Every refusal names FILE:LINE:COL.
 */
#include "fc_policy_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "fc_canon.h"

struct ybuild {
	struct pctx *x;
	struct pnode *root;
	struct pnode *stack[FC_POLICY_MAX_DEPTH + 1];
	int depth;
	int docs;
};

int fc_pol_err(const struct pctx *x, const struct pnode *at, int code, const char *fmt, ...)
{
	char msg[FC_DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->where[0])
		return fc_diag_set_at(x->d, code, at->line, at->col, "%s:%d:%d: %s: %s", x->file,
				      at->line, at->col, x->where, msg);
	return fc_diag_set_at(x->d, code, at->line, at->col, "%s:%d:%d: %s", x->file, at->line,
			      at->col, msg);
}

static int err_mark(struct ybuild *b, yaml_mark_t m, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int err_mark(struct ybuild *b, yaml_mark_t m, int code, const char *fmt, ...)
{
	struct pnode at = { .line = (int)m.line + 1, .col = (int)m.column + 1 };
	char msg[FC_DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->x->where[0] = '\0';
	return fc_pol_err(b->x, &at, code, "%s", msg);
}

void fc_pol_node_free(struct pnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		fc_pol_node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

static int node_new(const yaml_event_t *ev, enum pn_kind kind, struct pnode **out)
{
	struct pnode *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->kind = kind;
	n->line = (int)ev->start_mark.line + 1;
	n->col = (int)ev->start_mark.column + 1;
	if (kind == PN_SCALAR) {
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->str = malloc(n->len + 1);
		if (!n->str) {
			free(n);
			return -ENOMEM;
		}
		memcpy(n->str, ev->data.scalar.value, n->len);
		n->str[n->len] = '\0';
	}
	*out = n;
	return 0;
}

/* Refuse what a policy never needs: anchors, aliases and explicit tags. */
static int check_props(struct ybuild *b, const yaml_event_t *ev)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;
	int implicit = 1;

	if (ev->type == YAML_SCALAR_EVENT) {
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		implicit = ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit;
	} else if (ev->type == YAML_MAPPING_START_EVENT) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		implicit = ev->data.mapping_start.implicit;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		implicit = ev->data.sequence_start.implicit;
	}
	if (anchor)
		return err_mark(b, ev->start_mark, FC_EPOLICY,
				"YAML anchors and aliases are not supported");
	if (tag && !implicit)
		return err_mark(b, ev->start_mark, FC_EPOLICY, "YAML tags are not supported");
	return 0;
}

/*
 * No control characters (C0 including tab and newline, DEL, C1), no BOM,
 * no U+FFFE/U+FFFF: a policy never needs them, and the canonical JSON must
 * print every string so that YAML reads it back unchanged.
 */
static bool printable(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return false;
		if (u[i] == 0xc2 && i + 1 < n && u[i + 1] < 0xa0)
			return false;
		if (u[i] == 0xef && i + 2 < n &&
		    ((u[i + 1] == 0xbb && u[i + 2] == 0xbf) || (u[i + 1] == 0xbf && u[i + 2] >= 0xbe)))
			return false;
	}
	return true;
}

static int scalar_ok(struct ybuild *b, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;

	if (memchr(s, '\0', n))
		return err_mark(b, ev->start_mark, FC_EPOLICY, "NUL character in a string");
	if (!fc_utf8_valid(s, n))
		return err_mark(b, ev->start_mark, FC_EPOLICY, "invalid UTF-8 in a string");
	if (!printable(s, n))
		return err_mark(b, ev->start_mark, FC_EPOLICY,
				"control or non-printable character in a string");
	return 0;
}

/* The dotted path of the collection on top of the stack, into x->where. */
static void stack_where(struct ybuild *b)
{
	char *w = b->x->where;
	size_t o = 0, cap = sizeof(b->x->where);

	w[0] = '\0';
	for (int i = 0; i + 1 < b->depth && o < cap; i++) {
		const struct pnode *n = b->stack[i];

		if (n->kind == PN_MAP)
			o += (size_t)snprintf(w + o, cap - o, "%s%s", o ? "." : "",
					      n->kids[n->n - 2]->str);
		else
			o += (size_t)snprintf(w + o, cap - o, "[%zu]", n->n - 1);
	}
}

/* Add n to the open collection on top of the stack (or make it the root). */
static int attach(struct ybuild *b, const yaml_event_t *ev, struct pnode *n)
{
	struct pnode *top, **kids;

	if (b->depth == 0) {
		b->root = n;
		return 0;
	}
	top = b->stack[b->depth - 1];
	if (top->kind == PN_MAP && top->n % 2 == 0) {
		if (n->kind != PN_SCALAR)
			return err_mark(b, ev->start_mark, FC_EPOLICY,
					"mapping keys must be strings");
		for (size_t i = 0; i < top->n; i += 2) {
			if (strcmp(top->kids[i]->str, n->str) != 0)
				continue;
			stack_where(b);
			return fc_pol_err(b->x, n, FC_EPOLICY,
					  "duplicate key '%s' (first at line %d)", n->str,
					  top->kids[i]->line);
		}
	}
	if ((top->kind == PN_MAP ? top->n / 2 : top->n) >= FC_POLICY_MAX_ITEMS)
		return err_mark(b, ev->start_mark, FC_ELIMIT, "more than %d entries in one %s",
				FC_POLICY_MAX_ITEMS, top->kind == PN_MAP ? "mapping" : "list");
	if (top->n == top->cap) {
		size_t cap = top->cap ? 2 * top->cap : 8;

		kids = realloc(top->kids, cap * sizeof(*kids));
		if (!kids)
			return -ENOMEM;
		top->kids = kids;
		top->cap = cap;
	}
	top->kids[top->n++] = n;
	return 0;
}

static int on_node(struct ybuild *b, const yaml_event_t *ev, enum pn_kind kind)
{
	struct pnode *n = NULL;
	int rc = check_props(b, ev);

	if (rc == 0 && kind == PN_SCALAR)
		rc = scalar_ok(b, ev);
	if (rc == 0 && kind != PN_SCALAR && b->depth >= FC_POLICY_MAX_DEPTH)
		rc = err_mark(b, ev->start_mark, FC_ELIMIT, "nesting deeper than %d levels",
			      FC_POLICY_MAX_DEPTH);
	if (rc == 0)
		rc = node_new(ev, kind, &n);
	if (rc == 0)
		rc = attach(b, ev, n);
	if (rc < 0) {
		fc_pol_node_free(n);
		return rc;
	}
	if (kind != PN_SCALAR)
		b->stack[b->depth++] = n;
	return 0;
}

/* Handle one event. Returns 1 at the end of the stream, 0 to go on, <0. */
static int on_event(struct ybuild *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (b->docs++ > 0)
			return err_mark(b, ev->start_mark, FC_EPOLICY,
					"more than one YAML document");
		return 0;
	case YAML_ALIAS_EVENT:
		return err_mark(b, ev->start_mark, FC_EPOLICY,
				"YAML anchors and aliases are not supported");
	case YAML_SCALAR_EVENT:
		return on_node(b, ev, PN_SCALAR);
	case YAML_MAPPING_START_EVENT:
		return on_node(b, ev, PN_MAP);
	case YAML_SEQUENCE_START_EVENT:
		return on_node(b, ev, PN_SEQ);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		b->depth--;
		return 0;
	case YAML_STREAM_END_EVENT:
		return 1;
	default:
		return 0;
	}
}

static int yaml_failed(struct ybuild *b, const yaml_parser_t *p)
{
	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->context)
		return err_mark(b, p->problem_mark, FC_EPOLICY, "invalid YAML: %s %s",
				p->problem ? p->problem : "syntax error", p->context);
	return err_mark(b, p->problem_mark, FC_EPOLICY, "invalid YAML: %s",
			p->problem ? p->problem : "syntax error");
}

/* Run libyaml over buf and build the node tree into b->root. */
static int build_tree(struct ybuild *b, const void *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, buf, len);
	while (rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = yaml_failed(b, &p);
			break;
		}
		rc = on_event(b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc < 0 ? rc : 0;
}

int fc_policy_parse(const void *buf, size_t len, const char *filename, struct fc_policy **out,
		    struct fc_diag *d)
{
	struct pctx x = { .file = filename ? filename : "<policy>", .d = d };
	struct ybuild b = { .x = &x };
	struct pnode at = { .line = 1, .col = 1 };
	int rc;

	if (len > FC_POLICY_MAX_BYTES)
		return fc_pol_err(&x, &at, FC_ELIMIT, "policy file larger than %d bytes",
				  FC_POLICY_MAX_BYTES);
	rc = build_tree(&b, buf, len);
	if (rc == 0 && !b.root)
		rc = fc_pol_err(&x, &at, FC_EPOLICY, "empty policy ('version: 1' is required)");
	if (rc == 0)
		rc = fc_pol_from_tree(&x, b.root, out);
	fc_pol_node_free(b.root);
	return rc;
}
