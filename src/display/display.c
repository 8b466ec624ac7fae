/* The live progress display: rows per slot, the status row, plain lines (display.h). */
#include "display/display.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "display/row.h"
#include "display/term.h"
#include "display/text.h"
#include "display/view.h"
#include "util/util.h"

#define DISPLAY_TICK_MS 1000       /* the clocks of the rows */
#define DISPLAY_VIEW_RATE_MS 200   /* the 'v' view follows output at most this often */
#define DISPLAY_HISTORY_LINES 256  /* lines above the region kept to repaint after a resize */
#define DISPLAY_PLAIN_VERB_WIDTH 8 /* "   Built" */
#define DISPLAY_WRITE_WAIT_MS 5000 /* a terminal that takes no output this long is given up */

static const char display_hint[] = "press 'v' to toggle panel view, 'q' to stop";
static const char display_view_hint[] = "Tab/arrows: panel, PgUp/PgDn: scroll, v: back";

struct display {
    uv_loop_t *loop;
    int fd;
    bool tty;
    bool broken; /* a write failed: the display is off */
    char *title;
    char *done_verb; /* "Built", "Scanned" */
    size_t nslots, nbusy;
    struct view_slot *slots;
    size_t done, total;
    size_t nok, nfailed, nskipped, nuptodate; /* the counts of the status row */
    double (*eta)(void *data, double now);    /* ms left, <0 unknown (display_set_eta) */
    void *eta_data;
    bool color; /* on a terminal, without NO_COLOR */
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
    struct strv held;                  /* sanitized lines for above the region, not printed yet */
    char *hist[DISPLAY_HISTORY_LINES]; /* the last lines printed above the region */
    size_t hist_head, hist_n;
    struct buf frame;
    /* handles, all unreferenced: the display never keeps the loop alive */
    bool handles;
    bool guarded;      /* this display armed the terminal guard */
    bool freed;        /* display_free was called: the last close frees the object */
    int open;          /* handles not closed yet */
    uv_prepare_t prep; /* draws once per loop pass when dirty */
    uv_timer_t tick;   /* the clocks, only while a slot is busy */
    uv_timer_t rate;   /* limits redraws of the 'v' view on output */
    uv_signal_t winch;
    bool keys_on;
    size_t sel;    /* the 'v' view's selected panel: a slot index (nslots: none yet) */
    size_t scroll; /* how many lines back it shows */
    char esc[8];   /* an escape sequence read in part (arrows, PgUp, PgDn, Shift-Tab) */
    size_t nesc;
    int kfd; /* our own non-blocking descriptor of the keyboard terminal */
    uv_poll_t keys;
    /* plain mode: the status line, on a timer and on SIGUSR1 */
    bool plain_handles;
    uv_timer_t status;
    uv_signal_t usr1;
#ifdef SIGINFO
    uv_signal_t info;
#endif
};

static void display_on_close(uv_handle_t *h);

/* ---- output ---- */

/* Writes all of s to the display, or turns the display off when that fails. */
static void display_out_write(struct display *p, const char *s, size_t n)
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
            if (poll(&pf, 1, DISPLAY_WRITE_WAIT_MS) <= 0)
                p->broken = true;
        } else {
            p->broken = true;
        }
    }
}

