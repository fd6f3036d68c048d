/*
 * cmd_policy: `policy check FILE` validates an OpenShell policy file and
 * prints its canonical form and revision; `policy diff A B` prints what B
 * allows that A does not and the reverse. Neither needs a store. The
 * parsing, canonical form and diff live in common/fc_policy*.c; this file
 * reads the file once and prints.
 */
#include "policy_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_fileio.h"

int ctl_policy_load(const char *path, struct fc_policy **p, struct fc_policy_rev *rev,
		    char **bytes, size_t *len, struct fc_diag *d)
{
	struct fc_policy *pol = NULL;
	char *buf = NULL;
	size_t n = 0;
	int rc = fc_read_file(AT_FDCWD, path, FC_POLICY_MAX_BYTES, &buf, &n);

	if (rc == -EFBIG)
		return fc_diag_set(d, FC_ELIMIT, "%s: policy file larger than %d bytes", path,
				   FC_POLICY_MAX_BYTES);
	if (rc == -EINVAL)
		return fc_diag_set(d, rc, "cannot read policy '%s': not a regular file", path);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read policy '%s': %s", path, fc_strerror(rc));
	rc = fc_policy_parse(buf, n, path, &pol, d);
	if (rc == 0)
		rc = fc_policy_canon(pol, NULL, NULL, rev, d);
	if (rc < 0) {
		fc_policy_free(pol);
		free(buf);
		return rc;
	}
	*p = pol;
	if (bytes) {
		*bytes = buf;
		*len = n;
	} else {
		free(buf);
	}
	return 0;
}

static int policy_check(struct ctl *c, const char *path)
{
	struct fc_policy_rev rev;
	struct fc_policy *p = NULL;
	struct fc_diag d;
	cJSON *obj = NULL, *out;
	char *canon = NULL;
	size_t len = 0;
	int rc;

	fc_diag_init(&d);
	rc = ctl_policy_load(path, &p, &rev, NULL, NULL, &d);
	if (rc == 0)
		rc = fc_policy_canon(p, &canon, &len, NULL, &d);
	if (rc == 0 && c->json)
		rc = fc_policy_to_json(p, &obj);
	fc_policy_free(p);
	if (rc < 0) {
		free(canon);
		return ctl_fail(c, rc, &d);
	}
	if (c->json) {
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "ok");
		cJSON_AddStringToObject(out, "file", path);
		cJSON_AddStringToObject(out, "revision", rev.revision);
		cJSON_AddStringToObject(out, "sha256", rev.sha256);
		cJSON_AddStringToObject(out, "hash_of", "canonical_json");
		cJSON_AddItemToObject(out, "policy", obj);
		ctl_json_out(out);
	} else {
		printf("%s\nrevision: %s\nsha256: %s\n", canon, rev.revision, rev.sha256);
	}
	free(canon);
	return CTL_EXIT_OK;
}

static void print_list(const cJSON *list, const char *title, const char *mark)
{
	const cJSON *it;

	if (cJSON_GetArraySize(list) == 0)
		return;
	printf("%s\n", title);
	cJSON_ArrayForEach(it, list)
		printf("  %s %s\n", mark, it->valuestring);
}

static void diff_human(const cJSON *diff, const char *a, const char *b,
		       const struct fc_policy_rev *ra, const struct fc_policy_rev *rb)
{
	const cJSON *only_a = cJSON_GetObjectItem(diff, "only_a");
	const cJSON *only_b = cJSON_GetObjectItem(diff, "only_b");
	const cJSON *chg = cJSON_GetObjectItem(diff, "changed");

	printf("A: %s (%s)\nB: %s (%s)\n", a, ra->revision, b, rb->revision);
	if (!cJSON_GetArraySize(only_a) && !cJSON_GetArraySize(only_b) &&
	    !cJSON_GetArraySize(chg)) {
		printf(strcmp(ra->sha256, rb->sha256) == 0
			       ? "same revision: the policies are identical\n"
			       : "no difference in what the policies allow\n");
		return;
	}
	print_list(only_b, "allowed by B, not by A:", "+");
	print_list(only_a, "allowed by A, not by B:", "-");
	print_list(chg, "changed:", "~");
}

static int policy_diff(struct ctl *c, const char *a, const char *b)
{
	struct fc_policy_rev ra, rb;
	struct fc_policy *pa = NULL, *pb = NULL;
	struct fc_diag d;
	cJSON *diff = NULL;
	int rc;

	fc_diag_init(&d);
	rc = ctl_policy_load(a, &pa, &ra, NULL, NULL, &d);
	if (rc == 0)
		rc = ctl_policy_load(b, &pb, &rb, NULL, NULL, &d);
	if (rc == 0)
		rc = fc_policy_diff(pa, pb, &diff);
	if (rc == FC_ELIMIT)
		fc_diag_set(&d, rc, "the policies are too large to compare (over %d grant lines)",
			    1 << 18);
	fc_policy_free(pa);
	fc_policy_free(pb);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	if (c->json) {
		cJSON_AddStringToObject(diff, "a", a);
		cJSON_AddStringToObject(diff, "a_revision", ra.revision);
		cJSON_AddStringToObject(diff, "b", b);
		cJSON_AddStringToObject(diff, "b_revision", rb.revision);
		cJSON_AddBoolToObject(diff, "identical", strcmp(ra.sha256, rb.sha256) == 0);
		ctl_json_out(diff);
		return CTL_EXIT_OK;
	}
	diff_human(diff, a, b, &ra, &rb);
	cJSON_Delete(diff);
	return CTL_EXIT_OK;
}

int cmd_policy(struct ctl *c, int argc, char **argv)
{
	static const struct option lo[] = { CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const struct ctl_cmd *cmd = ctl_cmd_find("policy");
	const char *sub;
	int o;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		ctl_cmd_help(cmd);
		return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
	}
	sub = argv[1];
	argc--;
	argv++;
	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1)
		CTL_OPT_COMMON(c, cmd, o);
	argc -= optind;
	argv += optind;
	if (strcmp(sub, "check") == 0) {
		if (argc != 1)
			return ctl_usage(cmd, "policy check takes one FILE");
		return policy_check(c, argv[0]);
	}
	if (strcmp(sub, "diff") == 0) {
		if (argc != 2)
			return ctl_usage(cmd, "policy diff takes two files, A and B");
		return policy_diff(c, argv[0], argv[1]);
	}
	return ctl_usage(cmd, "unknown policy subcommand '%s' (check, diff)", sub);
}
