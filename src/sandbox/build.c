/* The bulk build engine. */
#include "sandbox/build.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop/defer.h"
#include "loop/proc.h"
#include "platform/cgroup.h"
#include "platform/platform.h"
#include "sandbox/exec.h"
#include "sandbox/limits.h"
#include "sandbox/pipeline.h"
#include "util/fault.h"
#include "util/file.h"
#include "util/ref.h"

#define STAGE_DRAIN_MS 2000

/* A slot is idle when it has no pipeline; its job runs as the pipeline's work. */
struct slot {
    struct build *b;
    size_t index;
    unsigned id;
    char *root;
    struct pipeline *pl;
    long job;
    size_t stage;
    struct proc *proc;
    struct capture cap;
    bool cap_open;
    char *logdir; /* <logdir>/<job> */
    double started;
    struct build_result *res;
    bool retired; /* its post-build failed: what it left must not reach another job */
    /* Limits: the job's cgroup and watchdog, from its first stage to the final kill. */
    struct cgroup_job *cg;
    struct launch_cgroup lcg;
    struct limits *lim;
};

enum build_phase {
    B_CREATE,
    B_RUN,
    B_DESTROY,
    B_DONE,
};

struct build {
    struct sbx_ctx *ctx;
    const struct config *cfg;
    struct build_observer obs;
    struct sched *sched;
    struct sbx_batch *batch;
    struct slot *slots;
    size_t nslots;
    struct build_result *results; /* indexed by cfg job index */
    enum build_phase phase;
    bool stopping, shutdown;
    char *error;
    double started, ended;
    struct ref ref; /* util/ref.h: the owner, and the deferred start */
    /* The build's cgroup (each job's is in it), or NULL. */
    struct cgroup_base *cg_base;
};

static void dispatch(struct build *b);
static void build_begin_run(struct build *b);
static void build_release(struct ref *r);
static void slot_limits_stop(struct slot *sl);

static const char *job_name(const struct build *b, long j)
{
    return b->cfg->jobs[j].name;
}

/* Removes <logdir>/<name> (a host path made of a validated job name). */
static void remove_logdir(const struct build *b, const char *name)
{
    struct err e;
    char *guest = xasprintf("/%s", name);
    if (plat_remove(b->cfg->logdir, guest, NULL, &e) < 0)
        log_warn("%s", e.msg);
    free(guest);
}

/* Writes a one-line note into a log of the job's (for failures outside stages). */
static char *note_log(struct slot *sl, const char *file, const char *msg)
{
    char *path = xasprintf("%s/%s.log", sl->logdir, file);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%s\n", msg);
        fclose(f);
    }
    return path;
}

static void on_destroyed(struct sbx_batch *batch, void *data)
{
    struct build *b = data;
    if (sandbox_batch_status(batch) < 0) {
        struct buf msg = {0};
        for (size_t i = 0; i < sandbox_batch_size(batch); i++)
            if (sandbox_batch_error(batch, i))
                buf_printf(&msg, "%s%s", msg.len ? "; " : "", sandbox_batch_error(batch, i));
        free(b->error);
        b->error = msg.p ? msg.p : xstrdup("cannot destroy the sandboxes");
    }
    if (b->obs.sandboxes) {
        unsigned *ids = xcalloc(b->nslots ? b->nslots : 1, sizeof(*ids));
        for (size_t i = 0; i < b->nslots; i++)
            ids[i] = b->slots[i].id;
        b->obs.sandboxes(b->obs.data, ids, b->nslots, false);
        free(ids);
    }
    b->phase = B_DONE;
    b->ended = now_ms();
    b->obs.finished(b->obs.data);
}

/* Everything ran (or was stopped): destroy the sandboxes. */
static void finish_run(struct build *b)
{
    unsigned *ids;
    if (b->phase != B_RUN)
        return;
    for (size_t i = 0; i < b->nslots; i++)
        if (b->slots[i].pl)
            return;
    /* Every sandbox left was retired (a failed post-build): what is still pending is skipped. */
    if (!b->stopping && !b->shutdown && !sched_finished(b->sched) && sched_abandon(b->sched) > 0)
        for (size_t j = 0; j < b->cfg->njobs; j++)
            if (sched_state(b->sched, j) == JOB_SKIPPED && b->results[j].state == JOB_PENDING) {
                b->results[j].state = JOB_SKIPPED;
                b->results[j].reason = xstrdup("no usable sandbox left: a post-build failed");
                if (b->obs.job_skipped)
                    b->obs.job_skipped(b->obs.data, &b->results[j]);
            }
    b->phase = B_DESTROY;
    if (b->obs.note)
        b->obs.note(b->obs.data, "cleanup", "destroying the sandboxes");
    ids = xcalloc(b->nslots ? b->nslots : 1, sizeof(*ids));
    for (size_t i = 0; i < b->nslots; i++)
        ids[i] = b->slots[i].id;
    sandbox_batch_free(b->batch);
    b->batch = sandbox_destroy(b->ctx, ids, b->nslots, false, on_destroyed, b);
    free(ids);
}

