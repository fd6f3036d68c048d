/*
 * curl_lazy: dlopen libcurl.so.4 and resolve the few calls the docker
 * runtime makes (see curl_lazy.h for why).
 */
#include "curl_lazy.h"

#include <dlfcn.h>
#include <stddef.h>

#define CURL_SONAME "libcurl.so.4"

static struct curl_api api;
static int loaded;

static int sym(void *h, const char *name, void **slot, struct fc_diag *d)
{
	*slot = dlsym(h, name);
	if (!*slot)
		return fc_diag_set(d, FC_ESTATE, "%s lacks %s", CURL_SONAME, name);
	return 0;
}

int curl_lazy_load(const struct curl_api **out, struct fc_diag *d)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
		{ "curl_easy_init", offsetof(struct curl_api, easy_init) },
		{ "curl_easy_setopt", offsetof(struct curl_api, easy_setopt) },
		{ "curl_easy_perform", offsetof(struct curl_api, easy_perform) },
		{ "curl_easy_getinfo", offsetof(struct curl_api, easy_getinfo) },
		{ "curl_easy_cleanup", offsetof(struct curl_api, easy_cleanup) },
		{ "curl_easy_strerror", offsetof(struct curl_api, easy_strerror) },
		{ "curl_slist_append", offsetof(struct curl_api, slist_append) },
		{ "curl_slist_free_all", offsetof(struct curl_api, slist_free_all) },
	};
	void *h;

	if (!loaded) {
		h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (!h)
			return fc_diag_set(d, FC_ESTATE, "the docker runtime needs %s: %s",
					   CURL_SONAME, dlerror());
		for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
			int rc = sym(h, syms[i].name, (void **)((char *)&api + syms[i].off), d);

			if (rc < 0)
				return rc;
		}
		loaded = 1;
	}
	*out = &api;
	return 0;
}
