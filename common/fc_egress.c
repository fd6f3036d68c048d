/*
 * fc_egress: connection and request decisions (semantics in fc_egress.h).
 *
 * Connections: every (policy, endpoint) pair matching host and port is
 * collected; the ones whose policy also admits the caller's binary decide.
 * Keeping all of them, not just the first, is what lets a request decision
 * combine them the OpenShell way: allowed when any of them allows, denied
 * when any inspected one's deny rule matches.
 *
 * Requests never allocate: the canonical paths are built in fixed buffers
 * (one with and one without encoded slashes, since that choice is per
 * endpoint) and query parameters are decoded one at a time on the stack.
 */
#include "fc_egress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_egress_int.h"
#include "fc_glob.h"

const char *fc_egress_verdict_name(enum fc_egress_verdict v)
{
	switch (v) {
	case FC_EGRESS_ALLOW:
		return "allowed";
	case FC_EGRESS_AUDIT:
		return "audited";
	default:
		return "denied";
	}
}

const char *fc_egress_engine_name(enum fc_egress_engine g)
{
	switch (g) {
	case FC_EGRESS_ENGINE_SSRF:
		return "ssrf";
	case FC_EGRESS_ENGINE_MIDDLEWARE:
		return "middleware";
	default:
		return "opa";
	}
}

void fc_egress_free(struct fc_egress *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nep; i++)
		free(e->ips[i]);
	free(e->ips);
	free(e->nips);
	free(e->base);
	free(e);
}

/* Parse every endpoint's allowed_ips once, indexed by e->base[net] + ep. */
static int compile_ips(struct fc_egress *e, struct fc_diag *d)
{
	const struct fc_policy *p = e->p;
	size_t k = 0;

	for (size_t i = 0; i < p->nnets; i++) {
		e->base[i] = e->nep;
		e->nep += p->nets[i].nendpoints;
	}
	e->ips = calloc(e->nep ? e->nep : 1, sizeof(*e->ips));
	e->nips = calloc(e->nep ? e->nep : 1, sizeof(*e->nips));
	if (!e->ips || !e->nips)
		return -ENOMEM;
	for (size_t i = 0; i < p->nnets; i++) {
		for (size_t j = 0; j < p->nets[i].nendpoints; j++, k++) {
			const struct fc_pol_endpoint *ep = &p->nets[i].endpoints[j];

			if (!ep->nallowed_ips)
				continue;
			e->ips[k] = calloc(ep->nallowed_ips, sizeof(*e->ips[k]));
			if (!e->ips[k])
				return -ENOMEM;
			e->nips[k] = ep->nallowed_ips;
			for (size_t m = 0; m < ep->nallowed_ips; m++) {
				const char *ip = ep->allowed_ips[m];

				if (fc_egress_cidr_parse(ip, &e->ips[k][m]) < 0)
					return fc_diag_set(d, FC_EPOLICY,
							   "policy '%s': bad allowed_ips '%s'",
							   p->nets[i].key, ip);
			}
		}
	}
	return 0;
}

int fc_egress_new(const struct fc_policy *p, struct fc_egress **out, struct fc_diag *d)
{
	struct fc_egress *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return -ENOMEM;
	e->p = p;
	e->base = calloc(p->nnets ? p->nnets : 1, sizeof(*e->base));
	if (!e->base) {
		rc = -ENOMEM;
		goto out;
	}
	rc = compile_ips(e, d);
	if (rc < 0)
		goto out;
	*out = e;
	e = NULL;
out:
	fc_egress_free(e);
	return rc;
}

void fc_egress_conn_clear(struct fc_egress_conn *c)
{
	free(c->matches);
	memset(c, 0, sizeof(*c));
	c->verdict = FC_EGRESS_DENY;
}

static bool port_in(const struct fc_pol_endpoint *ep, uint16_t port)
{
	for (size_t i = 0; i < ep->nports; i++)
		if (ep->ports[i] == port)
			return true;
	return false;
}

/* The first of the caller's executables that one of net's globs matches. */
static const char *binary_match(const struct fc_pol_net *net, const char *const *exes,
				size_t nexes)
{
	for (size_t i = 0; i < nexes; i++) {
		if (!exes[i])
			continue;
		for (size_t j = 0; j < net->nbinaries; j++)
			if (fc_glob_match_path(net->binaries[j], exes[i]))
				return exes[i];
	}
	return NULL;
}

/* What one pass over the policy found for host:port. */
struct conn_scan {
	size_t host_hits;  /* endpoints matching the host (any port) */
	size_t port_hits;  /* ... and the port */
	size_t allow_hits; /* ... and the binary */
	size_t audit_hits; /* host+port matches in audit mode, binary or not */
};

/*
 * Walk the policy; when m is not NULL, store matches there: the allowing
 * ones when want_allow, else the audit-mode ones.
 */