static void on_skip(size_t job, size_t failed, void *data)
{
    struct build *b = data;
    struct build_result *r = &b->results[job];
    r->state = JOB_SKIPPED;
    free(r->reason);
    r->reason = xasprintf("depends on %s", b->cfg->jobs[failed].name);
    if (b->obs.job_skipped)
        b->obs.job_skipped(b->obs.data, r);
}

/* The job on sl is over (its post-build included). */
static void job_end(struct slot *sl)
{
    struct build *b = sl->b;
    struct build_result *r = sl->res;
    bool ok = !r->stage && !r->interrupted;
    r->ms = now_ms() - sl->started;
    if (ok && !b->cfg->keep_logs)
        remove_logdir(b, job_name(b, sl->job));
    if (r->interrupted)
        r->state = JOB_PENDING;
    else
        r->state = ok ? JOB_SUCCEEDED : JOB_FAILED;
    slot_limits_stop(sl);
    cgroup_job_free(sl->cg); /* still busy: cgroup_base_close removes it */
    sl->cg = NULL;
    if (b->obs.job_finished)
        b->obs.job_finished(b->obs.data, sl->index, r);
    /* The skips it causes are reported after the failure itself. */
    if (!r->interrupted)
        sched_done(b->sched, (size_t)sl->job, ok, on_skip, b);
    pipeline_free(sl->pl);
    sl->pl = NULL;
    sl->job = -1;
    sl->res = NULL;
    free(sl->logdir);
    sl->logdir = NULL;
    dispatch(b);
    finish_run(b);
}

/* Marks the job failed in `stage` with a reason, keeping `log`. */
static void job_fail(struct slot *sl, const char *stage, char *log, const char *reason)
{
    struct build_result *r = sl->res;
    if (r->stage || r->interrupted) {
        free(log);
        return;
    }
    if (sl->b->shutdown) {
        r->interrupted = true;
        free(log);
        return;
    }
    r->stage = xstrdup(stage);
    r->log = log;
    r->reason = xstrdup(reason);
}

static void on_stage_data(struct proc *p, int stream, const char *buf, size_t n, void *data)
{
    struct slot *sl = data;
    limits_output(sl->lim);
    capture_add(&sl->cap, buf, n);
    if (sl->b->obs.job_output)
        sl->b->obs.job_output(sl->b->obs.data, sl->index);
}

static void on_stage_linger(struct proc *p, void *data)
{
    struct slot *sl = data;
    /* The stage's shell has exited; a process it started holds the output. */
    pipeline_kill(sl->pl, proc_pid(p));
}

static void on_stage_exit(struct proc *p, void *data)
{
    struct slot *sl = data;
    const struct stage *st = &sl->b->cfg->jobs[sl->job].stages[sl->stage];
    char status[96];
    struct err e;
    int ok = proc_exit_code(p) == 0;
    proc_describe_status(p, status, sizeof(status));
    proc_free(p);
    sl->proc = NULL;
    /* A limit reached during the stage (the kernel's OOM kill, a failed fork) is the reason. */
    limits_check(sl->lim);
    if (!ok)
        capture_note(&sl->cap, "=> %s", status);
    if (capture_close(&sl->cap, &e) < 0) {
        sl->cap_open = false;
        job_fail(sl, st->name, xasprintf("%s/%s.log", sl->logdir, st->name), e.msg);
        pipeline_work_done(sl->pl, 0);
        return;
    }
    sl->cap_open = false;
    if (!ok) {
        char *reason = xstrdup(status);
        job_fail(sl, st->name, xasprintf("%s/%s.log", sl->logdir, st->name), reason);
        free(reason);
        pipeline_work_done(sl->pl, 0);
        return;
    }
    sl->stage++;
    /* The next stage, once a kill of this one's leftovers has ended. */
    pipeline_work_next(sl->pl);
}

