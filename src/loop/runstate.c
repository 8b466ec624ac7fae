/* Run state and signal handling on libuv signal handles. */
#include "loop/runstate.h"

#include <signal.h>
#include <string.h>

#include "util/util.h"

#define SIGINT_WINDOW_MS 100.0
#define MAX_LISTENERS 8

struct listener {
    runstate_cb cb;
    void *data;
};

static struct {
    enum run_state state;
    int signum;
    bool stop_is_shutdown;
    double last_sigint;
    bool started;
    uv_signal_t sig[3];
    struct listener listeners[MAX_LISTENERS];
} rs;

static const int watched[3] = {SIGINT, SIGTERM, SIGHUP};

/* Moves to `state` if that is an advance, and tells the listeners. */
static void advance(enum run_state state, int signum)
{
    if (state <= rs.state)
        return;
    rs.state = state;
    rs.signum = signum;
    for (int i = 0; i < MAX_LISTENERS; i++)
        if (rs.listeners[i].cb)
            rs.listeners[i].cb(state, signum, rs.listeners[i].data);
}

void runstate_raise(int signum)
{
    if (signum == SIGINT) {
        double t = now_ms();
        if (rs.last_sigint > 0 && t - rs.last_sigint < SIGINT_WINDOW_MS)
            return; /* one keypress delivered twice */
        rs.last_sigint = t;
        advance(rs.stop_is_shutdown ? RUN_SHUTDOWN : rs.state + 1, signum);
    } else {
        advance(RUN_SHUTDOWN, signum);
    }
}

/* The signal handle callback. */
static void on_signal(uv_signal_t *h, int signum)
{
    runstate_raise(signum);
}

void runstate_listen(runstate_cb cb, void *data)
{
    for (int i = 0; i < MAX_LISTENERS; i++)
        if (!rs.listeners[i].cb) {
            rs.listeners[i].cb = cb;
            rs.listeners[i].data = data;
            return;
        }
}

void runstate_unlisten(runstate_cb cb, void *data)
{
    for (int i = 0; i < MAX_LISTENERS; i++)
        if (rs.listeners[i].cb == cb && rs.listeners[i].data == data)
            rs.listeners[i].cb = NULL;
}

int runstate_start(uv_loop_t *loop, bool stop_is_shutdown, runstate_cb cb, void *data)
{
    int r;
    rs.stop_is_shutdown = stop_is_shutdown;
    if (cb)
        runstate_listen(cb, data);
    if (rs.started)
        return 0;
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < 3; i++) {
        uv_signal_init(loop, &rs.sig[i]);
        r = uv_signal_start(&rs.sig[i], on_signal, watched[i]);
        if (r < 0)
            return r;
        uv_unref((uv_handle_t *)&rs.sig[i]);
    }
    rs.started = true;
    return 0;
}

enum run_state runstate_get(void)
{
    return rs.state;
}

int runstate_signal(void)
{
    return rs.signum;
}

void runstate_stop(void)
{
    if (!rs.started)
        return;
    for (int i = 0; i < 3; i++)
        uv_close((uv_handle_t *)&rs.sig[i], NULL);
    rs.started = false;
    memset(rs.listeners, 0, sizeof(rs.listeners));
}
