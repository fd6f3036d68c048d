/*
 * t_openshell_argv: the pure part of the openshell runtime against the CLI
 * contract (reference openshell.md §2.1-§2.3): every command line exactly,
 * the driver-config JSON, names and paths (including refusals of what
 * would reach a shell), the `sandbox get`, `policy get` and sentinel
 * parsers, the policy evidence, and the exit-status decision table,
 * forgery cases included.
 *
 * The module is pure and lives in ctl/, which unit tests do not link, so
 * its source is compiled into this test directly.
 */
#include "../../ctl/openshell_argv.c"

#include <stdio.h>
#include <string.h>

#include "tap.h"

static void is_argv(const struct osh_argv *a, const char *const *want, const char *what)
{
	size_t n = 0;
	int same = 1;

	while (want[n])
		n++;
	if (a->n != n)
		same = 0;
	for (size_t i = 0; same && i < n; i++)
		if (strcmp(a->v[i], want[i]) != 0) {
			diag("%s: argv[%zu] is '%s', want '%s'", what, i, a->v[i], want[i]);
			same = 0;
		}
	ok(same && a->v[a->n] == NULL, "%s: argv is exactly as the contract says", what);
	if (!same)
		for (size_t i = 0; i < a->n; i++)
			diag("  got[%zu] = '%s'", i, a->v[i]);
}

static void test_names(void)
{
	char out[128];
	char longcell[200];

	is_int(osh_sandbox_name("demo", "run_1764331234_abcdef12", out, sizeof(out)), 0, "name");
	is_str(out, "fc-demo-abcdef12", "name: fc-<cell>-<the run id's random end>");
	is_int(osh_sandbox_name("My.Cell", "x_ABCDEF12", out, sizeof(out)), 0, "name mixed");
	is_str(out, "fc-my-cell-abcdef12", "name: lower-cased, '.' mapped to '-'");
	is_int(osh_sandbox_name("c", "r_1", out, sizeof(out)), 0, "name short run id");
	is_str(out, "fc-c-r-1", "name: a short run id is used whole, '_' mapped to '-'");
	memset(longcell, 'c', sizeof(longcell) - 1);
	longcell[sizeof(longcell) - 1] = '\0';
	is_int(osh_sandbox_name(longcell, "12345678", out, sizeof(out)), 0, "long cell");
	is_int(strlen(out), OSH_NAME_MAX, "name: fits a DNS label (63)");
	is_str(out + strlen(out) - 9, "-12345678", "name: the run id part survives shortening");
	is_int(osh_sandbox_name("", "1", out, sizeof(out)), FC_ENAME, "name: empty cell refused");
	is_int(osh_sandbox_name("c", "", out, sizeof(out)), FC_ENAME, "name: empty run refused");
	is_int(osh_sandbox_name("cell", "12345678", out, 8), FC_ENAME, "name: small buffer");
}

static void test_endpoint(void)
{
	struct fc_diag d;

	fc_diag_init(&d);
	is_int(osh_check_endpoint(NULL, &d), 0, "endpoint: unset is fine");
	is_int(osh_check_endpoint("", &d), 0, "endpoint: empty is fine");
	is_int(osh_check_endpoint("http://127.0.0.1:17670", &d), 0, "endpoint: http");
	is_int(osh_check_endpoint("https://gw.example:443", &d), 0, "endpoint: https");
	is_int(osh_check_endpoint("127.0.0.1:17670", &d), FC_EUSAGE, "endpoint: no scheme");
	ok(strstr(d.msg, "http://") && strstr(d.msg, "OPENSHELL_GATEWAY_ENDPOINT"),
	   "endpoint: the error names the variable and the schemes (%s)", d.msg);
	is_int(osh_check_endpoint("grpc://x", &d), FC_EUSAGE, "endpoint: other scheme");
	is_int(osh_check_endpoint("http://", &d), FC_EUSAGE, "endpoint: no host");
}

