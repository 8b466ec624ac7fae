/* Output capture into a log file and a ring of recent lines. */
#include "loop/capture.h"
#include "util/fault.h"
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int capture_open(struct capture *c, const char *path, const char *header, struct err *e)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->partial = xmalloc(CAPTURE_LINE_MAX + 1);
    if (path) {
        c->path = xstrdup(path);
        c->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (c->fd < 0) {
            int r = err_sys(e, errno, "cannot open log %s", path);
            free(c->partial);
            free(c->path);
            c->partial = c->path = NULL;
            return r;
        }
    }
    if (header) {
        capture_add(c, header, strlen(header));
        capture_add(c, "\n", 1);
    }
    return 0;
}

void capture_open_lazy(struct capture *c, const char *dir, const char *path, const char *header)
{
    struct err e;
    capture_open(c, NULL, header, &e); /* the header in the ring: never fails without a path */
    c->path = xstrdup(path);
    c->dir = xstrdup(dir);
    c->head_line = header ? xasprintf("%s\n", header) : NULL;
    c->lazy = true;
}

bool capture_on_disk(const struct capture *c)
{
    return c->fd >= 0;
}

/* capture_open_lazy: makes the log, its header first; false (the capture failed) when it cannot. */
static bool make_log(struct capture *c)
{
    struct err e;
    c->lazy = false;
    if (c->dir && file_mkdir_p(c->dir, 0755, 0, &e) < 0) {
        memcpy(&c->err, &e, sizeof(e));
        c->failed = true;
        return false;
    }
    c->fd = open(c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (c->fd < 0) {
        err_sys(&c->err, errno, "cannot open log %s", c->path);
        c->failed = true;
        return false;
    }
    return true;
}

/* Writes all of data to the log, or marks the capture failed. */
static void write_log(struct capture *c, const char *data, size_t n)
{
    if (c->lazy && n > 0) {
        if (!make_log(c))
            return;
        if (c->head_line) {
            char *h = c->head_line;
            c->head_line = NULL;
            write_log(c, h, strlen(h));
            free(h);
        }
    }
    while (n > 0 && c->fd >= 0 && !c->failed) {
        ssize_t w = fault_check("logwrite") < 0 ? (errno = EIO, -1) : write(c->fd, data, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err_sys(&c->err, errno, "cannot write log %s", c->path);
            c->failed = true;
            return;
        }
        data += w;
        n -= (size_t)w;
    }
}

/* Moves the partial line into the ring (its last CAPTURE_RING_WIDTH bytes). */
static void push_line(struct capture *c)
{
    size_t keep = c->plen < CAPTURE_RING_WIDTH ? c->plen : CAPTURE_RING_WIDTH;
    size_t slot = (c->head + c->count) % CAPTURE_RING_LINES;
    if (c->count == CAPTURE_RING_LINES) {
        slot = c->head;
        c->head = (c->head + 1) % CAPTURE_RING_LINES;
        free(c->ring[slot]);
    } else {
        c->count++;
    }
    c->ring[slot] = xstrndup(c->partial + c->plen - keep, keep);
    c->plen = 0;
}

/* Appends [p, p+n) to the partial line, which keeps its last CAPTURE_LINE_MAX bytes. */
static void partial_add(struct capture *c, const char *p, size_t n)
{
    if (n >= CAPTURE_LINE_MAX) {
        memcpy(c->partial, p + n - CAPTURE_LINE_MAX, CAPTURE_LINE_MAX);
        c->plen = CAPTURE_LINE_MAX;
        return;
    }
    if (c->plen + n > CAPTURE_LINE_MAX) {
        size_t drop = c->plen + n - CAPTURE_LINE_MAX;
        memmove(c->partial, c->partial + drop, c->plen - drop);
        c->plen -= drop;
    }
    memcpy(c->partial + c->plen, p, n);
    c->plen += n;
}

/*
 * Adds the text of one line, [p, p+n) with no newline in it, to the
 * partial line: a carriage return starts the line over (a progress bar
 * redraws its line), unless it ends the text, where it may be the first
 * half of a CRLF: then the line starts over only if more text comes.
 */
static void line_add(struct capture *c, const char *p, size_t n)
{
    const char *cr;
    if (n == 0)
        return;
    if (c->cr_pending) {
        c->cr_pending = false;
        c->plen = 0;
    }
    if (p[n - 1] == '\r') {
        c->cr_pending = true;
        n--;
    }
    if ((cr = memrchr(p, '\r', n))) {
        c->plen = 0;
        n -= (size_t)(cr + 1 - p);
        p = cr + 1;
    }
    partial_add(c, p, n);
}

void capture_add(struct capture *c, const char *data, size_t n)
{
    write_log(c, data, n);
    c->bytes += n;
    if (n)
        c->last = data[n - 1];
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t len = nl ? (size_t)(nl - data) : n;
        line_add(c, data, len);
        if (!nl)
            break;
        c->cr_pending = false; /* a CRLF ends the line as it was */
        push_line(c);
        data += len + 1;
        n -= len + 1;
    }
}

void capture_note(struct capture *c, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    s = xvasprintf(fmt, ap);
    va_end(ap);
    if (c->bytes && c->last != '\n')
        capture_add(c, "\n", 1); /* the note starts a line of its own */
    capture_add(c, s, strlen(s));
    capture_add(c, "\n", 1);
    free(s);
}

const char *capture_line(const struct capture *c, size_t i)
{
    if (c->plen) {
        if (i == 0) {
            /* The partial line's last CAPTURE_RING_WIDTH bytes, NUL-terminated in place. */
            struct capture *mc = (struct capture *)c;
            size_t keep = c->plen < CAPTURE_RING_WIDTH ? c->plen : CAPTURE_RING_WIDTH;
            mc->partial[c->plen] = '\0';
            return c->partial + c->plen - keep;
        }
        i--;
    }
    if (i >= c->count)
        return NULL;
    return c->ring[(c->head + c->count - 1 - i) % CAPTURE_RING_LINES];
}

void capture_clear_ring(struct capture *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->ring[(c->head + i) % CAPTURE_RING_LINES]);
    c->head = c->count = 0;
    c->plen = 0;
    c->cr_pending = false;
}

int capture_close(struct capture *c, struct err *e)
{
    int r = 0;
    if (c->fd >= 0 && close(c->fd) != 0 && !c->failed) {
        err_sys(&c->err, errno, "cannot write log %s", c->path);
        c->failed = true;
    }
    c->fd = -1;
    if (c->failed) {
        memcpy(e, &c->err, sizeof(*e));
        r = -1;
    }
    capture_clear_ring(c);
    free(c->partial);
    free(c->path);
    free(c->dir);
    free(c->head_line);
    c->partial = c->path = c->dir = c->head_line = NULL;
    c->lazy = false;
    return r;
}
