/* Unit tests of src/display: text helpers, plain lines, terminal frames, wakeups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop/capture.h"
#include "display/display.h"
#include "display/row.h"
#include "display/view.h"
#include "display/text.h"
#include "util/util.h"

/* text_sanitize of a C string into a fresh string; *cols gets the columns. */
static char *text(const char *s, size_t len, size_t width, size_t *cols)
{
    struct buf b = {0};
    size_t c = text_sanitize(&b, s, len, width);
    if (cols)
        *cols = c;
    return b.p ? b.p : xstrdup("");
}

/* Asserts that sanitizing s (len bytes) to width gives want in cols columns. */
static void check_text(const char *s, size_t len, size_t width, const char *want, size_t cols)
{
    size_t got_cols;
    char *got = text(s, len, width, &got_cols);
    assert_string_equal(got, want);
    assert_int_equal(got_cols, cols);
    free(got);
}

/* Elapsed times read like bob's: tenths under a minute, then minutes and hours. */
static void test_elapsed(void **state)
{
    char b[32];
    row_fmt_elapsed(b, sizeof(b), 0);
    assert_string_equal(b, "0.0s");
    row_fmt_elapsed(b, sizeof(b), 12345);
    assert_string_equal(b, "12.3s");
    row_fmt_elapsed(b, sizeof(b), 59960); /* never "60.0s" */
    assert_string_equal(b, "59.9s");
    row_fmt_elapsed(b, sizeof(b), 62000);
    assert_string_equal(b, "1m 2s");
    row_fmt_elapsed(b, sizeof(b), 3723000);
    assert_string_equal(b, "1h 2m 3s");
    row_fmt_elapsed(b, sizeof(b), -5);
    assert_string_equal(b, "0.0s");
    assert_int_equal(row_elapsed_width(4), 6); /* "idle" */
    assert_int_equal(row_elapsed_width(5), 6); /* "12.3s" */
    assert_int_equal(row_elapsed_width(7), 8); /* "59m 59s" */
    assert_int_equal(row_elapsed_width(8), 9); /* "1h 2m 3s" */
    assert_int_equal(row_elapsed_width(11), 13);
    assert_int_equal(row_elapsed_width(13), 14);
}

/* Output lines are made safe for the terminal and cut to a width. */
static void test_text_sanitize(void **state)
{
    check_text("plain", 5, 80, "plain", 5);
    /* escape sequences: colours, a title (OSC with BEL), a link (OSC with ST), charsets */
    check_text("\x1b[1;31mred\x1b[0m!", 15, 80, "red!", 4);
    check_text("\x1b]0;title\x07ok", 12, 80, "ok", 2);
    const char *link = "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\";
    check_text(link, strlen(link), 80, "link", 4);
    check_text("\x1b(Bx\x1b=y\x1b", 8, 80, "xy", 2);
    /* tabs to 8 columns */
    check_text("a\tb", 3, 80, "a       b", 9);
    check_text("12345678\tx", 10, 80, "12345678        x", 17);
    /* NUL and other control characters are dropped */
    check_text("a\0b\x07"
               "c\x08"
               "d\x7f",
               8, 80, "abcd", 4);
    /* invalid UTF-8: every bad byte becomes '?'; valid sequences stay */
    check_text("a\xff"
               "b",
               3, 80, "a?b", 3);
    check_text("caf\xc3\xa9", 5, 80, "caf\xc3\xa9", 4);
    check_text("\xe2\x82", 2, 80, "??", 2);           /* truncated */
    check_text("\xc0\xaf", 2, 80, "??", 2);           /* overlong */
    check_text("\xed\xa0\x80", 3, 80, "???", 3);      /* surrogate */
    check_text("\xf4\x90\x80\x80", 4, 80, "????", 4); /* beyond U+10FFFF */
    check_text("x\xc2\x9b"
               "2Jy",
               6, 80, "x2Jy", 4); /* a C1 control is dropped */
    /* a carriage return overwrote the text before it; a final one does not */
    check_text("10%\r20%", 7, 80, "20%", 3);
    check_text("line\r", 5, 80, "line", 4);
}

