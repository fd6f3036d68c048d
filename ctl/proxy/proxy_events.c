/*
 * proxy_events: the run's OCSF event file, written by the proxy alone.
 *
 * Each decision becomes one line (fc_ocsf builds it) appended with a single
 * write(2) to a file opened O_APPEND, so lines never interleave or tear
 * short of a full disk. The counters of the summary are kept here, next to
 * the lines they count: connections are the counted 4001 events (OPEN and
 * REFUSE; FAIL and CLOSE are not decisions), requests the 4002 events.
 */
#include "proxy.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fc_fileio.h"
#include "fc_log.h"

int64_t proxy_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum fc_ocsf_decision proxy_decision(enum fc_egress_verdict v)
{
	switch (v) {
	case FC_EGRESS_ALLOW:
		return FC_OCSF_ALLOWED;
	case FC_EGRESS_AUDIT:
		return FC_OCSF_AUDITED;
	default:
		return FC_OCSF_DENIED;
	}
}

void proxy_event_init(struct fc_ocsf_event *ev, const struct proxy_conn *c)
{
	memset(ev, 0, sizeof(*ev));
	ev->time_ms = proxy_now_ms();
	ev->src_ip = c->peer.src_ip[0] ? c->peer.src_ip : NULL;
	ev->src_port = c->peer.src_port;
	ev->dst_host = c->host[0] ? c->host : NULL;
	ev->dst_ip = c->dst_ip[0] ? c->dst_ip : NULL;
	ev->dst_port = c->port;
	ev->proc.exe = c->peer.exe;
	ev->proc.pid = c->peer.pid;
	if (c->peer.nancestors > 0) {
		ev->parent.exe = c->peer.ancestors[0];
		ev->parent.pid = c->peer.ppid;
	}
	ev->run_id = c->px->run_id;
	ev->cell = c->px->cell;
}

static void count(struct proxy_counts *k, enum fc_ocsf_decision dcs)
{
	if (dcs == FC_OCSF_ALLOWED)
		k->allowed++;
	else if (dcs == FC_OCSF_AUDITED)
		k->audited++;
	else
		k->denied++;
}

static void put_line(struct proxy *px, int rc, char *line, size_t len)
{
	if (rc == 0)
		rc = fc_write_all(px->events_fd, line, len);
	if (rc == 0) {
		px->events++;
	} else {
		/* Log once per failure; the summary reports the count. */
		px->event_errors++;
		fc_log(FC_LOG_ERR, "cannot write an event: %s", fc_strerror(rc));
	}
	free(line);
}

void proxy_event_net(struct proxy *px, const struct fc_ocsf_event *ev, bool counted)
{
	char *line = NULL;
	size_t len = 0;
	int rc = fc_ocsf_net_event(ev, &line, &len);

	put_line(px, rc, line, len);
	if (counted)
		count(&px->conn_counts, ev->decision);
}

void proxy_event_http(struct proxy *px, const struct fc_ocsf_event *ev)
{
	char *line = NULL;
	size_t len = 0;
	int rc = fc_ocsf_http_event(ev, &line, &len);

	put_line(px, rc, line, len);
	count(&px->req_counts, ev->decision);
}

/*
 * A request's event waits for its response so that it carries the
 * upstream's status code: what an auditor asks right after "was it
 * allowed" is "what came back". One event per request either way, so the
 * counts and the summary are the same as with immediate events.
 */
struct proxy_http_pending {
	int64_t time_ms; /* the decision's time */
	enum fc_ocsf_decision decision;
	const char *rule, *engine, *layer, *scheme; /* policy keys and static names */
	char *method, *path, *reason;
};

static void pending_free(struct proxy_http_pending *p)
{
	free(p->method);
	free(p->path);
	free(p->reason);
	free(p);
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

void proxy_event_http_defer(struct proxy_conn *c, const struct fc_ocsf_event *ev)
{
	struct proxy_http_pending *p;
	bool failed = false;

	proxy_event_http_done(c, 0); /* never two in flight */
	p = calloc(1, sizeof(*p));
	if (!p) {
		proxy_event_http(c->px, ev);
		return;
	}
	p->time_ms = ev->time_ms;
	p->decision = ev->decision;
	p->rule = ev->rule;
	p->engine = ev->engine;
	p->layer = ev->layer;
	p->scheme = ev->scheme;
	p->method = dup_or_null(ev->method, &failed);
	p->path = dup_or_null(ev->path, &failed);
	p->reason = dup_or_null(ev->reason, &failed);
	if (failed) {
		pending_free(p);
		proxy_event_http(c->px, ev);
		return;
	}
	c->http_pending = p;
}

void proxy_event_http_done(struct proxy_conn *c, int status)
{
	struct proxy_http_pending *p = c->http_pending;
	struct fc_ocsf_event ev;

	if (!p)
		return;
	c->http_pending = NULL;
	proxy_event_init(&ev, c);
	ev.time_ms = p->time_ms;
	ev.decision = p->decision;
	ev.rule = p->rule;
	ev.engine = p->engine;
	ev.layer = p->layer;
	ev.scheme = p->scheme;
	ev.method = p->method;
	ev.path = p->path;
	ev.reason = p->reason;
	ev.http_status = status;
	proxy_event_http(c->px, &ev);
	pending_free(p);
}
