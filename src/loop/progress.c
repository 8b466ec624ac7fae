/* The live progress display: inline region, full-screen 'v' view, plain lines. */
#include "loop/progress.h"
#include "loop/progress_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "loop/capture.h"
#include "util/util.h"

#define TICK_MS 1000       /* the clocks of the rows */
#define VIEW_RATE_MS 200   /* the 'v' view follows output at most this often */
#define HISTORY_LINES 256  /* lines above the region kept to repaint after a resize */
#define VERB_WIDTH 12      /* "       Built" */
#define PLAIN_VERB_WIDTH 8 /* "   Built" */
#define BAR_MAX 30
#define BAR_MIN 10 /* the bar shrinks below this only when nothing else fits */
#define PANEL_MIN_WIDTH 40
#define PANEL_MIN_HEIGHT 3
#define PANEL_GOOD_HEIGHT 8 /* below this, panels go side by side when they can */
#define WRITE_WAIT_MS 5000  /* a terminal that takes no output this long is given up */
#define NO_WIDTH ((size_t)-1)

static const char hint[] = "press 'v' to toggle panel view";

struct slot {
    unsigned id;
    char *job; /* NULL when idle */
    char *stage;
    double start; /* now_ms() when the job started */
    const struct capture *out;
};

struct progress {
    uv_loop_t *loop;
    int fd;
    bool tty;
    bool broken; /* a write failed: the display is off */
    char *title;
    size_t nslots, nbusy;
    struct slot *slots;
    size_t done, total;
    double start;
    char *note;
    /* terminal mode */
    size_t cols, rows;
    bool dirty;
    bool view;          /* the 'v' view is wanted */
    bool alt;           /* the alternate screen is on */
    size_t drawn;       /* region rows on screen; the cursor ends the last one */
    size_t drawn_width; /* the terminal size when they were drawn */
    size_t drawn_height;
    struct strv held;          /* sanitized lines for above the region, not printed yet */
    char *hist[HISTORY_LINES]; /* the last lines printed above the region */
    size_t hist_head, hist_n;
    struct buf frame;
    /* handles, all unreferenced: the display never keeps the loop alive */
    bool handles;
    bool guarded;      /* this display armed the terminal guard */
    int open;          /* handles not closed yet; the object is freed at 0 */
    uv_prepare_t prep; /* draws once per loop pass when dirty */
    uv_timer_t tick;   /* the clocks, only while a slot is busy */
    uv_timer_t rate;   /* limits redraws of the 'v' view on output */
    uv_signal_t winch;
    bool keys_on;
    int kfd; /* our own non-blocking descriptor of the keyboard terminal */
    uv_poll_t keys;
};

/*
 * What must be undone on the terminal whatever way the process ends:
 * progress_free, exit() (atexit) or a crash signal. Only plain data and
 * async-signal-safe calls, since the crash path runs in a signal handler.
 */
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NFATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))

static struct {
    volatile sig_atomic_t armed;
    pid_t pid; /* a forked child must not restore our terminal */
    int out_fd;
    volatile sig_atomic_t alt, cursor_hidden, region;
    int key_fd; /* the termios to restore, or -1 */
    struct termios saved;
    bool handlers;
    struct sigaction old[NFATAL];
    bool atexit_done;
} guard = {.key_fd = -1};

