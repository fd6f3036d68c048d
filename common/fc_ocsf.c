/*
 * fc_ocsf: OCSF v1.8.0 Network Activity (4001) and HTTP Activity (4002)
 * events for the egress proxy, and the reader the receipt and `events
 * query` use (contract in fc_ocsf.h).
 *
 * The events are the audit record of a run, so they are built from typed
 * facts through cJSON (never by string pasting, which an agent-chosen host
 * or path could break out of) and hold no query string: an event file
 * ends up in receipts that are shared, and query strings carry tokens.
 *
 * The reader is tolerant because event files outlive this version of the
 * writer and may come from OpenShell itself: unknown members are ignored,
 * missing ones stay empty, and a member of the wrong type counts as
 * missing. Only a line that is not a JSON object with a numeric class_uid
 * is refused.
 */
#include "fc_ocsf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fc_canon.h"

#define OCSF_CATEGORY_NETWORK 4
#define OCSF_DISPOSITION_ALLOWED 1
#define OCSF_DISPOSITION_BLOCKED 2
#define OCSF_DISPOSITION_LOGGED 17

const char *fc_ocsf_decision_name(enum fc_ocsf_decision dcs)
{
	switch (dcs) {
	case FC_OCSF_DENIED:
		return "denied";
	case FC_OCSF_AUDITED:
		return "audited";
	default:
		return "allowed";
	}
}

int fc_ocsf_decision_parse(const char *s, enum fc_ocsf_decision *out)
{
	static const enum fc_ocsf_decision all[] = { FC_OCSF_ALLOWED, FC_OCSF_DENIED,
						     FC_OCSF_AUDITED };

	for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, fc_ocsf_decision_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

static const char *net_activity_name(int id)
{
	switch (id) {
	case FC_OCSF_NET_OPEN:
		return "Open";
	case FC_OCSF_NET_CLOSE:
		return "Close";
	case FC_OCSF_NET_FAIL:
		return "Fail";
	case FC_OCSF_NET_REFUSE:
		return "Refuse";
	default:
		return NULL;
	}
}

/* HTTP Activity's activity_id for a method (99 Other for the rest). */
static int http_activity(const char *method, const char **name)
{
	static const char *const m[] = { "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS",
					 "POST", "PUT", "TRACE", "PATCH" };
	static const char *const n[] = { "Connect", "Delete", "Get", "Head", "Options",
					 "Post", "Put", "Trace", "Patch" };

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (strcmp(method, m[i]) == 0) {
			*name = n[i];
			return (int)i + 1;
		}
	}
	*name = "Other";
	return 99;
}

/* cJSON adders that tolerate NULL strings (then nothing is added). */
static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

static void add_num(cJSON *o, const char *k, double v)
{
	cJSON_AddNumberToObject(o, k, v);
}

static cJSON *add_obj(cJSON *o, const char *k)
{
	return cJSON_AddObjectToObject(o, k);
}

/* The path for logs: never beyond the first '?' or '#', at most 4096 bytes. */
static void safe_path(const char *path, char *buf, size_t size)
{
	size_t n = path ? strcspn(path, "?#") : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(buf, path, n);
	buf[n] = '\0';
}

static void add_proc(cJSON *o, const char *k, const struct fc_ocsf_proc *p, cJSON **made)
{
	cJSON *po;

	*made = NULL;
	if (!p->exe && !p->pid && !p->cmd_line)
		return;
	po = add_obj(o, k);
	if (!po)
		return;
	add_str(po, "name", p->exe);
	if (p->pid > 0)
		add_num(po, "pid", p->pid);
	add_str(po, "cmd_line", p->cmd_line);
	*made = po;
}

