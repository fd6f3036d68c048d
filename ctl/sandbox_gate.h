/*
 * sandbox_gate: the host side of forkcell-init's gate, shared by the local
 * and docker runtimes. Under a policy the sandbox's command is
 * `forkcell-init --gate G --status S ... -- ARGV`: init blocks on the gate
 * FIFO until the host has done what must happen before the command runs
 * (the runtime_gate's ready callback: starting the egress proxy in the
 * sandbox's network namespace), then locks itself down and writes one JSON
 * status line before it executes the command.
 */
#ifndef SANDBOX_GATE_H
#define SANDBOX_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runtime.h"

/* Where things are inside the sandbox. */
#define SANDBOX_INIT_PATH "/run/forkcell-init"
#define SANDBOX_GATE_DIR "/run/forkcell"
#define SANDBOX_GATE_FIFO SANDBOX_GATE_DIR "/gate"
#define SANDBOX_STATUS_FIFO SANDBOX_GATE_DIR "/status"
#define SANDBOX_CA_BUNDLE SANDBOX_GATE_DIR "/ca-bundle.pem"
#define SANDBOX_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
/* How long init may take to reach its gate, and then to report. */
#define SANDBOX_GATE_TIMEOUT_MS 10000

/*
 * The sandbox command for req under forkcell-init:
 *   SANDBOX_INIT_PATH [--gate G --status S] EXTRA... INIT_ARGS... -- ARGV...
 * (--gate and --status when req->gate_dir is set; extra may be NULL; later
 * options win, so INIT_ARGS override EXTRA). *out gets a NULL-terminated
 * array of borrowed strings: free the array only. Returns 0 or -ENOMEM.
 */
int sandbox_init_argv(const struct runtime_req *req, char *const *extra, char ***out);

/*
 * Whether req->ca_bundle needs its own bind at SANDBOX_CA_BUNDLE: not when
 * it is the gate directory's own ca-bundle.pem (bound with the directory;
 * a read-only bind could not take a new mount point anyway).
 */
bool sandbox_ca_needs_bind(const struct runtime_req *req);

/*
 * Let the sandbox go. host_pid is its first process (host pid namespace);
 * its end ends every wait early. In order: req->gate->ready(host_pid) when
 * req->gate is set; open GATE_DIR/status for reading; open GATE_DIR/gate
 * for writing (waiting up to SANDBOX_GATE_TIMEOUT_MS for init to open it),
 * write "go\n", close; read the status line to EOF (up to
 * SANDBOX_GATE_TIMEOUT_MS) into status (NUL-terminated, newline removed,
 * cut at cap - 1). An init that failed its setup reports
 * {"init":1,"error":...} there and exits 125 without running the command:
 * that is still a success here (the caller reads the line).
 *
 * On any failure the sandbox's first process is killed (SIGKILL through a
 * pidfd, so never a recycled pid). Returns 0; ready's code; -ETIMEDOUT;
 * FC_ESTATE when the sandbox ended first or the FIFOs are not FIFOs;
 * -errno; always with d set. Thread-safe (touches only its arguments).
 */
int sandbox_gate_pass(const struct runtime_req *req, pid_t host_pid, char *status, size_t cap,
		      struct fc_diag *d);

#endif
