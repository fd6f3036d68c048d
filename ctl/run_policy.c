/*
 * run_policy: the policy side of a governed run. The --policy file is read
 * once, parsed (an invalid policy fails the run before anything starts),
 * snapshotted by content under STORE/policies/, and compared with the
 * policy of the cell's previous run (STORE/policies/last/<cell>), so a
 * receipt says what the new policy allows that the old one did not. The
 * receipt's "policy" object also says who enforced it and how.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_fileio.h"
#include "policy_cmd.h"

#define LAST_DIR "policies/last"

static int open_dir(struct ctl *c, const char *rel, int *fd, struct fc_diag *d)
{
	int rc = fc_mkdir_open(c->st->root_fd, rel, 0700, fd);

	if (rc < 0)
		return fc_diag_set(d, rc, "cannot create %s/%s: %s", c->st->path, rel,
				   fc_strerror(rc));
	return 0;
}

/* The record of the cell's previous run: {"snapshot":NAME|null,...} or NULL. */
static cJSON *load_last(struct ctl *c, const char *cell)
{
	char rel[FC_CELL_NAME_MAX + 32], *buf = NULL;
	size_t len = 0;
	cJSON *j;

	snprintf(rel, sizeof(rel), LAST_DIR "/%s.json", cell);
	if (fc_read_file(c->st->root_fd, rel, 1 << 16, &buf, &len) < 0)
		return NULL;
	j = cJSON_ParseWithLength(buf, len);
	free(buf);
	return j;
}

/*
 * What changed since the cell's previous run: null when it had none on
 * record, false when it is the same policy, else {"previous":{...},
 * "diff":{only_a,only_b,changed}} (a = previous, b = this run's).
 */
static cJSON *change_since_last(struct ctl *c, const char *cell, const struct fc_policy *now,
				const char *now_sha)
{
	cJSON *last = load_last(c, cell), *out, *diff = NULL;
	const cJSON *snap = cJSON_GetObjectItemCaseSensitive(last, "snapshot");
	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(last, "sha256");
	struct fc_policy *prev = NULL;
	char rel[160], *buf = NULL;
	size_t len = 0;
	struct fc_diag d;

	if (!last)
		return cJSON_CreateNull();
	if (cJSON_IsString(sha) && now_sha && strcmp(sha->valuestring, now_sha) == 0) {
		cJSON_Delete(last);
		return cJSON_CreateFalse();
	}
	out = cJSON_CreateObject();
	cJSON_AddItemToObject(out, "previous", last);
	fc_diag_init(&d);
	if (cJSON_IsString(snap)) {
		snprintf(rel, sizeof(rel), "policies/%.100s", snap->valuestring);
		if (fc_read_file(c->st->root_fd, rel, FC_POLICY_MAX_BYTES, &buf, &len) == 0 &&
		    fc_policy_parse(buf, len, rel, &prev, &d) == 0 && now)
			fc_policy_diff(prev, now, &diff);
	}
	if (diff)
		cJSON_AddItemToObject(out, "diff", diff);
	else
		cJSON_AddStringToObject(out, "diff_unavailable", !now ? "this run has no policy" :
					!cJSON_IsString(snap) ? "the previous run had no policy" :
					"the previous snapshot is unreadable");
	fc_policy_free(prev);
	free(buf);
	return out;
}

int run_policy_snapshot(struct ctl *c, const struct run_opts *o, struct run_state *s,
			struct fc_diag *d)
{
	uint8_t digest[FC_SHA256_LEN];
	char hex[FC_SHA256_HEX], name[FC_SHA256_HEX + 8];
	struct fc_policy_rev rev;
	char *buf = NULL;
	size_t len = 0;
	int dirfd = -1, rc;

	if (!o->policy) {
		s->policy_change = change_since_last(c, o->cell, NULL, NULL);
		return 0;
	}
	/* Read the bytes once; the snapshot is of these same bytes. */
	rc = ctl_policy_load(o->policy, &s->pol, &rev, &buf, &len, d);
	if (rc < 0)
		return rc;
	fc_sha256_buf(buf, len, digest);
	fc_hex(digest, sizeof(digest), hex);
	rc = open_dir(c, "policies", &dirfd, d);
	snprintf(name, sizeof(name), "%s.yaml", hex);
	if (rc == 0) {
		rc = fc_write_atomic(dirfd, name, buf, len, 0600);
		if (rc < 0)
			fc_diag_set(d, rc, "cannot snapshot policy '%s': %s", o->policy,
				    fc_strerror(rc));
	}
	free(buf);
	if (dirfd >= 0)
		close(dirfd);
	if (rc < 0)
		return rc;
	snprintf(s->policy_file, sizeof(s->policy_file), "%s/policies/%s", c->st->path, name);
	s->policy = cJSON_CreateObject();
	cJSON_AddStringToObject(s->policy, "path", o->policy);
	cJSON_AddStringToObject(s->policy, "sha256", rev.sha256);
	cJSON_AddStringToObject(s->policy, "hash_of", "canonical_json");
	cJSON_AddStringToObject(s->policy, "revision", rev.revision);
	cJSON_AddStringToObject(s->policy, "file_sha256", hex);
	cJSON_AddStringToObject(s->policy, "snapshot", name);
	s->policy_change = change_since_last(c, o->cell, s->pol, rev.sha256);
	return 0;
}

int run_policy_record_last(struct ctl *c, const char *cell, const struct run_state *s,
			   struct fc_diag *d)
{
	cJSON *j = cJSON_CreateObject();
	char name[FC_CELL_NAME_MAX + 8], *text;
	int dirfd = -1, rc;
	static const char *const keys[] = { "snapshot", "sha256", "revision" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->policy, keys[i]);

		cJSON_AddItemToObject(j, keys[i], v ? cJSON_Duplicate(v, 0) : cJSON_CreateNull());
	}
	cJSON_AddStringToObject(j, "receipt_id", s->receipt_id);
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!text)
		return fc_diag_set(d, -ENOMEM, "out of memory");
	rc = open_dir(c, LAST_DIR, &dirfd, d);
	snprintf(name, sizeof(name), "%s.json", cell);
	if (rc == 0) {
		rc = fc_write_atomic(dirfd, name, text, strlen(text), 0600);
		if (rc < 0)
			fc_diag_set(d, rc, "cannot record the cell's policy: %s", fc_strerror(rc));
	}
	if (dirfd >= 0)
		close(dirfd);
	free(text);
	return rc;
}

cJSON *run_policy_json(const struct run_opts *o, const struct run_state *s)
{
	cJSON *p;
	bool enforced = false;

	if (!s->policy)
		return cJSON_CreateNull();
	p = cJSON_Duplicate(s->policy, 1);
	if (strcmp(o->runtime, "openshell") == 0) {
		cJSON *e = cJSON_AddObjectToObject(p, "enforcement");
		cJSON *ev = s->rt.policy_evidence[0] ? cJSON_Parse(s->rt.policy_evidence) : NULL;

		cJSON_AddStringToObject(e, "by", "openshell");
		cJSON_AddStringToObject(e, "how", "passed to `openshell sandbox create --policy`; "
					"OpenShell's revision read back with `policy get` before "
					"and after the command");
		cJSON_AddItemToObject(e, "openshell", ev ? ev : cJSON_CreateNull());
		/* Loaded before and after, same revision: OpenShell enforced it. */
		enforced = s->rt.policy_loaded;
	} else {
		cJSON_AddItemToObject(p, "enforcement",
				      run_enforce_json(&s->enforce, &s->rt, &enforced));
	}
	cJSON_AddBoolToObject(p, "enforced", enforced);
	return p;
}