static void test_paths(void)
{
	struct fc_diag d;
	char out[OSH_PATH_MAX], longid[66];

	fc_diag_init(&d);
	is_int(osh_workdir(NULL, out, sizeof(out), &d), 0, "workdir default");
	is_str(out, "/sandbox/work", "workdir: default is the mount target");
	is_int(osh_workdir("/workspace", out, sizeof(out), &d), 0, "workdir generic");
	is_str(out, "/sandbox/work", "workdir: /workspace is rebased");
	is_int(osh_workdir("/workspace/src/a", out, sizeof(out), &d), 0, "workdir generic sub");
	is_str(out, "/sandbox/work/src/a", "workdir: /workspace/sub is rebased");
	is_int(osh_workdir("/sandbox/work/x", out, sizeof(out), &d), 0, "workdir native");
	is_str(out, "/sandbox/work/x", "workdir: inside the mount as is");
	is_int(osh_workdir("/sandbox", out, sizeof(out), &d), FC_EUSAGE, "workdir /sandbox");
	is_int(osh_workdir("/workspacex", out, sizeof(out), &d), FC_EUSAGE, "workdir prefix");
	is_int(osh_workdir("/sandbox/work/../x", out, sizeof(out), &d), FC_EUSAGE, "workdir ..");
	is_int(osh_workdir("/sandbox/work/..", out, sizeof(out), &d), FC_EUSAGE, "workdir ..end");
	is_int(osh_workdir("work", out, sizeof(out), &d), FC_EUSAGE, "workdir relative");

	is_int(osh_sentinel_path("run_17_ab-CD", out, sizeof(out)), 0, "sentinel path");
	is_str(out, "/sandbox/.fc/exit-run_17_ab-CD", "sentinel: /sandbox/.fc/exit-<run>");
	is_int(osh_sentinel_path("a;rm -rf /", out, sizeof(out)), FC_ENAME, "sentinel: ';' refused");
	is_int(osh_sentinel_path("$(id)", out, sizeof(out)), FC_ENAME, "sentinel: $() refused");
	is_int(osh_sentinel_path("a/b", out, sizeof(out)), FC_ENAME, "sentinel: '/' refused");
	is_int(osh_sentinel_path("a b", out, sizeof(out)), FC_ENAME, "sentinel: space refused");
	is_int(osh_sentinel_path("", out, sizeof(out)), FC_ENAME, "sentinel: empty refused");
	memset(longid, 'a', 65);
	longid[65] = '\0';
	is_int(osh_sentinel_path(longid, out, sizeof(out)), FC_ENAME, "sentinel: > 64 refused");

	is_int(osh_ocsf_path(0, out, sizeof(out)), 0, "ocsf path");
	is_str(out, "/var/log/openshell-ocsf.1970-01-01.log", "ocsf: UTC date of the run");
	is_int(osh_ocsf_path(1795866000, out, sizeof(out)), 0, "ocsf path 2026");
	is_str(out, "/var/log/openshell-ocsf.2026-11-28.log", "ocsf: 2026-11-28");
}

static void test_driver_json(void)
{
	char *j = NULL;
	cJSON *p;
	const cJSON *m;

	is_int(osh_driver_config_json("/mnt/cells/demo", &j), 0, "driver json");
	is_str(j,
	       "{\"docker\":{\"mounts\":[{\"type\":\"bind\",\"source\":\"/mnt/cells/demo\","
	       "\"target\":\"/sandbox/work\",\"read_only\":false}]}}",
	       "driver json: one read-write bind at /sandbox/work");
	free(j);
	j = NULL;
	is_int(osh_driver_config_json("/mnt/we\"ird\\dir", &j), 0, "driver json quoting");
	p = cJSON_Parse(j);
	m = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "docker"), "mounts"), 0);
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(m, "source")), "/mnt/we\"ird\\dir",
	       "driver json: a quote and a backslash survive the round trip");
	cJSON_Delete(p);
	free(j);
	is_int(osh_driver_config_json("relative", &j), -EINVAL, "driver json: relative refused");
}

