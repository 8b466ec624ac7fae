/*
 * bob build's state. The plan: a build that did not end (interrupted,
 * killed) is resumed: its succeeded jobs are not run again unless their
 * definition hash changed, its failures are kept until bob rebuild. A build
 * that ended is followed by a new one, where a job is up to date when its
 * latest recorded end was a success with the same hash and every job it
 * depends on is up to date too. The recorder turns each observer event into
 * one write of src/state, on the loop thread, batched per loop pass.
 */
#include "cli/build_state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct bstate_prev {
    char *status, *hash, *stage, *reason, *log;
};

struct bstate {
    const struct config *cfg;
    struct state *st;
    int64_t id;
    bool resumed;
    char **hash;
    enum job_state *settled;
    double *weight;
    bool *uptodate;
    struct bstate_prev *prev; /* per cfg job: its row in the resumed build, or the latest */
    long *blocker;            /* per cfg job: the failed job that skipped it, -1 unknown */
    double *cpu0;             /* per cfg job: its CPU time (ms) when its open stage started */
    const char **stage_of;    /* per cfg job: its last stage before the post-build */
    struct build_plan plan;
    struct build_observer inner;
    struct build *build;
};

double bstate_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* FNV-1a, 64 bits, over a string and its terminating NUL (so fields stay apart). */
static uint64_t bstate_fnv(uint64_t h, const char *s)
{
    if (!s)
        s = "";
    do
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    while (*s++);
    return h;
}

/*
 * Every job's hash (name, stages, environment, limits, network, the
 * dependencies' hashes), dependencies first: an explicit post-order walk (a
 * chain of 20,000 jobs must not take 20,000 C frames).
 */
char **bstate_hashes(const struct config *cfg)
{
    size_t n = cfg->njobs, m = n ? n : 1, sp = 0;
    char **h = xcalloc(m, sizeof(*h));
    size_t *stack = xcalloc(2 * m + 2, sizeof(*stack));
    bool *seen = xcalloc(m, sizeof(*seen));
    for (size_t root = 0; root < n; root++) {
        if (h[root] || seen[root])
            continue;
        seen[root] = true;
        stack[sp++] = root;
        stack[sp++] = 0;
        while (sp > 0) {
            size_t j = stack[sp - 2], d = stack[sp - 1];
            const struct job *jb = &cfg->jobs[j];
            if (d < jb->depends.n) {
                size_t k = jb->dep_idx[d];
                stack[sp - 1] = d + 1;
                if (!seen[k]) {
                    seen[k] = true;
                    stack[sp++] = k;
                    stack[sp++] = 0;
                }
                continue;
            }
            sp -= 2;
            uint64_t x = 14695981039346656037u;
            x = bstate_fnv(x, jb->name);
            for (size_t s = 0; s < jb->nstages; s++) {
                x = bstate_fnv(x, jb->stages[s].name);
                x = bstate_fnv(x, jb->stages[s].run);
            }
            x = bstate_fnv(x, "env");
            for (size_t s = 0; s < jb->env.n; s++)
                x = bstate_fnv(x, jb->env.v[s]);
            {
                char lim[128];
                snprintf(lim, sizeof(lim), "limits %u %u %llu %llu net %d", jb->limits.time,
                         jb->limits.silence, (unsigned long long)jb->limits.memory,
                         (unsigned long long)jb->limits.tasks, jb->network);
                x = bstate_fnv(x, lim);
            }
            x = bstate_fnv(x, "deps");
            /* A cycle is refused by the loader; "" stands in defensively. */
            for (size_t s = 0; s < jb->depends.n; s++)
                x = bstate_fnv(x, h[jb->dep_idx[s]] ? h[jb->dep_idx[s]] : "");
            h[j] = xasprintf("%016llx", (unsigned long long)x);
        }
    }
    free(stack);
    free(seen);
    return h;
}

void bstate_hashes_free(char **h, size_t n)
{
    for (size_t i = 0; h && i < n; i++)
        free(h[i]);
    free(h);
}

/* The open-addressed name table of the config's jobs, for the rows read back. */
struct bstate_load {
    struct bstate *bs;
    size_t *table, mask;
    bool weights;
};

