/*
 * t_http: the strict HTTP/1.1 head parser (request forms, Host checks,
 * framing headers, everything a smuggling attempt relies on refused), the
 * response parser, body framing (Content-Length, chunked, EOF) and the
 * head the proxy sends upstream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_err.h"
#include "fc_http.h"
#include "tap.h"

static struct fc_http_req *req(const char *s)
{
	struct fc_http_req *r = NULL;
	struct fc_diag d;
	int rc;

	fc_diag_init(&d);
	rc = fc_http_parse_request(s, strlen(s), &r, &d);
	if (rc < 0)
		diag("unexpected refusal: %s", fc_diag_msg(&d, rc));
	return rc < 0 ? NULL : r;
}

static int req_rc(const char *s)
{
	struct fc_http_req *r = NULL;
	int rc = fc_http_parse_request(s, strlen(s), &r, NULL);

	fc_http_req_free(r);
	return rc;
}

static void test_forms(void)
{
	static const char *abs1 = "GET http://Example.TEST:8080/a/b?x=1&y HTTP/1.1\r\n"
				  "Host: example.test:8080\r\nUser-Agent: t\r\n\r\nrest";
	struct fc_http_req *r;

	r = req(abs1);
	ok(r != NULL, "absolute-form parses");
	if (r) {
		is_int(r->form, FC_HTTP_ABSOLUTE, "absolute form");
		is_str(r->method, "GET", "method");
		is_str(r->scheme, "http", "scheme");
		is_str(r->host, "example.test", "host lower-cased");
		is_int(r->port, 8080, "port");
		is_str(r->path, "/a/b", "path");
		is_str(r->query, "x=1&y", "query");
		is_str(r->target, "http://Example.TEST:8080/a/b?x=1&y", "target kept");
		is_int(r->nheaders, 2, "two headers");
		is_str(fc_http_header_get(r->headers, r->nheaders, "user-agent"), "t",
		       "header lookup is case-insensitive");
		ok(r->keep_alive, "1.1 keeps alive by default");
		is_int(r->head_len, strstr(abs1, "\r\n\r\n") + 4 - abs1,
		       "head_len stops at CRLFCRLF");
		fc_http_req_free(r);
	}
	r = req("CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n");
	ok(r && r->form == FC_HTTP_AUTHORITY && r->port == 443 && !r->path &&
		   strcmp(r->host, "api.test") == 0, "CONNECT authority-form");
	fc_http_req_free(r);
	r = req("CONNECT api.test:443 HTTP/1.1\r\n\r\n");
	ok(r != NULL, "CONNECT without Host is tolerated");
	fc_http_req_free(r);
	r = req("POST /x?q HTTP/1.1\r\nHost: h.test:81\r\nContent-Length: 5\r\n\r\nhello");
	ok(r && r->form == FC_HTTP_ORIGIN && r->content_length == 5 && r->port == 81 &&
		   strcmp(r->path, "/x") == 0 && strcmp(r->query, "q") == 0,
	   "origin-form takes host and port from Host");
	fc_http_req_free(r);
	r = req("GET http://[::1]:81/ HTTP/1.1\r\nHost: [::1]:81\r\n\r\n");
	ok(r && r->host_is_ip6 && strcmp(r->host, "::1") == 0 && r->port == 81, "IPv6 literal");
	fc_http_req_free(r);
	r = req("GET https://a.test HTTP/1.1\r\nHost: a.test\r\n\r\n");
	ok(r && r->port == 443 && strcmp(r->path, "/") == 0 && !r->query,
	   "https default port, empty path is /");
	fc_http_req_free(r);
	r = req("GET http://a.test? HTTP/1.1\r\nHost: a.test:80\r\n\r\n");
	ok(r && strcmp(r->path, "/") == 0 && r->query && !*r->query, "empty query kept");
	fc_http_req_free(r);
	r = req("GET http://a.test/ HTTP/1.0\r\n\r\n");
	ok(r && !r->keep_alive && r->version_minor == 0, "1.0 without Host, no keep-alive");
	fc_http_req_free(r);
	r = req("GET http://a.test/ HTTP/1.0\r\nProxy-Connection: Keep-Alive\r\n\r\n");
	ok(r && r->keep_alive, "1.0 keep-alive on request");
	fc_http_req_free(r);
	r = req("PUT /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n"
		"Expect: 100-continue\r\nConnection: close\r\n\r\n");
	ok(r && r->chunked && r->content_length == -1 && r->expect_continue && !r->keep_alive,
	   "chunked, expect, close");
	fc_http_req_free(r);
	r = req("OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n");
	ok(r && r->form == FC_HTTP_ASTERISK, "OPTIONS *");
	fc_http_req_free(r);
	r = req("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Sp:  v  \t\r\n\r\n");
	ok(r && strcmp(r->headers[1].value, "") == 0 && strcmp(r->headers[2].value, "v") == 0,
	   "values trimmed, empty value allowed");
	fc_http_req_free(r);
}

static const struct {
	const char *in;
	int rc;
	const char *what;
} bad[] = {
	{ "GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: a\r\n\r\n", FC_EPROTO, "obs-fold" },
	{ "GET / HTTP/1.1\nHost: a\r\n\r\n", FC_EPROTO, "bare LF" },
	{ "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", FC_EPROTO, "bare CR" },
	{ "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "leading empty line" },
	{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", FC_EPROTO, "space before colon" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	  FC_EPROTO, "duplicate Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	  FC_EPROTO, "CL and TE" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", FC_EPROTO,
	  "TE other than chunked" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", FC_EPROTO, "duplicate TE" },
	{ "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", FC_EPROTO, "TE in 1.0" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", FC_EPROTO, "CL sign" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", FC_EPROTO, "CL list" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", FC_EPROTO, "CL empty" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
	  FC_EPROTO, "CL overflow" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", FC_EPROTO, "duplicate Host" },
	{ "GET / HTTP/1.1\r\n\r\n", FC_EPROTO, "missing Host" },
	{ "GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n", FC_EPROTO, "Host mismatch" },
	{ "GET http://a.test/ HTTP/1.1\r\nHost: a.test:81\r\n\r\n", FC_EPROTO, "Host port" },
	{ "GET https://a.test/ HTTP/1.1\r\nHost: a.test:80\r\n\r\n", FC_EPROTO,
	  "Host default port differs" },
	{ "CONNECT a.test:443 HTTP/1.1\r\nHost: b.test:443\r\n\r\n", FC_EPROTO,
	  "CONNECT Host mismatch" },
	{ "GET http://u@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", FC_EPROTO, "userinfo" },
	{ "GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "fragment" },
	{ "GET ftp://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", FC_EPROTO, "ftp scheme" },
	{ "GET a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", FC_EPROTO, "relative target" },
	{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", FC_EPROTO, "HTTP/2.0" },
	{ "GET / http/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "lower-case version" },
	{ "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "double space" },
	{ "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", FC_EPROTO, "trailing space" },
	{ "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "method not a token" },
	{ "CONNECT a.test HTTP/1.1\r\n\r\n", FC_EPROTO, "CONNECT without port" },
	{ "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "CONNECT origin-form" },
	{ "CONNECT a.test:0 HTTP/1.1\r\n\r\n", FC_EPROTO, "port 0" },
	{ "CONNECT a.test:70000 HTTP/1.1\r\n\r\n", FC_EPROTO, "port too large" },
	{ "CONNECT a..test:443 HTTP/1.1\r\n\r\n", FC_EPROTO, "empty label" },
	{ "CONNECT a.test.:443 HTTP/1.1\r\n\r\n", FC_EPROTO, "trailing dot" },
	{ "CONNECT [::1%25eth0]:443 HTTP/1.1\r\n\r\n", FC_EPROTO, "IPv6 zone" },
	{ "GET * HTTP/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "* with GET" },
	{ "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "non-ASCII target" },
	{ "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "bad escape" },
	{ "GET /a% HTTP/1.1\r\nHost: a\r\n\r\n", FC_EPROTO, "truncated escape" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01" "b\r\n\r\n", FC_EPROTO, "control in value" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", FC_EPROTO, "DEL in value" },
	{ "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", FC_EPROTO, "empty name" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", FC_EPROTO, "no colon" },
	{ "GET / HTTP/1.1\r\nHost:\r\n\r\n", FC_EPROTO, "empty Host" },
	{ "GET / HTTP/1.1\r\nHost: a", -EAGAIN, "incomplete" },
	{ "GET / HTTP/1.1\r\nHost: a\r\n\r", -EAGAIN, "incomplete at CR" },
};

static void test_refusals(void)
{
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	struct fc_http_req *r = NULL;
	char *big;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(req_rc(bad[i].in), bad[i].rc, "refused: %s", bad[i].what);
	is_int(fc_http_parse_request(nul, sizeof(nul) - 1, &r, NULL), FC_EPROTO, "NUL");

	big = malloc(FC_HTTP_MAX_HEAD + 4096);
	n = (size_t)snprintf(big, 64, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 101; i++)
		n += (size_t)sprintf(big + n, "X-%d: v\r\n", i);
	strcpy(big + n, "\r\n");
	is_int(req_rc(big), FC_ELIMIT, "101 headers refused");
	n = (size_t)snprintf(big, 64, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(big + n, 'a', FC_HTTP_MAX_HEAD);
	big[n + FC_HTTP_MAX_HEAD] = '\0';
	is_int(req_rc(big), FC_ELIMIT, "oversized head refused");
	n = (size_t)snprintf(big, 64, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 99; i++)
		n += (size_t)sprintf(big + n, "X-%d: v\r\n", i);
	strcpy(big + n, "\r\n");
	r = req(big);
	ok(r && r->nheaders == 100, "100 header fields accepted");
	fc_http_req_free(r);
	free(big);
}

static void test_scan(void)
{
	static const char h[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
	size_t pos = 0, hl = 0, n;
	int rc = -EAGAIN;

	for (n = 1; n <= sizeof(h) - 1 && rc == -EAGAIN; n++)
		rc = fc_http_head_scan(h, n, &pos, &hl, NULL);
	ok(rc == 0 && hl == sizeof(h) - 1 - 4, "byte-at-a-time scan finds the head end");
	is_int(n - 1, hl, "exactly when the last LF arrives");
	pos = 0;
	is_int(fc_http_head_scan("GET / HTTP/1.1\r", 15, &pos, &hl, NULL), -EAGAIN,
	       "CR at the end: undecided");
	is_int(fc_http_head_scan("GET / HTTP/1.1\rX", 16, &pos, &hl, NULL), FC_EPROTO,
	       "bare CR found when its successor arrives");
}

static void test_response(void)
{
	static const char *s1 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
	struct fc_http_resp *r = NULL;
	struct fc_http_body b;

	ok(fc_http_parse_response(s1, strlen(s1), &r, NULL) == 0 && r->status == 200 &&
		   r->content_length == 3 && strcmp(r->reason, "OK") == 0 && r->keep_alive,
	   "200 with length");
	fc_http_body_for_response(&b, r, "GET");
	ok(b.kind == FC_HTTP_BODY_LENGTH && b.remaining == 3, "length framing");
	fc_http_body_for_response(&b, r, "HEAD");
	ok(b.kind == FC_HTTP_BODY_NONE && b.done, "HEAD answer has no body");
	fc_http_resp_free(r);
	r = NULL;
	ok(fc_http_parse_response("HTTP/1.1 204\r\n\r\n", 16, &r, NULL) == 0 && r->status == 204 &&
		   !*r->reason, "status without reason");
	fc_http_body_for_response(&b, r, "GET");
	ok(b.kind == FC_HTTP_BODY_NONE, "204 has no body");
	fc_http_resp_free(r);
	r = NULL;
	ok(fc_http_parse_response("HTTP/1.0 200 OK\r\n\r\n", 19, &r, NULL) == 0 && !r->keep_alive,
	   "1.0 response closes");
	fc_http_body_for_response(&b, r, "GET");
	ok(b.kind == FC_HTTP_BODY_EOF, "no length: until EOF");
	fc_http_body_for_response(&b, r, "CONNECT");
	ok(b.kind == FC_HTTP_BODY_NONE, "2xx to CONNECT has no body");
	fc_http_resp_free(r);
	r = NULL;
	is_int(fc_http_parse_response("HTTP/1.1 20 OK\r\n\r\n", 18, &r, NULL), FC_EPROTO,
	       "two-digit status refused");
	is_int(fc_http_parse_response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
				      "Transfer-Encoding: chunked\r\n\r\n", 66, &r, NULL),
	       FC_EPROTO, "CL+TE response refused");
}

/* Feed s in pieces of step bytes; return total used, or rc < 0. */
static long feed(struct fc_http_body *b, const char *s, size_t n, size_t step)
{
	size_t total = 0;

	while (total < n && !b->done) {
		size_t k = n - total < step ? n - total : step, used = 0;
		int rc = fc_http_body_feed(b, s + total, k, &used, NULL);

		if (rc < 0)
			return rc;
		total += used;
		if (used < k)
			break;
	}
	return (long)total;
}

