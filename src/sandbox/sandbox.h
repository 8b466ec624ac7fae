/*
 * Sandboxes: numbered directories <basedir>/<id>, claimed under a lock the
 * process keeps while it uses them (sandbox/owner.h), marked .bob, filled
 * by the setup actions, marked .bob/completed, and torn down in a safe
 * order driven by the state actually found (SPEC section 4). Creation and
 * destruction of many sandboxes run in parallel on the loop. Every sandbox
 * a command creates, destroys or locks stays held by its context until it
 * is gone, sandbox_unlock, or sandbox_ctx_free: no other bob touches it.
 */
#ifndef BOB_SANDBOX_H
#define BOB_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "config/config.h"
#include "platform/cgroup.h"
#include "platform/launch.h"
#include "util/util.h"

/* What every sandbox operation of one command shares. */
struct sbx_ctx {
    uv_loop_t *loop;
    const struct config *cfg;
    enum env_ctx ctx; /* CTX_BUILD or CTX_DEV */
    struct strv env;  /* the bob_* variables for cmd actions */
    /* From pkgsrc, once a bootstrap kit is in (see prepost.h); NULL until then. */
    char *prefix, *pkg_dbdir, *pkg_refcount_dbdir;
    /* The kit unpacked once for overlays (sandbox/kit.h), when kit_reuse: NULL until asked. */
    struct sbx_kit *kit;
    bool kit_reuse;    /* set by a build of more than one job */
    bool own_mount_ns; /* the command runs in a mount namespace of its own (a build) */
    bool keep_failed;  /* bob build --keep-failed: a failed job's sandbox stays as it is */
    /* The owner record's command ("build", "sandbox run"); NULL: "bob". */
    const char *command;
    /* The sandboxes this command holds: ids and their locked descriptors. */
    struct sbx_held {
        unsigned id;
        int fd;    /* the sandbox's root: the directory, or its own tmpfs */
        int under; /* under its own tmpfs, the claimed directory (locked too), or -1 */
    } * held;
    size_t nheld;
};

/*
 * The cgroup of one command in the sandbox at host path root (`sandbox
 * run`, the dev shell): the sandbox's commands' cgroup
 * (cgroup_sandbox_cmd), which its destroy kills and removes, and lc filled
 * for proc_opts.cgroup: 0; -ENOTSUP (nothing made, lc empty) where cgroup
 * v2 cannot be written, as the launcher then needs none: the command's pid
 * namespace holds it. Free with cgroup_job_free. No cgroup per bob, no
 * sweep, no mkdir: a command's start pays one mkdir that finds it there.
 */
int sandbox_cmd_cgroup(const char *root, struct cgroup_job **job, struct launch_cgroup *lc);
/* Fills ctx->env from the configuration (bob_logdir, bob_make, ...). */
void sandbox_ctx_init(struct sbx_ctx *ctx, uv_loop_t *loop, const struct config *cfg,
                      enum env_ctx env_ctx);
/* Frees the context and lets go of every sandbox it holds. */
void sandbox_ctx_free(struct sbx_ctx *ctx);
/* Records the pkgsrc values: PREFIX and the package databases, and their bob_* variables. */
void sandbox_ctx_set_pkgsrc(struct sbx_ctx *ctx, const struct strv *names,
                            const struct strv *values);

/* <basedir>/<id>, malloc'd. */
char *sandbox_path(const struct config *cfg, unsigned id);
/*
 * The ids of the sandboxes under basedir, ascending: real directories (a
 * symlink or a mount point at <basedir>/<id> is not a sandbox) with a .bob
 * entry (a directory, or the file or link a job replaced it with: never
 * followed).
 */
int sandbox_discover(const struct config *cfg, unsigned **ids, size_t *n, struct err *e);
/*
 * Removes the empty numbered directories under basedir that have no .bob
 * marker, and stale claims: what a create or destroy killed half-way
 * leaves (rmdir only, each under its lock, so nothing else can go). A
 * symlink, file or mount at <basedir>/<id> is reported and left alone.
 */
void sandbox_prune_unmarked(const struct config *cfg);
/* Whether .bob/completed exists (a directory, found without following a symlink). */
bool sandbox_is_complete(const struct config *cfg, unsigned id);
/*
 * Holds sandbox id for this command (nothing when ctx holds it already).
 * -EBUSY when another process holds it: e is "sandbox 3: in use by bob
 * build (pid 4711)". -ENOENT when there is no sandbox directory id; other
 * errors (a symlink or a mount at its path) say it is not a sandbox.
 */
int sandbox_lock(struct sbx_ctx *ctx, unsigned id, struct err *e);
/* Lets go of sandbox id (nothing when ctx does not hold it). */
void sandbox_unlock(struct sbx_ctx *ctx, unsigned id);
/* The pid of the process holding sandbox id, read without taking the lock; 0 when none. */
pid_t sandbox_holder(const struct config *cfg, unsigned id);

struct sbx_batch;
typedef void (*sbx_batch_cb)(struct sbx_batch *b, void *data);

/*
 * Claims n ids and creates the sandboxes in parallel, held by ctx. If any
 * fails, or the batch is cancelled, every sandbox of the batch is rolled
 * back (also the one whose own setup failed). The callback runs once when
 * all are settled, never from inside sandbox_create or sandbox_destroy, and
 * not at all once sandbox_batch_free was called.
 */
struct sbx_batch *sandbox_create(struct sbx_ctx *ctx, size_t n, sbx_batch_cb cb, void *data);
/*
 * Destroys the given sandboxes in parallel; the callback runs when all are
 * settled. A sandbox another process holds is left untouched and fails
 * with "sandbox 3: in use by ..."; one ctx holds is destroyed whatever its
 * markers became. With undo_hooks, the hooks are undone first (after the kill), as
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
/* The owner lets go: freed once nothing of it is pending (a teardown under way finishes). */
void sandbox_batch_free(struct sbx_batch *b);

#endif
