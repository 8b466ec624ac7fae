/*
 * Unit tests of sandbox/limits.h, the per-job watchdog, on a real loop
 * with short real timers (about a second each). The memory and task
 * limits run against the real cgroup file systems: they need root and a
 * writable cgroup v2, and are skipped otherwise.
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
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "sandbox/limits.h"

struct seen {
    int n;
    enum limits_kind kind;
    char reason[128];
    double at;
    bool free_in_cb;
    struct limits *l;
};

static void on_limit(struct limits *l, enum limits_kind kind, const char *reason, void *data)
{
    struct seen *s = data;
    s->n++;
    s->kind = kind;
    snprintf(s->reason, sizeof(s->reason), "%s", reason);
    s->at = now_ms();
    assert_string_equal(limits_reason(l), reason);
    if (s->free_in_cb) {
        limits_free(l);
        s->l = NULL;
    }
}

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop for ms. */
static void run_for(uv_loop_t *loop, unsigned ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, stop_loop, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Runs the loop until a limit is reported, or for at most ms. */
static void run_until_limit(uv_loop_t *loop, struct seen *s, unsigned ms)
{
    double end = now_ms() + ms;
    while (s->n == 0 && now_ms() < end)
        run_for(loop, 20);
}

/* Runs what is left (closing handles) and closes the loop: nothing may stay open. */
static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* time = 1: reported once, after a second, never inside start, in seconds. */
static void test_time(void **state)
{
    struct job_limits lim = {.time = 1, .time_text = "1"};
    struct seen s = {0};
    struct limits *l = NULL;
    struct err e = {0};
    uv_loop_t loop;
    double t0 = now_ms();
    uv_loop_init(&loop);
    assert_int_equal(limits_start(&loop, &lim, NULL, 0, on_limit, &s, &l, &e), 0);
    assert_non_null(l);
    assert_int_equal(s.n, 0);
    assert_null(limits_reason(l));
    run_for(&loop, 700);
    assert_int_equal(s.n, 0);
    run_until_limit(&loop, &s, 3000);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.kind, LIMITS_TIME);
    assert_string_equal(s.reason, "time limit (1 s) reached");
    assert_true(s.at - t0 >= 950);
    assert_string_equal(limits_reason(l), "time limit (1 s) reached");
    run_for(&loop, 300);
    assert_int_equal(s.n, 1);
    assert_true(limits_check(l)); /* reached before */
    limits_free(l);
    close_loop(&loop);
}

/* The user's unit stays in the reason: "1s" as written, a number as "N s". */
static void test_time_label(void **state)
{
    struct job_limits lim = {.time = 1, .time_text = "1s"};
    struct seen s = {0};
    struct limits *l = NULL;
    struct err e = {0};
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(limits_start(&loop, &lim, NULL, 0, on_limit, &s, &l, &e), 0);
    run_until_limit(&loop, &s, 3000);
    assert_string_equal(s.reason, "time limit (1s) reached");
    limits_free(l);
    close_loop(&loop);
}

/* Output every 200 ms keeps silence = 1 quiet; a second without output reaches it. */
static void test_silence(void **state)
{
    struct job_limits lim = {.silence = 1, .silence_text = "1"};
    struct seen s = {0};
    struct limits *l = NULL;
    struct err e = {0};
    uv_loop_t loop;
    double last;
    uv_loop_init(&loop);
    assert_int_equal(limits_start(&loop, &lim, NULL, 0, on_limit, &s, &l, &e), 0);
    for (int i = 0; i < 8; i++) {
        run_for(&loop, 200);
        limits_output(l);
    }
    assert_int_equal(s.n, 0); /* 1.6 s, never a second of silence */
    last = now_ms();
    run_until_limit(&loop, &s, 3000);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.kind, LIMITS_SILENCE);
    assert_string_equal(s.reason, "no output for 1 s");
    assert_true(s.at - last >= 900);
    assert_true(s.at - last < 1600);
    limits_free(l);
    close_loop(&loop);
}