static void test_chunked(void)
{
	static const char c1[] = "5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\n"
				 "Trailer: x\r\n\r\nGET /next";
	struct fc_http_req r = { .chunked = true };
	struct fc_http_body b;
	size_t body = sizeof(c1) - 1 - strlen("GET /next");

	for (size_t step = 1; step <= 7; step += 3) {
		fc_http_body_for_request(&b, &r);
		is_int(feed(&b, c1, sizeof(c1) - 1, step), body, "chunked ends exactly (step %zu)",
		       step);
		ok(b.done, "done");
	}
	fc_http_body_for_request(&b, &r);
	is_int(feed(&b, "0\r\n\r\n", 5, 100), 5, "empty chunked body");
	fc_http_body_for_request(&b, &r);
	is_int(feed(&b, "5\r\nhelloX\r\n", 11, 100), FC_EPROTO, "data longer than size");
	fc_http_body_for_request(&b, &r);
	is_int(feed(&b, "g\r\n", 3, 100), FC_EPROTO, "bad hex");
	fc_http_body_for_request(&b, &r);
	is_int(feed(&b, "\r\n", 2, 100), FC_EPROTO, "empty size");
	fc_http_body_for_request(&b, &r);
	is_int(feed(&b, "fffffffffffffffff\r\n", 19, 100), FC_EPROTO, "size overflow");
	fc_http_body_for_request(&b, &r);
	is_int(feed(&b, "5\nhello", 7, 100), FC_EPROTO, "bare LF after size");
	fc_http_body_for_request(&b, &r);
	is_int(feed(&b, ";x\r\n", 4, 100), FC_EPROTO, "extension without size");

	r.chunked = false;
	r.content_length = 5;
	fc_http_body_for_request(&b, &r);
	is_int(feed(&b, "helloGET", 8, 3), 5, "Content-Length body ends at 5");
	ok(b.done, "length done");
	r.content_length = -1;
	fc_http_body_for_request(&b, &r);
	ok(b.done && b.kind == FC_HTTP_BODY_NONE, "no body");
}

