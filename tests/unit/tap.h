/*
 * tap: a tiny Test Anything Protocol emitter for the C unit tests.
 *
 * A test program calls plan(n) (or nothing, then done_testing() prints the
 * plan at the end), one assertion per check, and returns done_testing()
 * from main: 0 when every check passed, 1 otherwise. Failures print the
 * file:line of the assertion and, for is_*, what was got and expected.
 * Output goes to stdout (TAP) and diagnostics to stderr, as prove wants.
 */
#ifndef TAP_H
#define TAP_H

#include <stddef.h>

void plan(int n);
/* Print "1..0 # SKIP why" and exit 0: prerequisites are missing. */
void plan_skip_all(const char *why) __attribute__((noreturn));

int tap_ok(const char *file, int line, int cond, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int tap_is_int(const char *file, int line, long long got, long long want, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
int tap_is_str(const char *file, int line, const char *got, const char *want, const char *fmt,
	       ...) __attribute__((format(printf, 5, 6)));
int tap_is_mem(const char *file, int line, const void *got, const void *want, size_t n,
	       const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define ok(cond, ...) tap_ok(__FILE__, __LINE__, !!(cond), __VA_ARGS__)
#define is_int(got, want, ...) \
	tap_is_int(__FILE__, __LINE__, (long long)(got), (long long)(want), __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str(__FILE__, __LINE__, (got), (want), __VA_ARGS__)
#define is_mem(got, want, n, ...) tap_is_mem(__FILE__, __LINE__, (got), (want), (n), __VA_ARGS__)

/* Mark the next n checks as skipped. */
void skip(int n, const char *why);
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bail_out(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Print the plan if none was given; the exit status for main. */
int done_testing(void);

#endif
