/*
 * receipt_chain: append, load, iterate and verify the signed hash chain of
 * receipts and decisions (format in receipt_chain.h).
 */
#include "receipt_chain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fc_canon.h"
#include "fc_fileio.h"
#include "fc_sign.h"

#define RECORD_MAX (64 << 20)

struct chain_rec {
	uint64_t seq;
	char id[RC_ID_MAX];
	char sha[FC_SHA256_HEX];
	char prev[FC_SHA256_HEX]; /* "" when null */
	char signer[2 * FC_ED25519_PUB_LEN + 1];
	char *bytes;
	size_t len;
};

void receipt_new_id(const char *prefix, char id[RC_ID_MAX])
{
	uint8_t rnd[4] = { 0 };
	char hex[9];

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	fc_hex(rnd, sizeof(rnd), hex);
	snprintf(id, RC_ID_MAX, "%s_%lld_%s", prefix, (long long)time(NULL), hex);
}

bool receipt_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= RC_ID_MAX || id[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(id[i] == '_' || id[i] == '-' || (id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')))
			return false;
	return true;
}

static void file_name(char *out, size_t cap, const char *id, const char *ext)
{
	snprintf(out, cap, "%s.%s", id, ext);
}

static int read_head(int dirfd, struct chain_rec *head, struct fc_diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	cJSON *j = NULL;
	const cJSON *f;
	int rc = fc_read_file(dirfd, "HEAD", 4096, &buf, &len);

	memset(head, 0, sizeof(*head));
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read receipts/HEAD: %s", fc_strerror(rc));
	j = cJSON_ParseWithLength(buf, len);
	free(buf);
	f = cJSON_GetObjectItemCaseSensitive(j, "seq");
	if (!cJSON_IsNumber(f) || f->valuedouble < 1)
		goto bad;
	head->seq = (uint64_t)f->valuedouble;
	f = cJSON_GetObjectItemCaseSensitive(j, "id");
	if (!cJSON_IsString(f) || !receipt_id_valid(f->valuestring))
		goto bad;
	snprintf(head->id, sizeof(head->id), "%s", f->valuestring);
	f = cJSON_GetObjectItemCaseSensitive(j, "sha256");
	if (!cJSON_IsString(f) || strlen(f->valuestring) != FC_SHA256_HEX - 1)
		goto bad;
	memcpy(head->sha, f->valuestring, FC_SHA256_HEX);
	cJSON_Delete(j);
	return 0;
bad:
	cJSON_Delete(j);
	return fc_diag_set(d, FC_ECORRUPT, "receipts/HEAD is malformed");
}

static int write_head(int dirfd, uint64_t seq, const char *id, const char *sha)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"seq\":%llu,\"sha256\":\"%s\"}\n", id,
			 (unsigned long long)seq, sha);

	return fc_write_atomic(dirfd, "HEAD", buf, (size_t)n, 0644);
}

/* Parse the chain fields of a record's bytes into r (bytes are kept). */
static int rec_parse(struct chain_rec *r, cJSON **obj_out, struct fc_diag *d)
{
	cJSON *j = cJSON_ParseWithLength(r->bytes, r->len);
	const cJSON *f;
	uint8_t digest[FC_SHA256_LEN];

	if (!cJSON_IsObject(j))
		goto bad;
	f = cJSON_GetObjectItemCaseSensitive(j, "seq");
	if (!cJSON_IsNumber(f) || f->valuedouble < 1)
		goto bad;
	r->seq = (uint64_t)f->valuedouble;
	f = cJSON_GetObjectItemCaseSensitive(j, "id");
	if (!cJSON_IsString(f) || strcmp(f->valuestring, r->id) != 0)
		goto bad;
	f = cJSON_GetObjectItemCaseSensitive(j, "prev_receipt");
	if (cJSON_IsString(f) && strlen(f->valuestring) == FC_SHA256_HEX - 1)
		memcpy(r->prev, f->valuestring, FC_SHA256_HEX);
	else if (!cJSON_IsNull(f))
		goto bad;
	f = cJSON_GetObjectItemCaseSensitive(j, "signer");
	if (!cJSON_IsString(f) || strlen(f->valuestring) != sizeof(r->signer) - 1)
		goto bad;
	memcpy(r->signer, f->valuestring, sizeof(r->signer));
	fc_sha256_buf(r->bytes, r->len, digest);
	fc_hex(digest, sizeof(digest), r->sha);
	if (obj_out)
		*obj_out = j;
	else
		cJSON_Delete(j);
	return 0;
bad:
	cJSON_Delete(j);
	return fc_diag_set(d, FC_ECORRUPT, "receipt '%s' is malformed or its id does not match",
			   r->id);
}

