/*
 * fc_policy_int: internals shared by the policy modules. The YAML layer
 * (fc_policy_yaml.c) turns libyaml events into a small tree of positioned
 * nodes; the schema layer (fc_policy.c) walks that tree into the model.
 */
#ifndef FC_POLICY_INT_H
#define FC_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "fc_policy.h"

enum pn_kind { PN_SCALAR, PN_MAP, PN_SEQ };

/* A YAML node. Maps keep keys and values alternating in kids. */
struct pnode {
	enum pn_kind kind;
	int line, col;       /* 1-based */
	bool plain;          /* a scalar written without quotes */
	char *str;           /* scalar text, NUL-terminated (no NUL inside) */
	size_t len;
	struct pnode **kids; /* map: key, value, key, value, ...; seq: items */
	size_t n, cap;
};

/* Parse state of one document. */
struct pctx {
	const char *file;   /* for messages */
	struct fc_diag *d;
	char where[512];    /* the dotted path of the node being read */
	size_t nendpoints;  /* endpoints so far, all policies */
	size_t npaths;      /* filesystem paths so far */
};

/* Set d to "FILE:LINE:COL: WHERE: message" at node at and return code. */
int fc_pol_err(const struct pctx *x, const struct pnode *at, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Free a node tree (NULL is fine). */
void fc_pol_node_free(struct pnode *n);

/* Build the model from the document's root node. 0 or <0 with x->d set. */
int fc_pol_from_tree(struct pctx *x, const struct pnode *root, struct fc_policy **out);

/* One key of a mapping in the schema: its handler reads v into obj. */
struct fc_pol_field {
	const char *key;
	int (*fn)(struct pctx *x, const struct pnode *v, void *obj);
};

/*
 * Schema helpers (fc_policy.c). All return 0 or <0 with x->d set to a
 * positioned message; out-params are written only on success, strings are
 * the caller's to free.
 */
/* Append ".key" or "[i]" to x->where; fc_pol_where_pop(x, returned) undoes it. */
size_t fc_pol_where_key(struct pctx *x, const char *key);
size_t fc_pol_where_idx(struct pctx *x, size_t i);
void fc_pol_where_pop(struct pctx *x, size_t old);
/* "expected WANT, got <the node's YAML type>". */
int fc_pol_type_err(struct pctx *x, const struct pnode *n, const char *want);
/* A string scalar (quoted, or plain and not null/boolean/number). */
int fc_pol_get_str(struct pctx *x, const struct pnode *n, char **out);
int fc_pol_get_bool(struct pctx *x, const struct pnode *n, bool *out);
/* A plain decimal integer in lo..hi; what names it in the range message. */
int fc_pol_get_uint(struct pctx *x, const struct pnode *n, uint64_t lo, uint64_t hi,
		    const char *what, uint64_t *out);
/* One of words (NULL-terminated); *idx its index. */
int fc_pol_get_word(struct pctx *x, const struct pnode *n, const char *const *words,
		    const char *what, int *idx);
/* Dispatch each key of mapping m to its handler in tab; unknown keys refused. */
int fc_pol_walk_map(struct pctx *x, const struct pnode *m, const struct fc_pol_field *tab,
		    void *obj);
/* Refuse m when one of keys (NULL-terminated) is missing. */
int fc_pol_need_keys(struct pctx *x, const struct pnode *m, const char *const *keys);
/* Check that n is a list and calloc room for its items (at least one). */
int fc_pol_seq_alloc(struct pctx *x, const struct pnode *n, size_t size, void **out);
/* 1 if s is among the n strings of v. */
int fc_pol_str_list_has(char *const *v, size_t n, const char *s);

/* Read one endpoint mapping (fc_policy_net.c) into e (zeroed by the caller). */
int fc_pol_endpoint(struct pctx *x, const struct pnode *n, struct fc_pol_endpoint *e);
/* Free what e owns (not e). */
void fc_pol_endpoint_release(struct fc_pol_endpoint *e);

#endif
