/* The build scheduler. */
#include "sandbox/sched.h"

#include <stdlib.h>
#include <string.h>

struct sched {
    const struct config *cfg;
    size_t njobs; /* cfg->njobs */
    bool *in;     /* part of this run */
    enum job_state *state;
    size_t *waiting; /* dependencies not yet succeeded */
    size_t *prio;
    size_t count[JOB_SKIPPED + 1];
    size_t total;
};

/* Adds job j and its dependencies to the selection. */
static void select_closure(const struct config *cfg, size_t j, bool *sel)
{
    if (sel[j])
        return;
    sel[j] = true;
    for (size_t d = 0; d < cfg->jobs[j].depends.n; d++)
        select_closure(cfg, cfg->jobs[j].dep_idx[d], sel);
}

int sched_select(const struct config *cfg, char *const *names, size_t n, size_t **out, size_t *nout,
                 struct err *e)
{
    bool *sel = xcalloc(cfg->njobs ? cfg->njobs : 1, sizeof(*sel));
    *out = NULL;
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < cfg->njobs && strcmp(cfg->jobs[j].name, names[i]) != 0)
            j++;
        if (j == cfg->njobs) {
            free(sel);
            return err_set(e, "unknown job '%s'", names[i]);
        }
        select_closure(cfg, j, sel);
    }
    *out = xcalloc(cfg->njobs ? cfg->njobs : 1, sizeof(**out));
    for (size_t j = 0; j < cfg->njobs; j++)
        if (n == 0 || sel[j])
            (*out)[(*nout)++] = j;
    free(sel);
    return 0;
}

/* The longest chain of dependents below j, memoised in prio (0 = unknown). */
static size_t height(struct sched *s, size_t j)
{
    size_t best = 0;
    if (s->prio[j])
        return s->prio[j];
    for (size_t k = 0; k < s->njobs; k++) {
        if (!s->in[k])
            continue;
        for (size_t d = 0; d < s->cfg->jobs[k].depends.n; d++)
            if (s->cfg->jobs[k].dep_idx[d] == j) {
                size_t h = height(s, k);
                if (h > best)
                    best = h;
            }
    }
    return s->prio[j] = best + 1;
}

struct sched *sched_new(const struct config *cfg, const size_t *jobs, size_t n)
{
    struct sched *s = xcalloc(1, sizeof(*s));
    size_t m = cfg->njobs ? cfg->njobs : 1;
    s->cfg = cfg;
    s->njobs = cfg->njobs;
    s->in = xcalloc(m, sizeof(*s->in));
    s->state = xcalloc(m, sizeof(*s->state));
    s->waiting = xcalloc(m, sizeof(*s->waiting));
    s->prio = xcalloc(m, sizeof(*s->prio));
    for (size_t i = 0; i < n; i++)
        s->in[jobs[i]] = true;
    for (size_t j = 0; j < s->njobs; j++) {
        if (!s->in[j])
            continue;
        s->total++;
        s->count[JOB_PENDING]++;
        /* The selection is closed under dependencies (sched_select). */
        s->waiting[j] = cfg->jobs[j].depends.n;
    }
    for (size_t j = 0; j < s->njobs; j++)
        if (s->in[j])
            height(s, j);
    return s;
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    free(s->in);
    free(s->state);
    free(s->waiting);
    free(s->prio);
    free(s);
}

static void set_state(struct sched *s, size_t j, enum job_state st)
{
    s->count[s->state[j]]--;
    s->state[j] = st;
    s->count[st]++;
}

long sched_next(struct sched *s)
{
    long best = -1;
    for (size_t j = 0; j < s->njobs; j++) {
        if (!s->in[j] || s->state[j] != JOB_PENDING || s->waiting[j] > 0)
            continue;
        if (best < 0 || s->prio[j] > s->prio[best])
            best = (long)j;
    }
    if (best >= 0)
        set_state(s, (size_t)best, JOB_RUNNING);
    return best;
}

/* Skips every pending job that depends, directly or not, on job j. */
static void skip_dependents(struct sched *s, size_t j, size_t failed, sched_skip_cb cb, void *data)
{
    for (size_t k = 0; k < s->njobs; k++) {
        if (!s->in[k] || s->state[k] != JOB_PENDING)
            continue;
        for (size_t d = 0; d < s->cfg->jobs[k].depends.n; d++)
            if (s->cfg->jobs[k].dep_idx[d] == j) {
                set_state(s, k, JOB_SKIPPED);
                if (cb)
                    cb(k, failed, data);
                skip_dependents(s, k, failed, cb, data);
                break;
            }
    }
}

void sched_done(struct sched *s, size_t job, bool ok, sched_skip_cb cb, void *data)
{
    set_state(s, job, ok ? JOB_SUCCEEDED : JOB_FAILED);
    if (!ok) {
        skip_dependents(s, job, job, cb, data);
        return;
    }
    for (size_t k = 0; k < s->njobs; k++) {
        if (!s->in[k])
            continue;
        for (size_t d = 0; d < s->cfg->jobs[k].depends.n; d++)
            if (s->cfg->jobs[k].dep_idx[d] == job && s->waiting[k] > 0)
                s->waiting[k]--;
    }
}

size_t sched_abandon(struct sched *s)
{
    size_t n = 0;
    for (size_t j = 0; j < s->njobs; j++)
        if (s->in[j] && s->state[j] == JOB_PENDING) {
            set_state(s, j, JOB_SKIPPED);
            n++;
        }
    return n;
}

enum job_state sched_state(const struct sched *s, size_t job)
{
    return s->state[job];
}

size_t sched_priority(const struct sched *s, size_t job)
{
    return s->prio[job];
}

size_t sched_count(const struct sched *s, enum job_state st)
{
    return s->count[st];
}

size_t sched_total(const struct sched *s)
{
    return s->total;
}

bool sched_finished(const struct sched *s)
{
    return s->count[JOB_PENDING] == 0 && s->count[JOB_RUNNING] == 0;
}