/* A copy of s, or NULL. */
static char *display_dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* Whether two optional strings differ. */
static bool display_str_differ(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Number of decimal digits of n. */
static int display_digits(size_t n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* Appends "<verb right-aligned in w> <job> (<detail>)", sanitized; verb and detail may be NULL. */
static void display_event_text(struct buf *b, const char *verb, int w, const char *job,
                               const char *detail)
{
    if (verb)
        buf_printf(b, "%*s ", w, verb);
    text_sanitize(b, job, strlen(job), TEXT_NO_WIDTH);
    if (detail) {
        buf_adds(b, " (");
        text_sanitize(b, detail, strlen(detail), TEXT_NO_WIDTH);
        buf_adds(b, ")");
    }
}

/* Writes one plain-mode line: "[ 3/40] Building zlib (detail)". */
static void display_plain_line(struct display *p, const char *verb, const char *job,
                               const char *detail)
{
    struct buf b = {0};
    if (p->total)
        buf_printf(&b, "[%*zu/%zu] ", display_digits(p->total), p->done, p->total);
    else
        buf_printf(&b, "[%zu] ", p->done);
    display_event_text(&b, verb, DISPLAY_PLAIN_VERB_WIDTH, job, detail);
    buf_adds(&b, "\n");
    display_out_write(p, b.p, b.len);
    buf_free(&b);
}

/* Queues a line for above the region (tty mode): "       Built zlib (detail)". */
static void display_hold(struct display *p, const char *verb, const char *job, const char *detail)
{
    struct buf b = {0};
    /* Failures red, successes green, skips dim: the verb only, the rest as it is. */
    const char *sgr = !p->color || !verb                ? NULL
                      : strcmp(verb, "Failed") == 0     ? "\x1b[1;31m"
                      : strcmp(verb, p->done_verb) == 0 ? "\x1b[32m"
                      : strcmp(verb, "Skipped") == 0    ? "\x1b[2m"
                                                        : NULL;
    if (sgr) {
        buf_printf(&b, "%s%*s\x1b[0m", sgr, ROW_VERB_WIDTH, verb);
        display_event_text(&b, "", 0, job, detail);
    } else {
        display_event_text(&b, verb, ROW_VERB_WIDTH, job, detail);
    }
    strv_push_owned(&p->held, b.p ? b.p : xstrdup(""));
    p->dirty = true;
}

/* Keeps a printed line for repainting after a resize (takes it). */
static void display_hist_push(struct display *p, char *line)
{
    size_t at = (p->hist_head + p->hist_n) % DISPLAY_HISTORY_LINES;
    if (p->hist_n == DISPLAY_HISTORY_LINES) {
        free(p->hist[p->hist_head]);
        p->hist_head = (p->hist_head + 1) % DISPLAY_HISTORY_LINES;
    } else {
        p->hist_n++;
    }
    p->hist[at] = line;
}

/* Reads the terminal size of the display (80x24 when it has none). */
static void display_read_size(struct display *p)
{
    term_size(p->fd, &p->cols, &p->rows);
}

/* ---- drawing ---- */

/* Appends s cut to width columns, then "clear to end of line". */
static void display_put_row(struct buf *b, const struct buf *row, size_t width)
{
    text_sanitize(b, row->p ? row->p : "", row->len, width);
    buf_adds(b, "\x1b[K");
}

/* The status row of the display. */
static void display_status_row(struct display *p, struct buf *row, double now, size_t width)
{
    char el[32], eta[32] = "";
    struct buf counts = {0};
    double left = p->eta ? p->eta(p->eta_data, now) : -1;
    row_fmt_elapsed(el, sizeof(el), now - p->start);
    if (left >= 0)
        row_fmt_elapsed(eta, sizeof(eta), left);
    row_counts_text(&counts, p->nok, p->nfailed, p->nskipped, p->nuptodate, p->nbusy,
                    left >= 0 ? eta : NULL);
    const char *note = p->note       ? p->note
                       : !p->keys_on ? NULL
                       : p->view     ? display_view_hint
                                     : display_hint;
    row_status_text(row, p->title, p->done, p->total, el, counts.p, note, width);
    buf_free(&counts);
}

/* The id column and elapsed column widths for the rows. */
static void display_column_widths(struct display *p, double now, int *idw, int *ew)
{
    size_t maxid = 0, maxel = 4; /* "idle" */
    for (size_t i = 0; i < p->nslots; i++) {
        struct view_slot *s = &p->slots[i];
        if (s->id > maxid)
            maxid = s->id;
        if (s->job) {
            char el[32];
            row_fmt_elapsed(el, sizeof(el), now - s->start);
            if (strlen(el) > maxel)
                maxel = strlen(el);
        }
    }
    *idw = display_digits(maxid) < 2 ? 2 : display_digits(maxid);
    *ew = (int)row_elapsed_width(maxel);
}

/* Appends the row of slot s. */
static void display_slot_row(struct buf *row, const struct view_slot *s, int idw, int ew,
                             double now)
{
    char el[32];
    if (s->job)
        row_fmt_elapsed(el, sizeof(el), now - s->start);
    row_slot_text(row, s->id, idw, ew, s->job ? el : NULL, s->job, s->stage);
}

/* Columns of a sanitized line (for the repaint after a resize). */
static size_t display_line_cols(const char *s)
{
    struct buf tmp = {0};
    size_t n = text_sanitize(&tmp, s, strlen(s), TEXT_NO_WIDTH);
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
static void display_draw_inline(struct display *p, struct buf *b, double now)
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
            const char *l = p->hist[(p->hist_head + p->hist_n - 1 - k) % DISPLAY_HISTORY_LINES];
            size_t c = display_line_cols(l), h = c == 0 ? 1 : (c + p->cols - 1) / p->cols;
            if (used + h > room)
                break;
            used += h;
            k++;
        }
        for (size_t j = k; j > 0; j--) {
            buf_adds(b, p->hist[(p->hist_head + p->hist_n - j) % DISPLAY_HISTORY_LINES]);
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
            display_hist_push(p, p->held.v[i]);
            p->held.v[i] = NULL;
        }
        p->held.n = 0;
        p->held.v[0] = NULL;
    }
    int idw, ew;
    display_column_widths(p, now, &idw, &ew);
    struct buf row = {0};
    for (size_t i = 0; i + 1 < nrows; i++) {
        row.len = 0;
        if (i + 2 == nrows && nrows < p->nslots + 1)
            buf_printf(&row, "  (%zu more)", p->nslots - i);
        else
            display_slot_row(&row, &p->slots[i], idw, ew, now);
        display_put_row(b, &row, width);
        buf_adds(b, "\n");
    }
    row.len = 0;
    display_status_row(p, &row, now, width);
    display_put_row(b, &row, width);
    buf_adds(b, "\x1b[J");
    buf_free(&row);
    p->drawn = nrows;
    p->drawn_width = p->cols;
    p->drawn_height = p->rows;
    term_guard_mark(TERM_REGION, true);
}

