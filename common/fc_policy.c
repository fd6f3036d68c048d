/*
 * fc_policy: the schema layer of the policy parser. It walks the node tree
 * built by fc_policy_yaml.c into struct fc_policy, table-driven per section
 * (one entry per key with its handler, unknown keys refused with the list
 * of allowed ones), checks every value (types, ranges, paths, globs, hosts,
 * CIDRs) and the rules that tie fields together (port xor ports, access xor
 * rules, deny rules need an allow base, ...), and normalises what has
 * several spellings so that the canonical form is unique.
 */
#include "fc_policy_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_glob.h"

#define NET_KEY_MAX 256

/* ---- where we are, for messages ---------------------------------------- */

size_t fc_pol_where_key(struct pctx *x, const char *key)
{
	size_t old = strlen(x->where);

	snprintf(x->where + old, sizeof(x->where) - old, "%s%s", old ? "." : "", key);
	return old;
}

size_t fc_pol_where_idx(struct pctx *x, size_t i)
{
	size_t old = strlen(x->where);

	snprintf(x->where + old, sizeof(x->where) - old, "[%zu]", i);
	return old;
}

void fc_pol_where_pop(struct pctx *x, size_t old)
{
	x->where[old] = '\0';
}

/* ---- scalar types (YAML 1.2 core schema, for plain scalars) ------------- */

static bool plain_is(const struct pnode *n, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(n->str, *words) == 0)
			return true;
	return false;
}

static bool plain_is_int(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
		s += 2;
	if (!*s)
		return false;
	return strspn(s, "0123456789abcdefABCDEF") == strlen(s) && s[0] >= '0' && s[0] <= '9';
}

static bool plain_is_float(const char *s)
{
	static const char *const special[] = { ".inf", ".Inf", ".INF", "+.inf", "-.inf",
					       ".nan", ".NaN", ".NAN", NULL };
	char *end;

	for (const char *const *w = special; *w; w++)
		if (strcmp(s, *w) == 0)
			return true;
	if (!*s || !strchr("+-.0123456789", *s))
		return false;
	strtod(s, &end);
	return *end == '\0';
}

static const char *kind_name(const struct pnode *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE",
					     NULL };

	if (n->kind == PN_MAP)
		return "a mapping";
	if (n->kind == PN_SEQ)
		return "a list";
	if (!n->plain)
		return "a string";
	if (plain_is(n, nulls))
		return "null";
	if (plain_is(n, bools))
		return "a boolean";
	if (plain_is_int(n->str))
		return "an integer";
	if (plain_is_float(n->str))
		return "a number";
	return "a string";
}

int fc_pol_type_err(struct pctx *x, const struct pnode *n, const char *want)
{
	return fc_pol_err(x, n, FC_EPOLICY, "expected %s, got %s", want, kind_name(n));
}

/* A string scalar: quoted, or plain and not null/boolean/number. */
int fc_pol_get_str(struct pctx *x, const struct pnode *n, char **out)
{
	char *s;

	if (n->kind != PN_SCALAR || strcmp(kind_name(n), "a string") != 0)
		return fc_pol_type_err(x, n, "a string");
	s = strdup(n->str);
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

int fc_pol_get_bool(struct pctx *x, const struct pnode *n, bool *out)
{
	if (n->kind != PN_SCALAR || strcmp(kind_name(n), "a boolean") != 0)
		return fc_pol_type_err(x, n, "a boolean");
	*out = n->str[0] == 't' || n->str[0] == 'T';
	return 0;
}

/* Digits only, no sign, no leading zero, value <= max (0 allowed here). */
static int parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || strspn(s, "0123456789") != strlen(s) || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; *s; s++) {
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* A plain integer in lo..hi; what names it in a range message. */
int fc_pol_get_uint(struct pctx *x, const struct pnode *n, uint64_t lo, uint64_t hi,
		    const char *what, uint64_t *out)
{
	uint64_t v = 0;
	int rc;

	if (n->kind != PN_SCALAR || strcmp(kind_name(n), "an integer") != 0)
		return fc_pol_type_err(x, n, "an integer");
	rc = parse_dec(n->str, hi, &v);
	if (rc < 0 || v < lo)
		return fc_pol_err(x, n, FC_EPOLICY, "%s %s out of range %llu..%llu", what, n->str,
				  (unsigned long long)lo, (unsigned long long)hi);
	*out = v;
	return 0;
}

/* Match a string scalar against a list of words; *idx its position. */
int fc_pol_get_word(struct pctx *x, const struct pnode *n, const char *const *words,
		    const char *what, int *idx)
{
	char allowed[256] = "";
	size_t used = 0;

	if (n->kind != PN_SCALAR || strcmp(kind_name(n), "a string") != 0)
		return fc_pol_type_err(x, n, "a string");
	for (int i = 0; words[i]; i++) {
		if (strcmp(n->str, words[i]) == 0) {
			*idx = i;
			return 0;
		}
		used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
					 i ? ", " : "", words[i]);
		if (used >= sizeof(allowed))
			break;
	}
	return fc_pol_err(x, n, FC_EPOLICY, "unknown %s '%s' (allowed: %s)", what, n->str,
			  allowed);
}

