/*
 * proxy_conn: one client connection from the sandbox, from accept to close.
 *
 * A connection starts in FORWARD mode: each request head is read whole
 * (up to FC_HTTP_MAX_HEAD), parsed strictly (fc_http) and decided
 * (fc_egress): an absolute-form request is forwarded (proxy_http.c), a
 * CONNECT opens a tunnel. A CONNECT to an endpoint that needs L7
 * inspection (protocol rest without tls: skip) switches to INNER mode:
 * "200 Connection established" comes at once, a client that then speaks
 * TLS is terminated with a leaf of the store's CA (plain HTTP is read as
 * is), and each request inside is decided like a forwarded one, path and
 * method included; upstream is connected for the first allowed request.
 * Any other CONNECT (L4, or tls: skip) is a TUNNEL, answered once upstream
 * is connected: bytes are spliced both ways with backpressure.
 *
 * Closing: an answer of ours is flushed, the write side is shut down and
 * the client's remaining input is drained for a moment, so that its
 * unread bytes do not turn our answer into a connection reset.
 */
#include "proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>

#include "fc_log.h"

#define CLI_IDLE_SEC 120
#define CLOSE_DRAIN_SEC 2
#define TUN_HALF_CLOSED_SEC 300
#define CLOSE_TICK_USEC (10 * 1000)
#define CLOSE_TICK_MAX 500 /* 5 s for a TLS answer to leave */

static void cli_event(struct bufferevent *bev, short what, void *arg);
static void cli_read(struct bufferevent *bev, void *arg);

static void unlink_conn(struct proxy_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (c->px->conns == c)
		c->px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

void proxy_conn_drop_up(struct proxy_conn *c)
{
	if (c->dns_req) {
		proxy_dns_cancel(c->dns_req);
		c->dns_req = NULL;
	}
	if (c->up) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	c->up_state = PROXY_UP_NONE;
}

void proxy_conn_clear_exchange(struct proxy_conn *c)
{
	proxy_event_http_done(c, 0); /* the exchange ended without a response */
	fc_http_req_free(c->req);
	c->req = NULL;
	free(c->up_head);
	c->up_head = NULL;
	c->up_head_len = 0;
	c->req_done = c->resp_head_seen = c->resp_done = c->resp_close = false;
	c->resp_status = 0;
}

void proxy_conn_free(struct proxy_conn *c)
{
	if (!c)
		return;
	unlink_conn(c);
	proxy_conn_drop_up(c);
	proxy_conn_clear_exchange(c);
	if (c->close_timer)
		event_free(c->close_timer);
	if (c->cli)
		bufferevent_free(c->cli);
	fc_egress_conn_clear(&c->ec);
	proxy_peer_release(&c->peer);
	free(c);
}

/* ---- closing ---------------------------------------------------------- */

static void drain_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void closing_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_conn *c = arg;

	/* A TLS client is freed by tls_close_tick until its bytes are out. */
	if (c->cli_tls && c->close_stage < 2)
		return;
	proxy_conn_free(c);
}

/* Half-close the client's socket and drain what it still sends. */
static void shut_and_drain(struct proxy_conn *c, int fd)
{
	struct timeval tv = { CLOSE_DRAIN_SEC, 0 };

	shutdown(fd, SHUT_WR);
	bufferevent_set_timeouts(c->cli, &tv, &tv);
	bufferevent_enable(c->cli, EV_READ);
}

/*
 * Closing a TLS client: the filter's output is empty once SSL has the
 * bytes, but they still sit in the socket's bufferevent below, which the
 * filter owns. Poll it: when empty, queue close_notify; when that is out
 * too, half-close and drain. Freeing earlier would drop the answer.
 */
static void tls_close_tick(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_conn *c = arg;
	struct bufferevent *under = bufferevent_get_underlying(c->cli);
	struct timeval tick = { 0, CLOSE_TICK_USEC };

	if (under && evbuffer_get_length(bufferevent_get_output(under)) > 0) {
		if (++c->close_ticks > CLOSE_TICK_MAX) {
			proxy_conn_free(c);
			return;
		}
		evtimer_add(c->close_timer, &tick);
		return;
	}
	if (c->close_stage == 0) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->cli);

		c->close_stage = 1;
		if (ssl && SSL_shutdown(ssl) >= 0 && under) {
			evtimer_add(c->close_timer, &tick);
			return;
		}
	}
	c->close_stage = 2;
	if (!under) {
		proxy_conn_free(c);
		return;
	}
	shut_and_drain(c, bufferevent_getfd(under));
}

