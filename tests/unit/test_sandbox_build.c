/*
 * Unit tests of the build engine (src/sandbox/build.c): the slots' and the
 * build's transitions as the observer sees them, on real sandboxes under
 * the test's directory: each job's pre-build, stages in order, post-build,
 * then its end; a failed stage ends the job's work but not its post-build;
 * dependents skipped; Ctrl+C once (no new job) and twice (everything
 * killed); freed before the start. They need root; as another user the
 * binary exits 77 (skipped). tests/run-private puts it in a private mount
 * namespace; without it, main makes one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "sandbox/build.h"

#include "harness.h"

/* What the observer saw, one line per event, and what the test does on a stage's start. */
struct bt {
    struct config cfg;
    uv_loop_t loop;
    struct sbx_ctx ctx;
    struct build *b;
    char seen[4096];
    int finished;
    const char *stop_at; /* "job:stage": stop the build when this stage starts */
    bool stop_now;       /* that stop is a shutdown (second Ctrl+C) */
    uv_timer_t stop_timer;
    double stop_ms; /* when the stop came */
};

static void bt_add(struct bt *t, const char *fmt, ...)
{
    size_t n = strlen(t->seen);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->seen + n, sizeof(t->seen) - n, fmt, ap);
    va_end(ap);
    n = strlen(t->seen);
    if (n + 1 < sizeof(t->seen))
        strcat(t->seen, "\n");
}

static void bt_sandboxes(void *data, const unsigned *ids, size_t n, bool created)
{
    bt_add(data, "sandboxes %zu %s", n, created ? "created" : "destroyed");
}

static void bt_job_started(void *data, size_t slot, unsigned sandbox, const struct job *j)
{
    bt_add(data, "%s: start", j->name);
}

/* The stop the test asked for comes from the loop, as a signal would. */
static void bt_on_stop_timer(uv_timer_t *tm)
{
    struct bt *t = tm->data;
    t->stop_ms = now_ms();
    build_stop(t->b, t->stop_now);
    uv_close((uv_handle_t *)tm, NULL);
}

static void bt_stage_started(void *data, size_t slot, const struct job *j, const char *stage,
                             const struct capture *output)
{
    struct bt *t = data;
    char name[256];
    bt_add(t, "%s: %s", j->name, stage);
    snprintf(name, sizeof(name), "%s:%s", j->name, stage);
    if (t->stop_at && strcmp(t->stop_at, name) == 0) {
        assert_int_equal(uv_timer_init(&t->loop, &t->stop_timer), 0);
        t->stop_timer.data = t;
        assert_int_equal(uv_timer_start(&t->stop_timer, bt_on_stop_timer, 100, 0), 0);
    }
}

static void bt_job_finished(void *data, size_t slot, const struct build_result *r)
{
    bt_add(data, "%s: %s", r->job->name,
           r->interrupted              ? "interrupted"
           : r->state == JOB_SUCCEEDED ? "succeeded"
                                       : "failed");
}

static void bt_job_skipped(void *data, const struct build_result *r)
{
    bt_add(data, "%s: skipped (%s)", r->job->name, r->reason);
}

static void bt_finished(void *data)
{
    struct bt *t = data;
    t->finished++;
    bt_add(t, "finished");
}

static const struct build_observer bt_obs_template = {
    .sandboxes = bt_sandboxes,
    .job_started = bt_job_started,
    .stage_started = bt_stage_started,
    .job_finished = bt_job_finished,
    .job_skipped = bt_job_skipped,
    .finished = bt_finished,
};

/* Loads a config with `threads` slots, sandboxes of the read-only host /usr, and the jobs. */
static void bt_open(struct bt *t, unsigned threads, const char *jobs)
{
    char *path = harness_path("config.lua");
    char *logs = harness_path("logs"), *sbx = harness_path("sandboxes");
    FILE *f = fopen(path, "w");
    struct err e;
    assert_non_null(f);
    fprintf(f,
            "options = { build_threads = %u, logdir = \"%s\", tui = false }\n"
            "sandboxes = {\n  basedir = \"%s\",\n  setup = {\n"
            "    { action = \"mount\", fs = \"bind\", dir = \"/usr\", opts = \"ro\" },\n"
            "    { action = \"symlink\", src = \"usr/bin\", dest = \"/bin\" },\n"
            "    { action = \"symlink\", src = \"usr/lib\", dest = \"/lib\" },\n"
            "    { action = \"symlink\", src = \"usr/lib64\", dest = \"/lib64\" },\n"
            "    { action = \"mount\", fs = \"tmp\", dir = \"/tmp\" },\n"
            "  },\n}\njobs = { %s }\n",
            threads, logs, sbx, jobs);
    fclose(f);
    assert_int_equal(mkdir(sbx, 0755), 0);
    memset(t, 0, sizeof(*t));
    if (config_load(path, &t->cfg, &e) < 0)
        fail_msg("config: %s", e.msg);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    sandbox_ctx_init(&t->ctx, &t->loop, &t->cfg, CTX_BUILD);
    t->ctx.command = "build";
    free(path);
    free(logs);
    free(sbx);
}

