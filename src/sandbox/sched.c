/*
 * The build scheduler, in O(n + E) bookkeeping (plus O(log n) per ready
 * job for the heap). The graph is read once, in sched_new: the dependents
 * of every job become one reverse list (compressed: rev[rev_off[j] ..
 * rev_off[j + 1]), in config order), each job counts its dependencies not
 * yet succeeded, and the priorities are computed once, in topological
 * order from the jobs nothing depends on. After that no call rescans the
 * jobs: a success walks the finished job's dependents and moves those
 * whose count reaches 0 onto the ready heap; a failure walks the same
 * lists to skip what depends on it, directly or not; sched_next pops the
 * heap, ordered by priority and then by config order.
 */
#include "sandbox/sched.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sched {
    const struct config *cfg;
    size_t njobs; /* cfg->njobs */
    bool *in;     /* part of this run */
    enum job_state *state;
    size_t *waiting; /* dependencies not yet succeeded */
    size_t *prio;
    double *weight;  /* per job: its recorded duration, or NULL (each counts 1) */
    double *path;    /* the heaviest chain of dependents each job heads, itself included */
    size_t *rev_off; /* njobs + 1 offsets into rev */
    size_t *rev;     /* the dependents of each job in the run, in config order */
    size_t *heap;    /* the ready jobs: pending, nothing left to wait for */
    size_t nheap;
    size_t *stack; /* (job, position in its rev list) pairs, for skipping */
    size_t count[JOB_SKIPPED + 1];
    size_t total;
};

/* FNV-1a: the name table of sched_select only needs a cheap, even spread. */
static size_t sched_hash(const char *s)
{
    return (size_t)str_fnv1a(s);
}

/*
 * The index of every job name, in an open-addressed table of job index + 1
 * (0 = empty slot). The first of two equal names wins, as a scan would.
 */
static size_t *sched_name_table(const struct config *cfg, size_t *mask)
{
    size_t size = 16;
    size_t *t;
    while (size < 2 * cfg->njobs)
        size *= 2;
    t = xcalloc(size, sizeof(*t));
    *mask = size - 1;
    for (size_t j = 0; j < cfg->njobs; j++) {
        size_t h = sched_hash(cfg->jobs[j].name) & *mask;
        while (t[h] && strcmp(cfg->jobs[t[h] - 1].name, cfg->jobs[j].name) != 0)
            h = (h + 1) & *mask;
        if (!t[h])
            t[h] = j + 1;
    }
    return t;
}

/* The index of the job called name, or -1. */
static long sched_name_find(const struct config *cfg, const size_t *t, size_t mask,
                            const char *name)
{
    size_t h = sched_hash(name) & mask;
    for (; t[h]; h = (h + 1) & mask)
        if (strcmp(cfg->jobs[t[h] - 1].name, name) == 0)
            return (long)(t[h] - 1);
    return -1;
}

/* How many job names an unknown job's error lists. */
#define SCHED_LIST_NAMES 10

/* "unknown job 'x'; the jobs are a, b, ... and N more": -1. */
static int sched_unknown(const struct config *cfg, const char *name, struct err *e)
{
    struct buf b = {0};
    size_t k = cfg->njobs < SCHED_LIST_NAMES ? cfg->njobs : SCHED_LIST_NAMES;
    buf_printf(&b, "unknown job '%s'", name);
    if (cfg->njobs == 0)
        buf_adds(&b, "; there are no jobs");
    else
        buf_printf(&b, "; the %s: ", cfg->njobs == 1 ? "job is" : "jobs are");
    for (size_t j = 0; j < k; j++)
        buf_printf(&b, "%s%s", j ? ", " : "", cfg->jobs[j].name);
    if (cfg->njobs > k)
        buf_printf(&b, " and %zu more", cfg->njobs - k);
    err_set(e, "%s", b.p);
    buf_free(&b);
    return -1;
}

