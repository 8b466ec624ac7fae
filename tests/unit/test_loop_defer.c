/* Unit tests of loop_defer (src/loop/defer.c) and the hold/drop rule (src/util/ref.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "loop/defer.h"
#include "util/ref.h"

struct calls {
    int n;
    int order[4];
};

static struct calls *g_calls;

static void defer_record(void *data)
{
    struct calls *c = g_calls;
    if (c->n < 4)
        c->order[c->n] = (int)(intptr_t)data;
    c->n++;
}

/* The callback never runs inside loop_defer, runs once on the next pass, in order. */
static void test_defer_runs_later_once_in_order(void **state)
{
    uv_loop_t loop;
    struct calls c = {0};
    g_calls = &c;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(loop_defer(&loop, defer_record, (void *)(intptr_t)1), 0);
    assert_int_equal(loop_defer(&loop, defer_record, (void *)(intptr_t)2), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.order[0], 1);
    assert_int_equal(c.order[1], 2);
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(uv_loop_close(&loop), 0); /* the handles were closed and freed */
}

struct obj {
    struct ref ref;
    int *released;
};

static void obj_release(struct ref *r)
{
    struct obj *o = REF_CONTAINER(r, struct obj, ref);
    (*o->released)++;
    free(o);
}

static void obj_deferred(void *data)
{
    struct obj *o = data;
    ref_drop(&o->ref); /* the pending call's hold */
}

/* The owner's request does not free an object that a pending callback holds. */
static void test_ref_pending_callback_keeps_object(void **state)
{
    uv_loop_t loop;
    int released = 0;
    struct obj *o = malloc(sizeof(*o));
    o->released = &released;
    ref_init(&o->ref, obj_release);
    assert_int_equal(uv_loop_init(&loop), 0);
    ref_hold(&o->ref);
    assert_int_equal(loop_defer(&loop, obj_deferred, o), 0);
    ref_request_free(&o->ref);
    ref_request_free(&o->ref); /* a second request is nothing */
    assert_int_equal(released, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(released, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Without other holds, the owner's request releases at once, exactly once. */
static void test_ref_release_once(void **state)
{
    int released = 0;
    struct obj *o = malloc(sizeof(*o));
    o->released = &released;
    ref_init(&o->ref, obj_release);
    ref_hold(&o->ref);
    ref_drop(&o->ref);
    assert_int_equal(released, 0);
    ref_request_free(&o->ref);
    assert_int_equal(released, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defer_runs_later_once_in_order),
        cmocka_unit_test(test_ref_pending_callback_keeps_object),
        cmocka_unit_test(test_ref_release_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
