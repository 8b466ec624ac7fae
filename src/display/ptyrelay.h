/*
 * Relaying the user's terminal to a pty on the loop, as script(1) does:
 * the user's terminal goes into raw mode, what is typed goes to the pty's
 * master, what the pty prints goes to our stdout, and the window size
 * follows the user's (SIGWINCH). The terminal's settings are given back
 * when the relay is freed, and at exit() if it never is.
 */
#ifndef BOB_PTYRELAY_H
#define BOB_PTYRELAY_H

#include <uv.h>

#include "util/util.h"

struct ptyrelay;

/*
 * Starts relaying between the terminal term_fd (read, and its settings
 * changed) and master; slave gets term_fd's settings and window size
 * first. The relay owns master (closed when freed); on failure (NULL,
 * e set, the terminal as it was) the caller keeps it.
 */
struct ptyrelay *ptyrelay_start(uv_loop_t *loop, int term_fd, int out_fd, int master, int slave,
                                struct err *e);
/* Copies what the pty has printed and not yet been read, then stops and
 * frees: the terminal's settings are restored. */
void ptyrelay_free(struct ptyrelay *r);

#endif
