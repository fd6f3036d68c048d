/*
 * fc_glob: checks and matchers for the policy's path, value and host globs
 * (semantics in fc_glob.h). Matching never allocates and runs in time
 * linear in the product of pattern and subject lengths at worst: both
 * levels use the classic greedy match with one backtrack point, which is
 * exact for patterns whose only wildcard matches any sequence.
 */
#include "fc_glob.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fc_err.h"

struct seg {
	const char *p;    /* first byte of the segment */
	size_t n;         /* its length */
	const char *next; /* the segment after it, NULL at the end */
};

static void seg_at(const char *s, struct seg *g)
{
	const char *e = strchr(s, '/');

	g->p = s;
	g->n = e ? (size_t)(e - s) : strlen(s);
	g->next = e ? e + 1 : NULL;
}

static bool seg_is_globstar(const struct seg *g)
{
	return g->n == 2 && g->p[0] == '*' && g->p[1] == '*';
}

/* '*' matches any run of bytes of s (which holds no '/'). */
static bool star_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pn && p[pi] == s[si]) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

bool fc_glob_match_value(const char *pat, const char *s)
{
	return star_match(pat, strlen(pat), s, strlen(s));
}

bool fc_glob_match_path(const char *pat, const char *path)
{
	const char *pp = pat, *sp = path, *star_p = NULL, *star_s = NULL;
	bool star = false;
	struct seg pg, sg;

	while (sp) {
		if (pp) {
			seg_at(pp, &pg);
			if (seg_is_globstar(&pg)) {
				/* '**' first tries to match nothing. */
				star = true;
				star_p = pg.next;
				star_s = sp;
				pp = pg.next;
				continue;
			}
			seg_at(sp, &sg);
			if (star_match(pg.p, pg.n, sg.p, sg.n)) {
				pp = pg.next;
				sp = sg.next;
				continue;
			}
		}
		if (!star)
			return false;
		/* Let the last '**' swallow one more segment and retry. */
		seg_at(star_s, &sg);
		star_s = sg.next;
		sp = star_s;
		pp = star_p;
	}
	for (; pp; pp = pg.next) {
		seg_at(pp, &pg);
		if (!seg_is_globstar(&pg))
			return false;
	}
	return true;
}

bool fc_glob_match_host(const char *pat, const char *host)
{
	size_t hl = strlen(host), sl;
	const char *suffix;

	if (strncmp(pat, "**.", 3) == 0 || strncmp(pat, "*.", 2) == 0) {
		suffix = pat[1] == '*' ? pat + 2 : pat + 1; /* ".x.test" */
		sl = strlen(suffix);
		if (hl <= sl || strcasecmp(host + hl - sl, suffix) != 0)
			return false;
		/* The prefix: one label for '*', one or more for '**'. */
		for (size_t i = 0; i < hl - sl; i++)
			if (host[i] == '.' && (pat[1] != '*' || i == 0 || host[i - 1] == '.'))
				return false;
		return host[0] != '.' && host[hl - sl - 1] != '.';
	}
	return strcasecmp(pat, host) == 0;
}

static int fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return FC_EPOLICY;
}

static int check_chars(const char *s, const char **why)
{
	size_t n = strlen(s);

	if (n > FC_GLOB_MAX)
		return fail(why, "longer than 4096 bytes");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			return fail(why, "control character");
		if (strchr("?[]{}", c))
			return fail(why, "unsupported glob character (only '*' and '**' are globs)");
	}
	return 0;
}

/* Segments of an absolute-or-'**' pattern: no '//', '.', '..', 'a**'. */
static int check_segments(const char *pat, const char **why)
{
	struct seg g;
	const char *p;

	for (p = pat; p; p = g.next) {
		seg_at(p, &g);
		if (g.n == 0 && p != pat && g.next)
			return fail(why, "empty path segment ('//')");
		if ((g.n == 1 && g.p[0] == '.') || (g.n == 2 && g.p[0] == '.' && g.p[1] == '.'))
			return fail(why, "'.' or '..' path segment");
		if (!seg_is_globstar(&g) && memmem(g.p, g.n, "**", 2))
			return fail(why, "'**' must be a whole path segment");
	}
	return 0;
}

int fc_glob_check_path(const char *pat, const char **why)
{
	int rc = check_chars(pat, why);

	if (rc < 0)
		return rc;
	if (pat[0] != '/' && strcmp(pat, "**") != 0 && strncmp(pat, "**/", 3) != 0)
		return fail(why, "must start with '/' or '**'");
	return check_segments(pat, why);
}

int fc_glob_check_binary(const char *pat, const char **why)
{
	int rc = check_chars(pat, why);

	if (rc < 0)
		return rc;
	if (pat[0] != '/')
		return fail(why, "must be an absolute path");
	if (pat[1] == '\0')
		return fail(why, "'/' is a directory, not a binary");
	return check_segments(pat, why);
}

int fc_glob_check_value(const char *pat, const char **why)
{
	if (strlen(pat) > FC_GLOB_MAX)
		return fail(why, "longer than 4096 bytes");
	for (; *pat; pat++)
		if ((unsigned char)*pat < 0x20 || *pat == 0x7f)
			return fail(why, "control character");
	return 0;
}

static int check_label(const char *l, size_t n, const char **why)
{
	if (n == 0)
		return fail(why, "empty label");
	if (n > 63)
		return fail(why, "label longer than 63 characters");
	for (size_t i = 0; i < n; i++) {
		char c = l[i];

		if (c == '*')
			return fail(why, "a wildcard must be the whole first label ('*.' or '**.')");
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return fail(why, "invalid character (allowed: a-z 0-9 '-' '_' '.')");
	}
	return 0;
}

int fc_glob_check_host(const char *host, const char **why)
{
	unsigned char v6[16];
	const char *p = host, *dot;
	size_t n = strlen(host), labels = 0;
	bool wild = false;
	int rc;

	if (n == 0)
		return fail(why, "empty host");
	if (n > 253)
		return fail(why, "longer than 253 characters");
	if (strcmp(host, "*") == 0 || strcmp(host, "**") == 0)
		return fail(why, "a bare wildcard matches every host; list the hosts");
	if (strchr(host, ':'))
		return inet_pton(AF_INET6, host, v6) == 1 ? 0 : fail(why, "invalid IPv6 address");
	if (strncmp(host, "**.", 3) == 0 || strncmp(host, "*.", 2) == 0) {
		wild = true;
		p = strchr(host, '.') + 1;
	}
	for (;; p = dot + 1) {
		dot = strchr(p, '.');
		rc = check_label(p, dot ? (size_t)(dot - p) : strlen(p), why);
		if (rc < 0)
			return rc;
		labels++;
		if (!dot)
			break;
	}
	if (wild && labels < 2)
		return fail(why, "a wildcard directly above a top-level domain matches too much");
	return 0;
}
