/*
 * proxy.h: internals of forkcell-proxy, the egress proxy of a policy run.
 *
 * One process, one libevent loop on the main thread (plus the resolver's
 * worker threads, proxy_dns.c). Modules:
 *   proxy_main.c    options, startup, signals, summary
 *   proxy_netns.c   listener + inet_diag socket made inside the sandbox netns
 *   proxy_peer.c    connection -> owning process -> executable (+ ancestors)
 *   proxy_tofu.c    trust-on-first-use digests of those executables
 *   proxy_dns.c     getaddrinfo off the loop
 *   proxy_conn.c    accepting, request heads, decisions, CONNECT
 *   proxy_http.c    forwarding one request/response exchange (body framing)
 *   proxy_up.c      resolving, the SSRF check and connecting upstream
 *   proxy_tls.c     the CA's leaves for TLS termination, upstream TLS
 *   proxy_events.c  OCSF event lines into the events file, counters
 *   proxy_reply.c   the 400/403/502 answers and their JSON bodies
 */
#ifndef FC_PROXY_H
#define FC_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "fc_egress.h"
#include "fc_err.h"
#include "fc_http.h"
#include "fc_ocsf.h"
#include "fc_policy.h"

#define PROXY_PEER_HINTS 8
#define PROXY_HIGH_WATER (1024 * 1024) /* per-direction buffering before backpressure */
#define PROXY_LEAF_CACHE 128

struct proxy_dns;
struct proxy_dns_req;
struct proxy_tls;
struct proxy_tofu;
struct proxy_conn;

/* Counters of decisions, by verdict (enum fc_egress_verdict order). */
struct proxy_counts {
	uint64_t allowed, denied, audited;
};

struct proxy {
	struct event_base *base;
	struct fc_policy *policy;
	struct fc_egress *egress;
	const char *run_id; /* NULL if not given */
	const char *cell;   /* NULL if not given */
	pid_t parent;       /* getppid() at start: a change means an orphaned proxy */
	int events_fd;
	int listen_fd;      /* made in the sandbox netns; owned by listener once wrapped */
	int diag_fd;        /* NETLINK_SOCK_DIAG in the sandbox netns */
	ino_t netns_ino;
	dev_t netns_dev;
	struct evconnlistener *listener;
	struct proxy_dns *dns;
	struct proxy_tls *tls;           /* NULL: no CA given (no TLS termination) */
	struct proxy_tofu *tofu;
	pid_t peer_hints[PROXY_PEER_HINTS];
	struct proxy_conn *conns;        /* all live connections (doubly linked) */
	struct proxy_counts conn_counts; /* connection decisions */
	struct proxy_counts req_counts;  /* request decisions */
	uint64_t events;                 /* lines written */
	uint64_t event_errors;           /* lines that could not be written */
	uint64_t bad_requests;           /* 400 answers */
};

/* The process behind a connection; all fields optional. */
struct proxy_peer {
	char src_ip[64];
	uint16_t src_port;
	pid_t pid;         /* 0: unknown */
	pid_t ppid;        /* 0: unknown or outside the sandbox */
	char *exe;         /* NULL: unknown */
	char **ancestors;  /* exes of the ancestors inside the sandbox, nearest first */
	pid_t *apids;      /* their pids */
	size_t nancestors;
};

enum proxy_conn_mode {
	PROXY_MODE_FORWARD, /* plain proxy requests (absolute-form) */
	PROXY_MODE_TUNNEL,  /* CONNECT, bytes spliced both ways */
	PROXY_MODE_INNER,   /* CONNECT with L7 inspection (TLS terminated if spoken) */
};

enum proxy_up_state {
	PROXY_UP_NONE,       /* no upstream connection */
	PROXY_UP_RESOLVING,  /* waiting for DNS */
	PROXY_UP_CONNECTING, /* connect (and TLS handshake) in progress */
	PROXY_UP_OPEN,
};

/* What to do once the upstream connection is up. */
enum proxy_up_next {
	PROXY_NEXT_TUNNEL,   /* answer 200 to CONNECT, splice */
	PROXY_NEXT_REQUEST,  /* send the pending request */
};

struct proxy_conn {
	struct proxy *px;
	struct proxy_conn *prev, *next;
	struct bufferevent *cli;   /* the sandbox side (plain or TLS filter) */
	struct bufferevent *up;    /* the upstream side, NULL when none */
	struct proxy_peer peer;
	const char *exes[33];      /* peer.exe then ancestors, borrowed from peer */
	size_t nexes;
	enum proxy_conn_mode mode;
	bool closing;              /* an answer is being flushed, then close */
	int close_stage;           /* TLS close: 0 flushing, 1 close_notify sent, 2 draining */
	int close_ticks;
	struct event *close_timer; /* TLS close polling, NULL until needed */
	bool cli_tls;              /* cli is a TLS filter (terminated) */

	/* the current target and its connection decision */
	char host[FC_HTTP_MAX_HOST + 1];
	uint16_t port;
	bool have_decision;
	struct fc_egress_conn ec;
	bool up_tls;               /* upstream speaks TLS */
	enum proxy_up_state up_state;
	enum proxy_up_next up_next;
	struct proxy_dns_req *dns_req;
	struct sockaddr_storage up_addr; /* the address connected to (reconnects reuse it) */
	socklen_t up_addrlen;
	char dst_ip[64];

	/* the request in flight (FORWARD and INNER) */
	struct fc_http_req *req;
	char *up_head;             /* the head to send upstream, until sent */
	size_t up_head_len;
	struct fc_http_body req_body;
	bool req_done;             /* request head + body forwarded */
	bool resp_head_seen;       /* the final (non-1xx) response head passed */
	struct fc_http_body resp_body;
	bool resp_done;
	bool resp_close;           /* close the client after this response */
	char method[FC_HTTP_MAX_METHOD + 1];
	int resp_status;
	uint64_t bytes_up, bytes_down;
	/* The 4002 event of the allowed or audited request in flight, written
	 * once its outcome is known (proxy_event_http_done); NULL if none. */
	struct proxy_http_pending *http_pending;
};

