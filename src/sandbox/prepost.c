/* Pre-build and post-build steps of a sandbox, on the loop. */
#include "sandbox/prepost.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/actions.h"
#include "actions/bootstrap.h"
#include "loop/proc.h"
#include "platform/platform.h"
#include "sandbox/exec.h"
#include "sandbox/kit.h"
#include "loop/defer.h"
#include "util/fault.h"
#include "util/ref.h"

#define FETCH_OUTPUT_MAX (256 * 1024)

enum pp_step {
    PP_UNPACK,
    PP_FETCH,
    PP_HOOKS,
    PP_UNHOOKS,
    PP_REMOVE,
    PP_DONE,
};

struct prepost {
    struct sbx_ctx *ctx;
    char *root;
    enum pp_step step;
    struct ref ref; /* util/ref.h: the owner, the running step, the deferred start */
    bool cancelled, finished;
    prepost_cb cb;
    void *data;
    struct err err;
    int status; /* post-build: the hook error, reported after the removal */
    struct unpack *unpack;
    struct actrun *run;
    struct proc *proc;
    struct buf out;
    struct strv names;
    const struct strv *kit_targets; /* taken on the loop for the removal (sandbox_kit_targets) */
    uv_work_t work;
};

static void prepost_next(struct prepost *pp);

/* The last hold is gone. */
static void prepost_release(struct ref *r)
{
    struct prepost *pp = REF_CONTAINER(r, struct prepost, ref);
    free(pp->root);
    buf_free(&pp->out);
    strv_free(&pp->names);
    free(pp);
}

/* Whether pp was freed while a step ran: then the step ends quietly (its hold goes after). */
static bool prepost_abandoned(struct prepost *pp)
{
    return pp->ref.free_requested;
}

/* The outcome goes to the caller, once; the caller may free pp from inside (a hold keeps it). */
static void prepost_finish(struct prepost *pp, int status)
{
    pp->finished = true;
    pp->step = PP_DONE;
    pp->cb(pp, status, status < 0 ? &pp->err : NULL, pp->data);
}

/* Ends the pre-build with the error in pp->err. */
static void prepost_pre_fail(struct prepost *pp)
{
    err_prefix(&pp->err, "pre-build failed");
    prepost_finish(pp, -1);
}

/* What ended a step. */
enum pp_event {
    PP_EV_DONE,   /* the step did its work (or had none) */
    PP_EV_FAILED, /* the step failed; pp->err says why */
};

/*
 * The steps, as s6-supervise's actions[state][event]:
 *
 *   step    | DONE    | FAILED
 *   --------+---------+-------------------------------------------
 *   UNPACK  | FETCH   | DONE (the pre-build failed)
 *   FETCH   | HOOKS   | DONE (the pre-build failed)
 *   HOOKS   | DONE    | DONE (the pre-build failed)
 *   UNHOOKS | REMOVE  | REMOVE (the removal runs all the same)
 *   REMOVE  | DONE    | DONE
 *   DONE    | DONE    | DONE
 */
static enum pp_step prepost_transition(enum pp_step st, enum pp_event ev)
{
    static const enum pp_step next[][2] = {
        [PP_UNPACK] = {PP_FETCH, PP_DONE}, [PP_FETCH] = {PP_HOOKS, PP_DONE},
        [PP_HOOKS] = {PP_DONE, PP_DONE},   [PP_UNHOOKS] = {PP_REMOVE, PP_REMOVE},
        [PP_REMOVE] = {PP_DONE, PP_DONE},  [PP_DONE] = {PP_DONE, PP_DONE},
    };
    return next[st][ev];
}

/* A step ended: the transition function says what comes next; DONE reports the outcome. */
static void prepost_event(struct prepost *pp, enum pp_event ev)
{
    enum pp_step from = pp->step, to = prepost_transition(from, ev);
    if (to != PP_DONE) {
        pp->step = to;
        prepost_next(pp);
    } else if (from >= PP_UNHOOKS) {
        prepost_finish(pp, pp->status); /* a failed hook undo is reported after the removal */
    } else if (ev == PP_EV_FAILED) {
        prepost_pre_fail(pp);
    } else {
        prepost_finish(pp, 0);
    }
}

/* The kit is unpacked (or not): an event, unless pp was freed meanwhile. */
static void prepost_on_unpacked_step(struct unpack *u, int status, const struct err *e, void *data)
{
    struct prepost *pp = data;
    if (status < 0)
        memcpy(&pp->err, e, sizeof(pp->err));
    unpack_free(u);
    pp->unpack = NULL;
    if (prepost_abandoned(pp))
        return;
    prepost_event(pp, status < 0 ? PP_EV_FAILED : PP_EV_DONE);
}

