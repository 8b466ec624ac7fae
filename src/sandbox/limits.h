/*
 * The limits of one job on the loop (a watchdog): wall-clock time and
 * silence (no output) with timers, memory and tasks through the job's
 * cgroup (loop/cgwatch.h). When the first limit is reached, one callback
 * says which, with the reason for people, in the user's own units:
 *
 *   time limit (1 s) reached       time = 1        (a number: seconds)
 *   time limit (2h) reached        time = "2h"     (a string: as written)
 *   no output for 30m              silence = "30m"
 *   memory limit (64M) reached     memory = "64M"  (a number: "N bytes")
 *   task limit (20) reached        tasks = 20
 *
 * The watchdog only reports: the caller kills the job (cgroup_job_kill)
 * and fails it. Memory and tasks are seen as the kernel notifies them (v2
 * controllers); a limit kept in a v1 hierarchy (a hybrid host) notifies
 * nothing, so while a process runs in the job its counters are read twice
 * a second, and limits_check reads them on demand (when a stage ended: did
 * a limit end it?).
 *
 * Lifetime (util/ref.h): the owner holds it until limits_free; every open
 * timer holds it too (the cgroup watcher is freed with it and calls back
 * no more). No callback runs inside
 * limits_start or after limits_free: every callback comes from a timer or
 * from cgwatch, which defers its first check itself (loop/defer.h).
 */
#ifndef BOB_SANDBOX_LIMITS_H
#define BOB_SANDBOX_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "platform/cgroup.h"
#include "util/util.h"

enum limits_kind {
    LIMITS_TIME,
    LIMITS_SILENCE,
    LIMITS_MEMORY,
    LIMITS_TASKS,
};

struct limits;

/* A limit was reached (once): reason is "time limit (1 s) reached" and so on. */
typedef void (*limits_cb)(struct limits *l, enum limits_kind kind, const char *reason, void *data);

/* The limits of lim that need a cgroup (enum cgroup_limit bits). */
unsigned limits_cgroup_wanted(const struct job_limits *lim);

/* lim's memory and task limits for cgroup_job_new. */
void limits_cgroup_limits(const struct job_limits *lim, struct cgroup_limits *out);

/*
 * Starts the time and silence timers of lim from now. job is the job's
 * cgroup (NULL: none), made with limits_cgroup_limits(lim) as far as its
 * host enforces them; enforced says which (enum cgroup_limit bits,
 * cgroup_base_limits; 0 without a job); job must outlive the watchdog. A
 * memory or task limit that is not enforced is refused: -ENOTSUP, with e
 * saying "memory limit (64M) cannot be enforced on this host", and nothing
 * started.
 */
int limits_start(uv_loop_t *loop, const struct job_limits *lim, const struct cgroup_job *job,
                 unsigned enforced, limits_cb cb, void *data, struct limits **out, struct err *e);

/*
 * A process entered the job's cgroup (a stage was spawned): watch the
 * cgroup's limits until it is empty again. Without a job, or once a limit
 * was reached, this does nothing.
 */
int limits_arm(struct limits *l, struct err *e);

/* Output was seen: the silence timer starts over. NULL is a no-op. */
void limits_output(struct limits *l);

/*
 * Reads the cgroup's counters now, and reports a memory or task limit
 * reached (the callback runs inside this call). True when a limit was
 * reached, now or before. NULL: false.
 */
bool limits_check(struct limits *l);

/* The reason of the limit reached, or NULL. */
const char *limits_reason(const struct limits *l);

/* Stops everything; no callback runs after this. NULL is a no-op. */
void limits_free(struct limits *l);

#endif