/* ---- generic walkers ---------------------------------------------------- */

static int unknown_key(struct pctx *x, const struct pnode *key, const struct fc_pol_field *tab)
{
	char allowed[256] = "";
	size_t used = 0;

	for (const struct fc_pol_field *f = tab; f->key && used < sizeof(allowed); f++)
		used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
					 f == tab ? "" : ", ", f->key);
	return fc_pol_err(x, key, FC_EPOLICY, "unknown key '%s' (allowed: %s)", key->str,
			  allowed);
}

int fc_pol_walk_map(struct pctx *x, const struct pnode *m, const struct fc_pol_field *tab,
		    void *obj)
{
	const struct fc_pol_field *f;
	size_t old;
	int rc;

	if (m->kind != PN_MAP)
		return fc_pol_type_err(x, m, "a mapping");
	for (size_t i = 0; i < m->n; i += 2) {
		for (f = tab; f->key && strcmp(f->key, m->kids[i]->str) != 0; f++)
			;
		if (!f->key)
			return unknown_key(x, m->kids[i], tab);
		old = fc_pol_where_key(x, f->key);
		rc = f->fn(x, m->kids[i + 1], obj);
		if (rc < 0)
			return rc;
		fc_pol_where_pop(x, old);
	}
	return 0;
}

static bool map_has(const struct pnode *m, const char *key)
{
	for (size_t i = 0; i < m->n; i += 2)
		if (strcmp(m->kids[i]->str, key) == 0)
			return true;
	return false;
}

int fc_pol_need_keys(struct pctx *x, const struct pnode *m, const char *const *keys)
{
	for (; *keys; keys++)
		if (!map_has(m, *keys))
			return fc_pol_err(x, m, FC_EPOLICY, "missing required key '%s'", *keys);
	return 0;
}

/* A list node: check it and allocate an array for its items. */
int fc_pol_seq_alloc(struct pctx *x, const struct pnode *n, size_t size, void **out)
{
	void *v;

	if (n->kind != PN_SEQ)
		return fc_pol_type_err(x, n, "a list");
	v = calloc(n->n ? n->n : 1, size);
	if (!v)
		return -ENOMEM;
	*out = v;
	return 0;
}

int fc_pol_str_list_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* ---- filesystem_policy -------------------------------------------------- */

/* Absolute, no '..', no globs or control bytes; drop '//', '.', trailing '/'. */
static int fs_path_norm(struct pctx *x, const struct pnode *n, const char *s, char **out)
{
	size_t len = strlen(s), o = 0;
	const char *p = s, *e;
	char *r;

	if (len == 0)
		return fc_pol_err(x, n, FC_EPOLICY, "empty path");
	if (len > FC_POLICY_PATH_MAX)
		return fc_pol_err(x, n, FC_ELIMIT, "path longer than %d bytes", FC_POLICY_PATH_MAX);
	if (s[0] != '/')
		return fc_pol_err(x, n, FC_EPOLICY, "path '%s' must be absolute", s);
	for (e = s; *e; e++)
		if ((unsigned char)*e < 0x20 || *e == 0x7f || *e == '*')
			return fc_pol_err(x, n, FC_EPOLICY, "path '%s': %s", s,
					  *e == '*' ? "globs are not supported in filesystem paths"
						    : "control character");
	r = malloc(len + 2);
	if (!r)
		return -ENOMEM;
	for (; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, '/');
		if (e == p || (e - p == 1 && p[0] == '.'))
			continue;
		if (e - p == 2 && p[0] == '.' && p[1] == '.') {
			free(r);
			return fc_pol_err(x, n, FC_EPOLICY, "path '%s' contains a '..' segment", s);
		}
		r[o++] = '/';
		memcpy(r + o, p, (size_t)(e - p));
		o += (size_t)(e - p);
	}
	if (o == 0)
		r[o++] = '/';
	r[o] = '\0';
	*out = r;
	return 0;
}

