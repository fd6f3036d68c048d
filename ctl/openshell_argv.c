/*
 * openshell_argv: command lines, documents and decisions of the openshell
 * runtime, kept pure (no I/O) so they are unit-tested against the CLI
 * contract of reference openshell.md §2.2 without a gateway.
 */
#include "openshell_argv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/*
 * The sentinel wrapper, run as `sh -c WRAPPER fc ARGV...`. The subshell
 * keeps builtins such as exit or exec from skipping the sentinel; the
 * status is written after the command and then re-raised as the wrapper's
 * own exit, so the exec event still carries the command's status. Errors
 * of the sentinel write itself go to /dev/null so the command's stderr is
 * unchanged. %s is the sentinel path (checked to be [A-Za-z0-9/._-]).
 */
#define OSH_WRAPPER                                                                      \
	"(\"$@\"); fc_s=$?; { mkdir -p " OSH_SENTINEL_DIR " && echo \"$fc_s\" > %s; } " \
	"2>/dev/null; exit \"$fc_s\""

void osh_argv_init(struct osh_argv *a)
{
	memset(a, 0, sizeof(*a));
}

void osh_argv_release(struct osh_argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	osh_argv_init(a);
}

int osh_argv_add(struct osh_argv *a, const char *s)
{
	char *copy;

	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	a->v[a->n++] = copy;
	a->v[a->n] = NULL;
	return 0;
}

/* Append every string of a NULL-terminated list. */
static int add_all(struct osh_argv *a, const char *const *list)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && list[i]; i++)
		rc = osh_argv_add(a, list[i]);
	return rc;
}

static int add_int(struct osh_argv *a, int v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%d", v);
	return osh_argv_add(a, buf);
}

static void name_part(const char *in, size_t max, char *out, size_t *len)
{
	for (size_t i = 0; i < max && in[i]; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			c = '-';
		out[(*len)++] = c;
	}
}

int osh_sandbox_name(const char *cell, const char *run_id, char *out, size_t cap)
{
	/* "fc-" + cell + "-" + the last 8 characters of the run id */
	size_t cell_max = OSH_NAME_MAX - 3 - 1 - 8;
	char buf[OSH_NAME_MAX + 1];
	size_t len = 0, rlen;

	if (!cell || !*cell || !run_id || !*run_id)
		return FC_ENAME;
	rlen = strlen(run_id);
	memcpy(buf, "fc-", 3);
	len = 3;
	name_part(cell, cell_max, buf, &len);
	buf[len++] = '-';
	/* Run ids are run_<unix time>_<8 random hex>: the end is what differs. */
	name_part(run_id + (rlen > 8 ? rlen - 8 : 0), 8, buf, &len);
	buf[len] = '\0';
	if (len + 1 > cap)
		return FC_ENAME;
	memcpy(out, buf, len + 1);
	return 0;
}

int osh_check_endpoint(const char *endpoint, struct fc_diag *d)
{
	const char *host;

	if (!endpoint || !*endpoint)
		return 0;
	if (strncmp(endpoint, "http://", 7) == 0)
		host = endpoint + 7;
	else if (strncmp(endpoint, "https://", 8) == 0)
		host = endpoint + 8;
	else
		return fc_diag_set(d, FC_EUSAGE,
				   "OPENSHELL_GATEWAY_ENDPOINT must start with http:// or https:// "
				   "(got '%.200s')",
				   endpoint);
	if (!*host || *host == '/')
		return fc_diag_set(d, FC_EUSAGE, "OPENSHELL_GATEWAY_ENDPOINT '%.200s' has no host",
				   endpoint);
	return 0;
}

/* s is prefix exactly or prefix followed by '/': the rest (maybe ""), else NULL. */
static const char *under(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n) != 0 || (s[n] != '\0' && s[n] != '/'))
		return NULL;
	return s + n;
}

int osh_workdir(const char *req, char *out, size_t cap, struct fc_diag *d)
{
	const char *rest;
	int n;

	if (!req || !*req)
		req = OSH_WORK_TARGET;
	rest = under(req, OSH_WORK_TARGET);
	if (!rest)
		rest = under(req, OSH_GENERIC_WORKDIR);
	if (!rest || strstr(rest, "/../") || strstr(rest, "/./") ||
	    (strlen(rest) >= 3 && strcmp(rest + strlen(rest) - 3, "/..") == 0))
		return fc_diag_set(d, FC_EUSAGE,
				   "the openshell runtime mounts the cell at " OSH_WORK_TARGET
				   "; workdir '%.200s' is not inside it",
				   req);
	n = snprintf(out, cap, "%s%s", OSH_WORK_TARGET, rest);
	if (n < 0 || (size_t)n >= cap)
		return fc_diag_set(d, FC_EUSAGE, "workdir '%.200s' is too long", req);
	return 0;
}

