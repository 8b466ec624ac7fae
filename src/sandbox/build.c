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

/*
 * The states of a slot (slot_transition). A job runs as the work of a
 * pipeline (pre-build, work, kill, post-build: sandbox/pipeline.h); the
 * slot's own states divide that work into the job's stages.
 */
enum slot_state {
    SLOT_IDLE,  /* no job: dispatch may give it one */
    SLOT_PRE,   /* a job: its pipeline starts and runs the pre-build */
    SLOT_STAGE, /* a stage of the job runs (sl->proc) */
    SLOT_NEXT,  /* a stage succeeded: the next one starts once the kill of its leftovers ended */
    SLOT_END,   /* the work is over: the pipeline kills what is left, runs the post-build */
};

/* What happened to a slot: the callbacks only translate what they hear into one of these. */
enum slot_event {
    SL_EV_JOB,          /* dispatch gave it a job (sl->job) */
    SL_EV_WORK,         /* the pipeline runs (the next part of) the work */
    SL_EV_STAGE_OK,     /* the stage exited 0 and its log is complete */
    SL_EV_STAGE_FAILED, /* the stage could not start, failed, or its log could not be written */
    SL_EV_LINGER,       /* the stage's shell exited; a process it started holds the output */
    SL_EV_LIMIT,        /* a limit of the job was reached (its failure is recorded already) */
    SL_EV_SHUTDOWN,     /* the build shuts down: kill everything */
    SL_EV_DONE,         /* the pipeline is over, post-build included */
};

/* One sandbox of the build and the job it runs. */
struct slot {
    struct build *b;
    size_t index;
    unsigned id;
    char *root;
    enum slot_state state;
    struct pipeline *pl; /* from SLOT_PRE to SLOT_IDLE */
    long job;
    size_t stage;
    struct proc *proc;
    struct capture cap;
    bool cap_open;
    char *logdir; /* <logdir>/<job> */
    double started;
    struct build_result *res;
    double cpu;   /* without a cgroup: the CPU time of the job's reaped stage processes */
    bool retired; /* its post-build failed, or it is kept: no further job runs in it */
    bool kept;    /* --keep-failed: a failed job's sandbox, left as it is, never destroyed */
    /* Limits: the job's cgroup and watchdog, from its first stage to the final kill. */
    struct cgroup_job *cg;
    struct launch_cgroup lcg;
    struct limits *lim;
};

/* The phases of a build (build_transition). */
enum build_phase {
    B_START,   /* build_start returned: the run begins on the next loop pass */
    B_CREATE,  /* the sandboxes are being created */
    B_RUN,     /* jobs run in the slots */
    B_DESTROY, /* the sandboxes are being destroyed */
    B_DONE,    /* over: the observer's finished callback ran */
};

/* How far the operator stopped the build; it only ever rises. */
enum build_stop {
    B_GO,       /* dispatch as jobs get ready */
    B_STOPPING, /* first Ctrl+C: no new job, the running ones finish */
    B_SHUTDOWN, /* second Ctrl+C or SIGTERM: every process is killed */
};

/* What happened to the build: the callbacks only translate what they hear into one of these. */
enum build_event {
    B_EV_START,         /* the deferred start */
    B_EV_CREATED,       /* every sandbox was created */
    B_EV_CREATE_FAILED, /* the creation failed or was cancelled (and rolled back) */
    B_EV_SLOT_FREE,     /* a slot became free (a job ended; every slot, as the run begins) */
    B_EV_DESTROYED,     /* the destroy is over (b->error says whether it failed) */
    B_EV_STOP,          /* first Ctrl+C */
    B_EV_SHUTDOWN,      /* second Ctrl+C or SIGTERM */
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
    enum build_stop stop;
    char *error;
    double started, ended;
    struct ref ref; /* util/ref.h: the owner, and the deferred start */
    /* The build's cgroup (each job's is in it), or NULL. */
    struct cgroup_base *cg_base;
};

static void build_event(struct build *b, enum build_event ev);
static void slot_event(struct slot *sl, enum slot_event ev);
static void build_release(struct ref *r);

