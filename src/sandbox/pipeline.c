/* The job pipeline of one sandbox: one transition function drives it. */
#include "sandbox/pipeline.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "loop/cgwatch.h"
#include "loop/defer.h"
#include "sandbox/prepost.h"
#include "util/ref.h"

enum pipeline_event {
    PL_EV_START,
    PL_EV_PRE_END,   /* the pre-build ended (p->pre_failed says how) */
    PL_EV_WORK_DONE, /* the caller's work is over */
    PL_EV_KILLED,    /* a kill ended */
    PL_EV_POST_END,  /* the post-build ended */
};

struct pipeline {
    struct ref ref; /* util/ref.h: the owner, a pending deferred kill end */
    struct sbx_ctx *ctx;
    char *root;
    bool prepost;
    const struct pipeline_ops *ops;
    void *data;
    enum pipeline_step step;
    struct prepost *pp;
    const struct cgroup_job *cg; /* the work's cgroup (pipeline_set_cgroup), or NULL */
    struct cgwatch *watch;       /* a kill waits for the cgroup to be empty */
    bool killing;                /* a kill runs */
    struct err kill_err;
    pid_t final_pgid;  /* the group the final kill includes */
    bool pre_failed;   /* the pre-build failed: no work */
    bool cancelled;    /* shutting down: no work */
    bool skip_post;    /* the sandbox is kept as the work left it (pipeline_skip_post) */
    bool work_waiting; /* the work goes on once the running kill ends */
};

/*
 * The transitions (state, event) -> state; every pair not listed keeps
 * the state (an event that does not apply is ignored):
 *
 *   IDLE  START      -> KILL when cancelled, else PRE (with pre/post-build), else WORK
 *   PRE   PRE_END    -> WORK, or KILL when it failed or the run was cancelled
 *   WORK  WORK_DONE  -> KILL (a kill started during the work stands for it)
 *   WORK  KILLED     -> WORK (the work goes on, if it waited for the kill)
 *   KILL  KILLED     -> POST (with pre/post-build, unless skipped), else DONE
 *   POST  POST_END   -> DONE
 */
static enum pipeline_step pipeline_transition(const struct pipeline *p, enum pipeline_event ev)
{
    switch (p->step) {
    case PIPELINE_IDLE:
        if (ev == PL_EV_START)
            return p->cancelled ? PIPELINE_KILL : p->prepost ? PIPELINE_PRE : PIPELINE_WORK;
        break;
    case PIPELINE_PRE:
        if (ev == PL_EV_PRE_END)
            return p->pre_failed || p->cancelled ? PIPELINE_KILL : PIPELINE_WORK;
        break;
    case PIPELINE_WORK:
        if (ev == PL_EV_WORK_DONE)
            return PIPELINE_KILL;
        break;
    case PIPELINE_KILL:
        if (ev == PL_EV_KILLED)
            return p->prepost && !p->skip_post ? PIPELINE_POST : PIPELINE_DONE;
        break;
    case PIPELINE_POST:
        if (ev == PL_EV_POST_END)
            return PIPELINE_DONE;
        break;
    case PIPELINE_DONE:
        break;
    }
    return p->step;
}

static void pipeline_event(struct pipeline *p, enum pipeline_event ev);

/* A kill ended: report it, then let the state machine decide. */
static void pipeline_kill_ended(struct pipeline *p, int status)
{
    p->killing = false;
    if (p->ops->ended)
        p->ops->ended(p, PIPELINE_KILL, status, &p->kill_err, p->data);
    pipeline_event(p, PL_EV_KILLED);
}

/* The work's cgroup is empty: the kill is over. */
static void pipeline_on_cgroup(struct cgwatch *w, enum cgwatch_event ev, unsigned limits,
                               void *data)
{
    struct pipeline *p = data;
    if (ev != CGWATCH_EMPTY)
        return;
    cgwatch_free(w);
    p->watch = NULL;
    pipeline_kill_ended(p, 0);
}

/* The deferred end of a kill that had nothing to wait for. */
static void pipeline_on_kill_deferred(void *data)
{
    struct pipeline *p = data;
    if (p->killing && !p->ref.free_requested)
        pipeline_kill_ended(p, p->kill_err.msg[0] ? -1 : 0);
    ref_drop(&p->ref);
}

/*
 * Kills what the work left: exactly, through the kernel's boundaries, never
 * by scanning /proc. Every command of the work ran in a pid namespace of
 * its own (the launcher's init leads its process group), so SIGKILL to the
 * group pgid ends it and everything in it; with the work's cgroup, the
 * whole cgroup is killed at once (cgroup.kill) and the kill ends when the
 * kernel says it is empty (cgroup.events, an event on the loop).
 */
static void pipeline_start_kill(struct pipeline *p, pid_t pgid)
{
    if (p->killing)
        return;
    p->killing = true;
    err_clear(&p->kill_err);
    log_debug("kill: what the work left in %s%s", p->root,
              p->cg ? " (its cgroup, then cgroup.events)" : " (its pid namespace)");
    if (pgid > 0)
        kill(-pgid, SIGKILL);
    /* Already empty (the usual end of a command): nothing to kill or wait for. */
    if (p->cg && cgroup_job_populated_but_inits(p->cg, &p->kill_err) != 0) {
        err_clear(&p->kill_err);
        if (cgroup_job_kill((struct cgroup_job *)p->cg, &p->kill_err) == 0 &&
            cgwatch_start(p->ctx->loop, p->cg, pipeline_on_cgroup, p, &p->watch, &p->kill_err) == 0)
            return;
    }
    ref_hold(&p->ref);
    if (loop_defer(p->ctx->loop, pipeline_on_kill_deferred, p) < 0) {
        ref_drop(&p->ref);
        p->killing = false; /* cannot happen on Unix: the loop refused a timer */
    }
}