/* Text is cut to the width in columns, wide characters counting two. */
static void test_text_width(void **state)
{
    check_text("abcdef", 6, 3, "abc", 3);
    check_text("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9, 5, "\xe6\x97\xa5\xe6\x9c\xac", 4);
    check_text("a\tb", 3, 4, "a   ", 4);
    check_text("\x1b[31mabc\x1b[0m", 12, 2, "ab", 2);
    check_text("abc", 3, 0, "", 0);
}

/* Rows and the status row have bob's layout. */
static void test_rows(void **state)
{
    struct buf b = {0};
    row_slot_text(&b, 3, 2, 6, "12.3s", "zlib", "configure");
    assert_string_equal(b.p, "  [ 3: 12.3s ] zlib (configure)");
    b.len = 0;
    row_slot_text(&b, 3, 2, 6, NULL, NULL, NULL);
    assert_string_equal(b.p, "  [ 3:  idle ]");
    b.len = 0;
    row_slot_text(&b, 12, 2, 8, "1m 2s", "bc", NULL);
    assert_string_equal(b.p, "  [12:   1m 2s ] bc");
    b.len = 0;
    row_status_text(&b, "Building", 12, 40, "1m 3s", NULL, "press 'v' to toggle panel view", 99);
    assert_string_equal(b.p, "    Building [========>                     ] 12/40 1m 3s  "
                             "(press 'v' to toggle panel view)");
    b.len = 0;
    row_status_text(&b, "Building", 0, 40, "0.1s", NULL, NULL, 99);
    assert_string_equal(b.p, "    Building [                              ] 0/40 0.1s");
    b.len = 0;
    row_status_text(&b, "Building", 40, 40, "5.0s", NULL, NULL, 99);
    assert_string_equal(b.p, "    Building [==============================] 40/40 5.0s");
    /* narrow: the bar keeps 10 columns and the note overflows (cut by the caller) */
    b.len = 0;
    row_status_text(&b, "Building", 5, 10, "1.0s", NULL, "stopping", 40);
    assert_string_equal(b.p, "    Building [====>     ] 5/10 1.0s  (stopping)");
    /* very narrow: down to one column of bar */
    b.len = 0;
    row_status_text(&b, "Building", 5, 10, "1.0s", NULL, NULL, 10);
    assert_string_equal(b.p, "    Building [ ] 5/10 1.0s");
    /* the counts: only those that are not zero, then the ETA */
    b.len = 0;
    row_counts_text(&b, 10, 1, 0, 5, 2, "3m 2s");
    assert_string_equal(b.p, "10 ok, 1 failed, 5 up to date, 2 running, ETA 3m 2s");
    b.len = 0;
    row_counts_text(&b, 0, 0, 3, 0, 0, NULL);
    assert_string_equal(b.p, "3 skipped");
    b.len = 0;
    row_counts_text(&b, 0, 0, 0, 0, 0, NULL);
    assert_true(b.len == 0);
    b.len = 0;
    row_status_text(&b, "Building", 12, 40, "1m 3s", "10 ok, 2 running, ETA 20s", "stopping", 99);
    assert_string_equal(b.p, "    Building [========>                     ] 12/40 1m 3s  10 ok, "
                             "2 running, ETA 20s  (stopping)");
    buf_free(&b);
}

/* The view: the selected panel has a double border and scrolls back through its ring. */
static void test_view_select_scroll(void **state)
{
    struct capture c1, c2;
    struct err e;
    struct view_slot slots[2] = {{.id = 1, .job = "alpha", .start = 0},
                                 {.id = 2, .job = "beta", .start = 0}};
    struct buf b = {0}, status = {0};
    (void)state;
    assert_int_equal(capture_open(&c1, NULL, NULL, false, &e), 0);
    assert_int_equal(capture_open(&c2, NULL, NULL, false, &e), 0);
    for (int i = 0; i < 30; i++) {
        char line[32];
        snprintf(line, sizeof(line), "alpha line %d\n", i);
        capture_add(&c1, line, strlen(line));
        snprintf(line, sizeof(line), "beta line %d\n", i);
        capture_add(&c2, line, strlen(line));
    }
    slots[0].out = &c1;
    slots[1].out = &c2;
    buf_adds(&status, "status");
    /* 100 columns: two panels side by side, 8 lines each of 6 body lines. */
    view_draw(&b, slots, 2, 100, 9, &status, 1000, 1, 0);
    assert_non_null(strstr(b.p, "+- [1] alpha"));
    assert_non_null(strstr(b.p, "+= [2] beta"));
    assert_non_null(strstr(b.p, "beta line 29"));
    assert_null(strstr(b.p, "beta line 20"));
    b.len = 0;
    view_draw(&b, slots, 2, 100, 9, &status, 1000, 1, 10);
    assert_non_null(strstr(b.p, "+= [2] beta 1.0s, 10 lines back"));
    assert_non_null(strstr(b.p, "beta line 19"));
    assert_null(strstr(b.p, "beta line 29"));
    assert_non_null(strstr(b.p, "alpha line 29")); /* the other panel does not move */
    /* Never past the oldest line of the ring. */
    b.len = 0;
    view_draw(&b, slots, 2, 100, 9, &status, 1000, 1, 1000);
    assert_non_null(strstr(b.p, "beta line 0"));
    assert_null(strstr(b.p, "1000 lines back"));
    buf_free(&b);
    buf_free(&status);
    assert_int_equal(capture_close(&c1, &e), 0);
    assert_int_equal(capture_close(&c2, &e), 0);
}

/* A pipe whose read end does not block. */
static void make_pipe(int fds[2])
{
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
}

/* Everything written to the pipe so far. */
static char *drain(int fd)
{
    struct buf b = {0};
    char tmp[4096];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof(tmp))) > 0)
        buf_add(&b, tmp, (size_t)n);
    return b.p ? b.p : xstrdup("");
}