static const char *build_job_name(const struct build *b, long j)
{
    return b->cfg->jobs[j].name;
}

/*
 * Removes <logdir>/<name> (a host path made of a validated job name), when
 * there is one: the logs are made lazily, so a job whose stages were
 * silent and succeeded never had one.
 */
static void build_remove_logdir(const struct build *b, const char *name)
{
    struct err e;
    struct stat st;
    char *guest = xasprintf("/%s", name), *host = xasprintf("%s%s", b->cfg->logdir, guest);
    if ((lstat(host, &st) == 0 || errno != ENOENT) &&
        plat_remove(b->cfg->logdir, guest, NULL, &e) < 0)
        log_warn("%s", e.msg);
    free(host);
    free(guest);
}

/* Writes a one-line note into a log of the job's (for failures outside stages). */
static char *slot_note_log(struct slot *sl, const char *file, const char *msg)
{
    char *path = xasprintf("%s/%s.log", sl->logdir, file);
    struct err e;
    FILE *f = file_mkdir_p(sl->logdir, 0755, 0, &e) == 0 ? fopen(path, "a") : NULL;
    if (f) {
        fprintf(f, "%s\n", msg);
        fclose(f);
    }
    return path;
}

/* The ids of the slots' sandboxes, malloc'd, for the observer and the destroy. */
static unsigned *build_ids(const struct build *b)
{
    unsigned *ids = xcalloc(b->nslots ? b->nslots : 1, sizeof(*ids));
    for (size_t i = 0; i < b->nslots; i++)
        ids[i] = b->slots[i].id;
    return ids;
}

/* The ids of the sandboxes to destroy: all but the kept ones (--keep-failed); *n their number. */
static unsigned *build_ids_to_destroy(const struct build *b, size_t *n)
{
    unsigned *ids = xcalloc(b->nslots ? b->nslots : 1, sizeof(*ids));
    *n = 0;
    for (size_t i = 0; i < b->nslots; i++)
        if (!b->slots[i].kept)
            ids[(*n)++] = b->slots[i].id;
    return ids;
}

/* The errors of a batch's sandboxes, joined with "; " (malloc'd), or NULL if none has one. */
static char *build_batch_errors(struct sbx_batch *batch)
{
    struct buf msg = {0};
    for (size_t i = 0; i < sandbox_batch_size(batch); i++)
        if (sandbox_batch_error(batch, i))
            buf_printf(&msg, "%s%s", msg.len ? "; " : "", sandbox_batch_error(batch, i));
    return msg.p;
}

/* The destroy is over: its error, if any, is the run's. */
static void build_on_destroyed(struct sbx_batch *batch, void *data)
{
    struct build *b = data;
    if (sandbox_batch_status(batch) < 0) {
        char *msg = build_batch_errors(batch);
        free(b->error);
        b->error = msg ? msg : xstrdup("cannot destroy the sandboxes");
    }
    build_event(b, B_EV_DESTROYED);
}

/* The creation is over; an error is the run's, unless the operator cancelled it. */
static void build_on_created(struct sbx_batch *batch, void *data)
{
    struct build *b = data;
    if (sandbox_batch_status(batch) < 0) {
        char *msg = build_batch_errors(batch);
        if (!sandbox_batch_cancelled(batch))
            b->error = msg ? msg : xstrdup("cannot create the sandboxes");
        else
            free(msg);
        build_event(b, B_EV_CREATE_FAILED);
        return;
    }
    build_event(b, B_EV_CREATED);
}

/* A dependent of a job that failed: the observer hears of it at once. */
static void build_on_skip(size_t job, size_t failed, void *data)
{
    struct build *b = data;
    struct build_result *r = &b->results[job];
    r->state = JOB_SKIPPED;
    free(r->reason);
    r->reason = xasprintf("depends on %s", b->cfg->jobs[failed].name);
    r->blocker = &b->cfg->jobs[failed];
    if (b->obs.job_skipped)
        b->obs.job_skipped(b->obs.data, r);
}

