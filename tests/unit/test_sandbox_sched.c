/*
 * Unit tests of the build scheduler (src/sandbox/sched.c), against its
 * documented rule: a job is ready when all its dependencies succeeded;
 * among ready jobs the one heading the longest chain of dependents (itself
 * included) goes first, then the order of the config; a failure skips
 * every job that depends on it, directly or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sandbox/sched.h"

/* The index of the job called name in cfg (the test's own lookup). */
static size_t job_idx(const struct config *cfg, const char *name)
{
    for (size_t j = 0; j < cfg->njobs; j++)
        if (strcmp(cfg->jobs[j].name, name) == 0)
            return j;
    fail_msg("no job %s", name);
    return 0;
}

/*
 * A config holding only jobs, from a spec such as "c:b b:a a": jobs in
 * that order, separated by spaces, each "name" or "name:dep,dep" (a
 * dependency may come later in the config than its dependent).
 */
static void cfg_make(struct config *cfg, const char *spec)
{
    char *copy = xstrdup(spec), *save = NULL, *tok;
    char **deps;
    memset(cfg, 0, sizeof(*cfg));
    for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        cfg->njobs++;
    free(copy);
    cfg->jobs = xcalloc(cfg->njobs ? cfg->njobs : 1, sizeof(*cfg->jobs));
    deps = xcalloc(cfg->njobs ? cfg->njobs : 1, sizeof(*deps));
    copy = xstrdup(spec);
    size_t i = 0;
    for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
        char *colon = strchr(tok, ':');
        if (colon) {
            *colon = '\0';
            deps[i] = xstrdup(colon + 1);
        }
        cfg->jobs[i].name = xstrdup(tok);
    }
    free(copy);
    for (i = 0; i < cfg->njobs; i++) {
        struct job *j = &cfg->jobs[i];
        char *dsave = NULL;
        j->dep_idx = xcalloc(cfg->njobs ? cfg->njobs : 1, sizeof(size_t));
        if (!deps[i])
            continue;
        for (tok = strtok_r(deps[i], ",", &dsave); tok; tok = strtok_r(NULL, ",", &dsave)) {
            j->dep_idx[j->depends.n] = job_idx(cfg, tok);
            strv_push(&j->depends, tok);
        }
        free(deps[i]);
    }
    free(deps);
}

static void cfg_drop(struct config *cfg)
{
    for (size_t i = 0; i < cfg->njobs; i++) {
        free(cfg->jobs[i].name);
        free(cfg->jobs[i].dep_idx);
        strv_free(&cfg->jobs[i].depends);
    }
    free(cfg->jobs);
    memset(cfg, 0, sizeof(*cfg));
}

/* A scheduler over every job of cfg. */
static struct sched *sched_all(const struct config *cfg)
{
    size_t *jobs, n;
    struct err e;
    struct sched *s;
    assert_int_equal(sched_select(cfg, NULL, 0, &jobs, &n, &e), 0);
    assert_int_equal(n, cfg->njobs);
    s = sched_new(cfg, jobs, n);
    free(jobs);
    return s;
}

/* What the skip callback was told: "job<-failed" words, in call order. */
struct skips {
    const struct config *cfg;
    struct buf b;
    size_t n;
};

static void on_skip(size_t job, size_t failed, void *data)
{
    struct skips *sk = data;
    buf_printf(&sk->b, "%s%s<-%s", sk->n++ ? " " : "", sk->cfg->jobs[job].name,
               sk->cfg->jobs[failed].name);
}

/*
 * Runs s to the end with `slots` jobs at a time, finishing the oldest
 * first; the jobs named in fails (space-separated words) fail. Returns the
 * start order as "a b c" (malloc'd). Checks on the way that every job
 * started had all its dependencies succeeded.
 */
