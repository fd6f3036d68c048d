/*
 * fuzz_ctlproto: libFuzzer target for the control-protocol line codec.
 *
 * Each input is one line as a daemon would receive it. When it parses, the
 * field accessors run over it, the reply decoder runs over it, and the
 * line printed by fc_ctl_encode must parse back and print to the same bytes
 * (a linear check: cJSON_Compare is exponential in nesting, since it walks
 * each object from both sides). Any mismatch aborts. Built with clang (libFuzzer), replayed under gcc with
 * standalone_main.c; needs common/fc_ctlproto.c, fc_codec.c, fc_err.c and
 * -lcjson.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fc_ctlproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = { "op", "name", "checkpoint", "newcell", "paths", "ok" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_diag d;
	cJSON *o = NULL, *back = NULL;
	const char *s;
	char *line = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	uint64_t v;

	fc_diag_init(&d);
	if (fc_ctl_parse((const char *)data, size, &o, &d) < 0)
		return 0;
	fc_ctl_request_op(o, &s, &d);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		fc_ctl_get_str(o, keys[i], &s, &d);
		fc_ctl_get_u64(o, keys[i], &v, &d);
	}
	fc_ctl_reply_check(o, &d);
	if (fc_ctl_encode(o, &line, &len) == 0) {
		if (len == 0 || line[len - 1] != '\n')
			abort();
		if (fc_ctl_parse(line, len, &back, &d) < 0 || fc_ctl_encode(back, &again, &len2) < 0)
			abort();
		if (len2 != len || memcmp(line, again, len) != 0)
			abort();
	}
	free(again);
	free(line);
	cJSON_Delete(back);
	cJSON_Delete(o);
	return 0;
}
