/*
 * Unit tests of output capture (src/loop/capture.c): the ring of recent
 * lines (partial lines, wrapping, width, runaway lines), the log file
 * (header, every byte, notes on lines of their own, appending, refusals,
 * a failed write reported at close).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "loop/capture.h"
#include "util/fault.h"

/* The whole content of path (malloc'd, NUL-terminated); *len its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct buf b = {0};
    char chunk[65536];
    size_t n;
    assert_non_null(f);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    if (len)
        *len = b.len;
    return b.p ? b.p : xstrdup("");
}

static void add_str(struct capture *c, const char *s)
{
    capture_add(c, s, strlen(s));
}

/* Lines split across calls are joined; the partial line is line 0 until it ends. */
static void test_ring_partial_lines(void **state)
{
    struct capture c;
    struct err e;
    (void)state;
    assert_int_equal(capture_open(&c, NULL, NULL, false, &e), 0);
    assert_null(capture_line(&c, 0));
    add_str(&c, "one\ntw");
    assert_string_equal(capture_line(&c, 0), "tw");
    assert_string_equal(capture_line(&c, 1), "one");
    assert_null(capture_line(&c, 2));
    add_str(&c, "o");
    add_str(&c, "\nthr");
    assert_string_equal(capture_line(&c, 0), "thr");
    assert_string_equal(capture_line(&c, 1), "two");
    assert_string_equal(capture_line(&c, 2), "one");
    add_str(&c, "ee\n");
    assert_string_equal(capture_line(&c, 0), "three");
    assert_string_equal(capture_line(&c, 1), "two");
    assert_string_equal(capture_line(&c, 2), "one");
    assert_null(capture_line(&c, 3));
    add_str(&c, "\n\nlast\n"); /* empty lines are lines */
    assert_string_equal(capture_line(&c, 0), "last");
    assert_string_equal(capture_line(&c, 1), "");
    assert_string_equal(capture_line(&c, 2), "");
    assert_string_equal(capture_line(&c, 3), "three");
    assert_int_equal(c.bytes, strlen("one\ntwo\nthree\n\n\nlast\n"));
    assert_int_equal(capture_close(&c, &e), 0);
}

/* The ring keeps the last CAPTURE_RING_LINES lines, newest first. */
static void test_ring_wraps(void **state)
{
    struct capture c;
    struct err e;
    char line[32];
    (void)state;
    assert_int_equal(capture_open(&c, NULL, NULL, false, &e), 0);
    for (int i = 0; i < CAPTURE_RING_LINES + 50; i++) {
        snprintf(line, sizeof(line), "line %d\n", i);
        add_str(&c, line);
    }
    for (int i = 0; i < CAPTURE_RING_LINES; i++) {
        snprintf(line, sizeof(line), "line %d", CAPTURE_RING_LINES + 49 - i);
        assert_string_equal(capture_line(&c, (size_t)i), line);
    }
    assert_null(capture_line(&c, CAPTURE_RING_LINES));
    /* With a partial line, it is line 0 and the oldest full line drops out of reach. */
    add_str(&c, "part");
    assert_string_equal(capture_line(&c, 0), "part");
    snprintf(line, sizeof(line), "line %d", CAPTURE_RING_LINES + 49);
    assert_string_equal(capture_line(&c, 1), line);
    assert_non_null(capture_line(&c, CAPTURE_RING_LINES));
    assert_null(capture_line(&c, CAPTURE_RING_LINES + 1));
    assert_int_equal(capture_close(&c, &e), 0);
}

/* Fills p with n bytes of a pattern that shows where a cut happened. */
static void pattern(char *p, size_t n, size_t from)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (from + i) % 26);
}

