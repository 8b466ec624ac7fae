/* Kill rounds with backoff on a loop timer. */
#include "sandbox/killer.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

#define KILLER_ROUNDS 5

struct killer {
    uv_timer_t timer;
    char *root;
    pid_t *spare;
    size_t nspare;
    pid_t pgid;
    unsigned round;
    bool done, freed;
    killer_cb cb;
    void *data;
    struct err err;
};

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return x < y ? -1 : x > y;
}

int killer_snapshot(const char *root, pid_t **pids, size_t *n, struct err *e)
{
    int r = plat_find_pids(root, pids, n, e);
    if (r == 0 && *n > 1)
        qsort(*pids, *n, sizeof(**pids), cmp_pid);
    return r;
}

static void on_close(uv_handle_t *h)
{
    struct killer *k = h->data;
    free(k->root);
    free(k->spare);
    free(k);
}

static void finish(struct killer *k, int status)
{
    k->done = true;
    uv_timer_stop(&k->timer);
    k->cb(k, status, status < 0 ? &k->err : NULL, k->data);
}

/* Drops the spared pids from pids[0..*n). */
static void drop_spared(const struct killer *k, pid_t *pids, size_t *n)
{
    size_t out = 0;
    for (size_t i = 0; i < *n; i++)
        if (!k->nspare || !bsearch(&pids[i], k->spare, k->nspare, sizeof(pid_t), cmp_pid))
            pids[out++] = pids[i];
    *n = out;
}

static void on_round(uv_timer_t *t)
{
    struct killer *k = t->data;
    pid_t *pids = NULL;
    size_t n = 0;

    if (plat_find_pids(k->root, &pids, &n, &k->err) < 0) {
        free(pids);
        finish(k, -1);
        return;
    }
    drop_spared(k, pids, &n);
    /* The group may hold a process that left the sandbox; its members that
     * are gone but not reaped yet (zombies) still count for kill(2), so the
     * end is decided by the scan alone, which skips zombies. */
    if (k->pgid > 0)
        kill(-k->pgid, SIGKILL);
    if (n == 0) {
        free(pids);
        finish(k, 0);
        return;
    }
    if (k->round == KILLER_ROUNDS) {
        char holders[512];
        plat_describe_holders(k->root, holders, sizeof(holders));
        err_set(&k->err, "cannot kill the processes in %s: %s", k->root,
                holders[0] ? holders : "still running");
        free(pids);
        finish(k, -1);
        return;
    }
    plat_kill_pids(pids, n, SIGKILL);
    free(pids);
    uv_timer_start(&k->timer, on_round, 64u << k->round, 0);
    k->round++;
}

struct killer *killer_start(uv_loop_t *loop, const char *root, const pid_t *spare, size_t nspare,
                            pid_t pgid, killer_cb cb, void *data)
{
    struct killer *k = xcalloc(1, sizeof(*k));
    k->root = xstrdup(root);
    if (nspare) {
        k->spare = xmalloc(nspare * sizeof(*spare));
        memcpy(k->spare, spare, nspare * sizeof(*spare));
        k->nspare = nspare;
    }
    k->pgid = pgid;
    k->cb = cb;
    k->data = data;
    uv_timer_init(loop, &k->timer);
    k->timer.data = k;
    uv_timer_start(&k->timer, on_round, 0, 0);
    return k;
}

void killer_free(struct killer *k)
{
    if (!k || k->freed)
        return;
    k->freed = true;
    uv_timer_stop(&k->timer);
    uv_close((uv_handle_t *)&k->timer, on_close);
}