/* Starts stage sl->stage of the job, logging into <logdir>/<job>/<stage>.log. */
static void start_stage(struct slot *sl)
{
    struct build *b = sl->b;
    const struct job *j = &b->cfg->jobs[sl->job];
    const struct stage *st = &j->stages[sl->stage];
    const char *argv[] = {"/bin/sh", "-ceu", st->run, NULL};
    struct proc_opts o = {0};
    struct proc_cbs cbs = {on_stage_data, on_stage_exit, on_stage_linger, sl};
    struct strv extra = {0}, env = {0};
    char *log = xasprintf("%s/%s.log", sl->logdir, st->name);
    char *header = xasprintf("=> %s", st->run);
    struct err e;
    bool as_user =
        b->cfg->build_user && (!strcmp(st->name, "configure") || !strcmp(st->name, "build") ||
                               !strcmp(st->name, "install"));

    fault_step("build.stage");
    if (capture_open(&sl->cap, log, header, &e) < 0) {
        free(header);
        job_fail(sl, st->name, log, e.msg);
        pipeline_work_done(sl->pl, 0);
        return;
    }
    free(header);
    sl->cap_open = true;
    for (size_t i = 0; i < b->ctx->env.n; i++)
        strv_push(&extra, b->ctx->env.v[i]);
    for (size_t i = 0; i < j->env.n; i++)
        env_set(&extra, j->env.v[i]);
    sandbox_env(b->cfg, CTX_BUILD, true, &extra, &env);
    o.argv = argv;
    o.env = (const char *const *)env.v;
    o.root = sl->root;
    o.cover = sandbox_cover;
    o.cwd = "/";
    o.user = as_user ? b->cfg->build_user : NULL;
    o.setsid = true;
    o.in = PROC_IO_NULL;
    o.out = PROC_IO_PIPE;
    o.err = PROC_IO_PIPE;
    o.drain_ms = STAGE_DRAIN_MS;
    o.new_net = !j->network;
    o.cgroup = sl->cg ? &sl->lcg : NULL;
    sl->proc = proc_spawn(b->ctx->loop, &o, &cbs, &e);
    strv_free(&extra);
    strv_free(&env);
    if (!sl->proc) {
        capture_note(&sl->cap, "=> %s", e.msg);
        capture_close(&sl->cap, &e);
        sl->cap_open = false;
        job_fail(sl, st->name, log, e.msg);
        pipeline_work_done(sl->pl, 0);
        return;
    }
    free(log);
    if (limits_arm(sl->lim, &e) < 0)
        log_warn("sandbox %u: %s", sl->id, e.msg);
    if (b->obs.stage_started)
        b->obs.stage_started(b->obs.data, sl->index, j, st->name, &sl->cap);
}

/* ---- limits (sandbox/limits.h) ---- */

/* A limit of the job was reached: it fails with the reason, and all its processes are killed. */
static void slot_on_limit(struct limits *l, enum limits_kind kind, const char *reason, void *data)
{
    struct slot *sl = data;
    const struct job *j = &sl->b->cfg->jobs[sl->job];
    const char *stage = j->stages[sl->stage < j->nstages ? sl->stage : j->nstages - 1].name;
    struct err e;
    if (sl->cap_open) {
        capture_note(&sl->cap, "=> %s", reason);
        job_fail(sl, stage, xasprintf("%s/%s.log", sl->logdir, stage), reason);
    } else {
        job_fail(sl, stage, note_log(sl, stage, reason), reason);
    }
    if (sl->cg && cgroup_job_kill(sl->cg, &e) == 0)
        return;
    if (sl->cg)
        log_warn("sandbox %u: %s", sl->id, e.msg);
    /* No cgroup: the namespace's init takes the whole stage with it. */
    if (sl->proc)
        proc_kill(sl->proc, SIGKILL);
}

/*
 * At the job's first stage: its cgroup, with the limits the host enforces,
 * and the watchdog, which refuses a limit the host does not enforce: the
 * job then fails with that reason before its first stage.
 */
