/*
 * run_proxy: the egress proxy's life within one run. forkcellctl starts
 * forkcell-proxy from the runtime's gate callback, once the sandbox's
 * network namespace exists and before the command runs; stops it with
 * SIGTERM after the command; then reads back what it recorded. The events
 * file is the proxy's, written outside the sandbox: the receipt counts it,
 * hashes it and copies its denials and audits, and never looks at the
 * command's output for any of that.
 */
#include "run_enforce.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fc_fileio.h"
#include "fc_hash.h"
#include "fc_lines.h"
#include "fc_ocsf.h"
#include "run.h"

#define PROXY_READY_MS 10000
#define PROXY_STOP_MS 10000
#define SUMMARY_MAX 4096

/* Read into buf until EOF, a full buffer or the deadline. Returns bytes read or -errno. */
static ssize_t read_until_eof(int fd, char *buf, size_t cap, int64_t deadline_ns)
{
	size_t n = 0;

	while (n < cap) {
		int64_t left = (deadline_ns - fc_mono_ns()) / 1000000;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue;
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return (ssize_t)n;
}

/* The last line the proxy wrote to its log, for error messages. */
static void log_tail(const struct run_enforce *e, char *out, size_t cap)
{
	char *buf = NULL;
	size_t len = 0;

	out[0] = '\0';
	if (e->dirfd < 0 || fc_read_file(e->dirfd, "proxy.log", 1 << 16, &buf, &len) < 0)
		return;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	size_t start = len;

	while (start && buf[start - 1] != '\n')
		start--;
	snprintf(out, cap, ": %.*s", (int)(len - start), buf + start);
	free(buf);
}

static void child_exec(const struct run_enforce *e, char *const *argv, int ready_w, int out_w)
{
	char *const envp[] = { (char *)"PATH=" RUN_DEFAULT_PATH_VALUE, NULL };
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sigset_t none;

	/*
	 * The runtimes block SIGINT/SIGTERM/SIGHUP to forward them; a blocked
	 * mask and ignored signals survive exec, and the proxy is stopped
	 * with SIGTERM.
	 */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);

	/*
	 * No PR_SET_PDEATHSIG: the runtime calls the gate from a helper
	 * thread, and the death signal fires when that thread ends.
	 */
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 ||
	    dup2(e->proxy_log, STDERR_FILENO) < 0 || dup2(ready_w, 3) < 0)
		_exit(126);
	execve(argv[0], argv, envp);
	dprintf(STDERR_FILENO, "forkcell-proxy: cannot execute %s: %m\n", argv[0]);
	_exit(127);
}