static void scan(const struct fc_policy *p, const char *host, uint16_t port,
		 const char *const *exes, size_t nexes, bool want_allow,
		 struct fc_egress_match *m, struct conn_scan *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < p->nnets; i++) {
		const struct fc_pol_net *net = &p->nets[i];
		const char *bin = NULL;
		bool bin_done = false;

		for (size_t j = 0; j < net->nendpoints; j++) {
			const struct fc_pol_endpoint *ep = &net->endpoints[j];
			bool keep;

			if (!fc_glob_match_host(ep->host, host))
				continue;
			s->host_hits++;
			if (!port_in(ep, port))
				continue;
			s->port_hits++;
			if (!bin_done) {
				bin = binary_match(net, exes, nexes);
				bin_done = true;
			}
			if (bin)
				s->allow_hits++;
			if (ep->enforcement == FC_POL_AUDIT)
				s->audit_hits++;
			keep = want_allow ? bin != NULL : ep->enforcement == FC_POL_AUDIT;
			if (m && keep)
				m[want_allow ? s->allow_hits - 1 : s->audit_hits - 1] =
					(struct fc_egress_match){ net, ep, bin != NULL, bin };
		}
	}
}

/* Fill l7 / tls_terminate and the deciding entry from c->matches. */
static void summarise(struct fc_egress_conn *c)
{
	c->net = c->matches[0].net;
	c->ep = c->matches[0].ep;
	c->binary = c->matches[0].binary;
	for (size_t i = 0; i < c->nmatches; i++) {
		const struct fc_pol_endpoint *ep = c->matches[i].ep;

		if (ep->protocol != FC_POL_PROTO_REST)
			continue;
		c->l7 = true;
		/* one inspected endpoint that wants TLS terminated is enough:
		 * its deny rules must see the requests */
		if (!ep->tls_skip)
			c->tls_terminate = true;
	}
}

int fc_egress_connect(const struct fc_egress *e, const char *host, uint16_t port,
		      const char *const *exes, size_t nexes, struct fc_egress_conn *out)
{
	struct conn_scan s;
	bool allow;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->verdict = FC_EGRESS_DENY;
	if (!host)
		return -EINVAL;
	scan(e->p, host, port, exes, nexes, true, NULL, &s);
	allow = s.allow_hits > 0;
	n = allow ? s.allow_hits : s.audit_hits;
	if (n == 0) {
		snprintf(out->reason, sizeof(out->reason), "%s",
			 s.port_hits ? "binary not allowed"
			 : s.host_hits ? "port not allowed" : "no matching policy");
		return 0;
	}
	out->matches = calloc(n, sizeof(*out->matches));
	if (!out->matches) {
		snprintf(out->reason, sizeof(out->reason), "out of memory");
		return -ENOMEM;
	}
	scan(e->p, host, port, exes, nexes, allow, out->matches, &s);
	out->nmatches = n;
	summarise(out);
	out->verdict = allow ? FC_EGRESS_ALLOW : FC_EGRESS_AUDIT;
	snprintf(out->reason, sizeof(out->reason), "%s",
		 allow ? "allowed by policy" : "binary not allowed (audit)");
	return 0;
}