static void cli_flushed(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	bufferevent_setcb(bev, drain_read, NULL, closing_event, c);
	if (!c->cli_tls) {
		shut_and_drain(c, bufferevent_getfd(bev));
		return;
	}
	c->close_timer = evtimer_new(c->px->base, tls_close_tick, c);
	if (!c->close_timer) {
		proxy_conn_free(c);
		return;
	}
	bufferevent_enable(bev, EV_READ);
	tls_close_tick(-1, EV_TIMEOUT, c);
}

void proxy_conn_close_after_flush(struct proxy_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	proxy_conn_drop_up(c);
	bufferevent_setcb(c->cli, drain_read, cli_flushed, closing_event, c);
	bufferevent_setwatermark(c->cli, EV_WRITE, 0, 0);
	bufferevent_enable(c->cli, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(c->cli)) == 0)
		cli_flushed(c->cli, c);
}

/* ---- tunnel ----------------------------------------------------------- */

static void tun_read(struct bufferevent *bev, void *arg);
static void tun_event(struct bufferevent *bev, short what, void *arg);

static void tun_drained(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;
	struct bufferevent *src = bev == c->cli ? c->up : c->cli;

	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setcb(bev, tun_read, NULL, tun_event, c);
	if (src)
		bufferevent_enable(src, EV_READ);
}

static void tun_read(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;
	struct bufferevent *dst = bev == c->cli ? c->up : c->cli;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);

	if (!dst)
		return;
	if (bev == c->cli)
		c->bytes_up += n;
	else
		c->bytes_down += n;
	evbuffer_add_buffer(bufferevent_get_output(dst), in);
	if (evbuffer_get_length(bufferevent_get_output(dst)) >= PROXY_HIGH_WATER) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(dst, EV_WRITE, PROXY_HIGH_WATER / 2, 0);
		bufferevent_setcb(dst, tun_read, tun_drained, tun_event, c);
	}
}

/* The client half-closed and upstream has everything: pass the EOF on. */
static void tun_up_flushed(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;
	struct timeval tv = { TUN_HALF_CLOSED_SEC, 0 };

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	bufferevent_setcb(bev, tun_read, NULL, tun_event, c);
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_set_timeouts(bev, &tv, NULL);
}

/* One side of a tunnel ended. Upstream: hand the rest to the client and
 * close. Client EOF: a half-close, passed on once upstream has all the
 * client sent; the answer still flows back until upstream closes. */
static void tun_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_conn *c = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	if (bev == c->up) {
		tun_read(bev, c);
		proxy_conn_close_after_flush(c);
	} else if ((what & BEV_EVENT_EOF) && c->up) {
		bufferevent_disable(c->cli, EV_READ);
		bufferevent_setwatermark(c->up, EV_WRITE, 0, 0);
		bufferevent_setcb(c->up, tun_read, tun_up_flushed, tun_event, c);
		tun_up_flushed(c->up, c);
	} else {
		proxy_conn_free(c);
	}
}

static void start_tunnel(struct proxy_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->cli);

	evbuffer_add_printf(out, "HTTP/1.1 200 Connection established\r\n\r\n");
	bufferevent_setcb(c->cli, tun_read, NULL, tun_event, c);
	bufferevent_setcb(c->up, tun_read, NULL, tun_event, c);
	bufferevent_set_timeouts(c->cli, NULL, NULL);
	bufferevent_set_timeouts(c->up, NULL, NULL);
	bufferevent_enable(c->cli, EV_READ | EV_WRITE);
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(c->cli)) > 0)
		tun_read(c->cli, c);
}

/* ---- inspected CONNECT ---------------------------------------------------- */

