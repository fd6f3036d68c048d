/*
 * tap: the TAP emitter of the unit tests (see tap.h).
 */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_planned = -1;
static int tap_run;
static int tap_failed;

void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

void plan_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

__attribute__((format(printf, 4, 0)))
static int tap_vreport(const char *file, int line, int cond, const char *fmt, va_list ap)
{
	tap_run++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	if (!cond) {
		tap_failed++;
		fprintf(stderr, "#   Failed test at %s line %d.\n", file, line);
	}
	return cond;
}

int tap_ok(const char *file, int line, int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cond = tap_vreport(file, line, cond, fmt, ap);
	va_end(ap);
	return cond;
}

int tap_is_int(const char *file, int line, long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int cond = got == want;

	va_start(ap, fmt);
	tap_vreport(file, line, cond, fmt, ap);
	va_end(ap);
	if (!cond)
		fprintf(stderr, "#          got: %lld\n#     expected: %lld\n", got, want);
	return cond;
}

int tap_is_str(const char *file, int line, const char *got, const char *want, const char *fmt,
	       ...)
{
	va_list ap;
	int cond = (got && want) ? strcmp(got, want) == 0 : got == want;

	va_start(ap, fmt);
	tap_vreport(file, line, cond, fmt, ap);
	va_end(ap);
	if (!cond)
		fprintf(stderr, "#          got: '%s'\n#     expected: '%s'\n",
			got ? got : "(null)", want ? want : "(null)");
	return cond;
}

int tap_is_mem(const char *file, int line, const void *got, const void *want, size_t n,
	       const char *fmt, ...)
{
	va_list ap;
	int cond = memcmp(got, want, n) == 0;

	va_start(ap, fmt);
	tap_vreport(file, line, cond, fmt, ap);
	va_end(ap);
	for (size_t i = 0; !cond && i < n; i++) {
		if (((const unsigned char *)got)[i] != ((const unsigned char *)want)[i]) {
			fprintf(stderr, "#     first difference at byte %zu\n", i);
			break;
		}
	}
	return cond;
}

void skip(int n, const char *why)
{
	for (int i = 0; i < n; i++)
		printf("ok %d # skip %s\n", ++tap_run, why);
	fflush(stdout);
}

void diag(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "# ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

void bail_out(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(255);
}

int done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_run);
	else if (tap_planned != tap_run)
		fprintf(stderr, "# planned %d tests but ran %d\n", tap_planned, tap_run);
	fflush(stdout);
	if (tap_failed)
		fprintf(stderr, "# failed %d of %d tests\n", tap_failed, tap_run);
	return (tap_failed || (tap_planned >= 0 && tap_planned != tap_run)) ? 1 : 0;
}
