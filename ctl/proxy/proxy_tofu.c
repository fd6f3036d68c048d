/*
 * proxy_tofu: trust on first use for the executables binary rules name.
 *
 * A binary rule grants by path, so an agent able to replace the file at an
 * allowed path would inherit its grants. As OpenShell does, the first time
 * the proxy sees an executable path it pins the SHA-256 of the file that
 * the process is actually running (read through /proc/PID/exe, which is
 * the mapped image even if the path now names another file). Later callers
 * with the same path must run a file with the same digest; one that does
 * not is left out of the caller's identity (its binary rules cannot match)
 * and a warning is logged. Digests are computed again only when the file's
 * (device, inode, size, mtime) differ from the last one seen for the path.
 */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_hash.h"
#include "fc_log.h"

#define TOFU_MAX 4096 /* distinct executable paths remembered */

struct tofu_entry {
	char *path;
	uint8_t sha[FC_SHA256_LEN]; /* pinned at first use */
	dev_t dev;                  /* the last file seen with that digest */
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct proxy_tofu {
	struct tofu_entry *v;
	size_t n, cap;
};

static int hash_fd(int fd, uint8_t out[FC_SHA256_LEN])
{
	struct fc_sha256 h;
	char buf[65536];
	off_t off = 0;
	ssize_t n;

	if (fc_sha256_init(&h) < 0)
		return -ENOMEM;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		fc_sha256_update(&h, buf, (size_t)n);
		off += n;
	}
	fc_sha256_final(&h, n == 0 ? out : NULL);
	return n == 0 ? 0 : -errno;
}

static bool same_file(const struct tofu_entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void remember_file(struct tofu_entry *e, const struct stat *st)
{
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
}

static struct tofu_entry *find(struct proxy_tofu *t, const char *path)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].path, path) == 0)
			return &t->v[i];
	}
	return NULL;
}

/* Pin path with digest sha; false when out of room or memory. */
static bool pin(struct proxy_tofu *t, const char *path, const uint8_t *sha,
		const struct stat *st)
{
	struct tofu_entry *e;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct tofu_entry *v;

		if (cap > TOFU_MAX)
			return false;
		v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return false;
		t->v = v;
		t->cap = cap;
	}
	e = &t->v[t->n];
	e->path = strdup(path);
	if (!e->path)
		return false;
	memcpy(e->sha, sha, FC_SHA256_LEN);
	remember_file(e, st);
	t->n++;
	return true;
}

bool proxy_tofu_check(struct proxy_tofu *t, pid_t pid, const char *path)
{
	char proc[64], hex_now[FC_SHA256_HEX], hex_then[FC_SHA256_HEX];
	uint8_t sha[FC_SHA256_LEN];
	struct tofu_entry *e;
	struct stat st;
	bool ok = false;
	int fd;

	snprintf(proc, sizeof(proc), "/proc/%d/exe", (int)pid);
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0)
		goto out;
	e = find(t, path);
	if (e && same_file(e, &st)) {
		ok = true;
		goto out;
	}
	if (hash_fd(fd, sha) < 0)
		goto out;
	if (!e) {
		ok = pin(t, path, sha, &st);
		goto out;
	}
	ok = memcmp(e->sha, sha, FC_SHA256_LEN) == 0;
	if (ok) {
		remember_file(e, &st);
	} else {
		fc_hex(sha, FC_SHA256_LEN, hex_now);
		fc_hex(e->sha, FC_SHA256_LEN, hex_then);
		fc_log(FC_LOG_WARN, "binary '%s' changed since first use (sha256 %s, pinned %s)",
		       path, hex_now, hex_then);
	}
out:
	close(fd);
	return ok;
}

int proxy_tofu_new(struct proxy_tofu **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void proxy_tofu_free(struct proxy_tofu *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
	free(t);
}
