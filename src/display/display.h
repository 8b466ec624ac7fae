/*
 * The live progress display of a bulk build (SPEC section 9).
 *
 * On a terminal: an inline region at the bottom of the screen, one row per
 * slot ("  [ 3: 12.3s ] zlib (configure)" or "  [ 3:  idle ]") and a status
 * row ("    Building [=====>    ] 12/40 1m 3s  (note)"), redrawn in place
 * once per loop pass when something changed, plus a once-a-second clock
 * tick that runs only while a slot is busy. Finished jobs scroll above it
 * ("       Built zlib (1m 2s)"). When stdin is the terminal too, 'v' toggles
 * a full-screen view (alternate screen) with the last output lines of each
 * running job; Ctrl+C still raises SIGINT (ISIG is kept on).
 *
 * Without a terminal: one plain line per event, no escape sequences:
 * "[ 3/40] Building zlib", "[ 4/40]    Built zlib (12.3s)".
 *
 * Everything runs on the caller's loop; the handles do not keep it alive.
 * Job names, stages and output are sanitized before they are shown
 * (text.h); the rows are laid out by row.h, the 'v' view by view.h, and
 * the terminal is put back on every way out by the guard of term.h.
 */
#ifndef BOB_DISPLAY_H
#define BOB_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct capture;

struct display_opts {
    uv_loop_t *loop;
    int fd;                /* where the display goes, usually 2 */
    bool tty;              /* live region (usually isatty(fd)) or plain lines */
    int key_fd;            /* the keyboard, usually 0; -1: none. Used only in tty
                              mode, when it is a terminal in the foreground */
    size_t nslots;         /* rows of the region */
    const unsigned *ids;   /* nslots sandbox ids shown in the rows, or NULL:
                              the slot index until a job starts there */
    const char *title;     /* "Building" (also the verb of plain start lines) */
    const char *done_verb; /* "Scanned": what a job that succeeded did; NULL: "Built" */
    unsigned status_ms;    /* plain mode: a status line this often (0: only on SIGUSR1) */
};

struct display;

/*
 * Starts the display. In plain mode it prints a status line (the counts,
 * the ETA, each running job with its stage and elapsed time) every
 * status_ms and at once on SIGUSR1 (and SIGINFO where there is one).
 * In tty mode it hides the cursor, switches the keyboard
 * to non-canonical no-echo mode (restored by display_free, at exit, and on
 * a crash signal) and draws the region. Routes log_warn/log_debug lines
 * through display_message until display_free (log_set_hook).
 */
struct display *display_new(const struct display_opts *o);
/* The number of jobs of the run (the "/40" of the counters). */
void display_set_total(struct display *p, size_t total);
/* The jobs of the run that are up to date and will not run (counted apart in the status row). */
void display_set_uptodate(struct display *p, size_t n);
/*
 * The ETA of the status row: eta(data, now) gives the ms left, or a
 * negative value when it cannot tell (no ETA shown). NULL: none.
 */
void display_set_eta(struct display *p, double (*eta)(void *data, double now), void *data);
/* A job starts in slot (0 .. nslots-1), in sandbox id. Plain mode prints "[ 3/40] Building job". */
void display_slot_start(struct display *p, size_t slot, unsigned id, const char *job);
/* The job of slot enters stage ("configure"), or NULL for none. */
void display_slot_stage(struct display *p, size_t slot, const char *stage);
/*
 * The output ring shown for slot in the 'v' view, read at draw time; NULL
 * clears it. The caller must clear it (or idle the slot) before freeing c.
 */
void display_slot_output(struct display *p, size_t slot, const struct capture *c);
/* New output arrived in slot's ring: the 'v' view is redrawn (at most 5 times a second). */
void display_slot_touch(struct display *p, size_t slot);
/* Slot has no job any more (also forgets its output ring). */
void display_slot_idle(struct display *p, size_t slot);
/*
 * A job is finished: counts it done and prints "Built job (detail)" or
 * "Failed job (detail)" above the region (held while the 'v' view is up).
 * detail is the text in parentheses ("1m 2s", "build, 3.1s") or NULL.
 * The slot is left as it is: call display_slot_idle or _start next.
 */
void display_finished(struct display *p, bool ok, const char *job, const char *detail);
/* A job will not run: counts it done and prints "Skipped job (why)". */
void display_skipped(struct display *p, const char *job, const char *why);
/* Prints a line (each line of it) above the region, such as a warning; plain mode prints it. */
void display_message(struct display *p, const char *line);
/*
 * The note of the status row instead of the key hint ("stopping, ^C again
 * to stop now", or what cleanup waits for), or NULL. Plain mode prints it
 * once as a line, with a capital first letter.
 */
void display_set_note(struct display *p, const char *note);
/*
 * Ends the display: leaves the 'v' view, prints held lines, erases the
 * region, shows the cursor, restores the keyboard mode and closes the
 * handles. The memory is freed in the close callbacks: run the loop after.
 */
void display_free(struct display *p);

/* Switches the full-screen view on or off (what the 'v' key does); nothing in plain mode. */
void display_toggle_view(struct display *p);
/* Whether the once-a-second clock tick is running (for the unit tests). */
bool display_tick_active(const struct display *p);

#endif
