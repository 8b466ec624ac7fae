/* The rows of the display as pure text (row.h). */
#include "display/row.h"

#include <stdio.h>
#include <string.h>

#define ROW_BAR_MAX 30
#define ROW_BAR_MIN 10 /* the bar shrinks below this only when nothing else fits */

void row_fmt_elapsed(char *out, size_t n, double ms)
{
    if (ms < 0)
        ms = 0;
    /* Cut to tenths so that 59.96 s shows as 59.9s, never 60.0s. */
    fmt_duration(out, n, (double)(long long)(ms / 100) * 100);
}

size_t row_elapsed_width(size_t len)
{
    static const size_t steps[] = {6, 8, 9, 13};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (len + 1 <= steps[i])
            return steps[i];
    return len + 1;
}

void row_slot_text(struct buf *out, unsigned id, int idw, int ew, const char *elapsed,
                   const char *job, const char *stage)
{
    buf_printf(out, "  [%*u:%*s ]", idw, id, ew, elapsed ? elapsed : "idle");
    if (elapsed && job) {
        buf_printf(out, " %s", job);
        if (stage)
            buf_printf(out, " (%s)", stage);
    }
}

void row_counts_text(struct buf *out, size_t ok, size_t failed, size_t skipped, size_t uptodate,
                     size_t running, const char *eta)
{
    const struct {
        size_t n;
        const char *what;
    } c[] = {{ok, "ok"},
             {failed, "failed"},
             {skipped, "skipped"},
             {uptodate, "up to date"},
             {running, "running"}};
    size_t start = out->len;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        if (c[i].n)
            buf_printf(out, "%s%zu %s", out->len > start ? ", " : "", c[i].n, c[i].what);
    if (eta)
        buf_printf(out, "%sETA %s", out->len > start ? ", " : "", eta);
}

void row_status_text(struct buf *out, const char *title, size_t done, size_t total,
                     const char *elapsed, const char *counts_text, const char *note, size_t width)
{
    char counts[48];
    snprintf(counts, sizeof(counts), "%zu/%zu", done, total);
    /* "<title:12> [" bar "] " counts " " elapsed ["  " counts_text] ["  (" note ")"] */
    size_t fixed = ROW_VERB_WIDTH + 2 + 2 + strlen(counts) + 1 + strlen(elapsed);
    size_t extra = note ? strlen(note) + 4 : 0;
    size_t ctext = counts_text && *counts_text ? strlen(counts_text) + 2 : 0;
    /* A note ("stopping, ^C again...") says more than the counts: they go first. */
    if (note && ctext && width < fixed + ctext + extra + ROW_BAR_MIN)
        counts_text = NULL;
    else
        fixed += ctext;
    size_t bar;
    if (width >= fixed + extra + ROW_BAR_MIN)
        bar = width - fixed - extra;
    else if (width >= fixed + ROW_BAR_MIN)
        bar = ROW_BAR_MIN; /* the note is cut rather than the bar */
    else
        bar = width > fixed ? width - fixed : 1;
    if (bar > ROW_BAR_MAX)
        bar = ROW_BAR_MAX;
    size_t filled = total == 0 ? 0 : done >= total ? bar : done * bar / total;
    buf_printf(out, "%*s [", ROW_VERB_WIDTH, title);
    for (size_t i = 0; i < bar; i++) {
        char c = i + 1 < filled ? '=' : i + 1 > filled ? ' ' : filled == bar ? '=' : '>';
        buf_add(out, &c, 1);
    }
    buf_printf(out, "] %s %s", counts, elapsed);
    if (counts_text && *counts_text)
        buf_printf(out, "  %s", counts_text);
    if (note)
        buf_printf(out, "  (%s)", note);
}
