/*
 * Calling a function on the next pass of the loop, so that a callback is
 * never run from inside the function that started the work (`_start`
 * returns first, and the caller sees its result before any callback).
 */
#ifndef BOB_DEFER_H
#define BOB_DEFER_H

#include <uv.h>

typedef void (*loop_defer_cb)(void *data);

/*
 * Runs cb(data) once on the next pass of loop. The handle is allocated and
 * freed here; whatever data points to must stay alive until cb has run
 * (hold it: util/ref.h). 0, or a negative libuv error (cb will not run).
 */
int loop_defer(uv_loop_t *loop, loop_defer_cb cb, void *data);

#endif
