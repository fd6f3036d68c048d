/*
 * t_glob: OpenShell glob semantics of fc_glob: '*' within a path segment,
 * '**' across segments, value globs, host wildcards ('*.' one label, '**.'
 * any depth), and the checks that refuse bad patterns.
 */
#include <stdbool.h>
#include <string.h>

#include "fc_err.h"
#include "fc_glob.h"
#include "tap.h"

struct mcase {
	const char *pat, *s;
	bool want;
};

static const struct mcase paths[] = {
	{ "**", "/", true },
	{ "**", "/a/b/c", true },
	{ "/admin/**", "/admin", true },
	{ "/admin/**", "/admin/", true },
	{ "/admin/**", "/admin/x/y", true },
	{ "/admin/**", "/administrator", false },
	{ "/admin/**", "/x/admin/y", false },
	{ "/v1/*", "/v1/users", true },
	{ "/v1/*", "/v1/users/1", false },
	{ "/v1/*", "/v1/", true },
	{ "/v1/*/items", "/v1/u/items", true },
	{ "/v1/*/items", "/v1/u/v/items", false },
	{ "/v1/**/items", "/v1/items", true },
	{ "/v1/**/items", "/v1/a/b/c/items", true },
	{ "/v1/**/items", "/v1/a/b/c/item", false },
	{ "/*.json", "/a.json", true },
	{ "/*.json", "/a/b.json", false },
	{ "/a*b*c", "/aXbYc", true },
	{ "/a*b*c", "/aXbY", false },
	{ "/**/x/**/y", "/p/x/q/r/y", true },
	{ "/**/x/**/y", "/p/q/r/y", false },
	{ "/exact", "/exact", true },
	{ "/exact", "/exact/", false },
	{ "/usr/bin/*", "/usr/bin/curl", true },
	{ "/usr/**", "/usr/lib/x86_64-linux-gnu/python3", true },
	{ "/usr/lib/*/python3*", "/usr/lib/x/python3.11", true },
};

static const struct mcase hosts[] = {
	{ "api.test", "api.test", true },
	{ "api.test", "API.Test", true },
	{ "api.test", "x.api.test", false },
	{ "*.x.test", "a.x.test", true },
	{ "*.x.test", "A.X.TEST", true },
	{ "*.x.test", "a.b.x.test", false },
	{ "*.x.test", "x.test", false },
	{ "*.x.test", ".x.test", false },
	{ "*.x.test", "ax.test", false },
	{ "**.x.test", "a.x.test", true },
	{ "**.x.test", "a.b.c.x.test", true },
	{ "**.x.test", "x.test", false },
	{ "**.x.test", "a..x.test", false },
	{ "**.x.test", "evilx.test", false },
};

static const char *const good_paths[] = { "**", "/", "/a/**", "**/x", "/a/*.json", "/a/",
					  "/v1/*/items" };
static const struct {
	const char *pat, *why;
} bad_paths[] = {
	{ "/a**", "'**' must be a whole path segment" },
	{ "/***", "'**' must be a whole path segment" },
	{ "/a/**b/c", "'**' must be a whole path segment" },
	{ "/a?b", "unsupported glob character (only '*' and '**' are globs)" },
	{ "/v[12]", "unsupported glob character (only '*' and '**' are globs)" },
	{ "/{a,b}", "unsupported glob character (only '*' and '**' are globs)" },
	{ "admin/**", "must start with '/' or '**'" },
	{ "", "must start with '/' or '**'" },
	{ "/a//b", "empty path segment ('//')" },
	{ "/a/../b", "'.' or '..' path segment" },
	{ "/a/./b", "'.' or '..' path segment" },
	{ "/a\tb", "control character" },
};

static const char *const good_hosts[] = { "api.test", "*.x.test", "**.a.b.test", "10.0.0.1",
					  "::1", "my_host-1.corp.test", "localhost" };
static const struct {
	const char *host, *why;
} bad_hosts[] = {
	{ "*", "a bare wildcard matches every host; list the hosts" },
	{ "**", "a bare wildcard matches every host; list the hosts" },
	{ "*.test", "a wildcard directly above a top-level domain matches too much" },
	{ "**.com", "a wildcard directly above a top-level domain matches too much" },
	{ "api-*.x.test", "a wildcard must be the whole first label ('*.' or '**.')" },
	{ "a.*.test", "a wildcard must be the whole first label ('*.' or '**.')" },
	{ "a..test", "empty label" },
	{ "a.test.", "empty label" },
	{ "", "empty host" },
	{ "a b.test", "invalid character (allowed: a-z 0-9 '-' '_' '.')" },
	{ "::zz", "invalid IPv6 address" },
};

int main(void)
{
	const char *why;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		ok(fc_glob_match_path(paths[i].pat, paths[i].s) == paths[i].want,
		   "path '%s' %s '%s'", paths[i].pat, paths[i].want ? "matches" : "does not match",
		   paths[i].s);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		ok(fc_glob_match_host(hosts[i].pat, hosts[i].s) == hosts[i].want,
		   "host '%s' %s '%s'", hosts[i].pat, hosts[i].want ? "matches" : "does not match",
		   hosts[i].s);
	ok(fc_glob_match_value("v*", "v1.2"), "value glob '*' spans anything");
	ok(fc_glob_match_value("*", ""), "value '*' matches empty");
	ok(!fc_glob_match_value("json", "jsonp"), "value glob is anchored");
	ok(fc_glob_match_value("a*/b", "ax/y/b"), "value '*' crosses '/'");
	for (size_t i = 0; i < sizeof(good_paths) / sizeof(good_paths[0]); i++)
		is_int(fc_glob_check_path(good_paths[i], &why), 0, "path glob '%s' accepted",
		       good_paths[i]);
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		why = NULL;
		is_int(fc_glob_check_path(bad_paths[i].pat, &why), FC_EPOLICY,
		       "path glob '%s' refused", bad_paths[i].pat);
		is_str(why, bad_paths[i].why, "  with the reason");
	}
	for (size_t i = 0; i < sizeof(good_hosts) / sizeof(good_hosts[0]); i++)
		is_int(fc_glob_check_host(good_hosts[i], &why), 0, "host '%s' accepted",
		       good_hosts[i]);
	for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
		why = NULL;
		is_int(fc_glob_check_host(bad_hosts[i].host, &why), FC_EPOLICY,
		       "host '%s' refused", bad_hosts[i].host);
		is_str(why, bad_hosts[i].why, "  with the reason");
	}
	is_int(fc_glob_check_binary("/usr/bin/*", &why), 0, "binary glob accepted");
	is_int(fc_glob_check_binary("curl", &why), FC_EPOLICY, "relative binary refused");
	is_int(fc_glob_check_binary("/usr/../bin/sh", &why), FC_EPOLICY, "'..' binary refused");
	is_int(fc_glob_check_binary("/", &why), FC_EPOLICY, "'/' binary refused");
	return done_testing();
}