/* Freed before any limit: no callback ever, and every handle closes. */
static void test_free_early(void **state)
{
    struct job_limits lim = {.time = 1, .silence = 1};
    struct seen s = {0};
    struct limits *l = NULL;
    struct err e = {0};
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(limits_start(&loop, &lim, NULL, 0, on_limit, &s, &l, &e), 0);
    run_for(&loop, 100);
    limits_free(l);
    run_for(&loop, 1500);
    assert_int_equal(s.n, 0);
    close_loop(&loop);
}

/* Freed from inside its own callback: safe, nothing more comes. */
static void test_free_in_callback(void **state)
{
    struct job_limits lim = {.time = 1, .silence = 1};
    struct seen s = {.free_in_cb = true};
    struct err e = {0};
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(limits_start(&loop, &lim, NULL, 0, on_limit, &s, &s.l, &e), 0);
    run_until_limit(&loop, &s, 3000);
    assert_int_equal(s.n, 1);
    assert_null(s.l);
    close_loop(&loop);
    assert_int_equal(s.n, 1);
}

/* No limit at all: nothing fires, limits_check says no. */
static void test_no_limits(void **state)
{
    struct job_limits lim = {0};
    struct seen s = {0};
    struct limits *l = NULL;
    struct err e = {0};
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(limits_start(&loop, &lim, NULL, 0, on_limit, &s, &l, &e), 0);
    assert_int_equal(limits_arm(l, &e), 0);
    run_for(&loop, 200);
    assert_false(limits_check(l));
    assert_int_equal(s.n, 0);
    limits_free(l);
    close_loop(&loop);
    limits_output(NULL);
    limits_free(NULL);
    assert_false(limits_check(NULL));
}

/* Memory or tasks without a cgroup to enforce them: refused with the reason, never ignored. */
static void test_unenforceable(void **state)
{
    static const struct {
        struct job_limits lim;
        const char *msg;
    } cases[] = {
        {{.memory = 64u << 20, .memory_text = "64M"},
         "memory limit (64M) cannot be enforced on this host"},
        {{.memory = 1000000, .memory_text = "1000000"},
         "memory limit (1000000 bytes) cannot be enforced on this host"},
        {{.tasks = 20}, "task limit (20) cannot be enforced on this host"},
        {{.time = 5, .tasks = 20}, "task limit (20) cannot be enforced on this host"},
    };
    uv_loop_t loop;
    uv_loop_init(&loop);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct seen s = {0};
        struct limits *l = (void *)1;
        struct err e = {0};
        assert_int_equal(limits_start(&loop, &cases[i].lim, NULL, 0, on_limit, &s, &l, &e),
                         -ENOTSUP);
        assert_null(l);
        assert_string_equal(e.msg, cases[i].msg);
        assert_int_equal(limits_cgroup_wanted(&cases[i].lim) != 0, 1);
    }
    /* A cgroup that enforces memory but not tasks: the task limit is refused. */
    {
        struct job_limits lim = {.memory = 1u << 20, .memory_text = "1M", .tasks = 20};
        struct seen s = {0};
        struct limits *l = (void *)1;
        struct err e = {0};
        char fake;
        assert_int_equal(limits_start(&loop, &lim, (const struct cgroup_job *)(void *)&fake,
                                      CGROUP_LIMIT_MEMORY, on_limit, &s, &l, &e),
                         -ENOTSUP);
        assert_null(l);
        assert_string_equal(e.msg, "task limit (20) cannot be enforced on this host");
    }
    close_loop(&loop);
}

/* ---- with a real cgroup ---- */

/* Opens a base and a job with lim's cgroup limits; false (test skipped) when there is none. */
static bool open_job(const struct job_limits *lim, struct cgroup_base **b, struct cgroup_job **j)
{
    struct cgroup_limits cl;
    struct err e = {0};
    if (geteuid() != 0)
        return false;
    unsetenv("BOB_NO_CGROUP");
    if (cgroup_base_open(b, &e) < 0)
        return false;
    if ((cgroup_base_limits(*b) & limits_cgroup_wanted(lim)) != limits_cgroup_wanted(lim)) {
        cgroup_base_close(*b, 1000, &e);
        return false;
    }
    limits_cgroup_limits(lim, &cl);
    if (cgroup_job_new(*b, "limits", &cl, j, &e) < 0)
        fail_msg("cgroup_job_new: %s", e.msg);
    return true;
}