static uint64_t bstate_name_hash(const char *s)
{
    return bstate_fnv(14695981039346656037u, s);
}

static long bstate_find(const struct bstate_load *l, const char *name)
{
    const struct config *cfg = l->bs->cfg;
    for (size_t h = bstate_name_hash(name) & l->mask; l->table[h]; h = (h + 1) & l->mask)
        if (strcmp(cfg->jobs[l->table[h] - 1].name, name) == 0)
            return (long)(l->table[h] - 1);
    return -1;
}

static void bstate_on_row(const struct state_job *r, void *data)
{
    struct bstate_load *l = data;
    long j = bstate_find(l, r->job);
    struct bstate_prev *p;
    if (j < 0)
        return;
    p = &l->bs->prev[j];
    free(p->status);
    free(p->hash);
    free(p->stage);
    free(p->reason);
    free(p->log);
    p->status = r->status ? xstrdup(r->status) : NULL;
    p->hash = r->hash ? xstrdup(r->hash) : NULL;
    p->stage = r->stage ? xstrdup(r->stage) : NULL;
    p->reason = r->reason ? xstrdup(r->reason) : NULL;
    p->log = r->log ? xstrdup(r->log) : NULL;
}

/* Reads the recorded durations (the last success of each job) into the weights. */
static int bstate_load_weights(struct bstate *bs, struct bstate_load *l, struct err *e)
{
    struct state_rows rows;
    double sum = 0;
    size_t known = 0;
    bool *have = xcalloc(bs->cfg->njobs + 1, sizeof(*have));
    if (state_query(bs->st,
                    "SELECT job, duration FROM jobs WHERE status='succeeded' AND duration IS NOT"
                    " NULL ORDER BY build",
                    NULL, 0, &rows, e) < 0) {
        free(have);
        return -1;
    }
    for (size_t r = 0; r < rows.nrows; r++) {
        long j = rows.cells[2 * r] ? bstate_find(l, rows.cells[2 * r]) : -1;
        if (j < 0 || !rows.cells[2 * r + 1])
            continue;
        bs->weight[j] = strtod(rows.cells[2 * r + 1], NULL);
        have[j] = true;
    }
    for (size_t j = 0; j < bs->cfg->njobs; j++)
        if (have[j]) {
            sum += bs->weight[j];
            known++;
        }
    /* No history: every job weighs 1 (the chain length); partly: the mean. */
    for (size_t j = 0; j < bs->cfg->njobs; j++)
        if (!have[j])
            bs->weight[j] = known ? sum / (double)known : 1;
    l->weights = known > 0;
    state_rows_free(&rows);
    free(have);
    return 0;
}

/* Whether the recorded row of job j is a success of the same definition. */
static bool bstate_same_success(const struct bstate *bs, size_t j)
{
    const struct bstate_prev *p = &bs->prev[j];
    return p->status && p->hash && strcmp(p->hash, bs->hash[j]) == 0 &&
           (strcmp(p->status, "succeeded") == 0 || strcmp(p->status, "up-to-date") == 0);
}

