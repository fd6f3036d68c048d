/*
 * fc_lock: per-cell writer lock (flock on STORE/run/<cell>.lock), the daemon
 * info file (STORE/run/<cell>.json) and the live/stale test (see fc_lock.h).
 */
#include "fc_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fc_ctlproto.h"
#include "fc_fileio.h"
#include "fc_store.h"

#define FC_RUN_NAME_MAX (FC_CELL_NAME_MAX + 32)
#define FC_INFO_MAX 65536

int fc_cell_lock_try(struct fc_store *st, const char *cell, uint64_t ckpt, int *fd_out,
		     struct fc_diag *d)
{
	char name[FC_RUN_NAME_MAX];
	int rc = fc_ctl_run_name(cell, ckpt, ".lock", name, sizeof(name));
	int fd;

	if (rc < 0)
		return fc_diag_set(d, rc, "invalid cell name '%s'", cell);
	fd = openat(st->run_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		return fc_diag_set(d, rc, "cannot open the lock of cell '%s': %s", cell,
				   fc_strerror(rc));
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		rc = errno == EWOULDBLOCK ? FC_ELOCKED : -errno;
		close(fd);
		if (rc == FC_ELOCKED)
			return fc_diag_set(d, rc, "cell '%s' is in use by another process", cell);
		return fc_diag_set(d, rc, "cannot lock cell '%s': %s", cell, fc_strerror(rc));
	}
	*fd_out = fd;
	return 0;
}

void fc_cell_lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}

int fc_cell_lock_held(struct fc_store *st, const char *cell, uint64_t ckpt)
{
	char name[FC_RUN_NAME_MAX];
	int rc = fc_ctl_run_name(cell, ckpt, ".lock", name, sizeof(name));
	int fd;

	if (rc < 0)
		return rc;
	/* Opening without O_CREAT: no lock file means nobody ever served it. */
	fd = openat(st->run_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		rc = errno == EWOULDBLOCK ? 1 : -errno;
		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

int fc_daemon_info_write(struct fc_store *st, const struct fc_daemon_info *info)
{
	char name[FC_RUN_NAME_MAX];
	cJSON *o = NULL;
	char *s = NULL;
	int rc = fc_ctl_run_name(info->cell, info->checkpoint, ".json", name, sizeof(name));

	if (rc < 0)
		return rc;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddNumberToObject(o, "pid", (double)info->pid) ||
	    !cJSON_AddStringToObject(o, "mountpoint", info->mountpoint) ||
	    !cJSON_AddStringToObject(o, "cell", info->cell) ||
	    !cJSON_AddNumberToObject(o, "checkpoint", (double)info->checkpoint) ||
	    !cJSON_AddBoolToObject(o, "ro", info->ro) ||
	    !cJSON_AddNumberToObject(o, "started", (double)info->started)) {
		rc = -ENOMEM;
		goto out;
	}
	s = cJSON_Print(o);
	if (!s) {
		rc = -ENOMEM;
		goto out;
	}
	rc = fc_write_atomic(st->run_fd, name, s, strlen(s), 0600);
out:
	cJSON_free(s);
	cJSON_Delete(o);
	return rc;
}

/* Copy a JSON number field that must be a non-negative integer. */
static int fc_info_num(const cJSON *o, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9.0e15)
		return FC_ECORRUPT;
	*out = (int64_t)v->valuedouble;
	return 0;
}

int fc_daemon_info_read(struct fc_store *st, const char *cell, uint64_t ckpt,
			struct fc_daemon_info *out)
{
	char name[FC_RUN_NAME_MAX];
	struct fc_daemon_info info;
	const cJSON *mp, *ro;
	cJSON *o = NULL;
	char *buf = NULL;
	size_t len = 0;
	int64_t ck = 0;
	int rc = fc_ctl_run_name(cell, ckpt, ".json", name, sizeof(name));