/* Draws the current state in one write (tty mode). */
static void display_draw(struct display *p)
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
    if (p->alt) {
        struct buf row = {0};
        display_status_row(p, &row, now, p->cols > 1 ? p->cols - 1 : 1);
        view_draw(b, p->slots, p->nslots, p->cols, p->rows, &row, now, p->sel, p->scroll);
        buf_free(&row);
    } else {
        display_draw_inline(p, b, now);
    }
    term_guard_mark(TERM_ALT, p->alt);
    display_out_write(p, b->p, b->len);
}

/* ---- handles ---- */

/* Once per loop pass, before the loop waits: draw if something changed. */
static void display_on_prepare(uv_prepare_t *h)
{
    struct display *p = h->data;
    if (p->dirty)
        display_draw(p);
}

/* The clocks moved on. */
static void display_on_tick(uv_timer_t *t)
{
    struct display *p = t->data;
    p->dirty = true;
}

/* The rate limit of the view is over: show the output that came meanwhile. */
static void display_on_rate(uv_timer_t *t)
{
    struct display *p = t->data;
    if (p->view)
        p->dirty = true;
}

/* The terminal was resized. */
static void display_on_winch(uv_signal_t *h, int signum)
{
    struct display *p = h->data;
    display_read_size(p);
    p->dirty = true;
}

/* The next (dir 1) or previous (dir -1) busy slot after p->sel, for the view's selection. */
static void display_select(struct display *p, int dir)
{
    size_t n = p->nslots, at = p->sel < n ? p->sel : (dir > 0 ? n - 1 : 0);
    for (size_t k = 0; k < n; k++) {
        at = dir > 0 ? (at + 1) % n : (at + n - 1) % n;
        if (p->slots[at].job) {
            p->sel = at;
            p->scroll = 0;
            p->dirty = true;
            return;
        }
    }
}

