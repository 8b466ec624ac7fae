/*
 * Unmounting with retries: everything mounted at or below a guest path of
 * a sandbox (plat_unmount), in the libuv thread pool and, while a mount is
 * busy, again after a backoff on a loop timer: 64 ms doubling to 1 s,
 * UNMOUNT_ATTEMPTS attempts in all (about 5 s), so that a process that is
 * exiting, or one the kill rounds just killed, can let go of it. A mount
 * still busy after the last attempt fails with plat_unmount's message,
 * which names the mount and the processes holding it.
 *
 * Used by the undo of a mount action (actrun) and by the sandbox's final
 * sweep of whatever is still mounted below its root (src/sandbox).
 */
#ifndef BOB_ACTIONS_UNMOUNT_H
#define BOB_ACTIONS_UNMOUNT_H

#include <uv.h>

#include "util/util.h"

#define UNMOUNT_ATTEMPTS 9

struct unmount;

/* Called once: status 0, or negative with e filled (-ECANCELED: "interrupted"). */
typedef void (*unmount_cb)(struct unmount *u, int status, const struct err *e, void *data);

/*
 * Starts unmounting guest path dest in the sandbox at host path root; on
 * success the empty directories left from dest upward are pruned. The
 * callback never runs from inside unmount_start. NULL (with e filled) when
 * libuv refuses the timer.
 */
struct unmount *unmount_start(uv_loop_t *loop, const char *root, const char *dest, unmount_cb cb,
                              void *data, struct err *e);
/*
 * Gives up: no further attempt. The callback follows with -ECANCELED, or
 * with the result of an attempt already running when that one succeeds.
 */
void unmount_cancel(struct unmount *u);
/* Frees it (after the callback, or earlier to abandon it: then no callback comes). */
void unmount_free(struct unmount *u);

/* The delay in ms before attempt + 1: 64, 128, 256, 512, then 1024. */
unsigned unmount_delay(unsigned attempt);

#endif
