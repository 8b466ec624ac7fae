/*
 * The build state: an embedded SQLite database, <dbdir>/bob.db, in WAL mode
 * with one writer (the bob that holds <dbdir>/bob.lock) and any number of
 * readers. It records every build (id, start, end, config, outcome, counts)
 * and every job of it (status, stage, reason, sandbox, log, per-stage wall
 * and CPU time, the hash of its definition). Writes come from the loop
 * thread only: with a loop attached they are batched into transactions
 * that end at a loop pass, at most every 50 ms (a timer wakes the loop for
 * a due commit), so a SIGKILL loses at most the last 50 ms and never leaves
 * a half-written row.
 * This module takes plain values (names, strings, numbers): no config or
 * build types, so that it sits below the layers that use it.
 */
#ifndef BOB_STATE_H
#define BOB_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/util.h"

#define STATE_SCHEMA 1
#define STATE_FILE "bob.db"

struct state;

enum state_status {
    STATE_PENDING,
    STATE_RUNNING,
    STATE_SUCCEEDED,
    STATE_FAILED,
    STATE_SKIPPED,
    STATE_UPTODATE,
    STATE_INTERRUPTED,
};

/* "succeeded", "up-to-date", ... */
const char *state_status_name(enum state_status s);

/*
 * Opens (and for a writer creates) <dbdir>/bob.db. A reader that finds no
 * database gets -ENOENT. A schema mismatch, a corrupt file, a read-only or
 * full dbdir: an error of one line that says what to do.
 */
int state_open(const char *dbdir, bool writer, struct state **out, struct err *e);
void state_close(struct state *st);

/*
 * For a writer: takes <dbdir>/bob.lock for the life of st (the kernel drops
 * it when bob dies); -EBUSY when another bob builds with this database.
 */
int state_lock(struct state *st, struct err *e);
/* Whether a bob holds the lock now (a build is running on this database). */
bool state_locked_by_other(const struct state *st);

/* Batches the writes per pass of loop (an unreferenced uv_prepare and timer). */
void state_attach(struct state *st, uv_loop_t *loop);
/* Commits, then stops batching (each write commits alone) and closes the handle. */
void state_detach(struct state *st);
/* Commits what is pending now (the end of a build, before exit). */
int state_flush(struct state *st);
/* The first write error (recording stopped after it), or NULL. */
const char *state_error(const struct state *st);

/* The current build: *id 0 when there is none; *finished when it ended complete. */
int state_current(struct state *st, int64_t *id, bool *finished, struct err *e);
/* A new build becomes the current one. */
int64_t state_build_new(struct state *st, const char *config, const char *host, double t);
/* The current build runs again (resume): no end, no outcome. */
void state_build_resume(struct state *st, int64_t id, double t);
/*
 * The build's end: outcome "interrupted", or NULL for what its jobs say
 * (failed when one failed or was skipped, else succeeded); counts from its jobs.
 */
void state_build_end(struct state *st, int64_t id, const char *outcome, double t);
/* Forgets the current build (bob clean); its history stays. */
int state_forget_current(struct state *st, struct err *e);

/* A job of the build as planned: pending or up to date, with its hash. */
void state_job_plan(struct state *st, int64_t build, const char *job, enum state_status s,
                    const char *hash);
void state_job_started(struct state *st, int64_t build, const char *job, unsigned sandbox,
                       double t);
/*
 * The CPU time (user + system, ms) of the job's open stage, the one that is
 * about to end (before state_job_stage or state_job_finished closes it).
 */
void state_job_stage_cpu(struct state *st, int64_t build, const char *job, double cpu_ms);
/* A stage started (the previous one, if any, ended at t). */
void state_job_stage(struct state *st, int64_t build, const char *job, const char *stage, double t);
/* The job's end (succeeded, failed or interrupted); stage/reason/log NULL unless failed. */
void state_job_finished(struct state *st, int64_t build, const char *job, enum state_status s,
                        const char *stage, const char *reason, const char *log, double ms,
                        double t);
void state_job_skipped(struct state *st, int64_t build, const char *job, const char *reason,
                       const char *blocker);
/* Pending rows of a build an interrupt stopped are interrupted ("not started"). */
void state_build_interrupt_pending(struct state *st, int64_t build);
/* Running rows of a build that is over are interrupted (after a crash, at resume). */
void state_build_settle_running(struct state *st, int64_t build);

/* One job as recorded: the row passed to the readers' callbacks. */
struct state_job {
    int64_t build;
    const char *job, *status, *stage, *reason, *blocker, *log, *hash;
    int64_t sandbox;                 /* -1: none */
    double started, ended, duration; /* epoch ms; <0 when unknown */
};
typedef void (*state_job_cb)(const struct state_job *j, void *data);

/* Every job of build, in plan order. */
int state_jobs(struct state *st, int64_t build, state_job_cb cb, void *data, struct err *e);
/* Each job's latest record that ended (succeeded, failed, up to date), one per job. */
int state_latest(struct state *st, state_job_cb cb, void *data, struct err *e);

/*
 * A query's result as strings, for the commands that print rows (bob list,
 * history, diff): cols names, num[c] whether column c is a number, cells
 * row by row (NULL for SQL NULL).
 */
struct state_rows {
    size_t ncols, nrows;
    char **cols;
    bool *num;
    char **cells;
};
/* Runs one read-only SELECT with text parameters args[0..nargs). */
int state_query(struct state *st, const char *sql, const char *const *args, size_t nargs,
                struct state_rows *out, struct err *e);
void state_rows_free(struct state_rows *r);

/*
 * The scan cache: the `bmake pbulk-index` output of each pkgpath of a
 * pkgsrc tree (`tree`: its path), with the stamp of the files it was made
 * from (the caller's: equal stamps, same tree). A writer's put is batched
 * like every write; get answers 1 with *output (malloc'd) when a row of
 * that stamp is there, 0 when not, -1 on error. forget empties it (bob
 * clean).
 */
void state_scan_put(struct state *st, const char *tree, const char *pkgpath, const char *stamp,
                    const char *output);
int state_scan_get(struct state *st, const char *tree, const char *pkgpath, const char *stamp,
                   char **output);
int state_scan_forget(struct state *st, struct err *e);

/* The directory of the database (for messages). */
const char *state_dir(const struct state *st);

#endif
