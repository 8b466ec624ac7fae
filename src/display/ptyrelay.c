/* Relaying the user's terminal to a pty (ptyrelay.h). */
#include "display/ptyrelay.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define PTYRELAY_CHUNK 4096

struct ptyrelay {
    uv_poll_t term, master;
    uv_signal_t winch;
    int term_fd, out_fd, master_fd;
    char pending[PTYRELAY_CHUNK]; /* typed, not yet taken by the pty */
    size_t npending;
    bool master_open;
    int open_handles;
};

/* The terminal to give back, for exit() paths that never free the relay. */
static struct {
    int fd;
    struct termios saved;
    bool armed, atexit_done;
} ptyrelay_guard = {.fd = -1};

/* Gives the terminal its settings back (the atexit hook too). */
static void ptyrelay_guard_restore(void)
{
    if (ptyrelay_guard.armed) {
        tcsetattr(ptyrelay_guard.fd, TCSAFLUSH, &ptyrelay_guard.saved);
        ptyrelay_guard.armed = false;
    }
}

/* Writes all of buf to a blocking fd (our stdout); false when it is gone. */
static bool ptyrelay_write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

/* Copies what the master has to our stdout; false at its end (EIO: no slave left). */
static bool ptyrelay_drain_master(struct ptyrelay *r)
{
    char buf[PTYRELAY_CHUNK];
    for (;;) {
        ssize_t n = read(r->master_fd, buf, sizeof(buf));
        if (n > 0) {
            ptyrelay_write_all(r->out_fd, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

static void ptyrelay_update_polls(struct ptyrelay *r);
static void ptyrelay_on_close(uv_handle_t *h);

/* Gives the typed bytes to the pty as far as it takes them. */
static void ptyrelay_flush_pending(struct ptyrelay *r)
{
    while (r->npending) {
        ssize_t w = write(r->master_fd, r->pending, r->npending);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w < 0 && errno != EAGAIN)
                r->npending = 0; /* the pty is gone: what was typed goes nowhere */
            return;
        }
        memmove(r->pending, r->pending + w, r->npending - (size_t)w);
        r->npending -= (size_t)w;
    }
}

/* The pty printed something, or took typed bytes; at its end, both polls stop. */
static void ptyrelay_on_master(uv_poll_t *h, int status, int events)
{
    struct ptyrelay *r = h->data;
    if (status < 0 || (events & UV_READABLE)) {
        if (!ptyrelay_drain_master(r)) {
            r->master_open = false;
            uv_poll_stop(&r->master);
            uv_poll_stop(&r->term);
            return;
        }
    }
    if (events & UV_WRITABLE)
        ptyrelay_flush_pending(r);
    ptyrelay_update_polls(r);
}

/* The user typed something: it goes to the pty (or waits there for room). */
static void ptyrelay_on_term(uv_poll_t *h, int status, int events)
{
    struct ptyrelay *r = h->data;
    ssize_t n;

    if (status < 0) {
        uv_poll_stop(&r->term);
        return;
    }
    n = read(r->term_fd, r->pending + r->npending, sizeof(r->pending) - r->npending);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        uv_poll_stop(&r->term); /* our terminal is gone; the shell goes on */
        return;
    }
    if (n > 0)
        r->npending += (size_t)n;
    ptyrelay_flush_pending(r);
    ptyrelay_update_polls(r);
}

/* Reads the terminal only while the pty takes what was typed; waits for it otherwise. */
static void ptyrelay_update_polls(struct ptyrelay *r)
{
    if (!r->master_open)
        return;
    if (uv_poll_start(&r->master, UV_READABLE | (r->npending ? UV_WRITABLE : 0),
                      ptyrelay_on_master) < 0) {
        /* The pty cannot be watched any more: as at its end. */
        r->master_open = false;
        uv_poll_stop(&r->master);
        uv_poll_stop(&r->term);
        return;
    }
    if (r->npending == sizeof(r->pending) ||
        uv_poll_start(&r->term, UV_READABLE, ptyrelay_on_term) < 0)
        uv_poll_stop(&r->term); /* full, or our terminal cannot be watched: the shell goes on */
}

/* Gives the pty the window size of the user's terminal. */
static void ptyrelay_copy_winsize(struct ptyrelay *r)
{
    struct winsize ws;
    if (ioctl(r->term_fd, TIOCGWINSZ, &ws) == 0)
        ioctl(r->master_fd, TIOCSWINSZ, &ws);
}

/* The user's terminal was resized. */
static void ptyrelay_on_winch(uv_signal_t *h, int signum)
{
    ptyrelay_copy_winsize(h->data);
}

struct ptyrelay *ptyrelay_start(uv_loop_t *loop, int term_fd, int out_fd, int master, int slave,
                                struct err *e)
{
    struct ptyrelay *r;
    struct termios t, raw;
    const char *what;
    int fl, rc;

    if (tcgetattr(term_fd, &t) != 0) {
        err_sys(e, errno, "cannot read the terminal's settings");
        return NULL;
    }
    /* The shell's terminal starts as the user's: same modes, same size. */
    tcsetattr(slave, TCSANOW, &t);
    fl = fcntl(master, F_GETFL);
    if (fl < 0 || fcntl(master, F_SETFL, fl | O_NONBLOCK) < 0) {
        err_sys(e, errno, "cannot set up a pty");
        return NULL;
    }
    r = xcalloc(1, sizeof(*r));
    r->term_fd = term_fd;
    r->out_fd = out_fd;
    r->master_fd = master;
    r->master_open = true;
    ptyrelay_copy_winsize(r);

    ptyrelay_guard.fd = term_fd;
    ptyrelay_guard.saved = t;
    ptyrelay_guard.armed = true;
    if (!ptyrelay_guard.atexit_done) {
        atexit(ptyrelay_guard_restore);
        ptyrelay_guard.atexit_done = true;
    }
    raw = t;
    cfmakeraw(&raw);
    tcsetattr(term_fd, TCSAFLUSH, &raw);

    what = "cannot watch the pty";
    if ((rc = uv_poll_init(loop, &r->master, master)) < 0) {
        ptyrelay_guard_restore();
        free(r);
        err_sys(e, -rc, "%s", what);
        return NULL;
    }
    r->master.data = r;
    r->open_handles = 1;
    fl = fcntl(term_fd, F_GETFL);
    rc = uv_poll_init(loop, &r->term, term_fd);
    /* libuv made it non-blocking: that flag is shared with our stdout (the
     * same terminal) and with whoever gets the terminal after us. It is
     * read only when poll says there is something, so blocking is fine. */
    if (fl >= 0)
        fcntl(term_fd, F_SETFL, fl);
    what = "cannot watch the terminal";
    if (rc < 0)
        goto fail;
    r->term.data = r;
    r->open_handles++;
    what = "cannot follow the terminal's size";
    if ((rc = uv_signal_init(loop, &r->winch)) < 0)
        goto fail;
    r->winch.data = r;
    r->open_handles++;
    if ((rc = uv_signal_start(&r->winch, ptyrelay_on_winch, SIGWINCH)) < 0)
        goto fail;
    ptyrelay_update_polls(r);
    return r;

fail:
    /* The caller keeps master; the handles free r when they are closed. */
    err_sys(e, -rc, "%s", what);
    ptyrelay_guard_restore();
    r->master_fd = -1;
    if (r->open_handles > 2)
        uv_close((uv_handle_t *)&r->winch, ptyrelay_on_close);
    if (r->open_handles > 1)
        uv_close((uv_handle_t *)&r->term, ptyrelay_on_close);
    uv_close((uv_handle_t *)&r->master, ptyrelay_on_close);
    return NULL;
}

/* A handle is closed; the last one frees the relay (and closes master, when it is ours). */
static void ptyrelay_on_close(uv_handle_t *h)
{
    struct ptyrelay *r = h->data;
    if (--r->open_handles == 0) {
        if (r->master_fd >= 0)
            close(r->master_fd);
        free(r);
    }
}

void ptyrelay_free(struct ptyrelay *r)
{
    if (!r)
        return;
    if (r->master_open)
        ptyrelay_drain_master(r);
    ptyrelay_guard_restore();
    uv_close((uv_handle_t *)&r->master, ptyrelay_on_close);
    uv_close((uv_handle_t *)&r->term, ptyrelay_on_close);
    uv_close((uv_handle_t *)&r->winch, ptyrelay_on_close);
}
