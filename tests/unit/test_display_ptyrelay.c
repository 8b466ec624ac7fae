/* Unit tests of src/display/ptyrelay: relaying a terminal to a pty, and giving it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "display/ptyrelay.h"
#include "util/util.h"

/* A pty pair: *master and *slave (both non-blocking for the test's own reads), or skips. */
static void open_pty(int *master, int *slave)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
        if (m >= 0)
            close(m);
        skip();
    }
    int s = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
    assert_true(s >= 0);
    *master = m;
    *slave = s;
}

/* Ends run_for. */
static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop for ms. */
static void run_for(uv_loop_t *loop, unsigned ms)
{
    uv_timer_t t;
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, stop_loop, ms, 0), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Everything that can be read from fd now (made non-blocking). */
static char *drain(int fd)
{
    struct buf b = {0};
    char tmp[4096];
    ssize_t n;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while ((n = read(fd, tmp, sizeof(tmp))) > 0)
        buf_add(&b, tmp, (size_t)n);
    return b.p ? b.p : xstrdup("");
}

/*
 * Output of the pty reaches out_fd, typing reaches the pty, the pty starts
 * with the terminal's modes, the terminal is raw while relayed and exactly
 * as before afterwards.
 */
static void test_relay(void **state)
{
    int user_m, user_s, pty_m, pty_s, out[2];
    open_pty(&user_m, &user_s);
    open_pty(&pty_m, &pty_s);
    assert_int_equal(pipe(out), 0);
    struct termios before, t;
    assert_int_equal(tcgetattr(user_s, &before), 0);
    assert_true(before.c_lflag & ICANON);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct err e = {0};
    struct ptyrelay *r = ptyrelay_start(&loop, user_s, out[1], pty_m, pty_s, &e);
    assert_non_null(r);
    assert_int_equal(tcgetattr(user_s, &t), 0);
    assert_false(t.c_lflag & (ICANON | ECHO)); /* raw while relayed */
    assert_int_equal(tcgetattr(pty_s, &t), 0);
    assert_true(t.c_lflag & ICANON); /* the pty starts as the terminal was */

    assert_int_equal(write(pty_s, "from the shell\n", 15), 15);
    assert_int_equal(write(user_m, "typed\n", 6), 6);
    run_for(&loop, 300);
    char *got = drain(out[0]);
    assert_non_null(strstr(got, "from the shell"));
    free(got);
    got = drain(pty_s);
    assert_non_null(strstr(got, "typed"));
    free(got);

    ptyrelay_free(r); /* closes pty_m */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(tcgetattr(user_s, &t), 0);
    assert_int_equal(t.c_lflag, before.c_lflag);
    assert_int_equal(t.c_iflag, before.c_iflag);
    assert_int_equal(t.c_oflag, before.c_oflag);
    assert_int_equal(fcntl(pty_m, F_GETFD), -1); /* the relay closed it */
    close(pty_s);
    close(user_m);
    close(user_s);
    close(out[0]);
    close(out[1]);
}

/*
 * A master that libuv cannot watch (a regular file): NULL with the reason,
 * the terminal as it was, master left open for the caller, nothing left
 * on the loop.
 */
static void test_relay_fails(void **state)
{
    int user_m, user_s;
    open_pty(&user_m, &user_s);
    struct termios before, t;
    assert_int_equal(tcgetattr(user_s, &before), 0);
    FILE *f = tmpfile();
    assert_non_null(f);
    int master = fileno(f);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct err e = {0};
    struct ptyrelay *r = ptyrelay_start(&loop, user_s, STDOUT_FILENO, master, user_s, &e);
    assert_null(r);
    assert_int_equal(e.code, EPERM);
    assert_non_null(strstr(e.msg, "cannot watch the pty"));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(tcgetattr(user_s, &t), 0);
    assert_int_equal(t.c_lflag, before.c_lflag);
    assert_true(fcntl(master, F_GETFD) >= 0); /* still the caller's */

    /* Not a terminal at all: refused before anything changes. */
    r = ptyrelay_start(&loop, master, STDOUT_FILENO, master, user_s, &e);
    assert_null(r);
    assert_int_equal(e.code, ENOTTY);
    fclose(f);
    close(user_m);
    close(user_s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_relay_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
