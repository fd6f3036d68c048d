/*
 * cmd_receipt: reading the receipt chain back and deciding on runs:
 *   receipt show [ID|--latest] [--cell CELL] [--format json|md]
 *   receipt list [--cell CELL] [--since TIME]
 *   receipt verify [--all]
 *   review status
 *   accept CELL [--run ID] [--reason TEXT] [--force]
 *   reject CELL --run ID [--reason TEXT]
 */
#include "run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fc_canon.h"

/* A run as the chain tells it: its receipt and its latest decision. */
struct run_view {
	cJSON *receipt;          /* owned */
	char sha[FC_SHA256_HEX]; /* of the receipt record */
	char decision[16];       /* accepted | restored | pending */
	char decision_id[RC_ID_MAX];
};

struct chain_scan {
	const char *cell;        /* filter, NULL for all */
	const char *since;       /* ISO prefix filter on created_at */
	struct run_view *v;
	size_t n, cap;
};

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(x) ? x->valuestring : "";
}

static int scan_cb(void *arg, const cJSON *rec)
{
	struct chain_scan *s = arg;
	const char *kind = jstr(rec, "kind");

	if (strcmp(kind, "decision") == 0) {
		for (size_t i = 0; i < s->n; i++)
			if (strcmp(jstr(s->v[i].receipt, "id"), jstr(rec, "receipt_id")) == 0) {
				snprintf(s->v[i].decision, sizeof(s->v[i].decision), "%s",
					 jstr(rec, "result"));
				snprintf(s->v[i].decision_id, sizeof(s->v[i].decision_id), "%s",
					 jstr(rec, "id"));
			}
		return 0;
	}
	if (s->cell && strcmp(jstr(rec, "cell"), s->cell) != 0)
		return 0;
	if (s->since && strcmp(jstr(rec, "created_at"), s->since) < 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct run_view *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
	s->v[s->n].receipt = cJSON_Duplicate(rec, 1);
	snprintf(s->v[s->n].decision, sizeof(s->v[s->n].decision), "%s",
		 jstr(cJSON_GetObjectItem(rec, "decision"), "result"));
	{
		char *bytes = NULL;
		size_t len = 0;
		uint8_t dg[FC_SHA256_LEN];

		/* The chain hashes the canonical bytes, which re-emit identically. */
		if (fc_canon_json(rec, &bytes, &len, NULL) == 0) {
			fc_sha256_buf(bytes, len, dg);
			fc_hex(dg, sizeof(dg), s->v[s->n].sha);
		}
		free(bytes);
	}
	s->n++;
	return 0;
}

static void scan_free(struct chain_scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		cJSON_Delete(s->v[i].receipt);
	free(s->v);
}

static int scan(struct ctl *c, struct chain_scan *s, struct fc_diag *d)
{
	int rc = ctl_store_open(c, false);

	if (rc < 0)
		return rc;
	return receipt_iter(c->st, scan_cb, s, d);
}

static struct run_view *find_run(struct chain_scan *s, const char *id)
{
	for (size_t i = s->n; i-- > 0;)
		if (!id || strcmp(jstr(s->v[i].receipt, "id"), id) == 0 ||
		    strcmp(jstr(s->v[i].receipt, "run_id"), id) == 0)
			return &s->v[i];
	return NULL;
}

static int receipt_show(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option lo[] = { { "latest", no_argument, NULL, 'l' },
					    { "cell", required_argument, NULL, 'c' },
					    CTL_COMMON_LONGOPTS,
					    { NULL, 0, NULL, 0 } };
	struct chain_scan s = { 0 };
	struct fc_diag d;
	const char *fmt = "md";
	struct run_view *rv;
	char *md;
	int o, rc;

	fc_diag_init(&d);
	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		if (o == 'l')
			continue;
		if (o == 'c') {
			s.cell = optarg;
			continue;
		}
		if (o == 0x101 && strcmp(optarg, "md") == 0)
			continue;
		CTL_OPT_COMMON(c, cmd, o);
		fmt = c->json ? "json" : "md";
	}
	if (argc - optind > 1)
		return ctl_usage(cmd, "receipt show takes at most one ID");
	rc = scan(c, &s, &d);
	rv = rc == 0 ? find_run(&s, optind < argc ? argv[optind] : NULL) : NULL;
	if (rc == 0 && !rv)
		rc = fc_diag_set(&d, -ENOENT, "no receipt %s%s", optind < argc ? argv[optind] : "",
				 s.cell ? " for that cell" : "yet");
	if (rc == 0 && strcmp(fmt, "json") == 0) {
		ctl_json_out(cJSON_Duplicate(rv->receipt, 1));
	} else if (rc == 0) {
		rc = receipt_load_md(c->st, jstr(rv->receipt, "id"), &md, &d);
		if (rc == 0)
			fputs(md, stdout);
		if (rc == 0)
			free(md);
	}
	scan_free(&s);
	return rc < 0 ? ctl_fail(c, rc, &d) : CTL_EXIT_OK;
}

