/*
 * fc_policy_diff: what one policy allows that another does not.
 *
 * Each policy is flattened into grant lines, one per thing it lets a
 * sandbox do: a filesystem path with its access, and for the network one
 * line per (binary, host, port, method, path matcher); GET rules also grant
 * HEAD, access presets expand to their methods, audit endpoints grant any
 * request; an endpoint's deny rules qualify each of its lines ("... except
 * DELETE /admin/x"), so changing a deny changes the lines it restricts. The
 * diff is set difference over those lines, so it is exact for everything
 * but glob containment: '/usr/bin/c*' and '/usr/bin/curl' are different
 * lines even though one covers the other.
 * Settings that grant nothing (landlock compatibility, the process
 * identity) are reported as "changed".
 */
#include "fc_policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A policy can multiply binaries, endpoints, ports and rules: cap the work. */
#define LINES_MAX (1 << 18)

struct lines {
	char **v;
	size_t n, cap;
	int err; /* sticky -ENOMEM or FC_ELIMIT */
};

static void lines_add(struct lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void lines_add(struct lines *l, const char *fmt, ...)
{
	char *s = NULL, **v;
	va_list ap;
	int n;

	if (l->err)
		return;
	if (l->n >= LINES_MAX) {
		l->err = FC_ELIMIT;
		return;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		l->err = -ENOMEM;
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		v = realloc(l->v, l->cap * sizeof(*v));
		if (!v) {
			free(s);
			l->err = -ENOMEM;
			return;
		}
		l->v = v;
	}
	l->v[l->n++] = s;
}

static void lines_release(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_sort_uniq(struct lines *l)
{
	size_t o = 0;

	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), str_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (o && strcmp(l->v[o - 1], l->v[i]) == 0)
			free(l->v[i]);
		else
			l->v[o++] = l->v[i];
	}
	l->n = o;
}

