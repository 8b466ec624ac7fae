/*
 * The run state of one command: RUNNING -> STOPPING -> SHUTDOWN, advanced
 * by signals received on libuv signal handles (SPEC section 7). The command
 * that runs owns it and passes it to whoever needs it.
 */
#ifndef BOB_RUNSTATE_H
#define BOB_RUNSTATE_H

#include <stdbool.h>
#include <uv.h>

enum run_state {
    RUN_RUNNING = 0,
    RUN_STOPPING = 1,
    RUN_SHUTDOWN = 2,
};

struct runstate;

/* Called on the loop whenever the state advances. */
typedef void (*runstate_cb)(enum run_state state, int signum, void *data);

/*
 * Starts watching SIGINT, SIGTERM and SIGHUP on loop. The first SIGINT
 * moves to STOPPING; a second one more than 100 ms after the counted one
 * (repeats inside 100 ms are one keypress), SIGTERM or SIGHUP move to
 * SHUTDOWN. When `stop_is_shutdown` is true (commands with nothing to drain,
 * such as create), the first SIGINT goes straight to SHUTDOWN. cb (may be
 * NULL) hears every advance. The handles do not keep the loop alive.
 * NULL when a signal handle could not be started (*err: its -errno).
 */
struct runstate *runstate_new(uv_loop_t *loop, bool stop_is_shutdown, runstate_cb cb, void *data,
                              int *err);
enum run_state runstate_get(const struct runstate *rs);
/* The signal that caused the last advance (0 when none). */
int runstate_signal(const struct runstate *rs);
/* Advances the state as if signum had arrived (also used by a keyboard handler). */
void runstate_raise(struct runstate *rs, int signum);
/* Closes the signal handles; the memory goes in their close callbacks (run the loop after). */
void runstate_free(struct runstate *rs);

#endif
