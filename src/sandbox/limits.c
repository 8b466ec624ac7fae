/*
 * The per-job watchdog. Time is one timer armed at the start. Silence is a
 * timer armed for the whole silence and, when it fires, started again for
 * what is left since the last output, so that output (which may come in
 * many small chunks) only stores a time. Memory and tasks come from a
 * cgroup watcher started for each process put in the job (it ends when the
 * cgroup is empty), and from a poll of the counters while a v1 limit is in
 * use (v1 files notify nothing).
 */
#include "sandbox/limits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "loop/cgwatch.h"
#include "util/ref.h"

#define LIMITS_POLL_MS 500

struct limits {
    struct ref ref;
    uv_loop_t *loop;
    const struct cgroup_job *job;
    limits_cb cb;
    void *data;
    unsigned time, silence; /* seconds, 0: none */
    unsigned wanted;        /* enum cgroup_limit bits */
    bool v1;                /* some of wanted is kept in v1: poll */
    char *time_label, *silence_label, *memory_label, *tasks_label;
    uv_timer_t timer[3];  /* time, silence, poll */
    int ntimers;          /* initialized (each holds ref) */
    uint64_t last_output; /* uv_now */
    struct cgwatch *watch;
    char *reason;
};

enum { LIMITS_T_TIME, LIMITS_T_SILENCE, LIMITS_T_POLL };

/* Whether s is only digits (a number as the user wrote it). */
static bool limits_digits(const char *s)
{
    return s && *s && s[strspn(s, "0123456789")] == '\0';
}

/* "90 s" for a number of seconds, else the user's "2h". */
static char *limits_time_label(unsigned secs, const char *text)
{
    if (!text || limits_digits(text))
        return xasprintf("%u s", secs);
    return xstrdup(text);
}

/* "64M" as written, else "67108864 bytes". */
static char *limits_memory_label(const struct job_limits *lim)
{
    if (!lim->memory_text || limits_digits(lim->memory_text))
        return xasprintf("%" PRIu64 " bytes", lim->memory);
    return xstrdup(lim->memory_text);
}

unsigned limits_cgroup_wanted(const struct job_limits *lim)
{
    return (lim->memory ? CGROUP_LIMIT_MEMORY : 0) | (lim->tasks ? CGROUP_LIMIT_TASKS : 0);
}

void limits_cgroup_limits(const struct job_limits *lim, struct cgroup_limits *out)
{
    out->memory = lim->memory;
    out->tasks = lim->tasks;
}

static void limits_release(struct ref *r)
{
    struct limits *l = REF_CONTAINER(r, struct limits, ref);
    free(l->time_label);
    free(l->silence_label);
    free(l->memory_label);
    free(l->tasks_label);
    free(l->reason);
    free(l);
}

static void limits_on_close(uv_handle_t *h)
{
    struct limits *l = h->data;
    ref_drop(&l->ref);
}

/* Stops the timers and the watcher (the handles stay open until limits_free). */
static void limits_quiet(struct limits *l)
{
    for (int i = 0; i < l->ntimers; i++)
        uv_timer_stop(&l->timer[i]);
    cgwatch_free(l->watch);
    l->watch = NULL;
}

/* The first limit reached: remember why, stop watching, tell the owner. */
static void limits_reach(struct limits *l, enum limits_kind kind)
{
    if (l->reason || l->ref.free_requested)
        return;
    switch (kind) {
    case LIMITS_TIME:
        l->reason = xasprintf("time limit (%s) reached", l->time_label);
        break;
    case LIMITS_SILENCE:
        l->reason = xasprintf("no output for %s", l->silence_label);
        break;
    case LIMITS_MEMORY:
        l->reason = xasprintf("memory limit (%s) reached", l->memory_label);
        break;
    case LIMITS_TASKS:
        l->reason = xasprintf("task limit (%s) reached", l->tasks_label);
        break;
    }
    limits_quiet(l);
    /* The owner may free us in the callback: hold on until it returns. */
    ref_hold(&l->ref);
    l->cb(l, kind, l->reason, l->data);
    ref_drop(&l->ref);
}

/* Reports the first of the cgroup limits in hit (memory before tasks). */
static void limits_reach_cgroup(struct limits *l, unsigned hit)
{
    hit &= l->wanted;
    if (hit & CGROUP_LIMIT_MEMORY)
        limits_reach(l, LIMITS_MEMORY);
    else if (hit & CGROUP_LIMIT_TASKS)
        limits_reach(l, LIMITS_TASKS);
}

static void limits_on_time(uv_timer_t *t)
{
    limits_reach(t->data, LIMITS_TIME);
}