static int receipt_list(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option lo[] = { { "cell", required_argument, NULL, 'c' },
					    { "since", required_argument, NULL, 's' },
					    CTL_COMMON_LONGOPTS,
					    { NULL, 0, NULL, 0 } };
	struct chain_scan s = { 0 };
	struct fc_diag d;
	cJSON *arr;
	int o, rc;

	fc_diag_init(&d);
	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		if (o == 'c')
			s.cell = optarg;
		else if (o == 's')
			s.since = optarg;
		else
			CTL_OPT_COMMON(c, cmd, o);
	}
	if (optind != argc)
		return ctl_usage(cmd, "receipt list takes no arguments");
	rc = scan(c, &s, &d);
	if (rc < 0) {
		scan_free(&s);
		return ctl_fail(c, rc, &d);
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < s.n; i++) {
		const cJSON *r = s.v[i].receipt;
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "id", jstr(r, "id"));
		cJSON_AddStringToObject(e, "run_id", jstr(r, "run_id"));
		cJSON_AddStringToObject(e, "cell", jstr(r, "cell"));
		cJSON_AddStringToObject(e, "created_at", jstr(r, "created_at"));
		cJSON_AddItemToObject(e, "exit_status",
				      cJSON_Duplicate(cJSON_GetObjectItem(
							      cJSON_GetObjectItem(r, "exit"), "status"),
						      1));
		cJSON_AddStringToObject(e, "decision", s.v[i].decision);
		if (!c->json)
			printf("%s  %-16s %s  exit %-3d %s\n", jstr(r, "id"), jstr(r, "cell"),
			       jstr(r, "created_at"),
			       (int)cJSON_GetObjectItem(e, "exit_status")->valuedouble,
			       s.v[i].decision);
		cJSON_AddItemToArray(arr, e);
	}
	if (c->json) {
		cJSON *out = cJSON_CreateObject();

		cJSON_AddItemToObject(out, "receipts", arr);
		ctl_json_out(out);
	} else {
		cJSON_Delete(arr);
	}
	scan_free(&s);
	return CTL_EXIT_OK;
}

static int receipt_verify(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option lo[] = { { "all", no_argument, NULL, 'a' },
					    CTL_COMMON_LONGOPTS,
					    { NULL, 0, NULL, 0 } };
	struct fc_diag d;
	uint64_t n = 0;
	int o, rc;

	fc_diag_init(&d);
	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1)
		if (o != 'a')
			CTL_OPT_COMMON(c, cmd, o);
	if (optind != argc)
		return ctl_usage(cmd, "receipt verify checks the whole chain; it takes no ID");
	rc = ctl_store_open(c, false);
	if (rc < 0)
		return CTL_EXIT_FAIL;
	rc = receipt_chain_verify(c->st, &n, &d);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	if (c->json) {
		cJSON *out = cJSON_CreateObject();

		cJSON_AddBoolToObject(out, "ok", 1);
		cJSON_AddNumberToObject(out, "records", (double)n);
		ctl_json_out(out);
	} else {
		printf("receipt chain intact: %llu records, every hash, link and signature "
		       "verified\n",
		       (unsigned long long)n);
	}
	return CTL_EXIT_OK;
}

