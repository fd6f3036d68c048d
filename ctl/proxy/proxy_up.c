/*
 * proxy_up: from an allowed (or audited) connection decision to an open
 * upstream connection.
 *
 * The host is resolved off the loop (proxy_dns), every address is put
 * through the SSRF check (fc_egress_check_addr) and the first one that
 * passes is used; when none passes the connection is refused (403
 * ssrf_denied) and logged as a denial by the "ssrf" engine. Otherwise the
 * connection decision is logged (OPEN, with the address) and counted, and
 * the proxy connects from its own network namespace, with TLS when the
 * upstream speaks it (the chain and name are verified in proxy_tls). A
 * failure is logged (FAIL, not a decision) and answered 502.
 *
 * Upstream sockets are made by libevent without O_CLOEXEC; the proxy never
 * forks or execs, so nothing can inherit them.
 */
#include "proxy.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#define UP_CONNECT_SEC 15
#define UP_IDLE_SEC 300

static void fail_event(struct proxy_conn *c, const char *reason)
{
	struct fc_ocsf_event ev;

	proxy_event_init(&ev, c);
	ev.decision = proxy_decision(c->ec.verdict);
	ev.activity_id = FC_OCSF_NET_FAIL;
	ev.reason = reason;
	ev.rule = c->ec.net ? c->ec.net->key : NULL;
	ev.engine = fc_egress_engine_name(c->ec.engine);
	ev.layer = c->ec.l7 ? "l7" : "l4";
	proxy_event_net(c->px, &ev, false);
}

static void unreachable(struct proxy_conn *c, const char *detail)
{
	fail_event(c, detail);
	proxy_conn_drop_up(c);
	proxy_reply_unreachable(c, detail);
}

/* Why the connection or the TLS handshake failed, into buf. */
static void up_error(struct proxy_conn *c, short what, char *buf, size_t size)
{
	unsigned long e = c->up ? bufferevent_get_openssl_error(c->up) : 0;
	int err = EVUTIL_SOCKET_ERROR();
	SSL *ssl;

	if (what & BEV_EVENT_TIMEOUT) {
		snprintf(buf, size, "connection timed out");
	} else if (e) {
		char s[200];
		long v = X509_V_OK;

		ssl = c->up_tls ? bufferevent_openssl_get_ssl(c->up) : NULL;
		if (ssl)
			v = SSL_get_verify_result(ssl);
		ERR_error_string_n(e, s, sizeof(s));
		if (v != X509_V_OK)
			snprintf(buf, size, "upstream TLS: %s (%s)", s,
				 X509_verify_cert_error_string(v));
		else
			snprintf(buf, size, "upstream TLS: %s", s);
		while (bufferevent_get_openssl_error(c->up))
			; /* drop the rest of the queue */
	} else if (what & BEV_EVENT_EOF) {
		snprintf(buf, size, "upstream closed the connection");
	} else {
		snprintf(buf, size, "%s", evutil_socket_error_to_string(err));
	}
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_conn *c = arg;
	struct timeval idle = { UP_IDLE_SEC, 0 };
	char why[320];

	if (what & BEV_EVENT_CONNECTED) {
		c->up_state = PROXY_UP_OPEN;
		bufferevent_set_timeouts(bev, &idle, &idle);
		proxy_conn_up_ready(c);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	if (c->up_state == PROXY_UP_CONNECTING) {
		up_error(c, what, why, sizeof(why));
		unreachable(c, why);
		return;
	}
	proxy_http_up_eof(c, !(what & BEV_EVENT_EOF));
}

static void connect_up(struct proxy_conn *c)
{
	struct proxy *px = c->px;
	struct timeval tv = { UP_CONNECT_SEC, 0 };
	struct bufferevent *bev;
	SSL *ssl = NULL;

	if (c->up_tls) {
		ssl = proxy_tls_client(px->tls, c->host);
		if (!ssl) {
			unreachable(c, "cannot set up upstream TLS");
			return;
		}
		bev = bufferevent_openssl_socket_new(px->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						     BEV_OPT_CLOSE_ON_FREE);
		if (bev)
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
		else
			SSL_free(ssl);
	} else {
		bev = bufferevent_socket_new(px->base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!bev) {
		unreachable(c, "out of memory");
		return;
	}
	c->up = bev;
	c->up_state = PROXY_UP_CONNECTING;
	bufferevent_setcb(bev, proxy_http_up_read, NULL, up_event, c);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setwatermark(bev, EV_READ, 0, PROXY_HIGH_WATER);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&c->up_addr, (int)c->up_addrlen) <
	    0) {
		char why[320];

		up_error(c, BEV_EVENT_ERROR, why, sizeof(why));
		unreachable(c, why);
	}
}

static void open_event(struct proxy_conn *c)
{
	struct fc_ocsf_event ev;

	proxy_event_init(&ev, c);
	ev.decision = proxy_decision(c->ec.verdict);
	ev.activity_id = FC_OCSF_NET_OPEN;
	ev.reason = c->ec.verdict == FC_EGRESS_AUDIT ? c->ec.reason : NULL;
	ev.rule = c->ec.net ? c->ec.net->key : NULL;
	ev.engine = fc_egress_engine_name(c->ec.engine);
	ev.layer = c->ec.l7 ? "l7" : "l4";
	proxy_event_net(c->px, &ev, true);
}

static void ssrf_refused(struct proxy_conn *c, const char *why)
{
	struct fc_ocsf_event ev;

	proxy_event_init(&ev, c);
	ev.decision = FC_OCSF_DENIED;
	ev.activity_id = FC_OCSF_NET_REFUSE;
	ev.reason = why;
	ev.rule = c->ec.net ? c->ec.net->key : NULL;
	ev.engine = fc_egress_engine_name(FC_EGRESS_ENGINE_SSRF);
	ev.layer = "l4";
	proxy_event_net(c->px, &ev, true);
	proxy_reply_ssrf(c, why);
}

static void dns_done(int rc, struct addrinfo *res, void *arg)
{
	struct proxy_conn *c = arg;
	const char *why = NULL, *first_why = NULL;
	struct addrinfo *ai;
	char detail[320];
	uint16_t port;

	c->dns_req = NULL;
	if (rc != 0) {
		snprintf(detail, sizeof(detail), "cannot resolve '%s': %s", c->host,
			 gai_strerror(rc));
		unreachable(c, detail);
		return;
	}
	c->up_addrlen = 0;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(c->up_addr))
			continue;
		if (fc_egress_check_addr(c->px->egress, &c->ec, ai->ai_addr, ai->ai_addrlen,
					 &why) == 0) {
			memcpy(&c->up_addr, ai->ai_addr, ai->ai_addrlen);
			c->up_addrlen = ai->ai_addrlen;
			break;
		}
		if (!first_why)
			first_why = why;
	}
	freeaddrinfo(res);
	if (c->up_addrlen == 0) {
		c->up_state = PROXY_UP_NONE;
		ssrf_refused(c, first_why ? first_why : "no usable address");
		return;
	}
	proxy_addr_format(&c->up_addr, c->dst_ip, sizeof(c->dst_ip), &port);
	open_event(c);
	connect_up(c);
}

void proxy_up_start(struct proxy_conn *c)
{
	c->up_state = PROXY_UP_RESOLVING;
	c->dns_req = proxy_dns_resolve(c->px->dns, c->host, c->port, dns_done, c);
	if (!c->dns_req) {
		c->up_state = PROXY_UP_NONE;
		unreachable(c, "out of memory");
	}
}
