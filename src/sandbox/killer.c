/* Kill rounds with backoff on a loop timer. */
#include "sandbox/killer.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "util/ref.h"

#define KILLER_ROUNDS 5

struct killer {
    struct ref ref; /* util/ref.h: the owner, and the timer until its close callback */
    uv_timer_t timer;
    char *root;
    pid_t pgid;
    unsigned round;
    killer_cb cb;
    void *data;
    struct err err;
};

/* The last hold is gone. */
static void killer_release(struct ref *r)
{
    struct killer *k = REF_CONTAINER(r, struct killer, ref);
    free(k->root);
    free(k);
}

/* The timer is closed: its hold goes. */
static void killer_on_close(uv_handle_t *h)
{
    struct killer *k = h->data;
    ref_drop(&k->ref);
}

/* No more rounds: the outcome goes to the caller, who may free k from inside. */
static void killer_finish(struct killer *k, int status)
{
    uv_timer_stop(&k->timer);
    k->cb(k, status, status < 0 ? &k->err : NULL, k->data);
}

/* One round: scan, SIGKILL what is found, and come back later while anything is left. */
static void killer_on_round(uv_timer_t *t)
{
    struct killer *k = t->data;
    pid_t *pids = NULL;
    size_t n = 0;

    if (plat_find_pids(k->root, &pids, &n, &k->err) < 0) {
        free(pids);
        killer_finish(k, -1);
        return;
    }
    /* The group may hold a process that left the sandbox; its members that
     * are gone but not reaped yet (zombies) still count for kill(2), so the
     * end is decided by the scan alone, which skips zombies. */
    if (k->pgid > 0)
        kill(-k->pgid, SIGKILL);
    if (n == 0) {
        free(pids);
        killer_finish(k, 0);
        return;
    }
    if (k->round == KILLER_ROUNDS) {
        char holders[512];
        plat_describe_holders(k->root, holders, sizeof(holders));
        err_set(&k->err, "cannot kill the processes in %s: %s", k->root,
                holders[0] ? holders : "still running");
        free(pids);
        killer_finish(k, -1);
        return;
    }
    plat_kill_pids(pids, n, SIGKILL);
    free(pids);
    if (uv_timer_start(&k->timer, killer_on_round, 64u << k->round, 0) < 0) {
        err_set(&k->err, "cannot start the kill rounds' timer");
        killer_finish(k, -1);
        return;
    }
    k->round++;
}

struct killer *killer_start(uv_loop_t *loop, const char *root, pid_t pgid, killer_cb cb, void *data)
{
    struct killer *k = xcalloc(1, sizeof(*k));
    ref_init(&k->ref, killer_release);
    k->root = xstrdup(root);
    k->pgid = pgid;
    k->cb = cb;
    k->data = data;
    if (uv_timer_init(loop, &k->timer) < 0) {
        ref_request_free(&k->ref);
        return NULL;
    }
    ref_hold(&k->ref); /* the timer's, dropped in its close callback */
    k->timer.data = k;
    if (uv_timer_start(&k->timer, killer_on_round, 0, 0) < 0) {
        killer_free(k);
        return NULL;
    }
    return k;
}

void killer_free(struct killer *k)
{
    if (!k || k->ref.free_requested)
        return;
    uv_timer_stop(&k->timer);
    uv_close((uv_handle_t *)&k->timer, killer_on_close);
    ref_request_free(&k->ref);
}
