/*
 * cmd_ckpt: the generation commands: checkpoint, checkpoints (the tree),
 * restore and fork. A write goes to the daemon when one serves the cell
 * (its writer lock is held), else to LMDB directly under the writer lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "fc_ctlproto.h"

/* Begin a write txn, run fn, commit (timed), then sync. */
typedef int (*ctl_txn_fn)(struct fc_txn *t, void *arg, struct fc_diag *d);

static int direct_write(struct ctl *c, ctl_txn_fn fn, void *arg, double *ms,
			struct fc_diag *d)
{
	struct fc_txn t = { 0 };
	double t0 = ctl_now_ms();
	int rc = fc_txn_begin(c->st, false, &t);

	if (rc < 0)
		return fc_diag_set(d, rc, "cannot write the store: %s", fc_strerror(rc));
	rc = fn(&t, arg, d);
	if (rc == 0)
		rc = fc_txn_commit(&t);
	fc_txn_abort(&t);
	/* The switch is the commit; the fsync after it is durability against
	 * power loss, reported apart (a process crash cannot lose a commit). */
	*ms = ctl_now_ms() - t0;
	if (rc == 0)
		rc = fc_store_sync(c->st);
	return rc;
}

/* The daemon's own duration when it reports one, else the round trip. */
static double resp_ms(const cJSON *resp, double t0)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp, "duration_ms");

	return cJSON_IsNumber(v) ? v->valuedouble : ctl_now_ms() - t0;
}

static void req_str(cJSON *req, const char *key, const char *val)
{
	if (val)
		cJSON_AddStringToObject(req, key, val);
	else
		cJSON_AddNullToObject(req, key);
}

static uint64_t resp_u64(const cJSON *resp, const char *key)
{
	uint64_t v = 0;

	fc_ctl_get_u64(resp, key, &v, NULL);
	return v;
}

static int ckpt_err(int rc, const char *cell, const char *ref, struct fc_diag *d)
{
	if (rc == -ENOENT || rc == FC_ENOCKPT) {
		if (ref && *ref)
			return fc_diag_set(d, FC_ENOCKPT, "checkpoint '%s' of cell '%s' does not exist",
					   ref, cell);
		return fc_diag_set(d, FC_ENOCKPT, "cell '%s' has no checkpoint", cell);
	}
	return rc;
}

/* ---- checkpoint ---- */

struct ckpt_args {
	const char *cell;
	const char *name;      /* checkpoint name or restore/fork ref */
	const char *newcell;
	uint64_t ckpt, head, old_head;
	int64_t invalidated;    /* kernel cache entries the daemon dropped; -1: unmounted */
	double ms;             /* duration of the operation itself */
};

static int ckpt_txn(struct fc_txn *t, void *arg, struct fc_diag *d)
{
	struct ckpt_args *a = arg;

	return fc_cell_checkpoint(t, a->cell, a->name, &a->ckpt, &a->head, d);
}

static int ckpt_via_daemon(struct ctl *c, struct ckpt_args *a,
			   const struct fc_daemon_info *info, struct fc_diag *d)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	double t0;
	int rc;

	/* Flush the kernel's writeback cache before the freeze. */
	ctl_syncfs(info->mountpoint);
	cJSON_AddStringToObject(req, "op", "checkpoint");
	req_str(req, "name", a->name);
	t0 = ctl_now_ms();
	rc = ctl_daemon_call(c, a->cell, req, &resp, d);
	if (rc == 0)
		a->ms = resp_ms(resp, t0);
	if (rc == 0) {
		a->ckpt = resp_u64(resp, "checkpoint");
		a->head = resp_u64(resp, "head");
	}
	cJSON_Delete(resp);
	return rc;
}

static void ckpt_print(struct ctl *c, const struct ckpt_args *a, const char *name)
{
	cJSON *o;

	if (!c->json) {
		printf("checkpoint %llu '%s' of cell '%s' (new head %llu)\n",
		       (unsigned long long)a->ckpt, name, a->cell, (unsigned long long)a->head);
		return;
	}
	o = fc_ctl_reply_ok();
	cJSON_AddStringToObject(o, "cell", a->cell);
	cJSON_AddNumberToObject(o, "checkpoint", (double)a->ckpt);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "head", (double)a->head);
	cJSON_AddNumberToObject(o, "duration_ms", a->ms);
	ctl_json_out(o);
}