/* Frees the display, runs the loop until its handles are closed, closes the loop. */
static void finish(uv_loop_t *loop, struct display *p)
{
    display_free(p);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* Counts loop passes (a check handle runs once after each wait). */
static void count_pass(uv_check_t *h)
{
    (*(int *)h->data)++;
}

/* Ends run_for. */
static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop for ms; returns the number of loop passes (wakeups). */
static int run_for(uv_loop_t *loop, unsigned ms)
{
    int passes = 0;
    uv_check_t check;
    uv_timer_t t;
    uv_check_init(loop, &check);
    check.data = &passes;
    uv_check_start(&check, count_pass);
    uv_unref((uv_handle_t *)&check);
    uv_timer_init(loop, &t);
    uv_timer_start(&t, stop_loop, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&check, NULL);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return passes;
}

/* Number of occurrences of needle in s. */
static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *q = s; (q = strstr(q, needle)) != NULL; q += strlen(needle))
        n++;
    return n;
}

/* Appends a string to a capture. */
static void feed(struct capture *c, const char *s)
{
    capture_add(c, s, strlen(s));
}

/* Plain mode: exact lines for a scripted build, no escape byte, no handle. */
static void test_plain(void **state)
{
    uv_loop_t loop;
    int fds[2];
    uv_loop_init(&loop);
    make_pipe(fds);
    struct display_opts o = {
        .loop = &loop, .fd = fds[1], .tty = false, .key_fd = -1, .nslots = 3, .title = "Building"};
    struct display *p = display_new(&o);
    display_set_total(p, 40);
    display_slot_start(p, 0, 3, "zlib");
    display_slot_stage(p, 0, "configure");
    assert_false(display_tick_active(p));
    display_finished(p, true, "zlib", "12.3s");
    display_slot_idle(p, 0);
    display_slot_start(p, 1, 4, "bc");
    display_slot_stage(p, 1, "build");
    display_finished(p, false, "bc", "build, 3.1s");
    display_slot_idle(p, 1);
    display_skipped(p, "x", "depends on bc");
    display_message(p, "Warning: \x1b[31mhot\x1b[0m\nsecond line\n");
    log_warn("disk %s", "low");
    display_set_note(p, "stopping, ^C again to stop now");
    display_set_note(p, "stopping, ^C again to stop now"); /* once */
    display_slot_start(p, 2, 5, "evil\x1b[2Jname\a");
    display_toggle_view(p); /* nothing in plain mode */
    display_finished(p, true, "evil", NULL);
    assert_false(display_tick_active(p));
    /* No handle: the loop has nothing to do. */
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    char *out = drain(fds[0]);
    assert_string_equal(out, "[ 0/40] Building zlib\n"
                             "[ 1/40]    Built zlib (12.3s)\n"
                             "[ 1/40] Building bc\n"
                             "[ 2/40]   Failed bc (build, 3.1s)\n"
                             "[ 3/40]  Skipped x (depends on bc)\n"
                             "Warning: hot\n"
                             "second line\n"
                             "Warning: disk low\n"
                             "Stopping, ^C again to stop now\n"
                             "[ 3/40] Building evilname\n"
                             "[ 4/40]    Built evil\n");
    assert_null(strchr(out, '\x1b'));
    free(out);
    finish(&loop, p);
    out = drain(fds[0]);
    assert_string_equal(out, ""); /* free writes nothing in plain mode */
    free(out);
    close(fds[0]);
    close(fds[1]);
}

