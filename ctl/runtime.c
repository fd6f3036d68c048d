/*
 * runtime: the table of sandbox runtimes `forkcellctl run` can use.
 */
#include "runtime.h"

#include <string.h>

static const struct runtime_ops *const runtimes[] = {
	&runtime_local,
	&runtime_docker,
	&runtime_openshell,
};

const struct runtime_ops *runtime_find(const char *name)
{
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (strcmp(runtimes[i]->name, name) == 0)
			return runtimes[i];
	return NULL;
}
