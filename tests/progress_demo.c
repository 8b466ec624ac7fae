/*
 * A scripted fake build on a real loop, for terminal tests of the progress
 * display (tests/e2e/t_progress_tty.sh): 3 slots, jobs that go through
 * stages on timers and write fake output lines into capture rings, one that
 * fails and two that are skipped because of it. It ends by itself; Ctrl+C
 * stops it the way bob build stops (SPEC section 7).
 *
 * usage: progress_demo [SCALE [abort|segv|exit]]
 *   SCALE multiplies the job durations; the second word makes the demo
 *   end badly 1.5 s in (abort(), a real invalid write, exit(3) from a
 *   callback), to check that the terminal is restored on those paths too.
 * stdout at the end: "demo: built N, failed N, skipped N[, interrupted]"
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop/capture.h"
#include "display/display.h"
#include "loop/runstate.h"
#include "util/util.h"

#define NSLOTS 3
#define OUTPUT_MS 150

enum job_state { JOB_PENDING, JOB_RUNNING, JOB_OK, JOB_FAILED, JOB_SKIPPED };

struct job {
    const char *name;
    const char *stages[4]; /* NULL-terminated */
    unsigned ms;           /* all stages together */
    bool fails;            /* in its last stage */
    int dep;               /* the job it needs, or -1 */
    enum job_state state;
};

static struct job jobs[] = {
    {"zlib-1.3.1", {"configure", "build", "install"}, 2400, false, -1, JOB_PENDING},
    {"bc-1.07.1", {"configure", "build"}, 2000, true, -1, JOB_PENDING},
    {"ncurses-6.4", {"configure", "build", "install"}, 3300, false, -1, JOB_PENDING},
    {"dc-tools-2.0", {"build"}, 900, false, 1, JOB_PENDING},
    {"libxml2-2.11.7", {"configure", "build", "install"}, 3600, false, 0, JOB_PENDING},
    {"calc-extras-1.0", {"build"}, 800, false, 3, JOB_PENDING},
    {"git-2.44.0", {"configure", "build", "install"}, 3000, false, 0, JOB_PENDING},
};
#define NJOBS (sizeof(jobs) / sizeof(jobs[0]))

struct slot {
    size_t index;
    int job; /* -1: idle */
    size_t stage;
    double start;
    unsigned lines;
    struct capture cap;
    uv_timer_t stage_timer, out_timer;
};

static struct {
    uv_loop_t loop;
    struct display *p;
    struct runstate *rs;
    struct slot slots[NSLOTS];
    double scale;
    bool ending, interrupted;
    const char *crash;
    uv_timer_t crash_timer;
    int built, failed, skipped;
} demo;

static void dispatch(void);

/* The job of slot ends: reports it and frees the slot. */
static void job_end(struct slot *s, bool ok, const char *why)
{
    struct job *j = &jobs[s->job];
    char el[32], detail[96];
    fmt_duration(el, sizeof(el), now_ms() - s->start);
    if (ok)
        snprintf(detail, sizeof(detail), "%s", el);
    else
        snprintf(detail, sizeof(detail), "%s, %s", why, el);
    j->state = ok ? JOB_OK : JOB_FAILED;
    if (ok)
        demo.built++;
    else
        demo.failed++;
    uv_timer_stop(&s->stage_timer);
    uv_timer_stop(&s->out_timer);
    display_finished(demo.p, ok, j->name, detail);
    display_slot_output(demo.p, s->index, NULL);
    display_slot_idle(demo.p, s->index);
    capture_clear_ring(&s->cap);
    s->job = -1;
}

/* A fake output line of the running job, now and then with colours, a tab or a half line. */
static void on_output(uv_timer_t *t)
{
    struct slot *s = t->data;
    struct job *j = &jobs[s->job];
    const char *stage = j->stages[s->stage];
    unsigned n = ++s->lines;
    char *line;
    if (n % 4 == 0)
        line = xasprintf("\x1b[1;32m  CC\x1b[0m     %s/src/file%u.o\n", j->name, n);
    else if (n % 4 == 1)
        line = xasprintf("%s: checking for feature %u...\tyes\n", stage, n);
    else if (n % 4 == 2)
        line = xasprintf("fake output line %u of %s (%s)\n", n, j->name, stage);
    else
        line = xasprintf("progress %u%%\r", n);
    capture_add(&s->cap, line, strlen(line));
    free(line);
    display_slot_touch(demo.p, s->index);
}

/* The current stage is over: the next one, or the end of the job. */
static void on_stage(uv_timer_t *t)
{
    struct slot *s = t->data;
    struct job *j = &jobs[s->job];
    if (j->stages[s->stage + 1] == NULL) {
        job_end(s, !j->fails, j->stages[s->stage]);
        dispatch();
        return;
    }
    s->stage++;
    capture_note(&s->cap, "==> %s", j->stages[s->stage]);
    display_slot_stage(demo.p, s->index, j->stages[s->stage]);
}