static int slot_limits_start(struct slot *sl)
{
    struct build *b = sl->b;
    const struct job *j = &b->cfg->jobs[sl->job];
    unsigned can = cgroup_base_limits(b->cg_base);
    struct cgroup_limits cl;
    struct err e;
    char name[40];

    if (b->cg_base) {
        limits_cgroup_limits(&j->limits, &cl);
        if (!(can & CGROUP_LIMIT_MEMORY))
            cl.memory = 0;
        if (!(can & CGROUP_LIMIT_TASKS))
            cl.tasks = 0;
        snprintf(name, sizeof(name), "job-%ld", sl->job);
        if (cgroup_job_new(b->cg_base, name, &cl, &sl->cg, &e) < 0) {
            log_warn("sandbox %u: %s", sl->id, e.msg);
        } else {
            cgroup_job_launch(sl->cg, &sl->lcg.dir_fd, &sl->lcg.procs_fds, &sl->lcg.n_procs);
            pipeline_set_cgroup(sl->pl, sl->cg); /* the job's kills go through it */
        }
    }
    if (limits_start(b->ctx->loop, &j->limits, sl->cg, sl->cg ? can : 0, slot_on_limit, sl,
                     &sl->lim, &e) < 0) {
        job_fail(sl, j->stages[0].name, note_log(sl, j->stages[0].name, e.msg), e.msg);
        return -1;
    }
    return 0;
}

/* The work is over: no limit applies any more, and what is left in the job's cgroup is killed. */
static void slot_limits_stop(struct slot *sl)
{
    struct err e;
    limits_free(sl->lim);
    sl->lim = NULL;
    if (sl->cg && cgroup_job_kill(sl->cg, &e) < 0)
        log_warn("sandbox %u: %s", sl->id, e.msg);
}

/*
 * Says once, at the start, which limits the selected jobs set that this
 * host cannot enforce (those jobs will fail with that reason).
 */
static void build_limits_warn(struct build *b, const size_t *jobs, size_t n, const char *why)
{
    unsigned wanted = 0, missing;
    char how[512];
    for (size_t i = 0; i < n; i++)
        wanted |= limits_cgroup_wanted(&b->cfg->jobs[jobs[i]].limits);
    missing = wanted & ~cgroup_base_limits(b->cg_base);
    if (!missing)
        return;
    if (!why) {
        cgroup_base_describe(b->cg_base, how, sizeof(how));
        why = how;
    }
    log_warn("%s limits cannot be enforced on this host (%s): the jobs that set one fail",
             missing == (CGROUP_LIMIT_MEMORY | CGROUP_LIMIT_TASKS) ? "memory and task"
             : missing == CGROUP_LIMIT_MEMORY                      ? "memory"
                                                                   : "task",
             why);
}

/* The pipeline's work: the job's stages, one after the other. */
static void slot_work(struct pipeline *p, void *data)
{
    struct slot *sl = data;
    struct build *b = sl->b;
    if (b->shutdown) {
        sl->res->interrupted = true;
        pipeline_work_done(p, 0);
        return;
    }
    /* Limits start with the first stage; a limit reached between stages ends the work. */
    if ((!sl->lim && slot_limits_start(sl) < 0) || sl->res->stage) {
        pipeline_work_done(p, 0);
        return;
    }
    if (sl->stage < b->cfg->jobs[sl->job].nstages)
        start_stage(sl);
    else
        pipeline_work_done(p, 0);
}

/* The display hears of the pre- and post-build as stages. */
static void slot_step(struct pipeline *p, enum pipeline_step step, void *data)
{
    struct slot *sl = data;
    struct build *b = sl->b;
    if (step == PIPELINE_WORK)
        sl->stage = 0;
    if (step == PIPELINE_KILL)
        slot_limits_stop(sl);
    if ((step == PIPELINE_PRE || step == PIPELINE_POST) && b->obs.stage_started)
        b->obs.stage_started(b->obs.data, sl->index, &b->cfg->jobs[sl->job],
                             step == PIPELINE_PRE ? "pre-build" : "post-build", NULL);
}

/* A failed pre- or post-build fails the job; a failed kill is a warning. */
static void slot_ended(struct pipeline *p, enum pipeline_step step, int status, const struct err *e,
                       void *data)
{
    struct slot *sl = data;
    if (status == 0)
        return;
    if (step == PIPELINE_PRE)
        job_fail(sl, "pre-build", note_log(sl, "pre-build", e->msg), e->msg);
    else if (step == PIPELINE_POST) {
        job_fail(sl, "post-build", note_log(sl, "post-build", e->msg), e->msg);
        sl->retired = true;
        log_warn("sandbox %u: no further job runs in it: %s", sl->id, e->msg);
    } else
        log_warn("sandbox %u: %s", sl->id, e->msg);
}

/* The job on sl is over, its post-build included. */
static void slot_done(struct pipeline *p, void *data)
{
    job_end(data);
}

static const struct pipeline_ops slot_ops = {slot_step, slot_ended, slot_work, slot_done};

