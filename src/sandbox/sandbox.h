/*
 * Sandboxes: numbered directories <basedir>/<id> claimed atomically with
 * mkdir .bob, filled by the setup actions, marked .bob/completed, and torn
 * down in a safe order driven by the state actually found (SPEC section 4).
 * Creation and destruction of many sandboxes run in parallel on the loop.
 */
#ifndef BOB_SANDBOX_H
#define BOB_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "util/util.h"

/* What every sandbox operation of one command shares. */
struct sbx_ctx {
    uv_loop_t *loop;
    const struct config *cfg;
    enum env_ctx ctx; /* CTX_BUILD or CTX_DEV */
    struct strv env;  /* the bob_* variables for cmd actions */
    /* From pkgsrc, once a bootstrap kit is in (see prepost.h); NULL until then. */
    char *prefix, *pkg_dbdir, *pkg_refcount_dbdir;
};

/* Fills ctx->env from the configuration (bob_logdir, bob_make, ...). */
void sandbox_ctx_init(struct sbx_ctx *ctx, uv_loop_t *loop, const struct config *cfg,
                      enum env_ctx env_ctx);
void sandbox_ctx_free(struct sbx_ctx *ctx);
/* Records the pkgsrc values: PREFIX and the package databases, and their bob_* variables. */
void sandbox_ctx_set_pkgsrc(struct sbx_ctx *ctx, const struct strv *names, const struct strv *values);

/* <basedir>/<id>, malloc'd. */
char *sandbox_path(const struct config *cfg, unsigned id);
/* The ids of the sandboxes under basedir (those with a .bob marker), ascending. */
int sandbox_discover(const struct config *cfg, unsigned **ids, size_t *n, struct err *e);
/*
 * Removes the empty numbered directories under basedir that have no .bob
 * marker: what a destroy killed between removing .bob and the directory
 * itself leaves (rmdir only, so nothing else can go).
 */
void sandbox_prune_unmarked(const struct config *cfg);
/* Whether .bob/completed exists. */
bool sandbox_is_complete(const struct config *cfg, unsigned id);

struct sbx_batch;
typedef void (*sbx_batch_cb)(struct sbx_batch *b, void *data);

/*
 * Claims n ids and creates the sandboxes in parallel. If any fails, or the
 * batch is cancelled, every sandbox of the batch is rolled back (also the
 * one whose own setup failed). The callback runs once when all are settled.
 */
struct sbx_batch *sandbox_create(struct sbx_ctx *ctx, size_t n, sbx_batch_cb cb, void *data);
/*
 * Destroys the given sandboxes in parallel; the callback runs when all are
 * settled. With undo_hooks, the hooks are undone first (after the kill), as
 * the post-build of a job that was killed; errors there are warnings.
 */
struct sbx_batch *sandbox_destroy(struct sbx_ctx *ctx, const unsigned *ids, size_t n,
                                  bool undo_hooks, sbx_batch_cb cb, void *data);
/* Create: stop and roll back. Destroy: ignored (a destroy always finishes). */
void sandbox_batch_cancel(struct sbx_batch *b);
/* 0 when every sandbox reached its goal, else -1. */
int sandbox_batch_status(const struct sbx_batch *b);
/* Whether the batch was cancelled (interrupted). */
bool sandbox_batch_cancelled(const struct sbx_batch *b);
size_t sandbox_batch_size(const struct sbx_batch *b);
/* The id of sandbox i of the batch (ascending after a create). */
unsigned sandbox_batch_id(const struct sbx_batch *b, size_t i);
/* The error of sandbox i ("sandbox 2: ..."), or NULL if it succeeded. */
const char *sandbox_batch_error(const struct sbx_batch *b, size_t i);
/* A one-line description of what the batch is still waiting for, for progress output. */
void sandbox_batch_describe(const struct sbx_batch *b, char *out, size_t n);
void sandbox_batch_free(struct sbx_batch *b);

#endif
