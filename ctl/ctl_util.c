/*
 * ctl_util: what every forkcellctl command shares: common options, output,
 * git-style errors, opening the store, and routing a write either to the
 * daemon serving the cell (its writer lock is held) or to LMDB directly.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "fc_clock.h"
#include "fc_ctlproto.h"
#include "fc_log.h"

void ctl_cmd_help(const struct ctl_cmd *cmd)
{
	printf("usage: forkcellctl %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
	printf("\noptions:\n%s", cmd->help ? cmd->help : "");
	printf("  --store PATH         the store\n"
	       "  --format human|json  output format\n"
	       "  -v, --verbose        more diagnostics\n"
	       "  -h, --help           this help\n");
}

int ctl_usage(const struct ctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "forkcellctl: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "\nusage: forkcellctl %s %s\n", cmd->name, cmd->usage);
	else
		fputc('\n', stderr);
	return CTL_EXIT_USAGE;
}

void ctl_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "forkcellctl: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_common_opt(struct ctl *c, const struct ctl_cmd *cmd, int opt, const char *arg)
{
	switch (opt) {
	case 0x100:
		c->store_opt = arg;
		return 1;
	case 0x101:
		if (strcmp(arg, "json") == 0) {
			c->json = true;
		} else if (strcmp(arg, "human") == 0) {
			c->json = false;
		} else {
			ctl_usage(cmd, "unknown format '%s' (human or json)", arg);
			return -1;
		}
		return 1;
	case 'v':
		c->verbose++;
		fc_log_level_current = c->verbose > 1 ? FC_LOG_DEBUG : FC_LOG_INFO;
		return 1;
	case 'h':
		if (!cmd)
			return 0;
		ctl_cmd_help(cmd);
		return 2;
	case '?':
		if (cmd)
			fprintf(stderr, "usage: forkcellctl %s %s\n", cmd->name, cmd->usage);
		return -1;
	default:
		return 0;
	}
}

void ctl_json_out(cJSON *obj)
{
	char *s = obj ? cJSON_Print(obj) : NULL;

	if (s) {
		printf("%s\n", s);
		cJSON_free(s);
	} else {
		printf("{\"ok\":false,\"error\":{\"code\":\"ENOMEM\"}}\n");
	}
	cJSON_Delete(obj);
}

/*
 * LMDB reports a short write as EIO, and a full disk makes pwrite short
 * before it fails: tell the user what is really wrong.
 */
static bool ctl_store_full(const struct ctl *c)
{
	struct statvfs sv;

	return c->st && fstatvfs(c->st->root_fd, &sv) == 0 &&
	       (uint64_t)sv.f_bavail * sv.f_frsize < (1u << 20);
}

int ctl_fail(struct ctl *c, int rc, const struct fc_diag *d)
{
	struct fc_diag full;
	const char *msg;

	if ((rc == -EIO || rc == FC_EMDB || rc == -ENOSPC) && ctl_store_full(c)) {
		fc_diag_init(&full);
		fc_diag_set(&full, -ENOSPC, "%s (no space left on the store's filesystem; the "
			    "store stays consistent)", fc_diag_msg(d, rc));
		rc = -ENOSPC;
		d = &full;
	}
	msg = fc_diag_msg(d, rc);

	/* Names in messages come from users: never echo control bytes. */
	fputs("forkcellctl: error: ", stderr);
	for (; *msg; msg++) {
		unsigned char ch = (unsigned char)*msg;

		if (ch < 0x20 || ch == 0x7f)
			fprintf(stderr, "\\x%02x", ch);
		else
			fputc(ch, stderr);
	}
	fputc('\n', stderr);
	if (c->json)
		ctl_json_out(fc_ctl_reply_err(rc, d));
	return rc == FC_EUSAGE ? CTL_EXIT_USAGE : CTL_EXIT_FAIL;
}

int ctl_store_open(struct ctl *c, bool create)
{
	struct fc_diag d;
	char *path = NULL;
	int rc;

	if (c->st)
		return 0;
	fc_diag_init(&d);
	rc = fc_store_default_path(c->store_opt, &path);
	if (rc < 0) {
		fc_diag_set(&d, rc, "cannot find the store: set --store or $FORKCELL_HOME");
		return ctl_fail(c, rc, &d), rc;
	}
	rc = fc_store_open(path, create ? FC_STORE_CREATE : 0, &c->st, &d);
	if (rc < 0) {
		if (!d.msg[0] || rc == -ENOENT)
			fc_diag_set(&d, rc, "cannot open store '%s': %s", path,
				    rc == -ENOENT ? "no store there (run init first)"
						  : fc_diag_msg(&d, rc));
		ctl_fail(c, rc, &d);
	}
	free(path);
	return rc;
}