int cmd_receipt(struct ctl *c, int argc, char **argv)
{
	const struct ctl_cmd *cmd = ctl_cmd_find("receipt");

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		ctl_cmd_help(cmd);
		return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "show") == 0)
		return receipt_show(c, cmd, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return receipt_list(c, cmd, argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return receipt_verify(c, cmd, argc - 1, argv + 1);
	return ctl_usage(cmd, "unknown receipt subcommand '%s' (show, list, verify)", argv[1]);
}

/* review status: per cell, pending runs, latest decision, counts. */
int cmd_review(struct ctl *c, int argc, char **argv)
{
	const struct ctl_cmd *cmd = ctl_cmd_find("review");
	static const struct option lo[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	struct chain_scan s = { 0 };
	struct fc_diag d;
	cJSON *cells;
	int o, rc;

	if (argc < 2 || strcmp(argv[1], "status") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			ctl_cmd_help(cmd);
			return CTL_EXIT_OK;
		}
		return ctl_usage(cmd, "expected 'review status'");
	}
	argc--;
	argv++;
	fc_diag_init(&d);
	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, o);
	rc = scan(c, &s, &d);
	if (rc < 0) {
		scan_free(&s);
		return ctl_fail(c, rc, &d);
	}
	cells = cJSON_CreateObject();
	for (size_t i = 0; i < s.n; i++) {
		const char *cell = jstr(s.v[i].receipt, "cell");
		cJSON *e = cJSON_GetObjectItemCaseSensitive(cells, cell);

		if (!e) {
			e = cJSON_AddObjectToObject(cells, cell);
			cJSON_AddNumberToObject(e, "runs", 0);
			cJSON_AddNumberToObject(e, "accepted", 0);
			cJSON_AddNumberToObject(e, "restored", 0);
			cJSON_AddNumberToObject(e, "pending", 0);
			cJSON_AddArrayToObject(e, "pending_runs");
			cJSON_AddNullToObject(e, "latest_decision");
		}
		cJSON_SetNumberValue(cJSON_GetObjectItem(e, "runs"),
				     cJSON_GetObjectItem(e, "runs")->valuedouble + 1);
		cJSON *cnt = cJSON_GetObjectItem(e, s.v[i].decision);

		if (cnt)
			cJSON_SetNumberValue(cnt, cnt->valuedouble + 1);
		if (strcmp(s.v[i].decision, "pending") == 0)
			cJSON_AddItemToArray(cJSON_GetObjectItem(e, "pending_runs"),
					     cJSON_CreateString(jstr(s.v[i].receipt, "run_id")));
		else
			cJSON_ReplaceItemInObject(e, "latest_decision",
						  cJSON_CreateString(s.v[i].decision));
	}
	if (c->json) {
		cJSON *out = cJSON_CreateObject();

		cJSON_AddItemToObject(out, "cells", cells);
		ctl_json_out(out);
	} else {
		const cJSON *e;

		if (!cells->child)
			printf("no runs yet\n");
		cJSON_ArrayForEach(e, cells)
		{
			const cJSON *p, *ld = cJSON_GetObjectItem(e, "latest_decision");

			printf("%s: %d runs, %d accepted, %d restored, %d pending; latest "
			       "decision: %s\n",
			       e->string, (int)cJSON_GetObjectItem(e, "runs")->valuedouble,
			       (int)cJSON_GetObjectItem(e, "accepted")->valuedouble,
			       (int)cJSON_GetObjectItem(e, "restored")->valuedouble,
			       (int)cJSON_GetObjectItem(e, "pending")->valuedouble,
			       cJSON_IsString(ld) ? ld->valuestring : "none");
			cJSON_ArrayForEach(p, cJSON_GetObjectItem(e, "pending_runs"))
				printf("  pending: %s\n", p->valuestring);
		}
		cJSON_Delete(cells);
	}
	scan_free(&s);
	return CTL_EXIT_OK;
}

#define DECIDE_HELP 3 /* --help was printed: exit 0 */

struct decide_args {
	const char *cell, *run, *reason;
	bool force;
};

static int decide_parse(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
			struct decide_args *a)
{
	static const struct option lo[] = { { "run", required_argument, NULL, 'r' },
					    { "reason", required_argument, NULL, 'R' },
					    { "force", no_argument, NULL, 'f' },
					    CTL_COMMON_LONGOPTS,
					    { NULL, 0, NULL, 0 } };
	int o;

	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		if (o == 'h') {
			ctl_cmd_help(cmd);
			return DECIDE_HELP;
		}
		if (o == 'r')
			a->run = optarg;
		else if (o == 'R')
			a->reason = optarg;
		else if (o == 'f')
			a->force = true;
		else
			CTL_OPT_COMMON(c, cmd, o);
	}
	if (optind != argc - 1)
		return ctl_usage(cmd, "expected one CELL");
	a->cell = argv[optind];
	if (a->reason && !fc_utf8_valid(a->reason, strlen(a->reason)))
		return ctl_usage(cmd, "--reason must be UTF-8 text");
	return ctl_name_arg(c, "cell", a->cell) ? CTL_EXIT_FAIL : 0;
}

