/*
 * t_policy: the policy parser, canonical form, revision and diff.
 *
 * Data-driven part: every .yaml file of tests/data/policy opens with
 * "# expect: ok" or "# expect: LINE:COL: message"; the parser must accept
 * the file, or refuse it with exactly "FILE:LINE:COL: message". Accepted
 * files must round-trip (the canonical JSON parses to the same canonical
 * JSON), and a "# same-as: OTHER" line asks for the same revision as OTHER.
 * The rest checks the model, the limits and the diff directly.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fc_fileio.h"
#include "fc_policy.h"
#include "tap.h"

#define DATA_DIR "tests/data/policy"

static int parse_str(const char *yaml, struct fc_policy **p, struct fc_diag *d)
{
	fc_diag_init(d);
	return fc_policy_parse(yaml, strlen(yaml), "t.yaml", p, d);
}

static void roundtrip(const char *name, const struct fc_policy *p)
{
	struct fc_policy_rev r1, r2;
	struct fc_policy *q = NULL;
	char *c1 = NULL, *c2 = NULL;
	size_t n1 = 0, n2 = 0;
	struct fc_diag d;

	fc_diag_init(&d);
	if (fc_policy_canon(p, &c1, &n1, &r1, &d) < 0 ||
	    fc_policy_parse(c1, n1, "canon", &q, &d) < 0 ||
	    fc_policy_canon(q, &c2, &n2, &r2, &d) < 0) {
		ok(0, "%s: canonical form parses back: %s", name, d.msg);
	} else {
		ok(n1 == n2 && memcmp(c1, c2, n1) == 0 && strcmp(r1.sha256, r2.sha256) == 0,
		   "%s: canonical form parses back to itself", name);
	}
	fc_policy_free(q);
	free(c1);
	free(c2);
}

static void revision_of(const char *name, char out[FC_SHA256_HEX])
{
	char path[512], *buf = NULL;
	struct fc_policy_rev rev;
	struct fc_policy *p = NULL;
	struct fc_diag d;
	size_t len = 0;

	out[0] = '\0';
	snprintf(path, sizeof(path), DATA_DIR "/%s", name);
	fc_diag_init(&d);
	if (fc_read_file(AT_FDCWD, path, FC_POLICY_MAX_BYTES, &buf, &len) == 0 &&
	    fc_policy_parse(buf, len, path, &p, &d) == 0 &&
	    fc_policy_canon(p, NULL, NULL, &rev, &d) == 0)
		memcpy(out, rev.sha256, FC_SHA256_HEX);
	fc_policy_free(p);
	free(buf);
}

static void data_file(const char *name)
{
	char path[512], want[FC_DIAG_MSG_MAX + 600], *buf = NULL, *nl, *same;
	char ra[FC_SHA256_HEX], rb[FC_SHA256_HEX];
	struct fc_policy *p = NULL;
	struct fc_diag d;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof(path), DATA_DIR "/%s", name);
	if (fc_read_file(AT_FDCWD, path, FC_POLICY_MAX_BYTES, &buf, &len) < 0 ||
	    strncmp(buf, "# expect: ", 10) != 0 || !(nl = strchr(buf, '\n'))) {
		ok(0, "%s: readable, with an '# expect:' line", name);
		free(buf);
		return;
	}
	fc_diag_init(&d);
	rc = fc_policy_parse(buf, len, path, &p, &d);
	if (strncmp(buf + 10, "ok\n", 3) == 0) {
		is_int(rc, 0, "%s: accepted %s", name, d.msg);
		if (rc == 0)
			roundtrip(name, p);
	} else {
		snprintf(want, sizeof(want), "%s:%.*s", path, (int)(nl - buf - 10), buf + 10);
		ok(rc == FC_EPOLICY || rc == FC_ELIMIT, "%s: refused", name);
		is_str(d.msg, want, "%s: message", name);
	}
	same = strstr(buf, "\n# same-as: ");
	if (same && rc == 0) {
		same += 12;
		*strchrnul(same, '\n') = '\0';
		revision_of(name, ra);
		revision_of(same, rb);
		ok(ra[0] && strcmp(ra, rb) == 0, "%s: same revision as %s", name, same);
	}
	fc_policy_free(p);
	free(buf);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void data_files(void)
{
	char *names[512];
	size_t n = 0;
	struct dirent *e;
	DIR *dir = opendir(DATA_DIR);

	if (!dir) {
		skip(1, "no " DATA_DIR " (run from the source tree)");
		return;
	}
	while ((e = readdir(dir)) && n < 512)
		if (strlen(e->d_name) > 5 && !strcmp(e->d_name + strlen(e->d_name) - 5, ".yaml"))
			names[n++] = strdup(e->d_name);
	closedir(dir);
	qsort(names, n, sizeof(*names), name_cmp);
	ok(n >= 40, "found %zu policy data files", n);
	for (size_t i = 0; i < n; i++) {
		data_file(names[i]);
		free(names[i]);
	}
}

static void model(void)
{
	struct fc_policy *p = NULL;
	struct fc_pol_endpoint *e;
	struct fc_diag d;
	int rc = parse_str("version: 1\n"
			   "filesystem_policy: {read_only: [/usr//lib/./x/]}\n"
			   "network_policies:\n"
			   "  b: {endpoints: [{host: API.Test, port: 8443, protocol: rest,\n"
			   "      rules: [{allow: {method: post, path: /x, query: {z: a, b: c}}}]}]}\n"
			   "  a: {name: first}\n",
			   &p, &d);

	is_int(rc, 0, "model policy parses %s", d.msg);
	if (rc < 0)
		return;
	is_str(p->read_only[0], "/usr/lib/x", "filesystem path normalised");
	is_int(p->nnets, 2, "two network policies");
	is_str(p->nets[0].key, "a", "policies sorted by key");
	is_str(p->nets[0].name, "first", "display name kept");
	is_str(p->nets[1].name, "b", "name defaults to the key");
	e = &p->nets[1].endpoints[0];
	is_str(e->host, "api.test", "host folded to lower case");
	is_int(e->nports, 1, "port: N is one port");
	is_int(e->ports[0], 8443, "the port");
	is_int(e->enforcement, FC_POL_ENFORCE, "enforcement defaults to enforce");
	is_str(e->rules[0].method, "POST", "method folded to upper case");
	is_str(e->rules[0].query[0].key, "b", "query keys sorted");
	is_int(p->compat, FC_POL_BEST_EFFORT, "landlock defaults to best_effort");
	is_int(p->run_as_user.kind, FC_POL_ID_IMAGE, "run_as_user omitted: the image's user");
	fc_policy_free(p);
}

/* head, then n times pre<i>post, then tail. */
static char *repeat(const char *head, const char *pre, const char *post, int n)
{
	size_t cap = strlen(head) + (size_t)n * (strlen(pre) + strlen(post) + 16) + 1, o;
	char *s = malloc(cap);

	o = (size_t)snprintf(s, cap, "%s", head);
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%d%s", pre, i, post);
	return s;
}

