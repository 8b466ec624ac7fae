/* Unit tests of the build state (src/state): schema, batching, readers, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"
#include "state/state.h"

/* The value of one SQL expression on a separate connection (another bob). */
static char *other_reader(const char *dir, const char *sql)
{
    char *path = xasprintf("%s/%s", dir, STATE_FILE), *out = NULL;
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
        out = xstrdup((const char *)sqlite3_column_text(q, 0));
    else
        out = xstrdup("(null)");
    sqlite3_finalize(q);
    sqlite3_close(db);
    free(path);
    return out;
}

/* A new database gets the schema and our version; a reader then opens it. */
static void test_state_create(void **state)
{
    struct state *st = NULL;
    struct err e;
    char *dir = harness_path("db/deeper");
    assert_int_equal(state_open(dir, false, &st, &e), -ENOENT);
    assert_null(st);
    assert_int_equal(state_open(dir, true, &st, &e), 0);
    state_close(st);
    char *v = other_reader(dir, "PRAGMA user_version");
    assert_string_equal(v, "1");
    free(v);
    v = other_reader(dir, "PRAGMA journal_mode");
    assert_string_equal(v, "wal");
    free(v);
    assert_int_equal(state_open(dir, false, &st, &e), 0);
    state_close(st);
    free(dir);
}

/* The timer's callback: by now (150 ms) the writes must have been committed. */
static void test_state_tick(uv_timer_t *t)
{
    char *v = other_reader(t->data, "SELECT status || ':' || sandbox FROM jobs WHERE job='a'");
    assert_string_equal(v, "running:3");
    free(v);
}

