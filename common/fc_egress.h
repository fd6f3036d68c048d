/*
 * fc_egress: the egress decision engine of the proxy, OpenShell's semantics
 * (docs/policy.md, openshell.md section 4) over a parsed struct fc_policy.
 *
 * Three questions, asked in this order by the proxy:
 *
 * 1. Connection (fc_egress_connect): may the caller (its executable and its
 *    ancestors' executables) reach host:port? Default deny: allowed only
 *    when some network policy has an endpoint matching host (exact,
 *    case-insensitive, or a '*.' / '**.' first-label wildcard) and port,
 *    and one of that policy's binary globs matches the exe or any
 *    ancestor's exe (a policy without binaries admits no caller, as in
 *    OpenShell). Every matching (policy, endpoint) pair is kept: when
 *    several match, the connection is allowed if any allows. When nothing
 *    allows but an endpoint matching host:port is in audit mode, the
 *    verdict is AUDIT (let through, recorded as a violation).
 *
 * 2. Address (fc_egress_check_addr), after DNS, before connecting (SSRF):
 *    loopback, link-local (169.254.169.254 included), unspecified,
 *    multicast, broadcast and reserved addresses are always refused;
 *    private addresses (RFC 1918, CGNAT 100.64/10, IPv6 ULA, site-local)
 *    only when a matched endpoint names the host exactly (no wildcard) or
 *    lists the address in allowed_ips. Audit mode never relaxes this.
 *
 * 3. Request (fc_egress_request), for connections whose matched endpoints
 *    include a protocol: rest one (L7): the path is canonicalised first
 *    (unreserved percent-escapes decoded, other escapes upper-cased and
 *    kept, %2F refused unless allow_encoded_slash, ';params' dropped from
 *    each segment, '//' collapsed, '.' and '..' resolved, '..' above the
 *    root refused). A request is allowed when some matched endpoint allows
 *    it (an L4 endpoint allows everything; a rest endpoint through its
 *    access preset or allow rules, GET admitting HEAD) and no matched rest
 *    endpoint's deny_rules match it: deny wins, across endpoints, which is
 *    how a single host is carved out of a wildcard. A would-be denial
 *    becomes AUDIT when the deciding endpoints are in audit mode: a deny
 *    rule of an enforce endpoint is always a denial; a request nothing
 *    allows is audited when any matched rest endpoint is in audit mode.
 *
 * Ownership: a struct fc_egress borrows the policy (which must outlive it);
 * results point into the policy. Pure and thread-safe: an engine is
 * read-only after fc_egress_new and may be shared by threads.
 */
#ifndef FC_EGRESS_H
#define FC_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fc_err.h"
#include "fc_glob.h"
#include "fc_policy.h"

#define FC_EGRESS_REASON_MAX 160
#define FC_EGRESS_PATH_MAX (FC_GLOB_MAX + 1) /* canonical path buffer, NUL included */

enum fc_egress_verdict {
	FC_EGRESS_DENY,  /* refuse */
	FC_EGRESS_ALLOW, /* let through */
	FC_EGRESS_AUDIT, /* would be denied; let through because of enforcement: audit */
};

/* Which check produced a denial (OCSF firewall_rule.type). */
enum fc_egress_engine {
	FC_EGRESS_ENGINE_OPA,  /* policy evaluation (OpenShell runs OPA here) */
	FC_EGRESS_ENGINE_SSRF, /* the address check */
	FC_EGRESS_ENGINE_MIDDLEWARE, /* request refused before evaluation (bad path, ...) */
};

struct fc_egress; /* opaque: the compiled policy */

/* One (policy, endpoint) pair that matched host and port. */
struct fc_egress_match {
	const struct fc_pol_net *net;
	const struct fc_pol_endpoint *ep;
	bool binary_ok;      /* a binary glob of net matched the exe or an ancestor */
	const char *binary;  /* the exe that matched (one of the caller's), or NULL */
};

