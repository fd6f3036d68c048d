/*
 * fc_http: a strict HTTP/1.1 message-head parser and body framing for the
 * egress proxy.
 *
 * The proxy sits between an untrusted sandbox and the network, so the parser
 * accepts only what RFC 9110/9112 allow and refuses everything a smuggling
 * or desync attack relies on: obs-fold, bare CR or LF, NUL and other control
 * bytes, whitespace before ':', duplicate or conflicting Content-Length,
 * Content-Length together with Transfer-Encoding, any Transfer-Encoding
 * other than a single "chunked", heads over FC_HTTP_MAX_HEAD bytes or with
 * more than FC_HTTP_MAX_HEADERS fields, HTTP versions other than 1.0/1.1,
 * and a Host header that disagrees with an absolute-form target.
 *
 * Request targets: origin-form ("/p?q"), absolute-form ("http://h:p/p?q",
 * what a forward proxy receives), authority-form ("h:p", CONNECT only) and
 * asterisk-form ("*", OPTIONS only).
 *
 * Body framing (struct fc_http_body) only tracks where a message ends so the
 * proxy can forward bytes verbatim and keep connections alive; it never
 * buffers or rewrites the body.
 *
 * Everything here is pure and thread-safe (no globals). Errors: FC_EPROTO
 * (malformed: the proxy answers 400), FC_ELIMIT (too large: 431 or 400),
 * -EAGAIN (need more bytes), -ENOMEM; a message in the fc_diag says what.
 */
#ifndef FC_HTTP_H
#define FC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fc_err.h"

#define FC_HTTP_MAX_HEAD (64 * 1024) /* request or response head, CRLFCRLF included */
#define FC_HTTP_MAX_HEADERS 100      /* header fields in one head */
#define FC_HTTP_MAX_METHOD 32        /* method token length */
#define FC_HTTP_MAX_HOST 255         /* host name or address, without brackets */
#define FC_HTTP_MAX_CHUNK_LINE 4096  /* chunk-size line incl. extensions */

enum fc_http_form {
	FC_HTTP_ORIGIN,    /* "/path?query" */
	FC_HTTP_ABSOLUTE,  /* "http://host[:port]/path?query" */
	FC_HTTP_AUTHORITY, /* "host:port", CONNECT only */
	FC_HTTP_ASTERISK,  /* "*", OPTIONS only */
};

/* One header field; name and value point into the owning message and are
 * NUL-terminated. value has leading and trailing whitespace removed. */
struct fc_http_header {
	const char *name;
	const char *value;
};

/*
 * A parsed request head. Every string is NUL-terminated and lives in the
 * same allocation as the struct (free with fc_http_req_free).
 */
struct fc_http_req {
	const char *method;   /* token, case kept (methods are case-sensitive) */
	const char *target;   /* the request-target exactly as sent */
	enum fc_http_form form;
	const char *scheme;   /* "http" or "https" (lower case) for absolute-form, else NULL */
	const char *host;     /* lower case; IPv6 without brackets; from the target when
			       * absolute/authority-form, else from Host; NULL if none */
	uint16_t port;        /* explicit port, else the scheme's default (80/443);
			       * 0 for origin-form without a port in Host */
	bool host_is_ip6;     /* host is an IPv6 literal (needs brackets in URLs) */
	const char *path;     /* raw (not decoded) path, "/" when empty; NULL for
			       * authority- and asterisk-form */
	const char *query;    /* raw query after '?', without the '?'; NULL if none */
	int version_minor;    /* HTTP/1.<version_minor>: 0 or 1 */
	struct fc_http_header *headers;
	size_t nheaders;
	int64_t content_length; /* -1 when absent */
	bool chunked;           /* Transfer-Encoding: chunked */
	bool keep_alive;        /* the client wants the connection kept open */
	bool expect_continue;   /* Expect: 100-continue */
	size_t head_len;        /* bytes of the head, CRLFCRLF included */
};

/* A parsed response head (from an upstream server), same ownership. */
struct fc_http_resp {
	int version_minor;
	int status;           /* 100..599 */
	const char *reason;   /* reason phrase, may be "" */
	struct fc_http_header *headers;
	size_t nheaders;
	int64_t content_length; /* -1 when absent */
	bool chunked;
	bool keep_alive;        /* the server keeps the connection open */
	size_t head_len;
};

/*
 * Find the end of a message head in buf (len bytes, a prefix of the
 * stream). On success *head_len is the length including the final CRLFCRLF.
 * -EAGAIN: not complete yet (len < FC_HTTP_MAX_HEAD); FC_ELIMIT: no end
 * within FC_HTTP_MAX_HEAD bytes; FC_EPROTO: a bare LF or NUL seen already.
 * Leading empty lines (RFC 9112 2.2) are not skipped: they are refused.
 */
int fc_http_head_len(const char *buf, size_t len, size_t *head_len, struct fc_diag *d);