/* The name a checkpoint got (the default is chosen by the store). */
static void ckpt_name(struct ctl *c, uint64_t gen, char *out, size_t cap)
{
	struct fc_txn t = { 0 };
	struct fc_gen g;

	snprintf(out, cap, "?");
	if (fc_txn_begin(c->st, true, &t) == 0 && fc_gen_get(&t, gen, &g) == 0)
		snprintf(out, cap, "%s", g.name);
	fc_txn_abort(&t);
}

int cmd_checkpoint(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_LONGOPTS,
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd *cmd = ctl_cmd_find("checkpoint");
	struct ckpt_args a = { 0 };
	struct fc_daemon_info info;
	struct fc_diag d;
	char name[FC_CELL_NAME_MAX + 1];
	bool served = false;
	int o, rc, lock_fd = -1;

	while ((o = getopt_long(argc, argv, "hvn:", opts, NULL)) != -1) {
		if (o == 'n')
			a.name = optarg;
		else
			CTL_OPT_COMMON(c, cmd, o);
	}
	if (argc - optind != 1)
		return ctl_usage(cmd, "checkpoint takes one CELL");
	a.cell = argv[optind];
	if (ctl_name_arg(c, "cell", a.cell) || (a.name && ctl_name_arg(c, "checkpoint", a.name)))
		return CTL_EXIT_FAIL;
	if (ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = ctl_cell_must_exist(c, a.cell, NULL, &d);
	if (rc == 0)
		rc = ctl_cell_route(c, a.cell, &lock_fd, &served, &info, &d);
	if (rc == 0 && served)
		rc = ckpt_via_daemon(c, &a, &info, &d);
	else if (rc == 0)
		rc = direct_write(c, ckpt_txn, &a, &a.ms, &d);
	fc_cell_lock_release(lock_fd);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	ckpt_name(c, a.ckpt, name, sizeof(name));
	ckpt_print(c, &a, name);
	return CTL_EXIT_OK;
}

/* ---- restore ---- */

static int restore_txn(struct fc_txn *t, void *arg, struct fc_diag *d)
{
	struct ckpt_args *a = arg;
	int rc = fc_ckpt_resolve(t, a->cell, a->name, &a->ckpt);

	if (rc < 0)
		return ckpt_err(rc, a->cell, a->name, d);
	return fc_cell_restore(t, a->cell, a->ckpt, &a->old_head, &a->head, d);
}

static int restore_via_daemon(struct ctl *c, struct ckpt_args *a, struct fc_diag *d)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	double t0;
	int rc;

	cJSON_AddStringToObject(req, "op", "restore");
	req_str(req, "checkpoint", a->name);
	t0 = ctl_now_ms();
	rc = ctl_daemon_call(c, a->cell, req, &resp, d);
	if (rc == 0)
		a->ms = resp_ms(resp, t0);
	if (rc == 0) {
		a->ckpt = resp_u64(resp, "restored_to");
		a->invalidated = (int64_t)resp_u64(resp, "invalidated");
		a->old_head = resp_u64(resp, "old_head");
		a->head = resp_u64(resp, "head");
	}
	cJSON_Delete(resp);
	return rc;
}