static char *run(struct sched *s, const struct config *cfg, size_t slots, const char *fails,
                 struct skips *sk)
{
    struct buf order = {0};
    size_t running[16], nrun = 0;
    assert_true(slots <= 16);
    while (!sched_finished(s)) {
        long j;
        while (nrun < slots && (j = sched_next(s)) >= 0) {
            const struct job *jb = &cfg->jobs[j];
            assert_int_equal(sched_state(s, (size_t)j), JOB_RUNNING);
            for (size_t d = 0; d < jb->depends.n; d++)
                assert_int_equal(sched_state(s, jb->dep_idx[d]), JOB_SUCCEEDED);
            buf_printf(&order, "%s%s", order.len ? " " : "", jb->name);
            running[nrun++] = (size_t)j;
        }
        assert_true(nrun > 0); /* not finished, so something must be running */
        size_t done = running[0];
        memmove(running, running + 1, --nrun * sizeof(*running));
        char word[64];
        snprintf(word, sizeof(word), " %s ", cfg->jobs[done].name);
        char *padded = xasprintf(" %s ", fails ? fails : "");
        bool ok = strstr(padded, word) == NULL;
        free(padded);
        sched_done(s, done, ok, on_skip, sk);
        assert_int_equal(sched_state(s, done), ok ? JOB_SUCCEEDED : JOB_FAILED);
    }
    assert_int_equal(sched_next(s), -1);
    return order.p ? order.p : xstrdup("");
}

/* Runs all of spec one job at a time and checks the start order. */
static void check_order(const char *spec, size_t slots, const char *want)
{
    struct config cfg;
    struct skips sk = {0};
    struct sched *s;
    char *got;
    cfg_make(&cfg, spec);
    sk.cfg = &cfg;
    s = sched_all(&cfg);
    got = run(s, &cfg, slots, NULL, &sk);
    assert_string_equal(got, want);
    assert_int_equal(sk.n, 0);
    assert_int_equal(sched_count(s, JOB_SUCCEEDED), cfg.njobs);
    assert_int_equal(sched_total(s), cfg.njobs);
    free(got);
    buf_free(&sk.b);
    sched_free(s);
    cfg_drop(&cfg);
}

/* A chain runs in dependency order whatever the config order. */
static void test_chain(void **state)
{
    (void)state;
    check_order("c:b b:a a", 1, "a b c");
    check_order("a b:a c:b d:c", 3, "a b c d");
}

/* A diamond: the top first, the two middles in config order, the bottom last. */
static void test_diamond(void **state)
{
    (void)state;
    check_order("a b:a c:a d:b,c", 1, "a b c d");
    check_order("d:c,b c:a b:a a", 2, "a c b d");
}

/* Independent jobs go in config order, not by name. */
static void test_independent(void **state)
{
    (void)state;
    check_order("x z y", 1, "x z y");
    check_order("b a c", 2, "b a c");
}

/* The priorities: the longest chain of dependents a job heads, itself included. */
static void test_priority_values(void **state)
{
    struct config cfg;
    struct sched *s;
    (void)state;
    /* wide has 3 dependents of depth 1; deep heads a chain of 3. */
    cfg_make(&cfg, "wide w1:wide w2:wide w3:wide deep d1:deep d2:d1 x:d2,w1 lone");
    s = sched_all(&cfg);
    assert_int_equal(sched_priority(s, job_idx(&cfg, "deep")), 4);
    assert_int_equal(sched_priority(s, job_idx(&cfg, "d1")), 3);
    assert_int_equal(sched_priority(s, job_idx(&cfg, "d2")), 2);
    assert_int_equal(sched_priority(s, job_idx(&cfg, "wide")), 3);
    assert_int_equal(sched_priority(s, job_idx(&cfg, "w1")), 2);
    assert_int_equal(sched_priority(s, job_idx(&cfg, "w2")), 1);
    assert_int_equal(sched_priority(s, job_idx(&cfg, "x")), 1);
    assert_int_equal(sched_priority(s, job_idx(&cfg, "lone")), 1);
    sched_free(s);
    cfg_drop(&cfg);
}