static void start_job(struct slot *sl, long j)
{
    struct build *b = sl->b;
    struct err e;
    fault_step("build.job");
    sl->job = j;
    sl->res = &b->results[j];
    sl->started = now_ms();
    sl->logdir = xasprintf("%s/%s", b->cfg->logdir, job_name(b, j));
    /* Every attempt starts with a clean log directory. */
    remove_logdir(b, job_name(b, j));
    if (b->obs.job_started)
        b->obs.job_started(b->obs.data, sl->index, sl->id, &b->cfg->jobs[j]);
    sl->pl = pipeline_new(b->ctx, sl->root, true, &slot_ops, sl);
    if (file_mkdir_p(sl->logdir, 0755, 0, &e) < 0) {
        job_fail(sl, "pre-build", NULL, e.msg);
        pipeline_cancel(sl->pl); /* straight to the kill and the post-build */
    }
    pipeline_start(sl->pl);
}

static void dispatch(struct build *b)
{
    if (b->phase != B_RUN || b->stopping || b->shutdown)
        return;
    for (size_t i = 0; i < b->nslots; i++) {
        struct slot *sl = &b->slots[i];
        long j;
        if (sl->pl || sl->retired)
            continue;
        j = sched_next(b->sched);
        if (j < 0)
            break;
        start_job(sl, j);
    }
}

static void on_created(struct sbx_batch *batch, void *data)
{
    struct build *b = data;
    if (sandbox_batch_status(batch) < 0) {
        struct buf msg = {0};
        for (size_t i = 0; i < sandbox_batch_size(batch); i++)
            if (sandbox_batch_error(batch, i))
                buf_printf(&msg, "%s%s", msg.len ? "; " : "", sandbox_batch_error(batch, i));
        if (!sandbox_batch_cancelled(batch))
            b->error = msg.p ? msg.p : xstrdup("cannot create the sandboxes");
        else
            buf_free(&msg);
        sched_abandon(b->sched);
        b->phase = B_DONE;
        b->ended = now_ms();
        b->obs.finished(b->obs.data);
        return;
    }
    for (size_t i = 0; i < b->nslots; i++) {
        b->slots[i].id = sandbox_batch_id(batch, i);
        b->slots[i].root = sandbox_path(b->cfg, b->slots[i].id);
    }
    if (b->obs.sandboxes) {
        unsigned *ids = xcalloc(b->nslots, sizeof(*ids));
        for (size_t i = 0; i < b->nslots; i++)
            ids[i] = b->slots[i].id;
        b->obs.sandboxes(b->obs.data, ids, b->nslots, true);
        free(ids);
    }
    b->phase = B_RUN;
    dispatch(b);
    finish_run(b);
}

/* The deferred start: no observer callback runs inside build_start. */
static void build_on_start(void *data)
{
    struct build *b = data;
    if (!b->ref.free_requested)
        build_begin_run(b);
    ref_drop(&b->ref);
}

/* Creates the sandboxes, or ends at once when there is nothing to do. */
static void build_begin_run(struct build *b)
{
    if (b->nslots == 0 || b->shutdown) {
        sched_abandon(b->sched);
        b->phase = B_DONE;
        b->ended = now_ms();
        b->obs.finished(b->obs.data);
        return;
    }
    b->batch = sandbox_create(b->ctx, b->nslots, on_created, b);
}

struct build *build_start(struct sbx_ctx *ctx, const size_t *jobs, size_t n,
                          const struct build_observer *obs)
{
    return build_start_plan(ctx, jobs, n, NULL, obs);
}

/* A dependent of a kept failure: skipped before the start, silently. */
static void on_settled_skip(size_t job, size_t failed, void *data)
{
    struct build *b = data;
    b->results[job].state = JOB_SKIPPED;
    b->results[job].settled = true;
    free(b->results[job].reason);
    b->results[job].reason = xasprintf("depends on %s", b->cfg->jobs[failed].name);
}

