/*
 * cmd_data: the commands that look at or move file data: diff (changed
 * paths between two generations, from the change logs), restore-path
 * (single paths back from a checkpoint) and export (a generation written
 * out as a real directory tree).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "fc_ctlproto.h"
#include "fc_diff.h"
#include "fc_export.h"
#include "fc_restore_path.h"

/*
 * Resolve a generation reference of cell: NULL/"head" = the head, else a
 * checkpoint name or id; def_latest makes NULL mean the latest checkpoint.
 */
static int gen_ref(struct fc_txn *t, const char *cell, const struct fc_cell *cl,
		   const char *ref, bool def_latest, uint64_t *out, struct fc_diag *d)
{
	int rc;

	if ((!ref && !def_latest) || (ref && strcmp(ref, "head") == 0)) {
		*out = cl->head;
		return 0;
	}
	rc = fc_ckpt_resolve(t, cell, ref, out);
	if (rc == -ENOENT || rc == FC_ENOCKPT) {
		if (ref)
			return fc_diag_set(d, FC_ENOCKPT, "checkpoint '%s' of cell '%s' does not "
					   "exist", ref, cell);
		return fc_diag_set(d, FC_ENOCKPT, "cell '%s' has no checkpoint", cell);
	}
	return rc;
}

/* Route a read: when a daemon serves the cell, make it flush first. */
static int sync_if_served(struct ctl *c, const char *cell, struct fc_diag *d)
{
	struct fc_daemon_info info;
	enum fc_serve_state s;
	int rc = fc_cell_serve_state(c->st, cell, 0, &s, &info);

	if (rc < 0 || s != FC_SERVE_LIVE)
		return rc;
	return ctl_daemon_sync(c, cell, &info, d);
}

/* ---- diff ---- */

struct diff_out {
	struct ctl *c;
	cJSON *arr;
	uint64_t n_add, n_mod, n_del;
};

static const char *status_word(char s)
{
	return s == FC_DIFF_ADDED ? "added" : s == FC_DIFF_DELETED ? "deleted" : "modified";
}

static int diff_print(void *arg, const struct fc_diff_entry *e)
{
	struct diff_out *o = arg;
	const char *slash = e->type == DT_DIR ? "/" : "";
	cJSON *j;

	o->n_add += e->status == FC_DIFF_ADDED;
	o->n_mod += e->status == FC_DIFF_MODIFIED;
	o->n_del += e->status == FC_DIFF_DELETED;
	if (!o->c->json) {
		if (e->type == DT_DIR)
			printf("%c %s%s\n", e->status, e->path, slash);
		else if (e->status == FC_DIFF_MODIFIED)
			printf("%c %s (%llu -> %llu bytes)\n", e->status, e->path,
			       (unsigned long long)e->old_size, (unsigned long long)e->new_size);
		else
			printf("%c %s (%llu bytes)\n", e->status, e->path,
			       (unsigned long long)(e->status == FC_DIFF_ADDED ? e->new_size
									: e->old_size));
		return 0;
	}
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "path", e->path);
	cJSON_AddStringToObject(j, "status", status_word(e->status));
	cJSON_AddStringToObject(j, "type", e->type == DT_DIR ? "dir" : e->type == DT_LNK ?
				"symlink" : e->type == DT_REG ? "file" : "special");
	cJSON_AddNumberToObject(j, "old_size", (double)e->old_size);
	cJSON_AddNumberToObject(j, "new_size", (double)e->new_size);
	cJSON_AddItemToArray(o->arr, j);
	return 0;
}

static int diff_run(struct ctl *c, const char *cell, const char *from_ref, const char *to_ref,
		    struct diff_out *o, uint64_t *from, uint64_t *to, struct fc_diag *d)
{
	struct fc_view vf = { 0 }, vt = { 0 };
	struct fc_txn t = { 0 };
	struct fc_cell cl;
	int rc = ctl_cell_must_exist(c, cell, &cl, d);

	if (rc == 0)
		rc = sync_if_served(c, cell, d);
	if (rc == 0)
		rc = fc_txn_begin(c->st, true, &t);
	if (rc == 0)
		rc = fc_cell_get(&t, cell, &cl);  /* the head may have moved */
	if (rc == 0)
		rc = gen_ref(&t, cell, &cl, from_ref, true, from, d);
	if (rc == 0)
		rc = gen_ref(&t, cell, &cl, to_ref, false, to, d);
	if (rc == 0)
		rc = fc_view_load(&t, *from, cell, &vf);
	if (rc == 0)
		rc = fc_view_load(&t, *to, cell, &vt);
	if (rc == 0)
		rc = fc_diff(&t, &vf, &vt, diff_print, o);
	fc_view_release(&vf);
	fc_view_release(&vt);
	fc_txn_abort(&t);
	return rc;
}