/* The silence timer: reached, or armed again for what is left since the last output. */
static void limits_on_silence(uv_timer_t *t)
{
    struct limits *l = t->data;
    uint64_t now = uv_now(l->loop), quiet = now - l->last_output, full = l->silence * 1000ull;
    if (quiet >= full) {
        limits_reach(l, LIMITS_SILENCE);
        return;
    }
    uv_timer_start(t, limits_on_silence, full - quiet, 0);
}

static void limits_on_poll(uv_timer_t *t)
{
    limits_check(t->data);
}

/* The cgroup watcher: a limit, or the job's processes are all gone. */
static void limits_on_cgwatch(struct cgwatch *w, enum cgwatch_event ev, unsigned hit, void *data)
{
    struct limits *l = data;
    if (ev == CGWATCH_LIMIT) {
        limits_reach_cgroup(l, hit);
        return;
    }
    /* Empty: the counters were read one last time before this event. */
    if (l->watch == w) {
        cgwatch_free(w);
        l->watch = NULL;
        uv_timer_stop(&l->timer[LIMITS_T_POLL]);
    }
}

int limits_start(uv_loop_t *loop, const struct job_limits *lim, const struct cgroup_job *job,
                 unsigned enforced, limits_cb cb, void *data, struct limits **out, struct err *e)
{
    struct limits *l;
    unsigned wanted = limits_cgroup_wanted(lim), missing = wanted & ~(job ? enforced : 0);
    static const uv_timer_cb cbs[3] = {limits_on_time, limits_on_silence, limits_on_poll};

    *out = NULL;
    if (missing) {
        if (missing & CGROUP_LIMIT_MEMORY) {
            char *label = limits_memory_label(lim);
            err_set(e, "memory limit (%s) cannot be enforced on this host", label);
            free(label);
        } else {
            err_set(e, "task limit (%" PRIu64 ") cannot be enforced on this host", lim->tasks);
        }
        e->code = ENOTSUP;
        return -ENOTSUP;
    }
    l = xcalloc(1, sizeof(*l));
    ref_init(&l->ref, limits_release);
    l->loop = loop;
    l->job = job;
    l->cb = cb;
    l->data = data;
    l->time = lim->time;
    l->silence = lim->silence;
    l->wanted = job ? wanted : 0;
    l->time_label = limits_time_label(lim->time, lim->time_text);
    l->silence_label = limits_time_label(lim->silence, lim->silence_text);
    l->memory_label = limits_memory_label(lim);
    l->tasks_label = xasprintf("%" PRIu64, lim->tasks);
    if (l->wanted) {
        const char *const *files;
        size_t nfiles = cgroup_job_limit_files(job, &files);
        /* A limit with no v2 file to notify is kept in v1. */
        l->v1 = nfiles < (size_t)__builtin_popcount(l->wanted);
    }
    l->last_output = uv_now(loop);
    for (int i = 0; i < 3; i++) {
        uv_timer_init(loop, &l->timer[i]);
        l->timer[i].data = l;
        ref_hold(&l->ref);
        l->ntimers++;
    }
    if (l->time)
        uv_timer_start(&l->timer[LIMITS_T_TIME], cbs[LIMITS_T_TIME], l->time * 1000ull, 0);
    if (l->silence)
        uv_timer_start(&l->timer[LIMITS_T_SILENCE], cbs[LIMITS_T_SILENCE], l->silence * 1000ull, 0);
    *out = l;
    return 0;
}

int limits_arm(struct limits *l, struct err *e)
{
    int r;
    if (!l || !l->wanted || l->reason)
        return 0;
    cgwatch_free(l->watch);
    l->watch = NULL;
    if ((r = cgwatch_start(l->loop, l->job, limits_on_cgwatch, l, &l->watch, e)) < 0)
        return r;
    if (l->v1)
        uv_timer_start(&l->timer[LIMITS_T_POLL], limits_on_poll, LIMITS_POLL_MS, LIMITS_POLL_MS);
    return 0;
}

void limits_output(struct limits *l)
{
    if (l)
        l->last_output = uv_now(l->loop);
}

bool limits_check(struct limits *l)
{
    struct err e;
    unsigned hit = 0;
    if (!l)
        return false;
    if (l->reason)
        return true;
    if (!l->wanted || l->ref.free_requested)
        return false;
    if (cgroup_job_limits_hit(l->job, &hit, &e) < 0 || !(hit & l->wanted))
        return false;
    limits_reach_cgroup(l, hit);
    return true;
}

const char *limits_reason(const struct limits *l)
{
    return l ? l->reason : NULL;
}

void limits_free(struct limits *l)
{
    if (!l || l->ref.free_requested)
        return;
    limits_quiet(l);
    for (int i = 0; i < l->ntimers; i++)
        uv_close((uv_handle_t *)&l->timer[i], limits_on_close);
    ref_request_free(&l->ref);
}