static int fs_list(struct pctx *x, const struct pnode *v, struct fc_policy *p, bool rw)
{
	char ***list = rw ? &p->read_write : &p->read_only;
	size_t *cnt = rw ? &p->nread_write : &p->nread_only;
	char *s = NULL, *norm = NULL;
	size_t old;
	int rc = fc_pol_seq_alloc(x, v, sizeof(char *), (void **)list);

	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		old = fc_pol_where_idx(x, i);
		if (++x->npaths > FC_POLICY_MAX_PATHS)
			return fc_pol_err(x, v->kids[i], FC_ELIMIT, "more than %d filesystem paths",
					  FC_POLICY_MAX_PATHS);
		s = NULL;
		rc = fc_pol_get_str(x, v->kids[i], &s);
		if (rc == 0)
			rc = fs_path_norm(x, v->kids[i], s, &norm);
		free(s);
		if (rc < 0)
			return rc;
		(*list)[(*cnt)++] = norm;
		if (rw && strcmp(norm, "/") == 0)
			return fc_pol_err(x, v->kids[i], FC_EPOLICY, "'/' cannot be read-write");
		if (fc_pol_str_list_has(*list, *cnt - 1, norm))
			return fc_pol_err(x, v->kids[i], FC_EPOLICY, "duplicate path '%s'", norm);
		if (fc_pol_str_list_has(rw ? p->read_only : p->read_write,
				 rw ? p->nread_only : p->nread_write, norm))
			return fc_pol_err(x, v->kids[i], FC_EPOLICY,
					  "'%s' is listed in both read_only and read_write", norm);
		fc_pol_where_pop(x, old);
	}
	return rc;
}

static int f_workdir(struct pctx *x, const struct pnode *v, void *obj)
{
	return fc_pol_get_bool(x, v, &((struct fc_policy *)obj)->include_workdir);
}

static int f_read_only(struct pctx *x, const struct pnode *v, void *obj)
{
	return fs_list(x, v, obj, false);
}

static int f_read_write(struct pctx *x, const struct pnode *v, void *obj)
{
	return fs_list(x, v, obj, true);
}

static const struct fc_pol_field fs_fields[] = {
	{ "include_workdir", f_workdir },
	{ "read_only", f_read_only },
	{ "read_write", f_read_write },
	{ NULL, NULL },
};

static int f_fs(struct pctx *x, const struct pnode *v, void *obj)
{
	return fc_pol_walk_map(x, v, fs_fields, obj);
}

/* ---- landlock, process -------------------------------------------------- */

static int f_compat(struct pctx *x, const struct pnode *v, void *obj)
{
	static const char *const words[] = { "best_effort", "hard_requirement", NULL };
	int i = 0, rc = fc_pol_get_word(x, v, words, "compatibility", &i);

	if (rc == 0)
		((struct fc_policy *)obj)->compat = (enum fc_pol_compat)i;
	return rc;
}

static const struct fc_pol_field landlock_fields[] = {
	{ "compatibility", f_compat },
	{ NULL, NULL },
};

static int f_landlock(struct pctx *x, const struct pnode *v, void *obj)
{
	return fc_pol_walk_map(x, v, landlock_fields, obj);
}

static int get_id(struct pctx *x, const struct pnode *v, struct fc_pol_id *id)
{
	uint64_t n = 0;
	int rc;

	if (v->kind != PN_SCALAR)
		return fc_pol_type_err(x, v, "'sandbox' or a number 1..4294967294");
	if (strcmp(v->str, "sandbox") == 0) {
		id->kind = FC_POL_ID_SANDBOX;
		return 0;
	}
	rc = parse_dec(v->str, UINT32_MAX, &n);
	if (rc == 0 && n == 0)
		return fc_pol_err(x, v, FC_EPOLICY, "0 (root) is not allowed; use 'sandbox' or "
				  "a number 1..4294967294");
	if (rc == -ERANGE || (rc == 0 && n == UINT32_MAX))
		return fc_pol_err(x, v, FC_EPOLICY, "%s out of range 1..4294967294", v->str);
	if (rc < 0)
		return fc_pol_err(x, v, FC_EPOLICY, "expected 'sandbox' or a number "
				  "1..4294967294, got '%s'", v->str);
	id->kind = FC_POL_ID_NUMERIC;
	id->id = (uint32_t)n;
	return 0;
}