/* The job heading the longest chain goes first, even when it comes late in the config. */
static void test_critical_path_first(void **state)
{
    (void)state;
    /* long1 (3) before short (1); then long2 (2); then short and long3 tie at 1: config order. */
    check_order("short long1 long2:long1 long3:long2", 1, "long1 long2 short long3");
    /*
     * More dependents do not beat a longer chain: deep (3) before wide (2);
     * then wide and d1 tie at 2 (config order), then the 1s in config order.
     */
    check_order("wide w1:wide w2:wide w3:wide deep d1:deep d2:d1", 1, "deep wide d1 w1 w2 w3 d2");
}

/*
 * Weights (recorded durations): the heaviest remaining path goes first,
 * whatever the chain lengths; settling a pending job (sched_done before it
 * runs) releases or skips its dependents.
 */
static void test_weighted_and_settled(void **state)
{
    struct config cfg;
    struct sched *s;
    (void)state;
    /* long1 -> long2 is the longer chain, but slow alone weighs more. */
    cfg_make(&cfg, "long1 long2:long1 slow");
    double w[] = {1, 1, 10};
    s = sched_new_weighted(&cfg, (size_t[]){0, 1, 2}, 3, w);
    assert_int_equal(sched_next(s), 2);
    assert_int_equal(sched_next(s), 0);
    sched_free(s);
    /* Without weights: the chain length, as sched_new. */
    s = sched_new_weighted(&cfg, (size_t[]){0, 1, 2}, 3, NULL);
    assert_int_equal(sched_next(s), 0);
    sched_free(s);
    /* long1 settled as succeeded before the start: long2 is ready at once. */
    s = sched_new(&cfg, (size_t[]){0, 1, 2}, 3);
    sched_done(s, 0, true, NULL, NULL);
    assert_int_equal(sched_state(s, 0), JOB_SUCCEEDED);
    assert_int_equal(sched_next(s), 1);
    assert_int_equal(sched_next(s), 2);
    assert_int_equal(sched_next(s), -1);
    sched_free(s);
    /* long1 settled as failed: long2 is skipped, never handed out. */
    s = sched_new(&cfg, (size_t[]){0, 1, 2}, 3);
    sched_done(s, 0, false, NULL, NULL);
    assert_int_equal(sched_state(s, 1), JOB_SKIPPED);
    assert_int_equal(sched_next(s), 2);
    assert_int_equal(sched_next(s), -1);
    sched_done(s, 2, true, NULL, NULL);
    assert_true(sched_finished(s));
    sched_free(s);
    cfg_drop(&cfg);
}

/* Equal priorities: config order, at every step, not only at the start. */
static void test_ties_config_order(void **state)
{
    (void)state;
    check_order("q p q2:q p2:p", 1, "q p q2 p2");
    check_order("q p p2:p q2:q", 1, "q p p2 q2");
    /* Three jobs made ready by one success, with slots free for all. */
    check_order("r a:r b:r c:r", 4, "r a b c");
    check_order("r c:r b:r a:r", 4, "r c b a");
}

/* A failure skips its dependents transitively, reports the failed job, and the rest runs. */
static void test_skip_transitive(void **state)
{
    struct config cfg;
    struct skips sk = {0};
    struct sched *s;
    char *got;
    (void)state;
    cfg_make(&cfg, "a b:a c:b d:a e f:c,e g:f");
    sk.cfg = &cfg;
    s = sched_all(&cfg);
    got = run(s, &cfg, 1, "a", &sk);
    assert_string_equal(got, "a e");
    /* Depth first from the failed job, dependents in config order. */
    assert_string_equal(sk.b.p, "b<-a c<-a f<-a g<-a d<-a");
    assert_int_equal(sk.n, 5);
    assert_int_equal(sched_count(s, JOB_FAILED), 1);
    assert_int_equal(sched_count(s, JOB_SKIPPED), 5);
    assert_int_equal(sched_count(s, JOB_SUCCEEDED), 1);
    assert_int_equal(sched_count(s, JOB_PENDING), 0);
    assert_int_equal(sched_count(s, JOB_RUNNING), 0);
    assert_int_equal(sched_state(s, job_idx(&cfg, "g")), JOB_SKIPPED);
    assert_int_equal(sched_state(s, job_idx(&cfg, "e")), JOB_SUCCEEDED);
    assert_true(sched_finished(s));
    free(got);
    buf_free(&sk.b);
    sched_free(s);
    cfg_drop(&cfg);
}