/* A long line keeps its last CAPTURE_RING_WIDTH bytes in the ring, partial or finished. */
static void test_ring_width(void **state)
{
    struct capture c;
    struct err e;
    char *data = xmalloc(1000), want[CAPTURE_RING_WIDTH + 1];
    (void)state;
    pattern(data, 1000, 0);
    assert_int_equal(capture_open(&c, NULL, NULL, false, &e), 0);
    capture_add(&c, data, 600);
    memcpy(want, data + 600 - CAPTURE_RING_WIDTH, CAPTURE_RING_WIDTH);
    want[CAPTURE_RING_WIDTH] = '\0';
    assert_string_equal(capture_line(&c, 0), want); /* partial: its end */
    capture_add(&c, data + 600, 400);
    memcpy(want, data + 1000 - CAPTURE_RING_WIDTH, CAPTURE_RING_WIDTH);
    assert_string_equal(capture_line(&c, 0), want); /* it moves on with the line */
    add_str(&c, "\nnext\n");
    assert_string_equal(capture_line(&c, 0), "next");
    assert_string_equal(capture_line(&c, 1), want);
    assert_int_equal(strlen(capture_line(&c, 1)), CAPTURE_RING_WIDTH);
    assert_int_equal(c.bytes, 1000 + 6);
    assert_int_equal(capture_close(&c, &e), 0);
    free(data);
}

/*
 * A runaway line (no newline for more than CAPTURE_LINE_MAX bytes) stays
 * one line, shown by its end, whatever the pieces it comes in. The log
 * still gets every byte, in order.
 */
static void test_runaway_line(void **state)
{
    struct capture c;
    struct err e;
    size_t total = 3 * CAPTURE_LINE_MAX + 10, len;
    char *data = xmalloc(total), *path = harness_path("log"), *log;
    char want[CAPTURE_RING_WIDTH + 1];
    (void)state;
    pattern(data, total, 0);
    memcpy(want, data + total - CAPTURE_RING_WIDTH, CAPTURE_RING_WIDTH);
    want[CAPTURE_RING_WIDTH] = '\0';
    assert_int_equal(capture_open(&c, path, NULL, false, &e), 0);
    /* In uneven pieces, one larger than the line buffer. */
    capture_add(&c, data, 1000);
    capture_add(&c, data + 1000, 2 * CAPTURE_LINE_MAX);
    capture_add(&c, data + 1000 + 2 * CAPTURE_LINE_MAX, total - 1000 - 2 * CAPTURE_LINE_MAX);
    assert_string_equal(capture_line(&c, 0), want);
    add_str(&c, "\n");
    assert_string_equal(capture_line(&c, 0), want);
    assert_null(capture_line(&c, 1));
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, &len);
    assert_int_equal(len, total + 1);
    assert_memory_equal(log, data, total);
    assert_int_equal(log[total], '\n');
    free(log);
    free(data);
    free(path);
}

/*
 * A carriage return starts its line over, as on a terminal: a progress bar
 * that redraws one line shows its latest state, never a frozen first one;
 * CRLF ends a line as it was, also when the CR and the LF come apart.
 */
static void test_carriage_return(void **state)
{
    struct capture c;
    struct err e;
    char *path = harness_path("log"), *log;
    size_t len;
    (void)state;
    assert_int_equal(capture_open(&c, path, NULL, false, &e), 0);
    add_str(&c, "downloading   0%");
    assert_string_equal(capture_line(&c, 0), "downloading   0%");
    add_str(&c, "\rdownloading  50%\rdownloading  75%");
    assert_string_equal(capture_line(&c, 0), "downloading  75%");
    add_str(&c, "\r");
    assert_string_equal(capture_line(&c, 0), "downloading  75%"); /* maybe a CRLF */
    add_str(&c, "downloading 100%\n");
    assert_string_equal(capture_line(&c, 0), "downloading 100%");
    add_str(&c, "dos line\r");
    add_str(&c, "\nnext\r\n");
    assert_string_equal(capture_line(&c, 0), "next");
    assert_string_equal(capture_line(&c, 1), "dos line");
    assert_string_equal(capture_line(&c, 2), "downloading 100%");
    assert_null(capture_line(&c, 3));
    /* 600 redraws of a long progress line: the latest, cut to its end. */
    for (int i = 0; i < 600; i++) {
        char line[64];
        snprintf(line, sizeof(line), "\r[%3d/600] building", i + 1);
        add_str(&c, line);
    }
    assert_string_equal(capture_line(&c, 0), "[600/600] building");
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, &len); /* the log has every byte, the CRs too */
    assert_non_null(memmem(log, len, "downloading   0%\rdownloading  50%", 33));
    free(log);
    free(path);
}

