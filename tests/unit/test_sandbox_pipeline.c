/* Unit tests of src/sandbox/pipeline: the order of its steps, kills during the work, cancel. */
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

/* What the callbacks saw, as one string of letters (see rec_*). */
struct rec {
    char seen[64];
    size_t n;
    int works;     /* how many times the work callback ran */
    int parts;     /* the work is this many parts: work_next between them */
    bool kill_mid; /* start a kill in the first part, then ask for the next */
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
}

static const struct pipeline_ops rec_ops = {rec_step, rec_ended, rec_work, rec_done};

struct fixture {
    uv_loop_t loop;
    struct config cfg;
    struct sbx_ctx ctx;
    char root[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/bob-test-pipeline.XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    uv_loop_init(&f->loop);
    /* No bootstrap kit, no hooks, no pkgsrc: pre- and post-build have nothing to do. */
    f->ctx.loop = &f->loop;
    f->ctx.cfg = &f->cfg;
    f->ctx.ctx = CTX_BUILD;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rmdir(f->root);
    free(f);
    return 0;
}

/* Runs a pipeline to its end and frees it. */
static void run(struct fixture *f, struct rec *r, bool prepost, bool cancel_first)
{
    r->p = pipeline_new(&f->ctx, f->root, prepost, &rec_ops, r);
    if (cancel_first)
        pipeline_cancel(r->p);
    pipeline_start(r->p);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(r->done);
    assert_int_equal(pipeline_step(r->p), PIPELINE_DONE);
    pipeline_free(r->p);
}

/* Without pre/post-build: the work, then the kill, then done. */
static void test_plain(void **state)
{
    struct rec r = {.parts = 1};
    run(*state, &r, false, false);
    assert_string_equal(r.seen, "WwKk.");
}

/* With pre/post-build, a work of three parts: everything in order, once. */
static void test_prepost_order(void **state)
{
    struct rec r = {.parts = 3};
    run(*state, &r, true, false);
    assert_string_equal(r.seen, "PpWwwwKkOo.");
    assert_int_equal(r.works, 3);
}

/* A kill started during the work ends before the work goes on. */
static void test_work_waits_for_kill(void **state)
{
    struct rec r = {.parts = 2, .kill_mid = true};
    run(*state, &r, false, false);
    assert_string_equal(r.seen, "WwkwKk.");
}

/* Cancelled before its start: no pre-build and no work, but the kill and the post-build. */
static void test_cancel_first(void **state)
{
    struct rec r = {.parts = 1};
    run(*state, &r, true, true);
    assert_string_equal(r.seen, "KkOo.");
    assert_int_equal(r.works, 0);
}

/* Work events outside the work are ignored (no second kill, no second post-build). */
static void test_late_calls_ignored(void **state)
{
    struct fixture *f = *state;
    struct rec r = {.parts = 1};
    run(f, &r, false, false);
    r.p = pipeline_new(&f->ctx, f->root, false, &rec_ops, &r);
    pipeline_work_done(r.p, 0); /* before the start: nothing */
    pipeline_kill(r.p, 0);
    assert_int_equal(pipeline_step(r.p), PIPELINE_IDLE);
    pipeline_free(r.p);
    assert_string_equal(r.seen, "WwKk.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepost_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_work_waits_for_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_calls_ignored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
