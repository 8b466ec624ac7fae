/* Run state and signal handling on libuv signal handles. */
#include "loop/runstate.h"

#include <signal.h>
#include <stdlib.h>

#include "util/util.h"

#define SIGINT_WINDOW_MS 100.0
#define RUNSTATE_NSIG 3

struct runstate {
    enum run_state state;
    int signum;
    bool stop_is_shutdown;
    double last_sigint;
    runstate_cb cb;
    void *data;
    uv_signal_t sig[RUNSTATE_NSIG];
    int open; /* handles not yet closed */
};

static const int runstate_watched[RUNSTATE_NSIG] = {SIGINT, SIGTERM, SIGHUP};

/* Moves to `state` if that is an advance, and tells the callback. */
static void runstate_advance(struct runstate *rs, enum run_state state, int signum)
{
    if (state <= rs->state)
        return;
    rs->state = state;
    rs->signum = signum;
    if (rs->cb)
        rs->cb(state, signum, rs->data);
}

void runstate_raise(struct runstate *rs, int signum)
{
    if (signum == SIGINT) {
        double t = now_ms();
        if (rs->last_sigint > 0 && t - rs->last_sigint < SIGINT_WINDOW_MS)
            return; /* one keypress delivered twice */
        rs->last_sigint = t;
        runstate_advance(rs, rs->stop_is_shutdown ? RUN_SHUTDOWN : rs->state + 1, signum);
    } else {
        runstate_advance(rs, RUN_SHUTDOWN, signum);
    }
}

/* The signal handle callback. */
static void runstate_on_signal(uv_signal_t *h, int signum)
{
    runstate_raise(h->data, signum);
}

/* The memory goes with the last handle. */
static void runstate_on_close(uv_handle_t *h)
{
    struct runstate *rs = h->data;
    if (--rs->open == 0)
        free(rs);
}

struct runstate *runstate_new(uv_loop_t *loop, bool stop_is_shutdown, runstate_cb cb, void *data,
                              int *err)
{
    struct runstate *rs = xcalloc(1, sizeof(*rs));
    int r = 0;
    rs->stop_is_shutdown = stop_is_shutdown;
    rs->cb = cb;
    rs->data = data;
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < RUNSTATE_NSIG; i++) {
        if ((r = uv_signal_init(loop, &rs->sig[i])) < 0)
            break;
        rs->sig[i].data = rs;
        rs->open++;
        uv_unref((uv_handle_t *)&rs->sig[i]);
        if ((r = uv_signal_start(&rs->sig[i], runstate_on_signal, runstate_watched[i])) < 0)
            break;
    }
    if (r < 0) {
        if (err)
            *err = r;
        if (rs->open == 0)
            free(rs);
        else
            runstate_free(rs);
        return NULL;
    }
    return rs;
}

enum run_state runstate_get(const struct runstate *rs)
{
    return rs->state;
}

int runstate_signal(const struct runstate *rs)
{
    return rs->signum;
}

void runstate_free(struct runstate *rs)
{
    int n;
    if (!rs)
        return;
    rs->cb = NULL;
    n = rs->open; /* the last close callback frees rs */
    for (int i = 0; i < n; i++)
        uv_close((uv_handle_t *)&rs->sig[i], runstate_on_close);
}