/* The log: the header line, then every byte; a note starts a line of its own. */
static void test_log_contents(void **state)
{
    struct capture c;
    struct err e;
    char *path = harness_path("build.log"), *log;
    struct stat st;
    (void)state;
    assert_int_equal(capture_open(&c, path, "=> make all", false, &e), 0);
    add_str(&c, "compiling\nlinking");
    capture_note(&c, "=> %s (%d)", "failed", 2); /* after a partial line */
    add_str(&c, "after\n");
    capture_note(&c, "=> done"); /* after a full line: no blank line */
    assert_string_equal(capture_line(&c, 0), "=> done");
    assert_string_equal(capture_line(&c, 1), "after");
    assert_string_equal(capture_line(&c, 2), "=> failed (2)");
    assert_string_equal(capture_line(&c, 3), "linking");
    assert_string_equal(capture_line(&c, 5), "=> make all");
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, NULL);
    assert_string_equal(log, "=> make all\ncompiling\nlinking\n=> failed (2)\nafter\n=> done\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777 & ~0644, 0);
    free(log);
    free(path);
}

/* A note into an empty capture adds no blank line before it. */
static void test_note_first(void **state)
{
    struct capture c;
    struct err e;
    char *path = harness_path("log"), *log;
    (void)state;
    assert_int_equal(capture_open(&c, path, NULL, false, &e), 0);
    capture_note(&c, "=> cannot start");
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, NULL);
    assert_string_equal(log, "=> cannot start\n");
    free(log);
    free(path);
}

/*
 * A lazy log: nothing on disk (not even its directory) while only the
 * header came; the directory and the log, header first, at the first
 * byte of output or a note; a lazy log that cannot be made fails the
 * capture at close, naming it.
 */
static void test_lazy(void **state)
{
    struct capture c;
    struct err e;
    struct stat st;
    char *dir = harness_path("job"), *path = harness_path("job/build.log"), *log;
    char *bad = harness_path("file"), *badlog = harness_path("file/x/build.log"), *baddir;
    FILE *f;
    (void)state;
    capture_open_lazy(&c, dir, path, "=> true");
    assert_string_equal(capture_line(&c, 0), "=> true");
    assert_false(capture_on_disk(&c));
    assert_int_equal(capture_close(&c, &e), 0);
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(errno, ENOENT);

    capture_open_lazy(&c, dir, path, "=> make");
    add_str(&c, "out\n");
    assert_true(capture_on_disk(&c));
    capture_note(&c, "=> exit 2");
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, NULL);
    assert_string_equal(log, "=> make\nout\n=> exit 2\n");
    free(log);
    assert_int_equal(unlink(path), 0);

    capture_open_lazy(&c, dir, path, "=> false");
    capture_note(&c, "=> exit 1"); /* a silent failure still has its log */
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, NULL);
    assert_string_equal(log, "=> false\n=> exit 1\n");
    free(log);

    f = fopen(bad, "w"); /* a file where the directory would go */
    assert_non_null(f);
    fclose(f);
    baddir = harness_path("file/x");
    capture_open_lazy(&c, baddir, badlog, "=> x");
    add_str(&c, "out\n");
    err_clear(&e);
    assert_int_equal(capture_close(&c, &e), -1);
    assert_non_null(strstr(e.msg, "cannot create directory"));
    free(baddir);
    free(bad);
    free(badlog);
    free(dir);
    free(path);
}

/* An existing log is appended to, not truncated. */
static void test_log_appends(void **state)
{
    struct capture c;
    struct err e;
    char *path = harness_path("log"), *log;
    FILE *f;
    (void)state;
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("earlier run\n", f);
    fclose(f);
    assert_int_equal(capture_open(&c, path, "=> again", false, &e), 0);
    add_str(&c, "out\n");
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, NULL);
    assert_string_equal(log, "earlier run\n=> again\nout\n");
    free(log);
    free(path);
}

