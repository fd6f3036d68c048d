/*
 * fuzz_http: libFuzzer target for what the egress proxy parses from the
 * sandbox and from upstream servers: HTTP request and response heads, body
 * framing (Content-Length and chunked), the head rebuilt for upstream, the
 * canonical path and the egress request decision over a fixed policy.
 *
 * Properties checked (abort on violation):
 * - a parsed head never claims more bytes than it was given or than the
 *   head limit, and never more than FC_HTTP_MAX_HEADERS fields;
 * - the upstream head of a parsed request parses again, to the same
 *   method, path, query and body framing (the proxy and the server then
 *   agree on where the message ends: no smuggling through our rewrite);
 * - body framing consumes at most what it is fed and always progresses;
 * - path canonicalisation gives a '/'-rooted path without '//', '.' or
 *   '..' segments or backslashes, and is idempotent.
 * Built with clang (libFuzzer), replayed under gcc with standalone_main.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fc_egress.h"
#include "fc_http.h"
#include "fc_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_yaml[] =
	"version: 1\n"
	"network_policies:\n"
	"  api:\n"
	"    endpoints:\n"
	"      - {host: \"**.x.test\", port: 80}\n"
	"      - {host: api.test, ports: [80, 443], protocol: rest, access: read-write,\n"
	"         deny_rules: [{method: \"*\", path: \"/admin/**\"},\n"
	"                      {method: GET, path: \"/s\", query: {debug: \"*\"}}]}\n"
	"      - {host: q.test, port: 80, protocol: rest, enforcement: audit,\n"
	"         allow_encoded_slash: true,\n"
	"         rules: [{allow: {method: GET, path: \"/a/*/b\",\n"
	"                          query: {q: {any: [\"x*\", y]}}}}]}\n"
	"    binaries: [{path: \"/usr/bin/*\"}]\n";

static struct fc_egress *engine(void)
{
	static struct fc_policy *p;
	static struct fc_egress *e;

	if (!p && fc_policy_parse(policy_yaml, sizeof(policy_yaml) - 1, "fuzz", &p, NULL) < 0)
		abort();
	if (!e && fc_egress_new(p, &e, NULL) < 0)
		abort();
	return e;
}

static void check_canon(const char *raw, bool slash)
{
	char a[FC_EGRESS_PATH_MAX], b[FC_EGRESS_PATH_MAX];
	const char *why;

	if (fc_egress_canon_path(raw, slash, a, sizeof(a), &why) < 0)
		return;
	if (a[0] != '/' || strstr(a, "//") || strstr(a, "/./") || strstr(a, "/../") ||
	    strchr(a, '\\') || !strcmp(a, "/.") || !strcmp(a, "/.."))
		abort();
	if (fc_egress_canon_path(a, slash, b, sizeof(b), &why) < 0 || strcmp(a, b) != 0)
		abort();
}

/* Feed buf to b in pieces of step bytes; the framing must stay in bounds. */
static void feed_body(struct fc_http_body *b, const char *buf, size_t len, size_t step)
{
	size_t off = 0;

	while (off < len && !b->done) {
		size_t k = len - off < step ? len - off : step, used = 0;

		if (fc_http_body_feed(b, buf + off, k, &used, NULL) < 0)
			return;
		if (used > k || (used < k && !b->done))
			abort();
		off += used;
	}
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_upstream(const struct fc_http_req *r)
{
	struct fc_http_req *r2 = NULL;
	char *head = NULL;
	size_t n = 0;
	int rc;

	if (fc_http_req_upstream_head(r, r->keep_alive, &head, &n) < 0)
		return;
	rc = fc_http_parse_request(head, n, &r2, NULL);
	/* the rebuilt head may add Host and Connection to a head at the limits */
	if (rc == FC_ELIMIT) {
		free(head);
		return;
	}
	if (rc < 0 || r2->head_len != n ||
	    !same(r->method, r2->method) || !same(r->path, r2->path) ||
	    !same(r->query, r2->query) || r->chunked != r2->chunked ||
	    r->content_length != r2->content_length)
		abort();
	fc_http_req_free(r2);
	free(head);
}

static void check_request(const char *buf, size_t len, size_t step)
{
	static const char *const exes[] = { "/usr/bin/curl" };
	struct fc_http_req *r = NULL;
	struct fc_http_body b;
	struct fc_egress_conn c;
	struct fc_egress_req er;

	if (fc_http_parse_request(buf, len, &r, NULL) < 0)
		return;
	if (r->head_len > len || r->head_len > FC_HTTP_MAX_HEAD ||
	    r->nheaders > FC_HTTP_MAX_HEADERS ||
	    ((r->form == FC_HTTP_ABSOLUTE || r->form == FC_HTTP_AUTHORITY) && !r->host) ||
	    (r->form == FC_HTTP_AUTHORITY && r->port == 0))
		abort();
	check_upstream(r);
	fc_http_body_for_request(&b, r);
	feed_body(&b, buf + r->head_len, len - r->head_len, step);
	if (r->path) {
		check_canon(r->path, false);
		check_canon(r->path, true);
	}
	if (fc_egress_connect(engine(), r->host ? r->host : "api.test", r->port ? r->port : 80,
			      exes, 1, &c) == 0 && r->path)
		fc_egress_request(engine(), &c, r->method, r->path, r->query, &er);
	fc_egress_conn_clear(&c);
	fc_http_req_free(r);
}

static void check_response(const char *buf, size_t len, size_t step)
{
	struct fc_http_resp *r = NULL;
	struct fc_http_body b;

	if (fc_http_parse_response(buf, len, &r, NULL) < 0)
		return;
	if (r->head_len > len || r->status < 100 || r->status > 599)
		abort();
	fc_http_body_for_response(&b, r, "GET");
	feed_body(&b, buf + r->head_len, len - r->head_len, step);
	fc_http_resp_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t step = size ? (size_t)data[0] % 17 + 1 : 1;
	struct fc_http_body b;
	struct fc_http_req chunked = { .chunked = true };
	char *nt;

	check_request(buf, size, step);
	check_response(buf, size, step);
	fc_http_body_for_request(&b, &chunked);
	feed_body(&b, buf, size, step);
	/* the input as a raw path, for the canonicaliser alone */
	nt = malloc(size + 1);
	if (!nt)
		return 0;
	memcpy(nt, data, size);
	nt[size] = '\0';
	check_canon(nt, size & 1);
	free(nt);
	return 0;
}
