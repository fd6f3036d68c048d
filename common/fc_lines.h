/*
 * fc_lines: read a file of newline-terminated records one record at a time.
 *
 * The proxy's event files (one OCSF JSON object per line) grow with a run's
 * traffic; the receipt writer and `forkcellctl events query` need one line
 * at a time and a digest of the bytes, never the whole file in memory.
 * Memory is bounded by max_line plus one read buffer, whatever the file's
 * size.
 */
#ifndef FC_LINES_H
#define FC_LINES_H

#include <stddef.h>
#include <stdint.h>

/* Flags of a delivered record. */
#define FC_LINE_TORN 1u     /* the file ended before this record's newline */
#define FC_LINE_TOO_LONG 2u /* longer than max_line: s holds its first max_line bytes */

struct fc_lines_cb {
	/*
	 * One record without its newline (s is not NUL-terminated; n may be
	 * 0 for an empty line). Return 0 to go on, > 0 to stop reading (that
	 * value is returned), < 0 to fail with that code.
	 */
	int (*line)(void *arg, const char *s, size_t n, unsigned int flags);
	/* Optional: every byte read, in file order (e.g. for a digest). */
	void (*bytes)(void *arg, const void *p, size_t n);
	void *arg;
};

/*
 * Read dirfd/name (a regular file, opened without following a symlink) to
 * its end or until cb->line stops. max_line >= 1. *total (optional) gets the
 * number of bytes read. Returns 0, the callback's stop value (> 0), its
 * error (< 0), or -errno (-EINVAL: not a regular file).
 */
int fc_lines_read(int dirfd, const char *name, size_t max_line, const struct fc_lines_cb *cb,
		  uint64_t *total);

/* The same on an open fd, from its current offset; fd stays open. */
int fc_lines_read_fd(int fd, size_t max_line, const struct fc_lines_cb *cb, uint64_t *total);

#endif