/* The step ended; then its hold goes (until here the hold kept pp alive, even if freed). */
static void prepost_on_unpacked(struct unpack *u, int status, const struct err *e, void *data)
{
    struct prepost *pp = data;
    prepost_on_unpacked_step(u, status, e, data);
    ref_drop(&pp->ref);
}

/* pkgsrc's answer on stdout, bounded: more than FETCH_OUTPUT_MAX fails the parse. */
static void prepost_on_fetch_data(struct proc *p, int stream, const char *buf, size_t n, void *data)
{
    struct prepost *pp = data;
    if (stream == 1 && pp->out.len + n <= FETCH_OUTPUT_MAX)
        buf_add(&pp->out, buf, n);
}

/* Parses one line a variable, in the order asked; checks the required ones. */
static int prepost_parse_fetch(struct prepost *pp)
{
    static const char *required[] = {"PACKAGES", "PKG_DBDIR", "PKG_REFCOUNT_DBDIR", "PKG_TOOLS_BIN",
                                     "PREFIX"};
    struct strv values = {0};
    char *p = pp->out.p ? pp->out.p : "";
    int r = 0;
    while (*p) {
        char *nl = strchr(p, '\n');
        strv_push_owned(&values, nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p));
        p = nl ? nl + 1 : p + strlen(p);
    }
    if (values.n != pp->names.n) {
        r = err_set(&pp->err, "Expected %zu variables from pkgsrc, got %zu", pp->names.n, values.n);
        goto out;
    }
    for (size_t i = 0; i < pp->names.n; i++)
        for (size_t j = 0; j < sizeof(required) / sizeof(required[0]); j++)
            if (strcmp(pp->names.v[i], required[j]) == 0 && !values.v[i][0]) {
                r = err_set(&pp->err, "pkgsrc returned empty value for %s", required[j]);
                goto out;
            }
    sandbox_ctx_set_pkgsrc(pp->ctx, &pp->names, &values);
out:
    strv_free(&values);
    return r;
}

/* pkgsrc answered (or not): parsed into ctx, then an event, unless pp was freed meanwhile. */
static void prepost_on_fetch_exit_step(struct proc *p, void *data)
{
    struct prepost *pp = data;
    char status[64];
    int code = proc_exit_code(p);
    proc_describe_status(p, status, sizeof(status));
    proc_free(p);
    pp->proc = NULL;
    if (prepost_abandoned(pp))
        return;
    if (pp->cancelled)
        err_set(&pp->err, "interrupted");
    else if (code != 0)
        err_set(&pp->err, "cannot query pkgsrc with %s show-vars (%s)", pp->ctx->cfg->make, status);
    if (pp->cancelled || code != 0 || prepost_parse_fetch(pp) < 0) {
        prepost_event(pp, PP_EV_FAILED);
        return;
    }
    sandbox_kit_prepare(pp->ctx); /* PREFIX known: the next jobs may overlay the kit */
    prepost_event(pp, PP_EV_DONE);
}

/* The step ended; then its hold goes (until here the hold kept pp alive, even if freed). */
static void prepost_on_fetch_exit(struct proc *p, void *data)
{
    struct prepost *pp = data;
    prepost_on_fetch_exit_step(p, data);
    ref_drop(&pp->ref);
}

/* Asks pkgsrc, inside the sandbox, for PREFIX and the package databases. */
static void prepost_start_fetch(struct prepost *pp)
{
    const struct config *cfg = pp->ctx->cfg;
    struct buf vars = {0};
    struct strv env = {0};
    struct proc_opts o = {0};
    struct proc_cbs cbs = {prepost_on_fetch_data, prepost_on_fetch_exit, NULL, pp};
    static const char *base[] = {"PACKAGES",      "PKG_DBDIR", "PKG_REFCOUNT_DBDIR",
                                 "PKG_TOOLS_BIN", "PREFIX",    "VARBASE"};
    const char *argv[8];

    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        strv_push(&pp->names, base[i]);
    for (size_t i = 0; i < cfg->cachevars.n; i++)
        if (!strv_contains(&pp->names, cfg->cachevars.v[i]))
            strv_push(&pp->names, cfg->cachevars.v[i]);
    for (size_t i = 0; i < pp->names.n; i++)
        buf_printf(&vars, "%s%s", i ? " " : "", pp->names.v[i]);
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = "cd \"$1/pkgtools/pkg_install\" && exec \"$2\" show-vars VARNAMES=\"$3\"";
    argv[3] = "sh";
    argv[4] = cfg->pkgsrc_basedir;
    argv[5] = cfg->make;
    argv[6] = vars.p;
    argv[7] = NULL;
    sandbox_env(cfg, CTX_BUILD, true, &pp->ctx->env, &env);
    o.argv = argv;
    o.env = (const char *const *)env.v;
    o.root = pp->root;
    o.cover = sandbox_cover;
    o.cwd = "/";
    o.setsid = true;
    o.in = PROC_IO_NULL;
    o.out = PROC_IO_PIPE;
    o.err = PROC_IO_NULL;
    o.drain_ms = 2000;
    pp->proc = proc_spawn(pp->ctx->loop, &o, &cbs, &pp->err);
    strv_free(&env);
    buf_free(&vars);
    if (!pp->proc) {
        prepost_pre_fail(pp);
        return;
    }
    ref_hold(&pp->ref);
}

