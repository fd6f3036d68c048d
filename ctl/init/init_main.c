/*
 * forkcell-init: the sandbox's first process under a policy (both the local
 * and the docker runtime run the command through it). It waits for the
 * host's go, locks itself down, reports what it enforced, and becomes the
 * command:
 *
 *   forkcell-init [--gate P] [--status P] [--ro PATH]... [--rw PATH]...
 *                 [--landlock best_effort|hard_requirement] [--uid N] [--gid N]
 *                 [--no-seccomp] -- CMD [ARGS...]
 *
 *   1. --gate: block reading one line from the FIFO P; anything but "go"
 *      (or EOF) ends init with 125, so a sandbox whose host never released
 *      it never runs the command. --status: open FIFO P for writing (the
 *      host opened it for reading before releasing the gate).
 *   2. Open the Landlock paths (as root; init_landlock.c).
 *   3. setgroups({}) / setresgid / setresuid to --gid / --uid (when given;
 *      --uid alone leaves the gid as it is), no_new_privs, every capability
 *      set emptied (init_priv.c).
 *   4. Landlock (when some --ro/--rw path is given), then the seccomp filter
 *      (init_seccomp.c) unless --no-seccomp.
 *   5. Write ONE JSON line to --status and close it (see init_json.c), e.g.
 *      {"init":1,"landlock":{"abi":7,"status":"enforced","ro":3,"rw":2,
 *      "implicit":8,"skipped":["/x"],"skipped_more":0,"scoped":true},
 *      "seccomp":"enforced","uid":1000,"gid":1000,"no_new_privs":true,
 *      "caps":"dropped"}
 *      When a step fails, the line is {"init":1,"error":"..."} instead.
 *   6. execvp() the command with the environment unchanged.
 *
 * Exit codes (before the exec): 125 for our own setup errors and a closed
 * gate (message "forkcell-init: ..." on stderr), 126 when the command
 * cannot be executed (also a Landlock denial), 127 when it is not found.
 * The policy's run_as_user "sandbox" is uid/gid 1000; the caller passes
 * numbers. Every fd is O_CLOEXEC: nothing of ours reaches the command.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define INIT_ID_MAX 4294967294LL  /* (uid_t)-1 means "unchanged" to the kernel */

static const char usage_text[] =
	"usage: forkcell-init [--gate FIFO] [--status FIFO] [--ro PATH]... [--rw PATH]...\n"
	"                     [--landlock best_effort|hard_requirement] [--uid N] [--gid N]\n"
	"                     [--no-seccomp] -- COMMAND [ARG...]\n"
	"\n"
	"The first process of a ForkCell sandbox. In this order it:\n"
	"  waits for one line \"go\" on --gate (anything else or EOF: exit 125),\n"
	"  opens --status for writing and the --ro/--rw paths (still as root),\n"
	"  drops supplementary groups and sets --gid/--uid (when given),\n"
	"  sets no_new_privs and empties every capability set (bounding set too),\n"
	"  applies Landlock when a --ro/--rw path is given: --ro gets execute, read\n"
	"  file and read dir, --rw every right of the kernel's ABI (REFER from ABI 2,\n"
	"  TRUNCATE 3, IOCTL_DEV 5; abstract unix sockets and signals scoped from 6),\n"
	"  loads the seccomp filter (mount API, ptrace, new user namespaces, bpf,\n"
	"  keyrings, modules, memfd, io_uring, exotic sockets ... fail with EPERM),\n"
	"  writes one JSON status line to --status, and executes COMMAND.\n"
	"\n"
	"Landlock also allows, implicitly: read-write /dev/null /dev/zero /dev/full\n"
	"/dev/tty /dev/ptmx /dev/pts, read-only /dev/random /dev/urandom. Nothing\n"
	"else: /tmp, /proc and the command's binaries must be listed.\n"
	"--landlock best_effort (default) skips paths that do not exist and runs\n"
	"without Landlock on a kernel without it; hard_requirement fails instead.\n"
	"A policy's run_as_user \"sandbox\" is uid/gid 1000.\n"
	"\n"
	"Exit: 125 setup error or closed gate, 126 not executable (or denied),\n"
	"127 not found; otherwise COMMAND replaces this program.\n";

/* The status FIFO, for reporting a failure from anywhere before the exec. */
static int status_fd = -1;

static void report(const char *line, size_t len)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;

	if (status_fd < 0)
		return;
	/* A host that stopped reading must not kill us silently (EPIPE instead). */
	sigaction(SIGPIPE, &ign, &old);
	while (len > 0) {
		ssize_t n = write(status_fd, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		line += n;
		len -= (size_t)n;
	}
	sigaction(SIGPIPE, &old, NULL);
	close(status_fd);
	status_fd = -1;
}

static void __attribute__((noreturn)) fail(int code, const char *msg)
{
	struct init_json j;

	init_json_error(&j, msg);
	report(j.buf, j.len);
	fprintf(stderr, "forkcell-init: %s\n", msg);
	exit(code);
}

