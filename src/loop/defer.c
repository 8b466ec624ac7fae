/* One-shot calls on the next pass of the loop. */
#include "loop/defer.h"

#include <stdlib.h>

#include "util/util.h"

struct defer {
    uv_timer_t timer;
    loop_defer_cb cb;
    void *data;
};

static void defer_on_close(uv_handle_t *h)
{
    free(h->data);
}

static void defer_on_timer(uv_timer_t *t)
{
    struct defer *d = t->data;
    d->cb(d->data);
    uv_close((uv_handle_t *)&d->timer, defer_on_close);
}

int loop_defer(uv_loop_t *loop, loop_defer_cb cb, void *data)
{
    struct defer *d = xcalloc(1, sizeof(*d));
    int r = uv_timer_init(loop, &d->timer);
    if (r < 0) {
        free(d);
        return r;
    }
    d->timer.data = d;
    d->cb = cb;
    d->data = data;
    r = uv_timer_start(&d->timer, defer_on_timer, 0, 0);
    if (r < 0)
        uv_close((uv_handle_t *)&d->timer, defer_on_close);
    return r;
}
