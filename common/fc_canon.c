/*
 * fc_canon: canonical JSON emitter over a cJSON tree (rules in fc_canon.h).
 * cJSON_PrintUnformatted keeps insertion order and prints doubles, so it
 * cannot serve hashing; this walks the tree itself.
 */
#include "fc_canon.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct canon_buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void cb_put(struct canon_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

int fc_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = u[i];
		size_t n;
		uint32_t cp;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + n >= len)
			return 0; /* truncated sequence */
		for (size_t k = 1; k <= n; k++) {
			if ((u[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (u[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

static int emit_string(struct canon_buf *b, const char *s, struct fc_diag *d)
{
	size_t len = strlen(s);
	size_t start = 0;

	if (!fc_utf8_valid(s, len))
		return fc_diag_set(d, FC_ECORRUPT, "string is not valid UTF-8");
	cb_put(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		const char *e = NULL;

		if (c == '"')
			e = "\\\"";
		else if (c == '\\')
			e = "\\\\";
		else if (c == '\b')
			e = "\\b";
		else if (c == '\f')
			e = "\\f";
		else if (c == '\n')
			e = "\\n";
		else if (c == '\r')
			e = "\\r";
		else if (c == '\t')
			e = "\\t";
		else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			e = esc;
		}
		if (!e)
			continue;
		cb_put(b, s + start, i - start);
		cb_put(b, e, strlen(e));
		start = i + 1;
	}
	cb_put(b, s + start, len - start);
	cb_put(b, "\"", 1);
	return 0;
}

static int cmp_keys(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a;
	const cJSON *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

static int emit(struct canon_buf *b, const cJSON *it, int depth, struct fc_diag *d);

static int emit_object(struct canon_buf *b, const cJSON *obj, int depth, struct fc_diag *d)
{
	size_t n = 0, i;
	const cJSON *c;
	const cJSON **kids;
	int rc = 0;

	for (c = obj->child; c; c = c->next)
		n++;
	kids = calloc(n ? n : 1, sizeof(*kids));
	if (!kids)
		return -ENOMEM;
	i = 0;
	for (c = obj->child; c; c = c->next) {
		if (!c->string) {
			rc = fc_diag_set(d, FC_ECORRUPT, "object member without a key");
			goto out;
		}
		kids[i++] = c;
	}
	qsort(kids, n, sizeof(*kids), cmp_keys);
	cb_put(b, "{", 1);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(kids[i - 1]->string, kids[i]->string) == 0) {
			rc = fc_diag_set(d, FC_ECORRUPT, "duplicate key '%s'", kids[i]->string);
			goto out;
		}
		if (i)
			cb_put(b, ",", 1);
		rc = emit_string(b, kids[i]->string, d);
		if (rc < 0)
			goto out;
		cb_put(b, ":", 1);
		rc = emit(b, kids[i], depth + 1, d);
		if (rc < 0)
			goto out;
	}
	cb_put(b, "}", 1);
out:
	free(kids);
	return rc;
}

static int emit_number(struct canon_buf *b, const cJSON *it, struct fc_diag *d)
{
	double v = it->valuedouble;
	char num[32];

	if (!isfinite(v) || v != floor(v) || fabs(v) > 9007199254740992.0)
		return fc_diag_set(d, FC_ECORRUPT, "number %g is not an integer within 2^53", v);
	snprintf(num, sizeof(num), "%lld", (long long)v);
	cb_put(b, num, strlen(num));
	return 0;
}

static int emit(struct canon_buf *b, const cJSON *it, int depth, struct fc_diag *d)
{
	const cJSON *c;
	int rc;

	if (depth > FC_CANON_MAX_DEPTH)
		return fc_diag_set(d, FC_ECORRUPT, "nesting deeper than %d", FC_CANON_MAX_DEPTH);
	switch (it->type & 0xff) {
	case cJSON_NULL:
		cb_put(b, "null", 4);
		return 0;
	case cJSON_False:
		cb_put(b, "false", 5);
		return 0;
	case cJSON_True:
		cb_put(b, "true", 4);
		return 0;
	case cJSON_Number:
		return emit_number(b, it, d);
	case cJSON_String:
		return emit_string(b, it->valuestring ? it->valuestring : "", d);
	case cJSON_Array:
		cb_put(b, "[", 1);
		for (c = it->child; c; c = c->next) {
			if (c != it->child)
				cb_put(b, ",", 1);
			rc = emit(b, c, depth + 1, d);
			if (rc < 0)
				return rc;
		}
		cb_put(b, "]", 1);
		return 0;
	case cJSON_Object:
		return emit_object(b, it, depth, d);
	default:
		return fc_diag_set(d, FC_ECORRUPT, "unsupported JSON value type");
	}
}

int fc_canon_json(const cJSON *item, char **out, size_t *len, struct fc_diag *d)
{
	struct canon_buf b = { 0 };
	int rc;

	if (!item)
		return fc_diag_set(d, FC_ECORRUPT, "no JSON value");
	rc = emit(&b, item, 0, d);
	if (rc == 0 && b.oom)
		rc = -ENOMEM;
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	if (!b.p) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

int fc_json_line(const cJSON *item, size_t max, char **line, size_t *len)
{
	char *s = cJSON_PrintUnformatted(item);
	size_t n;
	char *r;

	if (!s)
		return -ENOMEM;
	n = strlen(s);
	if (n + 1 > max) {
		cJSON_free(s);
		return FC_EPROTO;
	}
	r = malloc(n + 2);
	if (!r) {
		cJSON_free(s);
		return -ENOMEM;
	}
	memcpy(r, s, n);
	r[n] = '\n';
	r[n + 1] = '\0';
	cJSON_free(s);
	*line = r;
	*len = n + 1;
	return 0;
}