static void test_argv(void)
{
	struct osh_argv a;
	char *const env[] = { (char *)"LANG=C", (char *)"BADNOEQ", (char *)"HOME=/workspace/h",
			      (char *)"HOME2=/workspace", NULL };
	char *const cmd[] = { (char *)"make", (char *)"-j2", (char *)"--", (char *)"x y", NULL };
	struct osh_create c = { .bin = "/opt/openshell", .name = "fc-demo-run12345", .image = "img",
				.driver_json = "{}", .run_id = "run12345" };
	struct osh_exec e = { .bin = "openshell", .name = "fc-demo-run12345",
			      .workdir = "/sandbox/work", .timeout_s = 30, .env = env,
			      .argv = cmd, .sentinel = "/sandbox/.fc/exit-run12345" };
	char script[512];

	osh_argv_init(&a);
	osh_argv_version(&a, "openshell");
	is_argv(&a, (const char *const[]){ "openshell", "--version", NULL }, "version");
	osh_argv_release(&a);

	osh_argv_create(&a, &c);
	is_argv(&a,
		(const char *const[]){ "/opt/openshell", "sandbox", "create", "--name",
				       "fc-demo-run12345", "--from", "img", "--no-auto-providers",
				       "--driver-config-json", "{}", "--label",
				       "forkcell.run=run12345", "--detach", "--", "sleep",
				       "infinity", NULL },
		"create without a policy");
	osh_argv_release(&a);
	c.policy = "/store/policies/abc.yaml";
	osh_argv_create(&a, &c);
	is_str(a.v[7], "--policy", "create: --policy follows --from");
	is_str(a.v[8], "/store/policies/abc.yaml", "create: the snapshot path");
	for (size_t i = 0; i < a.n; i++)
		if (strcmp(a.v[i], "-o") == 0 || strcmp(a.v[i], "--upload") == 0)
			ok(0, "create: -o/--upload never combined with the trailing command");
	osh_argv_release(&a);

	osh_argv_get(&a, "openshell", "fc-x");
	is_argv(&a, (const char *const[]){ "openshell", "sandbox", "get", "fc-x", "-o", "json",
					   NULL }, "get");
	osh_argv_release(&a);

	osh_argv_exec(&a, &e);
	snprintf(script, sizeof(script), OSH_WRAPPER, "/sandbox/.fc/exit-run12345");
	is_argv(&a,
		(const char *const[]){ "openshell", "sandbox", "exec", "-n", "fc-demo-run12345",
				       "--no-tty", "--workdir", "/sandbox/work", "--timeout", "30",
				       "--env", "LANG=C", "--env", "HOME=/sandbox/work/h", "--env",
				       "HOME2=/workspace", "--", "sh", "-c", script, "fc", "make",
				       "-j2", "--", "x y", NULL },
		"exec with the sentinel wrapper");
	ok(strstr(script, "(\"$@\"); fc_s=$?;") && strstr(script, "exit \"$fc_s\"") &&
		   strstr(script, "> /sandbox/.fc/exit-run12345;"),
	   "exec: the wrapper runs argv in a subshell and re-raises its status");
	osh_argv_release(&a);
	e.sentinel = NULL;
	e.timeout_s = 0;
	e.env = NULL;
	osh_argv_exec(&a, &e);
	is_argv(&a,
		(const char *const[]){ "openshell", "sandbox", "exec", "-n", "fc-demo-run12345",
				       "--no-tty", "--workdir", "/sandbox/work", "--timeout", "0",
				       "--", "make", "-j2", "--", "x y", NULL },
		"exec without a sentinel or timeout");
	osh_argv_release(&a);

	osh_argv_cat(&a, "openshell", "fc-x", "/sandbox/.fc/exit-r", 30);
	is_argv(&a, (const char *const[]){ "openshell", "sandbox", "exec", "-n", "fc-x",
					   "--no-tty", "--timeout", "30", "--", "cat",
					   "/sandbox/.fc/exit-r", NULL }, "cat");
	osh_argv_release(&a);
	osh_argv_delete(&a, "openshell", "fc-x");
	is_argv(&a, (const char *const[]){ "openshell", "sandbox", "delete", "fc-x", NULL },
		"delete");
	osh_argv_release(&a);
	osh_argv_policy_get(&a, "openshell", "fc-x");
	is_argv(&a, (const char *const[]){ "openshell", "policy", "get", "fc-x", "-o", "json",
					   NULL }, "policy get");
	osh_argv_release(&a);
	ok(a.v == NULL && a.n == 0, "release leaves an empty argv");
}

