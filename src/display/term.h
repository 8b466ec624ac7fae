/*
 * The terminal guard of the live display: what the display changed on the
 * terminal (alternate screen, hidden cursor, a region at the bottom, the
 * keyboard's mode) is put back whatever way the process ends: by the
 * display itself, by exit() (atexit) or by a crash signal (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGABRT). One guard per process, since signal handlers
 * and atexit are: the first display on a terminal arms it.
 */
#ifndef BOB_TERM_H
#define BOB_TERM_H

#include <stdbool.h>
#include <stddef.h>

/* What the display has changed on the screen, to be undone by the guard. */
enum term_mark {
    TERM_ALT = 1,           /* the alternate screen is on */
    TERM_CURSOR_HIDDEN = 2, /* the cursor is hidden */
    TERM_REGION = 4,        /* the region is drawn: what follows must start below it */
};

/*
 * Arms the guard for a display on out_fd: installs the crash handlers and
 * (once) the atexit hook. Returns false, doing nothing, when it is armed
 * already (one terminal display at a time).
 */
bool term_guard_arm(int out_fd);
/* Records that the display turned mark on or off. */
void term_guard_mark(enum term_mark mark, bool on);
/*
 * The display has undone its marks itself: gives the keyboard its mode
 * back, puts the previous crash handlers back and forgets the marks.
 */
void term_guard_disarm(void);
/*
 * Puts the keyboard terminal key_fd in non-canonical no-echo mode (keeping
 * ISIG, so that Ctrl+C is still SIGINT), recorded in the guard, and returns
 * our own non-blocking descriptor of it, so that key_fd itself is left
 * untouched. Only when it is a terminal whose foreground process group we
 * are (a background job would be stopped by SIGTTOU); else -1 and nothing
 * changed.
 */
int term_keys_start(int key_fd);
/* Gives the keyboard of term_keys_start its mode back, at once. */
void term_keys_stop(void);
/* The size of the terminal fd in columns and rows (80x24 when it has none). */
void term_size(int fd, size_t *cols, size_t *rows);

#endif
