/*
 * forkcellctl: global options and the command table. Each command lives in
 * a cmd_<group>.c file; this file only dispatches.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "run.h"
#include "policy_cmd.h"
#include "fc_log.h"

#ifndef FORKCELL_VERSION
#define FORKCELL_VERSION "0.1.0"
#endif

const struct ctl_cmd ctl_commands[] = {
	{ "init", cmd_init, "CELL --from DIR", "create a cell from a directory (no data copy)",
	  NULL },
	{ "mount", cmd_mount, "CELL [MOUNTPOINT]", "mount a cell (default STORE/mnt/CELL)",
	  "  --allow-other        let other users (and containers) use the mount\n"
	  "  --ro                 mount read-only\n"
	  "  --checkpoint REF     mount a checkpoint read-only (time travel)\n"
	  "  --log FILE           daemon log file\n"
	  "  --debug              daemon debug logging\n" },
	{ "umount", cmd_umount, "CELL", "unmount a cell (also cleans up after a killed daemon)",
	  "  --checkpoint REF     unmount the time-travel mount of REF\n"
	  "  --lazy               detach even when the mount is busy\n" },
	{ "status", cmd_status, "CELL", "show a cell: head, checkpoints, mount", NULL },
	{ "list", cmd_list, "", "list the cells of the store", NULL },
	{ "checkpoint", cmd_checkpoint, "CELL", "freeze the current tree (O(1))",
	  "  --name NAME          checkpoint name (default ckpt-<id>)\n" },
	{ "checkpoint-delete", cmd_checkpoint_delete, "CELL CHECKPOINT",
	  "drop a checkpoint (gc reclaims what nothing else needs)", NULL },
	{ "checkpoints", cmd_checkpoints, "CELL", "show the generation tree of a cell", NULL },
	{ "restore", cmd_restore, "CELL [CHECKPOINT]",
	  "switch the cell back to a checkpoint (default: the latest)", NULL },
	{ "fork", cmd_fork, "CELL NEWCELL", "make a new cell from a checkpoint",
	  "  --from CHECKPOINT    fork from this checkpoint (default: checkpoint the head now)\n" },
	{ "diff", cmd_diff, "CELL [FROM [TO]]",
	  "changed paths between two generations (default: latest checkpoint to head)", NULL },
	{ "restore-path", cmd_restore_path, "CELL CHECKPOINT PATH...",
	  "bring single paths back from a checkpoint", NULL },
	{ "export", cmd_export, "CELL DIR", "materialise a generation into an empty directory",
	  "  --from CHECKPOINT    export this checkpoint (default: the head)\n" },
	{ "gc", cmd_gc, "CELL|--all", "reclaim abandoned generations and unreferenced blobs",
	  "  --all                every cell of the store, and the run directories\n"
	  "                       of governed runs whose forkcellctl was killed\n"
	  "  --dry-run            report what would be reclaimed, change nothing\n" },
	{ "fsck", cmd_fsck, "", "check the store's invariants (exit 1 when problems are found)",
	  NULL },
	{ "delete", cmd_delete, "CELL", "delete a cell (its data is reclaimed by gc)", NULL },
	{ "run", cmd_run, "CELL [OPTIONS] -- COMMAND [ARG...]",
	  "run a command in a sandbox: checkpoint, receipt, decision",
	  "  --checkpoint-before  checkpoint before the run (every run does; kept for\n"
	  "                       compatibility with the preview)\n"
	  "  --checkpoint-name N  name of that checkpoint\n"
	  "  --restore-on-fail    restore the checkpoint when the command fails\n"
	  "  --accept-on-success  record an accept decision when it succeeds\n"
	  "  --timeout SECONDS    kill the whole sandbox after SECONDS (status 124)\n"
	  "  --runtime NAME       local (bubblewrap, default), docker, openshell\n"
	  "  --image IMAGE        sandbox image (docker, openshell)\n"
	  "  --workdir DIR        the mount's place in the sandbox (default /workspace)\n"
	  "  --env K=V            set a variable (repeatable; nothing else is inherited)\n"
	  "  --env-public K       record the value of K in the receipt (default: name only)\n"
	  "  --policy FILE        enforce an OpenShell policy file (local, docker: Landlock,\n"
	  "                       seccomp, egress proxy; openshell: passed to OpenShell)\n"
	  "                       and bind its revision and events to the receipt\n"
	  "  --exit-with-command  exit with the command's status (default: 0 when the\n"
	  "                       run was recorded, 125 on forkcellctl's own failure)\n"
	  "  --format json|md     print the receipt as JSON or Markdown\n" },
	{ "receipt", cmd_receipt, "show [ID] | list | verify",
	  "read and verify the signed receipt chain",
	  "  show [ID|--latest] [--cell CELL] [--format json|md]\n"
	  "  list [--cell CELL] [--since 2026-11-28T00:00:00Z]\n"
	  "  verify [--all]       check every hash, link and signature\n" },
	{ "review", cmd_review, "status", "pending runs and decisions per cell", NULL },
	{ "accept", cmd_accept, "CELL", "accept a run's changes (a signed decision record)",
	  "  --run ID             the run (default: the newest pending run)\n"
	  "  --reason TEXT        recorded in the decision\n"
	  "  --force              accept a run whose command failed\n" },
	{ "reject", cmd_reject, "CELL --run ID", "restore the checkpoint taken before a run",
	  "  --run ID             the run to reject\n"
	  "  --reason TEXT        recorded in the decision\n" },
	{ "policy", cmd_policy, "check FILE | diff A B",
	  "validate, canonicalise and compare OpenShell policy files",
	  "  check FILE           validate FILE, print its canonical form and revision\n"
	  "  diff A B             what B allows that A does not, and the reverse\n" },
	{ "events", cmd_events, "query [OPTIONS]",
	  "the OCSF events of governed runs (egress decisions)",
	  "  query                list events, oldest run first\n"
	  "  --cell CELL          only this cell's runs\n"
	  "  --run ID             only this run\n"
	  "  --decision D         allowed, denied or audited\n"
	  "  --host HOST          only this destination host\n"
	  "  --limit N            at most N events\n" },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct ctl_cmd *ctl_cmd_find(const char *name)
{
	const struct ctl_cmd *cmd;

	for (cmd = ctl_commands; cmd->name; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

static void ctl_main_help(FILE *f)
{
	const struct ctl_cmd *cmd;

	fprintf(f, "usage: forkcellctl [--store PATH] [--format human|json] [-v] COMMAND [ARGS]\n\n"
		   "Cells of a ForkCell store: copy-on-write workspaces with O(1) checkpoint,\n"
		   "restore and fork.\n\ncommands:\n");
	for (cmd = ctl_commands; cmd->name; cmd++)
		fprintf(f, "  %-13s %s\n", cmd->name, cmd->summary);
	fprintf(f, "\nglobal options (also accepted after the command):\n"
		   "  --store PATH         the store (default $FORKCELL_HOME, else\n"
		   "                       ~/.local/share/forkcell)\n"
		   "  --format human|json  output format (json: exactly one object)\n"
		   "  -v, --verbose        more diagnostics\n"
		   "  -h, --help           this help; COMMAND --help for a command\n"
		   "  --version            print the version\n"
		   "\nexit status: 0 ok, 1 failure, 2 usage error\n");
}

/*
 * A corrupted LMDB file can make LMDB follow a page number past the end of
 * the file; touching that part of the map raises SIGBUS. Report it as the
 * corruption it is instead of dying with "Bus error" (only async-signal-safe
 * calls here).
 */