/*
 * One byte from the keyboard. In the view: Tab, Right and Down select the
 * next panel, Shift-Tab, Left and Up the previous one, PgUp and PgDn
 * scroll the selected one by half a screen (End: back to the newest).
 */
static void display_key(struct display *p, char k)
{
    size_t page = p->rows > 8 ? p->rows / 2 : 4;
    if (p->nesc || k == '\x1b') {
        const char *seq;
        if (p->nesc < sizeof(p->esc) - 1)
            p->esc[p->nesc++] = k;
        p->esc[p->nesc] = '\0';
        seq = p->esc;
        /* Complete: ESC [ then a final byte (a letter or '~'); else wait for more. */
        if (p->nesc < 3 || !((k >= 'A' && k <= 'Z') || k == '~'))
            return;
        p->nesc = 0;
        if (!p->view)
            return;
        if (!strcmp(seq, "\x1b[C") || !strcmp(seq, "\x1b[B"))
            display_select(p, 1);
        else if (!strcmp(seq, "\x1b[D") || !strcmp(seq, "\x1b[A") || !strcmp(seq, "\x1b[Z"))
            display_select(p, -1);
        else if (!strcmp(seq, "\x1b[5~") && p->sel < p->nslots)
            p->scroll += page;
        else if (!strcmp(seq, "\x1b[6~") && p->sel < p->nslots)
            p->scroll = p->scroll > page ? p->scroll - page : 0;
        else if (!strcmp(seq, "\x1b[F") || !strcmp(seq, "\x1b[4~"))
            p->scroll = 0;
        p->dirty = true;
        return;
    }
    if (k == 'v' || k == 'V')
        display_toggle_view(p);
    else if (k == 'q' || k == 'Q')
        kill(getpid(), SIGINT);
    else if (k == '\t' && p->view)
        display_select(p, 1);
}

/*
 * Keys from the terminal: 'v' toggles the view; 'q' asks to stop as Ctrl+C
 * does (the same signal, so the same path: once stops, twice kills);
 * everything else is ignored.
 */