/* Marks the job failed in `stage` with a reason, keeping `log`; a shutdown makes it interrupted. */
static void slot_fail(struct slot *sl, const char *stage, char *log, const char *reason)
{
    struct build_result *r = sl->res;
    if (r->stage || r->interrupted) {
        free(log);
        return;
    }
    if (sl->b->stop == B_SHUTDOWN) {
        r->interrupted = true;
        free(log);
        return;
    }
    r->stage = xstrdup(stage);
    r->log = log;
    r->reason = xstrdup(reason);
    /* --keep-failed: the sandbox stays as the failure left it, for no further job. */
    if (sl->b->ctx->keep_failed && sl->pl && strcmp(stage, "post-build") != 0 && !sl->kept) {
        pipeline_skip_post(sl->pl);
        sl->kept = sl->retired = true;
        r->kept = true;
        r->kept_sandbox = sl->id;
    }
}

/* The log of stage `name` of the slot's job (malloc'd): a failure keeps it. */
static char *slot_stage_log(const struct slot *sl, const char *name)
{
    return xasprintf("%s/%s.log", sl->logdir, name);
}

/* Output of the stage: to its log, and it counts as a sign of life (the silence limit). */
static void slot_on_stage_data(struct proc *p, int stream, const char *buf, size_t n, void *data)
{
    struct slot *sl = data;
    limits_output(sl->lim);
    if (buf) /* else spliced into the log already */
        capture_add(&sl->cap, buf, n);
    if (sl->b->obs.job_output)
        sl->b->obs.job_output(sl->b->obs.data, sl->index);
}

/* The stage's shell has exited; a process it started holds the output. */
static void slot_on_stage_linger(struct proc *p, void *data)
{
    slot_event(data, SL_EV_LINGER);
}

/* The stage ended: its outcome is recorded (log, failure), then it is an event. */
static void slot_on_stage_exit(struct proc *p, void *data)
{
    struct slot *sl = data;
    const struct stage *st = &sl->b->cfg->jobs[sl->job].stages[sl->stage];
    char status[96];
    struct err e;
    bool ok = proc_exit_code(p) == 0;
    if (proc_cpu_ms(p) >= 0)
        sl->cpu += proc_cpu_ms(p);
    proc_describe_status(p, status, sizeof(status));
    proc_free(p);
    sl->proc = NULL;
    /* A limit reached during the stage (the kernel's OOM kill, a failed fork) is the reason. */
    limits_check(sl->lim);
    if (!ok)
        capture_note(&sl->cap, "=> %s", status);
    sl->cap_open = false;
    if (capture_close(&sl->cap, &e) < 0) {
        slot_fail(sl, st->name, slot_stage_log(sl, st->name), e.msg);
        ok = false;
    } else if (!ok) {
        slot_fail(sl, st->name, slot_stage_log(sl, st->name), status);
    }
    slot_event(sl, ok ? SL_EV_STAGE_OK : SL_EV_STAGE_FAILED);
}

/*
 * The job's CPU time so far into its result: from its cgroup, or without
 * one what its reaped stage processes used (with what they waited for).
 */
static void slot_cpu_sample(struct slot *sl)
{
    uint64_t usec;
    struct err e;
    if (!sl->cg)
        sl->res->cpu_ms = sl->cpu;
    else
        sl->res->cpu_ms = cgroup_job_cpu_usec(sl->cg, &usec, &e) == 0 ? usec / 1000.0 : -1;
}