static void test_upstream(void)
{
	struct fc_http_req *r;
	char *out = NULL;
	size_t n = 0;

	r = req("GET http://Example.test:8080/a?x=1 HTTP/1.1\r\nHost: example.test:8080\r\n"
		"User-Agent: t\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic x\r\n"
		"Connection: Foo, keep-alive\r\nFoo: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\n"
		"Content-Length: 0\r\n\r\n");
	ok(r && fc_http_req_upstream_head(r, true, &out, &n) == 0, "upstream head built");
	if (out)
		is_str(out, "GET /a?x=1 HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: t\r\n"
			    "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n",
		       "origin-form, hop-by-hop removed");
	is_int(n, out ? strlen(out) : 0, "length");
	free(out);
	out = NULL;
	fc_http_req_free(r);
	r = req("GET https://[::1]:443/ HTTP/1.1\r\nHost: [::1]\r\n\r\n");
	ok(r && fc_http_req_upstream_head(r, false, &out, &n) == 0, "ipv6 upstream head");
	if (out)
		is_str(out, "GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n",
		       "brackets and default port");
	free(out);
	out = NULL;
	fc_http_req_free(r);
	r = req("POST /p HTTP/1.1\r\nHost: a.test\r\nConnection: Content-Length, Host\r\n"
		"Content-Length: 3\r\n\r\n");
	ok(r && fc_http_req_upstream_head(r, false, &out, &n) == 0, "framing named in Connection");
	if (out)
		is_str(out, "POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n"
			    "Connection: close\r\n\r\n", "Content-Length is never stripped");
	free(out);
	out = NULL;
	fc_http_req_free(r);
	r = req("CONNECT a.test:443 HTTP/1.1\r\n\r\n");
	ok(r && fc_http_req_upstream_head(r, true, &out, &n) == FC_EPROTO,
	   "no upstream head for CONNECT");
	fc_http_req_free(r);
}

int main(void)
{
	test_forms();
	test_refusals();
	test_scan();
	test_response();
	test_chunked();
	test_upstream();
	return done_testing();
}