/* A log that cannot be opened is an error naming it; a symlink is refused, its target untouched. */
static void test_open_refused(void **state)
{
    struct capture c;
    struct err e;
    char *missing = harness_path("no/such/dir/log");
    char *target = harness_path("target"), *link = harness_path("link"), *content;
    FILE *f;
    (void)state;
    err_clear(&e);
    assert_int_equal(capture_open(&c, missing, NULL, false, &e), -ENOENT);
    assert_non_null(strstr(e.msg, "cannot open log"));
    assert_non_null(strstr(e.msg, missing));
    assert_null(c.partial);
    assert_null(c.path);

    f = fopen(target, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    assert_int_equal(symlink(target, link), 0);
    err_clear(&e);
    assert_int_equal(capture_open(&c, link, "=> header", false, &e), -ELOOP);
    assert_non_null(strstr(e.msg, link));
    content = slurp(target, NULL);
    assert_string_equal(content, "precious\n");
    free(content);
    free(missing);
    free(target);
    free(link);
}

/* A failed write marks the capture failed: the rest is dropped from the log, close reports it. */
static void test_write_failure(void **state)
{
    struct capture c;
    struct err e;
    char *path = harness_path("log"), *log;
    (void)state;
    assert_int_equal(setenv("BOB_FAULT", "logwrite:2", 1), 0);
    fault_init();
    assert_int_equal(capture_open(&c, path, NULL, false, &e), 0);
    add_str(&c, "first\n");  /* write 1 */
    add_str(&c, "second\n"); /* write 2: EIO */
    assert_true(c.failed);
    add_str(&c, "third\n");                            /* dropped from the log */
    assert_string_equal(capture_line(&c, 0), "third"); /* the ring goes on */
    err_clear(&e);
    assert_int_equal(capture_close(&c, &e), -1);
    assert_non_null(strstr(e.msg, "cannot write log"));
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, strerror(EIO)));
    log = slurp(path, NULL);
    assert_string_equal(log, "first\n");
    unsetenv("BOB_FAULT");
    fault_init();
    free(log);
    free(path);
}

/* Clearing the ring forgets the lines, the partial one too; the log is untouched. */
static void test_clear_ring(void **state)
{
    struct capture c;
    struct err e;
    char *path = harness_path("log"), *log;
    (void)state;
    assert_int_equal(capture_open(&c, path, NULL, false, &e), 0);
    add_str(&c, "a\nb\npart");
    capture_clear_ring(&c);
    assert_null(capture_line(&c, 0));
    add_str(&c, "new\n");
    assert_string_equal(capture_line(&c, 0), "new");
    assert_null(capture_line(&c, 1));
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, NULL);
    assert_string_equal(log, "a\nb\npartnew\n");
    free(log);
    free(path);
}

/* Binary data and NUL bytes reach the log unchanged. */
static void test_binary_log(void **state)
{
    struct capture c;
    struct err e;
    char *path = harness_path("log"), *log, data[256];
    size_t len;
    (void)state;
    for (int i = 0; i < 256; i++)
        data[i] = (char)i;
    assert_int_equal(capture_open(&c, path, NULL, false, &e), 0);
    capture_add(&c, data, sizeof(data));
    capture_add(&c, data, 0);
    assert_int_equal(c.bytes, 256);
    assert_int_equal(c.last, (char)255);
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, &len);
    assert_int_equal(len, 256);
    assert_memory_equal(log, data, 256);
    free(log);
    free(path);
}

/* ---- capture_splice: the log and the ring exactly as with capture_add ---- */

/* Every line of the ring of a and of b (and the partial line) are the same. */
static void assert_same_ring(const struct capture *a, const struct capture *b)
{
    for (size_t i = 0; i <= CAPTURE_RING_LINES + 1; i++) {
        const char *x = capture_line(a, i), *y = capture_line(b, i);
        if (!x || !y) {
            assert_null(x);
            assert_null(y);
            break;
        }
        assert_string_equal(x, y);
    }
}

