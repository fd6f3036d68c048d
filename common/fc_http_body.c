/*
 * fc_http_body: where an HTTP/1.1 message body ends (RFC 9112 6.3 and 7.1),
 * and the request head the proxy sends upstream.
 *
 * The proxy forwards bodies byte for byte; it only needs to know where one
 * message stops and the next starts, so that a keep-alive connection can be
 * reused and a pipelined second request is parsed (and decided) as a
 * request of its own instead of slipping through as body bytes. The chunked
 * decoder is therefore a byte-at-a-time state machine over the framing only,
 * with bounded lines, that never copies data.
 */
#include "fc_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fc_hash.h"
#include "fc_http_int.h"

enum {
	CH_SIZE,       /* chunk-size hex digits */
	CH_EXT,        /* chunk extensions up to CR */
	CH_SIZE_LF,    /* LF after the chunk-size line */
	CH_DATA,       /* chunk data */
	CH_DATA_CR,    /* CR after chunk data */
	CH_DATA_LF,    /* LF after chunk data */
	CH_TRAILER,    /* start of a trailer line or of the final CRLF */
	CH_TRAILER_IN, /* inside a trailer line */
	CH_TRAILER_LF, /* LF ending a trailer line */
	CH_END_LF,     /* LF of the final CRLF */
};

static void body_set(struct fc_http_body *b, enum fc_http_body_kind kind, uint64_t n)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->remaining = n;
	b->state = CH_SIZE;
	b->done = kind == FC_HTTP_BODY_NONE || (kind == FC_HTTP_BODY_LENGTH && n == 0);
}

void fc_http_body_for_request(struct fc_http_body *b, const struct fc_http_req *r)
{
	if (r->chunked)
		body_set(b, FC_HTTP_BODY_CHUNKED, 0);
	else if (r->content_length > 0)
		body_set(b, FC_HTTP_BODY_LENGTH, (uint64_t)r->content_length);
	else
		body_set(b, FC_HTTP_BODY_NONE, 0);
}

void fc_http_body_for_response(struct fc_http_body *b, const struct fc_http_resp *r,
			       const char *req_method)
{
	bool head = req_method && strcmp(req_method, "HEAD") == 0;
	bool connect = req_method && strcmp(req_method, "CONNECT") == 0;

	if (head || r->status < 200 || r->status == 204 || r->status == 304 ||
	    (connect && r->status < 300))
		body_set(b, FC_HTTP_BODY_NONE, 0);
	else if (r->chunked)
		body_set(b, FC_HTTP_BODY_CHUNKED, 0);
	else if (r->content_length >= 0)
		body_set(b, FC_HTTP_BODY_LENGTH, (uint64_t)r->content_length);
	else
		body_set(b, FC_HTTP_BODY_EOF, 0);
}

/* One byte of a chunk-size line (CH_SIZE, CH_EXT). */
static int chunk_size_byte(struct fc_http_body *b, char c, struct fc_diag *d)
{
	int h;

	if (++b->line_len > FC_HTTP_MAX_CHUNK_LINE)
		return fc_diag_set(d, FC_ELIMIT, "chunk-size line too long");
	if (c == '\r') {
		if (b->state == CH_SIZE && b->line_len == 1)
			return fc_diag_set(d, FC_EPROTO, "empty chunk size");
		b->state = CH_SIZE_LF;
		return 0;
	}
	if (b->state == CH_EXT) {
		if (((unsigned char)c < 0x20 && c != '\t') || c == 0x7f)
			return fc_diag_set(d, FC_EPROTO, "control character in chunk extension");
		return 0;
	}
	if (c == ';' && b->line_len > 1) {
		b->state = CH_EXT;
		return 0;
	}
	h = fc_hex_digit(c);
	if (h < 0)
		return fc_diag_set(d, FC_EPROTO, "invalid chunk size");
	if (b->remaining > (UINT64_C(1) << 59))
		return fc_diag_set(d, FC_EPROTO, "chunk size too large");
	b->remaining = b->remaining * 16 + (uint64_t)h;
	return 0;
}

/* One byte of the trailer section. */
static int trailer_byte(struct fc_http_body *b, char c, struct fc_diag *d)
{
	if (++b->trailer_len > FC_HTTP_MAX_HEAD)
		return fc_diag_set(d, FC_ELIMIT, "chunked trailers too long");
	switch (b->state) {
	case CH_TRAILER:
		b->state = c == '\r' ? CH_END_LF : CH_TRAILER_IN;
		if (c == '\n' || c == '\0')
			return fc_diag_set(d, FC_EPROTO, "malformed chunked trailer");
		return 0;
	case CH_TRAILER_IN:
		if (c == '\r')
			b->state = CH_TRAILER_LF;
		else if (c == '\n' || c == '\0')
			return fc_diag_set(d, FC_EPROTO, "malformed chunked trailer");
		return 0;
	case CH_TRAILER_LF:
		if (c != '\n')
			return fc_diag_set(d, FC_EPROTO, "bare CR in chunked trailer");
		b->state = CH_TRAILER;
		return 0;
	default: /* CH_END_LF */
		if (c != '\n')
			return fc_diag_set(d, FC_EPROTO, "bare CR at the end of a chunked body");
		b->done = true;
		return 0;
	}
}

