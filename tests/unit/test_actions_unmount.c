/*
 * Unit tests of src/actions/unmount.c: unmounting with retries on a loop
 * timer. A tmpfs is mounted under a mkdtemp directory and held busy by a
 * child `sleep` whose working directory is inside it. They need root; as
 * another user the binary says why and exits 77 (skipped). tests/run-private
 * puts the binary in a private mount namespace; when started without it,
 * main makes one itself, so nothing can leak onto the machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "actions/unmount.h"
#include "platform/platform.h"

static char g_base[64];  /* the test's mkdtemp directory */
static char g_root[128]; /* <base>/root: the sandbox */
static char g_work[160]; /* <root>/work: the mount point */

/* What the callback saw. */
struct seen {
    int calls;
    int status;
    struct err err;
    double at_ms; /* when it came, since the start */
    double t0;
};

/* ---- helpers ---- */

static size_t mounts_under(const char *path)
{
    struct plat_mount_entry *v;
    size_t n;
    struct err e;
    assert_int_equal(plat_mounts_under(path, &v, &n, &e), 0);
    plat_mounts_free(v, n);
    return n;
}

/* Mounts a tmpfs on /work of the sandbox. */
static void mount_work(void)
{
    struct plat_mount_spec spec = {.fs = PLAT_FS_TMP, .name = "tmp", .dest = "/work"};
    struct err e;
    assert_int_equal(plat_mount(g_root, &spec, &e), 0);
    assert_int_equal(mounts_under(g_root), 1);
}

/*
 * Starts `sleep secs` with its working directory in dir; returns once it
 * runs (the close-on-exec pipe is closed by the exec).
 */
static pid_t spawn_sleep(const char *dir, const char *secs)
{
    int p[2];
    char c;
    pid_t pid;
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (chdir(dir) == 0)
            execlp("sleep", "sleep", secs, (char *)NULL);
        (void)!write(p[1], "x", 1);
        _exit(127);
    }
    close(p[1]);
    assert_int_equal(read(p[0], &c, 1), 0); /* EOF: the exec happened */
    close(p[0]);
    return pid;
}

static void reap(pid_t pid)
{
    int status;
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void on_done(struct unmount *u, int status, const struct err *e, void *data)
{
    struct seen *s = data;
    s->calls++;
    s->status = status;
    s->at_ms = now_ms() - s->t0;
    if (e)
        s->err = *e;
    unmount_free(u);
}

/* Runs the loop until nothing is left, then checks that no handle leaked. */
static void run_and_close(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_base, sizeof(g_base), "/tmp/bob-unmount-XXXXXX");
    if (!mkdtemp(g_base))
        return -1;
    snprintf(g_root, sizeof(g_root), "%s/root", g_base);
    snprintf(g_work, sizeof(g_work), "%s/work", g_root);
    return mkdir(g_root, 0755);
}

