/*
 * cmd_events: `forkcellctl events query [--cell C] [--run ID] [--decision
 * allowed|denied|audited] [--host H] [--limit N]` over the OCSF events of
 * governed runs, kept in STORE/events/<cell>/<run_id>.jsonl (written by
 * forkcell-proxy, or copied from OpenShell's sandbox by that runtime).
 * Files are read in name order (run ids start with their Unix time), one
 * line at a time (fc_lines: memory stays bounded whatever a file's size),
 * each through the tolerant OCSF reader; unreadable, torn and over-long
 * lines are counted and reported, never guessed at.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctl.h"
#include "fc_lines.h"
#include "fc_ocsf.h"
#include "receipt_chain.h"

struct ev_query {
	const char *cell, *run, *host;
	bool has_decision;
	enum fc_ocsf_decision decision;
	uint64_t limit, shown, unreadable;
	cJSON *out; /* --format json: the array */
};

static bool matches(const struct ev_query *q, const struct fc_ocsf_summary *s)
{
	if (q->has_decision && s->decision != q->decision)
		return false;
	return !q->host || strcasecmp(q->host, s->host) == 0;
}

static void show(struct ev_query *q, const struct fc_ocsf_summary *s, const char *cell,
		 const char *run)
{
	char when[32];
	cJSON *j = NULL;

	if (q->out) {
		if (fc_ocsf_summary_to_json(s, &j) < 0)
			return;
		cJSON_AddStringToObject(j, "cell", cell);
		cJSON_AddStringToObject(j, "run_id", run);
		cJSON_AddItemToArray(q->out, j);
		return;
	}
	ctl_fmt_time(s->time_ms * 1000000, when, sizeof(when));
	printf("%s  %-7s %-4s %s:%u", when, fc_ocsf_decision_name(s->decision),
	       s->class_uid == FC_OCSF_HTTP_CLASS ? "http" : "net", s->host, s->port);
	if (s->method[0])
		printf(" %s %s", s->method, s->path);
	if (s->http_status)
		printf(" -> %d", s->http_status);
	printf("  binary=%s rule=%s", s->binary[0] ? s->binary : "-", s->rule[0] ? s->rule : "-");
	if (s->reason[0])
		printf("  reason=\"%s\"", s->reason);
	printf("  run=%s\n", run);
}

struct query_file_ctx {
	struct ev_query *q;
	const char *cell, *run;
};

static int query_line(void *arg, const char *s, size_t n, unsigned int flags)
{
	struct query_file_ctx *c = arg;
	struct fc_ocsf_summary sum;
	struct fc_diag d;

	if (n == 0 && !flags)
		return 0;
	fc_diag_init(&d);
	if (flags || fc_ocsf_parse_line(s, n, &sum, &d) < 0) {
		c->q->unreadable++;
	} else if (matches(c->q, &sum)) {
		show(c->q, &sum, c->cell, c->run);
		c->q->shown++;
	}
	return c->q->limit && c->q->shown >= c->q->limit ? 1 : 0;
}

