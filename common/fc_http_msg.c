/*
 * fc_http_msg: request and response heads on top of the lexical layer in
 * fc_http.c, and the head the proxy sends upstream.
 *
 * The request-target decides where the proxy connects, and the Host field
 * is what the origin server routes on; if they could disagree, a client
 * allowed to reach one host could talk to another behind it. So for
 * absolute- and authority-form the Host field, when present, must name the
 * same host and port, and the upstream head is rebuilt with a Host field
 * derived from the target rather than forwarded.
 */
#include "fc_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fc_http_int.h"

/* Lines in the head (each ends in CRLF, the last one is empty). */
static size_t count_lines(const char *buf, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i + 1 < n; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n')
			k++;
	return k;
}

static uint16_t default_port(const char *scheme)
{
	if (!scheme)
		return 0;
	return strcmp(scheme, "https") == 0 ? 443 : 80;
}

/* Split "METHOD SP target SP HTTP/1.x" (NUL-terminated) in place. */
static int split_request_line(char *line, char **method, char **target, int *minor,
			      struct fc_diag *d)
{
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	size_t mlen;
	int rc;

	if (!*line)
		return fc_diag_set(d, FC_EPROTO, "empty request line");
	if (!sp2 || strchr(sp2 + 1, ' '))
		return fc_diag_set(d, FC_EPROTO, "malformed request line");
	mlen = (size_t)(sp1 - line);
	if (mlen == 0 || mlen > FC_HTTP_MAX_METHOD)
		return fc_diag_set(d, FC_EPROTO, "invalid method length");
	for (size_t i = 0; i < mlen; i++)
		if (!fc_http_is_tchar((unsigned char)line[i]))
			return fc_diag_set(d, FC_EPROTO, "invalid character in method");
	if (sp2 == sp1 + 1)
		return fc_diag_set(d, FC_EPROTO, "empty request target");
	rc = fc_http_parse_version(sp2 + 1, strlen(sp2 + 1), minor, d);
	if (rc < 0)
		return rc;
	*sp1 = '\0';
	*sp2 = '\0';
	*method = line;
	*target = sp1 + 1;
	return 0;
}

/* Split "path?query" in s at its first '?'; an empty path is "/". */
static void split_path_query(struct fc_http_req *r, char *s)
{
	char *q = strchr(s, '?');

	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	r->path = *s ? s : "/";
}

/* Take a parsed authority as the request's host (copied into host) and port. */
static void set_authority(struct fc_http_req *r, const struct fc_http_authority *a, char *host,
			  uint16_t port)
{
	memcpy(host, a->host, strlen(a->host) + 1);
	r->host = host;
	r->host_is_ip6 = a->ip6;
	r->port = port;
}

/* Origin-form "/path?query" split in t (a writable copy). */
static int parse_origin(struct fc_http_req *r, char *t, struct fc_diag *d)
{
	int rc = fc_http_check_uri_chars(t, strlen(t), d);

	if (rc < 0)
		return rc;
	split_path_query(r, t);
	r->form = FC_HTTP_ORIGIN;
	return 0;
}

/* Absolute-form "scheme://authority[/path][?query]" split in t. */
static int parse_absolute(struct fc_http_req *r, char *t, char *host, struct fc_diag *d)
{
	char *sep = strstr(t, "://");
	char *auth, *rest;
	struct fc_http_authority a;
	int rc;

	if (!sep)
		return fc_diag_set(d, FC_EPROTO, "unsupported request target form");
	*sep = '\0';
	if (strcasecmp(t, "http") == 0)
		r->scheme = "http";
	else if (strcasecmp(t, "https") == 0)
		r->scheme = "https";
	else
		return fc_diag_set(d, FC_EPROTO, "unsupported URL scheme '%.16s'", t);
	auth = sep + 3;
	rest = auth + strcspn(auth, "/?");
	rc = fc_http_check_uri_chars(rest, strlen(rest), d);
	if (rc < 0)
		return rc;
	rc = fc_http_parse_authority(auth, (size_t)(rest - auth), &a, d);
	if (rc < 0)
		return rc;
	set_authority(r, &a, host, a.has_port ? a.port : default_port(r->scheme));
	split_path_query(r, rest);
	r->form = FC_HTTP_ABSOLUTE;
	return 0;
}