/* A failure deep in the graph names itself, not its dependencies; later failures name theirs. */
static void test_skip_reports_failed_job(void **state)
{
    struct config cfg;
    struct skips sk = {0};
    struct sched *s;
    char *got;
    (void)state;
    cfg_make(&cfg, "a b:a c:b x y:x z:y,c");
    sk.cfg = &cfg;
    s = sched_all(&cfg);
    got = run(s, &cfg, 1, "b x", &sk);
    assert_string_equal(got, "a b x");
    assert_string_equal(sk.b.p, "c<-b z<-b y<-x");
    assert_int_equal(sched_count(s, JOB_FAILED), 2);
    assert_int_equal(sched_count(s, JOB_SKIPPED), 3);
    free(got);
    buf_free(&sk.b);
    sched_free(s);
    cfg_drop(&cfg);
}

/* A job whose other dependency is still running is skipped at once, and stays skipped. */
static void test_skip_while_sibling_runs(void **state)
{
    struct config cfg;
    struct skips sk = {0};
    struct sched *s;
    size_t a, b, c;
    (void)state;
    cfg_make(&cfg, "a b c:a,b");
    sk.cfg = &cfg;
    a = job_idx(&cfg, "a");
    b = job_idx(&cfg, "b");
    c = job_idx(&cfg, "c");
    s = sched_all(&cfg);
    assert_int_equal(sched_next(s), (long)a);
    assert_int_equal(sched_next(s), (long)b);
    assert_int_equal(sched_next(s), -1);
    sched_done(s, a, false, on_skip, &sk);
    assert_string_equal(sk.b.p, "c<-a");
    assert_int_equal(sched_state(s, c), JOB_SKIPPED);
    assert_false(sched_finished(s)); /* b still runs */
    sched_done(s, b, true, on_skip, &sk);
    assert_int_equal(sched_state(s, c), JOB_SKIPPED);
    assert_int_equal(sched_next(s), -1);
    assert_true(sched_finished(s));
    assert_int_equal(sk.n, 1);
    buf_free(&sk.b);
    sched_free(s);
    cfg_drop(&cfg);
}

/* sched_abandon skips what is pending (ready or not), leaves the running job alone. */
static void test_abandon(void **state)
{
    struct config cfg;
    struct sched *s;
    size_t a;
    (void)state;
    cfg_make(&cfg, "a b:a c d");
    a = job_idx(&cfg, "a");
    s = sched_all(&cfg);
    assert_int_equal(sched_next(s), (long)a); /* priority 2 */
    assert_int_equal(sched_abandon(s), 3);
    assert_int_equal(sched_count(s, JOB_SKIPPED), 3);
    assert_int_equal(sched_count(s, JOB_RUNNING), 1);
    assert_int_equal(sched_count(s, JOB_PENDING), 0);
    assert_int_equal(sched_state(s, job_idx(&cfg, "c")), JOB_SKIPPED);
    assert_int_equal(sched_next(s), -1); /* c and d were ready: no longer */
    assert_false(sched_finished(s));
    sched_done(s, a, true, NULL, NULL); /* b's dependency succeeds: b stays skipped */
    assert_int_equal(sched_state(s, job_idx(&cfg, "b")), JOB_SKIPPED);
    assert_int_equal(sched_next(s), -1);
    assert_true(sched_finished(s));
    assert_int_equal(sched_abandon(s), 0);
    assert_int_equal(sched_count(s, JOB_SUCCEEDED), 1);
    sched_free(s);
    cfg_drop(&cfg);
}