int ctl_cell_must_exist(struct ctl *c, const char *cell, struct fc_cell *out,
			struct fc_diag *d)
{
	struct fc_txn t = { 0 };
	struct fc_cell cc;
	int rc = fc_name_check_cell(cell, d);

	if (rc < 0)
		return rc;
	rc = fc_txn_begin(c->st, true, &t);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read the store: %s", fc_strerror(rc));
	rc = fc_cell_get(&t, cell, &cc);
	fc_txn_abort(&t);
	if (rc == -ENOENT || rc == FC_ENOCELL)
		return fc_diag_set(d, FC_ENOCELL, "cell '%s' does not exist", cell);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read cell '%s': %s", cell, fc_strerror(rc));
	if (out)
		*out = cc;
	return 0;
}

int ctl_cell_route(struct ctl *c, const char *cell, int *lock_fd, bool *served,
		   struct fc_daemon_info *info, struct fc_diag *d)
{
	int fd = -1;
	int rc = fc_cell_lock_try(c->st, cell, 0, &fd, d);

	if (rc == 0) {
		/* We hold the lock, so an info file left behind is stale: the
		 * daemon died. Its unsynced state is gone either way; acting on
		 * LMDB is safe. */
		if (fc_daemon_info_read(c->st, cell, 0, info) == 0)
			ctl_warn("cell '%s' has a stale mount at '%s' (its daemon died); run "
				 "'forkcellctl umount %s' to clean it up", cell, info->mountpoint,
				 cell);
		*lock_fd = fd;
		*served = false;
		return 0;
	}
	if (rc != FC_ELOCKED)
		return rc;
	rc = fc_daemon_info_read(c->st, cell, 0, info);
	if (rc < 0)
		return fc_diag_set(d, FC_ELOCKED,
				   "cell '%s' is locked by another process that is not a "
				   "mounted daemon; try again", cell);
	*lock_fd = -1;
	*served = true;
	return 0;
}

int ctl_daemon_call(struct ctl *c, const char *cell, cJSON *req, cJSON **resp,
		    struct fc_diag *d)
{
	int rc;

	if (!req)
		return fc_diag_set(d, -ENOMEM, "out of memory");
	rc = fc_ctl_call(c->st, cell, 0, req, resp, d);
	cJSON_Delete(req);
	return rc;
}

void ctl_syncfs(const char *mountpoint)
{
	int fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (syncfs(fd) < 0)
		fc_log(FC_LOG_WARN, "syncfs '%s': %m", mountpoint);
	close(fd);
}

int ctl_daemon_sync(struct ctl *c, const char *cell, const struct fc_daemon_info *info,
		    struct fc_diag *d)
{
	cJSON *req = cJSON_CreateObject();
	cJSON *resp = NULL;
	int rc;

	/* Flush the kernel's writeback cache into the daemon first. */
	ctl_syncfs(info->mountpoint);
	if (req && !cJSON_AddStringToObject(req, "op", "sync")) {
		cJSON_Delete(req);
		req = NULL;
	}
	rc = ctl_daemon_call(c, cell, req, &resp, d);
	cJSON_Delete(resp);
	return rc;
}

int ctl_parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

void ctl_fmt_time(int64_t ns, char *buf, size_t cap)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	struct tm tm;

	if (!gmtime_r(&sec, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, cap, "?");
}

int ctl_name_arg(struct ctl *c, const char *what, const char *name)
{
	struct fc_diag d, d2;
	int rc;

	fc_diag_init(&d);
	rc = fc_name_check_cell(name, &d);
	if (rc == 0)
		return 0;
	fc_diag_init(&d2);
	fc_diag_set(&d2, rc, "invalid %s name: %s", what, d.msg);
	return ctl_fail(c, rc, &d2);
}

void ctl_json_i64(cJSON *obj, const char *key, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	cJSON_AddRawToObject(obj, key, buf);
}

void ctl_tool_path(const char *name, const char *env_var, char *out, size_t cap)
{
	char self[PATH_MAX];
	const char *env = env_var ? getenv(env_var) : NULL;
	ssize_t n;

	if (env && *env) {
		snprintf(out, cap, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(out, cap, "%s/%s", dirname(self), name);
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, cap, "%s", name);
}

double ctl_now_ms(void)
{
	return (double)fc_mono_ns() / 1e6;
}
