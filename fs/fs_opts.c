/*
 * fs_opts: the command line of forkcellfs.
 *
 *   forkcellfs [-f] [-d] [-o OPT[,OPT...]] STORE MOUNTPOINT [-o ...]
 *
 * Options may come before or after the positional arguments, because
 * mount.fuse3 (mount -t fuse.forkcellfs) passes them after. Generic mount
 * options that make no sense for us (dev, suid, noatime, ...) are accepted
 * and ignored; unknown options are refused.
 */
#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_log.h"

static const char *const fs_ignored_opts[] = {
	"dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime", "relatime",
	"strictatime", "nodiratime", "diratime", "async", "auto", "noauto", "user", "nouser",
	"users", "_netdev", "nofail", "defaults", "lazytime", "nolazytime", NULL,
};

void fs_usage(FILE *out)
{
	fprintf(out,
		"usage: forkcellfs [-f] [-d] [-o OPT[,OPT...]] STORE MOUNTPOINT\n"
		"\n"
		"Serve one cell of a ForkCell store at MOUNTPOINT.\n"
		"\n"
		"  -f                     stay in the foreground\n"
		"  -d                     foreground and FUSE debug output (-o debug)\n"
		"  -o cell=NAME           the cell to serve (required)\n"
		"  -o checkpoint=REF      read-only view of a checkpoint (time travel)\n"
		"  -o ro                  read-only mount\n"
		"  -o allow_other         let other users (and containers) use the mount\n"
		"  -o default_permissions the kernel checks permissions, as on ext4 (default)\n"
		"  -o no_default_permissions  no permission checks at all (trusted users only)\n"
		"  -o log=FILE            append diagnostics to FILE\n"
		"  -o fsname=NAME         the source shown in /proc/mounts\n"
		"  -o writeback_cache     kernel write-back caching: faster small writes,\n"
		"                         but a restore cannot shrink files the kernel\n"
		"                         still caches (off by default)\n"
		"  -o threads=N           serve requests on N threads (1..64; default 1:\n"
		"                         one thread is faster for one client at a time,\n"
		"                         more let a slow request not hold up the others)\n"
		"  -h, --help             this text\n"
		"\n"
		"Without -f the program returns once the mount and its control socket\n"
		"are ready (exit 0), or fails with exit 1.\n");
}

static int fs_opt_str(char **dst, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static bool fs_opt_ignored(const char *o)
{
	size_t i;

	for (i = 0; fs_ignored_opts[i]; i++)
		if (strcmp(o, fs_ignored_opts[i]) == 0)
			return true;
	return false;
}

static int fs_opt_one(struct fs_opts *o, const char *opt)
{
	if (strncmp(opt, "cell=", 5) == 0)
		return fs_opt_str(&o->cell, opt + 5);
	if (strncmp(opt, "checkpoint=", 11) == 0)
		return fs_opt_str(&o->checkpoint, opt + 11);
	if (strncmp(opt, "log=", 4) == 0)
		return fs_opt_str(&o->log, opt + 4);
	if (strncmp(opt, "fsname=", 7) == 0)
		return fs_opt_str(&o->fsname, opt + 7);
	if (strncmp(opt, "threads=", 8) == 0) {
		char *end = NULL;
		long n = strtol(opt + 8, &end, 10);

		if (end == opt + 8 || *end != '\0' || n < 1 || n > FS_THREADS_MAX) {
			fprintf(stderr, "forkcellfs: threads must be 1 to %d, not '%s'\n",
				FS_THREADS_MAX, opt + 8);
			return FC_EUSAGE;
		}
		o->threads = (unsigned int)n;
		return 0;
	}
	if (strcmp(opt, "ro") == 0)
		o->ro = true;
	else if (strcmp(opt, "rw") == 0)
		o->ro = false;
	else if (strcmp(opt, "allow_other") == 0)
		o->allow_other = true;
	else if (strcmp(opt, "default_permissions") == 0)
		o->default_permissions = true;
	else if (strcmp(opt, "no_default_permissions") == 0)
		o->default_permissions = false;
	else if (strcmp(opt, "writeback_cache") == 0)
		o->writeback = true;
	else if (strcmp(opt, "debug") == 0)
		o->debug = true;
	else if (!fs_opt_ignored(opt) && opt[0] != '\0') {
		fprintf(stderr, "forkcellfs: unknown option '%s'\n", opt);
		return FC_EUSAGE;
	}
	return 0;
}

/* Split a comma-separated -o argument. */
static int fs_opt_list(struct fs_opts *o, const char *list)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int rc = copy ? 0 : -ENOMEM;

	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; rc == 0 && tok;
	     tok = strtok_r(NULL, ",", &save))
		rc = fs_opt_one(o, tok);
	free(copy);
	return rc;
}