/* Consume from buf until the body ends or buf does; *i advances. */
static int chunked_feed(struct fc_http_body *b, const char *buf, size_t len, size_t *i,
			struct fc_diag *d)
{
	int rc = 0;

	while (*i < len && !b->done && rc == 0) {
		char c = buf[*i];

		switch (b->state) {
		case CH_DATA: {
			size_t n = len - *i;

			if ((uint64_t)n > b->remaining)
				n = (size_t)b->remaining;
			b->remaining -= n;
			*i += n;
			if (b->remaining == 0)
				b->state = CH_DATA_CR;
			continue;
		}
		case CH_SIZE:
		case CH_EXT:
			rc = chunk_size_byte(b, c, d);
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return fc_diag_set(d, FC_EPROTO, "bare CR in chunk-size line");
			b->line_len = 0;
			b->state = b->remaining ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA_CR:
			if (c != '\r')
				return fc_diag_set(d, FC_EPROTO, "chunk data longer than its size");
			b->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return fc_diag_set(d, FC_EPROTO, "bare CR after chunk data");
			b->state = CH_SIZE;
			break;
		default:
			rc = trailer_byte(b, c, d);
			break;
		}
		(*i)++;
	}
	return rc;
}

int fc_http_body_feed(struct fc_http_body *b, const char *buf, size_t len, size_t *used,
		      struct fc_diag *d)
{
	size_t i = 0;
	int rc;

	if (b->done) {
		*used = 0;
		return 0;
	}
	switch (b->kind) {
	case FC_HTTP_BODY_LENGTH:
		i = (uint64_t)len > b->remaining ? (size_t)b->remaining : len;
		b->remaining -= i;
		b->done = b->remaining == 0;
		break;
	case FC_HTTP_BODY_CHUNKED:
		rc = chunked_feed(b, buf, len, &i, d);
		if (rc < 0)
			return rc;
		break;
	case FC_HTTP_BODY_EOF:
		i = len;
		break;
	default:
		b->done = true;
		break;
	}
	*used = i;
	return 0;
}

/* A growable NUL-terminated output buffer; on failure it stays failed. */
struct obuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void ob_add(struct obuf *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *np = realloc(o->p, cap);

		if (!np) {
			o->oom = true;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void ob_str(struct obuf *o, const char *s)
{
	ob_add(o, s, strlen(s));
}

/* Hop-by-hop fields (RFC 9110 7.6.1), the proxy's own, and Host (rebuilt). */
static bool is_dropped(const struct fc_http_req *r, const char *name)
{
	static const char *const hop[] = { "Connection", "Keep-Alive", "Proxy-Connection",
					   "Proxy-Authorization", "Proxy-Authenticate",
					   "TE", "Trailer", "Upgrade", "Host" };

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strcasecmp(name, hop[i]) == 0)
			return true;
	/* "Connection: Content-Length" must not strip the framing the proxy
	 * itself follows: upstream would then see a different message end */
	if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0)
		return false;
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, "Connection") == 0 &&
		    fc_http_list_has(r->headers[i].value, name))
			return true;
	return false;
}

/* The Host value for upstream: the target's authority, default port omitted. */
static void add_host(struct obuf *o, const struct fc_http_req *r)
{
	char port[8];
	bool dflt = r->port == 0 || (r->scheme && strcmp(r->scheme, "https") == 0 ?
				     r->port == 443 : r->port == 80);

	ob_str(o, "Host: ");
	if (r->host_is_ip6)
		ob_str(o, "[");
	ob_str(o, r->host);
	if (r->host_is_ip6)
		ob_str(o, "]");
	if (!dflt) {
		snprintf(port, sizeof(port), ":%u", (unsigned)r->port);
		ob_str(o, port);
	}
	ob_str(o, "\r\n");
}

int fc_http_req_upstream_head(const struct fc_http_req *r, bool keep_alive, char **out,
			      size_t *len)
{
	struct obuf o = { 0 };

	if (r->form != FC_HTTP_ORIGIN && r->form != FC_HTTP_ABSOLUTE)
		return FC_EPROTO;
	ob_str(&o, r->method);
	ob_str(&o, " ");
	ob_str(&o, r->path);
	if (r->query) {
		ob_str(&o, "?");
		ob_str(&o, r->query);
	}
	ob_str(&o, r->version_minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
	if (r->host)
		add_host(&o, r);
	for (size_t i = 0; i < r->nheaders; i++) {
		if (is_dropped(r, r->headers[i].name))
			continue;
		ob_str(&o, r->headers[i].name);
		ob_str(&o, ": ");
		ob_str(&o, r->headers[i].value);
		ob_str(&o, "\r\n");
	}
	ob_str(&o, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
	if (o.oom) {
		free(o.p);
		return -ENOMEM;
	}
	*out = o.p;
	*len = o.len;
	return 0;
}
