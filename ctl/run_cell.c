/*
 * run_cell: the cell operations a governed run needs, done through the
 * daemon that serves the cell (a run always works on a live mount so the
 * sandbox sees it): mount on demand, checkpoint, restore, and "flush and
 * tell me the head".
 */
#include "run.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fc_ctlproto.h"

/* Run `forkcellctl --store S mount CELL --allow-other` as a child. */
static int mount_cell(struct ctl *c, const char *cell, struct fc_diag *d)
{
	char exe[PATH_MAX];
	char *const envp[] = { (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
					   "/sbin:/bin",
			       NULL };
	char *argv[] = { exe, (char *)"--store", c->st->path, (char *)"mount", (char *)cell,
			 (char *)"--allow-other", NULL };
	struct run_spec spec = { .argv = argv, .envp = envp, .timeout_ms = 60000 };
	struct run_capture err;
	struct run_status st;
	int rc;

	ctl_tool_path("forkcellctl", NULL, exe, sizeof(exe));
	run_capture_init(&err, -1);
	rc = run_proc(&spec, NULL, &err, &st);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot run '%s mount': %s", exe, fc_strerror(rc));
	if (st.status != 0) {
		/* The child's own one-line error is the best explanation. */
		size_t n = 0;

		while (n < err.tail_len && err.tail[n] != '\n')
			n++;
		return fc_diag_set(d, FC_ESTATE, "cannot mount cell '%s': %.*s", cell, (int)n,
				   err.tail);
	}
	return 0;
}

int run_cell_ensure_mounted(struct ctl *c, const char *cell, struct run_cell *out,
			    struct fc_diag *d)
{
	enum fc_serve_state state;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = fc_cell_serve_state(c->st, cell, 0, &state, &out->info);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot tell whether cell '%s' is mounted: %s", cell,
				   fc_strerror(rc));
	if (state == FC_SERVE_STALE)
		return fc_diag_set(d, FC_ESTATE,
				   "cell '%s' has a stale mount (its daemon died); run "
				   "'forkcellctl umount %s' first",
				   cell, cell);
	if (state == FC_SERVE_NONE) {
		rc = mount_cell(c, cell, d);
		if (rc < 0)
			return rc;
		out->mounted_by_us = true;
		rc = fc_cell_serve_state(c->st, cell, 0, &state, &out->info);
		if (rc < 0 || state != FC_SERVE_LIVE)
			return fc_diag_set(d, FC_ESTATE, "cell '%s' did not come up mounted", cell);
	}
	if (!out->info.mountpoint[0])
		return fc_diag_set(d, FC_ESTATE, "cell '%s' is served but its mount point is "
				   "unknown", cell);
	return 0;
}

static int call_op(struct ctl *c, const char *cell, cJSON *req, cJSON **resp, double *ms,
		   struct fc_diag *d)
{
	int64_t t0 = fc_mono_ns();
	int rc;

	if (!req)
		return fc_diag_set(d, -ENOMEM, "out of memory");
	rc = ctl_daemon_call(c, cell, req, resp, d);
	if (ms)
		*ms = (double)(fc_mono_ns() - t0) / 1e6;
	return rc;
}

static int reply_u64(const cJSON *resp, const char *key, uint64_t *out, struct fc_diag *d)
{
	int rc = fc_ctl_get_u64(resp, key, out, d);

	if (rc < 0)
		return fc_diag_set(d, FC_EPROTO, "daemon reply lacks \"%s\"", key);
	return 0;
}

int run_cell_checkpoint(struct ctl *c, const struct run_cell *rcell, const char *cell,
			const char *name, uint64_t *gen, double *ms, struct fc_diag *d)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	int rc;

	ctl_syncfs(rcell->info.mountpoint);
	cJSON_AddStringToObject(req, "op", "checkpoint");
	if (name)
		cJSON_AddStringToObject(req, "name", name);
	else
		cJSON_AddNullToObject(req, "name");
	rc = call_op(c, cell, req, &resp, ms, d);
	if (rc == 0)
		rc = reply_u64(resp, "checkpoint", gen, d);
	cJSON_Delete(resp);
	return rc;
}

int run_cell_restore(struct ctl *c, const char *cell, uint64_t gen, uint64_t *new_head,
		     double *ms, struct fc_diag *d)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	char ref[32];
	int rc;

	snprintf(ref, sizeof(ref), "%llu", (unsigned long long)gen);
	cJSON_AddStringToObject(req, "op", "restore");
	cJSON_AddStringToObject(req, "checkpoint", ref);
	rc = call_op(c, cell, req, &resp, ms, d);
	if (rc == 0)
		rc = reply_u64(resp, "head", new_head, d);
	cJSON_Delete(resp);
	return rc;
}

int run_cell_sync_head(struct ctl *c, const struct run_cell *rcell, const char *cell,
		       uint64_t *head, struct fc_diag *d)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	int rc;

	ctl_syncfs(rcell->info.mountpoint);
	cJSON_AddStringToObject(req, "op", "sync");
	rc = call_op(c, cell, req, &resp, NULL, d);
	if (rc == 0)
		rc = reply_u64(resp, "head", head, d);
	cJSON_Delete(resp);
	return rc;
}