static int rec_read(int dirfd, const char *id, struct chain_rec *r, struct fc_diag *d)
{
	char name[RC_ID_MAX + 8];
	int rc;

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	file_name(name, sizeof(name), id, "json");
	rc = fc_read_file(dirfd, name, RECORD_MAX, &r->bytes, &r->len);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read receipt '%s': %s", id, fc_strerror(rc));
	return rec_parse(r, NULL, d);
}

static int cmp_seq(const void *a, const void *b)
{
	const struct chain_rec *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Read every record of the directory, sorted by seq. Caller frees. */
static int chain_load_all(int dirfd, struct chain_rec **out, size_t *n, struct fc_diag *d)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct chain_rec *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	int rc = 0;

	if (!dir) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char id[RC_ID_MAX];

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 || len - 5 >= RC_ID_MAX)
			continue;
		memcpy(id, de->d_name, len - 5);
		id[len - 5] = '\0';
		if (!receipt_id_valid(id))
			continue;
		if (cnt == cap) {
			struct chain_rec *nv = realloc(v, (cap ? cap * 2 : 64) * sizeof(*v));

			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = cap ? cap * 2 : 64;
		}
		rc = rec_read(dirfd, id, &v[cnt], d);
		if (rc < 0) {
			free(v[cnt].bytes);
			break;
		}
		cnt++;
	}
	closedir(dir);
	if (rc == 0 && cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_seq);
	if (rc < 0) {
		for (size_t i = 0; i < cnt; i++)
			free(v[i].bytes);
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void chain_free(struct chain_rec *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].bytes);
	free(v);
}

static int sig_check(int dirfd, const struct chain_rec *r, const uint8_t pub[FC_ED25519_PUB_LEN],
		     struct fc_diag *d)
{
	char name[RC_ID_MAX + 8];
	char *sig = NULL, pubhex[2 * FC_ED25519_PUB_LEN + 1];
	size_t len = 0;
	int rc;

	fc_hex(pub, FC_ED25519_PUB_LEN, pubhex);
	if (strcmp(pubhex, r->signer) != 0)
		return fc_diag_set(d, FC_ECORRUPT, "receipt '%s' (seq %llu) names another signer",
				   r->id, (unsigned long long)r->seq);
	file_name(name, sizeof(name), r->id, "sig");
	rc = fc_read_file(dirfd, name, 1024, &sig, &len);
	if (rc < 0)
		return fc_diag_set(d, FC_ECORRUPT, "receipt '%s' (seq %llu) has no signature file",
				   r->id, (unsigned long long)r->seq);
	if (len != FC_ED25519_SIG_LEN || fc_verify(pub, r->bytes, r->len, (uint8_t *)sig) < 0)
		rc = fc_diag_set(d, FC_ECORRUPT, "receipt '%s' (seq %llu): bad signature", r->id,
				 (unsigned long long)r->seq);
	free(sig);
	return rc;
}

/* Check records v[0..n) in order against pub and head. */
static int chain_check(int dirfd, const struct chain_rec *v, size_t n, const struct chain_rec *head,
		       const uint8_t pub[FC_ED25519_PUB_LEN], bool allow_tail, struct fc_diag *d)
{
	for (size_t i = 0; i < n; i++) {
		const struct chain_rec *r = &v[i];
		int rc;

		if (r->seq != i + 1)
			return fc_diag_set(d, FC_ECORRUPT,
					   "chain broken at seq %llu: record '%s' has seq %llu "
					   "(a record is missing or duplicated)",
					   (unsigned long long)(i + 1), r->id,
					   (unsigned long long)r->seq);
		if (i == 0 ? r->prev[0] != '\0' : strcmp(r->prev, v[i - 1].sha) != 0)
			return fc_diag_set(d, FC_ECORRUPT,
					   "chain broken at receipt '%s' (seq %llu): prev_receipt "
					   "does not match the previous record",
					   r->id, (unsigned long long)r->seq);
		rc = sig_check(dirfd, r, pub, d);
		if (rc < 0)
			return rc;
	}
	if (head->seq == 0 && n == 0)
		return 0;
	if (n == head->seq + 1 && allow_tail)
		return 0; /* a crash left the newest record before HEAD: roll forward */
	if (n != head->seq || strcmp(v[n - 1].id, head->id) != 0 ||
	    strcmp(v[n - 1].sha, head->sha) != 0)
		return fc_diag_set(d, FC_ECORRUPT,
				   "receipts/HEAD (seq %llu, '%s') does not match the last record "
				   "(%zu records)",
				   (unsigned long long)head->seq, head->id, n);
	return 0;
}

