/*
 * run_receipt: the receipt of a governed run (fields documented in
 * docs/receipts.md), its decision record, and what `run` prints at the
 * end. The policy part is built by ctl/run_policy.c.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_canon.h"
#include "fc_fileio.h"
#include "policy_cmd.h"

#define TAIL_RECORDED 2048

static void iso_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The recorded tail: at most TAIL_RECORDED bytes, cut at a UTF-8 boundary,
 * invalid bytes replaced by '?', so the canonical form accepts it. */
static cJSON *tail_json(const struct run_capture *cap)
{
	size_t start = cap->tail_len > TAIL_RECORDED ? cap->tail_len - TAIL_RECORDED : 0;
	size_t n = cap->tail_len - start;
	char *s = malloc(n + 1);
	cJSON *j;

	if (!s)
		return NULL;
	while (start < cap->tail_len && ((unsigned char)cap->tail[start] & 0xc0) == 0x80)
		start++;
	n = cap->tail_len - start;
	memcpy(s, cap->tail + start, n);
	s[n] = '\0';
	for (size_t i = 0; i < n;) {
		size_t k = 1;

		while (k <= 4 && i + k <= n && !fc_utf8_valid(s + i, k))
			k++;
		if (k > 4 || i + k > n) {
			s[i++] = '?';
			continue;
		}
		i += k;
	}
	j = cJSON_CreateString(s);
	free(s);
	return j;
}

static cJSON *stream_json(const struct run_capture *cap)
{
	cJSON *o = cJSON_CreateObject();
	char hex[FC_SHA256_HEX];

	fc_hex(cap->digest, sizeof(cap->digest), hex);
	cJSON_AddStringToObject(o, "sha256", hex);
	cJSON_AddNumberToObject(o, "bytes", (double)cap->bytes);
	cJSON_AddItemToObject(o, "tail", tail_json(cap));
	return o;
}

static bool env_has(const struct run_opts *o, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; i < o->n_env; i++)
		if (strncmp(o->env[i], key, n) == 0 && o->env[i][n] == '=')
			return true;
	return false;
}

static cJSON *command_json(const struct run_opts *o)
{
	cJSON *cmd = cJSON_CreateObject();
	cJSON *argv = cJSON_AddArrayToObject(cmd, "argv");
	cJSON *env = cJSON_AddObjectToObject(cmd, "env");
	cJSON *names = cJSON_AddArrayToObject(env, "names");
	cJSON *pub = cJSON_AddObjectToObject(env, "public");

	for (size_t i = 0; o->argv[i]; i++)
		cJSON_AddItemToArray(argv, cJSON_CreateString(o->argv[i]));
	cJSON_AddStringToObject(cmd, "workdir", o->workdir);
	/* The defaults forkcellctl sets are not secrets: record their values. */
	if (!env_has(o, "PATH")) {
		cJSON_AddItemToArray(names, cJSON_CreateString("PATH"));
		cJSON_AddStringToObject(pub, "PATH", RUN_DEFAULT_PATH_VALUE);
	}
	if (!env_has(o, "HOME")) {
		cJSON_AddItemToArray(names, cJSON_CreateString("HOME"));
		cJSON_AddStringToObject(pub, "HOME", o->workdir);
	}
	for (size_t i = 0; i < o->n_env; i++) {
		size_t klen = strcspn(o->env[i], "=");
		char key[256];

		snprintf(key, sizeof(key), "%.*s", (int)klen, o->env[i]);
		cJSON_AddItemToArray(names, cJSON_CreateString(key));
		for (size_t k = 0; k < o->n_public; k++)
			if (strcmp(o->public_env[k], key) == 0 && !cJSON_HasObjectItem(pub, key))
				cJSON_AddStringToObject(pub, key, o->env[i] + klen + 1);
	}
	return cmd;
}

static cJSON *checkpoint_json(uint64_t gen, const char *name)
{
	cJSON *o = cJSON_CreateObject();
	char id[32];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)gen);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddNumberToObject(o, "gen", (double)gen);
	cJSON_AddStringToObject(o, "name", name);
	return o;
}

static cJSON *exit_json(const struct runtime_result *rt)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "status", rt->st.status);
	if (rt->st.exited)
		cJSON_AddNumberToObject(o, "code", rt->st.code);
	else
		cJSON_AddNullToObject(o, "code");
	if (rt->st.signaled)
		cJSON_AddNumberToObject(o, "signal", rt->st.signal);
	else
		cJSON_AddNullToObject(o, "signal");
	cJSON_AddBoolToObject(o, "timed_out", rt->st.timed_out);
	cJSON_AddStringToObject(o, "source", rt->exit_source ? rt->exit_source : "unknown");
	return o;
}