/* Terminal mode into a pipe (80x24): frames, finished lines above, redraw only on change. */
static void test_tty_frames(void **state)
{
    uv_loop_t loop;
    int fds[2];
    unsigned ids[3] = {1, 2, 3};
    setenv("NO_COLOR", "1", 1); /* the frames as they are; test_tty_colour has the colours */
    uv_loop_init(&loop);
    make_pipe(fds);
    struct display_opts o = {.loop = &loop,
                             .fd = fds[1],
                             .tty = true,
                             .key_fd = -1,
                             .nslots = 3,
                             .ids = ids,
                             .title = "Building"};
    struct display *p = display_new(&o);
    display_set_total(p, 2);
    assert_false(display_tick_active(p));
    run_for(&loop, 1);
    char *out = drain(fds[0]);
    assert_non_null(strstr(out, "\x1b[?25l"));
    assert_non_null(strstr(out, "  [ 1:  idle ]\x1b[K\n  [ 2:  idle ]\x1b[K\n  [ 3:  idle ]\x1b[K\n"
                                "    Building ["));
    assert_null(strstr(out, "press 'v'")); /* no keyboard, no hint */
    free(out);

    /* Nothing changed: nothing is drawn. */
    run_for(&loop, 1);
    out = drain(fds[0]);
    assert_string_equal(out, "");
    free(out);

    display_slot_start(p, 0, 1, "zlib");
    display_slot_stage(p, 0, "configure");
    assert_true(display_tick_active(p));
    run_for(&loop, 1);
    out = drain(fds[0]);
    assert_true(str_startswith(out, "\r\x1b[3A")); /* back to the first row */
    assert_non_null(strstr(out, "  [ 1:  0.0s ] zlib (configure)\x1b[K\n"));
    free(out);

    /* A long job name is cut to 79 columns: rows never wrap. */
    char longjob[201];
    memset(longjob, 'j', 200);
    longjob[200] = '\0';
    display_slot_start(p, 1, 2, longjob);
    run_for(&loop, 1);
    out = drain(fds[0]);
    char want[128];
    snprintf(want, sizeof(want), "  [ 2:  0.0s ] %.*s\x1b[K\n", 79 - 15, longjob);
    assert_non_null(strstr(out, want));
    free(out);

    /* Finished lines and warnings scroll above the region. */
    display_finished(p, true, "zlib", "1m 2s");
    display_slot_idle(p, 0);
    log_warn("disk %s", "low");
    display_set_note(p, "stopping, ^C again to stop now");
    assert_true(display_tick_active(p));
    display_finished(p, false, longjob, "build, 3.1s");
    display_slot_idle(p, 1);
    assert_false(display_tick_active(p));
    run_for(&loop, 1);
    out = drain(fds[0]);
    assert_true(str_startswith(out, "\r\x1b[3A\x1b[J       Built zlib (1m 2s)\n"
                                    "Warning: disk low\n      Failed jjj"));
    assert_non_null(strstr(out, "\n  [ 1:  idle ]\x1b[K\n"));
    assert_non_null(strstr(out, "] 2/2 "));
    /* 80 columns: the note is worth more than the counts, which give way */
    assert_non_null(strstr(out, "(stopping, ^C again to stop now)\x1b[K\x1b[J"));
    free(out);

    /* The end: the region is erased and the cursor shown again. */
    display_free(p);
    out = drain(fds[0]);
    assert_string_equal(out, "\r\x1b[3A\x1b[J\x1b[?25h");
    free(out);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(fds[0]);
    close(fds[1]);
}

