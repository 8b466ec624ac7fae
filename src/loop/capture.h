/*
 * Output capture: the bytes of a command's stdout and stderr, in order of
 * arrival, written whole to a log file, and the last lines kept in a small
 * ring for the live display, as a terminal would show them: a carriage
 * return starts its line over (progress bars of curl, pip, ninja), and a
 * line keeps its last bytes (CAPTURE_RING_WIDTH of it in the ring, the
 * line being written its last CAPTURE_LINE_MAX). Memory is bounded
 * whatever the command writes; the log gets every byte.
 */
#ifndef BOB_CAPTURE_H
#define BOB_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

#define CAPTURE_LINE_MAX (64 * 1024)       /* the last bytes kept of the line being written */
#define CAPTURE_RING_LINES 100             /* lines kept for the display */
#define CAPTURE_RING_WIDTH 512             /* bytes kept of each of them: the last ones */
#define CAPTURE_SPLICE_MIN (64 * 1024)     /* capture_splice: the backlog worth a splice */
#define CAPTURE_PEND_MAX (4 * 1024 * 1024) /* CAPTURE_OWN: the most the ring lags the log */

struct capture {
    int fd;        /* the log, or -1 */
    bool own;      /* CAPTURE_OWN: opened read-write at its end, not O_APPEND */
    bool no_ring;  /* CAPTURE_NO_RING */
    long long off; /* own: where the next byte goes (the file's position) */
    /* capture_splice: what the log got that the ring has not seen yet */
    long long pend_off;
    size_t pend_len;
    char *path;      /* for messages */
    char *dir;       /* capture_open_lazy: the directory to make at the first byte, or NULL */
    char *head_line; /* capture_open_lazy: the header, written first when the log is made */
    bool lazy;       /* the log is made at the first byte after the header */
    bool failed;     /* a write failed: the rest is dropped, the error kept */
    struct err err;
    unsigned long long bytes;
    char last; /* the last byte written to the log (0 before any) */
    /* the line being assembled (its last CAPTURE_LINE_MAX bytes) */
    char *partial;
    size_t plen;
    bool cr_pending; /* it ended with '\r': over again, unless a '\n' follows */
    /* the ring of finished lines */
    char *ring[CAPTURE_RING_LINES];
    size_t head, count;
};

/* capture_open's flags. */
enum capture_flags {
    /*
     * Nobody but this capture writes the log (a build's): it may splice
     * into it (capture_splice), and the ring is fed when next looked at,
     * from the tail of what the log got meanwhile, read back (see
     * capture_splice), not line by line as output comes. Else the log is
     * opened O_APPEND, for a file that others may append to as well.
     */
    CAPTURE_OWN = 1 << 0,
    CAPTURE_NO_RING = 1 << 1, /* nobody looks at the ring (a log only): not fed */
};

/*
 * Opens (creating or appending) the log at path; path NULL captures only
 * into the ring. Writes header (a line such as the command) first when
 * given. flags: enum capture_flags. Returns 0, or -1 with e naming the
 * log.
 */
int capture_open(struct capture *c, const char *path, const char *header, unsigned flags,
                 struct err *e);
/*
 * The same, except that the log (and its directory dir, made with its
 * parents) is made only when the first byte after the header comes,
 * output or a note: a command that writes nothing leaves nothing on disk.
 * A failure to make it then fails the capture (capture_close says why).
 */
void capture_open_lazy(struct capture *c, const char *dir, const char *path, const char *header);
/* Appends output. A write error marks the capture failed; later data is dropped. */
void capture_add(struct capture *c, const char *data, size_t n);
/*
 * Appends at most max bytes of what the pipe fd holds, moved into the log
 * by the kernel (splice: not copied through our memory), when it holds a
 * backlog (CAPTURE_SPLICE_MIN): splicing a few kilobytes costs more than
 * a read and a write. The ring is fed when it is next looked at
 * (capture_line, a note), or every CAPTURE_PEND_MAX bytes, from the tail
 * of what the log got meanwhile, read back from the page cache, as if
 * every byte had gone through capture_add (the last CAPTURE_RING_LINES
 * lines decide it, whatever came before them; with longer lines all of it
 * is read back): a display that looks once a second reads one tail, not
 * every line. Returns the bytes moved, 0 at the pipe's end, -EAGAIN when
 * it is empty, -ENOTSUP when it will not (not an own log, a failed one, a
 * lazy one with nothing to make it for, a small backlog, a file system
 * without splice): the caller then reads and capture_adds. The pipe must
 * be non-blocking.
 */
long capture_splice(struct capture *c, int fd, size_t max);
/* Appends a line of our own (a message) to the log and the ring. */
void capture_note(struct capture *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The i-th most recent line (0 = newest finished or partial line), or NULL. */
const char *capture_line(const struct capture *c, size_t i);
/* Forgets the lines of the ring (the log is untouched). */
void capture_clear_ring(struct capture *c);
/* Whether the log is on disk (capture_open_lazy: made already). */
bool capture_on_disk(const struct capture *c);
/* Closes the log; 0, or -1 with e when a write (or the close) failed. */
int capture_close(struct capture *c, struct err *e);

#endif