/* Decide the target's form and split it; host is the host buffer. */
static int parse_target(struct fc_http_req *r, char *t, char *host, struct fc_diag *d)
{
	struct fc_http_authority a;
	int rc;

	if (strcmp(r->method, "CONNECT") == 0) {
		rc = fc_http_parse_authority(t, strlen(t), &a, d);
		if (rc < 0)
			return rc;
		if (!a.has_port)
			return fc_diag_set(d, FC_EPROTO, "CONNECT target without a port");
		set_authority(r, &a, host, a.port);
		r->form = FC_HTTP_AUTHORITY;
		return 0;
	}
	if (strcmp(t, "*") == 0) {
		if (strcmp(r->method, "OPTIONS") != 0)
			return fc_diag_set(d, FC_EPROTO, "'*' target with a method but OPTIONS");
		r->form = FC_HTTP_ASTERISK;
		return 0;
	}
	if (t[0] == '/')
		return parse_origin(r, t, d);
	return parse_absolute(r, t, host, d);
}

/* The Host field against the target (RFC 9112 3.2). */
static int check_host(struct fc_http_req *r, const struct fc_http_framing *f, char *host,
		      struct fc_diag *d)
{
	struct fc_http_authority a;
	int rc;

	if (!f->host) {
		if (r->version_minor == 1 && r->form != FC_HTTP_AUTHORITY)
			return fc_diag_set(d, FC_EPROTO, "missing Host header");
		return 0;
	}
	rc = fc_http_parse_authority(f->host, strlen(f->host), &a, d);
	if (rc < 0)
		return rc;
	if (r->form == FC_HTTP_ORIGIN || r->form == FC_HTTP_ASTERISK) {
		set_authority(r, &a, host, a.has_port ? a.port : 0);
		return 0;
	}
	if (strcmp(a.host, r->host) != 0)
		return fc_diag_set(d, FC_EPROTO, "Host header '%.64s' does not match the target",
				   f->host);
	/* CONNECT's Host may leave the port out; absolute-form compares the
	 * effective ports, the scheme's default standing in for a missing one */
	if (r->form == FC_HTTP_AUTHORITY ? a.has_port && a.port != r->port
	    : (a.has_port ? a.port : default_port(r->scheme)) != r->port)
		return fc_diag_set(d, FC_EPROTO, "Host header port does not match the target");
	return 0;
}

int fc_http_parse_request(const char *buf, size_t len, struct fc_http_req **out,
			  struct fc_diag *d)
{
	struct fc_http_framing f = { 0 };
	struct fc_http_req *r = NULL;
	size_t hl, nlines, pos, maxh;
	char *head, *host, *tcopy, *line, *method = NULL, *target = NULL;
	int rc;

