/*
 * Benchmark of the build scheduler alone (src/sandbox/sched.c): a config of
 * N jobs, each depending on D distinct earlier jobs (a fixed pseudo-random
 * choice, the same every run), built in memory; then sched_select of all
 * jobs, sched_new, and a whole simulated run with S slots, every job
 * succeeding, finished in the order started. Prints two figures in ms on
 * one line: sched_select + sched_new, and the run. Built and run by
 * bench/sched.
 *
 *   sched-bench [N [D [S]]]     (default 20000 5 4)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sched.h"

/* A small fixed generator: the graph is the same on every run. */
static unsigned long bench_rand(unsigned long *st)
{
    *st = *st * 6364136223846793005ul + 1442695040888963407ul;
    return *st >> 33;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    size_t deps = argc > 2 ? strtoul(argv[2], NULL, 10) : 5;
    size_t slots = argc > 3 ? strtoul(argv[3], NULL, 10) : 4;
    struct config cfg;
    unsigned long st = 1;
    size_t *jobs, njobs, *running, head = 0, nrun = 0, done = 0;
    struct sched *s;
    struct err e;
    double t0, t1, t2;

    memset(&cfg, 0, sizeof(cfg));
    cfg.njobs = n;
    cfg.jobs = xcalloc(n ? n : 1, sizeof(*cfg.jobs));
    for (size_t i = 0; i < n; i++) {
        struct job *j = &cfg.jobs[i];
        size_t want = deps < i ? deps : i;
        j->name = xasprintf("job%zu", i);
        j->dep_idx = xcalloc(want ? want : 1, sizeof(size_t));
        while (j->depends.n < want) {
            size_t d = bench_rand(&st) % i;
            if (strv_contains(&j->depends, cfg.jobs[d].name))
                continue;
            j->dep_idx[j->depends.n] = d;
            strv_push(&j->depends, cfg.jobs[d].name);
        }
    }

    t0 = now_ms();
    if (sched_select(&cfg, NULL, 0, &jobs, &njobs, &e) < 0) {
        fprintf(stderr, "sched-bench: %s\n", e.msg);
        return 1;
    }
    s = sched_new(&cfg, jobs, njobs);
    t1 = now_ms();
    running = xcalloc(slots ? slots : 1, sizeof(*running));
    while (!sched_finished(s)) {
        long j;
        while (nrun < slots && (j = sched_next(s)) >= 0)
            running[(head + nrun++) % slots] = (size_t)j;
        if (nrun == 0) {
            fprintf(stderr, "sched-bench: stuck with nothing running\n");
            return 1;
        }
        sched_done(s, running[head], true, NULL, NULL);
        head = (head + 1) % slots;
        nrun--;
        done++;
    }
    t2 = now_ms();
    if (done != n || sched_count(s, JOB_SUCCEEDED) != n) {
        fprintf(stderr, "sched-bench: %zu of %zu jobs ran\n", done, n);
        return 1;
    }
    printf("%.1f %.1f\n", t1 - t0, t2 - t1);
    sched_free(s);
    free(jobs);
    free(running);
    for (size_t i = 0; i < n; i++) {
        free(cfg.jobs[i].name);
        free(cfg.jobs[i].dep_idx);
        strv_free(&cfg.jobs[i].depends);
    }
    free(cfg.jobs);
    return 0;
}
