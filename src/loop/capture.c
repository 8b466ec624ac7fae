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
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * Opens the log: an own one read-write (capture_splice reads its tail back)
 * at its end, without O_APPEND (splice refuses such a file); else O_APPEND.
 */
static int open_log(struct capture *c, const char *path)
{
    if (!c->own)
        return c->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    c->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (c->fd >= 0 && (c->off = lseek(c->fd, 0, SEEK_END)) < 0) {
        int err = errno;
        close(c->fd);
        errno = err;
        c->fd = -1;
    }
    return c->fd;
}

int capture_open(struct capture *c, const char *path, const char *header, unsigned flags,
                 struct err *e)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->own = flags & CAPTURE_OWN;
    c->no_ring = flags & CAPTURE_NO_RING;
    c->partial = xmalloc(CAPTURE_LINE_MAX + 1);
    if (path) {
        c->path = xstrdup(path);
        if (open_log(c, path) < 0) {
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
    /* The header in the ring: never fails without a path. */
    capture_open(c, NULL, header, CAPTURE_OWN, &e);
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
    if (open_log(c, c->path) < 0) {
        err_sys(&c->err, errno, "cannot open log %s", c->path);
        c->failed = true;
        return false;
    }
    return true;
}

/* Writes all of data to the log, or marks the capture failed. */
static void write_log(struct capture *c, const char *data, size_t n);

/* capture_open_lazy's log at its first byte: made, with the header first. */
static bool make_lazy_log(struct capture *c)
{
    if (!make_log(c))
        return false;
    if (c->head_line) {
        char *h = c->head_line;
        c->head_line = NULL;
        write_log(c, h, strlen(h));
        free(h);
    }
    return !c->failed;
}

static void write_log(struct capture *c, const char *data, size_t n)
{
    if (c->lazy && n > 0 && !make_lazy_log(c))
        return;
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
        c->off += w;
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

/* Feeds the ring with output (the log has it already). */
static void ring_add(struct capture *c, const char *data, size_t n)
{
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

static void flush_pending(struct capture *c);

/* The log got n more bytes, just before c->off, that the ring is to see: later, when looked at. */
static void pend(struct capture *c, size_t n)
{
    if (!c->pend_len)
        c->pend_off = c->off - (long long)n;
    c->pend_len += n;
    if (c->pend_len >= CAPTURE_PEND_MAX)
        flush_pending(c); /* bounded: long lines read back no more than that at once */
}

void capture_add(struct capture *c, const char *data, size_t n)
{
    long long before = c->off;
    write_log(c, data, n);
    c->bytes += n;
    if (n)
        c->last = data[n - 1];
    if (c->no_ring)
        return;
    /* An own log has all of it: the ring reads the tail back when looked at. */
    if (c->own && c->fd >= 0 && !c->failed && c->off - before == (long long)n && n) {
        pend(c, n);
        return;
    }
    flush_pending(c); /* what came before, first */
    ring_add(c, data, n);
}

/* What the ring reads back of an own log: the tail of what it got (ring_from_log). */
#define CAPTURE_TAIL (64 * 1024)
static char tail_buf[CAPTURE_TAIL];

/* Reads n bytes of the log at off into tail_buf; false when it cannot. */
static bool read_back(struct capture *c, long long off, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(c->fd, tail_buf + got, n - got, (off_t)(off + (long long)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/*
 * Feeds the ring with the n bytes the log got at off, as capture_add would
 * have. Only the last CAPTURE_RING_LINES lines can be in the ring after
 * them: when the tail holds the newline before them, feeding starts after
 * it, with the line being written reset, as any newline leaves it, and
 * those lines push out everything older. Else (long lines) all of it is
 * read back and fed.
 */
static void ring_from_log(struct capture *c, long long off, size_t n)
{
    size_t t = n < CAPTURE_TAIL ? n : CAPTURE_TAIL, lines = 0;
    const char *end, *p;

    if (!read_back(c, off + (long long)(n - t), t))
        return;
    c->last = tail_buf[t - 1];
    if (t < n) {
        end = tail_buf + t;
        for (p = end; p > tail_buf && (p = memrchr(tail_buf, '\n', (size_t)(p - tail_buf)));) {
            if (++lines == CAPTURE_RING_LINES + 1) {
                c->plen = 0;
                c->cr_pending = false;
                ring_add(c, p + 1, (size_t)(end - p - 1));
                return;
            }
        }
        for (size_t done = 0; done < n; done += t) {
            t = n - done < CAPTURE_TAIL ? n - done : CAPTURE_TAIL;
            if (!read_back(c, off + (long long)done, t))
                return;
            ring_add(c, tail_buf, t);
        }
        return;
    }
    ring_add(c, tail_buf, t);
}

/* Feeds the ring with what the log got since the ring was last fed (pend). */
static void flush_pending(struct capture *c)
{
    if (c->pend_len) {
        size_t n = c->pend_len;
        c->pend_len = 0;
        ring_from_log(c, c->pend_off, n);
    }
}

long capture_splice(struct capture *c, int fd, size_t max)
{
    size_t total = 0;
    bool eof = false;
    int avail = 0;

    static int disabled = -1; /* BOB_NO_SPLICE=1: the read path always (to compare) */
    if (disabled < 0)
        disabled = getenv("BOB_NO_SPLICE") && strcmp(getenv("BOB_NO_SPLICE"), "0") != 0;
    if (disabled || !c->own || c->failed || (c->fd < 0 && !c->lazy))
        return -ENOTSUP;
    /* A backlog only (an end, or nothing yet: the read path says which). */
    if (ioctl(fd, FIONREAD, &avail) < 0 || avail < CAPTURE_SPLICE_MIN)
        return -ENOTSUP;
    if (c->lazy && !make_lazy_log(c))
        return -ENOTSUP;
    while (total < max) {
        size_t want = max - total;
        ssize_t n;
        if (fault_check("logwrite") < 0) {
            err_sys(&c->err, EIO, "cannot write log %s", c->path);
            c->failed = true;
            break;
        }
        n = splice(fd, NULL, c->fd, NULL, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n > 0) {
            total += (size_t)n;
            c->off += n;
            if ((size_t)n < want)
                break; /* the pipe is empty: the loop says when it is not */
            continue;
        }
        if (n == 0) {
            eof = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            break;
        if (total == 0 && (errno == EINVAL || errno == ENOSYS)) {
            c->own = false; /* this file system cannot: the read path from now on */
            return -ENOTSUP;
        }
        err_sys(&c->err, errno, "cannot write log %s", c->path);
        c->failed = true;
        break;
    }
    if (total) {
        c->bytes += total;
        pend(c, total);
        return (long)total;
    }
    if (c->failed)
        return -ENOTSUP;
    return eof ? 0 : -EAGAIN;
}

void capture_note(struct capture *c, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    s = xvasprintf(fmt, ap);
    va_end(ap);
    flush_pending(c); /* c->last */
    if (c->bytes && c->last != '\n')
        capture_add(c, "\n", 1); /* the note starts a line of its own */
    capture_add(c, s, strlen(s));
    capture_add(c, "\n", 1);
    free(s);
}

const char *capture_line(const struct capture *c, size_t i)
{
    flush_pending((struct capture *)c); /* what the ring holds, not what it is */
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
    flush_pending(c); /* for the last byte (capture_note) */
    for (size_t i = 0; i < c->count; i++)
        free(c->ring[(c->head + i) % CAPTURE_RING_LINES]);
    c->head = c->count = 0;
    c->plen = 0;
    c->cr_pending = false;
}

int capture_close(struct capture *c, struct err *e)
{
    int r = 0;
    c->pend_len = 0; /* nobody looks any more */
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
