/* Relaying the user's terminal to a pty (ptyrelay.h). */
#include "loop/ptyrelay.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define CHUNK 4096

struct ptyrelay {
    uv_poll_t term, master;
    uv_signal_t winch;
    int term_fd, out_fd, master_fd;
    char pending[CHUNK]; /* typed, not yet taken by the pty */
    size_t npending;
    bool master_open;
    int open_handles;
};

/* The terminal to give back, for exit() paths that never free the relay. */
static struct {
    int fd;
    struct termios saved;
    bool armed, atexit_done;
} guard = {.fd = -1};

static void guard_restore(void)
{
    if (guard.armed) {
        tcsetattr(guard.fd, TCSAFLUSH, &guard.saved);
        guard.armed = false;
    }
}

/* Writes all of buf to a blocking fd (our stdout); false when it is gone. */
static bool write_all(int fd, const char *buf, size_t n)
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
static bool drain_master(struct ptyrelay *r)
{
    char buf[CHUNK];
    for (;;) {
        ssize_t n = read(r->master_fd, buf, sizeof(buf));
        if (n > 0) {
            write_all(r->out_fd, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

static void update_polls(struct ptyrelay *r);

/* Gives the typed bytes to the pty as far as it takes them. */
static void flush_pending(struct ptyrelay *r)
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

static void on_master(uv_poll_t *h, int status, int events)
{
    struct ptyrelay *r = h->data;
    if (status < 0 || (events & UV_READABLE)) {
        if (!drain_master(r)) {
            r->master_open = false;
            uv_poll_stop(&r->master);
            uv_poll_stop(&r->term);
            return;
        }
    }
    if (events & UV_WRITABLE)
        flush_pending(r);
    update_polls(r);
}

static void on_term(uv_poll_t *h, int status, int events)
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
    flush_pending(r);
    update_polls(r);
}

/* Reads the terminal only while the pty takes what was typed; waits for it otherwise. */
static void update_polls(struct ptyrelay *r)
{
    if (!r->master_open)
        return;
    uv_poll_start(&r->master, UV_READABLE | (r->npending ? UV_WRITABLE : 0), on_master);
    if (r->npending == sizeof(r->pending))
        uv_poll_stop(&r->term);
    else
        uv_poll_start(&r->term, UV_READABLE, on_term);
}

static void copy_winsize(struct ptyrelay *r)
{
    struct winsize ws;
    if (ioctl(r->term_fd, TIOCGWINSZ, &ws) == 0)
        ioctl(r->master_fd, TIOCSWINSZ, &ws);
}

static void on_winch(uv_signal_t *h, int signum)
{
    copy_winsize(h->data);
}

struct ptyrelay *ptyrelay_start(uv_loop_t *loop, int term_fd, int out_fd, int master, int slave,
                                struct err *e)
{
    struct ptyrelay *r;
    struct termios t, raw;
    int fl;

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
    copy_winsize(r);

    guard.fd = term_fd;
    guard.saved = t;
    guard.armed = true;
    if (!guard.atexit_done) {
        atexit(guard_restore);
        guard.atexit_done = true;
    }
    raw = t;
    cfmakeraw(&raw);
    tcsetattr(term_fd, TCSAFLUSH, &raw);

    uv_poll_init(loop, &r->master, master);
    r->master.data = r;
    fl = fcntl(term_fd, F_GETFL);
    uv_poll_init(loop, &r->term, term_fd);
    r->term.data = r;
    /* libuv made it non-blocking: that flag is shared with our stdout (the
     * same terminal) and with whoever gets the terminal after us. It is
     * read only when poll says there is something, so blocking is fine. */
    if (fl >= 0)
        fcntl(term_fd, F_SETFL, fl);
    uv_signal_init(loop, &r->winch);
    r->winch.data = r;
    uv_signal_start(&r->winch, on_winch, SIGWINCH);
    r->open_handles = 3;
    update_polls(r);
    return r;
}

static void on_close(uv_handle_t *h)
{
    struct ptyrelay *r = h->data;
    if (--r->open_handles == 0) {
        close(r->master_fd);
        free(r);
    }
}

void ptyrelay_free(struct ptyrelay *r)
{
    if (!r)
        return;
    if (r->master_open)
        drain_master(r);
    guard_restore();
    uv_close((uv_handle_t *)&r->master, on_close);
    uv_close((uv_handle_t *)&r->term, on_close);
    uv_close((uv_handle_t *)&r->winch, on_close);
}