static cJSON *timings_json(const struct run_state *s)
{
	cJSON *o = cJSON_CreateObject();
	int64_t run_ms = (s->rt.st.end_ns - s->rt.st.start_ns) / 1000000;

	cJSON_AddNumberToObject(o, "checkpoint", (int64_t)s->ckpt_ms);
	cJSON_AddNumberToObject(o, "sandbox_start", s->rt.sandbox_start_ms);
	cJSON_AddNumberToObject(o, "run", run_ms);
	cJSON_AddNumberToObject(o, "collect", s->rt.collect_ms);
	cJSON_AddNumberToObject(o, "diff", (int64_t)s->diff_ms);
	cJSON_AddNumberToObject(o, "restore_sync", (int64_t)s->restore_ms);
	cJSON_AddNumberToObject(o, "total_restore_path", s->total_restore_path_ms);
	cJSON_AddNumberToObject(o, "total", (fc_mono_ns() - s->t_start_ns) / 1000000);
	return o;
}

static cJSON *runtime_json(const struct run_opts *o, const struct run_state *s)
{
	cJSON *rt = cJSON_CreateObject();

	cJSON_AddStringToObject(rt, "name", o->runtime);
	cJSON_AddStringToObject(rt, "version", s->rt.version);
	if (s->rt.image[0])
		cJSON_AddStringToObject(rt, "image", s->rt.image);
	else
		cJSON_AddNullToObject(rt, "image");
	cJSON_AddStringToObject(rt, "sandbox_id", s->rt.sandbox_id);
	if (s->rt.image_id[0])
		cJSON_AddStringToObject(rt, "image_id", s->rt.image_id);
	if (s->rt.sandbox_name[0])
		cJSON_AddStringToObject(rt, "sandbox_name", s->rt.sandbox_name);
	if (strcmp(o->runtime, "openshell") == 0) {
		cJSON *ev = cJSON_AddObjectToObject(rt, "events");
		char hex[FC_SHA256_HEX];

		cJSON_AddNumberToObject(rt, "cli_status", s->rt.cli_status);
		fc_hex(s->rt.events_sha256, sizeof(s->rt.events_sha256), hex);
		cJSON_AddStringToObject(ev, "format", "ocsf-jsonl");
		cJSON_AddStringToObject(ev, "file", s->events_file);
		cJSON_AddStringToObject(ev, "sha256", hex);
		cJSON_AddNumberToObject(ev, "bytes", (double)s->rt.events_bytes);
		cJSON_AddNumberToObject(ev, "lines", (double)s->rt.events_lines);
		cJSON_AddBoolToObject(ev, "complete", s->rt.events_complete);
	}
	return rt;
}

static cJSON *receipt_json(const struct run_opts *o, const struct run_state *s)
{
	cJSON *r = cJSON_CreateObject(), *dec;
	char t0[32], t1[32], name[FC_CELL_NAME_MAX + 16];

	iso_time(s->started_at, t0);
	iso_time(s->finished_at, t1);
	cJSON_AddStringToObject(r, "id", s->receipt_id);
	cJSON_AddStringToObject(r, "kind", "receipt");
	cJSON_AddStringToObject(r, "schema_version", RUN_SCHEMA_VERSION);
	cJSON_AddStringToObject(r, "run_id", s->run_id);
	cJSON_AddStringToObject(r, "cell", o->cell);
	cJSON_AddStringToObject(r, "created_at", t1);
	cJSON_AddStringToObject(r, "started_at", t0);
	cJSON_AddStringToObject(r, "finished_at", t1);
	snprintf(name, sizeof(name), "%s", o->checkpoint_name ? o->checkpoint_name : "");
	if (!o->checkpoint_name)
		snprintf(name, sizeof(name), "ckpt-%llu", (unsigned long long)s->ckpt);
	cJSON_AddItemToObject(r, "checkpoint_before", checkpoint_json(s->ckpt, name));
	if (strcmp(s->decision, "restored") == 0)
		cJSON_AddItemToObject(r, "restored_to", checkpoint_json(s->ckpt, name));
	else
		cJSON_AddNullToObject(r, "restored_to");
	cJSON_AddItemToObject(r, "policy", run_policy_json(o, s));
	cJSON_AddItemToObject(r, "policy_change", s->policy_change ?
				  cJSON_Duplicate(s->policy_change, 1) : cJSON_CreateNull());
	cJSON_AddItemToObject(r, "policy_events", s->enforce.recorded ?
				  cJSON_Duplicate(s->enforce.recorded, 1) : cJSON_CreateArray());
	if (s->enforce.events)
		cJSON_AddItemToObject(r, "events", cJSON_Duplicate(s->enforce.events, 1));
	cJSON_AddItemToObject(r, "runtime", runtime_json(o, s));
	cJSON_AddItemToObject(r, "command", command_json(o));
	cJSON_AddItemToObject(r, "exit", exit_json(&s->rt));
	cJSON_AddItemToObject(r, "stdout", stream_json(&s->out));
	cJSON_AddItemToObject(r, "stderr", stream_json(&s->err));
	cJSON_AddItemToObject(r, "changes", cJSON_Duplicate(s->changes, 1));
	cJSON_AddItemToObject(r, "timings_ms", timings_json(s));
	dec = cJSON_AddObjectToObject(r, "decision");
	cJSON_AddStringToObject(dec, "result", s->decision);
	cJSON_AddStringToObject(dec, "reason", s->reason);
	if (s->decision_id[0])
		cJSON_AddStringToObject(dec, "decision_id", s->decision_id);
	else
		cJSON_AddNullToObject(dec, "decision_id");
	return r;
}

