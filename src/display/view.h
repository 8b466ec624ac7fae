/*
 * The full-screen 'v' view of the display (on the alternate screen): a grid
 * of bordered panels, one per busy slot, each with the last output lines of
 * its job, a line for the idle slots, and the status row at the bottom.
 */
#ifndef BOB_VIEW_H
#define BOB_VIEW_H

#include <stddef.h>

#include "util/util.h"

struct capture;

/* A slot of the display as the rows and the view show it. */
struct view_slot {
    unsigned id;
    char *job; /* NULL when idle */
    char *stage;
    double start; /* now_ms() when the job started */
    const struct capture *out;
};

/*
 * Appends the frame of the view for the nslots slots on a terminal of cols
 * by rows at time now: from the top left corner, each row cut to width
 * columns (one less than cols), the last one being status (cut there too).
 * The panel of slot `selected` (an index into slots; out of range: none)
 * has a double top border ("+= ") and shows its output `scroll` lines back
 * from the newest (as far as its ring goes).
 */
void view_draw(struct buf *b, const struct view_slot *slots, size_t nslots, size_t cols,
               size_t rows, const struct buf *status, double now, size_t selected, size_t scroll);

#endif
