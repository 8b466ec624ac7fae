/*
 * Unit tests of src/sandbox/pipeline: the order of its steps, kills during
 * the work, cancel, the deferred start, and the lifetime rule (freed at any
 * point, no callback runs after and nothing leaks: ASan, uv_loop_close).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/pipeline.h"

#include "harness.h"

/* What the callbacks saw, as one string of letters (see rec_*). */
struct rec {
    char seen[64];
    size_t n;
    int works;         /* how many times the work callback ran */
    int parts;         /* the work is this many parts: work_next between them */
    bool kill_mid;     /* start a kill in the first part, then ask for the next */
    bool free_mid;     /* start a kill in the first part, then free the pipeline (abandon it) */
    bool free_in_done; /* the done callback frees the pipeline, as bob build's slots do */
    bool done;
    struct pipeline *p;
};

static void rec_add(struct rec *r, char c)
{
    if (r->n + 1 < sizeof(r->seen))
        r->seen[r->n++] = c;
}

/* Steps: P(re) W(ork) K(ill) O (post). */
static void rec_step(struct pipeline *p, enum pipeline_step step, void *data)
{
    static const char letters[] = "-PWKOD";
    rec_add(data, letters[step]);
}

/* Ends: p k o (lower case), '!' for a failure. */
static void rec_ended(struct pipeline *p, enum pipeline_step step, int status, const struct err *e,
                      void *data)
{
    rec_add(data, status < 0              ? '!'
                  : step == PIPELINE_PRE  ? 'p'
                  : step == PIPELINE_KILL ? 'k'
                                          : 'o');
}

static void rec_work(struct pipeline *p, void *data)
{
    struct rec *r = data;
    r->works++;
    rec_add(r, 'w');
    if (r->works == 1 && r->kill_mid) {
        pipeline_kill(p, 0);
        pipeline_work_next(p); /* must wait for the kill */
        return;
    }
    if (r->free_mid) {
        pipeline_kill(p, 0);
        pipeline_free(p); /* the kill's end must not reach us */
        r->p = NULL;
        return;
    }
    if (r->works < r->parts)
        pipeline_work_next(p);
    else
        pipeline_work_done(p, 0);
}

static void rec_done(struct pipeline *p, void *data)
{
    struct rec *r = data;
    rec_add(r, '.');
    r->done = true;
    if (r->free_in_done) {
        pipeline_free(p);
        r->p = NULL;
    }
}

static const struct pipeline_ops rec_ops = {rec_step, rec_ended, rec_work, rec_done};

struct fixture {
    uv_loop_t loop;
    struct config cfg;
    struct sbx_ctx ctx;
    const char *root;
};

/* A loop and a context with no bootstrap kit, no hooks, no pkgsrc: pre- and post-build do nothing.
 */
static void fx_open(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->root = harness_dir();
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->ctx.loop = &f->loop;
    f->ctx.cfg = &f->cfg;
    f->ctx.ctx = CTX_BUILD;
}

