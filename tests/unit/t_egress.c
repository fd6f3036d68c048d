/*
 * t_egress: the egress decision engine against OpenShell's semantics:
 * default deny, host wildcards, ports, binaries (exe or any ancestor),
 * access presets, allow rules (GET admits HEAD), query matchers, deny
 * rules winning across endpoints (the carve-out of a host from a
 * wildcard), audit mode, path canonicalisation and the SSRF address check.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_egress.h"
#include "fc_policy.h"
#include "tap.h"

static const char policy_yaml[] =
	"version: 1\n"
	"network_policies:\n"
	"  mirror_only:\n"
	"    endpoints: [{host: mirror.test, port: 443}]\n"
	"    binaries: [{path: /usr/bin/curl}]\n"
	"  corp_but_not_build:\n"
	"    endpoints:\n"
	"      - {host: \"*.corp.test\", port: 443}\n"
	"      - {host: build.corp.test, port: 443, protocol: rest, access: full,\n"
	"         deny_rules: [{method: \"*\", path: \"**\"}]}\n"
	"    binaries: [{path: /usr/bin/curl}]\n"
	"  docs_get_only:\n"
	"    endpoints:\n"
	"      - {host: docs.test, port: 443, protocol: rest, enforcement: enforce,\n"
	"         rules: [{allow: {method: GET, path: \"**\"}}]}\n"
	"    binaries: [{path: /usr/bin/curl}]\n"
	"  api_no_admin:\n"
	"    endpoints:\n"
	"      - {host: api.test, ports: [443, 8443], protocol: rest, access: read-write,\n"
	"         deny_rules: [{method: \"*\", path: \"/admin/**\"}]}\n"
	"    binaries: [{path: \"/usr/bin/*\"}]\n"
	"  audited:\n"
	"    endpoints:\n"
	"      - {host: audit.test, port: 80, protocol: rest, enforcement: audit,\n"
	"         access: read-only, deny_rules: [{method: GET, path: \"/x/**\"}]}\n"
	"    binaries: [{path: /usr/bin/curl}]\n"
	"  deep:\n"
	"    endpoints: [{host: \"**.deep.test\", port: 443}]\n"
	"    binaries: [{path: \"/opt/**\"}]\n"
	"  ro:\n"
	"    endpoints: [{host: ro.test, port: 80, protocol: rest, access: read-only}]\n"
	"    binaries: [{path: /usr/bin/python3}]\n"
	"  query:\n"
	"    endpoints:\n"
	"      - host: q.test\n"
	"        port: 80\n"
	"        protocol: rest\n"
	"        rules: [{allow: {method: GET, path: /search,\n"
	"                 query: {q: \"foo*\", lang: {any: [en, de]}}}}]\n"
	"        deny_rules: [{method: GET, path: /search, query: {debug: \"*\"}}]\n"
	"    binaries: [{path: /usr/bin/curl}]\n"
	"  private:\n"
	"    endpoints:\n"
	"      - {host: db.internal.test, port: 5432}\n"
	"      - {host: \"*.wild.test\", port: 443}\n"
	"      - {host: \"*.ips.test\", port: 443, allowed_ips: [10.1.0.0/16, \"fd00::/8\"]}\n"
	"    binaries: [{path: /usr/bin/curl}]\n"
	"  slash:\n"
	"    endpoints:\n"
	"      - {host: gl.test, port: 443, protocol: rest, allow_encoded_slash: true,\n"
	"         rules: [{allow: {method: GET, path: \"/api/*/x\"}}]}\n"
	"    binaries: [{path: /usr/bin/curl}]\n";

static const char *const curl[] = { "/usr/bin/curl" };
static const char *const wget[] = { "/usr/bin/wget" };

static struct fc_egress *eg;

/* Connect as exes and return the verdict (the conn is cleared). */
static enum fc_egress_verdict conn_v(const char *host, uint16_t port, const char *const *exes,
				     size_t n, char *reason, size_t rsize)
{
	struct fc_egress_conn c;
	enum fc_egress_verdict v;

	fc_egress_connect(eg, host, port, exes, n, &c);
	v = c.verdict;
	if (reason)
		snprintf(reason, rsize, "%s", c.reason);
	fc_egress_conn_clear(&c);
	return v;
}