int run_proxy_start(void *arg, pid_t host_pid, struct fc_diag *d)
{
	struct run_enforce *e = arg;
	char netns[64], tail[512], buf[16];
	const char *upstream_ca = getenv("FORKCELL_UPSTREAM_CA");
	char ca_cert[4200], ca_key[4200];
	char *argv[32];
	int ready[2] = { -1, -1 }, out[2] = { -1, -1 }, n = 0;
	ssize_t got;
	pid_t pid;

	snprintf(netns, sizeof(netns), "/proc/%d/ns/net", (int)host_pid);
	snprintf(ca_cert, sizeof(ca_cert), "%s/keys/proxy-ca.crt", e->store_path);
	snprintf(ca_key, sizeof(ca_key), "%s/keys/proxy-ca.key", e->store_path);
	argv[n++] = e->proxy_path;
	argv[n++] = (char *)"--policy";
	argv[n++] = (char *)e->policy_file;
	argv[n++] = (char *)"--events";
	argv[n++] = (char *)e->events_file;
	argv[n++] = (char *)"--netns";
	argv[n++] = netns;
	argv[n++] = (char *)"--listen";
	argv[n++] = (char *)RUN_PROXY_ADDR;
	argv[n++] = (char *)"--ready-fd";
	argv[n++] = (char *)"3";
	argv[n++] = (char *)"--ca-cert";
	argv[n++] = ca_cert;
	argv[n++] = (char *)"--ca-key";
	argv[n++] = ca_key;
	argv[n++] = (char *)"--run-id";
	argv[n++] = (char *)e->run_id;
	if (e->cell) {
		argv[n++] = (char *)"--cell";
		argv[n++] = (char *)e->cell;
	}
	if (upstream_ca && *upstream_ca) {
		argv[n++] = (char *)"--upstream-ca";
		argv[n++] = (char *)upstream_ca;
	}
	argv[n] = NULL;

	e->proxy_log = openat(e->dirfd, "proxy.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
			      O_NOFOLLOW, 0600);
	if (e->proxy_log < 0)
		return fc_diag_set(d, -errno, "cannot create the proxy's log: %m");
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		int rc = -errno;

		for (int i = 0; i < 2; i++) {
			if (ready[i] >= 0)
				close(ready[i]);
		}
		return fc_diag_set(d, rc, "cannot create pipes: %s", fc_strerror(rc));
	}
	pid = fork();
	if (pid == 0)
		child_exec(e, argv, ready[1], out[1]);
	close(ready[1]);
	close(out[1]);
	if (pid < 0) {
		int rc = -errno;

		close(ready[0]);
		close(out[0]);
		return fc_diag_set(d, rc, "cannot start forkcell-proxy: %s", fc_strerror(rc));
	}
	e->proxy_pid = pid;
	e->proxy_out = out[0];
	got = read_until_eof(ready[0], buf, sizeof(buf) - 1, fc_mono_ns() +
			     (int64_t)PROXY_READY_MS * 1000000);
	close(ready[0]);
	if (got >= 6 && memcmp(buf, "ready\n", 6) == 0)
		return 0;
	run_proxy_kill(e);
	log_tail(e, tail, sizeof(tail));
	return fc_diag_set(d, FC_ESTATE, "the egress proxy did not start (%s)%s",
			   got == -ETIMEDOUT ? "no ready signal in 10 s" : "it exited", tail);
}

void run_proxy_kill(struct run_enforce *e)
{
	if (e->proxy_pid > 0) {
		kill(e->proxy_pid, SIGKILL);
		while (waitpid(e->proxy_pid, NULL, 0) < 0 && errno == EINTR)
			;
		e->proxy_pid = 0;
	}
	if (e->proxy_out >= 0)
		close(e->proxy_out);
	if (e->proxy_log >= 0)
		close(e->proxy_log);
	e->proxy_out = e->proxy_log = -1;
}

/* SIGTERM, the summary line, the exit status. */
static int stop_proxy(struct run_enforce *e, struct fc_diag *d)
{
	char buf[SUMMARY_MAX + 1], tail[512];
	int64_t deadline = fc_mono_ns() + (int64_t)PROXY_STOP_MS * 1000000;
	ssize_t got;
	int ws = 0;

	kill(e->proxy_pid, SIGTERM);
	got = read_until_eof(e->proxy_out, buf, SUMMARY_MAX, deadline);
	if (got == -ETIMEDOUT)
		kill(e->proxy_pid, SIGKILL);
	while (waitpid(e->proxy_pid, &ws, 0) < 0 && errno == EINTR)
		;
	e->proxy_pid = 0;
	close(e->proxy_out);
	e->proxy_out = -1;
	log_tail(e, tail, sizeof(tail));
	if (got < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		return fc_diag_set(d, FC_ESTATE, "the egress proxy failed (%s)%s",
				   got < 0 ? "no summary" : "bad exit status", tail);
	buf[got] = '\0';
	e->proxy_summary = cJSON_Parse(buf);
	if (!cJSON_IsObject(e->proxy_summary))
		return fc_diag_set(d, FC_ESTATE, "the egress proxy's summary is not JSON: %.200s",
				   buf);
	return 0;
}

struct event_tally {
	struct run_enforce *e;
	uint64_t lines;
	uint64_t n[3][3]; /* [net, http, other][decision] */
	uint64_t not_recorded;
	struct fc_sha256 h;
};

/* One line of the events file (fc_lines callback); arg is the tally. */
static int tally_line(void *arg, const char *line, size_t len, unsigned int flags)
{
	struct event_tally *t = arg;
	struct fc_ocsf_summary s;
	struct fc_diag d;
	cJSON *j = NULL;
	int cls;

	fc_diag_init(&d);
	t->lines++;
	/* Torn (the proxy died mid-write), over-long or unparsable: counted
	 * as unreadable, never trusted. */
	if (flags || fc_ocsf_parse_line(line, len, &s, &d) < 0) {
		t->n[2][FC_OCSF_DENIED]++;
		return 0;
	}
	cls = s.class_uid == FC_OCSF_NET_CLASS ? 0 : s.class_uid == FC_OCSF_HTTP_CLASS ? 1 : 2;
	t->n[cls][s.decision]++;
	if (s.decision == FC_OCSF_ALLOWED)
		return 0;
	if (cJSON_GetArraySize(t->e->recorded) >= RUN_EVENTS_RECORDED) {
		t->not_recorded++;
		return 0;
	}
	if (fc_ocsf_summary_to_json(&s, &j) == 0)
		cJSON_AddItemToArray(t->e->recorded, j);
	return 0;
}

static void tally_bytes(void *arg, const void *p, size_t n)
{
	fc_sha256_update(&((struct event_tally *)arg)->h, p, n);
}

static cJSON *counts_json(const uint64_t n[3])
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "allowed", (double)n[FC_OCSF_ALLOWED]);
	cJSON_AddNumberToObject(o, "denied", (double)n[FC_OCSF_DENIED]);
	cJSON_AddNumberToObject(o, "audited", (double)n[FC_OCSF_AUDITED]);
	return o;
}