/* Does the method match a rule method (GET admits HEAD)? */
static bool method_match(const char *rule, const char *method)
{
	if (strcmp(rule, "*") == 0 || strcmp(rule, method) == 0)
		return true;
	return strcmp(rule, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

static bool preset_allows(enum fc_pol_access a, const char *m)
{
	bool ro = !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS");
	bool rw = ro || !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");

	switch (a) {
	case FC_POL_READ_ONLY:
		return ro;
	case FC_POL_READ_WRITE:
		return rw;
	case FC_POL_FULL:
		return true;
	default:
		return false;
	}
}

static const struct fc_pol_rule *rule_hit(const struct fc_pol_rule *rules, size_t n,
					  const char *method, const char *path,
					  const char *query, bool fail_closed)
{
	for (size_t i = 0; i < n; i++)
		if (method_match(rules[i].method, method) &&
		    fc_glob_match_path(rules[i].path, path) &&
		    fc_egress_query_match(&rules[i], query, fail_closed))
			return &rules[i];
	return NULL;
}

/* The canonical path in both spellings, made on demand. */
struct paths {
	const char *raw;
	char strict[FC_EGRESS_PATH_MAX], lenient[FC_EGRESS_PATH_MAX];
	int rc_strict, rc_lenient; /* 1: not made yet */
	const char *why_strict, *why_lenient;
};

static const char *path_for(struct paths *ps, bool allow_slash, const char **why)
{
	int *rc = allow_slash ? &ps->rc_lenient : &ps->rc_strict;
	char *buf = allow_slash ? ps->lenient : ps->strict;
	const char **w = allow_slash ? &ps->why_lenient : &ps->why_strict;

	if (*rc == 1)
		*rc = fc_egress_canon_path(ps->raw, allow_slash, buf, FC_EGRESS_PATH_MAX, w);
	*why = *w;
	return *rc == 0 ? buf : NULL;
}

/* The decision as it builds up over the matches. */
struct req_acc {
	const struct fc_egress_match *deny_enf, *deny_aud, *allow, *audit_ep;
	const struct fc_pol_rule *deny_enf_rule, *deny_aud_rule, *allow_rule;
	const char *deny_enf_why, *deny_aud_why; /* canonicalisation refusals */
};

static void judge_match(const struct fc_egress_match *m, const char *method, const char *query,
			struct paths *ps, struct req_acc *a)
{
	const struct fc_pol_endpoint *ep = m->ep;
	const struct fc_pol_rule *r;
	const char *why = NULL, *path;
	bool audit = ep->enforcement == FC_POL_AUDIT;

	if (ep->protocol != FC_POL_PROTO_REST) {
		if (!a->allow)
			a->allow = m;
		return;
	}
	if (audit && !a->audit_ep)
		a->audit_ep = m;
	path = path_for(ps, ep->allow_encoded_slash, &why);
	r = path ? rule_hit(ep->deny, ep->ndeny, method, path, query, true) : NULL;
	if (!path || r) {
		if (audit && !a->deny_aud) {
			a->deny_aud = m;
			a->deny_aud_rule = r;
			a->deny_aud_why = why;
		} else if (!audit && !a->deny_enf) {
			a->deny_enf = m;
			a->deny_enf_rule = r;
			a->deny_enf_why = why;
		}
		return;
	}
	if (a->allow)
		return;
	r = rule_hit(ep->rules, ep->nrules, method, path, query, false);
	if (r || preset_allows(ep->access, method)) {
		a->allow = m;
		a->allow_rule = r;
	}
}

static void set_out(struct fc_egress_req *out, enum fc_egress_verdict v,
		    const struct fc_egress_match *m, const struct fc_pol_rule *r, bool by_deny,
		    const char *reason)
{
	out->verdict = v;
	out->net = m ? m->net : NULL;
	out->ep = m ? m->ep : NULL;
	out->rule = r;
	out->by_deny_rule = by_deny;
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
}

/* Fold the accumulated facts into the verdict (deny wins, then audit). */
static void decide(const struct req_acc *a, const char *method, struct fc_egress_req *out)
{
	char why[FC_EGRESS_REASON_MAX];

	if (a->deny_enf) {
		out->engine = a->deny_enf_rule ? FC_EGRESS_ENGINE_OPA : FC_EGRESS_ENGINE_MIDDLEWARE;
		set_out(out, FC_EGRESS_DENY, a->deny_enf, a->deny_enf_rule, a->deny_enf_rule,
			a->deny_enf_rule ? "denied by deny rule" : a->deny_enf_why);
	} else if (a->deny_aud) {
		out->engine = a->deny_aud_rule ? FC_EGRESS_ENGINE_OPA : FC_EGRESS_ENGINE_MIDDLEWARE;
		snprintf(why, sizeof(why), "%s (audit)",
			 a->deny_aud_rule ? "denied by deny rule" : a->deny_aud_why);
		set_out(out, FC_EGRESS_AUDIT, a->deny_aud, a->deny_aud_rule, a->deny_aud_rule,
			why);
	} else if (a->allow) {
		set_out(out, FC_EGRESS_ALLOW, a->allow, a->allow_rule, false,
			a->allow->ep->protocol == FC_POL_PROTO_REST ? "allowed by rule"
								    : "allowed by l4 endpoint");
	} else {
		snprintf(why, sizeof(why), "no rule allows %.32s%s", method,
			 a->audit_ep ? " (audit)" : "");
		set_out(out, a->audit_ep ? FC_EGRESS_AUDIT : FC_EGRESS_DENY, a->audit_ep, NULL,
			false, why);
	}
}

/* For logs: the canonical path when one exists, else the raw path cut to fit. */
static void log_path(struct paths *ps, const char *raw, struct fc_egress_req *out)
{
	const char *why, *p = path_for(ps, false, &why);

	if (!p)
		p = path_for(ps, true, &why);
	snprintf(out->path, sizeof(out->path), "%s", p ? p : raw ? raw : "");
}

int fc_egress_request(const struct fc_egress *e, const struct fc_egress_conn *c,
		      const char *method, const char *path, const char *query,
		      struct fc_egress_req *out)
{
	struct paths ps;
	struct req_acc a = { 0 };

	memset(out, 0, sizeof(*out));
	ps.raw = path;
	ps.rc_strict = ps.rc_lenient = 1;
	log_path(&ps, path, out);
	if (c->verdict == FC_EGRESS_DENY || !method || !path) {
		set_out(out, FC_EGRESS_DENY, NULL, NULL, false,
			c->verdict == FC_EGRESS_DENY ? c->reason : "no method or path");
		return 0;
	}
	for (size_t i = 0; i < c->nmatches; i++)
		judge_match(&c->matches[i], method, query, &ps, &a);
	decide(&a, method, out);
	/* a connection let through only by audit keeps every request audited */
	if (c->verdict == FC_EGRESS_AUDIT && out->verdict == FC_EGRESS_ALLOW) {
		out->verdict = FC_EGRESS_AUDIT;
		snprintf(out->reason, sizeof(out->reason), "%s", c->reason);
	}
	return 0;
}