/* One request on a fresh connection by curl. */
static enum fc_egress_verdict req_v(const char *host, uint16_t port, const char *method,
				    const char *path, const char *query, struct fc_egress_req *r)
{
	struct fc_egress_conn c;
	struct fc_egress_req tmp;

	if (!r)
		r = &tmp;
	fc_egress_connect(eg, host, port, curl, 1, &c);
	fc_egress_request(eg, &c, method, path, query, r);
	fc_egress_conn_clear(&c);
	return r->verdict;
}

static void test_connect(void)
{
	const char *chain[] = { "/usr/bin/python3", "/bin/bash", "/usr/bin/curl" };
	const char *opt[] = { "/opt/a/b/tool" };
	struct fc_egress_conn c;
	char why[FC_EGRESS_REASON_MAX];

	fc_egress_connect(eg, "mirror.test", 443, curl, 1, &c);
	ok(c.verdict == FC_EGRESS_ALLOW && !c.l7 && c.net && !strcmp(c.net->key, "mirror_only") &&
		   c.nmatches == 1 && !strcmp(c.binary, "/usr/bin/curl"),
	   "exact host, port and binary: allowed, L4");
	fc_egress_conn_clear(&c);
	is_int(conn_v("evil.test", 443, curl, 1, why, sizeof(why)), FC_EGRESS_DENY, "default deny");
	is_str(why, "no matching policy", "reason");
	is_int(conn_v("mirror.test", 80, curl, 1, why, sizeof(why)), FC_EGRESS_DENY, "wrong port");
	is_str(why, "port not allowed", "port reason");
	is_int(conn_v("mirror.test", 443, wget, 1, why, sizeof(why)), FC_EGRESS_DENY,
	       "wrong binary");
	is_str(why, "binary not allowed", "binary reason");
	is_int(conn_v("mirror.test", 443, NULL, 0, NULL, 0), FC_EGRESS_DENY,
	       "unknown caller matches no binary rule");
	is_int(conn_v("MIRROR.Test", 443, curl, 1, NULL, 0), FC_EGRESS_ALLOW, "host any case");
	fc_egress_connect(eg, "mirror.test", 443, chain, 3, &c);
	ok(c.verdict == FC_EGRESS_ALLOW && !strcmp(c.binary, "/usr/bin/curl"),
	   "an ancestor's exe matches");
	fc_egress_conn_clear(&c);
	is_int(conn_v("a.corp.test", 443, curl, 1, NULL, 0), FC_EGRESS_ALLOW, "*. one label");
	is_int(conn_v("a.b.corp.test", 443, curl, 1, NULL, 0), FC_EGRESS_DENY,
	       "*. not two labels");
	is_int(conn_v("corp.test", 443, curl, 1, NULL, 0), FC_EGRESS_DENY, "*. not the apex");
	is_int(conn_v("x.y.deep.test", 443, opt, 1, NULL, 0), FC_EGRESS_ALLOW, "**. any depth");
	is_int(conn_v("deep.test", 443, opt, 1, NULL, 0), FC_EGRESS_DENY, "**. not the apex");
	is_int(conn_v("api.test", 8443, wget, 1, NULL, 0), FC_EGRESS_ALLOW,
	       "ports list and binary glob");
	fc_egress_connect(eg, "build.corp.test", 443, curl, 1, &c);
	ok(c.verdict == FC_EGRESS_ALLOW && c.nmatches == 2 && c.l7 && c.tls_terminate,
	   "carve-out host: both endpoints kept, inspected");
	fc_egress_conn_clear(&c);
	fc_egress_connect(eg, "audit.test", 80, wget, 1, &c);
	ok(c.verdict == FC_EGRESS_AUDIT && c.nmatches == 1 && c.l7,
	   "audit endpoint lets a wrong binary through, audited");
	fc_egress_conn_clear(&c);
	is_int(fc_egress_connect(eg, NULL, 443, curl, 1, &c), -EINVAL, "NULL host");
	fc_egress_conn_clear(&c);
}