/* Hash, count and excerpt the events file, one line at a time. */
static int read_events(struct run_enforce *e, struct fc_diag *d)
{
	struct event_tally t = { .e = e };
	const struct fc_lines_cb cb = { tally_line, tally_bytes, &t };
	char hex[FC_SHA256_HEX];
	uint8_t digest[FC_SHA256_LEN];
	uint64_t len = 0;
	cJSON *counts;
	int rc;

	e->recorded = cJSON_CreateArray();
	fc_sha256_init(&t.h);
	rc = fc_lines_read(AT_FDCWD, e->events_file, FC_OCSF_LINE_MAX, &cb, &len);
	if (rc == -ENOENT)
		rc = 0; /* the proxy writes the file lazily: no traffic, no file */
	else if (rc < 0)
		return fc_diag_set(d, rc, "cannot read the events file %s: %s", e->events_file,
				   fc_strerror(rc));
	fc_sha256_final(&t.h, digest);
	fc_hex(digest, sizeof(digest), hex);
	e->events = cJSON_CreateObject();
	cJSON_AddStringToObject(e->events, "format", "ocsf-jsonl");
	cJSON_AddStringToObject(e->events, "writer", "forkcell-proxy");
	cJSON_AddStringToObject(e->events, "file", e->events_file);
	cJSON_AddStringToObject(e->events, "sha256", hex);
	cJSON_AddNumberToObject(e->events, "bytes", (double)len);
	cJSON_AddNumberToObject(e->events, "lines", (double)t.lines);
	counts = cJSON_AddObjectToObject(e->events, "counts");
	cJSON_AddItemToObject(counts, "network", counts_json(t.n[0]));
	cJSON_AddItemToObject(counts, "http", counts_json(t.n[1]));
	cJSON_AddNumberToObject(counts, "unreadable", (double)t.n[2][FC_OCSF_DENIED]);
	cJSON_AddNumberToObject(e->events, "not_recorded", (double)t.not_recorded);
	/* The proxy counts what it wrote; a difference means lost or added lines. */
	const cJSON *written = cJSON_GetObjectItemCaseSensitive(e->proxy_summary, "events");

	cJSON_AddBoolToObject(e->events, "matches_proxy_count",
			      cJSON_IsNumber(written) && written->valuedouble == (double)t.lines);
	return 0;
}

int run_enforce_finish(struct run_enforce *e, struct fc_diag *d)
{
	int rc = 0;

	if (!e->on)
		return 0;
	if (e->proxy_pid > 0)
		rc = stop_proxy(e, d);
	e->proxy_ok = rc == 0 && e->proxy_summary;
	if (rc == 0)
		rc = read_events(e, d);
	return rc;
}
