/*
 * fs_ctl: the control socket of a mounted cell (STORE/run/<cell>.sock,
 * mode 0600, peers checked with SO_PEERCRED), one JSON object per line
 * each way (common/fc_ctlproto). One thread accepts connections and serves
 * them one after the other: the operations are short, and checkpoint and
 * restore serialise on the view lock anyway.
 *
 * A time-travel mount (checkpoint=REF) listens on <cell>@<gen>.sock and
 * answers status only.
 */
#include "fs.h"

#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fc_clock.h"
#include "fc_ctlproto.h"
#include "fc_lock.h"
#include "fc_log.h"

#define FS_CTL_IO_MS 10000

int fs_ctl_listen(struct fs_ctx *ctx, struct fc_diag *d)
{
	struct fc_daemon_info info;
	struct sockaddr_un addr;
	socklen_t alen = 0;
	char name[FC_CELL_NAME_MAX + 32];
	mode_t old;
	int fd, rc;

	rc = fc_ctl_run_name(ctx->cell, ctx->ckpt, ".sock", name, sizeof(name));
	if (rc == 0)
		rc = fc_ctl_sock_addr(ctx->st, ctx->cell, ctx->ckpt, &addr, &alen);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot name the control socket of '%s'", ctx->cell);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fc_diag_set(d, -errno, "cannot create the control socket: %m");
	/* We hold the cell's lock: a socket file left here is a dead daemon's. */
	unlinkat(ctx->st->run_fd, name, 0);
	old = umask(077);
	rc = bind(fd, (struct sockaddr *)&addr, alen) < 0 ? -errno : 0;
	umask(old);
	if (rc == 0 && fchmodat(ctx->st->run_fd, name, 0600, 0) < 0)
		rc = -errno;
	if (rc == 0 && listen(fd, 16) < 0)
		rc = -errno;
	if (rc == 0 && pipe2(ctx->ctl_wake, O_CLOEXEC) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return fc_diag_set(d, rc, "cannot listen on '%s/run/%s': %s", ctx->st->path, name,
				   fc_strerror(rc));
	}
	ctx->ctl_fd = fd;
	memset(&info, 0, sizeof(info));
	info.pid = getpid();
	info.started = ctx->started;
	info.checkpoint = ctx->ckpt;
	info.ro = ctx->ro;
	snprintf(info.cell, sizeof(info.cell), "%s", ctx->cell);
	snprintf(info.mountpoint, sizeof(info.mountpoint), "%s", ctx->opts->mountpoint);
	rc = fc_daemon_info_write(ctx->st, &info);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot write the daemon info file: %s", fc_strerror(rc));
	ctx->info_written = true;
	return 0;
}

static int fs_ctl_add_u64(cJSON *o, const char *key, uint64_t v)
{
	return cJSON_AddNumberToObject(o, key, (double)v) ? 0 : -ENOMEM;
}

/* Flush and sync; the reply names the head, so a caller that syncs to
 * read the store (forkcellctl run) needs no second round trip. */
static int fs_ctl_sync(struct fs_ctx *ctx, cJSON *r)
{
	int rc = fs_gen_sync(ctx);

	if (rc == 0) {
		pthread_rwlock_rdlock(&ctx->view_lock);
		rc = fs_ctl_add_u64(r, "head", ctx->view.head);
		pthread_rwlock_unlock(&ctx->view_lock);
	}
	return rc;
}

static int fs_ctl_status(struct fs_ctx *ctx, cJSON *r)
{
	int rc;

	pthread_rwlock_rdlock(&ctx->view_lock);
	rc = fs_ctl_add_u64(r, "head", ctx->view.head);
	pthread_rwlock_unlock(&ctx->view_lock);
	if (rc == 0 && !cJSON_AddStringToObject(r, "cell", ctx->cell))
		rc = -ENOMEM;
	if (rc == 0 && !cJSON_AddStringToObject(r, "mountpoint", ctx->opts->mountpoint))
		rc = -ENOMEM;
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "pid", (uint64_t)getpid());
	if (rc == 0 && !cJSON_AddBoolToObject(r, "ro", ctx->ro))
		rc = -ENOMEM;
	if (rc == 0 && ctx->ckpt)
		rc = fs_ctl_add_u64(r, "checkpoint", ctx->ckpt);
	return rc;
}

