/*
 * Running a list of sandbox actions (setup or hooks) on one sandbox,
 * forward to create and backward to undo, as asynchronous steps on the
 * loop: filesystem work in the libuv thread pool, commands as child
 * processes, busy unmounts retried on a timer with backoff (unmount.h).
 */
#ifndef BOB_ACTIONS_H
#define BOB_ACTIONS_H

#include <stdbool.h>
#include <uv.h>

#include "config/config.h"
#include "util/util.h"

struct actrun;

/* Called once when the run ends: status 0, or negative with e filled. */
typedef void (*actrun_cb)(struct actrun *r, int status, const struct err *e, void *data);

struct actrun_opts {
    uv_loop_t *loop;
    const struct action_list *list;
    enum env_ctx ctx;         /* matched against only.environment */
    const char *root;         /* host path of the sandbox */
    const char *const *cover; /* guest paths covered for chroot commands (proc_opts.cover) */
    const struct strv *env;   /* bob_* variables, "K=V", for cmd actions */
    bool reverse;             /* undo instead of create */
    size_t count;             /* forward: run list[0..count); reverse: undo list[count-1..0] */
    actrun_cb cb;
    void *data;
};

/*
 * Starts the run on the next loop iteration: the callback never runs from
 * inside actrun_start. Free the run with actrun_free after the callback.
 * NULL when libuv refuses the timer that defers the start (it never does
 * on Unix: only a closing handle is refused).
 */
struct actrun *actrun_start(const struct actrun_opts *o);
/*
 * For a forward run that failed or was cancelled: how many actions from the
 * start must be undone (the failed one included when it may have left
 * something, such as a mount point or a partial copy).
 */
size_t actrun_undo_count(const struct actrun *r);
/* Stops a run as soon as possible: a command is killed, a copy stops. */
void actrun_cancel(struct actrun *r);
void actrun_free(struct actrun *r);

/*
 * Checks what can be checked of an action before a sandbox exists: a
 * mount's options (plat_mount_check). 0, or negative with e naming why.
 */
int actions_check(const struct action *a, struct err *e);

/* Whether the action's only.environment and only.exists match now. */
bool action_matches(const struct action *a, enum env_ctx ctx);

#endif