/* Writes made with a loop attached are seen by another reader only after the pass. */
static void test_state_batched(void **state)
{
    uv_loop_t loop;
    struct state *st;
    struct err e;
    int64_t id, cur;
    bool finished;
    char *dir = harness_path("db"), *v;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(state_open(dir, true, &st, &e), 0);
    state_attach(st, &loop);
    id = state_build_new(st, "/c.lua", "host", 1000);
    assert_true(id > 0);
    state_job_plan(st, id, "a", STATE_PENDING, "h1");
    state_job_started(st, id, "a", 3, 1001);
    /* Not committed yet: another reader sees no job. */
    v = other_reader(dir, "SELECT count(*) FROM jobs");
    assert_string_equal(v, "0");
    free(v);
    /* Alone, the prepare handle keeps no loop alive: uv_run returns at once. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    v = other_reader(dir, "SELECT count(*) FROM jobs");
    assert_string_equal(v, "0");
    free(v);
    /* A loop with work (a 150 ms timer): the commit comes within 50 ms, unasked. */
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = dir;
    uv_timer_start(&t, test_state_tick, 150, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    uv_close((uv_handle_t *)&t, NULL);
    v = other_reader(dir, "SELECT status || ':' || sandbox FROM jobs WHERE job='a'");
    assert_string_equal(v, "running:3");
    free(v);
    state_job_stage(st, id, "a", "build", 1002);
    state_job_stage_cpu(st, id, "a", 3.5);
    state_job_finished(st, id, "a", STATE_SUCCEEDED, NULL, NULL, NULL, 5, 1007);
    state_build_end(st, id, NULL, 1010);
    state_detach(st);
    v = other_reader(dir, "SELECT outcome || ':' || succeeded FROM builds");
    assert_string_equal(v, "succeeded:1");
    free(v);
    v = other_reader(dir, "SELECT wall FROM stages WHERE job='a' AND stage='build'");
    assert_non_null(v);
    assert_true(strtod(v, NULL) == 5.0);
    free(v);
    /* The CPU time goes to the stage that was open, the one that ended. */
    v = other_reader(dir, "SELECT cpu FROM stages WHERE job='a' AND stage='build'");
    assert_true(strtod(v, NULL) == 3.5);
    free(v);
    assert_int_equal(state_current(st, &cur, &finished, &e), 0);
    assert_int_equal(cur, id);
    assert_true(finished);
    state_close(st);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(dir);
}

static void test_state_collect(const struct state_job *j, void *data)
{
    char *buf = data;
    size_t n = strlen(buf);
    snprintf(buf + n, 256 - n, "%s=%s@%lld ", j->job, j->status, (long long)j->build);
}

/* The latest ended record of each job, across builds; forget keeps history. */
static void test_state_latest_and_forget(void **state)
{
    struct state *st;
    struct err e;
    char buf[256] = "", *dir = harness_path("db");
    int64_t b1, b2, cur;
    bool finished;
    assert_int_equal(state_open(dir, true, &st, &e), 0);
    b1 = state_build_new(st, "/c", "h", 1);
    state_job_plan(st, b1, "a", STATE_PENDING, "x");
    state_job_plan(st, b1, "b", STATE_PENDING, "y");
    state_job_finished(st, b1, "a", STATE_FAILED, "build", "exit code 1", "/l", 3, 4);
    state_job_finished(st, b1, "b", STATE_SUCCEEDED, NULL, NULL, NULL, 3, 4);
    state_build_end(st, b1, NULL, 5);
    b2 = state_build_new(st, "/c", "h", 6);
    state_job_plan(st, b2, "a", STATE_PENDING, "x");
    state_job_plan(st, b2, "b", STATE_PENDING, "y");
    state_job_finished(st, b2, "a", STATE_SUCCEEDED, NULL, NULL, NULL, 3, 7);
    /* b is still pending in b2: its latest ended record is b1's. */
    assert_int_equal(state_latest(st, test_state_collect, buf, &e), 0);
    assert_non_null(strstr(buf, "a=succeeded@2"));
    assert_non_null(strstr(buf, "b=succeeded@1"));
    assert_int_equal(state_current(st, &cur, &finished, &e), 0);
    assert_int_equal(cur, b2);
    assert_false(finished);
    assert_int_equal(state_forget_current(st, &e), 0);
    assert_int_equal(state_current(st, &cur, &finished, &e), 0);
    assert_int_equal(cur, 0);
    buf[0] = '\0';
    assert_int_equal(state_jobs(st, b1, test_state_collect, buf, &e), 0);
    assert_string_equal(buf, "a=failed@1 b=succeeded@1 ");
    state_close(st);
    free(dir);
}

/* Another schema version or a file that is no database: one line saying what to do. */
static void test_state_bad_files(void **state)
{
    struct state *st;
    struct err e;
    char *dir = harness_path("db"), *path = harness_path("db/" STATE_FILE);
    sqlite3 *db;
    FILE *f;
    assert_int_equal(state_open(dir, true, &st, &e), 0);
    state_close(st);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_true(state_open(dir, true, &st, &e) < 0);
    assert_non_null(strstr(e.msg, "schema version 7, this bob reads version 1: move it away"));
    assert_null(strchr(e.msg, '\n'));
    assert_true(state_open(dir, false, &st, &e) < 0);
    unlink(path);
    f = fopen(path, "w");
    for (int i = 0; i < 4096; i++)
        fputc("garbage!"[i % 8], f);
    fclose(f);
    assert_true(state_open(dir, true, &st, &e) < 0);
    assert_non_null(strstr(e.msg, "is not a readable bob database"));
    assert_non_null(strstr(e.msg, "move it away"));
    free(dir);
    free(path);
}

/* The lock: one writer; a second is refused and names the first's pid. */
static void test_state_lock(void **state)
{
    struct state *a, *b;
    struct err e;
    char *dir = harness_path("db"), pid[32];
    assert_int_equal(state_open(dir, true, &a, &e), 0);
    assert_int_equal(state_lock(a, &e), 0);
    assert_int_equal(state_open(dir, false, &b, &e), 0);
    assert_true(state_locked_by_other(b));
    /* A separate open file description: flock refuses it while a holds the lock. */
    assert_int_equal(state_lock(b, &e), -EBUSY);
    snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
    assert_non_null(strstr(e.msg, pid));
    state_close(a);
    assert_int_equal(state_lock(b, &e), 0);
    state_close(b);
    free(dir);
}

/* A write error (the file size limit: EFBIG, as a full disk) stops recording with one message. */
static void test_state_write_error(void **state)
{
    struct state *st;
    struct err e;
    char *dir = harness_path("db"), name[64];
    struct rlimit rl = {64 * 1024, 64 * 1024};
    int64_t id;
    assert_int_equal(state_open(dir, true, &st, &e), 0);
    id = state_build_new(st, "/c", "h", 1);
    assert_true(id > 0);
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
    for (int i = 0; i < 5000 && !state_error(st); i++) {
        snprintf(name, sizeof(name), "job-%d-with-a-rather-long-name-to-fill-pages", i);
        state_job_plan(st, id, name, STATE_PENDING, "0123456789abcdef");
    }
    assert_non_null(state_error(st));
    assert_non_null(strstr(state_error(st), "recording stopped"));
    assert_non_null(strstr(state_error(st), dir));
    /* Later writes are no-ops, not crashes. */
    state_job_started(st, id, "x", 1, 2);
    state_close(st);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_state_create),
        harness_test(test_state_batched),
        harness_test(test_state_latest_and_forget),
        harness_test(test_state_bad_files),
        harness_test(test_state_lock),
        harness_test(test_state_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
