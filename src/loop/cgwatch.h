/*
 * Watching a job's cgroup on the loop: "the job has no process left" and
 * "the job reached a limit" as callbacks, without polling. The kernel
 * notifies a change of cgroup.events (and of memory.events, pids.events)
 * through poll (POLLPRI); each notification re-reads the file.
 */
#ifndef BOB_CGWATCH_H
#define BOB_CGWATCH_H

#include <uv.h>

#include "platform/cgroup.h"
#include "util/util.h"

enum cgwatch_event {
    CGWATCH_LIMIT, /* a limit was reached: `limits` has the new enum cgroup_limit bits */
    CGWATCH_EMPTY, /* the last process of the job is gone (once; the last event) */
};

struct cgwatch;

typedef void (*cgwatch_cb)(struct cgwatch *w, enum cgwatch_event ev, unsigned limits, void *data);

/*
 * Watches job (which must outlive the watcher). Start it once the job's
 * first process is in the cgroup (after the spawn returned): a job that is
 * already empty then gives CGWATCH_EMPTY on the next loop pass, never
 * inside this call. Each limit is reported once: as it happens with v2
 * controllers, and with v1 ones (a hybrid host) only when the job ends,
 * right before CGWATCH_EMPTY, since v1 notifies nothing. No callback runs
 * after cgwatch_free.
 */
int cgwatch_start(uv_loop_t *loop, const struct cgroup_job *job, cgwatch_cb cb, void *data,
                  struct cgwatch **out, struct err *e);

/* Stops watching; memory is freed once the handles are closed. NULL is a no-op. */
void cgwatch_free(struct cgwatch *w);

#endif
