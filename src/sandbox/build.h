/*
 * A bulk build: min(build_threads, jobs) sandboxes created in parallel and
 * reused; each job runs pre-build, its stages (logged), a kill of whatever
 * it left running, and post-build in one sandbox; dispatch follows the
 * scheduler; Ctrl+C stops dispatch, a second one (or SIGTERM) kills every
 * process at once; the sandboxes are always destroyed at the end.
 */
#ifndef BOB_BUILD_H
#define BOB_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "loop/capture.h"
#include "sandbox/sandbox.h"
#include "sandbox/sched.h"

struct build;

/* The outcome of one job. */
struct build_result {
    const struct job *job;
    enum job_state state; /* JOB_SUCCEEDED, JOB_FAILED, JOB_SKIPPED, or JOB_PENDING if never run */
    bool interrupted;     /* stopped by SHUTDOWN: neither succeeded nor failed */
    char *stage;          /* the stage that failed ("pre-build" included) */
    char *log;            /* its log, kept */
    char *reason;         /* one line: why it failed or was skipped */
    const struct job *blocker; /* skipped: the failed job that blocked it, or NULL */
    double ms;                 /* run time */
    /*
     * CPU time (user + system, ms) of the job's processes so far, from its
     * cgroup, as of its latest stage start or its end; <0 unknown.
     */
    double cpu_ms;
    bool settled; /* not run: settled before the start (build_plan) */
    bool kept;    /* failed with --keep-failed: its sandbox is kept as it was left */
    unsigned kept_sandbox;
};

/*
 * What a resumed build already knows (both per cfg job, either may be NULL):
 * settled[j] JOB_SUCCEEDED (up to date) or JOB_FAILED (a kept failure) is
 * not run, its dependents are released or skipped as if it had just ended;
 * JOB_PENDING runs. weight[j] orders the ready jobs (sched_new_weighted).
 */
struct build_plan {
    const enum job_state *settled;
    const double *weight;
};

/* What the build tells whoever shows it (display, events, summary). */
struct build_observer {
    void (*sandboxes)(void *data, const unsigned *ids, size_t n, bool created);
    void (*job_started)(void *data, size_t slot, unsigned sandbox, const struct job *j);
    void (*stage_started)(void *data, size_t slot, const struct job *j, const char *stage,
                          const struct capture *output);
    void (*job_output)(void *data, size_t slot);
    void (*job_finished)(void *data, size_t slot, const struct build_result *r);
    void (*job_skipped)(void *data, const struct build_result *r);
    /* A line about the run itself: stopping, shutting down, what cleanup waits for. */
    void (*note)(void *data, const char *event, const char *text);
    void (*finished)(void *data);
    void *data;
};

/*
 * Starts building jobs[0..n) (indexes into cfg->jobs, closed under
 * dependencies) on ctx's loop. The observer's finished callback runs once
 * everything is over and the sandboxes are gone.
 */
struct build *build_start(struct sbx_ctx *ctx, const size_t *jobs, size_t n,
                          const struct build_observer *obs);
/* The run state advanced: STOPPING stops dispatch, SHUTDOWN kills everything. */
/* build_start with a plan; the observer hears nothing of the settled jobs. */
struct build *build_start_plan(struct sbx_ctx *ctx, const size_t *jobs, size_t n,
                               const struct build_plan *plan, const struct build_observer *obs);
void build_stop(struct build *b, bool now);
size_t build_nresults(const struct build *b);
const struct build_result *build_results(const struct build *b);
bool build_interrupted(const struct build *b);
/* An error of the run itself (sandboxes could not be created or destroyed), or NULL. */
const char *build_error(const struct build *b);
double build_elapsed_ms(const struct build *b);
void build_free(struct build *b);

#endif