int osh_sentinel_path(const char *run_id, char *out, size_t cap)
{
	size_t n = run_id ? strlen(run_id) : 0;
	int w;

	if (n == 0 || n > 64)
		return FC_ENAME;
	for (size_t i = 0; i < n; i++) {
		char c = run_id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return FC_ENAME;
	}
	w = snprintf(out, cap, "%s/exit-%s", OSH_SENTINEL_DIR, run_id);
	return w < 0 || (size_t)w >= cap ? FC_ENAME : 0;
}

int osh_ocsf_path(time_t t, char *out, size_t cap)
{
	struct tm tm;
	char date[16];
	int n;

	if (!gmtime_r(&t, &tm) || strftime(date, sizeof(date), "%Y-%m-%d", &tm) == 0)
		return -ERANGE;
	n = snprintf(out, cap, "/var/log/openshell-ocsf.%s.log", date);
	return n < 0 || (size_t)n >= cap ? -ERANGE : 0;
}

int osh_driver_config_json(const char *mountpoint, char **out)
{
	cJSON *root, *docker, *mounts, *m;
	char *s;

	if (!mountpoint || mountpoint[0] != '/')
		return -EINVAL;
	root = cJSON_CreateObject();
	docker = cJSON_AddObjectToObject(root, "docker");
	mounts = cJSON_AddArrayToObject(docker, "mounts");
	m = cJSON_CreateObject();
	if (!m || !mounts) {
		cJSON_Delete(m);
		cJSON_Delete(root);
		return -ENOMEM;
	}
	cJSON_AddItemToArray(mounts, m);
	if (!cJSON_AddStringToObject(m, "type", "bind") ||
	    !cJSON_AddStringToObject(m, "source", mountpoint) ||
	    !cJSON_AddStringToObject(m, "target", OSH_WORK_TARGET) ||
	    !cJSON_AddFalseToObject(m, "read_only")) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!s)
		return -ENOMEM;
	/* Hand out malloc() memory whatever allocator cJSON was built with. */
	*out = strdup(s);
	cJSON_free(s);
	return *out ? 0 : -ENOMEM;
}

int osh_argv_version(struct osh_argv *a, const char *bin)
{
	const char *const v[] = { bin, "--version", NULL };

	return add_all(a, v);
}

int osh_argv_create(struct osh_argv *a, const struct osh_create *c)
{
	const char *const head[] = { c->bin, "sandbox", "create", "--name", c->name,
				     "--from", c->image, NULL };
	/* A long-lived main process: since PR #2726 its exit ends the sandbox. */
	const char *const tail[] = { "--detach", "--", "sleep", "infinity", NULL };
	char label[256];
	int rc;

	snprintf(label, sizeof(label), "forkcell.run=%s", c->run_id);
	rc = add_all(a, head);
	if (rc == 0 && c->policy) {
		rc = osh_argv_add(a, "--policy");
		rc = rc ?: osh_argv_add(a, c->policy);
	}
	rc = rc ?: osh_argv_add(a, "--no-auto-providers");
	rc = rc ?: osh_argv_add(a, "--driver-config-json");
	rc = rc ?: osh_argv_add(a, c->driver_json);
	rc = rc ?: osh_argv_add(a, "--label");
	rc = rc ?: osh_argv_add(a, label);
	return rc ?: add_all(a, tail);
}

int osh_argv_get(struct osh_argv *a, const char *bin, const char *name)
{
	const char *const v[] = { bin, "sandbox", "get", name, "-o", "json", NULL };

	return add_all(a, v);
}

/*
 * forkcellctl defaults HOME to the generic workdir; inside OpenShell that
 * directory is OSH_WORK_TARGET, so HOME follows the same rebasing.
 */
static int add_env(struct osh_argv *a, const char *kv)
{
	const char *rest = strncmp(kv, "HOME=", 5) == 0 ? under(kv + 5, OSH_GENERIC_WORKDIR) : NULL;
	char buf[OSH_PATH_MAX + 8];

	if (!rest || snprintf(buf, sizeof(buf), "HOME=%s%s", OSH_WORK_TARGET, rest) >=
			     (int)sizeof(buf))
		return osh_argv_add(a, kv);
	return osh_argv_add(a, buf);
}

