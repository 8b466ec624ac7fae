/*
 * The one lifetime rule of every asynchronous object (neovim's proc.c
 * decref): an object counts the holds on it. Its owner holds it from
 * ref_init on and lets go with ref_request_free; every pending callback
 * (an open handle, queued thread-pool work, a deferred call, a child
 * object) holds it too and drops its hold when it has run. The object is
 * released, exactly once, when the last hold goes, so that a callback can
 * never run on freed memory whatever order things finish in.
 */
#ifndef BOB_REF_H
#define BOB_REF_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>

struct ref {
    unsigned holds;
    bool free_requested;
    void (*release)(struct ref *r); /* frees the object that embeds r */
};

/* The object that embeds member `m` of type `type`, from a pointer to m. */
#define REF_CONTAINER(p, type, m) ((type *)(void *)((char *)(p)-offsetof(type, m)))

/* Starts with the owner's hold. */
static inline void ref_init(struct ref *r, void (*release)(struct ref *r))
{
    r->holds = 1;
    r->free_requested = false;
    r->release = release;
}

static inline void ref_hold(struct ref *r)
{
    r->holds++;
}

/* Drops one hold; the last one releases the object. */
static inline void ref_drop(struct ref *r)
{
    assert(r->holds > 0);
    if (--r->holds == 0)
        r->release(r);
}

/* The owner lets go (once; later calls do nothing): released when nothing else holds it. */
static inline void ref_request_free(struct ref *r)
{
    if (r->free_requested)
        return;
    r->free_requested = true;
    ref_drop(r);
}

#endif