/* Writes a constant string, ignoring errors (signal-safe). */
static void guard_puts(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(guard.out_fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Puts the terminal back as we found it (signal-safe). */
static void guard_restore(void)
{
    if (!guard.armed || getpid() != guard.pid)
        return;
    guard.armed = 0;
    if (guard.alt)
        guard_puts("\x1b[?1049l");
    if (guard.region)
        guard_puts("\n"); /* whatever comes next starts below the region */
    if (guard.cursor_hidden)
        guard_puts("\x1b[?25h");
    if (guard.key_fd >= 0)
        tcsetattr(guard.key_fd, TCSANOW, &guard.saved);
    guard.alt = guard.region = guard.cursor_hidden = 0;
}

/* The atexit() path: exit() while the display is up. */
static void guard_atexit(void)
{
    guard_restore();
}

/*
 * A crash signal: restore the terminal, put the previous action back and
 * return. A fault then happens again and takes the previous action (the
 * sanitizer's report, or a core dump); a sent signal is raised again.
 */
static void guard_on_fatal(int sig, siginfo_t *info, void *ctx)
{
    int saved_errno = errno;
    guard_restore();
    for (size_t i = 0; i < NFATAL; i++)
        if (fatal_signals[i] == sig)
            sigaction(sig, &guard.old[i], NULL);
    if (info->si_code <= 0)
        raise(sig);
    errno = saved_errno;
}

/* Arms the guard for a display on out_fd. */
static void guard_arm(int out_fd)
{
    guard.pid = getpid();
    guard.out_fd = out_fd;
    guard.key_fd = -1;
    guard.armed = 1;
    if (!guard.atexit_done) {
        atexit(guard_atexit);
        guard.atexit_done = true;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = guard_on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; /* on the sanitizer's stack when it set one */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(fatal_signals[i], &sa, &guard.old[i]);
    guard.handlers = true;
}

/* Disarms the guard once progress_free has restored the terminal itself. */
static void guard_disarm(void)
{
    guard.armed = 0;
    guard.key_fd = -1;
    if (guard.handlers) {
        for (size_t i = 0; i < NFATAL; i++)
            sigaction(fatal_signals[i], &guard.old[i], NULL);
        guard.handlers = false;
    }
}

/* ---- pure text helpers ---- */

void progress_fmt_elapsed(char *out, size_t n, double ms)
{
    if (ms < 0)
        ms = 0;
    /* Cut to tenths so that 59.96 s shows as 59.9s, never 60.0s. */
    fmt_duration(out, n, (double)(long long)(ms / 100) * 100);
}

size_t progress_elapsed_width(size_t len)
{
    static const size_t steps[] = {6, 8, 9, 13};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (len + 1 <= steps[i])
            return steps[i];
    return len + 1;
}

/* Decodes one strict UTF-8 sequence; its length, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0], min;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, c &= 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, c &= 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[k] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/*
 * Columns of a code point: 2 for the wide ranges (CJK, Hangul, fullwidth
 * forms, symbols and emoji), 0 for code points that are not shown (C1
 * controls, bidi overrides), else 1. Counting too wide is safe (a row ends
 * a little early); too narrow would wrap and break the cursor arithmetic.
 */
static int cp_width(unsigned c)
{
    if (c < 0xa0 || (c >= 0x200e && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
        (c >= 0x2066 && c <= 0x2069))
        return 0;
    if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2300 && c <= 0x23ff) ||
        (c >= 0x2600 && c <= 0x27bf) || (c >= 0x2e80 && c <= 0xa4cf) ||
        (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
        (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
        (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f000 && c <= 0x1faff) ||
        (c >= 0x20000 && c <= 0x3fffd))
        return 2;
    return 1;
}

/* The index after the escape sequence that starts at s[i] (an ESC). */
static size_t skip_escape(const unsigned char *s, size_t len, size_t i)
{
    i++;
    if (i >= len)
        return i;
    unsigned char c = s[i++];
    if (c == '[') { /* CSI: parameters, intermediates, one final byte */
        while (i < len && s[i] >= 0x20 && s[i] <= 0x3f)
            i++;
        if (i < len && s[i] >= 0x40 && s[i] <= 0x7e)
            i++;
        return i;
    }
    if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
        /* OSC, DCS, SOS, PM, APC: a string up to BEL or ESC backslash */
        while (i < len) {
            if (s[i] == 0x07)
                return i + 1;
            if (s[i] == 0x1b)
                return i + 1 < len && s[i + 1] == '\\' ? i + 2 : i + 1;
            i++;
        }
        return i;
    }
    /* ESC, intermediates (such as "(" of a charset choice), one final byte */
    if (c >= 0x20 && c <= 0x2f) {
        while (i < len && s[i] >= 0x20 && s[i] <= 0x2f)
            i++;
        if (i < len && s[i] >= 0x30 && s[i] <= 0x7e)
            i++;
    }
    return i;
}

/* Appends n spaces. */
static void add_spaces(struct buf *b, size_t n)
{
    static const char sp[] = "                                ";
    while (n > 0) {
        size_t k = n < sizeof(sp) - 1 ? n : sizeof(sp) - 1;
        buf_add(b, sp, k);
        n -= k;
    }
}

size_t progress_text(struct buf *out, const char *str, size_t len, size_t width)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, col = 0;
    /* A carriage return followed by more text overwrote what came before. */
    for (size_t j = 0; j + 1 < len; j++)
        if (s[j] == '\r' && s[j + 1] != '\r')
            i = j + 1;
    while (i < len && col < width) {
        unsigned c = s[i];
        if (c == 0x1b) {
            i = skip_escape(s, len, i);
        } else if (c == '\t') {
            size_t n = 8 - col % 8;
            if (n > width - col)
                n = width - col;
            add_spaces(out, n);
            col += n;
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            i++;
        } else if (c < 0x80) {
            buf_add(out, s + i, 1);
            col++;
            i++;
        } else {
            unsigned cp;
            size_t n = utf8_decode(s + i, len - i, &cp);
            if (n == 0) {
                buf_adds(out, "?");
                col++;
                i++;
                continue;
            }
            size_t w = (size_t)cp_width(cp);
            if (col + w > width)
                break;
            if (w > 0)
                buf_add(out, s + i, n);
            col += w;
            i += n;
        }
    }
    return col;
}

void progress_row_text(struct buf *out, unsigned id, int idw, int ew, const char *elapsed,
                       const char *job, const char *stage)
{
    buf_printf(out, "  [%*u:%*s ]", idw, id, ew, elapsed ? elapsed : "idle");
    if (elapsed && job) {
        buf_printf(out, " %s", job);
        if (stage)
            buf_printf(out, " (%s)", stage);
    }
}

void progress_status_text(struct buf *out, const char *title, size_t done, size_t total,
                          const char *elapsed, const char *note, size_t width)
{
    char counts[48];
    snprintf(counts, sizeof(counts), "%zu/%zu", done, total);
    /* "<title:12> [" bar "] " counts " " elapsed ["  (" note ")"] */
    size_t fixed = VERB_WIDTH + 2 + 2 + strlen(counts) + 1 + strlen(elapsed);
    size_t extra = note ? strlen(note) + 4 : 0;
    size_t bar;
    if (width >= fixed + extra + BAR_MIN)
        bar = width - fixed - extra;
    else if (width >= fixed + BAR_MIN)
        bar = BAR_MIN; /* the note is cut rather than the bar */
    else
        bar = width > fixed ? width - fixed : 1;
    if (bar > BAR_MAX)
        bar = BAR_MAX;
    size_t filled = total == 0 ? 0 : done >= total ? bar : done * bar / total;
    buf_printf(out, "%*s [", VERB_WIDTH, title);
    for (size_t i = 0; i < bar; i++) {
        char c = i + 1 < filled ? '=' : i + 1 > filled ? ' ' : filled == bar ? '=' : '>';
        buf_add(out, &c, 1);
    }
    buf_printf(out, "] %s %s", counts, elapsed);
    if (note)
        buf_printf(out, "  (%s)", note);
}

bool progress_tick_active(const struct progress *p)
{
    return p->handles && uv_is_active((const uv_handle_t *)&p->tick);
}

/* ---- output ---- */

/* Writes all of s to the display, or turns the display off when that fails. */
static void out_write(struct progress *p, const char *s, size_t n)
{
    while (n > 0 && !p->broken) {
        ssize_t w = write(p->fd, s, n);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Someone made the descriptor non-blocking: wait, but not forever. */
            struct pollfd pf = {.fd = p->fd, .events = POLLOUT};
            if (poll(&pf, 1, WRITE_WAIT_MS) <= 0)
                p->broken = true;
        } else {
            p->broken = true;
        }
    }
}

/* A copy of s, or NULL. */
static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* Whether two optional strings differ. */
static bool str_differ(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Number of decimal digits of n. */
static int digits(size_t n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* Appends "<verb right-aligned in w> <job> (<detail>)", sanitized; verb and detail may be NULL. */
static void event_text(struct buf *b, const char *verb, int w, const char *job, const char *detail)
{
    if (verb)
        buf_printf(b, "%*s ", w, verb);
    progress_text(b, job, strlen(job), NO_WIDTH);
    if (detail) {
        buf_adds(b, " (");
        progress_text(b, detail, strlen(detail), NO_WIDTH);
        buf_adds(b, ")");
    }
}

/* Writes one plain-mode line: "[ 3/40] Building zlib (detail)". */
static void plain_line(struct progress *p, const char *verb, const char *job, const char *detail)
{
    struct buf b = {0};
    if (p->total)
        buf_printf(&b, "[%*zu/%zu] ", digits(p->total), p->done, p->total);
    else
        buf_printf(&b, "[%zu] ", p->done);
    event_text(&b, verb, PLAIN_VERB_WIDTH, job, detail);
    buf_adds(&b, "\n");
    out_write(p, b.p, b.len);
    buf_free(&b);
}

/* Queues a line for above the region (tty mode): "       Built zlib (detail)". */
static void hold(struct progress *p, const char *verb, const char *job, const char *detail)
{
    struct buf b = {0};
    event_text(&b, verb, VERB_WIDTH, job, detail);
    strv_push_owned(&p->held, b.p ? b.p : xstrdup(""));
    p->dirty = true;
}

/* Keeps a printed line for repainting after a resize (takes it). */
static void hist_push(struct progress *p, char *line)
{
    size_t at = (p->hist_head + p->hist_n) % HISTORY_LINES;
    if (p->hist_n == HISTORY_LINES) {
        free(p->hist[p->hist_head]);
        p->hist_head = (p->hist_head + 1) % HISTORY_LINES;
    } else {
        p->hist_n++;
    }
    p->hist[at] = line;
}

/* Reads the terminal size of the display (80x24 when it has none). */
static void read_size(struct progress *p)
{
    struct winsize ws;
    if (ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        p->cols = ws.ws_col;
        p->rows = ws.ws_row;
    } else {
        p->cols = 80;
        p->rows = 24;
    }
}

/* ---- drawing ---- */

/* Appends s cut to width columns, then "clear to end of line". */
static void put_row(struct buf *b, const struct buf *row, size_t width)
{
    progress_text(b, row->p ? row->p : "", row->len, width);
    buf_adds(b, "\x1b[K");
}

/* The status row of the display. */
static void status_row(struct progress *p, struct buf *row, double now, size_t width)
{
    char el[32];
    progress_fmt_elapsed(el, sizeof(el), now - p->start);
    const char *note = p->note ? p->note : p->keys_on ? hint : NULL;
    progress_status_text(row, p->title, p->done, p->total, el, note, width);
}

/* The id column and elapsed column widths for the rows. */
static void column_widths(struct progress *p, double now, int *idw, int *ew)
{
    size_t maxid = 0, maxel = 4; /* "idle" */
    for (size_t i = 0; i < p->nslots; i++) {
        struct slot *s = &p->slots[i];
        if (s->id > maxid)
            maxid = s->id;
        if (s->job) {
            char el[32];
            progress_fmt_elapsed(el, sizeof(el), now - s->start);
            if (strlen(el) > maxel)
                maxel = strlen(el);
        }
    }
    *idw = digits(maxid) < 2 ? 2 : digits(maxid);
    *ew = (int)progress_elapsed_width(maxel);
}

/* Appends the row of slot s. */
static void slot_row(struct buf *row, const struct slot *s, int idw, int ew, double now)
{
    char el[32];
    if (s->job)
        progress_fmt_elapsed(el, sizeof(el), now - s->start);
    progress_row_text(row, s->id, idw, ew, s->job ? el : NULL, s->job, s->stage);
}

/* Columns of a sanitized line (for the repaint after a resize). */
static size_t line_cols(const char *s)
{
    struct buf tmp = {0};
    size_t n = progress_text(&tmp, s, strlen(s), NO_WIDTH);
    buf_free(&tmp);
    return n;
}

/*
 * The inline region: move to its first row, print the held lines (which
 * scroll up), then the rows, each cut to one column less than the width so
 * that none ever wraps. After the terminal shrank, the old rows may have
 * been rewrapped in ways we cannot know, so the screen is cleared and the
 * last lines above the region are painted again.
 */
static void draw_inline(struct progress *p, struct buf *b, double now)
{
    size_t width = p->cols > 1 ? p->cols - 1 : 1;
    size_t nrows = p->nslots + 1;
    if (nrows > p->rows)
        nrows = p->rows; /* the status row stays; slot rows beyond are cut */
    bool shrank = p->drawn && (p->cols < p->drawn_width || p->rows < p->drawn_height);
    if (shrank) {
        buf_printf(b, "\r\x1b[%zuA\x1b[J", p->drawn_height + p->rows);
        /* The last history lines that fit above the region. */
        size_t room = p->rows - nrows, used = 0, k = 0;
        while (k < p->hist_n) {
            const char *l = p->hist[(p->hist_head + p->hist_n - 1 - k) % HISTORY_LINES];
            size_t c = line_cols(l), h = c == 0 ? 1 : (c + p->cols - 1) / p->cols;
            if (used + h > room)
                break;
            used += h;
            k++;
        }
        for (size_t j = k; j > 0; j--) {
            buf_adds(b, p->hist[(p->hist_head + p->hist_n - j) % HISTORY_LINES]);
            buf_adds(b, "\n");
        }
    } else {
        buf_adds(b, "\r");
        if (p->drawn > 1)
            buf_printf(b, "\x1b[%zuA", p->drawn - 1);
    }
    if (p->held.n > 0) {
        if (!shrank)
            buf_adds(b, "\x1b[J");
        for (size_t i = 0; i < p->held.n; i++) {
            buf_adds(b, p->held.v[i]);
            buf_adds(b, "\n");
            hist_push(p, p->held.v[i]);
            p->held.v[i] = NULL;
        }
        p->held.n = 0;
        p->held.v[0] = NULL;
    }
    int idw, ew;
    column_widths(p, now, &idw, &ew);
    struct buf row = {0};
    for (size_t i = 0; i + 1 < nrows; i++) {
        row.len = 0;
        if (i + 2 == nrows && nrows < p->nslots + 1)
            buf_printf(&row, "  (%zu more)", p->nslots - i);
        else
            slot_row(&row, &p->slots[i], idw, ew, now);
        put_row(b, &row, width);
        buf_adds(b, "\n");
    }
    row.len = 0;
    status_row(p, &row, now, width);
    put_row(b, &row, width);
    buf_adds(b, "\x1b[J");
    buf_free(&row);
    p->drawn = nrows;
    p->drawn_width = p->cols;
    p->drawn_height = p->rows;
    guard.region = 1;
}

/* Appends n copies of character c. */
static void add_chars(struct buf *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_add(b, &c, 1);
}

/*
 * One bordered panel of pw columns and h rows into lines[0..h-1]: the title
 * in the top border, then the newest output lines that fit, oldest first.
 */
static void draw_panel(struct buf *lines, size_t h, size_t pw, const struct slot *s, double now)
{
    char el[32];
    progress_fmt_elapsed(el, sizeof(el), now - s->start);
    char *title = s->stage ? xasprintf("[%u] %s (%s) %s", s->id, s->job, s->stage, el)
                           : xasprintf("[%u] %s %s", s->id, s->job, el);
    buf_adds(&lines[0], "+- ");
    size_t c = progress_text(&lines[0], title, strlen(title), pw - 6);
    buf_adds(&lines[0], " ");
    add_chars(&lines[0], '-', pw - 5 - c);
    buf_adds(&lines[0], "+");
    free(title);
    size_t body = h - 2, have = 0;
    if (s->out)
        while (have < body && capture_line(s->out, have))
            have++;
    for (size_t j = 0; j < body; j++) {
        struct buf *l = &lines[1 + j];
        buf_adds(l, "|");
        c = 0;
        if (j < have) {
            const char *t = capture_line(s->out, have - 1 - j);
            c = progress_text(l, t, strlen(t), pw - 2);
        }
        add_spaces(l, pw - 2 - c);
        buf_adds(l, "|");
    }
    buf_adds(&lines[h - 1], "+");
    add_chars(&lines[h - 1], '-', pw - 2);
    buf_adds(&lines[h - 1], "+");
}

/*
 * The grid for n panels in area rows and width columns: nc columns of at
 * least PANEL_MIN_WIDTH, side by side only when stacked panels would be
 * low, and gr rows of at least PANEL_MIN_HEIGHT (so gr * nc may be < n).
 */
static void view_grid(size_t n, size_t area, size_t width, size_t *nc, size_t *gr)
{
    *nc = *gr = 0;
    if (n == 0 || area < PANEL_MIN_HEIGHT || width < 8)
        return;
    size_t maxc = width / PANEL_MIN_WIDTH, c = 1;
    if (maxc < 1)
        maxc = 1;
    if (maxc > n)
        maxc = n;
    while (c < maxc && area / ((n + c - 1) / c) < PANEL_GOOD_HEIGHT)
        c++;
    *nc = c;
    *gr = (n + c - 1) / c;
    if (*gr > area / PANEL_MIN_HEIGHT)
        *gr = area / PANEL_MIN_HEIGHT;
}

/*
 * The 'v' view on the alternate screen: a grid of panels for the busy
 * slots, one line for the idle ones, the status row at the bottom.
 */
static void draw_view(struct progress *p, struct buf *b, double now)
{
    size_t width = p->cols > 1 ? p->cols - 1 : 1, rows = p->rows;
    struct buf *lines = xcalloc(rows, sizeof(*lines));
    size_t *busy = xcalloc(p->nslots + 1, sizeof(*busy));
    size_t n = 0;
    struct buf idle = {0};
    for (size_t i = 0; i < p->nslots; i++) {
        if (p->slots[i].job)
            busy[n++] = i;
        else
            buf_printf(&idle, "%s%u", idle.len ? "," : "[", p->slots[i].id);
    }
    /* Panels above, then a line for the idle slots and the panels that did not fit. */
    size_t area = rows > 1 ? rows - 1 : 0, nc = 0, gr = 0;
    bool info = idle.len > 0 && area > 0;
    if (info)
        area--;
    view_grid(n, area, width, &nc, &gr);
    if (gr * nc < n && !info && area > 0) {
        info = true;
        area--;
        view_grid(n, area, width, &nc, &gr);
    }
    size_t shown = gr * nc < n ? gr * nc : n;
    if (info) {
        if (idle.len)
            buf_adds(&idle, "] idle");
        if (shown < n)
            buf_printf(&idle, "%s(%zu more running)", idle.len ? "  " : "", n - shown);
        progress_text(&lines[area], idle.p, idle.len, width);
    }
    size_t y = 0;
    for (size_t g = 0; g < gr; g++) {
        size_t h = area / gr + (g < area % gr ? 1 : 0);
        for (size_t c = 0; c < nc && g * nc + c < n; c++) {
            size_t pw = c + 1 == nc ? width - (nc - 1) * (width / nc) : width / nc;
            draw_panel(lines + y, h, pw, &p->slots[busy[g * nc + c]], now);
        }
        y += h;
    }
    struct buf row = {0};
    status_row(p, &row, now, width);
    buf_adds(b, "\x1b[H");
    for (size_t r = 0; r < rows; r++) {
        if (r + 1 == rows) {
            put_row(b, &row, width);
        } else {
            buf_add(b, lines[r].p ? lines[r].p : "", lines[r].len);
            buf_adds(b, "\x1b[K");
        }
        if (r + 1 < rows)
            buf_adds(b, "\n");
    }
    for (size_t r = 0; r < rows; r++)
        buf_free(&lines[r]);
    free(lines);
    free(busy);
    buf_free(&idle);
    buf_free(&row);
}

/* Draws the current state in one write (tty mode). */
static void draw(struct progress *p)
{
    p->dirty = false;
    if (!p->tty || p->broken)
        return;
    double now = now_ms();
    struct buf *b = &p->frame;
    b->len = 0;
    if (p->view && !p->alt) {
        buf_adds(b, "\x1b[?1049h");
        p->alt = true;
    } else if (!p->view && p->alt) {
        buf_adds(b, "\x1b[?1049l"); /* the cursor goes back to the end of the region */
        p->alt = false;
    }
    if (p->alt)
        draw_view(p, b, now);
    else
        draw_inline(p, b, now);
    guard.alt = p->alt;
    out_write(p, b->p, b->len);
}

/* ---- handles ---- */

/* Once per loop pass, before the loop waits: draw if something changed. */
static void on_prepare(uv_prepare_t *h)
{
    struct progress *p = h->data;
    if (p->dirty)
        draw(p);
}

/* The clocks moved on. */
static void on_tick(uv_timer_t *t)
{
    struct progress *p = t->data;
    p->dirty = true;
}

/* The rate limit of the view is over: show the output that came meanwhile. */
static void on_rate(uv_timer_t *t)
{
    struct progress *p = t->data;
    if (p->view)
        p->dirty = true;
}

/* The terminal was resized. */
static void on_winch(uv_signal_t *h, int signum)
{
    struct progress *p = h->data;
    read_size(p);
    p->dirty = true;
}

/* Keys from the terminal: 'v' toggles the view; everything else is ignored. */
static void on_keys(uv_poll_t *h, int status, int events)
{
    struct progress *p = h->data;
    char keys[64];
    ssize_t n = status < 0 ? -1 : read(p->kfd, keys, sizeof(keys));
    if (n < 0 && (errno == EAGAIN || errno == EINTR) && status >= 0)
        return;
    if (n <= 0) { /* the terminal is gone */
        uv_poll_stop(h);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (keys[i] == 'v' || keys[i] == 'V')
            progress_toggle_view(p);
    }
}

void progress_toggle_view(struct progress *p)
{
    if (!p->tty)
        return;
    p->view = !p->view;
    p->dirty = true;
}

/* Starts the clock tick while a slot is busy, and stops it when none is. */
static void tick_update(struct progress *p)
{
    if (!p->handles)
        return;
    bool on = uv_is_active((uv_handle_t *)&p->tick);
    if (p->nbusy > 0 && !on)
        uv_timer_start(&p->tick, on_tick, TICK_MS, TICK_MS);
    else if (p->nbusy == 0 && on)
        uv_timer_stop(&p->tick);
}

/*
 * Puts the keyboard terminal in non-canonical no-echo mode (keeping ISIG,
 * so that Ctrl+C is still SIGINT) and watches it on our own non-blocking
 * descriptor, so that fd 0 itself is left untouched. Only when we are its
 * foreground process group: a background job would be stopped (SIGTTOU).
 */
static void keys_start(struct progress *p, int key_fd)
{
    struct termios t;
    if (key_fd < 0 || !isatty(key_fd) || tcgetpgrp(key_fd) != getpgrp() ||
        tcgetattr(key_fd, &t) < 0)
        return;
    const char *name = ttyname(key_fd);
    int kfd = name ? open(name, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) : -1;
    if (kfd < 0)
        return;
    struct termios raw = t;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    guard.saved = t;
    guard.key_fd = key_fd;
    if (tcsetattr(key_fd, TCSANOW, &raw) < 0 || uv_poll_init(p->loop, &p->keys, kfd) < 0) {
        tcsetattr(key_fd, TCSANOW, &t);
        guard.key_fd = -1;
        close(kfd);
        return;
    }
    p->kfd = kfd;
    p->keys.data = p;
    p->keys_on = true;
    p->open++;
    uv_poll_start(&p->keys, UV_READABLE, on_keys);
    uv_unref((uv_handle_t *)&p->keys);
}

/* Routes log_warn and log_debug lines to the display. */
static void on_log(const char *line, void *data)
{
    progress_message(data, line);
}

struct progress *progress_new(const struct progress_opts *o)
{
    struct progress *p = xcalloc(1, sizeof(*p));
    p->loop = o->loop;
    p->fd = o->fd;
    p->tty = o->tty;
    p->kfd = -1;
    p->title = xstrdup(o->title ? o->title : "Building");
    p->nslots = o->nslots;
    p->slots = xcalloc(o->nslots + 1, sizeof(*p->slots));
    for (size_t i = 0; i < o->nslots; i++)
        p->slots[i].id = o->ids ? o->ids[i] : (unsigned)i;
    p->start = now_ms();
    log_set_hook(on_log, p);
    if (!p->tty)
        return p;

    read_size(p);
    if (!guard.armed) { /* one terminal display at a time */
        guard_arm(p->fd);
        p->guarded = true;
    }
    p->handles = true;
    uv_prepare_init(p->loop, &p->prep);
    uv_timer_init(p->loop, &p->tick);
    uv_timer_init(p->loop, &p->rate);
    uv_signal_init(p->loop, &p->winch);
    p->open = 4;
    p->prep.data = p->tick.data = p->rate.data = p->winch.data = p;
    uv_prepare_start(&p->prep, on_prepare);
    uv_signal_start(&p->winch, on_winch, SIGWINCH);
    uv_unref((uv_handle_t *)&p->prep);
    uv_unref((uv_handle_t *)&p->tick);
    uv_unref((uv_handle_t *)&p->rate);
    uv_unref((uv_handle_t *)&p->winch);
    if (p->guarded)
        keys_start(p, o->key_fd);
    out_write(p, "\x1b[?25l", 6);
    guard.cursor_hidden = 1;
    p->dirty = true;
    return p;
}

void progress_set_total(struct progress *p, size_t total)
{
    if (p->total != total) {
        p->total = total;
        p->dirty = p->tty;
    }
}

void progress_slot_start(struct progress *p, size_t slot, unsigned id, const char *job)
{
    if (slot >= p->nslots)
        return;
    struct slot *s = &p->slots[slot];
    if (!s->job)
        p->nbusy++;
    free(s->job);
    free(s->stage);
    s->job = xstrdup(job);
    s->stage = NULL;
    s->id = id;
    s->start = now_ms();
    s->out = NULL;
    if (!p->tty) {
        plain_line(p, p->title, job, NULL);
        return;
    }
    p->dirty = true;
    tick_update(p);
}

void progress_slot_stage(struct progress *p, size_t slot, const char *stage)
{
    if (slot >= p->nslots || !p->slots[slot].job || !str_differ(p->slots[slot].stage, stage))
        return;
    free(p->slots[slot].stage);
    p->slots[slot].stage = dup_or_null(stage);
    p->dirty = p->tty;
}

void progress_slot_output(struct progress *p, size_t slot, const struct capture *c)
{
    if (slot >= p->nslots || p->slots[slot].out == c)
        return;
    p->slots[slot].out = c;
    if (p->view)
        p->dirty = true;
}

void progress_slot_touch(struct progress *p, size_t slot)
{
    if (!p->view || !p->handles || uv_is_active((uv_handle_t *)&p->rate))
        return;
    uv_timer_start(&p->rate, on_rate, VIEW_RATE_MS, 0);
}

void progress_slot_idle(struct progress *p, size_t slot)
{
    if (slot >= p->nslots || !p->slots[slot].job)
        return;
    struct slot *s = &p->slots[slot];
    free(s->job);
    free(s->stage);
    s->job = s->stage = NULL;
    s->out = NULL;
    p->nbusy--;
    p->dirty = p->tty;
    tick_update(p);
}

void progress_finished(struct progress *p, bool ok, const char *job, const char *detail)
{
    p->done++;
    if (p->tty)
        hold(p, ok ? "Built" : "Failed", job, detail);
    else
        plain_line(p, ok ? "Built" : "Failed", job, detail);
}

void progress_skipped(struct progress *p, const char *job, const char *why)
{
    p->done++;
    if (p->tty)
        hold(p, "Skipped", job, why);
    else
        plain_line(p, "Skipped", job, why);
}

void progress_message(struct progress *p, const char *line)
{
    /* One line per line of the message; a final newline adds none. */
    const char *s = line;
    for (;;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        if (p->tty) {
            char *part = xstrndup(s, n);
            hold(p, NULL, part, NULL);
            free(part);
        } else {
            struct buf b = {0};
            progress_text(&b, s, n, NO_WIDTH);
            buf_adds(&b, "\n");
            out_write(p, b.p, b.len);
            buf_free(&b);
        }
        if (!nl || !nl[1])
            break;
        s = nl + 1;
    }
}

void progress_set_note(struct progress *p, const char *note)
{
    if (note && !*note)
        note = NULL;
    if (!str_differ(p->note, note))
        return;
    free(p->note);
    p->note = dup_or_null(note);
    if (p->tty) {
        p->dirty = true;
    } else if (note) {
        struct buf b = {0};
        char first = note[0] >= 'a' && note[0] <= 'z' ? (char)(note[0] - 'a' + 'A') : note[0];
        buf_add(&b, &first, 1);
        progress_text(&b, note + 1, strlen(note + 1), NO_WIDTH);
        buf_adds(&b, "\n");
        out_write(p, b.p, b.len);
        buf_free(&b);
    }
}

/* Frees what the object owns besides its handles. */
static void release(struct progress *p)
{
    for (size_t i = 0; i < p->nslots; i++) {
        free(p->slots[i].job);
        free(p->slots[i].stage);
    }
    free(p->slots);
    free(p->title);
    free(p->note);
    strv_free(&p->held);
    for (size_t i = 0; i < p->hist_n; i++)
        free(p->hist[(p->hist_head + i) % HISTORY_LINES]);
    buf_free(&p->frame);
    free(p);
}

/* A handle is closed; the last one frees the object. */
static void on_close(uv_handle_t *h)
{
    struct progress *p = h->data;
    if (h == (uv_handle_t *)&p->keys)
        close(p->kfd);
    if (--p->open == 0)
        release(p);
}

void progress_free(struct progress *p)
{
    if (!p)
        return;
    log_set_hook(NULL, NULL);
    if (!p->tty) {
        release(p);
        return;
    }
    /* Leave the view, erase the region, print what was held, show the cursor. */
    struct buf *b = &p->frame;
    b->len = 0;
    if (p->alt)
        buf_adds(b, "\x1b[?1049l");
    if (p->drawn) {
        buf_adds(b, "\r");
        if (p->drawn > 1)
            buf_printf(b, "\x1b[%zuA", p->drawn - 1);
        buf_adds(b, "\x1b[J");
    }
    for (size_t i = 0; i < p->held.n; i++) {
        buf_adds(b, p->held.v[i]);
        buf_adds(b, "\n");
    }
    buf_adds(b, "\x1b[?25h");
    out_write(p, b->p, b->len);
    if (p->guarded) {
        if (guard.key_fd >= 0)
            tcsetattr(guard.key_fd, TCSANOW, &guard.saved);
        guard_disarm();
        guard.alt = guard.region = guard.cursor_hidden = 0;
    }
    uv_close((uv_handle_t *)&p->prep, on_close);
    uv_close((uv_handle_t *)&p->tick, on_close);
    uv_close((uv_handle_t *)&p->rate, on_close);
    uv_close((uv_handle_t *)&p->winch, on_close);
    if (p->keys_on)
        uv_close((uv_handle_t *)&p->keys, on_close);
}
