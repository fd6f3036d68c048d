/*
 * fc_http_int.h: what the files of the fc_http module share (the lexical
 * layer in fc_http.c, messages in fc_http_msg.c, body framing in
 * fc_http_body.c). Not for use outside the module.
 */
#ifndef FC_HTTP_INT_H
#define FC_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fc_err.h"
#include "fc_http.h"

/* Facts collected from the header fields that frame or route a message. */
struct fc_http_framing {
	int64_t content_length; /* -1: absent */
	bool te_seen;           /* Transfer-Encoding: chunked */
	bool conn_close;        /* Connection/Proxy-Connection lists "close" */
	bool conn_keep;         /* ... lists "keep-alive" */
	bool expect_continue;
	const char *host;       /* the Host field's value, NULL if absent */
};

/* "host[:port]" split and validated; host lower case, IPv6 unbracketed. */
struct fc_http_authority {
	char host[FC_HTTP_MAX_HOST + 1];
	bool ip6;
	bool has_port;
	uint16_t port;
};

static inline bool isxdigit_ascii(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Does the comma-separated list contain token (case-insensitive)? */
bool fc_http_list_has(const char *list, const char *token);

int fc_http_parse_fields(char *head, size_t *pos, struct fc_http_header *hs, size_t max,
			 size_t *nout, struct fc_http_framing *f, int version_minor,
			 struct fc_diag *d);
int fc_http_parse_version(const char *s, size_t n, int *minor, struct fc_diag *d);
int fc_http_parse_authority(const char *s, size_t n, struct fc_http_authority *a,
			    struct fc_diag *d);
int fc_http_check_uri_chars(const char *s, size_t n, struct fc_diag *d);

#endif