/* Fields common to both classes. */
static void add_base(cJSON *o, const struct fc_ocsf_event *ev, int cls, const char *cls_name,
		     int act, const char *act_name, const char *message)
{
	static const char *const sev[] = { "Informational", "Medium", "Low" };
	static const int sev_id[] = { 1, 3, 2 };
	bool denied = ev->decision == FC_OCSF_DENIED;
	char type_name[64];
	cJSON *meta, *prod;

	add_num(o, "class_uid", cls);
	add_str(o, "class_name", cls_name);
	add_num(o, "category_uid", OCSF_CATEGORY_NETWORK);
	add_str(o, "category_name", "Network Activity");
	add_num(o, "activity_id", act);
	add_str(o, "activity_name", act_name);
	add_num(o, "type_uid", (double)cls * 100 + act);
	snprintf(type_name, sizeof(type_name), "%s: %s", cls_name, act_name);
	add_str(o, "type_name", type_name);
	add_num(o, "time", (double)ev->time_ms);
	add_num(o, "severity_id", sev_id[ev->decision]);
	add_str(o, "severity", sev[ev->decision]);
	add_num(o, "status_id", denied ? 2 : 1);
	add_str(o, "status", denied ? "Failure" : "Success");
	add_str(o, "status_detail", ev->reason);
	add_str(o, "message", message);
	add_num(o, "action_id", denied ? 2 : 1);
	add_str(o, "action", denied ? "Denied" : "Allowed");
	add_num(o, "disposition_id", denied ? OCSF_DISPOSITION_BLOCKED
				     : ev->decision == FC_OCSF_AUDITED ? OCSF_DISPOSITION_LOGGED
								       : OCSF_DISPOSITION_ALLOWED);
	add_str(o, "disposition", denied ? "Blocked"
			     : ev->decision == FC_OCSF_AUDITED ? "Logged" : "Allowed");
	meta = add_obj(o, "metadata");
	if (meta) {
		add_str(meta, "version", FC_OCSF_VERSION);
		prod = add_obj(meta, "product");
		if (prod) {
			add_str(prod, "name", "forkcell");
			add_str(prod, "vendor_name", "ForkCell");
		}
	}
}

/* Endpoints, actor, rule, container and unmapped. */
static void add_context(cJSON *o, const struct fc_ocsf_event *ev)
{
	cJSON *x, *actor, *proc = NULL, *par;

	if (ev->src_ip || ev->src_port) {
		x = add_obj(o, "src_endpoint");
		add_str(x, "ip", ev->src_ip);
		if (x && ev->src_port)
			add_num(x, "port", ev->src_port);
	}
	x = add_obj(o, "dst_endpoint");
	add_str(x, "domain", ev->dst_host);
	add_str(x, "ip", ev->dst_ip);
	if (x && ev->dst_port)
		add_num(x, "port", ev->dst_port);
	actor = add_obj(o, "actor");
	if (actor)
		add_proc(actor, "process", &ev->proc, &proc);
	if (proc)
		add_proc(proc, "parent_process", &ev->parent, &par);
	x = add_obj(o, "firewall_rule");
	add_str(x, "name", ev->rule ? ev->rule : "-");
	add_str(x, "type", ev->engine ? ev->engine : "opa");
	x = add_obj(o, "connection_info");
	add_str(x, "protocol_name", "tcp");
	if (ev->bytes_in || ev->bytes_out) {
		x = add_obj(o, "traffic");
		add_num(x, "bytes_in", (double)ev->bytes_in);
		add_num(x, "bytes_out", (double)ev->bytes_out);
	}
	if (ev->cell) {
		x = add_obj(o, "container");
		add_str(x, "name", ev->cell);
	}
	x = add_obj(o, "unmapped");
	x = x ? add_obj(x, "forkcell") : NULL;
	add_str(x, "decision", fc_ocsf_decision_name(ev->decision));
	add_str(x, "layer", ev->layer);
	add_str(x, "run_id", ev->run_id);
	add_str(x, "cell", ev->cell);
}

/* Print o as one line + '\n'. Consumes o. */
static int finish(cJSON *o, char **line, size_t *len)
{
	int rc = fc_json_line(o, SIZE_MAX, line, len);

	cJSON_Delete(o);
	return rc;
}

/* cJSON adders do nothing on OOM, so a sweep afterwards tells if all landed. */
static bool complete(const cJSON *o)
{
	return cJSON_GetObjectItemCaseSensitive(o, "unmapped") &&
	       cJSON_GetObjectItemCaseSensitive(o, "metadata") &&
	       cJSON_GetObjectItemCaseSensitive(o, "firewall_rule");
}

static bool decision_ok(enum fc_ocsf_decision dcs)
{
	return dcs == FC_OCSF_ALLOWED || dcs == FC_OCSF_DENIED || dcs == FC_OCSF_AUDITED;
}

