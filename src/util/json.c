/* The JSON writer (see json.h). */
#include "util/json.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "util/util.h"

/* A writer at the top level, with nothing written yet. */
void json_init(struct json *j, FILE *out, bool pretty)
{
    j->out = out;
    j->pretty = pretty;
    j->depth = 0;
    j->empty = true;
}

/* Starts a value: the separator before it, its indent, and its key. */
static void json_item(struct json *j, const char *key)
{
    if (j->depth > 0) {
        if (j->pretty)
            fputs(j->empty ? "\n" : ",\n", j->out);
        else if (!j->empty)
            fputc(',', j->out);
        j->empty = false;
    }
    if (j->pretty)
        fprintf(j->out, "%*s", 2 * j->depth, "");
    if (key) {
        json_write_str(j->out, key);
        fputs(j->pretty ? ": " : ":", j->out);
    }
}

/* Opens an object or array: its members start on a fresh, deeper line. */
static void json_open(struct json *j, const char *key, char c)
{
    json_item(j, key);
    fputc(c, j->out);
    j->depth++;
    j->empty = true;
}

/*
 * Closes the innermost object or array. Its parent is not empty after it
 * (it holds this one), so one flag for the innermost level is all the
 * state the separators need, however deep the nesting.
 */
static void json_close(struct json *j, char c)
{
    bool empty = j->empty;
    if (j->depth > 0)
        j->depth--;
    if (!empty && j->pretty)
        fprintf(j->out, "\n%*s", 2 * j->depth, "");
    fputc(c, j->out);
    j->empty = false;
}

void json_object_begin(struct json *j, const char *key)
{
    json_open(j, key, '{');
}

void json_object_end(struct json *j)
{
    json_close(j, '}');
}

void json_array_begin(struct json *j, const char *key)
{
    json_open(j, key, '[');
}

void json_array_end(struct json *j)
{
    json_close(j, ']');
}

void json_string(struct json *j, const char *key, const char *s)
{
    json_item(j, key);
    if (s)
        json_write_str(j->out, s);
    else
        fputs("null", j->out);
}

void json_uint(struct json *j, const char *key, unsigned long long v)
{
    json_item(j, key);
    fprintf(j->out, "%llu", v);
}

void json_int(struct json *j, const char *key, long long v)
{
    json_item(j, key);
    fprintf(j->out, "%lld", v);
}

/* JSON has no NaN or infinity: those are written as null. */
void json_fixed(struct json *j, const char *key, double v, int decimals)
{
    json_item(j, key);
    if (isfinite(v))
        fprintf(j->out, "%.*f", decimals, v);
    else
        fputs("null", j->out);
}

void json_bool(struct json *j, const char *key, bool b)
{
    json_item(j, key);
    fputs(b ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
    json_item(j, key);
    fputs("null", j->out);
}

/* Each string of the list as an element of a new array. */
void json_strv(struct json *j, const char *key, const struct strv *l)
{
    json_array_begin(j, key);
    for (size_t i = 0; i < l->n; i++)
        json_string(j, NULL, l->v[i]);
    json_array_end(j);
}

/* Checks the lead byte, the continuation bytes, overlong forms, surrogates and the range. */
size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Control bytes as \u escapes, invalid UTF-8 as \ufffd, everything else as is. */
void json_write_str(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);

    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len;
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\b':
            fputs("\\b", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(out, "\\u%04x", c);
            } else if ((len = utf8_len(s + i, n - i)) == 0) {
                fputs("\\ufffd", out);
            } else {
                fwrite(s + i, 1, len, out);
                i += len;
                continue;
            }
        }
        i++;
    }
    fputc('"', out);
}