int osh_argv_exec(struct osh_argv *a, const struct osh_exec *e)
{
	const char *const head[] = { e->bin, "sandbox", "exec", "-n", e->name, "--no-tty",
				     "--workdir", e->workdir, "--timeout", NULL };
	char script[sizeof(OSH_WRAPPER) + OSH_PATH_MAX];
	int rc = add_all(a, head);

	rc = rc ?: add_int(a, e->timeout_s > 0 ? e->timeout_s : 0);
	for (size_t i = 0; rc == 0 && e->env && e->env[i]; i++) {
		if (!strchr(e->env[i], '='))
			continue;
		rc = osh_argv_add(a, "--env");
		rc = rc ?: add_env(a, e->env[i]);
	}
	rc = rc ?: osh_argv_add(a, "--");
	if (rc == 0 && e->sentinel) {
		snprintf(script, sizeof(script), OSH_WRAPPER, e->sentinel);
		rc = osh_argv_add(a, "sh");
		rc = rc ?: osh_argv_add(a, "-c");
		rc = rc ?: osh_argv_add(a, script);
		rc = rc ?: osh_argv_add(a, "fc");
	}
	for (size_t i = 0; rc == 0 && e->argv[i]; i++)
		rc = osh_argv_add(a, e->argv[i]);
	return rc;
}

int osh_argv_cat(struct osh_argv *a, const char *bin, const char *name, const char *path,
		 int timeout_s)
{
	const char *const head[] = { bin, "sandbox", "exec", "-n", name, "--no-tty", "--timeout",
				     NULL };
	const char *const tail[] = { "--", "cat", path, NULL };
	int rc = add_all(a, head);

	rc = rc ?: add_int(a, timeout_s);
	return rc ?: add_all(a, tail);
}

int osh_argv_delete(struct osh_argv *a, const char *bin, const char *name)
{
	const char *const v[] = { bin, "sandbox", "delete", name, NULL };

	return add_all(a, v);
}

int osh_argv_policy_get(struct osh_argv *a, const char *bin, const char *name)
{
	const char *const v[] = { bin, "policy", "get", name, "-o", "json", NULL };

	return add_all(a, v);
}

static int copy_str(const cJSON *j, const char *key, char *out, size_t cap, bool required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (!cJSON_IsString(v))
		return required ? FC_EPROTO : 0;
	if (strlen(v->valuestring) >= cap)
		return FC_EPROTO;
	strcpy(out, v->valuestring);
	return 0;
}

int osh_parse_sandbox(const char *buf, size_t len, struct osh_sandbox *out, struct fc_diag *d)
{
	struct osh_sandbox sb = { .policy_version = -1 };
	cJSON *j = cJSON_ParseWithLength(buf, len);
	const cJSON *pv;
	int rc;

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return fc_diag_set(d, FC_EPROTO, "openshell sandbox get: output is not a JSON object");
	}
	rc = copy_str(j, "id", sb.id, sizeof(sb.id), true);
	rc = rc ?: copy_str(j, "name", sb.name, sizeof(sb.name), true);
	rc = rc ?: copy_str(j, "phase", sb.phase, sizeof(sb.phase), true);
	pv = cJSON_GetObjectItemCaseSensitive(j, "current_policy_version");
	if (cJSON_IsNumber(pv))
		sb.policy_version = (long long)pv->valuedouble;
	cJSON_Delete(j);
	if (rc < 0)
		return fc_diag_set(d, rc, "openshell sandbox get: id, name or phase missing");
	*out = sb;
	return 0;
}

static bool is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	return s[n] == '\0' && n >= min && n <= max;
}

static bool is_policy_status(const char *s)
{
	static const char *const words[] = { "pending", "loaded", "failed", "superseded", NULL };

	for (size_t i = 0; words[i]; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

/* The fields of one revision; what is wrong with it, or NULL. */
static const char *policy_fields(const cJSON *j, struct osh_policy *p)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "hash");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
	const cJSON *le = cJSON_GetObjectItemCaseSensitive(j, "load_error");
	double dv;

	if (!cJSON_IsNumber(v))
		return "version is not a number";
	dv = v->valuedouble;
	/* In range first, so the cast below is defined. */
	if (!(dv >= 0 && dv <= (double)UINT32_MAX) || dv != (double)(long long)dv)
		return "version is not an integer in 0..4294967295";
	p->version = (long long)dv;
	if (!cJSON_IsString(h) || !is_hex(h->valuestring, OSH_POLICY_HASH_MIN, OSH_POLICY_HASH_MAX))
		return "hash is not a string of hex digits";
	strcpy(p->hash, h->valuestring);
	if (!cJSON_IsString(st) || !is_policy_status(st->valuestring))
		return "status is not one of pending, loaded, failed, superseded";
	strcpy(p->status, st->valuestring);
	if (le && !cJSON_IsNull(le) && !cJSON_IsString(le))
		return "load_error is neither a string nor null";
	if (cJSON_IsString(le))
		snprintf(p->load_error, sizeof(p->load_error), "%s", le->valuestring);
	return NULL;
}

