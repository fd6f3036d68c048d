/*
 * fc_log: leveled diagnostics. The macro checks the level before the
 * arguments are evaluated, so a disabled DEBUG line costs one compare.
 *
 * Message style (tests grep these, wording is interface): lower case, no
 * final stop, what failed first, subject quoted, cause last:
 *   cannot copy up 'a/b': No space left on device
 * Never log file contents, environment values or secrets.
 */
#ifndef FC_LOG_H
#define FC_LOG_H

enum fc_log_level {
	FC_LOG_ERR = 0,
	FC_LOG_WARN = 1,
	FC_LOG_INFO = 2,
	FC_LOG_DEBUG = 3,
};

extern int fc_log_level_current;

/* Program name shown before each line; borrowed, must outlive logging. */
void fc_log_set_prog(const char *prog);

/*
 * Send log lines to path (opened O_APPEND|O_CLOEXEC, 0600) instead of
 * stderr. Returns 0 or -errno. Lines to a file carry an ISO-8601 time.
 */
int fc_log_set_file(const char *path);

void fc_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fc_log(level, ...)                                 \
	do {                                               \
		if ((level) <= fc_log_level_current)       \
			fc_log_write((level), __VA_ARGS__); \
	} while (0)

/* Log file:line and abort: for broken internal invariants only. */
#define FC_BUG(...)                                                        \
	do {                                                               \
		fc_log_write(FC_LOG_ERR, "BUG at %s:%d", __FILE__, __LINE__); \
		fc_log_write(FC_LOG_ERR, __VA_ARGS__);                     \
		abort();                                                   \
	} while (0)

#endif