/* Builds every job of the config to the end. */
static void bt_run(struct bt *t)
{
    size_t *jobs = calloc(t->cfg.njobs, sizeof(*jobs));
    struct build_observer obs = bt_obs_template;
    obs.data = t;
    for (size_t i = 0; i < t->cfg.njobs; i++)
        jobs[i] = i;
    t->b = build_start(&t->ctx, jobs, t->cfg.njobs, &obs);
    free(jobs);
    assert_int_equal(t->finished, 0); /* never from inside build_start */
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(t->finished, 1);
}

/* The result of the job named `name`. */
static const struct build_result *bt_result(const struct bt *t, const char *name)
{
    const struct build_result *r = build_results(t->b);
    for (size_t i = 0; i < build_nresults(t->b); i++)
        if (strcmp(r[i].job->name, name) == 0)
            return &r[i];
    fail_msg("no job %s", name);
    return NULL;
}

/* The lines of what was seen that start with "<job>: ", joined with " | ". */
static char *bt_job_lines(const struct bt *t, const char *job)
{
    static char out[1024];
    size_t jl = strlen(job);
    const char *p = t->seen;
    out[0] = '\0';
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > jl + 2 && strncmp(p, job, jl) == 0 && p[jl] == ':' && p[jl + 1] == ' ') {
            if (out[0])
                strncat(out, " | ", sizeof(out) - strlen(out) - 1);
            strncat(out, p + jl + 2,
                    len - jl - 2 < sizeof(out) - strlen(out) - 1 ? len - jl - 2
                                                                 : sizeof(out) - strlen(out) - 1);
        }
        p = nl ? nl + 1 : p + len;
    }
    return out;
}

/* Whether line a comes before line b in what was seen (both must be there). */
static bool bt_before(const struct bt *t, const char *a, const char *b)
{
    const char *pa = strstr(t->seen, a), *pb = strstr(t->seen, b);
    if (!pa || !pb)
        fail_msg("missing '%s' in:\n%s", pa ? b : a, t->seen);
    return pa < pb;
}

/* Frees the build and the context; the sandboxes are gone, nothing is left on the loop. */
static void bt_close(struct bt *t)
{
    char *sbx = harness_path("sandboxes");
    struct stat st;
    build_free(t->b);
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    sandbox_ctx_free(&t->ctx);
    config_free(&t->cfg);
    /* The basedir is empty again: rmdir fails on anything left. */
    assert_int_equal(rmdir(sbx), 0);
    assert_int_not_equal(stat(sbx, &st), 0);
    free(sbx);
}

/*
 * One slot: each job runs pre-build, its stages in order, post-build, then
 * ends; a failed stage ends the work (the next stage never starts) but not
 * the post-build; the dependents of a failure are skipped, after it.
 */
static void test_slot_order(void **state)
{
    struct bt t;
    const struct build_result *r;
    bt_open(&t, 1,
            "{ name = \"a\", stages = { { name = \"one\", run = \"true\" },"
            " { name = \"two\", run = \"echo hi\" } } },"
            "{ name = \"b\", depends = { \"a\" }, stages = { { name = \"one\", run = \"exit 3\" },"
            " { name = \"two\", run = \"true\" } } },"
            "{ name = \"c\", depends = { \"b\" }, run = \"true\" },"
            "{ name = \"d\", run = \"true\" },");
    bt_run(&t);
    assert_string_equal(bt_job_lines(&t, "a"),
                        "start | pre-build | one | two | post-build | succeeded");
    assert_string_equal(bt_job_lines(&t, "b"), "start | pre-build | one | post-build | failed");
    assert_string_equal(bt_job_lines(&t, "c"), "skipped (depends on b)");
    assert_string_equal(bt_job_lines(&t, "d"),
                        "start | pre-build | build | post-build | succeeded");
    /* One slot: a job ends before the next starts; the skip follows the failure. */
    assert_true(bt_before(&t, "a: succeeded", "b: start"));
    assert_true(bt_before(&t, "b: failed", "c: skipped"));
    assert_true(bt_before(&t, "sandboxes 1 created", "a: start"));
    assert_true(bt_before(&t, "sandboxes 1 destroyed", "finished"));
    r = bt_result(&t, "b");
    assert_int_equal(r->state, JOB_FAILED);
    assert_string_equal(r->stage, "one");
    assert_non_null(strstr(r->reason, "3"));
    assert_int_equal(bt_result(&t, "a")->state, JOB_SUCCEEDED);
    assert_int_equal(bt_result(&t, "c")->state, JOB_SKIPPED);
    assert_int_equal(bt_result(&t, "d")->state, JOB_SUCCEEDED);
    assert_false(build_interrupted(t.b));
    assert_null(build_error(t.b));
    bt_close(&t);
}

