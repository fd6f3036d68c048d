/*
 * fc_err: decoding and mapping of ForkCell error codes (see fc_err.h).
 */
#include "fc_err.h"

#include <errno.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const fc_messages[] = {
	[0] = "unknown forkcell error",
	[1] = "store metadata is corrupted",
	[2] = "unsupported format or record version",
	[3] = "invalid name",
	[4] = "operation not valid in the current state",
	[5] = "limit exceeded",
	[6] = "policy refused",
	[7] = "locked by another process",
	[8] = "LMDB error",
	[9] = "control protocol error",
	[10] = "bad usage",
	[11] = "no such cell",
	[12] = "no such checkpoint",
	[13] = "name already exists",
	[14] = "not a forkcell store",
};

const char *fc_strerror(int rc)
{
	if (rc == 0)
		return "success";
	if (rc <= FC_EBASE && rc > FC_ELAST)
		return fc_messages[FC_EBASE - rc];
	if (rc < 0 && rc > -4096)
		return strerrordesc_np(-rc) ? strerrordesc_np(-rc) : "unknown error";
	return "unknown error";
}

int fc_err_to_errno(int rc)
{
	if (rc >= 0)
		return 0;
	if (rc > -4096)
		return -rc;
	switch (rc) {
	case FC_ENAME:
		return EINVAL;
	case FC_ELIMIT:
		return E2BIG;
	case FC_ELOCKED:
		return EBUSY;
	case FC_ENOCELL:
	case FC_ENOCKPT:
		return ENOENT;
	case FC_EEXIST:
		return EEXIST;
	case FC_EUSAGE:
	case FC_EPOLICY:
		return EINVAL;
	case FC_ESTATE:
		return EBUSY;
	default:
		return EIO;
	}
}

int fc_mdb_err(int mdb_rc)
{
	if (mdb_rc == 0)
		return 0;
	if (mdb_rc > 0)
		return -mdb_rc;
	switch (mdb_rc) {
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_CORRUPTED:
	case MDB_INVALID:
	case MDB_PAGE_NOTFOUND:
		return FC_ECORRUPT;
	case MDB_VERSION_MISMATCH:
		return FC_EVERSION;
	case MDB_READERS_FULL:
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
		return FC_ELIMIT;
	case MDB_KEYEXIST:
		return -EEXIST;
	default:
		return FC_EMDB;
	}
}

void fc_diag_init(struct fc_diag *d)
{
	if (!d)
		return;
	d->code = 0;
	d->line = 0;
	d->col = 0;
	d->msg[0] = '\0';
}

static int diag_vset(struct fc_diag *d, int code, int line, int col, const char *fmt,
		     va_list ap)
{
	if (!d)
		return code;
	d->code = code;
	d->line = line;
	d->col = col;
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	return code;
}

int fc_diag_set(struct fc_diag *d, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = diag_vset(d, code, 0, 0, fmt, ap);
	va_end(ap);
	return code;
}

int fc_diag_set_at(struct fc_diag *d, int code, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = diag_vset(d, code, line, col, fmt, ap);
	va_end(ap);
	return code;
}

const char *fc_diag_msg(const struct fc_diag *d, int rc)
{
	if (d && d->msg[0])
		return d->msg;
	return fc_strerror(rc);
}