/* On a terminal: successes green, failures red, skips dim, the counts; none with NO_COLOR. */
static void test_tty_colour(void **state)
{
    for (int nc = 0; nc < 2; nc++) {
        uv_loop_t loop;
        int fds[2];
        unsigned ids[1] = {1};
        char *out;
        struct display_opts o = {.loop = &loop,
                                 .fd = -1,
                                 .tty = true,
                                 .key_fd = -1,
                                 .nslots = 1,
                                 .ids = ids,
                                 .title = "Building"};
        struct display *p;
        if (nc)
            setenv("NO_COLOR", "1", 1);
        else
            unsetenv("NO_COLOR");
        uv_loop_init(&loop);
        make_pipe(fds);
        o.fd = fds[1];
        p = display_new(&o);
        display_set_total(p, 3);
        display_set_uptodate(p, 4);
        display_finished(p, true, "zlib", "1s");
        display_finished(p, false, "bc", "build, 2s");
        display_skipped(p, "app", "depends on bc");
        run_for(&loop, 1);
        out = drain(fds[0]);
        if (nc) {
            assert_null(strstr(out, "\x1b[3"));
            assert_null(strstr(out, "\x1b[1;3"));
            assert_null(strstr(out, "\x1b[2m"));
            assert_non_null(strstr(out, "       Built zlib (1s)\n"));
        } else {
            assert_non_null(strstr(out, "\x1b[32m       Built\x1b[0m zlib (1s)\n"));
            assert_non_null(strstr(out, "\x1b[1;31m      Failed\x1b[0m bc (build, 2s)\n"));
            assert_non_null(strstr(out, "\x1b[2m     Skipped\x1b[0m app (depends on bc)\n"));
        }
        assert_non_null(strstr(out, "] 3/3 "));
        assert_non_null(strstr(out, "1 ok, 1 failed, 1 skipped, 4 up to date"));
        free(out);
        display_free(p);
        free(drain(fds[0]));
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
        close(fds[0]);
        close(fds[1]);
    }
    unsetenv("NO_COLOR");
}

/* The ETA: shown when the caller can tell it, not when it cannot. */
static double eta_fixed(void *data, double now)
{
    (void)now;
    return *(double *)data;
}

static void test_tty_eta(void **state)
{
    uv_loop_t loop;
    int fds[2];
    unsigned ids[1] = {1};
    double left = 125000;
    char *out;
    struct display_opts o = {.loop = &loop,
                             .fd = -1,
                             .tty = true,
                             .key_fd = -1,
                             .nslots = 1,
                             .ids = ids,
                             .title = "Building"};
    struct display *p;
    setenv("NO_COLOR", "1", 1);
    uv_loop_init(&loop);
    make_pipe(fds);
    o.fd = fds[1];
    p = display_new(&o);
    display_set_total(p, 3);
    display_set_eta(p, eta_fixed, &left);
    display_slot_start(p, 0, 1, "zlib");
    run_for(&loop, 1);
    out = drain(fds[0]);
    assert_non_null(strstr(out, "1 running, ETA 2m 5s"));
    free(out);
    left = -1; /* no history: no ETA */
    display_slot_stage(p, 0, "build");
    run_for(&loop, 1);
    out = drain(fds[0]);
    assert_non_null(strstr(out, "1 running"));
    assert_null(strstr(out, "ETA"));
    free(out);
    display_slot_idle(p, 0);
    display_free(p);
    free(drain(fds[0]));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(fds[0]);
    close(fds[1]);
    unsetenv("NO_COLOR");
}

/* The 'v' view: panels with output, idle slots in one line, held lines printed after. */
static void test_tty_view(void **state)
{
    setenv("NO_COLOR", "1", 1);
    uv_loop_t loop;
    int fds[2];
    unsigned ids[3] = {1, 2, 3};
    struct capture c;
    struct err e;
    uv_loop_init(&loop);
    make_pipe(fds);
    assert_int_equal(capture_open(&c, NULL, NULL, false, &e), 0);
    feed(&c, "checking for gcc... \x1b[32mgcc\x1b[0m\n\tindented\nhalf a li");
    struct display_opts o = {
        .loop = &loop, .fd = fds[1], .tty = true, .key_fd = -1, .nslots = 3, .ids = ids};
    struct display *p = display_new(&o);
    display_set_total(p, 3);
    display_slot_start(p, 1, 2, "zlib");
    display_slot_stage(p, 1, "configure");
    display_slot_output(p, 1, &c);
    run_for(&loop, 1);
    free(drain(fds[0]));

    display_toggle_view(p);
    run_for(&loop, 1);
    char *out = drain(fds[0]);
    assert_true(str_startswith(out, "\x1b[?1049h\x1b[H+- [2] zlib (configure) 0.0s ---"));
    assert_non_null(strstr(out, "\n|checking for gcc... gcc "));
    assert_non_null(strstr(out, "\n|        indented "));
    assert_non_null(strstr(out, "\n|half a li "));
    assert_non_null(strstr(out, "\n[1,3] idle\x1b[K\n    Building ["));
    assert_int_equal(count(out, "\n"), 23); /* 24 rows; none after the last: no scrolling */
    free(out);

    /* A finished line is held while the view is up. */
    display_finished(p, true, "other", "1.0s");
    run_for(&loop, 1);
    out = drain(fds[0]);
    assert_int_equal(count(out, "\x1b[H"), 1);
    assert_null(strstr(out, "Built other"));
    free(out);

    /* Output arrives: one redraw after the rate limit, however many touches. */
    feed(&c, "ne\nnew line\n");
    for (int i = 0; i < 50; i++)
        display_slot_touch(p, 1);
    run_for(&loop, 300);
    out = drain(fds[0]);
    assert_int_equal(count(out, "\x1b[H"), 1);
    assert_non_null(strstr(out, "\n|half a line "));
    assert_non_null(strstr(out, "\n|new line "));
    free(out);

    /* Back: the main screen, then the held line above the region. */
    display_toggle_view(p);
    run_for(&loop, 1);
    out = drain(fds[0]);
    assert_true(str_startswith(out, "\x1b[?1049l\r\x1b[3A\x1b[J       Built other (1.0s)\n"));
    free(out);

    /* Freed while in the view: the main screen comes back first. */
    display_toggle_view(p);
    run_for(&loop, 1);
    free(drain(fds[0]));
    display_free(p);
    out = drain(fds[0]);
    assert_string_equal(out, "\x1b[?1049l\r\x1b[3A\x1b[J\x1b[?25h");
    free(out);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(capture_close(&c, &e), 0);
    close(fds[0]);
    close(fds[1]);
}