/* Wrap the client in TLS with a leaf for c->host; false when c is gone. */
static bool wrap_tls(struct proxy_conn *c)
{
	struct bufferevent *filter, *under = c->cli;
	SSL *ssl = proxy_tls_server(c->px->tls, c->host);

	if (!ssl) {
		proxy_conn_free(c);
		return false;
	}
	filter = bufferevent_openssl_filter_new(c->px->base, under, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!filter) {
		SSL_free(ssl);
		proxy_conn_free(c);
		return false;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	bufferevent_setwatermark(filter, EV_READ, 0, PROXY_HIGH_WATER);
	c->cli = filter;
	c->cli_tls = true;
	bufferevent_setcb(c->cli, cli_read, NULL, cli_event, c);
	bufferevent_enable(c->cli, EV_READ | EV_WRITE);
	/* The ClientHello is already buffered below: run the handshake on it. */
	bufferevent_trigger(under, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
	return true;
}

/*
 * The first bytes inside an inspected CONNECT say what the client speaks:
 * a TLS handshake record is terminated (and upstream gets TLS too),
 * anything else is inspected as plain HTTP (and upstream gets plain HTTP).
 */
static void inner_peek(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char first;

	if (evbuffer_copyout(in, &first, 1) != 1)
		return;
	c->up_tls = first == 0x16;
	if (c->up_tls) {
		wrap_tls(c);
		return;
	}
	bufferevent_setcb(c->cli, cli_read, NULL, cli_event, c);
	proxy_conn_process(c);
}

/* Answer an allowed inspected CONNECT; requests inside are decided one by
 * one and connect upstream only when one is allowed. */
static void start_inner(struct proxy_conn *c)
{
	evbuffer_add_printf(bufferevent_get_output(c->cli),
			    "HTTP/1.1 200 Connection established\r\n\r\n");
	c->mode = PROXY_MODE_INNER;
	bufferevent_setcb(c->cli, inner_peek, NULL, cli_event, c);
	bufferevent_enable(c->cli, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(c->cli)) > 0)
		inner_peek(c->cli, c);
}

void proxy_conn_up_ready(struct proxy_conn *c)
{
	if (c->up_next == PROXY_NEXT_TUNNEL)
		start_tunnel(c);
	else
		proxy_http_send(c);
}

/* ---- decisions ---------------------------------------------------------- */

/* Decide the connection to c->host:c->port; a denial is logged here. */
static bool decide_conn(struct proxy_conn *c)
{
	struct fc_ocsf_event ev;

	fc_egress_conn_clear(&c->ec);
	c->dst_ip[0] = '\0';
	fc_egress_connect(c->px->egress, c->host, c->port, c->exes, c->nexes, &c->ec);
	c->have_decision = true;
	if (c->ec.verdict != FC_EGRESS_DENY)
		return true;
	proxy_event_init(&ev, c);
	ev.decision = FC_OCSF_DENIED;
	ev.activity_id = FC_OCSF_NET_REFUSE;
	ev.reason = c->ec.reason;
	ev.rule = c->ec.net ? c->ec.net->key : NULL;
	ev.engine = fc_egress_engine_name(c->ec.engine);
	ev.layer = "l4";
	proxy_event_net(c->px, &ev, true);
	return false;
}

/* Decide c->req; log it; a denial is answered here. */
static bool decide_request(struct proxy_conn *c)
{
	struct fc_egress_req r;
	struct fc_ocsf_event ev;

	fc_egress_request(c->px->egress, &c->ec, c->req->method, c->req->path, c->req->query,
			  &r);
	proxy_event_init(&ev, c);
	ev.decision = proxy_decision(r.verdict);
	ev.reason = r.verdict == FC_EGRESS_ALLOW ? NULL : r.reason;
	ev.rule = r.net ? r.net->key : NULL;
	ev.engine = fc_egress_engine_name(r.engine);
	ev.layer = c->ec.l7 ? "l7" : "l4";
	ev.method = c->req->method;
	ev.scheme = c->up_tls ? "https" : "http";
	ev.path = r.path[0] ? r.path : c->req->path;
	/* Written with its outcome: the upstream's status, or our own answer
	 * (the 403 below goes through send_json, which records it). */
	proxy_event_http_defer(c, &ev);
	if (r.verdict != FC_EGRESS_DENY)
		return true;
	proxy_reply_req_denied(c, &r, ev.path);
	return false;
}

/* Set the target from a request; true when it changed. */
static bool set_target(struct proxy_conn *c, const char *host, uint16_t port)
{
	if (c->have_decision && c->port == port && strcmp(c->host, host) == 0)
		return false;
	proxy_conn_drop_up(c);
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->have_decision = false;
	return true;
}

static void handle_connect(struct proxy_conn *c)
{
	const char *host = c->req->host;
	uint16_t port = c->req->port;

	set_target(c, host, port);
	proxy_conn_drop_up(c); /* a forward request's upstream is not the tunnel's */
	proxy_conn_clear_exchange(c);
	if (!decide_conn(c)) {
		proxy_reply_conn_denied(c, true);
		return;
	}
	/* tls: skip (l7 without termination) cannot be inspected: a tunnel. */
	if (c->ec.l7 && c->ec.tls_terminate) {
		if (!proxy_tls_can_terminate(c->px->tls)) {
			proxy_reply_unreachable(c, "no TLS termination (no --ca-cert)");
			return;
		}
		start_inner(c);
		return;
	}
	c->up_tls = false;
	c->up_next = PROXY_NEXT_TUNNEL;
	c->mode = PROXY_MODE_TUNNEL;
	bufferevent_disable(c->cli, EV_READ);
	proxy_up_start(c);
}

/* A request head in FORWARD or INNER mode (c->req set). */
static void handle_request(struct proxy_conn *c)
{
	struct fc_http_req *r = c->req;

	if (c->mode == PROXY_MODE_FORWARD) {
		if (strcmp(r->method, "CONNECT") == 0) {
			handle_connect(c);
			return;
		}
		if (r->form != FC_HTTP_ABSOLUTE || !r->host) {
			proxy_reply_bad_request(c, 400, "a proxy request needs an absolute URL");
			return;
		}
		if (set_target(c, r->host, r->port)) {
			c->up_tls = strcmp(r->scheme, "https") == 0;
			if (!decide_conn(c)) {
				proxy_reply_conn_denied(c, false);
				return;
			}
		}
	} else if (r->form != FC_HTTP_ORIGIN ||
		   (r->host && strcasecmp(r->host, c->host) != 0)) {
		proxy_reply_bad_request(c, 400, "the request does not match the CONNECT target");
		return;
	}
	snprintf(c->method, sizeof(c->method), "%s", r->method);
	if (!decide_request(c))
		return;
	if (fc_http_req_upstream_head(r, true, &c->up_head, &c->up_head_len) < 0) {
		proxy_reply_bad_request(c, 400, "the request cannot be forwarded");
		return;
	}
	fc_http_body_for_request(&c->req_body, r);
	if (c->up_state == PROXY_UP_OPEN) {
		proxy_http_send(c);
	} else if (c->up_state == PROXY_UP_NONE) {
		/* The body waits in the socket until upstream is there. */
		bufferevent_disable(c->cli, EV_READ);
		c->up_next = PROXY_NEXT_REQUEST;
		proxy_up_start(c);
	}
}

void proxy_conn_process(struct proxy_conn *c)
{
	struct evbuffer *in;
	struct fc_diag d;
	size_t len, hl = 0;
	const char *data;
	int rc;

	if (c->closing || c->req || c->mode == PROXY_MODE_TUNNEL)
		return;
	in = bufferevent_get_input(c->cli);
	len = evbuffer_get_length(in);
	if (len == 0)
		return;
	if (len > FC_HTTP_MAX_HEAD)
		len = FC_HTTP_MAX_HEAD;
	data = (const char *)evbuffer_pullup(in, (ssize_t)len);
	fc_diag_init(&d);
	rc = fc_http_head_len(data, len, &hl, &d);
	if (rc == -EAGAIN)
		return;
	if (rc == 0)
		rc = fc_http_parse_request(data, hl, &c->req, &d);
	if (rc < 0) {
		proxy_reply_bad_request(c, rc == FC_ELIMIT ? 431 : 400,
					d.msg[0] ? d.msg : fc_strerror(rc));
		return;
	}
	evbuffer_drain(in, hl);
	handle_request(c);
}

/* ---- client callbacks ------------------------------------------------- */

static void cli_read(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	if (c->req)
		proxy_http_cli_read(bev, c);
	else
		proxy_conn_process(c);
}

static void cli_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		proxy_conn_free(arg);
}

