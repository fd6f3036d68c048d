/*
 * cmd_cells: the cell lifecycle commands of forkcellctl: init, status,
 * list and delete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "fc_ctlproto.h"
#include "fc_import.h"

/* ---- init ---- */

static void init_print(struct ctl *c, const char *cell, const char *from,
		       const struct fc_import_stats *s)
{
	cJSON *o;

	if (!c->json) {
		printf("initialised cell '%s' from '%s': %llu files, %llu directories, "
		       "%llu symlinks, %llu other, %llu bytes in %.1f ms (no data copied)\n",
		       cell, from, (unsigned long long)s->files, (unsigned long long)s->dirs,
		       (unsigned long long)s->symlinks, (unsigned long long)s->specials,
		       (unsigned long long)s->bytes, (double)s->duration_ns / 1e6);
		return;
	}
	o = fc_ctl_reply_ok();
	cJSON_AddStringToObject(o, "cell", cell);
	cJSON_AddStringToObject(o, "from", from);
	cJSON_AddNumberToObject(o, "files", (double)s->files);
	cJSON_AddNumberToObject(o, "dirs", (double)s->dirs);
	cJSON_AddNumberToObject(o, "symlinks", (double)s->symlinks);
	cJSON_AddNumberToObject(o, "specials", (double)s->specials);
	cJSON_AddNumberToObject(o, "bytes", (double)s->bytes);
	cJSON_AddNumberToObject(o, "duration_ms", (double)s->duration_ns / 1e6);
	cJSON_AddNumberToObject(o, "base_checkpoint", (double)s->root_gen);
	cJSON_AddNumberToObject(o, "head", (double)s->head);
	ctl_json_out(o);
}