struct build *build_start_plan(struct sbx_ctx *ctx, const size_t *jobs, size_t n,
                               const struct build_plan *plan, const struct build_observer *obs)
{
    struct build *b = xcalloc(1, sizeof(*b));
    size_t left = n;
    struct err e;
    unsigned stale = 0;
    b->ctx = ctx;
    b->cfg = ctx->cfg;
    b->obs = *obs;
    b->sched = sched_new_weighted(ctx->cfg, jobs, n, plan ? plan->weight : NULL);
    b->results = xcalloc(ctx->cfg->njobs ? ctx->cfg->njobs : 1, sizeof(*b->results));
    for (size_t j = 0; j < ctx->cfg->njobs; j++)
        b->results[j].job = &ctx->cfg->jobs[j];
    for (size_t i = 0; plan && plan->settled && i < n; i++) {
        enum job_state st = plan->settled[jobs[i]];
        if ((st != JOB_SUCCEEDED && st != JOB_FAILED) ||
            sched_state(b->sched, jobs[i]) != JOB_PENDING)
            continue;
        b->results[jobs[i]].state = st;
        b->results[jobs[i]].settled = true;
        sched_done(b->sched, jobs[i], st == JOB_SUCCEEDED, on_settled_skip, b);
    }
    if (plan && plan->settled)
        left = sched_count(b->sched, JOB_PENDING);
    b->nslots = left < ctx->cfg->build_threads ? left : ctx->cfg->build_threads;
    b->slots = xcalloc(b->nslots ? b->nslots : 1, sizeof(*b->slots));
    for (size_t i = 0; i < b->nslots; i++) {
        b->slots[i].b = b;
        b->slots[i].index = i;
        b->slots[i].job = -1;
    }
    /* One cgroup for the build, one per job in it; without it, only time and silence. */
    if (cgroup_base_open(&b->cg_base, &e) < 0) {
        b->cg_base = NULL;
    } else if (cgroup_sweep(b->cg_base, 1000, &stale, &e) < 0) {
        log_warn("%s", e.msg);
    } else if (stale) {
        log_debug("cgroup: killed and removed %u cgroup(s) of a bob that died", stale);
    }
    build_limits_warn(b, jobs, n, b->cg_base ? NULL : e.msg);
    b->started = now_ms();
    ref_init(&b->ref, build_release);
    ref_hold(&b->ref);
    if (loop_defer(ctx->loop, build_on_start, b) < 0)
        abort(); /* libuv refuses a timer only on a closing loop: a bug of ours */
    return b;
}

void build_stop(struct build *b, bool now)
{
    if (b->phase == B_DONE)
        return;
    if (!b->stopping) {
        b->stopping = true;
        if (b->obs.note)
            b->obs.note(b->obs.data, "stopping", "stopping, ^C again to stop now");
    }
    if (!now || b->shutdown)
        return;
    b->shutdown = true;
    if (b->obs.note)
        b->obs.note(b->obs.data, "shutdown",
                    "shutting down: killing every process in the sandboxes");
    if (b->phase == B_CREATE && b->batch) {
        sandbox_batch_cancel(b->batch);
        return;
    }
    for (size_t i = 0; i < b->nslots; i++) {
        struct slot *sl = &b->slots[i];
        if (!sl->pl)
            continue;
        sl->res->interrupted = true;
        pipeline_cancel(sl->pl);
        if (sl->proc)
            pipeline_kill(sl->pl, proc_pid(sl->proc));
    }
}

size_t build_nresults(const struct build *b)
{
    return b->cfg->njobs;
}

const struct build_result *build_results(const struct build *b)
{
    return b->results;
}

bool build_interrupted(const struct build *b)
{
    return b->stopping || b->shutdown;
}

const char *build_error(const struct build *b)
{
    return b->error;
}

double build_elapsed_ms(const struct build *b)
{
    return (b->ended ? b->ended : now_ms()) - b->started;
}

/* The last hold is gone. */
static void build_release(struct ref *r)
{
    free(REF_CONTAINER(r, struct build, ref));
}

void build_free(struct build *b)
{
    struct err e;
    if (!b)
        return;
    for (size_t j = 0; j < b->cfg->njobs; j++) {
        free(b->results[j].stage);
        free(b->results[j].log);
        free(b->results[j].reason);
    }
    for (size_t i = 0; i < b->nslots; i++) {
        free(b->slots[i].root);
        free(b->slots[i].logdir);
        limits_free(b->slots[i].lim);
        cgroup_job_free(b->slots[i].cg);
    }
    if (b->cg_base && cgroup_base_close(b->cg_base, 2000, &e) < 0)
        log_warn("%s", e.msg);
    sandbox_batch_free(b->batch);
    sched_free(b->sched);
    free(b->results);
    free(b->slots);
    free(b->error);
    b->batch = NULL;
    b->sched = NULL;
    b->results = NULL;
    b->slots = NULL;
    b->error = NULL;
    ref_request_free(&b->ref);
}
