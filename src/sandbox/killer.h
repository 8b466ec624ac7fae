/*
 * Killing every process inside a sandbox: rounds of a /proc scan and
 * SIGKILL, 64 ms after the first and doubling up to 1 s, five rounds, on a
 * loop timer. Processes present before a command started can be spared, so
 * that `run` kills only what its command started.
 */
#ifndef BOB_KILLER_H
#define BOB_KILLER_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "util/util.h"

struct killer;

/* status 0: none left; -1: some survived, e names them. */
typedef void (*killer_cb)(struct killer *k, int status, const struct err *e, void *data);

/*
 * Starts killing the processes whose root is at or below `root`, except the
 * pids in `spare` (sorted ascending), and the process group `pgid` when not
 * 0. The first round runs at once; the callback never runs from inside
 * killer_start.
 */
struct killer *killer_start(uv_loop_t *loop, const char *root, const pid_t *spare, size_t nspare,
                            pid_t pgid, killer_cb cb, void *data);
/* Frees it (after the callback, or earlier to abandon it). */
void killer_free(struct killer *k);

/* The pids now running inside root, sorted ascending (for `spare`). */
int killer_snapshot(const char *root, pid_t **pids, size_t *n, struct err *e);

#endif