/* Starts stage sl->stage of the job, logging into <logdir>/<job>/<stage>.log; -1: it failed. */
static int slot_start_stage(struct slot *sl)
{
    struct build *b = sl->b;
    const struct job *j = &b->cfg->jobs[sl->job];
    const struct stage *st = &j->stages[sl->stage];
    const char *argv[] = {"/bin/sh", "-ceu", st->run, NULL};
    struct proc_opts o = {0};
    struct proc_cbs cbs = {slot_on_stage_data, slot_on_stage_exit, slot_on_stage_linger, sl};
    struct strv extra = {0}, env = {0};
    char idbuf[16];
    char *log = slot_stage_log(sl, st->name);
    char *header = xasprintf("=> %s", st->run);
    struct err e;
    bool as_user =
        b->cfg->build_user && (!strcmp(st->name, "configure") || !strcmp(st->name, "build") ||
                               !strcmp(st->name, "install"));

    fault_step("build.stage");
    slot_cpu_sample(sl); /* before the stage's first process */
    /* Made at the first byte (a silent stage that succeeds leaves no log), unless kept anyway. */
    if (!b->cfg->keep_logs) {
        capture_open_lazy(&sl->cap, sl->logdir, log, header);
    } else if (file_mkdir_p(sl->logdir, 0755, 0, &e) < 0 ||
               capture_open(&sl->cap, log, header, CAPTURE_OWN, &e) < 0) {
        free(header);
        slot_fail(sl, st->name, log, e.msg);
        return -1;
    }
    free(header);
    sl->cap_open = true;
    for (size_t i = 0; i < b->ctx->env.n; i++)
        strv_push(&extra, b->ctx->env.v[i]);
    for (size_t i = 0; i < j->env.n; i++)
        env_set(&extra, j->env.v[i]);
    /* Who it is, last: a job cannot be told otherwise by its own env. */
    snprintf(idbuf, sizeof(idbuf), "%u", sl->id);
    env_setkv(&extra, "bob_job", j->name);
    env_setkv(&extra, "bob_stage", st->name);
    env_setkv(&extra, "bob_sandbox_id", idbuf);
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
    o.sink[0] = o.sink[1] = &sl->cap; /* the log is the job's own: spliced into */
    /* A task limit counts every process of the cgroup: the stage's init too, until reaped. */
    o.end_at_reap = j->limits.tasks > 0;
    o.drain_ms = STAGE_DRAIN_MS;
    o.new_net = !j->network;
    o.cgroup = sl->cg ? &sl->lcg : NULL;
    sl->proc = proc_spawn(b->ctx->loop, &o, &cbs, &e);
    strv_free(&extra);
    strv_free(&env);
    if (!sl->proc) {
        struct err ce;
        capture_note(&sl->cap, "=> %s", e.msg);
        capture_close(&sl->cap, &ce); /* the spawn's error is the one to report */
        sl->cap_open = false;
        slot_fail(sl, st->name, log, e.msg);
        return -1;
    }
    free(log);
    if (limits_arm(sl->lim, &e) < 0)
        log_warn("sandbox %u: %s", sl->id, e.msg);
    if (b->obs.stage_started)
        b->obs.stage_started(b->obs.data, sl->index, j, st->name, &sl->cap);
    return 0;
}

/* ---- limits (sandbox/limits.h) ---- */

/* A limit of the job was reached: it fails with the reason, and all its processes are killed. */
static void slot_on_limit(struct limits *l, enum limits_kind kind, const char *reason, void *data)
{
    struct slot *sl = data;
    const struct job *j = &sl->b->cfg->jobs[sl->job];
    const char *stage = j->stages[sl->stage < j->nstages ? sl->stage : j->nstages - 1].name;
    if (sl->cap_open) {
        capture_note(&sl->cap, "=> %s", reason);
        slot_fail(sl, stage, slot_stage_log(sl, stage), reason);
    } else {
        slot_fail(sl, stage, slot_note_log(sl, stage, reason), reason);
    }
    slot_event(sl, SL_EV_LIMIT);
}

