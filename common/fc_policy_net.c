/*
 * fc_policy_net: the endpoint part of the policy schema: host patterns,
 * ports, protocol (L4 or rest; the other OpenShell protocols are refused as
 * unsupported), enforcement, access presets, L7 allow and deny rules with
 * method, path and query matchers, allowed_ips, allow_encoded_slash and
 * tls. Called by fc_policy.c for each entry of `endpoints`.
 */
#include "fc_policy_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fc_glob.h"

#define QUERY_KEY_MAX 256

/* What the handlers fill, and which keys were present. */
struct ep_state {
	struct fc_pol_endpoint *e;
	bool port, ports, access, rules;
};

static int f_host(struct pctx *x, const struct pnode *v, void *obj)
{
	struct fc_pol_endpoint *e = ((struct ep_state *)obj)->e;
	const char *why = NULL;
	int rc = fc_pol_get_str(x, v, &e->host);

	if (rc < 0)
		return rc;
	for (char *s = e->host; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	if (fc_glob_check_host(e->host, &why) < 0)
		return fc_pol_err(x, v, FC_EPOLICY, "bad host '%s': %s", v->str, why);
	return 0;
}

static int f_port(struct pctx *x, const struct pnode *v, void *obj)
{
	struct ep_state *s = obj;
	uint64_t n = 0;
	int rc;

	if (s->ports)
		return fc_pol_err(x, v, FC_EPOLICY, "'port' and 'ports' are exclusive");
	rc = fc_pol_get_uint(x, v, 1, 65535, "port", &n);
	if (rc < 0)
		return rc;
	s->e->ports = malloc(sizeof(*s->e->ports));
	if (!s->e->ports)
		return -ENOMEM;
	s->e->ports[0] = (uint16_t)n;
	s->e->nports = 1;
	s->port = true;
	return 0;
}

static int f_ports(struct pctx *x, const struct pnode *v, void *obj)
{
	struct ep_state *s = obj;
	struct fc_pol_endpoint *e = s->e;
	uint64_t n = 0;
	size_t old;
	int rc;

	if (s->port)
		return fc_pol_err(x, v, FC_EPOLICY, "'port' and 'ports' are exclusive");
	rc = fc_pol_seq_alloc(x, v, sizeof(*e->ports), (void **)&e->ports);
	if (rc == 0 && v->n == 0)
		return fc_pol_err(x, v, FC_EPOLICY, "empty list of ports");
	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		old = fc_pol_where_idx(x, i);
		rc = fc_pol_get_uint(x, v->kids[i], 1, 65535, "port", &n);
		for (size_t j = 0; rc == 0 && j < e->nports; j++)
			if (e->ports[j] == n)
				rc = fc_pol_err(x, v->kids[i], FC_EPOLICY, "port %s listed twice",
						v->kids[i]->str);
		if (rc == 0) {
			e->ports[e->nports++] = (uint16_t)n;
			fc_pol_where_pop(x, old);
		}
	}
	s->ports = true;
	return rc;
}

static int f_protocol(struct pctx *x, const struct pnode *v, void *obj)
{
	static const char *const unsupported[] = { "tcp", "websocket", "graphql", "mcp",
						   "json-rpc", "sql", NULL };
	struct fc_pol_endpoint *e = ((struct ep_state *)obj)->e;

	if (v->kind != PN_SCALAR || strcmp(v->str, "rest") == 0) {
		int i = 0, rc;
		static const char *const words[] = { "rest", NULL };

		rc = fc_pol_get_word(x, v, words, "protocol", &i);
		if (rc == 0)
			e->protocol = FC_POL_PROTO_REST;
		return rc;
	}
	for (const char *const *w = unsupported; *w; w++)
		if (strcmp(v->str, *w) == 0)
			return fc_pol_err(x, v, FC_EPOLICY,
					  "unsupported protocol '%s' (forkcell supports 'rest', "
					  "or no protocol for L4)", v->str);
	return fc_pol_err(x, v, FC_EPOLICY,
			  "unknown protocol '%s' (forkcell supports 'rest', or no protocol for L4)",
			  v->str);
}