/* The selection as "a b c" (names in the order of *out). */
static char *selection(const struct config *cfg, const char *names)
{
    char *copy = xstrdup(names), *save = NULL, *tok;
    char *v[16];
    size_t n = 0, *out, nout;
    struct buf b = {0};
    struct err e;
    for (tok = strtok_r(copy, " ", &save); tok && n < 16; tok = strtok_r(NULL, " ", &save))
        v[n++] = tok;
    assert_int_equal(sched_select(cfg, v, n, &out, &nout, &e), 0);
    for (size_t i = 0; i < nout; i++)
        buf_printf(&b, "%s%s", i ? " " : "", cfg->jobs[out[i]].name);
    free(out);
    free(copy);
    return b.p ? b.p : xstrdup("");
}

/* sched_select: the named jobs and all they depend on, in config order; an unknown name fails. */
static void test_select(void **state)
{
    struct config cfg;
    char *got, *bad[] = {"lone", "nope"};
    size_t *out = (size_t *)&out, nout = 99;
    struct err e;
    (void)state;
    cfg_make(&cfg, "top:mid other mid:base base lone e:other");
    got = selection(&cfg, "top");
    assert_string_equal(got, "top mid base");
    free(got);
    got = selection(&cfg, "e base");
    assert_string_equal(got, "other base e");
    free(got);
    got = selection(&cfg, "lone lone");
    assert_string_equal(got, "lone");
    free(got);
    got = selection(&cfg, "");
    assert_string_equal(got, "top other mid base lone e");
    free(got);
    err_clear(&e);
    assert_true(sched_select(&cfg, bad, 2, &out, &nout, &e) < 0);
    assert_non_null(strstr(e.msg, "unknown job 'nope'"));
    /* The error names the jobs there are. */
    assert_string_equal(e.msg, "unknown job 'nope'; the jobs are: top, other, mid, base, lone, e");
    assert_null(out);
    assert_int_equal(nout, 0);
    cfg_drop(&cfg);
    /* Many jobs: the first ten, and how many more. */
    cfg_make(&cfg, "a b c d e f g h i j k l");
    assert_true(sched_select(&cfg, bad + 1, 1, &out, &nout, &e) < 0);
    assert_string_equal(
        e.msg, "unknown job 'nope'; the jobs are: a, b, c, d, e, f, g, h, i, j and 2 more");
    cfg_drop(&cfg);
}

/* A scheduler over a selection runs only that, and counts only that. */
static void test_select_then_run(void **state)
{
    struct config cfg;
    char *names[] = {"c"}, *got;
    size_t *out, nout;
    struct err e;
    struct sched *s;
    (void)state;
    cfg_make(&cfg, "x a b:a c:b d:c y:x");
    assert_int_equal(sched_select(&cfg, names, 1, &out, &nout, &e), 0);
    s = sched_new(&cfg, out, nout);
    free(out);
    assert_int_equal(sched_total(s), 3);
    assert_int_equal(sched_count(s, JOB_PENDING), 3);
    /* c heads a chain of 1 within the run: d is not part of it. */
    assert_int_equal(sched_priority(s, job_idx(&cfg, "a")), 3);
    assert_int_equal(sched_priority(s, job_idx(&cfg, "c")), 1);
    got = run(s, &cfg, 2, NULL, NULL);
    assert_string_equal(got, "a b c");
    assert_int_equal(sched_count(s, JOB_SUCCEEDED), 3);
    assert_int_equal(sched_state(s, job_idx(&cfg, "x")), JOB_PENDING); /* untouched */
    free(got);
    sched_free(s);
    cfg_drop(&cfg);
}

/* No jobs at all: finished from the start. */
static void test_empty(void **state)
{
    struct config cfg;
    struct sched *s;
    (void)state;
    cfg_make(&cfg, "");
    s = sched_all(&cfg);
    assert_true(sched_finished(s));
    assert_int_equal(sched_total(s), 0);
    assert_int_equal(sched_next(s), -1);
    assert_int_equal(sched_abandon(s), 0);
    sched_free(s);
    cfg_drop(&cfg);
}

