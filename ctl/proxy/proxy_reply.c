/*
 * proxy_reply: the answers the proxy gives instead of the upstream's.
 *
 * OpenShell's shapes: 403 {"error":"policy_denied", ...} for a refused
 * connection or request (L7 denials carry policy, rule, detail, layer,
 * protocol, method, path, host, port, binary), 403 {"error":"ssrf_denied"}
 * when the address check refuses what DNS returned, 502
 * {"error":"upstream_unreachable"} when the upstream cannot be reached,
 * and 400 {"error":"bad_request"} for a request the strict parser refuses.
 * Every answer closes the connection once flushed: after a refusal the
 * rest of the client's stream cannot be trusted to be framed as it claims.
 */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	default:
		return "Error";
	}
}

/* Queue status + the JSON body (consumed) and close after the flush. */
static void send_json(struct proxy_conn *c, int status, cJSON *body)
{
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	const char *t = text ? text : "{\"error\":\"internal\"}";
	struct evbuffer *out = bufferevent_get_output(c->cli);

	/* A request we answer ourselves (a policy denial, our 502, an SSRF
	 * refusal after DNS) has this answer as its outcome. */
	proxy_event_http_done(c, status);
	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
			    status, status_text(status), strlen(t) + 1, t);
	if (text)
		cJSON_free(text);
	cJSON_Delete(body);
	proxy_conn_close_after_flush(c);
}

static void add_target(cJSON *o, const struct proxy_conn *c)
{
	if (c->host[0])
		cJSON_AddStringToObject(o, "host", c->host);
	if (c->port)
		cJSON_AddNumberToObject(o, "port", c->port);
	if (c->peer.exe)
		cJSON_AddStringToObject(o, "binary", c->peer.exe);
	else
		cJSON_AddNullToObject(o, "binary");
}

void proxy_reply_bad_request(struct proxy_conn *c, int status, const char *detail)
{
	cJSON *o = cJSON_CreateObject();

	c->px->bad_requests++;
	if (o) {
		cJSON_AddStringToObject(o, "error", "bad_request");
		cJSON_AddStringToObject(o, "detail", detail);
	}
	send_json(c, status, o);
}

void proxy_reply_conn_denied(struct proxy_conn *c, bool is_connect)
{
	cJSON *o = cJSON_CreateObject();
	char detail[FC_HTTP_MAX_HOST + 64];

	if (o) {
		snprintf(detail, sizeof(detail), "%s%s:%u not permitted by policy",
			 is_connect ? "CONNECT " : "", c->host, (unsigned)c->port);
		cJSON_AddStringToObject(o, "error", "policy_denied");
		cJSON_AddStringToObject(o, "detail", detail);
		cJSON_AddStringToObject(o, "reason", c->ec.reason);
		cJSON_AddStringToObject(o, "policy", c->ec.net ? c->ec.net->key : "-");
		cJSON_AddStringToObject(o, "layer", "l4");
		add_target(o, c);
	}
	send_json(c, 403, o);
}

void proxy_reply_req_denied(struct proxy_conn *c, const struct fc_egress_req *r,
			    const char *path)
{
	cJSON *o = cJSON_CreateObject();
	char rule[512];

	if (o) {
		cJSON_AddStringToObject(o, "error", "policy_denied");
		cJSON_AddStringToObject(o, "policy", r->net ? r->net->key : "-");
		if (r->rule) {
			snprintf(rule, sizeof(rule), "%s%s %s", r->by_deny_rule ? "deny " : "",
				 r->rule->method, r->rule->path);
			cJSON_AddStringToObject(o, "rule", rule);
		} else {
			cJSON_AddNullToObject(o, "rule");
		}
		cJSON_AddStringToObject(o, "detail", r->reason);
		cJSON_AddStringToObject(o, "layer", "l7");
		cJSON_AddStringToObject(o, "protocol", c->cli_tls ? "https" : "http");
		cJSON_AddStringToObject(o, "method", c->method);
		cJSON_AddStringToObject(o, "path", path);
		add_target(o, c);
	}
	send_json(c, 403, o);
}

void proxy_reply_ssrf(struct proxy_conn *c, const char *why)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddStringToObject(o, "error", "ssrf_denied");
		cJSON_AddStringToObject(o, "detail", why);
		add_target(o, c);
	}
	send_json(c, 403, o);
}

void proxy_reply_unreachable(struct proxy_conn *c, const char *detail)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddStringToObject(o, "error", "upstream_unreachable");
		cJSON_AddStringToObject(o, "detail", detail);
		add_target(o, c);
	}
	send_json(c, 502, o);
}
