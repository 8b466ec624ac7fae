/*
 * The build scheduler: which job may run next. Pure bookkeeping, no I/O.
 * A job is ready when all its dependencies succeeded; among ready jobs the
 * one heading the longest chain of dependents goes first (then the order
 * of the config). A failed job skips every job that depends on it.
 */
#ifndef BOB_SCHED_H
#define BOB_SCHED_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

enum job_state {
    JOB_PENDING,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_SKIPPED,
};

struct sched;

/*
 * The jobs to build: the named ones and everything they depend on, or all
 * jobs when n is 0. An unknown name is an error. *out holds indexes into
 * cfg->jobs, in config order.
 */
int sched_select(const struct config *cfg, char *const *names, size_t n, size_t **out, size_t *nout,
                 struct err *e);

struct sched *sched_new(const struct config *cfg, const size_t *jobs, size_t n);
/*
 * sched_new ordering ready jobs by the heaviest remaining path of weight[]
 * (per cfg job, e.g. recorded durations in ms) instead of the chain length;
 * weight NULL is sched_new.
 */
struct sched *sched_new_weighted(const struct config *cfg, const size_t *jobs, size_t n,
                                 const double *weight);
void sched_free(struct sched *s);
/* The next ready job (index into cfg->jobs), now RUNNING; -1 when none is ready. */
long sched_next(struct sched *s);
/* Called for every job that a failure skips, with the job that failed. */
typedef void (*sched_skip_cb)(size_t job, size_t failed, void *data);
/*
 * Records the end of a running job; on failure its dependents are skipped.
 * Also settles a pending job before it runs (a resumed build: up to date,
 * or a failure that is kept), releasing or skipping its dependents alike.
 */
void sched_done(struct sched *s, size_t job, bool ok, sched_skip_cb cb, void *data);
/* Marks every pending job skipped (used when a run is stopped); returns how many. */
size_t sched_abandon(struct sched *s);
enum job_state sched_state(const struct sched *s, size_t job);
/* The length of the longest chain of dependents that job heads (itself included). */
size_t sched_priority(const struct sched *s, size_t job);
size_t sched_count(const struct sched *s, enum job_state st);
size_t sched_total(const struct sched *s);
/* Whether nothing is pending or running. */
bool sched_finished(const struct sched *s);

#endif
