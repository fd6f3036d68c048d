/*
 * fc_lines: see fc_lines.h.
 *
 * One buffer of max_line + FC_LINES_CHUNK bytes: each read appends up to a
 * chunk after the pending partial record, complete records are delivered in
 * place, and the partial tail moves to the front. A record that outgrows
 * max_line is delivered once, truncated and flagged, and the rest of it is
 * skipped up to its newline.
 */
#include "fc_lines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FC_LINES_CHUNK (64 * 1024)

struct lines_state {
	const struct fc_lines_cb *cb;
	size_t max_line;
	char *buf;
	size_t len;    /* bytes in buf */
	bool skipping; /* inside a too-long record already delivered */
};

/* Deliver every complete record in buf, then keep the partial tail. */
static int lines_drain(struct lines_state *st)
{
	size_t start = 0;
	int rc;

	for (;;) {
		char *nl = memchr(st->buf + start, '\n', st->len - start);
		size_t n;

		if (!nl)
			break;
		n = (size_t)(nl - (st->buf + start));
		if (st->skipping) {
			st->skipping = false;
		} else if (n > st->max_line) {
			rc = st->cb->line(st->cb->arg, st->buf + start, st->max_line, FC_LINE_TOO_LONG);
			if (rc != 0)
				return rc;
		} else {
			rc = st->cb->line(st->cb->arg, st->buf + start, n, 0);
			if (rc != 0)
				return rc;
		}
		start += n + 1;
	}
	st->len -= start;
	memmove(st->buf, st->buf + start, st->len);
	if (st->skipping) {
		st->len = 0; /* still inside the too-long record: drop what came */
	} else if (st->len > st->max_line) {
		rc = st->cb->line(st->cb->arg, st->buf, st->max_line, FC_LINE_TOO_LONG);
		if (rc != 0)
			return rc;
		st->skipping = true;
		st->len = 0;
	}
	return 0;
}

int fc_lines_read_fd(int fd, size_t max_line, const struct fc_lines_cb *cb, uint64_t *total)
{
	struct lines_state st = { .cb = cb, .max_line = max_line };
	uint64_t got = 0;
	int rc = 0;

	if (max_line == 0 || !cb || !cb->line)
		return -EINVAL;
	if (max_line > SIZE_MAX - FC_LINES_CHUNK)
		return -EOVERFLOW;
	st.buf = malloc(max_line + FC_LINES_CHUNK);
	if (!st.buf)
		return -ENOMEM;
	for (;;) {
		/* lines_drain keeps len <= max_line, so a chunk always fits */
		ssize_t n = read(fd, st.buf + st.len, FC_LINES_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0) {
			if (st.len > 0 && !st.skipping)
				rc = cb->line(cb->arg, st.buf, st.len, FC_LINE_TORN);
			break;
		}
		if (cb->bytes)
			cb->bytes(cb->arg, st.buf + st.len, (size_t)n);
		got += (uint64_t)n;
		st.len += (size_t)n;
		rc = lines_drain(&st);
		if (rc != 0)
			break;
	}
	free(st.buf);
	if (total)
		*total = got;
	return rc;
}

int fc_lines_read(int dirfd, const char *name, size_t max_line, const struct fc_lines_cb *cb,
		  uint64_t *total)
{
	struct stat sb;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0)
		rc = -errno;
	else if (!S_ISREG(sb.st_mode))
		rc = -EINVAL;
	else
		rc = fc_lines_read_fd(fd, max_line, cb, total);
	close(fd);
	return rc;
}