/*
 * Puts data through a pipe in chunks of `chunk` bytes into an own log, as
 * proc does: capture_splice, or where it will not (a small backlog) a read
 * and capture_add; and into a reference with capture_add of the same
 * chunks, its ring fed line by line. The log gets every byte, and the
 * rings agree whenever looked at (every `look` chunks, and at the end).
 * Returns how many chunks were spliced.
 */
static int splice_looking(const char *data, size_t len, size_t chunk, int look)
{
    struct capture c, ref;
    struct err e;
    char *path = harness_path("splice.log"), *log, *rbuf = xmalloc(len + 1);
    size_t off = 0, loglen;
    int fds[2], calls = 0, spliced = 0;
    assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    assert_true(fcntl(fds[0], F_SETPIPE_SZ, 1024 * 1024) >= 1024 * 1024);
    unlink(path);
    assert_int_equal(capture_open(&c, path, "=> head", CAPTURE_OWN, &e), 0);
    assert_int_equal(capture_open(&ref, NULL, "=> head", 0, &e), 0);
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        long moved;
        assert_int_equal(write(fds[1], data + off, n), (ssize_t)n);
        moved = capture_splice(&c, fds[0], 16 * 1024 * 1024);
        if (moved == -ENOTSUP) {
            assert_true(n < CAPTURE_SPLICE_MIN);
            assert_int_equal(read(fds[0], rbuf, len + 1), (ssize_t)n);
            capture_add(&c, rbuf, n);
        } else {
            assert_int_equal(moved, (long)n);
            spliced++;
        }
        calls++;
        capture_add(&ref, data + off, n);
        if (calls % look == 0) /* else the ring is fed later, from one tail */
            assert_same_ring(&c, &ref);
        off += n;
    }
    assert_same_ring(&c, &ref);
    assert_int_equal(capture_splice(&c, fds[0], 4096), -ENOTSUP); /* nothing there */
    close(fds[1]);
    assert_int_equal(read(fds[0], rbuf, 1), 0); /* the end, as the read path says */
    close(fds[0]);
    capture_note(&c, "=> done");
    capture_note(&ref, "=> done");
    assert_same_ring(&c, &ref);
    assert_int_equal(capture_close(&c, &e), 0);
    assert_int_equal(capture_close(&ref, &e), 0);
    log = slurp(path, &loglen);
    assert_int_equal(loglen, strlen("=> head\n") + len + (len && data[len - 1] != '\n') +
                                 strlen("=> done\n"));
    assert_memory_equal(log, "=> head\n", 8);
    assert_memory_equal(log + 8, data, len);
    free(log);
    free(path);
    free(rbuf);
    return spliced;
}

/* The same, the rings compared after every chunk. */
static int splice_same(const char *data, size_t len, size_t chunk)
{
    return splice_looking(data, len, chunk, 1);
}

/* Builds n bytes of lines of `width` bytes (the last char '\n'), with a CR now and then. */
static char *lines_of(size_t n, size_t width, unsigned seed)
{
    char *d = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t col = i % width;
        seed = seed * 1103515245u + 12345u;
        d[i] = col == width - 1         ? '\n'
               : (seed >> 16) % 97 == 0 ? '\r'
                                        : (char)('a' + (seed >> 20) % 26);
    }
    d[n] = '\0';
    return d;
}

/* Short lines in chunks larger than what is read back: the ring from the tail alone. */
static void test_splice_short_lines(void **state)
{
    char *d = lines_of(600 * 1024, 80, 1);
    (void)state;
    assert_int_equal(splice_same(d, 600 * 1024, 200 * 1024), 3);
    assert_int_equal(splice_same(d, 600 * 1024 - 37, 150 * 1024 + 11), 4); /* ends mid-line */
    assert_int_equal(splice_same(d, 8000, 1000), 0); /* small chunks: read, the ring fed later */
    /* Looked at now and then: what came since is fed from one tail. */
    assert_int_equal(splice_looking(d, 600 * 1024, 8 * 1024, 20), 0);
    assert_int_equal(splice_looking(d, 600 * 1024, 100 * 1024, 3), 6);
    assert_int_equal(splice_looking(d, 5000, 100, 1000), 0); /* only at the end: all of it */
    free(d);
}

