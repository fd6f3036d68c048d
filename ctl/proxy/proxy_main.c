/*
 * forkcell-proxy: the egress proxy of a policy run (PLAN4 item 4).
 *
 *   forkcell-proxy --policy FILE --events FILE --netns /proc/PID/ns/net --ready-fd N
 *                  [--listen 127.0.0.1:3128] [--ca-cert F --ca-key F]
 *                  [--upstream-ca F] [--run-id ID] [--cell NAME] [--log FILE] [--debug]
 *
 * Startup: parse the policy (the same bytes forkcellctl hashed), open the
 * events file, load the CA, make the listener inside the sandbox's network
 * namespace, then write "ready\n" to --ready-fd and serve until SIGTERM or
 * SIGINT (or once the parent process is gone). Shutdown closes every
 * connection, fsyncs the events file and prints one summary line on stdout. Exit: 0 after a signal, 1 for a
 * startup error ("forkcell-proxy: ..." on stderr), 2 for usage errors.
 */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fc_fileio.h"
#include "fc_log.h"

#define PARENT_POLL_SEC 1

struct opts {
	const char *policy, *events, *netns, *listen;
	const char *ca_cert, *ca_key, *upstream_ca;
	const char *run_id, *cell, *log;
	int ready_fd;
	bool debug;
};

static const char usage_text[] =
	"usage: forkcell-proxy --policy FILE --events FILE --netns /proc/PID/ns/net\n"
	"                      --ready-fd N [--listen ADDR:PORT] [--ca-cert F --ca-key F]\n"
	"                      [--upstream-ca F] [--run-id ID] [--cell NAME] [--log FILE]\n"
	"                      [--debug]\n"
	"\n"
	"The egress proxy of a policy run: listens on ADDR:PORT (default\n"
	"127.0.0.1:3128) inside the network namespace --netns, decides every\n"
	"connection and request by the OpenShell policy FILE, appends one OCSF\n"
	"event per decision to the events file, and writes \"ready\" to fd N once\n"
	"it serves. SIGTERM/SIGINT: stop, print a JSON summary on stdout, exit 0.\n"
	"\n"
	"  --ca-cert/--ca-key  CA that signs leaves for TLS termination (L7 on HTTPS)\n"
	"  --upstream-ca F     extra trusted CA for upstream servers (PEM)\n"
	"  --run-id, --cell    recorded in every event\n"
	"  --log FILE          diagnostics to FILE instead of stderr\n";

static int usage_err(const char *msg)
{
	fprintf(stderr, "forkcell-proxy: %s\n%s", msg, usage_text);
	return 2;
}

static int parse_fd(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 1 << 20)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* 0, 2 (usage error) or 3 (--help printed). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "events", required_argument, NULL, 'e' },
		{ "netns", required_argument, NULL, 'n' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "ca-cert", required_argument, NULL, 'c' },
		{ "ca-key", required_argument, NULL, 'k' },
		{ "upstream-ca", required_argument, NULL, 'u' },
		{ "run-id", required_argument, NULL, 'i' },
		{ "cell", required_argument, NULL, 'C' },
		{ "log", required_argument, NULL, 'L' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	o->listen = "127.0.0.1:3128";
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': o->policy = optarg; break;
		case 'e': o->events = optarg; break;
		case 'n': o->netns = optarg; break;
		case 'r':
			if (parse_fd(optarg, &o->ready_fd) < 0)
				return usage_err("bad --ready-fd");
			break;
		case 'l': o->listen = optarg; break;
		case 'c': o->ca_cert = optarg; break;
		case 'k': o->ca_key = optarg; break;
		case 'u': o->upstream_ca = optarg; break;
		case 'i': o->run_id = optarg; break;
		case 'C': o->cell = optarg; break;
		case 'L': o->log = optarg; break;
		case 'd': o->debug = true; break;
		case 'h':
			fputs(usage_text, stdout);
			return 3;
		default:
			return usage_err("unknown option");
		}
	}
	if (optind != argc)
		return usage_err("unexpected argument");
	if (!o->policy || !o->events || !o->netns || o->ready_fd < 0)
		return usage_err("--policy, --events, --netns and --ready-fd are required");
	if (!o->ca_cert != !o->ca_key)
		return usage_err("--ca-cert and --ca-key go together");
	return 0;
}