static int fs_opt_positional(struct fs_opts *o, const char *arg, int *npos)
{
	char *abs = realpath(arg, NULL);

	if (!abs) {
		fprintf(stderr, "forkcellfs: cannot resolve '%s': %s\n", arg, strerror(errno));
		return -errno;
	}
	if (*npos == 0)
		o->store = abs;
	else if (*npos == 1)
		o->mountpoint = abs;
	else {
		free(abs);
		fprintf(stderr, "forkcellfs: too many arguments\n");
		return FC_EUSAGE;
	}
	(*npos)++;
	return 0;
}

int fs_opts_parse(struct fs_opts *o, int argc, char **argv)
{
	int i, npos = 0, rc = 0;

	memset(o, 0, sizeof(*o));
	o->default_permissions = true;
	for (i = 1; rc == 0 && i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return 1;
		if (strcmp(a, "-f") == 0)
			o->foreground = true;
		else if (strcmp(a, "-d") == 0)
			o->foreground = o->debug = true;
		else if (strcmp(a, "-o") == 0 && i + 1 < argc)
			rc = fs_opt_list(o, argv[++i]);
		else if (strncmp(a, "-o", 2) == 0 && a[2])
			rc = fs_opt_list(o, a + 2);
		else if (a[0] == '-') {
			fprintf(stderr, "forkcellfs: unknown argument '%s'\n", a);
			rc = FC_EUSAGE;
		} else
			rc = fs_opt_positional(o, a, &npos);
	}
	if (rc == 0 && npos != 2) {
		fprintf(stderr, "forkcellfs: need STORE and MOUNTPOINT\n");
		rc = FC_EUSAGE;
	}
	if (rc == 0 && !o->cell) {
		fprintf(stderr, "forkcellfs: missing -o cell=NAME\n");
		rc = FC_EUSAGE;
	}
	if (rc == 0 && o->fsname && strpbrk(o->fsname, ",\\ \t\n")) {
		fprintf(stderr, "forkcellfs: fsname must not contain commas or spaces\n");
		rc = FC_EUSAGE;
	}
	return rc;
}

void fs_opts_release(struct fs_opts *o)
{
	free(o->store);
	free(o->mountpoint);
	free(o->cell);
	free(o->checkpoint);
	free(o->log);
	free(o->fsname);
	memset(o, 0, sizeof(*o));
}

int fs_opts_fuse_args(const struct fs_opts *o, struct fuse_args *args)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf), "fsname=%s%s,subtype=forkcellfs%s%s%s",
		     o->fsname ? "" : "forkcell:", o->fsname ? o->fsname : o->cell,
		     o->allow_other ? ",allow_other" : "",
		     o->default_permissions ? ",default_permissions" : "",
		     (o->ro || o->checkpoint) ? ",ro" : "");
	if (n < 0 || (size_t)n >= sizeof(buf))
		return FC_EUSAGE;
	if (fuse_opt_add_arg(args, "forkcellfs") != 0 || fuse_opt_add_arg(args, "-o") != 0 ||
	    fuse_opt_add_arg(args, buf) != 0)
		return -ENOMEM;
	if (o->debug && fuse_opt_add_arg(args, "-d") != 0)
		return -ENOMEM;
	return 0;
}
