/*
 * fc_glob: OpenShell's glob semantics for policy matchers.
 *
 * Path globs (URL paths of L7 rules, binary paths) work per '/'-separated
 * segment: '*' matches any run of characters inside one segment (never a
 * '/'), and a segment that is exactly '**' matches zero or more whole
 * segments. No other character is special; '?', '[', ']', '{' and '}' are
 * refused by the checks so a pattern never silently means something other
 * than its author thought. Value globs (query parameter values) are plain
 * strings where '*' matches any run of characters.
 *
 * Host patterns are an exact host name (compared case-insensitively) or a
 * wildcard first label: '*.x.test' matches exactly one more label
 * (a.x.test, not a.b.x.test, not x.test), '**.x.test' one or more labels at
 * any depth. A bare '*' and wildcards directly above a top-level domain
 * ('*.test') are refused.
 *
 * All functions are pure and thread-safe. The checks return 0 or FC_EPOLICY
 * and then point *why at a static English reason (lower case, no stop).
 */
#ifndef FC_GLOB_H
#define FC_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#define FC_GLOB_MAX 4096 /* longest pattern, path or host accepted */

/*
 * Check an L7 path glob: it starts with '/' or with a '**' segment, has no
 * empty segment in the middle ('//'), no '.' or '..' segment, no '**' mixed
 * with other characters in one segment, no unsupported glob character and
 * no control character, and is at most FC_GLOB_MAX bytes.
 */
int fc_glob_check_path(const char *pat, const char **why);

/*
 * Check a binary path: absolute, otherwise as fc_glob_check_path (globs
 * allowed, '..' refused).
 */
int fc_glob_check_binary(const char *pat, const char **why);

/* Check a value glob: at most FC_GLOB_MAX bytes, no control character. */
int fc_glob_check_value(const char *pat, const char **why);

/*
 * Check a host pattern as described above. host must already be lower
 * case (the parser folds it). Label characters: a-z 0-9 '-' '_'; IPv6
 * literals are accepted without brackets.
 */
int fc_glob_check_host(const char *host, const char **why);

/* Does path match the path glob pat (checked with fc_glob_check_path)? */
bool fc_glob_match_path(const char *pat, const char *path);

/* Does s match the value glob pat? */
bool fc_glob_match_value(const char *pat, const char *s);

/* Does host (any case) match the host pattern pat? */
bool fc_glob_match_host(const char *pat, const char *host);

#endif
