/*
 * curl_lazy: libcurl, loaded on first use. Only the docker runtime talks
 * HTTP; linking libcurl (and its thirty-odd dependencies) into every
 * forkcellctl process cost tens of milliseconds of start-up on each command,
 * a checkpoint included. dlopen() defers that cost to the runs that need it.
 */
#ifndef CURL_LAZY_H
#define CURL_LAZY_H

#include <curl/curl.h>

#include "fc_err.h"

struct curl_api {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode cc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

/*
 * The loaded API (borrowed, valid for the process's life). Not thread-safe
 * on first call (forkcellctl is single-threaded). FC_ESTATE with d set when
 * libcurl.so.4 or a symbol is missing.
 */
int curl_lazy_load(const struct curl_api **out, struct fc_diag *d);

#endif