static int f_enforcement(struct pctx *x, const struct pnode *v, void *obj)
{
	static const char *const words[] = { "enforce", "audit", NULL };
	int i = 0, rc = fc_pol_get_word(x, v, words, "enforcement", &i);

	if (rc == 0)
		((struct ep_state *)obj)->e->enforcement = (enum fc_pol_enforce)i;
	return rc;
}

static int f_access(struct pctx *x, const struct pnode *v, void *obj)
{
	static const char *const words[] = { "read-only", "read-write", "full", NULL };
	struct ep_state *s = obj;
	int i = 0, rc = fc_pol_get_word(x, v, words, "access", &i);

	if (rc == 0) {
		s->e->access = (enum fc_pol_access)(i + 1);
		s->access = true;
	}
	return rc;
}

/* ---- L7 matchers -------------------------------------------------------- */

static int f_method(struct pctx *x, const struct pnode *v, void *obj)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
					       "OPTIONS", "TRACE", "CONNECT", "*", NULL };
	struct fc_pol_rule *r = obj;
	int i = 0, rc;
	char *m = NULL;

	rc = fc_pol_get_str(x, v, &m);
	if (rc < 0)
		return rc;
	for (char *s = m; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
	for (i = 0; methods[i] && strcmp(methods[i], m) != 0; i++)
		;
	if (!methods[i]) {
		free(m);
		return fc_pol_err(x, v, FC_EPOLICY, "unknown method '%s' (allowed: GET, HEAD, "
				  "POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT, \"*\")",
				  v->str);
	}
	r->method = m;
	return 0;
}

static int f_path(struct pctx *x, const struct pnode *v, void *obj)
{
	struct fc_pol_rule *r = obj;
	const char *why = NULL;
	int rc = fc_pol_get_str(x, v, &r->path);

	if (rc == 0 && fc_glob_check_path(r->path, &why) < 0)
		return fc_pol_err(x, v, FC_EPOLICY, "bad path glob '%s': %s", r->path, why);
	return rc;
}

static int value_glob(struct pctx *x, const struct pnode *v, struct fc_pol_query *q)
{
	const char *why = NULL;
	int rc = fc_pol_get_str(x, v, &q->globs[q->nglobs]);

	if (rc < 0)
		return rc;
	if (fc_glob_check_value(q->globs[q->nglobs++], &why) < 0)
		return fc_pol_err(x, v, FC_EPOLICY, "bad value glob: %s", why);
	return 0;
}

static int f_any(struct pctx *x, const struct pnode *v, void *obj)
{
	struct fc_pol_query *q = obj;
	size_t old;
	int rc = fc_pol_seq_alloc(x, v, sizeof(char *), (void **)&q->globs);

	if (rc == 0 && v->n == 0)
		return fc_pol_err(x, v, FC_EPOLICY, "empty 'any' list");
	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		old = fc_pol_where_idx(x, i);
		rc = value_glob(x, v->kids[i], q);
		if (rc == 0)
			fc_pol_where_pop(x, old);
	}
	return rc;
}

static const struct fc_pol_field any_fields[] = {
	{ "any", f_any },
	{ NULL, NULL },
};

static int query_one(struct pctx *x, const struct pnode *k, const struct pnode *v,
		     struct fc_pol_query *q)
{
	static const char *const req[] = { "any", NULL };
	int rc;