/* The hooks ran (or were undone): an event, unless pp was freed meanwhile. */
static void prepost_on_actions_step(struct actrun *r, int status, const struct err *e, void *data)
{
    struct prepost *pp = data;
    if (status < 0)
        memcpy(&pp->err, e, sizeof(pp->err));
    actrun_free(r);
    pp->run = NULL;
    if (prepost_abandoned(pp))
        return;
    if (pp->step == PP_UNHOOKS) {
        /* Post-build: the removal runs even when undoing a hook failed. */
        pp->status = status;
        if (status < 0)
            err_prefix(&pp->err, "post-build failed");
    }
    prepost_event(pp, status < 0 ? PP_EV_FAILED : PP_EV_DONE);
}

/* The step ended; then its hold goes (until here the hold kept pp alive, even if freed). */
static void prepost_on_actions(struct actrun *r, int status, const struct err *e, void *data)
{
    struct prepost *pp = data;
    prepost_on_actions_step(r, status, e, data);
    ref_drop(&pp->ref);
}

/* Applies the hooks, or with reverse undoes them in reverse order (the post-build). */
static void prepost_start_hooks(struct prepost *pp, bool reverse)
{
    struct actrun_opts o = {
        .loop = pp->ctx->loop,
        .list = &pp->ctx->cfg->hooks,
        .ctx = pp->ctx->ctx,
        .root = pp->root,
        .cover = sandbox_cover,
        .env = &pp->ctx->env,
        .reverse = reverse,
        .count = pp->ctx->cfg->hooks.n,
        .cb = prepost_on_actions,
        .data = pp,
    };
    ref_hold(&pp->ref);
    pp->run = actrun_start(&o);
    if (!pp->run) { /* libuv refused a timer: only for a closing loop */
        ref_drop(&pp->ref);
        err_set(&pp->err, "cannot start the hooks");
        if (reverse)
            prepost_finish(pp, -1);
        else
            prepost_pre_fail(pp);
    }
}

/* Thread pool: removes PREFIX and the package databases, inside the sandbox only. */
static void prepost_remove_work(uv_work_t *w)
{
    struct prepost *pp = w->data;
    const char *dirs[] = {pp->ctx->prefix, pp->ctx->pkg_dbdir, pp->ctx->pkg_refcount_dbdir};
    struct err ke;
    /* The kit's overlays first, with what the job installed in their upper layers. */
    if (sandbox_kit_detach(pp->kit_targets, pp->root, &ke) < 0) {
        pp->status = -1;
        err_set(&pp->err, "post-build failed: cannot take the bootstrap kit away: %s", ke.msg);
        return;
    }
    for (size_t i = 0; i < 3; i++) {
        struct err e;
        /* plat_remove resolves the path beneath the sandbox root and never
         * crosses a mount: a PREFIX on a mount (a tmpfs) cannot be emptied. */
        if (dirs[i] && dirs[i][0] == '/' && strcmp(dirs[i], "/") != 0 &&
            plat_remove(pp->root, dirs[i], NULL, &e) < 0 && pp->status == 0) {
            /* What is left would leak into the next job of this sandbox: the job fails. */
            pp->status = -1;
            err_set(&pp->err, "post-build failed: cannot remove %s: %s", dirs[i], e.msg);
        }
    }
}

/* The removal is over (its failures are only logged): an event, unless pp was freed meanwhile. */
static void prepost_remove_after_step(uv_work_t *w, int status)
{
    struct prepost *pp = w->data;
    if (prepost_abandoned(pp))
        return;
    prepost_event(pp, PP_EV_DONE);
}

