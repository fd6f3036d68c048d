/*
 * t_lines: the streaming record reader (fc_lines): records split across
 * reads, empty lines, a torn last record, over-long records truncated once
 * and skipped, early stop and errors from the callback, the byte callback
 * seeing every byte in order, and memory bounded for a file far larger than
 * the buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_fileio.h"
#include "fc_lines.h"
#include "tap.h"

#define MAX_SEEN 64

struct seen {
	int n;
	char text[MAX_SEEN][128];
	unsigned int flags[MAX_SEEN];
	int stop_at;       /* return 7 on this record (1-based), 0: never */
	uint64_t bytes;    /* from the byte callback */
	unsigned long sum; /* position-weighted checksum of the bytes */
	uint64_t big_records;
};

static int on_line(void *arg, const char *s, size_t n, unsigned int flags)
{
	struct seen *w = arg;

	if (w->n < MAX_SEEN) {
		snprintf(w->text[w->n], sizeof(w->text[0]), "%.*s", (int)n, s);
		w->flags[w->n] = flags;
	}
	w->n++;
	if (w->stop_at && w->n == w->stop_at)
		return 7;
	return 0;
}

static void on_bytes(void *arg, const void *p, size_t n)
{
	struct seen *w = arg;

	for (size_t i = 0; i < n; i++)
		w->sum = w->sum * 31 + ((const unsigned char *)p)[i];
	w->bytes += n;
}

static unsigned long checksum(const char *s, size_t n)
{
	unsigned long sum = 0;

	for (size_t i = 0; i < n; i++)
		sum = sum * 31 + (unsigned char)s[i];
	return sum;
}

static int read_text(int dfd, const char *text, size_t max_line, struct seen *w)
{
	const struct fc_lines_cb cb = { on_line, on_bytes, w };
	uint64_t total = 0;
	int rc;

	if (fc_write_atomic(dfd, "f", text, strlen(text), 0600) < 0)
		bail_out("cannot write the test file");
	rc = fc_lines_read(dfd, "f", max_line, &cb, &total);
	if (rc >= 0 && w->bytes != total)
		return -1000;
	return rc;
}

static int count_line(void *arg, const char *s, size_t n, unsigned int flags)
{
	struct seen *w = arg;

	(void)s;
	if (n == 4000 && flags == 0)
		w->big_records++;
	return 0;
}

int main(void)
{
	char tmpl[] = "/tmp/t_lines.XXXXXX";
	struct seen w;
	int dfd;

	if (!mkdtemp(tmpl))
		bail_out("mkdtemp: %s", strerror(errno));
	dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(&w, 0, sizeof(w));
	is_int(read_text(dfd, "a\n\nbc\n", 16, &w), 0, "three records read");
	is_int(w.n, 3, "an empty line is a record");
	is_str(w.text[0], "a", "first record");
	is_str(w.text[1], "", "second record is empty");
	is_str(w.text[2], "bc", "third record");
	ok(w.flags[0] == 0 && w.flags[2] == 0, "complete records carry no flag");
	is_int((long long)w.bytes, 6, "the byte callback saw every byte");
	ok(w.sum == checksum("a\n\nbc\n", 6), "in file order");

	memset(&w, 0, sizeof(w));
	is_int(read_text(dfd, "one\ntwo", 16, &w), 0, "a file without a final newline");
	is_int(w.n, 2, "delivers its last record");
	is_str(w.text[1], "two", "whole");
	is_int(w.flags[1], FC_LINE_TORN, "flagged torn");

	memset(&w, 0, sizeof(w));
	is_int(read_text(dfd, "short\n0123456789ABCDEF\nok\n", 8, &w), 0, "an over-long record");
	is_int(w.n, 3, "is delivered once");
	is_str(w.text[1], "01234567", "truncated to max_line");
	is_int(w.flags[1], FC_LINE_TOO_LONG, "flagged too long");
	is_str(w.text[2], "ok", "and the next record is intact");

	memset(&w, 0, sizeof(w));
	is_int(read_text(dfd, "12345678\n", 8, &w), 0, "a record of exactly max_line");
	ok(w.n == 1 && w.flags[0] == 0 && strcmp(w.text[0], "12345678") == 0,
	   "is whole and unflagged");

	memset(&w, 0, sizeof(w));
	is_int(read_text(dfd, "x\n0123456789ABCDEF", 8, &w), 0, "an over-long torn last record");
	is_int(w.n, 2, "is delivered once, not twice");

	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	is_int(read_text(dfd, "a\nb\nc\n", 16, &w), 7, "a callback's stop value is returned");
	is_int(w.n, 2, "and no record after it is delivered");

	memset(&w, 0, sizeof(w));
	is_int(read_text(dfd, "", 16, &w), 0, "an empty file");
	is_int(w.n, 0, "has no record");

	{
		/* 20 MiB of 4000-byte records, 64 KiB chunks: records cross every
		 * read boundary; max_line 4096 bounds the buffer at 68 KiB. */
		char rec[4001];
		const struct fc_lines_cb cb = { count_line, NULL, &w };
		uint64_t total = 0;
		int fd = openat(dfd, "big", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		memset(rec, 'r', 4000);
		rec[4000] = '\n';
		for (int i = 0; i < 5000; i++)
			if (fc_write_all(fd, rec, sizeof(rec)) < 0)
				bail_out("cannot write the big file");
		close(fd);
		memset(&w, 0, sizeof(w));
		is_int(fc_lines_read(dfd, "big", 4096, &cb, &total), 0, "a 20 MiB file");
		is_int((long long)w.big_records, 5000, "every record whole across read boundaries");
		is_int((long long)total, 5000LL * 4001, "total bytes");
	}

	{
		const struct fc_lines_cb cb = { on_line, NULL, &w };

		is_int(fc_lines_read(dfd, "missing", 16, &cb, NULL), -ENOENT, "a missing file");
		if (mkdirat(dfd, "d", 0700) < 0)
			bail_out("mkdirat: %s", strerror(errno));
		is_int(fc_lines_read(dfd, "d", 16, &cb, NULL), -EINVAL, "a directory is refused");
		if (symlinkat("big", dfd, "link") < 0)
			bail_out("symlinkat: %s", strerror(errno));
		is_int(fc_lines_read(dfd, "link", 16, &cb, NULL), -ELOOP, "a symlink is not followed");
		is_int(fc_lines_read(dfd, "big", 0, &cb, NULL), -EINVAL, "max_line 0 is refused");
	}

	unlinkat(dfd, "f", 0);
	unlinkat(dfd, "big", 0);
	unlinkat(dfd, "link", 0);
	unlinkat(dfd, "d", AT_REMOVEDIR);
	close(dfd);
	rmdir(tmpl);
	return done_testing();
}