int cmd_init(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_LONGOPTS,
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd *cmd = ctl_cmd_find("init");
	struct fc_import_stats stats;
	struct fc_diag d;
	const char *from = NULL, *cell;
	int o, rc, lock_fd = -1;

	while ((o = getopt_long(argc, argv, "hvf:", opts, NULL)) != -1) {
		if (o == 'f')
			from = optarg;
		else
			CTL_OPT_COMMON(c, cmd, o);
	}
	if (argc - optind != 1)
		return ctl_usage(cmd, "init takes one CELL");
	if (!from)
		return ctl_usage(cmd, "init needs --from DIR");
	cell = argv[optind];
	if (ctl_name_arg(c, "cell", cell))
		return CTL_EXIT_FAIL;
	if (ctl_store_open(c, true) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = fc_cell_lock_try(c->st, cell, 0, &lock_fd, &d);
	if (rc == 0)
		rc = fc_import_dir(c->st, cell, from, &stats, &d);
	fc_cell_lock_release(lock_fd);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	init_print(c, cell, from, &stats);
	return CTL_EXIT_OK;
}

/* ---- status ---- */

struct ckpt_count {
	const char *cell;
	uint64_t n;
	uint64_t latest;
	char latest_name[FC_CELL_NAME_MAX + 1];
};

static int count_ckpt(void *arg, uint64_t gen, const struct fc_gen *g)
{
	struct ckpt_count *cc = arg;

	if (g->kind != FC_GEN_CHECKPOINT || strcmp(g->cell, cc->cell) != 0)
		return 0;
	cc->n++;
	cc->latest = gen;
	snprintf(cc->latest_name, sizeof(cc->latest_name), "%s", g->name);
	return 0;
}

static const char *state_name(enum fc_serve_state s)
{
	return s == FC_SERVE_LIVE ? "mounted" : s == FC_SERVE_STALE ? "stale" : "unmounted";
}

static cJSON *status_json(const char *cell, const struct fc_cell *cl, const struct fc_gen *hg,
			  const struct ckpt_count *cc, const char *base,
			  enum fc_serve_state s, const struct fc_daemon_info *info)
{
	cJSON *o = fc_ctl_reply_ok(), *m;

	cJSON_AddStringToObject(o, "cell", cell);
	cJSON_AddNumberToObject(o, "head", (double)cl->head);
	cJSON_AddNumberToObject(o, "head_parent", (double)hg->parent);
	cJSON_AddNumberToObject(o, "root_ino", (double)cl->root_ino);
	cJSON_AddNumberToObject(o, "origin", (double)cl->origin);
	cJSON_AddStringToObject(o, "base", base);
	ctl_json_i64(o, "created_ns", cl->created_ns);
	cJSON_AddNumberToObject(o, "checkpoints", (double)cc->n);
	if (cc->latest) {
		m = cJSON_AddObjectToObject(o, "latest_checkpoint");
		cJSON_AddNumberToObject(m, "id", (double)cc->latest);
		cJSON_AddStringToObject(m, "name", cc->latest_name);
	} else {
		cJSON_AddNullToObject(o, "latest_checkpoint");
	}
	m = cJSON_AddObjectToObject(o, "mount");
	cJSON_AddStringToObject(m, "state", state_name(s));
	if (s != FC_SERVE_NONE) {
		cJSON_AddStringToObject(m, "mountpoint", info->mountpoint);
		cJSON_AddNumberToObject(m, "pid", (double)info->pid);
		cJSON_AddBoolToObject(m, "ro", info->ro);
	}
	return o;
}

static void status_human(const char *cell, const struct fc_cell *cl, const struct fc_gen *hg,
			 const struct ckpt_count *cc, const char *base,
			 enum fc_serve_state s, const struct fc_daemon_info *info)
{
	char when[64];

	ctl_fmt_time(cl->created_ns, when, sizeof(when));
	printf("cell:        %s\n", cell);
	printf("head:        %llu (parent %llu)\n", (unsigned long long)cl->head,
	       (unsigned long long)hg->parent);
	printf("created:     %s UTC\n", when);
	if (base[0])
		printf("base:        %s\n", base);
	if (cl->origin)
		printf("forked from: generation %llu\n", (unsigned long long)cl->origin);
	if (cc->latest)
		printf("checkpoints: %llu (latest: %s, id %llu)\n", (unsigned long long)cc->n,
		       cc->latest_name, (unsigned long long)cc->latest);
	else
		printf("checkpoints: 0\n");
	if (s == FC_SERVE_LIVE && !info->mountpoint[0])
		printf("mounted:     no (locked by another process)\n");
	else if (s == FC_SERVE_LIVE)
		printf("mounted:     %s at %s (pid %lld)\n", info->ro ? "read-only" : "yes",
		       info->mountpoint, (long long)info->pid);
	else if (s == FC_SERVE_STALE)
		printf("mounted:     stale at %s (daemon died; run 'forkcellctl umount %s')\n",
		       info->mountpoint, cell);
	else
		printf("mounted:     no\n");
}

/* Time-travel mounts of cell: run/<cell>@<gen>.json of a live daemon. */
static void status_tt_mounts(struct ctl *c, const char *cell, cJSON *o)
{
	int fd = openat(c->st->run_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	size_t n = strlen(cell);
	struct fc_daemon_info info;
	struct dirent *e;
	cJSON *arr = o ? cJSON_AddArrayToObject(o, "checkpoint_mounts") : NULL;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(dp))) {
		char *end = NULL;
		uint64_t gen;
		cJSON *m;

		if (strncmp(e->d_name, cell, n) != 0 || e->d_name[n] != '@')
			continue;
		gen = strtoull(e->d_name + n + 1, &end, 10);
		if (!end || strcmp(end, ".json") != 0 || gen == 0 ||
		    fc_cell_lock_held(c->st, cell, gen) != 1 ||
		    fc_daemon_info_read(c->st, cell, gen, &info) < 0)
			continue;
		if (!o) {
			printf("time travel: checkpoint %llu at %s (pid %lld)\n",
			       (unsigned long long)gen, info.mountpoint, (long long)info.pid);
			continue;
		}
		m = cJSON_CreateObject();
		cJSON_AddNumberToObject(m, "checkpoint", (double)gen);
		cJSON_AddStringToObject(m, "mountpoint", info.mountpoint);
		cJSON_AddNumberToObject(m, "pid", (double)info.pid);
		cJSON_AddItemToArray(arr, m);
	}
	closedir(dp);
}

int cmd_status(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("status");
	struct ckpt_count cc = { 0 };
	struct fc_daemon_info info;
	enum fc_serve_state s;
	struct fc_txn t = { 0 };
	struct fc_cell cl;
	struct fc_gen hg;
	struct fc_diag d;
	char base[4096] = "";
	int o, rc;

	while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, o);
	if (argc - optind != 1)
		return ctl_usage(cmd, "status takes one CELL");
	cc.cell = argv[optind];
	if (ctl_name_arg(c, "cell", cc.cell) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = ctl_cell_must_exist(c, cc.cell, &cl, &d);
	if (rc == 0)
		rc = fc_txn_begin(c->st, true, &t);
	if (rc == 0)
		rc = fc_gen_get(&t, cl.head, &hg);
	if (rc == 0)
		rc = fc_gen_iter(&t, count_ckpt, &cc);
	if (rc == 0 && cl.base_id)
		fc_base_get(&t, cl.base_id, base, sizeof(base));
	fc_txn_abort(&t);
	if (rc == 0)
		rc = fc_cell_serve_state(c->st, cc.cell, 0, &s, &info);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	if (c->json) {
		cJSON *out = status_json(cc.cell, &cl, &hg, &cc, base, s, &info);

		status_tt_mounts(c, cc.cell, out);
		ctl_json_out(out);
	} else {
		status_human(cc.cell, &cl, &hg, &cc, base, s, &info);
		status_tt_mounts(c, cc.cell, NULL);
	}
	return CTL_EXIT_OK;
}

