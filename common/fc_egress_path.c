/*
 * fc_egress_path: the canonical form of request paths and the matching of
 * query parameters for L7 rules.
 *
 * Path rules are only as good as the agreement between what the proxy
 * matches and what the server finally serves. Servers decode escapes,
 * resolve dot-segments, merge slashes and drop ";params" (Tomcat's
 * "/..;/admin"), so the proxy does all of that before matching, and refuses
 * what it cannot decide safely: an encoded '/' (a server may or may not
 * split on it), a backslash (IIS turns it into '/'), encoded control
 * characters, and '..' above the root. Escapes of characters outside the
 * unreserved set stay encoded (upper-cased) so that decoding can never
 * create a new segment or a new dot-segment.
 */
#include "fc_egress.h"

#include <string.h>

#include "fc_egress_int.h"
#include "fc_glob.h"
#include "fc_hash.h"

static bool is_unreserved(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

struct cbuf {
	char *p;
	size_t len, size;
	bool full;
};

static void cb_put(struct cbuf *b, char c)
{
	if (b->len + 1 >= b->size) {
		b->full = true;
		return;
	}
	b->p[b->len++] = c;
}

/*
 * Append one raw segment [s, e) to b as "/" + its canonical bytes, then
 * undo it when it is empty or '.', or pop the previous one for '..'.
 * Returns 0, or FC_EPOLICY with *why.
 */
static int put_segment(struct cbuf *b, const char *s, const char *e, bool allow_slash,
		       const char **why)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = b->len, n;

	cb_put(b, '/');
	for (const char *p = s; p < e && *p != ';'; p++) {
		unsigned c = (unsigned char)*p;
		int hi, lo;

		if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#' || c == '?') {
			*why = c == '\\' ? "backslash in path" : "invalid character in path";
			return FC_EPOLICY;
		}
		if (c != '%') {
			cb_put(b, (char)c);
			continue;
		}
		hi = p + 2 < e ? fc_hex_digit(p[1]) : -1;
		lo = hi >= 0 ? fc_hex_digit(p[2]) : -1;
		if (lo < 0) {
			*why = "bad percent-escape in path";
			return FC_EPOLICY;
		}
		c = (unsigned)(hi * 16 + lo);
		p += 2;
		if (c < 0x20 || c == 0x7f) {
			*why = "encoded control character in path";
			return FC_EPOLICY;
		}
		if (c == '/' && !allow_slash) {
			*why = "encoded slash in path";
			return FC_EPOLICY;
		}
		if (is_unreserved(c)) {
			cb_put(b, (char)c);
			continue;
		}
		cb_put(b, '%');
		cb_put(b, hex[c >> 4]);
		cb_put(b, hex[c & 15]);
	}
	if (b->full) {
		*why = "path too long";
		return FC_ELIMIT;
	}
	n = b->len - start - 1;
	if (n == 0 || (n == 1 && b->p[start + 1] == '.')) {
		b->len = start;
	} else if (n == 2 && b->p[start + 1] == '.' && b->p[start + 2] == '.') {
		b->len = start;
		if (start == 0) {
			*why = "path escapes the root";
			return FC_EPOLICY;
		}
		while (b->len > 0 && b->p[b->len - 1] != '/')
			b->len--;
		b->len--; /* the '/' of the popped segment */
	}
	return 0;
}

int fc_egress_canon_path(const char *raw, bool allow_encoded_slash, char *out, size_t size,
			 const char **why)
{
	struct cbuf b = { .p = out, .size = size };
	const char *s = raw, *e;
	bool trailing = false;
	int rc;

	if (!raw || raw[0] != '/') {
		*why = "path does not start with '/'";
		return FC_EPOLICY;
	}
	if (size < 2) {
		*why = "path too long";
		return FC_ELIMIT;
	}
	for (s = raw + 1;; s = e + 1) {
		size_t n;

		e = strchr(s, '/');
		if (!e)
			e = s + strlen(s);
		n = (size_t)(e - s);
		/* a final '', '.' or '..' leaves the result ending in '/' (RFC 3986 5.2.4) */
		trailing = n == 0 || (n == 1 && s[0] == '.') ||
			   (n == 2 && s[0] == '.' && s[1] == '.');
		rc = put_segment(&b, s, e, allow_encoded_slash, why);
		if (rc < 0)
			return rc;
		if (!*e)
			break;
	}
	if (b.len == 0 || trailing)
		cb_put(&b, '/');
	if (b.full) {
		*why = "path too long";
		return FC_ELIMIT;
	}
	out[b.len] = '\0';
	return 0;
}

/*
 * Decode the query component [s, e) ('+' is a space, %XX a byte) into out
 * (size bytes, NUL-terminated). false when it does not fit or holds NUL.
 */
static bool qdecode(const char *s, const char *e, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = s; p < e; p++) {
		int c = (unsigned char)*p;

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = p + 2 < e ? fc_hex_digit(p[1]) : -1;
			int lo = hi >= 0 ? fc_hex_digit(p[2]) : -1;

			if (lo < 0)
				return false;
			c = hi * 16 + lo;
			p += 2;
		}
		if (c == 0 || n + 1 >= size)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return true;
}

static bool value_matches(const struct fc_pol_query *q, const char *v)
{
	for (size_t i = 0; i < q->nglobs; i++)
		if (fc_glob_match_value(q->globs[i], v))
			return true;
	return false;
}

/* One matcher against the whole query: 1 match, 0 no match, -1 undecidable. */
static int matcher_match(const struct fc_pol_query *q, const char *query)
{
	char key[256], val[FC_GLOB_MAX + 1];
	bool seen = false, undecidable = false;
	const char *s = query;

	while (s && *s) {
		const char *amp = strchr(s, '&');
		const char *end = amp ? amp : s + strlen(s);
		const char *eq = memchr(s, '=', (size_t)(end - s));
		const char *kend = eq ? eq : end;

		if (!qdecode(s, kend, key, sizeof(key))) {
			undecidable = true;
		} else if (strcmp(key, q->key) == 0) {
			seen = true;
			if (!qdecode(eq ? eq + 1 : end, end, val, sizeof(val)))
				undecidable = true;
			else if (!value_matches(q, val))
				return 0;
		}
		s = amp ? amp + 1 : NULL;
	}
	if (undecidable)
		return -1;
	return seen;
}

bool fc_egress_query_match(const struct fc_pol_rule *r, const char *query, bool fail_closed)
{
	for (size_t i = 0; i < r->nquery; i++) {
		int m = matcher_match(&r->query[i], query);

		if (m < 0 && !fail_closed)
			return false;
		if (m == 0)
			return false;
	}
	return true;
}
