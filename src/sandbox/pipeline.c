/* The job pipeline of one sandbox: one transition function drives it. */
#include "sandbox/pipeline.h"

#include <stdlib.h>

#include "platform/platform.h"
#include "sandbox/killer.h"
#include "sandbox/prepost.h"

enum pipeline_event {
    PL_EV_START,
    PL_EV_PRE_END,   /* the pre-build ended (p->pre_failed says how) */
    PL_EV_WORK_DONE, /* the caller's work is over */
    PL_EV_KILLED,    /* a kill ended */
    PL_EV_POST_END,  /* the post-build ended */
};

struct pipeline {
    struct sbx_ctx *ctx;
    char *root;
    bool prepost;
    const struct pipeline_ops *ops;
    void *data;
    enum pipeline_step step;
    struct prepost *pp;
    struct killer *killer;
    struct plat_since since;
    bool has_since;
    pid_t final_pgid;  /* the group the final kill includes */
    bool pre_failed;   /* the pre-build failed: no work */
    bool cancelled;    /* shutting down: no work */
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
 *   KILL  KILLED     -> POST (with pre/post-build), else DONE
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
            return p->prepost ? PIPELINE_POST : PIPELINE_DONE;
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
static void pipeline_on_killed(struct killer *k, int status, const struct err *e, void *data)
{
    struct pipeline *p = data;
    killer_free(k);
    p->killer = NULL;
    if (p->ops->ended)
        p->ops->ended(p, PIPELINE_KILL, status, e, p->data);
    pipeline_event(p, PL_EV_KILLED);
}

/* Starts a kill of the sandbox's processes (and of group pgid), unless one runs. */
static void pipeline_start_kill(struct pipeline *p, pid_t pgid)
{
    if (p->killer)
        return;
    p->killer = killer_start(p->ctx->loop, p->root, p->has_since ? &p->since : NULL, pgid,
                             pipeline_on_killed, p);
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
    if (next == PIPELINE_WORK && p->step == PIPELINE_WORK) {
        if (ev == PL_EV_KILLED && p->work_waiting) {
            p->work_waiting = false;
            p->ops->work(p, p->data);
        }
        return;
    }
    if (next != p->step)
        pipeline_enter(p, next);
}

struct pipeline *pipeline_new(struct sbx_ctx *ctx, const char *root, bool prepost,
                              const struct pipeline_ops *ops, void *data)
{
    struct pipeline *p = xcalloc(1, sizeof(*p));
    p->ctx = ctx;
    p->root = xstrdup(root);
    p->prepost = prepost;
    p->ops = ops;
    p->data = data;
    return p;
}

void pipeline_start(struct pipeline *p)
{
    pipeline_event(p, PL_EV_START);
}

int pipeline_spare_before(struct pipeline *p, pid_t pid)
{
    int r = plat_since_mark(pid, &p->since);
    p->has_since = r == 0;
    return r;
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
    if (p->killer)
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
    killer_free(p->killer);
    prepost_free(p->pp);
    free(p->root);
    free(p);
}
