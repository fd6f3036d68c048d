/*
 * fc_log: the log sink. Lines go to stderr (prefixed with the program
 * name) or to a log file (prefixed with an ISO-8601 UTC time and the pid).
 * One write(2) per line so concurrent threads never interleave.
 */
#include "fc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int fc_log_level_current = FC_LOG_WARN;
static const char *log_prog = "forkcell";
static int log_fd = STDERR_FILENO;
static int log_to_file;

void fc_log_set_prog(const char *prog)
{
	log_prog = prog;
}

int fc_log_set_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -errno;
	if (log_to_file)
		close(log_fd);
	log_fd = fd;
	log_to_file = 1;
	return 0;
}

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void fc_log_write(int level, const char *fmt, ...)
{
	char line[2048];
	size_t n = 0;
	va_list ap;
	int saved = errno;

	if (level < 0 || level > FC_LOG_DEBUG)
		level = FC_LOG_ERR;
	if (log_to_file) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%d] %s: ",
				      ts.tv_nsec / 1000000, log_prog, (int)getpid(),
				      level_names[level]);
	} else {
		n = (size_t)snprintf(line, sizeof(line), "%s: %s%s", log_prog,
				     level == FC_LOG_ERR ? "error: " : "",
				     level == FC_LOG_WARN ? "warning: " : "");
	}
	if (n >= sizeof(line) - 2)
		n = 0;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += (size_t)m;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(log_fd, line, n);
	(void)w;
	errno = saved;
}