int cmd_diff(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("diff");
	struct diff_out o = { .c = c };
	struct fc_diag d;
	uint64_t from = 0, to = 0;
	cJSON *r = NULL;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, opt);
	if (argc - optind < 1 || argc - optind > 3)
		return ctl_usage(cmd, "diff takes CELL [FROM [TO]]");
	if (ctl_name_arg(c, "cell", argv[optind]) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	if (c->json) {
		r = fc_ctl_reply_ok();
		o.arr = cJSON_CreateArray();
	}
	fc_diag_init(&d);
	rc = diff_run(c, argv[optind], argc - optind > 1 ? argv[optind + 1] : NULL,
		      argc - optind > 2 ? argv[optind + 2] : NULL, &o, &from, &to, &d);
	if (rc < 0) {
		cJSON_Delete(r);
		cJSON_Delete(o.arr);
		return ctl_fail(c, rc, &d);
	}
	if (!c->json) {
		if (c->verbose || (o.n_add + o.n_mod + o.n_del) == 0)
			fprintf(stderr, "%llu added, %llu modified, %llu deleted (%llu -> %llu)\n",
				(unsigned long long)o.n_add, (unsigned long long)o.n_mod,
				(unsigned long long)o.n_del, (unsigned long long)from,
				(unsigned long long)to);
		return CTL_EXIT_OK;
	}
	cJSON_AddStringToObject(r, "cell", argv[optind]);
	cJSON_AddNumberToObject(r, "from", (double)from);
	cJSON_AddNumberToObject(r, "to", (double)to);
	cJSON_AddNumberToObject(r, "added", (double)o.n_add);
	cJSON_AddNumberToObject(r, "modified", (double)o.n_mod);
	cJSON_AddNumberToObject(r, "deleted", (double)o.n_del);
	cJSON_AddItemToObject(r, "changes", o.arr);
	ctl_json_out(r);
	return CTL_EXIT_OK;
}

/* ---- restore-path ---- */

static int rp_direct(struct ctl *c, const char *cell, const char *ref, char **paths, int n,
		     uint64_t *changed, double *ms, struct fc_diag *d)
{
	struct fc_view vh = { 0 }, vc = { 0 };
	struct fc_txn t = { 0 };
	struct fc_cell cl;
	uint64_t ckpt = 0, one;
	double t0 = ctl_now_ms();
	int rc = fc_txn_begin(c->st, false, &t);

	if (rc == 0)
		rc = fc_cell_get(&t, cell, &cl);
	if (rc == 0)
		rc = gen_ref(&t, cell, &cl, ref, true, &ckpt, d);
	if (rc == 0)
		rc = fc_view_load(&t, cl.head, cell, &vh);
	if (rc == 0)
		rc = fc_view_load(&t, ckpt, cell, &vc);
	for (int i = 0; rc == 0 && i < n; i++) {
		rc = fc_restore_path(&t, &vh, &vc, paths[i], NULL, NULL, &one, d);
		*changed += one;
	}
	if (rc == 0)
		rc = fc_txn_commit(&t);
	fc_txn_abort(&t);
	fc_view_release(&vh);
	fc_view_release(&vc);
	if (rc == 0)
		rc = fc_store_sync(c->st);
	*ms = ctl_now_ms() - t0;
	return rc;
}

static int rp_daemon(struct ctl *c, const char *cell, const char *ref, char **paths, int n,
		     uint64_t *changed, double *ms, struct fc_diag *d)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL, *arr;
	const cJSON *dur;
	double t0 = ctl_now_ms();
	int rc;

	cJSON_AddStringToObject(req, "op", "restore_path");
	cJSON_AddStringToObject(req, "checkpoint", ref);
	arr = cJSON_AddArrayToObject(req, "paths");
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(paths[i]));
	rc = ctl_daemon_call(c, cell, req, &resp, d);
	if (rc == 0) {
		fc_ctl_get_u64(resp, "restored", changed, NULL);
		dur = cJSON_GetObjectItemCaseSensitive(resp, "duration_ms");
		*ms = cJSON_IsNumber(dur) ? dur->valuedouble : ctl_now_ms() - t0;
	}
	cJSON_Delete(resp);
	return rc;
}

int cmd_restore_path(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("restore-path");
	struct fc_daemon_info info;
	struct fc_diag d;
	const char *cell, *ref;
	uint64_t changed = 0;
	double ms = 0;
	bool served = false;
	int o, rc, lock_fd = -1;
	cJSON *r;

	while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, o);
	if (argc - optind < 3)
		return ctl_usage(cmd, "restore-path takes CELL CHECKPOINT PATH...");
	cell = argv[optind];
	ref = argv[optind + 1];
	if (ctl_name_arg(c, "cell", cell) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = ctl_cell_must_exist(c, cell, NULL, &d);
	if (rc == 0)
		rc = ctl_cell_route(c, cell, &lock_fd, &served, &info, &d);
	if (rc == 0 && served)
		rc = rp_daemon(c, cell, ref, argv + optind + 2, argc - optind - 2, &changed, &ms, &d);
	else if (rc == 0)
		rc = rp_direct(c, cell, ref, argv + optind + 2, argc - optind - 2, &changed, &ms, &d);
	fc_cell_lock_release(lock_fd);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	if (!c->json) {
		printf("restored %d path%s of cell '%s' from checkpoint '%s' (%llu records)\n",
		       argc - optind - 2, argc - optind - 2 == 1 ? "" : "s", cell, ref,
		       (unsigned long long)changed);
		return CTL_EXIT_OK;
	}
	r = fc_ctl_reply_ok();
	cJSON_AddStringToObject(r, "cell", cell);
	cJSON_AddStringToObject(r, "checkpoint", ref);
	cJSON_AddNumberToObject(r, "restored", (double)changed);
	cJSON_AddNumberToObject(r, "duration_ms", ms);
	ctl_json_out(r);
	return CTL_EXIT_OK;
}
