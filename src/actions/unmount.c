/* Unmounting with retries on a loop timer (see unmount.h). */
#include "actions/unmount.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "platform/platform.h"

struct unmount {
    uv_loop_t *loop;
    char *root, *dest;
    unmount_cb cb;
    void *data;
    uv_timer_t timer; /* the retry backoff, and the deferred report */
    uv_work_t work;
    unsigned attempt; /* attempts made before the current one */
    int status;       /* of the last attempt, or the one to report */
    struct err err;   /* written by the thread pool while working */
    bool working;     /* an attempt is queued or running */
    bool waiting;     /* the timer runs: a retry or a report is due */
    bool reporting;   /* the timer's end reports status instead of retrying */
    bool cancelled, done, free_requested;
    int handles; /* the timer until closed, plus the queued attempt */
};

static void unmount_attempt(struct unmount *u);

unsigned unmount_delay(unsigned attempt)
{
    unsigned shift = attempt > 4 ? 4 : attempt;
    return 64u << shift; /* 64, 128, 256, 512, 1024, 1024, ... */
}

static void unmount_maybe_free(struct unmount *u)
{
    if (!u->free_requested || u->handles > 0)
        return;
    free(u->root);
    free(u->dest);
    free(u);
}

/* Calls the callback once, unless the owner has abandoned the unmount. */
static void unmount_finish(struct unmount *u)
{
    if (u->done || u->free_requested)
        return;
    u->done = true;
    u->cb(u, u->status, u->status < 0 ? &u->err : NULL, u->data);
}

static void unmount_on_timer(uv_timer_t *t)
{
    struct unmount *u = t->data;
    u->waiting = false;
    if (u->reporting || u->cancelled) {
        if (!u->reporting) {
            u->status = -ECANCELED;
            err_set(&u->err, "interrupted");
        }
        unmount_finish(u);
        return;
    }
    unmount_attempt(u);
}

/* Arms the timer: a retry after ms, or (report) the callback on the next loop iteration. */
static void unmount_arm(struct unmount *u, uint64_t ms, bool report)
{
    int rc = uv_timer_start(&u->timer, unmount_on_timer, ms, 0);
    u->reporting = report;
    if (rc == 0) {
        u->waiting = true;
        return;
    }
    /* Only a closing timer is refused: the owner has freed u, nobody waits. */
    if (!report) {
        u->status = rc;
        err_set(&u->err, "cannot unmount %s in %s: %s", u->dest, u->root, uv_strerror(rc));
    }
    unmount_finish(u);
}

/* Thread pool: one attempt. */
static void unmount_work(uv_work_t *w)
{
    struct unmount *u = w->data;
    err_clear(&u->err);
    u->status = plat_unmount(u->root, u->dest, &u->err);
    if (u->status == 0)
        plat_prune_empty(u->root, u->dest);
}

static void unmount_after(uv_work_t *w, int status)
{
    struct unmount *u = w->data;
    u->working = false;
    u->handles--;
    if (u->free_requested) {
        unmount_maybe_free(u);
        return;
    }
    if (status == UV_ECANCELED || (u->cancelled && u->status == -EBUSY)) {
        u->status = -ECANCELED;
        err_set(&u->err, "interrupted");
    } else if (u->status == -EBUSY && u->attempt + 1 < UNMOUNT_ATTEMPTS) {
        unmount_arm(u, unmount_delay(u->attempt++), false);
        return;
    }
    unmount_finish(u);
}

/* Queues an attempt in the thread pool; a refusal is reported on the next iteration. */
static void unmount_attempt(struct unmount *u)
{
    int rc;
    u->work.data = u;
    rc = uv_queue_work(u->loop, &u->work, unmount_work, unmount_after);
    if (rc < 0) {
        u->status = rc;
        err_set(&u->err, "cannot unmount %s in %s: %s", u->dest, u->root, uv_strerror(rc));
        unmount_arm(u, 0, true);
        return;
    }
    u->working = true;
    u->handles++;
}

struct unmount *unmount_start(uv_loop_t *loop, const char *root, const char *dest, unmount_cb cb,
                              void *data, struct err *e)
{
    struct unmount *u = xcalloc(1, sizeof(*u));
    int rc = uv_timer_init(loop, &u->timer);
    if (rc < 0) {
        free(u);
        err_set(e, "cannot unmount %s in %s: %s", dest, root, uv_strerror(rc));
        return NULL;
    }
    u->loop = loop;
    u->root = xstrdup(root);
    u->dest = xstrdup(dest);
    u->cb = cb;
    u->data = data;
    u->timer.data = u;
    u->handles = 1;
    unmount_attempt(u);
    return u;
}

void unmount_cancel(struct unmount *u)
{
    if (!u || u->done || u->cancelled)
        return;
    u->cancelled = true;
    if (u->working) {
        /* Fails (UV_EBUSY) once the attempt runs: unmount_after then sees cancelled. */
        (void)uv_cancel((uv_req_t *)&u->work);
    } else if (u->waiting && !u->reporting) {
        /* Waiting for a retry: give up now, reported on the next iteration. */
        uv_timer_stop(&u->timer);
        unmount_arm(u, 0, false);
    }
}

static void unmount_on_close(uv_handle_t *h)
{
    struct unmount *u = h->data;
    u->handles--;
    unmount_maybe_free(u);
}

void unmount_free(struct unmount *u)
{
    if (!u || u->free_requested)
        return;
    u->free_requested = true;
    if (u->working)
        (void)uv_cancel((uv_req_t *)&u->work); /* UV_EBUSY when running: waited for */
    uv_close((uv_handle_t *)&u->timer, unmount_on_close);
}
