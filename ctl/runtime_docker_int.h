/*
 * runtime_docker_int.h: private to the docker runtime. runtime_docker.c
 * (Engine API calls, container lifecycle, attach stream, signals) asks
 * runtime_docker_spec.c what container to create for a run.
 */
#ifndef RUNTIME_DOCKER_INT_H
#define RUNTIME_DOCKER_INT_H

#include "runtime.h"

/* Room for the user string docker_spec_user writes ("UID:GID" or a name). */
#define DOCKER_USER_MAX 64

/*
 * Who the command runs as: FORKCELL_DOCKER_USER, else "UID:GID" of the
 * owner of req->mountpoint. Writes up to DOCKER_USER_MAX bytes (NUL
 * included) to user on success. Errors, with d set: -errno when the mount
 * cannot be stat'ed; FC_ESTATE when dockerd does not see the cell's mount
 * (it runs in another mount namespace); FC_EUSAGE when under a policy
 * (req->init_path) the user is not numeric "UID:GID".
 */
int docker_spec_user(const struct runtime_req *req, char *user, struct fc_diag *d);

/*
 * The JSON body of POST /containers/create for req, from image, running as
 * user (from docker_spec_user). Returns a string the caller frees, or NULL
 * when out of memory or when the forkcell-init command line cannot be built.
 */
char *docker_spec_json(const struct runtime_req *req, const char *image, const char *user);

#endif
