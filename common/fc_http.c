/*
 * fc_http: the strict HTTP/1.1 head parser (contract in fc_http.h).
 *
 * A head is first delimited (fc_http_head_len), which already refuses NUL,
 * bare CR and bare LF, so that every line of the copy we parse ends in
 * exactly one CRLF. The copy lives in the same allocation as the result:
 * lines are split in place and the header array points into it, so one
 * free() releases everything.
 *
 * The framing headers (Content-Length, Transfer-Encoding) are where request
 * smuggling happens between a proxy and a server that disagree, so they get
 * the strictest reading: one Content-Length of plain digits, one
 * Transfer-Encoding of exactly "chunked", never both.
 */
#include "fc_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fc_http_int.h"

bool fc_http_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int fc_http_head_scan(const char *buf, size_t len, size_t *pos, size_t *head_len,
		      struct fc_diag *d)
{
	size_t n = len < FC_HTTP_MAX_HEAD ? len : FC_HTTP_MAX_HEAD;
	/* back up over what a new byte can complete: a CR whose successor
	 * was unknown, or the first three bytes of CRLFCRLF */
	size_t start = *pos > 3 ? *pos - 3 : 0;

	for (size_t i = start; i < n; i++) {
		char c = buf[i];

		if (c == '\0')
			return fc_diag_set(d, FC_EPROTO, "NUL byte in message head");
		if (c == '\r' && i + 1 < len && buf[i + 1] != '\n')
			return fc_diag_set(d, FC_EPROTO, "bare CR in message head");
		if (c != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return fc_diag_set(d, FC_EPROTO, "bare LF in message head");
		if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
			*head_len = i + 1;
			return 0;
		}
	}
	if (len >= FC_HTTP_MAX_HEAD)
		return fc_diag_set(d, FC_ELIMIT, "message head longer than %d bytes",
				   FC_HTTP_MAX_HEAD);
	*pos = n;
	return -EAGAIN;
}

int fc_http_head_len(const char *buf, size_t len, size_t *head_len, struct fc_diag *d)
{
	size_t pos = 0;

	return fc_http_head_scan(buf, len, &pos, head_len, d);
}

/* Trim optional whitespace (SP, HTAB) on both ends of [*s, *s + *n). */
static void trim_ows(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

bool fc_http_list_has(const char *list, const char *token)
{
	size_t tn = strlen(token);

	while (*list) {
		const char *comma = strchr(list, ',');
		size_t n = comma ? (size_t)(comma - list) : strlen(list);
		const char *s = list;

		trim_ows(&s, &n);
		if (n == tn && strncasecmp(s, token, n) == 0)
			return true;
		if (!comma)
			break;
		list = comma + 1;
	}
	return false;
}

const char *fc_http_header_get(const struct fc_http_header *hs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(hs[i].name, name) == 0)
			return hs[i].value;
	return NULL;
}

/*
 * Split one header line (NUL-terminated, CRLF removed) in place into h.
 * RFC 9112 5: no whitespace before ':', no obs-fold, value bytes are
 * VCHAR, obs-text, SP or HTAB.
 */
static int parse_field(char *line, struct fc_http_header *h, struct fc_diag *d)
{
	char *colon, *v, *end;

	if (line[0] == ' ' || line[0] == '\t')
		return fc_diag_set(d, FC_EPROTO, "obsolete line folding in header");
	colon = strchr(line, ':');
	if (!colon || colon == line)
		return fc_diag_set(d, FC_EPROTO, "malformed header line");
	for (char *p = line; p < colon; p++)
		if (!fc_http_is_tchar((unsigned char)*p))
			return fc_diag_set(d, FC_EPROTO, "invalid character in header name");
	*colon = '\0';
	v = colon + 1;
	for (char *p = v; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fc_diag_set(d, FC_EPROTO, "control character in header '%.64s'",
					   line);
	}
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	h->name = line;
	h->value = v;
	return 0;
}

/* Content-Length: 1*DIGIT, at most 2^62, nothing else (no lists, no sign). */
static int parse_clen(const char *v, int64_t *out, struct fc_diag *d)
{
	int64_t n = 0;

	if (!*v)
		return fc_diag_set(d, FC_EPROTO, "empty Content-Length");
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return fc_diag_set(d, FC_EPROTO, "invalid Content-Length '%.32s'", v);
		if (n > ((int64_t)1 << 62) / 10)
			return fc_diag_set(d, FC_EPROTO, "Content-Length too large");
		n = n * 10 + (*p - '0');
	}
	*out = n;
	return 0;
}

/* Apply one header to the framing facts. */
static int note_field(struct fc_http_framing *f, const struct fc_http_header *h,
		      struct fc_diag *d)
{
	const char *n = h->name;

	if (strcasecmp(n, "Content-Length") == 0) {
		if (f->content_length >= 0)
			return fc_diag_set(d, FC_EPROTO, "duplicate Content-Length");
		return parse_clen(h->value, &f->content_length, d);
	}
	if (strcasecmp(n, "Transfer-Encoding") == 0) {
		if (f->te_seen)
			return fc_diag_set(d, FC_EPROTO, "duplicate Transfer-Encoding");
		if (strcasecmp(h->value, "chunked") != 0)
			return fc_diag_set(d, FC_EPROTO,
					   "unsupported Transfer-Encoding '%.64s'", h->value);
		f->te_seen = true;
		return 0;
	}
	if (strcasecmp(n, "Connection") == 0 || strcasecmp(n, "Proxy-Connection") == 0) {
		if (fc_http_list_has(h->value, "close"))
			f->conn_close = true;
		if (fc_http_list_has(h->value, "keep-alive"))
			f->conn_keep = true;
		return 0;
	}
	if (strcasecmp(n, "Host") == 0) {
		if (f->host)
			return fc_diag_set(d, FC_EPROTO, "duplicate Host header");
		f->host = h->value;
		return 0;
	}
	if (strcasecmp(n, "Expect") == 0 && strcasecmp(h->value, "100-continue") == 0)
		f->expect_continue = true;
	return 0;
}

