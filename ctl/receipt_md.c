/*
 * receipt_md: the Markdown rendering of receipts and decision records. The
 * bullet lines keep the preview's wording ("Decision: `restored`") so that
 * scripts written against it keep working. The JSON file stays the record;
 * this is a view of it.
 */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct md {
	char *p;
	size_t len;
	FILE *f;
};

static const char *str_get(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* For printing: a missing field shows as "-". */
static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const char *s = str_get(o, a, b);

	return s ? s : "-";
}

static double num_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

static void md_argv(FILE *f, const cJSON *argv)
{
	const cJSON *a;

	fputs("`", f);
	cJSON_ArrayForEach(a, argv)
	{
		if (a != argv->child)
			fputc(' ', f);
		fputs(cJSON_IsString(a) ? a->valuestring : "?", f);
	}
	fputs("`", f);
}

static void md_changes(FILE *f, const cJSON *ch)
{
	static const char *const kinds[] = { "added", "modified", "deleted", "renamed" };

	fprintf(f, "\n## File changes\n\n");
	for (size_t k = 0; k < 4; k++) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ch, kinds[k]), *e;
		int shown = 0;

		cJSON_ArrayForEach(e, arr)
		{
			const char *to = str_get(e, "to", NULL);

			if (shown++ == 200) {
				fprintf(f, "- ... (%d more %s)\n", cJSON_GetArraySize(arr) - 200,
					kinds[k]);
				break;
			}
			fprintf(f, "- %s `%s`%s%s%s\n", kinds[k], str_at(e, "path", NULL),
				to ? " -> `" : "", to ? to : "", to ? "`" : "");
		}
	}
	if (!cJSON_GetObjectItemCaseSensitive(ch, "counts"))
		fprintf(f, "- none\n");
}

/* Who enforced the policy, the event counts, and each denial or audit. */
static void md_policy(FILE *f, const cJSON *r)
{
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(r, "policy");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(r, "events"), *e;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "policy_events");

	if (!cJSON_IsObject(pol))
		return;
	fprintf(f, "\n## Policy\n\n");
	fprintf(f, "- Revision: `%s`, enforced: %s (by %s)\n", str_at(pol, "revision", NULL),
		cJSON_IsTrue(cJSON_GetObjectItem(pol, "enforced")) ? "yes" : "no",
		str_at(pol, "enforcement", "by"));
	if (cJSON_IsObject(ev))
		fprintf(f, "- Events: %d (sha256 `%s`); connections %d allowed, %d denied, "
			   "%d audited; requests %d allowed, %d denied, %d audited\n",
			(int)num_at(ev, "lines", NULL), str_at(ev, "sha256", NULL),
			(int)num_at(cJSON_GetObjectItem(ev, "counts"), "network", "allowed"),
			(int)num_at(cJSON_GetObjectItem(ev, "counts"), "network", "denied"),
			(int)num_at(cJSON_GetObjectItem(ev, "counts"), "network", "audited"),
			(int)num_at(cJSON_GetObjectItem(ev, "counts"), "http", "allowed"),
			(int)num_at(cJSON_GetObjectItem(ev, "counts"), "http", "denied"),
			(int)num_at(cJSON_GetObjectItem(ev, "counts"), "http", "audited"));
	cJSON_ArrayForEach(e, list)
	{
		const char *method = str_get(e, "method", NULL);

		fprintf(f, "- %s `%s`%s%s%s%s by `%s` (rule `%s`): %s\n", str_at(e, "decision", NULL),
			str_at(e, "dst", NULL), method ? " " : "", method ? method : "",
			method ? " " : "", method ? str_at(e, "path", NULL) : "",
			str_at(e, "binary", NULL), str_at(e, "rule", NULL), str_at(e, "reason", NULL));
	}
}

static void md_receipt(FILE *f, const cJSON *r)
{
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(r, "changes");

	fprintf(f, "# ForkCell Receipt %s\n\n", str_at(r, "id", NULL));
	fprintf(f, "- Cell: `%s`\n", str_at(r, "cell", NULL));
	fprintf(f, "- Run: `%s`\n", str_at(r, "run_id", NULL));
	fprintf(f, "- Runtime: `%s` (%s)\n", str_at(r, "runtime", "name"),
		str_at(r, "runtime", "version"));
	fprintf(f, "- Sandbox: `%s`\n", str_at(r, "runtime", "sandbox_id"));
	fprintf(f, "- Command: ");
	md_argv(f, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(r, "command"), "argv"));
	fprintf(f, "\n- Exit code: `%d`%s (from %s)\n", (int)num_at(r, "exit", "status"),
		cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "exit"), "timed_out"))
			? " (timed out)"
			: "",
		str_at(r, "exit", "source"));
	fprintf(f, "- Started: %s, finished: %s\n", str_at(r, "started_at", NULL),
		str_at(r, "finished_at", NULL));
	fprintf(f, "- Checkpoint before: `%s` (gen %d)\n", str_at(r, "checkpoint_before", "name"),
		(int)num_at(r, "checkpoint_before", "gen"));
	fprintf(f, "- Policy revision: `%s`\n", str_at(r, "policy", "revision"));
	fprintf(f, "- Changes: %d added, %d modified, %d deleted, %d renamed\n",
		(int)num_at(ch, "counts", "added"), (int)num_at(ch, "counts", "modified"),
		(int)num_at(ch, "counts", "deleted"), (int)num_at(ch, "counts", "renamed"));
	fprintf(f, "- Stdout: %d bytes, sha256 `%s`\n", (int)num_at(r, "stdout", "bytes"),
		str_at(r, "stdout", "sha256"));
	fprintf(f, "- Stderr: %d bytes, sha256 `%s`\n", (int)num_at(r, "stderr", "bytes"),
		str_at(r, "stderr", "sha256"));
	fprintf(f, "- Decision: `%s` (%s)\n", str_at(r, "decision", "result"),
		str_at(r, "decision", "reason"));
	md_policy(f, r);
	md_changes(f, ch);
}

static void md_decision(FILE *f, const cJSON *r)
{
	fprintf(f, "# ForkCell Decision %s\n\n", str_at(r, "id", NULL));
	fprintf(f, "- Cell: `%s`\n", str_at(r, "cell", NULL));
	fprintf(f, "- Receipt: `%s` (sha256 `%s`)\n", str_at(r, "receipt_id", NULL),
		str_at(r, "receipt_sha256", NULL));
	fprintf(f, "- Decision: `%s` (%s)\n", str_at(r, "result", NULL), str_at(r, "reason", NULL));
	fprintf(f, "- Automatic: %s, forced: %s\n",
		cJSON_IsTrue(cJSON_GetObjectItem(r, "automatic")) ? "yes" : "no",
		cJSON_IsTrue(cJSON_GetObjectItem(r, "forced")) ? "yes" : "no");
	fprintf(f, "- Created: %s\n", str_at(r, "created_at", NULL));
}

char *receipt_markdown(const cJSON *rec)
{
	char *p = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);
	const char *kind = str_get(rec, "kind", NULL);

	if (!f)
		return NULL;
	if (kind && strcmp(kind, "decision") == 0)
		md_decision(f, rec);
	else
		md_receipt(f, rec);
	if (fclose(f) != 0) {
		free(p);
		return NULL;
	}
	return p;
}