/* Decides, for a new build, which jobs are up to date (dependencies first: in hash order). */
static void bstate_plan_new(struct bstate *bs, const size_t *jobs, size_t n)
{
    const struct config *cfg = bs->cfg;
    bool changed = true;
    for (size_t i = 0; i < n; i++) {
        bs->uptodate[jobs[i]] = bstate_same_success(bs, jobs[i]);
    }
    /* Clear every job with a dependency that is not up to date, to a fixpoint. */
    while (changed) {
        changed = false;
        for (size_t i = 0; i < n; i++) {
            const struct job *jb = &cfg->jobs[jobs[i]];
            if (!bs->uptodate[jobs[i]])
                continue;
            for (size_t d = 0; d < jb->depends.n; d++)
                if (!bs->uptodate[jb->dep_idx[d]]) {
                    bs->uptodate[jobs[i]] = false;
                    changed = true;
                    break;
                }
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = jobs[i];
        bs->settled[j] = bs->uptodate[j] ? JOB_SUCCEEDED : JOB_PENDING;
        state_job_plan(bs->st, bs->id, cfg->jobs[j].name,
                       bs->uptodate[j] ? STATE_UPTODATE : STATE_PENDING, bs->hash[j]);
    }
}

/* Decides, for a resumed build, what stays settled and what runs. */
static void bstate_plan_resume(struct bstate *bs, const size_t *jobs, size_t n,
                               const struct bstate_opts *o)
{
    const struct config *cfg = bs->cfg;
    for (size_t i = 0; i < n; i++) {
        size_t j = jobs[i];
        const struct bstate_prev *p = &bs->prev[j];
        bool same = p->hash && strcmp(p->hash, bs->hash[j]) == 0;
        bool retry = o->retry_all || (o->retry && o->retry[j]);
        bs->settled[j] = JOB_PENDING;
        if (same && bstate_same_success(bs, j)) {
            bs->settled[j] = JOB_SUCCEEDED;
            bs->uptodate[j] = strcmp(p->status, "up-to-date") == 0;
            continue;
        }
        if (same && strcmp(p->status, "failed") == 0 && !retry) {
            bs->settled[j] = JOB_FAILED;
            continue;
        }
        state_job_plan(bs->st, bs->id, cfg->jobs[j].name, STATE_PENDING, bs->hash[j]);
    }
}

int bstate_open(const struct config *cfg, uv_loop_t *loop, const size_t *jobs, size_t n,
                const struct bstate_opts *o, struct bstate **out, struct err *e)
{
    struct bstate *bs = xcalloc(1, sizeof(*bs));
    struct bstate_load l = {bs, NULL, 0, false};
    size_t m = cfg->njobs ? cfg->njobs : 1, size = 16;
    int64_t cur;
    bool finished;
    char host[256] = "";
    *out = NULL;
    bs->cfg = cfg;
    if (state_open(cfg->dbdir, true, &bs->st, e) < 0 || state_lock(bs->st, e) < 0 ||
        state_current(bs->st, &cur, &finished, e) < 0)
        goto fail;
    if (o->rebuild && cur == 0) {
        err_set(e, "no current build to rebuild in %s: run bob build", cfg->dbdir);
        goto fail;
    }
    bs->hash = bstate_hashes(cfg);
    bs->settled = xcalloc(m, sizeof(*bs->settled));
    bs->weight = xcalloc(m, sizeof(*bs->weight));
    bs->uptodate = xcalloc(m, sizeof(*bs->uptodate));
    bs->prev = xcalloc(m, sizeof(*bs->prev));
    bs->blocker = xcalloc(m, sizeof(*bs->blocker));
    bs->cpu0 = xcalloc(m, sizeof(*bs->cpu0));
    bs->stage_of = xcalloc(m, sizeof(*bs->stage_of));
    for (size_t j = 0; j < cfg->njobs; j++) {
        bs->blocker[j] = -1;
        bs->cpu0[j] = -1;
    }
    while (size < 2 * cfg->njobs)
        size *= 2;
    l.table = xcalloc(size, sizeof(*l.table));
    l.mask = size - 1;
    for (size_t j = 0; j < cfg->njobs; j++) {
        size_t h = bstate_name_hash(cfg->jobs[j].name) & l.mask;
        while (l.table[h])
            h = (h + 1) & l.mask;
        l.table[h] = j + 1;
    }
    if (bstate_load_weights(bs, &l, e) < 0)
        goto fail_l;
    bs->resumed = cur != 0 && !o->all && (o->rebuild || !finished);
    if (bs->resumed ? state_jobs(bs->st, cur, bstate_on_row, &l, e) < 0
                    : !o->all && state_latest(bs->st, bstate_on_row, &l, e) < 0)
        goto fail_l;
    state_attach(bs->st, loop);
    if (bs->resumed) {
        bs->id = cur;
        state_build_resume(bs->st, cur, bstate_now());
        state_build_settle_running(bs->st, cur);
        bstate_plan_resume(bs, jobs, n, o);
    } else {
        if (cur && !finished)
            state_build_end(bs->st, cur, "interrupted", bstate_now());
        gethostname(host, sizeof(host) - 1);
        bs->id = state_build_new(bs->st, cfg->path, host, bstate_now());
        if (o->all || o->fresh)
            for (size_t j = 0; j < cfg->njobs; j++)
                free(bs->prev[j].status), bs->prev[j].status = NULL;
        bstate_plan_new(bs, jobs, n);
    }
    if (state_error(bs->st) || state_flush(bs->st) < 0) {
        err_set(e, "%s", state_error(bs->st));
        goto fail_l;
    }
    bs->plan.settled = bs->settled;
    bs->plan.weight = l.weights ? bs->weight : NULL;
    free(l.table);
    *out = bs;
    return 0;
fail_l:
    free(l.table);
fail:
    bstate_free(bs);
    return -1;
}

const struct build_plan *bstate_plan(const struct bstate *bs)
{
    return &bs->plan;
}

int64_t bstate_id(const struct bstate *bs)
{
    return bs->id;
}

bool bstate_resumed(const struct bstate *bs)
{
    return bs->resumed;
}

bool bstate_uptodate(const struct bstate *bs, size_t j)
{
    return bs->uptodate[j];
}

void bstate_failure(const struct bstate *bs, size_t j, const char **stage, const char **reason,
                    const char **log)
{
    *stage = bs->prev[j].stage;
    *reason = bs->prev[j].reason;
    *log = bs->prev[j].log;
}

const char *bstate_error(const struct bstate *bs)
{
    return bs->st ? state_error(bs->st) : NULL;
}

void bstate_free(struct bstate *bs)
{
    if (!bs)
        return;
    state_close(bs->st);
    for (size_t j = 0; bs->prev && j < bs->cfg->njobs; j++) {
        free(bs->prev[j].status);
        free(bs->prev[j].hash);
        free(bs->prev[j].stage);
        free(bs->prev[j].reason);
        free(bs->prev[j].log);
    }
    bstate_hashes_free(bs->hash, bs->cfg->njobs);
    free(bs->prev);
    free(bs->settled);
    free(bs->weight);
    free(bs->uptodate);
    free(bs->blocker);
    free(bs->cpu0);
    free(bs->stage_of);
    free(bs);
}

/*
 * The failed job at the root of a skip: a failed dependency, else the
 * blocker of a skipped one (skips are reported after what caused them).
 */
static long bstate_blocker(struct bstate *bs, size_t j)
{
    const struct build_result *r = build_results(bs->build);
    const struct job *jb = &bs->cfg->jobs[j];
    if (bs->blocker[j] >= 0)
        return bs->blocker[j];
    for (size_t d = 0; d < jb->depends.n; d++)
        if (r[jb->dep_idx[d]].state == JOB_FAILED && !r[jb->dep_idx[d]].interrupted)
            return bs->blocker[j] = (long)jb->dep_idx[d];
    for (size_t d = 0; d < jb->depends.n; d++)
        if (r[jb->dep_idx[d]].state == JOB_SKIPPED && bs->blocker[jb->dep_idx[d]] >= 0)
            return bs->blocker[j] = bs->blocker[jb->dep_idx[d]];
    return -1;
}

/* Records a skip with the job that blocked it. */
static void bstate_skip(struct bstate *bs, const struct build_result *r)
{
    size_t j = (size_t)(r->job - bs->cfg->jobs);
    long b = bstate_blocker(bs, j);
    state_job_skipped(bs->st, bs->id, r->job->name, r->reason,
                      b >= 0 ? bs->cfg->jobs[b].name : NULL);
}

void bstate_started(struct bstate *bs, struct build *b)
{
    const struct build_result *r = build_results(b);
    bs->build = b;
    for (size_t j = 0; j < build_nresults(b); j++)
        if (r[j].settled && r[j].state == JOB_SKIPPED)
            bstate_skip(bs, &r[j]);
}

static void bstate_on_sandboxes(void *data, const unsigned *ids, size_t n, bool created)
{
    struct bstate *bs = data;
    if (bs->inner.sandboxes)
        bs->inner.sandboxes(bs->inner.data, ids, n, created);
}

/*
 * The open stage of job j ends: its CPU time is what the job's processes
 * used since it started (both known), and the next stage starts from now.
 */
static void bstate_stage_cpu(struct bstate *bs, const struct job *j)
{
    size_t i = (size_t)(j - bs->cfg->jobs);
    double cpu = build_results(bs->build)[i].cpu_ms;
    if (cpu >= 0 && bs->cpu0[i] >= 0)
        state_job_stage_cpu(bs->st, bs->id, j->name, cpu - bs->cpu0[i]);
    bs->cpu0[i] = cpu;
}

static void bstate_on_job_started(void *data, size_t slot, unsigned sandbox, const struct job *j)
{
    struct bstate *bs = data;
    bs->cpu0[j - bs->cfg->jobs] = -1;
    bs->stage_of[j - bs->cfg->jobs] = NULL;
    state_job_started(bs->st, bs->id, j->name, sandbox, bstate_now());
    if (bs->inner.job_started)
        bs->inner.job_started(bs->inner.data, slot, sandbox, j);
}

static void bstate_on_stage_started(void *data, size_t slot, const struct job *j, const char *stage,
                                    const struct capture *output)
{
    struct bstate *bs = data;
    bstate_stage_cpu(bs, j);
    /* The stage a kill interrupts: the post-build that follows it is not. */
    if (output || strcmp(stage, "post-build") != 0)
        bs->stage_of[j - bs->cfg->jobs] = stage;
    state_job_stage(bs->st, bs->id, j->name, stage, bstate_now());
    if (bs->inner.stage_started)
        bs->inner.stage_started(bs->inner.data, slot, j, stage, output);
}

static void bstate_on_job_output(void *data, size_t slot)
{
    struct bstate *bs = data;
    if (bs->inner.job_output)
        bs->inner.job_output(bs->inner.data, slot);
}

static void bstate_on_job_finished(void *data, size_t slot, const struct build_result *r)
{
    struct bstate *bs = data;
    enum state_status s = r->interrupted              ? STATE_INTERRUPTED
                          : r->state == JOB_SUCCEEDED ? STATE_SUCCEEDED
                                                      : STATE_FAILED;
    bool failed = s == STATE_FAILED, killed = s == STATE_INTERRUPTED;
    const char *in = bs->stage_of[r->job - bs->cfg->jobs];
    bstate_stage_cpu(bs, r->job);
    /* Killed by a shutdown: the stage it was in, and "killed". */
    state_job_finished(bs->st, bs->id, r->job->name, s,
                       failed   ? r->stage
                       : killed ? in
                                : NULL,
                       failed   ? r->reason
                       : killed ? "killed"
                                : NULL,
                       failed ? r->log : NULL, r->ms, bstate_now());
    if (bs->inner.job_finished)
        bs->inner.job_finished(bs->inner.data, slot, r);
}

static void bstate_on_job_skipped(void *data, const struct build_result *r)
{
    struct bstate *bs = data;
    bstate_skip(bs, r);
    if (bs->inner.job_skipped)
        bs->inner.job_skipped(bs->inner.data, r);
}

static void bstate_on_note(void *data, const char *event, const char *text)
{
    struct bstate *bs = data;
    if (bs->inner.note)
        bs->inner.note(bs->inner.data, event, text);
}

/* The build is over: its end and outcome, committed before the summary. */
static void bstate_on_finished(void *data)
{
    struct bstate *bs = data;
    const char *outcome = NULL;
    if (build_error(bs->build) || build_interrupted(bs->build))
        outcome = "interrupted";
    if (build_interrupted(bs->build))
        state_build_interrupt_pending(bs->st, bs->id);
    state_build_end(bs->st, bs->id, outcome, bstate_now());
    state_detach(bs->st);
    bs->inner.finished(bs->inner.data);
}

void bstate_wrap(struct bstate *bs, const struct build_observer *inner, struct build_observer *out)
{
    bs->inner = *inner;
    out->sandboxes = bstate_on_sandboxes;
    out->job_started = bstate_on_job_started;
    out->stage_started = bstate_on_stage_started;
    out->job_output = bstate_on_job_output;
    out->job_finished = bstate_on_job_finished;
    out->job_skipped = bstate_on_job_skipped;
    out->note = bstate_on_note;
    out->finished = bstate_on_finished;
    out->data = bs;
}