/* Runs the loop out; nothing may be left open on it. */
static void fx_close(struct fixture *f)
{
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* Runs a pipeline to its end and frees it. */
static void run(struct fixture *f, struct rec *r, bool prepost, bool cancel_first)
{
    fx_open(f);
    r->p = pipeline_new(&f->ctx, f->root, prepost, &rec_ops, r);
    if (cancel_first)
        pipeline_cancel(r->p);
    pipeline_start(r->p);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(r->done);
    assert_int_equal(pipeline_step(r->p), PIPELINE_DONE);
    pipeline_free(r->p);
    fx_close(f);
}

/* Without pre/post-build: the work, then the kill, then done. */
static void test_plain(void **state)
{
    struct rec r = {.parts = 1};
    struct fixture f;
    run(&f, &r, false, false);
    assert_string_equal(r.seen, "WwKk.");
}

/* With pre/post-build, a work of three parts: everything in order, once. */
static void test_prepost_order(void **state)
{
    struct rec r = {.parts = 3};
    struct fixture f;
    run(&f, &r, true, false);
    assert_string_equal(r.seen, "PpWwwwKkOo.");
    assert_int_equal(r.works, 3);
}

/* A kill started during the work ends before the work goes on. */
static void test_work_waits_for_kill(void **state)
{
    struct rec r = {.parts = 2, .kill_mid = true};
    struct fixture f;
    run(&f, &r, false, false);
    assert_string_equal(r.seen, "WwkwKk.");
}

/* Cancelled before its start: no pre-build and no work, but the kill and the post-build. */
static void test_cancel_first(void **state)
{
    struct rec r = {.parts = 1};
    struct fixture f;
    run(&f, &r, true, true);
    assert_string_equal(r.seen, "KkOo.");
    assert_int_equal(r.works, 0);
}

/* Work events outside the work are ignored (no second kill, no second post-build). */
static void test_late_calls_ignored(void **state)
{
    struct fixture f;
    struct rec r = {.parts = 1};
    run(&f, &r, false, false);
    fx_open(&f);
    r.p = pipeline_new(&f.ctx, f.root, false, &rec_ops, &r);
    pipeline_work_done(r.p, 0); /* before the start: nothing */
    pipeline_kill(r.p, 0);
    assert_int_equal(pipeline_step(r.p), PIPELINE_IDLE);
    pipeline_free(r.p);
    fx_close(&f);
    assert_string_equal(r.seen, "WwKk.");
}

/* No callback runs inside pipeline_start: the first step comes on the loop's next pass. */
static void test_start_is_deferred(void **state)
{
    struct fixture f;
    struct rec r = {.parts = 1};
    fx_open(&f);
    r.p = pipeline_new(&f.ctx, f.root, false, &rec_ops, &r);
    pipeline_start(r.p);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.works, 0);
    assert_int_equal(pipeline_step(r.p), PIPELINE_IDLE);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_string_equal(r.seen, "WwKk.");
    pipeline_free(r.p);
    fx_close(&f);
}

/* A cancel between pipeline_start and the deferred start counts: no pre-build, no work. */
static void test_cancel_before_first_pass(void **state)
{
    struct fixture f;
    struct rec r = {.parts = 1};
    fx_open(&f);
    r.p = pipeline_new(&f.ctx, f.root, true, &rec_ops, &r);
    pipeline_start(r.p);
    pipeline_cancel(r.p);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_string_equal(r.seen, "KkOo.");
    assert_int_equal(r.works, 0);
    pipeline_free(r.p);
    fx_close(&f);
}

/* Freed before the deferred start ran: no callback at all, nothing left on the loop. */
static void test_free_before_first_pass(void **state)
{
    struct fixture f;
    struct rec r = {.parts = 1};
    fx_open(&f);
    r.p = pipeline_new(&f.ctx, f.root, true, &rec_ops, &r);
    pipeline_start(r.p);
    pipeline_free(r.p);
    fx_close(&f);
    assert_int_equal(r.n, 0);
    assert_false(r.done);
}

/* Freed during the work while a kill is pending: the kill's end reaches no one. */
static void test_free_during_kill(void **state)
{
    struct fixture f;
    struct rec r = {.parts = 1, .free_mid = true};
    fx_open(&f);
    r.p = pipeline_new(&f.ctx, f.root, false, &rec_ops, &r);
    pipeline_start(r.p);
    fx_close(&f);
    assert_string_equal(r.seen, "Ww");
    assert_null(r.p);
    assert_false(r.done);
}

/* Freed from inside its own done callback (as the build's slots and sandbox run do). */
static void test_free_in_done(void **state)
{
    struct fixture f;
    struct rec r = {.parts = 2, .free_in_done = true};
    fx_open(&f);
    r.p = pipeline_new(&f.ctx, f.root, true, &rec_ops, &r);
    pipeline_start(r.p);
    fx_close(&f);
    assert_string_equal(r.seen, "PpWwwKkOo.");
    assert_null(r.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_plain),
        harness_test(test_prepost_order),
        harness_test(test_work_waits_for_kill),
        harness_test(test_cancel_first),
        harness_test(test_late_calls_ignored),
        harness_test(test_start_is_deferred),
        harness_test(test_cancel_before_first_pass),
        harness_test(test_free_before_first_pass),
        harness_test(test_free_during_kill),
        harness_test(test_free_in_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