int cmd_restore(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("restore");
	struct ckpt_args a = { .invalidated = -1 };
	struct fc_daemon_info info;
	struct fc_diag d;
	char name[FC_CELL_NAME_MAX + 1];
	bool served = false;
	int o, rc, lock_fd = -1;
	cJSON *r;

	while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, o);
	if (argc - optind < 1 || argc - optind > 2)
		return ctl_usage(cmd, "restore takes CELL [CHECKPOINT]");
	a.cell = argv[optind];
	a.name = argc - optind == 2 ? argv[optind + 1] : NULL;
	if (ctl_name_arg(c, "cell", a.cell) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = ctl_cell_must_exist(c, a.cell, NULL, &d);
	if (rc == 0)
		rc = ctl_cell_route(c, a.cell, &lock_fd, &served, &info, &d);
	if (rc == 0 && served)
		rc = restore_via_daemon(c, &a, &d);
	else if (rc == 0)
		rc = direct_write(c, restore_txn, &a, &a.ms, &d);
	fc_cell_lock_release(lock_fd);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	ckpt_name(c, a.ckpt, name, sizeof(name));
	if (!c->json) {
		printf("restored cell '%s' to checkpoint %llu '%s' (new head %llu)\n", a.cell,
		       (unsigned long long)a.ckpt, name, (unsigned long long)a.head);
		return CTL_EXIT_OK;
	}
	r = fc_ctl_reply_ok();
	cJSON_AddStringToObject(r, "cell", a.cell);
	cJSON_AddNumberToObject(r, "restored_to", (double)a.ckpt);
	if (a.invalidated >= 0)
		cJSON_AddNumberToObject(r, "invalidated", (double)a.invalidated);
	cJSON_AddStringToObject(r, "name", name);
	cJSON_AddNumberToObject(r, "old_head", (double)a.old_head);
	cJSON_AddNumberToObject(r, "head", (double)a.head);
	cJSON_AddNumberToObject(r, "duration_ms", a.ms);
	ctl_json_out(r);
	return CTL_EXIT_OK;
}

/* ---- fork ---- */

static int fork_txn(struct fc_txn *t, void *arg, struct fc_diag *d)
{
	struct ckpt_args *a = arg;
	int rc;

	if (a->name) {
		rc = fc_ckpt_resolve(t, a->cell, a->name, &a->ckpt);
		if (rc < 0)
			return ckpt_err(rc, a->cell, a->name, d);
	} else {
		/* No checkpoint given: freeze the head now and fork from it. */
		rc = fc_cell_checkpoint(t, a->cell, NULL, &a->ckpt, &a->old_head, d);
		if (rc < 0)
			return rc;
	}
	return fc_cell_fork(t, a->cell, a->ckpt, a->newcell, &a->head, d);
}

static int fork_via_daemon(struct ctl *c, struct ckpt_args *a,
			   const struct fc_daemon_info *info, struct fc_diag *d)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	double t0;
	int rc;

	if (!a->name)
		ctl_syncfs(info->mountpoint);
	cJSON_AddStringToObject(req, "op", "fork");
	req_str(req, "checkpoint", a->name);
	cJSON_AddStringToObject(req, "newcell", a->newcell);
	t0 = ctl_now_ms();
	rc = ctl_daemon_call(c, a->cell, req, &resp, d);
	if (rc == 0)
		a->ms = resp_ms(resp, t0);
	if (rc == 0) {
		a->ckpt = resp_u64(resp, "from");
		a->head = resp_u64(resp, "head");
	}
	cJSON_Delete(resp);
	return rc;
}