static void limits(void)
{
	struct fc_policy *p = NULL;
	struct fc_diag d;
	char *s, *big;

	s = repeat("version: 1\nfilesystem_policy:\n  read_only:\n", "    - /p", "\n", 257);
	is_int(parse_str(s, &p, &d), FC_ELIMIT, "257 paths refused");
	is_str(d.msg, "t.yaml:260:7: filesystem_policy.read_only[256]: more than 256 "
	       "filesystem paths", "  message");
	free(s);
	s = repeat("version: 1\nfilesystem_policy:\n  read_only:\n", "    - /p", "\n", 256);
	is_int(parse_str(s, &p, &d), 0, "256 paths accepted");
	fc_policy_free(p);
	free(s);
	s = repeat("version: 1\nnetwork_policies:\n", "  p", ": {}\n", 1025);
	is_int(parse_str(s, &p, &d), FC_ELIMIT, "1025 policies refused");
	free(s);
	big = malloc(4200);
	memset(big, 'a', 4200);
	memcpy(big, "version: 1\nfilesystem_policy: {read_only: [/", 44);
	strcpy(big + 4150, "]}\n");
	is_int(parse_str(big, &p, &d), FC_ELIMIT, "path over 4096 bytes refused");
	free(big);
	big = calloc(1, FC_POLICY_MAX_BYTES + 2);
	memset(big, '#', FC_POLICY_MAX_BYTES + 1);
	fc_diag_init(&d);
	is_int(fc_policy_parse(big, FC_POLICY_MAX_BYTES + 1, NULL, &p, &d), FC_ELIMIT,
	       "file over 1 MiB refused");
	is_str(d.msg, "<policy>:1:1: policy file larger than 1048576 bytes", "  message");
	free(big);
	fc_diag_init(&d);
	is_int(fc_policy_parse("version: 1\0x", 12, "n", &p, &d), FC_EPOLICY,
	       "NUL byte refused");
	is_int(fc_policy_parse("version: \"\xff\"", 12, "u", &p, &d), FC_EPOLICY,
	       "invalid UTF-8 refused");
	is_int(parse_str("version: 1\nx: \"a\\tb\"\n", &p, &d), FC_EPOLICY,
	       "control character refused");
	is_int(d.line, 2, "diag line");
	is_int(d.col, 4, "diag column");
}