static void display_on_keys(uv_poll_t *h, int status, int events)
{
    struct display *p = h->data;
    char keys[64];
    ssize_t n = status < 0 ? -1 : read(p->kfd, keys, sizeof(keys));
    if (n < 0 && (errno == EAGAIN || errno == EINTR) && status >= 0)
        return;
    if (n <= 0) { /* the terminal is gone */
        uv_poll_stop(h);
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        display_key(p, keys[i]);
}

void display_toggle_view(struct display *p)
{
    if (!p->tty)
        return;
    p->view = !p->view;
    p->dirty = true;
}

bool display_tick_active(const struct display *p)
{
    return p->handles && uv_is_active((const uv_handle_t *)&p->tick);
}

/* Starts the clock tick while a slot is busy, and stops it when none is. */
static void display_tick_update(struct display *p)
{
    if (!p->handles)
        return;
    bool on = uv_is_active((uv_handle_t *)&p->tick);
    if (p->nbusy > 0 && !on) {
        int r = uv_timer_start(&p->tick, display_on_tick, DISPLAY_TICK_MS, DISPLAY_TICK_MS);
        if (r < 0) /* the clocks then move on each change only */
            log_debug("display: no clock tick: %s", uv_strerror(r));
    } else if (p->nbusy == 0 && on) {
        uv_timer_stop(&p->tick); /* cannot fail */
    }
}

/*
 * Watches the keyboard for 'v' (term_keys_start puts it in a mode where
 * each key arrives at once); without it the display shows no key hint.
 */
static void display_keys_start(struct display *p, int key_fd)
{
    int kfd = term_keys_start(key_fd);
    if (kfd < 0)
        return;
    if (uv_poll_init(p->loop, &p->keys, kfd) < 0) {
        term_keys_stop();
        close(kfd);
        return;
    }
    p->kfd = kfd;
    p->keys.data = p;
    p->open++;
    uv_unref((uv_handle_t *)&p->keys);
    int r = uv_poll_start(&p->keys, UV_READABLE, display_on_keys);
    if (r < 0) {
        log_debug("display: cannot watch the keyboard: %s", uv_strerror(r));
        term_keys_stop();
        uv_close((uv_handle_t *)&p->keys, display_on_close); /* closes kfd */
        return;
    }
    p->keys_on = true;
}

/*
 * Starts the handles of tty mode: 0, or -errno with every handle that was
 * started closed again (the display then falls back to plain lines).
 */
static int display_handles_start(struct display *p)
{
    int r;
    if ((r = uv_prepare_init(p->loop, &p->prep)) < 0)
        return r;
    p->prep.data = p;
    p->open++;
    uv_unref((uv_handle_t *)&p->prep);
    if ((r = uv_timer_init(p->loop, &p->tick)) < 0)
        goto fail_prep;
    p->tick.data = p;
    p->open++;
    uv_unref((uv_handle_t *)&p->tick);
    if ((r = uv_timer_init(p->loop, &p->rate)) < 0)
        goto fail_tick;
    p->rate.data = p;
    p->open++;
    uv_unref((uv_handle_t *)&p->rate);
    if ((r = uv_signal_init(p->loop, &p->winch)) < 0)
        goto fail_rate;
    p->winch.data = p;
    p->open++;
    uv_unref((uv_handle_t *)&p->winch);
    if ((r = uv_prepare_start(&p->prep, display_on_prepare)) < 0 ||
        (r = uv_signal_start(&p->winch, display_on_winch, SIGWINCH)) < 0)
        goto fail_winch;
    return 0;
fail_winch:
    uv_close((uv_handle_t *)&p->winch, display_on_close);
fail_rate:
    uv_close((uv_handle_t *)&p->rate, display_on_close);
fail_tick:
    uv_close((uv_handle_t *)&p->tick, display_on_close);
fail_prep:
    uv_close((uv_handle_t *)&p->prep, display_on_close);
    return r;
}

/* Routes log_warn and log_debug lines to the display. */
static void display_on_log(const char *line, void *data)
{
    display_message(data, line);
}

/* Plain mode: "Status: 12/40 done (10 ok, 1 failed, ETA 3m 2s); running: zlib (configure, 1m 2s),
 * ...". */
static void display_plain_status(struct display *p)
{
    struct buf b = {0}, counts = {0};
    double now = now_ms(), left = p->eta ? p->eta(p->eta_data, now) : -1;
    char el[32], eta[32];
    bool first = true;
    if (left >= 0)
        row_fmt_elapsed(eta, sizeof(eta), left);
    row_counts_text(&counts, p->nok, p->nfailed, p->nskipped, p->nuptodate, 0,
                    left >= 0 ? eta : NULL);
    buf_printf(&b, "Status: %zu/%zu done", p->done, p->total);
    if (counts.len)
        buf_printf(&b, " (%s)", counts.p);
    for (size_t i = 0; i < p->nslots; i++) {
        const struct view_slot *s = &p->slots[i];
        if (!s->job)
            continue;
        row_fmt_elapsed(el, sizeof(el), now - s->start);
        buf_adds(&b, first ? "; running: " : ", ");
        first = false;
        text_sanitize(&b, s->job, strlen(s->job), TEXT_NO_WIDTH);
        buf_adds(&b, " (");
        if (s->stage) {
            text_sanitize(&b, s->stage, strlen(s->stage), TEXT_NO_WIDTH);
            buf_adds(&b, ", ");
        }
        buf_printf(&b, "%s)", el);
    }
    if (first)
        buf_adds(&b, "; nothing running");
    buf_adds(&b, "\n");
    display_out_write(p, b.p, b.len);
    buf_free(&b);
    buf_free(&counts);
}

static void display_on_status(uv_timer_t *t)
{
    display_plain_status(t->data);
}

static void display_on_usr1(uv_signal_t *h, int signum)
{
    (void)signum;
    display_plain_status(h->data);
}

/* Plain mode: the status line's timer and signals, none of which keeps the loop alive. */
static void display_plain_start(struct display *p, unsigned every_ms)
{
    uv_signal_t *sigs[] = {
        &p->usr1,
#ifdef SIGINFO
        &p->info,
#endif
    };
    const int nums[] = {
        SIGUSR1,
#ifdef SIGINFO
        SIGINFO,
#endif
    };
    if (uv_timer_init(p->loop, &p->status) < 0)
        return;
    p->status.data = p;
    p->open++;
    uv_unref((uv_handle_t *)&p->status);
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (uv_signal_init(p->loop, sigs[i]) < 0)
            abort(); /* cannot fail on Unix */
        sigs[i]->data = p;
        p->open++;
        uv_unref((uv_handle_t *)sigs[i]);
        (void)uv_signal_start(sigs[i], display_on_usr1, nums[i]);
    }
    p->plain_handles = true;
    if (every_ms)
        (void)uv_timer_start(&p->status, display_on_status, every_ms, every_ms);
}

