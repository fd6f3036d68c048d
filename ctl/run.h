/*
 * run: `forkcellctl run`, the governed transaction
 *   checkpoint -> sandboxed command -> receipt -> accept | restore | pending
 * split into: cmd_run.c (arguments, orchestration), run_cell.c (the cell
 * operations a run needs, through the daemon), run_changes.c (the file
 * changes of the receipt), receipt_md.c (Markdown rendering).
 */
#ifndef RUN_H
#define RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "fc_hash.h"
#include "receipt_chain.h"
#include "run_enforce.h"
#include "runtime.h"

#define RUN_MAX_ENV 256
#define RUN_SCHEMA_VERSION "1"
#define RUN_DEFAULT_PATH_VALUE "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct run_opts {
	const char *cell;
	bool checkpoint_before;
	const char *checkpoint_name;
	bool restore_on_fail;
	bool accept_on_success;
	bool exit_with_command;
	int timeout_s;
	const char *runtime;
	const char *image;
	const char *workdir;
	const char *policy;
	const char *fmt;              /* "json" | "md" | NULL (human) */
	char *env[RUN_MAX_ENV + 1];   /* K=V, NULL-terminated */
	size_t n_env;
	const char *public_env[RUN_MAX_ENV]; /* keys whose values are recorded */
	size_t n_public;
	char **argv;
};

/* The cell as a run sees it: mounted, with its daemon. */
struct run_cell {
	struct fc_daemon_info info;
	bool mounted_by_us;
};

/* Everything the run learned, for the receipt. */
struct run_state {
	char run_id[RC_ID_MAX];
	char receipt_id[RC_ID_MAX];
	char decision_id[RC_ID_MAX];
	struct run_cell cell;
	uint64_t ckpt, head_after, restored_head;
	char ckpt_name[FC_CELL_NAME_MAX + 1];
	double ckpt_ms, diff_ms, restore_ms;
	int64_t t_start_ns, total_restore_path_ms;
	time_t started_at, finished_at;
	struct runtime_result rt;
	struct run_capture out, err;
	cJSON *changes;
	cJSON *policy;                /* what the snapshot binds: hashes, revision */
	cJSON *policy_change;         /* since the cell's previous run (run_policy.c) */
	struct fc_policy *pol;        /* the parsed policy, NULL without --policy */
	struct run_enforce enforce;
	char policy_file[4096];       /* the snapshot, absolute; "" without --policy */
	char events_file[4096];       /* the runtime's event log, absolute */
	const char *decision;
	const char *reason;
};

/* Make sure cell is mounted (allow_other, so containers can use it). */
int run_cell_ensure_mounted(struct ctl *c, const char *cell, struct run_cell *rc_out,
			    struct fc_diag *d);
/* Checkpoint through the daemon (syncfs first). *gen, *ms set on success. */
int run_cell_checkpoint(struct ctl *c, const struct run_cell *rcell, const char *cell,
			const char *name, uint64_t *gen, double *ms, struct fc_diag *d);
/* Restore to checkpoint gen through the daemon. */
int run_cell_restore(struct ctl *c, const char *cell, uint64_t gen, uint64_t *new_head,
		     double *ms, struct fc_diag *d);
/* Flush the mount and return the current head generation. */
int run_cell_sync_head(struct ctl *c, const struct run_cell *rcell, const char *cell,
		       uint64_t *head, struct fc_diag *d);

/*
 * The receipt's "changes" object between generations from and to of cell:
 * {"added":[...],"modified":[...],"deleted":[...],"renamed":[...],
 *  "counts":{...}} with sizes and XXH3-128 content hashes before/after.
 * Cost proportional to the changes (fc_diff over the change logs).
 */
int run_changes(struct fc_store *st, const char *cell, uint64_t from, uint64_t to,
		cJSON **out, struct fc_diag *d);

/* Markdown rendering of a receipt or decision record (caller frees). */
char *receipt_markdown(const cJSON *rec);

/*
 * Snapshot --policy (bytes read once, parsed into s->pol, hashed, stored
 * under STORE/policies/ by content) into s->policy, and compare it with the
 * cell's previous run (s->policy_change). Without --policy only the latter.
 */
int run_policy_snapshot(struct ctl *c, const struct run_opts *o, struct run_state *s,
			struct fc_diag *d);
/* Remember this run's policy as the cell's latest (after its receipt). */
int run_policy_record_last(struct ctl *c, const char *cell, const struct run_state *s,
			   struct fc_diag *d);
/* The receipt's "policy": the snapshot's facts plus who enforced it. */
cJSON *run_policy_json(const struct run_opts *o, const struct run_state *s);

/* Build, sign and chain the receipt (and the decision record), then print. */
int run_write_receipt(struct ctl *c, const struct run_opts *o, struct run_state *s,
		      struct fc_diag *d);

/* Create the decision record for receipt (id, sha) and append it. */
int run_decide(struct ctl *c, const cJSON *receipt, const char *receipt_sha,
	       const char *result, const char *reason, bool automatic, bool forced,
	       const char *decision_id, struct fc_diag *d);

/* Commands (ctl/cmd_run.c, ctl/cmd_receipt.c). */
int cmd_run(struct ctl *c, int argc, char **argv);
int cmd_receipt(struct ctl *c, int argc, char **argv);
int cmd_review(struct ctl *c, int argc, char **argv);
int cmd_accept(struct ctl *c, int argc, char **argv);
int cmd_reject(struct ctl *c, int argc, char **argv);

#endif