/* The run to decide on: --run, else the newest pending run of the cell. */
static int decide_target(struct ctl *c, const struct decide_args *a, struct chain_scan *s,
			 struct run_view **out, struct fc_diag *d)
{
	struct run_view *rv = NULL;
	int rc;

	s->cell = a->cell;
	rc = scan(c, s, d);
	if (rc < 0)
		return rc;
	if (a->run) {
		rv = find_run(s, a->run);
	} else {
		for (size_t i = s->n; i-- > 0 && !rv;)
			if (strcmp(s->v[i].decision, "pending") == 0)
				rv = &s->v[i];
	}
	if (!rv)
		return fc_diag_set(d, -ENOENT, a->run ? "no run '%s' in cell '%s'"
						      : "%scell '%s' has no pending run",
				   a->run ? a->run : "", a->cell);
	if (strcmp(rv->decision, "pending") != 0)
		return fc_diag_set(d, FC_ESTATE, "run '%s' is already decided: %s (%s)",
				   jstr(rv->receipt, "run_id"), rv->decision, rv->decision_id);
	*out = rv;
	return 0;
}

int cmd_accept(struct ctl *c, int argc, char **argv)
{
	const struct ctl_cmd *cmd = ctl_cmd_find("accept");
	struct decide_args a = { 0 };
	struct chain_scan s = { 0 };
	struct run_view *rv = NULL;
	char id[RC_ID_MAX];
	struct fc_diag d;
	int rc = decide_parse(c, cmd, argc, argv, &a);

	if (rc == DECIDE_HELP)
		return CTL_EXIT_OK;
	if (rc != 0)
		return rc;
	fc_diag_init(&d);
	rc = decide_target(c, &a, &s, &rv, &d);
	if (rc == 0 && cJSON_GetObjectItem(cJSON_GetObjectItem(rv->receipt, "exit"), "status")
				       ->valuedouble != 0 &&
	    !a.force)
		rc = fc_diag_set(&d, FC_ESTATE, "run '%s' failed; accepting it needs --force",
				 jstr(rv->receipt, "run_id"));
	receipt_new_id("dec", id);
	if (rc == 0)
		rc = run_decide(c, rv->receipt, rv->sha, "accepted",
				a.reason ? a.reason : "explicit_accept", false, a.force, id, &d);
	if (rc == 0)
		printf(c->json ? "{\"decision_id\":\"%s\",\"result\":\"accepted\"}\n"
			       : "accepted run %s (decision %s)\n",
		       c->json ? id : jstr(rv->receipt, "run_id"), id);
	scan_free(&s);
	return rc < 0 ? ctl_fail(c, rc, &d) : CTL_EXIT_OK;
}

int cmd_reject(struct ctl *c, int argc, char **argv)
{
	const struct ctl_cmd *cmd = ctl_cmd_find("reject");
	struct decide_args a = { 0 };
	struct chain_scan s = { 0 };
	struct run_view *rv = NULL;
	struct run_cell rcell;
	uint64_t gen = 0, head = 0;
	double ms = 0;
	char id[RC_ID_MAX];
	struct fc_diag d;
	int rc = decide_parse(c, cmd, argc, argv, &a);

	if (rc == DECIDE_HELP)
		return CTL_EXIT_OK;
	if (rc != 0)
		return rc;
	if (!a.run)
		return ctl_usage(cmd, "reject needs --run ID");
	fc_diag_init(&d);
	rc = decide_target(c, &a, &s, &rv, &d);
	if (rc == 0) {
		const cJSON *g = cJSON_GetObjectItem(cJSON_GetObjectItem(rv->receipt,
									 "checkpoint_before"),
						     "gen");

		gen = cJSON_IsNumber(g) ? (uint64_t)g->valuedouble : 0;
		rc = run_cell_ensure_mounted(c, a.cell, &rcell, &d);
	}
	if (rc == 0)
		rc = run_cell_restore(c, a.cell, gen, &head, &ms, &d);
	receipt_new_id("dec", id);
	if (rc == 0)
		rc = run_decide(c, rv->receipt, rv->sha, "restored", a.reason ? a.reason : "rejected",
				false, false, id, &d);
	if (rc == 0)
		printf(c->json ? "{\"decision_id\":\"%s\",\"result\":\"restored\"}\n"
			       : "rejected: cell restored to its checkpoint before the run "
				 "(decision %s)\n",
		       id);
	scan_free(&s);
	return rc < 0 ? ctl_fail(c, rc, &d) : CTL_EXIT_OK;
}
