/*
 * Internals of the progress display exposed for its unit tests: the pure
 * text helpers behind every row, and a look at the clock tick.
 */
#ifndef BOB_PROGRESS_INT_H
#define BOB_PROGRESS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "loop/progress.h"
#include "util/util.h"

/* Formats an elapsed time the way the rows show it: "12.3s", "1m 2s", "1h 2m 3s" (tenths cut). */
void progress_fmt_elapsed(char *out, size_t n, double ms);
/* The width of the elapsed column for a longest text of len: 6, 8, 9 or 13 and beyond. */
size_t progress_elapsed_width(size_t len);
/*
 * Appends the first width columns of the len bytes at s, made safe for a
 * terminal: escape sequences removed, text before a carriage return dropped,
 * tabs expanded to 8 columns, other control characters and NULs dropped,
 * invalid UTF-8 bytes replaced by '?'. Wide characters count two columns.
 * Returns the number of columns appended.
 */
size_t progress_text(struct buf *out, const char *s, size_t len, size_t width);
/*
 * Appends a slot row: "  [ 3: 12.3s ] zlib (configure)", or "  [ 3:  idle ]"
 * when elapsed is NULL, with the id right-aligned in idw and the elapsed
 * time in ew columns. stage may be NULL.
 */
void progress_row_text(struct buf *out, unsigned id, int idw, int ew, const char *elapsed,
                       const char *job, const char *stage);
/*
 * Appends the status row "    Building [=====>    ] 12/40 1m 3s  (note)" with
 * a bar of 1 to 30 columns made to fit width (the caller cuts what still
 * does not fit). note may be NULL.
 */
void progress_status_text(struct buf *out, const char *title, size_t done, size_t total,
                          const char *elapsed, const char *note, size_t width);
/* Switches the full-screen view on or off (what the 'v' key does). */
void progress_toggle_view(struct progress *p);
/* Whether the once-a-second clock tick is running. */
bool progress_tick_active(const struct progress *p);

#endif