int cmd_fork(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_LONGOPTS,
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd *cmd = ctl_cmd_find("fork");
	struct ckpt_args a = { 0 };
	struct fc_daemon_info info;
	struct fc_diag d;
	bool served = false;
	int o, rc, lock_fd = -1, new_fd = -1;
	cJSON *r;

	while ((o = getopt_long(argc, argv, "hvf:", opts, NULL)) != -1) {
		if (o == 'f')
			a.name = optarg;
		else
			CTL_OPT_COMMON(c, cmd, o);
	}
	if (argc - optind != 2)
		return ctl_usage(cmd, "fork takes CELL NEWCELL");
	a.cell = argv[optind];
	a.newcell = argv[optind + 1];
	if (ctl_name_arg(c, "cell", a.cell) || ctl_name_arg(c, "new cell", a.newcell) ||
	    ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = ctl_cell_must_exist(c, a.cell, NULL, &d);
	if (rc == 0 && ctl_cell_must_exist(c, a.newcell, NULL, NULL) == 0)
		rc = fc_diag_set(&d, FC_EEXIST, "cell '%s' already exists", a.newcell);
	/* Hold the new cell's lock so nobody mounts or inits it meanwhile. */
	if (rc == 0)
		rc = fc_cell_lock_try(c->st, a.newcell, 0, &new_fd, &d);
	if (rc == 0)
		rc = ctl_cell_route(c, a.cell, &lock_fd, &served, &info, &d);
	if (rc == 0 && served)
		rc = fork_via_daemon(c, &a, &info, &d);
	else if (rc == 0)
		rc = direct_write(c, fork_txn, &a, &a.ms, &d);
	fc_cell_lock_release(lock_fd);
	fc_cell_lock_release(new_fd);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	if (!c->json) {
		printf("forked cell '%s' from checkpoint %llu of '%s' (head %llu)\n", a.newcell,
		       (unsigned long long)a.ckpt, a.cell, (unsigned long long)a.head);
		return CTL_EXIT_OK;
	}
	r = fc_ctl_reply_ok();
	cJSON_AddStringToObject(r, "cell", a.newcell);
	cJSON_AddStringToObject(r, "from_cell", a.cell);
	cJSON_AddNumberToObject(r, "from", (double)a.ckpt);
	cJSON_AddNumberToObject(r, "head", (double)a.head);
	cJSON_AddNumberToObject(r, "duration_ms", a.ms);
	ctl_json_out(r);
	return CTL_EXIT_OK;
}

/* ---- checkpoint-delete ---- */

/*
 * Drop a checkpoint's name: the generation becomes abandoned, so gc can
 * reclaim it unless a live chain still needs it. It never touches a head,
 * so it is safe next to a daemon serving the cell.
 */
static int ckpt_del_txn(struct fc_txn *t, void *arg, struct fc_diag *d)
{
	struct ckpt_args *a = arg;
	struct fc_gen g;
	int rc = fc_ckpt_resolve(t, a->cell, a->name, &a->ckpt);

	if (rc < 0)
		return ckpt_err(rc, a->cell, a->name, d);
	rc = fc_gen_get(t, a->ckpt, &g);
	if (rc == 0 && strcmp(g.cell, a->cell) != 0)
		return fc_diag_set(d, FC_ESTATE, "checkpoint '%s' belongs to cell '%s'", a->name,
				   g.cell);
	if (rc < 0)
		return rc;
	g.kind = FC_GEN_ABANDONED;
	g.name[0] = '\0';
	return fc_gen_put(t, a->ckpt, &g);
}

int cmd_checkpoint_delete(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("checkpoint-delete");
	struct ckpt_args a = { 0 };
	struct fc_diag d;
	int o, rc, lock_fd = -1, held;
	cJSON *r;

	while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, o);
	if (argc - optind != 2)
		return ctl_usage(cmd, "checkpoint-delete takes CELL CHECKPOINT");
	a.cell = argv[optind];
	a.name = argv[optind + 1];
	if (ctl_name_arg(c, "cell", a.cell) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = ctl_cell_must_exist(c, a.cell, NULL, &d);
	/* Serialise with direct writers; a daemon holding the lock is fine. */
	if (rc == 0) {
		rc = fc_cell_lock_try(c->st, a.cell, 0, &lock_fd, &d);
		if (rc == FC_ELOCKED)
			rc = 0;
	}
	if (rc == 0)
		rc = direct_write(c, ckpt_del_txn, &a, &a.ms, &d);
	held = rc == 0 ? fc_cell_lock_held(c->st, a.cell, a.ckpt) : 0;
	fc_cell_lock_release(lock_fd);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	if (held == 1)
		ctl_warn("checkpoint %llu is mounted (time travel); it stays readable there",
			 (unsigned long long)a.ckpt);
	if (!c->json) {
		printf("deleted checkpoint %llu '%s' of cell '%s'; 'forkcellctl gc %s' reclaims "
		       "what no other generation needs\n", (unsigned long long)a.ckpt, a.name,
		       a.cell, a.cell);
		return CTL_EXIT_OK;
	}
	r = fc_ctl_reply_ok();
	cJSON_AddStringToObject(r, "cell", a.cell);
	cJSON_AddNumberToObject(r, "deleted", (double)a.ckpt);
	cJSON_AddStringToObject(r, "name", a.name);
	ctl_json_out(r);
	return CTL_EXIT_OK;
}
