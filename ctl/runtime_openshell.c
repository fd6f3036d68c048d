/*
 * runtime_openshell: run the command in an NVIDIA OpenShell sandbox by
 * driving the `openshell` CLI (the CLI is the contract; no gRPC), as
 * reference openshell.md §2.1 lays out:
 *
 *   probe    openshell --version
 *   create   sandbox create --name fc-<cell>-<run8> --from IMAGE [--policy P]
 *            --no-auto-providers --driver-config-json '{"docker":{"mounts":
 *            [bind MOUNTPOINT -> /sandbox/work, read-write]}}' --label
 *            forkcell.run=ID --detach -- sleep infinity; then sandbox get -o json,
 *            and with a policy `policy get -o json`: the revision must be
 *            loaded or the run fails before the command (fail closed)
 *   exec     sandbox exec --no-tty --workdir W --timeout S -- sh -c WRAPPER fc ARGV
 *            (the wrapper writes the status to a sentinel), then a second exec
 *            reads the sentinel back; the status follows osh_decide() (§2.3).
 *            Then the OCSF JSONL of the run's UTC date(s) is read with cat,
 *            and with a policy `policy get` again: both revisions become
 *            res->policy_evidence (a change during the run is recorded).
 *   destroy  sandbox delete NAME
 *
 * Every call goes through run_proc (argv vectors, never a host shell) with
 * a deadline and an environment reduced to an allow-list. Calls other than
 * the command's own exec get /dev/null as stdin, because `exec --no-tty`
 * reads its whole stdin before it starts.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fc_log.h"
#include "openshell_argv.h"

#define OSH_BIN_DEFAULT "openshell"
#define OSH_IMAGE_DEFAULT "base"
#define OSH_SAFE_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Deadlines (ms). create: the CLI's own provision idle timeout is 300 s. */
#define OSH_T_VERSION 15000
#define OSH_T_CREATE 330000
#define OSH_T_GET 60000
#define OSH_T_CAT_S 30
#define OSH_T_CAT ((OSH_T_CAT_S + 30) * 1000)
#define OSH_T_DELETE 120000
#define OSH_T_EXEC_GRACE 60000
#define OSH_JSON_MAX (16u << 20)

static const char *const env_allow[] = {
	"PATH", "HOME", "OPENSHELL_GATEWAY_ENDPOINT", "OPENSHELL_GATEWAY",
	"OPENSHELL_GATEWAY_INSECURE", NULL,
};

/* One prepared sandbox. */
struct osh_state {
	char bin[OSH_PATH_MAX];
	char name[OSH_NAME_MAX + 1];
	char sentinel[OSH_PATH_MAX];
	char workdir[OSH_PATH_MAX];
	char *envp[8]; /* owned K=V strings, NULL-terminated */
	bool policy;   /* the run has a policy: read OpenShell's revision */
	struct osh_policy_read before; /* the read made once the sandbox was Ready */
};

static void state_free(struct osh_state *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->envp[i]; i++)
		free(s->envp[i]);
	free(s);
}

/* The CLI, its environment (allow-list) and a checked endpoint. */
static int state_new(struct osh_state **out, struct fc_diag *d)
{
	struct osh_state *s = calloc(1, sizeof(*s));
	const char *bin = getenv("FORKCELL_OPENSHELL_BIN");
	size_t n = 0;
	int rc;

	if (!s)
		return -ENOMEM;
	rc = osh_check_endpoint(getenv("OPENSHELL_GATEWAY_ENDPOINT"), d);
	if (rc < 0)
		goto out;
	snprintf(s->bin, sizeof(s->bin), "%s", bin && *bin ? bin : OSH_BIN_DEFAULT);
	for (size_t i = 0; env_allow[i]; i++) {
		const char *v = getenv(env_allow[i]);

		if (!v && strcmp(env_allow[i], "PATH") == 0) {
			s->envp[n] = strdup(OSH_SAFE_PATH);
		} else if (v) {
			if (asprintf(&s->envp[n], "%s=%s", env_allow[i], v) < 0)
				s->envp[n] = NULL;
		} else {
			continue;
		}
		if (!s->envp[n++]) {
			rc = -ENOMEM;
			goto out;
		}
	}
	*out = s;
	s = NULL;
out:
	state_free(s);
	return rc;
}

/* Swap stdin for /dev/null around a call; the saved fd, or -1. */
static int stdin_null_begin(void)
{
	int saved = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* With stdin closed, open() already returns fd 0: keep it. */
	if (nul > STDIN_FILENO) {
		(void)dup2(nul, STDIN_FILENO);
		close(nul);
	}
	return saved;
}