/* The step ended; then its hold goes (until here the hold kept pp alive, even if freed). */
static void prepost_remove_after(uv_work_t *w, int status)
{
    struct prepost *pp = w->data;
    prepost_remove_after_step(w, status);
    ref_drop(&pp->ref);
}

/* Starts pp->step; a step with nothing to do passes to the next at once (its DONE transition). */
static void prepost_next(struct prepost *pp)
{
    const struct config *cfg = pp->ctx->cfg;
    if (pp->ref.free_requested)
        return;
    if (pp->cancelled && pp->step <= PP_HOOKS) {
        err_set(&pp->err, "interrupted");
        prepost_pre_fail(pp);
        return;
    }
    if (pp->step == PP_UNPACK)
        fault_step("prebuild");
    else if (pp->step == PP_UNHOOKS)
        fault_step("postbuild");
    switch (pp->step) {
    case PP_UNPACK:
        /* The kit unpacked once, as overlays; else (first job, none to be had) unpacked here. */
        if (cfg->bootstrap && !(sandbox_kit_ready(pp->ctx) && pp->ctx->prefix &&
                                sandbox_kit_attach(pp->ctx, pp->root) == 0)) {
            ref_hold(&pp->ref);
            pp->unpack = unpack_start(pp->ctx->loop, cfg->bootstrap, pp->root,
                                      cfg->bootstrap_max_size, prepost_on_unpacked, pp);
            if (!pp->unpack) {
                ref_drop(&pp->ref);
                err_set(&pp->err, "cannot start unpacking %s", cfg->bootstrap);
                prepost_pre_fail(pp);
            }
            return;
        }
        pp->step = prepost_transition(pp->step, PP_EV_DONE); /* no kit: FETCH */
        /* fall through */
    case PP_FETCH:
        if (cfg->has_pkgsrc && cfg->bootstrap && !pp->ctx->prefix) {
            prepost_start_fetch(pp);
            return;
        }
        pp->step = prepost_transition(pp->step, PP_EV_DONE); /* nothing to ask: HOOKS */
        /* fall through */
    case PP_HOOKS:
        prepost_start_hooks(pp, false);
        return;
    case PP_UNHOOKS:
        prepost_start_hooks(pp, true);
        return;
    case PP_REMOVE:
        pp->kit_targets = sandbox_kit_targets(pp->ctx);
        ref_hold(&pp->ref);
        pp->work.data = pp;
        if (uv_queue_work(pp->ctx->loop, &pp->work, prepost_remove_work, prepost_remove_after) <
            0) {
            ref_drop(&pp->ref);
            err_set(&pp->err, "cannot queue the removal of the pkgsrc directories");
            prepost_finish(pp, -1);
        }
        return;
    case PP_DONE:
        return;
    }
}

/* The deferred first step: no callback runs inside sandbox_prebuild or _postbuild. */
static void prepost_on_defer(void *data)
{
    struct prepost *pp = data;
    prepost_next(pp);
    ref_drop(&pp->ref);
}

/* A pre- or post-build from `step` on; the first step runs on the next loop pass. */
static struct prepost *prepost_new(struct sbx_ctx *ctx, const char *root, enum pp_step step,
                                   prepost_cb cb, void *data)
{
    struct prepost *pp = xcalloc(1, sizeof(*pp));
    pp->ctx = ctx;
    pp->root = xstrdup(root);
    pp->step = step;
    pp->cb = cb;
    pp->data = data;
    ref_init(&pp->ref, prepost_release);
    ref_hold(&pp->ref);
    if (loop_defer(ctx->loop, prepost_on_defer, pp) < 0)
        abort(); /* libuv refuses a timer only for a closing loop: a bug of ours */
    return pp;
}

struct prepost *sandbox_prebuild(struct sbx_ctx *ctx, const char *root, prepost_cb cb, void *data)
{
    return prepost_new(ctx, root, PP_UNPACK, cb, data);
}

struct prepost *sandbox_postbuild(struct sbx_ctx *ctx, const char *root, prepost_cb cb, void *data)
{
    return prepost_new(ctx, root, PP_UNHOOKS, cb, data);
}

void prepost_cancel(struct prepost *pp)
{
    if (pp->finished || pp->cancelled || pp->step > PP_HOOKS)
        return;
    pp->cancelled = true;
    if (pp->unpack)
        unpack_cancel(pp->unpack);
    if (pp->run)
        actrun_cancel(pp->run);
    if (pp->proc)
        proc_kill(pp->proc, SIGKILL);
}

void prepost_free(struct prepost *pp)
{
    if (!pp)
        return;
    ref_request_free(&pp->ref);
}