/* The connection decision. Caller-owned; release with fc_egress_conn_clear. */
struct fc_egress_conn {
	enum fc_egress_verdict verdict;
	enum fc_egress_engine engine;
	const struct fc_pol_net *net;       /* deciding policy (rule name), NULL if none */
	const struct fc_pol_endpoint *ep;   /* deciding endpoint, NULL if none */
	const char *binary;                 /* the caller exe that matched, or NULL */
	bool l7;             /* some allowing match has protocol rest: inspect requests */
	bool tls_terminate;  /* some matched rest endpoint lacks tls: skip (its deny
			      * rules must see the requests) */
	char reason[FC_EGRESS_REASON_MAX];  /* "no matching policy", "binary not allowed", ... */
	/* every endpoint matching host:port whose binary also matched (the
	 * ones that decide requests and addresses), or, for an AUDIT verdict,
	 * the audit-mode endpoints matching host:port */
	struct fc_egress_match *matches;
	size_t nmatches;
};

/* The request decision. Caller-owned, no heap memory. */
struct fc_egress_req {
	enum fc_egress_verdict verdict;
	enum fc_egress_engine engine;
	const struct fc_pol_net *net;      /* deciding policy, NULL if none */
	const struct fc_pol_endpoint *ep;  /* deciding endpoint, NULL if none */
	const struct fc_pol_rule *rule;    /* the matching allow or deny rule, NULL for presets,
					    * L4 endpoints and refusals without a rule */
	bool by_deny_rule;                 /* the decision came from a deny_rules entry */
	char path[FC_EGRESS_PATH_MAX];     /* canonical path ("" if it could not be made) */
	char reason[FC_EGRESS_REASON_MAX];
};

/*
 * Compile p (parse allowed_ips once). p must stay alive and unchanged until
 * fc_egress_free. Errors: -ENOMEM; FC_EPOLICY if an allowed_ips entry does
 * not parse (the policy parser already validates them).
 */
int fc_egress_new(const struct fc_policy *p, struct fc_egress **out, struct fc_diag *d);

void fc_egress_free(struct fc_egress *e);

/*
 * Decide a connection to host:port (host as the client named it: a name or
 * an IP literal, any case, IPv6 without brackets) for a caller whose
 * executable is exes[0] and whose ancestors' executables follow (nexes may
 * be 0 when the caller is unknown: then no binary rule can match). Fills
 * *out (clear it with fc_egress_conn_clear even on error).
 * Errors: -ENOMEM (then *out is a denial), -EINVAL for a NULL host.
 */
int fc_egress_connect(const struct fc_egress *e, const char *host, uint16_t port,
		      const char *const *exes, size_t nexes, struct fc_egress_conn *out);

/* Free what c owns and zero it (verdict DENY). */
void fc_egress_conn_clear(struct fc_egress_conn *c);

/*
 * The SSRF check of a resolved address sa (AF_INET or AF_INET6, IPv4-mapped
 * IPv6 treated as IPv4) for the connection c (allowed or audited). Returns
 * 0 when the proxy may connect, FC_EPOLICY when refused, with *why pointing
 * at a static reason ("loopback address", "private address not allowed",
 * ...). -EAFNOSUPPORT for other families.
 */
int fc_egress_check_addr(const struct fc_egress *e, const struct fc_egress_conn *c,
			 const struct sockaddr *sa, socklen_t salen, const char **why);

/*
 * Decide one HTTP request on the connection c (method as sent, raw path
 * and raw query (NULL if none) as fc_http parsed them; never decoded by the
 * caller). Fills *out. When c is not l7 the request is decided by c alone.
 * A path that cannot be canonicalised is a denial (engine MIDDLEWARE)
 * unless audit applies. Returns 0 (the verdict is in *out).
 */
int fc_egress_request(const struct fc_egress *e, const struct fc_egress_conn *c,
		      const char *method, const char *path, const char *query,
		      struct fc_egress_req *out);

/*
 * Canonicalise a raw URL path as described above into out (size bytes,
 * NUL-terminated). Returns 0, FC_EPOLICY with *why set when refused
 * (encoded slash, bad escape, control or non-ASCII byte, escape above
 * the root, not starting with '/'), FC_ELIMIT if it does not fit.
 */
int fc_egress_canon_path(const char *raw, bool allow_encoded_slash, char *out, size_t size,
			 const char **why);

/* "allowed", "denied", "audited". */
const char *fc_egress_verdict_name(enum fc_egress_verdict v);

/* "opa", "ssrf", "middleware". */
const char *fc_egress_engine_name(enum fc_egress_engine g);

#endif
