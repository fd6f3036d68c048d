/*
 * t_ctlproto: the control protocol codec (parse limits, error mapping, reply
 * check) and line I/O over a socketpair (split lines, pipelined messages,
 * oversized lines, end of stream).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fc_ctlproto.h"
#include "tap.h"

static void test_parse(void)
{
	struct fc_diag d;
	cJSON *o = NULL;
	const char *op = NULL;
	char *big;

	fc_diag_init(&d);
	is_int(fc_ctl_parse("{\"op\":\"sync\"}\n", 14, &o, &d), 0, "parse a request line");
	is_int(fc_ctl_request_op(o, &op, &d), 0, "op present");
	is_str(op, "sync", "op is sync");
	cJSON_Delete(o);
	is_int(fc_ctl_parse("[1,2]", 5, &o, &d), FC_EPROTO, "an array is refused");
	is_int(fc_ctl_parse("{\"op\":", 6, &o, &d), FC_EPROTO, "truncated JSON is refused");
	is_int(fc_ctl_parse("{}\n{}", 5, &o, &d), FC_EPROTO, "two lines in one are refused");
	is_int(fc_ctl_parse("{\"op\":\"a\",\"op\":\"b\"}", 19, &o, &d), FC_EPROTO,
	       "a duplicate key is refused");
	is_int(fc_ctl_parse("{\"e\":{\"x\":1,\"x\":2}}", 19, &o, &d), FC_EPROTO,
	       "a nested duplicate key is refused");
	{
		/* {"a":{"a":...{}}}: FC_CTL_DEPTH_MAX levels pass, one more is refused */
		char deep[8 * (FC_CTL_DEPTH_MAX + 2)];
		size_t n = 0;

		for (int i = 0; i < FC_CTL_DEPTH_MAX; i++)
			n += (size_t)sprintf(deep + n, i ? "\"a\":{" : "{");
		for (int i = 0; i < FC_CTL_DEPTH_MAX; i++)
			deep[n++] = '}';
		is_int(fc_ctl_parse(deep, n, &o, &d), 0, "nesting of FC_CTL_DEPTH_MAX parses");
		cJSON_Delete(o);
		/* {"a":[[...[]...]]}: arrays count as levels too */
		n = (size_t)sprintf(deep, "{\"a\":");
		for (int i = 0; i < FC_CTL_DEPTH_MAX; i++)
			deep[n++] = '[';
		for (int i = 0; i < FC_CTL_DEPTH_MAX; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		o = NULL;
		is_int(fc_ctl_parse(deep, n, &o, &d), FC_EPROTO, "one level deeper is refused");
		ok(o == NULL && strstr(d.msg, "deeper than") != NULL, "and the message says why: %s",
		   d.msg);
	}
	is_int(fc_ctl_parse("{\"a\":1}", 7, &o, &d), 0, "an object without op parses");
	is_int(fc_ctl_request_op(o, &op, &d), FC_EPROTO, "but has no op");
	cJSON_Delete(o);
	big = malloc(FC_CTL_LINE_MAX + 16);
	memset(big, ' ', FC_CTL_LINE_MAX + 16);
	big[0] = '{';
	big[FC_CTL_LINE_MAX + 14] = '}';
	is_int(fc_ctl_parse(big, FC_CTL_LINE_MAX + 15, &o, &d), FC_EPROTO,
	       "a line over the limit is refused");
	free(big);
}

static void test_fields(void)
{
	cJSON *o = cJSON_Parse("{\"s\":\"x\",\"n\":null,\"i\":42,\"neg\":-1,\"f\":1.5,\"b\":true}");
	const char *s = "unset";
	uint64_t v = 0;

	is_int(fc_ctl_get_str(o, "s", &s, NULL), 0, "string field");
	is_str(s, "x", "string value");
	is_int(fc_ctl_get_str(o, "n", &s, NULL), 0, "null string field");
	ok(s == NULL, "null gives NULL");
	is_int(fc_ctl_get_str(o, "i", &s, NULL), FC_EPROTO, "number is not a string");
	is_int(fc_ctl_get_u64(o, "i", &v, NULL), 0, "u64 field");
	is_int(v, 42, "u64 value");
	is_int(fc_ctl_get_u64(o, "neg", &v, NULL), FC_EPROTO, "negative id refused");
	is_int(fc_ctl_get_u64(o, "f", &v, NULL), FC_EPROTO, "fractional id refused");
	is_int(fc_ctl_get_u64(o, "missing", &v, NULL), -ENOENT, "missing id");
	cJSON_Delete(o);
}