/* More slots than the 80x24 terminal has rows: the region and the view say what is left out. */
static void test_tty_many(void **state)
{
    uv_loop_t loop;
    int fds[2];
    uv_loop_init(&loop);
    make_pipe(fds);
    struct display_opts o = {.loop = &loop, .fd = fds[1], .tty = true, .key_fd = -1, .nslots = 30};
    struct display *p = display_new(&o);
    for (size_t i = 0; i < 12; i++) {
        char job[16];
        snprintf(job, sizeof(job), "job%zu", i);
        display_slot_start(p, i, (unsigned)i, job);
    }
    run_for(&loop, 1);
    char *out = drain(fds[0]);
    assert_non_null(strstr(out, "  [21:  idle ]\x1b[K\n  (8 more)\x1b[K\n    Building ["));
    assert_int_equal(count(out, "\n"), 23); /* 24 rows: never more than the terminal */
    free(out);

    display_toggle_view(p);
    run_for(&loop, 1);
    out = drain(fds[0]);
    assert_int_equal(count(out, "\n"), 23);
    assert_int_equal(count(out, "\n+- ["), 6); /* 7 panels of 3 rows, the first at the top */
    assert_non_null(strstr(out, "\n[12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29] idle  "
                                "(5 more running)\x1b[K\n    Building ["));
    free(out);
    finish(&loop, p);
    close(fds[0]);
    close(fds[1]);
}

/*
 * Wakeups: none while no slot is busy (the loop wakes only for the test's
 * own timer), one a second while one is; the display never keeps the loop alive.
 */
static void test_wakeups(void **state)
{
    uv_loop_t loop;
    int fds[2];
    uv_loop_init(&loop);
    make_pipe(fds);
    struct display_opts o = {.loop = &loop, .fd = fds[1], .tty = true, .key_fd = -1, .nslots = 2};
    struct display *p = display_new(&o);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns at once: nothing keeps it */
    run_for(&loop, 1);                                  /* the first frame */
    free(drain(fds[0]));

    int idle = run_for(&loop, 1500);
    char *out = drain(fds[0]);
    assert_string_equal(out, ""); /* no redraw */
    free(out);

    display_slot_start(p, 0, 0, "zlib");
    int busy = run_for(&loop, 2500);
    out = drain(fds[0]);
    int frames = count(out, "\x1b[K\x1b[J"); /* the end of a frame */
    free(out);
    print_message("loop passes: %d in 1.5 s idle, %d in 2.5 s busy (%d frames)\n", idle, busy,
                  frames);
    assert_in_range(idle, 1, 2);   /* the test's own timer */
    assert_in_range(busy, 3, 5);   /* two ticks, the test's timer */
    assert_in_range(frames, 3, 3); /* the start, two ticks */

    display_slot_idle(p, 0);
    assert_false(display_tick_active(p));
    finish(&loop, p);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elapsed),
        cmocka_unit_test(test_text_sanitize),
        cmocka_unit_test(test_text_width),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_tty_frames),
        cmocka_unit_test(test_tty_colour),
        cmocka_unit_test(test_tty_eta),
        cmocka_unit_test(test_view_select_scroll),
        cmocka_unit_test(test_tty_view),
        cmocka_unit_test(test_tty_many),
        cmocka_unit_test(test_wakeups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