/* Long lines (fewer than a ring's lines in the tail): everything read back and fed. */
static void test_splice_long_lines(void **state)
{
    char *d = lines_of(900 * 1024, 3000, 2), *one = lines_of(300 * 1024, 300 * 1024 + 1, 3);
    (void)state;
    splice_same(d, 900 * 1024, 256 * 1024);
    splice_same(one, 300 * 1024, 100 * 1024); /* one line, no newline at all, CRs in it */
    splice_looking(d, 900 * 1024, 10 * 1024, 9);
    free(d);
    free(one);
}

/* Exactly around the line count that decides: 100 lines and 101 in the tail, CRLFs across chunks.
 */
static void test_splice_edges(void **state)
{
    struct buf b = {0};
    char line[800];
    (void)state;
    memset(line, 'x', sizeof(line));
    /* A chunk of 70 KiB: the tail (64 KiB) holds about 93 of these lines. */
    for (int i = 0; i < 101; i++) {
        snprintf(line, sizeof(line), "line %d %0*d\r\n", i, 690, i);
        buf_add(&b, line, strlen(line));
    }
    splice_same(b.p, b.len, b.len);
    splice_same(b.p, b.len, 70 * 1024 + 1); /* a CRLF cut in two */
    splice_same(b.p, b.len, 64 * 1024);
    free(b.p);
    b = (struct buf){0};
    for (int i = 0; i < 3000; i++) { /* 3000 short lines then a long unfinished one */
        snprintf(line, sizeof(line), "%d\n", i);
        buf_add(&b, line, strlen(line));
    }
    memset(line, 'y', sizeof(line));
    for (int i = 0; i < 200; i++)
        buf_add(&b, line, sizeof(line));
    buf_add(&b, "\r", 1);
    splice_same(b.p, b.len, b.len);
    splice_same(b.p, b.len, 66 * 1024);
    free(b.p);
}

/* A lazy log is made at the first byte, header first; nothing at the end of a silent stream. */
static void test_splice_lazy(void **state)
{
    struct capture c;
    struct err e;
    char *dir = harness_path("lz"), *path = harness_path("lz/stage.log"), *log;
    char *big = lines_of(CAPTURE_SPLICE_MIN, 64, 4);
    struct buf want = {0};
    struct stat st;
    int fds[2];
    (void)state;
    assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    assert_true(fcntl(fds[0], F_SETPIPE_SZ, 1024 * 1024) >= 1024 * 1024);
    capture_open_lazy(&c, dir, path, "=> make");
    assert_int_equal(capture_splice(&c, fds[0], 4096), -ENOTSUP); /* nothing yet: no log */
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(write(fds[1], "a\nb", 3), 3); /* a little: read, and added */
    assert_int_equal(capture_splice(&c, fds[0], 4096), -ENOTSUP);
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(write(fds[1], big, CAPTURE_SPLICE_MIN), CAPTURE_SPLICE_MIN);
    /* A backlog: the log is made, its header first, and 64 KiB + 3 go into it. */
    assert_int_equal(capture_splice(&c, fds[0], 16 * 1024 * 1024), CAPTURE_SPLICE_MIN + 3);
    assert_true(capture_on_disk(&c));
    {
        struct capture ref;
        assert_int_equal(capture_open(&ref, NULL, "=> make", 0, &e), 0);
        add_str(&ref, "a\nb");
        capture_add(&ref, big, CAPTURE_SPLICE_MIN);
        assert_same_ring(&c, &ref);
        assert_int_equal(capture_close(&ref, &e), 0);
    }
    close(fds[1]);
    close(fds[0]);
    capture_note(&c, "=> exit 1");
    assert_string_equal(capture_line(&c, 0), "=> exit 1");
    assert_int_equal(capture_close(&c, &e), 0);
    log = slurp(path, NULL);
    buf_add(&want, "=> make\na\nb", 11);
    buf_add(&want, big, CAPTURE_SPLICE_MIN);
    buf_add(&want, "=> exit 1\n", 10);
    assert_string_equal(log, want.p);
    free(want.p);
    free(log);
    free(big);
    free(dir);
    free(path);
}