static int f_user(struct pctx *x, const struct pnode *v, void *obj)
{
	return get_id(x, v, &((struct fc_policy *)obj)->run_as_user);
}

static int f_group(struct pctx *x, const struct pnode *v, void *obj)
{
	return get_id(x, v, &((struct fc_policy *)obj)->run_as_group);
}

static const struct fc_pol_field process_fields[] = {
	{ "run_as_user", f_user },
	{ "run_as_group", f_group },
	{ NULL, NULL },
};

static int f_process(struct pctx *x, const struct pnode *v, void *obj)
{
	return fc_pol_walk_map(x, v, process_fields, obj);
}

/* ---- network_policies (endpoints are in fc_policy_net.c) ----------------- */

static int f_net_name(struct pctx *x, const struct pnode *v, void *obj)
{
	struct fc_pol_net *net = obj;
	int rc = fc_pol_get_str(x, v, &net->name);

	if (rc == 0 && !net->name[0])
		return fc_pol_err(x, v, FC_EPOLICY, "empty name");
	return rc;
}

static int f_endpoints(struct pctx *x, const struct pnode *v, void *obj)
{
	struct fc_pol_net *net = obj;
	size_t old;
	int rc = fc_pol_seq_alloc(x, v, sizeof(*net->endpoints), (void **)&net->endpoints);

	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		if (++x->nendpoints > FC_POLICY_MAX_ITEMS)
			return fc_pol_err(x, v->kids[i], FC_ELIMIT,
					  "more than %d endpoints in all policies",
					  FC_POLICY_MAX_ITEMS);
		old = fc_pol_where_idx(x, i);
		rc = fc_pol_endpoint(x, v->kids[i], &net->endpoints[net->nendpoints++]);
		if (rc == 0)
			fc_pol_where_pop(x, old);
	}
	return rc;
}

static int f_bin_path(struct pctx *x, const struct pnode *v, void *obj)
{
	const char *why = NULL;
	char **path = obj;
	int rc = fc_pol_get_str(x, v, path);

	if (rc == 0 && fc_glob_check_binary(*path, &why) < 0)
		return fc_pol_err(x, v, FC_EPOLICY, "bad binary path '%s': %s", *path, why);
	return rc;
}

static const struct fc_pol_field binary_fields[] = {
	{ "path", f_bin_path },
	{ NULL, NULL },
};

static int f_binaries(struct pctx *x, const struct pnode *v, void *obj)
{
	static const char *const req[] = { "path", NULL };
	struct fc_pol_net *net = obj;
	char **slot;
	size_t old;
	int rc = fc_pol_seq_alloc(x, v, sizeof(char *), (void **)&net->binaries);

	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		old = fc_pol_where_idx(x, i);
		slot = &net->binaries[net->nbinaries];
		rc = fc_pol_walk_map(x, v->kids[i], binary_fields, slot);
		if (*slot)
			net->nbinaries++;
		if (rc == 0)
			rc = fc_pol_need_keys(x, v->kids[i], req);
		if (rc == 0 && fc_pol_str_list_has(net->binaries, net->nbinaries - 1, *slot))
			rc = fc_pol_err(x, v->kids[i], FC_EPOLICY, "duplicate binary '%s'", *slot);
		if (rc == 0)
			fc_pol_where_pop(x, old);
	}
	return rc;
}

static const struct fc_pol_field net_fields[] = {
	{ "name", f_net_name },
	{ "endpoints", f_endpoints },
	{ "binaries", f_binaries },
	{ NULL, NULL },
};

static int net_key_ok(struct pctx *x, const struct pnode *k)
{
	if (!k->str[0])
		return fc_pol_err(x, k, FC_EPOLICY, "empty policy key");
	if (k->len > NET_KEY_MAX)
		return fc_pol_err(x, k, FC_ELIMIT, "policy key longer than %d bytes", NET_KEY_MAX);
	for (const char *s = k->str; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return fc_pol_err(x, k, FC_EPOLICY, "control character in policy key");
	return 0;
}

static int one_net(struct pctx *x, const struct pnode *k, const struct pnode *v,
		   struct fc_policy *p)
{
	struct fc_pol_net *net = &p->nets[p->nnets];
	const struct pnode *at = k;
	int rc = net_key_ok(x, k);

	if (rc < 0)
		return rc;
	net->key = strdup(k->str);
	if (!net->key)
		return -ENOMEM;
	p->nnets++;
	rc = fc_pol_walk_map(x, v, net_fields, net);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i + 1 < v->n; i += 2)
		if (strcmp(v->kids[i]->str, "name") == 0)
			at = v->kids[i + 1];
	if (!net->name && !(net->name = strdup(net->key)))
		return -ENOMEM;
	for (size_t i = 0; i + 1 < p->nnets; i++)
		if (strcmp(p->nets[i].name, net->name) == 0)
			return fc_pol_err(x, at, FC_EPOLICY,
					  "duplicate policy name '%s' (also used by '%s')",
					  net->name, p->nets[i].key);
	return 0;
}