/* The pre-build or the post-build ended. */
static void pipeline_on_prepost(struct prepost *pp, int status, const struct err *e, void *data)
{
    struct pipeline *p = data;
    enum pipeline_step step = p->step;
    prepost_free(pp);
    p->pp = NULL;
    if (step == PIPELINE_PRE)
        p->pre_failed = status < 0;
    if (p->ops->ended)
        p->ops->ended(p, step, status, e, p->data);
    pipeline_event(p, step == PIPELINE_PRE ? PL_EV_PRE_END : PL_EV_POST_END);
}

/* Does what entering step means. The done callback is the last thing, as it may free p. */
static void pipeline_enter(struct pipeline *p, enum pipeline_step step)
{
    p->step = step;
    if (step != PIPELINE_DONE && p->ops->step)
        p->ops->step(p, step, p->data);
    switch (step) {
    case PIPELINE_IDLE:
        return;
    case PIPELINE_PRE:
        p->pp = sandbox_prebuild(p->ctx, p->root, pipeline_on_prepost, p);
        return;
    case PIPELINE_WORK:
        p->ops->work(p, p->data);
        return;
    case PIPELINE_KILL:
        /* Whatever the work left running goes before the post-build. */
        pipeline_start_kill(p, p->final_pgid);
        return;
    case PIPELINE_POST:
        p->pp = sandbox_postbuild(p->ctx, p->root, pipeline_on_prepost, p);
        return;
    case PIPELINE_DONE:
        p->ops->done(p, p->data);
        return;
    }
}

/* Feeds an event to the transition function and enters the state it names. */
static void pipeline_event(struct pipeline *p, enum pipeline_event ev)
{
    enum pipeline_step next = pipeline_transition(p, ev);
    ref_hold(&p->ref); /* the caller's callbacks may free p (pipeline_free) from inside */
    if (next == PIPELINE_WORK && p->step == PIPELINE_WORK) {
        if (ev == PL_EV_KILLED && p->work_waiting) {
            p->work_waiting = false;
            p->ops->work(p, p->data);
        }
    } else if (next != p->step) {
        pipeline_enter(p, next);
    }
    ref_drop(&p->ref);
}

/* The last hold is gone: nothing of it runs any more. */
static void pipeline_release(struct ref *r)
{
    struct pipeline *p = REF_CONTAINER(r, struct pipeline, ref);
    free(p->root);
    free(p);
}

struct pipeline *pipeline_new(struct sbx_ctx *ctx, const char *root, bool prepost,
                              const struct pipeline_ops *ops, void *data)
{
    struct pipeline *p = xcalloc(1, sizeof(*p));
    ref_init(&p->ref, pipeline_release);
    p->ctx = ctx;
    p->root = xstrdup(root);
    p->prepost = prepost;
    p->ops = ops;
    p->data = data;
    return p;
}

/* The deferred start: no callback of the caller's runs inside pipeline_start. */
static void pipeline_on_start(void *data)
{
    struct pipeline *p = data;
    if (!p->ref.free_requested)
        pipeline_event(p, PL_EV_START);
    ref_drop(&p->ref);
}

void pipeline_start(struct pipeline *p)
{
    ref_hold(&p->ref); /* the deferred start's, dropped when it has run */
    if (loop_defer(p->ctx->loop, pipeline_on_start, p) < 0)
        abort(); /* libuv refuses a fresh timer only on a closing loop: a bug of ours */
}

void pipeline_set_cgroup(struct pipeline *p, const struct cgroup_job *cg)
{
    p->cg = cg;
}

void pipeline_kill(struct pipeline *p, pid_t pgid)
{
    if (p->step == PIPELINE_WORK)
        pipeline_start_kill(p, pgid);
}

void pipeline_work_next(struct pipeline *p)
{
    if (p->step != PIPELINE_WORK)
        return;
    /* A kill of the work's leftovers must end first: it would kill what comes next too. */
    if (p->killing)
        p->work_waiting = true;
    else
        p->ops->work(p, p->data);
}

void pipeline_work_done(struct pipeline *p, pid_t pgid)
{
    if (p->step != PIPELINE_WORK)
        return;
    p->work_waiting = false;
    p->final_pgid = pgid;
    pipeline_event(p, PL_EV_WORK_DONE);
}

void pipeline_cancel(struct pipeline *p)
{
    p->cancelled = true;
    if (p->step == PIPELINE_PRE && p->pp)
        prepost_cancel(p->pp);
}

enum pipeline_step pipeline_step(const struct pipeline *p)
{
    return p->step;
}

const char *pipeline_root(const struct pipeline *p)
{
    return p->root;
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    cgwatch_free(p->watch);
    p->watch = NULL;
    prepost_free(p->pp);
    p->pp = NULL;
    ref_request_free(&p->ref);
}

void pipeline_skip_post(struct pipeline *p)
{
    p->skip_post = true;
}