int sched_select(const struct config *cfg, char *const *names, size_t n, size_t **out, size_t *nout,
                 struct err *e)
{
    size_t m = cfg->njobs ? cfg->njobs : 1;
    bool *sel;
    size_t *table, *stack, mask, sp = 0;
    *out = NULL;
    *nout = 0;
    if (n == 0) {
        *out = xcalloc(m, sizeof(**out));
        for (size_t j = 0; j < cfg->njobs; j++)
            (*out)[(*nout)++] = j;
        return 0;
    }
    sel = xcalloc(m, sizeof(*sel));
    stack = xcalloc(m, sizeof(*stack));
    table = sched_name_table(cfg, &mask);
    for (size_t i = 0; i < n; i++) {
        long j = sched_name_find(cfg, table, mask, names[i]);
        if (j < 0) {
            free(sel);
            free(stack);
            free(table);
            return sched_unknown(cfg, names[i], e);
        }
        /* The job and its dependencies, each marked when pushed: once. */
        if (!sel[j]) {
            sel[j] = true;
            stack[sp++] = (size_t)j;
        }
        while (sp > 0) {
            const struct job *jb = &cfg->jobs[stack[--sp]];
            for (size_t d = 0; d < jb->depends.n; d++)
                if (!sel[jb->dep_idx[d]]) {
                    sel[jb->dep_idx[d]] = true;
                    stack[sp++] = jb->dep_idx[d];
                }
        }
    }
    *out = xcalloc(m, sizeof(**out));
    for (size_t j = 0; j < cfg->njobs; j++)
        if (sel[j])
            (*out)[(*nout)++] = j;
    free(sel);
    free(stack);
    free(table);
    return 0;
}

/* Whether ready job a goes before ready job b: higher priority, then config order. */
static bool sched_before(const struct sched *s, size_t a, size_t b)
{
    return s->path[a] > s->path[b] || (s->path[a] == s->path[b] && a < b);
}

/* Moves the heap entry at i down to its place. */
static void sched_sift_down(struct sched *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        if (l < s->nheap && sched_before(s, s->heap[l], s->heap[best]))
            best = l;
        if (l + 1 < s->nheap && sched_before(s, s->heap[l + 1], s->heap[best]))
            best = l + 1;
        if (best == i)
            return;
        size_t t = s->heap[i];
        s->heap[i] = s->heap[best];
        s->heap[best] = t;
        i = best;
    }
}

static void sched_heap_push(struct sched *s, size_t j)
{
    size_t i = s->nheap++;
    s->heap[i] = j;
    while (i > 0 && sched_before(s, s->heap[i], s->heap[(i - 1) / 2])) {
        size_t p = (i - 1) / 2;
        s->heap[i] = s->heap[p];
        s->heap[p] = j;
        i = p;
    }
}

/* Builds the reverse lists of the jobs in the run: each in config order. */
static void sched_build_rev(struct sched *s)
{
    const struct config *cfg = s->cfg;
    size_t *pos;
    for (size_t k = 0; k < s->njobs; k++)
        if (s->in[k])
            for (size_t d = 0; d < cfg->jobs[k].depends.n; d++)
                s->rev_off[cfg->jobs[k].dep_idx[d] + 1]++;
    for (size_t j = 0; j < s->njobs; j++)
        s->rev_off[j + 1] += s->rev_off[j];
    s->rev = xcalloc(s->rev_off[s->njobs] ? s->rev_off[s->njobs] : 1, sizeof(*s->rev));
    pos = xcalloc(s->njobs + 1, sizeof(*pos));
    memcpy(pos, s->rev_off, (s->njobs + 1) * sizeof(*pos));
    for (size_t k = 0; k < s->njobs; k++)
        if (s->in[k])
            for (size_t d = 0; d < cfg->jobs[k].depends.n; d++)
                s->rev[pos[cfg->jobs[k].dep_idx[d]]++] = k;
    free(pos);
}

/*
 * The priorities, each computed once: a job is taken when all its
 * dependents have theirs (Kahn's order on the reversed graph, from the
 * jobs nothing depends on), so one pass over its reverse list suffices.
 */
static void sched_build_prio(struct sched *s)
{
    size_t *left = xcalloc(s->njobs + 1, sizeof(*left)); /* dependents not yet done */
    size_t *queue = xcalloc(s->njobs + 1, sizeof(*queue));
    size_t qhead = 0, qtail = 0;
    for (size_t j = 0; j < s->njobs; j++) {
        left[j] = s->rev_off[j + 1] - s->rev_off[j];
        if (s->in[j] && left[j] == 0)
            queue[qtail++] = j;
    }
    while (qhead < qtail) {
        size_t j = queue[qhead++], best = 0;
        double heaviest = 0;
        const struct job *jb = &s->cfg->jobs[j];
        for (size_t r = s->rev_off[j]; r < s->rev_off[j + 1]; r++) {
            if (s->prio[s->rev[r]] > best)
                best = s->prio[s->rev[r]];
            if (s->path[s->rev[r]] > heaviest)
                heaviest = s->path[s->rev[r]];
        }
        s->prio[j] = best + 1;
        s->path[j] = heaviest + (s->weight ? s->weight[j] : 1);
        for (size_t d = 0; d < jb->depends.n; d++) {
            size_t dep = jb->dep_idx[d];
            if (--left[dep] == 0 && s->in[dep])
                queue[qtail++] = dep;
        }
    }
    /* Only a cycle (which the config loader refuses) leaves a job out. */
    for (size_t j = 0; j < s->njobs; j++)
        if (s->in[j] && s->prio[j] == 0) {
            s->prio[j] = 1;
            s->path[j] = s->weight ? s->weight[j] : 1;
        }
    free(left);
    free(queue);
}

