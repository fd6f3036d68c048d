/*
 * proxy_tls: both TLS roles of the proxy.
 *
 * Terminating (the sandbox side): a server SSL_CTX per host holding a leaf
 * certificate minted by the store's CA (fc_ca) plus the CA certificate as
 * chain, kept in a small cache (the least recently used entry goes when it
 * is full), so minting happens once per host and run.
 *
 * Originating (the upstream side): one client SSL_CTX that trusts the
 * system store and, when given, --upstream-ca (the tests' own CA). Each
 * connection sends SNI and checks the certificate's name (or IP) against
 * the host the client asked for; anything that does not verify fails the
 * handshake, which the caller answers with 502.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "fc_ca.h"
#include "fc_log.h"

struct leaf_entry {
	char *host;
	SSL_CTX *ctx;
	uint64_t used; /* LRU clock */
};

struct proxy_tls {
	struct fc_ca *ca; /* NULL: no termination */
	SSL_CTX *client;
	struct leaf_entry leaves[PROXY_LEAF_CACHE];
	uint64_t clock;
};

static int ssl_err(struct fc_diag *d, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return fc_diag_set(d, FC_ECORRUPT, "%s: %s", what, e ? buf : "unknown error");
}

static int make_client_ctx(struct proxy_tls *t, const char *upstream_ca, struct fc_diag *d)
{
	t->client = SSL_CTX_new(TLS_client_method());
	if (!t->client)
		return ssl_err(d, "cannot create the upstream TLS context");
	SSL_CTX_set_min_proto_version(t->client, TLS1_2_VERSION);
	SSL_CTX_set_verify(t->client, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_default_verify_paths(t->client) != 1)
		return ssl_err(d, "cannot load the system trust store");
	if (upstream_ca && SSL_CTX_load_verify_locations(t->client, upstream_ca, NULL) != 1)
		return ssl_err(d, "cannot load --upstream-ca");
	return 0;
}

int proxy_tls_new(const char *ca_cert, const char *ca_key, const char *upstream_ca,
		  struct proxy_tls **out, struct fc_diag *d)
{
	struct proxy_tls *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	if (ca_cert) {
		rc = fc_ca_load(ca_cert, ca_key, &t->ca, d);
		if (rc < 0)
			goto fail;
	}
	rc = make_client_ctx(t, upstream_ca, d);
	if (rc < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	proxy_tls_free(t);
	return rc;
}

void proxy_tls_free(struct proxy_tls *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < PROXY_LEAF_CACHE; i++) {
		free(t->leaves[i].host);
		SSL_CTX_free(t->leaves[i].ctx);
	}
	SSL_CTX_free(t->client);
	fc_ca_free(t->ca);
	free(t);
}

bool proxy_tls_can_terminate(const struct proxy_tls *t)
{
	return t && t->ca;
}

static SSL_CTX *make_leaf_ctx(struct proxy_tls *t, const char *host)
{
	struct fc_diag d;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	SSL_CTX *ctx = NULL;

	fc_diag_init(&d);
	if (fc_ca_leaf(t->ca, host, &cert, &key, &d) < 0) {
		fc_log(FC_LOG_WARN, "cannot mint a certificate for '%s': %s", host, d.msg);
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_add1_chain_cert(ctx, fc_ca_cert(t->ca)) != 1) {
		ssl_err(&d, "cannot set up TLS termination");
		fc_log(FC_LOG_WARN, "%s for '%s'", d.msg, host);
		SSL_CTX_free(ctx);
		ctx = NULL;
	} else {
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	return ctx;
}

/* The cached context for host, minting it on a miss. */
static SSL_CTX *leaf_ctx(struct proxy_tls *t, const char *host)
{
	struct leaf_entry *victim = &t->leaves[0];
	SSL_CTX *ctx;
	char *h;
	size_t i;

	t->clock++;
	for (i = 0; i < PROXY_LEAF_CACHE; i++) {
		struct leaf_entry *e = &t->leaves[i];

		if (e->host && strcmp(e->host, host) == 0) {
			e->used = t->clock;
			return e->ctx;
		}
		if (e->used < victim->used)
			victim = e;
	}
	ctx = make_leaf_ctx(t, host);
	h = ctx ? strdup(host) : NULL;
	if (!h) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	free(victim->host);
	SSL_CTX_free(victim->ctx);
	victim->host = h;
	victim->ctx = ctx;
	victim->used = t->clock;
	return ctx;
}

SSL *proxy_tls_server(struct proxy_tls *t, const char *host)
{
	SSL_CTX *ctx;

	if (!proxy_tls_can_terminate(t))
		return NULL;
	ctx = leaf_ctx(t, host);
	return ctx ? SSL_new(ctx) : NULL;
}

SSL *proxy_tls_client(struct proxy_tls *t, const char *host)
{
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	SSL *ssl = SSL_new(t->client);

	if (!ssl)
		return NULL;
	if (is_ip) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1)
			goto fail;
	} else if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1) {
		goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}