	rc = fc_http_head_len(buf, len, &hl, d);
	if (rc < 0)
		return rc;
	nlines = count_lines(buf, hl);
	if (nlines - 2 > FC_HTTP_MAX_HEADERS)
		return fc_diag_set(d, FC_ELIMIT, "more than %d header fields",
				   FC_HTTP_MAX_HEADERS);
	maxh = nlines - 2;
	r = calloc(1, sizeof(*r) + maxh * sizeof(r->headers[0]) + 2 * (hl + 1) +
			      FC_HTTP_MAX_HOST + 1);
	if (!r)
		return -ENOMEM;
	r->headers = (struct fc_http_header *)(r + 1);
	head = (char *)(r->headers + maxh);
	tcopy = head + hl + 1;
	host = tcopy + hl + 1;
	memcpy(head, buf, hl);
	line = head;
	pos = (size_t)(strchr(line, '\r') - line) + 2;
	line[pos - 2] = '\0';
	rc = split_request_line(line, &method, &target, &r->version_minor, d);
	if (rc < 0)
		goto out;
	r->method = method;
	r->target = target;
	memcpy(tcopy, target, strlen(target) + 1);
	rc = parse_target(r, tcopy, host, d);
	if (rc < 0)
		goto out;
	rc = fc_http_parse_fields(head, &pos, r->headers, maxh, &r->nheaders, &f,
				  r->version_minor, d);
	if (rc < 0)
		goto out;
	rc = check_host(r, &f, host, d);
	if (rc < 0)
		goto out;
	r->content_length = f.content_length;
	r->chunked = f.te_seen;
	r->keep_alive = r->version_minor == 1 ? !f.conn_close : (f.conn_keep && !f.conn_close);
	r->expect_continue = f.expect_continue;
	r->head_len = hl;
	*out = r;
	r = NULL;
out:
	free(r);
	return rc;
}

void fc_http_req_free(struct fc_http_req *r)
{
	free(r);
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" in place. A missing SP before an empty
 * reason is tolerated: servers in the wild drop it and it is unambiguous. */
static int split_status_line(char *line, struct fc_http_resp *r, struct fc_diag *d)
{
	char *s;
	int rc;

	if (strlen(line) < 12)
		return fc_diag_set(d, FC_EPROTO, "malformed status line");
	rc = fc_http_parse_version(line, 8, &r->version_minor, d);
	if (rc < 0)
		return rc;
	s = line + 8;
	if (s[0] != ' ' || s[1] < '1' || s[1] > '5' || s[2] < '0' || s[2] > '9' ||
	    s[3] < '0' || s[3] > '9' || (s[4] != ' ' && s[4] != '\0'))
		return fc_diag_set(d, FC_EPROTO, "malformed status line");
	r->status = (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	r->reason = s[4] ? s + 5 : s + 4;
	for (const char *p = r->reason; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fc_diag_set(d, FC_EPROTO, "control character in reason phrase");
	}
	line[8] = '\0';
	return 0;
}

int fc_http_parse_response(const char *buf, size_t len, struct fc_http_resp **out,
			   struct fc_diag *d)
{
	struct fc_http_framing f = { 0 };
	struct fc_http_resp *r = NULL;
	size_t hl, nlines, pos, maxh;
	char *head;
	int rc;

	rc = fc_http_head_len(buf, len, &hl, d);
	if (rc < 0)
		return rc;
	nlines = count_lines(buf, hl);
	if (nlines - 2 > FC_HTTP_MAX_HEADERS)
		return fc_diag_set(d, FC_ELIMIT, "more than %d header fields",
				   FC_HTTP_MAX_HEADERS);
	maxh = nlines - 2;
	r = calloc(1, sizeof(*r) + maxh * sizeof(r->headers[0]) + hl + 1);
	if (!r)
		return -ENOMEM;
	r->headers = (struct fc_http_header *)(r + 1);
	head = (char *)(r->headers + maxh);
	memcpy(head, buf, hl);
	pos = (size_t)(strchr(head, '\r') - head) + 2;
	head[pos - 2] = '\0';
	rc = split_status_line(head, r, d);
	if (rc < 0)
		goto out;
	rc = fc_http_parse_fields(head, &pos, r->headers, maxh, &r->nheaders, &f,
				  r->version_minor, d);
	if (rc < 0)
		goto out;
	r->content_length = f.content_length;
	r->chunked = f.te_seen;
	r->keep_alive = r->version_minor == 1 ? !f.conn_close : (f.conn_keep && !f.conn_close);
	r->head_len = hl;
	*out = r;
	r = NULL;
out:
	free(r);
	return rc;
}

void fc_http_resp_free(struct fc_http_resp *r)
{
	free(r);
}
