/*
 * bob build's state: what to resume or skip as up to date (the plan fed to
 * the build), and the recorder that writes what the build does into the
 * database (src/state) as an observer wrapped around the display's.
 */
#ifndef BOB_BUILD_STATE_H
#define BOB_BUILD_STATE_H

#include <stdint.h>

#include "sandbox/build.h"
#include "state/state.h"

/* How bob build (or bob rebuild) treats the recorded state. */
struct bstate_opts {
    bool all;       /* --all: a new build, every job runs */
    bool rebuild;   /* bob rebuild: the current build again, retrying failures */
    bool fresh;     /* pkgsrc: a new build takes no job as up to date (the pkgsrc plan did that) */
    bool retry_all; /* rebuild -a: every failure */
    const bool *retry;        /* rebuild JOB...: per cfg job, or NULL (filled by cmd_build_run) */
    char *const *retry_names; /* rebuild JOB... */
    size_t nretry;
};

struct bstate;

/*
 * Opens the database (the writer, locked), decides new build or resume and
 * what is up to date among jobs[0..n), and records the plan. Errors: one line.
 */
int bstate_open(const struct config *cfg, uv_loop_t *loop, const size_t *jobs, size_t n,
                const struct bstate_opts *o, struct bstate **out, struct err *e);
const struct build_plan *bstate_plan(const struct bstate *bs);
/* The observer that records, then tells inner. */
void bstate_wrap(struct bstate *bs, const struct build_observer *inner, struct build_observer *out);
/* The build started: records what the plan settled (skips of kept failures). */
void bstate_started(struct bstate *bs, struct build *b);
int64_t bstate_id(const struct bstate *bs);
bool bstate_resumed(const struct bstate *bs);
/* Whether cfg job j was settled as up to date (not just succeeded earlier in this build). */
bool bstate_uptodate(const struct bstate *bs, size_t j);
/* A kept failure's recorded stage, reason and log (NULL when unknown). */
void bstate_failure(const struct bstate *bs, size_t j, const char **stage, const char **reason,
                    const char **log);
/* The first write error, or NULL. */
const char *bstate_error(const struct bstate *bs);
void bstate_free(struct bstate *bs);

/* The definition hash of every cfg job (hex, 16 chars): stages, env, limits, dependencies' hashes.
 */
char **bstate_hashes(const struct config *cfg);
void bstate_hashes_free(char **h, size_t n);

/* Epoch milliseconds (the recorded times). */
double bstate_now(void);

#endif