static void stdin_null_end(int saved)
{
	if (saved >= 0) {
		(void)dup2(saved, STDIN_FILENO);
		close(saved);
	} else {
		close(STDIN_FILENO);
	}
}

/* Run one auxiliary CLI call with stdin on /dev/null. out/err may be NULL. */
static int aux_call(const struct osh_state *s, const struct osh_argv *a, int timeout_ms,
		    struct run_capture *out, struct run_capture *err, struct run_status *st)
{
	struct run_spec spec = { .argv = a->v, .envp = s->envp, .timeout_ms = timeout_ms };
	int saved = stdin_null_begin();
	int rc = run_proc(&spec, out, err, st);

	stdin_null_end(saved);
	return rc;
}

/* The last non-empty line of a capture's tail, for error messages. */
static void last_line(const struct run_capture *c, char *out, size_t cap)
{
	size_t end, start;

	if (!c) {
		snprintf(out, cap, "no message");
		return;
	}
	end = c->tail_len;

	while (end > 0 && (c->tail[end - 1] == '\n' || c->tail[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && c->tail[start - 1] != '\n')
		start--;
	snprintf(out, cap, "%.*s", (int)(end - start), c->tail + start);
	if (!*out)
		snprintf(out, cap, "no message");
}

static int call_error(struct fc_diag *d, const char *what, int rc, const struct run_status *st,
		      const struct run_capture *err)
{
	char msg[256];

	if (rc < 0)
		return fc_diag_set(d, rc, "cannot run the openshell CLI for %s: %s", what,
				   fc_strerror(rc));
	if (st->timed_out)
		return fc_diag_set(d, -ETIMEDOUT, "openshell %s did not finish in time", what);
	last_line(err, msg, sizeof(msg));
	return fc_diag_set(d, FC_ESTATE, "openshell %s failed (exit %d): %s", what, st->status,
			   msg);
}

static int osh_probe(struct runtime_result *res, struct fc_diag *d)
{
	struct osh_state *s = NULL;
	struct osh_argv a;
	struct run_capture out, err;
	struct run_status st;
	int rc = state_new(&s, d);

	osh_argv_init(&a);
	if (rc < 0)
		goto out;
	rc = osh_argv_version(&a, s->bin);
	if (rc < 0)
		goto out;
	run_capture_init(&out, -1);
	run_capture_init(&err, -1);
	rc = aux_call(s, &a, OSH_T_VERSION, &out, &err, &st);
	if (rc < 0 || st.status != 0) {
		char why[FC_DIAG_MSG_MAX];

		rc = call_error(d, "--version", rc, &st, &err);
		snprintf(why, sizeof(why), "%s", fc_diag_msg(d, rc));
		fc_diag_set(d, rc, "the openshell runtime needs the openshell CLI '%s' "
				   "(FORKCELL_OPENSHELL_BIN or PATH): %s", s->bin, why);
		goto out;
	}
	snprintf(res->version, sizeof(res->version), "%.*s", (int)out.tail_len, out.tail);
	res->version[strcspn(res->version, "\r\n")] = '\0';
out:
	osh_argv_release(&a);
	state_free(s);
	return rc;
}

/* Best-effort `sandbox delete`; used by destroy and by a failed create. */
static void delete_sandbox(const struct osh_state *s)
{
	struct osh_argv a;
	struct run_capture err;
	struct run_status st;
	char msg[256];
	int rc;

	osh_argv_init(&a);
	run_capture_init(&err, -1);
	rc = osh_argv_delete(&a, s->bin, s->name);
	rc = rc ?: aux_call(s, &a, OSH_T_DELETE, NULL, &err, &st);
	if (rc < 0 || st.status != 0) {
		last_line(&err, msg, sizeof(msg));
		fc_log(FC_LOG_WARN, "cannot delete openshell sandbox '%s': %s", s->name,
		       rc < 0 ? fc_strerror(rc) : msg);
	}
	osh_argv_release(&a);
}

/* Read everything fd holds (from offset 0) into a NUL-terminated heap buffer. */
static int read_back(int fd, size_t max, char **buf, size_t *len)
{
	off_t size = lseek(fd, 0, SEEK_END);
	char *p;
	ssize_t n;

	if (size < 0)
		return -errno;
	if ((uint64_t)size > max)
		return -EFBIG;
	p = malloc((size_t)size + 1);
	if (!p)
		return -ENOMEM;
	n = pread(fd, p, (size_t)size, 0);
	if (n != size) {
		free(p);
		return n < 0 ? -errno : -EIO;
	}
	p[size] = '\0';
	*buf = p;
	*len = (size_t)size;
	return 0;
}

/*
 * Run a query call (argv a, `what` for messages) that prints JSON; its whole
 * output as a NUL-terminated heap buffer the caller frees.
 */
static int aux_json(const struct osh_state *s, const struct osh_argv *a, const char *what,
		    char **buf, size_t *len, struct fc_diag *d)
{
	struct run_capture out, err;
	struct run_status st;
	int fd = memfd_create("osh-json", MFD_CLOEXEC);
	int rc;

	if (fd < 0)
		return fc_diag_set(d, -errno, "cannot keep the output of openshell %s", what);
	run_capture_init(&out, fd);
	run_capture_init(&err, -1);
	rc = aux_call(s, a, OSH_T_GET, &out, &err, &st);
	if (rc < 0 || st.status != 0)
		rc = call_error(d, what, rc, &st, &err);
	else if ((rc = read_back(fd, OSH_JSON_MAX, buf, len)) < 0)
		rc = fc_diag_set(d, rc, "cannot read the output of openshell %s: %s", what,
				 fc_strerror(rc));
	close(fd);
	return rc;
}

/* `sandbox get NAME -o json`: the sandbox must be Ready. */
static int get_ready(const struct osh_state *s, struct osh_sandbox *sb, struct fc_diag *d)
{
	struct osh_argv a;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	osh_argv_init(&a);
	rc = osh_argv_get(&a, s->bin, s->name);
	rc = rc ?: aux_json(s, &a, "sandbox get", &buf, &len, d);
	rc = rc ?: osh_parse_sandbox(buf, len, sb, d);
	if (rc == 0 && strcmp(sb->phase, "Ready") != 0)
		rc = fc_diag_set(d, FC_ESTATE, "openshell sandbox '%s' is %s, not Ready", s->name,
				 sb->phase);
	free(buf);
	osh_argv_release(&a);
	return rc;
}

/*
 * `policy get NAME -o json` into r: r->ok with the revision, or the error
 * message in r->error. Returns 0 or the error code.
 */
static int read_policy(const struct osh_state *s, struct osh_policy_read *r)
{
	struct osh_argv a;
	struct fc_diag d;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	fc_diag_init(&d);
	osh_argv_init(&a);
	rc = osh_argv_policy_get(&a, s->bin, s->name);
	rc = rc ?: aux_json(s, &a, "policy get", &buf, &len, &d);
	rc = rc ?: osh_parse_policy(buf, len, &r->rev, &d);
	if (rc == 0)
		r->ok = true;
	else
		snprintf(r->error, sizeof(r->error), "%s", fc_diag_msg(&d, rc));
	free(buf);
	osh_argv_release(&a);
	return rc;
}

/*
 * The first policy read, once the sandbox is Ready: the command runs only
 * under a revision OpenShell reports loaded (fail closed). The evidence so
 * far goes to res either way.
 */
static int policy_before(struct osh_state *s, struct runtime_result *res, struct fc_diag *d)
{
	const struct osh_policy *p = &s->before.rev;
	int rc = read_policy(s, &s->before);

	if (osh_policy_evidence(&s->before, NULL, res->policy_evidence,
				sizeof(res->policy_evidence), NULL) < 0)
		res->policy_evidence[0] = '\0';
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot tell whether OpenShell loaded the policy (%s); "
				   "the command was not run", s->before.error);
	if (strcmp(p->status, "loaded") != 0)
		return fc_diag_set(d, FC_EPOLICY, "OpenShell did not load the policy: revision "
				   "%lld is %s%s%.200s; the command was not run", p->version,
				   p->status, *p->load_error ? ": " : "", p->load_error);
	return 0;
}

/*
 * The second policy read, after the command: a failure or a change is
 * recorded (policy_loaded stays false), never turned into a run failure.
 */
static void policy_after(const struct osh_state *s, struct runtime_result *res)
{
	struct osh_policy_read after;

	if (!s->policy)
		return;
	(void)read_policy(s, &after);
	if (osh_policy_evidence(&s->before, &after, res->policy_evidence,
				sizeof(res->policy_evidence), &res->policy_loaded) < 0) {
		res->policy_evidence[0] = '\0';
		res->policy_loaded = false;
	}
	if (!res->policy_loaded)
		fc_log(FC_LOG_WARN, "openshell sandbox '%s': the policy was not loaded throughout "
		       "the run: %s", s->name, res->policy_evidence);
}

static int create_sandbox(const struct runtime_req *req, const struct osh_state *s,
			  const char *image, struct fc_diag *d)
{
	struct osh_create c = { .bin = s->bin, .name = s->name, .image = image,
				.policy = req->policy_path, .run_id = req->run_id };
	struct osh_argv a;
	struct run_capture err;
	struct run_status st;
	char *json = NULL;
	int rc = osh_driver_config_json(req->mountpoint, &json);

	osh_argv_init(&a);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot describe the bind mount of '%s'", req->mountpoint);
	c.driver_json = json;
	run_capture_init(&err, -1);
	rc = osh_argv_create(&a, &c);
	rc = rc ?: aux_call(s, &a, OSH_T_CREATE, NULL, &err, &st);
	if (rc < 0 || st.status != 0)
		rc = call_error(d, "sandbox create", rc, &st, &err);
	osh_argv_release(&a);
	free(json);
	return rc;
}

static int osh_create(const struct runtime_req *req, struct runtime_result *res, void **state,
		      struct fc_diag *d)
{
	const char *image = req->image ? req->image : getenv("FORKCELL_OPENSHELL_IMAGE");
	struct osh_state *s = NULL;
	struct osh_sandbox sb;
	int64_t t0 = fc_mono_ns();
	int rc = state_new(&s, d);

	if (rc < 0)
		return rc;
	if (!image || !*image)
		image = OSH_IMAGE_DEFAULT;
	if (osh_sandbox_name(req->cell, req->run_id, s->name, sizeof(s->name)) < 0 ||
	    osh_sentinel_path(req->run_id, s->sentinel, sizeof(s->sentinel)) < 0) {
		rc = fc_diag_set(d, FC_ENAME, "cell '%s' or run id '%s' cannot name a sandbox",
				 req->cell, req->run_id);
		goto out;
	}
	rc = osh_workdir(req->workdir, s->workdir, sizeof(s->workdir), d);
	if (rc < 0)
		goto out;
	s->policy = req->policy_path != NULL;
	res->policy_evidence[0] = '\0';
	res->policy_loaded = false;
	rc = create_sandbox(req, s, image, d);
	rc = rc ?: get_ready(s, &sb, d);
	if (rc == 0 && s->policy)
		rc = policy_before(s, res, d);
	if (rc < 0) {
		delete_sandbox(s); /* a failed create may still have left a record */
		goto out;
	}
	snprintf(res->sandbox_id, sizeof(res->sandbox_id), "%s", sb.id);
	snprintf(res->sandbox_name, sizeof(res->sandbox_name), "%s", s->name);
	snprintf(res->image, sizeof(res->image), "%s", image);
	res->sandbox_start_ms = (fc_mono_ns() - t0) / 1000000;
	*state = s;
	s = NULL;
out:
	state_free(s);
	return rc;
}

/* Read the sentinel back with a second exec; true with *status when valid. */
static bool read_sentinel(const struct osh_state *s, int *status)
{
	struct osh_argv a;
	struct run_capture out;
	struct run_status st;
	bool ok = false;
	int rc;

	osh_argv_init(&a);
	run_capture_init(&out, -1);
	rc = osh_argv_cat(&a, s->bin, s->name, s->sentinel, OSH_T_CAT_S);
	rc = rc ?: aux_call(s, &a, OSH_T_CAT, &out, NULL, &st);
	/* Only a complete, well-formed value counts (the tail holds all of it). */
	if (rc == 0 && st.status == 0 && out.bytes == out.tail_len &&
	    osh_parse_sentinel(out.tail, out.tail_len, status) == 0)
		ok = true;
	osh_argv_release(&a);
	return ok;
}

/* Hash and count the lines of everything in fd. */
static int digest_events(int fd, struct runtime_result *res)
{
	struct fc_sha256 h;
	char buf[65536];
	char last = '\n';
	off_t off = 0;
	ssize_t n;
	int rc = fc_sha256_init(&h);

	if (rc < 0)
		return rc;
	res->events_lines = 0;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		fc_sha256_update(&h, buf, (size_t)n);
		for (ssize_t i = 0; i < n; i++)
			res->events_lines += buf[i] == '\n';
		last = buf[n - 1];
		off += n;
	}
	if (n < 0)
		rc = -errno;
	fc_sha256_final(&h, res->events_sha256);
	res->events_bytes = (uint64_t)off;
	if (last != '\n')
		res->events_lines++;
	return rc;
}