/* ---- list ---- */

struct list_ctx {
	struct ctl *c;
	cJSON *arr;
	size_t n;
};

static int list_one(void *arg, const char *name, const struct fc_cell *cl)
{
	struct list_ctx *lc = arg;
	struct fc_daemon_info info;
	enum fc_serve_state s = FC_SERVE_NONE;
	cJSON *o;

	if (fc_cell_serve_state(lc->c->st, name, 0, &s, &info) < 0)
		s = FC_SERVE_NONE;
	lc->n++;
	if (!lc->c->json) {
		printf("%-24s %8llu  %-9s %s\n", name, (unsigned long long)cl->head,
		       state_name(s), s != FC_SERVE_NONE ? info.mountpoint : "");
		return 0;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "cell", name);
	cJSON_AddNumberToObject(o, "head", (double)cl->head);
	cJSON_AddStringToObject(o, "mount", state_name(s));
	if (s != FC_SERVE_NONE)
		cJSON_AddStringToObject(o, "mountpoint", info.mountpoint);
	cJSON_AddItemToArray(lc->arr, o);
	return 0;
}

int cmd_list(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("list");
	struct list_ctx lc = { c, NULL, 0 };
	struct fc_txn t = { 0 };
	struct fc_diag d;
	cJSON *o = NULL;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, opt);
	if (argc - optind != 0)
		return ctl_usage(cmd, "list takes no arguments");
	if (ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	if (c->json) {
		o = fc_ctl_reply_ok();
		lc.arr = cJSON_AddArrayToObject(o, "cells");
	} else {
		printf("%-24s %8s  %-9s %s\n", "CELL", "HEAD", "MOUNT", "MOUNTPOINT");
	}
	rc = fc_txn_begin(c->st, true, &t);
	if (rc == 0)
		rc = fc_cell_iter(&t, list_one, &lc);
	fc_txn_abort(&t);
	if (rc < 0) {
		cJSON_Delete(o);
		return ctl_fail(c, rc, &d);
	}
	if (c->json)
		ctl_json_out(o);
	return CTL_EXIT_OK;
}

/* ---- delete ---- */

int cmd_delete(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("delete");
	struct fc_daemon_info info;
	struct fc_txn t = { 0 };
	struct fc_diag d;
	const char *cell;
	char mnt[FC_CELL_NAME_MAX + 8];
	bool served = false;
	int o, rc, lock_fd = -1;

	while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, o);
	if (argc - optind != 1)
		return ctl_usage(cmd, "delete takes one CELL");
	cell = argv[optind];
	if (ctl_name_arg(c, "cell", cell) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = ctl_cell_must_exist(c, cell, NULL, &d);
	if (rc == 0 && fc_cell_lock_held(c->st, cell, 0) == 0 &&
	    fc_daemon_info_read(c->st, cell, 0, &info) == 0)
		rc = fc_diag_set(&d, FC_ESTATE, "cell '%s' has a stale mount at '%s'; run "
				 "'forkcellctl umount %s' first", cell, info.mountpoint, cell);
	if (rc == 0)
		rc = ctl_cell_route(c, cell, &lock_fd, &served, &info, &d);
	if (rc == 0 && served)
		rc = fc_diag_set(&d, FC_ELOCKED, "cell '%s' is mounted at '%s'; unmount it first",
				 cell, info.mountpoint);
	if (rc == 0)
		rc = fc_txn_begin(c->st, false, &t);
	if (rc == 0)
		rc = fc_cell_del(&t, cell);
	if (rc == 0)
		rc = fc_txn_commit(&t);
	fc_txn_abort(&t);
	if (rc == 0)
		rc = fc_store_sync(c->st);
	if (rc == 0) {
		snprintf(mnt, sizeof(mnt), "mnt/%s", cell);
		unlinkat(c->st->root_fd, mnt, AT_REMOVEDIR);   /* the default mountpoint */
		fc_daemon_info_remove(c->st, cell, 0);
	}
	fc_cell_lock_release(lock_fd);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	if (c->json) {
		cJSON *r = fc_ctl_reply_ok();

		cJSON_AddStringToObject(r, "deleted", cell);
		ctl_json_out(r);
	} else {
		printf("deleted cell '%s'; run 'forkcellctl gc --all' to reclaim its data\n", cell);
	}
	return CTL_EXIT_OK;
}
