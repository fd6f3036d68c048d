/*
 * t_ocsf: OCSF 4001/4002 events as the proxy writes them (fields of
 * openshell.md section 5, one line each, no query strings, no injection
 * through hosts or paths) and the tolerant reader used by receipts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fc_ocsf.h"
#include "tap.h"

static const cJSON *at(const cJSON *o, const char *path)
{
	char buf[128], *save = NULL, *k;

	strncpy(buf, path, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	for (k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, k);
	return o;
}

static const char *str_at(const cJSON *o, const char *path)
{
	const cJSON *v = at(o, path);

	return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static double num_at(const cJSON *o, const char *path)
{
	const cJSON *v = at(o, path);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static bool one_line(const char *s, size_t n)
{
	return n > 1 && s[n - 1] == '\n' && memchr(s, '\n', n - 1) == NULL && strlen(s) == n;
}

static struct fc_ocsf_event base_event(void)
{
	struct fc_ocsf_event ev = {
		.time_ms = 1764300000123,
		.decision = FC_OCSF_ALLOWED,
		.activity_id = FC_OCSF_NET_OPEN,
		.src_ip = "127.0.0.1",
		.src_port = 40000,
		.dst_host = "api.test",
		.dst_ip = "10.0.0.2",
		.dst_port = 443,
		.proc = { "/usr/bin/curl", 42, NULL },
		.parent = { "/bin/bash", 41, NULL },
		.rule = "api_no_admin",
		.engine = "opa",
		.layer = "l7",
		.run_id = "r-1",
		.cell = "c1",
	};
	return ev;
}

static void test_net(void)
{
	struct fc_ocsf_event ev = base_event();
	char *line = NULL;
	size_t n = 0;
	cJSON *o;

	ok(fc_ocsf_net_event(&ev, &line, &n) == 0 && one_line(line, n), "4001 built, one line");
	o = cJSON_Parse(line);
	ok(o != NULL, "valid JSON");
	is_int(num_at(o, "class_uid"), 4001, "class_uid");
	is_str(str_at(o, "class_name"), "Network Activity", "class_name");
	is_int(num_at(o, "category_uid"), 4, "category_uid");
	is_int(num_at(o, "activity_id"), 1, "activity_id");
	is_int(num_at(o, "type_uid"), 400101, "type_uid");
	is_int(num_at(o, "time"), 1764300000123, "time in ms");
	is_str(str_at(o, "metadata.version"), "1.8.0", "OCSF version");
	is_str(str_at(o, "metadata.product.name"), "forkcell", "product name");
	is_str(str_at(o, "metadata.product.vendor_name"), "ForkCell", "vendor");
	is_str(str_at(o, "dst_endpoint.domain"), "api.test", "dst domain");
	is_str(str_at(o, "dst_endpoint.ip"), "10.0.0.2", "dst ip");
	is_int(num_at(o, "dst_endpoint.port"), 443, "dst port");
	is_int(num_at(o, "src_endpoint.port"), 40000, "src port");
	is_str(str_at(o, "actor.process.name"), "/usr/bin/curl", "process exe");
	is_int(num_at(o, "actor.process.pid"), 42, "pid");
	is_str(str_at(o, "actor.process.parent_process.name"), "/bin/bash", "parent");
	is_str(str_at(o, "firewall_rule.name"), "api_no_admin", "rule");
	is_str(str_at(o, "firewall_rule.type"), "opa", "engine");
	is_str(str_at(o, "action"), "Allowed", "action");
	is_str(str_at(o, "disposition"), "Allowed", "disposition");
	is_str(str_at(o, "unmapped.forkcell.decision"), "allowed", "decision");
	is_str(str_at(o, "unmapped.forkcell.run_id"), "r-1", "run id");
	is_str(str_at(o, "container.name"), "c1", "cell");
	cJSON_Delete(o);
	free(line);
	line = NULL;

	ev.decision = FC_OCSF_DENIED;
	ev.activity_id = FC_OCSF_NET_REFUSE;
	ev.rule = NULL;
	ev.reason = "no matching policy";
	ev.proc.exe = NULL;
	ok(fc_ocsf_net_event(&ev, &line, &n) == 0, "denied event");
	o = cJSON_Parse(line);
	is_str(str_at(o, "action"), "Denied", "action denied");
	is_str(str_at(o, "disposition"), "Blocked", "blocked");
	is_int(num_at(o, "status_id"), 2, "failure status");
	is_str(str_at(o, "status_detail"), "no matching policy", "reason");
	is_str(str_at(o, "firewall_rule.name"), "-", "no rule: '-'");
	ok(strstr(str_at(o, "message"), "NET:REFUSE DENIED - -> api.test:443") &&
		   strstr(str_at(o, "message"), "[reason:no matching policy]"),
	   "shorthand message: %s", str_at(o, "message"));
	ok(!at(o, "actor.process.name"), "unknown exe omitted");
	cJSON_Delete(o);
	free(line);
	line = NULL;

	ev.decision = FC_OCSF_AUDITED;
	ok(fc_ocsf_net_event(&ev, &line, &n) == 0, "audited event");
	o = cJSON_Parse(line);
	is_int(num_at(o, "disposition_id"), 17, "audit is disposition Logged");
	is_str(str_at(o, "action"), "Allowed", "audit lets through");
	cJSON_Delete(o);
	free(line);
	line = NULL;

	ev.activity_id = 3;
	is_int(fc_ocsf_net_event(&ev, &line, &n), -EINVAL, "unknown activity refused");
	ev.activity_id = FC_OCSF_NET_OPEN;
	ev.decision = (enum fc_ocsf_decision)9;
	is_int(fc_ocsf_net_event(&ev, &line, &n), -EINVAL, "bad decision refused");
}

static void test_http(void)
{
	struct fc_ocsf_event ev = base_event();
	struct fc_ocsf_summary s;
	char *line = NULL;
	size_t n = 0;
	cJSON *o;

	ev.method = "GET";
	ev.scheme = "https";
	ev.path = "/v1/items?token=SECRET#frag";
	ev.http_status = 200;
	ok(fc_ocsf_http_event(&ev, &line, &n) == 0 && one_line(line, n), "4002 built");
	ok(!strstr(line, "SECRET") && !strstr(line, "frag"), "query string never logged");
	o = cJSON_Parse(line);
	is_int(num_at(o, "class_uid"), 4002, "class_uid");
	is_int(num_at(o, "activity_id"), 3, "GET activity");
	is_int(num_at(o, "type_uid"), 400203, "type_uid");
	is_str(str_at(o, "http_request.http_method"), "GET", "method");
	is_str(str_at(o, "http_request.url.path"), "/v1/items", "path");
	is_str(str_at(o, "http_request.url.scheme"), "https", "scheme");
	is_str(str_at(o, "http_request.url.hostname"), "api.test", "hostname");
	is_int(num_at(o, "http_request.url.port"), 443, "url port");
	is_int(num_at(o, "http_response.code"), 200, "response code");
	cJSON_Delete(o);

	ok(fc_ocsf_parse_line(line, n, &s, NULL) == 0, "reader reads it back");
	ok(s.class_uid == 4002 && s.activity_id == 3 && s.time_ms == 1764300000123 &&
		   s.decision == FC_OCSF_ALLOWED && !strcmp(s.host, "api.test") && s.port == 443 &&
		   !strcmp(s.method, "GET") && !strcmp(s.path, "/v1/items") &&
		   !strcmp(s.binary, "/usr/bin/curl") && s.pid == 42 &&
		   !strcmp(s.rule, "api_no_admin") && !strcmp(s.engine, "opa") &&
		   s.http_status == 200 && !strcmp(s.run_id, "r-1") && !strcmp(s.cell, "c1"),
	   "every fact round-trips");
	free(line);
	line = NULL;

	ev.method = "PROPFIND";
	ev.dst_host = "a\"b\\c\n";
	ev.path = "/\"},\"x\":{\"";
	ok(fc_ocsf_http_event(&ev, &line, &n) == 0 && one_line(line, n), "hostile strings");
	o = cJSON_Parse(line);
	ok(o && num_at(o, "activity_id") == 99 && !at(o, "x") &&
		   !strcmp(str_at(o, "dst_endpoint.domain"), "a\"b\\c\n"),
	   "escaped, not injected; other methods are activity 99");
	cJSON_Delete(o);
	free(line);
	line = NULL;
	ev.method = NULL;
	is_int(fc_ocsf_http_event(&ev, &line, &n), -EINVAL, "method required");
}

static void test_reader(void)
{
	static const char l1[] = "{\"class_uid\":4001}\n";
	static const char l2[] = "{\"class_uid\":4002,\"action_id\":2,\"extra\":[1,2]}";
	static const char l3[] = "{\"class_uid\":4001,\"disposition_id\":17,"
				 "\"dst_endpoint\":{\"port\":\"x\",\"ip\":\"10.0.0.1\"},"
				 "\"http_request\":{\"url\":{\"path\":\"/a?k=v\"}}}";
	struct fc_ocsf_summary s;
	struct fc_diag d;
	cJSON *j = NULL;
	char *txt;

	fc_diag_init(&d);
	ok(fc_ocsf_parse_line(l1, sizeof(l1) - 1, &s, NULL) == 0 && s.class_uid == 4001 &&
		   s.decision == FC_OCSF_ALLOWED && !s.host[0], "minimal line");
	ok(fc_ocsf_parse_line(l2, sizeof(l2) - 1, &s, NULL) == 0 && s.decision == FC_OCSF_DENIED,
	   "action_id 2 is denied");
	ok(fc_ocsf_parse_line(l3, sizeof(l3) - 1, &s, NULL) == 0 && s.decision == FC_OCSF_AUDITED &&
		   s.port == 0 && !strcmp(s.host, "10.0.0.1") && !strcmp(s.path, "/a"),
	   "wrong types ignored, ip fallback, query cut");
	is_int(fc_ocsf_parse_line("NET:OPEN fake", 13, &s, &d), FC_EPROTO, "not JSON");
	is_int(fc_ocsf_parse_line("[1]", 3, &s, NULL), FC_EPROTO, "not an object");
	is_int(fc_ocsf_parse_line("{\"class\":1}", 11, &s, NULL), FC_EPROTO, "no class_uid");
	is_int(fc_ocsf_parse_line("{\"class_uid\":1.5}", 17, &s, NULL), FC_EPROTO,
	       "fractional class_uid");

	memset(&s, 0, sizeof(s));
	s.class_uid = 4002;
	s.activity_id = 6;
	s.decision = FC_OCSF_DENIED;
	strcpy(s.host, "api.test");
	s.port = 443;
	strcpy(s.method, "POST");
	strcpy(s.path, "/admin");
	strcpy(s.reason, "denied by deny rule");
	s.http_status = 403;
	ok(fc_ocsf_summary_to_json(&s, &j) == 0, "summary json");
	txt = cJSON_PrintUnformatted(j);
	is_str(txt, "{\"time\":0,\"class\":4002,\"activity\":6,\"decision\":\"denied\","
		    "\"dst\":\"api.test:443\",\"method\":\"POST\",\"path\":\"/admin\","
		    "\"status\":403,\"reason\":\"denied by deny rule\"}", "normalised denial");
	cJSON_free(txt);
	cJSON_Delete(j);
}

static void test_names(void)
{
	enum fc_ocsf_decision dcs;

	is_str(fc_ocsf_decision_name(FC_OCSF_AUDITED), "audited", "name");
	ok(fc_ocsf_decision_parse("denied", &dcs) == 0 && dcs == FC_OCSF_DENIED, "parse");
	is_int(fc_ocsf_decision_parse("maybe", &dcs), -EINVAL, "unknown decision");
	is_int(fc_ocsf_decision_parse(NULL, &dcs), -EINVAL, "NULL decision");
}

int main(void)
{
	test_net();
	test_http();
	test_reader();
	test_names();
	return done_testing();
}