static int fs_ctl_checkpoint(struct fs_ctx *ctx, const cJSON *req, cJSON *r, struct fc_diag *d)
{
	const char *name = NULL;
	uint64_t ck = 0, head = 0;
	struct fc_txn t = { 0 };
	struct fc_gen g;
	int rc;

	rc = fc_ctl_get_str(req, "name", &name, d);
	if (rc == 0)
		rc = fs_gen_checkpoint(ctx, name, &ck, &head, d);
	if (rc < 0)
		return rc;
	memset(&g, 0, sizeof(g));
	if (fs_rtxn_begin(ctx, &t) == 0) {
		if (fc_gen_get(&t, ck, &g) < 0)
			g.name[0] = '\0';
		fs_rtxn_end(&t);
	}
	rc = fs_ctl_add_u64(r, "checkpoint", ck);
	if (rc == 0 && !cJSON_AddStringToObject(r, "name", g.name[0] ? g.name : (name ? name : "")))
		rc = -ENOMEM;
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "head", head);
	return rc;
}

static int fs_ctl_restore(struct fs_ctx *ctx, const cJSON *req, cJSON *r, struct fc_diag *d)
{
	const char *ref = NULL;
	uint64_t to = 0, old = 0, head = 0, n = 0;
	int rc;

	rc = fc_ctl_get_str(req, "checkpoint", &ref, d);
	if (rc == 0)
		rc = fs_gen_restore(ctx, ref, &to, &old, &head, &n, d);
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "restored_to", to);
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "old_head", old);
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "head", head);
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "invalidated", n);
	return rc;
}

static int fs_ctl_fork(struct fs_ctx *ctx, const cJSON *req, cJSON *r, struct fc_diag *d)
{
	const char *ref = NULL, *newcell = NULL;
	uint64_t head = 0, from = 0;
	int rc;

	rc = fc_ctl_get_str(req, "checkpoint", &ref, d);
	if (rc == 0)
		rc = fc_ctl_get_str(req, "newcell", &newcell, d);
	if (rc == 0 && !newcell)
		rc = fc_diag_set(d, FC_EPROTO, "fork needs \"newcell\"");
	if (rc == 0)
		rc = fs_gen_fork(ctx, ref, newcell, &head, &from, d);
	if (rc == 0 && !cJSON_AddStringToObject(r, "cell", newcell))
		rc = -ENOMEM;
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "head", head);
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "from", from);
	return rc;
}

#define FS_CTL_MAX_PATHS 4096

static int fs_ctl_restore_path(struct fs_ctx *ctx, const cJSON *req, cJSON *r,
			       struct fc_diag *d)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(req, "paths"), *it;
	const char **paths = NULL;
	const char *ref = NULL;
	uint64_t restored = 0, n = 0;
	size_t cnt = 0;
	int rc;

	rc = fc_ctl_get_str(req, "checkpoint", &ref, d);
	if (rc == 0 && (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 ||
			cJSON_GetArraySize(arr) > FS_CTL_MAX_PATHS))
		rc = fc_diag_set(d, FC_EPROTO, "restore_path needs \"paths\" (1..%d strings)",
				 FS_CTL_MAX_PATHS);
	if (rc == 0) {
		paths = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*paths));
		rc = paths ? 0 : -ENOMEM;
	}
	if (rc < 0)
		arr = NULL;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it)) {
			rc = fc_diag_set(d, FC_EPROTO, "\"paths\" must hold strings");
			break;
		}
		paths[cnt++] = it->valuestring;
	}
	if (rc == 0)
		rc = fs_gen_restore_paths(ctx, ref, paths, cnt, &restored, &n, d);
	free(paths);
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "restored", restored);
	if (rc == 0)
		rc = fs_ctl_add_u64(r, "invalidated", n);
	return rc;
}

static int fs_ctl_dispatch(struct fs_ctx *ctx, const cJSON *req, cJSON *r, struct fc_diag *d)
{
	const char *op = NULL;
	int rc;

	rc = fc_ctl_request_op(req, &op, d);
	if (rc < 0)
		return rc;
	if (strcmp(op, "status") == 0)
		return fs_ctl_status(ctx, r);
	if (ctx->ro)
		return fc_diag_set(d, -EROFS, "'%s' is not possible on a read-only mount", op);
	if (strcmp(op, "sync") == 0)
		return fs_ctl_sync(ctx, r);
	if (strcmp(op, "checkpoint") == 0)
		return fs_ctl_checkpoint(ctx, req, r, d);
	if (strcmp(op, "restore") == 0)
		return fs_ctl_restore(ctx, req, r, d);
	if (strcmp(op, "fork") == 0)
		return fs_ctl_fork(ctx, req, r, d);
	if (strcmp(op, "restore_path") == 0)
		return fs_ctl_restore_path(ctx, req, r, d);
	return fc_diag_set(d, FC_EPROTO, "unknown op '%s'", op);
}

/*
 * Answer one request on fd. A generation switch is committed to LMDB before
 * the reply (so it survives the death of any process) but fsync'ed to the
 * disk after it, unless the request says "durable": true: the switch then
 * costs a commit, not a disk flush, and power-loss durability follows
 * within the same control-thread turn.
 */
