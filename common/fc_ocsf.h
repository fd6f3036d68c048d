/*
 * fc_ocsf: OCSF v1.8.0 events of the egress proxy and a tolerant reader.
 *
 * Builders produce one compact JSON object per event (a line ending in
 * '\n') for the two classes the proxy emits:
 *   4001 Network Activity: connection decisions (CONNECT or the connection
 *        behind a forward-proxied request), SSRF refusals, upstream
 *        failures;
 *   4002 HTTP Activity: request decisions (forward proxy and L7).
 * Fields follow openshell.md section 5 (base, src/dst endpoints,
 * actor.process with parent, firewall_rule, action, disposition,
 * http_request, http_response), metadata.product is
 * {"name":"forkcell","vendor_name":"ForkCell"}, and our own facts (the
 * three-way decision, run id, cell, layer) go to unmapped.forkcell.
 * Query strings are never written: url.path is the path only, and a '?'
 * smuggled into a path is cut there. Nothing else from the request
 * (headers, bodies) is logged.
 *
 * The reader accepts any JSON object line, ignores what it does not know
 * and extracts the facts a receipt or `events query` needs.
 *
 * Pure and thread-safe. Errors: -ENOMEM; FC_EPROTO from the reader.
 */
#ifndef FC_OCSF_H
#define FC_OCSF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "fc_err.h"

#define FC_OCSF_VERSION "1.8.0"
#define FC_OCSF_NET_CLASS 4001
#define FC_OCSF_HTTP_CLASS 4002
#define FC_OCSF_LINE_MAX (64 * 1024) /* the reader refuses longer lines */

enum fc_ocsf_decision {
	FC_OCSF_ALLOWED, /* action Allowed, disposition Allowed */
	FC_OCSF_DENIED,  /* action Denied, disposition Blocked */
	FC_OCSF_AUDITED, /* action Allowed, disposition Logged: a violation let through */
};

/* Network Activity activity_id values we use. */
enum fc_ocsf_net_activity {
	FC_OCSF_NET_OPEN = 1,   /* connection allowed/opened */
	FC_OCSF_NET_CLOSE = 2,  /* connection finished (byte counts) */
	FC_OCSF_NET_FAIL = 4,   /* upstream unreachable, DNS failure */
	FC_OCSF_NET_REFUSE = 5, /* connection denied by policy or SSRF */
};

/* A process in actor.process / parent_process. All optional. */
struct fc_ocsf_proc {
	const char *exe;      /* executable path (OCSF "name" and "path"), NULL if unknown */
	pid_t pid;            /* 0 if unknown */
	const char *cmd_line; /* NULL: omitted (never includes secrets: the caller decides) */
};

/*
 * The facts of one event. Unset strings are NULL, unset numbers 0.
 * The builder copies what it needs; nothing is retained.
 */
struct fc_ocsf_event {
	int64_t time_ms;              /* Unix time in milliseconds */
	enum fc_ocsf_decision decision;
	int activity_id;              /* 4001: enum fc_ocsf_net_activity; 4002: ignored
				       * (derived from method) */
	const char *reason;           /* status_detail: why (denials), or NULL */
	const char *message;          /* NULL: a shorthand "NET:OPEN ALLOWED host:port ..." */
	/* endpoints */
	const char *src_ip;           /* the sandbox side of the proxy connection */
	uint16_t src_port;
	const char *dst_host;         /* dst_endpoint.domain (or the IP literal) */
	const char *dst_ip;           /* the resolved address connected to, NULL if none */
	uint16_t dst_port;
	/* caller */
	struct fc_ocsf_proc proc;
	struct fc_ocsf_proc parent;
	/* policy */
	const char *rule;             /* firewall_rule.name: policy key, NULL -> "-" */
	const char *engine;           /* firewall_rule.type: "opa", "ssrf", "middleware" */
	const char *layer;            /* "l4" or "l7" (unmapped), NULL: omitted */
	/* HTTP (4002 only) */
	const char *method;           /* as sent */
	const char *scheme;           /* "http" or "https" */
	const char *path;             /* path only: cut at the first '?' or '#' */
	int http_status;              /* response code, 0: no http_response */
	/* byte counts (4001 CLOSE), 0: omitted */
	uint64_t bytes_in, bytes_out;
	/* run context (container / unmapped), NULL: omitted */
	const char *run_id;
	const char *cell;
};

/*
 * Build a Network Activity (4001) event. *line is a heap string (free
 * with free()) of *len bytes ending in '\n', NUL-terminated.
 * Errors: -ENOMEM, -EINVAL (bad decision or activity).
 */
int fc_ocsf_net_event(const struct fc_ocsf_event *ev, char **line, size_t *len);

/* Build an HTTP Activity (4002) event; as fc_ocsf_net_event. method is required. */
int fc_ocsf_http_event(const struct fc_ocsf_event *ev, char **line, size_t *len);

/* The facts the receipt and `events query` use, read back from a line. */
struct fc_ocsf_summary {
	int class_uid;
	int activity_id;
	int64_t time_ms;
	enum fc_ocsf_decision decision;
	char host[256];
	uint16_t port;
	char method[32];
	char path[4097];
	char binary[4097];
	pid_t pid;
	char rule[256];
	char engine[16];
	char reason[512];
	int http_status;
	char run_id[128];
	char cell[256];
};

/*
 * Read one event line (len bytes, a trailing '\n' allowed). Longer string
 * fields are truncated to the buffers. The decision comes from
 * unmapped.forkcell.decision when present, else from action_id /
 * disposition_id. Errors: FC_EPROTO (not a JSON object, no class_uid,
 * longer than FC_OCSF_LINE_MAX) with d set, -ENOMEM.
 */
int fc_ocsf_parse_line(const char *line, size_t len, struct fc_ocsf_summary *out,
		       struct fc_diag *d);

/*
 * A receipt's normalised form of an event: {"time","class","activity",
 * "decision","dst":"host:port","method","path","status","binary","pid",
 * "rule","engine","reason"}, absent facts omitted ("status": the
 * http_response code). Caller frees with cJSON_Delete.
 * Errors: -ENOMEM.
 */
int fc_ocsf_summary_to_json(const struct fc_ocsf_summary *s, cJSON **out);

/* "allowed", "denied", "audited"; fc_ocsf_decision_parse is the inverse
 * (0 or -EINVAL). */
const char *fc_ocsf_decision_name(enum fc_ocsf_decision dcs);
int fc_ocsf_decision_parse(const char *s, enum fc_ocsf_decision *out);

#endif