/* Two slots, a job each at once; each slot's events stay in order. */
static void test_two_slots(void **state)
{
    struct bt t;
    bt_open(&t, 2,
            "{ name = \"a\", run = \"sleep 0.2\" },"
            "{ name = \"b\", run = \"sleep 0.2\" },"
            "{ name = \"c\", depends = { \"a\", \"b\" }, run = \"true\" },");
    bt_run(&t);
    assert_string_equal(bt_job_lines(&t, "a"),
                        "start | pre-build | build | post-build | succeeded");
    assert_string_equal(bt_job_lines(&t, "b"),
                        "start | pre-build | build | post-build | succeeded");
    assert_string_equal(bt_job_lines(&t, "c"),
                        "start | pre-build | build | post-build | succeeded");
    /* Both ran at once: the second started before the first ended. */
    assert_true(bt_before(&t, "b: start", "a: succeeded"));
    assert_true(bt_before(&t, "a: succeeded", "c: start"));
    assert_true(bt_before(&t, "b: succeeded", "c: start"));
    assert_true(bt_before(&t, "sandboxes 2 created", "a: start"));
    bt_close(&t);
}

/* The first Ctrl+C: the running job goes on to its end, no new job starts. */
static void test_stop_lets_the_job_finish(void **state)
{
    struct bt t;
    bt_open(&t, 1,
            "{ name = \"a\", stages = { { name = \"one\", run = \"sleep 0.3\" },"
            " { name = \"two\", run = \"true\" } } },"
            "{ name = \"b\", depends = { \"a\" }, run = \"true\" },");
    t.stop_at = "a:one";
    bt_run(&t);
    assert_string_equal(bt_job_lines(&t, "a"),
                        "start | pre-build | one | two | post-build | succeeded");
    assert_string_equal(bt_job_lines(&t, "b"), "");
    assert_int_equal(bt_result(&t, "a")->state, JOB_SUCCEEDED);
    assert_int_equal(bt_result(&t, "b")->state, JOB_PENDING);
    assert_false(bt_result(&t, "b")->interrupted);
    assert_true(build_interrupted(t.b));
    bt_close(&t);
}

/* The second Ctrl+C: the running stage is killed at once, the post-build still runs. */
static void test_shutdown_kills_the_stage(void **state)
{
    struct bt t;
    const struct build_result *r;
    bt_open(&t, 1,
            "{ name = \"a\", stages = { { name = \"one\", run = \"sleep 60\" },"
            " { name = \"two\", run = \"true\" } } },"
            "{ name = \"b\", run = \"true\" },");
    t.stop_at = "a:one";
    t.stop_now = true;
    bt_run(&t);
    assert_string_equal(bt_job_lines(&t, "a"),
                        "start | pre-build | one | post-build | interrupted");
    assert_string_equal(bt_job_lines(&t, "b"), "");
    r = bt_result(&t, "a");
    assert_true(r->interrupted);
    assert_int_equal(r->state, JOB_PENDING);
    assert_null(r->stage); /* interrupted is not failed */
    assert_true(build_interrupted(t.b));
    /* Killed, not waited for: well under the stage's 60 s. */
    assert_true(now_ms() - t.stop_ms < 10000);
    bt_close(&t);
}

/* Freed before the deferred start: no callback at all, no sandbox made. */
static void test_free_before_start(void **state)
{
    struct bt t;
    size_t job = 0;
    struct build_observer obs = bt_obs_template;
    bt_open(&t, 1, "{ name = \"a\", run = \"true\" },");
    obs.data = &t;
    t.b = build_start(&t.ctx, &job, 1, &obs);
    bt_close(&t);
    assert_string_equal(t.seen, "");
    assert_int_equal(t.finished, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_slot_order),
        harness_test(test_two_slots),
        harness_test(test_stop_lets_the_job_finish),
        harness_test(test_shutdown_kills_the_stage),
        harness_test(test_free_before_start),
    };

    if (geteuid() != 0) {
        printf("test_sandbox_build: skipped: needs root (mounts, chroot); "
               "run as root through tests/run-private\n");
        return 77;
    }
    if (!getenv("BOB_IN_PRIVATE_NS")) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
            printf("test_sandbox_build: skipped: cannot make a private mount namespace: %s\n",
                   strerror(errno));
            return 77;
        }
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
