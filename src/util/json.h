/*
 * One JSON writer for every output of bob (config show, the build summary,
 * the event stream): values go straight to a FILE*, the writer places the
 * separators, and every string is escaped the same way, with bytes that are
 * not UTF-8 written as U+FFFD. Pretty output puts each member on its own
 * line, indented by two spaces a level; compact output has no white space.
 *
 * Each call takes the member's key: non-NULL inside an object, NULL for an
 * element of an array or the top-level value. The writer does no checking
 * beyond that: opening and closing pair as the caller writes them.
 */
#ifndef BOB_UTIL_JSON_H
#define BOB_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct strv;

struct json {
    FILE *out;
    bool pretty;
    int depth;
    bool empty; /* the innermost open object or array has no member yet */
};

/* Starts a writer on out (pretty: one member a line). */
void json_init(struct json *j, FILE *out, bool pretty);

void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);

/* A string, or null when s is NULL. */
void json_string(struct json *j, const char *key, const char *s);
void json_uint(struct json *j, const char *key, unsigned long long v);
void json_int(struct json *j, const char *key, long long v);
/* A number with a fixed count of decimals ("1.250"); null when v is not finite. */
void json_fixed(struct json *j, const char *key, double v, int decimals);
void json_bool(struct json *j, const char *key, bool b);
void json_null(struct json *j, const char *key);
/* An array of the strings of l. */
void json_strv(struct json *j, const char *key, const struct strv *l);

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when invalid. */
size_t utf8_len(const unsigned char *s, size_t n);
/* Writes str as a JSON string literal; bytes that are not UTF-8 become U+FFFD. */
void json_write_str(FILE *out, const char *str);

#endif
