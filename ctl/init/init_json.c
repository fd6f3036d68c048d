/*
 * init_json: the one JSON line forkcell-init writes to the status FIFO,
 * built by hand into a fixed buffer (no JSON library in a static binary).
 * The line always fits INIT_STATUS_MAX (what the host reads): the skipped
 * paths are listed only while they fit in half of it, the rest are counted.
 */
#include "init.h"

#include <stdio.h>
#include <string.h>

/* Room kept for the closing fields after the skipped list. */
#define INIT_JSON_TAIL 256

int init_errf(struct init_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static void put(struct init_json *j, const char *s, size_t n)
{
	/* Keep one byte for the final newline. */
	if (j->full || j->len + n + 1 >= sizeof(j->buf)) {
		j->full = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

void init_json_raw(struct init_json *j, const char *s)
{
	put(j, s, strlen(s));
}

void init_json_fmt(struct init_json *j, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		j->full = true;
		return;
	}
	put(j, tmp, (size_t)n);
}

void init_json_str(struct init_json *j, const char *s)
{
	put(j, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];

		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(j, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			put(j, esc, 6);
		} else {
			put(j, (const char *)p, 1);
		}
	}
	put(j, "\"", 1);
}

static void json_landlock(struct init_json *j, const struct init_landlock *ll)
{
	size_t listed = 0;

	init_json_fmt(j, "\"landlock\":{\"abi\":%d,\"status\":", ll->abi);
	init_json_str(j, ll->status);
	init_json_fmt(j, ",\"ro\":%u,\"rw\":%u,\"implicit\":%u,\"skipped\":[", ll->n_ro,
		      ll->n_rw, ll->n_implicit);
	for (size_t i = 0; i < ll->n_skipped; i++) {
		/* A JSON string is at most 6 bytes per input byte, plus quotes and comma. */
		if (j->len + 6 * strlen(ll->skipped[i]) + 3 > sizeof(j->buf) - INIT_JSON_TAIL)
			break;
		if (listed++)
			init_json_raw(j, ",");
		init_json_str(j, ll->skipped[i]);
	}
	init_json_fmt(j, "],\"skipped_more\":%zu,\"scoped\":%s}",
		      ll->n_skipped - listed + ll->n_skipped_more, ll->scoped ? "true" : "false");
}

void init_json_status(struct init_json *j, const struct init_landlock *ll,
		      const struct init_report *r)
{
	j->len = 0;
	j->full = false;
	init_json_raw(j, "{\"init\":1,");
	json_landlock(j, ll);
	init_json_raw(j, ",\"seccomp\":");
	init_json_str(j, r->seccomp);
	init_json_fmt(j, ",\"uid\":%lu,\"gid\":%lu,\"no_new_privs\":%s,\"caps\":\"%s\"}", r->uid,
		      r->gid, r->no_new_privs ? "true" : "false",
		      r->caps_dropped ? "dropped" : "kept");
	/* put() always leaves room for this newline. */
	j->buf[j->len++] = '\n';
	j->buf[j->len] = '\0';
}

void init_json_error(struct init_json *j, const char *msg)
{
	/* Even if every byte needs \u00XX, the line still fits. */
	char cut[128];

	snprintf(cut, sizeof(cut), "%s", msg);
	j->len = 0;
	j->full = false;
	init_json_raw(j, "{\"init\":1,\"error\":");
	init_json_str(j, cut);
	init_json_raw(j, "}");
	j->buf[j->len++] = '\n';
	j->buf[j->len] = '\0';
}