static void test_requests(void)
{
	struct fc_egress_req r;

	is_int(req_v("build.corp.test", 443, "GET", "/", NULL, &r), FC_EGRESS_DENY,
	       "deny rule of the carve-out wins over the wildcard's allow");
	ok(r.by_deny_rule && r.net && !strcmp(r.net->key, "corp_but_not_build"), "deny rule named");
	is_int(req_v("a.corp.test", 443, "DELETE", "/x", NULL, NULL), FC_EGRESS_ALLOW,
	       "L4 endpoint allows any request");
	is_int(req_v("docs.test", 443, "GET", "/a/b", NULL, NULL), FC_EGRESS_ALLOW, "GET allowed");
	is_int(req_v("docs.test", 443, "HEAD", "/a", NULL, NULL), FC_EGRESS_ALLOW,
	       "GET admits HEAD");
	is_int(req_v("docs.test", 443, "POST", "/a", NULL, &r), FC_EGRESS_DENY, "POST refused");
	is_str(r.reason, "no rule allows POST", "reason");
	is_int(req_v("docs.test", 443, "OPTIONS", "/a", NULL, NULL), FC_EGRESS_DENY,
	       "GET rule does not admit OPTIONS");
	is_int(req_v("ro.test", 80, "GET", "/", NULL, NULL), FC_EGRESS_DENY,
	       "ro.test needs python3, curl refused at connect");
	is_int(req_v("api.test", 443, "POST", "/v1/items", NULL, NULL), FC_EGRESS_ALLOW,
	       "read-write allows POST");
	is_int(req_v("api.test", 443, "PATCH", "/v1/items", NULL, NULL), FC_EGRESS_ALLOW, "PATCH");
	is_int(req_v("api.test", 443, "DELETE", "/v1/items", NULL, NULL), FC_EGRESS_DENY,
	       "read-write refuses DELETE");
	is_int(req_v("api.test", 443, "GET", "/admin", NULL, NULL), FC_EGRESS_DENY,
	       "/admin/** covers /admin");
	is_int(req_v("api.test", 443, "POST", "/admin/users", NULL, &r), FC_EGRESS_DENY,
	       "deny wins over access");
	is_str(r.path, "/admin/users", "canonical path reported");
	is_int(req_v("api.test", 443, "GET", "/administrator", NULL, NULL), FC_EGRESS_ALLOW,
	       "/admin/** is not a prefix match");
}

static void test_bypasses(void)
{
	static const char *const tricks[] = {
		"/v1/../admin/x", "/%61dmin/x",   "//admin//x",	  "/admin;foo/x",
		"/x/..;/admin/y", "/./admin",	  "/admin/.",	  "/%2e%2e/admin",
		"/admin%2Fx",	  "/v1/..%2f..", "/admin\\x",	  "/v1/%2E%2E/admin",
	};
	struct fc_egress_req r;

	for (size_t i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++)
		is_int(req_v("api.test", 443, "GET", tricks[i], NULL, &r), FC_EGRESS_DENY,
		       "bypass attempt '%s' refused (%s)", tricks[i], r.reason);
	is_int(req_v("gl.test", 443, "GET", "/api/a%2fb/x", NULL, &r), FC_EGRESS_ALLOW,
	       "allow_encoded_slash keeps %%2F inside a segment");
	is_str(r.path, "/api/a%2Fb/x", "encoded slash normalised");
	is_int(req_v("docs.test", 443, "GET", "/a%2Fb", NULL, &r), FC_EGRESS_DENY,
	       "%%2F refused elsewhere");
	ok(r.engine == FC_EGRESS_ENGINE_MIDDLEWARE, "by the canonicaliser");
}

