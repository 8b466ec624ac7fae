/* Terminal-safe text: escape stripping, UTF-8 widths, cutting to a width (text.h). */
#include "display/text.h"

/* Decodes one strict UTF-8 sequence (checked by utf8_len); its length, or 0 when invalid. */
static size_t text_utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    static const unsigned char lead_bits[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    size_t len = utf8_len(s, n);
    if (len == 0)
        return 0;
    unsigned c = s[0] & lead_bits[len];
    for (size_t k = 1; k < len; k++)
        c = (c << 6) | (s[k] & 0x3f);
    *cp = c;
    return len;
}

/*
 * Columns of a code point: 2 for the wide ranges (CJK, Hangul, fullwidth
 * forms, symbols and emoji), 0 for code points that are not shown (C1
 * controls, bidi overrides), else 1. Counting too wide is safe (a row ends
 * a little early); too narrow would wrap and break the cursor arithmetic.
 */
static int text_cp_width(unsigned c)
{
    if (c < 0xa0 || (c >= 0x200e && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
        (c >= 0x2066 && c <= 0x2069))
        return 0;
    if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2300 && c <= 0x23ff) ||
        (c >= 0x2600 && c <= 0x27bf) || (c >= 0x2e80 && c <= 0xa4cf) ||
        (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
        (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
        (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f000 && c <= 0x1faff) ||
        (c >= 0x20000 && c <= 0x3fffd))
        return 2;
    return 1;
}

/* The index after the escape sequence that starts at s[i] (an ESC). */
static size_t text_skip_escape(const unsigned char *s, size_t len, size_t i)
{
    i++;
    if (i >= len)
        return i;
    unsigned char c = s[i++];
    if (c == '[') { /* CSI: parameters, intermediates, one final byte */
        while (i < len && s[i] >= 0x20 && s[i] <= 0x3f)
            i++;
        if (i < len && s[i] >= 0x40 && s[i] <= 0x7e)
            i++;
        return i;
    }
    if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
        /* OSC, DCS, SOS, PM, APC: a string up to BEL or ESC backslash */
        while (i < len) {
            if (s[i] == 0x07)
                return i + 1;
            if (s[i] == 0x1b)
                return i + 1 < len && s[i + 1] == '\\' ? i + 2 : i + 1;
            i++;
        }
        return i;
    }
    /* ESC, intermediates (such as "(" of a charset choice), one final byte */
    if (c >= 0x20 && c <= 0x2f) {
        while (i < len && s[i] >= 0x20 && s[i] <= 0x2f)
            i++;
        if (i < len && s[i] >= 0x30 && s[i] <= 0x7e)
            i++;
    }
    return i;
}

void text_spaces(struct buf *b, size_t n)
{
    static const char sp[] = "                                ";
    while (n > 0) {
        size_t k = n < sizeof(sp) - 1 ? n : sizeof(sp) - 1;
        buf_add(b, sp, k);
        n -= k;
    }
}

size_t text_sanitize(struct buf *out, const char *str, size_t len, size_t width)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, col = 0;
    /* A carriage return followed by more text overwrote what came before. */
    for (size_t j = 0; j + 1 < len; j++)
        if (s[j] == '\r' && s[j + 1] != '\r')
            i = j + 1;
    while (i < len && col < width) {
        unsigned c = s[i];
        if (c == 0x1b) {
            i = text_skip_escape(s, len, i);
        } else if (c == '\t') {
            size_t n = 8 - col % 8;
            if (n > width - col)
                n = width - col;
            text_spaces(out, n);
            col += n;
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            i++;
        } else if (c < 0x80) {
            buf_add(out, s + i, 1);
            col++;
            i++;
        } else {
            unsigned cp;
            size_t n = text_utf8_decode(s + i, len - i, &cp);
            if (n == 0) {
                buf_adds(out, "?");
                col++;
                i++;
                continue;
            }
            size_t w = (size_t)text_cp_width(cp);
            if (col + w > width)
                break;
            if (w > 0)
                buf_add(out, s + i, n);
            col += w;
            i += n;
        }
    }
    return col;
}
