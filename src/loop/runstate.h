/*
 * The run state of one bob process: RUNNING -> STOPPING -> SHUTDOWN,
 * advanced by signals received on libuv signal handles (SPEC section 7).
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

/* Called on the loop whenever the state advances. */
typedef void (*runstate_cb)(enum run_state state, int signum, void *data);

/*
 * Starts watching SIGINT, SIGTERM and SIGHUP on loop. The first SIGINT
 * moves to STOPPING; a second one more than 100 ms after the counted one
 * (repeats inside 100 ms are one keypress), SIGTERM or SIGHUP move to
 * SHUTDOWN. When `stop_is_shutdown` is true (commands with nothing to drain,
 * such as create), the first SIGINT goes straight to SHUTDOWN.
 * The handles do not keep the loop alive.
 */
int runstate_start(uv_loop_t *loop, bool stop_is_shutdown, runstate_cb cb, void *data);
/* Adds a listener (up to a few); all are called in order of registration. */
void runstate_listen(runstate_cb cb, void *data);
/* Removes a listener added with runstate_listen or runstate_start. */
void runstate_unlisten(runstate_cb cb, void *data);
enum run_state runstate_get(void);
/* The signal that caused the last advance (0 when none). */
int runstate_signal(void);
/* Advances the state as if signum had arrived (also used by the keyboard handler). */
void runstate_raise(int signum);
/* Closes the signal handles. */
void runstate_stop(void);

#endif
