/*
 * The cgroup watcher: inotify (uv_fs_event) on the job's cgroup.events and
 * on its limit counters. kernfs_notify turns every change of these files
 * into IN_MODIFY; the file is read again on each, so that several changes
 * folded into one notification are still seen. The race of a job that
 * emptied before the watch began is closed by reading cgroup.events after
 * the watch is armed, and answering on the next loop pass (loop_defer).
 *
 * Lifetime (util/ref.h): the owner holds the watcher until cgwatch_free;
 * every open handle and the deferred first check hold it too.
 */
#include "loop/cgwatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loop/defer.h"
#include "util/ref.h"

struct cgwatch {
    struct ref ref;
    const struct cgroup_job *job;
    cgwatch_cb cb;
    void *data;
    uv_fs_event_t events;                    /* cgroup.events */
    uv_fs_event_t limit[CGROUP_JOB_MAX_FDS]; /* memory.events, pids.events */
    size_t nlimit;
    unsigned reported; /* limits already reported */
    bool empty;        /* CGWATCH_EMPTY was reported */
};

static void cgwatch_release(struct ref *r)
{
    free(REF_CONTAINER(r, struct cgwatch, ref));
}

static void cgwatch_on_close(uv_handle_t *h)
{
    struct cgwatch *w = h->data;
    ref_drop(&w->ref);
}

/* Reports the limits reached that were not reported yet. */
static void cgwatch_check_limits(struct cgwatch *w)
{
    struct err e;
    unsigned hit;
    if (cgroup_job_limits_hit(w->job, &hit, &e) < 0 || !(hit & ~w->reported))
        return;
    hit &= ~w->reported;
    w->reported |= hit;
    w->cb(w, CGWATCH_LIMIT, hit, w->data);
}

/* Reads cgroup.events; on "populated 0" reports the last limits and the end, once. */
static void cgwatch_check_empty(struct cgwatch *w)
{
    struct err e;
    int r;
    if (w->empty || w->ref.free_requested)
        return;
    r = cgroup_job_populated(w->job, &e);
    /* A cgroup that is gone was empty: rmdir refuses a populated one. */
    if (r > 0 || (r < 0 && r != -ENOENT))
        return;
    cgwatch_check_limits(w);
    if (w->ref.free_requested)
        return; /* freed from the limit callback */
    w->empty = true;
    uv_fs_event_stop(&w->events);
    for (size_t i = 0; i < w->nlimit; i++)
        uv_fs_event_stop(&w->limit[i]);
    w->cb(w, CGWATCH_EMPTY, 0, w->data);
}

static void cgwatch_on_events(uv_fs_event_t *h, const char *name, int events, int status)
{
    cgwatch_check_empty(h->data);
}

static void cgwatch_on_limit(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct cgwatch *w = h->data;
    if (!w->empty && !w->ref.free_requested)
        cgwatch_check_limits(w);
}

static void cgwatch_deferred(void *data)
{
    struct cgwatch *w = data;
    if (!w->ref.free_requested)
        cgwatch_check_limits(w); /* reached before the watch was armed */
    cgwatch_check_empty(w);
    ref_drop(&w->ref);
}

/* Starts an inotify watch of path on h (holding w while h is open). */
static int cgwatch_watch(struct cgwatch *w, uv_loop_t *loop, uv_fs_event_t *h, const char *path,
                         uv_fs_event_cb cb, struct err *e)
{
    int r = uv_fs_event_init(loop, h);
    if (r < 0)
        return err_set(e, "cgroup: cannot watch %s: %s", path, uv_strerror(r)), r;
    h->data = w;
    ref_hold(&w->ref);
    if ((r = uv_fs_event_start(h, cb, path, 0)) < 0) {
        uv_close((uv_handle_t *)h, cgwatch_on_close);
        err_set(e, "cgroup: cannot watch %s: %s", path, uv_strerror(r));
        e->code = -r;
        return r;
    }
    return 0;
}

int cgwatch_start(uv_loop_t *loop, const struct cgroup_job *job, cgwatch_cb cb, void *data,
                  struct cgwatch **out, struct err *e)
{
    struct cgwatch *w = xcalloc(1, sizeof(*w));
    const char *const *files;
    size_t n = cgroup_job_limit_files(job, &files);
    int r;

    *out = NULL;
    ref_init(&w->ref, cgwatch_release);
    w->job = job;
    w->cb = cb;
    w->data = data;
    if ((r = cgwatch_watch(w, loop, &w->events, cgroup_job_events_path(job), cgwatch_on_events,
                           e)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if ((r = cgwatch_watch(w, loop, &w->limit[i], files[i], cgwatch_on_limit, e)) < 0)
            goto fail;
        w->nlimit++;
    }
    /* Armed: whatever changes from here on is notified. Was it empty already? */
    ref_hold(&w->ref);
    if ((r = loop_defer(loop, cgwatch_deferred, w)) < 0) {
        ref_drop(&w->ref);
        err_set(e, "cgroup: cannot defer a check: %s", uv_strerror(r));
        goto fail;
    }
    *out = w;
    return 0;
fail:
    cgwatch_free(w);
    return r;
}

void cgwatch_free(struct cgwatch *w)
{
    if (!w || w->ref.free_requested)
        return;
    if (w->events.data && !uv_is_closing((uv_handle_t *)&w->events))
        uv_close((uv_handle_t *)&w->events, cgwatch_on_close);
    for (size_t i = 0; i < w->nlimit; i++)
        if (!uv_is_closing((uv_handle_t *)&w->limit[i]))
            uv_close((uv_handle_t *)&w->limit[i], cgwatch_on_close);
    ref_request_free(&w->ref);
}
