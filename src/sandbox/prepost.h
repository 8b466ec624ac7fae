/*
 * Pre-build and post-build of one sandbox, around each job (and around a
 * dev shell): unpack the bootstrap kit (or overlay it, once a build has it
 * unpacked once: sandbox/kit.h), learn PREFIX and the package databases
 * from pkgsrc once, apply the hooks; afterwards undo the hooks, take the
 * kit's overlays away and remove PREFIX, PKG_DBDIR and PKG_REFCOUNT_DBDIR
 * inside the sandbox.
 */
#ifndef BOB_PREPOST_H
#define BOB_PREPOST_H

#include "sandbox/sandbox.h"

struct prepost;
typedef void (*prepost_cb)(struct prepost *pp, int status, const struct err *e, void *data);

/* Starts the pre-build of the sandbox at root. On failure the caller still runs the post-build. */
struct prepost *sandbox_prebuild(struct sbx_ctx *ctx, const char *root, prepost_cb cb, void *data);
/* Starts the post-build: hooks undone in reverse, then the pkgsrc directories removed. */
struct prepost *sandbox_postbuild(struct sbx_ctx *ctx, const char *root, prepost_cb cb, void *data);
/* Stops a pre-build as soon as possible (SHUTDOWN). A post-build always finishes. */
void prepost_cancel(struct prepost *pp);
void prepost_free(struct prepost *pp);

#endif