/* An own log's ring lags it; a write that fails then still shows the lines in their order. */
static void test_own_ring_order(void **state)
{
    struct capture c;
    struct err e;
    char *path = harness_path("own.log");
    (void)state;
    assert_int_equal(capture_open(&c, path, NULL, CAPTURE_OWN, &e), 0);
    add_str(&c, "one\ntwo\n"); /* in the log; the ring reads it back when looked at */
    assert_int_equal(setenv("BOB_FAULT", "logwrite:1", 1), 0);
    fault_init();
    add_str(&c, "three\n"); /* the write fails: fed at once, after what came before */
    unsetenv("BOB_FAULT");
    fault_init();
    assert_true(c.failed);
    assert_string_equal(capture_line(&c, 0), "three");
    assert_string_equal(capture_line(&c, 1), "two");
    assert_string_equal(capture_line(&c, 2), "one");
    err_clear(&e);
    assert_int_equal(capture_close(&c, &e), -1);
    free(path);
}

/* Not an own log (O_APPEND, others may write it), a ring-only capture, a failed one: not spliced.
 */
static void test_splice_refused(void **state)
{
    struct capture c;
    struct err e;
    char *path = harness_path("other.log");
    int fds[2];
    (void)state;
    assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    assert_int_equal(write(fds[1], "x\n", 2), 2);
    assert_int_equal(capture_open(&c, path, NULL, false, &e), 0);
    assert_int_equal(capture_splice(&c, fds[0], 4096), -ENOTSUP);
    assert_int_equal(capture_close(&c, &e), 0);
    assert_int_equal(capture_open(&c, NULL, NULL, true, &e), 0);
    assert_int_equal(capture_splice(&c, fds[0], 4096), -ENOTSUP);
    assert_int_equal(capture_close(&c, &e), 0);
    /* A write error: the capture fails (reported at close) and splices no more. */
    assert_true(fcntl(fds[0], F_SETPIPE_SZ, 1024 * 1024) >= 1024 * 1024);
    {
        char *big = lines_of(CAPTURE_SPLICE_MIN, 64, 5);
        assert_int_equal(write(fds[1], big, CAPTURE_SPLICE_MIN), CAPTURE_SPLICE_MIN);
        free(big);
    }
    unlink(path);
    assert_int_equal(capture_open(&c, path, NULL, true, &e), 0);
    setenv("BOB_FAULT", "logwrite:1", 1);
    fault_init();
    assert_int_equal(capture_splice(&c, fds[0], 4096), -ENOTSUP);
    unsetenv("BOB_FAULT");
    fault_init();
    assert_int_equal(capture_splice(&c, fds[0], 4096), -ENOTSUP);
    err_clear(&e);
    assert_int_equal(capture_close(&c, &e), -1);
    assert_non_null(strstr(e.msg, "cannot write log"));
    close(fds[0]);
    close(fds[1]);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_ring_partial_lines),
        harness_test(test_ring_wraps),
        harness_test(test_ring_width),
        harness_test(test_runaway_line),
        harness_test(test_log_contents),
        harness_test(test_note_first),
        harness_test(test_lazy),
        harness_test(test_log_appends),
        harness_test(test_open_refused),
        harness_test(test_write_failure),
        harness_test(test_clear_ring),
        harness_test(test_binary_log),
        harness_test(test_carriage_return),
        harness_test(test_splice_short_lines),
        harness_test(test_splice_long_lines),
        harness_test(test_splice_edges),
        harness_test(test_splice_lazy),
        harness_test(test_own_ring_order),
        harness_test(test_splice_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