/* A fixed generator, so that a failure reproduces. */
static unsigned long rnd(unsigned long *st)
{
    *st = *st * 6364136223846793005ul + 1442695040888963407ul;
    return *st >> 33;
}

/* n jobs, "j<i>", job i depending on up to `deps` distinct jobs before it (by index). */
static void cfg_random(struct config *cfg, size_t n, size_t deps, unsigned long seed)
{
    unsigned long st = seed;
    memset(cfg, 0, sizeof(*cfg));
    cfg->njobs = n;
    cfg->jobs = xcalloc(n ? n : 1, sizeof(*cfg->jobs));
    for (size_t i = 0; i < n; i++) {
        struct job *j = &cfg->jobs[i];
        size_t want = deps < i ? deps : i;
        j->name = xasprintf("j%zu", i);
        j->dep_idx = xcalloc(want ? want : 1, sizeof(size_t));
        while (j->depends.n < want) {
            size_t d = rnd(&st) % i;
            bool dup = false;
            for (size_t k = 0; k < j->depends.n; k++)
                dup = dup || j->dep_idx[k] == d;
            if (dup)
                continue;
            j->dep_idx[j->depends.n] = d;
            strv_push(&j->depends, cfg->jobs[d].name);
        }
    }
}

/* The priorities computed the slow, obvious way (dependencies come first by index). */
static size_t *naive_prio(const struct config *cfg)
{
    size_t *p = xcalloc(cfg->njobs + 1, sizeof(*p));
    for (size_t i = cfg->njobs; i-- > 0;) {
        if (p[i] == 0)
            p[i] = 1;
        for (size_t d = 0; d < cfg->jobs[i].depends.n; d++)
            if (p[cfg->jobs[i].dep_idx[d]] < p[i] + 1)
                p[cfg->jobs[i].dep_idx[d]] = p[i] + 1;
    }
    return p;
}

/*
 * Random small graphs, some failures, 1 to 3 slots: every job handed out is
 * the first ready one by the rule (highest priority, then lowest index),
 * found by a scan of all jobs; and the priorities are the naive ones.
 */
static void test_rule_random(void **state)
{
    (void)state;
    for (unsigned long seed = 1; seed <= 300; seed++) {
        unsigned long st = seed * 7919;
        struct config cfg;
        struct sched *s;
        size_t *prio, running[3], nrun = 0, slots = 1 + rnd(&st) % 3;
        cfg_random(&cfg, 1 + rnd(&st) % 30, rnd(&st) % 4, seed);
        s = sched_all(&cfg);
        prio = naive_prio(&cfg);
        for (size_t j = 0; j < cfg.njobs; j++)
            assert_int_equal(sched_priority(s, j), prio[j]);
        while (!sched_finished(s)) {
            for (;;) {
                long want = -1;
                for (size_t j = 0; j < cfg.njobs; j++) {
                    bool ready = sched_state(s, j) == JOB_PENDING;
                    for (size_t d = 0; ready && d < cfg.jobs[j].depends.n; d++)
                        ready = sched_state(s, cfg.jobs[j].dep_idx[d]) == JOB_SUCCEEDED;
                    if (ready && (want < 0 || prio[j] > prio[want]))
                        want = (long)j;
                }
                if (nrun == slots) {
                    break;
                }
                long got = sched_next(s);
                assert_int_equal(got, want);
                if (got < 0)
                    break;
                running[nrun++] = (size_t)got;
            }
            assert_true(nrun > 0);
            size_t pick = rnd(&st) % nrun, job = running[pick];
            running[pick] = running[--nrun];
            sched_done(s, job, rnd(&st) % 5 != 0, NULL, NULL);
        }
        assert_int_equal(sched_count(s, JOB_SUCCEEDED) + sched_count(s, JOB_FAILED) +
                             sched_count(s, JOB_SKIPPED),
                         cfg.njobs);
        free(prio);
        sched_free(s);
        cfg_drop(&cfg);
    }
}