static void test_parse_sandbox(void)
{
	static const char good[] =
		"{\"id\":\"5f0c\",\"name\":\"fc-a-1\",\"workspace\":\"default\",\"labels\":"
		"{\"forkcell.run\":\"1\"},\"annotations\":{},\"resource_version\":3,"
		"\"created_at\":\"2026-08-01T00:00:00Z\",\"phase\":\"Ready\","
		"\"current_policy_version\":2,\"policy_source\":\"sandbox\",\"revision\":1,"
		"\"policy\":null}";
	struct osh_sandbox sb;
	struct fc_diag d;

	fc_diag_init(&d);
	is_int(osh_parse_sandbox(good, strlen(good), &sb, &d), 0, "get json parses");
	is_str(sb.id, "5f0c", "get json: id");
	is_str(sb.phase, "Ready", "get json: phase");
	is_int(sb.policy_version, 2, "get json: current_policy_version");
	is_int(osh_parse_sandbox(good, strlen(good) - 1, &sb, &d), FC_EPROTO, "truncated refused");
	is_int(osh_parse_sandbox("[]", 2, &sb, &d), FC_EPROTO, "array refused");
	is_int(osh_parse_sandbox("{\"id\":\"x\",\"name\":\"y\"}", 21, &sb, &d), FC_EPROTO,
	       "missing phase refused");
	is_int(osh_parse_sandbox("{\"id\":1,\"name\":\"y\",\"phase\":\"Ready\"}", 35, &sb, &d),
	       FC_EPROTO, "numeric id refused");
}

