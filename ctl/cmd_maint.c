/*
 * cmd_maint: store maintenance: gc (reclaim abandoned generations and
 * unreferenced blobs; with --all also the run directories of governed runs
 * whose forkcellctl was killed) and fsck (check the store's invariants).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "fc_ctlproto.h"
#include "fc_fsck.h"
#include "fc_gc.h"
#include "run_enforce.h"

static void gc_print(struct ctl *c, const struct fc_gc_opts *o, const struct fc_gc_stats *s,
		     uint64_t run_dirs, double ms)
{
	cJSON *r;

	if (!c->json) {
		printf("%s %llu generations, %llu records, %llu blobs, %llu bytes",
		       o->dry_run ? "would reclaim" : "reclaimed", (unsigned long long)s->gens,
		       (unsigned long long)s->records, (unsigned long long)s->blobs,
		       (unsigned long long)s->bytes);
		if (s->swept)
			printf("; orphan files: %llu (%llu bytes)",
			       (unsigned long long)s->orphan_files,
			       (unsigned long long)s->orphan_bytes);
		if (run_dirs)
			printf("; stale run directories: %llu", (unsigned long long)run_dirs);
		printf(" in %.1f ms\n", ms);
		if (!o->cell && !s->swept)
			fprintf(stderr, "forkcellctl: note: orphan files not swept while a daemon "
				"runs\n");
		return;
	}
	r = fc_ctl_reply_ok();
	if (o->cell)
		cJSON_AddStringToObject(r, "cell", o->cell);
	cJSON_AddBoolToObject(r, "dry_run", o->dry_run);
	cJSON_AddNumberToObject(r, "generations", (double)s->gens);
	cJSON_AddNumberToObject(r, "records", (double)s->records);
	cJSON_AddNumberToObject(r, "blobs", (double)s->blobs);
	cJSON_AddNumberToObject(r, "bytes", (double)s->bytes);
	cJSON_AddBoolToObject(r, "swept", s->swept);
	cJSON_AddNumberToObject(r, "orphan_files", (double)s->orphan_files);
	cJSON_AddNumberToObject(r, "orphan_bytes", (double)s->orphan_bytes);
	cJSON_AddNumberToObject(r, "stale_run_dirs", (double)run_dirs);
	cJSON_AddNumberToObject(r, "duration_ms", ms);
	ctl_json_out(r);
}

int cmd_gc(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_LONGOPTS,
		{ "all", no_argument, NULL, 'a' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd *cmd = ctl_cmd_find("gc");
	struct fc_gc_opts o = { 0 };
	struct fc_gc_stats s;
	struct fc_diag d;
	bool all = false;
	uint64_t run_dirs = 0;
	double t0;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "hvn", opts, NULL)) != -1) {
		if (opt == 'a')
			all = true;
		else if (opt == 'n')
			o.dry_run = true;
		else
			CTL_OPT_COMMON(c, cmd, opt);
	}
	if (all == (argc - optind == 1) || argc - optind > 1)
		return ctl_usage(cmd, "gc takes one CELL or --all");
	o.cell = all ? NULL : argv[optind];
	if ((o.cell && ctl_name_arg(c, "cell", o.cell)) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	t0 = ctl_now_ms();
	rc = fc_gc(c->st, &o, &s, &d);
	/* Store-wide: also the run directories of killed governed runs. */
	if (rc == 0 && all)
		rc = run_enforce_sweep(c, o.dry_run, &run_dirs, &d);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	gc_print(c, &o, &s, run_dirs, ctl_now_ms() - t0);
	return CTL_EXIT_OK;
}

struct fsck_out {
	struct ctl *c;
	cJSON *arr;
};

static void fsck_line(void *arg, const char *problem)
{
	struct fsck_out *o = arg;

	if (o->c->json)
		cJSON_AddItemToArray(o->arr, cJSON_CreateString(problem));
	else
		printf("%s\n", problem);
}

int cmd_fsck(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("fsck");
	struct fsck_out o = { c, NULL };
	struct fc_diag d;
	uint64_t problems = 0;
	cJSON *r;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, opt);
	if (argc - optind != 0)
		return ctl_usage(cmd, "fsck takes no arguments");
	if (ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	if (c->json)
		o.arr = cJSON_CreateArray();
	rc = fc_fsck(c->st, fsck_line, &o, &problems, &d);
	if (rc < 0) {
		cJSON_Delete(o.arr);
		return ctl_fail(c, rc, &d);
	}
	if (c->json) {
		r = cJSON_CreateObject();
		cJSON_AddBoolToObject(r, "ok", problems == 0);
		cJSON_AddNumberToObject(r, "problems", (double)problems);
		cJSON_AddItemToObject(r, "details", o.arr);
		ctl_json_out(r);
	} else if (problems == 0) {
		printf("store '%s' is consistent\n", c->st->path);
	} else {
		fprintf(stderr, "forkcellctl: error: fsck found %llu problem%s\n",
			(unsigned long long)problems, problems == 1 ? "" : "s");
	}
	return problems ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