void proxy_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		  void *arg)
{
	struct proxy *px = arg;
	struct timeval idle = { CLI_IDLE_SEC, 0 };
	struct proxy_conn *c = calloc(1, sizeof(*c));
	size_t i;

	if (!c) {
		close(fd);
		return;
	}
	c->px = px;
	c->cli = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->cli) {
		close(fd);
		free(c);
		return;
	}
	proxy_peer_lookup(px, fd, &c->peer);
	/* The caller's identity: the executables that pass trust on first use. */
	if (c->peer.exe && proxy_tofu_check(px->tofu, c->peer.pid, c->peer.exe))
		c->exes[c->nexes++] = c->peer.exe;
	for (i = 0; i < c->peer.nancestors && c->nexes < 33; i++) {
		if (proxy_tofu_check(px->tofu, c->peer.apids[i], c->peer.ancestors[i]))
			c->exes[c->nexes++] = c->peer.ancestors[i];
	}
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	bufferevent_setcb(c->cli, cli_read, NULL, cli_event, c);
	bufferevent_set_timeouts(c->cli, &idle, NULL);
	/* Never buffer more than this from a client we are not forwarding yet. */
	bufferevent_setwatermark(c->cli, EV_READ, 0, PROXY_HIGH_WATER);
	bufferevent_enable(c->cli, EV_READ | EV_WRITE);
}