/*
 * Copy the sandbox's OCSF JSONL for each UTC date of the run into
 * req->events_path (or a memfd) and record its digest. A missing file
 * (ocsf_json_enabled off) or a failed read leaves events_complete false.
 */
static void collect_events(const struct runtime_req *req, const struct osh_state *s,
			   time_t t_start, time_t t_end, struct runtime_result *res)
{
	time_t days[2] = { t_start, t_end };
	char path[OSH_PATH_MAX], prev[OSH_PATH_MAX] = "";
	bool complete = true;
	int fd;

	if (req->events_path)
		fd = open(req->events_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
			  0600);
	else
		fd = memfd_create("osh-events", MFD_CLOEXEC);
	if (fd < 0) {
		fc_log(FC_LOG_WARN, "cannot keep the openshell event log: %s", fc_strerror(-errno));
		res->events_complete = false;
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct osh_argv a;
		struct run_capture out;
		struct run_status st;
		int rc;

		if (osh_ocsf_path(days[i], path, sizeof(path)) < 0 || strcmp(path, prev) == 0)
			continue;
		snprintf(prev, sizeof(prev), "%s", path);
		osh_argv_init(&a);
		run_capture_init(&out, fd);
		rc = osh_argv_cat(&a, s->bin, s->name, path, OSH_T_CAT_S);
		rc = rc ?: aux_call(s, &a, OSH_T_CAT, &out, NULL, &st);
		if (rc < 0 || st.status != 0)
			complete = false;
		osh_argv_release(&a);
	}
	if (digest_events(fd, res) < 0 || (req->events_path && fsync(fd) < 0))
		complete = false;
	res->events_complete = complete;
	close(fd);
}