static long long parse_id(const char *opt, const char *s)
{
	char *end = NULL, msg[128];
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || !end || *end || end == s || v < 0 || v > INIT_ID_MAX) {
		snprintf(msg, sizeof(msg), "%s wants a number from 0 to %lld, got '%.40s'", opt,
			 INIT_ID_MAX, s);
		fail(INIT_EXIT_SETUP, msg);
	}
	return v;
}

static void usage_error(const char *msg)
{
	fprintf(stderr, "forkcell-init: %s (see --help)\n", msg);
	exit(INIT_EXIT_SETUP);
}

static void parse_args(int argc, char **argv, struct init_opts *o)
{
	static const struct option longopts[] = {
		{ "gate", required_argument, NULL, 'g' },
		{ "status", required_argument, NULL, 's' },
		{ "ro", required_argument, NULL, 'r' },
		{ "rw", required_argument, NULL, 'w' },
		{ "landlock", required_argument, NULL, 'l' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'G' },
		{ "no-seccomp", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct init_opts){ .uid = -1, .gid = -1, .seccomp = true };
	o->ro = calloc((size_t)argc, sizeof(*o->ro));
	o->rw = calloc((size_t)argc, sizeof(*o->rw));
	if (!o->ro || !o->rw)
		fail(INIT_EXIT_SETUP, "out of memory");
	/* "+": stop at the first non-option; the command's own options are not ours. */
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g': o->gate = optarg; break;
		case 's': o->status = optarg; break;
		case 'r': o->ro[o->n_ro++] = optarg; break;
		case 'w': o->rw[o->n_rw++] = optarg; break;
		case 'u': o->uid = parse_id("--uid", optarg); break;
		case 'G': o->gid = parse_id("--gid", optarg); break;
		case 'S': o->seccomp = false; break;
		case 'l':
			if (strcmp(optarg, "hard_requirement") == 0)
				o->hard = true;
			else if (strcmp(optarg, "best_effort") != 0)
				usage_error("--landlock wants best_effort or hard_requirement");
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			usage_error("bad option");
		}
	}
	if (optind >= argc)
		usage_error("no command given");
	o->argv = argv + optind;
}

/* Block until the host says go; anything else ends the sandbox before the command. */
static void wait_gate(const char *path)
{
	char line[16], msg[256];
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(msg, sizeof(msg), "cannot open the gate '%.150s': %s", path,
			 strerror(errno));
		fail(INIT_EXIT_SETUP, msg);
	}
	while (len < sizeof(line) - 1) {
		ssize_t n = read(fd, line + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	close(fd);
	if (strcmp(line, "go") != 0)
		fail(INIT_EXIT_SETUP, "the gate was closed without a go: not running the command");
}

static void open_status(const char *path)
{
	char msg[256];

	/* Blocks until the host reads; it opens its end before releasing the gate. */
	status_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (status_fd < 0) {
		snprintf(msg, sizeof(msg), "cannot open the status FIFO '%.150s': %s", path,
			 strerror(errno));
		fail(INIT_EXIT_SETUP, msg);
	}
}

static void lock_down(const struct init_opts *o, struct init_landlock *ll,
		      struct init_report *r)
{
	struct init_err e = { { 0 } };

	if (init_landlock_prepare(o, ll, &e) < 0 || init_priv_ids(o, &e) < 0 ||
	    init_priv_nnp(&e) < 0)
		fail(INIT_EXIT_SETUP, e.msg);
	r->no_new_privs = true;
	if (init_priv_drop_caps(&e) < 0)
		fail(INIT_EXIT_SETUP, e.msg);
	r->caps_dropped = true;
	if (init_landlock_enforce(o, ll, &e) < 0)
		fail(INIT_EXIT_SETUP, e.msg);
	r->seccomp = "disabled";
	if (o->seccomp) {
		if (init_seccomp_load(&e) < 0)
			fail(INIT_EXIT_SETUP, e.msg);
		r->seccomp = "enforced";
	}
	r->uid = (unsigned long)getuid();
	r->gid = (unsigned long)getgid();
}

int main(int argc, char **argv)
{
	struct init_opts o;
	struct init_landlock ll = { .status = "not_requested" };
	struct init_report r = { .seccomp = "disabled" };
	struct init_json j;
	char msg[256];
	int err;

	parse_args(argc, argv, &o);
	if (o.gate)
		wait_gate(o.gate);
	if (o.status)
		open_status(o.status);
	lock_down(&o, &ll, &r);
	init_json_status(&j, &ll, &r);
	report(j.buf, j.len);
	execvp(o.argv[0], o.argv);
	err = errno;
	snprintf(msg, sizeof(msg), "cannot execute '%.150s': %s", o.argv[0], strerror(err));
	fprintf(stderr, "forkcell-init: %s\n", msg);
	return err == ENOENT || err == ENOTDIR ? INIT_EXIT_NOTFOUND : INIT_EXIT_NOEXEC;
}
