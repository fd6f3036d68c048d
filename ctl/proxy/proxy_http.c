/*
 * proxy_http: one request/response exchange of an allowed request.
 *
 * The request head goes upstream rebuilt by fc_http (origin-form target,
 * hop-by-hop fields removed); its body follows byte for byte, framed by
 * fc_http_body so that the proxy knows where it ends and never forwards a
 * byte of the next request before that request is decided. The response
 * is relayed as the upstream sent it; its head is parsed only to learn the
 * framing (1xx interim answers pass through), so the client connection can
 * stay open for the next request. One exchange at a time per connection:
 * pipelined requests wait in the client's input buffer.
 *
 * Backpressure: when one side's output holds PROXY_HIGH_WATER bytes the
 * other side stops reading until it drains to half.
 */
#include "proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FEED_MAX (64 * 1024)

static void cli_drained(struct bufferevent *bev, void *arg);
static void up_drained(struct bufferevent *bev, void *arg);

/* Replace only the write callback of bev. */
static void set_writecb(struct bufferevent *bev, bufferevent_data_cb wcb, void *arg)
{
	bufferevent_data_cb rcb;
	bufferevent_event_cb ecb;

	bufferevent_getcb(bev, &rcb, NULL, &ecb, NULL);
	bufferevent_setcb(bev, rcb, wcb, ecb, arg);
}

/* dst's output is full: stop src until dst drains to half. */
static void throttle(struct bufferevent *src, struct bufferevent *dst,
		     bufferevent_data_cb drained, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(dst)) < PROXY_HIGH_WATER)
		return;
	bufferevent_disable(src, EV_READ);
	bufferevent_setwatermark(dst, EV_WRITE, PROXY_HIGH_WATER / 2, 0);
	set_writecb(dst, drained, arg);
}

static void cli_drained(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	set_writecb(bev, NULL, c);
	if (c->up)
		bufferevent_enable(c->up, EV_READ);
}

static void up_drained(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	set_writecb(bev, NULL, c);
	bufferevent_enable(c->cli, EV_READ);
}

static bool body_empty(const struct fc_http_body *b)
{
	return b->done || b->kind == FC_HTTP_BODY_NONE ||
	       (b->kind == FC_HTTP_BODY_LENGTH && b->remaining == 0);
}

/* Move the request body from the client to upstream, as far as it goes. */
static int feed_req_body(struct proxy_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->cli);
	struct fc_diag d;

	fc_diag_init(&d);
	while (!c->req_done && evbuffer_get_length(in) > 0) {
		size_t n = evbuffer_get_length(in), used = 0;
		const char *data;
		int rc;

		if (n > FEED_MAX)
			n = FEED_MAX;
		data = (const char *)evbuffer_pullup(in, (ssize_t)n);
		rc = fc_http_body_feed(&c->req_body, data, n, &used, &d);
		if (rc < 0) {
			proxy_reply_bad_request(c, 400, d.msg[0] ? d.msg : "bad request body");
			return rc;
		}
		evbuffer_remove_buffer(in, bufferevent_get_output(c->up), used);
		c->bytes_up += used;
		if (body_empty(&c->req_body))
			c->req_done = true;
	}
	if (!c->req_done)
		throttle(c->cli, c->up, up_drained, c);
	return 0;
}

void proxy_http_send(struct proxy_conn *c)
{
	evbuffer_add(bufferevent_get_output(c->up), c->up_head, c->up_head_len);
	c->bytes_up += c->up_head_len;
	free(c->up_head);
	c->up_head = NULL;
	c->up_head_len = 0;
	c->req_done = body_empty(&c->req_body);
	if (feed_req_body(c) < 0)
		return;
	bufferevent_enable(c->cli, EV_READ | EV_WRITE);
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(c->up)) > 0)
		proxy_http_up_read(c->up, c);
}

void proxy_http_cli_read(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	/* Bytes after the body are the next request: they wait. */
	if (c->up && c->up_state == PROXY_UP_OPEN && !c->req_done)
		feed_req_body(c);
}