static void count_skip(size_t job, size_t failed, void *data)
{
    size_t *n = data;
    (void)job;
    (void)failed;
    (*n)++;
}

/*
 * 20,000 jobs with 5 dependencies each, as in a large pkgsrc tree: every
 * job runs once, after its dependencies, the priorities are right; then a
 * failure of job 0 skips exactly its transitive dependents; then the
 * selection of the last job is exactly its transitive dependencies. Counts
 * only: the cost is bench/sched's business.
 */
static void test_large(void **state)
{
    const size_t n = 20000;
    struct config cfg;
    struct sched *s;
    size_t *prio, started = 0, running[4], nrun = 0, skipped = 0, want;
    bool *dependent;
    char *last[1];
    size_t *out, nout;
    struct err e;
    (void)state;
    cfg_random(&cfg, n, 5, 42);
    s = sched_all(&cfg);
    prio = naive_prio(&cfg);
    for (size_t j = 0; j < n; j++)
        assert_int_equal(sched_priority(s, j), prio[j]);
    while (!sched_finished(s)) {
        long j;
        while (nrun < 4 && (j = sched_next(s)) >= 0) {
            for (size_t d = 0; d < cfg.jobs[j].depends.n; d++)
                assert_int_equal(sched_state(s, cfg.jobs[j].dep_idx[d]), JOB_SUCCEEDED);
            running[nrun++] = (size_t)j;
            started++;
        }
        assert_true(nrun > 0);
        sched_done(s, running[--nrun], true, NULL, NULL);
    }
    assert_int_equal(started, n);
    assert_int_equal(sched_count(s, JOB_SUCCEEDED), n);
    sched_free(s);

    /* Job 0 fails: its transitive dependents (found by index order) are skipped. */
    dependent = xcalloc(n, sizeof(*dependent));
    dependent[0] = true;
    want = 0;
    for (size_t i = 1; i < n; i++) {
        for (size_t d = 0; d < cfg.jobs[i].depends.n && !dependent[i]; d++)
            dependent[i] = dependent[cfg.jobs[i].dep_idx[d]];
        want += dependent[i];
    }
    assert_true(want > n / 2); /* the test means something */
    s = sched_all(&cfg);
    assert_int_equal(sched_next(s), 0); /* the only job with nothing to wait for */
    sched_done(s, 0, false, count_skip, &skipped);
    assert_int_equal(skipped, want);
    assert_int_equal(sched_count(s, JOB_SKIPPED), want);
    assert_int_equal(sched_count(s, JOB_PENDING), n - 1 - want);
    sched_free(s);

    /* The selection of the last job: its transitive dependencies (found backwards). */
    memset(dependent, 0, n * sizeof(*dependent));
    dependent[n - 1] = true;
    want = 0;
    for (size_t i = n; i-- > 0;) {
        if (!dependent[i])
            continue;
        want++;
        for (size_t d = 0; d < cfg.jobs[i].depends.n; d++)
            dependent[cfg.jobs[i].dep_idx[d]] = true;
    }
    last[0] = cfg.jobs[n - 1].name;
    assert_int_equal(sched_select(&cfg, last, 1, &out, &nout, &e), 0);
    assert_int_equal(nout, want);
    for (size_t i = 0; i < nout; i++) {
        assert_true(dependent[out[i]]);
        if (i > 0)
            assert_true(out[i] > out[i - 1]); /* config order */
    }
    free(out);
    free(dependent);
    free(prio);
    cfg_drop(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_chain),
        harness_test(test_diamond),
        harness_test(test_independent),
        harness_test(test_priority_values),
        harness_test(test_critical_path_first),
        harness_test(test_ties_config_order),
        harness_test(test_weighted_and_settled),
        harness_test(test_skip_transitive),
        harness_test(test_skip_reports_failed_job),
        harness_test(test_skip_while_sibling_runs),
        harness_test(test_abandon),
        harness_test(test_select),
        harness_test(test_select_then_run),
        harness_test(test_empty),
        harness_test(test_rule_random),
        harness_test_timeout(test_large, 120),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