static void close_job(struct cgroup_base *b, struct cgroup_job *j)
{
    struct err e = {0};
    cgroup_job_kill(j, &e);
    cgroup_job_free(j);
    if (cgroup_base_close(b, 2000, &e) < 0)
        fail_msg("cgroup_base_close: %s", e.msg);
}

/* Forks a child that enters the job (as the launcher does) and runs fn; returns once it is in. */
static pid_t spawn_in_job(struct cgroup_job *j, void (*fn)(void))
{
    const int *fds;
    size_t n = cgroup_job_procs_fds(j, &fds);
    int p[2];
    char c;
    pid_t pid;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        for (size_t i = 0; i < n; i++)
            if (write(fds[i], "0", 1) != 1)
                _exit(120);
        if (write(p[1], "r", 1) != 1)
            _exit(121);
        fn();
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

/* Forks until the task limit stops it, then stays (the job keeps running). */
static void child_fork_and_stay(void)
{
    usleep(100 * 1000);
    for (int i = 0; i < 50; i++) {
        pid_t k = fork();
        if (k < 0)
            break;
        if (k == 0) {
            pause();
            _exit(0);
        }
    }
    pause();
}

/* Touches 200 MB. */
static void child_eat_memory(void)
{
    size_t size = 200u << 20;
    char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        _exit(2);
    for (size_t i = 0; i < size; i += 4096)
        m[i] = 1;
}

/* tasks = 5 and a job that forks on and stays: reported while it still runs (v2 or v1 poll). */
static void test_tasks(void **state)
{
    struct job_limits lim = {.tasks = 5};
    struct cgroup_base *b;
    struct cgroup_job *j;
    struct seen s = {0};
    struct limits *l = NULL;
    struct err e = {0};
    uv_loop_t loop;
    pid_t pid;
    if (!open_job(&lim, &b, &j)) {
        skip();
        return;
    }
    uv_loop_init(&loop);
    assert_int_equal(limits_start(&loop, &lim, j, cgroup_base_limits(b), on_limit, &s, &l, &e), 0);
    pid = spawn_in_job(j, child_fork_and_stay);
    assert_int_equal(limits_arm(l, &e), 0);
    run_until_limit(&loop, &s, 5000);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.kind, LIMITS_TASKS);
    assert_string_equal(s.reason, "task limit (5) reached");
    assert_int_equal(cgroup_job_populated(j, &e), 1); /* seen while it ran */
    assert_int_equal(cgroup_job_kill(j, &e), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    limits_free(l);
    close_loop(&loop);
    assert_int_equal(s.n, 1);
    close_job(b, j);
}

/* memory = "16M" and a job touching 200 MB: the OOM kill is the memory limit, seen on demand. */
static void test_memory(void **state)
{
    struct job_limits lim = {.memory = 16u << 20, .memory_text = "16M"};
    struct cgroup_base *b;
    struct cgroup_job *j;
    struct seen s = {0};
    struct limits *l = NULL;
    struct err e = {0};
    uv_loop_t loop;
    int status;
    pid_t pid;
    if (!open_job(&lim, &b, &j)) {
        skip();
        return;
    }
    uv_loop_init(&loop);
    assert_int_equal(limits_start(&loop, &lim, j, cgroup_base_limits(b), on_limit, &s, &l, &e), 0);
    pid = spawn_in_job(j, child_eat_memory);
    assert_int_equal(limits_arm(l, &e), 0);
    /* Without running the loop: the stage ended, did a limit end it? */
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(limits_check(l));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.kind, LIMITS_MEMORY);
    assert_string_equal(s.reason, "memory limit (16M) reached");
    run_for(&loop, 300);
    assert_int_equal(s.n, 1);
    limits_free(l);
    close_loop(&loop);
    close_job(b, j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_time),
        harness_test(test_time_label),
        harness_test(test_silence),
        harness_test(test_free_early),
        harness_test(test_free_in_callback),
        harness_test(test_no_limits),
        harness_test(test_unenforceable),
        harness_test(test_tasks),
        harness_test(test_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