static int chain_open(struct fc_store *st, int *dirfd, struct fc_signer *sg, bool create,
		      struct fc_diag *d)
{
	int keys = -1;
	int rc = fc_mkdir_open(st->root_fd, "receipts", 0755, dirfd);

	if (rc < 0)
		return fc_diag_set(d, rc, "cannot open the receipts directory: %s",
				   fc_strerror(rc));
	rc = fc_mkdir_open(st->root_fd, "keys", 0700, &keys);
	if (rc == 0)
		rc = fc_signer_load(keys, create, sg, d);
	if (keys >= 0)
		close(keys);
	if (rc < 0) {
		close(*dirfd);
		*dirfd = -1;
		if (rc == -ENOENT)
			return fc_diag_set(d, rc, "the store has no signing key yet (no receipts)");
	}
	return rc;
}

/*
 * The tip of the chain for an append, in O(1): HEAD, checked against its
 * record, rolled forward over a record that a crash left between its files
 * and HEAD (named by PENDING, written before the record). The full check
 * of every record is `receipt verify`'s job.
 */
static int chain_tip(int dirfd, struct chain_rec *head, struct fc_diag *d)
{
	struct chain_rec r = { 0 }, p = { 0 };
	char *pend = NULL, name[RC_ID_MAX + 8];
	size_t plen = 0;
	int rc = read_head(dirfd, head, d);

	if (rc == 0 && head->seq) {
		rc = rec_read(dirfd, head->id, &r, d);
		if (rc == 0 && strcmp(r.sha, head->sha) != 0)
			rc = fc_diag_set(d, FC_ECORRUPT, "receipts/HEAD does not match record '%s'",
					 head->id);
		free(r.bytes);
	}
	if (rc < 0 || fc_read_file(dirfd, "PENDING", 256, &pend, &plen) < 0)
		return rc;
	pend[strcspn(pend, "\n")] = '\0';
	if (receipt_id_valid(pend) && rec_read(dirfd, pend, &p, NULL) == 0 && p.seq == head->seq + 1 &&
	    strcmp(p.prev, head->seq ? head->sha : "") == 0) {
		rc = write_head(dirfd, p.seq, p.id, p.sha);
		if (rc == 0) {
			head->seq = p.seq;
			snprintf(head->id, sizeof(head->id), "%s", p.id);
			memcpy(head->sha, p.sha, sizeof(head->sha));
		}
	} else if (receipt_id_valid(pend)) {
		/* Never reached HEAD: its files are debris of a crashed append. */
		static const char *const exts[] = { "json", "sig", "md" };

		for (size_t i = 0; i < 3; i++) {
			file_name(name, sizeof(name), pend, exts[i]);
			unlinkat(dirfd, name, 0);
		}
	}
	free(p.bytes);
	free(pend);
	if (rc == 0 && unlinkat(dirfd, "PENDING", 0) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

int receipt_chain_append(struct fc_store *st, cJSON *body, const char *md,
			 char sha_hex[FC_SHA256_HEX], struct fc_diag *d)
{
	struct fc_signer sg = { 0 };
	struct chain_rec head;
	size_t n = 0, len = 0;
	char *bytes = NULL, name[RC_ID_MAX + 8], pubhex[2 * FC_ED25519_PUB_LEN + 1], sid[33];
	uint8_t sig[FC_ED25519_SIG_LEN], digest[FC_SHA256_LEN];
	const cJSON *idj = cJSON_GetObjectItemCaseSensitive(body, "id");
	int dirfd = -1, lockfd = -1, rc;

	if (!cJSON_IsString(idj) || !receipt_id_valid(idj->valuestring))
		return fc_diag_set(d, FC_ECORRUPT, "record has no valid id");
	rc = chain_open(st, &dirfd, &sg, true, d);
	if (rc < 0)
		return rc;
	lockfd = openat(dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0) {
		rc = fc_diag_set(d, -errno, "cannot lock the receipt chain: %m");
		goto out;
	}
	rc = chain_tip(dirfd, &head, d);
	if (rc < 0)
		goto out;
	n = head.seq;
	fc_hex(sg.pub, sizeof(sg.pub), pubhex);
	fc_hex(st->store_id, sizeof(st->store_id), sid);
	cJSON_DeleteItemFromObjectCaseSensitive(body, "seq");
	cJSON_DeleteItemFromObjectCaseSensitive(body, "prev_receipt");
	cJSON_DeleteItemFromObjectCaseSensitive(body, "signer");
	cJSON_DeleteItemFromObjectCaseSensitive(body, "store_id");
	cJSON_AddNumberToObject(body, "seq", (double)(n + 1));
	if (n)
		cJSON_AddStringToObject(body, "prev_receipt", head.sha);
	else
		cJSON_AddNullToObject(body, "prev_receipt");
	cJSON_AddStringToObject(body, "signer", pubhex);
	cJSON_AddStringToObject(body, "store_id", sid);
	rc = fc_canon_json(body, &bytes, &len, d);
	if (rc == 0)
		rc = fc_sign(&sg, bytes, len, sig);
	if (rc < 0)
		goto out;
	rc = fc_write_atomic(dirfd, "PENDING", idj->valuestring, strlen(idj->valuestring), 0644);
	file_name(name, sizeof(name), idj->valuestring, "sig");
	if (rc == 0)
		rc = fc_write_atomic(dirfd, name, sig, sizeof(sig), 0644);
	file_name(name, sizeof(name), idj->valuestring, "json");
	if (rc == 0)
		rc = fc_write_atomic(dirfd, name, bytes, len, 0644);
	fc_sha256_buf(bytes, len, digest);
	fc_hex(digest, sizeof(digest), sha_hex);
	if (rc == 0)
		rc = write_head(dirfd, n + 1, idj->valuestring, sha_hex);
	file_name(name, sizeof(name), idj->valuestring, "md");
	if (rc == 0 && md)
		rc = fc_write_atomic(dirfd, name, md, strlen(md), 0644);
	if (rc == 0 && unlinkat(dirfd, "PENDING", 0) < 0)
		rc = -errno;
	if (rc < 0)
		fc_diag_set(d, rc, "cannot write receipt '%s': %s", idj->valuestring,
			    fc_strerror(rc));
out:
	free(bytes);
	fc_signer_release(&sg);
	if (lockfd >= 0)
		close(lockfd);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

int receipt_chain_verify(struct fc_store *st, uint64_t *count, struct fc_diag *d)
{
	struct fc_signer sg = { 0 };
	struct chain_rec head, *v = NULL;
	size_t n = 0;
	int dirfd = -1;
	int rc = chain_open(st, &dirfd, &sg, false, d);

	if (rc < 0)
		return rc;
	rc = read_head(dirfd, &head, d);
	if (rc == 0)
		rc = chain_load_all(dirfd, &v, &n, d);
	if (rc == 0)
		rc = chain_check(dirfd, v, n, &head, sg.pub, false, d);
	if (rc == 0 && count)
		*count = n;
	chain_free(v, n);
	fc_signer_release(&sg);
	close(dirfd);
	return rc;
}

int receipt_load(struct fc_store *st, const char *id, cJSON **out, struct fc_diag *d)
{
	struct chain_rec r;
	int dirfd = -1;
	int rc;

	if (!receipt_id_valid(id))
		return fc_diag_set(d, FC_ENAME, "invalid receipt id '%s'", id);
	rc = fc_mkdir_open(st->root_fd, "receipts", 0755, &dirfd);
	if (rc < 0)
		return rc;
	rc = rec_read(dirfd, id, &r, d);
	if (rc == 0)
		rc = rec_parse(&r, out, d);
	free(r.bytes);
	close(dirfd);
	return rc;
}

int receipt_load_md(struct fc_store *st, const char *id, char **out, struct fc_diag *d)
{
	char name[RC_ID_MAX + 8];
	size_t len;
	int dirfd = -1;
	int rc;

	if (!receipt_id_valid(id))
		return fc_diag_set(d, FC_ENAME, "invalid receipt id '%s'", id);
	rc = fc_mkdir_open(st->root_fd, "receipts", 0755, &dirfd);
	if (rc < 0)
		return rc;
	file_name(name, sizeof(name), id, "md");
	rc = fc_read_file(dirfd, name, RECORD_MAX, out, &len);
	if (rc < 0)
		fc_diag_set(d, rc, "cannot read '%s': %s", name, fc_strerror(rc));
	close(dirfd);
	return rc;
}

int receipt_iter(struct fc_store *st, receipt_cb cb, void *arg, struct fc_diag *d)
{
	struct chain_rec *v = NULL;
	size_t n = 0;
	int dirfd = -1;
	int rc = fc_mkdir_open(st->root_fd, "receipts", 0755, &dirfd);

	if (rc < 0)
		return rc;
	rc = chain_load_all(dirfd, &v, &n, d);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		cJSON *j = cJSON_ParseWithLength(v[i].bytes, v[i].len);

		rc = j ? cb(arg, j) : FC_ECORRUPT;
		cJSON_Delete(j);
	}
	chain_free(v, n);
	close(dirfd);
	return rc < 0 ? rc : 0;
}