static void ctl_sigbus(int sig)
{
	static const char msg[] = "forkcellctl: error: store metadata is corrupted "
				  "(read past the end of the LMDB file)\n";
	ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)n;
	(void)sig;
	_exit(CTL_EXIT_FAIL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_LONGOPTS,
		{ "version", no_argument, NULL, 0x102 },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c = { 0 };
	const struct ctl_cmd *cmd;
	int o, rc;

	fc_log_set_prog("forkcellctl");
	signal(SIGBUS, ctl_sigbus);
	while ((o = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
		if (o == 'h') {
			ctl_main_help(stdout);
			return CTL_EXIT_OK;
		}
		if (o == 0x102) {
			printf("forkcellctl %s\n", FORKCELL_VERSION);
			return CTL_EXIT_OK;
		}
		rc = ctl_common_opt(&c, NULL, o, optarg);
		if (rc < 0)
			return CTL_EXIT_USAGE;
		if (rc == 0) {
			ctl_main_help(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		ctl_main_help(stderr);
		return CTL_EXIT_USAGE;
	}
	cmd = ctl_cmd_find(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "forkcellctl: error: unknown command '%s' (see forkcellctl --help)\n",
			argv[optind]);
		return CTL_EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0;
	rc = cmd->fn(&c, argc, argv);
	fc_store_close(c.st);
	return rc;
}