#define HASH64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_parse_policy(void)
{
	static const char good[] =
		"{\"scope\":\"sandbox\",\"sandbox\":\"fc-a-1\",\"version\":3,\"hash\":\"" HASH64
		"\",\"status\":\"loaded\",\"active_version\":3,\"created_at_ms\":1,"
		"\"loaded_at_ms\":2,\"load_error\":null,\"provenance\":\"cli\"}";
	static const struct {
		const char *in, *what;
	} bad[] = {
		{ "[]", "an array" },
		{ "{\"version\":1,\"hash\":\"" HASH64 "\",\"status\":\"loaded\"", "truncated" },
		{ "{\"hash\":\"" HASH64 "\",\"status\":\"loaded\"}", "no version" },
		{ "{\"version\":\"1\",\"hash\":\"" HASH64 "\",\"status\":\"loaded\"}",
		  "version a string" },
		{ "{\"version\":1.5,\"hash\":\"" HASH64 "\",\"status\":\"loaded\"}",
		  "version not an integer" },
		{ "{\"version\":-1,\"hash\":\"" HASH64 "\",\"status\":\"loaded\"}",
		  "version negative" },
		{ "{\"version\":4294967296,\"hash\":\"" HASH64 "\",\"status\":\"loaded\"}",
		  "version past u32" },
		{ "{\"version\":1,\"status\":\"loaded\"}", "no hash" },
		{ "{\"version\":1,\"hash\":7,\"status\":\"loaded\"}", "hash a number" },
		{ "{\"version\":1,\"hash\":\"sha256:" HASH64 "\",\"status\":\"loaded\"}",
		  "hash with a prefix" },
		{ "{\"version\":1,\"hash\":\"\",\"status\":\"loaded\"}", "hash empty" },
		{ "{\"version\":1,\"hash\":\"" HASH64 "\"}", "no status" },
		{ "{\"version\":1,\"hash\":\"" HASH64 "\",\"status\":\"LOADED\"}",
		  "status in capitals" },
		{ "{\"version\":1,\"hash\":\"" HASH64 "\",\"status\":\"active\"}",
		  "status not one of the four" },
		{ "{\"version\":1,\"hash\":\"" HASH64 "\",\"status\":\"loaded\",\"load_error\":1}",
		  "load_error a number" },
	};
	static const char *const words[] = { "pending", "loaded", "failed", "superseded" };
	struct osh_policy p;
	struct fc_diag d;
	char buf[512];

	fc_diag_init(&d);
	is_int(osh_parse_policy(good, strlen(good), &p, &d), 0, "policy get json parses");
	ok(p.version == 3 && strcmp(p.hash, HASH64) == 0 && strcmp(p.status, "loaded") == 0 &&
		   p.load_error[0] == '\0',
	   "policy get json: version, hash, status; a null load_error is empty");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		snprintf(buf, sizeof(buf),
			 "{\"version\":4294967295,\"hash\":\"ABCDEF01\",\"status\":\"%s\","
			 "\"load_error\":\"bad rule\"}",
			 words[i]);
		ok(osh_parse_policy(buf, strlen(buf), &p, &d) == 0 && strcmp(p.status, words[i]) == 0 &&
			   p.version == 4294967295LL && strcmp(p.load_error, "bad rule") == 0,
		   "policy status '%s' parses (u32 max version, upper-case hex)", words[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.version = 77;
		ok(osh_parse_policy(bad[i].in, strlen(bad[i].in), &p, &d) == FC_EPROTO &&
			   p.version == 77 && strstr(d.msg, "policy get"),
		   "policy get json refused: %s (%s)", bad[i].what, d.msg);
	}
}

static struct osh_policy_read good_read(long long version, const char *hash, const char *status)
{
	struct osh_policy_read r = { .ok = true, .rev = { .version = version } };

	snprintf(r.rev.hash, sizeof(r.rev.hash), "%s", hash);
	snprintf(r.rev.status, sizeof(r.rev.status), "%s", status);
	return r;
}

static void test_evidence(void)
{
	struct osh_policy_read b = good_read(1, "abcdef01", "loaded");
	struct osh_policy_read a = b, bad = { .ok = false };
	char out[1024], small[40];
	bool loaded = true;

	is_int(osh_policy_evidence(&b, &a, out, sizeof(out), &loaded), 0, "evidence: unchanged");
	is_str(out,
	       "{\"before\":{\"version\":1,\"hash\":\"abcdef01\",\"status\":\"loaded\"},"
	       "\"after\":{\"version\":1,\"hash\":\"abcdef01\",\"status\":\"loaded\"},"
	       "\"changed_during_run\":false}",
	       "evidence: the exact compact JSON");
	ok(loaded, "evidence: both loaded, unchanged -> policy_loaded");

	a = good_read(2, "abcdef02", "loaded");
	osh_policy_evidence(&b, &a, out, sizeof(out), &loaded);
	ok(!loaded && strstr(out, "\"after\":{\"version\":2,") &&
		   strstr(out, "\"changed_during_run\":true}"),
	   "evidence: a new revision during the run -> changed, not loaded (%s)", out);
	a = good_read(1, "abcdef02", "loaded");
	osh_policy_evidence(&b, &a, out, sizeof(out), &loaded);
	ok(!loaded && strstr(out, "\"changed_during_run\":true}"),
	   "evidence: same version, other hash -> changed");
	a = good_read(1, "abcdef01", "superseded");
	loaded = true;
	osh_policy_evidence(&b, &a, out, sizeof(out), &loaded);
	ok(!loaded && strstr(out, "\"changed_during_run\":false}"),
	   "evidence: not loaded after the run -> not loaded");

	snprintf(bad.error, sizeof(bad.error), "openshell policy get failed (exit 1): boom");
	loaded = true;
	is_int(osh_policy_evidence(&b, &bad, out, sizeof(out), &loaded), 0, "evidence: after failed");
	is_str(out,
	       "{\"before\":{\"version\":1,\"hash\":\"abcdef01\",\"status\":\"loaded\"},"
	       "\"after\":null,\"after_error\":\"openshell policy get failed (exit 1): boom\","
	       "\"changed_during_run\":null}",
	       "evidence: a failed second read is null plus after_error");
	ok(!loaded, "evidence: a failed second read -> not loaded");
	loaded = true;
	osh_policy_evidence(&bad, NULL, out, sizeof(out), &loaded);
	is_str(out,
	       "{\"before\":null,\"before_error\":\"openshell policy get failed (exit 1): boom\","
	       "\"after\":null,\"after_error\":\"not read: the command did not run\","
	       "\"changed_during_run\":null}",
	       "evidence: failed first read, no second read");
	ok(!loaded, "evidence: no second read -> not loaded");
	memset(bad.error, 'x', sizeof(bad.error) - 1);
	bad.error[sizeof(bad.error) - 1] = '\0';
	is_int(osh_policy_evidence(&bad, &bad, out, sizeof(out), NULL), 0,
	       "evidence: long errors are cut to fit");
	ok(strlen(out) < 600, "evidence: %zu bytes", strlen(out));
	snprintf(small, sizeof(small), "untouched");
	is_int(osh_policy_evidence(&b, &b, small, sizeof(small), NULL), -ENOSPC,
	       "evidence: too small a buffer is -ENOSPC");
	is_str(small, "untouched", "evidence: out untouched on error");
}

/* s with newlines shown as \n, so a TAP line stays one line. */
static const char *visible(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 3 < cap; s++) {
		if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

static void test_parse_sentinel(void)
{
	static const struct {
		const char *in;
		int rc, v;
	} cases[] = {
		{ "0", 0, 0 },       { "0\n", 0, 0 },     { "3\n", 0, 3 },   { "255\n", 0, 255 },
		{ "137", 0, 137 },   { "256", FC_EPROTO, 0 }, { "", FC_EPROTO, 0 }, { "\n", FC_EPROTO, 0 },
		{ "1\n\n", FC_EPROTO, 0 }, { " 0", FC_EPROTO, 0 }, { "-1", FC_EPROTO, 0 },
		{ "0003", FC_EPROTO, 0 }, { "exit status: 0", FC_EPROTO, 0 }, { "0 ", FC_EPROTO, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int v = -1;
		int rc = osh_parse_sentinel(cases[i].in, strlen(cases[i].in), &v);
		char vis[64];

		ok(rc == cases[i].rc && (rc < 0 || v == cases[i].v), "sentinel '%s' -> %d/%d",
		   visible(cases[i].in, vis, sizeof(vis)), cases[i].rc, cases[i].v);
	}
}

static void test_decide(void)
{
	static const struct {
		struct osh_outcome in;
		enum osh_verdict_kind kind;
		int status;
		bool timed_out;
		const char *source;
		const char *what;
	} cases[] = {
		{ { 0, false, true, 0 }, OSH_COMMAND_STATUS, 0, false, "exec_event", "0 + sentinel 0" },
		{ { 3, false, true, 3 }, OSH_COMMAND_STATUS, 3, false, "exec_event", "3 + sentinel 3" },
		{ { 137, false, true, 137 }, OSH_COMMAND_STATUS, 137, false, "exec_event",
		  "signal 9 via the exit event" },
		{ { 124, false, false, 0 }, OSH_COMMAND_STATUS, 124, true, "timeout_124",
		  "CLI 124 without a sentinel: the --timeout expired" },
		{ { 124, false, true, 124 }, OSH_COMMAND_STATUS, 124, false, "exec_event",
		  "the command itself exited 124" },
		{ { 9, true, false, 0 }, OSH_COMMAND_STATUS, 124, true, "timeout_124",
		  "our own deadline killed the CLI" },
		{ { 0, false, true, 3 }, OSH_COMMAND_STATUS, 3, false, "sentinel",
		  "#2732: CLI 0 without an exit event, sentinel 3" },
		{ { 0, false, false, 0 }, OSH_COMMAND_STATUS, 125, false, "unconfirmed",
		  "CLI 0 and no sentinel: unconfirmed, a failure" },
		{ { 1, false, false, 0 }, OSH_RUNTIME_ERROR, 125, false, "runtime_error",
		  "CLI 1 and no sentinel: a runtime error, never a status" },
		{ { 1, false, true, 0 }, OSH_COMMAND_STATUS, 125, false, "unconfirmed",
		  "forgery: CLI 1 but sentinel rewritten to 0" },
		{ { 3, false, true, 0 }, OSH_COMMAND_STATUS, 125, false, "unconfirmed",
		  "forgery: exit event 3, sentinel 0: never 0" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct osh_verdict v;

		osh_decide(&cases[i].in, &v);
		ok(v.kind == cases[i].kind && v.status == cases[i].status &&
			   v.timed_out == cases[i].timed_out &&
			   strcmp(v.exit_source, cases[i].source) == 0,
		   "decide: %s -> %d %s", cases[i].what, cases[i].status, cases[i].source);
	}
}

int main(void)
{
	test_names();
	test_endpoint();
	test_paths();
	test_driver_json();
	test_argv();
	test_parse_sandbox();
	test_parse_policy();
	test_evidence();
	test_parse_sentinel();
	test_decide();
	return done_testing();
}