/* "?k=a|b&m=c" for a matcher's query, "" without one. Caller frees. */
static char *query_text(const struct fc_pol_rule *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < r->nquery; i++) {
		fprintf(f, "%c%s=", i ? '&' : '?', r->query[i].key);
		for (size_t j = 0; j < r->query[i].nglobs; j++)
			fprintf(f, "%s%s", j ? "|" : "", r->query[i].globs[j]);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void rule_lines(struct lines *l, const char *pfx, const struct fc_pol_rule *r,
		       const char *except)
{
	char *q = query_text(r);

	if (!q) {
		l->err = -ENOMEM;
		return;
	}
	lines_add(l, "%s %s %s%s%s", pfx, r->method, r->path, q, except);
	if (strcmp(r->method, "GET") == 0)
		lines_add(l, "%s HEAD %s%s%s", pfx, r->path, q, except);
	free(q);
}

/* " except M PATH, M PATH" for the endpoint's deny rules, "" without. */
static char *except_text(const struct fc_pol_endpoint *e)
{
	char *buf = NULL, *q;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < e->ndeny; i++) {
		q = query_text(&e->deny[i]);
		fprintf(f, "%s%s %s%s", i ? ", " : " except ", e->deny[i].method, e->deny[i].path,
			q ? q : "");
		free(q);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void preset_lines(struct lines *l, const char *pfx, enum fc_pol_access a,
			 const char *except)
{
	static const char *const methods[] = { "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH" };
	size_t n = a == FC_POL_READ_ONLY ? 3 : 6;

	if (a == FC_POL_FULL) {
		lines_add(l, "%s * **%s", pfx, except);
		return;
	}
	for (size_t i = 0; i < n; i++)
		lines_add(l, "%s %s **%s", pfx, methods[i], except);
}

/* Grant lines of one endpoint, port and binary; deny rules qualify each. */
static void endpoint_lines(struct lines *g, const char *pfx, const struct fc_pol_endpoint *e)
{
	char *except;

	if (e->protocol == FC_POL_PROTO_L4) {
		lines_add(g, "%s (L4: any traffic)", pfx);
		return;
	}
	except = except_text(e);
	if (!except) {
		g->err = -ENOMEM;
		return;
	}
	if (e->access != FC_POL_ACCESS_NONE)
		preset_lines(g, pfx, e->access, except);
	for (size_t i = 0; i < e->nrules; i++)
		rule_lines(g, pfx, &e->rules[i], except);
	free(except);
	if (e->enforcement == FC_POL_AUDIT)
		lines_add(g, "%s any request (audit: violations are logged, not blocked)", pfx);
	for (size_t i = 0; i < e->nallowed_ips; i++)
		lines_add(g, "%s may resolve to private range %s", pfx, e->allowed_ips[i]);
	if (e->allow_encoded_slash)
		lines_add(g, "%s accepts %%2F in paths", pfx);
	if (e->tls_skip)
		lines_add(g, "%s TLS passed through uninspected (tls: skip)", pfx);
}

static void policy_lines(const struct fc_policy *p, struct lines *g)
{
	char *pfx = NULL;

	for (size_t i = 0; i < p->nread_only; i++)
		lines_add(g, "filesystem read-only %s", p->read_only[i]);
	for (size_t i = 0; i < p->nread_write; i++)
		lines_add(g, "filesystem read-write %s", p->read_write[i]);
	if (p->include_workdir)
		lines_add(g, "filesystem read-write the workdir (include_workdir)");
	for (size_t i = 0; i < p->nnets; i++) {
		const struct fc_pol_net *net = &p->nets[i];

		for (size_t b = 0; b < net->nbinaries; b++)
			for (size_t j = 0; j < net->nendpoints; j++)
				for (size_t k = 0; k < net->endpoints[j].nports && !g->err; k++) {
					if (asprintf(&pfx, "network %s -> %s:%u", net->binaries[b],
						     net->endpoints[j].host,
						     net->endpoints[j].ports[k]) < 0) {
						g->err = -ENOMEM;
						return;
					}
					endpoint_lines(g, pfx, &net->endpoints[j]);
					free(pfx);
				}
	}
}

/* Add to out every line of x that y lacks. */
static int minus(cJSON *out, const struct lines *x, const struct lines *y)
{
	size_t j = 0;

	for (size_t i = 0; i < x->n; i++) {
		while (j < y->n && strcmp(y->v[j], x->v[i]) < 0)
			j++;
		if (j < y->n && strcmp(y->v[j], x->v[i]) == 0)
			continue;
		if (!cJSON_AddItemToArray(out, cJSON_CreateString(x->v[i])))
			return -ENOMEM;
	}
	return 0;
}

static const char *id_text(const struct fc_pol_id *id, char buf[16])
{
	if (id->kind == FC_POL_ID_IMAGE)
		return "the image's user";
	if (id->kind == FC_POL_ID_SANDBOX)
		return "sandbox";
	snprintf(buf, 16, "%u", id->id);
	return buf;
}

static int changed(cJSON *out, const struct fc_policy *a, const struct fc_policy *b)
{
	const struct fc_pol_id *ia[2] = { &a->run_as_user, &a->run_as_group };
	const struct fc_pol_id *ib[2] = { &b->run_as_user, &b->run_as_group };
	static const char *const names[2] = { "run_as_user", "run_as_group" };
	char line[128], x[16], y[16];

	if (a->compat != b->compat) {
		snprintf(line, sizeof(line), "landlock.compatibility: %s -> %s",
			 fc_pol_compat_name(a->compat), fc_pol_compat_name(b->compat));
		if (!cJSON_AddItemToArray(out, cJSON_CreateString(line)))
			return -ENOMEM;
	}
	for (int i = 0; i < 2; i++) {
		if (ia[i]->kind == ib[i]->kind && ia[i]->id == ib[i]->id)
			continue;
		snprintf(line, sizeof(line), "process.%s: %s -> %s", names[i], id_text(ia[i], x),
			 id_text(ib[i], y));
		if (!cJSON_AddItemToArray(out, cJSON_CreateString(line)))
			return -ENOMEM;
	}
	return 0;
}

int fc_policy_diff(const struct fc_policy *a, const struct fc_policy *b, cJSON **out)
{
	struct lines ga = { 0 }, gb = { 0 };
	cJSON *o = cJSON_CreateObject();
	cJSON *only_a = o ? cJSON_AddArrayToObject(o, "only_a") : NULL;
	cJSON *only_b = o ? cJSON_AddArrayToObject(o, "only_b") : NULL;
	cJSON *chg = o ? cJSON_AddArrayToObject(o, "changed") : NULL;
	int rc = only_a && only_b && chg ? 0 : -ENOMEM;

	policy_lines(a, &ga);
	policy_lines(b, &gb);
	if (rc == 0)
		rc = ga.err ? ga.err : gb.err;
	lines_sort_uniq(&ga);
	lines_sort_uniq(&gb);
	if (rc == 0)
		rc = minus(only_b, &gb, &ga);
	if (rc == 0)
		rc = minus(only_a, &ga, &gb);
	if (rc == 0)
		rc = changed(chg, a, b);
	lines_release(&ga);
	lines_release(&gb);
	if (rc < 0) {
		cJSON_Delete(o);
		return rc;
	}
	*out = o;
	return 0;
}
