/*
 * fuzz_policy: libFuzzer target for the policy parser (fc_policy_parse),
 * its canonical form and its diff.
 *
 * Every input must either be refused with a positioned message that starts
 * with the file name, or be accepted; an accepted policy's canonical JSON
 * must parse again and print the same bytes and revision, and its diff
 * with itself must be empty. Any mismatch aborts. The size and depth limits
 * are what keep this bounded (inputs up to 1 MiB, nesting up to 32).
 * Built with clang by tests/fuzz/fuzz.mk, replayed under gcc with
 * standalone_main.c.
 *
 * Short inputs also drive the glob matchers: "PATTERN\nSUBJECT" must match
 * or not without crashing, and a pattern always matches itself when it has
 * no wildcard.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fc_glob.h"
#include "fc_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canon(const struct fc_policy *p)
{
	struct fc_policy_rev r1, r2;
	struct fc_policy *q = NULL;
	char *c1 = NULL, *c2 = NULL;
	size_t n1 = 0, n2 = 0;
	struct fc_diag d;
	cJSON *diff = NULL;

	fc_diag_init(&d);
	if (fc_policy_canon(p, &c1, &n1, &r1, &d) < 0)
		abort();
	if (fc_policy_parse(c1, n1, "canon", &q, &d) < 0)
		abort();
	if (fc_policy_canon(q, &c2, &n2, &r2, &d) < 0)
		abort();
	if (n1 != n2 || memcmp(c1, c2, n1) != 0 || strcmp(r1.sha256, r2.sha256) != 0)
		abort();
	if (fc_policy_diff(p, q, &diff) == FC_ELIMIT)
		goto out;
	if (!diff)
		abort();
	if (cJSON_GetArraySize(cJSON_GetObjectItem(diff, "only_a")) ||
	    cJSON_GetArraySize(cJSON_GetObjectItem(diff, "only_b")) ||
	    cJSON_GetArraySize(cJSON_GetObjectItem(diff, "changed")))
		abort();
	cJSON_Delete(diff);
out:
	fc_policy_free(q);
	free(c1);
	free(c2);
}

static void fuzz_globs(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *subj;
	const char *why;

	if (!buf)
		return;
	memcpy(buf, data, size);
	buf[size] = '\0';
	subj = strchr(buf, '\n');
	if (subj) {
		*subj++ = '\0';
		if (fc_glob_check_path(buf, &why) == 0) {
			fc_glob_match_path(buf, subj);
			if (!strchr(buf, '*') && !fc_glob_match_path(buf, buf))
				abort();
		}
		if (fc_glob_check_host(buf, &why) == 0)
			fc_glob_match_host(buf, subj);
		fc_glob_match_value(buf, subj);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_policy *p = NULL;
	struct fc_diag d;
	int rc;

	if (size <= 8192)
		fuzz_globs(data, size);
	fc_diag_init(&d);
	rc = fc_policy_parse(data, size, "f", &p, &d);
	if (rc == 0) {
		check_canon(p);
		fc_policy_free(p);
	} else if (rc != -ENOMEM && strncmp(d.msg, "f:", 2) != 0) {
		abort();
	}
	return 0;
}
