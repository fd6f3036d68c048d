/*
 * fc_err: the one error convention of ForkCell.
 *
 * Every fallible function returns int: 0 on success, a negative value on
 * failure. System errors are -errno, captured immediately after the failing
 * call. Project errors live at -10000 and below (LMDB's reserved-range idea)
 * and are decoded, together with -errno values, by fc_strerror().
 *
 * A project code must never reach the kernel: the FUSE daemon maps results
 * with fc_err_to_errno() before any fuse_reply_err().
 *
 * User-facing context travels in struct fc_diag: a fixed buffer with an
 * optional line/column for parsers. fc_diag_set() returns the code it is
 * given, so call sites read `return fc_diag_set(d, FC_ENAME, "...")`.
 */
#ifndef FC_ERR_H
#define FC_ERR_H

#include <stddef.h>

enum {
	FC_EBASE = -10000,
	FC_ECORRUPT = -10001,  /* a record or file fails its invariants */
	FC_EVERSION = -10002,  /* unknown format or record version */
	FC_ENAME = -10003,     /* invalid cell, checkpoint or file name */
	FC_ESTATE = -10004,    /* operation not valid in the current state */
	FC_ELIMIT = -10005,    /* a size or count limit was exceeded */
	FC_EPOLICY = -10006,   /* policy file refused */
	FC_ELOCKED = -10007,   /* held by another process (cell mounted, store busy) */
	FC_EMDB = -10008,      /* an LMDB error with no better mapping */
	FC_EPROTO = -10009,    /* control protocol violation */
	FC_EUSAGE = -10010,    /* bad command-line usage */
	FC_ENOCELL = -10011,   /* no such cell */
	FC_ENOCKPT = -10012,   /* no such checkpoint */
	FC_EEXIST = -10013,    /* cell or checkpoint name already taken */
	FC_EFOREIGN = -10014,  /* the path is not a ForkCell store */
	FC_ELAST = -10015,
};

#define FC_DIAG_MSG_MAX 512

struct fc_diag {
	int code;                   /* last code set, 0 if none */
	int line;                   /* 1-based, 0 when not from a parser */
	int col;                    /* 1-based, 0 when not from a parser */
	char msg[FC_DIAG_MSG_MAX];  /* NUL-terminated, empty if none */
};

/*
 * Describe rc (a -errno or an FC_E* code) in a static string. Thread-safe.
 */
const char *fc_strerror(int rc);

/*
 * Map rc to a positive errno for the kernel or for errno-style callers.
 * Project codes map to the nearest errno (FC_ECORRUPT -> EIO, ...).
 */
int fc_err_to_errno(int rc);

/*
 * Map an LMDB return code to our convention: MDB_NOTFOUND -> -ENOENT,
 * MDB_MAP_FULL -> -ENOSPC, MDB_CORRUPTED/MDB_INVALID/MDB_PAGE_NOTFOUND ->
 * FC_ECORRUPT, MDB_VERSION_MISMATCH -> FC_EVERSION, positive errno -> -errno,
 * anything else -> FC_EMDB. 0 stays 0.
 */
int fc_mdb_err(int mdb_rc);

void fc_diag_init(struct fc_diag *d);

/*
 * Record code and a formatted message in d (d may be NULL) and return code.
 */
int fc_diag_set(struct fc_diag *d, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As fc_diag_set, with a parser position. */
int fc_diag_set_at(struct fc_diag *d, int code, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * The message to show a user: d->msg when set, else fc_strerror(rc).
 */
const char *fc_diag_msg(const struct fc_diag *d, int rc);

#endif