static int fs_ctl_answer(struct fs_ctx *ctx, int fd, const cJSON *req)
{
	const cJSON *durable = cJSON_GetObjectItemCaseSensitive(req, "durable");
	struct fc_diag d;
	cJSON *reply = fc_ctl_reply_ok();
	int64_t t0 = fc_mono_ns();
	int rc;

	fc_diag_init(&d);
	rc = reply ? fs_ctl_dispatch(ctx, req, reply, &d) : -ENOMEM;
	if (rc == 0 && !cJSON_HasObjectItem(reply, "duration_ms"))
		cJSON_AddNumberToObject(reply, "duration_ms", (double)(fc_mono_ns() - t0) / 1e6);
	if (rc == 0 && ctx->sync_pending && cJSON_IsTrue(durable)) {
		ctx->sync_pending = false;
		rc = fc_store_sync(ctx->st);
		if (rc == 0 && !cJSON_AddTrueToObject(reply, "durable"))
			rc = -ENOMEM;
	}
	if (rc < 0) {
		cJSON_Delete(reply);
		reply = fc_ctl_reply_err(rc, &d);
		fc_log(FC_LOG_INFO, "control request failed: %s", fc_diag_msg(&d, rc));
	}
	if (!reply)
		return -ENOMEM;
	rc = fc_ctl_send(fd, reply, FS_CTL_IO_MS);
	cJSON_Delete(reply);
	/* The fsync runs on the flusher thread, so the next request does not
	 * wait for it; switches in a burst share one. */
	if (ctx->sync_pending) {
		ctx->sync_pending = false;
		if (!fs_flusher_sync_soon(ctx)) {
			int src = fc_store_sync(ctx->st);

			if (src < 0)
				fc_log(FC_LOG_ERR, "cannot sync the store after a switch: %s",
				       fc_strerror(src));
		}
	}
	return rc;
}

/* Wait for fd to be readable; false when asked to stop. */
static bool fs_ctl_wait(struct fs_ctx *ctx, int fd)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = ctx->ctl_wake[0], .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (p[1].revents)
			return false;
		return true;
	}
}

static void fs_ctl_serve(struct fs_ctx *ctx, int fd)
{
	struct fc_ctl_conn conn;
	struct fc_diag d;
	cJSON *req = NULL;
	int rc;

	if (fc_ctl_peer_check(ctx->st, fd) < 0) {
		fc_log(FC_LOG_WARN, "refused a control connection from another user");
		return;
	}
	fc_ctl_conn_init(&conn, fd);
	while (fs_ctl_wait(ctx, fd)) {
		fc_diag_init(&d);
		rc = fc_ctl_recv(&conn, FS_CTL_IO_MS, &req, &d);
		if (rc == 1)
			break;
		if (rc < 0) {
			cJSON *err = fc_ctl_reply_err(rc, &d);

			if (err)
				fc_ctl_send(fd, err, FS_CTL_IO_MS);
			cJSON_Delete(err);
			break;
		}
		rc = fs_ctl_answer(ctx, fd, req);
		cJSON_Delete(req);
		req = NULL;
		if (rc < 0)
			break;
	}
	fc_ctl_conn_release(&conn);
}

static void *fs_ctl_main(void *arg)
{
	struct fs_ctx *ctx = arg;

	while (fs_ctl_wait(ctx, ctx->ctl_fd)) {
		int fd = accept4(ctx->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			continue;
		fs_ctl_serve(ctx, fd);
		close(fd);
	}
	return NULL;
}

int fs_ctl_start(struct fs_ctx *ctx)
{
	int rc;

	if (ctx->ctl_fd < 0)
		return 0;
	rc = pthread_create(&ctx->ctl_thread, NULL, fs_ctl_main, ctx);
	if (rc != 0)
		return -rc;
	ctx->ctl_started = true;
	return 0;
}

void fs_ctl_stop(struct fs_ctx *ctx)
{
	bool files = ctx->info_written || ctx->ctl_fd >= 0;

	if (ctx->ctl_started) {
		char c = 1;

		if (write(ctx->ctl_wake[1], &c, 1) < 0)
			fc_log(FC_LOG_WARN, "cannot wake the control thread: %m");
		pthread_join(ctx->ctl_thread, NULL);
		ctx->ctl_started = false;
	}
	if (ctx->ctl_fd >= 0)
		close(ctx->ctl_fd);
	ctx->ctl_fd = -1;
	if (ctx->ctl_wake[0] >= 0)
		close(ctx->ctl_wake[0]);
	if (ctx->ctl_wake[1] >= 0)
		close(ctx->ctl_wake[1]);
	ctx->ctl_wake[0] = ctx->ctl_wake[1] = -1;
	if (files)
		fc_daemon_info_remove(ctx->st, ctx->cell, ctx->ckpt);
	ctx->info_written = false;
}