static void test_query_audit(void)
{
	struct fc_egress_conn c;
	struct fc_egress_req r;

	is_int(req_v("q.test", 80, "GET", "/search", "q=foobar&lang=en", NULL), FC_EGRESS_ALLOW,
	       "query matchers match");
	is_int(req_v("q.test", 80, "GET", "/search", "lang=de&q=foo%62", NULL), FC_EGRESS_ALLOW,
	       "values decoded, order free");
	is_int(req_v("q.test", 80, "GET", "/search", "q=foo+bar&lang=en&x=1", NULL),
	       FC_EGRESS_ALLOW, "'+' is a space, other parameters free");
	is_int(req_v("q.test", 80, "GET", "/search", "q=foobar&lang=fr", NULL), FC_EGRESS_DENY,
	       "any-list mismatch");
	is_int(req_v("q.test", 80, "GET", "/search", "lang=en", NULL), FC_EGRESS_DENY,
	       "missing parameter");
	is_int(req_v("q.test", 80, "GET", "/search", NULL, NULL), FC_EGRESS_DENY, "no query");
	is_int(req_v("q.test", 80, "GET", "/search", "q=x&q=foo&lang=en", NULL), FC_EGRESS_DENY,
	       "every value must match");
	is_int(req_v("q.test", 80, "GET", "/search", "q=foo&lang=en&debug=", NULL), FC_EGRESS_DENY,
	       "query deny rule wins");
	is_int(req_v("q.test", 80, "GET", "/search", "q=foo&lang=en&%64ebug=1", NULL),
	       FC_EGRESS_DENY, "encoded key still denied");
	is_int(req_v("audit.test", 80, "GET", "/a", NULL, NULL), FC_EGRESS_ALLOW, "audit: allowed");
	is_int(req_v("audit.test", 80, "POST", "/a", NULL, &r), FC_EGRESS_AUDIT,
	       "audit: would-deny is audited");
	is_str(r.reason, "no rule allows POST (audit)", "audit reason");
	is_int(req_v("audit.test", 80, "GET", "/x/y", NULL, &r), FC_EGRESS_AUDIT,
	       "audit: deny rule audited");
	ok(r.by_deny_rule, "by the deny rule");
	fc_egress_connect(eg, "audit.test", 80, wget, 1, &c);
	fc_egress_request(eg, &c, "GET", "/a", NULL, &r);
	is_int(r.verdict, FC_EGRESS_AUDIT, "audited connection keeps requests audited");
	fc_egress_conn_clear(&c);
	fc_egress_connect(eg, "evil.test", 80, curl, 1, &c);
	fc_egress_request(eg, &c, "GET", "/a", NULL, &r);
	is_int(r.verdict, FC_EGRESS_DENY, "request on a denied connection is denied");
	fc_egress_conn_clear(&c);
}

/* SSRF check of addr for a curl connection to host:port. */
static int addr_rc(const char *host, uint16_t port, const char *addr)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct fc_egress_conn c;
	const char *why = NULL;
	int rc;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	fc_egress_connect(eg, host, port, curl, 1, &c);
	rc = fc_egress_check_addr(eg, &c, (struct sockaddr *)&ss, sizeof(ss), &why);
	fc_egress_conn_clear(&c);
	return rc;
}

static void test_ssrf(void)
{
	static const char *const never[] = { "127.0.0.1", "127.8.9.1", "169.254.169.254",
					     "0.0.0.0", "224.0.0.1", "255.255.255.255",
					     "240.0.0.1", "::1", "::", "::ffff:127.0.0.1",
					     "fe80::1", "ff02::1", "64:ff9b::7f00:1",
					     "2002:7f00:1::1", "::127.0.0.1" };

	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		is_int(addr_rc("db.internal.test", 5432, never[i]), FC_EPOLICY,
		       "%s always blocked", never[i]);
	is_int(addr_rc("db.internal.test", 5432, "10.0.0.5"), 0, "private ok for an exact host");
	is_int(addr_rc("db.internal.test", 5432, "fd12::5"), 0, "ULA ok for an exact host");
	is_int(addr_rc("db.internal.test", 5432, "8.8.8.8"), 0, "public ok");
	is_int(addr_rc("a.wild.test", 443, "10.0.0.5"), FC_EPOLICY, "private refused via wildcard");
	is_int(addr_rc("a.wild.test", 443, "192.168.1.1"), FC_EPOLICY, "192.168/16");
	is_int(addr_rc("a.wild.test", 443, "172.20.0.1"), FC_EPOLICY, "172.16/12");
	is_int(addr_rc("a.wild.test", 443, "100.64.0.1"), FC_EPOLICY, "CGNAT");
	is_int(addr_rc("a.wild.test", 443, "172.32.0.1"), 0, "172.32 is public");
	is_int(addr_rc("a.wild.test", 443, "93.184.216.34"), 0, "public via wildcard");
	is_int(addr_rc("a.ips.test", 443, "10.1.2.3"), 0, "allowed_ips admits");
	is_int(addr_rc("a.ips.test", 443, "::ffff:10.1.2.3"), 0, "mapped v4 in allowed_ips");
	is_int(addr_rc("a.ips.test", 443, "10.2.0.1"), FC_EPOLICY, "outside allowed_ips");
	is_int(addr_rc("a.ips.test", 443, "fd12::1"), 0, "v6 allowed_ips");
	is_int(addr_rc("a.ips.test", 443, "127.0.0.1"), FC_EPOLICY, "allowed_ips never loopback");
}

