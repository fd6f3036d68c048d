/*
 * cmd_export: `export CELL DIR [--from CHECKPOINT]` writes a generation of a
 * cell (default: the head) into DIR, which must be missing or empty, as a
 * real tree (see fc_export).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "fc_ctlproto.h"
#include "fc_export.h"

/* Open DIR for export: create it when missing, refuse a non-empty one. */
static int open_target(const char *dir, int *fd_out, struct fc_diag *d)
{
	struct dirent *e;
	DIR *dp;
	int fd, rc = 0;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return fc_diag_set(d, -errno, "cannot create '%s': %s", dir, fc_strerror(-errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOTDIR || rc == -ELOOP)
			return fc_diag_set(d, -ENOTDIR, "'%s' is not a directory", dir);
		return fc_diag_set(d, rc, "cannot open '%s': %s", dir, fc_strerror(rc));
	}
	dp = fdopendir(dup(fd));
	if (!dp) {
		rc = -errno;
		close(fd);
		return fc_diag_set(d, rc, "cannot read '%s': %s", dir, fc_strerror(rc));
	}
	while ((e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			rc = fc_diag_set(d, -ENOTEMPTY, "export directory '%s' is not empty", dir);
			break;
		}
	closedir(dp);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

static int export_run(struct ctl *c, const char *cell, const char *ref, int dfd,
		      uint64_t *gen, struct fc_export_stats *s, struct fc_diag *d)
{
	struct fc_daemon_info info;
	enum fc_serve_state st;
	struct fc_view v = { 0 };
	struct fc_txn t = { 0 };
	struct fc_cell cl;
	int rc = fc_cell_serve_state(c->st, cell, 0, &st, &info);

	if (rc == 0 && st == FC_SERVE_LIVE && !ref)
		rc = ctl_daemon_sync(c, cell, &info, d);
	if (rc == 0)
		rc = fc_txn_begin(c->st, true, &t);
	if (rc == 0)
		rc = fc_cell_get(&t, cell, &cl);
	if (rc == 0)
		*gen = cl.head;
	if (rc == 0 && ref) {
		rc = fc_ckpt_resolve(&t, cell, ref, gen);
		if (rc == -ENOENT || rc == FC_ENOCKPT)
			rc = fc_diag_set(d, FC_ENOCKPT, "checkpoint '%s' of cell '%s' does not exist",
					 ref, cell);
	}
	if (rc == 0)
		rc = fc_view_load(&t, *gen, cell, &v);
	if (rc == 0)
		rc = fc_export(c->st, &t, &v, dfd, s, d);
	fc_view_release(&v);
	fc_txn_abort(&t);
	return rc;
}

int cmd_export(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_LONGOPTS,
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd *cmd = ctl_cmd_find("export");
	struct fc_export_stats s;
	struct fc_diag d;
	const char *from = NULL, *cell, *dir;
	uint64_t gen = 0;
	int o, rc, dfd = -1;
	cJSON *r;

	while ((o = getopt_long(argc, argv, "hvf:", opts, NULL)) != -1) {
		if (o == 'f')
			from = optarg;
		else
			CTL_OPT_COMMON(c, cmd, o);
	}
	if (argc - optind != 2)
		return ctl_usage(cmd, "export takes CELL DIR");
	cell = argv[optind];
	dir = argv[optind + 1];
	if (ctl_name_arg(c, "cell", cell) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = ctl_cell_must_exist(c, cell, NULL, &d);
	if (rc == 0)
		rc = open_target(dir, &dfd, &d);
	if (rc == 0)
		rc = export_run(c, cell, from, dfd, &gen, &s, &d);
	if (dfd >= 0)
		close(dfd);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	if (!c->json) {
		printf("exported generation %llu of cell '%s' to '%s': %llu files, %llu directories, "
		       "%llu symlinks, %llu other, %llu bytes\n", (unsigned long long)gen, cell, dir,
		       (unsigned long long)s.files, (unsigned long long)s.dirs,
		       (unsigned long long)s.symlinks, (unsigned long long)s.specials,
		       (unsigned long long)s.bytes);
		return CTL_EXIT_OK;
	}
	r = fc_ctl_reply_ok();
	cJSON_AddStringToObject(r, "cell", cell);
	cJSON_AddStringToObject(r, "dir", dir);
	cJSON_AddNumberToObject(r, "generation", (double)gen);
	cJSON_AddNumberToObject(r, "files", (double)s.files);
	cJSON_AddNumberToObject(r, "dirs", (double)s.dirs);
	cJSON_AddNumberToObject(r, "symlinks", (double)s.symlinks);
	cJSON_AddNumberToObject(r, "specials", (double)s.specials);
	cJSON_AddNumberToObject(r, "links", (double)s.links);
	cJSON_AddNumberToObject(r, "bytes", (double)s.bytes);
	ctl_json_out(r);
	return CTL_EXIT_OK;
}