/* Starts job in slot s. */
static void job_start(struct slot *s, int job)
{
    struct job *j = &jobs[job];
    size_t nstages = 0;
    while (j->stages[nstages])
        nstages++;
    unsigned stage_ms = (unsigned)(j->ms * demo.scale / (double)nstages);
    s->job = job;
    s->stage = 0;
    s->start = now_ms();
    s->lines = 0;
    j->state = JOB_RUNNING;
    display_slot_start(demo.p, s->index, (unsigned)s->index + 1, j->name);
    display_slot_stage(demo.p, s->index, j->stages[0]);
    capture_note(&s->cap, "==> %s", j->stages[0]);
    display_slot_output(demo.p, s->index, &s->cap);
    uv_timer_start(&s->stage_timer, on_stage, stage_ms, stage_ms);
    uv_timer_start(&s->out_timer, on_output, OUTPUT_MS, OUTPUT_MS);
}

/* Closes the handles and the display once nothing runs any more. */
static void end(void)
{
    demo.ending = true;
    for (size_t i = 0; i < NSLOTS; i++) {
        uv_close((uv_handle_t *)&demo.slots[i].stage_timer, NULL);
        uv_close((uv_handle_t *)&demo.slots[i].out_timer, NULL);
    }
    demo.interrupted = runstate_get(demo.rs) != RUN_RUNNING;
    runstate_free(demo.rs);
    demo.rs = NULL;
    if (demo.crash)
        uv_close((uv_handle_t *)&demo.crash_timer, NULL);
    display_free(demo.p);
    demo.p = NULL;
}

/* Skips what can never run, starts what is ready, and ends when nothing is left. */
static void dispatch(void)
{
    if (demo.ending)
        return;
    bool stopping = runstate_get(demo.rs) != RUN_RUNNING;
    for (size_t i = 0; i < NJOBS; i++) {
        struct job *j = &jobs[i];
        if (j->state == JOB_PENDING && j->dep >= 0 &&
            (jobs[j->dep].state == JOB_FAILED || jobs[j->dep].state == JOB_SKIPPED)) {
            char why[96];
            snprintf(why, sizeof(why), "depends on %s", jobs[j->dep].name);
            j->state = JOB_SKIPPED;
            demo.skipped++;
            display_skipped(demo.p, j->name, why);
            i = (size_t)-1; /* a skip may make others skip: look again */
        }
    }
    size_t running = 0;
    for (size_t k = 0; k < NSLOTS; k++) {
        struct slot *s = &demo.slots[k];
        for (size_t i = 0; i < NJOBS && s->job < 0 && !stopping; i++) {
            struct job *j = &jobs[i];
            if (j->state == JOB_PENDING && (j->dep < 0 || jobs[j->dep].state == JOB_OK))
                job_start(s, (int)i);
        }
        running += s->job >= 0;
    }
    if (running == 0)
        end();
}

/* Read at run time, so that the compiler cannot see the invalid write coming. */
static volatile uintptr_t bad_address = 8;

/* Ends the process the bad way that was asked for. */
static void on_crash(uv_timer_t *t)
{
    if (strcmp(demo.crash, "abort") == 0)
        abort();
    if (strcmp(demo.crash, "segv") == 0)
        *(volatile int *)bad_address = 1;
    exit(3);
}

/* Ctrl+C once: no new job; twice (or SIGTERM): stop the running ones now. */
static void on_state(enum run_state st, int signum, void *data)
{
    if (st == RUN_STOPPING) {
        display_set_note(demo.p, "stopping, ^C again to stop now");
        dispatch();
    } else if (st == RUN_SHUTDOWN) {
        display_set_note(demo.p, "interrupted, cleaning up");
        for (size_t k = 0; k < NSLOTS; k++)
            if (demo.slots[k].job >= 0)
                job_end(&demo.slots[k], false, "interrupted");
        dispatch();
    }
}

int main(int argc, char **argv)
{
    demo.scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (demo.scale <= 0)
        demo.scale = 1.0;
    uv_loop_init(&demo.loop);
    struct err e;
    for (size_t i = 0; i < NSLOTS; i++) {
        struct slot *s = &demo.slots[i];
        s->index = i;
        s->job = -1;
        capture_open(&s->cap, NULL, NULL, false, &e);
        uv_timer_init(&demo.loop, &s->stage_timer);
        uv_timer_init(&demo.loop, &s->out_timer);
        s->stage_timer.data = s->out_timer.data = s;
    }
    unsigned ids[NSLOTS] = {1, 2, 3};
    struct display_opts o = {.loop = &demo.loop,
                             .fd = 2,
                             .tty = isatty(2),
                             .key_fd = 0,
                             .nslots = NSLOTS,
                             .ids = ids,
                             .title = "Building"};
    demo.p = display_new(&o);
    display_set_total(demo.p, NJOBS);
    demo.rs = runstate_new(&demo.loop, false, on_state, NULL, NULL);
    if (!demo.rs)
        return 1;
    if (argc > 2) {
        demo.crash = argv[2];
        uv_timer_init(&demo.loop, &demo.crash_timer);
        uv_timer_start(&demo.crash_timer, on_crash, 1500, 0);
    }
    log_warn("this is a fake build of %zu jobs", NJOBS);
    dispatch();
    uv_run(&demo.loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < NSLOTS; i++)
        capture_close(&demo.slots[i].cap, &e);
    int r = uv_loop_close(&demo.loop);
    bool interrupted = demo.interrupted;
    printf("demo: built %d, failed %d, skipped %d%s\n", demo.built, demo.failed, demo.skipped,
           interrupted ? ", interrupted" : "");
    if (r != 0) {
        fprintf(stderr, "progress_demo: handles left open on the loop\n");
        return 1;
    }
    return interrupted ? 130 : 0;
}