	if (!k->str[0])
		return fc_pol_err(x, k, FC_EPOLICY, "empty query parameter name");
	if (k->len > QUERY_KEY_MAX)
		return fc_pol_err(x, k, FC_ELIMIT, "query parameter name longer than %d bytes",
				  QUERY_KEY_MAX);
	q->key = strdup(k->str);
	if (!q->key)
		return -ENOMEM;
	if (v->kind == PN_MAP) {
		rc = fc_pol_walk_map(x, v, any_fields, q);
		return rc < 0 ? rc : fc_pol_need_keys(x, v, req);
	}
	if (v->kind != PN_SCALAR)
		return fc_pol_type_err(x, v, "a glob string or {any: [globs]}");
	q->globs = calloc(1, sizeof(char *));
	if (!q->globs)
		return -ENOMEM;
	return value_glob(x, v, q);
}

static int query_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fc_pol_query *)a)->key,
		      ((const struct fc_pol_query *)b)->key);
}

static int f_query(struct pctx *x, const struct pnode *v, void *obj)
{
	struct fc_pol_rule *r = obj;
	size_t old;
	int rc;

	if (v->kind != PN_MAP)
		return fc_pol_type_err(x, v, "a mapping");
	r->query = calloc(v->n / 2 + 1, sizeof(*r->query));
	if (!r->query)
		return -ENOMEM;
	for (size_t i = 0; i < v->n; i += 2) {
		old = fc_pol_where_key(x, v->kids[i]->str);
		rc = query_one(x, v->kids[i], v->kids[i + 1], &r->query[r->nquery++]);
		if (rc < 0)
			return rc;
		fc_pol_where_pop(x, old);
	}
	/* A mapping's order means nothing: sort so equal policies compare equal. */
	qsort(r->query, r->nquery, sizeof(*r->query), query_cmp);
	return 0;
}

static const struct fc_pol_field matcher_fields[] = {
	{ "method", f_method },
	{ "path", f_path },
	{ "query", f_query },
	{ NULL, NULL },
};

static int matcher(struct pctx *x, const struct pnode *v, struct fc_pol_rule *r)
{
	static const char *const req[] = { "method", "path", NULL };
	int rc = fc_pol_walk_map(x, v, matcher_fields, r);

	return rc < 0 ? rc : fc_pol_need_keys(x, v, req);
}

static int f_allow(struct pctx *x, const struct pnode *v, void *obj)
{
	return matcher(x, v, obj);
}

static const struct fc_pol_field rule_fields[] = {
	{ "allow", f_allow },
	{ NULL, NULL },
};

/* rules: [{allow: M}] when allow, deny_rules: [M] otherwise. */
static int rule_list(struct pctx *x, const struct pnode *v, struct fc_pol_rule **out, size_t *n,
		     bool allow)
{
	static const char *const req[] = { "allow", NULL };
	size_t old;
	int rc = fc_pol_seq_alloc(x, v, sizeof(**out), (void **)out);

	if (rc == 0 && allow && v->n == 0)
		return fc_pol_err(x, v, FC_EPOLICY,
				  "empty list of rules (omit 'rules' or give at least one)");
	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		old = fc_pol_where_idx(x, i);
		(*n)++;
		if (allow) {
			rc = fc_pol_walk_map(x, v->kids[i], rule_fields, &(*out)[i]);
			if (rc == 0)
				rc = fc_pol_need_keys(x, v->kids[i], req);
		} else {
			rc = matcher(x, v->kids[i], &(*out)[i]);
		}
		if (rc == 0)
			fc_pol_where_pop(x, old);
	}
	return rc;
}

static int f_rules(struct pctx *x, const struct pnode *v, void *obj)
{
	struct ep_state *s = obj;

	s->rules = true;
	return rule_list(x, v, &s->e->rules, &s->e->nrules, true);
}

static int f_deny_rules(struct pctx *x, const struct pnode *v, void *obj)
{
	struct ep_state *s = obj;

	return rule_list(x, v, &s->e->deny, &s->e->ndeny, false);
}

/* ---- the rest ----------------------------------------------------------- */