/* Fill res->st from a recorded status (128+n is a signal, as in a shell). */
static void set_status(struct run_status *st, int status, bool timed_out)
{
	st->timed_out = timed_out;
	st->status = status;
	st->exited = st->signaled = false;
	if (!timed_out && status > 128 && status < 128 + 65) {
		st->signaled = true;
		st->signal = status - 128;
	} else {
		st->exited = true;
		st->code = status;
	}
}

static int osh_exec(const struct runtime_req *req, void *state, struct run_capture *out,
		    struct run_capture *err, struct runtime_result *res, struct fc_diag *d)
{
	struct osh_state *s = state;
	struct osh_exec e = { .bin = s->bin, .name = s->name, .workdir = s->workdir,
			      .timeout_s = req->timeout_s, .env = req->env, .argv = req->argv,
			      .sentinel = s->sentinel };
	struct run_spec spec = { .envp = s->envp };
	struct osh_outcome oc = { 0 };
	struct osh_verdict v;
	struct osh_argv a;
	time_t t_start = time(NULL);
	int64_t t0;
	char msg[256];
	int rc;

	osh_argv_init(&a);
	rc = osh_argv_exec(&a, &e);
	if (rc < 0) {
		osh_argv_release(&a);
		return fc_diag_set(d, rc, "cannot build the openshell exec command line");
	}
	spec.argv = a.v;
	if (req->timeout_s > 0)
		spec.timeout_ms = req->timeout_s * 1000 + OSH_T_EXEC_GRACE;
	rc = run_proc(&spec, out, err, &res->st);
	osh_argv_release(&a);
	if (rc < 0) {
		policy_after(s, res);
		return fc_diag_set(d, rc, "cannot run the openshell CLI '%s': %s", s->bin,
				   fc_strerror(rc));
	}
	t0 = fc_mono_ns();
	oc.cli_status = res->st.status;
	oc.cli_timed_out = res->st.timed_out;
	res->cli_status = res->st.status;
	if (!oc.cli_timed_out)
		oc.have_sentinel = read_sentinel(s, &oc.sentinel);
	osh_decide(&oc, &v);
	set_status(&res->st, v.status, v.timed_out);
	res->exit_source = v.exit_source;
	collect_events(req, s, t_start, time(NULL), res);
	policy_after(s, res);
	res->collect_ms = (fc_mono_ns() - t0) / 1000000;
	if (v.kind == OSH_RUNTIME_ERROR) {
		last_line(err, msg, sizeof(msg));
		return fc_diag_set(d, FC_ESTATE, "openshell sandbox exec failed (exit %d): %s",
				   res->cli_status, msg);
	}
	return 0;
}

static void osh_destroy(void *state)
{
	struct osh_state *s = state;

	if (!s)
		return;
	delete_sandbox(s);
	state_free(s);
}

const struct runtime_ops runtime_openshell = {
	.name = "openshell",
	.probe = osh_probe,
	.create = osh_create,
	.exec = osh_exec,
	.destroy = osh_destroy,
};