int run_decide(struct ctl *c, const cJSON *receipt, const char *receipt_sha,
	       const char *result, const char *reason, bool automatic, bool forced,
	       const char *decision_id, struct fc_diag *d)
{
	cJSON *rec = cJSON_CreateObject();
	char now[32], sha[FC_SHA256_HEX], *md;
	static const char *const copy[] = { "cell", "run_id", "checkpoint_before" };
	int rc;

	iso_time(time(NULL), now);
	cJSON_AddStringToObject(rec, "id", decision_id);
	cJSON_AddStringToObject(rec, "kind", "decision");
	cJSON_AddStringToObject(rec, "schema_version", RUN_SCHEMA_VERSION);
	cJSON_AddStringToObject(rec, "created_at", now);
	cJSON_AddStringToObject(rec, "receipt_id",
				cJSON_GetObjectItemCaseSensitive(receipt, "id")->valuestring);
	cJSON_AddStringToObject(rec, "receipt_sha256", receipt_sha);
	for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
		cJSON_AddItemToObject(rec, copy[i],
				      cJSON_Duplicate(cJSON_GetObjectItem(receipt, copy[i]), 1));
	cJSON_AddStringToObject(rec, "result", result);
	cJSON_AddStringToObject(rec, "reason", reason);
	cJSON_AddBoolToObject(rec, "automatic", automatic);
	cJSON_AddBoolToObject(rec, "forced", forced);
	md = receipt_markdown(rec);
	rc = receipt_chain_append(c->st, rec, md, sha, d);
	free(md);
	cJSON_Delete(rec);
	return rc;
}

static void print_result(struct ctl *c, const struct run_opts *o, const struct run_state *s,
			 const cJSON *r, const char *sha)
{
	if (o->fmt && strcmp(o->fmt, "md") == 0) {
		char *md = receipt_markdown(r);

		if (md)
			fputs(md, stdout);
		free(md);
		return;
	}
	if (c->json) {
		cJSON *out = cJSON_CreateObject();

		cJSON_AddStringToObject(out, "receipt_id", s->receipt_id);
		cJSON_AddStringToObject(out, "run_id", s->run_id);
		cJSON_AddStringToObject(out, "receipt_sha256", sha);
		cJSON_AddNumberToObject(out, "exit_status", s->rt.st.status);
		cJSON_AddStringToObject(out, "decision", s->decision);
		cJSON_AddItemToObject(out, "receipt", cJSON_Duplicate(r, 1));
		ctl_json_out(out);
		return;
	}
	fprintf(stderr, "forkcellctl: run %s exited %d%s; decision: %s; receipt %s\n", s->run_id,
		s->rt.st.status, s->rt.st.timed_out ? " (timed out)" : "", s->decision,
		s->receipt_id);
}

int run_write_receipt(struct ctl *c, const struct run_opts *o, struct run_state *s,
		      struct fc_diag *d)
{
	char sha[FC_SHA256_HEX], *md;
	cJSON *r;
	int rc;

	if (strcmp(s->decision, "pending") != 0)
		receipt_new_id("dec", s->decision_id);
	r = receipt_json(o, s);
	md = receipt_markdown(r);
	rc = receipt_chain_append(c->st, r, md, sha, d);
	free(md);
	if (rc == 0 && s->decision_id[0])
		rc = run_decide(c, r, sha, s->decision, s->reason, true, false, s->decision_id, d);
	if (rc == 0)
		print_result(c, o, s, r, sha);
	cJSON_Delete(r);
	return rc;
}