/* proxy_netns.c */
int proxy_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* Enter netns_path, bring lo up, listen on listen_addr and open the diag
 * socket there (px->listen_fd, px->diag_fd, px->netns_ino), come back. */
int proxy_netns_setup(struct proxy *px, const char *netns_path, const char *listen_addr,
		      struct fc_diag *d);

/* proxy_peer.c */
/* Best effort: fills *out (release with proxy_peer_release); never fails. */
void proxy_peer_lookup(struct proxy *px, int fd, struct proxy_peer *out);
void proxy_peer_release(struct proxy_peer *p);
void proxy_addr_format(const struct sockaddr_storage *ss, char *ip, size_t iplen,
		       uint16_t *port);

/* proxy_tofu.c */
int proxy_tofu_new(struct proxy_tofu **out);
void proxy_tofu_free(struct proxy_tofu *t);
/* Does the file pid runs (as path) have the digest pinned for path (pinning
 * it when path is new)? false also when it cannot be read. */
bool proxy_tofu_check(struct proxy_tofu *t, pid_t pid, const char *path);

/* proxy_dns.c */
struct addrinfo;
/* rc: 0 or an EAI_* code; res is owned by the callback (freeaddrinfo). */
typedef void (*proxy_dns_cb)(int rc, struct addrinfo *res, void *arg);
int proxy_dns_new(struct event_base *base, struct proxy_dns **out, struct fc_diag *d);
/* NULL on OOM. The callback runs later on the loop thread, unless cancelled. */
struct proxy_dns_req *proxy_dns_resolve(struct proxy_dns *dns, const char *host, uint16_t port,
					proxy_dns_cb cb, void *arg);
void proxy_dns_cancel(struct proxy_dns_req *r);
void proxy_dns_free(struct proxy_dns *dns);

/* proxy_tls.c */
int proxy_tls_new(const char *ca_cert, const char *ca_key, const char *upstream_ca,
		  struct proxy_tls **out, struct fc_diag *d);
void proxy_tls_free(struct proxy_tls *t);
bool proxy_tls_can_terminate(const struct proxy_tls *t);
/* A server-side SSL presenting a leaf for host (minted once, cached). NULL on failure. */
SSL *proxy_tls_server(struct proxy_tls *t, const char *host);
/* A client-side SSL for host: SNI, chain and host name verified. NULL on failure. */
SSL *proxy_tls_client(struct proxy_tls *t, const char *host);

/* proxy_events.c */
/* Fill the connection-independent facts of an event from c. */
void proxy_event_init(struct fc_ocsf_event *ev, const struct proxy_conn *c);
/* Write a 4001 event; counted as a connection decision when counted. */
void proxy_event_net(struct proxy *px, const struct fc_ocsf_event *ev, bool counted);
/* Write a 4002 event, counted as a request decision. */
void proxy_event_http(struct proxy *px, const struct fc_ocsf_event *ev);
/* Keep ev, the event of the allowed or audited request c forwards, until
 * its outcome is known; written at once if it cannot be kept. */
void proxy_event_http_defer(struct proxy_conn *c, const struct fc_ocsf_event *ev);
/* Write c's kept request event with status in http_response: the
 * upstream's final status, our own 502, or 0 when no response came (the
 * exchange ended first). Does nothing when no event is kept. */
void proxy_event_http_done(struct proxy_conn *c, int status);
enum fc_ocsf_decision proxy_decision(enum fc_egress_verdict v);

/* proxy_reply.c */
/* Queue an error answer on c->cli and close c once it is flushed. */
void proxy_reply_bad_request(struct proxy_conn *c, int status, const char *detail);
void proxy_reply_conn_denied(struct proxy_conn *c, bool is_connect);
void proxy_reply_req_denied(struct proxy_conn *c, const struct fc_egress_req *r,
			    const char *path);
void proxy_reply_ssrf(struct proxy_conn *c, const char *why);
void proxy_reply_unreachable(struct proxy_conn *c, const char *detail);

/* proxy_conn.c */
void proxy_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		  int salen, void *arg);
void proxy_conn_free(struct proxy_conn *c);
/* Flush what is queued to the client, then close (draining its input). */
void proxy_conn_close_after_flush(struct proxy_conn *c);
/* Parse and handle whatever complete request heads the client has sent. */
void proxy_conn_process(struct proxy_conn *c);
/* The upstream connection is open: continue with c->up_next. */
void proxy_conn_up_ready(struct proxy_conn *c);
/* Forget the request in flight (after its response). */
void proxy_conn_clear_exchange(struct proxy_conn *c);
/* Drop the upstream connection (keeps the client). */
void proxy_conn_drop_up(struct proxy_conn *c);

/* proxy_up.c */
/* Resolve c->host, SSRF-check, emit the connection event, connect; then
 * proxy_conn_up_ready or an error answer. */
void proxy_up_start(struct proxy_conn *c);

/* proxy_http.c */
/* Begin the exchange of c->req (decided, allowed) once upstream is open. */
void proxy_http_send(struct proxy_conn *c);
/* Read callbacks of the exchange. */
void proxy_http_cli_read(struct bufferevent *bev, void *arg);
void proxy_http_up_read(struct bufferevent *bev, void *arg);
/* The upstream closed (EOF or error) during an exchange. */
void proxy_http_up_eof(struct proxy_conn *c, bool error);

/* time helpers */
int64_t proxy_now_ms(void);

#endif