/* One run's file: filter and print its events, one line at a time. */
static int query_file(struct ev_query *q, int dirfd, const char *cell, const char *name)
{
	char run[RC_ID_MAX];
	struct query_file_ctx c = { q, cell, run };
	const struct fc_lines_cb cb = { query_line, NULL, &c };
	size_t n = strlen(name);
	int rc;

	if (n <= 6 || n - 6 >= sizeof(run) || strcmp(name + n - 6, ".jsonl") != 0)
		return 0;
	snprintf(run, sizeof(run), "%.*s", (int)(n - 6), name);
	if (q->run && strcmp(q->run, run) != 0)
		return 0;
	if (q->limit && q->shown >= q->limit)
		return 0;
	rc = fc_lines_read(dirfd, name, FC_OCSF_LINE_MAX, &cb, NULL);
	return rc < 0 ? rc : 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dirfd in name order (directories or files, no dot files). */
static int sorted_names(int dirfd, char ***names, size_t *n)
{
	int fd = dup(dirfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		char **nv;

		if (de->d_name[0] == '.')
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv || !(nv[cnt] = strdup(de->d_name))) {
			free(nv ? nv : v);
			closedir(dir);
			return -ENOMEM;
		}
		v = nv;
		cnt++;
	}
	closedir(dir);
	if (cnt)
		qsort(v, cnt, sizeof(*v), name_cmp);
	*names = v;
	*n = cnt;
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int query_cell(struct ev_query *q, int events_fd, const char *cell)
{
	int fd = openat(events_fd, cell, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char **names = NULL;
	size_t n = 0;
	int rc;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = sorted_names(fd, &names, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = query_file(q, fd, cell, names[i]);
	free_names(names, n);
	close(fd);
	return rc;
}

static int events_query(struct ctl *c, struct ev_query *q)
{
	int fd = openat(c->st->root_fd, "events", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char **cells = NULL;
	size_t n = 0;
	int rc = 0;

	if (fd < 0 && errno != ENOENT)
		rc = -errno;
	else if (fd >= 0 && q->cell)
		rc = query_cell(q, fd, q->cell);
	else if (fd >= 0 && (rc = sorted_names(fd, &cells, &n)) == 0)
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = query_cell(q, fd, cells[i]);
	free_names(cells, n);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int parse_query(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
		       struct ev_query *q)
{
	static const struct option longopts[] = {
		{ "cell", required_argument, NULL, 'c' },
		{ "run", required_argument, NULL, 'r' },
		{ "decision", required_argument, NULL, 'D' },
		{ "host", required_argument, NULL, 'H' },
		{ "limit", required_argument, NULL, 'l' },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': q->cell = optarg; break;
		case 'r': q->run = optarg; break;
		case 'H': q->host = optarg; break;
		case 'D':
			if (fc_ocsf_decision_parse(optarg, &q->decision) < 0)
				return ctl_usage(cmd, "--decision wants allowed, denied or audited, "
						 "got '%s'", optarg);
			q->has_decision = true;
			break;
		case 'l':
			if (ctl_parse_u64(optarg, &q->limit) < 0 || q->limit == 0)
				return ctl_usage(cmd, "--limit wants a positive number, got '%s'",
						 optarg);
			break;
		default: CTL_OPT_COMMON(c, cmd, opt);
		}
	}
	if (optind + 1 != argc || strcmp(argv[optind], "query") != 0)
		return ctl_usage(cmd, "expected 'query'");
	if (q->cell && ctl_name_arg(c, "cell", q->cell))
		return CTL_EXIT_FAIL;
	if (q->run && !receipt_id_valid(q->run))
		return ctl_usage(cmd, "--run wants a run id such as run_1795867820_c8db01f0");
	return 0;
}

int cmd_events(struct ctl *c, int argc, char **argv)
{
	const struct ctl_cmd *cmd = ctl_cmd_find("events");
	struct ev_query q = { 0 };
	struct fc_diag d;
	int rc = parse_query(c, cmd, argc, argv, &q);

	if (rc != 0)
		return rc;
	fc_diag_init(&d);
	if (ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	if (c->json)
		q.out = cJSON_CreateArray();
	rc = events_query(c, &q);
	if (rc < 0) {
		cJSON_Delete(q.out);
		fc_diag_set(&d, rc, "cannot read the events: %s", fc_strerror(rc));
		return ctl_fail(c, rc, &d);
	}
	if (q.out) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToObject(o, "events", q.out);
		cJSON_AddNumberToObject(o, "unreadable_lines", (double)q.unreadable);
		ctl_json_out(o);
	} else if (q.unreadable) {
		fprintf(stderr, "forkcellctl: %llu event lines could not be read\n",
			(unsigned long long)q.unreadable);
	}
	return CTL_EXIT_OK;
}
