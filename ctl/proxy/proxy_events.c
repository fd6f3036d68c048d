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