static int load_policy(struct proxy *px, const char *path, struct fc_diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = fc_read_file(AT_FDCWD, path, FC_POLICY_MAX_BYTES, &buf, &len);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read policy '%s': %s", path, fc_strerror(rc));
	rc = fc_policy_parse(buf, len, path, &px->policy, d);
	free(buf);
	if (rc < 0)
		return rc;
	return fc_egress_new(px->policy, &px->egress, d);
}

/* libevent's own messages go through our log (warnings at most: none of
 * them stops the proxy). */
static void event_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		fc_log(FC_LOG_WARN, "libevent: %s", msg);
	else
		fc_log(FC_LOG_DEBUG, "libevent: %s", msg);
}

static void resume_accepting(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *px = arg;

	evconnlistener_enable(px->listener);
}

/* accept() failed (out of descriptors, mostly): pause instead of spinning. */
static void accept_error(struct evconnlistener *l, void *arg)
{
	struct proxy *px = arg;
	struct timeval tv = { 0, 200 * 1000 };
	int err = EVUTIL_SOCKET_ERROR();

	fc_log(FC_LOG_WARN, "cannot accept a connection: %s", evutil_socket_error_to_string(err));
	evconnlistener_disable(l);
	event_base_once(px->base, -1, EV_TIMEOUT, resume_accepting, px, &tv);
}

/* As many descriptors as we may have: each connection needs two. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct proxy *px = arg;

	event_base_loopbreak(px->base);
}

static int start(struct proxy *px, const struct opts *o, struct fc_diag *d)
{
	int rc;

	rc = load_policy(px, o->policy, d);
	if (rc < 0)
		return rc;
	px->events_fd = open(o->events, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
			     0600);
	if (px->events_fd < 0)
		return fc_diag_set(d, -errno, "cannot open events file '%s': %s", o->events,
				   strerror(errno));
	rc = proxy_tls_new(o->ca_cert, o->ca_key, o->upstream_ca, &px->tls, d);
	if (rc < 0)
		return rc;
	rc = proxy_tofu_new(&px->tofu);
	if (rc < 0)
		return fc_diag_set(d, rc, "out of memory");
	rc = proxy_netns_setup(px, o->netns, o->listen, d);
	if (rc < 0)
		return rc;
	px->base = event_base_new();
	if (!px->base)
		return fc_diag_set(d, -ENOMEM, "cannot create the event loop");
	px->listener = evconnlistener_new(px->base, proxy_accept, px,
					  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
					  px->listen_fd);
	if (!px->listener)
		return fc_diag_set(d, -ENOMEM, "cannot create the listener");
	px->listen_fd = -1; /* the listener owns it now */
	evconnlistener_set_error_cb(px->listener, accept_error);
	return proxy_dns_new(px->base, &px->dns, d);
}

static void print_summary(const struct proxy *px)
{
	printf("{\"connections\":{\"allowed\":%" PRIu64 ",\"denied\":%" PRIu64
	       ",\"audited\":%" PRIu64 "},\"requests\":{\"allowed\":%" PRIu64
	       ",\"denied\":%" PRIu64 ",\"audited\":%" PRIu64 "},\"events\":%" PRIu64
	       ",\"event_errors\":%" PRIu64 ",\"bad_requests\":%" PRIu64 "}\n",
	       px->conn_counts.allowed, px->conn_counts.denied, px->conn_counts.audited,
	       px->req_counts.allowed, px->req_counts.denied, px->req_counts.audited,
	       px->events, px->event_errors, px->bad_requests);
	fflush(stdout);
}

