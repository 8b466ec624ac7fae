/* The terminal guard of the live display, the keyboard's mode, the window size (term.h). */
#include "display/term.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/*
 * What must be undone on the terminal whatever way the process ends:
 * display_free, exit() (atexit) or a crash signal. Only plain data and
 * async-signal-safe calls, since the crash path runs in a signal handler.
 */
static const int term_fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define TERM_NFATAL (sizeof(term_fatal_signals) / sizeof(term_fatal_signals[0]))

static struct {
    volatile sig_atomic_t armed;
    pid_t pid; /* a forked child must not restore our terminal */
    int out_fd;
    volatile sig_atomic_t alt, cursor_hidden, region;
    int key_fd; /* the termios to restore, or -1 */
    struct termios saved;
    bool handlers;
    struct sigaction old[TERM_NFATAL];
    bool atexit_done;
} term_guard = {.key_fd = -1};

/* Writes a constant string, ignoring errors (signal-safe). */
static void term_guard_puts(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(term_guard.out_fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Puts the terminal back as we found it (signal-safe). */
static void term_guard_restore(void)
{
    if (!term_guard.armed || getpid() != term_guard.pid)
        return;
    term_guard.armed = 0;
    if (term_guard.alt)
        term_guard_puts("\x1b[?1049l");
    if (term_guard.region)
        term_guard_puts("\n"); /* whatever comes next starts below the region */
    if (term_guard.cursor_hidden)
        term_guard_puts("\x1b[?25h");
    if (term_guard.key_fd >= 0)
        tcsetattr(term_guard.key_fd, TCSANOW, &term_guard.saved);
    term_guard.alt = term_guard.region = term_guard.cursor_hidden = 0;
}

/* The atexit() path: exit() while the display is up. */
static void term_guard_atexit(void)
{
    term_guard_restore();
}

/*
 * A crash signal: restore the terminal, put the previous action back and
 * return. A fault then happens again and takes the previous action (the
 * sanitizer's report, or a core dump); a sent signal is raised again.
 */
static void term_guard_on_fatal(int sig, siginfo_t *info, void *ctx)
{
    int saved_errno = errno;
    term_guard_restore();
    for (size_t i = 0; i < TERM_NFATAL; i++)
        if (term_fatal_signals[i] == sig)
            sigaction(sig, &term_guard.old[i], NULL);
    if (info->si_code <= 0)
        raise(sig);
    errno = saved_errno;
}

bool term_guard_arm(int out_fd)
{
    if (term_guard.armed)
        return false;
    term_guard.pid = getpid();
    term_guard.out_fd = out_fd;
    term_guard.key_fd = -1;
    term_guard.armed = 1;
    if (!term_guard.atexit_done) {
        atexit(term_guard_atexit);
        term_guard.atexit_done = true;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = term_guard_on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; /* on the sanitizer's stack when it set one */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < TERM_NFATAL; i++)
        sigaction(term_fatal_signals[i], &sa, &term_guard.old[i]);
    term_guard.handlers = true;
    return true;
}

void term_guard_mark(enum term_mark mark, bool on)
{
    if (mark & TERM_ALT)
        term_guard.alt = on;
    if (mark & TERM_CURSOR_HIDDEN)
        term_guard.cursor_hidden = on;
    if (mark & TERM_REGION)
        term_guard.region = on;
}

void term_guard_disarm(void)
{
    term_keys_stop();
    term_guard.armed = 0;
    if (term_guard.handlers) {
        for (size_t i = 0; i < TERM_NFATAL; i++)
            sigaction(term_fatal_signals[i], &term_guard.old[i], NULL);
        term_guard.handlers = false;
    }
    term_guard.alt = term_guard.region = term_guard.cursor_hidden = 0;
}

int term_keys_start(int key_fd)
{
    struct termios t;
    if (key_fd < 0 || !isatty(key_fd) || tcgetpgrp(key_fd) != getpgrp() ||
        tcgetattr(key_fd, &t) < 0)
        return -1;
    const char *name = ttyname(key_fd);
    int kfd = name ? open(name, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) : -1;
    if (kfd < 0)
        return -1;
    struct termios raw = t;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    term_guard.saved = t;
    term_guard.key_fd = key_fd;
    if (tcsetattr(key_fd, TCSANOW, &raw) < 0) {
        term_keys_stop();
        close(kfd);
        return -1;
    }
    return kfd;
}

void term_keys_stop(void)
{
    if (term_guard.key_fd >= 0)
        tcsetattr(term_guard.key_fd, TCSANOW, &term_guard.saved);
    term_guard.key_fd = -1;
}

void term_size(int fd, size_t *cols, size_t *rows)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    } else {
        *cols = 80;
        *rows = 24;
    }
}