/*
 * Split the header lines following the start line (at *pos in head) into
 * hs (room for max) and collect the framing facts. head is the writable
 * copy, CRLF-terminated lines, ending with an empty line.
 */
int fc_http_parse_fields(char *head, size_t *pos, struct fc_http_header *hs, size_t max,
			 size_t *nout, struct fc_http_framing *f, int version_minor,
			 struct fc_diag *d)
{
	size_t n = 0;
	int rc;

	f->content_length = -1;
	for (;;) {
		char *line = head + *pos;
		char *cr = strchr(line, '\r');

		*cr = '\0';
		*pos += (size_t)(cr - line) + 2;
		if (!*line)
			break;
		if (n == max)
			return fc_diag_set(d, FC_ELIMIT, "more than %d header fields",
					   FC_HTTP_MAX_HEADERS);
		rc = parse_field(line, &hs[n], d);
		if (rc < 0)
			return rc;
		rc = note_field(f, &hs[n], d);
		if (rc < 0)
			return rc;
		n++;
	}
	if (f->te_seen && f->content_length >= 0)
		return fc_diag_set(d, FC_EPROTO, "both Content-Length and Transfer-Encoding");
	if (f->te_seen && version_minor == 0)
		return fc_diag_set(d, FC_EPROTO, "Transfer-Encoding in an HTTP/1.0 message");
	*nout = n;
	return 0;
}

/* "HTTP/1.0" or "HTTP/1.1" exactly. */
int fc_http_parse_version(const char *s, size_t n, int *minor, struct fc_diag *d)
{
	if (n != 8 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1'))
		return fc_diag_set(d, FC_EPROTO, "unsupported HTTP version '%.16s'", s);
	*minor = s[7] - '0';
	return 0;
}

/* A port: 1..5 digits, 1..65535. */
static int parse_port(const char *s, size_t n, uint16_t *out, struct fc_diag *d)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return fc_diag_set(d, FC_EPROTO, "invalid port");
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fc_diag_set(d, FC_EPROTO, "invalid port");
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return fc_diag_set(d, FC_EPROTO, "port out of range");
	*out = (uint16_t)v;
	return 0;
}

/* A bracketed IPv6 literal's inside (no zone ids: they are local). */
static int parse_ip6(const char *s, size_t n, char *host, struct fc_diag *d)
{
	struct in6_addr a;

	if (n == 0 || n >= INET6_ADDRSTRLEN)
		return fc_diag_set(d, FC_EPROTO, "invalid IPv6 literal");
	for (size_t i = 0; i < n; i++)
		host[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
	host[n] = '\0';
	if (inet_pton(AF_INET6, host, &a) != 1)
		return fc_diag_set(d, FC_EPROTO, "invalid IPv6 literal");
	return 0;
}

/* A host name or IPv4 address: letters, digits, '-', '_', dot-separated
 * non-empty labels, at most 253 bytes. Lower-cased into host. */
static int parse_regname(const char *s, size_t n, char *host, struct fc_diag *d)
{
	if (n == 0)
		return fc_diag_set(d, FC_EPROTO, "empty host");
	if (n > 253)
		return fc_diag_set(d, FC_EPROTO, "host name too long");
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '@')
			return fc_diag_set(d, FC_EPROTO, "userinfo not allowed in authority");
		if (c == '.' && (i == 0 || i + 1 == n || s[i - 1] == '.'))
			return fc_diag_set(d, FC_EPROTO, "empty label in host");
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return fc_diag_set(d, FC_EPROTO, "invalid character in host");
		host[i] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
	}
	host[n] = '\0';
	return 0;
}

int fc_http_parse_authority(const char *s, size_t n, struct fc_http_authority *a,
			    struct fc_diag *d)
{
	const char *port = NULL;
	size_t pn = 0;
	int rc;

	memset(a, 0, sizeof(*a));
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return fc_diag_set(d, FC_EPROTO, "unterminated IPv6 literal");
		rc = parse_ip6(s + 1, (size_t)(close - s - 1), a->host, d);
		if (rc < 0)
			return rc;
		a->ip6 = true;
		if (close + 1 < s + n) {
			if (close[1] != ':')
				return fc_diag_set(d, FC_EPROTO, "junk after IPv6 literal");
			port = close + 2;
			pn = (size_t)(s + n - port);
		}
	} else {
		const char *colon = memchr(s, ':', n);
		size_t hn = colon ? (size_t)(colon - s) : n;

		rc = parse_regname(s, hn, a->host, d);
		if (rc < 0)
			return rc;
		if (colon) {
			port = colon + 1;
			pn = n - hn - 1;
		}
	}
	if (port) {
		rc = parse_port(port, pn, &a->port, d);
		if (rc < 0)
			return rc;
		a->has_port = true;
	}
	return 0;
}

/*
 * Path and query bytes: visible ASCII without '#' (fragments are never
 * sent), and every '%' starting a two-hex-digit escape.
 */
int fc_http_check_uri_chars(const char *s, size_t n, struct fc_diag *d)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f)
			return fc_diag_set(d, FC_EPROTO, "invalid byte 0x%02x in request target",
					   c);
		if (c == '#')
			return fc_diag_set(d, FC_EPROTO, "fragment in request target");
		if (c == '%' && (i + 2 >= n || !isxdigit_ascii(s[i + 1]) ||
				 !isxdigit_ascii(s[i + 2])))
			return fc_diag_set(d, FC_EPROTO, "bad percent-escape in request target");
	}
	return 0;
}