struct sched *sched_new(const struct config *cfg, const size_t *jobs, size_t n)
{
    return sched_new_weighted(cfg, jobs, n, NULL);
}

struct sched *sched_new_weighted(const struct config *cfg, const size_t *jobs, size_t n,
                                 const double *weight)
{
    struct sched *s = xcalloc(1, sizeof(*s));
    size_t m = cfg->njobs ? cfg->njobs : 1;
    s->cfg = cfg;
    s->weight = weight ? xcalloc(m, sizeof(*s->weight)) : NULL;
    if (weight)
        memcpy(s->weight, weight, cfg->njobs * sizeof(*weight));
    s->path = xcalloc(m, sizeof(*s->path));
    s->njobs = cfg->njobs;
    s->in = xcalloc(m, sizeof(*s->in));
    s->state = xcalloc(m, sizeof(*s->state));
    s->waiting = xcalloc(m, sizeof(*s->waiting));
    s->prio = xcalloc(m, sizeof(*s->prio));
    s->rev_off = xcalloc(m + 1, sizeof(*s->rev_off));
    s->heap = xcalloc(m, sizeof(*s->heap));
    s->stack = xcalloc(2 * (m + 1), sizeof(*s->stack));
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
    sched_build_rev(s);
    sched_build_prio(s);
    /* The jobs ready from the start, heapified bottom-up. */
    for (size_t j = 0; j < s->njobs; j++)
        if (s->in[j] && s->waiting[j] == 0)
            s->heap[s->nheap++] = j;
    for (size_t i = s->nheap / 2; i-- > 0;)
        sched_sift_down(s, i);
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
    free(s->weight);
    free(s->path);
    free(s->rev_off);
    free(s->rev);
    free(s->heap);
    free(s->stack);
    free(s);
}

static void sched_set_state(struct sched *s, size_t j, enum job_state st)
{
    s->count[s->state[j]]--;
    s->state[j] = st;
    s->count[st]++;
}

long sched_next(struct sched *s)
{
    while (s->nheap > 0) {
        size_t j = s->heap[0];
        s->heap[0] = s->heap[--s->nheap];
        sched_sift_down(s, 0);
        /* Only a ready job enters the heap; sched_abandon empties it. */
        if (s->state[j] == JOB_PENDING) {
            sched_set_state(s, j, JOB_RUNNING);
            return (long)j;
        }
    }
    return -1;
}

/*
 * Skips every pending job that depends, directly or not, on job j: depth
 * first, dependents in config order, so each skipped job is reported right
 * after the one it depends on (an explicit stack: a chain of 20,000 jobs
 * must not take 20,000 C frames).
 */
static void sched_skip_dependents(struct sched *s, size_t j, sched_skip_cb cb, void *data)
{
    size_t sp = 0;
    s->stack[sp++] = j;
    s->stack[sp++] = s->rev_off[j];
    while (sp > 0) {
        size_t job = s->stack[sp - 2], r = s->stack[sp - 1];
        if (r == s->rev_off[job + 1]) {
            sp -= 2;
            continue;
        }
        s->stack[sp - 1] = r + 1;
        size_t k = s->rev[r];
        if (s->state[k] != JOB_PENDING)
            continue;
        sched_set_state(s, k, JOB_SKIPPED);
        if (cb)
            cb(k, j, data);
        s->stack[sp++] = k;
        s->stack[sp++] = s->rev_off[k];
    }
}

void sched_done(struct sched *s, size_t job, bool ok, sched_skip_cb cb, void *data)
{
    sched_set_state(s, job, ok ? JOB_SUCCEEDED : JOB_FAILED);
    if (!ok) {
        sched_skip_dependents(s, job, cb, data);
        return;
    }
    for (size_t r = s->rev_off[job]; r < s->rev_off[job + 1]; r++) {
        size_t k = s->rev[r];
        if (s->waiting[k] > 0 && --s->waiting[k] == 0 && s->state[k] == JOB_PENDING)
            sched_heap_push(s, k);
    }
}

size_t sched_abandon(struct sched *s)
{
    size_t n = 0;
    for (size_t j = 0; j < s->njobs; j++)
        if (s->in[j] && s->state[j] == JOB_PENDING) {
            sched_set_state(s, j, JOB_SKIPPED);
            n++;
        }
    s->nheap = 0;
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