/* Kills every process of the job at once: its cgroup, or without one the running stage. */
static void slot_kill_job(struct slot *sl)
{
    struct err e;
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
        slot_fail(sl, j->stages[0].name, slot_note_log(sl, j->stages[0].name, e.msg), e.msg);
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

/* ---- the slot's state machine ---- */

/* The job has nothing more to run: the build shuts down, it failed, or no stage is left. */
static bool slot_job_over(const struct slot *sl)
{
    return sl->b->stop == B_SHUTDOWN || sl->res->interrupted || sl->res->stage ||
           sl->stage >= sl->b->cfg->jobs[sl->job].nstages;
}

/*
 * The transitions (state, event) -> state, as s6-supervise's
 * actions[state][event]; every pair not listed keeps the state:
 *
 *   IDLE   JOB           -> PRE
 *   PRE    WORK          -> STAGE, or END when the job is over (*)
 *   NEXT   WORK          -> STAGE, or END when the job is over (*)
 *   STAGE  STAGE_OK      -> NEXT
 *   STAGE  STAGE_FAILED  -> END
 *   PRE    DONE          -> IDLE (no work: the pre-build failed, or the build shut down)
 *   END    DONE          -> IDLE
 *
 * (*) over: the build shuts down, the job has failed already (a limit
 * reached between stages, limits the host cannot enforce), or no stage is
 * left. LINGER, LIMIT and SHUTDOWN keep the state: slot_act kills.
 */
static enum slot_state slot_transition(const struct slot *sl, enum slot_event ev)
{
    switch (sl->state) {
    case SLOT_IDLE:
        if (ev == SL_EV_JOB)
            return SLOT_PRE;
        break;
    case SLOT_PRE:
        if (ev == SL_EV_DONE)
            return SLOT_IDLE;
        /* fall through */
    case SLOT_NEXT:
        if (ev == SL_EV_WORK)
            return slot_job_over(sl) ? SLOT_END : SLOT_STAGE;
        break;
    case SLOT_STAGE:
        if (ev == SL_EV_STAGE_OK)
            return SLOT_NEXT;
        if (ev == SL_EV_STAGE_FAILED)
            return SLOT_END;
        break;
    case SLOT_END:
        if (ev == SL_EV_DONE)
            return SLOT_IDLE;
        break;
    }
    return sl->state;
}

/* What the events that keep the state do: they kill. */
static void slot_act(struct slot *sl, enum slot_event ev)
{
    switch (ev) {
    case SL_EV_LINGER:
        if (sl->proc)
            pipeline_kill(sl->pl, proc_pid(sl->proc));
        return;
    case SL_EV_LIMIT:
        slot_kill_job(sl);
        return;
    case SL_EV_SHUTDOWN:
        if (sl->state == SLOT_IDLE)
            return;
        sl->res->interrupted = true;
        pipeline_cancel(sl->pl); /* a pre-build stops, no work starts */
        if (sl->proc)
            pipeline_kill(sl->pl, proc_pid(sl->proc));
        return;
    default:
        return; /* an event that does not apply (none is expected) */
    }
}

/* ---- the slot's pipeline (sandbox/pipeline.h) ---- */

/* The pipeline's work: the job's stages, one after the other. */
static void slot_work(struct pipeline *p, void *data)
{
    slot_event(data, SL_EV_WORK);
}

/* The display hears of the pre- and post-build as stages. */
static void slot_step(struct pipeline *p, enum pipeline_step step, void *data)
{
    struct slot *sl = data;
    struct build *b = sl->b;
    if (step == PIPELINE_POST)
        slot_cpu_sample(sl);
    if ((step == PIPELINE_PRE || step == PIPELINE_POST) && b->obs.stage_started)
        b->obs.stage_started(b->obs.data, sl->index, &b->cfg->jobs[sl->job],
                             step == PIPELINE_PRE ? "pre-build" : "post-build", NULL);
}

/*
 * A failed pre- or post-build fails the job, and a failed post-build also
 * retires the sandbox (what it left, a PREFIX say, must not reach another
 * job); a failed kill is a warning.
 */
static void slot_ended(struct pipeline *p, enum pipeline_step step, int status, const struct err *e,
                       void *data)
{
    struct slot *sl = data;
    if (status == 0)
        return;
    if (step == PIPELINE_PRE) {
        slot_fail(sl, "pre-build", slot_note_log(sl, "pre-build", e->msg), e->msg);
    } else if (step == PIPELINE_POST) {
        slot_fail(sl, "post-build", slot_note_log(sl, "post-build", e->msg), e->msg);
        sl->retired = true;
        log_warn("sandbox %u: no further job runs in it: %s", sl->id, e->msg);
    } else {
        log_warn("sandbox %u: %s", sl->id, e->msg);
    }
}

/* The job on sl is over, its post-build included. */
static void slot_done(struct pipeline *p, void *data)
{
    slot_event(data, SL_EV_DONE);
}

static const struct pipeline_ops slot_ops = {slot_step, slot_ended, slot_work, slot_done};

/* A job is given to the slot: a clean log directory, then its pipeline (started deferred). */
static void slot_enter_pre(struct slot *sl)
{
    struct build *b = sl->b;
    fault_step("build.job");
    sl->res = &b->results[sl->job];
    sl->res->cpu_ms = -1;
    sl->cpu = 0;
    sl->stage = 0;
    sl->started = now_ms();
    sl->logdir = xasprintf("%s/%s", b->cfg->logdir, build_job_name(b, sl->job));
    /* Every attempt starts with a clean log directory. */
    build_remove_logdir(b, build_job_name(b, sl->job));
    if (b->obs.job_started)
        b->obs.job_started(b->obs.data, sl->index, sl->id, &b->cfg->jobs[sl->job]);
    sl->pl = pipeline_new(b->ctx, sl->root, true, &slot_ops, sl);
    pipeline_start(sl->pl);
}

/* The job ended, its post-build included: the result, the skips it causes, a free slot. */
static void slot_enter_idle(struct slot *sl)
{
    struct build *b = sl->b;
    struct build_result *r = sl->res;
    bool ok = !r->stage && !r->interrupted;
    r->ms = now_ms() - sl->started;
    if (ok && !b->cfg->keep_logs)
        build_remove_logdir(b, build_job_name(b, sl->job));
    if (r->interrupted)
        r->state = JOB_PENDING;
    else
        r->state = ok ? JOB_SUCCEEDED : JOB_FAILED;
    slot_limits_stop(sl);
    slot_cpu_sample(sl);
    cgroup_job_free(sl->cg); /* still busy: cgroup_base_close removes it */
    sl->cg = NULL;
    if (b->obs.job_finished)
        b->obs.job_finished(b->obs.data, sl->index, r);
    /* The skips it causes are reported after the failure itself. */
    if (!r->interrupted)
        sched_done(b->sched, (size_t)sl->job, ok, build_on_skip, b);
    pipeline_free(sl->pl);
    sl->pl = NULL;
    sl->job = -1;
    sl->res = NULL;
    free(sl->logdir);
    sl->logdir = NULL;
    build_event(b, B_EV_SLOT_FREE);
}

/* Does what entering state `to` means. */
static void slot_enter(struct slot *sl, enum slot_state to)
{
    sl->state = to;
    switch (to) {
    case SLOT_IDLE:
        slot_enter_idle(sl);
        return;
    case SLOT_PRE:
        slot_enter_pre(sl);
        return;
    case SLOT_STAGE:
        /* Limits start with the first stage; limits the host cannot enforce fail the job. */
        if ((!sl->lim && slot_limits_start(sl) < 0) || slot_start_stage(sl) < 0)
            slot_event(sl, SL_EV_STAGE_FAILED);
        return;
    case SLOT_NEXT:
        sl->stage++;
        /* The next stage, once a kill of this one's leftovers has ended. */
        pipeline_work_next(sl->pl);
        return;
    case SLOT_END:
        slot_limits_stop(sl); /* no limit applies to the kill and the post-build */
        pipeline_work_done(sl->pl, 0);
        return;
    }
}

/* Feeds an event to the transition function and enters the state it names. */
static void slot_event(struct slot *sl, enum slot_event ev)
{
    enum slot_state to = slot_transition(sl, ev);
    if (to != sl->state)
        slot_enter(sl, to);
    else
        slot_act(sl, ev);
}

/* ---- the build's state machine ---- */

static bool build_slots_idle(const struct build *b);

/* Gives the ready jobs to the free slots, in the scheduler's order. */
static void build_dispatch(struct build *b)
{
    if (b->stop != B_GO)
        return;
    for (size_t i = 0; i < b->nslots; i++) {
        struct slot *sl = &b->slots[i];
        long j;
        if (sl->state != SLOT_IDLE || sl->retired)
            continue;
        j = sched_next(b->sched);
        if (j < 0)
            break;
        sl->job = j;
        log_debug("schedule: %s to sandbox %u", build_job_name(b, j), sl->id);
        slot_event(sl, SL_EV_JOB);
    }
    /* Every sandbox left was retired (a failed post-build): what is pending is skipped. */
    if (build_slots_idle(b) && !sched_finished(b->sched) && sched_abandon(b->sched) > 0)
        for (size_t j = 0; j < b->cfg->njobs; j++)
            if (sched_state(b->sched, j) == JOB_SKIPPED && b->results[j].state == JOB_PENDING) {
                b->results[j].state = JOB_SKIPPED;
                b->results[j].reason = xstrdup(
                    b->ctx->keep_failed
                        ? "no usable sandbox left: each is kept for a failed job (--keep-failed) "
                          "or its post-build failed"
                        : "no usable sandbox left: a post-build failed");
                if (b->obs.job_skipped)
                    b->obs.job_skipped(b->obs.data, &b->results[j]);
            }
}

/* Whether no slot has a job (the run is over once dispatch gave none a new one). */
static bool build_slots_idle(const struct build *b)
{
    for (size_t i = 0; i < b->nslots; i++)
        if (b->slots[i].state != SLOT_IDLE)
            return false;
    return true;
}

/*
 * The transitions (phase, event) -> phase, as s6-supervise's
 * actions[state][event]; every pair not listed keeps the phase:
 *
 *   START    START          -> CREATE, or DONE with no slot or when shutting down
 *   CREATE   CREATED        -> RUN
 *   CREATE   CREATE_FAILED  -> DONE
 *   RUN      SLOT_FREE      -> DESTROY when no slot has a job, else RUN
 *   DESTROY  DESTROYED      -> DONE
 *
 * Before the transition, build_event acts on the pairs that decide it:
 * RUN SLOT_FREE gives the ready jobs to the free slots (unless stopping);
 * STOP and SHUTDOWN, in any phase but DONE, raise b->stop (GO -> STOPPING
 * -> SHUTDOWN, never down) and SHUTDOWN cancels the creation (CREATE_FAILED
 * follows) or every running job (each SLOT_FREE follows).
 */
static enum build_phase build_transition(const struct build *b, enum build_event ev)
{
    switch (b->phase) {
    case B_START:
        if (ev == B_EV_START)
            return b->nslots == 0 || b->stop == B_SHUTDOWN ? B_DONE : B_CREATE;
        break;
    case B_CREATE:
        if (ev == B_EV_CREATED)
            return B_RUN;
        if (ev == B_EV_CREATE_FAILED)
            return B_DONE;
        break;
    case B_RUN:
        if (ev == B_EV_SLOT_FREE && build_slots_idle(b))
            return B_DESTROY;
        break;
    case B_DESTROY:
        if (ev == B_EV_DESTROYED)
            return B_DONE;
        break;
    case B_DONE:
        break;
    }
    return b->phase;
}

/* STOP or SHUTDOWN: says so once each, and a shutdown kills what runs. */
static void build_raise_stop(struct build *b, enum build_stop level)
{
    if (b->stop == B_GO) {
        b->stop = B_STOPPING;
        if (b->obs.note)
            b->obs.note(b->obs.data, "stopping", "stopping, ^C again to stop now");
    }
    if (level != B_SHUTDOWN || b->stop == B_SHUTDOWN)
        return;
    b->stop = B_SHUTDOWN;
    if (b->obs.note)
        b->obs.note(b->obs.data, "shutdown",
                    "shutting down: killing every process in the sandboxes");
    if (b->phase == B_CREATE && b->batch) {
        sandbox_batch_cancel(b->batch);
        return;
    }
    for (size_t i = 0; i < b->nslots; i++)
        slot_event(&b->slots[i], SL_EV_SHUTDOWN);
}

/* Does what entering phase `to` (from `from`) means. The finished callback is the last thing. */
static void build_enter(struct build *b, enum build_phase from, enum build_phase to)
{
    unsigned *ids;
    size_t nd;
    b->phase = to;
    switch (to) {
    case B_START:
        return;
    case B_CREATE:
        b->batch = sandbox_create(b->ctx, b->nslots, build_on_created, b);
        return;
    case B_RUN:
        for (size_t i = 0; i < b->nslots; i++) {
            b->slots[i].id = sandbox_batch_id(b->batch, i);
            b->slots[i].root = sandbox_path(b->cfg, b->slots[i].id);
        }
        if (b->obs.sandboxes) {
            ids = build_ids(b);
            b->obs.sandboxes(b->obs.data, ids, b->nslots, true);
            free(ids);
        }
        build_event(b, B_EV_SLOT_FREE); /* every slot is free */
        return;
    case B_DESTROY:
        if (b->obs.note)
            b->obs.note(b->obs.data, "cleanup", "destroying the sandboxes");
        ids = build_ids_to_destroy(b, &nd);
        sandbox_batch_free(b->batch);
        b->batch = sandbox_destroy(b->ctx, ids, nd, false, build_on_destroyed, b);
        free(ids);
        return;
    case B_DONE:
        if (from != B_DESTROY) {
            sched_abandon(b->sched); /* no sandbox: nothing ran, nothing will */
        } else if (b->obs.sandboxes) {
            ids = build_ids_to_destroy(b, &nd);
            b->obs.sandboxes(b->obs.data, ids, nd, false);
            free(ids);
        }
        b->ended = now_ms();
        b->obs.finished(b->obs.data); /* may free b: build_event holds it */
        return;
    }
}

/* Feeds an event to the transition function and enters the phase it names. */
static void build_event(struct build *b, enum build_event ev)
{
    enum build_phase to;
    if (b->phase == B_DONE)
        return;
    ref_hold(&b->ref); /* the observer may call build_free from inside */
    if (ev == B_EV_STOP || ev == B_EV_SHUTDOWN)
        build_raise_stop(b, ev == B_EV_SHUTDOWN ? B_SHUTDOWN : B_STOPPING);
    else if (b->phase == B_RUN && ev == B_EV_SLOT_FREE)
        build_dispatch(b);
    to = build_transition(b, ev);
    if (to != b->phase)
        build_enter(b, b->phase, to);
    ref_drop(&b->ref);
}

/* The deferred start: no observer callback runs inside build_start. */
static void build_on_start(void *data)
{
    struct build *b = data;
    if (!b->ref.free_requested)
        build_event(b, B_EV_START);
    ref_drop(&b->ref);
}

struct build *build_start(struct sbx_ctx *ctx, const size_t *jobs, size_t n,
                          const struct build_observer *obs)
{
    return build_start_plan(ctx, jobs, n, NULL, obs);
}

/* A dependent of a kept failure: skipped before the start, silently. */
static void build_on_settled_skip(size_t job, size_t failed, void *data)
{
    struct build *b = data;
    b->results[job].state = JOB_SKIPPED;
    b->results[job].settled = true;
    free(b->results[job].reason);
    b->results[job].reason = xasprintf("depends on %s", b->cfg->jobs[failed].name);
    b->results[job].blocker = &b->cfg->jobs[failed];
}

struct build *build_start_plan(struct sbx_ctx *ctx, const size_t *jobs, size_t n,
                               const struct build_plan *plan, const struct build_observer *obs)
{
    struct build *b = xcalloc(1, sizeof(*b));
    size_t left = n;
    struct err e;
    unsigned stale = 0;
    b->ctx = ctx;
    ctx->kit_reuse = n > 1; /* the kit is unpacked once and overlaid (sandbox/kit.h) */
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
        sched_done(b->sched, jobs[i], st == JOB_SUCCEEDED, build_on_settled_skip, b);
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
    build_event(b, now ? B_EV_SHUTDOWN : B_EV_STOP);
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
    return b->stop != B_GO;
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
        struct slot *sl = &b->slots[i];
        /* Freed during a job (to abandon the build): none of its callbacks runs any more. */
        proc_free(sl->proc);
        if (sl->cap_open)
            capture_close(&sl->cap, &e);
        pipeline_free(sl->pl);
        free(sl->root);
        free(sl->logdir);
        limits_free(sl->lim);
        cgroup_job_free(sl->cg);
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