static cJSON *diff_of(const char *a, const char *b)
{
	struct fc_policy *pa = NULL, *pb = NULL;
	cJSON *out = NULL;
	struct fc_diag d;

	if (parse_str(a, &pa, &d) == 0 && parse_str(b, &pb, &d) == 0)
		fc_policy_diff(pa, pb, &out);
	fc_policy_free(pa);
	fc_policy_free(pb);
	return out;
}

static char *list_text(const cJSON *o, const char *key)
{
	const cJSON *it;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, key))
		fprintf(f, "%s;", it->valuestring);
	fclose(f);
	return buf;
}

static void diff(void)
{
	const char *a = "version: 1\n"
			"filesystem_policy: {read_only: [/usr], read_write: [/data]}\n"
			"network_policies:\n"
			"  x: {binaries: [{path: /bin/c}], endpoints: [{host: a.test, port: 443,\n"
			"      protocol: rest, access: read-only}]}\n";
	const char *b = "version: 1\n"
			"landlock: {compatibility: hard_requirement}\n"
			"filesystem_policy: {read_only: [/usr]}\n"
			"network_policies:\n"
			"  y: {binaries: [{path: /bin/c}], endpoints: [{host: a.test, port: 443,\n"
			"      protocol: rest, rules: [{allow: {method: GET, path: /**}},\n"
			"      {allow: {method: POST, path: /up}}], deny_rules: [{method: POST,\n"
			"      path: /up, query: {force: \"1\"}}]}]}\n";
	cJSON *o = diff_of(a, b);
	char *s;

	ok(o != NULL, "diff computed");
	s = list_text(o, "only_b");
	is_str(s, "network /bin/c -> a.test:443 GET /** except POST /up?force=1;"
		  "network /bin/c -> a.test:443 HEAD /** except POST /up?force=1;"
		  "network /bin/c -> a.test:443 POST /up except POST /up?force=1;",
	       "what B allows that A does not");
	free(s);
	s = list_text(o, "only_a");
	is_str(s, "filesystem read-write /data;network /bin/c -> a.test:443 GET **;"
		  "network /bin/c -> a.test:443 HEAD **;network /bin/c -> a.test:443 OPTIONS **;",
	       "what A allows that B does not");
	free(s);
	s = list_text(o, "changed");
	is_str(s, "landlock.compatibility: best_effort -> hard_requirement;", "changed settings");
	free(s);
	cJSON_Delete(o);
	o = diff_of(a, a);
	s = list_text(o, "only_a");
	is_str(s, "", "a policy has no difference with itself");
	free(s);
	cJSON_Delete(o);
}

int main(void)
{
	data_files();
	model();
	limits();
	diff();
	return done_testing();
}