static int teardown(void **state)
{
    struct err e;
    (void)state;
    plat_unmount(g_root, "/", &e);
    nftw(g_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- tests ---- */

/* Nothing mounted: success, and the callback comes from the loop, not from inside start. */
static void test_nothing_mounted(void **state)
{
    uv_loop_t loop;
    struct seen s = {.t0 = now_ms()};
    struct err e;
    struct unmount *u;
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    u = unmount_start(&loop, g_root, "/work", on_done, &s, &e);
    assert_non_null(u);
    assert_int_equal(s.calls, 0);
    run_and_close(&loop);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, 0);
}

/* A mount busy for a while: retried until it is free, then unmounted and pruned. */
static void test_busy_then_free(void **state)
{
    uv_loop_t loop;
    struct seen s;
    struct err e;
    pid_t pid;
    int status;
    (void)state;

    mount_work();
    pid = spawn_sleep(g_work, "0.4");
    assert_int_equal(uv_loop_init(&loop), 0);
    s = (struct seen){.t0 = now_ms()};
    assert_non_null(unmount_start(&loop, g_root, "/work", on_done, &s, &e));
    run_and_close(&loop);
    print_message("unmounted after %.0f ms\n", s.at_ms);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, 0);
    assert_true(s.at_ms >= 300); /* it waited for the sleep to end */
    assert_true(s.at_ms < 4000); /* and did not use up every attempt */
    assert_int_equal(mounts_under(g_root), 0);
    assert_int_equal(access(g_work, F_OK), -1); /* the empty mount point is pruned */
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A mount that stays busy: fails after every attempt, naming the mount and its holder. */
static void test_stays_busy(void **state)
{
    uv_loop_t loop;
    struct seen s;
    struct err e;
    char want[64];
    pid_t pid;
    (void)state;

    mount_work();
    pid = spawn_sleep(g_work, "60");
    assert_int_equal(uv_loop_init(&loop), 0);
    s = (struct seen){.t0 = now_ms()};
    assert_non_null(unmount_start(&loop, g_root, "/work", on_done, &s, &e));
    run_and_close(&loop);
    print_message("failed after %.0f ms: %s\n", s.at_ms, s.err.msg);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, -EBUSY);
    /* 64 + 128 + 256 + 512 + 4 x 1024 ms between the 9 attempts */
    assert_true(s.at_ms >= 4900);
    assert_non_null(strstr(s.err.msg, "cannot unmount "));
    assert_non_null(strstr(s.err.msg, g_work));
    snprintf(want, sizeof(want), "busy (pid %d sleep)", (int)pid);
    assert_non_null(strstr(s.err.msg, want));
    assert_int_equal(mounts_under(g_root), 1);
    reap(pid);
}

/* Cancelled while waiting for a retry: "interrupted" at once, the mount left. */
static void on_cancel_timer(uv_timer_t *t)
{
    unmount_cancel(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel(void **state)
{
    uv_loop_t loop;
    uv_timer_t timer;
    struct seen s;
    struct err e;
    struct unmount *u;
    pid_t pid;
    (void)state;

    mount_work();
    pid = spawn_sleep(g_work, "60");
    assert_int_equal(uv_loop_init(&loop), 0);
    s = (struct seen){.t0 = now_ms()};
    u = unmount_start(&loop, g_root, "/work", on_done, &s, &e);
    assert_non_null(u);
    assert_int_equal(uv_timer_init(&loop, &timer), 0);
    timer.data = u;
    assert_int_equal(uv_timer_start(&timer, on_cancel_timer, 300, 0), 0);
    run_and_close(&loop);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, -ECANCELED);
    assert_string_equal(s.err.msg, "interrupted");
    assert_true(s.at_ms < 2000);
    assert_int_equal(mounts_under(g_root), 1);
    reap(pid);
}

/* Freed before it ends: no callback, and the loop still closes cleanly. */
static void test_free_early(void **state)
{
    uv_loop_t loop;
    struct seen s = {.t0 = now_ms()};
    struct err e;
    struct unmount *u;
    pid_t pid;
    (void)state;

    mount_work();
    pid = spawn_sleep(g_work, "60");
    assert_int_equal(uv_loop_init(&loop), 0);
    u = unmount_start(&loop, g_root, "/work", on_done, &s, &e);
    assert_non_null(u);
    unmount_free(u);
    run_and_close(&loop);
    assert_int_equal(s.calls, 0);
    reap(pid);
}

/* The backoff: 64 ms doubling to 1 s. */
static void test_delay(void **state)
{
    static const unsigned want[] = {64, 128, 256, 512, 1024, 1024, 1024, 1024};
    (void)state;
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(unmount_delay(i), want[i]);
    assert_int_equal(UNMOUNT_ATTEMPTS, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay),
        cmocka_unit_test_setup_teardown(test_nothing_mounted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_then_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stays_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_early, setup, teardown),
    };

    if (geteuid() != 0) {
        printf("test_actions_unmount: skipped: needs root (mounts); "
               "run as root through tests/run-private\n");
        return 77;
    }
    /* Without tests/run-private: a private mount namespace of our own. */
    if (!getenv("BOB_IN_PRIVATE_NS")) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
            printf("test_actions_unmount: skipped: cannot make a private mount namespace: %s\n",
                   strerror(errno));
            return 77;
        }
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
