/*
 * The cgroup watcher: epoll (uv_poll, UV_PRIORITIZED) on open descriptors
 * of the job's cgroup.events and of its limit counters. kernfs marks a
 * file POLLPRI when it changes; reading the descriptor again consumes the
 * mark, and the file is read again on each, so that several changes folded
 * into one notification are still seen. (Not inotify: closing an inotify
 * instance waits for an SRCU grace period, about 14 ms here, which every
 * `sandbox run` paid at exit.) The race of a job that
 * emptied before the watch began is closed by reading cgroup.events after
 * the watch is armed, and answering on the next loop pass (loop_defer).
 *
 * Lifetime (util/ref.h): the owner holds the watcher until cgwatch_free;
 * every open handle and the deferred first check hold it too.
 */
#include "loop/cgwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop/defer.h"
#include "util/ref.h"

struct cgwatch {
    struct ref ref;
    const struct cgroup_job *job;
    cgwatch_cb cb;
    void *data;
    struct cgwatch_file {
        uv_poll_t poll;
        int fd;
        struct cgwatch *w;
    } events, limit[CGROUP_JOB_MAX_FDS]; /* cgroup.events; memory.events, pids.events */
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
    struct cgwatch_file *f = h->data;
    close(f->fd);
    ref_drop(&f->w->ref);
}

/* Reads the file again through its descriptor: kernfs then clears its POLLPRI mark. */
static void cgwatch_consume(struct cgwatch_file *f)
{
    char buf[512];
    (void)!pread(f->fd, buf, sizeof(buf), 0);
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
    uv_poll_stop(&w->events.poll);
    for (size_t i = 0; i < w->nlimit; i++)
        uv_poll_stop(&w->limit[i].poll);
    w->cb(w, CGWATCH_EMPTY, 0, w->data);
}

static void cgwatch_on_events(uv_poll_t *h, int status, int events)
{
    struct cgwatch_file *f = h->data;
    cgwatch_consume(f);
    cgwatch_check_empty(f->w);
}

static void cgwatch_on_limit(uv_poll_t *h, int status, int events)
{
    struct cgwatch_file *f = h->data;
    struct cgwatch *w = f->w;
    cgwatch_consume(f);
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

/* Opens path and watches it for changes on f (holding w while f's handle is open). */
static int cgwatch_watch(struct cgwatch *w, uv_loop_t *loop, struct cgwatch_file *f,
                         const char *path, uv_poll_cb cb, struct err *e)
{
    int r;
    f->w = w;
    if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return err_sys(e, errno, "cgroup: cannot watch %s", path);
    cgwatch_consume(f); /* from here on, a change marks it */
    if ((r = uv_poll_init(loop, &f->poll, f->fd)) < 0) {
        close(f->fd);
        f->fd = -1;
        return err_set(e, "cgroup: cannot watch %s: %s", path, uv_strerror(r)), r;
    }
    f->poll.data = f;
    ref_hold(&w->ref);
    if ((r = uv_poll_start(&f->poll, UV_PRIORITIZED, cb)) < 0) {
        uv_close((uv_handle_t *)&f->poll, cgwatch_on_close);
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
    if (w->events.poll.data && !uv_is_closing((uv_handle_t *)&w->events.poll))
        uv_close((uv_handle_t *)&w->events.poll, cgwatch_on_close);
    for (size_t i = 0; i < w->nlimit; i++)
        if (!uv_is_closing((uv_handle_t *)&w->limit[i].poll))
            uv_close((uv_handle_t *)&w->limit[i].poll, cgwatch_on_close);
    ref_request_free(&w->ref);
}
