/*
 * Unit tests of loop/cgwatch.h: a job's cgroup becoming empty, or reaching
 * a limit, as callbacks on a real loop, against the real cgroup file
 * systems. They need root and a writable cgroup v2 (else exit 77); the
 * teardown kills and removes whatever a failed test left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop/cgwatch.h"

static struct cgroup_base *g_base;
static struct cgroup_job *g_job;
static pid_t g_kid;

struct seen {
    int n, empty, limit;
    unsigned limits;
    enum cgwatch_event order[8];
    double empty_at;
    bool free_in_cb; /* free the watcher from the first callback */
    struct cgwatch *w;
};

static void on_event(struct cgwatch *w, enum cgwatch_event ev, unsigned limits, void *data)
{
    struct seen *s = data;
    if (s->n < 8)
        s->order[s->n] = ev;
    s->n++;
    if (ev == CGWATCH_EMPTY) {
        s->empty++;
        s->empty_at = now_ms();
    } else {
        s->limit++;
        s->limits |= limits;
    }
    if (s->free_in_cb) {
        cgwatch_free(w);
        s->w = NULL;
    }
}

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop for ms, or until it has nothing left to do. */
static void run_for(uv_loop_t *loop, unsigned ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, stop_loop, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Runs the loop until the EMPTY callback (or 5 s). */
static void run_until_empty(uv_loop_t *loop, struct seen *s)
{
    double end = now_ms() + 5000;
    while (s->empty == 0 && now_ms() < end)
        run_for(loop, 20);
}

static void open_job(uint64_t memory, uint64_t tasks)
{
    struct cgroup_limits lim = {.memory = memory, .tasks = tasks};
    struct err e = {0};
    if (cgroup_base_open(&g_base, &e) < 0)
        fail_msg("cgroup_base_open: %s", e.msg);
    if (cgroup_job_new(g_base, "watched", &lim, &g_job, &e) < 0)
        fail_msg("cgroup_job_new: %s", e.msg);
}

static void close_job(void)
{
    struct err e = {0};
    if (cgroup_job_remove(g_job, &e) < 0)
        fail_msg("cgroup_job_remove: %s", e.msg);
    g_job = NULL;
    if (cgroup_base_close(g_base, 2000, &e) < 0)
        fail_msg("cgroup_base_close: %s", e.msg);
    g_base = NULL;
}

/* In a forked child: enters the job as the launcher does. */
static void child_enter(void)
{
    const int *fds;
    size_t n = cgroup_job_procs_fds(g_job, &fds);
    for (size_t i = 0; i < n; i++)
        if (write(fds[i], "0", 1) != 1)
            _exit(120);
}

/* Forks a child into the job running fn; returns once it is in (a byte on a pipe). */
static pid_t spawn_in_job(void (*fn)(int ready))
{
    int p[2];
    char c;
    pid_t pid;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_enter();
        fn(p[1]);
        _exit(0);
    }
    g_kid = pid;
    close(p[1]);
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void reap(pid_t pid, int *status)
{
    assert_int_equal(waitpid(pid, status, 0), pid);
    g_kid = 0;
}

static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static int teardown(void **state)
{
    struct err e;
    if (g_kid > 0) {
        kill(g_kid, SIGKILL);
        waitpid(g_kid, NULL, 0);
        g_kid = 0;
    }
    if (g_job) {
        cgroup_job_kill(g_job, &e);
        cgroup_job_free(g_job);
        g_job = NULL;
    }
    if (g_base) {
        cgroup_base_close(g_base, 2000, &e);
        g_base = NULL;
    }
    return 0;
}

/* ---- children ---- */

/* Says ready, leaves a grandchild that lives 300 ms, exits after 100 ms. */
static void child_with_grandchild(int ready)
{
    if (fork() == 0) {
        usleep(300 * 1000);
        _exit(0);
    }
    if (write(ready, "r", 1) != 1)
        _exit(1);
    usleep(100 * 1000);
    _exit(0);
}

static void child_pause(int ready)
{
    if (write(ready, "r", 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

/* Forks until the task limit stops it; every process is gone 300 ms later. */
static void child_fork_bomb(int ready)
{
    if (write(ready, "r", 1) != 1)
        _exit(1);
    usleep(100 * 1000); /* the watch is armed: a v2 limit is seen as it happens */
    for (int i = 0; i < 50; i++) {
        pid_t k = fork();
        if (k < 0)
            break;
        if (k == 0) {
            usleep(300 * 1000);
            _exit(0);
        }
    }
    _exit(0);
}

/* Touches 200 MB (under a 32M limit). */
static void child_eat_memory(int ready)
{
    size_t size = 200u << 20;
    char *m;
    if (write(ready, "r", 1) != 1)
        _exit(1);
    m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        _exit(2);
    for (size_t i = 0; i < size; i += 4096)
        m[i] = 1;
    _exit(0);
}

/* ---- tests ---- */

/* EMPTY comes once, when the last process (a grandchild outliving its parent) is gone. */
static void test_empty_when_last_exits(void **state)
{
    struct seen s = {0};
    struct cgwatch *w = NULL;
    struct err e = {0};
    uv_loop_t loop;
    double t0;
    int status;
    pid_t pid;
    open_job(0, 0);
    uv_loop_init(&loop);
    pid = spawn_in_job(child_with_grandchild);
    t0 = now_ms();
    assert_int_equal(cgwatch_start(&loop, g_job, on_event, &s, &w, &e), 0);
    run_for(&loop, 50);
    assert_int_equal(s.n, 0); /* both still run */
    run_until_empty(&loop, &s);
    reap(pid, &status);
    assert_int_equal(s.empty, 1);
    assert_int_equal(s.limit, 0);
    assert_true(s.empty_at - t0 >= 200); /* not at the child's exit: at the grandchild's */
    run_for(&loop, 100);
    assert_int_equal(s.n, 1);
    cgwatch_free(w);
    close_loop(&loop);
    close_job();
}

/* A job already empty when the watch starts: EMPTY on the next pass, never inside start. */
static void test_empty_already(void **state)
{
    struct seen s = {0};
    struct cgwatch *w = NULL;
    struct err e = {0};
    uv_loop_t loop;
    open_job(0, 0);
    uv_loop_init(&loop);
    assert_int_equal(cgwatch_start(&loop, g_job, on_event, &s, &w, &e), 0);
    assert_non_null(w);
    assert_int_equal(s.n, 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(s.empty, 1);
    run_for(&loop, 50);
    assert_int_equal(s.n, 1);
    cgwatch_free(w);
    close_loop(&loop);
    close_job();
}

/* cgroup.kill of a paused job: EMPTY follows, from the kernel's notification. */
static void test_empty_after_kill(void **state)
{
    struct seen s = {0};
    struct cgwatch *w = NULL;
    struct err e = {0};
    uv_loop_t loop;
    int status;
    pid_t pid;
    open_job(0, 0);
    uv_loop_init(&loop);
    pid = spawn_in_job(child_pause);
    assert_int_equal(cgwatch_start(&loop, g_job, on_event, &s, &w, &e), 0);
    run_for(&loop, 50);
    assert_int_equal(s.n, 0);
    assert_int_equal(cgroup_job_kill(g_job, &e), 0);
    run_until_empty(&loop, &s);
    reap(pid, &status);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(s.empty, 1);
    cgwatch_free(w);
    close_loop(&loop);
    close_job();
}

/* Forking under tasks = 10: LIMIT (tasks) once, then EMPTY when all are gone. */
static void test_tasks_limit_event(void **state)
{
    struct seen s = {0};
    struct cgwatch *w = NULL;
    struct err e = {0};
    uv_loop_t loop;
    int status;
    pid_t pid;
    open_job(0, 10);
    uv_loop_init(&loop);
    pid = spawn_in_job(child_fork_bomb);
    assert_int_equal(cgwatch_start(&loop, g_job, on_event, &s, &w, &e), 0);
    run_until_empty(&loop, &s);
    reap(pid, &status);
    assert_int_equal(s.empty, 1);
    assert_int_equal(s.limit, 1);
    assert_int_equal(s.limits, CGROUP_LIMIT_TASKS);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.order[0], CGWATCH_LIMIT);
    assert_int_equal(s.order[1], CGWATCH_EMPTY);
    cgwatch_free(w);
    close_loop(&loop);
    close_job();
}

/* Touching 200 MB under 32M: OOM kill, LIMIT (memory) before EMPTY. */
static void test_memory_limit_event(void **state)
{
    struct seen s = {0};
    struct cgwatch *w = NULL;
    struct err e = {0};
    uv_loop_t loop;
    int status;
    pid_t pid;
    open_job(32u << 20, 0);
    uv_loop_init(&loop);
    pid = spawn_in_job(child_eat_memory);
    assert_int_equal(cgwatch_start(&loop, g_job, on_event, &s, &w, &e), 0);
    run_until_empty(&loop, &s);
    reap(pid, &status);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(s.empty, 1);
    assert_int_equal(s.limit, 1);
    assert_int_equal(s.limits, CGROUP_LIMIT_MEMORY);
    assert_int_equal(s.order[0], CGWATCH_LIMIT);
    assert_int_equal(s.order[s.n - 1], CGWATCH_EMPTY);
    cgwatch_free(w);
    close_loop(&loop);
    close_job();
}

/* Freed before anything happened (and before the deferred check): no callback, loop closes. */
static void test_free_early_no_callback(void **state)
{
    struct seen s = {0};
    struct cgwatch *w = NULL;
    struct err e = {0};
    uv_loop_t loop;
    open_job(0, 0);
    uv_loop_init(&loop);
    assert_int_equal(cgwatch_start(&loop, g_job, on_event, &s, &w, &e), 0);
    cgwatch_free(w);
    close_loop(&loop);
    assert_int_equal(s.n, 0);
    close_job();
}

/* Freed from inside its own callback: safe, and nothing more comes. */
static void test_free_in_callback(void **state)
{
    struct seen s = {.free_in_cb = true};
    struct err e = {0};
    uv_loop_t loop;
    open_job(0, 0);
    uv_loop_init(&loop);
    assert_int_equal(cgwatch_start(&loop, g_job, on_event, &s, &s.w, &e), 0);
    close_loop(&loop);
    assert_int_equal(s.n, 1);
    assert_null(s.w);
    close_job();
}

/* A watch of a job whose cgroup is gone fails with the path, and leaks nothing. */
static void test_start_fails_cleanly(void **state)
{
    struct seen s = {0};
    struct cgwatch *w = (void *)1;
    struct err e = {0};
    uv_loop_t loop;
    open_job(0, 0);
    assert_int_equal(rmdir(cgroup_job_path(g_job)), 0);
    uv_loop_init(&loop);
    assert_true(cgwatch_start(&loop, g_job, on_event, &s, &w, &e) < 0);
    assert_null(w);
    assert_non_null(strstr(e.msg, "cgroup.events"));
    close_loop(&loop);
    assert_int_equal(s.n, 0);
    close_job();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_empty_when_last_exits, teardown),
        cmocka_unit_test_teardown(test_empty_already, teardown),
        cmocka_unit_test_teardown(test_empty_after_kill, teardown),
        cmocka_unit_test_teardown(test_tasks_limit_event, teardown),
        cmocka_unit_test_teardown(test_memory_limit_event, teardown),
        cmocka_unit_test_teardown(test_free_early_no_callback, teardown),
        cmocka_unit_test_teardown(test_free_in_callback, teardown),
        cmocka_unit_test_teardown(test_start_fails_cleanly, teardown),
    };
    struct cgroup_base *b;
    struct err e = {0};
    if (geteuid() != 0) {
        printf("# skipped: the cgroup watcher tests need root\n");
        return 77;
    }
    unsetenv("BOB_NO_CGROUP");
    if (cgroup_base_open(&b, &e) < 0) {
        printf("# skipped: no writable cgroup v2 (%s)\n", e.msg);
        return 77;
    }
    cgroup_base_close(b, 1000, &e);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