static const struct {
	const char *raw, *want; /* want NULL: refused */
	bool slash;
} canon[] = {
	{ "/", "/", false },
	{ "/a/./b/../c", "/a/c", false },
	{ "/a//b", "/a/b", false },
	{ "/a/b/", "/a/b/", false },
	{ "/a/b/..", "/a/", false },
	{ "/a/b/.", "/a/b/", false },
	{ "/a;x=1/b;y", "/a/b", false },
	{ "/%7euser", "/~user", false },
	{ "/a%20b", "/a%20b", false },
	{ "/a%3fb", "/a%3Fb", false },
	{ "/%41%2D", "/A-", false },
	{ "/%2e/x", "/x", false },
	{ "/a/%2e%2e/b", "/b", false },
	{ "/a%2fb", "/a%2Fb", true },
	{ "/a%2fb", NULL, false },
	{ "/..", NULL, false },
	{ "/a/../..", NULL, false },
	{ "a", NULL, false },
	{ "", NULL, false },
	{ "/a\\b", NULL, false },
	{ "/%00", NULL, false },
	{ "/%1f", NULL, false },
	{ "/%zz", NULL, false },
	{ "/a%2", NULL, false },
	{ "/a b", NULL, false },
	{ "/\xc3\xa9", NULL, false },
};

static void test_canon(void)
{
	char out[FC_EGRESS_PATH_MAX], *big;
	const char *why;

	for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
		int rc = fc_egress_canon_path(canon[i].raw, canon[i].slash, out, sizeof(out), &why);

		if (canon[i].want)
			ok(rc == 0 && strcmp(out, canon[i].want) == 0, "canon '%s' -> '%s' (%s)",
			   canon[i].raw, canon[i].want, rc == 0 ? out : why);
		else
			is_int(rc, FC_EPOLICY, "canon '%s' refused", canon[i].raw);
	}
	big = malloc(FC_EGRESS_PATH_MAX + 2);
	big[0] = '/';
	memset(big + 1, 'a', FC_EGRESS_PATH_MAX);
	big[FC_EGRESS_PATH_MAX + 1] = '\0';
	is_int(fc_egress_canon_path(big, false, out, sizeof(out), &why), FC_ELIMIT, "too long");
	is_int(fc_egress_canon_path("/abc", false, out, 4, &why), FC_ELIMIT, "small buffer");
	is_int(fc_egress_canon_path("/abc", false, out, 5, &why), 0, "exact fit");
	free(big);
}

int main(void)
{
	struct fc_policy *p = NULL;
	struct fc_diag d;

	fc_diag_init(&d);
	if (fc_policy_parse(policy_yaml, strlen(policy_yaml), "t.yaml", &p, &d) < 0)
		bail_out("test policy refused: %s", d.msg);
	if (fc_egress_new(p, &eg, &d) < 0)
		bail_out("fc_egress_new: %s", d.msg);
	test_connect();
	test_requests();
	test_bypasses();
	test_query_audit();
	test_ssrf();
	test_canon();
	is_str(fc_egress_verdict_name(FC_EGRESS_AUDIT), "audited", "verdict names");
	is_str(fc_egress_engine_name(FC_EGRESS_ENGINE_SSRF), "ssrf", "engine names");
	fc_egress_free(eg);
	fc_policy_free(p);
	return done_testing();
}