static void test_errors(void)
{
	int codes[] = { FC_ENOCKPT, FC_ENOCELL, FC_ELOCKED, FC_EEXIST, FC_ENAME, -ENOENT,
			-ENOSPC, -EROFS };
	struct fc_diag d, d2;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cJSON *r;

		fc_diag_init(&d);
		fc_diag_set(&d, codes[i], "message %zu", i);
		r = fc_ctl_reply_err(codes[i], &d);
		fc_diag_init(&d2);
		is_int(fc_ctl_reply_check(r, &d2), codes[i], "code %s survives the wire",
		       fc_ctl_code_name(codes[i]));
		is_str(d2.msg, d.msg, "message survives the wire");
		cJSON_Delete(r);
	}
	is_str(fc_ctl_code_name(FC_ENOCKPT), "ENOCKPT", "FC code names drop the prefix");
	is_str(fc_ctl_code_name(-ENOENT), "ENOENT", "errno names are the symbols");
	is_int(fc_ctl_code_from_name("EWHATEVER"), 0, "unknown names give 0");
	{
		cJSON *r = cJSON_Parse("{\"ok\":false,\"error\":{\"code\":\"EFUTURE\","
				       "\"errno\":5,\"message\":\"m\"}}");

		is_int(fc_ctl_reply_check(r, NULL), -EIO, "unknown code falls back to errno");
		cJSON_Delete(r);
		r = cJSON_Parse("{\"ok\":\"yes\"}");
		is_int(fc_ctl_reply_check(r, NULL), FC_EPROTO, "malformed reply");
		cJSON_Delete(r);
		r = fc_ctl_reply_ok();
		is_int(fc_ctl_reply_check(r, NULL), 0, "ok reply");
		cJSON_Delete(r);
	}
}

static void test_io(void)
{
	struct fc_ctl_conn conn;
	struct fc_diag d;
	cJSON *o = NULL, *req;
	const char *op = NULL;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail_out("socketpair: %d", errno);
	fc_diag_init(&d);
	fc_ctl_conn_init(&conn, sv[1]);
	/* Two messages in one write, the second split over two writes. */
	ok(write(sv[0], "{\"op\":\"a\"}\n{\"op\":", 17) == 17, "write 1");
	ok(write(sv[0], "\"b\"}\n", 5) == 5, "write 2");
	is_int(fc_ctl_recv(&conn, 1000, &o, &d), 0, "first message");
	fc_ctl_request_op(o, &op, NULL);
	is_str(op, "a", "first op");
	cJSON_Delete(o);
	is_int(fc_ctl_recv(&conn, 1000, &o, &d), 0, "second message");
	fc_ctl_request_op(o, &op, NULL);
	is_str(op, "b", "second op");
	cJSON_Delete(o);
	is_int(fc_ctl_recv(&conn, 50, &o, &d), -ETIMEDOUT, "nothing more: timeout");
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "status");
	is_int(fc_ctl_send(sv[0], req, 1000), 0, "send");
	cJSON_Delete(req);
	is_int(fc_ctl_recv(&conn, 1000, &o, &d), 0, "receive what was sent");
	fc_ctl_request_op(o, &op, NULL);
	is_str(op, "status", "op round-trips");
	cJSON_Delete(o);
	ok(write(sv[0], "{\"op\"", 5) == 5, "write a partial line");
	close(sv[0]);
	is_int(fc_ctl_recv(&conn, 1000, &o, &d), FC_EPROTO, "EOF inside a line");
	fc_ctl_conn_release(&conn);
	close(sv[1]);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail_out("socketpair: %d", errno);
	fc_ctl_conn_init(&conn, sv[1]);
	close(sv[0]);
	is_int(fc_ctl_recv(&conn, 1000, &o, &d), 1, "clean EOF");
	fc_ctl_conn_release(&conn);
	close(sv[1]);
}

static void test_names(void)
{
	char buf[128];

	is_int(fc_ctl_run_name("work", 0, ".sock", buf, sizeof(buf)), 0, "run name");
	is_str(buf, "work.sock", "live cell socket name");
	is_int(fc_ctl_run_name("work", 12, ".lock", buf, sizeof(buf)), 0, "run name of ckpt");
	is_str(buf, "work@12.lock", "time-travel lock name");
	is_int(fc_ctl_run_name("../x", 0, ".sock", buf, sizeof(buf)), FC_ENAME, "bad cell name");
	is_int(fc_ctl_run_name("work", 0, ".sock", buf, 4), -ENAMETOOLONG, "too small");
}

int main(void)
{
	test_parse();
	test_fields();
	test_errors();
	test_io();
	test_names();
	return done_testing();
}