struct display *display_new(const struct display_opts *o)
{
    struct display *p = xcalloc(1, sizeof(*p));
    p->loop = o->loop;
    p->fd = o->fd;
    p->tty = o->tty;
    p->kfd = -1;
    p->title = xstrdup(o->title ? o->title : "Building");
    p->done_verb = xstrdup(o->done_verb ? o->done_verb : "Built");
    p->nslots = o->nslots;
    p->sel = o->nslots; /* no panel selected yet */
    p->slots = xcalloc(o->nslots + 1, sizeof(*p->slots));
    for (size_t i = 0; i < o->nslots; i++)
        p->slots[i].id = o->ids ? o->ids[i] : (unsigned)i;
    p->start = now_ms();
    log_set_hook(display_on_log, p);
    if (!p->tty) {
        if (p->loop)
            display_plain_start(p, o->status_ms);
        return p;
    }
    {
        const char *nc = getenv("NO_COLOR"); /* no-color.org: any non-empty value */
        p->color = !(nc && *nc);
    }

    int r = display_handles_start(p);
    if (r < 0) {
        p->tty = false;
        log_debug("display: plain lines, no live region: %s", uv_strerror(r));
        return p;
    }
    p->handles = true;
    display_read_size(p);
    p->guarded = term_guard_arm(p->fd); /* one terminal display at a time */
    if (p->guarded)
        display_keys_start(p, o->key_fd);
    display_out_write(p, "\x1b[?25l", 6);
    term_guard_mark(TERM_CURSOR_HIDDEN, true);
    p->dirty = true;
    return p;
}

void display_set_total(struct display *p, size_t total)
{
    if (p->total != total) {
        p->total = total;
        p->dirty = p->tty;
    }
}

void display_slot_start(struct display *p, size_t slot, unsigned id, const char *job)
{
    if (slot >= p->nslots)
        return;
    struct view_slot *s = &p->slots[slot];
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
        display_plain_line(p, p->title, job, NULL);
        return;
    }
    p->dirty = true;
    display_tick_update(p);
}

void display_slot_stage(struct display *p, size_t slot, const char *stage)
{
    if (slot >= p->nslots || !p->slots[slot].job ||
        !display_str_differ(p->slots[slot].stage, stage))
        return;
    free(p->slots[slot].stage);
    p->slots[slot].stage = display_dup_or_null(stage);
    p->dirty = p->tty;
}

void display_slot_output(struct display *p, size_t slot, const struct capture *c)
{
    if (slot >= p->nslots || p->slots[slot].out == c)
        return;
    p->slots[slot].out = c;
    if (p->view)
        p->dirty = true;
}

void display_slot_touch(struct display *p, size_t slot)
{
    if (!p->view || !p->handles || uv_is_active((uv_handle_t *)&p->rate))
        return;
    if (uv_timer_start(&p->rate, display_on_rate, DISPLAY_VIEW_RATE_MS, 0) < 0)
        p->dirty = true; /* no rate limit then: the next loop pass draws */
}

void display_slot_idle(struct display *p, size_t slot)
{
    if (slot >= p->nslots || !p->slots[slot].job)
        return;
    struct view_slot *s = &p->slots[slot];
    free(s->job);
    free(s->stage);
    s->job = s->stage = NULL;
    s->out = NULL;
    p->nbusy--;
    p->dirty = p->tty;
    display_tick_update(p);
}