int fc_ocsf_net_event(const struct fc_ocsf_event *ev, char **line, size_t *len)
{
	const char *act = net_activity_name(ev->activity_id);
	char msg[512], upper[16];
	cJSON *o;

	if (!act || !decision_ok(ev->decision))
		return -EINVAL;
	snprintf(upper, sizeof(upper), "%s", act);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (!ev->message) {
		snprintf(msg, sizeof(msg), "NET:%s %s %s -> %s:%u [policy:%s]%s%s%s", upper,
			 ev->decision == FC_OCSF_DENIED ? "DENIED"
			 : ev->decision == FC_OCSF_AUDITED ? "AUDITED" : "ALLOWED",
			 ev->proc.exe ? ev->proc.exe : "-", ev->dst_host ? ev->dst_host : "-",
			 (unsigned)ev->dst_port, ev->rule ? ev->rule : "-",
			 ev->reason ? " [reason:" : "", ev->reason ? ev->reason : "",
			 ev->reason ? "]" : "");
	}
	o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	add_base(o, ev, FC_OCSF_NET_CLASS, "Network Activity", ev->activity_id, act,
		 ev->message ? ev->message : msg);
	add_context(o, ev);
	if (!complete(o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	return finish(o, line, len);
}

int fc_ocsf_http_event(const struct fc_ocsf_event *ev, char **line, size_t *len)
{
	char msg[768], path[4097];
	const char *act;
	int act_id;
	cJSON *o, *req, *url, *resp;

	if (!ev->method || !decision_ok(ev->decision))
		return -EINVAL;
	act_id = http_activity(ev->method, &act);
	safe_path(ev->path, path, sizeof(path));
	if (!ev->message) {
		snprintf(msg, sizeof(msg), "HTTP:%.32s %s %s:%u%.256s [policy:%s]%s%s%s",
			 ev->method, ev->decision == FC_OCSF_DENIED ? "DENIED"
				     : ev->decision == FC_OCSF_AUDITED ? "AUDITED" : "ALLOWED",
			 ev->dst_host ? ev->dst_host : "-", (unsigned)ev->dst_port, path,
			 ev->rule ? ev->rule : "-", ev->reason ? " [reason:" : "",
			 ev->reason ? ev->reason : "", ev->reason ? "]" : "");
	}
	o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	add_base(o, ev, FC_OCSF_HTTP_CLASS, "HTTP Activity", act_id, act,
		 ev->message ? ev->message : msg);
	add_context(o, ev);
	req = add_obj(o, "http_request");
	add_str(req, "http_method", ev->method);
	url = req ? add_obj(req, "url") : NULL;
	add_str(url, "scheme", ev->scheme);
	add_str(url, "hostname", ev->dst_host);
	add_str(url, "path", path);
	if (url && ev->dst_port)
		add_num(url, "port", ev->dst_port);
	if (ev->http_status) {
		resp = add_obj(o, "http_response");
		if (resp)
			add_num(resp, "code", ev->http_status);
	}
	if (!complete(o) || !url) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	return finish(o, line, len);
}

/* ---- the reader ---------------------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *k)
{
	return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

/* Copy the string member k of o into buf (truncated); false if absent. */
static bool get_str(const cJSON *o, const char *k, char *buf, size_t size)
{
	const cJSON *v = get(o, k);

	if (!cJSON_IsString(v) || !v->valuestring)
		return false;
	snprintf(buf, size, "%s", v->valuestring);
	return true;
}

/* The number member k of o when it is an integer in [lo, hi]. */
static bool get_int(const cJSON *o, const char *k, double lo, double hi, double *out)
{
	const cJSON *v = get(o, k);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
	    v->valuedouble > hi || v->valuedouble != floor(v->valuedouble))
		return false;
	*out = v->valuedouble;
	return true;
}

static enum fc_ocsf_decision read_decision(const cJSON *o)
{
	const cJSON *fc = get(get(o, "unmapped"), "forkcell");
	const cJSON *dv = get(fc, "decision");
	enum fc_ocsf_decision dcs;
	double n;

	if (cJSON_IsString(dv) && fc_ocsf_decision_parse(dv->valuestring, &dcs) == 0)
		return dcs;
	if (get_int(o, "action_id", 0, 99, &n) && n == 2)
		return FC_OCSF_DENIED;
	if (get_int(o, "disposition_id", 0, 99, &n)) {
		if (n == 2)
			return FC_OCSF_DENIED;
		if (n == 17)
			return FC_OCSF_AUDITED;
	}
	return FC_OCSF_ALLOWED;
}

static void read_endpoint(const cJSON *o, struct fc_ocsf_summary *s)
{
	const cJSON *dst = get(o, "dst_endpoint");
	const cJSON *url = get(get(o, "http_request"), "url");
	double n;

	if (!get_str(dst, "domain", s->host, sizeof(s->host)) &&
	    !get_str(dst, "hostname", s->host, sizeof(s->host)) &&
	    !get_str(url, "hostname", s->host, sizeof(s->host)))
		get_str(dst, "ip", s->host, sizeof(s->host));
	if (get_int(dst, "port", 0, 65535, &n) || get_int(url, "port", 0, 65535, &n))
		s->port = (uint16_t)n;
	get_str(url, "path", s->path, sizeof(s->path));
	/* a writer that let a query string slip through does not get it into
	 * a receipt through us */
	s->path[strcspn(s->path, "?#")] = '\0';
	get_str(get(o, "http_request"), "http_method", s->method, sizeof(s->method));
}

int fc_ocsf_parse_line(const char *line, size_t len, struct fc_ocsf_summary *out,
		       struct fc_diag *d)
{
	struct fc_ocsf_summary s;
	const cJSON *proc, *fw, *fc;
	cJSON *o;
	double n;

	if (len > FC_OCSF_LINE_MAX)
		return fc_diag_set(d, FC_EPROTO, "event line longer than %d bytes",
				   FC_OCSF_LINE_MAX);
	o = cJSON_ParseWithLength(line, len);
	if (!o)
		return fc_diag_set(d, FC_EPROTO, "event line is not JSON");
	if (!cJSON_IsObject(o) || !get_int(o, "class_uid", 0, 999999, &n)) {
		cJSON_Delete(o);
		return fc_diag_set(d, FC_EPROTO, "event line without a class_uid");
	}
	memset(&s, 0, sizeof(s));
	s.class_uid = (int)n;
	if (get_int(o, "activity_id", 0, 999, &n))
		s.activity_id = (int)n;
	if (get_int(o, "time", 0, 9007199254740991.0, &n))
		s.time_ms = (int64_t)n;
	s.decision = read_decision(o);
	read_endpoint(o, &s);
	proc = get(get(o, "actor"), "process");
	get_str(proc, "name", s.binary, sizeof(s.binary));
	if (get_int(proc, "pid", 0, 2147483647.0, &n))
		s.pid = (pid_t)n;
	fw = get(o, "firewall_rule");
	get_str(fw, "name", s.rule, sizeof(s.rule));
	get_str(fw, "type", s.engine, sizeof(s.engine));
	get_str(o, "status_detail", s.reason, sizeof(s.reason));
	if (get_int(get(o, "http_response"), "code", 0, 999, &n))
		s.http_status = (int)n;
	fc = get(get(o, "unmapped"), "forkcell");
	get_str(fc, "run_id", s.run_id, sizeof(s.run_id));
	get_str(fc, "cell", s.cell, sizeof(s.cell));
	cJSON_Delete(o);
	*out = s;
	return 0;
}

int fc_ocsf_summary_to_json(const struct fc_ocsf_summary *s, cJSON **out)
{
	cJSON *o = cJSON_CreateObject();
	char dst[300];
	bool ok;

	if (!o)
		return -ENOMEM;
	ok = cJSON_AddNumberToObject(o, "time", (double)s->time_ms) &&
	     cJSON_AddNumberToObject(o, "class", s->class_uid) &&
	     cJSON_AddNumberToObject(o, "activity", s->activity_id) &&
	     cJSON_AddStringToObject(o, "decision", fc_ocsf_decision_name(s->decision));
	if (ok && s->host[0]) {
		snprintf(dst, sizeof(dst), "%s:%u", s->host, (unsigned)s->port);
		ok = cJSON_AddStringToObject(o, "dst", dst) != NULL;
	}
	if (ok && s->method[0])
		ok = cJSON_AddStringToObject(o, "method", s->method) != NULL;
	if (ok && s->path[0])
		ok = cJSON_AddStringToObject(o, "path", s->path) != NULL;
	if (ok && s->http_status)
		ok = cJSON_AddNumberToObject(o, "status", s->http_status) != NULL;
	if (ok && s->binary[0])
		ok = cJSON_AddStringToObject(o, "binary", s->binary) != NULL;
	if (ok && s->pid)
		ok = cJSON_AddNumberToObject(o, "pid", s->pid) != NULL;
	if (ok && s->rule[0])
		ok = cJSON_AddStringToObject(o, "rule", s->rule) != NULL;
	if (ok && s->engine[0])
		ok = cJSON_AddStringToObject(o, "engine", s->engine) != NULL;
	if (ok && s->reason[0])
		ok = cJSON_AddStringToObject(o, "reason", s->reason) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}