static int net_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fc_pol_net *)a)->key, ((const struct fc_pol_net *)b)->key);
}

static int f_nets(struct pctx *x, const struct pnode *v, void *obj)
{
	struct fc_policy *p = obj;
	size_t old;
	int rc;

	if (v->kind != PN_MAP)
		return fc_pol_type_err(x, v, "a mapping");
	p->nets = calloc(v->n / 2 + 1, sizeof(*p->nets));
	if (!p->nets)
		return -ENOMEM;
	for (size_t i = 0; i < v->n; i += 2) {
		old = fc_pol_where_key(x, v->kids[i]->str);
		rc = one_net(x, v->kids[i], v->kids[i + 1], p);
		if (rc < 0)
			return rc;
		fc_pol_where_pop(x, old);
	}
	qsort(p->nets, p->nnets, sizeof(*p->nets), net_cmp);
	return 0;
}

/* ---- the document ------------------------------------------------------- */

static int f_version(struct pctx *x, const struct pnode *v, void *obj)
{
	uint64_t n = 0;
	int rc = fc_pol_get_uint(x, v, 0, UINT32_MAX, "version", &n);

	if (rc == 0 && n != 1)
		return fc_pol_err(x, v, FC_EPOLICY,
				  "unsupported policy version %s (only 1 is supported)", v->str);
	if (rc == 0)
		((struct fc_policy *)obj)->version = 1;
	return rc;
}

static const struct fc_pol_field top_fields[] = {
	{ "version", f_version },
	{ "filesystem_policy", f_fs },
	{ "landlock", f_landlock },
	{ "process", f_process },
	{ "network_policies", f_nets },
	{ NULL, NULL },
};

int fc_pol_from_tree(struct pctx *x, const struct pnode *root, struct fc_policy **out)
{
	static const char *const req[] = { "version", NULL };
	struct fc_policy *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	x->where[0] = '\0';
	rc = fc_pol_walk_map(x, root, top_fields, p);
	if (rc == 0)
		rc = fc_pol_need_keys(x, root, req);
	if (rc < 0) {
		fc_policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* ---- freeing ------------------------------------------------------------ */

static void str_list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rules_free(struct fc_pol_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < r[i].nquery; j++) {
			free(r[i].query[j].key);
			str_list_free(r[i].query[j].globs, r[i].query[j].nglobs);
		}
		free(r[i].query);
		free(r[i].method);
		free(r[i].path);
	}
	free(r);
}

void fc_pol_endpoint_release(struct fc_pol_endpoint *e)
{
	free(e->host);
	free(e->ports);
	rules_free(e->rules, e->nrules);
	rules_free(e->deny, e->ndeny);
	str_list_free(e->allowed_ips, e->nallowed_ips);
}

void fc_policy_free(struct fc_policy *p)
{
	if (!p)
		return;
	str_list_free(p->read_only, p->nread_only);
	str_list_free(p->read_write, p->nread_write);
	for (size_t i = 0; i < p->nnets; i++) {
		struct fc_pol_net *net = &p->nets[i];

		for (size_t j = 0; j < net->nendpoints; j++)
			fc_pol_endpoint_release(&net->endpoints[j]);
		free(net->endpoints);
		str_list_free(net->binaries, net->nbinaries);
		free(net->key);
		free(net->name);
	}
	free(p->nets);
	free(p);
}

const char *fc_pol_access_name(enum fc_pol_access a)
{
	static const char *const names[] = { "none", "read-only", "read-write", "full" };

	return (unsigned)a < 4 ? names[a] : "?";
}

const char *fc_pol_compat_name(enum fc_pol_compat c)
{
	return c == FC_POL_HARD_REQUIREMENT ? "hard_requirement" : "best_effort";
}

const char *fc_pol_enforce_name(enum fc_pol_enforce e)
{
	return e == FC_POL_AUDIT ? "audit" : "enforce";
}