void display_set_uptodate(struct display *p, size_t n)
{
    p->nuptodate = n;
    p->dirty = true;
}

void display_set_eta(struct display *p, double (*eta)(void *data, double now), void *data)
{
    p->eta = eta;
    p->eta_data = data;
}

void display_finished(struct display *p, bool ok, const char *job, const char *detail)
{
    p->done++;
    if (ok)
        p->nok++;
    else
        p->nfailed++;
    if (p->tty)
        display_hold(p, ok ? p->done_verb : "Failed", job, detail);
    else
        display_plain_line(p, ok ? p->done_verb : "Failed", job, detail);
}

void display_skipped(struct display *p, const char *job, const char *why)
{
    p->done++;
    p->nskipped++;
    if (p->tty)
        display_hold(p, "Skipped", job, why);
    else
        display_plain_line(p, "Skipped", job, why);
}

void display_message(struct display *p, const char *line)
{
    /* One line per line of the message; a final newline adds none. */
    const char *s = line;
    for (;;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        if (p->tty) {
            char *part = xstrndup(s, n);
            display_hold(p, NULL, part, NULL);
            free(part);
        } else {
            struct buf b = {0};
            text_sanitize(&b, s, n, TEXT_NO_WIDTH);
            buf_adds(&b, "\n");
            display_out_write(p, b.p, b.len);
            buf_free(&b);
        }
        if (!nl || !nl[1])
            break;
        s = nl + 1;
    }
}

void display_set_note(struct display *p, const char *note)
{
    if (note && !*note)
        note = NULL;
    if (!display_str_differ(p->note, note))
        return;
    free(p->note);
    p->note = display_dup_or_null(note);
    if (p->tty) {
        p->dirty = true;
    } else if (note) {
        struct buf b = {0};
        char first = note[0] >= 'a' && note[0] <= 'z' ? (char)(note[0] - 'a' + 'A') : note[0];
        buf_add(&b, &first, 1);
        text_sanitize(&b, note + 1, strlen(note + 1), TEXT_NO_WIDTH);
        buf_adds(&b, "\n");
        display_out_write(p, b.p, b.len);
        buf_free(&b);
    }
}

/* Frees what the object owns besides its handles. */
static void display_release(struct display *p)
{
    for (size_t i = 0; i < p->nslots; i++) {
        free(p->slots[i].job);
        free(p->slots[i].stage);
    }
    free(p->slots);
    free(p->title);
    free(p->done_verb);
    free(p->note);
    strv_free(&p->held);
    for (size_t i = 0; i < p->hist_n; i++)
        free(p->hist[(p->hist_head + i) % DISPLAY_HISTORY_LINES]);
    buf_free(&p->frame);
    free(p);
}

/* A handle is closed; after display_free, the last one frees the object. */
static void display_on_close(uv_handle_t *h)
{
    struct display *p = h->data;
    if (h == (uv_handle_t *)&p->keys)
        close(p->kfd);
    if (--p->open == 0 && p->freed)
        display_release(p);
}

void display_free(struct display *p)
{
    if (!p)
        return;
    log_set_hook(NULL, NULL);
    p->freed = true;
    if (!p->tty) {
        if (p->plain_handles) {
            uv_close((uv_handle_t *)&p->status, display_on_close);
            uv_close((uv_handle_t *)&p->usr1, display_on_close);
#ifdef SIGINFO
            uv_close((uv_handle_t *)&p->info, display_on_close);
#endif
        } else if (p->open == 0) { /* else the close of a handle that failed to start frees it */
            display_release(p);
        }
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
    display_out_write(p, b->p, b->len);
    if (p->guarded)
        term_guard_disarm();
    uv_close((uv_handle_t *)&p->prep, display_on_close);
    uv_close((uv_handle_t *)&p->tick, display_on_close);
    uv_close((uv_handle_t *)&p->rate, display_on_close);
    uv_close((uv_handle_t *)&p->winch, display_on_close);
    if (p->keys_on)
        uv_close((uv_handle_t *)&p->keys, display_on_close);
}