/* An address or CIDR: v4 with prefix 0..32, v6 with 0..128. */
static bool cidr_ok(const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	bool v6 = memchr(s, ':', n) != NULL;
	unsigned long pfx = 0;

	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
		return false;
	if (!slash)
		return true;
	slash++;
	if (!*slash || strlen(slash) > 3 || strspn(slash, "0123456789") != strlen(slash) ||
	    (slash[0] == '0' && slash[1]))
		return false;
	pfx = strtoul(slash, NULL, 10);
	return pfx <= (v6 ? 128u : 32u);
}

static int f_allowed_ips(struct pctx *x, const struct pnode *v, void *obj)
{
	struct fc_pol_endpoint *e = ((struct ep_state *)obj)->e;
	size_t old;
	int rc = fc_pol_seq_alloc(x, v, sizeof(char *), (void **)&e->allowed_ips);

	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		old = fc_pol_where_idx(x, i);
		rc = fc_pol_get_str(x, v->kids[i], &e->allowed_ips[e->nallowed_ips]);
		if (rc < 0)
			return rc;
		if (!cidr_ok(e->allowed_ips[e->nallowed_ips++]))
			return fc_pol_err(x, v->kids[i], FC_EPOLICY,
					  "bad CIDR '%s' (like 10.0.0.0/8 or fd00::/8)",
					  v->kids[i]->str);
		fc_pol_where_pop(x, old);
	}
	return rc;
}

static int f_encoded_slash(struct pctx *x, const struct pnode *v, void *obj)
{
	return fc_pol_get_bool(x, v, &((struct ep_state *)obj)->e->allow_encoded_slash);
}

static int f_tls(struct pctx *x, const struct pnode *v, void *obj)
{
	static const char *const words[] = { "skip", NULL };
	int i = 0, rc = fc_pol_get_word(x, v, words, "tls mode", &i);

	if (rc == 0)
		((struct ep_state *)obj)->e->tls_skip = true;
	return rc;
}

static const struct fc_pol_field ep_fields[] = {
	{ "host", f_host },
	{ "port", f_port },
	{ "ports", f_ports },
	{ "protocol", f_protocol },
	{ "enforcement", f_enforcement },
	{ "access", f_access },
	{ "rules", f_rules },
	{ "deny_rules", f_deny_rules },
	{ "allowed_ips", f_allowed_ips },
	{ "allow_encoded_slash", f_encoded_slash },
	{ "tls", f_tls },
	{ NULL, NULL },
};

/* The rules that tie an endpoint's fields together. */
static int ep_cross_check(struct pctx *x, const struct pnode *n, const struct ep_state *s)
{
	static const char *const req[] = { "host", NULL };
	const struct fc_pol_endpoint *e = s->e;
	int rc = fc_pol_need_keys(x, n, req);

	if (rc < 0)
		return rc;
	if (!s->port && !s->ports)
		return fc_pol_err(x, n, FC_EPOLICY, "missing required key 'port' (or 'ports')");
	if (s->access && s->rules)
		return fc_pol_err(x, n, FC_EPOLICY, "'access' and 'rules' are exclusive");
	if (e->ndeny && !s->access && !s->rules)
		return fc_pol_err(x, n, FC_EPOLICY,
				  "'deny_rules' need an allow base ('access' or 'rules')");
	if (e->protocol != FC_POL_PROTO_REST && (s->access || s->rules || e->ndeny))
		return fc_pol_err(x, n, FC_EPOLICY, "'%s' needs 'protocol: rest'",
				  s->access ? "access" : s->rules ? "rules" : "deny_rules");
	if (e->protocol == FC_POL_PROTO_REST && !s->access && !s->rules)
		return fc_pol_err(x, n, FC_EPOLICY, "'protocol: rest' needs 'access' or 'rules'");
	return 0;
}

int fc_pol_endpoint(struct pctx *x, const struct pnode *n, struct fc_pol_endpoint *e)
{
	struct ep_state s = { .e = e };
	int rc = fc_pol_walk_map(x, n, ep_fields, &s);

	return rc < 0 ? rc : ep_cross_check(x, n, &s);
}
