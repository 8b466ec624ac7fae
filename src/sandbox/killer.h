/*
 * Killing every process inside a sandbox: rounds of a /proc scan and
 * SIGKILL, 64 ms after the first and doubling up to 1 s, five rounds, on a
 * loop timer. Only destroy uses it, for what no boundary holds (a sandbox
 * of an older bob, processes that entered a sandbox from the host): jobs,
 * runs and shells are killed through their pid namespace and cgroup.
 */
#ifndef BOB_KILLER_H
#define BOB_KILLER_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "platform/platform.h"
#include "util/util.h"

struct killer;

/* status 0: none left; -1: some survived, e names them. */
typedef void (*killer_cb)(struct killer *k, int status, const struct err *e, void *data);

/*
 * Starts killing the processes whose root is at or below `root`, and the
 * process group `pgid` when not 0. The first round runs on the next loop
 * pass; the callback never runs from inside killer_start. NULL only when
 * libuv refuses the timer.
 */
struct killer *killer_start(uv_loop_t *loop, const char *root, pid_t pgid, killer_cb cb,
                            void *data);
/* Frees it (after the callback, or earlier to abandon it). */
void killer_free(struct killer *k);

#endif
