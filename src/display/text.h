/*
 * Text made safe and measured for a terminal: the display shows job names,
 * stages and build output that anyone may have written, so every byte of
 * them goes through text_sanitize, which strips escape sequences and
 * control characters and counts the columns of what it keeps.
 */
#ifndef BOB_TEXT_H
#define BOB_TEXT_H

#include <stddef.h>

#include "util/util.h"

/* A width for text_sanitize that never cuts. */
#define TEXT_NO_WIDTH ((size_t)-1)

/*
 * Appends the first width columns of the len bytes at s, made safe for a
 * terminal: escape sequences removed, text before a carriage return dropped,
 * tabs expanded to 8 columns, other control characters and NULs dropped,
 * invalid UTF-8 bytes replaced by '?'. Wide characters count two columns.
 * Returns the number of columns appended.
 */
size_t text_sanitize(struct buf *out, const char *s, size_t len, size_t width);
/* Appends n spaces. */
void text_spaces(struct buf *b, size_t n);

#endif