int osh_parse_policy(const char *buf, size_t len, struct osh_policy *out, struct fc_diag *d)
{
	struct osh_policy p = { .version = -1 };
	cJSON *j = cJSON_ParseWithLength(buf, len);
	const char *why = cJSON_IsObject(j) ? policy_fields(j, &p) : "output is not a JSON object";

	cJSON_Delete(j);
	if (why)
		return fc_diag_set(d, FC_EPROTO, "openshell policy get: %s", why);
	*out = p;
	return 0;
}

/* Add one read as KEY (and KEY_error when it failed or is missing). */
static bool add_read(cJSON *root, const char *key, const struct osh_policy_read *r,
		     const char *missing)
{
	char ekey[32];
	cJSON *o;

	snprintf(ekey, sizeof(ekey), "%s_error", key);
	if (!r || !r->ok) {
		/* Cut long messages so the whole evidence fits its field. */
		char msg[201];

		snprintf(msg, sizeof(msg), "%.200s", r ? r->error : missing);
		return cJSON_AddNullToObject(root, key) && cJSON_AddStringToObject(root, ekey, msg);
	}
	o = cJSON_AddObjectToObject(root, key);
	return o && cJSON_AddNumberToObject(o, "version", (double)r->rev.version) &&
	       cJSON_AddStringToObject(o, "hash", r->rev.hash) &&
	       cJSON_AddStringToObject(o, "status", r->rev.status);
}

int osh_policy_evidence(const struct osh_policy_read *before, const struct osh_policy_read *after,
			char *out, size_t cap, bool *loaded)
{
	bool both = after && before->ok && after->ok;
	bool changed = false;
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	int rc = -ENOMEM;

	if (after && both)
		changed = before->rev.version != after->rev.version ||
			  strcmp(before->rev.hash, after->rev.hash) != 0;
	if (!root || !add_read(root, "before", before, NULL) ||
	    !add_read(root, "after", after, "not read: the command did not run") ||
	    !(both ? cJSON_AddBoolToObject(root, "changed_during_run", changed)
		   : cJSON_AddNullToObject(root, "changed_during_run")))
		goto out;
	text = cJSON_PrintUnformatted(root);
	if (!text)
		goto out;
	rc = strlen(text) < cap ? 0 : -ENOSPC;
	if (rc == 0)
		memcpy(out, text, strlen(text) + 1);
	if (rc == 0 && loaded)
		*loaded = after && both && !changed &&
			  strcmp(before->rev.status, "loaded") == 0 &&
			  strcmp(after->rev.status, "loaded") == 0;
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}

int osh_parse_sentinel(const char *buf, size_t len, int *status)
{
	size_t digits = 0;
	int v = 0;

	while (digits < len && buf[digits] >= '0' && buf[digits] <= '9') {
		v = v * 10 + (buf[digits] - '0');
		if (++digits > 3)
			return FC_EPROTO;
	}
	if (digits == 0 || v > 255)
		return FC_EPROTO;
	if (len != digits && !(len == digits + 1 && buf[digits] == '\n'))
		return FC_EPROTO;
	*status = v;
	return 0;
}

void osh_decide(const struct osh_outcome *in, struct osh_verdict *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = OSH_COMMAND_STATUS;
	if (!in->cli_timed_out && in->cli_status == 124 && in->have_sentinel &&
	    in->sentinel == 124) {
		/* The command itself exited 124: a timeout kill leaves no sentinel. */
		out->status = 124;
		out->exit_source = "exec_event";
	} else if (in->cli_timed_out || in->cli_status == 124) {
		out->status = 124;
		out->timed_out = true;
		out->exit_source = "timeout_124";
	} else if (in->have_sentinel && in->sentinel == in->cli_status) {
		out->status = in->cli_status;
		out->exit_source = "exec_event";
	} else if (in->cli_status == 0 && in->have_sentinel) {
		/* #2732: the stream ended without an Exit event; the CLI seeded 0. */
		out->status = in->sentinel;
		out->exit_source = "sentinel";
	} else if (in->cli_status == 0 || in->have_sentinel) {
		out->status = OSH_STATUS_UNCONFIRMED;
		out->exit_source = "unconfirmed";
	} else {
		out->kind = OSH_RUNTIME_ERROR;
		out->status = OSH_STATUS_UNCONFIRMED;
		out->exit_source = "runtime_error";
	}
}