	if (rc < 0)
		return rc;
	rc = fc_read_file(st->run_fd, name, FC_INFO_MAX, &buf, &len);
	if (rc < 0)
		return rc;
	memset(&info, 0, sizeof(info));
	o = cJSON_ParseWithLength(buf, len);
	mp = cJSON_GetObjectItemCaseSensitive(o, "mountpoint");
	ro = cJSON_GetObjectItemCaseSensitive(o, "ro");
	if (!cJSON_IsObject(o) || fc_info_num(o, "pid", &info.pid) < 0 ||
	    fc_info_num(o, "started", &info.started) < 0 || !cJSON_IsString(mp) ||
	    strlen(mp->valuestring) >= sizeof(info.mountpoint)) {
		rc = FC_ECORRUPT;
		goto out;
	}
	if (fc_info_num(o, "checkpoint", &ck) == 0)
		info.checkpoint = (uint64_t)ck;
	info.ro = cJSON_IsTrue(ro);
	snprintf(info.cell, sizeof(info.cell), "%s", cell);
	snprintf(info.mountpoint, sizeof(info.mountpoint), "%s", mp->valuestring);
	*out = info;
out:
	cJSON_Delete(o);
	free(buf);
	return rc;
}

int fc_daemon_info_remove(struct fc_store *st, const char *cell, uint64_t ckpt)
{
	static const char *const sfx[] = { ".json", ".sock" };
	char name[FC_RUN_NAME_MAX];
	int rc = 0;
	size_t i;

	for (i = 0; i < 2; i++) {
		int r = fc_ctl_run_name(cell, ckpt, sfx[i], name, sizeof(name));

		if (r == 0 && unlinkat(st->run_fd, name, 0) < 0 && errno != ENOENT)
			r = -errno;
		if (r < 0 && rc == 0)
			rc = r;
	}
	if (rc == 0)
		rc = fc_fsync_dir(st->run_fd);
	return rc;
}

int fc_mount_is_dead(const char *path)
{
	struct statfs sf;

	/* statfs always asks the daemon; stat may be answered from the
	 * kernel's attribute cache even when the daemon is gone. */
	if (statfs(path, &sf) == 0)
		return 0;
	if (errno == ENOTCONN)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void mi_unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

int fc_mount_is_forkcell(const char *path, const char *cell)
{
	char *line = NULL, *save, *mp, *sep, *fstype, *src;
	size_t cap = 0;
	int found = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	while (!found && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source */
		strtok_r(line, " ", &save);
		strtok_r(NULL, " ", &save);
		strtok_r(NULL, " ", &save);
		strtok_r(NULL, " ", &save);
		mp = strtok_r(NULL, " ", &save);
		while ((sep = strtok_r(NULL, " ", &save)) && strcmp(sep, "-") != 0)
			;
		fstype = sep ? strtok_r(NULL, " ", &save) : NULL;
		src = fstype ? strtok_r(NULL, " ", &save) : NULL;
		if (!mp || !fstype || !src || strcmp(fstype, "fuse.forkcellfs") != 0)
			continue;
		mi_unescape(mp);
		if (strcmp(mp, path) != 0)
			continue;
		/* The daemon names its mounts "forkcell:<cell>" unless told otherwise. */
		found = strncmp(src, "forkcell:", 9) != 0 || strcmp(src + 9, cell) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

int fc_cell_serve_state(struct fc_store *st, const char *cell, uint64_t ckpt,
			enum fc_serve_state *state, struct fc_daemon_info *info_out)
{
	struct fc_daemon_info info;
	int held = fc_cell_lock_held(st, cell, ckpt);
	int rc;

	if (held < 0)
		return held;
	memset(&info, 0, sizeof(info));
	snprintf(info.cell, sizeof(info.cell), "%s", cell);
	info.checkpoint = ckpt;
	rc = fc_daemon_info_read(st, cell, ckpt, &info);
	if (rc < 0 && rc != -ENOENT && rc != FC_ECORRUPT)
		return rc;
	if (held) {
		*state = FC_SERVE_LIVE;
	} else if (rc == 0) {
		/* The daemon removes its info file before it drops the lock,
		 * so an info file without a lock holder is left over by a
		 * killed daemon (its mount, if any, is dead: ENOTCONN). */
		*state = FC_SERVE_STALE;
	} else {
		*state = FC_SERVE_NONE;
	}
	if (info_out)
		*info_out = info;
	return 0;
}