/*
 * fc_http_head_len for a buffer that grows between calls: *pos (0 at the
 * start of a message, kept by the caller) says how far earlier calls
 * scanned, so a head that arrives a byte at a time costs linear, not
 * quadratic, time. On -EAGAIN *pos is advanced; other results as
 * fc_http_head_len. buf must hold the same bytes as before, plus more.
 */
int fc_http_head_scan(const char *buf, size_t len, size_t *pos, size_t *head_len,
		      struct fc_diag *d);

/*
 * Parse a request head from buf (len bytes; anything after the head is
 * ignored and left to the caller). On success *out is a new request (free
 * with fc_http_req_free) and (*out)->head_len says how many bytes it used.
 * Errors: -EAGAIN (the head is incomplete), FC_EPROTO, FC_ELIMIT, -ENOMEM.
 * Enforced: method is a token; CONNECT needs authority-form with a port,
 * OPTIONS alone may use "*", every other method needs origin- or
 * absolute-form; absolute-form schemes are http and https only, no
 * userinfo, no fragment; exactly one Host header for HTTP/1.1 (RFC 9112
 * 3.2), matching the target's host and port when absolute-form.
 */
int fc_http_parse_request(const char *buf, size_t len, struct fc_http_req **out,
			  struct fc_diag *d);

void fc_http_req_free(struct fc_http_req *r);

/*
 * Parse a response head, with the same strictness for framing headers
 * (Content-Length, Transfer-Encoding) and a more forgiving reason phrase.
 * Errors as fc_http_parse_request.
 */
int fc_http_parse_response(const char *buf, size_t len, struct fc_http_resp **out,
			   struct fc_diag *d);

void fc_http_resp_free(struct fc_http_resp *r);

/*
 * The first value of header name (case-insensitive) in hs[0..n), or NULL.
 */
const char *fc_http_header_get(const struct fc_http_header *hs, size_t n, const char *name);

/*
 * Build the head to send upstream for a request received by the proxy:
 * "METHOD origin-form-target HTTP/1.x" (the client's version, so that a
 * 1.0 client never gets a chunked answer it cannot read), a Host header
 * rebuilt from r->host and r->port (default port omitted), every header of r
 * except the hop-by-hop ones (Connection and the fields it names,
 * Keep-Alive, Proxy-Connection, Proxy-Authorization, Proxy-Authenticate,
 * TE, Trailer, Upgrade; never Content-Length or Transfer-Encoding, even
 * when Connection names them), "Connection: keep-alive" or "Connection: close" as
 * keep_alive says, and the final CRLF. Transfer-Encoding and Content-Length
 * are kept (they frame the body that follows). *out is a heap buffer (free
 * with free()), *len its length; NUL-terminated. Errors: -ENOMEM, FC_EPROTO
 * for authority- or asterisk-form requests.
 */
int fc_http_req_upstream_head(const struct fc_http_req *r, bool keep_alive, char **out,
			      size_t *len);

/* Body framing. */
enum fc_http_body_kind {
	FC_HTTP_BODY_NONE,    /* no body: the message ends with its head */
	FC_HTTP_BODY_LENGTH,  /* Content-Length bytes */
	FC_HTTP_BODY_CHUNKED, /* chunked transfer coding, trailers included */
	FC_HTTP_BODY_EOF,     /* until the connection closes (responses only) */
};

struct fc_http_body {
	enum fc_http_body_kind kind;
	uint64_t remaining; /* LENGTH: bytes left; CHUNKED: bytes left in this chunk */
	int state;          /* chunked decoder state, private */
	size_t line_len;    /* bytes of the current chunk-size or trailer line */
	size_t trailer_len; /* bytes of trailers so far (bounded by FC_HTTP_MAX_HEAD) */
	bool done;
};

/* Body framing of a request (RFC 9112 6.3): chunked, Content-Length or none. */
void fc_http_body_for_request(struct fc_http_body *b, const struct fc_http_req *r);

/*
 * Body framing of a response to a request with method req_method: none for
 * HEAD, 1xx, 204, 304 and a 2xx answer to CONNECT; chunked; Content-Length;
 * else until EOF (then the connection cannot be reused).
 */
void fc_http_body_for_response(struct fc_http_body *b, const struct fc_http_resp *r,
			       const char *req_method);

/*
 * Feed len bytes of the stream that follow the head (or earlier feeds).
 * *used is set to how many of them belong to this body (all of them
 * unless the body ends inside buf); b->done is set once the body is
 * complete. Bytes after *used belong to the next message. For
 * FC_HTTP_BODY_EOF every byte is used and done is never set.
 * Errors: FC_EPROTO (bad chunk framing), FC_ELIMIT (chunk line or trailers
 * too long); then *used is undefined and the connection must be closed.
 */
int fc_http_body_feed(struct fc_http_body *b, const char *buf, size_t len, size_t *used,
		      struct fc_diag *d);

/* Is this a token character (RFC 9110 5.6.2)? */
bool fc_http_is_tchar(unsigned char c);

#endif
