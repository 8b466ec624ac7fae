/* The full-screen 'v' view of the display (view.h). */
#include "display/view.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "display/row.h"
#include "display/text.h"
#include "loop/capture.h"

#define VIEW_PANEL_MIN_WIDTH 40
#define VIEW_PANEL_MIN_HEIGHT 3
#define VIEW_PANEL_GOOD_HEIGHT 8 /* below this, panels go side by side when they can */

/* Appends n copies of character c. */
static void view_chars(struct buf *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_add(b, &c, 1);
}

/*
 * One bordered panel of pw columns and h rows into lines[0..h-1]: the title
 * in the top border, then the newest output lines that fit, oldest first.
 */
static void view_panel(struct buf *lines, size_t h, size_t pw, const struct view_slot *s,
                       double now, bool selected, size_t scroll)
{
    char el[32];
    row_fmt_elapsed(el, sizeof(el), now - s->start);
    char *title = s->stage ? xasprintf("[%u] %s (%s) %s", s->id, s->job, s->stage, el)
                           : xasprintf("[%u] %s %s", s->id, s->job, el);
    char *scrolled = NULL;
    size_t body = h - 2, have = 0, total = 0;
    if (s->out)
        while (capture_line(s->out, total))
            total++;
    /* Scrolled back: never past the oldest line the ring holds. */
    if (scroll > (total > body ? total - body : 0))
        scroll = total > body ? total - body : 0;
    if (scroll) {
        scrolled = xasprintf("%s, %zu lines back", title, scroll);
        free(title);
        title = scrolled;
    }
    buf_adds(&lines[0], selected ? "+= " : "+- ");
    size_t c = text_sanitize(&lines[0], title, strlen(title), pw - 6);
    buf_adds(&lines[0], " ");
    view_chars(&lines[0], selected ? '=' : '-', pw - 5 - c);
    buf_adds(&lines[0], "+");
    free(title);
    have = total > scroll ? total - scroll : 0;
    if (have > body)
        have = body;
    for (size_t j = 0; j < body; j++) {
        struct buf *l = &lines[1 + j];
        buf_adds(l, "|");
        c = 0;
        if (j < have) {
            const char *t = capture_line(s->out, scroll + have - 1 - j);
            c = text_sanitize(l, t, strlen(t), pw - 2);
        }
        text_spaces(l, pw - 2 - c);
        buf_adds(l, "|");
    }
    buf_adds(&lines[h - 1], "+");
    view_chars(&lines[h - 1], '-', pw - 2);
    buf_adds(&lines[h - 1], "+");
}

/*
 * The grid for n panels in area rows and width columns: nc columns of at
 * least VIEW_PANEL_MIN_WIDTH, side by side only when stacked panels would
 * be low, and gr rows of at least VIEW_PANEL_MIN_HEIGHT (so gr * nc may be
 * < n).
 */
static void view_grid(size_t n, size_t area, size_t width, size_t *nc, size_t *gr)
{
    *nc = *gr = 0;
    if (n == 0 || area < VIEW_PANEL_MIN_HEIGHT || width < 8)
        return;
    size_t maxc = width / VIEW_PANEL_MIN_WIDTH, c = 1;
    if (maxc < 1)
        maxc = 1;
    if (maxc > n)
        maxc = n;
    while (c < maxc && area / ((n + c - 1) / c) < VIEW_PANEL_GOOD_HEIGHT)
        c++;
    *nc = c;
    *gr = (n + c - 1) / c;
    if (*gr > area / VIEW_PANEL_MIN_HEIGHT)
        *gr = area / VIEW_PANEL_MIN_HEIGHT;
}

void view_draw(struct buf *b, const struct view_slot *slots, size_t nslots, size_t cols,
               size_t rows, const struct buf *status, double now, size_t selected, size_t scroll)
{
    size_t width = cols > 1 ? cols - 1 : 1;
    struct buf *lines = xcalloc(rows, sizeof(*lines));
    size_t *busy = xcalloc(nslots + 1, sizeof(*busy));
    size_t n = 0;
    struct buf idle = {0};
    for (size_t i = 0; i < nslots; i++) {
        if (slots[i].job)
            busy[n++] = i;
        else
            buf_printf(&idle, "%s%u", idle.len ? "," : "[", slots[i].id);
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
        text_sanitize(&lines[area], idle.p, idle.len, width);
    }
    size_t y = 0;
    for (size_t g = 0; g < gr; g++) {
        size_t h = area / gr + (g < area % gr ? 1 : 0);
        for (size_t c = 0; c < nc && g * nc + c < n; c++) {
            size_t pw = c + 1 == nc ? width - (nc - 1) * (width / nc) : width / nc;
            size_t at = busy[g * nc + c];
            view_panel(lines + y, h, pw, &slots[at], now, at == selected,
                       at == selected ? scroll : 0);
        }
        y += h;
    }
    buf_adds(b, "\x1b[H");
    for (size_t r = 0; r < rows; r++) {
        if (r + 1 == rows) {
            text_sanitize(b, status->p ? status->p : "", status->len, width);
        } else {
            buf_add(b, lines[r].p ? lines[r].p : "", lines[r].len);
        }
        buf_adds(b, "\x1b[K");
        if (r + 1 < rows)
            buf_adds(b, "\n");
    }
    for (size_t r = 0; r < rows; r++)
        buf_free(&lines[r]);
    free(lines);
    free(busy);
    buf_free(&idle);
}
