/*
 * The rows of the display as pure text, so that their layout can be tested
 * without a terminal: the elapsed times, a slot row and the status row.
 */
#ifndef BOB_ROW_H
#define BOB_ROW_H

#include <stddef.h>

#include "util/util.h"

/* The verb column of the status row and of the lines above the region ("       Built"). */
#define ROW_VERB_WIDTH 12

/* Formats an elapsed time the way the rows show it: "12.3s", "1m 2s", "1h 2m 3s" (tenths cut). */
void row_fmt_elapsed(char *out, size_t n, double ms);
/* The width of the elapsed column for a longest text of len: 6, 8, 9 or 13 and beyond. */
size_t row_elapsed_width(size_t len);
/*
 * Appends a slot row: "  [ 3: 12.3s ] zlib (configure)", or "  [ 3:  idle ]"
 * when elapsed is NULL, with the id right-aligned in idw and the elapsed
 * time in ew columns. stage may be NULL.
 */
void row_slot_text(struct buf *out, unsigned id, int idw, int ew, const char *elapsed,
                   const char *job, const char *stage);
/*
 * Appends the counts of the status row, those that are not zero:
 * "10 ok, 1 failed, 2 skipped, 5 up to date, 2 running, ETA 3m 2s" (eta
 * NULL: no ETA). Nothing at all when every count is zero and eta is NULL.
 */
void row_counts_text(struct buf *out, size_t ok, size_t failed, size_t skipped, size_t uptodate,
                     size_t running, const char *eta);
/*
 * Appends the status row "    Building [=====>    ] 12/40 1m 3s  counts  (note)"
 * with a bar of 1 to 30 columns made to fit width (the caller cuts what
 * still does not fit). The counts are left out when they and the note do
 * not fit together. counts and note may be NULL.
 */
void row_status_text(struct buf *out, const char *title, size_t done, size_t total,
                     const char *elapsed, const char *counts, const char *note, size_t width);

#endif
