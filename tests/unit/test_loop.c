/* Unit tests of src/loop: run state and signals, child processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "loop/proc.h"
#include "loop/runstate.h"

struct seen {
    int count;
    enum run_state states[8];
    int signals[8];
};

static void on_state(enum run_state st, int signum, void *data)
{
    struct seen *s = data;
    if (s->count < 8) {
        s->states[s->count] = st;
        s->signals[s->count] = signum;
    }
    s->count++;
}

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop until a timer of ms fires (so that signal handles get to run). */
static void run_for(uv_loop_t *loop, unsigned ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, stop_loop, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void close_loop(uv_loop_t *loop, struct runstate *rs)
{
    runstate_free(rs);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* Real SIGINTs: two inside 100 ms count once; a later one shuts down. */
static void test_sigint_twice(void **state)
{
    uv_loop_t loop;
    struct seen s = {0};
    struct runstate *rs;
    uv_loop_init(&loop);
    rs = runstate_new(&loop, false, on_state, &s, NULL);
    assert_non_null(rs);
    assert_int_equal(runstate_get(rs), RUN_RUNNING);
    kill(getpid(), SIGINT);
    run_for(&loop, 20);
    assert_int_equal(runstate_get(rs), RUN_STOPPING);
    kill(getpid(), SIGINT); /* the same keypress, delivered twice */
    run_for(&loop, 20);
    assert_int_equal(runstate_get(rs), RUN_STOPPING);
    assert_int_equal(s.count, 1);
    run_for(&loop, 120);
    kill(getpid(), SIGINT);
    run_for(&loop, 20);
    assert_int_equal(runstate_get(rs), RUN_SHUTDOWN);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.states[0], RUN_STOPPING);
    assert_int_equal(s.states[1], RUN_SHUTDOWN);
    assert_int_equal(s.signals[1], SIGINT);
    close_loop(&loop, rs);
}

/* Signal dispositions are process-wide: each of these tests runs in a child. */
static void in_child(void (*fn)(void))
{
    pid_t pid = fork();
    int status;
    if (pid == 0) {
        fn();
        _exit(0);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void sigterm_child(void)
{
    uv_loop_t loop;
    struct seen s = {0};
    struct runstate *rs;
    uv_loop_init(&loop);
    rs = runstate_new(&loop, false, on_state, &s, NULL);
    if (!rs)
        _exit(4);
    kill(getpid(), SIGTERM);
    run_for(&loop, 20);
    if (runstate_get(rs) != RUN_SHUTDOWN || s.count != 1 || runstate_signal(rs) != SIGTERM)
        _exit(1);
    kill(getpid(), SIGHUP); /* no further advance */
    run_for(&loop, 20);
    if (s.count != 1)
        _exit(2);
    runstate_free(rs);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(uv_loop_close(&loop) == 0 ? 0 : 3);
}

static void test_sigterm_is_shutdown(void **state)
{
    in_child(sigterm_child);
}

static void stop_is_shutdown_child(void)
{
    uv_loop_t loop;
    struct runstate *rs;
    uv_loop_init(&loop);
    rs = runstate_new(&loop, true, NULL, NULL, NULL);
    if (!rs)
        _exit(4);
    kill(getpid(), SIGINT);
    run_for(&loop, 20);
    if (runstate_get(rs) != RUN_SHUTDOWN)
        _exit(1);
    runstate_free(rs);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(uv_loop_close(&loop) == 0 ? 0 : 3);
}

static void test_stop_is_shutdown(void **state)
{
    in_child(stop_is_shutdown_child);
}

struct result {
    bool exited, lingered;
    int code, sig, shell;
    enum launch_fail enter;
    struct err enter_err;
    struct buf out, err;
    struct proc *p;
    double cpu_ms;
};

static void on_data(struct proc *p, int stream, const char *b, size_t n, void *data)
{
    struct result *r = data;
    buf_add(stream == 1 ? &r->out : &r->err, b, n);
}

static void on_exit_cb(struct proc *p, void *data)
{
    struct result *r = data;
    r->exited = true;
    r->code = proc_exit_code(p);
    r->sig = proc_term_signal(p);
    r->enter = proc_enter_error(p, &r->enter_err);
    r->shell = proc_shell_status(p);
    r->cpu_ms = proc_cpu_ms(p);
}

static void on_linger(struct proc *p, void *data)
{
    struct result *r = data;
    r->lingered = true;
    proc_kill(p, SIGKILL); /* the holder is in the child's process group */
}

static void run_proc(const char *const *argv, struct proc_opts *o, struct result *r)
{
    uv_loop_t loop;
    struct proc_cbs cbs = {on_data, on_exit_cb, on_linger, r};
    struct err e;
    uv_loop_init(&loop);
    o->argv = argv;
    r->p = proc_spawn(&loop, o, &cbs, &e);
    assert_non_null(r->p);
    assert_true(proc_cpu_ms(r->p) == -1); /* not reaped yet */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(r->exited);
    proc_free(r->p);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Output of both streams is captured whole and the exit code is exact. */
static void test_proc_capture(void **state)
{
    const char *argv[] = {"/bin/sh", "-c",
                          "i=0; while [ $i -lt 2000 ]; do echo out$i; echo err$i >&2; "
                          "i=$((i+1)); done; exit 7",
                          NULL};
    struct proc_opts o = {.out = PROC_IO_PIPE, .err = PROC_IO_PIPE};
    struct result r = {0};
    run_proc(argv, &o, &r);
    assert_int_equal(r.code, 7);
    assert_int_equal(r.sig, 0);
    assert_int_equal(r.enter, LAUNCH_FAIL_NONE);
    assert_non_null(strstr(r.out.p, "out0\nout1\n"));
    assert_non_null(strstr(r.out.p, "out1999\n"));
    assert_null(strstr(r.out.p, "err"));
    assert_non_null(strstr(r.err.p, "err1999\n"));
    /* The rusage of the reaped child: 4000 echos in a loop use some CPU time. */
    assert_true(r.cpu_ms > 0);
    buf_free(&r.out);
    buf_free(&r.err);
}

/* A signal that ends the child is reported as such. */
static void test_proc_signal(void **state)
{
    const char *argv[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    struct proc_opts o = {.out = PROC_IO_NULL, .err = PROC_IO_NULL};
    struct result r = {0};
    run_proc(argv, &o, &r);
    assert_int_equal(r.code, -1);
    assert_int_equal(r.sig, SIGTERM);
}

/*
 * A background process that keeps the pipe open after the main process
 * exited: the linger callback fires after the drain time and the pipes
 * are cut off, so the exit callback still arrives.
 */
static void test_proc_pipe_holder(void **state)
{
    const char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo started", NULL};
    struct proc_opts o = {
        .out = PROC_IO_PIPE, .err = PROC_IO_NULL, .drain_ms = 100, .setsid = true};
    struct result r = {0};
    double t0 = now_ms();
    run_proc(argv, &o, &r);
    assert_true(r.lingered);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out.p, "started"));
    /* Killed at the first drain time: well before the sleeper would end. */
    assert_true(now_ms() - t0 < 5000);
    buf_free(&r.out);
}

/* A command that does not exist fails to spawn with its name in the error. */
static void test_proc_spawn_failure(void **state)
{
    uv_loop_t loop;
    const char *argv[] = {"/nonexistent/cmd", NULL};
    struct proc_opts o = {.argv = argv};
    struct proc_cbs cbs = {0};
    struct err e;
    uv_loop_init(&loop);
    assert_null(proc_spawn(&loop, &o, &cbs, &e));
    assert_non_null(strstr(e.msg, "/nonexistent/cmd"));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Freeing a running process kills it and releases everything. */
static void test_proc_free_running(void **state)
{
    uv_loop_t loop;
    const char *argv[] = {"/bin/sleep", "30", NULL};
    struct proc_opts o = {.argv = argv, .out = PROC_IO_PIPE, .setsid = true};
    struct proc_cbs cbs = {0};
    struct err e;
    struct proc *p;
    pid_t pid;
    uv_loop_init(&loop);
    p = proc_spawn(&loop, &o, &cbs, &e);
    assert_non_null(p);
    pid = proc_pid(p);
    proc_free(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(kill(pid, 0), -1); /* reaped, gone */
}

/* A sandbox command is chrooted: the command sees the sandbox's root. */
static void test_proc_enter_chroot(void **state)
{
    char dir[] = "/tmp/bob-loop-XXXXXX";
    char path[256];
    const char *argv[] = {"/sh", "-c", "ls /", NULL};
    struct proc_opts o = {.out = PROC_IO_PIPE, .err = PROC_IO_PIPE};
    struct result r = {0};
    if (geteuid() != 0)
        skip();
    assert_non_null(mkdtemp(dir));
    /* The empty root has no /sh while the host has one: exit 127 and the
     * message show that the lookup happened inside the chroot. */
    snprintf(path, sizeof(path), "%s/marker", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    o.root = dir;
    run_proc(argv, &o, &r);
    assert_int_equal(r.code, 127);
    assert_non_null(
        strstr(r.err.p, "bob: sandbox entry: cannot execute /sh: No such file or directory"));
    /* The same fact as a code, for callers to branch on. */
    assert_int_equal(r.enter, LAUNCH_FAIL_NOTFOUND);
    assert_int_equal(r.enter_err.code, ENOENT);
    assert_non_null(strstr(r.enter_err.msg, "/sh"));
    rmdir(path);
    rmdir(dir);
    buf_free(&r.out);
    buf_free(&r.err);
}

/* A root with /usr bound read-only and the merged-usr links: enough for sh. */
static void make_root(char *dir)
{
    char p[256];
    const char *links[][2] = {{"usr/bin", "bin"}, {"usr/lib", "lib"}, {"usr/lib64", "lib64"}};
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/usr", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(mount("/usr", p, NULL, MS_BIND | MS_REC, NULL), 0);
    assert_int_equal(mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, links[i][1]);
        assert_int_equal(symlink(links[i][0], p), 0);
    }
}

static void remove_root(const char *dir)
{
    char p[256];
    const char *links[] = {"bin", "lib", "lib64"};
    snprintf(p, sizeof(p), "%s/usr", dir);
    assert_int_equal(umount2(p, MNT_DETACH), 0);
    assert_int_equal(rmdir(p), 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, links[i]);
        unlink(p);
    }
    assert_int_equal(rmdir(dir), 0);
}

/* Sends SIGTERM to the process once it says "ready". */
static void on_data_term(struct proc *p, int stream, const char *b, size_t n, void *data)
{
    on_data(p, stream, b, n, data);
    if (stream == 1 && memchr(b, '\n', n))
        proc_kill(p, SIGTERM);
}

/*
 * In a sandbox (behind the boundary) the status is the command's, not its
 * init's; a background process holding the pipe dies with the command (no
 * linger); proc_kill's signal reaches the command.
 */
static void test_proc_sandbox_status(void **state)
{
    char dir[] = "/tmp/bob-loop-XXXXXX";
    const char *exit3[] = {"sh", "-c", "exit 3", NULL};
    const char *term[] = {"sh", "-c", "kill -TERM $$", NULL};
    const char *holder[] = {"sh", "-c", "sleep 30 & echo started", NULL};
    const char *ready[] = {"sh", "-c", "echo ready; exec sleep 30", NULL};
    struct proc_opts o = {.out = PROC_IO_PIPE, .err = PROC_IO_PIPE, .setsid = true};
    struct proc_cbs cbs = {on_data_term, on_exit_cb, on_linger, NULL};
    struct result r = {0};
    struct err e;
    uv_loop_t loop;
    double t0;

    if (geteuid() != 0)
        skip();
    make_root(dir);
    o.root = dir;
    run_proc(exit3, &o, &r);
    assert_int_equal(r.code, 3);
    assert_int_equal(r.enter, LAUNCH_FAIL_NONE);
    assert_int_equal(r.shell, 3);
    memset(&r, 0, sizeof(r));
    run_proc(term, &o, &r);
    assert_int_equal(r.sig, SIGTERM);
    assert_int_equal(r.shell, 128 + SIGTERM);
    memset(&r, 0, sizeof(r));
    o.drain_ms = 5000;
    t0 = now_ms();
    run_proc(holder, &o, &r);
    assert_false(r.lingered);
    assert_true(now_ms() - t0 < 2000);
    assert_non_null(strstr(r.out.p, "started"));
    buf_free(&r.out);
    buf_free(&r.err);

    memset(&r, 0, sizeof(r));
    cbs.data = &r;
    uv_loop_init(&loop);
    o.argv = ready;
    r.p = proc_spawn(&loop, &o, &cbs, &e);
    assert_non_null(r.p);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(r.exited);
    assert_int_equal(r.sig, SIGTERM);
    proc_free(r.p);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    buf_free(&r.out);
    buf_free(&r.err);
    remove_root(dir);
}

/*
 * A command run as a user gets that user's uid, gid, groups and HOME,
 * USER, LOGNAME; PATH is searched in the command's environment; a script
 * without "#!" runs with /bin/sh, as execvp does.
 */
static void test_proc_user_and_path(void **state)
{
    const char *id[] = {"sh", "-c", "echo $(id -u):$(id -g):$(id -G):$HOME:$USER:$LOGNAME", NULL};
    const char *env[] = {"PATH=/nonexistent:/usr/bin", "HOME=/root", "USER=root", NULL};
    const char *script[] = {"bob-test-script", "arg1", NULL};
    char dir[] = "/tmp/bob-loop-XXXXXX", path[256], want[256], envpath[300];
    const char *env2[] = {envpath, NULL};
    struct proc_opts o = {.out = PROC_IO_PIPE, .err = PROC_IO_PIPE};
    struct result r = {0};
    struct passwd *pw;
    FILE *f;

    if (geteuid() != 0)
        skip();
    pw = getpwnam("nobody");
    assert_non_null(pw);
    o.user = "nobody";
    o.env = env;
    run_proc(id, &o, &r);
    buf_add(&r.out, "", 1);
    snprintf(want, sizeof(want), "%u:%u:%u:%s:nobody:nobody\n", (unsigned)pw->pw_uid,
             (unsigned)pw->pw_gid, (unsigned)pw->pw_gid, pw->pw_dir);
    assert_string_equal(r.out.p, want);
    assert_int_equal(r.code, 0);
    buf_free(&r.out);
    buf_free(&r.err);

    /* An executable text file without "#!" in PATH: run by /bin/sh. */
    memset(&r, 0, sizeof(r));
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/bob-test-script", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("echo script \"$1\"\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    snprintf(envpath, sizeof(envpath), "PATH=/nonexistent:%s", dir);
    memset(&o, 0, sizeof(o));
    o.out = o.err = PROC_IO_PIPE;
    o.env = env2;
    run_proc(script, &o, &r);
    buf_add(&r.out, "", 1);
    assert_string_equal(r.out.p, "script arg1\n");
    unlink(path);
    rmdir(dir);
    buf_free(&r.out);
    buf_free(&r.err);
}

/*
 * Hundreds of children that exit while the loop is busy: every exit is
 * seen (one SIGCHLD watcher for all: one per process overflowed libuv's
 * signal pipe and lost some, and the loop never ended).
 */
static int many_exited;
static void many_on_exit(struct proc *p, void *data)
{
    many_exited++;
    proc_free(p);
}
static void many_busy(uv_timer_t *t)
{
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL); /* the loop is held while the children exit */
}
static void test_proc_many_children(void **state)
{
    enum { N = 300 };
    uv_loop_t loop;
    uv_timer_t busy;
    struct err e;
    char arg[N][32];
    (void)state;

    uv_loop_init(&loop);
    for (int i = 0; i < N; i++) {
        const char *argv[] = {"/bin/sh", "-c", arg[i], NULL};
        struct proc_opts o = {.argv = argv, .out = PROC_IO_NULL, .err = PROC_IO_NULL};
        struct proc_cbs cbs = {NULL, many_on_exit, NULL, NULL};
        snprintf(arg[i], sizeof(arg[i]), "sleep 0.%03d", (i * 7) % 1000);
        assert_non_null(proc_spawn(&loop, &o, &cbs, &e));
    }
    uv_timer_init(&loop, &busy);
    uv_timer_start(&busy, many_busy, 10, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&busy, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(many_exited, N);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_sigterm_is_shutdown), harness_test(test_stop_is_shutdown),
        harness_test(test_proc_capture),        harness_test(test_proc_signal),
        harness_test(test_proc_pipe_holder),    harness_test(test_proc_spawn_failure),
        harness_test(test_proc_free_running),   harness_test(test_proc_enter_chroot),
        harness_test(test_proc_user_and_path),  harness_test(test_proc_sandbox_status),
        harness_test(test_proc_many_children),  harness_test(test_sigint_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