/* Close everything; 0, or -errno when the events file could not be synced. */
static int stop(struct proxy *px)
{
	int rc = 0;

	while (px->conns)
		proxy_conn_free(px->conns);
	if (px->listener)
		evconnlistener_free(px->listener);
	if (px->listen_fd >= 0)
		close(px->listen_fd);
	if (px->diag_fd >= 0)
		close(px->diag_fd);
	proxy_dns_free(px->dns);
	proxy_tls_free(px->tls);
	proxy_tofu_free(px->tofu);
	if (px->events_fd >= 0) {
		if (fsync(px->events_fd) < 0)
			rc = -errno;
		if (close(px->events_fd) < 0 && rc == 0)
			rc = -errno;
	}
	if (px->base)
		event_base_free(px->base);
	fc_egress_free(px->egress);
	fc_policy_free(px->policy);
	return rc;
}

/*
 * The process that started us is gone (nobody will read the summary or
 * stop us): stop as if told to, instead of serving an orphaned sandbox.
 * Polled, because PR_SET_PDEATHSIG follows the starting thread, not the
 * process, and forkcellctl starts the proxy from a helper thread.
 */
static void watch_parent(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *px = arg;

	if (getppid() != px->parent) {
		fc_log(FC_LOG_WARN, "the parent process exited; stopping");
		event_base_loopbreak(px->base);
	}
}

static int serve(struct proxy *px, int ready_fd)
{
	struct timeval every = { PARENT_POLL_SEC, 0 };
	struct event *sigterm, *sigint, *parent;
	int rc = 0, wrc;

	sigterm = evsignal_new(px->base, SIGTERM, on_signal, px);
	sigint = evsignal_new(px->base, SIGINT, on_signal, px);
	parent = event_new(px->base, -1, EV_PERSIST, watch_parent, px);
	if (!sigterm || !sigint || !parent || event_add(sigterm, NULL) < 0 ||
	    event_add(sigint, NULL) < 0 || event_add(parent, &every) < 0) {
		fprintf(stderr, "forkcell-proxy: cannot watch signals\n");
		rc = 1;
		goto out;
	}
	wrc = fc_write_all(ready_fd, "ready\n", 6);
	if (wrc < 0) {
		fprintf(stderr, "forkcell-proxy: cannot write to --ready-fd: %s\n",
			fc_strerror(wrc));
		rc = 1;
		goto out;
	}
	close(ready_fd);
	event_base_dispatch(px->base);
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (parent)
		event_free(parent);
	return rc;
}

int main(int argc, char **argv)
{
	struct proxy px = { .events_fd = -1, .listen_fd = -1, .diag_fd = -1 };
	sigset_t stop_sigs;
	struct fc_diag d;
	struct opts o;
	int rc;

	fc_log_set_prog("forkcell-proxy");
	rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc == 3 ? 0 : rc;
	if (o.debug)
		fc_log_level_current = FC_LOG_DEBUG;
	if (o.log && fc_log_set_file(o.log) < 0) {
		fprintf(stderr, "forkcell-proxy: cannot open log '%s'\n", o.log);
		return 1;
	}
	/* A parent may hand down blocked or ignored stop signals. */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	sigprocmask(SIG_UNBLOCK, &stop_sigs, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	px.parent = getppid();
	event_set_log_callback(event_log);
	raise_nofile();
	fc_diag_init(&d);
	rc = start(&px, &o, &d);
	if (rc < 0) {
		fprintf(stderr, "forkcell-proxy: %s\n", fc_diag_msg(&d, rc));
		stop(&px);
		return 1;
	}
	rc = serve(&px, o.ready_fd);
	if (stop(&px) < 0) {
		fprintf(stderr, "forkcell-proxy: cannot sync the events file\n");
		rc = rc ? rc : 1;
		print_summary(&px);
	} else if (rc == 0) {
		print_summary(&px);
	}
	return rc;
}