/* The response is complete: keep or drop the connections, go on. */
static void exchange_done(struct proxy_conn *c)
{
	bool keep_cli = c->req_done && c->req->keep_alive && !c->resp_close;

	if (c->resp_close || !c->req_done)
		proxy_conn_drop_up(c);
	if (!keep_cli) {
		proxy_conn_close_after_flush(c);
		return;
	}
	proxy_conn_clear_exchange(c);
	proxy_conn_process(c);
}

/* Parse and relay one response head; false when more bytes are needed or
 * the connection was answered/closed (*gone). */
static bool relay_head(struct proxy_conn *c, bool *gone)
{
	struct evbuffer *in = bufferevent_get_input(c->up);
	struct fc_http_resp *resp = NULL;
	size_t n = evbuffer_get_length(in), hl = 0;
	const char *data;
	struct fc_diag d;
	int rc;

	if (n > FC_HTTP_MAX_HEAD)
		n = FC_HTTP_MAX_HEAD;
	data = (const char *)evbuffer_pullup(in, (ssize_t)n);
	fc_diag_init(&d);
	rc = fc_http_head_len(data, n, &hl, &d);
	if (rc == -EAGAIN)
		return false;
	if (rc == 0)
		rc = fc_http_parse_response(data, hl, &resp, &d);
	if (rc < 0) {
		*gone = true;
		proxy_conn_drop_up(c);
		if (c->resp_status == 0)
			proxy_reply_unreachable(c, "the upstream sent a malformed response");
		else
			proxy_conn_close_after_flush(c);
		return false;
	}
	evbuffer_remove_buffer(in, bufferevent_get_output(c->cli), hl);
	c->bytes_down += hl;
	c->resp_status = resp->status;
	if (resp->status >= 100 && resp->status < 200 && resp->status != 101) {
		fc_http_resp_free(resp);
		return true; /* an interim answer: the final one follows */
	}
	proxy_event_http_done(c, resp->status);
	fc_http_body_for_response(&c->resp_body, resp, c->method);
	c->resp_close = !resp->keep_alive || c->resp_body.kind == FC_HTTP_BODY_EOF ||
			resp->status == 101;
	c->resp_head_seen = true;
	c->resp_done = body_empty(&c->resp_body);
	fc_http_resp_free(resp);
	return true;
}

/* Relay response body bytes; false when more are needed or *gone. */
static bool relay_body(struct proxy_conn *c, bool *gone)
{
	struct evbuffer *in = bufferevent_get_input(c->up);
	size_t n = evbuffer_get_length(in), used = 0;
	const char *data;
	struct fc_diag d;

	if (n == 0)
		return false;
	if (n > FEED_MAX)
		n = FEED_MAX;
	data = (const char *)evbuffer_pullup(in, (ssize_t)n);
	fc_diag_init(&d);
	if (fc_http_body_feed(&c->resp_body, data, n, &used, &d) < 0) {
		*gone = true;
		proxy_conn_drop_up(c);
		proxy_conn_close_after_flush(c);
		return false;
	}
	evbuffer_remove_buffer(in, bufferevent_get_output(c->cli), used);
	c->bytes_down += used;
	c->resp_done = body_empty(&c->resp_body);
	return true;
}

void proxy_http_up_read(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;
	bool gone = false;

	if (!c->req) {
		/* Nothing was asked: an idle upstream must not talk. */
		proxy_conn_drop_up(c);
		return;
	}
	while (!c->resp_done) {
		bool more = c->resp_head_seen ? relay_body(c, &gone) : relay_head(c, &gone);

		if (gone)
			return;
		if (!more)
			break;
	}
	if (c->resp_done) {
		exchange_done(c);
		return;
	}
	throttle(c->up, c->cli, cli_drained, c);
}

void proxy_http_up_eof(struct proxy_conn *c, bool error)
{
	if (!c->req) {
		proxy_conn_drop_up(c); /* an idle keep-alive connection went away */
		return;
	}
	/* Whatever arrived with the EOF first. */
	proxy_http_up_read(c->up, c);
	if (!c->req || c->closing || !c->up)
		return;
	proxy_conn_drop_up(c);
	if (c->resp_status == 0)
		proxy_reply_unreachable(c, error ? "upstream connection failed"
						 : "upstream closed the connection");
	else
		proxy_conn_close_after_flush(c); /* EOF-framed or truncated: end it */
}
